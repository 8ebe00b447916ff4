package cluster

import (
	"hash/fnv"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// webProxy forwards the web routes of brokered components to the members
// that implement them: an exact path match picks a
// member by a consistent hash of the request's session token, so a session
// stays on one member while it is there and moves when it leaves.
type webProxy struct {
	m *Member

	mu         sync.Mutex
	routes     map[string]map[string][]string // component → path → member urls
	registered map[string]bool                // paths handed to the server's mux
	proxies    map[string]*httputil.ReverseProxy
}

func newWebProxy(m *Member) *webProxy {
	return &webProxy{m: m, routes: map[string]map[string][]string{}, registered: map[string]bool{}, proxies: map[string]*httputil.ReverseProxy{}}
}

// update sets the routes of component from its injected entries: each
// route of an implementing member is served by every member that has it.
func (p *webProxy) update(component string, entries []*brokerEntry) {
	paths := map[string][]string{}
	for _, e := range entries {
		if e.peer == "" || e.url == "" {
			continue
		}
		for _, r := range e.routes {
			if !strings.HasPrefix(r, "/"+component+"/") {
				continue // static roots and www routes are not brokered
			}
			paths[r] = append(paths[r], e.url)
		}
	}
	p.mu.Lock()
	p.routes[component] = paths
	var toRegister []string
	for path := range paths {
		if !p.registered[path] {
			p.registered[path] = true
			toRegister = append(toRegister, path)
		}
	}
	p.mu.Unlock()
	for _, path := range toRegister {
		// exact-match pattern; a path with no member left answers 404
		p.m.srv.Handle(path, p)
	}
}

// targets returns the member urls serving path.
func (p *webProxy) targets(path string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, paths := range p.routes {
		if urls := paths[path]; len(urls) > 0 {
			return slices.Clone(urls)
		}
	}
	return nil
}

// pick chooses the member for key among urls by rendezvous hashing: every
// url is scored by a hash of (url, key) and the highest wins, so removing
// a member only moves the keys that were on it.
func pick(urls []string, key string) string {
	var best string
	var bestScore uint64
	k := mix64(fnv64(key))
	for _, u := range urls {
		if s := mix64(fnv64(u) ^ k); best == "" || s > bestScore {
			best, bestScore = u, s
		}
	}
	return best
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	return h.Sum64()
}

// mix64 is splitmix64's finaliser: it spreads every input bit over the
// whole word, so scores of similar urls are independent.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// ServeHTTP proxies one request to the member its token maps to.
func (p *webProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	urls := p.targets(r.URL.Path)
	if len(urls) == 0 {
		http.NotFound(w, r)
		return
	}
	key := p.m.srv.TokenFromRequest(r)
	if key == "" {
		key = strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	target := pick(urls, key)
	rp, err := p.proxyFor(target)
	if err != nil {
		p.m.log.Warn("proxy error occurred for url: " + target + ", error: " + err.Error())
		http.Error(w, "proxy error", http.StatusInternalServerError)
		return
	}
	rp.ServeHTTP(w, r)
}

// proxyFor returns the reverse proxy to a member's url.
func (p *webProxy) proxyFor(target string) (*httputil.ReverseProxy, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rp := p.proxies[target]; rp != nil {
		return rp, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.m.log.Warn("proxy error occurred for url: " + target + r.URL.Path + ", error: " + err.Error())
			w.WriteHeader(http.StatusInternalServerError)
		},
	}
	p.proxies[target] = rp
	return rp, nil
}
