package happner_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/happner-go/happner"
	"github.com/happner-go/happner/happn"
)

// benchCalc is the component of the exchange benchmark.
type benchCalc struct{}

func (benchCalc) Add(a, b int) (int, error) { return a + b, nil }

// BenchmarkExchangeCall measures the mesh's side of a call from a client
// connected in-process: the request frame is decoded, the method runs on a
// worker and its reply is published to the caller, 64 calls in flight.
// Allocations per call are the figure to watch (-benchmem).
func BenchmarkExchangeCall(b *testing.B) {
	reg := happner.NewRegistry()
	reg.RegisterValue("calc", benchCalc{})
	ctx := context.Background()
	m, err := happner.Create(ctx, happner.Config{Name: "bench", Registry: reg, Components: map[string]happner.ComponentConfig{"calc": {}},
		Logger: quietLogger(), Happn: happn.Config{Host: "127.0.0.1", Logger: quietLogger()}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Stop(ctx) })
	c, err := m.Server().ConnectLocal()
	if err != nil {
		b.Fatal(err)
	}
	recv := func() []byte {
		f, err := c.Recv(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	send := func(frame string) {
		if err := c.Send([]byte(frame)); err != nil {
			b.Fatal(err)
		}
	}
	send(`{"action":"configure-session","eventId":1,"data":{"protocol":"happn_4"}}`)
	recv()
	send(`{"action":"login","eventId":2,"data":{}}`)
	recv()
	sid := c.SessionID()
	send(`{"action":"on","eventId":3,"path":"/SET@/_exchange/responses/` + sid + `/*","data":null,"options":{"event_type":"set","count":0}}`)
	recv()
	frames := make([][]byte, 64)
	for i := range frames {
		frames[i] = []byte(`{"action":"set","eventId":` + strconv.Itoa(10+i) + `,"path":"/_exchange/requests/bench/calc/add","data":{"callbackAddress":"/_exchange/responses/` +
			sid + `/bench/calc/add/` + strconv.Itoa(i) + `","args":[1,2],"origin":{"id":"` + sid + `"},"version":"*"},"sessionId":"` + sid +
			`","options":{"timeout":10000,"noStore":true,"noCluster":true,"noDataResponse":true}}`)
	}
	reply := []byte(`"status":"ok"`)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(len(frames), b.N-done)
		for i := range n {
			if err := c.Send(frames[i]); err != nil {
				b.Fatal(err)
			}
		}
		for got := 0; got < n; {
			f := recv()
			if bytes.Contains(f, []byte(`"type":"data"`)) {
				if !bytes.Contains(f, reply) {
					b.Fatalf("reply %s", f)
				}
				got++
			}
		}
		done += n
	}
}
