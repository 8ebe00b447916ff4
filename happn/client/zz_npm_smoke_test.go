//go:build npmsmoke

package client

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func startNPM(t *testing.T, secure bool) (string, func(string)) {
	pub, _ := os.ReadFile("/tmp/x/pub.pem")
	sec := "0"
	if secure {
		sec = "1"
	}
	cmd := exec.Command("node", "/tmp/peer/server.js", sec, string(pub))
	cmd.Dir = "/tmp/peer"
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			go func() { for sc.Scan() {} }()
			return "http://127.0.0.1:" + p, func(s string) { stdin.Write([]byte(s + "\n")) }
		}
	}
	t.Fatal("no port")
	return "", nil
}

func TestNPMSecure(t *testing.T) {
	url, _ := startNPM(t, true)
	ctx := context.Background()
	var mu sync.Mutex
	var evs []ConnectionEvent
	c, err := New(ctx, Options{URL: url, Username: "_ADMIN", Password: "happn", OnConnectionEvent: func(e ConnectionEvent) { mu.Lock(); evs = append(evs, e); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("session %+v", c.Session().User)
	if _, err := New(ctx, Options{URL: url, Username: "_ADMIN", Password: "bad"}); err == nil {
		t.Fatal("expected error")
	} else {
		t.Logf("bad login: %v", err)
	}
	key, _ := os.ReadFile("/tmp/x/key.pem")
	pub, _ := os.ReadFile("/tmp/x/pub.pem")
	k, err := New(ctx, Options{URL: url, Username: "keyuser", PrivateKey: string(key), PublicKey: string(pub)})
	if err != nil {
		t.Fatal("digest:", err)
	}
	t.Logf("digest user %+v", k.Session().User)
	k2, err := New(ctx, Options{URL: url, Username: "keyuser", PrivateKey: string(key)})
	if err != nil {
		t.Fatal("digest derived pub:", err)
	}
	k2.Close()
	tk, err := New(ctx, Options{URL: url, Token: c.Session().Token})
	if err != nil {
		t.Fatal("token:", err)
	}
	t.Logf("token session parent %s == %s", tk.Session().ParentID, c.Session().ID)
	if _, err := c.Set(ctx, "/x/y", map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.RevokeToken(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	_, err = tk.Get(ctx, "/x/y")
	t.Logf("after revoke: %v", err)
	mu.Lock()
	for _, e := range evs {
		t.Logf("event %s %s", e.Type, e.Reason)
	}
	mu.Unlock()
}

func TestNPMReconnect(t *testing.T) {
	url, cmdf := startNPM(t, false)
	ctx := context.Background()
	evc := make(chan ConnectionEvent, 100)
	c, err := New(ctx, Options{URL: url, OnConnectionEvent: func(e ConnectionEvent) { evc <- e }})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan Event, 10)
	if _, err := c.On(ctx, "/rc/*", OnOptions{Meta: map[string]any{"m": 1}}, func(e Event) { got <- e }); err != nil {
		t.Fatal(err)
	}
	old := c.Session().ID
	cmdf("drop")
	for e := range evc {
		t.Logf("event %s %d %v", e.Type, e.Attempt, e.Delay)
		if e.Type == EventReconnectSuccessful {
			break
		}
	}
	if c.Session().ID == old {
		t.Fatal("same session")
	}
	if _, err := c.Set(ctx, "/rc/a", 1); err != nil {
		t.Fatal(err)
	}
	e := <-got
	t.Logf("event after reconnect %s %s", e.Data, e.Meta.Channel)
	// heartbeat: npm pings every 2s; wait 5s and ensure still connected
	time.Sleep(5 * time.Second)
	if !c.Connected() {
		t.Fatal("not connected")
	}
	c.Close()
}
