package main

import (
	"errors"
	"flag"
	"io"
	"strings"

	"github.com/happner-go/happner/bench/internal/report"
)

var (
	opMetrics = []report.Metric{
		{Key: "ops_per_s", Label: "throughput (ops/s)", Dir: report.HigherIsBetter},
		{Key: "p50_us", Label: "latency p50 (µs)", Dir: report.LowerIsBetter},
		{Key: "p99_us", Label: "latency p99 (µs)", Dir: report.LowerIsBetter},
		{Key: "server_cpu_us_per_op", Label: "server CPU (µs/op)", Dir: report.LowerIsBetter},
	}
	eventMetrics = []report.Metric{
		{Key: "events_per_s", Label: "delivered events/s", Dir: report.HigherIsBetter},
		{Key: "p50_us", Label: "set→event p50 (µs)", Dir: report.LowerIsBetter},
		{Key: "p99_us", Label: "set→event p99 (µs)", Dir: report.LowerIsBetter},
		{Key: "server_cpu_us_per_event", Label: "server CPU (µs/event)", Dir: report.LowerIsBetter},
		{Key: "events_lost", Label: "events lost", Dir: report.Informational},
	}
	// tableRows maps each scenario to the metrics shown for it.
	tableRows = map[string][]report.Metric{
		"set-seq":  opMetrics,
		"set-pipe": opMetrics,
		"get-pipe": opMetrics,
		"event-1":  eventMetrics,
		"event-10": eventMetrics,
		"idle-10k": {
			{Key: "conns", Label: "connections held", Dir: report.Informational},
			{Key: "rss_mb", Label: "server RSS (MB)", Dir: report.LowerIsBetter},
			{Key: "rss_per_conn_kb", Label: "RSS per connection (KB)", Dir: report.LowerIsBetter},
			{Key: "server_cpu_us_per_connect", Label: "server CPU per connect+login (µs)", Dir: report.LowerIsBetter},
		},
		"hostile": {
			{Key: "conns", Label: "sockets stalled in a 10 MB frame", Dir: report.Informational},
			{Key: "pings", Label: "pings from a client that never reads", Dir: report.Informational},
			{Key: "rss_mb", Label: "server peak RSS under attack (MB)", Dir: report.LowerIsBetter},
			{Key: "ops_per_s", Label: "sets/s of an ordinary client meanwhile", Dir: report.HigherIsBetter},
			{Key: "p99_us", Label: "its set latency p99 (µs)", Dir: report.LowerIsBetter},
		},
	}
)

func tableCmd(args []string, w, stderr io.Writer) error {
	fs := flag.NewFlagSet("happnbench table", flag.ContinueOnError)
	fs.SetOutput(stderr)
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
	err := report.ReadJSONLines(name, func(m map[string]any) error {
		s, _ := m["scenario"].(string)
		if s == "" {
			return errors.New("result without scenario")
		}
		out[s] = m
		return nil
	})
	if err != nil {
		return nil, err
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
			gv, gok := number(g, m.Key)
			pv, pok := number(p, m.Key)
			if !gok && !pok {
				continue
			}
			report.Row(&b, sc, m.Label, report.Cell(g, gv, gok, report.FormatWhole),
				report.Cell(p, pv, pok, report.FormatWhole), m.Ratio(sc, gv, gok, pv, pok))
		}
		if errs := report.ErrorNote([]string{"Go", "happn-3"}, []map[string]any{g, p}); errs != "" {
			report.Row(&b, sc, "errors", errs, "", "")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// number reads a numeric field; counters that are omitted when zero (such
// as events_lost) read as 0 once the scenario itself is present.
func number(m map[string]any, key string) (float64, bool) {
	v, ok := report.Number(m, key)
	if !ok && m != nil && (key == "events_lost" || key == "errors") {
		return 0, true
	}
	return v, ok
}
