package cli

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner/internal/pgtest"
)

// eventually polls cond for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDeferredClientPortIsAnnouncedWhenItOpens: with
// cluster.dependenciesSatisfiedDeferListen the listening line is printed
// once the client port opens, with its address, and not before.
func TestDeferredClientPortIsAnnouncedWhenItOpens(t *testing.T) {
	t.Setenv("TEST_DATABASE_URL", pgtest.Start(t))
	dep := uniqueID(t)
	store := `
    data:
      config:
        datastores:
          - {name: shared, provider: postgres, isDefault: true, settings: {url: "${TEST_DATABASE_URL}"}}`
	edge := fmt.Sprintf(`name: edge-1
happn:
  host: 127.0.0.1
  services:%s
    membership:
      config: {deploymentId: %s, serviceName: edge, pulseIntervalMs: 100, memberScanningIntervalMs: 200}
cluster: {dependenciesSatisfiedDeferListen: true}
modules: {broker: {path: calc}}
components:
  broker:
    dependencies:
      $broker: {calc: {version: ^1.0.0, methods: {add: {}}}}
`, store, dep)
	n := launch(t, "member", "--config", writeFile(t, "edge.yaml", edge))
	eventually(t, 30*time.Second, "the deferred client port", func() bool {
		return strings.Contains(n.errOut.String(), "cluster: member stable")
	})
	time.Sleep(300 * time.Millisecond)
	if out := n.out.String(); strings.Contains(out, "listening") {
		t.Fatalf("listening line before the client port opened: %q", out)
	}
	internal := fmt.Sprintf(`name: calc-1
happn:
  host: 127.0.0.1
  services:%s
    membership:
      config: {deploymentId: %s, serviceName: calc, pulseIntervalMs: 100, memberScanningIntervalMs: 200}
modules: {calc: {}}
components: {calc: {}}
`, store, dep)
	startNode(t, "member", "--config", writeFile(t, "calc.yaml", internal))
	n.wait(t)
	if n.name != "edge-1" {
		t.Fatalf("listening line %q", n.out.String())
	}
	conn, err := net.DialTimeout("tcp", n.addr, 5*time.Second)
	if err != nil {
		t.Fatalf("the announced address %s: %v", n.addr, err)
	}
	conn.Close()
}

// TestSignalDuringStartIsACleanStop: a member stopped while it still
// discovers its dependencies exits 0 with one log line saying so.
func TestSignalDuringStartIsACleanStop(t *testing.T) {
	cfg := fmt.Sprintf(`happn:
  host: 127.0.0.1
  services:
    membership:
      config: {deploymentId: %s, pulseIntervalMs: 100, discoverTimeoutMs: 600e3, dependencies: {nowhere: 1}}
`, uniqueID(t))
	n := launch(t, "member", "--config", writeFile(t, "member.yaml", cfg))
	eventually(t, 30*time.Second, "discovering", func() bool {
		return strings.Contains(strings.ToLower(n.errOut.String()), "discover")
	})
	if code := n.stop(t); code != ExitOK {
		t.Fatalf("exit %d:\n%s", code, n.errOut.String())
	}
	logs := n.errOut.String()
	if strings.Contains(logs, "happner: ") || strings.Contains(logs, "level=ERROR") || strings.Count(logs, "stopped before the node had started") != 1 {
		t.Fatalf("logs:\n%s", logs)
	}
}
