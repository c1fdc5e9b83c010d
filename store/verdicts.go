package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trackplan/trackplan"
)

// Verdicts is the part of the derived state that depends on the plan: the
// per-message violations, counted by hour of event time, and the plan they
// were judged by. A plan edit replaces them all, re-checked from the log
// (SwitchPlan); between edits Apply adds to them, checked against the same
// plan.
type Verdicts interface {
	// VerdictPlan is the plan version the verdicts follow (ID "" when no
	// plan was ever adopted).
	VerdictPlan(ctx context.Context) (PlanVersion, error)

	// SwitchPlan makes v the plan the verdicts follow. It records v among
	// the plan versions (keeping the first time it was seen), and, when t
	// is not nil, replaces every plan-dependent verdict and the hourly
	// volumes with t: what checking the log's records up to cursor against
	// v gives. It changes nothing and returns an error wrapping
	// ErrCursorMoved when the cursor is not cursor or the epoch not epoch.
	// A nil t keeps the verdicts (v checks exactly as the previous plan).
	SwitchPlan(ctx context.Context, v PlanVersion, cursor, epoch int64, t *Tally) error

	// PlanVersions returns the plan versions the store has followed,
	// newest first, at most limit.
	PlanVersions(ctx context.Context, limit int) ([]PlanVersion, error)

	// Verdicts returns the hourly verdicts and volumes of the hours from
	// the one holding from through the one holding to, with Earliest set
	// from every hour held.
	Verdicts(ctx context.Context, from, to time.Time) (*Tally, error)
}

// ErrPlanMoved is returned by Apply when the batch was checked against
// another plan than the one the verdicts now follow.
var ErrPlanMoved = errors.New("the verdicts follow another plan")

// PlanVersion is a plan trackplan has judged traffic by.
type PlanVersion struct {
	// ID is the content hash of the plan (see PlanID).
	ID string `json:"id"`
	// CheckDigest is the hash of what checking depends on (see
	// CheckDigest): two versions with the same digest give the same
	// verdicts, so switching between them needs no re-check.
	CheckDigest string    `json:"check_digest"`
	FirstSeen   time.Time `json:"first_seen"`
	// Origin says where the plan came from: "file:PATH", "notion:DB" or
	// "template:NAME".
	Origin string `json:"origin"`
	// EditedAt is the source's last edit time when it is known (a Notion
	// database's last_edited_time).
	EditedAt time.Time       `json:"edited_at,omitzero"`
	Plan     *trackplan.Plan `json:"-"`
}

// NewPlanVersion describes p as first seen at now.
func NewPlanVersion(p *trackplan.Plan, origin string, editedAt, now time.Time) PlanVersion {
	return PlanVersion{ID: PlanID(p), CheckDigest: CheckDigest(p), FirstSeen: now.UTC(), Origin: origin,
		EditedAt: editedAt.UTC(), Plan: p}
}

// PlanID is the content hash of a plan: 16 hex digits of the SHA-256 of its
// JSON form.
func PlanID(p *trackplan.Plan) string {
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("encode plan: %v", err)) // a Plan always encodes
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// CheckDigest hashes what the per-message check depends on: the events'
// names, types and properties with their constraints, not descriptions,
// owners, tags, weights or status.
func CheckDigest(p *trackplan.Plan) string {
	type prop struct {
		Name, Type     string
		Required, Null bool
		Enum           []string
		Pattern        string
		Min, Max       *float64
	}
	type event struct {
		Name, Type string
		Props      []prop
	}
	var evs []event
	for _, e := range p.Events {
		if e == nil {
			continue
		}
		ev := event{Name: e.Name, Type: string(e.CallType())}
		for _, pr := range e.Properties {
			if pr != nil {
				ev.Props = append(ev.Props, prop{Name: pr.Name, Type: string(pr.Type), Required: pr.Required,
					Null: pr.Nullable, Enum: pr.Enum, Pattern: pr.Pattern, Min: pr.Min, Max: pr.Max})
			}
		}
		evs = append(evs, ev)
	}
	b, _ := json.Marshal(evs)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Hour is the UTC hour holding t, as Unix seconds of its start: the bucket
// of event time verdicts and volumes are counted in.
func Hour(t time.Time) int64 { return t.Truncate(time.Hour).Unix() }

// HourKey identifies one event's messages in one hour.
type HourKey struct {
	Event EventKey
	Hour  int64
}

// FindingKey identifies the verdicts a finding gathers.
type FindingKey struct {
	Event EventKey
	Code  trackplan.Code
	Path  string
}

// Key returns the finding a verdict belongs to.
func (k ViolationKey) Key() FindingKey { return FindingKey{Event: k.Event, Code: k.Code, Path: k.Path} }

// Tally counts checked messages by hour of event time: the verdicts (each
// with its latest message as a sample) and every event's volume. It is the
// one shape the store's verdicts, a re-check, a what-if and a checked file
// share, so reports from any of them agree.
type Tally struct {
	Violations map[ViolationKey]*ViolationDelta
	Volumes    map[HourKey]*Seen
	// Earliest is when each finding's verdicts were first seen, over all
	// the hours held (not only a window's).
	Earliest map[FindingKey]time.Time

	values map[valueKey]map[string]struct{} // distinct observed values, for AddChecked
}

// NewTally returns an empty tally.
func NewTally() *Tally {
	return &Tally{Violations: map[ViolationKey]*ViolationDelta{}, Volumes: map[HourKey]*Seen{},
		Earliest: map[FindingKey]time.Time{}}
}

// AddChecked counts a message and its violations, bounding the distinct
// observed values of enum violations as a store's guard does.
func (t *Tally) AddChecked(m *trackplan.Message, vs []trackplan.Violation) {
	key := EventKey{Source: m.Source, Type: m.Type, Name: m.EventName()}
	at := m.Timestamp
	t.addVolume(key, at)
	for _, v := range vs {
		if v.Code == trackplan.EnumViolation {
			masked, _ := Example(v.Observed)
			v.Observed = t.observedValue(valueKey{key, v.Code, v.Path}, masked)
		}
		t.addViolation(key, v, at, m.Raw)
	}
}

// AddRejection counts a rejected message as an INVALID_MESSAGE verdict of
// its source, at the time it arrived.
func (t *Tally) AddRejection(r *trackplan.Rejection) {
	t.addViolation(EventKey{Source: r.Source}, RejectionViolation(r.Reason), r.ReceivedAt, SampleJSON(r.Sample))
}

// RejectionViolation is the verdict a rejection is counted as.
func RejectionViolation(reason string) trackplan.Violation {
	return trackplan.Violation{Code: trackplan.InvalidMessage, Path: reason, Expected: "a valid Segment message", Observed: reason}
}

func (t *Tally) observedValue(k valueKey, value string) string {
	if t.values == nil {
		t.values = map[valueKey]map[string]struct{}{}
	}
	vals := t.values[k]
	if _, ok := vals[value]; ok {
		return value
	}
	if len(vals) >= MaxObservedValues {
		return OtherValues
	}
	if vals == nil {
		vals = map[string]struct{}{}
		t.values[k] = vals
	}
	vals[value] = struct{}{}
	return value
}

func (t *Tally) addVolume(key EventKey, at time.Time) {
	hk := HourKey{key, Hour(at)}
	s := t.Volumes[hk]
	if s == nil {
		s = &Seen{}
		t.Volumes[hk] = s
	}
	s.add(at)
}

func (t *Tally) addViolation(key EventKey, v trackplan.Violation, at time.Time, raw json.RawMessage) {
	k := ViolationKey{Event: key, Code: v.Code, Path: v.Path, Expected: v.Expected, Observed: v.Observed, Hour: Hour(at)}
	vd := t.Violations[k]
	if vd == nil {
		vd = &ViolationDelta{}
		t.Violations[k] = vd
	}
	// The sample is the latest message by event time, the later in the
	// log on a tie: the stores keep the same rule across Apply calls, so
	// the sample does not depend on how the log was split.
	if vd.Count == 0 || !at.Before(vd.Last) {
		vd.Sample = raw
	}
	vd.add(at)
	fk := k.Key()
	if e, ok := t.Earliest[fk]; !ok || at.Before(e) {
		t.Earliest[fk] = at
	}
}

// Window returns the part of t in the hours from the one holding from
// through the one holding to; Earliest is kept whole.
func (t *Tally) Window(from, to time.Time) *Tally {
	lo, hi := Hour(from), Hour(to)
	w := &Tally{Violations: map[ViolationKey]*ViolationDelta{}, Volumes: map[HourKey]*Seen{}, Earliest: t.Earliest}
	for k, v := range t.Violations {
		if k.Hour >= lo && k.Hour <= hi {
			w.Violations[k] = v
		}
	}
	for k, v := range t.Volumes {
		if k.Hour >= lo && k.Hour <= hi {
			w.Volumes[k] = v
		}
	}
	return w
}

// Span is the event time of the earliest and the latest message counted.
func (t *Tally) Span() (first, last time.Time) {
	for _, s := range t.Volumes {
		if first.IsZero() || s.First.Before(first) {
			first = s.First
		}
		if s.Last.After(last) {
			last = s.Last
		}
	}
	return first, last
}

// SampleJSON keeps a sample that is JSON as it is and quotes one that is
// not (a truncated message, a line of an import).
func SampleJSON(s []byte) json.RawMessage {
	if len(s) == 0 {
		return nil
	}
	if json.Valid(s) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(string(s))
	return b
}

// Merge adds o, counted after t, to t: samples follow the stores' rule (the
// latest by event time, the later counted on a tie).
func (t *Tally) Merge(o *Tally) {
	for k, v := range o.Violations {
		cur := t.Violations[k]
		if cur == nil {
			c := *v
			t.Violations[k] = &c
			continue
		}
		if !v.Last.Before(cur.Last) {
			cur.Sample = v.Sample
		}
		cur.Merge(v.Seen)
	}
	for k, v := range o.Volumes {
		cur := t.Volumes[k]
		if cur == nil {
			c := *v
			t.Volumes[k] = &c
			continue
		}
		cur.Merge(*v)
	}
	for k, e := range o.Earliest {
		if cur, ok := t.Earliest[k]; !ok || e.Before(cur) {
			t.Earliest[k] = e
		}
	}
}
