package main

import (
	"fmt"
	"strings"

	"github.com/happner-go/happner/bench/internal/report"
)

// result is the JSON object printed for one scenario. Metrics that a
// scenario does not measure are omitted; server-side metrics are omitted when
// no --server-pid was given.
type result struct {
	Scenario string `json:"scenario"`
	Label    string `json:"label,omitempty"`
	Addr     string `json:"addr"`
	Secure   bool   `json:"secure"`
	Depth    int    `json:"depth,omitempty"`
	// CoalescedWrites is true when pipelined requests shared write calls.
	CoalescedWrites bool    `json:"coalesced_writes,omitempty"`
	DurationS       float64 `json:"duration_s"`
	Errors          int64   `json:"errors"`

	Ops     int64    `json:"ops,omitempty"`
	OpsPerS *float64 `json:"ops_per_s,omitempty"`

	Subscribers int      `json:"subscribers,omitempty"`
	Events      int64    `json:"events,omitempty"`
	EventsLost  int64    `json:"events_lost,omitempty"`
	EventsPerS  *float64 `json:"events_per_s,omitempty"`

	report.Latency

	ServerCPUS            *float64 `json:"server_cpu_s,omitempty"`
	ServerCPUUsPerOp      *float64 `json:"server_cpu_us_per_op,omitempty"`
	ServerCPUUsPerEvent   *float64 `json:"server_cpu_us_per_event,omitempty"`
	ClientCPUS            *float64 `json:"client_cpu_s,omitempty"`
	Conns                 int      `json:"conns,omitempty"`
	Pings                 int64    `json:"pings,omitempty"`
	ConnsFailed           int      `json:"conns_failed,omitempty"`
	FirstError            string   `json:"first_error,omitempty"`
	ConnectS              *float64 `json:"connect_s,omitempty"`
	RSSBeforeMB           *float64 `json:"rss_before_mb,omitempty"`
	RSSMB                 *float64 `json:"rss_mb,omitempty"`
	RSSPerConnKB          *float64 `json:"rss_per_conn_kb,omitempty"`
	ServerCPUUsPerConnect *float64 `json:"server_cpu_us_per_connect,omitempty"`
}

// human renders the result as one line for stderr.
func (r *result) human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s", r.Scenario)
	if r.Label != "" {
		fmt.Fprintf(&b, " [%s]", r.Label)
	}
	fmt.Fprintf(&b, " %s", r.Addr)
	if r.OpsPerS != nil {
		fmt.Fprintf(&b, "  %d ops in %.2fs = %.0f ops/s", r.Ops, r.DurationS, *r.OpsPerS)
	}
	if r.EventsPerS != nil {
		fmt.Fprintf(&b, "  %d events = %.0f events/s", r.Events, *r.EventsPerS)
	}
	if r.P50Us != nil {
		fmt.Fprintf(&b, "  p50 %.0fµs p99 %.0fµs", *r.P50Us, *r.P99Us)
	}
	if r.ServerCPUUsPerOp != nil {
		fmt.Fprintf(&b, "  server CPU %.1fµs/op", *r.ServerCPUUsPerOp)
	}
	if r.ServerCPUUsPerEvent != nil {
		fmt.Fprintf(&b, "  server CPU %.1fµs/event", *r.ServerCPUUsPerEvent)
	}
	if r.Conns > 0 {
		fmt.Fprintf(&b, "  %d conns (%d failed)", r.Conns, r.ConnsFailed)
	}
	if r.RSSMB != nil {
		fmt.Fprintf(&b, "  RSS %.1f MB (before %.1f MB)", *r.RSSMB, *r.RSSBeforeMB)
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "  ERRORS %d", r.Errors)
	}
	if r.EventsLost > 0 {
		fmt.Fprintf(&b, "  LOST %d events", r.EventsLost)
	}
	if r.FirstError != "" {
		fmt.Fprintf(&b, "  first error: %s", r.FirstError)
	}
	return b.String()
}
