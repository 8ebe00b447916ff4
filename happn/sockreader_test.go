package happn

import (
	"io"
	"net"
	"testing"

	"github.com/happner-go/happner/internal/sockio"
)

// A connection holds a read buffer only while it has unread input, and
// reads what the handshake left behind first.
func TestSockReaderBorrowsBuffersOnlyForInput(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	sock := sockio.New(server)
	if sock == nil {
		t.Skip("no raw socket I/O on this system")
	}
	var buffers readBuffers
	sr := newSockReader(sock, &buffers, []byte("ab"))

	if c, err := sr.ReadByte(); err != nil || c != 'a' || sr.Buffered() != 1 {
		t.Fatalf("held bytes: %q %v, %d buffered", c, err, sr.Buffered())
	}
	if c, err := sr.ReadByte(); err != nil || c != 'b' || sr.buf != nil {
		t.Fatalf("held bytes consumed: %q %v, buffer kept: %v", c, err, sr.buf != nil)
	}
	if _, err := client.Write([]byte("hello world")); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 5)
	if _, err := io.ReadFull(sr, p); err != nil || string(p) != "hello" {
		t.Fatalf("read %q %v", p, err)
	}
	if sr.buf == nil || sr.Buffered() != 6 {
		t.Fatalf("unread input must keep its buffer: %d buffered", sr.Buffered())
	}
	rest := make([]byte, 6)
	if _, err := io.ReadFull(sr, rest); err != nil || string(rest) != " world" {
		t.Fatalf("read %q %v", rest, err)
	}
	if sr.buf != nil {
		t.Fatal("a connection with nothing to read still holds a buffer")
	}
	// a large read goes straight into the caller's slice
	big := make([]byte, 3*readBufferSize)
	for i := range big {
		big[i] = byte(i)
	}
	go func() { _, _ = client.Write(big) }()
	got := make([]byte, len(big))
	if _, err := io.ReadFull(sr, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != byte(i) {
			t.Fatalf("byte %d = %d", i, got[i])
		}
	}
	client.Close()
	if _, err := sr.ReadByte(); err != io.EOF {
		t.Fatalf("after the peer closed: %v, want EOF", err)
	}
	if sr.buf != nil {
		t.Fatal("buffer kept after EOF")
	}
}
