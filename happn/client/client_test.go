package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
)

const wait = 5 * time.Second

// startServer runs a real happn server on a free loopback port.
func startServer(t *testing.T, cfg happn.Config) (*happn.Server, string) {
	t.Helper()
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.Name == "" {
		cfg.Name = "clienttest"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := happn.New(cfg)
	if err != nil {
		t.Fatalf("happn.New: %v", err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	return srv, "http://" + srv.Addr()
}

func connect(t *testing.T, url string, mod ...func(*client.Options)) *client.Client {
	t.Helper()
	opts := client.Options{URL: url, CallTimeout: wait}
	for _, m := range mod {
		m(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := client.New(ctx, opts)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	t.Cleanup(cancel)
	return ctx
}

// collector gathers events delivered to a handler.
type collector struct{ ch chan client.Event }

func newCollector() *collector                   { return &collector{ch: make(chan client.Event, 64)} }
func (c *collector) handler() func(client.Event) { return func(e client.Event) { c.ch <- e } }

func (c *collector) next(t *testing.T) client.Event {
	t.Helper()
	select {
	case e := <-c.ch:
		return e
	case <-time.After(wait):
		t.Fatal("no event received")
		return client.Event{}
	}
}

// none asserts that nothing arrives within a short while.
func (c *collector) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-c.ch:
		t.Fatalf("unexpected event on %s: %s", e.Meta.Path, e.Data)
	case <-time.After(300 * time.Millisecond):
	}
}

func decodeMap(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return m
}

func TestHandshakeSession(t *testing.T) {
	_, url := startServer(t, happn.Config{Name: "handshake-node"})
	c := connect(t, url, func(o *client.Options) { o.Info = map[string]any{"purpose": "test"} })
	s := c.Session()
	if s.ID == "" {
		t.Fatal("no session id")
	}
	if s.Happn.Name != "handshake-node" || s.Happn.Secure {
		t.Fatalf("session happn = %+v", s.Happn)
	}
	if s.Info["purpose"] != "test" || s.Info["_browser"] != false || s.Info["_local"] != false {
		t.Fatalf("session info = %v", s.Info)
	}
	if got := c.ServerInfo(); got.Name != "handshake-node" || got.Secure {
		t.Fatalf("describe = %+v", got)
	}
	if !c.Connected() {
		t.Fatal("not connected")
	}
}

func TestSetGetCountRemove(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)

	it, err := c.Set(ctx, "/test/a", map[string]any{"x": 1})
	if err != nil {
		t.Fatal(err)
	}
	if it.Meta.Path != "/test/a" || it.Meta.Created == 0 || it.Meta.Modified == 0 || !it.Meta.Published {
		t.Fatalf("set meta = %+v", it.Meta)
	}
	if m := decodeMap(t, it.Data); m["x"] != 1.0 || len(m) != 1 {
		t.Fatalf("set data = %s", it.Data)
	}
	it, err = c.Set(ctx, "/test/b", 5)
	if err != nil {
		t.Fatal(err)
	}
	if m := decodeMap(t, it.Data); m["value"] != 5.0 {
		t.Fatalf("primitive set data = %s, want {value:5}", it.Data)
	}

	res, err := c.Get(ctx, "/test/a")
	if err != nil {
		t.Fatal(err)
	}
	if res.List || res.One() == nil || res.One().Meta.Path != "/test/a" {
		t.Fatalf("get single = %+v", res)
	}
	var doc struct{ X int }
	if err := res.One().Decode(&doc); err != nil || doc.X != 1 {
		t.Fatalf("decode = %+v, %v", doc, err)
	}

	res, err = c.Get(ctx, "/test/none")
	if err != nil {
		t.Fatal(err)
	}
	if res.One() != nil || res.List {
		t.Fatalf("get missing = %+v", res)
	}

	res, err = c.Get(ctx, "/test/*")
	if err != nil {
		t.Fatal(err)
	}
	if !res.List || len(res.Items) != 2 || res.Items[0].Meta.Path != "/test/a" || res.Items[1].Meta.Path != "/test/b" {
		t.Fatalf("get wildcard = %+v", res)
	}
	if m := decodeMap(t, res.Items[1].Data); m["value"] != 5.0 {
		t.Fatalf("wildcard item data = %s", res.Items[1].Data)
	}

	res, err = c.Get(ctx, "/nothing/*")
	if err != nil {
		t.Fatal(err)
	}
	if !res.List || len(res.Items) != 0 {
		t.Fatalf("empty wildcard = %+v", res)
	}

	n, err := c.Count(ctx, "/test/*")
	if err != nil || n != 2 {
		t.Fatalf("count = %d, %v", n, err)
	}

	paths, err := c.GetPaths(ctx, "/test/*")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	if fmt.Sprint(paths) != "[/test/a /test/b]" {
		t.Fatalf("getPaths = %v", paths)
	}

	res, err = c.Get(ctx, "/test/*", client.Criteria(map[string]any{"data.x": 1}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || res.Items[0].Meta.Path != "/test/a" {
		t.Fatalf("criteria get = %+v", res)
	}

	removed, err := c.Remove(ctx, "/test/b")
	if err != nil || removed != 1 {
		t.Fatalf("remove = %d, %v", removed, err)
	}
	if n, _ := c.Count(ctx, "/test/*"); n != 1 {
		t.Fatalf("count after remove = %d", n)
	}
}

func TestSetOptions(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)

	if _, err := c.Set(ctx, "/opt/m", map[string]any{"x": 1}); err != nil {
		t.Fatal(err)
	}
	it, err := c.Set(ctx, "/opt/m", map[string]any{"y": 2}, client.Merge())
	if err != nil {
		t.Fatal(err)
	}
	if m := decodeMap(t, it.Data); m["x"] != 1.0 || m["y"] != 2.0 {
		t.Fatalf("merge reply = %s", it.Data)
	}

	v, err := c.Increment(ctx, "/opt/counter", "hits", 2)
	if err != nil || v != 2 {
		t.Fatalf("increment = %v, %v", v, err)
	}
	v, err = c.Increment(ctx, "/opt/counter", "hits", 3)
	if err != nil || v != 5 {
		t.Fatalf("second increment = %v, %v", v, err)
	}

	it, err = c.Set(ctx, "/opt/nostore", map[string]any{"n": 1}, client.NoStore())
	if err != nil {
		t.Fatal(err)
	}
	if it.Meta.Path != "/opt/nostore" || it.Meta.Created != 0 {
		t.Fatalf("noStore meta = %+v", it.Meta)
	}
	if res, _ := c.Get(ctx, "/opt/nostore"); res.One() != nil {
		t.Fatal("noStore item was stored")
	}

	it, err = c.Set(ctx, "/opt/null", nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := decodeMap(t, it.Data); len(m) != 1 || m["value"] != nil {
		t.Fatalf("null set = %s", it.Data)
	}

	if _, err := c.Set(ctx, "/bad/*", 1); err == nil {
		t.Fatal("set on a wildcard path must fail")
	}
	if _, err := c.Set(ctx, "/bad/path$", 1); err == nil {
		t.Fatal("set on a path with bad characters must fail")
	}
}

func TestOnEvents(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)

	all, sets, removes := newCollector(), newCollector(), newCollector()
	if _, err := c.On(ctx, "/ev/*", client.OnOptions{}, all.handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.On(ctx, "/ev/*", client.OnOptions{EventType: "set"}, sets.handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.On(ctx, "/ev/*", client.OnOptions{EventType: "remove"}, removes.handler()); err != nil {
		t.Fatal(err)
	}

	if _, err := c.Set(ctx, "/ev/a", map[string]any{"x": 2}, client.Meta(map[string]any{"custom": "m"})); err != nil {
		t.Fatal(err)
	}
	e := all.next(t)
	if e.Meta.Channel != "/ALL@/ev/*" || e.Meta.Action != "/SET@/ev/a" || e.Meta.Path != "/ev/a" || e.Meta.Type != "data" {
		t.Fatalf("event meta = %+v", e.Meta)
	}
	if e.Meta.SessionID != c.Session().ID || e.Meta.Consistency != client.Transactional || e.Meta.PublicationID == "" {
		t.Fatalf("event origin meta = %+v", e.Meta)
	}
	if string(e.Meta.Fields["custom"]) != `"m"` {
		t.Fatalf("custom meta = %s", e.Meta.Fields["custom"])
	}
	if m := decodeMap(t, e.Data); m["x"] != 2.0 {
		t.Fatalf("event data = %s", e.Data)
	}
	if e := sets.next(t); e.Meta.Channel != "/SET@/ev/*" {
		t.Fatalf("set channel = %s", e.Meta.Channel)
	}
	removes.none(t)

	// '*' in a subscription is one whole segment.
	if _, err := c.Set(ctx, "/ev/a/deeper", 1); err != nil {
		t.Fatal(err)
	}
	all.none(t)

	if _, err := c.Remove(ctx, "/ev/a"); err != nil {
		t.Fatal(err)
	}
	e = removes.next(t)
	if e.Meta.Action != "/REMOVE@/ev/a" || e.Meta.Channel != "/REMOVE@/ev/*" {
		t.Fatalf("remove meta = %+v", e.Meta)
	}
	if m := decodeMap(t, e.Data); m["removed"] != 1.0 {
		t.Fatalf("remove data = %s", e.Data)
	}
	if e := all.next(t); e.Meta.Action != "/REMOVE@/ev/a" {
		t.Fatalf("all got %s", e.Meta.Action)
	}
	sets.none(t)

	if err := c.Publish(ctx, "/ev/pub", map[string]any{"p": 1}); err != nil {
		t.Fatal(err)
	}
	if e := all.next(t); e.Meta.Path != "/ev/pub" || decodeMap(t, e.Data)["p"] != 1.0 {
		t.Fatalf("publish event = %+v %s", e.Meta, e.Data)
	}
	if res, _ := c.Get(ctx, "/ev/pub"); res.One() != nil {
		t.Fatal("publish must not store")
	}

	if _, err := c.On(ctx, "/x", client.OnOptions{EventType: "bogus"}, all.handler()); err == nil {
		t.Fatal("bad event type must fail")
	}
	if _, err := c.On(ctx, "/x", client.OnOptions{}, nil); err == nil {
		t.Fatal("nil handler must fail")
	}
}

func TestSharedSubscriptionAndOff(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)

	a, b := newCollector(), newCollector()
	ha, err := c.On(ctx, "/sh/x", client.OnOptions{}, a.handler())
	if err != nil {
		t.Fatal(err)
	}
	hb, err := c.On(ctx, "/sh/x", client.OnOptions{}, b.handler())
	if err != nil {
		t.Fatal(err)
	}
	if ha == hb {
		t.Fatal("handles must differ")
	}
	if _, err := c.Set(ctx, "/sh/x", 1); err != nil {
		t.Fatal(err)
	}
	a.next(t)
	b.next(t)
	a.none(t) // one remote subscription: one event per handler

	if err := c.Off(ctx, ha); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/sh/x", 2); err != nil {
		t.Fatal(err)
	}
	b.next(t)
	a.none(t)

	if err := c.Off(ctx, hb); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/sh/x", 3); err != nil {
		t.Fatal(err)
	}
	b.none(t)
	if err := c.Off(ctx, 9999); err != nil {
		t.Fatalf("unknown handle: %v", err)
	}
}

func TestOnceAndCount(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)

	once, twice := newCollector(), newCollector()
	if _, err := c.Once(ctx, "/cnt/x", client.OnOptions{}, once.handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.On(ctx, "/cnt/x", client.OnOptions{Count: 2}, twice.handler()); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := c.Set(ctx, "/cnt/x", i); err != nil {
			t.Fatal(err)
		}
	}
	if e := once.next(t); decodeMap(t, e.Data)["value"] != 1.0 {
		t.Fatalf("once got %s", e.Data)
	}
	once.none(t)
	twice.next(t)
	if e := twice.next(t); decodeMap(t, e.Data)["value"] != 2.0 {
		t.Fatalf("second event %s", e.Data)
	}
	twice.none(t)
}

func TestInitialValues(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)
	for _, p := range []string{"/iv/a", "/iv/b"} {
		if _, err := c.Set(ctx, p, map[string]any{"p": p}); err != nil {
			t.Fatal(err)
		}
	}
	var initial []client.Item
	events := newCollector()
	_, err := c.On(ctx, "/iv/*", client.OnOptions{EventType: "set", InitialCallback: func(items []client.Item) { initial = items }}, events.handler())
	if err != nil {
		t.Fatal(err)
	}
	if len(initial) != 2 {
		t.Fatalf("initial callback items = %+v", initial)
	}
	got := map[string]bool{}
	for _, it := range initial {
		if decodeMap(t, it.Data)["p"] != it.Meta.Path {
			t.Fatalf("initial item %s = %s", it.Meta.Path, it.Data)
		}
		got[it.Meta.Path] = true
	}
	if !got["/iv/a"] || !got["/iv/b"] {
		t.Fatalf("initial paths = %v", got)
	}
	if _, err := c.Set(ctx, "/iv/c", 1); err != nil {
		t.Fatal(err)
	}
	if e := events.next(t); e.Meta.Path != "/iv/c" {
		t.Fatalf("event after initial = %s", e.Meta.Path)
	}

	emitted := newCollector()
	h, err := c.On(ctx, "/iv/a", client.OnOptions{InitialEmit: true}, emitted.handler())
	if err != nil {
		t.Fatal(err)
	}
	if e := emitted.next(t); e.Meta.Path != "/iv/a" || decodeMap(t, e.Data)["p"] != "/iv/a" {
		t.Fatalf("initial emit = %+v %s", e.Meta, e.Data)
	}
	if _, err := c.Set(ctx, "/iv/a", 2); err != nil {
		t.Fatal(err)
	}
	if e := emitted.next(t); e.Meta.Channel != "/ALL@/iv/a" {
		t.Fatalf("live event channel = %s", e.Meta.Channel)
	}
	if err := c.Off(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/iv/a", 3); err != nil {
		t.Fatal(err)
	}
	emitted.none(t)
}

func TestVariableDepthAndMerge(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)

	deep := newCollector()
	if _, err := c.On(ctx, "/deep/**", client.OnOptions{Depth: 2}, deep.handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/deep/1/2", map[string]any{"d": 1}); err != nil {
		t.Fatal(err)
	}
	e := deep.next(t)
	if e.Meta.Channel != "/ALL@/deep/**" || e.Meta.Path != "/deep/1/2" {
		t.Fatalf("deep event = %+v", e.Meta)
	}
	if _, err := c.Set(ctx, "/deep/1/2/3", 1); err != nil {
		t.Fatal(err)
	}
	deep.none(t)

	if _, err := c.Set(ctx, "/mg/a", map[string]any{"x": 1, "y": 1}); err != nil {
		t.Fatal(err)
	}
	delta := newCollector()
	if _, err := c.On(ctx, "/mg/a", client.OnOptions{Merge: true}, delta.handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/mg/a", map[string]any{"y": 2}, client.Merge()); err != nil {
		t.Fatal(err)
	}
	if m := decodeMap(t, delta.next(t).Data); len(m) != 1 || m["y"] != 2.0 {
		t.Fatalf("merge subscriber got %v, want only the delta", m)
	}
}

func TestConsistency(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)

	events := newCollector()
	if _, err := c.On(ctx, "/ack/*", client.OnOptions{}, events.handler()); err != nil {
		t.Fatal(err)
	}
	type ack struct {
		r   client.PublishResult
		err error
	}
	acks := make(chan ack, 2)
	onPub := client.OnPublished(func(r client.PublishResult, err error) { acks <- ack{r, err} }, wait)

	it, err := c.Set(ctx, "/ack/a", map[string]any{"z": 1}, client.Consistency(client.Acknowledged), onPub)
	if err != nil {
		t.Fatal(err)
	}
	if it.Meta.Published {
		t.Fatal("acknowledged set replies before publishing")
	}
	e := events.next(t)
	if e.Meta.Consistency != client.Acknowledged || !e.Meta.Acknowledged {
		t.Fatalf("acknowledged event meta = %+v", e.Meta)
	}
	select {
	case a := <-acks:
		if a.err != nil || a.r.Acknowledged != 1 || a.r.Successful != 1 {
			t.Fatalf("publication-ack = %+v, %v", a.r, a.err)
		}
	case <-time.After(wait):
		t.Fatal("no publication-ack")
	}

	if _, err := c.Set(ctx, "/ack/b", 1, client.Consistency(client.Deferred), onPub); err != nil {
		t.Fatal(err)
	}
	events.next(t)
	select {
	case a := <-acks:
		if a.err != nil || a.r.Successful != 1 {
			t.Fatalf("deferred publication-ack = %+v, %v", a.r, a.err)
		}
	case <-time.After(wait):
		t.Fatal("no deferred publication-ack")
	}

	if _, err := c.Set(ctx, "/ack/c", 1, onPub); err == nil {
		t.Fatal("OnPublished without a deferred/acknowledged consistency must fail")
	}
}

func TestTargetClientsAndTwoClients(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c1, c2 := connect(t, url), connect(t, url)
	ctx := ctxT(t)
	e1, e2 := newCollector(), newCollector()
	if _, err := c1.On(ctx, "/tc/*", client.OnOptions{}, e1.handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.On(ctx, "/tc/*", client.OnOptions{}, e2.handler()); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Set(ctx, "/tc/x", 1, client.TargetClients(c2.Session().ID)); err != nil {
		t.Fatal(err)
	}
	if e := e2.next(t); e.Meta.SessionID != c1.Session().ID {
		t.Fatalf("publisher session = %s", e.Meta.SessionID)
	}
	e1.none(t)
}

func TestOffPathAndOffAll(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	ctx := ctxT(t)
	a, b, d := newCollector(), newCollector(), newCollector()
	for p, col := range map[string]*collector{"/op/a": a, "/op/b": b, "/other/d": d} {
		if _, err := c.On(ctx, p, client.OnOptions{}, col.handler()); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.OffPath(ctx, "/op/*"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/op/a", "/op/b", "/other/d"} {
		if _, err := c.Set(ctx, p, 1); err != nil {
			t.Fatal(err)
		}
	}
	d.next(t)
	a.none(t)
	b.none(t)

	if err := c.OffAll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/other/d", 2); err != nil {
		t.Fatal(err)
	}
	d.none(t)
}

func TestServerError(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c := connect(t, url)
	err := c.RevokeToken(ctxT(t))
	var se *client.ServerError
	if !errors.As(err, &se) {
		t.Fatalf("revoke-token on an unsecured server: %v, want a ServerError", err)
	}
	if se.Message != "Cannot revoke-token Not Secure" || se.Error() != se.Name+": "+se.Message {
		t.Fatalf("server error = %#v", se)
	}
	if !c.Connected() {
		t.Fatal("an error reply must not end the session")
	}
}

// eventLog records connection events.
type eventLog struct {
	mu  sync.Mutex
	evs []client.ConnectionEvent
	ch  chan client.ConnectionEvent
}

func newEventLog() *eventLog { return &eventLog{ch: make(chan client.ConnectionEvent, 64)} }

func (l *eventLog) add(e client.ConnectionEvent) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
	l.ch <- e
}

func (l *eventLog) waitFor(t *testing.T, typ client.ConnectionEventType) client.ConnectionEvent {
	t.Helper()
	deadline := time.After(3 * wait)
	for {
		select {
		case e := <-l.ch:
			if e.Type == typ {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", typ)
		}
	}
}

func (l *eventLog) types() []client.ConnectionEventType {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ts []client.ConnectionEventType
	for _, e := range l.evs {
		ts = append(ts, e.Type)
	}
	return ts
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestReconnectResubscribes(t *testing.T) {
	port := freePort(t)
	srv, url := startServer(t, happn.Config{Port: port})
	log := newEventLog()
	c := connect(t, url, func(o *client.Options) {
		o.OnConnectionEvent = log.add
		o.Reconnect.Min = 50 * time.Millisecond
	})
	ctx := ctxT(t)
	events := newCollector()
	if _, err := c.On(ctx, "/rc/*", client.OnOptions{Meta: map[string]any{"m": 1}}, events.handler()); err != nil {
		t.Fatal(err)
	}
	deep := newCollector()
	if _, err := c.On(ctx, "/rcd/**", client.OnOptions{Depth: 2}, deep.handler()); err != nil {
		t.Fatal(err)
	}
	oldID := c.Session().ID

	stopCtx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := srv.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, client.EventConnectionEnded)
	if e := log.waitFor(t, client.EventReconnectScheduled); e.Attempt != 1 || e.Delay != 50*time.Millisecond {
		t.Fatalf("first scheduled reconnect = %+v", e)
	}
	if c.Connected() {
		t.Fatal("connected while the server is down")
	}
	if _, err := c.Get(ctx, "/rc/x"); !errors.Is(err, client.ErrNotConnected) {
		t.Fatalf("get while down: %v, want ErrNotConnected", err)
	}
	startServer(t, happn.Config{Port: port})
	log.waitFor(t, client.EventReconnectSuccessful)

	if c.Session().ID == oldID || c.Session().ID == "" {
		t.Fatalf("session id after reconnect = %q (was %q)", c.Session().ID, oldID)
	}
	if _, err := c.Set(ctx, "/rc/a", 1); err != nil {
		t.Fatal(err)
	}
	if e := events.next(t); e.Meta.Channel != "/ALL@/rc/*" {
		t.Fatalf("event after reconnect = %+v", e.Meta)
	}
	if _, err := c.Set(ctx, "/rcd/1/2", 1); err != nil {
		t.Fatal(err)
	}
	if e := deep.next(t); e.Meta.Path != "/rcd/1/2" {
		t.Fatalf("depth event after reconnect = %+v", e.Meta)
	}
}

func TestServerSideDisconnect(t *testing.T) {
	srv, url := startServer(t, happn.Config{})
	log := newEventLog()
	c := connect(t, url, func(o *client.Options) {
		o.OnConnectionEvent = log.add
		o.Reconnect.Min = 20 * time.Millisecond
	})
	if !srv.Disconnect(c.Session().ID, "test-reason") {
		t.Fatal("server did not find the session")
	}
	if e := log.waitFor(t, client.EventSessionEnded); e.Reason != "test-reason" {
		t.Fatalf("session-ended reason = %q", e.Reason)
	}
	log.waitFor(t, client.EventConnectionEnded)
	time.Sleep(200 * time.Millisecond)
	for _, typ := range log.types() {
		if typ == client.EventReconnectScheduled {
			t.Fatal("client reconnects after a deliberate server-side disconnect")
		}
	}
	if _, err := c.Get(ctxT(t), "/x"); !errors.Is(err, client.ErrSessionEnded) {
		t.Fatalf("get after session end: %v, want ErrSessionEnded", err)
	}
}

func TestHeartbeat(t *testing.T) {
	t.Run("answers pings", func(t *testing.T) {
		_, url := startServer(t, happn.Config{PingInterval: 100 * time.Millisecond})
		log := newEventLog()
		c := connect(t, url, func(o *client.Options) { o.OnConnectionEvent = log.add; o.PingTimeout = time.Second })
		id := c.Session().ID
		time.Sleep(800 * time.Millisecond) // several server pings; unanswered ones would end the session
		if !c.Connected() || c.Session().ID != id || len(log.types()) != 0 {
			t.Fatalf("connection changed: connected=%v events=%v", c.Connected(), log.types())
		}
	})
	t.Run("missing pings mean a dead connection", func(t *testing.T) {
		_, url := startServer(t, happn.Config{PingInterval: time.Minute})
		log := newEventLog()
		c := connect(t, url, func(o *client.Options) {
			o.OnConnectionEvent = log.add
			o.PingTimeout = 300 * time.Millisecond
			o.Reconnect.Min = 20 * time.Millisecond
		})
		id := c.Session().ID
		log.waitFor(t, client.EventConnectionEnded)
		log.waitFor(t, client.EventReconnectSuccessful)
		if c.Session().ID == id {
			t.Fatal("expected a new session after the ping timeout")
		}
	})
}

func TestCloseAndConcurrency(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	log := newEventLog()
	c := connect(t, url, func(o *client.Options) { o.OnConnectionEvent = log.add })
	ctx := ctxT(t)
	events := newCollector()
	if _, err := c.On(ctx, "/cc/*", client.OnOptions{}, events.handler()); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Go(func() {
			p := "/cc/" + strconv.Itoa(i)
			if _, err := c.Set(ctx, p, i); err != nil {
				errs <- err
				return
			}
			res, err := c.Get(ctx, p)
			if err != nil {
				errs <- err
				return
			}
			if res.One() == nil || decodeMap(t, res.One().Data)["value"] != float64(i) {
				errs <- fmt.Errorf("get %s = %+v", p, res.One())
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for range 20 {
		events.next(t)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	log.waitFor(t, client.EventConnectionEnded)
	if _, err := c.Set(ctx, "/cc/x", 1); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("set after close: %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	ctx := ctxT(t)
	if _, err := client.New(ctx, client.Options{URL: "ftp://x"}); err == nil {
		t.Fatal("bad scheme accepted")
	}
	if _, err := client.New(ctx, client.Options{URL: "http://127.0.0.1:1", ConnectTimeout: time.Second}); err == nil {
		t.Fatal("connected to a closed port")
	}
	if _, err := client.New(ctx, client.Options{PrivateKey: "not pem"}); err == nil {
		t.Fatal("bad private key accepted")
	}
}

// TestSetAsync: the set is written at once, its answer (or error) reaches
// the callback, and a lost connection ends the wait.
func TestSetAsync(t *testing.T) {
	srv, url := startServer(t, happn.Config{})
	c := connect(t, url, func(o *client.Options) { o.Reconnect.Disabled = true })
	done := make(chan error, 4)
	if err := c.SetAsync("/async/a", map[string]int{"v": 1}, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("answer: %v", err)
	}
	if it, err := c.Get(ctxT(t), "/async/a"); err != nil || it.One() == nil || !strings.Contains(string(it.One().Data), `"v":1`) {
		t.Fatalf("the async set did not store: %+v %v", it, err)
	}
	// a refused set reaches the callback as an error
	if err := c.SetAsync("/async/b", map[string]int{"v": 2}, func(err error) { done <- err }, client.With("options", 5), client.With("consistency", "x")); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("a refused set reported success")
	}
	if err := c.PublishAsync("/async/c", map[string]int{"v": 3}, nil); err != nil {
		t.Fatal(err)
	}
	// the connection goes while an answer is awaited: the callback hears it
	srv.Stop(context.Background(), happn.StopOptions{})
	err := c.SetAsync("/async/d", map[string]int{"v": 4}, func(err error) { done <- err })
	if err == nil {
		select {
		case err = <-done:
		case <-time.After(wait):
			t.Fatal("the callback never heard that the connection was lost")
		}
	}
	if err == nil {
		t.Fatal("a set on a closed server succeeded")
	}
}

// A request sent with WriteLater waits for the flush its scheduler was
// given; a declined schedule writes at once; a write made meanwhile by
// another call sends the queued request first, and the flush run after
// that sends nothing twice.
func TestWriteLaterWaitsForItsFlush(t *testing.T) {
	_, url := startServer(t, happn.Config{})
	c, watcher := connect(t, url), connect(t, url)
	ctx := ctxT(t)
	got := newCollector()
	if _, err := watcher.On(ctx, "/later/*", client.OnOptions{}, got.handler()); err != nil {
		t.Fatal(err)
	}
	var flush func()
	hold := client.WriteLater(func(f func()) bool { flush = f; return true })
	done := make(chan error, 4)
	if err := c.SetAsync("/later/1", 1, func(err error) { done <- err }, hold); err != nil {
		t.Fatal(err)
	}
	got.none(t)
	flush()
	if p := got.next(t).Meta.Path; p != "/later/1" {
		t.Fatalf("event on %s, want /later/1", p)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	declined := client.WriteLater(func(func()) bool { return false })
	if err := c.SetAsync("/later/2", 2, nil, declined); err != nil {
		t.Fatal(err)
	}
	if p := got.next(t).Meta.Path; p != "/later/2" {
		t.Fatalf("event on %s, want /later/2", p)
	}

	if err := c.SetAsync("/later/3", 3, nil, hold); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set(ctx, "/later/4", 4); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/later/3", "/later/4"} {
		if p := got.next(t).Meta.Path; p != want {
			t.Fatalf("event on %s, want %s (queued requests go first)", p, want)
		}
	}
	flush()
	got.none(t)
}
