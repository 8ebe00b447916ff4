package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/meshclient"
	"github.com/happner-go/happner/store"
)

// brokerComponent is the edge's component that declares $broker.
type brokerComponent struct{}

// Ping answers "pong".
func (brokerComponent) Ping() string { return "pong" }

// webWorker is a worker with a web route reporting the member it ran on.
type webWorker struct{ worker }

// TestJSON answers {"ran_on": <member>}.
func (webWorker) TestJSON(h *happner.Happn, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"ran_on": h.Info.Mesh.Name})
}

// edgeConfig is an edge member whose component "broker" brokers the
// components of section (the $broker map, JSON).
func edgeConfig(t *testing.T, dep string, shared store.Store, internal int, section string) Config {
	t.Helper()
	c := testConfig(dep, "edge", map[string]int{"internal": internal}, shared)
	c.Cluster.ResponseTimeout = 3 * time.Second * slack()
	var brokered map[string]any
	if err := json.Unmarshal([]byte(section), &brokered); err != nil {
		t.Fatal(err)
	}
	c.Modules = map[string]happner.ModuleConfig{"broker": {Instance: brokerComponent{}, Version: "1.0.1"}}
	c.Components = map[string]happner.ComponentConfig{"broker": {Dependencies: map[string]any{BrokerKey: brokered}}}
	return c
}

// internalConfig is an internal member with worker components name → version.
func internalConfig(dep string, shared store.Store, versions map[string]string) Config {
	c := withComponents(testConfig(dep, "internal", nil, shared), versions)
	c.Cluster.ResponseTimeout = 3 * time.Second * slack()
	return c
}

func startOne(t *testing.T, c Config) *Member {
	t.Helper()
	return startAll(t, c)[0]
}

func login(t *testing.T, m *Member) *meshclient.Client {
	t.Helper()
	cl, err := meshclient.Login(context.Background(), meshclient.Options{URL: "http://" + m.ClientAddr()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func clientCall(ctx context.Context, cl *meshclient.Client, comp, method string, args ...any) (string, error) {
	var out string
	err := cl.Call(ctx, comp, method, args, &out)
	return out, err
}

// errMessage is an error's message without its name ("" for nil).
func errMessage(err error) string {
	if err == nil {
		return ""
	}
	var he *happner.Error
	if errors.As(err, &he) {
		return he.Message
	}
	return err.Error()
}

func awaitEntries(t *testing.T, m *Member, want int, remote int) {
	t.Helper()
	eventually(t, 5*time.Second, fmt.Sprintf("%d brokered entries (%d remote)", want, remote), func() bool {
		es := m.BrokeredEntries()
		n := 0
		for _, e := range es {
			if e.MeshName != "" {
				n++
			}
		}
		return len(es) == want && n == remote
	})
}

// Port of happner-cluster 09-cluster-broker: the edge exposes the brokered
// component (placeholder with the declared methods, then the internal
// member's), calls and errors pass through, events reach edge clients,
// REST works, a component not yet present is Not implemented, and two
// brokers of one name fail startup.
func Test09_ClusterBroker(t *testing.T) {
	ctx := context.Background()
	section := `{"remoteComponent": {"version": "^2.0.0", "methods": {"method1": {}, "fail": {}, "fire": {}}}}`
	for _, order := range []string{"edge-first", "internal-first"} {
		t.Run(order, func(t *testing.T) {
			shared := newShared(t)
			dep := "b09-" + order
			var edge, internal *Member
			if order == "edge-first" {
				edge = startOne(t, edgeConfig(t, dep, shared, 0, section))
				cl := login(t, edge)
				// placeholder: declared methods, version = range, brokered
				d := cl.Description()
				if !d.Brokered || d.Components["remoteComponent"] == nil || d.Components["remoteComponent"].Version != "^2.0.0" {
					t.Fatalf("placeholder description: %+v", d.Components["remoteComponent"])
				}
				if _, err := clientCall(ctx, cl, "remoteComponent", "method1", "x"); errMessage(err) != "Not implemented remoteComponent:^2.0.0:method1" {
					t.Fatalf("before the internal member: %v", err)
				}
				internal = startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
			} else {
				internal = startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
				edge = startOne(t, edgeConfig(t, dep, shared, 1, section))
			}
			awaitEntries(t, edge, 1, 1)
			cl := login(t, edge)
			got, err := clientCall(ctx, cl, "remoteComponent", "method1", "hello")
			if err != nil || got != internal.Name()+":hello" {
				t.Fatalf("brokered call: %q %v", got, err)
			}
			// the dynamic component has every method of the internal member
			if cd := edge.Mesh().Describe().Components["remoteComponent"]; cd.Version != "2.0.0" || cd.Methods["whoAmI"] == nil || cd.Methods["slow"] == nil {
				t.Fatalf("dynamic description: %+v", cd)
			}
			if _, err := clientCall(ctx, cl, "remoteComponent", "fail"); errMessage(err) != "test error" {
				t.Fatalf("remote error: %v", err)
			}
			events := make(chan happner.Event, 4)
			if _, err := cl.On(ctx, "remoteComponent", "brokered-event", func(ev happner.Event) { events <- ev }); err != nil {
				t.Fatal(err)
			}
			if err := cl.Call(ctx, "remoteComponent", "fire", []any{"brokered-event"}); err != nil {
				t.Fatal(err)
			}
			select {
			case ev := <-events:
				if !strings.Contains(string(ev.Data), internal.Name()) {
					t.Fatalf("event data %s", ev.Data)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("brokered event not delivered to the edge client")
			}
			// REST on the edge
			resp, err := http.Post("http://"+edge.ClientAddr()+"/rest/method/remoteComponent/method1", "application/json", strings.NewReader(`{"parameters":{"arg0":"rest"}}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var rep struct {
				Data  string          `json:"data"`
				Error json.RawMessage `json:"error"`
			}
			if err := json.Unmarshal(body, &rep); err != nil || rep.Data != internal.Name()+":rest" {
				t.Fatalf("REST through the broker: %s", body)
			}
			// a brokered member's components are ignored by the others
			if impl := internal.Implementors("broker", ""); len(impl) != 0 {
				t.Fatalf("internal member uses the edge's components: %v", impl)
			}
		})
	}
	t.Run("duplicate", func(t *testing.T) {
		shared := newShared(t)
		c := edgeConfig(t, "b09-dup", shared, 0, `{"remoteComponent": {"version": "^2.0.0", "methods": {"method1": {}}}}`)
		c.Modules["broker2"] = happner.ModuleConfig{Instance: brokerComponent{}}
		c.Components["broker2"] = happner.ComponentConfig{Dependencies: map[string]any{BrokerKey: map[string]any{
			"remoteComponent": map[string]any{"version": "^3.0.0", "methods": map[string]any{"method1": map[string]any{}}},
		}}}
		m, err := Create(ctx, c)
		if m != nil {
			_ = m.Stop(ctx)
		}
		if err == nil || !strings.HasSuffix(err.Error(), "Duplicate attempts to broker the remoteComponent component by broker & broker2") {
			t.Fatalf("duplicate brokers: %v", err)
		}
	})
}

// Port of happner-cluster 10-cluster-broker-dynamic: no declared methods;
// every member implementing a brokered component adds an entry (2 × 2),
// calls round-robin, departures drop entries and leave placeholders,
// calls then fail Not implemented, and arrivals restore the entries.
func Test10_ClusterBrokerDynamic(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b10"
	section := `{"remoteComponent": {"version": "^2.0.0"}, "remoteComponent1": {"version": "^2.0.0"}}`
	comps := map[string]string{"remoteComponent": "2.0.0", "remoteComponent1": "2.1.0"}
	ms := startAll(t, internalConfig(dep, shared, comps), internalConfig(dep, shared, comps))
	edge := startOne(t, edgeConfig(t, dep, shared, 2, section))
	awaitEntries(t, edge, 4, 4)
	cl := login(t, edge)
	eventually(t, 3*time.Second, "dynamic methods on the client", func() bool {
		cd := cl.Description().Components["remoteComponent1"]
		return cd != nil && cd.Methods["method1"] != nil
	})
	seen := map[string]int{}
	for i := range 4 {
		got, err := clientCall(ctx, cl, "remoteComponent1", "method1", fmt.Sprint(i))
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.Split(got, ":")[0]]++
	}
	if seen[ms[0].Name()] != 2 || seen[ms[1].Name()] != 2 {
		t.Fatalf("round-robin: %v", seen)
	}
	if err := ms[0].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	awaitEntries(t, edge, 2, 2)
	for range 3 {
		got, err := clientCall(ctx, cl, "remoteComponent", "method1", "x")
		if err != nil || got != ms[1].Name()+":x" {
			t.Fatalf("failover: %q %v", got, err)
		}
	}
	if err := ms[1].Stop(ctx); err != nil {
		t.Fatal(err)
	}
	awaitEntries(t, edge, 2, 0)
	if _, err := clientCall(ctx, cl, "remoteComponent1", "method1", "x"); errMessage(err) != "Not implemented remoteComponent1:^2.0.0:method1" {
		t.Fatalf("after every member left: %v", err)
	}
	if cd := edge.Mesh().Describe().Components["remoteComponent1"]; cd.Methods["method1"] == nil {
		t.Fatalf("placeholder lost the methods: %+v", cd)
	}
	startOne(t, internalConfig(dep, shared, comps))
	awaitEntries(t, edge, 2, 2)
	startOne(t, internalConfig(dep, shared, comps))
	awaitEntries(t, edge, 4, 4)
	if _, err := clientCall(ctx, cl, "remoteComponent", "method1", "back"); err != nil {
		t.Fatal(err)
	}
}

// Port of happner-cluster 10's origin checks on a secure cluster: the
// internal method sees the edge client's user as $origin.
func Test10_ClusterBrokerOriginPreserved(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b10o"
	in := internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"})
	edge := edgeConfig(t, dep, shared, 1, `{"remoteComponent": {"version": "^2.0.0", "methods": {"whoAmI": {}}}}`)
	for _, c := range []*Config{&in, &edge} {
		c.Happn.Secure = true
		c.Happn.AdminPassword = "secret"
	}
	startOne(t, in)
	e := startOne(t, edge)
	awaitEntries(t, e, 1, 1)
	cl, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + e.ClientAddr(), Username: "_ADMIN", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got, err := clientCall(ctx, cl, "remoteComponent", "whoAmI")
	if err != nil || got != "_ADMIN" {
		t.Fatalf("origin through the broker: %q %v", got, err)
	}
}

// Port of happner-cluster 15-cluster-broker-deferred-listen: the edge's
// client port stays closed until the internal member arrives.
func Test15_BrokerDeferredListen(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b15"
	c := edgeConfig(t, dep, shared, 0, `{"remoteComponent": {"version": "^2.0.0", "methods": {"method1": {}}}}`)
	c.Cluster.DependenciesSatisfiedDeferListen = true
	c.Proxy.Port = freePort(t)
	edge := startOne(t, c)
	if a := edge.ClientAddr(); a != "" {
		t.Fatalf("client port open before the dependencies: %s", a)
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.Proxy.Port), time.Second); err == nil {
		conn.Close()
		t.Fatal("connection accepted before the dependencies were satisfied")
	} else if !strings.Contains(err.Error(), "refused") {
		t.Fatalf("want ECONNREFUSED, got %v", err)
	}
	internal := startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
	eventually(t, 5*time.Second, "the client port", func() bool { return edge.ClientAddr() != "" })
	cl := login(t, edge)
	got, err := clientCall(ctx, cl, "remoteComponent", "method1", "late")
	if err != nil || got != internal.Name()+":late" {
		t.Fatalf("call after deferred listen: %q %v", got, err)
	}
}

// Port of happner-cluster 18-cluster-broker-no-publish-schema-deferred-
// listen: once the deferred port is open, description changes are stored
// without being published while internal members come and go.
func Test18_NoSchemaPublishAfterDeferredListen(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b18"
	c := edgeConfig(t, dep, shared, 0, `{"remoteComponent": {"version": "^2.0.0", "methods": {"method1": {}}}}`)
	c.Cluster.DependenciesSatisfiedDeferListen = true
	edge := startOne(t, c)
	first := startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
	eventually(t, 5*time.Second, "the client port", func() bool { return edge.ClientAddr() != "" })
	cl := login(t, edge)
	var mu sync.Mutex
	publications := 0
	if _, err := cl.Data().On(ctx, happner.DescriptionPath, client.OnOptions{}, func(client.Event) {
		mu.Lock()
		publications++
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	awaitEntries(t, edge, 1, 0)
	// a higher version with a new method makes the edge rebuild the component
	withNew := internalConfig(dep, shared, map[string]string{"remoteComponent": "2.5.0"})
	withNew.Modules["remoteComponent"] = happner.ModuleConfig{Instance: webWorker{}, Version: "2.5.0"}
	startOne(t, withNew)
	awaitEntries(t, edge, 1, 1)
	eventually(t, 3*time.Second, "the rebuilt component", func() bool {
		cd := edge.Mesh().Describe().Components["remoteComponent"]
		return cd.Version == "2.5.0"
	})
	// the stored description changed; nothing was published
	res, err := cl.Data().Get(ctx, happner.DescriptionPath)
	if err != nil || len(res.Items) == 0 || !strings.Contains(string(res.Items[0].Data), `"2.5.0"`) {
		t.Fatalf("stored description not updated: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if publications != 0 {
		t.Fatalf("%d description publications after the port opened", publications)
	}
}

// Port of happner-cluster 16-cluster-broker-web: a brokered web route is
// served through the edge by the members that have it, sticky per token,
// failing over when a member leaves.
func Test16_BrokerWebProxy(t *testing.T) {
	shared := newShared(t)
	dep := "b16"
	mk := func() Config {
		c := internalConfig(dep, shared, map[string]string{"remoteComponent1": "2.0.0"})
		c.Modules["remoteComponent1"] = happner.ModuleConfig{Instance: webWorker{}, Version: "2.0.0"}
		c.Components["remoteComponent1"] = happner.ComponentConfig{Web: json.RawMessage(`{"routes":{"testJSON":"testJSON"}}`)}
		return c
	}
	ms := startAll(t, mk(), mk())
	edge := startOne(t, edgeConfig(t, dep, shared, 2, `{"remoteComponent1": {"version": "^2.0.0"}}`))
	awaitEntries(t, edge, 2, 2)
	get := func(token string) (string, int) {
		u := "http://" + edge.ClientAddr() + "/remoteComponent1/testJSON"
		if token != "" {
			u += "?happn_token=" + token
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			RanOn string `json:"ran_on"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out.RanOn, resp.StatusCode
	}
	// sticky per token; tokens spread over both members
	onFor := map[string]string{}
	used := map[string]bool{}
	for i := range 12 {
		tok := fmt.Sprintf("token-%d", i)
		first, code := get(tok)
		if code != http.StatusOK || first == "" {
			t.Fatalf("proxied route: %d %q", code, first)
		}
		for range 3 {
			if again, _ := get(tok); again != first {
				t.Fatalf("token %s moved from %s to %s", tok, first, again)
			}
		}
		onFor[tok] = first
		used[first] = true
	}
	if !used[ms[0].Name()] || !used[ms[1].Name()] {
		t.Fatalf("tokens all on one member: %v", onFor)
	}
	if err := ms[0].Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	awaitEntries(t, edge, 1, 1)
	for tok, was := range onFor {
		now, code := get(tok)
		if code != http.StatusOK || now != ms[1].Name() {
			t.Fatalf("failover of %s (was on %s): %d %q", tok, was, code, now)
		}
		if was == ms[1].Name() && now != was {
			t.Fatalf("token %s moved although its member stayed", tok)
		}
	}
}

// Port of happner-cluster 35-rest-component-update: the edge's
// /rest/describe gains a brokered member's methods when it joins and keeps
// them after it leaves.
func Test35_RestComponentUpdate(t *testing.T) {
	shared := newShared(t)
	dep := "b35"
	edge := startOne(t, edgeConfig(t, dep, shared, 0, `{"remoteComponent2": {"version": "^2.0.0"}}`))
	describe := func() map[string]any {
		resp, err := http.Get("http://" + edge.ClientAddr() + "/rest/describe")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rep struct {
			Data map[string]any `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
			t.Fatal(err)
		}
		return rep.Data
	}
	if d := describe(); d["/remoteComponent2/method1"] != nil {
		t.Fatalf("method listed before the member joined: %v", d)
	}
	internal := startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent2": "2.0.0"}))
	eventually(t, 5*time.Second, "describe lists the brokered method", func() bool { return describe()["/remoteComponent2/method1"] != nil })
	if err := internal.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	awaitEntries(t, edge, 1, 0)
	if describe()["/remoteComponent2/method1"] == nil {
		t.Fatal("describe lost the method after the member left")
	}
}

// Port of happner-cluster 28-cluster-broker-wildcard-version: a broker of
// range * with forward-declared methods gains the internal member's other
// methods, whether the edge or the internal member starts first.
func Test28_BrokerWildcardVersion(t *testing.T) {
	ctx := context.Background()
	for _, edgeFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("edgeFirst=%v", edgeFirst), func(t *testing.T) {
			shared := newShared(t)
			dep := fmt.Sprintf("b28-%v", edgeFirst)
			ec := edgeConfig(t, dep, shared, 0, `{"remoteComponent": {"version": "*", "methods": {"method1": {}}}}`)
			ic := internalConfig(dep, shared, map[string]string{"remoteComponent": "3.1.0"})
			var edge *Member
			if edgeFirst {
				edge = startOne(t, ec)
				startOne(t, ic)
			} else {
				startOne(t, ic)
				edge = startOne(t, ec)
			}
			awaitEntries(t, edge, 1, 1)
			cd := edge.Mesh().Describe().Components["remoteComponent"]
			if cd.Version != "3.1.0" || cd.Methods["method1"] == nil || cd.Methods["whoAmI"] == nil {
				t.Fatalf("extended description: version %s methods %v", cd.Version, cd.Methods)
			}
			cl := login(t, edge)
			if got, err := clientCall(ctx, cl, "remoteComponent", "slow", 1); err != nil || got == "" {
				t.Fatalf("undeclared method through the broker: %q %v", got, err)
			}
		})
	}
}

// The web proxy's consistent hash: a token keeps its member while the
// member stays, and only the tokens of a removed member move.
func TestWebProxyPickIsStickyAndMinimal(t *testing.T) {
	urls := []string{"http://127.0.0.1:1001", "http://127.0.0.1:1002", "http://127.0.0.1:1003"}
	count := map[string]int{}
	for i := range 300 {
		tok := fmt.Sprintf("tok-%d", i)
		u := pick(urls, tok)
		if pick(urls, tok) != u {
			t.Fatalf("token %s not sticky", tok)
		}
		count[u]++
		if after := pick(urls[:2], tok); u != urls[2] && after != u {
			t.Fatalf("token %s moved from %s to %s although its member stayed", tok, u, after)
		}
	}
	for _, u := range urls {
		if count[u] < 50 {
			t.Fatalf("uneven spread: %v", count)
		}
	}
	if pick(nil, "x") != "" {
		t.Fatal("pick without members")
	}
}

// A brokered call waits for the other member without a goroutine: it still
// times out, fails at once when the member it waits for leaves, and does
// not hold up the edge's stop.
func TestBrokeredCallEnds(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	const dep = "b-async-end"
	section := `{"remoteComponent": {"version": "^2.0.0", "methods": {"slow": {}}}}`
	internal := startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
	ec := edgeConfig(t, dep, shared, 1, section)
	ec.Cluster.ResponseTimeout = 300 * time.Millisecond
	edge := startOne(t, ec)
	awaitEntries(t, edge, 1, 1)
	cl := login(t, edge)

	if _, err := clientCall(ctx, cl, "remoteComponent", "slow", 2000); errMessage(err) != "Timeout awaiting response on remoteComponent.slow version: ^2.0.0" {
		t.Fatalf("slow brokered call: %v, want the response timeout", err)
	}
	if got, err := clientCall(ctx, cl, "remoteComponent", "slow", 1); err != nil || got != internal.Mesh().Name() {
		t.Fatalf("quick brokered call after a timeout: %q %v", got, err)
	}

	// the edge stops with a call in flight: the call ends, the stop returns
	done := make(chan error, 1)
	go func() {
		_, err := clientCall(ctx, cl, "remoteComponent", "slow", 250)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	began := time.Now()
	if err := edge.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Errorf("the edge took %s to stop with a brokered call in flight", d)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the brokered call in flight never ended")
	}
}

// Calls that reach the edge together (one client, many in flight: its
// reader handles them as one batch) are sent on to the internal member
// together, at the end of the batch, and each gets its own answer.
func TestBrokeredCallsOfOneBatch(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	section := `{"remoteComponent": {"version": "^2.0.0", "methods": {"method1": {}}}}`
	internal := startOne(t, internalConfig("b-batch", shared, map[string]string{"remoteComponent": "2.0.0"}))
	edge := startOne(t, edgeConfig(t, "b-batch", shared, 1, section))
	awaitEntries(t, edge, 1, 1)
	cl := login(t, edge)
	const calls = 300
	errs := make(chan error, calls)
	var wg sync.WaitGroup
	for i := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			arg := fmt.Sprintf("call-%d", i)
			got, err := clientCall(ctx, cl, "remoteComponent", "method1", arg)
			if err == nil && got != internal.Name()+":"+arg {
				err = fmt.Errorf("%s answered %q", arg, got)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
