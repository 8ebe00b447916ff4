package browsertest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cluster"
	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/internal/clustertest"
	"github.com/happner-go/happner/internal/headless"
	"github.com/happner-go/happner/meshclient"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
)

// calc is a calculator whose divide fails on zero.
type calc struct{}

// Add adds two numbers.
func (calc) Add(a, b float64) (float64, error) { return a + b, nil }

// Divide divides a by b.
func (calc) Divide(a, b float64) (float64, error) {
	if b == 0 {
		return 0, happner.NewError("DivideByZero", "cannot divide by zero")
	}
	return a / b, nil
}

// HappnerSchema names the parameters.
func (calc) HappnerSchema() happner.ModuleSchema {
	two := []happner.Param{{Name: "a"}, {Name: "b"}}
	return happner.ModuleSchema{Version: "1.2.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"add": {Parameters: two}, "divide": {Parameters: two},
	}}}
}

// pricing answers prices, taking a little time as a real lookup would.
type pricing struct{ n *atomic.Int64 }

// Price returns the unit price of item.
func (p pricing) Price(item string) (float64, error) {
	time.Sleep(time.Duration(p.n.Add(1)%5) * 600 * time.Microsecond)
	return float64(len(item)) / 2, nil
}

// HappnerSchema names the parameters.
func (pricing) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Version: "1.0.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"price": {Parameters: []happner.Param{{Name: "item"}}},
	}}}
}

// orders places orders, priced by pricing on whichever member has it.
type orders struct{}

// Place prices qty of item and emits orders/placed.
func (orders) Place(h *happner.Happn, item string, qty float64) (float64, error) {
	unit, err := happner.Call[float64](h.Ctx, h.Exchange, "pricing", "price", item)
	if err != nil {
		return 0, err
	}
	_ = h.Emit("placed", map[string]any{"item": item, "qty": qty})
	return unit * qty, nil
}

// HappnerSchema declares the dependency on pricing.
func (orders) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{
		Version: "2.1.0",
		Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
			"place": {Parameters: []happner.Param{{Name: "item"}, {Name: "qty"}}},
		}},
		Dependencies: map[string]map[string]any{
			"orders": {"pricing": happner.Dependency{Version: "^1.0.0", Methods: []string{"price"}}},
		},
	}
}

// staleThreshold is the members' stale threshold in these tests: a
// stopped member must show as gone within it.
const staleThreshold = 2 * time.Second

// memberConfig is a member of the test cluster "shop": short intervals,
// the dashboard publishing five times a second.
func memberConfig(name, service string, deps map[string]int, shared store.Store, components map[string]any) cluster.Config {
	var c cluster.Config
	c.Name = name
	c.Domain = "shop"
	c.Logger = quiet
	c.Happn.Host = "127.0.0.1"
	c.Happn.Logger = quiet
	c.SharedStore = shared
	c.Dashboard = dashboard.Options{IntervalMs: 200}
	c.Membership = cluster.MembershipConfig{
		DeploymentID: "dashboard-test", ClusterName: "shop", ServiceName: service, Dependencies: deps,
		PulseInterval: 100 * time.Millisecond, MemberScanningInterval: 200 * time.Millisecond,
		StaleMemberThreshold: staleThreshold, DiscoverTimeout: 20 * time.Second, StabiliseTimeout: 20 * time.Second,
		SecurityChangeSetReplicateInterval: 100 * time.Millisecond,
	}
	c.Modules = map[string]happner.ModuleConfig{}
	c.Components = map[string]happner.ComponentConfig{}
	for n, v := range components {
		c.Modules[n] = happner.ModuleConfig{Instance: v}
		c.Components[n] = happner.ComponentConfig{}
	}
	return c
}

// startCluster starts the three members alpha (frontend: orders, calc),
// beta (backend: calc) and gamma (pricing: pricing), each waiting for the
// other two; they stop when the test ends.
func startCluster(t *testing.T) []*cluster.Member {
	t.Helper()
	shared := memory.New()
	t.Cleanup(func() { _ = shared.Close() })
	cfgs := []cluster.Config{
		memberConfig("alpha", "frontend", map[string]int{"backend": 1, "pricing": 1}, shared, map[string]any{"orders": orders{}, "calc": calc{}}),
		memberConfig("beta", "backend", map[string]int{"frontend": 1, "pricing": 1}, shared, map[string]any{"calc": calc{}}),
		memberConfig("gamma", "pricing", map[string]int{"frontend": 1, "backend": 1}, shared, map[string]any{"pricing": pricing{n: new(atomic.Int64)}}),
	}
	return clustertest.Start(t, 40*time.Second, cfgs...)
}

// traffic makes calls through websocket clients of the members until the
// test ends: additions, orders (priced on another member) and now and
// then a division by zero.
func traffic(t *testing.T, members ...*cluster.Member) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	for i, m := range members {
		c, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + m.ClientAddr()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Duration(15+10*i) * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				_ = c.Call(ctx, "calc", "add", []any{n, i})
				if n%9 == 0 {
					_ = c.Call(ctx, "calc", "divide", []any{n, 0})
				}
				if i == 0 {
					_ = c.Call(ctx, "orders", "place", []any{"pear", n % 5})
				}
			}
		}()
	}
}

// memberState is what the page shows of one member.
type memberState struct {
	State      string         `json:"state"`
	Components map[string]any `json:"components"` // name -> version
	Calls      map[string]int `json:"calls"`      // component.method -> calls
}

// readMembers returns what the page shows, by member name.
const readMembers = `
	const out = {};
	for (const card of document.querySelectorAll('[data-member]')) {
		const m = {state: card.dataset.state, components: {}, calls: {}};
		for (const c of card.querySelectorAll('[data-component]')) m.components[c.dataset.component] = c.dataset.version;
		for (const r of card.querySelectorAll('[data-method]')) m.calls[r.dataset.method] = Number(r.dataset.calls);
		out[card.dataset.member] = m;
	}
	return out;`

// The dashboard of a three-member cluster, loaded from one member, shows
// the three members and their components, its call counters move while
// clients make calls, and a member that stops shows as gone within the
// stale threshold, with a warning.
func TestClusterDashboard(t *testing.T) {
	members := startCluster(t)
	alpha, gamma := members[0], members[2]
	traffic(t, alpha, members[1])
	dir := screenshotDir(t)

	p := headless.Open(t, browser, "http://"+alpha.ClientAddr()+dashboard.PagePath, desktop)
	p.WaitFor("three members with their components", `
		const cards = document.querySelectorAll('[data-member][data-state="up"]');
		const names = [...cards].map((c) => c.dataset.member).sort().join(',');
		const comps = (n) => [...document.querySelectorAll('[data-member="' + n + '"] [data-component]')].map((c) => c.dataset.component).sort().join(',');
		return names === 'alpha,beta,gamma' && comps('alpha') === 'calc,orders' && comps('beta') === 'calc' && comps('gamma') === 'pricing';`, 0)
	var shown map[string]memberState
	p.Eval(readMembers, &shown)
	for name, want := range map[string]map[string]any{
		"alpha": {"calc": "1.2.0", "orders": "2.1.0"}, "beta": {"calc": "1.2.0"}, "gamma": {"pricing": "1.0.0"},
	} {
		if got := shown[name].Components; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s shows the components %v, want %v", name, got, want)
		}
	}
	for _, method := range []string{"calc.add", "calc.divide", "orders.place"} {
		if _, ok := shown["alpha"].Calls[method]; !ok {
			t.Errorf("alpha does not show the method %s: %v", method, shown["alpha"].Calls)
		}
	}

	// the counters move while the clients call
	before := shown
	p.WaitFor("the call counters to increase", fmt.Sprintf(`
		const calls = (m, k) => Number((document.querySelector('[data-member="' + m + '"] [data-method="' + k + '"]') || {dataset: {}}).dataset.calls || 0);
		return calls('alpha', 'calc.add') >= %d && calls('beta', 'calc.add') >= %d && calls('gamma', 'pricing.price') >= %d;`,
		before["alpha"].Calls["calc.add"]+20, before["beta"].Calls["calc.add"]+10, before["gamma"].Calls["pricing.price"]+10), 0)
	p.WaitFor("a call rate and an error count on the page", `
		const row = document.querySelector('[data-member="alpha"] [data-method="calc.divide"]');
		const stat = [...document.querySelectorAll('.stat')].find((s) => s.textContent.includes('calls / s'));
		return row && row.children[3].textContent !== '0' && stat && Number(stat.querySelector('.v').textContent.replace(/,/g, '')) > 0;`, 0)

	// a member that stops is shown as gone within the stale threshold
	stopped := time.Now()
	clustertest.Stop(gamma)
	p.WaitFor("gamma shown as gone", `
		const card = document.querySelector('[data-member="gamma"]');
		return !!card && card.dataset.state === 'gone';`, staleThreshold-time.Since(stopped))
	t.Logf("gamma shown as gone %s after it stopped", time.Since(stopped).Round(time.Millisecond))
	p.WaitFor("the warnings of gamma's departure", `
		const kinds = [...document.querySelectorAll('#warnings [data-kind]')].map((w) => w.dataset.kind + ':' + w.textContent);
		return kinds.some((k) => k.startsWith('member-left') && k.includes('gamma')) &&
			kinds.some((k) => k.startsWith('dependency-missing') && k.includes('orders needs pricing'));`, 0)
	p.Eval(readMembers, &shown)
	for _, name := range []string{"alpha", "beta"} {
		// up, or unstable while the member misses its pricing dependency
		if st := shown[name].State; st != "up" && st != "unstable" {
			t.Errorf("%s, still running, is shown as %q", name, st)
		}
	}
	time.Sleep(time.Second) // rates over a full window of the remaining traffic
	noHorizontalScroll(t, p)
	screenshot(t, p, dir, "dashboard-desktop.png")

	ph := headless.Open(t, browser, "http://"+alpha.ClientAddr()+dashboard.PagePath, phone)
	ph.WaitFor("the members on the phone", `return document.querySelectorAll('[data-member]').length === 3;`, 0)
	noHorizontalScroll(t, ph)
	screenshot(t, ph, dir, "dashboard-phone.png")

	// a part that did not change is left alone: redrawing it four times a
	// second cost the browser a tenth of a core and lost the reader's
	// text selection
	p.Eval(`window.keptWarning = document.querySelector('#warnings li'); window.keptAt = Date.now();`, nil)
	time.Sleep(1500 * time.Millisecond)
	var kept bool
	p.Eval(`return window.keptWarning.isConnected;`, &kept)
	if !kept {
		t.Error("the unchanged warnings were redrawn")
	}

	// when the node serving the page stops, the page says so and shows the
	// others as they were last seen, not as gone
	clustertest.Stop(alpha)
	p.WaitFor("the page to see its connection lost", `return document.getElementById('conn').dataset.state === 'lost';`, 0)
	time.Sleep(staleThreshold + 500*time.Millisecond)
	p.Eval(readMembers, &shown)
	if st := shown["beta"].State; st == "gone" {
		t.Error("beta, still running, is shown as gone because the page lost its own node")
	}
	var note string
	p.Eval(`return document.querySelector('[data-member="beta"]').textContent;`, &note)
	if !strings.Contains(note, "connection to alpha is lost") {
		t.Errorf("beta's card does not say the page's connection is lost: %q", note)
	}
}
