package cluster

import (
	"encoding/json"
	"net/http"
	"sort"
)

// Health is a member's state for operators (the health endpoint's body).
type Health struct {
	// MemberID, Name, ServiceName and ClusterName identify the member.
	MemberID    string `json:"memberId"`
	Name        string `json:"name"`
	ServiceName string `json:"serviceName"`
	ClusterName string `json:"clusterName"`
	// URL is the internal url; ClientAddr the client port ("" while closed).
	URL        string `json:"url"`
	ClientAddr string `json:"clientAddr"`
	// Status is the registry status; Healthy is true when it is STABLE.
	Status  Status `json:"status"`
	Healthy bool   `json:"healthy"`
	// Members are the other members in the registry; Peers those
	// connected both ways; Unstable describes what incomplete peers lack.
	Members  []string `json:"members"`
	Peers    []string `json:"peers"`
	Unstable string   `json:"unstable,omitempty"`
	// RegistryError is the last registry error, while errors last.
	RegistryError string `json:"registryError,omitempty"`
}

// Health reports the member's state.
func (m *Member) Health() Health {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := Health{
		MemberID: m.self.MemberID, Name: m.self.Name, ServiceName: m.self.ServiceName, ClusterName: m.mc.ClusterName,
		URL: m.self.URL, ClientAddr: m.clientAddr, Status: m.status, Healthy: m.status == StatusStable,
		Members: []string{}, Peers: []string{}, Unstable: m.unstableLocked(),
	}
	for _, r := range m.fresh {
		h.Members = append(h.Members, r.Name)
	}
	for n, p := range m.peers {
		if p.announced {
			h.Peers = append(h.Peers, n)
		}
	}
	sort.Strings(h.Members)
	sort.Strings(h.Peers)
	if m.lastErr != nil {
		h.RegistryError = m.lastErr.Error()
	}
	return h
}

// healthHandler serves Health as JSON: 200 when stable, 503 otherwise.
func healthHandler(m *Member) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := m.Health()
		w.Header().Set("Content-Type", "application/json")
		if !h.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(h)
	})
}
