package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner/bench/internal/cli"
	"github.com/happner-go/happner/bench/internal/testserver"
	"github.com/happner-go/happner/happn"
)

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--addr", "h:1", "--scenario", "set-seq, event-10", "--ops", "5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Scenarios) != 2 || cfg.Scenarios[0] != "set-seq" || cfg.Scenarios[1] != "event-10" || cfg.ops != 5 || cfg.depth != 100 || cfg.conns != 10000 {
		t.Fatalf("parsed %+v", cfg)
	}
	cfg, err = parseFlags([]string{"--addr", "h:1", "--scenario", "all"}, io.Discard)
	if err != nil || len(cfg.Scenarios) != len(scenarioNames) {
		t.Fatalf("all: %v %v", cfg, err)
	}
	bad := map[string][]string{
		"no addr":          {"--scenario", "set-seq"},
		"no scenario":      {"--addr", "h:1"},
		"unknown scenario": {"--addr", "h:1", "--scenario", "set-fast"},
		"zero depth":       {"--addr", "h:1", "--scenario", "set-pipe", "--depth", "0"},
		"user w/o pass":    {"--addr", "h:1", "--scenario", "set-seq", "--username", "_ADMIN"},
		"negative ops":     {"--addr", "h:1", "--scenario", "set-seq", "--ops", "-1"},
		"stray argument":   {"--addr", "h:1", "--scenario", "set-seq", "extra"},
	}
	for name, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%s: accepted %q", name, args)
		}
	}
}

func TestTable(t *testing.T) {
	dir := t.TempDir()
	goFile := filepath.Join(dir, "go.jsonl")
	peerFile := filepath.Join(dir, "peer.jsonl")
	write := func(name, body string) {
		if err := os.WriteFile(name, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(goFile, `{"scenario":"set-pipe","ops_per_s":50000,"p50_us":10,"p99_us":40,"server_cpu_us_per_op":2,"errors":0}
{"scenario":"idle-10k","conns":10000,"rss_mb":100,"errors":3,"first_error":"boom|x"}
`)
	write(peerFile, `{"scenario":"set-pipe","ops_per_s":10000,"p50_us":50,"p99_us":80,"server_cpu_us_per_op":20,"errors":0}
`)
	var out bytes.Buffer
	if err := tableCmd([]string{"--go", goFile, "--peer", peerFile}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"| scenario | metric | Go | happn-3 | ratio |",
		"| set-pipe | throughput (ops/s) | 50000 | 10000 | 5.0× |",
		"| set-pipe | latency p50 (µs) | 10 | 50 | 5.0× |",
		"| set-pipe | latency p99 (µs) | 40 | 80 | 2.0× |",
		"| set-pipe | server CPU (µs/op) | 2 | 20 | 10.0× |",
		"| idle-10k | connections held | 10000 | n/a |  |",
		"| idle-10k | server RSS (MB) | 100 | n/a |  |",
		"| idle-10k | errors | Go: 3 (boom/x) |  |  |",
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "get-pipe") {
		t.Errorf("table shows a scenario neither side ran:\n%s", got)
	}
	write(peerFile, "{not json\n")
	if err := tableCmd([]string{"--go", goFile, "--peer", peerFile}, io.Discard, io.Discard); err == nil {
		t.Error("malformed results accepted")
	}
	if err := tableCmd(nil, io.Discard, io.Discard); err == nil {
		t.Error("table without inputs accepted")
	}
}

// testConfig benchmarks an in-process server; its CPU and RSS are this test
// process's.
func testConfig(t *testing.T, scenario string) *config {
	t.Helper()
	addr := testserver.Start(t, happn.Config{})
	return &config{
		Target: cli.Target{Addr: addr, Scenarios: []string{scenario}},
		ops:    300, depth: 20,
		serverPID: os.Getpid(), conns: 50, dialWorkers: 5, payload: 16, keys: 10,
		label: "test", settle: 10 * time.Millisecond,
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSetAndGetScenarios(t *testing.T) {
	for _, name := range []string{"set-seq", "set-pipe", "get-pipe"} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, name)
			res, err := runScenario(testContext(t), cfg, name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops != 300 || res.Errors != 0 {
				t.Fatalf("ops %d errors %d (%s), want 300 and 0", res.Ops, res.Errors, res.FirstError)
			}
			if res.OpsPerS == nil || *res.OpsPerS <= 0 || res.P50Us == nil || *res.P99Us < *res.P50Us {
				t.Fatalf("missing throughput or latency: %+v", res)
			}
			if res.ServerCPUUsPerOp == nil || res.ClientCPUS == nil {
				t.Fatalf("missing CPU metrics: %+v", res)
			}
			wantDepth := 20
			if name == "set-seq" {
				wantDepth = 1
			}
			if res.Depth != wantDepth || res.Label != "test" || res.Addr != cfg.Addr {
				t.Fatalf("depth %d label %q addr %q", res.Depth, res.Label, res.Addr)
			}
		})
	}
}

func TestEventScenarios(t *testing.T) {
	for name, subs := range map[string]int{"event-1": 1, "event-10": 10} {
		t.Run(name, func(t *testing.T) {
			cfg := testConfig(t, name)
			res, err := runScenario(testContext(t), cfg, name)
			if err != nil {
				t.Fatal(err)
			}
			if res.Subscribers != subs || res.Ops != 300 || res.Errors != 0 {
				t.Fatalf("subscribers %d sets %d errors %d (%s)", res.Subscribers, res.Ops, res.Errors, res.FirstError)
			}
			// Every set reaches every subscriber exactly once.
			if res.Events != int64(300*subs) || res.EventsLost != 0 {
				t.Fatalf("events %d lost %d, want %d and 0", res.Events, res.EventsLost, 300*subs)
			}
			if res.EventsPerS == nil || res.P50Us == nil || res.ServerCPUUsPerEvent == nil {
				t.Fatalf("missing metrics: %+v", res)
			}
		})
	}
}

func TestIdleScenario(t *testing.T) {
	cfg := testConfig(t, "idle-10k")
	res, err := runScenario(testContext(t), cfg, "idle-10k")
	if err != nil {
		t.Fatal(err)
	}
	if res.Conns != 50 || res.ConnsFailed != 0 {
		t.Fatalf("conns %d failed %d (%s), want 50 and 0", res.Conns, res.ConnsFailed, res.FirstError)
	}
	if res.RSSMB == nil || *res.RSSMB <= 0 || res.RSSBeforeMB == nil {
		t.Fatalf("missing RSS: %+v", res)
	}
	cfg.serverPID = 0
	if _, err := runScenario(testContext(t), cfg, "idle-10k"); err == nil {
		t.Fatal("idle-10k without --server-pid succeeded")
	}
}

func TestRunPrintsJSONLines(t *testing.T) {
	addr := testserver.Start(t, happn.Config{})
	var stdout, stderr bytes.Buffer
	code := run([]string{"--addr", addr, "--scenario", "set-seq,get-pipe", "--ops", "50", "--warmup", "0", "--keys", "5"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	for _, want := range []string{"set-seq", "get-pipe"} {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("decode %s result: %v", want, err)
		}
		if m["scenario"] != want || m["ops"] != float64(50) {
			t.Fatalf("result %v, want scenario %s with 50 ops", m, want)
		}
		if _, ok := m["server_cpu_us_per_op"]; ok {
			t.Fatalf("server CPU reported without --server-pid: %v", m)
		}
	}
	if !strings.Contains(stderr.String(), "set-seq") || !strings.Contains(stderr.String(), "ops/s") {
		t.Fatalf("no human line on stderr: %q", stderr.String())
	}
	if code := run([]string{"--addr", "127.0.0.1:1", "--scenario", "set-seq", "--ops", "1"}, io.Discard, io.Discard); code == 0 {
		t.Fatal("run against a closed port exited 0")
	}
}
