package storetest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
)

// testSearch checks accounts and users are found by a part of their id or
// of their name (accounts) or email (users) trait, case-insensitively,
// with LIKE's wildcards taken literally, in id order and within the limit.
func testSearch(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ingest(t, s,
		call(trackplan.Group, "g1", "u-alice", "acme", t0, map[string]any{"name": "Acme Corp"}),
		call(trackplan.Group, "g2", "u-bob", "globex", t0, map[string]any{"name": "Globex 100%"}),
		call(trackplan.Group, "g3", "u-bob", "ACME_2", t0, map[string]any{"name": 42}),
		call(trackplan.Group, "g4", "u-bob", "initech", t0, nil),
		call(trackplan.Identify, "i1", "u-alice", "", t0, map[string]any{"email": "Alice@Example.com"}),
		call(trackplan.Identify, "i2", "u-bob", "", t0, map[string]any{"email": "bob@corp.io"}),
		call(trackplan.Identify, "i3", "u-carol", "", t0, map[string]any{"email": []any{"x@example.com"}}),
	)
	ctx := context.Background()
	accounts := []struct {
		text  string
		limit int
		want  []store.Match
	}{
		{"acme", 10, []store.Match{{ID: "ACME_2"}, {ID: "acme", Label: "Acme Corp"}}},
		{"CORP", 10, []store.Match{{ID: "acme", Label: "Acme Corp"}}},
		{"100%", 10, []store.Match{{ID: "globex", Label: "Globex 100%"}}},
		{"%", 10, []store.Match{{ID: "globex", Label: "Globex 100%"}}},
		{"e_2", 10, []store.Match{{ID: "ACME_2"}}},
		{"42", 10, nil}, // a number is no name
		{"", 2, []store.Match{{ID: "ACME_2"}, {ID: "acme", Label: "Acme Corp"}}},
		{"nothing", 10, nil},
	}
	for _, tt := range accounts {
		got, err := s.SearchAccounts(ctx, tt.text, "name", tt.limit)
		if err != nil {
			t.Fatalf("SearchAccounts(%q): %v", tt.text, err)
		}
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("SearchAccounts(%q, limit %d) (-want +got):\n%s", tt.text, tt.limit, diff)
		}
	}
	users := []struct {
		text string
		want []store.Match
	}{
		{"ALICE", []store.Match{{ID: "u-alice", Label: "Alice@Example.com"}}},
		{"example.com", []store.Match{{ID: "u-alice", Label: "Alice@Example.com"}}}, // not u-carol's list
		{"u-", []store.Match{{ID: "u-alice", Label: "Alice@Example.com"}, {ID: "u-bob", Label: "bob@corp.io"}, {ID: "u-carol"}}},
		{"corp", []store.Match{{ID: "u-bob", Label: "bob@corp.io"}}},
		{"_", nil},
	}
	for _, tt := range users {
		got, err := s.SearchUsers(ctx, tt.text, 10)
		if err != nil {
			t.Fatalf("SearchUsers(%q): %v", tt.text, err)
		}
		if diff := cmp.Diff(tt.want, got, cmpEmpty); diff != "" {
			t.Errorf("SearchUsers(%q) (-want +got):\n%s", tt.text, diff)
		}
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.Transformer("empty", func(m []store.Match) []store.Match {
	if len(m) == 0 {
		return nil
	}
	return m
})
