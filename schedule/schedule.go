// Package schedule runs trackplan's jobs on cron expressions (robfig/cron,
// its only importer): a job never overlaps itself, every run is recorded in
// the run log, a failing job is logged and counted but never stops the
// daemon, and jobs can be chained (push after each successful score run).
package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/trackplan/trackplan"
)

// Func is a job's body. It returns counts worth recording (messages sent,
// rows written, …).
type Func func(ctx context.Context) (map[string]int64, error)

// Job is a named job with an optional cron expression; a job without one
// runs only when triggered (by another job's Then, or RunOnce).
type Job struct {
	Name string
	Spec string // standard 5-field cron, or descriptors such as @hourly
	Run  Func
	// Then names a job to run after each successful run of this one.
	Then string
}

// RunLog records job runs.
type RunLog interface {
	RecordRun(ctx context.Context, r *trackplan.JobRun) error
}

// Scheduler runs jobs. Create it with New, then Start and Stop it.
type Scheduler struct {
	log    *slog.Logger
	runLog RunLog
	now    func() time.Time
	// leader reports whether this process should run scheduled jobs (one
	// replica of several); nil means always.
	leader   func() bool
	observed func(job, outcome string, took time.Duration)
	instance string

	jobs    map[string]*entry
	cron    *cron.Cron
	ctx     context.Context
	cancel  context.CancelFunc
	running sync.WaitGroup
}

type entry struct {
	Job
	mu sync.Mutex // held while the job runs: no overlap
}

// Options configure a Scheduler.
type Options struct {
	Logger *slog.Logger
	RunLog RunLog
	Now    func() time.Time
	// Leader, when set, gates scheduled (not RunOnce) runs.
	Leader func() bool
	// Observe, when set, is told every run's outcome and duration (metrics).
	Observe func(job, outcome string, took time.Duration)
	// Instance names this process in the run log (default host:pid).
	Instance string
}

// ValidSpec reports whether a cron expression parses.
func ValidSpec(spec string) error {
	if _, err := cron.ParseStandard(spec); err != nil {
		return fmt.Errorf("bad cron expression %q: %w", spec, err)
	}
	return nil
}

// New builds a scheduler for jobs; it validates every spec and Then.
func New(jobs []Job, o Options) (*Scheduler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Instance == "" {
		host, _ := os.Hostname()
		o.Instance = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	s := &Scheduler{log: o.Logger, runLog: o.RunLog, now: o.Now, leader: o.Leader, observed: o.Observe,
		instance: o.Instance, jobs: map[string]*entry{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cron = cron.New(cron.WithLocation(time.UTC))
	for _, j := range jobs {
		if _, dup := s.jobs[j.Name]; dup {
			return nil, fmt.Errorf("job %q defined twice", j.Name)
		}
		s.jobs[j.Name] = &entry{Job: j}
	}
	for _, e := range s.jobs {
		if e.Then != "" {
			if _, ok := s.jobs[e.Then]; !ok {
				return nil, fmt.Errorf("job %q: then %q: no such job", e.Name, e.Then)
			}
		}
		if e.Spec == "" {
			continue
		}
		name := e.Name
		if _, err := s.cron.AddFunc(e.Spec, func() { s.scheduled(name) }); err != nil {
			return nil, fmt.Errorf("job %q: bad cron expression %q: %w", name, e.Spec, err)
		}
	}
	return s, nil
}

// Start starts the cron loop.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling new runs and waits up to grace for running jobs;
// past it their context is cancelled (the next run converges) and Stop
// waits for them to return.
func (s *Scheduler) Stop(grace time.Duration) {
	cronDone := s.cron.Stop() // no new runs; Done once started ones return
	done := make(chan struct{})
	go func() {
		<-cronDone.Done()
		s.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(grace):
		s.log.Warn("jobs still running after the grace period; abandoning them")
		s.cancel()
		<-done
	}
	s.cancel()
}

func (s *Scheduler) scheduled(name string) {
	if s.leader != nil && !s.leader() {
		s.log.Debug("not the leader; job left to another replica", "job", name)
		return
	}
	s.running.Add(1)
	defer s.running.Done()
	s.run(s.ctx, name)
}

// ErrUnknownJob is returned by RunOnce for a name no job has.
var ErrUnknownJob = errors.New("unknown job")

// RunOnce runs one job now (and its Then chain), waits for it and returns
// its error. A job already running is skipped, not queued.
func (s *Scheduler) RunOnce(ctx context.Context, name string) error {
	if _, ok := s.jobs[name]; !ok {
		return fmt.Errorf("%w %q", ErrUnknownJob, name)
	}
	s.running.Add(1)
	defer s.running.Done()
	return s.run(ctx, name)
}

// ErrAlreadyRunning is returned when a job is triggered while it runs.
var ErrAlreadyRunning = errors.New("job already running")

func (s *Scheduler) run(ctx context.Context, name string) error {
	e := s.jobs[name]
	r := &trackplan.JobRun{Job: name, Instance: s.instance, Started: s.now().UTC()}
	var err error
	if !e.mu.TryLock() {
		err = ErrAlreadyRunning
		r.Outcome = trackplan.OutcomeSkipped
		r.Error = err.Error()
		s.log.Warn("job skipped: previous run still going", "job", name)
	} else {
		r.Counts, err = s.safeRun(ctx, e)
		e.mu.Unlock()
		r.Outcome = trackplan.OutcomeOK
		if err != nil {
			r.Outcome, r.Error = trackplan.OutcomeFailed, err.Error()
			s.log.Error("job failed", "job", name, "err", err)
		} else {
			s.log.Info("job finished", "job", name, "counts", r.Counts)
		}
	}
	r.Finished = s.now().UTC()
	if s.observed != nil {
		s.observed(name, r.Outcome, r.Finished.Sub(r.Started))
	}
	if s.runLog != nil {
		// The run log must be written even when ctx was cancelled.
		if lerr := s.runLog.RecordRun(context.WithoutCancel(ctx), r); lerr != nil {
			s.log.Error("record job run", "job", name, "err", lerr)
		}
	}
	if err == nil && e.Then != "" {
		return s.run(ctx, e.Then)
	}
	return err
}

// safeRun turns a panicking job into a failed run.
func (s *Scheduler) safeRun(ctx context.Context, e *entry) (counts map[string]int64, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job panicked: %v", p)
		}
	}()
	return e.Run(ctx)
}
