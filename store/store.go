// Package store defines the storage contract of happn data: the [Store]
// interface that every provider implements, the [Record] it keeps, and the
// [Router] that sends each path to one of several named datastores.
//
// Providers live in their own packages (store/memory, store/bolt,
// store/postgres, store/mongo); store/storetest holds the conformance suite every provider
// must pass, so a shared database behaves exactly like the embedded default.
package store

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/happner-go/happner/query"
)

// Record is one stored document: the happn item at Path.
type Record struct {
	// Path is the exact path of the record. Paths are not normalised:
	// "/a/b", "a/b" and "/a/b/" are three records.
	Path string
	// Data is the stored value, always a JSON object (non-objects are
	// wrapped as {"value": x} before they reach a store).
	Data json.RawMessage
	// Created and Modified are milliseconds since the Unix epoch.
	Created  int64
	Modified int64
	// ModifiedBy is the username of the last writer, when known.
	ModifiedBy string
}

// Doc returns the document that criteria, sort and projection are evaluated
// against: {"path", "data", "created", "modified", "modifiedBy"}.
func (r *Record) Doc() (map[string]any, error) {
	var data map[string]any
	if len(r.Data) > 0 {
		if err := json.Unmarshal(r.Data, &data); err != nil {
			return nil, err
		}
	}
	return query.Doc(r.Path, data, r.Created, r.Modified, r.ModifiedBy), nil
}

// SetOptions changes how [Store.Set] writes.
type SetOptions struct {
	// Merge shallow-merges Data into the existing object
	// ({...old, ...new}); the record is created when absent.
	Merge bool
	// ModifiedBy is recorded as the writer's username.
	ModifiedBy string
	// Now, when non-zero, is the write time in ms (tests and replays);
	// otherwise the store uses the current time.
	Now int64
	// Validated says the caller has already checked that Data is
	// well-formed JSON (the server validates every frame it decodes), so
	// the store only checks that it is an object.
	Validated bool
}

// ErrNotObject is returned when data given to a store is not a JSON object.
var ErrNotObject = errors.New("store: data must be a JSON object")

// ErrUnavailable wraps errors of a store whose backing service cannot be
// reached; callers keep running and retry later.
var ErrUnavailable = errors.New("store: unavailable")

// Store is the contract every storage provider implements. Paths given to
// Find, Count and Remove may contain the data wildcard '*', which matches any
// run of characters including '/' (see pathmatch.Glob); a path without '*'
// addresses one record. Implementations are safe for concurrent use.
//
// Records handed out by Get, Find and Set are read-only: a store may hand
// out the records it holds (the in-memory store does, so that reads
// allocate nothing), and callers must not modify them. The slice Find
// returns is the caller's. Data given to Set is copied when the store keeps
// it, so the caller may reuse its buffer.
type Store interface {
	// Get returns the record at the exact path, or nil and no error when
	// there is none.
	Get(ctx context.Context, path string) (*Record, error)
	// Find returns the records matching the pattern and the query (nil q
	// means everything, default order: path then modified, ascending).
	// Sort, Skip, Limit and Fields of q are applied by the store.
	Find(ctx context.Context, pattern string, q *query.Query) ([]*Record, error)
	// Count returns how many records Find would return.
	Count(ctx context.Context, pattern string, q *query.Query) (int, error)
	// Set writes data (a JSON object) at path and returns the stored record.
	// Created is kept from an existing record; Modified is the write time.
	Set(ctx context.Context, path string, data json.RawMessage, opts SetOptions) (*Record, error)
	// Increment atomically adds by to the number kept at data[gauge].value
	// of the record at path (creating the record and the gauge at 0) and
	// returns the new total.
	Increment(ctx context.Context, path, gauge string, by float64) (float64, error)
	// Remove deletes the records matching the pattern (narrowed by q's
	// filter when q is not nil) and returns how many were removed.
	Remove(ctx context.Context, pattern string, q *query.Query) (int, error)
	// Close releases the store's resources.
	Close() error
}

// Aggregator is implemented by stores that run MongoDB aggregation
// pipelines (the "aggregate" option of a happn get, which happn-3 supports
// only on MongoDB).
type Aggregator interface {
	// Aggregate runs q.Aggregate over the records matching pattern and q's
	// filter and returns the pipeline's output as a JSON array.
	Aggregate(ctx context.Context, pattern string, q *query.Query) (json.RawMessage, error)
}

// Aggregate runs q's pipeline on s when s is an [Aggregator] (a [Router]
// is one, and passes the call to the datastore serving pattern); otherwise
// it returns an error wrapping query.ErrAggregate.
func Aggregate(ctx context.Context, s Store, pattern string, q *query.Query) (json.RawMessage, error) {
	if a, ok := s.(Aggregator); ok {
		return a.Aggregate(ctx, pattern, q)
	}
	return nil, query.ErrAggregate
}
