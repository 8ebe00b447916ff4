package mongo

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// The benchmarks mirror those of store/postgres, so that the two shared
// stores can be compared on one machine (see the README's table).

var benchData = json.RawMessage(`{"name":"sensor","value":42.5,"tags":["a","b"],"meta":{"unit":"C"}}`)

func BenchmarkSet(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.Set(ctx, fmt.Sprintf("/bench/%p/%d", pb, i%1000), benchData, store.SetOptions{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkGet(b *testing.B) {
	s := openTest(b)
	ctx := context.Background()
	for i := range 1000 {
		if _, err := s.Set(ctx, fmt.Sprintf("/bench/%04d", i), benchData, store.SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if r, err := s.Get(ctx, fmt.Sprintf("/bench/%04d", i%1000)); err != nil || r == nil {
				b.Errorf("Get: %v, %v", r, err)
				return
			}
		}
	})
}

// loadBench inserts 10 000 records /bench/00000 … /bench/09999 whose value
// is their number, as the Node.js provider lays them out.
func loadBench(b *testing.B, s *Store) {
	b.Helper()
	data, err := jsonToBSON(benchData)
	if err != nil {
		b.Fatal(err)
	}
	docs := make([]any, 0, 10000)
	for i := range 10000 {
		d := bson.D{}
		elems, _ := data.Elements()
		for _, e := range elems {
			if e.Key() == "value" {
				d = append(d, bson.E{Key: "value", Value: int32(i)})
				continue
			}
			d = append(d, bson.E{Key: e.Key(), Value: e.Value()})
		}
		docs = append(docs, bson.D{{Key: "path", Value: fmt.Sprintf("/bench/%05d", i)}, {Key: "data", Value: d},
			{Key: "created", Value: 1.0}, {Key: "modified", Value: 1.0}})
	}
	if _, err := s.coll.InsertMany(context.Background(), docs); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFindPrefix reads 100 records of 10 000 through a prefix pattern.
func BenchmarkFindPrefix(b *testing.B) {
	s := openTest(b)
	loadBench(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		recs, err := s.Find(ctx, fmt.Sprintf("/bench/%03d*", i%100), nil)
		if err != nil || len(recs) != 100 {
			b.Fatalf("Find: %d records, %v", len(recs), err)
		}
	}
}

// BenchmarkFindQuery runs criteria, a sort and a limit over 10 000 records:
// the 10 largest values below a bound.
func BenchmarkFindQuery(b *testing.B) {
	s := openTest(b)
	loadBench(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		q, err := query.Parse(json.RawMessage(fmt.Sprintf(`{"criteria":{"value":{"$lt":%d},"name":"sensor"},"options":{"sort":{"value":-1},"limit":10}}`, 1000+i%9000)))
		if err != nil {
			b.Fatal(err)
		}
		recs, err := s.Find(ctx, "/bench/*", q)
		if err != nil || len(recs) != 10 {
			b.Fatalf("Find: %d records, %v", len(recs), err)
		}
	}
}
