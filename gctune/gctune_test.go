package gctune

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true},
		{"512MiB", 512 << 20, true},
		{"1.5GiB", 3 << 29, true},
		{"2 GB", 2e9, true},
		{"64KiB", 64 << 10, true},
		{"off", math.MaxInt64, true},
		{"", 0, false},
		{"lots", 0, false},
		{"-1MiB", 0, false},
		{"12XB", 0, false},
	} {
		got, err := ParseBytes(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestPrecedence(t *testing.T) {
	noEnv := func(string) (string, bool) { return "", false }
	s, err := Resolve(Options{}, noEnv, 10<<30)
	if err != nil || s.Percent != DefaultPercent || s.PercentSource != "default" ||
		s.Limit != 7<<30 || s.LimitSource != "default" {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	if s, _ := Resolve(Options{}, noEnv, 0); s.Limit != math.MaxInt64 {
		t.Fatalf("no known memory: limit %d, want none", s.Limit)
	}
	pct := 400
	s, err = Resolve(Options{Percent: &pct, MemoryLimit: "1GiB"}, noEnv, 10<<30)
	if err != nil || s.Percent != 400 || s.PercentSource != "config" || s.Limit != 1<<30 || s.LimitSource != "config" {
		t.Fatalf("config: %+v %v", s, err)
	}
	if _, err := Resolve(Options{MemoryLimit: "much"}, noEnv, 0); err == nil {
		t.Fatal("a bad memoryLimit was accepted")
	}
	// the environment wins: its values are what the runtime already has
	env := func(name string) (string, bool) { return "set", name == "GOGC" || name == "GOMEMLIMIT" }
	runtimePct := debug.SetGCPercent(-1)
	debug.SetGCPercent(runtimePct)
	s, err = Resolve(Options{Percent: &pct, MemoryLimit: "1GiB"}, env, 10<<30)
	if err != nil || s.PercentSource != "environment" || s.LimitSource != "environment" || s.Percent != runtimePct {
		t.Fatalf("environment: %+v %v", s, err)
	}
	if got := debug.SetGCPercent(-1); got != runtimePct {
		t.Fatalf("Resolve changed GOGC to %d", got)
	} else {
		debug.SetGCPercent(got)
	}
}

func TestApplySetsTheCollector(t *testing.T) {
	oldPct := debug.SetGCPercent(-1)
	oldLimit := debug.SetMemoryLimit(-1)
	defer func() { debug.SetGCPercent(oldPct); debug.SetMemoryLimit(oldLimit) }()
	pct := 300
	s, err := Apply(Options{Percent: &pct, MemoryLimit: "3GiB"}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(-1); got != 300 {
		t.Fatalf("GOGC %d, want 300 (%v)", got, s)
	}
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Fatalf("GOMEMLIMIT %d, want 3GiB", got)
	}
	if s.String() != "GOGC=300 (config), GOMEMLIMIT=3072MiB (config)" {
		t.Fatalf("String: %s", s)
	}
}

func TestAvailableMemory(t *testing.T) {
	if AvailableMemory() <= 0 {
		t.Fatal("no memory found on this machine")
	}
}
