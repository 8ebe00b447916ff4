package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/happner-go/happner/internal/jsonscan"
)

// request is a client → server message. Field order matches the npm client.
type request struct {
	Action    string         `json:"action"`
	EventID   int64          `json:"eventId"`
	Path      string         `json:"path,omitempty"`
	Data      any            `json:"data"`
	SessionID string         `json:"sessionId,omitempty"`
	Options   map[string]any `json:"options,omitempty"`
}

// encode renders the request as json.Marshal would (same members, same
// order), without reflection for the envelope and for raw data.
func (r *request) encode() ([]byte, error) {
	var data []byte
	switch d := r.Data.(type) {
	case nil:
		data = []byte("null")
	case json.RawMessage:
		data = d
		if len(data) == 0 {
			data = []byte("null")
		}
	default:
		var err error
		if data, err = json.Marshal(d); err != nil {
			return nil, err
		}
	}
	b := make([]byte, 0, 96+len(r.Path)+len(data)+len(r.SessionID))
	b = append(b, `{"action":`...)
	b = jsonscan.AppendString(b, r.Action)
	b = append(b, `,"eventId":`...)
	b = strconv.AppendInt(b, r.EventID, 10)
	if r.Path != "" {
		b = append(b, `,"path":`...)
		b = jsonscan.AppendString(b, r.Path)
	}
	b = append(b, `,"data":`...)
	b = append(b, data...)
	if r.SessionID != "" {
		b = append(b, `,"sessionId":`...)
		b = jsonscan.AppendString(b, r.SessionID)
	}
	if len(r.Options) > 0 {
		opts, err := json.Marshal(r.Options)
		if err != nil {
			return nil, err
		}
		b = append(b, `,"options":`...)
		b = append(b, opts...)
	}
	return append(b, '}'), nil
}

// respMeta is the part of a reply's _meta the client routes by.
type respMeta struct {
	Type        string          `json:"type"`
	Status      string          `json:"status"`
	EventID     int64           `json:"eventId"`
	Channel     string          `json:"channel"`
	Error       json.RawMessage `json:"error"`
	ReferenceID json.RawMessage `json:"referenceId"`
}

// decode reads the routing members of a _meta object in one pass.
func (m *respMeta) decode(raw []byte) error {
	return jsonscan.EachMember(raw, func(k, v []byte) error {
		switch {
		case jsonscan.KeyIs(k, "type"):
			m.Type, _ = jsonscan.Unquote(v)
		case jsonscan.KeyIs(k, "status"):
			m.Status, _ = jsonscan.Unquote(v)
		case jsonscan.KeyIs(k, "eventId"):
			if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				m.EventID = n
			}
		case jsonscan.KeyIs(k, "channel"):
			m.Channel, _ = jsonscan.Unquote(v)
		case jsonscan.KeyIs(k, "error"):
			m.Error = v
		case jsonscan.KeyIs(k, "referenceId"):
			m.ReferenceID = v
		}
		return nil
	})
}

// response is a decoded reply, as delivered to the waiting request.
type response struct {
	meta    respMeta
	metaRaw json.RawMessage
	// top holds the members of an object frame.
	top map[string]json.RawMessage
	// data is the data member (nil when absent); hasData tells them apart
	// from an explicit null.
	data    json.RawMessage
	hasData bool
	// list is set for the array form (items without the trailing meta).
	list    []json.RawMessage
	isArray bool
}

// dataIsNull reports whether the reply carried data:null (or none).
func (r *response) dataIsNull() bool {
	return !r.hasData || bytes.Equal(bytes.TrimSpace(r.data), []byte("null"))
}

// frameKind classifies an incoming frame.
type frameKind int

const (
	frameControl frameKind = iota // a primus:: string
	frameResponse
	framePublication
	frameSystem
	frameAck
)

// incoming is a decoded server frame.
type incoming struct {
	kind    frameKind
	control string
	resp    *response
	raw     []byte
}

var errEmptyFrame = errors.New("empty frame")

// decodeFrame parses one text frame from the server.
func decodeFrame(b []byte) (*incoming, error) {
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return nil, errEmptyFrame
	}
	switch t[0] {
	case '"':
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, fmt.Errorf("decode control frame: %w", err)
		}
		return &incoming{kind: frameControl, control: s}, nil
	case '[':
		var list []json.RawMessage
		if err := json.Unmarshal(t, &list); err != nil {
			return nil, fmt.Errorf("decode array frame: %w", err)
		}
		if len(list) == 0 {
			return nil, errors.New("array frame without meta")
		}
		r := &response{isArray: true, list: list[:len(list)-1], metaRaw: list[len(list)-1]}
		if err := json.Unmarshal(r.metaRaw, &r.meta); err != nil {
			return nil, fmt.Errorf("decode array frame meta: %w", err)
		}
		return &incoming{kind: frameResponse, resp: r, raw: b}, nil
	case '{':
		// one pass over the members, no reflection: this runs for every
		// reply and every publication
		top := make(map[string]json.RawMessage, 4)
		if err := jsonscan.EachMember(t, func(k, v []byte) error {
			key, ok := jsonscan.Unquote(k)
			if !ok {
				return errors.New("bad member name")
			}
			top[key] = v
			return nil
		}); err != nil {
			return nil, fmt.Errorf("decode frame: %w", err)
		}
		r := &response{top: top, metaRaw: top["_meta"]}
		if len(r.metaRaw) == 0 {
			return nil, errors.New("frame without _meta")
		}
		if err := r.meta.decode(r.metaRaw); err != nil {
			return nil, fmt.Errorf("decode frame _meta: %w", err)
		}
		r.data, r.hasData = top["data"]
		in := &incoming{kind: frameResponse, resp: r, raw: b}
		switch r.meta.Type {
		case "data":
			in.kind = framePublication
		case "system":
			in.kind = frameSystem
		case "ack":
			in.kind = frameAck
		}
		return in, nil
	}
	return nil, fmt.Errorf("unexpected frame %.40q", t)
}

// splitMeta separates an item object into its document (without _meta)
// and its _meta.
func splitMeta(raw json.RawMessage) (Item, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return Item{}, fmt.Errorf("happn client: decode item: %w", err)
	}
	var it Item
	if m, ok := obj["_meta"]; ok {
		if err := json.Unmarshal(m, &it.Meta); err != nil {
			return Item{}, fmt.Errorf("happn client: decode item _meta: %w", err)
		}
		delete(obj, "_meta")
	}
	data, err := marshalOrdered(obj)
	if err != nil {
		return Item{}, err
	}
	it.Data = data
	return it, nil
}

// marshalOrdered marshals a map of raw members with sorted keys.
func marshalOrdered(obj map[string]json.RawMessage) (json.RawMessage, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, fmt.Errorf("happn client: encode key: %w", err)
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(obj[k])
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

var pathPattern = regexp.MustCompile(`^[a-zA-Z0-9/(){}+=&:%@._*\-\s]+$`)

// checkPath validates a path as the npm client does; set paths may not
// contain '*'.
func checkPath(p string, forSet bool) error {
	if !pathPattern.MatchString(p) {
		return fmt.Errorf("happn client: bad path %q: only the ASCII characters a-z A-Z 0-9 and whitespace / ( ) { } + = & : %% @ . _ * - are allowed", p)
	}
	if forSet && strings.Contains(p, "*") {
		return fmt.Errorf("happn client: bad path %q: if the action is 'set' the path cannot contain the '*' wildcard character", p)
	}
	return nil
}
