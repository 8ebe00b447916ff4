package meshclient_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/meshclient"
)

func TestSecureLoginTokenAndAs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	m, err := happner.Create(ctx, happner.Config{
		Name:       "smc",
		Happn:      happn.Config{Host: "127.0.0.1", Secure: true, AdminPassword: "pw", Logger: quiet()},
		Logger:     quiet(),
		Modules:    map[string]happner.ModuleConfig{"echo": {Instance: echo{}}},
		Components: map[string]happner.ComponentConfig{"echo": {}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Stop(context.Background())
	url := "http://" + m.Addr()
	admin, err := meshclient.Login(ctx, meshclient.Options{URL: url, Username: "_ADMIN", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if !admin.Secure() || admin.Username() != "_ADMIN" || admin.Token() == "" {
		t.Fatalf("admin session: secure=%v user=%q token=%q", admin.Secure(), admin.Username(), admin.Token())
	}
	// Users and groups through the security component, over the wire.
	yes := true
	g := happner.SecurityGroup{Name: "talkers", Permissions: &happner.Permissions{
		Methods: map[string]happner.PermissionEntry{"/smc/echo/say": {Authorized: &yes}},
	}}
	if err := admin.Call(ctx, "security", "addGroup", []any{g}, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: "ann", Password: "annpw"}}, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.Call(ctx, "security", "linkGroup", []any{"talkers", "ann"}, nil); err != nil {
		t.Fatal(err)
	}
	ann, err := meshclient.Login(ctx, meshclient.Options{URL: url, Username: "ann", Password: "annpw"})
	if err != nil {
		t.Fatal(err)
	}
	defer ann.Close()
	// A token login carries the same user.
	again, err := meshclient.Login(ctx, meshclient.Options{URL: url, Token: ann.Token()})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	var s string
	if err := again.Call(ctx, "echo", "say", []any{"hi"}, &s); err != nil || s != "hi" || again.Username() != "ann" {
		t.Errorf("token login call: %q %v user %q", s, err, again.Username())
	}
	if err := ann.Call(ctx, "echo", "wait", []any{1}); !isAccessDenied(err) {
		t.Errorf("denied call: %v", err)
	}
	// _ADMIN may call as ann (onBehalfOf): authorised as ann.
	if err := admin.Do(ctx, happner.CallOptions{Component: "echo", Method: "say", Arguments: []any{"as"}, As: "ann"}, &s); err != nil || s != "as" {
		t.Errorf("as ann, granted: %q %v", s, err)
	}
	if err := admin.Do(ctx, happner.CallOptions{Component: "echo", Method: "wait", Arguments: []any{1}, As: "ann"}); err == nil || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("as ann, denied: %v", err)
	}
	// ann is no delegate: she may not call as another user.
	if err := ann.Do(ctx, happner.CallOptions{Component: "echo", Method: "say", Arguments: []any{"x"}, As: "someone"}); !isAccessDenied(err) {
		t.Errorf("a non-delegate called as another user: %v", err)
	}
}

// isAccessDenied reports the error of a denied call: name AccessDenied,
// message unauthorized.
func isAccessDenied(err error) bool {
	var he *happner.Error
	return errors.As(err, &he) && he.Name == "AccessDenied" && err.Error() == "unauthorized"
}
