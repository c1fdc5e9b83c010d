package store

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"

	"github.com/trackplan/trackplan"
)

// Delta is the aggregate of a run of logged messages: what a store adds to
// its derived tables in one Apply transaction. Building it in memory
// first turns thousands of messages into a few hundred upserts.
type Delta struct {
	// Tally holds the verdicts and hourly volumes: rejections and the
	// messages of the events the guard allows.
	Tally
	Sources    map[string]*SourceDelta
	Events     map[EventKey]*EventDelta
	Rejections map[RejectionKey]*RejectionDelta
	Users      map[string]*Seen
	// Anonymous are the ids seen only as an anonymousId (no userId on
	// the message): the actor of that message's activity.
	Anonymous   map[string]*Seen
	Accounts    map[string]*Seen
	UserTraits  map[TraitKey]TraitValue
	AcctTraits  map[TraitKey]TraitValue
	Memberships map[MembershipKey]*Seen
	// Links are the identity links the run made (see package identity),
	// each with the event time of its first message.
	Links     map[LinkKey]time.Time
	DailyActs map[DailyKey]int64
	TotalActs map[ActivityKey]*ActivityDelta
	// GuardAdds is what building the delta added to the guard: a store
	// passes it to Guard.Forget when its transaction fails.
	GuardAdds GuardAdds

	seen map[string]uint16 // scratch: the paths of the message being observed
	// report, when set, builds only what a drift report reads (see
	// ReportAggregate).
	report *ReportTraits
}

// ReportTraits names the traits a drift report reads: its identity
// best-practice checks.
type ReportTraits struct {
	User, Account map[string]bool
}

// typeBit is a JSON type's bit in a set of types; unknown types share the
// last bit.
func typeBit(t string) uint16 {
	switch t {
	case trackplan.TypeString:
		return 1
	case trackplan.TypeNumber:
		return 2
	case trackplan.TypeInteger:
		return 4
	case trackplan.TypeBoolean:
		return 8
	case trackplan.TypeObject:
		return 16
	case trackplan.TypeArray:
		return 32
	case trackplan.TypeNull:
		return 64
	}
	return 128
}

// SourceDelta counts a source's logged messages and rejections in a run.
type SourceDelta struct {
	Messages, Rejected int64
	// Clamped counts the messages whose timestamp was replaced by their
	// receive time (trackplan.Message.TimestampClamped).
	Clamped int64
}

// Seen is a first/last-seen pair with a count.
type Seen struct {
	First, Last time.Time
	Count       int64
}

// Merge adds o's sightings to s.
func (s *Seen) Merge(o Seen) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 || o.First.Before(s.First) {
		s.First = o.First
	}
	if s.Count == 0 || o.Last.After(s.Last) {
		s.Last = o.Last
	}
	s.Count += o.Count
}

func (s *Seen) add(t time.Time) {
	if s.Count == 0 || t.Before(s.First) {
		s.First = t
	}
	if s.Count == 0 || t.After(s.Last) {
		s.Last = t
	}
	s.Count++
}

// EventDelta is what a batch adds to one observed event.
type EventDelta struct {
	Seen
	Daily     map[string]int64 // day (YYYY-MM-DD, UTC) → count
	Props     map[string]*PropDelta
	Reservoir []json.RawMessage // newest last, at most Limits.ReservoirSize
}

// PropDelta is what a batch adds to one property path of an event.
type PropDelta struct {
	Seen                      // Count = messages in which the path was present
	Types    map[string]int64 // observed JSON type → messages
	Examples []string
}

// ViolationKey identifies a violation counted in one hour of event time.
type ViolationKey struct {
	Event    EventKey
	Code     trackplan.Code
	Path     string
	Expected string
	Observed string
	Hour     int64 // see Hour
}

// ViolationDelta is what a batch adds to one violation.
type ViolationDelta struct {
	Seen
	Sample json.RawMessage
}

// RejectionKey identifies a rejection counter.
type RejectionKey struct{ Source, Reason string }

// RejectionDelta is what a batch adds to one rejection counter.
type RejectionDelta struct {
	Seen
	Sample string
}

// TraitKey identifies one trait of one user or account.
type TraitKey struct{ ID, Name string }

// TraitValue is a trait's value (JSON; "null" clears it) at an event time.
// Stores keep the value with the latest time: an older message never
// overwrites a newer value.
type TraitValue struct {
	Value json.RawMessage
	At    time.Time

	v any // the decoded value until Aggregate encodes the winners
}

// LinkKey is an identity link: an anonymousId seen with a userId, or an
// alias call's previousId, linked to that userId.
type LinkKey struct{ ID, UserID string }

// MembershipKey identifies a user's membership of an account.
type MembershipKey struct{ UserID, GroupID string }

// DailyKey identifies a (day, user, event) activity rollup.
type DailyKey struct {
	Day    string // YYYY-MM-DD, UTC
	UserID string
	Event  string
}

// ActivityKey identifies an all-time (user, event) rollup.
type ActivityKey struct{ UserID, Event string }

// ActivityDelta is what a batch adds to an all-time rollup.
type ActivityDelta = Seen

// Day formats t as the UTC day used by the rollups.
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// Aggregate builds the delta of a run of logged messages, in log order. The
// guard decides which events and paths may be stored; what it refuses is
// counted as a CARDINALITY_LIMIT violation instead. The result does not
// depend on how the log was split into runs.
func Aggregate(b *Batch, g *Guard, l Limits) *Delta {
	d := newDelta(nil)
	d.add(b, g, l)
	encodeTraits(d.UserTraits)
	encodeTraits(d.AcctTraits)
	return d
}

// NewReportDelta returns an empty delta that AddReport grows run by run
// for a drift report alone (a checked file): the events, their property
// types, the verdicts, users, accounts and memberships, and only the traits
// named, without the activity rollups, aliases, reservoir and examples a
// store keeps. What it holds equals Aggregate's for those, over all the
// runs added; its traits are left decoded (see TraitValue.Null).
func NewReportDelta(traits ReportTraits) *Delta {
	return newDelta(&traits)
}

// AddReport adds a run to a delta made by NewReportDelta.
func (d *Delta) AddReport(b *Batch, g *Guard, l Limits) {
	d.add(b, g, l)
}

// Null reports whether the trait value clears the trait (a JSON null).
func (tv TraitValue) Null() bool {
	if tv.Value != nil {
		return string(tv.Value) == "null"
	}
	return tv.v == nil
}

func newDelta(report *ReportTraits) *Delta {
	return &Delta{
		report:      report,
		Tally:       *NewTally(),
		Sources:     map[string]*SourceDelta{},
		Events:      map[EventKey]*EventDelta{},
		Rejections:  map[RejectionKey]*RejectionDelta{},
		Users:       map[string]*Seen{},
		Anonymous:   map[string]*Seen{},
		Accounts:    map[string]*Seen{},
		UserTraits:  map[TraitKey]TraitValue{},
		AcctTraits:  map[TraitKey]TraitValue{},
		Memberships: map[MembershipKey]*Seen{},
		Links:       map[LinkKey]time.Time{},
		DailyActs:   map[DailyKey]int64{},
		TotalActs:   map[ActivityKey]*ActivityDelta{},
	}
}

func (d *Delta) add(b *Batch, g *Guard, l Limits) {
	g.use(b.Planned)
	for _, r := range b.Rejections {
		d.source(r.Source).Rejected++
		k := RejectionKey{r.Source, r.Reason}
		rd := d.Rejections[k]
		if rd == nil {
			rd = &RejectionDelta{Sample: truncate(string(r.Sample), 512)}
			d.Rejections[k] = rd
		}
		rd.add(r.ReceivedAt)
		d.AddRejection(&r)
	}
	for _, c := range b.Messages {
		d.addMessage(c, g, l)
	}
}

// encodeTraits encodes the values that won the run: a user identified ten
// times in it costs one encoding per trait, not ten.
func encodeTraits(m map[TraitKey]TraitValue) {
	for k, tv := range m {
		raw, err := gojson.Marshal(tv.v)
		if err != nil {
			delete(m, k) // decoded JSON always re-encodes; nothing to lose
			continue
		}
		m[k] = TraitValue{Value: raw, At: tv.At}
	}
}

func (d *Delta) source(name string) *SourceDelta {
	s := d.Sources[name]
	if s == nil {
		s = &SourceDelta{}
		d.Sources[name] = s
	}
	return s
}

func (d *Delta) addMessage(c Checked, g *Guard, l Limits) {
	m := c.Message
	src := d.source(m.Source)
	src.Messages++
	if m.TimestampClamped {
		src.Clamped++
	}
	key := EventKey{Source: m.Source, Type: m.Type, Name: m.EventName()}
	at := m.Timestamp

	// An event past the guard is counted as CARDINALITY_LIMIT only: its
	// schema, violations and activity rollups would be unbounded.
	slots, allowed := g.allowEvent(key, &d.GuardAdds)
	if allowed {
		for _, v := range c.Violations {
			if v.Code == trackplan.EnumViolation {
				masked, _ := Example(v.Observed)
				v.Observed = g.observedValue(valueKey{key, v.Code, v.Path}, masked, &d.GuardAdds)
			}
			d.addViolation(key, v, at, m.Raw)
		}
		d.observe(key, slots, m, at, g, l)
	} else {
		d.addViolation(EventKey{Source: m.Source}, trackplan.Violation{
			Code: trackplan.CardinalityLimit, Observed: "events per source",
			Expected: "at most " + strconv.Itoa(l.MaxEventsPerSource)}, at, m.Raw)
	}

	// The actor is the userId, else the anonymousId: what an anonymous
	// visitor does is kept under their anonymousId until a link credits it
	// to a user. A drift report reads only identified users.
	actor := m.UserID
	if m.UserID != "" {
		seen(d.Users, m.UserID, at)
		if m.AnonymousID != "" && d.report == nil {
			d.link(m.AnonymousID, m.UserID, at)
		}
	} else if m.AnonymousID != "" && d.report == nil {
		actor = m.AnonymousID
		seen(d.Anonymous, actor, at)
	}
	switch m.Type {
	case trackplan.Identify:
		if actor != "" {
			d.mergeTraits(d.UserTraits, actor, m.Traits, at, false)
		}
	case trackplan.Group:
		if m.GroupID != "" {
			d.mergeTraits(d.AcctTraits, m.GroupID, m.Traits, at, true)
		}
	case trackplan.Alias:
		if m.PreviousID != "" && m.UserID != "" && d.report == nil {
			d.link(m.PreviousID, m.UserID, at)
		}
	case trackplan.Track, trackplan.Page, trackplan.Screen:
		if actor != "" && allowed && d.report == nil {
			d.DailyActs[DailyKey{Day(at), actor, key.Name}]++
			seen(d.TotalActs, ActivityKey{actor, key.Name}, at)
		}
	}
	if m.GroupID != "" {
		seen(d.Accounts, m.GroupID, at)
		if actor != "" {
			seen(d.Memberships, MembershipKey{actor, m.GroupID}, at)
		}
	}
}

// link records an identity link, keeping the time of its first message.
func (d *Delta) link(id, userID string, at time.Time) {
	if id == userID {
		return
	}
	k := LinkKey{id, userID}
	if t, ok := d.Links[k]; !ok || at.Before(t) {
		d.Links[k] = at
	}
}

func (d *Delta) observe(key EventKey, slots *eventSlots, m *trackplan.Message, at time.Time, g *Guard, l Limits) {
	ev := d.Events[key]
	if ev == nil {
		ev = &EventDelta{Daily: map[string]int64{}, Props: map[string]*PropDelta{}}
		d.Events[key] = ev
	}
	ev.add(at)
	ev.Daily[Day(at)]++
	d.addVolume(key, at)
	if l.ReservoirSize > 0 && len(m.Raw) > 0 && d.report == nil {
		if len(ev.Reservoir) >= l.ReservoirSize {
			ev.Reservoir = append(ev.Reservoir[:0], ev.Reservoir[1:]...)
		}
		ev.Reservoir = append(ev.Reservoir, m.Raw)
	}

	// A path counts once per message however many array elements hold it;
	// its types count once per message and type. d.seen (reused from
	// message to message) holds the paths of this message and the types
	// seen at each, as bits.
	if d.seen == nil {
		d.seen = map[string]uint16{}
	}
	clear(d.seen)
	limited := false
	trackplan.Flatten(m.Payload(), func(f trackplan.Field) {
		bits, ok := d.seen[f.Path]
		var pd *PropDelta
		if !ok {
			if !g.allowPath(key, slots, f.Path, &d.GuardAdds) {
				limited = true
				return
			}
			pd = ev.Props[f.Path]
			if pd == nil {
				pd = &PropDelta{Types: map[string]int64{}}
				ev.Props[f.Path] = pd
			}
			pd.add(at)
		} else {
			pd = ev.Props[f.Path]
		}
		if bit := typeBit(f.Type); bits&bit == 0 {
			pd.Types[f.Type]++
			bits |= bit
		}
		d.seen[f.Path] = bits
		if d.report != nil {
			return
		}
		if ex, ok := Example(f.Value); ok {
			pd.Examples = addExample(pd.Examples, ex, l.ExamplesPerPath)
		}
	})
	if limited {
		d.addViolation(key, trackplan.Violation{Code: trackplan.CardinalityLimit,
			Observed: "property paths per event", Expected: "at most " + strconv.Itoa(l.MaxPathsPerEvent)}, at, m.Raw)
	}
}

func seen[K comparable](m map[K]*Seen, k K, at time.Time) {
	s := m[k]
	if s == nil {
		s = &Seen{}
		m[k] = s
	}
	s.add(at)
}

func (d *Delta) mergeTraits(into map[TraitKey]TraitValue, id string, traits map[string]any, at time.Time, account bool) {
	if d.report != nil {
		// Only the traits a report reads: look them up rather than
		// walk every trait the call carries.
		names := d.report.User
		if account {
			names = d.report.Account
		}
		for name := range names {
			if v, ok := traits[name]; ok {
				mergeTrait(into, TraitKey{id, name}, v, at)
			}
		}
		return
	}
	for name, v := range traits {
		mergeTrait(into, TraitKey{id, name}, v, at)
	}
}

// mergeTrait keeps v unless the trait holds a value of a later time.
func mergeTrait(into map[TraitKey]TraitValue, k TraitKey, v any, at time.Time) {
	if old, ok := into[k]; ok && old.At.After(at) {
		return
	}
	into[k] = TraitValue{v: v, At: at}
}

var (
	emailLike = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	phoneLike = regexp.MustCompile(`^\+?\(?[0-9][0-9 ().-]{6,}[0-9]$`)
	// dateLike matches a calendar date written with - . or / between its
	// parts, year first or last: 2024-01-31, 31.01.2024, 01/31/2024.
	dateLike = regexp.MustCompile(`^(?:([0-9]{4})[-./]([0-9]{1,2})[-./]([0-9]{1,2})|([0-9]{1,2})[-./]([0-9]{1,2})[-./]([0-9]{4}))$`)
)

// Example renders a scalar value as a short example string, masking values
// that look like email addresses or phone numbers. Objects and arrays have no
// example. Dates, times and timestamps are not phone numbers.
func Example(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		switch {
		case strings.IndexByte(x, '@') > 0 && emailLike.MatchString(x):
			return "***@" + x[strings.LastIndexByte(x, '@')+1:], true
		case len(x) >= 8 && (x[0] == '+' || x[0] == '(' || x[0] >= '0' && x[0] <= '9') && isPhone(x):
			return "+*** (phone)", true
		}
		return truncate(x, 64), true
	case bool, float64, nil:
		b, _ := json.Marshal(x)
		return string(b), true
	}
	return "", false
}

// isPhone reports whether s looks like a phone number: at least 7 digits
// grouped by spaces, dots, dashes or parentheses, and not a date. (A time
// or an ISO timestamp has a colon or a T, which no phone number has. Longer
// digit runs, card numbers say, stay masked too.)
func isPhone(s string) bool {
	if !phoneLike.MatchString(s) {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits++
		}
	}
	return digits >= 7 && !isDate(s)
}

// isDate reports whether s is a calendar date (see dateLike) with a month
// from 1 to 12 and a day from 1 to 31, in either order when the year is
// last.
func isDate(s string) bool {
	m := dateLike.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	n := func(s string) int { v, _ := strconv.Atoi(s); return v }
	month := func(v int) bool { return v >= 1 && v <= 12 }
	day := func(v int) bool { return v >= 1 && v <= 31 }
	if m[1] != "" {
		return month(n(m[2])) && day(n(m[3]))
	}
	a, b := n(m[4]), n(m[5])
	return month(a) && day(b) || day(a) && month(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// addExample adds one example to a sorted list of at most n distinct
// examples, keeping the n smallest: MergeExamples for one value, without
// allocating when the value does not make the list.
func addExample(xs []string, x string, n int) []string {
	i, found := slices.BinarySearch(xs, x)
	if found || i >= n {
		return xs
	}
	xs = slices.Insert(xs, i, x)
	if len(xs) > n {
		xs = xs[:n]
	}
	return xs
}

// MergeExamples merges two example lists into the n smallest distinct
// values, sorted. Keeping the smallest (rather than the first) makes the
// result independent of how messages were split into batches.
func MergeExamples(a, b []string, n int) []string {
	out := make([]string, 0, len(a)+len(b))
	out = append(out, a...)
	out = append(out, b...)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > n {
		out = out[:n]
	}
	return out
}
