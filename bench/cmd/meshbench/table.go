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
)

// metricDef is one row of the comparison table. target is the issue's
// minimum ratio for the row (0: none).
type metricDef struct {
	key    string
	label  string
	dir    direction
	target map[string]float64 // scenario → minimum ratio
}

var tableMetrics = []metricDef{
	{"ops_per_s", "calls/s", higherIsBetter, map[string]float64{"rpc-pipe": 5}},
	{"p50_us", "latency p50 (µs)", lowerIsBetter, map[string]float64{"rpc-seq": 5}},
	{"p99_us", "latency p99 (µs)", lowerIsBetter, map[string]float64{"rpc-seq": 5}},
	{"server_cpu_us_per_op", "server CPU (µs/call)", lowerIsBetter, map[string]float64{"rpc-seq": 20, "rpc-pipe": 20}},
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
		if !knownScenario(s) {
			return nil, fmt.Errorf("%s:%d: unknown scenario %q", name, line, s)
		}
		secure, _ := m["secure"].(bool)
		out[resultKey{s, secure}] = m
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
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
			var rs [4]map[string]any
			any := false
			for i := range sets {
				rs[i] = sets[i][k]
				any = any || rs[i] != nil
			}
			if !any {
				continue
			}
			name := sc
			if secure {
				name += " (secure)"
			}
			for _, m := range tableMetrics {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, m.label,
					cell(rs[0], m.key), cell(rs[1], m.key), ratio(rs[0], rs[1], m, sc),
					cell(rs[2], m.key), cell(rs[3], m.key), ratio(rs[2], rs[3], m, sc))
			}
			if note := errorNote(rs); note != "" {
				fmt.Fprintf(&b, "| %s | errors | %s |  |  |  |  |  |\n", name, note)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func number(m map[string]any, key string) (float64, bool) {
	if m == nil {
		return 0, false
	}
	v, ok := m[key].(float64)
	return v, ok
}

func cell(m map[string]any, key string) string {
	v, ok := number(m, key)
	switch {
	case m == nil:
		return "n/a"
	case !ok:
		return "–"
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func ratio(goRes, npmRes map[string]any, m metricDef, scenario string) string {
	gv, gok := number(goRes, m.key)
	pv, pok := number(npmRes, m.key)
	if !gok || !pok {
		return ""
	}
	var r float64
	switch m.dir {
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
	s := fmt.Sprintf("%.1f×", r)
	if t, ok := m.target[scenario]; ok {
		if r >= t {
			s += " ✓"
		} else {
			s += fmt.Sprintf(" ✗ (target %g×)", t)
		}
	}
	return s
}

// errorNote summarises call errors of any column.
func errorNote(rs [4]map[string]any) string {
	names := [4]string{"Go mesh ← Go client", "happner-2 ← Go client", "Go mesh ← npm", "happner-2 ← npm"}
	var parts []string
	for i, m := range rs {
		if m == nil {
			continue
		}
		if n, _ := m["errors"].(float64); n > 0 {
			msg := fmt.Sprintf("%s: %.0f", names[i], n)
			if fe, _ := m["first_error"].(string); fe != "" {
				msg += " (" + strings.ReplaceAll(fe, "|", "/") + ")"
			}
			parts = append(parts, msg)
		}
	}
	return strings.Join(parts, "; ")
}
