package trackplan

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Scoring constants of the Sherlock model.
const (
	// DefaultProfileName names the profile built from the plan's weights.
	DefaultProfileName = "default"
	// DefaultWindowDays is the time frame of a profile that sets none.
	DefaultWindowDays = 7
	// MaxWindowDays bounds a profile's time frame (ten years).
	MaxWindowDays = 3650
	// MinWeight and MaxWeight bound a scored event's weight; 0 means the
	// event is not scored.
	MinWeight, MaxWeight = 1, 10
	// MaxActivationCriteria bounds the criteria of one profile.
	MaxActivationCriteria = 64
	// TrendThreshold is the score change, in points, that earns a trend flag.
	TrendThreshold = 10
	// TotalUsersDays is how far back any event makes a user count toward an
	// account's total users.
	TotalUsersDays = 90
	// MatureDays is the tenure beyond which a user or account is mature.
	MatureDays = 180
	// RecentlyInactiveMinDays and RecentlyInactiveMaxDays bound, inclusive,
	// how long ago a recently inactive user or account was last active.
	RecentlyInactiveMinDays, RecentlyInactiveMaxDays = 30, 60
	// CreatedAtTrait is the user and account trait holding the signup time.
	CreatedAtTrait = "created_at"
	// EmailTrait is the user trait whose domain email exclusions match.
	EmailTrait = "email"
	// DefaultAccountNameTrait is the account trait used as display name.
	DefaultAccountNameTrait = "name"
)

// Profile is a scoring profile: which events count and how much, over which
// time frame, for which users.
type Profile struct {
	// Name identifies the profile in snapshots and pushed trait names.
	Name string `json:"name" yaml:"name"`
	// Events maps an event name to its weight, 1–10; 0 means not scored.
	Events map[string]int `json:"events" yaml:"events"`
	// WindowDays is the time frame in days; 0 means DefaultWindowDays.
	WindowDays int `json:"window_days,omitempty" yaml:"window_days,omitempty"`
	// Filter restricts the users the profile scores; zero scores everyone.
	Filter Filter `json:"filter,omitzero" yaml:"filter,omitempty"`
	// Activation lists the criteria behind the activation rate.
	Activation Activation `json:"activation,omitzero" yaml:"activation,omitempty"`
	// Exclude removes users and accounts (and their users) from scoring.
	Exclude Exclusions `json:"exclude,omitzero" yaml:"exclude,omitempty"`
}

// Filter restricts a profile to the users matching every condition.
type Filter struct {
	// UserTraits must all hold for the user.
	UserTraits []TraitCondition `json:"user_traits,omitempty" yaml:"user_traits,omitempty"`
	// AccountTraits must all hold for at least one of the user's accounts.
	AccountTraits []TraitCondition `json:"account_traits,omitempty" yaml:"account_traits,omitempty"`
	// Did lists events the user must have done.
	Did []EventCondition `json:"did,omitempty" yaml:"did,omitempty"`
	// DidNot lists events the user must not have done.
	DidNot []EventCondition `json:"did_not,omitempty" yaml:"did_not,omitempty"`
	// SignedUp bounds the user's created_at.
	SignedUp *SignupRange `json:"signed_up,omitempty" yaml:"signed_up,omitempty"`
}

// IsZero reports whether the filter has no condition.
func (f Filter) IsZero() bool {
	return len(f.UserTraits) == 0 && len(f.AccountTraits) == 0 && len(f.Did) == 0 &&
		len(f.DidNot) == 0 && f.SignedUp == nil
}

// EventCondition is "did (or did not) do Event within the last WithinDays
// days"; WithinDays 0 means ever.
type EventCondition struct {
	// Event is the event name.
	Event string `json:"event" yaml:"event"`
	// WithinDays counts back from the run's time; 0 means ever.
	WithinDays int `json:"within_days,omitempty" yaml:"within_days,omitempty"`
}

// SignupRange bounds how long ago a user signed up (the created_at trait):
// within the last WithinDays days and more than OlderThanDays days ago. A
// zero bound is open; at least one must be set.
type SignupRange struct {
	// WithinDays: signed up at most this many days before the run.
	WithinDays int `json:"within_days,omitempty" yaml:"within_days,omitempty"`
	// OlderThanDays: signed up more than this many days before the run.
	OlderThanDays int `json:"older_than_days,omitempty" yaml:"older_than_days,omitempty"`
}

// Activation holds the activation criteria of a profile. Each event done at
// least once (ever) and each trait condition that holds is one criterion
// met; the activation rate is met ÷ criteria.
type Activation struct {
	// Events are events to have done at least once.
	Events []string `json:"events,omitempty" yaml:"events,omitempty"`
	// UserTraits are conditions on a user's traits. For an account, a
	// criterion is met when any of its users meets it.
	UserTraits []TraitCondition `json:"user_traits,omitempty" yaml:"user_traits,omitempty"`
	// AccountTraits are conditions on an account's traits. For a user, a
	// criterion is met when any of the user's accounts meets it.
	AccountTraits []TraitCondition `json:"account_traits,omitempty" yaml:"account_traits,omitempty"`
}

// IsZero reports whether there is no criterion.
func (a Activation) IsZero() bool { return a.Criteria() == 0 }

// Criteria is the number of criteria.
func (a Activation) Criteria() int {
	return len(a.Events) + len(a.UserTraits) + len(a.AccountTraits)
}

// Exclusions remove users from scoring before the percentile is taken.
type Exclusions struct {
	// Users are user ids.
	Users []string `json:"users,omitempty" yaml:"users,omitempty"`
	// Accounts are group ids; all of an excluded account's users go too.
	Accounts []string `json:"accounts,omitempty" yaml:"accounts,omitempty"`
	// EmailDomains match the domain of the email trait, and its subdomains,
	// case-insensitively ("example.com" excludes a@example.com and
	// b@eu.example.com).
	EmailDomains []string `json:"email_domains,omitempty" yaml:"email_domains,omitempty"`
}

// IsZero reports whether nothing is excluded.
func (e Exclusions) IsZero() bool {
	return len(e.Users) == 0 && len(e.Accounts) == 0 && len(e.EmailDomains) == 0
}

// TraitOp is the comparison of a trait condition.
type TraitOp string

// Trait operators. Ordering operators compare numerically when both sides
// are numbers, as times when both are datetimes, and as strings otherwise.
// Every operator but not_exists and ne is false for a missing trait.
const (
	OpExists    TraitOp = "exists"
	OpNotExists TraitOp = "not_exists"
	OpEq        TraitOp = "eq"
	OpNe        TraitOp = "ne"
	OpGt        TraitOp = "gt"
	OpGte       TraitOp = "gte"
	OpLt        TraitOp = "lt"
	OpLte       TraitOp = "lte"
)

// TraitCondition tests one trait of a user or an account.
type TraitCondition struct {
	// Trait is the trait name.
	Trait string `json:"trait" yaml:"trait"`
	// Op is the comparison.
	Op TraitOp `json:"op" yaml:"op"`
	// Value is the right-hand side; empty for exists and not_exists.
	Value string `json:"value,omitempty" yaml:"value,omitempty"`
}

// Match reports whether the condition holds for a trait with the given
// value; ok is false when the trait is missing. Equality is numeric when
// both sides are numbers ("1.0" eq "1") and exact otherwise.
func (c TraitCondition) Match(value string, ok bool) bool {
	switch c.Op {
	case OpExists:
		return ok
	case OpNotExists:
		return !ok
	case OpNe:
		return !ok || compareTrait(value, c.Value) != 0
	}
	if !ok {
		return false
	}
	cmp := compareTrait(value, c.Value)
	switch c.Op {
	case OpEq:
		return cmp == 0
	case OpGt:
		return cmp > 0
	case OpGte:
		return cmp >= 0
	case OpLt:
		return cmp < 0
	case OpLte:
		return cmp <= 0
	}
	return false
}

func compareTrait(a, b string) int {
	x, errA := strconv.ParseFloat(strings.TrimSpace(a), 64)
	y, errB := strconv.ParseFloat(strings.TrimSpace(b), 64)
	if errA == nil && errB == nil {
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	}
	if s, ok := parseISOTime(a); ok {
		if t, ok := parseISOTime(b); ok {
			return s.Compare(t)
		}
	}
	return strings.Compare(a, b)
}

// ParseTraitTime reads a datetime trait: ISO 8601 (RFC 3339, with or without
// fraction; a date-time without offset is UTC; a bare date is midnight UTC)
// or a unix timestamp in seconds or, above 10^11, milliseconds.
func ParseTraitTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, ok := parseISOTime(s); ok {
		return t, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f >= 1e15 {
		return time.Time{}, false
	}
	if f > 1e11 {
		return time.UnixMilli(int64(f)).UTC(), true
	}
	return time.Unix(int64(f), 0).UTC(), true
}

func parseISOTime(s string) (time.Time, bool) {
	if len(s) < len(time.DateOnly) || s[4] != '-' {
		return time.Time{}, false
	}
	for _, layout := range [...]string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// DefaultProfile builds the default profile from the plan's Weight column:
// every event with a non-zero weight is scored, over the default time frame.
// Identify, group and alias entries are never scored. The result may not be
// valid (no weighted event, a weight above 10): call Validate.
func DefaultProfile(plan *Plan) *Profile {
	p := &Profile{Name: DefaultProfileName, Events: map[string]int{}, WindowDays: DefaultWindowDays}
	if plan == nil {
		return p
	}
	for _, e := range plan.Events {
		if e == nil || e.Weight == 0 {
			continue
		}
		switch e.Type {
		case Identify, Group, Alias:
			continue
		}
		p.Events[e.Name] = e.Weight
	}
	return p
}

// InheritPlanWeights returns the configured default profile p on top of
// the plan's weights: every event the plan weights (as in DefaultProfile)
// is scored with its plan weight unless p.Events sets that event, whose
// weight then wins (0 leaves it out); the rest of p (time frame, filter,
// activation, exclusions) is p's. A profile named other than
// DefaultProfileName is returned as it is. p is not changed.
func (p *Profile) InheritPlanWeights(plan *Plan) *Profile {
	if p.Name != DefaultProfileName {
		return p
	}
	out := *p
	out.Events = DefaultProfile(plan).Events
	for name, w := range p.Events {
		if w == 0 {
			delete(out.Events, name)
			continue
		}
		out.Events[name] = w
	}
	return &out
}

// Window is the profile's time frame in days, with the default applied.
func (p *Profile) Window() int {
	if p.WindowDays == 0 {
		return DefaultWindowDays
	}
	return p.WindowDays
}

// ScoredEvents returns the names of the events with a non-zero weight,
// sorted.
func (p *Profile) ScoredEvents() []string {
	var names []string
	for name, w := range p.Events {
		if w != 0 {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// Validate checks the profile. Fields in the returned *ValidationError are
// qualified by prefix (for example `scoring.profiles[1]`), which may be
// empty.
func (p *Profile) Validate(prefix string) error {
	var v ValidationError
	field := func(name string) string {
		if prefix == "" {
			return name
		}
		return prefix + "." + name
	}
	if strings.TrimSpace(p.Name) == "" {
		v.Add(field("name"), "missing")
	} else if len(p.Name) > 64 {
		v.Add(field("name"), "longer than 64 bytes")
	}
	scored, bad := 0, 0
	for _, name := range sortedKeys(p.Events) {
		w := p.Events[name]
		f := field(fmt.Sprintf("events[%q]", name))
		switch {
		case strings.TrimSpace(name) == "":
			v.Add(f, "empty event name")
			bad++
		case w < 0 || w > MaxWeight:
			v.Add(f, fmt.Sprintf("weight %d outside %d–%d", w, MinWeight, MaxWeight))
			bad++
		case w > 0:
			scored++
		}
	}
	// The default profile may leave its events unset: it takes the plan's
	// weights (InheritPlanWeights), and is checked again with them.
	if scored == 0 && bad == 0 && !(p.Name == DefaultProfileName && p.Events == nil) {
		v.Add(field("events"), "no event with a weight of 1–10")
	}
	if p.WindowDays < 0 || p.WindowDays > MaxWindowDays {
		v.Add(field("window_days"), fmt.Sprintf("%d outside 1–%d", p.WindowDays, MaxWindowDays))
	}
	validateTraits(&v, field("filter.user_traits"), p.Filter.UserTraits)
	validateTraits(&v, field("filter.account_traits"), p.Filter.AccountTraits)
	validateEvents(&v, field("filter.did"), p.Filter.Did)
	validateEvents(&v, field("filter.did_not"), p.Filter.DidNot)
	if s := p.Filter.SignedUp; s != nil {
		f := field("filter.signed_up")
		switch {
		case s.WithinDays < 0 || s.OlderThanDays < 0:
			v.Add(f, "negative number of days")
		case s.WithinDays == 0 && s.OlderThanDays == 0:
			v.Add(f, "neither within_days nor older_than_days set")
		case s.WithinDays > 0 && s.OlderThanDays >= s.WithinDays:
			v.Add(f, fmt.Sprintf("older_than_days %d not below within_days %d", s.OlderThanDays, s.WithinDays))
		}
	}
	for i, e := range p.Activation.Events {
		if strings.TrimSpace(e) == "" {
			v.Add(field(fmt.Sprintf("activation.events[%d]", i)), "empty event name")
		}
	}
	validateTraits(&v, field("activation.user_traits"), p.Activation.UserTraits)
	validateTraits(&v, field("activation.account_traits"), p.Activation.AccountTraits)
	if n := p.Activation.Criteria(); n > MaxActivationCriteria {
		v.Add(field("activation"), fmt.Sprintf("%d criteria, more than %d", n, MaxActivationCriteria))
	}
	if n := len(p.Filter.Did) + len(p.Filter.DidNot); n > 64 {
		v.Add(field("filter"), fmt.Sprintf("%d event conditions, more than 64", n))
	}
	for i, id := range p.Exclude.Users {
		if id == "" {
			v.Add(field(fmt.Sprintf("exclude.users[%d]", i)), "empty user id")
		}
	}
	for i, id := range p.Exclude.Accounts {
		if id == "" {
			v.Add(field(fmt.Sprintf("exclude.accounts[%d]", i)), "empty account id")
		}
	}
	for i, d := range p.Exclude.EmailDomains {
		f := field(fmt.Sprintf("exclude.email_domains[%d]", i))
		switch {
		case d == "":
			v.Add(f, "empty domain")
		case strings.ContainsAny(d, "@ \t/"):
			v.Add(f, fmt.Sprintf("%q is not a bare domain", d))
		}
	}
	return v.Err()
}

func validateTraits(v *ValidationError, prefix string, conds []TraitCondition) {
	for i, c := range conds {
		f := fmt.Sprintf("%s[%d]", prefix, i)
		if strings.TrimSpace(c.Trait) == "" {
			v.Add(f+".trait", "missing")
		}
		switch c.Op {
		case OpExists, OpNotExists:
			if c.Value != "" {
				v.Add(f+".value", fmt.Sprintf("not allowed with %s", c.Op))
			}
		case OpEq, OpNe, OpGt, OpGte, OpLt, OpLte:
			if c.Value == "" && c.Op != OpEq && c.Op != OpNe {
				v.Add(f+".value", fmt.Sprintf("missing for %s", c.Op))
			}
		default:
			v.Add(f+".op", fmt.Sprintf("unknown operator %q (want exists, not_exists, eq, ne, gt, gte, lt or lte)", c.Op))
		}
	}
}

func validateEvents(v *ValidationError, prefix string, conds []EventCondition) {
	for i, c := range conds {
		f := fmt.Sprintf("%s[%d]", prefix, i)
		if strings.TrimSpace(c.Event) == "" {
			v.Add(f+".event", "missing")
		}
		if c.WithinDays < 0 {
			v.Add(f+".within_days", fmt.Sprintf("%d is negative", c.WithinDays))
		}
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ScoreWindow returns the time frame of a run at `at` over `days` days: the
// `days` whole UTC days before the UTC day of `at`, as the half-open interval
// [start, end). An event at exactly start is in; one at exactly end is out;
// events on the day of `at` itself are left to the next day's runs, so every
// run on one day scores the same days.
func ScoreWindow(at time.Time, days int) (start, end time.Time) {
	end = at.UTC().Truncate(24 * time.Hour)
	return end.AddDate(0, 0, -days), end
}

// WindowText says which days a run scored, for people: "7 whole days,
// 26 Nov – 2 Dec 2025 (UTC); today counts from tomorrow". A run whose time
// frame ends after the day of its At (one that scored the partial day, see
// ScoreWindow) reads "6 whole days and today so far, 27 Nov – 3 Dec 2025
// (UTC)". now tells today from an earlier day.
func (r *ScoreRun) WindowText(now time.Time) string {
	const day = 24 * time.Hour
	start, end := r.WindowStart.UTC(), r.WindowEnd.UTC()
	days := int(end.Sub(start) / day)
	if days <= 0 {
		return "no days"
	}
	last := end.Add(-day)
	span := last.Format("2 Jan 2006")
	switch {
	case days == 1:
	case start.Year() != last.Year():
		span = start.Format("2 Jan 2006") + " – " + span
	default:
		span = start.Format("2 Jan") + " – " + span
	}
	today := now.UTC().Truncate(day)
	atDay := r.At.UTC().Truncate(day)
	if end.After(atDay) { // the day of the run is in: scored as far as it had gone
		whole := fmt.Sprintf("%d whole days and ", days-1)
		switch days - 1 {
		case 0:
			whole = ""
		case 1:
			whole = "1 whole day and "
		}
		if atDay.Equal(today) {
			return fmt.Sprintf("%stoday so far, %s (UTC)", whole, span)
		}
		return fmt.Sprintf("%s%s so far, %s (UTC)", whole, atDay.Format("2 Jan"), span)
	}
	n := fmt.Sprintf("%d whole days", days)
	if days == 1 {
		n = "1 whole day"
	}
	if atDay.Equal(today) {
		return fmt.Sprintf("%s, %s (UTC); today counts from tomorrow", n, span)
	}
	return fmt.Sprintf("%s, %s (UTC); %s, the day of the run, is not in it", n, span, atDay.Format("2 Jan"))
}

// Band is the engagement band of a user or an account.
type Band string

// Bands, from most to least engaged; inactive entities are in no score band.
const (
	BandMostEngaged  Band = "most_engaged"  // score ≥ 75
	BandEngaged      Band = "engaged"       // 50 ≤ score < 75
	BandPassive      Band = "passive"       // 25 ≤ score < 50
	BandLeastEngaged Band = "least_engaged" // score < 25
	BandInactive     Band = "inactive"      // no scored event in the time frame
)

// BandOf returns the band of a score; an inactive entity is BandInactive
// whatever its score.
func BandOf(score float64, active bool) Band {
	switch {
	case !active:
		return BandInactive
	case score >= 75:
		return BandMostEngaged
	case score >= 50:
		return BandEngaged
	case score >= 25:
		return BandPassive
	}
	return BandLeastEngaged
}

// Label returns the band's display name ("Most Engaged").
func (b Band) Label() string {
	switch b {
	case BandMostEngaged:
		return "Most Engaged"
	case BandEngaged:
		return "Engaged"
	case BandPassive:
		return "Passive"
	case BandLeastEngaged:
		return "Least Engaged"
	case BandInactive:
		return "Inactive"
	}
	return string(b)
}

// TrendFlag marks a large score change.
type TrendFlag string

// Trend flags: a rise or a fall of TrendThreshold points or more.
const (
	TrendHot  TrendFlag = "🔥"
	TrendCold TrendFlag = "❄️"
)

// Trend is the change of a score since one time frame earlier.
type Trend struct {
	// Change is the score now minus the score one time frame earlier (an
	// entity with no earlier score counts as 0).
	Change float64 `json:"change"`
	// Flag is TrendHot for Change ≥ +10, TrendCold for Change ≤ −10.
	Flag TrendFlag `json:"flag,omitempty"`
}

// TrendOf returns the trend for a change in points.
func TrendOf(change float64) Trend {
	t := Trend{Change: change}
	switch {
	case change >= TrendThreshold:
		t.Flag = TrendHot
	case change <= -TrendThreshold:
		t.Flag = TrendCold
	}
	return t
}

// Flags is a set of priority flags. It reads and writes JSON as an array of
// names.
type Flags uint8

// Priority flags.
const (
	// FlagNew: created_at within the time frame or later.
	FlagNew Flags = 1 << iota
	// FlagRecentlyInactive: last active 30 to 60 days ago, inclusive.
	FlagRecentlyInactive
	// FlagMature: tenure over 180 days.
	FlagMature
	// FlagMultiUser: an account with more than one total user.
	FlagMultiUser
)

var flagNames = [...]string{"new", "recently_inactive", "mature", "multi_user"}

// Has reports whether every flag of g is set in f.
func (f Flags) Has(g Flags) bool { return f&g == g }

// Names returns the names of the set flags, in declaration order.
func (f Flags) Names() []string {
	names := []string{}
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// MarshalJSON writes the flags as an array of names.
func (f Flags) MarshalJSON() ([]byte, error) { return json.Marshal(f.Names()) }

// UnmarshalJSON reads an array of flag names.
func (f *Flags) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return fmt.Errorf("decode flags: %w", err)
	}
	var out Flags
next:
	for _, n := range names {
		for i, known := range flagNames {
			if n == known {
				out |= 1 << i
				continue next
			}
		}
		return fmt.Errorf("decode flags: unknown flag %q", n)
	}
	*f = out
	return nil
}

// Adoption is the share, in percent with one decimal, of a profile's scored
// events done at least once.
type Adoption struct {
	// Window counts events done within the time frame.
	Window float64 `json:"window"`
	// AllTime counts events ever done.
	AllTime float64 `json:"all_time"`
}

// UserScore is one user's result in a scoring run.
type UserScore struct {
	// ID is the userId.
	ID string `json:"id"`
	// Raw is Σ count × weight over the scored events in the time frame.
	Raw int64 `json:"raw"`
	// Score is min(100, Raw/P90×100) rounded half up; at least 1 when
	// active, 0 when not.
	Score int `json:"score"`
	// Active means at least one scored event in the time frame.
	Active bool `json:"active"`
	// Frequency is the number of days in the time frame with a scored event.
	Frequency int `json:"frequency"`
	// LastActive is the time of the last scored event, nil if never.
	LastActive *time.Time `json:"last_active"`
	// Band is the band of Score; BandInactive when not active.
	Band Band `json:"band"`
	// Trend is Score minus the score one time frame earlier.
	Trend Trend `json:"trend"`
	// Accounts are the ids of the user's accounts, sorted.
	Accounts []string `json:"accounts"`
	// Adoption counts the scored events the user did.
	Adoption Adoption `json:"adoption"`
	// Activation is criteria met ÷ criteria in percent (one decimal), nil
	// when the profile has no criteria.
	Activation *float64 `json:"activation"`
	// Flags are the priority flags new, recently inactive and mature.
	Flags Flags `json:"flags"`
}

// AccountScore is one account's result in a scoring run.
type AccountScore struct {
	// ID is the groupId.
	ID string `json:"id"`
	// Name is the display-name trait, or ID when the trait is missing.
	Name string `json:"name"`
	// AverageScore is the mean score of the active users (one decimal), 0
	// when none is active. The band and the trend are taken from it.
	AverageScore float64 `json:"average_score"`
	// TotalScore is the sum of the users' scores.
	TotalScore int64 `json:"total_score"`
	// Band is the band of AverageScore; BandInactive without active users.
	Band Band `json:"band"`
	// Trend is AverageScore minus the average one time frame earlier.
	Trend Trend `json:"trend"`
	// ActiveUsers is the number of active users.
	ActiveUsers int `json:"active_users"`
	// TotalUsers counts users with any event in the last 90 days (and active
	// users).
	TotalUsers int `json:"total_users"`
	// ActivePct is ActiveUsers ÷ TotalUsers in percent (one decimal).
	ActivePct float64 `json:"active_pct"`
	// Frequency is the number of days in the time frame on which any user
	// did a scored event.
	Frequency int `json:"frequency"`
	// LastActive is the last scored event of any user, nil if never.
	LastActive *time.Time `json:"last_active"`
	// Adoption counts the scored events any of the users did.
	Adoption Adoption `json:"adoption"`
	// Activation is criteria met ÷ criteria in percent (one decimal), nil
	// when the profile has no criteria.
	Activation *float64 `json:"activation"`
	// Flags are the priority flags new, recently inactive, mature and
	// multi-user.
	Flags Flags `json:"flags"`
	// LastActiveUser is the user with the latest scored event (ties: the
	// smallest id), empty when none has one.
	LastActiveUser string `json:"last_active_user,omitempty"`
}

// ScoreRun is the result of scoring one profile at one time: the snapshot
// stored by every run.
type ScoreRun struct {
	// Profile is the profile's name.
	Profile string `json:"profile"`
	// At is the time of the run, in UTC.
	At time.Time `json:"at"`
	// WindowDays is the time frame in days.
	WindowDays int `json:"window_days"`
	// WindowStart and WindowEnd bound the time frame, [start, end).
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// P90 is the 90th percentile of the active users' raw scores, 0 when
	// no user is active.
	P90 float64 `json:"p90"`
	// ActiveUsers is the number of active scored users.
	ActiveUsers int `json:"active_users"`
	// Users are sorted by id. Users with no event in the last 90 days, not
	// active and with no earlier score are left out (their score is 0).
	Users []UserScore `json:"users"`
	// Accounts are sorted by id: the accounts with at least one listed user.
	Accounts []AccountScore `json:"accounts"`
}
