package mongo

import (
	"math"
	"regexp"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/query"
)

// kind says how a translated filter relates to the Go evaluation of the
// same criteria.
type kind uint8

const (
	// none: nothing was translated.
	none kind = iota
	// superset: MongoDB keeps every matching document and maybe others;
	// the Go filter must run on the result.
	superset
	// exact: MongoDB keeps exactly the matching documents.
	exact
)

// anyChars matches any run of characters, newlines included, in both
// MongoDB's PCRE and Go's RE2 (which FerretDB uses).
const anyChars = `[\s\S]*`

// pathFilter returns the condition on path that a data pattern stands for:
// equality for a plain path, otherwise an anchored regular expression
// whose literal prefix lets MongoDB scan the unique path index as a range
// ('*' matches any run of characters, '/' included). It returns nil for a
// pattern matching every path.
func pathFilter(pattern string) bson.E {
	if !pathmatch.HasWildcard(pattern) {
		return bson.E{Key: "path", Value: pattern}
	}
	if strings.Trim(pattern, "*") == "" {
		return bson.E{}
	}
	parts := strings.Split(pattern, "*")
	var sb strings.Builder
	sb.WriteByte('^')
	sb.WriteString(regexp.QuoteMeta(parts[0]))
	open := false // the pattern ends with '*'
	for _, part := range parts[1:] {
		open = true
		if part == "" {
			continue // a run of '*'
		}
		sb.WriteString(anyChars)
		sb.WriteString(regexp.QuoteMeta(part))
		open = false
	}
	if !open {
		sb.WriteString(`\z`)
	}
	re := sb.String()
	return bson.E{Key: "path", Value: bson.Regex{Pattern: re}}
}

// translate turns a criteria expression into a MongoDB filter document.
// top says whether field names are document fields (rewritten criteria)
// rather than fields relative to an array element (inside $elemMatch).
func translate(e query.Expr, top bool) (bson.D, kind) {
	switch x := e.(type) {
	case nil:
		return bson.D{}, exact
	case *query.Cond:
		return translateCond(x, top)
	case query.And:
		var parts bson.A
		k := exact
		for _, sub := range x {
			d, sk := translate(sub, top)
			if sk != exact {
				k = superset
			}
			if sk != none && len(d) > 0 {
				parts = append(parts, d)
			}
		}
		if len(parts) == 0 && k != exact {
			return nil, none
		}
		return andOf(parts), k
	case query.Or:
		if len(x) == 0 {
			return matchNothing(), exact
		}
		parts, k := translateList(x, top)
		if k == none {
			return nil, none
		}
		return bson.D{{Key: "$or", Value: parts}}, k
	case query.Nor:
		if len(x) == 0 {
			return bson.D{}, exact
		}
		parts, k := translateList(x, top)
		if k != exact {
			return nil, none
		}
		return bson.D{{Key: "$nor", Value: parts}}, exact
	case query.Not:
		d, k := translate(x.Expr, top)
		if k != exact {
			return nil, none
		}
		return bson.D{{Key: "$nor", Value: bson.A{d}}}, exact
	case *query.ElemMatch:
		if !fieldOK(x.Field, top) {
			return nil, none
		}
		inner, k := elemMatchBody(x.Expr)
		if k == none {
			return nil, none
		}
		return bson.D{{Key: x.Field, Value: bson.D{{Key: "$elemMatch", Value: inner}}}}, k
	}
	return nil, none
}

// translateList translates the branches of $or or $nor: none when any
// branch is none, exact when all are exact.
func translateList(list []query.Expr, top bool) (bson.A, kind) {
	parts := make(bson.A, 0, len(list))
	k := exact
	for _, sub := range list {
		d, sk := translate(sub, top)
		if sk == none {
			return nil, none
		}
		if sk == superset {
			k = superset
		}
		parts = append(parts, d)
	}
	return parts, k
}

// andOf joins conditions: one stays as it is, several go in $and.
func andOf(parts bson.A) bson.D {
	switch len(parts) {
	case 0:
		return bson.D{}
	case 1:
		return parts[0].(bson.D)
	}
	return bson.D{{Key: "$and", Value: parts}}
}

// matchNothing is a filter no document satisfies (an empty $or).
func matchNothing() bson.D {
	return bson.D{{Key: "$nor", Value: bson.A{bson.D{}}}}
}

// elemMatchBody translates the body of $elemMatch when it tests the
// element itself ({$gt: 5}: conditions with an empty field, each operator
// once, no $ne). Criteria on the element's fields stay in Go: FerretDB 1.x
// evaluates them wrongly (it finds nothing) and refuses $ne in them.
func elemMatchBody(e query.Expr) (bson.D, kind) {
	var conds []*query.Cond
	switch x := e.(type) {
	case *query.Cond:
		conds = append(conds, x)
	case query.And:
		for _, sub := range x {
			c, ok := sub.(*query.Cond)
			if !ok {
				return nil, none
			}
			conds = append(conds, c)
		}
	default:
		return nil, none
	}
	ops := bson.D{}
	for _, c := range conds {
		if c.Field != "" || c.Op == "$ne" {
			return nil, none
		}
		op, ok := operator(c)
		if !ok {
			return nil, none
		}
		for _, have := range ops {
			if have.Key == op.Key {
				return nil, none
			}
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, none
	}
	return ops, exact
}

// translateCond translates one field condition.
func translateCond(c *query.Cond, top bool) (bson.D, kind) {
	if !fieldOK(c.Field, top) {
		return nil, none
	}
	op, ok := operator(c)
	if !ok {
		return nil, none
	}
	return bson.D{{Key: c.Field, Value: bson.D{op}}}, exact
}

// fieldOK reports whether MongoDB evaluates the field as the Go matcher
// does: at the top level the record fields (path, created, modified,
// modifiedBy) and data or anything below it; inside $elemMatch any
// non-empty dot path. Names with empty segments or segments starting with
// '$' are left to Go, as are _id (an ObjectId in MongoDB, absent in Go)
// and the other meta names the documents do not hold.
func fieldOK(field string, top bool) bool {
	if field == "" {
		return false
	}
	for _, seg := range strings.Split(field, ".") {
		if seg == "" || strings.HasPrefix(seg, "$") {
			return false
		}
	}
	if !top {
		return true
	}
	switch field {
	case "path", "created", "modified", "modifiedBy", "data":
		return true
	}
	return strings.HasPrefix(field, "data.")
}

// operator translates the operator and value of c, or reports that MongoDB
// would not evaluate it as the Go matcher does.
func operator(c *query.Cond) (bson.E, bool) {
	switch c.Op {
	case "$eq", "$ne":
		v, ok := plainValue(c.Value)
		return bson.E{Key: c.Op, Value: v}, ok
	case "$gt", "$gte", "$lt", "$lte":
		// The Go matcher compares numbers with numbers and strings with
		// strings only; MongoDB also orders booleans, null and documents.
		switch v := c.Value.(type) {
		case string:
			return bson.E{Key: c.Op, Value: v}, true
		default:
			f, ok := number(v)
			return bson.E{Key: c.Op, Value: f}, ok && !math.IsNaN(f)
		}
	case "$in", "$nin", "$all":
		list, ok := c.Value.([]any)
		if !ok {
			return bson.E{}, false
		}
		v, ok := plainValue(list)
		return bson.E{Key: c.Op, Value: v}, ok
	case "$exists":
		b, ok := c.Value.(bool)
		return bson.E{Key: "$exists", Value: b}, ok
	case "$size":
		n, ok := c.Value.(int)
		return bson.E{Key: "$size", Value: int64(n)}, ok && n >= 0
	case "$regex":
		rx, ok := c.Value.(*query.Regex)
		if !ok || rx == nil {
			return bson.E{}, false
		}
		var opts []byte
		for _, f := range rx.Flags {
			if f == 'i' || f == 'm' || f == 's' {
				opts = append(opts, byte(f))
			}
		}
		return bson.E{Key: "$regex", Value: bson.Regex{Pattern: rx.Pattern, Options: string(opts)}}, true
	}
	// $containsAny, $contains (lokijs operators MongoDB lacks)
	return bson.E{}, false
}

// plainValue converts a criteria value for MongoDB: scalars and arrays of
// them. Objects are refused, since MongoDB compares embedded documents
// field order included and parsed criteria keep no order.
func plainValue(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, true
	case string, bool:
		return x, true
	case []any:
		out := make(bson.A, len(x))
		for i, e := range x {
			var ok bool
			if out[i], ok = plainValue(e); !ok {
				return nil, false
			}
		}
		return out, true
	}
	f, ok := number(v)
	if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}

// number returns v as a float64 when it is a Go number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// sortSpec translates sort keys to a MongoDB sort document ending with
// path (unique) so that ties keep path order; ok is false when a key names
// a field MongoDB does not evaluate as Go does.
func sortSpec(keys []query.SortKey) (bson.D, bool) {
	spec := make(bson.D, 0, len(keys)+1)
	hasPath := false
	for _, k := range keys {
		if !fieldOK(k.Field, true) {
			return nil, false
		}
		for _, e := range spec {
			if e.Key == k.Field {
				return nil, false
			}
		}
		dir := 1
		if k.Desc {
			dir = -1
		}
		spec = append(spec, bson.E{Key: k.Field, Value: dir})
		if k.Field == "path" {
			hasPath = true
			break // path is unique: later keys change nothing
		}
	}
	if !hasPath {
		spec = append(spec, bson.E{Key: "path", Value: 1})
	}
	return spec, true
}

// projection translates q's fields (rewritten names) to a MongoDB
// projection that keeps the record fields and the requested top-level keys
// of data; ok is false when a field names something deeper (data.a.b),
// which MongoDB projects differently from the other stores (it keeps
// {a: {}} when a lacks b, and projects into arrays).
func projection(q *query.Query) (bson.D, bool) {
	proj := bson.D{{Key: "_id", Value: 0}, {Key: "path", Value: 1}, {Key: "created", Value: 1},
		{Key: "modified", Value: 1}, {Key: "modifiedBy", Value: 1}}
	if q.PathOnly {
		return proj, true
	}
	seen := map[string]bool{}
	for _, f := range q.Fields {
		sub, ok := strings.CutPrefix(f, "data.")
		if !ok {
			continue // meta fields are always kept; others name nothing
		}
		if strings.Contains(sub, ".") || !fieldOK(f, true) {
			return nil, false
		}
		if !seen[sub] {
			seen[sub] = true
			proj = append(proj, bson.E{Key: f, Value: 1})
		}
	}
	return proj, true
}
