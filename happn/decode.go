package happn

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Requests are decoded by a single-pass scanner instead of encoding/json:
// the envelope's members are located and validated in one walk, raw values
// (data, eventId, options.meta …) are kept as sub-slices, and only the few
// strings and flags the server reads are decoded. On the hot path this
// replaces two reflective decodes (envelope and options) per frame.

// maxNesting bounds how deeply arrays and objects may nest in a frame.
const maxNesting = 512

var errSyntax = errors.New("invalid JSON")

func syntaxError(b []byte, i int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", errSyntax, what, i)
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

// eachMember walks the members of the object b (already trimmed), calling
// fn with each raw key (still quoted) and raw value. It validates b.
func eachMember(b []byte, fn func(key, value []byte) error) error {
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

// keyIs reports whether the quoted raw key equals name (keys with escapes
// are compared after decoding).
func keyIs(raw []byte, name string) bool {
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

// unquote decodes a raw JSON string; ok is false when raw is not a string.
func unquote(raw []byte) (s string, ok bool) {
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

// knownActions maps the quoted names of the actions to interned strings.
var knownActions = func() map[string]string {
	m := map[string]string{}
	for _, a := range []string{"set", "get", "count", "remove", "on", "off", "ack", "login", "describe",
		"configure-session", "request-nonce", "revoke-token", "change-password", "disconnect-child-sessions"} {
		m[`"`+a+`"`] = a
	}
	return m
}()

// parseRequest decodes a request frame. Raw values are slices of frame,
// which the request therefore keeps alive.
func parseRequest(frame []byte, req *request) error {
	return eachMember(frame, func(key, value []byte) error {
		switch {
		case keyIs(key, "action"):
			if a, ok := knownActions[string(value)]; ok {
				req.Action = a // no allocation for the usual actions
				return nil
			}
			s, ok := unquote(value)
			if !ok {
				return fmt.Errorf("action must be a string")
			}
			req.Action = s
		case keyIs(key, "eventId"):
			req.EventID = value
		case keyIs(key, "path"):
			req.Path = value
		case keyIs(key, "data"):
			req.Data = value
		case keyIs(key, "sessionId"):
			req.SessionID = value
		case keyIs(key, "options"):
			req.Options = value
		}
		return nil
	})
}

// parseOptions decodes the options the server reads. A wrong type for a
// known option is an error; unknown options are ignored.
func parseOptions(raw []byte, o *requestOptions) error {
	return eachMember(raw, func(key, value []byte) error {
		if len(key) < 3 {
			return nil
		}
		var err error
		switch string(key[1 : len(key)-1]) {
		case "merge":
			o.Merge, err = boolOption("merge", value)
		case "increment":
			o.Increment = value
		case "noPublish":
			o.NoPublish, err = boolOption("noPublish", value)
		case "noStore":
			o.NoStore, err = boolOption("noStore", value)
		case "noDataResponse":
			o.NoDataResponse, err = boolOption("noDataResponse", value)
		case "nullValue":
			o.NullValue, err = boolOption("nullValue", value)
		case "meta":
			o.Meta = value
		case "targetClients":
			if string(value) != "null" {
				o.TargetClients = nil
				err = json.Unmarshal(value, &o.TargetClients)
			}
		case "consistency":
			o.Consistency, err = intOption("consistency", value)
		case "publishResults":
			o.PublishResults, err = boolOption("publishResults", value)
		case "noCluster":
			o.NoCluster, err = boolOption("noCluster", value)
		case "upsertType":
			o.UpsertType, err = intOption("upsertType", value)
		case "depth":
			o.Depth, err = intOption("depth", value)
		case "initialCallback":
			o.InitialCallback, err = boolOption("initialCallback", value)
		case "initialEmit":
			o.InitialEmit, err = boolOption("initialEmit", value)
		case "referenceId":
			o.ReferenceID = value
		case "onBehalfOf":
			if s, ok := unquote(value); ok {
				o.OnBehalfOf = s
			} else if string(value) != "null" {
				err = fmt.Errorf("option onBehalfOf must be a string")
			}
		case "criteria", "options", "sort", "fields", "path_only", "aggregate", "collation":
			o.hasQuery = true
		}
		return err
	})
}

// boolOption reads a flag; null counts as false, like JavaScript.
func boolOption(name string, v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false", "null":
		return false, nil
	}
	return false, fmt.Errorf("option %s must be a boolean", name)
}

func intOption(name string, v []byte) (int, error) {
	if string(v) == "null" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f != float64(int(f)) {
		return 0, fmt.Errorf("option %s must be an integer", name)
	}
	return int(f), nil
}

// validFrame reports whether a text frame is valid UTF-8, as RFC 6455
// requires; invalid bytes would otherwise reach every subscriber.
func validFrame(b []byte) bool { return utf8.Valid(b) }
