package web

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// sent is one message the drift fake counts: when, from which source, of
// which event, and the severity of its finding.
type sent struct {
	at     time.Time
	source string
	event  string
	sev    trackplan.Severity
}

// driftData is the fixture with a DriftSource and a SearchSource: drift
// counts the messages of sent that fall in the window.
type driftData struct {
	*fakeData
	sent     []sent
	accounts []store.Match
	users    []store.Match
	// windows records the spans DriftOver was asked for.
	windows []time.Duration
}

func newDriftData() *driftData {
	d := &driftData{fakeData: fixture()}
	// Every 7 hours over 40 days: the web source's Feature Used type
	// mismatches (errors), the backend's Report Exported unplanned
	// properties (warnings), and every third one an error of identify.
	for i, at := 0, fixedNow.Add(-40*24*time.Hour); at.Before(fixedNow); i, at = i+1, at.Add(7*time.Hour) {
		d.sent = append(d.sent, sent{at, "web", "Feature Used", trackplan.SeverityError},
			sent{at.Add(30 * time.Minute), "backend", "Report Exported", trackplan.SeverityWarning})
		if i%3 == 0 {
			d.sent = append(d.sent, sent{at.Add(2 * time.Hour), "web", "identify", trackplan.SeverityError})
		}
	}
	d.accounts = []store.Match{{ID: "acme", Label: "Acme Corp"}, {ID: "stark", Label: "Stark & Sons"}}
	d.users = []store.Match{{ID: "u-alice", Label: "alice@example.com"}, {ID: "u-bob", Label: "bob@example.com"}}
	return d
}

// testBuckets tiles the hours from the one holding from through the one
// holding to as the drift report's timeline does: hourly for the last 48
// hours, daily before.
func testBuckets(from, to time.Time) []DriftBucket {
	start, end := from.Truncate(time.Hour), to.Truncate(time.Hour).Add(time.Hour)
	hourly := end.Add(-48 * time.Hour)
	if hourly.Before(start) {
		hourly = start
	}
	var out []DriftBucket
	for d := start; d.Before(hourly); {
		next := d.Truncate(24 * time.Hour).Add(24 * time.Hour)
		if next.After(hourly) {
			next = hourly
		}
		out = append(out, DriftBucket{From: d, To: next})
		d = next
	}
	for h := hourly; h.Before(end); h = h.Add(time.Hour) {
		out = append(out, DriftBucket{From: h, To: h.Add(time.Hour)})
	}
	return out
}

func (d *driftData) DriftOver(_ context.Context, from, to time.Time) (*Drift, error) {
	d.windows = append(d.windows, to.Sub(from))
	out := &Drift{Buckets: testBuckets(from, to)}
	type key struct{ source, event string }
	findings := map[key]*trackplan.Finding{}
	for _, s := range d.sent {
		i := slices.IndexFunc(out.Buckets, func(b DriftBucket) bool { return !s.at.Before(b.From) && s.at.Before(b.To) })
		if i < 0 {
			continue
		}
		b := &out.Buckets[i]
		j := slices.IndexFunc(b.Counts, func(c DriftCount) bool { return c.Source == s.source && c.Event == s.event })
		if j < 0 {
			b.Counts = append(b.Counts, DriftCount{Source: s.source, Event: s.event})
			j = len(b.Counts) - 1
		}
		code := trackplan.TypeMismatch
		if s.sev == trackplan.SeverityError {
			b.Counts[j].Errors++
		} else {
			b.Counts[j].Warnings++
			code = trackplan.UnplannedProperty
		}
		f := findings[key{s.source, s.event}]
		if f == nil {
			f = &trackplan.Finding{Code: code, Severity: s.sev, Source: s.source, Event: s.event, Path: "x", FirstSeen: s.at}
			findings[key{s.source, s.event}] = f
		}
		f.Count++
		f.LastSeen = s.at
	}
	for _, f := range findings {
		out.Findings = append(out.Findings, *f)
	}
	slices.SortFunc(out.Findings, func(a, b trackplan.Finding) int { return strings.Compare(a.Source+a.Event, b.Source+b.Event) })
	return out, nil
}

func (d *driftData) SearchAccounts(_ context.Context, text string, limit int) ([]store.Match, error) {
	return searchFake(d.accounts, text, limit), nil
}

func (d *driftData) SearchUsers(_ context.Context, text string, limit int) ([]store.Match, error) {
	return searchFake(d.users, text, limit), nil
}

func searchFake(ms []store.Match, text string, limit int) []store.Match {
	var out []store.Match
	for _, m := range ms {
		if len(out) < limit && (strings.Contains(strings.ToLower(m.ID), strings.ToLower(text)) ||
			strings.Contains(strings.ToLower(m.Label), strings.ToLower(text))) {
			out = append(out, m)
		}
	}
	return out
}

// newDriftHandler serves d with every optional source.
func newDriftHandler(t testing.TB, d *driftData) *Handler {
	t.Helper()
	h, err := New(Options{Data: d, Volumes: d, Traits: d, Activity: d, Plans: d, Rechecking: d.Rechecking,
		Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var barTitle = regexp.MustCompile(`<rect class="bar sev-bar-(error|warning)"[^>]*><title>([^<]*): (\d+) errors?, (\d+) warnings?</title>`)

// chartCounts sums the bars of the chart with the given id in a page:
// each bucket's bars carry its counts in their title.
func chartCounts(t *testing.T, body, id string) (errors, warnings int64, buckets int) {
	t.Helper()
	start := strings.Index(body, `id="`+id+`"`)
	if start < 0 {
		t.Fatalf("no chart %s in the page", id)
	}
	svg := body[start : start+strings.Index(body[start:], "</svg>")]
	seen := map[string]bool{}
	for _, m := range barTitle.FindAllStringSubmatch(svg, -1) {
		if seen[m[2]] {
			continue // the bucket's other bar
		}
		seen[m[2]] = true
		e, _ := strconv.ParseInt(m[3], 10, 64)
		w, _ := strconv.ParseInt(m[4], 10, 64)
		errors, warnings = errors+e, warnings+w
	}
	return errors, warnings, len(seen)
}

// inWindow counts the messages of d sent in [from, to) matching keep.
func (d *driftData) inWindow(from, to time.Time, keep func(sent) bool) (errors, warnings int64) {
	for _, s := range d.sent {
		if s.at.Before(from) || !s.at.Before(to) || !keep(s) {
			continue
		}
		if s.sev == trackplan.SeverityError {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}

// TestViolationsChart checks the overview's chart and the events page's
// per-event charts count the window's messages, of the selected source
// only, and mark the plan edits of the window.
func TestViolationsChart(t *testing.T) {
	d := newDriftData()
	h := newDriftHandler(t, d)
	end := fixedNow.Truncate(time.Hour).Add(time.Hour)
	all := func(sent) bool { return true }
	tests := []struct {
		target string
		chart  string
		span   time.Duration
		keep   func(sent) bool
		marks  int
	}{
		{"/", "violations-chart", 7 * 24 * time.Hour, all, 1},
		{"/?window=24h", "violations-chart", 24 * time.Hour, all, 1},
		{"/?window=30d&source=web", "violations-chart", 30 * 24 * time.Hour, func(s sent) bool { return s.source == "web" }, 3},
		{"/events?window=30d", anchorOf(trackplan.Track, "Feature Used") + "-chart", 30 * 24 * time.Hour,
			func(s sent) bool { return s.event == "Feature Used" }, 3},
		{"/events?source=web", anchorOf(trackplan.Identify, "identify") + "-chart", 7 * 24 * time.Hour,
			func(s sent) bool { return s.event == "identify" }, 1},
		{"/events?source=backend", anchorOf(trackplan.Track, "Report Exported") + "-chart", 7 * 24 * time.Hour,
			func(s sent) bool { return s.event == "Report Exported" }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			res, body := get(t, h, tt.target)
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			from := fixedNow.Add(-tt.span).Truncate(time.Hour)
			wantE, wantW := d.inWindow(from, end, tt.keep)
			gotE, gotW, n := chartCounts(t, body, tt.chart)
			if gotE != wantE || gotW != wantW {
				t.Errorf("chart %s counts %d errors, %d warnings; the window holds %d, %d", tt.chart, gotE, gotW, wantE, wantW)
			}
			if n == 0 {
				t.Error("no bar")
			}
			start := strings.Index(body, `id="`+tt.chart+`"`)
			svg := body[start : start+strings.Index(body[start:], "</svg>")]
			if got := strings.Count(svg, `class="plan-mark"`); got != tt.marks {
				t.Errorf("%d plan marks, want %d", got, tt.marks)
			}
			if !strings.Contains(svg, "Plan edited ") {
				t.Error("plan marks have no title")
			}
		})
	}
}

// TestTimelineLayout checks the chart's geometry: a slot per bucket, the
// hourly part apart from the daily one, bars within their slot and marks
// within their bucket's slot.
func TestTimelineLayout(t *testing.T) {
	from, to := fixedNow.Add(-7*24*time.Hour), fixedNow
	d := &Drift{Buckets: testBuckets(from, to)}
	// Mar 8 from 12:00, Mar 9 to 12, Mar 13 to 13:00, then 48 hours.
	if n := len(d.Buckets); n != 6+48 {
		t.Fatalf("%d buckets", n)
	}
	s := series{errors: make([]int64, len(d.Buckets)), warnings: make([]int64, len(d.Buckets))}
	s.errors[0], s.warnings[0] = 40, 10 // a day
	s.errors[len(d.Buckets)-1] = 2      // the last hour
	edit := d.Buckets[2].From.Add(6 * time.Hour)
	c := newTimelineChart("c", d, s, []editAt{{At: edit, Title: "Plan edited"}, {At: from.Add(-time.Hour), Title: "before"}}, "every event", false)
	if len(c.Parts) != 2 || c.Parts[0].Label != "daily" || c.Parts[1].Label != "hourly" || !c.Parts[1].Border {
		t.Fatalf("parts %+v", c.Parts)
	}
	slot := float64(c.Right-c.Left) / float64(len(d.Buckets))
	if got, want := float64(c.Parts[1].X), float64(c.Left)+6*slot; got-want > 0.1 || want-got > 0.1 {
		t.Errorf("the hourly part starts at %v, want %v", got, want)
	}
	if len(c.Marks) != 1 {
		t.Fatalf("marks %+v: want the one edit in the window", c.Marks)
	}
	if x, lo := float64(c.Marks[0].X), float64(c.Left)+2*slot; x < lo+slot*0.2 || x > lo+slot*0.3 {
		t.Errorf("the edit 6 hours into bucket 2 is drawn at %v, want a quarter into [%v, %v)", x, lo, lo+slot)
	}
	if len(c.Bars) != 3 {
		t.Fatalf("bars %+v", c.Bars)
	}
	// Each part has its own scale: the day's 50 fill it, as do the last
	// hour's 2.
	plot := float64(c.Bottom - c.Top)
	if h := float64(c.Bars[0].H + c.Bars[1].H); h < plot*0.9 {
		t.Errorf("the daily peak is %v high of %v", h, plot)
	}
	if h := float64(c.Bars[2].H); h < plot*0.9 {
		t.Errorf("the hourly peak is %v high of %v", h, plot)
	}
	for _, want := range []string{"by day, then by hour for the last 48 hours", "42 errors, 10 warnings in all", "plan edited"} {
		if !strings.Contains(c.Label, want) {
			t.Errorf("label %q lacks %q", c.Label, want)
		}
	}
	short := &Drift{Buckets: testBuckets(fixedNow.Add(-24*time.Hour), fixedNow)}
	cs := newTimelineChart("s", short, seriesOf(short, "", nil), nil, "x", true)
	if len(cs.Parts) != 1 || cs.Parts[0].Label != "hourly" || len(cs.Bars) != 0 || !strings.Contains(cs.Label, "by hour") {
		t.Errorf("a day's chart: parts %+v, %d bars, label %q", cs.Parts, len(cs.Bars), cs.Label)
	}
	if got := bucketText(d.Buckets[1]); got != d.Buckets[1].From.Format("Jan 2") {
		t.Errorf("a whole day is named %q", got)
	}
	if got, want := bucketText(d.Buckets[len(d.Buckets)-1]), "Mar 15 12:00–13:00 UTC"; got != want {
		t.Errorf("the last hour is named %q, want %q", got, want)
	}
}
