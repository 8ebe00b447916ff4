package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
)

// direction says which way a metric improves.
type direction int

const (
	lowerIsBetter direction = iota
	higherIsBetter
	informational // no ratio
)

// metricDef is one row of the comparison table.
type metricDef struct {
	key   string // JSON field of result
	label string
	dir   direction
}

var (
	opMetrics = []metricDef{
		{"ops_per_s", "throughput (ops/s)", higherIsBetter},
		{"p50_us", "latency p50 (µs)", lowerIsBetter},
		{"p99_us", "latency p99 (µs)", lowerIsBetter},
		{"server_cpu_us_per_op", "server CPU (µs/op)", lowerIsBetter},
	}
	eventMetrics = []metricDef{
		{"events_per_s", "delivered events/s", higherIsBetter},
		{"p50_us", "set→event p50 (µs)", lowerIsBetter},
		{"p99_us", "set→event p99 (µs)", lowerIsBetter},
		{"server_cpu_us_per_event", "server CPU (µs/event)", lowerIsBetter},
		{"events_lost", "events lost", informational},
	}
	// tableRows maps each scenario to the metrics shown for it.
	tableRows = map[string][]metricDef{
		"set-seq":  opMetrics,
		"set-pipe": opMetrics,
		"get-pipe": opMetrics,
		"event-1":  eventMetrics,
		"event-10": eventMetrics,
		"idle-10k": {
			{"conns", "connections held", informational},
			{"rss_mb", "server RSS (MB)", lowerIsBetter},
			{"rss_per_conn_kb", "RSS per connection (KB)", lowerIsBetter},
			{"server_cpu_us_per_connect", "server CPU per connect+login (µs)", lowerIsBetter},
		},
	}
)

func tableCmd(args []string, w io.Writer) error {
	fs := flag.NewFlagSet("happnbench table", flag.ContinueOnError)
	goFile := fs.String("go", "", "JSON lines from the happner-go run")
	peerFile := fs.String("peer", "", "JSON lines from the happn-3 run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *goFile == "" && *peerFile == "" {
		return errors.New("give --go and/or --peer")
	}
	goRes, err := readResults(*goFile)
	if err != nil {
		return err
	}
	peerRes, err := readResults(*peerFile)
	if err != nil {
		return err
	}
	return writeTable(w, goRes, peerRes)
}

// readResults reads JSON lines keyed by scenario; an empty name or a missing
// file yields no results (that side shows "n/a").
func readResults(name string) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	if name == "" {
		return out, nil
	}
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open results: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(text), &m); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		s, _ := m["scenario"].(string)
		if s == "" {
			return nil, fmt.Errorf("%s:%d: result without scenario", name, line)
		}
		out[s] = m
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// writeTable prints the markdown comparison. The ratio is how many times
// better happner-go is: Go/happn-3 for throughput, happn-3/Go for latency,
// CPU and memory. Above 1 means Go wins.
func writeTable(w io.Writer, goRes, peerRes map[string]map[string]any) error {
	var b strings.Builder
	b.WriteString("| scenario | metric | Go | happn-3 | ratio |\n")
	b.WriteString("|---|---|---:|---:|---:|\n")
	for _, sc := range scenarioNames {
		g, p := goRes[sc], peerRes[sc]
		if g == nil && p == nil {
			continue
		}
		for _, m := range tableRows[sc] {
			gv, gok := number(g, m.key)
			pv, pok := number(p, m.key)
			if !gok && !pok {
				continue
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", sc, m.label,
				formatValue(gv, gok, g), formatValue(pv, pok, p), ratio(gv, gok, pv, pok, m.dir))
		}
		if errs := errorNote(g, p); errs != "" {
			fmt.Fprintf(&b, "| %s | errors | %s |  |  |\n", sc, errs)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// number reads a numeric field; counters that are omitted when zero (such
// as events_lost) read as 0 once the scenario itself is present.
func number(m map[string]any, key string) (float64, bool) {
	if m == nil {
		return 0, false
	}
	v, ok := m[key].(float64)
	if !ok && (key == "events_lost" || key == "errors") {
		return 0, true
	}
	return v, ok
}

func formatValue(v float64, ok bool, res map[string]any) string {
	switch {
	case res == nil:
		return "n/a"
	case !ok:
		return "–"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratio(gv float64, gok bool, pv float64, pok bool, dir direction) string {
	if !gok || !pok || dir == informational {
		return ""
	}
	var r float64
	switch dir {
	case higherIsBetter:
		if pv <= 0 {
			return ""
		}
		r = gv / pv
	case lowerIsBetter:
		if gv <= 0 {
			return ""
		}
		r = pv / gv
	}
	return fmt.Sprintf("%.1f×", r)
}

// errorNote summarises request errors of either side, if any.
func errorNote(g, p map[string]any) string {
	var parts []string
	for _, side := range []struct {
		name string
		m    map[string]any
	}{{"Go", g}, {"happn-3", p}} {
		if side.m == nil {
			continue
		}
		if n, _ := side.m["errors"].(float64); n > 0 {
			msg := fmt.Sprintf("%s: %.0f", side.name, n)
			if fe, _ := side.m["first_error"].(string); fe != "" {
				msg += " (" + strings.ReplaceAll(fe, "|", "/") + ")"
			}
			parts = append(parts, msg)
		}
	}
	return strings.Join(parts, "; ")
}
