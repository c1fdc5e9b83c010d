package report

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
)

// Includes reports whether a finding of severity s is at or above f: the
// findings that fail a run, and that the CI forms (JUnit) show as failures.
// An empty FailOn is FailOnError, the CLI's default.
func (f FailOn) Includes(s trackplan.Severity) bool {
	switch cmp.Or(f, FailOnError) {
	case FailOnError:
		return s == trackplan.SeverityError
	case FailOnWarning:
		return s == trackplan.SeverityError || s == trackplan.SeverityWarning
	}
	return false
}

// codes lists every finding code with a one-sentence description, for the
// rules of the SARIF form and for the filters' list of valid codes.
var codes = []struct {
	code trackplan.Code
	desc string
}{
	{trackplan.UnplannedEvent, "An event arrived that the plan does not have."},
	{trackplan.UnplannedProperty, "A property arrived that the plan does not have for its event."},
	{trackplan.RequiredMissing, "Messages arrived without a property the plan requires."},
	{trackplan.TypeMismatch, "A property arrived with a type other than the planned one."},
	{trackplan.NullNotAllowed, "A property arrived as null where the plan does not allow null."},
	{trackplan.EnumViolation, "A property arrived with a value outside the planned list."},
	{trackplan.PatternViolation, "A property arrived with a value that does not match the planned pattern."},
	{trackplan.RangeViolation, "A number arrived outside the planned minimum or maximum."},
	{trackplan.InvalidMessage, "Messages were rejected as not valid Segment calls."},
	{trackplan.CardinalityLimit, "More events or property paths arrived than the store keeps; the rest were counted, not stored."},
	{trackplan.PlannedNotSeen, "A live or implemented event had no traffic in the window."},
	{trackplan.DeprecatedStillSeen, "A deprecated event still arrives."},
	{trackplan.TypeInconsistent, "A property arrived with more than one type."},
	{trackplan.Naming, "An event or property name breaks the naming rules or collides with another name."},
	{trackplan.BestPractice, "A plan or identity best practice is not followed (documentation, scored events, consistent types, user and account traits)."},
	{trackplan.ForwardHeld, "Messages of a forwarding source are held back from Segment: blocked by its enforcement policy, or refused by the destination."},
}

// Codes returns every finding code, in a stable order.
func Codes() []trackplan.Code {
	out := make([]trackplan.Code, len(codes))
	for i, c := range codes {
		out[i] = c.code
	}
	return out
}

// Describe returns a one-sentence description of code, or "" for a code
// it does not know.
func Describe(code trackplan.Code) string {
	for _, c := range codes {
		if c.code == code {
			return c.desc
		}
	}
	return ""
}

// Filter narrows a report to the findings a run asks about, before it is
// rendered and before its exit code is decided.
type Filter struct {
	// MinSeverity drops findings less severe; empty keeps all.
	MinSeverity trackplan.Severity
	// Only, when not empty, keeps just these codes; Ignore drops these
	// (it wins over Only).
	Only, Ignore []trackplan.Code
}

// ParseSeverity reads error, warning or info.
func ParseSeverity(s string) (trackplan.Severity, error) {
	switch sev := trackplan.Severity(strings.ToLower(strings.TrimSpace(s))); sev {
	case trackplan.SeverityError, trackplan.SeverityWarning, trackplan.SeverityInfo:
		return sev, nil
	}
	return "", fmt.Errorf("want error, warning or info, not %q", s)
}

// ParseCodes reads finding codes, each value one code or several separated
// by commas, in any case. An unknown code is an error that lists the valid
// ones.
func ParseCodes(values []string) ([]trackplan.Code, error) {
	var out []trackplan.Code
	valid := Codes()
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			c := trackplan.Code(strings.ToUpper(part))
			if !slices.Contains(valid, c) {
				names := make([]string, len(valid))
				for i, v := range valid {
					names[i] = string(v)
				}
				return nil, fmt.Errorf("unknown code %q (valid codes: %s)", part, strings.Join(names, ", "))
			}
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// Keeps reports whether the filter keeps f.
func (flt Filter) Keeps(f trackplan.Finding) bool {
	if flt.MinSeverity != "" && f.Severity.Rank() > flt.MinSeverity.Rank() {
		return false
	}
	if len(flt.Only) > 0 && !slices.Contains(flt.Only, f.Code) {
		return false
	}
	return !slices.Contains(flt.Ignore, f.Code)
}

// Active reports whether the filter drops anything at all.
func (flt Filter) Active() bool {
	return (flt.MinSeverity != "" && flt.MinSeverity != trackplan.SeverityInfo) || len(flt.Only) > 0 || len(flt.Ignore) > 0
}

// Apply removes the findings the filter drops, counts them in
// Summary.Filtered and recounts the severities, so that renderers and Fails
// see only what is kept.
func (flt Filter) Apply(r *Report) {
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if !flt.Keeps(f) {
			r.Summary.Filtered++
			continue
		}
		kept = append(kept, f)
	}
	clear(r.Findings[len(kept):])
	r.Findings = kept
	r.Recount()
}

// Locator places findings in the plan file, for the SARIF and GitHub forms.
type Locator struct {
	// File is the plan file's path as CI should show it: slash-separated,
	// relative to the repository root where it can be.
	File string
	// Line returns the line in File of the planned event, or of its
	// property when path is not empty (the event's when the property is
	// not planned); 0 when File does not plan the event.
	Line func(event, path string) int
	// Anchor is the line the findings File does not place point at (the
	// plan's events list: where an unplanned event would be added); 1
	// when 0.
	Anchor int
}

// place returns where f points: the file (empty without one), the line and
// whether that line is the finding's own event or property.
func (l *Locator) place(f trackplan.Finding) (file string, line int, exact bool) {
	if l == nil || l.File == "" {
		return "", 0, false
	}
	if l.Line != nil && f.Event != "" {
		if n := l.Line(f.Event, f.Path); n > 0 {
			return l.File, n, true
		}
	}
	return l.File, max(l.Anchor, 1), false
}

// subject names what a finding is about: Event.path, the event, the path,
// or the plan.
func subject(f trackplan.Finding) string {
	switch {
	case f.Event != "" && f.Path != "":
		return f.Event + "." + f.Path
	case f.Event != "":
		return f.Event
	case f.Path != "":
		return f.Path
	}
	return "plan"
}

// Message describes a finding in one line, for CI annotations and SARIF:
//
//	Report Exported.format: expected csv, pdf, observed xlsx (12 messages)
func Message(f trackplan.Finding) string {
	var b strings.Builder
	b.WriteString(subject(f))
	b.WriteString(": ")
	if f.Expected != "" || f.Observed != "" {
		fmt.Fprintf(&b, "expected %s, observed %s", cmp.Or(f.Expected, "—"), cmp.Or(f.Observed, "—"))
	} else {
		d := strings.TrimSuffix(cmp.Or(Describe(f.Code), string(f.Code)), ".")
		if Describe(f.Code) != "" {
			d = strings.ToLower(d[:1]) + d[1:]
		}
		b.WriteString(d)
	}
	var extra []string
	// BEST_PRACTICE counts users or accounts, which its observed value
	// already says; the other codes count messages.
	if f.Count > 0 && f.Code != trackplan.BestPractice {
		n := "1 message"
		if f.Count != 1 {
			n = fmt.Sprintf("%d messages", f.Count)
		}
		if f.Rate > 0 && f.Rate < 1 {
			n += fmt.Sprintf(", %.1f%%", f.Rate*100)
		}
		extra = append(extra, n)
	}
	if f.Source != "" {
		extra = append(extra, "source "+f.Source)
	}
	if len(extra) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(extra, "; "))
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}
