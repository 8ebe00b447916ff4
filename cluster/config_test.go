package cluster

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/configfile"
)

// The seed README's config as YAML, with the keys of happn-cluster's SWIM
// membership and a typo: every key that does nothing is reported.
func TestDecodeConfigReportsKeysThatDoNothing(t *testing.T) {
	yml := `domain: DOMAIN_NAME
prot: 1
happn:
  port: 0
  services:
    orchestrator:
      config:
        minimumPeers: 3
    membership:
      config:
        deploymentId: d1
        seed: true
        discoverTimeoutMs: 60e3
        pulseIntervalMs: 1e3
        advertiseHost: 10.0.0.7
        dependencies:
          historian: 2
endpoints: {}
components:
  calc:
    dependencies:
      other: {version: ^1.0.0}
    versoin: 1.0.0
`
	doc, err := configfile.Parse([]byte(yml), "member.yaml", configfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := DecodeConfig(doc.Root())
	if err != nil {
		t.Fatal(err)
	}
	m := cfg.Membership
	if m.DiscoverTimeout != time.Minute || m.PulseInterval != time.Second || m.AdvertiseHost != "10.0.0.7" || m.Dependencies["historian"] != 2 {
		t.Fatalf("membership %+v", m)
	}
	var got []string
	for _, p := range doc.Problems() {
		got = append(got, p.String())
	}
	want := []string{
		"config: unknown key prot (did you mean port?) at member.yaml:2:1",
		"config: happn.services.orchestrator is not used: happn-cluster's orchestrator is not used: members find each other in the shared database (membership.config.deploymentId) and wait for membership.config.dependencies at member.yaml:6:5",
		"config: happn.services.membership.config.seed is not used: happn-cluster's SWIM (UDP) membership is not used: members find each other in the shared database at member.yaml:12:9",
		"config: endpoints is not used: mesh-to-mesh endpoints are not implemented at member.yaml:18:1",
		"config: unknown key components.calc.versoin (did you mean components.calc.version?) at member.yaml:23:5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeConfigTypeErrorNamesTheKey(t *testing.T) {
	doc, err := configfile.Parse([]byte(`{"happn": {"services": {"membership": {"config": {"dependencies": {"historian": "two"}}}}}}`), "m.json", configfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeConfig(doc.Root())
	if err == nil || !strings.Contains(err.Error(), `m.json:1:81: happn.services.membership.config.dependencies.historian: expected a whole number, found the string "two"`) {
		t.Fatalf("got %v", err)
	}
}

// A member listening on a wildcard address advertises advertiseHost, or a
// routable address of the host, never the wildcard.
func TestWildcardHostIsNeverAdvertised(t *testing.T) {
	shared := newShared(t)
	c := testConfig("adv-"+t.Name(), "svc", nil, shared)
	c.Happn.Host = "0.0.0.0"
	c.Membership.AdvertiseHost = "127.0.0.1"
	c2 := testConfig("adv-"+t.Name(), "svc", nil, shared)
	c2.Happn.Host = "127.0.0.1"
	c2.Membership.Host = "0.0.0.0"
	ms := startAll(t, c, c2)
	for _, m := range ms {
		if !strings.HasPrefix(m.URL(), "http://127.0.0.1:") {
			t.Errorf("member %s advertises %s", m.Name(), m.URL())
		}
	}
	eventually(t, 5*time.Second, "both members stable", func() bool {
		return ms[0].Status() == StatusStable && ms[1].Status() == StatusStable && len(ms[0].Peers()) == 1
	})
	host := routableAddress()
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		t.Fatalf("routable address %q", host)
	}
}

type versioned struct{}

func (versioned) Ping() string { return "pong" }

// Health's cluster view lists every member with its components' versions.
func TestHealthListsMembersWithComponentVersions(t *testing.T) {
	shared := newShared(t)
	cfgs := make([]Config, 2)
	for i := range cfgs {
		c := testConfig("view-"+t.Name(), "svc", map[string]int{"svc": 1}, shared)
		c.Modules = map[string]happner.ModuleConfig{"pinger": {Instance: versioned{}, Version: "1.2.3"}}
		c.Components = map[string]happner.ComponentConfig{"pinger": {}}
		cfgs[i] = c
	}
	ms := startAll(t, cfgs...)
	eventually(t, 5*time.Second, "the peer's components", func() bool {
		h := ms[0].Health()
		return len(h.Cluster) == 2 && h.Cluster[1].Components["pinger"] == "1.2.3"
	})
	h := ms[0].Health()
	self, other := h.Cluster[0], h.Cluster[1]
	if !self.Self || self.Name != ms[0].Name() || self.Components["pinger"] != "1.2.3" || self.ClientAddr == "" || self.Status != StatusStable {
		t.Errorf("self %+v", self)
	}
	if other.Self || other.Name != ms[1].Name() || !other.Connected || other.ServiceName != "svc" || other.URL != ms[1].URL() {
		t.Errorf("other %+v", other)
	}
	if _, ok := self.Components["security"]; ok {
		t.Errorf("system components listed: %v", self.Components)
	}
}
