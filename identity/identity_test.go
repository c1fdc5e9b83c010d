package identity_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan/identity"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// link is one message that links id to user at t0 plus min minutes.
type link struct {
	id, user string
	min      int
}

func build(links []link) *identity.Graph {
	g := identity.New(len(links))
	for _, l := range links {
		g.Add(l.id, l.user, t0.Add(time.Duration(l.min)*time.Minute))
	}
	return g
}

func TestGraph(t *testing.T) {
	tests := []struct {
		name      string
		links     []link
		resolve   map[string]string // id → what it resolves to
		members   map[string][]string
		conflicts int
	}{
		{
			name:    "identify links an anonymous id to the user",
			links:   []link{{"anon-1", "u1", 0}},
			resolve: map[string]string{"anon-1": "u1", "u1": "u1", "stranger": "stranger"},
			members: map[string][]string{"u1": {"anon-1"}},
		},
		{
			name:    "an alias chain resolves to the latest userId",
			links:   []link{{"a", "b", 0}, {"b", "c", 5}},
			resolve: map[string]string{"a": "c", "b": "c", "c": "c"},
			members: map[string][]string{"c": {"a", "b"}, "b": nil},
		},
		{
			name:    "an alias after the activity links the old id",
			links:   []link{{"anon-9", "old2", 0}, {"old2", "u2", 60}},
			resolve: map[string]string{"anon-9": "u2", "old2": "u2"},
			members: map[string][]string{"u2": {"anon-9", "old2"}},
		},
		{
			name:      "a shared device keeps its first user",
			links:     []link{{"device", "alice", 0}, {"device", "bob", 10}},
			resolve:   map[string]string{"device": "alice", "bob": "bob"},
			members:   map[string][]string{"alice": {"device"}, "bob": nil},
			conflicts: 1,
		},
		{
			name:      "a late message with an earlier time changes the first user",
			links:     []link{{"device", "alice", 10}, {"device", "bob", 0}},
			resolve:   map[string]string{"device": "bob"},
			conflicts: 1,
		},
		{
			name:      "a tie in time goes to the smaller userId",
			links:     []link{{"device", "zed", 0}, {"device", "amy", 0}},
			resolve:   map[string]string{"device": "amy"},
			conflicts: 1,
		},
		{
			name:    "a link to an id that was itself merged",
			links:   []link{{"old", "new", 0}, {"anon", "old", 30}},
			resolve: map[string]string{"anon": "new", "old": "new"},
			members: map[string][]string{"new": {"anon", "old"}},
		},
		{
			name:    "a repeated link keeps its earliest time and is no conflict",
			links:   []link{{"anon", "u1", 30}, {"anon", "u1", 0}, {"anon", "u1", 60}},
			resolve: map[string]string{"anon": "u1"},
		},
		{
			name:    "a cycle resolves to the target of its latest link",
			links:   []link{{"a", "b", 0}, {"b", "a", 10}},
			resolve: map[string]string{"a": "a", "b": "a"},
			members: map[string][]string{"a": {"b"}},
		},
		{
			name:    "self links and empty ids are ignored",
			links:   []link{{"u1", "u1", 0}, {"", "u1", 0}, {"anon", "", 0}},
			resolve: map[string]string{"u1": "u1", "anon": "anon"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Idempotence: the same links in any order give the same
			// graph.
			rng := rand.New(rand.NewPCG(1, 2))
			for round := range 6 {
				links := slices.Clone(tt.links)
				if round > 0 {
					rng.Shuffle(len(links), func(i, j int) { links[i], links[j] = links[j], links[i] })
				}
				g := build(links)
				for id, want := range tt.resolve {
					if got := g.Resolve(id); got != want {
						t.Errorf("order %v: Resolve(%q) = %q, want %q", links, id, got, want)
					}
					if got := g.Merged(id); got != (want != id) {
						t.Errorf("order %v: Merged(%q) = %v", links, id, got)
					}
				}
				for root, want := range tt.members {
					if diff := cmp.Diff(want, g.Members(root)); diff != "" {
						t.Errorf("order %v: Members(%q) (-want +got):\n%s", links, root, diff)
					}
				}
				if got := g.Stats().Conflicts; got != tt.conflicts {
					t.Errorf("order %v: %d conflicts, want %d", links, got, tt.conflicts)
				}
			}
		})
	}
}

func TestGraphStats(t *testing.T) {
	g := build([]link{{"a1", "u1", 0}, {"a2", "u1", 0}, {"u1", "u9", 5}, {"dev", "u1", 0}, {"dev", "u2", 1}})
	want := identity.Stats{IDs: 6, Merged: 4, Conflicts: 1}
	if got := g.Stats(); got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if g.Len() != 6 {
		t.Errorf("Len = %d, want 6", g.Len())
	}
}

// TestGraphAddAfterRead: a link added after a read is followed by the next
// read.
func TestGraphAddAfterRead(t *testing.T) {
	g := build([]link{{"anon", "u1", 0}})
	if g.Resolve("anon") != "u1" {
		t.Fatal("anon not linked")
	}
	g.Add("u1", "u2", t0)
	if got := g.Resolve("anon"); got != "u2" {
		t.Errorf("after a new alias, Resolve(anon) = %q, want u2", got)
	}
}

type links []link

func (ls links) IdentityLinks(ctx context.Context, fn func(id, userID string, at time.Time) error) error {
	for _, l := range ls {
		if err := fn(l.id, l.user, t0.Add(time.Duration(l.min)*time.Minute)); err != nil {
			return err
		}
	}
	return nil
}

type failing struct{}

func (failing) IdentityLinks(context.Context, func(string, string, time.Time) error) error {
	return errors.New("disk on fire")
}

func TestLoad(t *testing.T) {
	g, err := identity.Load(context.Background(), links{{"a", "b", 0}, {"b", "c", 1}})
	if err != nil || g.Resolve("a") != "c" {
		t.Errorf("Load = %v, Resolve(a) = %q", err, g.Resolve("a"))
	}
	if _, err := identity.Load(context.Background(), failing{}); err == nil || err.Error() != "load identity links: disk on fire" {
		t.Errorf("Load error = %v", err)
	}
}
