package main

import (
	"fmt"
	"strings"
)

// result is the JSON object printed for one member count. Optional figures
// are omitted when not measured (no PostgreSQL, no per-process CPU, a step
// skipped or failed).
type result struct {
	Label   string `json:"label,omitempty"`
	Mode    string `json:"mode"`
	Store   string `json:"store"`
	Secure  bool   `json:"secure"`
	Keys    bool   `json:"keys,omitempty"`
	Members int    `json:"members"`
	PulseMs int64  `json:"pulse_ms"`
	ScanMs  int64  `json:"scan_ms"`
	CPUs    int    `json:"cpus"`
	Error   string `json:"error,omitempty"`

	// StableS is the time from the first member's start to every member
	// stable; StableAfterLastS from the last member's start.
	StableS          *float64 `json:"stable_s,omitempty"`
	StableAfterLastS *float64 `json:"stable_after_last_start_s,omitempty"`
	// DiscoveredS is the time from the start until the last member had
	// found every other in the registry (members in one process).
	DiscoveredS *float64 `json:"discovered_s,omitempty"`

	// StartCPUMs is the CPU per member from the start until the cluster
	// has settled; PGStartStatements and PGStartCPUS are PostgreSQL's
	// statements per member and CPU (all members) in the same time.
	StartCPUMs        *float64 `json:"start_cpu_ms_per_member,omitempty"`
	PGStartStatements *float64 `json:"pg_statements_per_member_at_start,omitempty"`
	PGStartCPUS       *float64 `json:"pg_cpu_s_at_start,omitempty"`

	IdleS *float64 `json:"idle_s,omitempty"`
	// IdleCPUPct is the idle cluster's CPU per member, in % of one core;
	// IdleCPUMaxPct the busiest member's (processes only).
	IdleCPUPct    *float64 `json:"idle_cpu_pct_per_member,omitempty"`
	IdleCPUMaxPct *float64 `json:"idle_cpu_pct_max_member,omitempty"`
	// PostgreSQL while idle, per member: transactions (one per statement
	// outside explicit transactions) per second, rows read per second, and
	// the server's CPU in % of one core.
	PGStatementsPerS *float64 `json:"pg_statements_per_s_per_member,omitempty"`
	PGRowsPerS       *float64 `json:"pg_rows_read_per_s_per_member,omitempty"`
	PGCPUPct         *float64 `json:"pg_cpu_pct_per_member,omitempty"`
	// RSSMB is the resident memory per member (processes: the mean).
	RSSMB *float64 `json:"rss_mb_per_member,omitempty"`

	// Events published on member 0, delivered to a subscriber on every
	// member: CPU per event per member (idle CPU subtracted), and for
	// processes the publishing member's and the mean of the others.
	Events           int      `json:"events,omitempty"`
	EventsLost       int64    `json:"events_lost,omitempty"`
	EventS           *float64 `json:"event_s,omitempty"`
	EventCPUUs       *float64 `json:"event_cpu_us_per_member,omitempty"`
	EventOriginCPUUs *float64 `json:"event_cpu_us_origin,omitempty"`
	EventOtherCPUUs  *float64 `json:"event_cpu_us_other,omitempty"`

	// Security changes made on member 0 until every member applied them:
	// CPU per change per member (idle CPU subtracted), and the time until
	// the last member had the last change.
	Changes          int      `json:"changes,omitempty"`
	ChangeS          *float64 `json:"change_s,omitempty"`
	ChangeCPUUs      *float64 `json:"change_cpu_us_per_member,omitempty"`
	ChangeOriginUs   *float64 `json:"change_cpu_us_origin,omitempty"`
	ChangeOtherCPUUs *float64 `json:"change_cpu_us_other,omitempty"`
}

// human renders the result as one line for stderr.
func (r *result) human() string {
	var b strings.Builder
	sec := ""
	if r.Secure {
		sec = " secure"
	}
	if r.Keys {
		sec += " keys"
	}
	fmt.Fprintf(&b, "%3d members [%s %s%s]", r.Members, r.Mode, r.Store, sec)
	f := func(name string, v *float64, unit string) {
		if v != nil {
			fmt.Fprintf(&b, " %s %.3g%s", name, *v, unit)
		}
	}
	f("discovered", r.DiscoveredS, "s")
	f("stable", r.StableS, "s")
	f("start CPU", r.StartCPUMs, "ms/member")
	f("pg start CPU", r.PGStartCPUS, "s")
	f("idle", r.IdleCPUPct, "%/member")
	f("pg", r.PGStatementsPerS, " stmt/s/member")
	f("event", r.EventCPUUs, "µs/member")
	f("change", r.ChangeCPUUs, "µs/member")
	if r.EventsLost > 0 {
		fmt.Fprintf(&b, " events lost %d", r.EventsLost)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, " ERROR: %s", r.Error)
	}
	return b.String()
}
