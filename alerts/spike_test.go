package alerts_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
)

// spikeEnd is the end of the spike scenario's simulated traffic: three
// hours past tNow, so that the spike can last past its first hour.
var spikeEnd = tNow.Add(3 * time.Hour)

// simulateUntil simulates days of traffic from accounts ending at end.
func simulateUntil(t *testing.T, p *trackplan.Plan, accounts, days int, end time.Time) []*trackplan.Message {
	t.Helper()
	g, err := simulate.New(p, simulate.Options{Accounts: accounts, UsersPerAccount: 4, Days: days, Seed: 11, Now: end})
	if err != nil {
		t.Fatal(err)
	}
	var out []*trackplan.Message
	if err := g.Generate(func(m *trackplan.Message) error {
		m.Source = "web"
		if m.ReceivedAt.IsZero() {
			m.ReceivedAt = m.Timestamp
		}
		out = append(out, m)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// busiestTrack is the track event sent most often in msgs.
func busiestTrack(msgs []*trackplan.Message) string {
	n := map[string]int{}
	best := ""
	for _, m := range msgs {
		if m.Type != trackplan.Track {
			continue
		}
		n[m.Event]++
		if best == "" || n[m.Event] > n[best] || (n[m.Event] == n[best] && m.Event < best) {
			best = m.Event
		}
	}
	return best
}

// feed ingests the messages received before e.now that are not yet in
// the store, and returns the rest.
func (e *env) feed(msgs []*trackplan.Message) []*trackplan.Message {
	e.t.Helper()
	i := 0
	for i < len(msgs) && msgs[i].ReceivedAt.Before(e.now) {
		i++
	}
	if i > 0 {
		e.ingest(msgs[:i])
	}
	return msgs[i:]
}

// TestViolationSpike: a finding known for two days at a low rate (an
// unplanned property on a few messages of the busiest event) pages nobody
// while its rate holds; when a release sends it on every message of that
// event for three hours, violation_spike pages once, at the first
// evaluation after the first spiking hour, and not again within its
// cooldown although the spike goes on. The same traffic without the
// property pages nothing at all at the same evaluations.
func TestViolationSpike(t *testing.T) {
	const prop = "legacy_ref"
	base := newEnv(t, nil)
	clean := simulateUntil(t, base.plan, 30, 9, spikeEnd)
	event := busiestTrack(clean)
	onset := tNow.Add(-48 * time.Hour)
	spikeFrom, spikeTo := tNow.Truncate(time.Hour).Add(-time.Hour), tNow.Truncate(time.Hour).Add(2*time.Hour)

	// The finding: one message of the event in ten from the onset; every
	// message, and 60 more an hour, from spikeFrom to spikeTo.
	var withFinding []*trackplan.Message
	k, extra := 0, 0
	for _, m := range clean {
		c := *m
		if c.Type == trackplan.Track && c.Event == event && !c.Timestamp.Before(onset) {
			k++
			spiking := !c.Timestamp.Before(spikeFrom) && c.Timestamp.Before(spikeTo)
			if spiking || k%10 == 0 {
				c.Properties = cloneProps(c.Properties)
				c.Properties[prop] = "r-1"
			}
		}
		withFinding = append(withFinding, &c)
	}
	var tmpl *trackplan.Message // a simulated message of the event, copied
	for _, m := range clean {
		if m.Type == trackplan.Track && m.Event == event && m.Timestamp.Before(spikeFrom) {
			tmpl = m
		}
	}
	for h := spikeFrom; h.Before(spikeTo); h = h.Add(time.Hour) {
		for i := range 60 {
			extra++
			c := *tmpl
			c.MessageID = fmt.Sprintf("spike-%d", extra)
			c.Timestamp = h.Add(time.Duration(i) * time.Minute)
			c.ReceivedAt = c.Timestamp
			c.Properties = cloneProps(tmpl.Properties)
			c.Properties[prop] = "r-1"
			withFinding = append(withFinding, &c)
		}
	}
	sortByReceived(withFinding)

	// The evaluations: every half hour from three hours before the spike
	// to the end of the traffic, the first one learning what is there.
	var times []time.Time
	for at := spikeFrom.Add(-3 * time.Hour); !at.After(spikeEnd); at = at.Add(30 * time.Minute) {
		times = append(times, at)
	}

	e := base
	pending := withFinding
	spikeAt := time.Time{}
	repeats := 0 // evaluations of the later spiking hours that found the spike again
	for i, at := range times {
		e.now = at
		pending = e.feed(pending)
		r := e.tracking()
		if at.After(spikeFrom.Add(2*time.Hour)) && !at.After(spikeTo) {
			repeats += r.Held + r.Suppressed
		}
		switch {
		case i == 0:
			if r.Sent+r.Held != 0 {
				t.Fatalf("the first evaluation: %+v", r)
			}
		case r.Sent > 0:
			if !spikeAt.IsZero() {
				t.Errorf("paged again at %s (first at %s): %+v", at.Format(time.Kitchen), spikeAt.Format(time.Kitchen), r)
			}
			spikeAt = at
		}
	}
	sent := e.records(store.AlertQuery{Status: store.AlertSent})
	if got := rules(sent, ""); got[alerts.RuleViolationSpike] != 1 || len(got) != 1 {
		t.Fatalf("pages: %v\n%v", got, sent)
	}
	if want := spikeFrom.Add(time.Hour); spikeAt.Before(want) || !spikeAt.Before(want.Add(30*time.Minute)) {
		t.Errorf("the spike paged at %s, want the first evaluation after %s", spikeAt, want)
	}
	a := sent[0]
	if !strings.Contains(a.Title, string(trackplan.UnplannedProperty)) || !strings.Contains(a.Title, event+"."+prop) ||
		!strings.HasPrefix(a.Link, "https://trackplan.example.com/events?event=") || a.Severity != alerts.Warning {
		t.Errorf("spike alert: %+v", a)
	}
	if got := len(e.slack.got()); got != 1 {
		t.Errorf("Slack got %d messages, want 1", got)
	}
	if got := len(e.webhook.got()); got != 1 {
		t.Errorf("the webhook got %d messages, want 1", got)
	}
	// The spike went on for two more hours: its repeats are held once for
	// the digest, then suppressed; none paged.
	if repeats == 0 {
		t.Error("the later spiking hours found no spike: the cooldown was not tested")
	}
	spikes := e.records(store.AlertQuery{Rule: alerts.RuleViolationSpike})
	if len(spikes) != 2 || spikes[0].Status != store.AlertHeld || spikes[1].Status != store.AlertSent {
		t.Errorf("spike records (newest first): %+v", spikes)
	}

	// Clean traffic, the same evaluations: nothing at all.
	c := newEnv(t, nil)
	pending = clean
	for _, at := range times {
		c.now = at
		pending = c.feed(pending)
		if r := c.tracking(); r.Sent+r.Held+r.Failed != 0 {
			t.Fatalf("clean traffic at %s: %+v\n%v", at, r, c.records(store.AlertQuery{}))
		}
	}
}

func sortByReceived(msgs []*trackplan.Message) {
	slices.SortStableFunc(msgs, func(a, b *trackplan.Message) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
}
