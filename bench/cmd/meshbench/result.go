package main

import (
	"fmt"
	"strings"

	"github.com/happner-go/happner/bench/internal/report"
)

// result is the JSON object printed for one scenario; the npm driver
// (bench/peer/meshclient-bench.js) prints the same shape. Server fields are
// omitted without --server-pid.
type result struct {
	Scenario string `json:"scenario"`
	// Client is "go" for this program, "npm" for the MeshClient driver.
	Client string `json:"client"`
	Label  string `json:"label,omitempty"`
	Addr   string `json:"addr"`
	Secure bool   `json:"secure"`
	Depth  int    `json:"depth"`
	// CoalescedWrites is true when pipelined requests shared write calls.
	CoalescedWrites bool    `json:"coalesced_writes,omitempty"`
	DurationS       float64 `json:"duration_s"`
	Errors          int64   `json:"errors"`
	FirstError      string  `json:"first_error,omitempty"`

	Ops     int64    `json:"ops"`
	OpsPerS *float64 `json:"ops_per_s,omitempty"`

	report.Latency

	ServerCPUS       *float64 `json:"server_cpu_s,omitempty"`
	ServerCPUUsPerOp *float64 `json:"server_cpu_us_per_op,omitempty"`
	ClientCPUS       *float64 `json:"client_cpu_s,omitempty"`
}

// human renders the result as one line for stderr.
func (r *result) human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s [%s", r.Scenario, r.Client)
	if r.Label != "" {
		fmt.Fprintf(&b, " → %s", r.Label)
	}
	fmt.Fprintf(&b, "] %s  %d calls in %.2fs", r.Addr, r.Ops, r.DurationS)
	if r.OpsPerS != nil {
		fmt.Fprintf(&b, " = %.0f calls/s", *r.OpsPerS)
	}
	if r.P50Us != nil {
		fmt.Fprintf(&b, "  p50 %.0fµs p99 %.0fµs", *r.P50Us, *r.P99Us)
	}
	if r.ServerCPUUsPerOp != nil {
		fmt.Fprintf(&b, "  server CPU %.1fµs/call", *r.ServerCPUUsPerOp)
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "  ERRORS %d", r.Errors)
	}
	if r.FirstError != "" {
		fmt.Fprintf(&b, "  first error: %s", r.FirstError)
	}
	return b.String()
}
