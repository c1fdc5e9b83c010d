package simulate

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// Defaults and bounds of Options.
const (
	DefaultAccounts        = 50
	DefaultUsersPerAccount = 5
	DefaultDays            = 30

	MaxAccounts        = 100_000
	MaxUsersPerAccount = 1_000
	MaxDays            = 3_650
	// MaxUsers bounds Accounts × UsersPerAccount: the population is held in
	// memory.
	MaxUsers = 1_000_000
)

// Options configure a Generator. A zero Accounts, UsersPerAccount or Days
// takes its default; Now is required.
type Options struct {
	// Accounts is the number of customer accounts (default 50).
	Accounts int
	// UsersPerAccount is the average number of users per account (default
	// 5); busy accounts have more, the long tail fewer.
	UsersPerAccount int
	// Days is how far back the traffic goes (default 30): every timestamp
	// lies in [Now − Days×24h, Now).
	Days int
	// Seed makes the traffic reproducible: the same plan, options and seed
	// produce the same messages, ids included.
	Seed int64
	// Now is the end of the simulated window.
	Now time.Time
	// Drift injects deliberate drift, described by Generator.Drift.
	Drift bool
}

func (o Options) withDefaults() Options {
	if o.Accounts == 0 {
		o.Accounts = DefaultAccounts
	}
	if o.UsersPerAccount == 0 {
		o.UsersPerAccount = DefaultUsersPerAccount
	}
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	return o
}

// Validate reports options out of range, after defaults are applied.
func (o Options) Validate() error {
	o = o.withDefaults()
	var v trackplan.ValidationError
	if o.Accounts < 1 || o.Accounts > MaxAccounts {
		v.Add("accounts", fmt.Sprintf("must be between 1 and %d, got %d", MaxAccounts, o.Accounts))
	}
	if o.UsersPerAccount < 1 || o.UsersPerAccount > MaxUsersPerAccount {
		v.Add("users_per_account", fmt.Sprintf("must be between 1 and %d, got %d", MaxUsersPerAccount, o.UsersPerAccount))
	}
	if o.Accounts > 0 && o.UsersPerAccount > 0 && o.Accounts*o.UsersPerAccount > MaxUsers {
		v.Add("users_per_account", fmt.Sprintf("accounts × users per account must be at most %d, got %d", MaxUsers, o.Accounts*o.UsersPerAccount))
	}
	if o.Days < 1 || o.Days > MaxDays {
		v.Add("days", fmt.Sprintf("must be between 1 and %d, got %d", MaxDays, o.Days))
	}
	if o.Now.IsZero() {
		v.Add("now", "is required")
	}
	return v.Err()
}

// DriftInjected lists the drift a Generator injects, so that a drift report
// can be checked against it. It is empty without Options.Drift.
type DriftInjected struct {
	// UnplannedEvents are track events absent from the plan. Their
	// properties are unplanned too, by definition.
	UnplannedEvents []string `json:"unplanned_events,omitempty"`
	// TypeMismatches are planned properties sent with another JSON type, in
	// every message of their event.
	TypeMismatches []PropertyDrift `json:"type_mismatches,omitempty"`
	// RequiredMissing are required properties left out of every message of
	// their event.
	RequiredMissing []PropertyDrift `json:"required_missing,omitempty"`
	// NeverSent are live or implemented, scored track events never sent.
	NeverSent []string `json:"never_sent,omitempty"`
}

// Empty reports whether nothing was injected.
func (d DriftInjected) Empty() bool {
	return len(d.UnplannedEvents)+len(d.TypeMismatches)+len(d.RequiredMissing)+len(d.NeverSent) == 0
}

// PropertyDrift is one drifted property of one event.
type PropertyDrift struct {
	Event string `json:"event"`
	Path  string `json:"path"`
	// Expected is the planned type.
	Expected trackplan.PropertyType `json:"expected"`
	// Sent is the JSON type sent instead (trackplan.JSONType), empty when the
	// property is left out.
	Sent string `json:"sent,omitempty"`
}

// Account describes one simulated account.
type Account struct {
	ID      string   `json:"id"` // the groupId
	Name    string   `json:"name"`
	Plan    string   `json:"plan"`
	UserIDs []string `json:"user_ids"`
	// Rank orders accounts by intended activity: 1 is the busiest.
	Rank int `json:"rank"`
	// New accounts sign up inside the window.
	New bool `json:"new,omitempty"`
	// Dormant accounts send nothing in the last 7 days of the window.
	Dormant bool `json:"dormant,omitempty"`
}

// Summary counts the messages of one simulation.
type Summary struct {
	Messages int                        `json:"messages"`
	ByType   map[trackplan.CallType]int `json:"by_type"`
	// ByEvent counts track, page and screen messages by observed event name.
	ByEvent  map[string]int `json:"by_event"`
	Accounts int            `json:"accounts"`
	Users    int            `json:"users"`
	First    time.Time      `json:"first"`
	Last     time.Time      `json:"last"`
}

// Generator produces synthetic B2B SaaS traffic from a tracking plan:
// accounts with skewed activity (a few power accounts, a long tail, some
// dormant ones), their users, identify and group calls carrying the plan's
// traits, and sessions of the plan's track (and page/screen) events with
// properties that satisfy the plan. Events with a higher weight happen less
// often than sign-ins; only events whose status is live, implemented or
// unset are sent, and each of them at least once in the last 7 days.
//
// A Generator is immutable once built and safe for concurrent use; each
// Generate call replays the same traffic.
type Generator struct {
	opts  Options
	start time.Time

	identifyTree, groupTree *propNode
	events                  []*eventSpec // planned events that are sent
	unplanned               *eventSpec   // the drift event, if any
	accounts                []*account
	drift                   DriftInjected
}

// eventKind says how an event fits into a product's life.
type eventKind int

const (
	kindRegular eventKind = iota
	kindSessionStart
	kindSessionEnd
	kindSignup
	kindAccountCreated
	kindTrialStarted
	kindInvite
	kindAddedUser
)

// eventSpec is one event the generator sends.
type eventSpec struct {
	name string
	call trackplan.CallType
	kind eventKind
	freq float64 // relative frequency inside a session; 0 for non-session kinds
	tree *propNode

	wrongType string // a top-level property sent with a wrong JSON type
	omit      string // a required top-level property never sent
}

// Random streams: population, drift choices and traffic use separate
// streams of the seed, so turning Drift on leaves the population unchanged.
const (
	streamPopulation = 0x706f70 + iota
	streamDrift
	streamTraffic
)

// New prepares a generator for plan. The plan is read, never modified, and
// must not change while the generator is used.
func New(plan *trackplan.Plan, opts Options) (*Generator, error) {
	if plan == nil {
		return nil, errors.New("new simulation: nil plan")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("new simulation: %w", err)
	}
	o := opts.withDefaults()
	g := &Generator{opts: o, start: o.Now.Add(-time.Duration(o.Days) * day)}
	seed := uint64(o.Seed)
	pop := rand.New(rand.NewPCG(seed, streamPopulation))

	if e := plan.Lookup(trackplan.Identify, ""); e != nil {
		g.identifyTree = buildTree(pop, e.Properties)
	}
	if e := plan.Lookup(trackplan.Group, ""); e != nil {
		g.groupTree = buildTree(pop, e.Properties)
	}
	seen := map[string]bool{}
	for _, e := range plan.Events {
		spec := newEventSpec(pop, e)
		if spec == nil || seen[spec.name] {
			continue
		}
		seen[spec.name] = true
		g.events = append(g.events, spec)
	}
	if o.Drift {
		g.injectDrift(rand.New(rand.NewPCG(seed, streamDrift)), plan)
	}

	g.population(pop)
	vg := &valueGen{r: pop}
	for _, a := range g.accounts {
		g.accountTraits(pop, vg, a)
		for _, u := range a.users {
			g.userTraits(vg, u)
		}
	}
	return g, nil
}

// sendable reports whether an event's status lets it be sent.
func sendable(s trackplan.Status) bool {
	return s == "" || s == trackplan.StatusLive || s == trackplan.StatusImplemented
}

func newEventSpec(r *rand.Rand, e *trackplan.Event) *eventSpec {
	if e == nil || e.Name == "" || !sendable(e.Status) {
		return nil
	}
	spec := &eventSpec{name: e.Name, tree: buildTree(r, e.Properties)}
	switch {
	case e.Type == trackplan.Track, e.Type == "" && e.Name != string(trackplan.Identify) && e.Name != string(trackplan.Group):
		spec.call = trackplan.Track
	case e.Type == trackplan.Page && e.Name == trackplan.PageViewed:
		spec.call = trackplan.Page
	case e.Type == trackplan.Screen && e.Name == trackplan.ScreenViewed:
		spec.call = trackplan.Screen
	default:
		return nil
	}
	spec.kind, spec.freq = classify(spec.name, e.Weight)
	return spec
}

// classify places an event in a product's life by its name and gives its
// relative frequency inside sessions: high-weight events are rarer, account
// lifecycle events much rarer.
func classify(name string, weight int) (eventKind, float64) {
	n := strings.ReplaceAll(snakeName(name), "_", " ")
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(n, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("signed in", "logged in", "log in", "login", "sign in", "session started"):
		return kindSessionStart, 0
	case has("signed out", "logged out", "log out", "logout", "sign out"):
		return kindSessionEnd, 0
	case has("signed up", "sign up", "registered", "user created"):
		return kindSignup, 0
	case has("account created", "organization created", "organisation created", "workspace created", "company created"):
		return kindAccountCreated, 0
	case has("trial started"):
		return kindTrialStarted, 0
	case has("invite sent", "invited", "user invited", "invitation sent"):
		return kindInvite, 0.02
	case has("added user", "user added", "member added"):
		return kindAddedUser, 0.005
	}
	// Account lifecycle events are rare whatever their weight (they are
	// often left unscored).
	switch {
	case has("deleted", "cancel", "churn"):
		return kindRegular, 0.0005
	case has("removed", "trial ended", "downgrad"):
		return kindRegular, 0.002
	case has("upgrad", "subscription", "payment", "plan changed", "billing"):
		return kindRegular, 0.003
	}
	f := 1 / math.Pow(1+float64(max(0, weight)), 1.2)
	switch {
	case has("connected", "installed", "enabled"):
		f *= 0.2
	case has("created", "exported", "shared"):
		f *= 0.6
	case has("viewed", "opened", "used", "searched"):
		f *= 1.5
	}
	return kindRegular, f
}

// commonFreq is the in-session frequency from which an event counts as
// common.
const commonFreq = 0.01

// injectDrift chooses the drift of a Drift run.
func (g *Generator) injectDrift(r *rand.Rand, plan *trackplan.Plan) {
	byName := map[string]*trackplan.Event{}
	normalized := map[string]bool{} // names equal but for case or separators
	for _, e := range plan.Events {
		if _, ok := byName[e.Name]; !ok {
			byName[e.Name] = e
		}
		normalized[slug(e.Name, "")] = true
	}
	// Drift goes to common in-session events when the plan has enough of
	// them, so that it is visible in a short window; sign-ups, sessions and
	// account lifecycle events come last.
	var common, rest []*eventSpec
	for _, s := range g.events {
		switch {
		case s.call != trackplan.Track:
		case s.kind == kindRegular && s.freq >= commonFreq:
			common = append(common, s)
		default:
			rest = append(rest, s)
		}
	}
	used := map[*eventSpec]bool{}
	// first returns the candidates of the first pass (common, then the rest)
	// that has any.
	first := func(ok func(*eventSpec) bool) []*eventSpec {
		for _, pass := range [][]*eventSpec{common, rest} {
			var out []*eventSpec
			for _, s := range pass {
				if !used[s] && ok(s) {
					out = append(out, s)
				}
			}
			if len(out) > 0 {
				return out
			}
		}
		return nil
	}

	// A live, scored event that is never sent.
	never := first(func(s *eventSpec) bool {
		e := byName[s.name]
		return (e.Status == trackplan.StatusLive || e.Status == trackplan.StatusImplemented) && e.Weight > 0 &&
			s.kind != kindSessionStart
	})
	if len(never) > 0 {
		s := never[r.IntN(len(never))]
		used[s] = true
		g.drift.NeverSent = []string{s.name}
	}

	// A property sent with the wrong type: numbers as strings first.
	for _, class := range [][]trackplan.PropertyType{
		{trackplan.PropNumber, trackplan.PropInteger},
		{trackplan.PropDatetime},
		{trackplan.PropBoolean},
		{trackplan.PropString},
	} {
		cands := first(func(s *eventSpec) bool { return topLevelOf(s.tree, class, false) != nil })
		if len(cands) == 0 {
			continue
		}
		s := cands[r.IntN(len(cands))]
		n := topLevelOf(s.tree, class, false)
		used[s] = true
		s.wrongType = n.name
		g.drift.TypeMismatches = []PropertyDrift{{Event: s.name, Path: n.name, Expected: n.prop.Type, Sent: wrongJSONType(n.prop.Type)}}
		break
	}

	// A required property left out.
	if missing := first(func(s *eventSpec) bool { return topLevelOf(s.tree, nil, true) != nil }); len(missing) > 0 {
		s := missing[r.IntN(len(missing))]
		n := topLevelOf(s.tree, nil, true)
		s.omit = n.name
		typ := trackplan.PropAny
		if n.prop != nil {
			typ = n.prop.Type
		}
		g.drift.RequiredMissing = []PropertyDrift{{Event: s.name, Path: n.name, Expected: typ}}
	}

	// An unplanned event.
	for _, name := range []string{"Report Shared", "Workspace Archived", "Comment Added", "Export Scheduled"} {
		if normalized[slug(name, "")] {
			continue
		}
		channel := &trackplan.Property{Name: "channel", Type: trackplan.PropString, Required: true, Enum: []string{"email", "slack", "link"}}
		g.unplanned = &eventSpec{
			name: name, call: trackplan.Track, kind: kindRegular, freq: 0.15,
			tree: buildTree(r, []*trackplan.Property{
				{Name: "report_id", Type: trackplan.PropString, Required: true},
				channel,
			}),
		}
		g.drift.UnplannedEvents = []string{name}
		break
	}
	if len(g.drift.NeverSent) > 0 {
		g.events = slices.DeleteFunc(g.events, func(s *eventSpec) bool { return s.name == g.drift.NeverSent[0] })
	}
}

// topLevelOf returns the first top-level scalar property of tree whose
// type is in types (any type when types is nil), required ones first; with
// requiredOnly, only required ones.
func topLevelOf(tree *propNode, types []trackplan.PropertyType, requiredOnly bool) *propNode {
	for _, wantRequired := range []bool{true, false} {
		if requiredOnly && !wantRequired {
			break
		}
		for _, c := range tree.children {
			if c.prop == nil || c.elem != nil || len(c.children) > 0 || c.prop.Required != wantRequired {
				continue
			}
			if types == nil || slices.Contains(types, c.prop.Type) {
				return c
			}
		}
	}
	return nil
}

// wrongJSONType is the JSON type a drifted property of type t is sent as.
func wrongJSONType(t trackplan.PropertyType) string {
	switch t {
	case trackplan.PropString:
		return trackplan.TypeInteger
	case trackplan.PropDatetime:
		return trackplan.TypeInteger // epoch seconds
	}
	return trackplan.TypeString
}

// wrongTyped converts a valid value into its drifted form.
func wrongTyped(v any, t trackplan.PropertyType, at time.Time) any {
	switch t {
	case trackplan.PropDatetime:
		if s, ok := v.(string); ok {
			if ts, err := time.Parse(time.RFC3339, s); err == nil {
				return int(ts.Unix())
			}
		}
		return int(at.Unix())
	case trackplan.PropString:
		return 42
	}
	switch x := v.(type) {
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// Drift describes the drift this generator injects.
func (g *Generator) Drift() DriftInjected {
	d := g.drift
	d.UnplannedEvents = slices.Clone(d.UnplannedEvents)
	d.TypeMismatches = slices.Clone(d.TypeMismatches)
	d.RequiredMissing = slices.Clone(d.RequiredMissing)
	d.NeverSent = slices.Clone(d.NeverSent)
	return d
}

// Accounts describes the simulated accounts, in generation order.
func (g *Generator) Accounts() []Account {
	out := make([]Account, 0, len(g.accounts))
	for _, a := range g.accounts {
		ids := make([]string, len(a.users))
		for i, u := range a.users {
			ids[i] = u.id
		}
		out = append(out, Account{ID: a.id, Name: a.name, Plan: a.plan, UserIDs: ids, Rank: a.rank,
			New: a.createdDay >= 0, Dormant: a.dormant})
	}
	return out
}

// Count runs the simulation without delivering it and returns its summary,
// for example to size a progress bar.
func (g *Generator) Count() Summary {
	s, _ := g.generate(func(*trackplan.Message) error { return nil })
	return s
}

// Generate calls fn with every message of the simulation, in timestamp
// order. Each message is new and owned by fn. Message ids are derived from
// the seed and the message's position, so rerunning a simulation sends the
// same ids (and a deduplicating collector counts them once). Source and
// ReceivedAt are left for the receiver to set. Generate stops at, and
// returns, the first error from fn.
func (g *Generator) Generate(fn func(*trackplan.Message) error) error {
	_, err := g.generate(fn)
	return err
}

func (g *Generator) generate(fn func(*trackplan.Message) error) (Summary, error) {
	run := &run{
		g:    g,
		r:    rand.New(rand.NewPCG(uint64(g.opts.Seed), streamTraffic)),
		fn:   fn,
		seed: uint64(g.opts.Seed),
		sum: Summary{
			ByType:   map[trackplan.CallType]int{},
			ByEvent:  map[string]int{},
			Accounts: len(g.accounts),
		},
	}
	for _, a := range g.accounts {
		run.sum.Users += len(a.users)
	}
	run.vg = &valueGen{r: run.r}
	run.pool = g.sessionPool()
	run.guarantees = g.guarantees(run.r)
	for d := range g.opts.Days {
		if err := run.day(d); err != nil {
			return run.sum, err
		}
	}
	return run.sum, run.flush(time.Time{})
}

// sessionPool lists the events picked inside sessions, with the cumulative
// weights used to pick them.
func (g *Generator) sessionPool() []weighted {
	var pool []weighted
	total := 0.0
	specs := g.events
	if g.unplanned != nil {
		specs = append(slices.Clone(specs), g.unplanned)
	}
	for _, s := range specs {
		if s.freq <= 0 {
			continue
		}
		total += s.freq
		pool = append(pool, weighted{spec: s, cum: total})
	}
	return pool
}

type weighted struct {
	spec *eventSpec
	cum  float64
}

// guarantee is one occurrence of an event scheduled in the recent window, so
// that every sent event is seen there at least once.
type guarantee struct {
	spec *eventSpec
	day  int
	user *user
}

func (g *Generator) guarantees(r *rand.Rand) []guarantee {
	o := g.opts
	recent := max(0, o.Days-dormantDays)
	// Sign-ups and invitations in the recent window cover their events.
	var newAcct, invited bool
	for _, a := range g.accounts {
		if a.createdDay >= recent {
			newAcct = true
		}
		for _, u := range a.users {
			if u.invited && u.joinDay >= recent {
				invited = true
			}
		}
	}
	specs := slices.Clone(g.events)
	if g.unplanned != nil {
		specs = append(specs, g.unplanned)
	}
	var out []guarantee
	for _, s := range specs {
		switch s.kind {
		case kindSignup:
			if newAcct || invited {
				continue
			}
		case kindAccountCreated, kindTrialStarted:
			if newAcct {
				continue
			}
		case kindInvite, kindAddedUser:
			if invited {
				continue
			}
		}
		d := recent + r.IntN(o.Days-recent)
		var cands []*user
		for _, a := range g.accounts {
			if a.dormant || a.createdDay >= d {
				continue
			}
			for _, u := range a.users {
				if u.factor > 0 && u.joinDay < d {
					cands = append(cands, u)
				}
			}
		}
		if len(cands) == 0 {
			// Tiny simulations: anyone who has joined by the end.
			for _, a := range g.accounts {
				if a.dormant {
					continue
				}
				for _, u := range a.users {
					if u.joinDay < o.Days-1 {
						cands = append(cands, u)
					}
				}
			}
			d = o.Days - 1
		}
		if len(cands) == 0 {
			continue
		}
		out = append(out, guarantee{spec: s, day: d, user: cands[r.IntN(len(cands))]})
	}
	return out
}

// run is the state of one Generate call.
type run struct {
	g          *Generator
	r          *rand.Rand
	vg         *valueGen
	fn         func(*trackplan.Message) error
	seed       uint64
	pool       []weighted
	guarantees []guarantee

	dayStart time.Time
	pending  []pendingMsg
	order    int // generation order, to break timestamp ties
	emitted  uint64
	sum      Summary
}

type pendingMsg struct {
	m     *trackplan.Message
	order int
}

// day generates day d of the window and emits everything before its end.
func (run *run) day(d int) error {
	g, o := run.g, run.g.opts
	run.dayStart = g.start.Add(time.Duration(d) * day)
	dayEnd := run.dayStart.Add(day)

	for _, a := range g.accounts {
		for i, u := range a.users {
			switch {
			case d == 0 && u.joinDay < 0:
				// Users who signed up before the window identify early on.
				t := run.dayStart.Add(time.Duration(run.r.Int64N(int64(90 * time.Minute))))
				run.identify(u, t)
				run.group(u, t.Add(time.Second))
			case u.joinDay == d:
				run.join(u, i == 0 && a.createdDay == d)
			}
		}
	}

	weekday := 1.0
	switch run.dayStart.Add(day / 2).Weekday() {
	case time.Saturday, time.Sunday:
		weekday = 0.25
	}
	for _, a := range g.accounts {
		if d >= a.stopDay || (a.createdDay >= 0 && d < a.createdDay) {
			continue
		}
		for _, u := range a.users {
			if u.factor == 0 || (u.joinDay >= 0 && d < u.joinDay) {
				continue
			}
			n := min(8, poisson(run.r, a.activity*u.factor*weekday))
			for range n {
				t0 := run.dayStart.Add(businessOffset(run.r, run.dayStart))
				if u.joinDay == d && !t0.After(u.joinAt) {
					t0 = u.joinAt.Add(time.Duration(1+run.r.IntN(60)) * time.Minute)
				}
				run.session(u, t0, nil)
			}
		}
	}

	for _, gu := range run.guarantees {
		if gu.day != d {
			continue
		}
		t0 := run.dayStart.Add(businessOffset(run.r, run.dayStart))
		if latest := dayEnd.Add(-30 * time.Minute); t0.After(latest) {
			t0 = latest
		}
		run.session(gu.user, t0, gu.spec)
	}

	if d == o.Days-1 {
		return run.flush(time.Time{})
	}
	return run.flush(dayEnd)
}

// join sends what a user's sign-up sends: the owner of a new account
// creates it; an invited user is invited by an earlier member first.
func (run *run) join(u *user, owner bool) {
	a := u.acct
	t := u.joinAt
	if !owner && u.invited && len(a.users) > 0 && a.users[0] != u {
		inviter := a.users[0]
		at := t.Add(-time.Duration(10+run.r.IntN(110)) * time.Minute)
		if earliest := inviter.joinAt.Add(time.Minute); inviter.joinDay >= 0 && at.Before(earliest) {
			at = earliest
		}
		run.kinds(kindInvite, inviter, at, u)
	}
	run.identify(u, t)
	run.group(u, t.Add(time.Second))
	run.kinds(kindSignup, u, t.Add(2*time.Second), nil)
	if owner {
		run.kinds(kindAccountCreated, u, t.Add(3*time.Second), nil)
		run.kinds(kindTrialStarted, u, t.Add(4*time.Second), nil)
	} else {
		run.kinds(kindAddedUser, u, t.Add(3*time.Second), nil)
	}
}

// kinds sends every planned event of kind k.
func (run *run) kinds(k eventKind, u *user, t time.Time, invitee *user) {
	for _, s := range run.g.events {
		if s.kind == k {
			run.event(s, u, t, invitee)
		}
	}
}

// session sends a sign-in, a few events picked by frequency (forced among
// them, if set) and sometimes a sign-out.
func (run *run) session(u *user, t time.Time, forced *eventSpec) {
	r := run.r
	if forced != nil && forced.kind == kindSessionStart {
		forced = nil // every session starts with it anyway
	}
	if r.Float64() < 0.1 {
		run.identify(u, t)
		t = t.Add(time.Second)
	}
	run.kinds(kindSessionStart, u, t, nil)
	n := poisson(r, 1.8)
	if len(run.pool) == 0 {
		n = 0
	}
	var picks []*eventSpec
	if forced != nil {
		picks = append(picks, forced)
	}
	for range n {
		x := r.Float64() * run.pool[len(run.pool)-1].cum
		i, _ := slices.BinarySearchFunc(run.pool, x, func(w weighted, x float64) int {
			if w.cum <= x {
				return -1
			}
			return 1
		})
		picks = append(picks, run.pool[min(i, len(run.pool)-1)].spec)
	}
	for _, s := range picks {
		t = t.Add(time.Duration(15+r.IntN(345)) * time.Second)
		var invitee *user
		if s.kind == kindInvite {
			invitee = &user{acct: u.acct}
			invitee.first, invitee.last = pick(r, firstNames), pick(r, lastNames)
			invitee.username = slug(invitee.first, "") + "." + slug(invitee.last, "")
			invitee.email = invitee.username + "@" + u.acct.domain
			invitee.role = pick(r, roles)
		}
		run.event(s, u, t, invitee)
	}
	if r.Float64() < 0.3 {
		run.kinds(kindSessionEnd, u, t.Add(time.Duration(30+r.IntN(600))*time.Second), nil)
	}
}

// event sends one track, page or screen call of s.
func (run *run) event(s *eventSpec, u *user, t time.Time, invitee *user) {
	vc := &valueCtx{call: s.call, event: s.name, at: t, user: u, acct: u.acct, invitee: invitee}
	if s.call != trackplan.Track {
		vc.page = pick(run.r, pageNames)
	}
	props := run.vg.object(s.tree, vc, payloadOptions{include: s.wrongType, omit: s.omit}, true)
	if s.wrongType != "" {
		if v, ok := props[s.wrongType]; ok {
			props[s.wrongType] = wrongTyped(v, s.tree.child(s.wrongType).prop.Type, t)
		}
	}
	m := &trackplan.Message{Type: s.call, UserID: u.id, GroupID: u.acct.id, Properties: props}
	if s.call == trackplan.Track {
		m.Event = s.name
	} else {
		m.Name = vc.page
	}
	run.add(m, t)
}

func (run *run) identify(u *user, t time.Time) {
	run.add(&trackplan.Message{Type: trackplan.Identify, UserID: u.id, GroupID: u.acct.id, Traits: cloneMap(u.traits)}, t)
}

func (run *run) group(u *user, t time.Time) {
	run.add(&trackplan.Message{Type: trackplan.Group, UserID: u.id, GroupID: u.acct.id, Traits: cloneMap(u.acct.traits)}, t)
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return maps.Clone(m)
}

// add queues m at time t, kept inside the current day and before Now.
func (run *run) add(m *trackplan.Message, t time.Time) {
	if t.Before(run.dayStart) {
		t = run.dayStart
	}
	t = t.UTC().Truncate(time.Millisecond)
	if !t.Before(run.g.opts.Now) {
		return
	}
	m.Timestamp = t
	run.pending = append(run.pending, pendingMsg{m: m, order: run.order})
	run.order++
}

// flush emits the queued messages before until, all of them when until is
// zero, in timestamp order.
func (run *run) flush(until time.Time) error {
	slices.SortFunc(run.pending, func(a, b pendingMsg) int {
		if c := a.m.Timestamp.Compare(b.m.Timestamp); c != 0 {
			return c
		}
		return a.order - b.order
	})
	n := len(run.pending)
	if !until.IsZero() {
		n, _ = slices.BinarySearchFunc(run.pending, until, func(p pendingMsg, t time.Time) int {
			if p.m.Timestamp.Before(t) {
				return -1
			}
			return 1
		})
	}
	for _, p := range run.pending[:n] {
		m := p.m
		m.MessageID = messageID(run.seed, run.emitted)
		run.emitted++
		s := &run.sum
		s.Messages++
		s.ByType[m.Type]++
		if m.Type == trackplan.Track || m.Type == trackplan.Page || m.Type == trackplan.Screen {
			s.ByEvent[m.EventName()]++
		}
		if s.First.IsZero() {
			s.First = m.Timestamp
		}
		s.Last = m.Timestamp
		if err := run.fn(m); err != nil {
			return fmt.Errorf("simulate message %d: %w", run.emitted, err)
		}
	}
	rest := copy(run.pending, run.pending[n:])
	clear(run.pending[rest:])
	run.pending = run.pending[:rest]
	return nil
}

// messageID derives a UUID-shaped id from the seed and the message's
// position.
func messageID(seed, n uint64) string {
	var in [24]byte
	copy(in[:8], "simulate")
	binary.BigEndian.PutUint64(in[8:], seed)
	binary.BigEndian.PutUint64(in[16:], n)
	h := sha256.Sum256(in[:])
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// poisson draws from a Poisson distribution with mean lambda (Knuth; the
// means used here are small).
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l || k > 100 {
			return k
		}
		k++
	}
}
