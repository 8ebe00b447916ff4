package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

var benchData = json.RawMessage(`{"name":"sensor","value":42.5,"tags":["a","b"],"meta":{"unit":"C"}}`)

func BenchmarkSet(b *testing.B) {
	s := open(b, Options{})
	defer s.Close()
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
	s := open(b, Options{})
	defer s.Close()
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
// is their number.
func loadBench(b *testing.B, s *Store) {
	b.Helper()
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `INSERT INTO `+s.table+` (path, data, raw, created, modified)
		SELECT '/bench/' || lpad(i::text, 5, '0'), d, d::text, 1, 1
		FROM generate_series(0, 9999) AS i, jsonb_set($1::text::jsonb, '{value}', to_jsonb(i)) AS d`, string(benchData)); err != nil {
		b.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, "ANALYZE "+s.table); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFindPrefix reads 100 records of 10 000 through a prefix pattern.
func BenchmarkFindPrefix(b *testing.B) {
	s := open(b, Options{})
	defer s.Close()
	ctx := context.Background()
	loadBench(b, s)
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
	s := open(b, Options{})
	defer s.Close()
	ctx := context.Background()
	loadBench(b, s)
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
