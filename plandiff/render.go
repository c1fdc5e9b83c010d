package plandiff

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// SummaryLine is the one-line summary the text and markdown forms start
// with: "12 changes, 3 breaking".
func (s Summary) SummaryLine() string {
	noun := "changes"
	if s.Changes == 1 {
		noun = "change"
	}
	return fmt.Sprintf("%d %s, %d breaking", s.Changes, noun, s.Breaking)
}

// WriteText writes r for a terminal: the summary line, then the changes of
// each event under its call type and name, breaking ones marked "!".
func WriteText(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	s := r.Summary()
	fmt.Fprint(bw, s.SummaryLine())
	if s.Breaking > 0 {
		fmt.Fprint(bw, " (marked !)")
	}
	fmt.Fprintln(bw)
	if len(r.Changes) == 0 {
		fmt.Fprintln(bw, "\nNo changes: the plans are the same.")
	}
	var tw *tabwriter.Writer
	for i, c := range r.Changes {
		if i == 0 || c.Event != r.Changes[i-1].Event || c.CallType != r.Changes[i-1].CallType {
			if tw != nil {
				if err := tw.Flush(); err != nil {
					return fmt.Errorf("write diff: %w", err)
				}
			}
			fmt.Fprintf(bw, "\n%s %q\n", c.CallType, c.Event)
			tw = tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
		}
		mark := " "
		if c.Breaking {
			mark = "!"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", mark, c.Kind, c.Property, detail(c))
	}
	if tw != nil {
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write diff: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

// detail renders a change's states: "integer → number", "owner: a → b",
// "csv, pdf → csv (-pdf)".
func detail(c Change) string {
	s := orDash(c.Before) + " → " + orDash(c.After)
	if c.Field != "" {
		s = c.Field + ": " + s
	}
	switch c.Kind {
	case EnumValuesAdded:
		s += " (+" + strings.Join(c.Values, ", +") + ")"
	case EnumValuesRemoved:
		s += " (-" + strings.Join(c.Values, ", -") + ")"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// WriteMarkdown writes r as a pull-request comment: a heading, the summary
// line and one table row per change, breaking ones marked.
func WriteMarkdown(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## Tracking plan changes\n\n**%s**\n", r.Summary().SummaryLine())
	if len(r.Changes) == 0 {
		fmt.Fprintln(bw, "\nNo changes: the plans are the same.")
	} else {
		fmt.Fprint(bw, "\n| | Event | Property | Change | Before | After |\n|---|---|---|---|---|---|\n")
	}
	for _, c := range r.Changes {
		mark := ""
		if c.Breaking {
			mark = "**breaking**"
		}
		change := "`" + string(c.Kind) + "`"
		switch {
		case c.Field != "":
			change += " " + mdCell(c.Field)
		case c.Kind == EnumValuesAdded:
			change += " +" + mdCell(strings.Join(c.Values, ", +"))
		case c.Kind == EnumValuesRemoved:
			change += " -" + mdCell(strings.Join(c.Values, ", -"))
		}
		fmt.Fprintf(bw, "| %s | %s (%s) | %s | %s | %s | %s |\n", mark, mdCode(c.Event), c.CallType,
			mdCode(c.Property), change, mdCell(c.Before), mdCell(c.After))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}

// mdCell escapes text for a markdown table cell: pipes, newlines, HTML and
// backquotes.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;", "`", "'").Replace(s)
}

// mdCode renders s as inline code in a table cell; "" stays empty.
func mdCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.NewReplacer("`", "'", "|", `\|`, "\n", " ", "\r", " ").Replace(s) + "`"
}

// jsonDiff is the JSON form: the summary, then the changes.
type jsonDiff struct {
	Summary Summary  `json:"summary"`
	Changes []Change `json:"changes"`
}

// WriteJSON writes r as an indented JSON object {"summary": ...,
// "changes": [...]}, field names in snake_case; empty lists are [] and
// every field of a change is present.
func WriteJSON(w io.Writer, r *Result) error {
	out := jsonDiff{Summary: r.Summary(), Changes: make([]Change, len(r.Changes))}
	for i, c := range r.Changes {
		if c.Values == nil {
			c.Values = []string{}
		}
		out.Changes[i] = c
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write diff: %w", err)
	}
	return nil
}
