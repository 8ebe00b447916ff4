package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
)

func TestResolveProvider(t *testing.T) {
	file := map[string]any{"filename": "/tmp/x.db"}
	cases := []struct {
		provider string
		settings map[string]any
		want     string
	}{
		{"", nil, store.ProviderMemory},
		{"memory", file, store.ProviderMemory},
		{"mem", nil, store.ProviderMemory},
		{"MEM", nil, store.ProviderMemory},
		{"happn-db-provider-loki", nil, store.ProviderMemory},
		{"happn-db-provider-loki", map[string]any{"filename": ""}, store.ProviderMemory},
		{"happn-db-provider-loki", map[string]any{"filename": nil}, store.ProviderMemory},
		{"happn-db-provider-loki", file, store.ProviderBolt},
		{"happn-db-provider-nedb", file, store.ProviderBolt},
		{"loki", file, store.ProviderBolt},
		{"bolt", file, store.ProviderBolt},
	}
	for _, c := range cases {
		got, err := store.ResolveProvider(store.DatastoreConfig{Name: "d", Provider: c.provider, Settings: c.settings})
		if err != nil || got != c.want {
			t.Errorf("ResolveProvider(%q, %v) = %q, %v; want %q", c.provider, c.settings, got, err, c.want)
		}
	}
	_, err := store.ResolveProvider(store.DatastoreConfig{Name: "d", Provider: "happn-db-provider-couch"})
	if !errors.Is(err, store.ErrUnknownProvider) || err.Error() != "unknown datastore provider: happn-db-provider-couch" {
		t.Errorf("unknown provider: err = %v", err)
	}
	if _, err := store.ResolveProvider(store.DatastoreConfig{Name: "d", Provider: "bolt"}); err == nil || !strings.Contains(err.Error(), "settings.filename") {
		t.Errorf("bolt without a filename: err = %v", err)
	}
}

func TestDefaultDatastores(t *testing.T) {
	mem := store.DefaultDatastores("")
	if len(mem) != 1 || mem[0].Name != "default" || !mem[0].IsDefault {
		t.Fatalf("DefaultDatastores(\"\") = %+v", mem)
	}
	if k, err := store.ResolveProvider(mem[0]); err != nil || k != store.ProviderMemory {
		t.Errorf("default without a file resolves to %q, %v", k, err)
	}
	f := store.DefaultDatastores("/tmp/happn.db")
	if f[0].Filename() != "/tmp/happn.db" {
		t.Errorf("Filename = %q", f[0].Filename())
	}
	if k, err := store.ResolveProvider(f[0]); err != nil || k != store.ProviderBolt {
		t.Errorf("default with a file resolves to %q, %v", k, err)
	}
}

func TestOpenRouterErrors(t *testing.T) {
	if _, err := store.OpenRouter(nil, nil); err == nil {
		t.Error("OpenRouter without an opener: want an error")
	}
	opened := []*closeCounter{}
	open := func(c store.DatastoreConfig) (store.Store, error) {
		if c.Provider == "broken" {
			return nil, errors.New("cannot open")
		}
		cc := &closeCounter{Store: memory.New()}
		opened = append(opened, cc)
		return cc, nil
	}
	_, err := store.OpenRouter([]store.DatastoreConfig{{Name: "a"}, {Name: "b", Provider: "broken"}}, open)
	if err == nil || !strings.Contains(err.Error(), `datastore "b"`) || !strings.Contains(err.Error(), "cannot open") {
		t.Errorf("failing opener: err = %v", err)
	}
	if len(opened) != 1 || opened[0].closes != 1 {
		t.Errorf("the datastore opened before the failure was not closed once: %+v", opened)
	}
	for _, cfgs := range [][]store.DatastoreConfig{{{Name: ""}}, {{Name: "a"}, {Name: "a"}}} {
		if _, err := store.OpenRouter(cfgs, open); err == nil {
			t.Errorf("OpenRouter(%+v): want an error", cfgs)
		}
	}
	r, err := store.OpenRouter([]store.DatastoreConfig{{Name: "a"}, {Name: "b", IsDefault: true}, {Name: "c", IsDefault: true}}, open)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.DefaultName() != "b" {
		t.Errorf("default = %q, want b (the first flagged)", r.DefaultName())
	}
}
