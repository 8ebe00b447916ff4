package happn

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A secure server whose _ADMIN keeps happn's default password says so.
func TestSecureServerWarnsAboutTheDefaultAdminPassword(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      Config
		warnings int
	}{
		{"default password", Config{Secure: true}, 1},
		{"own password", Config{Secure: true, AdminPassword: "s3cret"}, 0},
		{"insecure", Config{}, 0},
	} {
		var logs lockedBuffer
		tc.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		srv, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		_ = srv.Stop(context.Background())
		if got := strings.Count(logs.String(), "still has the default password"); got != tc.warnings {
			t.Errorf("%s: %d warnings in %q", tc.name, got, logs.String())
		}
	}
}
