package web

import (
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/templates"
)

func TestFormat(t *testing.T) {
	tests := []struct{ got, want string }{
		{formatInt(0), "0"},
		{formatInt(999), "999"},
		{formatInt(1000), "1,000"},
		{formatInt(1234567), "1,234,567"},
		{formatInt(-12345), "-12,345"},
		{formatScore(72.46), "72.5"},
		{formatScore(40), "40.0"},
		{formatScore(-0.04), "0.0"},
		{formatPct(33.333), "33.3%"},
		{formatPct(100), "100.0%"},
		{formatChange(12), "+12.0"},
		{formatChange(3.1), "+3.1"},
		{formatChange(-3.54), "−3.5"},
		{formatChange(0.04), "0.0"},
		{formatTick(25), "25"},
		{truncate("short", 10), "short"},
		{truncate("ééééééé", 4), "ééé…"},
		{truncate("éééé", 4), "éééé"},
		{truncate("abcde", 4), "abc…"},
		{truncate("a€b€c€", 5), "a€b€…"},
		{countOf(1, "user"), "1 user"},
		{countOf(1200, "user"), "1,200 users"},
		{coord(12.345).String(), "12.3"},
		{coord(40).String(), "40"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

// TestColumnPrecision: the numbers of one column share one precision,
// whatever their values.
func TestColumnPrecision(t *testing.T) {
	decimals := func(s string) int {
		s = strings.TrimSuffix(s, "%")
		if _, frac, ok := strings.Cut(s, "."); ok {
			return len(frac)
		}
		return 0
	}
	values := []float64{0, 1, 3.1, -2, 40, 72.46, 99.95, -0.04, 100, 12.5}
	for name, format := range map[string]func(float64) string{
		"score": formatScore, "percentage": formatPct, "change": formatChange,
		"trend": func(v float64) string { return trendOf(trackplan.TrendOf(v)).Text },
	} {
		for _, v := range values {
			if got := format(v); decimals(got) != 1 {
				t.Errorf("%s of %v = %q: want one decimal, as every other row of the column", name, v, got)
			}
		}
	}
}

func TestPluralTemplateFuncs(t *testing.T) {
	tests := []struct {
		n         any
		want      string
		wantError bool
	}{
		{n: 1, want: "1 warning"},
		{n: 0, want: "0 warnings"},
		{n: 2, want: "2 warnings"},
		{n: int64(1), want: "1 warning"},
		{n: 1200, want: "1,200 warnings"},
		{n: "1", want: "1 warning"},
		{n: "1,001", want: "1,001 warnings"},
		{n: 1.0, wantError: true},
		{n: nil, wantError: true},
	}
	for _, tt := range tests {
		got, err := pluralOf(tt.n, "warning", "warnings")
		if (err != nil) != tt.wantError || got != tt.want {
			t.Errorf("plural %#v = %q, %v; want %q, error %v", tt.n, got, err, tt.want, tt.wantError)
		}
	}
	// Irregular plurals and phrases come whole from the template.
	if got, _ := pluralOf(1, "event arrived", "events arrived"); got != "1 event arrived" {
		t.Errorf("got %q", got)
	}
}

func TestBreakable(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"context.page.url", "context.<wbr>page.<wbr>url"},
		{"UNPLANNED_PROPERTY", "UNPLANNED_<wbr>PROPERTY"},
		{"trailing.", "trailing."},
		{"_lead", "_<wbr>lead"},
		{"a..b", "a.<wbr>.<wbr>b"},
		{"<script>.x&y", "&lt;script&gt;.<wbr>x&amp;y"},
		{`"quoted".'too'`, "&#34;quoted&#34;.<wbr>&#39;too&#39;"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := string(breakable(tt.in)); got != tt.want {
			t.Errorf("breakable(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestNoEmoji: the pages, the stylesheet and the script use no emoji (a
// machine without an emoji font shows boxes), and the identifiers' CSS
// does not break words anywhere.
func TestNoEmoji(t *testing.T) {
	files := templates.Dashboard()
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		for i, r := range string(b) {
			// Pictographs, dingbats and symbols that render as emoji, and
			// the emoji variation selector.
			if (r >= 0x1F000 && r <= 0x1FAFF) || (r >= 0x2600 && r <= 0x26FF) || r == 0xFE0F || r == 0x2744 || r == 0x2728 {
				t.Errorf("%s: emoji %U at byte %d", path, r, i)
			}
		}
		if strings.HasSuffix(path, ".css") {
			for line := range strings.Lines(string(b)) {
				ident := strings.HasPrefix(line, "code") || strings.Contains(line, ".event-head") || strings.Contains(line, ".ident")
				if ident && strings.Contains(line, "anywhere") {
					t.Errorf("%s: identifiers must not break anywhere: %s", path, strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAgo(t *testing.T) {
	now := fixedNow
	tests := []struct {
		at   time.Time
		want string
	}{
		{now.Add(-20 * time.Second), "just now"},
		{now.Add(-time.Minute), "1 minute ago"},
		{now.Add(-45 * time.Minute), "45 minutes ago"},
		{now.Add(-5 * time.Hour), "5 hours ago"},
		{now.Add(-30 * time.Hour), "yesterday"},
		{now.AddDate(0, 0, -12), "12 days ago"},
		{now.AddDate(0, 0, -90), "2025-12-15"},
		{now.Add(time.Hour), "2026-03-15"},
	}
	for _, tt := range tests {
		if got := ago(tt.at, now); got != tt.want {
			t.Errorf("ago(%s) = %q, want %q", tt.at, got, tt.want)
		}
	}
	if got := timeOf(time.Time{}, now); !got.IsZero() {
		t.Errorf("timeOf(zero) = %+v, want zero", got)
	}
}

func TestTrendOf(t *testing.T) {
	tests := []struct {
		change float64
		want   trendView
	}{
		{12, trendView{Text: "+12.0", Value: "12.0", Dir: "up", Flag: "hot", Label: "up 12 points, rising fast"}},
		{9.96, trendView{Text: "+10.0", Value: "10.0", Dir: "up", Label: "up 10 points"}},
		{3.14, trendView{Text: "+3.1", Value: "3.1", Dir: "up", Label: "up 3.1 points"}},
		{-10, trendView{Text: "−10.0", Value: "-10.0", Dir: "down", Flag: "cold", Label: "down 10 points, falling fast"}},
		{0, trendView{Text: "0.0", Value: "0.0", Dir: "flat", Label: "unchanged"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, trendOf(trackplan.TrendOf(tt.change))); diff != "" {
			t.Errorf("trendOf(%v) (-want +got):\n%s", tt.change, diff)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for n, want := range map[int]int{0: 1, 1: 1, 2: 2, 3: 5, 7: 10, 10: 10, 11: 20, 180: 200, 201: 500, 501: 1000} {
		if got := niceCeil(n); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestTopK(t *testing.T) {
	desc := func(x, y int) int { return y - x }
	tests := []struct {
		in   []int
		k    int
		want []int
	}{
		{nil, 3, []int{}},
		{[]int{1, 2}, 3, []int{2, 1}},
		{[]int{5, 1, 9, 3, 7, 9, 2}, 3, []int{9, 9, 7}},
		{[]int{1, 2, 3, 4, 5, 6}, 1, []int{6}},
	}
	for _, tt := range tests {
		got := topK(tt.in, tt.k, desc)
		if got == nil {
			got = []int{}
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("topK(%v, %d) (-want +got):\n%s", tt.in, tt.k, diff)
		}
	}
}

func TestPageLinks(t *testing.T) {
	href := func(n int) string { return "" }
	nums := func(links []pageLink) []int {
		var out []int
		for _, l := range links {
			if l.Gap {
				out = append(out, 0)
			} else {
				out = append(out, l.N)
			}
		}
		return out
	}
	tests := []struct {
		current, pages int
		want           []int // 0 is a gap
	}{
		{1, 1, nil},
		{1, 3, []int{1, 2, 3}},
		{1, 10, []int{1, 2, 3, 0, 10}},
		{5, 10, []int{1, 2, 3, 4, 5, 6, 7, 0, 10}},
		{10, 10, []int{1, 0, 8, 9, 10}},
		{4, 10, []int{1, 2, 3, 4, 5, 6, 0, 10}},
		{8, 10, []int{1, 0, 6, 7, 8, 9, 10}},
		{100, 200, []int{1, 0, 98, 99, 100, 101, 102, 0, 200}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, nums(pageLinks(tt.current, tt.pages, href))); diff != "" {
			t.Errorf("pageLinks(%d, %d) (-want +got):\n%s", tt.current, tt.pages, diff)
		}
	}
}

func TestCharts(t *testing.T) {
	sb := newStackedBar("x", []part{{"a", "A", 1}, {"b", "B", 0}, {"c", "C", 3}})
	if diff := cmp.Diff([]segment{{X: 0, W: 250, Key: "a", Title: "A: 1"}, {X: 250, W: 750, Key: "c", Title: "C: 3"}}, sb.Segments); diff != "" {
		t.Errorf("stacked bar (-want +got):\n%s", diff)
	}
	if sb := newStackedBar("x", []part{{"a", "A", 0}}); len(sb.Segments) != 0 {
		t.Errorf("an empty stacked bar has segments: %+v", sb.Segments)
	}

	h := newScoreHistogram([]float64{1, 24, 25, 50, 74, 75, 100, 100}, "user")
	var keys []string
	for _, b := range h.Bars {
		keys = append(keys, b.Key+" "+b.Title)
	}
	want := []string{
		"least Score 0–4: 1 user", "least Score 20–24: 1 user", "passive Score 25–29: 1 user",
		"engaged Score 50–54: 1 user", "engaged Score 70–74: 1 user", "most Score 75–79: 1 user", "most Score 95–100: 2 users",
	}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("histogram bins (-want +got):\n%s", diff)
	}
	if !newScoreHistogram(nil, "user").Empty {
		t.Error("a histogram of nothing is not empty")
	}

	if newSparkline(nil, 0, 100, "") != nil {
		t.Error("a sparkline of nothing is drawn")
	}
	s := newSparkline([]float64{0, 50, 100}, 0, 100, "l")
	if diff := cmp.Diff(&sparkline{Label: "l", Points: "3,25 60,14 117,3", Area: "3,25 60,14 117,3 117,25 3,25", LastX: 117, LastY: 3}, s); diff != "" {
		t.Errorf("sparkline (-want +got):\n%s", diff)
	}
	one := newSparkline([]float64{40}, 0, 0, "")
	if one.Area != "" || one.LastX != 117 {
		t.Errorf("one-point sparkline: %+v", one)
	}

	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	c := newHistoryChart([]store.ScorePoint{{At: at, Score: 0}, {At: at.AddDate(0, 0, 10), Score: 100}}, "Acme")
	if c.Points != "44,270 980,12" {
		t.Errorf("history points %q", c.Points)
	}
	if len(c.XTicks) != 2 || c.XTicks[0].Label != "Mar 1" || c.XTicks[1].Label != "Mar 11" {
		t.Errorf("history ticks %+v", c.XTicks)
	}
	if !newHistoryChart(nil, "Acme").Empty {
		t.Error("a history of nothing is not empty")
	}
}
