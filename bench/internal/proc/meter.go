package proc

import (
	"os"
	"time"
)

// Meter measures a server's CPU time over an interval, and this process's
// own CPU time alongside. A zero server pid skips the server reading.
type Meter struct {
	pid         int
	start       time.Duration
	clientStart time.Duration
}

// StartMeter reads the CPU time of this process and of server pid (unless
// it is 0) as the start of the interval.
func StartMeter(pid int) (*Meter, error) {
	self, err := CPUTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	m := &Meter{pid: pid, clientStart: self}
	if pid == 0 {
		return m, nil
	}
	if m.start, err = CPUTime(pid); err != nil {
		return nil, err
	}
	return m, nil
}

// Client returns this process's CPU time since the start.
func (m *Meter) Client() (time.Duration, error) {
	self, err := CPUTime(os.Getpid())
	if err != nil {
		return 0, err
	}
	return self - m.clientStart, nil
}

// Server returns the server's CPU time since the start, or ok=false when
// the meter has no server pid.
func (m *Meter) Server() (used time.Duration, ok bool, err error) {
	if m.pid == 0 {
		return 0, false, nil
	}
	t, err := CPUTime(m.pid)
	if err != nil {
		return 0, false, err
	}
	return t - m.start, true, nil
}
