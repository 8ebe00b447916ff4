package happn

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/store"
)

// disconnectError is a refusal after which the session is ended: the error
// reply goes out first, then server-side-disconnect with the reason.
type disconnectError struct {
	err    *errs.Error
	reason string
}

func (e *disconnectError) Error() string { return e.err.Error() }
func (e *disconnectError) Unwrap() error { return e.err }

// policyReasons maps happn's session-policy denials to the reason clients
// are disconnected with.
var policyReasons = map[string]string{
	"expired session token":                "token-expired",
	"session inactivity threshold reached": "inactivity-threshold",
	"session usage limit reached":          "usage-limit",
	"no policy attached to session":        "no-session-policy",
	"no policy for session type":           "no-session-type-policy",
}

// Security returns the server's security service: users, groups,
// permissions and tokens (it exists on insecure servers too, as in happn,
// but is only enforced when Config.Secure is set).
func (s *Server) Security() *security.Service { return s.sec }

// Secure reports whether the server enforces logins and permissions.
func (s *Server) Secure() bool { return s.cfg.Secure }

// authorize checks that sess may do action on path and returns the
// identity the request acts as (the delegated user with onBehalfOf). On an
// insecure server everything is allowed.
func (s *Server) authorize(ctx context.Context, sess *Session, path, action string, opts *requestOptions) (*security.Session, error) {
	if !s.cfg.Secure {
		return nil, nil
	}
	sec := sess.securitySession()
	if sec == nil {
		e := errs.AccessDenied("no policy attached to session")
		return nil, &disconnectError{err: e, reason: "no-session-policy"}
	}
	as := sec
	if opts != nil && opts.OnBehalfOf != "" && opts.OnBehalfOf != security.AdminUser {
		delegated, err := s.sec.OnBehalfOf(ctx, sec, opts.OnBehalfOf)
		if err != nil {
			return nil, err
		}
		as = delegated
	}
	if err := s.sec.Authorize(ctx, as, path, action); err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			if reason, ok := policyReasons[e.Message]; ok {
				return nil, &disconnectError{err: e, reason: reason}
			}
		}
		return nil, err
	}
	return as, nil
}

// authorizeItems authorises a get, count or on whose path may cover many
// items, and says when the results must be checked item by item:
//   - nested: a "/**" request that the user may only partly see, allowed
//     because nested permissions are on and something below is permitted;
//   - under: a wildcard request that is allowed, but under which a
//     prohibition of the action applies to some paths (a prohibition always
//     wins, so those items are left out).
func (s *Server) authorizeItems(ctx context.Context, sess *Session, path, action string, opts *requestOptions) (as *security.Session, nested, under bool, err error) {
	as, err = s.authorize(ctx, sess, path, action, opts)
	if err == nil {
		if as != nil {
			under, err = s.sec.ProhibitionUnder(ctx, as, path, action)
		}
		return as, false, under, err
	}
	if !s.cfg.AllowNestedPermissions || !strings.HasSuffix(path, "/**") {
		return nil, false, false, err
	}
	var de *disconnectError
	if errors.As(err, &de) {
		return nil, false, false, err
	}
	sec := sess.securitySession()
	allowed, _, nerr := s.sec.NestedPermissions(ctx, sec, path, action)
	if nerr != nil || len(allowed) == 0 {
		return nil, false, false, err
	}
	return sec, true, false, nil
}

// permitted reports whether a per-item request's identity may see path.
func (s *Server) permitted(ctx context.Context, as *security.Session, path, action string) bool {
	return s.sec.Authorize(ctx, as, path, action) == nil
}

// permittedRecords keeps the records a per-item request's identity may get.
func (s *Server) permittedRecords(ctx context.Context, as *security.Session, recs []*store.Record) []*store.Record {
	kept := recs[:0]
	for _, r := range recs {
		if s.permitted(ctx, as, r.Path, "get") {
			kept = append(kept, r)
		}
	}
	return kept
}

// loginData is the data of a login request.
type loginData struct {
	Username  string          `json:"username"`
	Password  string          `json:"password"`
	Token     string          `json:"token"`
	PublicKey string          `json:"publicKey"`
	Digest    string          `json:"digest"`
	LoginType string          `json:"loginType"`
	AuthType  string          `json:"authType"`
	Info      json.RawMessage `json:"info"`
}

// secureLogin checks credentials and attaches the security session.
func (s *Server) secureLogin(ctx context.Context, sess *Session, req *request, d *loginData) error {
	sec, err := s.sec.Login(ctx, security.LoginRequest{
		SessionID: sess.id,
		Username:  d.Username,
		Password:  d.Password,
		Token:     d.Token,
		PublicKey: d.PublicKey,
		Digest:    d.Digest,
		LoginType: d.LoginType,
		AuthType:  d.AuthType,
		Type:      security.Stateful,
		Info:      d.Info,
		Local:     sess.local,
		SourceIP:  sess.remoteAddr,
	})
	if err != nil {
		return err
	}
	if sess.closed.Load() {
		s.sec.ForgetSession(sess.id)
		return errs.AccessDenied("session disconnected during login")
	}
	sess.mu.Lock()
	sess.sec = sec
	sess.user = &SessionUser{Username: sec.Username, UserID: sec.UserID}
	sess.token = sec.Token
	sess.parentID = sec.ParentID
	sess.loggedIn = true
	sess.timestamp = sec.Timestamp
	if len(d.Info) > 0 && d.Info[0] == '{' {
		sess.info = d.Info
	}
	sess.mu.Unlock()
	sess.peer.Store(infoHasClusterName(d.Info))
	s.armSessionTTL(sess, sec)
	s.emitSessionEvent(SessionAuthentic, sess)
	secJSON, err := json.Marshal(sec)
	if err != nil {
		return SystemError(err, "SecurityService")
	}
	sess.send(okFrame(sess, req, s.mergeSessionRecord(sess, secJSON), nil, false))
	return nil
}

// mergeSessionRecord renders the login reply of a secure session: the
// connection facts plus the security session (id, user, token, policy…).
func (s *Server) mergeSessionRecord(sess *Session, secJSON []byte) []byte {
	rec := s.sessionRecord(sess)
	// both are objects: splice the security members over the connection's
	var base, extra map[string]json.RawMessage
	if json.Unmarshal(rec, &base) != nil || json.Unmarshal(secJSON, &extra) != nil {
		return rec
	}
	for k, v := range extra {
		base[k] = v
	}
	cookie, _ := json.Marshal(s.sec.Config().CookieName)
	base["cookieName"] = cookie
	base["authType"] = json.RawMessage(`"happn"`)
	// happn sends the user with its (user-level) permissions object
	var user map[string]json.RawMessage
	if json.Unmarshal(base["user"], &user) == nil && user != nil {
		if _, ok := user["permissions"]; !ok {
			user["permissions"] = json.RawMessage(`{}`)
		}
		if u, err := json.Marshal(user); err == nil {
			base["user"] = u
		}
	}
	out, err := json.Marshal(base)
	if err != nil {
		return rec
	}
	return out
}

// armSessionTTL ends the session with reason token-expired when its
// policy's time to live runs out.
func (s *Server) armSessionTTL(sess *Session, sec *security.Session) {
	pol, ok := sec.Policy[sec.Type]
	if !ok || pol.TTL <= 0 {
		return
	}
	left := time.Until(time.UnixMilli(sec.Timestamp).Add(time.Duration(pol.TTL)))
	if left < 0 {
		left = 0
	}
	t := time.AfterFunc(left, func() { sess.disconnect("token-expired") })
	sess.mu.Lock()
	sess.ttlTimer = t
	sess.mu.Unlock()
}

// infoHasClusterName reports whether login info marks a cluster peer.
func infoHasClusterName(info json.RawMessage) bool {
	if len(info) == 0 || !strings.Contains(string(info), "clusterName") {
		return false
	}
	var v struct {
		ClusterName string `json:"clusterName"`
	}
	return json.Unmarshal(info, &v) == nil && v.ClusterName != ""
}

func (s *Server) requestNonce(sess *Session, req *request) error {
	if !s.cfg.Secure {
		return plainError("Cannot request-nonce Not Secure")
	}
	var d struct {
		PublicKey string `json:"publicKey"`
	}
	if err := decodeData(req.Action, req.Data, &d); err != nil {
		return err
	}
	nonce, err := s.sec.RequestNonce(d.PublicKey)
	if err != nil {
		return err
	}
	n := appendString(nil, nonce)
	b := make([]byte, 0, 256)
	b = append(b, `{"nonce":`...)
	b = append(b, n...)
	b = append(b, `,"data":{"nonce":`...)
	b = append(b, n...)
	b = append(b, `},"_meta":{`...)
	b = appendResponseMeta(b, sess, req, "ok", false)
	b = append(b, '}')
	sess.send(appendProtocol(b, sess))
	return nil
}

func (s *Server) revokeToken(ctx context.Context, sess *Session, req *request) error {
	if !s.cfg.Secure {
		return plainError("Cannot revoke-token Not Secure")
	}
	sess.mu.Lock()
	token := sess.token
	sess.mu.Unlock()
	if token == "" {
		return plainError("token not defined")
	}
	// reply first: the revocation then disconnects this session too
	sess.send(okFrame(sess, req, nil, nil, false))
	if err := s.sec.RevokeToken(ctx, token, "CLIENT"); err != nil {
		s.log.Warn("happn: revoke-token failed", "session", sess.id, "err", err)
	}
	return nil
}

func (s *Server) changePassword(ctx context.Context, sess *Session, req *request) error {
	if !s.cfg.Secure {
		return plainError("Cannot change-password Not Secure")
	}
	var d struct {
		OldPassword string `json:"oldPassword"`
		NewPassword string `json:"newPassword"`
	}
	if err := decodeData(req.Action, req.Data, &d); err != nil {
		return err
	}
	if err := s.sec.ChangePassword(ctx, sess.username(), d.OldPassword, d.NewPassword); err != nil {
		return err
	}
	sess.send(okFrame(sess, req, nil, nil, false))
	return nil
}

// subscriptionRevoked checks an existing subscription x of a session whose
// security session is sec against the current permissions: it reports
// whether x must go, and otherwise records whether a prohibition under its
// pattern now makes its deliveries per item.
func (s *Server) subscriptionRevoked(ctx context.Context, sec *security.Session, x *subscription) bool {
	if x.nested {
		allowed, _, err := s.sec.NestedPermissions(ctx, sec, x.authPath, "on")
		return err != nil || len(allowed) == 0
	}
	if s.sec.Authorize(ctx, x.as, x.authPath, "on") != nil {
		return true
	}
	under, err := s.sec.ProhibitionUnder(ctx, x.as, x.authPath, "on")
	if err != nil {
		return true
	}
	x.perItem.Store(under)
	return false
}

// securityChanged reacts to a change of the security directory: sessions
// holding a revoked token or belonging to a deleted user are ended, the
// subscriptions of affected sessions are authorised again (and dropped when
// denied), and those sessions are sent security-data-changed.
func (s *Server) securityChanged(c security.Change) {
	if !s.cfg.Secure {
		return
	}
	switch c.Event {
	case "token-revoked":
		var d struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(c.Data, &d)
		for _, sess := range s.sessionsWhere(func(x *Session) bool { return x.token != "" && x.token == d.Token }) {
			sess.disconnect("token-revoked")
		}
		return
	case "delete-user":
		for _, sess := range s.sessionsOfUsers(c.Users) {
			sess.disconnect("security directory update: user deleted")
		}
		return
	case "link-group", "unlink-group", "delete-group", "upsert-group", "upsert-user", "permission-removed", "permission-upserted",
		"lookup-table-changed", "lookup-permission-changed":
	default:
		return
	}
	// before the subscriptions are checked: a subscription authorised
	// before this change and added after the check sees it moved
	s.secChanges.Add(1)
	affected := s.sessionsOfUsers(c.Users)
	if len(affected) == 0 {
		// nothing to check or tell: the changed data (a store read for
		// groups) is not needed
		return
	}
	ctx := context.Background()
	changed := s.clientChangedData(ctx, c)
	for _, sess := range affected {
		sec := sess.securitySession()
		if sec == nil {
			continue
		}
		s.subs.remove(sess, func(x *subscription) bool { return s.subscriptionRevoked(ctx, sec, x) })
		if c.Event == "lookup-table-changed" || c.Event == "lookup-permission-changed" {
			continue // happn does not push these to clients
		}
		if protocolVersion(sess.Protocol()) < 3 {
			continue
		}
		b := make([]byte, 0, 128+len(c.Data))
		b = append(b, `{"_meta":{"type":"system"},"eventKey":"security-data-changed","data":{"whatHappnd":`...)
		b = appendString(b, c.Event)
		b = append(b, `,"changedData":`...)
		b = append(b, changed...)
		b = append(b, '}')
		sess.send(appendProtocol(b, sess))
	}
}

// clientChangedData renders a change as happn-3 sends it in
// security-data-changed. The npm client reads changedData.permissions of
// upsert-group and unlink-group (to re-check its listeners) and fails on a
// message without it, so those carry the group's permissions in happn's
// {path: {actions, prohibit}} form.
func (s *Server) clientChangedData(ctx context.Context, c security.Change) []byte {
	if c.Event != "upsert-group" && c.Event != "unlink-group" {
		if len(c.Data) == 0 {
			return []byte("null")
		}
		return c.Data
	}
	var d map[string]json.RawMessage
	if len(c.Data) == 0 || json.Unmarshal(c.Data, &d) != nil || d == nil {
		d = map[string]json.RawMessage{}
	}
	var name string
	for _, k := range []string{"name", "group", "groupName"} {
		if raw, ok := d[k]; ok && json.Unmarshal(raw, &name) == nil && name != "" {
			break
		}
	}
	perms := json.RawMessage(`{}`)
	if name != "" {
		if g, err := s.sec.GetGroup(ctx, name); err == nil && g != nil && g.Permissions != nil {
			if b, err := json.Marshal(g.Permissions); err == nil {
				perms = b
			}
		}
	}
	d["permissions"] = perms
	out, err := json.Marshal(d)
	if err != nil {
		return []byte("null")
	}
	return out
}

// sessionsWhere returns the logged-in sessions for which keep is true.
func (s *Server) sessionsWhere(keep func(*Session) bool) []*Session {
	s.mu.Lock()
	all := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	out := all[:0]
	for _, sess := range all {
		sess.mu.Lock()
		ok := sess.loggedIn && keep(sess)
		sess.mu.Unlock()
		if ok {
			out = append(out, sess)
		}
	}
	return out
}

// sessionsOfUsers returns the sessions of the named users, or of every
// user when users is nil.
func (s *Server) sessionsOfUsers(users []string) []*Session {
	if users == nil {
		return s.sessionsWhere(func(x *Session) bool { return x.user != nil })
	}
	set := make(map[string]bool, len(users))
	for _, u := range users {
		set[u] = true
	}
	return s.sessionsWhere(func(x *Session) bool { return x.user != nil && set[x.user.Username] })
}
