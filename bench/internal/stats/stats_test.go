package stats

import (
	"testing"
	"time"
)

func TestPercentileNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Microsecond)
	}
	cases := []struct {
		p    float64
		want time.Duration
	}{
		{50, 50 * time.Microsecond},
		{99, 99 * time.Microsecond},
		{100, 100 * time.Microsecond},
		{1, 1 * time.Microsecond},
		{0, 1 * time.Microsecond},
		{99.5, 100 * time.Microsecond},
	}
	for _, c := range cases {
		if got := Percentile(s, c.p); got != c.want {
			t.Errorf("Percentile(1..100µs, %v) = %v, want %v", c.p, got, c.want)
		}
	}
	three := []time.Duration{10, 20, 30}
	if got := Percentile(three, 50); got != 20 {
		t.Errorf("p50 of 3 samples = %v, want 20", got)
	}
	if got := Percentile(three, 99); got != 30 {
		t.Errorf("p99 of 3 samples = %v, want 30", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v, want 0", got)
	}
}

func TestRecorderSummarizeAndMerge(t *testing.T) {
	var a, b Recorder
	for i := 10; i >= 1; i-- { // unsorted on purpose
		a.Add(time.Duration(i) * time.Millisecond)
	}
	b.Add(11 * time.Millisecond)
	a.Merge(&b)
	s := a.Summarize()
	if s.Count != 11 || s.P50 != 6*time.Millisecond || s.P99 != 11*time.Millisecond || s.Max != 11*time.Millisecond {
		t.Fatalf("summary %+v, want count 11 p50 6ms p99 11ms max 11ms", s)
	}
	a.Reset()
	if a.Len() != 0 || a.Summarize() != (Summary{}) {
		t.Fatalf("after Reset: len %d summary %+v", a.Len(), a.Summarize())
	}
	if got := Micros(1500 * time.Nanosecond); got != 1.5 {
		t.Fatalf("Micros(1.5µs) = %v", got)
	}
}
