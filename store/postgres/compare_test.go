package postgres

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
)

// compareFixture covers the value shapes the criteria treat differently:
// missing and null fields, numbers written in several ways, strings with
// non-ASCII characters, booleans, arrays of scalars, of arrays and of
// objects, and nested objects.
var compareFixture = []struct {
	path, data, by string
}{
	{"/c/01", `{"name":"alpha","n":1,"tags":["red","blue"],"ok":true,"o":{"k":1}}`, "alice"},
	{"/c/02", `{"name":"beta","n":2.5,"tags":["blue"],"ok":false,"o":{"k":2,"j":[1,2]}}`, ""},
	{"/c/03", `{"name":"gamma","n":-3,"tags":[],"ok":null,"o":{"k":"1"}}`, "bob"},
	{"/c/04", `{"name":"Delta","n":10,"tags":["red",["blue"]],"o":{}}`, ""},
	{"/c/05", `{"name":"épsilon","n":"10","tags":"red","o":[{"k":1},{"k":3}]}`, "alice"},
	{"/c/06", `{"name":null,"n":null,"tags":[null,1,2.0],"o":null}`, ""},
	{"/c/07", `{"n":1.0e1,"tags":[[1,2],[3]],"o":{"k":{"deep":true}}}`, "carol"},
	{"/c/08", `{"name":"zeta","n":[1,5,9],"tags":["b","a"],"ok":"true","o":{"k":[1,2,3]}}`, ""},
	{"/c/09", `{"name":"eta","n":0,"tags":[{"c":"red"},{"c":"blue"}],"ok":1}`, "bob"},
	{"/c/10", `{"name":"theta","n":-0.5,"o":{"k":null}}`, ""},
	{"/c/11", `{"name":"alpha","n":1,"tags":["red","blue"],"ok":true}`, "alice"},
	{"/c/12", `{"name":"iota","n":12345678901234567890,"ok":"false"}`, ""},
	{"/c/13", `{"name":["alpha","beta"],"n":[[1],[2]],"tags":{"red":1}}`, ""},
	{"/c/sub/14", `{"name":"kappa","n":7,"path":"/fake","created":"x"}`, "dave"},
	{"/d/15", `{"name":"alpha","n":1}`, ""},
}

// compareCriteria are run against both stores; the comment says whether
// the translation is meant to be exact (E), a superset (S) or Go only (G).
var compareCriteria = []string{
	`{}`,                                           // E
	`{"name":"alpha"}`,                             // E
	`{"name":"beta"}`,                              // E: also matches inside arrays
	`{"name":null}`,                                // E: null or missing
	`{"name":{"$ne":null}}`,                        // E
	`{"name":{"$ne":"alpha"}}`,                     // E
	`{"n":1}`,                                      // E: 1, 1.0 and [1,5,9]
	`{"n":10}`,                                     // E: 10 and 1.0e1, not "10"
	`{"n":"10"}`,                                   // E
	`{"n":{"$gt":1}}`,                              // E
	`{"n":{"$gte":1,"$lt":10}}`,                    // E
	`{"n":{"$lte":0}}`,                             // E
	`{"n":{"$gt":"1"}}`,                            // E: strings only
	`{"name":{"$gte":"b","$lt":"z"}}`,              // E: byte order, "Delta" < "b"
	`{"name":{"$gt":"e"}}`,                         // E: é sorts after e
	`{"ok":true}`,                                  // E
	`{"ok":false}`,                                 // E
	`{"ok":{"$ne":true}}`,                          // E
	`{"ok":{"$exists":true}}`,                      // E
	`{"ok":{"$exists":false}}`,                     // E
	`{"tags":"red"}`,                               // E: element or the string itself
	`{"tags":["blue"]}`,                            // E: the array itself or an element equal to it
	`{"tags":[1,2]}`,                               // E
	`{"tags":{"$size":2}}`,                         // E
	`{"tags":{"$size":0}}`,                         // E
	`{"tags":{"$in":["red",1]}}`,                   // E
	`{"tags":{"$in":[]}}`,                          // E
	`{"tags":{"$in":[null]}}`,                      // E
	`{"tags":{"$nin":["red","blue"]}}`,             // E
	`{"tags":{"$all":["red","blue"]}}`,             // E
	`{"tags":{"$all":[]}}`,                         // E
	`{"tags":{"red":1}}`,                           // E: object equality
	`{"o":{"k":1}}`,                                // E
	`{"o":{}}`,                                     // E
	`{"o.k":1}`,                                    // G: nested, may cross arrays
	`{"o.k":null}`,                                 // G
	`{"o.k.deep":true}`,                            // G
	`{"o.j.1":2}`,                                  // G
	`{"name":{"$regex":"^al"}}`,                    // G
	`{"name":{"$regex":"A","$options":"i"}}`,       // G
	`{"tags":{"$elemMatch":{"c":"red"}}}`,          // G
	`{"tags":{"$containsAny":["red","b"]}}`,        // G
	`{"name":{"$contains":"ta"}}`,                  // G
	`{"$or":[{"name":"alpha"},{"n":{"$gt":5}}]}`,   // E
	`{"$or":[{"name":"alpha"},{"o.k":2}]}`,         // G
	`{"$or":[{"name":"alpha","o.k":1},{"n":2.5}]}`, // S
	`{"$and":[{"name":"alpha"},{"o.k":1}]}`,        // S
	`{"name":"alpha","tags":{"$regex":"re"}}`,      // S
	`{"$nor":[{"name":"alpha"},{"n":{"$lt":0}}]}`,  // E
	`{"$nor":[{"name":{"$regex":"a"}}]}`,           // G
	`{"$not":{"name":"alpha"}}`,                    // E
	`{"n":{"$not":{"$gt":1}}}`,                     // E
	`{"name":{"$not":{"$regex":"^a"}}}`,            // G
	`{"_meta.path":"/c/03"}`,                       // E: the record's path, not data.path
	`{"path":{"$gt":"/c/10"}}`,                     // E
	`{"_meta.created":{"$gte":1003}}`,              // E
	`{"_meta.modified":{"$in":[1001,1004]}}`,       // E
	`{"modifiedBy":"alice"}`,                       // E
	`{"modifiedBy":{"$exists":false}}`,             // E
	`{"modifiedBy":null}`,                          // E
	`{"data.name":"alpha"}`,                        // E
	`{"createdBy":{"$exists":false}}`,              // G: a field no record has
	`{"$or":[]}`,                                   // E (parsed as an error? kept if accepted)
	`{"name":{"$in":["alpha","beta","gamma","Delta","zeta","eta","theta","iota","x"]}}`, // E
}

var compareSorts = []string{
	``,
	`"sort":{"n":1}`,
	`"sort":{"n":-1}`,
	`"sort":{"name":1}`,
	`"sort":{"name":-1,"n":1}`,
	`"sort":{"ok":1}`,
	`"sort":{"o.k":-1}`,
	`"sort":{"o.j.1":1}`,
	`"sort":{"_meta.modified":-1}`,
	`"sort":{"modifiedBy":1}`,
	`"sort":{"tags":1}`,
}

var comparePages = []string{``, `"limit":3`, `"skip":2,"limit":4`, `"skip":20`, `"fields":{"name":1,"o.k":1}`, `"path_only":true,"limit":5`}

// loadBoth writes the fixture to both stores with the same times.
func loadBoth(t *testing.T, stores ...store.Store) {
	t.Helper()
	for _, s := range stores {
		for i, f := range compareFixture {
			if _, err := s.Set(context.Background(), f.path, json.RawMessage(f.data),
				store.SetOptions{Now: int64(1000 + i), ModifiedBy: f.by}); err != nil {
				t.Fatalf("Set(%s): %v", f.path, err)
			}
		}
	}
}

func sameRecords(a, b []*store.Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Path != b[i].Path || a[i].Created != b[i].Created || a[i].Modified != b[i].Modified || a[i].ModifiedBy != b[i].ModifiedBy {
			return false
		}
		var x, y any
		ex, ey := json.Unmarshal(a[i].Data, &x), json.Unmarshal(b[i].Data, &y)
		if (ex == nil) != (ey == nil) || !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

func describe(recs []*store.Record) string {
	out := "["
	for _, r := range recs {
		out += r.Path + " "
	}
	return out + "]"
}

// TestSameResultsAsMemory runs every combination of criteria, sort and page
// against the memory store and PostgreSQL: Find, Count and Remove must agree.
func TestSameResultsAsMemory(t *testing.T) {
	pg := open(t, Options{})
	defer pg.Close()
	mem := memory.New()
	defer mem.Close()
	loadBoth(t, pg, mem)
	ctx := context.Background()

	kinds := map[kind]int{}
	for _, crit := range compareCriteria {
		for _, srt := range compareSorts {
			for _, page := range comparePages {
				opts := `{"criteria":` + crit + `,"options":{` + srt
				if srt != "" && page != "" {
					opts += ","
				}
				opts += page + `}}`
				q, err := query.Parse(json.RawMessage(opts))
				if err != nil {
					continue // criteria the parser refuses are not a store matter
				}
				if q.Filter != nil {
					var b builder
					_, k := b.filterSQL(q.Filter)
					kinds[k]++
				}
				for _, pattern := range []string{"/c/*", "*", "/c/0*"} {
					want, werr := mem.Find(ctx, pattern, q)
					got, gerr := pg.Find(ctx, pattern, q)
					if (werr == nil) != (gerr == nil) {
						t.Fatalf("Find(%s, %s): memory err %v, postgres err %v", pattern, opts, werr, gerr)
					}
					if !sameRecords(want, got) {
						t.Errorf("Find(%s, %s):\n memory   %s\n postgres %s", pattern, opts, describe(want), describe(got))
					}
					wn, _ := mem.Count(ctx, pattern, q)
					gn, err := pg.Count(ctx, pattern, q)
					if err != nil || wn != gn {
						t.Errorf("Count(%s, %s): memory %d, postgres %d (%v)", pattern, opts, wn, gn, err)
					}
				}
			}
		}
	}
	// Both kinds of translation, and the fallback, were exercised.
	if kinds[exact] == 0 || kinds[superset] == 0 || kinds[none] == 0 {
		t.Errorf("translation kinds exercised: %v; want exact, superset and none", kinds)
	}

	// Remove narrows by the same criteria in both stores.
	for _, crit := range compareCriteria {
		q, err := query.Parse(json.RawMessage(`{"criteria":` + crit + `}`))
		if err != nil {
			continue
		}
		wn, werr := mem.Remove(ctx, "/c/*", q)
		gn, gerr := pg.Remove(ctx, "/c/*", q)
		if werr != nil || gerr != nil || wn != gn {
			t.Errorf("Remove(/c/*, %s): memory %d (%v), postgres %d (%v)", crit, wn, werr, gn, gerr)
		}
		want, _ := mem.Find(ctx, "*", nil)
		got, _ := pg.Find(ctx, "*", nil)
		if !sameRecords(want, got) {
			t.Errorf("after Remove(/c/*, %s):\n memory   %s\n postgres %s", crit, describe(want), describe(got))
		}
		// Start again from the full fixture.
		if _, err := mem.Remove(ctx, "*", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := pg.Remove(ctx, "*", nil); err != nil {
			t.Fatal(err)
		}
		loadBoth(t, pg, mem)
	}
}

// TestTranslationKinds pins which criteria run in SQL exactly, which are
// narrowed in SQL and finished in Go, and which run in Go only.
func TestTranslationKinds(t *testing.T) {
	cases := map[string]kind{
		`{"name":"a"}`:                          exact,
		`{"n":{"$gt":1},"ok":true}`:             exact,
		`{"$or":[{"a":1},{"b":{"$in":[1,2]}}]}`: exact,
		`{"_meta.created":{"$lt":5}}`:           exact,
		`{"a":{"$regex":"x"}}`:                  none,
		`{"a.b":1}`:                             none,
		`{"a":{"$elemMatch":{"b":1}}}`:          none,
		`{"a":1,"b":{"$regex":"x"}}`:            superset,
		`{"$or":[{"a":1,"b.c":2},{"d":3}]}`:     superset,
		`{"$not":{"a":1,"b.c":2}}`:              none,
	}
	for crit, want := range cases {
		q, err := query.Parse(json.RawMessage(`{"criteria":` + crit + `}`))
		if err != nil {
			t.Fatal(err)
		}
		var b builder
		sql, k := b.filterSQL(q.Filter)
		if k != want {
			t.Errorf("%s: kind %d, want %d (sql %s)", crit, k, want, sql)
		}
		if k == none && len(b.args) != 0 {
			t.Errorf("%s: untranslated criteria left %d parameters", crit, len(b.args))
		}
	}
}

// TestUndecodableNumber checks that a number too large for Go behaves as in
// the memory store: stored and returned, and an error when a query must
// decode it in Go.
func TestUndecodableNumber(t *testing.T) {
	pg := open(t, Options{})
	defer pg.Close()
	mem := memory.New()
	defer mem.Close()
	ctx := context.Background()
	for _, s := range []store.Store{pg, mem} {
		if _, err := s.Set(ctx, "/big", json.RawMessage(`{"n":1e400,"name":"x"}`), store.SetOptions{Now: 1}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := pg.Find(ctx, "/*", nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("Find = %v, %v", got, err)
	}
	q, _ := query.Parse(json.RawMessage(`{"criteria":{"name":{"$regex":"x"}}}`))
	_, merr := mem.Find(ctx, "/*", q)
	_, perr := pg.Find(ctx, "/*", q)
	if (merr == nil) != (perr == nil) {
		t.Errorf("Go-evaluated query over 1e400: memory err %v, postgres err %v", merr, perr)
	}
}

// TestProgrammaticConditions checks conditions built in Go with integer
// values, which the Go matcher compares as numbers.
func TestProgrammaticConditions(t *testing.T) {
	pg := open(t, Options{})
	defer pg.Close()
	mem := memory.New()
	defer mem.Close()
	loadBoth(t, pg, mem)
	ctx := context.Background()
	for _, op := range []string{"$eq", "$ne", "$gt", "$lte"} {
		for _, v := range []any{1, int64(10), float32(2.5), int32(-3)} {
			c, err := query.NewCond("data.n", op, v)
			if err != nil {
				t.Fatal(err)
			}
			q := &query.Query{Filter: c}
			want, _ := mem.Find(ctx, "*", q)
			got, err := pg.Find(ctx, "*", q)
			if err != nil || !sameRecords(want, got) {
				t.Errorf("%s %v (%T): memory %s, postgres %s (%v)", op, v, v, describe(want), describe(got), err)
			}
		}
	}
}
