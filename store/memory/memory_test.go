package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return New() })
}

func TestLen(t *testing.T) {
	s := New()
	ctx := context.Background()
	for i := range 10 {
		if _, err := s.Set(ctx, fmt.Sprintf("/l/%d", i), json.RawMessage(`{}`), store.SetOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Set(ctx, "/l/3", json.RawMessage(`{"again":1}`), store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 10 {
		t.Errorf("Len = %d, want 10", n)
	}
	if _, err := s.Remove(ctx, "/l/*", nil); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 0 {
		t.Errorf("Len after Remove = %d, want 0", n)
	}
}

const benchRecords = 100_000

var benchData = json.RawMessage(`{"name":"device","value":42,"tags":["a","b"],"nested":{"x":1}}`)

// filled returns a store holding benchRecords records under /bench/<group>/<n>.
func filled(b *testing.B) *Store {
	b.Helper()
	s := New()
	ctx := context.Background()
	for i := range benchRecords {
		p := fmt.Sprintf("/bench/%03d/%06d", i%1000, i)
		if _, err := s.Set(ctx, p, benchData, store.SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkSet(b *testing.B) {
	s := filled(b)
	ctx := context.Background()
	paths := make([]string, 1024)
	for i := range paths {
		paths[i] = fmt.Sprintf("/bench/%03d/%06d", i%1000, i*97)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Set(ctx, paths[i%len(paths)], benchData, store.SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s := filled(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if r, err := s.Get(ctx, fmt.Sprintf("/bench/%03d/%06d", i%1000, i%1000)); err != nil || r == nil {
			b.Fatal(r, err)
		}
	}
}

func BenchmarkFindPrefix(b *testing.B) {
	s := filled(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		recs, err := s.Find(ctx, fmt.Sprintf("/bench/%03d/*", i%1000), nil)
		if err != nil || len(recs) != benchRecords/1000 {
			b.Fatal(len(recs), err)
		}
	}
}
