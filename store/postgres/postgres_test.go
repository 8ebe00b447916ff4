package postgres

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

	"github.com/jackc/pgx/v5"

	"github.com/happner-go/happner/internal/pgtest"
	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// open opens a store on a new database of the shared test server.
func open(t testing.TB, opts Options) *Store {
	t.Helper()
	if opts.URL == "" {
		opts.URL = pgtest.Start(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	dsn := pgtest.Start(t)
	n := 0
	storetest.Run(t, func(t *testing.T) store.Store {
		// Each test of the suite gets its own empty table in one database.
		n++
		return open(t, Options{URL: dsn, Table: fmt.Sprintf("conf_%d", n)})
	})
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Options{}); err == nil || !strings.Contains(err.Error(), "no connection URL") {
		t.Errorf("Open without URL: err = %v, want a message about the missing URL", err)
	}
	for _, table := range []string{"bad-name", "x;drop table y", "a.b.c", "1abc"} {
		if _, err := Open(ctx, Options{URL: "postgres://localhost/x", Table: table}); err == nil || !strings.Contains(err.Error(), "invalid table name") {
			t.Errorf("Open with table %q: err = %v, want an invalid table name error", table, err)
		}
	}
	if _, err := Open(ctx, Options{URL: "postgres://u:secret@localhost:notaport/x"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("Open with a bad URL: err = %v, want an error that hides the password", err)
	}
	// Nothing listens on port 1: the database is unavailable.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := Open(cctx, Options{URL: "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5"})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open with no server: err = %v, want store.ErrUnavailable", err)
	}
}

func TestOptionsFromSettings(t *testing.T) {
	def := Options{URL: "postgres://default/db", Table: "t0", PoolSize: 3}
	cases := []struct {
		settings map[string]any
		want     Options
		err      string
	}{
		{nil, def, ""},
		{map[string]any{"url": "postgres://h/db", "table": "tab", "poolSize": 10.0}, Options{URL: "postgres://h/db", Table: "tab", PoolSize: 10}, ""},
		{map[string]any{"connectionString": "host=h dbname=d", "poolSize": 2}, Options{URL: "host=h dbname=d", Table: "t0", PoolSize: 2}, ""},
		{map[string]any{"url": 5.0}, def, "settings.url must be a string"},
		{map[string]any{"table": true}, def, "settings.table must be a string"},
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
	dsn := pgtest.Start(t)
	open := Opener(Options{})
	s, err := open(store.DatastoreConfig{Name: "shared", Provider: "postgres",
		Settings: map[string]any{"url": dsn, "table": "from_settings", "poolSize": 2.0}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Set(ctx, "/x", json.RawMessage(`{"a":1}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	// The record is in the configured table.
	var n int
	if err := s.(*Store).pool.QueryRow(ctx, "SELECT count(*) FROM from_settings").Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in from_settings = %d, %v; want 1", n, err)
	}
	if _, err := open(store.DatastoreConfig{Name: "nourl", Provider: "postgres"}); err == nil || !strings.Contains(err.Error(), `datastore "nourl"`) {
		t.Errorf("Opener without URL: err = %v, want an error naming the datastore", err)
	}
}

func TestTwoStoresShareOneTable(t *testing.T) {
	dsn := pgtest.Start(t)
	a := open(t, Options{URL: dsn})
	defer a.Close()
	b := open(t, Options{URL: dsn})
	defer b.Close()
	ctx := context.Background()
	if _, err := a.Set(ctx, "/shared/1", json.RawMessage(`{"from":"a"}`), store.SetOptions{Now: 7}); err != nil {
		t.Fatal(err)
	}
	rec, err := b.Get(ctx, "/shared/1")
	if err != nil || rec == nil || string(rec.Data) != `{"from":"a"}` || rec.Created != 7 {
		t.Fatalf("Get through a second store = %+v, %v; want the record written by the first", rec, err)
	}
}

func TestRawBytesKeptAndNormalisedAfterMerge(t *testing.T) {
	s := open(t, Options{})
	defer s.Close()
	ctx := context.Background()
	raw := `{ "z":1,  "a":[1, 2.50] }`
	if _, err := s.Set(ctx, "/r", json.RawMessage(raw), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	rec, _ := s.Get(ctx, "/r")
	if string(rec.Data) != raw {
		t.Errorf("Get = %s, want the exact bytes written %s", rec.Data, raw)
	}
	recs, _ := s.Find(ctx, "/*", nil)
	if len(recs) != 1 || string(recs[0].Data) != raw {
		t.Errorf("Find = %v, want the exact bytes written", recs)
	}
	merged, err := s.Set(ctx, "/r", json.RawMessage(`{"b":true}`), store.SetOptions{Merge: true})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(merged.Data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"z": 1.0, "a": []any{1.0, 2.5}, "b": true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("merged = %s, want %v", merged.Data, want)
	}
	// U+0000 cannot live in jsonb: a clear data error, not a broken store.
	if _, err := s.Set(ctx, "/nul", json.RawMessage(`{"s":"a\u0000b"}`), store.SetOptions{}); !errors.Is(err, store.ErrNotObject) {
		t.Errorf("Set with U+0000: err = %v, want ErrNotObject", err)
	}
}

func TestUnknownColumnsAndSpecialPatterns(t *testing.T) {
	s := open(t, Options{})
	defer s.Close()
	ctx := context.Background()
	// LIKE metacharacters in paths are literal in patterns.
	for _, p := range []string{"/a%b/1", "/a_b/1", `/a\b/1`, "/axb/1", "/a%b", "/é/1", "/é/2", "/f/1"} {
		if _, err := s.Set(ctx, p, json.RawMessage(`{}`), store.SetOptions{Now: 1}); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string][]string{
		"/a%b/*":  {"/a%b/1"},
		"/a_b/*":  {"/a_b/1"},
		`/a\b/*`:  {`/a\b/1`},
		"/a%b*":   {"/a%b", "/a%b/1"},
		"*%*":     {"/a%b", "/a%b/1"},
		"*_*":     {"/a_b/1"},
		"/é/*":    {"/é/1", "/é/2"},
		"/*/1":    {"/a%b/1", `/a\b/1`, "/a_b/1", "/axb/1", "/f/1", "/é/1"},
		"**":      nil, // checked by count below
		"/f/1*":   {"/f/1"},
		"/f/1**2": nil,
	}
	for pattern, want := range cases {
		recs, err := s.Find(ctx, pattern, nil)
		if err != nil {
			t.Fatal(err)
		}
		if pattern == "**" {
			if len(recs) != 8 {
				t.Errorf("Find(**) = %d records, want 8", len(recs))
			}
			continue
		}
		var got []string
		for _, r := range recs {
			got = append(got, r.Path)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Find(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestUpperBound(t *testing.T) {
	cases := map[string]string{"/a/": "/a0", "a": "b", "/é": "/ê", "x\U0010FFFF": "y", "\uD7FF": "\uE000"}
	for in, want := range cases {
		if got, ok := upperBound(in); !ok || got != want {
			t.Errorf("upperBound(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := upperBound("\U0010FFFF"); ok {
		t.Error("upperBound of the largest rune: want no bound")
	}
	if got := likePattern(`/a%b_c\d/**x*`); got != `/a\%b\_c\\d/%x%` {
		t.Errorf("likePattern = %q", got)
	}
}

// waitFor retries fn until it succeeds or the deadline passes.
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
	srv := pgtest.NewServer(t)
	ctx := context.Background()
	s, err := Open(ctx, Options{URL: srv.DSN("postgres"), PoolSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Set(ctx, "/before", json.RawMessage(`{"v":1}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Every kind of call fails with ErrUnavailable and a clear message,
	// within the caller's deadline.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	calls := map[string]func() error{
		"Get": func() error { _, err := s.Get(cctx, "/before"); return err },
		"Set": func() error { _, err := s.Set(cctx, "/during", json.RawMessage(`{}`), store.SetOptions{}); return err },
		"Merge": func() error {
			_, err := s.Set(cctx, "/during", json.RawMessage(`{}`), store.SetOptions{Merge: true})
			return err
		},
		"Increment": func() error { _, err := s.Increment(cctx, "/during", "g", 1); return err },
		"Find":      func() error { _, err := s.Find(cctx, "/*", nil); return err },
		"Count":     func() error { _, err := s.Count(cctx, "/*", nil); return err },
		"Remove":    func() error { _, err := s.Remove(cctx, "/x/*", nil); return err },
		"RemoveGo": func() error {
			q, _ := query.Parse(json.RawMessage(`{"criteria":{"name":{"$regex":"x"}}}`))
			_, err := s.Remove(cctx, "/x/*", q)
			return err
		},
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s during the outage: err = %v, want store.ErrUnavailable", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "cannot be reached") {
			t.Errorf("%s during the outage: message %q does not say the database cannot be reached", name, err)
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

// TestPrefixScanUsesIndex checks that a pattern with a literal prefix is an
// index range scan, also under a generic plan (bound parameters).
func TestPrefixScanUsesIndex(t *testing.T) {
	s := open(t, Options{})
	defer s.Close()
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+s.table+` (path, data, raw, created, modified)
		SELECT '/n/' || lpad(i::text, 5, '0'), '{}', '{}', 1, 1 FROM generate_series(1, 20000) AS i`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE "+s.table); err != nil {
		t.Fatal(err)
	}
	for _, pattern := range []string{"/n/0005*", "/n/00*9"} {
		p := newPlan(pattern, nil)
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, "EXPLAIN SELECT path FROM "+s.table+p.where+p.orderBy, p.b.args...)
			if err != nil {
				return err
			}
			plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
			return err
		})
		conn.Release()
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(plan, "\n")
		t.Logf("plan of %q:\n%s", pattern, joined)
		if !strings.Contains(joined, "Index") || strings.Contains(joined, "Seq Scan") {
			t.Errorf("plan of %q does not use the primary key index:\n%s", pattern, joined)
		}
	}
}

func TestPathsPostgresCannotHold(t *testing.T) {
	s := open(t, Options{})
	defer s.Close()
	ctx := context.Background()
	for _, p := range []string{"/a\x00b", "/bad\xff"} {
		if _, err := s.Set(ctx, p, json.RawMessage(`{}`), store.SetOptions{}); err == nil || !strings.Contains(err.Error(), "valid UTF-8") {
			t.Errorf("Set(%q): err = %v, want a clear path error", p, err)
		}
		if _, err := s.Increment(ctx, p, "g", 1); err == nil {
			t.Errorf("Increment(%q): want an error", p)
		}
		if r, err := s.Get(ctx, p); r != nil || err != nil {
			t.Errorf("Get(%q) = %v, %v; want nil, nil", p, r, err)
		}
		if recs, err := s.Find(ctx, p+"*", nil); len(recs) != 0 || err != nil {
			t.Errorf("Find(%q) = %v, %v; want nothing", p, recs, err)
		}
		if n, err := s.Count(ctx, p, nil); n != 0 || err != nil {
			t.Errorf("Count(%q) = %d, %v; want 0", p, n, err)
		}
		if n, err := s.Remove(ctx, p, nil); n != 0 || err != nil {
			t.Errorf("Remove(%q) = %d, %v; want 0", p, n, err)
		}
	}
	if _, err := s.Set(ctx, "/ok", json.RawMessage("{\"s\":\"\xff\"}"), store.SetOptions{}); !errors.Is(err, store.ErrNotObject) {
		t.Errorf("Set with invalid UTF-8 data: err = %v, want ErrNotObject", err)
	}
}

// TestIncrementFloatsLikeGo checks that SQL float arithmetic and the jsonb
// rendering of the total keep every bit, as the Go stores do.
func TestIncrementFloatsLikeGo(t *testing.T) {
	s := open(t, Options{})
	defer s.Close()
	ctx := context.Background()
	want := 0.0
	for _, by := range []float64{0.1, 0.2, 1e-7, 123456789.123, -0.3} {
		want += by
		got, err := s.Increment(ctx, "/f", "g", by)
		if err != nil || got != want {
			t.Fatalf("Increment(%v) = %v, %v; want %v", by, got, err, want)
		}
	}
	rec, err := s.Get(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	var data struct{ G struct{ Value float64 } }
	if err := json.Unmarshal(rec.Data, &data); err != nil || data.G.Value != want {
		t.Fatalf("stored %s, want value %v", rec.Data, want)
	}
}

// Stores opened at once on a new database (members of a cluster starting
// together) all open, on one table, and see each other's writes.
func TestOpenTogether(t *testing.T) {
	dsn := pgtest.Start(t)
	const n = 20
	stores := make([]*Store, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := Open(ctx, Options{URL: dsn, Table: "together", PoolSize: 1})
			stores[i] = s
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Open: %v", err)
		}
	}
	for _, s := range stores {
		if s != nil {
			t.Cleanup(func() { _ = s.Close() })
		}
	}
	if t.Failed() {
		return
	}
	ctx := context.Background()
	if _, err := stores[0].Set(ctx, "/together/a", json.RawMessage(`{"v":1}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	rec, err := stores[n-1].Get(ctx, "/together/a")
	if err != nil || rec == nil || string(rec.Data) != `{"v":1}` {
		t.Fatalf("another store reads %v, %v", rec, err)
	}
}
