//go:build linux

package happn

import (
	"io"
	"net"
	"syscall"
	"unsafe"
)

// sockIO reads and writes a TCP socket with raw, non-blocking system calls
// (RawSyscall) on its file descriptor, waiting for readiness through the
// runtime's network poller as net.Conn does. Unlike net.Conn, it does not
// tell the scheduler that a system call is under way: a socket read or
// writev that cannot block has no use for it, and entering a system call
// wakes the runtime's monitor thread whenever the process was idle, a futex
// wake-up and a few timer sleeps for every request of a client that sends
// one request at a time. Deadlines set on the net.Conn still apply.
type sockIO struct {
	rc   syscall.RawConn
	iovs []syscall.Iovec // reused by writev (one writer at a time)
}

// newSockIO returns raw socket I/O for a plain TCP connection, nil for
// anything else (TLS, pipes), which keep using net.Conn.
func newSockIO(c net.Conn) *sockIO {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return &sockIO{rc: rc}
}

// Read reads what the socket has, waiting when it has nothing.
func (s *sockIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var (
		n     uintptr
		errno syscall.Errno
	)
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			n, _, errno = syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch errno {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait for the poller, then try again
			}
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

// maxIovecs is the most buffers one writev takes (IOV_MAX).
const maxIovecs = 1024

// writev writes every buffer, in order, with as few writev calls as the
// socket allows.
func (s *sockIO) writev(bufs [][]byte) error {
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
