package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// A view of the overview or the events page can be narrowed to one source
// and to a time window, both kept in the URL (?source=web&window=7d) so
// that a view can be shared.

// windowChoice is a time window the pages offer.
type windowChoice struct {
	Key   string // the query value: 24h, 7d or 30d
	Label string
	Span  time.Duration
}

// windowChoices are the windows offered besides the configured default.
var windowChoices = []windowChoice{
	{Key: "24h", Label: "Last 24 hours", Span: 24 * time.Hour},
	{Key: "7d", Label: "Last 7 days", Span: 7 * 24 * time.Hour},
	{Key: "30d", Label: "Last 30 days", Span: 30 * 24 * time.Hour},
}

// viewFilter is the source and window a page is narrowed to.
type viewFilter struct {
	// Source is the source shown, "" for all.
	Source string
	// Window is the window shown; def is the default one.
	Window, def windowChoice
	// choices are the windows offered, the default among them.
	choices []windowChoice
	sources []string
}

// windows returns the windows offered: the choices, and the default of
// days days when it is none of them.
func windows(days int) (choices []windowChoice, def windowChoice) {
	def = windowChoice{Key: strconv.Itoa(days) + "d", Label: fmt.Sprintf("Last %d days", days), Span: time.Duration(days) * 24 * time.Hour}
	choices = slices.Clone(windowChoices)
	if i := slices.IndexFunc(choices, func(c windowChoice) bool { return c.Span == def.Span }); i >= 0 {
		return choices, choices[i]
	}
	choices = append(choices, def)
	slices.SortFunc(choices, func(a, b windowChoice) int { return cmp.Compare(a.Span, b.Span) })
	return choices, def
}

// parseFilter reads ?source= and ?window=; days is the default window,
// and other is false when the dashboard can judge no other window. A value
// that is not offered is a bad request; the source is checked against the
// observed ones by checkSource.
func parseFilter(q url.Values, days int, other bool) (viewFilter, error) {
	choices, def := windows(days)
	if !other {
		choices = []windowChoice{def}
	}
	f := viewFilter{Window: def, def: def, choices: choices}
	if vs := q["window"]; len(vs) > 0 {
		if len(vs) > 1 {
			return f, badRequestf("window is given %d times; give it once", len(vs))
		}
		i := slices.IndexFunc(choices, func(c windowChoice) bool { return c.Key == vs[0] })
		if i < 0 {
			return f, badRequestf("unknown window %q (want %s)", truncate(vs[0], 40), keysOf(choices))
		}
		f.Window = choices[i]
	}
	if vs := q["source"]; len(vs) > 0 {
		if len(vs) > 1 {
			return f, badRequestf("source is given %d times; give it once", len(vs))
		}
		if vs[0] == "" {
			return f, badRequestf("source is empty; leave it out to see every source")
		}
		f.Source = vs[0]
	}
	return f, nil
}

func keysOf(cs []windowChoice) string {
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = c.Key
	}
	if len(keys) == 1 {
		return keys[0]
	}
	return strings.Join(keys[:len(keys)-1], ", ") + " or " + keys[len(keys)-1]
}

// checkSource checks the source is one of the observed ones, which it
// keeps for the form.
func (f *viewFilter) checkSource(obs *store.Observed) error {
	seen := map[string]bool{}
	for _, e := range obs.Events {
		if e.Source != "" && !seen[e.Source] {
			seen[e.Source] = true
			f.sources = append(f.sources, e.Source)
		}
	}
	slices.Sort(f.sources)
	if f.Source != "" && !seen[f.Source] {
		return badRequestf("unknown source %q: no message of it was observed", truncate(f.Source, 80))
	}
	return nil
}

// query returns the filter's query parameters, name-value pairs, with
// empty values where the default applies.
func (f viewFilter) query() []string {
	w := ""
	if f.Window.Key != f.def.Key {
		w = f.Window.Key
	}
	return []string{"source", f.Source, "window", w}
}

// link is sel.link keeping the filter.
func (f viewFilter) link(sel selection, p string, kv ...string) string {
	return sel.link(p, append(slices.Clone(kv), f.query()...)...)
}

// hidden returns the filter as hidden form fields.
func (f viewFilter) hidden() []hidden {
	var out []hidden
	q := f.query()
	for i := 0; i < len(q); i += 2 {
		if q[i+1] != "" {
			out = append(out, hidden{Name: q[i], Value: q[i+1]})
		}
	}
	return out
}

// isDefault reports whether the filter shows every source over the
// default window.
func (f viewFilter) isDefault() bool { return f.Source == "" && f.Window.Key == f.def.Key }

// filterForm is the form that changes a page's filter.
type filterForm struct {
	Action  string
	Keep    []hidden // other query parameters to keep (profile, status)
	Sources []option
	Windows []option
	// Note says what a source filter leaves out, "" without one.
	Note string
}

// form builds the filter form of a page at action.
func (f viewFilter) form(sel selection, action string, keep ...hidden) *filterForm {
	ff := &filterForm{Action: action}
	if p := sel.chosen(); p != "" {
		ff.Keep = append(ff.Keep, hidden{Name: "profile", Value: p})
	}
	ff.Keep = append(ff.Keep, keep...)
	ff.Sources = append(ff.Sources, option{Value: "", Label: "All sources", Selected: f.Source == ""})
	for _, s := range f.sources {
		ff.Sources = append(ff.Sources, option{Value: s, Label: s, Selected: s == f.Source})
	}
	for _, c := range f.choices {
		v := c.Key
		if c.Key == f.def.Key {
			v = "" // the default is the URL without a window
		}
		ff.Windows = append(ff.Windows, option{Value: v, Label: c.Label, Selected: c.Key == f.Window.Key})
	}
	if f.Source != "" {
		ff.Note = "Showing the events and findings of source " + f.Source + " only; findings of the plan itself (naming, events not seen) are left out, and the figures at the top count every source."
	}
	return ff
}

// view is a page's health narrowed by a filter, with the drift it was
// judged by.
type view struct {
	filter viewFilter
	health *health
	// drift is the window's drift, nil without a DriftSource.
	drift *Drift
}

// loadView reads the request's filter and the page's health under it.
func (h *Handler) loadView(ctx context.Context, r *http.Request, withProps bool) (*view, error) {
	f, err := parseFilter(r.URL.Query(), h.window, h.drift != nil)
	if err != nil {
		return nil, err
	}
	obs, err := h.data.Observed(ctx)
	if err != nil {
		return nil, fmt.Errorf("load observed events: %w", err)
	}
	if obs == nil {
		obs = &store.Observed{}
	}
	if err := f.checkSource(obs); err != nil {
		return nil, err
	}
	now := h.now()
	v := &view{filter: f}
	var findings []trackplan.Finding
	if h.drift != nil {
		if v.drift, err = h.drift.DriftOver(ctx, now.Add(-f.Window.Span), now); err != nil {
			return nil, fmt.Errorf("load drift: %w", err)
		}
		findings = v.drift.Findings
	} else if findings, err = h.data.Findings(ctx); err != nil {
		return nil, fmt.Errorf("load findings: %w", err)
	}
	if f.Source != "" {
		narrowed := *obs
		narrowed.Events = nil
		for _, e := range obs.Events {
			if e.Source == f.Source {
				narrowed.Events = append(narrowed.Events, e)
			}
		}
		obs = &narrowed
		var kept []trackplan.Finding
		for _, fd := range findings {
			if fd.Source == f.Source {
				kept = append(kept, fd)
			}
		}
		findings = kept
	}
	v.health = classify(h.data.Plan(), obs, findings, now, now.Add(-f.Window.Span), withProps)
	if !f.isDefault() {
		// Rows link to their cards on the events page of the same view.
		for i, row := range v.health.rows {
			row.Href = f.eventsHref(i/EventsPageSize+1, row.Anchor)
		}
		for name, href := range v.health.anchors {
			if path, anchor, ok := strings.Cut(href, "#"); ok {
				page := 1
				if u, err := url.Parse(path); err == nil {
					page, _ = strconv.Atoi(u.Query().Get("page"))
				}
				v.health.anchors[name] = f.eventsHref(max(page, 1), anchor)
			}
		}
	}
	return v, nil
}

// eventsHref is eventsHref keeping the filter.
func (f viewFilter) eventsHref(page int, anchor string) string {
	q := url.Values{}
	kv := f.query()
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	href := "/events"
	if len(q) > 0 {
		href += "?" + q.Encode()
	}
	return href + "#" + anchor
}

// windowText names the filter's window in a sentence: "the last 7 days".
func (f viewFilter) windowText() string {
	return "the " + strings.ToLower(f.Window.Label[:1]) + f.Window.Label[1:]
}
