package happn

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/happner-go/happner/internal/jsonscan"
)

// Requests are decoded by a single-pass scanner instead of encoding/json:
// the envelope's members are located and validated in one walk, raw values
// (data, eventId, options.meta …) are kept as sub-slices, and only the few
// strings and flags the server reads are decoded. On the hot path this
// replaces two reflective decodes (envelope and options) per frame.

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
	return jsonscan.EachMember(frame, func(key, value []byte) error {
		switch {
		case jsonscan.KeyIs(key, "action"):
			if a, ok := knownActions[string(value)]; ok {
				req.Action = a // no allocation for the usual actions
				return nil
			}
			s, ok := jsonscan.Unquote(value)
			if !ok {
				return fmt.Errorf("action must be a string")
			}
			req.Action = s
		case jsonscan.KeyIs(key, "eventId"):
			req.EventID = value
		case jsonscan.KeyIs(key, "path"):
			req.Path = value
		case jsonscan.KeyIs(key, "data"):
			req.Data = value
		case jsonscan.KeyIs(key, "sessionId"):
			req.SessionID = value
		case jsonscan.KeyIs(key, "options"):
			req.Options = value
		}
		return nil
	})
}

// salvageRequest finds, in a frame parseRequest refused, what the error
// reply echoes so that the client can match it to its request: a top-level
// numeric eventId, and with it the action and sessionId when they are
// strings. The frame is walked leniently (jsonscan.EachMemberLenient), so
// an eventId is found before or after a broken member. It returns nil when
// the frame has no such eventId: the reply then carries none of them.
func salvageRequest(frame []byte) *request {
	var req request
	jsonscan.EachMemberLenient(frame, func(key, value []byte) {
		switch {
		case jsonscan.KeyIs(key, "eventId"):
			if c := value[0]; c == '-' || c >= '0' && c <= '9' {
				req.EventID = value
			}
		case jsonscan.KeyIs(key, "action"):
			if a, ok := knownActions[string(value)]; ok {
				req.Action = a
			} else if a, ok := jsonscan.Unquote(value); ok {
				req.Action = a
			}
		case jsonscan.KeyIs(key, "sessionId"):
			if value[0] == '"' {
				req.SessionID = value
			}
		}
	})
	if len(req.EventID) == 0 {
		return nil
	}
	return &req
}

// parseOptions decodes the options the server reads. A wrong type for a
// known option is an error; unknown options are ignored.
func parseOptions(raw []byte, o *requestOptions) error {
	return jsonscan.EachMember(raw, func(key, value []byte) error {
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
			if string(value) != "null" && value[0] != '{' {
				err = fmt.Errorf("option meta must be an object")
			}
			o.Meta = value
		case "targetClients":
			if string(value) != "null" {
				o.TargetClients, err = targetClients(value)
			}
		case "timeout":
			if string(value) != "null" && jsonKind(value) != "a number" {
				err = fmt.Errorf("option timeout must be a number")
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
			if k := jsonKind(value); k != "a string" && k != "a number" && k != "null" {
				err = fmt.Errorf("option referenceId must be a string")
			}
			o.ReferenceID = value
		case "onBehalfOf":
			if s, ok := jsonscan.Unquote(value); ok {
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

// targetClients decodes the targetClients option (its own function, so
// that the options of ordinary requests stay on the stack).
func targetClients(value []byte) ([]string, error) {
	var ids []string
	if json.Unmarshal(value, &ids) != nil {
		return nil, fmt.Errorf("option targetClients must be an array of session ids")
	}
	return ids, nil
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

// jsonKind names the JSON type of a raw value in the words error
// messages use.
func jsonKind(v []byte) string {
	if len(v) == 0 {
		return "undefined"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// dataKinds says which JSON types an action's data may have ("" = any).
var dataKinds = map[string]string{
	"configure-session":         "object",
	"login":                     "object",
	"request-nonce":             "object",
	"change-password":           "object",
	"describe":                  "object",
	"revoke-token":              "object",
	"disconnect-child-sessions": "object",
	"get":                       "none",
	"count":                     "none",
	"remove":                    "none",
	"on":                        "none",
	"off":                       "none",
	"ack":                       "string",
}

// checkEnvelope checks the types of a request's members: eventId a number
// (or a string), sessionId a string, options an object, and data what the
// action reads (null where it reads nothing). null stands for absent
// everywhere, as in JavaScript.
func checkEnvelope(req *request) error {
	kind := func(v []byte) byte {
		if len(v) == 0 || string(v) == "null" {
			return 0
		}
		return v[0]
	}
	if k := kind(req.EventID); k != 0 && k != '"' && k != '-' && (k < '0' || k > '9') {
		return plainError("eventId must be a number, got %s", jsonKind(req.EventID))
	}
	if k := kind(req.SessionID); k != 0 && k != '"' {
		return plainError("sessionId must be a string, got %s", jsonKind(req.SessionID))
	}
	if k := kind(req.Options); k != 0 && k != '{' {
		return plainError("options must be an object, got %s", jsonKind(req.Options))
	}
	k := kind(req.Data)
	switch dataKinds[req.Action] {
	case "object":
		if k != 0 && k != '{' {
			return plainError("data of %s must be an object, got %s", req.Action, jsonKind(req.Data))
		}
	case "none":
		if k != 0 {
			return plainError("data of %s must be null, got %s", req.Action, jsonKind(req.Data))
		}
	case "string":
		if k != '"' {
			return plainError("data of %s must be a string, got %s", req.Action, jsonKind(req.Data))
		}
	}
	return nil
}

// decodeData decodes a request's data object into v; a member of the wrong
// type is reported by its name and the type expected, in plain words.
func decodeData(action string, data []byte, v any) error {
	if len(data) == 0 || data[0] != '{' {
		return nil
	}
	err := json.Unmarshal(data, v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return plainError("data.%s of %s must be %s, got %s", te.Field, action, goKind(te.Type), jsWord(te.Value))
	}
	if err != nil {
		return plainError("invalid data of %s: %v", action, err)
	}
	return nil
}

// goKind names the JSON type a Go type is decoded from.
func goKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Float64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 && t.Name() == "RawMessage" {
			return "any value"
		}
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// jsWord turns encoding/json's name of a JSON type into plain words.
func jsWord(v string) string {
	switch v {
	case "object", "array":
		return "an " + v
	case "":
		return "another type"
	}
	if strings.HasPrefix(v, "number") {
		return "a number"
	}
	return "a " + v
}

// validFrame reports whether a text frame is valid UTF-8, as RFC 6455
// requires; invalid bytes would otherwise reach every subscriber.
func validFrame(b []byte) bool { return utf8.Valid(b) }
