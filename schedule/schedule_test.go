package schedule

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/trackplan/trackplan"
)

type memLog struct {
	mu   sync.Mutex
	runs []trackplan.JobRun
}

func (l *memLog) RecordRun(_ context.Context, r *trackplan.JobRun) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.runs = append(l.runs, *r)
	return nil
}

func (l *memLog) outcomes(job string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.runs {
		if r.Job == job {
			out = append(out, r.Outcome)
		}
	}
	return out
}

func TestCronRunsOnScheduleWithoutOverlap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &memLog{}
		var mu sync.Mutex
		starts := 0
		s, err := New([]Job{{Name: "sync", Spec: "*/5 * * * *", Run: func(ctx context.Context) (map[string]int64, error) {
			mu.Lock()
			starts++
			mu.Unlock()
			time.Sleep(7 * time.Minute) // longer than the period: the next tick must be skipped
			return map[string]int64{"rows": 1}, nil
		}}}, Options{RunLog: log})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		time.Sleep(31 * time.Minute)
		s.Stop(time.Hour)
		got := log.outcomes("sync")
		ok, skipped := 0, 0
		for _, o := range got {
			switch o {
			case trackplan.OutcomeOK:
				ok++
			case trackplan.OutcomeSkipped:
				skipped++
			}
		}
		// Ticks at :05 :10 … :30 — each run lasts 7 minutes, so every other
		// tick finds the previous run still going.
		if ok != 3 || skipped != 3 || starts != 3 {
			t.Errorf("outcomes %v (starts %d); want 3 ok and 3 skipped", got, starts)
		}
	})
}

func TestRunOnceRecordsOutcomes(t *testing.T) {
	boom := errors.New("notion said 502")
	log := &memLog{}
	s, err := New([]Job{
		{Name: "ok", Run: func(context.Context) (map[string]int64, error) { return map[string]int64{"sent": 3}, nil }},
		{Name: "fails", Run: func(context.Context) (map[string]int64, error) { return nil, boom }},
		{Name: "panics", Run: func(context.Context) (map[string]int64, error) { panic("bug") }},
	}, Options{RunLog: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RunOnce(t.Context(), "ok"); err != nil {
		t.Fatal(err)
	}
	if err := s.RunOnce(t.Context(), "fails"); !errors.Is(err, boom) {
		t.Errorf("fails: %v", err)
	}
	if err := s.RunOnce(t.Context(), "panics"); err == nil {
		t.Error("a panicking job reported success")
	}
	if err := s.RunOnce(t.Context(), "nope"); !errors.Is(err, ErrUnknownJob) {
		t.Errorf("unknown job: %v", err)
	}
	if len(log.runs) != 3 || log.runs[0].Counts["sent"] != 3 || log.runs[1].Error != boom.Error() ||
		log.runs[2].Outcome != trackplan.OutcomeFailed {
		t.Errorf("run log = %+v", log.runs)
	}
	for _, r := range log.runs {
		if r.Finished.Before(r.Started) {
			t.Errorf("run %s finished before it started", r.Job)
		}
	}
}

func TestOverlapIsSkipped(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	log := &memLog{}
	s, _ := New([]Job{{Name: "slow", Run: func(context.Context) (map[string]int64, error) {
		close(started)
		<-release
		return nil, nil
	}}}, Options{RunLog: log})
	done := make(chan error)
	go func() { done <- s.RunOnce(context.Background(), "slow") }()
	<-started
	if err := s.RunOnce(context.Background(), "slow"); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second run: %v; want ErrAlreadyRunning", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := log.outcomes("slow"); len(got) != 2 || got[0] != trackplan.OutcomeSkipped || got[1] != trackplan.OutcomeOK {
		t.Errorf("outcomes = %v", got)
	}
}

func TestThenChainsOnSuccessOnly(t *testing.T) {
	log := &memLog{}
	fail := false
	s, err := New([]Job{
		{Name: "score", Then: "push", Run: func(context.Context) (map[string]int64, error) {
			if fail {
				return nil, errors.New("no data")
			}
			return nil, nil
		}},
		{Name: "push", Run: func(context.Context) (map[string]int64, error) { return nil, nil }},
	}, Options{RunLog: log})
	if err != nil {
		t.Fatal(err)
	}
	s.RunOnce(t.Context(), "score")
	fail = true
	s.RunOnce(t.Context(), "score")
	if got := log.outcomes("push"); len(got) != 1 {
		t.Errorf("push ran %d times; want once (only after the successful score)", len(got))
	}
}

func TestLeaderGatesScheduledRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &memLog{}
		var mu sync.Mutex
		leader := false
		s, _ := New([]Job{{Name: "score", Spec: "@every 1m", Run: func(context.Context) (map[string]int64, error) { return nil, nil }}},
			Options{RunLog: log, Leader: func() bool { mu.Lock(); defer mu.Unlock(); return leader }})
		s.Start()
		time.Sleep(150 * time.Second)
		mu.Lock()
		leader = true
		mu.Unlock()
		time.Sleep(120 * time.Second)
		s.Stop(time.Minute)
		if got := len(log.outcomes("score")); got != 2 {
			t.Errorf("%d runs; want 2 (only once leader)", got)
		}
	})
}

func TestBadSpecs(t *testing.T) {
	noop := func(context.Context) (map[string]int64, error) { return nil, nil }
	tests := []struct {
		name string
		jobs []Job
	}{
		{"bad cron", []Job{{Name: "a", Spec: "every day", Run: noop}}},
		{"six fields", []Job{{Name: "a", Spec: "0 0 * * * *", Run: noop}}},
		{"duplicate", []Job{{Name: "a", Run: noop}, {Name: "a", Run: noop}}},
		{"then unknown", []Job{{Name: "a", Then: "b", Run: noop}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.jobs, Options{}); err == nil {
				t.Error("accepted")
			}
		})
	}
	if err := ValidSpec("*/15 * * * *"); err != nil {
		t.Error(err)
	}
}

func TestStopAbandonsJobsAfterGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		log := &memLog{}
		s, _ := New([]Job{{Name: "sync", Spec: "@every 1m", Run: func(ctx context.Context) (map[string]int64, error) {
			<-ctx.Done() // runs until abandoned
			return nil, ctx.Err()
		}}}, Options{RunLog: log})
		s.Start()
		time.Sleep(90 * time.Second) // the job is running
		start := time.Now()
		s.Stop(5 * time.Second)
		if took := time.Since(start); took != 5*time.Second {
			t.Errorf("Stop took %s; want the 5s grace period", took)
		}
		if got := log.outcomes("sync"); len(got) != 1 || got[0] != trackplan.OutcomeFailed {
			t.Errorf("outcomes = %v; want the abandoned run recorded as failed", got)
		}
	})
}
