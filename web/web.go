package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"path"
	"sync"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/templates"
)

// Data is what the dashboard reads. Its methods are called while serving
// requests, concurrently.
type Data interface {
	// Plan returns the current tracking plan; nil is an empty plan.
	Plan() *trackplan.Plan
	// Profiles returns the scoring profiles, the default profile first.
	Profiles() []*trackplan.Profile
	// Observed returns what has been seen of every event.
	Observed(ctx context.Context) (*store.Observed, error)
	// Findings returns the current drift findings (plan × observed over
	// the drift window, per-message violations included).
	Findings(ctx context.Context) ([]trackplan.Finding, error)
	// LatestScores returns the profile's latest score run before the given
	// time, or an error wrapping trackplan.ErrNotFound when it has none.
	LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error)
	// AccountHistory returns an account's average score per run of the
	// profile, oldest first, at most limit points (the latest ones).
	AccountHistory(ctx context.Context, profile, groupID string, limit int) ([]store.ScorePoint, error)
}

// VolumeSource reports daily event volume. It is optional: without it the
// events page shows each event's total count and no volume sparkline.
type VolumeSource interface {
	// EventVolume calls fn with the number of messages of each event on
	// each UTC day in [from, to) that had any, summed over sources. typ and
	// name identify the event as store.EventKey does.
	EventVolume(ctx context.Context, from, to time.Time, fn func(typ trackplan.CallType, name string, day time.Time, count int64) error) error
}

// TraitSource reports an account's traits. It is optional: without it the
// account page shows no traits.
type TraitSource interface {
	// AccountTraits returns the account's merged group traits (last value
	// wins), or an error wrapping trackplan.ErrNotFound for an unknown
	// account.
	AccountTraits(ctx context.Context, groupID string) (map[string]json.RawMessage, error)
}

// PlanSource lists the plan versions the traffic was judged by. It is
// optional: without it the volume charts mark no plan edits.
type PlanSource interface {
	// PlanVersions returns the plan versions followed, newest first, at
	// most limit.
	PlanVersions(ctx context.Context, limit int) ([]store.PlanVersion, error)
}

// IdentitySource streams the identity links the user page resolves ids
// with (see package identity). It is optional: without it the user page
// lists no merged ids and an id merged into another user is not redirected.
type IdentitySource interface {
	// IdentityLinks calls fn for every identity link: an id (anonymousId
	// or alias previousId), the userId it was linked to and the event time
	// of the first message that linked them.
	IdentityLinks(ctx context.Context, fn func(id, userID string, at time.Time) error) error
}

// UserTraitSource reports a user's traits. It is optional: without it the
// user page shows no traits.
type UserTraitSource interface {
	// UserTraitsOf returns the traits stored under one id (a userId, or an
	// anonymousId whose identify calls had no userId), cleared traits
	// absent; an unknown id has none.
	UserTraitsOf(ctx context.Context, userID string) (map[string]any, error)
}

// Recheck is a re-check of the stored traffic against a new plan, under
// way.
type Recheck struct {
	// Plan is the plan version the traffic is re-checked against.
	Plan store.PlanVersion
	// Fraction is the share done, 0 to 1.
	Fraction float64
}

// EventUse is what the users of one account did of one event.
type EventUse struct {
	// Event is the event name.
	Event string
	// Window counts the event in the requested time frame.
	Window int64
	// Total counts the event over the activity history kept.
	Total int64
	// LastSeen is the account's latest occurrence of the event.
	LastSeen time.Time
}

// ActivitySource reports which events an account's users did. It is
// optional: without it the account page derives its adoption figures from
// the score snapshot alone (how many scored events, not which).
type ActivitySource interface {
	// AccountActivity returns an EventUse for each of the named events that
	// a member of the account ever did; events never done are left out.
	// Window counts occurrences in [from, to).
	AccountActivity(ctx context.Context, groupID string, events []string, from, to time.Time) ([]EventUse, error)
}

// Options configures the dashboard.
type Options struct {
	// Data is required.
	Data Data
	// Volumes, Traits and Activity are optional; see their types.
	Volumes  VolumeSource
	Traits   TraitSource
	Activity ActivitySource
	// Plans, optional, lets the volume charts mark the days the plan was
	// edited.
	Plans PlanSource
	// Identity and UserTraits are optional; see their types. When nil,
	// each is Data if Data implements it.
	Identity   IdentitySource
	UserTraits UserTraitSource
	// Search and Drift are optional; see their types. When nil, each is
	// Data if Data implements it.
	Search SearchSource
	Drift  DriftSource
	// Rechecking, optional, returns the re-check under way, or nil; while
	// one runs every page shows a banner with its progress. It is called
	// once per page served, concurrently.
	Rechecking func() *Recheck
	// Logger receives errors that end a request with a 5xx; nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// DriftWindowDays is how recently an event must have been seen to count
	// as seen (live, with violations, deprecated but seen); 0 means 7, the
	// drift report's default window.
	DriftWindowDays int
	// ScoreCacheTTL is how long a loaded score run is reused before
	// LatestScores is asked again (a run holds every scored user, so
	// loading one is not cheap), and the identity graph before the links
	// are read again; 0 means one minute, negative disables the caches.
	ScoreCacheTTL time.Duration
	// Auth, optional, is the guard the handler is served behind (see
	// NewAuth): with credentials, the handler serves the login page at
	// /login and signing out at /logout. Without it, or without
	// credentials, /login redirects to the dashboard.
	Auth *Auth
}

// Defaults of Options.
const (
	DefaultDriftWindowDays = 7
	DefaultScoreCacheTTL   = time.Minute
)

// Handler serves the dashboard. Mount it at the root of a server behind
// its Auth (for example mux.Handle("GET /", auth.Require(h)), and the same
// for POST /login and POST /logout); it routes GET and HEAD requests for
// /, /accounts, /accounts/{id}, /users/{id}, /events, /search and /static/, and GET
// and POST /login and /logout.
type Handler struct {
	data       Data
	volumes    VolumeSource
	traits     TraitSource
	activity   ActivitySource
	plans      PlanSource
	identity   IdentitySource
	userTraits UserTraitSource
	search     SearchSource
	drift      DriftSource
	recheck    func() *Recheck
	log        *slog.Logger
	now        func() time.Time
	window     int
	auth       *Auth

	pages  map[string]*template.Template
	assets map[string]string // static file name → versioned URL
	mux    *http.ServeMux
	runs   runCache
	graphs graphCache
}

// New builds the dashboard handler, parsing its templates once.
func New(opts Options) (*Handler, error) {
	if opts.Data == nil {
		return nil, errors.New("web: Options.Data is required")
	}
	h := &Handler{
		data:       opts.Data,
		volumes:    opts.Volumes,
		traits:     opts.Traits,
		activity:   opts.Activity,
		plans:      opts.Plans,
		recheck:    opts.Rechecking,
		log:        opts.Logger,
		now:        opts.Now,
		window:     opts.DriftWindowDays,
		identity:   opts.Identity,
		userTraits: opts.UserTraits,
		search:     opts.Search,
		drift:      opts.Drift,
		auth:       opts.Auth,
		runs:       runCache{ttl: opts.ScoreCacheTTL, entries: map[string]*runEntry{}},
	}
	if h.identity == nil {
		h.identity, _ = opts.Data.(IdentitySource)
	}
	if h.userTraits == nil {
		h.userTraits, _ = opts.Data.(UserTraitSource)
	}
	if h.search == nil {
		h.search, _ = opts.Data.(SearchSource)
	}
	if h.drift == nil {
		h.drift, _ = opts.Data.(DriftSource)
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.window <= 0 {
		h.window = DefaultDriftWindowDays
	}
	if h.runs.ttl == 0 {
		h.runs.ttl = DefaultScoreCacheTTL
	}
	h.graphs.ttl = h.runs.ttl
	files := templates.Dashboard()
	if err := h.parse(files); err != nil {
		return nil, err
	}
	static, err := fs.Sub(files, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static files: %w", err)
	}
	h.mux = http.NewServeMux()
	h.mux.Handle("GET /{$}", h.handle(h.overview))
	h.mux.Handle("GET /accounts", h.handle(h.accounts))
	h.mux.Handle("GET /accounts/{id}", h.handle(h.account))
	h.mux.Handle("GET /users/{id}", h.handle(h.user))
	h.mux.Handle("GET /events", h.handle(h.events))
	h.mux.Handle("GET /search", h.handle(h.serveSearch))
	h.mux.Handle("GET /login", h.handle(h.loginForm))
	h.mux.Handle("POST /login", h.handle(h.login))
	h.mux.Handle("GET /logout", h.handle(h.logoutForm))
	h.mux.Handle("POST /logout", h.handle(h.logout))
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	h.mux.Handle("GET /", h.handle(func(_ http.ResponseWriter, r *http.Request) error {
		return fmt.Errorf("no page at %s: %w", r.URL.Path, trackplan.ErrNotFound)
	}))
	return h, nil
}

func (h *Handler) parse(files fs.FS) error {
	funcs := template.FuncMap{
		"asset": func(name string) string { return h.assets[name] },
		// Counted nouns, and identifiers that wrap at their separators
		// only (format.go).
		"plural": pluralOf,
		"wbr":    breakable,
	}
	h.assets = map[string]string{}
	for _, name := range []string{"app.css", "app.js", "favicon.svg"} {
		b, err := fs.ReadFile(files, path.Join("static", name))
		if err != nil {
			return fmt.Errorf("web: read static file %s: %w", name, err)
		}
		sum := sha256.Sum256(b)
		h.assets[name] = "/static/" + name + "?v=" + hex.EncodeToString(sum[:4])
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "layout.html", "parts.html")
	if err != nil {
		return fmt.Errorf("web: parse layout: %w", err)
	}
	// Each page is parsed into its own copy of the layout, as each defines
	// the same blocks.
	h.pages = map[string]*template.Template{}
	for _, name := range []string{"overview", "accounts", "account", "user", "events", "error", "login", "search"} {
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(files, name+".html")
		}
		if err != nil {
			return fmt.Errorf("web: parse page %s: %w", name, err)
		}
		h.pages[name] = t
	}
	return nil
}

// ServeHTTP serves a dashboard request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	h.mux.ServeHTTP(w, r)
}

func staticHandler(files fs.FS) http.Handler {
	fsrv := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// URLs carry a content hash (see parse), so they can be cached long.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		fsrv.ServeHTTP(w, r)
	})
}

// handlerFunc is a dashboard handler; a returned error is turned into an
// error page by handle.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h *Handler) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			h.fail(w, r, err)
		}
	})
}

// badRequest is an error in the request's parameters.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badRequestf(format string, args ...any) error {
	return &badRequest{msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to the status code of its page.
func statusOf(err error) int {
	var br *badRequest
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest
	case errors.Is(err, trackplan.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, trackplan.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, trackplan.ErrOverloaded), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// errorPage is the content of the error page.
type errorPage struct {
	Status  int
	Heading string
	Message string
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	page := errorPage{Status: status, Heading: http.StatusText(status)}
	switch status {
	case http.StatusBadRequest, http.StatusNotFound:
		page.Message = err.Error()
	case http.StatusServiceUnavailable:
		page.Message = "The dashboard's data is not available right now; try again in a moment."
		w.Header().Set("Retry-After", "5")
	default:
		page.Message = "Something went wrong while building this page. The error was logged."
	}
	if status >= 500 {
		h.log.Error("dashboard request", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	}
	if err := h.render(w, status, "error", &layout{Title: page.Heading, Content: page,
		Nav: nav{Overview: "/", Accounts: "/accounts", Events: "/events"}}); err != nil {
		h.log.Error("render error page", "err", err)
		http.Error(w, page.Heading, status)
	}
}

// layout is what layout.html renders around a page's content.
type layout struct {
	Title   string
	Section string // overview, accounts or events: the current nav entry
	Nav     nav
	// Switcher, when set, lets the reader pick another scoring profile.
	Switcher *switcher
	// Recheck, when set, is the banner of a re-check under way.
	Recheck *recheckBanner
	// SignOut, when set, links to the sign-out page.
	SignOut string
	// Query is the text in the search box.
	Query   string
	Content any
}

// recheckBanner tells that the findings are being re-checked against a
// new plan.
type recheckBanner struct {
	Text  string // "Re-checking the traffic against the plan of 12:05 (notion:…) — 40%"
	Exact string // when the plan was first seen, "2026-03-15 12:05 UTC"
	Meter meter
}

// recheckBanner returns the banner of the re-check under way, or nil.
func (h *Handler) recheckBanner() *recheckBanner {
	if h.recheck == nil {
		return nil
	}
	rc := h.recheck()
	if rc == nil {
		return nil
	}
	pct := math.Floor(min(max(rc.Fraction, 0), 1) * 100)
	at := rc.Plan.FirstSeen.UTC()
	when := at.Format("15:04")
	if y, m, d := h.now().UTC().Date(); !at.IsZero() && (at.Year() != y || at.Month() != m || at.Day() != d) {
		when = at.Format("Jan 2 15:04")
	}
	plan := when
	switch {
	case at.IsZero() && rc.Plan.Origin != "":
		plan = rc.Plan.Origin
	case at.IsZero():
		plan = rc.Plan.ID
	case rc.Plan.Origin != "":
		plan += " (" + rc.Plan.Origin + ")"
	}
	b := &recheckBanner{
		Text:  fmt.Sprintf("Re-checking the traffic against the plan of %s — %d%%", plan, int(pct)),
		Meter: meterOf(pct, "presence"),
	}
	if !at.IsZero() {
		b.Exact = at.Format("2006-01-02 15:04 UTC")
	}
	return b
}

// nav holds the header's links, which keep the selected profile.
type nav struct {
	Overview, Accounts, Events string
	// Profile is the selected scoring profile when it is not the
	// default: the header's search carries it along.
	Profile string
}

// switcher is the profile switcher form.
type switcher struct {
	Action  string
	Options []option
	Keep    []hidden // other query parameters to keep
}

// option is one choice of a select.
type option struct {
	Value, Label string
	Selected     bool
}

// hidden is a hidden form field.
type hidden struct{ Name, Value string }

// render executes a page into a buffer, so a template error yields an error
// page rather than half a page, then writes it.
func (h *Handler) render(w http.ResponseWriter, status int, page string, data *layout) error {
	t, ok := h.pages[page]
	if !ok {
		return fmt.Errorf("render: no page %q", page)
	}
	data.Recheck = h.recheckBanner()
	if h.auth.SignIn() && data.Nav.Overview != "" {
		data.SignOut = "/logout"
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("render %s: %w", page, err)
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err // the client went away; nothing more to do
}

// selection is the scoring profile a request looks at.
type selection struct {
	profile  *trackplan.Profile // nil when no profile is configured
	profiles []*trackplan.Profile
}

// name is the selected profile's name, "" when there is none.
func (s selection) name() string {
	if s.profile == nil {
		return ""
	}
	return s.profile.Name
}

// chosen is the selected profile's name when it is not the default (the
// first), which links and forms then carry; "" otherwise.
func (s selection) chosen() string {
	if s.profile != nil && len(s.profiles) > 0 && s.profiles[0] != s.profile {
		return s.profile.Name
	}
	return ""
}

// selectProfile reads ?profile=; empty selects the first (default) one.
func (h *Handler) selectProfile(r *http.Request) (selection, error) {
	s := selection{profiles: h.data.Profiles()}
	want := r.URL.Query().Get("profile")
	for _, p := range s.profiles {
		if p == nil {
			continue
		}
		if want == "" || p.Name == want {
			s.profile = p
			return s, nil
		}
	}
	if want != "" {
		return s, fmt.Errorf("scoring profile %q: %w", want, trackplan.ErrNotFound)
	}
	return s, nil
}

// link returns p with the selected profile in its query, unless it is the
// default profile, and the given extra parameters (name, value pairs; empty
// values are left out).
func (s selection) link(p string, kv ...string) string {
	q := url.Values{}
	if p := s.chosen(); p != "" {
		q.Set("profile", p)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}

// layoutFor returns the frame of a page in a section; keep lists query
// parameters the profile switcher carries along.
func (s selection) layoutFor(title, section, action string, keep ...hidden) *layout {
	l := &layout{
		Title:   title,
		Section: section,
		Nav: nav{Overview: s.link("/"), Accounts: s.link("/accounts"), Events: s.link("/events"),
			Profile: s.chosen()},
	}
	if len(s.profiles) > 1 && action != "" {
		sw := &switcher{Action: action, Keep: keep}
		for _, p := range s.profiles {
			if p == nil {
				continue
			}
			sw.Options = append(sw.Options, option{Value: p.Name, Label: p.Name, Selected: p == s.profile})
		}
		l.Switcher = sw
	}
	return l
}

// latestRun returns the selected profile's latest run, or nil when the
// profile has none (or there is no profile).
func (h *Handler) latestRun(ctx context.Context, s selection) (*trackplan.ScoreRun, error) {
	if s.profile == nil {
		return nil, nil
	}
	run, err := h.runs.get(ctx, s.profile.Name, h.now(), h.data.LatestScores)
	if errors.Is(err, trackplan.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load %s scores: %w", s.profile.Name, err)
	}
	return run, nil
}

// runCache keeps the latest run of each profile for a while.
type runCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]*runEntry
}

type runEntry struct {
	mu     sync.Mutex // held while loading, so concurrent requests load once
	run    *trackplan.ScoreRun
	none   bool // the profile had no run
	loaded time.Time
}

type loadFunc func(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error)

// get returns the profile's cached run, loading it when it is missing or
// older than the TTL. "No run" is cached too; other errors are not.
func (c *runCache) get(ctx context.Context, profile string, now time.Time, load loadFunc) (*trackplan.ScoreRun, error) {
	if c.ttl < 0 {
		return load(ctx, profile, now)
	}
	c.mu.Lock()
	e, ok := c.entries[profile]
	if !ok {
		e = &runEntry{}
		c.entries[profile] = e
	}
	c.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.loaded.IsZero() && now.Sub(e.loaded) < c.ttl && now.Sub(e.loaded) >= 0 {
		if e.none {
			return nil, fmt.Errorf("%s scores: %w", profile, trackplan.ErrNotFound)
		}
		return e.run, nil
	}
	run, err := load(ctx, profile, now)
	switch {
	case errors.Is(err, trackplan.ErrNotFound):
		e.run, e.none, e.loaded = nil, true, now
	case err != nil:
		return nil, err
	default:
		e.run, e.none, e.loaded = run, false, now
	}
	return run, err
}

// graphCache keeps the identity graph for a while, as runCache keeps runs:
// loading it reads every identity link.
type graphCache struct {
	ttl    time.Duration
	mu     sync.Mutex // held while loading, so concurrent requests load once
	graph  *identity.Graph
	loaded time.Time
}

// get returns the cached graph, loading it from src when it is missing or
// older than the TTL. Errors are not cached.
func (c *graphCache) get(ctx context.Context, now time.Time, src identity.LinkSource) (*identity.Graph, error) {
	if c.ttl < 0 {
		return identity.Load(ctx, src)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.graph != nil && now.Sub(c.loaded) < c.ttl && now.Sub(c.loaded) >= 0 {
		return c.graph, nil
	}
	g, err := identity.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	c.graph, c.loaded = g, now
	return g, nil
}
