// Package cluster runs happner-go as a happner-cluster member: a mesh whose
// data lives in a store shared by every member (PostgreSQL, or one
// in-memory store for members in one process), that finds the other
// members through a registry kept in that store, and that uses their
// components as if they were its own.
//
// [Create] starts a member from a [Config] in the shape of a
// happner-cluster config (see [ParseConfig]):
//
//   - membership: the member pulses its record under
//     /_SYSTEM/DEPLOYMENT/<deploymentId>/<clusterName>/…, scans the
//     registry, drops stale records and waits for its dependencies
//     ({serviceName: count}) before it proceeds;
//   - peers: it logs into every other member as a client, and is stable
//     when every peer is connected both ways; only then does its client
//     port open;
//   - replication: component events (and the configured
//     replicationPaths) received from a peer are published locally once,
//     and security changes reach every member;
//   - remote components: components declare dependencies
//     ([happner.Dependency]: a version range, the methods used or
//     discovered, or events only; in the component config, the config
//     file or the module's schema, all read the same way) and call
//     components of other members through their $happn exchange: a
//     compatible local component first, else the highest matching
//     version, round-robin among members; events of other versions are
//     dropped;
//   - $broker: an edge member exposes components of internal members in
//     its own exchange, description, REST API and web routes.
//
// Member.Health and GET /cluster/health report a member's state. GET /ready
// answers 503 from the moment the internal port listens — naming each
// missing service with how many members it has and needs, the peers not yet
// connected both ways and the closed client port — and 200 once the member
// is stable and its client port open. A member's metrics (package metrics)
// add happner_cluster_members, happner_cluster_peers, the calls it sends to
// other members, the events it replicates and the security changes it
// syncs; one registry serves the member, its mesh and its happn server.
package cluster
