package alerts

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

// zeroVolumeWindow and zeroVolumeMin make the "stopped arriving" check of
// events too quiet for the volume comparison: nothing in the last 24 whole
// hours, against at least 5 messages in the same hours a week earlier.
const (
	zeroVolumeWindow = 24 * time.Hour
	zeroVolumeMin    = 5
	week             = 7 * 24 * time.Hour
)

// trackingState is what the new-finding rule remembers between
// evaluations.
type trackingState struct {
	// Check is the check digest of the plan the verdicts followed.
	Check string `json:"check"`
	// Seen are the fingerprints already told (or absorbed), sorted.
	Seen []string  `json:"seen"`
	At   time.Time `json:"at"`
}

// Tracking evaluates the tracking rules (new findings, volume drops,
// violation spikes) and the lag, then sends the digest when it is due.
func (n *Notifier) Tracking(ctx context.Context) (Result, error) {
	var list []Alert
	var errs []error
	if n.cfg.NewFinding.Enabled || n.cfg.ViolationSpike.Enabled {
		a, err := n.findingAlerts(ctx)
		list = append(list, a...)
		errs = append(errs, err)
	}
	if n.cfg.VolumeDrop.Enabled {
		a, err := n.volumeAlerts(ctx)
		list = append(list, a...)
		errs = append(errs, err)
	}
	if n.cfg.Lag.Enabled && n.lag != nil {
		lag, err := n.lag(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("measure the derive lag: %w", err))
		} else if lag > n.cfg.Lag.Max {
			list = append(list, Alert{Rule: RuleLag, Key: "derive", Severity: Critical,
				Title: fmt.Sprintf("Derivation is %s behind the event log", lag.Round(time.Second)),
				Text: fmt.Sprintf("The oldest message not yet derived arrived %s ago (bound: %s): reports, scores and the dashboard are stale. Messages are safe in the log.",
					lag.Round(time.Second), n.cfg.Lag.Max)})
		}
	}
	res, err := n.process(ctx, list)
	errs = append(errs, err)
	d, err := n.Digest(ctx)
	res.add(d)
	errs = append(errs, err)
	return res, errors.Join(errs...)
}

// findingAlerts finds the fingerprints never seen before and the spikes.
// The verdicts are read between two reads of the plan they follow: a
// re-check swapping them in between counts as a plan change.
func (n *Notifier) findingAlerts(ctx context.Context) ([]Alert, error) {
	now := n.now().UTC()
	before, err := n.st.VerdictPlan(ctx)
	if err != nil {
		return nil, err
	}
	window := cmp.Or(n.cfg.Window, 7*24*time.Hour)
	tally, err := n.st.Verdicts(ctx, now.Add(-window), now)
	if err != nil {
		return nil, err
	}
	after, err := n.st.VerdictPlan(ctx)
	if err != nil {
		return nil, err
	}
	plan := n.plan()
	if plan == nil {
		plan = before.Plan
	}
	if plan == nil {
		plan = &trackplan.Plan{Version: trackplan.PlanVersion}
	}
	rep := tpsync.Reconcile(tpsync.DriftInput{Plan: plan, Observed: &store.Observed{}, Verdicts: tally, At: now},
		tpsync.DriftOptions{Window: window, Push: n.push})
	verdictCodes := map[trackplan.Code]bool{}
	for k := range tally.Violations {
		verdictCodes[k.Code] = true
	}
	var st trackingState
	found, err := n.state(ctx, "tracking", &st)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, fp := range st.Seen {
		seen[fp] = true
	}
	planEdited := !found || st.Check != before.CheckDigest || before.CheckDigest != after.CheckDigest
	var list []Alert
	for _, f := range rep.Findings {
		if !verdictCodes[f.Code] || f.Count == 0 || seen[f.Fingerprint] || f.Severity == trackplan.SeverityInfo {
			continue
		}
		seen[f.Fingerprint] = true
		if !found {
			continue // the first evaluation learns what is there, silently
		}
		a := findingAlert(f)
		switch {
		case planEdited:
			a.Hold = true
			a.Title = "After a plan edit: " + a.Title
		case f.Severity.Rank() > n.cfg.NewFinding.Severity.Rank():
			a.Hold = true
		}
		if n.cfg.NewFinding.Enabled {
			list = append(list, a)
		}
	}
	if n.cfg.ViolationSpike.Enabled && found {
		list = append(list, n.spikes(tally, rep.Findings, now)...)
	}
	st = trackingState{Check: after.CheckDigest, Seen: slices.Sorted(maps.Keys(seen)), At: now}
	if err := n.setState(ctx, "tracking", st); err != nil {
		return nil, err
	}
	if !found {
		n.log.Info("alerts: first evaluation; the findings already there are known from now on", "findings", len(seen))
	}
	return list, nil
}

func findingAlert(f trackplan.Finding) Alert {
	sev := Warning
	if f.Severity == trackplan.SeverityError {
		sev = Critical
	}
	what := f.Event
	if f.Path != "" {
		what += "." + f.Path
	}
	a := Alert{Rule: RuleNewFinding, Key: f.Fingerprint, Severity: sev,
		Title: fmt.Sprintf("New %s: %s on %s", f.Severity, f.Code, what),
		Path:  eventPath(f.Event)}
	if f.Expected != "" || f.Observed != "" {
		a.Text = fmt.Sprintf("Expected %s, observed %s.", cmp.Or(f.Expected, "—"), cmp.Or(f.Observed, "—"))
	}
	a.Fields = []Field{{"Event", cmp.Or(f.Event, "—")}, {"Messages", fmt.Sprintf("%d (%.1f%%)", f.Count, f.Rate*100)}}
	if f.Source != "" {
		a.Fields = append(a.Fields, Field{"Source", f.Source})
	}
	if f.Owner != "" {
		a.Fields = append(a.Fields, Field{"Owner", f.Owner})
	}
	if !f.FirstSeen.IsZero() {
		a.Fields = append(a.Fields, Field{"First seen", f.FirstSeen.UTC().Format(time.RFC3339)})
	}
	return a
}

// spikes compares each known finding's violations in the last whole hour
// with its mean hour over the 24 before; a finding must have existed for
// those 24 hours (a new one is the new-finding rule's business).
func (n *Notifier) spikes(t *store.Tally, findings []trackplan.Finding, now time.Time) []Alert {
	end := now.Truncate(time.Hour)
	last, dayStart := store.Hour(end.Add(-time.Hour)), store.Hour(end.Add(-25*time.Hour))
	type agg struct {
		cur, day int64
		earliest time.Time
	}
	byFP := map[string]*agg{}
	for k, v := range t.Violations {
		fp := trackplan.Fingerprint(string(k.Code), "", k.Event.Name, k.Path)
		a := byFP[fp]
		if a == nil {
			a = &agg{}
			byFP[fp] = a
		}
		switch {
		case k.Hour == last:
			a.cur += v.Count
		case k.Hour >= dayStart && k.Hour < last:
			a.day += v.Count
		}
		if e, ok := t.Earliest[k.Key()]; ok && (a.earliest.IsZero() || e.Before(a.earliest)) {
			a.earliest = e
		}
	}
	var out []Alert
	c := n.cfg.ViolationSpike
	for _, f := range findings {
		a := byFP[f.Fingerprint]
		if a == nil || a.earliest.IsZero() || a.earliest.After(time.Unix(dayStart, 0)) || a.cur < c.MinCount {
			continue
		}
		mean := float64(a.day) / 24
		if float64(a.cur) < c.Factor*mean {
			continue
		}
		delete(byFP, f.Fingerprint) // one alert per fingerprint
		what := f.Event
		if f.Path != "" {
			what += "." + f.Path
		}
		out = append(out, Alert{Rule: RuleViolationSpike, Key: f.Fingerprint, Severity: Warning,
			Title: fmt.Sprintf("Spike of %s on %s: %d in the last hour", f.Code, what, a.cur),
			Text:  fmt.Sprintf("%d violations in the hour from %s, against %.1f an hour over the day before.", a.cur, end.Add(-time.Hour).Format("15:04 MST"), mean),
			Fields: []Field{{"Event", cmp.Or(f.Event, "—")}, {"Last hour", fmt.Sprint(a.cur)},
				{"Mean hour before", fmt.Sprintf("%.1f", mean)}},
			Path: eventPath(f.Event)})
	}
	return out
}

// volumeAlerts compares each live event's volume over the last whole
// hours with the same hours a week earlier.
func (n *Notifier) volumeAlerts(ctx context.Context) ([]Alert, error) {
	plan := n.plan()
	if plan == nil {
		return nil, nil
	}
	now := n.now().UTC()
	c := n.cfg.VolumeDrop
	end := now.Truncate(time.Hour)
	span := max(c.Window.Truncate(time.Hour), time.Hour)
	long := max(span, zeroVolumeWindow)
	t, err := n.st.Verdicts(ctx, end.Add(-long-week), end.Add(-time.Nanosecond))
	if err != nil {
		return nil, err
	}
	type counts struct{ cur, prev, cur24, prev24 int64 }
	vol := map[string]*counts{}
	for k, s := range t.Volumes {
		name := volumeName(k.Event.Type, k.Event.Name)
		v := vol[name]
		if v == nil {
			v = &counts{}
			vol[name] = v
		}
		at := time.Unix(k.Hour, 0)
		in := func(d time.Duration, shift time.Duration) bool {
			return !at.Before(end.Add(-d-shift)) && at.Before(end.Add(-shift))
		}
		if in(span, 0) {
			v.cur += s.Count
		}
		if in(span, week) {
			v.prev += s.Count
		}
		if in(zeroVolumeWindow, 0) {
			v.cur24 += s.Count
		}
		if in(zeroVolumeWindow, week) {
			v.prev24 += s.Count
		}
	}
	var out []Alert
	for _, e := range plan.Events {
		if e == nil || (e.Status != trackplan.StatusLive && e.Status != trackplan.StatusImplemented) {
			continue
		}
		name := volumeName(e.CallType(), e.Name)
		v := vol[name]
		if v == nil {
			continue
		}
		hours, cur, prev := int(span/time.Hour), v.cur, v.prev
		var a *Alert
		switch {
		case v.prev >= c.MinBaseline && v.cur == 0, v.cur24 == 0 && v.prev24 >= zeroVolumeMin:
			if v.cur24 == 0 && v.prev24 >= zeroVolumeMin {
				hours, cur, prev = int(zeroVolumeWindow/time.Hour), 0, v.prev24
			}
			a = &Alert{Title: fmt.Sprintf("%s stopped arriving", e.Name),
				Text: fmt.Sprintf("No %s in the last %d whole hours, against %d in the same hours a week earlier. A release may have dropped it.", e.Name, hours, prev)}
		case v.prev >= c.MinBaseline && float64(v.cur) <= float64(v.prev)*(1-c.Percent/100):
			drop := 100 * float64(v.prev-v.cur) / float64(v.prev)
			a = &Alert{Title: fmt.Sprintf("%s fell %.0f%% against last week", e.Name, drop),
				Text: fmt.Sprintf("%d in the last %d whole hours, against %d in the same hours a week earlier.", v.cur, hours, v.prev)}
		default:
			continue
		}
		a.Rule, a.Key, a.Severity, a.Path = RuleVolumeDrop, "event:"+name, Critical, eventPath(e.Name)
		a.Fields = []Field{{"Event", e.Name}, {fmt.Sprintf("Last %d hours", hours), fmt.Sprint(cur)},
			{"Same hours a week earlier", fmt.Sprint(prev)}}
		if e.Owner != "" {
			a.Fields = append(a.Fields, Field{"Owner", e.Owner})
		}
		out = append(out, *a)
	}
	return out, nil
}

// volumeName matches volumes to plan entries as drift does: identify and
// group by type, everything else by name.
func volumeName(t trackplan.CallType, name string) string {
	switch t {
	case trackplan.Identify, trackplan.Group, trackplan.Alias:
		return string(t)
	}
	return name
}

// eventPath is the dashboard's events page at the row of a track event
// (the row anchors are the events page's: "ev-" and 10 hex digits of the
// SHA-256 of the call type, a NUL byte and the name).
func eventPath(name string) string {
	if name == "" {
		return "/events"
	}
	sum := sha256.Sum256([]byte(string(trackplan.Track) + "\x00" + name))
	// ?event= takes the dashboard to the page holding the event's card.
	return "/events?event=" + url.QueryEscape(name) + "#ev-" + hex.EncodeToString(sum[:5])
}

// engagementState remembers the latest snapshot window evaluated.
type engagementState struct {
	WindowEnd time.Time `json:"window_end"`
}

// Engagement evaluates the engagement rules of each profile on its latest
// score snapshot against the latest one of the day before: a rule fires
// when its condition starts to hold, once per scored day.
func (n *Notifier) Engagement(ctx context.Context, profiles []string) (Result, error) {
	var list []Alert
	now := n.now()
	for _, p := range profiles {
		// The stores keep times to the microsecond: a run saved at now is
		// before the next microsecond (now plus a nanosecond would miss it
		// and leave the day's run to the next evaluation).
		cur, err := n.st.LatestScores(ctx, p, now.Truncate(time.Microsecond).Add(time.Microsecond))
		if errors.Is(err, trackplan.ErrNotFound) {
			continue
		}
		if err != nil {
			return Result{}, err
		}
		var st engagementState
		if _, err := n.state(ctx, "engagement:"+p, &st); err != nil {
			return Result{}, err
		}
		if !cur.WindowEnd.After(st.WindowEnd) {
			continue // this day was evaluated
		}
		prev, err := n.st.LatestScores(ctx, p, cur.WindowEnd)
		switch {
		case errors.Is(err, trackplan.ErrNotFound):
		case err != nil:
			return Result{}, err
		default:
			list = append(list, n.accountAlerts(p, profiles, cur, prev)...)
		}
		if err := n.setState(ctx, "engagement:"+p, engagementState{WindowEnd: cur.WindowEnd}); err != nil {
			return Result{}, err
		}
	}
	return n.process(ctx, list)
}

var bandRank = map[trackplan.Band]int{trackplan.BandInactive: 0, trackplan.BandLeastEngaged: 1,
	trackplan.BandPassive: 2, trackplan.BandEngaged: 3, trackplan.BandMostEngaged: 4}

// frameBand is the band of the account's previous time frame, from its
// trend (an average of 0 is an account without an active user).
func frameBand(a *trackplan.AccountScore) trackplan.Band {
	prev := a.AverageScore - a.Trend.Change
	return trackplan.BandOf(prev, prev > 0)
}

// bandMargin is how many points a band drop must also be: an account
// hovering at a band's edge (76.1 → 73.9) has not cooled down.
const bandMargin = 5

func (n *Notifier) dropped(a *trackplan.AccountScore) bool {
	return bandRank[a.Band] < bandRank[frameBand(a)] && a.Trend.Change <= -bandMargin ||
		a.Trend.Change <= -n.cfg.ScoreDrop.Points
}

func (n *Notifier) accountAlerts(profile string, profiles []string, cur, prev *trackplan.ScoreRun) []Alert {
	before := map[string]*trackplan.AccountScore{}
	for i := range prev.Accounts {
		before[prev.Accounts[i].ID] = &prev.Accounts[i]
	}
	var out []Alert
	for i := range cur.Accounts {
		a := &cur.Accounts[i]
		b := before[a.ID]
		if b == nil {
			continue
		}
		key := "account:" + profile + "/" + a.ID
		path := "/accounts/" + url.PathEscape(a.ID)
		if len(profiles) > 0 && profile != profiles[0] {
			path += "?profile=" + url.QueryEscape(profile)
		}
		name := cmp.Or(a.Name, a.ID)
		fields := []Field{{"Account", name}, {"Profile", profile},
			{"Score", fmt.Sprintf("%.1f (%+.1f against the previous %d days)", a.AverageScore, a.Trend.Change, cur.WindowDays)},
			{"Band", fmt.Sprintf("%s (was %s)", a.Band.Label(), frameBand(a).Label())},
			{"Active users", fmt.Sprintf("%d of %d", a.ActiveUsers, a.TotalUsers)}}
		switch {
		case n.cfg.NoActiveUsers.Enabled && a.ActiveUsers == 0 && b.ActiveUsers > 0:
			out = append(out, Alert{Rule: RuleNoActiveUsers, Key: key, Severity: Critical, Path: path, Fields: fields,
				Title: fmt.Sprintf("%s has no active user left", name),
				Text:  fmt.Sprintf("None of its users did a scored event in the last %d days; %d did the day before.", cur.WindowDays, b.ActiveUsers)})
		case n.cfg.ScoreDrop.Enabled && n.dropped(a) && !n.dropped(b):
			out = append(out, Alert{Rule: RuleScoreDrop, Key: key, Severity: Warning, Path: path, Fields: fields,
				Title: fmt.Sprintf("❄️ %s cooled down: %.1f (%+.1f)", name, a.AverageScore, a.Trend.Change),
				Text:  fmt.Sprintf("Its engagement fell from %s to %s against the previous time frame.", frameBand(a).Label(), a.Band.Label())})
		case n.cfg.TopBand.Enabled && a.Band == trackplan.BandMostEngaged && frameBand(a) != trackplan.BandMostEngaged &&
			!(b.Band == trackplan.BandMostEngaged && frameBand(b) != trackplan.BandMostEngaged):
			out = append(out, Alert{Rule: RuleTopBand, Key: key, Severity: Info, Path: path, Fields: fields,
				Title: fmt.Sprintf("🔥 %s entered the top band: %.1f (%+.1f)", name, a.AverageScore, a.Trend.Change),
				Text:  fmt.Sprintf("It is among the %s accounts now.", trackplan.BandMostEngaged.Label())})
		}
	}
	return out
}

// AfterJob evaluates the operations rules after a job's run: a job failing
// Consecutive runs in a row (this one included; skipped runs do not
// count), and push failures.
func (n *Notifier) AfterJob(ctx context.Context, job string, counts map[string]int64, jobErr error) (Result, error) {
	var list []Alert
	c := n.cfg.JobFailures
	if c.Enabled && jobErr != nil && c.Consecutive > 0 {
		failed := 1
		if c.Consecutive > 1 {
			runs, err := n.st.Runs(ctx, job, 4*c.Consecutive)
			if err != nil {
				return Result{}, err
			}
			for _, r := range runs {
				if r.Outcome == trackplan.OutcomeSkipped {
					continue
				}
				if r.Outcome != trackplan.OutcomeFailed {
					break
				}
				failed++
			}
		}
		if failed >= c.Consecutive {
			list = append(list, Alert{Rule: RuleJobFailures, Key: "job:" + job, Severity: Critical,
				Title:  fmt.Sprintf("Job %s failed %d times in a row", job, failed),
				Text:   "Last error: " + jobErr.Error(),
				Fields: []Field{{"Job", job}, {"Failures in a row", fmt.Sprint(failed)}}})
		}
	}
	if n.cfg.PushFailures.Enabled && job == "push" && (jobErr != nil || counts["failed"] > 0) {
		a := Alert{Rule: RulePushFailures, Key: "push", Severity: Critical,
			Title: fmt.Sprintf("Score push: %d messages failed", counts["failed"]),
			Text:  "They stay pending in the ledger and are resent at the next push.",
			Fields: []Field{{"Failed", fmt.Sprint(counts["failed"])}, {"Acknowledged", fmt.Sprint(counts["acknowledged"])},
				{"Pending", fmt.Sprint(counts["pending"])}}}
		if jobErr != nil {
			a.Title = "Score push failed"
			a.Text = "Error: " + jobErr.Error() + "\n" + a.Text
		}
		list = append(list, a)
	}
	return n.process(ctx, list)
}
