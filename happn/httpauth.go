package happn

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/webclient"
)

// HTTP security: on a secure server every HTTP route other than the system
// ones (/ping, /version, /primus, /browser_client) and the configured
// exclusions needs a session token — from the cookie, the happn_token
// query parameter or an Authorization: Bearer header — and a permission on
// "/@HTTP<path>" for the request's method. /auth/login, /auth/request-nonce
// and /auth/logout issue, prepare and revoke tokens.

type httpSessionKey struct{}

// HTTPSession returns the security session of an authorised HTTP request
// on a secure server, nil otherwise.
func HTTPSession(ctx context.Context) *security.Session {
	s, _ := ctx.Value(httpSessionKey{}).(*security.Session)
	return s
}

// cookieName is the name of the cookie that carries a session token.
func (s *Server) cookieName() string {
	if name := s.sec.Config().CookieName; name != "" {
		return name
	}
	return security.DefaultCookieName
}

// TokenFromRequest returns the session token an HTTP request carries, in
// happn's order: cookie, happn_token query parameter, bearer header.
func (s *Server) TokenFromRequest(r *http.Request) string {
	if c, err := r.Cookie(s.cookieName()); err == nil && c.Value != "" {
		return c.Value
	}
	if t := r.URL.Query().Get("happn_token"); t != "" {
		return t
	}
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimSpace(h[len("Bearer "):])
	}
	return ""
}

// serveSecureHTTP applies HTTP security before the routes. It reports
// whether it has answered the request itself.
func (s *Server) serveSecureHTTP(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	path := r.URL.Path
	switch strings.ToLower(path) {
	case "/ping", "/version", "/primus/spec", HealthPath, ReadyPath, webclient.BrowserClientPath:
		// a page loads the browser client before it can log in
		return r, false
	case "/auth/login":
		s.httpLogin(w, r)
		return r, true
	case "/auth/request-nonce":
		s.httpRequestNonce(w, r)
		return r, true
	}
	for _, ex := range s.cfg.HTTPExclusions {
		if ex == "/" {
			if path == "/" {
				return r, false
			}
			continue
		}
		if pathmatch.Glob(ex, path) {
			return r, false
		}
	}
	token := s.TokenFromRequest(r)
	if token == "" {
		w.Header().Set("WWW-Authenticate", "happn-auth")
		httpText(w, http.StatusUnauthorized, "invalid token format or null token")
		return r, true
	}
	sess, err := s.sec.SessionFromToken(r.Context(), token)
	if err != nil {
		httpText(w, http.StatusUnauthorized, errs.From(err).Message)
		return r, true
	}
	if strings.EqualFold(path, "/auth/logout") {
		s.httpLogout(w, r, token)
		return r, true
	}
	if err := s.sec.Authorize(r.Context(), sess, "/@HTTP"+path, strings.ToLower(r.Method)); err != nil {
		s.met.denied("http")
		e := errs.From(err)
		if _, policy := policyReasons[e.Message]; policy || e.Message == "token has been revoked" {
			httpText(w, http.StatusUnauthorized, "authorization failed for "+sess.Username+": "+e.Message)
			return r, true
		}
		httpText(w, http.StatusForbidden, "unauthorized access to path /@HTTP"+path)
		return r, true
	}
	return r.WithContext(context.WithValue(r.Context(), httpSessionKey{}, sess)), false
}

func httpText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// httpResult writes happn's {"message","data","error"} JSON body.
func httpResult(w http.ResponseWriter, code int, message string, data any, errText any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"message": message, "data": data, "error": errText})
}

// queryParam returns the first non-empty query parameter of names.
func queryParam(r *http.Request, names ...string) string {
	q := r.URL.Query()
	for _, n := range names {
		if v := q.Get(n); v != "" {
			return v
		}
	}
	return ""
}

func (s *Server) httpLogin(w http.ResponseWriter, r *http.Request) {
	// the socket peer's address; X-Forwarded-For only from a trusted proxy
	ip, _ := s.proxies.clientAddr(r)
	req := security.LoginRequest{
		Username:  queryParam(r, "user", "username", "u"),
		Password:  queryParam(r, "password", "pwd", "pass", "p"),
		PublicKey: queryParam(r, "publicKey", "public_key", "public", "key", "public-key", "pk"),
		Token:     queryParam(r, "token", "happn_token", "t"),
		Digest:    queryParam(r, "digest"),
		Type:      security.Stateless,
		SourceIP:  ip,
	}
	if req.Digest != "" {
		req.LoginType = "digest"
	}
	sess, err := s.sec.Login(r.Context(), req)
	if err != nil {
		e := errs.From(err)
		code := http.StatusInternalServerError
		if e.Message == "Invalid credentials" || e.Code == 401 || e.Message == "use of _ADMIN credentials over the network is disabled" {
			code = http.StatusUnauthorized
		}
		httpResult(w, code, "login failed", nil, e.Error())
		return
	}
	s.sec.ForgetSession(sess.ID) // a stateless session: nothing to keep
	httpResult(w, http.StatusOK, "login successful", sess.Token, nil)
}

func (s *Server) httpRequestNonce(w http.ResponseWriter, r *http.Request) {
	nonce, err := s.sec.RequestNonce(queryParam(r, "publicKey", "public_key", "public", "key", "public-key"))
	if err != nil {
		httpResult(w, http.StatusInternalServerError, "nonce generation failed", nil, errs.From(err).Error())
		return
	}
	httpResult(w, http.StatusOK, "nonce generated", nonce, nil)
}

func (s *Server) httpLogout(w http.ResponseWriter, r *http.Request, token string) {
	if !s.sec.Config().AllowLogoutOverHTTP {
		httpText(w, http.StatusForbidden, "logouts over http are not allowed")
		return
	}
	if err := s.sec.RevokeToken(r.Context(), token, "CLIENT"); err != nil && !errors.Is(err, context.Canceled) {
		httpResult(w, http.StatusInternalServerError, "logout failed", nil, errs.From(err).Error())
		return
	}
	httpResult(w, http.StatusOK, "logout successful", token, nil)
}

// ClientAddress returns the address of the client of an HTTP request as a
// sourceIPWhitelist sees it: the socket's peer, or, when the peer is one of
// Config.TrustedProxies, the client X-Forwarded-For names.
func (s *Server) ClientAddress(r *http.Request) string {
	ip, _ := s.proxies.clientAddr(r)
	return ip
}
