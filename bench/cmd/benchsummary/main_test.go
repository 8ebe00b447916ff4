package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeLines(t *testing.T, dir, name string, lines ...string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSummarize(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, dir, "happn/go.jsonl",
		`{"scenario":"set-seq","server_cpu_us_per_op":10}`,
		`{"scenario":"set-pipe","server_cpu_us_per_op":4}`)
	writeLines(t, dir, "happn/peer.jsonl",
		`{"scenario":"set-seq","server_cpu_us_per_op":200}`,
		`{"scenario":"set-pipe","server_cpu_us_per_op":40}`)
	writeLines(t, dir, "cluster/go-edge-npm-client.jsonl", `{"scenario":"rpc-pipe","server_cpu_us_per_op":60}`)
	writeLines(t, dir, "cluster/js-edge-npm-client.jsonl", `{"scenario":"rpc-pipe","server_cpu_us_per_op":480}`)
	writeLines(t, dir, "cluster/go-local-npm-client.jsonl", `{"scenario":"rpc-pipe","server_cpu_us_per_op":20}`)

	var b strings.Builder
	if err := summarize(&b, dir); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| happn set, one in flight, server CPU per op | 10.0 µs | 200 µs (happn-3) | 20.0× | ≤ 12 µs | yes |",
		"| happn set, 100 in flight, server CPU per op | 4.00 µs | 40.0 µs (happn-3) | 10.0× | ≤ 3 µs | no |",
		"| happn get, 100 in flight, server CPU per op | n/a | n/a (happn-3) |  | ≤ 3 µs | n/a |",
		"| 60.0 µs | 480 µs (happner-cluster) | 8.00× | ≥ 10×, ≤ 2× the local call | no, no (3.00× of 20.0 µs) |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if got := strings.Count(out, "\n"); got != len(rows)+2 {
		t.Errorf("table has %d lines, want %d:\n%s", got, len(rows)+2, out)
	}
}

func TestSummarizeBadFile(t *testing.T) {
	dir := t.TempDir()
	writeLines(t, dir, "happn/go.jsonl", `{not json`)
	var b strings.Builder
	if err := summarize(&b, dir); err == nil || !strings.Contains(err.Error(), "go.jsonl:1") {
		t.Fatalf("summarize of a broken file: %v, want an error naming go.jsonl:1", err)
	}
}
