package cluster

import (
	"regexp"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
)

// coerceRe finds the first "x", "x.y" or "x.y.z" in a version string, as
// npm's semver.coerce does.
var coerceRe = regexp.MustCompile(`(\d+)(?:\.(\d+))?(?:\.(\d+))?`)

// coerce returns version as a plain major.minor.patch semver (prerelease
// and build metadata dropped), or nil when it holds no number.
func coerce(version string) *semver.Version {
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

// coercedSatisfies is happner-semver's coercedSatisfies (cluster.md §6.2):
// true when version equals rng, else when version, coerced (prerelease
// tags stripped), satisfies the range. An empty range is "*".
func coercedSatisfies(version, rng string) bool {
	if version == rng {
		return true
	}
	if rng == "" || rng == "*" || rng == "x" {
		return coerce(version) != nil || version == ""
	}
	v := coerce(version)
	if v == nil {
		return false
	}
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return false
	}
	return c.Check(v)
}

// compareVersions orders two component versions: by their full semver
// when both parse (so a release outranks its prereleases), else coerced.
func compareVersions(a, b string) int {
	va, ea := semver.NewVersion(a)
	vb, eb := semver.NewVersion(b)
	if ea == nil && eb == nil {
		return va.Compare(vb)
	}
	ca, cb := coerce(a), coerce(b)
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

// satisfiesCache memoises coercedSatisfies for the version/range pairs a
// member sees again and again (every call checks every implementor).
type satisfiesCache struct {
	mu sync.Mutex
	m  map[[2]string]bool
}

// satisfies is coercedSatisfies(version, rng), cached.
func (c *satisfiesCache) satisfies(version, rng string) bool {
	k := [2]string{version, rng}
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = coercedSatisfies(version, rng)
	c.mu.Lock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[[2]string]bool{}
	}
	c.m[k] = v
	c.mu.Unlock()
	return v
}
