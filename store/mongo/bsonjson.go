package mongo

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// This file converts between the JSON a happn client sends and the BSON a
// MongoDB server stores, so that a document written here is the document
// happn-db-provider-mongo (Node.js) writes for the same value, and the
// other way round:
//
//   - JSON to BSON follows JSON.parse and then the Node.js BSON serializer:
//     an integral number in the int32 range is an int32, any other number a
//     double; a duplicate key keeps its first position and its last value;
//     a lone UTF-16 surrogate in a string becomes U+FFFD.
//   - BSON to JSON follows JSON.stringify of what the Node.js driver reads:
//     numbers spelt as JavaScript spells them (1e+21, 1.5e-7, 100), dates
//     as ISO strings, ObjectIds as hex strings, binary data as base64;
//     values JavaScript has no JSON for (decimal128, timestamps, regular
//     expressions, min/max keys) in MongoDB extended JSON.
//
// Output JSON is compact, in the stored key order, so a plain write reads
// back byte for byte when it was written compact.

// BSON element types.
const (
	bsonDouble     = 0x01
	bsonString     = 0x02
	bsonDocument   = 0x03
	bsonArray      = 0x04
	bsonBinary     = 0x05
	bsonUndefined  = 0x06
	bsonObjectID   = 0x07
	bsonBoolean    = 0x08
	bsonDateTime   = 0x09
	bsonNull       = 0x0A
	bsonRegex      = 0x0B
	bsonDBPointer  = 0x0C
	bsonJavaScript = 0x0D
	bsonSymbol     = 0x0E
	bsonCodeScope  = 0x0F
	bsonInt32      = 0x10
	bsonTimestamp  = 0x11
	bsonInt64      = 0x12
	bsonDecimal128 = 0x13
	bsonMinKey     = 0xFF
	bsonMaxKey     = 0x7F
)

// errBadJSON wraps every error about malformed JSON input.
var errBadJSON = errors.New("malformed JSON")

// jsonToBSON converts one JSON object to a BSON document. Keys may not
// contain the character U+0000, which BSON cannot hold.
func jsonToBSON(src []byte) (bson.Raw, error) {
	p := &jsonParser{src: src}
	p.skipSpace()
	if p.pos >= len(src) || src[p.pos] != '{' {
		return nil, fmt.Errorf("%w: not an object", errBadJSON)
	}
	out, err := p.document(make([]byte, 0, len(src)+len(src)/2+16))
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos != len(src) {
		return nil, fmt.Errorf("%w: data after the object at offset %d", errBadJSON, p.pos)
	}
	return out, nil
}

// jsonArrayToBSON converts a JSON array of objects (an aggregation
// pipeline) to BSON documents.
func jsonArrayToBSON(src []byte) ([]bson.Raw, error) {
	p := &jsonParser{src: src}
	p.skipSpace()
	if !p.consume('[') {
		return nil, fmt.Errorf("%w: not an array", errBadJSON)
	}
	var out []bson.Raw
	p.skipSpace()
	if p.consume(']') {
		return out, p.end()
	}
	for {
		p.skipSpace()
		if p.pos >= len(src) || src[p.pos] != '{' {
			return nil, fmt.Errorf("%w: element %d is not an object", errBadJSON, len(out))
		}
		doc, err := p.document(nil)
		if err != nil {
			return nil, err
		}
		out = append(out, doc)
		p.skipSpace()
		if p.consume(']') {
			return out, p.end()
		}
		if !p.consume(',') {
			return nil, p.errorf("expected , or ]")
		}
	}
}

// jsonParser is a small recursive-descent JSON reader that writes BSON as
// it goes.
type jsonParser struct {
	src []byte
	pos int
	buf []byte // scratch for decoded keys
}

func (p *jsonParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", errBadJSON, fmt.Sprintf(format, args...), p.pos)
}

func (p *jsonParser) end() error {
	p.skipSpace()
	if p.pos != len(p.src) {
		return p.errorf("unexpected data after the value")
	}
	return nil
}

func (p *jsonParser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) consume(c byte) bool {
	if p.pos < len(p.src) && p.src[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

// member records where one key's element lies in the document being
// written, so that a duplicate key can replace it in place.
type member struct {
	key        string
	start, end int
}

// document reads an object at p.pos ('{' expected) and appends it as a
// BSON document.
func (p *jsonParser) document(dst []byte) ([]byte, error) {
	if !p.consume('{') {
		return nil, p.errorf("expected {")
	}
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	var members []member
	var index map[string]int // for large objects
	p.skipSpace()
	if !p.consume('}') {
		for {
			p.skipSpace()
			key, err := p.key()
			if err != nil {
				return nil, err
			}
			p.skipSpace()
			if !p.consume(':') {
				return nil, p.errorf("expected :")
			}
			start := len(dst)
			if dst, err = p.element(dst, key); err != nil {
				return nil, err
			}
			prev := -1
			if index != nil {
				if i, ok := index[key]; ok {
					prev = i
				}
			} else {
				for i := range members {
					if members[i].key == key {
						prev = i
						break
					}
				}
			}
			if prev >= 0 {
				// JSON.parse keeps the first position and the last value.
				dst = replaceElement(dst, members, prev, start)
			} else {
				members = append(members, member{key: key, start: start, end: len(dst)})
				if index != nil {
					index[key] = len(members) - 1
				} else if len(members) > 32 {
					index = make(map[string]int, 2*len(members))
					for i, m := range members {
						index[m.key] = i
					}
				}
			}
			p.skipSpace()
			if p.consume('}') {
				break
			}
			if !p.consume(',') {
				return nil, p.errorf("expected , or }")
			}
		}
	}
	dst = append(dst, 0)
	binary.LittleEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt))
	return dst, nil
}

// replaceElement moves the element written at dst[start:] over the element
// of members[i] and shifts the recorded positions of the members after it.
func replaceElement(dst []byte, members []member, i, start int) []byte {
	old := members[i]
	elem := append([]byte(nil), dst[start:]...)
	dst = dst[:start]
	rest := append([]byte(nil), dst[old.end:]...)
	dst = append(append(dst[:old.start], elem...), rest...)
	delta := len(elem) - (old.end - old.start)
	members[i].end = old.start + len(elem)
	for j := range members {
		if members[j].start > old.start {
			members[j].start += delta
			members[j].end += delta
		}
	}
	return dst
}

// array reads an array at p.pos ('[' expected) and appends it as a BSON
// array (a document keyed "0", "1", …).
func (p *jsonParser) array(dst []byte) ([]byte, error) {
	if !p.consume('[') {
		return nil, p.errorf("expected [")
	}
	lenAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	p.skipSpace()
	if !p.consume(']') {
		var keyBuf [20]byte
		for i := 0; ; i++ {
			p.skipSpace()
			var err error
			if dst, err = p.element(dst, string(strconv.AppendInt(keyBuf[:0], int64(i), 10))); err != nil {
				return nil, err
			}
			p.skipSpace()
			if p.consume(']') {
				break
			}
			if !p.consume(',') {
				return nil, p.errorf("expected , or ]")
			}
		}
	}
	dst = append(dst, 0)
	binary.LittleEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt))
	return dst, nil
}

// element reads one JSON value and appends it as the element key.
func (p *jsonParser) element(dst []byte, key string) ([]byte, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, p.errorf("unexpected end of input")
	}
	typeAt := len(dst)
	dst = append(dst, 0)
	dst = append(dst, key...)
	dst = append(dst, 0)
	var err error
	switch c := p.src[p.pos]; {
	case c == '{':
		dst[typeAt] = bsonDocument
		dst, err = p.document(dst)
	case c == '[':
		dst[typeAt] = bsonArray
		dst, err = p.array(dst)
	case c == '"':
		dst[typeAt] = bsonString
		lenAt := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		if dst, err = p.appendString(dst); err == nil {
			dst = append(dst, 0)
			binary.LittleEndian.PutUint32(dst[lenAt:], uint32(len(dst)-lenAt-4))
		}
	case c == 't':
		if err = p.literal("true"); err == nil {
			dst[typeAt] = bsonBoolean
			dst = append(dst, 1)
		}
	case c == 'f':
		if err = p.literal("false"); err == nil {
			dst[typeAt] = bsonBoolean
			dst = append(dst, 0)
		}
	case c == 'n':
		if err = p.literal("null"); err == nil {
			dst[typeAt] = bsonNull
		}
	case c == '-' || (c >= '0' && c <= '9'):
		var f float64
		if f, err = p.number(); err == nil {
			if i, ok := asInt32(f); ok {
				dst[typeAt] = bsonInt32
				dst = binary.LittleEndian.AppendUint32(dst, uint32(i))
			} else {
				dst[typeAt] = bsonDouble
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
			}
		}
	default:
		err = p.errorf("unexpected character %q", c)
	}
	return dst, err
}

// asInt32 reports whether the Node.js serializer stores f as an int32.
func asInt32(f float64) (int32, bool) {
	if f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
		return 0, false
	}
	return int32(f), true
}

func (p *jsonParser) literal(word string) error {
	if len(p.src)-p.pos < len(word) || string(p.src[p.pos:p.pos+len(word)]) != word {
		return p.errorf("invalid literal")
	}
	p.pos += len(word)
	return nil
}

// number reads a JSON number as JSON.parse does (nearest double).
func (p *jsonParser) number() (float64, error) {
	start := p.pos
	if p.consume('-') && (p.pos >= len(p.src) || p.src[p.pos] < '0' || p.src[p.pos] > '9') {
		return 0, p.errorf("invalid number")
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.consume('0') {
		if p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			return 0, p.errorf("invalid number: leading zero")
		}
	} else if digits() == 0 {
		return 0, p.errorf("invalid number")
	}
	if p.consume('.') && digits() == 0 {
		return 0, p.errorf("invalid number: no digits after the point")
	}
	if p.consume('e') || p.consume('E') {
		if !p.consume('+') {
			p.consume('-')
		}
		if digits() == 0 {
			return 0, p.errorf("invalid number: no exponent digits")
		}
	}
	f, err := strconv.ParseFloat(string(p.src[start:p.pos]), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%w: number %s is out of range", errBadJSON, p.src[start:p.pos])
	}
	return f, nil
}

// key reads an object key.
func (p *jsonParser) key() (string, error) {
	if p.pos >= len(p.src) || p.src[p.pos] != '"' {
		return "", p.errorf("expected a key")
	}
	var err error
	p.buf, err = p.appendString(p.buf[:0])
	if err != nil {
		return "", err
	}
	for _, c := range p.buf {
		if c == 0 {
			return "", fmt.Errorf("%w: key %q contains the character U+0000, which MongoDB cannot store", errBadJSON, p.buf)
		}
	}
	return string(p.buf), nil
}

// appendString reads a JSON string at p.pos and appends its UTF-8 bytes.
func (p *jsonParser) appendString(dst []byte) ([]byte, error) {
	p.pos++ // opening quote
	for {
		start := p.pos
		for p.pos < len(p.src) {
			c := p.src[p.pos]
			if c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
				break
			}
			p.pos++
		}
		dst = append(dst, p.src[start:p.pos]...)
		if p.pos >= len(p.src) {
			return nil, p.errorf("unterminated string")
		}
		switch c := p.src[p.pos]; {
		case c == '"':
			p.pos++
			return dst, nil
		case c < 0x20:
			return nil, p.errorf("control character in a string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p.src[p.pos:])
			dst = utf8.AppendRune(dst, r) // invalid bytes become U+FFFD
			p.pos += size
		default: // backslash
			r, err := p.escape()
			if err != nil {
				return nil, err
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
}

// escape reads an escape sequence at p.pos (the backslash) and returns the
// character; surrogate pairs are joined, lone surrogates become U+FFFD.
func (p *jsonParser) escape() (rune, error) {
	if p.pos+1 >= len(p.src) {
		return 0, p.errorf("unterminated escape")
	}
	c := p.src[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, err := p.hex4()
		if err != nil {
			return 0, err
		}
		if utf16.IsSurrogate(r) {
			if r < 0xDC00 && p.pos+1 < len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
				save := p.pos
				p.pos += 2
				if r2, err := p.hex4(); err == nil {
					if joined := utf16.DecodeRune(r, r2); joined != utf8.RuneError {
						return joined, nil
					}
				}
				p.pos = save
			}
			return utf8.RuneError, nil
		}
		return r, nil
	}
	return 0, p.errorf("invalid escape \\%c", c)
}

func (p *jsonParser) hex4() (rune, error) {
	if len(p.src)-p.pos < 4 {
		return 0, p.errorf("short \\u escape")
	}
	v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+4]), 16, 16)
	if err != nil {
		return 0, p.errorf("invalid \\u escape")
	}
	p.pos += 4
	return rune(v), nil
}

// errBadBSON is returned for a stored document that is not valid BSON.
var errBadBSON = errors.New("mongo: invalid BSON in a stored document")

// appendDocJSON appends the BSON document doc as a JSON object.
func appendDocJSON(dst []byte, doc []byte) ([]byte, error) {
	return appendContainerJSON(dst, doc, false)
}

// appendContainerJSON appends a BSON document as a JSON object, or a BSON
// array as a JSON array.
func appendContainerJSON(dst []byte, doc []byte, isArray bool) ([]byte, error) {
	if len(doc) < 5 || int(binary.LittleEndian.Uint32(doc)) != len(doc) || doc[len(doc)-1] != 0 {
		return nil, errBadBSON
	}
	open, close := byte('{'), byte('}')
	if isArray {
		open, close = '[', ']'
	}
	dst = append(dst, open)
	rest := doc[4 : len(doc)-1]
	first := true
	for len(rest) > 0 {
		t := rest[0]
		keyEnd := indexZero(rest[1:])
		if keyEnd < 0 {
			return nil, errBadBSON
		}
		key := rest[1 : 1+keyEnd]
		val := rest[2+keyEnd:]
		n, err := valueLen(t, val)
		if err != nil {
			return nil, err
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if !isArray {
			dst = appendJSONString(dst, key)
			dst = append(dst, ':')
		}
		if dst, err = appendValueJSON(dst, t, val[:n]); err != nil {
			return nil, err
		}
		rest = val[n:]
	}
	return append(dst, close), nil
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// valueLen returns the length of the BSON value of type t at the start of
// b.
func valueLen(t byte, b []byte) (int, error) {
	fixed := func(n int) (int, error) {
		if len(b) < n {
			return 0, errBadBSON
		}
		return n, nil
	}
	int32At := func(off int) (int, error) {
		if len(b) < off+4 {
			return 0, errBadBSON
		}
		return int(int32(binary.LittleEndian.Uint32(b[off:]))), nil
	}
	switch t {
	case bsonDouble, bsonDateTime, bsonInt64, bsonTimestamp:
		return fixed(8)
	case bsonString, bsonJavaScript, bsonSymbol:
		n, err := int32At(0)
		if err != nil || n < 1 {
			return 0, errBadBSON
		}
		return fixed(4 + n)
	case bsonDocument, bsonArray, bsonCodeScope:
		n, err := int32At(0)
		if err != nil || n < 5 {
			return 0, errBadBSON
		}
		return fixed(n)
	case bsonBinary:
		n, err := int32At(0)
		if err != nil || n < 0 {
			return 0, errBadBSON
		}
		return fixed(5 + n)
	case bsonUndefined, bsonNull, bsonMinKey, bsonMaxKey:
		return 0, nil
	case bsonObjectID:
		return fixed(12)
	case bsonBoolean:
		return fixed(1)
	case bsonRegex:
		a := indexZero(b)
		if a < 0 {
			return 0, errBadBSON
		}
		c := indexZero(b[a+1:])
		if c < 0 {
			return 0, errBadBSON
		}
		return a + c + 2, nil
	case bsonDBPointer:
		n, err := int32At(0)
		if err != nil || n < 1 {
			return 0, errBadBSON
		}
		return fixed(4 + n + 12)
	case bsonInt32:
		return fixed(4)
	case bsonDecimal128:
		return fixed(16)
	}
	return 0, fmt.Errorf("%w: unknown element type 0x%02x", errBadBSON, t)
}

// appendValueJSON appends one BSON value (exactly its bytes) as JSON.
func appendValueJSON(dst []byte, t byte, v []byte) ([]byte, error) {
	switch t {
	case bsonDouble:
		return appendJSNumber(dst, math.Float64frombits(binary.LittleEndian.Uint64(v))), nil
	case bsonInt32:
		return strconv.AppendInt(dst, int64(int32(binary.LittleEndian.Uint32(v))), 10), nil
	case bsonInt64:
		return strconv.AppendInt(dst, int64(binary.LittleEndian.Uint64(v)), 10), nil
	case bsonString, bsonJavaScript, bsonSymbol:
		return appendJSONString(dst, v[4:len(v)-1]), nil
	case bsonDocument:
		return appendContainerJSON(dst, v, false)
	case bsonArray:
		return appendContainerJSON(dst, v, true)
	case bsonBoolean:
		if v[0] != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case bsonNull, bsonUndefined:
		return append(dst, "null"...), nil
	case bsonObjectID:
		dst = append(dst, '"')
		dst = append(dst, bson.ObjectID(v).Hex()...)
		return append(dst, '"'), nil
	case bsonDateTime:
		ms := int64(binary.LittleEndian.Uint64(v))
		dst = append(dst, '"')
		dst = time.UnixMilli(ms).UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z07:00")
		return append(dst, '"'), nil
	case bsonBinary:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, v[5:])
		return append(dst, '"'), nil
	case bsonDecimal128:
		d := bson.NewDecimal128(binary.LittleEndian.Uint64(v[8:]), binary.LittleEndian.Uint64(v))
		dst = append(dst, `{"$numberDecimal":`...)
		dst = appendJSONString(dst, []byte(d.String()))
		return append(dst, '}'), nil
	case bsonTimestamp:
		dst = append(dst, `{"$timestamp":{"t":`...)
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(v[4:])), 10)
		dst = append(dst, `,"i":`...)
		dst = strconv.AppendUint(dst, uint64(binary.LittleEndian.Uint32(v)), 10)
		return append(dst, "}}"...), nil
	case bsonRegex:
		a := indexZero(v)
		dst = append(dst, `{"$regex":`...)
		dst = appendJSONString(dst, v[:a])
		dst = append(dst, `,"$options":`...)
		dst = appendJSONString(dst, v[a+1:len(v)-1])
		return append(dst, '}'), nil
	case bsonDBPointer:
		return appendJSONString(dst, v[4:len(v)-13]), nil
	case bsonCodeScope:
		n := int(int32(binary.LittleEndian.Uint32(v[4:])))
		if n < 1 || 8+n > len(v) {
			return nil, errBadBSON
		}
		return appendJSONString(dst, v[8:8+n-1]), nil
	case bsonMinKey:
		return append(dst, `{"$minKey":1}`...), nil
	case bsonMaxKey:
		return append(dst, `{"$maxKey":1}`...), nil
	}
	return nil, fmt.Errorf("%w: unknown element type 0x%02x", errBadBSON, t)
}

// appendJSONString appends s as a JSON string as JSON.stringify writes it:
// only '"', '\\' and control characters are escaped; invalid UTF-8 becomes
// U+FFFD.
func appendJSONString(dst []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSNumber appends f as JavaScript's Number.prototype.toString spells
// it (what JSON.stringify writes); NaN and infinities are null.
func appendJSNumber(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return append(dst, "null"...)
	case f == 0:
		return append(dst, '0')
	case f == math.Trunc(f) && math.Abs(f) < 1<<53:
		return strconv.AppendInt(dst, int64(f), 10)
	}
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // [-]d[.ddd]e±XX
	neg := e[0] == '-'
	if neg {
		e = e[1:]
		dst = append(dst, '-')
	}
	mant, exp := e, 0
	for i, c := range e {
		if c == 'e' {
			mant = e[:i]
			exp, _ = strconv.Atoi(string(e[i+1:]))
			break
		}
	}
	digits := make([]byte, 0, len(mant))
	for _, c := range mant {
		if c != '.' {
			digits = append(digits, c)
		}
	}
	k, n := len(digits), exp+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for range n - k {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for range -n {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}
