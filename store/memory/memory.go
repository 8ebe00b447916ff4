// Package memory is the default happn datastore: every record is kept in
// process memory, indexed by exact path (a hash map, for Get and Set) and in
// path order (a B-tree, so a pattern with a literal prefix such as "/a/b/*"
// seeks to the prefix instead of scanning every record).
//
// Data is kept as the raw JSON it was written with: a plain Set validates
// and copies the bytes and never decodes them. Documents are decoded only
// when a query needs criteria, sort or projection, and the decoded form is
// cached until the record next changes.
package memory

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/btree"

	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// btreeDegree is the B-tree's node fan-out.
const btreeDegree = 32

// entry is one path's slot. Its rec is replaced (never mutated) on every
// write, under the store's write lock.
type entry struct {
	path string
	rec  *store.Record
	// doc caches the decoded document of one version of rec.
	doc atomic.Pointer[cachedDoc]
}

type cachedDoc struct {
	rec *store.Record
	doc map[string]any
}

// Store is an in-memory [store.Store]. The zero value is not usable; call
// [New].
type Store struct {
	mu     sync.RWMutex
	byPath map[string]*entry
	tree   *btree.BTreeG[*entry]
	closed bool
}

var _ store.Store = (*Store)(nil)

// New returns an empty in-memory store.
func New() *Store {
	return &Store{
		byPath: make(map[string]*entry),
		tree:   btree.NewG(btreeDegree, func(a, b *entry) bool { return a.path < b.path }),
	}
}

// Len returns the number of records held.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byPath)
}

// Get returns the record at path, or nil. The record is the one the store
// holds (records are replaced on write, never changed): read it, do not
// modify it.
func (s *Store) Get(ctx context.Context, path string) (*store.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	e := s.byPath[path]
	if e == nil {
		return nil, nil
	}
	return e.rec, nil
}

// Set writes data at path (merging it into the existing object when
// opts.Merge is set) and returns the stored record.
func (s *Store) Set(ctx context.Context, path string, data json.RawMessage, opts store.SetOptions) (*store.Record, error) {
	now, err := store.CheckSet(ctx, path, data, opts)
	if err != nil {
		return nil, err
	}
	rec := &store.Record{Path: path, Modified: now, Created: now, ModifiedBy: opts.ModifiedBy}
	if !opts.Merge {
		rec.Data = bytes.Clone(data)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	e := s.byPath[path]
	if opts.Merge {
		var old json.RawMessage
		if e != nil {
			old = e.rec.Data
		}
		merged, err := store.MergeObjects(old, data)
		if err != nil {
			return nil, err
		}
		rec.Data = merged
	}
	s.put(e, rec)
	return rec, nil
}

// put stores rec in e (keeping e's Created) or in a new entry when e is nil.
// The caller holds the write lock.
func (s *Store) put(e *entry, rec *store.Record) {
	if e != nil {
		rec.Path = e.path // the key the store owns, not the caller's string
		rec.Created = e.rec.Created
		e.rec = rec
		return
	}
	rec.Path = strings.Clone(rec.Path) // the caller's string may share a request's memory
	e = &entry{path: rec.Path, rec: rec}
	s.byPath[rec.Path] = e
	s.tree.ReplaceOrInsert(e)
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	e := s.byPath[path]
	var old json.RawMessage
	rec := &store.Record{Path: path, Created: now, Modified: now}
	if e != nil {
		old = e.rec.Data
		rec.ModifiedBy = e.rec.ModifiedBy
	}
	data, total, err := store.AddToGauge(old, gauge, by)
	if err != nil {
		return 0, err
	}
	rec.Data = data
	s.put(e, rec)
	return total, nil
}

// match visits the entries whose path matches pattern, in path order,
// stopping early when visit returns false. The caller holds a lock.
func (s *Store) match(pattern string, visit func(e *entry) bool) {
	if !pathmatch.HasWildcard(pattern) {
		if e := s.byPath[pattern]; e != nil {
			visit(e)
		}
		return
	}
	prefix := pathmatch.LiteralPrefix(pattern)
	onlyPrefix := strings.TrimRight(pattern[len(prefix):], "*") == ""
	iter := func(e *entry) bool {
		if !strings.HasPrefix(e.path, prefix) {
			return false
		}
		if onlyPrefix || pathmatch.Glob(pattern, e.path) {
			return visit(e)
		}
		return true
	}
	if prefix == "" {
		s.tree.Ascend(iter)
		return
	}
	s.tree.AscendGreaterOrEqual(&entry{path: prefix}, iter)
}

// candidates returns the records matching pattern and their entries.
func (s *Store) candidates(ctx context.Context, pattern string) ([]*store.Record, []*entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, nil, store.ErrClosed
	}
	var recs []*store.Record
	var ents []*entry
	s.match(pattern, func(e *entry) bool {
		recs = append(recs, e.rec)
		ents = append(ents, e)
		return true
	})
	return recs, ents, nil
}

// docFunc returns a [store.DocFunc] that uses and fills the entries' caches.
func docFunc(recs []*store.Record, ents []*entry) store.DocFunc {
	return func(i int) (map[string]any, error) {
		r, e := recs[i], ents[i]
		if c := e.doc.Load(); c != nil && c.rec == r {
			return c.doc, nil
		}
		d, err := r.Doc()
		if err != nil {
			return nil, err
		}
		e.doc.Store(&cachedDoc{rec: r, doc: d})
		return d, nil
	}
}

// Find returns the records matching pattern and q.
func (s *Store) Find(ctx context.Context, pattern string, q *query.Query) ([]*store.Record, error) {
	recs, ents, err := s.candidates(ctx, pattern)
	if err != nil {
		return nil, err
	}
	out, err := store.Refine(ctx, recs, q, docFunc(recs, ents))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Count returns how many records Find would return.
func (s *Store) Count(ctx context.Context, pattern string, q *query.Query) (int, error) {
	if q == nil {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return 0, store.ErrClosed
		}
		n := 0
		s.match(pattern, func(*entry) bool { n++; return true })
		return n, nil
	}
	recs, ents, err := s.candidates(ctx, pattern)
	if err != nil {
		return 0, err
	}
	return store.RefineCount(ctx, recs, q, docFunc(recs, ents))
}

// Remove deletes the records matching pattern and q's filter and returns how
// many were removed.
func (s *Store) Remove(ctx context.Context, pattern string, q *query.Query) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, store.ErrClosed
	}
	var recs []*store.Record
	var ents []*entry
	s.match(pattern, func(e *entry) bool {
		recs = append(recs, e.rec)
		ents = append(ents, e)
		return true
	})
	if q != nil && q.Filter != nil {
		keep, err := store.Filter(ctx, recs, q, docFunc(recs, ents))
		if err != nil {
			return 0, err
		}
		recs = keep
	}
	for _, r := range recs {
		e := s.byPath[r.Path]
		delete(s.byPath, r.Path)
		s.tree.Delete(e)
	}
	return len(recs), nil
}

// Close drops every record; later calls return [store.ErrClosed].
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.byPath = nil
	s.tree = nil
	return nil
}
