package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// SearchSource finds accounts and users for the search page. It is
// optional: without it the search finds events and property paths only.
// When nil, it is Data if Data implements it.
type SearchSource interface {
	// SearchAccounts returns the accounts whose id or display name
	// contains text, case-insensitively, ordered by id, at most limit;
	// Label is the display name.
	SearchAccounts(ctx context.Context, text string, limit int) ([]store.Match, error)
	// SearchUsers returns the users whose id or email contains text,
	// case-insensitively, ordered by id, at most limit; Label is the
	// email.
	SearchUsers(ctx context.Context, text string, limit int) ([]store.Match, error)
}

// Search bounds.
const (
	// SearchLimit is how many results of each kind the search page lists.
	SearchLimit = 20
	// maxQueryChars bounds the search text.
	maxQueryChars = 200
)

// searchPage is the content of the search page.
type searchPage struct {
	Query string
	// Searched is false when no text was given.
	Searched bool
	Kinds    []searchKind
	// Total counts the results listed.
	Total int
	// Partial names the kinds the dashboard cannot search ("accounts and
	// users"), "" when it searches them all.
	Partial string
}

// searchKind is the results of one kind.
type searchKind struct {
	ID      string // the section's id: events, properties, accounts, users
	Heading string
	Results []searchResult
	// More is set when there were more results than listed.
	More bool
}

// searchResult is one result: a link with a detail.
type searchResult struct {
	Text, Href, Detail string
}

func (h *Handler) serveSearch(w http.ResponseWriter, r *http.Request) error {
	sel, err := h.selectProfile(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if vs := q["q"]; len(vs) > 1 {
		return badRequestf("q is given %d times; give it once", len(vs))
	}
	text := strings.TrimSpace(q.Get("q"))
	if !utf8.ValidString(text) {
		return badRequestf("the search text is not valid UTF-8")
	}
	if n := utf8.RuneCountInString(text); n > maxQueryChars {
		return badRequestf("the search text has %d characters; at most %d are searched", n, maxQueryChars)
	}
	page := searchPage{Query: text, Searched: text != ""}
	if page.Searched {
		if page.Kinds, err = h.find(r.Context(), sel, text); err != nil {
			return err
		}
		for _, k := range page.Kinds {
			page.Total += len(k.Results)
		}
		if h.search == nil {
			page.Partial = "accounts and users"
		}
	}
	title := "Search"
	if text != "" {
		title = "Search: " + truncate(text, 60)
	}
	l := sel.layoutFor(title, "search", "/search", hidden{Name: "q", Value: text})
	l.Query = text
	l.Content = page
	return h.render(w, http.StatusOK, "search", l)
}

// find searches every kind for text.
func (h *Handler) find(ctx context.Context, sel selection, text string) ([]searchKind, error) {
	obs, err := h.data.Observed(ctx)
	if err != nil {
		return nil, fmt.Errorf("load observed events: %w", err)
	}
	if obs == nil {
		obs = &store.Observed{}
	}
	events, props := findEvents(h.data.Plan(), obs, text)
	kinds := []searchKind{events, props}
	if h.search != nil {
		accounts, err := h.search.SearchAccounts(ctx, text, SearchLimit+1)
		if err != nil {
			return nil, fmt.Errorf("search accounts: %w", err)
		}
		users, err := h.search.SearchUsers(ctx, text, SearchLimit+1)
		if err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		kinds = append(kinds,
			matchKind("accounts", "Accounts", accounts, func(id string) string { return accountHref(sel, id) }),
			matchKind("users", "Users", users, func(id string) string { return userHref(sel, id) }))
	}
	return kinds, nil
}

// matchKind lists the store's matches, at most SearchLimit.
func matchKind(id, heading string, ms []store.Match, href func(string) string) searchKind {
	k := searchKind{ID: id, Heading: heading, More: len(ms) > SearchLimit}
	for _, m := range ms[:min(len(ms), SearchLimit)] {
		k.Results = append(k.Results, searchResult{Text: m.ID, Href: href(m.ID), Detail: m.Label})
	}
	return k
}

// eventHref links an event's card on the events page, on whichever page
// holds it.
func eventHref(typ trackplan.CallType, name string) string {
	return "/events?" + url.Values{"event": {name}}.Encode() + "#" + anchorOf(typ, name)
}

// foundEvent is an event the search matched.
type foundEvent struct {
	typ     trackplan.CallType
	name    string
	sources []string
	planned bool
}

// findEvents matches the planned and observed events by name, and their
// property paths, case-insensitively; alias calls, which the events page
// does not list, are left out.
func findEvents(plan *trackplan.Plan, obs *store.Observed, text string) (events, props searchKind) {
	needle := strings.ToLower(text)
	match := func(s string) bool { return strings.Contains(strings.ToLower(s), needle) }
	type pathKey struct {
		typ        trackplan.CallType
		name, path string
	}
	found := map[eventKey]*foundEvent{}
	paths := map[pathKey]bool{}
	// An observed event shows under its plan entry's name.
	resolve := func(t trackplan.CallType, name string) (trackplan.CallType, string, bool) {
		if e := plan.Lookup(t, name); e != nil {
			return e.CallType(), e.Name, true
		}
		return t, name, false
	}
	add := func(t trackplan.CallType, name, source string, planned bool) {
		k := eventKey{t, name}
		f := found[k]
		if f == nil {
			f = &foundEvent{typ: t, name: name}
			found[k] = f
		}
		f.planned = f.planned || planned
		if source != "" && !slices.Contains(f.sources, source) {
			f.sources = append(f.sources, source)
		}
	}
	if plan != nil {
		for _, e := range plan.Events {
			if e == nil {
				continue
			}
			if match(e.Name) {
				add(e.CallType(), e.Name, "", true)
			}
			for _, p := range e.Properties {
				if p != nil && match(p.Name) {
					paths[pathKey{e.CallType(), e.Name, p.Name}] = true
				}
			}
		}
	}
	for i := range obs.Events {
		o := &obs.Events[i]
		t, name, planned := resolve(o.Type, o.Name)
		if !planned && t == trackplan.Alias {
			continue
		}
		if match(name) || match(o.Name) {
			add(t, name, o.Source, planned)
		}
		for _, p := range o.Properties {
			if match(p.Path) {
				paths[pathKey{t, name, p.Path}] = true
			}
		}
	}

	list := make([]*foundEvent, 0, len(found))
	for _, f := range found {
		list = append(list, f)
	}
	slices.SortFunc(list, func(a, b *foundEvent) int { return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.typ, b.typ)) })
	events = searchKind{ID: "events", Heading: "Events", More: len(list) > SearchLimit}
	for _, f := range list[:min(len(list), SearchLimit)] {
		detail := string(f.typ)
		if !f.planned {
			detail += ", not in plan"
		}
		if len(f.sources) > 0 {
			slices.Sort(f.sources)
			detail += ", from " + strings.Join(f.sources, ", ")
		}
		events.Results = append(events.Results, searchResult{Text: f.name, Href: eventHref(f.typ, f.name), Detail: detail})
	}

	keys := make([]pathKey, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b pathKey) int {
		return cmp.Or(cmp.Compare(a.path, b.path), cmp.Compare(a.name, b.name), cmp.Compare(a.typ, b.typ))
	})
	props = searchKind{ID: "properties", Heading: "Property paths", More: len(keys) > SearchLimit}
	for _, k := range keys[:min(len(keys), SearchLimit)] {
		props.Results = append(props.Results, searchResult{Text: truncate(k.path, maxPathText), Href: eventHref(k.typ, k.name),
			Detail: "of " + k.name})
	}
	return events, props
}
