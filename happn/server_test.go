package happn

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// startServer starts an insecure server on a free loopback port and stops
// it when the test ends.
func startServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	cfg.Host = "127.0.0.1"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Stop(ctx)
	})
	return srv
}

// rawClient is a bare websocket speaking frames, for protocol tests.
type rawClient struct {
	t  testing.TB
	ws *websocket.Conn
}

func dialRaw(t testing.TB, srv *Server) *rawClient {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+srv.Addr()+"/primus?_primuscb=test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Body != nil {
		resp.Body.Close()
	}
	t.Cleanup(func() { ws.Close() })
	return &rawClient{t: t, ws: ws}
}

func (c *rawClient) send(frame string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
		c.t.Fatal(err)
	}
}

// recv reads the next frame, failing the test after a timeout.
func (c *rawClient) recv() string {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ws.ReadMessage()
	if err != nil {
		c.t.Fatalf("reading frame: %v", err)
	}
	return string(msg)
}

// recvJSON reads the next frame as a JSON object.
func (c *rawClient) recvJSON() map[string]any {
	c.t.Helper()
	frame := c.recv()
	var m map[string]any
	if err := json.Unmarshal([]byte(frame), &m); err != nil {
		c.t.Fatalf("frame %s: %v", frame, err)
	}
	return m
}

// handshake runs configure-session, describe and login.
func (c *rawClient) handshake() string {
	c.t.Helper()
	c.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4","version":"13.12.1","browser":false}}`)
	c.recv()
	c.send(`{"action":"describe","eventId":2,"data":null}`)
	c.recv()
	c.send(`{"action":"login","eventId":3,"data":{"info":{"_browser":false,"_local":false},"protocol":"happn_4"},"options":{"timeout":60000}}`)
	reply := c.recvJSON()
	return reply["data"].(map[string]any)["id"].(string)
}

func meta(m map[string]any) map[string]any {
	v, _ := m["_meta"].(map[string]any)
	return v
}

func TestHTTPEndpoints(t *testing.T) {
	srv := startServer(t, Config{})
	for path, want := range map[string]string{"/ping": "pong", "/version": `{"version":"13.12.1"}`} {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != want {
			t.Errorf("GET %s = %q, want %q", path, body, want)
		}
	}
	resp, err := http.Get("http://" + srv.Addr() + "/primus?_primuscb=x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET /primus = %d, want 426", resp.StatusCode)
	}
}

func TestBadInputKeepsServing(t *testing.T) {
	srv := startServer(t, Config{})
	bad := dialRaw(t, srv)
	bad.handshake()
	other := dialRaw(t, srv)
	other.handshake()

	cases := []struct {
		frame, wantMessage string
	}{
		{`{not json`, "Failed to decode incoming data"},
		{`{"eventId":9,"path":"/a"}`, "request has no action"},
		{`{"action":"bogus","eventId":10}`, "unknown action: bogus"},
		{`{"action":"set","eventId":11,"path":"/a/*","data":{}}`, "Bad path, if the action is 'set' the path cannot contain the * wildcard character"},
		{`{"action":"set","eventId":12,"path":"/a/$","data":{}}`, badPathChars},
		{`{"action":"set","eventId":13,"path":5,"data":{}}`, "Bad path [5], must be a string"},
		{`{"action":"set","eventId":14,"path":"/a","data":"x","options":{"increment":"many"}}`, "increment option value must be a number"},
		{`{"action":"set","eventId":15,"path":"/a","data":{"x":1},"options":{"merge":"yes"}}`, "invalid options"},
		{`{"action":"get","eventId":16,"path":"/a","options":{"criteria":{"x":{"$regex":5}}}}`, "$regex parameter value must be an Array or a string"},
		// every member of the envelope has its type checked
		{`{"action":"set","eventId":17,"path":"/kept","data":{"b":2},"options":"merge"}`, "options must be an object, got a string"},
		{`{"action":"set","eventId":18,"path":"/kept","data":{"b":2},"options":5}`, "options must be an object, got a number"},
		{`{"action":"set","eventId":19,"path":"/kept","data":{"b":2},"options":[1,2]}`, "options must be an object, got an array"},
		{`{"action":"get","eventId":20,"path":"/kept","data":null,"options":"x"}`, "options must be an object"},
		{`{"action":"on","eventId":21,"path":"/ALL@/kept","data":null,"options":"x"}`, "options must be an object"},
		{`{"action":"off","eventId":22,"path":"/ALL@/kept","data":{"x":1}}`, "data of off must be null, got an object"},
		{`{"action":"get","eventId":23,"path":"/kept","data":"x"}`, "data of get must be null"},
		{`{"action":"describe","eventId":{"a":1},"data":null}`, "eventId must be a number, got an object"},
		{`{"action":"describe","eventId":24,"sessionId":5,"data":null}`, "sessionId must be a string, got a number"},
		{`{"action":"login","eventId":25,"data":"x"}`, "data of login must be an object, got a string"},
		{`{"action":"configure-session","eventId":26,"data":{"protocol":5}}`, "data.protocol of configure-session must be a string, got a number"},
		{`{"action":"ack","eventId":27,"data":{"id":1}}`, "data of ack must be a string"},
		{`{"action":"set","eventId":28,"path":"/kept","data":{"b":2},"options":{"meta":5}}`, "option meta must be an object"},
		{`{"action":"set","eventId":29,"path":"/kept","data":{"b":2},"options":{"targetClients":"x"}}`, "option targetClients must be an array of session ids"},
		{`{"action":"set","eventId":30,"path":"/kept","data":{"b":2},"options":{"timeout":"soon"}}`, "option timeout must be a number"},
		{`{"action":"get","eventId":31,"path":"/kept","options":{"criteria":"x"}}`, "criteria must be an object"},
		{`{"action":"off","eventId":32,"path":"/ALL@/kept","options":{"referenceId":{}}}`, "option referenceId must be a string"},
	}
	bad.send(`{"action":"set","eventId":8,"path":"/kept","data":{"a":1},"options":{}}`)
	if m := meta(bad.recvJSON()); m["status"] != "ok" {
		t.Fatalf("set /kept: %v", m)
	}
	for _, c := range cases {
		bad.send(c.frame)
		reply := bad.recvJSON()
		m := meta(reply)
		if m["status"] != "error" {
			t.Fatalf("%s: status %v, want error: %v", c.frame, m["status"], reply)
		}
		e := m["error"].(map[string]any)
		if msg, _ := e["message"].(string); !strings.Contains(msg, c.wantMessage) {
			t.Errorf("%s: error %q, want it to contain %q", c.frame, msg, c.wantMessage)
		}
		if _, leak := e["stack"]; leak {
			t.Errorf("%s: error carries a stack", c.frame)
		}
	}
	// nothing was lost or changed by the refused requests
	bad.send(`{"action":"get","eventId":40,"path":"/kept","data":null,"options":{}}`)
	if got := bad.recvJSON(); got["data"].(map[string]any)["a"] != float64(1) || got["data"].(map[string]any)["b"] != nil {
		t.Fatalf("/kept after refused requests: %v", got["data"])
	}
	// the other session and the bad one both keep working
	for _, c := range []*rawClient{other, bad} {
		c.send(`{"action":"set","eventId":20,"path":"/still/ok","data":{"v":1},"options":{}}`)
		if m := meta(c.recvJSON()); m["status"] != "ok" {
			t.Fatalf("set after bad input: %v", m)
		}
	}
}

func TestOversizedFrameClosesOnlyThatSocket(t *testing.T) {
	srv := startServer(t, Config{MaxLength: 1024})
	big := dialRaw(t, srv)
	big.handshake()
	other := dialRaw(t, srv)
	other.handshake()
	big.send(`{"action":"set","eventId":9,"path":"/big","data":{"x":"` + strings.Repeat("a", 2048) + `"}}`)
	_ = big.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := big.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errorsAs(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("oversized frame: got %v, want close 1009", err)
	}
	other.send(`{"action":"get","eventId":9,"path":"/big","data":null}`)
	if m := meta(other.recvJSON()); m["status"] != "ok" {
		t.Fatalf("other session: %v", m)
	}
}

func TestHeartbeat(t *testing.T) {
	srv := startServer(t, Config{PingInterval: 50 * time.Millisecond})
	c := dialRaw(t, srv)
	c.handshake()
	frame := c.recv()
	if !strings.HasPrefix(frame, `"primus::ping::`) {
		t.Fatalf("first frame after login = %s, want a primus ping", frame)
	}
	c.send(`"primus::pong::` + strings.TrimSuffix(strings.TrimPrefix(frame, `"primus::ping::`), `"`) + `"`)
	// stop answering: the server must close the socket without
	// "primus::server::close", so that the client reconnects
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		_ = c.ws.SetReadDeadline(time.Now().Add(time.Second))
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			// the socket closes before the session is dropped
			for gone := time.Now().Add(2 * time.Second); srv.Sessions() != 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(gone) {
					t.Fatalf("session still registered 2 s after close")
				}
			}
			return
		}
		if strings.Contains(string(msg), "primus::server::close") {
			t.Fatal("unresponsive session was told not to reconnect")
		}
	}
	t.Fatal("unresponsive session was not closed")
}

func TestLegacyPing(t *testing.T) {
	srv := startServer(t, Config{})
	c := dialRaw(t, srv)
	c.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_3","version":"1.0.0","browser":false}}`)
	reply := c.recvJSON()
	if reply["protocol"] != "happn_3" {
		t.Fatalf("protocol = %v", reply["protocol"])
	}
	c.send(`"primus::ping::12345"`)
	if got := c.recv(); got != `"primus::pong::12345"` {
		t.Fatalf("legacy ping answered with %s", got)
	}
}

func TestServerSideDisconnect(t *testing.T) {
	srv := startServer(t, Config{})
	c := dialRaw(t, srv)
	id := c.handshake()
	if !srv.Disconnect(id, "test-reason") {
		t.Fatal("Disconnect found no session")
	}
	m := c.recvJSON()
	if m["eventKey"] != "server-side-disconnect" || meta(m)["type"] != "system" {
		t.Fatalf("got %v", m)
	}
	if r := m["data"].(map[string]any)["reason"]; r != "test-reason" {
		t.Fatalf("reason %v", r)
	}
	if got := c.recv(); got != `"primus::server::close"` {
		t.Fatalf("then %s", got)
	}
}

func TestStopWithoutReconnect(t *testing.T) {
	srv := startServer(t, Config{})
	c := dialRaw(t, srv)
	c.handshake()
	go srv.Stop(context.Background(), StopOptions{NoReconnect: true})
	m := c.recvJSON()
	if r := m["data"].(map[string]any)["reason"]; r != "reconnect-false" {
		t.Fatalf("reason %v", r)
	}
}

func TestSubscribeHook(t *testing.T) {
	srv, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	// the happner rewrite: a 6-segment response channel matches 8 segments,
	// and other sessions' response paths are refused
	srv.SetSubscribeHook(func(sid, channel, path string) (string, bool) {
		if strings.HasPrefix(path, "/_exchange/responses/") && !strings.Contains(path, sid) {
			return path, true
		}
		if strings.Count(channel, "/") == 5 && strings.HasPrefix(path, "/_exchange/responses/") {
			return path + "/*/*/*", false
		}
		return path, false
	})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Stop(context.Background())
	c := dialRaw(t, srv)
	sid := c.handshake()
	spy := dialRaw(t, srv)
	spy.handshake()
	spy.send(`{"action":"on","eventId":5,"path":"/SET@/_exchange/responses/` + sid + `/*","options":{}}`)
	if m := meta(spy.recvJSON()); m["status"] != "ok" {
		t.Fatalf("refused subscription must still answer ok: %v", m)
	}
	c.send(`{"action":"on","eventId":5,"path":"/SET@/_exchange/responses/` + sid + `/*","options":{}}`)
	c.recv()
	c.send(`{"action":"set","eventId":6,"path":"/_exchange/responses/` + sid + `/mesh/comp/method/1","data":{"status":"ok"},"options":{"noStore":true}}`)
	pub := c.recvJSON()
	if got, want := meta(pub)["channel"], "/SET@/_exchange/responses/"+sid+"/*"; got != want {
		t.Fatalf("channel %v, want %v", got, want)
	}
	c.recv() // the set reply
	spy.send(`{"action":"get","eventId":7,"path":"/nothing","data":null}`)
	if m := meta(spy.recvJSON()); m["action"] != "get" {
		t.Fatalf("the spy received another session's response: %v", m)
	}
}

func TestSessionEvents(t *testing.T) {
	srv := startServer(t, Config{})
	events := make(chan SessionEvent, 10)
	cancel := srv.OnSessionEvent(func(e SessionEvent) { events <- e })
	defer cancel()
	c := dialRaw(t, srv)
	id := c.handshake()
	c.ws.Close()
	var got []SessionEventType
	for len(got) < 3 {
		select {
		case e := <-events:
			if e.ID != id {
				t.Fatalf("event for session %s, want %s", e.ID, id)
			}
			got = append(got, e.Type)
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far: %v", got)
		}
	}
	if got[0] != SessionConnected || got[1] != SessionAuthentic || got[2] != SessionDisconnected {
		t.Fatalf("events %v", got)
	}
}

func TestAdditionalListener(t *testing.T) {
	srv := startServer(t, Config{})
	addr, err := srv.Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if addr == srv.Addr() {
		t.Fatal("same address")
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/primus", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, ws: ws}
	defer ws.Close()
	c.send(`{"action":"describe","eventId":1,"data":null}`)
	if m := meta(c.recvJSON()); m["status"] != "ok" {
		t.Fatalf("describe on the second listener: %v", m)
	}
}

// Two subscriptions of one session on one channel get one message per
// publication (the client fans it out), and again two once one is gone.
func TestOneMessagePerSessionAndChannel(t *testing.T) {
	srv := startServer(t, Config{})
	c := dialRaw(t, srv)
	c.handshake()
	c.send(`{"action":"on","eventId":5,"path":"/ALL@/dup/*","options":{}}`)
	first := c.recvJSON()["data"].(map[string]any)["id"].(string)
	c.send(`{"action":"on","eventId":6,"path":"/ALL@/dup/*","options":{"initialCallback":true}}`)
	c.recv()
	c.send(`{"action":"on","eventId":7,"path":"/SET@/dup/*","options":{}}`)
	c.recv()
	c.send(`{"action":"set","eventId":8,"path":"/dup/a","data":{},"options":{}}`)
	channels := map[string]int{}
	for {
		m := c.recvJSON()
		if meta(m)["type"] == "response" {
			break
		}
		channels[meta(m)["channel"].(string)]++
	}
	if channels["/ALL@/dup/*"] != 1 || channels["/SET@/dup/*"] != 1 || len(channels) != 2 {
		t.Fatalf("messages per channel: %v", channels)
	}
	c.send(`{"action":"off","eventId":9,"path":"/ALL@/dup/*","options":{"referenceId":"` + first + `"}}`)
	c.recv()
	if n := srv.subs.dupChannels.Load(); n != 0 {
		t.Fatalf("duplicate channel count %d after off", n)
	}
}

func TestActiveSessions(t *testing.T) {
	srv := startServer(t, Config{})
	a := dialRaw(t, srv)
	idA := a.handshake()
	b := dialRaw(t, srv)
	b.send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4"}}`) // connected, not logged in
	b.recv()
	list := srv.ActiveSessions()
	if len(list) != 1 || list[0].ID != idA {
		t.Fatalf("active sessions %+v, want only %s", list, idA)
	}
}
