package happn

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Frames are built by appending to byte slices: the hot paths (set reply,
// get reply, publication) splice stored JSON into the frame without decoding
// or re-encoding it.

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Besides JSON's required escapes
// it escapes U+2028 and U+2029 as primus does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendEscaped(b, s)
	return append(b, '"')
}

// appendEscaped appends the body of s as a JSON string, without quotes.
func appendEscaped(b []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// appendKey appends "key": (with a leading comma unless first).
func appendKey(b []byte, first bool, key string) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendFloat(b []byte, f float64) []byte {
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// appendRaw appends a JSON value given as raw bytes, or null when empty.
func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// openObject returns the raw JSON object obj without its closing brace,
// and whether it had members. Used to splice extra members (such as _meta)
// into a stored object: "{"x":1}" becomes "{"x":1" + ",\"_meta\":...}".
func openObject(obj json.RawMessage) (prefix []byte, hasMembers bool) {
	obj = bytes.TrimSpace(obj)
	if len(obj) < 2 || obj[0] != '{' {
		return []byte{'{'}, false
	}
	inner := bytes.TrimSpace(obj[1 : len(obj)-1])
	if len(inner) == 0 {
		return []byte{'{'}, false
	}
	return obj[:len(obj)-1], true
}

// appendMergedItem appends {...data, "_meta": meta} where meta is a
// ready-made JSON object.
func appendMergedItem(b []byte, data json.RawMessage, meta []byte) []byte {
	prefix, members := openObject(data)
	b = append(b, prefix...)
	if members {
		b = append(b, ',')
	}
	b = append(b, `"_meta":`...)
	b = append(b, meta...)
	return append(b, '}')
}

// wrapValue turns any JSON value into the object happn stores: objects are
// kept (minus a top-level "_meta" member), anything else becomes
// {"value": x}.
func wrapValue(raw json.RawMessage) (json.RawMessage, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return json.RawMessage(`{"value":null}`), nil
	}
	if t[0] != '{' {
		out := make([]byte, 0, len(t)+10)
		out = append(out, `{"value":`...)
		out = append(out, t...)
		return append(out, '}'), nil
	}
	if !bytes.Contains(t, []byte(`"_meta"`)) {
		return t, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return nil, err
	}
	if _, ok := m["_meta"]; !ok {
		return t, nil
	}
	delete(m, "_meta")
	return json.Marshal(m)
}
