package logging_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/happner-go/happner/logging"
)

func TestJSONFormatWritesOneObjectPerLine(t *testing.T) {
	var buf bytes.Buffer
	log, err := logging.New(&buf, logging.Options{Format: "json", Level: "debug"})
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("a session connected", "session", "s1", "remote", "10.0.0.1")
	log.Info("configuration", "config", logging.Summary(map[string]any{"adminPassword": "secret"}))
	log.Warn("login failed", "user", "bob")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	for _, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("line is not JSON: %q: %v", l, err)
		}
	}
	if strings.Contains(buf.String(), "secret") {
		t.Errorf("a password reached the log: %s", buf.String())
	}
}

func TestLevelsAndFormats(t *testing.T) {
	var buf bytes.Buffer
	log, err := logging.New(&buf, logging.Options{Level: "warn"})
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", "v")
	if got := buf.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "msg=shown k=v") {
		t.Errorf("text log at warn = %q", got)
	}
	for _, bad := range []logging.Options{{Format: "xml"}, {Level: "loud"}} {
		if _, err := logging.New(&buf, bad); err == nil {
			t.Errorf("New(%+v) accepted", bad)
		}
	}
	if err := (logging.Options{Format: "JSON", Level: "DEBUG"}).Validate(); err != nil {
		t.Errorf("upper case options refused: %v", err)
	}
}

func TestSummaryMasksSecrets(t *testing.T) {
	cfg := map[string]any{
		"name":          "node1",
		"adminPassword": "hunter2",
		"security":      map[string]any{"adminUser": map[string]any{"password": "hunter3"}, "sessionTokenSecret": "tok"},
		"transport":     map[string]any{"key": "-----BEGIN PRIVATE KEY-----", "keyPath": "/etc/tls/key.pem", "cert": "PEM"},
		"datastores": []any{
			map[string]any{"name": "pg", "settings": map[string]any{"url": "postgres://happn:pgpass@db:5432/happn"}},
			map[string]any{"name": "kv", "settings": map[string]any{"connectionString": "host=db password=kvpass user=x"}},
		},
		"clusterPrivateKey": "pk",
		"emptyPassword":     "",
		"port":              55000,
	}
	got := logging.Summary(cfg)
	for _, secret := range []string{"hunter2", "hunter3", "tok", "BEGIN PRIVATE", "pgpass", "kvpass", `"pk"`, "PEM"} {
		if strings.Contains(got, secret) {
			t.Errorf("summary shows %q: %s", secret, got)
		}
	}
	for _, kept := range []string{`"name":"node1"`, `"keyPath":"/etc/tls/key.pem"`, "postgres://happn:***@db:5432/happn", "password=***", `"port":55000`, `"emptyPassword":""`} {
		if !strings.Contains(got, kept) {
			t.Errorf("summary lacks %s: %s", kept, got)
		}
	}
	if strings.Contains(got, "\n") {
		t.Errorf("summary is not one line: %s", got)
	}
}

func TestSummaryWritesDurationsReadably(t *testing.T) {
	type inner struct {
		Interval time.Duration `json:"interval"`
		Raw      json.RawMessage
	}
	type embedded struct{ Depth int }
	type config struct {
		embedded
		Timeout  time.Duration            `json:"timeout"`
		Optional time.Duration            `json:"optional,omitempty"`
		Hidden   string                   `json:"-"`
		Inner    *inner                   `json:"inner"`
		ByName   map[string]time.Duration `json:"byName"`
		List     []inner                  `json:"list"`
		Secret   string                   `json:"secret"`
		When     time.Time                `json:"when"`
		private  int
	}
	got := logging.Summary(config{
		embedded: embedded{Depth: 3},
		Timeout:  30 * time.Second, Hidden: "x",
		Inner:  &inner{Interval: time.Minute, Raw: json.RawMessage(`{"a":1}`)},
		ByName: map[string]time.Duration{"ping": 1500 * time.Millisecond},
		List:   []inner{{Interval: time.Millisecond}},
		Secret: "s3", When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), private: 1,
	})
	want := `{"Depth":3,"byName":{"ping":"1.5s"},"inner":{"Raw":{"a":1},"interval":"1m0s"},"list":[{"Raw":null,"interval":"1ms"}],"secret":"***","timeout":"30s","when":"2026-01-02T03:04:05Z"}`
	if got != want {
		t.Errorf("summary\n got %s\nwant %s", got, want)
	}
}
