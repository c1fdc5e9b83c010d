package scoring

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
)

// randomFake returns a random population: up to 60 users in up to 8
// accounts doing 4 events over the two time frames of a 7-day profile, with
// skewed counts.
func randomFake(r *rand.Rand) *fakeSource {
	f := newFake()
	users := 1 + r.IntN(60)
	events := []string{"A", "B", "C", "D"}
	for u := range users {
		id := fmt.Sprintf("u%02d", u)
		f.did(id, "Seen", at.Add(-time.Duration(r.IntN(80*24))*time.Hour), 1)
		if r.IntN(4) > 0 {
			f.member(id, fmt.Sprintf("acct%d", r.IntN(8)))
		}
		for range r.IntN(12) {
			n := int64(1 + r.ExpFloat64()*float64(1+r.IntN(50)))
			f.did(id, events[r.IntN(len(events))], at.Add(-time.Duration(1+r.IntN(14*24*60))*time.Minute), n)
		}
	}
	return f
}

var propertyProfile = &trackplan.Profile{Name: "prop", Events: map[string]int{"A": 1, "B": 3, "C": 7, "D": 10}}

// p90Float is the textbook percentile: linear interpolation between closest
// ranks, in floating point.
func p90Float(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	h := 0.9 * float64(len(s)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(s) {
		return float64(s[lo])
	}
	return float64(s[lo]) + (h-float64(lo))*float64(s[lo+1]-s[lo])
}

func TestScoreProperties(t *testing.T) {
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 42))
		f := randomFake(r)
		run := f.score(t, at, propertyProfile)

		var raws []int64
		for _, u := range run.Users {
			if u.Score < 0 || u.Score > 100 {
				t.Fatalf("seed %d: %s scores %d", seed, u.ID, u.Score)
			}
			if u.Active != (u.Raw > 0) || u.Active && u.Score < 1 || !u.Active && u.Score != 0 {
				t.Fatalf("seed %d: %s raw %d active %v score %d", seed, u.ID, u.Raw, u.Active, u.Score)
			}
			if u.Active {
				raws = append(raws, u.Raw)
			}
		}
		if want := p90Float(raws); math.Abs(run.P90-want) > 1e-9*max(1, want) {
			t.Fatalf("seed %d: P90 = %v, float reference %v", seed, run.P90, want)
		}

		// Normalised scores keep the order of raw scores.
		users := slices.Clone(run.Users)
		sort.Slice(users, func(i, j int) bool { return users[i].Raw < users[j].Raw })
		for i := 1; i < len(users); i++ {
			a, b := users[i-1], users[i]
			if a.Score > b.Score || a.Raw == b.Raw && a.Score != b.Score {
				t.Fatalf("seed %d: raw %d scores %d but raw %d scores %d", seed, a.Raw, a.Score, b.Raw, b.Score)
			}
		}

		// One more scored event in the time frame never lowers a raw
		// score and changes no other user's.
		victim := run.Users[r.IntN(len(run.Users))].ID
		f.did(victim, "ABCD"[r.IntN(4):][:1], at.Add(-time.Duration(1+r.IntN(7*24*60))*time.Minute), 1)
		after := usersByID(f.score(t, at, propertyProfile))
		for _, u := range run.Users {
			got := after[u.ID].Raw
			switch {
			case u.ID == victim && got <= u.Raw:
				t.Fatalf("seed %d: %s raw %d → %d after one more event", seed, u.ID, u.Raw, got)
			case u.ID != victim && got != u.Raw:
				t.Fatalf("seed %d: %s raw %d → %d after another user's event", seed, u.ID, u.Raw, got)
			}
		}
	}
}
