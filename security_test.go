package happner

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/security"
)

// startSecure starts an empty secure mesh named "secure".
func startSecure(t *testing.T) *Mesh {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := Create(ctx, Config{Name: "secure", Logger: log, Happn: happn.Config{Host: "127.0.0.1", Secure: true, Logger: log}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop(context.Background()) })
	return m
}

func TestPermissionTranslation(t *testing.T) {
	m := &Mesh{domain: "dom"}
	tr, f := true, false
	rules := m.toHappnRules(&Permissions{
		Methods: map[string]PermissionEntry{"/dom/calc/add": {Authorized: &tr}, "calc/sub/": {Authorized: &tr}, "/dom/calc/no": {Authorized: &f}, "/dom/calc/unset": {}},
		Events:  map[string]PermissionEntry{"/calc/ev": {Authorized: &tr}},
		Web:     map[string]PermissionEntry{"calc/page": {Actions: []string{"get"}}, "/calc/x": {Authorized: &f, Actions: []string{"*"}}},
		Data:    map[string]PermissionEntry{"/d/*": {Actions: []string{"get"}}, "/e": {Authorized: &f, Actions: []string{"set"}}},
	})
	want := map[string]security.PermissionRule{
		"/_exchange/requests/dom/calc/add":      {Actions: []string{"set"}},
		"/_exchange/responses/dom/calc/add/*":   {Actions: []string{"on", "set"}},
		"/_exchange/requests/dom/calc/sub/":     {Actions: []string{"set"}},
		"/_exchange/responses/dom/calc/sub/*":   {Actions: []string{"on", "set"}},
		"/_exchange/requests/dom/calc/no":       {Prohibit: []string{"set"}},
		"/_exchange/responses/dom/calc/no/*":    {Prohibit: []string{"on", "set"}},
		"/_exchange/requests/dom/calc/unset":    {Prohibit: []string{"set"}},
		"/_exchange/responses/dom/calc/unset/*": {Prohibit: []string{"on", "set"}},
		"/_events/dom/calc/ev":                  {Actions: []string{"on"}},
		"/@HTTP/calc/page":                      {Actions: []string{"get"}},
		"/@HTTP/calc/x":                         {Prohibit: []string{"*"}},
		"/d/*":                                  {Actions: []string{"get"}},
		"/e":                                    {Prohibit: []string{"set"}},
	}
	if len(rules) != len(want) {
		t.Errorf("got %d rules, want %d: %v", len(rules), len(want), rules)
	}
	for p, w := range want {
		g, ok := rules[p]
		if !ok || !slices.Equal(g.Actions, w.Actions) || !slices.Equal(g.Prohibit, w.Prohibit) {
			t.Errorf("%s: got %+v, want %+v", p, g, w)
		}
	}
	back := fromHappnRules(rules)
	b, _ := json.Marshal(back)
	wantBack := `{"methods":{"dom/calc/add":{"authorized":true},"dom/calc/no":{"authorized":false},"dom/calc/sub/":{"authorized":true},"dom/calc/unset":{"authorized":false}},` +
		`"events":{"dom/calc/ev":{"authorized":true}},"web":{"calc/page":{"authorized":true,"actions":["get"]},"calc/x":{"authorized":false,"actions":["*"]}},` +
		`"data":{"/d/*":{"actions":["get"]},"/e":{"prohibit":["set"]}}}`
	if string(b) != wantBack {
		t.Errorf("reverse\n got %s\nwant %s", b, wantBack)
	}
	if validDataPermissions(map[string]PermissionEntry{"/*/_events/x": {}}) || validDataPermissions(map[string]PermissionEntry{"@HTTP/x": {}}) || !validDataPermissions(map[string]PermissionEntry{"/x/_events": {}}) {
		t.Error("data permission validation")
	}
}

func TestSystemGroups(t *testing.T) {
	m := startSecure(t)
	sec := m.sec
	ctx := t.Context()
	adm, err := sec.GetGroup(ctx, GroupMeshAdmin)
	if err != nil || adm == nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/mesh/*", "/_exchange/*", "/_events/*"} {
		if !slices.Equal(adm.Permissions[p].Actions, []string{"*"}) {
			t.Errorf("_MESH_ADM %s = %+v", p, adm.Permissions[p])
		}
	}
	del, _ := sec.GetGroup(ctx, GroupMeshDelegate)
	if del == nil || len(del.Permissions) != 3 {
		t.Errorf("_MESH_DELEGATE = %+v", del)
	}
	gst, _ := sec.GetGroup(ctx, GroupMeshGuest)
	if gst == nil || !slices.Equal(gst.Permissions["/mesh/schema/*"].Actions, []string{"get", "on"}) ||
		!slices.Equal(gst.Permissions["/_exchange/requests/secure/security/changePassword"].Actions, []string{"set"}) ||
		!slices.Equal(gst.Permissions["/_exchange/responses/*/security/changePassword/{{id}}/*"].Actions, []string{"on"}) {
		t.Errorf("_MESH_GST = %+v", gst)
	}
	groups, _ := sec.UserGroups(ctx, security.AdminUser)
	if !slices.Contains(groups, GroupMeshAdmin) {
		t.Errorf("_ADMIN groups %v", groups)
	}
}
