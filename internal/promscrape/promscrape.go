// Package promscrape reads the Prometheus text exposition format, for
// tests that scrape a node's /metrics and assert exact values, and holds
// the log buffer those tests read a node's log from.
package promscrape

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Samples are the samples of one scrape by series: the metric name and
// its labels as exposed, `happner_requests_total{action="set",status="ok"}`
// (labels in name order, as client_golang writes them), or the bare name
// for a series without labels.
type Samples map[string]float64

// Parse reads the text format; comments and blank lines are skipped.
func Parse(r io.Reader) (Samples, error) {
	out := Samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("promscrape: bad sample line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("promscrape: bad value in %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// Get scrapes url (with a bearer token when token is set) and parses the
// answer; any status but 200 is an error.
func Get(ctx context.Context, url, token string) (Samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("promscrape: %s: %s: %s", url, resp.Status, b)
	}
	return Parse(resp.Body)
}

// Families returns the metric names present, a histogram's under its own
// name (without the _bucket, _sum and _count suffixes).
func (s Samples) Families() map[string]bool {
	names := map[string]bool{}
	for k := range s {
		name, _, _ := strings.Cut(k, "{")
		names[name] = true
	}
	out := map[string]bool{}
	for name := range names {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if n, ok := strings.CutSuffix(name, suf); ok && names[n+"_bucket"] {
				name = n
				break
			}
		}
		out[name] = true
	}
	return out
}

// Mismatches lists the series of want whose value in s differs (or that s
// lacks), one line each, for a test to report.
func (s Samples) Mismatches(want map[string]float64) []string {
	var out []string
	for k, v := range want {
		if got, ok := s[k]; !ok {
			out = append(out, fmt.Sprintf("%s is missing, want %v", k, v))
		} else if got != v {
			out = append(out, fmt.Sprintf("%s = %v, want %v", k, got, v))
		}
	}
	return out
}

// SyncBuffer is a bytes.Buffer safe for the concurrent writes of a
// logger shared by a node's goroutines: tests read what a node logged.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
