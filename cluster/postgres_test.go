package cluster

import (
	"bufio"
	"context"

	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/internal/mongotest"
	"github.com/happner-go/happner/internal/pgtest"
	"github.com/happner-go/happner/store"
)

// TestMain stops the tests' private PostgreSQL and FerretDB servers.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	mongotest.StopShared()
	os.Exit(code)
}

// pgConfig is testConfig on a PostgreSQL shared store opened from the
// datastores config, as a real member does.
func pgConfig(dsn, dep, service string, deps map[string]int) Config {
	c := testConfig(dep, service, deps, nil)
	c.Happn.Datastores = []store.DatastoreConfig{{
		Name: "shared", Provider: "postgres", IsDefault: true, Settings: map[string]any{"url": dsn},
	}}
	return c
}

func TestPostgresFiveMembers(t *testing.T) {
	dsn := pgtest.Start(t)
	var cfgs []Config
	for range 5 {
		cfgs = append(cfgs, withEmitter(pgConfig(dsn, "dep-pg", "svc", map[string]int{"svc": 4})))
	}
	ms := startAll(t, cfgs...)
	ctx := context.Background()
	var counts [5]atomic.Int32
	for i, m := range ms {
		if len(m.Peers()) != 4 {
			t.Errorf("%s: peers %v", m.Name(), peerNames(m))
		}
		if _, err := m.Mesh().Event().On(ctx, "emitter", "*", func(happner.Event) { counts[i].Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := ms[3].Mesh().Exchange().Call(ctx, "emitter", "fire", []any{"k", false}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "event on every member", func() bool {
		for i := range counts {
			if counts[i].Load() == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond)
	for i := range counts {
		if n := counts[i].Load(); n != 1 {
			t.Errorf("member %d received the event %d times", i, n)
		}
	}
	checkSecuritySync(t, ms[4], ms[0])
}

// process is a clustermember child process.
type process struct {
	cmd  *exec.Cmd
	name string
	id   string
}

func buildMember(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "clustermember")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/happner-go/happner/internal/cmd/clustermember").CombinedOutput()
	if err != nil {
		t.Fatalf("building clustermember: %v\n%s", err, out)
	}
	return bin
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY ") {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("clustermember exited before it was ready")
		}
		f := strings.Fields(l)
		return &process{cmd: cmd, name: f[1], id: f[2]}
	case <-time.After(20 * time.Second):
		t.Fatal("clustermember not ready in 20s")
	}
	return nil
}

func TestKilledMemberDisappearsAndRejoins(t *testing.T) {
	dsn := pgtest.Start(t)
	bin := buildMember(t)
	ms := startAll(t,
		pgConfig(dsn, "dep-crash", "svc", nil),
		pgConfig(dsn, "dep-crash", "svc", nil))
	args := []string{"-dsn", dsn, "-deployment", "dep-crash", "-service", "svc", "-name", "crashy",
		"-pulse", "50ms", "-scan", "100ms", "-stale", "600ms", "-deps", "svc=2"}
	p := startProcess(t, bin, args...)
	for _, m := range ms {
		eventually(t, 3*time.Second, "the process member as a peer", func() bool {
			return slices.Contains(peerNames(m), "crashy")
		})
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = p.cmd.Wait()
	limit := ms[0].mc.StaleMemberThreshold + ms[0].mc.MemberScanningInterval + 300*time.Millisecond
	for _, m := range ms {
		eventually(t, 3*time.Second, "the killed member to disappear", func() bool {
			return !slices.Contains(peerNames(m), "crashy") && !hasMember(m, "crashy")
		})
	}
	if d := time.Since(killed); d > limit {
		t.Errorf("killed member disappeared after %s, limit %s", d, limit)
	}
	for _, m := range ms {
		if m.Status() != StatusStable {
			t.Errorf("%s: status %s after the crash", m.Name(), m.Status())
		}
	}
	// restarted under the same name, it rejoins with a new member id
	p2 := startProcess(t, bin, args...)
	if p2.id == p.id {
		t.Error("restarted member kept its member id")
	}
	for _, m := range ms {
		eventually(t, 3*time.Second, "the restarted member as a peer", func() bool {
			for _, pp := range m.Peers() {
				if pp.Name == "crashy" && pp.MemberID == p2.id {
					return true
				}
			}
			return false
		})
	}
	// a clean stop removes its record at once
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.cmd.Wait(); err != nil {
		t.Errorf("clustermember exit: %v", err)
	}
	for _, m := range ms {
		eventually(t, time.Second, "the stopped member to disappear", func() bool {
			return !slices.Contains(peerNames(m), "crashy") && !hasMember(m, "crashy")
		})
	}
}

func hasMember(m *Member, name string) bool {
	for _, r := range m.Members() {
		if r.Name == name {
			return true
		}
	}
	return false
}

func TestDatabaseOutageKeepsMembersRunning(t *testing.T) {
	srv := pgtest.NewServer(t)
	dsn := srv.DSN("postgres")
	var cfgs []Config
	for range 3 {
		c := withEmitter(pgConfig(dsn, "dep-outage", "svc", map[string]int{"svc": 2}))
		c.Membership.MemberScanningErrorThreshold = 2
		cfgs = append(cfgs, c)
	}
	ms := startAll(t, cfgs...)
	ctx := context.Background()
	var got atomic.Int32
	if _, err := ms[2].Mesh().Event().On(ctx, "emitter", "*", func(happner.Event) { got.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		eventually(t, 5*time.Second, "FAILED_PULSE while the database is down", func() bool {
			return m.Status() == StatusFailedPulse
		})
	}
	// peers stay connected and events still flow member to member
	for _, m := range ms {
		if len(m.Peers()) != 2 {
			t.Errorf("%s lost its peers during the outage: %v", m.Name(), peerNames(m))
		}
	}
	if err := ms[0].Mesh().Exchange().Call(ctx, "emitter", "fire", []any{"during", false}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "an event replicated during the outage", func() bool { return got.Load() == 1 })
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		eventually(t, 10*time.Second, "STABLE again after the database is back", func() bool {
			return m.Status() == StatusStable && len(m.Members()) == 2
		})
	}
}
