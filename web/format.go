package web

import (
	"fmt"
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

// formatScore writes a score with one decimal, dropping ".0": 72.5, 40.
func formatScore(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// formatPct writes a percentage with at most one decimal: "45.2%".
func formatPct(v float64) string { return formatScore(v) + "%" }

// formatChange writes a score change with its sign: "+12", "−3.5", "0".
func formatChange(v float64) string {
	v = math.Round(v*10) / 10
	switch {
	case v > 0:
		return "+" + formatScore(v)
	case v < 0:
		return "−" + formatScore(-v)
	}
	return "0"
}

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
	Text  string // "+12", "−3.5", "0"
	Value string // the change for sorting: "12", "-3.5"
	Dir   string // CSS modifier: up, down or flat
	Flag  string // 🔥 or ❄️ for a change of 10 points or more
	Label string // spoken form: "up 12 points, rising fast"
}

func trendOf(t trackplan.Trend) trendView {
	change := math.Round(t.Change*10) / 10
	v := trendView{Text: formatChange(t.Change), Value: formatScore(change), Flag: string(t.Flag)}
	switch {
	case change > 0:
		v.Dir, v.Label = "up", "up "+formatScore(change)+" points"
	case change < 0:
		v.Dir, v.Label = "down", "down "+formatScore(-change)+" points"
	default:
		v.Dir, v.Label = "flat", "unchanged"
	}
	switch t.Flag {
	case trackplan.TrendHot:
		v.Label += ", rising fast"
	case trackplan.TrendCold:
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
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
