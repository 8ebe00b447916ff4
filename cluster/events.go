package cluster

import (
	"encoding/json"
	"strings"

	"github.com/happner-go/happner/happn"
)

// componentVersionMeta is the meta both component events and version-aware
// subscriptions carry.
type componentVersionMeta struct {
	ComponentVersion string `json:"componentVersion"`
}

// filterEventVersions is happner-cluster's filter-event-versions, installed as
// the server's delivery filter: a component event reaches a subscription that
// asked for a version range only when the event's componentVersion (coerced)
// satisfies it. Anything it cannot read keeps the subscription.
// The answers are memoised in cache (the filter runs for every delivery).
func filterEventVersions(cache *satisfiesCache, pub *happn.Publication, subMeta json.RawMessage) bool {
	if !strings.HasPrefix(pub.Path, "/_events/") {
		return true
	}
	var pm, sm componentVersionMeta
	if json.Unmarshal(pub.Meta, &pm) != nil || json.Unmarshal(subMeta, &sm) != nil {
		return true
	}
	if pm.ComponentVersion == "" || sm.ComponentVersion == "" {
		return true
	}
	return cache.accepts(pm.ComponentVersion, sm.ComponentVersion)
}

// eventVersionOK is the client-side half: an event whose
// meta.componentVersion does not satisfy rng is dropped.
func eventVersionOK(cache *satisfiesCache, fields map[string]json.RawMessage, rng string) bool {
	if rng == "" || rng == "*" {
		return true
	}
	var v string
	if json.Unmarshal(fields["componentVersion"], &v) != nil || v == "" {
		return true
	}
	return cache.satisfies(v, rng)
}
