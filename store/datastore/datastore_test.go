package datastore

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/bolt"
	"github.com/happner-go/happner/store/memory"
)

// happnConfig is the part of a happn config that holds the datastores.
type happnConfig struct {
	Services struct {
		Data struct {
			Config struct {
				Datastores []store.DatastoreConfig `json:"datastores" yaml:"datastores"`
			} `json:"config" yaml:"config"`
		} `json:"data" yaml:"data"`
	} `json:"services" yaml:"services"`
}

func TestOpenFromJSONConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "persist.db")
	raw := `{"services":{"data":{"config":{"datastores":[
		{"name":"memory","provider":"memory","isDefault":true},
		{"name":"persisted","provider":"happn-db-provider-loki","settings":{"filename":` + mustJSON(file) + `},"patterns":["/persist/*"]}
	]}}}}`
	var cfg happnConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := Open(cfg.Services.Data.Config.Datastores, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Datastore("memory").(*memory.Store); !ok {
		t.Errorf("datastore memory is %T", r.Datastore("memory"))
	}
	if _, ok := r.Datastore("persisted").(*bolt.Store); !ok {
		t.Errorf("datastore persisted is %T", r.Datastore("persisted"))
	}
	for _, p := range []string{"/persist/a", "/volatile/b"} {
		if _, err := r.Set(ctx, p, json.RawMessage(`{"v":1}`), store.SetOptions{Now: 7}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r, err = Open(cfg.Services.Data.Config.Datastores, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if rec, err := r.Get(ctx, "/persist/a"); err != nil || rec == nil || rec.Created != 7 {
		t.Errorf("persisted record after reopen = %+v, %v", rec, err)
	}
	if rec, err := r.Get(ctx, "/volatile/b"); err != nil || rec != nil {
		t.Errorf("in-memory record after reopen = %+v, %v; want gone", rec, err)
	}
}

func TestOpenFromYAMLConfig(t *testing.T) {
	raw := `
services:
  data:
    config:
      datastores:
        - name: a
          provider: mem
          patterns: ["/a/*"]
        - name: b
          isDefault: true
          settings:
            filename: ` + filepath.Join(t.TempDir(), "b.db") + `
          provider: bolt
`
	var cfg happnConfig
	if err := yaml.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	r, err := Open(cfg.Services.Data.Config.Datastores, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.DefaultName() != "b" {
		t.Errorf("default = %q, want b", r.DefaultName())
	}
	if name, _ := r.Route("/a/x"); name != "a" {
		t.Errorf("/a/x routed to %q", name)
	}
	if _, ok := r.Datastore("b").(*bolt.Store); !ok {
		t.Errorf("datastore b is %T", r.Datastore("b"))
	}
}

func TestOpenDefaultsAndErrors(t *testing.T) {
	r, err := Open(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.DefaultName() != "default" {
		t.Errorf("default datastore = %q", r.DefaultName())
	}
	if _, ok := r.Datastore("default").(*memory.Store); !ok {
		t.Errorf("default datastore is %T, want memory", r.Datastore("default"))
	}
	r.Close()

	_, err = Open([]store.DatastoreConfig{{Name: "m", Provider: "happn-db-provider-couch"}}, Options{})
	if !errors.Is(err, store.ErrUnknownProvider) || !strings.Contains(err.Error(), "unknown datastore provider: happn-db-provider-couch") {
		t.Errorf("unknown provider: err = %v", err)
	}
	// A plugged-in provider is used ahead of the built-in names.
	var seen store.DatastoreConfig
	r, err = Open([]store.DatastoreConfig{{Name: "pg", Provider: "Postgres", Settings: map[string]any{"url": "x"}}}, Options{
		Providers: map[string]store.Opener{"postgres": func(c store.DatastoreConfig) (store.Store, error) {
			seen = c
			return memory.New(), nil
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if seen.Name != "pg" || seen.Settings["url"] != "x" {
		t.Errorf("plugged-in opener got %+v", seen)
	}
}

func mustJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
