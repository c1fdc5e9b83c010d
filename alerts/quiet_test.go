package alerts_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/scoring"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
)

// quietEnd ends the quiet-account scenario's simulated traffic: four weeks
// of whole days.
var quietEnd = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)

// submit sends the messages through the ingest pipeline and derives them.
func (e *env) submit(msgs []*trackplan.Message) {
	e.t.Helper()
	p := ingest.Open(e.st, ingest.Options{})
	var err error
	for len(msgs) > 0 && err == nil {
		k := min(len(msgs), 1000)
		err = p.Submit(e.ctx, msgs[:k], nil)
		msgs = msgs[k:]
	}
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.dv.CatchUp(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

// TestAccountGoesQuiet: simulated traffic through the ingest pipeline and
// derive, scored each day by the scoring runner with the default profile,
// the engagement rules evaluated after every run as the daemon does. An
// engaged account whose users all stop sending on a day cools down
// (score_drop pages once, within the week) and, on the first day its
// time frame holds none of its activity, has no active user left
// (no_active_users pages once); a second run each day and the later days
// page nothing more for it. Accounts whose score did not move get no
// alert, and no account that still has active users is told it has none.
func TestAccountGoesQuiet(t *testing.T) {
	e := newEnv(t, nil)
	g, err := simulate.New(e.plan, simulate.Options{Accounts: 30, UsersPerAccount: 4, Days: 28, Seed: 7, Now: quietEnd})
	if err != nil {
		t.Fatal(err)
	}
	stop := quietEnd.AddDate(0, 0, -12)
	var before, after []*trackplan.Message
	if err := g.Generate(func(m *trackplan.Message) error {
		m.Source, m.ReceivedAt = "web", m.Timestamp
		if m.Timestamp.Before(stop) {
			before = append(before, m)
		} else {
			after = append(after, m)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	simulated := map[string]simulate.Account{}
	for _, a := range g.Accounts() {
		simulated[a.ID] = a
	}

	profile := trackplan.DefaultProfile(e.plan)
	r := &scoring.Runner{Source: e.st, Saver: e.st, History: e.st, Profiles: []*trackplan.Profile{profile},
		Now: func() time.Time { return e.now }}
	// runs scores the day twice (06:00 and 07:00, the second run
	// re-evaluating the same day) and evaluates the engagement rules after
	// each run; it returns the day's run.
	runs := map[string]*trackplan.ScoreRun{} // by day
	day := func(d time.Time) *trackplan.ScoreRun {
		for _, h := range []time.Duration{6 * time.Hour, 7 * time.Hour} {
			e.now = d.Add(h)
			if err := r.Run(e.ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := e.n.Engagement(e.ctx, []string{profile.Name}); err != nil {
				t.Fatal(err)
			}
		}
		run, err := e.st.LatestScores(e.ctx, profile.Name, e.now.Add(time.Second))
		if err != nil || !run.At.Equal(e.now) {
			t.Fatalf("the run of %s: %v %v", d, run, err)
		}
		runs[d.Format(time.DateOnly)] = run
		return run
	}

	// The traffic up to the stop day, scored on the two days before it:
	// their time frames end before the stop.
	e.now = stop
	e.submit(before)
	day(stop.AddDate(0, 0, -1))
	last := day(stop)
	// The quiet account: the highest scored of the engaged accounts that
	// are steady (neither new nor dormant in the simulation, in the band
	// of their previous time frame, moved by less than 5 points) and have
	// at least two active users.
	var quiet *trackplan.AccountScore
	for i := range last.Accounts {
		a := &last.Accounts[i]
		s := simulated[a.ID]
		if s.New || s.Dormant || a.ActiveUsers < 2 || a.Band != trackplan.BandEngaged && a.Band != trackplan.BandMostEngaged ||
			a.Band != bandOfFrame(a) || math.Abs(a.Trend.Change) >= 5 {
			continue
		}
		if quiet == nil || a.AverageScore > quiet.AverageScore {
			quiet = a
		}
	}
	if quiet == nil {
		t.Fatalf("no steady engaged account to silence: %+v", last.Accounts)
	}

	// From the stop day on, the quiet account's users send nothing; the
	// others go on. Eleven more days are scored.
	var rest []*trackplan.Message
	for _, m := range after {
		if m.GroupID != quiet.ID {
			rest = append(rest, m)
		}
	}
	e.now = quietEnd
	e.submit(rest)
	for d := stop.AddDate(0, 0, 1); d.Before(quietEnd); d = d.AddDate(0, 0, 1) {
		day(d)
	}

	key := "account:" + profile.Name + "/" + quiet.ID
	recs := e.records(store.AlertQuery{})
	var mine []store.AlertRecord
	for _, a := range recs {
		if a.Key == key {
			mine = append(mine, a)
		}
	}
	// Its score dropped within the week (one page; a repeat inside the
	// cooldown is held), then its active users fell to zero.
	drop, zero := stop.AddDate(0, 0, 1), stop.AddDate(0, 0, 7)
	sent := map[string][]store.AlertRecord{}
	for _, a := range mine {
		switch {
		case a.Status == store.AlertSent:
			sent[a.Rule] = append(sent[a.Rule], a)
		case a.Status != store.AlertHeld || a.Rule != alerts.RuleScoreDrop:
			t.Errorf("quiet account: unexpected record %+v", a)
		}
	}
	if na := sent[alerts.RuleNoActiveUsers]; len(na) != 1 || !sameDay(na[0].At, zero) {
		t.Errorf("no_active_users pages: %+v, want one on %s", na, zero.Format(time.DateOnly))
	}
	if sd := sent[alerts.RuleScoreDrop]; len(sd) != 1 || sd[0].At.Before(drop) || !sd[0].At.Before(zero) {
		t.Errorf("score_drop pages: %+v, want one between %s and %s", sd, drop.Format(time.DateOnly), zero.Format(time.DateOnly))
	}
	if len(sent) != 2 {
		t.Errorf("quiet account paged by %d rules, want 2: %v", len(sent), mine)
	}

	if run := runs[zero.Format(time.DateOnly)]; run != nil {
		for _, a := range run.Accounts {
			if a.ID == quiet.ID && (a.ActiveUsers != 0 || a.Band != trackplan.BandInactive) {
				t.Errorf("the quiet account on %s: %+v", zero.Format(time.DateOnly), a)
			}
		}
	}
	for _, a := range mine {
		if a.Link != "https://trackplan.example.com/accounts/"+quiet.ID {
			t.Errorf("link %q", a.Link)
		}
	}

	// The others: an account whose score never moved (in every run, in the
	// band of its previous time frame and less than score_drop.points from
	// it) is never alerted; no_active_users goes to accounts without an
	// active user only.
	moved := map[string]bool{}
	active := map[string]bool{}
	for _, run := range runs {
		for _, a := range run.Accounts {
			if a.Band != bandOfFrame(&a) || math.Abs(a.Trend.Change) >= alerts.DefaultConfig().ScoreDrop.Points {
				moved[a.ID] = true
			}
			if a.ActiveUsers > 0 {
				active[fmt.Sprint(run.At.Format(time.DateOnly), a.ID)] = true
			}
		}
	}
	steady := 0
	for _, a := range last.Accounts {
		if !moved[a.ID] && a.ID != quiet.ID {
			steady++
		}
	}
	if steady < 3 {
		t.Errorf("only %d steady accounts: the check below proves little", steady)
	}
	for _, a := range recs {
		id := a.Key[len("account:"+profile.Name+"/"):]
		if id != quiet.ID && !moved[id] {
			t.Errorf("a steady account alerted: %+v", a)
		}
		if a.Rule == alerts.RuleNoActiveUsers && active[fmt.Sprint(a.At.Format(time.DateOnly), id)] {
			t.Errorf("%s has active users: %+v", id, a)
		}
	}
	// Whatever fired, for whichever account: a rule pages a key at most
	// once per cooldown; a repeat inside it is held for the digest.
	cfg := alerts.DefaultConfig()
	cooldown := map[string]time.Duration{alerts.RuleScoreDrop: cfg.ScoreDrop.Cooldown,
		alerts.RuleTopBand: cfg.TopBand.Cooldown, alerts.RuleNoActiveUsers: cfg.NoActiveUsers.Cooldown}
	lastSent := map[string]time.Time{}
	for i := len(recs) - 1; i >= 0; i-- { // oldest first
		a := recs[i]
		// Told by the evaluation right after the day's first run, not
		// left to the next one.
		if a.At.Hour() != 6 || a.At.Minute() != 0 {
			t.Errorf("told at %s, not right after the run at 06:00: %+v", a.At.Format(time.TimeOnly), a)
		}
		k := a.Rule + " " + a.Key
		prev, ok := lastSent[k]
		inside := ok && a.At.Sub(prev) < cooldown[a.Rule]
		switch {
		case a.Status == store.AlertSent && inside:
			t.Errorf("paged again within the cooldown: %+v (last paged %s)", a, prev)
		case a.Status == store.AlertHeld && !inside:
			t.Errorf("held outside a cooldown: %+v", a)
		case a.Status == store.AlertSent:
			lastSent[k] = a.At
		}
	}
	t.Logf("quiet account %s; %d steady accounts; %d alerts in all", quiet.ID, steady, len(recs))
}

// bandOfFrame is the band of an account's previous time frame, from its
// trend (as the alerts read it).
func bandOfFrame(a *trackplan.AccountScore) trackplan.Band {
	prev := a.AverageScore - a.Trend.Change
	return trackplan.BandOf(prev, prev > 0)
}

func sameDay(a, b time.Time) bool {
	return a.UTC().Truncate(24 * time.Hour).Equal(b.UTC().Truncate(24 * time.Hour))
}
