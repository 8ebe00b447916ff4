package store

import (
	"context"
	"encoding/json"

	"github.com/happner-go/happner/query"
)

// Operations of a store, as [Instrument] names them.
const (
	OpGet       = "get"
	OpFind      = "find"
	OpCount     = "count"
	OpSet       = "set"
	OpIncrement = "increment"
	OpRemove    = "remove"
)

// OpObserver is told about each operation of an instrumented store: Start
// when it begins, Done with what Start returned and the operation's error
// (nil on success) when it ends.
type OpObserver interface {
	Start() int64
	Done(start int64, err error)
}

// Instrument returns a Store that reports every operation of st to the
// observer bind returns for the operation's name (OpGet, OpFind, …).
// bind is called once per operation here, so that reporting costs no
// lookup per call. Closing the returned store closes st.
func Instrument(st Store, bind func(op string) OpObserver) Store {
	return &instrumented{
		Store: st,
		get:   bind(OpGet), find: bind(OpFind), count: bind(OpCount),
		set: bind(OpSet), increment: bind(OpIncrement), remove: bind(OpRemove),
	}
}

// instrumented is the Store of Instrument.
type instrumented struct {
	Store
	get, find, count, set, increment, remove OpObserver
}

func (s *instrumented) Get(ctx context.Context, path string) (*Record, error) {
	start := s.get.Start()
	r, err := s.Store.Get(ctx, path)
	s.get.Done(start, err)
	return r, err
}

func (s *instrumented) Find(ctx context.Context, pattern string, q *query.Query) ([]*Record, error) {
	start := s.find.Start()
	r, err := s.Store.Find(ctx, pattern, q)
	s.find.Done(start, err)
	return r, err
}

func (s *instrumented) Count(ctx context.Context, pattern string, q *query.Query) (int, error) {
	start := s.count.Start()
	n, err := s.Store.Count(ctx, pattern, q)
	s.count.Done(start, err)
	return n, err
}

func (s *instrumented) Set(ctx context.Context, path string, data json.RawMessage, opts SetOptions) (*Record, error) {
	start := s.set.Start()
	r, err := s.Store.Set(ctx, path, data, opts)
	s.set.Done(start, err)
	return r, err
}

func (s *instrumented) Increment(ctx context.Context, path, gauge string, by float64) (float64, error) {
	start := s.increment.Start()
	v, err := s.Store.Increment(ctx, path, gauge, by)
	s.increment.Done(start, err)
	return v, err
}

func (s *instrumented) Remove(ctx context.Context, pattern string, q *query.Query) (int, error) {
	start := s.remove.Start()
	n, err := s.Store.Remove(ctx, pattern, q)
	s.remove.Done(start, err)
	return n, err
}

// Aggregate passes an aggregate pipeline to the instrumented store (timed as
// a find), so that wrapping a store never hides what it can do.
func (s *instrumented) Aggregate(ctx context.Context, pattern string, q *query.Query) (json.RawMessage, error) {
	start := s.find.Start()
	r, err := Aggregate(ctx, s.Store, pattern, q)
	s.find.Done(start, err)
	return r, err
}
