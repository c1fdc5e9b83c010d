package simulate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

const day = 24 * time.Hour

// account is one simulated customer account.
type account struct {
	id, name, domain string
	industry         string
	plan             string
	previousPlan     string
	status           string
	mrr              float64
	employees        int
	createdAt        time.Time
	trialStart       time.Time

	rank     int     // 1 = most active
	activity float64 // expected sessions per active user per weekday
	// createdDay is the window day the account signs up on, or -1 when it
	// existed before the window.
	createdDay int
	// stopDay is the first window day without activity: Days for active
	// accounts, earlier for dormant ones.
	stopDay int
	dormant bool
	users   []*user
	traits  map[string]any // group traits, generated once
}

// user is one simulated user of an account.
type user struct {
	id, first, last string
	email, username string
	title, role     string
	createdAt       time.Time
	joinDay         int // window day of sign-up, -1 before the window
	joinAt          time.Time
	factor          float64 // activity multiplier; 0 for seats never used
	invited         bool
	acct            *account
	traits          map[string]any // identify traits, generated once
}

// population builds the accounts and users of a simulation from r.
func (g *Generator) population(r *rand.Rand) {
	o := g.opts
	n := o.Accounts
	start := g.start

	// Activity ranks, shuffled over accounts: rank 1 is the most active.
	ranks := r.Perm(n)
	top := max(1, int(math.Ceil(float64(n)/10)))

	// New accounts (signed up inside the window) and dormant ones (no
	// activity in the last dormantDays days), both outside the top ranks.
	var newAccts, dormantAccts int
	if n >= 3 {
		newAccts = max(1, int(math.Round(float64(n)*0.1)))
	}
	if n >= 4 && o.Days > dormantDays {
		dormantAccts = max(1, int(math.Round(float64(n)*0.12)))
	}
	var candidates []int // account indexes outside the top ranks
	for i := range n {
		if ranks[i]+1 > top {
			candidates = append(candidates, i)
		}
	}
	r.Shuffle(len(candidates), func(i, j int) { candidates[i], candidates[j] = candidates[j], candidates[i] })
	isNew := map[int]bool{}
	for _, i := range candidates[:min(newAccts, len(candidates))] {
		isNew[i] = true
	}
	// Dormant accounts come from the less active half.
	isDormant := map[int]bool{}
	for _, i := range candidates {
		if len(isDormant) == dormantAccts {
			break
		}
		if !isNew[i] && ranks[i]+1 > n/2 {
			isDormant[i] = true
		}
	}

	recent := max(0, o.Days-dormantDays)
	names := map[string]bool{}
	firstNew := true
	for i := range n {
		rank := ranks[i] + 1
		a := &account{rank: rank, createdDay: -1, stopDay: o.Days}
		a.name = companyName(r, names)
		a.id = slug(a.name, "-")
		a.domain = slug(a.name, "") + "." + pick(r, tlds)
		a.industry = pick(r, industries)
		a.activity = 2.6*math.Pow(float64(rank), -0.85) + 0.04

		switch {
		case isNew[i]:
			// One new account always signs up in the recent window, so
			// that sign-up events are seen there.
			lo := 0
			if firstNew {
				lo = recent
				firstNew = false
			}
			a.createdDay = lo + r.IntN(max(1, o.Days-lo))
			a.createdAt = g.dayTime(r, a.createdDay)
		default:
			a.createdAt = start.Add(-time.Duration(1+r.IntN(900))*day - time.Duration(r.Int64N(int64(day))))
		}
		if isDormant[i] {
			a.dormant = true
			a.stopDay = r.IntN(o.Days - dormantDays)
		}
		a.trialStart = a.createdAt
		a.employees = max(2, int(math.Round(5*math.Exp(r.Float64()*math.Log(2000)*(1.1-float64(rank)/float64(n+1))))))

		size := float64(o.UsersPerAccount) * (0.5 + 1.5*math.Pow(1-float64(rank-1)/float64(n), 2)) * (0.8 + 0.4*r.Float64())
		nu := max(1, int(math.Round(size)))
		for j := range nu {
			a.users = append(a.users, g.newUser(r, a, j, names))
		}
		g.accounts = append(g.accounts, a)
	}
}

// dormantDays is how long dormant accounts have been silent, at least: the
// default drift and scoring window.
const dormantDays = 7

func companyName(r *rand.Rand, taken map[string]bool) string {
	for try := 0; ; try++ {
		name := pick(r, companyPrefixes) + " " + pick(r, companySuffixes)
		if try > 20 {
			name = fmt.Sprintf("%s %d", name, try)
		}
		if !taken[name] {
			taken[name] = true
			return name
		}
	}
}

func (g *Generator) newUser(r *rand.Rand, a *account, j int, taken map[string]bool) *user {
	u := &user{acct: a, joinDay: -1}
	for {
		u.first, u.last = pick(r, firstNames), pick(r, lastNames)
		u.username = slug(u.first, "") + "." + slug(u.last, "")
		if !taken[a.domain+"/"+u.username] {
			break
		}
		u.username += fmt.Sprint(r.IntN(100))
		if !taken[a.domain+"/"+u.username] {
			break
		}
	}
	taken[a.domain+"/"+u.username] = true
	u.email = u.username + "@" + a.domain
	u.id = randomID(r, "usr_", 12)
	u.title = pick(r, jobTitles)
	u.role = pick(r, roles)
	if j == 0 {
		u.role = "admin"
	}
	u.factor = math.Min(4, math.Exp(r.NormFloat64()*0.6))
	if j > 0 && r.Float64() < 0.15 {
		u.factor = 0 // a seat nobody uses
	}
	o := g.opts
	switch {
	case a.createdDay >= 0 && j == 0:
		u.joinDay, u.joinAt = a.createdDay, a.createdAt
	case a.createdDay >= 0:
		// Invited over the days after the account signed up.
		u.invited = true
		u.joinDay = min(o.Days-1, a.createdDay+r.IntN(4))
		u.joinAt = g.dayTime(r, u.joinDay)
		if !u.joinAt.After(a.createdAt) {
			u.joinAt = a.createdAt.Add(time.Duration(10+r.IntN(120)) * time.Minute)
		}
	case j > 0 && r.Float64() < 0.08 && !a.dormant:
		u.invited = true
		u.joinDay = r.IntN(o.Days)
		u.joinAt = g.dayTime(r, u.joinDay)
	}
	if u.joinDay >= 0 {
		u.createdAt = u.joinAt
	} else {
		span := g.start.Sub(a.createdAt)
		u.createdAt = a.createdAt
		if j > 0 && span > 0 {
			u.createdAt = a.createdAt.Add(time.Duration(r.Int64N(int64(span))))
		}
	}
	return u
}

// accountTraits settles the account's plan, status and revenue from the
// plan's group traits (their enums when there are some), then generates the
// group traits once.
func (g *Generator) accountTraits(r *rand.Rand, vg *valueGen, a *account) {
	n := float64(len(g.accounts))
	tiers := []string{"free", "starter", "pro", "enterprise"}
	var plans, statuses []string
	if g.groupTree != nil {
		if c := g.groupTree.child("plan"); c != nil && c.prop != nil && len(c.prop.Enum) > 0 {
			plans = c.prop.Enum
		}
		if c := g.groupTree.child("status"); c != nil && c.prop != nil && len(c.prop.Enum) > 0 {
			statuses = c.prop.Enum
		}
	}
	if plans == nil {
		plans = tiers
	}
	// Plans are listed from the cheapest; busier accounts pay more.
	pos := (1 - float64(a.rank-1)/n) + (r.Float64()-0.5)*0.5
	if a.createdDay >= 0 {
		pos = 0
	}
	idx := int(math.Floor(math.Max(0, math.Min(0.999, pos)) * float64(len(plans))))
	a.plan = plans[idx]
	a.previousPlan = plans[max(0, idx-1)]
	lower := strings.ToLower(a.plan)
	if !strings.Contains(lower, "free") && !strings.Contains(lower, "trial") {
		tier := float64(idx+1) / float64(len(plans))
		seats := float64(max(1, len(a.users))) / 3
		a.mrr = math.Round((49 + tier*tier*4000) * (0.6 + 0.8*r.Float64()) * seats)
	}
	want := []string{"active", "paying", "customer"}
	switch {
	case a.dormant:
		want = []string{"churned", "canceled", "cancelled", "inactive", "past_due", "at_risk"}
	case a.createdDay >= 0:
		want = []string{"trialing", "trial", "onboarding", "new", "active"}
	}
	a.status = want[0]
	if statuses != nil {
		a.status = pick(r, statuses)
		for _, w := range want {
			if slices.Contains(statuses, w) {
				a.status = w
				break
			}
		}
	}
	if g.groupTree != nil {
		vc := &valueCtx{call: trackplan.Group, at: a.createdAt, acct: a}
		a.traits = vg.object(g.groupTree, vc, payloadOptions{always: keyGroupTraits}, true)
	}
}

// userTraits generates a user's identify traits once.
func (g *Generator) userTraits(vg *valueGen, u *user) {
	if g.identifyTree == nil {
		return
	}
	vc := &valueCtx{call: trackplan.Identify, at: u.createdAt, user: u, acct: u.acct}
	u.traits = vg.object(g.identifyTree, vc, payloadOptions{always: keyUserTraits}, true)
}

// Traits that well-instrumented products always send.
func keyUserTraits(name string) bool {
	switch snakeName(name) {
	case "email", "name", "first_name", "last_name", "created_at", "plan", "role", "title":
		return true
	}
	return false
}

func keyGroupTraits(name string) bool {
	switch snakeName(name) {
	case "name", "created_at", "plan", "status", "mrr", "employees", "industry", "website":
		return true
	}
	return false
}

// dayTime returns a busy-hours time on window day d, early enough that what
// follows a sign-up still falls inside the day.
func (g *Generator) dayTime(r *rand.Rand, d int) time.Time {
	ds := g.start.Add(time.Duration(d) * day)
	const latest = 20 * time.Hour
	for range 10 {
		if off := businessOffset(r, ds); off <= latest {
			return ds.Add(off)
		}
	}
	return ds.Add(time.Duration(r.Int64N(int64(latest))))
}

// businessOffset returns an offset into the day starting at dayStart that
// falls in busy hours more often than at night (UTC).
func businessOffset(r *rand.Rand, dayStart time.Time) time.Duration {
	var off time.Duration
	for range 50 {
		off = time.Duration(r.Int64N(int64(day)))
		if r.Float64() < hourWeight(dayStart.Add(off).Hour()) {
			return off
		}
	}
	return off
}

func hourWeight(h int) float64 {
	switch {
	case h >= 8 && h < 18:
		return 1
	case h >= 6 && h < 8, h >= 18 && h < 22:
		return 0.5
	}
	return 0.15
}
