package cluster

import (
	"sync"

	"github.com/Masterminds/semver/v3"

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

// accepts is the event filter's decision: an event of version ver reaches
// a subscription for rng when rng is not a valid range (the subscription
// is kept) or ver satisfies it; cached.
func (c *satisfiesCache) accepts(ver, rng string) bool {
	return c.cached(ver, "\x00event\x00"+rng, func() bool {
		if _, err := semver.NewConstraint(rng); err != nil {
			return true
		}
		return version.Satisfies(ver, rng)
	})
}

// satisfies is coercedSatisfies(ver, rng), cached.
func (c *satisfiesCache) satisfies(ver, rng string) bool {
	return c.cached(ver, rng, func() bool { return version.Satisfies(ver, rng) })
}

// cached returns the memoised answer for (ver, key), computing it once.
func (c *satisfiesCache) cached(ver, key string, compute func() bool) bool {
	k := [2]string{ver, key}
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = compute()
	c.mu.Lock()
	if c.m == nil || len(c.m) > 4096 {
		c.m = map[[2]string]bool{}
	}
	c.m[k] = v
	c.mu.Unlock()
	return v
}
