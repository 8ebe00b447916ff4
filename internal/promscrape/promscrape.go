// Package promscrape reads the Prometheus text exposition format, for
// tests that scrape a node's /metrics and assert exact values.
package promscrape

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
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
