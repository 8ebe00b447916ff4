package security

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner/errs"
)

func TestPermissionMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, path string
		want          bool
	}{
		{"/a/*/bb", "/a/x/bb", true},
		{"/a/*/bb", "/a/x/bb/cc", false},
		{"/a/*/bb", "/a/x/bc", false}, // happn-3's letter collapsing is not copied
		{"/a/*/bb", "/a/x/y/bb", true},
		{"/a/*", "/a", false},
		{"/a/*", "/a/b", true},
		{"/test/*", "/test/permission/1/1/2", true},
		{"/allowed/*", "/aXowed/x", false},
		{"/foo*", "/FOObar", false}, // case-sensitive
		{"/foo*", "/foobar", true},
		{"/Case/path", "/case/path", false},
		{"/a/b", "/a/b", true},
		{"a/b", "/a/b", false}, // leading slash significant
		{"*", "/anything", true},
		{"/a*/c/*", "/ab/x/c/d", false}, // '*' above the last segment stays in its segment
		{"/a*/c/*", "/ab/c/d/e", true},
		{"/a/*", "/a/*", true}, // wildcard subscription needs a pattern that covers it
		{"/a/b", "/a/*", false},
	} {
		if got := PermissionMatches(c.pattern, c.path); got != c.want {
			t.Errorf("PermissionMatches(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
		}
	}
}

func TestAuthorizePermissions(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	mustUser(t, s, "u", "pw", "")
	mustGroup(t, s, "readers", map[string]PermissionRule{
		"/data/*":       {Actions: []string{"get", "on"}},
		"/data/secret":  {Prohibit: []string{"get"}},
		"/data/*/bb":    {Actions: []string{"set"}},
		"/all/*":        {Actions: []string{"*"}},
		"/all/private*": {Prohibit: []string{"*"}},
	}, "u")
	mustGroup(t, s, "writers", map[string]PermissionRule{"/data/open": {Actions: []string{"set"}}}, "u")
	sess := mustLogin(t, s, "u", "pw")
	for _, c := range []struct {
		path, action string
		want         bool
	}{
		{"/data/x", "get", true},
		{"/data/x/y", "on", true},
		{"/data/x", "set", false},
		{"/data", "get", false},
		{"/data/secret", "get", false}, // prohibit wins
		{"/data/secret", "on", true},
		{"/data/x/bb", "set", true},
		{"/data/x/bc", "set", false},
		{"/data/open", "set", true}, // union over groups
		{"/DATA/x", "get", false},
		{"/all/thing", "remove", true},
		{"/all/private/1", "get", false},
		{"/other", "get", false},
	} {
		if got := allowed(t, s, sess, c.path, c.action); got != c.want {
			t.Errorf("%s %s = %v, want %v", c.action, c.path, got, c.want)
		}
	}
	err := s.Authorize(ctx, sess, "/other", "get")
	wantErr(t, err, "AccessDenied", "unauthorized", 403)

	// user-level permissions merge with group ones; changes apply at once
	if err := s.UpsertUserPermission(ctx, "u", "/mine/*", "set", true); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, s, sess, "/mine/1", "set") {
		t.Error("user permission not applied")
	}
	if err := s.UpsertUserPermission(ctx, "u", "/data/x", "get", false); err != nil {
		t.Fatal(err)
	}
	if allowed(t, s, sess, "/data/x", "get") {
		t.Error("user prohibition not applied over a cached allow")
	}
	if err := s.RemoveUserPermission(ctx, "u", "/mine/*", "set"); err != nil {
		t.Fatal(err)
	}
	if allowed(t, s, sess, "/mine/1", "set") {
		t.Error("removed user permission still applies")
	}
	if err := s.UnlinkGroup(ctx, "writers", "u"); err != nil {
		t.Fatal(err)
	}
	if allowed(t, s, sess, "/data/open", "set") {
		t.Error("unlinked group still applies")
	}
	if err := s.RemovePermission(ctx, "readers", "/data/*", "get"); err != nil {
		t.Fatal(err)
	}
	if allowed(t, s, sess, "/data/y", "get") || !allowed(t, s, sess, "/data/y", "on") {
		t.Error("RemovePermission removed the wrong thing")
	}
	// RemovePermission does not remove prohibitions
	if err := s.RemovePermission(ctx, "readers", "/data/secret", "get"); err != nil {
		t.Fatal(err)
	}
	perms, _ := s.ListPermissions(ctx, "readers")
	found := false
	for _, p := range perms {
		found = found || (p == Permission{"get", false, "/data/secret"})
	}
	if !found {
		t.Errorf("prohibition removed: %+v", perms)
	}
	if err := s.DeleteUser(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.Authorize(ctx, sess, "/data/z", "on"), "AccessDenied", "user u has been deleted or does not exist", 403)
}

func TestAuthorizeSessionChecks(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	wantErr(t, s.Authorize(ctx, nil, "/a", "get"), "AccessDenied", "no policy attached to session", 403)
	wantErr(t, s.Authorize(ctx, &Session{ID: "x", Username: "_ADMIN"}, "/a", "get"), "AccessDenied", "no policy attached to session", 403)
	wantErr(t, s.Authorize(ctx, &Session{ID: "x", Type: 3, Username: "_ADMIN", Policy: map[int]Policy{1: {}}}, "/a", "get"), "AccessDenied", "no policy for session type", 403)
	admin := mustLogin(t, s, "_ADMIN", "happn")
	wantErr(t, s.Authorize(ctx, admin, "", "get"), "AccessDenied", "invalid path", 403)
}

func TestPolicies(t *testing.T) {
	s, _ := newTestService(t, Config{Profiles: []Profile{
		{Name: "short", Session: json.RawMessage(`{"user.username":{"$eq":"ttl"}}`), Policy: Policy{TTL: Duration(2 * time.Second)}},
		{Name: "idle", Session: json.RawMessage(`{"user.custom_data.idle":true}`), Policy: Policy{InactivityThreshold: Duration(time.Second)}},
		{Name: "limited", Session: json.RawMessage(`{"$and":[{"user.username":"lim"},{"type":1}]}`), Policy: Policy{UsageLimit: 2}},
		{Name: "restricted", Session: json.RawMessage(`{"info.restricted":true}`), Policy: Policy{Permissions: map[string]PermissionRule{"/only/*": {Actions: []string{"get"}}}}},
		{Name: "lan", Session: json.RawMessage(`{"user.username":"lan"}`), Policy: Policy{SourceIPWhitelist: []string{"10.0.0.1"}}},
	}})
	clk := withClock(s)
	ctx := context.Background()
	for _, n := range []string{"ttl", "lim", "lan"} {
		mustUser(t, s, n, "pw", "")
	}
	mustUser(t, s, "idler", "pw", `{"idle":true}`)
	for _, n := range []string{"ttl", "idler", "lim"} {
		mustGroup(t, s, "g"+n, map[string]PermissionRule{"*": {Actions: []string{"*"}}}, n)
	}

	ttl := mustLogin(t, s, "ttl", "pw")
	if ttl.Policy[1].TTL.Milliseconds() != 2000 || ttl.Policy[0].TTL.Milliseconds() != 2000 {
		t.Fatalf("ttl policy %+v", ttl.Policy)
	}
	if !allowed(t, s, ttl, "/a", "get") {
		t.Fatal("fresh ttl session denied")
	}
	clk.advance(2100 * time.Millisecond)
	wantErr(t, s.Authorize(ctx, ttl, "/a", "get"), "AccessDenied", "expired session token", 403)
	_, err := s.Login(ctx, LoginRequest{Token: ttl.Token, Type: 1})
	wantErr(t, err, "AccessDenied", "expired session token", 401)

	idle := mustLogin(t, s, "idler", "pw")
	clk.advance(900 * time.Millisecond)
	if !allowed(t, s, idle, "/a", "get") {
		t.Fatal("active session denied")
	}
	clk.advance(900 * time.Millisecond)
	if !allowed(t, s, idle, "/a", "get") {
		t.Fatal("activity did not reset the inactivity clock")
	}
	clk.advance(1100 * time.Millisecond)
	wantErr(t, s.Authorize(ctx, idle, "/a", "get"), "AccessDenied", "session inactivity threshold reached", 403)

	lim := mustLogin(t, s, "lim", "pw")
	allowed(t, s, lim, "/a", "get")
	allowed(t, s, lim, "/a", "get")
	wantErr(t, s.Authorize(ctx, lim, "/a", "get"), "AccessDenied", "session usage limit reached", 403)

	r, err := s.Login(ctx, LoginRequest{Username: "_ADMIN", Password: "happn", Type: 1, Info: json.RawMessage(`{"restricted":true}`)})
	if err != nil {
		t.Fatal(err)
	}
	if !allowed(t, s, r, "/only/x", "get") {
		t.Fatal("policy permission denied")
	}
	wantErr(t, s.Authorize(ctx, r, "/else", "get"), "AccessDenied", "token permissions limited", 403)

	_, err = s.Login(ctx, LoginRequest{Username: "lan", Password: "pw", Type: 1, SourceIP: "10.0.0.2"})
	wantErr(t, err, "AccessDenied", "Source address access restricted", 401)
	if _, err := s.Login(ctx, LoginRequest{Username: "lan", Password: "pw", Type: 1, SourceIP: "10.0.0.1"}); err != nil {
		t.Fatal(err)
	}

	// built-in profiles
	b, _ := s.Login(ctx, LoginRequest{Username: "_ADMIN", Password: "happn", Type: 1, Info: json.RawMessage(`{"_browser":true}`)})
	if b.Policy[1].TTL.Milliseconds() != 7*86400000 || b.Policy[1].InactivityThreshold.Milliseconds() != 3600000 {
		t.Fatalf("browser policy %+v", b.Policy)
	}
	a := mustLogin(t, s, "_ADMIN", "happn")
	if a.Policy[0].TTL != 0 || a.Policy[1].TTL != 0 || a.Policy[1].InactivityThreshold != 0 {
		t.Fatalf("stateful policy %+v", a.Policy)
	}
}

func TestTemplatedPermissions(t *testing.T) {
	s, _ := newTestService(t, Config{})
	mustUser(t, s, "tmpl", "pw", `{"company":"acme","devices":["d1","d2"],"bad":"*"}`)
	mustGroup(t, s, "tg", map[string]PermissionRule{
		"/users/{{user.username}}/*":              {Actions: []string{"get"}},
		"/co/{{user.custom_data.company}}/*":      {Actions: []string{"set"}},
		"/dev/{{user.custom_data.devices}}":       {Actions: []string{"on"}},
		"/promote/{{user.custom_data.bad}}":       {Actions: []string{"get"}},
		"/missing/{{user.custom_data.nothing}}/x": {Actions: []string{"get"}},
		"/sess/{{id}}":                            {Actions: []string{"get"}},
	}, "tmpl")
	sess := mustLogin(t, s, "tmpl", "pw")
	for _, c := range []struct {
		path, action string
		want         bool
	}{
		{"/users/tmpl/x", "get", true},
		{"/users/other/x", "get", false},
		{"/co/acme/1", "set", true},
		{"/co/other/1", "set", false},
		{"/dev/d1", "on", true},
		{"/dev/d2", "on", true},
		{"/dev/d3", "on", false},
		{"/promote/anything", "get", false}, // '*' in a value is refused
		{"/promote/*", "get", false},
		{"/missing//x", "get", false},
		{"/sess/" + sess.ID, "get", true},
	} {
		if got := allowed(t, s, sess, c.path, c.action); got != c.want {
			t.Errorf("%s %s = %v, want %v", c.action, c.path, got, c.want)
		}
	}
	other := mustLogin(t, s, "tmpl", "pw")
	if allowed(t, s, other, "/sess/"+sess.ID, "get") || !allowed(t, s, other, "/sess/"+other.ID, "get") {
		t.Error("session-scoped template shared between sessions")
	}
}

func TestLookupPermissions(t *testing.T) {
	s, st := newTestService(t, Config{})
	ctx := context.Background()
	mustUser(t, s, "oemuser", "pw", `{"oem":"OEM_A","company":["C1","C2"]}`)
	mustGroup(t, s, "lg", nil, "oemuser")
	if err := s.UpsertLookupTable(ctx, LookupTable{Name: "devices", Paths: []string{"/device/OEM_A/C1/SPECIAL_DEVICE_ID_1"}}); err != nil {
		t.Fatal(err)
	}
	if rec, _ := st.Get(ctx, "/_SYSTEM/_SECURITY/_LOOKUP/devices/device/OEM_A/C1/SPECIAL_DEVICE_ID_1"); rec == nil {
		t.Fatal("lookup path not at happn path")
	}
	lp := LookupPermission{Regex: "^/_data/historianStore/(.*)", Actions: []string{"get", "on"}, Table: "devices",
		Path: "/device/{{user.custom_data.oem}}/{{user.custom_data.company}}/{{$1}}"}
	if err := s.UpsertLookupPermission(ctx, "lg", lp); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertLookupPermission(ctx, "lg", lp); err != nil {
		t.Fatal(err)
	}
	got, _ := s.FetchLookupPermissions(ctx, "lg")
	if len(got) != 1 || !reflect.DeepEqual(got[0], lp) {
		t.Fatalf("lookup permissions %+v", got)
	}
	sess := mustLogin(t, s, "oemuser", "pw")
	if !allowed(t, s, sess, "/_data/historianStore/SPECIAL_DEVICE_ID_1", "get") {
		t.Fatal("lookup did not allow")
	}
	if allowed(t, s, sess, "/_data/historianStore/SPECIAL_DEVICE_ID_1", "set") {
		t.Fatal("lookup allowed an action it does not list")
	}
	if allowed(t, s, sess, "/_data/historianStore/OTHER", "get") {
		t.Fatal("lookup allowed a path not in the table")
	}
	if err := s.InsertLookupPath(ctx, "devices", "/device/OEM_A/C2/OTHER"); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, s, sess, "/_data/historianStore/OTHER", "get") {
		t.Fatal("inserted lookup path not effective")
	}
	if err := s.RemoveLookupPath(ctx, "devices", "/device/OEM_A/C2/OTHER"); err != nil {
		t.Fatal(err)
	}
	if allowed(t, s, sess, "/_data/historianStore/OTHER", "get") {
		t.Fatal("removed lookup path still effective")
	}
	tbl, _ := s.FetchLookupTable(ctx, "devices")
	if len(tbl.Paths) != 1 || tbl.Paths[0] != "device/OEM_A/C1/SPECIAL_DEVICE_ID_1" {
		t.Fatalf("table %+v", tbl)
	}
	if err := s.RemoveLookupPermission(ctx, "lg", lp); err != nil {
		t.Fatal(err)
	}
	if allowed(t, s, sess, "/_data/historianStore/SPECIAL_DEVICE_ID_1", "get") {
		t.Fatal("removed lookup permission still effective")
	}
	if err := s.DeleteLookupTable(ctx, "devices"); err != nil {
		t.Fatal(err)
	}
	tbl, _ = s.FetchLookupTable(ctx, "devices")
	if len(tbl.Paths) != 0 {
		t.Fatalf("deleted table %+v", tbl)
	}
}

func TestOnBehalfOf(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	mustUser(t, s, "target", "pw", "")
	mustUser(t, s, "plain", "pw", "")
	mustUser(t, s, "delegate", "pw", "")
	mustGroup(t, s, "tg", map[string]PermissionRule{"/t/*": {Actions: []string{"get"}}}, "target")
	mustGroup(t, s, "_MESH_DELEGATE", nil, "delegate")
	admin := mustLogin(t, s, "_ADMIN", "happn")

	same, err := s.OnBehalfOf(ctx, admin, "_ADMIN")
	if err != nil || same != admin {
		t.Fatal("onBehalfOf _ADMIN should be ignored")
	}
	ob, err := s.OnBehalfOf(ctx, admin, "target")
	if err != nil {
		t.Fatal(err)
	}
	if ob.Username != "target" || !ob.Delegate || string(ob.Info) != `{"delegatedBy":"_ADMIN"}` || ob.Type != admin.Type {
		t.Fatalf("delegated session %+v", ob)
	}
	if !allowed(t, s, ob, "/t/1", "get") || allowed(t, s, ob, "/x", "get") {
		t.Fatal("delegated session does not carry the target's rights")
	}
	if again, _ := s.OnBehalfOf(ctx, admin, "target"); again != ob {
		t.Fatal("delegated session not cached")
	}
	d := mustLogin(t, s, "delegate", "pw")
	if _, err := s.OnBehalfOf(ctx, d, "target"); err != nil {
		t.Fatalf("_MESH_DELEGATE member refused: %v", err)
	}
	p := mustLogin(t, s, "plain", "pw")
	_, err = s.OnBehalfOf(ctx, p, "target")
	wantErr(t, err, "AccessDenied", "unauthorized", 403)
	var e *errs.Error
	errors.As(err, &e)
	if e.Reason != "session attempting to act on behalf of is not authorized request on behalf of unauthorised user: target" {
		t.Fatalf("reason %q", e.Reason)
	}
	_, err = s.OnBehalfOf(ctx, admin, "ghost")
	errors.As(err, &e)
	if e == nil || e.Message != "unauthorized" || e.Reason != "on behalf of user does not exist request on behalf of unauthorised user: ghost" {
		t.Fatalf("missing target: %v", err)
	}
}

func TestNestedPermissions(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	mustUser(t, s, "n", "pw", "")
	mustGroup(t, s, "ng", map[string]PermissionRule{
		"/a/b/*":     {Actions: []string{"get", "on"}},
		"/a/c":       {Actions: []string{"on"}},
		"/a/c/d":     {Prohibit: []string{"on"}},
		"/a/x/*":     {Prohibit: []string{"on"}},
		"/other/*":   {Actions: []string{"on"}},
		"/wide/*":    {Actions: []string{"on"}},
		"/wide/no/1": {Prohibit: []string{"on"}},
	}, "n")
	sess := mustLogin(t, s, "n", "pw")
	al, pr, err := s.NestedPermissions(ctx, sess, "/a/**", "on")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(al, []string{"/a/b/*", "/a/c"}) || !reflect.DeepEqual(pr, []string{"/a/c/d", "/a/x/*"}) {
		t.Fatalf("allowed %v prohibited %v", al, pr)
	}
	al, pr, _ = s.NestedPermissions(ctx, sess, "/wide/**", "on")
	if !reflect.DeepEqual(al, []string{"/wide/*"}) || !reflect.DeepEqual(pr, []string{"/wide/no/1"}) {
		t.Fatalf("covering: allowed %v prohibited %v", al, pr)
	}
	al, _, _ = s.NestedPermissions(ctx, sess, "/a/**", "set")
	if len(al) != 0 {
		t.Fatalf("set allowed %v", al)
	}
	_, _, err = s.NestedPermissions(ctx, sess, "/a/**/b", "on")
	wantErr(t, err, "Error", "Recursive wildcards are invalid unless at end of permission path", 0)
}

func TestChangeEvents(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	var mu sync.Mutex
	var got []Change
	cancel := s.OnChange(func(c Change) {
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
		if c.Event == "upsert-user" {
			// listeners may call back into the service
			if _, err := s.GetUser(ctx, "ev", false); err != nil {
				t.Error(err)
			}
		}
	})
	mustUser(t, s, "ev", "pw", "")
	mustGroup(t, s, "evg", nil, "ev")
	if err := s.UpsertPermission(ctx, "evg", "/p", "get", true); err != nil {
		t.Fatal(err)
	}
	if err := s.RemovePermission(ctx, "evg", "/p", "get"); err != nil {
		t.Fatal(err)
	}
	if err := s.UnlinkGroup(ctx, "evg", "ev"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(ctx, "evg"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, "ev"); err != nil {
		t.Fatal(err)
	}
	cancel()
	mustUser(t, s, "after", "pw", "")
	want := []struct {
		event string
		users []string
	}{
		{"upsert-user", []string{"ev"}},
		{"upsert-group", []string{}},
		{"link-group", []string{"ev"}},
		{"permission-upserted", []string{"ev"}},
		{"permission-removed", []string{"ev"}},
		{"unlink-group", []string{"ev"}},
		{"delete-group", []string{}},
		{"delete-user", []string{"ev"}},
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("events %+v", got)
	}
	for i, w := range want {
		if got[i].Event != w.event || !reflect.DeepEqual(got[i].Users, w.users) {
			t.Errorf("event %d = %s %v, want %s %v", i, got[i].Event, got[i].Users, w.event, w.users)
		}
	}
}

// A change written by another node (same store) is seen after
// ApplyRemoteChange.
func TestApplyRemoteChange(t *testing.T) {
	s1, st := newTestService(t, Config{})
	ctx := context.Background()
	s2, err := New(ctx, st, Config{PBKDF2Iterations: 10, Name: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	mustUser(t, s1, "r", "pw", "")
	mustGroup(t, s1, "rg", nil, "r")
	sess := mustLogin(t, s2, "r", "pw")
	if allowed(t, s2, sess, "/r", "get") {
		t.Fatal("allowed before the change")
	}
	var events []string
	s2.OnChange(func(c Change) { events = append(events, c.Event) })
	if err := s1.UpsertPermission(ctx, "rg", "/r", "get", true); err != nil {
		t.Fatal(err)
	}
	if allowed(t, s2, sess, "/r", "get") {
		t.Fatal("node 2 cache should still deny before the change is applied")
	}
	s2.ApplyRemoteChange(ctx, Change{Event: "permission-upserted"})
	if !allowed(t, s2, sess, "/r", "get") {
		t.Fatal("remote change not applied")
	}
	if err := s1.RevokeToken(ctx, sess.Token, "test"); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]string{"token": sess.Token})
	s2.ApplyRemoteChange(ctx, Change{Event: "token-revoked", Data: data})
	if !s2.IsRevoked(sess.Token) {
		t.Fatal("remote revocation not loaded")
	}
	if !reflect.DeepEqual(events, []string{"permission-upserted", "token-revoked"}) {
		t.Fatalf("events %v", events)
	}
}

func BenchmarkAuthorizeCached(b *testing.B) {
	s, _ := newTestService(b, Config{})
	mustUser(b, s, "bench", "pw", "")
	mustGroup(b, s, "bg", map[string]PermissionRule{"/bench/*": {Actions: []string{"get", "set", "on"}}}, "bench")
	sess := mustLogin(b, s, "bench", "pw")
	ctx := context.Background()
	if err := s.Authorize(ctx, sess, "/bench/item/1", "set"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := s.Authorize(ctx, sess, "/bench/item/1", "set"); err != nil {
			b.Fatal(err)
		}
	}
}

// Authorisations racing with permission changes always converge on the
// stored state once the changes stop.
func TestAuthorizeConcurrentChanges(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	mustUser(t, s, "c", "pw", "")
	mustGroup(t, s, "cg", nil, "c")
	sess := mustLogin(t, s, "c", "pw")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					_ = s.Authorize(ctx, sess, "/c/1", "get")
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		if err := s.UpsertPermission(ctx, "cg", "/c/*", "get", i%2 == 0); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if allowed(t, s, sess, "/c/1", "get") {
		t.Fatal("last change (prohibit) not reflected")
	}
	if err := s.UpsertPermission(ctx, "cg", "/c/*", "get", true); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, s, sess, "/c/1", "get") {
		t.Fatal("final allow not reflected")
	}
}

func TestMiscAPI(t *testing.T) {
	s, st := newTestService(t, Config{Profiles: []Profile{
		{Name: "lim", Session: json.RawMessage(`{"user.username":"m"}`), Policy: Policy{UsageLimit: 1}},
	}})
	ctx := context.Background()
	mustUser(t, s, "m", "pw", "")
	mustGroup(t, s, "web", map[string]PermissionRule{"/@HTTP/api/*": {Actions: []string{"get", "post"}}}, "m")
	if err := s.UpsertUserPermission(ctx, "m", "/u/*", "on", true); err != nil {
		t.Fatal(err)
	}
	perms, err := s.ListUserPermissions(ctx, "m")
	if err != nil || len(perms) != 1 || perms[0] != (Permission{"on", true, "/u/*"}) {
		t.Fatalf("ListUserPermissions %+v %v", perms, err)
	}
	wantErr(t, s.UpsertUserPermission(ctx, "ghost", "/a", "get", true), "Error", "ghost does not exist in the system", 0)

	sess := mustLogin(t, s, "m", "pw")
	if !allowed(t, s, sess, "/@HTTP/api/x", "post") {
		t.Fatal("http verb denied")
	}
	wantErr(t, s.Authorize(ctx, sess, "/@HTTP/api/x", "put"), "AccessDenied", "session usage limit reached", 403)
	s.ForgetSession(sess.ID)
	if allowed(t, s, sess, "/@HTTP/api/x", "put") {
		t.Fatal("put allowed")
	}

	groups, _ := s.ListGroups(ctx, "w*", ListOptions{SkipPermissions: true})
	if len(groups) != 1 || groups[0].Name != "web" || groups[0].Permissions != nil {
		t.Fatalf("ListGroups skip permissions %+v", groups)
	}
	if g, _ := s.UserGroups(ctx, "m"); !reflect.DeepEqual(g, []string{"web"}) {
		t.Fatalf("UserGroups %v", g)
	}

	p := &Session{ID: "p", Type: 1, Username: "m", Info: json.RawMessage(`{"_browser":true}`)}
	s.Profile(p)
	if p.Policy[1].UsageLimit != 1 {
		t.Fatalf("configured profile not first: %+v", p.Policy)
	}
	b := &Session{ID: "b", Type: 1, Username: "_ADMIN", Info: json.RawMessage(`{"_browser":true}`)}
	s.Profile(b)
	if b.Policy[0].TTL.Milliseconds() != 7*86400000 {
		t.Fatalf("browser profile %+v", b.Policy)
	}

	// another node changes the shared secret: old tokens stop working
	if _, err := New(ctx, st, Config{SessionTokenSecret: "new-secret", PBKDF2Iterations: 10}); err != nil {
		t.Fatal(err)
	}
	if err := s.ReloadSecret(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = s.Login(ctx, LoginRequest{Token: sess.Token, Type: 1})
	wantErr(t, err, "AccessDenied", "Invalid credentials: invalid session token", 401)
	if s.Config().PBKDF2Iterations != 10 || s.Config().AdminPassword != "happn" {
		t.Fatalf("config %+v", s.Config())
	}
}
