// Package pathmatch implements the wildcard languages of happn paths.
//
// happn has three wildcard dialects, and each is used in a different place:
//
//   - Data queries (get, count, remove) and datastore routing use [Glob]:
//     '*' matches any run of characters, including '/'. Matching is anchored
//     and case-sensitive.
//   - Permissions use [Glob] too. happn-3 collapsed every run of repeated
//     characters in a permission pattern and matched case-insensitively; this
//     project matches permission patterns as true globs.
//   - Subscriptions use [Subscription]: a '*' segment matches exactly one
//     path segment, a trailing "/**" matches one to depth segments, and a
//     pattern that is exactly "*" matches every path.
package pathmatch

import "strings"

// DefaultDepth is the number of levels a trailing "/**" subscription covers
// when the subscriber does not say otherwise (happn's defaultVariableDepth).
const DefaultDepth = 5

// HasWildcard reports whether p contains the '*' wildcard.
func HasWildcard(p string) bool { return strings.IndexByte(p, '*') >= 0 }

// LiteralPrefix returns the part of a glob pattern before its first '*'.
// Every path that matches the pattern starts with this prefix, which lets an
// ordered store seek instead of scanning.
func LiteralPrefix(pattern string) string {
	if i := strings.IndexByte(pattern, '*'); i >= 0 {
		return pattern[:i]
	}
	return pattern
}

// Glob reports whether s matches pattern, where '*' matches any run of
// characters (including '/' and the empty string) and every other character
// matches itself. A pattern without '*' is an exact, case-sensitive match.
func Glob(pattern, s string) bool {
	// Iterative wildcard matching with single backtrack point: linear for
	// patterns with one star, O(len(pattern)*len(s)) worst case, no allocation.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// Subscription reports whether a publication on path reaches a subscription
// on pattern. Segments are compared one by one after a leading '/' is
// ignored on both sides: a segment that is exactly "*" matches any one
// segment, any other segment (including one such as "ab*") must be equal.
// A trailing "/**" matches from one up to depth further segments; depth <= 0
// means [DefaultDepth]. The pattern "*" matches every path.
func Subscription(pattern, path string, depth int) bool {
	if pattern == "*" {
		return true
	}
	pattern = strings.TrimPrefix(pattern, "/")
	path = strings.TrimPrefix(path, "/")
	variable := false
	if pattern == "**" {
		pattern, variable = "", true
	} else if strings.HasSuffix(pattern, "/**") {
		pattern, variable = pattern[:len(pattern)-3], true
	}
	if depth <= 0 {
		depth = DefaultDepth
	}
	patternDone := variable && pattern == ""
	pathDone := false
	var ps, ss string
	for !patternDone {
		if pathDone {
			return false
		}
		ps, pattern, patternDone = nextSegment(pattern)
		ss, path, pathDone = nextSegment(path)
		if ps != "*" && ps != ss {
			return false
		}
	}
	if !variable {
		return pathDone
	}
	if pathDone {
		return false
	}
	return strings.Count(path, "/")+1 <= depth
}

// nextSegment splits s at its first '/' into the first segment and the rest;
// last is true when s had no further '/'.
func nextSegment(s string) (seg, rest string, last bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], false
	}
	return s, "", true
}

// SplitChannel splits a subscription channel such as "/ALL@/a/*" into its
// event action ("ALL", "SET" or "REMOVE") and the subscribed path. Any '@'
// after the first belongs to the path. ok is false when the channel has no
// "/ACTION@" prefix.
func SplitChannel(channel string) (action, path string, ok bool) {
	at := strings.IndexByte(channel, '@')
	if at < 0 {
		return "", "", false
	}
	action = strings.TrimPrefix(channel[:at], "/")
	action = strings.ToUpper(action)
	switch action {
	case "ALL", "SET", "REMOVE", "*":
	default:
		return "", "", false
	}
	if action == "*" {
		action = "ALL"
	}
	return action, channel[at+1:], true
}

// Overlap reports whether some string matches both glob patterns a and b
// (see [Glob]). A request on a wildcard path uses it to find the
// permission patterns that may apply to part of what the request covers.
func Overlap(a, b string) bool {
	// Breadth-first search over pairs of positions in a and b: a '*' may
	// be skipped, or consume a character that the other pattern consumes
	// too (its own literal, or anything when both are at a '*').
	w := len(b) + 1
	seen := make([]bool, (len(a)+1)*w)
	queue := []int{0}
	seen[0] = true
	push := func(i, j int) {
		if k := i*w + j; !seen[k] {
			seen[k] = true
			queue = append(queue, k)
		}
	}
	for len(queue) > 0 {
		k := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		i, j := k/w, k%w
		if i == len(a) && j == len(b) {
			return true
		}
		starA := i < len(a) && a[i] == '*'
		starB := j < len(b) && b[j] == '*'
		if starA {
			push(i+1, j)
		}
		if starB {
			push(i, j+1)
		}
		switch {
		case i == len(a) || j == len(b):
		case starA && !starB:
			push(i, j+1) // a's star consumes b's literal
		case starB && !starA:
			push(i+1, j)
		case !starA && a[i] == b[j]:
			push(i+1, j+1)
		}
	}
	return false
}
