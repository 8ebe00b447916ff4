package happn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/happner-go/happner/internal/jsonscan"
)

// FuzzHandleFrame feeds arbitrary frames to a session: whatever arrives,
// the server answers or ignores it and never panics.
func FuzzHandleFrame(f *testing.F) {
	for _, seed := range []string{
		`{"action":"set","eventId":1,"path":"/a","data":{"x":1},"options":{"merge":true}}`,
		`{"action":"get","eventId":2,"path":"/a/*","options":{"criteria":{"x":{"$gt":1}},"options":{"sort":{"x":-1},"limit":2}}}`,
		`{"action":"on","eventId":3,"path":"/ALL@/a/**","options":{"depth":2,"initialCallback":true}}`,
		`{"action":"off","eventId":4,"path":"*","options":{"referenceId":0}}`,
		`{"action":"set","eventId":5,"path":"/c","data":"hits","options":{"increment":2}}`,
		`{"action":"remove","eventId":6,"path":"/a/*"}`,
		`{"action":"ack","eventId":7,"data":"x-1"}`,
		`"primus::ping::1"`, `[1,2]`, `null`, `{`, `{"action":7}`,
	} {
		f.Add([]byte(seed))
	}
	srv, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Name: "fuzz"})
	if err != nil {
		f.Fatal(err)
	}
	conn, err := srv.ConnectLocal()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if err := conn.Send(frame); err != nil {
			t.Skip("connection closed")
		}
		conn.mu.Lock()
		conn.queue = nil // keep memory flat across iterations
		conn.mu.Unlock()
	})
}

// FuzzCheckPath checks that path validation never panics and that the fast
// path agrees with happn's regular expression.
func FuzzCheckPath(f *testing.F) {
	for _, seed := range []string{"/a/b", "/a/*", "", "/ä", "/a b", "/x\u00a0y", "/a/$"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if validPathString(p) != validPath.MatchString(p) {
			t.Fatalf("validPathString(%q) = %v, regexp says %v", p, validPathString(p), validPath.MatchString(p))
		}
		_ = checkPath("set", p)
	})
}

// FuzzParseRequest checks the request scanner against encoding/json: it
// accepts exactly the JSON objects, and finds the same members.
func FuzzParseRequest(f *testing.F) {
	for _, seed := range []string{
		`{"action":"set","eventId":1,"path":"/a","data":{"x":[1,2.5e3,"s\u00e9",null,true]},"options":{"merge":true}}`,
		`{"action":"get","path":"/a\/b","options":{}}`, `{}`, ` { "a" : 1 } `, `[1]`, `{"a":01}`, `{"a":"\x"}`, `{"a":1,}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var req request
		err := parseRequest(frame, &req)
		var m map[string]json.RawMessage
		stdErr := json.Unmarshal(frame, &m)
		if !utf8.Valid(frame) {
			return // encoding/json replaces invalid UTF-8; frames are checked before parsing
		}
		if err != nil && !errors.Is(err, jsonscan.ErrSyntax) {
			// A member of the wrong type: the request is refused, whether
			// or not the rest of the frame would have been valid JSON.
			return
		}
		if stdErr == nil && m == nil {
			// JSON null: encoding/json leaves the map nil without an error,
			// but a request must be an object.
			if err == nil {
				t.Fatalf("scanner accepted %q, which is not an object", frame)
			}
			return
		}
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("scanner error %v, encoding/json error %v, frame %q", err, stdErr, frame)
		}
		if err != nil {
			return
		}
		var action string
		if raw, ok := m["action"]; ok && json.Unmarshal(raw, &action) == nil && action != req.Action {
			t.Fatalf("action %q, encoding/json says %q", req.Action, action)
		}
	})
}

// byteConn is a net.Conn reading a fixed input and discarding writes.
type byteConn struct {
	net.Conn
	r *bytes.Reader
}

func (c *byteConn) Read(p []byte) (int, error)          { return c.r.Read(p) }
func (c *byteConn) Write(p []byte) (int, error)         { return len(p), nil }
func (c *byteConn) Close() error                        { return nil }
func (c *byteConn) SetReadDeadline(time.Time) error     { return nil }
func (c *byteConn) SetWriteDeadline(time.Time) error    { return nil }
func (c *byteConn) SetDeadline(time.Time) error         { return nil }
func (c *byteConn) LocalAddr() net.Addr                 { return &net.TCPAddr{} }
func (c *byteConn) RemoteAddr() net.Addr                { return &net.TCPAddr{} }
func (c *byteConn) Writev(bufs [][]byte) (int64, error) { return 0, nil }

// FuzzWebsocketReader feeds arbitrary bytes to the websocket reader: it
// returns messages or an error, never panics, never holds more than the
// message limit, and gives back what it drew from the shared budget.
func FuzzWebsocketReader(f *testing.F) {
	describe := []byte(`{"action":"describe","eventId":1,"data":null}`)
	f.Add(clientFrame(true, 0, opText, describe, -1))
	f.Add(append(clientFrame(false, 0, opText, describe[:5], -1), clientFrame(true, 0, opContinuation, describe[5:], -1)...))
	f.Add(clientFrame(true, 0, opPing, []byte("p"), -1))
	f.Add(clientFrame(true, 0, opClose, []byte{3, 232}, -1))
	f.Add(clientFrame(true, 0, opText, nil, 1<<40))
	f.Add(clientFrame(true, 4, 0xB, nil, 126))
	const maxLength = 64 << 10
	f.Fuzz(func(t *testing.T, input []byte) {
		budget := &byteBudget{limit: 1 << 20}
		c := newWSConn(&byteConn{r: bytes.NewReader(input)}, bufio.NewReader(bytes.NewReader(input)),
			readLimits{maxLength: maxLength, frameTimeout: time.Second, budget: budget}, 1<<20, time.Second)
		var buf []byte
		for range 1000 {
			if err := c.readMessage(&buf); err != nil {
				break
			}
			if len(buf) > maxLength {
				t.Fatalf("a message of %d bytes passed the %d limit", len(buf), maxLength)
			}
		}
		if n := budget.inUse(); n != 0 {
			t.Fatalf("the reader kept %d bytes of the budget", n)
		}
	})
}

// FuzzParseConfig reads arbitrary happn config files: an error or a
// config, never a panic.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(`{"port":55001,"secure":true,"services":{"session":{"config":{"frameTimeout":1000}}}}`), "json")
	f.Add([]byte("port: 1\nservices:\n  data:\n    config:\n      datastores: [{name: a}]\n"), "yaml")
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		_, _ = ParseConfig(data, format)
	})
}
