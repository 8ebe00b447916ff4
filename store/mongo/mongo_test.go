package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/happner-go/happner/internal/mongotest"
	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
	"github.com/happner-go/happner/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(mongotest.Main(m)) }

// openTest opens a store on a fresh database of the tests' server, closed
// when t ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, _ := openTestDB(t)
	return s
}

// openTestDB is openTest that also returns the database.
func openTestDB(t testing.TB) (*Store, mongotest.DB) {
	t.Helper()
	db := mongotest.Start(t)
	s, err := Open(context.Background(), Options{URL: db.URL, Database: db.Database})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, db
}

// docMap returns the fields of a document by name.
func docMap(d bson.D) map[string]any {
	m := make(map[string]any, len(d))
	for _, e := range d {
		m[e.Key] = e.Value
	}
	return m
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t) })
}

// openOpts opens a store with opts on a fresh database unless opts names
// one, closed when t ends.
func openOpts(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.URL == "" {
		db := mongotest.Start(t)
		opts.URL, opts.Database = db.URL, db.Database
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// rawDocs returns the documents of the store's collection as the server
// holds them, in path order.
func rawDocs(t *testing.T, s *Store) []bson.D {
	t.Helper()
	cur, err := s.coll.Find(context.Background(), bson.D{}, options.Find().SetSort(bson.D{{Key: "path", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.D
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Options{URL: "mongodb://u:secret@localhost:notaport/x"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open with a bad URL: err = %v, want an error that hides the password", err)
	}
	for _, db := range []string{"a/b", "a.b", "a b", "a$"} {
		if _, err := Open(ctx, Options{Database: db}); err == nil || !strings.Contains(err.Error(), "invalid database name") {
			t.Errorf("Open with database %q: err = %v", db, err)
		}
	}
	for _, c := range []string{"system.x", "a$b"} {
		if _, err := Open(ctx, Options{Collection: c}); err == nil || !strings.Contains(err.Error(), "invalid collection name") {
			t.Errorf("Open with collection %q: err = %v", c, err)
		}
	}
	if _, err := Open(ctx, Options{PoolSize: -1}); err == nil {
		t.Error("Open with a negative pool size: want an error")
	}
	// Nothing listens on port 1: the server is unavailable.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err := Open(cctx, Options{URL: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500&connectTimeoutMS=500"})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open with no server: err = %v, want store.ErrUnavailable", err)
	}
}

func TestOptionsFromSettings(t *testing.T) {
	def := Options{URL: "mongodb://default", Database: "d0", Collection: "c0", PoolSize: 3}
	cases := []struct {
		settings map[string]any
		want     Options
		err      string
	}{
		{nil, def, ""},
		{map[string]any{"url": "mongodb://h:1", "database": "db", "collection": "c", "poolSize": 10.0},
			Options{URL: "mongodb://h:1", Database: "db", Collection: "c", PoolSize: 10}, ""},
		{map[string]any{"opts": map[string]any{"collection": "fromopts"}}, Options{URL: "mongodb://default", Database: "d0", Collection: "fromopts", PoolSize: 3}, ""},
		{map[string]any{"opts": map[string]any{"collection": "x"}, "collection": "wins"}, Options{URL: "mongodb://default", Database: "d0", Collection: "wins", PoolSize: 3}, ""},
		{map[string]any{"poolSize": 2}, Options{URL: "mongodb://default", Database: "d0", Collection: "c0", PoolSize: 2}, ""},
		{map[string]any{"url": 5.0}, def, "settings.url must be a string"},
		{map[string]any{"database": true}, def, "settings.database must be a string"},
		{map[string]any{"collection": []any{}}, def, "settings.collection must be a string"},
		{map[string]any{"poolSize": "ten"}, def, "settings.poolSize must be a number"},
		{map[string]any{"poolSize": 0.0}, def, "positive integer"},
		{map[string]any{"poolSize": 2.5}, def, "positive integer"},
	}
	for _, c := range cases {
		got, err := OptionsFromSettings(c.settings, def)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("OptionsFromSettings(%v): err = %v, want %q", c.settings, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("OptionsFromSettings(%v) = %+v, %v; want %+v", c.settings, got, err, c.want)
		}
	}
}

func TestOpenerUsesDatastoreSettings(t *testing.T) {
	db := mongotest.Start(t)
	open := Opener(Options{})
	st, err := open(store.DatastoreConfig{Name: "shared", Provider: "happn-db-provider-mongo", Settings: db.Settings("from_settings")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := st.(*Store)
	if s.coll.Database().Name() != db.Database || s.coll.Name() != "from_settings" {
		t.Errorf("store uses %s.%s, want %s.from_settings", s.coll.Database().Name(), s.coll.Name(), db.Database)
	}
	if _, err := s.Set(context.Background(), "/x", json.RawMessage(`{"a":1}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if docs := rawDocs(t, s); len(docs) != 1 {
		t.Errorf("documents in from_settings: %v", docs)
	}
	if _, err := open(store.DatastoreConfig{Name: "bad", Settings: map[string]any{"poolSize": "x"}}); err == nil || !strings.Contains(err.Error(), `datastore "bad"`) {
		t.Errorf("Opener with bad settings: err = %v, want an error naming the datastore", err)
	}
}

// TestDefaultsAreHappnCluster checks the defaults happner-cluster's shared
// datastore uses.
func TestDefaultsAreHappnCluster(t *testing.T) {
	db := mongotest.Start(t)
	s := openOpts(t, Options{URL: db.URL})
	if s.coll.Database().Name() != "happn-cluster" || s.coll.Name() != "happn-cluster" {
		t.Errorf("defaults: %s.%s", s.coll.Database().Name(), s.coll.Name())
	}
	// this test wrote into a database it did not create: drop it
	t.Cleanup(func() { _ = s.coll.Database().Drop(context.Background()) })
}

// TestDocumentLayout checks the documents the store writes, field by field
// and type by type, against the layout of happn-db-provider-mongo.
func TestDocumentLayout(t *testing.T) {
	s, db := openTestDB(t)
	ctx := context.Background()
	if _, err := s.Set(ctx, "/layout/a", json.RawMessage(`{"n":1,"f":2.5,"s":"x","o":{"k":[1,true,null]}}`), store.SetOptions{Now: 1700000000123, ModifiedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set(ctx, "/layout/b", json.RawMessage(`{"v":1}`), store.SetOptions{Now: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "/layout/c", "hits", 2); err != nil {
		t.Fatal(err)
	}
	docs := rawDocs(t, s)
	if len(docs) != 3 {
		t.Fatalf("documents: %v", docs)
	}
	a := docMap(docs[0])
	if _, ok := a["_id"].(bson.ObjectID); !ok {
		t.Errorf("_id is %T, want an ObjectId", a["_id"])
	}
	if a["path"] != "/layout/a" || a["created"] != 1700000000123.0 || a["modified"] != 1700000000123.0 || a["modifiedBy"] != "alice" {
		t.Errorf("record fields: %v", a)
	}
	data, ok := a["data"].(bson.D)
	if !ok {
		t.Fatalf("data is %T, want an embedded document", a["data"])
	}
	want := bson.D{{Key: "n", Value: int32(1)}, {Key: "f", Value: 2.5}, {Key: "s", Value: "x"},
		{Key: "o", Value: bson.D{{Key: "k", Value: bson.A{int32(1), true, nil}}}}}
	if !reflect.DeepEqual(data, want) {
		t.Errorf("data = %#v\nwant %#v", data, want)
	}
	keys := map[string]bool{}
	for _, e := range docs[0] {
		keys[e.Key] = true
	}
	for k := range keys {
		switch k {
		case "_id", "path", "data", "created", "modified", "modifiedBy":
		default:
			t.Errorf("unexpected field %q", k)
		}
	}
	if _, has := docMap(docs[1])["modifiedBy"]; has {
		t.Errorf("a write without a writer stored modifiedBy: %v", docs[1])
	}
	c := docMap(docs[2])
	if c["created"] != c["modified"] || docMap(docMap(c["data"].(bson.D))["hits"].(bson.D))["value"] != 2.0 {
		t.Errorf("incremented record: %v", docs[2])
	}
	// the unique index on path, named as the Node.js driver names it
	cur, err := s.coll.Indexes().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var idx []bson.M
	if err := cur.All(ctx, &idx); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ix := range idx {
		if ix["name"] == "path_1" && ix["unique"] == true {
			found = true
		}
	}
	if !found {
		t.Errorf("no unique index path_1: %v", idx)
	}
	// Opening again on an existing collection keeps the index and the data.
	again := openOpts(t, Options{URL: db.URL, Database: db.Database})
	if rec, err := again.Get(ctx, "/layout/b"); err != nil || rec == nil {
		t.Errorf("Get after reopening = %v, %v", rec, err)
	}
}

// TestReadsNodeDocuments reads documents written as the Node.js provider
// writes them: an ObjectId, doubles for the times, int32 and double data,
// dates, and modifiedBy only when known.
func TestReadsNodeDocuments(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	when := time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC)
	_, err := s.coll.InsertMany(ctx, []any{
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "path", Value: "/node/1"},
			{Key: "data", Value: bson.D{{Key: "count", Value: int32(3)}, {Key: "ratio", Value: 0.25}, {Key: "at", Value: bson.NewDateTimeFromTime(when)},
				{Key: "list", Value: bson.A{"a", int32(2)}}}},
			{Key: "modified", Value: 1700000000999.0}, {Key: "modifiedBy", Value: "_ADMIN"}, {Key: "created", Value: 1700000000000.0}},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "path", Value: "/node/2"},
			{Key: "data", Value: bson.D{{Key: "value", Value: "wrapped"}}}, {Key: "created", Value: int64(7)}, {Key: "modified", Value: int32(8)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(ctx, "/node/1")
	if err != nil || rec == nil {
		t.Fatalf("Get = %v, %v", rec, err)
	}
	if string(rec.Data) != `{"count":3,"ratio":0.25,"at":"2024-01-02T03:04:05.006Z","list":["a",2]}` ||
		rec.Created != 1700000000000 || rec.Modified != 1700000000999 || rec.ModifiedBy != "_ADMIN" {
		t.Errorf("Get = %+v data %s", rec, rec.Data)
	}
	recs, err := s.Find(ctx, "/node/*", nil)
	if err != nil || len(recs) != 2 || recs[1].Created != 7 || recs[1].Modified != 8 || string(recs[1].Data) != `{"value":"wrapped"}` {
		t.Fatalf("Find = %v, %v", recs, err)
	}
	// A merge keeps the document's _id, created and the keys it does not set.
	before := docMap(rawDocs(t, s)[0])["_id"]
	rec, err = s.Set(ctx, "/node/1", json.RawMessage(`{"count":4}`), store.SetOptions{Merge: true, Now: 1700000001000})
	if err != nil {
		t.Fatal(err)
	}
	if string(rec.Data) != `{"count":4,"ratio":0.25,"at":"2024-01-02T03:04:05.006Z","list":["a",2]}` || rec.Created != 1700000000000 {
		t.Errorf("merge result %+v data %s", rec, rec.Data)
	}
	if after := docMap(rawDocs(t, s)[0])["_id"]; after != before {
		t.Errorf("merge changed _id from %v to %v", before, after)
	}
}

// TestPatternRegex checks the translation of data patterns and that
// characters special to regular expressions are taken literally.
func TestPatternRegex(t *testing.T) {
	cases := map[string]any{
		"/a/b":    "/a/b",
		"/a/*":    bson.Regex{Pattern: `^/a/`},
		"/a/**":   bson.Regex{Pattern: `^/a/`},
		"*b":      bson.Regex{Pattern: `^[\s\S]*b\z`},
		"/a/*/c":  bson.Regex{Pattern: `^/a/[\s\S]*/c\z`},
		"/a.b(*":  bson.Regex{Pattern: `^/a\.b\(`},
		"a**b*c*": bson.Regex{Pattern: `^a[\s\S]*b[\s\S]*c`},
	}
	for pattern, want := range cases {
		if got := pathFilter(pattern); got.Key != "path" || !reflect.DeepEqual(got.Value, want) {
			t.Errorf("pathFilter(%q) = %v, want %v", pattern, got, want)
		}
	}
	if got := pathFilter("**"); got.Key != "" {
		t.Errorf("pathFilter(**) = %v, want no condition", got)
	}
	s := openTest(t)
	ctx := context.Background()
	for _, p := range []string{"/a.b/x", "/axb/x", "/a(b)/[c]", "/a+b/x\ny", "/$^|?/z", "/a/b\n"} {
		if _, err := s.Set(ctx, p, json.RawMessage(`{}`), store.SetOptions{Now: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for pattern, want := range map[string][]string{
		"/a.b/*":  {"/a.b/x"},
		"/a(b)/*": {"/a(b)/[c]"},
		"*[c]":    {"/a(b)/[c]"},
		"/a+b/*y": {"/a+b/x\ny"},
		"/$^|?/*": {"/$^|?/z"},
		"/a/b":    nil,
		"/a/b\n":  {"/a/b\n"},
		"/a*/b\n": {"/a/b\n"},
		"*x":      {"/a.b/x", "/axb/x"},
		"/a*b*":   {"/a(b)/[c]", "/a+b/x\ny", "/a.b/x", "/a/b\n", "/axb/x"},
	} {
		recs, err := s.Find(ctx, pattern, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, r := range recs {
			got = append(got, r.Path)
		}
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Find(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// TestTranslationKinds pins which criteria run in MongoDB exactly, which
// are narrowed in MongoDB and finished in Go, and which run in Go only.
func TestTranslationKinds(t *testing.T) {
	cases := map[string]kind{
		`{"name":"a"}`:                           exact,
		`{"n":{"$gt":1},"ok":true}`:              exact,
		`{"$or":[{"a":1},{"b":{"$in":[1,2]}}]}`:  exact,
		`{"_meta.created":{"$lt":5}}`:            exact,
		`{"a":{"$regex":"x","$options":"i"}}`:    exact,
		`{"a.b.0":1}`:                            exact,
		`{"a":{"$elemMatch":{"b":1}}}`:           none,
		`{"a":{"$elemMatch":{"$gt":1,"$lt":3}}}`: exact,
		`{"$not":{"a":1}}`:                       exact,
		`{"a":{"$not":{"$size":2}}}`:             exact,
		`{"a":{"$exists":false}}`:                exact,
		`{"a":{"$all":["x","y"]}}`:               exact,
		`{"a":{"$containsAny":["x"]}}`:           none,
		`{"a":{"k":1}}`:                          none,
		`{"a":{"$in":[{"k":1}]}}`:                none,
		`{"a":{"$gt":true}}`:                     none,
		`{"_id":"x"}`:                            none,
		`{"timestamp":1}`:                        none,
		`{"a":1,"b":{"$contains":"x"}}`:          superset,
		`{"$or":[{"a":1,"b":{"k":2}},{"d":3}]}`:  superset,
		`{"$or":[{"a":1},{"b":{"k":2}}]}`:        none,
		`{"$not":{"a":1,"b":{"k":2}}}`:           none,
		`{"a":{"$elemMatch":{"$ne":1}}}`:         none,
	}
	for crit, want := range cases {
		q, err := query.Parse(json.RawMessage(`{"criteria":` + crit + `}`))
		if err != nil {
			t.Fatalf("%s: %v", crit, err)
		}
		d, k := translate(q.Filter, true)
		if k != want {
			t.Errorf("%s: kind %d, want %d (filter %v)", crit, k, want, d)
		}
	}
}

func TestMergeAndIncrementEdges(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	if _, err := s.Set(ctx, "/m", json.RawMessage(`{"a":1}`), store.SetOptions{Now: 1}); err != nil {
		t.Fatal(err)
	}
	for _, patch := range []string{`{"a.b":1}`, `{"$x":1}`, `{"":1}`} {
		_, err := s.Set(ctx, "/m", json.RawMessage(patch), store.SetOptions{Merge: true})
		if !errors.Is(err, store.ErrNotObject) || !strings.Contains(err.Error(), "merge cannot set the key") {
			t.Errorf("merge of %s: err = %v", patch, err)
		}
	}
	rec, err := s.Set(ctx, "/m", json.RawMessage(`{}`), store.SetOptions{Merge: true, Now: 2})
	if err != nil || string(rec.Data) != `{"a":1}` || rec.Created != 1 || rec.Modified != 2 {
		t.Errorf("empty merge = %+v, %v", rec, err)
	}
	rec, err = s.Set(ctx, "/m/new", json.RawMessage(`{}`), store.SetOptions{Merge: true, Now: 3})
	if err != nil || string(rec.Data) != `{}` || rec.Created != 3 {
		t.Errorf("empty merge creating = %+v, %v", rec, err)
	}
	for _, gauge := range []string{"a.b", "$x"} {
		if _, err := s.Increment(ctx, "/m", gauge, 1); err == nil {
			t.Errorf("Increment of gauge %q: want an error", gauge)
		}
	}
	// a null value inside the gauge counts as 0, like a null gauge
	if _, err := s.Set(ctx, "/g", json.RawMessage(`{"g":{"value":null,"unit":"ms"},"h":"text"}`), store.SetOptions{Now: 1}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Increment(ctx, "/g", "g", 2.5); err != nil || v != 2.5 {
		t.Errorf("increment of a null value = %v, %v", v, err)
	}
	if v, err := s.Increment(ctx, "/g", "g", 1); err != nil || v != 3.5 {
		t.Errorf("second increment = %v, %v", v, err)
	}
	if _, err := s.Increment(ctx, "/g", "h", 1); err == nil || !strings.Contains(err.Error(), "not an object with a numeric value") {
		t.Errorf("increment of a string gauge: err = %v", err)
	}
	if rec, _ := s.Get(ctx, "/g"); string(rec.Data) != `{"g":{"value":3.5,"unit":"ms"},"h":"text"}` {
		t.Errorf("after increments: %s", rec.Data)
	}
}

// TestValuesTheServerRefuses checks how a document the server cannot store
// is reported: FerretDB 1.x refuses nested arrays and keys with '.' or a
// leading '$'; MongoDB stores them.
func TestValuesTheServerRefuses(t *testing.T) {
	s, db := openTestDB(t)
	ctx := context.Background()
	ferret := mongotest.IsFerretDB(t, db.URL)
	for _, data := range []string{`{"m":[[1,2],[3]]}`, `{"a.b":1}`} {
		rec, err := s.Set(ctx, "/refused", json.RawMessage(data), store.SetOptions{Now: 1})
		if ferret {
			if !errors.Is(err, store.ErrNotObject) || !strings.Contains(err.Error(), "refused") {
				t.Errorf("Set(%s) on FerretDB: err = %v, want a refusal wrapping ErrNotObject", data, err)
			}
			continue
		}
		if err != nil || rec == nil {
			t.Errorf("Set(%s) on MongoDB: %v", data, err)
		}
	}
}

func TestTwoStoresShareOneCollection(t *testing.T) {
	db := mongotest.Start(t)
	a := openOpts(t, Options{URL: db.URL, Database: db.Database})
	b := openOpts(t, Options{URL: db.URL, Database: db.Database})
	ctx := context.Background()
	if _, err := a.Set(ctx, "/shared/1", json.RawMessage(`{"from":"a"}`), store.SetOptions{Now: 7}); err != nil {
		t.Fatal(err)
	}
	rec, err := b.Get(ctx, "/shared/1")
	if err != nil || rec == nil || string(rec.Data) != `{"from":"a"}` || rec.Created != 7 {
		t.Fatalf("Get through a second store = %+v, %v; want the record written by the first", rec, err)
	}
}

// aggregateFixture is the data of happn-db-provider-mongo's aggregation
// tests: ten items in two groups with differently cased names, and two
// outside the searched path.
func aggregateFixture(t *testing.T, s store.Store) {
	t.Helper()
	custom := []string{"Odd", "Even", "odd", "even", "ODD", "EVEN", "odD", "EVen", "odd", "even"}
	for i, c := range custom {
		group := "odd"
		if (i+1)%2 == 0 {
			group = "even"
		}
		data := fmt.Sprintf(`{"group":%q,"custom":%q,"id":%d}`, group, c, i+1)
		if _, err := s.Set(context.Background(), fmt.Sprintf("/searches-and-aggregation/%d", i+1), json.RawMessage(data), store.SetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []int{11, 12} {
		data := fmt.Sprintf(`{"group":"even","custom":"even","id":%d}`, id)
		if _, err := s.Set(context.Background(), fmt.Sprintf("/other/searches-and-aggregation/%d", id), json.RawMessage(data), store.SetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAggregate(t *testing.T) {
	s, db := openTestDB(t)
	aggregateFixture(t, s)
	ctx := context.Background()
	q, err := query.Parse(json.RawMessage(`{"criteria":{"data.group":{"$eq":"odd"}},
		"aggregate":[{"$group":{"_id":"$data.custom","total":{"$sum":"$data.id"}}},{"$sort":{"total":1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Aggregate(ctx, "/searches-and-aggregation/*", q)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"_id":"Odd","total":1},{"_id":"ODD","total":5},{"_id":"odD","total":7},{"_id":"odd","total":12}]`
	if string(out) != want {
		t.Errorf("Aggregate = %s\nwant %s", out, want)
	}
	// The path pattern applies: /other/... is outside it.
	q, _ = query.Parse(json.RawMessage(`{"aggregate":[{"$count":"n"}]}`))
	if out, err := s.Aggregate(ctx, "/searches-and-aggregation/*", q); err != nil || string(out) != `[{"n":10}]` {
		t.Errorf("count stage = %s, %v", out, err)
	}
	if out, err := s.Aggregate(ctx, "/nothing/*", q); err != nil || string(out) != `[]` {
		t.Errorf("aggregate over nothing = %s, %v", out, err)
	}
	// Through a router, and refused by a store that cannot aggregate.
	r, err := store.NewRouter([]store.Route{{Name: "mongo", Store: s}, {Name: "mem", Store: memory.New(), Patterns: []string{"/mem/*"}}}, "mongo")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := store.Aggregate(ctx, r, "/searches-and-aggregation/*", q); err != nil || string(out) != `[{"n":10}]` {
		t.Errorf("through the router = %s, %v", out, err)
	}
	if _, err := store.Aggregate(ctx, r, "/mem/*", q); !errors.Is(err, query.ErrAggregate) {
		t.Errorf("aggregate on the memory store: err = %v, want query.ErrAggregate", err)
	}
	// Criteria MongoDB does not run, and pipelines it refuses, are errors.
	q, _ = query.Parse(json.RawMessage(`{"criteria":{"custom":{"$containsAny":["O"]}},"aggregate":[{"$count":"n"}]}`))
	if _, err := s.Aggregate(ctx, "/searches-and-aggregation/*", q); err == nil {
		t.Error("aggregate with lokijs criteria: want an error")
	}
	q, _ = query.Parse(json.RawMessage(`{"aggregate":[{"$project":{"x":{"$nosuchop":1}}}]}`))
	if _, err := s.Aggregate(ctx, "/searches-and-aggregation/*", q); err == nil || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("aggregate with an unknown operator: err = %v, want the server's refusal", err)
	}
	// Stages that read outside the path, write, or run code are refused
	// before they reach the server: happn authorises a get by its path.
	for _, pipeline := range []string{
		`[{"$lookup":{"from":"happn-cluster","pipeline":[],"as":"all"}}]`,
		`[{"$unionWith":"happn-cluster"}]`,
		`[{"$out":"stolen"}]`,
		`[{"$merge":{"into":"stolen"}}]`,
		`[{"$facet":{"a":[{"$count":"n"}],"b":[{"$lookup":{"from":"x","as":"y","pipeline":[]}}]}}]`,
		`[{"$addFields":{"x":{"$function":{"body":"function(){return 1}","args":[],"lang":"js"}}}}]`,
		`[{"$group":{"_id":null,"x":{"$accumulator":{}}}}]`,
		`[{"$count":"n","$limit":1}]`,
	} {
		q, err := query.Parse(json.RawMessage(`{"aggregate":` + pipeline + `}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Aggregate(ctx, "/searches-and-aggregation/*", q); err == nil || !strings.Contains(err.Error(), "not allowed") && !strings.Contains(err.Error(), "one stage name") {
			t.Errorf("pipeline %s: err = %v, want a refusal", pipeline, err)
		}
	}
	q, _ = query.Parse(json.RawMessage(`{"aggregate":[{"$facet":{"n":[{"$count":"n"}],"ids":[{"$sort":{"data.id":-1}},{"$limit":2},{"$project":{"_id":0,"id":"$data.id"}}]}}]}`))
	out, err = s.Aggregate(ctx, "/searches-and-aggregation/*", q)
	if mongotest.IsFerretDB(t, db.URL) {
		// FerretDB 1.x implements no $facet: the allowed stage reached it
		if err == nil || !strings.Contains(err.Error(), "$facet") {
			t.Errorf("$facet on FerretDB = %s, %v; want its refusal of the stage", out, err)
		}
	} else if err != nil || string(out) != `[{"n":[{"n":10}],"ids":[{"id":10},{"id":9}]}]` {
		t.Errorf("$facet = %s, %v", out, err)
	}
}

// TestCollation runs happn-db-provider-mongo's case-insensitive count. On
// MongoDB it counts every casing; FerretDB 1.x implements no collation and
// refuses the query, which shows the option reaches the server.
func TestCollation(t *testing.T) {
	s, db := openTestDB(t)
	aggregateFixture(t, s)
	ctx := context.Background()
	q, err := query.Parse(json.RawMessage(`{"criteria":{"data.custom":{"$eq":"Odd"}},"options":{"collation":{"locale":"en_US","strength":1}}}`))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Count(ctx, "/searches-and-aggregation/*", q)
	if mongotest.IsFerretDB(t, db.URL) {
		if err == nil || !strings.Contains(err.Error(), "collation") {
			t.Errorf("Count with a collation on FerretDB = %d, %v; want FerretDB's refusal of the collation", n, err)
		}
	} else if err != nil || n != 5 {
		t.Errorf("case-insensitive Count = %d, %v; want 5", n, err)
	}
	// without the collation the comparison is case-sensitive
	q.Collation = nil
	if n, err := s.Count(ctx, "/searches-and-aggregation/*", q); err != nil || n != 1 {
		t.Errorf("case-sensitive Count = %d, %v; want 1", n, err)
	}
	for _, bad := range []string{`{"strength":1}`, `{"locale":5}`} {
		q.Collation = json.RawMessage(bad)
		if _, err := s.Find(ctx, "/searches-and-aggregation/*", q); err == nil || !strings.Contains(err.Error(), "invalid collation") {
			t.Errorf("collation %s: err = %v", bad, err)
		}
	}
	q, _ = query.Parse(json.RawMessage(`{"criteria":{"custom":{"$containsAny":["O"]}},"options":{"collation":{"locale":"en"}}}`))
	if _, err := s.Find(ctx, "/searches-and-aggregation/*", q); err == nil || !strings.Contains(err.Error(), "collation needs") {
		t.Errorf("collation with criteria run in Go: err = %v", err)
	}
	// The other stores refuse a collation rather than ignore it.
	q.Filter = nil
	if _, err := memory.New().Find(ctx, "/*", q); !errors.Is(err, query.ErrCollation) {
		t.Errorf("memory store with a collation: err = %v, want query.ErrCollation", err)
	}
}

func waitFor(t *testing.T, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", d, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestOutageAndRecovery(t *testing.T) {
	srv := mongotest.NewServer(t)
	ctx := context.Background()
	s := openOpts(t, Options{URL: srv.URL() + "?serverSelectionTimeoutMS=3000&connectTimeoutMS=1000", Database: "outage", PoolSize: 4})
	if _, err := s.Set(ctx, "/before", json.RawMessage(`{"v":1}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Every kind of call fails with ErrUnavailable and a clear message,
	// within the caller's deadline.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	agg, _ := query.Parse(json.RawMessage(`{"aggregate":[{"$count":"n"}]}`))
	goQuery, _ := query.Parse(json.RawMessage(`{"criteria":{"name":{"$containsAny":["x"]}}}`))
	calls := map[string]func() error{
		"Get": func() error { _, err := s.Get(cctx, "/before"); return err },
		"Set": func() error { _, err := s.Set(cctx, "/during", json.RawMessage(`{}`), store.SetOptions{}); return err },
		"Merge": func() error {
			_, err := s.Set(cctx, "/during", json.RawMessage(`{"a":1}`), store.SetOptions{Merge: true})
			return err
		},
		"Increment": func() error { _, err := s.Increment(cctx, "/during", "g", 1); return err },
		"Find":      func() error { _, err := s.Find(cctx, "/*", nil); return err },
		"Count":     func() error { _, err := s.Count(cctx, "/*", nil); return err },
		"Remove":    func() error { _, err := s.Remove(cctx, "/x/*", nil); return err },
		"RemoveGo":  func() error { _, err := s.Remove(cctx, "/x/*", goQuery); return err },
		"Aggregate": func() error { _, err := s.Aggregate(cctx, "/*", agg); return err },
	}
	// The first call waits the server selection timeout (3 s); once a call
	// has found the server unreachable the others fail at once, instead of
	// each waiting the timeout again while holding the path locks.
	first := true
	for name, call := range calls {
		began := time.Now()
		err := call()
		if took := time.Since(began); !first && took > time.Second {
			t.Errorf("%s during a known outage took %s, want a failure at once", name, took.Round(time.Millisecond))
		}
		first = false
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s during the outage: err = %v, want store.ErrUnavailable", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "cannot be reached") {
			t.Errorf("%s during the outage: message %q does not say the server cannot be reached", name, err)
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// The same store works again without being reopened.
	waitFor(t, 30*time.Second, func() error {
		_, err := s.Set(ctx, "/after", json.RawMessage(`{"v":2}`), store.SetOptions{})
		return err
	})
	rec, err := s.Get(ctx, "/before")
	if err != nil || rec == nil || string(rec.Data) != `{"v":1}` {
		t.Fatalf("Get after recovery = %+v, %v; want the record written before the outage", rec, err)
	}
	if n, err := s.Count(ctx, "/*", nil); err != nil || n != 2 {
		t.Fatalf("Count after recovery = %d, %v; want 2", n, err)
	}
}
