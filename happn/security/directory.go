package security

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
)

// User is a happn user as submitted to UpsertUser and returned by GetUser.
type User struct {
	// Username is the login name ('*' is stripped).
	Username string `json:"username"`
	// Password is the plain-text password on input; it is stored hashed and
	// never returned.
	Password string `json:"password,omitempty"`
	// UserID is assigned (uuid v4) when the user is first stored.
	UserID string `json:"userid,omitempty"`
	// CustomData is free JSON the application keeps with the user.
	CustomData json.RawMessage `json:"custom_data,omitempty"`
	// PublicKey is the PEM RSA public key used by digest logins.
	PublicKey string `json:"publicKey,omitempty"`
	// AuthType names the user's auth provider ("happn").
	AuthType string `json:"authType,omitempty"`
	// Permissions are the user-level permissions.
	Permissions map[string]PermissionRule `json:"permissions,omitempty"`
	// Groups maps group name to link data (GetUser with includeGroups).
	Groups map[string]json.RawMessage `json:"groups,omitempty"`
}

// Group is a happn group.
type Group struct {
	// Name is the group name.
	Name string `json:"name"`
	// CustomData is free JSON the application keeps with the group.
	CustomData json.RawMessage `json:"custom_data,omitempty"`
	// Permissions maps a path pattern to its allowed and prohibited actions.
	Permissions map[string]PermissionRule `json:"permissions,omitempty"`
}

// PermissionRule is the logical form of the permissions on one path.
type PermissionRule struct {
	// Actions are the allowed actions.
	Actions []string `json:"actions,omitempty" yaml:"actions,omitempty"`
	// Prohibit are the explicitly refused actions (prohibit wins).
	Prohibit []string `json:"prohibit,omitempty" yaml:"prohibit,omitempty"`
	// Remove, on upsert, deletes the listed actions and prohibitions instead.
	Remove bool `json:"remove,omitempty" yaml:"remove,omitempty"`
}

// Permission is one stored permission record.
type Permission struct {
	Action     string `json:"action"`
	Authorized bool   `json:"authorized"`
	Path       string `json:"path"`
}

// UpsertOptions changes how users and groups are upserted.
type UpsertOptions struct {
	// Overwrite false refuses to replace an existing record (nil = true).
	Overwrite *bool
}

// ListOptions narrows a listing of users or groups.
type ListOptions struct {
	// Criteria is a mongo-style filter over the record fields.
	Criteria json.RawMessage
	// Sort is happn's sort object ({"username":1}).
	Sort json.RawMessage
	// Skip and Limit page the result.
	Skip, Limit int
	// SkipPermissions leaves groups' permissions out.
	SkipPermissions bool
}

// validActions are the actions a permission may name.
var validActions = map[string]bool{"set": true, "get": true, "remove": true, "on": true, "*": true,
	"delete": true, "put": true, "post": true, "head": true, "options": true}

// userEntry is a cached user: its stored record and its group links.
type userEntry struct {
	data       map[string]json.RawMessage
	hash       string
	user       User // public form, without groups and permissions
	groups     map[string]json.RawMessage
	groupNames []string
}

// groupEntry is a cached group with its permissions and lookup permissions.
type groupEntry struct {
	group   Group
	lookups []LookupPermission
}

func prepareUserName(name string) string { return strings.ReplaceAll(name, "*", "") }

func escapePerm(s string) string { return strings.ReplaceAll(s, "*", "{{w}}") }

// permRecordPath is where a permission is stored, as happn-3 stores it:
// <prefix><owner>/<action>/<path with '*' escaped as {{w}}>. The action is
// not escaped: the "*" action's record path holds a literal '*'.
func permRecordPath(prefix, owner, action, path string) string {
	return prefix + owner + "/" + action + "/" + escapePerm(path)
}

// legacyPermRecordPath is where earlier versions of this project stored
// the "*" action ({{w}} in place of '*'); such records are still read and
// removed.
func legacyPermRecordPath(prefix, owner, action, path string) string {
	return prefix + owner + "/" + escapePerm(action) + "/" + escapePerm(path)
}

// permRecordPaths returns the record path of a permission and, for the "*"
// action, its legacy spelling.
func permRecordPaths(prefix, owner, action, path string) []string {
	paths := []string{permRecordPath(prefix, owner, action, path)}
	if legacy := legacyPermRecordPath(prefix, owner, action, path); legacy != paths[0] {
		paths = append(paths, legacy)
	}
	return paths
}

// removeRecord removes the record at exactly path, which may hold a literal
// '*' (a permission of the "*" action) that a store would otherwise read as
// a wildcard.
func (s *Service) removeRecord(ctx context.Context, path string) (int, error) {
	if !strings.Contains(path, "*") {
		return s.st.Remove(ctx, path, nil)
	}
	exact, err := query.NewCond("path", "$eq", path)
	if err != nil {
		return 0, err
	}
	return s.st.Remove(ctx, path, &query.Query{Filter: exact})
}

// ---- users ----

// UpsertUser creates or updates a user (merge semantics: fields not given
// are kept). A new user gets a uuid userid and needs a password or a
// publicKey. The returned user has no password.
func (s *Service) UpsertUser(ctx context.Context, u User, opts UpsertOptions) (*User, error) {
	return s.upsertUser(ctx, u, opts, false)
}

func (s *Service) upsertUser(ctx context.Context, u User, opts UpsertOptions, internal bool) (*User, error) {
	u.Username = prepareUserName(u.Username)
	if u.Username == "" {
		return nil, errs.Plain("validation failure: no username specified")
	}
	if strings.Contains(u.Username, ":nogroups") {
		return nil, errs.Plain("validation failure: username cannot contain the ':nogroups' directive")
	}
	if u.Username == AnonymousUser && !internal {
		return nil, errs.Plain("validation failure: username cannot be reserved name _ANONYMOUS")
	}
	if u.Permissions != nil {
		if err := validatePermissions("user", u.Permissions); err != nil {
			return nil, err
		}
	}
	existing, err := s.st.Get(ctx, pathUser+u.Username)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: get user: %w", err), "security")
	}
	if existing != nil && opts.Overwrite != nil && !*opts.Overwrite {
		return nil, errs.Plain("validation failure: user by the name %s already exists", u.Username)
	}
	var old map[string]json.RawMessage
	if existing != nil {
		_ = json.Unmarshal(existing.Data, &old)
	}
	if existing == nil && u.Password == "" && u.PublicKey == "" {
		return nil, errs.Plain("validation failure: no password or publicKey specified for a new user")
	}
	data := map[string]any{"username": u.Username}
	if id, ok := old["userid"]; ok {
		data["userid"] = id
	} else {
		data["userid"] = uuid.NewString()
	}
	if u.Password != "" {
		h, err := HashPassword(u.Password, s.cfg.PBKDF2Iterations)
		if err != nil {
			return nil, errs.System(err, "security")
		}
		data["password"] = h
	}
	if len(u.CustomData) > 0 {
		data["custom_data"] = u.CustomData
	}
	if u.PublicKey != "" {
		data["publicKey"] = u.PublicKey
	}
	if u.AuthType != "" {
		data["authType"] = u.AuthType
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, errs.Plain("user is null or not an object")
	}
	if _, err := s.st.Set(ctx, pathUser+u.Username, raw, store.SetOptions{Merge: true}); err != nil {
		return nil, errs.System(fmt.Errorf("security: store user: %w", err), "security")
	}
	if len(u.Permissions) > 0 {
		if err := s.applyRules(ctx, pathUserPerms, u.Username, u.Permissions); err != nil {
			return nil, err
		}
	}
	s.changed("upsert-user", map[string]string{"username": u.Username}, []string{u.Username})
	return s.GetUser(ctx, u.Username, false)
}

// GetUser returns the user (without password) and its user-level
// permissions, plus its group links when includeGroups is set; nil and no
// error when there is no such user.
func (s *Service) GetUser(ctx context.Context, name string, includeGroups bool) (*User, error) {
	name = prepareUserName(name)
	if name == "" {
		return nil, errs.Plain("please supply a username")
	}
	ue, err := s.loadUser(ctx, name)
	if err != nil || ue == nil {
		return nil, err
	}
	u := ue.user
	perms, err := s.listPerms(ctx, pathUserPerms, name)
	if err != nil {
		return nil, err
	}
	u.Permissions = rulesOf(perms)
	if includeGroups {
		u.Groups = make(map[string]json.RawMessage, len(ue.groups))
		for k, v := range ue.groups {
			u.Groups[k] = v
		}
	}
	return &u, nil
}

// loadUser returns the cached user entry, reading it from the store when
// needed; nil when the user does not exist.
func (s *Service) loadUser(ctx context.Context, name string) (*userEntry, error) {
	g0 := s.gen.Load()
	s.mu.Lock()
	ue, ok := s.users[name]
	s.mu.Unlock()
	if ok {
		return ue, nil
	}
	rec, err := s.st.Get(ctx, pathUser+name)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: get user: %w", err), "security")
	}
	if rec != nil {
		ue = &userEntry{groups: map[string]json.RawMessage{}}
		if err := json.Unmarshal(rec.Data, &ue.data); err != nil {
			return nil, errs.System(fmt.Errorf("security: user record %s: %w", name, err), "security")
		}
		_ = json.Unmarshal(ue.data["password"], &ue.hash)
		_ = json.Unmarshal(rec.Data, &ue.user)
		ue.user.Password = ""
		ue.user.Permissions = nil
		ue.user.Groups = nil
		prefix := pathUser + name + userGroupSeg
		links, err := s.st.Find(ctx, prefix+"*", nil)
		if err != nil {
			return nil, errs.System(fmt.Errorf("security: get user groups: %w", err), "security")
		}
		for _, l := range links {
			g := strings.TrimPrefix(l.Path, prefix)
			if g == "" || strings.Contains(g, "/") {
				continue
			}
			ue.groups[g] = l.Data
			ue.groupNames = append(ue.groupNames, g)
		}
		sort.Strings(ue.groupNames)
	}
	s.mu.Lock()
	if s.gen.Load() == g0 {
		s.users[name] = ue
	}
	s.mu.Unlock()
	return ue, nil
}

// DeleteUser removes a user, its group links and its user-level permissions.
func (s *Service) DeleteUser(ctx context.Context, name string) error {
	name = prepareUserName(name)
	if name == "" {
		return errs.Plain("please supply a username")
	}
	if name == AdminUser || name == AnonymousUser {
		return errs.Plain("unable to delete a user with the reserved name: %s", name)
	}
	rec, err := s.st.Get(ctx, pathUser+name)
	if err != nil {
		return errs.System(fmt.Errorf("security: get user: %w", err), "security")
	}
	if rec == nil {
		return errs.Plain("%s does not exist in the system", name)
	}
	for _, p := range []string{pathUserPerms + name + "/*", pathUser + name + "/*", pathUser + name} {
		if _, err := s.st.Remove(ctx, p, nil); err != nil {
			return errs.System(fmt.Errorf("security: delete user: %w", err), "security")
		}
	}
	s.changed("delete-user", map[string]string{"username": name}, []string{name})
	return nil
}

// ListUsers lists the users whose name matches pattern ('*' wildcard;
// "" means all), narrowed by opts.
func (s *Service) ListUsers(ctx context.Context, pattern string, opts ListOptions) ([]*User, error) {
	if pattern == "" {
		pattern = "*"
	}
	q, err := listQuery(opts)
	if err != nil {
		return nil, err
	}
	exists, _ := query.NewCond("data.username", "$exists", true)
	if q.Filter == nil {
		q.Filter = exists
	} else {
		q.Filter = query.And{exists, q.Filter}
	}
	recs, err := s.st.Find(ctx, pathUser+pattern, q)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: list users: %w", err), "security")
	}
	out := make([]*User, 0, len(recs))
	for _, r := range recs {
		if strings.Contains(strings.TrimPrefix(r.Path, pathUser), "/") {
			continue
		}
		var u User
		if json.Unmarshal(r.Data, &u) != nil {
			continue
		}
		u.Password = ""
		u.Permissions, u.Groups = nil, nil
		out = append(out, &u)
	}
	return out, nil
}

// ListUserNamesByGroup returns the names of the members of a group, sorted.
func (s *Service) ListUserNamesByGroup(ctx context.Context, group string) ([]string, error) {
	recs, err := s.st.Find(ctx, pathUser+"*"+userGroupSeg+group, nil)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: list group members: %w", err), "security")
	}
	var out []string
	for _, r := range recs {
		rest, ok := strings.CutPrefix(r.Path, pathUser)
		if !ok {
			continue
		}
		u, g, ok := strings.Cut(rest, userGroupSeg)
		if ok && g == group && !strings.Contains(u, "/") {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out, nil
}

func listQuery(opts ListOptions) (*query.Query, error) {
	params := map[string]any{}
	o := map[string]any{}
	if len(opts.Criteria) > 0 {
		params["criteria"] = opts.Criteria
	}
	if len(opts.Sort) > 0 {
		o["sort"] = opts.Sort
	}
	if opts.Skip > 0 {
		o["skip"] = opts.Skip
	}
	if opts.Limit > 0 {
		o["limit"] = opts.Limit
	}
	params["options"] = o
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, errs.Plain("invalid list options: %v", err)
	}
	q, err := query.Parse(raw)
	if err != nil {
		return nil, errs.Plain("%s", err.Error())
	}
	return q, nil
}

// ---- groups ----

func validateGroupName(name string) error {
	if name == "" {
		return errs.Plain("names cannot be empty")
	}
	for _, bad := range []string{"/", "_SYSTEM", "_GROUP", "_PERMISSION", "_USER_GROUP", "_ADMIN", "_ANONYMOUS"} {
		if strings.Contains(name, bad) {
			return errs.Plain("validation error: group names cannot contain the special _SYSTEM, _GROUP, _PERMISSION, _USER_GROUP, _ADMIN, _ANONYMOUS segment or a forward slash /")
		}
	}
	if strings.Contains(name, "*") {
		return errs.Plain("invalid group name: %s", name)
	}
	return nil
}

// UpsertGroup creates or replaces a group record and merges the submitted
// permissions into the stored ones at action level (a rule with Remove
// deletes its actions and prohibitions).
func (s *Service) UpsertGroup(ctx context.Context, g Group, opts UpsertOptions) (*Group, error) {
	return s.upsertGroup(ctx, g, opts, false)
}

func (s *Service) upsertGroup(ctx context.Context, g Group, opts UpsertOptions, internal bool) (*Group, error) {
	if !internal {
		if err := validateGroupName(g.Name); err != nil {
			return nil, err
		}
	}
	if g.Permissions != nil {
		if err := validatePermissions("group", g.Permissions); err != nil {
			return nil, err
		}
	}
	if opts.Overwrite != nil && !*opts.Overwrite {
		rec, err := s.st.Get(ctx, pathGroup+g.Name)
		if err != nil {
			return nil, errs.System(fmt.Errorf("security: get group: %w", err), "security")
		}
		if rec != nil {
			return nil, errs.Plain("validation failure: group by the name %s already exists", g.Name)
		}
	}
	rec := map[string]any{"name": g.Name}
	if len(g.CustomData) > 0 {
		rec["custom_data"] = g.CustomData
	}
	raw, _ := json.Marshal(rec)
	if _, err := s.st.Set(ctx, pathGroup+g.Name, raw, store.SetOptions{}); err != nil {
		return nil, errs.System(fmt.Errorf("security: store group: %w", err), "security")
	}
	if err := s.applyRules(ctx, pathPerms, g.Name, g.Permissions); err != nil {
		return nil, err
	}
	members, _ := s.ListUserNamesByGroup(ctx, g.Name)
	s.changed("upsert-group", map[string]string{"name": g.Name}, nonNil(members))
	return s.GetGroup(ctx, g.Name)
}

// GetGroup returns a group with its permissions; nil and no error when it
// does not exist.
func (s *Service) GetGroup(ctx context.Context, name string) (*Group, error) {
	if name == "" || strings.Contains(name, "*") {
		return nil, errs.Plain("invalid group name: %s", name)
	}
	ge, err := s.loadGroup(ctx, name)
	if err != nil || ge == nil {
		return nil, err
	}
	g := ge.group
	g.Permissions = make(map[string]PermissionRule, len(ge.group.Permissions))
	for k, v := range ge.group.Permissions {
		g.Permissions[k] = v
	}
	return &g, nil
}

func (s *Service) loadGroup(ctx context.Context, name string) (*groupEntry, error) {
	g0 := s.gen.Load()
	s.mu.Lock()
	ge, ok := s.groups[name]
	s.mu.Unlock()
	if ok {
		return ge, nil
	}
	rec, err := s.st.Get(ctx, pathGroup+name)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: get group: %w", err), "security")
	}
	if rec != nil {
		ge = &groupEntry{}
		_ = json.Unmarshal(rec.Data, &ge.group)
		ge.group.Name = name
		perms, err := s.listPerms(ctx, pathPerms, name)
		if err != nil {
			return nil, err
		}
		ge.group.Permissions = rulesOf(perms)
		if ge.lookups, err = s.FetchLookupPermissions(ctx, name); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	if s.gen.Load() == g0 {
		s.groups[name] = ge
	}
	s.mu.Unlock()
	return ge, nil
}

// DeleteGroup removes a group, its permissions, lookup permissions and
// every user's link to it.
func (s *Service) DeleteGroup(ctx context.Context, name string) error {
	if name == "" {
		return errs.Plain("validation error: groupName must be specified")
	}
	rec, err := s.st.Get(ctx, pathGroup+name)
	if err != nil {
		return errs.System(fmt.Errorf("security: get group: %w", err), "security")
	}
	if rec == nil || strings.Contains(name, "*") {
		return errs.Plain("group you are deleting does not exist")
	}
	members, err := s.ListUserNamesByGroup(ctx, name)
	if err != nil {
		return err
	}
	lookups, err := s.FetchLookupPermissions(ctx, name)
	if err != nil {
		return err
	}
	for _, lp := range lookups {
		if _, err := s.st.Remove(ctx, pathLookupPerms+lp.Table+"/"+name, nil); err != nil {
			return errs.System(fmt.Errorf("security: delete group: %w", err), "security")
		}
	}
	for _, p := range []string{pathPerms + name + "/*", pathLookupPerms + name + "/*", pathGroup + name} {
		if _, err := s.st.Remove(ctx, p, nil); err != nil {
			return errs.System(fmt.Errorf("security: delete group: %w", err), "security")
		}
	}
	for _, m := range members {
		if _, err := s.st.Remove(ctx, pathUser+m+userGroupSeg+name, nil); err != nil {
			return errs.System(fmt.Errorf("security: delete group: %w", err), "security")
		}
	}
	s.changed("delete-group", map[string]string{"name": name}, nonNil(members))
	return nil
}

// ListGroups lists groups whose name matches pattern ('*' wildcard, ""
// means all), sorted by path unless opts say otherwise.
func (s *Service) ListGroups(ctx context.Context, pattern string, opts ListOptions) ([]*Group, error) {
	if pattern == "" {
		pattern = "*"
	}
	q, err := listQuery(opts)
	if err != nil {
		return nil, err
	}
	recs, err := s.st.Find(ctx, pathGroup+pattern, q)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: list groups: %w", err), "security")
	}
	out := make([]*Group, 0, len(recs))
	for _, r := range recs {
		name := strings.TrimPrefix(r.Path, pathGroup)
		if opts.SkipPermissions {
			var g Group
			_ = json.Unmarshal(r.Data, &g)
			g.Name = name
			g.Permissions = nil
			out = append(out, &g)
			continue
		}
		g, err := s.GetGroup(ctx, name)
		if err != nil {
			return nil, err
		}
		if g != nil {
			out = append(out, g)
		}
	}
	return out, nil
}

// LinkGroup makes user a member of group; data becomes user.groups[group].
func (s *Service) LinkGroup(ctx context.Context, group, user string, data json.RawMessage) error {
	return s.linkGroup(ctx, group, user, data)
}

func (s *Service) linkGroup(ctx context.Context, group, user string, data json.RawMessage) error {
	if err := s.checkLink(ctx, group, user); err != nil {
		return err
	}
	if len(data) == 0 || string(data) == "null" {
		data = json.RawMessage("{}")
	}
	if _, err := s.st.Set(ctx, pathUser+user+userGroupSeg+group, data, store.SetOptions{}); err != nil {
		if err == store.ErrNotObject {
			return errs.Plain("link data must be an object")
		}
		return errs.System(fmt.Errorf("security: link group: %w", err), "security")
	}
	s.changed("link-group", map[string]string{"group": group, "username": user}, []string{user})
	return nil
}

// UnlinkGroup removes user from group.
func (s *Service) UnlinkGroup(ctx context.Context, group, user string) error {
	if err := s.checkLink(ctx, group, user); err != nil {
		return err
	}
	if _, err := s.st.Remove(ctx, pathUser+user+userGroupSeg+group, nil); err != nil {
		return errs.System(fmt.Errorf("security: unlink group: %w", err), "security")
	}
	s.changed("unlink-group", map[string]string{"group": group, "username": user}, []string{user})
	return nil
}

func (s *Service) checkLink(ctx context.Context, group, user string) error {
	if group == "" || strings.Contains(group, "*") {
		return errs.Plain("validation error: group does not exist or has not been saved")
	}
	if rec, err := s.st.Get(ctx, pathGroup+group); err != nil {
		return errs.System(fmt.Errorf("security: get group: %w", err), "security")
	} else if rec == nil {
		return errs.Plain("validation error: group does not exist or has not been saved")
	}
	if user == "" || strings.Contains(user, "*") {
		return errs.Plain("validation error: user does not exist or has not been saved")
	}
	if rec, err := s.st.Get(ctx, pathUser+user); err != nil {
		return errs.System(fmt.Errorf("security: get user: %w", err), "security")
	} else if rec == nil {
		return errs.Plain("validation error: user does not exist or has not been saved")
	}
	return nil
}

// ---- permissions ----

func validatePermissions(kind string, rules map[string]PermissionRule) error {
	var problems []string
	paths := make([]string, 0, len(rules))
	for p := range rules {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		r := rules[p]
		if len(r.Actions) == 0 && len(r.Prohibit) == 0 {
			problems = append(problems, "missing allowed actions or prohibit rules: "+p)
			continue
		}
		for _, a := range r.Actions {
			if !validActions[a] {
				problems = append(problems, "unknown action: "+a+" for path: "+p)
			}
		}
		for _, a := range r.Prohibit {
			if !validActions[a] {
				problems = append(problems, "unknown prohibit action: "+a+" for path: "+p)
			}
		}
	}
	if len(problems) > 0 {
		return errs.Plain("%s permissions invalid: %s", kind, strings.Join(problems, ","))
	}
	for _, p := range paths {
		if err := validatePermPath(p); err != nil {
			return err
		}
	}
	return nil
}

func validatePermPath(path string) error {
	if path == "" {
		return errs.Plain("permission path is null")
	}
	if strings.Contains(path, "{{w}}") {
		return errs.Plain("invalid permission path, cannot contain special string {{w}}")
	}
	return nil
}

// applyRules merges rules into the stored permissions of owner.
func (s *Service) applyRules(ctx context.Context, prefix, owner string, rules map[string]PermissionRule) error {
	for path, r := range rules {
		if r.Remove {
			for _, a := range append(append([]string{}, r.Actions...), r.Prohibit...) {
				for _, rp := range permRecordPaths(prefix, owner, a, path) {
					if _, err := s.removeRecord(ctx, rp); err != nil {
						return errs.System(fmt.Errorf("security: remove permission: %w", err), "security")
					}
				}
			}
			continue
		}
		for _, a := range r.Actions {
			if err := s.writePerm(ctx, prefix, owner, path, a, true); err != nil {
				return err
			}
		}
		for _, a := range r.Prohibit {
			if err := s.writePerm(ctx, prefix, owner, path, a, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) writePerm(ctx context.Context, prefix, owner, path, action string, authorized bool) error {
	raw, _ := json.Marshal(Permission{Action: action, Authorized: authorized, Path: path})
	paths := permRecordPaths(prefix, owner, action, path)
	if _, err := s.st.Set(ctx, paths[0], raw, store.SetOptions{}); err != nil {
		return errs.System(fmt.Errorf("security: store permission: %w", err), "security")
	}
	for _, legacy := range paths[1:] {
		if _, err := s.removeRecord(ctx, legacy); err != nil {
			return errs.System(fmt.Errorf("security: remove permission: %w", err), "security")
		}
	}
	return nil
}

// listPerms reads the permission records of owner, sorted by path, action.
func (s *Service) listPerms(ctx context.Context, prefix, owner string) ([]Permission, error) {
	recs, err := s.st.Find(ctx, prefix+owner+"/*", nil)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: list permissions: %w", err), "security")
	}
	out := make([]Permission, 0, len(recs))
	for _, r := range recs {
		var p Permission
		if json.Unmarshal(r.Data, &p) != nil || p.Path == "" || p.Action == "" {
			continue
		}
		if r.Path != permRecordPath(prefix, owner, p.Action, p.Path) && r.Path != legacyPermRecordPath(prefix, owner, p.Action, p.Path) {
			continue // another owner's record under a colliding prefix
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		if out[i].Action != out[j].Action {
			return out[i].Action < out[j].Action
		}
		return out[i].Authorized && !out[j].Authorized
	})
	// a permission stored under both spellings of the "*" action counts once
	return slices.Compact(out), nil
}

func rulesOf(perms []Permission) map[string]PermissionRule {
	out := make(map[string]PermissionRule, len(perms))
	for _, p := range perms {
		r := out[p.Path]
		if p.Authorized {
			r.Actions = append(r.Actions, p.Action)
		} else {
			r.Prohibit = append(r.Prohibit, p.Action)
		}
		out[p.Path] = r
	}
	return out
}

func checkPermArgs(path, action string) (string, error) {
	if action == "" {
		action = "*"
	}
	if !validActions[action] {
		return "", errs.Plain("unknown action: %s for path: %s", action, path)
	}
	return action, validatePermPath(path)
}

// UpsertPermission allows (authorized) or prohibits (!authorized) action on
// path for a group; action "" means "*".
func (s *Service) UpsertPermission(ctx context.Context, group, path, action string, authorized bool) error {
	if group == "" {
		return errs.Plain("please supply a groupName")
	}
	action, err := checkPermArgs(path, action)
	if err != nil {
		return err
	}
	if rec, err := s.st.Get(ctx, pathGroup+group); err != nil {
		return errs.System(fmt.Errorf("security: get group: %w", err), "security")
	} else if rec == nil {
		return errs.Plain("validation error: group does not exist or has not been saved")
	}
	if err := s.writePerm(ctx, pathPerms, group, path, action, authorized); err != nil {
		return err
	}
	members, _ := s.ListUserNamesByGroup(ctx, group)
	s.changed("permission-upserted", map[string]any{"groupName": group, "path": path, "action": action, "authorized": authorized}, nonNil(members))
	return nil
}

// RemovePermission removes a group's allowed action on path (action ""
// means "*"). Prohibitions are not removed, as in happn.
func (s *Service) RemovePermission(ctx context.Context, group, path, action string) error {
	if group == "" {
		return errs.Plain("please supply a groupName")
	}
	return s.removePerm(ctx, pathPerms, group, path, action, "groupName")
}

func (s *Service) removePerm(ctx context.Context, prefix, owner, path, action, ownerKey string) error {
	if path == "" {
		path = "*"
	}
	action, err := checkPermArgs(path, action)
	if err != nil {
		return err
	}
	removed := false
	for _, rp := range permRecordPaths(prefix, owner, action, path) {
		rec, err := s.st.Get(ctx, rp)
		if err != nil {
			return errs.System(fmt.Errorf("security: get permission: %w", err), "security")
		}
		var p Permission
		if rec == nil || json.Unmarshal(rec.Data, &p) != nil || !p.Authorized {
			continue
		}
		if _, err := s.removeRecord(ctx, rp); err != nil {
			return errs.System(fmt.Errorf("security: remove permission: %w", err), "security")
		}
		removed = true
	}
	if !removed {
		return nil
	}
	var users []string
	if ownerKey == "username" {
		users = []string{owner}
	} else {
		users, _ = s.ListUserNamesByGroup(ctx, owner)
		users = nonNil(users)
	}
	s.changed("permission-removed", map[string]any{ownerKey: owner, "path": path, "action": action}, users)
	return nil
}

// ListPermissions returns a group's permission records sorted by path.
func (s *Service) ListPermissions(ctx context.Context, group string) ([]Permission, error) {
	if group == "" {
		return nil, errs.Plain("please supply a groupName")
	}
	return s.listPerms(ctx, pathPerms, group)
}

// UpsertUserPermission allows or prohibits action on path for one user.
func (s *Service) UpsertUserPermission(ctx context.Context, username, path, action string, authorized bool) error {
	if username == "" {
		return errs.Plain("please supply a username")
	}
	action, err := checkPermArgs(path, action)
	if err != nil {
		return err
	}
	if rec, err := s.st.Get(ctx, pathUser+username); err != nil {
		return errs.System(fmt.Errorf("security: get user: %w", err), "security")
	} else if rec == nil {
		return errs.Plain("%s does not exist in the system", username)
	}
	if err := s.writePerm(ctx, pathUserPerms, username, path, action, authorized); err != nil {
		return err
	}
	s.changed("permission-upserted", map[string]any{"username": username, "path": path, "action": action, "authorized": authorized}, []string{username})
	return nil
}

// RemoveUserPermission removes a user's allowed action on path.
func (s *Service) RemoveUserPermission(ctx context.Context, username, path, action string) error {
	if username == "" {
		return errs.Plain("please supply a username")
	}
	return s.removePerm(ctx, pathUserPerms, username, path, action, "username")
}

// ListUserPermissions returns a user's permission records sorted by path.
func (s *Service) ListUserPermissions(ctx context.Context, username string) ([]Permission, error) {
	if username == "" {
		return nil, errs.Plain("please supply a username")
	}
	return s.listPerms(ctx, pathUserPerms, username)
}
