package security

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/store"
)

// LoginRequest is a login as the server received it.
type LoginRequest struct {
	// SessionID is the id of the connection logging in; a new id is made
	// when empty.
	SessionID string
	// Username, Password: credential login. Username "_ANONYMOUS" needs no
	// password when anonymous access is allowed.
	Username, Password string
	// Token: token login (takes precedence over credentials).
	Token string
	// PublicKey, Digest: digest (key-pair) login after RequestNonce;
	// LoginType is "digest" then.
	PublicKey, Digest, LoginType string
	// AuthType names an auth provider; only "happn" exists.
	AuthType string
	// Type is the session type: 1 for a socket login, 0 for HTTP /auth/login.
	Type int
	// Info is the client's info object.
	Info json.RawMessage
	// Local is the server's knowledge that the connection is in-process
	// (not the client's info._local).
	Local bool
	// SourceIP is the client address, for sourceIPWhitelist policies.
	SourceIP string
}

type nonceEntry struct {
	nonce   string
	expires time.Time
}

type lockEntry struct {
	attempts int
	expires  time.Time
}

// tokenClaims are the claims of a session token.
type tokenClaims struct {
	SessionID string          `json:"id"`
	Username  string          `json:"username"`
	UserID    string          `json:"userid"`
	Type      int             `json:"type"`
	Origin    string          `json:"origin"`
	ParentID  string          `json:"parentId"`
	Timestamp int64           `json:"timestamp"`
	Policy    map[int]Policy  `json:"policy"`
	Info      json.RawMessage `json:"info,omitempty"`
	IsToken   bool            `json:"isToken"`
	jwt.RegisteredClaims
}

// MintToken returns the signed token (HS256 JWT) of a session, with the
// given session type.
func (s *Service) MintToken(sess *Session, typ int) (string, error) {
	c := tokenClaims{SessionID: sess.ID, Username: sess.Username, UserID: sess.UserID, Type: typ,
		Origin: sess.Origin, ParentID: sess.ParentID, Timestamp: sess.Timestamp, Policy: sess.Policy,
		Info: sess.Info, IsToken: true}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(*s.secret.Load())
	if err != nil {
		return "", fmt.Errorf("security: sign token: %w", err)
	}
	return tok, nil
}

// decodeToken verifies and decodes a token; nil when it is not valid.
func (s *Service) decodeToken(token string) *tokenClaims {
	var c tokenClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return *s.secret.Load(), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	if err != nil || c.Username == "" {
		return nil
	}
	return &c
}

// SessionFromToken decodes a token into the session it carries (for
// stateless HTTP requests). A revoked or invalid token is refused.
func (s *Service) SessionFromToken(ctx context.Context, token string) (*Session, error) {
	if token == "" {
		return nil, errs.Plain("invalid token format or null token")
	}
	if s.IsRevoked(token) {
		return nil, errs.AccessDenied("token has been revoked")
	}
	c := s.decodeToken(token)
	if c == nil {
		return nil, errs.InvalidCredentials("Invalid credentials: invalid session token")
	}
	return &Session{ID: c.SessionID, Type: c.Type, Username: c.Username, UserID: c.UserID,
		Timestamp: c.Timestamp, ParentID: c.ParentID, Origin: c.Origin, Token: token,
		Policy: c.Policy, Info: c.Info, User: &User{Username: c.Username, UserID: c.UserID}}, nil
}

// maxNoncesPerKey bounds the live nonces of one public key. Clients that
// share a key pair may each be between asking for a nonce and logging in
// with it: every other member of a cluster, when all start together. A
// nonce dropped too early fails a login, and failed logins lock the user
// out, so the bound is generous; a digest is checked against every live
// nonce of its key only for the user holding that key, and only until the
// lockout.
const maxNoncesPerKey = 1024

// RequestNonce returns a fresh nonce for a digest login with publicKey,
// valid for DefaultNonceTTL and usable once. Several nonces of one key may
// be live at once (up to maxNoncesPerKey; the oldest is dropped).
func (s *Service) RequestNonce(publicKey string) (string, error) {
	if publicKey == "" {
		return "", errs.Plain("no public key with request")
	}
	sum := sha256.Sum256([]byte(uuid.NewString() + uuid.NewString()))
	nonce := base64.StdEncoding.EncodeToString(sum[:])
	now := s.now()
	s.nonceMu.Lock()
	for k, list := range s.nonces {
		if live := liveNonces(list, now); len(live) == 0 {
			delete(s.nonces, k)
		} else {
			s.nonces[k] = live
		}
	}
	list := append(s.nonces[publicKey], nonceEntry{nonce: nonce, expires: now.Add(time.Duration(s.cfg.DefaultNonceTTL))})
	if len(list) > maxNoncesPerKey {
		list = list[len(list)-maxNoncesPerKey:]
	}
	s.nonces[publicKey] = list
	s.nonceMu.Unlock()
	return nonce, nil
}

// liveNonces returns the entries of list that have not expired at now.
func liveNonces(list []nonceEntry, now time.Time) []nonceEntry {
	live := list[:0]
	for _, e := range list {
		if !now.After(e.expires) {
			live = append(live, e)
		}
	}
	return live
}

// pendingNonces returns the live nonces of publicKey.
func (s *Service) pendingNonces(publicKey string) []string {
	s.nonceMu.Lock()
	defer s.nonceMu.Unlock()
	var out []string
	for _, e := range liveNonces(s.nonces[publicKey], s.now()) {
		out = append(out, e.nonce)
	}
	return out
}

// takeNonce consumes the live nonce of publicKey that digest signs, and
// reports whether there was one. Every attempt uses a nonce up: a digest
// that signs none of them consumes the oldest, as a second login with a
// nonce already used finds none.
func (s *Service) takeNonce(publicKey, digest string, nonces []string) bool {
	signed := nonces[0]
	ok := false
	for _, n := range nonces {
		if VerifyDigest(publicKey, n, digest) {
			signed, ok = n, true
			break
		}
	}
	s.nonceMu.Lock()
	defer s.nonceMu.Unlock()
	list := s.nonces[publicKey]
	for i, e := range list {
		if e.nonce == signed {
			s.nonces[publicKey] = append(list[:i:i], list[i+1:]...)
			return ok && !s.now().After(e.expires)
		}
	}
	return false // another login took it meanwhile
}

// VerifyDigest checks an RSA-SHA256 (PKCS#1 v1.5) base64 signature of the
// base64-decoded nonce against a PEM public key (PKCS#1 or PKIX).
func VerifyDigest(publicKeyPEM, nonce, digest string) bool {
	block, _ := pem.Decode([]byte(publicKeyPEM))
	if block == nil {
		return false
	}
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKCS1PublicKey(block.Bytes); err == nil {
		pub = k
	} else if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
		pub, _ = k.(*rsa.PublicKey)
	}
	if pub == nil {
		return false
	}
	msg, err := base64.StdEncoding.DecodeString(nonce)
	if err != nil {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(digest)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
}

func (s *Service) lockoutEnabled() bool { return boolOr(s.cfg.AccountLockout.Enabled, true) }

// MaxUnknownLockouts bounds how many names that are not users the lockout
// table keeps failure counts for. Names of real users are always counted
// (their number is bounded by the directory); made-up names are counted too,
// so that a lockout answers the same whether or not the user exists, but
// when this many are held the expired ones are swept and, if that is not
// enough, the oldest half is forgotten.
const MaxUnknownLockouts = 10000

// lockTable returns the table a name's failures are counted in.
func (s *Service) lockTable(known bool) map[string]lockEntry {
	if known {
		return s.lockouts
	}
	return s.unknownLockouts
}

func (s *Service) lockedOut(username string) bool {
	if !s.lockoutEnabled() {
		return false
	}
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	for _, table := range []map[string]lockEntry{s.lockouts, s.unknownLockouts} {
		e, ok := table[username]
		if !ok {
			continue
		}
		if s.now().After(e.expires) {
			delete(table, username)
			return false
		}
		return e.attempts >= s.cfg.AccountLockout.Attempts
	}
	return false
}

// loginFailed counts a failed login; known says whether the user exists.
func (s *Service) loginFailed(username string, known bool) {
	if !s.lockoutEnabled() {
		return
	}
	now := s.now()
	s.lockMu.Lock()
	defer s.lockMu.Unlock()
	table := s.lockTable(known)
	e, ok := table[username]
	if !ok && !known && len(table) >= MaxUnknownLockouts {
		s.sweepUnknownLockouts(now)
	}
	if now.After(e.expires) {
		e.attempts = 0
	}
	e.attempts++
	e.expires = now.Add(time.Duration(s.cfg.AccountLockout.RetryInterval))
	table[username] = e
}

// sweepUnknownLockouts makes room in the table of made-up names: expired
// entries go first, then the half that expires soonest. s.lockMu is held.
func (s *Service) sweepUnknownLockouts(now time.Time) {
	for name, e := range s.unknownLockouts {
		if now.After(e.expires) {
			delete(s.unknownLockouts, name)
		}
	}
	if len(s.unknownLockouts) < MaxUnknownLockouts {
		return
	}
	expiries := make([]time.Time, 0, len(s.unknownLockouts))
	for _, e := range s.unknownLockouts {
		expiries = append(expiries, e.expires)
	}
	sort.Slice(expiries, func(i, j int) bool { return expiries[i].Before(expiries[j]) })
	cut := expiries[len(expiries)/2]
	for name, e := range s.unknownLockouts {
		if !e.expires.After(cut) {
			delete(s.unknownLockouts, name)
		}
	}
}

func (s *Service) loginSucceeded(username string) {
	s.lockMu.Lock()
	delete(s.lockouts, username)
	delete(s.unknownLockouts, username)
	s.lockMu.Unlock()
}

// dummyHash is a password hash no password matches, made once with the
// configured iterations: a login for a user that does not exist is checked
// against it, so that it takes as long as a wrong password for a real user
// and the answer time does not tell which users exist.
func (s *Service) dummyHash() string {
	s.dummyOnce.Do(func() {
		var secret [32]byte
		_, _ = rand.Read(secret[:])
		s.dummy, _ = HashPassword(base64.StdEncoding.EncodeToString(secret[:]), s.cfg.PBKDF2Iterations)
	})
	return s.dummy
}

func invalidCredentials() error { return errs.InvalidCredentials("Invalid credentials") }

// Login authenticates a password, digest, token or anonymous login and
// returns the new session with its policies and token. Every attempt is
// reported to the [Service.OnLogin] observers.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*Session, error) {
	sess, err := s.login(ctx, req)
	s.loginObserved(req, sess, err)
	return sess, err
}

func (s *Service) login(ctx context.Context, req LoginRequest) (*Session, error) {
	if req.Username == AnonymousUser && req.Token == "" {
		if !s.cfg.AllowAnonymousAccess {
			return nil, errs.InvalidCredentials("Anonymous access is disabled")
		}
		req.Password = anonymousPass
	}
	digest := req.LoginType == "digest" || req.Digest != ""
	if req.Token == "" && (req.Username == "" || (req.Password == "" && !digest)) {
		return nil, invalidCredentials()
	}
	if req.Token != "" {
		return s.tokenLogin(ctx, req)
	}
	if s.cfg.DisableDefaultAdminNetworkConnections && req.Username == AdminUser && !req.Local {
		return nil, errs.AccessDenied("use of _ADMIN credentials over the network is disabled")
	}
	if s.lockedOut(req.Username) {
		return nil, errs.AccessDenied(lockedOutMessage)
	}
	ue, err := s.loadUser(ctx, req.Username)
	if err != nil {
		return nil, err
	}
	if digest {
		if req.PublicKey == "" {
			return nil, errs.InvalidCredentials("no publicKey in request")
		}
		if req.Digest == "" {
			return nil, errs.InvalidCredentials("no digest in request")
		}
		nonces := s.pendingNonces(req.PublicKey)
		if len(nonces) == 0 {
			return nil, errs.InvalidCredentials("nonce expired or public key invalid")
		}
		// The signature is checked (and the nonce used up) whether or not
		// the user exists and owns the key, so that an unknown user is
		// answered after the same work as a wrong signature.
		signed := s.takeNonce(req.PublicKey, req.Digest, nonces)
		if ue == nil || ue.user.PublicKey == "" || ue.user.PublicKey != req.PublicKey || !signed {
			s.loginFailed(req.Username, ue != nil)
			return nil, invalidCredentials()
		}
	} else {
		hash := s.dummyHash()
		if ue != nil {
			hash = ue.hash
		}
		now := s.now()
		if ue == nil || !s.verified.matches(req.Username, hash, req.Password, now) {
			ok, err := s.verifyPassword(req.Password, hash)
			if ue == nil || err != nil || !ok {
				s.loginFailed(req.Username, ue != nil)
				return nil, invalidCredentials()
			}
			s.verified.remember(req.Username, hash, req.Password, now)
		}
	}
	sess, err := s.newSession(req, ue, nil)
	if err != nil {
		return nil, err
	}
	s.loginSucceeded(req.Username)
	return sess, nil
}

// newSession builds the session of a successful login; parent is the
// decoded token of a token login.
func (s *Service) newSession(req LoginRequest, ue *userEntry, parent *tokenClaims) (*Session, error) {
	id := req.SessionID
	if id == "" {
		id = uuid.NewString()
	}
	u := ue.user
	sess := &Session{ID: id, Type: req.Type, Username: u.Username, UserID: u.UserID,
		Groups: append([]string(nil), ue.groupNames...), Timestamp: s.nowMs(), ParentID: id,
		Origin: s.cfg.Name, Info: req.Info, PublicKey: u.PublicKey, User: &u}
	if parent != nil {
		sess.Type = parent.Type
		sess.ParentID = parent.SessionID
		sess.Token = req.Token
	}
	pol, err := s.profile(sess, ue)
	if err != nil {
		return nil, err
	}
	sess.Policy = pol
	if !sourceAllowed(pol[sess.Type], req.SourceIP) {
		return nil, errs.InvalidCredentials("Source address access restricted")
	}
	if sess.Token == "" {
		if sess.Token, err = s.MintToken(sess, sess.Type); err != nil {
			return nil, errs.System(err, "security")
		}
	}
	s.state(sess) // start the inactivity clock
	return sess, nil
}

func (s *Service) tokenLogin(ctx context.Context, req LoginRequest) (*Session, error) {
	if s.IsRevoked(req.Token) {
		return nil, errs.AccessDenied("token has been revoked")
	}
	c := s.decodeToken(req.Token)
	if c == nil {
		return nil, errs.InvalidCredentials("Invalid credentials: invalid session token")
	}
	if boolOr(s.cfg.LockTokenToLoginType, true) && c.Type != req.Type {
		return nil, errs.AccessDenied(fmt.Sprintf("token was created using the login type %d, which does not match how the new token is to be created", c.Type))
	}
	if s.cfg.DisableDefaultAdminNetworkConnections && c.Username == AdminUser && !req.Local {
		return nil, errs.AccessDenied("use of _ADMIN credentials over the network is disabled")
	}
	stateful := c.Policy[Stateful]
	if stateful.DisallowTokenLogins {
		return nil, errs.AccessDenied("logins with this token are disallowed by policy")
	}
	if stateful.LockTokenToOrigin && c.Origin != s.cfg.Name {
		return nil, errs.AccessDenied("this token is locked to a different origin by policy")
	}
	if pol, ok := c.Policy[c.Type]; ok && pol.TTL > 0 && s.nowMs() > c.Timestamp+pol.TTL.Milliseconds() {
		return nil, errs.InvalidCredentials("expired session token")
	}
	ue, err := s.loadUser(ctx, c.Username)
	if err != nil {
		return nil, err
	}
	if ue == nil {
		return nil, invalidCredentials()
	}
	if s.cfg.LockTokenToUserID && c.UserID != ue.user.UserID {
		return nil, errs.AccessDenied("token userid does not match userid for username: " + c.Username)
	}
	return s.newSession(req, ue, c)
}

// ChangePassword changes a user's password after checking the old one.
func (s *Service) ChangePassword(ctx context.Context, username, oldPassword, newPassword string) error {
	sysErr := func(msg string) error { return errs.System(errors.New(msg), "security") }
	if username == AdminUser || username == AnonymousUser {
		return sysErr("updates to the " + username + " user are forbidden")
	}
	ue, err := s.loadUser(ctx, username)
	if err != nil {
		return err
	}
	if ue == nil || username == "" {
		return sysErr("bad username: " + username)
	}
	if oldPassword == "" || newPassword == "" {
		return sysErr("Invalid parameters: oldPassword and newPassword required")
	}
	if ok, err := VerifyPassword(oldPassword, ue.hash); err != nil || !ok {
		return sysErr("Invalid old password")
	}
	_, err = s.UpsertUser(ctx, User{Username: username, Password: newPassword}, UpsertOptions{})
	return err
}

// ---- revocation ----

// RevokedToken is an entry of the revocation list.
type RevokedToken struct {
	Token     string `json:"token"`
	Reason    string `json:"reason"`
	Timestamp int64  `json:"timestamp"`
	// TTL in ms; 0 means revoked forever.
	TTL int64 `json:"ttl"`
}

func (r RevokedToken) expired(nowMs int64) bool {
	return r.TTL > 0 && nowMs > r.Timestamp+r.TTL
}

// IsRevoked reports whether a token is on the revocation list.
func (s *Service) IsRevoked(token string) bool {
	s.revMu.RLock()
	r, ok := s.revoked[token]
	s.revMu.RUnlock()
	return ok && !r.expired(s.nowMs())
}

func (s *Service) policyTTL(c *tokenClaims) int64 {
	var info struct {
		Browser bool `json:"_browser"`
	}
	_ = json.Unmarshal(c.Info, &info)
	if info.Browser {
		return c.Policy[Stateful].TTL.Milliseconds()
	}
	if boolOr(s.cfg.LockTokenToLoginType, true) {
		return c.Policy[c.Type].TTL.Milliseconds()
	}
	var ttl int64
	for _, p := range c.Policy {
		ttl = max(ttl, p.TTL.Milliseconds())
	}
	return ttl
}

// RevokeToken puts a token on the persisted revocation list (for the
// token's policy TTL) and announces "token-revoked"; reason defaults to
// "SYSTEM".
func (s *Service) RevokeToken(ctx context.Context, token, reason string) error {
	if token == "" {
		return errs.Plain("token not defined")
	}
	c := s.decodeToken(token)
	if c == nil {
		return errs.Plain("invalid token")
	}
	if reason == "" {
		reason = "SYSTEM"
	}
	ttl := s.policyTTL(c)
	if ttl == 0 && !boolOr(s.cfg.AllowTTL0Revocations, true) {
		return errs.Plain("revoking a token without a ttl means it stays in the revocation list forever")
	}
	r := RevokedToken{Token: token, Reason: reason, Timestamp: s.nowMs(), TTL: ttl}
	raw, _ := json.Marshal(map[string]any{"reason": r.Reason, "timestamp": r.Timestamp, "ttl": r.TTL})
	if _, err := s.st.Set(ctx, pathRevoked+token, raw, store.SetOptions{}); err != nil {
		return errs.System(fmt.Errorf("security: store revocation: %w", err), "security")
	}
	s.revMu.Lock()
	s.revoked[token] = r
	s.revMu.Unlock()
	s.changed("token-revoked", map[string]any{"token": token, "reason": reason, "sessionId": c.SessionID, "username": c.Username}, []string{c.Username})
	return nil
}

// RestoreToken takes a token off the revocation list.
func (s *Service) RestoreToken(ctx context.Context, token string) error {
	if token == "" {
		return errs.Plain("token not defined")
	}
	if _, err := s.st.Remove(ctx, pathRevoked+token, nil); err != nil {
		return errs.System(fmt.Errorf("security: remove revocation: %w", err), "security")
	}
	s.revMu.Lock()
	delete(s.revoked, token)
	s.revMu.Unlock()
	var users []string
	if c := s.decodeToken(token); c != nil {
		users = []string{c.Username}
	}
	s.changed("token-restored", map[string]any{"token": token}, users)
	return nil
}

// ListRevokedTokens returns the live revocations, oldest first.
func (s *Service) ListRevokedTokens(ctx context.Context) ([]RevokedToken, error) {
	if err := s.loadRevocations(ctx); err != nil {
		return nil, err
	}
	s.revMu.RLock()
	out := make([]RevokedToken, 0, len(s.revoked))
	for _, r := range s.revoked {
		out = append(out, r)
	}
	s.revMu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Timestamp != out[j].Timestamp {
			return out[i].Timestamp < out[j].Timestamp
		}
		return out[i].Token < out[j].Token
	})
	return out, nil
}

// loadRevocations replaces the in-memory list with the store's, deleting
// expired entries.
func (s *Service) loadRevocations(ctx context.Context) error {
	recs, err := s.st.Find(ctx, pathRevoked+"*", nil)
	if err != nil {
		return errs.System(fmt.Errorf("security: load revocations: %w", err), "security")
	}
	now := s.nowMs()
	fresh := make(map[string]RevokedToken, len(recs))
	for _, rec := range recs {
		r, ok := parseRevocation(rec)
		if !ok {
			continue
		}
		if r.expired(now) {
			_, _ = s.st.Remove(ctx, rec.Path, nil)
			continue
		}
		fresh[r.Token] = r
	}
	s.revMu.Lock()
	s.revoked = fresh
	s.revMu.Unlock()
	return nil
}

func parseRevocation(rec *store.Record) (RevokedToken, bool) {
	var r RevokedToken
	if json.Unmarshal(rec.Data, &r) != nil {
		return r, false
	}
	r.Token = strings.TrimPrefix(rec.Path, pathRevoked)
	return r, r.Token != ""
}

func (s *Service) reloadRevocation(ctx context.Context, token string) {
	rec, err := s.st.Get(ctx, pathRevoked+token)
	if err != nil {
		return
	}
	s.revMu.Lock()
	defer s.revMu.Unlock()
	if rec == nil {
		delete(s.revoked, token)
		return
	}
	if r, ok := parseRevocation(rec); ok {
		s.revoked[token] = r
	}
}
