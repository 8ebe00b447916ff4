package happn

import (
	"encoding/json"
	"fmt"
	"strconv"
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
