package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/storetest"
)

func open(t testing.TB, file string) *Store {
	t.Helper()
	s, err := Open(file, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", file, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "happn.db"))
	})
}

func TestPersistsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "happn.db")
	s := open(t, file)
	if _, err := s.Set(ctx, "/p/a", json.RawMessage(`{"a":1}`), store.SetOptions{Now: 1000, ModifiedBy: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set(ctx, "/p/a", json.RawMessage(`{"b":2}`), store.SetOptions{Now: 2000, Merge: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Increment(ctx, "/p/counter", "n", 7); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Set(ctx, "/p/gone", json.RawMessage(`{}`), store.SetOptions{Now: 1}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Remove(ctx, "/p/gone", nil); err != nil || n != 1 {
		t.Fatalf("Remove = %d, %v", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, file)
	defer s.Close()
	rec, err := s.Get(ctx, "/p/a")
	if err != nil || rec == nil {
		t.Fatalf("Get after reopen = %v, %v", rec, err)
	}
	if string(rec.Data) != `{"a":1,"b":2}` || rec.Created != 1000 || rec.Modified != 2000 || rec.ModifiedBy != "" {
		t.Errorf("after reopen: %+v (data %s)", rec, rec.Data)
	}
	if v, err := s.Increment(ctx, "/p/counter", "n", 1); err != nil || v != 8 {
		t.Errorf("Increment after reopen = %v, %v; want 8", v, err)
	}
	recs, err := s.Find(ctx, "/p/*", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Path != "/p/a" || recs[1].Path != "/p/counter" {
		t.Errorf("Find after reopen: %v", recs)
	}
}

func TestSecondOpenTimesOut(t *testing.T) {
	file := filepath.Join(t.TempDir(), "happn.db")
	s := open(t, file)
	defer s.Close()
	if _, err := Open(file, Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Fatal("second Open of a locked file: want an error")
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := Open("", Options{}); err == nil {
		t.Error("Open(\"\"): want an error")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing-dir", "x.db"), Options{}); err == nil {
		t.Error("Open in a missing directory: want an error")
	}
	bad := filepath.Join(t.TempDir(), "not-a-db")
	if err := os.WriteFile(bad, []byte("this is not a bolt file, just text padding it out to a page......"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad, Options{Timeout: 50 * time.Millisecond}); err == nil {
		t.Error("Open of a non-bolt file: want an error")
	}
}

func TestCorruptValueIsAnError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "happn.db")
	s := open(t, file)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bbolt.Open(file, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketName).Put([]byte("/bad"), []byte{9, 9})
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = open(t, file)
	defer s.Close()
	if _, err := s.Get(context.Background(), "/bad"); err == nil {
		t.Error("Get of a corrupt value: want an error")
	}
	if _, err := s.Find(context.Background(), "/*", nil); err == nil {
		t.Error("Find over a corrupt value: want an error")
	}
}

func TestEncodeDecode(t *testing.T) {
	in := &store.Record{Path: "/x", Data: json.RawMessage(`{"a":[1,2]}`), Created: -5, Modified: 1 << 45, ModifiedBy: "ü-user"}
	out, err := decode([]byte(in.Path), encode(in))
	if err != nil {
		t.Fatal(err)
	}
	if out.Path != in.Path || string(out.Data) != string(in.Data) || out.Created != in.Created || out.Modified != in.Modified || out.ModifiedBy != in.ModifiedBy {
		t.Errorf("round trip: %+v, want %+v", out, in)
	}
	for _, v := range [][]byte{nil, {formatVersion}, {formatVersion, 2, 2, 10, 'a'}} {
		if _, err := decode([]byte("/x"), v); err == nil {
			t.Errorf("decode(%v): want an error", v)
		}
	}
}

// TestConcurrentWritesShareCommits checks that writers queued together are
// committed in fewer transactions than writes.
func TestConcurrentWritesShareCommits(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "happn.db"))
	defer s.Close()
	const writers, each = 16, 20
	ctx := context.Background()
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			for i := range each {
				if _, err := s.Set(ctx, fmt.Sprintf("/c/%d/%d", w, i), json.RawMessage(`{"x":1}`), store.SetOptions{}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Count(ctx, "/c/*", nil)
	if err != nil || n != writers*each {
		t.Fatalf("Count = %d, %v; want %d", n, err, writers*each)
	}
	commits := s.commits.Load()
	t.Logf("%d sets in %d commits", writers*each, commits)
	if commits >= writers*each {
		t.Errorf("%d concurrent sets took %d commits; want them batched", writers*each, commits)
	}
}

func TestClosedWhileQueued(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "happn.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Increment(context.Background(), "/x", "g", 1); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Increment after Close: %v, want ErrClosed", err)
	}
}

func BenchmarkSetParallel(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "happn.db"))
	defer s.Close()
	ctx := context.Background()
	data := json.RawMessage(`{"name":"device","value":42}`)
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Set(ctx, fmt.Sprintf("/bench/%08d", i), data, store.SetOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSetSerial(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "happn.db"))
	defer s.Close()
	ctx := context.Background()
	data := json.RawMessage(`{"name":"device","value":42}`)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Set(ctx, fmt.Sprintf("/bench/%08d", i), data, store.SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s := open(b, filepath.Join(b.TempDir(), "happn.db"))
	defer s.Close()
	ctx := context.Background()
	data := json.RawMessage(`{"name":"device","value":42}`)
	for i := range 1000 {
		if _, err := s.Set(ctx, fmt.Sprintf("/bench/%04d", i), data, store.SetOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if r, err := s.Get(ctx, fmt.Sprintf("/bench/%04d", i%1000)); err != nil || r == nil {
			b.Fatal(r, err)
		}
	}
}
