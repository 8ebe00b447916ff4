package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
)

// A member relays a peer's snapshots to its pages only while a page
// watches them: with no page open, no snapshot travels between members
// (relaying every snapshot to every member would cost each member in
// proportion to the cluster's size, every interval).
func TestDashboardRelaysOnlyWhileWatched(t *testing.T) {
	shared := newShared(t)
	var cfgs []Config
	for range 2 {
		c := testConfig("dep-dash", "svc", map[string]int{"svc": 1}, shared)
		c.Dashboard.IntervalMs = 40
		cfgs = append(cfgs, c)
	}
	ms := startAll(t, cfgs...)
	a, b := ms[0], ms[1]
	relayed := func() bool { return b.Mesh().Server().Watched(dashboard.NodePath(b.Name()), true) }

	time.Sleep(10 * 40 * time.Millisecond)
	if relayed() {
		t.Fatalf("%s subscribed to %s's snapshots while no page watched", a.Name(), b.Name())
	}

	// a page on a: a client watching the snapshots there
	ctx := context.Background()
	cl, err := client.New(ctx, client.Options{URL: "http://" + a.ClientAddr()})
	if err != nil {
		t.Fatal(err)
	}
	seen := watchPage(t, cl)
	deadline := time.After(5 * time.Second * slack())
	for got := map[string]bool{}; !got[a.Name()] || !got[b.Name()]; {
		select {
		case n := <-seen:
			got[n] = true
		case <-deadline:
			t.Fatalf("the page on %s saw the snapshots of %v, want both members", a.Name(), got)
		}
	}
	if !relayed() {
		t.Fatalf("the page sees %s's snapshots without a relay subscription", b.Name())
	}

	// the page goes: the relay is dropped a few intervals later
	_ = cl.Close()
	eventually(t, 3*time.Second, "the relay dropped once no page watches", func() bool { return !relayed() })
}

// A peer that refuses the relay subscription (the cluster user may not
// subscribe to the dashboard's paths there) costs the pages that peer's
// figures only: the member asks once per connection, its own snapshots
// still reach the page, and the cluster keeps working.
func TestDashboardRelayRefusedByPeer(t *testing.T) {
	shared := newShared(t)
	cfg := func() Config {
		c := testConfig("dep-dash-refused", "svc", map[string]int{"svc": 0}, shared)
		c.Happn.Secure = true
		c.Happn.AdminPassword = "secret"
		c.Membership.ClusterUsername, c.Membership.ClusterPassword = "member", "member-pw"
		c.Dashboard.IntervalMs = 40
		return c
	}
	a := startAll(t, cfg())[0]
	// the cluster user may do everything but watch the dashboard
	ctx := context.Background()
	sec := a.srv.Security()
	if _, err := sec.UpsertGroup(ctx, security.Group{Name: "members", Permissions: map[string]security.PermissionRule{
		"/*":                          {Actions: []string{"*"}},
		dashboard.Prefix + "/nodes/*": {Prohibit: []string{"on"}},
	}}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.UpsertUser(ctx, security.User{Username: "member", Password: "member-pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sec.LinkGroup(ctx, "members", "member", nil); err != nil {
		t.Fatal(err)
	}
	b := startAll(t, cfg())[0]
	eventually(t, 5*time.Second, "the members connected", func() bool {
		return len(a.Peers()) == 1 && len(b.Peers()) == 1
	})

	// a page on b, as _ADMIN
	cl, err := client.New(ctx, client.Options{URL: "http://" + b.ClientAddr(), Username: "_ADMIN", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	seen := watchPage(t, cl)
	select {
	case n := <-seen:
		if n != b.Name() {
			t.Fatalf("first snapshot from %s, want %s's own", n, b.Name())
		}
	case <-time.After(5 * time.Second * slack()):
		t.Fatalf("no snapshot of %s on its own page", b.Name())
	}
	// b asks a for its snapshots once, is refused, and does not ask again
	eventually(t, 3*time.Second, "the relay refused", func() bool { return refusals(t, a) >= 1 })
	refusedBefore := refusals(t, a)
	time.Sleep(20 * 40 * time.Millisecond)
	for len(seen) > 0 {
		if n := <-seen; n == a.Name() {
			t.Fatalf("the page on %s saw %s's snapshot through a refused relay", b.Name(), a.Name())
		}
	}
	if a.srv.Watched(dashboard.NodePath(a.Name()), true) {
		t.Fatalf("%s holds a relay subscription on %s", b.Name(), a.Name())
	}
	if n := refusals(t, a) - refusedBefore; n != 0 {
		t.Fatalf("%s asked %s again %v times after the refusal", b.Name(), a.Name(), n)
	}
}

// refusals is how many "on" requests m's server has refused so far
// (happner_security_denials_total{action="on"}).
func refusals(t *testing.T, m *Member) float64 {
	t.Helper()
	families, err := m.met.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "happner_security_denials_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == "on" {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// watchPage makes cl watch the dashboard's snapshots, as a page does,
// and returns the names of the nodes whose snapshots arrive.
func watchPage(t *testing.T, cl *client.Client) <-chan string {
	t.Helper()
	seen := make(chan string, 64)
	if _, err := dashboard.Watch(context.Background(), cl, func(s dashboard.Snapshot) {
		select {
		case seen <- s.Name:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	return seen
}
