// Package mongo is the happn datastore on MongoDB, the shared store of a
// happner-cluster deployment. It reads and writes the collection that the
// Node.js provider happn-db-provider-mongo (formerly happn-service-mongo-2)
// uses, in the same layout, so JavaScript happn-3 / happner-cluster nodes
// and Go nodes can share one database, or a Go node can take over an
// existing one:
//
//	{
//	  _id:        ObjectId,  // made by the server
//	  path:       string,    // unique index {path: 1} ("path_1")
//	  data:       document,  // the happn item's data
//	  created:    number,    // ms since the epoch (a double, as Node.js writes it)
//	  modified:   number,
//	  modifiedBy: string     // the writer's username, when known
//	}
//
// The database and collection default to "happn-cluster", the ones
// happner-cluster uses; the server to mongodb://127.0.0.1:27017.
//
// Data converts between JSON and BSON as the Node.js driver does (see
// bsonjson.go): numbers that are integers in the int32 range are int32,
// others doubles, and what the store reads back is what JSON.stringify
// would print for the document the Node.js provider reads.
//
// Queries run in MongoDB: a path pattern becomes an anchored regular
// expression on path (its literal prefix is an index range), happn's
// criteria (MongoDB's query language) become the filter, and sort, skip,
// limit and projection become the query's options. Criteria MongoDB would
// evaluate differently from the other stores (lokijs operators such as
// $containsAny, equality with embedded documents, comparisons with
// booleans, conditions on _id) narrow nothing in MongoDB and run in Go
// with store.Refine; sort and paging then run in Go too.
//
// Merge ($set of data.<key> for each key of the patch) and Increment ($inc
// of data.<gauge>.value) are single atomic updates in MongoDB. FerretDB 1.x
// applies updates as read-then-write, so the store also serialises its own
// writes of one path: no update made through one Store is ever lost on
// either server (writers in different processes rely on the server).
//
// The "aggregate" and "collation" query options that happn-3 supports only
// on MongoDB are run by [Store.Aggregate] and passed with every find, count
// and remove. A pipeline may only transform the documents of its path:
// stages that read other documents or collections, write, or run
// JavaScript on the server are refused. When the server cannot be reached, calls fail with an error
// wrapping store.ErrUnavailable; the driver reconnects by itself once it is
// back.
package mongo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// Defaults of happner-cluster's shared datastore.
const (
	DefaultURL        = "mongodb://127.0.0.1:27017"
	DefaultDatabase   = "happn-cluster"
	DefaultCollection = "happn-cluster"
)

// openTimeout bounds Open when called through an [Opener].
const openTimeout = 30 * time.Second

// defaultTimeout bounds server selection and connecting when the URL sets
// neither, so that an unreachable server is reported within seconds.
const defaultTimeout = 10 * time.Second

// stripes is the number of path locks that serialise a store's writes.
const stripes = 64

// Options configure a MongoDB store.
type Options struct {
	// URL is the MongoDB connection string; empty means [DefaultURL].
	URL string
	// Database and Collection name where the documents live; empty means
	// [DefaultDatabase] and [DefaultCollection].
	Database, Collection string
	// PoolSize is the maximum number of connections; 0 keeps the driver's
	// default (100).
	PoolSize int
}

// OptionsFromSettings reads the settings of a happn datastore config, as
// happn-db-provider-mongo does:
//
//	{"url": "mongodb://host:27017", "database": "happn-cluster", "collection": "happn-cluster", "poolSize": 10}
//
// Unset values keep those of defaults. The provider's own "opts" (options
// of the Node.js driver) are read for "collection" only, as the provider
// does; other driver options go in the URL.
func OptionsFromSettings(settings map[string]any, defaults Options) (Options, error) {
	o := defaults
	str := func(key string, dst *string) error {
		v, ok := settings[key]
		if !ok || v == nil {
			return nil
		}
		s, isStr := v.(string)
		if !isStr {
			return fmt.Errorf("mongo: settings.%s must be a string, got %T", key, v)
		}
		*dst = s
		return nil
	}
	if opts, ok := settings["opts"].(map[string]any); ok {
		if c, ok := opts["collection"].(string); ok && c != "" {
			o.Collection = c
		}
	}
	for key, dst := range map[string]*string{"url": &o.URL, "database": &o.Database, "collection": &o.Collection} {
		if err := str(key, dst); err != nil {
			return o, err
		}
	}
	n, err := store.PoolSizeSetting(settings)
	if err != nil {
		return o, fmt.Errorf("mongo: %w", err)
	}
	if n > 0 {
		o.PoolSize = n
	}
	return o, nil
}

// Opener returns a [store.Opener] for datastores whose provider is
// MongoDB: each datastore's settings (see [OptionsFromSettings]) override
// defaults, and Open is given 30 seconds.
func Opener(defaults Options) store.Opener {
	return store.SettingsOpener(defaults, OptionsFromSettings, Open, openTimeout)
}

// Store is a MongoDB [store.Store] and [store.Aggregator]. It is safe for
// concurrent use.
type Store struct {
	client *mongo.Client
	coll   *mongo.Collection
	closed atomic.Bool

	seed  maphash.Seed
	locks [stripes]sync.Mutex

	// down is set when an operation found the server unreachable, until a
	// probe reaches it again: meanwhile operations fail at once instead of
	// each waiting the driver's server selection timeout (and holding the
	// path locks while they wait, so that calls queue behind each other and
	// writes are made long after their callers gave up).
	down atomic.Bool
}

// probeInterval is how often an unreachable server is pinged.
const probeInterval = 250 * time.Millisecond

var (
	_ store.Store      = (*Store)(nil)
	_ store.Aggregator = (*Store)(nil)
)

// Open connects to the server and creates the unique index on path when it
// is missing (the one happn-db-provider-mongo creates, so either side may
// create the collection). It fails with an error wrapping
// store.ErrUnavailable when the server cannot be reached.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.URL == "" {
		opts.URL = DefaultURL
	}
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	if opts.Collection == "" {
		opts.Collection = DefaultCollection
	}
	if opts.PoolSize < 0 {
		return nil, fmt.Errorf("mongo: pool size %d is negative", opts.PoolSize)
	}
	if strings.ContainsAny(opts.Database, `/\. "$`+"\x00") {
		return nil, fmt.Errorf("mongo: invalid database name %q", opts.Database)
	}
	if strings.HasPrefix(opts.Collection, "system.") || strings.ContainsAny(opts.Collection, "$\x00") {
		return nil, fmt.Errorf("mongo: invalid collection name %q", opts.Collection)
	}
	co := options.Client().ApplyURI(opts.URL)
	if err := co.Validate(); err != nil {
		// The error may quote the URL, password included.
		return nil, errors.New("mongo: invalid connection URL (see the MongoDB connection string syntax)")
	}
	if co.ServerSelectionTimeout == nil {
		co.SetServerSelectionTimeout(defaultTimeout)
	}
	if co.ConnectTimeout == nil {
		co.SetConnectTimeout(defaultTimeout)
	}
	if opts.PoolSize > 0 {
		co.SetMaxPoolSize(uint64(opts.PoolSize))
	}
	// Like the Node.js provider, which puts the database in the URL, log in
	// to the database unless the URL names an authSource.
	if co.Auth != nil && !hasParam(opts.URL, "authSource") &&
		(co.Auth.AuthMechanism == "" || strings.HasPrefix(co.Auth.AuthMechanism, "SCRAM")) {
		co.Auth.AuthSource = opts.Database
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("mongo: creating the client: %w", err)
	}
	s := &Store{client: client, coll: client.Database(opts.Database).Collection(opts.Collection), seed: maphash.MakeSeed()}
	_, err = s.coll.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "path", Value: 1}},
		Options: options.Index().SetUnique(true),
	})
	if err != nil {
		err = s.wrap(ctx, "creating the unique index on path of "+opts.Database+"."+opts.Collection, err)
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return s, nil
}

// hasParam reports whether the query of a connection URL sets key
// (compared case-insensitively, as the driver does).
func hasParam(rawURL, key string) bool {
	_, q, ok := strings.Cut(rawURL, "?")
	if !ok {
		return false
	}
	values, err := url.ParseQuery(q)
	if err != nil {
		return false
	}
	for k := range values {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

// begin checks the context and the store's state before a call.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return store.ErrClosed
	}
	if s.down.Load() {
		return fmt.Errorf("%w: mongo: the server cannot be reached (its last operation failed; "+
			"the store tries it every %s and serves again as soon as it answers)", store.ErrUnavailable, probeInterval)
	}
	return nil
}

// markDown notes that the server cannot be reached and starts probing it.
func (s *Store) markDown() {
	if s.down.CompareAndSwap(false, true) {
		go s.probe()
	}
}

// probe pings the server until it answers (or the store closes), then
// lets operations through again.
func (s *Store) probe() {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for range t.C {
		if s.closed.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.client.Ping(ctx, nil)
		cancel()
		if err == nil {
			s.down.Store(false)
			return
		}
	}
}

// lock serialises writes of path within this store.
func (s *Store) lock(path string) func() {
	m := &s.locks[maphash.String(s.seed, path)%stripes]
	m.Lock()
	return m.Unlock
}

// recordFields is the projection of a whole record.
var recordFields = bson.D{{Key: "_id", Value: 0}, {Key: "path", Value: 1}, {Key: "data", Value: 1},
	{Key: "created", Value: 1}, {Key: "modified", Value: 1}, {Key: "modifiedBy", Value: 1}}

// Get returns the record at path, or nil.
func (s *Store) Get(ctx context.Context, path string) (*store.Record, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	raw, err := s.coll.FindOne(ctx, bson.D{{Key: "path", Value: path}},
		options.FindOne().SetProjection(recordFields)).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	if err != nil {
		return nil, s.wrap(ctx, "get "+path, err)
	}
	rec, err := decodeRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("mongo: get %s: %w", path, err)
	}
	return rec, nil
}

// Set writes data at path and returns the stored record. A merge sets each
// top-level key of data in the stored object in one update.
func (s *Store) Set(ctx context.Context, path string, data json.RawMessage, opts store.SetOptions) (*store.Record, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	now, err := store.CheckSet(ctx, path, data, opts)
	if err != nil {
		return nil, err
	}
	doc, err := jsonToBSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", store.ErrNotObject, err)
	}
	set := bson.D{{Key: "path", Value: path}}
	onInsert := bson.D{{Key: "created", Value: float64(now)}}
	if opts.Merge {
		elems, err := doc.Elements()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", store.ErrNotObject, err)
		}
		for _, e := range elems {
			k := e.Key()
			if k == "" || strings.Contains(k, ".") || strings.HasPrefix(k, "$") {
				return nil, fmt.Errorf("%w: a merge cannot set the key %q: MongoDB update paths cannot name keys that are empty, contain '.' or start with '$'", store.ErrNotObject, k)
			}
			set = append(set, bson.E{Key: "data." + k, Value: e.Value()})
		}
		if len(elems) == 0 {
			onInsert = append(onInsert, bson.E{Key: "data", Value: bson.D{}})
		}
	} else {
		set = append(set, bson.E{Key: "data", Value: doc})
	}
	set = append(set, bson.E{Key: "modified", Value: float64(now)})
	update := bson.D{{Key: "$setOnInsert", Value: onInsert}}
	if opts.ModifiedBy != "" {
		set = append(set, bson.E{Key: "modifiedBy", Value: opts.ModifiedBy})
	} else {
		update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "modifiedBy", Value: ""}}})
	}
	update = append(bson.D{{Key: "$set", Value: set}}, update...)

	unlock := s.lock(path)
	raw, err := s.upsert(ctx, path, update)
	unlock()
	if err != nil {
		if refused(err) {
			return nil, fmt.Errorf("%w: the server refused the document at %s: %w", store.ErrNotObject, path, err)
		}
		return nil, s.wrap(ctx, "set "+path, err)
	}
	rec := &store.Record{Path: path, Modified: now, ModifiedBy: opts.ModifiedBy}
	if rec.Created, err = int64Field(raw, "created"); err != nil {
		return nil, fmt.Errorf("mongo: set %s: %w", path, err)
	}
	if opts.Merge {
		if rec.Data, err = dataField(raw); err != nil {
			return nil, fmt.Errorf("mongo: set %s: %w", path, err)
		}
	} else {
		rec.Data = append(json.RawMessage(nil), data...)
	}
	return rec, nil
}

// upsert runs update on the document at path (creating it when absent) and
// returns the updated document (whole: FerretDB 1.x has no projection for
// findAndModify). A duplicate key error —
// two writers creating the same path at once — is retried once, as the
// Node.js provider does: the second attempt finds the document.
func (s *Store) upsert(ctx context.Context, path string, update bson.D) (bson.Raw, error) {
	opts := options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)
	filter := bson.D{{Key: "path", Value: path}}
	raw, err := s.coll.FindOneAndUpdate(ctx, filter, update, opts).Raw()
	if mongo.IsDuplicateKeyError(err) {
		raw, err = s.coll.FindOneAndUpdate(ctx, filter, update, opts).Raw()
	}
	return raw, err
}

// Increment atomically adds by to data[gauge].value at path and returns the
// new total ($inc in MongoDB). A gauge that is null, or whose value is
// null, counts as 0.
func (s *Store) Increment(ctx context.Context, path, gauge string, by float64) (float64, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	if path == "" {
		return 0, store.ErrEmptyPath
	}
	if gauge == "" {
		return 0, errors.New("store: empty gauge name")
	}
	if strings.Contains(gauge, ".") || strings.HasPrefix(gauge, "$") || strings.ContainsRune(gauge, 0) {
		return 0, fmt.Errorf("mongo: gauge name %q: MongoDB update paths cannot name keys that contain '.' or start with '$'", gauge)
	}
	if math.IsNaN(by) || math.IsInf(by, 0) {
		return 0, fmt.Errorf("store: increment by %v: not a finite number", by)
	}
	now := float64(store.WriteTime(store.SetOptions{}))
	field := "data." + gauge
	unlock := s.lock(path)
	defer unlock()
	for attempt := 0; ; attempt++ {
		raw, err := s.upsert(ctx, path, bson.D{
			{Key: "$inc", Value: bson.D{{Key: field + ".value", Value: by}}},
			{Key: "$set", Value: bson.D{{Key: "path", Value: path}, {Key: "modified", Value: now}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "created", Value: now}}},
		})
		if err == nil {
			v, lerr := raw.LookupErr("data", gauge, "value")
			f, ok := v.AsFloat64OK()
			if lerr != nil || !ok {
				return 0, fmt.Errorf("mongo: increment %s: the server returned no numeric gauge %q", path, gauge)
			}
			return f, nil
		}
		if !refused(err) || attempt == 2 {
			return 0, s.wrap(ctx, "increment "+path, err)
		}
		// $inc cannot add to null: a null gauge, or a null value, becomes
		// {value: by} if it is still null when the update runs.
		done, err := s.replaceNull(ctx, path, field, by, now)
		if err != nil {
			return 0, s.wrap(ctx, "increment "+path, err)
		}
		if done {
			return by, nil
		}
		rec, err := s.Get(ctx, path)
		if err != nil {
			return 0, err
		}
		if rec != nil {
			if _, _, err := store.AddToGauge(rec.Data, gauge, by); err != nil {
				return 0, fmt.Errorf("store: gauge %q of %s is not an object with a numeric value", gauge, path)
			}
		}
		// the gauge changed between the two updates: try again
	}
}

// replaceNull sets field (data.<gauge>) to {value: by} when it is null, or
// field.value to by when that is null, and reports whether it did.
func (s *Store) replaceNull(ctx context.Context, path, field string, by, now float64) (bool, error) {
	for _, u := range []struct {
		null string
		set  bson.E
	}{
		{field, bson.E{Key: field, Value: bson.D{{Key: "value", Value: by}}}},
		{field + ".value", bson.E{Key: field + ".value", Value: by}},
	} {
		res, err := s.coll.UpdateOne(ctx,
			bson.D{{Key: "path", Value: path}, {Key: u.null, Value: bson.D{{Key: "$type", Value: "null"}}}},
			bson.D{{Key: "$set", Value: bson.D{u.set, {Key: "modified", Value: now}}}})
		if err != nil {
			return false, err
		}
		if res.MatchedCount > 0 {
			return true, nil
		}
	}
	return false, nil
}

// plan is a Find, Count or Remove translated for MongoDB: the filter, and
// the sort, paging and projection when they run in MongoDB, and the part
// of the query left for Go.
type plan struct {
	filter  bson.D
	exact   bool // the filter is exact
	sort    bson.D
	skip    int64
	limit   int64
	proj    bson.D       // nil: whole records
	goQuery *query.Query // nil when MongoDB did everything
	coll    *options.Collation
}

// newPlan translates pattern and q.
func newPlan(pattern string, q *query.Query) (*plan, error) {
	p := &plan{exact: true, sort: bson.D{{Key: "path", Value: 1}}}
	var crit bson.D
	var goq query.Query
	if q != nil && q.Filter != nil {
		d, k := translate(q.Filter, true)
		if k != none {
			crit = d
		}
		if k != exact {
			p.exact = false
			goq.Filter = q.Filter
		}
	}
	// The path condition stays at the top level (an index range for MongoDB,
	// a pushed-down condition for FerretDB); the criteria, which may also
	// name path, go in $and beside it.
	if pf := pathFilter(pattern); pf.Key != "" {
		p.filter = bson.D{pf}
	} else {
		p.filter = bson.D{}
	}
	if len(crit) > 0 {
		p.filter = append(p.filter, bson.E{Key: "$and", Value: bson.A{crit}})
	}
	if q == nil {
		return p, nil
	}
	if q.Collation != nil {
		c, err := collation(q.Collation)
		if err != nil {
			return nil, err
		}
		p.coll = c
	}
	sortOK := false
	if p.exact { // paging in MongoDB needs the exact set of documents
		if len(q.Sort) == 0 {
			sortOK = true
		} else if spec, ok := sortSpec(q.Sort); ok {
			p.sort, sortOK = spec, true
		}
	}
	if sortOK {
		p.skip, p.limit = int64(q.Skip), int64(q.Limit)
		if q.Fields != nil || q.PathOnly {
			if proj, ok := projection(q); ok {
				p.proj = proj
			} else {
				goq.Fields = q.Fields
			}
		}
	} else {
		goq.Sort, goq.Skip, goq.Limit = q.Sort, q.Skip, q.Limit
		goq.Fields, goq.PathOnly = q.Fields, q.PathOnly
	}
	if goq.Filter != nil || goq.Sort != nil || goq.Skip > 0 || goq.Limit > 0 || goq.Fields != nil || goq.PathOnly {
		if p.coll != nil {
			return nil, errors.New("mongo: a collation needs criteria, sort and fields that MongoDB evaluates itself " +
				"(lokijs operators such as $containsAny, equality with objects and conditions on _id run outside MongoDB)")
		}
		p.goQuery = &goq
	}
	return p, nil
}

// collation reads a happn collation option ({"locale": "en", "strength":
// 1, …}, MongoDB's collation document).
func collation(raw json.RawMessage) (*options.Collation, error) {
	var c struct {
		Locale          *string `json:"locale"`
		CaseLevel       bool    `json:"caseLevel"`
		CaseFirst       string  `json:"caseFirst"`
		Strength        int     `json:"strength"`
		NumericOrdering bool    `json:"numericOrdering"`
		Alternate       string  `json:"alternate"`
		MaxVariable     string  `json:"maxVariable"`
		Normalization   bool    `json:"normalization"`
		Backwards       bool    `json:"backwards"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("mongo: invalid collation %s: %w", raw, err)
	}
	if c.Locale == nil || *c.Locale == "" {
		return nil, fmt.Errorf("mongo: invalid collation %s: locale is required", raw)
	}
	return &options.Collation{Locale: *c.Locale, CaseLevel: c.CaseLevel, CaseFirst: c.CaseFirst,
		Strength: c.Strength, NumericOrdering: c.NumericOrdering, Alternate: c.Alternate,
		MaxVariable: c.MaxVariable, Normalization: c.Normalization, Backwards: c.Backwards}, nil
}

// Find returns the records matching pattern and q.
func (s *Store) Find(ctx context.Context, pattern string, q *query.Query) ([]*store.Record, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	p, err := newPlan(pattern, q)
	if err != nil {
		return nil, err
	}
	recs, err := s.find(ctx, p)
	if err != nil {
		return nil, s.wrap(ctx, "find "+pattern, err)
	}
	if p.goQuery == nil {
		return recs, nil
	}
	return store.Refine(ctx, recs, p.goQuery, nil)
}

// find runs the MongoDB part of a plan.
func (s *Store) find(ctx context.Context, p *plan) ([]*store.Record, error) {
	fo := options.Find().SetSort(p.sort)
	if p.proj != nil {
		fo.SetProjection(p.proj)
	} else {
		fo.SetProjection(recordFields)
	}
	if p.skip > 0 {
		fo.SetSkip(p.skip)
	}
	if p.limit > 0 {
		fo.SetLimit(p.limit)
	}
	if p.coll != nil {
		fo.SetCollation(p.coll)
	}
	cur, err := s.coll.Find(ctx, p.filter, fo)
	if err != nil {
		return nil, err
	}
	defer cur.Close(context.WithoutCancel(ctx))
	recs := []*store.Record{}
	for cur.Next(ctx) {
		r, err := decodeRecord(cur.Current)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
	}
	return recs, cur.Err()
}

// filterPlan translates pattern and the parts of q that select records
// (its filter and collation), for Count and Remove.
func filterPlan(pattern string, q *query.Query) (*plan, *query.Query, error) {
	var filterOnly *query.Query
	if q != nil {
		filterOnly = &query.Query{Filter: q.Filter, Collation: q.Collation}
	}
	p, err := newPlan(pattern, filterOnly)
	return p, filterOnly, err
}

// Count returns how many records Find would return.
func (s *Store) Count(ctx context.Context, pattern string, q *query.Query) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	p, filterOnly, err := filterPlan(pattern, q)
	if err != nil {
		return 0, err
	}
	if !p.exact {
		recs, err := s.Find(ctx, pattern, filterOnly)
		if err != nil {
			return 0, err
		}
		start, end := q.Page(len(recs))
		return end - start, nil
	}
	co := options.Count()
	if q != nil && q.Skip > 0 {
		co.SetSkip(int64(q.Skip))
	}
	if q != nil && q.Limit > 0 {
		co.SetLimit(int64(q.Limit))
	}
	if p.coll != nil {
		co.SetCollation(p.coll)
	}
	n, err := s.coll.CountDocuments(ctx, p.filter, co)
	if err != nil {
		return 0, s.wrap(ctx, "count "+pattern, err)
	}
	return int(n), nil
}

// Remove deletes the records matching pattern and q's filter and returns how
// many were removed. A filter that does not translate exactly is applied in
// Go to the documents MongoDB narrows to, which are then deleted by path.
func (s *Store) Remove(ctx context.Context, pattern string, q *query.Query) (int, error) {
	if err := s.begin(ctx); err != nil {
		return 0, err
	}
	p, filterOnly, err := filterPlan(pattern, q)
	if err != nil {
		return 0, err
	}
	do := options.DeleteMany()
	if p.coll != nil {
		do.SetCollation(p.coll)
	}
	filter := p.filter
	if !p.exact {
		recs, err := s.find(ctx, p)
		if err != nil {
			return 0, s.wrap(ctx, "remove "+pattern, err)
		}
		keep, err := store.Filter(ctx, recs, filterOnly, nil)
		if err != nil || len(keep) == 0 {
			return 0, err
		}
		paths := make(bson.A, len(keep))
		for i, r := range keep {
			paths[i] = r.Path
		}
		filter = bson.D{{Key: "path", Value: bson.D{{Key: "$in", Value: paths}}}}
	}
	res, err := s.coll.DeleteMany(ctx, filter, do)
	if err != nil {
		return 0, s.wrap(ctx, "remove "+pattern, err)
	}
	return int(res.DeletedCount), nil
}

// Aggregate runs q's aggregation pipeline on the documents matching
// pattern and q's criteria (a $match stage is put first, as happn-3 does)
// and returns the pipeline's output as a JSON array. q's collation
// applies; its sort, paging and fields do not.
func (s *Store) Aggregate(ctx context.Context, pattern string, q *query.Query) (json.RawMessage, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	if q == nil || q.Aggregate == nil {
		return nil, errors.New("mongo: aggregate without a pipeline")
	}
	stages, err := jsonArrayToBSON(q.Aggregate)
	if err != nil {
		return nil, fmt.Errorf("mongo: invalid aggregate pipeline: %w", err)
	}
	if err := checkPipeline(stages); err != nil {
		return nil, err
	}
	p, err := newPlan(pattern, &query.Query{Filter: q.Filter, Collation: q.Collation})
	if err != nil {
		return nil, err
	}
	if !p.exact {
		return nil, errors.New("mongo: the criteria of an aggregate must be ones MongoDB evaluates itself " +
			"(lokijs operators such as $containsAny, equality with objects and conditions on _id are not)")
	}
	pipeline := make(bson.A, 0, len(stages)+1)
	pipeline = append(pipeline, bson.D{{Key: "$match", Value: p.filter}})
	for _, st := range stages {
		pipeline = append(pipeline, st)
	}
	ao := options.Aggregate()
	if p.coll != nil {
		ao.SetCollation(p.coll)
	}
	cur, err := s.coll.Aggregate(ctx, pipeline, ao)
	if err != nil {
		return nil, s.wrap(ctx, "aggregate "+pattern, err)
	}
	defer cur.Close(context.WithoutCancel(ctx))
	out := []byte{'['}
	for cur.Next(ctx) {
		if len(out) > 1 {
			out = append(out, ',')
		}
		if out, err = appendDocJSON(out, cur.Current); err != nil {
			return nil, fmt.Errorf("mongo: aggregate %s: %w", pattern, err)
		}
	}
	if err := cur.Err(); err != nil {
		return nil, s.wrap(ctx, "aggregate "+pattern, err)
	}
	return append(out, ']'), nil
}

// pipelineStages are the aggregation stages a happn client may run: they
// read only the documents the $match put first lets through. Stages that
// read other documents or collections ($lookup, $unionWith, $graphLookup),
// write ($out, $merge) or report on the server are refused, since happn
// authorises a get by its path alone.
var pipelineStages = map[string]bool{
	"$match": true, "$group": true, "$sort": true, "$project": true, "$limit": true, "$skip": true,
	"$unwind": true, "$count": true, "$addFields": true, "$set": true, "$unset": true,
	"$replaceRoot": true, "$replaceWith": true, "$bucket": true, "$bucketAuto": true,
	"$sortByCount": true, "$facet": true, "$sample": true, "$redact": true,
	"$setWindowFields": true, "$densify": true, "$fill": true,
}

// serverCode are operators that run JavaScript on the server.
var serverCode = map[string]bool{"$function": true, "$accumulator": true, "$where": true}

// checkPipeline refuses stages outside pipelineStages (also inside $facet)
// and server-side JavaScript anywhere in the pipeline.
func checkPipeline(stages []bson.Raw) error {
	for i, st := range stages {
		elems, err := st.Elements()
		if err != nil || len(elems) != 1 {
			return fmt.Errorf("mongo: aggregate stage %d must be an object with one stage name", i)
		}
		name := elems[0].Key()
		if !pipelineStages[name] {
			return fmt.Errorf("mongo: aggregate stage %s is not allowed: a pipeline may only transform the documents of its path", name)
		}
		if name == "$facet" {
			facets, ok := elems[0].Value().DocumentOK()
			if !ok {
				return errors.New("mongo: $facet needs an object of pipelines")
			}
			fes, _ := facets.Elements()
			for _, f := range fes {
				arr, ok := f.Value().ArrayOK()
				if !ok {
					return fmt.Errorf("mongo: $facet %s must be a pipeline", f.Key())
				}
				vals, _ := arr.Values()
				sub := make([]bson.Raw, 0, len(vals))
				for _, v := range vals {
					d, ok := v.DocumentOK()
					if !ok {
						return fmt.Errorf("mongo: $facet %s must be a pipeline of objects", f.Key())
					}
					sub = append(sub, d)
				}
				if err := checkPipeline(sub); err != nil {
					return err
				}
			}
		}
		if op := findServerCode(st); op != "" {
			return fmt.Errorf("mongo: aggregate operator %s is not allowed: it runs code on the server", op)
		}
	}
	return nil
}

// findServerCode returns the first key of doc, at any depth, that names a
// server-side JavaScript operator.
func findServerCode(doc bson.Raw) string {
	elems, err := doc.Elements()
	if err != nil {
		return ""
	}
	for _, e := range elems {
		if serverCode[e.Key()] {
			return e.Key()
		}
		v := e.Value()
		if d, ok := v.DocumentOK(); ok {
			if op := findServerCode(d); op != "" {
				return op
			}
		}
		if a, ok := v.ArrayOK(); ok {
			if op := findServerCode(bson.Raw(a)); op != "" {
				return op
			}
		}
	}
	return ""
}

// Close disconnects from the server; later calls return store.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.client.Disconnect(ctx); err != nil {
		return fmt.Errorf("mongo: disconnecting: %w", err)
	}
	return nil
}

// decodeRecord reads a stored document.
func decodeRecord(raw bson.Raw) (*store.Record, error) {
	r := &store.Record{Data: json.RawMessage("{}")}
	elems, err := raw.Elements()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadBSON, err)
	}
	for _, e := range elems {
		v := e.Value()
		switch e.Key() {
		case "path":
			r.Path, _ = v.StringValueOK()
		case "data":
			if r.Data, err = dataValue(v); err != nil {
				return nil, err
			}
		case "created":
			r.Created = asInt64(v)
		case "modified":
			r.Modified = asInt64(v)
		case "modifiedBy":
			r.ModifiedBy, _ = v.StringValueOK()
		}
	}
	return r, nil
}

// dataField returns the data of a returned document as JSON.
func dataField(raw bson.Raw) (json.RawMessage, error) {
	v, err := raw.LookupErr("data")
	if err != nil {
		return json.RawMessage("{}"), nil
	}
	return dataValue(v)
}

// dataValue renders a stored data value: a document as its JSON object,
// null as {}, anything else wrapped as {"value": x} as happn wraps
// non-object data.
func dataValue(v bson.RawValue) (json.RawMessage, error) {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		return appendDocJSON(nil, v.Value)
	case bson.TypeNull, bson.TypeUndefined:
		return json.RawMessage("{}"), nil
	}
	out, err := appendValueJSON([]byte(`{"value":`), byte(v.Type), v.Value)
	if err != nil {
		return nil, err
	}
	return append(out, '}'), nil
}

// int64Field returns a numeric field of a returned document.
func int64Field(raw bson.Raw, key string) (int64, error) {
	v, err := raw.LookupErr(key)
	if err != nil {
		return 0, fmt.Errorf("the server returned no %s", key)
	}
	return asInt64(v), nil
}

// asInt64 reads a timestamp stored as a double (Node.js), int32 or int64.
func asInt64(v bson.RawValue) int64 {
	switch v.Type {
	case bson.TypeDouble:
		return int64(v.Double())
	case bson.TypeInt32:
		return int64(v.Int32())
	case bson.TypeInt64:
		return v.Int64()
	case bson.TypeDateTime:
		return v.DateTime()
	}
	return 0
}

// refused reports whether err is the server refusing an operation on the
// data itself (a document it cannot store, an update path that does not
// fit the stored value), as opposed to a failure to reach it.
func refused(err error) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	for _, code := range []int{
		2,     // BadValue
		14,    // TypeMismatch
		28,    // PathNotViable
		52,    // DollarPrefixedFieldName
		55,    // InvalidDBRef
		56,    // EmptyFieldName
		57,    // DottedFieldName
		121,   // DocumentValidationFailure
		10334, // BSONObjectTooLarge
		17419, // document too large
	} {
		if se.HasErrorCode(code) {
			return true
		}
	}
	return false
}

// unavailableCodes are server error codes that mean the server cannot
// serve now (shutting down, stepping down, unreachable members).
var unavailableCodes = []int{6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436}

// wrap describes a database error: context errors stay themselves, errors
// of an unreachable server wrap store.ErrUnavailable.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fmt.Errorf("mongo: %s: %w", op, ctx.Err())
	}
	if s.closed.Load() || errors.Is(err, mongo.ErrClientDisconnected) {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrClosed)
	}
	if unavailable(err) {
		s.markDown()
		return fmt.Errorf("%w: mongo: %s: the server cannot be reached: %w", store.ErrUnavailable, op, err)
	}
	return fmt.Errorf("mongo: %s: %w", op, err)
}

// unavailable reports whether err means the server cannot be reached (as
// opposed to an error in the request or the data).
func unavailable(err error) bool {
	if mongo.IsNetworkError(err) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		for _, code := range unavailableCodes {
			if se.HasErrorCode(code) {
				return true
			}
		}
		return false
	}
	// server selection timed out, or a connection could not be had in time
	return mongo.IsTimeout(err)
}
