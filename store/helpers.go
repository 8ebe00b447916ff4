package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrClosed is returned by a store's methods after Close.
var ErrClosed = errors.New("store: closed")

// ErrEmptyPath is returned when a write addresses the empty path.
var ErrEmptyPath = errors.New("store: empty path")

// CheckObject reports whether data is one well-formed JSON object, without
// decoding it. Providers call it on the Set path so that a plain write stays
// a byte copy.
func CheckObject(data json.RawMessage) error {
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 || t[0] != '{' || !json.Valid(t) {
		return ErrNotObject
	}
	return nil
}

// CheckSetData is CheckObject for a write: with opts.Validated it only
// checks that data is an object, without scanning it again.
func CheckSetData(data json.RawMessage, opts SetOptions) error {
	if !opts.Validated {
		return CheckObject(data)
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	if len(t) == 0 || t[0] != '{' {
		return ErrNotObject
	}
	return nil
}

// CheckSet validates the arguments of a Set every provider checks alike
// (a live context, a path, a JSON object) and returns the write time.
func CheckSet(ctx context.Context, path string, data json.RawMessage, opts SetOptions) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if path == "" {
		return 0, ErrEmptyPath
	}
	if err := CheckSetData(data, opts); err != nil {
		return 0, err
	}
	return WriteTime(opts), nil
}

// WriteTime returns opts.Now when it is set, else the current time in ms.
func WriteTime(opts SetOptions) int64 {
	if opts.Now != 0 {
		return opts.Now
	}
	return time.Now().UnixMilli()
}

// decodeObject decodes data into its top-level members; empty data is an
// empty object.
func decodeObject(data json.RawMessage) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(data)) == 0 {
		return m, nil
	}
	if err := CheckObject(data); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotObject, err)
	}
	if m == nil { // "null" cannot reach here, but keep the result usable
		m = map[string]json.RawMessage{}
	}
	return m, nil
}

// MergeObjects shallow-merges patch into old ({...old, ...patch}) and returns
// the encoded result. old may be empty (no existing record).
func MergeObjects(old, patch json.RawMessage) (json.RawMessage, error) {
	p, err := decodeObject(patch)
	if err != nil {
		return nil, err
	}
	if len(old) == 0 {
		return bytes.Clone(patch), nil
	}
	o, err := decodeObject(old)
	if err != nil {
		return nil, fmt.Errorf("store: existing record: %w", err)
	}
	for k, v := range p {
		o[k] = v
	}
	out, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("store: encoding merged data: %w", err)
	}
	return out, nil
}

// AddToGauge adds by to data[gauge].value (a missing or null gauge counts
// as 0) and returns the re-encoded data and the new total. data may be empty
// (no existing record). Other members of data are kept.
func AddToGauge(data json.RawMessage, gauge string, by float64) (json.RawMessage, float64, error) {
	if gauge == "" {
		return nil, 0, errors.New("store: empty gauge name")
	}
	if math.IsNaN(by) || math.IsInf(by, 0) {
		return nil, 0, fmt.Errorf("store: increment by %v: not a finite number", by)
	}
	o, err := decodeObject(data)
	if err != nil {
		return nil, 0, fmt.Errorf("store: existing record: %w", err)
	}
	g := map[string]json.RawMessage{}
	if raw, ok := o[gauge]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &g); err != nil || g == nil {
			return nil, 0, fmt.Errorf("store: gauge %q is not an object with a numeric value", gauge)
		}
	}
	var cur float64
	if raw, ok := g["value"]; ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		if err := json.Unmarshal(raw, &cur); err != nil {
			return nil, 0, fmt.Errorf("store: gauge %q value is not a number: %w", gauge, err)
		}
	}
	total := cur + by
	v, err := json.Marshal(total)
	if err != nil {
		return nil, 0, fmt.Errorf("store: encoding gauge %q: %w", gauge, err)
	}
	g["value"] = v
	if o[gauge], err = json.Marshal(g); err != nil {
		return nil, 0, fmt.Errorf("store: encoding gauge %q: %w", gauge, err)
	}
	out, err := json.Marshal(o)
	if err != nil {
		return nil, 0, fmt.Errorf("store: encoding data: %w", err)
	}
	return out, total, nil
}
