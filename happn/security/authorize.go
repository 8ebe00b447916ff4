package security

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/query"
)

// Session types.
const (
	// Stateless is a session made per HTTP request from a token.
	Stateless = 0
	// Stateful is a websocket (or in-process) session.
	Stateful = 1
)

// Session is the security view of a logged-in connection; the server keeps
// one per connection and passes it to Authorize. Its JSON form is the
// security part of happn's login reply: id, type, user, timestamp, origin,
// parentId, policy, token, info.
type Session struct {
	// ID is the session (connection) id.
	ID string `json:"id"`
	// Type is 1 for stateful (socket) and 0 for stateless (HTTP) sessions.
	Type int `json:"type"`
	// Username and UserID identify the user.
	Username string `json:"-"`
	UserID   string `json:"-"`
	// Groups are the user's group names at login time (sorted); rights
	// are always computed from the current memberships.
	Groups []string `json:"-"`
	// Timestamp is the login time in ms; policy TTLs count from it.
	Timestamp int64 `json:"timestamp"`
	// ParentID is the id of the session whose token this one logged in
	// with (its own id for credential logins).
	ParentID string `json:"parentId"`
	// Origin is the name of the server that created the session.
	Origin string `json:"origin"`
	// Token is the session token handed to the client.
	Token string `json:"token,omitempty"`
	// Policy is the policy per session type (0 and 1).
	Policy map[int]Policy `json:"policy"`
	// Info is the client-supplied info object.
	Info json.RawMessage `json:"info,omitempty"`
	// PublicKey is the user's public key, when it has one.
	PublicKey string `json:"-"`
	// Delegate marks a synthetic session made by OnBehalfOf.
	Delegate bool `json:"-"`
	// User is the user as sent in the login reply: no password, no groups.
	User *User `json:"user,omitempty"`
}

// authKey is an authorisation cache key.
type authKey struct{ path, action string }

// maxSessionCache bounds the per-session authorisation cache.
const maxSessionCache = 10000

// sessState is the per-session state of the checkpoint: usage count, last
// activity and the authorisation cache.
type sessState struct {
	usage        atomic.Int64
	lastActivity atomic.Int64

	mu    sync.RWMutex
	gen   uint64
	cache map[authKey]bool

	policyOnce  sync.Once
	policyPerms *permSet
}

func (s *Service) state(sess *Session) *sessState {
	s.sessMu.RLock()
	st := s.sessions[sess.ID]
	s.sessMu.RUnlock()
	if st != nil {
		return st
	}
	s.sessMu.Lock()
	defer s.sessMu.Unlock()
	if st = s.sessions[sess.ID]; st == nil {
		st = &sessState{cache: map[authKey]bool{}}
		st.lastActivity.Store(sess.Timestamp)
		s.sessions[sess.ID] = st
	}
	return st
}

// policyPerms returns the compiled permissions of a session's policy.
func (s *Service) policyPerms(sess *Session, st *sessState, pol Policy) *permSet {
	st.policyOnce.Do(func() {
		acc := map[string]*ruleAcc{}
		addRules(acc, pol.Permissions)
		ps := &permSet{}
		ps.entries, _ = compileRules(acc, templateContext(sess, nil))
		st.policyPerms = ps
	})
	return st.policyPerms
}

// ForgetSession drops the per-session state (usage count, inactivity
// clock, authorisation cache) of a session that has ended; the server calls
// it on disconnect.
func (s *Service) ForgetSession(id string) {
	s.sessMu.Lock()
	delete(s.sessions, id)
	s.sessMu.Unlock()
}

// Authorize decides whether sess may do action on path. It checks, in
// order: the token's revocation, the session policy (ttl, inactivity,
// usage limit, policy permissions), then the user's group and user
// permissions (prohibit wins), then lookup tables. A denial is
// errs.AccessDenied("unauthorized") or the policy's reason. Results are
// cached per session until the next directory change.
func (s *Service) Authorize(ctx context.Context, sess *Session, path, action string) error {
	if sess == nil || sess.Policy == nil {
		return errs.AccessDenied("no policy attached to session")
	}
	if sess.Token != "" && s.IsRevoked(sess.Token) {
		return errs.AccessDenied("token has been revoked")
	}
	pol, ok := sess.Policy[sess.Type]
	if !ok {
		return errs.AccessDenied("no policy for session type")
	}
	st := s.state(sess)
	if pol.TTL > 0 || pol.InactivityThreshold > 0 {
		now := s.nowMs()
		if pol.TTL > 0 && now > sess.Timestamp+pol.TTL.Milliseconds() {
			return errs.AccessDenied("expired session token")
		}
		if pol.InactivityThreshold > 0 {
			if now-st.lastActivity.Load() > pol.InactivityThreshold.Milliseconds() {
				return errs.AccessDenied("session inactivity threshold reached")
			}
			st.lastActivity.Store(now)
		}
	}
	if pol.UsageLimit > 0 && st.usage.Add(1) > pol.UsageLimit {
		return errs.AccessDenied("session usage limit reached")
	}
	if pol.Permissions != nil {
		if s.policyPerms(sess, st, pol).decide(path, actionBit(action)) {
			return nil
		}
		return errs.AccessDenied("token permissions limited")
	}
	if action == "login" {
		return nil
	}
	if path == "" {
		return errs.AccessDenied("invalid path")
	}
	key := authKey{path, action}
	gen := s.gen.Load()
	st.mu.RLock()
	if st.gen == gen {
		if allowed, ok := st.cache[key]; ok {
			st.mu.RUnlock()
			if allowed {
				return nil
			}
			return errs.AccessDenied("unauthorized")
		}
	}
	st.mu.RUnlock()

	allowed, err := s.authorizeUser(ctx, sess, path, action)
	if err != nil {
		return err
	}
	st.mu.Lock()
	if st.gen != gen && gen > st.gen {
		clear(st.cache)
		st.gen = gen
	}
	if st.gen == gen {
		if len(st.cache) >= maxSessionCache {
			clear(st.cache)
		}
		st.cache[key] = allowed
	}
	st.mu.Unlock()
	if allowed {
		return nil
	}
	return errs.AccessDenied("unauthorized")
}

// ProhibitionUnder reports whether a prohibition of action may apply to
// part of what the wildcard pattern covers, although the pattern itself is
// allowed: a get, count or subscription on it must then be filtered path by
// path, and a remove refused. Prohibitions always win, so "/bob/*" granted
// and "/bob/secret/*" prohibited must not hand out /bob/secret/1 through
// a get of "/bob/*". The answer is cached with the session's other
// decisions.
func (s *Service) ProhibitionUnder(ctx context.Context, sess *Session, pattern, action string) (bool, error) {
	if sess == nil || !strings.Contains(pattern, "*") {
		return false, nil
	}
	st := s.state(sess)
	key := authKey{pattern, "under:" + action}
	gen := s.gen.Load()
	st.mu.RLock()
	if st.gen == gen {
		if v, ok := st.cache[key]; ok {
			st.mu.RUnlock()
			return v, nil
		}
	}
	st.mu.RUnlock()
	bit := actionBit(action) | actStar
	under := false
	if pol, ok := sess.Policy[sess.Type]; ok && pol.Permissions != nil {
		under = s.policyPerms(sess, st, pol).denies(pattern, bit)
	}
	if !under {
		ps, _, err := s.permSetFor(ctx, sess)
		if err != nil {
			return false, err
		}
		under = ps.denies(pattern, bit)
	}
	st.mu.Lock()
	if st.gen != gen && gen > st.gen {
		clear(st.cache)
		st.gen = gen
	}
	if st.gen == gen && len(st.cache) < maxSessionCache {
		st.cache[key] = under
	}
	st.mu.Unlock()
	return under, nil
}

// authorizeUser evaluates the user's permissions and then lookup tables.
func (s *Service) authorizeUser(ctx context.Context, sess *Session, path, action string) (bool, error) {
	ps, ue, err := s.permSetFor(ctx, sess)
	if err != nil {
		return false, err
	}
	bit := actionBit(action)
	if ps.decide(path, bit) {
		return true, nil
	}
	if len(ps.lookups) > 0 {
		return ps.lookupAllows(path, bit, templateContext(sess, ue)), nil
	}
	return false, nil
}

// UserGroups returns the current group names of a user (sorted); nil when
// the user does not exist.
func (s *Service) UserGroups(ctx context.Context, username string) ([]string, error) {
	ue, err := s.loadUser(ctx, username)
	if err != nil || ue == nil {
		return nil, err
	}
	return append([]string(nil), ue.groupNames...), nil
}

// OnBehalfOf returns the session to use when sess acts on behalf of
// username (request option onBehalfOf). The caller must be _ADMIN or a
// member of the delegate group (_MESH_DELEGATE). "" and "_ADMIN" return sess
// itself. Synthetic sessions are cached per user and type until the next
// directory change.
func (s *Service) OnBehalfOf(ctx context.Context, sess *Session, username string) (*Session, error) {
	if username == "" || username == AdminUser {
		return sess, nil
	}
	deny := func(reason string) error {
		e := errs.AccessDenied("unauthorized")
		e.Reason = reason + " request on behalf of unauthorised user: " + username
		return e
	}
	if sess == nil {
		return nil, deny("session attempting to act on behalf of is not authorized")
	}
	if sess.Username != AdminUser {
		groups, err := s.UserGroups(ctx, sess.Username)
		if err != nil {
			return nil, deny("failed to get on behalf of session")
		}
		member := false
		for _, g := range groups {
			if g == s.cfg.AuditDelegateGroup || g == AdminGroup {
				member = true
				break
			}
		}
		if !member {
			return nil, deny("session attempting to act on behalf of is not authorized")
		}
	}
	key := username + ":" + strconv.Itoa(sess.Type)
	g0 := s.gen.Load()
	s.mu.Lock()
	cached := s.behalf[key]
	s.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	ue, err := s.loadUser(ctx, username)
	if err != nil {
		return nil, deny("failed to get on behalf of session")
	}
	if ue == nil {
		return nil, deny("on behalf of user does not exist")
	}
	info, _ := json.Marshal(map[string]string{"delegatedBy": sess.Username})
	out := &Session{
		ID:        uuid.NewString(),
		Type:      sess.Type,
		Username:  username,
		UserID:    ue.user.UserID,
		Groups:    append([]string(nil), ue.groupNames...),
		Timestamp: s.nowMs(),
		Origin:    s.cfg.Name,
		Info:      info,
		PublicKey: ue.user.PublicKey,
		Delegate:  true,
	}
	out.ParentID = out.ID
	u := ue.user
	out.User = &u
	if out.Policy, err = s.profile(out, ue); err != nil {
		return nil, deny("failed to get on behalf of session")
	}
	s.mu.Lock()
	if s.gen.Load() == g0 {
		s.behalf[key] = out
	}
	s.mu.Unlock()
	return out, nil
}

// ---- profiles ----

type compiledProfile struct {
	name   string
	filter *query.Query
	policy Policy
}

var builtinProfiles = []struct {
	name, criteria string
	policy         Policy
}{
	{"default-browser", `{"info._browser":{"$eq":true}}`, Policy{TTL: Duration(7 * 24 * 3600 * 1e9), InactivityThreshold: Duration(3600 * 1e9)}},
	{"default-stateful", `{"type":{"$eq":1}}`, Policy{}},
	{"default-stateless", `{"type":{"$eq":0}}`, Policy{}},
}

func compileProfiles(cfg []Profile) ([]compiledProfile, error) {
	var out []compiledProfile
	add := func(name string, criteria json.RawMessage, pol Policy) error {
		raw, err := json.Marshal(map[string]json.RawMessage{"criteria": criteria})
		if err != nil {
			return errs.Plain("invalid profile %s: %v", name, err)
		}
		q, err := query.Parse(raw)
		if err != nil {
			return errs.Plain("invalid profile %s session filter: %v", name, err)
		}
		out = append(out, compiledProfile{name: name, filter: q, policy: pol})
		return nil
	}
	for _, p := range cfg {
		crit := p.Session
		if len(crit) == 0 && p.SessionYAML != nil {
			var err error
			if crit, err = json.Marshal(p.SessionYAML); err != nil {
				return nil, errs.Plain("invalid profile %s session filter: %v", p.Name, err)
			}
		}
		if len(crit) == 0 {
			crit = json.RawMessage("{}")
		}
		if err := add(p.Name, crit, p.Policy); err != nil {
			return nil, err
		}
	}
	for _, b := range builtinProfiles {
		if err := add(b.name, json.RawMessage(b.criteria), b.policy); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Profile attaches policies to sess from the configured profiles followed
// by the built-in ones (default-browser, default-stateful,
// default-stateless): the first match for each session type.
func (s *Service) Profile(sess *Session) {
	ue, _ := s.loadUser(context.Background(), sess.Username)
	if pol, err := s.profile(sess, ue); err == nil {
		sess.Policy = pol
	}
}

func (s *Service) profile(sess *Session, ue *userEntry) (map[int]Policy, error) {
	doc := map[string]any{
		"id":        sess.ID,
		"timestamp": float64(sess.Timestamp),
		"origin":    sess.Origin,
		"parentId":  sess.ParentID,
	}
	info := map[string]any{}
	if len(sess.Info) > 0 {
		_ = json.Unmarshal(sess.Info, &info)
	}
	doc["info"] = info
	user := map[string]any{"username": sess.Username}
	if ue != nil {
		tc := templateContext(nil, ue)
		if u, ok := tc["user"].(map[string]any); ok {
			user = u
		}
	}
	doc["user"] = user
	out := map[int]Policy{}
	for _, t := range []int{Stateless, Stateful} {
		doc["type"] = float64(t)
		wrapped := map[string]any{"data": doc, "timestamp": doc["timestamp"]}
		for _, p := range s.profiles {
			if p.filter.Match(wrapped) {
				out[t] = p.policy
				break
			}
		}
	}
	if len(out) == 0 {
		return nil, errs.System(errUnmatchedProfile, "security")
	}
	return out, nil
}

type constError string

func (e constError) Error() string { return string(e) }

const errUnmatchedProfile = constError("unable to match session with a profile")

// sourceAllowed applies a policy's sourceIPWhitelist.
func sourceAllowed(pol Policy, ip string) bool {
	if len(pol.SourceIPWhitelist) == 0 {
		return true
	}
	ip = strings.TrimPrefix(ip, "::ffff:")
	for _, w := range pol.SourceIPWhitelist {
		if strings.TrimPrefix(w, "::ffff:") == ip {
			return true
		}
	}
	return false
}
