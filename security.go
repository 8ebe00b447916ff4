package happner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/security"
)

// System group names.
const (
	GroupMeshAdmin    = "_MESH_ADM"
	GroupMeshGuest    = "_MESH_GST"
	GroupMeshDelegate = "_MESH_DELEGATE"
)

// Permissions are mesh-form permissions of a user or group:
// methods and events keyed "/<domain>/<component>/<method|event>", web keyed
// "/<component>/<route>" and data keyed by raw happn paths. On output the
// method, event and web keys have no leading slash.
type Permissions struct {
	Methods map[string]PermissionEntry `json:"methods"`
	Events  map[string]PermissionEntry `json:"events"`
	Web     map[string]PermissionEntry `json:"web"`
	Data    map[string]PermissionEntry `json:"data"`
}

// PermissionEntry is one mesh-form permission. Methods and events are
// granted only with Authorized true (anything else prohibits them, as in
// happner); web entries grant Actions unless Authorized is false; data
// entries grant Actions and prohibit Prohibit, or prohibit Actions when
// Authorized is false.
type PermissionEntry struct {
	// Authorized grants (true) or prohibits (false) the entry.
	Authorized *bool `json:"authorized,omitempty"`
	// Actions are the HTTP verbs (web) or happn actions (data).
	Actions []string `json:"actions,omitempty"`
	// Prohibit are refused happn actions (data).
	Prohibit []string `json:"prohibit,omitempty"`
	// Description is informational; it is not stored.
	Description string `json:"description,omitempty"`
	// Remove deletes the entry instead of adding it.
	Remove bool `json:"remove,omitempty"`
}

// SecurityUser is a user as the security component takes and returns it.
type SecurityUser struct {
	Username    string                     `json:"username"`
	Password    string                     `json:"password,omitempty"`
	UserID      string                     `json:"userid,omitempty"`
	CustomData  json.RawMessage            `json:"custom_data,omitempty"`
	PublicKey   string                     `json:"publicKey,omitempty"`
	Permissions *Permissions               `json:"permissions,omitempty"`
	Groups      map[string]json.RawMessage `json:"groups,omitempty"`
}

// SecurityGroup is a group as the security component takes and returns it.
type SecurityGroup struct {
	Name        string          `json:"name"`
	CustomData  json.RawMessage `json:"custom_data,omitempty"`
	Permissions *Permissions    `json:"permissions,omitempty"`
}

// errSecurityNotInitialized is the error of every security component
// method on an insecure mesh.
var errSecurityNotInitialized = NewError("Error", "security module not initialized, is your happn configured to be secure?")

// errBadDataPermission refuses data permissions on mesh paths.
var errBadDataPermission = NewError("Error", "data permissions cannot start with /_events, /_exchange or /@HTTP")

func authorizedTrue() *bool { t := true; return &t }

// permissionPath is happner's __getPermissionPath: a leading slash, the
// domain inserted when the path does not start with it, an optional
// trailing "/*", under prefix.
func (m *Mesh) permissionPath(raw, prefix string, wildcard bool) string {
	if wildcard {
		raw = strings.TrimRight(raw, "/*") + "/*"
	}
	if !strings.HasPrefix(raw, "/") {
		raw = "/" + raw
	}
	d := "/" + m.domain
	if raw != d && !strings.HasPrefix(raw, d+"/") {
		raw = d + raw
	}
	return "/" + prefix + raw
}

// validDataPermissions reports whether no data key names a mesh path.
func validDataPermissions(data map[string]PermissionEntry) bool {
	for p := range data {
		clean := strings.NewReplacer("/", "", "*", "").Replace(p)
		if strings.HasPrefix(clean, "_exchange") || strings.HasPrefix(clean, "_events") || strings.HasPrefix(clean, "@HTTP") {
			return false
		}
	}
	return true
}

// toHappnRules translates mesh-form permissions to happn rules.
func (m *Mesh) toHappnRules(p *Permissions) map[string]security.PermissionRule {
	out := map[string]security.PermissionRule{}
	if p == nil {
		return out
	}
	grant := func(e PermissionEntry) bool { return e.Authorized != nil && *e.Authorized }
	for path, e := range p.Data {
		if e.Authorized != nil && !*e.Authorized {
			out[path] = security.PermissionRule{Prohibit: e.Actions, Remove: e.Remove}
			continue
		}
		out[path] = security.PermissionRule{Actions: e.Actions, Prohibit: e.Prohibit, Remove: e.Remove}
	}
	for path, e := range p.Events {
		r := security.PermissionRule{Remove: e.Remove}
		if grant(e) {
			r.Actions = []string{"on"}
		} else {
			r.Prohibit = []string{"on"}
		}
		out[m.permissionPath(path, "_events", false)] = r
	}
	for path, e := range p.Methods {
		req := security.PermissionRule{Remove: e.Remove}
		res := security.PermissionRule{Remove: e.Remove}
		if grant(e) {
			req.Actions, res.Actions = []string{"set"}, []string{"on", "set"}
		} else {
			req.Prohibit, res.Prohibit = []string{"set"}, []string{"on", "set"}
		}
		out[m.permissionPath(path, "_exchange/requests", false)] = req
		out[m.permissionPath(path, "_exchange/responses", true)] = res
	}
	for path, e := range p.Web {
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		r := security.PermissionRule{Remove: e.Remove}
		if e.Authorized == nil || *e.Authorized {
			r.Actions = e.Actions
		} else {
			r.Prohibit = e.Actions
		}
		out["/@HTTP"+path] = r
	}
	return out
}

// fromHappnRules translates happn rules back to mesh form: requests become
// methods (prohibitions as authorized:false), _events become events,
// /@HTTP becomes web, responses are dropped and the rest is data.
func fromHappnRules(rules map[string]security.PermissionRule) Permissions {
	p := Permissions{
		Methods: map[string]PermissionEntry{}, Events: map[string]PermissionEntry{},
		Web: map[string]PermissionEntry{}, Data: map[string]PermissionEntry{},
	}
	f := false
	for path, r := range rules {
		switch {
		case strings.HasPrefix(path, "/_events/"):
			key := strings.TrimPrefix(path, "/_events/")
			if slices.Contains(r.Actions, "on") || slices.Contains(r.Actions, "*") {
				p.Events[key] = PermissionEntry{Authorized: authorizedTrue()}
			} else if len(r.Prohibit) > 0 {
				p.Events[key] = PermissionEntry{Authorized: &f}
			}
		case strings.HasPrefix(path, "/_exchange/requests/"):
			key := strings.TrimPrefix(path, "/_exchange/requests/")
			if slices.Contains(r.Actions, "set") || slices.Contains(r.Actions, "*") {
				p.Methods[key] = PermissionEntry{Authorized: authorizedTrue()}
			} else if len(r.Prohibit) > 0 {
				p.Methods[key] = PermissionEntry{Authorized: &f}
			}
		case strings.HasPrefix(path, "/@HTTP/"):
			key := strings.TrimPrefix(path, "/@HTTP/")
			if len(r.Actions) > 0 {
				p.Web[key] = PermissionEntry{Authorized: authorizedTrue(), Actions: r.Actions}
			} else if len(r.Prohibit) > 0 {
				p.Web[key] = PermissionEntry{Authorized: &f, Actions: r.Prohibit}
			}
		case strings.HasPrefix(path, "/_exchange/responses/"):
		default:
			p.Data[path] = PermissionEntry{Actions: r.Actions, Prohibit: r.Prohibit}
		}
	}
	return p
}

// secureAdminPassword is _ADMIN's effective configured password.
func (m *Mesh) secureAdminPassword() string {
	return m.srv.Security().Config().AdminPassword
}

// setupSecurity upserts the system groups, links _MESH_ADM
// to _ADMIN and, with anonymous access, _MESH_GST to _ANONYMOUS.
func (m *Mesh) setupSecurity(ctx context.Context) error {
	sec := m.sec
	admin, err := sec.GetUser(ctx, security.AdminUser, false)
	if err != nil {
		return fmt.Errorf("happner: security: %w", err)
	}
	if admin == nil {
		return errors.New("happner: admin user not found, happn may have been incorrectly configured")
	}
	all := []string{"*"}
	meshPerms := map[string]security.PermissionRule{
		"/mesh/*": {Actions: all}, "/_exchange/*": {Actions: all}, "/_events/*": {Actions: all},
	}
	guest := map[string]security.PermissionRule{"/mesh/schema/*": {Actions: []string{"get", "on"}}}
	for _, meth := range []string{"updateOwnUser", "changePassword", "resetPassword"} {
		guest["/_exchange/requests/"+m.domain+"/security/"+meth] = security.PermissionRule{Actions: []string{"set"}}
		guest["/_exchange/responses/*/security/"+meth+"/{{id}}/*"] = security.PermissionRule{Actions: []string{"on"}}
	}
	for _, g := range []security.Group{
		{Name: GroupMeshAdmin, Permissions: meshPerms},
		{Name: GroupMeshGuest, Permissions: guest},
		{Name: GroupMeshDelegate, Permissions: meshPerms},
	} {
		if _, err := sec.UpsertGroup(ctx, g, security.UpsertOptions{}); err != nil {
			return fmt.Errorf("happner: upserting system group %s: %w", g.Name, err)
		}
	}
	if err := sec.LinkGroup(ctx, GroupMeshAdmin, security.AdminUser, nil); err != nil {
		return fmt.Errorf("happner: linking %s: %w", GroupMeshAdmin, err)
	}
	if sec.Config().AllowAnonymousAccess {
		if err := sec.LinkGroup(ctx, GroupMeshGuest, security.AnonymousUser, nil); err != nil {
			return fmt.Errorf("happner: linking %s to anonymous: %w", GroupMeshGuest, err)
		}
	}
	return nil
}

// sessionFor returns the security session to authorise origin with: the
// session it came with (web and REST origins), else a delegated session of
// its user made by the mesh's _ADMIN.
func (m *Mesh) sessionFor(ctx context.Context, origin *Origin) (*security.Session, error) {
	if origin.sess != nil {
		return origin.sess, nil
	}
	sess, err := m.sec.OnBehalfOf(ctx, m.adminSess, origin.Username)
	if err != nil {
		var ee *errs.Error
		if errors.As(err, &ee) && strings.Contains(ee.Reason, "does not exist") {
			e := errs.InvalidCredentials("invalid credentials")
			e.Reason = "request on behalf of non-existent user: " + origin.Username
			return nil, e
		}
		return nil, err
	}
	return sess, nil
}

// authorize checks that origin may do action on path: nothing to check on
// an insecure mesh, for the mesh itself or for _ADMIN.
func (m *Mesh) authorize(ctx context.Context, origin *Origin, path, action string) error {
	if m.sec == nil || origin == nil || origin.Username == "" || origin.Username == security.AdminUser {
		return nil
	}
	sess, err := m.sessionFor(ctx, origin)
	if err != nil {
		return err
	}
	if err := m.sec.Authorize(ctx, sess, path, action); err != nil {
		var ee *errs.Error
		if errors.As(err, &ee) && ee.Name == "AccessDenied" {
			out := errs.AccessDenied(ee.Message)
			out.Reason = ee.Reason
			if out.Reason == "" {
				out.Reason = "request on behalf of unauthorised user: " + origin.Username
			}
			return out
		}
		return err
	}
	return nil
}

// authorizeCall checks a direct (in-process) call of component.method as
// origin, as happn checks a remote one: set on the request path.
func (m *Mesh) authorizeCall(ctx context.Context, component, method string, origin *Origin) error {
	err := m.authorize(ctx, origin, "/_exchange/requests/"+m.domain+"/"+component+"/"+method, "set")
	if err != nil {
		m.callDenied(component, method, err)
	}
	return err
}

// delegationOn reports whether component c binds its onward calls to the
// caller (authorityDelegationOn, mesh-wide or per component).
func (m *Mesh) delegationOn(c *component) bool {
	if d := c.config.Security.AuthorityDelegationOn; d != nil {
		return *d
	}
	return m.cfg.AuthorityDelegationOn
}

// AuthorizationQuery lists what IsAuthorized checks: methods
// ("/<domain>/<component>/<method>", set on the request path), events
// ("/<domain>/<component>/<event>", on) and data paths with their actions.
type AuthorizationQuery struct {
	Methods []string                   `json:"methods,omitempty"`
	Events  []string                   `json:"events,omitempty"`
	Data    map[string]PermissionEntry `json:"data,omitempty"`
}

// AuthorizationCheck is one refused path and action.
type AuthorizationCheck struct {
	Authorized bool   `json:"authorized"`
	Path       string `json:"path"`
	Action     string `json:"action"`
	Reason     string `json:"reason,omitempty"`
}

// AuthorizationResult is IsAuthorized's answer.
type AuthorizationResult struct {
	Authorized bool                 `json:"authorized"`
	Forbidden  []AuthorizationCheck `json:"forbidden"`
}

// IsAuthorized reports whether username may call the methods, subscribe
// to the events and do the data actions of q (happner's
// $happn.isAuthorized). Every refused check is listed in Forbidden. On an
// insecure mesh everything is authorised.
func (h *Happn) IsAuthorized(ctx context.Context, username string, q AuthorizationQuery) (*AuthorizationResult, error) {
	if username == "" {
		return nil, errors.New("happner: failed authorization check, username null or not a string")
	}
	type pa struct{ path, action string }
	var checks []pa
	for _, p := range q.Methods {
		checks = append(checks, pa{"/_exchange/requests/" + strings.TrimPrefix(p, "/"), "set"})
	}
	dataPaths := make([]string, 0, len(q.Data))
	for p := range q.Data {
		dataPaths = append(dataPaths, p)
	}
	slices.Sort(dataPaths)
	for _, p := range dataPaths {
		for _, a := range q.Data[p].Actions {
			checks = append(checks, pa{p, a})
		}
	}
	for _, p := range q.Events {
		checks = append(checks, pa{"/_events/" + strings.TrimPrefix(p, "/"), "on"})
	}
	if len(checks) == 0 {
		return nil, fmt.Errorf("happner: unable to find paths and actions for authorization check, username: %s", username)
	}
	res := &AuthorizationResult{Authorized: true, Forbidden: []AuthorizationCheck{}}
	m := h.mesh
	if m.sec == nil {
		return res, nil
	}
	origin := &Origin{Username: username}
	for _, c := range checks {
		err := m.authorize(ctx, origin, c.path, c.action)
		if err == nil {
			continue
		}
		var ee *errs.Error
		if !errors.As(err, &ee) || (ee.Name != "AccessDenied") {
			return nil, fmt.Errorf("happner: authorization check: %w", err)
		}
		res.Authorized = false
		res.Forbidden = append(res.Forbidden, AuthorizationCheck{Path: c.path, Action: c.action, Reason: ee.Reason})
	}
	return res, nil
}

// happnAuth is the Authenticator of a secure mesh, backed by its happn
// security service.
type happnAuth struct{ m *Mesh }

// Login logs in a REST caller with a password or a token and returns a
// session token.
func (a happnAuth) Login(ctx context.Context, c Credentials) (string, error) {
	sec := a.m.sec
	sess, err := sec.Login(ctx, security.LoginRequest{
		Username: c.Username, Password: c.Password, Token: c.Token, Type: security.Stateless,
		SourceIP: c.SourceIP,
	})
	if err != nil {
		return "", err
	}
	sec.ForgetSession(sess.ID)
	return sess.Token, nil
}

// SessionFromRequest returns the origin of the request's token: the
// session happn's HTTP security already decoded, or the token's session.
func (a happnAuth) SessionFromRequest(r *http.Request) (*Origin, error) {
	if s := happn.HTTPSession(r.Context()); s != nil {
		return &Origin{ID: s.ID, Username: s.Username, sess: s}, nil
	}
	tok := a.m.srv.TokenFromRequest(r)
	if tok == "" {
		return nil, nil
	}
	s, err := a.m.sec.SessionFromToken(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	return &Origin{ID: s.ID, Username: s.Username, sess: s}, nil
}

// Authorize reports whether origin may do action on path.
func (a happnAuth) Authorize(ctx context.Context, origin *Origin, path, action string) (bool, string, error) {
	err := a.m.authorize(ctx, origin, path, action)
	if err == nil {
		return true, "", nil
	}
	var ee *errs.Error
	if errors.As(err, &ee) && ee.Name == "AccessDenied" {
		return false, ee.Reason, nil
	}
	return false, "", err
}

// UserInGroups reports whether username is in every group.
func (a happnAuth) UserInGroups(ctx context.Context, username string, groups ...string) (bool, error) {
	have, err := a.m.sec.UserGroups(ctx, username)
	if err != nil {
		return false, err
	}
	for _, g := range groups {
		if !slices.Contains(have, g) {
			return false, nil
		}
	}
	return true, nil
}
