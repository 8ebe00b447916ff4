// Command ownbinary is your own happner binary: the whole happner command
// line (serve, member, get, set, on, call, describe, members, version) with
// two components of its own registered, "calc" and "stats".
//
//	go build -o calcd ./examples/ownbinary
//	HAPPNER_ADMIN_PASSWORD=secret ./calcd member --config examples/ownbinary/member.yaml
//	HAPPNER_PASSWORD=secret ./calcd call stats mean '[1, 2, 3, 6]'
//
// member.yaml is a config in happner-cluster's shape: modules.calc and
// modules.stats name the values registered below, and components.stats
// declares its dependency on calc.
package main

import (
	"errors"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/cli"
)

// Calc does arithmetic.
type Calc struct{}

// Add returns a + b.
func (Calc) Add(a, b float64) (float64, error) { return a + b, nil }

// Sum returns the sum of values.
func (Calc) Sum(values []float64) (float64, error) {
	var s float64
	for _, v := range values {
		s += v
	}
	return s, nil
}

// Divide returns a / b; dividing by zero is an error clients see by name.
func (Calc) Divide(a, b float64) (float64, error) {
	if b == 0 {
		return 0, happner.NewError("DivideByZero", "cannot divide by zero")
	}
	return a / b, nil
}

// HappnerSchema gives the module its version and parameter names.
func (Calc) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Version: "1.0.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"add":    {Parameters: []happner.Param{{Name: "a"}, {Name: "b"}}},
		"sum":    {Parameters: []happner.Param{{Name: "values"}}},
		"divide": {Parameters: []happner.Param{{Name: "a"}, {Name: "b"}}},
	}}}
}

// Stats uses calc through its $happn exchange: the calc of this member, or
// of another member of the cluster.
type Stats struct{}

// Mean returns the mean of values and emits "stats/mean".
func (Stats) Mean(h *happner.Happn, values []float64) (float64, error) {
	if len(values) == 0 {
		return 0, errors.New("mean of nothing")
	}
	sum, err := happner.Call[float64](h.Ctx, h.Exchange, "calc", "sum", values)
	if err != nil {
		return 0, err
	}
	mean := sum / float64(len(values))
	return mean, h.Emit("stats/mean", map[string]any{"values": values, "mean": mean})
}

// HappnerSchema gives the module its version and parameter names.
func (Stats) HappnerSchema() happner.ModuleSchema {
	return happner.ModuleSchema{Version: "1.0.0", Schema: happner.Schema{Methods: map[string]happner.MethodSchema{
		"mean": {Parameters: []happner.Param{{Name: "values"}}},
	}}}
}

func main() {
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", Calc{})
	reg.RegisterValue("stats", Stats{})
	cli.Main(reg)
}
