package happner_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
)

// adder is a component for the dashboard's snapshot.
type adder struct{}

// Add adds.
func (adder) Add(a, b int) (int, error) { return a + b, nil }

func TestDashboardConfigKeys(t *testing.T) {
	cfg, err := happner.ParseConfig([]byte("name: m\ndashboard:\n  enabled: false\n  intervalMs: 250\n"), "yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Dashboard.On() || cfg.Dashboard.Interval() != 250*time.Millisecond {
		t.Errorf("dashboard options %+v", cfg.Dashboard)
	}
	cfg, err = happner.ParseConfig([]byte(`{"name": "m"}`), "json")
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Dashboard.On() || cfg.Dashboard.Interval() != dashboard.DefaultInterval {
		t.Errorf("default dashboard options %+v", cfg.Dashboard)
	}
}

// startDashboardMesh starts a mesh with the component adder and the
// given dashboard options.
func startDashboardMesh(t *testing.T, o dashboard.Options) *happner.Mesh {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := happner.Create(ctx, happner.Config{
		Name: "dash", Logger: quietLogger(), Dashboard: o,
		Happn:      happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Modules:    map[string]happner.ModuleConfig{"adder": {Instance: adder{}, Version: "3.1.4"}},
		Components: map[string]happner.ComponentConfig{"adder": {}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

func getStatus(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// A mesh serves the page and publishes its snapshot: its name, its
// components with their methods, and the calls counted.
func TestDashboardPublishesTheMesh(t *testing.T) {
	m := startDashboardMesh(t, dashboard.Options{IntervalMs: 50})
	if code := getStatus(t, "http://"+m.Addr()+dashboard.PagePath); code != http.StatusOK {
		t.Errorf("GET /dashboard: %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Options{URL: "http://" + m.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	snaps := make(chan dashboard.Snapshot, 64)
	if _, err := dashboard.Watch(ctx, c, func(s dashboard.Snapshot) { snaps <- s }); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := m.Exchange().Call(ctx, "adder", "add", []any{1, 2}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for {
		select {
		case s := <-snaps:
			if s.Name != "dash" || s.Domain != "dash" || s.Address != m.Addr() || len(s.Components) != 1 {
				t.Fatalf("snapshot %+v", s)
			}
			a := s.Components[0]
			if a.Name != "adder" || a.Version != "3.1.4" || len(a.Methods) != 1 || a.Methods[0].Name != "add" {
				t.Fatalf("component %+v", a)
			}
			if a.Calls == 3 {
				return
			}
		case <-ctx.Done():
			t.Fatal("no snapshot counting the three calls")
		}
	}
}

// With dashboard.enabled false there is no page and nothing published.
func TestDashboardOff(t *testing.T) {
	off := false
	m := startDashboardMesh(t, dashboard.Options{Enabled: &off, IntervalMs: 20})
	if m.Dashboard() != nil {
		t.Error("a publisher with the dashboard off")
	}
	if code := getStatus(t, "http://"+m.Addr()+dashboard.PagePath); code != http.StatusNotFound {
		t.Errorf("GET /dashboard with the dashboard off: %d, want 404", code)
	}
}
