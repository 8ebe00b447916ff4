// Package bolt is the embedded persistent happn datastore, kept in one file
// by go.etcd.io/bbolt. Keys are the record paths (bbolt keeps keys in byte
// order, so a pattern with a literal prefix seeks to it), values a compact
// binary header followed by the raw JSON data.
//
// Writes from concurrent callers are group-committed: a single writer
// goroutine takes every write queued while the previous transaction was
// committing and applies them in one transaction (one fsync), so a lone
// writer is not delayed by a batching timer and many writers share the
// cost of a sync.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// bucketName is the bbolt bucket holding the records.
var bucketName = []byte("happn")

// formatVersion is the first byte of every encoded value.
const formatVersion = 1

// defaultMaxBatch bounds the writes applied in one transaction.
const defaultMaxBatch = 1000

// Options tune the file store. The zero value is ready to use.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process; 0 waits one second.
	Timeout time.Duration
	// NoSync skips the fsync after each commit: faster, but the last
	// writes can be lost on a machine crash (not on a process crash).
	NoSync bool
	// MaxBatch bounds how many queued writes share one transaction;
	// 0 means 1000.
	MaxBatch int
}

// Store is a bbolt-backed [store.Store].
type Store struct {
	db       *bbolt.DB
	writes   chan *writeOp
	maxBatch int

	closeMu sync.RWMutex // held for reading while a write is queued
	closed  bool
	done    chan struct{} // closed when the writer goroutine exits
	commits atomic.Int64  // transactions committed by the writer
}

var _ store.Store = (*Store)(nil)

// writeOp is one queued write. fn runs inside the shared transaction; it
// must validate before it changes anything, so that its error leaves the
// transaction intact for the other writes of the batch.
type writeOp struct {
	ctx  context.Context
	fn   func(b *bbolt.Bucket) error
	done chan error
}

// Open opens (creating when absent) the store file at path.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("bolt: empty file name")
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = time.Second
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("bolt: opening %s: %w", path, err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketName)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: preparing %s: %w", path, err)
	}
	s := &Store{
		db:       db,
		writes:   make(chan *writeOp, 256),
		maxBatch: opts.MaxBatch,
		done:     make(chan struct{}),
	}
	if s.maxBatch <= 0 {
		s.maxBatch = defaultMaxBatch
	}
	go s.writer()
	return s, nil
}

// writer applies queued writes, batching those that queued up during the
// previous commit into one transaction.
func (s *Store) writer() {
	defer close(s.done)
	batch := make([]*writeOp, 0, s.maxBatch)
	for op := range s.writes {
		batch = append(batch[:0], op)
	drain:
		for len(batch) < s.maxBatch {
			select {
			case next, ok := <-s.writes:
				if !ok {
					break drain
				}
				batch = append(batch, next)
			default:
				break drain
			}
		}
		s.commit(batch)
	}
}

// commit runs a batch in one transaction and reports to every writer.
func (s *Store) commit(batch []*writeOp) {
	results := make([]error, len(batch))
	s.commits.Add(1)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketName)
		for i, op := range batch {
			if err := op.ctx.Err(); err != nil {
				results[i] = err
				continue
			}
			results[i] = op.fn(b)
		}
		return nil
	})
	for i, op := range batch {
		if err != nil {
			op.done <- fmt.Errorf("bolt: commit: %w", err)
			continue
		}
		op.done <- results[i]
	}
}

// write queues fn and waits for its transaction to commit.
func (s *Store) write(ctx context.Context, fn func(b *bbolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		return store.ErrClosed
	}
	s.writes <- op
	s.closeMu.RUnlock()
	return <-op.done
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(b *bbolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return s.db.View(func(tx *bbolt.Tx) error { return fn(tx.Bucket(bucketName)) })
}

// encode lays out a record value: version byte, created and modified as
// varints, modifiedBy as a length-prefixed string, then the JSON data.
func encode(r *store.Record) []byte {
	buf := make([]byte, 0, 1+3*binary.MaxVarintLen64+len(r.ModifiedBy)+len(r.Data))
	buf = append(buf, formatVersion)
	buf = binary.AppendVarint(buf, r.Created)
	buf = binary.AppendVarint(buf, r.Modified)
	buf = binary.AppendUvarint(buf, uint64(len(r.ModifiedBy)))
	buf = append(buf, r.ModifiedBy...)
	return append(buf, r.Data...)
}

// decode reads a value written by encode. The result does not alias v,
// which bbolt invalidates when its transaction ends.
func decode(path []byte, v []byte) (*store.Record, error) {
	bad := func(what string) error {
		return fmt.Errorf("bolt: corrupt record %q: %s", path, what)
	}
	if len(v) == 0 || v[0] != formatVersion {
		return nil, bad("unknown format")
	}
	v = v[1:]
	created, n := binary.Varint(v)
	if n <= 0 {
		return nil, bad("created")
	}
	v = v[n:]
	modified, n := binary.Varint(v)
	if n <= 0 {
		return nil, bad("modified")
	}
	v = v[n:]
	l, n := binary.Uvarint(v)
	if n <= 0 || uint64(len(v)-n) < l {
		return nil, bad("modifiedBy")
	}
	v = v[n:]
	by := string(v[:l])
	return &store.Record{
		Path:       string(path),
		Created:    created,
		Modified:   modified,
		ModifiedBy: by,
		Data:       bytes.Clone(v[l:]),
	}, nil
}

// load returns the record at path in b, or nil.
func load(b *bbolt.Bucket, path string) (*store.Record, error) {
	v := b.Get([]byte(path))
	if v == nil {
		return nil, nil
	}
	return decode([]byte(path), v)
}

// Get returns the record at path, or nil.
func (s *Store) Get(ctx context.Context, path string) (*store.Record, error) {
	var rec *store.Record
	err := s.view(ctx, func(b *bbolt.Bucket) error {
		var err error
		rec, err = load(b, path)
		return err
	})
	return rec, err
}

// put writes rec at its path, keeping the Created of old when old is not nil.
func put(b *bbolt.Bucket, old, rec *store.Record) error {
	if old != nil {
		rec.Created = old.Created
	}
	if err := b.Put([]byte(rec.Path), encode(rec)); err != nil {
		return fmt.Errorf("bolt: writing %q: %w", rec.Path, err)
	}
	return nil
}

// Set writes data at path (merging it into the existing object when
// opts.Merge is set) and returns the stored record.
func (s *Store) Set(ctx context.Context, path string, data json.RawMessage, opts store.SetOptions) (*store.Record, error) {
	now, err := store.CheckSet(ctx, path, data, opts)
	if err != nil {
		return nil, err
	}
	data = bytes.Clone(data)
	var out *store.Record
	err = s.write(ctx, func(b *bbolt.Bucket) error {
		rec := &store.Record{Path: path, Data: data, Created: now, Modified: now, ModifiedBy: opts.ModifiedBy}
		old, err := load(b, path)
		if err != nil {
			return err
		}
		if opts.Merge && old != nil {
			if rec.Data, err = store.MergeObjects(old.Data, data); err != nil {
				return err
			}
		}
		if err := put(b, old, rec); err != nil {
			return err
		}
		out = rec
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Increment atomically adds by to data[gauge].value at path and returns the
// new total.
func (s *Store) Increment(ctx context.Context, path, gauge string, by float64) (float64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if path == "" {
		return 0, store.ErrEmptyPath
	}
	now := store.WriteTime(store.SetOptions{})
	var total float64
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		old, err := load(b, path)
		if err != nil {
			return err
		}
		rec := &store.Record{Path: path, Created: now, Modified: now}
		var oldData json.RawMessage
		if old != nil {
			oldData, rec.ModifiedBy = old.Data, old.ModifiedBy
		}
		var t float64
		if rec.Data, t, err = store.AddToGauge(oldData, gauge, by); err != nil {
			return err
		}
		if err := put(b, old, rec); err != nil {
			return err
		}
		total = t
		return nil
	})
	return total, err
}

// scan calls visit for each record matching pattern, in path order, until
// visit returns false. It checks ctx every so often.
func scan(ctx context.Context, b *bbolt.Bucket, pattern string, visit func(k, v []byte) (bool, error)) error {
	if !pathmatch.HasWildcard(pattern) {
		if v := b.Get([]byte(pattern)); v != nil {
			_, err := visit([]byte(pattern), v)
			return err
		}
		return nil
	}
	prefix := pathmatch.LiteralPrefix(pattern)
	onlyPrefix := strings.TrimRight(pattern[len(prefix):], "*") == ""
	c := b.Cursor()
	var k, v []byte
	if prefix == "" {
		k, v = c.First()
	} else {
		k, v = c.Seek([]byte(prefix))
	}
	for n := 0; k != nil && bytes.HasPrefix(k, []byte(prefix)); k, v = c.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !onlyPrefix && !pathmatch.Glob(pattern, string(k)) {
			continue
		}
		more, err := visit(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// candidates decodes the records matching pattern.
func (s *Store) candidates(ctx context.Context, pattern string) ([]*store.Record, error) {
	var recs []*store.Record
	err := s.view(ctx, func(b *bbolt.Bucket) error {
		return scan(ctx, b, pattern, func(k, v []byte) (bool, error) {
			r, err := decode(k, v)
			if err != nil {
				return false, err
			}
			recs = append(recs, r)
			return true, nil
		})
	})
	return recs, err
}

// Find returns the records matching pattern and q.
func (s *Store) Find(ctx context.Context, pattern string, q *query.Query) ([]*store.Record, error) {
	recs, err := s.candidates(ctx, pattern)
	if err != nil {
		return nil, err
	}
	out, err := store.Refine(ctx, recs, q, nil)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []*store.Record{}
	}
	return out, nil
}

// Count returns how many records Find would return.
func (s *Store) Count(ctx context.Context, pattern string, q *query.Query) (int, error) {
	if q == nil {
		n := 0
		err := s.view(ctx, func(b *bbolt.Bucket) error {
			return scan(ctx, b, pattern, func(_, _ []byte) (bool, error) { n++; return true, nil })
		})
		return n, err
	}
	recs, err := s.candidates(ctx, pattern)
	if err != nil {
		return 0, err
	}
	return store.RefineCount(ctx, recs, q, nil)
}

// Remove deletes the records matching pattern and q's filter and returns how
// many were removed.
func (s *Store) Remove(ctx context.Context, pattern string, q *query.Query) (int, error) {
	var removed int
	err := s.write(ctx, func(b *bbolt.Bucket) error {
		var recs []*store.Record
		err := scan(ctx, b, pattern, func(k, v []byte) (bool, error) {
			r, err := decode(k, v)
			if err != nil {
				return false, err
			}
			recs = append(recs, r)
			return true, nil
		})
		if err != nil {
			return err
		}
		if recs, err = store.Filter(ctx, recs, q, nil); err != nil {
			return err
		}
		for _, r := range recs {
			if err := b.Delete([]byte(r.Path)); err != nil {
				return fmt.Errorf("bolt: removing %q: %w", r.Path, err)
			}
		}
		removed = len(recs)
		return nil
	})
	return removed, err
}

// Close waits for queued writes, then closes the file. Later calls return
// [store.ErrClosed]; closing twice is not an error.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return nil
	}
	s.closed = true
	close(s.writes)
	s.closeMu.Unlock()
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: closing: %w", err)
	}
	return nil
}
