package happn

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/happner-go/happner/happn/security"
)

// Cross-site websocket hijacking: a browser attaches the node's cookies to
// a websocket handshake whatever page opens it. A handshake that carries
// the session cookie is therefore accepted only from a page of the node's
// own host name (any port: cookies do not separate ports) or from an
// origin listed in Config.AllowedOrigins. A handshake without the cookie
// authenticates nothing by itself (the client logs in over the socket), so
// it may come from any origin, as Node clients, which send no Origin, do.

// originAllowed reports whether a websocket handshake may proceed.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !s.hasSessionCookie(r) {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Hostname(), hostname(r.Host))
}

// hasSessionCookie reports whether r carries a happn session cookie.
func (s *Server) hasSessionCookie(r *http.Request) bool {
	name := s.sec.Config().CookieName
	if name == "" {
		name = security.DefaultCookieName
	}
	for _, c := range r.Cookies() {
		if c.Value != "" && (c.Name == name || c.Name == name+"_https") {
			return true
		}
	}
	return false
}

// hostname returns the host part of a Host header ("h:port", "[::1]:p").
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.Trim(hostport, "[]")
}
