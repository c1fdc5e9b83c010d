package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/metrics"
	"github.com/trackplan/trackplan/store"
)

// liveRun is how many records the live aggregator applies at most per
// transaction: at a third of the collector's peak rate, runs of 20,000
// kept the derive lag at 4–5.5 s where runs of 50,000 let it reach 6–8 s,
// at the same sustained throughput.
const liveRun = 20_000

// newDeriver returns the aggregator of st's log into st, checking messages
// against plan (nil: unchecked) and counting into m when set.
func newDeriver(c *cli.Context, st store.Store, plan *trackplan.Plan, m *metrics.Metrics) *derive.Deriver {
	opts := derive.Options{Logger: logger(c), MaxRecords: liveRun}
	if m != nil {
		opts.OnViolation = func(code trackplan.Code) { m.Violation(string(code)) }
		opts.OnApply = func(n int, took time.Duration) { m.Derived(n, took) }
	}
	d := derive.New(st, st, opts)
	if plan != nil {
		d.SetChecker(trackplan.NewChecker(plan))
	}
	return d
}

// catchUp applies whatever the log holds beyond the cursor before a command
// reads derived state, so nothing it reports is stale even with no daemon
// running. The plan is read only when there is something to apply (plan
// nil); when it cannot be read, nothing is applied (records derived
// unchecked would miss their verdicts for good) and the command says so.
// readOnly reports whether st was opened read-only (a SQLite store this
// process may not write).
func readOnly(st store.Store) bool {
	ro, ok := st.(interface{ ReadOnly() bool })
	return ok && ro.ReadOnly()
}

func catchUp(c *cli.Context, cfg Config, st store.Store, plan *trackplan.Plan) error {
	if readOnly(st) {
		logger(c).Warn("read-only store: showing the derived state as it was last derived; records appended since are not applied")
		return nil
	}
	head, err := st.LogHead(c.Context)
	if err != nil {
		return upstream(fmt.Errorf("read the event log: %w", err))
	}
	cur, err := st.Cursor(c.Context)
	if err != nil {
		return upstream(fmt.Errorf("read the derive cursor: %w", err))
	}
	switch {
	case head == 0 && cur > 0:
		// Derived state without a log: the target of `rebuild --into`.
		logger(c).Warn("the store holds derived state but no log; nothing to derive", "cursor", cur)
		return nil
	case cur > head:
		return upstream(fmt.Errorf("the derived state covers log records up to %d but the log ends at %d: %w", cur, head, derive.ErrNotItsLog))
	case head == cur && plan == nil:
		return nil
	}
	start := time.Now()
	d := newDeriver(c, st, plan, nil)
	if plan == nil {
		// Records are checked against the plan the store follows; only a
		// store that follows none yet needs the configured one.
		if v, err := d.Plan(c.Context); err != nil {
			return upstream(err)
		} else if v.ID == "" {
			if plan, err = loadPlan(c, cfg); err != nil {
				logger(c).Warn("plan not loaded; the newest logged messages are not derived yet", "pending", head-cur, "err", err)
				return nil
			}
		}
	}
	if plan != nil {
		if _, err := adoptPlan(c, cfg, d, plan, false); err != nil {
			return err
		}
	}
	r, err := d.CatchUp(c.Context)
	if err != nil {
		return upstream(fmt.Errorf("derive from the event log: %w", err))
	}
	logger(c).Debug("derived from the event log", "records", r.Records, "cursor", r.Cursor, "took", time.Since(start))
	return nil
}

// planVersion describes the plan loaded from cfg's plan source.
func planVersion(cfg Config, plan *trackplan.Plan) store.PlanVersion {
	var edited time.Time
	lastNotionPlan.Lock()
	if lastNotionPlan.plan == plan {
		edited = lastNotionPlan.edited
	}
	lastNotionPlan.Unlock()
	return store.NewPlanVersion(plan, planOrigin(cfg), edited, time.Now())
}

// planOrigin names where cfg's plan comes from: a Notion database, a file
// (by absolute path) or the built-in template.
func planOrigin(cfg Config) string {
	switch src := cfg.Plan; {
	case src == "":
		return "template:" + defaultTemplate
	case strings.HasPrefix(src, "notion:"):
		return src
	default:
		if abs, err := filepath.Abs(src); err == nil {
			src = abs
		}
		return "file:" + src
	}
}

// adoptPlan makes the store's verdicts follow plan when they follow no plan
// yet, or an older version from the same source (the file or database
// was edited): the store's verdicts are re-checked from the log. A plan
// from another source is a what-if and is not adopted (adopted false). With
// always, any plan is adopted.
func adoptPlan(c *cli.Context, cfg Config, d *derive.Deriver, plan *trackplan.Plan, always bool) (adopted bool, err error) {
	cur, err := d.Plan(c.Context)
	if err != nil {
		return false, upstream(err)
	}
	v := planVersion(cfg, plan)
	if cur.ID == v.ID {
		return true, nil
	}
	if cur.ID != "" && cur.Origin != v.Origin && !always {
		return false, nil
	}
	if cur.ID != "" {
		logger(c).Info("the plan changed since the store's verdicts were judged; re-checking the log against it",
			"was", cur.ID, "now", v.ID, "origin", v.Origin)
	}
	res, err := d.Recheck(c.Context, v)
	if err != nil {
		return false, upstream(fmt.Errorf("re-check the log against the plan: %w", err))
	}
	if res.Rechecked > 0 {
		logger(c).Info("re-checked the log against the plan", "plan", v.ID, "records", res.Rechecked, "took", res.Took.Round(time.Millisecond))
	}
	return true, nil
}

// runDeriver runs d until ctx ends and returns a function that stops it
// and waits for it.
func runDeriver(ctx context.Context, d *derive.Deriver) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.Run(ctx)
	}()
	return func() { cancel(); <-done }
}
