package security_test

import (
	"context"
	"fmt"

	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/store/memory"
)

// A user in a group that may read one subtree: logins check the password,
// Authorize checks each path and action, and prohibitions win.
func Example() {
	ctx := context.Background()
	sec, err := security.New(ctx, memory.New(), security.Config{Name: "example"})
	if err != nil {
		panic(err)
	}
	if _, err := sec.UpsertUser(ctx, security.User{Username: "alice", Password: "secret"}, security.UpsertOptions{}); err != nil {
		panic(err)
	}
	if _, err := sec.UpsertGroup(ctx, security.Group{Name: "readers", Permissions: map[string]security.PermissionRule{
		"/sensors/*":        {Actions: []string{"get", "on"}},
		"/sensors/secret/*": {Prohibit: []string{"get"}},
	}}, security.UpsertOptions{}); err != nil {
		panic(err)
	}
	if err := sec.LinkGroup(ctx, "readers", "alice", nil); err != nil {
		panic(err)
	}

	_, err = sec.Login(ctx, security.LoginRequest{Username: "alice", Password: "wrong", Type: security.Stateful})
	fmt.Println("bad password:", err)

	sess, err := sec.Login(ctx, security.LoginRequest{Username: "alice", Password: "secret", Type: security.Stateful})
	if err != nil {
		panic(err)
	}
	for _, check := range []struct{ path, action string }{
		{"/sensors/t1", "get"},
		{"/sensors/t1", "set"},
		{"/sensors/secret/key", "get"},
	} {
		fmt.Printf("%s %s: %v\n", check.action, check.path, sec.Authorize(ctx, sess, check.path, check.action))
	}
	// Output:
	// bad password: AccessDenied: Invalid credentials
	// get /sensors/t1: <nil>
	// set /sensors/t1: AccessDenied: unauthorized
	// get /sensors/secret/key: AccessDenied: unauthorized
}
