package dashboard_test

import (
	"fmt"
	"time"

	"github.com/happner-go/happner/dashboard"
	"github.com/happner-go/happner/metrics"
)

// A snapshot built from a node's metrics: two builds a second apart give
// the call rate, and the p95 latency comes from the duration histogram's
// buckets.
func ExampleBuilder() {
	m := metrics.New(metrics.Info{})
	add := m.Call("calc", "add") // the mesh binds each method when it registers it
	node := dashboard.Node{Name: "calc-1", Domain: "shop", Components: []dashboard.ComponentInfo{
		{Name: "calc", Version: "1.2.0", Methods: []string{"add"}},
	}}
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	b := dashboard.NewBuilder(start, 0)

	fams, _ := m.Registry().Gather()
	b.Build(start, dashboard.Input{Node: node, Families: fams})
	for i := range 40 {
		s := metrics.StatusOK
		if i%10 == 0 {
			s = metrics.StatusError
		}
		add.Done(3*time.Millisecond, s) // in the bucket (2.5 ms, 5 ms]
	}
	fams, _ = m.Registry().Gather()
	snap := b.Build(start.Add(time.Second), dashboard.Input{Node: node, Families: fams})

	meth := snap.Components[0].Methods[0]
	fmt.Printf("%s %s: %s.%s\n", snap.Name, snap.Status, snap.Components[0].Name, meth.Name)
	fmt.Printf("%.0f calls, %.0f/s, %.0f errors, p95 %.3f ms\n", meth.Calls, meth.CallsPerSecond, meth.Errors, *meth.P95Ms)
	fmt.Println("published at", dashboard.NodePath(snap.Name))
	// Output:
	// calc-1 STARTED: calc.add
	// 40 calls, 40/s, 4 errors, p95 4.875 ms
	// published at /_SYSTEM/DASHBOARD/nodes/calc-1
}
