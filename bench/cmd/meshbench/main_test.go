package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner/bench/internal/benchmesh"
	"github.com/happner-go/happner/bench/internal/testserver"
	"github.com/happner-go/happner/bench/internal/wire"
	"github.com/happner-go/happner/happn"
)

func startGoMesh(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := benchmesh.Start(ctx, benchmesh.Options{Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Stop(ctx); err != nil {
			t.Errorf("stop mesh: %v", err)
		}
	})
	return m.Addr()
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--addr", "h:1", "--scenario", "rpc-seq, rpc-pipe", "--depth", "10"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Scenarios) != 2 || cfg.Scenarios[1] != "rpc-pipe" || cfg.depth != 10 || cfg.component != "calc" || cfg.method != "add" || !cfg.Coalesce {
		t.Fatalf("parsed %+v", cfg)
	}
	bad := map[string][]string{
		"no addr":          {"--scenario", "rpc-seq"},
		"no scenario":      {"--addr", "h:1"},
		"unknown scenario": {"--addr", "h:1", "--scenario", "set-seq"},
		"zero depth":       {"--addr", "h:1", "--scenario", "rpc-pipe", "--depth", "0"},
		"user w/o pass":    {"--addr", "h:1", "--scenario", "rpc-seq", "--username", "_ADMIN"},
		"zero duration":    {"--addr", "h:1", "--scenario", "rpc-seq", "--duration", "0s"},
		"empty method":     {"--addr", "h:1", "--scenario", "rpc-seq", "--method", ""},
		"stray argument":   {"--addr", "h:1", "--scenario", "rpc-seq", "extra"},
	}
	for name, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%s: accepted %q", name, args)
		}
	}
}

func TestParseSchema(t *testing.T) {
	cfg := json.RawMessage(`{"name":"m","version":"13.1.1","happn":{"secure":true},"_meta":{"path":"/mesh/schema/config"}}`)
	desc := json.RawMessage(`{"name":"dom","initializing":false,"setOptions":{"timeout":10000,"noStore":true},
		"components":{"calc":{"methods":{"add":{"parameters":[{"name":"a"},{"name":"b"},{"name":"callback"}]}}}},
		"_meta":{"path":"/mesh/schema/description"}}`)
	info, err := parseSchema([]json.RawMessage{desc, cfg})
	if err != nil {
		t.Fatal(err)
	}
	if info.Domain != "dom" || !info.Secure || info.SetOptions["timeout"] != 10000.0 || !info.hasMethod("calc", "add") || info.hasMethod("calc", "mul") {
		t.Fatalf("info %+v", info)
	}
	noOpts := json.RawMessage(`{"name":"dom","components":{},"_meta":{"path":"/mesh/schema/description"}}`)
	if info, err = parseSchema([]json.RawMessage{cfg, noOpts}); err != nil || info.SetOptions["noStore"] != true {
		t.Fatalf("default setOptions: %+v %v", info, err)
	}
	initializing := json.RawMessage(`{"name":"dom","initializing":true,"_meta":{"path":"/mesh/schema/description"}}`)
	for name, items := range map[string][]json.RawMessage{
		"one item":     {cfg},
		"initializing": {cfg, initializing},
		"not json":     {json.RawMessage(`{`), cfg},
		"no name":      {json.RawMessage(`{"_meta":{"path":"/mesh/schema/config"}}`), desc},
	} {
		if _, err := parseSchema(items); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDecodeResponse(t *testing.T) {
	r := decodeResponse([]byte(`{"status":"ok","args":[null,3]}`))
	if r.Err != nil || len(r.Args) != 2 || string(r.Args[1]) != "3" {
		t.Fatalf("ok: %+v", r)
	}
	r = decodeResponse([]byte(`{"status":"error","args":[{"message":"deliberate failure","name":"Error"}]}`))
	var re *RemoteError
	if !errors.As(r.Err, &re) || re.Status != "error" || re.Name != "Error" || re.Message != "deliberate failure" {
		t.Fatalf("error: %+v", r)
	}
	// The api module's answer for unknown components has no status.
	r = decodeResponse([]byte(`{"args":[{"name":"bad endpoint","message":"Call to unconfigured component: [x.y]"}]}`))
	if !errors.As(r.Err, &re) || re.Name != "bad endpoint" || !strings.Contains(re.Message, "unconfigured component") {
		t.Fatalf("no status: %+v", r)
	}
	if r = decodeResponse([]byte(`[1`)); r.Err == nil {
		t.Fatal("bad JSON accepted")
	}
}

// TestCallGoMesh calls calc.add on the real Go mesh over the insecure
// exchange paths.
func TestCallGoMesh(t *testing.T) {
	addr := startGoMesh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mc, err := dialMesh(ctx, addr, wire.Options{}, "calc", "add")
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	if mc.info.Secure || !strings.HasPrefix(mc.respPrefix, "/_exchange/responses/"+mc.c.SessionID+"/benchMesh/calc/add/") {
		t.Fatalf("insecure callback prefix %q", mc.respPrefix)
	}
	got := make(chan rpcResult, 1)
	if _, err := mc.call([]float64{2, 3.5}, nil, func(r rpcResult) { got <- r }); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.Err != nil || len(r.Args) != 2 || string(r.Args[0]) != "null" || string(r.Args[1]) != "5.5" {
			t.Fatalf("add(2, 3.5): %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("no response")
	}
	if _, err := dialMesh(ctx, addr, wire.Options{}, "calc", "mul"); err == nil || !strings.Contains(err.Error(), "no method calc.mul") {
		t.Fatalf("missing method: %v", err)
	}
}

// TestRunGoMesh runs both scenarios end to end against the Go mesh.
func TestRunGoMesh(t *testing.T) {
	addr := startGoMesh(t)
	var out, errOut bytes.Buffer
	code := run([]string{"--addr", addr, "--scenario", "all", "--duration", "300ms", "--warmup", "50ms",
		"--depth", "20", "--server-pid", strconv.Itoa(os.Getpid()), "--label", "go-mesh"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 results, got %q", out.String())
	}
	for i, want := range []struct {
		name  string
		depth int
	}{{"rpc-seq", 1}, {"rpc-pipe", 20}} {
		var r result
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		if r.Scenario != want.name || r.Depth != want.depth || r.Client != "go" || r.Label != "go-mesh" || r.Secure {
			t.Fatalf("result %d: %+v", i, r)
		}
		if r.Ops == 0 || r.Errors != 0 || r.OpsPerS == nil || r.P50Us == nil || *r.P99Us < *r.P50Us || r.ServerCPUUsPerOp == nil {
			t.Fatalf("result %d metrics: %s", i, lines[i])
		}
	}
	if !strings.Contains(errOut.String(), "rpc-pipe [go → go-mesh]") {
		t.Fatalf("human lines: %q", errOut.String())
	}
}

// TestRunSecurePaths checks the secure exchange form against a real secure
// happn server on which a responder client plays the component: the
// callback address is /_exchange/responses/<domain>/<comp>/<method>/<SID>/<n>
// and the origin carries the username.
func TestRunSecurePaths(t *testing.T) {
	addr := testserver.Start(t, happn.Config{Secure: true, AdminPassword: "pw"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	requests := make(chan wire.Event, 1000)
	resp, err := wire.Dial(ctx, addr, wire.Options{Username: "_ADMIN", Password: "pw", OnEvent: func(ev wire.Event) {
		requests <- wire.Event{Path: ev.Path, Data: append(json.RawMessage(nil), ev.Data...)}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	for path, body := range map[string]string{
		"/mesh/schema/config":      `{"name":"secMesh","version":"13.1.1","happn":{"secure":true}}`,
		"/mesh/schema/description": `{"name":"secMesh","initializing":false,"setOptions":{"timeout":10000,"noStore":true},"components":{"calc":{"methods":{"add":{"parameters":[{"name":"a"},{"name":"b"}]}}}}}`,
	} {
		if _, err := resp.Call(ctx, "set", path, []byte(body), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := resp.Call(ctx, "on", "/SET@/_exchange/requests/secMesh/calc/*", nil, []byte(`{"event_type":"set","count":0}`)); err != nil {
		t.Fatal(err)
	}
	badOrigin := make(chan string, 1)
	go func() {
		for ev := range requests {
			var req struct {
				CallbackAddress string    `json:"callbackAddress"`
				Args            []float64 `json:"args"`
				Origin          struct {
					ID       string `json:"id"`
					Username string `json:"username"`
				} `json:"origin"`
			}
			if err := json.Unmarshal(ev.Data, &req); err != nil || len(req.Args) != 2 {
				continue
			}
			if req.Origin.Username != "_ADMIN" || !strings.HasPrefix(req.CallbackAddress, "/_exchange/responses/secMesh/calc/add/"+req.Origin.ID+"/") {
				select {
				case badOrigin <- string(ev.Data):
				default:
				}
			}
			body := `{"status":"ok","args":[null,` + strconv.FormatFloat(req.Args[0]+req.Args[1], 'g', -1, 64) + `]}`
			if _, err := resp.Send("set", req.CallbackAddress, []byte(body), []byte(`{"noStore":true}`), func(wire.Reply) {}); err != nil {
				return
			}
		}
	}()
	var out, errOut bytes.Buffer
	code := run([]string{"--addr", addr, "--scenario", "rpc-pipe", "--duration", "200ms", "--warmup", "0s",
		"--depth", "5", "--username", "_ADMIN", "--password", "pw"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Secure || r.Ops == 0 || r.Errors != 0 || r.ServerCPUUsPerOp != nil {
		t.Fatalf("secure result: %s", out.String())
	}
	select {
	case body := <-badOrigin:
		t.Fatalf("secure request with the wrong origin or address: %s", body)
	default:
	}
	// A wrong password fails the login, not the benchmark silently.
	if code := run([]string{"--addr", addr, "--scenario", "rpc-seq", "--duration", "100ms",
		"--username", "_ADMIN", "--password", "nope"}, io.Discard, io.Discard); code != 1 {
		t.Fatalf("bad password: exit %d", code)
	}
}

func TestTable(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	gg := write("gg.jsonl", `{"scenario":"rpc-seq","secure":false,"ops_per_s":20000,"p50_us":20,"p99_us":90,"server_cpu_us_per_op":5,"errors":0}
{"scenario":"rpc-pipe","secure":false,"ops_per_s":100000,"p50_us":900,"p99_us":2000,"server_cpu_us_per_op":4,"errors":0}
`)
	ng := write("ng.jsonl", `{"scenario":"rpc-seq","secure":false,"ops_per_s":5000,"p50_us":200,"p99_us":900,"server_cpu_us_per_op":120,"errors":0}
{"scenario":"rpc-pipe","secure":false,"ops_per_s":10000,"p50_us":9000,"p99_us":20000,"server_cpu_us_per_op":60,"errors":2,"first_error":"a|b"}
{"scenario":"rpc-seq","secure":true,"ops_per_s":3000,"p50_us":300,"p99_us":900,"server_cpu_us_per_op":200,"errors":0}
`)
	var out bytes.Buffer
	err := tableCmd([]string{"--go-mesh-go-client", gg, "--npm-mesh-go-client", ng,
		"--go-mesh-npm-client", filepath.Join(dir, "missing.jsonl")}, &out, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{
		"| rpc-seq | calls/s | 20000 | 5000 | 4.0× | n/a | n/a |  |",
		"| rpc-seq | latency p50 (µs) | 20.0 | 200 | 10.0× ✓ |",
		"| rpc-seq | server CPU (µs/call) | 5.00 | 120 | 24.0× ✓ |",
		"| rpc-pipe | calls/s | 100000 | 10000 | 10.0× ✓ |",
		"| rpc-pipe | server CPU (µs/call) | 4.00 | 60.0 | 15.0× ✗ (target 20×) |",
		"| rpc-pipe | errors | happner-2 ← Go client: 2 (a/b) |",
		"| rpc-seq (secure) | calls/s | n/a | 3000 |  |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Index(table, "rpc-pipe |") > strings.Index(table, "rpc-seq (secure)") {
		t.Errorf("insecure rows must come before secure rows:\n%s", table)
	}
	if err := tableCmd(nil, io.Discard, io.Discard); err == nil {
		t.Error("no files accepted")
	}
	bad := write("bad.jsonl", `{"scenario":"set-seq"}`)
	if err := tableCmd([]string{"--go-mesh-go-client", bad}, io.Discard, io.Discard); err == nil {
		t.Error("unknown scenario accepted")
	}
}
