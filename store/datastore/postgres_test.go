package datastore

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/happner-go/happner/internal/pgtest"
	"github.com/happner-go/happner/store"
)

// A happn datastore config naming the postgres provider opens the shared
// PostgreSQL store, routed beside an in-memory one.
func TestOpenPostgresFromConfig(t *testing.T) {
	dsn := pgtest.Start(t)
	r, err := Open([]store.DatastoreConfig{
		{Name: "shared", Provider: "postgres", IsDefault: true, Settings: map[string]any{"url": dsn, "table": "routed"}},
		{Name: "local", Provider: "memory", Patterns: []string{"/mesh/schema/*"}},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	if _, err := r.Set(ctx, "/data/x", json.RawMessage(`{"v":1}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Set(ctx, "/mesh/schema/description", json.RawMessage(`{"name":"m"}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if name, _ := r.Route("/data/x"); name != "shared" {
		t.Fatalf("/data/x routed to %s", name)
	}
	rec, err := r.Datastore("shared").Get(ctx, "/data/x")
	if err != nil || rec == nil || string(rec.Data) != `{"v":1}` {
		t.Fatalf("postgres record: %+v %v", rec, err)
	}
	if rec, _ := r.Datastore("shared").Get(ctx, "/mesh/schema/description"); rec != nil {
		t.Fatal("the member-local path reached the shared store")
	}
}
