package wire

import (
	"errors"
	"testing"
)

func TestCalls(t *testing.T) {
	var calls Calls[string]
	got := map[int64]string{}
	for id := range int64(3) {
		if err := calls.Add(id, func(v string) { got[id] += v }); err != nil {
			t.Fatal(err)
		}
	}
	if calls.Len() != 3 || calls.Err() != nil {
		t.Fatalf("len %d err %v", calls.Len(), calls.Err())
	}
	if !calls.Complete(0, "a") || calls.Complete(0, "again") {
		t.Fatal("a call completed other than once")
	}
	if calls.Complete(7, "x") {
		t.Fatal("completed an unknown id")
	}
	calls.Remove(1)
	if calls.Complete(1, "b") || calls.Len() != 1 {
		t.Fatalf("removed call completed; len %d", calls.Len())
	}
	boom := errors.New("boom")
	waiting, ok := calls.Close(boom)
	if !ok || len(waiting) != 1 || waiting[2] == nil {
		t.Fatalf("close handed back %v, %v", waiting, ok)
	}
	waiting[2]("c")
	if again, ok := calls.Close(errors.New("later")); ok || again != nil {
		t.Fatal("second close reported ok")
	}
	if err := calls.Add(9, func(string) {}); !errors.Is(err, boom) {
		t.Fatalf("add after close: %v", err)
	}
	if !errors.Is(calls.Err(), boom) || calls.Len() != 0 {
		t.Fatalf("err %v len %d", calls.Err(), calls.Len())
	}
	if got[0] != "a" || got[1] != "" || got[2] != "c" {
		t.Fatalf("callbacks got %v", got)
	}
}
