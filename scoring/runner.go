package scoring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/trackplan/trackplan"
)

// Runner is the scoring job: it loads what its profiles need from Source in
// one pass, scores every profile and saves each run through Saver.
type Runner struct {
	// Source streams the rollups, traits and memberships.
	Source ActivitySource
	// Saver stores each profile's run.
	Saver SnapshotSaver
	// History, when set, supplies the trend baselines from earlier runs; a
	// profile without a run of exactly one time frame earlier gets its
	// baseline computed from the loaded rollups instead.
	History SnapshotLoader
	// Profiles are the profiles to score, each valid.
	Profiles []*trackplan.Profile
	// AccountNameTrait is the account trait used as display name; empty
	// means trackplan.DefaultAccountNameTrait.
	AccountNameTrait string
	// MembershipTrait, when set, is the user trait naming a user's
	// account (scoring.membership_trait).
	MembershipTrait string
	// Now returns the time of a run (and times the log lines); nil means
	// time.Now.
	Now func() time.Time
	// Logger receives one line per scored profile; nil discards.
	Logger *slog.Logger
}

// Run scores every profile as of r.Now().
func (r *Runner) Run(ctx context.Context) error {
	return r.RunAt(ctx, r.now())
}

func (r *Runner) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// RunAt scores every profile as of at and saves the runs. It stops at the
// first error.
func (r *Runner) RunAt(ctx context.Context, at time.Time) error {
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(r.Profiles) == 0 {
		return nil
	}
	var verr trackplan.ValidationError
	names := map[string]int{}
	for i, p := range r.Profiles {
		if j, ok := names[p.Name]; ok {
			verr.Add(fmt.Sprintf("profiles[%d].name", i), fmt.Sprintf("%q already names profiles[%d]", p.Name, j))
		}
		names[p.Name] = i
		if err := p.Validate(fmt.Sprintf("profiles[%d]", i)); err != nil {
			var v *trackplan.ValidationError
			if errors.As(err, &v) {
				verr.Problems = append(verr.Problems, v.Problems...)
			}
		}
	}
	if err := verr.Err(); err != nil {
		return fmt.Errorf("score: %w", err)
	}
	began := r.now()
	spec := SpecFor(at, r.AccountNameTrait, r.MembershipTrait, r.Profiles...)
	in, err := Load(ctx, r.Source, spec)
	if err != nil {
		return fmt.Errorf("score: %w", err)
	}
	daily, totals := in.Rows()
	log.Info("scoring input loaded", "users", in.Users(), "accounts", in.Accounts(),
		"daily_rows", daily, "total_rows", totals, "took", r.now().Sub(began))
	for _, p := range r.Profiles {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("score profile %q: %w", p.Name, err)
		}
		began := r.now()
		prev, source, err := r.baseline(ctx, p, at)
		if err != nil {
			return err
		}
		run, err := Score(in, p, at, prev)
		if err != nil {
			return err
		}
		if err := r.Saver.SaveScores(ctx, run); err != nil {
			return fmt.Errorf("save scores of profile %q: %w", p.Name, err)
		}
		log.Info("profile scored", "profile", p.Name, "users", len(run.Users), "accounts", len(run.Accounts),
			"active_users", run.ActiveUsers, "p90", run.P90, "baseline", source, "took", r.now().Sub(began))
	}
	return nil
}

// baseline returns the trend baseline of p for a run at `at`: the latest
// saved run whose time frame ended exactly one time frame before the
// current one, or nil (computed by Score from the input) when there is none.
func (r *Runner) baseline(ctx context.Context, p *trackplan.Profile, at time.Time) (*Previous, string, error) {
	if r.History == nil {
		return nil, "computed", nil
	}
	_, end := trackplan.ScoreWindow(at, p.Window())
	want := end.AddDate(0, 0, -p.Window())
	// A run at any time of the day that starts at `want` has its window end
	// at `want`; ask for the latest run before the next day.
	run, err := r.History.LatestScores(ctx, p.Name, want.AddDate(0, 0, 1))
	switch {
	case errors.Is(err, trackplan.ErrNotFound):
		return nil, "computed", nil
	case err != nil:
		return nil, "", fmt.Errorf("read earlier scores of profile %q: %w", p.Name, err)
	case !run.WindowEnd.Equal(want) || run.WindowDays != p.Window():
		return nil, "computed", nil
	}
	return PreviousFromRun(run), "snapshot", nil
}
