//go:build !linux

// Package sockio reads and writes TCP sockets with raw system calls on
// Linux; elsewhere New returns nil and Wrap returns the connection as is.
package sockio

import "net"

// IO is raw socket I/O; systems other than Linux use net.Conn.
type IO struct{}

// New returns nil: no raw socket I/O here.
func New(net.Conn) *IO { return nil }

// Read is never called (New returns nil).
func (*IO) Read([]byte) (int, error) { panic("sockio: unreachable") }

// ReadPooled is never called (New returns nil).
func (*IO) ReadPooled(func() []byte, func([]byte)) ([]byte, int, error) {
	panic("sockio: unreachable")
}

// Writev is never called (New returns nil).
func (*IO) Writev([][]byte) error { panic("sockio: unreachable") }

// Wrap returns c as it is.
func Wrap(c net.Conn) net.Conn { return c }
