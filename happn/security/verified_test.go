package security

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// countVerifications makes s count its PBKDF2 password verifications.
func countVerifications(s *Service) *atomic.Int32 {
	var n atomic.Int32
	s.verifyPassword = func(password, hash string) (bool, error) {
		n.Add(1)
		return VerifyPassword(password, hash)
	}
	return &n
}

// A password that matched is not verified again (PBKDF2) for a minute: a
// second login with it costs an HMAC. A wrong password, a changed password
// and a user made again are verified in full.
func TestVerifiedPasswordsSkipTheSecondVerification(t *testing.T) {
	s, _ := newTestService(t, Config{})
	c := withClock(s)
	runs := countVerifications(s)
	mustUser(t, s, "alice", "secret", "")
	ctx := context.Background()

	mustLogin(t, s, "alice", "secret")
	mustLogin(t, s, "alice", "secret")
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d verifications for two logins with the same password, want 1", n)
	}

	// a wrong password is always verified, and refused
	_, err := s.Login(ctx, LoginRequest{Username: "alice", Password: "wrong", Type: Stateful})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
	if n := runs.Load(); n != 2 {
		t.Fatalf("a wrong password was not verified (%d verifications, want 2)", n)
	}

	// the minute passes: verified again
	c.advance(verifiedTTL)
	mustLogin(t, s, "alice", "secret")
	if n := runs.Load(); n != 3 {
		t.Fatalf("%d verifications after the entry expired, want 3", n)
	}

	// a new password: the old one is refused at once, the new one verified
	if _, err := s.UpsertUser(ctx, User{Username: "alice", Password: "new"}, UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = s.Login(ctx, LoginRequest{Username: "alice", Password: "secret", Type: Stateful})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
	mustLogin(t, s, "alice", "new")

	// deleted and made again with the same password: a new hash, verified
	if err := s.DeleteUser(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Login(ctx, LoginRequest{Username: "alice", Password: "new", Type: Stateful})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
	mustUser(t, s, "alice", "new", "")
	before := runs.Load()
	mustLogin(t, s, "alice", "new")
	if runs.Load() != before+1 {
		t.Fatal("the password of a user made again was not verified")
	}
}

// A locked-out user is refused even with a password remembered as
// verified: the lockout is checked first.
func TestVerifiedPasswordDoesNotBypassLockout(t *testing.T) {
	s, _ := newTestService(t, Config{AccountLockout: LockoutConfig{Attempts: 2, RetryInterval: Duration(time.Minute)}})
	mustUser(t, s, "alice", "secret", "")
	mustLogin(t, s, "alice", "secret")
	ctx := context.Background()
	for range 2 {
		_, _ = s.Login(ctx, LoginRequest{Username: "alice", Password: "wrong", Type: Stateful})
	}
	_, err := s.Login(ctx, LoginRequest{Username: "alice", Password: "secret", Type: Stateful})
	wantErr(t, err, "AccessDenied", lockedOutMessage, 403)
}

// The table of remembered passwords is bounded: when full of live entries,
// a new user's password is not remembered (it is verified each time).
func TestVerifiedPasswordsBounded(t *testing.T) {
	var v verifiedPasswords
	now := time.Unix(1_700_000_000, 0)
	for i := range maxVerified {
		v.remember(string(rune('a'+i%26))+time.Duration(i).String(), "h", "p", now)
	}
	v.remember("one-more", "h", "p", now)
	if v.matches("one-more", "h", "p", now) {
		t.Fatal("remembered past the bound")
	}
	if len(v.entries) != maxVerified {
		t.Fatalf("%d entries, want %d", len(v.entries), maxVerified)
	}
	// expired entries make room
	later := now.Add(verifiedTTL)
	v.remember("one-more", "h", "p", later)
	if !v.matches("one-more", "h", "p", later) {
		t.Fatal("not remembered once the expired entries were swept")
	}
	if v.matches("one-more", "h", "other", later) || v.matches("one-more", "other-hash", "p", later) {
		t.Fatal("matched another password or another hash")
	}
}
