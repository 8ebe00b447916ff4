package configfile

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// Unsupported is the type of a struct field that stands for a feature
// this project does not implement: the key is accepted, and reported by
// [Document.Problems] with the reason in the field's `unsupported` tag (or
// in the tag of the embedded struct it belongs to).
//
//	Plugins configfile.Unsupported `json:"plugins" unsupported:"plugins are not implemented"`
type Unsupported struct{}

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	unsupportedType = reflect.TypeFor[Unsupported]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func (d *Document) decodeValue(n *node, path []string, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("configfile: Decode needs a non-nil pointer, got %T", v)
	}
	return d.decode(n, path, rv.Elem(), "")
}

// decode stores n in v. reason is the unsupported tag of v's field.
func (d *Document) decode(n *node, path []string, v reflect.Value, reason string) error {
	t := v.Type()
	switch {
	case t == unsupportedType:
		n.markAll()
		if reason == "" {
			reason = "not implemented"
		}
		n.unsupported = reason
		return nil
	case t == rawMessageType:
		var buf bytes.Buffer
		if err := n.marshal(&buf); err != nil {
			return d.errorAt(n, path, err.Error())
		}
		n.markAll()
		v.SetBytes(buf.Bytes())
		return nil
	case t.Kind() == reflect.Pointer:
		n.used = true
		if n.kind == kindNull {
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		return d.decode(n, path, v.Elem(), reason)
	case reflect.PointerTo(t).Implements(unmarshalerType):
		var buf bytes.Buffer
		if err := n.marshal(&buf); err != nil {
			return d.errorAt(n, path, err.Error())
		}
		n.markAll()
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(buf.Bytes()); err != nil {
			return d.errorAt(n, path, plainError(err))
		}
		return nil
	case reflect.PointerTo(t).Implements(textType) && n.kind == kindString:
		n.used = true
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.text)); err != nil {
			return d.errorAt(n, path, plainError(err))
		}
		return nil
	}
	n.used = true
	if n.kind == kindNull && t.Kind() != reflect.Interface {
		// null leaves the value as it is, as encoding/json does
		return nil
	}
	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return d.errorAt(n, path, fmt.Sprintf("cannot be read into %s", t))
		}
		n.markAll()
		if val := n.value(); val != nil {
			v.Set(reflect.ValueOf(val))
		} else {
			v.SetZero()
		}
	case reflect.Struct:
		if n.kind != kindObject {
			return d.typeError(n, path, t)
		}
		return d.decodeStruct(n, path, v)
	case reflect.Map:
		if n.kind != kindObject {
			return d.typeError(n, path, t)
		}
		if t.Key().Kind() != reflect.String {
			return d.errorAt(n, path, fmt.Sprintf("cannot be read into %s", t))
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(n.entries)))
		}
		for _, e := range n.entries {
			elem := reflect.New(t.Elem()).Elem()
			if err := d.decode(e.val, append(path[:len(path):len(path)], e.key), elem, ""); err != nil {
				return err
			}
			v.SetMapIndex(reflect.ValueOf(e.key).Convert(t.Key()), elem)
		}
	case reflect.Slice:
		if n.kind != kindArray {
			return d.typeError(n, path, t)
		}
		s := reflect.MakeSlice(t, len(n.items), len(n.items))
		for i, it := range n.items {
			if err := d.decode(it, appendIndex(path, i), s.Index(i), ""); err != nil {
				return err
			}
		}
		v.Set(s)
	case reflect.String:
		switch {
		case n.kind == kindString:
			v.SetString(n.text)
		case n.plain && n.kind != kindObject && n.kind != kindArray:
			// a YAML plain scalar (deploymentId: 12345) is text as written
			v.SetString(n.yamlText)
		default:
			return d.typeError(n, path, t)
		}
	case reflect.Bool:
		text, ok := scalarText(n, kindBool)
		b, err := strconv.ParseBool(text)
		if !ok || err != nil || (text != "true" && text != "false") {
			return d.typeError(n, path, t)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		text, ok := scalarText(n, kindNumber)
		i, err := wholeNumber(text)
		if !ok || err != nil || v.OverflowInt(i) {
			return d.typeError(n, path, t)
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		text, ok := scalarText(n, kindNumber)
		i, err := wholeNumber(text)
		if !ok || err != nil || i < 0 || v.OverflowUint(uint64(i)) {
			return d.typeError(n, path, t)
		}
		v.SetUint(uint64(i))
	case reflect.Float32, reflect.Float64:
		text, ok := scalarText(n, kindNumber)
		f, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if !ok || err != nil || v.OverflowFloat(f) {
			return d.typeError(n, path, t)
		}
		v.SetFloat(f)
	default:
		return d.errorAt(n, path, fmt.Sprintf("cannot be read into %s", t))
	}
	return nil
}

// scalarText returns the text of a node of kind want, or of a string
// built from environment variables, which stands for any scalar.
func scalarText(n *node, want kind) (string, bool) {
	if n.kind == want || (n.kind == kindString && n.expanded) {
		return strings.TrimSpace(n.text), true
	}
	return "", false
}

// wholeNumber reads a number literal that is a whole number, in any
// notation ("60000", "60e3", "6.0e4").
func wholeNumber(text string) (int64, error) {
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, errors.New("not a whole number")
	}
	return int64(f), nil
}

func (d *Document) decodeStruct(n *node, path []string, v reflect.Value) error {
	fields := structFields(v.Type())
	if n.known == nil {
		n.known = map[string]bool{}
	}
	for name := range fields {
		n.known[name] = true
	}
	for _, e := range n.entries {
		f, ok := fields[e.key]
		if !ok {
			continue
		}
		fv, err := fieldByIndex(v, f.index)
		if err != nil {
			return d.errorAt(e.val, append(path[:len(path):len(path)], e.key), err.Error())
		}
		if err := d.decode(e.val, append(path[:len(path):len(path)], e.key), fv, f.unsupported); err != nil {
			return err
		}
	}
	return nil
}

// fieldByIndex is v.FieldByIndex, allocating nil embedded pointers.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, error) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, errors.New("cannot set an embedded field")
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, nil
}

// field is one key of a struct.
type field struct {
	index       []int
	unsupported string
}

var fieldCache sync.Map // reflect.Type → map[string]field

// structFields returns the keys of a struct type by json name, embedded
// structs flattened as encoding/json does (the shallower field wins).
func structFields(t reflect.Type) map[string]field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]field)
	}
	out := map[string]field{}
	depth := map[string]int{}
	var walk func(t reflect.Type, index []int, reason string)
	walk = func(t reflect.Type, index []int, reason string) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			idx := append(index[:len(index):len(index)], i)
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if sf.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				walk(ft, idx, cmp.Or(sf.Tag.Get("unsupported"), reason))
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			if d, ok := depth[name]; ok && d <= len(idx) {
				continue
			}
			depth[name] = len(idx)
			out[name] = field{index: idx, unsupported: cmp.Or(sf.Tag.Get("unsupported"), reason)}
		}
	}
	walk(t, nil, "")
	fieldCache.Store(t, out)
	return out
}

// typeError says which type was expected, in plain words.
func (d *Document) typeError(n *node, path []string, t reflect.Type) error {
	return d.errorAt(n, path, fmt.Sprintf("expected %s, found %s", plainType(t), n.describe()))
}

// plainType names a Go type as a config value.
func plainType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object (key: value, …)"
	case reflect.Pointer:
		return plainType(t.Elem())
	}
	return t.String()
}

// plainError strips a package prefix from a decoder's error.
func plainError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 && !strings.ContainsAny(msg[:i], " \"") {
		return msg[i+2:]
	}
	return msg
}
