// Package derive is the aggregator: it reads the event log in order, in
// large runs, checks each message against the current plan, and applies what
// the run adds to the derived state together with the cursor, in one store
// transaction, so every record is applied exactly once whatever crashes and
// however many processes derive at the same time.
//
// The same code runs live (inside serve), on demand (a command that reads
// derived state first catches up), and for a rebuild.
package derive

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Log is the part of the store the aggregator reads.
type Log interface {
	ReadLog(ctx context.Context, after int64, maxRecords int, fn func(store.LogBlock) error) error
	LogHead(ctx context.Context) (int64, error)
}

// Target is the derived state the aggregator writes.
type Target interface {
	Epoch(ctx context.Context) (int64, error)
	Cursor(ctx context.Context) (int64, error)
	Apply(ctx context.Context, from, to int64, b *store.Batch) error
	// Quarantiner moves the cursor past a record Apply cannot take
	// (store.ErrUnstorable), recording it, and lists those records, which
	// a re-check leaves out too.
	store.Quarantiner
	// VerdictPlan is the plan the verdicts follow: once the target has
	// one, every run is checked against it.
	VerdictPlan(ctx context.Context) (store.PlanVersion, error)
}

// Checker checks one message against the plan.
type Checker interface {
	Check(m *trackplan.Message) []trackplan.Violation
}

// CheckFunc adapts a function to Checker.
type CheckFunc func(m *trackplan.Message) []trackplan.Violation

// Check calls f.
func (f CheckFunc) Check(m *trackplan.Message) []trackplan.Violation { return f(m) }

// Options tune the aggregator.
type Options struct {
	// MaxRecords is about how many records one Apply takes (default
	// 50,000): larger runs collapse more rows into each upsert.
	MaxRecords int
	// SkipCorrupt makes a corrupt block a reported skip instead of an
	// error that stops derivation.
	SkipCorrupt bool
	// Interval is how often Run looks at the log when not notified
	// (default 1s): appends by other processes are found this way.
	Interval time.Duration
	Logger   *slog.Logger
	// OnViolation, if set, is called for every violation the check finds
	// (for metrics). It must be quick.
	OnViolation func(code trackplan.Code)
	// OnApply, if set, is called after each Apply with the records applied
	// and how long reading, checking and applying took.
	OnApply func(records int, took time.Duration)
	// Progress, if set, is called after each Apply with the cursor.
	Progress func(cursor int64)
}

// Deriver applies the log to the derived state.
type Deriver struct {
	log     Log
	into    Target
	opts    Options
	checker atomic.Pointer[checkerBox] // SetChecker's, for a target with no plan
	held    atomic.Bool
	wake    chan struct{}
	mu      sync.Mutex // one catch-up (or plan switch) at a time in this process

	// plan is the target's verdict plan as last read, compiled; nil until
	// read. Guarded by mu.
	plan *compiledPlan
	// rechecking is the re-check under way, if any (see Rechecking).
	rechecking atomic.Pointer[RecheckProgress]
	// wanted is the plan Run is to switch to (see Want).
	wanted atomic.Pointer[store.PlanVersion]
}

type checkerBox struct{ c Checker }

// compiledPlan is a plan version and its checker.
type compiledPlan struct {
	version store.PlanVersion
	checker Checker // nil when the version is empty
}

func compile(v store.PlanVersion) *compiledPlan {
	cp := &compiledPlan{version: v}
	if v.ID != "" && v.Plan != nil {
		cp.checker = trackplan.NewChecker(v.Plan)
	}
	return cp
}

// New returns a Deriver reading log and writing into target (often the same
// store).
func New(log Log, into Target, opts Options) *Deriver {
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = 50_000
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Deriver{log: log, into: into, opts: opts, wake: make(chan struct{}, 1)}
}

// SetChecker sets what the following runs are checked with while the
// target follows no plan (a fresh store, tests); nil turns checking off.
// Once the target follows a plan (see Recheck), runs are checked against
// that plan whatever was set here.
func (d *Deriver) SetChecker(c Checker) {
	if c == nil {
		d.checker.Store(nil)
		return
	}
	d.checker.Store(&checkerBox{c})
}

// Hold stops (true) or resumes (false) deriving: a held Deriver's CatchUp
// applies nothing. A daemon holds it while the plan it must check against
// is not loaded, rather than derive records unchecked for good.
func (d *Deriver) Hold(held bool) {
	d.held.Store(held)
	if !held {
		d.Notify()
	}
}

// Notify tells Run that the log grew; it never blocks.
func (d *Deriver) Notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// ErrNotItsLog is returned when the derived state is ahead of the log it
// is asked to derive from: the log is not the one it was built from (a
// store restored without its log, or the target of `rebuild --into`), and
// records appended to it would never be derived.
var ErrNotItsLog = errors.New("the log is not the one the derived state was built from")

// Result is what a catch-up did.
type Result struct {
	Records int   // records applied by this call
	Cursor  int64 // the cursor afterwards
	// Skipped are the corrupt blocks passed over (SkipCorrupt only).
	Skipped []*store.CorruptBlockError
	// Quarantined are the records the target could not take
	// (store.ErrUnstorable), passed over and recorded by the target.
	Quarantined []int64
}

// CatchUp applies everything the log holds beyond the cursor, run by run,
// and returns once the cursor reached the head it found. A run another
// process applied first is read again from the moved cursor. A run the
// target refuses as unstorable is applied in halves, down to the records
// that fail alone, which are quarantined: the cursor moves past them and
// the target records them, so one bad record never stalls derivation.
func (d *Deriver) CatchUp(ctx context.Context) (Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var res Result
	if d.held.Load() {
		return res, nil
	}
	for {
		epoch, err := d.into.Epoch(ctx)
		if err != nil {
			return res, err
		}
		cur, err := d.into.Cursor(ctx)
		if err != nil {
			return res, err
		}
		res.Cursor = cur
		if head, err := d.log.LogHead(ctx); err != nil {
			return res, err
		} else if cur > head {
			return res, fmt.Errorf("the derived state covers records up to %d but the log ends at %d: %w", cur, head, ErrNotItsLog)
		}
		if d.plan == nil {
			if err := d.loadPlan(ctx); err != nil {
				return res, err
			}
		}
		start := time.Now()
		r, err := d.read(ctx, cur, &res)
		if err != nil {
			return res, err
		}
		b, to, n := r.batch, r.to, len(r.recs)
		if to == cur {
			return res, nil
		}
		b.Epoch = epoch
		b.Plan = d.plan.version.ID
		err = d.into.Apply(ctx, cur, to, b)
		if errors.Is(err, store.ErrUnstorable) {
			n, err = d.isolate(ctx, cur, to, r, err, &res)
			if err != nil {
				res.Records += n // the halves applied before it stopped
			}
		}
		if err != nil {
			if errors.Is(err, store.ErrCursorMoved) {
				continue
			}
			if errors.Is(err, store.ErrPlanMoved) {
				// Another process switched the plan: check against it.
				d.plan = nil
				continue
			}
			return res, fmt.Errorf("derive records %d-%d: %w", cur+1, to, err)
		}
		res.Records += n
		res.Cursor = to
		if d.opts.OnApply != nil {
			d.opts.OnApply(n, time.Since(start))
		}
		if d.opts.Progress != nil {
			d.opts.Progress(to)
		}
	}
}

// run is a run read from the log: its batch, the sequence number it ends at
// (the cursor it was read from when the log holds nothing more), and its
// records in log order, each with where its entry is in the batch.
type run struct {
	batch *store.Batch
	to    int64
	recs  []runRecord
}

// runRecord is a record of a run: a message (msg is its index in the
// batch's Messages) or a rejection (msg < 0, rej its index in Rejections).
type runRecord struct {
	seq      int64
	msg, rej int
}

// sub is the batch of some of the run's records.
func (r *run) sub(recs []runRecord) *store.Batch {
	b := &store.Batch{Epoch: r.batch.Epoch, Plan: r.batch.Plan, Planned: r.batch.Planned}
	for _, rr := range recs {
		if rr.msg >= 0 {
			b.Messages = append(b.Messages, r.batch.Messages[rr.msg])
		} else {
			b.Rejections = append(b.Rejections, r.batch.Rejections[rr.rej])
		}
	}
	return b
}

// isolate applies a run the target refused as unstorable (first) in halves,
// each with its cursor range, down to the records the target refuses alone,
// which it quarantines. It returns the records applied; an error other than
// an unstorable one stops it (the cursor stays where the last half moved
// it, and the next catch-up reads on from there).
func (d *Deriver) isolate(ctx context.Context, from, to int64, r *run, first error, res *Result) (int, error) {
	applied := 0
	var apply func(from, to int64, recs []runRecord, err error) error
	apply = func(from, to int64, recs []runRecord, err error) error {
		if err == nil {
			err = d.into.Apply(ctx, from, to, r.sub(recs))
			if err == nil {
				applied += len(recs)
				return nil
			}
			if !errors.Is(err, store.ErrUnstorable) {
				return err
			}
		}
		switch len(recs) {
		case 0:
			return err // nothing to isolate: the run's cursor range alone failed
		case 1:
			seq := recs[0].seq
			if qerr := d.into.Quarantine(ctx, from, to, r.batch.Epoch, seq, err.Error()); qerr != nil {
				return qerr
			}
			d.opts.Logger.Error("log record quarantined: the store cannot apply it", "seq", seq, "err", err)
			res.Quarantined = append(res.Quarantined, seq)
			return nil
		}
		mid := len(recs) / 2
		split := recs[mid-1].seq
		if err := apply(from, split, recs[:mid], nil); err != nil {
			return err
		}
		return apply(split, to, recs[mid:], nil)
	}
	err := apply(from, to, r.recs, first)
	return applied, err
}

// read decodes and checks the next run after cur. Records up to cur that
// the first block holds (a cursor left inside a block) are skipped.
func (d *Deriver) read(ctx context.Context, cur int64, res *Result) (*run, error) {
	var (
		b     store.Batch
		r     = &run{batch: &b, to: cur}
		check func(*trackplan.Message) []trackplan.Violation
	)
	var c Checker
	if d.plan.checker != nil {
		c = d.plan.checker
	} else if box := d.checker.Load(); box != nil {
		c = box.c
	}
	if c != nil {
		// A checker that names what the plan plans (a *trackplan.Checker)
		// tells the guard what it must always let through.
		if pn, ok := c.(store.PlanNames); ok {
			b.Planned = pn
		}
		check = c.Check
		if on := d.opts.OnViolation; on != nil {
			check = func(m *trackplan.Message) []trackplan.Violation {
				vs := c.Check(m)
				for _, v := range vs {
					on(v.Code)
				}
				return vs
			}
		}
	}
	err := d.log.ReadLog(ctx, cur, d.opts.MaxRecords, func(blk store.LogBlock) error {
		recs, err := store.DecodeBlock(blk)
		if err != nil {
			var ce *store.CorruptBlockError
			if d.opts.SkipCorrupt && errors.As(err, &ce) {
				d.opts.Logger.Error("corrupt log block skipped", "first", ce.First, "last", ce.Last, "err", ce.Err)
				res.Skipped = append(res.Skipped, ce)
				r.to = max(r.to, blk.Last)
				return nil
			}
			return err
		}
		for len(recs) > 0 && recs[0].Seq <= cur {
			recs = recs[1:]
		}
		msgs, rejs := len(b.Messages), len(b.Rejections)
		for _, rec := range recs {
			rr := runRecord{seq: rec.Seq, msg: -1, rej: rejs}
			if rec.Message != nil {
				rr.msg, rr.rej = msgs, -1
				msgs++
			} else {
				rejs++
			}
			r.recs = append(r.recs, rr)
		}
		b.Add(recs, check)
		r.to = max(r.to, blk.Last)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read log after %d: %w", cur, err)
	}
	return r, nil
}

// loadPlan reads and compiles the target's verdict plan. Called with mu
// held.
func (d *Deriver) loadPlan(ctx context.Context) error {
	v, err := d.into.VerdictPlan(ctx)
	if err != nil {
		return fmt.Errorf("read the verdict plan: %w", err)
	}
	d.plan = compile(v)
	return nil
}

// Plan returns the plan version the verdicts follow (ID "" when none).
func (d *Deriver) Plan(ctx context.Context) (store.PlanVersion, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.loadPlan(ctx); err != nil {
		return store.PlanVersion{}, err
	}
	return d.plan.version, nil
}

// Run catches up whenever notified, and every Interval, until ctx ends. A
// failed catch-up is logged and retried at the next tick.
func (d *Deriver) Run(ctx context.Context) error {
	tick := time.NewTicker(d.opts.Interval)
	defer tick.Stop()
	var rechecks recheckRunner
	defer rechecks.wg.Wait() // a re-check ends with ctx
	for {
		d.startWanted(ctx, &rechecks)
		if _, err := d.CatchUp(ctx); err != nil && ctx.Err() == nil {
			d.opts.Logger.Error("derive from the log failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-tick.C:
		}
	}
}

// Lag is how far the derived state is behind the log.
type Lag struct {
	Records int64         // records appended but not applied
	Age     time.Duration // since the oldest unapplied record arrived; 0 when caught up
}

// Lag measures how far the derived state is behind the log now.
func (d *Deriver) Lag(ctx context.Context, now time.Time) (Lag, error) {
	head, err := d.log.LogHead(ctx)
	if err != nil {
		return Lag{}, err
	}
	cur, err := d.into.Cursor(ctx)
	if err != nil {
		return Lag{}, err
	}
	l := Lag{Records: max(0, head-cur)}
	if l.Records == 0 {
		return l, nil
	}
	err = d.log.ReadLog(ctx, cur, 1, func(b store.LogBlock) error {
		l.Age = max(0, now.Sub(b.At))
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return l, err
	}
	return l, nil
}

var errStop = errors.New("stop")
