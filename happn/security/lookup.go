package security

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/store"
)

// LookupTable is a named list of paths that lookup permissions test
// candidate paths against.
type LookupTable struct {
	Name  string   `json:"name"`
	Paths []string `json:"paths"`
}

// LookupPermission grants Actions on request paths matching Regex when a
// path built from Path (with {{$N}} regex captures and {{user.…}} session
// templates) is in Table.
type LookupPermission struct {
	Regex   string   `json:"regex"`
	Actions []string `json:"actions"`
	Table   string   `json:"table"`
	Path    string   `json:"path"`
}

func validTableName(name string) error {
	if name == "" || strings.ContainsAny(name, "*/") {
		return errs.Plain("invalid lookup table name: %s", name)
	}
	return nil
}

func lookupEntryPath(table, path string) string {
	return pathLookup + table + "/" + strings.TrimPrefix(path, "/")
}

// UpsertLookupTable stores a table, merging its paths with the stored ones.
func (s *Service) UpsertLookupTable(ctx context.Context, t LookupTable) error {
	if err := validTableName(t.Name); err != nil {
		return err
	}
	for _, p := range t.Paths {
		if err := s.putLookupPath(ctx, t.Name, p); err != nil {
			return err
		}
	}
	s.tableChanged(ctx, t.Name)
	return nil
}

func (s *Service) putLookupPath(ctx context.Context, table, path string) error {
	if strings.TrimPrefix(path, "/") == "" {
		return errs.Plain("invalid lookup path: %s", path)
	}
	if _, err := s.st.Set(ctx, lookupEntryPath(table, path), json.RawMessage(`{"authorized":true}`), store.SetOptions{}); err != nil {
		return errs.System(fmt.Errorf("security: store lookup path: %w", err), "security")
	}
	return nil
}

// DeleteLookupTable removes a table and all its paths.
func (s *Service) DeleteLookupTable(ctx context.Context, name string) error {
	if err := validTableName(name); err != nil {
		return err
	}
	if _, err := s.st.Remove(ctx, pathLookup+name+"/*", nil); err != nil {
		return errs.System(fmt.Errorf("security: delete lookup table: %w", err), "security")
	}
	s.tableChanged(ctx, name)
	return nil
}

// InsertLookupPath adds one path to a table.
func (s *Service) InsertLookupPath(ctx context.Context, table, path string) error {
	if err := validTableName(table); err != nil {
		return err
	}
	if err := s.putLookupPath(ctx, table, path); err != nil {
		return err
	}
	s.tableChanged(ctx, table)
	return nil
}

// RemoveLookupPath removes one path from a table.
func (s *Service) RemoveLookupPath(ctx context.Context, table, path string) error {
	if err := validTableName(table); err != nil {
		return err
	}
	if _, err := s.st.Remove(ctx, lookupEntryPath(table, path), nil); err != nil {
		return errs.System(fmt.Errorf("security: remove lookup path: %w", err), "security")
	}
	s.tableChanged(ctx, table)
	return nil
}

// FetchLookupTable returns a table's paths (without their leading '/'),
// sorted; a missing table has no paths.
func (s *Service) FetchLookupTable(ctx context.Context, name string) (*LookupTable, error) {
	if err := validTableName(name); err != nil {
		return nil, err
	}
	recs, err := s.st.Find(ctx, pathLookup+name+"/*", nil)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: fetch lookup table: %w", err), "security")
	}
	t := &LookupTable{Name: name, Paths: make([]string, 0, len(recs))}
	for _, r := range recs {
		t.Paths = append(t.Paths, strings.TrimPrefix(r.Path, pathLookup+name+"/"))
	}
	sort.Strings(t.Paths)
	return t, nil
}

// tablePaths returns a table's paths through the cache.
func (s *Service) tablePaths(ctx context.Context, name string) ([]string, error) {
	g0 := s.gen.Load()
	s.mu.Lock()
	paths, ok := s.tables[name]
	s.mu.Unlock()
	if ok {
		return paths, nil
	}
	t, err := s.FetchLookupTable(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen.Load() == g0 {
		s.tables[name] = t.Paths
	}
	s.mu.Unlock()
	return t.Paths, nil
}

func (s *Service) tableChanged(ctx context.Context, table string) {
	groups, _ := s.groupsUsingTable(ctx, table)
	var users []string
	for _, g := range groups {
		m, _ := s.ListUserNamesByGroup(ctx, g)
		users = append(users, m...)
	}
	s.changed("lookup-table-changed", map[string]any{"groups": groups, "table": table}, nonNil(users))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Service) groupsUsingTable(ctx context.Context, table string) ([]string, error) {
	recs, err := s.st.Find(ctx, pathLookupPerms+table+"/*", nil)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: lookup index: %w", err), "security")
	}
	var out []string
	for _, r := range recs {
		g := strings.TrimPrefix(r.Path, pathLookupPerms+table+"/")
		if g != "" && !strings.Contains(g, "/") {
			var d map[string]json.RawMessage
			if json.Unmarshal(r.Data, &d) == nil && d["permissions"] == nil {
				out = append(out, g)
			}
		}
	}
	return out, nil
}

func validateLookupPermission(p LookupPermission) error {
	if p.Regex == "" || p.Table == "" || p.Path == "" || len(p.Actions) == 0 {
		return errs.Plain("invalid lookup permission: regex, actions, table and path are required")
	}
	for _, a := range p.Actions {
		if !validActions[a] {
			return errs.Plain("invalid lookup permission: unknown action: %s", a)
		}
	}
	if _, err := compileLookupRegex(p.Regex); err != nil {
		return errs.Plain("invalid lookup permission regex: %s", p.Regex)
	}
	return validTableName(p.Table)
}

// UpsertLookupPermission attaches a lookup permission to a group (an
// identical one is not added twice).
func (s *Service) UpsertLookupPermission(ctx context.Context, group string, p LookupPermission) error {
	if err := validateLookupPermission(p); err != nil {
		return err
	}
	if rec, err := s.st.Get(ctx, pathGroup+group); err != nil {
		return errs.System(fmt.Errorf("security: get group: %w", err), "security")
	} else if rec == nil || group == "" {
		return errs.Plain("validation error: group does not exist or has not been saved")
	}
	perms, err := s.groupTablePerms(ctx, group, p.Table)
	if err != nil {
		return err
	}
	for _, q := range perms {
		if reflect.DeepEqual(q, p) {
			return nil
		}
	}
	perms = append(perms, p)
	if err := s.writeGroupTablePerms(ctx, group, p.Table, perms); err != nil {
		return err
	}
	s.lookupPermChanged(ctx, group, p.Table)
	return nil
}

// RemoveLookupPermission detaches a lookup permission (matched by equality)
// from a group.
func (s *Service) RemoveLookupPermission(ctx context.Context, group string, p LookupPermission) error {
	if group == "" || p.Table == "" {
		return errs.Plain("invalid lookup permission: group and table are required")
	}
	perms, err := s.groupTablePerms(ctx, group, p.Table)
	if err != nil {
		return err
	}
	kept := perms[:0]
	for _, q := range perms {
		if !reflect.DeepEqual(q, p) {
			kept = append(kept, q)
		}
	}
	if len(kept) == len(perms) {
		return nil
	}
	if err := s.writeGroupTablePerms(ctx, group, p.Table, kept); err != nil {
		return err
	}
	s.lookupPermChanged(ctx, group, p.Table)
	return nil
}

// FetchLookupPermissions returns the lookup permissions of a group.
func (s *Service) FetchLookupPermissions(ctx context.Context, group string) ([]LookupPermission, error) {
	if group == "" {
		return nil, errs.Plain("please supply a groupName")
	}
	recs, err := s.st.Find(ctx, pathLookupPerms+group+"/*", nil)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: fetch lookup permissions: %w", err), "security")
	}
	var out []LookupPermission
	for _, r := range recs {
		if strings.Contains(strings.TrimPrefix(r.Path, pathLookupPerms+group+"/"), "/") {
			continue
		}
		var d struct {
			Permissions []LookupPermission `json:"permissions"`
		}
		if json.Unmarshal(r.Data, &d) == nil {
			out = append(out, d.Permissions...)
		}
	}
	return out, nil
}

func (s *Service) groupTablePerms(ctx context.Context, group, table string) ([]LookupPermission, error) {
	rec, err := s.st.Get(ctx, pathLookupPerms+group+"/"+table)
	if err != nil {
		return nil, errs.System(fmt.Errorf("security: get lookup permissions: %w", err), "security")
	}
	if rec == nil {
		return nil, nil
	}
	var d struct {
		Permissions []LookupPermission `json:"permissions"`
	}
	_ = json.Unmarshal(rec.Data, &d)
	return d.Permissions, nil
}

func (s *Service) writeGroupTablePerms(ctx context.Context, group, table string, perms []LookupPermission) error {
	if len(perms) == 0 {
		for _, p := range []string{pathLookupPerms + group + "/" + table, pathLookupPerms + table + "/" + group} {
			if _, err := s.st.Remove(ctx, p, nil); err != nil {
				return errs.System(fmt.Errorf("security: remove lookup permissions: %w", err), "security")
			}
		}
		return nil
	}
	raw, _ := json.Marshal(map[string]any{"permissions": perms})
	if _, err := s.st.Set(ctx, pathLookupPerms+group+"/"+table, raw, store.SetOptions{}); err != nil {
		return errs.System(fmt.Errorf("security: store lookup permissions: %w", err), "security")
	}
	if _, err := s.st.Set(ctx, pathLookupPerms+table+"/"+group, json.RawMessage("{}"), store.SetOptions{}); err != nil {
		return errs.System(fmt.Errorf("security: store lookup index: %w", err), "security")
	}
	return nil
}

func (s *Service) lookupPermChanged(ctx context.Context, group, table string) {
	members, _ := s.ListUserNamesByGroup(ctx, group)
	s.changed("lookup-permission-changed", map[string]string{"group": group, "table": table}, nonNil(members))
}
