package mongo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/mongo"
)

// Open a happner-cluster database (happn-cluster.happn-cluster on a local
// MongoDB), write an item, search it with happn's criteria and run an
// aggregation pipeline, as an npm client's get with the aggregate option
// does. (It needs a server, so the example is compiled but not run.)
func ExampleOpen() {
	ctx := context.Background()
	s, err := mongo.Open(ctx, mongo.Options{URL: "mongodb://127.0.0.1:27017"})
	if err != nil {
		log.Fatal(err) // wraps store.ErrUnavailable when the server cannot be reached
	}
	defer s.Close()

	if _, err := s.Set(ctx, "/sensors/t1", json.RawMessage(`{"celsius":21,"site":"north"}`), store.SetOptions{ModifiedBy: "_ADMIN"}); err != nil {
		log.Fatal(err)
	}
	q, _ := query.Parse(json.RawMessage(`{"criteria":{"celsius":{"$gt":20}},"options":{"sort":{"_meta.modified":-1},"limit":10}}`))
	recs, err := s.Find(ctx, "/sensors/*", q)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range recs {
		fmt.Println(r.Path, string(r.Data))
	}

	agg, _ := query.Parse(json.RawMessage(`{"aggregate":[{"$group":{"_id":"$data.site","n":{"$sum":1}}}]}`))
	out, err := s.Aggregate(ctx, "/sensors/*", agg)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(out)) // [{"_id":"north","n":1}]
}

// A happn config names the provider as happner-cluster does; package
// store/datastore (used by happn.New and cluster.Create) opens it.
func ExampleOptionsFromSettings() {
	opts, err := mongo.OptionsFromSettings(map[string]any{
		"url": "mongodb://db1:27017,db2:27017/?replicaSet=rs0", "database": "happn-cluster", "poolSize": 20.0,
	}, mongo.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(opts.Database, opts.Collection == "", opts.PoolSize)
	// Output: happn-cluster true 20
}
