package query

import (
	"encoding/json"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse and every successful Query to
// Match, Less, Page and ProjectData, none of which may panic.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"criteria":{"data.q":1},"options":{"sort":{"path":1},"limit":10},"timeout":60000}`,
		`{"options":{"path_only":true}}`,
		`{"criteria":{"$and":[{"_meta.created":{"$gte":1}},{"_meta.created":{"$lte":9}}]}}`,
		`{"criteria":{"$or":[{"name":{"$regex":["^A","i"]}},{"tags":{"$containsAny":["x"]}}]}}`,
		`{"criteria":{"items":{"$elemMatch":{"sku":"y","qty":{"$gt":4}}},"scores":{"$elemMatch":{"$lt":5}}}}`,
		`{"criteria":{"a":{"$not":{"$in":[1,2,3,4,5,6,7,8,9]}},"$nor":[{"b":{"$exists":false}}]}}`,
		`{"criteria":{"a.0.b":{"$size":2},"c":{"$all":[1]},"d":{"$contains":"x"}}}`,
		`{"options":{"fields":{"name":1,"a.b":1},"skip":1,"limit":2,"sort":{"x":-1}}}`,
		`{"criteria":{"a":{"$regex":5}}}`,
		`{"aggregate":[]}`,
		`[`,
		`null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	doc := fixture(f)
	other := docAt("/z", 9, `{"name":["x",{"y":[1,{"z":null}]}],"a":[{"b":[1,2]}],"tags":"red"}`)
	f.Fuzz(func(t *testing.T, raw []byte) {
		q, err := Parse(json.RawMessage(raw))
		if err != nil {
			if q != nil {
				t.Fatalf("Parse returned both a query and error %v", err)
			}
			return
		}
		q.Match(doc)
		q.Match(other)
		q.Match(map[string]any{})
		q.Less(doc, other)
		q.Less(other, doc)
		if s, e := q.Page(3); s < 0 || s > e || e > 3 {
			t.Fatalf("Page(3) = %d, %d", s, e)
		}
		data, _ := doc["data"].(map[string]any)
		q.ProjectData(data)
		q.ProjectData(nil)
	})
}

func BenchmarkMatch(b *testing.B) {
	doc := fixture(b)
	for _, bc := range []struct{ name, raw string }{
		{"eq", `{"criteria":{"name":"alice"}}`},
		{"and-range", `{"criteria":{"$and":[{"_meta.created":{"$gte":500}},{"_meta.created":{"$lte":5000}}],"age":{"$gt":20}}}`},
		{"or-in-regex", `{"criteria":{"$or":[{"name":{"$in":["a","b","c","d","e","f","g","h","alice"]}},{"desc":{"$regex":["world","i"]}}]}}`},
		{"elemMatch", `{"criteria":{"items":{"$elemMatch":{"sku":"y","qty":{"$gt":4}}}}}`},
	} {
		q, err := Parse(json.RawMessage(bc.raw))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !q.Match(doc) {
					b.Fatal("expected a match")
				}
			}
		})
	}
}
