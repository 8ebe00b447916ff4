package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/meshclient"
)

// Port of happner-cluster 01-integration-start-instance: one member with
// default settings starts and a MeshClient connects to its client port (a
// free port instead of 55000, so tests can run side by side).
func Test01_StartInstance(t *testing.T) {
	shared := newShared(t)
	c := testConfig("dep-01", "svc", nil, shared)
	c.Proxy.Port = freePort(t)
	m := startOne(t, c)
	if m.Status() != StatusStable {
		t.Fatalf("status %s", m.Status())
	}
	if want := fmt.Sprintf("127.0.0.1:%d", c.Proxy.Port); m.ClientAddr() != want {
		t.Fatalf("client port %s, want %s", m.ClientAddr(), want)
	}
	cl := login(t, m)
	if d := cl.Description(); d.Name != "DOMAIN_NAME" || d.Initializing || d.Components["security"] == nil {
		t.Fatalf("description %q initializing=%v", d.Name, d.Initializing)
	}
}

// Port of happner-cluster 21-event-propogation-from-broker: sets through
// the data component raise /_data/data/... events only on their member,
// and /_events/DOMAIN_NAME/data/... events on every member, whether the
// broker or the internal member starts first, with or without a data
// component on the broker.
func Test21_EventPropagationFromBroker(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name              string
		brokerFirst, data bool
	}{{"broker first", true, true}, {"internal first", false, true}, {"broker without data", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			shared := newShared(t)
			dep := "b21-" + strings.ReplaceAll(tc.name, " ", "-")
			internalN := 1
			if tc.brokerFirst {
				internalN = 0
			}
			ec := edgeConfig(t, dep, shared, internalN, `{"remoteComponent": {"version": "^2.0.0", "methods": {"method1": {}}}}`)
			if tc.data {
				ec.Components["data"] = happner.ComponentConfig{}
			}
			ic := internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"})
			ic.Components["data"] = happner.ComponentConfig{}
			// happner-cluster's default (replicate unset): only the domain's
			// event paths; a nil ReplicationPaths replicates everything here
			for _, c := range []*Config{&ec, &ic} {
				c.Membership.ReplicationPaths = []string{"/_events/DOMAIN_NAME/**"}
			}
			var edge, internal *Member
			if tc.brokerFirst {
				edge = startOne(t, ec)
				internal = startOne(t, ic)
			} else {
				internal = startOne(t, ic)
				edge = startOne(t, ec)
			}
			awaitEntries(t, edge, 1, 1)
			type counts struct{ data, events atomic.Int32 }
			listen := func(m *Member) *counts {
				var c counts
				cl, err := client.New(ctx, client.Options{URL: "http://" + m.ClientAddr()})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cl.Close() })
				if _, err := cl.On(ctx, "/_data/data/**", client.OnOptions{}, func(client.Event) { c.data.Add(1) }); err != nil {
					t.Fatal(err)
				}
				if _, err := cl.On(ctx, "/_events/DOMAIN_NAME/data/**", client.OnOptions{}, func(client.Event) { c.events.Add(1) }); err != nil {
					t.Fatal(err)
				}
				return &c
			}
			onEdge, onInternal := listen(edge), listen(internal)
			set := func(m *Member, path string) {
				t.Helper()
				if err := m.Mesh().Exchange().Call(ctx, "data", "set", []any{path, map[string]any{"v": 1}, map[string]any{}}); err != nil {
					t.Fatal(err)
				}
			}
			set(internal, "/test/from-internal")
			eventually(t, 3*time.Second, "component events on both members", func() bool {
				return onEdge.events.Load() == 1 && onInternal.events.Load() == 1 && onInternal.data.Load() == 1
			})
			wantEdgeData := int32(0)
			if tc.data {
				set(edge, "/test/from-edge")
				eventually(t, 3*time.Second, "edge set events", func() bool {
					return onEdge.events.Load() == 2 && onInternal.events.Load() == 2 && onEdge.data.Load() == 1
				})
				wantEdgeData = 1
			}
			time.Sleep(200 * time.Millisecond)
			if n := onEdge.data.Load(); n != wantEdgeData {
				t.Errorf("edge client got %d /_data events, want %d", n, wantEdgeData)
			}
			if n := onInternal.data.Load(); n != 1 {
				t.Errorf("internal client got %d /_data events, want 1 (its own set only)", n)
			}
		})
	}
}

// Port of happner-cluster 22-happner-component-event-call-on: a client of
// the edge uses $call, $on, $once, $off and $offPath on brokered
// components, and gets $call's endpoint errors verbatim.
func Test22_ClientCallOnOnceOff(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b22"
	internal := startOne(t, internalConfig(dep, shared, map[string]string{
		"remoteComponent": "2.0.0", "prereleaseComponent": "3.2.0-prerelease-1", "prereleaseComponentNotFound": "5.0.0-prerelease-1",
	}))
	edge := startOne(t, edgeConfig(t, dep, shared, 1, `{"remoteComponent": {"version": "^2.0.0"},
		"prereleaseComponent": {"version": "^3.0.0"}, "prereleaseComponentNotFound": {"version": "^4.0.0"}}`))
	awaitEntries(t, edge, 3, 2)
	cl := login(t, edge)
	eventually(t, 3*time.Second, "brokered methods on the client", func() bool {
		cd := cl.Description().Components["prereleaseComponent"]
		return cd != nil && cd.Methods["method1"] != nil && cl.Description().Components["remoteComponent"].Methods["fire"] != nil
	})
	var s string
	if err := cl.Do(ctx, happner.CallOptions{Component: "prereleaseComponent", Method: "method1", Arguments: []any{"c"}}, &s); err != nil || s != internal.Name()+":c" {
		t.Fatalf("$call: %q %v", s, err)
	}
	for _, c := range []struct{ comp, method, want string }{
		{"prereleaseComponent", "unknownMethod", "invalid endpoint options: [prereleaseComponent.unknownMethod] method does not exist on the api"},
		{"prereleaseComponentNotFound", "brokeredMethod1", "invalid endpoint options: [prereleaseComponentNotFound.brokeredMethod1] method does not exist on the api"},
		{"unknownComponent", "brokeredMethod1", "invalid endpoint options: [unknownComponent] component does not exist on the api"},
	} {
		if err := cl.Do(ctx, happner.CallOptions{Component: c.comp, Method: c.method}); errMessage(err) != c.want {
			t.Errorf("$call %s.%s: %v, want %q", c.comp, c.method, err, c.want)
		}
	}
	var on, once, offed, offPathed counter
	if _, err := cl.On(ctx, "remoteComponent", "ev", on.on); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Once(ctx, "remoteComponent", "ev", once.on); err != nil {
		t.Fatal(err)
	}
	id, err := cl.On(ctx, "remoteComponent", "ev", offed.on)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.On(ctx, "remoteComponent", "other", offPathed.on); err != nil {
		t.Fatal(err)
	}
	emit := func(key string) {
		t.Helper()
		if err := cl.Call(ctx, "remoteComponent", "fire", []any{key}); err != nil {
			t.Fatal(err)
		}
	}
	emit("ev")
	emit("other")
	eventually(t, 3*time.Second, "first events", func() bool {
		return on.n.Load() == 1 && once.n.Load() == 1 && offed.n.Load() == 1 && offPathed.n.Load() == 1
	})
	if err := cl.Off(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := cl.OffPath(ctx, "remoteComponent", "other"); err != nil {
		t.Fatal(err)
	}
	emit("ev")
	emit("other")
	eventually(t, 3*time.Second, "second ev", func() bool { return on.n.Load() == 2 })
	time.Sleep(200 * time.Millisecond)
	if once.n.Load() != 1 || offed.n.Load() != 1 || offPathed.n.Load() != 1 {
		t.Fatalf("after off: once %d, off %d, offPath %d (want 1 each)", once.n.Load(), offed.n.Load(), offPathed.n.Load())
	}
}

// Port of happner-cluster 25-cluster-brokering-after-member-dies: the
// brokered member goes away while a client's call through the edge is in
// flight, and the client gets an error instead of a reply; a replacement
// member is then brokered to. Members run in one process: the member is
// stopped (without waiting for the call) rather than SIGKILLed. Unlike
// happner-cluster, whose caller waits for "Request timed out", the edge
// fails the call as soon as the member's connection drops (issue 6), so
// the error arrives well before the client's timeout.
func Test25_BrokeringAfterMemberDies(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b25"
	first := startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
	ec := edgeConfig(t, dep, shared, 1, `{"remoteComponent": {"version": "^2.0.0", "methods": {"method1": {}, "slow": {}}}}`)
	ec.SetOptions.Timeout = 2000
	edge := startOne(t, ec)
	awaitEntries(t, edge, 1, 1)
	cl := login(t, edge)
	// a method that never answers in time: the client's own timeout
	if _, err := clientCall(ctx, cl, "remoteComponent", "slow", 2500); errMessage(err) != "Request timed out" {
		t.Fatalf("slow call: %v", err)
	}
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := clientCall(ctx, cl, "remoteComponent", "slow", 10000)
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	stopCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_ = first.Stop(stopCtx)
	cancel()
	select {
	case err := <-errc:
		if !strings.Contains(errMessage(err), "left the cluster while awaiting response on remoteComponent.slow version: ^2.0.0") {
			t.Fatalf("the call in flight: %v", err)
		}
		if d := time.Since(start); d > 1900*time.Millisecond {
			t.Errorf("in-flight call failed after %s, not at once: %v", d, err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the call in flight neither failed nor timed out")
	}
	awaitEntries(t, edge, 1, 0)
	third := startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
	awaitEntries(t, edge, 1, 1)
	if got, err := clientCall(ctx, cl, "remoteComponent", "method1", "again"); err != nil || got != third.Name()+":again" {
		t.Fatalf("call to the replacement member: %q %v", got, err)
	}
}

// Port of happner-cluster 27-cluster-events-broker-only: component events
// flow between members and to edge clients; a member with replication off
// receives no peer events, yet a permission removed on the edge still
// refuses its clients.
func Test27_EventsBrokerOnly(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b27"
	a := internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"})
	b := internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"})
	b.Membership.ReplicationPaths = []string{} // replicate: false
	e := edgeConfig(t, dep, shared, 2, `{"remoteComponent": {"version": "^2.0.0", "methods": {"fire": {}}}}`)
	for _, c := range []*Config{&a, &b, &e} {
		c.Happn.Secure = true
		c.Happn.AdminPassword = "secret"
	}
	ms := startAll(t, a, b)
	edge := startOne(t, e)
	awaitEntries(t, edge, 2, 2)
	adminCl, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + edge.ClientAddr(), Username: "_ADMIN", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer adminCl.Close()
	var onEdge, onA, onB counter
	if _, err := adminCl.On(ctx, "remoteComponent", "ev", onEdge.on); err != nil {
		t.Fatal(err)
	}
	if _, err := ms[0].On(ctx, "remoteComponent", "", "ev", onA.on); err != nil {
		t.Fatal(err)
	}
	if _, err := ms[1].On(ctx, "remoteComponent", "", "ev", onB.on); err != nil {
		t.Fatal(err)
	}
	if err := ms[0].Mesh().Exchange().Call(ctx, "remoteComponent", "fire", []any{"ev"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "member 1's event on member 1 and the edge client", func() bool {
		return onEdge.n.Load() == 1 && onA.n.Load() == 1
	})
	if err := ms[1].Mesh().Exchange().Call(ctx, "remoteComponent", "fire", []any{"ev"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "member 2's event on member 1 and the edge client", func() bool {
		return onEdge.n.Load() == 2 && onA.n.Load() == 2 && onB.n.Load() == 1
	})
	time.Sleep(200 * time.Millisecond)
	if n := onB.n.Load(); n != 1 {
		t.Errorf("member with replication off got %d events, want only its own", n)
	}
	// security sync still reaches the member with replication off
	secE := edge.srv.Security()
	if _, err := secE.UpsertGroup(ctx, security.Group{Name: "g27"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]string{
		{"/mesh/schema/*", "get"}, {"/mesh/schema/*", "on"},
		{"/_exchange/responses/DOMAIN_NAME/remoteComponent/*", "on"},
		{"/_exchange/requests/DOMAIN_NAME/remoteComponent/method1", "set"},
	} {
		if err := secE.UpsertPermission(ctx, "g27", p[0], p[1], true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := secE.UpsertUser(ctx, security.User{Username: "u27", Password: "pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := secE.LinkGroup(ctx, "g27", "u27", nil); err != nil {
		t.Fatal(err)
	}
	cB := loginAs(t, ms[1], "u27")
	result := func() string {
		_, err := clientCall(ctx, cB, "remoteComponent", "method1", "x")
		if err == nil {
			return "ok"
		}
		return errMessage(err)
	}
	eventually(t, 3*time.Second, "allowed on member 2", func() bool { return result() == "ok" })
	if err := secE.RemovePermission(ctx, "g27", "/_exchange/requests/DOMAIN_NAME/remoteComponent/method1", "set"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "unauthorized on member 2 after the edge denied", func() bool { return result() == "unauthorized" })
}

// Port of happner-cluster 29-cluster-dependencies-asAdmin-call: before the
// internal member exists, asAdmin.exchange.$call of a discoverMethods
// brokered component fails with the endpoint error; once it has joined
// the call succeeds.
func Test29_AsAdminCallBeforeAndAfterJoin(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b29"
	ec := edgeConfig(t, dep, shared, 0, `{"remoteComponent": {"version": "^2.0.0", "discoverMethods": true}}`)
	ec = withDependor(ec, &dependor{}, "", t)
	edge := startOne(t, ec)
	x := edge.Mesh().Exchange()
	var s string
	err := x.Call(ctx, "dependor", "adminCall", []any{"remoteComponent", "method1", "x"}, &s)
	if errMessage(err) != "invalid endpoint options: [remoteComponent.method1] method does not exist on the api" {
		t.Fatalf("before the internal member: %q %v", s, err)
	}
	internal := startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
	awaitEntries(t, edge, 1, 1)
	eventually(t, 3*time.Second, "asAdmin $call after the join", func() bool {
		err := x.Call(ctx, "dependor", "adminCall", []any{"remoteComponent", "method1", "y"}, &s)
		return err == nil && s == internal.Name()+":y"
	})
}

// Port of happner-cluster 30-happner-component-event-call-on-light-client:
// a normal client and a light client (no description: a bare happn
// session that sets the exchange request and listens for the reply) both
// call a brokered method.
func Test30_LightClientCall(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b30"
	internal := startOne(t, internalConfig(dep, shared, map[string]string{"remoteComponent": "2.0.0"}))
	edge := startOne(t, edgeConfig(t, dep, shared, 1, `{"remoteComponent": {"version": "^2.0.0", "methods": {"method1": {}}}}`))
	awaitEntries(t, edge, 1, 1)
	var s string
	if err := login(t, edge).Do(ctx, happner.CallOptions{Component: "remoteComponent", Method: "method1", Arguments: []any{"normal"}}, &s); err != nil || s != internal.Name()+":normal" {
		t.Fatalf("normal client: %q %v", s, err)
	}
	light, err := client.New(ctx, client.Options{URL: "http://" + edge.ClientAddr()})
	if err != nil {
		t.Fatal(err)
	}
	defer light.Close()
	sid := light.Session().ID
	replies := make(chan json.RawMessage, 1)
	if _, err := light.On(ctx, "/_exchange/responses/"+sid+"/*/*/*/*", client.OnOptions{}, func(ev client.Event) { replies <- ev.Data }); err != nil {
		t.Fatal(err)
	}
	address := "/_exchange/responses/" + sid + "/DOMAIN_NAME/remoteComponent/method1/1"
	if err := light.Publish(ctx, "/_exchange/requests/DOMAIN_NAME/remoteComponent/method1",
		map[string]any{"callbackAddress": address, "args": []any{"light"}, "origin": map[string]any{"id": sid}}); err != nil {
		t.Fatal(err)
	}
	select {
	case raw := <-replies:
		var rep struct {
			Status string            `json:"status"`
			Args   []json.RawMessage `json:"args"`
		}
		if err := json.Unmarshal(raw, &rep); err != nil || rep.Status != "ok" || len(rep.Args) < 2 || string(rep.Args[1]) != `"`+internal.Name()+`:light"` {
			t.Fatalf("light client reply %s", raw)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no reply for the light client")
	}
}

// Port of happner-cluster 31-delayed-internal-member-startup: the edge
// (deferred listen, discoverMethods brokers) opens its client port and
// exposes component-2 through the exchange and REST only once the delayed
// second internal member has started.
func Test31_DelayedInternalMember(t *testing.T) {
	ctx := context.Background()
	shared := newShared(t)
	dep := "b31"
	ec := edgeConfig(t, dep, shared, 0, `{"component-1": {"version": "^1.0.0", "discoverMethods": true},
		"component-2": {"version": "^1.0.0", "discoverMethods": true}}`)
	ec.Cluster.DependenciesSatisfiedDeferListen = true
	edge := startOne(t, ec)
	startOne(t, internalConfig(dep, shared, map[string]string{"component-1": "1.0.0"}))
	awaitEntries(t, edge, 2, 1)
	time.Sleep(300 * time.Millisecond)
	if a := edge.ClientAddr(); a != "" {
		t.Fatalf("edge listening at %s before component-2 exists", a)
	}
	second := startOne(t, internalConfig(dep, shared, map[string]string{"component-2": "1.0.0"}))
	eventually(t, 5*time.Second, "the edge's client port", func() bool { return edge.ClientAddr() != "" })
	cl := login(t, edge)
	if got, err := clientCall(ctx, cl, "component-2", "method1", "late"); err != nil || got != second.Name()+":late" {
		t.Fatalf("component-2 through the edge: %q %v", got, err)
	}
	resp, err := http.Post("http://"+edge.ClientAddr()+"/rest/method/component-2/method1", "application/json", strings.NewReader(`{"parameters":{"arg0":"rest"}}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var rep struct {
		Data string `json:"data"`
	}
	if err := json.Unmarshal(body, &rep); err != nil || rep.Data != second.Name()+":rest" {
		t.Fatalf("REST component-2: %s", body)
	}
	resp, err = http.Get("http://" + edge.ClientAddr() + "/rest/describe")
	if err != nil {
		t.Fatal(err)
	}
	var desc struct {
		Data map[string]any `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&desc)
	resp.Body.Close()
	if err != nil || desc.Data["/component-2/method1"] == nil {
		t.Fatalf("describe without /component-2/method1: %v %v", err, keys(desc.Data))
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
