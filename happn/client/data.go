package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Set stores data at path (a path without '*') and returns the stored item.
// data is any JSON-encodable value; non-objects are stored by the server as
// {"value": data}, and nil is sent as null with the nullValue option.
// Options: Merge, NoPublish, NoStore, NoDataResponse, Meta, TargetClients,
// Consistency, OnPublished, With.
func (c *Client) Set(ctx context.Context, path string, data any, opts ...Option) (*Item, error) {
	if err := checkPath(path, true); err != nil {
		return nil, err
	}
	ro := buildOptions(opts)
	if data == nil {
		ro.wire["nullValue"] = true
	}
	resp, err := c.publishingRequest(ctx, "set", path, data, ro)
	if err != nil {
		return nil, err
	}
	return replyItem(resp)
}

// SetAsync sends a set and returns once it is written, without waiting for
// the server's answer; done, when not nil, is called with the answer's
// error (nil for success), or with the error that ended the wait (the
// connection was lost). done runs on the client's reader goroutine: it must
// return quickly. No timeout applies: a caller that waits for something
// the set causes bounds that wait itself. OnPublished is not supported.
func (c *Client) SetAsync(path string, data any, done func(error), opts ...Option) error {
	if err := checkPath(path, true); err != nil {
		return err
	}
	ro := buildOptions(opts)
	if data == nil {
		ro.wire["nullValue"] = true
	}
	if ro.onPublished != nil {
		return errors.New("happn client: SetAsync does not take OnPublished")
	}
	cn, sid, err := c.activeConn()
	if err != nil {
		return opError("set", path, err)
	}
	req := &request{Action: "set", Path: path, Data: data, SessionID: sid, Options: ro.wire}
	if _, ok := ro.wire["timeout"]; !ok {
		ro.wire["timeout"] = c.opts.CallTimeout.Milliseconds()
	}
	var cb func(*response, error)
	if done != nil {
		cb = func(_ *response, err error) {
			if err != nil {
				err = opError("set", path, err)
			}
			done(err)
		}
	}
	if err := c.sendAsync(cn, req, cb, ro.later); err != nil {
		return opError("set", path, err)
	}
	return nil
}

// PublishAsync is Publish without waiting for the server's answer (see
// SetAsync); done may be nil.
func (c *Client) PublishAsync(path string, data any, done func(error), opts ...Option) error {
	opts = append(opts, NoStore(), NoDataResponse())
	return c.SetAsync(path, data, done, opts...)
}

// Publish sends data to the subscribers of path without storing it
// (noStore + noDataResponse), like the npm client's publish.
func (c *Client) Publish(ctx context.Context, path string, data any, opts ...Option) error {
	if err := checkPath(path, true); err != nil {
		return err
	}
	ro := buildOptions(opts)
	if data == nil {
		ro.wire["nullValue"] = true
	}
	ro.wire["noStore"] = true
	ro.wire["noDataResponse"] = true
	_, err := c.publishingRequest(ctx, "set", path, data, ro)
	return err
}

// Increment adds by to the gauge (default "counter") stored at path and
// returns the new total.
func (c *Client) Increment(ctx context.Context, path, gauge string, by float64, opts ...Option) (float64, error) {
	if err := checkPath(path, true); err != nil {
		return 0, err
	}
	if gauge == "" {
		gauge = "counter"
	}
	ro := buildOptions(opts)
	ro.wire["increment"] = by
	resp, err := c.publishingRequest(ctx, "set", path, gauge, ro)
	if err != nil {
		return 0, err
	}
	var v struct {
		Value float64 `json:"value"`
	}
	if err := json.Unmarshal(resp.data, &v); err != nil {
		return 0, fmt.Errorf("happn client: decode increment reply: %w", err)
	}
	return v.Value, nil
}

// publishingRequest sends a set (or remove), registering the OnPublished
// callback under "<sessionId>-<eventId>" for deferred/acknowledged writes.
func (c *Client) publishingRequest(ctx context.Context, action, path string, data any, ro *reqOptions) (*response, error) {
	cn, sid, err := c.activeConn()
	if err != nil {
		return nil, opError(action, path, err)
	}
	req := &request{Action: action, EventID: c.nextEventID(), Path: path, Data: data}
	if ro.onPublished != nil {
		switch ro.wire["consistency"] {
		case Deferred, Acknowledged:
			c.registerAck(fmt.Sprintf("%s-%d", sid, req.EventID), ro.onPublished, ro.publishTimeout)
		default:
			return nil, errors.New("happn client: OnPublished needs Consistency(Deferred) or Consistency(Acknowledged)")
		}
	}
	return c.dataRequestOn(ctx, cn, sid, req, ro.wire)
}

func (c *Client) registerAck(id string, fn func(PublishResult, error), timeout time.Duration) {
	if timeout <= 0 {
		timeout = DefaultPublishTimeout
	}
	h := &ackHandler{fn: fn}
	c.mu.Lock()
	c.ackHandlers[id] = h
	h.timer = time.AfterFunc(timeout, func() {
		c.mu.Lock()
		cur := c.ackHandlers[id]
		if cur == h {
			delete(c.ackHandlers, id)
		}
		c.mu.Unlock()
		if cur == h {
			c.events.push(func() { fn(PublishResult{}, errors.New("happn client: publish timed out")) })
		}
	})
	c.mu.Unlock()
}

// handleAck routes a publication-ack message to its OnPublished callback.
func (c *Client) handleAck(r *response) {
	var msg struct {
		ID     string          `json:"id"`
		Status string          `json:"status"`
		Error  json.RawMessage `json:"error"`
		Result PublishResult   `json:"result"`
	}
	raw, err := marshalOrdered(r.top)
	if err == nil {
		err = json.Unmarshal(raw, &msg)
	}
	if err != nil {
		c.log.Warn("happn client: bad publication-ack", "err", err)
		return
	}
	c.mu.Lock()
	h := c.ackHandlers[msg.ID]
	delete(c.ackHandlers, msg.ID)
	c.mu.Unlock()
	if h == nil {
		return
	}
	h.timer.Stop()
	var perr error
	if msg.Status == "error" {
		var s string
		if json.Unmarshal(msg.Error, &s) != nil {
			s = string(msg.Error)
		}
		perr = fmt.Errorf("happn client: publication failed: %s", s)
	}
	c.events.push(func() { h.fn(msg.Result, perr) })
}

// replyItem turns a set reply into an Item (data + _meta).
func replyItem(r *response) (*Item, error) {
	it := &Item{}
	if len(r.metaRaw) > 0 {
		if err := json.Unmarshal(r.metaRaw, &it.Meta); err != nil {
			return nil, fmt.Errorf("happn client: decode reply _meta: %w", err)
		}
	}
	if !r.dataIsNull() {
		it.Data = append(json.RawMessage(nil), r.data...)
	}
	return it, nil
}

// Get reads path. A path without '*' returns at most one item (List false);
// a path with '*' returns every match (List true), where '*' matches any
// characters including '/'. Options: Criteria, Sort, Limit, Skip, Fields, With.
func (c *Client) Get(ctx context.Context, path string, opts ...Option) (*GetResult, error) {
	if path == "" {
		return nil, errors.New("happn client: get: empty path")
	}
	resp, err := c.dataRequest(ctx, "get", path, nil, buildOptions(opts).wire)
	if err != nil {
		return nil, err
	}
	return getResult(resp)
}

func getResult(resp *response) (*GetResult, error) {
	var list []json.RawMessage
	switch {
	case resp.isArray:
		list = resp.list
	case resp.dataIsNull():
		return &GetResult{}, nil
	default:
		d := resp.data
		if len(d) > 0 && d[0] == '[' {
			if err := json.Unmarshal(d, &list); err != nil {
				return nil, fmt.Errorf("happn client: decode get reply: %w", err)
			}
			break
		}
		it, err := replyItem(resp)
		if err != nil {
			return nil, err
		}
		it.Meta.Published = false
		return &GetResult{Items: []Item{*it}}, nil
	}
	res := &GetResult{List: true, Items: make([]Item, 0, len(list))}
	for _, raw := range list {
		it, err := splitMeta(raw)
		if err != nil {
			return nil, err
		}
		res.Items = append(res.Items, it)
	}
	return res, nil
}

// GetPaths returns the paths matching path (a get with path_only).
func (c *Client) GetPaths(ctx context.Context, path string, opts ...Option) ([]string, error) {
	if path == "" {
		return nil, errors.New("happn client: getPaths: empty path")
	}
	ro := buildOptions(opts)
	ro.wire["options"] = map[string]any{"path_only": true}
	resp, err := c.dataRequest(ctx, "get", path, nil, ro.wire)
	if err != nil {
		return nil, err
	}
	res, err := getResult(resp)
	if err != nil {
		return nil, err
	}
	paths := make([]string, 0, len(res.Items))
	for _, it := range res.Items {
		paths = append(paths, it.Meta.Path)
	}
	return paths, nil
}

// Count returns the number of items matching path (and Criteria).
func (c *Client) Count(ctx context.Context, path string, opts ...Option) (int, error) {
	if path == "" {
		return 0, errors.New("happn client: count: empty path")
	}
	resp, err := c.dataRequest(ctx, "count", path, nil, buildOptions(opts).wire)
	if err != nil {
		return 0, err
	}
	var v struct {
		Value int `json:"value"`
	}
	if err := json.Unmarshal(resp.data, &v); err != nil {
		return 0, fmt.Errorf("happn client: decode count reply: %w", err)
	}
	return v.Value, nil
}

// Remove deletes path (which may contain '*') and returns how many items
// were removed. Options: Criteria, NoPublish, With.
func (c *Client) Remove(ctx context.Context, path string, opts ...Option) (int, error) {
	if path == "" {
		return 0, errors.New("happn client: remove: empty path")
	}
	resp, err := c.dataRequest(ctx, "remove", path, nil, buildOptions(opts).wire)
	if err != nil {
		return 0, err
	}
	var v struct {
		Removed int `json:"removed"`
	}
	if !resp.dataIsNull() {
		if err := json.Unmarshal(resp.data, &v); err != nil {
			return 0, fmt.Errorf("happn client: decode remove reply: %w", err)
		}
	}
	return v.Removed, nil
}
