package happn

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
)

// bobServer has user bob (password "pw") with get, set, on and remove on
// /bob/*, and get, on and remove prohibited on /bob/secret/*.
func bobServer(t *testing.T) (*Server, *client.Client) {
	t.Helper()
	srv := startServer(t, Config{Secure: true})
	ctx := context.Background()
	sec := srv.Security()
	if _, err := sec.UpsertUser(ctx, security.User{Username: "bob", Password: "pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sec.UpsertGroup(ctx, security.Group{Name: "bobs", Permissions: map[string]security.PermissionRule{
		"/bob/*":        {Actions: []string{"get", "set", "on", "remove"}},
		"/bob/secret/*": {Prohibit: []string{"get", "on", "remove"}},
	}}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sec.LinkGroup(ctx, "bobs", "bob", nil); err != nil {
		t.Fatal(err)
	}
	admin := connect(t, srv, "_ADMIN", "happn")
	for _, p := range []string{"/bob/open/1", "/bob/secret/1"} {
		if _, err := admin.Set(ctx, p, map[string]int{"v": 1}); err != nil {
			t.Fatal(err)
		}
	}
	return srv, admin
}

func itemPaths(res *client.GetResult) []string {
	var out []string
	for _, it := range res.Items {
		out = append(out, it.Meta.Path)
	}
	sort.Strings(out)
	return out
}

// TestProhibitionWinsOverWildcards: a prohibited path is not reached
// through a wildcard get, count, remove or subscription.
func TestProhibitionWinsOverWildcards(t *testing.T) {
	srv, admin := bobServer(t)
	ctx := context.Background()
	bob := connect(t, srv, "bob", "pw")

	_, err := bob.Get(ctx, "/bob/secret/1")
	wantDenied(t, err, "unauthorized")
	for _, pattern := range []string{"/bob/*", "/bob/*/1", "/bob/**"} {
		res, err := bob.Get(ctx, pattern)
		if err != nil {
			t.Fatalf("get %s: %v", pattern, err)
		}
		if got := itemPaths(res); !slices.Equal(got, []string{"/bob/open/1"}) {
			t.Errorf("get %s returned %v", pattern, got)
		}
	}
	paths, err := bob.GetPaths(ctx, "/bob/*")
	if err != nil || !slices.Equal(paths, []string{"/bob/open/1"}) {
		t.Errorf("getPaths /bob/*: %v %v", paths, err)
	}
	if n, err := bob.Count(ctx, "/bob/*"); err != nil || n != 1 {
		t.Errorf("count /bob/* = %d %v, want 1", n, err)
	}

	events := make(chan string, 10)
	for _, sub := range []struct{ path, event string }{{"/bob/**", "set"}, {"/bob/*/2", "all"}} {
		if _, err := bob.On(ctx, sub.path, client.OnOptions{EventType: sub.event}, func(e client.Event) { events <- e.Meta.Path }); err != nil {
			t.Fatalf("on %s: %v", sub.path, err)
		}
	}
	if _, err := admin.Set(ctx, "/bob/secret/2", map[string]int{"v": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Set(ctx, "/bob/open/2", map[string]int{"v": 2}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		expectEvent(t, events, "/bob/open/2", "no event for a permitted path")
	}
	select {
	case p := <-events:
		t.Fatalf("event %s delivered under a prohibition", p)
	case <-time.After(200 * time.Millisecond):
	}

	// initial values leave the prohibited items out too
	var initial []string
	if _, err := bob.On(ctx, "/bob/**", client.OnOptions{InitialCallback: func(items []client.Item) {
		for _, it := range items {
			initial = append(initial, it.Meta.Path)
		}
	}}, func(client.Event) {}); err != nil {
		t.Fatal(err)
	}
	if len(initial) != 2 {
		t.Errorf("initial values of /bob/**: %v", initial)
	}
	for _, p := range initial {
		if strings.HasPrefix(p, "/bob/secret/") {
			t.Errorf("initial values of /bob/** include %s", p)
		}
	}

	// a wildcard remove that would reach prohibited items is refused whole
	_, err = bob.Remove(ctx, "/bob/*")
	wantDenied(t, err, "unauthorized")
	if res, _ := admin.Get(ctx, "/bob/*"); len(res.Items) != 4 {
		t.Errorf("a refused remove removed something: %v", itemPaths(res))
	}
	if n, err := bob.Remove(ctx, "/bob/open/*"); err != nil || n != 2 {
		t.Errorf("remove /bob/open/* = %d %v, want 2", n, err)
	}
}

// TestProhibitionAddedUnderASubscription: a prohibition added while a
// wildcard subscription is live filters its later events.
func TestProhibitionAddedUnderASubscription(t *testing.T) {
	srv, admin := bobServer(t)
	ctx := context.Background()
	bob := connect(t, srv, "bob", "pw")
	events := make(chan string, 10)
	if _, err := bob.On(ctx, "/bob/**", client.OnOptions{}, func(e client.Event) { events <- e.Meta.Path }); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Set(ctx, "/bob/later/1", map[string]int{"v": 1}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, "/bob/later/1", "no event before the prohibition")
	if err := srv.Security().UpsertPermission(ctx, "bobs", "/bob/later/*", "on", false); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	sess := srv.sessions[bob.Session().ID]
	srv.mu.Unlock()
	waitUntil(t, "the subscription to be checked per item", func() bool {
		subs := srv.subs.sessionSubscriptions(sess)
		return len(subs) == 1 && subs[0].perItem.Load()
	})
	if _, err := admin.Set(ctx, "/bob/later/2", map[string]int{"v": 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Set(ctx, "/bob/open/3", map[string]int{"v": 3}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, events, "/bob/open/3", "no event for a permitted path")
}

// TestLoginTimeDoesNotRevealUsers: a login for a user that does not exist
// takes as long as a wrong password for one that does.
func TestLoginTimeDoesNotRevealUsers(t *testing.T) {
	srv := startServer(t, Config{Secure: true, Security: security.Config{AccountLockout: security.LockoutConfig{Enabled: new(bool)}}})
	ctx := context.Background()
	sec := srv.Security()
	if _, err := sec.UpsertUser(ctx, security.User{Username: "known", Password: "right"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	// the two kinds of login alternate, so that load on the machine falls
	// on both alike
	login := func(user string) time.Duration {
		start := time.Now()
		if _, err := sec.Login(ctx, security.LoginRequest{Username: user, Password: "wrong", Type: security.Stateful}); err == nil {
			t.Fatal("a wrong password logged in")
		}
		return time.Since(start)
	}
	login("known")
	login("nobody-by-that-name")
	medians := func() (known, unknown time.Duration) {
		var ks, us []time.Duration
		for range 31 {
			ks = append(ks, login("known"))
			us = append(us, login("nobody-by-that-name"))
		}
		slices.Sort(ks)
		slices.Sort(us)
		return ks[len(ks)/2], us[len(us)/2]
	}
	// a loaded machine can skew one round; a server that reveals users
	// fails every round (its unknown-user logins take a fraction)
	var known, unknown time.Duration
	for range 3 {
		if known, unknown = medians(); within(known, unknown, 0.2) {
			break
		}
	}
	ratio := float64(unknown) / float64(known)
	t.Logf("median failed login: existing user %v, unknown user %v (ratio %.2f)", known, unknown, ratio)
	if !within(known, unknown, 0.2) {
		t.Fatalf("unknown user answered in %v, existing user with a wrong password in %v: not within 20%%", unknown, known)
	}
}

// within reports whether b is within frac of a (either way).
func within(a, b time.Duration, frac float64) bool {
	r := float64(b) / float64(a)
	return r >= 1-frac && r <= 1/(1-frac)
}

// TestProhibitedItemsDoNotShapeAPage: skip and limit page only what the
// user may get. Paged before the prohibited items were left out, a page
// came back empty exactly when a hidden item matched the criteria, and
// criteria could then read a hidden value one guess at a time.
func TestProhibitedItemsDoNotShapeAPage(t *testing.T) {
	srv, admin := bobServer(t)
	ctx := context.Background()
	if _, err := admin.Set(ctx, "/bob/secret/x", map[string]string{"v": "SECRET"}); err != nil {
		t.Fatal(err)
	}
	bob := connect(t, srv, "bob", "pw")
	guess := func(prefix string) client.Option {
		return client.Criteria(map[string]any{"$or": []any{
			map[string]any{"v": 1},
			map[string]any{"v": map[string]any{"$regex": "^" + prefix}},
		}})
	}
	for _, prefix := range []string{"SEC", "NOPE"} {
		res, err := bob.Get(ctx, "/bob/*", guess(prefix), client.Sort(map[string]int{"path": -1}), client.Limit(1))
		if err != nil {
			t.Fatal(err)
		}
		if got := itemPaths(res); !slices.Equal(got, []string{"/bob/open/1"}) {
			t.Errorf("guess %q, limit 1: %v, want [/bob/open/1] whatever the hidden items hold", prefix, got)
		}
		if n, err := bob.Count(ctx, "/bob/*", guess(prefix), client.Limit(1)); err != nil || n != 1 {
			t.Errorf("guess %q, count with limit 1: %d %v, want 1", prefix, n, err)
		}
	}
	res, err := bob.Get(ctx, "/bob/*", client.Sort(map[string]int{"path": -1}), client.Skip(1))
	if err != nil || len(res.Items) != 0 {
		t.Errorf("skip 1 past the only permitted item: %v %v", itemPaths(res), err)
	}
}

// TestConfigOutOfRange: values no node can run with are refused when the
// file is read, naming the key, not when the node starts.
func TestConfigOutOfRange(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{`{"port": 99999999}`, "port: 99999999 is not a TCP port"},
		{`{"port": -1}`, "port: -1 is not a TCP port"},
		{`{"services": {"security": {"config": {"accountLockout": {"attempts": -3}}}}}`, "accountLockout.attempts: -3 is negative"},
	} {
		if _, err := ParseConfig([]byte(tc.file), "json"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.file, err, tc.want)
		}
	}
	if _, err := ParseConfig([]byte(`{"port": 0}`), "json"); err != nil {
		t.Errorf("port 0: %v", err)
	}
}
