// Package query implements happn's search language: mongo-style criteria,
// the rewriting of field names (name → data.name, _meta.created → created),
// sort, skip, limit and projection.
//
// A request's options are parsed once with [Parse] into a [Query]; stores
// evaluate it in Go ([Query.Match], [Query.Less], [Query.Project]) or
// translate its [Expr] tree into their own language (SQL for PostgreSQL).
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

// Parse reads the options object of a get, count or remove request, e.g.
// {"criteria":{...},"options":{"sort":{...},"limit":10,"skip":0,"fields":{...},"path_only":true}}.
// Top-level "fields", "sort" and "path_only" are accepted too. A nil or
// empty raw returns an empty Query.
func Parse(raw json.RawMessage) (*Query, error) {
	panic("query.Parse: not yet implemented")
}

// Expr is a node of a parsed criteria tree. The concrete nodes are exported
// so that stores can translate them.
type Expr interface {
	// Match reports whether doc satisfies the expression.
	Match(doc map[string]any) bool
}

// Match reports whether doc satisfies q's filter. A nil q or nil Filter
// matches everything.
func (q *Query) Match(doc map[string]any) bool {
	panic("query.Match: not yet implemented")
}

// Less reports whether doc a sorts before doc b under q's sort keys, or
// under the default order (path, then modified, ascending) when q is nil
// or has no sort keys.
func (q *Query) Less(a, b map[string]any) bool {
	panic("query.Less: not yet implemented")
}

// Page returns the [start, end) bounds of the page that Skip and Limit
// select from n sorted documents. A nil q selects everything.
func (q *Query) Page(n int) (start, end int) {
	panic("query.Page: not yet implemented")
}

// ProjectData returns the part of a record's data that q's Fields keep
// (fields naming "data.x" keep data's key x, nested paths keep the nested
// value). With no Fields it returns data unchanged. The record's _meta
// (path, created, modified) is always kept by the caller.
func (q *Query) ProjectData(data map[string]any) map[string]any {
	panic("query.ProjectData: not yet implemented")
}
