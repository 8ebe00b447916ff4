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

// tableNames name the two servers compared ("Go mesh" and "happner-2" by
// default; the cluster benchmark compares a Go cluster with
// happner-cluster).
type tableNames struct{ goName, peerName string }

// columns names the four result sets, in error notes.
func (n tableNames) columns() []string {
	return []string{n.goName + " ← Go client", n.peerName + " ← Go client", n.goName + " ← npm", n.peerName + " ← npm"}
}

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
	names := tableNames{"Go mesh", "happner-2"}
	var cpuTarget float64
	fs.StringVar(&in.goMeshGo, "go-mesh-go-client", "", "JSON lines: meshbench against the Go mesh")
	fs.StringVar(&in.npmMeshGo, "npm-mesh-go-client", "", "JSON lines: meshbench against the happner-2 mesh")
	fs.StringVar(&in.goMeshNPM, "go-mesh-npm-client", "", "JSON lines: the npm MeshClient against the Go mesh")
	fs.StringVar(&in.npmMeshNPM, "npm-mesh-npm-client", "", "JSON lines: the npm MeshClient against the happner-2 mesh")
	fs.StringVar(&names.goName, "go-name", names.goName, "column name of the Go server")
	fs.StringVar(&names.peerName, "peer-name", names.peerName, "column name of the JavaScript peer")
	fs.Float64Var(&cpuTarget, "cpu-target", 0, "the minimum ratio of server CPU per call (default: the issue's 20×)")
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
	metrics := tableMetrics
	if cpuTarget > 0 {
		metrics = slices.Clone(tableMetrics)
		for i := range metrics {
			if metrics[i].Key == "server_cpu_us_per_op" {
				metrics[i].Target = map[string]float64{"rpc-seq": cpuTarget, "rpc-pipe": cpuTarget}
			}
		}
	}
	return writeTable(w, sets, names, metrics)
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
func writeTable(w io.Writer, sets [4]map[resultKey]map[string]any, names tableNames, metrics []report.Metric) error {
	var b strings.Builder
	fmt.Fprintf(&b, "| scenario | metric | %[1]s ← Go client | %[2]s ← Go client | ratio | %[1]s ← npm MeshClient | %[2]s ← npm MeshClient | ratio |\n", names.goName, names.peerName)
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
			for _, m := range metrics {
				report.Row(&b, name, m.Label,
					cell(rs[0], m.Key), cell(rs[1], m.Key), ratio(rs[0], rs[1], m, sc),
					cell(rs[2], m.Key), cell(rs[3], m.Key), ratio(rs[2], rs[3], m, sc))
			}
			if note := report.ErrorNote(names.columns(), rs); note != "" {
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
