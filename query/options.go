package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrAggregate and ErrCollation are returned by stores that cannot run a
// MongoDB aggregate pipeline or collation (every store but the MongoDB one;
// see [Query.RefuseMongoOptions]). happn reports them with the request
// path; build that exact message with [PathError]:
//
//	aggregate feature not available for provider on path: /some/path
var (
	ErrAggregate = errors.New("aggregate feature not available for provider")
	ErrCollation = errors.New("collation feature not available for provider")
)

// PathError returns err with happn's " on path: <path>" suffix, e.g.
// PathError(ErrAggregate, "/a/*") reads "aggregate feature not available for
// provider on path: /a/*". The result wraps err (errors.Is still works).
func PathError(err error, path string) error {
	return fmt.Errorf("%w on path: %s", err, path)
}

// Parse reads the options object of a get, count or remove request, e.g.
// {"criteria":{...},"options":{"sort":{...},"limit":10,"skip":0,"fields":{...},"path_only":true}}.
// Top-level "fields", "sort" and "path_only" are accepted too. A nil or
// empty raw returns an empty Query.
//
// As in happn, "fields" inside "options" wins over the top-level one while a
// top-level "sort" wins over the one in "options"; "limit" and "skip" are
// read from "options" only; unknown keys (timeout, noStore, …) are ignored,
// and a raw value that is not an object yields an empty Query. "path_only"
// sets PathOnly and, unless fields are given, Fields ["path"].
//
// "aggregate" (an array of pipeline stages) and "collation" (an object) are
// read from the top level first, then from "options", and kept as JSON in
// Aggregate and Collation for the stores that run them.
//
// Errors: malformed JSON or wrongly typed options; criteria errors such as
// "unknown operator: $x", [ErrRegexParam] and invalid regular expressions.
//
// The returned Query is read-only during evaluation and safe for concurrent
// use by several goroutines.
func Parse(raw json.RawMessage) (*Query, error) {
	q := &Query{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return q, nil
	}
	v, err := decodeOrdered(raw)
	if err != nil {
		return nil, err
	}
	params, ok := v.(*object)
	if !ok {
		return q, nil
	}
	opts, _ := get(params, "options").(*object)
	if opts == nil {
		opts = &object{}
	}

	if truthy(get(params, "path_only")) || truthy(get(opts, "path_only")) {
		q.PathOnly = true
		q.Fields = []string{"path"}
	}
	fields := get(opts, "fields")
	if !truthy(fields) {
		fields = get(params, "fields")
	}
	if truthy(fields) {
		fo, ok := fields.(*object)
		if !ok {
			return nil, fmt.Errorf("fields must be an object, got %s", jsType(fields))
		}
		q.Fields = make([]string, len(fo.keys))
		for i, k := range fo.keys {
			q.Fields[i] = RewriteField(k)
		}
	}
	sort := get(params, "sort")
	if !truthy(sort) {
		sort = get(opts, "sort")
	}
	if truthy(sort) {
		if q.Sort, err = parseSort(sort); err != nil {
			return nil, err
		}
	}
	if q.Skip, err = parseCount("skip", get(opts, "skip")); err != nil {
		return nil, err
	}
	if q.Limit, err = parseCount("limit", get(opts, "limit")); err != nil {
		return nil, err
	}
	if crit := get(params, "criteria"); truthy(crit) {
		co, ok := crit.(*object)
		if !ok {
			return nil, fmt.Errorf("criteria must be an object, got %s", jsType(crit))
		}
		if len(co.keys) > 0 {
			if q.Filter, err = parseCriteria(co, true); err != nil {
				return nil, err
			}
		}
	}
	agg := get(params, "aggregate")
	if !truthy(agg) {
		agg = get(opts, "aggregate")
	}
	if truthy(agg) {
		if _, ok := agg.([]any); !ok {
			return nil, fmt.Errorf("aggregate must be an array of pipeline stages, got %s", jsType(agg))
		}
		q.Aggregate = encodeOrdered(nil, agg)
	}
	coll := get(params, "collation")
	if !truthy(coll) {
		coll = get(opts, "collation")
	}
	if truthy(coll) {
		if _, ok := coll.(*object); !ok {
			return nil, fmt.Errorf("collation must be an object, got %s", jsType(coll))
		}
		q.Collation = encodeOrdered(nil, coll)
	}
	return q, nil
}

func get(o *object, key string) any {
	v, _ := o.get(key)
	return v
}

func parseSort(v any) ([]SortKey, error) {
	so, ok := v.(*object)
	if !ok {
		return nil, fmt.Errorf("sort must be an object, got %s", jsType(v))
	}
	keys := make([]SortKey, 0, len(so.keys))
	for i, k := range so.keys {
		dir, ok := so.vals[i].(float64)
		if !ok {
			return nil, fmt.Errorf("sort direction of %q must be 1 or -1, got %s", k, jsType(so.vals[i]))
		}
		keys = append(keys, SortKey{Field: RewriteField(k), Desc: dir == -1})
	}
	return keys, nil
}

// parseCount reads skip or limit: absent, null or false mean 0; otherwise a
// non-negative number, truncated as Array.prototype.slice does.
func parseCount(name string, v any) (int, error) {
	switch x := v.(type) {
	case nil:
		return 0, nil
	case bool:
		if !x {
			return 0, nil
		}
	case float64:
		if x < 0 {
			return 0, fmt.Errorf("%s must not be negative, got %v", name, x)
		}
		return int(math.Min(math.Trunc(x), math.MaxInt32)), nil
	}
	return 0, fmt.Errorf("%s must be a number, got %s", name, jsType(v))
}

// Match reports whether doc satisfies q's filter. A nil q or nil Filter
// matches everything.
func (q *Query) Match(doc map[string]any) bool {
	if q == nil || q.Filter == nil {
		return true
	}
	return q.Filter.Match(doc)
}

// Less reports whether doc a sorts before doc b under q's sort keys, or
// under the default order (path, then modified, ascending) when q is nil
// or has no sort keys.
//
// Values order as: missing or null, booleans (false first), numbers,
// strings (bytewise), then arrays and objects (which tie). A descending key
// reverses that order entirely, so missing values come last.
func (q *Query) Less(a, b map[string]any) bool {
	if q == nil || len(q.Sort) == 0 {
		if c := compareField(a, b, "path"); c != 0 {
			return c < 0
		}
		return compareField(a, b, "modified") < 0
	}
	for _, k := range q.Sort {
		if c := compareField(a, b, k.Field); c != 0 {
			if k.Desc {
				return c > 0
			}
			return c < 0
		}
	}
	return false
}

func compareField(a, b map[string]any, field string) int {
	va, _ := Lookup(a, field)
	vb, _ := Lookup(b, field)
	return compareValues(va, vb)
}

func sortRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case string:
		return 3
	case []any:
		return 4
	case map[string]any:
		return 5
	}
	if _, ok := toNumber(v); ok {
		return 2
	}
	return 6
}

func compareValues(a, b any) int {
	ra, rb := sortRank(a), sortRank(b)
	if ra != rb {
		if ra < rb {
			return -1
		}
		return 1
	}
	switch ra {
	case 1:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case 2:
		x, _ := toNumber(a)
		y, _ := toNumber(b)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case 3:
		return strings.Compare(a.(string), b.(string))
	}
	return 0
}

// Page returns the [start, end) bounds of the page that Skip and Limit
// select from n sorted documents. A nil q selects everything.
func (q *Query) Page(n int) (start, end int) {
	if n <= 0 {
		return 0, 0
	}
	if q == nil {
		return 0, n
	}
	start = min(max(q.Skip, 0), n)
	end = n
	if q.Limit > 0 && q.Limit < end-start {
		end = start + q.Limit
	}
	return start, end
}

// ProjectData returns the part of a record's data that q's Fields keep
// (fields naming "data.x" keep data's key x, nested paths keep the nested
// value). With no Fields it returns data unchanged. The record's _meta
// (path, created, modified) is always kept by the caller.
//
// Like lodash's pick in happn's loki provider, a field that data lacks is
// skipped; when no field reaches a value the result is an empty map (happn
// then sends an item without data, e.g. for fields naming only meta fields
// such as "created"). The result is a new map, but the values it holds are
// shared with data.
func (q *Query) ProjectData(data map[string]any) map[string]any {
	if q == nil || q.Fields == nil {
		return data
	}
	out := make(map[string]any, len(q.Fields))
	for i, f := range q.Fields {
		sub, ok := strings.CutPrefix(f, "data.")
		if !ok || coveredByOther(q.Fields, i, sub) {
			continue
		}
		v, ok := Lookup(data, sub)
		if !ok {
			continue
		}
		setPath(out, sub, v)
	}
	return out
}

// coveredByOther reports whether another data field is a strict prefix of
// sub (then the whole enclosing value is kept already).
func coveredByOther(fields []string, self int, sub string) bool {
	for j, g := range fields {
		if j == self {
			continue
		}
		gs, ok := strings.CutPrefix(g, "data.")
		if ok && len(gs) < len(sub) && sub[len(gs)] == '.' && strings.HasPrefix(sub, gs) {
			return true
		}
	}
	return false
}

func setPath(out map[string]any, path string, v any) {
	for {
		key, rest, more := strings.Cut(path, ".")
		if !more {
			out[key] = v
			return
		}
		next, ok := out[key].(map[string]any)
		if !ok {
			next = map[string]any{}
			out[key] = next
		}
		out, path = next, rest
	}
}
