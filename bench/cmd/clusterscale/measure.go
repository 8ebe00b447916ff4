package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/happner-go/happner/bench/internal/report"
)

// Names shared by both kinds of cluster.
const (
	benchDomain    = "BENCH"
	benchService   = "bench"
	adminPassword  = "bench-secret"
	eventPath      = "/_events/" + benchDomain + "/bench/tick"
	eventPattern   = "/_events/" + benchDomain + "/bench/*"
	groupPrefix    = "clusterscale-"
	changeEvent    = "upsert-group"
	deliveryWait   = 15 * time.Second // without a delivery
	changeWaitBase = 30 * time.Second
)

// running is a cluster under measurement.
type running interface {
	// cpu returns the CPU time used so far: one entry per member process,
	// or one entry for this whole process when the members run in it.
	cpu() ([]time.Duration, error)
	// rssMB returns the resident memory per member, in MB.
	rssMB() (float64, error)
	// events publishes k events on member 0 (up to depth in flight) and
	// waits until a subscriber on every member has them all; it returns
	// how many deliveries are missing.
	events(ctx context.Context, k, depth int) (lost int64, err error)
	// securityChanges makes k security changes on member 0 and waits until
	// every other member has applied them.
	securityChanges(ctx context.Context, k int, wait time.Duration) error
	// stop stops every member.
	stop()
}

// startTiming is how long a cluster took to become stable, and (members
// in this process) until every member had found all the others.
type startTiming struct {
	fromFirst, fromLast time.Duration
	discovered          time.Duration
}

// measure starts a cluster of n members and takes its figures.
func measure(ctx context.Context, cfg *config, pg *pgServer, n int, stderr io.Writer) *result {
	r := &result{
		Label: cfg.label, Mode: cfg.mode, Store: cfg.store, Secure: cfg.secure, Keys: cfg.keys, Members: n,
		PulseMs: cfg.pulse.Milliseconds(), ScanMs: cfg.scan.Milliseconds(), CPUs: runtime.NumCPU(),
	}
	var db *pgDatabase
	if pg != nil {
		var err error
		if db, err = pg.createDatabase(ctx, fmt.Sprintf("scale_%d", n)); err != nil {
			r.Error = err.Error()
			return r
		}
		defer db.close()
	}
	dsn := ""
	if db != nil {
		dsn = db.dsn
	}
	var (
		c   running
		t   startTiming
		err error
	)
	var (
		atStart    pgCounters
		pgCPUStart time.Duration
		pgCPUErr   error
	)
	if db != nil {
		var err error
		if atStart, err = db.counters(); err != nil {
			r.Error = err.Error()
			return r
		}
		pgCPUStart, pgCPUErr = db.serverCPU()
	}
	// members in this process: their start is what this process spends
	// from here; member processes start from nothing
	var cpuStart time.Duration
	if cfg.mode == modeInProcess {
		var err error
		if cpuStart, err = selfCPU(); err != nil {
			r.Error = err.Error()
			return r
		}
	}
	fmt.Fprintf(stderr, "starting %d members (%s, %s)…\n", n, cfg.mode, cfg.store)
	if cfg.mode == modeProcesses {
		c, t, err = startProcesses(ctx, cfg, n, dsn, stderr)
	} else {
		c, t, err = startInProcess(ctx, cfg, n, dsn, stderr)
	}
	if err != nil {
		r.Error = err.Error()
		return r
	}
	defer c.stop()
	r.StableS = report.Ptr(t.fromFirst.Seconds())
	r.StableAfterLastS = report.Ptr(t.fromLast.Seconds())
	if t.discovered > 0 {
		r.DiscoveredS = report.Ptr(t.discovered.Seconds())
	}
	if !sleep(ctx, cfg.settle) {
		r.Error = ctx.Err().Error()
		return r
	}
	if cpu, err := c.cpu(); err == nil {
		r.StartCPUMs = report.Ptr(1000 * (sum(cpu) - cpuStart).Seconds() / float64(n))
	}
	if db != nil {
		// from the start to the end of the settle time, which lets every
		// backend report its counts (and adds a few pulses and scans)
		c, err := db.counters()
		if err != nil {
			r.Error = err.Error()
			return r
		}
		r.PGStartStatements = report.Ptr(float64(c.minus(atStart).xacts) / float64(n))
		if cpu, err := db.serverCPU(); err == nil && pgCPUErr == nil {
			// backends that ended meanwhile take their time with them
			r.PGStartCPUS = report.Ptr(max(0, (cpu - pgCPUStart).Seconds()))
		}
	}

	// Idle: nothing but pulses, scans and keep-alives.
	idle, err := sample(c, db)
	if err == nil {
		sleep(ctx, cfg.idle)
		err = idle.end(c, db)
	}
	if err != nil {
		r.Error = "idle: " + err.Error()
		return r
	}
	el := idle.elapsed.Seconds()
	r.IdleS = report.Ptr(el)
	total, most := sum(idle.cpu), maxOf(idle.cpu)
	r.IdleCPUPct = report.Ptr(100 * total.Seconds() / el / float64(n))
	if len(idle.cpu) == n {
		r.IdleCPUMaxPct = report.Ptr(100 * most.Seconds() / el)
	}
	if db != nil {
		r.PGStatementsPerS = report.Ptr(float64(idle.pg.xacts) / el / float64(n))
		r.PGRowsPerS = report.Ptr(float64(idle.pg.rows) / el / float64(n))
		if idle.pgCPUOK {
			r.PGCPUPct = report.Ptr(100 * idle.pgCPU.Seconds() / el / float64(n))
		}
	}
	if rss, err := c.rssMB(); err == nil {
		r.RSSMB = report.Ptr(rss)
	}
	idleRate := func(i int) float64 { return idle.cpu[i].Seconds() / el } // CPU s per s

	if cfg.events > 0 {
		var lost int64
		cost, err := work(c, idleRate, cfg.events, func() (err error) {
			lost, err = c.events(ctx, cfg.events, cfg.depth)
			return err
		})
		r.Events, r.EventsLost = cfg.events, lost
		if err != nil {
			r.Error = "events: " + err.Error()
			return r
		}
		r.EventS, r.EventCPUUs, r.EventOriginCPUUs, r.EventOtherCPUUs = cost.figures(n)
	}

	if cfg.changes > 0 {
		cost, err := work(c, idleRate, cfg.changes, func() error {
			// the members send their changes every --security-interval
			return c.securityChanges(ctx, cfg.changes, changeWaitBase+cfg.secEvery)
		})
		switch {
		case errors.Is(err, errNoSecurityChanges):
			// not measurable on this cluster; the rows stay empty
		case err != nil:
			r.Error = "security changes: " + err.Error()
			return r
		default:
			r.Changes = cfg.changes
			r.ChangeS, r.ChangeCPUUs, r.ChangeOriginUs, r.ChangeOtherCPUUs = cost.figures(n)
		}
	}
	return r
}

// cost is the CPU that units of work took beyond the idle cluster's.
type cost struct {
	elapsed time.Duration
	perUnit []float64 // µs per unit, per CPU reading
}

// work runs do, which does units of work, and returns its cost.
func work(c running, idleRate func(i int) float64, units int, do func() error) (*cost, error) {
	s, err := sample(c, nil)
	if err != nil {
		return nil, err
	}
	if err := do(); err != nil {
		return nil, err
	}
	if err := s.end(c, nil); err != nil {
		return nil, err
	}
	return &cost{elapsed: s.elapsed, perUnit: s.extra(idleRate, float64(units))}, nil
}

// figures returns the cost's time, its CPU per unit per member, and with a
// reading per member, that of member 0 (where the work is done) and the
// mean of the others.
func (c *cost) figures(n int) (seconds, perMemberUs, firstUs, othersUs *float64) {
	seconds = report.Ptr(c.elapsed.Seconds())
	perMemberUs = report.Ptr(perMember(c.perUnit, n))
	if len(c.perUnit) == n {
		firstUs, othersUs = report.Ptr(c.perUnit[0]), report.Ptr(mean(c.perUnit[1:]))
	}
	return
}

// window is the CPU (and PostgreSQL counters) of one measured phase.
type window struct {
	start   time.Time
	elapsed time.Duration
	cpu     []time.Duration // start values, then the differences
	pg      pgCounters
	pgCPU   time.Duration
	pgCPUOK bool
}

// sample starts a window.
func sample(c running, db *pgDatabase) (*window, error) {
	cpu, err := c.cpu()
	if err != nil {
		return nil, err
	}
	w := &window{cpu: cpu}
	if db != nil {
		if w.pg, err = db.counters(); err != nil {
			return nil, err
		}
		w.pgCPU, err = db.serverCPU()
		w.pgCPUOK = err == nil
	}
	w.start = time.Now()
	return w, nil
}

// end closes the window: its fields become differences.
func (w *window) end(c running, db *pgDatabase) error {
	cpu, err := c.cpu()
	if err != nil {
		return err
	}
	w.elapsed = time.Since(w.start)
	if len(cpu) != len(w.cpu) {
		return fmt.Errorf("%d CPU readings, %d at the start", len(cpu), len(w.cpu))
	}
	for i := range cpu {
		w.cpu[i] = cpu[i] - w.cpu[i]
	}
	if db != nil {
		pg, err := db.counters()
		if err != nil {
			return err
		}
		w.pg = pg.minus(w.pg)
		if w.pgCPUOK {
			cpu, err := db.serverCPU()
			w.pgCPU, w.pgCPUOK = cpu-w.pgCPU, err == nil
		}
	}
	return nil
}

// extra returns, per CPU reading, the CPU in µs per unit of work done in
// the window beyond what the idle cluster spends in the same time.
func (w *window) extra(idleRate func(i int) float64, units float64) []float64 {
	out := make([]float64, len(w.cpu))
	for i, d := range w.cpu {
		out[i] = (d.Seconds() - idleRate(i)*w.elapsed.Seconds()) / units * 1e6
	}
	return out
}

// perMember spreads figures over n members: readings per member are
// averaged, one reading for the whole process is divided by n.
func perMember(vs []float64, n int) float64 {
	if len(vs) == n {
		return mean(vs)
	}
	var t float64
	for _, v := range vs {
		t += v
	}
	return t / float64(n)
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

func maxOf(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func mean(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	var t float64
	for _, v := range vs {
		t += v
	}
	return t / float64(len(vs))
}
