package web

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// formatInt writes n with thousands separators: 12345 → "12,345".
func formatInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Numbers in a column share one precision, so they line up and read
// alike: scores, percentages and score changes always have one decimal
// ("40.0" beside "72.5", never "40"); counts have none.

// formatScore writes a score with one decimal: 72.5, 40.0.
func formatScore(v float64) string {
	r := math.Round(v*10) / 10
	if r == 0 {
		r = 0 // no "-0.0"
	}
	return strconv.FormatFloat(r, 'f', 1, 64)
}

// formatPct writes a percentage with one decimal: "45.2%", "40.0%".
func formatPct(v float64) string { return formatScore(v) + "%" }

// formatChange writes a score change with its sign and one decimal:
// "+12.0", "−3.5", "0.0".
func formatChange(v float64) string {
	v = math.Round(v*10) / 10
	switch {
	case v > 0:
		return "+" + formatScore(v)
	case v < 0:
		return "−" + formatScore(-v)
	}
	return "0.0"
}

// spoken writes a number for a label read aloud, not a column: no
// trailing ".0" ("up 12 points").
func spoken(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

// formatTick writes a chart axis label: the axes' ticks are whole numbers.
func formatTick(v float64) string { return strconv.Itoa(int(math.Round(v))) }

// timeView is a point in time as pages show it: a <time> element with the
// exact time in its datetime and title, and a relative text.
type timeView struct {
	Datetime string // RFC 3339, UTC
	Exact    string // "2026-03-14 09:30 UTC"
	Text     string // "yesterday", "3 days ago", or the date for old times
}

// IsZero reports whether there is no time to show.
func (t timeView) IsZero() bool { return t.Datetime == "" }

// timeOf describes t relative to now; a zero t gives the zero timeView.
func timeOf(t, now time.Time) timeView {
	if t.IsZero() {
		return timeView{}
	}
	t = t.UTC()
	return timeView{
		Datetime: t.Format(time.RFC3339),
		Exact:    t.Format("2006-01-02 15:04 UTC"),
		Text:     ago(t, now),
	}
}

// ago writes how long before now t was, coarsely.
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < 0:
		return t.UTC().Format(time.DateOnly)
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 48*time.Hour:
		return "yesterday"
	case d < 60*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return t.UTC().Format(time.DateOnly)
}

// countOf writes n and the unit, pluralised with an s: "1 user", "1,200 users".
func countOf(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return formatInt(int64(n)) + " " + unit + "s"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// countText is the number a template counts with: an integer (written
// with thousands separators) or a number already written ("1,200").
func countText(n any) (string, error) {
	switch v := n.(type) {
	case int:
		return formatInt(int64(v)), nil
	case int64:
		return formatInt(v), nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("count: %T is not a number", n)
}

// pluralOf is the template function plural: n and the singular or the
// plural noun, {{plural .N "event" "events"}} → "1 event", "1,200 events".
func pluralOf(n any, one, many string) (string, error) {
	s, err := countText(n)
	if err != nil {
		return "", err
	}
	if s == "1" {
		return "1 " + one, nil
	}
	return s + " " + many, nil
}

// breakable is the template function wbr: an identifier (an event or
// property name, a finding code) HTML-escaped with a <wbr> after each dot
// and underscore, so a long name wraps at its separators and nowhere else
// (the stylesheet keeps words whole). Use it in text, never in an
// attribute.
func breakable(s string) template.HTML {
	var b strings.Builder
	start := 0
	for i := 0; i < len(s); i++ {
		if (s[i] == '.' || s[i] == '_') && i+1 < len(s) {
			b.WriteString(template.HTMLEscapeString(s[start : i+1]))
			b.WriteString("<wbr>")
			start = i + 1
		}
	}
	b.WriteString(template.HTMLEscapeString(s[start:]))
	return template.HTML(b.String()) // every piece of s is escaped above
}

// bandView is a band as a badge.
type bandView struct {
	Key   string // CSS modifier: most, engaged, passive, least, inactive
	Label string
}

func bandOf(b trackplan.Band) bandView {
	return bandView{Key: bandKey(b), Label: b.Label()}
}

func bandKey(b trackplan.Band) string {
	switch b {
	case trackplan.BandMostEngaged:
		return "most"
	case trackplan.BandEngaged:
		return "engaged"
	case trackplan.BandPassive:
		return "passive"
	case trackplan.BandLeastEngaged:
		return "least"
	}
	return "inactive"
}

// bands lists the bands from most engaged to inactive.
func bands() []trackplan.Band {
	return []trackplan.Band{trackplan.BandMostEngaged, trackplan.BandEngaged, trackplan.BandPassive,
		trackplan.BandLeastEngaged, trackplan.BandInactive}
}

// trendView is a trend as pages show it.
type trendView struct {
	Text  string // "+12.0", "−3.5", "0.0"
	Value string // the change for sorting: "12.0", "-3.5"
	Dir   string // CSS modifier: up, down or flat
	Flag  string // hot or cold for a change of 10 points or more: the mark's CSS modifier
	Label string // spoken form: "up 12 points, rising fast"
}

func trendOf(t trackplan.Trend) trendView {
	change := math.Round(t.Change*10) / 10
	v := trendView{Text: formatChange(t.Change), Value: formatScore(change)}
	switch {
	case change > 0:
		v.Dir, v.Label = "up", "up "+spoken(change)+" points"
	case change < 0:
		v.Dir, v.Label = "down", "down "+spoken(-change)+" points"
	default:
		v.Dir, v.Label = "flat", "unchanged"
	}
	switch t.Flag {
	case trackplan.TrendHot:
		v.Flag = "hot"
		v.Label += ", rising fast"
	case trackplan.TrendCold:
		v.Flag = "cold"
		v.Label += ", falling fast"
	}
	return v
}

// severityKey is the CSS modifier of a severity.
func severityKey(s trackplan.Severity) string {
	switch s {
	case trackplan.SeverityError:
		return "error"
	case trackplan.SeverityWarning:
		return "warning"
	}
	return "info"
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Without converting all of a long s: cut after its n-1th character
	// once an nth one follows.
	count, cut := 0, 0
	for i := range s {
		if count == n {
			return s[:cut] + "…"
		}
		if count == n-1 {
			cut = i
		}
		count++
	}
	return s
}
