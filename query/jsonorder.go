package query

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// maxDepth bounds the nesting of a decoded options object so that hostile
// input cannot exhaust the stack.
const maxDepth = 256

// object is a JSON object that remembers the order of its keys, which
// matters for sort keys (and keeps parsed trees deterministic). A key seen
// twice keeps its first position and its last value, as JSON.parse does.
type object struct {
	keys  []string
	vals  []any
	index map[string]int // built once the object grows past a few keys
}

// set adds or replaces key.
func (o *object) set(key string, v any) {
	if i, ok := o.find(key); ok {
		o.vals[i] = v
		return
	}
	o.keys = append(o.keys, key)
	o.vals = append(o.vals, v)
	if o.index != nil {
		o.index[key] = len(o.keys) - 1
	} else if len(o.keys) > 16 {
		o.index = make(map[string]int, len(o.keys)*2)
		for i, k := range o.keys {
			o.index[k] = i
		}
	}
}

func (o *object) find(key string) (int, bool) {
	if o.index != nil {
		i, ok := o.index[key]
		return i, ok
	}
	for i, k := range o.keys {
		if k == key {
			return i, true
		}
	}
	return 0, false
}

// get returns the value of key.
func (o *object) get(key string) (any, bool) {
	if i, ok := o.find(key); ok {
		return o.vals[i], true
	}
	return nil, false
}

// decodeOrdered decodes one JSON value. Objects become *object, arrays
// []any, numbers float64; strings, booleans and null as encoding/json does.
func decodeOrdered(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: unexpected data after the value")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		if f, isNum := tok.(float64); isNum && (math.IsInf(f, 0) || math.IsNaN(f)) {
			return nil, errors.New("invalid JSON: number out of range")
		}
		return tok, nil
	}
	if depth >= maxDepth {
		return nil, fmt.Errorf("invalid JSON: nested deeper than %d levels", maxDepth)
	}
	switch d {
	case '{':
		o := &object{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("invalid JSON: %w", err)
			}
			key, ok := kt.(string)
			if !ok {
				return nil, errors.New("invalid JSON: object key is not a string")
			}
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			o.set(key, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		return o, nil
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		return arr, nil
	}
	return nil, fmt.Errorf("invalid JSON: unexpected %q", rune(d))
}

// encodeOrdered appends a decoded value as JSON, objects in their key
// order.
func encodeOrdered(dst []byte, v any) []byte {
	switch x := v.(type) {
	case *object:
		dst = append(dst, '{')
		for i, k := range x.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			kb, _ := json.Marshal(k)
			dst = append(dst, kb...)
			dst = append(dst, ':')
			dst = encodeOrdered(dst, x.vals[i])
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = encodeOrdered(dst, e)
		}
		return append(dst, ']')
	}
	b, err := json.Marshal(v) // strings, finite numbers, booleans, null
	if err != nil {
		return append(dst, "null"...)
	}
	return append(dst, b...)
}

// plain converts a decoded value into the types encoding/json produces
// (map[string]any for objects), the types documents are made of.
func plain(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.keys))
		for i, k := range x.keys {
			m[k] = plain(x.vals[i])
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// truthy reports JavaScript truthiness of a decoded JSON value.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0 && !math.IsNaN(x)
	case string:
		return x != ""
	}
	return true
}

// jsType names a decoded value's JSON type for error messages.
func jsType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case *object, map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
