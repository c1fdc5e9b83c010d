package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// Accounts list and account page limits.
const (
	// PageSize is the number of accounts per page of the accounts list.
	PageSize = 50
	// sparkPoints is the number of runs a list sparkline shows.
	sparkPoints = 30
	// historyPoints is the number of runs the account page's chart shows.
	historyPoints = 90
	// maxUsers is the number of users the account page lists.
	maxUsers = 500
	// maxTraitLen is where a trait value is cut.
	maxTraitLen = 200
)

func accountHref(sel selection, id string) string {
	return sel.link("/accounts/" + url.PathEscape(id))
}

// accountSort is a sortable column of the accounts list.
type accountSort struct {
	key     string
	label   string
	numeric bool // a number: descending first
	cmp     func(x, y *trackplan.AccountScore) int
}

func lastActiveUnix(a *trackplan.AccountScore) int64 {
	if a.LastActive == nil {
		return math.MinInt64
	}
	return a.LastActive.Unix()
}

func accountSorts() []accountSort {
	return []accountSort{
		{"name", "Account", false, func(x, y *trackplan.AccountScore) int {
			return cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
		}},
		{"score", "Score", true, func(x, y *trackplan.AccountScore) int { return cmp.Compare(x.AverageScore, y.AverageScore) }},
		{"trend", "Trend", true, func(x, y *trackplan.AccountScore) int { return cmp.Compare(x.Trend.Change, y.Trend.Change) }},
		{"users", "Active / total users", true, func(x, y *trackplan.AccountScore) int {
			return cmp.Or(cmp.Compare(x.ActiveUsers, y.ActiveUsers), cmp.Compare(x.TotalUsers, y.TotalUsers))
		}},
		{"frequency", "Frequency", true, func(x, y *trackplan.AccountScore) int { return cmp.Compare(x.Frequency, y.Frequency) }},
		{"last_active", "Last active", true, func(x, y *trackplan.AccountScore) int {
			return cmp.Compare(lastActiveUnix(x), lastActiveUnix(y))
		}},
	}
}

// accountsPage is the content of the accounts list.
type accountsPage struct {
	Run        *runInfo
	Band       string
	BandLabel  string
	Bands      []option
	Columns    map[string]column
	Rows       []accountRow
	Total      string
	From, To   int
	Page       int
	Pages      int
	Prev, Next string
	PageLinks  []pageLink
	Keep       []hidden // the filter form's hidden fields
	WindowDays int
}

// runInfo summarises the run a page shows.
type runInfo struct {
	Profile    string
	At         timeView
	WindowDays int
}

// column is a sortable header: its link and its aria-sort state.
type column struct {
	Label    string
	Href     string
	AriaSort string // ascending, descending or none
	Arrow    string
}

// pageLink is one link of the pagination.
type pageLink struct {
	N       int
	Href    string
	Current bool
	Gap     bool // an ellipsis instead of a link
}

// accountRow is one account in the list.
type accountRow struct {
	Rank        int
	ID          string
	Name        string
	Href        string
	Score       string
	Band        bandView
	Trend       trendView
	ActiveUsers int
	TotalUsers  int
	Frequency   int
	LastActive  timeView
	Spark       *sparkline
}

func (h *Handler) accounts(w http.ResponseWriter, r *http.Request) error {
	sel, err := h.selectProfile(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	band := q.Get("band")
	if band != "" && !slices.Contains(bands(), trackplan.Band(band)) {
		return badRequestf("unknown band %q (want most_engaged, engaged, passive, least_engaged or inactive)", band)
	}
	sorts := accountSorts()
	sortKey := q.Get("sort")
	if sortKey == "" {
		sortKey = "score"
	}
	i := slices.IndexFunc(sorts, func(s accountSort) bool { return s.key == sortKey })
	if i < 0 {
		return badRequestf("unknown sort %q (want name, score, trend, users, frequency or last_active)", sortKey)
	}
	by := sorts[i]
	desc := by.numeric
	switch dir := q.Get("dir"); dir {
	case "":
	case "asc":
		desc = false
	case "desc":
		desc = true
	default:
		return badRequestf("unknown sort direction %q (want asc or desc)", dir)
	}
	pageNo := 1
	if v := q.Get("page"); v != "" {
		pageNo, err = strconv.Atoi(v)
		if err != nil || pageNo < 1 {
			return badRequestf("page %q is not a page number", v)
		}
	}

	run, err := h.latestRun(r.Context(), sel)
	if err != nil {
		return err
	}
	page := accountsPage{Band: band, Page: pageNo, Columns: map[string]column{}}
	if band != "" {
		page.BandLabel = trackplan.Band(band).Label()
	}
	page.Bands = append(page.Bands, option{Value: "", Label: "All bands", Selected: band == ""})
	for _, b := range bands() {
		page.Bands = append(page.Bands, option{Value: string(b), Label: b.Label(), Selected: string(b) == band})
	}
	if p := q.Get("profile"); p != "" {
		page.Keep = append(page.Keep, hidden{Name: "profile", Value: p})
	}
	dirOf := func(d bool) string {
		if d {
			return "desc"
		}
		return "asc"
	}
	for _, s := range sorts {
		c := column{Label: s.label, AriaSort: "none"}
		next := s.numeric
		if s.key == by.key {
			next = !desc
			c.AriaSort = dirOf(desc) + "ending"
			c.Arrow = map[bool]string{true: "▼", false: "▲"}[desc]
		}
		sortParam := s.key
		if s.key == "score" {
			sortParam = ""
		}
		dirParam := dirOf(next)
		if next == s.numeric {
			dirParam = ""
		}
		c.Href = sel.link("/accounts", "band", band, "sort", sortParam, "dir", dirParam)
		page.Columns[s.key] = c
	}
	// The band filter keeps the profile and the sort; the profile switcher
	// keeps the band and the sort.
	var keep []hidden
	if band != "" {
		keep = append(keep, hidden{Name: "band", Value: band})
	}
	var sortKeep []hidden
	if sortKey != "score" {
		sortKeep = append(sortKeep, hidden{Name: "sort", Value: sortKey})
	}
	if v := q.Get("dir"); v != "" {
		sortKeep = append(sortKeep, hidden{Name: "dir", Value: v})
	}
	page.Keep = append(page.Keep, sortKeep...)
	keep = append(keep, sortKeep...)
	l := sel.layoutFor("Accounts", "accounts", "/accounts", keep...)
	l.Content = &page
	if run == nil {
		return h.render(w, http.StatusOK, "accounts", l)
	}
	page.Run = &runInfo{Profile: run.Profile, At: timeOf(run.At, h.now()), WindowDays: run.WindowDays}
	page.WindowDays = run.WindowDays

	list := make([]*trackplan.AccountScore, 0, len(run.Accounts))
	for i := range run.Accounts {
		if a := &run.Accounts[i]; band == "" || string(a.Band) == band {
			list = append(list, a)
		}
	}
	score := sorts[slices.IndexFunc(sorts, func(s accountSort) bool { return s.key == "score" })].cmp
	slices.SortFunc(list, func(x, y *trackplan.AccountScore) int {
		c := by.cmp(x, y)
		if desc {
			c = -c
		}
		return cmp.Or(c, -score(x, y), cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID))
	})

	page.Total = formatInt(int64(len(list)))
	page.Pages = max(1, (len(list)+PageSize-1)/PageSize)
	if pageNo > page.Pages {
		return fmt.Errorf("page %d of %d: %w", pageNo, page.Pages, trackplan.ErrNotFound)
	}
	start := (pageNo - 1) * PageSize
	end := min(start+PageSize, len(list))
	if start < end {
		page.From, page.To = start+1, end
	}
	pageHref := func(n int) string {
		p := ""
		if n > 1 {
			p = strconv.Itoa(n)
		}
		sortParam := sortKey
		if sortKey == "score" {
			sortParam = ""
		}
		return sel.link("/accounts", "band", band, "sort", sortParam, "dir", q.Get("dir"), "page", p)
	}
	if pageNo > 1 {
		page.Prev = pageHref(pageNo - 1)
	}
	if pageNo < page.Pages {
		page.Next = pageHref(pageNo + 1)
	}
	page.PageLinks = pageLinks(pageNo, page.Pages, pageHref)

	now := h.now()
	for i, a := range list[start:end] {
		hist, err := h.data.AccountHistory(r.Context(), sel.name(), a.ID, sparkPoints)
		if err != nil {
			return fmt.Errorf("load score history of account %s: %w", a.ID, err)
		}
		page.Rows = append(page.Rows, accountRow{
			Rank: start + i + 1, ID: a.ID, Name: a.Name, Href: accountHref(sel, a.ID),
			Score: formatScore(a.AverageScore), Band: bandOf(a.Band), Trend: trendOf(a.Trend),
			ActiveUsers: a.ActiveUsers, TotalUsers: a.TotalUsers, Frequency: a.Frequency,
			LastActive: timeOfPtr(a.LastActive, now), Spark: scoreSparkline(hist),
		})
	}
	return h.render(w, http.StatusOK, "accounts", l)
}

// pageLinks lists the first, last and nearby pages, with gaps between; a
// gap that would hide a single page shows that page instead.
func pageLinks(current, pages int, href func(int) string) []pageLink {
	if pages <= 1 {
		return nil
	}
	var out []pageLink
	last := 0
	for n := 1; n <= pages; n++ {
		if n != 1 && n != pages && (n < current-2 || n > current+2) {
			continue
		}
		switch {
		case last != 0 && n == last+2:
			out = append(out, pageLink{N: last + 1, Href: href(last + 1)})
		case last != 0 && n > last+2:
			out = append(out, pageLink{Gap: true})
		}
		out = append(out, pageLink{N: n, Href: href(n), Current: n == current})
		last = n
	}
	return out
}

// accountPage is the content of an account's page.
type accountPage struct {
	Run            runInfo
	ID             string
	Name           string
	Score          string
	Band           bandView
	Trend          trendView
	Stats          []stat
	Flags          []string
	History        lineChart
	Users          []userRow
	UsersTotal     int
	UsersShown     int
	Adoption       adoption
	Traits         []trait
	TraitsKnown    bool // a trait source is configured
	TraitsError    bool
	AccountsHref   string
	LastActiveUser string
	// LastActiveHref links to the most recently active user's page.
	LastActiveHref string
}

// userRow is one user of the account.
type userRow struct {
	ID         string
	Href       string // the user's page
	Score      int
	Band       bandView
	Trend      trendView
	Frequency  int
	LastActive timeView
	Adoption   string
	AdoptSort  string
	Flags      string
}

// adoption is the account page's adoption section.
type adoption struct {
	Scored     int
	Window     string // share done in the time frame, "40%"
	AllTime    string
	DoneWindow int // scored events done in the time frame
	DoneEver   int
	// Events lists the scored events; Known tells whether each one's use
	// is known (an activity source is configured).
	Events []eventUse
	Known  bool
	Error  bool
}

// eventUse is one scored event and whether the account did it.
type eventUse struct {
	Name     string
	Weight   int
	Window   string
	Total    string
	DoneNow  bool
	DoneEver bool
	LastSeen timeView
}

// trait is one account trait.
type trait struct {
	Name, Value string
}

// timeOfPtr is timeOf for an optional time.
func timeOfPtr(t *time.Time, now time.Time) timeView {
	if t == nil {
		return timeView{}
	}
	return timeOf(*t, now)
}

func (h *Handler) account(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sel, err := h.selectProfile(r)
	if err != nil {
		return err
	}
	run, err := h.latestRun(r.Context(), sel)
	if err != nil {
		return err
	}
	if run == nil {
		return fmt.Errorf("account %q: no scoring run yet: %w", id, trackplan.ErrNotFound)
	}
	var a *trackplan.AccountScore
	for i := range run.Accounts {
		if run.Accounts[i].ID == id {
			a = &run.Accounts[i]
			break
		}
	}
	if a == nil {
		return fmt.Errorf("account %q in the scores of profile %s: %w", id, run.Profile, trackplan.ErrNotFound)
	}
	now := h.now()
	page := accountPage{
		Run: runInfo{Profile: run.Profile, At: timeOf(run.At, now), WindowDays: run.WindowDays},
		ID:  a.ID, Name: a.Name, Score: formatScore(a.AverageScore), Band: bandOf(a.Band), Trend: trendOf(a.Trend),
		Flags: a.Flags.Names(), AccountsHref: sel.link("/accounts"), LastActiveUser: a.LastActiveUser,
	}
	if a.LastActiveUser != "" {
		page.LastActiveHref = userHref(sel, a.LastActiveUser)
	}
	activation := "—"
	if a.Activation != nil {
		activation = formatPct(*a.Activation)
	}
	lastActive := "never"
	if a.LastActive != nil {
		lastActive = timeOf(*a.LastActive, now).Text
	}
	page.Stats = []stat{
		{Label: "Total score", Value: formatInt(a.TotalScore)},
		{Label: "Active users", Value: fmt.Sprintf("%d of %d", a.ActiveUsers, a.TotalUsers)},
		{Label: "Active share", Value: formatPct(a.ActivePct)},
		{Label: "Frequency", Value: fmt.Sprintf("%d of %s", a.Frequency, plural(run.WindowDays, "day"))},
		{Label: "Last active", Value: lastActive},
		{Label: "Activation", Value: activation},
	}

	hist, err := h.data.AccountHistory(r.Context(), run.Profile, a.ID, historyPoints)
	if err != nil {
		return fmt.Errorf("load score history of account %s: %w", a.ID, err)
	}
	page.History = newHistoryChart(hist, a.Name)

	var users []*trackplan.UserScore
	for i := range run.Users {
		if u := &run.Users[i]; slices.Contains(u.Accounts, a.ID) {
			users = append(users, u)
		}
	}
	slices.SortFunc(users, func(x, y *trackplan.UserScore) int {
		return cmp.Or(cmp.Compare(y.Score, x.Score), cmp.Compare(x.ID, y.ID))
	})
	page.UsersTotal = len(users)
	for _, u := range users[:min(len(users), maxUsers)] {
		page.Users = append(page.Users, userRow{
			ID: u.ID, Href: userHref(sel, u.ID), Score: u.Score, Band: bandOf(u.Band), Trend: trendOf(u.Trend), Frequency: u.Frequency,
			LastActive: timeOfPtr(u.LastActive, now), Adoption: formatPct(u.Adoption.Window),
			AdoptSort: formatScore(u.Adoption.Window), Flags: strings.Join(u.Flags.Names(), ", "),
		})
	}
	page.UsersShown = len(page.Users)

	page.Adoption = h.adoptionOf(r, sel.profile, run, a)
	page.Traits, page.TraitsKnown, page.TraitsError = h.traitsOf(r, a.ID)

	l := sel.layoutFor(a.Name, "accounts", "/accounts/"+url.PathEscape(a.ID))
	l.Content = page
	return h.render(w, http.StatusOK, "account", l)
}

// adoptionOf lists the profile's scored events and, when an activity
// source is configured, which ones the account's users did. Without one,
// only the counts derived from the snapshot's adoption shares are known.
func (h *Handler) adoptionOf(r *http.Request, p *trackplan.Profile, run *trackplan.ScoreRun, a *trackplan.AccountScore) adoption {
	ad := adoption{Window: formatPct(a.Adoption.Window), AllTime: formatPct(a.Adoption.AllTime)}
	// The shares come from the run; with an activity source the counts
	// come from it too, so the sentence matches the table below it.
	if p == nil {
		return ad
	}
	names := p.ScoredEvents()
	ad.Scored = len(names)
	ad.DoneWindow = int(math.Round(a.Adoption.Window * float64(len(names)) / 100))
	ad.DoneEver = int(math.Round(a.Adoption.AllTime * float64(len(names)) / 100))
	uses := map[string]EventUse{}
	if h.activity != nil && len(names) > 0 {
		from, to := trackplan.ScoreWindow(run.At, run.WindowDays)
		list, err := h.activity.AccountActivity(r.Context(), a.ID, names, from, to)
		if err != nil {
			h.log.Warn("load account activity", "account", a.ID, "err", err)
			ad.Error = true
		} else {
			ad.Known = true
			for _, u := range list {
				uses[u.Event] = u
			}
		}
	}
	if ad.Known {
		ad.DoneWindow, ad.DoneEver = 0, 0
		for _, name := range names {
			if u := uses[name]; u.Window > 0 {
				ad.DoneWindow++
			}
			if u := uses[name]; u.Total > 0 || u.Window > 0 {
				ad.DoneEver++
			}
		}
	}
	now := h.now()
	for _, name := range names {
		u := uses[name]
		ad.Events = append(ad.Events, eventUse{
			Name: name, Weight: p.Events[name], Window: formatInt(u.Window), Total: formatInt(u.Total),
			DoneNow: u.Window > 0, DoneEver: u.Total > 0, LastSeen: timeOf(u.LastSeen, now),
		})
	}
	slices.SortStableFunc(ad.Events, func(x, y eventUse) int { return cmp.Compare(y.Weight, x.Weight) })
	return ad
}

// traitsOf returns the account's traits sorted by name; known reports
// whether a trait source is configured and failed whether it failed.
func (h *Handler) traitsOf(r *http.Request, id string) (traits []trait, known, failed bool) {
	if h.traits == nil {
		return nil, false, false
	}
	m, err := h.traits.AccountTraits(r.Context(), id)
	if errors.Is(err, trackplan.ErrNotFound) {
		return nil, true, false
	}
	if err != nil {
		h.log.Warn("load account traits", "account", id, "err", err)
		return nil, true, true
	}
	for name, raw := range m {
		traits = append(traits, trait{Name: name, Value: traitText(raw)})
	}
	slices.SortFunc(traits, func(x, y trait) int { return cmp.Compare(x.Name, y.Name) })
	return traits, true, false
}

// traitText shows a trait value: a JSON string without its quotes, any
// other value as JSON, cut to maxTraitLen characters.
func traitText(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return truncate(s, maxTraitLen)
	}
	return truncate(string(raw), maxTraitLen)
}
