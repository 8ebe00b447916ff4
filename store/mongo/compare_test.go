package mongo

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
)

// compareFixture covers the value shapes the criteria treat differently:
// missing and null fields, numbers written in several ways, strings with
// non-ASCII characters, booleans, arrays of scalars and of objects, and
// nested objects. (No arrays of arrays: FerretDB 1.x cannot store them.)
// s holds only numbers, strings and nulls, the values MongoDB and the Go
// stores sort alike.
var compareFixture = []struct {
	path, data, by string
}{
	{"/c/01", `{"name":"alpha","n":1,"s":3,"tags":["red","blue"],"ok":true,"o":{"k":1}}`, "alice"},
	{"/c/02", `{"name":"beta","n":2.5,"s":"b","tags":["blue"],"ok":false,"o":{"k":2,"j":[1,2]}}`, ""},
	{"/c/03", `{"name":"gamma","n":-3,"s":null,"tags":[],"ok":null,"o":{"k":"1"}}`, "bob"},
	{"/c/04", `{"name":"Delta","n":10,"s":-1,"tags":["red","green"],"o":{}}`, ""},
	{"/c/05", `{"name":"épsilon","n":"10","s":"B","tags":"red","o":[{"k":1},{"k":3}]}`, "alice"},
	{"/c/06", `{"name":null,"n":null,"tags":[null,1,2.0],"o":null}`, ""},
	{"/c/07", `{"n":1.0e1,"s":3,"tags":[1,2,3],"o":{"k":{"deep":true}}}`, "carol"},
	{"/c/08", `{"name":"zeta","n":[1,5,9],"s":"é","tags":["b","a"],"ok":"true","o":{"k":[1,2,3]}}`, ""},
	{"/c/09", `{"name":"eta","n":0,"s":0.5,"tags":[{"c":"red"},{"c":"blue"}],"ok":1}`, "bob"},
	{"/c/10", `{"name":"theta","n":-0.5,"s":"a","o":{"k":null}}`, ""},
	{"/c/11", `{"name":"alpha","n":1,"s":3,"tags":["red","blue"],"ok":true}`, "alice"},
	{"/c/12", `{"name":"iota","n":12345678901234567890,"s":1e300,"ok":"false"}`, ""},
	{"/c/13", `{"name":["alpha","beta"],"n":[1,2],"tags":{"red":1}}`, ""},
	{"/c/sub/14", `{"name":"kappa","n":7,"path":"/fake","created":"x"}`, "dave"},
	{"/d/15", `{"name":"alpha","n":1}`, ""},
}

// compareCriteria are run against both stores; the comment says whether
// the translation is meant to be exact (E), a superset (S) or Go only (G).
var compareCriteria = []string{
	`{}`,                                               // E
	`{"name":"alpha"}`,                                 // E
	`{"name":"beta"}`,                                  // E: also matches inside arrays
	`{"name":null}`,                                    // E: null or missing
	`{"name":{"$ne":null}}`,                            // E
	`{"name":{"$ne":"alpha"}}`,                         // E
	`{"n":1}`,                                          // E: 1, 1.0 and [1,5,9]
	`{"n":10}`,                                         // E: 10 and 1.0e1, not "10"
	`{"n":"10"}`,                                       // E
	`{"n":{"$gt":1}}`,                                  // E
	`{"n":{"$gte":1,"$lt":10}}`,                        // E
	`{"n":{"$lte":0}}`,                                 // E
	`{"n":{"$gt":"1"}}`,                                // E: strings only
	`{"name":{"$gte":"b","$lt":"z"}}`,                  // E: byte order, "Delta" < "b"
	`{"name":{"$gt":"e"}}`,                             // E: é sorts after e
	`{"ok":true}`,                                      // E
	`{"ok":false}`,                                     // E
	`{"ok":{"$ne":true}}`,                              // E
	`{"ok":{"$gt":false}}`,                             // G: Go never orders booleans
	`{"ok":{"$exists":true}}`,                          // E
	`{"ok":{"$exists":false}}`,                         // E
	`{"tags":"red"}`,                                   // E: element or the string itself
	`{"tags":["blue"]}`,                                // E: the array itself
	`{"tags":[1,2]}`,                                   // E
	`{"tags":{"$size":2}}`,                             // E
	`{"tags":{"$size":0}}`,                             // E
	`{"tags":{"$in":["red",1]}}`,                       // E
	`{"tags":{"$in":[]}}`,                              // E
	`{"tags":{"$in":[null]}}`,                          // E
	`{"tags":{"$nin":["red","blue"]}}`,                 // E
	`{"tags":{"$all":["red","blue"]}}`,                 // E
	`{"tags":{"$all":[]}}`,                             // E
	`{"tags":{"red":1}}`,                               // G: object equality
	`{"o":{"k":1}}`,                                    // G
	`{"o":{}}`,                                         // G
	`{"o.k":1}`,                                        // E: nested, crossing arrays
	`{"o.k":null}`,                                     // E
	`{"o.k.deep":true}`,                                // E
	`{"o.j.1":2}`,                                      // E: array index
	`{"name":{"$regex":"^al"}}`,                        // E
	`{"name":{"$regex":"A","$options":"i"}}`,           // E
	`{"name":{"$regex":["^(ALPHA|beta)$","i"]}}`,       // E
	`{"tags":{"$elemMatch":{"c":"red"}}}`,              // E
	`{"n":{"$elemMatch":{"$gt":4,"$lt":6}}}`,           // E
	`{"tags":{"$containsAny":["red","b"]}}`,            // G
	`{"name":{"$contains":"ta"}}`,                      // G
	`{"$or":[{"name":"alpha"},{"n":{"$gt":5}}]}`,       // E
	`{"$or":[{"name":"alpha"},{"o":{"k":2}}]}`,         // G
	`{"$or":[{"name":"alpha","o":{"k":1}},{"n":2.5}]}`, // S
	`{"$and":[{"name":"alpha"},{"o":{"k":1}}]}`,        // S
	`{"name":"alpha","tags":{"$containsAny":["r"]}}`,   // S
	`{"$nor":[{"name":"alpha"},{"n":{"$lt":0}}]}`,      // E
	`{"$nor":[{"name":{"$contains":"a"}}]}`,            // G
	`{"$not":{"name":"alpha"}}`,                        // E
	`{"n":{"$not":{"$gt":1}}}`,                         // E
	`{"name":{"$not":{"$regex":"^a"}}}`,                // E
	`{"_meta.path":"/c/03"}`,                           // E: the record's path, not data.path
	`{"path":{"$gt":"/c/10"}}`,                         // E
	`{"_meta.created":{"$gte":1003}}`,                  // E
	`{"_meta.modified":{"$in":[1001,1004]}}`,           // E
	`{"modifiedBy":"alice"}`,                           // E
	`{"modifiedBy":{"$exists":false}}`,                 // E
	`{"modifiedBy":null}`,                              // E
	`{"data.name":"alpha"}`,                            // E
	`{"createdBy":{"$exists":false}}`,                  // G: a field no record has
	`{"_id":{"$exists":true}}`,                         // G: MongoDB's _id is not a happn field
	`{"$or":[]}`,                                       // E: matches nothing
	`{"name":{"$in":["alpha","beta","gamma","Delta","zeta","eta","theta","iota","x"]}}`, // E
}

// compareSorts are the sorts MongoDB and the Go stores agree on: scalar
// numbers, strings and nulls, and the record fields. (MongoDB orders
// booleans after strings and sorts an array by its smallest or largest
// element; the Go stores order booleans first and arrays last.)
var compareSorts = []string{
	``,
	`"sort":{"s":1}`,
	`"sort":{"s":-1}`,
	`"sort":{"s":1,"_meta.created":-1}`,
	`"sort":{"_meta.modified":-1}`,
	`"sort":{"modifiedBy":1}`,
	`"sort":{"path":-1}`,
}

var comparePages = []string{``, `"limit":3`, `"skip":2,"limit":4`, `"skip":20`,
	`"fields":{"name":1,"n":1}`, `"fields":{"name":1,"o.k":1}`, `"path_only":true,"limit":5`}

// loadBoth writes the fixture to the stores with the same times.
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
	var sb strings.Builder
	sb.WriteString("[")
	for _, r := range recs {
		sb.WriteString(r.Path + string(r.Data) + " ")
	}
	return sb.String() + "]"
}

// compare runs one query against both stores.
func compare(t *testing.T, mem, mg store.Store, pattern, opts string) {
	t.Helper()
	ctx := context.Background()
	q, err := query.Parse(json.RawMessage(opts))
	if err != nil {
		return // criteria the parser refuses are not a store matter
	}
	want, werr := mem.Find(ctx, pattern, q)
	got, gerr := mg.Find(ctx, pattern, q)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("Find(%s, %s): memory err %v, mongo err %v", pattern, opts, werr, gerr)
	}
	if !sameRecords(want, got) {
		t.Errorf("Find(%s, %s):\n memory %s\n mongo  %s", pattern, opts, describe(want), describe(got))
	}
	wn, _ := mem.Count(ctx, pattern, q)
	gn, err := mg.Count(ctx, pattern, q)
	if err != nil || wn != gn {
		t.Errorf("Count(%s, %s): memory %d, mongo %d (%v)", pattern, opts, wn, gn, err)
	}
}

// TestSameResultsAsMemory runs criteria, sorts and pages against the
// memory store and MongoDB: Find, Count and Remove must agree.
func TestSameResultsAsMemory(t *testing.T) {
	mg := openTest(t)
	mem := memory.New()
	defer mem.Close()
	loadBoth(t, mg, mem)
	ctx := context.Background()

	kinds := map[kind]int{}
	for _, crit := range compareCriteria {
		if q, err := query.Parse(json.RawMessage(`{"criteria":` + crit + `}`)); err == nil && q.Filter != nil {
			_, k := translate(q.Filter, true)
			kinds[k]++
		}
		for _, pattern := range []string{"/c/*", "*", "/c/0*"} {
			compare(t, mem, mg, pattern, `{"criteria":`+crit+`}`)
		}
		// a query on one exact path
		compare(t, mem, mg, "/c/01", `{"criteria":`+crit+`}`)
	}
	// Both kinds of translation, and the fallback, were exercised.
	if kinds[exact] == 0 || kinds[superset] == 0 || kinds[none] == 0 {
		t.Errorf("translation kinds exercised: %v; want exact, superset and none", kinds)
	}
	for _, crit := range []string{`{}`, `{"name":{"$ne":"alpha"}}`, `{"tags":{"$containsAny":["red","b"]}}`, `{"name":"alpha","tags":{"$containsAny":["r"]}}`} {
		for _, srt := range compareSorts {
			for _, page := range comparePages {
				opts := `{"criteria":` + crit + `,"options":{` + srt
				if srt != "" && page != "" {
					opts += ","
				}
				compare(t, mem, mg, "/c/*", opts+page+`}}`)
			}
		}
	}

	// Remove narrows by the same criteria in both stores.
	for _, crit := range compareCriteria {
		q, err := query.Parse(json.RawMessage(`{"criteria":` + crit + `}`))
		if err != nil {
			continue
		}
		wn, werr := mem.Remove(ctx, "/c/*", q)
		gn, gerr := mg.Remove(ctx, "/c/*", q)
		if werr != nil || gerr != nil || wn != gn {
			t.Errorf("Remove(/c/*, %s): memory %d (%v), mongo %d (%v)", crit, wn, werr, gn, gerr)
		}
		want, _ := mem.Find(ctx, "*", nil)
		got, _ := mg.Find(ctx, "*", nil)
		if !sameRecords(want, got) {
			t.Errorf("after Remove(/c/*, %s):\n memory %s\n mongo  %s", crit, describe(want), describe(got))
		}
		// Start again from the full fixture.
		if _, err := mem.Remove(ctx, "*", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := mg.Remove(ctx, "*", nil); err != nil {
			t.Fatal(err)
		}
		loadBoth(t, mg, mem)
	}
}

// TestProgrammaticConditions checks conditions built in Go with integer
// values, which the Go matcher compares as numbers.
func TestProgrammaticConditions(t *testing.T) {
	mg := openTest(t)
	mem := memory.New()
	defer mem.Close()
	loadBoth(t, mg, mem)
	ctx := context.Background()
	for _, op := range []string{"$eq", "$ne", "$gt", "$lte"} {
		for _, v := range []any{1, int64(10), float32(2.5), int32(-3)} {
			c, err := query.NewCond("data.n", op, v)
			if err != nil {
				t.Fatal(err)
			}
			q := &query.Query{Filter: c}
			want, _ := mem.Find(ctx, "*", q)
			got, err := mg.Find(ctx, "*", q)
			if err != nil || !sameRecords(want, got) {
				t.Errorf("%s %v (%T): memory %s, mongo %s (%v)", op, v, v, describe(want), describe(got), err)
			}
		}
	}
}
