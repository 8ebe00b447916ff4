package happner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Middleware is a web handler in connect's shape: it answers
// the request, or passes it on by calling next. The request's URL path has
// the mount point stripped; [OriginalPath] gives the full path.
type Middleware func(w http.ResponseWriter, r *http.Request, next http.HandlerFunc)

// RootRoute mounts a Go handler at a path of the mesh's web server: the
// function values of happner's config.web.routes (§7.2).
type RootRoute struct {
	// Mount is the path prefix, e.g. "/" or "/app".
	Mount string
	// Handler serves requests under Mount.
	Handler Middleware
}

// WebFuncs holds the parts of the web config only Go can express: global
// middleware functions and root routes backed by functions. They are
// mounted before config.web.middleware's component entries and before the
// components' routes.
type WebFuncs struct {
	// Middleware runs first, in order, for every HTTP request.
	Middleware []Middleware
	// Routes are root routes mounted after the global middleware.
	Routes []RootRoute
}

// StaticFS is implemented by modules whose web routes use the "static"
// target: the route serves the files of the returned file system.
type StaticFS interface {
	// HappnerStatic returns the files to serve.
	HappnerStatic() fs.FS
}

// Web route method signatures a component module may expose. *Happn, when
// declared, is the component's $happn bound to the request's origin
// ($happn.Origin).
type (
	webPlain     = func(http.ResponseWriter, *http.Request)
	webNext      = func(http.ResponseWriter, *http.Request, http.HandlerFunc)
	webHappn     = func(*Happn, http.ResponseWriter, *http.Request)
	webHappnNext = func(*Happn, http.ResponseWriter, *http.Request, http.HandlerFunc)
)

// webInfo travels with a request through the web layers.
type webInfo struct {
	original       string
	rootRoute      string
	componentRoute string
}

type webInfoKey struct{}

// OriginalPath returns the request's URL path as it arrived, before any
// mount point was stripped (connect's req.originalUrl without the query).
func OriginalPath(r *http.Request) string {
	if wi, ok := r.Context().Value(webInfoKey{}).(*webInfo); ok {
		return wi.original
	}
	return r.URL.Path
}

// RootWebRoute reports the root mount and the "component/route" a request
// reached through a string-valued config.web.routes entry
// (req.rootWebRoute, req.componentWebRoute); both are "" otherwise.
func RootWebRoute(r *http.Request) (mount, componentRoute string) {
	if wi, ok := r.Context().Value(webInfoKey{}).(*webInfo); ok {
		return wi.rootRoute, wi.componentRoute
	}
	return "", ""
}

// webLayer is one mounted handler of the web stack.
type webLayer struct {
	prefix    string // mount point without a trailing '/'; "" matches all
	tag       string // owning component; "" for global and root layers
	root      string // root mount for string-valued root routes
	compRoute string
	serve     Middleware
}

// webConfig is the JSON form of config.web.
type webConfig struct {
	Routes     map[string]json.RawMessage `json:"routes"`
	Middleware []json.RawMessage          `json:"middleware"`
}

// rootMount is a string-valued config.web.routes entry.
type rootMount struct {
	mount, target string
}

// web is the mesh's HTTP stack, connect-style: layers run in order; a
// layer whose mount point prefixes the path gets the request with the
// prefix stripped and may pass it on with next.
type web struct {
	mesh *Mesh

	mu     sync.RWMutex
	layers []webLayer
	mounts []rootMount
}

// newWeb builds the stack's global middleware and root routes from the config.
func newWeb(m *Mesh) (*web, error) {
	wb := &web{mesh: m}
	for _, mw := range m.cfg.WebFuncs.Middleware {
		if mw == nil {
			return nil, errors.New("undefined middleware in web config")
		}
		wb.layers = append(wb.layers, webLayer{serve: mw})
	}
	var wc webConfig
	if raw := m.cfg.Web; len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &wc); err != nil {
			return nil, fmt.Errorf("happner: bad web config: %w", err)
		}
	}
	for _, raw := range wc.Middleware {
		var entry *struct {
			Component *string  `json:"component"`
			Methods   []string `json:"methods"`
		}
		if err := json.Unmarshal(raw, &entry); err != nil {
			return nil, fmt.Errorf("happner: bad web.middleware entry: %w", err)
		}
		if entry == nil {
			return nil, errors.New("undefined middleware in web config")
		}
		if entry.Component == nil || *entry.Component == "" {
			return nil, errors.New("web.middleware.component null in web config")
		}
		if len(entry.Methods) == 0 {
			return nil, fmt.Errorf("web.middleware.methods empty or null in web config, component: %s", *entry.Component)
		}
		for _, meth := range entry.Methods {
			wb.layers = append(wb.layers, webLayer{serve: wb.globalComponentMiddleware(*entry.Component, meth)})
		}
	}
	for _, rr := range m.cfg.WebFuncs.Routes {
		if rr.Handler == nil {
			return nil, fmt.Errorf("happner: web root route %q has no handler", rr.Mount)
		}
		wb.layers = append(wb.layers, webLayer{prefix: mountPrefix(rr.Mount), serve: rr.Handler})
	}
	order, err := objectKeys(m.cfg.Web, "routes")
	if err != nil && len(wc.Routes) > 0 {
		return nil, fmt.Errorf("happner: bad web.routes: %w", err)
	}
	for _, mount := range order {
		var target string
		if err := json.Unmarshal(wc.Routes[mount], &target); err != nil || target == "" {
			return nil, fmt.Errorf("happner: web.routes[%q] must name a component route ('component/route')", mount)
		}
		wb.mounts = append(wb.mounts, rootMount{mount: mount, target: strings.TrimPrefix(target, "/")})
	}
	return wb, nil
}

// globalComponentMiddleware calls component.method for every request, as
// happner's {component, methods} middleware entries do; a failure answers
// 500 "system middleware failure".
func (wb *web) globalComponentMiddleware(comp, meth string) Middleware {
	return func(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
		m := wb.mesh
		c := m.component(comp)
		if c == nil {
			wb.middlewareFailure(w, fmt.Errorf("Component %s not found for global middleware", comp))
			return
		}
		mw, ok := webTarget(m, c, meth)
		if !ok {
			wb.middlewareFailure(w, fmt.Errorf("Method %s.%s not found for global middleware", comp, meth))
			return
		}
		failed := true
		defer func() {
			if failed {
				if p := recover(); p != nil {
					wb.middlewareFailure(w, fmt.Errorf("%s.%s panicked: %v", comp, meth, p))
				}
			}
		}()
		mw(w, r, next)
		failed = false
	}
}

func (wb *web) middlewareFailure(w http.ResponseWriter, err error) {
	wb.mesh.log.Error("happner: system middleware failure", "err", err)
	http.Error(w, "system middleware failure", http.StatusInternalServerError)
}

// mountPrefix normalises a mount point: leading '/', no trailing '/'.
func mountPrefix(p string) string {
	p = "/" + strings.Trim(p, "/")
	if p == "/" {
		return ""
	}
	return p
}

// matchPrefix is connect's route match: case-insensitive prefix ending at
// the path's end, a '/' or a '.'; rest is the path left for the handler.
func matchPrefix(prefix, path string) (rest string, ok bool) {
	if prefix == "" {
		return path, true
	}
	if len(path) < len(prefix) || !strings.EqualFold(path[:len(prefix)], prefix) {
		return "", false
	}
	rest = path[len(prefix):]
	if rest == "" {
		return "/", true
	}
	switch rest[0] {
	case '/':
		return rest, true
	case '.':
		return "/" + rest, true
	}
	return "", false
}

// ServeHTTP runs the request through the layers.
func (wb *web) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wb.mu.RLock()
	layers := wb.layers
	wb.mu.RUnlock()
	wi := &webInfo{original: r.URL.Path}
	r = r.WithContext(context.WithValue(r.Context(), webInfoKey{}, wi))
	tw := &trackingWriter{ResponseWriter: w}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			wb.mesh.log.Error("happner: web handler panicked", "path", wi.original, "panic", p)
			if !tw.wrote {
				http.Error(tw, "Internal Server Error", http.StatusInternalServerError)
			}
		}
	}()
	i := 0
	var next http.HandlerFunc
	next = func(w http.ResponseWriter, _ *http.Request) {
		for i < len(layers) {
			l := layers[i]
			i++
			rest, ok := matchPrefix(l.prefix, r.URL.Path)
			if !ok {
				continue
			}
			wi.rootRoute, wi.componentRoute = l.root, l.compRoute
			l.serve(w, stripped(r, rest), next)
			return
		}
		http.Error(w, "Cannot "+r.Method+" "+wi.original, http.StatusNotFound)
	}
	next(tw, r)
}

// stripped returns r with its URL path replaced by path.
func stripped(r *http.Request, path string) *http.Request {
	if path == r.URL.Path {
		return r
	}
	r2 := new(http.Request)
	*r2 = *r
	u := *r.URL
	u.Path, u.RawPath = path, ""
	r2.URL = &u
	return r2
}

// trackingWriter records whether a response was started.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// componentRoutes parses a component's web.routes, checks
// every target and fills the description's routes. The layers are mounted
// by attach once the component is registered.
func (wb *web) componentRoutes(c *component) ([]webLayer, error) {
	raw := c.config.Web
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var wc struct {
		Routes map[string]json.RawMessage `json:"routes"`
	}
	if err := json.Unmarshal(raw, &wc); err != nil {
		return nil, fmt.Errorf("happner: component %q: bad web config: %w", c.name, err)
	}
	order, err := objectKeys(raw, "routes")
	if err != nil {
		return nil, fmt.Errorf("happner: component %q: bad web.routes: %w", c.name, err)
	}
	var layers []webLayer
	for _, route := range order {
		targets, err := routeTargets(c.name, wc.Routes[route])
		if err != nil {
			return nil, err
		}
		route = strings.Trim(route, "/")
		meshPath := mountPrefix(wb.mesh.name + "/" + c.name + "/" + route)
		compPath := mountPrefix(c.name + "/" + route)
		compRef := c.name + "/" + route
		for _, t := range targets {
			mw, ok := webTarget(wb.mesh, c, t)
			if !ok {
				return nil, fmt.Errorf("Middleware target %s:%s not a function or null, check your happner web routes config", c.name, t)
			}
			layers = append(layers,
				webLayer{prefix: meshPath, tag: c.name, serve: mw},
				webLayer{prefix: compPath, tag: c.name, serve: mw})
			for _, rm := range wb.mounts {
				if rm.target == compRef {
					layers = append(layers, webLayer{prefix: mountPrefix(rm.mount), tag: c.name, root: rm.mount, compRoute: rm.target, serve: mw})
				}
			}
		}
		key := "/" + c.name + "/" + route
		switch {
		case route == "static":
			key = "/"
		case c.name == "www" && route == "global":
			continue
		case c.name == "www":
			key = "/" + route
		case c.name == "resources" && route == "resources":
			key = "/resources"
		}
		typ := "mware"
		if targets[len(targets)-1] == "static" {
			typ = "static"
		}
		c.desc.Routes[key] = map[string]string{"type": typ}
	}
	return layers, nil
}

// routeTargets reads a route's target: a method name or a list of them.
func routeTargets(comp string, raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil && one != "" {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil && len(list) > 0 && !slices.Contains(list, "") {
		return list, nil
	}
	return nil, fmt.Errorf("Middleware target %s:%s not a function or null, check your happner web routes config", comp, strings.TrimSpace(string(raw)))
}

// webTarget resolves a route target of component c: "static" (a module
// implementing StaticFS) or a method, by wire or Go name, with one of the
// web signatures.
func webTarget(m *Mesh, c *component, name string) (Middleware, bool) {
	if name == "static" {
		sfs, ok := c.instance.(StaticFS)
		if !ok {
			return nil, false
		}
		fsys := sfs.HappnerStatic()
		if fsys == nil {
			return nil, false
		}
		files := http.FileServerFS(fsys)
		return func(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) {
			files.ServeHTTP(w, r)
		}, true
	}
	v := reflect.ValueOf(c.instance)
	fn := v.MethodByName(name)
	if !fn.IsValid() {
		r, n := utf8.DecodeRuneInString(name)
		fn = v.MethodByName(string(unicode.ToUpper(r)) + name[n:])
	}
	if !fn.IsValid() {
		return nil, false
	}
	happn := func(r *http.Request) *Happn {
		return m.newHappn(r.Context(), c, m.webOrigin(r))
	}
	switch f := fn.Interface().(type) {
	case webPlain:
		return func(w http.ResponseWriter, r *http.Request, _ http.HandlerFunc) { f(w, r) }, true
	case webNext:
		return Middleware(f), true
	case webHappn:
		return func(w http.ResponseWriter, r *http.Request, _ http.HandlerFunc) { f(happn(r), w, r) }, true
	case webHappnNext:
		return func(w http.ResponseWriter, r *http.Request, next http.HandlerFunc) { f(happn(r), w, r, next) }, true
	}
	return nil, false
}

// attach mounts a component's layers at the end of the stack.
func (wb *web) attach(layers []webLayer) {
	if len(layers) == 0 {
		return
	}
	wb.mu.Lock()
	defer wb.mu.Unlock()
	next := make([]webLayer, 0, len(wb.layers)+len(layers))
	next = append(append(next, wb.layers...), layers...)
	wb.layers = next
}

// detach removes every layer of component name (happner's detatch).
func (wb *web) detach(name string) {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	next := make([]webLayer, 0, len(wb.layers))
	for _, l := range wb.layers {
		if l.tag != name {
			next = append(next, l)
		}
	}
	wb.layers = next
}

// webOrigin is the origin of a web request (happn's sessionFromRequest):
// nil without an authenticator or without a valid token.
func (m *Mesh) webOrigin(r *http.Request) *Origin {
	if m.auth == nil {
		return nil
	}
	o, err := m.auth.SessionFromRequest(r)
	if err != nil {
		m.log.Debug("happner: no session from web request", "path", r.URL.Path, "err", err)
		return nil
	}
	return o
}

// objectKeys returns the keys of the top-level object member key, in
// document order.
func objectKeys(data []byte, key string) ([]string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, err
	}
	raw, ok := top[key]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%s must be an object", key)
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
