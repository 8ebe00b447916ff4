package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/internal/headless"
)

const adminPassword = "dashboard-admin-pw"

// startSecureMesh starts the secure mesh "vault" with calc, and the users
// alice (group viewers, allowed to read the dashboard's data) and bob (no
// permissions).
func startSecureMesh(t *testing.T) *happner.Mesh {
	t.Helper()
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", calc{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := happner.Create(ctx, happner.Config{
		Name:       "vault",
		Happn:      happn.Config{Host: "127.0.0.1", Secure: true, AdminPassword: adminPassword, Logger: quiet},
		Registry:   reg,
		Logger:     quiet,
		Components: map[string]happner.ComponentConfig{"calc": {}},
		Dashboard:  dashboard.Options{IntervalMs: 200},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = m.Stop(ctx)
	})
	x := m.Exchange()
	viewers := happner.SecurityGroup{Name: "viewers", Permissions: &happner.Permissions{
		Data: map[string]happner.PermissionEntry{dashboard.Prefix + "/*": {Actions: []string{"on"}}},
	}}
	if err := x.Call(ctx, "security", "addGroup", []any{viewers}, nil); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if err := x.Call(ctx, "security", "addUser", []any{happner.SecurityUser{Username: u, Password: u + "pw"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Call(ctx, "security", "linkGroupName", []any{"viewers", "alice"}, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

// logIn fills the page's log-in form and submits it.
func logIn(p *headless.Page, username, password string) {
	p.Eval(`
		document.getElementById('username').value = `+jsString(username)+`;
		document.getElementById('password').value = `+jsString(password)+`;
		document.getElementById('login-form').requestSubmit();`, nil)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// shownMembers is how many members the page shows.
const shownMembers = `return document.querySelectorAll('[data-member]').length;`

// On a secure mesh the page is served without a login and asks for one;
// a wrong password is refused, a user without the permission gets no
// data, and _ADMIN or a user granted the dashboard's path sees the mesh.
func TestSecureDashboard(t *testing.T) {
	m := startSecureMesh(t)
	url := "http://" + m.Addr() + dashboard.PagePath

	for _, path := range []string{dashboard.PagePath, dashboard.PagePath + "/dashboard.js", "/browser_client"} {
		res, err := http.Get("http://" + m.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: %s, want 200", path, res.Status)
		}
	}

	p := headless.Open(t, browser, url, desktop)
	p.WaitFor("the log-in form", `return !document.getElementById('login').hidden && document.getElementById('view').hidden;`, 0)
	logIn(p, "_ADMIN", "wrong")
	p.WaitFor("the refusal", `return document.getElementById('login-error').textContent.includes('Invalid credentials');`, 0)
	var n int
	p.Eval(shownMembers, &n)
	if n != 0 {
		t.Errorf("%d members shown after a wrong password", n)
	}

	// bob logs in but may not read the data
	logIn(p, "bob", "bobpw")
	p.WaitFor("bob's refusal", `return !document.getElementById('denied').hidden;`, 0)
	time.Sleep(600 * time.Millisecond) // three intervals: nothing may arrive
	p.Eval(shownMembers, &n)
	if n != 0 {
		t.Errorf("bob sees %d members", n)
	}

	// _ADMIN and alice (granted the path) see the mesh and its component
	for _, u := range [][2]string{{"_ADMIN", adminPassword}, {"alice", "alicepw"}} {
		p := headless.Open(t, browser, url, desktop)
		p.WaitFor("the log-in form", `return !document.getElementById('login').hidden;`, 0)
		logIn(p, u[0], u[1])
		p.WaitFor(u[0]+"'s view of the mesh", `
			const card = document.querySelector('[data-member="vault"]');
			return !!card && card.dataset.state === 'up' && !!card.querySelector('[data-method="calc.add"]') &&
				document.getElementById('login').hidden;`, 0)
	}
}

// The snapshots reach only clients allowed to read them: no client
// connects to a secure mesh without logging in, and a user without the
// permission is refused the subscription.
func TestSecureSnapshotsNeedPermission(t *testing.T) {
	m := startSecureMesh(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "http://" + m.Addr()

	if c, err := client.New(ctx, client.Options{URL: url}); err == nil {
		c.Close()
		t.Fatal("a client without credentials connected to the secure mesh")
	}

	bob, err := client.New(ctx, client.Options{URL: url, Username: "bob", Password: "bobpw"})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	got := make(chan dashboard.Snapshot, 16)
	if _, err := dashboard.Watch(ctx, bob, func(s dashboard.Snapshot) { got <- s }); err == nil ||
		!strings.Contains(err.Error(), "AccessDenied") && !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("bob subscribing to the snapshots: %v, want AccessDenied", err)
	}

	alice, err := client.New(ctx, client.Options{URL: url, Username: "alice", Password: "alicepw"})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	snaps := make(chan dashboard.Snapshot, 16)
	if _, err := dashboard.Watch(ctx, alice, func(s dashboard.Snapshot) { snaps <- s }); err != nil {
		t.Fatalf("alice subscribing to the snapshots: %v", err)
	}
	select {
	case s := <-snaps:
		if s.Name != "vault" || !s.Secure || len(s.Components) != 1 || s.Components[0].Name != "calc" {
			t.Errorf("alice's snapshot: %+v", s)
		}
	case <-ctx.Done():
		t.Fatal("alice received no snapshot")
	}
	select {
	case s := <-got:
		t.Errorf("bob received the snapshot of %s", s.Name)
	default:
	}
}
