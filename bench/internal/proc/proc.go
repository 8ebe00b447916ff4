// Package proc reads a process's CPU time and resident memory from /proc.
package proc

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// userHZ is the unit of utime/stime in /proc/<pid>/stat. Linux fixes it at
// 100 for user space (USER_HZ) regardless of the kernel's internal HZ.
const userHZ = 100

// CPUTime returns utime+stime of pid (all its threads) from /proc/<pid>/stat.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("proc: cpu time of %d: %w", pid, err)
	}
	return parseStat(b)
}

// parseStat extracts utime+stime (fields 14 and 15) from a stat line. The
// command name (field 2) is in parentheses and may contain spaces or ')',
// so fields are counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("proc: malformed stat line %.80q", b)
	}
	fields := bytes.Fields(b[end+1:])
	// fields[0] is field 3 (state), so field N is fields[N-3].
	if len(fields) < 13 {
		return 0, fmt.Errorf("proc: stat line has %d fields after the name, want ≥ 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		v, err := strconv.ParseInt(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: bad cpu field %q: %w", f, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// RSS returns the resident set size of pid in bytes (VmRSS in
// /proc/<pid>/status).
func RSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("proc: rss of %d: %w", pid, err)
	}
	return parseRSS(b)
}

func parseRSS(b []byte) (int64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("proc: malformed VmRSS line %q", line)
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc: bad VmRSS value %q: %w", f[0], err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("proc: no VmRSS line (is the process a zombie?)")
}
