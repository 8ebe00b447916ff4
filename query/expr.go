package query

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// And matches when every sub-expression matches; an empty And matches
// everything.
type And []Expr

// Or matches when at least one sub-expression matches; an empty Or matches
// nothing.
type Or []Expr

// Nor matches when no sub-expression matches.
type Nor []Expr

// Not negates an expression. It comes from a field-level {$not:{…}} (then
// Expr tests that field) or a top-level {$not:{criteria}}.
type Not struct {
	Expr Expr
}

// ElemMatch matches when the array at Field has at least one element that
// satisfies Expr. Fields inside Expr are relative to the element and are
// not rewritten; a Cond with an empty Field tests the element itself
// (the {$elemMatch:{$gt:5}} form).
type ElemMatch struct {
	Field string
	Expr  Expr

	parts []string
}

// Regex is a compiled $regex value. Pattern and Flags are as the client sent
// them (JavaScript syntax, flags drawn from "imsgu"); Re is the Go
// compilation, with i, m and s applied.
type Regex struct {
	Pattern string
	Flags   string
	Re      *regexp.Regexp
}

// Cond is one field condition, e.g. {Field:"data.age", Op:"$gt", Value:21.0}.
// Field is already rewritten ("data.name", "created", "path"); an empty
// Field means the value under test itself (inside [ElemMatch]).
//
// Op is one of $eq $ne $gt $gte $lt $lte $in $nin $exists $regex $size $all
// $containsAny $contains. Value holds JSON-decoded types (float64, string,
// bool, nil, []any, map[string]any) with these exceptions: $in, $nin, $all
// hold []any; $exists holds bool; $size holds int; $regex holds *Regex.
//
// Build a Cond with [NewCond] (or [Parse]) so it is precompiled; a Cond
// literal still works but is compiled again on every Match.
type Cond struct {
	Field string
	Op    string
	Value any

	compiled bool
	parts    []string
	code     opcode
	neg      bool
	num      float64
	isNum    bool
	str      string
	isStr    bool
	list     []any
	strSet   map[string]struct{}
	numSet   map[float64]struct{}
	listNil  bool // list contains null (matches a missing field)
	re       *regexp.Regexp
	size     int
}

type opcode uint8

const (
	opEq opcode = iota + 1
	opGt
	opGte
	opLt
	opLte
	opIn
	opExists
	opRegex
	opSize
	opAll
	opContainsAny
	opContains
)

// NewCond builds and precompiles a condition. Value must be of the type
// documented on [Cond] for Op ($regex also accepts a pattern string).
func NewCond(field, op string, value any) (*Cond, error) {
	c := &Cond{Field: field, Op: op, Value: value}
	if err := c.compile(); err != nil {
		return nil, err
	}
	return c, nil
}

// splitField splits a dot path; the empty field is the empty path.
func splitField(field string) []string {
	if field == "" {
		return nil
	}
	return strings.Split(field, ".")
}

func (c *Cond) compile() error {
	c.parts = splitField(c.Field)
	switch c.Op {
	case "$eq":
		c.code = opEq
	case "$ne":
		c.code, c.neg = opEq, true
	case "$gt":
		c.code = opGt
	case "$gte":
		c.code = opGte
	case "$lt":
		c.code = opLt
	case "$lte":
		c.code = opLte
	case "$in":
		c.code = opIn
	case "$nin":
		c.code, c.neg = opIn, true
	case "$exists":
		b, ok := c.Value.(bool)
		if !ok {
			return fmt.Errorf("$exists value must be a boolean, got %T", c.Value)
		}
		c.code, c.neg = opExists, !b
	case "$regex":
		switch r := c.Value.(type) {
		case *Regex:
			if r == nil || r.Re == nil {
				return fmt.Errorf("$regex value has no compiled expression")
			}
			c.re = r.Re
		case string:
			rx, err := compileRegex(r, "")
			if err != nil {
				return err
			}
			c.Value, c.re = rx, rx.Re
		default:
			return ErrRegexParam
		}
		c.code = opRegex
	case "$size":
		n, ok := c.Value.(int)
		if !ok || n < 0 {
			return fmt.Errorf("$size value must be a non-negative integer")
		}
		c.code, c.size = opSize, n
	case "$all":
		c.code = opAll
	case "$containsAny":
		c.code = opContainsAny
	case "$contains":
		c.code = opContains
	default:
		return fmt.Errorf("unknown operator: %s", c.Op)
	}
	switch c.code {
	case opIn, opAll:
		list, ok := c.Value.([]any)
		if !ok {
			return fmt.Errorf("%s value must be an array", c.Op)
		}
		c.list = list
		if c.code == opIn {
			c.buildSets()
		}
	case opGt, opGte, opLt, opLte:
		c.num, c.isNum = toNumber(c.Value)
		c.str, c.isStr = c.Value.(string)
	}
	c.compiled = true
	return nil
}

// buildSets indexes a long $in list of scalars for constant-time lookups.
func (c *Cond) buildSets() {
	for _, e := range c.list {
		if e == nil {
			c.listNil = true
		}
	}
	if len(c.list) < 8 {
		return
	}
	strs := make(map[string]struct{})
	nums := make(map[float64]struct{})
	for _, e := range c.list {
		switch x := e.(type) {
		case string:
			strs[x] = struct{}{}
		case nil:
		default:
			f, ok := toNumber(x)
			if !ok {
				return // lists with objects, arrays or booleans stay linear
			}
			nums[f] = struct{}{}
		}
	}
	c.strSet, c.numSet = strs, nums
}

// Match implements [Expr].
func (c *Cond) Match(doc map[string]any) bool { return c.matchRoot(doc) }

func (c *Cond) matchRoot(root any) bool {
	if !c.compiled {
		cc := &Cond{Field: c.Field, Op: c.Op, Value: c.Value}
		if cc.compile() != nil {
			return false
		}
		c = cc
	}
	r := walk(root, c.parts, c)
	if c.neg {
		return !r
	}
	return r
}

// leafTester tests the values a dot path reaches.
type leafTester interface {
	test(v any, found bool) bool
}

// walk follows parts from cur and reports whether t accepts a value reached.
// Like MongoDB, a path crossing an array continues into each element that
// is a document (and into a numeric index when the segment is one).
func walk(cur any, parts []string, t leafTester) bool {
	for i, key := range parts {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[key]
			if !ok {
				return t.test(nil, false)
			}
			cur = v
		case []any:
			if idx, ok := arrayIndex(key); ok && idx < len(c) {
				if walk(c[idx], parts[i+1:], t) {
					return true
				}
			}
			for _, e := range c {
				if _, isDoc := e.(map[string]any); isDoc && walk(e, parts[i:], t) {
					return true
				}
			}
			return false
		default:
			return t.test(nil, false)
		}
	}
	return t.test(cur, true)
}

func arrayIndex(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// test is the positive form of the operator ($ne, $nin and $exists:false
// negate it over all values reached).
func (c *Cond) test(v any, found bool) bool {
	switch c.code {
	case opEq:
		if !found {
			return c.Value == nil
		}
		return eqAny(v, c.Value)
	case opIn:
		if !found {
			return c.listNil
		}
		return c.inAny(v)
	case opExists:
		return found
	}
	if !found {
		return false
	}
	switch c.code {
	case opGt, opGte, opLt, opLte:
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				if c.compare(e) {
					return true
				}
			}
			return false
		}
		return c.compare(v)
	case opRegex:
		switch x := v.(type) {
		case string:
			return c.re.MatchString(x)
		case []any:
			for _, e := range x {
				if s, ok := e.(string); ok && c.re.MatchString(s) {
					return true
				}
			}
		}
		return false
	case opSize:
		arr, ok := v.([]any)
		return ok && len(arr) == c.size
	case opAll:
		if len(c.list) == 0 {
			return false
		}
		for _, t := range c.list {
			if !eqAny(v, t) {
				return false
			}
		}
		return true
	case opContainsAny:
		if arr, ok := c.Value.([]any); ok {
			for _, t := range arr {
				if contains(v, t) {
					return true
				}
			}
			return false
		}
		return contains(v, c.Value)
	case opContains:
		if arr, ok := c.Value.([]any); ok {
			for _, t := range arr {
				if !contains(v, t) {
					return false
				}
			}
			return true
		}
		return contains(v, c.Value)
	}
	return false
}

// compare applies $gt/$gte/$lt/$lte to one scalar: numbers numerically,
// strings lexically, anything else (mixed types included) never matches.
func (c *Cond) compare(v any) bool {
	var r int
	switch {
	case c.isStr:
		s, ok := v.(string)
		if !ok {
			return false
		}
		r = strings.Compare(s, c.str)
	case c.isNum:
		f, ok := toNumber(v)
		if !ok || f != f || c.num != c.num {
			return false
		}
		switch {
		case f < c.num:
			r = -1
		case f > c.num:
			r = 1
		}
	default:
		return false
	}
	switch c.code {
	case opGt:
		return r > 0
	case opGte:
		return r >= 0
	case opLt:
		return r < 0
	}
	return r <= 0
}

func (c *Cond) inAny(v any) bool {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if c.inOne(e) {
				return true
			}
		}
	}
	return c.inOne(v)
}

func (c *Cond) inOne(v any) bool {
	if c.strSet != nil {
		switch x := v.(type) {
		case string:
			_, ok := c.strSet[x]
			return ok
		case nil:
			return c.listNil
		default:
			if f, ok := toNumber(x); ok {
				_, ok = c.numSet[f]
				return ok
			}
			return false // objects, arrays, booleans: the indexed list holds none
		}
	}
	for _, t := range c.list {
		if equal(v, t) {
			return true
		}
	}
	return false
}

// eqAny is MongoDB equality against a field: the value itself, or (for an
// array field) any of its elements.
func eqAny(v, target any) bool {
	if equal(v, target) {
		return true
	}
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if equal(e, target) {
				return true
			}
		}
	}
	return false
}

// equal is deep equality of JSON values, numbers compared numerically.
func equal(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	}
	f, ok := toNumber(a)
	if !ok {
		return false
	}
	g, ok := toNumber(b)
	return ok && f == g
}

// toNumber converts the numeric types a document may hold.
func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float32:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// contains is lokijs' containment test: substring for a string field,
// membership for an array, key presence for an object.
func contains(field, item any) bool {
	switch f := field.(type) {
	case string:
		switch x := item.(type) {
		case string:
			return strings.Contains(f, x)
		case bool:
			return strings.Contains(f, strconv.FormatBool(x))
		case nil:
			return strings.Contains(f, "null")
		}
		if n, ok := toNumber(item); ok {
			return strings.Contains(f, jsNumber(n))
		}
		return false
	case []any:
		for _, e := range f {
			if equal(e, item) {
				return true
			}
		}
		return false
	case map[string]any:
		k, ok := item.(string)
		if !ok {
			if n, isNum := toNumber(item); isNum {
				k, ok = jsNumber(n), true
			}
		}
		if !ok {
			return false
		}
		_, has := f[k]
		return has
	}
	return false
}

// jsNumber formats a number as JavaScript's String(n) does for the usual
// cases (integers without a fraction, others shortest round-trip).
func jsNumber(n float64) string {
	if n == float64(int64(n)) && n > -1e21 && n < 1e21 {
		return strconv.FormatInt(int64(n), 10)
	}
	return strconv.FormatFloat(n, 'g', -1, 64)
}

// rootMatcher is implemented by every node of this package: it matches any
// JSON value, not only documents (needed inside $elemMatch).
type rootMatcher interface {
	matchRoot(root any) bool
}

func matchExpr(e Expr, root any) bool {
	if rm, ok := e.(rootMatcher); ok {
		return rm.matchRoot(root)
	}
	if m, ok := root.(map[string]any); ok && e != nil {
		return e.Match(m)
	}
	return false
}

// Match implements [Expr].
func (a And) Match(doc map[string]any) bool { return a.matchRoot(doc) }

func (a And) matchRoot(root any) bool {
	for _, e := range a {
		if !matchExpr(e, root) {
			return false
		}
	}
	return true
}

// Match implements [Expr].
func (o Or) Match(doc map[string]any) bool { return o.matchRoot(doc) }

func (o Or) matchRoot(root any) bool {
	for _, e := range o {
		if matchExpr(e, root) {
			return true
		}
	}
	return false
}

// Match implements [Expr].
func (n Nor) Match(doc map[string]any) bool { return n.matchRoot(doc) }

func (n Nor) matchRoot(root any) bool { return !Or(n).matchRoot(root) }

// Match implements [Expr].
func (n Not) Match(doc map[string]any) bool { return n.matchRoot(doc) }

func (n Not) matchRoot(root any) bool { return !matchExpr(n.Expr, root) }

// Match implements [Expr].
func (e *ElemMatch) Match(doc map[string]any) bool { return e.matchRoot(doc) }

func (e *ElemMatch) matchRoot(root any) bool {
	parts := e.parts
	if parts == nil {
		parts = splitField(e.Field)
	}
	return walk(root, parts, e)
}

func (e *ElemMatch) test(v any, found bool) bool {
	arr, ok := v.([]any)
	if !found || !ok {
		return false
	}
	for _, el := range arr {
		if matchExpr(e.Expr, el) {
			return true
		}
	}
	return false
}
