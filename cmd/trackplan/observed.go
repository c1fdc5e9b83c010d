package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

func formatFlag(values ...string) *cli.StringFlag {
	return &cli.StringFlag{Name: "format", Value: values[0], Usage: strings.Join(values, ", ")}
}

func checkFormat(c *cli.Context, allowed ...string) (string, error) {
	f := c.String("format")
	for _, a := range allowed {
		if f == a {
			return f, nil
		}
	}
	return "", usage("--format must be one of %s, not %q", strings.Join(allowed, ", "), f)
}

func observedCommand() *cli.Command {
	return &cli.Command{
		Name:  "observed",
		Usage: "what has been seen: events, property types, counts, first/last seen",
		Flags: []cli.Flag{formatFlag("text", "json")},
		Action: func(c *cli.Context) error {
			format, err := checkFormat(c, "text", "json")
			if err != nil {
				return err
			}
			cfg, st, err := configuredStore(c)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := catchUp(c, cfg, st, nil); err != nil {
				return err
			}
			o, err := st.Observed(c.Context)
			if err != nil {
				return upstream(err)
			}
			o = tpsync.MaskExamples(o, piiPlans(c, cfg, st)...)
			if format == "json" {
				return writeJSON(c.App.Writer, observedJSON(o))
			}
			return writeObservedText(c.App.Writer, o)
		},
	}
}

// piiPlans returns the plans whose pii: true properties have their examples
// masked: the plan the store follows, and the configured plan when it is
// read without the network (a file or the default template), in case it
// marks more. A plan that cannot be read is left out with a warning.
func piiPlans(c *cli.Context, cfg Config, st store.Store) []*trackplan.Plan {
	var plans []*trackplan.Plan
	if v, err := st.VerdictPlan(c.Context); err != nil {
		logger(c).Warn("the store's plan not read; its pii properties are not masked", "err", err)
	} else if v.Plan != nil {
		plans = append(plans, v.Plan)
	}
	if !strings.HasPrefix(cfg.Plan, "notion:") {
		if p, err := loadPlan(c, cfg); err != nil {
			logger(c).Warn("plan not loaded; only the store's plan masks pii examples", "err", err)
		} else {
			plans = append(plans, p)
		}
	}
	return plans
}

// The JSON of `observed`: every list is a list, [] when empty, never null
// or left out, so scripts can index it without checking.
type (
	observedOut struct {
		store.Observed
		Events     []observedEventOut   `json:"events"`
		Rejections []store.RejectionSum `json:"rejections"`
	}
	observedEventOut struct {
		store.ObservedEvent
		Properties []observedPropertyOut `json:"properties"`
	}
	observedPropertyOut struct {
		store.ObservedProperty
		Types    map[string]int64 `json:"types"`
		Examples []string         `json:"examples"`
	}
)

func observedJSON(o *store.Observed) observedOut {
	out := observedOut{Observed: *o, Events: make([]observedEventOut, 0, len(o.Events)),
		Rejections: listOf(o.Rejections)}
	for _, e := range o.Events {
		oe := observedEventOut{ObservedEvent: e, Properties: make([]observedPropertyOut, 0, len(e.Properties))}
		for _, p := range e.Properties {
			types := p.Types
			if types == nil {
				types = map[string]int64{}
			}
			oe.Properties = append(oe.Properties, observedPropertyOut{ObservedProperty: p, Types: types, Examples: listOf(p.Examples)})
		}
		out.Events = append(out.Events, oe)
	}
	return out
}

// listOf returns xs, or an empty list when xs is nil.
func listOf[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func writeObservedText(w io.Writer, o *store.Observed) error {
	t := o.Totals
	fmt.Fprintf(w, "%d messages · %d duplicates · %d rejected · %d users · %d accounts\n",
		t.Messages, t.Duplicates, t.Rejected, t.Users, t.Accounts)
	if t.Quarantined > 0 {
		fmt.Fprintf(w, "%d log records quarantined: the store could not apply them; `trackplan rebuild` applies them again after a fix\n", t.Quarantined)
	}
	if t.ClampedTimestamps > 0 {
		fmt.Fprintf(w, "%d messages timed by their receipt: their timestamp was before 2000 or more than a day ahead\n", t.ClampedTimestamps)
	}
	if t.LinkedIDs > 0 {
		fmt.Fprintf(w, "%d ids linked to users (anonymous ids, aliases)", t.LinkedIDs)
		if t.IdentityConflicts > 0 {
			fmt.Fprintf(w, " · %d identity conflicts (an id seen with more than one user: only the first is followed)", t.IdentityConflicts)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tTYPE\tEVENT\tCOUNT\tFIRST SEEN\tLAST SEEN\tPROPERTIES")
	for _, e := range o.Events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", report.Terminal(e.Source), e.Type, report.Terminal(e.Name), e.Count,
			e.FirstSeen.Format(time.DateTime), e.LastSeen.Format(time.DateTime), propSummary(e.Properties))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(o.Rejections) > 0 {
		fmt.Fprintln(w, "\nRejected:")
		for _, r := range o.Rejections {
			fmt.Fprintf(w, "  %-22s %6d  (%s)  e.g. %s\n", r.Reason, r.Count, r.Source, oneLine(r.Sample, 100))
		}
	}
	return nil
}

// propSummary renders "format:string, rows:integer|string" for a table cell.
func propSummary(props []store.ObservedProperty) string {
	parts := make([]string, 0, len(props))
	for _, p := range props {
		if strings.Contains(p.Path, ".") || strings.Contains(p.Path, "[]") {
			continue // top-level paths only; JSON has them all
		}
		types := make([]string, 0, len(p.Types))
		for t := range p.Types {
			types = append(types, t)
		}
		sort.Strings(types)
		parts = append(parts, p.Path+":"+strings.Join(types, "|"))
	}
	return oneLine(strings.Join(parts, ", "), 120)
}

// oneLine fits text from events on one line of at most n characters,
// escaped for a terminal.
func oneLine(s string, n int) string {
	s = report.Terminal(strings.Join(strings.Fields(s), " "))
	if len([]rune(s)) > n {
		return string([]rune(s)[:n]) + "…"
	}
	return s
}
