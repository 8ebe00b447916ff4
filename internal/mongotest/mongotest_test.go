package mongotest

import (
	"context"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// connect returns a client of rawURL, closed when t ends.
func connect(t *testing.T, rawURL string) *mongo.Client {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(rawURL).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	return c
}

func TestStartGivesEachTestItsOwnDatabase(t *testing.T) {
	ctx := context.Background()
	var first DB
	t.Run("one", func(t *testing.T) {
		first = Start(t)
		coll := connect(t, first.URL).Database(first.Database).Collection("c")
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "path", Value: "/x"}}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("two", func(t *testing.T) {
		second := Start(t)
		if second.Database == first.Database {
			t.Fatalf("both tests got database %s", first.Database)
		}
		if second.URL != first.URL {
			t.Errorf("one test binary, two servers: %s and %s", first.URL, second.URL)
		}
		// The first test's database was dropped when it ended.
		names, err := connect(t, second.URL).ListDatabaseNames(ctx, bson.D{{Key: "name", Value: first.Database}})
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 0 {
			t.Errorf("database %s still exists after its test: %v", first.Database, names)
		}
	})
	if s := first.Settings("coll"); s["url"] != first.URL || s["database"] != first.Database || s["collection"] != "coll" {
		t.Errorf("Settings = %v", s)
	}
}

func TestServerStopRestartKeepsData(t *testing.T) {
	ctx := context.Background()
	srv := NewServer(t)
	if !IsFerretDB(t, srv.URL()) {
		t.Fatal("NewServer did not start FerretDB")
	}
	coll := connect(t, srv.URL()).Database("keep").Collection("c")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "path", Value: "/kept"}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := coll.FindOne(short, bson.D{}).Err()
	cancel()
	if err == nil {
		t.Fatal("a stopped server answered")
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	var doc bson.M
	if err := coll.FindOne(ctx, bson.D{}).Decode(&doc); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if doc["path"] != "/kept" {
		t.Errorf("after restart the document is %v", doc)
	}
}
