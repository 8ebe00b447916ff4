package client

import (
	"fmt"
	"net"
	"sync"
	"testing"
)

// recordingTransport records the frames written and the write calls made.
type recordingTransport struct {
	mu     sync.Mutex
	frames []string
	writes int
	gate   chan struct{} // when set, the first WriteFrame waits on it
}

func (t *recordingTransport) ReadFrame() ([]byte, error) { select {} }
func (t *recordingTransport) Alive()                     {}
func (t *recordingTransport) CloseGracefully()           {}
func (t *recordingTransport) Close() error               { return nil }
func (t *recordingTransport) WriteFrame(b []byte) error {
	t.mu.Lock()
	gate := t.gate
	t.gate = nil
	t.mu.Unlock()
	if gate != nil {
		<-gate
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.frames = append(t.frames, string(b))
	t.writes++
	return nil
}
func (t *recordingTransport) WriteFrames(frames [][]byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range frames {
		t.frames = append(t.frames, string(f))
	}
	t.writes++
	return nil
}

// Frames sent while a write is in progress leave together, after it, in
// the order each sender sent them, and none is lost.
func TestWriteQueueSharesWrites(t *testing.T) {
	gate := make(chan struct{})
	tr := &recordingTransport{gate: gate}
	var q writeQueue
	var mu sync.Mutex
	first := make(chan error)
	go func() { first <- q.send(&mu, tr, []byte("first")) }()
	for { // wait until the first write is under way
		q.mu.Lock()
		w := q.writing
		q.mu.Unlock()
		if w {
			break
		}
	}
	const senders, each = 4, 50
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := q.send(&mu, tr, fmt.Appendf(nil, "%d-%d", s, i)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait() // every sender queued: the first write still waits at the gate
	close(gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.frames) != 1+senders*each || tr.frames[0] != "first" {
		t.Fatalf("%d frames, first %q; want %d starting with first", len(tr.frames), tr.frames[0], 1+senders*each)
	}
	if tr.writes != 2 {
		t.Errorf("%d writes, want 2 (the first frame, then the queued ones together)", tr.writes)
	}
	next := make([]int, senders)
	for _, f := range tr.frames[1:] {
		var s, i int
		if _, err := fmt.Sscanf(f, "%d-%d", &s, &i); err != nil || i != next[s] {
			t.Fatalf("frame %q out of order (want %d-%d)", f, s, next[s])
		}
		next[s]++
	}
}

// countingConn counts Write calls.
type countingConn struct {
	net.Conn
	writes int
	data   []byte
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes++
	c.data = append(c.data, p...)
	return len(p), nil
}

func TestHoldConnReleasesOneWrite(t *testing.T) {
	cc := &countingConn{}
	hc := &holdConn{Conn: cc}
	if _, err := hc.Write([]byte("a")); err != nil || cc.writes != 1 {
		t.Fatalf("unheld write: %v, %d writes", err, cc.writes)
	}
	hc.hold()
	for _, p := range []string{"b", "cd", "e"} {
		if n, err := hc.Write([]byte(p)); err != nil || n != len(p) {
			t.Fatalf("held write: %d %v", n, err)
		}
	}
	if cc.writes != 1 {
		t.Fatalf("held writes reached the connection: %d writes", cc.writes)
	}
	if err := hc.release(); err != nil {
		t.Fatal(err)
	}
	if cc.writes != 2 || string(cc.data) != "abcde" {
		t.Fatalf("after release: %d writes, %q", cc.writes, cc.data)
	}
	if err := hc.release(); err != nil || cc.writes != 2 {
		t.Fatalf("an empty release wrote: %v, %d writes", err, cc.writes)
	}
}

// Frames queued for a later flush leave together, in one write, when the
// flush runs; a frame sent meanwhile by send takes them along, first.
func TestWriteQueueSendLater(t *testing.T) {
	tr := &recordingTransport{}
	var q writeQueue
	var mu sync.Mutex
	var flushes []func()
	schedule := func(f func()) bool { flushes = append(flushes, f); return true }
	for _, f := range []string{"a", "b", "c"} {
		q.sendLater(&mu, tr, []byte(f), schedule)
	}
	if len(flushes) != 1 {
		t.Fatalf("%d flushes scheduled for one batch, want 1", len(flushes))
	}
	if tr.writes != 0 {
		t.Fatalf("%d writes before the flush", tr.writes)
	}
	flushes[0]()
	if tr.writes != 1 || fmt.Sprint(tr.frames) != "[a b c]" {
		t.Fatalf("after the flush: %d writes, frames %v; want 1 write of [a b c]", tr.writes, tr.frames)
	}

	q.sendLater(&mu, tr, []byte("d"), schedule)
	if err := q.send(&mu, tr, []byte("e")); err != nil {
		t.Fatal(err)
	}
	if tr.writes != 2 || fmt.Sprint(tr.frames) != "[a b c d e]" {
		t.Fatalf("a send after a queued frame: %d writes, frames %v; want 2 writes, d before e", tr.writes, tr.frames)
	}
	flushes[1]() // the frame it was for is gone already
	if tr.writes != 2 {
		t.Fatalf("an empty flush wrote: %d writes", tr.writes)
	}
}
