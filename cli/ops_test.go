package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner/internal/pgtest"
)

// memberConfig is a secure member hosting calc, in happner-cluster's
// shape, on a shared PostgreSQL database.
func memberConfig(name, deployment string) string {
	return fmt.Sprintf(`name: %s
domain: DOMAIN_NAME
happn:
  host: 127.0.0.1
  secure: true
  services:
    data:
      config:
        datastores:
          - name: shared
            provider: postgres
            isDefault: true
            settings: {url: "${TEST_DATABASE_URL}"}
    membership:
      config:
        deploymentId: %s
        serviceName: calc
        pulseIntervalMs: 100
        memberScanningIntervalMs: 200
        discoverTimeoutMs: 20e3
        dependencies: {calc: 1}
modules:
  calc: {}
components:
  calc: {}
`, name, deployment)
}

// secureCluster starts two secure members and returns them; operator
// commands log in with the admin password through HAPPNER_PASSWORD.
func secureCluster(t *testing.T) []*node {
	t.Setenv("TEST_DATABASE_URL", pgtest.Start(t))
	t.Setenv(EnvAdminPassword, "admin-pw")
	t.Setenv(EnvPassword, "admin-pw")
	dep := uniqueID(t)
	var nodes []*node
	for _, name := range []string{"calc-1", "calc-2"} {
		nodes = append(nodes, launch(t, "member", "--config", writeFile(t, name+".yaml", memberConfig(name, dep))))
	}
	for _, n := range nodes {
		n.wait(t)
	}
	return nodes
}

func TestOperatorCommandsAgainstASecureCluster(t *testing.T) {
	nodes := secureCluster(t)
	url := nodes[0].url

	t.Run("version", func(t *testing.T) {
		r := run(t, "version")
		var v VersionInfo
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &v) != nil || !strings.HasPrefix(v.Go, "go") || v.Version == "" {
			t.Fatalf("%+v", r)
		}
	})

	t.Run("set get remove", func(t *testing.T) {
		r := run(t, "set", "/ops/a", `{"x": 1}`, "--url", url)
		if r.code != ExitOK || !strings.Contains(r.stdout, `"x": 1`) || !strings.Contains(r.stdout, `"path": "/ops/a"`) {
			t.Fatalf("set: %+v", r)
		}
		if r := run(t, "set", "/ops/a", `{"y": 2}`, "--merge", "--url", url); r.code != ExitOK {
			t.Fatalf("set --merge: %+v", r)
		}
		// the other member answers from the shared store
		r = run(t, "get", "/ops/a", "--url", nodes[1].url)
		var item map[string]any
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &item) != nil || item["x"] != 1.0 || item["y"] != 2.0 {
			t.Fatalf("get: %+v", r)
		}
		r = run(t, "get", "/ops/*", "--url", url)
		var items []map[string]any
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &items) != nil || len(items) != 1 {
			t.Fatalf("get wildcard: %+v", r)
		}
		r = run(t, "remove", "/ops/*", "--url", url)
		if r.code != ExitOK || strings.Join(strings.Fields(r.stdout), "") != `{"removed":1}` {
			t.Fatalf("remove: %+v", r)
		}
		if r := run(t, "get", "/ops/a", "--url", url); r.code != ExitOK || strings.TrimSpace(r.stdout) != "null" {
			t.Fatalf("get after remove: %+v", r)
		}
		if r := run(t, "set", "/ops/a", `not json`, "--url", url); r.code != ExitUsage {
			t.Fatalf("set of not JSON: %+v", r)
		}
	})

	t.Run("on", func(t *testing.T) {
		var wg sync.WaitGroup
		var on result
		wg.Add(1)
		go func() {
			defer wg.Done()
			on = run(t, "on", "/watched/*", "--count", "2", "--url", url)
		}()
		stop := make(chan struct{})
		go func() {
			defer close(stop)
			wg.Wait()
		}()
		// keep writing until the subscriber has seen two events
		for i := 0; ; i++ {
			select {
			case <-stop:
			case <-time.After(100 * time.Millisecond):
				if r := run(t, "set", fmt.Sprintf("/watched/%d", i), `{"n": 1}`, "--url", url); r.code != ExitOK {
					t.Fatalf("set: %+v", r)
				}
				continue
			}
			break
		}
		lines := strings.Split(strings.TrimSpace(on.stdout), "\n")
		if on.code != ExitOK || len(lines) != 2 {
			t.Fatalf("on: %+v", on)
		}
		var ev struct {
			Path, Action string
			Data         map[string]any
		}
		if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || !strings.HasPrefix(ev.Path, "/watched/") || ev.Action != "set" || ev.Data["n"] != 1.0 {
			t.Fatalf("event %q: %v", lines[0], err)
		}
	})

	t.Run("call", func(t *testing.T) {
		if r := run(t, "call", "calc", "add", "40", "2", "--url", url); r.code != ExitOK || strings.TrimSpace(r.stdout) != "42" {
			t.Fatalf("call: %+v", r)
		}
		r := run(t, "call", "calc", "divide", "1", "0", "--url", url)
		if r.code != ExitFailure || !strings.Contains(r.stderr, "happner: calc.divide: DivideByZero: cannot divide by zero\n") {
			t.Fatalf("call failing: %+v", r)
		}
		if r := run(t, "call", "calc", "add", "pear", "--url", url); r.code != ExitUsage || !strings.Contains(r.stderr, "is not JSON") {
			t.Fatalf("call with a bad argument: %+v", r)
		}
		if r := run(t, "call", "nosuch", "thing", "--url", url); r.code != ExitFailure || r.stderr == "" {
			t.Fatalf("call of a missing component: %+v", r)
		}
	})

	t.Run("describe", func(t *testing.T) {
		r := run(t, "describe", "--url", url)
		var d struct {
			Name       string
			Components map[string]struct {
				Version string
				Methods map[string]any
			}
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &d) != nil || d.Name != "DOMAIN_NAME" ||
			d.Components["calc"].Version != "1.2.0" || d.Components["calc"].Methods["add"] == nil {
			t.Fatalf("describe: %+v", r)
		}
	})

	t.Run("members", func(t *testing.T) {
		r := run(t, "members", "--url", url)
		var ms []struct {
			Name, ServiceName, Status, URL string
			Self, Connected                bool
			Components                     map[string]string
		}
		if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &ms) != nil || len(ms) != 2 {
			t.Fatalf("members: %+v", r)
		}
		for i, want := range []string{"calc-1", "calc-2"} {
			m := ms[i]
			if m.Name != want || m.ServiceName != "calc" || m.Status != "STABLE" || !m.Connected ||
				!strings.HasPrefix(m.URL, "http://127.0.0.1:") || m.Components["calc"] != "1.2.0" || m.Self != (i == 0) {
				t.Errorf("member %d: %+v", i, m)
			}
		}
	})

	t.Run("refused login", func(t *testing.T) {
		// one unknown user per command: failed logins lock an account out
		for i, args := range [][]string{{"get", "/x"}, {"set", "/x", "1"}, {"remove", "/x"}, {"on", "/x"}, {"call", "calc", "add"}, {"describe"}, {"members"}} {
			r := run(t, append(args, "--url", url, "--username", fmt.Sprintf("nobody-%d", i))...)
			if r.code != ExitFailure || !strings.Contains(r.stderr, "AccessDenied: Invalid credentials") || strings.Count(r.stderr, "happner: ") != 1 {
				t.Errorf("%v: %+v", args, r)
			}
		}
	})

	t.Run("no password", func(t *testing.T) {
		t.Setenv(EnvPassword, "")
		if r := run(t, "get", "/x", "--url", url); r.code != ExitFailure || !strings.Contains(r.stderr, EnvPassword) {
			t.Fatalf("no password on a secure node: %+v", r)
		}
		// the hint is for a refused login, not for a node that is not there
		closed := freeAddr(t)
		if r := run(t, "get", "/x", "--url", "http://"+closed); r.code != ExitFailure || strings.Contains(r.stderr, EnvPassword) {
			t.Fatalf("no node there: %+v", r)
		}
		// a URL without a scheme is a bad command line
		for _, bad := range []string{closed, "http://", "ftp://" + closed} {
			if r := run(t, "get", "/x", "--url", bad); r.code != ExitUsage || strings.Contains(r.stderr, EnvPassword) || !strings.Contains(r.stderr, "--url") {
				t.Errorf("--url %s: %+v", bad, r)
			}
		}
	})

}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
