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
	Verdicts(ctx context.Context, from, to time.Time) (*store.Tally, error)
	Hygiene(ctx context.Context, nameTrait string) (store.Hygiene, error)
}

// DriftOptions tune the report.
type DriftOptions struct {
	// Window is how far back from the report's time traffic counts
	// (default 7 days), in event time and whole hours: the hour holding
	// its start counts whole.
	Window time.Duration
	// From, when set, is the window's start instead of at - Window.
	From time.Time
	// Partial says the traffic is a capture (a QA file), not everything
	// the product sends: planned events not seen in it are not findings.
	Partial bool
	// AccountNameTrait is the account display-name trait (default "name").
	AccountNameTrait string
	// Push is the score push whose traits come back through Segment on
	// group and identify calls; nil means DefaultPushConfig(). The traits
	// it writes (PushConfig.TraitNames) are trackplan's own: they are
	// never reported as UNPLANNED_PROPERTY.
	Push *PushConfig
}

func (o DriftOptions) withDefaults() DriftOptions {
	if o.Window <= 0 {
		o.Window = 7 * 24 * time.Hour
	}
	if o.AccountNameTrait == "" {
		o.AccountNameTrait = trackplan.DefaultAccountNameTrait
	}
	return o
}

// WindowStart is the window's start for a report at at.
func (o DriftOptions) WindowStart(at time.Time) time.Time {
	if !o.From.IsZero() {
		return o.From
	}
	return at.Add(-o.withDefaults().Window)
}

// Drift reads what it needs from src and reconciles it with plan over the
// window ending at at.
func Drift(ctx context.Context, src DriftReader, plan *trackplan.Plan, at time.Time, o DriftOptions) (*report.Report, error) {
	o = o.withDefaults()
	obs, err := src.Observed(ctx)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	t, err := src.Verdicts(ctx, o.WindowStart(at), at)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	hy, err := src.Hygiene(ctx, o.AccountNameTrait)
	if err != nil {
		return nil, fmt.Errorf("drift: %w", err)
	}
	return Reconcile(DriftInput{Plan: plan, Observed: obs, Verdicts: t, Hygiene: hy, At: at}, o), nil
}

// DriftInput is everything Reconcile looks at.
type DriftInput struct {
	Plan     *trackplan.Plan
	Observed *store.Observed
	// Verdicts are the window's: what checking its messages against Plan
	// gave, with their volumes.
	Verdicts *store.Tally
	Hygiene  store.Hygiene
	At       time.Time
}

// Reconcile compares the plan with what was observed and returns the
// findings, most severe first. It is pure: the same input gives the same
// report, fingerprints included.
func Reconcile(in DriftInput, o DriftOptions) *report.Report {
	o = o.withDefaults()
	r := &reconciler{in: in, o: o, planned: map[string]*trackplan.Event{}, pii: piiPaths(in.Plan), pushed: pushedTraits(o.Push)}
	for _, e := range in.Plan.Events {
		r.planned[planKey(e.CallType(), e.Name)] = e
	}
	r.volume = map[string]*store.Seen{}
	r.eventVolume = map[store.EventKey]int64{}
	for k, v := range in.Verdicts.Volumes {
		r.eventVolume[k.Event] += v.Count
		pk := planKey(k.Event.Type, k.Event.Name)
		s := r.volume[pk]
		if s == nil {
			s = &store.Seen{First: v.First, Last: v.Last}
			r.volume[pk] = s
		}
		s.Count += v.Count
		if v.First.Before(s.First) {
			s.First = v.First
		}
		if v.Last.After(s.Last) {
			s.Last = v.Last
		}
	}
	r.lastSeen = map[string]time.Time{}
	for _, e := range in.Observed.Events {
		k := planKey(e.Type, e.Name)
		if e.LastSeen.After(r.lastSeen[k]) {
			r.lastSeen[k] = e.LastSeen
		}
	}
	r.violations()
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
	for _, s := range r.volume {
		if s.Count > 0 {
			rep.Summary.EventsSeen++
		}
	}
	return rep
}

func compareFindings(a, b trackplan.Finding) int {
	return cmp.Or(
		cmp.Compare(a.Severity.Rank(), b.Severity.Rank()),
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
	in          DriftInput
	o           DriftOptions
	planned     map[string]*trackplan.Event
	pii         map[string]map[string]bool // plan key → property paths marked pii
	volume      map[string]*store.Seen     // window volume per plan key
	eventVolume map[store.EventKey]int64   // window volume per observed event
	lastSeen    map[string]time.Time       // all-time last sighting per plan key
	pushed      map[trackplan.CallType]map[string]bool
	findings    []trackplan.Finding
}

// pushedTraits returns the trait names the score push writes, by the call
// that carries them: group calls the accounts', identify calls the users'.
func pushedTraits(push *PushConfig) map[trackplan.CallType]map[string]bool {
	cfg := DefaultPushConfig()
	if push != nil {
		cfg = *push
	}
	accounts, users := cfg.TraitNames()
	set := func(names []string) map[string]bool {
		m := make(map[string]bool, len(names))
		for _, n := range names {
			m[n] = true
		}
		return m
	}
	return map[trackplan.CallType]map[string]bool{trackplan.Group: set(accounts), trackplan.Identify: set(users)}
}

func (r *reconciler) owner(t trackplan.CallType, name string) string {
	if e := r.planned[planKey(t, name)]; e != nil {
		return e.Owner
	}
	return ""
}

func (r *reconciler) add(f trackplan.Finding) {
	// The source is left out: the same drift keeps its fingerprint whether
	// the messages came from a store (named sources) or a file, so a
	// baseline written from one suppresses the other.
	f.Fingerprint = trackplan.Fingerprint(string(f.Code), "", f.Event, f.Path)
	r.findings = append(r.findings, f)
}

// MaxSamples is how many example messages a finding carries at most.
const MaxSamples = 3

// violations gathers the window's verdicts into findings: one per (code,
// source, event, path), observed values merged, counted over the window
// with the rate over the event's messages in it.
func (r *reconciler) violations() {
	type key struct {
		code                trackplan.Code
		source, event, path string
		typ                 trackplan.CallType
	}
	groups := map[key][]store.ViolationKey{}
	for k := range r.in.Verdicts.Violations {
		if k.Code == trackplan.UnplannedProperty && r.pushed[k.Event.Type][k.Path] {
			continue // trackplan's own score traits, pushed back through Segment
		}
		g := key{k.Code, k.Event.Source, k.Event.Name, k.Path, k.Event.Type}
		groups[g] = append(groups[g], k)
	}
	for _, g := range slices.SortedFunc(maps.Keys(groups), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.code, b.code), cmp.Compare(a.source, b.source), cmp.Compare(a.event, b.event),
			cmp.Compare(a.path, b.path), cmp.Compare(a.typ, b.typ))
	}) {
		ks := groups[g]
		f := trackplan.Finding{Code: g.code, Source: g.source, Event: g.event, Path: g.path,
			Severity: g.code.MessageSeverity(), Owner: r.owner(g.typ, g.event)}
		var expected, observed []string
		for _, k := range ks {
			v := r.in.Verdicts.Violations[k]
			f.Count += v.Count
			if f.FirstSeen.IsZero() || v.First.Before(f.FirstSeen) {
				f.FirstSeen = v.First
			}
			if v.Last.After(f.LastSeen) {
				f.LastSeen = v.Last
			}
			expected, observed = appendUnique(expected, k.Expected), appendUnique(observed, k.Observed)
		}
		f.Expected, f.Observed = joinLimited(expected), joinLimited(observed)
		ev := store.EventKey{Source: g.source, Type: g.typ, Name: g.event}
		if g.code == trackplan.EnumViolation && r.pii[planKey(g.typ, g.event)][g.path] {
			f.Observed = Masked // the offending values of a pii property are values too
		}
		if n := r.eventVolume[ev]; n > 0 && g.code != trackplan.InvalidMessage {
			f.Rate = round4(float64(f.Count) / float64(n))
		}
		f.FirstSeenAllTime = r.in.Verdicts.Earliest[store.FindingKey{Event: ev, Code: g.code, Path: g.path}]
		if f.FirstSeenAllTime.IsZero() || f.FirstSeen.Before(f.FirstSeenAllTime) {
			f.FirstSeenAllTime = f.FirstSeen
		}
		f.Samples = r.samples(ks, ev)
		r.add(f)
	}
}

// samples picks a finding's example messages: the latest of its verdicts'
// samples (each verdict keeps its latest message), distinct, with write
// keys removed and the plan's pii properties masked.
func (r *reconciler) samples(ks []store.ViolationKey, ev store.EventKey) []json.RawMessage {
	vs := r.in.Verdicts.Violations
	ks = slices.Clone(ks)
	slices.SortFunc(ks, func(a, b store.ViolationKey) int {
		return cmp.Or(vs[b].Last.Compare(vs[a].Last), cmp.Compare(a.Observed, b.Observed), cmp.Compare(a.Expected, b.Expected))
	})
	var out []json.RawMessage
	seen := map[string]bool{}
	for _, k := range ks {
		raw := vs[k].Sample
		if len(raw) == 0 || seen[string(raw)] {
			continue
		}
		seen[string(raw)] = true
		out = append(out, MaskSample(raw, r.pii[planKey(ev.Type, ev.Name)]))
		if len(out) == MaxSamples {
			break
		}
	}
	return out
}

// planCoverage finds live events not seen in the window (unless the
// traffic is partial) and deprecated events still seen.
func (r *reconciler) planCoverage() {
	for _, e := range r.in.Plan.Events {
		k := planKey(e.CallType(), e.Name)
		vol := r.volume[k]
		inWindow := vol != nil && vol.Count > 0
		switch {
		case (e.Status == trackplan.StatusLive || e.Status == trackplan.StatusImplemented) && !inWindow && !r.o.Partial:
			f := trackplan.Finding{Code: trackplan.PlannedNotSeen, Severity: trackplan.SeverityWarning, Event: e.Name,
				Expected: fmt.Sprintf("traffic for a %s event", e.Status), Observed: "none in the window", Owner: e.Owner}
			if last, ok := r.lastSeen[k]; ok {
				f.Observed = "last seen " + last.Format(time.RFC3339)
				f.LastSeen = last
			}
			r.add(f)
		case e.Status == trackplan.StatusDeprecated && inWindow:
			r.add(trackplan.Finding{Code: trackplan.DeprecatedStillSeen, Severity: trackplan.SeverityWarning, Event: e.Name,
				Expected: "no traffic (deprecated)", Observed: fmt.Sprintf("%d messages in the window", vol.Count),
				Count: vol.Count, Rate: 1, FirstSeen: vol.First, LastSeen: vol.Last, Owner: e.Owner})
		}
	}
}

// typeConsistency reports property paths seen with several JSON types
// (null aside; integer counts as number where numbers were also seen).
func (r *reconciler) typeConsistency() {
	for _, e := range r.in.Observed.Events {
		if r.eventVolume[store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}] == 0 {
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
