package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/plandiff"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

// trafficDiff is what a plan change does to the findings of real traffic:
// the traffic of one window judged by OLD and by NEW, findings matched by
// fingerprint (and source).
type trafficDiff struct {
	// Input names the traffic: "store", or the --events file ("-" for
	// standard input).
	Input    string
	From, To time.Time
	// Fixed are in OLD's report and not in NEW's; Introduced in NEW's and
	// not in OLD's. Both are errors and warnings only, most severe first.
	Fixed, Introduced []trafficFinding
}

// trafficFinding is a finding the change fixes or introduces. A finding in
// both reports whose messages had other observed values (an enum value
// allowed, another forbidden) is split: the values only OLD's report saw
// are fixed, those only NEW's saw introduced, each with its own count.
type trafficFinding struct {
	Code        trackplan.Code     `json:"code"`
	Severity    trackplan.Severity `json:"severity"`
	Source      string             `json:"source,omitempty"`
	Event       string             `json:"event,omitempty"`
	Path        string             `json:"path,omitempty"`
	Expected    string             `json:"expected,omitempty"`
	Observed    string             `json:"observed,omitempty"`
	Count       int64              `json:"count"`
	Fingerprint string             `json:"fingerprint"`
}

// introducedErrors counts the introduced findings of severity error; a nil
// diff has none.
func (t *trafficDiff) introducedErrors() int {
	if t == nil {
		return 0
	}
	n := 0
	for _, f := range t.Introduced {
		if f.Severity == trackplan.SeverityError {
			n++
		}
	}
	return n
}

// judgeTraffic judges the traffic of the window by both plans: the --events
// file, checked in memory against each, or the store st, read with the
// verdicts of each plan (the store's own for the plan it follows, a what-if
// in memory for another). The store adopts neither plan.
func judgeTraffic(c *cli.Context, cfg Config, st store.Store, oldPlan, newPlan judgedPlan) (*trafficDiff, error) {
	window, err := parseDuration(c.String("since"))
	if err != nil || window <= 0 {
		return nil, usage("--since: want a positive duration such as 24h or 7d")
	}
	opts := driftOptions(cfg, window)
	var at time.Time
	if ts := c.Timestamp("at"); ts != nil {
		at = ts.UTC()
	}
	td := &trafficDiff{Input: "store"}
	var srcs []tpsync.DriftReader
	if file := c.String("events"); file != "" {
		td.Input = file
		mems, err := checkEventsTwice(c, file, oldPlan.plan, newPlan.plan)
		if err != nil {
			return nil, err
		}
		// As drift: a file is judged over its own time span unless told
		// otherwise, and is a capture, not the whole product.
		if at.IsZero() {
			at = time.Now().UTC()
			if first, last := mems[0].Span(); !last.IsZero() && !c.IsSet("since") {
				at, opts.From = last, first
			}
		}
		opts.Partial = !c.Bool("expect-all")
		srcs = []tpsync.DriftReader{mems[0], mems[1]}
	} else {
		if at.IsZero() {
			at = time.Now().UTC()
		}
		if srcs, err = storeTraffic(c, st, oldPlan, newPlan); err != nil {
			return nil, err
		}
	}
	var reps [2]*report.Report
	var tallies [2]*store.Tally
	for i, p := range []judgedPlan{oldPlan, newPlan} {
		tap := &tallyTap{DriftReader: srcs[i]}
		rep, err := tpsync.Drift(c.Context, tap, p.plan, at, opts)
		if err != nil {
			return nil, upstream(fmt.Errorf("judge the traffic by the %s plan: %w", p.which, err))
		}
		reps[i], tallies[i] = rep, tap.tally
	}
	td.From, td.To = opts.WindowStart(at).UTC(), at
	td.Fixed, td.Introduced = compareTraffic(reps[0], reps[1], tallies[0], tallies[1])
	return td, nil
}

// checkEventsTwice checks the --events file against each plan. Standard
// input is read once, into a temporary file each check reads from the
// start.
func checkEventsTwice(c *cli.Context, file string, plans ...*trackplan.Plan) ([]*tpsync.Memory, error) {
	if file == "-" {
		tmp, err := os.CreateTemp("", "trackplan-plan-diff-*.ndjson")
		if err != nil {
			return nil, fmt.Errorf("--events -: %w", err)
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, err := io.Copy(tmp, c.App.Reader); err != nil {
			return nil, usage("--events -: read standard input: %v", err)
		}
		stdin := c.App.Reader
		defer func() { c.App.Reader = stdin }()
		c.App.Reader = tmp
	}
	mems := make([]*tpsync.Memory, len(plans))
	for i, p := range plans {
		if f, ok := c.App.Reader.(*os.File); ok && file == "-" {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return nil, fmt.Errorf("--events -: %w", err)
			}
		}
		mem, err := checkEvents(c, p, file)
		if err != nil {
			return nil, err
		}
		mems[i] = mem
	}
	return mems, nil
}

// storeTraffic returns, for each plan, the store read with its verdicts:
// the store itself for the plan it follows, else a what-if (the log
// checked against the plan in memory). What the log holds beyond the
// derive cursor is derived first, checked against the plan the store
// follows, as any command reading it does; the store adopts no plan.
func storeTraffic(c *cli.Context, st store.Store, plans ...judgedPlan) ([]tpsync.DriftReader, error) {
	d := newDeriver(c, st, nil, nil)
	cur, err := d.Plan(c.Context)
	if err != nil {
		return nil, upstream(err)
	}
	if cur.ID != "" {
		if _, err := d.CatchUp(c.Context); err != nil {
			return nil, upstream(fmt.Errorf("derive from the event log: %w", err))
		}
	} else {
		// With no plan to check them against, pending records would be
		// derived unchecked for good: leave them, and say so.
		head, err := st.LogHead(c.Context)
		if err != nil {
			return nil, upstream(fmt.Errorf("read the event log: %w", err))
		}
		cursor, err := st.Cursor(c.Context)
		if err != nil {
			return nil, upstream(fmt.Errorf("read the derive cursor: %w", err))
		}
		if head > cursor {
			return nil, usage("plan diff --against-traffic: the store follows no plan yet and %d logged messages are not derived; "+
				"run `trackplan drift` (or the daemon) once so that it follows one, or judge a file with --events", head-cursor)
		}
	}
	out := make([]tpsync.DriftReader, len(plans))
	for i, p := range plans {
		switch {
		case cur.ID != "" && p.id == cur.ID:
			out[i] = st
		case i > 0 && p.id == plans[0].id:
			out[i] = out[0]
		default:
			start := time.Now()
			t, n, err := d.WhatIf(c.Context, p.plan)
			if err != nil {
				return nil, upstream(fmt.Errorf("check the log against the %s plan: %w", p.which, err))
			}
			follows := "no plan"
			if cur.ID != "" {
				follows = fmt.Sprintf("plan %s (%s)", cur.ID, cur.Origin)
			}
			fmt.Fprintf(c.App.ErrWriter, "what-if: %d logged messages checked against the %s plan (%s) in %s; the store follows %s\n",
				n, p.which, p.id, time.Since(start).Round(time.Millisecond), follows)
			out[i] = whatIf{DriftReader: st, tally: t}
		}
	}
	return out, nil
}

// tallyTap keeps the verdicts a report was built from, to split its
// findings by observed value.
type tallyTap struct {
	tpsync.DriftReader
	tally *store.Tally
}

func (t *tallyTap) Verdicts(ctx context.Context, from, to time.Time) (*store.Tally, error) {
	v, err := t.DriftReader.Verdicts(ctx, from, to)
	t.tally = v
	return v, err
}

// planIndependent are the codes a plan does not decide (the store's
// guard, unparseable lines, observed types, identity hygiene): a plan
// change neither fixes nor introduces them, and a what-if may not carry
// them all (the guard's CARDINALITY_LIMIT), so they are left out.
var planIndependent = map[trackplan.Code]bool{
	trackplan.CardinalityLimit: true, trackplan.InvalidMessage: true,
	trackplan.TypeInconsistent: true, trackplan.BestPractice: true,
}

type trafficKey struct{ fingerprint, source string }

// compareTraffic matches the findings of the traffic judged by OLD (oldRep,
// from the verdicts oldT) and by NEW by fingerprint and source, and
// returns the errors and warnings only OLD's report has (fixed) and only
// NEW's (introduced). A per-message finding both have is split by
// observed value (see trafficFinding).
func compareTraffic(oldRep, newRep *report.Report, oldT, newT *store.Tally) (fixed, introduced []trafficFinding) {
	oldF, newF := judgedFindings(oldRep), judgedFindings(newRep)
	for k, f := range oldF {
		g, ok := newF[k]
		if !ok {
			fixed = append(fixed, asTrafficFinding(f))
			continue
		}
		ov, nv := observedCounts(oldT, f), observedCounts(newT, g)
		if part, ok := onlyIn(f, ov, nv); ok {
			fixed = append(fixed, part)
		}
		if part, ok := onlyIn(g, nv, ov); ok {
			introduced = append(introduced, part)
		}
	}
	for k, g := range newF {
		if _, ok := oldF[k]; !ok {
			introduced = append(introduced, asTrafficFinding(g))
		}
	}
	slices.SortFunc(fixed, compareTrafficFindings)
	slices.SortFunc(introduced, compareTrafficFindings)
	return fixed, introduced
}

// judgedFindings indexes a report's errors and warnings the plan decides;
// two findings with one key (an event name of two call types) are merged.
func judgedFindings(r *report.Report) map[trafficKey]trackplan.Finding {
	out := map[trafficKey]trackplan.Finding{}
	if r == nil {
		return out
	}
	for _, f := range r.Findings {
		if f.Severity != trackplan.SeverityError && f.Severity != trackplan.SeverityWarning || planIndependent[f.Code] {
			continue
		}
		k := trafficKey{f.Fingerprint, f.Source}
		if g, ok := out[k]; ok {
			g.Count += f.Count
			if f.Observed != "" && f.Observed != g.Observed {
				g.Observed = strings.TrimPrefix(g.Observed+", "+f.Observed, ", ")
			}
			f = g
		}
		out[k] = f
	}
	return out
}

// observedCounts counts the window's verdicts of a per-message finding by
// observed value (nil for a finding not made of verdicts).
func observedCounts(t *store.Tally, f trackplan.Finding) map[string]int64 {
	if t == nil {
		return nil
	}
	var out map[string]int64
	for k, v := range t.Violations {
		if k.Code == f.Code && k.Event.Source == f.Source && k.Event.Name == f.Event && k.Path == f.Path {
			if out == nil {
				out = map[string]int64{}
			}
			out[k.Observed] += v.Count
		}
	}
	return out
}

// onlyIn is the part of finding f (counted by observed value in mine) whose
// values the other report's finding did not see.
func onlyIn(f trackplan.Finding, mine, other map[string]int64) (trafficFinding, bool) {
	if mine == nil || other == nil {
		return trafficFinding{}, false
	}
	var values []string
	var n int64
	for v, c := range mine {
		if _, ok := other[v]; !ok {
			values = append(values, v)
			n += c
		}
	}
	if len(values) == 0 {
		return trafficFinding{}, false
	}
	tf := asTrafficFinding(f)
	tf.Observed, tf.Count = trafficJoinValues(values), n
	return tf, true
}

// trafficJoinValues joins a few distinct observed values, as a report does.
func trafficJoinValues(xs []string) string {
	xs = slices.DeleteFunc(slices.Clone(xs), func(s string) bool { return s == "" })
	slices.Sort(xs)
	if len(xs) > 5 {
		return strings.Join(xs[:5], ", ") + fmt.Sprintf(", … (%d more)", len(xs)-5)
	}
	return strings.Join(xs, ", ")
}

func asTrafficFinding(f trackplan.Finding) trafficFinding {
	return trafficFinding{Code: f.Code, Severity: f.Severity, Source: f.Source, Event: f.Event, Path: f.Path,
		Expected: f.Expected, Observed: f.Observed, Count: f.Count, Fingerprint: f.Fingerprint}
}

func compareTrafficFindings(a, b trafficFinding) int {
	return cmp.Or(
		cmp.Compare(a.Severity.Rank(), b.Severity.Rank()),
		cmp.Compare(a.Code, b.Code),
		cmp.Compare(a.Event, b.Event),
		cmp.Compare(a.Path, b.Path),
		cmp.Compare(a.Source, b.Source),
		cmp.Compare(a.Observed, b.Observed),
	)
}

// summaryLine is the traffic section's summary: "1 fixed, 2 introduced (1
// error)".
func (t *trafficDiff) summaryLine() string {
	s := fmt.Sprintf("%d fixed, %d introduced", len(t.Fixed), len(t.Introduced))
	switch n := t.introducedErrors(); n {
	case 0:
	case 1:
		s += " (1 error)"
	default:
		s += fmt.Sprintf(" (%d errors)", n)
	}
	return s
}

// inputName describes the traffic for text and markdown.
func (t *trafficDiff) inputName() string {
	switch t.Input {
	case "store":
		return "the store"
	case "-":
		return "standard input"
	}
	return t.Input
}

func trafficMessages(n int64) string {
	if n == 1 {
		return "1 message"
	}
	return fmt.Sprintf("%d messages", n)
}

// writePlanDiff writes the plan diff, then the traffic section when there
// is one, in format; plans describes the store's versions (--previous,
// JSON only).
func writePlanDiff(c *cli.Context, format string, d *plandiff.Result, traffic *trafficDiff, plans *previousPlansJSON) error {
	w := c.App.Writer
	switch format {
	case "json":
		return writePlanDiffJSON(w, d, traffic, plans)
	case "markdown":
		if err := plandiff.WriteMarkdown(w, d); err != nil {
			return err
		}
		if traffic != nil {
			return writeTrafficMarkdown(w, traffic)
		}
	default:
		if err := plandiff.WriteText(w, d); err != nil {
			return err
		}
		if traffic != nil {
			return writeTrafficText(w, traffic)
		}
	}
	return nil
}

// writeTrafficText writes the traffic section for a terminal.
func writeTrafficText(w io.Writer, t *trafficDiff) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "\nTraffic from %s to %s (%s), judged by OLD and by NEW: %s\n",
		t.From.Format(time.RFC3339), t.To.Format(time.RFC3339), t.inputName(), t.summaryLine())
	for _, part := range []struct {
		title string
		list  []trafficFinding
	}{{"Fixed (in OLD's report, not in NEW's)", t.Fixed}, {"Introduced (in NEW's report, not in OLD's)", t.Introduced}} {
		if len(part.list) == 0 {
			fmt.Fprintf(bw, "\n%s: none\n", part.title)
			continue
		}
		fmt.Fprintf(bw, "\n%s:\n", part.title)
		tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		for _, f := range part.list {
			event := f.Event
			if sharedFingerprint(part.list, f) {
				event += " [" + f.Source + "]"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", f.Severity, f.Code, trafficDash(event), trafficDash(f.Path),
				trafficDash(f.Observed), trafficMessages(f.Count))
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write diff: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

// sharedFingerprint reports whether another finding of list has f's
// fingerprint (the same drift from another source): only then do text and
// markdown name the source, as drift reports do not.
func sharedFingerprint(list []trafficFinding, f trafficFinding) bool {
	for _, g := range list {
		if g.Fingerprint == f.Fingerprint && g.Source != f.Source {
			return true
		}
	}
	return false
}

func trafficDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// writeTrafficMarkdown writes the traffic section of a pull-request
// comment: the window, the summary and one table row per finding.
func writeTrafficMarkdown(w io.Writer, t *trafficDiff) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "\n### Traffic\n\nFrom %s to %s (%s), judged by OLD and by NEW: **%s**\n",
		t.From.Format(time.RFC3339), t.To.Format(time.RFC3339), report.MarkdownCell(t.inputName()), t.summaryLine())
	if len(t.Fixed)+len(t.Introduced) == 0 {
		fmt.Fprintln(bw, "\nThe change neither fixes nor introduces an error or a warning in this traffic.")
	} else {
		fmt.Fprint(bw, "\n| | Severity | Finding | Event | Property | Expected | Observed | Messages |\n|---|---|---|---|---|---|---|---|\n")
	}
	for _, part := range []struct {
		mark string
		list []trafficFinding
	}{{"fixed", t.Fixed}, {"**introduced**", t.Introduced}} {
		for _, f := range part.list {
			event := report.MarkdownCode(f.Event)
			if sharedFingerprint(part.list, f) {
				event += " (" + report.MarkdownCell(f.Source) + ")"
			}
			fmt.Fprintf(bw, "| %s | %s | `%s` | %s | %s | %s | %s | %d |\n", part.mark, f.Severity, f.Code, event,
				report.MarkdownCode(f.Path), report.MarkdownCell(f.Expected), report.MarkdownCell(f.Observed), f.Count)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

// trafficJSON is the traffic section of the JSON form.
type trafficJSON struct {
	Input   string    `json:"input"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Summary struct {
		Fixed            int `json:"fixed"`
		Introduced       int `json:"introduced"`
		IntroducedErrors int `json:"introduced_errors"`
	} `json:"summary"`
	Fixed      []trafficFinding `json:"fixed"`
	Introduced []trafficFinding `json:"introduced"`
}

// previousPlansJSON names the store's versions --previous compared.
type previousPlansJSON struct {
	Old planVersionJSON `json:"old"`
	New planVersionJSON `json:"new"`
}

type planVersionJSON struct {
	ID        string    `json:"id"`
	Origin    string    `json:"origin"`
	FirstSeen time.Time `json:"first_seen"`
}

// previousJSON describes the plans of --previous (nil otherwise).
func previousJSON(o planDiffOpts, oldPlan, newPlan judgedPlan) *previousPlansJSON {
	if !o.previous || oldPlan.version == nil || newPlan.version == nil {
		return nil
	}
	v := func(p *store.PlanVersion) planVersionJSON {
		return planVersionJSON{ID: p.ID, Origin: p.Origin, FirstSeen: p.FirstSeen.UTC()}
	}
	return &previousPlansJSON{Old: v(oldPlan.version), New: v(newPlan.version)}
}

// writePlanDiffJSON writes plandiff's JSON object with "plans" (with
// --previous) and "traffic" (with --against-traffic) added after its
// summary and changes.
func writePlanDiffJSON(w io.Writer, d *plandiff.Result, traffic *trafficDiff, plans *previousPlansJSON) error {
	if traffic == nil && plans == nil {
		return plandiff.WriteJSON(w, d)
	}
	var buf bytes.Buffer
	if err := plandiff.WriteJSON(&buf, d); err != nil {
		return err
	}
	var base struct {
		Summary json.RawMessage `json:"summary"`
		Changes json.RawMessage `json:"changes"`
	}
	if err := json.Unmarshal(buf.Bytes(), &base); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	out := struct {
		Summary json.RawMessage    `json:"summary"`
		Changes json.RawMessage    `json:"changes"`
		Plans   *previousPlansJSON `json:"plans,omitempty"`
		Traffic *trafficJSON       `json:"traffic,omitempty"`
	}{Summary: base.Summary, Changes: base.Changes, Plans: plans}
	if traffic != nil {
		tj := &trafficJSON{Input: traffic.Input, From: traffic.From, To: traffic.To,
			Fixed: orEmpty(traffic.Fixed), Introduced: orEmpty(traffic.Introduced)}
		tj.Summary.Fixed, tj.Summary.Introduced = len(traffic.Fixed), len(traffic.Introduced)
		tj.Summary.IntroducedErrors = traffic.introducedErrors()
		out.Traffic = tj
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

// orEmpty makes a nil list [] in JSON.
func orEmpty(fs []trafficFinding) []trafficFinding {
	if fs == nil {
		return []trafficFinding{}
	}
	return fs
}
