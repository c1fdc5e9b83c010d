package sync

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
)

// NotionWriter writes observed values into the Notion plan.
type NotionWriter interface {
	WriteObserved(ctx context.Context, rows []notion.EventObservation, props []notion.PropertyObservation, opts notion.WriteOptions) (notion.Changes, error)
}

// WriteBackReader is what the write-back reads: the drift report's inputs
// and each event's volume over the week.
type WriteBackReader interface {
	DriftReader
	EventVolumes(ctx context.Context, from, to time.Time) (map[store.EventKey]int64, error)
}

// WriteBack is the Notion write-back job: it reconciles the plan with the
// store and writes the columns trackplan owns (first/last seen, volume,
// observed status, drift, observed types, presence) into the plan's rows.
// Only rows whose values changed are written.
type WriteBack struct {
	Notion  NotionWriter
	Store   WriteBackReader
	Plan    func() *trackplan.Plan
	Options DriftOptions
	// AddUnplanned adds rows (Status proposed, Observed Unplanned) for
	// unplanned events.
	AddUnplanned bool
	DryRun       bool
	Now          func() time.Time
	Logger       *slog.Logger
}

// Run performs one write-back and returns the changes it made (or would
// make, on a dry run).
func (w *WriteBack) Run(ctx context.Context) (notion.Changes, error) {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	at := now().UTC()
	plan := w.Plan()
	rep, err := Drift(ctx, w.Store, plan, at, w.Options)
	if err != nil {
		return nil, fmt.Errorf("notion write-back: %w", err)
	}
	obs, err := w.Store.Observed(ctx)
	if err != nil {
		return nil, fmt.Errorf("notion write-back: %w", err)
	}
	week, err := w.Store.EventVolumes(ctx, at.Truncate(24*time.Hour).AddDate(0, 0, -6), at.Truncate(24*time.Hour).AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("notion write-back: %w", err)
	}
	rows, props := Observations(plan, obs, week, rep)
	changes, err := w.Notion.WriteObserved(ctx, rows, props, notion.WriteOptions{DryRun: w.DryRun, AddUnplanned: w.AddUnplanned})
	if err != nil {
		return changes, fmt.Errorf("notion write-back: %w", err)
	}
	if w.Logger != nil {
		w.Logger.Info("notion write-back done", "changes", len(changes), "dry_run", w.DryRun)
	}
	return changes, nil
}

// maxDriftLines bounds the Drift column's summary (the Notion adapter also
// truncates it to Notion's 2,000 characters).
const maxDriftLines = 12

// Observations turns the store's view and a drift report into the rows the
// Notion write-back compares: one per planned event and per unplanned track
// event, and one per observed property of those events. week holds each
// event's volume over the last 7 days.
func Observations(plan *trackplan.Plan, obs *store.Observed, week map[store.EventKey]int64, rep *report.Report) ([]notion.EventObservation, []notion.PropertyObservation) {
	type agg struct {
		typ         trackplan.CallType
		first, last time.Time
		count, week int64
		props       map[string]*notion.PropertyObservation
	}
	seen := map[string]*agg{}
	var order []string
	for _, e := range obs.Events {
		name := e.Name
		a := seen[planKey(e.Type, name)]
		if a == nil {
			a = &agg{typ: e.Type, props: map[string]*notion.PropertyObservation{}}
			seen[planKey(e.Type, name)] = a
			order = append(order, planKey(e.Type, name))
		}
		if a.first.IsZero() || e.FirstSeen.Before(a.first) {
			a.first = e.FirstSeen
		}
		if e.LastSeen.After(a.last) {
			a.last = e.LastSeen
		}
		a.count += e.Count
		a.week += week[store.EventKey{Source: e.Source, Type: e.Type, Name: e.Name}]
		for _, p := range e.Properties {
			po := a.props[p.Path]
			if po == nil {
				po = &notion.PropertyObservation{Event: name, Path: p.Path}
				a.props[p.Path] = po
			}
			for t := range p.Types {
				if !slices.Contains(po.Types, t) {
					po.Types = append(po.Types, t)
				}
			}
			po.Present += p.Present
			if p.LastSeen.After(po.LastSeen) {
				po.LastSeen = p.LastSeen
			}
		}
	}
	findings := map[string][]trackplan.Finding{}
	for _, f := range rep.Findings {
		if f.Event != "" {
			findings[f.Event] = append(findings[f.Event], f)
		}
	}

	var rows []notion.EventObservation
	var props []notion.PropertyObservation
	addProps := func(eventName string, a *agg) {
		for _, path := range slices.Sorted(maps.Keys(a.props)) {
			po := a.props[path]
			po.Event, po.Total = eventName, a.count
			slices.Sort(po.Types)
			props = append(props, *po)
		}
	}
	planned := map[string]bool{}
	for _, e := range plan.Events {
		k := planKey(e.CallType(), e.Name)
		planned[k] = true
		row := notion.EventObservation{Name: e.Name, Type: e.CallType(), Drift: driftText(findings[e.Name])}
		a := seen[k]
		if a != nil {
			row.FirstSeen, row.LastSeen, row.Volume7d = a.first, a.last, a.week
			addProps(e.Name, a)
		}
		inWindow := a != nil && a.week > 0
		switch {
		case e.Status == trackplan.StatusDeprecated && inWindow:
			row.Observed = notion.ObservedDeprecatedSeen
		case e.Status == trackplan.StatusProposed && inWindow:
			// Seen but only proposed (as the rows added for unplanned
			// events are): still unplanned until the team accepts it.
			row.Observed = notion.ObservedUnplanned
		case hasErrors(findings[e.Name]):
			row.Observed = notion.ObservedViolations
		case inWindow:
			row.Observed = notion.ObservedLive
		default:
			row.Observed = notion.ObservedNotSeen
		}
		rows = append(rows, row)
	}
	for _, k := range order {
		a := seen[k]
		if planned[k] || a.typ != trackplan.Track {
			continue
		}
		name := strings.TrimPrefix(k, "event:")
		rows = append(rows, notion.EventObservation{Name: name, Type: trackplan.Track, FirstSeen: a.first, LastSeen: a.last,
			Volume7d: a.week, Observed: notion.ObservedUnplanned, Drift: driftText(findings[name])})
		addProps(name, a)
	}
	return rows, props
}

func hasErrors(fs []trackplan.Finding) bool {
	return slices.ContainsFunc(fs, func(f trackplan.Finding) bool { return f.Severity == trackplan.SeverityError })
}

// driftText summarises an event's findings for the Drift column, most
// severe first; info findings are left out.
func driftText(fs []trackplan.Finding) string {
	var lines []string
	for _, f := range fs {
		if f.Severity == trackplan.SeverityInfo {
			continue
		}
		if len(lines) == maxDriftLines {
			lines = append(lines, "…")
			break
		}
		line := string(f.Code)
		if f.Path != "" {
			line += " " + f.Path
		}
		if f.Expected != "" || f.Observed != "" {
			line += fmt.Sprintf(": expected %s, observed %s", f.Expected, f.Observed)
		}
		if f.Count > 0 {
			line += fmt.Sprintf(" (%d×)", f.Count)
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
