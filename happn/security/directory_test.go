package security

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/happner-go/happner/store"
)

func ptr[T any](v T) *T { return &v }

func TestNewCreatesAdminAndSecret(t *testing.T) {
	s, st := newTestService(t, Config{AdminPassword: "adminpw"})
	ctx := context.Background()
	for _, p := range []string{
		"/_SYSTEM/_SECURITY/SESSION_TOKEN_SECRET",
		"/_SYSTEM/_SECURITY/_GROUP/_ADMIN",
		"/_SYSTEM/_SECURITY/_USER/_ADMIN",
		"/_SYSTEM/_SECURITY/_USER/_ADMIN/_USER_GROUP/_ADMIN",
		"/_SYSTEM/_SECURITY/_PERMISSIONS/_ADMIN/*/{{w}}", // happn-3's layout: the action is not escaped
	} {
		if rec, err := st.Get(ctx, p); err != nil || rec == nil {
			t.Errorf("missing %s (%v)", p, err)
		}
	}
	admin := mustLogin(t, s, "_ADMIN", "adminpw")
	if !allowed(t, s, admin, "/anything/at/all", "set") {
		t.Fatal("_ADMIN denied")
	}
	// a second service over the same store shares the secret, keeps the
	// admin password and accepts the first one's token.
	s2, err := New(ctx, st, Config{AdminPassword: "ignored", Name: "other", PBKDF2Iterations: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Login(ctx, LoginRequest{Username: "_ADMIN", Password: "adminpw", Type: 1}); err != nil {
		t.Fatalf("admin password changed by restart: %v", err)
	}
	sess, err := s2.Login(ctx, LoginRequest{Token: admin.Token, Type: 1})
	if err != nil {
		t.Fatalf("token from node 1 refused by node 2: %v", err)
	}
	if sess.ParentID != admin.ID || sess.Token != admin.Token {
		t.Fatalf("token session %+v", sess)
	}
	g, err := s.GetGroup(ctx, "_ADMIN")
	if err != nil || g == nil || len(g.Permissions["*"].Actions) != 1 || g.Permissions["*"].Actions[0] != "*" {
		t.Fatalf("admin group %+v %v", g, err)
	}
	if !strings.Contains(string(g.CustomData), adminGroupDesc) {
		t.Fatalf("admin custom data %s", g.CustomData)
	}
}

func TestUserValidation(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	cases := []struct {
		u    User
		opts UpsertOptions
		msg  string
	}{
		{User{}, UpsertOptions{}, "validation failure: no username specified"},
		{User{Username: "***"}, UpsertOptions{}, "validation failure: no username specified"},
		{User{Username: "a:nogroups", Password: "x"}, UpsertOptions{}, "validation failure: username cannot contain the ':nogroups' directive"},
		{User{Username: "_ANONYMOUS", Password: "x"}, UpsertOptions{}, "validation failure: username cannot be reserved name _ANONYMOUS"},
		{User{Username: "nopw"}, UpsertOptions{}, "validation failure: no password or publicKey specified for a new user"},
		{User{Username: "_ADMIN", Password: "x"}, UpsertOptions{Overwrite: ptr(false)}, "validation failure: user by the name _ADMIN already exists"},
		{User{Username: "p", Password: "x", Permissions: map[string]PermissionRule{"/a": {}}}, UpsertOptions{}, "user permissions invalid: missing allowed actions or prohibit rules: /a"},
		{User{Username: "p", Password: "x", Permissions: map[string]PermissionRule{"/a": {Actions: []string{"fly"}}, "/b": {Prohibit: []string{"swim"}}}}, UpsertOptions{},
			"user permissions invalid: unknown action: fly for path: /a,unknown prohibit action: swim for path: /b"},
		{User{Username: "p", Password: "x", Permissions: map[string]PermissionRule{"/a/{{w}}": {Actions: []string{"get"}}}}, UpsertOptions{}, "invalid permission path, cannot contain special string {{w}}"},
	}
	for _, c := range cases {
		_, err := s.UpsertUser(ctx, c.u, c.opts)
		wantErr(t, err, "Error", c.msg, 0)
	}
	wantErr(t, s.DeleteUser(ctx, "_ADMIN"), "Error", "unable to delete a user with the reserved name: _ADMIN", 0)
	wantErr(t, s.DeleteUser(ctx, "ghost"), "Error", "ghost does not exist in the system", 0)
}

func TestUserLifecycle(t *testing.T) {
	s, st := newTestService(t, Config{})
	ctx := context.Background()
	u, err := s.UpsertUser(ctx, User{Username: "bob*", Password: "pw", CustomData: json.RawMessage(`{"team":"red"}`),
		Permissions: map[string]PermissionRule{"/bob/*": {Actions: []string{"get", "on"}}}}, UpsertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "bob" || u.Password != "" || u.UserID == "" || string(u.CustomData) != `{"team":"red"}` {
		t.Fatalf("user %+v", u)
	}
	if got := u.Permissions["/bob/*"].Actions; len(got) != 2 {
		t.Fatalf("user permissions %+v", u.Permissions)
	}
	rec, _ := st.Get(ctx, "/_SYSTEM/_SECURITY/_USER/bob")
	if rec == nil || !strings.Contains(string(rec.Data), `"password":"pbkdf2$10$`) {
		t.Fatalf("stored user %v", rec)
	}
	if rec, _ := st.Get(ctx, "/_SYSTEM/_SECURITY/_PERMISSIONS/_USER/bob/get//bob/{{w}}"); rec == nil {
		t.Fatal("user permission not at happn path")
	}
	// merge: custom data kept, userid kept, new password works
	u2, err := s.UpsertUser(ctx, User{Username: "bob", Password: "pw2"}, UpsertOptions{})
	if err != nil || u2.UserID != u.UserID || string(u2.CustomData) != `{"team":"red"}` {
		t.Fatalf("merge %+v %v", u2, err)
	}
	mustLogin(t, s, "bob", "pw2")
	mustGroup(t, s, "team", nil, "bob")
	g, _ := s.GetUser(ctx, "bob", true)
	if _, ok := g.Groups["team"]; !ok {
		t.Fatalf("groups %+v", g.Groups)
	}
	list, err := s.ListUsers(ctx, "*", ListOptions{})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListUsers %v %v", list, err)
	}
	list, _ = s.ListUsers(ctx, "*", ListOptions{Criteria: json.RawMessage(`{"custom_data.team":"red"}`)})
	if len(list) != 1 || list[0].Username != "bob" {
		t.Fatalf("ListUsers criteria %+v", list)
	}
	names, _ := s.ListUserNamesByGroup(ctx, "team")
	if len(names) != 1 || names[0] != "bob" {
		t.Fatalf("members %v", names)
	}
	if err := s.DeleteUser(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Count(ctx, "/_SYSTEM/_SECURITY/_USER/bob*", nil); n != 0 {
		t.Fatalf("%d user records left", n)
	}
	if n, _ := st.Count(ctx, "/_SYSTEM/_SECURITY/_PERMISSIONS/_USER/bob/*", nil); n != 0 {
		t.Fatalf("%d permission records left", n)
	}
	if u, err := s.GetUser(ctx, "bob", false); u != nil || err != nil {
		t.Fatalf("deleted user still there: %v %v", u, err)
	}
}

func TestGroupValidationAndLifecycle(t *testing.T) {
	s, st := newTestService(t, Config{})
	ctx := context.Background()
	_, err := s.UpsertGroup(ctx, Group{}, UpsertOptions{})
	wantErr(t, err, "Error", "names cannot be empty", 0)
	for _, bad := range []string{"a/b", "my_SYSTEM", "_ADMIN", "x_ANONYMOUS", "_GROUP1"} {
		_, err = s.UpsertGroup(ctx, Group{Name: bad}, UpsertOptions{})
		wantErr(t, err, "Error", "validation error: group names cannot contain the special _SYSTEM, _GROUP, _PERMISSION, _USER_GROUP, _ADMIN, _ANONYMOUS segment or a forward slash /", 0)
	}
	_, err = s.UpsertGroup(ctx, Group{Name: "g", Permissions: map[string]PermissionRule{"/x": {Actions: []string{"jump"}}}}, UpsertOptions{})
	wantErr(t, err, "Error", "group permissions invalid: unknown action: jump for path: /x", 0)

	mustGroup(t, s, "g", map[string]PermissionRule{"/x/*": {Actions: []string{"get"}, Prohibit: []string{"set"}}})
	_, err = s.UpsertGroup(ctx, Group{Name: "g"}, UpsertOptions{Overwrite: ptr(false)})
	wantErr(t, err, "Error", "validation failure: group by the name g already exists", 0)
	// merge at action level, then remove one action
	g, err := s.UpsertGroup(ctx, Group{Name: "g", Permissions: map[string]PermissionRule{"/x/*": {Actions: []string{"on"}}, "/y": {Actions: []string{"*"}}}}, UpsertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := g.Permissions["/x/*"]; strings.Join(r.Actions, ",") != "get,on" || strings.Join(r.Prohibit, ",") != "set" {
		t.Fatalf("merged %+v", g.Permissions)
	}
	g, _ = s.UpsertGroup(ctx, Group{Name: "g", Permissions: map[string]PermissionRule{"/x/*": {Remove: true, Actions: []string{"get"}, Prohibit: []string{"set"}}}}, UpsertOptions{})
	if r := g.Permissions["/x/*"]; strings.Join(r.Actions, ",") != "on" || len(r.Prohibit) != 0 {
		t.Fatalf("after remove %+v", g.Permissions)
	}
	perms, _ := s.ListPermissions(ctx, "g")
	if len(perms) != 2 || perms[0] != (Permission{"on", true, "/x/*"}) || perms[1] != (Permission{"*", true, "/y"}) {
		t.Fatalf("ListPermissions %+v", perms)
	}
	if _, err := s.GetGroup(ctx, ""); err == nil {
		t.Fatal("empty group name accepted")
	}
	_, err = s.GetGroup(ctx, "g*")
	wantErr(t, err, "Error", "invalid group name: g*", 0)

	wantErr(t, s.LinkGroup(ctx, "nogroup", "_ADMIN", nil), "Error", "validation error: group does not exist or has not been saved", 0)
	wantErr(t, s.LinkGroup(ctx, "g", "nouser", nil), "Error", "validation error: user does not exist or has not been saved", 0)
	wantErr(t, s.UnlinkGroup(ctx, "g", "nouser"), "Error", "validation error: user does not exist or has not been saved", 0)
	wantErr(t, s.DeleteGroup(ctx, "nogroup"), "Error", "group you are deleting does not exist", 0)
	wantErr(t, s.UpsertPermission(ctx, "g", "", "get", true), "Error", "permission path is null", 0)
	wantErr(t, s.UpsertPermission(ctx, "g", "/a", "fly", true), "Error", "unknown action: fly for path: /a", 0)
	wantErr(t, s.UpsertPermission(ctx, "", "/a", "get", true), "Error", "please supply a groupName", 0)

	mustUser(t, s, "ann", "pw", "")
	if err := s.LinkGroup(ctx, "g", "ann", json.RawMessage(`{"role":"lead"}`)); err != nil {
		t.Fatal(err)
	}
	u, _ := s.GetUser(ctx, "ann", true)
	if string(u.Groups["g"]) != `{"role":"lead"}` {
		t.Fatalf("link data %s", u.Groups["g"])
	}
	groups, _ := s.ListGroups(ctx, "*", ListOptions{})
	if len(groups) != 2 || groups[0].Name != "_ADMIN" || groups[1].Name != "g" {
		t.Fatalf("ListGroups %+v", groups)
	}
	if err := s.DeleteGroup(ctx, "g"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/_SYSTEM/_SECURITY/_GROUP/g", "/_SYSTEM/_SECURITY/_PERMISSIONS/g/*", "/_SYSTEM/_SECURITY/_USER/ann/_USER_GROUP/g"} {
		if n, _ := st.Count(ctx, p, nil); n != 0 {
			t.Errorf("%s left after DeleteGroup", p)
		}
	}
}

// TestPermissionRecordsInHappnLayout checks that permissions are stored
// where happn-3 stores them (the "*" action unescaped), that records of
// the earlier {{w}} spelling are still read and removed, and that removing
// the "*" action leaves the other actions on the same path alone.
func TestPermissionRecordsInHappnLayout(t *testing.T) {
	s, st := newTestService(t, Config{})
	ctx := context.Background()
	if _, err := s.UpsertGroup(ctx, Group{Name: "g", Permissions: map[string]PermissionRule{
		"/a/*": {Actions: []string{"*", "get"}}, "/b": {Prohibit: []string{"on"}}}}, UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/_SYSTEM/_SECURITY/_PERMISSIONS/g/*//a/{{w}}", "/_SYSTEM/_SECURITY/_PERMISSIONS/g/get//a/{{w}}",
		"/_SYSTEM/_SECURITY/_PERMISSIONS/g/on//b"} {
		if rec, err := st.Get(ctx, p); err != nil || rec == nil {
			t.Errorf("missing %s (%v)", p, err)
		}
	}
	// a record in the earlier spelling of the "*" action
	legacy := "/_SYSTEM/_SECURITY/_PERMISSIONS/g/{{w}}//c"
	if _, err := st.Set(ctx, legacy, json.RawMessage(`{"action":"*","authorized":true,"path":"/c"}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	s.invalidate()
	g, err := s.GetGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if r := g.Permissions["/c"]; len(r.Actions) != 1 || r.Actions[0] != "*" {
		t.Errorf("legacy record not read: %+v", g.Permissions)
	}
	if err := s.RemovePermission(ctx, "g", "/c", "*"); err != nil {
		t.Fatal(err)
	}
	if rec, _ := st.Get(ctx, legacy); rec != nil {
		t.Error("legacy record not removed")
	}
	if err := s.RemovePermission(ctx, "g", "/a/*", "*"); err != nil {
		t.Fatal(err)
	}
	g, _ = s.GetGroup(ctx, "g")
	if r := g.Permissions["/a/*"]; len(r.Actions) != 1 || r.Actions[0] != "get" {
		t.Errorf("after removing the * action: %+v, want get kept", g.Permissions)
	}
	// rewriting a legacy "*" permission leaves one record, in happn's layout
	if _, err := st.Set(ctx, "/_SYSTEM/_SECURITY/_PERMISSIONS/g/{{w}}//d", json.RawMessage(`{"action":"*","authorized":true,"path":"/d"}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.UpsertPermission(ctx, "g", "/d", "*", true); err != nil {
		t.Fatal(err)
	}
	perms, err := s.ListPermissions(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range perms {
		if p.Path == "/d" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("permissions on /d: %v", perms)
	}
	if rec, _ := st.Get(ctx, "/_SYSTEM/_SECURITY/_PERMISSIONS/g/{{w}}//d"); rec != nil {
		t.Error("legacy record of /d kept after the upsert")
	}
}
