package storetest

import (
	stdcmp "cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan/store"
)

// testLedgerRetire checks LedgerRetire: the entries and failures of the
// given keys go, in one call; other keys, kinds and profiles stay; unknown
// keys and an empty call are no-ops.
func testLedgerRetire(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := context.Background()
	keysOf := func(profile string) (entries, failures []store.LedgerKey) {
		t.Helper()
		if err := s.LedgerLoad(ctx, profile, func(e store.LedgerEntry) error {
			entries = append(entries, e.LedgerKey)
			return nil
		}); err != nil {
			t.Fatalf("LedgerLoad %s: %v", profile, err)
		}
		if err := s.LedgerFailures(ctx, profile, func(f store.LedgerFailure) error {
			failures = append(failures, f.LedgerKey)
			return nil
		}); err != nil {
			t.Fatalf("LedgerFailures %s: %v", profile, err)
		}
		sortKeys := func(k []store.LedgerKey) {
			slices.SortFunc(k, func(a, b store.LedgerKey) int {
				return stdcmp.Or(stdcmp.Compare(a.Kind, b.Kind), stdcmp.Compare(a.ID, b.ID))
			})
		}
		sortKeys(entries)
		sortKeys(failures)
		return entries, failures
	}
	account := func(id string) store.LedgerKey { return store.LedgerKey{Kind: store.EntityAccount, ID: id} }
	user := func(id string) store.LedgerKey { return store.LedgerKey{Kind: store.EntityUser, ID: id} }
	entry := func(k store.LedgerKey) store.LedgerEntry {
		return store.LedgerEntry{LedgerKey: k, Digest: "d-" + k.ID, MessageID: "m-" + k.ID,
			Traits: json.RawMessage(`{"engagement_score": 1}`), AckedAt: t0}
	}
	failure := func(k store.LedgerKey) store.LedgerFailure {
		return store.LedgerFailure{LedgerKey: k, MessageID: "f-" + k.ID, Status: store.FailurePending, Reason: "http_503",
			Error: "deliver message: http_503", LastFailed: t0}
	}

	acme, beta, gamma := account("acme"), account("beta"), account("gamma")
	// The same id as a user: another key, which must stay.
	u1, old2, acmeUser := user("u1"), user("old2"), user("acme")
	for _, profile := range []string{"default", "trial"} {
		if err := s.LedgerAck(ctx, profile, []store.LedgerEntry{entry(acme), entry(beta), entry(u1), entry(old2), entry(acmeUser)}); err != nil {
			t.Fatal(err)
		}
		// beta failed after its acknowledgement, gamma was never
		// acknowledged.
		if err := s.LedgerFail(ctx, profile, []store.LedgerFailure{failure(beta), failure(gamma), failure(old2)}); err != nil {
			t.Fatal(err)
		}
	}

	// Retire an entry without failure, an entry with one, a failure
	// without entry, and a key the ledger never held.
	if err := s.LedgerRetire(ctx, "default", []store.LedgerKey{acme, beta, gamma, old2, user("nobody")}); err != nil {
		t.Fatalf("LedgerRetire: %v", err)
	}
	entries, failures := keysOf("default")
	if diff := cmp.Diff([]store.LedgerKey{acmeUser, u1}, entries); diff != "" {
		t.Errorf("entries after the retirement (-want +got):\n%s", diff)
	}
	if len(failures) != 0 {
		t.Errorf("failures after the retirement: %v; want none", failures)
	}
	entries, failures = keysOf("trial")
	if diff := cmp.Diff([]store.LedgerKey{acme, beta, acmeUser, old2, u1}, entries); diff != "" {
		t.Errorf("another profile's entries must stay (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]store.LedgerKey{beta, gamma, old2}, failures); diff != "" {
		t.Errorf("another profile's failures must stay (-want +got):\n%s", diff)
	}

	// Retired keys come back as new ones: a failure starts at one attempt.
	if err := s.LedgerFail(ctx, "default", []store.LedgerFailure{failure(beta)}); err != nil {
		t.Fatal(err)
	}
	var attempts int
	if err := s.LedgerFailures(ctx, "default", func(f store.LedgerFailure) error {
		attempts = f.Attempts
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if attempts != 1 {
		t.Errorf("a failure after the retirement has %d attempts; want 1", attempts)
	}

	// Many keys in one call (more than one statement's worth).
	var many []store.LedgerEntry
	var keys []store.LedgerKey
	for i := range 5200 {
		k := user(fmt.Sprintf("bulk-%05d", i))
		many = append(many, entry(k))
		if i%2 == 0 {
			keys = append(keys, k)
		}
	}
	if err := s.LedgerAck(ctx, "bulk", many); err != nil {
		t.Fatal(err)
	}
	if err := s.LedgerRetire(ctx, "bulk", keys); err != nil {
		t.Fatalf("bulk LedgerRetire: %v", err)
	}
	if entries, _ := keysOf("bulk"); len(entries) != len(many)-len(keys) {
		t.Errorf("bulk ledger has %d entries after the retirement; want %d", len(entries), len(many)-len(keys))
	}

	// An empty call is a no-op.
	if err := s.LedgerRetire(ctx, "default", nil); err != nil {
		t.Errorf("empty LedgerRetire: %v", err)
	}
	if entries, _ := keysOf("default"); len(entries) != 2 {
		t.Errorf("an empty retirement changed the ledger: %v", entries)
	}
}
