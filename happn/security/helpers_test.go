package security

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/store/memory"
)

// clock is a settable time source for policy tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestService(t testing.TB, cfg Config) (*Service, *memory.Store) {
	t.Helper()
	st := memory.New()
	if cfg.PBKDF2Iterations == 0 {
		cfg.PBKDF2Iterations = 10
	}
	if cfg.Name == "" {
		cfg.Name = "testNode"
	}
	s, err := New(context.Background(), st, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, st
}

func withClock(s *Service) *clock {
	c := &clock{t: time.UnixMilli(1_700_000_000_000)}
	s.now = c.now
	return c
}

// wantErr checks that err is an *errs.Error with the given name, message
// and code.
func wantErr(t testing.TB, err error, name, msg string, code int) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("want %s: %s, got %v", name, msg, err)
	}
	if e.Name != name || e.Message != msg || e.Code != code {
		t.Fatalf("want {%s %q %d}, got {%s %q %d}", name, msg, code, e.Name, e.Message, e.Code)
	}
}

func mustUser(t testing.TB, s *Service, name, password string, custom string) {
	t.Helper()
	u := User{Username: name, Password: password}
	if custom != "" {
		u.CustomData = json.RawMessage(custom)
	}
	if _, err := s.UpsertUser(context.Background(), u, UpsertOptions{}); err != nil {
		t.Fatalf("UpsertUser %s: %v", name, err)
	}
}

func mustGroup(t testing.TB, s *Service, name string, perms map[string]PermissionRule, members ...string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.UpsertGroup(ctx, Group{Name: name, Permissions: perms}, UpsertOptions{}); err != nil {
		t.Fatalf("UpsertGroup %s: %v", name, err)
	}
	for _, m := range members {
		if err := s.LinkGroup(ctx, name, m, nil); err != nil {
			t.Fatalf("LinkGroup %s %s: %v", name, m, err)
		}
	}
}

func mustLogin(t testing.TB, s *Service, name, password string) *Session {
	t.Helper()
	sess, err := s.Login(context.Background(), LoginRequest{Username: name, Password: password, Type: Stateful})
	if err != nil {
		t.Fatalf("Login %s: %v", name, err)
	}
	return sess
}

func allowed(t testing.TB, s *Service, sess *Session, path, action string) bool {
	t.Helper()
	err := s.Authorize(context.Background(), sess, path, action)
	if err == nil {
		return true
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Name != "AccessDenied" || e.Code != 403 {
		t.Fatalf("Authorize %s %s: unexpected error %v", action, path, err)
	}
	return false
}
