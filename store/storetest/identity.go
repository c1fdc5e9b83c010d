package storetest

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
	"github.com/trackplan/trackplan/store"
)

// anon returns a message of an anonymous visitor, or of a user when user is
// set, carrying the anonymousId.
func anon(m store.Checked, anonymousID string) store.Checked {
	m.Message.AnonymousID = anonymousID
	return m
}

// testIdentity: links keep the time of their first message whatever the
// arrival order, anonymous activity is kept under its id, and the totals
// count people, not ids.
func testIdentity(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	min := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Minute) }
	alias := call(trackplan.Alias, "al1", "u2", "", min(50), nil)
	alias.Message.PreviousID = "old2"
	ingest(t, s,
		// A visitor browses, then signs up as u1 on the same device.
		anon(track("v1", "", "", "Page Viewed", min(0), nil), "anon-1"),
		anon(call(trackplan.Identify, "v2", "", "", min(1), map[string]any{"plan": "trial"}), "anon-1"),
		anon(call(trackplan.Identify, "v3", "u1", "", min(5), map[string]any{"email": "u1@acme.io"}), "anon-1"),
		// old2 works in g1, then is aliased to u2.
		track("o1", "old2", "g1", "Report Exported", min(10), nil),
		alias,
		// A shared device: anon-2 is seen with u3, then with u4.
		anon(track("d1", "u3", "", "Signed In", min(20), nil), "anon-2"),
		anon(track("d2", "u4", "", "Signed In", min(30), nil), "anon-2"),
		// A visitor who never signs up.
		anon(track("n1", "", "", "Page Viewed", min(40), nil), "anon-3"),
	)
	// The same link made again, later and then earlier: the earliest time
	// is kept.
	ingest(t, s, anon(track("v4", "u1", "", "Signed In", min(60), nil), "anon-1"))
	ingest(t, s, anon(track("v0", "u1", "", "Signed In", min(-5), nil), "anon-1"))

	type linkRow struct {
		ID, User string
		At       time.Time
	}
	var links []linkRow
	if err := s.IdentityLinks(ctx, func(id, user string, at time.Time) error {
		links = append(links, linkRow{id, user, at.UTC()})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(links, func(a, b linkRow) int { return strings.Compare(a.ID+"/"+a.User, b.ID+"/"+b.User) })
	want := []linkRow{{"anon-1", "u1", min(-5)}, {"anon-2", "u3", min(20)}, {"anon-2", "u4", min(30)}, {"old2", "u2", min(50)}}
	if diff := cmp.Diff(want, links); diff != "" {
		t.Errorf("identity links (-want +got):\n%s", diff)
	}

	// Users streams users and the anonymous ids that acted alone and are
	// linked to one; anon-3, never linked, is not a scoring row, and
	// anon-2 never acted without a userId.
	var users []string
	if err := s.Users(ctx, func(id string, _, _ time.Time) error { users = append(users, id); return nil }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(users)
	if diff := cmp.Diff([]string{"anon-1", "old2", "u1", "u2", "u3", "u4"}, users); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	// Anonymous activity and traits are kept under the anonymous id.
	var acts []string
	if err := s.EventTotals(ctx, []string{"Page Viewed"}, func(u, e string, _, _ time.Time) error {
		acts = append(acts, u+"/"+e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(acts)
	if diff := cmp.Diff([]string{"anon-1/Page Viewed", "anon-3/Page Viewed"}, acts); diff != "" {
		t.Errorf("anonymous activity (-want +got):\n%s", diff)
	}
	traits := map[string]string{}
	if err := s.UserTraits(ctx, []string{"plan", "email"}, func(u, n string, v json.RawMessage, at time.Time) error {
		traits[u+"/"+n] = string(v) + " " + at.UTC().Format(time.TimeOnly)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"anon-1/plan": `"trial" 12:01:00`, "u1/email": `"u1@acme.io" 12:05:00`}, traits); diff != "" {
		t.Errorf("user traits (-want +got):\n%s", diff)
	}

	g, err := identity.Load(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"anon-1": "u1", "old2": "u2", "anon-2": "u3", "anon-3": "anon-3", "u4": "u4"} {
		if got := g.Resolve(id); got != want {
			t.Errorf("Resolve(%q) = %q, want %q", id, got, want)
		}
	}

	// People: u1, u2 (old2 merged into it), u3, u4.
	o := observed(t, s)
	if o.Totals.Users != 4 || o.Totals.LinkedIDs != 3 || o.Totals.IdentityConflicts != 1 {
		t.Errorf("totals = %+v, want 4 users, 3 linked ids, 1 conflict", o.Totals)
	}

	// Pruning removes the visitor who never signed up (anon-3, last seen
	// at minute 40) and keeps the one who did (anon-1).
	if err := s.Prune(ctx, t0.Add(-24*time.Hour), min(45)); err != nil {
		t.Fatal(err)
	}
	acts = acts[:0]
	if err := s.EventTotals(ctx, []string{"Page Viewed"}, func(u, e string, _, _ time.Time) error {
		acts = append(acts, u+"/"+e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"anon-1/Page Viewed"}, acts); diff != "" {
		t.Errorf("anonymous activity after prune (-want +got):\n%s", diff)
	}
	// Forgetting a person erases their links and anonymous ids.
	if err := s.ForgetDerived(ctx, []string{"u1", "anon-1"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	links = links[:0]
	s.IdentityLinks(ctx, func(id, user string, at time.Time) error {
		links = append(links, linkRow{id, user, at.UTC()})
		return nil
	})
	if len(links) != 3 || slices.ContainsFunc(links, func(l linkRow) bool { return l.ID == "anon-1" || l.User == "u1" }) {
		t.Errorf("links after forget = %v", links)
	}
}
