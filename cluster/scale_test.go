package cluster

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/happner-go/happner/happn/client"
	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// systemMessages records the security-data-changed messages a client
// session receives.
type systemMessages struct {
	mu   sync.Mutex
	msgs []json.RawMessage
}

func (s *systemMessages) record(ev client.ConnectionEvent) {
	if ev.Type == client.EventSystemMessage && ev.Key == "security-data-changed" {
		s.mu.Lock()
		s.msgs = append(s.msgs, ev.Data)
		s.mu.Unlock()
	}
}

func (s *systemMessages) all() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.msgs...)
}

// watchSecurity logs user in to m's client port and records the
// security-data-changed messages its session receives.
func watchSecurity(t *testing.T, m *Member, user string) *systemMessages {
	t.Helper()
	rec := &systemMessages{}
	var cl *client.Client
	var last error
	eventually(t, 3*time.Second, user+" logged in to "+m.Name(), func() bool {
		cl, last = client.New(context.Background(), client.Options{
			URL: "http://" + m.ClientAddr(), Username: user, Password: "pw", OnConnectionEvent: rec.record,
		})
		return last == nil
	})
	if last != nil {
		t.Fatal(last)
	}
	t.Cleanup(func() { cl.Close() })
	return rec
}

// A security change made on one member reaches, on the other members, only
// the sessions of the users it names: a change naming nobody (a group
// without members) reaches no session at all, as on the member that made
// it. Before, the empty list of users was lost on the way and read as
// "every user", so every session of every other member (the other
// members' own connections included) was checked again and told to
// refresh its subscriptions: work per member that grew with the cluster.
func TestSecurityChangeReachesOnlyAffectedSessions(t *testing.T) {
	ms := secureMembers(t, "dep-sec-affected", 2, nil)
	ctx := context.Background()
	secA := ms[0].srv.Security()
	addUser(t, ms[0], "g-affected", "u-affected")
	addUser(t, ms[0], "g-bystander", "u-bystander")
	affected := watchSecurity(t, ms[1], "u-affected")
	bystander := watchSecurity(t, ms[1], "u-bystander")

	// two changes made on member 1: one naming nobody, one naming u-affected
	if _, err := secA.UpsertGroup(ctx, security.Group{Name: "g-nobody"}, security.UpsertOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := secA.UpsertPermission(ctx, "g-affected", "/affected/*", "get", true); err != nil {
		t.Fatal(err)
	}
	// then one naming u-bystander: once its session has been told of it,
	// member 2 has applied the earlier changes too (in order, and messages
	// to one session keep their order)
	if err := secA.UpsertPermission(ctx, "g-bystander", "/bystander/*", "get", true); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		user  string
		msgs  *systemMessages
		group string
	}{{"u-affected", affected, "g-affected"}, {"u-bystander", bystander, "g-bystander"}} {
		eventually(t, 5*time.Second, w.user+" told of its group's change on member 2", func() bool {
			for _, m := range w.msgs.all() {
				if what, group := changeOf(t, m); what == "permission-upserted" && group == w.group {
					return true
				}
			}
			return false
		})
	}
	for _, w := range []struct {
		user string
		msgs *systemMessages
	}{{"u-affected", affected}, {"u-bystander", bystander}} {
		for _, m := range w.msgs.all() {
			if _, group := changeOf(t, m); group == "g-nobody" || group == "g-bystander" && w.user == "u-affected" {
				t.Errorf("%s was told of a change that does not concern it: %s", w.user, m)
			}
		}
	}
}

// changeOf reads a security-data-changed message: the change and the group
// it names.
func changeOf(t *testing.T, msg json.RawMessage) (what, group string) {
	t.Helper()
	var d struct {
		WhatHappnd  string `json:"whatHappnd"`
		ChangedData struct {
			Name      string `json:"name"`
			GroupName string `json:"groupName"`
		} `json:"changedData"`
	}
	if err := json.Unmarshal(msg, &d); err != nil {
		t.Fatalf("%v in %s", err, msg)
	}
	if d.ChangedData.GroupName != "" {
		return d.WhatHappnd, d.ChangedData.GroupName
	}
	return d.WhatHappnd, d.ChangedData.Name
}

// A change's list of affected users keeps its meaning through the batch
// members exchange: none stays none, and unknown stays unknown.
func TestSecurityBatchKeepsAffectedUsers(t *testing.T) {
	in := securityBatch{Changes: []security.Change{
		{Event: "upsert-group", Data: json.RawMessage(`{"name":"g"}`), Users: []string{}},
		{Event: "token-restored", Data: json.RawMessage(`{"token":"t"}`)},
		{Event: "upsert-user", Data: json.RawMessage(`{"username":"u"}`), Users: []string{"u"}},
	}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out securityBatch
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if u := out.Changes[0].Users; u == nil || len(u) != 0 {
		t.Errorf("a change naming nobody arrives naming %#v (%s)", u, b)
	}
	if u := out.Changes[1].Users; u != nil {
		t.Errorf("a change naming every user arrives naming %#v (%s)", u, b)
	}
	if u := out.Changes[2].Users; len(u) != 1 || u[0] != "u" {
		t.Errorf("a change naming u arrives naming %#v (%s)", u, b)
	}
}

// removalCounter is a store that counts the removals made through it.
type removalCounter struct {
	store.Store
	removals atomic.Int32
}

func (c *removalCounter) Remove(ctx context.Context, pattern string, q *query.Query) (int, error) {
	c.removals.Add(1)
	return c.Store.Remove(ctx, pattern, q)
}

// A scan returns the records pulsed within the stale threshold, and
// removes the records stale for ten thresholds; while there are none it
// removes nothing (every member scans, so the scans of a healthy cluster
// read and write nothing more than the records).
func TestMembershipScanPurgesOnlyLongDeadRecords(t *testing.T) {
	ctx := context.Background()
	st := &removalCounter{Store: newShared(t)}
	reg := newRegistry(st, "dep-purge", "cluster", time.Second)
	now := time.Now()
	pulseAt := func(name string, at time.Time) {
		t.Helper()
		reg.now = func() time.Time { return at }
		if err := reg.pulse(ctx, Record{MemberID: name + "-id", Name: name, ServiceName: "svc", Status: StatusStable}); err != nil {
			t.Fatal(err)
		}
		reg.now = func() time.Time { return now }
	}
	names := func(recs []Record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.Name)
		}
		return out
	}
	stored := func(name string) bool {
		t.Helper()
		rec, err := st.Get(ctx, reg.base+"svc/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return rec != nil
	}

	pulseAt("fresh", now)
	pulseAt("stale", now.Add(-3*time.Second))
	recs, err := reg.scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(recs); len(got) != 1 || got[0] != "fresh" {
		t.Fatalf("scan found %v, want [fresh]", got)
	}
	if n := st.removals.Load(); n != 0 || !stored("stale") {
		t.Fatalf("with no long-dead record: %d removals, stale record kept: %v", n, stored("stale"))
	}

	pulseAt("dead", now.Add(-11*time.Second))
	recs, err = reg.scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(recs); len(got) != 1 || got[0] != "fresh" {
		t.Fatalf("scan found %v, want [fresh]", got)
	}
	if stored("dead") || !stored("stale") || !stored("fresh") {
		t.Fatalf("after the purge: dead kept %v, stale kept %v, fresh kept %v", stored("dead"), stored("stale"), stored("fresh"))
	}
}

// A peer's description is read without its system components, which are
// never used from other members; what remote calls and the broker use is
// kept.
func TestMembershipDescriptionOfPeer(t *testing.T) {
	d, ok := decodeDescription(json.RawMessage(`{"name":"D","initializing":false,"brokered":true,"components":{
		"security":{"version":"1.0.0","methods":{"addGroup":{"parameters":[{"name":"group"}]}}},
		"worker":{"version":"2.1.0","methods":{"work":{"isAsyncMethod":true,"parameters":[{"name":"a"}]}},"routes":{"/worker/page":{"type":"get"}}},
		"gone":null}}`))
	if !ok {
		t.Fatal("a complete description was refused")
	}
	if !d.Brokered || d.Components["security"] != nil || d.Components["gone"] != nil {
		t.Fatalf("description %+v", d)
	}
	w := d.Components["worker"]
	if w == nil || w.Version != "2.1.0" || w.Methods["work"] == nil || !w.Methods["work"].IsAsyncMethod ||
		len(w.Methods["work"].Parameters) != 1 || w.Routes["/worker/page"] == nil {
		t.Fatalf("worker %+v", w)
	}
	for _, bad := range []string{`{"initializing":true,"components":{}}`, `{"name":"D"}`, `{"components":{"w":[1]}}`, `not json`} {
		if _, ok := decodeDescription(json.RawMessage(bad)); ok {
			t.Errorf("accepted %s", bad)
		}
	}
}

// A member that connects to a discovering member makes it scan at once:
// members that start together find each other as soon as the last of them
// has written its record, rather than at their next pulse (here ten
// minutes away, far past the discover timeout).
func TestMemberFoundByConnectionWhileDiscovering(t *testing.T) {
	shared := newShared(t)
	slow := func() Config {
		c := withEmitter(testConfig("dep-found-by-connection", "svc", map[string]int{"svc": 1}, shared))
		c.Membership.PulseInterval = 10 * time.Minute
		c.Membership.MemberScanningInterval = time.Hour
		c.Membership.StaleMemberThreshold = time.Hour
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	type created struct {
		m   *Member
		err error
	}
	first := make(chan created, 1)
	go func() {
		m, err := Create(ctx, slow())
		first <- created{m, err}
	}()
	// the first member has pulsed and scanned (finding nobody) once its
	// record is in the registry
	reg := newRegistry(shared, "dep-found-by-connection", DefaultClusterName, time.Hour)
	eventually(t, 5*time.Second, "the first member's record", func() bool {
		recs, err := reg.scan(ctx)
		return err == nil && len(recs) == 1
	})
	second, err := Create(ctx, slow())
	if second != nil {
		t.Cleanup(func() { _ = second.Stop(context.Background()) })
	}
	if err != nil {
		t.Fatalf("second member: %v", err)
	}
	c := <-first
	if c.m != nil {
		t.Cleanup(func() { _ = c.m.Stop(context.Background()) })
	}
	if c.err != nil {
		t.Fatalf("first member: %v", c.err)
	}
	if got := peerNames(c.m); len(got) != 1 || got[0] != second.Name() {
		t.Fatalf("first member's peers: %v", got)
	}
}

// Secure members can log into each other with a key pair (the cluster
// user's public key, clusterPrivateKey/clusterPublicKey) rather than a
// password: a signature per login instead of a password hash check, which
// every member would otherwise make for every other member.
func TestSecurityMembersLogInWithKeyPair(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	private := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	public := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.PublicKey)}))
	ms := secureMembers(t, "dep-key-pair", 3, func(_ int, c *Config) {
		c.Happn.Security.AdminPublicKey = public
		c.Membership.ClusterPrivateKey, c.Membership.ClusterPublicKey = private, public
	})
	for _, m := range ms {
		if m.mc.ClusterPassword != "" {
			t.Fatalf("%s has a cluster password", m.Name())
		}
		if got := peerNames(m); len(got) != 2 {
			t.Errorf("%s: peers %v", m.Name(), got)
		}
	}
	// the connections are usable: a security change made on member 1
	// reaches the others over them
	checkSecuritySync(t, ms[0], ms[2])
}
