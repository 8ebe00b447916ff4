package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// Status is a member's state in the registry.
type Status int

// Member statuses, with the values the registry records carry.
const (
	StatusStopped               Status = 0
	StatusDiscovering           Status = 1
	StatusConnecting            Status = 2
	StatusStable                Status = 3
	StatusUnstable              Status = 4
	StatusFailedDiscover        Status = 5
	StatusFailedDiscoverTimeout Status = 6
	StatusFailedConnecting      Status = 7
	StatusFailedPulse           Status = 8
)

var statusNames = [...]string{"STOPPED", "DISCOVERING", "CONNECTING", "STABLE", "UNSTABLE",
	"FAILED_DISCOVER", "FAILED_DISCOVER_TIMEOUT", "FAILED_CONNECTING", "FAILED_PULSE"}

// String returns the status name ("STABLE").
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("STATUS(%d)", int(s))
}

// MarshalText writes the status name.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// live reports whether a member with this status takes part in the
// cluster (a member failing to pulse is still running).
func (s Status) live() bool {
	return s >= StatusDiscovering && s <= StatusUnstable || s == StatusFailedPulse
}

// Record is one member's entry in the registry.
type Record struct {
	// MemberID is unique per start of a member.
	MemberID string `json:"memberId"`
	// Name is the member's (mesh and happn) name.
	Name string `json:"memberName"`
	// ServiceName is the service it provides.
	ServiceName string `json:"serviceName"`
	// Host and Port are where its internal happn port is reached.
	Host string `json:"memberHost"`
	Port int    `json:"memberPort"`
	// URL is "http://host:port" of the internal port.
	URL string `json:"url"`
	// Status is its state.
	Status Status `json:"status"`
	// Timestamp is its last pulse, in ms since the epoch.
	Timestamp int64 `json:"timestamp"`
	// ReplicationPaths are the event paths it replicates.
	ReplicationPaths []string `json:"replicationPaths"`
}

// recordJSON is Record as stored: the status as a number.
type recordJSON struct {
	MemberID         string   `json:"memberId"`
	Name             string   `json:"memberName"`
	ServiceName      string   `json:"serviceName"`
	Host             string   `json:"memberHost"`
	Port             int      `json:"memberPort"`
	URL              string   `json:"url"`
	Status           int      `json:"status"`
	Timestamp        int64    `json:"timestamp"`
	ReplicationPaths []string `json:"replicationPaths"`
}

// registry reads and writes the member records of one cluster of one
// deployment in the shared store.
type registry struct {
	st    store.Store
	base  string // /_SYSTEM/DEPLOYMENT/<deploymentId>/<clusterName>/
	stale time.Duration
	now   func() time.Time
}

// RegistryPrefix is the path under which member records are kept:
// RegistryPrefix + deploymentId/clusterName/serviceName/memberName.
const RegistryPrefix = "/_SYSTEM/DEPLOYMENT/"

func newRegistry(st store.Store, deploymentID, clusterName string, stale time.Duration) *registry {
	return &registry{st: st, base: RegistryPrefix + deploymentID + "/" + clusterName + "/", stale: stale, now: time.Now}
}

func (r *registry) path(rec *Record) string {
	return r.base + rec.ServiceName + "/" + rec.Name
}

// pulse writes rec with the current time.
func (r *registry) pulse(ctx context.Context, rec Record) error {
	rec.Timestamp = r.now().UnixMilli()
	data, err := json.Marshal(recordJSON{rec.MemberID, rec.Name, rec.ServiceName, rec.Host, rec.Port, rec.URL,
		int(rec.Status), rec.Timestamp, rec.ReplicationPaths})
	if err != nil {
		return fmt.Errorf("cluster: encoding member record: %w", err)
	}
	if _, err := r.st.Set(ctx, r.path(&rec), data, store.SetOptions{Validated: true}); err != nil {
		return fmt.Errorf("cluster: writing member record: %w", err)
	}
	return nil
}

// remove deletes rec's entry (a member leaving).
func (r *registry) remove(ctx context.Context, rec Record) error {
	if _, err := r.st.Remove(ctx, r.path(&rec), nil); err != nil {
		return fmt.Errorf("cluster: removing member record: %w", err)
	}
	return nil
}

// scan returns the fresh records (pulsed within the stale threshold) and
// removes the records that have been stale for ten thresholds. The removal
// runs only when this read found such a record, so that a healthy cluster's
// scans cost one read each: every member scans, so a scan that also
// selected (and locked) every record for removal would double the rows
// each member reads and hold up the other members' pulses.
func (r *registry) scan(ctx context.Context) ([]Record, error) {
	recs, err := r.st.Find(ctx, r.base+"*", nil)
	if err != nil {
		return nil, fmt.Errorf("cluster: scanning members: %w", err)
	}
	now := r.now().UnixMilli()
	cutoff := now - r.stale.Milliseconds()
	purge := now - 10*r.stale.Milliseconds()
	var out []Record
	dead := false
	for _, sr := range recs {
		var j recordJSON
		if err := json.Unmarshal(sr.Data, &j); err != nil || j.MemberID == "" {
			continue
		}
		if j.Timestamp < cutoff {
			dead = dead || j.Timestamp < purge
			continue
		}
		out = append(out, Record{j.MemberID, j.Name, j.ServiceName, j.Host, j.Port, j.URL, Status(j.Status), j.Timestamp, j.ReplicationPaths})
	}
	if dead {
		// the filter on the timestamp keeps a record that was pulsed
		// again since it was read
		q, err := query.Parse(json.RawMessage(fmt.Sprintf(`{"criteria":{"data.timestamp":{"$lt":%d}}}`, purge)))
		if err == nil {
			_, _ = r.st.Remove(ctx, r.base+"*", q)
		}
	}
	return out, nil
}
