package report

import (
	"cmp"
	"slices"
	"time"

	"github.com/trackplan/trackplan"
)

// Timeline counts a report's error and warning findings over event time:
// for each bucket of its window, the messages the findings of that
// bucket's traffic count. Only timed findings count (see Timed).
type Timeline struct {
	// Buckets tile the report's window in whole hours: one an hour for
	// the last 48 hours, one a UTC day before (the first day starts with
	// the window, the last ends where the hourly buckets begin).
	Buckets []TimelineBucket `json:"buckets"`
	// Events are the counts of each event that has any, by name, in the
	// order of Buckets. Findings of no event (INVALID_MESSAGE) count in
	// Buckets only.
	Events []EventTimeline `json:"events"`
	// PlanEdits are the plan versions first seen in the window, oldest
	// first.
	PlanEdits []PlanEdit `json:"plan_edits"`
}

// TimelineBucket is one span of event time, [From, To), and the counts of
// its error and warning findings.
type TimelineBucket struct {
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	Errors   int64     `json:"errors"`
	Warnings int64     `json:"warnings"`
}

// EventTimeline is one event's counts, bucket by bucket.
type EventTimeline struct {
	Event    string  `json:"event"`
	Errors   []int64 `json:"errors"`
	Warnings []int64 `json:"warnings"`
}

// PlanEdit is a plan version and when it was first seen.
type PlanEdit struct {
	At     time.Time `json:"at"`
	ID     string    `json:"id"`
	Origin string    `json:"origin,omitempty"`
}

// HourlySpan is how far back from a window's end its timeline counts by
// the hour.
const HourlySpan = 48 * time.Hour

// NewTimeline returns a timeline of the window from from through to with
// no counts: its buckets tile the hours from the one holding from through
// the one holding to.
func NewTimeline(from, to time.Time) *Timeline {
	start := from.UTC().Truncate(time.Hour)
	end := to.UTC().Truncate(time.Hour).Add(time.Hour)
	hourly := end.Add(-HourlySpan)
	if hourly.Before(start) {
		hourly = start
	}
	t := &Timeline{Buckets: []TimelineBucket{}, Events: []EventTimeline{}, PlanEdits: []PlanEdit{}}
	for d := start; d.Before(hourly); {
		next := d.Truncate(24 * time.Hour).Add(24 * time.Hour)
		if next.After(hourly) {
			next = hourly
		}
		t.Buckets = append(t.Buckets, TimelineBucket{From: d, To: next})
		d = next
	}
	for h := hourly; h.Before(end); h = h.Add(time.Hour) {
		t.Buckets = append(t.Buckets, TimelineBucket{From: h, To: h.Add(time.Hour)})
	}
	return t
}

// Timed reports whether findings of the code count messages at their event
// time, so that the counts of a window are the sum of those of its hours:
// every code but TYPE_INCONSISTENT (counted over all that was observed),
// BEST_PRACTICE (users and accounts, not messages) and FORWARD_HELD (what
// is held now, whenever it arrived).
func Timed(c trackplan.Code) bool {
	return c != trackplan.TypeInconsistent && c != trackplan.BestPractice && c != trackplan.ForwardHeld
}

// Add counts the timed error and warning findings of bucket i's traffic.
func (t *Timeline) Add(i int, fs []trackplan.Finding) {
	b := &t.Buckets[i]
	for _, f := range fs {
		if f.Count <= 0 || !Timed(f.Code) {
			continue
		}
		var ev *EventTimeline
		if f.Event != "" {
			ev = t.event(f.Event)
		}
		switch f.Severity {
		case trackplan.SeverityError:
			b.Errors += f.Count
			if ev != nil {
				ev.Errors[i] += f.Count
			}
		case trackplan.SeverityWarning:
			b.Warnings += f.Count
			if ev != nil {
				ev.Warnings[i] += f.Count
			}
		}
	}
}

// event returns the event's counts, adding them in name order when new.
func (t *Timeline) event(name string) *EventTimeline {
	i, ok := slices.BinarySearchFunc(t.Events, name, func(e EventTimeline, n string) int { return cmp.Compare(e.Event, n) })
	if !ok {
		n := len(t.Buckets)
		t.Events = slices.Insert(t.Events, i, EventTimeline{Event: name, Errors: make([]int64, n), Warnings: make([]int64, n)})
	}
	return &t.Events[i]
}

// Totals sums the counts of the buckets that lie in [from, to).
func (t *Timeline) Totals(from, to time.Time) (errors, warnings int64) {
	for _, b := range t.Buckets {
		if !b.From.Before(from) && !b.To.After(to) {
			errors += b.Errors
			warnings += b.Warnings
		}
	}
	return errors, warnings
}
