package scoring

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/trackplan/trackplan"
)

// at is the run time of most tests: a midnight, so the 7-day time frame is
// [2024-03-08, 2024-03-15) and the one before [2024-03-01, 2024-03-08).
var at = ts("2024-03-15T00:00:00Z")

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func tp(s string) *time.Time { return ptr(ts(s)) }

func profile(events map[string]int) *trackplan.Profile {
	return &trackplan.Profile{Name: "test", Events: events}
}

// TestScoreWorkedExample checks every field of a small run against values
// worked out by hand.
func TestScoreWorkedExample(t *testing.T) {
	p := profile(map[string]int{"A": 10, "B": 5, "C": 1})
	f := newFake().
		// u1: 3×A + 2×B = 40, on two days.
		did("u1", "A", ts("2024-03-14T10:00:00Z"), 3).
		did("u1", "B", ts("2024-03-13T09:00:00Z"), 2).
		userTrait("u1", "created_at", `"2024-03-10T00:00:00Z"`).
		// u2: 20×C = 20; A long ago counts for all-time adoption only.
		did("u2", "C", ts("2024-03-09T12:00:00Z"), 20).
		did("u2", "A", ts("2023-12-01T00:00:00Z"), 1).
		userTrait("u2", "created_at", `"2023-01-01"`).
		// u3: 2×B = 10.
		did("u3", "B", ts("2024-03-10T08:00:00Z"), 2).
		// u4: 1×B = 5, exactly at the start of the time frame.
		did("u4", "B", ts("2024-03-08T00:00:00Z"), 1).
		// u5: active only in the time frame before (2×C).
		did("u5", "C", ts("2024-03-05T15:00:00Z"), 2).
		// u6: only an unscored event.
		did("u6", "Logged In", ts("2024-03-12T00:00:00Z"), 1).
		member("u1", "acme").member("u2", "acme").member("u5", "acme").
		member("u3", "beta").member("u4", "beta").
		member("u6", "gamma").
		acctTrait("acme", "name", `"Acme Inc"`)
	run := f.score(t, at, p)

	// Active raws [5 10 20 40]: h = 0.9×3 = 2.7, P90 = 20 + 0.7×(40−20) = 34.
	// Scores: 40 → 100 (cap); 20/34 = 58.8 → 59; 10/34 = 29.4 → 29;
	// 5/34 = 14.7 → 15. The time frame before has only u5 active (raw 2 =
	// P90 → 100), so every trend is against 0 except u5's.
	third, twoThirds := 33.3, 66.7
	want := &trackplan.ScoreRun{
		Profile: "test", At: at, WindowDays: 7,
		WindowStart: ts("2024-03-08T00:00:00Z"), WindowEnd: ts("2024-03-15T00:00:00Z"),
		P90: 34, ActiveUsers: 4,
		Users: []trackplan.UserScore{
			{ID: "u1", Raw: 40, Score: 100, Active: true, Frequency: 2, LastActive: tp("2024-03-14T10:00:00Z"),
				Band: trackplan.BandMostEngaged, Trend: trackplan.Trend{Change: 100, Flag: trackplan.TrendHot},
				Accounts: []string{"acme"}, Adoption: trackplan.Adoption{Window: twoThirds, AllTime: twoThirds}, Flags: trackplan.FlagNew},
			{ID: "u2", Raw: 20, Score: 59, Active: true, Frequency: 1, LastActive: tp("2024-03-09T12:00:00Z"),
				Band: trackplan.BandEngaged, Trend: trackplan.Trend{Change: 59, Flag: trackplan.TrendHot},
				Accounts: []string{"acme"}, Adoption: trackplan.Adoption{Window: third, AllTime: twoThirds}, Flags: trackplan.FlagMature},
			{ID: "u3", Raw: 10, Score: 29, Active: true, Frequency: 1, LastActive: tp("2024-03-10T08:00:00Z"),
				Band: trackplan.BandPassive, Trend: trackplan.Trend{Change: 29, Flag: trackplan.TrendHot},
				Accounts: []string{"beta"}, Adoption: trackplan.Adoption{Window: third, AllTime: third}, Flags: trackplan.FlagNew},
			{ID: "u4", Raw: 5, Score: 15, Active: true, Frequency: 1, LastActive: tp("2024-03-08T00:00:00Z"),
				Band: trackplan.BandLeastEngaged, Trend: trackplan.Trend{Change: 15, Flag: trackplan.TrendHot},
				Accounts: []string{"beta"}, Adoption: trackplan.Adoption{Window: third, AllTime: third}, Flags: trackplan.FlagNew},
			{ID: "u5", Raw: 0, Score: 0, Active: false, Frequency: 0, LastActive: tp("2024-03-05T15:00:00Z"),
				Band: trackplan.BandInactive, Trend: trackplan.Trend{Change: -100, Flag: trackplan.TrendCold},
				Accounts: []string{"acme"}, Adoption: trackplan.Adoption{Window: 0, AllTime: third}},
			{ID: "u6", Band: trackplan.BandInactive, Accounts: []string{"gamma"}, Flags: trackplan.FlagNew},
		},
		Accounts: []trackplan.AccountScore{
			// (100 + 59) / 2 = 79.5; the time frame before averaged 100 (u5).
			{ID: "acme", Name: "Acme Inc", AverageScore: 79.5, TotalScore: 159, Band: trackplan.BandMostEngaged,
				Trend:       trackplan.Trend{Change: -20.5, Flag: trackplan.TrendCold},
				ActiveUsers: 2, TotalUsers: 3, ActivePct: 66.7, Frequency: 3, LastActive: tp("2024-03-14T10:00:00Z"),
				Adoption: trackplan.Adoption{Window: 100, AllTime: 100},
				// created_at falls back to the earliest user's (u2, 2023-01-01).
				Flags: trackplan.FlagMature | trackplan.FlagMultiUser, LastActiveUser: "u1"},
			// (29 + 15) / 2 = 22; created at u4's first event, the start.
			{ID: "beta", Name: "beta", AverageScore: 22, TotalScore: 44, Band: trackplan.BandLeastEngaged,
				Trend:       trackplan.Trend{Change: 22, Flag: trackplan.TrendHot},
				ActiveUsers: 2, TotalUsers: 2, ActivePct: 100, Frequency: 2, LastActive: tp("2024-03-10T08:00:00Z"),
				Adoption: trackplan.Adoption{Window: third, AllTime: third},
				Flags:    trackplan.FlagNew | trackplan.FlagMultiUser, LastActiveUser: "u3"},
			{ID: "gamma", Name: "gamma", Band: trackplan.BandInactive, TotalUsers: 1, Flags: trackplan.FlagNew},
		},
	}
	if diff := cmp.Diff(want, run); diff != "" {
		t.Errorf("run (-want +got):\n%s", diff)
	}
}

// rawRun scores a population whose user i has raw score raws[i] (event E,
// weight 1, on one day of the time frame). Users with 0 do an unscored event
// so that they are listed. Users are "u0000", "u0001", … in order.
func rawRun(t *testing.T, raws []int64) *trackplan.ScoreRun {
	t.Helper()
	f := newFake()
	for i, r := range raws {
		id := fmt.Sprintf("u%04d", i)
		if r > 0 {
			f.did(id, "E", ts("2024-03-14T12:00:00Z"), r)
		} else {
			f.did(id, "Other", ts("2024-03-14T12:00:00Z"), 1)
		}
	}
	return f.score(t, at, profile(map[string]int{"E": 1}))
}

func scoresOf(run *trackplan.ScoreRun) []int {
	s := make([]int, len(run.Users))
	for i, u := range run.Users {
		s[i] = u.Score
	}
	return s
}

func seq(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

func TestScoreNormalisation(t *testing.T) {
	tests := []struct {
		name  string
		raws  []int64
		p90   float64
		want  []int       // every score, when set
		check map[int]int // index → score, when want is nil
	}{
		{name: "n=1", raws: []int64{7}, p90: 7, want: []int{100}},
		// h = 0.9: 1 + 0.9×(2−1) = 1.9; 1/1.9 = 52.6.
		{name: "n=2", raws: []int64{1, 2}, p90: 1.9, want: []int{53, 100}},
		{name: "n=2 reversed", raws: []int64{2, 1}, p90: 1.9, want: []int{100, 53}},
		{name: "all equal", raws: []int64{3, 3, 3}, p90: 3, want: []int{100, 100, 100}},
		// h = 8.1 over [1×9, 10]: 1 + 0.1×9 = 1.9.
		{name: "ties", raws: []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 10}, p90: 1.9, want: []int{53, 53, 53, 53, 53, 53, 53, 53, 53, 100}},
		// h = 8.1 over 1..10: 9 + 0.1 = 9.1.
		{name: "1..10", raws: seq(1, 10), p90: 9.1, want: []int{11, 22, 33, 44, 55, 66, 77, 88, 99, 100}},
		// h = 9 over 1..11: exactly the 10th value.
		{name: "1..11", raws: seq(1, 11), p90: 10, want: []int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100}},
		// h = 89.1 over 1..100: 90 + 0.1 = 90.1.
		{name: "1..100", raws: seq(1, 100), p90: 90.1, check: map[int]int{0: 1, 44: 50, 45: 51, 89: 100, 90: 100, 99: 100}},
		// h = 900 over 0..1000 (raw i+1): value 901.
		{name: "1..1001", raws: seq(1, 1001), p90: 901, check: map[int]int{0: 1, 4: 1, 5: 1, 449: 50, 450: 50, 451: 50, 900: 100}},
		// Scores above the P90 are capped at 100.
		{name: "cap", raws: append(seq(1, 10), 1000), p90: 10, want: []int{10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 100}},
		// 1/2000 = 0.05 and 9/2000 = 0.45 would round to 0: an active
		// user scores at least 1. 10/2000 = 0.5 rounds half up to 1.
		{name: "floor of 1", raws: []int64{1, 9, 10, 2000, 2000}, p90: 2000, want: []int{1, 1, 1, 100, 100}},
		// 1/8 = 12.5 → 13; 3/8 = 37.5 → 38; 5/8 = 62.5 → 63 (half up).
		{name: "half up", raws: []int64{1, 3, 5, 8, 8, 8}, p90: 8, want: []int{13, 38, 63, 100, 100, 100}},
		// h = 1.8: 8 + 0.8×1 = 8.8; 1/8.8 = 11.4 → 11; 8/8.8 = 90.9 → 91.
		{name: "below half", raws: []int64{1, 8, 9}, p90: 8.8, want: []int{11, 91, 100}},
		{name: "inactive", raws: []int64{0, 4, 0}, p90: 4, want: []int{0, 100, 0}},
		{name: "nobody active", raws: []int64{0, 0}, p90: 0, want: []int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := rawRun(t, tt.raws)
			if run.P90 != tt.p90 {
				t.Errorf("P90 = %v, want %v", run.P90, tt.p90)
			}
			got := scoresOf(run)
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("scores (-want +got):\n%s", diff)
				}
			}
			for i, want := range tt.check {
				if got[i] != want {
					t.Errorf("score of raw %d = %d, want %d", tt.raws[i], got[i], want)
				}
			}
			for i, u := range run.Users {
				if u.Active != (tt.raws[i] > 0) || u.Raw != tt.raws[i] {
					t.Errorf("user %s: raw %d active %v, want raw %d", u.ID, u.Raw, u.Active, tt.raws[i])
				}
			}
		})
	}
}

func TestScoreP90(t *testing.T) {
	tests := []struct {
		xs   []int64
		want int64 // 10 × P90
	}{
		{nil, 0},
		{[]int64{5}, 50},
		{[]int64{1, 2}, 19},
		{[]int64{4, 4, 4, 4}, 40},
		{[]int64{10, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 19},
		{seq(1, 10), 91},
		{seq(1, 11), 100},
		{seq(0, 100), 900},
		{[]int64{3, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 1}, 29}, // h = 9.9: x[9] = 2, x[10] = 3 → 2.9
	}
	for _, tt := range tests {
		if got := p90x10(append([]int64(nil), tt.xs...)); got != tt.want {
			t.Errorf("p90x10(%v) = %d, want %d", tt.xs, got, tt.want)
		}
	}
}

func TestScoreOfRounding(t *testing.T) {
	tests := []struct {
		raw, p10 int64
		want     int
	}{
		{0, 80, 0},
		{5, 0, 0},
		{1, 80, 13},   // 12.5 → 13
		{3, 80, 38},   // 37.5 → 38
		{1, 81, 12},   // 12.35 → 12
		{8, 80, 100},  // = P90
		{16, 80, 100}, // 2×P90, capped
		{79, 800, 99}, // 98.75 → 99
		{1, 19, 53},   // 1/1.9
		{1, 20000, 1}, // 0.05 → floor 1
		{1, 2000, 1},  // 0.5 → 1
		{3, 2000, 2},  // 1.5 → 2
		{maxRaw - 1, 10 * maxRaw, 100},
		{1, 10 * maxRaw, 1},
	}
	for _, tt := range tests {
		if got := scoreOf(tt.raw, tt.p10); got != tt.want {
			t.Errorf("scoreOf(%d, P90 %v) = %d, want %d", tt.raw, float64(tt.p10)/10, got, tt.want)
		}
	}
}

func TestScoreWindowEdges(t *testing.T) {
	p := &trackplan.Profile{Name: "daily", Events: map[string]int{"E": 1}, WindowDays: 1}
	f := newFake().
		did("before-start", "E", ts("2024-03-13T23:59:59.999Z"), 1).
		did("at-start", "E", ts("2024-03-14T00:00:00Z"), 1).
		did("before-end", "E", ts("2024-03-14T23:59:59.999Z"), 1).
		did("at-end", "E", ts("2024-03-15T00:00:00Z"), 1).
		did("after-end", "E", ts("2024-03-15T09:00:00Z"), 1)
	ny := time.FixedZone("EST", -5*3600)
	tokyo := time.FixedZone("JST", 9*3600)
	inWindow := []string{"at-start", "before-end"}
	tests := []struct {
		name   string
		at     time.Time
		active []string
	}{
		{"midnight UTC", at, inWindow},
		{"later the same UTC day", ts("2024-03-15T23:59:59Z"), inWindow},
		{"local zone, same UTC day", time.Date(2024, 3, 14, 20, 0, 0, 0, ny), inWindow},                      // 01:00 UTC on the 15th
		{"local zone, next local day", time.Date(2024, 3, 15, 8, 59, 0, 0, tokyo), []string{"before-start"}}, // 23:59 UTC on the 14th
		{"one second before midnight", ts("2024-03-14T23:59:59Z"), []string{"before-start"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := f.score(t, tt.at, p)
			start, end := trackplan.ScoreWindow(tt.at, 1)
			if !run.WindowStart.Equal(start) || !run.WindowEnd.Equal(end) || run.WindowStart.Location() != time.UTC {
				t.Errorf("window [%v, %v), want [%v, %v) in UTC", run.WindowStart, run.WindowEnd, start, end)
			}
			var active []string
			for _, u := range run.Users {
				if u.Active {
					active = append(active, u.ID)
				}
			}
			if diff := cmp.Diff(tt.active, active); diff != "" {
				t.Errorf("active users (-want +got):\n%s", diff)
			}
		})
	}

	// The last-active time is the last scored event before at, even on the
	// day of at, outside the time frame.
	run := f.score(t, ts("2024-03-15T10:00:00Z"), p)
	if got := usersByID(run)["after-end"]; got.Active || got.LastActive == nil || !got.LastActive.Equal(ts("2024-03-15T09:00:00Z")) {
		t.Errorf("after-end: active %v, last active %v; want inactive, last active 09:00", got.Active, got.LastActive)
	}
}

func TestScoreDefaultWindow(t *testing.T) {
	f := newFake().
		did("in", "E", ts("2024-03-08T00:00:00Z"), 1).
		did("out", "E", ts("2024-03-07T23:00:00Z"), 1)
	run := f.score(t, at, profile(map[string]int{"E": 1}))
	if run.WindowDays != 7 || !usersByID(run)["in"].Active || usersByID(run)["out"].Active {
		t.Errorf("window %d days, in active %v, out active %v; want 7, true, false",
			run.WindowDays, usersByID(run)["in"].Active, usersByID(run)["out"].Active)
	}
	p30 := &trackplan.Profile{Name: "monthly", Events: map[string]int{"E": 1}, WindowDays: 30}
	run = f.score(t, at, p30)
	if !usersByID(run)["out"].Active || run.WindowStart != ts("2024-02-14T00:00:00Z") {
		t.Errorf("30-day window from %v, out active %v", run.WindowStart, usersByID(run)["out"].Active)
	}
}

func TestScoreBands(t *testing.T) {
	// P90 = 100 (h = 6.3 over [24 25 49 50 74 75 100 100]), so score = raw.
	raws := []int64{75, 74, 50, 49, 25, 24, 100, 100, 0}
	f := newFake()
	accts := []string{"a75", "a74", "a50", "a49", "a25", "a24", "a100", "a100", "a0"}
	for i, r := range raws {
		id := fmt.Sprintf("u%d", i)
		if r > 0 {
			f.did(id, "E", ts("2024-03-14T12:00:00Z"), r)
		} else {
			f.did(id, "Other", ts("2024-03-14T12:00:00Z"), 1)
		}
		f.member(id, accts[i])
	}
	// Account averages: 74.5 and 49.5 and 24.5 sit just below a boundary.
	f.member("u0", "avg74.5").member("u1", "avg74.5").
		member("u2", "avg49.5").member("u3", "avg49.5").
		member("u4", "avg24.5").member("u5", "avg24.5")
	run := f.score(t, at, profile(map[string]int{"E": 1}))
	if run.P90 != 100 {
		t.Fatalf("P90 = %v, want 100", run.P90)
	}
	wantUsers := map[string]trackplan.Band{
		"u0": trackplan.BandMostEngaged, "u1": trackplan.BandEngaged, "u2": trackplan.BandEngaged,
		"u3": trackplan.BandPassive, "u4": trackplan.BandPassive, "u5": trackplan.BandLeastEngaged,
		"u6": trackplan.BandMostEngaged, "u7": trackplan.BandMostEngaged, "u8": trackplan.BandInactive,
	}
	gotUsers := map[string]trackplan.Band{}
	for _, u := range run.Users {
		gotUsers[u.ID] = u.Band
	}
	if diff := cmp.Diff(wantUsers, gotUsers); diff != "" {
		t.Errorf("user bands (-want +got):\n%s", diff)
	}
	wantAccts := map[string]trackplan.Band{
		"a75": trackplan.BandMostEngaged, "a74": trackplan.BandEngaged, "a50": trackplan.BandEngaged,
		"a49": trackplan.BandPassive, "a25": trackplan.BandPassive, "a24": trackplan.BandLeastEngaged,
		"a100": trackplan.BandMostEngaged, "a0": trackplan.BandInactive,
		"avg74.5": trackplan.BandEngaged, "avg49.5": trackplan.BandPassive, "avg24.5": trackplan.BandLeastEngaged,
	}
	gotAccts := map[string]trackplan.Band{}
	for _, a := range run.Accounts {
		gotAccts[a.ID] = a.Band
		if strings.HasPrefix(a.ID, "avg") && fmt.Sprint(a.AverageScore) != strings.TrimPrefix(a.ID, "avg") {
			t.Errorf("%s: average %v", a.ID, a.AverageScore)
		}
	}
	if diff := cmp.Diff(wantAccts, gotAccts); diff != "" {
		t.Errorf("account bands (-want +got):\n%s", diff)
	}
}

func TestScoreTrendThresholds(t *testing.T) {
	// a–d score 50 and e, f 100: P90 = 100 (h = 4.5 over [50 50 50 50 100 100]).
	f := newFake()
	for id, raw := range map[string]int64{"a": 50, "b": 50, "c": 50, "d": 50, "e": 100, "f": 100} {
		f.did(id, "E", ts("2024-03-14T12:00:00Z"), raw)
	}
	f.member("a", "X").member("b", "Z").member("c", "Y").member("d", "W")
	p := profile(map[string]int{"E": 1})
	before := &trackplan.ScoreRun{
		Users: []trackplan.UserScore{{ID: "a", Score: 40}, {ID: "b", Score: 41}, {ID: "c", Score: 60}, {ID: "d", Score: 59}, {ID: "e", Score: 90}},
		Accounts: []trackplan.AccountScore{
			{ID: "X", AverageScore: 40}, {ID: "Y", AverageScore: 60}, {ID: "Z", AverageScore: 40.1}, {ID: "W", AverageScore: 59.9},
		},
	}
	run, err := Score(f.load(t, at, "", p), p, at, PreviousFromRun(before))
	if err != nil {
		t.Fatal(err)
	}
	hot, cold := trackplan.TrendHot, trackplan.TrendCold
	wantUsers := map[string]trackplan.Trend{
		"a": {Change: 10, Flag: hot}, "b": {Change: 9}, "c": {Change: -10, Flag: cold}, "d": {Change: -9},
		"e": {Change: 10, Flag: hot}, "f": {Change: 100, Flag: hot},
	}
	gotUsers := map[string]trackplan.Trend{}
	for _, u := range run.Users {
		gotUsers[u.ID] = u.Trend
	}
	if diff := cmp.Diff(wantUsers, gotUsers); diff != "" {
		t.Errorf("user trends (-want +got):\n%s", diff)
	}
	wantAccts := map[string]trackplan.Trend{
		"X": {Change: 10, Flag: hot}, "Y": {Change: -10, Flag: cold}, "Z": {Change: 9.9}, "W": {Change: -9.9},
	}
	gotAccts := map[string]trackplan.Trend{}
	for _, a := range run.Accounts {
		gotAccts[a.ID] = a.Trend
	}
	if diff := cmp.Diff(wantAccts, gotAccts); diff != "" {
		t.Errorf("account trends (-want +got):\n%s", diff)
	}
}

func TestScoreExclusions(t *testing.T) {
	f := newFake().
		did("alice", "E", ts("2024-03-14T12:00:00Z"), 10).member("alice", "cust").
		did("bob", "E", ts("2024-03-14T12:00:00Z"), 20).member("bob", "cust").
		did("staff1", "E", ts("2024-03-14T12:00:00Z"), 1000).member("staff1", "cust").
		userTrait("staff1", "email", `"s1@Corp.Example"`).
		did("staff2", "E", ts("2024-03-14T12:00:00Z"), 1000).
		userTrait("staff2", "email", `"s2@eu.corp.example"`).
		did("notstaff", "E", ts("2024-03-14T12:00:00Z"), 30).
		userTrait("notstaff", "email", `"n@notcorp.example"`).
		did("excluded-id", "E", ts("2024-03-14T12:00:00Z"), 1000).
		did("internal1", "E", ts("2024-03-14T12:00:00Z"), 1000).member("internal1", "internal").
		did("both", "E", ts("2024-03-14T12:00:00Z"), 1000).member("both", "cust", "internal")
	p := profile(map[string]int{"E": 1})
	p.Exclude = trackplan.Exclusions{
		Users:        []string{"excluded-id"},
		Accounts:     []string{"internal"},
		EmailDomains: []string{"corp.example"},
	}
	run := f.score(t, at, p)
	// Left: 10, 20, 30: h = 1.8, P90 = 20 + 0.8×10 = 28.
	if run.P90 != 28 || run.ActiveUsers != 3 {
		t.Errorf("P90 = %v over %d users, want 28 over 3", run.P90, run.ActiveUsers)
	}
	want := map[string]int{"alice": 36, "bob": 71, "notstaff": 100}
	got := map[string]int{}
	for _, u := range run.Users {
		got[u.ID] = u.Score
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	accts := accountsByID(run)
	if diff := cmp.Diff([]string{"cust"}, sortedKeysOf(accts)); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	if c := accts["cust"]; c.ActiveUsers != 2 || c.TotalUsers != 2 || c.AverageScore != 53.5 || c.TotalScore != 107 {
		t.Errorf("cust = %+v, want 2 of 2 active, average 53.5, total 107", c)
	}
}

func TestScoreFilter(t *testing.T) {
	event := func(f *fakeSource, id string, raw int64, plan, acct string, created time.Time) {
		f.did(id, "E", ts("2024-03-14T12:00:00Z"), raw).member(id, acct).
			userTrait(id, "plan", `"`+plan+`"`).
			userTrait(id, "created_at", fmt.Sprintf("%d", created.Unix()))
	}
	recent := at.AddDate(0, 0, -10)
	f := newFake().acctTrait("ent", "plan", `"enterprise"`).acctTrait("smb", "plan", `"smb"`)
	event(f, "p1", 10, "paid", "ent", recent)
	f.did("p1", "Signed In", at.AddDate(0, 0, -30), 1) // exactly 30 days: within
	event(f, "p2", 1000, "free", "ent", recent)        // user trait fails
	f.did("p2", "Signed In", recent, 1)
	event(f, "p3", 1000, "paid", "smb", recent) // account trait fails
	f.did("p3", "Signed In", recent, 1)
	event(f, "p4", 1000, "paid", "ent", recent) // never signed in
	event(f, "p5", 1000, "paid", "ent", recent) // did the forbidden event
	f.did("p5", "Signed In", recent, 1).did("p5", "Churn Warning", ts("2020-01-01T00:00:00Z"), 1)
	event(f, "p6", 1000, "paid", "ent", recent) // signed in too long ago
	f.did("p6", "Signed In", at.AddDate(0, 0, -30).Add(-time.Second), 1)
	event(f, "p7", 1000, "paid", "ent", at.AddDate(0, 0, -61)) // signed up too long ago
	f.did("p7", "Signed In", recent, 1)
	event(f, "p8", 20, "paid", "ent", at.AddDate(0, 0, -60)) // exactly 60 days: within
	f.did("p8", "Signed In", recent, 1)
	p := profile(map[string]int{"E": 1})
	p.Filter = trackplan.Filter{
		UserTraits:    []trackplan.TraitCondition{{Trait: "plan", Op: trackplan.OpEq, Value: "paid"}},
		AccountTraits: []trackplan.TraitCondition{{Trait: "plan", Op: trackplan.OpEq, Value: "enterprise"}},
		Did:           []trackplan.EventCondition{{Event: "Signed In", WithinDays: 30}},
		DidNot:        []trackplan.EventCondition{{Event: "Churn Warning"}},
		SignedUp:      &trackplan.SignupRange{WithinDays: 60},
	}
	run := f.score(t, at, p)
	// [10 20]: P90 = 19.
	want := map[string]int{"p1": 53, "p8": 100}
	got := map[string]int{}
	for _, u := range run.Users {
		got[u.ID] = u.Score
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	if run.P90 != 19 {
		t.Errorf("P90 = %v, want 19", run.P90)
	}
	if a := accountsByID(run)["ent"]; a.TotalUsers != 2 {
		t.Errorf("ent has %d total users, want 2 (the filtered ones)", a.TotalUsers)
	}

	t.Run("older than", func(t *testing.T) {
		f := newFake()
		f.did("old", "E", ts("2024-03-14T12:00:00Z"), 1).userTrait("old", "created_at", fmt.Sprintf("%q", at.Add(-180*24*time.Hour-time.Second).Format(time.RFC3339)))
		f.did("edge", "E", ts("2024-03-14T12:00:00Z"), 1).userTrait("edge", "created_at", fmt.Sprintf("%q", at.Add(-180*24*time.Hour).Format(time.RFC3339)))
		f.did("unknown", "E", ts("2024-03-14T12:00:00Z"), 1).userTrait("unknown", "created_at", `"soon"`) // falls back to first event
		p := profile(map[string]int{"E": 1})
		p.Filter.SignedUp = &trackplan.SignupRange{OlderThanDays: 180}
		if diff := cmp.Diff([]string{"old"}, userIDs(f.score(t, at, p))); diff != "" {
			t.Errorf("users (-want +got):\n%s", diff)
		}
	})
}

func TestScoreAdoptionActivation(t *testing.T) {
	long := ts("2023-06-01T00:00:00Z")
	f := newFake().
		did("x1", "A", ts("2024-03-14T00:00:00Z"), 1).did("x1", "B", long, 1).did("x1", "C", long, 1).
		did("x1", "Onboarded", ts("2024-01-01T00:00:00Z"), 1).
		userTrait("x1", "role", `"admin"`).member("x1", "k1").
		did("x2", "D", ts("2024-03-13T00:00:00Z"), 1).did("x2", "Invited", ts("2024-03-01T00:00:00Z"), 1).
		userTrait("x2", "role", `"member"`).member("x2", "k1").
		did("x3", "A", ts("2024-03-14T00:00:00Z"), 1).member("x3", "k2").
		// Events after at do not count.
		did("x4", "A", ts("2024-03-10T00:00:00Z"), 1).did("x4", "Onboarded", at.Add(time.Hour), 1).
		userTrait("x4", "role", `"admin"`).member("x4", "k2").
		did("x5", "A", ts("2024-03-10T00:00:00Z"), 1).did("x5", "Onboarded", long, 1).
		acctTrait("k1", "plan", `"paid"`).acctTrait("k2", "plan", `"free"`)
	p := profile(map[string]int{"A": 1, "B": 1, "C": 1, "D": 1})
	p.Activation = trackplan.Activation{
		Events:        []string{"Onboarded", "Invited"},
		UserTraits:    []trackplan.TraitCondition{{Trait: "role", Op: trackplan.OpEq, Value: "admin"}},
		AccountTraits: []trackplan.TraitCondition{{Trait: "plan", Op: trackplan.OpEq, Value: "paid"}},
	}
	type result struct {
		Adoption   trackplan.Adoption
		Activation float64
	}
	collect := func(run *trackplan.ScoreRun) map[string]result {
		m := map[string]result{}
		for _, u := range run.Users {
			m[u.ID] = result{u.Adoption, *u.Activation}
		}
		for _, a := range run.Accounts {
			m[a.ID] = result{a.Adoption, *a.Activation}
		}
		return m
	}
	want := map[string]result{
		"x1": {trackplan.Adoption{Window: 25, AllTime: 75}, 75},   // Onboarded, admin, paid
		"x2": {trackplan.Adoption{Window: 25, AllTime: 25}, 50},   // Invited, paid
		"x3": {trackplan.Adoption{Window: 25, AllTime: 25}, 0},    // nothing
		"x4": {trackplan.Adoption{Window: 25, AllTime: 25}, 25},   // admin; Onboarded comes after at
		"x5": {trackplan.Adoption{Window: 25, AllTime: 25}, 25},   // Onboarded; no account
		"k1": {trackplan.Adoption{Window: 50, AllTime: 100}, 100}, // all four
		"k2": {trackplan.Adoption{Window: 25, AllTime: 25}, 25},   // x4 is admin
	}
	if diff := cmp.Diff(want, collect(f.score(t, at, p))); diff != "" {
		t.Errorf("adoption and activation (-want +got):\n%s", diff)
	}

	p.Activation.UserTraits = nil // three criteria
	want = map[string]result{
		"x1": {trackplan.Adoption{Window: 25, AllTime: 75}, 66.7},
		"x2": {trackplan.Adoption{Window: 25, AllTime: 25}, 66.7},
		"x3": {trackplan.Adoption{Window: 25, AllTime: 25}, 0},
		"x4": {trackplan.Adoption{Window: 25, AllTime: 25}, 0},
		"x5": {trackplan.Adoption{Window: 25, AllTime: 25}, 33.3},
		"k1": {trackplan.Adoption{Window: 50, AllTime: 100}, 100},
		"k2": {trackplan.Adoption{Window: 25, AllTime: 25}, 0},
	}
	if diff := cmp.Diff(want, collect(f.score(t, at, p))); diff != "" {
		t.Errorf("three criteria (-want +got):\n%s", diff)
	}

	p.Activation = trackplan.Activation{}
	run := f.score(t, at, p)
	for _, u := range run.Users {
		if u.Activation != nil {
			t.Errorf("%s: activation %v without criteria, want nil", u.ID, *u.Activation)
		}
	}
}

func TestScoreFlags(t *testing.T) {
	days := func(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
	f := newFake().
		did("new", "E", ts("2024-03-14T00:00:00Z"), 1).userTrait("new", "created_at", `"2024-03-08T00:00:00Z"`).
		did("not-new", "E", ts("2024-03-14T00:00:00Z"), 1).userTrait("not-new", "created_at", `"2024-03-07T23:59:59Z"`).
		did("mature", "E", ts("2024-03-14T00:00:00Z"), 1).userTrait("mature", "created_at", fmt.Sprint(at.Add(-days(180)-time.Second).Unix())).
		did("180-days", "E", ts("2024-03-14T00:00:00Z"), 1).userTrait("180-days", "created_at", fmt.Sprint(at.Add(-days(180)).UnixMilli())).
		did("ri-29", "E", at.Add(-days(30)+time.Second), 1).
		did("ri-30", "E", at.Add(-days(30)), 1).
		did("ri-60", "E", at.Add(-days(60)), 1).
		did("ri-61", "E", at.Add(-days(60)-time.Second), 1).
		member("new", "multi").member("not-new", "multi").
		member("mature", "single").
		// gone's last event is 100 days old: not a total user.
		member("ri-29", "one-total").did("gone", "E", at.Add(-days(100)), 1).member("gone", "one-total").
		acctTrait("single", "created_at", `"2024-03-10"`)
	run := f.score(t, at, profile(map[string]int{"E": 1}))
	want := map[string]trackplan.Flags{
		"new":       trackplan.FlagNew,
		"not-new":   0,
		"mature":    trackplan.FlagMature,
		"180-days":  0,
		"ri-29":     0,
		"ri-30":     trackplan.FlagRecentlyInactive,
		"ri-60":     trackplan.FlagRecentlyInactive,
		"ri-61":     0,
		"multi":     trackplan.FlagMultiUser, // created at not-new's 03-07
		"single":    trackplan.FlagNew,       // account created_at trait
		"one-total": 0,                       // created at gone's first event
	}
	got := map[string]trackplan.Flags{}
	for _, u := range run.Users {
		got[u.ID] = u.Flags
	}
	for _, a := range run.Accounts {
		got[a.ID] = a.Flags
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
}

func TestScoreListing(t *testing.T) {
	f := newFake().
		did("active", "E", ts("2024-03-14T00:00:00Z"), 1).member("active", "a").
		did("idle", "Logged In", ts("2024-01-01T00:00:00Z"), 1).member("idle", "a"). // 74 days ago
		did("gone", "E", ts("2023-12-01T00:00:00Z"), 1).member("gone", "b").         // 105 days ago
		did("ghost", "E", ts("2023-12-01T00:00:00Z"), 1).member("ghost", "c").
		did("future", "E", at.Add(time.Hour), 1) // first seen after at
	p := profile(map[string]int{"E": 1})
	before := &trackplan.ScoreRun{Users: []trackplan.UserScore{{ID: "ghost", Score: 40}}}
	run, err := Score(f.load(t, at, "", p), p, at, PreviousFromRun(before))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"active", "ghost", "idle"}, userIDs(run)); diff != "" {
		t.Errorf("users (-want +got):\n%s", diff)
	}
	u := usersByID(run)
	if g := u["ghost"]; g.Score != 0 || g.Band != trackplan.BandInactive || g.Trend != (trackplan.Trend{Change: -40, Flag: trackplan.TrendCold}) {
		t.Errorf("ghost = %+v, want 0, inactive, −40 ❄️", g)
	}
	if i := u["idle"]; i.Score != 0 || i.Active || i.Band != trackplan.BandInactive || i.LastActive != nil {
		t.Errorf("idle = %+v, want inactive with no last activity", i)
	}
	accts := accountsByID(run)
	if diff := cmp.Diff([]string{"a", "c"}, sortedKeysOf(accts)); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}
	if a := accts["a"]; a.TotalUsers != 2 || a.ActiveUsers != 1 || a.ActivePct != 50 || a.AverageScore != 100 || a.TotalScore != 100 {
		t.Errorf("a = %+v", a)
	}
	if c := accts["c"]; c.TotalUsers != 0 || c.ActivePct != 0 || c.Band != trackplan.BandInactive {
		t.Errorf("c = %+v", c)
	}
}

func TestScoreAccountName(t *testing.T) {
	f := newFake().
		did("u", "E", ts("2024-03-14T00:00:00Z"), 1).member("u", "a1", "a2", "a3").
		acctTrait("a1", "name", `"Acme"`).acctTrait("a1", "company", `"ACME Corp"`).
		acctTrait("a3", "name", `""`)
	p := profile(map[string]int{"E": 1})
	names := func(nameTrait string) map[string]string {
		run, err := Score(f.load(t, at, nameTrait, p), p, at, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, a := range run.Accounts {
			m[a.ID] = a.Name
		}
		return m
	}
	if diff := cmp.Diff(map[string]string{"a1": "Acme", "a2": "a2", "a3": "a3"}, names("")); diff != "" {
		t.Errorf("default name trait (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a1": "ACME Corp", "a2": "a2", "a3": "a3"}, names("company")); diff != "" {
		t.Errorf("company name trait (-want +got):\n%s", diff)
	}
}

func TestScorePreviousComputed(t *testing.T) {
	// The computed baseline scores [start−7, start) with that frame's P90:
	// raws [1 4], P90 = 1 + 0.9×3 = 3.7. Now: raws [1 2], P90 = 1.9.
	f := newFake().
		did("a", "E", ts("2024-03-01T00:00:00Z"), 4).  // before: 4 → 100
		did("a", "E", ts("2024-03-14T00:00:00Z"), 1).  // now: 1/1.9 → 53
		did("b", "E", ts("2024-03-07T23:59:59Z"), 1).  // before: 1/3.7 → 27
		did("b", "E", ts("2024-03-08T00:00:00Z"), 2).  // now: 100
		did("c", "E", ts("2024-02-29T23:59:59Z"), 50). // outside both
		member("a", "acct").member("b", "acct")
	p := profile(map[string]int{"E": 1})
	in := f.load(t, at, "", p)
	prev, err := PreviousScores(in, p, at)
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{prev.user(in, 0), prev.user(in, 1), prev.user(in, 2)}; !cmp.Equal(got, []int{100, 27, 0}) {
		t.Errorf("previous scores of a, b, c = %v, want [100 27 0]", got)
	}
	if got := prev.account(in, 0); got != 635 {
		t.Errorf("previous average of acct = %d tenths, want 635", got)
	}
	run, err := Score(in, p, at, prev)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]trackplan.Trend{"a": {Change: -47, Flag: trackplan.TrendCold}, "b": {Change: 73, Flag: trackplan.TrendHot}, "c": {}}
	got := map[string]trackplan.Trend{}
	for _, u := range run.Users {
		got[u.ID] = u.Trend
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trends (-want +got):\n%s", diff)
	}
	// (53 + 100) / 2 = 76.5 against (100 + 27) / 2 = 63.5.
	if a := run.Accounts[0]; a.AverageScore != 76.5 || a.Trend != (trackplan.Trend{Change: 13, Flag: trackplan.TrendHot}) {
		t.Errorf("acct = %v %+v, want 76.5, +13 🔥", a.AverageScore, a.Trend)
	}
	// The same baseline is what Score computes by itself.
	run2, err := Score(in, p, at, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(run, run2); diff != "" {
		t.Errorf("nil baseline differs (-explicit +nil):\n%s", diff)
	}
}

func TestScoreErrors(t *testing.T) {
	f := newFake().did("u", "E", ts("2024-03-14T00:00:00Z"), 1)
	p := profile(map[string]int{"E": 1})
	in := f.load(t, at, "", p)
	other := f.load(t, at, "", p)
	prevOther, err := PreviousScores(other, p, at)
	if err != nil {
		t.Fatal(err)
	}
	short, err := NewBuilder(Spec{Events: []string{"E"}, Scored: []string{"E"}, From: ts("2024-03-08T00:00:00Z"), To: at})
	if err != nil {
		t.Fatal(err)
	}
	shortIn := short.Input()
	filtered := profile(map[string]int{"E": 1})
	filtered.Filter.UserTraits = []trackplan.TraitCondition{{Trait: "plan", Op: trackplan.OpExists}}
	tests := []struct {
		name string
		in   *Input
		p    *trackplan.Profile
		at   time.Time
		prev *Previous
		want string
	}{
		{"invalid profile", in, profile(map[string]int{"E": 11}), at, nil, `events["E"]: weight 11 outside 1–10`},
		{"event not loaded", in, profile(map[string]int{"F": 1}), at, nil, `event "F" not loaded`},
		{"trait not loaded", in, filtered, at, nil, `user trait "plan" not loaded`},
		{"days not loaded", in, p, at.AddDate(0, 0, 1), nil, "input holds days 2024-03-01 to 2024-03-15, need 2024-03-09 to 2024-03-16"},
		{"baseline days not loaded", shortIn, p, at, nil, "trend baseline"},
		{"baseline of another input", in, p, at, prevOther, "another input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Score(tt.in, tt.p, tt.at, tt.prev)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Score error = %v, want one containing %q", err, tt.want)
			}
		})
	}
	// With a baseline from a snapshot, the short input is enough.
	if _, err := Score(shortIn, p, at, PreviousFromRun(&trackplan.ScoreRun{})); err != nil {
		t.Errorf("Score with snapshot baseline: %v", err)
	}
}

func TestScoreConcurrentProfiles(t *testing.T) {
	// One Input serves several profiles at once.
	f := runnerFixture()
	p1, p2 := profile(map[string]int{"E": 1}), &trackplan.Profile{Name: "other", Events: map[string]int{"E": 5}, WindowDays: 3}
	in := f.load(t, at, "", p1, p2)
	want1, err := Score(in, p1, at, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *trackplan.ScoreRun, 8)
	for i := range 8 {
		go func() {
			p := p1
			if i%2 == 1 {
				p = p2
			}
			run, err := Score(in, p, at, nil)
			if err != nil {
				t.Error(err)
			}
			done <- run
		}()
	}
	for range 8 {
		if run := <-done; run != nil && run.Profile == "test" {
			if diff := cmp.Diff(want1, run); diff != "" {
				t.Errorf("concurrent run differs (-want +got):\n%s", diff)
			}
		}
	}
}
