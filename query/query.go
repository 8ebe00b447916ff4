// Package query implements happn's search language: mongo-style criteria,
// the rewriting of field names (name → data.name, _meta.created → created),
// sort, skip, limit and projection.
//
// A request's options are parsed once with [Parse] into a [Query]; stores
// evaluate it in Go ([Query.Match], [Query.Less], [Query.Page],
// [Query.ProjectData]) or translate its [Expr] tree into their own language
// (SQL for PostgreSQL).
package query

import (
	"encoding/json"
	"strings"
)

// Query is a parsed happn search.
type Query struct {
	// Filter is the criteria; nil matches every document.
	Filter Expr
	// Sort lists the sort keys in order; nil means the default order
	// (path ascending, then modified ascending).
	Sort []SortKey
	// Skip and Limit page the sorted result; Limit 0 means no limit.
	Skip, Limit int
	// Fields is the projection as rewritten field names ("data.name",
	// "path"); nil returns whole documents.
	Fields []string
	// PathOnly asks for paths alone ({_meta:{path}} items).
	PathOnly bool
	// Aggregate is a MongoDB aggregation pipeline (a JSON array of stages)
	// from the "aggregate" option, nil when there is none. A get with a
	// pipeline answers the pipeline's output; only stores that implement
	// store.Aggregator run it.
	Aggregate json.RawMessage
	// Collation is a MongoDB collation document ({"locale":"en",
	// "strength":1}) from the "collation" option, nil when there is none.
	// Stores that cannot honour it refuse the query (see
	// [Query.RefuseMongoOptions]).
	Collation json.RawMessage
}

// RefuseMongoOptions returns [ErrAggregate] or [ErrCollation] when q asks
// for an aggregate pipeline or a collation, and nil otherwise (or for a nil
// q). Stores that run neither call it so that such a query fails instead of
// silently returning something else, as happn-3 answers for providers
// other than MongoDB.
func (q *Query) RefuseMongoOptions() error {
	switch {
	case q == nil:
		return nil
	case q.Aggregate != nil:
		return ErrAggregate
	case q.Collation != nil:
		return ErrCollation
	}
	return nil
}

// SortKey is one sort field, already rewritten ("path", "data.x.y").
type SortKey struct {
	Field string
	Desc  bool
}

// Doc builds the document that criteria are evaluated against.
func Doc(path string, data map[string]any, created, modified int64, modifiedBy string) map[string]any {
	d := map[string]any{"path": path, "data": data, "created": float64(created), "modified": float64(modified)}
	if modifiedBy != "" {
		d["modifiedBy"] = modifiedBy
	}
	return d
}

// Lookup returns the value at a dot-separated field path of doc.
func Lookup(doc map[string]any, field string) (any, bool) {
	var cur any = doc
	for field != "" {
		var key string
		key, field, _ = strings.Cut(field, ".")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[key]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// Expr is a node of a parsed criteria tree. The concrete nodes are exported
// so that stores can translate them.
type Expr interface {
	// Match reports whether doc satisfies the expression.
	Match(doc map[string]any) bool
}
