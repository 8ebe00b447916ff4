// Package storetest is the conformance suite of the [store.Store] contract.
// Every provider runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memory.New() })
//	}
//
// The suite checks happn's data semantics:
// writes and timestamps, merge, increment, wildcard patterns that cross '/',
// paths that are never normalised, the default order, criteria with sort,
// skip, limit and projection, count, remove, concurrent writers and context
// cancellation.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; the suite closes every store it opens.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"SetGet", testSetGet},
		{"SetCopiesInput", testSetCopiesInput},
		{"Overwrite", testOverwrite},
		{"CurrentTime", testCurrentTime},
		{"BadInput", testBadInput},
		{"Merge", testMerge},
		{"Increment", testIncrement},
		{"IncrementErrors", testIncrementErrors},
		{"IncrementConcurrent", testIncrementConcurrent},
		{"PathsNotNormalised", testPathsNotNormalised},
		{"FindPatterns", testFindPatterns},
		{"FindPrefixMany", testFindPrefixMany},
		{"Remove", testRemove},
		{"QueryFilter", testQueryFilter},
		{"QuerySortPage", testQuerySortPage},
		{"QueryFields", testQueryFields},
		{"QueryCount", testQueryCount},
		{"RemoveWithCriteria", testRemoveWithCriteria},
		{"ConcurrentWriters", testConcurrentWriters},
		{"ContextCancelled", testContextCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
	t.Run("Closed", func(t *testing.T) {
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		ctx := context.Background()
		if _, err := s.Set(ctx, "/a", json.RawMessage(`{}`), store.SetOptions{}); err == nil {
			t.Error("Set after Close: want an error")
		}
		if _, err := s.Get(ctx, "/a"); err == nil {
			t.Error("Get after Close: want an error")
		}
		if _, err := s.Find(ctx, "/*", nil); err == nil {
			t.Error("Find after Close: want an error")
		}
	})
}

// --- helpers ---

func set(t *testing.T, s store.Store, path, data string, opts store.SetOptions) *store.Record {
	t.Helper()
	rec, err := s.Set(context.Background(), path, json.RawMessage(data), opts)
	if err != nil {
		t.Fatalf("Set(%q, %s): %v", path, data, err)
	}
	return rec
}

func get(t *testing.T, s store.Store, path string) *store.Record {
	t.Helper()
	rec, err := s.Get(context.Background(), path)
	if err != nil {
		t.Fatalf("Get(%q): %v", path, err)
	}
	return rec
}

func parse(t *testing.T, raw string) *query.Query {
	t.Helper()
	q, err := query.Parse(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("query.Parse(%s): %v", raw, err)
	}
	return q
}

func find(t *testing.T, s store.Store, pattern string, q *query.Query) []*store.Record {
	t.Helper()
	recs, err := s.Find(context.Background(), pattern, q)
	if err != nil {
		t.Fatalf("Find(%q): %v", pattern, err)
	}
	return recs
}

func count(t *testing.T, s store.Store, pattern string, q *query.Query) int {
	t.Helper()
	n, err := s.Count(context.Background(), pattern, q)
	if err != nil {
		t.Fatalf("Count(%q): %v", pattern, err)
	}
	return n
}

func remove(t *testing.T, s store.Store, pattern string, q *query.Query) int {
	t.Helper()
	n, err := s.Remove(context.Background(), pattern, q)
	if err != nil {
		t.Fatalf("Remove(%q): %v", pattern, err)
	}
	return n
}

func paths(recs []*store.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Path
	}
	return out
}

func wantPaths(t *testing.T, what string, recs []*store.Record, want ...string) {
	t.Helper()
	got := paths(recs)
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%s: got paths %q, want %q", what, got, want)
	}
}

// jsonEqual reports whether a and b encode the same JSON value.
func jsonEqual(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func wantData(t *testing.T, what string, rec *store.Record, want string) {
	t.Helper()
	if rec == nil {
		t.Fatalf("%s: record is nil, want data %s", what, want)
	}
	if !jsonEqual(rec.Data, []byte(want)) {
		t.Errorf("%s: data %s, want %s", what, rec.Data, want)
	}
}

func wantRecord(t *testing.T, what string, got *store.Record, path, data string, created, modified int64, by string) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: record is nil", what)
	}
	if got.Path != path || got.Created != created || got.Modified != modified || got.ModifiedBy != by {
		t.Errorf("%s: got {%q created %d modified %d by %q}, want {%q created %d modified %d by %q}",
			what, got.Path, got.Created, got.Modified, got.ModifiedBy, path, created, modified, by)
	}
	wantData(t, what, got, data)
}

// --- writes ---

func testSetGet(t *testing.T, s store.Store) {
	rec := set(t, s, "/a/b", `{"x":1,"y":"z","n":{"k":[1,2]}}`, store.SetOptions{Now: 1000, ModifiedBy: "alice"})
	wantRecord(t, "Set result", rec, "/a/b", `{"x":1,"y":"z","n":{"k":[1,2]}}`, 1000, 1000, "alice")
	wantRecord(t, "Get", get(t, s, "/a/b"), "/a/b", `{"x":1,"y":"z","n":{"k":[1,2]}}`, 1000, 1000, "alice")
	for _, p := range []string{"/a/c", "/a", "a/b", "/a/b/", "/a/b*"} {
		if r := get(t, s, p); r != nil {
			t.Errorf("Get(%q) = %+v, want nil", p, r)
		}
	}
	// A record handed out stays as it was when the path is written again
	// (stores replace records, they never change one in place).
	before := get(t, s, "/a/b")
	set(t, s, "/a/b", `{"x":2}`, store.SetOptions{Now: 2000, ModifiedBy: "bob"})
	wantRecord(t, "a record handed out before a write", before, "/a/b", `{"x":1,"y":"z","n":{"k":[1,2]}}`, 1000, 1000, "alice")
}

func testSetCopiesInput(t *testing.T, s store.Store) {
	buf := []byte(`{"v":"aaaa"}`)
	set(t, s, "/buf", string(buf), store.SetOptions{Now: 1})
	buf2 := []byte(`{"v":"aaaa"}`)
	if _, err := s.Set(context.Background(), "/buf2", buf2, store.SetOptions{Now: 1}); err != nil {
		t.Fatal(err)
	}
	copy(buf2, `{"v":"bbbb"}`)
	wantData(t, "after the caller reused its buffer", get(t, s, "/buf2"), `{"v":"aaaa"}`)
}

func testOverwrite(t *testing.T, s store.Store) {
	set(t, s, "/o", `{"a":1,"b":2}`, store.SetOptions{Now: 1000, ModifiedBy: "alice"})
	rec := set(t, s, "/o", `{"c":3}`, store.SetOptions{Now: 2500, ModifiedBy: "bob"})
	wantRecord(t, "overwrite result", rec, "/o", `{"c":3}`, 1000, 2500, "bob")
	wantRecord(t, "Get after overwrite", get(t, s, "/o"), "/o", `{"c":3}`, 1000, 2500, "bob")
	rec = set(t, s, "/o", `{}`, store.SetOptions{Now: 3000})
	wantRecord(t, "overwrite without writer", rec, "/o", `{}`, 1000, 3000, "")
	if n := count(t, s, "*", nil); n != 1 {
		t.Errorf("Count after overwrites = %d, want 1", n)
	}
}

func testCurrentTime(t *testing.T, s store.Store) {
	before := time.Now().UnixMilli()
	rec := set(t, s, "/now", `{"a":1}`, store.SetOptions{})
	after := time.Now().UnixMilli()
	if rec.Created < before || rec.Created > after || rec.Modified != rec.Created {
		t.Errorf("created %d modified %d, want both equal within [%d, %d]", rec.Created, rec.Modified, before, after)
	}
	if _, err := s.Increment(context.Background(), "/now", "g", 1); err != nil {
		t.Fatal(err)
	}
	after2 := time.Now().UnixMilli()
	got := get(t, s, "/now")
	if got.Created != rec.Created || got.Modified < rec.Modified || got.Modified > after2 {
		t.Errorf("after Increment: created %d modified %d, want created %d and modified in [%d, %d]",
			got.Created, got.Modified, rec.Created, rec.Modified, after2)
	}
}

func testBadInput(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, data := range []string{``, `null`, `[1,2]`, `"str"`, `12`, `true`, `{"a":`, `{"a":1}x`, `  [ ]`} {
		_, err := s.Set(ctx, "/bad", json.RawMessage(data), store.SetOptions{})
		if !errors.Is(err, store.ErrNotObject) {
			t.Errorf("Set(%q): err = %v, want ErrNotObject", data, err)
		}
		_, err = s.Set(ctx, "/bad", json.RawMessage(data), store.SetOptions{Merge: true})
		if !errors.Is(err, store.ErrNotObject) {
			t.Errorf("merge Set(%q): err = %v, want ErrNotObject", data, err)
		}
	}
	if r := get(t, s, "/bad"); r != nil {
		t.Errorf("rejected writes stored %+v", r)
	}
	if _, err := s.Set(ctx, "", json.RawMessage(`{}`), store.SetOptions{}); err == nil {
		t.Error("Set on the empty path: want an error")
	}
	wsp := set(t, s, "/ws", " \n{\"a\": 1}\n", store.SetOptions{Now: 5})
	wantData(t, "object with surrounding whitespace", wsp, `{"a":1}`)
}

func testMerge(t *testing.T, s store.Store) {
	set(t, s, "/m", `{"a":1,"b":{"x":1},"keep":"yes"}`, store.SetOptions{Now: 1000, ModifiedBy: "alice"})
	rec := set(t, s, "/m", `{"b":{"y":2},"c":3,"a":null}`, store.SetOptions{Merge: true, Now: 2000, ModifiedBy: "bob"})
	want := `{"a":null,"b":{"y":2},"c":3,"keep":"yes"}`
	wantRecord(t, "merge result", rec, "/m", want, 1000, 2000, "bob")
	wantRecord(t, "Get after merge", get(t, s, "/m"), "/m", want, 1000, 2000, "bob")

	rec = set(t, s, "/m/new", `{"n":1}`, store.SetOptions{Merge: true, Now: 3000})
	wantRecord(t, "merge creates", rec, "/m/new", `{"n":1}`, 3000, 3000, "")

	if _, err := s.Set(context.Background(), "/m", json.RawMessage(`[1]`), store.SetOptions{Merge: true}); !errors.Is(err, store.ErrNotObject) {
		t.Errorf("merge of an array: err = %v, want ErrNotObject", err)
	}
	wantRecord(t, "after rejected merge", get(t, s, "/m"), "/m", want, 1000, 2000, "bob")
}

func increment(t *testing.T, s store.Store, path, gauge string, by float64) float64 {
	t.Helper()
	v, err := s.Increment(context.Background(), path, gauge, by)
	if err != nil {
		t.Fatalf("Increment(%q, %q, %v): %v", path, gauge, by, err)
	}
	return v
}

func testIncrement(t *testing.T, s store.Store) {
	steps := []struct {
		gauge string
		by    float64
		total float64
	}{
		{"hits", 3, 3}, {"hits", 1, 4}, {"hits", -6, -2}, {"hits", 0.5, -1.5}, {"other", 1, 1}, {"hits", 1.5, 0},
	}
	for _, st := range steps {
		if got := increment(t, s, "/counter", st.gauge, st.by); got != st.total {
			t.Errorf("Increment(%q, %v) = %v, want %v", st.gauge, st.by, got, st.total)
		}
	}
	wantData(t, "counter record", get(t, s, "/counter"), `{"hits":{"value":0},"other":{"value":1}}`)

	// An existing record keeps its other members; a null gauge counts as 0.
	set(t, s, "/existing", `{"name":"x","g":null,"h":{"value":10,"unit":"ms"}}`, store.SetOptions{Now: 100})
	if got := increment(t, s, "/existing", "g", 2); got != 2 {
		t.Errorf("increment of a null gauge = %v, want 2", got)
	}
	if got := increment(t, s, "/existing", "h", 5); got != 15 {
		t.Errorf("increment of an existing gauge = %v, want 15", got)
	}
	rec := get(t, s, "/existing")
	wantData(t, "existing record", rec, `{"name":"x","g":{"value":2},"h":{"value":15,"unit":"ms"}}`)
	if rec.Created != 100 {
		t.Errorf("increment changed Created to %d, want 100", rec.Created)
	}
}

func testIncrementErrors(t *testing.T, s store.Store) {
	ctx := context.Background()
	set(t, s, "/e", `{"s":{"value":"text"},"n":7,"ok":{"value":1}}`, store.SetOptions{Now: 1})
	for _, gauge := range []string{"s", "n", ""} {
		if _, err := s.Increment(ctx, "/e", gauge, 1); err == nil {
			t.Errorf("Increment of gauge %q: want an error", gauge)
		}
	}
	if _, err := s.Increment(ctx, "", "g", 1); err == nil {
		t.Error("Increment on the empty path: want an error")
	}
	wantData(t, "after rejected increments", get(t, s, "/e"), `{"s":{"value":"text"},"n":7,"ok":{"value":1}}`)
}

func testIncrementConcurrent(t *testing.T, s store.Store) {
	const workers, each = 16, 25
	totals := make(chan float64, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				v, err := s.Increment(context.Background(), "/concurrent", "n", 1)
				if err != nil {
					t.Errorf("Increment: %v", err)
					return
				}
				totals <- v
			}
		})
	}
	wg.Wait()
	close(totals)
	seen := map[float64]bool{}
	for v := range totals {
		if seen[v] {
			t.Errorf("total %v returned twice: increments are not atomic", v)
		}
		seen[v] = true
	}
	for i := 1; i <= workers*each; i++ {
		if !seen[float64(i)] {
			t.Errorf("total %d never returned", i)
		}
	}
	wantData(t, "final counter", get(t, s, "/concurrent"), fmt.Sprintf(`{"n":{"value":%d}}`, workers*each))
}

// --- reads ---

func testPathsNotNormalised(t *testing.T, s store.Store) {
	set(t, s, "/a/b", `{"v":1}`, store.SetOptions{Now: 1})
	set(t, s, "a/b", `{"v":2}`, store.SetOptions{Now: 1})
	set(t, s, "/a/b/", `{"v":3}`, store.SetOptions{Now: 1})
	wantData(t, "/a/b", get(t, s, "/a/b"), `{"v":1}`)
	wantData(t, "a/b", get(t, s, "a/b"), `{"v":2}`)
	wantData(t, "/a/b/", get(t, s, "/a/b/"), `{"v":3}`)
	if r := get(t, s, "//a/b"); r != nil {
		t.Errorf("Get(//a/b) = %+v, want nil", r)
	}
	wantPaths(t, "Find(/a/b)", find(t, s, "/a/b", nil), "/a/b")
	wantPaths(t, "Find(*)", find(t, s, "*", nil), "/a/b", "/a/b/", "a/b")
	if n := count(t, s, "*", nil); n != 3 {
		t.Errorf("Count(*) = %d, want 3", n)
	}
}

// fixture holds paths in an order unlike path order, so that the default
// order is visible.
var fixture = []string{"/b", "/a/x/y/b", "a/b", "/a/bc", "/a/b/c", "/A/b", "/a/b/", "/a/x/b", "/a/b"}

func loadFixture(t *testing.T, s store.Store) {
	t.Helper()
	for i, p := range fixture {
		set(t, s, p, fmt.Sprintf(`{"i":%d}`, i), store.SetOptions{Now: int64(1000 + i)})
	}
}

func testFindPatterns(t *testing.T, s store.Store) {
	loadFixture(t, s)
	cases := []struct {
		pattern string
		want    []string
	}{
		{"/a/b", []string{"/a/b"}},
		{"/a/b/", []string{"/a/b/"}},
		{"/a/b/c/", nil},
		{"/a/b*", []string{"/a/b", "/a/b/", "/a/b/c", "/a/bc"}},
		{"/a/b/*", []string{"/a/b/", "/a/b/c"}},
		{"/a/*/b", []string{"/a/x/b", "/a/x/y/b"}},
		{"/a/*/c", []string{"/a/b/c"}},
		{"/a/*", []string{"/a/b", "/a/b/", "/a/b/c", "/a/bc", "/a/x/b", "/a/x/y/b"}},
		{"/a/**", []string{"/a/b", "/a/b/", "/a/b/c", "/a/bc", "/a/x/b", "/a/x/y/b"}},
		{"*", []string{"/A/b", "/a/b", "/a/b/", "/a/b/c", "/a/bc", "/a/x/b", "/a/x/y/b", "/b", "a/b"}},
		{"*b", []string{"/A/b", "/a/b", "/a/x/b", "/a/x/y/b", "/b", "a/b"}},
		{"*x*", []string{"/a/x/b", "/a/x/y/b"}},
		{"a/*", []string{"a/b"}},
		{"/A*", []string{"/A/b"}},
		{"/z*", nil},
	}
	for _, c := range cases {
		recs := find(t, s, c.pattern, nil)
		wantPaths(t, "Find("+c.pattern+")", recs, c.want...)
		if n := count(t, s, c.pattern, nil); n != len(c.want) {
			t.Errorf("Count(%q) = %d, want %d", c.pattern, n, len(c.want))
		}
	}
	// Records come back whole.
	recs := find(t, s, "/a/x/*", nil)
	if len(recs) == 2 {
		wantRecord(t, "found record", recs[0], "/a/x/b", `{"i":7}`, 1007, 1007, "")
		wantRecord(t, "found record", recs[1], "/a/x/y/b", `{"i":1}`, 1001, 1001, "")
	}
}

func testFindPrefixMany(t *testing.T, s store.Store) {
	for i := 999; i >= 0; i-- {
		set(t, s, fmt.Sprintf("/n/%04d", i), fmt.Sprintf(`{"i":%d}`, i), store.SetOptions{Now: 1})
	}
	set(t, s, "/n0", `{}`, store.SetOptions{Now: 1})
	set(t, s, "/m/0500", `{}`, store.SetOptions{Now: 1})
	want := make([]string, 0, 100)
	for i := 500; i < 600; i++ {
		want = append(want, fmt.Sprintf("/n/%04d", i))
	}
	wantPaths(t, "Find(/n/05*)", find(t, s, "/n/05*", nil), want...)
	wantPaths(t, "Find(/n/*9*9)", find(t, s, "/n/099*9", nil), "/n/0999")
	if n := count(t, s, "/n/*", nil); n != 1000 {
		t.Errorf("Count(/n/*) = %d, want 1000", n)
	}
	if n := count(t, s, "/n*", nil); n != 1001 {
		t.Errorf("Count(/n*) = %d, want 1001", n)
	}
}

func testRemove(t *testing.T, s store.Store) {
	loadFixture(t, s)
	if n := remove(t, s, "/a/b*", nil); n != 4 {
		t.Errorf("Remove(/a/b*) = %d, want 4", n)
	}
	for _, p := range []string{"/a/b", "/a/b/", "/a/b/c", "/a/bc"} {
		if r := get(t, s, p); r != nil {
			t.Errorf("%s still present after Remove", p)
		}
	}
	wantPaths(t, "after Remove(/a/b*)", find(t, s, "*", nil), "/A/b", "/a/x/b", "/a/x/y/b", "/b", "a/b")
	if n := remove(t, s, "/b", nil); n != 1 {
		t.Errorf("Remove(/b) = %d, want 1", n)
	}
	if n := remove(t, s, "/b", nil); n != 0 {
		t.Errorf("second Remove(/b) = %d, want 0", n)
	}
	if n := remove(t, s, "/nothing/*", nil); n != 0 {
		t.Errorf("Remove(/nothing/*) = %d, want 0", n)
	}
	if n := remove(t, s, "*", nil); n != 4 {
		t.Errorf("Remove(*) = %d, want 4", n)
	}
	if n := count(t, s, "*", nil); n != 0 {
		t.Errorf("Count after Remove(*) = %d, want 0", n)
	}
	// A removed path can be written again and is a new record.
	rec := set(t, s, "/b", `{"again":true}`, store.SetOptions{Now: 9000})
	wantRecord(t, "rewritten record", rec, "/b", `{"again":true}`, 9000, 9000, "")
}

// --- queries ---

func loadQueryFixture(t *testing.T, s store.Store) {
	t.Helper()
	items := []struct {
		path, data string
		created    int64
	}{
		{"/q/1", `{"name":"a","value":3,"group":"x","tags":["red"]}`, 5000},
		{"/q/2", `{"name":"b","value":1,"group":"y","tags":["blue"]}`, 4000},
		{"/q/3", `{"name":"c","value":5,"group":"x","tags":["red","blue"]}`, 3000},
		{"/q/4", `{"name":"d","value":2,"group":"x"}`, 2000},
		{"/q/5", `{"name":"e","value":4,"group":"y","nested":{"deep":1}}`, 1000},
		{"/other/1", `{"name":"z","value":9,"group":"x"}`, 1},
	}
	for _, it := range items {
		set(t, s, it.path, it.data, store.SetOptions{Now: it.created})
	}
}

func testQueryFilter(t *testing.T, s store.Store) {
	loadQueryFixture(t, s)
	cases := []struct {
		opts string
		want []string
	}{
		{`{}`, []string{"/q/1", "/q/2", "/q/3", "/q/4", "/q/5"}},
		{`{"criteria":{"group":"x"}}`, []string{"/q/1", "/q/3", "/q/4"}},
		{`{"criteria":{"value":{"$gte":3}}}`, []string{"/q/1", "/q/3", "/q/5"}},
		{`{"criteria":{"$or":[{"name":"b"},{"value":{"$lt":3}}]}}`, []string{"/q/2", "/q/4"}},
		{`{"criteria":{"group":"x","value":{"$gt":2}}}`, []string{"/q/1", "/q/3"}},
		{`{"criteria":{"name":{"$in":["e","a","q"]}}}`, []string{"/q/1", "/q/5"}},
		{`{"criteria":{"_meta.created":{"$lt":3000}}}`, []string{"/q/4", "/q/5"}},
		{`{"criteria":{"name":"nobody"}}`, nil},
	}
	for _, c := range cases {
		wantPaths(t, "Find(/q/*, "+c.opts+")", find(t, s, "/q/*", parse(t, c.opts)), c.want...)
	}
}

func testQuerySortPage(t *testing.T, s store.Store) {
	loadQueryFixture(t, s)
	cases := []struct {
		opts string
		want []string
	}{
		{`{"options":{"sort":{"value":-1}}}`, []string{"/q/3", "/q/5", "/q/1", "/q/4", "/q/2"}},
		{`{"options":{"sort":{"value":1},"skip":1,"limit":2}}`, []string{"/q/4", "/q/1"}},
		{`{"options":{"sort":{"_meta.created":1}}}`, []string{"/q/5", "/q/4", "/q/3", "/q/2", "/q/1"}},
		{`{"options":{"sort":{"group":1,"value":-1}}}`, []string{"/q/3", "/q/1", "/q/4", "/q/5", "/q/2"}},
		{`{"criteria":{"group":"x"},"options":{"sort":{"value":-1},"limit":2}}`, []string{"/q/3", "/q/1"}},
		{`{"options":{"limit":2}}`, []string{"/q/1", "/q/2"}},
		{`{"options":{"skip":4}}`, []string{"/q/5"}},
		{`{"options":{"skip":10}}`, nil},
	}
	for _, c := range cases {
		wantPaths(t, "Find(/q/*, "+c.opts+")", find(t, s, "/q/*", parse(t, c.opts)), c.want...)
	}
}

func testQueryFields(t *testing.T, s store.Store) {
	loadQueryFixture(t, s)
	recs := find(t, s, "/q/*", parse(t, `{"criteria":{"group":"y"},"options":{"fields":{"name":1,"nested":1}}}`))
	wantPaths(t, "projected find", recs, "/q/2", "/q/5")
	if len(recs) == 2 {
		wantRecord(t, "projection", recs[0], "/q/2", `{"name":"b"}`, 4000, 4000, "")
		wantRecord(t, "projection", recs[1], "/q/5", `{"name":"e","nested":{"deep":1}}`, 1000, 1000, "")
	}
	// Projection never changes what is stored.
	wantData(t, "stored after projection", get(t, s, "/q/5"), `{"name":"e","value":4,"group":"y","nested":{"deep":1}}`)
	recs = find(t, s, "/q/*", parse(t, `{"options":{"path_only":true,"limit":2}}`))
	wantPaths(t, "path_only find", recs, "/q/1", "/q/2")
}

func testQueryCount(t *testing.T, s store.Store) {
	loadQueryFixture(t, s)
	cases := []struct {
		pattern, opts string
		want          int
	}{
		{"/q/*", `{"criteria":{"group":"y"}}`, 2},
		{"*", `{"criteria":{"group":"x"}}`, 4},
		{"/q/*", `{"options":{"limit":2}}`, 2},
		{"/q/*", `{"options":{"skip":4}}`, 1},
		{"/q/3", `{"criteria":{"group":"y"}}`, 0},
		{"/q/3", `{"criteria":{"group":"x"}}`, 1},
	}
	for _, c := range cases {
		if n := count(t, s, c.pattern, parse(t, c.opts)); n != c.want {
			t.Errorf("Count(%q, %s) = %d, want %d", c.pattern, c.opts, n, c.want)
		}
	}
}

func testRemoveWithCriteria(t *testing.T, s store.Store) {
	loadQueryFixture(t, s)
	if n := remove(t, s, "/q/*", parse(t, `{"criteria":{"group":"x"}}`)); n != 3 {
		t.Errorf("Remove(/q/*, group x) = %d, want 3", n)
	}
	wantPaths(t, "after criteria remove", find(t, s, "*", nil), "/other/1", "/q/2", "/q/5")
	if n := remove(t, s, "/q/2", parse(t, `{"criteria":{"group":"x"}}`)); n != 0 {
		t.Errorf("Remove(/q/2, group x) = %d, want 0", n)
	}
	if n := remove(t, s, "/q/*", parse(t, `{"criteria":{"value":{"$gte":4}}}`)); n != 1 {
		t.Errorf("Remove(/q/*, value>=4) = %d, want 1", n)
	}
	wantPaths(t, "after second criteria remove", find(t, s, "*", nil), "/other/1", "/q/2")
}

// --- concurrency and cancellation ---

func testConcurrentWriters(t *testing.T, s store.Store) {
	const workers, each = 8, 40
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				p := fmt.Sprintf("/w/%d/%d", w, i)
				if _, err := s.Set(ctx, p, json.RawMessage(fmt.Sprintf(`{"w":%d,"i":%d}`, w, i)), store.SetOptions{}); err != nil {
					t.Errorf("Set(%s): %v", p, err)
					return
				}
				key := fmt.Sprintf(`{"k%d_%d":%d}`, w, i, i)
				if _, err := s.Set(ctx, "/merged", json.RawMessage(key), store.SetOptions{Merge: true}); err != nil {
					t.Errorf("merge: %v", err)
					return
				}
			}
		})
		wg.Go(func() {
			for range each {
				if _, err := s.Find(ctx, "/w/*", nil); err != nil {
					t.Errorf("Find: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := count(t, s, "/w/*", nil); n != workers*each {
		t.Errorf("Count(/w/*) = %d, want %d", n, workers*each)
	}
	wantData(t, "/w/3/7", get(t, s, "/w/3/7"), `{"w":3,"i":7}`)
	var merged map[string]any
	if err := json.Unmarshal(get(t, s, "/merged").Data, &merged); err != nil {
		t.Fatal(err)
	}
	if len(merged) != workers*each {
		t.Errorf("concurrent merges kept %d keys, want %d (lost updates)", len(merged), workers*each)
	}
}

func testContextCancelled(t *testing.T, s store.Store) {
	set(t, s, "/c", `{"a":1}`, store.SetOptions{Now: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
	_, err := s.Get(ctx, "/c")
	check("Get", err)
	_, err = s.Find(ctx, "*", nil)
	check("Find", err)
	_, err = s.Count(ctx, "*", nil)
	check("Count", err)
	_, err = s.Set(ctx, "/c", json.RawMessage(`{"a":2}`), store.SetOptions{})
	check("Set", err)
	_, err = s.Increment(ctx, "/c", "g", 1)
	check("Increment", err)
	_, err = s.Remove(ctx, "*", nil)
	check("Remove", err)
	// Nothing was changed.
	wantRecord(t, "after cancelled writes", get(t, s, "/c"), "/c", `{"a":1}`, 1, 1, "")
	if !bytes.Equal(get(t, s, "/c").Data, []byte(`{"a":1}`)) {
		t.Errorf("plain set changed the stored bytes: %s", get(t, s, "/c").Data)
	}
}
