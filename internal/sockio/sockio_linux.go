//go:build linux

// Package sockio reads and writes TCP sockets with raw, non-blocking system
// calls, for the server's websockets and the Go client's.
package sockio

import (
	"io"
	"net"
	"sync"
	"syscall"
	"unsafe"
)

// IO reads and writes a TCP socket with raw, non-blocking system calls
// (RawSyscall) on its file descriptor, waiting for readiness through the
// runtime's network poller as net.Conn does. Unlike net.Conn, it does not
// tell the scheduler that a system call is under way: a socket read or
// writev that cannot block has no use for it, and entering a system call
// wakes the runtime's monitor thread whenever the process was idle, a futex
// wake-up and a few timer sleeps for every request of a client that sends
// one request at a time. Deadlines set on the net.Conn still apply.
type IO struct {
	rc   syscall.RawConn
	iovs []syscall.Iovec // reused by writev (one writer at a time)
}

// New returns raw socket I/O for a plain TCP connection, nil for anything
// else (TLS, pipes), which keep using net.Conn.
func New(c net.Conn) *IO {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return &IO{rc: rc}
}

// Read reads what the socket has, waiting when it has nothing.
func (s *IO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n     uintptr
		errno syscall.Errno
	)
	err := s.rc.Read(func(fd uintptr) bool {
		n, errno = readOnce(fd, p)
		return errno != syscall.EAGAIN // else wait for the poller, then try again
	})
	return readResult(int(n), errno, err)
}

// readOnce is one read system call into p, retried when interrupted.
func readOnce(fd uintptr, p []byte) (uintptr, syscall.Errno) {
	for {
		n, _, errno := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if errno != syscall.EINTR {
			return n, errno
		}
	}
}

// readResult turns the outcome of a read into Read's results: the poller's
// error, the system call's, end of file for a read of nothing, or n.
func readResult(n int, errno syscall.Errno, err error) (int, error) {
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// ReadPooled reads what the socket has into a buffer taken from get only
// once the socket has something to read: while it waits, it holds no
// buffer (one it tried is handed back to put), so that idle connections
// hold no read buffer. It returns the buffer and the bytes read into it.
func (s *IO) ReadPooled(get func() []byte, put func([]byte)) ([]byte, int, error) {
	var (
		buf   []byte
		n     uintptr
		errno syscall.Errno
	)
	err := s.rc.Read(func(fd uintptr) bool {
		if buf == nil {
			buf = get()
		}
		if n, errno = readOnce(fd, buf); errno == syscall.EAGAIN {
			put(buf)
			buf = nil
			return false // wait for the poller without a buffer
		}
		return true
	})
	got, err := readResult(int(n), errno, err)
	if err != nil {
		if buf != nil {
			put(buf)
		}
		return nil, 0, err
	}
	return buf, got, nil
}

// maxIovecs is the most buffers one writev takes (IOV_MAX).
const maxIovecs = 1024

// Writev writes every buffer, in order, with as few writev calls as the
// socket allows. Calls must not overlap.
func (s *IO) Writev(bufs [][]byte) error {
	iovs := s.iovs[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			iovs = append(iovs, syscall.Iovec{Base: &b[0], Len: uint64(len(b))})
		}
	}
	var errno syscall.Errno
	rest := iovs
	err := s.rc.Write(func(fd uintptr) bool {
		for len(rest) > 0 {
			n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&rest[0])), uintptr(min(len(rest), maxIovecs)))
			switch e {
			case 0:
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // the socket buffer is full: wait, then go on
			default:
				errno = e
				return true
			}
			for n > 0 {
				if uint64(n) < rest[0].Len {
					rest[0].Base = (*byte)(unsafe.Add(unsafe.Pointer(rest[0].Base), n))
					rest[0].Len -= uint64(n)
					break
				}
				n -= uintptr(rest[0].Len)
				rest = rest[1:]
			}
		}
		return true
	})
	clear(iovs) // drop the references to the payloads
	s.iovs = iovs[:0]
	if err != nil {
		return err
	}
	if errno != 0 {
		return errno
	}
	return nil
}

// Write writes p (one buffer of Writev).
func (s *IO) Write(p []byte) (int, error) {
	if err := s.Writev([][]byte{p}); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Conn is a net.Conn whose reads and writes go through IO: for libraries
// that take a net.Conn (the websocket client).
type Conn struct {
	net.Conn
	io *IO
	mu sync.Mutex // one writer at a time (Writev reuses its buffers)
}

// Wrap returns c with raw socket I/O when c is a plain TCP connection, c
// itself otherwise.
func Wrap(c net.Conn) net.Conn {
	if io := New(c); io != nil {
		return &Conn{Conn: c, io: io}
	}
	return c
}

// Read reads through the raw socket.
func (c *Conn) Read(p []byte) (int, error) { return c.io.Read(p) }

// Write writes through the raw socket; concurrent writes are serialised.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.io.Write(p)
}
