package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/happner-go/happner/bench/internal/report"
)

// row is one line of a table: a JSON field and how it reads.
type row struct {
	key, label string
	format     func(float64) string
}

// tableRows are the rows of every table, in order; rows no result has are
// left out.
var tableRows = []row{
	{"stable_s", "start → every member stable (s)", report.Format},
	{"stable_after_last_start_s", "last member started → every member stable (s)", report.Format},
	{"discovered_s", "start → every member found all others (s)", report.Format},
	{"start_cpu_ms_per_member", "CPU per member, start → settled (ms)", report.Format},
	{"pg_statements_per_member_at_start", "PostgreSQL statements per member, start → settled", report.Format},
	{"pg_cpu_s_at_start", "PostgreSQL CPU, start → settled (s, all members)", report.Format},
	{"idle_cpu_pct_per_member", "idle CPU per member (% of a core)", report.Format},
	{"idle_cpu_pct_max_member", "idle CPU, busiest member (% of a core)", report.Format},
	{"pg_statements_per_s_per_member", "PostgreSQL statements/s per member (idle)", report.Format},
	{"pg_rows_read_per_s_per_member", "PostgreSQL rows read/s per member (idle)", report.Format},
	{"pg_cpu_pct_per_member", "PostgreSQL CPU per member (% of a core, idle)", report.Format},
	{"rss_mb_per_member", "memory per member (MB RSS)", report.Format},
	{"event_cpu_us_per_member", "replicated event: CPU per member (µs)", report.Format},
	{"event_cpu_us_origin", "replicated event: CPU of the publishing member (µs)", report.Format},
	{"event_cpu_us_other", "replicated event: CPU of each other member (µs)", report.Format},
	{"change_cpu_us_per_member", "security change: CPU per member (µs)", report.Format},
	{"change_cpu_us_origin", "security change: CPU of the member making it (µs)", report.Format},
	{"change_cpu_us_other", "security change: CPU of each other member (µs)", report.Format},
	{"change_s", "security changes: made → applied everywhere (s)", report.Format},
}

// maxErrorLen is how much of an error a table shows (a cluster that did not
// become stable lists every member it waited for).
const maxErrorLen = 300

// groupKey identifies the results that share one table.
type groupKey struct {
	label, mode, store string
	secure, keys       bool
}

func (k groupKey) title() string {
	var parts []string
	if k.mode == modeProcesses {
		parts = append(parts, "one process per member")
	} else {
		parts = append(parts, "members in one process")
	}
	if k.store == storePostgres {
		parts = append(parts, "PostgreSQL shared store")
	} else {
		parts = append(parts, "memory shared store")
	}
	if k.keys {
		parts = append(parts, "secure (members log in as _ADMIN with a key pair)")
	} else if k.secure {
		parts = append(parts, "secure (members log in as _ADMIN)")
	} else {
		parts = append(parts, "insecure")
	}
	t := strings.Join(parts, ", ")
	if k.label != "" {
		t = k.label + ": " + t
	}
	return t
}

func tableCmd(args []string, w, stderr io.Writer) error {
	fs := flag.NewFlagSet("clusterscale table", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: clusterscale table FILE.jsonl…")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("give at least one result file")
	}
	var order []groupKey
	groups := map[groupKey][]map[string]any{}
	for _, name := range fs.Args() {
		err := report.ReadJSONLines(name, func(m map[string]any) error {
			mode, _ := m["mode"].(string)
			st, _ := m["store"].(string)
			label, _ := m["label"].(string)
			secure, _ := m["secure"].(bool)
			keys, _ := m["keys"].(bool)
			if _, ok := report.Number(m, "members"); !ok || mode == "" || st == "" {
				return errors.New("not a clusterscale result (no members, mode or store)")
			}
			k := groupKey{label, mode, st, secure, keys}
			if _, seen := groups[k]; !seen {
				order = append(order, k)
			}
			groups[k] = append(groups[k], m)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(order) == 0 {
		return errors.New("the result files hold no results")
	}
	for i, k := range order {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeTable(w, k, groups[k])
	}
	return nil
}

// writeTable writes one markdown table: a column per member count (the
// last result of each count), a row per figure that some result has, and
// the errors below.
func writeTable(w io.Writer, k groupKey, results []map[string]any) {
	byCount := map[int]map[string]any{}
	var counts []int
	for _, m := range results {
		n, _ := report.Number(m, "members")
		if _, ok := byCount[int(n)]; !ok {
			counts = append(counts, int(n))
		}
		byCount[int(n)] = m
	}
	slices.Sort(counts)
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", k.title())
	if m := byCount[counts[0]]; m != nil {
		p, _ := report.Number(m, "pulse_ms")
		s, _ := report.Number(m, "scan_ms")
		fmt.Fprintf(&b, " (pulse %s ms, scan %s ms)", report.FormatWhole(p), report.FormatWhole(s))
	}
	b.WriteString("\n\n")
	head := []string{"members"}
	sep := []string{"---"}
	for _, n := range counts {
		head = append(head, strconv.Itoa(n))
		sep = append(sep, "---:")
	}
	report.Row(&b, head...)
	report.Row(&b, sep...)
	for _, r := range tableRows {
		cells := []string{r.label}
		any := false
		for _, n := range counts {
			v, ok := report.Number(byCount[n], r.key)
			any = any || ok
			cells = append(cells, report.Cell(byCount[n], v, ok, r.format))
		}
		if any {
			report.Row(&b, cells...)
		}
	}
	for _, n := range counts {
		m := byCount[n]
		if lost, _ := report.Number(m, "events_lost"); lost > 0 {
			fmt.Fprintf(&b, "\n%d members: %s events never arrived.", n, report.FormatWhole(lost))
		}
		if e, _ := m["error"].(string); e != "" {
			e = strings.ReplaceAll(strings.ReplaceAll(e, "|", "/"), "\n", " ")
			if len(e) > maxErrorLen {
				e = e[:maxErrorLen] + "…"
			}
			fmt.Fprintf(&b, "\n%d members: error: %s", n, e)
		}
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), "\n"))
}
