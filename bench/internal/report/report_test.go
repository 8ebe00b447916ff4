package report

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner/bench/internal/stats"
)

func TestFormat(t *testing.T) {
	for v, want := range map[float64][2]string{
		1234.56: {"1235", "1235"},
		100:     {"100", "100"},
		45:      {"45.0", "45"},
		12.345:  {"12.3", "12.3"},
		5:       {"5.00", "5"},
		0.001:   {"0.00", "0.00"},
		-250:    {"-250", "-250"},
	} {
		if got := Format(v); got != want[0] {
			t.Errorf("Format(%g) = %q, want %q", v, got, want[0])
		}
		if got := FormatWhole(v); got != want[1] {
			t.Errorf("FormatWhole(%g) = %q, want %q", v, got, want[1])
		}
	}
}

func TestCellAndNumber(t *testing.T) {
	res := map[string]any{"ops_per_s": 5.0, "label": "go"}
	v, ok := Number(res, "ops_per_s")
	if got := Cell(res, v, ok, Format); got != "5.00" {
		t.Errorf("present: %q", got)
	}
	v, ok = Number(res, "p50_us")
	if got := Cell(res, v, ok, Format); got != "–" {
		t.Errorf("missing metric: %q", got)
	}
	if _, ok := Number(res, "label"); ok {
		t.Error("a string field read as a number")
	}
	v, ok = Number(nil, "ops_per_s")
	if got := Cell(nil, v, ok, Format); got != "n/a" {
		t.Errorf("missing result: %q", got)
	}
}

func TestRatio(t *testing.T) {
	thr := Metric{Key: "ops_per_s", Dir: HigherIsBetter, Target: map[string]float64{"pipe": 5}}
	lat := Metric{Key: "p50_us", Dir: LowerIsBetter}
	info := Metric{Key: "conns", Dir: Informational}
	for _, c := range []struct {
		m        Metric
		scenario string
		a, b     float64
		aok, bok bool
		want     string
	}{
		{thr, "seq", 400, 100, true, true, "4.0×"},
		{thr, "pipe", 600, 100, true, true, "6.0× ✓"},
		{thr, "pipe", 400, 100, true, true, "4.0× ✗ (target 5×)"},
		{thr, "seq", 400, 0, true, true, ""},
		{lat, "seq", 10, 50, true, true, "5.0×"},
		{lat, "seq", 0, 50, true, true, ""},
		{lat, "seq", 10, 0, true, false, ""},
		{info, "seq", 10, 50, true, true, ""},
	} {
		if got := c.m.Ratio(c.scenario, c.a, c.aok, c.b, c.bok); got != c.want {
			t.Errorf("%s %s(%g, %g) = %q, want %q", c.m.Key, c.scenario, c.a, c.b, got, c.want)
		}
	}
}

func TestErrorNoteAndRow(t *testing.T) {
	note := ErrorNote([]string{"Go", "happn-3", "none"}, []map[string]any{
		{"errors": 3.0, "first_error": "a|b"},
		{"errors": 1.0},
		nil,
	})
	if note != "Go: 3 (a/b); happn-3: 1" {
		t.Errorf("note %q", note)
	}
	if note := ErrorNote([]string{"Go"}, []map[string]any{{"errors": 0.0}}); note != "" {
		t.Errorf("note without errors %q", note)
	}
	var b strings.Builder
	Row(&b, "set-pipe", "errors", note, "", "")
	if b.String() != "| set-pipe | errors | Go: 3 (a/b); happn-3: 1 |  |  |\n" {
		t.Errorf("row %q", b.String())
	}
}

func TestSetLatency(t *testing.T) {
	var l Latency
	l.SetLatency(stats.Summary{})
	if l.P50Us != nil || l.P99Us != nil || l.MaxUs != nil {
		t.Fatalf("no samples filled %+v", l)
	}
	var rec stats.Recorder
	for _, d := range []time.Duration{10 * time.Microsecond, 20 * time.Microsecond, 30 * time.Microsecond} {
		rec.Add(d)
	}
	l.SetLatency(rec.Summarize())
	if l.P50Us == nil || *l.P50Us != 20 || *l.MaxUs != 30 {
		t.Fatalf("latency %+v", l)
	}
	// Embedded, the fields stand where the Latency does.
	out, err := json.Marshal(struct {
		A int `json:"a"`
		Latency
		B int `json:"b"`
	}{1, l, 2})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), `{"a":1,"p50_us":20,"p99_us":30,"max_us":30,"b":2}`) {
		t.Fatalf("json %s", out)
	}
}

func TestReadJSONLines(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "r.jsonl")
	if err := os.WriteFile(name, []byte("{\"scenario\":\"a\"}\n\n  {\"scenario\":\"b\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	err := ReadJSONLines(name, func(m map[string]any) error {
		got = append(got, m["scenario"].(string))
		return nil
	})
	if err != nil || strings.Join(got, ",") != "a,b" {
		t.Fatalf("read %v %v", got, err)
	}
	err = ReadJSONLines(name, func(m map[string]any) error {
		if m["scenario"] == "b" {
			return errors.New("no b")
		}
		return nil
	})
	if err == nil || err.Error() != name+":3: no b" {
		t.Fatalf("callback error %v", err)
	}
	if err := os.WriteFile(name, []byte("{\"scenario\":\"a\"}\n{not json\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ReadJSONLines(name, func(map[string]any) error { return nil }); err == nil || !strings.HasPrefix(err.Error(), name+":2: ") {
		t.Fatalf("bad JSON: %v", err)
	}
	calls := 0
	for _, missing := range []string{"", filepath.Join(dir, "missing.jsonl")} {
		if err := ReadJSONLines(missing, func(map[string]any) error { calls++; return nil }); err != nil {
			t.Fatalf("%q: %v", missing, err)
		}
	}
	if calls != 0 {
		t.Fatalf("missing files yielded %d lines", calls)
	}
}
