package happn

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/store"

	"github.com/happner-go/happner/internal/jsonscan"
)

// request is a client → server message.
type request struct {
	Action    string          `json:"action"`
	EventID   json.RawMessage `json:"eventId"`
	Path      json.RawMessage `json:"path"`
	Data      json.RawMessage `json:"data"`
	SessionID json.RawMessage `json:"sessionId"`
	Options   json.RawMessage `json:"options"`

	path string // Path decoded, when it is a string
}

// requestOptions holds every option the server reads, for any action.
// Unknown options (timeout, …) are ignored.
type requestOptions struct {
	// set
	Merge          bool            `json:"merge"`
	Increment      json.RawMessage `json:"increment"`
	NoPublish      bool            `json:"noPublish"`
	NoStore        bool            `json:"noStore"`
	NoDataResponse bool            `json:"noDataResponse"`
	NullValue      bool            `json:"nullValue"`
	Meta           json.RawMessage `json:"meta"`
	TargetClients  []string        `json:"targetClients"`
	Consistency    int             `json:"consistency"`
	PublishResults bool            `json:"publishResults"`
	NoCluster      bool            `json:"noCluster"`
	UpsertType     int             `json:"upsertType"`
	// on / off
	Depth           int             `json:"depth"`
	InitialCallback bool            `json:"initialCallback"`
	InitialEmit     bool            `json:"initialEmit"`
	ReferenceID     json.RawMessage `json:"referenceId"`
	// security
	OnBehalfOf string `json:"onBehalfOf"`

	// hasQuery is set when the options hold search options (criteria,
	// sort, fields, …) that get, count and remove must parse.
	hasQuery bool
}

// Consistency levels of a set or remove (happn constants).
const (
	consistencyDeferred      = 1
	consistencyTransactional = 2
	consistencyAcknowledged  = 3
)

// validPath is happn's path rule (happn-commons utils), with JavaScript's
// \s spelled out: it includes \v and the Unicode spaces, RE2's does not.
var validPath = regexp.MustCompile(`^[a-zA-Z0-9/(){}+=&:%@._*\-\t\n\v\f\r \x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}\x{feff}]+$`)

const badPathChars = "Bad path, can only contain characters a-z A-Z 0-9 / & + = : @ % * ( ) _ -, ie: factory1@I&J(western-cape)/plant1:conveyer_2/stats=true/capacity=10%/*"

// checkPath validates a path string for an action, with happn's messages.
func checkPath(action, path string) error {
	if action == "set" && strings.IndexByte(path, '*') >= 0 {
		return plainError("Bad path, if the action is 'set' the path cannot contain the * wildcard character")
	}
	if !validPathString(path) {
		return &Error{Name: "Error", Message: badPathChars}
	}
	return nil
}

// validPathString is validPath without the regexp on the common case.
func validPathString(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("/(){}+=&:%@._*-", c) >= 0:
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		default:
			return validPath.MatchString(p) // unicode whitespace and friends
		}
	}
	return true
}

// handleFrame processes one text frame of a session.
func (s *Server) handleFrame(sess *Session, frame []byte) {
	frame = bytes.TrimSpace(frame)
	if len(frame) > 0 && frame[0] == '"' {
		s.handleControl(sess, frame)
		return
	}
	// one copy of the frame per request: the decoded members are slices of
	// it (and the path a string over it), so nothing refers to the reader's
	// buffer once this returns; the copy is never written to again
	frame = append([]byte(nil), frame...)
	var req request
	if err := parseRequest(frame, &req); err != nil {
		s.log.Warn("happn: Failed to decode incoming data", "session", sess.id, "err", err)
		// the reply carries the request's eventId when the frame has one
		sess.send(errorFrame(sess, salvageRequest(frame), plainError("Failed to decode incoming data: %v", err)))
		return
	}
	s.handleRequest(context.Background(), sess, &req)
}

// handleControl answers primus control strings.
func (s *Server) handleControl(sess *Session, frame []byte) {
	var msg string
	if err := json.Unmarshal(frame, &msg); err != nil {
		s.log.Warn("happn: Failed to decode incoming data", "session", sess.id, "err", err)
		return
	}
	switch {
	case strings.HasPrefix(msg, "primus::pong::"):
		sess.alive.Store(true)
	case strings.HasPrefix(msg, "primus::ping::"):
		// a legacy (happn_1..3) client's heartbeat
		sess.lastLegacy.Store(time.Now().UnixNano())
		sess.alive.Store(true)
		sess.send(appendString(nil, "primus::pong::"+strings.TrimPrefix(msg, "primus::ping::")))
	case strings.HasPrefix(msg, "primus::id::"):
		sess.send(appendString(nil, "primus::id::"+sess.id))
	default:
		s.log.Debug("happn: ignoring string frame", "session", sess.id, "frame", msg)
	}
}

// handleRequest routes a decoded request to its action.
func (s *Server) handleRequest(ctx context.Context, sess *Session, req *request) {
	i := actionIndex(req.Action)
	sess.mu.Lock()
	sess.msgCount++
	sess.actionSeq[i]++
	seq := sess.actionSeq[i]
	sess.mu.Unlock()
	var err error
	if s.met != nil {
		a := s.met.actions[i]
		defer s.requestDone(sess, req, a, a.Start(int64(seq)), &err)
	}
	if req.Action == "" {
		err = plainError("request has no action")
		sess.send(errorFrame(sess, req, err))
		return
	}
	if len(req.Path) > 0 && req.Path[0] == '"' {
		var ok bool
		if req.path, ok = jsonscan.UnquoteView(req.Path); !ok {
			err = badPathType(req)
			sess.send(errorFrame(sess, req, err))
			return
		}
	}
	if err = checkEnvelope(req); err != nil {
		sess.send(errorFrame(sess, req, err))
		return
	}
	var opts requestOptions
	if len(req.Options) > 0 && req.Options[0] == '{' {
		if perr := parseOptions(req.Options, &opts); perr != nil {
			err = plainError("invalid options: %v", perr)
			sess.send(errorFrame(sess, req, err))
			return
		}
	}
	switch req.Action {
	case "configure-session":
		err = s.configureSession(sess, req)
	case "describe":
		err = s.describe(sess, req)
	case "login":
		err = s.login(ctx, sess, req)
	case "set":
		err = s.set(ctx, sess, req, &opts)
	case "get":
		err = s.get(ctx, sess, req, &opts)
	case "count":
		err = s.count(ctx, sess, req, &opts)
	case "remove":
		err = s.remove(ctx, sess, req, &opts)
	case "on":
		err = s.on(ctx, sess, req, &opts)
	case "off":
		err = s.off(sess, req, &opts)
	case "ack":
		err = s.ack(sess, req)
	case "request-nonce":
		err = s.requestNonce(sess, req)
	case "revoke-token":
		err = s.revokeToken(ctx, sess, req)
	case "change-password":
		err = s.changePassword(ctx, sess, req)
	case "disconnect-child-sessions":
		err = s.disconnectChildSessions(sess, req)
	default:
		err = plainError("unknown action: %s", req.Action)
	}
	if err != nil {
		sess.send(errorFrame(sess, req, err))
		var de *disconnectError
		if errors.As(err, &de) {
			sess.disconnect(de.reason)
		}
	}
}

// needPath checks that a data request names a valid path.
func needPath(req *request) error {
	if len(req.Path) == 0 || req.Path[0] != '"' {
		return badPathType(req)
	}
	return checkPath(req.Action, req.path)
}

// responseMeta appends the members every reply's _meta ends with.
func appendResponseMeta(b []byte, sess *Session, req *request, status string, published bool) []byte {
	b = append(b, `"type":"response","status":"`...)
	b = append(b, status...)
	b = append(b, `","published":`...)
	b = strconv.AppendBool(b, published)
	if req != nil {
		if len(req.EventID) > 0 {
			b = append(b, `,"eventId":`...)
			b = append(b, req.EventID...)
		}
		if len(req.SessionID) > 0 && protocolVersion(sess.Protocol()) >= 4 {
			b = append(b, `,"sessionId":`...)
			b = append(b, req.SessionID...)
		}
		b = append(b, `,"action":`...)
		b = appendString(b, req.Action)
	}
	return b
}

// appendProtocol closes a reply frame with its protocol member.
func appendProtocol(b []byte, sess *Session) []byte {
	b = append(b, `,"protocol":`...)
	b = appendString(b, sess.Protocol())
	return append(b, '}')
}

// okFrame builds a reply {data, _meta:{<itemMeta>, type, status, …}}.
// data nil is sent as null; itemMeta is a list of members without braces.
func okFrame(sess *Session, req *request, data []byte, itemMeta []byte, published bool) []byte {
	return itemFrame(sess, req, data, nil, itemMeta, published)
}

// itemFrame is okFrame for a stored item: the item's _meta members are
// written straight into the frame, then extra members (without braces).
func itemFrame(sess *Session, req *request, data []byte, rec *store.Record, extra []byte, published bool) []byte {
	size := len(data) + len(extra) + 160 + len(sess.protocol)
	if req != nil {
		size += len(req.EventID) + len(req.SessionID) + len(req.Action)
	}
	if rec != nil {
		size += len(rec.Path) + len(rec.ModifiedBy) + 64
	}
	b := make([]byte, 0, size)
	b = append(b, `{"data":`...)
	b = appendRaw(b, data)
	b = append(b, `,"_meta":{`...)
	if rec != nil {
		b = appendItemMeta(b, rec)
		b = append(b, ',')
	}
	if len(extra) > 0 {
		b = append(b, trimComma(extra)...)
		b = append(b, ',')
	}
	b = appendResponseMeta(b, sess, req, "ok", published)
	b = append(b, '}')
	return appendProtocol(b, sess)
}

// errorFrame builds an error reply; only name, code, message and reason
// reach the client.
func errorFrame(sess *Session, req *request, err error) []byte {
	e := asWireError(err)
	b := make([]byte, 0, 256)
	b = append(b, `{"data":null,"_meta":{`...)
	b = appendResponseMeta(b, sess, req, "error", false)
	b = append(b, `,"error":{"name":`...)
	b = appendString(b, e.Name)
	if e.Code != 0 {
		b = append(b, `,"code":`...)
		b = strconv.AppendInt(b, int64(e.Code), 10)
	}
	if e.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, e.Reason)
	}
	b = append(b, `,"message":`...)
	b = appendString(b, e.Message)
	b = append(b, "}}"...)
	return appendProtocol(b, sess)
}

func (s *Server) configureSession(sess *Session, req *request) error {
	var d struct {
		Protocol string `json:"protocol"`
		Version  string `json:"version"`
		Browser  bool   `json:"browser"`
	}
	if err := decodeData(req.Action, req.Data, &d); err != nil {
		return err
	}
	sess.mu.Lock()
	if d.Protocol != "" {
		sess.protocol = d.Protocol
	}
	sess.version = d.Version
	sess.browser = d.Browser
	if sess.version == "" {
		sess.version = "unknown"
	}
	sess.mu.Unlock()
	sess.alive.Store(true)
	sess.send(okFrame(sess, req, nil, nil, false))
	return nil
}

func (s *Server) describe(sess *Session, req *request) error {
	b := append([]byte(`{"name":`), appendString(nil, s.name)...)
	b = append(b, `,"secure":`...)
	b = strconv.AppendBool(b, s.cfg.Secure)
	sess.mu.Lock()
	browser := sess.browser
	sess.mu.Unlock()
	if browser {
		// a browser client reads its token from this cookie for useCookie logins
		b = append(b, `,"cookieName":`...)
		b = appendString(b, s.cookieName())
	}
	b = append(b, '}')
	sess.send(okFrame(sess, req, b, nil, false))
	return nil
}

// login on an insecure server accepts any credentials and replies with the
// session record.
func (s *Server) login(ctx context.Context, sess *Session, req *request) error {
	var d loginData
	if err := decodeData(req.Action, req.Data, &d); err != nil {
		return err
	}
	if s.cfg.Secure {
		return s.secureLogin(ctx, sess, req, &d)
	}
	sess.peer.Store(infoHasClusterName(d.Info))
	sess.mu.Lock()
	if len(d.Info) > 0 && d.Info[0] == '{' {
		sess.info = d.Info
	}
	sess.loggedIn = true
	sess.timestamp = nowMillis()
	sess.mu.Unlock()
	s.loginObserved(security.LoginAttempt{SessionID: sess.id, Local: sess.local, SourceIP: sess.remoteAddr})
	s.emitSessionEvent(SessionAuthentic, sess)
	sess.send(okFrame(sess, req, s.sessionRecord(sess), nil, false))
	return nil
}

// sessionRecord renders the session as login replies show it.
func (s *Server) sessionRecord(sess *Session) []byte {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	b := make([]byte, 0, 512)
	b = append(b, `{"msgCount":`...)
	b = strconv.AppendInt(b, sess.msgCount, 10)
	b = append(b, `,"id":`...)
	b = appendString(b, sess.id)
	b = append(b, `,"protocol":`...)
	b = appendString(b, sess.protocol)
	b = append(b, `,"happn":{"name":`...)
	b = appendString(b, s.name)
	b = append(b, `,"secure":`...)
	b = strconv.AppendBool(b, s.cfg.Secure)
	b = append(b, `},"headers":{`...)
	first := true
	for k, v := range sess.headers {
		b = appendKey(b, first, k)
		b = appendString(b, v)
		first = false
	}
	b = append(b, `},"encrypted":`...)
	b = strconv.AppendBool(b, sess.encrypted)
	if sess.local {
		b = append(b, `,"address":"intra-proc"`...)
	} else {
		b = append(b, `,"address":{"ip":`...)
		b = appendString(b, sess.remoteAddr)
		b = append(b, `,"secure":`...)
		b = strconv.AppendBool(b, sess.encrypted)
		b = append(b, `,"port":`...)
		b = strconv.AppendInt(b, int64(sess.remotePort), 10)
		b = append(b, '}')
	}
	b = append(b, `,"url":`...)
	b = appendString(b, sess.url)
	b = append(b, `,"version":`...)
	b = appendString(b, sess.version)
	b = append(b, `,"info":`...)
	if len(sess.info) > 0 {
		b = append(b, sess.info...)
	} else {
		b = append(b, `{}`...)
	}
	return append(b, '}')
}

func (s *Server) disconnectChildSessions(sess *Session, req *request) error {
	s.mu.Lock()
	var children []*Session
	for _, other := range s.sessions {
		other.mu.Lock()
		parent := other.parentID
		other.mu.Unlock()
		if other != sess && parent == sess.id {
			children = append(children, other)
		}
	}
	s.mu.Unlock()
	for _, c := range children {
		c.disconnect("token-revoked")
	}
	sess.send(okFrame(sess, req, nil, nil, false))
	return nil
}

// badPathType is happn's error for a path that is not a string; the path
// is shown as JavaScript would print it.
func badPathType(req *request) error {
	shown := string(req.Path)
	switch {
	case len(req.Path) == 0:
		shown = "undefined"
	case req.Path[0] == '{':
		shown = "[object Object]"
	}
	return plainError("Bad path [%s], must be a string", shown)
}
