package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/happner-go/happner/bench/internal/wire"
)

// meshInfo is what a MeshClient learns from `get /mesh/schema/*`.
type meshInfo struct {
	// Domain is description.name, used in every exchange path.
	Domain string
	// Secure is config.happn.secure: it decides the callback address form.
	Secure bool
	// SetOptions is description.setOptions (default {"noStore":true}).
	SetOptions map[string]any
	// Methods maps component → method names from the description.
	Methods map[string][]string
}

// parseSchema reads the items of the `/mesh/schema/*` reply, told apart by
// `_meta.path`, as the MeshClient does.
func parseSchema(items []json.RawMessage) (*meshInfo, error) {
	var cfg, desc json.RawMessage
	for _, it := range items {
		var m struct {
			Meta struct {
				Path string `json:"path"`
			} `json:"_meta"`
		}
		if err := json.Unmarshal(it, &m); err != nil {
			return nil, fmt.Errorf("mesh schema item %.100q: %w", it, err)
		}
		switch m.Meta.Path {
		case "/mesh/schema/config":
			cfg = it
		case "/mesh/schema/description":
			desc = it
		}
	}
	if cfg == nil || desc == nil {
		return nil, fmt.Errorf("mesh schema: want /mesh/schema/config and /mesh/schema/description, got %d items", len(items))
	}
	var c struct {
		Name  string `json:"name"`
		Happn struct {
			Secure bool `json:"secure"`
		} `json:"happn"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return nil, fmt.Errorf("mesh schema config: %w", err)
	}
	var d struct {
		Name         string         `json:"name"`
		Initializing bool           `json:"initializing"`
		SetOptions   map[string]any `json:"setOptions"`
		Components   map[string]struct {
			Methods map[string]json.RawMessage `json:"methods"`
		} `json:"components"`
	}
	if err := json.Unmarshal(desc, &d); err != nil {
		return nil, fmt.Errorf("mesh schema description: %w", err)
	}
	switch {
	case c.Name == "" || d.Name == "":
		return nil, errors.New("mesh schema: config or description has no name")
	case d.Initializing:
		return nil, errors.New("mesh schema: the mesh is still initializing")
	}
	info := &meshInfo{Domain: d.Name, Secure: c.Happn.Secure, SetOptions: d.SetOptions,
		Methods: make(map[string][]string, len(d.Components))}
	if info.SetOptions == nil {
		info.SetOptions = map[string]any{"noStore": true}
	}
	for name, comp := range d.Components {
		for m := range comp.Methods {
			info.Methods[name] = append(info.Methods[name], m)
		}
	}
	return info, nil
}

// hasMethod reports whether the description lists component.method.
func (i *meshInfo) hasMethod(component, method string) bool {
	for _, m := range i.Methods[component] {
		if m == method {
			return true
		}
	}
	return false
}

// rpcResult is the outcome of one call: the callback's arguments on
// success, or the error carried by a `status: error|failed` response.
type rpcResult struct {
	Args []json.RawMessage
	Err  error
}

// rpcCallback receives a call's result on the connection's read goroutine;
// it must not block.
type rpcCallback func(rpcResult)

// RemoteError is a call that the mesh answered with a status other than ok.
type RemoteError struct {
	Status  string
	Name    string
	Message string
}

// Error implements error.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("mesh call %s: %s: %s", e.Status, e.Name, e.Message)
}

// meshConn is one MeshClient-like session calling one component method over
// the exchange: a `set` on the request path with a
// callbackAddress, answered by a publication on that address.
type meshConn struct {
	c    *wire.Client
	info *meshInfo

	reqPath    string // /_exchange/requests/<domain>/<comp>/<method>
	respPrefix string // callback address without the sequence number
	origin     []byte // {"id":…[,"username":…]}
	options    []byte // setOptions + noDataResponse

	nextSeq atomic.Int64
	pending wire.Calls[rpcResult]
	// unmatched counts response publications for no pending call.
	unmatched atomic.Int64
}

// dialMesh logs in, reads the mesh schema, checks that component.method
// exists and subscribes to the responses the way the npm MeshClient does.
func dialMesh(ctx context.Context, addr string, opts wire.Options, component, method string) (*meshConn, error) {
	mc := &meshConn{}
	opts.OnEvent = mc.onEvent
	c, err := wire.Dial(ctx, addr, opts)
	if err != nil {
		return nil, err
	}
	mc.c = c
	if err := mc.setup(ctx, opts.Username, component, method); err != nil {
		_ = c.Close()
		return nil, err
	}
	return mc, nil
}

func (mc *meshConn) setup(ctx context.Context, username, component, method string) error {
	r, err := mc.c.Call(ctx, "get", "/mesh/schema/*", nil, nil)
	if err != nil {
		return fmt.Errorf("get /mesh/schema/*: %w", err)
	}
	info, err := parseSchema(r.Items)
	if err != nil {
		return err
	}
	if !info.hasMethod(component, method) {
		return fmt.Errorf("the mesh %q describes no method %s.%s", info.Domain, component, method)
	}
	mc.info = info
	sid := mc.c.SessionID
	mc.reqPath = "/_exchange/requests/" + info.Domain + "/" + component + "/" + method
	var mask string
	if info.Secure {
		mc.respPrefix = "/_exchange/responses/" + info.Domain + "/" + component + "/" + method + "/" + sid + "/"
		mask = mc.respPrefix + "*"
	} else {
		mc.respPrefix = "/_exchange/responses/" + sid + "/" + info.Domain + "/" + component + "/" + method + "/"
		mask = "/_exchange/responses/" + sid + "/*/*/*/*"
	}
	origin := map[string]string{"id": sid}
	if info.Secure && username != "" {
		origin["username"] = username
	}
	if mc.origin, err = json.Marshal(origin); err != nil {
		return fmt.Errorf("encode origin: %w", err)
	}
	setOpts := make(map[string]any, len(info.SetOptions)+1)
	for k, v := range info.SetOptions {
		setOpts[k] = v
	}
	setOpts["noDataResponse"] = true
	if mc.options, err = json.Marshal(setOpts); err != nil {
		return fmt.Errorf("encode set options: %w", err)
	}
	if _, err := mc.c.Call(ctx, "on", "/SET@"+mask, nil,
		[]byte(`{"event_type":"set","count":0,"timeout":60000}`)); err != nil {
		return fmt.Errorf("subscribe to responses %s: %w", mask, err)
	}
	return nil
}

// call sends one request with numeric arguments; cb gets the result. With
// the client's ManualFlush the request may wait in the write buffer until
// Flush. buf is scratch space for the request body; the grown buffer is
// returned for reuse.
func (mc *meshConn) call(args []float64, buf []byte, cb rpcCallback) ([]byte, error) {
	seq := mc.nextSeq.Add(1) - 1
	if err := mc.pending.Add(seq, cb); err != nil {
		return buf, err
	}

	b := append(buf[:0], `{"callbackAddress":"`...)
	b = append(b, mc.respPrefix...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","args":[`...)
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, a, 'g', -1, 64)
	}
	b = append(b, `],"origin":`...)
	b = append(b, mc.origin...)
	b = append(b, '}')
	_, err := mc.c.Send("set", mc.reqPath, b, mc.options, func(r wire.Reply) {
		if r.Err != nil {
			mc.pending.Complete(seq, rpcResult{Err: fmt.Errorf("request set: %w", r.Err)})
		}
	})
	if err != nil {
		mc.pending.Remove(seq)
		return b, err
	}
	return b, nil
}

// onEvent handles response publications on the callback addresses.
func (mc *meshConn) onEvent(ev wire.Event) {
	rest, ok := strings.CutPrefix(ev.Path, mc.respPrefix)
	var seq int64
	var err error
	if ok {
		seq, err = strconv.ParseInt(rest, 10, 64)
	}
	if !ok || err != nil || !mc.pending.Complete(seq, decodeResponse(ev.Data)) {
		mc.unmatched.Add(1)
	}
}

// decodeResponse reads `{"status":"ok","args":[null, …]}` and its error forms.
func decodeResponse(data []byte) rpcResult {
	var resp struct {
		Status string            `json:"status"`
		Args   []json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return rpcResult{Err: fmt.Errorf("bad response %.100q: %w", data, err)}
	}
	if resp.Status == "ok" {
		args := make([]json.RawMessage, len(resp.Args))
		for i, a := range resp.Args {
			args[i] = append(json.RawMessage(nil), a...)
		}
		return rpcResult{Args: args}
	}
	re := &RemoteError{Status: resp.Status}
	if re.Status == "" {
		re.Status = "error"
	}
	if len(resp.Args) > 0 && !bytes.Equal(resp.Args[0], []byte("null")) {
		var e struct {
			Name    string `json:"name"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(resp.Args[0], &e); err == nil {
			re.Name, re.Message = e.Name, e.Message
		} else {
			re.Message = string(resp.Args[0])
		}
	}
	return rpcResult{Err: re}
}

// Unmatched reports response publications that matched no pending call.
func (mc *meshConn) Unmatched() int64 { return mc.unmatched.Load() }

// Close ends the session; pending calls are abandoned.
func (mc *meshConn) Close() error { return mc.c.Close() }
