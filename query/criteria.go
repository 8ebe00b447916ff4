package query

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// ErrRegexParam is returned for a $regex whose value is neither a string nor
// an array; its message is happn's exact text.
var ErrRegexParam = errors.New("$regex parameter value must be an Array or a string")

// isMetaField reports whether k is a top-level document field that
// criteria, sort and fields name without the "data." prefix (happn
// META_FIELDS).
func isMetaField(k string) bool {
	switch k {
	case "_meta", "_id", "path", "created", "modified", "timestamp", "createdBy", "modifiedBy":
		return true
	}
	return false
}

// RewriteField maps a client field name to the document field it designates,
// as happn's parseFields does: "$…" operators and the meta fields (_meta,
// _id, path, created, modified, timestamp, createdBy, modifiedBy) are kept,
// "_meta.<meta field>" becomes "<meta field>", "_data.x" becomes "data.x",
// "data.x" is kept and any other name k becomes "data.k".
func RewriteField(k string) string {
	if strings.HasPrefix(k, "$") || isMetaField(k) {
		return k
	}
	if rest, ok := strings.CutPrefix(k, "_meta."); ok && isMetaField(rest) {
		return rest
	}
	if strings.HasPrefix(k, "_data.") {
		return k[1:]
	}
	if strings.HasPrefix(k, "data.") {
		return k
	}
	return "data." + k
}

// parseCriteria turns a criteria object into an expression. With rewrite,
// field names go through [RewriteField] (top-level criteria); inside a
// $elemMatch they are relative to the element and kept as written.
func parseCriteria(o *object, rewrite bool) (Expr, error) {
	exprs := make(And, 0, len(o.keys))
	for i, key := range o.keys {
		v := o.vals[i]
		var e Expr
		var err error
		switch key {
		case "$and", "$or", "$nor":
			e, err = parseLogical(key, v, rewrite)
		case "$not":
			sub, ok := v.(*object)
			if !ok {
				return nil, fmt.Errorf("$not needs an object, got %s", jsType(v))
			}
			var inner Expr
			inner, err = parseCriteria(sub, rewrite)
			e = Not{Expr: inner}
		default:
			if strings.HasPrefix(key, "$") {
				return nil, fmt.Errorf("unknown operator: %s", key)
			}
			field := key
			if rewrite {
				field = RewriteField(key)
			}
			e, err = parseFieldValue(field, v, rewrite)
		}
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
	}
	if len(exprs) == 1 {
		return exprs[0], nil
	}
	return exprs, nil
}

func parseLogical(op string, v any, rewrite bool) (Expr, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s needs an array, got %s", op, jsType(v))
	}
	list := make([]Expr, 0, len(arr))
	for _, el := range arr {
		sub, ok := el.(*object)
		if !ok {
			return nil, fmt.Errorf("%s needs an array of objects, got an element of type %s", op, jsType(el))
		}
		e, err := parseCriteria(sub, rewrite)
		if err != nil {
			return nil, err
		}
		list = append(list, e)
	}
	switch op {
	case "$and":
		return And(list), nil
	case "$or":
		return Or(list), nil
	}
	return Nor(list), nil
}

// isOperatorObject reports whether v is {$op: …, …}. Mixing operators and
// plain keys is an error.
func isOperatorObject(field string, v any) (*object, bool, error) {
	o, ok := v.(*object)
	if !ok || len(o.keys) == 0 {
		return nil, false, nil
	}
	ops := 0
	for _, k := range o.keys {
		if strings.HasPrefix(k, "$") {
			ops++
		}
	}
	switch ops {
	case 0:
		return nil, false, nil
	case len(o.keys):
		return o, true, nil
	}
	return nil, false, fmt.Errorf("criteria for %q mix operators and plain fields", field)
}

// parseFieldValue parses the value of a field in criteria: a plain value
// (equality) or an operator object.
func parseFieldValue(field string, v any, rewrite bool) (Expr, error) {
	ops, isOps, err := isOperatorObject(field, v)
	if err != nil {
		return nil, err
	}
	if !isOps {
		return NewCond(field, "$eq", plain(v))
	}
	exprs := make(And, 0, len(ops.keys))
	optsVal, hasOpts := ops.get("$options")
	if hasOpts {
		if _, hasRegex := ops.get("$regex"); !hasRegex {
			return nil, errors.New("$options needs a $regex")
		}
	}
	for i, op := range ops.keys {
		val := ops.vals[i]
		var e Expr
		switch op {
		case "$options":
			continue
		case "$regex":
			flags := ""
			if hasOpts {
				s, ok := optsVal.(string)
				if !ok {
					return nil, fmt.Errorf("$options must be a string, got %s", jsType(optsVal))
				}
				flags = s
			}
			rx, err := parseRegex(val, flags)
			if err != nil {
				return nil, err
			}
			e, err = NewCond(field, op, rx)
			if err != nil {
				return nil, err
			}
		case "$not":
			if _, inner, err := isOperatorObject(field, val); err != nil || !inner {
				if err == nil {
					err = fmt.Errorf("$not needs an operator object, got %s", jsType(val))
				}
				return nil, err
			}
			sub, err := parseFieldValue(field, val, rewrite)
			if err != nil {
				return nil, err
			}
			e = Not{Expr: sub}
		case "$elemMatch":
			sub, ok := val.(*object)
			if !ok {
				return nil, fmt.Errorf("$elemMatch needs an object, got %s", jsType(val))
			}
			inner, err := parseElemMatch(sub)
			if err != nil {
				return nil, err
			}
			e = &ElemMatch{Field: field, Expr: inner, parts: splitField(field)}
		case "$exists":
			e, err = NewCond(field, op, truthy(val))
		case "$size":
			n, ok := val.(float64)
			if !ok || n < 0 || n != math.Trunc(n) || n > math.MaxInt32 {
				return nil, fmt.Errorf("$size needs a non-negative integer, got %s", jsType(val))
			}
			e, err = NewCond(field, op, int(n))
		case "$in", "$nin", "$all":
			if _, ok := val.([]any); !ok {
				return nil, fmt.Errorf("%s needs an array, got %s", op, jsType(val))
			}
			e, err = NewCond(field, op, plain(val))
		default:
			e, err = NewCond(field, op, plain(val))
		}
		if err != nil {
			return nil, err
		}
		exprs = append(exprs, e)
	}
	if len(exprs) == 1 {
		return exprs[0], nil
	}
	return exprs, nil
}

// parseElemMatch parses a $elemMatch body: an operator object applied to the
// element itself ({$gt:5}) or criteria on the element's fields.
func parseElemMatch(o *object) (Expr, error) {
	valueForm := len(o.keys) > 0
	for _, k := range o.keys {
		if !strings.HasPrefix(k, "$") || k == "$and" || k == "$or" || k == "$nor" {
			valueForm = false
			break
		}
	}
	if valueForm {
		return parseFieldValue("", o, false)
	}
	return parseCriteria(o, false)
}

// parseRegex compiles a $regex value: "pattern" or ["pattern", "flags"].
// extraFlags come from a sibling $options.
func parseRegex(v any, extraFlags string) (*Regex, error) {
	var pattern, flags string
	switch x := v.(type) {
	case string:
		pattern = x
	case []any:
		if len(x) > 0 {
			p, ok := x[0].(string)
			if !ok {
				return nil, fmt.Errorf("$regex pattern must be a string, got %s", jsType(x[0]))
			}
			pattern = p
		}
		if len(x) > 1 && x[1] != nil {
			f, ok := x[1].(string)
			if !ok {
				return nil, fmt.Errorf("$regex flags must be a string, got %s", jsType(x[1]))
			}
			flags = f
		}
	default:
		return nil, ErrRegexParam
	}
	return compileRegex(pattern, flags+extraFlags)
}

// compileRegex compiles a JavaScript-style pattern with flags. i, m and s
// carry over to Go; g and u change nothing for a match test and are
// accepted; any other flag, or a repeated one, is an error.
func compileRegex(pattern, flags string) (*Regex, error) {
	var goFlags []byte
	seen := map[rune]bool{}
	for _, f := range flags {
		if seen[f] {
			return nil, fmt.Errorf("invalid $regex flags %q: %q repeated", flags, f)
		}
		seen[f] = true
		switch f {
		case 'i', 'm', 's':
			goFlags = append(goFlags, byte(f))
		case 'g', 'u':
		default:
			return nil, fmt.Errorf("invalid $regex flags %q: unsupported flag %q", flags, f)
		}
	}
	expr := pattern
	if len(goFlags) > 0 {
		expr = "(?" + string(goFlags) + ")" + pattern
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid $regex %q: %w", pattern, err)
	}
	return &Regex{Pattern: pattern, Flags: flags, Re: re}, nil
}
