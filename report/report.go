// Package report renders drift and lint reports — text for a terminal,
// markdown for a pull-request comment or a Notion page, JSON for machines,
// and for CI JUnit XML, SARIF 2.1.0 and GitHub Actions workflow commands —
// applies baselines of accepted drift and filters findings.
package report

import (
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// Report is what the renderers show: a summary and the findings, most
// severe first.
type Report struct {
	// Plan is the ID of the plan version the report judged by, From and
	// To its window (event time; From is the start of the window's first
	// hour, which counts whole); all empty when not known.
	Plan     string              `json:"plan,omitempty"`
	From     time.Time           `json:"from,omitzero"`
	To       time.Time           `json:"to,omitzero"`
	Summary  Summary             `json:"summary"`
	Findings []trackplan.Finding `json:"findings"`
	// Timeline, when set, counts the findings over the window's hours
	// and days (drift's JSON form).
	Timeline *Timeline `json:"timeline,omitempty"`
}

// Summary counts a report's findings and events.
type Summary struct {
	Errors        int `json:"errors"`
	Warnings      int `json:"warnings"`
	Infos         int `json:"infos"`
	EventsPlanned int `json:"events_planned"`
	EventsSeen    int `json:"events_seen"`
	// Suppressed counts findings a baseline accepted.
	Suppressed int `json:"suppressed"`
	// Filtered counts findings a Filter left out (--min-severity, --only,
	// --ignore).
	Filtered int `json:"filtered,omitempty"`
}

// Recount recomputes the severity counts from the findings.
func (r *Report) Recount() {
	r.Summary.Errors, r.Summary.Warnings, r.Summary.Infos = 0, 0, 0
	for _, f := range r.Findings {
		switch f.Severity {
		case trackplan.SeverityError:
			r.Summary.Errors++
		case trackplan.SeverityWarning:
			r.Summary.Warnings++
		default:
			r.Summary.Infos++
		}
	}
}

// FailOn is the least severity that makes `trackplan drift` exit 1.
type FailOn string

// FailOn values.
const (
	FailOnError   FailOn = "error"
	FailOnWarning FailOn = "warning"
	FailOnNever   FailOn = "never"
)

// Fails reports whether the report has findings at or above f.
func (r *Report) Fails(f FailOn) bool {
	switch f {
	case FailOnError:
		return r.Summary.Errors > 0
	case FailOnWarning:
		return r.Summary.Errors+r.Summary.Warnings > 0
	}
	return false
}

// WriteJSON writes the stable JSON form.
func WriteJSON(w io.Writer, r *Report) error {
	out := *r
	if out.Findings == nil {
		out.Findings = []trackplan.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// GroupBy selects how the text and markdown forms group findings.
type GroupBy string

// GroupBy values.
const (
	BySeverity GroupBy = "severity"
	ByOwner    GroupBy = "owner"
	ByEvent    GroupBy = "event"
)

type group struct {
	title    string
	findings []trackplan.Finding
}

func groups(fs []trackplan.Finding, by GroupBy) []group {
	keyOf := func(f trackplan.Finding) string {
		switch by {
		case ByOwner:
			return cmp.Or(f.Owner, "(no owner)")
		case ByEvent:
			return cmp.Or(f.Event, "(plan-wide)")
		}
		return string(f.Severity)
	}
	var out []group
	index := map[string]int{}
	for _, f := range fs {
		k := keyOf(f)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, group{title: k})
		}
		out[i].findings = append(out[i].findings, f)
	}
	if by != BySeverity {
		slices.SortStableFunc(out, func(a, b group) int { return strings.Compare(a.title, b.title) })
	}
	return out
}

// TextOptions tune the terminal form.
type TextOptions struct {
	GroupBy GroupBy
	Color   bool // ANSI colours, for a terminal
	// InfoLimit, when positive, shows at most that many info findings and
	// counts the rest.
	InfoLimit int
}

// WriteText writes the report for a person at a terminal.
func WriteText(w io.Writer, r *Report, o TextOptions) error {
	paint := func(code, s string) string {
		if !o.Color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	sevColor := map[trackplan.Severity]string{trackplan.SeverityError: "31;1", trackplan.SeverityWarning: "33", trackplan.SeverityInfo: "36"}
	s := r.Summary
	fmt.Fprintf(w, "%s · %s · %s   (%d planned events, %d seen in the window",
		paint("31;1", plural(s.Errors, "error")), paint("33", plural(s.Warnings, "warning")), plural(s.Infos, "info"),
		s.EventsPlanned, s.EventsSeen)
	if s.Suppressed > 0 {
		fmt.Fprintf(w, ", %d accepted by the baseline", s.Suppressed)
	}
	if s.Filtered > 0 {
		fmt.Fprintf(w, ", %d left out by filters", s.Filtered)
	}
	fmt.Fprintln(w, ")")
	if line := judgedLine(r); line != "" {
		fmt.Fprintln(w, line)
	}
	for _, g := range groups(r.Findings, cmp.Or(o.GroupBy, BySeverity)) {
		fmt.Fprintf(w, "\n%s (%d)\n", paint("1", Terminal(strings.ToUpper(g.title))), len(g.findings))
		infos := 0
		for _, f := range g.findings {
			if f.Severity == trackplan.SeverityInfo {
				if infos++; o.InfoLimit > 0 && infos > o.InfoLimit {
					continue
				}
			}
			where := cmp.Or(f.Event, "plan")
			if f.Path != "" {
				where += " · " + f.Path
			}
			// Event names, paths and values come from whoever sent the
			// events: escaped, so they cannot forge lines or move the
			// cursor.
			fmt.Fprintf(w, "  %s %-26s %s\n", paint(sevColor[f.Severity], severityMark(f.Severity)), f.Code, Terminal(where))
			if detail := detailLine(f); detail != "" {
				fmt.Fprintf(w, "      %s\n", Terminal(detail))
			}
		}
		if o.InfoLimit > 0 && infos > o.InfoLimit {
			fmt.Fprintf(w, "  … and %d more info findings (--format json lists them all)\n", infos-o.InfoLimit)
		}
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "\nNo drift: what arrives matches the plan.")
	}
	return nil
}

func severityMark(s trackplan.Severity) string {
	switch s {
	case trackplan.SeverityError:
		return "✗"
	case trackplan.SeverityWarning:
		return "!"
	}
	return "·"
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func detailLine(f trackplan.Finding) string {
	var parts []string
	if f.Expected != "" || f.Observed != "" {
		parts = append(parts, fmt.Sprintf("expected %s, observed %s", cmp.Or(f.Expected, "—"), cmp.Or(f.Observed, "—")))
	}
	if f.Count > 0 {
		c := fmt.Sprintf("%d×", f.Count)
		if f.Rate > 0 {
			c += fmt.Sprintf(" (%.1f%%)", f.Rate*100)
		}
		parts = append(parts, c)
	}
	if !f.LastSeen.IsZero() {
		parts = append(parts, "last "+f.LastSeen.Format(time.DateTime))
	}
	if f.Owner != "" {
		parts = append(parts, "owner "+f.Owner)
	}
	return strings.Join(parts, " · ")
}

// WriteMarkdown writes the report as GitHub-flavoured markdown.
func WriteMarkdown(w io.Writer, r *Report, by GroupBy) error {
	s := r.Summary
	fmt.Fprintf(w, "## Tracking plan drift\n\n**%s**, **%s**, %s — %d planned events, %d seen in the window",
		plural(s.Errors, "error"), plural(s.Warnings, "warning"), plural(s.Infos, "info"), s.EventsPlanned, s.EventsSeen)
	if s.Suppressed > 0 {
		fmt.Fprintf(w, ", %d accepted by the baseline", s.Suppressed)
	}
	if s.Filtered > 0 {
		fmt.Fprintf(w, ", %d left out by filters", s.Filtered)
	}
	fmt.Fprintln(w, ".")
	if line := judgedLine(r); line != "" {
		fmt.Fprintf(w, "\n_%s_\n", MarkdownCell(strings.ToUpper(line[:1])+line[1:]))
	}
	for _, g := range groups(r.Findings, cmp.Or(by, BySeverity)) {
		fmt.Fprintf(w, "\n### %s (%d)\n\n| | Code | Event | Property | Expected | Observed | Count | Owner |\n|---|---|---|---|---|---|---:|---|\n",
			MarkdownCell(g.title), len(g.findings))
		for _, f := range g.findings {
			fmt.Fprintf(w, "| %s | `%s` | %s | %s | %s | %s | %d | %s |\n", severityMark(f.Severity), f.Code,
				MarkdownCell(f.Event), MarkdownCode(f.Path), MarkdownCell(f.Expected), MarkdownCell(f.Observed), f.Count, MarkdownCell(f.Owner))
		}
	}
	if len(r.Findings) == 0 {
		fmt.Fprintln(w, "\nNo drift: what arrives matches the plan.")
	}
	return nil
}

// MarkdownCell escapes text for a markdown table cell: pipes, newlines,
// HTML, links, images, mentions and autolinks (see markdownText), and
// control characters.
func MarkdownCell(s string) string {
	return unmention(markdownText.Replace(Terminal(s)))
}

func MarkdownCode(s string) string {
	if s == "" {
		return ""
	}
	return "`" + strings.NewReplacer("`", "'", "|", `\|`).Replace(Terminal(s)) + "`"
}

// JUnit XML, one test case per event (and one for plan-wide findings):
// findings at or above the fail-on threshold fail it, the others are
// written to its output, so a run that exits 0 shows no failure.
type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut *junitText    `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",innerxml"` // escaped by xmlText
}

type junitText struct {
	Text string `xml:",innerxml"` // escaped by xmlText
}

// xmlText escapes s for element content, keeping its line breaks as they
// are (encoding/xml would write them as &#xA;, unreadable in a CI log).
func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), "&#xA;", "\n")
}

// JUnitOptions tune the JUnit form.
type JUnitOptions struct {
	// Events lists every planned event, so events without findings show
	// as passing tests.
	Events []string
	// FailOn is the run's --fail-on: findings at or above it are
	// failures, the others are described in the passing test case's
	// output. Empty is FailOnError.
	FailOn FailOn
	// Kind names the check: "drift" (the default) or "lint"; the suite is
	// "trackplan <kind>", the class name "trackplan.<kind>".
	Kind string
}

// WriteJUnit writes the report as JUnit XML for CI systems.
func WriteJUnit(w io.Writer, r *Report, o JUnitOptions) error {
	kind := cmp.Or(o.Kind, "drift")
	failOn := cmp.Or(o.FailOn, FailOnError)
	byEvent := map[string][]trackplan.Finding{}
	for _, f := range r.Findings {
		byEvent[cmp.Or(f.Event, "(plan-wide)")] = append(byEvent[cmp.Or(f.Event, "(plan-wide)")], f)
	}
	names := slices.Clone(o.Events)
	for e := range byEvent {
		if !slices.Contains(names, e) {
			names = append(names, e)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	suite := junitSuite{Name: "trackplan " + kind}
	for _, name := range names {
		c := junitCase{Name: name, ClassName: "trackplan." + kind}
		var fail, pass []string
		for _, f := range byEvent[name] {
			line := junitLine(f)
			if failOn.Includes(f.Severity) {
				fail = append(fail, line)
			} else {
				pass = append(pass, line)
			}
		}
		if len(fail) > 0 {
			c.Failure = &junitFailure{Message: fmt.Sprintf("%d %s finding(s) at or above --fail-on %s", len(fail), kind, failOn),
				Type: kind, Body: xmlText(strings.Join(fail, "\n"))}
			suite.Failures++
		}
		if len(pass) > 0 {
			c.SystemOut = &junitText{xmlText(fmt.Sprintf("%d finding(s) below --fail-on %s, not failing:\n%s", len(pass), failOn, strings.Join(pass, "\n")))}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	io.WriteString(w, xml.Header)
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitLine describes a finding in a test case: severity, code, path and
// details.
func junitLine(f trackplan.Finding) string {
	line := fmt.Sprintf("%s %s", f.Severity, f.Code)
	if f.Path != "" {
		line += " " + f.Path
	}
	if f.Source != "" {
		line += " (source " + f.Source + ")"
	}
	if detail := detailLine(f); detail != "" {
		line += ": " + detail
	} else if d := Describe(f.Code); d != "" {
		line += ": " + d
	}
	return line
}

// judgedLine names the plan and the window a report judged by.
func judgedLine(r *Report) string {
	var parts []string
	if r.Plan != "" {
		parts = append(parts, "judged by plan "+r.Plan)
	}
	if !r.From.IsZero() && !r.To.IsZero() {
		parts = append(parts, fmt.Sprintf("window %s – %s (event time, whole hours)",
			r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04 MST")))
	}
	return strings.Join(parts, "; ")
}
