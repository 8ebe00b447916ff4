package proc

import (
	"os"
	"time"
)

// Meter measures the CPU time of the server processes over an interval
// (summed: a cluster's members), and this process's own CPU time alongside.
// Without server pids (or with 0) it skips the server reading.
type Meter struct {
	pids        []int
	start       time.Duration
	clientStart time.Duration
}

// StartMeter reads the CPU time of this process and of the server pids
// (zeros are ignored) as the start of the interval.
func StartMeter(pids ...int) (*Meter, error) {
	self, err := CPUTime(os.Getpid())
	if err != nil {
		return nil, err
	}
	m := &Meter{clientStart: self}
	for _, pid := range pids {
		if pid != 0 {
			m.pids = append(m.pids, pid)
		}
	}
	if m.start, err = m.servers(); err != nil {
		return nil, err
	}
	return m, nil
}

// servers returns the summed CPU time of the server pids.
func (m *Meter) servers() (time.Duration, error) {
	var sum time.Duration
	for _, pid := range m.pids {
		t, err := CPUTime(pid)
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
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
	if len(m.pids) == 0 {
		return 0, false, nil
	}
	t, err := m.servers()
	if err != nil {
		return 0, false, err
	}
	return t - m.start, true, nil
}
