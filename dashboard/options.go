package dashboard

import "time"

// DefaultInterval is how often a node publishes its snapshot by default.
const DefaultInterval = time.Second

// Options are the dashboard settings of a node's configuration (the
// "dashboard" section of a config file).
type Options struct {
	// Enabled turns the page and the publisher off when false; absent
	// (nil) means on.
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled,omitempty"`
	// IntervalMs is how often the node publishes its snapshot, in
	// milliseconds; 0 means DefaultInterval.
	IntervalMs int `json:"intervalMs,omitempty" yaml:"intervalMs,omitempty"`
}

// On reports whether the dashboard is enabled.
func (o Options) On() bool { return o.Enabled == nil || *o.Enabled }

// Interval is the publishing interval: IntervalMs, or DefaultInterval.
func (o Options) Interval() time.Duration {
	if o.IntervalMs <= 0 {
		return DefaultInterval
	}
	return time.Duration(o.IntervalMs) * time.Millisecond
}
