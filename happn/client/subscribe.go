package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/happner-go/happner/internal/jsonscan"
	"github.com/happner-go/happner/pathmatch"
)

// listener is one local handler of a channel.
type listener struct {
	id            int
	channel       string
	handler       func(Event)
	count         int
	runcount      int
	eventKey      string
	meta          map[string]any
	depth         int
	variableDepth bool
	initial       bool // initialEmit or initialCallback: has its own remote subscription
	merge         bool
	onBehalfOf    string
	direct        bool // run on the reader goroutine
}

// refKey is where the server reference of l is kept: per listener for
// initial-value subscriptions, per event key otherwise (shared).
func (l *listener) refKey() string {
	if l.initial {
		return "#" + strconv.Itoa(l.id)
	}
	return l.eventKey
}

// subState is the client's subscription table, guarded by Client.mu.
type subState struct {
	events   map[string][]*listener     // channel → listeners
	refCount map[string]int             // event key → listeners sharing one remote on
	refs     map[string]json.RawMessage // refKey → server reference
	nextID   int
}

func newSubState() subState {
	return subState{events: map[string][]*listener{}, refCount: map[string]int{}, refs: map[string]json.RawMessage{}}
}

// eventKeyOf is the dedupe key of a subscription, the JSON of the same
// fields the npm client uses.
func eventKeyOf(channel, eventType string, count int, o OnOptions, depth int) string {
	k := struct {
		Path            string         `json:"path"`
		EventType       string         `json:"event_type"`
		Count           int            `json:"count"`
		InitialEmit     bool           `json:"initialEmit,omitempty"`
		InitialCallback bool           `json:"initialCallback,omitempty"`
		Meta            map[string]any `json:"meta,omitempty"`
		Depth           int            `json:"depth,omitempty"`
		OnBehalfOf      string         `json:"onBehalfOf,omitempty"`
	}{channel, eventType, count, o.InitialEmit, o.InitialCallback != nil, o.Meta, depth, o.OnBehalfOf}
	b, _ := json.Marshal(k)
	return string(b)
}

// On subscribes handler to path and returns a local handle for Off.
//
// The channel is "/<ALL|SET|REMOVE>@<path>": '*' matches one whole segment,
// a trailing "/**" matches up to opts.Depth further segments (default 5),
// and path "*" matches everything. Identical subscriptions share one remote
// subscription. With InitialCallback or InitialEmit the current values are
// delivered before On returns. Handlers run on one client goroutine, in
// order, and may call the client.
func (c *Client) On(ctx context.Context, path string, opts OnOptions, handler func(Event)) (int, error) {
	if handler == nil {
		return 0, errors.New("happn client: on: nil handler")
	}
	et := strings.ToLower(opts.EventType)
	switch et {
	case "", "*", "all":
		et = "all"
	case "set", "remove":
	default:
		return 0, fmt.Errorf("happn client: on: bad event type %q (want all, set or remove)", opts.EventType)
	}
	if err := checkPath(path, false); err != nil {
		return 0, err
	}
	if opts.Count < 0 || opts.Depth < 0 {
		return 0, errors.New("happn client: on: Count and Depth must not be negative")
	}
	variableDepth := path == "**" || strings.HasSuffix(path, "/**")
	depth := opts.Depth
	if variableDepth && depth == 0 {
		depth = DefaultVariableDepth
	}
	channel := "/" + strings.ToUpper(et) + "@" + path
	l := &listener{
		channel: channel, handler: handler, count: opts.Count,
		eventKey: eventKeyOf(channel, et, opts.Count, opts, depth),
		meta:     opts.Meta, depth: depth, variableDepth: variableDepth,
		initial: opts.InitialEmit || opts.InitialCallback != nil, merge: opts.Merge,
		onBehalfOf: opts.OnBehalfOf, direct: opts.Direct,
	}
	c.subOps.RLock()
	id, initial, err := c.subscribe(ctx, l, et, opts)
	c.subOps.RUnlock()
	if err != nil {
		return 0, err
	}
	if opts.InitialEmit {
		for _, it := range initial {
			handler(Event{Data: it.Data, Meta: EventMeta{Path: it.Meta.Path, Created: it.Meta.Created, Modified: it.Meta.Modified}})
		}
	}
	if opts.InitialCallback != nil {
		opts.InitialCallback(initial)
	}
	return id, nil
}

// subscribe adds l and makes its remote subscription when it is the first
// of its kind (or asks for initial values); c.subOps must be held shared.
func (c *Client) subscribe(ctx context.Context, l *listener, et string, opts OnOptions) (int, []Item, error) {
	channel, depth := l.channel, l.depth
	cn, sid, err := c.activeConn()
	if err != nil {
		return 0, nil, opError("on", channel, err)
	}

	c.mu.Lock()
	c.subs.nextID++
	l.id = c.subs.nextID
	c.subs.events[channel] = append(c.subs.events[channel], l)
	c.subs.refCount[l.eventKey]++
	needRemote := c.subs.refCount[l.eventKey] == 1 || l.initial
	c.mu.Unlock()
	if !needRemote {
		return l.id, nil, nil
	}

	wire := map[string]any{"event_type": et, "count": opts.Count}
	if opts.InitialEmit {
		wire["initialEmit"] = true
	}
	if opts.InitialCallback != nil {
		wire["initialCallback"] = true
	}
	if opts.Meta != nil {
		wire["meta"] = opts.Meta
	}
	if depth > 0 {
		wire["depth"] = depth
	}
	if opts.Merge {
		wire["merge"] = true
	}
	if opts.OnBehalfOf != "" {
		wire["onBehalfOf"] = opts.OnBehalfOf
	}
	resp, err := c.dataRequestOn(ctx, cn, sid, &request{Action: "on", Path: channel}, wire)
	if err != nil {
		c.mu.Lock()
		c.clearListener(l)
		c.mu.Unlock()
		return 0, nil, err
	}
	var ref json.RawMessage
	var initial []Item
	if l.initial {
		ref = resp.meta.ReferenceID
		res, err := getResult(resp)
		if err != nil {
			return 0, nil, err
		}
		initial = res.Items
	} else {
		var d struct {
			ID json.RawMessage `json:"id"`
		}
		if !resp.dataIsNull() {
			_ = json.Unmarshal(resp.data, &d)
		}
		ref = d.ID
	}
	c.mu.Lock()
	if slices.Contains(c.subs.events[channel], l) {
		c.subs.refs[l.refKey()] = ref
	}
	c.mu.Unlock()
	return l.id, initial, nil
}

// Once is On with Count 1: the subscription ends after the first event.
func (c *Client) Once(ctx context.Context, path string, opts OnOptions, handler func(Event)) (int, error) {
	opts.Count = 1
	return c.On(ctx, path, opts, handler)
}

// decodeEventMeta decodes a publication's _meta in one pass, as
// json.Unmarshal into EventMeta would (a member of the wrong type is an
// error, null leaves a field unset), with every member in Fields. Values
// share raw's memory, which belongs to the frame it came in.
func decodeEventMeta(raw []byte) (EventMeta, error) {
	var meta EventMeta
	meta.Fields = make(map[string]json.RawMessage, 10)
	err := jsonscan.EachMember(raw, func(k, v []byte) error {
		key, ok := jsonscan.Unquote(k)
		if !ok {
			return errors.New("bad member name")
		}
		meta.Fields[key] = v
		if string(v) == "null" {
			return nil
		}
		var err error
		switch key {
		case "channel":
			err = unquoteInto(&meta.Channel, key, v)
		case "action":
			err = unquoteInto(&meta.Action, key, v)
		case "path":
			err = unquoteInto(&meta.Path, key, v)
		case "type":
			err = unquoteInto(&meta.Type, key, v)
		case "sessionId":
			err = unquoteInto(&meta.SessionID, key, v)
		case "publicationId":
			err = unquoteInto(&meta.PublicationID, key, v)
		case "consistency":
			var n int64
			n, err = wholeNumber(key, v)
			meta.Consistency = int(n)
		case "created":
			meta.Created, err = wholeNumber(key, v)
		case "modified":
			meta.Modified, err = wholeNumber(key, v)
		case "depth":
			var n int64
			n, err = wholeNumber(key, v)
			meta.Depth = int(n)
		case "eventOrigin":
			meta.EventOrigin = new(Origin)
			err = json.Unmarshal(v, meta.EventOrigin)
		}
		return err
	})
	return meta, err
}

// unquoteInto sets *dst to the JSON string v.
func unquoteInto(dst *string, key string, v []byte) error {
	s, ok := jsonscan.Unquote(v)
	if !ok {
		return fmt.Errorf("_meta.%s: not a string", key)
	}
	*dst = s
	return nil
}

// wholeNumber reads the JSON number v as an integer, as encoding/json
// does for an int field (no fraction, no exponent).
func wholeNumber(key string, v []byte) (int64, error) {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("_meta.%s: not a whole number: %s", key, v)
	}
	return n, nil
}

// directChannel reports whether a publication's channel has a direct
// listener (OnOptions.Direct).
func (c *Client) directChannel(r *response) bool {
	var channel string
	_ = jsonscan.EachMember(r.metaRaw, func(key, value []byte) error {
		if jsonscan.KeyIs(key, "channel") {
			channel, _ = jsonscan.Unquote(value)
		}
		return nil
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range c.subs.events[channel] {
		if l.direct {
			return true
		}
	}
	return false
}

// clearListener removes l from the table; c.mu must be held. It reports
// whether the remote subscription must be removed too.
func (c *Client) clearListener(l *listener) bool {
	ls := c.subs.events[l.channel]
	i := slices.Index(ls, l)
	if i < 0 {
		return false
	}
	ls = slices.Delete(ls, i, i+1)
	if len(ls) == 0 {
		delete(c.subs.events, l.channel)
	} else {
		c.subs.events[l.channel] = ls
	}
	c.subs.refCount[l.eventKey]--
	last := c.subs.refCount[l.eventKey] <= 0
	if last {
		delete(c.subs.refCount, l.eventKey)
	}
	if l.initial || last {
		delete(c.subs.refs, l.refKey())
		return true
	}
	return false
}

// Off removes the handler with the given handle. The remote subscription is
// removed when no other handler shares it. An unknown handle is not an error.
func (c *Client) Off(ctx context.Context, handle int) error {
	c.subOps.RLock()
	defer c.subOps.RUnlock()
	c.mu.Lock()
	var found *listener
	for _, ls := range c.subs.events {
		for _, l := range ls {
			if l.id == handle {
				found = l
			}
		}
	}
	if found == nil {
		c.mu.Unlock()
		return nil
	}
	ref := c.subs.refs[found.refKey()]
	remote := c.clearListener(found)
	c.mu.Unlock()
	if !remote {
		return nil
	}
	return c.remoteOff(ctx, found.channel, ref)
}

func (c *Client) remoteOff(ctx context.Context, channel string, ref json.RawMessage) error {
	wire := map[string]any{}
	if len(ref) > 0 {
		wire["referenceId"] = ref
	}
	_, err := c.dataRequest(ctx, "off", channel, nil, wire)
	return err
}

// OffPath removes every handler whose subscription path matches path, where
// '*' matches any characters.
func (c *Client) OffPath(ctx context.Context, path string) error {
	c.mu.Lock()
	var ids []int
	var channels []string
	for ch, ls := range c.subs.events {
		_, p, _ := strings.Cut(ch, "@")
		if pathmatch.Glob(path, p) {
			channels = append(channels, ch)
			for _, l := range ls {
				ids = append(ids, l.id)
			}
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := c.Off(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c.mu.Lock()
	for _, ch := range channels {
		delete(c.subs.events, ch)
	}
	c.mu.Unlock()
	return nil
}

// OffAll removes every subscription of the session, on the server and locally.
func (c *Client) OffAll(ctx context.Context) error {
	c.subOps.RLock()
	defer c.subOps.RUnlock()
	if err := c.remoteOff(ctx, "*", json.RawMessage("0")); err != nil {
		return err
	}
	c.mu.Lock()
	c.subs = subState{events: map[string][]*listener{}, refCount: map[string]int{}, refs: map[string]json.RawMessage{}, nextID: c.subs.nextID}
	c.mu.Unlock()
	return nil
}

// dispatch delivers a publication to the handlers of its channel. It runs
// on the events queue.
func (c *Client) dispatch(r *response, direct bool) {
	meta, err := decodeEventMeta(r.metaRaw)
	if err != nil {
		c.log.Warn("happn client: bad publication _meta", "err", err)
		return
	}
	if meta.Consistency == Acknowledged && direct {
		// on the reader: the acknowledgement cannot wait for its answer
		cn, sid, err := c.activeConn()
		if err == nil {
			err = c.sendAsync(cn, &request{Action: "ack", Data: meta.PublicationID, SessionID: sid}, nil, nil)
		}
		meta.Acknowledged = err == nil
	} else if meta.Consistency == Acknowledged {
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.CallTimeout)
		_, err := c.dataRequest(ctx, "ack", "", meta.PublicationID, nil)
		cancel()
		meta.Acknowledged = err == nil
		if err != nil {
			c.log.Warn("happn client: acknowledgement failure", "publicationId", meta.PublicationID, "err", err)
		}
	}
	data := r.data
	if len(bytes.TrimSpace(data)) == 0 {
		data = json.RawMessage("null")
	}
	c.mu.Lock()
	ls := slices.Clone(c.subs.events[meta.Channel])
	c.mu.Unlock()
	for _, l := range ls {
		if l.variableDepth && l.depth < meta.Depth {
			continue
		}
		c.mu.Lock()
		l.runcount++
		run := l.runcount
		c.mu.Unlock()
		if l.count > 0 && run > l.count {
			continue
		}
		if l.count > 0 && run == l.count {
			ctx, cancel := context.WithTimeout(c.ctx, c.opts.CallTimeout)
			if err := c.Off(ctx, l.id); err != nil {
				c.log.Warn("happn client: removing spent subscription", "channel", l.channel, "err", err)
			}
			cancel()
		}
		ev := Event{Data: append(json.RawMessage(nil), data...), Meta: meta}
		l.handler(ev)
	}
}

// reattach re-subscribes every channel on a new connection, one remote on
// per distinct event key, as the npm client does after a reconnect.
func (c *Client) reattach(ctx context.Context, cn *conn) error {
	c.subOps.Lock()
	defer c.subOps.Unlock()
	return c.resubscribe(ctx, cn, false)
}

// resubscribe sends an on for every distinct subscription. A refused one
// (401/403) loses its listeners, as in the npm client, unless keepRefused
// is set: then its listeners stay, without a server reference, and the
// next refresh (after another security change) tries again.
func (c *Client) resubscribe(ctx context.Context, cn *conn, keepRefused bool) error {
	c.mu.Lock()
	sid := c.session.ID
	channels := make([]string, 0, len(c.subs.events))
	snapshot := map[string][]*listener{}
	for ch, ls := range c.subs.events {
		channels = append(channels, ch)
		snapshot[ch] = slices.Clone(ls)
	}
	c.subs.refCount = map[string]int{}
	c.mu.Unlock()
	sort.Strings(channels)
	for _, ch := range channels {
	listeners:
		for _, l := range snapshot[ch] {
			c.mu.Lock()
			if c.subs.refCount[l.eventKey] > 0 {
				c.subs.refCount[l.eventKey]++
				c.mu.Unlock()
				continue
			}
			c.mu.Unlock()
			// Like the npm client only meta is re-sent, plus depth and merge
			// so that "/**" and merge subscriptions keep their meaning.
			wire := map[string]any{}
			if l.meta != nil {
				wire["meta"] = l.meta
			}
			if l.variableDepth {
				wire["depth"] = l.depth
			}
			if l.merge {
				wire["merge"] = true
			}
			if l.onBehalfOf != "" {
				wire["onBehalfOf"] = l.onBehalfOf
			}
			resp, err := c.dataRequestOn(ctx, cn, sid, &request{Action: "on", Path: ch}, wire)
			if err != nil {
				if isAuthError(err) {
					c.mu.Lock()
					for _, dl := range c.subs.events[ch] {
						delete(c.subs.refs, dl.refKey())
					}
					if !keepRefused {
						delete(c.subs.events, ch)
					}
					c.mu.Unlock()
					c.log.Warn("happn client: subscription not re-established", "channel", ch, "err", err)
					break listeners
				}
				return fmt.Errorf("happn client: re-establishing %s: %w", ch, err)
			}
			var d struct {
				ID json.RawMessage `json:"id"`
			}
			if !resp.dataIsNull() {
				_ = json.Unmarshal(resp.data, &d)
			}
			c.mu.Lock()
			c.subs.refCount[l.eventKey] = 1
			c.subs.refs[l.refKey()] = d.ID
			c.mu.Unlock()
		}
	}
	return nil
}

// refreshSubscriptions re-establishes every subscription after the server
// announced a change of the security directory (security-data-changed):
// the server drops the subscriptions a user loses rights to. Each one is
// made again and the previous server reference released; a refused one
// keeps its listeners, dormant, so that it comes back with its rights at a
// later change. (The npm client re-checks only the paths named in the
// change and drops refused listeners for good.)
func (c *Client) refreshSubscriptions() {
	// coalesce bursts of changes: one refresh at a time, and one more after
	// it when changes arrived meanwhile
	if c.refreshing.Add(1) > 1 {
		return
	}
	for {
		c.refreshOnce()
		if c.refreshing.Add(-1) == 0 {
			return
		}
		c.refreshing.Store(1)
	}
}

func (c *Client) refreshOnce() {
	c.subOps.Lock()
	defer c.subOps.Unlock()
	cn, _, err := c.activeConn()
	if err != nil {
		return
	}
	type oldRef struct {
		channel string
		ref     json.RawMessage
	}
	c.mu.Lock()
	old := map[string]oldRef{}
	for ch, ls := range c.subs.events {
		for _, l := range ls {
			if r, ok := c.subs.refs[l.refKey()]; ok {
				old[l.refKey()] = oldRef{ch, r}
			}
		}
	}
	listening := len(c.subs.events) > 0
	c.mu.Unlock()
	if !listening {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.CallTimeout)
	defer cancel()
	if err := c.resubscribe(ctx, cn, true); err != nil {
		c.log.Warn("happn client: refreshing subscriptions after a security change", "err", err)
		return
	}
	for key, o := range old {
		c.mu.Lock()
		cur := c.subs.refs[key]
		c.mu.Unlock()
		if bytes.Equal(cur, o.ref) {
			continue
		}
		if err := c.remoteOff(ctx, o.channel, o.ref); err != nil {
			c.log.Debug("happn client: releasing a replaced subscription", "channel", o.channel, "err", err)
		}
	}
}
