package cluster

import (
	"sync"

	"github.com/happner-go/happner/internal/version"
)

// coercedSatisfies is happner-semver's coercedSatisfies.
func coercedSatisfies(ver, rng string) bool { return version.Satisfies(ver, rng) }

// compareVersions orders two component versions.
func compareVersions(a, b string) int { return version.Compare(a, b) }

// satisfiesCache memoises coercedSatisfies for the version/range pairs a
// member sees again and again (every call checks every implementor).
type satisfiesCache struct {
	mu sync.Mutex
	m  map[[2]string]bool
}

// satisfies is coercedSatisfies(ver, rng), cached.
func (c *satisfiesCache) satisfies(ver, rng string) bool {
	k := [2]string{ver, rng}
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = version.Satisfies(ver, rng)
	c.mu.Lock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[[2]string]bool{}
	}
	c.m[k] = v
	c.mu.Unlock()
	return v
}
