package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/meshclient"
)

// secureDelegationCluster starts a secure member with the dependor (whose
// config is adjusted by tune) and a member with component1, and a user
// "bob" allowed to call the dependor but not component1.
func secureDelegationCluster(t *testing.T, dep string, tune func(*Config)) (*meshclient.Client, []*Member) {
	t.Helper()
	shared := newShared(t)
	a := withDependor(testConfig(dep, "svc", map[string]int{"svc": 1}, shared), &dependor{},
		`{"component1": {"version": "^2.0.0", "methods": {"method1": {}}}}`, t)
	b := withComponents(testConfig(dep, "svc", map[string]int{"svc": 1}, shared), map[string]string{"component1": "2.0.0"})
	for _, c := range []*Config{&a, &b} {
		c.Happn.Secure = true
		c.Happn.AdminPassword = "secret"
	}
	tune(&a)
	ms := startAll(t, a, b)
	awaitImplementors(t, ms[0], 1)
	ctx := context.Background()
	sec := ms[0].srv.Security()
	if _, err := sec.UpsertGroup(ctx, security.Group{Name: "callers"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][2]string{
		{"/_exchange/requests/DOMAIN_NAME/dependor/*", "set"},
		{"/_exchange/responses/DOMAIN_NAME/dependor/*", "on"},
		{"/mesh/schema/*", "get"},
		{"/mesh/schema/*", "on"},
	} {
		if err := sec.UpsertPermission(ctx, "callers", p[0], p[1], true); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sec.UpsertUser(ctx, security.User{Username: "bob", Password: "pw"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sec.LinkGroup(ctx, "callers", "bob", nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // security sync
	cl, err := meshclient.Login(ctx, meshclient.Options{URL: "http://" + ms[0].ClientAddr(), Username: "bob", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, ms
}

// Ports of happner-cluster integration 11-14 (authority delegation across
// members): with delegation on (per component or mesh-wide) the remote
// request is authorised as the calling user and refused; without it the
// call runs as the cluster user; asAdmin bypasses delegation.
func Test11_14_AuthorityDelegation(t *testing.T) {
	on := true
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		tune   func(*Config)
		method string
		denied bool
	}{
		{"11 component delegation", func(c *Config) {
			cc := c.Components["dependor"]
			cc.Security.AuthorityDelegationOn = &on
			c.Components["dependor"] = cc
		}, "callRemote", true},
		{"12 no delegation", func(*Config) {}, "callRemote", false},
		{"13 asAdmin", func(c *Config) { c.AuthorityDelegationOn = true }, "adminCall", false},
		{"14 mesh delegation", func(c *Config) { c.AuthorityDelegationOn = true }, "callRemote", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, ms := secureDelegationCluster(t, "dep-deleg-"+c.name[:2], c.tune)
			args := []any{"x"}
			if c.method == "adminCall" {
				args = []any{"component1", "method1", "x"}
			}
			var s string
			err := cl.Call(ctx, "dependor", c.method, args, &s)
			if c.denied {
				var he *happner.Error
				if !errors.As(err, &he) || he.Name != "AccessDenied" || he.Message != "unauthorized" {
					t.Fatalf("want AccessDenied unauthorized, got %q %#v", s, err)
				}
				return
			}
			if err != nil || s != ms[1].Name()+":x" {
				t.Fatalf("got %q %v", s, err)
			}
		})
	}
}

// Port of happner-cluster integration 37 (component part): $call with as
// sends the call on behalf of that user.
func Test37_CallAs(t *testing.T) {
	_, ms := secureDelegationCluster(t, "dep-37", func(*Config) {})
	ctx := context.Background()
	err := ms[0].Mesh().Exchange().Do(ctx, happner.CallOptions{Component: "component1", Method: "method1", Arguments: []any{"y"}, As: "bob"})
	if err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("as bob: %v", err)
	}
	var s string
	if err := ms[0].Mesh().Exchange().Do(ctx, happner.CallOptions{Component: "component1", Method: "method1", Arguments: []any{"y"}}, &s); err != nil || s != ms[1].Name()+":y" {
		t.Fatalf("as the mesh: %q %v", s, err)
	}
	// the remote method sees the user it runs for as $origin
	if err := ms[0].srv.Security().UpsertPermission(ctx, "callers", "/_exchange/requests/DOMAIN_NAME/component1/whoAmI", "set", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "permission synced", func() bool {
		err := ms[0].Mesh().Exchange().Do(ctx, happner.CallOptions{Component: "component1", Method: "whoAmI", As: "bob"}, &s)
		return err == nil
	})
	if s != "bob" {
		t.Errorf("remote $origin.username %q, want bob", s)
	}
	err = ms[0].Mesh().Exchange().Do(ctx, happner.CallOptions{Component: "component1", Method: "method1", As: "nobody"})
	if err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Fatalf("as an unknown user: %v", err)
	}
}
