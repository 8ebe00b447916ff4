package happner_test

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

// site is a module with web methods of every supported signature.
type site struct {
	mu    sync.Mutex
	trail []string
}

func (s *site) note(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trail = append(s.trail, v)
}

func (s *site) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.trail
	s.trail = nil
	return t
}

// Page answers with the path it sees and the original path.
func (s *site) Page(w http.ResponseWriter, r *http.Request) {
	s.note("page")
	fmt.Fprintf(w, "page %s %s", r.URL.Path, happner.OriginalPath(r))
}

// First is middleware that marks the response and passes on.
func (s *site) First(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	s.note("first")
	w.Header().Set("X-First", "yes")
	next(w, r)
}

// Second uses $happn: it answers with the component name and the caller.
func (s *site) Second(h *happner.Happn, w http.ResponseWriter, r *http.Request) {
	s.note("second")
	fmt.Fprintf(w, "second %s origin=%v", h.Name, h.Origin)
}

// Pass is $happn middleware that passes on.
func (s *site) Pass(h *happner.Happn, w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	s.note("pass " + h.Name)
	next(w, r)
}

// Gate is global middleware: it refuses /blocked and passes the rest.
func (s *site) Gate(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	s.note("gate")
	if r.URL.Path == "/blocked" {
		http.Error(w, "blocked by gate", http.StatusTeapot)
		return
	}
	next(w, r)
}

// Root reports the root mount a request came through.
func (s *site) Root(w http.ResponseWriter, r *http.Request) {
	mount, comp := happner.RootWebRoute(r)
	fmt.Fprintf(w, "root %s %s %s", mount, comp, r.URL.Path)
}

// Crash panics, for global middleware failure handling.
func (s *site) Crash(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
	if r.URL.Path == "/crash" {
		panic("middleware crash")
	}
	next(w, r)
}

// Add is an ordinary exchange method beside the web methods.
func (s *site) Add(a, b int) (int, error) { return a + b, nil }

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func webMesh(t *testing.T, s *site, funcs happner.WebFuncs, web string) *happner.Mesh {
	t.Helper()
	return startMesh(t, happner.Config{
		Name:   "webMesh",
		Logger: quietLogger(),
		Happn:  happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Modules: map[string]happner.ModuleConfig{
			"site": {Instance: s},
		},
		Components: map[string]happner.ComponentConfig{
			"site": {Web: json.RawMessage(`{"routes":{"page":"page","chain":["first","pass","second"],"root":"root"}}`)},
		},
		WebFuncs: funcs,
		Web:      json.RawMessage(web),
	})
}

func TestComponentWebRoutes(t *testing.T) {
	s := &site{}
	m := webMesh(t, s, happner.WebFuncs{}, `{"middleware":[{"component":"site","methods":["gate"]}]}`)
	base := "http://" + m.Addr()

	for _, p := range []string{"/site/page", "/webMesh/site/page", "/SITE/Page"} {
		code, body, _ := get(t, base+p+"/x/y?q=1")
		if code != 200 || body != "page /x/y "+p+"/x/y" {
			t.Errorf("GET %s: %d %q", p, code, body)
		}
	}
	if got := s.take(); strings.Join(got, ",") != "gate,page,gate,page,gate,page" {
		t.Errorf("trail %v", got)
	}
	// Exact mount and a '.' boundary match, other prefixes do not.
	if code, body, _ := get(t, base+"/site/page"); code != 200 || body != "page / /site/page" {
		t.Errorf("exact mount: %d %q", code, body)
	}
	if code, _, _ := get(t, base+"/site/pages"); code != 404 {
		t.Errorf("/site/pages: %d, want 404", code)
	}
	s.take()

	// A chain runs in order; middleware passes on with next.
	code, body, hdr := get(t, base+"/site/chain")
	if code != 200 || body != "second site origin=<nil>" || hdr.Get("X-First") != "yes" {
		t.Errorf("chain: %d %q %v", code, body, hdr)
	}
	if got := s.take(); strings.Join(got, ",") != "gate,first,pass site,second" {
		t.Errorf("chain trail %v", got)
	}
	// Global middleware runs first and may answer.
	if code, body, _ := get(t, base+"/blocked"); code != http.StatusTeapot || !strings.Contains(body, "blocked by gate") {
		t.Errorf("gate: %d %q", code, body)
	}
	// Nothing matches: 404; happn's own routes still work.
	if code, body, _ := get(t, base+"/nowhere"); code != 404 || !strings.Contains(body, "Cannot GET /nowhere") {
		t.Errorf("unmatched: %d %q", code, body)
	}
	if code, _, _ := get(t, base+"/ping"); code != 200 {
		t.Errorf("/ping: %d", code)
	}

	// Web methods are routes in the description, not exchange methods.
	d := m.Describe().Components["site"]
	if _, ok := d.Methods["add"]; !ok {
		t.Errorf("add missing from %v", d.Methods)
	}
	for _, n := range []string{"page", "first", "second", "pass", "gate", "root", "crash"} {
		if _, ok := d.Methods[n]; ok {
			t.Errorf("web method %s listed as an exchange method", n)
		}
	}
	for _, r := range []string{"/site/page", "/site/chain", "/site/root"} {
		if rt, ok := d.Routes[r].(map[string]string); !ok || rt["type"] != "mware" {
			t.Errorf("route %s: %#v", r, d.Routes[r])
		}
	}
	if rest := m.Describe().Components["rest"]; rest == nil || rest.Routes["/rest/method"] == nil || rest.Routes["/rest/login"] == nil || rest.Routes["/rest/describe"] == nil {
		t.Errorf("rest routes: %#v", rest)
	}

	// The global middleware's component is gone: every request fails.
	if err := m.DestroyComponent(tctx(t), "site"); err != nil {
		t.Fatal(err)
	}
	// Runtime failure of global middleware: 500 system middleware failure.
	if code, body, _ := get(t, base+"/anything"); code != 500 || !strings.Contains(body, "system middleware failure") {
		t.Errorf("missing global middleware component: %d %q", code, body)
	}
}

func TestRootRoutesAndGlobalFuncs(t *testing.T) {
	s := &site{}
	var order []string
	var mu sync.Mutex
	mark := func(v string) happner.Middleware {
		return func(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
			mu.Lock()
			order = append(order, v)
			mu.Unlock()
			next(w, r)
		}
	}
	funcs := happner.WebFuncs{
		Middleware: []happner.Middleware{mark("g1"), mark("g2")},
		Routes: []happner.RootRoute{{Mount: "/fn", Handler: func(w http.ResponseWriter, r *http.Request, _ http.HandlerFunc) {
			fmt.Fprintf(w, "fn %s", r.URL.Path)
		}}},
	}
	m := webMesh(t, s, funcs, `{"routes":{"/app":"site/root"},"middleware":[{"component":"site","methods":["crash"]}]}`)
	base := "http://" + m.Addr()
	if code, body, _ := get(t, base+"/fn/a"); code != 200 || body != "fn /a" {
		t.Errorf("root function route: %d %q", code, body)
	}
	if code, body, _ := get(t, base+"/app/z"); code != 200 || body != "root /app site/root /z" {
		t.Errorf("root string route: %d %q", code, body)
	}
	if code, body, _ := get(t, base+"/site/root/z"); code != 200 || body != "root   /z" {
		t.Errorf("component route: %d %q", code, body)
	}
	mu.Lock()
	if strings.Join(order, ",") != "g1,g2,g1,g2,g1,g2" {
		t.Errorf("global middleware order %v", order)
	}
	mu.Unlock()
	if code, body, _ := get(t, base+"/crash"); code != 500 || !strings.Contains(body, "system middleware failure") {
		t.Errorf("crashing middleware: %d %q", code, body)
	}
}

func TestStaticRoute(t *testing.T) {
	m := startMesh(t, happner.Config{
		Name: "staticMesh", Logger: quietLogger(),
		Happn:   happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
		Modules: map[string]happner.ModuleConfig{"files": {Instance: files{}}},
		Components: map[string]happner.ComponentConfig{
			"files": {Web: json.RawMessage(`{"routes":{"assets":"static"}}`)},
		},
	})
	code, body, _ := get(t, "http://"+m.Addr()+"/files/assets/hello.txt")
	if code != 200 || body != "hello static" {
		t.Errorf("static: %d %q", code, body)
	}
	if rt, _ := m.Describe().Components["files"].Routes["/files/assets"].(map[string]string); rt["type"] != "static" {
		t.Errorf("static route description: %#v", m.Describe().Components["files"].Routes)
	}
}

type files struct{}

func (files) HappnerStatic() fs.FS {
	return fstest.MapFS{"hello.txt": {Data: []byte("hello static")}}
}

func TestWebConfigErrors(t *testing.T) {
	cases := []struct {
		name, web, routes string
		want              string
	}{
		{"not a web method", "", `{"routes":{"x":"add"}}`, "Middleware target site:add not a function or null, check your happner web routes config"},
		{"missing method", "", `{"routes":{"x":["first","nope"]}}`, "Middleware target site:nope not a function or null, check your happner web routes config"},
		{"null target", "", `{"routes":{"x":null}}`, "Middleware target site:null not a function or null"},
		{"null middleware", `{"middleware":[null]}`, "", "undefined middleware in web config"},
		{"no component", `{"middleware":[{"methods":["gate"]}]}`, "", "web.middleware.component null in web config"},
		{"no methods", `{"middleware":[{"component":"site","methods":[]}]}`, "", "web.middleware.methods empty or null in web config, component: site"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cc := happner.ComponentConfig{}
			if tc.routes != "" {
				cc.Web = json.RawMessage(tc.routes)
			}
			_, err := happner.Create(tctx(t), happner.Config{
				Name: "badWeb", Logger: quietLogger(),
				Happn:      happn.Config{Host: "127.0.0.1", Logger: quietLogger()},
				Modules:    map[string]happner.ModuleConfig{"site": {Instance: &site{}}},
				Components: map[string]happner.ComponentConfig{"site": cc},
				Web:        json.RawMessage(tc.web),
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestDestroyRemovesRoutes(t *testing.T) {
	m := webMesh(t, &site{}, happner.WebFuncs{}, `{"routes":{"/app":"site/root"}}`)
	base := "http://" + m.Addr()
	for _, p := range []string{"/site/page", "/webMesh/site/page", "/app"} {
		if code, _, _ := get(t, base+p); code != 200 {
			t.Fatalf("GET %s before destroy: %d", p, code)
		}
	}
	if err := m.DestroyComponent(tctx(t), "site"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/site/page", "/webMesh/site/page", "/app"} {
		if code, _, _ := get(t, base+p); code != 404 {
			t.Errorf("GET %s after destroy: %d, want 404", p, code)
		}
	}
	// Created again at run time, its routes come back.
	err := m.CreateComponent(tctx(t), "site", happner.ModuleConfig{Instance: &site{}},
		happner.ComponentConfig{Web: json.RawMessage(`{"routes":{"page":"page"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, base+"/site/page"); code != 200 || body != "page / /site/page" {
		t.Errorf("after re-create: %d %q", code, body)
	}
}
