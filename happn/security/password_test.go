package security

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/happner-go/happner/store"
)

// Written by happn-password-hash-and-salt@1.2.1 (node) for "secret-pw".
const nodeHashSHA512 = "pbkdf2$10000$f62c15166cdded1d27d556734c69f325749b3908a8053a37b415895ff226fb748d5bfeedb3ec249af014118a30e97dbb49460b36411b6403a8882fd12cc124cf$f790c71844bec970375de537c2254e21431f491290ee7b5686b94aed0ee97a2db08e366026c4d20929f73654fbb71f8e82e42ba106f356fb69579411a970aa8e$sha512"

// Legacy 4-field (sha1) hash of "legacy-pw", 1000 iterations, made with
// crypto.pbkdf2Sync in node.
const nodeHashLegacySHA1 = "pbkdf2$1000$016bbc122e922184135393b99ebabd6368b81d4fb75b64a4385d76ef8df2afb45da409dcb9c37502dcb5a185a31238b8e83a2ba32f018f98045597d269565521$1df4ad054421da0963cfe30bc7516f1318845c58eb61caa9fb7109d754afc79ff72e24a57f3bcd501eaef69d8b79d913d8a17cef23a7fccdaa950d05cbe9f4c6"

func TestVerifyNodeHashes(t *testing.T) {
	for _, tc := range []struct {
		pw, hash string
		want     bool
	}{
		{"secret-pw", nodeHashSHA512, true},
		{"secret-pX", nodeHashSHA512, false},
		{"legacy-pw", nodeHashLegacySHA1, true},
		{"legacy", nodeHashLegacySHA1, false},
	} {
		got, err := VerifyPassword(tc.pw, tc.hash)
		if err != nil || got != tc.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tc.pw, got, err, tc.want)
		}
	}
}

func TestHashPasswordFormat(t *testing.T) {
	h, err := HashPassword("pw", 0)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, "$")
	if len(parts) != 5 || parts[0] != "pbkdf2" || parts[1] != "10000" || len(parts[2]) != 128 || len(parts[3]) != 128 || parts[4] != "sha512" {
		t.Fatalf("unexpected hash layout %q", h)
	}
	if ok, _ := VerifyPassword("pw", h); !ok {
		t.Fatal("own hash not verified")
	}
	if _, err := HashPassword("", 10); err == nil {
		t.Fatal("empty password hashed")
	}
	for _, bad := range []string{"pbkdf2$10", "md5$10$aa$bb", "pbkdf2$x$aa$bb", "pbkdf2$10$zz$bb", "pbkdf2$10$aa$bb$md4"} {
		if _, err := VerifyPassword("pw", bad); err == nil {
			t.Errorf("malformed hash %q accepted", bad)
		}
	}
}

// A user record written by happn-3 (node hash) logs in with the Go service.
func TestLoginAcceptsHappnHash(t *testing.T) {
	s, st := newTestService(t, Config{})
	ctx := context.Background()
	data, _ := json.Marshal(map[string]string{"username": "carried", "password": nodeHashSHA512, "userid": "u-1"})
	if _, err := st.Set(ctx, "/_SYSTEM/_SECURITY/_USER/carried", data, store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	sess, err := s.Login(ctx, LoginRequest{Username: "carried", Password: "secret-pw", Type: 1})
	if err != nil {
		t.Fatalf("login with node hash: %v", err)
	}
	if sess.UserID != "u-1" || sess.Username != "carried" {
		t.Fatalf("session %+v", sess)
	}
	_, err = s.Login(ctx, LoginRequest{Username: "carried", Password: "wrong", Type: 1})
	wantErr(t, err, "AccessDenied", "Invalid credentials", 401)
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]int64{"7 days": 7 * 86400000, "1 hour": 3600000, "10s": 10000, "500": 500,
		"2.5 hrs": 9000000, "1m": 60000, "Infinity": 0, "100ms": 100} {
		d, err := ParseDuration(in)
		if err != nil || d.Milliseconds() != want {
			t.Errorf("ParseDuration(%q) = %d, %v; want %d", in, d.Milliseconds(), err, want)
		}
	}
	if _, err := ParseDuration("soon"); err == nil {
		t.Error("bad duration accepted")
	}
	var p Policy
	if err := json.Unmarshal([]byte(`{"ttl":"2 seconds","inactivity_threshold":null,"usage_limit":3}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.TTL.Milliseconds() != 2000 || p.InactivityThreshold != 0 || p.UsageLimit != 3 {
		t.Fatalf("policy %+v", p)
	}
	out, _ := json.Marshal(Policy{TTL: p.TTL})
	if string(out) != `{"ttl":2000,"inactivity_threshold":null}` {
		t.Fatalf("policy json %s", out)
	}
}
