package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/metrics"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
	"github.com/trackplan/trackplan/web"
)

// dashboardData adapts the store and the plan in force to what the
// dashboard reads. Drift findings are recomputed at most every findingsTTL,
// and at once when the plan in force or the plan the store's verdicts
// follow changes.
type dashboardData struct {
	st       store.Store
	cfg      Config
	plan     func() *trackplan.Plan
	now      func() time.Time
	findings judgedCache[struct{}, []trackplan.Finding] // the drift window's
	views    judgedCache[time.Duration, *web.Drift]     // DriftOver's, by span (dashview.go)
}

const findingsTTL = 30 * time.Second

func (d *dashboardData) Plan() *trackplan.Plan { return d.plan() }

func (d *dashboardData) Profiles() []*trackplan.Profile {
	ps, err := scoringProfiles(d.plan(), d.cfg)
	if err != nil {
		return []*trackplan.Profile{trackplan.DefaultProfile(d.plan())}
	}
	return ps
}

func (d *dashboardData) Observed(ctx context.Context) (*store.Observed, error) {
	return d.st.Observed(ctx)
}

func (d *dashboardData) Findings(ctx context.Context) ([]trackplan.Finding, error) {
	return judged(ctx, d, &d.findings, struct{}{}, func(plan *trackplan.Plan, now time.Time) ([]trackplan.Finding, error) {
		rep, err := tpsync.Drift(ctx, d.st, plan, now.UTC(), driftOptions(d.cfg, time.Duration(d.cfg.Drift.Window)))
		if err != nil {
			return nil, err
		}
		return rep.Findings, nil
	})
}

// judgedCache keeps what was judged by the plan in force, by key, for
// findingsTTL and as long as neither the plan nor the plan the store's
// verdicts follow changed. Its lock is held while computing, so
// concurrent requests compute once.
type judgedCache[K comparable, V any] struct {
	mu      sync.Mutex
	entries map[K]judgedEntry[V]
}

type judgedEntry[V any] struct {
	value V
	at    time.Time
	plans string // the two plans it was judged with
}

// judged returns c's entry for k, or computes it with the plan in force.
func judged[K comparable, V any](ctx context.Context, d *dashboardData, c *judgedCache[K, V], k K,
	compute func(plan *trackplan.Plan, now time.Time) (V, error)) (V, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	now, plan := d.now(), d.plan()
	follows, err := d.st.VerdictPlan(ctx)
	if err != nil {
		return zero, err
	}
	plans := store.PlanID(plan) + "/" + follows.ID
	if e, ok := c.entries[k]; ok && e.plans == plans && now.Sub(e.at) < findingsTTL && now.Sub(e.at) >= 0 {
		return e.value, nil
	}
	v, err := compute(plan, now)
	if err != nil {
		return zero, err
	}
	if c.entries == nil {
		c.entries = map[K]judgedEntry[V]{}
	}
	c.entries[k] = judgedEntry[V]{value: v, at: now, plans: plans}
	return v, nil
}

// DriftCounts summarises the findings for the /metrics drift gauges.
func (d *dashboardData) DriftCounts() (metrics.DriftCounts, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs, err := d.Findings(ctx)
	if err != nil {
		return metrics.DriftCounts{}, err
	}
	c := metrics.DriftCounts{Findings: map[string]float64{}, Messages: map[string]float64{}}
	for _, s := range []trackplan.Severity{trackplan.SeverityError, trackplan.SeverityWarning, trackplan.SeverityInfo} {
		c.Findings[string(s)] = 0
	}
	for _, f := range fs {
		c.Findings[string(f.Severity)]++
		c.Messages[string(f.Code)] += float64(f.Count)
	}
	return c, nil
}

func (d *dashboardData) LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error) {
	return d.st.LatestScores(ctx, profile, before)
}

func (d *dashboardData) AccountHistory(ctx context.Context, profile, groupID string, limit int) ([]store.ScorePoint, error) {
	return d.st.AccountHistory(ctx, profile, groupID, limit)
}

func (d *dashboardData) PlanVersions(ctx context.Context, limit int) ([]store.PlanVersion, error) {
	return d.st.PlanVersions(ctx, limit)
}

func (d *dashboardData) EventVolume(ctx context.Context, from, to time.Time, fn func(typ trackplan.CallType, name string, day time.Time, count int64) error) error {
	return d.st.EventDaily(ctx, from, to, fn)
}

func (d *dashboardData) AccountTraits(ctx context.Context, groupID string) (map[string]json.RawMessage, error) {
	return d.st.AccountTraitsOf(ctx, groupID)
}

func (d *dashboardData) AccountActivity(ctx context.Context, groupID string, events []string, from, to time.Time) ([]web.EventUse, error) {
	uses, err := d.st.AccountActivity(ctx, groupID, events, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]web.EventUse, len(uses))
	for i, u := range uses {
		out[i] = web.EventUse{Event: u.Event, Window: u.Window, Total: u.Total, LastSeen: u.LastSeen}
	}
	return out, nil
}

// dashboardOption adds to the dashboard's options.
type dashboardOption func(*web.Options)

// withRechecking shows the re-check under way in this process (progress
// returns nil when none runs) in a banner on every page.
func withRechecking(progress func() *derive.RecheckProgress) dashboardOption {
	return func(o *web.Options) {
		o.Rechecking = func() *web.Recheck {
			p := progress()
			if p == nil {
				return nil
			}
			return &web.Recheck{Plan: p.Plan, Fraction: p.Fraction()}
		}
	}
}

// newDashboard builds the dashboard handler, behind authentication when it
// listens beyond loopback.
func newDashboard(listen string, cfg Config, st store.Store, plan func() *trackplan.Plan, log *slog.Logger, opts ...dashboardOption) (http.Handler, error) {
	return newDashboardOn(listen, cfg, newDashboardData(cfg, st, plan), log, opts...)
}

// newDashboardData returns the dashboard's view of the store and the plan
// in force; serve shares it with /metrics, so both read one cached report.
func newDashboardData(cfg Config, st store.Store, plan func() *trackplan.Plan) *dashboardData {
	return &dashboardData{st: st, cfg: cfg, plan: plan, now: time.Now}
}

// newDashboardOn serves the dashboard over data.
func newDashboardOn(listen string, cfg Config, data *dashboardData, log *slog.Logger, opts ...dashboardOption) (http.Handler, error) {
	proxies, err := trustedProxies(cfg)
	if err != nil {
		return nil, err
	}
	auth, err := web.NewAuth(web.AuthOptions{Listen: listen, Token: string(cfg.Dashboard.Token), User: cfg.Dashboard.User,
		Password: string(cfg.Dashboard.Password), TrustedProxies: proxies, Logger: log})
	if err != nil {
		return nil, usage("dashboard: %v (set dashboard.token, or dashboard.user and dashboard.password)", err)
	}
	o := web.Options{Data: data, Volumes: data, Traits: data, Activity: data, Plans: data, Logger: log, Auth: auth,
		DriftWindowDays: int(time.Duration(cfg.Drift.Window) / (24 * time.Hour))}
	// The user page resolves ids with the store's identity links and
	// reads traits straight from the store.
	o.Identity = data.st
	if ts, ok := data.st.(web.UserTraitSource); ok {
		o.UserTraits = ts
	}
	for _, opt := range opts {
		opt(&o)
	}
	h, err := web.New(o)
	if err != nil {
		return nil, err
	}
	return auth.Require(h), nil
}
