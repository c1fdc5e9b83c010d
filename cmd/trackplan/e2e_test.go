package main

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/templates"
)

// TestEndToEnd runs the collector in-process, sends simulated traffic
// through the real analytics-go client and raw HTTP batches, resends both,
// and checks the stored counts are exactly what was sent.
func TestEndToEnd(t *testing.T) {
	ts := startTestServer(t, "")
	plan, err := templates.Plan(defaultTemplate)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulation{
		Plan:     plan,
		Endpoint: ts.url,
		WriteKey: testKey,
		Options: simulate.Options{Accounts: 20, UsersPerAccount: 4, Days: 14, Seed: 3,
			Now: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)},
		Client: clientLog{logger: slog.New(slog.DiscardHandler)},
	}
	first, err := runSimulation(t.Context(), sim)
	if err != nil {
		t.Fatal(err)
	}
	sent := int64(first.Summary.Messages)
	if first.Stats.Succeeded != sent || first.Stats.Failed != 0 {
		t.Fatalf("analytics-go: %+v of %d", first.Stats, sent)
	}

	// Raw HTTP: 300 more messages in batches of 100, from 30 new users.
	var raw [][]byte
	for b := range 3 {
		items := make([]string, 100)
		for i := range items {
			items[i] = msg(fmt.Sprintf("raw-%d-%d", b, i), "")
		}
		raw = append(raw, batch(items...))
	}
	for _, body := range raw {
		if got := ts.post(t, "/v1/batch", body, nil); got.status != 200 {
			t.Fatalf("raw batch: %d %s", got.status, got.body)
		}
	}

	// Everything again: the same seed sends the same messageIds.
	again, err := runSimulation(t.Context(), sim)
	if err != nil {
		t.Fatal(err)
	}
	if again.Stats.Succeeded != sent {
		t.Fatalf("resend: %+v", again.Stats)
	}
	for _, body := range raw {
		ts.post(t, "/v1/batch", body, nil)
	}

	o := ts.observed(t)
	want := store.Totals{
		Messages:   sent + 300,
		Duplicates: sent + 300,
		Users:      int64(first.Summary.Users) + 300,
		Accounts:   int64(first.Summary.Accounts),
	}
	if diff := cmp.Diff(want, o.Totals); diff != "" {
		t.Errorf("totals (-want +got):\n%s", diff)
	}
	var byType = map[string]int64{}
	for _, e := range o.Events {
		byType[string(e.Type)] += e.Count
	}
	for typ, n := range first.Summary.ByType {
		extra := int64(0)
		if typ == "track" {
			extra = 300
		}
		if byType[string(typ)] != int64(n)+extra {
			t.Errorf("%s: stored %d; sent %d", typ, byType[string(typ)], int64(n)+extra)
		}
	}
}
