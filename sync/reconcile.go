package sync

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
)

// DriftReader is what reconciliation reads from the store.
type DriftReader interface {
	Observed(ctx context.Context) (*store.Observed, error)
	Violations(ctx context.Context, since time.Time) ([]store.ViolationCount, error)
	store.DriftSource
}

// DriftOptions tune the aggregate checks.
type DriftOptions struct {
	// Window is how far back traffic counts as current (default 7 days).
	Window time.Duration
	// RequiredMissingRate and RequiredMissingMin: a required property
	// missing from some (not all) of an event's messages is reported as
	// REQUIRED_SOMETIMES_MISSING when the share is at least the rate and the
	// count at least the minimum; below either it is noise and not reported.
	RequiredMissingRate float64
	RequiredMissingMin  int64
	// AccountNameTrait is the account display-name trait (default "name").
	AccountNameTrait string
}

func (o DriftOptions) withDefaults() DriftOptions {
	if o.Window <= 0 {
		o.Window = 7 * 24 * time.Hour
	}
	if o.RequiredMissingRate == 0 {
		o.RequiredMissingRate = 0.05
	}
	if o.RequiredMissingMin == 0 {
		o.RequiredMissingMin = 20
	}
	if o.AccountNameTrait == "" {
		o.AccountNameTrait = trackplan.DefaultAccountNameTrait
	}
	return o
}

// Drift reads what it needs from src and reconciles it with plan as of at.
func Drift(ctx context.Context, src DriftReader, plan *trackplan.Plan, at time.Time, o DriftOptions) (*report.Report, error) {
	o = o.withDefaults()
	from := at.Add(-o.Window)
	obs, err := src.Observed(ctx)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	vs, err := src.Violations(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	// Volumes per whole UTC day: the window's first (partial) day counts.
	vol, err := src.EventVolumes(ctx, from.Truncate(24*time.Hour), at.Truncate(24*time.Hour).Add(24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	hy, err := src.Hygiene(ctx, o.AccountNameTrait)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	return Reconcile(DriftInput{Plan: plan, Observed: obs, Violations: vs, Volumes: vol, Hygiene: hy, At: at}, o), nil
}

// DriftInput is everything Reconcile looks at.
type DriftInput struct {
	Plan       *trackplan.Plan
	Observed   *store.Observed
	Violations []store.ViolationCount   // last seen within the window
	Volumes    map[store.EventKey]int64 // messages per event within the window
	Hygiene    store.Hygiene
	At         time.Time
}

// Severity of each per-message code when aggregated into a finding.
var codeSeverity = map[trackplan.Code]trackplan.Severity{
	trackplan.UnplannedEvent:    trackplan.SeverityError,
	trackplan.RequiredMissing:   trackplan.SeverityError,
	trackplan.TypeMismatch:      trackplan.SeverityError,
	trackplan.NullNotAllowed:    trackplan.SeverityError,
	trackplan.EnumViolation:     trackplan.SeverityError,
	trackplan.PatternViolation:  trackplan.SeverityError,
	trackplan.RangeViolation:    trackplan.SeverityError,
	trackplan.UnplannedProperty: trackplan.SeverityWarning,
	trackplan.CardinalityLimit:  trackplan.SeverityWarning,
	trackplan.InvalidMessage:    trackplan.SeverityWarning,
}

// Reconcile compares the plan with what was observed and returns the
// findings, most severe first. It is pure: the same input gives the same
// report, fingerprints included.
func Reconcile(in DriftInput, o DriftOptions) *report.Report {
	o = o.withDefaults()
	r := &reconciler{in: in, o: o, from: in.At.Add(-o.Window), planned: map[string]*trackplan.Event{}}
	for _, e := range in.Plan.Events {
		r.planned[planKey(e.CallType(), e.Name)] = e
	}
	r.seen = map[string]store.ObservedEvent{}
	r.volume = map[string]int64{}
	for _, e := range in.Observed.Events {
		k := planKey(e.Type, e.Name)
		r.volume[k] += in.Volumes[store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}]
		if prev, ok := r.seen[k]; !ok || e.LastSeen.After(prev.LastSeen) {
			r.seen[k] = e
		}
	}
	r.violations()
	r.rejections()
	r.planCoverage()
	r.typeConsistency()
	r.naming()
	r.hygiene()

	rep := &report.Report{Findings: r.findings}
	slices.SortFunc(rep.Findings, compareFindings)
	rep.Recount()
	for _, e := range in.Plan.Events {
		if e.Status != trackplan.StatusDeprecated {
			rep.Summary.EventsPlanned++
		}
	}
	for _, n := range r.volume {
		if n > 0 {
			rep.Summary.EventsSeen++
		}
	}
	return rep
}

func severityRank(s trackplan.Severity) int {
	switch s {
	case trackplan.SeverityError:
		return 0
	case trackplan.SeverityWarning:
		return 1
	}
	return 2
}

func compareFindings(a, b trackplan.Finding) int {
	return cmp.Or(
		cmp.Compare(severityRank(a.Severity), severityRank(b.Severity)),
		cmp.Compare(a.Code, b.Code),
		cmp.Compare(a.Event, b.Event),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Source, b.Source),
	)
}

// planKey matches observations to plan entries: identify and group by type,
// everything else by name.
func planKey(t trackplan.CallType, name string) string {
	switch t {
	case trackplan.Identify, trackplan.Group, trackplan.Alias:
		return string(t)
	}
	return "event:" + name
}

type reconciler struct {
	in       DriftInput
	o        DriftOptions
	from     time.Time
	planned  map[string]*trackplan.Event
	seen     map[string]store.ObservedEvent // latest observation per plan key
	volume   map[string]int64               // window volume per plan key
	findings []trackplan.Finding
}

func (r *reconciler) owner(t trackplan.CallType, name string) string {
	if e := r.planned[planKey(t, name)]; e != nil {
		return e.Owner
	}
	return ""
}

func (r *reconciler) add(f trackplan.Finding) {
	f.Fingerprint = trackplan.Fingerprint(string(f.Code), f.Source, f.Event, f.Path)
	r.findings = append(r.findings, f)
}

// violations aggregates the per-message codes counted at ingest: one
// finding per (code, source, event, path), observed values merged.
func (r *reconciler) violations() {
	type key struct {
		code                trackplan.Code
		source, event, path string
		typ                 trackplan.CallType
	}
	groups := map[key][]store.ViolationCount{}
	for _, v := range r.in.Violations {
		k := key{v.Code, v.Event.Source, v.Event.Name, v.Path, v.Event.Type}
		groups[k] = append(groups[k], v)
	}
	counts := map[store.EventKey]int64{}
	for _, e := range r.in.Observed.Events {
		counts[store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}] = e.Count
	}
	for _, k := range slices.SortedFunc(maps.Keys(groups), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.code, b.code), cmp.Compare(a.source, b.source), cmp.Compare(a.event, b.event), cmp.Compare(a.path, b.path))
	}) {
		vs := groups[k]
		f := trackplan.Finding{Code: k.code, Source: k.source, Event: k.event, Path: k.path,
			Severity: cmp.Or(codeSeverity[k.code], trackplan.SeverityWarning), Owner: r.owner(k.typ, k.event)}
		var expected, observed []string
		for _, v := range vs {
			f.Count += v.Count
			if f.FirstSeen.IsZero() || v.FirstSeen.Before(f.FirstSeen) {
				f.FirstSeen = v.FirstSeen
			}
			if v.LastSeen.After(f.LastSeen) {
				f.LastSeen, f.Sample = v.LastSeen, v.Sample
			}
			expected, observed = appendUnique(expected, v.Expected), appendUnique(observed, v.Observed)
		}
		f.Expected, f.Observed = joinLimited(expected), joinLimited(observed)
		if n := counts[store.EventKey{Source: k.source, Type: k.typ, Name: k.event}]; n > 0 {
			f.Rate = round4(float64(f.Count) / float64(n))
		}
		if k.code == trackplan.RequiredMissing && f.Rate < 1 {
			// Missing from some messages only: a statistical finding, and
			// below the threshold not worth anyone's attention.
			if f.Rate < r.o.RequiredMissingRate || f.Count < r.o.RequiredMissingMin {
				continue
			}
			f.Code, f.Severity = trackplan.RequiredSometimesMissing, trackplan.SeverityWarning
		}
		r.add(f)
	}
}

// rejections reports rejected messages as INVALID_MESSAGE, per reason.
func (r *reconciler) rejections() {
	for _, rj := range r.in.Observed.Rejections {
		if !rj.LastSeen.IsZero() && rj.LastSeen.Before(r.from) {
			continue
		}
		r.add(trackplan.Finding{Code: trackplan.InvalidMessage, Severity: trackplan.SeverityWarning, Source: rj.Source,
			Path: rj.Reason, Expected: "a valid Segment message", Observed: rj.Reason, Count: rj.Count,
			FirstSeen: rj.FirstSeen, LastSeen: rj.LastSeen, Sample: jsonSample(rj.Sample)})
	}
}

// planCoverage finds live events never seen and deprecated events still seen.
func (r *reconciler) planCoverage() {
	for _, e := range r.in.Plan.Events {
		k := planKey(e.CallType(), e.Name)
		seen, ok := r.seen[k]
		inWindow := r.volume[k] > 0
		switch {
		case (e.Status == trackplan.StatusLive || e.Status == trackplan.StatusImplemented) && !inWindow:
			f := trackplan.Finding{Code: trackplan.PlannedNotSeen, Severity: trackplan.SeverityWarning, Event: e.Name,
				Expected: fmt.Sprintf("traffic for a %s event", e.Status), Observed: "none in the window", Owner: e.Owner}
			if ok {
				f.Observed = "last seen " + seen.LastSeen.Format(time.RFC3339)
				f.FirstSeen, f.LastSeen = seen.FirstSeen, seen.LastSeen
			}
			r.add(f)
		case e.Status == trackplan.StatusDeprecated && inWindow:
			r.add(trackplan.Finding{Code: trackplan.DeprecatedStillSeen, Severity: trackplan.SeverityWarning, Event: e.Name,
				Expected: "no traffic (deprecated)", Observed: fmt.Sprintf("%d messages in the window", r.volume[k]),
				Count: r.volume[k], FirstSeen: seen.FirstSeen, LastSeen: seen.LastSeen, Owner: e.Owner})
		}
	}
}

// typeConsistency reports property paths seen with several JSON types
// (null aside; integer counts as number where numbers were also seen).
func (r *reconciler) typeConsistency() {
	for _, e := range r.in.Observed.Events {
		if r.in.Volumes[store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}] == 0 {
			continue
		}
		for _, p := range e.Properties {
			types := map[string]int64{}
			for t, n := range p.Types {
				if t != trackplan.TypeNull {
					types[t] = n
				}
			}
			if _, ok := types[trackplan.TypeNumber]; ok {
				types[trackplan.TypeNumber] += types[trackplan.TypeInteger]
				delete(types, trackplan.TypeInteger)
			}
			if len(types) < 2 {
				continue
			}
			names := slices.Sorted(maps.Keys(types))
			parts := make([]string, len(names))
			var total, most int64
			for i, t := range names {
				parts[i] = fmt.Sprintf("%s×%d", t, types[t])
				total += types[t]
				most = max(most, types[t])
			}
			r.add(trackplan.Finding{Code: trackplan.TypeInconsistent, Severity: trackplan.SeverityWarning, Source: e.Source,
				Event: e.Name, Path: p.Path, Expected: "one type", Observed: strings.Join(parts, ", "),
				Count: total - most, Rate: round4(float64(total-most) / float64(total)),
				FirstSeen: p.FirstSeen, LastSeen: p.LastSeen, Owner: r.owner(e.Type, e.Name)})
		}
	}
}

// naming lints the plan, and the names of unplanned events and properties
// that arrived, by the plan's naming rules.
func (r *reconciler) naming() {
	for _, f := range trackplan.Lint(r.in.Plan) {
		r.add(f)
	}
	extra := &trackplan.Plan{Version: r.in.Plan.Version, Events: slices.Clone(r.in.Plan.Events)}
	unplanned := map[string]bool{}
	for _, e := range r.in.Observed.Events {
		if e.Type != trackplan.Track || r.planned[planKey(e.Type, e.Name)] != nil || unplanned[e.Name] {
			continue
		}
		unplanned[e.Name] = true
		ev := &trackplan.Event{Name: e.Name, Type: trackplan.Track, Description: "observed", Owner: "observed"}
		for _, p := range e.Properties {
			ev.Properties = append(ev.Properties, &trackplan.Property{Name: p.Path})
		}
		extra.Events = append(extra.Events, ev)
	}
	if len(unplanned) == 0 {
		return
	}
	for _, f := range trackplan.Lint(extra) {
		if f.Code == trackplan.Naming && unplanned[f.Event] {
			f.Observed = cmp.Or(f.Observed, f.Event)
			r.add(f)
		}
	}
}

// hygiene adds the identity best-practice checks.
func (r *reconciler) hygiene() {
	h := r.in.Hygiene
	check := func(path string, missing, of int64, expected string) {
		if missing == 0 || of == 0 {
			return
		}
		r.add(trackplan.Finding{Code: trackplan.BestPractice, Severity: trackplan.SeverityWarning, Path: path,
			Expected: expected, Observed: fmt.Sprintf("%d of %d without", missing, of), Count: missing,
			Rate: round4(float64(missing) / float64(of))})
	}
	check("users.email", h.UsersNoEmail, h.Users, "every identified user has an email trait")
	check("users.name", h.UsersNoName, h.Users, "every identified user has a name (or first_name) trait")
	check("users.created_at", h.UsersNoCreatedAt, h.Users, "every identified user has a created_at trait")
	check("users.account", h.UsersNoAccount, h.Users, "every user is placed in an account by a group call")
	check("accounts."+r.o.AccountNameTrait, h.AccountsNoName, h.Accounts, "every account has a display-name trait ("+r.o.AccountNameTrait+")")
}

func appendUnique(xs []string, x string) []string {
	if x == "" || slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

// joinLimited joins a few distinct values for a report cell.
func joinLimited(xs []string) string {
	slices.Sort(xs)
	if len(xs) > 5 {
		return strings.Join(xs[:5], ", ") + fmt.Sprintf(", … (%d more)", len(xs)-5)
	}
	return strings.Join(xs, ", ")
}

func round4(x float64) float64 {
	return float64(int64(x*10000+0.5)) / 10000
}

// jsonSample keeps a sample that is JSON as it is and quotes one that is
// not (a truncated message, a line of an import).
func jsonSample(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}
