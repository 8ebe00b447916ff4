package pipeline

import (
	"context"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/happner-go/happner/bench/internal/stats"
	"github.com/happner-go/happner/bench/internal/testserver"
	"github.com/happner-go/happner/bench/internal/wire"
	"github.com/happner-go/happner/happn"
)

func dial(t *testing.T, manualFlush bool) *wire.Client {
	t.Helper()
	addr := testserver.Start(t, happn.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := wire.Dial(ctx, addr, wire.Options{ManualFlush: manualFlush})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sets sends `set /pipeline/<i mod 10>`; requests whose i is in fail are
// finished with an error without being sent.
func sets(c *wire.Client, fail func(i int64) bool) Sender {
	return func(i int64, begin func() Finish) error {
		done := begin()
		if fail != nil && fail(i) {
			done(errors.New("deliberate " + strconv.FormatInt(i, 10)))
			return nil
		}
		_, err := c.Send("set", "/pipeline/"+strconv.FormatInt(i%10, 10), []byte(`{"v":1}`), nil,
			func(r wire.Reply) { done(r.Err) })
		return err
	}
}

func TestRunOps(t *testing.T) {
	for _, manual := range []bool{false, true} {
		c := dial(t, manual)
		var rec stats.Recorder
		ph, err := Pipe{Conn: c, Depth: 10, Answers: "replies"}.Run(context.Background(), Limit{Ops: 200}, sets(c, nil), &rec)
		if err != nil {
			t.Fatal(err)
		}
		if ph.Done != 200 || ph.Errors != 0 || ph.FirstError() != "" || rec.Len() != 200 || ph.Elapsed <= 0 {
			t.Fatalf("manual flush %v: %+v with %d samples", manual, ph, rec.Len())
		}
		if ps := ph.PerSecond(); ps == nil || *ps <= 0 {
			t.Fatalf("per second %v", ps)
		}
		if c.Pending() != 0 {
			t.Fatalf("%d replies still pending after the phase", c.Pending())
		}
	}
}

func TestRunCountsErrors(t *testing.T) {
	c := dial(t, true)
	var rec stats.Recorder
	ph, err := Pipe{Conn: c, Depth: 4}.Run(context.Background(), Limit{Ops: 40},
		sets(c, func(i int64) bool { return i%4 == 1 }), &rec)
	if err != nil {
		t.Fatal(err)
	}
	if ph.Done != 40 || ph.Errors != 10 || ph.FirstError() != "deliberate 1" || rec.Len() != 30 {
		t.Fatalf("%+v with %d samples", ph, rec.Len())
	}
}

func TestRunForDuration(t *testing.T) {
	c := dial(t, true)
	start := time.Now()
	ph, err := Pipe{Conn: c, Depth: 5}.Run(context.Background(), Limit{For: 100 * time.Millisecond}, sets(c, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ph.Done == 0 || ph.Errors != 0 || ph.Elapsed < 100*time.Millisecond || time.Since(start) > 10*time.Second {
		t.Fatalf("%+v", ph)
	}
}

func TestRunStopsOnSendError(t *testing.T) {
	c := dial(t, true)
	want := errors.New("cannot send")
	send := func(i int64, begin func() Finish) error {
		if i == 3 {
			return want
		}
		return sets(c, nil)(i, begin)
	}
	if _, err := (Pipe{Conn: c, Depth: 2}).Run(context.Background(), Limit{Ops: 10}, send, nil); !errors.Is(err, want) {
		t.Fatalf("err %v, want %v", err, want)
	}
}

func TestRunOnClosedConnection(t *testing.T) {
	c := dial(t, true)
	_ = c.Close()
	_, err := Pipe{Conn: c, Depth: 1}.Run(context.Background(), Limit{Ops: 10}, sets(c, nil), nil)
	if !errors.Is(err, wire.ErrClosed) {
		t.Fatalf("err %v, want wire.ErrClosed", err)
	}
}

func TestMeasure(t *testing.T) {
	c := dial(t, true)
	p := Pipe{Conn: c, Depth: 8}
	m, err := p.Measure(context.Background(), 20*time.Millisecond, Limit{Ops: 300}, []int{os.Getpid()}, sets(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	if m.Done != 300 || m.Latency.Count != 300 || !m.HasServerCPU || m.ClientCPU < 0 {
		t.Fatalf("%+v", m)
	}
	if m.ServerCPUSeconds() == nil || m.ServerCPUMicrosPerOp() == nil {
		t.Fatalf("server CPU missing: %+v", m)
	}
	m, err = p.Measure(context.Background(), 0, Limit{Ops: 10}, nil, sets(c, nil))
	if err != nil {
		t.Fatal(err)
	}
	if m.HasServerCPU || m.ServerCPUSeconds() != nil || m.ServerCPUMicrosPerOp() != nil {
		t.Fatalf("server CPU without a pid: %+v", m)
	}
}
