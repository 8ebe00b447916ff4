package dashboard

import (
	"context"
	"fmt"

	"github.com/happner-go/happner/happn/client"
)

// Watch subscribes c to the snapshots of every node the node it is
// connected to shows (itself and, on a cluster member, its peers) and
// calls fn with each, decoded; undecodable publications are skipped. It
// returns the subscription id (for c.Off). On a secure node c's user
// needs the "on" permission on Prefix + "/*" (or to be _ADMIN).
func Watch(ctx context.Context, c *client.Client, fn func(Snapshot)) (int, error) {
	id, err := c.On(ctx, NodesPath, client.OnOptions{EventType: "set"}, func(ev client.Event) {
		var s Snapshot
		if ev.Decode(&s) == nil {
			fn(s)
		}
	})
	if err != nil {
		return 0, fmt.Errorf("dashboard: watching the snapshots: %w", err)
	}
	return id, nil
}
