package query

import (
	"encoding/json"
	"fmt"
	"testing"
)

// fixture is the document most criteria tests run against.
func fixture(t testing.TB) map[string]any {
	t.Helper()
	var data map[string]any
	err := json.Unmarshal([]byte(`{
		"name": "alice", "age": 30, "tags": ["red", "blue"],
		"address": {"city": "Paris", "zip": "75001"},
		"items": [{"sku": "x", "qty": 2}, {"sku": "y", "qty": 5}],
		"scores": [70, 82], "nick": null, "desc": "Hello World",
		"multi": "a\nb", "active": true, "matrix": [[1, 2], [3]]
	}`), &data)
	if err != nil {
		t.Fatal(err)
	}
	return Doc("/a/1", data, 1000, 2000, "admin")
}

func mustParse(t testing.TB, raw string) *Query {
	t.Helper()
	q, err := Parse(json.RawMessage(raw))
	if err != nil {
		t.Fatalf("Parse(%s): %v", raw, err)
	}
	return q
}

func TestMatchOperators(t *testing.T) {
	doc := fixture(t)
	cases := []struct {
		criteria string
		want     bool
	}{
		// plain equality and field rewriting
		{`{"name":"alice"}`, true},
		{`{"name":"bob"}`, false},
		{`{"data.name":"alice"}`, true},
		{`{"_data.name":"alice"}`, true},
		{`{"path":"/a/1"}`, true},
		{`{"_meta.path":"/a/1"}`, true},
		{`{"_meta.path":"/a/2"}`, false},
		{`{"_meta.created":1000}`, true},
		{`{"created":1000,"modified":2000}`, true},
		{`{"modifiedBy":"admin"}`, true},
		{`{"_meta.modifiedBy":"root"}`, false},
		{`{"address.city":"Paris"}`, true},
		{`{"address.city":"Rome"}`, false},
		{`{"active":true}`, true},
		{`{"address":{"city":"Paris","zip":"75001"}}`, true},
		{`{"address":{"city":"Paris"}}`, false},
		// $eq / $ne
		{`{"age":{"$eq":30}}`, true},
		{`{"age":{"$eq":"30"}}`, false},
		{`{"age":{"$ne":30}}`, false},
		{`{"age":{"$ne":31}}`, true},
		{`{"missing":{"$ne":1}}`, true},
		{`{"tags":{"$ne":"red"}}`, false},
		// null matches null and missing; $exists tells them apart
		{`{"nick":null}`, true},
		{`{"missing":null}`, true},
		{`{"name":null}`, false},
		{`{"nick":{"$exists":true}}`, true},
		{`{"missing":{"$exists":true}}`, false},
		{`{"missing":{"$exists":false}}`, true},
		{`{"name":{"$exists":false}}`, false},
		{`{"name":{"$exists":1}}`, true},
		// comparisons
		{`{"age":{"$gt":29}}`, true},
		{`{"age":{"$gt":30}}`, false},
		{`{"age":{"$gte":30}}`, true},
		{`{"age":{"$lt":31}}`, true},
		{`{"age":{"$lt":30}}`, false},
		{`{"age":{"$lte":29}}`, false},
		{`{"age":{"$lte":30}}`, true},
		{`{"age":{"$gt":"20"}}`, false},
		{`{"name":{"$lt":5}}`, false},
		{`{"name":{"$gt":"al"}}`, true},
		{`{"name":{"$lt":"alice"}}`, false},
		{`{"name":{"$lte":"alice"}}`, true},
		{`{"missing":{"$lt":100}}`, false},
		{`{"scores":{"$gt":80}}`, true},
		{`{"scores":{"$gt":90}}`, false},
		{`{"_meta.created":{"$gte":1000,"$lte":1000}}`, true},
		{`{"age":{"$gt":10,"$lt":20}}`, false},
		// arrays: equality against an element or the whole array
		{`{"tags":"red"}`, true},
		{`{"tags":"green"}`, false},
		{`{"tags":["red","blue"]}`, true},
		{`{"tags":["blue","red"]}`, false},
		{`{"matrix":[3]}`, true},
		// $in / $nin
		{`{"tags":{"$in":["green","blue"]}}`, true},
		{`{"tags":{"$in":["green"]}}`, false},
		{`{"name":{"$in":["bob","alice"]}}`, true},
		{`{"name":{"$in":[]}}`, false},
		{`{"tags":{"$nin":["blue"]}}`, false},
		{`{"name":{"$nin":["bob"]}}`, true},
		{`{"missing":{"$nin":["a"]}}`, true},
		{`{"missing":{"$in":[null]}}`, true},
		{`{"name":{"$in":["a","b","c","d","e","f","g","h","alice"]}}`, true},
		{`{"name":{"$in":["a","b","c","d","e","f","g","h","i"]}}`, false},
		{`{"age":{"$in":[1,2,3,4,5,6,7,8,30]}}`, true},
		{`{"tags":{"$in":["a","b","c","d","e","f","g","h","red"]}}`, true},
		{`{"missing":{"$in":["a","b","c","d","e","f","g","h",null]}}`, true},
		{`{"address":{"$in":[{"city":"Paris","zip":"75001"}]}}`, true},
		// $regex
		{`{"desc":{"$regex":"^Hello"}}`, true},
		{`{"desc":{"$regex":"^hello"}}`, false},
		{`{"desc":{"$regex":["^hello","i"]}}`, true},
		{`{"desc":{"$regex":["World$"]}}`, true},
		{`{"desc":{"$regex":"hello","$options":"i"}}`, true},
		{`{"desc":{"$regex":["hello","gi"]}}`, true},
		{`{"tags":{"$regex":"^bl"}}`, true},
		{`{"age":{"$regex":"3"}}`, false},
		{`{"multi":{"$regex":"^b$"}}`, false},
		{`{"multi":{"$regex":["^b$","m"]}}`, true},
		{`{"multi":{"$regex":"a.b"}}`, false},
		{`{"multi":{"$regex":["a.b","s"]}}`, true},
		{`{"path":{"$regex":"^/a/"}}`, true},
		// logical operators
		{`{"$and":[{"age":{"$gte":30}},{"name":"alice"}]}`, true},
		{`{"$and":[{"age":{"$gte":30}},{"name":"bob"}]}`, false},
		{`{"$and":[]}`, true},
		{`{"$or":[{"name":"bob"},{"age":30}]}`, true},
		{`{"$or":[{"name":"bob"},{"age":31}]}`, false},
		{`{"$or":[]}`, false},
		{`{"$nor":[{"name":"bob"},{"age":31}]}`, true},
		{`{"$nor":[{"name":"bob"},{"age":30}]}`, false},
		{`{"$not":{"name":"alice"}}`, false},
		{`{"$not":{"name":"bob"}}`, true},
		{`{"age":{"$not":{"$gt":40}}}`, true},
		{`{"age":{"$not":{"$gt":20}}}`, false},
		{`{"missing":{"$not":{"$gt":1}}}`, true},
		{`{"name":"alice","age":{"$gt":100}}`, false},
		{`{"$or":[{"$and":[{"name":"alice"},{"tags":"blue"}]},{"age":0}]}`, true},
		// paths through arrays of documents
		{`{"items.sku":"y"}`, true},
		{`{"items.sku":"z"}`, false},
		{`{"items.qty":{"$gt":4}}`, true},
		{`{"items.qty":{"$gt":5}}`, false},
		{`{"items.1.sku":"y"}`, true},
		{`{"items.0.sku":"y"}`, false},
		{`{"tags.0":"red"}`, true},
		{`{"tags.5":"red"}`, false},
		// $elemMatch: fields inside are relative to the element
		{`{"items":{"$elemMatch":{"sku":"y","qty":{"$gt":4}}}}`, true},
		{`{"items":{"$elemMatch":{"sku":"x","qty":{"$gt":4}}}}`, false},
		{`{"items":{"$elemMatch":{"$or":[{"sku":"q"},{"qty":2}]}}}`, true},
		{`{"scores":{"$elemMatch":{"$gt":80,"$lt":85}}}`, true},
		{`{"scores":{"$elemMatch":{"$gt":85}}}`, false},
		{`{"name":{"$elemMatch":{"$eq":"alice"}}}`, false},
		{`{"missing":{"$elemMatch":{"a":1}}}`, false},
		// $size / $all
		{`{"tags":{"$size":2}}`, true},
		{`{"tags":{"$size":3}}`, false},
		{`{"name":{"$size":5}}`, false},
		{`{"tags":{"$all":["blue","red"]}}`, true},
		{`{"tags":{"$all":["red","green"]}}`, false},
		{`{"tags":{"$all":[]}}`, false},
		{`{"name":{"$all":["alice"]}}`, true},
		// lokijs $containsAny / $contains
		{`{"tags":{"$containsAny":["green","red"]}}`, true},
		{`{"tags":{"$containsAny":["green"]}}`, false},
		{`{"tags":{"$containsAny":"red"}}`, true},
		{`{"tags":{"$containsAny":[]}}`, false},
		{`{"desc":{"$containsAny":["xyz","World"]}}`, true},
		{`{"desc":{"$containsAny":"Wor"}}`, true},
		{`{"desc":{"$containsAny":"wor"}}`, false},
		{`{"scores":{"$containsAny":[82]}}`, true},
		{`{"address":{"$containsAny":["zip","x"]}}`, true},
		{`{"missing":{"$containsAny":["a"]}}`, false},
		{`{"tags":{"$contains":["red","blue"]}}`, true},
		{`{"tags":{"$contains":["red","green"]}}`, false},
		{`{"tags":{"$contains":"blue"}}`, true},
		{`{"desc":{"$contains":"lo W"}}`, true},
		{`{"desc":{"$contains":["Hello","World"]}}`, true},
		{`{"desc":{"$contains":["Hello","Moon"]}}`, false},
		{`{"address":{"$contains":"city"}}`, true},
		{`{"address":{"$contains":"country"}}`, false},
	}
	for _, c := range cases {
		q := mustParse(t, `{"criteria":`+c.criteria+`}`)
		if got := q.Match(doc); got != c.want {
			t.Errorf("criteria %s: Match = %v, want %v", c.criteria, got, c.want)
		}
	}
}

func TestMatchNilQuery(t *testing.T) {
	doc := fixture(t)
	var q *Query
	if !q.Match(doc) {
		t.Error("nil query must match everything")
	}
	if !(&Query{}).Match(doc) {
		t.Error("query without filter must match everything")
	}
	if !mustParse(t, `{"criteria":{}}`).Match(doc) {
		t.Error("empty criteria must match everything")
	}
}

func TestMatchNonJSONNumberTypes(t *testing.T) {
	doc := map[string]any{"data": map[string]any{"n": 5, "m": int64(7)}, "created": float64(1)}
	for _, c := range []struct {
		criteria string
		want     bool
	}{
		{`{"n":5}`, true},
		{`{"n":{"$gt":4}}`, true},
		{`{"m":{"$in":[7]}}`, true},
		{`{"m":{"$lt":7}}`, false},
	} {
		if got := mustParse(t, `{"criteria":`+c.criteria+`}`).Match(doc); got != c.want {
			t.Errorf("%s: got %v, want %v", c.criteria, got, c.want)
		}
	}
}

func TestCondLiteralAndNewCond(t *testing.T) {
	doc := fixture(t)
	// A Cond literal (not precompiled) still evaluates correctly.
	lit := &Cond{Field: "data.age", Op: "$gte", Value: 30.0}
	if !lit.Match(doc) {
		t.Error("Cond literal $gte 30 should match age 30")
	}
	bad := &Cond{Field: "data.age", Op: "$nope", Value: 1.0}
	if bad.Match(doc) {
		t.Error("a Cond with an unknown operator must not match")
	}
	c, err := NewCond("data.desc", "$regex", "World")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Match(doc) {
		t.Error("NewCond $regex from a string should match")
	}
	if rx, ok := c.Value.(*Regex); !ok || rx.Pattern != "World" {
		t.Errorf("NewCond $regex Value = %#v, want *Regex{Pattern:World}", c.Value)
	}
	if _, err := NewCond("data.x", "$bogus", 1.0); err == nil || err.Error() != "unknown operator: $bogus" {
		t.Errorf("NewCond unknown op error = %v", err)
	}
	if _, err := NewCond("data.x", "$in", "notalist"); err == nil {
		t.Error("NewCond $in with a non-array must fail")
	}
	if _, err := NewCond("data.x", "$exists", "yes"); err == nil {
		t.Error("NewCond $exists with a non-bool must fail")
	}
	// Hand-built trees evaluate too.
	tree := Or{Not{Expr: lit}, &ElemMatch{Field: "data.items", Expr: &Cond{Field: "sku", Op: "$eq", Value: "y"}}}
	if !tree.Match(doc) {
		t.Error("hand-built Or/ElemMatch tree should match")
	}
	if (Nor{tree}).Match(doc) {
		t.Error("Nor of a matching expression must not match")
	}
}

func TestExprTree(t *testing.T) {
	q := mustParse(t, `{"criteria":{"$or":[{"name":"a"},{"_meta.created":{"$gt":1}}],"items":{"$elemMatch":{"sku":"y","qty":{"$gt":4}}},"tags":{"$not":{"$in":["x"]}},"re":{"$regex":["^a","i"]}}}`)
	and, ok := q.Filter.(And)
	if !ok || len(and) != 4 {
		t.Fatalf("Filter = %#v, want And of 4", q.Filter)
	}
	or, ok := and[0].(Or)
	if !ok || len(or) != 2 {
		t.Fatalf("and[0] = %#v, want Or of 2", and[0])
	}
	wantCond(t, or[0], "data.name", "$eq", "a")
	wantCond(t, or[1], "created", "$gt", 1.0)
	em, ok := and[1].(*ElemMatch)
	if !ok || em.Field != "data.items" {
		t.Fatalf("and[1] = %#v, want ElemMatch on data.items", and[1])
	}
	inner, ok := em.Expr.(And)
	if !ok || len(inner) != 2 {
		t.Fatalf("elemMatch expr = %#v", em.Expr)
	}
	wantCond(t, inner[0], "sku", "$eq", "y") // not rewritten to data.sku
	wantCond(t, inner[1], "qty", "$gt", 4.0)
	not, ok := and[2].(Not)
	if !ok {
		t.Fatalf("and[2] = %#v, want Not", and[2])
	}
	in := wantCond(t, not.Expr, "data.tags", "$in", nil)
	if fmt.Sprint(in.Value) != "[x]" {
		t.Errorf("$in value = %v", in.Value)
	}
	re := wantCond(t, and[3], "data.re", "$regex", nil)
	rx, ok := re.Value.(*Regex)
	if !ok || rx.Pattern != "^a" || rx.Flags != "i" || !rx.Re.MatchString("Abc") {
		t.Errorf("$regex value = %#v", re.Value)
	}

	// getCreatedBetween's criteria.
	q = mustParse(t, `{"criteria":{"$and":[{"_meta.created":{"$gte":5}},{"_meta.created":{"$lte":9}}]}}`)
	and, ok = q.Filter.(And)
	if !ok || len(and) != 2 {
		t.Fatalf("Filter = %#v", q.Filter)
	}
	wantCond(t, and[0], "created", "$gte", 5.0)
	wantCond(t, and[1], "created", "$lte", 9.0)
}

func wantCond(t *testing.T, e Expr, field, op string, value any) *Cond {
	t.Helper()
	c, ok := e.(*Cond)
	if !ok {
		t.Fatalf("expr = %#v, want *Cond", e)
	}
	if c.Field != field || c.Op != op || (value != nil && c.Value != value) {
		t.Errorf("Cond = {%q %q %#v}, want {%q %q %#v}", c.Field, c.Op, c.Value, field, op, value)
	}
	return c
}

func TestRewriteField(t *testing.T) {
	cases := map[string]string{
		"name":             "data.name",
		"a.b":              "data.a.b",
		"data.name":        "data.name",
		"data":             "data.data",
		"_data.x.y":        "data.x.y",
		"$or":              "$or",
		"path":             "path",
		"created":          "created",
		"modified":         "modified",
		"modifiedBy":       "modifiedBy",
		"createdBy":        "createdBy",
		"timestamp":        "timestamp",
		"_id":              "_id",
		"_meta":            "_meta",
		"_meta.path":       "path",
		"_meta.created":    "created",
		"_meta.modified":   "modified",
		"_meta.modifiedBy": "modifiedBy",
		"_meta.other":      "data._meta.other",
		"Path":             "data.Path",
	}
	for in, want := range cases {
		if got := RewriteField(in); got != want {
			t.Errorf("RewriteField(%q) = %q, want %q", in, got, want)
		}
	}
}
