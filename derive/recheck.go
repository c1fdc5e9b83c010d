package derive

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Switcher is the part of the target a plan switch writes, beyond Target.
type Switcher interface {
	Target
	SwitchPlan(ctx context.Context, v store.PlanVersion, cursor, epoch int64, t *store.Tally) error
	// Observed lists the events the target holds: a re-check counts only
	// those (the others were past the cardinality guard).
	Observed(ctx context.Context) (*store.Observed, error)
}

// RecheckProgress describes a re-check under way.
type RecheckProgress struct {
	Plan    store.PlanVersion
	Started time.Time
	Total   int64 // the last record to re-check (the cursor when it started)
	done    atomic.Int64
	records atomic.Int64
}

// Done is the last record re-checked so far.
func (p *RecheckProgress) Done() int64 { return p.done.Load() }

// Fraction is the share done, 0 to 1.
func (p *RecheckProgress) Fraction() float64 {
	if p.Total <= 0 {
		return 1
	}
	return min(1, float64(p.Done())/float64(p.Total))
}

// RecheckResult is what a plan switch did.
type RecheckResult struct {
	// Rechecked counts the records re-checked from the log; 0 when the
	// verdicts followed the plan already, or a plan that checks the same.
	Rechecked int64
	Took      time.Duration
	// Switched is false when the verdicts already followed the plan.
	Switched bool
}

// Want asks Run to make v the plan the verdicts follow, re-checking in the
// background while live derivation goes on; a later Want replaces an
// earlier one not started yet.
func (d *Deriver) Want(v store.PlanVersion) {
	d.wanted.Store(&v)
	d.Notify()
}

// recheckRunner runs Run's background re-checks, one at a time.
type recheckRunner struct {
	running atomic.Bool
	wg      sync.WaitGroup
}

// startWanted starts the re-check Want asked for, unless one runs.
func (d *Deriver) startWanted(ctx context.Context, r *recheckRunner) {
	v := d.wanted.Load()
	if v == nil || !r.running.CompareAndSwap(false, true) {
		return
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.running.Store(false)
		if _, err := d.Recheck(ctx, *v); err != nil {
			if ctx.Err() == nil {
				d.opts.Logger.Error("re-check against the new plan failed; retrying", "plan", v.ID, "err", err)
			}
			return
		}
		d.wanted.CompareAndSwap(v, nil)
		d.Notify()
	}()
}

// Rechecking returns the re-check under way in this process, or nil.
func (d *Deriver) Rechecking() *RecheckProgress { return d.rechecking.Load() }

// Recheck makes v the plan the verdicts follow. Unless they follow v
// already, or a version that checks exactly like it (same CheckDigest),
// every logged record up to the cursor is checked against v again and the
// verdicts are replaced in one transaction with the cursor unchanged, so a
// report is never half one plan, half another. Live derivation goes on
// (against the old plan) while the log is read, and pauses only for the
// last records and the switch. Records past the cardinality guard (events
// the target does not hold) are left out, as Apply leaves them out.
func (d *Deriver) Recheck(ctx context.Context, v store.PlanVersion) (RecheckResult, error) {
	start := time.Now()
	into, ok := d.into.(Switcher)
	if !ok {
		return RecheckResult{}, errors.New("the derived state cannot switch plans")
	}
	cur, err := into.VerdictPlan(ctx)
	if err != nil {
		return RecheckResult{}, fmt.Errorf("read the verdict plan: %w", err)
	}
	if cur.ID == v.ID {
		return RecheckResult{}, nil
	}
	var res RecheckResult
	for {
		epoch, err := into.Epoch(ctx)
		if err != nil {
			return res, err
		}
		cursor, err := into.Cursor(ctx)
		if err != nil {
			return res, err
		}
		var tally *store.Tally
		if cur.ID == "" || cur.CheckDigest != v.CheckDigest {
			prog := &RecheckProgress{Plan: v, Started: start, Total: cursor}
			d.rechecking.Store(prog)
			tally, cursor, epoch, err = d.recheckLog(ctx, into, v.Plan, cursor, epoch, prog)
			d.rechecking.Store(nil)
			if errors.Is(err, errEpochMoved) {
				continue // an erasure or reset: start again
			}
			if err != nil {
				return res, err
			}
			res.Rechecked = prog.records.Load()
		}
		err = d.switchLocked(ctx, into, v, cursor, epoch, tally)
		if errors.Is(err, store.ErrCursorMoved) {
			continue
		}
		if err != nil {
			return res, err
		}
		res.Switched, res.Took = true, time.Since(start)
		d.opts.Logger.Info("verdicts follow a new plan", "plan", v.ID, "origin", v.Origin,
			"rechecked", res.Rechecked, "took", res.Took.Round(time.Millisecond))
		return res, nil
	}
}

// switchLocked switches with live derivation in this process paused.
func (d *Deriver) switchLocked(ctx context.Context, into Switcher, v store.PlanVersion, cursor, epoch int64, t *store.Tally) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := into.SwitchPlan(ctx, v, cursor, epoch, t); err != nil {
		return fmt.Errorf("switch to plan %s: %w", v.ID, err)
	}
	d.plan = compile(v)
	return nil
}

var errEpochMoved = errors.New("the derived state was reset or erased from during the re-check")

// recheckLog tallies the log's records up to cursor checked against plan,
// then, with live derivation paused, whatever was applied meanwhile. It
// returns the tally and the cursor and epoch it is valid for.
func (d *Deriver) recheckLog(ctx context.Context, into Switcher, plan *trackplan.Plan, cursor, epoch int64, prog *RecheckProgress) (*store.Tally, int64, int64, error) {
	known, err := knownEvents(ctx, into)
	if err != nil {
		return nil, 0, 0, err
	}
	skip, err := quarantined(ctx, into)
	if err != nil {
		return nil, 0, 0, err
	}
	r := &Reader{Log: d.log, Checker: trackplan.NewChecker(plan), SkipCorrupt: d.opts.SkipCorrupt, Logger: d.opts.Logger, Skip: skip}
	t := store.NewTally()
	add := func(recs []store.Record, vs [][]trackplan.Violation) {
		addTo(t, known, recs, vs)
		if len(recs) > 0 {
			prog.done.Store(recs[len(recs)-1].Seq)
			prog.records.Add(int64(len(recs)))
		}
	}
	if err := r.Read(ctx, 0, cursor, add); err != nil {
		return nil, 0, 0, err
	}
	// The rest under the lock: live derivation here waits (it is short).
	d.mu.Lock()
	defer d.mu.Unlock()
	e2, err := into.Epoch(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	if e2 != epoch {
		return nil, 0, 0, errEpochMoved
	}
	c2, err := into.Cursor(ctx)
	if err != nil {
		return nil, 0, 0, err
	}
	if c2 > cursor {
		if known, err = knownEvents(ctx, into); err != nil {
			return nil, 0, 0, err
		}
		if r.Skip, err = quarantined(ctx, into); err != nil {
			return nil, 0, 0, err
		}
		if err := r.Read(ctx, cursor, c2, add); err != nil {
			return nil, 0, 0, err
		}
	}
	return t, c2, epoch, nil
}

// addTo tallies checked records, leaving out the messages of events not
// known (past the cardinality guard).
func addTo(t *store.Tally, known map[store.EventKey]bool, recs []store.Record, vs [][]trackplan.Violation) {
	for i, rec := range recs {
		if rec.Rejection != nil {
			t.AddRejection(rec.Rejection)
			continue
		}
		m := rec.Message
		if known[store.EventKey{Source: m.Source, Type: m.Type, Name: m.EventName()}] {
			t.AddChecked(m, vs[i])
		}
	}
}

// WhatIf tallies what checking the log's records up to the target's cursor
// against plan gives, without changing anything: the verdicts a report
// judged by plan would read. It returns the tally and the records read.
func (d *Deriver) WhatIf(ctx context.Context, plan *trackplan.Plan) (*store.Tally, int64, error) {
	into, ok := d.into.(Switcher)
	if !ok {
		return nil, 0, errors.New("the derived state cannot list its events")
	}
	cursor, err := into.Cursor(ctx)
	if err != nil {
		return nil, 0, err
	}
	known, err := knownEvents(ctx, into)
	if err != nil {
		return nil, 0, err
	}
	skip, err := quarantined(ctx, into)
	if err != nil {
		return nil, 0, err
	}
	r := &Reader{Log: d.log, Checker: trackplan.NewChecker(plan), SkipCorrupt: d.opts.SkipCorrupt, Logger: d.opts.Logger, Skip: skip}
	t := store.NewTally()
	var n int64
	err = r.Read(ctx, 0, cursor, func(recs []store.Record, vs [][]trackplan.Violation) {
		addTo(t, known, recs, vs)
		n += int64(len(recs))
	})
	return t, n, err
}

func knownEvents(ctx context.Context, into Switcher) (map[store.EventKey]bool, error) {
	o, err := into.Observed(ctx)
	if err != nil {
		return nil, fmt.Errorf("read observed events: %w", err)
	}
	known := make(map[store.EventKey]bool, len(o.Events))
	for _, e := range o.Events {
		known[store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}] = true
	}
	return known, nil
}

// Reader decodes and checks a stretch of the log on every core, and hands
// the records over in log order.
type Reader struct {
	Log         Log
	Checker     Checker // nil: no violations
	SkipCorrupt bool
	Logger      interface {
		Error(msg string, args ...any)
	}
	// Workers decoding and checking (default GOMAXPROCS).
	Workers int
	// Skip are records left out: the quarantined ones, which the derived
	// state does not hold either.
	Skip map[int64]bool
}

type decoded struct {
	recs []store.Record
	vs   [][]trackplan.Violation
	err  error
}

// Read calls fn, in order, with the records after sequence number after up
// to and including to, and each message's violations.
func (r *Reader) Read(ctx context.Context, after, to int64, fn func(recs []store.Record, vs [][]trackplan.Violation)) error {
	workers := r.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type job struct {
		blk store.LogBlock
		out chan decoded
	}
	jobs := make(chan job, workers*2)
	order := make(chan chan decoded, workers*4)
	for range workers {
		go func() {
			for j := range jobs {
				j.out <- r.decode(j.blk)
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		cur := after
		for cur < to {
			next := cur
			err := r.Log.ReadLog(ctx, cur, 50_000, func(b store.LogBlock) error {
				if b.First > to {
					return errStop
				}
				out := make(chan decoded, 1)
				select {
				case jobs <- job{b, out}:
				case <-ctx.Done():
					return ctx.Err()
				}
				select {
				case order <- out:
				case <-ctx.Done():
					return ctx.Err()
				}
				next = b.Last
				return nil
			})
			if err != nil && !errors.Is(err, errStop) {
				readErr <- fmt.Errorf("read log after %d: %w", cur, err)
				return
			}
			if next == cur || errors.Is(err, errStop) {
				break
			}
			cur = next
		}
		readErr <- nil
	}()
	var firstErr error
	for out := range order {
		d := <-out
		if firstErr != nil {
			continue
		}
		if d.err != nil {
			firstErr = d.err
			cancel()
			continue
		}
		recs, vs := r.within(d.recs, d.vs, after, to)
		fn(recs, vs)
	}
	if err := <-readErr; firstErr == nil && err != nil && ctx.Err() == nil {
		firstErr = err
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return firstErr
}

// within keeps the records after after up to to that are not skipped: a
// block at either end may hold records beyond the range (a cursor inside
// a block, left by a quarantine).
func (r *Reader) within(recs []store.Record, vs [][]trackplan.Violation, after, to int64) ([]store.Record, [][]trackplan.Violation) {
	keep := func(seq int64) bool { return seq > after && seq <= to && !r.Skip[seq] }
	all := true
	for _, rec := range recs {
		if !keep(rec.Seq) {
			all = false
			break
		}
	}
	if all {
		return recs, vs
	}
	var (
		outR []store.Record
		outV [][]trackplan.Violation
	)
	for i, rec := range recs {
		if keep(rec.Seq) {
			outR = append(outR, rec)
			outV = append(outV, vs[i])
		}
	}
	return outR, outV
}

// quarantined is the set of records the target quarantined, nil when it
// keeps none.
func quarantined(ctx context.Context, into Target) (map[int64]bool, error) {
	es, err := into.Quarantined(ctx)
	if err != nil || len(es) == 0 {
		return nil, err
	}
	skip := make(map[int64]bool, len(es))
	for _, e := range es {
		skip[e.Seq] = true
	}
	return skip, nil
}

func (r *Reader) decode(b store.LogBlock) decoded {
	recs, err := store.DecodeBlock(b)
	if err != nil {
		var ce *store.CorruptBlockError
		if r.SkipCorrupt && errors.As(err, &ce) {
			if r.Logger != nil {
				r.Logger.Error("corrupt log block skipped", "first", ce.First, "last", ce.Last, "err", ce.Err)
			}
			return decoded{}
		}
		return decoded{err: err}
	}
	d := decoded{recs: recs, vs: make([][]trackplan.Violation, len(recs))}
	if r.Checker != nil {
		for i, rec := range recs {
			if rec.Message != nil {
				d.vs[i] = r.Checker.Check(rec.Message)
			}
		}
	}
	return d
}
