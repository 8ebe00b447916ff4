// Package gctune chooses the Go garbage collector's settings of a happner
// process, on purpose rather than by the runtime's defaults.
//
// A happner node allocates a little for every request and keeps a live heap
// that is mostly its in-memory store and its sessions. With the runtime's
// default (GOGC=100: collect whenever the heap has doubled) a busy node
// spends a noticeable share of its CPU collecting a small heap over and
// over. The default here lets the heap grow to three times the live heap
// between collections (GOGC=200), and sets a soft memory limit (GOMEMLIMIT)
// at 70 % of the memory the process may use (its cgroup's limit when it
// runs in a container that has one, else the machine's memory): below the
// limit the node trades memory for CPU, near it the collector works as hard
// as it must to stay under it.
//
// Precedence, for each of the two settings: the environment variable
// (GOGC, GOMEMLIMIT; the runtime has applied it already), then the config
// file's gc section, then the default.
package gctune

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultPercent is the GOGC value used when neither the environment nor
// the config sets one.
const DefaultPercent = 200

// DefaultLimitShare is the share of the available memory used as the soft
// memory limit by default.
const DefaultLimitShare = 0.7

// Options are the config file's gc section.
type Options struct {
	// Percent is GOGC: how far the heap may grow over the live heap before
	// a collection, in percent; default 200. A negative value turns the
	// proportional trigger off, leaving the memory limit alone in charge.
	Percent *int `json:"percent,omitempty" yaml:"percent,omitempty"`
	// MemoryLimit is the soft memory limit: bytes, or a number with a unit
	// (KiB, MiB, GiB, TiB, or KB, MB, GB, TB), or "off"; default 70 % of
	// the memory the process may use.
	MemoryLimit string `json:"memoryLimit,omitempty" yaml:"memoryLimit,omitempty"`
}

// Settings are the collector's settings in effect and where each came
// from ("environment", "config" or "default").
type Settings struct {
	Percent       int
	PercentSource string
	// Limit is the soft memory limit in bytes, math.MaxInt64 when off.
	Limit       int64
	LimitSource string
}

// String renders the settings for a start-up log line.
func (s Settings) String() string {
	limit := "off"
	if s.Limit != math.MaxInt64 {
		limit = strconv.FormatInt(s.Limit>>20, 10) + "MiB"
	}
	return fmt.Sprintf("GOGC=%d (%s), GOMEMLIMIT=%s (%s)", s.Percent, s.PercentSource, limit, s.LimitSource)
}

// Env reads an environment variable (os.LookupEnv in production).
type Env func(name string) (string, bool)

// Apply sets the collector's percent and memory limit as the package
// documentation describes and returns them. A malformed MemoryLimit is an
// error and changes nothing.
func Apply(opts Options, env Env) (Settings, error) {
	if env == nil {
		env = os.LookupEnv
	}
	s, err := Resolve(opts, env, AvailableMemory())
	if err != nil {
		return Settings{}, err
	}
	if s.PercentSource != "environment" {
		debug.SetGCPercent(s.Percent)
	}
	if s.LimitSource != "environment" {
		debug.SetMemoryLimit(s.Limit)
	}
	return s, nil
}

// Resolve computes the settings without applying them; available is the
// memory the process may use in bytes (0: unknown, then no default limit).
func Resolve(opts Options, env Env, available int64) (Settings, error) {
	var s Settings
	switch {
	case envSet(env, "GOGC"):
		s.Percent, s.PercentSource = debug.SetGCPercent(-1), "environment"
		debug.SetGCPercent(s.Percent) // read back, unchanged
	case opts.Percent != nil:
		s.Percent, s.PercentSource = *opts.Percent, "config"
	default:
		s.Percent, s.PercentSource = DefaultPercent, "default"
	}
	if s.Percent < 0 {
		s.Percent = -1
	}
	switch {
	case envSet(env, "GOMEMLIMIT"):
		s.Limit, s.LimitSource = debug.SetMemoryLimit(-1), "environment"
	case opts.MemoryLimit != "":
		limit, err := ParseBytes(opts.MemoryLimit)
		if err != nil {
			return Settings{}, fmt.Errorf("gc.memoryLimit: %w", err)
		}
		s.Limit, s.LimitSource = limit, "config"
	case available > 0:
		s.Limit, s.LimitSource = int64(float64(available)*DefaultLimitShare), "default"
	default:
		s.Limit, s.LimitSource = math.MaxInt64, "default"
	}
	return s, nil
}

func envSet(env Env, name string) bool {
	v, ok := env(name)
	return ok && v != ""
}

// ParseBytes reads a memory size: a whole number of bytes, or a number with
// a binary (KiB, MiB, GiB, TiB) or decimal (KB, MB, GB, TB) unit, or "off"
// (no limit).
func ParseBytes(v string) (int64, error) {
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "off") {
		return math.MaxInt64, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f*mult > math.MaxInt64 {
		return 0, fmt.Errorf("%q is not a memory size (bytes, or a number with KiB, MiB, GiB…, or off)", v)
	}
	return int64(f * mult), nil
}

// AvailableMemory returns the memory this process may use: its cgroup's
// limit when it has one (cgroup v2 memory.max, or v1
// memory.limit_in_bytes), else the machine's memory; 0 when unknown.
func AvailableMemory() int64 {
	machine := meminfoTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (machine == 0 || n < machine) {
			return n
		}
	}
	return machine
}

// meminfoTotal reads MemTotal from /proc/meminfo, in bytes.
func meminfoTotal() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
