package happn

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
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
			err = nil // valid JSON with a member of the wrong type
		}
		if (err == nil) != (stdErr == nil) {
			if err == nil && m == nil {
				return
			}
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
