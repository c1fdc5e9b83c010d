package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// testAlerts checks the alert record (round trip, filters, newest first,
// pruning) and the alert state (missing, set, replaced).
func testAlerts(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t, store.DefaultLimits())

	if _, err := s.AlertState(ctx, "seen"); !errors.Is(err, trackplan.ErrNotFound) {
		t.Fatalf("AlertState of nothing: %v, want ErrNotFound", err)
	}
	for _, v := range []string{`{"a":[1,2]}`, `{"a":[3]}`} {
		if err := s.SetAlertState(ctx, "seen", json.RawMessage(v)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.AlertState(ctx, "seen")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string][]int
	if err := json.Unmarshal(got, &v); err != nil || !cmp.Equal(v, map[string][]int{"a": {3}}) {
		t.Errorf("AlertState = %s (%v), want the last value", got, err)
	}

	recs := []store.AlertRecord{
		{At: t0, Rule: "new_finding", Key: "fp1", Severity: "critical", Title: "New error: TYPE_MISMATCH on <!channel>",
			Text: "a & b", Link: "https://x/events#ev", Status: store.AlertSent, Channels: []string{"slack", "webhook"}},
		{At: t0.Add(time.Hour), Rule: "volume_drop", Key: "Report Exported", Severity: "warning", Title: "drop",
			Status: store.AlertHeld, Channels: []string{}},
		{At: t0.Add(2 * time.Hour), Rule: "new_finding", Key: "fp2", Severity: "critical", Title: "x",
			Status: store.AlertFailed, Channels: []string{"slack"}, Error: "slack: 500"},
	}
	for i := range recs {
		if err := s.RecordAlert(ctx, &recs[i]); err != nil {
			t.Fatal(err)
		}
		if recs[i].ID == 0 {
			t.Fatalf("RecordAlert set no ID")
		}
	}
	all, err := s.AlertRecords(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.AlertRecord{recs[2], recs[1], recs[0]}
	if diff := cmp.Diff(want, all); diff != "" {
		t.Errorf("AlertRecords (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		q    store.AlertQuery
		want []int64
	}{
		{store.AlertQuery{Rule: "new_finding"}, []int64{recs[2].ID, recs[0].ID}},
		{store.AlertQuery{Rule: "new_finding", Key: "fp1"}, []int64{recs[0].ID}},
		{store.AlertQuery{Status: store.AlertHeld}, []int64{recs[1].ID}},
		{store.AlertQuery{Since: t0.Add(time.Hour)}, []int64{recs[2].ID, recs[1].ID}},
		{store.AlertQuery{Limit: 1}, []int64{recs[2].ID}},
	} {
		got, err := s.AlertRecords(ctx, tc.q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, a := range got {
			ids = append(ids, a.ID)
		}
		if !cmp.Equal(ids, tc.want) {
			t.Errorf("AlertRecords(%+v) = %v, want %v", tc.q, ids, tc.want)
		}
	}
	if err := s.PruneAlerts(ctx, t0.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	left, err := s.AlertRecords(ctx, store.AlertQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].ID != recs[2].ID {
		t.Errorf("after PruneAlerts: %+v, want only the latest", left)
	}
}

// testForgetAlerts: erasing an account removes the alert records that name
// it and keeps the others.
func testForgetAlerts(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	for _, a := range []*store.AlertRecord{
		{At: t0, Rule: "score_drop", Key: "default/acme-corp", Severity: "warning", Title: "Acme Corp dropped to passive", Status: store.AlertSent},
		{At: t0, Rule: "volume_drop", Key: "web/track/Report Exported", Severity: "critical", Title: "Report Exported fell 80%", Status: store.AlertSent},
	} {
		if err := s.RecordAlert(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.ForgetDerived(ctx, nil, []string{"acme-corp"}, []string{"acme-corp", "Acme Corp"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.AlertRecords(ctx, store.AlertQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Rule != "volume_drop" {
		t.Errorf("alert records after forget = %+v; want only the volume drop", got)
	}
}
