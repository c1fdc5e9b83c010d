package scoring

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
)

// noTime marks an unknown time in the int64 unix-second columns.
const noTime = math.MinInt64

// maxDays bounds the days an Input spans (the day offset is a uint16).
const maxDays = math.MaxUint16

// Spec says what to load for one scoring run: which events, traits and days.
type Spec struct {
	// Events are all the events the profiles name: scored events, filter
	// events and activation events. Their all-time rollups are loaded.
	Events []string
	// Scored are the events whose daily rollups are loaded.
	Scored []string
	// From and To bound the days of the daily rollups, [From, To); both are
	// midnights UTC.
	From, To time.Time
	// UserTraits and AccountTraits are the traits to load.
	UserTraits, AccountTraits []string
	// NameTrait is the account trait used as display name.
	NameTrait string
	// MembershipTrait, when set, is a user trait naming the user's
	// account: a user with it is a member of that account, as with a group
	// call.
	MembershipTrait string
}

// SpecFor returns what a run at `at` of the given profiles needs: their
// events and traits, and the daily rollups of two time frames of the longest
// profile (the current one and the trend's baseline). An empty nameTrait
// means trackplan.DefaultAccountNameTrait; membershipTrait, when set, is the
// user trait naming a user's account.
func SpecFor(at time.Time, nameTrait, membershipTrait string, profiles ...*trackplan.Profile) Spec {
	if nameTrait == "" {
		nameTrait = trackplan.DefaultAccountNameTrait
	}
	events, scored := set{}, set{}
	users := set{trackplan.CreatedAtTrait: {}}
	accounts := set{trackplan.CreatedAtTrait: {}, nameTrait: {}}
	longest := 1
	for _, p := range profiles {
		longest = max(longest, p.Window())
		for name, w := range p.Events {
			if w > 0 {
				events.add(name)
				scored.add(name)
			}
		}
		for _, c := range slices.Concat(p.Filter.Did, p.Filter.DidNot) {
			events.add(c.Event)
		}
		for _, e := range p.Activation.Events {
			events.add(e)
		}
		for _, c := range slices.Concat(p.Filter.UserTraits, p.Activation.UserTraits) {
			users.add(c.Trait)
		}
		for _, c := range slices.Concat(p.Filter.AccountTraits, p.Activation.AccountTraits) {
			accounts.add(c.Trait)
		}
		if len(p.Exclude.EmailDomains) > 0 {
			users.add(trackplan.EmailTrait)
		}
	}
	if membershipTrait != "" {
		users.add(membershipTrait)
	}
	_, end := trackplan.ScoreWindow(at, longest)
	return Spec{
		Events:          events.sorted(),
		Scored:          scored.sorted(),
		From:            end.AddDate(0, 0, -2*longest),
		To:              end,
		UserTraits:      users.sorted(),
		AccountTraits:   accounts.sorted(),
		NameTrait:       nameTrait,
		MembershipTrait: membershipTrait,
	}
}

type set map[string]struct{}

func (s set) add(k string) { s[k] = struct{}{} }

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Load streams everything spec asks for from src into an Input, with every
// id resolved by src's identity links.
func Load(ctx context.Context, src ActivitySource, spec Spec) (*Input, error) {
	g, err := identity.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	b, err := NewBuilder(spec)
	if err != nil {
		return nil, err
	}
	b.Resolve(g)
	if err := src.Users(ctx, b.AddUser); err != nil {
		return nil, fmt.Errorf("load users: %w", err)
	}
	if err := src.Memberships(ctx, b.AddMembership); err != nil {
		return nil, fmt.Errorf("load memberships: %w", err)
	}
	if err := src.UserTraits(ctx, spec.UserTraits, b.AddUserTrait); err != nil {
		return nil, fmt.Errorf("load user traits: %w", err)
	}
	if err := src.AccountTraits(ctx, spec.AccountTraits, b.AddAccountTrait); err != nil {
		return nil, fmt.Errorf("load account traits: %w", err)
	}
	if err := src.EventTotals(ctx, spec.Events, b.AddTotal); err != nil {
		return nil, fmt.Errorf("load event totals: %w", err)
	}
	if err := src.DailyActivity(ctx, spec.Scored, spec.From, spec.To, b.AddDaily); err != nil {
		return nil, fmt.Errorf("load daily activity: %w", err)
	}
	return b.Input(), nil
}

// Input is the in-memory data a scoring run computes over: interned users,
// accounts and events, and compact rollup rows. It is built by a Builder and
// read-only afterwards, so several profiles can be scored from one Input
// concurrently.
type Input struct {
	spec     Spec
	events   []string
	eventIdx map[string]uint16
	scored   []bool // by event index: daily rollups loaded
	base     int32  // day number of spec.From
	days     int32  // days loaded, [base, base+days)

	userIDs     []string
	userFirst   []int64 // unix seconds of the first event, noTime if unknown
	userLast    []int64
	userCreated []int64 // created_at trait, else first event; noTime if unknown
	userTraits  map[string]*column

	acctIDs     []string
	acctCreated []int64 // created_at trait, else the earliest user's
	acctTraits  map[string]*column

	userOrder []uint32 // user indexes sorted by id
	acctOrder []uint32 // account indexes sorted by id

	userAccts csr // user → accounts
	acctUsers csr // account → users

	daily  chunks[dailyRow]
	totals chunks[totalRow]
}

// chunks is an append-only sequence stored in fixed-size blocks, so that
// growing it never copies rows nor holds two copies at once.
type chunks[T any] struct {
	blocks [][]T
	n      int
}

const chunkLen = 1 << 16

func (c *chunks[T]) add(v T) {
	if len(c.blocks) == 0 || len(c.blocks[len(c.blocks)-1]) == chunkLen {
		c.blocks = append(c.blocks, make([]T, 0, chunkLen))
	}
	last := &c.blocks[len(c.blocks)-1]
	*last = append(*last, v)
	c.n++
}

// Len is the number of rows.
func (c *chunks[T]) Len() int { return c.n }

// dailyRow is one (user, day, event) rollup: 12 bytes.
type dailyRow struct {
	user  uint32
	count uint32
	day   uint16 // offset from Input.base
	event uint16
}

// totalRow is one all-time (user, event) rollup.
type totalRow struct {
	user        uint32
	event       uint16
	first, last int64 // unix seconds
}

// column holds one trait's value per entity.
type column struct {
	vals []string
	has  []bool
	ats  []int64 // unix microseconds of the value, for user traits
}

func (c *column) set(i uint32, v string, ok bool) {
	c.pad(int(i) + 1)
	c.vals[i], c.has[i] = v, ok
}

// setAt sets the value unless the entity's value is of a later time: with
// ids merged into one user, the latest value wins. A value is set (and its
// time known) when ats is longer than i and non-zero.
func (c *column) setAt(i uint32, v string, ok bool, at int64) {
	c.pad(int(i) + 1)
	if len(c.ats) <= int(i) {
		c.ats = slices.Grow(c.ats, int(i)+1-len(c.ats))[:int(i)+1]
	} else if c.ats[i] != 0 && at < c.ats[i] {
		return
	}
	c.vals[i], c.has[i], c.ats[i] = v, ok, at
}

// pad extends the column to n entities.
func (c *column) pad(n int) {
	if n > len(c.vals) {
		c.vals = slices.Grow(c.vals, n-len(c.vals))[:n]
		c.has = slices.Grow(c.has, n-len(c.has))[:n]
	}
}

func (c *column) get(i uint32) (string, bool) {
	if c == nil || int(i) >= len(c.vals) {
		return "", false
	}
	return c.vals[i], c.has[i]
}

// csr is a compressed adjacency list: the neighbours of i are
// list[off[i]:off[i+1]].
type csr struct {
	off  []uint32
	list []uint32
}

func (c csr) of(i uint32) []uint32 { return c.list[c.off[i]:c.off[i+1]] }

// Users is the number of users in the input.
func (in *Input) Users() int { return len(in.userIDs) }

// Accounts is the number of accounts in the input.
func (in *Input) Accounts() int { return len(in.acctIDs) }

// Rows is the number of daily and all-time rollup rows held.
func (in *Input) Rows() (daily, totals int) { return in.daily.Len(), in.totals.Len() }

// Spec is what the input was loaded for.
func (in *Input) Spec() Spec { return in.spec }

// Builder assembles an Input from rows in any order. Its Add methods have the
// signatures of the ActivitySource callbacks. It is not safe for concurrent
// use.
type Builder struct {
	in       *Input
	resolve  func(string) string // nil: ids are not resolved
	userIdx  map[string]uint32
	acctIdx  map[string]uint32
	lastUser string // the last row's id and index (unresolved builds)
	lastIdx  uint32
	hasLast  bool
	lastRaw  string // the last row's id and its user (resolved builds)
	rawIdx   uint32
	rawOK    bool
	hasRaw   bool
	lastEv   string
	lastEvIx uint16
	evKnown  bool
	pairs    []pair
	userWant set
	acctWant set
}

type pair struct{ user, acct uint32 }

// NewBuilder returns a builder for an Input holding what spec asks for.
// Rows outside the spec (other events, days or traits) are ignored.
func NewBuilder(spec Spec) (*Builder, error) {
	from, to := dayNum(spec.From), dayNum(spec.To)
	switch {
	case to < from:
		return nil, fmt.Errorf("new input: days from %s after to %s", spec.From.Format(time.DateOnly), spec.To.Format(time.DateOnly))
	case to-from > maxDays:
		return nil, fmt.Errorf("new input: %d days, more than %d", to-from, maxDays)
	case len(spec.Events) > math.MaxUint16:
		return nil, fmt.Errorf("new input: %d events, more than %d", len(spec.Events), math.MaxUint16)
	}
	if spec.NameTrait == "" {
		spec.NameTrait = trackplan.DefaultAccountNameTrait
	}
	in := &Input{
		spec:       spec,
		eventIdx:   make(map[string]uint16, len(spec.Events)),
		base:       from,
		days:       to - from,
		userTraits: map[string]*column{},
		acctTraits: map[string]*column{},
	}
	for _, e := range spec.Events {
		if _, ok := in.eventIdx[e]; !ok {
			in.eventIdx[e] = uint16(len(in.events))
			in.events = append(in.events, e)
		}
	}
	in.scored = make([]bool, len(in.events))
	for _, e := range spec.Scored {
		if i, ok := in.eventIdx[e]; ok {
			in.scored[i] = true
		}
	}
	b := &Builder{in: in, userIdx: map[string]uint32{}, acctIdx: map[string]uint32{}, userWant: set{}, acctWant: set{}}
	for _, t := range spec.UserTraits {
		b.userWant.add(t)
		in.userTraits[t] = &column{}
	}
	for _, t := range append(slices.Clip(spec.AccountTraits), spec.NameTrait, trackplan.CreatedAtTrait) {
		b.acctWant.add(t)
		in.acctTraits[t] = &column{}
	}
	b.userWant.add(trackplan.CreatedAtTrait)
	if in.userTraits[trackplan.CreatedAtTrait] == nil {
		in.userTraits[trackplan.CreatedAtTrait] = &column{}
	}
	return b, nil
}

var errTooMany = errors.New("more than 2^32-1 users or accounts")

// Resolve makes the builder key every row by the id g resolves its id to.
// Users are then created by AddUser only: the rows of an id AddUser did not
// resolve to (an anonymous id never linked to a user) are ignored.
func (b *Builder) Resolve(g *identity.Graph) {
	b.resolve = g.Resolve
}

// member returns the index of the user a row's id resolves to; ok is false
// when rows are resolved and no AddUser named that user.
func (b *Builder) member(id string) (idx uint32, ok bool, err error) {
	if b.resolve == nil {
		i, err := b.user(id)
		return i, err == nil, err
	}
	if b.hasRaw && id == b.lastRaw {
		return b.rawIdx, b.rawOK, nil
	}
	i, ok := b.userIdx[b.resolve(id)]
	b.lastRaw, b.rawIdx, b.rawOK, b.hasRaw = id, i, ok, true
	return i, ok, nil
}

func (b *Builder) user(id string) (uint32, error) {
	if b.resolve != nil {
		id = b.resolve(id)
	} else if b.hasLast && id == b.lastUser {
		return b.lastIdx, nil
	}
	i, ok := b.userIdx[id]
	if !ok {
		if len(b.in.userIDs) >= math.MaxUint32 {
			return 0, errTooMany
		}
		i = uint32(len(b.in.userIDs))
		b.userIdx[id] = i
		b.in.userIDs = append(b.in.userIDs, id)
		b.in.userFirst = append(b.in.userFirst, noTime)
		b.in.userLast = append(b.in.userLast, noTime)
	}
	if b.resolve == nil {
		b.lastUser, b.lastIdx, b.hasLast = id, i, true
	}
	return i, nil
}

func (b *Builder) account(id string) (uint32, error) {
	i, ok := b.acctIdx[id]
	if !ok {
		if len(b.in.acctIDs) >= math.MaxUint32 {
			return 0, errTooMany
		}
		i = uint32(len(b.in.acctIDs))
		b.acctIdx[id] = i
		b.in.acctIDs = append(b.in.acctIDs, id)
	}
	return i, nil
}

// AddUser records a user with the times of their first and last event of
// any kind (zero when unknown).
func (b *Builder) AddUser(userID string, first, last time.Time) error {
	u, err := b.user(userID)
	if err != nil {
		return fmt.Errorf("add user %q: %w", userID, err)
	}
	if !first.IsZero() {
		if f := first.Unix(); b.in.userFirst[u] == noTime || f < b.in.userFirst[u] {
			b.in.userFirst[u] = f
		}
	}
	if !last.IsZero() {
		b.in.userLast[u] = max(b.in.userLast[u], last.Unix())
	}
	return nil
}

// AddMembership records that the user belongs to the account.
func (b *Builder) AddMembership(userID, groupID string) error {
	u, ok, err := b.member(userID)
	if err != nil {
		return fmt.Errorf("add membership %q: %w", userID, err)
	}
	if !ok {
		return nil
	}
	a, err := b.account(groupID)
	if err != nil {
		return fmt.Errorf("add membership %q: %w", groupID, err)
	}
	b.pairs = append(b.pairs, pair{u, a})
	return nil
}

// AddUserTrait records the value (JSON) of a user trait set at event time
// at; null clears it. Of the values of ids merged into one user, the latest
// wins.
func (b *Builder) AddUserTrait(userID, name string, value json.RawMessage, at time.Time) error {
	if _, ok := b.userWant[name]; !ok {
		return nil
	}
	u, ok, err := b.member(userID)
	if err != nil {
		return fmt.Errorf("add trait of user %q: %w", userID, err)
	}
	if !ok {
		return nil
	}
	v, ok := TraitText(value)
	b.in.userTraits[name].setAt(u, v, ok, at.UnixMicro())
	return nil
}

// AddAccountTrait records the current value (JSON) of an account trait;
// null clears it.
func (b *Builder) AddAccountTrait(groupID, name string, value json.RawMessage) error {
	if _, ok := b.acctWant[name]; !ok {
		return nil
	}
	a, err := b.account(groupID)
	if err != nil {
		return fmt.Errorf("add trait of account %q: %w", groupID, err)
	}
	v, ok := TraitText(value)
	b.in.acctTraits[name].set(a, v, ok)
	return nil
}

// AddTotal records the all-time rollup of one (user, event).
func (b *Builder) AddTotal(userID, event string, first, last time.Time) error {
	e, ok := b.in.eventIdx[event]
	if !ok {
		return nil
	}
	u, ok, err := b.member(userID)
	if err != nil || !ok {
		return wrapErr("add totals of user", userID, err)
	}
	b.in.totals.add(totalRow{user: u, event: e, first: first.Unix(), last: last.Unix()})
	return nil
}

// AddDaily records that the user did the event count times on the UTC day
// starting at day. Counts above 2^32-1 are clamped.
func (b *Builder) AddDaily(userID, event string, day time.Time, count int64) error {
	if !b.evKnown || event != b.lastEv {
		b.lastEvIx, b.evKnown = b.in.eventIdx[event]
		b.lastEv = event
	}
	e, ok := b.lastEvIx, b.evKnown
	if !ok || !b.in.scored[e] || count <= 0 {
		return nil
	}
	d := dayNum(day) - b.in.base
	if d < 0 || d >= b.in.days {
		return nil
	}
	u, ok, err := b.member(userID)
	if err != nil || !ok {
		return wrapErr("add activity of user", userID, err)
	}
	b.in.daily.add(dailyRow{user: u, count: uint32(min(count, math.MaxUint32)), day: uint16(d), event: e})
	return nil
}

// wrapErr wraps err (nil stays nil) with what was added for whom.
func wrapErr(what, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s %q: %w", what, id, err)
}

// Input finishes the build. The builder must not be used afterwards.
func (b *Builder) Input() *Input {
	in := b.in
	if t := in.spec.MembershipTrait; t != "" {
		// A user whose membership trait names an account is one of its
		// members.
		for u, id := range in.userTraits[t].vals {
			if in.userTraits[t].has[u] && id != "" {
				if a, err := b.account(id); err == nil {
					b.pairs = append(b.pairs, pair{uint32(u), a})
				}
			}
		}
	}
	n := uint32(len(in.userIDs))
	for _, c := range in.userTraits {
		c.pad(int(n))
	}
	na := uint32(len(in.acctIDs))
	for _, c := range in.acctTraits {
		c.pad(int(na))
	}

	slices.SortFunc(b.pairs, func(x, y pair) int {
		return cmp.Or(cmp.Compare(x.user, y.user), cmp.Compare(x.acct, y.acct))
	})
	b.pairs = slices.Compact(b.pairs)
	in.userAccts = buildCSR(len(in.userIDs), b.pairs, func(p pair) (uint32, uint32) { return p.user, p.acct })
	in.acctUsers = buildCSR(len(in.acctIDs), b.pairs, func(p pair) (uint32, uint32) { return p.acct, p.user })

	in.userCreated = make([]int64, n)
	created := in.userTraits[trackplan.CreatedAtTrait]
	for u := range n {
		in.userCreated[u] = in.userFirst[u]
		if v, ok := created.get(u); ok {
			if t, ok := trackplan.ParseTraitTime(v); ok {
				in.userCreated[u] = t.Unix()
			}
		}
	}
	in.acctCreated = make([]int64, na)
	created = in.acctTraits[trackplan.CreatedAtTrait]
	for a := range na {
		in.acctCreated[a] = noTime
		if v, ok := created.get(a); ok {
			if t, ok := trackplan.ParseTraitTime(v); ok {
				in.acctCreated[a] = t.Unix()
				continue
			}
		}
		for _, u := range in.acctUsers.of(a) {
			if c := in.userCreated[u]; c != noTime && (in.acctCreated[a] == noTime || c < in.acctCreated[a]) {
				in.acctCreated[a] = c
			}
		}
	}
	in.userOrder = sortedOrder(in.userIDs)
	in.acctOrder = sortedOrder(in.acctIDs)
	b.in, b.userIdx, b.acctIdx, b.pairs = nil, nil, nil, nil
	return in
}

// sortedOrder returns the indexes of ids in the order of the ids.
func sortedOrder(ids []string) []uint32 {
	order := make([]uint32, len(ids))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int { return strings.Compare(ids[a], ids[b]) })
	return order
}

// buildCSR builds the adjacency of n nodes from pairs (in any order) with a
// counting sort; neighbours keep the pairs' order.
func buildCSR(n int, pairs []pair, ends func(pair) (from, to uint32)) csr {
	off := make([]uint32, n+1)
	for _, p := range pairs {
		f, _ := ends(p)
		off[f+1]++
	}
	for i := range n {
		off[i+1] += off[i]
	}
	list := make([]uint32, len(pairs))
	next := slices.Clone(off[:n])
	for _, p := range pairs {
		f, t := ends(p)
		list[next[f]] = t
		next[f]++
	}
	return csr{off: off, list: list}
}

// TraitText turns a trait's JSON value into the text trait conditions test:
// a string as itself, any other value as its JSON text. ok is false for
// null or an empty value.
func TraitText(raw json.RawMessage) (text string, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		if len(raw) >= 2 && raw[len(raw)-1] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 && bytes.IndexByte(raw[1:len(raw)-1], '"') < 0 {
			return string(raw[1 : len(raw)-1]), true
		}
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s, true
		}
	}
	return string(raw), true
}

// dayNum is the number of the UTC day holding t: days since 1970-01-01.
func dayNum(t time.Time) int32 {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return int32(d)
}

// dayTime is the midnight UTC starting day d.
func dayTime(d int32) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }
