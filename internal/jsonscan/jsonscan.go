// Package jsonscan validates and walks JSON in one pass, without
// reflection: the members of an object are located and their raw values
// handed over as sub-slices. The happn server decodes every request frame
// with it, and the mesh its exchange requests.
package jsonscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"unsafe"
)

// maxNesting bounds how deeply arrays and objects may nest in a frame.
const maxNesting = 512

// ErrSyntax is wrapped by every error about malformed JSON.
var ErrSyntax = errors.New("invalid JSON")

func syntaxError(b []byte, i int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, what, i)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString validates the string starting at b[i] == '"' and returns the
// index after its closing quote and whether it holds escapes.
func scanString(b []byte, i int) (end int, escaped bool, err error) {
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, syntaxError(b, i, "unterminated escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+5 >= len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return 0, false, syntaxError(b, i, "bad \\u escape")
				}
				i += 6
			default:
				return 0, false, syntaxError(b, i, "bad escape")
			}
		case c < 0x20:
			return 0, false, syntaxError(b, i, "control character in string")
		default:
			i++
		}
	}
	return 0, false, syntaxError(b, i, "unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// scanValue validates the JSON value starting at b[i] (no leading space)
// and returns the index after it.
func scanValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, syntaxError(b, i, "unexpected end")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		if depth >= maxNesting {
			return 0, syntaxError(b, i, "nesting too deep")
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			if i >= len(b) || b[i] != '"' {
				return 0, syntaxError(b, i, "expected member name")
			}
			end, _, err := scanString(b, i)
			if err != nil {
				return 0, err
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return 0, syntaxError(b, i, "expected ':'")
			}
			i = skipSpace(b, i+1)
			if i, err = scanValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, syntaxError(b, i, "unterminated object")
			}
			if b[i] == '}' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, syntaxError(b, i, "expected ',' or '}'")
			}
			i = skipSpace(b, i+1)
		}
	case c == '[':
		if depth >= maxNesting {
			return 0, syntaxError(b, i, "nesting too deep")
		}
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = scanValue(b, i, depth+1); err != nil {
				return 0, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, syntaxError(b, i, "unterminated array")
			}
			if b[i] == ']' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return 0, syntaxError(b, i, "expected ',' or ']'")
			}
			i = skipSpace(b, i+1)
		}
	case c == 't':
		return scanLiteral(b, i, "true")
	case c == 'f':
		return scanLiteral(b, i, "false")
	case c == 'n':
		return scanLiteral(b, i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(b, i)
	}
	return 0, syntaxError(b, i, "unexpected character")
}

func scanLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, syntaxError(b, i, "bad literal")
	}
	return i + len(lit), nil
}

func scanNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return 0, syntaxError(b, start, "bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, syntaxError(b, start, "bad number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return 0, syntaxError(b, start, "bad number")
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i, nil
}

// EachMember walks the members of the object b (already trimmed), calling
// fn with each raw key (still quoted) and raw value. It validates b.
func EachMember(b []byte, fn func(key, value []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return syntaxError(b, i, "expected an object")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		if j := skipSpace(b, i+1); j != len(b) {
			return syntaxError(b, j, "data after value")
		}
		return nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return syntaxError(b, i, "expected member name")
		}
		kend, _, err := scanString(b, i)
		if err != nil {
			return err
		}
		key := b[i:kend]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return syntaxError(b, i, "expected ':'")
		}
		i = skipSpace(b, i+1)
		vstart := i
		if i, err = scanValue(b, i, 1); err != nil {
			return err
		}
		if err := fn(key, b[vstart:i]); err != nil {
			return err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return syntaxError(b, i, "unterminated object")
		}
		if b[i] == '}' {
			if j := skipSpace(b, i+1); j != len(b) {
				return syntaxError(b, j, "data after value")
			}
			return nil
		}
		if b[i] != ',' {
			return syntaxError(b, i, "expected ',' or '}'")
		}
		i = skipSpace(b, i+1)
	}
}

// EachMemberLenient walks the members of the object b as EachMember does,
// but salvages what it can of an object EachMember refuses: a value that is
// not valid JSON (nested too deeply, a bad escape, a bad number) is skipped
// up to the ',' or '}' that ends it, counting brackets and strings without
// validating them, and fn sees only the members whose key and value are
// valid. The walk ends at what cannot be skipped (a broken key, a missing
// ':', the end of b). It reads each byte a bounded number of times and
// does not recurse, whatever b holds. It is meant for error replies to
// broken requests, to find the member (an eventId) that lets the client
// match the reply to its request.
func EachMemberLenient(b []byte, fn func(key, value []byte)) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return
	}
	i = skipSpace(b, i+1)
	for i < len(b) && b[i] == '"' {
		kend, _, err := scanString(b, i)
		if err != nil {
			return
		}
		key := b[i:kend]
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return
		}
		i = skipSpace(b, i+1)
		vstart := i
		if end, err := scanValue(b, i, 1); err == nil {
			if j := skipSpace(b, end); j < len(b) && (b[j] == ',' || b[j] == '}') {
				fn(key, b[vstart:end])
				i = j
			} else {
				i = skipBroken(b, vstart)
			}
		} else {
			i = skipBroken(b, vstart)
		}
		if i >= len(b) || b[i] != ',' {
			return
		}
		i = skipSpace(b, i+1)
	}
}

// skipBroken skips a value that may not be valid JSON, from b[i] to the
// ',' or '}' that ends it at its own level; it returns that index, or
// len(b). Strings are skipped to their closing quote whatever their escapes
// are, and brackets are counted, not matched.
func skipBroken(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' {
					i++
				}
				i++
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 {
				return i
			}
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
		i++
	}
	return len(b)
}

// KeyIs reports whether the quoted raw key equals name (keys with escapes
// are compared after decoding).
func KeyIs(raw []byte, name string) bool {
	if len(raw) == len(name)+2 && string(raw[1:len(raw)-1]) == name {
		return true
	}
	if len(raw) > 2 && containsByte(raw, '\\') {
		var s string
		return json.Unmarshal(raw, &s) == nil && s == name
	}
	return false
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// Unquote decodes a raw JSON string; ok is false when raw is not a string.
func Unquote(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if !containsByte(inner, '\\') {
		return string(inner), true
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// UnquoteView is Unquote without a copy for strings without escapes: the
// result shares raw's memory, so raw must never change afterwards (a
// decoded request frame that is not reused qualifies).
func UnquoteView(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if len(inner) > 0 && !containsByte(inner, '\\') {
		return unsafe.String(&inner[0], len(inner)), true
	}
	return Unquote(raw)
}

// EachElement walks the elements of the array b, calling fn with each raw
// value. It validates b.
func EachElement(b []byte, fn func(value []byte) error) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return syntaxError(b, i, "expected an array")
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		if j := skipSpace(b, i+1); j != len(b) {
			return syntaxError(b, j, "data after value")
		}
		return nil
	}
	for {
		start := i
		var err error
		if i, err = scanValue(b, i, 1); err != nil {
			return err
		}
		if err := fn(b[start:i]); err != nil {
			return err
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return syntaxError(b, i, "unterminated array")
		}
		if b[i] == ']' {
			if j := skipSpace(b, i+1); j != len(b) {
				return syntaxError(b, j, "data after value")
			}
			return nil
		}
		if b[i] != ',' {
			return syntaxError(b, i, "expected ',' or ']'")
		}
		i = skipSpace(b, i+1)
	}
}

// AppendString appends s as a JSON string, byte for byte as encoding/json
// writes it: plain ASCII directly, anything else through encoding/json.
func AppendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
