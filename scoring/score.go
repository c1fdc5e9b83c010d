package scoring

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

const (
	day = 86400 // seconds
	// maxRaw caps a raw score so that the integer arithmetic of the
	// normalisation cannot overflow; no real user comes near it.
	maxRaw = 1 << 50
)

// Score scores one profile at time at over in. The time frame is
// trackplan.ScoreWindow(at, p.Window()). prev is the baseline of the trends;
// nil means computing it from in over the time frame before (see
// PreviousScores), which needs in to hold those days too.
func Score(in *Input, p *trackplan.Profile, at time.Time, prev *Previous) (*trackplan.ScoreRun, error) {
	m, err := newModel(in, p, at)
	if err != nil {
		return nil, err
	}
	if err := m.needDays(m.start, m.end); err != nil {
		return nil, err
	}
	all := m.allTime()
	pop := m.population(all)
	switch {
	case prev == nil:
		if prev, err = m.previous(pop); err != nil {
			return nil, err
		}
	case prev.in != nil && prev.in != in:
		return nil, fmt.Errorf("score profile %q: previous scores computed from another input", p.Name)
	}
	w := m.scan(pop, m.start, m.end, true)
	p10, active := percentile90(w.raw, pop)
	scores := normalise(w.raw, pop, p10)
	return m.result(pop, all, w, scores, p10, active, prev), nil
}

// PreviousScores computes from in the scores of the time frame before the
// one of a run at `at` (the window [start−N, start) of N days): the baseline
// of the trends when no snapshot of that time is kept. The population is the
// current one, the users the profile scores at `at`, so the trend compares
// the same people. The result is only valid with the same in.
func PreviousScores(in *Input, p *trackplan.Profile, at time.Time) (*Previous, error) {
	m, err := newModel(in, p, at)
	if err != nil {
		return nil, err
	}
	return m.previous(m.population(m.allTime()))
}

// model is a profile compiled against an input for a run at one time.
type model struct {
	in         *Input
	p          *trackplan.Profile
	atTime     time.Time
	at         int64 // unix seconds
	n          int32 // window days
	start, end int32 // window days [start, end)
	weight     []int64
	slot       []int32 // by event index: bit of the event in scored-event sets, −1 if not scored
	nScored    int
	dayWords   int // uint64 words per user in a day set
	evWords    int // uint64 words per user in a scored-event set
	didEvents  [][]didCond
	actEvents  [][]int // by event index: activation criteria bits
	nCriteria  int
	userCrit   []trackplan.TraitCondition // activation user-trait criteria
	acctCrit   []trackplan.TraitCondition // activation account-trait criteria
	nEvCrit    int
}

type didCond struct {
	bit    int
	within int64 // seconds, 0 = ever
}

func newModel(in *Input, p *trackplan.Profile, at time.Time) (*model, error) {
	if p == nil {
		return nil, fmt.Errorf("score: nil profile")
	}
	if err := p.Validate(""); err != nil {
		return nil, fmt.Errorf("score profile %q: %w", p.Name, err)
	}
	m := &model{in: in, p: p, atTime: at, at: at.Unix(), n: int32(p.Window())}
	start, end := trackplan.ScoreWindow(at, p.Window())
	m.start, m.end = dayNum(start), dayNum(end)
	m.weight = make([]int64, len(in.events))
	m.slot = make([]int32, len(in.events))
	for i := range m.slot {
		m.slot[i] = -1
	}
	event := func(name string, daily bool) (int, error) {
		i, ok := in.eventIdx[name]
		if !ok || daily && !in.scored[i] {
			return 0, fmt.Errorf("score profile %q: event %q not loaded", p.Name, name)
		}
		return int(i), nil
	}
	for _, name := range p.ScoredEvents() {
		w := p.Events[name]
		i, err := event(name, true)
		if err != nil {
			return nil, err
		}
		m.weight[i] = int64(w)
		m.slot[i] = int32(m.nScored)
		m.nScored++
	}
	m.evWords = words(m.nScored)
	m.dayWords = words(int(m.n))
	m.didEvents = make([][]didCond, len(in.events))
	for j, c := range slices.Concat(p.Filter.Did, p.Filter.DidNot) {
		i, err := event(c.Event, false)
		if err != nil {
			return nil, err
		}
		m.didEvents[i] = append(m.didEvents[i], didCond{bit: j, within: int64(c.WithinDays) * day})
	}
	m.actEvents = make([][]int, len(in.events))
	for j, name := range p.Activation.Events {
		i, err := event(name, false)
		if err != nil {
			return nil, err
		}
		m.actEvents[i] = append(m.actEvents[i], j)
	}
	m.nEvCrit = len(p.Activation.Events)
	m.userCrit = p.Activation.UserTraits
	m.acctCrit = p.Activation.AccountTraits
	m.nCriteria = p.Activation.Criteria()
	for _, c := range slices.Concat(p.Filter.UserTraits, p.Activation.UserTraits) {
		if in.userTraits[c.Trait] == nil {
			return nil, fmt.Errorf("score profile %q: user trait %q not loaded", p.Name, c.Trait)
		}
	}
	if len(p.Exclude.EmailDomains) > 0 && in.userTraits[trackplan.EmailTrait] == nil {
		return nil, fmt.Errorf("score profile %q: user trait %q not loaded", p.Name, trackplan.EmailTrait)
	}
	for _, c := range slices.Concat(p.Filter.AccountTraits, p.Activation.AccountTraits) {
		if in.acctTraits[c.Trait] == nil {
			return nil, fmt.Errorf("score profile %q: account trait %q not loaded", p.Name, c.Trait)
		}
	}
	return m, nil
}

func words(n int) int { return max(1, (n+63)/64) }

// needDays checks that the input holds the daily rollups of [from, to).
func (m *model) needDays(from, to int32) error {
	if from < m.in.base || to > m.in.base+m.in.days {
		return fmt.Errorf("score profile %q: input holds days %s to %s, need %s to %s", m.p.Name,
			dayTime(m.in.base).Format(time.DateOnly), dayTime(m.in.base+m.in.days).Format(time.DateOnly),
			dayTime(from).Format(time.DateOnly), dayTime(to).Format(time.DateOnly))
	}
	return nil
}

// allTime is what the all-time rollups say about each user as of `at`.
type allTime struct {
	ever []uint64 // users × evWords: scored events first done before at
	last []int64  // last scored event before at, noTime if none
	did  []uint64 // filter event conditions met (Did, then DidNot)
	crit []uint64 // activation criteria met: events, then user traits
}

func (m *model) allTime() *allTime {
	in := m.in
	n := len(in.userIDs)
	a := &allTime{ever: make([]uint64, n*m.evWords), last: make([]int64, n)}
	for i := range a.last {
		a.last[i] = noTime
	}
	hasDid := len(m.p.Filter.Did)+len(m.p.Filter.DidNot) > 0
	if hasDid {
		a.did = make([]uint64, n)
	}
	if m.nCriteria > 0 {
		a.crit = make([]uint64, n)
	}
	for _, block := range in.totals.blocks {
		m.allTimeBlock(a, block, hasDid)
	}
	return a
}

func (m *model) allTimeBlock(a *allTime, block []totalRow, hasDid bool) {
	for _, r := range block {
		if r.first >= m.at {
			continue // first done after at: not yet
		}
		if s := m.slot[r.event]; s >= 0 {
			a.ever[int(r.user)*m.evWords+int(s)/64] |= 1 << (s % 64)
			if r.last < m.at && r.last > a.last[r.user] {
				a.last[r.user] = r.last
			}
		}
		if hasDid {
			for _, c := range m.didEvents[r.event] {
				if c.within == 0 || r.last >= m.at-c.within {
					a.did[r.user] |= 1 << c.bit
				}
			}
		}
		if a.crit != nil {
			for _, bit := range m.actEvents[r.event] {
				a.crit[r.user] |= 1 << bit
			}
		}
	}
}

// population returns which users the profile scores: not excluded (by id,
// email domain or account) and matching the filter.
func (m *model) population(all *allTime) []bool {
	in, p := m.in, m.p
	excludedUser := set{}
	for _, id := range p.Exclude.Users {
		excludedUser.add(id)
	}
	excludedAcct := make([]bool, len(in.acctIDs))
	if len(p.Exclude.Accounts) > 0 {
		ids := set{}
		for _, id := range p.Exclude.Accounts {
			ids.add(id)
		}
		for a, id := range in.acctIDs {
			_, excludedAcct[a] = ids[id]
		}
	}
	domains := p.Exclude.EmailDomains
	email := in.userTraits[trackplan.EmailTrait]
	var acctMatch []bool // account meets every account-trait condition of the filter
	if conds := p.Filter.AccountTraits; len(conds) > 0 {
		acctMatch = make([]bool, len(in.acctIDs))
		for a := range acctMatch {
			acctMatch[a] = matchAll(conds, in.acctTraits, uint32(a))
		}
	}
	nDid := len(p.Filter.Did)
	wantDid := uint64(1)<<nDid - 1
	didNot := (uint64(1)<<len(p.Filter.DidNot) - 1) << nDid
	pop := make([]bool, len(in.userIDs))
	for u := range pop {
		if _, ok := excludedUser[in.userIDs[u]]; ok {
			continue
		}
		accts := in.userAccts.of(uint32(u))
		if slices.ContainsFunc(accts, func(a uint32) bool { return excludedAcct[a] }) {
			continue
		}
		if len(domains) > 0 {
			if v, ok := email.get(uint32(u)); ok && domainExcluded(v, domains) {
				continue
			}
		}
		if !matchAll(p.Filter.UserTraits, in.userTraits, uint32(u)) {
			continue
		}
		if acctMatch != nil && !slices.ContainsFunc(accts, func(a uint32) bool { return acctMatch[a] }) {
			continue
		}
		if s := p.Filter.SignedUp; s != nil && !m.signedUp(in.userCreated[u], s) {
			continue
		}
		if all.did != nil && (all.did[u]&wantDid != wantDid || all.did[u]&didNot != 0) {
			continue
		}
		pop[u] = true
	}
	return pop
}

func (m *model) signedUp(created int64, s *trackplan.SignupRange) bool {
	if created == noTime {
		return false
	}
	age := m.at - created
	if s.WithinDays > 0 && age > int64(s.WithinDays)*day {
		return false
	}
	return s.OlderThanDays == 0 || age > int64(s.OlderThanDays)*day
}

func matchAll(conds []trackplan.TraitCondition, cols map[string]*column, i uint32) bool {
	for _, c := range conds {
		if !c.Match(cols[c.Trait].get(i)) {
			return false
		}
	}
	return true
}

// domainExcluded reports whether the email's domain is one of domains or a
// subdomain of one, ignoring case.
func domainExcluded(email string, domains []string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 {
		return false
	}
	d := strings.TrimSpace(email[at+1:])
	for _, x := range domains {
		if n := len(d) - len(x); n >= 0 && strings.EqualFold(d[n:], x) && (n == 0 || d[n-1] == '.') {
			return true
		}
	}
	return false
}

// window is what the daily rollups say about each user in one time frame.
type window struct {
	raw     []int64
	days    []uint64 // users × dayWords: days with a scored event (full scans)
	evs     []uint64 // users × evWords: scored events done (full scans)
	lastDay []int32  // last day before the window's end with a scored event (full scans)
}

// scan sums the daily rollups of the scored events on days [from, to) for
// the users in pop. A full scan also fills days, evs and lastDay.
func (m *model) scan(pop []bool, from, to int32, full bool) *window {
	in := m.in
	n := len(in.userIDs)
	w := &window{raw: make([]int64, n)}
	if full {
		w.days = make([]uint64, n*m.dayWords)
		w.evs = make([]uint64, n*m.evWords)
		w.lastDay = make([]int32, n)
		for i := range w.lastDay {
			w.lastDay[i] = math.MinInt32
		}
	}
	for _, block := range in.daily.blocks {
		m.scanBlock(w, block, pop, from-in.base, to-in.base, full)
	}
	return w
}

func (m *model) scanBlock(w *window, block []dailyRow, pop []bool, lo, hi int32, full bool) {
	base := m.in.base
	for _, r := range block {
		wt := m.weight[r.event]
		d := int32(r.day)
		if wt == 0 || d >= hi || !pop[r.user] {
			continue
		}
		if full && d+base > w.lastDay[r.user] {
			w.lastDay[r.user] = d + base
		}
		if d < lo {
			continue
		}
		raw := w.raw[r.user] + int64(r.count)*wt
		w.raw[r.user] = min(raw, maxRaw)
		if full {
			k := d - lo
			w.days[int(r.user)*m.dayWords+int(k/64)] |= 1 << (k % 64)
			s := m.slot[r.event]
			w.evs[int(r.user)*m.evWords+int(s/64)] |= 1 << (s % 64)
		}
	}
}

// percentile90 returns ten times the 90th percentile of the positive raw
// scores of the users in pop (linear interpolation between closest ranks,
// as numpy's default and PERCENTILE.INC), exactly, and the number of those
// users. It returns 0 when no user is active.
func percentile90(raw []int64, pop []bool) (p10 int64, active int) {
	var xs []int64
	for u, r := range raw {
		if r > 0 && pop[u] {
			xs = append(xs, r)
		}
	}
	return p90x10(xs), len(xs)
}

// p90x10 returns ten times the 90th percentile of xs (which it sorts), 0 for
// no values. The rank is h = 0.9·(n−1); with lo = ⌊h⌋ and f = h − lo (a
// multiple of 0.1), P90 = x[lo] + f·(x[lo+1] − x[lo]), so 10·P90 is an
// integer.
func p90x10(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	h10 := 9 * (len(xs) - 1)
	lo, k := h10/10, int64(h10%10)
	p := 10 * xs[lo]
	if k > 0 {
		p += k * (xs[lo+1] - xs[lo])
	}
	return p
}

// scoreOf normalises a raw score against ten times the P90: min(100,
// raw/P90×100) rounded half up, at least 1 when raw > 0.
func scoreOf(raw, p10 int64) int {
	switch {
	case raw <= 0 || p10 <= 0:
		return 0
	case 10*raw >= p10:
		return 100
	}
	// raw/P90×100 = 1000·raw/p10; half up: ⌊(2000·raw + p10) / (2·p10)⌋.
	return max(1, int((2000*raw+p10)/(2*p10)))
}

func normalise(raw []int64, pop []bool, p10 int64) []uint8 {
	scores := make([]uint8, len(raw))
	for u, r := range raw {
		if pop[u] {
			scores[u] = uint8(scoreOf(r, p10))
		}
	}
	return scores
}

// previous scores the time frame before the current one for pop.
func (m *model) previous(pop []bool) (*Previous, error) {
	from, to := m.start-m.n, m.start
	if err := m.needDays(from, to); err != nil {
		return nil, fmt.Errorf("trend baseline: %w", err)
	}
	w := m.scan(pop, from, to, false)
	p10, _ := percentile90(w.raw, pop)
	prev := &Previous{in: m.in, userScores: normalise(w.raw, pop, p10), acctTenths: make([]int32, len(m.in.acctIDs))}
	for a := range prev.acctTenths {
		var sum, n int64
		for _, u := range m.in.acctUsers.of(uint32(a)) {
			if pop[u] && w.raw[u] > 0 {
				sum += int64(prev.userScores[u])
				n++
			}
		}
		prev.acctTenths[a] = int32(tenths(sum, n))
	}
	return prev, nil
}

// tenths returns 10·num/den rounded half up (0 when den is 0).
func tenths(num, den int64) int64 {
	if den <= 0 {
		return 0
	}
	return (20*num + den) / (2 * den)
}

// pct returns 100·num/den in percent, rounded half up to one decimal.
func pct(num, den int64) float64 { return float64(tenths(100*num, den)) / 10 }

func popcount(ws []uint64) int {
	n := 0
	for _, w := range ws {
		n += bits.OnesCount64(w)
	}
	return n
}

// result assembles the run.
func (m *model) result(pop []bool, all *allTime, w *window, scores []uint8, p10 int64, active int, prev *Previous) *trackplan.ScoreRun {
	in, p := m.in, m.p
	start, end := trackplan.ScoreWindow(m.atTime, p.Window())
	run := &trackplan.ScoreRun{
		Profile:     p.Name,
		At:          m.atTime.UTC(),
		WindowDays:  p.Window(),
		WindowStart: start,
		WindowEnd:   end,
		P90:         float64(p10) / 10,
		ActiveUsers: active,
	}

	// Last scored event: the all-time rollups are exact; a daily rollup is
	// the fallback when the all-time last occurrence is after at.
	last := all.last
	for u, d := range w.lastDay {
		if d != math.MinInt32 {
			last[u] = max(last[u], int64(d)*day)
		}
	}
	for u := range len(in.userIDs) {
		for k := range m.evWords {
			all.ever[u*m.evWords+k] |= w.evs[u*m.evWords+k]
		}
	}

	// Activation criteria met per user (events, user traits) and per
	// account (account traits).
	var userCrit, acctCrit []uint64
	if m.nCriteria > 0 {
		userCrit = all.crit
		for j, c := range m.userCrit {
			col := in.userTraits[c.Trait]
			for u := range userCrit {
				if pop[u] && c.Match(col.get(uint32(u))) {
					userCrit[u] |= 1 << (m.nEvCrit + j)
				}
			}
		}
		acctCrit = make([]uint64, len(in.acctIDs))
		for j, c := range m.acctCrit {
			col := in.acctTraits[c.Trait]
			for a := range acctCrit {
				if c.Match(col.get(uint32(a))) {
					acctCrit[a] |= 1 << (m.nEvCrit + len(m.userCrit) + j)
				}
			}
		}
	}

	seen := func(u uint32) bool {
		return w.raw[u] > 0 || in.userLast[u] != noTime && in.userLast[u] >= m.at-trackplan.TotalUsersDays*day &&
			(in.userFirst[u] == noTime || in.userFirst[u] < m.at)
	}
	listed := make([]bool, len(in.userIDs))
	nListed, nMemberships := 0, 0
	for u := range listed {
		if pop[u] && (seen(uint32(u)) || prev.user(in, uint32(u)) > 0) {
			listed[u] = true
			nListed++
			nMemberships += len(in.userAccts.of(uint32(u)))
		}
	}

	windowStart := int64(m.start) * day
	flags := func(created, lastActive int64) trackplan.Flags {
		var f trackplan.Flags
		if created != noTime {
			if created >= windowStart && created <= m.at {
				f |= trackplan.FlagNew
			}
			if m.at-created > trackplan.MatureDays*day {
				f |= trackplan.FlagMature
			}
		}
		if lastActive != noTime {
			if ago := m.at - lastActive; ago >= trackplan.RecentlyInactiveMinDays*day && ago <= trackplan.RecentlyInactiveMaxDays*day {
				f |= trackplan.FlagRecentlyInactive
			}
		}
		return f
	}
	var acts []float64 // backing store of the activation rates
	if m.nCriteria > 0 {
		acts = make([]float64, nListed)
	}
	activation := func(met int, i int) *float64 {
		if m.nCriteria == 0 {
			return nil
		}
		acts[i] = pct(int64(met), int64(m.nCriteria))
		return &acts[i]
	}
	adoption := func(window, ever []uint64) trackplan.Adoption {
		return trackplan.Adoption{
			Window:  pct(int64(popcount(window)), int64(m.nScored)),
			AllTime: pct(int64(popcount(ever)), int64(m.nScored)),
		}
	}

	run.Users = make([]trackplan.UserScore, 0, nListed)
	times := make([]time.Time, 0, nListed)
	acctIDs := make([]string, 0, nMemberships)
	for _, u := range in.userOrder {
		if !listed[u] {
			continue
		}
		us := trackplan.UserScore{
			ID:        in.userIDs[u],
			Raw:       w.raw[u],
			Score:     int(scores[u]),
			Active:    w.raw[u] > 0,
			Frequency: popcount(w.days[int(u)*m.dayWords : int(u+1)*m.dayWords]),
			Adoption:  adoption(w.evs[int(u)*m.evWords:int(u+1)*m.evWords], all.ever[int(u)*m.evWords:int(u+1)*m.evWords]),
			Flags:     flags(in.userCreated[u], last[u]),
		}
		us.Band = trackplan.BandOf(float64(us.Score), us.Active)
		us.Trend = trackplan.TrendOf(float64(us.Score - prev.user(in, u)))
		if last[u] != noTime {
			times = append(times, time.Unix(last[u], 0).UTC())
			us.LastActive = &times[len(times)-1]
		}
		mark := len(acctIDs)
		var crit uint64
		if userCrit != nil {
			crit = userCrit[u]
		}
		for _, a := range in.userAccts.of(u) {
			acctIDs = append(acctIDs, in.acctIDs[a])
			if acctCrit != nil {
				crit |= acctCrit[a]
			}
		}
		us.Accounts = acctIDs[mark:len(acctIDs):len(acctIDs)]
		slices.Sort(us.Accounts)
		us.Activation = activation(bits.OnesCount64(crit), len(run.Users))
		run.Users = append(run.Users, us)
	}

	dayOr := make([]uint64, m.dayWords)
	evOr := make([]uint64, m.evWords)
	everOr := make([]uint64, m.evWords)
	names := in.acctTraits[in.spec.NameTrait]
	for _, a := range in.acctOrder {
		members := in.acctUsers.of(a)
		if !slices.ContainsFunc(members, func(u uint32) bool { return listed[u] }) {
			continue
		}
		clear(dayOr)
		clear(evOr)
		clear(everOr)
		var sum, nActive, nTotal int64
		var crit uint64
		lastActive, lastUser := int64(noTime), ""
		for _, u := range members {
			if !pop[u] {
				continue
			}
			if w.raw[u] > 0 {
				nActive++
				sum += int64(scores[u])
			}
			if seen(u) {
				nTotal++
			}
			for k := range m.dayWords {
				dayOr[k] |= w.days[int(u)*m.dayWords+k]
			}
			for k := range m.evWords {
				evOr[k] |= w.evs[int(u)*m.evWords+k]
				everOr[k] |= all.ever[int(u)*m.evWords+k]
			}
			if userCrit != nil {
				crit |= userCrit[u]
			}
			if l := last[u]; l != noTime && (l > lastActive || l == lastActive && in.userIDs[u] < lastUser) {
				lastActive, lastUser = l, in.userIDs[u]
			}
		}
		if acctCrit != nil {
			crit |= acctCrit[a]
		}
		avg := tenths(sum, nActive)
		as := trackplan.AccountScore{
			ID:             in.acctIDs[a],
			Name:           in.acctIDs[a],
			AverageScore:   float64(avg) / 10,
			TotalScore:     sum,
			Band:           trackplan.BandOf(float64(avg)/10, nActive > 0),
			Trend:          trackplan.TrendOf(float64(avg-int64(prev.account(in, a))) / 10),
			ActiveUsers:    int(nActive),
			TotalUsers:     int(nTotal),
			ActivePct:      pct(nActive, nTotal),
			Frequency:      popcount(dayOr),
			Adoption:       adoption(evOr, everOr),
			Flags:          flags(in.acctCreated[a], lastActive),
			LastActiveUser: lastUser,
		}
		if v, ok := names.get(a); ok && v != "" {
			as.Name = v
		}
		if nTotal > 1 {
			as.Flags |= trackplan.FlagMultiUser
		}
		if lastActive != noTime {
			t := time.Unix(lastActive, 0).UTC()
			as.LastActive = &t
		}
		if m.nCriteria > 0 {
			v := pct(int64(bits.OnesCount64(crit)), int64(m.nCriteria))
			as.Activation = &v
		}
		run.Accounts = append(run.Accounts, as)
	}
	if run.Accounts == nil {
		run.Accounts = []trackplan.AccountScore{}
	}
	return run
}
