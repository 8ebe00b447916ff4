package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/happner-go/happner/query"
	"github.com/happner-go/happner/store"
	"github.com/happner-go/happner/store/memory"
)

// opLog records what an instrumented store reports for one operation.
type opLog struct {
	starts, dones, errs int
	started             map[int64]bool
}

func (o *opLog) Start() int64 {
	o.starts++
	if o.started == nil {
		o.started = map[int64]bool{}
	}
	o.started[int64(o.starts)] = true
	return int64(o.starts)
}

func (o *opLog) Done(start int64, err error) {
	if !o.started[start] {
		panic("Done with a start Start did not return")
	}
	o.dones++
	if err != nil {
		o.errs++
	}
}

// failing is a memory store whose writes fail.
type failing struct{ *memory.Store }

var errFull = errors.New("disk full")

func (failing) Set(context.Context, string, json.RawMessage, store.SetOptions) (*store.Record, error) {
	return nil, errFull
}

func TestInstrumentReportsEveryOperation(t *testing.T) {
	ctx := context.Background()
	logs := map[string]*opLog{}
	inst := func(st store.Store) store.Store {
		return store.Instrument(st, func(op string) store.OpObserver {
			if logs[op] == nil {
				logs[op] = &opLog{}
			}
			return logs[op]
		})
	}
	st := inst(memory.New())
	data := json.RawMessage(`{"v":1}`)
	if _, err := st.Set(ctx, "/a/1", data, store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Set(ctx, "/a/2", data, store.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	if rec, err := st.Get(ctx, "/a/1"); err != nil || rec == nil {
		t.Fatalf("get through the instrumented store: %v %v", rec, err)
	}
	if recs, err := st.Find(ctx, "/a/*", nil); err != nil || len(recs) != 2 {
		t.Fatalf("find: %d %v", len(recs), err)
	}
	q, err := query.Parse(json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.Count(ctx, "/a/*", q); err != nil || n != 2 {
		t.Fatalf("count: %d %v", n, err)
	}
	if v, err := st.Increment(ctx, "/g", "hits", 2); err != nil || v != 2 {
		t.Fatalf("increment: %v %v", v, err)
	}
	if n, err := st.Remove(ctx, "/a/*", nil); err != nil || n != 2 {
		t.Fatalf("remove: %d %v", n, err)
	}
	want := map[string]int{store.OpSet: 2, store.OpGet: 1, store.OpFind: 1, store.OpCount: 1, store.OpIncrement: 1, store.OpRemove: 1}
	for op, n := range want {
		if l := logs[op]; l == nil || l.starts != n || l.dones != n || l.errs != 0 {
			t.Errorf("%s reported %+v, want %d operations without errors", op, l, n)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	logs = map[string]*opLog{}
	bad := inst(failing{memory.New()})
	if _, err := bad.Set(ctx, "/x", data, store.SetOptions{}); !errors.Is(err, errFull) {
		t.Fatalf("the store's error is not passed on: %v", err)
	}
	if l := logs[store.OpSet]; l.errs != 1 {
		t.Errorf("failed set reported %+v, want one error", l)
	}
}

// aggregating is a store that runs aggregate pipelines (as the MongoDB
// store does).
type aggregating struct{ *memory.Store }

func (aggregating) Aggregate(context.Context, string, *query.Query) (json.RawMessage, error) {
	return json.RawMessage(`[{"_id":"x","total":1}]`), nil
}

// TestInstrumentKeepsAggregate: wrapping a store that aggregates does not
// hide the pipeline support (a MongoDB datastore behind the metrics).
func TestInstrumentKeepsAggregate(t *testing.T) {
	logs := map[string]*opLog{}
	st := store.Instrument(aggregating{memory.New()}, func(op string) store.OpObserver {
		logs[op] = &opLog{}
		return logs[op]
	})
	out, err := store.Aggregate(context.Background(), st, "/a/*", &query.Query{})
	if err != nil || string(out) != `[{"_id":"x","total":1}]` {
		t.Fatalf("aggregate through the instrumented store: %s %v", out, err)
	}
	if logs[store.OpFind].dones != 1 {
		t.Fatalf("the aggregate was not reported")
	}
	if _, err := store.Aggregate(context.Background(), store.Instrument(memory.New(), func(string) store.OpObserver { return &opLog{} }), "/a/*", &query.Query{}); !errors.Is(err, query.ErrAggregate) {
		t.Fatalf("a store that cannot aggregate: %v", err)
	}
}
