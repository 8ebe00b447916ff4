// Package version holds the component version rules that happner and
// happner-cluster share: happner-semver's coercedSatisfies (prerelease tags
// stripped before a range is checked) and the ordering of versions; and
// the version of this project in a running binary.
package version

import (
	"regexp"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// coerceRe finds the first "x", "x.y" or "x.y.z" in a version string, as
// npm's semver.coerce does.
var coerceRe = regexp.MustCompile(`(\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// Coerce returns version as a plain major.minor.patch semver (prerelease
// and build metadata dropped), or nil when it holds no number.
func Coerce(version string) *semver.Version {
	m := coerceRe.FindStringSubmatch(version)
	if m == nil {
		return nil
	}
	parts := []string{m[1], "0", "0"}
	if m[2] != "" {
		parts[1] = m[2]
	}
	if m[3] != "" {
		parts[2] = m[3]
	}
	v, err := semver.NewVersion(strings.Join(parts, "."))
	if err != nil {
		return nil
	}
	return v
}

// Satisfies is happner-semver's coercedSatisfies:
// true when version equals rng, else when version, coerced (prerelease
// tags stripped), satisfies the range. An empty range is "*".
func Satisfies(version, rng string) bool {
	if version == rng {
		return true
	}
	if rng == "" || rng == "*" || rng == "x" {
		return Coerce(version) != nil || version == ""
	}
	v := Coerce(version)
	if v == nil {
		return false
	}
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return false
	}
	return c.Check(v)
}

// Compare orders two component versions: by their full semver
// when both parse (so a release outranks its prereleases), else coerced.
func Compare(a, b string) int {
	va, ea := semver.NewVersion(a)
	vb, eb := semver.NewVersion(b)
	if ea == nil && eb == nil {
		return va.Compare(vb)
	}
	ca, cb := Coerce(a), Coerce(b)
	switch {
	case ca == nil && cb == nil:
		return strings.Compare(a, b)
	case ca == nil:
		return -1
	case cb == nil:
		return 1
	}
	return ca.Compare(cb)
}
