package happner

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"github.com/happner-go/happner/happn"
	"github.com/happner-go/happner/happn/security"
)

// securityModule is the system security component:
// exchange.security.* manages users, groups, links, mesh-form permissions,
// tokens and lookup tables through the happn security service. Every
// method fails on an insecure mesh.
type securityModule struct {
	attachSecurity sync.Once
	attachSessions sync.Once
}

func secOf(h *Happn) (*security.Service, error) {
	if h.mesh.sec == nil {
		return nil, errSecurityNotInitialized
	}
	return h.mesh.sec, nil
}

// nameArg reads a user or group argument: a name, or an object with the
// name in field key.
func nameArg(raw json.RawMessage, key string) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		if v, ok := obj[key].(string); ok {
			return v
		}
	}
	return ""
}

func overwriteFalse() security.UpsertOptions {
	f := false
	return security.UpsertOptions{Overwrite: &f}
}

func (m *Mesh) toHappnUser(u SecurityUser) security.User {
	hu := security.User{Username: u.Username, Password: u.Password, CustomData: u.CustomData, PublicKey: u.PublicKey}
	if u.Permissions != nil {
		hu.Permissions = m.toHappnRules(u.Permissions)
	}
	return hu
}

func fromHappnUser(u *security.User) *SecurityUser {
	if u == nil {
		return nil
	}
	p := fromHappnRules(u.Permissions)
	return &SecurityUser{Username: u.Username, UserID: u.UserID, CustomData: u.CustomData, PublicKey: u.PublicKey, Permissions: &p, Groups: u.Groups}
}

func fromHappnGroup(g *security.Group) *SecurityGroup {
	if g == nil {
		return nil
	}
	p := fromHappnRules(g.Permissions)
	return &SecurityGroup{Name: g.Name, CustomData: g.CustomData, Permissions: &p}
}

func checkDataPerms(p *Permissions) error {
	if p != nil && !validDataPermissions(p.Data) {
		return errBadDataPermission
	}
	return nil
}

// AddUser adds a user (refusing an existing one) and links it to _MESH_GST.
func (*securityModule) AddUser(h *Happn, user SecurityUser) (*SecurityUser, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	if err := checkDataPerms(user.Permissions); err != nil {
		return nil, err
	}
	u, err := sec.UpsertUser(h.Ctx, h.mesh.toHappnUser(user), overwriteFalse())
	if err != nil {
		return nil, err
	}
	if err := sec.LinkGroup(h.Ctx, GroupMeshGuest, u.Username, nil); err != nil {
		return nil, err
	}
	return fromHappnUser(u), nil
}

// UpdateUser updates a user's fields (password, custom data, permissions).
func (*securityModule) UpdateUser(h *Happn, user SecurityUser) (*SecurityUser, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	if err := checkDataPerms(user.Permissions); err != nil {
		return nil, err
	}
	u, err := sec.UpsertUser(h.Ctx, h.mesh.toHappnUser(user), security.UpsertOptions{})
	if err != nil {
		return nil, err
	}
	return fromHappnUser(u), nil
}

// UpsertOptions are upsertUser's and upsertGroup's options.
type UpsertOptions struct {
	// OverwriteMemberships unlinks the groups the user is not given.
	OverwriteMemberships bool `json:"overwriteMemberships,omitempty"`
	// OverwritePermissions replaces the group's permissions.
	OverwritePermissions bool `json:"overwritePermissions,omitempty"`
}

// UpsertUser adds or updates a user and links the groups in user.groups;
// with overwriteMemberships it unlinks the others.
func (s *securityModule) UpsertUser(h *Happn, user SecurityUser, options UpsertOptions) (*SecurityUser, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	found, err := sec.GetUser(h.Ctx, user.Username, true)
	if err != nil {
		return nil, err
	}
	if found == nil {
		if _, err := s.AddUser(h, user); err != nil {
			return nil, err
		}
	} else if _, err := s.UpdateUser(h, user); err != nil {
		return nil, err
	}
	for g := range user.Groups {
		if err := s.linkNames(h, g, user.Username, true); err != nil {
			return nil, err
		}
	}
	if found != nil && options.OverwriteMemberships {
		for g := range found.Groups {
			if _, keep := user.Groups[g]; !keep {
				if err := sec.UnlinkGroup(h.Ctx, g, user.Username); err != nil {
					return nil, err
				}
			}
		}
	}
	u, err := sec.GetUser(h.Ctx, user.Username, true)
	if err != nil {
		return nil, err
	}
	return fromHappnUser(u), nil
}

// GetUserOptions are getUser's options.
type GetUserOptions struct {
	// IncludeGroups adds the user's group links (default true).
	IncludeGroups *bool `json:"includeGroups,omitempty"`
}

// GetUser returns a user with mesh-form permissions, or null.
func (*securityModule) GetUser(h *Happn, userName string, options GetUserOptions) (*SecurityUser, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	if userName == "" {
		return nil, NewError("Error", "getUser method expects a userName argument")
	}
	u, err := sec.GetUser(h.Ctx, userName, options.IncludeGroups == nil || *options.IncludeGroups)
	if err != nil {
		return nil, err
	}
	return fromHappnUser(u), nil
}

// ListOptions are the options of the list methods.
type ListOptions struct {
	Criteria json.RawMessage `json:"criteria,omitempty"`
	Sort     json.RawMessage `json:"sort,omitempty"`
	Skip     int             `json:"skip,omitempty"`
	Limit    int             `json:"limit,omitempty"`
	Count    bool            `json:"count,omitempty"`
}

func (o ListOptions) happn() security.ListOptions {
	return security.ListOptions{Criteria: o.Criteria, Sort: o.Sort, Skip: o.Skip, Limit: o.Limit}
}

// ListUsers lists the users whose name matches userName ('*' wildcard);
// with options.count it returns {value: n}.
func (*securityModule) ListUsers(h *Happn, userName string, options ListOptions) (any, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	users, err := sec.ListUsers(h.Ctx, userName, options.happn())
	if err != nil {
		return nil, err
	}
	if options.Count {
		return map[string]int{"value": len(users)}, nil
	}
	out := make([]*SecurityUser, 0, len(users))
	for _, u := range users {
		out = append(out, fromHappnUser(u))
	}
	return out, nil
}

// ListUsersByGroup returns the members of a group.
func (*securityModule) ListUsersByGroup(h *Happn, groupName string) ([]*SecurityUser, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	names, err := sec.ListUserNamesByGroup(h.Ctx, groupName)
	if err != nil {
		return nil, err
	}
	out := make([]*SecurityUser, 0, len(names))
	for _, n := range names {
		u, err := sec.GetUser(h.Ctx, n, true)
		if err != nil {
			return nil, err
		}
		if u != nil {
			out = append(out, fromHappnUser(u))
		}
	}
	return out, nil
}

// ListUserNamesByGroup returns the names of a group's members.
func (*securityModule) ListUserNamesByGroup(h *Happn, groupName string) ([]string, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	names, err := sec.ListUserNamesByGroup(h.Ctx, groupName)
	if names == nil {
		names = []string{}
	}
	return names, err
}

// DeleteUser deletes a user (given by name or as {username}).
func (*securityModule) DeleteUser(h *Happn, user json.RawMessage) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	return sec.DeleteUser(h.Ctx, nameArg(user, "username"))
}

// AddGroup adds a group, refusing an existing one.
func (*securityModule) AddGroup(h *Happn, group SecurityGroup) (*SecurityGroup, error) {
	return upsertGroup(h, group, overwriteFalse())
}

// UpdateGroup updates a group, merging its permissions.
func (*securityModule) UpdateGroup(h *Happn, group SecurityGroup) (*SecurityGroup, error) {
	return upsertGroup(h, group, security.UpsertOptions{})
}

func upsertGroup(h *Happn, group SecurityGroup, opts security.UpsertOptions) (*SecurityGroup, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	if err := checkDataPerms(group.Permissions); err != nil {
		return nil, err
	}
	g, err := sec.UpsertGroup(h.Ctx, security.Group{Name: group.Name, CustomData: group.CustomData, Permissions: h.mesh.toHappnRules(group.Permissions)}, opts)
	if err != nil {
		return nil, err
	}
	return fromHappnGroup(g), nil
}

// UpsertGroup adds or updates a group; with overwritePermissions the
// group's permissions are replaced by the given ones.
func (*securityModule) UpsertGroup(h *Happn, group SecurityGroup, options UpsertOptions) (*SecurityGroup, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	if options.OverwritePermissions {
		found, err := sec.GetGroup(h.Ctx, group.Name)
		if err != nil {
			return nil, err
		}
		if found != nil {
			drop := map[string]security.PermissionRule{}
			for p, r := range found.Permissions {
				drop[p] = security.PermissionRule{Actions: r.Actions, Prohibit: r.Prohibit, Remove: true}
			}
			if _, err := sec.UpsertGroup(h.Ctx, security.Group{Name: group.Name, CustomData: found.CustomData, Permissions: drop}, security.UpsertOptions{}); err != nil {
				return nil, err
			}
		}
	}
	return upsertGroup(h, group, security.UpsertOptions{})
}

// GetGroup returns a group with mesh-form permissions, or null.
func (*securityModule) GetGroup(h *Happn, groupName string) (*SecurityGroup, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	if groupName == "" {
		return nil, NewError("Error", "getGroup method expects a groupName argument")
	}
	g, err := sec.GetGroup(h.Ctx, groupName)
	if err != nil {
		return nil, err
	}
	return fromHappnGroup(g), nil
}

// ListGroups lists the groups whose name matches groupName.
func (*securityModule) ListGroups(h *Happn, groupName string, options ListOptions) (any, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	groups, err := sec.ListGroups(h.Ctx, groupName, options.happn())
	if err != nil {
		return nil, err
	}
	if options.Count {
		return map[string]int{"value": len(groups)}, nil
	}
	out := make([]*SecurityGroup, 0, len(groups))
	for _, g := range groups {
		out = append(out, fromHappnGroup(g))
	}
	return out, nil
}

// DeleteGroup deletes a group (given by name or as {name}).
func (*securityModule) DeleteGroup(h *Happn, group json.RawMessage) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	return sec.DeleteGroup(h.Ctx, nameArg(group, "name"))
}

// linkNames links (or unlinks) a user to a group by name, checking both
// exist.
func (*securityModule) linkNames(h *Happn, group, user string, link bool) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	if user == "" {
		return NewError("Error", "missing user argument")
	}
	if g, err := sec.GetGroup(h.Ctx, group); err != nil {
		return err
	} else if g == nil {
		return NewError("Error", "group with name "+group+" does not exist")
	}
	if u, err := sec.GetUser(h.Ctx, user, false); err != nil {
		return err
	} else if u == nil {
		return NewError("Error", "user with name "+user+" does not exist")
	}
	if link {
		return sec.LinkGroup(h.Ctx, group, user, nil)
	}
	return sec.UnlinkGroup(h.Ctx, group, user)
}

// LinkGroup makes a user (name or object) a member of a group (name or
// object).
func (s *securityModule) LinkGroup(h *Happn, group, user json.RawMessage) error {
	return s.linkNames(h, nameArg(group, "name"), nameArg(user, "username"), true)
}

// UnlinkGroup removes a user from a group.
func (s *securityModule) UnlinkGroup(h *Happn, group, user json.RawMessage) error {
	return s.linkNames(h, nameArg(group, "name"), nameArg(user, "username"), false)
}

// LinkGroupName links a user to the group named groupName.
func (s *securityModule) LinkGroupName(h *Happn, groupName string, user json.RawMessage) error {
	return s.linkNames(h, groupName, nameArg(user, "username"), true)
}

// UnlinkGroupName unlinks a user from the group named groupName.
func (s *securityModule) UnlinkGroupName(h *Happn, groupName string, user json.RawMessage) error {
	return s.linkNames(h, groupName, nameArg(user, "username"), false)
}

// AssociateGroups links the user to the groups in link and unlinks it
// from those in unlink.
func (s *securityModule) AssociateGroups(h *Happn, user json.RawMessage, link, unlink []string) error {
	name := nameArg(user, "username")
	for _, g := range link {
		if err := s.linkNames(h, g, name, true); err != nil {
			return err
		}
	}
	return s.UnlinkGroups(h, unlink, user)
}

// UnlinkGroups unlinks the user from every group in unlink.
func (s *securityModule) UnlinkGroups(h *Happn, unlink []string, user json.RawMessage) error {
	name := nameArg(user, "username")
	for _, g := range unlink {
		if err := s.linkNames(h, g, name, false); err != nil {
			return err
		}
	}
	return nil
}

// changeRules turns mesh-form permissions into an addition (authorized
// true) or a removal of every entry; web entries default to all actions.
// A removal without actions removes every action stored on the path.
func changeRules(m *Mesh, p Permissions, remove bool, existing map[string]security.PermissionRule) map[string]security.PermissionRule {
	t := true
	for _, set := range []map[string]PermissionEntry{p.Methods, p.Events, p.Web} {
		for k, e := range set {
			e.Authorized, e.Remove = &t, remove
			set[k] = e
		}
	}
	for k, e := range p.Web {
		if len(e.Actions) == 0 {
			e.Actions = []string{"*"}
			p.Web[k] = e
		}
	}
	if !remove {
		p.Data = nil
	}
	for k, e := range p.Data {
		e.Remove = true
		p.Data[k] = e
	}
	rules := m.toHappnRules(&p)
	if remove {
		for path, r := range rules {
			old := existing[path]
			if len(r.Actions)+len(r.Prohibit) == 0 || slices.Contains(r.Actions, "*") {
				r.Actions = append(slices.Clone(old.Actions), r.Actions...)
				r.Prohibit = append(slices.Clone(old.Prohibit), r.Prohibit...)
			}
			// Removing an entry removes its prohibitions too.
			r.Prohibit = append(r.Prohibit, old.Prohibit...)
			if len(r.Actions)+len(r.Prohibit) == 0 {
				delete(rules, path)
				continue
			}
			rules[path] = r
		}
	}
	return rules
}

// AddGroupPermissions grants mesh-form permissions to a group.
func (*securityModule) AddGroupPermissions(h *Happn, groupName string, mergePermissions Permissions) (*SecurityGroup, error) {
	return changeGroup(h, groupName, mergePermissions, false)
}

// RemoveGroupPermissions removes mesh-form permissions from a group; web
// entries with actions remove only those actions.
func (*securityModule) RemoveGroupPermissions(h *Happn, groupName string, removePermissions Permissions) (*SecurityGroup, error) {
	return changeGroup(h, groupName, removePermissions, true)
}

func changeGroup(h *Happn, groupName string, p Permissions, remove bool) (*SecurityGroup, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	if !remove {
		if err := checkDataPerms(&p); err != nil {
			return nil, err
		}
	}
	g, err := sec.GetGroup(h.Ctx, groupName)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, NewError("Error", "group with name "+groupName+" does not exist")
	}
	rules := changeRules(h.mesh, p, remove, g.Permissions)
	out, err := sec.UpsertGroup(h.Ctx, security.Group{Name: g.Name, CustomData: g.CustomData, Permissions: rules}, security.UpsertOptions{})
	if err != nil {
		return nil, err
	}
	return fromHappnGroup(out), nil
}

// AddUserPermissions grants mesh-form permissions to a user.
func (*securityModule) AddUserPermissions(h *Happn, username string, mergePermissions Permissions) (*SecurityUser, error) {
	return changeUser(h, username, mergePermissions, false)
}

// RemoveUserPermissions removes mesh-form permissions from a user.
func (*securityModule) RemoveUserPermissions(h *Happn, username string, removePermissions Permissions) (*SecurityUser, error) {
	return changeUser(h, username, removePermissions, true)
}

func changeUser(h *Happn, username string, p Permissions, remove bool) (*SecurityUser, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	u, err := sec.GetUser(h.Ctx, username, false)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, NewError("Error", fmt.Sprintf("User %s does not exist in the system", username))
	}
	rules := changeRules(h.mesh, p, remove, u.Permissions)
	out, err := sec.UpsertUser(h.Ctx, security.User{Username: username, Permissions: rules}, security.UpsertOptions{})
	if err != nil {
		return nil, err
	}
	return fromHappnUser(out), nil
}

// LinkAnonymousGroup links the anonymous user to a group.
func (*securityModule) LinkAnonymousGroup(h *Happn, groupName string) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	return sec.LinkGroup(h.Ctx, groupName, security.AnonymousUser, nil)
}

// UnlinkAnonymousGroup unlinks the anonymous user from a group; an unknown
// group is ignored.
func (*securityModule) UnlinkAnonymousGroup(h *Happn, groupName string) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	if g, err := sec.GetGroup(h.Ctx, groupName); err != nil || g == nil {
		return err
	}
	return sec.UnlinkGroup(h.Ctx, groupName, security.AnonymousUser)
}

// GetSystemPermissions lists every permission that can be granted on this
// mesh: each component's methods, events and web routes, plus a wildcard
// per component.
func (*securityModule) GetSystemPermissions(h *Happn, params map[string]any) (*Permissions, error) {
	if _, err := secOf(h); err != nil {
		return nil, err
	}
	m := h.mesh
	p := &Permissions{Methods: map[string]PermissionEntry{}, Events: map[string]PermissionEntry{}, Web: map[string]PermissionEntry{}}
	entry := PermissionEntry{Authorized: authorizedTrue(), Description: "system permission"}
	d := m.Describe()
	for cn, cd := range d.Components {
		base := "/" + m.domain + "/" + cn + "/"
		p.Methods[base+"*"] = entry
		p.Events[base+"*"] = entry
		p.Web["/"+m.name+"/"+cn+"/*"] = entry
		for mn := range cd.Methods {
			p.Methods[base+mn] = entry
		}
		for ev := range cd.Events {
			p.Events[base+ev] = entry
		}
		for route := range cd.Routes {
			p.Web["/"+m.name+route] = entry
		}
	}
	return p, nil
}

// ChangePassword changes the calling user's password.
func (*securityModule) ChangePassword(h *Happn, oldPassword, newPassword json.RawMessage) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	var o, n string
	if json.Unmarshal(oldPassword, &o) != nil || json.Unmarshal(newPassword, &n) != nil {
		return NewError("Error", "Bad Password Arguments")
	}
	if h.Origin == nil || h.Origin.Username == "" {
		return NewError("Error", "Bad Password Arguments")
	}
	return sec.ChangePassword(h.Ctx, h.Origin.Username, o, n)
}

// UpdateOwnUser is the deprecated form of ChangePassword: it changes the
// calling user's password from user.oldPassword to user.password and
// returns user.
func (s *securityModule) UpdateOwnUser(h *Happn, user map[string]any) (map[string]any, error) {
	h.Log.Warn("Deprecated function, please use changePassword")
	o, _ := json.Marshal(user["oldPassword"])
	n, _ := json.Marshal(user["password"])
	return user, s.ChangePassword(h, o, n)
}

// RevokeToken revokes a session token (reason default "SYSTEM").
func (*securityModule) RevokeToken(h *Happn, token, reason string) error {
	if token == "" {
		return NewError("Error", "missing token argument")
	}
	sec, err := secOf(h)
	if err != nil {
		return NewError("Error", "not initialized")
	}
	if reason == "" {
		reason = "SYSTEM"
	}
	return sec.RevokeToken(h.Ctx, token, reason)
}

// RestoreToken takes a token off the revocation list.
func (*securityModule) RestoreToken(h *Happn, token string) error {
	if token == "" {
		return NewError("Error", "missing token argument")
	}
	sec, err := secOf(h)
	if err != nil {
		return NewError("Error", "not initialized")
	}
	return sec.RestoreToken(h.Ctx, token)
}

// ListRevokedTokens lists the live revocations.
func (*securityModule) ListRevokedTokens(h *Happn, filter json.RawMessage) ([]security.RevokedToken, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, NewError("Error", "not initialized")
	}
	return sec.ListRevokedTokens(h.Ctx)
}

// UpsertLookupTable stores a lookup table, merging its paths.
func (*securityModule) UpsertLookupTable(h *Happn, table security.LookupTable) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	return sec.UpsertLookupTable(h.Ctx, table)
}

// FetchLookupTable returns a lookup table.
func (*securityModule) FetchLookupTable(h *Happn, tableName string) (*security.LookupTable, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	return sec.FetchLookupTable(h.Ctx, tableName)
}

// DeleteLookupTable deletes a lookup table.
func (*securityModule) DeleteLookupTable(h *Happn, name string) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	return sec.DeleteLookupTable(h.Ctx, name)
}

// InsertLookupPath adds a path to a lookup table.
func (*securityModule) InsertLookupPath(h *Happn, table, path string) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	return sec.InsertLookupPath(h.Ctx, table, path)
}

// RemoveLookupPath removes a path from a lookup table.
func (*securityModule) RemoveLookupPath(h *Happn, table, path string) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	return sec.RemoveLookupPath(h.Ctx, table, path)
}

// UpsertLookupPermission attaches a lookup permission to a group.
func (s *securityModule) UpsertLookupPermission(h *Happn, group string, permission security.LookupPermission) error {
	return s.UpsertLookupPermissions(h, group, []security.LookupPermission{permission})
}

// RemoveLookupPermission detaches a lookup permission from a group.
func (s *securityModule) RemoveLookupPermission(h *Happn, group string, permission security.LookupPermission) error {
	return s.RemoveLookupPermissions(h, group, []security.LookupPermission{permission})
}

// UpsertLookupPermissions attaches several lookup permissions to a group.
func (*securityModule) UpsertLookupPermissions(h *Happn, group string, permissions []security.LookupPermission) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	for _, p := range permissions {
		if err := sec.UpsertLookupPermission(h.Ctx, group, p); err != nil {
			return err
		}
	}
	return nil
}

// RemoveLookupPermissions detaches several lookup permissions.
func (*securityModule) RemoveLookupPermissions(h *Happn, group string, permissions []security.LookupPermission) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	for _, p := range permissions {
		if err := sec.RemoveLookupPermission(h.Ctx, group, p); err != nil {
			return err
		}
	}
	return nil
}

// FetchLookupPermissions returns a group's lookup permissions.
func (*securityModule) FetchLookupPermissions(h *Happn, group string) ([]security.LookupPermission, error) {
	sec, err := secOf(h)
	if err != nil {
		return nil, err
	}
	out, err := sec.FetchLookupPermissions(h.Ctx, group)
	if out == nil && err == nil {
		out = []security.LookupPermission{}
	}
	return out, err
}

// UnlinkLookupTable detaches every lookup permission of a group that uses
// table.
func (s *securityModule) UnlinkLookupTable(h *Happn, group, table string) error {
	perms, err := s.FetchLookupPermissions(h, group)
	if err != nil {
		return err
	}
	var drop []security.LookupPermission
	for _, p := range perms {
		if p.Table == table {
			drop = append(drop, p)
		}
	}
	return s.RemoveLookupPermissions(h, group, drop)
}

// EventLookupPermission is a lookup permission on a component's event.
type EventLookupPermission struct {
	Component string `json:"component"`
	Event     string `json:"event"`
	Table     string `json:"table"`
	Path      string `json:"path"`
}

// ExchangeLookupPermission is a lookup permission on a component's method.
type ExchangeLookupPermission struct {
	Component string `json:"component"`
	Method    string `json:"method"`
	Table     string `json:"table"`
	Path      string `json:"path"`
}

func (m *Mesh) eventLookup(p EventLookupPermission) security.LookupPermission {
	return security.LookupPermission{Regex: "^/_events/" + m.domain + "/" + p.Component + "/" + p.Event, Actions: []string{"on"}, Table: p.Table, Path: p.Path}
}

func (m *Mesh) exchangeLookup(p ExchangeLookupPermission) []security.LookupPermission {
	tail := m.domain + "/" + p.Component + "/" + p.Method
	return []security.LookupPermission{
		{Regex: "^/_exchange/requests/" + tail, Actions: []string{"set"}, Table: p.Table, Path: p.Path},
		{Regex: "^/_exchange/responses/" + tail, Actions: []string{"set", "on"}, Table: p.Table, Path: p.Path},
	}
}

// UpsertEventLookupPermission grants "on" on a component's event through a
// lookup table.
func (s *securityModule) UpsertEventLookupPermission(h *Happn, group string, permission EventLookupPermission) error {
	return s.UpsertLookupPermissions(h, group, []security.LookupPermission{h.mesh.eventLookup(permission)})
}

// RemoveEventLookupPermission removes an event lookup permission.
func (s *securityModule) RemoveEventLookupPermission(h *Happn, group string, permission EventLookupPermission) error {
	return s.RemoveLookupPermissions(h, group, []security.LookupPermission{h.mesh.eventLookup(permission)})
}

// UpsertExchangeLookupPermission grants calling a method through a lookup
// table (set on the request path, set and on on its responses).
func (s *securityModule) UpsertExchangeLookupPermission(h *Happn, group string, permission ExchangeLookupPermission) error {
	return s.UpsertLookupPermissions(h, group, h.mesh.exchangeLookup(permission))
}

// RemoveExchangeLookupPermission removes an exchange lookup permission.
func (s *securityModule) RemoveExchangeLookupPermission(h *Happn, group string, permission ExchangeLookupPermission) error {
	return s.RemoveLookupPermissions(h, group, h.mesh.exchangeLookup(permission))
}

// AttachToSecurityChanges makes the component emit every security change
// as an event named after it (upsert-user, link-group, …), once.
func (s *securityModule) AttachToSecurityChanges(h *Happn) error {
	sec, err := secOf(h)
	if err != nil {
		return err
	}
	m, c := h.mesh, h.comp
	s.attachSecurity.Do(func() {
		sec.OnChange(func(ch security.Change) {
			if m.ctx.Err() != nil {
				return
			}
			data := ch.Data
			if len(data) == 0 {
				data = json.RawMessage("{}")
			}
			go func() {
				if err := m.newHappn(m.ctx, c, nil).Emit(ch.Event, data); err != nil {
					m.log.Debug("happner: emitting security change", "err", err)
				}
			}()
		})
	})
	return nil
}

// AttachToSessionChanges makes the component emit "connect" and
// "disconnect" events with the session's data, once.
func (s *securityModule) AttachToSessionChanges(h *Happn) error {
	if _, err := secOf(h); err != nil {
		return err
	}
	m, c := h.mesh, h.comp
	s.attachSessions.Do(func() {
		m.srv.OnSessionEvent(func(ev happn.SessionEvent) {
			var key string
			switch ev.Type {
			case happn.SessionAuthentic:
				key = "connect"
			case happn.SessionDisconnected:
				key = "disconnect"
			default:
				return
			}
			if m.ctx.Err() != nil {
				return
			}
			go func() {
				if err := m.newHappn(m.ctx, c, nil).Emit(key, ev); err != nil {
					m.log.Debug("happner: emitting session change", "err", err)
				}
			}()
		})
	})
	return nil
}

// ListActiveSessions lists the logged-in sessions of this member
// (happner's listActiveSessions): id, username, info, address, protocol,
// parent session and login time; never tokens.
func (s *securityModule) ListActiveSessions(h *Happn) ([]happn.SessionEvent, error) {
	if _, err := secOf(h); err != nil {
		return nil, err
	}
	return h.mesh.srv.ActiveSessions(), nil
}

// HappnerSchema names the parameters as happner's security component does.
func (*securityModule) HappnerSchema() ModuleSchema {
	names := func(ns ...string) MethodSchema {
		ps := make([]Param, len(ns))
		for i, n := range ns {
			ps[i] = Param{Name: n}
		}
		return MethodSchema{Parameters: ps}
	}
	methods := map[string]MethodSchema{
		"addUser": names("user"), "updateUser": names("user"), "upsertUser": names("user", "options"),
		"getUser": names("userName", "options"), "listUsers": names("userName", "options"),
		"listUsersByGroup": names("groupName"), "listUserNamesByGroup": names("groupName"),
		"deleteUser": names("user"), "addGroup": names("group"), "updateGroup": names("group"),
		"upsertGroup": names("group", "options"), "getGroup": names("groupName"),
		"listGroups": names("groupName", "options"), "deleteGroup": names("group"),
		"linkGroup": names("group", "user"), "unlinkGroup": names("group", "user"),
		"linkGroupName": names("groupName", "user"), "unlinkGroupName": names("groupName", "user"),
		"associateGroups": names("user", "link", "unlink"), "unlinkGroups": names("unlink", "user"),
		"addGroupPermissions": names("groupName", "mergePermissions"), "removeGroupPermissions": names("groupName", "removePermissions"),
		"addUserPermissions": names("username", "mergePermissions"), "removeUserPermissions": names("username", "removePermissions"),
		"linkAnonymousGroup": names("groupName"), "unlinkAnonymousGroup": names("groupName"),
		"getSystemPermissions": names("params"), "changePassword": names("oldPassword", "newPassword"),
		"updateOwnUser": names("user"), "revokeToken": names("token", "reason"), "restoreToken": names("token"),
		"listRevokedTokens": names("filter"), "upsertLookupTable": names("table"), "fetchLookupTable": names("tableName"),
		"deleteLookupTable": names("name"), "insertLookupPath": names("table", "path"), "removeLookupPath": names("table", "path"),
		"upsertLookupPermission": names("group", "permission"), "removeLookupPermission": names("group", "permission"),
		"upsertLookupPermissions": names("group", "permissions"), "removeLookupPermissions": names("group", "permissions"),
		"fetchLookupPermissions": names("group"), "unlinkLookupTable": names("group", "table"),
		"upsertEventLookupPermission": names("group", "permission"), "removeEventLookupPermission": names("group", "permission"),
		"upsertExchangeLookupPermission": names("group", "permission"), "removeExchangeLookupPermission": names("group", "permission"),
		"attachToSecurityChanges": names(), "attachToSessionChanges": names(),
	}
	return ModuleSchema{Version: Version, Schema: Schema{Methods: methods}}
}
