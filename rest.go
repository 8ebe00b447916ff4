package happner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Authenticator is what the web layer and the REST component need from a
// mesh's security. Secure meshes must have one;
// on insecure meshes it is optional and only serves /rest/login and web
// origins.
type Authenticator interface {
	// Login checks credentials (a password, or a token) and returns a
	// session token. Wrong credentials are reported with an error named
	// "AccessDenied" (or with code 401/403).
	Login(ctx context.Context, c Credentials) (token string, err error)
	// SessionFromRequest returns the origin of an HTTP request from its
	// token (happn.Server.TokenFromRequest); nil, nil when there is none.
	SessionFromRequest(r *http.Request) (*Origin, error)
	// Authorize reports whether origin may do action on path, with the
	// reason when it may not.
	Authorize(ctx context.Context, origin *Origin, path, action string) (authorized bool, reason string, err error)
	// UserInGroups reports whether the user belongs to every group.
	UserInGroups(ctx context.Context, username string, groups ...string) (bool, error)
}

// Credentials are the fields of a REST login.
type Credentials struct {
	// Username is the user logging in.
	Username string
	// Password is the user's password; empty for a token login.
	Password string
	// Token is an existing session token to log in with.
	Token string
	// SourceIP is the client's address, for sourceIPWhitelist policies
	// (happn.Server.ClientAddress).
	SourceIP string
}

// edgeAuthorizedKey marks, in a call's context, an origin the REST
// component already authorised for the method (happner's edgeAuthorized):
// the component need not authorise it again.
type edgeAuthorizedKey struct{}

// edgeAuthorized reports whether ctx carries an edge-authorised call.
func edgeAuthorized(ctx context.Context) bool {
	v, _ := ctx.Value(edgeAuthorizedKey{}).(bool)
	return v
}

// restModule is the system rest component: the exchange
// over plain HTTP at /rest/login, /rest/describe and /rest/method/*.
type restModule struct{}

// restComponentConfig is the rest component's system config.
func restComponentConfig() ComponentConfig {
	return ComponentConfig{
		AccessLevel: "mesh",
		Web:         json.RawMessage(`{"routes":{"method":"handleRequest","describe":"describe","login":"login"}}`),
	}
}

// restReply is the REST envelope.
type restReply struct {
	Message string          `json:"message"`
	Data    any             `json:"data"`
	Error   json.RawMessage `json:"error"`
}

// respond writes the envelope; code 0 means 200, or 500 with an error.
func respond(h *Happn, w http.ResponseWriter, message string, data any, err error, code int) {
	rep := restReply{Message: message, Data: data, Error: json.RawMessage("null")}
	if err != nil {
		if code == 0 {
			code = http.StatusInternalServerError
		}
		rep.Error = restError(err)
		if h != nil && h.Log != nil {
			h.Log.Warn("rpc request failure: " + toWireError(err).Message)
		}
	} else if code == 0 {
		code = http.StatusOK
	}
	b, mErr := json.Marshal(rep)
	if mErr != nil {
		rep.Data = nil
		rep.Message, rep.Error = "Call failed", restError(fmt.Errorf("cannot encode the result: %w", mErr))
		code = http.StatusInternalServerError
		b, _ = json.Marshal(rep)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// restError renders an error's own fields without a stack: message and
// custom fields, and the name unless it is the plain "Error".
func restError(err error) json.RawMessage {
	e := toWireError(err)
	m := make(map[string]any, len(e.Fields)+2)
	for k, v := range e.Fields {
		m[k] = v
	}
	m["message"] = e.Message
	if e.Name != "" && e.Name != "Error" {
		m["name"] = e.Name
	}
	b, mErr := json.Marshal(m)
	if mErr != nil {
		b, _ = json.Marshal(map[string]string{"message": e.Message})
	}
	return b
}

// errBodyParse is the REST message of request and lookup failures.
const errBodyParse = "Failure parsing request body"

// parseBody reads the request's parameters: GET uses ?encoded_parameters
// (URL-encoded JSON) or the query as "parameters"; others a JSON body.
func parseBody(r *http.Request) (any, error) {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		if enc := q.Get("encoded_parameters"); enc != "" {
			var body any
			if err := json.Unmarshal([]byte(enc), &body); err != nil {
				return nil, fmt.Errorf("encoded_parameters: %w", err)
			}
			return body, nil
		}
		return map[string]any{"parameters": queryMap(q)}, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	var body any
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("invalid json: %w", err)
	}
	return body, nil
}

// queryMap renders a query as node's querystring does: repeated keys
// become arrays.
func queryMap(q url.Values) map[string]any {
	out := make(map[string]any, len(q))
	for k, vs := range q {
		if len(vs) == 1 {
			out[k] = vs[0]
		} else {
			out[k] = append([]string(nil), vs...)
		}
	}
	return out
}

// Login answers /rest/login with a session token.
func (restModule) Login(h *Happn, w http.ResponseWriter, r *http.Request) {
	body, err := parseBody(r)
	if err != nil {
		respond(h, w, errBodyParse, nil, err, http.StatusBadRequest)
		return
	}
	params, _ := body.(map[string]any)
	if p, ok := params["parameters"].(map[string]any); ok {
		params = p
	}
	username, _ := params["username"].(string)
	password, _ := params["password"].(string)
	token, _ := params["token"].(string)
	if username == "" {
		respond(h, w, errBodyParse, nil, errors.New("no username"), http.StatusUnauthorized)
		return
	}
	if password == "" && token == "" {
		respond(h, w, errBodyParse, nil, errors.New("no password"), http.StatusUnauthorized)
		return
	}
	auth := h.mesh.auth
	if auth == nil {
		respond(h, w, "Failure logging in", nil, errors.New("security is not configured on this mesh"), 0)
		return
	}
	creds := Credentials{Username: username, Password: password, Token: token}
	if h.mesh.srv != nil {
		creds.SourceIP = h.mesh.srv.ClientAddress(r)
	}
	tok, err := auth.Login(r.Context(), creds)
	if err != nil {
		code := 0
		if deniedLogin(err) {
			code = http.StatusUnauthorized
		}
		respond(h, w, "Failure logging in", nil, err, code)
		return
	}
	respond(h, w, "Logged in ok", map[string]string{"token": tok}, nil, 0)
}

// deniedLogin reports whether a login error means bad credentials.
func deniedLogin(err error) bool {
	e := toWireError(err)
	if e.Name == "AccessDenied" {
		return true
	}
	switch c := e.Fields["code"].(type) {
	case int:
		return c == 401 || c == 403
	case float64:
		return c == 401 || c == 403
	}
	return false
}

// callMenuEntry is one method of the /rest/describe call menu.
type callMenuEntry struct {
	URI        string            `json:"uri"`
	Parameters map[string]string `json:"parameters"`
}

// callMenu lists every method of the mesh except those of the security
// and rest components.
func callMenu(d *Description) map[string]callMenuEntry {
	menu := map[string]callMenuEntry{}
	for cn, cd := range d.Components {
		if cn == "security" || cn == "rest" || cd == nil {
			continue
		}
		for mn, md := range cd.Methods {
			uri := "/" + cn + "/" + mn
			e := callMenuEntry{URI: uri, Parameters: map[string]string{}}
			for _, p := range md.Parameters {
				if p.Name == "callback" {
					continue
				}
				e.Parameters[p.Name] = "{{" + p.Name + "}}"
			}
			menu[uri] = e
		}
	}
	return menu
}

// Describe answers /rest/describe with the call menu; for a caller other
// than _ADMIN only the methods it may call are listed.
func (restModule) Describe(h *Happn, w http.ResponseWriter, r *http.Request) {
	m := h.mesh
	d := m.Describe()
	menu := callMenu(d)
	origin := h.Origin
	if origin != nil && origin.Username != "_ADMIN" && m.auth != nil {
		for uri := range menu {
			ok, _, err := m.auth.Authorize(r.Context(), origin, m.requestPath(uri), "set")
			if err != nil {
				respond(h, w, "call failed", nil, err, 0)
				return
			}
			if !ok {
				delete(menu, uri)
			}
		}
	}
	respond(h, w, d.Name+" description", menu, nil, 0)
}

// requestPath is the exchange request path of "/<component>/<method>".
func (m *Mesh) requestPath(methodURI string) string {
	return "/_exchange/requests/" + m.domain + "/" + strings.TrimPrefix(methodURI, "/")
}

// HandleRequest answers /rest/method/[<mesh>/]<component>/<method>.
func (restModule) HandleRequest(h *Happn, w http.ResponseWriter, r *http.Request) {
	m := h.mesh
	methodURI := strings.TrimPrefix(r.URL.Path, "/")
	body, err := parseBody(r)
	if err != nil {
		respond(h, w, errBodyParse, nil, err, http.StatusBadRequest)
		return
	}
	obj, _ := body.(map[string]any)
	ctx := r.Context()
	origin := h.Origin
	if m.secure {
		var edge, ok bool
		if origin, edge, ok = restAuthorize(ctx, h, w, origin, methodURI, obj); !ok {
			return
		}
		if edge {
			ctx = context.WithValue(ctx, edgeAuthorizedKey{}, true)
		}
	}
	callPath := strings.Split(methodURI, "/")
	if len(callPath) > 4 {
		respond(h, w, errBodyParse, nil, errors.New("call path cannot have more than 4 segments"), http.StatusBadRequest)
		return
	}
	pop := func() (string, bool) {
		if len(callPath) == 0 {
			return "undefined", false
		}
		s := callPath[len(callPath)-1]
		callPath = callPath[:len(callPath)-1]
		return s, true
	}
	methodName, _ := pop()
	compName, _ := pop()
	meshName, hasMesh := pop()
	if compName == "security" {
		respond(h, w, "Access denied", nil, errors.New("attempt to access security component over rest"), http.StatusForbidden)
		return
	}
	if hasMesh && meshName != m.name {
		respond(h, w, "Access denied", nil, errors.New("attempt to access remote mesh: "+meshName), http.StatusForbidden)
		return
	}
	c := m.component(compName)
	if c == nil {
		respond(h, w, errBodyParse, nil, fmt.Errorf("component %s does not exist on mesh", compName), http.StatusNotFound)
		return
	}
	meth, ok := c.methods[methodName]
	if !ok {
		h.Log.Warn(fmt.Sprintf("unable to find method: %s.%s on api", compName, methodName))
		respond(h, w, errBodyParse, nil, fmt.Errorf("method %s does not exist on component %s", methodName, compName), http.StatusNotFound)
		return
	}
	args := restArguments(r, meth, body, origin)
	var res callResult
	switch {
	case origin == nil:
		origin = m.adminOrigin()
	case origin.Override || m.delegationOn(c):
		// "as" runs as that user; with delegation on an edge-authorised
		// origin is checked again.
		if err := m.authorizeCall(ctx, c.name, methodName, origin); err != nil {
			res.failed = err
		}
	}
	if res.failed == nil {
		res = m.operate(ctx, c, methodName, goArgs(args), origin, "")
	}
	callErr := res.failed
	if callErr == nil {
		callErr = res.err
	}
	if callErr != nil {
		we := toWireError(callErr)
		if we.Message == "unauthorized" {
			reason, _ := we.Fields["reason"].(string)
			respond(h, w, reason, nil, errors.New("Access denied"), http.StatusForbidden)
			return
		}
		respond(h, w, "Call failed", nil, callErr, http.StatusInternalServerError)
		return
	}
	var data any
	if len(res.results) > 0 {
		data = res.results[0]
	}
	respond(h, w, "Call successful", data, nil, 0)
}

// restAuthorize is the secure mesh's check of a REST call:
// the caller needs a session; without "as" it must be allowed to call the
// method, with "as" it must be _ADMIN or in _MESH_DELEGATE. It returns the
// origin the call runs as and whether it was authorised here (edge), or
// ok false after answering the request.
func restAuthorize(ctx context.Context, h *Happn, w http.ResponseWriter, origin *Origin, methodURI string, body map[string]any) (_ *Origin, edge, ok bool) {
	m := h.mesh
	if origin == nil || m.auth == nil {
		respond(h, w, "Bad origin", nil, errors.New("origin of call unknown"), http.StatusForbidden)
		return nil, false, false
	}
	as, hasAs := body["as"]
	if !hasAs || as == nil {
		allowed, reason, err := m.auth.Authorize(ctx, origin, m.requestPath(methodURI), "set")
		if err != nil {
			respond(h, w, "Authorization failed due to system error", nil, err, http.StatusInternalServerError)
			return nil, false, false
		}
		if !allowed {
			m.restDenied(methodURI)
			if reason == "" {
				reason = "Authorization failed"
			}
			respond(h, w, reason, nil, errors.New("Access denied"), http.StatusForbidden)
			return nil, false, false
		}
		o := *origin
		return &o, true, true
	}
	asUser := fmt.Sprint(as)
	if origin.Username != "_ADMIN" {
		member, err := m.auth.UserInGroups(ctx, origin.Username, "_MESH_DELEGATE")
		if err != nil {
			respond(h, w, "Authorization failed due to system error", nil, err, http.StatusInternalServerError)
			return nil, false, false
		}
		if !member {
			respond(h, w, "Authorization failed", nil, errors.New("origin does not belong to the delegate group"), http.StatusForbidden)
			return nil, false, false
		}
	}
	return &Origin{ID: origin.ID, Username: asUser, Override: true}, false, true
}

// restArguments maps a REST body onto the method's parameters: an array
// (the body or body.parameters) is positional; otherwise each parameter of
// the description takes parameters[name], with the special names
// $restParams, $userSession and $req_<field>.
func restArguments(r *http.Request, meth *method, body any, origin *Origin) []any {
	if list, ok := body.([]any); ok {
		return list
	}
	obj, _ := body.(map[string]any)
	if list, ok := obj["parameters"].([]any); ok {
		return list
	}
	params, _ := obj["parameters"].(map[string]any)
	args := make([]any, 0, len(meth.desc.Parameters))
	for _, p := range meth.desc.Parameters {
		switch {
		case p.Name == "callback":
			continue
		case p.Name == "$restParams":
			rp := make(map[string]any, len(params))
			for k, v := range params {
				if k != "happn_token" && k != "username" && k != "password" {
					rp[k] = v
				}
			}
			args = append(args, rp)
		case p.Name == "$userSession":
			args = append(args, origin)
		case strings.HasPrefix(p.Name, "$req_"):
			args = append(args, requestField(r, strings.TrimPrefix(p.Name, "$req_")))
		default:
			args = append(args, params[p.Name])
		}
	}
	return args
}

// requestField is req[name] for the fields of node's request that have a
// counterpart here.
func requestField(r *http.Request, name string) any {
	switch name {
	case "method":
		return r.Method
	case "url":
		return r.URL.RequestURI()
	case "originalUrl":
		return OriginalPath(r)
	case "headers":
		h := make(map[string]string, len(r.Header))
		for k := range r.Header {
			h[strings.ToLower(k)] = r.Header.Get(k)
		}
		return h
	case "httpVersion":
		return fmt.Sprintf("%d.%d", r.ProtoMajor, r.ProtoMinor)
	}
	return nil
}
