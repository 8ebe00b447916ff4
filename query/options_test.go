package query

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestParseOptions(t *testing.T) {
	cases := []struct {
		name     string
		raw      string
		sort     []SortKey
		skip     int
		limit    int
		fields   []string
		pathOnly bool
		filter   bool
	}{
		{name: "empty", raw: ``},
		{name: "null", raw: `null`},
		{name: "not an object", raw: `[1,2]`},
		{name: "string", raw: `"x"`},
		{name: "timeout only", raw: `{"timeout":60000,"noStore":true}`},
		{
			name:   "trace_extra get",
			raw:    `{"criteria":{"data.q":1},"options":{"sort":{"path":1},"limit":10},"timeout":60000}`,
			sort:   []SortKey{{Field: "path"}},
			limit:  10,
			filter: true,
		},
		{
			name:     "getPaths",
			raw:      `{"options":{"path_only":true},"timeout":60000}`,
			fields:   []string{"path"},
			pathOnly: true,
		},
		{name: "top-level path_only", raw: `{"path_only":1}`, fields: []string{"path"}, pathOnly: true},
		{
			name: "sort keeps key order and rewrites",
			raw:  `{"options":{"sort":{"z":1,"a":-1,"_meta.modified":1,"_meta.created":-1,"path":-1}}}`,
			sort: []SortKey{{Field: "data.z"}, {Field: "data.a", Desc: true}, {Field: "modified"}, {Field: "created", Desc: true}, {Field: "path", Desc: true}},
		},
		{name: "top-level sort wins", raw: `{"sort":{"b":-1},"options":{"sort":{"a":1}}}`, sort: []SortKey{{Field: "data.b", Desc: true}}},
		{name: "options sort", raw: `{"options":{"sort":{"a":1}}}`, sort: []SortKey{{Field: "data.a"}}},
		{
			name:   "fields rewritten in order",
			raw:    `{"options":{"fields":{"name":1,"_meta.created":1,"_data.x.y":1,"path":1,"data.z":0}}}`,
			fields: []string{"data.name", "created", "data.x.y", "path", "data.z"},
		},
		{name: "options fields win", raw: `{"fields":{"a":1},"options":{"fields":{"b":1}}}`, fields: []string{"data.b"}},
		{name: "top-level fields", raw: `{"fields":{"a":1}}`, fields: []string{"data.a"}},
		{name: "fields override path_only fields", raw: `{"options":{"path_only":true,"fields":{"a":1}}}`, fields: []string{"data.a"}, pathOnly: true},
		{name: "skip and limit", raw: `{"options":{"skip":3,"limit":7}}`, skip: 3, limit: 7},
		{name: "limit truncated", raw: `{"options":{"limit":2.9}}`, limit: 2},
		{name: "top-level skip and limit ignored", raw: `{"skip":3,"limit":7}`},
		{name: "null and false counts", raw: `{"options":{"skip":null,"limit":false}}`},
		{name: "non-object options ignored", raw: `{"options":"x","criteria":{"a":1}}`, filter: true},
		{name: "falsy criteria", raw: `{"criteria":null}`},
		{name: "empty criteria", raw: `{"criteria":{}}`},
		{name: "falsy aggregate ignored", raw: `{"aggregate":null,"options":{"collation":false}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := Parse(json.RawMessage(c.raw))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(q.Sort, c.sort) {
				t.Errorf("Sort = %#v, want %#v", q.Sort, c.sort)
			}
			if q.Skip != c.skip || q.Limit != c.limit {
				t.Errorf("Skip, Limit = %d, %d, want %d, %d", q.Skip, q.Limit, c.skip, c.limit)
			}
			if !reflect.DeepEqual(q.Fields, c.fields) {
				t.Errorf("Fields = %#v, want %#v", q.Fields, c.fields)
			}
			if q.PathOnly != c.pathOnly {
				t.Errorf("PathOnly = %v, want %v", q.PathOnly, c.pathOnly)
			}
			if (q.Filter != nil) != c.filter {
				t.Errorf("Filter = %#v, want present=%v", q.Filter, c.filter)
			}
		})
	}
}

func TestParseDuplicateKeysLastWins(t *testing.T) {
	q := mustParse(t, `{"criteria":{"name":"a","name":"b"}}`)
	wantCond(t, q.Filter, "data.name", "$eq", "b")
}

func TestParseErrors(t *testing.T) {
	deep := strings.Repeat(`{"$and":[`, 400) + strings.Repeat(`]}`, 400)
	cases := []struct {
		raw  string
		want string // exact message, or prefix when it ends with "*"
	}{
		{`{"criteria":{"name":{"$regex":5}}}`, "$regex parameter value must be an Array or a string"},
		{`{"criteria":{"name":{"$regex":{"a":1}}}}`, "$regex parameter value must be an Array or a string"},
		{`{"criteria":{"name":{"$regex":null}}}`, "$regex parameter value must be an Array or a string"},
		{`{"criteria":{"name":{"$foo":1}}}`, "unknown operator: $foo"},
		{`{"criteria":{"$where":"this.a"}}`, "unknown operator: $where"},
		{`{"criteria":{"$or":[{"a":{"$elemMatch":{"b":{"$bad":1}}}}]}}`, "unknown operator: $bad"},
		{`{"criteria":{"a":{"$regex":"(a"}}}`, `invalid $regex "(a": *`},
		{`{"criteria":{"a":{"$regex":"(?=a)b"}}}`, `invalid $regex "(?=a)b": *`},
		{`{"criteria":{"a":{"$regex":["a","x"]}}}`, `invalid $regex flags "x": *`},
		{`{"criteria":{"a":{"$regex":["a","ii"]}}}`, `invalid $regex flags "ii": *`},
		{`{"criteria":{"a":{"$regex":[5]}}}`, "$regex pattern must be a string, got number"},
		{`{"criteria":{"a":{"$regex":["a",5]}}}`, "$regex flags must be a string, got number"},
		{`{"criteria":{"a":{"$options":"i"}}}`, "$options needs a $regex"},
		{`{"criteria":{"a":{"$in":"x"}}}`, "$in needs an array, got string"},
		{`{"criteria":{"a":{"$nin":{}}}}`, "$nin needs an array, got object"},
		{`{"criteria":{"a":{"$all":1}}}`, "$all needs an array, got number"},
		{`{"criteria":{"a":{"$size":1.5}}}`, "$size needs a non-negative integer, got number"},
		{`{"criteria":{"a":{"$size":"2"}}}`, "$size needs a non-negative integer, got string"},
		{`{"criteria":{"$and":{"a":1}}}`, "$and needs an array, got object"},
		{`{"criteria":{"$or":[1]}}`, "$or needs an array of objects, got an element of type number"},
		{`{"criteria":{"$not":[1]}}`, "$not needs an object, got array"},
		{`{"criteria":{"a":{"$not":5}}}`, "$not needs an operator object, got number"},
		{`{"criteria":{"a":{"$elemMatch":5}}}`, "$elemMatch needs an object, got number"},
		{`{"criteria":{"a":{"$gt":1,"b":2}}}`, `criteria for "data.a" mix operators and plain fields`},
		{`{"criteria":"name"}`, "criteria must be an object, got string"},
		{`{"criteria":[1]}`, "criteria must be an object, got array"},
		{`{"options":{"limit":"x"}}`, "limit must be a number, got string"},
		{`{"options":{"skip":-1}}`, "skip must not be negative, got -1"},
		{`{"options":{"limit":true}}`, "limit must be a number, got boolean"},
		{`{"options":{"sort":{"a":"asc"}}}`, `sort direction of "a" must be 1 or -1, got string`},
		{`{"options":{"sort":"a"}}`, "sort must be an object, got string"},
		{`{"fields":"name"}`, "fields must be an object, got string"},
		{`{"criteria":`, "invalid JSON: *"},
		{`{"criteria":{}} {}`, "invalid JSON: unexpected data after the value"},
		{`{"a":1e999}`, "invalid JSON: *"},
		{`{"a":tru}`, "invalid JSON: *"},
		{`{"criteria":` + deep + `}`, "invalid JSON: nested deeper than 256 levels"},
	}
	for _, c := range cases {
		q, err := Parse(json.RawMessage(c.raw))
		if err == nil {
			t.Errorf("Parse(%.60s) = %#v, want error %q", c.raw, q, c.want)
			continue
		}
		got := err.Error()
		if prefix, ok := strings.CutSuffix(c.want, "*"); ok {
			if !strings.HasPrefix(got, prefix) {
				t.Errorf("Parse(%.60s) error %q, want prefix %q", c.raw, got, prefix)
			}
		} else if got != c.want {
			t.Errorf("Parse(%.60s) error %q, want %q", c.raw, got, c.want)
		}
	}
	_, err := Parse(json.RawMessage(`{"criteria":{"a":{"$regex":1}}}`))
	if !errors.Is(err, ErrRegexParam) {
		t.Errorf("errors.Is(%v, ErrRegexParam) = false", err)
	}
}

func TestParseAggregateCollation(t *testing.T) {
	for _, c := range []struct {
		raw                  string
		aggregate, collation string
	}{
		{`{"aggregate":[{"$group":{"_id":"$data.g","n":{"$sum":1}}}]}`, `[{"$group":{"_id":"$data.g","n":{"$sum":1}}}]`, ""},
		{`{"options":{"aggregate":[]}}`, `[]`, ""},
		{`{"aggregate":[{"$limit":1}],"options":{"aggregate":[{"$skip":1}]}}`, `[{"$limit":1}]`, ""},
		{`{"collation":{"locale":"fr","strength":1}}`, "", `{"locale":"fr","strength":1}`},
		{`{"options":{"collation":{"strength":2,"locale":"en"}}}`, "", `{"strength":2,"locale":"en"}`},
		{`{"criteria":{"a":1},"options":{"collation":{"locale":"en"},"aggregate":[{"$count":"n"}]}}`, `[{"$count":"n"}]`, `{"locale":"en"}`},
	} {
		q, err := Parse(json.RawMessage(c.raw))
		if err != nil {
			t.Fatalf("Parse(%s): %v", c.raw, err)
		}
		if string(q.Aggregate) != c.aggregate || string(q.Collation) != c.collation {
			t.Errorf("Parse(%s): Aggregate %s Collation %s, want %s and %s", c.raw, q.Aggregate, q.Collation, c.aggregate, c.collation)
		}
		want := ErrCollation
		if c.aggregate != "" {
			want = ErrAggregate
		}
		if err := q.RefuseMongoOptions(); !errors.Is(err, want) {
			t.Errorf("RefuseMongoOptions of %s = %v, want %v", c.raw, err, want)
		}
	}
	for _, raw := range []string{`{"aggregate":{"$group":{}}}`, `{"options":{"aggregate":"x"}}`, `{"collation":"en"}`, `{"options":{"collation":[1]}}`} {
		if _, err := Parse(json.RawMessage(raw)); err == nil {
			t.Errorf("Parse(%s): want an error", raw)
		}
	}
	if err := (&Query{}).RefuseMongoOptions(); err != nil {
		t.Errorf("RefuseMongoOptions of a plain query = %v", err)
	}
	if err := (*Query)(nil).RefuseMongoOptions(); err != nil {
		t.Errorf("RefuseMongoOptions of nil = %v", err)
	}
	err := PathError(ErrAggregate, "/a/*")
	if err.Error() != "aggregate feature not available for provider on path: /a/*" || !errors.Is(err, ErrAggregate) {
		t.Errorf("PathError(ErrAggregate) = %q", err)
	}
	err = PathError(ErrCollation, "/b")
	if err.Error() != "collation feature not available for provider on path: /b" {
		t.Errorf("PathError(ErrCollation) = %q", err)
	}
}

func docAt(path string, modified int64, data string) map[string]any {
	var d map[string]any
	if err := json.Unmarshal([]byte(data), &d); err != nil {
		panic(err)
	}
	return Doc(path, d, 1, modified, "")
}

func sortedPaths(q *Query, docs []map[string]any) []string {
	docs = append([]map[string]any(nil), docs...)
	sort.SliceStable(docs, func(i, j int) bool { return q.Less(docs[i], docs[j]) })
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d["path"].(string)
	}
	return out
}

func TestLess(t *testing.T) {
	docs := []map[string]any{
		docAt("/c", 1, `{"v":2,"s":"b","g":"x"}`),
		docAt("/a", 5, `{"v":10,"s":"a","g":"y"}`),
		docAt("/b", 3, `{"s":"c","g":"x"}`),
		docAt("/a", 2, `{"v":null,"s":"10","g":"y"}`),
		docAt("/d", 4, `{"v":"7","s":true,"g":"x","o":{"k":1}}`),
	}
	cases := []struct {
		raw  string
		want []string
	}{
		// default order: path then modified, ascending
		{``, []string{"/a", "/a", "/b", "/c", "/d"}},
		{`{"options":{"sort":{"path":-1}}}`, []string{"/d", "/c", "/b", "/a", "/a"}},
		// missing and null first (and tied, so the stable sort keeps /b
		// before /a@2), then numbers, then strings
		{`{"options":{"sort":{"v":1}}}`, []string{"/b", "/a", "/c", "/a", "/d"}},
		{`{"options":{"sort":{"v":-1}}}`, []string{"/d", "/a", "/c", "/b", "/a"}},
		// booleans before strings; strings bytewise
		{`{"options":{"sort":{"s":1}}}`, []string{"/d", "/a", "/a", "/c", "/b"}},
		{`{"options":{"sort":{"g":1,"_meta.modified":-1}}}`, []string{"/d", "/b", "/c", "/a", "/a"}},
		{`{"options":{"sort":{"_meta.modified":1}}}`, []string{"/c", "/a", "/b", "/d", "/a"}},
	}
	for _, c := range cases {
		var q *Query
		if c.raw != "" {
			q = mustParse(t, c.raw)
		}
		if got := sortedPaths(q, docs); !reflect.DeepEqual(got, c.want) {
			t.Errorf("sort %s: got %v, want %v", c.raw, got, c.want)
		}
	}
	// Modified breaks path ties in the default order.
	if !(&Query{}).Less(docs[3], docs[1]) || (&Query{}).Less(docs[1], docs[3]) {
		t.Error("default order must put /a@2 before /a@5")
	}
	// Equal keys are not less either way.
	q := mustParse(t, `{"options":{"sort":{"g":1}}}`)
	if q.Less(docs[0], docs[2]) || q.Less(docs[2], docs[0]) {
		t.Error("docs with equal sort keys must not be Less")
	}
}

func TestPage(t *testing.T) {
	cases := []struct {
		q          *Query
		n          int
		start, end int
	}{
		{nil, 5, 0, 5},
		{&Query{}, 5, 0, 5},
		{&Query{Skip: 2}, 5, 2, 5},
		{&Query{Limit: 2}, 5, 0, 2},
		{&Query{Skip: 1, Limit: 2}, 5, 1, 3},
		{&Query{Skip: 4, Limit: 2}, 5, 4, 5},
		{&Query{Skip: 10, Limit: 2}, 5, 5, 5},
		{&Query{Limit: 10}, 5, 0, 5},
		{&Query{Skip: 1}, 0, 0, 0},
		{&Query{Skip: -3, Limit: 1}, 5, 0, 1},
	}
	for _, c := range cases {
		s, e := c.q.Page(c.n)
		if s != c.start || e != c.end {
			t.Errorf("%+v.Page(%d) = %d, %d, want %d, %d", c.q, c.n, s, e, c.start, c.end)
		}
	}
}

func TestProjectData(t *testing.T) {
	var data map[string]any
	if err := json.Unmarshal([]byte(`{"name":"e","value":4,"nested":{"deep":1,"other":2},"a":{"b":{"c":3}}}`), &data); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		raw  string
		want string
	}{
		{`{}`, `{"a":{"b":{"c":3}},"name":"e","nested":{"deep":1,"other":2},"value":4}`},
		{`{"options":{"fields":{"name":1,"nested":1}}}`, `{"name":"e","nested":{"deep":1,"other":2}}`},
		{`{"options":{"fields":{"nested.deep":1}}}`, `{"nested":{"deep":1}}`},
		{`{"options":{"fields":{"a.b.c":1,"name":1}}}`, `{"a":{"b":{"c":3}},"name":"e"}`},
		{`{"options":{"fields":{"nested.deep":1,"nested":1}}}`, `{"nested":{"deep":1,"other":2}}`},
		{`{"options":{"fields":{"_data.value":1,"data.name":1}}}`, `{"name":"e","value":4}`},
		{`{"options":{"fields":{"missing":1,"name":1}}}`, `{"name":"e"}`},
		{`{"options":{"fields":{"_meta.created":1,"path":1}}}`, `{}`},
		{`{"options":{"path_only":true}}`, `{}`},
	}
	for _, c := range cases {
		got, err := json.Marshal(mustParse(t, c.raw).ProjectData(data))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%s: ProjectData = %s, want %s", c.raw, got, c.want)
		}
	}
	// The source is never modified.
	after, _ := json.Marshal(data)
	if string(after) != `{"a":{"b":{"c":3}},"name":"e","nested":{"deep":1,"other":2},"value":4}` {
		t.Errorf("data modified by projection: %s", after)
	}
	var q *Query
	if got := q.ProjectData(data); !reflect.DeepEqual(got, data) {
		t.Error("nil query must return data unchanged")
	}
}
