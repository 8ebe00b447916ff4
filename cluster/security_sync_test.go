package cluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/meshclient"
)

// secureMembers starts n secure members that each have component1
// (worker 2.0.0); tune adjusts every config before start.
func secureMembers(t *testing.T, dep string, n int, tune func(i int, c *Config)) []*Member {
	t.Helper()
	shared := newShared(t)
	var cfgs []Config
	for i := range n {
		c := withComponents(testConfig(dep, "svc", map[string]int{"svc": n - 1}, shared), map[string]string{"component1": "2.0.0"})
		c.Happn.Secure = true
		c.Happn.AdminPassword = "secret"
		if tune != nil {
			tune(i, &c)
		}
		cfgs = append(cfgs, c)
	}
	return startAll(t, cfgs...)
}

// meshBasics are the permissions a MeshClient needs to log in and get the
// replies of component1's methods.
var meshBasics = [][2]string{
	{"/mesh/schema/*", "get"},
	{"/mesh/schema/*", "on"},
	{"/_exchange/responses/DOMAIN_NAME/component1/*", "on"},
}

const (
	method1Path = "/_exchange/requests/DOMAIN_NAME/component1/method1"
	eventsPath  = "/_events/DOMAIN_NAME/component1/*"
)

// addUser creates group (with meshBasics and perms) and user in it on m.
func addUser(t *testing.T, m *Member, group, user string, perms ...[2]string) {
	t.Helper()
	ctx := context.Background()
	sec := m.srv.Security()
	if _, err := sec.UpsertGroup(ctx, security.Group{Name: group}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(append([][2]string{}, meshBasics...), perms...) {
		if err := sec.UpsertPermission(ctx, group, p[0], p[1], true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sec.UpsertUser(ctx, security.User{Username: user, Password: "pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sec.LinkGroup(ctx, group, user, nil); err != nil {
		t.Fatal(err)
	}
}

// loginAs logs user in to m's client port, retrying while the user is
// not yet visible there.
func loginAs(t *testing.T, m *Member, user string) *meshclient.Client {
	t.Helper()
	var cl *meshclient.Client
	var last error
	eventually(t, 3*time.Second, user+" logged in to "+m.Name(), func() bool {
		c, err := meshclient.Login(context.Background(), meshclient.Options{URL: "http://" + m.ClientAddr(), Username: user, Password: "pw"})
		cl, last = c, err
		return err == nil
	})
	if last != nil {
		t.Fatal(last)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

// callResult is "ok", "unauthorized" or the error of component1.method1.
// A call is given a second (times the store's slack): one made while a
// change is on its way to the member may be let in and then lose its reply
// when the change removes the reply subscription, and the next call must
// come soon enough to see the change.
func callResult(cl *meshclient.Client) string {
	var s string
	ctx, cancel := context.WithTimeout(context.Background(), time.Second*slack())
	defer cancel()
	err := cl.Call(ctx, "component1", "method1", []any{"x"}, &s)
	switch {
	case err == nil:
		return "ok"
	case strings.Contains(err.Error(), "unauthorized"):
		return "unauthorized"
	default:
		return err.Error()
	}
}

func awaitCall(t *testing.T, want string, cls ...*meshclient.Client) {
	t.Helper()
	for i, cl := range cls {
		deadline := time.Now().Add(3 * time.Second * slack())
		for last := callResult(cl); last != want; last = callResult(cl) {
			if time.Now().After(deadline) {
				t.Fatalf("client %d: call answered %q, still not %q after %s", i, last, want, 3*time.Second*slack())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// counter counts the events of a subscription.
type counter struct{ n atomic.Int32 }

func (c *counter) on(happner.Event) { c.n.Add(1) }

// fire makes member m's component1 emit key (as the member).
func fire(t *testing.T, m *Member, key string) {
	t.Helper()
	if err := m.Mesh().Exchange().Call(context.Background(), "component1", "fire", []any{key}); err != nil {
		t.Fatal(err)
	}
}

// Port of happner-cluster 07-integration-security-sync: method and event
// permissions granted or removed on member 1 apply to clients of both
// members, existing subscriptions stop on deny, and user/group changes
// made on member 1 (unlink, delete group, delete user) reach member 2.
func Test07_SecuritySync(t *testing.T) {
	ms := secureMembers(t, "dep-07", 2, nil)
	ctx := context.Background()
	secA := ms[0].srv.Security()
	addUser(t, ms[0], "g07", "u07")
	cA, cB := loginAs(t, ms[0], "u07"), loginAs(t, ms[1], "u07")

	// methods: denied, granted, denied again
	awaitCall(t, "unauthorized", cA, cB)
	if err := secA.UpsertPermission(ctx, "g07", method1Path, "set", true); err != nil {
		t.Fatal(err)
	}
	awaitCall(t, "ok", cA, cB)

	// events: subscribing is refused until granted
	if _, err := cB.On(ctx, "component1", "ev", func(happner.Event) {}); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("subscription without permission: %v", err)
	}
	if err := secA.UpsertPermission(ctx, "g07", eventsPath, "on", true); err != nil {
		t.Fatal(err)
	}
	var onA, onB counter
	eventually(t, 3*time.Second, "subscription on member 2 allowed", func() bool {
		_, err := cB.On(ctx, "component1", "ev", onB.on)
		return err == nil
	})
	if _, err := cA.On(ctx, "component1", "ev", onA.on); err != nil {
		t.Fatal(err)
	}
	fire(t, ms[0], "ev")
	for deadline := time.Now().Add(3 * time.Second * slack()); onA.n.Load() != 1 || onB.n.Load() != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("events: member 1 %d, member 2 %d (want 1 each)", onA.n.Load(), onB.n.Load())
		}
	}

	// deny: the existing subscriptions stop receiving
	if err := secA.RemovePermission(ctx, "g07", eventsPath, "on"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "event permission removed on member 2", func() bool {
		sess, err := ms[1].srv.Security().Login(ctx, security.LoginRequest{Username: "u07", Password: "pw", Type: security.Stateful})
		return err == nil && ms[1].srv.Security().Authorize(ctx, sess, "/_events/DOMAIN_NAME/component1/ev", "on") != nil
	})
	time.Sleep(150 * time.Millisecond)
	fire(t, ms[0], "ev")
	fire(t, ms[1], "ev")
	time.Sleep(300 * time.Millisecond)
	if a, b := onA.n.Load(), onB.n.Load(); a != 1 || b != 1 {
		t.Fatalf("events after deny: member 1 %d, member 2 %d (want 1 each)", a, b)
	}
	if err := secA.RemovePermission(ctx, "g07", method1Path, "set"); err != nil {
		t.Fatal(err)
	}
	awaitCall(t, "unauthorized", cA, cB)

	// a whole flow made on member 1: user, group, link, permission
	addUser(t, ms[0], "g07b", "u07b", [2]string{method1Path, "set"})
	c2 := loginAs(t, ms[1], "u07b")
	awaitCall(t, "ok", c2)
	if err := secA.UnlinkGroup(ctx, "g07b", "u07b"); err != nil {
		t.Fatal(err)
	}
	awaitCall(t, "unauthorized", c2)
	// linked again: a new client is allowed (c2's reply subscription was
	// dropped with the permission, as happn does on a security change)
	if err := secA.LinkGroup(ctx, "g07b", "u07b", nil); err != nil {
		t.Fatal(err)
	}
	c3 := loginAs(t, ms[1], "u07b")
	awaitCall(t, "ok", c3)
	if err := secA.DeleteGroup(ctx, "g07b"); err != nil {
		t.Fatal(err)
	}
	awaitCall(t, "unauthorized", c3)
	if err := secA.DeleteUser(ctx, "u07b"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "deleted user refused by member 2", func() bool {
		c, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + ms[1].ClientAddr(), Username: "u07b", Password: "pw"})
		if err == nil {
			c.Close()
			return false
		}
		return strings.Contains(err.Error(), "Invalid credentials")
	})
}

// Port of happner-cluster 23-integration-security-sync-user-permissions:
// permissions on the user itself (not a group) made on member 1 apply on
// member 2, for methods and events.
func Test23_UserPermissionsSync(t *testing.T) {
	ms := secureMembers(t, "dep-23", 2, nil)
	ctx := context.Background()
	secA := ms[0].srv.Security()
	addUser(t, ms[0], "g23", "u23")
	cB := loginAs(t, ms[1], "u23")
	awaitCall(t, "unauthorized", cB)
	if err := secA.UpsertUserPermission(ctx, "u23", method1Path, "set", true); err != nil {
		t.Fatal(err)
	}
	if err := secA.UpsertUserPermission(ctx, "u23", eventsPath, "on", true); err != nil {
		t.Fatal(err)
	}
	awaitCall(t, "ok", cB)
	var got counter
	eventually(t, 3*time.Second, "user event permission on member 2", func() bool {
		_, err := cB.On(ctx, "component1", "ev", got.on)
		return err == nil
	})
	fire(t, ms[0], "ev")
	eventually(t, 3*time.Second, "event on member 2", func() bool { return got.n.Load() == 1 })
	if err := secA.RemoveUserPermission(ctx, "u23", method1Path, "set"); err != nil {
		t.Fatal(err)
	}
	if err := secA.RemoveUserPermission(ctx, "u23", eventsPath, "on"); err != nil {
		t.Fatal(err)
	}
	awaitCall(t, "unauthorized", cB)
	time.Sleep(150 * time.Millisecond)
	fire(t, ms[0], "ev")
	time.Sleep(300 * time.Millisecond)
	if n := got.n.Load(); n != 1 {
		t.Fatalf("%d events after the user permission was removed, want 1", n)
	}
	if _, err := cB.On(ctx, "component1", "other", got.on); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("subscription after removal: %v", err)
	}
}

// Port of happner-cluster 08-integration-security-sync-load: 5 members and
// 15 users; rounds of random permission changes made on random members
// (seeded, so the run is repeatable); after each round every user's method
// calls, on the member its client uses, and every member's authorisation
// of every user match the expected permissions.
func Test08_SecuritySyncLoad(t *testing.T) {
	const members, users, rounds, changes = 5, 15, 3, 10
	ms := secureMembers(t, "dep-08", members, nil)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(8, 8))
	method := make([]bool, users) // expected: may call component1.method1
	event := make([]bool, users)  // expected: may subscribe to component1 events
	clients := make([]*meshclient.Client, users)
	name := func(i int) string { return fmt.Sprintf("user%02d", i) }
	for i := range users {
		addUser(t, ms[i%members], "group"+name(i), name(i))
	}
	for i := range users {
		clients[i] = loginAs(t, ms[(i+1)%members], name(i))
	}
	for round := range rounds {
		for range changes {
			u, on := rng.IntN(users), rng.IntN(members)
			sec := ms[on].srv.Security()
			path, action, exp := method1Path, "set", method
			if rng.IntN(2) == 1 {
				path, action, exp = eventsPath, "on", event
			}
			exp[u] = !exp[u]
			var err error
			if exp[u] {
				err = sec.UpsertPermission(ctx, "group"+name(u), path, action, true)
			} else {
				err = sec.RemovePermission(ctx, "group"+name(u), path, action)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range users {
			want := "unauthorized"
			if method[i] {
				want = "ok"
			}
			eventually(t, 3*time.Second, fmt.Sprintf("round %d: %s call %s", round, name(i), want), func() bool {
				return callResult(clients[i]) == want
			})
		}
		for _, m := range ms {
			sec := m.srv.Security()
			for i := range users {
				sess, err := sec.Login(ctx, security.LoginRequest{Username: name(i), Password: "pw", Type: security.Stateful})
				if err != nil {
					t.Fatal(err)
				}
				eventually(t, 2*time.Second, fmt.Sprintf("round %d: %s on %s", round, name(i), m.Name()), func() bool {
					mOK := sec.Authorize(ctx, sess, method1Path, "set") == nil
					eOK := sec.Authorize(ctx, sess, "/_events/DOMAIN_NAME/component1/ev", "on") == nil
					return mOK == method[i] && eOK == event[i]
				})
			}
		}
	}
}

// Port of happner-cluster 24-nested-permissions-events: with
// allowNestedPermissions a ** subscription on member 2 receives only the
// events (and sub-paths) emitted on member 1 that the user may see; a
// user with no permitted sub-path is refused; permissions added and
// removed on member 1 apply to the live subscription.
func Test24_NestedPermissionsEvents(t *testing.T) {
	ms := secureMembers(t, "dep-24", 2, func(_ int, c *Config) { c.Happn.AllowNestedPermissions = true })
	ctx := context.Background()
	secA := ms[0].srv.Security()
	addUser(t, ms[0], "g24", "u24", [2]string{"/_events/DOMAIN_NAME/component1/allowed/**", "on"})
	addUser(t, ms[0], "g24none", "u24none")
	cB := loginAs(t, ms[1], "u24")
	var mu sync.Mutex
	var got []string
	if _, err := cB.On(ctx, "component1", "**", func(ev happner.Event) {
		mu.Lock()
		got = append(got, strings.TrimPrefix(ev.Meta.Path, "/_events/DOMAIN_NAME/component1/"))
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
	for _, k := range []string{"allowed/1", "denied/1", "allowed/sub/2", "other"} {
		fire(t, ms[0], k)
	}
	eventually(t, 3*time.Second, "permitted events", func() bool { return len(received()) >= 2 })
	time.Sleep(200 * time.Millisecond)
	if r := received(); len(r) != 2 || !slicesContains(r, "allowed/1") || !slicesContains(r, "allowed/sub/2") {
		t.Fatalf("received %v, want allowed/1 and allowed/sub/2", r)
	}
	none := loginAs(t, ms[1], "u24none")
	if _, err := none.On(ctx, "component1", "**", func(happner.Event) {}); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("** without any permitted sub-path: %v", err)
	}
	// live changes made on member 1
	if err := secA.UpsertPermission(ctx, "g24", "/_events/DOMAIN_NAME/component1/denied/*", "on", true); err != nil {
		t.Fatal(err)
	}
	if err := secA.RemovePermission(ctx, "g24", "/_events/DOMAIN_NAME/component1/allowed/**", "on"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "denied/* now delivered", func() bool {
		fire(t, ms[0], "denied/2")
		time.Sleep(50 * time.Millisecond)
		return slicesContains(received(), "denied/2")
	})
	fire(t, ms[0], "allowed/3")
	time.Sleep(300 * time.Millisecond)
	if slicesContains(received(), "allowed/3") {
		t.Fatalf("event delivered after its permission was removed: %v", received())
	}
}

// Port of happner-cluster 32-integration-security-sync-lookup-tables:
// lookup tables, paths and permissions, and group links, changed on
// member 1 gate data gets on member 2.
func Test32_LookupTablesSync(t *testing.T) {
	ms := secureMembers(t, "dep-32", 2, nil)
	ctx := context.Background()
	secA := ms[0].srv.Security()
	addUser(t, ms[0], "g32", "u32")
	perm := security.LookupPermission{Regex: "^/_data/historian/(.*)$", Actions: []string{"get"}, Table: "T32", Path: "/device/{{$1}}"}
	if err := secA.UpsertLookupTable(ctx, security.LookupTable{Name: "T32", Paths: []string{"/device/d1"}}); err != nil {
		t.Fatal(err)
	}
	if err := secA.UpsertLookupPermission(ctx, "g32", perm); err != nil {
		t.Fatal(err)
	}
	admin := ms[0].local
	for _, d := range []string{"d1", "d2"} {
		if _, err := admin.Set(ctx, "/_data/historian/"+d, map[string]any{"device": d}); err != nil {
			t.Fatal(err)
		}
	}
	cB, err := client.New(ctx, client.Options{URL: "http://" + ms[1].ClientAddr(), Username: "u32", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer cB.Close()
	can := func(d string) bool {
		_, err := cB.Get(ctx, "/_data/historian/"+d)
		return err == nil
	}
	expect := func(step string, d1, d2 bool) {
		t.Helper()
		eventually(t, 3*time.Second, step, func() bool { return can("d1") == d1 && can("d2") == d2 })
	}
	expect("table with d1", true, false)
	steps := []struct {
		name   string
		do     func() error
		d1, d2 bool
	}{
		{"insert d2", func() error { return secA.InsertLookupPath(ctx, "T32", "/device/d2") }, true, true},
		{"remove d1", func() error { return secA.RemoveLookupPath(ctx, "T32", "/device/d1") }, false, true},
		{"unlink group", func() error { return secA.UnlinkGroup(ctx, "g32", "u32") }, false, false},
		{"link group", func() error { return secA.LinkGroup(ctx, "g32", "u32", nil) }, false, true},
		{"remove lookup permission", func() error { return secA.RemoveLookupPermission(ctx, "g32", perm) }, false, false},
		{"upsert lookup permission", func() error { return secA.UpsertLookupPermission(ctx, "g32", perm) }, false, true},
		{"upsert table", func() error {
			return secA.UpsertLookupTable(ctx, security.LookupTable{Name: "T32", Paths: []string{"/device/d1"}})
		}, true, true}, // upsert merges the paths

		{"delete table", func() error { return secA.DeleteLookupTable(ctx, "T32") }, false, false},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		expect(s.name, s.d1, s.d2)
	}
}

// checker answers $happn.isAuthorized for a user.
type checker struct{}

// Check runs $happn.isAuthorized(username, {data: {path: {actions}}}).
func (checker) Check(h *happner.Happn, username, path string) (*happner.AuthorizationResult, error) {
	return h.IsAuthorized(h.Ctx, username, happner.AuthorizationQuery{
		Data: map[string]happner.PermissionEntry{path: {Actions: []string{"get"}}},
	})
}

// Port of happner-cluster 33-happn-user-is-authorized: $happn.isAuthorized
// on member 2 reflects a lookup table deleted on member 1 (the path moves
// to the forbidden list).
func Test33_IsAuthorizedAfterLookupChange(t *testing.T) {
	ms := secureMembers(t, "dep-33", 2, func(_ int, c *Config) {
		c.Modules["checker"] = happner.ModuleConfig{Instance: checker{}}
		c.Components["checker"] = happner.ComponentConfig{}
	})
	ctx := context.Background()
	secA := ms[0].srv.Security()
	addUser(t, ms[0], "g33", "u33")
	if err := secA.UpsertLookupTable(ctx, security.LookupTable{Name: "T33", Paths: []string{"/device/d1"}}); err != nil {
		t.Fatal(err)
	}
	if err := secA.UpsertLookupPermission(ctx, "g33", security.LookupPermission{
		Regex: "^/_data/historian/(.*)$", Actions: []string{"get"}, Table: "T33", Path: "/device/{{$1}}",
	}); err != nil {
		t.Fatal(err)
	}
	check := func() *happner.AuthorizationResult {
		var r happner.AuthorizationResult
		if err := ms[1].Mesh().Exchange().Call(ctx, "checker", "check", []any{"u33", "/_data/historian/d1"}, &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	eventually(t, 3*time.Second, "authorized on member 2", func() bool { r := check(); return r.Authorized && len(r.Forbidden) == 0 })
	if err := secA.DeleteLookupTable(ctx, "T33"); err != nil {
		t.Fatal(err)
	}
	var r *happner.AuthorizationResult
	eventually(t, 3*time.Second, "forbidden on member 2", func() bool { r = check(); return !r.Authorized })
	if len(r.Forbidden) != 1 || r.Forbidden[0].Path != "/_data/historian/d1" || r.Forbidden[0].Action != "get" {
		t.Fatalf("forbidden %+v", r.Forbidden)
	}
}

// Port of happner-cluster 38-on-behalf-of-inter-cluster-concurrency
// (scaled down): many users at once, each with an allowed and a refused
// method, called with "as" directly on member 2 and across members from
// member 1, give exactly the expected successes and unauthorized errors.
func Test38_OnBehalfOfConcurrency(t *testing.T) {
	const users = 12
	ms := secureMembers(t, "dep-38", 2, func(i int, c *Config) {
		if i == 0 { // member 1 has no component1: its calls go to member 2
			delete(c.Modules, "component1")
			delete(c.Components, "component1")
		}
	})
	awaitImplementors(t, ms[0], 1)
	ctx := context.Background()
	for i := range users {
		addUser(t, ms[0], fmt.Sprintf("g38-%d", i), fmt.Sprintf("u38-%d", i), [2]string{method1Path, "set"})
	}
	time.Sleep(200 * time.Millisecond) // security sync
	var ok, denied, other atomic.Int32
	var wg sync.WaitGroup
	for i := range users {
		for _, method := range []string{"method1", "whoAmI"} {
			for _, direct := range []bool{true, false} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					user := fmt.Sprintf("u38-%d", i)
					var s string
					var err error
					o := happner.CallOptions{Component: "component1", Method: method, Arguments: []any{user}, As: user}
					if direct {
						err = ms[1].Mesh().Exchange().Do(ctx, o, &s)
					} else {
						err = ms[0].Call(ctx, Call{CallOptions: o}, &s)
					}
					switch {
					case err == nil && s == ms[1].Name()+":"+user:
						ok.Add(1)
					case err != nil && strings.Contains(err.Error(), "unauthorized"):
						denied.Add(1)
					default:
						other.Add(1)
						t.Errorf("%s %s direct=%v: %q %v", user, method, direct, s, err)
					}
				}()
			}
		}
	}
	wg.Wait()
	if ok.Load() != 2*users || denied.Load() != 2*users || other.Load() != 0 {
		t.Fatalf("successes %d, unauthorized %d, other %d; want %d, %d, 0", ok.Load(), denied.Load(), other.Load(), 2*users, 2*users)
	}
}
