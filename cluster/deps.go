package cluster

import "github.com/happner-go/happner"

// BrokerKey is the dependencies entry that lists brokered components
// (happner-cluster's $broker); it is [happner.BrokerKey].
const BrokerKey = happner.BrokerKey

// Dependency is one component a component uses from the cluster; it is
// [happner.Dependency], the one form the mesh and the cluster share. A
// component's dependencies come from its config section and its module's
// schema ([happner.ParseDependencies], [happner.Mesh.Dependencies]).
type Dependency = happner.Dependency
