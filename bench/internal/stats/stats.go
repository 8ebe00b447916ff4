// Package stats records latency samples and summarises them.
package stats

import (
	"slices"
	"time"
)

// Recorder collects latency samples. It is not safe for concurrent use:
// give each goroutine its own Recorder and Merge them at the end.
type Recorder struct {
	samples []time.Duration
}

// Add records one sample.
func (r *Recorder) Add(d time.Duration) { r.samples = append(r.samples, d) }

// Merge appends every sample of other.
func (r *Recorder) Merge(other *Recorder) { r.samples = append(r.samples, other.samples...) }

// Reset drops every sample, keeping the allocated space.
func (r *Recorder) Reset() { r.samples = r.samples[:0] }

// Len is the number of samples.
func (r *Recorder) Len() int { return len(r.samples) }

// Summary holds the percentiles of a Recorder.
type Summary struct {
	Count int
	P50   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// Summarize sorts the samples and returns their percentiles. An empty
// Recorder gives a zero Summary.
func (r *Recorder) Summarize() Summary {
	if len(r.samples) == 0 {
		return Summary{}
	}
	slices.Sort(r.samples)
	return Summary{
		Count: len(r.samples),
		P50:   Percentile(r.samples, 50),
		P99:   Percentile(r.samples, 99),
		Max:   r.samples[len(r.samples)-1],
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted samples by
// the nearest-rank method: the smallest sample with at least p% of samples at
// or below it. It returns 0 for no samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// rank = ceil(p/100 * n), computed in integers to avoid float rounding
	// turning an exact rank like 0.99*100 into 99.00000000000001.
	rank := int((p*float64(n) + 99.999999) / 100)
	if rank < 1 {
		rank = 1
	}
	if rank > n {
		rank = n
	}
	return sorted[rank-1]
}

// Micros converts a duration to fractional microseconds.
func Micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
