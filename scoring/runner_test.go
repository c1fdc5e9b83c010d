package scoring

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trackplan/trackplan"
)

func runnerFixture() *fakeSource {
	return newFake().
		did("a", "E", ts("2024-03-14T10:00:00Z"), 2).
		did("b", "E", ts("2024-03-13T10:00:00Z"), 1).
		did("b", "E", ts("2024-03-03T10:00:00Z"), 2). // the 7-day time frame before
		member("a", "acct").member("b", "acct")
}

func TestScoreRunnerSavesEveryProfile(t *testing.T) {
	saver := &fakeSaver{}
	r := &Runner{
		Source: runnerFixture(),
		Saver:  saver,
		Profiles: []*trackplan.Profile{
			profile(map[string]int{"E": 1}),
			{Name: "monthly", Events: map[string]int{"E": 3}, WindowDays: 30},
		},
		Now: func() time.Time { return ts("2024-03-15T06:00:00Z") },
	}
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Profile    string
		At         time.Time
		WindowDays int
		P90        float64
		Scores     []int
	}
	var got []summary
	for _, run := range saver.runs {
		got = append(got, summary{run.Profile, run.At, run.WindowDays, run.P90, scoresOf(run)})
	}
	want := []summary{
		// Raws a 2, b 1: P90 = 1 + 0.9 = 1.9.
		{"test", ts("2024-03-15T06:00:00Z"), 7, 1.9, []int{100, 53}},
		// Raws a 6, b 9: P90 = 6 + 0.9×3 = 8.7.
		{"monthly", ts("2024-03-15T06:00:00Z"), 30, 8.7, []int{69, 100}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("saved runs (-want +got):\n%s", diff)
	}
}

func TestScoreRunnerBaseline(t *testing.T) {
	now := ts("2024-03-15T06:00:00Z")
	snapshot := func(at time.Time, score int) *trackplan.ScoreRun {
		start, end := trackplan.ScoreWindow(at, 7)
		return &trackplan.ScoreRun{Profile: "test", At: at, WindowDays: 7, WindowStart: start, WindowEnd: end,
			Users: []trackplan.UserScore{{ID: "a", Score: score}}}
	}
	tests := []struct {
		name    string
		history *fakeHistory
		trend   float64 // of user a, now 100
		wantErr string
	}{
		// Computed: a had nothing in [03-01, 03-08).
		{name: "no history", history: nil, trend: 100},
		{name: "not found", history: &fakeHistory{}, trend: 100},
		// A run at 23:00 on 03-08 has its time frame end at 03-08: used.
		{name: "snapshot of the day", history: &fakeHistory{runs: []*trackplan.ScoreRun{
			snapshot(ts("2024-03-08T01:00:00Z"), 95), snapshot(ts("2024-03-08T23:00:00Z"), 80),
		}}, trend: 20},
		// The latest run before 03-09 is from 03-07: its time frame ended
		// a day early, so the baseline is computed.
		{name: "missed day", history: &fakeHistory{runs: []*trackplan.ScoreRun{
			snapshot(ts("2024-03-07T12:00:00Z"), 80),
		}}, trend: 100},
		{name: "history fails", history: &fakeHistory{err: errors.New("disk on fire")}, wantErr: `read earlier scores of profile "test": disk on fire`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saver := &fakeSaver{}
			r := &Runner{Source: runnerFixture(), Saver: saver, Profiles: []*trackplan.Profile{profile(map[string]int{"E": 1})},
				Now: func() time.Time { return now }}
			if tt.history != nil {
				r.History = tt.history
			}
			err := r.Run(context.Background())
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Run error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := usersByID(saver.runs[0])["a"].Trend.Change; got != tt.trend {
				t.Errorf("trend of a = %v, want %v", got, tt.trend)
			}
			if tt.history != nil && !cmp.Equal(tt.history.before, []time.Time{ts("2024-03-09T00:00:00Z")}) {
				t.Errorf("asked for runs before %v, want 2024-03-09", tt.history.before)
			}
		})
	}
}

func TestScoreRunnerErrors(t *testing.T) {
	boom := errors.New("boom")
	ok := []*trackplan.Profile{profile(map[string]int{"E": 1})}
	failing := newFake()
	failing.err = boom
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		source   *fakeSource
		saver    *fakeSaver
		profiles []*trackplan.Profile
		want     string
	}{
		{"source", context.Background(), failing, &fakeSaver{}, ok, "score: load identity links: boom"},
		{"saver", context.Background(), runnerFixture(), &fakeSaver{err: boom}, ok, `save scores of profile "test": boom`},
		{"canceled", canceled, runnerFixture(), &fakeSaver{}, ok, `score profile "test": context canceled`},
		{"invalid", context.Background(), runnerFixture(), &fakeSaver{}, []*trackplan.Profile{
			ok[0], {Name: "bad", Events: map[string]int{"Report Exported": 12}},
		}, `score: profiles[1].events["Report Exported"]: weight 12 outside 1–10`},
		{"duplicate", context.Background(), runnerFixture(), &fakeSaver{}, []*trackplan.Profile{ok[0], ok[0]},
			`score: profiles[1].name: "test" already names profiles[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{Source: tt.source, Saver: tt.saver, Profiles: tt.profiles, Now: func() time.Time { return at }}
			err := r.Run(tt.ctx)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Run error = %v, want %q", err, tt.want)
			}
			if tt.name == "invalid" || tt.name == "duplicate" {
				var v *trackplan.ValidationError
				if !errors.As(err, &v) || len(v.Problems) != 1 || !strings.HasPrefix(v.Problems[0].Field, "profiles[1].") {
					t.Errorf("Run error %v is not a ValidationError on profiles[1]", err)
				}
			}
		})
	}
}
