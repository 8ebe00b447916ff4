package logging

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"time"
)

var (
	durationType      = reflect.TypeFor[time.Duration]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// maxReadableDepth bounds the walk of readable (a configuration is shallow;
// a cycle is not walked forever).
const maxReadableDepth = 32

// readable returns v as encoding/json would see it (the same member names,
// omitempty and "-" honoured, embedded structs inlined), but with every
// time.Duration as its string ("30s", "1m0s") instead of a count of
// nanoseconds. Values with their own JSON or text form are left to
// encoding/json.
func readable(v reflect.Value, depth int) any {
	if !v.IsValid() || depth > maxReadableDepth {
		return nil
	}
	t := v.Type()
	if t == durationType {
		return time.Duration(v.Int()).String()
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if ownForm(t) {
			return v.Interface()
		}
		return readable(v.Elem(), depth+1)
	case reflect.Func, reflect.Chan, reflect.UnsafePointer, reflect.Complex64, reflect.Complex128:
		return nil // encoding/json cannot show these
	}
	if ownForm(t) || (v.CanAddr() && ownForm(reflect.PointerTo(t))) {
		return v.Interface()
	}
	switch t.Kind() {
	case reflect.Struct:
		out := map[string]any{}
		readableFields(v, out, depth)
		return out
	case reflect.Map:
		if t.Key().Kind() != reflect.String || v.IsNil() {
			return v.Interface()
		}
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			out[it.Key().String()] = readable(it.Value(), depth+1)
		}
		return out
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 || (t.Kind() == reflect.Slice && v.IsNil()) {
			return v.Interface()
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = readable(v.Index(i), depth+1)
		}
		return out
	}
	return v.Interface()
}

// ownForm reports whether values of t marshal themselves.
func ownForm(t reflect.Type) bool {
	return t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType)
}

// readableFields adds the members of struct v to out, as encoding/json
// names them.
func readableFields(v reflect.Value, out map[string]any, depth int) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue
				}
				ft, fv = ft.Elem(), fv.Elem()
			}
			if ft.Kind() == reflect.Struct {
				readableFields(fv, out, depth+1)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if hasOption(opts, "omitempty") && emptyJSON(fv) || hasOption(opts, "omitzero") && fv.IsZero() {
			continue
		}
		out[name] = readable(fv, depth+1)
	}
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// emptyJSON is encoding/json's test for omitempty.
func emptyJSON(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
		return v.IsZero()
	case reflect.Interface, reflect.Pointer:
		return v.IsNil()
	}
	return false
}
