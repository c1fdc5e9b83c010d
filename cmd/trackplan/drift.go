package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

func driftCommand() *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "report drift between the plan and what arrives (exit 1 on findings at or above --fail-on)",
		Flags: append([]cli.Flag{
			formatFlag(driftFormats...),
			&cli.StringFlag{Name: "fail-on", Value: "error", Usage: "error, warning or never: the least severity that exits 1 (and that JUnit shows as a failure)"},
			&cli.StringFlag{Name: "group-by", Value: "severity", Usage: "severity, owner or event (text and markdown)"},
			&cli.StringFlag{Name: "since", Usage: "the window of traffic that counts (e.g. 24h, 7d; default drift.window, 7d)", EnvVars: []string{"TRACKPLAN_DRIFT_WINDOW"}},
			&cli.TimestampFlag{Name: "at", Layout: time.RFC3339, Usage: "evaluate as of this instant (RFC 3339), for reproducible runs"},
			&cli.StringFlag{Name: "baseline", Usage: "YAML file of accepted drift (fingerprint, reason, expires)"},
			&cli.BoolFlag{Name: "write-baseline", Usage: "write the current errors and warnings to --baseline, accepted for 90 days"},
			&cli.StringFlag{Name: "events", Usage: "check an NDJSON file of Segment messages (- for standard input) instead of the store (no daemon needed); the window is the file's time span unless --since or --at is given"},
			&cli.BoolFlag{Name: "expect-all", Usage: "with --events: the file is all the traffic, so planned events it lacks are PLANNED_NOT_SEEN"},
			&cli.DurationFlag{Name: "wait", Usage: "wait up to this long for the daemon to finish re-checking the store against the plan"},
		}, filterFlags()...),
		Action: runDrift,
	}
}

// driftFormats are the forms of `drift` (and of `plan lint`): text,
// markdown and JSON for people and scripts, JUnit, SARIF and GitHub
// workflow commands for CI.
var driftFormats = []string{"text", "markdown", "json", "junit", "sarif", "github"}

func runDrift(c *cli.Context) error {
	format, err := checkFormat(c, driftFormats...)
	if err != nil {
		return err
	}
	failOn, err := parseFailOn(c)
	if err != nil {
		return err
	}
	filter, err := parseFilter(c)
	if err != nil {
		return err
	}
	groupBy := report.GroupBy(c.String("group-by"))
	if groupBy != report.BySeverity && groupBy != report.ByOwner && groupBy != report.ByEvent {
		return usage("--group-by must be severity, owner or event, not %q", groupBy)
	}
	if c.Bool("write-baseline") && c.String("baseline") == "" {
		return usage("--write-baseline needs --baseline FILE")
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	window := time.Duration(cfg.Drift.Window) // --since sets drift.window
	plan, err := loadPlan(c, cfg)
	if err != nil {
		return err
	}
	opts := driftOptions(cfg, window)
	var (
		at  time.Time
		src tpsync.DriftReader
		// versions lists the plan versions of the store; nil for a file.
		versions func(ctx context.Context, limit int) ([]store.PlanVersion, error)
		// held are the messages held back from forwarding, by source and
		// reason.
		held []trackplan.Finding
	)
	if ts := c.Timestamp("at"); ts != nil {
		at = ts.UTC()
	}
	if file := c.String("events"); file != "" {
		mem, err := checkEvents(c, plan, file)
		if err != nil {
			return err
		}
		// A file is judged over its own time span unless told otherwise,
		// and is a capture, not the whole product.
		if at.IsZero() {
			at = time.Now().UTC()
			if first, last := mem.Span(); !last.IsZero() && !c.IsSet("since") {
				at, opts.From = last, first
			}
		}
		opts.Partial = !c.Bool("expect-all")
		src = mem
	} else {
		if at.IsZero() {
			at = time.Now().UTC()
		}
		st, err := openStore(c.Context, cfg.DB, storeLimits(cfg))
		if err != nil {
			return err
		}
		defer st.Close()
		if src, err = judgeStore(c, cfg, st, plan); err != nil {
			return err
		}
		versions = st.PlanVersions
		if held, err = heldFindings(c.Context, st); err != nil {
			return upstream(err)
		}
	}
	kept := &keptVerdicts{DriftReader: src}
	rep, err := tpsync.Drift(c.Context, kept, plan, at, opts)
	if err != nil {
		return upstream(err)
	}
	addFindings(rep, held)
	rep.Plan = store.PlanID(plan)
	rep.From, rep.To = opts.WindowStart(at).UTC().Truncate(time.Hour), at
	// Filters come first: what a run leaves out is neither shown, nor
	// written to a baseline, nor counted in the exit code.
	filter.Apply(rep)

	var base *report.Baseline
	if path := c.String("baseline"); path != "" {
		if c.Bool("write-baseline") {
			b := report.NewBaseline(rep, "accepted when the baseline was written", at.AddDate(0, 0, 90))
			if err := b.Write(path); err != nil {
				return usage("%v", err)
			}
			fmt.Fprintf(c.App.ErrWriter, "wrote %d accepted findings to %s\n", len(b.Entries), path)
		}
		b, err := report.LoadBaseline(path)
		if err != nil {
			return usage("%v", err)
		}
		b.Apply(rep, at)
		base = b
	}
	if format == "json" {
		// The timeline's buckets are filtered and baselined as the
		// report is, so their counts add up to its.
		tl, _, err := driftTimeline(c.Context, kept.tally, plan, opts.WindowStart(at), at, opts, func(r *report.Report) {
			filter.Apply(r)
			if base != nil {
				base.Apply(r, at)
			}
		})
		if err != nil {
			return upstream(err)
		}
		if versions != nil {
			vs, err := versions(c.Context, planEditLimit)
			if err != nil {
				return upstream(fmt.Errorf("timeline: %w", err))
			}
			tl.PlanEdits = planEditsIn(vs, opts.WindowStart(at).Truncate(time.Hour), at)
		}
		rep.Timeline = tl
	}

	return writeFindings(c, cfg, plan, rep, findingsOutput{kind: "drift", format: format, failOn: failOn, groupBy: groupBy})
}

// parseFailOn reads --fail-on.
func parseFailOn(c *cli.Context) (report.FailOn, error) {
	failOn := report.FailOn(c.String("fail-on"))
	if failOn != report.FailOnError && failOn != report.FailOnWarning && failOn != report.FailOnNever {
		return "", usage("--fail-on must be error, warning or never, not %q", failOn)
	}
	return failOn, nil
}

// filterFlags narrow the findings of `drift` and `plan lint` before they
// are rendered and before the exit code is decided.
func filterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "min-severity", Value: "info", Usage: "error, warning or info: leave out less severe findings"},
		&cli.StringSliceFlag{Name: "only", Usage: "report only these codes (CODE[,CODE]; repeatable)"},
		&cli.StringSliceFlag{Name: "ignore", Usage: "leave out these codes (CODE[,CODE]; repeatable)"},
	}
}

// parseFilter reads --min-severity, --only and --ignore; an unknown
// severity or code is a usage error listing the valid ones.
func parseFilter(c *cli.Context) (report.Filter, error) {
	var (
		f   report.Filter
		err error
	)
	if f.MinSeverity, err = report.ParseSeverity(c.String("min-severity")); err != nil {
		return f, usage("--min-severity: %v", err)
	}
	if f.Only, err = report.ParseCodes(c.StringSlice("only")); err != nil {
		return f, usage("--only: %v", err)
	}
	if f.Ignore, err = report.ParseCodes(c.StringSlice("ignore")); err != nil {
		return f, usage("--ignore: %v", err)
	}
	return f, nil
}

// findingsOutput says how writeFindings renders a report.
type findingsOutput struct {
	kind    string // drift or lint
	format  string
	failOn  report.FailOn
	groupBy report.GroupBy
}

// writeFindings renders the report of `drift` or `plan lint` in its
// format and returns the exit error when it has findings at or above
// --fail-on.
func writeFindings(c *cli.Context, cfg Config, plan *trackplan.Plan, rep *report.Report, o findingsOutput) error {
	w := c.App.Writer
	var err error
	switch o.format {
	case "json":
		err = report.WriteJSON(w, rep)
	case "markdown":
		err = report.WriteMarkdown(w, rep, o.groupBy)
	case "junit":
		names := make([]string, 0, len(plan.Events))
		for _, e := range plan.Events {
			names = append(names, e.Name)
		}
		err = report.WriteJUnit(w, rep, report.JUnitOptions{Events: names, FailOn: o.failOn, Kind: o.kind})
	case "sarif":
		err = report.WriteSARIF(w, rep, report.SARIFOptions{Version: version, Locator: planLocator(c, cfg), Kind: o.kind})
	case "github":
		err = report.WriteGitHub(w, rep, planLocator(c, cfg))
	default:
		err = report.WriteText(w, rep, report.TextOptions{GroupBy: o.groupBy, Color: isTerminal(w)})
	}
	if err != nil {
		return err
	}
	if rep.Fails(o.failOn) {
		return &exitError{code: exitFindings}
	}
	return nil
}

// planLocator places findings in the plan file for SARIF and GitHub
// annotations: nil when the plan is no file (the built-in template, a
// Notion database). The path is shown relative to $GITHUB_WORKSPACE, else
// to the working directory, when it is inside it.
func planLocator(c *cli.Context, cfg Config) *report.Locator {
	src := cfg.Plan
	if src == "" || strings.HasPrefix(src, "notion:") {
		return nil
	}
	loc := &report.Locator{File: displayPath(src)}
	lines, err := planfile.LoadLines(src)
	if err != nil {
		logger(c).Warn("plan file lines not read; findings point at its first line", "err", err)
		return loc
	}
	loc.Line, loc.Anchor = lines.Line, lines.Events()
	return loc
}

// displayPath is path, slash-separated, relative to $GITHUB_WORKSPACE or
// else the working directory when it lies inside it.
func displayPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return filepath.ToSlash(filepath.Clean(path))
	}
	for _, base := range []string{os.Getenv("GITHUB_WORKSPACE"), "."} {
		if base == "" {
			continue
		}
		if b, err := filepath.Abs(base); err == nil {
			if rel, err := filepath.Rel(b, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return filepath.ToSlash(rel)
			}
		}
	}
	return filepath.ToSlash(abs)
}

// checkEvents checks an NDJSON file of Segment messages (- for standard
// input) with no store: the lines are parsed on every core, then checked
// and aggregated in memory the way a store derives them, so `drift
// --events` and `drift` on a store agree.
func checkEvents(c *cli.Context, plan *trackplan.Plan, file string) (*tpsync.Memory, error) {
	var f io.Reader = c.App.Reader
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, usage("--events: %v", err)
		}
		defer fh.Close()
		f = fh
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	mem := tpsync.NewMemory(store.DefaultLimits(), cfg.Scoring.AccountNameTrait)
	checker := trackplan.NewChecker(plan)

	// Three stages: lines parsed on every core (the reader), each chunk
	// checked in a goroutine of its own, and the checked chunks aggregated
	// one after another in the file's order (the guard and the samples
	// depend on it).
	order := make(chan chan *store.Batch, 2*runtime.GOMAXPROCS(0))
	aggregated := make(chan struct{})
	go func() {
		defer close(aggregated)
		for out := range order {
			mem.Add(<-out)
		}
	}()
	reader := &segment.NDJSON{Source: "events", Workers: runtime.GOMAXPROCS(0)}
	_, err = reader.Read(f, func(msgs []*trackplan.Message, rejs []trackplan.Rejection) error {
		out := make(chan *store.Batch, 1)
		go func() {
			b := &store.Batch{Messages: make([]store.Checked, len(msgs)), Rejections: rejs, Planned: checker}
			for i, m := range msgs {
				b.Messages[i] = store.Checked{Message: m, Violations: checker.Check(m)}
			}
			out <- b
		}()
		order <- out
		return nil
	})
	close(order)
	<-aggregated
	if err != nil {
		return nil, usage("--events %s: %v", file, err)
	}
	return mem, nil
}

// judgeStore readies a store's verdicts for a report judged by plan. When
// the store follows no plan yet, or an older version of plan's source, it
// is made to follow plan (the log is re-checked, and the next reports read
// the result); --wait first gives a daemon re-checking the same edit that
// long to finish. A plan from another source is a what-if: the log is
// checked against it in memory and the store is left as it is.
func judgeStore(c *cli.Context, cfg Config, st store.Store, plan *trackplan.Plan) (tpsync.DriftReader, error) {
	d := newDeriver(c, st, plan, nil)
	v := planVersion(cfg, plan)
	if wait := c.Duration("wait"); wait > 0 {
		deadline := time.Now().Add(wait)
		for {
			cur, err := d.Plan(c.Context)
			if err != nil {
				return nil, upstream(err)
			}
			if cur.ID == v.ID || time.Now().After(deadline) {
				break
			}
			select {
			case <-c.Context.Done():
				return nil, c.Context.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	var adopted bool
	if readOnly(st) {
		// Nothing can be written: the stored verdicts serve only when
		// they follow this very plan; otherwise the log is checked in
		// memory.
		logger(c).Warn("read-only store: showing the derived state as it was last derived; records appended since are not applied")
		cur, err := d.Plan(c.Context)
		if err != nil {
			return nil, upstream(err)
		}
		adopted = cur.ID == v.ID
	} else {
		var err error
		if adopted, err = adoptPlan(c, cfg, d, plan, false); err != nil {
			return nil, err
		}
		if _, err := d.CatchUp(c.Context); err != nil {
			return nil, upstream(fmt.Errorf("derive from the event log: %w", err))
		}
	}
	if adopted {
		return st, nil
	}
	cur, _ := d.Plan(c.Context)
	start := time.Now()
	t, n, err := d.WhatIf(c.Context, plan)
	if err != nil {
		return nil, upstream(fmt.Errorf("check the log against the plan: %w", err))
	}
	fmt.Fprintf(c.App.ErrWriter, "what-if: %d logged messages checked against %s (plan %s) in %s; the store follows plan %s (%s)\n",
		n, v.Origin, v.ID, time.Since(start).Round(time.Millisecond), cur.ID, cur.Origin)
	return whatIf{DriftReader: st, tally: t}, nil
}

// whatIf reads a store with the verdicts of another plan.
type whatIf struct {
	tpsync.DriftReader
	tally *store.Tally
}

func (w whatIf) Verdicts(_ context.Context, from, to time.Time) (*store.Tally, error) {
	return w.tally.Window(from, to), nil
}
