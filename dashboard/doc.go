// Package dashboard is the live cluster page every mesh serves at
// /dashboard, and the publisher that feeds it.
//
// The page (HTML, CSS and JavaScript embedded in the binary, no build step
// and no external asset) loads the node's own browser client from
// /browser_client, logs in when the node is secure, and subscribes to
// [NodesPath]. Every node runs a [Publisher] that, every interval, builds a
// [Snapshot] of itself — identity, status, uptime, components with their
// methods, call rates, errors and p95 latencies, events per second,
// connections, replication and security-sync traffic, membership and
// recent warnings — from its own metrics registry (package metrics) and
// publishes it, without storing it, at [NodePath](name). A cluster member
// also subscribes, over its peer connections, to each peer's own snapshot
// path and re-publishes what arrives on its own server, so that a page
// connected to any member sees every member.
//
// The page itself is public (like /api/client); the data is not: on a
// secure node only users allowed to subscribe to NodesPath receive it
// (_ADMIN, or a group with the "on" permission on "/_SYSTEM/DASHBOARD/*").
//
// The package knows nothing of meshes or clusters: the mesh describes the
// node with a function returning [Node], a cluster member adds its
// membership with [Publisher.SetCluster] and forwards its peers' snapshots
// with [Publisher.Relay].
package dashboard
