package security

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/happner-go/happner/errs"
	"github.com/happner-go/happner/pathmatch"
	"github.com/happner-go/happner/query"
)

// Action bits of a permission.
const (
	actGet uint16 = 1 << iota
	actSet
	actOn
	actRemove
	actDelete
	actPut
	actPost
	actHead
	actOptions
	actStar
)

func actionBit(a string) uint16 {
	switch a {
	case "get":
		return actGet
	case "set":
		return actSet
	case "on":
		return actOn
	case "remove":
		return actRemove
	case "delete":
		return actDelete
	case "put":
		return actPut
	case "post":
		return actPost
	case "head":
		return actHead
	case "options":
		return actOptions
	case "*":
		return actStar
	}
	return 0
}

// permEntry is one compiled permission pattern with its allowed and
// prohibited actions.
type permEntry struct {
	pattern string
	upper   []string // the pattern's segments above its last (tree walk)
	wild    bool
	allow   uint16
	deny    uint16
}

func newPermEntry(pattern string) permEntry {
	e := permEntry{pattern: pattern, wild: pathmatch.HasWildcard(pattern)}
	if e.wild {
		segs := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
		e.upper = segs[:len(segs)-1]
	}
	return e
}

// PermissionMatches reports whether permission pattern grants request
// path, by happn's permission-tree rule with this project's fixes (true
// glob, case-sensitive): every segment of the pattern above its last must
// glob-match the corresponding segment of the path, and the whole pattern
// must glob-match the whole path ('*' crossing '/'). So "/a/*" grants
// "/a/b/c" but not "/a", "/a/*/bb" does not grant "/a/x/bc", and a pattern
// without '*' is an exact, case-sensitive match.
func PermissionMatches(pattern, path string) bool {
	e := newPermEntry(pattern)
	return e.matches(path)
}

func (e *permEntry) matches(path string) bool {
	if !e.wild {
		return e.pattern == path
	}
	rest := strings.TrimPrefix(path, "/")
	for _, seg := range e.upper {
		var rseg string
		var found bool
		rseg, rest, found = strings.Cut(rest, "/")
		if !found {
			return false
		}
		if !pathmatch.Glob(seg, rseg) {
			return false
		}
	}
	return pathmatch.Glob(e.pattern, path)
}

// permSet is the compiled permissions of one user (or one session when
// templates refer to session fields).
type permSet struct {
	entries       []permEntry
	lookups       []compiledLookup
	groups        []string
	sessionScoped bool
}

// decide returns whether the set allows action bit on path (prohibit wins).
func (ps *permSet) decide(path string, bit uint16) bool {
	var allow, deny uint16
	need := bit | actStar
	for i := range ps.entries {
		e := &ps.entries[i]
		if (e.allow|e.deny)&need == 0 {
			continue
		}
		if e.matches(path) {
			allow |= e.allow
			deny |= e.deny
		}
	}
	if deny&need != 0 {
		return false
	}
	return allow&need != 0
}

// denies reports whether a prohibition of action bit may apply to some
// path that the wildcard pattern covers.
func (ps *permSet) denies(pattern string, bit uint16) bool {
	for i := range ps.entries {
		e := &ps.entries[i]
		if e.deny&bit != 0 && pathmatch.Overlap(pattern, e.pattern) {
			return true
		}
	}
	return false
}

type compiledLookup struct {
	re    *regexp.Regexp
	bits  uint16
	path  string
	table []string
}

func compileLookupRegex(expr string) (*regexp.Regexp, error) { return regexp.Compile(expr) }

// lookupAllows evaluates the lookup permissions.
func (ps *permSet) lookupAllows(path string, bit uint16, tctx map[string]any) bool {
	for _, l := range ps.lookups {
		if l.bits&(bit|actStar) == 0 {
			continue
		}
		m := l.re.FindStringSubmatch(path)
		if m == nil {
			continue
		}
		cands, err := expandTemplate(l.path, func(key string) (any, bool) {
			if n, ok := strings.CutPrefix(key, "$"); ok {
				i, err := strconv.Atoi(n)
				if err != nil || i < 0 || i >= len(m) {
					return nil, false
				}
				return m[i], true
			}
			return query.Lookup(tctx, key)
		}, true)
		if err != nil {
			continue
		}
		for _, c := range cands {
			c = strings.TrimPrefix(c, "/")
			for _, tp := range l.table {
				if pathmatch.Glob(tp, c) {
					return true
				}
			}
		}
	}
	return false
}

var templateRe = regexp.MustCompile(`\{\{\s*([^{}]+?)\s*\}\}`)

// expandTemplate substitutes {{key}} placeholders with resolved values; an
// array value expands to one result per element (cartesian over
// placeholders), a missing value yields no result, and a value containing
// '*' is refused unless allowWild.
func expandTemplate(pattern string, resolve func(string) (any, bool), allowWild bool) ([]string, error) {
	locs := templateRe.FindAllStringSubmatchIndex(pattern, -1)
	if len(locs) == 0 {
		return []string{pattern}, nil
	}
	results := []string{""}
	last := 0
	for _, loc := range locs {
		lit := pattern[last:loc[0]]
		key := pattern[loc[2]:loc[3]]
		last = loc[1]
		v, ok := resolve(key)
		if !ok || v == nil {
			return nil, nil
		}
		var vals []string
		if arr, isArr := v.([]any); isArr {
			for _, item := range arr {
				if sv, ok := scalarString(item); ok {
					vals = append(vals, sv)
				}
			}
		} else if sv, ok := scalarString(v); ok {
			vals = []string{sv}
		}
		if len(vals) == 0 {
			return nil, nil
		}
		for _, sv := range vals {
			if !allowWild && strings.Contains(sv, "*") {
				return nil, fmt.Errorf("illegal promotion of permissions via permissions template, permissionPath: %s, substitution key: %s, value: %s", pattern, key, sv)
			}
		}
		next := make([]string, 0, len(results)*len(vals))
		for _, r := range results {
			for _, sv := range vals {
				next = append(next, r+lit+sv)
			}
		}
		results = next
	}
	for i := range results {
		results[i] += pattern[last:]
	}
	return results, nil
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// templateContext is what permission templates are resolved against: the
// session fields and the user ({{user.username}}, {{user.custom_data.x}}).
func templateContext(sess *Session, ue *userEntry) map[string]any {
	user := map[string]any{}
	if ue != nil {
		for k, v := range ue.data {
			if k == "password" {
				continue
			}
			var x any
			if json.Unmarshal(v, &x) == nil {
				user[k] = x
			}
		}
		groups := map[string]any{}
		for g, d := range ue.groups {
			var x any
			_ = json.Unmarshal(d, &x)
			groups[g] = x
		}
		user["groups"] = groups
	}
	ctx := map[string]any{"user": user}
	if sess != nil {
		ctx["id"] = sess.ID
		ctx["type"] = float64(sess.Type)
		ctx["origin"] = sess.Origin
		ctx["parentId"] = sess.ParentID
		ctx["timestamp"] = float64(sess.Timestamp)
		ctx["username"] = sess.Username
		if len(sess.Info) > 0 {
			var info any
			if json.Unmarshal(sess.Info, &info) == nil {
				ctx["info"] = info
			}
		}
	}
	return ctx
}

type ruleAcc struct{ allow, deny uint16 }

func addRules(acc map[string]*ruleAcc, rules map[string]PermissionRule) {
	for p, r := range rules {
		a := acc[p]
		if a == nil {
			a = &ruleAcc{}
			acc[p] = a
		}
		for _, x := range r.Actions {
			a.allow |= actionBit(x)
		}
		for _, x := range r.Prohibit {
			a.deny |= actionBit(x)
		}
	}
}

// compileRules builds the entries of a permission set, expanding templates.
// It reports whether a template referred to something other than the user.
func compileRules(acc map[string]*ruleAcc, tctx map[string]any) ([]permEntry, bool) {
	scoped := false
	paths := make([]string, 0, len(acc))
	for p := range acc {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	merged := map[string]*ruleAcc{}
	var order []string
	for _, p := range paths {
		a := acc[p]
		expanded := []string{p}
		if strings.Contains(p, "{{") {
			for _, m := range templateRe.FindAllStringSubmatch(p, -1) {
				if !strings.HasPrefix(m[1], "user.") {
					scoped = true
				}
			}
			var err error
			expanded, err = expandTemplate(p, func(k string) (any, bool) { return query.Lookup(tctx, k) }, false)
			if err != nil {
				continue // illegal promotion: the permission is skipped
			}
		}
		for _, x := range expanded {
			m := merged[x]
			if m == nil {
				m = &ruleAcc{}
				merged[x] = m
				order = append(order, x)
			}
			m.allow |= a.allow
			m.deny |= a.deny
		}
	}
	entries := make([]permEntry, 0, len(order))
	for _, x := range order {
		e := newPermEntry(x)
		e.allow, e.deny = merged[x].allow, merged[x].deny
		entries = append(entries, e)
	}
	return entries, scoped
}

// permSetFor returns the compiled permissions of the session's user.
func (s *Service) permSetFor(ctx context.Context, sess *Session) (*permSet, *userEntry, error) {
	g0 := s.gen.Load() // before any read, so a concurrent change is never cached over
	ue, err := s.loadUser(ctx, sess.Username)
	if err != nil {
		return nil, nil, err
	}
	if ue == nil {
		return nil, nil, errs.AccessDenied("user " + sess.Username + " has been deleted or does not exist")
	}
	key := sess.Username
	s.mu.Lock()
	ps := s.permSets[key]
	if ps != nil && ps.sessionScoped {
		ps = s.permSets[key+"\x00"+sess.ID]
	}
	s.mu.Unlock()
	if ps != nil {
		return ps, ue, nil
	}
	ps, err = s.buildPermSet(ctx, sess, ue)
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	if s.gen.Load() == g0 {
		if ps.sessionScoped {
			s.permSets[key] = &permSet{sessionScoped: true}
			s.permSets[key+"\x00"+sess.ID] = ps
		} else {
			s.permSets[key] = ps
		}
	}
	s.mu.Unlock()
	return ps, ue, nil
}

func (s *Service) buildPermSet(ctx context.Context, sess *Session, ue *userEntry) (*permSet, error) {
	acc := map[string]*ruleAcc{}
	ps := &permSet{groups: ue.groupNames}
	tctx := templateContext(sess, ue)
	for _, g := range ue.groupNames {
		ge, err := s.loadGroup(ctx, g)
		if err != nil {
			return nil, err
		}
		if ge == nil {
			continue
		}
		addRules(acc, ge.group.Permissions)
		for _, lp := range ge.lookups {
			re, err := compileLookupRegex(lp.Regex)
			if err != nil {
				continue
			}
			paths, err := s.tablePaths(ctx, lp.Table)
			if err != nil {
				return nil, err
			}
			cl := compiledLookup{re: re, path: lp.Path, table: paths}
			for _, a := range lp.Actions {
				cl.bits |= actionBit(a)
			}
			ps.lookups = append(ps.lookups, cl)
		}
	}
	perms, err := s.listPerms(ctx, pathUserPerms, sess.Username)
	if err != nil {
		return nil, err
	}
	addRules(acc, rulesOf(perms))
	ps.entries, ps.sessionScoped = compileRules(acc, tctx)
	if len(ps.lookups) > 0 {
		// lookup templates may name session fields too
		ps.sessionScoped = true
	}
	return ps, nil
}

// NestedPermissions answers a request on a path ending in "/**" (or "*")
// with the permission paths under it that allow action (allowed) and those
// that prohibit it (prohibited), for happn's allowNestedPermissions.
// A permission that covers the whole request yields
// the request path with its trailing "**" turned into "*". A "**" anywhere
// but at the end is an error.
func (s *Service) NestedPermissions(ctx context.Context, sess *Session, path, action string) (allowed, prohibited []string, err error) {
	if sess == nil {
		return nil, nil, errs.AccessDenied("no policy attached to session")
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, seg := range segs {
		if seg == "**" && i < len(segs)-1 {
			return nil, nil, errs.Plain("Recursive wildcards are invalid unless at end of permission path")
		}
	}
	ps, _, err := s.permSetFor(ctx, sess)
	if err != nil {
		return nil, nil, err
	}
	prefix := strings.TrimRight(path, "*")
	covering := prefix + "*"
	bit := actionBit(action) | actStar
	coverAllowed, coverProhibited := false, false
	for i := range ps.entries {
		e := &ps.entries[i]
		covers := strings.HasSuffix(e.pattern, "*") && e.matches(prefix)
		under := !covers && pathmatch.Glob(covering, e.pattern)
		if e.deny&bit != 0 {
			if covers {
				coverProhibited = true
			} else if under {
				prohibited = append(prohibited, e.pattern)
			}
			continue
		}
		if e.allow&bit != 0 {
			if covers {
				coverAllowed = true
			} else if under {
				allowed = append(allowed, e.pattern)
			}
		}
	}
	if coverProhibited {
		return []string{}, []string{}, nil
	}
	if coverAllowed {
		allowed = []string{covering}
	}
	sort.Strings(allowed)
	sort.Strings(prohibited)
	if allowed == nil {
		allowed = []string{}
	}
	if prohibited == nil {
		prohibited = []string{}
	}
	return allowed, prohibited, nil
}
