package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// obsStatus is an event's observed status, as the plan's Observed column
// names it.
type obsStatus int

// Observed statuses, in the order the overview's bar shows them.
const (
	statusLive obsStatus = iota
	statusViolations
	statusDeprecatedSeen
	statusNotSeen
	statusUnplanned
	numStatuses
)

// Key is the status's query value and CSS modifier.
func (s obsStatus) Key() string {
	return [...]string{"live", "violations", "deprecated_seen", "not_seen", "unplanned"}[s]
}

// Label is the status's display name.
func (s obsStatus) Label() string {
	return [...]string{"Live", "Violations", "Deprecated but seen", "Not seen", "Unplanned"}[s]
}

func parseStatus(v string) (obsStatus, bool) {
	for s := range numStatuses {
		if s.Key() == v {
			return s, true
		}
	}
	return 0, false
}

// violationCode reports whether a finding with this code means the event's
// traffic breaks its plan entry (as opposed to the event missing, being
// unplanned, misnamed, or a best-practice gap).
func violationCode(c trackplan.Code) bool {
	switch c {
	case trackplan.UnplannedProperty, trackplan.RequiredMissing, trackplan.TypeMismatch,
		trackplan.NullNotAllowed, trackplan.EnumViolation, trackplan.PatternViolation,
		trackplan.RangeViolation, trackplan.TypeInconsistent:
		return true
	}
	return false
}

// eventKey identifies an observed event across sources.
type eventKey struct {
	Type trackplan.CallType
	Name string
}

// eventAgg is what was seen of one event, summed over sources.
type eventAgg struct {
	key     eventKey
	count   int64
	first   time.Time
	last    time.Time
	sources []string
	props   map[string]*propAgg
	order   []string // property paths in first-seen order of the input
}

type propAgg struct {
	types   map[string]int64
	present int64
	last    time.Time
}

func (a *eventAgg) add(o *store.ObservedEvent) {
	a.count += o.Count
	if a.first.IsZero() || (!o.FirstSeen.IsZero() && o.FirstSeen.Before(a.first)) {
		a.first = o.FirstSeen
	}
	if o.LastSeen.After(a.last) {
		a.last = o.LastSeen
	}
	if o.Source != "" && !slices.Contains(a.sources, o.Source) {
		a.sources = append(a.sources, o.Source)
	}
	for _, p := range o.Properties {
		pa, ok := a.props[p.Path]
		if !ok {
			pa = &propAgg{types: map[string]int64{}}
			a.props[p.Path] = pa
			a.order = append(a.order, p.Path)
		}
		for t, n := range p.Types {
			pa.types[t] += n
		}
		pa.present += p.Present
		if p.LastSeen.After(pa.last) {
			pa.last = p.LastSeen
		}
	}
}

// merge folds b into a (two observed names resolving to one plan entry).
func (a *eventAgg) merge(b *eventAgg) {
	a.count += b.count
	if a.first.IsZero() || (!b.first.IsZero() && b.first.Before(a.first)) {
		a.first = b.first
	}
	if b.last.After(a.last) {
		a.last = b.last
	}
	for _, s := range b.sources {
		if !slices.Contains(a.sources, s) {
			a.sources = append(a.sources, s)
		}
	}
	for _, path := range b.order {
		pb := b.props[path]
		pa, ok := a.props[path]
		if !ok {
			pa = &propAgg{types: map[string]int64{}}
			a.props[path] = pa
			a.order = append(a.order, path)
		}
		for t, n := range pb.types {
			pa.types[t] += n
		}
		pa.present += pb.present
		if pb.last.After(pa.last) {
			pa.last = pb.last
		}
	}
}

// eventRow is one planned or observed event with everything the pages show
// of it.
type eventRow struct {
	Anchor      string
	Href        string // the row's card on the unfiltered events page, page included
	Name        string
	Type        string
	Planned     bool
	PlanStatus  string
	Weight      int
	Owner       string
	Description string
	Status      obsStatus
	Count       int64
	CountText   string
	Sources     []string
	FirstSeen   timeView
	LastSeen    timeView
	// Volume is the daily volume over VolumeDays days, when known.
	Volume     *sparkline
	VolumeText string
	Findings   []findingRow
	Codes      []codeCount
	Properties []propRow
	// FindingCount counts the event's findings; MoreFindings and
	// MoreProperties count those its card leaves out (see
	// maxCardFindings and maxCardProperties).
	FindingCount   int
	MoreFindings   int
	MoreProperties int
	// detail is what fillDetails needs to build the card of the row; nil
	// when the rows were classified without properties.
	detail *rowDetail
	// keys are the observed events behind the row (several when page and
	// track observations resolve to one plan entry).
	keys []eventKey
}

// codeCount is how many findings of one code an event has.
type codeCount struct {
	Code string
	N    int
}

// propRow is one planned or observed property of an event.
type propRow struct {
	Name         string
	Planned      bool
	PlannedType  string
	Required     bool
	Observed     []typeShare
	Presence     string
	PresenceBar  meter
	PresenceSort string
	LastSeen     timeView
	State        string // ok, unplanned, missing (required, never present) or unseen
	Codes        []string
}

// typeShare is one observed JSON type of a property with its share.
type typeShare struct {
	Type string
	Pct  string
}

// findingRow is one finding as tables show it.
type findingRow struct {
	Code      string
	Severity  string
	Event     string
	EventHref string
	Path      string
	Expected  string
	Observed  string
	Count     string
	// FirstSeen and LastSeen bound the finding in the drift window;
	// FirstSeenAllTime is set when the finding was first seen earlier.
	FirstSeen        timeView
	FirstSeenAllTime timeView
	LastSeen         timeView
	// Samples are example messages, pretty-printed (events page only).
	Samples []string
}

// health is plan × observed × findings, the basis of the overview's plan
// health and of the events page.
type health struct {
	rows     []*eventRow // planned events in plan order, then unplanned by volume
	byStatus [numStatuses]int
	findings []trackplan.Finding
	anchors  map[string]string // event name → anchor of its row
	totals   store.Totals
}

// anchorOf is a stable, id-safe anchor for an event row.
func anchorOf(t trackplan.CallType, name string) string {
	sum := sha256.Sum256([]byte(string(t) + "\x00" + name))
	return "ev-" + hex.EncodeToString(sum[:5])
}

// classify builds the event rows: a planned event is live when seen since
// seenSince, with violations when seen and it has an error or warning
// finding of a violation code, deprecated but seen when deprecated and
// seen, not seen otherwise; an observed event with no plan entry (alias
// calls aside) is unplanned.
func classify(plan *trackplan.Plan, obs *store.Observed, findings []trackplan.Finding, now, seenSince time.Time, withProps bool) *health {
	hl := &health{findings: findings, anchors: map[string]string{}, totals: obs.Totals}

	aggs := map[eventKey]*eventAgg{}
	var keys []eventKey
	for i := range obs.Events {
		o := &obs.Events[i]
		k := eventKey{o.Type, o.Name}
		a, ok := aggs[k]
		if !ok {
			a = &eventAgg{key: k, props: map[string]*propAgg{}}
			aggs[k] = a
			keys = append(keys, k)
		}
		a.add(o)
	}

	// Resolve each observed event to its plan entry.
	var planned []*trackplan.Event
	if plan != nil {
		for _, e := range plan.Events {
			if e != nil {
				planned = append(planned, e)
			}
		}
	}
	byEntry := map[*trackplan.Event]*eventAgg{}
	entryKeys := map[*trackplan.Event][]eventKey{}
	var unplanned []*eventAgg
	for _, k := range keys {
		a := aggs[k]
		e := plan.Lookup(k.Type, k.Name)
		if e == nil {
			if k.Type != trackplan.Alias {
				unplanned = append(unplanned, a)
			}
			continue
		}
		entryKeys[e] = append(entryKeys[e], k)
		if prev, ok := byEntry[e]; ok {
			merged := &eventAgg{key: prev.key, props: map[string]*propAgg{}}
			merged.merge(prev)
			merged.merge(a)
			byEntry[e] = merged
		} else {
			byEntry[e] = a
		}
	}

	byEvent := map[string][]trackplan.Finding{}
	for _, f := range findings {
		if f.Event != "" {
			byEvent[f.Event] = append(byEvent[f.Event], f)
		}
	}

	for _, e := range planned {
		a := byEntry[e]
		row := &eventRow{
			Name: e.Name, Type: string(e.CallType()), Planned: true, PlanStatus: string(e.Status),
			Weight: e.Weight, Owner: e.Owner, Description: e.Description, keys: entryKeys[e],
		}
		fs := byEvent[e.Name]
		if t := e.CallType(); (t == trackplan.Identify || t == trackplan.Group) && e.Name != string(t) {
			fs = append(slices.Clip(fs), byEvent[string(t)]...)
		}
		seen := a != nil && !a.last.Before(seenSince)
		violating := false
		for _, f := range fs {
			if violationCode(f.Code) && f.Severity != trackplan.SeverityInfo {
				violating = true
			}
		}
		switch {
		case seen && e.Status == trackplan.StatusDeprecated:
			row.Status = statusDeprecatedSeen
		case seen && violating:
			row.Status = statusViolations
		case seen:
			row.Status = statusLive
		default:
			row.Status = statusNotSeen
		}
		fillRow(row, a, e, fs, now, withProps)
		hl.rows = append(hl.rows, row)
	}
	slices.SortStableFunc(unplanned, func(x, y *eventAgg) int {
		return cmp.Or(cmp.Compare(y.count, x.count), cmp.Compare(x.key.Name, y.key.Name), cmp.Compare(x.key.Type, y.key.Type))
	})
	for _, a := range unplanned {
		row := &eventRow{Name: a.key.Name, Type: string(a.key.Type), Status: statusUnplanned, keys: []eventKey{a.key}}
		fillRow(row, a, nil, byEvent[a.key.Name], now, withProps)
		hl.rows = append(hl.rows, row)
	}
	for i, row := range hl.rows {
		row.Anchor = anchorOf(trackplan.CallType(row.Type), row.Name)
		row.Href = eventsHref(i/EventsPageSize+1, row.Anchor)
		hl.byStatus[row.Status]++
		if _, ok := hl.anchors[row.Name]; !ok {
			hl.anchors[row.Name] = row.Href
		}
		if t := trackplan.CallType(row.Type); t == trackplan.Identify || t == trackplan.Group {
			if _, ok := hl.anchors[string(t)]; !ok {
				hl.anchors[string(t)] = row.Href
			}
		}
	}
	return hl
}

// Bounds of one event card on the events page, so that an event with
// thousands of property paths or findings does not make the page huge.
const (
	maxCardProperties = 200
	maxCardFindings   = 200
	// maxCardSampleBytes caps the example messages of one card: the
	// findings with the highest counts show theirs until it is reached.
	maxCardSampleBytes = 64 << 10
	// maxPathText caps a property path as a card shows it, in characters.
	maxPathText = 200
)

// rowDetail is what an event card is built from: the observations (nil
// when never seen), the plan entry (nil when unplanned) and the findings.
type rowDetail struct {
	agg   *eventAgg
	entry *trackplan.Event
	fs    []trackplan.Finding
}

// fillRow adds what was observed (a, may be nil) and the findings to a row.
// withProps keeps what fillDetails needs to build the row's card.
func fillRow(row *eventRow, a *eventAgg, e *trackplan.Event, fs []trackplan.Finding, now time.Time, withProps bool) {
	if a != nil {
		row.Count = a.count
		row.FirstSeen = timeOf(a.first, now)
		row.LastSeen = timeOf(a.last, now)
		row.Sources = slices.Sorted(slices.Values(a.sources))
	}
	row.CountText = formatInt(row.Count)
	codes := map[string]int{}
	for _, f := range fs {
		codes[string(f.Code)]++
	}
	for c, n := range codes {
		row.Codes = append(row.Codes, codeCount{Code: c, N: n})
	}
	slices.SortFunc(row.Codes, func(x, y codeCount) int { return cmp.Compare(x.Code, y.Code) })
	row.FindingCount = len(fs)
	if withProps {
		row.detail = &rowDetail{agg: a, entry: e, fs: fs}
	}
}

// fillDetails builds the card of a row classified with properties: its
// findings (the first maxCardFindings by count, with example messages)
// and its planned and observed properties (the first maxCardProperties,
// planned ones first). anchors links findings to the rows of their events.
func fillDetails(row *eventRow, anchors map[string]string, now time.Time) {
	d := row.detail
	if d == nil {
		return
	}
	row.detail = nil
	a, e, fs := d.agg, d.entry, d.fs
	row.Findings = firstFindingRows(fs, anchors, now, maxCardSampleBytes, maxCardFindings)
	row.MoreFindings = len(fs) - len(row.Findings)
	for i := range row.Findings {
		row.Findings[i].Path = truncate(row.Findings[i].Path, maxPathText)
	}
	byPath := map[string][]string{}
	for _, f := range fs {
		if f.Path != "" && !slices.Contains(byPath[f.Path], string(f.Code)) {
			byPath[f.Path] = append(byPath[f.Path], string(f.Code))
		}
	}
	for _, codes := range byPath {
		slices.Sort(codes)
	}
	total := int64(0)
	if a != nil {
		total = a.count
	}
	done := map[string]bool{}
	if e != nil {
		for _, p := range e.Properties {
			if p == nil {
				continue
			}
			done[p.Name] = true
			if len(row.Properties) >= maxCardProperties {
				row.MoreProperties++
				continue
			}
			pr := propRow{Name: p.Name, Planned: true, PlannedType: string(p.EffectiveType()), Required: p.Required, Codes: byPath[p.Name]}
			var pa *propAgg
			if a != nil {
				pa = a.props[p.Name]
			}
			fillProp(&pr, pa, total, now)
			switch {
			case pa != nil && pa.present > 0:
				pr.State = "ok"
			case p.Required && total > 0:
				pr.State = "missing"
			default:
				pr.State = "unseen"
			}
			row.Properties = append(row.Properties, pr)
		}
	}
	if a != nil {
		extra := slices.Clone(a.order)
		slices.Sort(extra)
		for _, path := range extra {
			if done[path] {
				continue
			}
			if len(row.Properties) >= maxCardProperties {
				row.MoreProperties++
				continue
			}
			pr := propRow{Name: path, PlannedType: "—", State: "unplanned", Codes: byPath[path]}
			if e == nil {
				pr.State = "ok" // every property of an unplanned event is unplanned; do not repeat it
			}
			fillProp(&pr, a.props[path], total, now)
			row.Properties = append(row.Properties, pr)
		}
	}
	for i := range row.Properties {
		row.Properties[i].Name = truncate(row.Properties[i].Name, maxPathText)
	}
}

func fillProp(pr *propRow, pa *propAgg, total int64, now time.Time) {
	if pa == nil || total == 0 {
		pr.Presence, pr.PresenceSort = "—", "-1"
		return
	}
	pct := float64(pa.present) / float64(total) * 100
	pr.Presence = formatPct(pct)
	pr.PresenceSort = formatScore(pct)
	pr.PresenceBar = meterOf(pct, "presence")
	pr.LastSeen = timeOf(pa.last, now)
	var sum int64
	for _, n := range pa.types {
		sum += n
	}
	types := make([]string, 0, len(pa.types))
	for t := range pa.types {
		types = append(types, t)
	}
	slices.SortFunc(types, func(x, y string) int { return cmp.Or(cmp.Compare(pa.types[y], pa.types[x]), cmp.Compare(x, y)) })
	for _, t := range types {
		share := typeShare{Type: t}
		if sum > 0 && len(types) > 1 {
			share.Pct = formatPct(float64(pa.types[t]) / float64(sum) * 100)
		}
		pr.Observed = append(pr.Observed, share)
	}
}

// findingRows orders findings by count (then severity, code, event, path).
// anchors links events to their rows; nil leaves the links to the caller.
func findingRows(fs []trackplan.Finding, anchors map[string]string, now time.Time) []findingRow {
	return firstFindingRows(fs, anchors, now, 0, len(fs))
}

// firstFindingRows is findingRows cut to the first limit rows, with the
// example messages of the first findings while their pretty-printed size
// stays within sampleBytes (0: none).
func firstFindingRows(fs []trackplan.Finding, anchors map[string]string, now time.Time, sampleBytes, limit int) []findingRow {
	sorted := slices.Clone(fs)
	slices.SortStableFunc(sorted, func(x, y trackplan.Finding) int {
		return cmp.Or(cmp.Compare(y.Count, x.Count), cmp.Compare(x.Severity.Rank(), y.Severity.Rank()),
			cmp.Compare(x.Code, y.Code), cmp.Compare(x.Event, y.Event), cmp.Compare(x.Path, y.Path))
	})
	sorted = sorted[:min(max(limit, 0), len(sorted))]
	rows := make([]findingRow, 0, len(sorted))
	for _, f := range sorted {
		row := findingRow{
			Code: string(f.Code), Severity: severityKey(f.Severity), Event: f.Event, EventHref: anchors[f.Event],
			Path: f.Path, Expected: truncate(f.Expected, 120), Observed: truncate(f.Observed, 120),
			Count: formatInt(f.Count), FirstSeen: timeOf(f.FirstSeen, now), LastSeen: timeOf(f.LastSeen, now),
		}
		if all := f.FirstSeenAllTime; !all.IsZero() && (f.FirstSeen.IsZero() || all.Before(f.FirstSeen)) {
			row.FirstSeenAllTime = dateOf(all)
		}
		for _, m := range f.Samples {
			if sampleBytes <= 0 {
				break
			}
			p := prettySample(m)
			if len(p) > sampleBytes {
				sampleBytes = 0
				break
			}
			sampleBytes -= len(p)
			row.Samples = append(row.Samples, p)
		}
		rows = append(rows, row)
	}
	return rows
}

// dateOf is a timeView that shows the date.
func dateOf(t time.Time) timeView {
	v := timeOf(t, t)
	v.Text = t.UTC().Format(time.DateOnly)
	return v
}

// maxSampleBytes caps an example message as the events page shows it.
const maxSampleBytes = 4 << 10

// prettySample indents an example message (one that is not JSON is shown
// as it is) and cuts it at maxSampleBytes.
func prettySample(m json.RawMessage) string {
	s := string(m)
	var b bytes.Buffer
	if err := json.Indent(&b, m, "", "  "); err == nil {
		s = b.String()
	}
	if len(s) > maxSampleBytes {
		n := maxSampleBytes
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "\n… (cut at 4 KB)"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// volumeDays is the span of the events page's volume sparklines.
const volumeDays = 30

// planEditLimit is how many plan versions are read to mark plan edits.
const planEditLimit = 50

// planEdit is a plan version first seen in the span of the volume charts.
type planEdit struct {
	At         timeView
	ID, Origin string
}

// planEdits reads the plan versions first seen in the n days from from,
// oldest first, and the chart marks of the days they fall on.
func (h *Handler) planEdits(ctx context.Context, from time.Time, n int) ([]planEdit, []dayMark, error) {
	if h.plans == nil {
		return nil, nil, nil
	}
	vs, err := h.plans.PlanVersions(ctx, planEditLimit)
	if err != nil {
		return nil, nil, fmt.Errorf("load plan versions: %w", err)
	}
	vs = slices.Clone(vs)
	slices.SortStableFunc(vs, func(x, y store.PlanVersion) int { return x.FirstSeen.Compare(y.FirstSeen) })
	var edits []planEdit
	var marks []dayMark
	for _, v := range vs {
		if v.FirstSeen.IsZero() {
			continue
		}
		day := int(v.FirstSeen.UTC().Sub(from) / (24 * time.Hour))
		if v.FirstSeen.Before(from) || day >= n {
			continue
		}
		at := timeOf(v.FirstSeen, h.now())
		at.Text = v.FirstSeen.UTC().Format("Jan 2, 15:04 UTC")
		edits = append(edits, planEdit{At: at, ID: v.ID, Origin: v.Origin})
		title := "plan edited: " + v.ID
		if v.Origin != "" {
			title += " (" + v.Origin + ")"
		}
		if k := len(marks) - 1; k >= 0 && marks[k].Day == day {
			marks[k].Title += "; " + title
			continue
		}
		marks = append(marks, dayMark{Day: day, Title: title, Label: shortDate(v.FirstSeen)})
	}
	return edits, marks, nil
}

// addVolumes draws each row's daily volume over the last volumeDays days,
// marking the days the plan was edited; it returns the edits.
func (h *Handler) addVolumes(ctx context.Context, rows []*eventRow) ([]planEdit, error) {
	now := h.now().UTC()
	to := now.Truncate(24*time.Hour).AddDate(0, 0, 1)
	from := to.AddDate(0, 0, -volumeDays)
	edits, marks, err := h.planEdits(ctx, from, volumeDays)
	if err != nil {
		return nil, err
	}
	byKey := map[eventKey]*eventRow{}
	for _, r := range rows {
		for _, k := range r.keys {
			byKey[k] = r
		}
	}
	series := map[*eventRow]*[volumeDays]float64{}
	err = h.volumes.EventVolume(ctx, from, to, func(typ trackplan.CallType, name string, day time.Time, count int64) error {
		r, ok := byKey[eventKey{typ, name}]
		if !ok {
			return nil
		}
		i := int(day.UTC().Sub(from) / (24 * time.Hour))
		if i < 0 || i >= volumeDays {
			return nil
		}
		s, ok := series[r]
		if !ok {
			s = new([volumeDays]float64)
			series[r] = s
		}
		s[i] += float64(count)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load event volume: %w", err)
	}
	for _, r := range rows {
		s, ok := series[r]
		if !ok {
			r.VolumeText = "0"
			r.Volume = newSparkline(make([]float64, volumeDays), 0, 1, fmt.Sprintf("No messages in the last %d days", volumeDays)).
				withMarks(volumeDays, marks)
			continue
		}
		var sum, peak float64
		for _, v := range s {
			sum += v
			peak = max(peak, v)
		}
		r.VolumeText = formatInt(int64(sum))
		r.Volume = newSparkline(s[:], 0, 0, fmt.Sprintf("Daily volume over the last %s: %s, at most %s a day",
			plural(volumeDays, "day"), countOf(int(sum), "message"), formatInt(int64(peak)))).withMarks(volumeDays, marks)
	}
	return edits, nil
}

// EventsPageSize is the number of events (table rows and their cards)
// per page of the events page.
const EventsPageSize = 100

// eventsHref is the events page at an anchor on page n (1-based) of the
// unfiltered list.
func eventsHref(n int, anchor string) string {
	if n > 1 {
		return "/events?page=" + strconv.Itoa(n) + "#" + anchor
	}
	return "/events#" + anchor
}

// eventsPage is the content of the events page.
type eventsPage struct {
	Filter   string
	Statuses []statusChip
	Rows     []*eventRow
	// Page and Pages number the page shown (1-based) and the pages; Prev
	// and Next link the neighbours, empty at either end.
	Page, Pages int
	Prev, Next  string
	HasVolume   bool
	VolumeDays  int
	WindowDays  int
	// PlanEdits are the plan versions first seen in the volume charts'
	// span, oldest first.
	PlanEdits []planEdit
	// Filters is the source and window form; Window names the window;
	// Charts, when there is a drift source, draw each row's errors and
	// warnings over time, by row anchor.
	Filters *filterForm
	Window  string
	Charts  map[string]*timelineChart
	// Source is the source shown, "" for all; the volume charts count
	// every source.
	Source string
}

// statusChip is one status filter link with its count.
type statusChip struct {
	Key, Label, Href string
	N                int
	Current          bool
}

func (h *Handler) events(w http.ResponseWriter, r *http.Request) error {
	sel, err := h.selectProfile(r)
	if err != nil {
		return err
	}
	filter := r.URL.Query().Get("status")
	want, ok := parseStatus(filter)
	if filter != "" && !ok {
		return badRequestf("unknown status %q (want live, violations, deprecated_seen, not_seen or unplanned)", filter)
	}
	q := r.URL.Query()
	pageNo := 1
	if v := q.Get("page"); v != "" {
		pageNo, err = strconv.Atoi(v)
		if err != nil || pageNo < 1 {
			return badRequestf("page %q is not a page number", v)
		}
	}
	v, err := h.loadView(r.Context(), r, true)
	if err != nil {
		return err
	}
	hl, vf := v.health, v.filter
	var keep []hidden
	if filter != "" {
		keep = append(keep, hidden{Name: "status", Value: filter})
	}
	page := eventsPage{Filter: filter, VolumeDays: volumeDays, WindowDays: h.window,
		Filters: vf.form(sel, "/events", keep...), Window: vf.windowText(), Source: vf.Source}
	page.Statuses = append(page.Statuses, statusChip{Key: "all", Label: "All", Href: vf.link(sel, "/events"), N: len(hl.rows), Current: filter == ""})
	for s := range numStatuses {
		page.Statuses = append(page.Statuses, statusChip{Key: s.Key(), Label: s.Label(), Href: vf.link(sel, "/events", "status", s.Key()),
			N: hl.byStatus[s], Current: filter == s.Key()})
	}
	var rows []*eventRow
	for _, row := range hl.rows {
		if filter == "" || row.Status == want {
			rows = append(rows, row)
		}
	}
	// ?event= shows the page holding that event's card (links to an
	// event's anchor that cannot know its page use it).
	if name := q.Get("event"); name != "" {
		i := slices.IndexFunc(rows, func(row *eventRow) bool { return row.Name == name })
		if i < 0 && (name == string(trackplan.Identify) || name == string(trackplan.Group)) {
			i = slices.IndexFunc(rows, func(row *eventRow) bool { return row.Type == name })
		}
		if i < 0 {
			return fmt.Errorf("event %q: %w", name, trackplan.ErrNotFound)
		}
		pageNo = i/EventsPageSize + 1
	}
	page.Page, page.Pages = pageNo, max(1, (len(rows)+EventsPageSize-1)/EventsPageSize)
	if pageNo > page.Pages {
		return fmt.Errorf("page %d of %d of events: %w", pageNo, page.Pages, trackplan.ErrNotFound)
	}
	pageHref := func(n int) string {
		p := ""
		if n > 1 {
			p = strconv.Itoa(n)
		}
		return vf.link(sel, "/events", "status", filter, "page", p)
	}
	if pageNo > 1 {
		page.Prev = pageHref(pageNo - 1)
	}
	if pageNo < page.Pages {
		page.Next = pageHref(pageNo + 1)
	}
	start := (pageNo - 1) * EventsPageSize
	page.Rows = rows[start:min(start+EventsPageSize, len(rows))]
	now := h.now()
	for _, row := range page.Rows {
		fillDetails(row, hl.anchors, now)
	}
	if h.volumes != nil {
		if page.PlanEdits, err = h.addVolumes(r.Context(), page.Rows); err != nil {
			return err
		}
		page.HasVolume = true
	}
	if page.Charts, err = h.eventCharts(r.Context(), v, page.Rows); err != nil {
		return err
	}
	l := sel.layoutFor("Events", "events", "")
	l.Nav.Overview, l.Nav.Events = vf.link(sel, "/"), vf.link(sel, "/events")
	l.Content = page
	return h.render(w, http.StatusOK, "events", l)
}
