package web

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// DriftSource judges the traffic of a chosen window by the current plan,
// and counts its findings over time. It is optional: without it the pages
// show the findings of Data over the default window, offer no other
// window and draw no violations chart. When nil, it is Data if Data
// implements it.
type DriftSource interface {
	// DriftOver returns the findings of the traffic in the hours from the
	// one holding from through the one holding to, and the same traffic's
	// error and warning counts by bucket of event time.
	DriftOver(ctx context.Context, from, to time.Time) (*Drift, error)
}

// Drift is the drift of a window.
type Drift struct {
	// Findings are the window's findings, as Data.Findings gives them.
	Findings []trackplan.Finding
	// Buckets tile the window in event time, oldest first: one an hour
	// for its last 48 hours, one a UTC day before.
	Buckets []DriftBucket
}

// DriftBucket is one span of event time, [From, To).
type DriftBucket struct {
	From, To time.Time
	// Counts are the messages the bucket's error and warning findings
	// count, by source and event; an event "" gathers the findings of no
	// event (rejected messages).
	Counts []DriftCount
}

// DriftCount is what one event of one source counts in a bucket.
type DriftCount struct {
	Source, Event    string
	Errors, Warnings int64
}

// series is a timeline's counts, bucket by bucket.
type series struct {
	errors, warnings []int64
}

// seriesOf sums the buckets' counts of the source ("" for all) whose
// event keep accepts (nil: every event).
func seriesOf(d *Drift, source string, keep func(event string) bool) series {
	s := series{errors: make([]int64, len(d.Buckets)), warnings: make([]int64, len(d.Buckets))}
	for i, b := range d.Buckets {
		for _, c := range b.Counts {
			if (source == "" || c.Source == source) && (keep == nil || keep(c.Event)) {
				s.errors[i] += c.Errors
				s.warnings[i] += c.Warnings
			}
		}
	}
	return s
}

// timelineChart is a bar chart of error and warning counts over a window:
// a slot per bucket, the daily buckets then the hourly ones, each part on
// its own vertical scale; plan edits are vertical lines.
type timelineChart struct {
	ID                       string
	Label                    string
	Width, Height            coord
	Left, Right, Top, Bottom coord
	Bars                     []bar
	Marks                    []planMark
	Parts                    []chartPart
	XTicks                   []tick
	// Empty is set when there is nothing to draw: no bucket, or no count
	// on a small chart.
	Empty bool
	// Small charts (an event card's) have no axis labels and stretch to
	// their box.
	Small bool
}

// chartPart is the daily or the hourly part of a timeline chart.
type chartPart struct {
	X, W   coord
	Label  string // "daily" or "hourly"
	Max    tick   // the scale's top, labelled
	Border bool   // a line at X separates it from the part before
}

// planMark is a plan edit on a chart.
type planMark struct {
	X     coord
	Title string
}

// editAt is a plan edit to mark: when, and its tooltip.
type editAt struct {
	At    time.Time
	Title string
}

// planEditsAt returns the plan versions first seen in [from, to) to mark
// on a timeline, oldest first.
func (h *Handler) planEditsAt(ctx context.Context, from, to time.Time) ([]editAt, error) {
	if h.plans == nil {
		return nil, nil
	}
	vs, err := h.plans.PlanVersions(ctx, planEditLimit)
	if err != nil {
		return nil, fmt.Errorf("load plan versions: %w", err)
	}
	var out []editAt
	for i := len(vs) - 1; i >= 0; i-- { // newest first
		v := vs[i]
		if v.FirstSeen.IsZero() || v.FirstSeen.Before(from) || !v.FirstSeen.Before(to) {
			continue
		}
		title := "Plan edited " + v.FirstSeen.UTC().Format("Jan 2, 15:04 UTC") + ": " + v.ID
		if v.Origin != "" {
			title += " (" + v.Origin + ")"
		}
		out = append(out, editAt{At: v.FirstSeen, Title: title})
	}
	return out, nil
}

// Sizes of the charts, in viewBox units.
const (
	chartW, chartH           = 1000.0, 200.0
	smallChartW, smallChartH = 1000.0, 90.0
)

// newTimelineChart draws s over the buckets of d; what names what is
// counted in the label ("findings of Order Completed").
func newTimelineChart(id string, d *Drift, s series, edits []editAt, what string, small bool) *timelineChart {
	c := &timelineChart{ID: id, Width: chartW, Height: chartH, Left: 48, Right: 952, Top: 22, Bottom: 172, Small: small}
	if small {
		c.Width, c.Height, c.Left, c.Right, c.Top, c.Bottom = smallChartW, smallChartH, 4, 996, 6, 86
	}
	n := len(d.Buckets)
	if n == 0 {
		c.Empty = true
		c.Label = "No " + what + ": the window is empty"
		return c
	}
	// The hourly buckets are those of the last 48 hours.
	hourlyFrom := d.Buckets[n-1].To.Add(-48 * time.Hour)
	firstHour := n
	for firstHour > 0 && !d.Buckets[firstHour-1].From.Before(hourlyFrom) {
		firstHour--
	}
	slot := float64(c.Right-c.Left) / float64(n)
	xOf := func(i int) float64 { return float64(c.Left) + float64(i)*slot }
	plotH := float64(c.Bottom - c.Top)
	var totalE, totalW int64
	for i := range n {
		totalE += s.errors[i]
		totalW += s.warnings[i]
	}
	parts := [][2]int{{0, firstHour}, {firstHour, n}}
	for k, p := range parts {
		lo, hi := p[0], p[1]
		if lo >= hi {
			continue
		}
		var peak int64
		for i := lo; i < hi; i++ {
			peak = max(peak, s.errors[i]+s.warnings[i])
		}
		top := int64(niceCeil(int(min(peak, 1<<40))))
		label := "daily"
		if k == 1 {
			label = "hourly"
		}
		part := chartPart{X: coord(xOf(lo)), W: coord(float64(hi-lo) * slot), Label: label, Border: lo > 0,
			Max: tick{X: coord(xOf(lo) + 4), Y: c.Top - 6, Label: label + ", up to " + formatInt(top), Anchor: "start"}}
		c.Parts = append(c.Parts, part)
		for i := lo; i < hi; i++ {
			e, w := s.errors[i], s.warnings[i]
			if e+w == 0 {
				continue
			}
			x := xOf(i) + slot*0.1
			bw := slot * 0.8
			eh := float64(e) / float64(top) * plotH
			wh := float64(w) / float64(top) * plotH
			title := bucketText(d.Buckets[i]) + ": " + countsText(e, w)
			if e > 0 {
				c.Bars = append(c.Bars, bar{X: coord(x), W: coord(bw), Y: coord(float64(c.Bottom) - eh), H: coord(eh), Key: "error", Title: title})
			}
			if w > 0 {
				c.Bars = append(c.Bars, bar{X: coord(x), W: coord(bw), Y: coord(float64(c.Bottom) - eh - wh), H: coord(wh), Key: "warning", Title: title})
			}
		}
	}
	if !small {
		c.XTicks = append(c.XTicks, tick{X: c.Left, Y: c.Bottom + 20, Label: shortDate(d.Buckets[0].From), Anchor: "start"})
		if firstHour > 0 && firstHour < n {
			c.XTicks = append(c.XTicks, tick{X: coord(xOf(firstHour)), Y: c.Bottom + 20, Label: d.Buckets[firstHour].From.UTC().Format("Jan 2 15:04"), Anchor: "middle"})
		}
		c.XTicks = append(c.XTicks, tick{X: c.Right, Y: c.Bottom + 20, Label: "now", Anchor: "end"})
	}
	var edited []string
	for _, e := range edits {
		for i, b := range d.Buckets {
			if e.At.Before(b.From) || !e.At.Before(b.To) {
				continue
			}
			frac := float64(e.At.Sub(b.From)) / float64(b.To.Sub(b.From))
			c.Marks = append(c.Marks, planMark{X: coord(xOf(i) + frac*slot), Title: e.Title})
			edited = append(edited, e.At.UTC().Format("Jan 2 15:04 UTC"))
		}
	}
	if small && totalE+totalW == 0 {
		// A card's empty chart says so in a line instead.
		c.Empty = true
	}
	c.Label = fmt.Sprintf("Errors and warnings (%s) from %s to now, %s: %s in all", what,
		d.Buckets[0].From.UTC().Format("Jan 2 15:04 UTC"), partsText(c.Parts), countsText(totalE, totalW))
	if len(edited) > 0 {
		c.Label += "; plan edited " + strings.Join(edited, ", ")
	}
	return c
}

// partsText says how a chart's buckets are laid out.
func partsText(parts []chartPart) string {
	if len(parts) == 2 {
		return "by day, then by hour for the last 48 hours"
	}
	if len(parts) == 1 && parts[0].Label == "hourly" {
		return "by hour"
	}
	return "by day"
}

// bucketText names a bucket: "Mar 12" for a whole day, "Mar 14 13:00–14:00
// UTC" for an hour, the span otherwise.
func bucketText(b DriftBucket) string {
	from, to := b.From.UTC(), b.To.UTC()
	switch {
	case to.Sub(from) == 24*time.Hour && from.Equal(from.Truncate(24*time.Hour)):
		return from.Format("Jan 2")
	case from.Truncate(24 * time.Hour).Equal(to.Add(-time.Nanosecond).Truncate(24 * time.Hour)):
		return from.Format("Jan 2 15:04") + "–" + to.Format("15:04") + " UTC"
	}
	return from.Format("Jan 2 15:04") + " – " + to.Format("Jan 2 15:04") + " UTC"
}

// countsText is "3 errors, 1 warning".
func countsText(e, w int64) string {
	return countOf(int(e), "error") + ", " + countOf(int(w), "warning")
}

// overallChart is the overview's chart of the view's findings.
func (h *Handler) overallChart(ctx context.Context, v *view) (*timelineChart, error) {
	if v.drift == nil {
		return nil, nil
	}
	from, to := v.drift.window()
	edits, err := h.planEditsAt(ctx, from, to)
	if err != nil {
		return nil, err
	}
	what := "every event"
	if v.filter.Source != "" {
		what = "source " + v.filter.Source
	}
	return newTimelineChart("violations-chart", v.drift, seriesOf(v.drift, v.filter.Source, nil), edits, what, false), nil
}

// eventCharts returns the chart of each row's findings, by anchor.
func (h *Handler) eventCharts(ctx context.Context, v *view, rows []*eventRow) (map[string]*timelineChart, error) {
	if v.drift == nil {
		return nil, nil
	}
	from, to := v.drift.window()
	edits, err := h.planEditsAt(ctx, from, to)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*timelineChart, len(rows))
	for _, row := range rows {
		name, typ := row.Name, row.Type
		keep := func(event string) bool {
			// Findings of identify and group calls are named by the type.
			return event == name || (typ == string(trackplan.Identify) || typ == string(trackplan.Group)) && event == typ
		}
		out[row.Anchor] = newTimelineChart(row.Anchor+"-chart", v.drift, seriesOf(v.drift, v.filter.Source, keep), edits, row.Name, true)
	}
	return out, nil
}

// window is the span the buckets tile.
func (d *Drift) window() (from, to time.Time) {
	if len(d.Buckets) == 0 {
		return time.Time{}, time.Time{}
	}
	return d.Buckets[0].From, d.Buckets[len(d.Buckets)-1].To
}
