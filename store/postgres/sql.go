package postgres

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/query"
)

// builder accumulates the SQL parameters of one statement.
type builder struct {
	args []any
}

// arg adds a parameter and returns its placeholder with a type cast.
func (b *builder) arg(v any, typ string) string {
	b.args = append(b.args, v)
	return "$" + strconv.Itoa(len(b.args)) + "::" + typ
}

// kind says how a translated expression relates to the Go evaluation.
type kind uint8

const (
	// none: not translated; the SQL is empty.
	none kind = iota
	// superset: the SQL keeps every matching row and maybe others; the Go
	// filter must run on the result.
	superset
	// exact: the SQL keeps exactly the rows that match.
	exact
)

// patternSQL returns the condition selecting the paths a data pattern
// matches ('*' matches any run of characters, '/' included): equality for a
// plain path; otherwise an escaped LIKE, preceded by a range on the literal
// prefix so that the primary key index (in "C" order) narrows the scan even
// under a generic plan. It returns "" for a pattern matching every path.
func (b *builder) patternSQL(pattern string) string {
	if !pathmatch.HasWildcard(pattern) {
		return "path = " + b.arg(pattern, "text")
	}
	if strings.Trim(pattern, "*") == "" {
		return ""
	}
	var conds []string
	prefix := pathmatch.LiteralPrefix(pattern)
	if prefix != "" {
		conds = append(conds, `path >= `+b.arg(prefix, "text")+` COLLATE "C"`)
		if hi, ok := upperBound(prefix); ok {
			conds = append(conds, `path < `+b.arg(hi, "text")+` COLLATE "C"`)
		}
	}
	if rest := pattern[len(prefix):]; strings.Trim(rest, "*") != "" || prefix == "" {
		conds = append(conds, `path LIKE `+b.arg(likePattern(pattern), "text"))
	}
	return strings.Join(conds, " AND ")
}

// likePattern turns a data pattern into a LIKE pattern with the default
// escape character '\': '%', '_' and '\' are escaped, runs of '*' become
// '%'.
func likePattern(pattern string) string {
	var sb strings.Builder
	star := false
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c == '*' {
			if !star {
				sb.WriteByte('%')
			}
			star = true
			continue
		}
		star = false
		if c == '%' || c == '_' || c == '\\' {
			sb.WriteByte('\\')
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// upperBound returns the smallest valid UTF-8 string greater than every
// string starting with prefix in byte order: the prefix up to its last
// character that can be incremented, with that character incremented.
func upperBound(prefix string) (string, bool) {
	for end := len(prefix); end > 0; {
		r, size := utf8.DecodeLastRuneInString(prefix[:end])
		start := end - size
		if r != utf8.RuneError && r < utf8.MaxRune {
			next := r + 1
			if next >= 0xD800 && next <= 0xDFFF { // skip the surrogates
				next = 0xE000
			}
			return prefix[:start] + string(next), true
		}
		end = start
	}
	return "", false
}

// fieldSQL returns a jsonb expression for a rewritten criteria field that is
// NULL exactly when the Go document lacks the field, or "" when the field is
// not translated. Only the record columns and top-level data members are
// translated: a deeper path may cross arrays, which the Go matcher walks
// element by element.
func (b *builder) fieldSQL(field string) string {
	switch field {
	case "path":
		return "to_jsonb(path)"
	case "created":
		return "to_jsonb(created)"
	case "modified":
		return "to_jsonb(modified)"
	case "modifiedBy":
		return "(CASE WHEN modified_by = '' THEN NULL ELSE to_jsonb(modified_by) END)"
	}
	key, ok := strings.CutPrefix(field, "data.")
	if !ok || key == "" || strings.Contains(key, ".") {
		return ""
	}
	return "(data -> " + b.arg(key, "text") + ")"
}

// filterSQL translates a criteria tree. Every SQL it returns is a boolean
// that is never NULL.
func (b *builder) filterSQL(e query.Expr) (string, kind) {
	mark := len(b.args)
	sql, k := b.filterNode(e)
	if k == none {
		b.args = b.args[:mark]
		return "", none
	}
	return sql, k
}

func (b *builder) filterNode(e query.Expr) (string, kind) {
	switch n := e.(type) {
	case query.And:
		if len(n) == 0 {
			return "TRUE", exact
		}
		parts := make([]string, 0, len(n))
		k := exact
		for _, c := range n {
			sql, ck := b.filterSQL(c)
			if ck != exact {
				k = superset
			}
			if ck != none {
				parts = append(parts, sql)
			}
		}
		if len(parts) == 0 {
			return "", none
		}
		return "(" + strings.Join(parts, " AND ") + ")", k
	case query.Or:
		if len(n) == 0 {
			return "FALSE", exact
		}
		parts := make([]string, 0, len(n))
		k := exact
		for _, c := range n {
			sql, ck := b.filterSQL(c)
			if ck == none {
				return "", none
			}
			if ck == superset {
				k = superset
			}
			parts = append(parts, sql)
		}
		return "(" + strings.Join(parts, " OR ") + ")", k
	case query.Nor:
		sql, k := b.filterNode(query.Or(n))
		if k != exact {
			return "", none
		}
		return "(NOT " + sql + ")", exact
	case query.Not:
		sql, k := b.filterSQL(n.Expr)
		if k != exact {
			return "", none
		}
		return "(NOT " + sql + ")", exact
	case *query.Cond:
		if n == nil {
			return "", none
		}
		return b.condSQL(n)
	}
	return "", none // $elemMatch and unknown nodes run in Go
}

// condSQL translates one field condition.
func (b *builder) condSQL(c *query.Cond) (string, kind) {
	mark := len(b.args)
	x := b.fieldSQL(c.Field)
	if x == "" {
		return "", none
	}
	sql, k := b.condOp(c, x)
	if sql == "TRUE" || sql == "FALSE" {
		b.args = b.args[:mark] // the field's parameter is not used
	}
	return sql, k
}

// condOp translates the operator of c applied to the jsonb expression x.
func (b *builder) condOp(c *query.Cond, x string) (string, kind) {
	var sql string
	switch c.Op {
	case "$eq":
		sql = b.eqSQL(x, c.Value)
	case "$ne":
		sql = "NOT " + b.eqSQL(x, c.Value)
	case "$in", "$nin", "$all":
		list, ok := c.Value.([]any)
		if !ok {
			return "", none
		}
		if len(list) == 0 {
			sql = map[string]string{"$in": "FALSE", "$nin": "TRUE", "$all": "FALSE"}[c.Op]
			break
		}
		parts := make([]string, len(list))
		for i, v := range list {
			parts[i] = b.eqSQL(x, v)
		}
		switch c.Op {
		case "$in":
			sql = "(" + strings.Join(parts, " OR ") + ")"
		case "$nin":
			sql = "NOT (" + strings.Join(parts, " OR ") + ")"
		default:
			sql = "(" + strings.Join(parts, " AND ") + ")"
		}
	case "$gt", "$gte", "$lt", "$lte":
		sql = b.compareSQL(x, c.Op, c.Value)
	case "$exists":
		want, ok := c.Value.(bool)
		if !ok {
			return "", none
		}
		if want {
			sql = x + " IS NOT NULL"
		} else {
			sql = x + " IS NULL"
		}
	case "$size":
		n, ok := c.Value.(int)
		if !ok {
			return "", none
		}
		sql = "COALESCE(CASE WHEN jsonb_typeof(" + x + ") = 'array' THEN jsonb_array_length(" + x + ") = " +
			b.arg(n, "int") + " ELSE FALSE END, FALSE)"
	default: // $regex (RE2 and PostgreSQL differ), $contains, $containsAny
		return "", none
	}
	if sql == "" {
		return "", none
	}
	if sql == "TRUE" || sql == "FALSE" {
		return sql, exact
	}
	return "(" + sql + ")", exact
}

// eqSQL is MongoDB equality as the Go matcher has it: the value itself, or
// one element of an array value; null also matches a missing field. The
// result is never NULL.
func (b *builder) eqSQL(x string, v any) string {
	switch t := asFloat(v).(type) {
	case nil:
		return "(" + x + " IS NULL OR " + x + " = 'null'::jsonb OR COALESCE(" + x + " @> '[null]'::jsonb AND jsonb_typeof(" +
			x + ") = 'array', FALSE))"
	case float64:
		f := b.arg(t, "float8")
		return "COALESCE(CASE jsonb_typeof(" + x + ") WHEN 'number' THEN (" + x + ")::float8 = " + f +
			" WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(" + x + ") AS e(v) WHERE " +
			"CASE WHEN jsonb_typeof(e.v) = 'number' THEN (e.v)::float8 = " + f + " ELSE FALSE END) ELSE FALSE END, FALSE)"
	case string, bool:
		one, _ := json.Marshal(t)
		arr := "[" + string(one) + "]"
		return "COALESCE(" + x + " = " + b.arg(string(one), "jsonb") + " OR (jsonb_typeof(" + x + ") = 'array' AND " +
			x + " @> " + b.arg(arr, "jsonb") + "), FALSE)"
	}
	enc, err := json.Marshal(v)
	if err != nil {
		return "FALSE" // cannot happen for decoded JSON values
	}
	p := b.arg(string(enc), "jsonb")
	return "COALESCE(" + x + " = " + p + " OR (CASE WHEN jsonb_typeof(" + x + ") = 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(" +
		x + ") AS e(v) WHERE e.v = " + p + ") ELSE FALSE END), FALSE)"
}

// compareSQL is $gt/$gte/$lt/$lte: numbers numerically, strings bytewise,
// also against the elements of an array value; other types never match.
func (b *builder) compareSQL(x, op string, v any) string {
	sqlOp := map[string]string{"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[op]
	var typ, val, target string
	switch t := asFloat(v).(type) {
	case float64:
		typ, target = "number", b.arg(t, "float8")
		val = "(%s)::float8"
	case string:
		typ, target = "string", b.arg(t, "text")+` COLLATE "C"`
		val = `((%s) #>> '{}') COLLATE "C"`
	default:
		return "FALSE"
	}
	self := fmt.Sprintf(val, x)
	elem := fmt.Sprintf(val, "e.v")
	return "COALESCE(CASE jsonb_typeof(" + x + ") WHEN '" + typ + "' THEN " + self + " " + sqlOp + " " + target +
		" WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(" + x + ") AS e(v) WHERE " +
		"(CASE WHEN jsonb_typeof(e.v) = '" + typ + "' THEN " + elem + " " + sqlOp + " " + target + " ELSE FALSE END))" +
		" ELSE FALSE END, FALSE)"
}

// sortSQL translates sort keys into ORDER BY terms (without the final path
// tie-break), or reports false when a key cannot be translated exactly.
// The order is the Go one: missing or null, booleans, numbers, strings
// (bytewise), arrays, objects; a descending key reverses it entirely.
func (b *builder) sortSQL(keys []query.SortKey) ([]string, bool) {
	mark := len(b.args)
	var terms []string
	for _, k := range keys {
		x := b.sortField(k.Field)
		if x == "" {
			b.args = b.args[:mark]
			return nil, false
		}
		dir := " ASC"
		if k.Desc {
			dir = " DESC"
		}
		terms = append(terms,
			"(CASE jsonb_typeof("+x+") WHEN 'boolean' THEN 1 WHEN 'number' THEN 2 WHEN 'string' THEN 3 "+
				"WHEN 'array' THEN 4 WHEN 'object' THEN 5 ELSE 0 END)"+dir,
			"(CASE WHEN jsonb_typeof("+x+") = 'boolean' THEN ("+x+")::boolean END)"+dir,
			"(CASE WHEN jsonb_typeof("+x+") = 'number' THEN ("+x+")::float8 END)"+dir,
			"(CASE WHEN jsonb_typeof("+x+`) = 'string' THEN (`+x+` #>> '{}') COLLATE "C" END)`+dir)
	}
	return terms, true
}

// sortField is fieldSQL for sort keys, which look a dot path up through
// objects only: a path is translated unless one of its segments is an
// integer (which #> would use as an array index).
func (b *builder) sortField(field string) string {
	if x := b.fieldSQL(field); x != "" {
		return x
	}
	key, ok := strings.CutPrefix(field, "data.")
	if !ok || key == "" {
		return ""
	}
	parts := strings.Split(key, ".")
	for _, p := range parts {
		if _, err := strconv.Atoi(strings.TrimSpace(p)); err != nil && p != "" {
			continue
		}
		return ""
	}
	return "(data #> " + b.arg(parts, "text[]") + ")"
}

// asFloat turns the Go integer and float32 types a programmatic condition
// may hold into float64, as the Go matcher compares them; other values are
// returned unchanged.
func asFloat(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	}
	return v
}
