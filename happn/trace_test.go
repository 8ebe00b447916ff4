package happn

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The spec's traces are frames captured between the npm happn-3 client and
// the npm happn-3 server. Replaying the client's frames against this server
// must produce the server's frames, field by field, once the values that
// differ by nature (ids, timestamps) are masked.

// traceDir is where the shared spec lives beside the repository.
func traceDir(t *testing.T) string {
	for _, dir := range []string{"../../shared/spec/traces", "../shared/spec/traces"} {
		if _, err := os.Stat(dir); err == nil {
			return dir
		}
	}
	if d := os.Getenv("HAPPNER_SPEC_TRACES"); d != "" {
		return d
	}
	t.Fatal("spec traces not found: set HAPPNER_SPEC_TRACES")
	return ""
}

type traceStep struct {
	send   string   // a client frame
	expect []string // server frames that follow it
}

// readTrace parses a trace into steps, leaving out heartbeats.
func readTrace(t *testing.T, name string) (steps []traceStep, serverName, sessionID string) {
	f, err := os.Open(filepath.Join(traceDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "C->S "):
			frame := line[5:]
			if strings.HasPrefix(frame, `"primus::`) {
				continue
			}
			steps = append(steps, traceStep{send: frame})
		case strings.HasPrefix(line, "S->C "):
			frame := line[5:]
			if strings.HasPrefix(frame, `"primus::`) {
				continue
			}
			if len(steps) == 0 {
				t.Fatalf("%s: server frame before any client frame", name)
			}
			steps[len(steps)-1].expect = append(steps[len(steps)-1].expect, frame)
			var m map[string]any
			if json.Unmarshal([]byte(frame), &m) == nil {
				switch meta(m)["action"] {
				case "describe":
					serverName, _ = m["data"].(map[string]any)["name"].(string)
				case "login":
					sessionID, _ = m["data"].(map[string]any)["id"].(string)
				}
			}
		}
	}
	return steps, serverName, sessionID
}

var (
	uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	refRe  = regexp.MustCompile(`^[A-Za-z0-9_-]{22}-\d+$`)
)

// normalize masks what legitimately differs between two servers.
func normalize(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, val := range x {
			switch k {
			case "headers", "address", "url", "msgCount", "removed", "encrypted", "initialValues":
				continue // connection facts and redundant records clients ignore
			}
			out[k] = normalize(val, k)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, val := range x {
			out[i] = normalize(val, key)
		}
		return out
	case float64:
		switch key {
		case "created", "modified", "timestamp":
			return "<time>"
		}
		return x
	case string:
		if refRe.MatchString(x) {
			return "<ref>"
		}
		return uuidRe.ReplaceAllString(x, "<uuid>")
	}
	return v
}

func replayTrace(t *testing.T, name string) {
	steps, serverName, traceSession := readTrace(t, name)
	if len(steps) == 0 || traceSession == "" {
		t.Fatalf("%s: no frames or no login", name)
	}
	// a clock that moves 1 ms per reading, so that records written one
	// after another have distinct times, as they had in the capture
	var clock atomic.Int64
	clock.Store(time.Now().UnixMilli())
	srv := startServer(t, Config{Name: serverName, Clock: func() time.Time { return time.UnixMilli(clock.Add(1)) }})
	c := dialRaw(t, srv)
	session := traceSession
	refs := map[string]string{} // subscription refs of the trace → ours
	for i, step := range steps {
		send := strings.ReplaceAll(step.send, traceSession, session)
		for theirs, ours := range refs {
			send = strings.ReplaceAll(send, theirs, ours)
		}
		c.send(send)
		for j, want := range step.expect {
			got := c.recv()
			learnRef(refs, got, want)
			if session == traceSession && strings.Contains(got, `"action":"login"`) {
				var m map[string]any
				_ = json.Unmarshal([]byte(got), &m)
				session = m["data"].(map[string]any)["id"].(string)
			}
			var gv, wv any
			if err := json.Unmarshal([]byte(got), &gv); err != nil {
				t.Fatalf("step %d: bad frame %s", i, got)
			}
			if err := json.Unmarshal([]byte(want), &wv); err != nil {
				t.Fatalf("step %d: bad trace frame %s", i, want)
			}
			gn, wn := normalize(gv, ""), normalize(wv, "")
			if !reflect.DeepEqual(gn, wn) {
				gj, _ := json.Marshal(gn)
				wj, _ := json.Marshal(wn)
				t.Errorf("%s step %d frame %d\nsent: %s\n got: %s\nwant: %s\n%s", name, i, j, step.send, gj, wj, diffKeys(gn, wn))
			}
		}
	}
}

// learnRef records the subscription reference of an on reply.
func learnRef(refs map[string]string, got, want string) {
	var g, w map[string]any
	if json.Unmarshal([]byte(got), &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return
	}
	if meta(w)["action"] != "on" {
		return
	}
	if r, ok := meta(w)["referenceId"].(string); ok {
		refs[r], _ = meta(g)["referenceId"].(string)
		return
	}
	wd, _ := w["data"].(map[string]any)
	gd, _ := g["data"].(map[string]any)
	if r, ok := wd["id"].(string); ok && gd != nil {
		refs[r], _ = gd["id"].(string)
	}
}

// diffKeys names the top-level _meta keys that differ, to make failures
// readable.
func diffKeys(a, b any) string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		return ""
	}
	var diffs []string
	for _, part := range []string{"data", "_meta"} {
		x, _ := am[part].(map[string]any)
		y, _ := bm[part].(map[string]any)
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		for k := range keys {
			if !reflect.DeepEqual(x[k], y[k]) {
				diffs = append(diffs, part+"."+k)
			}
		}
	}
	sort.Strings(diffs)
	return "differs in: " + strings.Join(diffs, ", ")
}

func TestTraceUnsecure(t *testing.T) { replayTrace(t, "trace_unsecure.log") }

func TestTraceExtra(t *testing.T) { replayTrace(t, "trace_extra.log") }
