package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// The charts are inline SVG. The server computes their geometry here, in
// viewBox units; the templates only place the shapes, so every text in a
// chart goes through html/template's escaping like the rest of the page.

// coord is an SVG coordinate or length, written with at most one decimal.
type coord float64

// String writes the coordinate for an SVG attribute.
func (c coord) String() string {
	return strconv.FormatFloat(math.Round(float64(c)*10)/10, 'f', -1, 64)
}

// part is one category of a stacked bar.
type part struct {
	Key   string // CSS modifier
	Label string
	N     int
}

// stackedBar is a single horizontal bar split into categories, drawn in a
// viewBox 1000 wide and 1 high that the stylesheet stretches.
type stackedBar struct {
	Label    string // the accessible description
	Segments []segment
}

// segment is one category's share of a stacked bar.
type segment struct {
	X, W  coord
	Key   string
	Title string
}

const stackedWidth = 1000

func newStackedBar(label string, parts []part) stackedBar {
	total := 0
	for _, p := range parts {
		total += p.N
	}
	sb := stackedBar{Label: label}
	if total == 0 {
		return sb
	}
	x := 0.0
	for _, p := range parts {
		if p.N == 0 {
			continue
		}
		w := float64(p.N) / float64(total) * stackedWidth
		sb.Segments = append(sb.Segments, segment{
			X: coord(x), W: coord(w), Key: p.Key,
			Title: fmt.Sprintf("%s: %s", p.Label, formatInt(int64(p.N))),
		})
		x += w
	}
	return sb
}

// tick is an axis label (and, for a y tick, a grid line).
type tick struct {
	X, Y   coord
	Label  string
	Anchor string // text-anchor: start, middle or end
}

// bar is one bar of a histogram.
type bar struct {
	X, Y, W, H coord
	Key        string
	Title      string
}

// histogram is a score distribution: 20 bins of 5 points, coloured by the
// band their lower bound falls in, so the band limits (25, 50, 75) fall on
// bin edges.
type histogram struct {
	Label                    string
	Width, Height            coord
	Left, Right, Top, Bottom coord // the plot area
	Bars                     []bar
	YTicks, XTicks           []tick
	Empty                    bool
}

const histBins = 20

// newScoreHistogram draws the distribution of scores (0–100) of active
// entities; unit names one of them ("active user").
func newScoreHistogram(scores []float64, unit string) histogram {
	h := histogram{Width: 560, Height: 220, Left: 40, Right: 544, Top: 12, Bottom: 190}
	var counts [histBins]int
	for _, s := range scores {
		i := int(math.Floor(s / 5))
		i = min(max(i, 0), histBins-1)
		counts[i]++
	}
	peak := 0
	for _, n := range counts {
		peak = max(peak, n)
	}
	h.Label = fmt.Sprintf("Histogram of %s by score in bins of 5 points", countOf(len(scores), unit))
	if peak == 0 {
		h.Empty = true
		return h
	}
	top := niceCeil(peak)
	plotW := float64(h.Right - h.Left)
	plotH := float64(h.Bottom - h.Top)
	binW := plotW / histBins
	for i, n := range counts {
		if n == 0 {
			continue
		}
		lo := i * 5
		hi := lo + 4
		if i == histBins-1 {
			hi = 100
		}
		barH := float64(n) / float64(top) * plotH
		h.Bars = append(h.Bars, bar{
			X: coord(float64(h.Left) + float64(i)*binW + 1), W: coord(binW - 2),
			Y: coord(float64(h.Bottom) - barH), H: coord(barH),
			Key:   bandKey(trackplan.BandOf(float64(lo), true)),
			Title: fmt.Sprintf("Score %d–%d: %s", lo, hi, countOf(n, unit)),
		})
	}
	yTicks := []int{0, top}
	if top >= 2 && top%2 == 0 {
		yTicks = []int{0, top / 2, top}
	}
	for _, v := range yTicks {
		y := float64(h.Bottom) - float64(v)/float64(top)*plotH
		h.YTicks = append(h.YTicks, tick{X: h.Left - 6, Y: coord(y), Label: formatInt(int64(v)), Anchor: "end"})
	}
	for _, v := range []int{0, 25, 50, 75, 100} {
		x := float64(h.Left) + float64(v)/100*plotW
		h.XTicks = append(h.XTicks, tick{X: coord(x), Y: h.Bottom + 18, Label: strconv.Itoa(v), Anchor: "middle"})
	}
	return h
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten.
func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	p := 1
	for p*10 < n {
		p *= 10
	}
	for _, m := range []int{1, 2, 5, 10} {
		if m*p >= n {
			return m * p
		}
	}
	return 10 * p
}

// zone is a band's horizontal stripe behind a line chart.
type zone struct {
	X, Y, W, H coord
	Key        string
}

// dot is a marked point of a line chart.
type dot struct {
	X, Y  coord
	Title string
}

// lineChart is a score history: scores 0–100 over time, over stripes
// marking the bands.
type lineChart struct {
	Label                    string
	Width, Height            coord
	Left, Right, Top, Bottom coord
	Zones                    []zone
	Grid                     []tick
	XTicks                   []tick
	Points                   string // polyline points
	Dots                     []dot
	Empty                    bool
}

// maxDots is the number of points above which only the last one is marked.
const maxDots = 60

func newHistoryChart(points []store.ScorePoint, name string) lineChart {
	c := lineChart{Width: 1000, Height: 300, Left: 44, Right: 980, Top: 12, Bottom: 270}
	plotH := float64(c.Bottom - c.Top)
	plotW := float64(c.Right - c.Left)
	yOf := func(score float64) float64 {
		return float64(c.Bottom) - min(max(score, 0), 100)/100*plotH
	}
	for _, z := range []struct {
		lo, hi float64
		band   trackplan.Band
	}{{75, 100, trackplan.BandMostEngaged}, {50, 75, trackplan.BandEngaged}, {25, 50, trackplan.BandPassive}, {0, 25, trackplan.BandLeastEngaged}} {
		c.Zones = append(c.Zones, zone{X: c.Left, W: c.Right - c.Left, Y: coord(yOf(z.hi)), H: coord(yOf(z.lo) - yOf(z.hi)), Key: bandKey(z.band)})
	}
	for _, v := range []float64{0, 25, 50, 75, 100} {
		c.Grid = append(c.Grid, tick{X: c.Left - 6, Y: coord(yOf(v)), Label: formatTick(v), Anchor: "end"})
	}
	if len(points) == 0 {
		c.Empty = true
		c.Label = "Score history of " + name + ": no scoring run yet"
		return c
	}
	first, last := points[0].At, points[len(points)-1].At
	span := last.Sub(first)
	xOf := func(at time.Time) float64 {
		if span <= 0 {
			return float64(c.Left) + plotW/2
		}
		return float64(c.Left) + float64(at.Sub(first))/float64(span)*plotW
	}
	var b strings.Builder
	for i, p := range points {
		x, y := xOf(p.At), yOf(p.Score)
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(coord(x).String() + "," + coord(y).String())
		if len(points) <= maxDots || i == len(points)-1 {
			c.Dots = append(c.Dots, dot{X: coord(x), Y: coord(y),
				Title: fmt.Sprintf("%s: %s", p.At.UTC().Format("2006-01-02 15:04 UTC"), formatScore(p.Score))})
		}
	}
	c.Points = b.String()
	c.XTicks = append(c.XTicks, tick{X: coord(xOf(first)), Y: c.Bottom + 20, Label: shortDate(first), Anchor: "start"})
	if span > 0 {
		if len(points) >= 3 {
			mid := first.Add(span / 2)
			c.XTicks = append(c.XTicks, tick{X: coord(xOf(mid)), Y: c.Bottom + 20, Label: shortDate(mid), Anchor: "middle"})
		}
		c.XTicks = append(c.XTicks, tick{X: coord(xOf(last)), Y: c.Bottom + 20, Label: shortDate(last), Anchor: "end"})
	} else {
		c.XTicks[0].Anchor = "middle"
	}
	lo, hi := points[0].Score, points[0].Score
	for _, p := range points {
		lo, hi = min(lo, p.Score), max(hi, p.Score)
	}
	c.Label = fmt.Sprintf("Score history of %s: %s from %s to %s, between %s and %s, latest %s",
		name, plural(len(points), "run"), first.UTC().Format(time.DateOnly), last.UTC().Format(time.DateOnly),
		formatScore(lo), formatScore(hi), formatScore(points[len(points)-1].Score))
	return c
}

func shortDate(t time.Time) string { return t.UTC().Format("Jan 2") }

// sparkline is a small trend line without axes, 120×28.
type sparkline struct {
	Label        string
	Points       string // polyline points
	Area         string // polygon points: the line closed along the bottom
	LastX, LastY coord
	Marks        []mark // thin vertical lines at marked points
}

// mark is a vertical line across a chart at a point, with a tooltip.
type mark struct {
	X     coord
	Title string
}

// sparkX is the x of point i of n in a sparkline.
func sparkX(i, n int) float64 {
	if n == 1 {
		return sparkW - sparkPad
	}
	return sparkPad + float64(i)/float64(n-1)*(sparkW-2*sparkPad)
}

// dayMark is a marked day of a daily series.
type dayMark struct {
	Day   int    // index in the series
	Title string // the tooltip
	Label string // what the chart's accessible label adds
}

// withMarks marks days of a sparkline of n daily values and names them in
// its accessible label; s may be nil.
func (s *sparkline) withMarks(n int, marks []dayMark) *sparkline {
	if s == nil || len(marks) == 0 {
		return s
	}
	labels := make([]string, 0, len(marks))
	for _, m := range marks {
		if m.Day < 0 || m.Day >= n {
			continue
		}
		s.Marks = append(s.Marks, mark{X: coord(sparkX(m.Day, n)), Title: m.Title})
		labels = append(labels, m.Label)
	}
	if len(labels) > 0 {
		s.Label += "; plan edited on " + strings.Join(labels, ", ")
	}
	return s
}

const (
	sparkW, sparkH, sparkPad = 120.0, 28.0, 3.0
)

// newSparkline draws values on a vertical scale from lo to hi (hi ≤ lo
// scales to the values' maximum); nil when there is no value.
func newSparkline(values []float64, lo, hi float64, label string) *sparkline {
	if len(values) == 0 {
		return nil
	}
	if hi <= lo {
		for _, v := range values {
			hi = max(hi, v)
		}
		if hi <= lo {
			hi = lo + 1
		}
	}
	s := &sparkline{Label: label}
	xOf := func(i int) float64 { return sparkX(i, len(values)) }
	yOf := func(v float64) float64 {
		v = min(max(v, lo), hi)
		return sparkH - sparkPad - (v-lo)/(hi-lo)*(sparkH-2*sparkPad)
	}
	var b strings.Builder
	for i, v := range values {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(coord(xOf(i)).String() + "," + coord(yOf(v)).String())
	}
	s.Points = b.String()
	s.LastX, s.LastY = coord(xOf(len(values)-1)), coord(yOf(values[len(values)-1]))
	if len(values) > 1 {
		bottom := coord(sparkH - sparkPad).String()
		s.Area = s.Points + " " + coord(xOf(len(values)-1)).String() + "," + bottom + " " + coord(xOf(0)).String() + "," + bottom
	}
	return s
}

// scoreSparkline draws an account's score history on the 0–100 scale.
func scoreSparkline(points []store.ScorePoint) *sparkline {
	if len(points) == 0 {
		return nil
	}
	values := make([]float64, len(points))
	for i, p := range points {
		values[i] = p.Score
	}
	label := fmt.Sprintf("Score over the last %s, from %s to %s", plural(len(points), "run"),
		formatScore(values[0]), formatScore(values[len(values)-1]))
	if len(points) == 1 {
		label = "One scoring run: " + formatScore(values[0])
	}
	return newSparkline(values, 0, 100, label)
}

// meter is a share, 0–100, drawn as a thin bar.
type meter struct {
	W   coord // width in a viewBox 100 wide
	Key string
}

func meterOf(pct float64, key string) meter {
	return meter{W: coord(min(max(pct, 0), 100)), Key: key}
}
