// Command benchmember is the happner-go side of bench/run-cluster.sh: the
// stock happner command line (cli.Main) with the two modules the cluster
// benchmark needs, so that members start from config files exactly as a
// user's own binary does.
//
//	benchmember member --config worker.yaml   # a member with calc
//	benchmember member --config edge.yaml     # a member that brokers calc
//
// With BENCH_PPROF_ADDR=host:port in its environment it also serves
// net/http/pprof there, to profile a member under load.
//
// calc.add(a, b) answers a + b (version 1.0.0); edge has no methods and
// declares the $broker dependency on calc in its config, so that a client
// of the edge member calls calc on a worker member.
package main

import (
	"fmt"
	"net/http"
	_ "net/http/pprof" // served only with BENCH_PPROF_ADDR
	"os"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cli"
)

// Calc is the benchmarked component.
type Calc struct{}

// Add returns a + b.
func (Calc) Add(a, b float64) (float64, error) { return a + b, nil }

// HappnerSchema gives calc its version and parameter names.
func (Calc) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Version: "1.0.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"add": {Parameters: []happner.Param{{Name: "a"}, {Name: "b"}}},
	}}}
}

// Edge brokers calc; it has no methods of its own.
type Edge struct{}

func main() {
	if addr := os.Getenv("BENCH_PPROF_ADDR"); addr != "" {
		go func() { fmt.Fprintln(os.Stderr, "benchmember: pprof:", http.ListenAndServe(addr, nil)) }()
	}
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", Calc{})
	reg.RegisterValue("edge", Edge{})
	cli.Main(reg)
}
