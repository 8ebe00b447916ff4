package happner

import (
	"context"
	"sort"

	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/happn"
)

// The live page at /dashboard: the mesh serves it, and publishes its own
// snapshot every interval for it (package dashboard).

// dashboardSystem are the system components the dashboard leaves out.
var dashboardSystem = map[string]bool{"security": true, "system": true, "rest": true, "api": true, "data": true}

// Dashboard returns the mesh's dashboard publisher, nil when the
// dashboard is off. A cluster member adds its membership to it and relays
// its peers' snapshots through it.
func (m *Mesh) Dashboard() *dashboard.Publisher { return m.dash }

// mountDashboard serves the page and creates the publisher, when the
// dashboard is on.
func (m *Mesh) mountDashboard() {
	if !m.cfg.Dashboard.On() {
		return
	}
	h := dashboard.Handler()
	m.srv.Handle(dashboard.PagePath, h)
	m.srv.Handle(dashboard.PagePath+"/", h)
	m.dash = dashboard.NewPublisher(dashboard.Config{
		Interval: m.cfg.Dashboard.Interval(),
		Metrics:  m.met,
		Node:     m.dashboardNode,
		Logger:   m.log,
		Watched:  func(path string) bool { return m.srv.Watched(path, true) },
		Publish: func(ctx context.Context, path string, data []byte, relayed bool) error {
			_, err := m.srv.Publish(ctx, happn.PublishRequest{Path: path, Data: data, NoCluster: relayed})
			return err
		},
	})
}

// runDashboard publishes snapshots until the mesh stops.
func (m *Mesh) runDashboard() {
	if m.dash == nil {
		return
	}
	m.dashWG.Add(1)
	go func() {
		defer m.dashWG.Done()
		_ = m.dash.Run(m.ctx)
	}()
}

// dashboardNode describes the mesh for its snapshot.
func (m *Mesh) dashboardNode() dashboard.Node {
	n := dashboard.Node{Name: m.name, Domain: m.domain, Address: m.srv.Addr(), Secure: m.secure}
	for name, c := range m.Describe().Components {
		if dashboardSystem[name] || c == nil {
			continue
		}
		ci := dashboard.ComponentInfo{Name: name, Version: c.Version, Methods: make([]string, 0, len(c.Methods))}
		for meth := range c.Methods {
			ci.Methods = append(ci.Methods, meth)
		}
		sort.Strings(ci.Methods)
		n.Components = append(n.Components, ci)
	}
	sort.Slice(n.Components, func(i, j int) bool { return n.Components[i].Name < n.Components[j].Name })
	return n
}
