package configfile

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type testMembership struct {
	DeploymentID string `json:"deploymentId"`
	PulseMs      int64  `json:"pulseIntervalMs"`
	Deps         map[string]int
	Paths        json.RawMessage `json:"replicationPaths"`
}

type testConfig struct {
	Name   string  `json:"name"`
	Port   *int    `json:"port"`
	Secure bool    `json:"secure"`
	Ratio  float64 `json:"ratio"`
	Happn  struct {
		Services struct {
			Membership struct {
				Config testMembership `json:"config"`
			} `json:"membership"`
			Orchestrator Unsupported `json:"orchestrator" unsupported:"members find each other through the shared database"`
		} `json:"services"`
	} `json:"happn"`
	Tags  []string       `json:"tags"`
	Extra map[string]any `json:"extra"`
}

func env(vars map[string]string) Options {
	return Options{LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
}

func decode(t *testing.T, text, name string, opts Options) (*Document, testConfig) {
	t.Helper()
	d, err := Parse([]byte(text), name, opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var c testConfig
	if err := d.Root().Decode(&c); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return d, c
}

func problemLines(d *Document) []string {
	var out []string
	for _, p := range d.Problems() {
		out = append(out, p.String())
	}
	return out
}

func TestUnknownKeysAreReportedWithPathPositionAndHint(t *testing.T) {
	yml := `name: a
prot: 55000
happn:
  services:
    membership:
      config:
        deploymentId: d
        seed: true
    orchestrator:
      config:
        minimumPeers: 3
extra:
  anything: [1, 2]
`
	d, c := decode(t, yml, "member.yaml", Options{})
	if c.Name != "a" || c.Happn.Services.Membership.Config.DeploymentID != "d" {
		t.Fatalf("decoded %+v", c)
	}
	got := problemLines(d)
	want := []string{
		"config: unknown key prot (did you mean port?) at member.yaml:2:1",
		"config: unknown key happn.services.membership.config.seed at member.yaml:8:9",
		"config: happn.services.orchestrator is not used: members find each other through the shared database at member.yaml:9:5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var se *StrictError
	if err := d.Strict(); !errors.As(err, &se) || len(se.Problems) != 3 {
		t.Fatalf("Strict: %v", err)
	}
}

func TestKeysOfEverySectionDecoderAreKnown(t *testing.T) {
	d, err := Parse([]byte(`{"name": "x", "happn": {"port": 1, "other": true}}`), "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var top struct {
		Name string `json:"name"`
	}
	var happn struct {
		Port int `json:"port"`
	}
	if err := d.Root().Decode(&top); err != nil {
		t.Fatal(err)
	}
	if err := d.Root().Child("happn").Decode(&happn); err != nil {
		t.Fatal(err)
	}
	if got := problemLines(d); len(got) != 1 || got[0] != "config: unknown key happn.other at 1:36" {
		t.Fatalf("problems %q", got)
	}
	if err := d.Root().Child("happn").Decode(&struct {
		Other bool `json:"other"`
	}{}); err != nil {
		t.Fatal(err)
	}
	if err := d.Strict(); err != nil {
		t.Fatalf("every key is used now: %v", err)
	}
}

func TestSyntaxErrorsNameFileLineAndColumn(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"a.json", "{\n  \"name\": \"x\",\n  \"port\": 55000,\n}\n", "a.json:4:1: syntax error: unexpected '}', expected a key in double quotes"},
		{"b.json", "{\"name\": \"x\" \"port\": 1}", "b.json:1:14: syntax error: unexpected '\"', expected ',' or '}'"},
		{"c.json", "{\"port\": 01x}", "c.json:1:10: syntax error: invalid number 01"},
		{"d.json", "{\"a\": 1, \"a\": 2}", "d.json:1:10: syntax error: key \"a\" appears twice in one object"},
		{"e.yaml", "name: x\nhappn:\n  port: 1\n bad: [\n", "e.yaml:3:3: syntax error: did not find expected key"},
		{"f.yaml", "name: x\nport: a: b\n", "f.yaml:2:8: syntax error: mapping values are not allowed in this context"},
	} {
		_, err := Parse([]byte(tc.text), tc.name, Options{})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.name, err, tc.want)
		}
	}
}

func TestTypeErrorsNameThePathAndTheExpectedType(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{`{"happn": {"services": {"membership": {"config": {"pulseIntervalMs": "fast"}}}}}`,
			`x.json:1:70: happn.services.membership.config.pulseIntervalMs: expected a whole number, found the string "fast"`},
		{`{"happn": {"services": {"membership": {"config": {"pulseIntervalMs": 1.5}}}}}`,
			`x.json:1:70: happn.services.membership.config.pulseIntervalMs: expected a whole number, found the number 1.5`},
		{`{"secure": "yes"}`, `x.json:1:12: secure: expected true or false, found the string "yes"`},
		{`{"tags": ["a", 2]}`, `x.json:1:16: tags[1]: expected a string, found the number 2`},
		{`{"happn": []}`, `x.json:1:11: happn: expected an object (key: value, …), found a list`},
		{`{"port": 1e30}`, `x.json:1:10: port: expected a whole number, found the number 1e30`},
	} {
		d, err := Parse([]byte(tc.text), "x.json", Options{})
		if err != nil {
			t.Fatal(err)
		}
		var c testConfig
		if err := d.Root().Decode(&c); err == nil || err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
	}
}

func TestWholeNumbersInAnyNotation(t *testing.T) {
	_, c := decode(t, `{"port": 6e4, "happn": {"services": {"membership": {"config": {"pulseIntervalMs": 1.5e3}}}}, "ratio": 0.25}`, "", Options{})
	if *c.Port != 60000 || c.Happn.Services.Membership.Config.PulseMs != 1500 || c.Ratio != 0.25 {
		t.Fatalf("decoded %+v", c)
	}
	_, c = decode(t, "port: 60e3\n", "x.yaml", Options{})
	if *c.Port != 60000 {
		t.Fatalf("yaml 60e3: %d", *c.Port)
	}
}

func TestEnvironmentVariables(t *testing.T) {
	vars := map[string]string{"PORT": "55001", "SECURE": "true", "DB": "postgres://u:p@h/db", "EMPTY": ""}
	yml := `name: ${NAME:-member-1}
port: ${PORT}
secure: ${SECURE}
happn:
  services:
    membership:
      config:
        deploymentId: "id-${DB}-${EMPTY:-none}-$${LITERAL}"
`
	d, c := decode(t, yml, "m.yaml", env(vars))
	if c.Name != "member-1" || *c.Port != 55001 || !c.Secure {
		t.Fatalf("decoded %+v", c)
	}
	if got := c.Happn.Services.Membership.Config.DeploymentID; got != "id-postgres://u:p@h/db-none-${LITERAL}" {
		t.Fatalf("deploymentId %q", got)
	}
	if err := d.Strict(); err != nil {
		t.Fatal(err)
	}
	// JSON too
	_, c = decode(t, `{"port": "${PORT}", "name": "${DB}"}`, "m.json", env(vars))
	if *c.Port != 55001 || c.Name != vars["DB"] {
		t.Fatalf("json: %+v", c)
	}
	// a literal string is not a number
	d, err := Parse([]byte(`{"port": "55001"}`), "m.json", env(vars))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Root().Decode(&c); err == nil || !strings.Contains(err.Error(), "expected a whole number") {
		t.Fatalf("string port: %v", err)
	}
	// unset without a default
	_, err = Parse([]byte("happn:\n  url: ${DATABASE_URL}\n"), "m.yaml", env(vars))
	if err == nil || err.Error() != "m.yaml:2:8: happn.url: environment variable DATABASE_URL is not set (write ${DATABASE_URL:-default} to give a default)" {
		t.Fatalf("unset: %v", err)
	}
	_, err = Parse([]byte(`{"a": ["x", "${1BAD}"]}`), "m.json", env(vars))
	if err == nil || !strings.Contains(err.Error(), "a[1]: ${1BAD} is not a variable reference") {
		t.Fatalf("bad name: %v", err)
	}
}

func TestOpaqueValuesAndYAMLScalars(t *testing.T) {
	yml := `name: 12345
happn:
  services:
    membership:
      config:
        deploymentId: 0755
        replicationPaths: [a, "b"]
        Deps: {x: 2}
extra: {a: {b: [1, true, null]}}
`
	d, c := decode(t, yml, "m.yaml", Options{})
	m := c.Happn.Services.Membership.Config
	if c.Name != "12345" || m.DeploymentID != "0755" || string(m.Paths) != `["a","b"]` || m.Deps["x"] != 2 {
		t.Fatalf("decoded %+v", c)
	}
	extra, _ := json.Marshal(c.Extra)
	if string(extra) != `{"a":{"b":[1,true,null]}}` {
		t.Fatalf("extra %s", extra)
	}
	if err := d.Strict(); err != nil {
		t.Fatal(err)
	}
	if _, err := Parse([]byte(`{"name": 1}`), "", Options{}); err != nil {
		t.Fatal(err)
	}
	d, _ = Parse([]byte(`{"name": 1}`), "", Options{})
	if err := d.Root().Decode(&c); err == nil || !strings.Contains(err.Error(), "name: expected a string, found the number 1") {
		t.Fatalf("json number into string: %v", err)
	}
}

func TestEditDistanceHints(t *testing.T) {
	known := map[string]bool{"port": true, "host": true, "deploymentId": true, "services": true}
	for key, want := range map[string]string{"prot": "port", "Port": "port", "deploymentID": "deploymentId",
		"deplymentId": "deploymentId", "servces": "services", "minimumPeers": "", "seed": ""} {
		if got := nearest(key, known); got != want {
			t.Errorf("nearest(%q) = %q, want %q", key, got, want)
		}
	}
}
