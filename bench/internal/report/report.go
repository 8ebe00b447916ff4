// Package report holds what the benchmark commands share about results: the
// latency fields of a JSON result, reading JSON-lines result files back, and
// the cells, ratios and error notes of the markdown comparison tables.
package report

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/happner-go/happner/bench/internal/stats"
)

// Ptr returns a pointer to v, for the optional metrics of a result.
func Ptr(v float64) *float64 { return &v }

// Latency is the latency part of a JSON result, embedded where the fields
// belong in the object. Nil fields (no samples) are omitted.
type Latency struct {
	P50Us *float64 `json:"p50_us,omitempty"`
	P99Us *float64 `json:"p99_us,omitempty"`
	MaxUs *float64 `json:"max_us,omitempty"`
}

// SetLatency fills the fields from s; a summary of no samples leaves them
// nil.
func (l *Latency) SetLatency(s stats.Summary) {
	if s.Count == 0 {
		return
	}
	l.P50Us = Ptr(stats.Micros(s.P50))
	l.P99Us = Ptr(stats.Micros(s.P99))
	l.MaxUs = Ptr(stats.Micros(s.Max))
}

// ReadJSONLines calls each with every non-blank line of the file name,
// decoded as a JSON object. An empty name or a missing file reads as no
// lines (that column of a table shows "n/a"). Errors from decoding or from
// each are prefixed with name:line.
func ReadJSONLines(name string, each func(m map[string]any) error) error {
	if name == "" {
		return nil
	}
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open results: %w", err)
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
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		if err := each(m); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

// Number reads the numeric field key of a result; ok is false for a nil
// result or a missing or non-numeric field.
func Number(res map[string]any, key string) (v float64, ok bool) {
	if res == nil {
		return 0, false
	}
	v, ok = res[key].(float64)
	return v, ok
}

// Format renders a metric with three significant places at most: no
// decimals from 100 on, one from 10 on, two below.
func Format(v float64) string {
	switch {
	case math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f", v)
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// FormatWhole is Format except that whole numbers have no decimals.
func FormatWhole(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.0f", v)
	}
	return Format(v)
}

// Cell renders value v (ok: present) of result res: "n/a" when res is nil
// (that run is missing), "–" when the result lacks the metric, else
// format(v).
func Cell(res map[string]any, v float64, ok bool, format func(float64) string) string {
	switch {
	case res == nil:
		return "n/a"
	case !ok:
		return "–"
	}
	return format(v)
}

// Direction says which way a metric improves.
type Direction int

const (
	// LowerIsBetter is for latency, CPU and memory.
	LowerIsBetter Direction = iota
	// HigherIsBetter is for throughput.
	HigherIsBetter
	// Informational rows get no ratio.
	Informational
)

// Metric is one row of a comparison table.
type Metric struct {
	// Key is the JSON field of the result.
	Key string
	// Label is the row's text in the metric column.
	Label string
	// Dir says which way the metric improves.
	Dir Direction
	// Target maps a scenario to the minimum ratio the row should reach; a
	// row with a target gets ✓ or ✗ after its ratio.
	Target map[string]float64
}

// Ratio renders how many times better a is than b for scenario: a/b when
// higher is better, b/a when lower is better, as "4.0×" (with " ✓" or
// " ✗ (target N×)" where m has a target for the scenario). It is empty when
// either value is missing or the divisor is not positive, and for
// informational metrics.
func (m Metric) Ratio(scenario string, a float64, aok bool, b float64, bok bool) string {
	if !aok || !bok {
		return ""
	}
	var r float64
	switch m.Dir {
	case HigherIsBetter:
		if b <= 0 {
			return ""
		}
		r = a / b
	case LowerIsBetter:
		if a <= 0 {
			return ""
		}
		r = b / a
	default:
		return ""
	}
	s := fmt.Sprintf("%.1f×", r)
	if t, ok := m.Target[scenario]; ok {
		if r >= t {
			s += " ✓"
		} else {
			s += fmt.Sprintf(" ✗ (target %g×)", t)
		}
	}
	return s
}

// ErrorNote summarises the request errors of the results, each named by
// the name at the same index (names must be at least as long), as "NAME: N (first error)"; nil results and
// results without errors are skipped, and "|" in an error becomes "/" so
// that the note fits in a table cell.
func ErrorNote(names []string, results []map[string]any) string {
	var parts []string
	for i, m := range results {
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

// Row writes one markdown table row of cells to b.
func Row(b *strings.Builder, cells ...string) {
	b.WriteString("| ")
	b.WriteString(strings.Join(cells, " | "))
	b.WriteString(" |\n")
}
