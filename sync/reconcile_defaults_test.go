package sync_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

// traitTally is a window in which identify and group calls carried the
// given unplanned traits.
func traitTally(identify, group []string) *store.Tally {
	t := store.NewTally()
	hour := store.Hour(at.Add(-time.Hour))
	seen := store.Seen{Count: 5, First: at.Add(-time.Hour), Last: at.Add(-time.Minute)}
	for typ, paths := range map[trackplan.CallType][]string{trackplan.Identify: identify, trackplan.Group: group} {
		ev := store.EventKey{Source: "segment", Type: typ, Name: ""}
		t.Volumes[store.HourKey{Event: ev, Hour: hour}] = &store.Seen{Count: 5, First: seen.First, Last: seen.Last}
		for _, p := range paths {
			k := store.ViolationKey{Event: ev, Code: trackplan.UnplannedProperty, Path: p, Observed: "number", Hour: hour}
			t.Violations[k] = &store.ViolationDelta{Seen: seen}
		}
	}
	return t
}

func unplannedPaths(rep []trackplan.Finding) []string {
	var out []string
	for _, f := range rep {
		if f.Code == trackplan.UnplannedProperty {
			out = append(out, f.Path)
		}
	}
	slices.Sort(out)
	return out
}

// TestDefaultsPushedTraitsAreNotUnplanned: the engagement traits trackplan
// pushes come back through Segment on identify and group calls; they are
// trackplan's own and never UNPLANNED_PROPERTY. Other traits still are.
func TestDefaultsPushedTraitsAreNotUnplanned(t *testing.T) {
	plan := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "identify", Type: trackplan.Identify, Status: trackplan.StatusLive, Owner: "o", Description: "d",
			Properties: []*trackplan.Property{{Name: "email", Type: trackplan.PropString}}},
		{Name: "group", Type: trackplan.Group, Status: trackplan.StatusLive, Owner: "o", Description: "d",
			Properties: []*trackplan.Property{{Name: "name", Type: trackplan.PropString}}},
	}}
	accounts, users := tpsync.DefaultPushConfig().TraitNames()
	if !slices.Contains(accounts, "engagement_total_score") || !slices.Contains(users, "engagement_score") ||
		slices.Contains(users, "engagement_total_score") || len(accounts) != 11 || len(users) != 7 {
		t.Fatalf("TraitNames() = %v, %v", accounts, users)
	}
	in := tpsync.DriftInput{Plan: plan, At: at, Observed: &store.Observed{},
		Verdicts: traitTally(
			append(slices.Clone(users), "favorite_color", "engagement_total_users", "engagement_trial_score"),
			append(slices.Clone(accounts), "arr", "engagement_trial_score"))}

	got := unplannedPaths(tpsync.Reconcile(in, tpsync.DriftOptions{}).Findings)
	// engagement_total_users is an account trait: the push never writes it
	// on a user. The trial profile is not pushed by default.
	want := []string{"arr", "engagement_total_users", "engagement_trial_score", "engagement_trial_score", "favorite_color"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UNPLANNED_PROPERTY paths, default push (-want +got):\n%s", diff)
	}

	// A configured push: its prefix, renames and profiles decide the names.
	push := tpsync.DefaultPushConfig()
	push.Profiles = []string{trackplan.DefaultProfileName, "trial"}
	push.Names = map[string]string{tpsync.TraitScore: "points", tpsync.TraitTier: tpsync.OmitTrait}
	in.Verdicts = traitTally(
		[]string{"engagement_points", "engagement_trial_points", "engagement_score", "engagement_tier", "favorite_color"},
		[]string{"engagement_points", "engagement_trial_total_score", "engagement_trial_tier"})
	got = unplannedPaths(tpsync.Reconcile(in, tpsync.DriftOptions{Push: &push}).Findings)
	want = []string{"engagement_score", "engagement_tier", "engagement_trial_tier", "favorite_color"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("UNPLANNED_PROPERTY paths, configured push (-want +got):\n%s", diff)
	}
}
