package proc

import (
	"os"
	"testing"
	"time"
)

func TestParseStatNameWithSpacesAndParens(t *testing.T) {
	// Fields 14 (utime) = 250 and 15 (stime) = 50 ticks → 3 s.
	line := "1234 (node server) x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 11 0 100 1000 200\n"
	got, err := parseStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if got != 3*time.Second {
		t.Fatalf("cpu = %v, want 3s", got)
	}
	if _, err := parseStat([]byte("1234 no-parens S 1")); err == nil {
		t.Fatal("malformed stat line accepted")
	}
	if _, err := parseStat([]byte("1 (x) S 1 2")); err == nil {
		t.Fatal("short stat line accepted")
	}
	if _, err := parseStat([]byte("1 (x) S 1 1 1 0 -1 0 0 0 0 0 ab 5 0")); err == nil {
		t.Fatal("non-numeric utime accepted")
	}
}

func TestParseRSS(t *testing.T) {
	status := "Name:\tnode\nVmPeak:\t  900 kB\nVmRSS:\t   2048 kB\nThreads:\t11\n"
	got, err := parseRSS([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if got != 2048*1024 {
		t.Fatalf("rss = %d, want %d", got, 2048*1024)
	}
	if _, err := parseRSS([]byte("Name:\tzombie\n")); err == nil {
		t.Fatal("status without VmRSS accepted")
	}
	if _, err := parseRSS([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Fatal("VmRSS in an unknown unit accepted")
	}
}

func TestSelf(t *testing.T) {
	pid := os.Getpid()
	before, err := CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	burnCPU()
	after, err := CPUTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("cpu time did not grow: %v then %v", before, after)
	}
	rss, err := RSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 {
		t.Fatalf("rss of a Go test binary = %d bytes, want ≥ 1 MiB", rss)
	}
	if _, err := CPUTime(-1); err == nil {
		t.Fatal("CPUTime(-1) succeeded")
	}
}

// burnCPU spins for ~60 ms of CPU so that the 10 ms tick counter must move.
func burnCPU() int {
	deadline := time.Now().Add(60 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	return x
}
