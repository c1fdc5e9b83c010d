package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/metrics"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/schedule"
	"github.com/trackplan/trackplan/scoring"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

// Job names, as used by the config's schedule, `serve --once` and the run log.
const (
	jobPlanRefresh = "plan-refresh"
	jobNotionSync  = "notion-sync"
	jobScore       = "score"
	jobPush        = "push"
	jobPrune       = "prune"
)

// daemon holds what the scheduled jobs share: the store, the current plan
// (swapped atomically by plan-refresh) and the aggregator whose check
// follows the plan.
type daemon struct {
	cfg     Config
	st      store.Store
	log     *slog.Logger
	metrics *metrics.Metrics
	now     func() time.Time
	plan    atomic.Pointer[trackplan.Plan]
	deriver *derive.Deriver
	// check says whether messages are checked against the plan (serve
	// --check); plan-refresh never turns it on when it is off.
	check bool
	// readPlan reads the plan from its source (file, Notion, template).
	readPlan func(ctx context.Context) (*trackplan.Plan, error)
	// notionSyncRun runs the Notion write-back; nil when the plan is not
	// in Notion.
	notionSyncRun func(ctx context.Context) (notion.Changes, error)
	// push is the score push job; nil when pushing is not configured.
	push schedule.Func
	// alerts evaluates the alert rules after the jobs that feed them
	// (alerts.go); nil until jobs sets it up.
	alerts *alerts.Notifier
}

// currentPlan is the plan in force, never nil.
func (d *daemon) currentPlan() *trackplan.Plan {
	if p := d.plan.Load(); p != nil {
		return p
	}
	return &trackplan.Plan{Version: trackplan.PlanVersion}
}

// setPlan puts a plan in force: the store's verdicts are re-checked
// against it (when it checks differently from the plan they follow), and
// messages derived from then on are checked against it.
func (d *daemon) setPlan(ctx context.Context, p *trackplan.Plan) (derive.RecheckResult, error) {
	d.plan.Store(p)
	if d.deriver == nil || !d.check {
		return derive.RecheckResult{}, nil
	}
	d.deriver.SetChecker(trackplan.NewChecker(p))
	res, err := d.deriver.Recheck(ctx, planVersion(d.cfg, p))
	if err != nil {
		return res, fmt.Errorf("re-check the log against the plan: %w", err)
	}
	d.deriver.Hold(false)
	return res, nil
}

// jobs lists the daemon's jobs with the config's schedules.
func (d *daemon) jobs() []schedule.Job {
	s := d.cfg.Schedule
	jobs := []schedule.Job{
		{Name: jobPlanRefresh, Spec: s.PlanRefresh, Run: d.refreshPlan},
		{Name: jobScore, Spec: s.Score, Run: d.score},
		{Name: jobPrune, Spec: s.Prune, Run: d.prune},
	}
	if d.notionSyncRun != nil {
		jobs = append(jobs, schedule.Job{Name: jobNotionSync, Spec: s.NotionSync, Run: d.notionSync})
	}
	if d.push != nil {
		jobs = append(jobs, schedule.Job{Name: jobPush, Run: d.push})
		jobs[1].Then = jobPush // push after each successful score run
	}
	if err := d.setUpAlerts(); err != nil {
		d.log.Error("alerts off: bad configuration", "err", err)
		return jobs
	}
	for i := range jobs {
		jobs[i].Run = d.watch(jobs[i].Name, jobs[i].Run)
	}
	if s := d.cfg.Alerts.Schedule; s != "" {
		jobs = append(jobs, schedule.Job{Name: jobAlerts, Spec: s, Run: d.watch(jobAlerts, d.evaluateAlerts)})
	}
	return jobs
}

func (d *daemon) refreshPlan(ctx context.Context) (map[string]int64, error) {
	p, err := d.readPlan(ctx)
	if err != nil {
		return nil, err
	}
	res, err := d.setPlan(ctx, p)
	return map[string]int64{"events": int64(len(p.Events)), "rechecked": res.Rechecked}, err
}

func (d *daemon) notionSync(ctx context.Context) (map[string]int64, error) {
	changes, err := d.notionSyncRun(ctx)
	return map[string]int64{"rows_written": int64(len(changes))}, err
}

func (d *daemon) score(ctx context.Context) (map[string]int64, error) {
	profiles, err := scoringProfiles(d.currentPlan(), d.cfg)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	saver := saverFunc(func(ctx context.Context, run *trackplan.ScoreRun) error {
		counts["profiles"]++
		counts["accounts"] += int64(len(run.Accounts))
		counts["active_users"] += int64(run.ActiveUsers)
		return d.st.SaveScores(ctx, run)
	})
	r := &scoring.Runner{Source: d.st, Saver: saver, History: d.st, Profiles: profiles,
		AccountNameTrait: d.cfg.Scoring.AccountNameTrait, MembershipTrait: d.cfg.Scoring.MembershipTrait, Now: d.now, Logger: d.log}
	return counts, r.Run(ctx)
}

func (d *daemon) prune(ctx context.Context) (map[string]int64, error) {
	now := d.now().UTC()
	r := d.cfg.Retention
	cutoff := now.Add(-time.Duration(r.Events))
	pruned, logErr := d.st.PruneLog(ctx, cutoff)
	d.warnForwardingHoldsLog(ctx, cutoff)
	err := errors.Join(
		logErr,
		d.st.Prune(ctx, now.Add(-time.Duration(r.Dedupe)), now.AddDate(0, 0, -r.ActivityDays)),
		d.st.PruneScores(ctx, now.AddDate(0, 0, -r.SnapshotDays)),
		d.st.PruneAlerts(ctx, now.AddDate(0, 0, -r.SnapshotDays)),
	)
	return map[string]int64{"log_blocks": pruned.Blocks, "log_records": pruned.Records}, err
}

// saverFunc adapts a function to scoring.SnapshotSaver.
type saverFunc func(ctx context.Context, run *trackplan.ScoreRun) error

func (f saverFunc) SaveScores(ctx context.Context, run *trackplan.ScoreRun) error { return f(ctx, run) }

// storeSize reports the size of a SQLite store (database, log and WAL files).
func storeSize(dsn string) func() float64 {
	if isPostgres(dsn) {
		return nil
	}
	return func() float64 {
		var total int64
		log := sqlite.LogPath(dsn)
		for _, p := range []string{dsn, dsn + "-wal", log, log + "-wal"} {
			if fi, err := os.Stat(p); err == nil {
				total += fi.Size()
			}
		}
		return float64(total)
	}
}

// runOnce runs one job and reports it like the scheduler would.
func runOnce(ctx context.Context, s *schedule.Scheduler, job string) error {
	if err := s.RunOnce(ctx, job); err != nil {
		if errors.Is(err, schedule.ErrUnknownJob) {
			return usage("--once %s: no such job", job)
		}
		return upstream(fmt.Errorf("job %s: %w", job, err))
	}
	return nil
}
