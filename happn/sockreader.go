package happn

import (
	"sync"

	"github.com/happner-go/happner/internal/sockio"
)

// readBufferSize is the size of the buffers connections read into.
const readBufferSize = 4096

// readBuffers lends connections their read buffers: a connection holds one
// only while it has unread input, so ten thousand idle connections hold
// none.
type readBuffers struct{ pool sync.Pool }

func (b *readBuffers) get() []byte {
	if p, ok := b.pool.Get().(*[]byte); ok {
		return *p
	}
	return make([]byte, readBufferSize)
}

func (b *readBuffers) put(buf []byte) {
	if cap(buf) != readBufferSize {
		return
	}
	buf = buf[:readBufferSize]
	b.pool.Put(&buf)
}

// byteReader is what the websocket reader reads from: a bufio.Reader for
// connections without raw socket I/O, a sockReader otherwise.
type byteReader interface {
	ReadByte() (byte, error)
	Read(p []byte) (int, error)
	Buffered() int
}

// sockReader is a buffered reader over raw socket I/O whose buffer is
// borrowed from a readBuffers while there is input to read and given back
// once it is consumed.
type sockReader struct {
	sock    *sockio.IO
	buffers *readBuffers
	buf     []byte // borrowed when pooled is set
	pooled  bool
	r, w    int
}

// newSockReader reads sock after held, the bytes a handshake reader had
// already taken from the socket (copied).
func newSockReader(sock *sockio.IO, buffers *readBuffers, held []byte) *sockReader {
	sr := &sockReader{sock: sock, buffers: buffers}
	if len(held) > 0 {
		sr.buf = append([]byte(nil), held...)
		sr.w = len(held)
	}
	return sr
}

// Buffered is the number of bytes read from the socket and not consumed.
func (sr *sockReader) Buffered() int { return sr.w - sr.r }

// release gives the buffer back once everything in it is consumed.
func (sr *sockReader) release() {
	if sr.r == sr.w && sr.buf != nil {
		if sr.pooled {
			sr.buffers.put(sr.buf)
		}
		sr.buf, sr.pooled, sr.r, sr.w = nil, false, 0, 0
	}
}

// fill reads more input into a borrowed buffer; it is called with nothing
// buffered.
func (sr *sockReader) fill() error {
	sr.release()
	buf, n, err := sr.sock.ReadPooled(sr.buffers.get, sr.buffers.put)
	if err != nil {
		return err
	}
	sr.buf, sr.pooled, sr.r, sr.w = buf, true, 0, n
	return nil
}

// ReadByte returns the next byte, waiting for input when none is buffered.
func (sr *sockReader) ReadByte() (byte, error) {
	if sr.r == sr.w {
		if err := sr.fill(); err != nil {
			return 0, err
		}
	}
	c := sr.buf[sr.r]
	sr.r++
	sr.release()
	return c, nil
}

// Read reads into p what is buffered, or else what the socket has (large
// reads go straight into p).
func (sr *sockReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if sr.r == sr.w {
		if len(p) >= readBufferSize {
			sr.release()
			return sr.sock.Read(p)
		}
		if err := sr.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, sr.buf[sr.r:sr.w])
	sr.r += n
	sr.release()
	return n, nil
}
