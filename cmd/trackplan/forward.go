package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/forward"
	"github.com/trackplan/trackplan/metrics"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
)

// ForwardConfig sends a source's accepted messages on to Segment (or any
// Segment-compatible API) from the event log; see package forward.
type ForwardConfig struct {
	// Endpoint is the API's base URL (default https://api.segment.io):
	// batches go to {endpoint}/v1/batch.
	Endpoint string `yaml:"endpoint"`
	// WriteKey is the destination source's write key.
	WriteKey Secret `yaml:"write_key"`
	// Policy lists the enforcement rules: forward (the default),
	// block_unplanned, block_invalid, strip_unplanned_properties.
	Policy []string `yaml:"policy,omitempty"`
	// BlockStatuses are plan statuses whose events block_unplanned treats
	// as unplanned (e.g. [deprecated]).
	BlockStatuses []string `yaml:"block_statuses,omitempty"`
}

// validateForward adds the problems of the sources' forward sections.
func (c *Config) validateForward(v *trackplan.ValidationError) {
	for i, s := range c.Sources {
		f := s.Forward
		if f == nil {
			continue
		}
		key := fmt.Sprintf("sources[%d].forward", i)
		if f.Endpoint != "" {
			u, err := url.Parse(f.Endpoint)
			switch {
			case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
				v.Add(key+".endpoint", "must be an http(s) URL, e.g. https://api.segment.io")
			case u.User != nil:
				v.Add(key+".endpoint", "must not hold credentials: the write key goes in forward.write_key")
			}
		}
		if f.WriteKey == "" {
			v.Add(key+".write_key", "must not be empty (use ${ENV_VAR} to read it from the environment)")
		}
		if _, err := forward.ParsePolicy(f.Policy, f.BlockStatuses); err != nil {
			v.Add(key+".policy", err.Error())
		}
	}
}

// forwardSources returns the sources that forward, with their policies.
func forwardSources(cfg Config) []forward.Source {
	var out []forward.Source
	for _, s := range cfg.Sources {
		if s.Forward == nil {
			continue
		}
		p, _ := forward.ParsePolicy(s.Forward.Policy, s.Forward.BlockStatuses) // validated with the config
		out = append(out, forward.Source{Name: s.Name, Endpoint: s.Forward.Endpoint,
			WriteKey: string(s.Forward.WriteKey), Policy: p})
	}
	return out
}

// newForwarder returns the forwarder of the configured sources, nil when
// none forwards.
func newForwarder(cfg Config, st store.Store, plan func() *trackplan.Plan, log *slog.Logger,
	observe func(source, outcome string, n int)) (*forward.Forwarder, error) {
	sources := forwardSources(cfg)
	if len(sources) == 0 {
		return nil, nil
	}
	return forward.New(st, forward.Options{Sources: sources, Plan: plan, Logger: log, Observe: observe})
}

func forwardCommand() *cli.Command {
	return &cli.Command{
		Name:  "forward",
		Usage: "the forwarding of messages to Segment: replay held messages, or see each source's lag",
		Description: "serve forwards every accepted message of a source with a forward section from the event log. " +
			"Messages held back (blocked by the source's policy, or refused by the destination) stay in the log; " +
			"--replay sends those that arrived since a time and that the current plan now accepts.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "replay", Usage: "send the held messages the policy now lets through"},
			&cli.StringFlag{Name: "since", Usage: "with --replay: messages that arrived since this time (RFC 3339, a date, or an age such as 24h or 7d)"},
			&cli.StringSliceFlag{Name: "source", Usage: "with --replay: only these sources (default: every forwarding source)"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "with --replay: give up after this long (a destination that is down is retried until then)"},
			formatFlag("text", "json"),
		},
		Action: forwardReplay,
		Subcommands: []*cli.Command{{
			Name:      "retire",
			Usage:     "drop the forwarding state of sources that no longer forward (their cursors hold retention back)",
			ArgsUsage: "SOURCE…",
			Action:    forwardRetire,
		}, {
			Name:  "status",
			Usage: "each forwarding source's cursor, lag, held messages and last error",
			Flags: []cli.Flag{formatFlag("text", "json")},
			Action: func(c *cli.Context) error {
				format, err := checkFormat(c, "text", "json")
				if err != nil {
					return err
				}
				_, st, err := configuredStore(c)
				if err != nil {
					return err
				}
				defer st.Close()
				ss, err := forward.Statuses(c.Context, st, time.Now())
				if err != nil {
					return upstream(err)
				}
				if format == "json" {
					if ss == nil {
						ss = []forward.Status{}
					}
					return writeJSON(c.App.Writer, ss)
				}
				return writeForwardStatus(c, ss)
			},
		}},
	}
}

func writeForwardStatus(c *cli.Context, ss []forward.Status) error {
	if len(ss) == 0 {
		fmt.Fprintln(c.App.Writer, "no source forwards (give a source a forward section in the config)")
		return nil
	}
	tw := tabwriter.NewWriter(c.App.Writer, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tCURSOR\tBEHIND\tLAG\tFORWARDED\tHELD\tLAST ERROR")
	for _, s := range ss {
		held := "-"
		if len(s.Held) > 0 {
			reasons := make([]string, 0, len(s.Held))
			for r, n := range s.Held {
				reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
			}
			sort.Strings(reasons)
			held = strings.Join(reasons, " ")
		}
		lastErr := "-"
		if s.LastError != "" {
			lastErr = s.ErrorAt.Format(time.DateTime) + " " + oneLine(s.LastError, 80)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\t%s\n", s.Source, s.Cursor, s.Behind,
			(time.Duration(s.LagSeconds * float64(time.Second))).Round(time.Second), s.Forwarded, held, lastErr)
	}
	return tw.Flush()
}

func forwardReplay(c *cli.Context) error {
	if !c.Bool("replay") {
		return usage("forward: say what to do: --replay --since TIME, or forward status")
	}
	format, err := checkFormat(c, "text", "json")
	if err != nil {
		return err
	}
	if !c.IsSet("since") {
		return usage("forward --replay needs --since (e.g. --since 24h or --since 2026-11-30)")
	}
	since, err := parseSince(c.String("since"), time.Now())
	if err != nil {
		return usage("--since: %v", err)
	}
	cfg, st, err := configuredStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	sources := forwardSources(cfg)
	if len(sources) == 0 {
		return usage("no source forwards: give a source a forward section in the config")
	}
	names := c.StringSlice("source")
	if len(names) == 0 {
		for _, s := range sources {
			names = append(names, s.Name)
		}
	}
	var plan *trackplan.Plan
	for _, s := range sources {
		if s.Policy.NeedsPlan() {
			if plan, err = loadPlan(c, cfg); err != nil {
				return err
			}
			break
		}
	}
	f, err := newForwarder(cfg, st, func() *trackplan.Plan { return plan }, logger(c), nil)
	if err != nil {
		return usage("%v", err)
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	var results []forward.ReplayResult
	for _, name := range names {
		r, err := f.Replay(ctx, name, since)
		if err != nil {
			if ctx.Err() != nil {
				return upstream(fmt.Errorf("replay of %s: not done within --timeout (what was sent is released; run it again to go on): %w", name, err))
			}
			return usage("replay of %s: %v", name, err)
		}
		results = append(results, r)
	}
	if format == "json" {
		return writeJSON(c.App.Writer, results)
	}
	for _, r := range results {
		still := 0
		for _, n := range r.StillHeld {
			still += n
		}
		fmt.Fprintf(c.App.Writer, "%s: %d sent, %d still held, %d no longer in the log\n", r.Source, r.Sent, still, r.Gone)
	}
	return nil
}

// parseSince reads a point in time: RFC 3339, a date (midnight UTC), or an
// age before now (24h, 7d).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	d, err := parseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time (RFC 3339), a date (2026-11-30) or an age (24h, 7d)", s)
	}
	return now.Add(-d), nil
}

// forwarder builds serve's forwarder (nil when no source forwards), with
// its metrics, and gives new forwarding sources their cursors before the
// collector listens. A source whose policy judges messages needs the plan,
// so serve must check messages. It warns about sources that have a cursor
// and no longer forward: their cursors hold retention back until
// `forward retire` drops them.
func (d *daemon) forwarder(c *cli.Context) (*forward.Forwarder, error) {
	sources := forwardSources(d.cfg)
	d.warnStaleCursors(c.Context, sources)
	if len(sources) == 0 {
		return nil, nil
	}
	for _, s := range sources {
		if s.Policy.NeedsPlan() && !d.check {
			return nil, usage("source %s: forward.policy %s judges messages against the plan; serve --check=false loads none", s.Name, s.Policy)
		}
	}
	var fwd *forward.Forwarder
	count := d.metrics.Forwarding(func() []metrics.SourceLag {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lags, err := fwd.Lags(ctx)
		if err != nil {
			return nil
		}
		out := make([]metrics.SourceLag, len(lags))
		for i, l := range lags {
			out[i] = metrics.SourceLag{Source: l.Source, Records: float64(l.Records), Seconds: l.Seconds}
		}
		return out
	})
	fwd, err := newForwarder(d.cfg, d.st, d.plan.Load, d.log, count)
	if err != nil {
		return nil, usage("%v", err)
	}
	if err := fwd.Start(c.Context); err != nil {
		return nil, upstream(fmt.Errorf("start forwarding: %w", err))
	}
	for _, s := range sources {
		d.log.Info("forwarding", "source", s.Name, "policy", s.Policy.String())
	}
	return fwd, nil
}

// runForwarder runs fwd (when not nil) until the returned stop is called.
func runForwarder(ctx context.Context, fwd *forward.Forwarder) (stop func()) {
	if fwd == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); fwd.Run(ctx) }()
	return func() { cancel(); <-done }
}

// warnForwardingHoldsLog says loudly when retention kept log records past
// retention.events because a source has not forwarded them: the log then
// grows until its destination takes them again (or the log quota refuses
// new messages).
func (d *daemon) warnForwardingHoldsLog(ctx context.Context, cutoff time.Time) {
	ss, err := forward.Statuses(ctx, d.st, d.now())
	if err != nil {
		d.log.Warn("could not read the forwarding state", "err", err)
		return
	}
	for _, s := range ss {
		if s.Behind > 0 && s.LagSeconds > d.now().Sub(cutoff).Seconds() {
			d.log.Error("retention keeps the event log past retention.events: a source has not forwarded it",
				"source", s.Source, "behind_records", s.Behind, "lag", time.Duration(s.LagSeconds*float64(time.Second)).Round(time.Second),
				"last_error", s.LastError)
		}
	}
}

// heldFindings reports, per forwarding source and reason, the messages held
// back from forwarding, as drift findings (warnings): they are in the log
// but not in Segment.
func heldFindings(ctx context.Context, st store.Forwarding) ([]trackplan.Finding, error) {
	states, err := st.ForwardStates(ctx)
	if err != nil {
		return nil, err
	}
	var out []trackplan.Finding
	for _, s := range states {
		reasons := make([]string, 0, len(s.Held))
		for r := range s.Held {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			out = append(out, trackplan.Finding{Code: trackplan.ForwardHeld, Severity: trackplan.SeverityWarning,
				Source: s.Source, Path: r, Count: s.Held[r],
				Observed:    fmt.Sprintf("%d held from forwarding (%s); trackplan forward --replay sends them once they pass", s.Held[r], r),
				Fingerprint: trackplan.Fingerprint(string(trackplan.ForwardHeld), s.Source, "", r)})
		}
	}
	return out, nil
}

// addFindings adds findings to a report, keeping it most severe first.
func addFindings(rep *report.Report, fs []trackplan.Finding) {
	if len(fs) == 0 {
		return
	}
	rep.Findings = append(rep.Findings, fs...)
	slices.SortStableFunc(rep.Findings, func(a, b trackplan.Finding) int {
		return cmp.Compare(a.Severity.Rank(), b.Severity.Rank())
	})
	rep.Recount()
}

// ForwardStates and LogHead give the dashboard the forwarding card
// (web.ForwardingSource).
func (d *dashboardData) ForwardStates(ctx context.Context) ([]store.ForwardState, error) {
	return d.st.ForwardStates(ctx)
}

// LogHead is the log's last sequence number.
func (d *dashboardData) LogHead(ctx context.Context) (int64, error) { return d.st.LogHead(ctx) }

// warnStaleCursors logs the sources that have a forwarding cursor but do
// not forward in this configuration. Their cursors are kept (a replica of
// an older configuration must not drop a newer one's), so they hold
// retention back until an operator retires them.
func (d *daemon) warnStaleCursors(ctx context.Context, sources []forward.Source) {
	states, err := d.st.ForwardStates(ctx)
	if err != nil {
		d.log.Warn("could not read the forwarding state", "err", err)
		return
	}
	for _, s := range states {
		if !slices.ContainsFunc(sources, func(f forward.Source) bool { return f.Name == s.Source }) {
			d.log.Warn("a source that no longer forwards keeps its forwarding cursor, which holds the event log past retention: run `trackplan forward retire` for it",
				"source", s.Source, "cursor", s.Cursor)
		}
	}
}

// forwardRetire drops the forwarding state of sources that no longer
// forward.
func forwardRetire(c *cli.Context) error {
	names := c.Args().Slice()
	if len(names) == 0 {
		return usage("forward retire: name the sources whose forwarding state to drop")
	}
	cfg, st, err := configuredStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, s := range forwardSources(cfg) {
		if slices.Contains(names, s.Name) {
			return usage("forward retire: source %s forwards in this configuration: remove its forward section first", s.Name)
		}
	}
	states, err := st.ForwardStates(c.Context)
	if err != nil {
		return upstream(err)
	}
	var keep []string
	found := map[string]bool{}
	for _, s := range states {
		if slices.Contains(names, s.Source) {
			found[s.Source] = true
		} else {
			keep = append(keep, s.Source)
		}
	}
	for _, n := range names {
		if !found[n] {
			return usage("forward retire: source %s has no forwarding state", n)
		}
	}
	if err := st.ForwardRetire(c.Context, keep); err != nil {
		return upstream(err)
	}
	fmt.Fprintf(c.App.Writer, "dropped the forwarding state of %s\n", strings.Join(names, ", "))
	return nil
}
