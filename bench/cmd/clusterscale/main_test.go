package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--members", "5, 10", "--store", "postgres", "--mode", "processes", "--member-bin", "x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.members) != 2 || cfg.members[1] != 10 || cfg.pulse != time.Second || cfg.scan != 3*time.Second || cfg.secEvery != 3*time.Second {
		t.Fatalf("parsed %+v", cfg)
	}
	bad := map[string][]string{
		"one member":           {"--members", "1"},
		"not a count":          {"--members", "5,x"},
		"unknown mode":         {"--mode", "threads"},
		"unknown store":        {"--store", "redis"},
		"processes on memory":  {"--mode", "processes", "--member-bin", "x"},
		"processes w/o binary": {"--mode", "processes", "--store", "postgres"},
		"zero pulse":           {"--pulse", "0s"},
		"zero idle":            {"--idle", "0s"},
		"negative events":      {"--events", "-1"},
		"zero depth":           {"--depth", "0"},
		"stray argument":       {"extra"},
	}
	for name, args := range bad {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%s: accepted %q", name, args)
		}
	}
}

// quick is a config that measures a small cluster in a few seconds.
func quick(mode, st string, secure bool) *config {
	return &config{
		mode: mode, store: st, secure: secure,
		pulse: 100 * time.Millisecond, scan: 200 * time.Millisecond, secEvery: 50 * time.Millisecond,
		idle: 300 * time.Millisecond, events: 50, depth: 5, changes: 3,
	}
}

// checkResult fails unless r has every figure a run of cfg measures.
func checkResult(t *testing.T, r *result, pg, perProcess bool) {
	t.Helper()
	if r.Error != "" {
		t.Fatalf("error: %s", r.Error)
	}
	must := map[string]*float64{
		"stable_s": r.StableS, "idle_cpu_pct_per_member": r.IdleCPUPct, "rss_mb_per_member": r.RSSMB,
		"event_cpu_us_per_member": r.EventCPUUs, "change_cpu_us_per_member": r.ChangeCPUUs,
	}
	if pg {
		must["pg_statements_per_s_per_member"] = r.PGStatementsPerS
		must["pg_rows_read_per_s_per_member"] = r.PGRowsPerS
	}
	if perProcess {
		must["event_cpu_us_origin"] = r.EventOriginCPUUs
		must["change_cpu_us_other"] = r.ChangeOtherCPUUs
	}
	for k, v := range must {
		if v == nil {
			t.Errorf("%s missing", k)
		}
	}
	if r.EventsLost != 0 || r.Events != 50 || r.Changes != 3 {
		t.Errorf("events %d (lost %d), changes %d", r.Events, r.EventsLost, r.Changes)
	}
	if r.PGStatementsPerS != nil && *r.PGStatementsPerS <= 0 {
		t.Errorf("no statements counted while members pulse: %v", *r.PGStatementsPerS)
	}
}

func TestMeasureInProcess(t *testing.T) {
	r := measure(context.Background(), quick(modeInProcess, storeMemory, true), nil, 3, io.Discard)
	checkResult(t, r, false, false)
}

func TestMeasureProcessesOnPostgres(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "clustermember")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/happner-go/happner/internal/cmd/clustermember").CombinedOutput(); err != nil {
		t.Fatalf("building clustermember: %v\n%s", err, out)
	}
	pg, err := startPostgres(pgtest.Start(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := quick(modeProcesses, storePostgres, true)
	cfg.memberBin = bin
	// PostgreSQL counts a backend's statements at most once a second
	cfg.idle = 2 * time.Second
	r := measure(context.Background(), cfg, pg, 2, &testLog{t})
	checkResult(t, r, true, true)
}

func TestTable(t *testing.T) {
	dir := t.TempDir()
	lines := []result{
		{Mode: modeInProcess, Store: storeMemory, Members: 10, PulseMs: 1000, ScanMs: 3000, StableS: ptr(1.5), IdleCPUPct: ptr(0.02)},
		{Mode: modeInProcess, Store: storeMemory, Members: 5, PulseMs: 1000, ScanMs: 3000, StableS: ptr(1.25), IdleCPUPct: ptr(0.03)},
		{Mode: modeProcesses, Store: storePostgres, Secure: true, Members: 5, PulseMs: 1000, ScanMs: 3000,
			PGStatementsPerS: ptr(1.67), EventsLost: 3, Error: "security changes: a|b"},
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
	}
	name := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(name, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run([]string{"table", name}, &out, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	got := out.String()
	for _, want := range []string{
		"**members in one process, memory shared store, insecure** (pulse 1000 ms, scan 3000 ms)",
		"| members | 5 | 10 |",
		"| start → every member stable (s) | 1.25 | 1.50 |",
		"| idle CPU per member (% of a core) | 0.03 | 0.02 |",
		"**one process per member, PostgreSQL shared store, secure (members log in as _ADMIN)**",
		"| PostgreSQL statements/s per member (idle) | 1.67 |",
		"5 members: 3 events never arrived.",
		"5 members: error: security changes: a/b",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(strings.Split(got, "**one process")[0], "PostgreSQL") {
		t.Errorf("a row no result of the table has is shown:\n%s", got)
	}
	if code := run([]string{"table"}, io.Discard, io.Discard); code != 2 {
		t.Errorf("table without files: exit %d, want 2", code)
	}
}

func ptr(v float64) *float64 { return &v }

// testLog writes to the test's log.
type testLog struct{ t *testing.T }

func (l *testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
