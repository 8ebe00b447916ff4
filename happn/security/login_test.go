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
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func rsaKey(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)})
	return k, string(pub)
}

// sign does what happn-util-crypto's sign does: RSA-SHA256 over the
// base64-decoded nonce, base64 signature.
func sign(t *testing.T, k *rsa.PrivateKey, nonce string) string {
	t.Helper()
	msg, _ := base64.StdEncoding.DecodeString(nonce)
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(sig)
}

func TestDigestLogin(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	key, pub := rsaKey(t)
	if _, err := s.UpsertUser(ctx, User{Username: "keyed", PublicKey: pub}, UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := s.RequestNonce("")
	wantErr(t, err, "Error", "no public key with request", 0)
	nonce, err := s.RequestNonce(pub)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.StdEncoding.DecodeString(nonce); err != nil || len(raw) != 32 {
		t.Fatalf("nonce %q is not base64 sha256", nonce)
	}
	req := LoginRequest{Username: "keyed", PublicKey: pub, LoginType: "digest", Digest: sign(t, key, nonce), Type: 1}
	sess, err := s.Login(ctx, req)
	if err != nil {
		t.Fatalf("digest login: %v", err)
	}
	if sess.PublicKey != pub || sess.Username != "keyed" {
		t.Fatalf("session %+v", sess)
	}
	// the nonce is single-use
	_, err = s.Login(ctx, req)
	wantErr(t, err, "AccessDenied", "nonce expired or public key invalid", 401)

	_, err = s.Login(ctx, LoginRequest{Username: "keyed", LoginType: "digest", Digest: "x", Type: 1})
	wantErr(t, err, "AccessDenied", "no publicKey in request", 401)
	_, err = s.Login(ctx, LoginRequest{Username: "keyed", LoginType: "digest", PublicKey: pub, Type: 1})
	wantErr(t, err, "AccessDenied", "no digest in request", 401)

	// a signature by another key is refused
	other, _ := rsaKey(t)
	nonce, _ = s.RequestNonce(pub)
	_, err = s.Login(ctx, LoginRequest{Username: "keyed", PublicKey: pub, LoginType: "digest", Digest: sign(t, other, nonce), Type: 1})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)

	// an expired nonce is refused
	clk := withClock(s)
	nonce, _ = s.RequestNonce(pub)
	clk.advance(61 * time.Second)
	_, err = s.Login(ctx, LoginRequest{Username: "keyed", PublicKey: pub, LoginType: "digest", Digest: sign(t, key, nonce), Type: 1})
	wantErr(t, err, "AccessDenied", "nonce expired or public key invalid", 401)
}

// A digest login for a user that does not exist, or that does not own the
// key, is answered after the same work as a wrong signature for the right
// user: the signature is verified and the nonce used up, so that the answer's
// timing does not tell which names exist.
func TestDigestLoginUnknownUserDoesTheSameWork(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	key, pub := rsaKey(t)
	if _, err := s.UpsertUser(ctx, User{Username: "keyed", PublicKey: pub}, UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertUser(ctx, User{Username: "other", Password: "pw"}, UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, username := range []string{"nobody", "other"} {
		nonce, err := s.RequestNonce(pub)
		if err != nil {
			t.Fatal(err)
		}
		req := LoginRequest{Username: username, PublicKey: pub, LoginType: "digest", Digest: sign(t, key, nonce), Type: 1}
		_, err = s.Login(ctx, req)
		wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
		if left := s.pendingNonces(pub); len(left) != 0 {
			t.Fatalf("%s: the failed login left %d nonces unused; its signature was not checked", username, len(left))
		}
		// the same signature for the key's owner finds its nonce gone
		req.Username = "keyed"
		_, err = s.Login(ctx, req)
		wantErr(t, err, "AccessDenied", "nonce expired or public key invalid", 401)
	}
}

// Clients sharing a key pair (the members of a cluster) may each ask for a
// nonce before any logs in: every one logs in with its own, once. Sixty
// is more than a cluster of fifty members asks for at once.
func TestDigestLoginSharedKey(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	key, pub := rsaKey(t)
	if _, err := s.UpsertUser(ctx, User{Username: "keyed", PublicKey: pub}, UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	var reqs []LoginRequest
	for range 60 {
		nonce, err := s.RequestNonce(pub)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, LoginRequest{Username: "keyed", PublicKey: pub, LoginType: "digest", Digest: sign(t, key, nonce), Type: 1})
	}
	for i := len(reqs) - 1; i >= 0; i-- {
		if _, err := s.Login(ctx, reqs[i]); err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	_, err := s.Login(ctx, reqs[1])
	wantErr(t, err, "AccessDenied", "nonce expired or public key invalid", 401)
}

// A signature made by node's happn-util-crypto verifies.
func TestVerifyNodeDigest(t *testing.T) {
	raw, err := os.ReadFile("testdata/node_digest.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ PublicKey, Nonce, Digest string }
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if !VerifyDigest(f.PublicKey, f.Nonce, f.Digest) {
		t.Fatal("node digest not verified")
	}
	if VerifyDigest(f.PublicKey, f.Nonce[1:], f.Digest) {
		t.Fatal("digest of another nonce verified")
	}
}

func TestPasswordLoginAndLockout(t *testing.T) {
	s, _ := newTestService(t, Config{AccountLockout: LockoutConfig{Attempts: 3, RetryInterval: Duration(time.Minute)}})
	clk := withClock(s)
	ctx := context.Background()
	mustUser(t, s, "lock", "pw", "")
	_, err := s.Login(ctx, LoginRequest{Username: "lock", Type: 1})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
	_, err = s.Login(ctx, LoginRequest{Password: "pw", Type: 1})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
	_, err = s.Login(ctx, LoginRequest{Username: "nobody", Password: "pw", Type: 1})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)

	for i := 0; i < 3; i++ {
		_, err = s.Login(ctx, LoginRequest{Username: "lock", Password: "bad", Type: 1})
		wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
	}
	_, err = s.Login(ctx, LoginRequest{Username: "lock", Password: "pw", Type: 1})
	wantErr(t, err, "AccessDenied", "Account locked out", 403)
	clk.advance(61 * time.Second)
	sess, err := s.Login(ctx, LoginRequest{Username: "lock", Password: "pw", Type: 1, SessionID: "sid-1", Info: json.RawMessage(`{"a":1}`)})
	if err != nil {
		t.Fatalf("login after retry interval: %v", err)
	}
	if sess.ID != "sid-1" || sess.ParentID != "sid-1" || sess.Origin != "testNode" || sess.Type != 1 || string(sess.Info) != `{"a":1}` || sess.Token == "" {
		t.Fatalf("session %+v", sess)
	}
	if sess.User == nil || sess.User.Username != "lock" || sess.User.Password != "" {
		t.Fatalf("session user %+v", sess.User)
	}
	// success clears the counter
	for i := 0; i < 2; i++ {
		_, _ = s.Login(ctx, LoginRequest{Username: "lock", Password: "bad", Type: 1})
	}
	if _, err := s.Login(ctx, LoginRequest{Username: "lock", Password: "pw", Type: 1}); err != nil {
		t.Fatalf("counter not cleared: %v", err)
	}

	off, _ := newTestService(t, Config{AccountLockout: LockoutConfig{Enabled: ptr(false), Attempts: 1}})
	mustUser(t, off, "x", "pw", "")
	for i := 0; i < 3; i++ {
		_, _ = off.Login(ctx, LoginRequest{Username: "x", Password: "bad", Type: 1})
	}
	mustLogin(t, off, "x", "pw")
}

func TestAnonymousAndAdminNetwork(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, Config{DisableDefaultAdminNetworkConnections: true})
	_, err := s.Login(ctx, LoginRequest{Username: "_ANONYMOUS", Type: 1})
	wantErr(t, err, "AccessDenied", "Anonymous access is disabled", 401)
	_, err = s.Login(ctx, LoginRequest{Username: "_ADMIN", Password: "happn", Type: 1})
	wantErr(t, err, "AccessDenied", "use of _ADMIN credentials over the network is disabled", 403)
	local, err := s.Login(ctx, LoginRequest{Username: "_ADMIN", Password: "happn", Type: 1, Local: true})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Login(ctx, LoginRequest{Token: local.Token, Type: 1})
	wantErr(t, err, "AccessDenied", "use of _ADMIN credentials over the network is disabled", 403)

	a, _ := newTestService(t, Config{AllowAnonymousAccess: true})
	anon, err := a.Login(ctx, LoginRequest{Username: "_ANONYMOUS", Type: 1})
	if err != nil || anon.Username != "_ANONYMOUS" {
		t.Fatalf("anonymous login: %v", err)
	}
	if allowed(t, a, anon, "/x", "get") {
		t.Fatal("anonymous has rights without a group")
	}
}

func TestTokenLogin(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestService(t, Config{Profiles: []Profile{
		{Name: "notoken", Session: json.RawMessage(`{"user.username":"nt"}`), Policy: Policy{DisallowTokenLogins: true}},
		{Name: "origin", Session: json.RawMessage(`{"user.username":"org"}`), Policy: Policy{LockTokenToOrigin: true}},
	}})
	mustUser(t, s, "tok", "pw", "")
	mustUser(t, s, "nt", "pw", "")
	mustUser(t, s, "org", "pw", "")
	first := mustLogin(t, s, "tok", "pw")
	parts := strings.Split(first.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", first.Token)
	}
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if !strings.Contains(string(hdr), `"HS256"`) {
		t.Fatalf("header %s", hdr)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	for _, want := range []string{`"id":"` + first.ID, `"username":"tok"`, `"type":1`, `"origin":"testNode"`, `"isToken":true`, `"policy":{"0":{"ttl":0,"inactivity_threshold":null}`} {
		if !strings.Contains(string(payload), want) {
			t.Errorf("token payload %s lacks %s", payload, want)
		}
	}
	second, err := s.Login(ctx, LoginRequest{Token: first.Token, Type: 1, SessionID: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != "second" || second.ParentID != first.ID || second.Token != first.Token || second.Username != "tok" {
		t.Fatalf("token session %+v", second)
	}
	_, err = s.Login(ctx, LoginRequest{Token: first.Token, Type: 0})
	wantErr(t, err, "AccessDenied", "token was created using the login type 1, which does not match how the new token is to be created", 403)
	_, err = s.Login(ctx, LoginRequest{Token: first.Token + "x", Type: 1})
	wantErr(t, err, "AccessDenied", "Invalid credentials: invalid session token", 401)

	unlocked, _ := newTestService(t, Config{LockTokenToLoginType: ptr(false)})
	mustUser(t, unlocked, "tok", "pw", "")
	f := mustLogin(t, unlocked, "tok", "pw")
	if _, err := unlocked.Login(ctx, LoginRequest{Token: f.Token, Type: 0}); err != nil {
		t.Fatalf("unlocked type: %v", err)
	}

	nt := mustLogin(t, s, "nt", "pw")
	_, err = s.Login(ctx, LoginRequest{Token: nt.Token, Type: 1})
	wantErr(t, err, "AccessDenied", "logins with this token are disallowed by policy", 403)

	org := mustLogin(t, s, "org", "pw")
	if _, err := s.Login(ctx, LoginRequest{Token: org.Token, Type: 1}); err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	s.cfg.Name = "elsewhere"
	_, err = s.Login(ctx, LoginRequest{Token: org.Token, Type: 1})
	wantErr(t, err, "AccessDenied", "this token is locked to a different origin by policy", 403)

	// userid lock: the user is re-created with a new userid
	u, _ := newTestService(t, Config{LockTokenToUserID: true})
	mustUser(t, u, "re", "pw", "")
	old := mustLogin(t, u, "re", "pw")
	if err := u.DeleteUser(ctx, "re"); err != nil {
		t.Fatal(err)
	}
	mustUser(t, u, "re", "pw", "")
	_, err = u.Login(ctx, LoginRequest{Token: old.Token, Type: 1})
	wantErr(t, err, "AccessDenied", "token userid does not match userid for username: re", 403)

	hs, err := s.SessionFromToken(ctx, first.Token)
	if err != nil || hs.ID != first.ID || hs.Username != "tok" || hs.Policy == nil {
		t.Fatalf("SessionFromToken %+v %v", hs, err)
	}
}

func TestRevocation(t *testing.T) {
	s, st := newTestService(t, Config{})
	ctx := context.Background()
	mustUser(t, s, "rv", "pw", "")
	mustGroup(t, s, "rg", map[string]PermissionRule{"/r/*": {Actions: []string{"get"}}}, "rv")
	sess := mustLogin(t, s, "rv", "pw")
	child, _ := s.Login(ctx, LoginRequest{Token: sess.Token, Type: 1})
	if !allowed(t, s, sess, "/r/1", "get") {
		t.Fatal("denied before revocation")
	}
	wantErr(t, s.RevokeToken(ctx, "", ""), "Error", "token not defined", 0)
	wantErr(t, s.RevokeToken(ctx, "not-a-token", ""), "Error", "invalid token", 0)
	var events []Change
	s.OnChange(func(c Change) { events = append(events, c) })
	if err := s.RevokeToken(ctx, sess.Token, "logout"); err != nil {
		t.Fatal(err)
	}
	if rec, _ := st.Get(ctx, "/_SYSTEM/_CACHE/cache_revoked_tokens/"+sess.Token); rec == nil || !strings.Contains(string(rec.Data), `"reason":"logout"`) {
		t.Fatalf("revocation record %v", rec)
	}
	for _, x := range []*Session{sess, child} {
		wantErr(t, s.Authorize(ctx, x, "/r/1", "get"), "AccessDenied", "token has been revoked", 403)
	}
	_, err := s.Login(ctx, LoginRequest{Token: sess.Token, Type: 1})
	wantErr(t, err, "AccessDenied", "token has been revoked", 403)
	list, _ := s.ListRevokedTokens(ctx)
	if len(list) != 1 || list[0].Token != sess.Token || list[0].Reason != "logout" {
		t.Fatalf("revoked list %+v", list)
	}
	// a restarted service loads the list from the store
	s2, err := New(ctx, st, Config{PBKDF2Iterations: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !s2.IsRevoked(sess.Token) {
		t.Fatal("revocation not persisted")
	}
	if err := s.RestoreToken(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if !allowed(t, s, sess, "/r/1", "get") {
		t.Fatal("restored token still denied")
	}
	if len(events) != 2 || events[0].Event != "token-revoked" || events[1].Event != "token-restored" {
		t.Fatalf("events %+v", events)
	}

	// revocations with a TTL expire; ttl 0 can be refused
	strict, _ := newTestService(t, Config{AllowTTL0Revocations: ptr(false), Profiles: []Profile{
		{Name: "short", Session: json.RawMessage(`{"user.username":"short"}`), Policy: Policy{TTL: Duration(time.Second)}},
	}})
	clk := withClock(strict)
	mustUser(t, strict, "short", "pw", "")
	a := mustLogin(t, strict, "_ADMIN", "happn")
	wantErr(t, strict.RevokeToken(ctx, a.Token, ""), "Error", "revoking a token without a ttl means it stays in the revocation list forever", 0)
	sh := mustLogin(t, strict, "short", "pw")
	if err := strict.RevokeToken(ctx, sh.Token, ""); err != nil {
		t.Fatal(err)
	}
	if !strict.IsRevoked(sh.Token) {
		t.Fatal("not revoked")
	}
	clk.advance(1500 * time.Millisecond)
	if strict.IsRevoked(sh.Token) {
		t.Fatal("revocation outlived its ttl")
	}
}

func TestChangePassword(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	mustUser(t, s, "cp", "old", "")
	wantErr(t, s.ChangePassword(ctx, "_ADMIN", "happn", "x"), "SystemError", "updates to the _ADMIN user are forbidden", 500)
	wantErr(t, s.ChangePassword(ctx, "ghost", "a", "b"), "SystemError", "bad username: ghost", 500)
	wantErr(t, s.ChangePassword(ctx, "cp", "", "b"), "SystemError", "Invalid parameters: oldPassword and newPassword required", 500)
	wantErr(t, s.ChangePassword(ctx, "cp", "wrong", "new"), "SystemError", "Invalid old password", 500)
	if err := s.ChangePassword(ctx, "cp", "old", "new"); err != nil {
		t.Fatal(err)
	}
	mustLogin(t, s, "cp", "new")
	_, err := s.Login(ctx, LoginRequest{Username: "cp", Password: "old", Type: 1})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
}

// The session's JSON is the security part of happn's login reply.
func TestSessionJSON(t *testing.T) {
	s, _ := newTestService(t, Config{})
	sess := mustLogin(t, s, "_ADMIN", "happn")
	raw, err := json.Marshal(sess)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	for _, k := range []string{"id", "type", "user", "timestamp", "origin", "parentId", "policy", "token"} {
		if _, ok := m[k]; !ok {
			t.Errorf("login reply lacks %s: %s", k, raw)
		}
	}
	if string(m["policy"]) != `{"0":{"ttl":0,"inactivity_threshold":null},"1":{"ttl":0,"inactivity_threshold":null}}` {
		t.Errorf("policy %s", m["policy"])
	}
	if !strings.Contains(string(m["user"]), `"username":"_ADMIN"`) || strings.Contains(string(m["user"]), "password") {
		t.Errorf("user %s", m["user"])
	}
}

// TestLockoutTableIsBounded: failed logins under many made-up names do not
// grow the lockout table without bound, and real users are still locked
// out.
func TestLockoutTableIsBounded(t *testing.T) {
	s, _ := newTestService(t, Config{})
	ctx := context.Background()
	mustUser(t, s, "real", "right", "")
	for range 3 {
		if _, err := s.Login(ctx, LoginRequest{Username: "real", Password: "wrong", Type: Stateful}); err == nil {
			t.Fatal("a wrong password logged in")
		}
	}
	long := strings.Repeat("x", 200)
	for i := range 3 * MaxUnknownLockouts {
		s.loginFailed(long+strconv.Itoa(i), false)
	}
	s.lockMu.Lock()
	known, unknown := len(s.lockouts), len(s.unknownLockouts)
	s.lockMu.Unlock()
	if unknown > MaxUnknownLockouts || known != 1 {
		t.Fatalf("lockout table: %d known, %d unknown names after %d made-up names", known, unknown, 3*MaxUnknownLockouts)
	}
	// the fourth failure of the real user still locks it
	_, _ = s.Login(ctx, LoginRequest{Username: "real", Password: "wrong", Type: Stateful})
	_, err := s.Login(ctx, LoginRequest{Username: "real", Password: "right", Type: Stateful})
	wantErr(t, err, "AccessDenied", "Account locked out", 403)
	// a made-up name is locked out like a real one
	for range 4 {
		_, _ = s.Login(ctx, LoginRequest{Username: "ghost", Password: "x", Type: Stateful})
	}
	_, err = s.Login(ctx, LoginRequest{Username: "ghost", Password: "x", Type: Stateful})
	wantErr(t, err, "AccessDenied", "Account locked out", 403)
}
