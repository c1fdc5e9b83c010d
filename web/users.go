package web

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
)

// maxMembers is the number of merged ids the user page lists, and reads
// the traits of.
const maxMembers = 100

func userHref(sel selection, id string) string {
	return sel.link("/users/" + url.PathEscape(id))
}

// userPage is the content of a user's page.
type userPage struct {
	ID string
	// Name is the user's name trait, "" when there is none.
	Name string
	// Headline is the score of the selected profile, nil when its latest
	// run does not score the user.
	Headline *userScore
	// Scores has one row per profile whose latest run scores the user;
	// Unscored names the profiles whose latest run does not.
	Scores   []userScore
	Unscored []string
	Accounts []userAccount
	Traits   []trait
	// TraitsKnown reports whether a user trait source is configured.
	TraitsKnown bool
	TraitsError bool
	// Members are the ids merged into the user, at most maxMembers of
	// MembersTotal; IdentityKnown reports whether an identity source is
	// configured.
	Members       []string
	MembersTotal  int
	IdentityKnown bool
	AccountsHref  string
}

// userScore is the user's score in one profile's latest run.
type userScore struct {
	Profile    string
	Href       string // the user page with this profile selected
	At         timeView
	Score      int
	Band       bandView
	Trend      trendView
	Frequency  string
	LastActive timeView
	Adoption   string
	AdoptSort  string
	Flags      string
}

// userAccount is one account the user belongs to.
type userAccount struct {
	ID, Name, Href string
	Score          string
	Band           bandView
	// Profile names the profile the score is of when it is not the
	// selected one (whose run does not list the account).
	Profile string
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sel, err := h.selectProfile(r)
	if err != nil {
		return err
	}
	var g *identity.Graph
	if h.identity != nil {
		g, err = h.graphs.get(r.Context(), h.now(), h.identity)
		if err != nil {
			return fmt.Errorf("user %q: %w", id, err)
		}
		if root := g.Resolve(id); root != id {
			// Found, not Moved Permanently: a link that arrives later can
			// move the id to another user.
			hd := w.Header()
			hd.Set("Location", userHref(sel, root))
			hd.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusFound)
			return nil
		}
	}

	now := h.now()
	page := userPage{ID: id, AccountsHref: sel.link("/accounts"), IdentityKnown: g != nil}
	// The selected profile's run comes first, so an account is linked to
	// in the selected profile when its run lists it.
	order := slices.Clone(sel.profiles)
	if i := slices.Index(order, sel.profile); i > 0 {
		order = slices.Insert(slices.Delete(order, i, i+1), 0, sel.profile)
	}
	scores := map[string]*userScore{} // by profile; nil: its run does not score the user
	seen := map[string]int{}          // account id → index in page.Accounts
	for _, p := range order {
		if p == nil {
			continue
		}
		psel := selection{profile: p, profiles: sel.profiles}
		run, err := h.latestRun(r.Context(), psel)
		if err != nil {
			return err
		}
		if run == nil {
			continue
		}
		i := slices.IndexFunc(run.Users, func(u trackplan.UserScore) bool { return u.ID == id })
		if i < 0 {
			scores[p.Name] = nil
			continue
		}
		u := &run.Users[i]
		scores[p.Name] = &userScore{
			Profile: p.Name, Href: userHref(psel, id), At: timeOf(run.At, now),
			Score: u.Score, Band: bandOf(u.Band), Trend: trendOf(u.Trend),
			Frequency:  fmt.Sprintf("%d of %s", u.Frequency, plural(run.WindowDays, "day")),
			LastActive: timeOfPtr(u.LastActive, now), Adoption: formatPct(u.Adoption.Window),
			AdoptSort: formatScore(u.Adoption.Window), Flags: strings.Join(u.Flags.Names(), ", "),
		}
		for _, acct := range u.Accounts {
			// The first run that lists the account gives its score and
			// link: a profile may score a user but not all of the user's
			// accounts.
			k, ok := seen[acct]
			if !ok {
				k = len(page.Accounts)
				seen[acct] = k
				page.Accounts = append(page.Accounts, userAccount{ID: acct, Name: acct})
			}
			ua := &page.Accounts[k]
			if ua.Href != "" {
				continue
			}
			if j := slices.IndexFunc(run.Accounts, func(a trackplan.AccountScore) bool { return a.ID == acct }); j >= 0 {
				a := &run.Accounts[j]
				ua.Name, ua.Href = a.Name, accountHref(psel, a.ID)
				ua.Score, ua.Band = formatScore(a.AverageScore), bandOf(a.Band)
				if p != sel.profile {
					ua.Profile = p.Name
				}
			}
		}
	}
	// Rows in the profiles' order, the default first.
	for _, p := range sel.profiles {
		if p == nil {
			continue
		}
		s, ok := scores[p.Name]
		switch {
		case !ok: // no run yet
		case s == nil:
			page.Unscored = append(page.Unscored, p.Name)
		default:
			page.Scores = append(page.Scores, *s)
			if p == sel.profile {
				page.Headline = s
			}
		}
	}
	slices.SortFunc(page.Accounts, func(x, y userAccount) int {
		return cmp.Or(cmp.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), cmp.Compare(x.ID, y.ID))
	})

	var members []string
	if g != nil {
		members = g.Members(id)
	}
	page.MembersTotal = len(members)
	page.Members = members[:min(len(members), maxMembers)]

	var traitErr error
	page.Traits, page.TraitsKnown, traitErr = h.userTraitsOf(r, id, page.Members)
	page.TraitsError = traitErr != nil
	if len(page.Scores) == 0 && len(members) == 0 && len(page.Traits) == 0 {
		if traitErr != nil {
			return fmt.Errorf("user %q: %w", id, traitErr)
		}
		return fmt.Errorf("user %q is in no scoring run and has no traits or merged ids: %w", id, trackplan.ErrNotFound)
	}
	if traitErr != nil {
		h.log.Warn("load user traits", "user", id, "err", traitErr)
	}
	for _, t := range page.Traits {
		if t.Name == "name" {
			page.Name = t.Value
		}
	}

	title := page.Name
	if title == "" {
		title = id
	}
	l := sel.layoutFor(title, "accounts", "/users/"+url.PathEscape(id))
	l.Content = page
	return h.render(w, http.StatusOK, "user", l)
}

// userTraitsOf returns the user's current traits, merged across the ids
// the user is known by, sorted by name; known reports whether a user trait
// source is configured.
//
// UserTraitsOf gives each id's latest value of each trait but not when it
// was set, so the latest value across ids cannot be picked. The user's own
// traits win; the merged ids (at most maxMembers, in members' order, which
// is sorted) fill in the traits it lacks, the first id holding a trait
// giving its value. Merged ids are mostly anonymous ids whose identify
// calls came before the user logged in, so their values are usually the
// older ones.
func (h *Handler) userTraitsOf(r *http.Request, id string, members []string) (traits []trait, known bool, err error) {
	if h.userTraits == nil {
		return nil, false, nil
	}
	merged := map[string]any{}
	for _, from := range append([]string{id}, members...) {
		m, err := h.userTraits.UserTraitsOf(r.Context(), from)
		if err != nil {
			return nil, true, fmt.Errorf("load traits of %q: %w", from, err)
		}
		for name, v := range m {
			if _, ok := merged[name]; !ok {
				merged[name] = v
			}
		}
	}
	for name, v := range merged {
		traits = append(traits, trait{Name: name, Value: traitValueText(v)})
	}
	slices.SortFunc(traits, func(x, y trait) int { return cmp.Compare(x.Name, y.Name) })
	return traits, true, nil
}

// traitValueText shows a decoded trait value as traitText shows a raw
// one: a string as it is, any other value as JSON, cut to maxTraitLen
// characters.
func traitValueText(v any) string {
	if s, ok := v.(string); ok {
		return truncate(s, maxTraitLen)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the template escapes
	if err := enc.Encode(v); err != nil {
		return truncate(fmt.Sprint(v), maxTraitLen)
	}
	return truncate(strings.TrimSuffix(buf.String(), "\n"), maxTraitLen)
}
