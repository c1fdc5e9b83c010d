package store

import (
	"slices"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
)

func guardBatch(plan PlanNames, msgs ...*trackplan.Message) *Batch {
	b := &Batch{Planned: plan}
	for _, m := range msgs {
		b.Messages = append(b.Messages, Checked{Message: m})
	}
	return b
}

func guardTrack(source, event string, props map[string]any) *trackplan.Message {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return &trackplan.Message{Source: source, Type: trackplan.Track, UserID: "u", Event: event, Timestamp: at, ReceivedAt: at, Properties: props}
}

func deltaEvents(d *Delta) []string {
	var out []string
	for k := range d.Events {
		out = append(out, k.Source+"/"+k.Name)
	}
	slices.Sort(out)
	return out
}

// TestGuardCountsOnlyUnplanned: what a store already holds counts against
// the limits only when the plan in use does not name it, whichever plan the
// guard counted under before; a source's junk leaves other sources alone;
// Forget gives back the slots a failed apply took.
func TestGuardCountsOnlyUnplanned(t *testing.T) {
	l := DefaultLimits()
	l.MaxEventsPerSource, l.MaxPathsPerEvent = 2, 1
	plan := trackplan.NewChecker(&trackplan.Plan{Events: []*trackplan.Event{
		{Name: "Planned", Properties: []*trackplan.Property{{Name: "a"}, {Name: "b"}}},
		{Name: "Also Planned"},
	}})
	g := NewGuard(l)
	g.Know(EventKey{"web", trackplan.Track, "Planned"}, "a")
	g.Know(EventKey{"web", trackplan.Track, "Planned"}, "junk")
	g.Know(EventKey{"web", trackplan.Track, "Junk 1"}, "")

	// Under the plan: one unplanned event of two, and "Planned" has one
	// unplanned path of one.
	d := Aggregate(guardBatch(plan,
		guardTrack("web", "Junk 2", nil),
		guardTrack("web", "Junk 3", nil), // past the limit
		guardTrack("web", "Also Planned", nil),
		guardTrack("web", "Planned", map[string]any{"b": 1.0, "more": 1.0}),
		guardTrack("app", "Junk 4", nil),
	), g, l)
	if got, want := deltaEvents(d), []string{"app/Junk 4", "web/Also Planned", "web/Junk 2", "web/Planned"}; !slices.Equal(got, want) {
		t.Errorf("events = %v; want %v", got, want)
	}
	if p := d.Events[EventKey{"web", trackplan.Track, "Planned"}].Props; len(p) != 1 || p["b"] == nil {
		t.Errorf("Planned's paths = %v; want the planned b only", p)
	}

	// Without a plan everything counts: no new event gets in.
	d = Aggregate(guardBatch(nil, guardTrack("web", "Junk 5", nil)), g, l)
	if len(d.Events) != 0 {
		t.Errorf("with no plan, events = %v; want none (the source is full)", deltaEvents(d))
	}

	// Forget frees the slots a failed apply took.
	d = Aggregate(guardBatch(nil, guardTrack("new", "Junk 6", nil), guardTrack("new", "Junk 7", nil)), g, l)
	g.Forget(d.GuardAdds)
	d = Aggregate(guardBatch(plan, guardTrack("new", "Junk 8", nil), guardTrack("new", "Junk 9", nil)), g, l)
	if got, want := deltaEvents(d), []string{"new/Junk 8", "new/Junk 9"}; !slices.Equal(got, want) {
		t.Errorf("after Forget, events = %v; want %v", got, want)
	}
}
