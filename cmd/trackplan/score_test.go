package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// TestScoresFromSimulatedTraffic stores simulated traffic and scores it:
// the power accounts rank on top and the dormant ones score 0.
func TestScoresFromSimulatedTraffic(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plan, err := templates.Plan(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
	g, err := simulate.New(plan, simulate.Options{Accounts: 40, UsersPerAccount: 5, Days: 30, Seed: 11, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.Open(st, ingest.Options{})
	var buf []*trackplan.Message
	err = g.Generate(func(m *trackplan.Message) error {
		m.Source, m.ReceivedAt = "web", m.Timestamp
		if buf = append(buf, m); len(buf) == 1000 {
			err := p.Submit(ctx, buf, nil)
			buf = nil
			return err
		}
		return nil
	})
	if err == nil {
		err = p.Submit(ctx, buf, nil)
	}
	p.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := derive.New(st, st, derive.Options{}).CatchUp(ctx); err != nil {
		t.Fatal(err)
	}

	run, err := scoreProfile(ctx, st, DefaultConfig(), trackplan.DefaultProfile(plan), now, false)
	if err != nil {
		t.Fatal(err)
	}
	scores := map[string]float64{}
	for _, a := range run.Accounts {
		scores[a.ID] = a.AverageScore
	}
	view := newScoreView(run, false, 0)
	rankOf := map[string]int{}
	for i, a := range view.Accounts {
		rankOf[a.ID] = i
	}
	dormant, power := 0, 0
	for _, a := range g.Accounts() {
		if a.Dormant {
			dormant++
			if scores[a.ID] != 0 {
				t.Errorf("dormant account %s scores %.1f; want 0", a.ID, scores[a.ID])
			}
		}
		if a.Rank <= 3 { // ranks start at 1
			power++
			if r, ok := rankOf[a.ID]; !ok || r >= 8 {
				t.Errorf("power account %s (rank %d) is #%d by score (listed: %v)", a.ID, a.Rank, r+1, ok)
			}
		}
	}
	if dormant == 0 || power != 3 {
		t.Fatalf("the simulation should have dormant accounts and 3 power accounts: %d, %d", dormant, power)
	}
	if run.P90 <= 0 {
		t.Errorf("P90 = %v", run.P90)
	}
}
