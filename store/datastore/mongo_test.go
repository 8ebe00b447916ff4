package datastore

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/happner-go/happner/internal/mongotest"
	"github.com/happner-go/happner/internal/pgtest"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/mongo"
)

// TestMain stops the tests' private PostgreSQL and FerretDB servers.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	mongotest.StopShared()
	os.Exit(code)
}

// Every provider name of happn's MongoDB provider opens the MongoDB store,
// with happn-db-provider-mongo's settings.
func TestOpenMongoFromConfig(t *testing.T) {
	db := mongotest.Start(t)
	for _, provider := range []string{"mongo", "mongodb", "happn-db-provider-mongo", "happn-service-mongo-2", "Happn-Service-Mongo-2"} {
		t.Run(provider, func(t *testing.T) {
			r, err := Open([]store.DatastoreConfig{
				{Name: "mongo", Provider: provider, IsDefault: true, Settings: db.Settings("routed")},
				{Name: "local", Provider: "memory", Patterns: []string{"/mesh/schema/*"}},
			}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			if _, ok := r.Datastore("mongo").(*mongo.Store); !ok {
				t.Fatalf("datastore mongo is %T", r.Datastore("mongo"))
			}
			ctx := context.Background()
			if _, err := r.Set(ctx, "/data/"+provider, json.RawMessage(`{"v":1}`), store.SetOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Set(ctx, "/mesh/schema/description", json.RawMessage(`{"name":"m"}`), store.SetOptions{}); err != nil {
				t.Fatal(err)
			}
			rec, err := r.Datastore("mongo").Get(ctx, "/data/"+provider)
			if err != nil || rec == nil || string(rec.Data) != `{"v":1}` {
				t.Fatalf("mongo record: %+v %v", rec, err)
			}
			if rec, _ := r.Datastore("mongo").Get(ctx, "/mesh/schema/description"); rec != nil {
				t.Fatal("the member-local path reached the shared store")
			}
		})
	}
	// All of them wrote to the configured collection of one database.
	r, err := Open([]store.DatastoreConfig{{Name: "m", Provider: "mongo", Settings: db.Settings("routed")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.Count(context.Background(), "/data/*", nil); err != nil || n != 5 {
		t.Errorf("records in the routed collection = %d, %v; want 5", n, err)
	}
}
