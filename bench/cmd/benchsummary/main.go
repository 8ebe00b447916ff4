// Command benchsummary turns the results of one bench/run-all.sh run into the
// project's performance table: one row per workload, happner-go beside its
// JavaScript peer from the same run, the ratio, and the goal with whether it
// is met.
//
//	benchsummary DIR
//
// DIR holds the result folders run-all.sh writes: happn/ (bench/run.sh),
// mesh/ (bench/run-mesh.sh) and cluster/ (bench/run-cluster.sh). A missing
// result reads "n/a".
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/happner-go/happner/bench/internal/report"
)

func main() {
	if len(os.Args) != 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, "usage: benchsummary DIR (the --out folder of bench/run-all.sh)")
		os.Exit(2)
	}
	if err := summarize(os.Stdout, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "benchsummary:", err)
		os.Exit(1)
	}
}

// source names one measured figure: a JSON-lines file under the run's
// folder, the scenario and the field.
type source struct {
	file, scenario, field string
}

// row is one line of the table: the Go figure, the peer's, and the goal.
type row struct {
	workload string
	goFig    source
	peerFig  source
	peerName string
	// maxGo is the goal as an upper bound on the Go figure (0: none).
	maxGo float64
	// minRatio is the goal as a lower bound on peer ÷ Go (0: none).
	minRatio float64
	// maxLocalRatio bounds Go ÷ local (0: none), local being the same
	// call served by one member.
	local         source
	maxLocalRatio float64
}

// happnRow compares happn-3 and the Go server on one scenario of run.sh.
func happnRow(workload, scenario, field string, maxGo float64) row {
	return row{workload: workload, peerName: "happn-3", maxGo: maxGo,
		goFig: source{"happn/go.jsonl", scenario, field}, peerFig: source{"happn/peer.jsonl", scenario, field}}
}

// meshRow compares happner-2 and the Go mesh, both called by the npm
// MeshClient, on one scenario of run-mesh.sh.
func meshRow(workload, scenario string, maxGo float64) row {
	const field = "server_cpu_us_per_op"
	return row{workload: workload, peerName: "happner-2", maxGo: maxGo,
		goFig: source{"mesh/go-mesh-npm-client.jsonl", scenario, field}, peerFig: source{"mesh/npm-mesh-npm-client.jsonl", scenario, field}}
}

// clusterRow compares happner-cluster and the Go cluster, called through
// an edge member by the npm MeshClient, on one scenario of run-cluster.sh,
// with the local call on the worker member as the reference.
func clusterRow(workload, scenario string) row {
	const field = "server_cpu_us_per_op"
	return row{workload: workload, peerName: "happner-cluster", minRatio: 10, maxLocalRatio: 2,
		goFig:   source{"cluster/go-edge-npm-client.jsonl", scenario, field},
		peerFig: source{"cluster/js-edge-npm-client.jsonl", scenario, field},
		local:   source{"cluster/go-local-npm-client.jsonl", scenario, field}}
}

var rows = []row{
	happnRow("happn set, one in flight, server CPU per op", "set-seq", "server_cpu_us_per_op", 12),
	meshRow("mesh call from the npm MeshClient, one in flight, server CPU per call", "rpc-seq", 25),
	happnRow("happn set, 100 in flight, server CPU per op", "set-pipe", "server_cpu_us_per_op", 3),
	happnRow("happn get, 100 in flight, server CPU per op", "get-pipe", "server_cpu_us_per_op", 3),
	happnRow("event to 10 subscribers, server CPU per delivery", "event-10", "server_cpu_us_per_event", 1.2),
	meshRow("mesh call from the npm MeshClient, 100 in flight, server CPU per call", "rpc-pipe", 8),
	clusterRow("cluster: npm MeshClient → member A → component on member B, 100 in flight, CPU of A + B per call", "rpc-pipe"),
	clusterRow("the same, one in flight", "rpc-seq"),
}

// lookup reads one figure of the run in dir; ok is false when the file, the
// scenario or the field is missing.
func lookup(dir string, s source) (float64, bool, error) {
	var v float64
	var ok bool
	err := report.ReadJSONLines(filepath.Join(dir, s.file), func(m map[string]any) error {
		if m["scenario"] == s.scenario {
			v, ok = report.Number(m, s.field)
		}
		return nil
	})
	return v, ok, err
}

func summarize(w io.Writer, dir string) error {
	var b strings.Builder
	b.WriteString("| workload | happner-go | JavaScript peer | ratio | goal | met |\n|---|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		g, gok, err := lookup(dir, r.goFig)
		if err != nil {
			return err
		}
		p, pok, err := lookup(dir, r.peerFig)
		if err != nil {
			return err
		}
		cell := func(v float64, ok bool) string {
			if !ok {
				return "n/a"
			}
			return report.Format(v) + " µs"
		}
		ratio := ""
		if gok && pok && g > 0 {
			ratio = report.Format(p/g) + "×"
		}
		var goals, verdicts []string
		if r.maxGo > 0 {
			goals = append(goals, "≤ "+report.FormatWhole(r.maxGo)+" µs")
			verdicts = append(verdicts, verdict(gok, g <= r.maxGo))
		}
		if r.minRatio > 0 {
			goals = append(goals, "≥ "+report.FormatWhole(r.minRatio)+"×")
			verdicts = append(verdicts, verdict(gok && pok, g > 0 && p/g >= r.minRatio))
		}
		if r.maxLocalRatio > 0 {
			l, lok, err := lookup(dir, r.local)
			if err != nil {
				return err
			}
			goals = append(goals, "≤ "+report.FormatWhole(r.maxLocalRatio)+"× the local call")
			v := verdict(gok && lok, l > 0 && g/l <= r.maxLocalRatio)
			if gok && lok && l > 0 {
				v += " (" + report.Format(g/l) + "× of " + report.Format(l) + " µs)"
			}
			verdicts = append(verdicts, v)
		}
		report.Row(&b, r.workload, cell(g, gok), cell(p, pok)+" ("+r.peerName+")", ratio,
			strings.Join(goals, ", "), strings.Join(verdicts, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// verdict renders whether a goal is met; known is false when a figure is
// missing.
func verdict(known, met bool) string {
	switch {
	case !known:
		return "n/a"
	case met:
		return "yes"
	default:
		return "no"
	}
}
