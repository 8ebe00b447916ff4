package dashboard

import (
	"context"
	"testing"
	"time"

	"github.com/happner-go/happner/metrics"
)

// BenchmarkPublish is what a node spends on its snapshot every interval:
// the gather of its registry (the Go and process collectors included),
// the build and the JSON encoding, for a node with 10 components of 10
// methods.
func BenchmarkPublish(b *testing.B) {
	m := metrics.New(metrics.Info{Version: "bench"})
	node := Node{Name: "n"}
	for c := range 10 {
		ci := ComponentInfo{Name: string(rune('a' + c)), Version: "1.0.0"}
		for k := range 10 {
			meth := string(rune('a' + k))
			ci.Methods = append(ci.Methods, meth)
			m.Call(ci.Name, meth).Done(time.Millisecond, metrics.StatusOK)
		}
		node.Components = append(node.Components, ci)
	}
	p := NewPublisher(Config{Metrics: m, Node: func() Node { return node },
		Publish: func(context.Context, string, []byte, bool) error { return nil }})
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Publish(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}
