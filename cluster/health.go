package cluster

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/happner-go/happner"
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
	// Cluster is this member's view of the cluster: itself first, then
	// the other members in the registry by name.
	Cluster []MemberView `json:"cluster"`
}

// MemberView is one member as another member sees it.
type MemberView struct {
	// Name and ServiceName identify the member.
	Name        string `json:"name"`
	ServiceName string `json:"serviceName"`
	// Status is the member's status in the registry.
	Status Status `json:"status"`
	// URL is where members reach it (its internal port).
	URL string `json:"url"`
	// ClientAddr is the client port of the member giving the view ("" for
	// the others, whose client ports are not in the registry).
	ClientAddr string `json:"clientAddr,omitempty"`
	// Self marks the member giving the view; Connected marks the members
	// it is connected to both ways.
	Self      bool `json:"self,omitempty"`
	Connected bool `json:"connected"`
	// Components are the member's components and their versions, from its
	// mesh description (system components left out); nil while unknown.
	Components map[string]string `json:"components"`
}

// Health reports the member's state.
func (m *Member) Health() Health {
	h, mesh, remote := m.healthSnapshot()
	if mesh != nil {
		h.Cluster[0].Components = componentVersions(mesh.Describe())
	}
	if remote != nil {
		for i := 1; i < len(h.Cluster); i++ {
			h.Cluster[i].Components = remote.impl.versions(h.Cluster[i].Name)
		}
	}
	return h
}

// healthSnapshot is Health without the components, read under m.mu.
func (m *Member) healthSnapshot() (Health, *happner.Mesh, *remote) {
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
	h.Cluster = []MemberView{{Name: m.self.Name, ServiceName: m.self.ServiceName, Status: m.status, URL: m.self.URL,
		ClientAddr: m.clientAddr, Self: true, Connected: true}}
	var others []MemberView
	for _, r := range m.fresh {
		if r.MemberID == m.self.MemberID {
			continue
		}
		p := m.peers[r.Name]
		others = append(others, MemberView{Name: r.Name, ServiceName: r.ServiceName, Status: r.Status, URL: r.URL,
			Connected: p != nil && p.announced})
	}
	sort.Slice(others, func(i, j int) bool { return others[i].Name < others[j].Name })
	h.Cluster = append(h.Cluster, others...)
	return h, m.mesh, m.remote
}

// componentVersions lists a description's components by name with their
// versions, system components left out.
func componentVersions(d *happner.Description) map[string]string {
	if d == nil {
		return nil
	}
	out := map[string]string{}
	for name, c := range d.Components {
		if !systemComponents[name] {
			out[name] = c.Version
		}
	}
	return out
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
