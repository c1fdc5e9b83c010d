package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// Overview limits.
const (
	topFindings  = 10
	topUnplanned = 10
	topMovers    = 5
	recentAlerts = 5
)

// AlertSource lists the alerts sent. It is optional: when Options.Data
// implements it, the overview shows the latest alerts.
type AlertSource interface {
	// AlertRecords returns the alerts matching q, newest first.
	AlertRecords(ctx context.Context, q store.AlertQuery) ([]store.AlertRecord, error)
}

// alertRow is one alert on the overview.
type alertRow struct {
	At       timeView
	Rule     string
	Severity string
	Title    string
	Href     string
	Status   string
}

// overviewPage is the content of the overview.
type overviewPage struct {
	Stats []stat
	// IdentityConflicts tells how many ids were linked to more than one
	// user, "" when none was.
	IdentityConflicts string
	// Plan health.
	Planned        int
	HealthBar      stackedBar
	Legend         []statusChip
	WindowDays     int
	Findings       []findingRow
	FindingsTotal  int
	Severities     []stat
	Unplanned      []*eventRow
	UnplannedTotal int
	EventsHref     string
	UnplannedHref  string
	// Engagement, nil when the profile has no run (or there is no profile).
	Engagement *engagement
	Profile    string
	// Alerts are the latest alerts, none when there is no alert source
	// or no alert.
	Alerts []alertRow
	// Forwarding shows the sources that forward to Segment, nil when
	// none does.
	Forwarding *forwarding
	// Filters is the source and window form; Window names the window
	// ("the last 7 days"); Chart, when there is a drift source, draws the
	// window's errors and warnings over time.
	Filters *filterForm
	Window  string
	Chart   *timelineChart
}

// stat is a labelled figure.
type stat struct {
	Label, Value, Key string
}

// engagement is the overview's engagement section.
type engagement struct {
	Profile      string
	At           timeView
	WindowDays   int
	P90          string
	ActiveUsers  string
	Users        string
	Accounts     string
	Histogram    histogram
	Bands        []bandCount
	Risers       movers
	Fallers      movers
	AccountsHref string
	// Window says which days the run scored and where today is ("7 whole
	// days, 26 Nov – 2 Dec 2026 (UTC); today counts from tomorrow").
	Window string
}

// bandCount is how many accounts are in one band.
type bandCount struct {
	Band  bandView
	N     string
	Pct   string
	Meter meter
	Href  string
}

// movers is a table of accounts with large score changes.
type movers struct {
	Caption string
	Rows    []mover
}

// mover is an account with a large score change.
type mover struct {
	Name  string
	Href  string
	Score string
	Band  bandView
	Trend trendView
}

func (h *Handler) overview(w http.ResponseWriter, r *http.Request) error {
	sel, err := h.selectProfile(r)
	if err != nil {
		return err
	}
	v, err := h.loadView(r.Context(), r, false)
	if err != nil {
		return err
	}
	hl, vf := v.health, v.filter
	run, err := h.latestRun(r.Context(), sel)
	if err != nil {
		return err
	}
	page := overviewPage{Profile: sel.name(), WindowDays: h.window, EventsHref: vf.link(sel, "/events"),
		UnplannedHref: vf.link(sel, "/events", "status", statusUnplanned.Key())}
	page.Filters, page.Window = vf.form(sel, "/"), vf.windowText()
	if page.Chart, err = h.overallChart(r.Context(), v); err != nil {
		return err
	}

	page.Stats = []stat{
		{Label: "Messages", Value: formatInt(hl.totals.Messages)},
		{Label: "Users", Value: formatInt(hl.totals.Users)},
		{Label: "Accounts", Value: formatInt(hl.totals.Accounts)},
		{Label: "Rejected", Value: formatInt(hl.totals.Rejected)},
	}
	switch n := hl.totals.IdentityConflicts; {
	case n == 1:
		page.IdentityConflicts = "1 identity conflict (an anonymous id seen with more than one user): it counts toward the first user it was seen with only."
	case n > 1:
		page.IdentityConflicts = formatInt(n) + " identity conflicts (anonymous ids seen with more than one user): each counts toward the first user it was seen with only."
	}

	var parts []part
	for s := range numStatuses {
		n := hl.byStatus[s]
		if s != statusUnplanned {
			page.Planned += n
		}
		parts = append(parts, part{Key: s.Key(), Label: s.Label(), N: n})
		page.Legend = append(page.Legend, statusChip{Key: s.Key(), Label: s.Label(), N: n,
			Href: vf.link(sel, "/events", "status", s.Key())})
	}
	page.HealthBar = newStackedBar(fmt.Sprintf("%s: %d live, %d with violations, %d deprecated but seen, %d not seen; and %s",
		countOf(page.Planned, "planned event"), hl.byStatus[statusLive], hl.byStatus[statusViolations], hl.byStatus[statusDeprecatedSeen],
		hl.byStatus[statusNotSeen], countOf(hl.byStatus[statusUnplanned], "unplanned event")), parts)

	page.FindingsTotal = len(hl.findings)
	var sev [3]int
	for _, f := range hl.findings {
		sev[f.Severity.Rank()]++
	}
	page.Severities = []stat{
		{Label: "errors", Value: formatInt(int64(sev[0])), Key: "error"},
		{Label: "warnings", Value: formatInt(int64(sev[1])), Key: "warning"},
		{Label: "info", Value: formatInt(int64(sev[2])), Key: "info"},
	}
	// Findings that count no message (a planned event not seen, naming,
	// documentation) stay on the events page: the top list is of drift in
	// the traffic.
	counted := make([]trackplan.Finding, 0, len(hl.findings))
	for _, f := range hl.findings {
		if f.Count > 0 {
			counted = append(counted, f)
		}
	}
	page.Findings = findingRows(counted, hl.anchors, h.now())
	if len(page.Findings) > topFindings {
		page.Findings = page.Findings[:topFindings]
	}

	for _, row := range hl.rows {
		if row.Status == statusUnplanned {
			page.UnplannedTotal++
			if len(page.Unplanned) < topUnplanned {
				page.Unplanned = append(page.Unplanned, row)
			}
		}
	}

	if run != nil {
		page.Engagement = engagementOf(run, sel, h)
	}
	if src, ok := h.data.(AlertSource); ok {
		recs, err := src.AlertRecords(r.Context(), store.AlertQuery{Limit: recentAlerts})
		if err != nil {
			return fmt.Errorf("load alerts: %w", err)
		}
		for _, a := range recs {
			page.Alerts = append(page.Alerts, alertRow{At: timeOf(a.At, h.now()), Rule: a.Rule, Severity: a.Severity,
				Title: a.Title, Href: a.Link, Status: a.Status})
		}
	}
	if page.Forwarding, err = h.forwardRows(r.Context()); err != nil {
		return fmt.Errorf("load forwarding: %w", err)
	}
	l := sel.layoutFor("Overview", "overview", "/", vf.hidden()...)
	l.Nav.Overview, l.Nav.Events = vf.link(sel, "/"), vf.link(sel, "/events")
	l.Content = page
	return h.render(w, http.StatusOK, "overview", l)
}

func engagementOf(run *trackplan.ScoreRun, sel selection, h *Handler) *engagement {
	now := h.now()
	e := &engagement{
		Profile: run.Profile, At: timeOf(run.At, now), WindowDays: run.WindowDays, Window: run.WindowText(now),
		P90: formatScore(run.P90), ActiveUsers: formatInt(int64(run.ActiveUsers)),
		Users: formatInt(int64(len(run.Users))), Accounts: formatInt(int64(len(run.Accounts))),
		AccountsHref: sel.link("/accounts"),
	}
	scores := make([]float64, 0, run.ActiveUsers)
	for i := range run.Users {
		if u := &run.Users[i]; u.Active {
			scores = append(scores, float64(u.Score))
		}
	}
	e.Histogram = newScoreHistogram(scores, "active user")

	counts := map[trackplan.Band]int{}
	for i := range run.Accounts {
		counts[run.Accounts[i].Band]++
	}
	for _, b := range bands() {
		n := counts[b]
		pct := 0.0
		if len(run.Accounts) > 0 {
			pct = float64(n) / float64(len(run.Accounts)) * 100
		}
		e.Bands = append(e.Bands, bandCount{Band: bandOf(b), N: formatInt(int64(n)), Pct: formatPct(pct),
			Meter: meterOf(pct, bandKey(b)), Href: sel.link("/accounts", "band", string(b))})
	}

	var up, down []*trackplan.AccountScore
	for i := range run.Accounts {
		a := &run.Accounts[i]
		switch {
		case a.Trend.Change > 0:
			up = append(up, a)
		case a.Trend.Change < 0:
			down = append(down, a)
		}
	}
	byChange := func(dir float64) func(x, y *trackplan.AccountScore) int {
		return func(x, y *trackplan.AccountScore) int {
			return cmp.Or(cmp.Compare(dir*y.Trend.Change, dir*x.Trend.Change), cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
		}
	}
	e.Risers = movers{Caption: "Accounts whose average score rose the most since one time frame earlier",
		Rows: moverRows(topK(up, topMovers, byChange(1)), sel)}
	e.Fallers = movers{Caption: "Accounts whose average score fell the most since one time frame earlier",
		Rows: moverRows(topK(down, topMovers, byChange(-1)), sel)}
	return e
}

// topK returns the k first elements of s in the order of less, without
// sorting all of s.
func topK[T any](s []T, k int, less func(x, y T) int) []T {
	if len(s) <= k {
		out := slices.Clone(s)
		slices.SortFunc(out, less)
		return out
	}
	out := make([]T, 0, k+1)
	for _, v := range s {
		if len(out) == k && less(v, out[k-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(out, v, less)
		out = slices.Insert(out, i, v)
		if len(out) > k {
			out = out[:k]
		}
	}
	return out
}

func moverRows(accounts []*trackplan.AccountScore, sel selection) []mover {
	out := make([]mover, 0, len(accounts))
	for _, a := range accounts {
		out = append(out, mover{Name: a.Name, Href: accountHref(sel, a.ID), Score: formatScore(a.AverageScore),
			Band: bandOf(a.Band), Trend: trendOf(a.Trend)})
	}
	return out
}
