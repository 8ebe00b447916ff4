package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/happner-go/happner/bench/internal/report"
)

// tableMetrics are the rows of every scenario; a target is the issue's
// minimum ratio for the row in that scenario.
var tableMetrics = []report.Metric{
	{Key: "ops_per_s", Label: "calls/s", Dir: report.HigherIsBetter, Target: map[string]float64{"rpc-pipe": 5}},
	{Key: "p50_us", Label: "latency p50 (µs)", Dir: report.LowerIsBetter, Target: map[string]float64{"rpc-seq": 5}},
	{Key: "p99_us", Label: "latency p99 (µs)", Dir: report.LowerIsBetter, Target: map[string]float64{"rpc-seq": 5}},
	{Key: "server_cpu_us_per_op", Label: "server CPU (µs/call)", Dir: report.LowerIsBetter, Target: map[string]float64{"rpc-seq": 20, "rpc-pipe": 20}},
}

// columnNames name the four result sets in error notes.
var columnNames = []string{"Go mesh ← Go client", "happner-2 ← Go client", "Go mesh ← npm", "happner-2 ← npm"}

// resultKey identifies one measured row group.
type resultKey struct {
	scenario string
	secure   bool
}

// tableInputs are the four result files of a run, one per mesh × client.
type tableInputs struct {
	goMeshGo, npmMeshGo, goMeshNPM, npmMeshNPM string
}

func tableCmd(args []string, w, stderr io.Writer) error {
	fs := flag.NewFlagSet("meshbench table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var in tableInputs
	fs.StringVar(&in.goMeshGo, "go-mesh-go-client", "", "JSON lines: meshbench against the Go mesh")
	fs.StringVar(&in.npmMeshGo, "npm-mesh-go-client", "", "JSON lines: meshbench against the happner-2 mesh")
	fs.StringVar(&in.goMeshNPM, "go-mesh-npm-client", "", "JSON lines: the npm MeshClient against the Go mesh")
	fs.StringVar(&in.npmMeshNPM, "npm-mesh-npm-client", "", "JSON lines: the npm MeshClient against the happner-2 mesh")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if in == (tableInputs{}) {
		return errors.New("give at least one result file")
	}
	var sets [4]map[resultKey]map[string]any
	for i, name := range []string{in.goMeshGo, in.npmMeshGo, in.goMeshNPM, in.npmMeshNPM} {
		r, err := readResults(name)
		if err != nil {
			return err
		}
		sets[i] = r
	}
	return writeTable(w, sets)
}

// readResults reads JSON lines keyed by scenario and security; an empty name
// or a missing file yields no results (shown as "n/a").
func readResults(name string) (map[resultKey]map[string]any, error) {
	out := map[resultKey]map[string]any{}
	err := report.ReadJSONLines(name, func(m map[string]any) error {
		s, _ := m["scenario"].(string)
		if !slices.Contains(scenarioNames, s) {
			return fmt.Errorf("unknown scenario %q", s)
		}
		secure, _ := m["secure"].(bool)
		out[resultKey{s, secure}] = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// writeTable prints the markdown comparison: for each client, the Go mesh,
// the happner-2 mesh and the ratio (how many times better the Go mesh is:
// Go/happner-2 for calls/s, happner-2/Go for latency and CPU). A ✓ or ✗
// after a ratio says whether the target for that row is met.
func writeTable(w io.Writer, sets [4]map[resultKey]map[string]any) error {
	var b strings.Builder
	b.WriteString("| scenario | metric | Go mesh ← Go client | happner-2 ← Go client | ratio | Go mesh ← npm MeshClient | happner-2 ← npm MeshClient | ratio |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|\n")
	for _, secure := range []bool{false, true} {
		for _, sc := range scenarioNames {
			k := resultKey{sc, secure}
			rs := make([]map[string]any, len(sets))
			found := false
			for i := range sets {
				rs[i] = sets[i][k]
				found = found || rs[i] != nil
			}
			if !found {
				continue
			}
			name := sc
			if secure {
				name += " (secure)"
			}
			for _, m := range tableMetrics {
				report.Row(&b, name, m.Label,
					cell(rs[0], m.Key), cell(rs[1], m.Key), ratio(rs[0], rs[1], m, sc),
					cell(rs[2], m.Key), cell(rs[3], m.Key), ratio(rs[2], rs[3], m, sc))
			}
			if note := report.ErrorNote(columnNames, rs); note != "" {
				report.Row(&b, name, "errors", note, "", "", "", "", "")
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(m map[string]any, key string) string {
	v, ok := report.Number(m, key)
	return report.Cell(m, v, ok, report.Format)
}

func ratio(goRes, npmRes map[string]any, m report.Metric, scenario string) string {
	gv, gok := report.Number(goRes, m.Key)
	pv, pok := report.Number(npmRes, m.Key)
	return m.Ratio(scenario, gv, gok, pv, pok)
}
