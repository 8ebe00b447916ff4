package happner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/happner-go/happner/metrics"
)

var (
	happnType   = reflect.TypeFor[*Happn]()
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
	rawType     = reflect.TypeFor[json.RawMessage]()
)

// injectKind says what a method's first parameter receives.
type injectKind int

const (
	injectNone injectKind = iota
	injectHappn
	injectContext
)

// method is one exposed method of a component.
type method struct {
	name     string // wire name
	goName   string
	fn       reflect.Value
	inject   injectKind
	params   []reflect.Type
	errLast  bool // the last result is an error
	nResults int  // results besides the error
	desc     *MethodDescription
	schema   MethodSchema
	// dyn runs a DynamicModule's method instead of fn.
	dyn func(ctx context.Context, h *Happn, args []any) ([]any, error)
	// dynAsync, when set, starts a call of an AsyncDynamicModule's method
	// that completes later (see Mesh.startAsync).
	dynAsync func(ctx context.Context, h *Happn, args []any, done func([]any, error))
	// stats are the method's metrics, bound when its component joins the
	// mesh (nil when metrics are off).
	stats *metrics.Call
	// fastRuns counts the calls in a row that took less than inlineBudget;
	// a slower call sets it far below zero (see inlineable).
	fastRuns atomic.Int32
}

// defaultInlineBudget is how long a method may take to be run on the
// reader of the connection its request came on (Config.InlineCallBudget).
const defaultInlineBudget = 250 * time.Microsecond

// Calls of a method run on a worker until it has been fast inlineAfter
// times in a row; a call slower than the budget sends it back to the
// workers until it has been fast slowPenalty+inlineAfter times in a row (a
// method that blocks now and then rarely qualifies; one that was merely
// preempted on a busy machine soon does again).
const (
	inlineAfter = 16
	slowPenalty = 64
)

// inlineable reports whether the method has been quick enough to run on a
// connection's reader: its request's reply then leaves in the same write
// as the request's acknowledgement, with no other goroutine woken. A method
// that blocks (I/O, calls to other members) soon stops qualifying, so that
// it cannot hold up its caller's connection.
func (m *method) inlineable() bool { return m.fastRuns.Load() >= inlineAfter }

// record notes how long a call took, against the mesh's budget.
func (m *method) record(d, budget time.Duration) {
	switch {
	case d > budget:
		m.fastRuns.Store(-slowPenalty)
	case m.fastRuns.Load() < inlineAfter:
		m.fastRuns.Add(1)
	}
}

// wireName is a Go method name as JS clients type it: Record → record.
func wireName(goName string) string {
	r, n := utf8.DecodeRuneInString(goName)
	return string(unicode.ToLower(r)) + goName[n:]
}

// newMethod inspects a bound method value; ok is false when its signature
// cannot be called over the exchange.
func newMethod(goName string, fn reflect.Value) (*method, bool) {
	t := fn.Type()
	if t.IsVariadic() {
		return nil, false
	}
	m := &method{name: wireName(goName), goName: goName, fn: fn}
	first := 0
	if t.NumIn() > 0 {
		switch t.In(0) {
		case happnType:
			m.inject, first = injectHappn, 1
		case contextType:
			m.inject, first = injectContext, 1
		}
	}
	for i := first; i < t.NumIn(); i++ {
		p := t.In(i)
		if !decodable(p) {
			return nil, false
		}
		m.params = append(m.params, p)
	}
	n := t.NumOut()
	if n > 0 && t.Out(n-1) == errorType {
		m.errLast = true
		n--
	}
	m.nResults = n
	return m, true
}

// decodable reports whether JSON can be decoded into a value of type t.
func decodable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Interface:
		return t.NumMethod() == 0
	}
	return true
}

// describe builds the method's description from its schema.
func (m *method) describe(s MethodSchema) {
	m.schema = s
	d := &MethodDescription{IsAsyncMethod: true, Type: s.Type, Alias: s.Alias}
	if len(s.Parameters) > 0 {
		d.Parameters = append([]Param(nil), s.Parameters...)
		for i := range d.Parameters {
			d.Parameters[i].Value = nil
		}
	}
	for i := len(d.Parameters); i < len(m.params); i++ {
		d.Parameters = append(d.Parameters, Param{Name: fmt.Sprintf("arg%d", i)})
	}
	if d.Parameters == nil {
		d.Parameters = []Param{}
	}
	m.desc = d
}

// callResult is the outcome of invoking a method: its results, the error
// it returned (status "error"), or the reason it could not be called
// (status "failed").
type callResult struct {
	results []any
	err     error
	failed  error
}

// callArgs are the arguments of one call: raw JSON values from the wire
// (decoded straight into the parameters, without boxing them first) or Go
// values from an in-process caller.
type callArgs struct {
	raw  []json.RawMessage
	vals []any
}

// goArgs wraps Go values as call arguments.
func goArgs(vals []any) callArgs { return callArgs{vals: vals} }

func (a callArgs) len() int { return len(a.raw) + len(a.vals) }

// value converts argument i to a parameter of type t; a missing argument is
// t's zero value.
func (a callArgs) value(t reflect.Type, i int) (reflect.Value, error) {
	switch {
	case i < len(a.raw):
		return rawArgValue(t, a.raw[i])
	case i < len(a.vals):
		return argValue(t, a.vals[i])
	}
	return reflect.Zero(t), nil
}

// any returns the arguments as Go values (for dynamic methods).
func (a callArgs) any() []any {
	if a.raw == nil {
		return a.vals
	}
	out := make([]any, len(a.raw))
	for i, r := range a.raw {
		out[i] = r
	}
	return out
}

// invoke calls the method with args (JSON values or Go values).
// wantsHappn reports whether the method is given a *Happn (a dynamic
// method always is); others are called without building one.
func (m *method) wantsHappn() bool { return m.dyn != nil || m.inject == injectHappn }

func (m *method) invoke(ctx context.Context, h *Happn, log *slog.Logger, args callArgs) (res callResult) {
	if m.dyn != nil {
		results, err := m.dyn(ctx, h, args.any())
		return callResult{results: results, err: err}
	}
	in := make([]reflect.Value, 0, len(m.params)+1)
	switch m.inject {
	case injectHappn:
		in = append(in, reflect.ValueOf(h))
	case injectContext:
		in = append(in, reflect.ValueOf(ctx))
	}
	for i, p := range m.params {
		v, err := args.value(p, i)
		if err != nil {
			res.failed = NewError("Error", fmt.Sprintf("bad argument %d of %s: %v", i, m.name, err))
			return res
		}
		in = append(in, v)
	}
	defer func() {
		if r := recover(); r != nil {
			if log != nil {
				log.Error("happner: method panicked", "method", m.name, "panic", r, "stack", string(debug.Stack()))
			}
			res = callResult{err: NewError("Error", fmt.Sprintf("%v", r))}
		}
	}()
	out := m.fn.Call(in)
	if m.errLast {
		if e := out[len(out)-1]; !e.IsNil() {
			res.err = e.Interface().(error)
			return res
		}
		out = out[:len(out)-1]
	}
	res.results = make([]any, len(out))
	for i, o := range out {
		res.results[i] = o.Interface()
	}
	return res
}

// rawArgValue decodes a JSON argument into a parameter of type t.
func rawArgValue(t reflect.Type, raw json.RawMessage) (reflect.Value, error) {
	if t == rawType {
		return reflect.ValueOf(raw), nil
	}
	v := reflect.New(t)
	if len(raw) == 0 || string(raw) == "null" {
		return v.Elem(), nil
	}
	if decodeScalar(raw, v.Elem()) {
		return v.Elem(), nil
	}
	if err := json.Unmarshal(raw, v.Interface()); err != nil {
		return reflect.Value{}, err
	}
	return v.Elem(), nil
}

// argValue converts a (JSON or Go) argument to a parameter of type t; a
// missing or null argument is t's zero value.
func argValue(t reflect.Type, a any) (reflect.Value, error) {
	if a == nil {
		return reflect.Zero(t), nil
	}
	if raw, ok := a.(json.RawMessage); ok {
		return rawArgValue(t, raw)
	}
	av := reflect.ValueOf(a)
	if av.Type().AssignableTo(t) {
		v := reflect.New(t).Elem()
		v.Set(av)
		return v, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return reflect.Value{}, err
	}
	return argValue(t, json.RawMessage(b))
}

// decodeScalar decodes a JSON number, plain string or boolean straight
// into a value of a basic kind, without encoding/json's reflection (the
// common case of method arguments). It reports false when raw or v is of
// another shape, and the caller decodes with encoding/json.
func decodeScalar(raw json.RawMessage, v reflect.Value) bool {
	if len(raw) == 0 {
		return false
	}
	switch v.Kind() {
	case reflect.Float64, reflect.Float32:
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return false
		}
		v.SetFloat(f)
		return true
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Int16, reflect.Int8:
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil || v.OverflowInt(n) {
			return false
		}
		v.SetInt(n)
		return true
	case reflect.String:
		if raw[0] != '"' || bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
			return false
		}
		v.SetString(string(raw[1 : len(raw)-1]))
		return true
	case reflect.Bool:
		switch string(raw) {
		case "true":
			v.SetBool(true)
			return true
		case "false":
			v.SetBool(false)
			return true
		}
	}
	return false
}

// assignResult stores result r into out, a non-nil pointer.
func assignResult(out any, r any) error {
	if out == nil {
		return nil
	}
	ov := reflect.ValueOf(out)
	if ov.Kind() != reflect.Pointer || ov.IsNil() {
		return fmt.Errorf("happner: result destination must be a non-nil pointer, got %T", out)
	}
	if r == nil {
		ov.Elem().Set(reflect.Zero(ov.Elem().Type()))
		return nil
	}
	if raw, ok := r.(json.RawMessage); ok && ov.Elem().Type() != rawType {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("happner: decode result: %w", err)
		}
		return nil
	}
	rv := reflect.ValueOf(r)
	if rv.Type().AssignableTo(ov.Elem().Type()) {
		ov.Elem().Set(rv)
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("happner: encode result: %w", err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("happner: decode result: %w", err)
	}
	return nil
}
