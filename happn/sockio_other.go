//go:build !linux

package happn

import "net"

// sockIO is raw socket I/O; other systems than Linux use net.Conn.
type sockIO struct{}

func newSockIO(net.Conn) *sockIO { return nil }

func (*sockIO) Read([]byte) (int, error) { panic("unreachable") }

func (*sockIO) writev([][]byte) error { panic("unreachable") }
