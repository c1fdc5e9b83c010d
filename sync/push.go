package sync

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
)

// Errors of a push. ErrUnavailable and ErrRejected wrap ErrUpstream, which
// the command line maps to exit code 3.
var (
	// ErrUpstream means the endpoint did not take every message.
	ErrUpstream = errors.New("upstream failure")
	// ErrUnavailable means the endpoint could not take some messages (no
	// answer, a timeout, 408, 429, 5xx): they are pending in the ledger
	// and the next run sends them again.
	ErrUnavailable = fmt.Errorf("segment endpoint unavailable: %w", ErrUpstream)
	// ErrRejected means the endpoint refused some messages for good (a
	// 4xx other than 408 and 429, a message over 32,000 bytes): they are
	// in the failed-keys ledger with the reason, and retried next run.
	ErrRejected = fmt.Errorf("messages refused by the segment endpoint: %w", ErrUpstream)
)

// Push defaults.
const (
	// DefaultTraitPrefix starts every pushed trait name.
	DefaultTraitPrefix = "engagement_"
	// DefaultModelVersion is the model version messageIds derive from.
	DefaultModelVersion = "1"
	// DefaultPushInterval is the client's flush interval during a push
	// when segment.ClientConfig.Interval is zero: the last, partial batch
	// leaves after it.
	DefaultPushInterval = 200 * time.Millisecond
	// DefaultMaxInFlight is how many messages a push has enqueued without
	// an outcome at most, when PushConfig.MaxInFlight is zero. It keeps
	// analytics-go below its 1,000 concurrent batches, past which it drops
	// batches (too_many_requests).
	DefaultMaxInFlight = 25_000
	// DefaultGroupAnonymousID is the anonymousId of a group call for an
	// account of which the snapshot lists no user.
	DefaultGroupAnonymousID = "trackplan-engagement"
)

// ledgerChunk is how many outcomes one ledger transaction records.
const ledgerChunk = 5000

// maxErrorText bounds the error text kept per failed key.
const maxErrorText = 500

// PushStore is what a push reads and writes.
type PushStore interface {
	// LatestScores returns the profile's latest run before the given
	// time, or an error wrapping trackplan.ErrNotFound.
	LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error)
	store.Ledger
	// IdentityLinks tells merged user ids apart from users that left a
	// snapshot (see OnRemoved); it is read only when the ledger holds a
	// user the snapshot does not list.
	identity.LinkSource
}

// PushConfig says what a push sends. The zero value of every field but
// Identify is a usable default; DefaultPushConfig sets Identify.
type PushConfig struct {
	// Profiles names the profiles whose latest snapshot is pushed; empty
	// means the default profile.
	Profiles []string
	// Prefix starts every trait name; empty means DefaultTraitPrefix. A
	// profile other than the default one adds its name and "_" after it
	// (engagement_trial_score).
	Prefix string
	// Names renames traits: key a Trait* field ("score", "tier", …), value
	// the name after the prefix, or OmitTrait to leave the trait out.
	Names map[string]string
	// Identify sends an identify call per user; otherwise only accounts
	// are pushed.
	Identify bool
	// GroupAnonymousID, when set, is the anonymousId of every group call,
	// which then has no userId. Otherwise a group call's userId is the
	// account's most recently active user, or, when none was ever active,
	// its first user in the snapshot.
	GroupAnonymousID string
	// Threshold, when above 0, holds back a changed entity unless its score
	// moved by at least this many points or its tier changed.
	Threshold float64
	// ModelVersion is part of every messageId; empty means
	// DefaultModelVersion.
	ModelVersion string
	// DryRun computes the calls and returns them, sending nothing and
	// writing nothing.
	DryRun bool
	// Full sends every entity, changed or not.
	Full bool
	// MaxWait bounds the wait for the outcomes once everything is
	// enqueued; 0 waits until each message is delivered or dropped by the
	// client's retries. Messages without an outcome are pending.
	MaxWait time.Duration
	// MaxInFlight bounds the messages enqueued without an outcome; 0 means
	// DefaultMaxInFlight.
	MaxInFlight int
	// OnRemoved says what happens to an entity the ledger knows that the
	// profile's snapshot no longer lists: OnRemovedZero (the default, also
	// when empty) or OnRemovedIgnore.
	OnRemoved string
}

// Values of PushConfig.OnRemoved.
const (
	// OnRemovedZero sends an entity that left the snapshot one final
	// update — score 0, tier inactive, the other traits those of an
	// entity without activity — and retires its ledger entry once that
	// update is acknowledged; a failed one is retried next run. A user
	// merged into another (identity links) gets no call: its entry is
	// retired. Users are handled only when Identify is on.
	OnRemovedZero = "zero"
	// OnRemovedIgnore sends nothing for entities that left the snapshot
	// and leaves their ledger entries as they are.
	OnRemovedIgnore = "ignore"
)

// DefaultPushConfig returns the product's defaults: the default profile,
// engagement_ traits, identify calls on.
func DefaultPushConfig() PushConfig {
	return PushConfig{Profiles: []string{trackplan.DefaultProfileName}, Prefix: DefaultTraitPrefix,
		Identify: true, ModelVersion: DefaultModelVersion}
}

// Validate checks the config; problems are reported in a
// *trackplan.ValidationError with fields qualified by "push.".
func (c PushConfig) Validate() error {
	var v trackplan.ValidationError
	seen := map[string]int{}
	for i, p := range c.Profiles {
		f := fmt.Sprintf("push.profiles[%d]", i)
		switch {
		case strings.TrimSpace(p) == "":
			v.Add(f, "empty profile name")
		case traitSlug(p) == "":
			v.Add(f, fmt.Sprintf("%q has no letter or digit to name traits with", p))
		}
		if j, dup := seen[p]; dup {
			v.Add(f, fmt.Sprintf("%q already listed at push.profiles[%d]", p, j))
		}
		seen[p] = i
	}
	if !validName(c.Prefix) {
		v.Add("push.prefix", fmt.Sprintf("%q is not a usable trait-name prefix", c.Prefix))
	}
	for _, k := range slices.Sorted(maps.Keys(c.Names)) {
		f := "push.names." + k
		if _, ok := fieldOf(k); !ok {
			v.Add(f, "unknown trait (want score, total_score, tier, trend, active_users, total_users, active_pct, frequency, last_active, adoption or activation)")
			continue
		}
		if n := c.Names[k]; n == "" || (n != OmitTrait && !validName(n)) {
			v.Add(f, fmt.Sprintf("%q is not a usable trait name", n))
		}
	}
	if math.IsNaN(c.Threshold) || c.Threshold < 0 || c.Threshold > 100 {
		v.Add("push.threshold", fmt.Sprintf("%g outside 0–100", c.Threshold))
	}
	if c.Threshold > 0 && c.Names[TraitScore] == OmitTrait && c.Names[TraitTier] == OmitTrait {
		v.Add("push.threshold", "needs the score or the tier trait")
	}
	if c.MaxWait < 0 {
		v.Add("push.max_wait", fmt.Sprintf("%s is negative", c.MaxWait))
	}
	if c.MaxInFlight < 0 {
		v.Add("push.max_in_flight", fmt.Sprintf("%d is negative", c.MaxInFlight))
	}
	if len(c.ModelVersion) > 64 {
		v.Add("push.model_version", "longer than 64 bytes")
	}
	if len(c.GroupAnonymousID) > 200 {
		v.Add("push.group_anonymous_id", "longer than 200 bytes")
	}
	switch c.OnRemoved {
	case "", OnRemovedZero, OnRemovedIgnore:
	default:
		v.Add("push.on_removed", fmt.Sprintf("must be %s or %s, not %q", OnRemovedZero, OnRemovedIgnore, c.OnRemoved))
	}
	if err := v.Err(); err != nil {
		return err
	}
	for _, p := range c.profiles() {
		if _, _, err := newLayouts(&c, p); err != nil {
			v.Add("push.names", err.Error())
		}
	}
	return v.Err()
}

func (c *PushConfig) profiles() []string {
	if len(c.Profiles) == 0 {
		return []string{trackplan.DefaultProfileName}
	}
	return c.Profiles
}

// validName accepts an empty name (a default applies) and any valid UTF-8
// of at most 100 bytes without control characters.
func validName(s string) bool {
	if len(s) > 100 || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// Push is the score push job. Create it with NewPush.
type Push struct {
	cfg    PushConfig
	store  PushStore
	client segment.ClientConfig
	now    func() time.Time
	log    *slog.Logger
}

// NewPush validates cfg and returns the job. client configures the
// endpoint; the push sets its OnResult and StatusAware, and its Interval
// when zero (DefaultPushInterval). now nil means time.Now; log nil
// discards.
func NewPush(st PushStore, client segment.ClientConfig, cfg PushConfig, now func() time.Time, log *slog.Logger) (*Push, error) {
	if st == nil {
		return nil, errors.New("new push: no store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new push: %w", err)
	}
	if !cfg.DryRun && client.WriteKey == "" {
		return nil, errors.New("new push: the segment client needs a write key")
	}
	if cfg.ModelVersion == "" {
		cfg.ModelVersion = DefaultModelVersion
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Push{cfg: cfg, store: st, client: client, now: now, log: log}, nil
}

// PushCounts counts the entities of one kind in a push. The first five
// partition the snapshot's entities; Removed and Retired count the ledger's
// entities the snapshot no longer lists; the others count messages.
type PushCounts struct {
	// Added: never acknowledged before, sent.
	Added int `json:"added"`
	// Changed: a trait changed since the last acknowledgement, sent.
	Changed int `json:"changed"`
	// Unchanged: equal to the last acknowledgement; not sent unless Full.
	Unchanged int `json:"unchanged"`
	// Held: changed, but less than the threshold; not sent.
	Held int `json:"held"`
	// Retried: in the failed-keys ledger, sent again.
	Retried int `json:"retried"`
	// Removed: known to the ledger, no longer in the snapshot; its final
	// update (score 0, tier inactive) sent, or sent again after a failure.
	// Its ledger entry is retired once the update is acknowledged.
	Removed int `json:"removed"`
	// Retired: known to the ledger, no longer in the snapshot, dropped
	// from the ledger without a call: a user merged into another, or an
	// entity whose acknowledged traits already are the final update's.
	Retired int `json:"retired"`
	// Sent counts the messages handed to the client (or, in a dry run,
	// that would be).
	Sent int `json:"sent"`
	// Acknowledged counts the messages the endpoint accepted.
	Acknowledged int `json:"acknowledged"`
	// Failed is Pending + Rejected.
	Failed int `json:"failed"`
	// Pending counts the messages the endpoint could not take or whose
	// outcome is unknown.
	Pending int `json:"pending"`
	// Rejected counts the messages the endpoint refused for good.
	Rejected int `json:"rejected"`
}

func (c *PushCounts) add(o PushCounts) {
	c.Added += o.Added
	c.Changed += o.Changed
	c.Unchanged += o.Unchanged
	c.Held += o.Held
	c.Retried += o.Retried
	c.Removed += o.Removed
	c.Retired += o.Retired
	c.Sent += o.Sent
	c.Acknowledged += o.Acknowledged
	c.Failed += o.Failed
	c.Pending += o.Pending
	c.Rejected += o.Rejected
}

// ProfileResult is what a push did with one profile.
type ProfileResult struct {
	// Profile is the profile's name.
	Profile string `json:"profile"`
	// SnapshotAt is the time of the pushed snapshot; zero when none.
	SnapshotAt time.Time `json:"snapshot_at,omitzero"`
	// NoSnapshot means the profile has not been scored yet.
	NoSnapshot bool `json:"no_snapshot,omitempty"`
	// Accounts and Users count the group and identify calls.
	Accounts PushCounts `json:"accounts"`
	Users    PushCounts `json:"users"`
	// Failures counts the failed messages by reason (http_503,
	// message_too_big, no_outcome, …).
	Failures map[string]int `json:"failures,omitempty"`
	// Error is the profile's error, if any.
	Error string `json:"error,omitempty"`
}

// PushResult is what a push did.
type PushResult struct {
	// At is when the run started; messages carry it as their timestamp.
	At time.Time `json:"at"`
	// DryRun and Full echo the config.
	DryRun bool `json:"dry_run"`
	Full   bool `json:"full"`
	// Accounts and Users total the profiles' counts.
	Accounts PushCounts `json:"accounts"`
	Users    PushCounts `json:"users"`
	// Profiles holds the result of each profile, in config order.
	Profiles []ProfileResult `json:"profiles"`
	// Calls are the calls a dry run would send (an empty list when there
	// is none); nil, and left out of JSON, otherwise.
	Calls []Call `json:"calls,omitzero"`
	// Took is the run's duration.
	Took time.Duration `json:"took"`
}

// Total adds up accounts and users.
func (r PushResult) Total() PushCounts {
	t := r.Accounts
	t.add(r.Users)
	return t
}

// Counts returns the totals for the run log.
func (r PushResult) Counts() map[string]int64 {
	t := r.Total()
	return map[string]int64{
		"added": int64(t.Added), "changed": int64(t.Changed), "unchanged": int64(t.Unchanged),
		"held": int64(t.Held), "retried": int64(t.Retried), "removed": int64(t.Removed),
		"retired": int64(t.Retired), "sent": int64(t.Sent),
		"acknowledged": int64(t.Acknowledged), "failed": int64(t.Failed),
		"pending": int64(t.Pending), "rejected": int64(t.Rejected),
	}
}

// Call is one call a push sends, in Segment's JSON shape, with the
// profile and the reason it is sent.
type Call struct {
	// Type, MessageID, UserID, AnonymousID, GroupID, Timestamp and Traits
	// are the message's fields, as sent.
	Type        trackplan.CallType `json:"type"`
	MessageID   string             `json:"messageId"`
	UserID      string             `json:"userId,omitempty"`
	AnonymousID string             `json:"anonymousId,omitempty"`
	GroupID     string             `json:"groupId,omitempty"`
	Timestamp   time.Time          `json:"timestamp"`
	Traits      map[string]any     `json:"traits"`
	// Profile is the pushed profile.
	Profile string `json:"profile"`
	// Change is added, changed, retried, unchanged (sent by Full) or
	// removed (the final update of an entity that left the snapshot).
	Change string `json:"change"`
}

// change says why an entity is sent.
type change uint8

const (
	changeAdded change = iota
	changeChanged
	changeRetried
	changeUnchanged
	changeRemoved
)

func (c change) String() string {
	return [...]string{"added", "changed", "retried", "unchanged", "removed"}[c]
}

// prior is what the ledger knows of one entity of the snapshot.
type prior struct {
	digest digest
	acked  bool
	failed bool
}

// slot is one message to send: of the snapshot entity idx, or, when gone,
// the final update of profileRun.gone[idx].
type slot struct {
	user   bool
	gone   bool
	idx    int32
	change change
	msg    digest
}

// profileRun is one profile's push in progress.
type profileRun struct {
	p        *Push
	name     string
	snap     *trackplan.ScoreRun
	at       time.Time
	accounts layout
	users    layout
	// priors are indexed like snap.Accounts and snap.Users.
	accPriors, userPriors []prior
	// moves are the acknowledged scores and tiers (threshold only).
	accMoves, userMoves []ackedMove
	slots               []slot
	members             map[string]string // account → first user, built on demand
	// gone are the ledger's entities the snapshot does not list (OnRemoved
	// zero), goneAt indexes them while the ledger is read; retire are the
	// keys dropped without a call (push_removed.go).
	gone   []goneEntity
	goneAt map[store.LedgerKey]int
	retire []store.LedgerKey
	ids    *idGraph
	res    ProfileResult
}

// Run pushes the latest snapshot of every profile. It returns the counts
// even with an error. An error wraps ErrUnavailable when the endpoint
// could not take messages (they are pending in the ledger), ErrRejected
// when it refused some, the context's error when the run was cut short,
// and a store error when the ledger could not be read or written. After
// ErrUnavailable the remaining profiles are not attempted.
func (p *Push) Run(ctx context.Context) (PushResult, error) {
	start := p.now()
	res := PushResult{At: start.UTC(), DryRun: p.cfg.DryRun, Full: p.cfg.Full}
	if p.cfg.DryRun {
		res.Calls = []Call{}
	}
	var errs []error
	ids := &idGraph{}
	for _, name := range p.cfg.profiles() {
		pr := &profileRun{p: p, name: name, at: start.UTC(), ids: ids, res: ProfileResult{Profile: name}}
		err := pr.run(ctx, &res)
		if err != nil {
			err = fmt.Errorf("push profile %q: %w", name, err)
			pr.res.Error = err.Error()
			errs = append(errs, err)
		}
		res.Profiles = append(res.Profiles, pr.res)
		res.Accounts.add(pr.res.Accounts)
		res.Users.add(pr.res.Users)
		if errors.Is(err, ErrUnavailable) || ctx.Err() != nil {
			break
		}
	}
	res.Took = p.now().Sub(start)
	t := res.Total()
	p.log.Info("push finished", "dry_run", res.DryRun, "full", res.Full, "added", t.Added, "changed", t.Changed,
		"unchanged", t.Unchanged, "held", t.Held, "retried", t.Retried, "removed", t.Removed, "retired", t.Retired, "sent", t.Sent,
		"acknowledged", t.Acknowledged, "pending", t.Pending, "rejected", t.Rejected, "took", res.Took)
	return res, errors.Join(errs...)
}

func (r *profileRun) run(ctx context.Context, res *PushResult) error {
	p := r.p
	var err error
	if r.accounts, r.users, err = newLayouts(&p.cfg, r.name); err != nil {
		return err
	}
	// The snapshot taken at or before now.
	r.snap, err = p.store.LatestScores(ctx, r.name, r.at.Add(time.Microsecond))
	if errors.Is(err, trackplan.ErrNotFound) {
		p.log.Warn("no score snapshot to push", "profile", r.name)
		r.res.NoSnapshot = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("read latest scores: %w", err)
	}
	r.res.SnapshotAt = r.snap.At
	sortSnapshot(r.snap)
	if err := r.loadLedger(ctx); err != nil {
		return err
	}
	r.diff()
	if err := r.diffGone(ctx); err != nil {
		return err
	}
	r.res.Accounts.Sent, r.res.Users.Sent = r.countSent()
	if p.cfg.DryRun {
		for _, s := range r.slots {
			res.Calls = append(res.Calls, r.call(s))
		}
		return nil
	}
	// Entries dropped without a call; a failure to drop them is reported
	// and they are looked at again next run.
	var retired error
	if len(r.retire) > 0 {
		if err := p.store.LedgerRetire(ctx, r.name, r.retire); err != nil {
			retired = fmt.Errorf("retire ledger entries of merged and settled entities: %w", err)
		}
	}
	if len(r.slots) == 0 {
		return retired
	}
	return errors.Join(retired, r.deliver(ctx))
}

// sortSnapshot sorts accounts and users by id unless they already are, so
// ledger keys can be found by binary search.
func sortSnapshot(s *trackplan.ScoreRun) {
	if !slices.IsSortedFunc(s.Accounts, func(a, b trackplan.AccountScore) int { return cmp.Compare(a.ID, b.ID) }) {
		slices.SortFunc(s.Accounts, func(a, b trackplan.AccountScore) int { return cmp.Compare(a.ID, b.ID) })
	}
	if !slices.IsSortedFunc(s.Users, func(a, b trackplan.UserScore) int { return cmp.Compare(a.ID, b.ID) }) {
		slices.SortFunc(s.Users, func(a, b trackplan.UserScore) int { return cmp.Compare(a.ID, b.ID) })
	}
}

// find returns the snapshot index of a ledger key, or false.
func (r *profileRun) find(k store.LedgerKey) (user bool, idx int, ok bool) {
	switch k.Kind {
	case store.EntityAccount:
		idx, ok = slices.BinarySearchFunc(r.snap.Accounts, k.ID, func(a trackplan.AccountScore, id string) int { return cmp.Compare(a.ID, id) })
		return false, idx, ok
	case store.EntityUser:
		idx, ok = slices.BinarySearchFunc(r.snap.Users, k.ID, func(u trackplan.UserScore, id string) int { return cmp.Compare(u.ID, id) })
		return true, idx, ok
	}
	return false, 0, false
}

// loadLedger reads what the ledger knows of the snapshot's entities.
// Entries of entities the snapshot does not list are noted as gone when
// OnRemoved says they get a final update, skipped otherwise.
func (r *profileRun) loadLedger(ctx context.Context) error {
	r.accPriors = make([]prior, len(r.snap.Accounts))
	r.userPriors = make([]prior, len(r.snap.Users))
	threshold := r.p.cfg.Threshold > 0 && !r.p.cfg.Full
	if threshold {
		r.accMoves = make([]ackedMove, len(r.snap.Accounts))
		r.userMoves = make([]ackedMove, len(r.snap.Users))
	}
	err := r.p.store.LedgerLoad(ctx, r.name, func(e store.LedgerEntry) error {
		user, i, ok := r.find(e.LedgerKey)
		if !ok {
			r.noteGone(e.LedgerKey, e.Digest, false)
			return nil
		}
		var (
			pr    *prior
			lay   *layout
			moves []ackedMove
		)
		if user {
			pr, lay, moves = &r.userPriors[i], &r.users, r.userMoves
		} else {
			pr, lay, moves = &r.accPriors[i], &r.accounts, r.accMoves
		}
		// A digest that does not parse stays zero: the entity is resent.
		pr.digest, _ = parseDigest(e.Digest)
		pr.acked = true
		if threshold {
			moves[i] = lay.readMove(e.Traits)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read push ledger: %w", err)
	}
	err = r.p.store.LedgerFailures(ctx, r.name, func(f store.LedgerFailure) error {
		if user, i, ok := r.find(f.LedgerKey); ok {
			if user {
				r.userPriors[i].failed = true
			} else {
				r.accPriors[i].failed = true
			}
		} else {
			r.noteGone(f.LedgerKey, "", true)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read push failures: %w", err)
	}
	return nil
}

// diff decides, for every entity of the snapshot, whether it is sent.
func (r *profileRun) diff() {
	cfg := &r.p.cfg
	var buf []byte
	decide := func(user bool, i int, v *values, pr *prior, moves []ackedMove, counts *PushCounts) {
		lay, kind, id := &r.accounts, store.EntityAccount, ""
		if user {
			lay, kind, id = &r.users, store.EntityUser, r.snap.Users[i].ID
		} else {
			id = r.snap.Accounts[i].ID
		}
		buf = lay.encode(buf[:0], v)
		d := traitDigest(buf)
		var ch change
		switch {
		case pr.failed:
			ch = changeRetried
			counts.Retried++
		case !pr.acked:
			ch = changeAdded
			counts.Added++
		case d == pr.digest:
			counts.Unchanged++
			if !cfg.Full {
				return
			}
			ch = changeUnchanged
		case moves != nil && !lay.moved(moves[i], v, cfg.Threshold):
			counts.Held++
			return
		default:
			ch = changeChanged
			counts.Changed++
		}
		prev := ""
		if pr.acked {
			prev = pr.digest.String()
		}
		r.slots = append(r.slots, slot{user: user, idx: int32(i), change: ch,
			msg: messageDigest(r.name, string(kind), id, cfg.ModelVersion, prev, buf)})
	}
	for i := range r.snap.Accounts {
		v := accountValues(&r.snap.Accounts[i])
		decide(false, i, &v, &r.accPriors[i], r.accMoves, &r.res.Accounts)
	}
	for i := range r.snap.Users {
		if !cfg.Identify {
			break
		}
		v := userValues(&r.snap.Users[i])
		decide(true, i, &v, &r.userPriors[i], r.userMoves, &r.res.Users)
	}
	// The priors are not needed past this point.
	r.accPriors, r.userPriors, r.accMoves, r.userMoves = nil, nil, nil, nil
}

func (r *profileRun) countSent() (accounts, users int) {
	for _, s := range r.slots {
		if s.user {
			users++
		} else {
			accounts++
		}
	}
	return accounts, users
}

// message builds the call of a slot.
func (r *profileRun) message(s slot) *trackplan.Message {
	if s.gone {
		return r.goneMessage(s)
	}
	m := &trackplan.Message{MessageID: messageID(s.msg), Timestamp: r.at}
	if s.user {
		u := &r.snap.Users[s.idx]
		v := userValues(u)
		m.Type, m.UserID, m.Traits = trackplan.Identify, u.ID, r.users.traits(&v)
		return m
	}
	a := &r.snap.Accounts[s.idx]
	v := accountValues(a)
	m.Type, m.GroupID, m.Traits = trackplan.Group, a.ID, r.accounts.traits(&v)
	r.groupCaller(m, a.LastActiveUser)
	return m
}

// groupCaller sets the userId or anonymousId of a group call for the
// account m.GroupID: push.group_user's anonymousId, else the account's
// last active user, else its first user in the snapshot, else
// DefaultGroupAnonymousID.
func (r *profileRun) groupCaller(m *trackplan.Message, lastActiveUser string) {
	switch {
	case r.p.cfg.GroupAnonymousID != "":
		m.AnonymousID = r.p.cfg.GroupAnonymousID
	case lastActiveUser != "":
		m.UserID = lastActiveUser
	default:
		m.UserID = r.member(m.GroupID)
		if m.UserID == "" {
			m.AnonymousID = DefaultGroupAnonymousID
		}
	}
}

// member returns the account's first user in the snapshot (users are
// sorted, so the smallest id), or "".
func (r *profileRun) member(account string) string {
	if r.members == nil {
		r.members = map[string]string{}
		for i := range r.snap.Users {
			for _, g := range r.snap.Users[i].Accounts {
				if _, ok := r.members[g]; !ok {
					r.members[g] = r.snap.Users[i].ID
				}
			}
		}
	}
	return r.members[account]
}

func (r *profileRun) call(s slot) Call {
	m := r.message(s)
	return Call{Type: m.Type, MessageID: m.MessageID, UserID: m.UserID, AnonymousID: m.AnonymousID,
		GroupID: m.GroupID, Timestamp: m.Timestamp, Traits: m.Traits, Profile: r.name, Change: s.change.String()}
}

// key returns the ledger key of a slot.
func (r *profileRun) key(s slot) store.LedgerKey {
	if s.gone {
		return r.gone[s.idx].key
	}
	if s.user {
		return store.LedgerKey{Kind: store.EntityUser, ID: r.snap.Users[s.idx].ID}
	}
	return store.LedgerKey{Kind: store.EntityAccount, ID: r.snap.Accounts[s.idx].ID}
}

// entry returns the ledger entry of an acknowledged slot.
func (r *profileRun) entry(s slot, at time.Time, buf []byte) (store.LedgerEntry, []byte) {
	var v values
	lay := &r.accounts
	if s.user {
		v, lay = userValues(&r.snap.Users[s.idx]), &r.users
	} else {
		v = accountValues(&r.snap.Accounts[s.idx])
	}
	buf = lay.encode(buf[:0], &v)
	return store.LedgerEntry{LedgerKey: r.key(s), Digest: traitDigest(buf).String(), MessageID: messageID(s.msg),
		Traits: append([]byte(nil), buf...), AckedAt: at}, buf
}

// outcome is the result of one message.
type outcome struct {
	slot int32
	err  error
}

// deliver sends the slots and records every outcome in the ledger as it
// arrives.
func (r *profileRun) deliver(ctx context.Context) error {
	p := r.p
	index := make(map[digest]int32, len(r.slots))
	for i, s := range r.slots {
		index[s.msg] = int32(i)
	}
	outcomes := make(chan outcome, 4096)
	// A token per message enqueued and without an outcome.
	inflight := make(chan struct{}, p.cfg.MaxInFlight)
	release := func() {
		select {
		case <-inflight:
		default:
		}
	}
	cfg := p.client
	cfg.StatusAware = true
	if cfg.Interval == 0 {
		cfg.Interval = DefaultPushInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = p.log
	}
	cfg.OnResult = func(id string, err error) {
		d, ok := parseMessageID(id)
		i, found := index[d]
		if !ok || !found {
			p.log.Warn("outcome for a message this push did not send", "message_id", id)
			return
		}
		outcomes <- outcome{slot: i, err: err}
		release()
	}
	client, err := segment.NewClient(cfg)
	if err != nil {
		return fmt.Errorf("start segment client: %w", err)
	}

	w := &ledgerWriter{r: r, resolved: make([]bool, len(r.slots)), failures: map[string]int{},
		ctx: context.WithoutCancel(ctx)}
	expect := make(chan int, 1)
	all := make(chan struct{})
	written := make(chan struct{})
	go func() {
		defer close(written)
		w.run(outcomes, expect, all)
	}()

	sent := 0
	var cut error
	for i, s := range r.slots {
		select {
		case inflight <- struct{}{}:
		case <-ctx.Done():
		}
		if err := client.Send(ctx, r.message(s)); err != nil {
			if ctx.Err() != nil {
				cut = fmt.Errorf("push cut short after %d of %d messages: %w", i, len(r.slots), ctx.Err())
				break
			}
			// Refused before sending (an invalid message): a permanent
			// failure of its own.
			outcomes <- outcome{slot: int32(i), err: &segment.DeliveryError{Reason: "invalid", Permanent: true, Err: err}}
			release()
		}
		sent++
	}
	expect <- sent
	var timeout <-chan time.Time
	if p.cfg.MaxWait > 0 {
		t := time.NewTimer(p.cfg.MaxWait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-all:
	case <-ctx.Done():
		if cut == nil {
			cut = fmt.Errorf("push cut short waiting for outcomes: %w", ctx.Err())
		}
	case <-timeout:
		p.log.Warn("push outcomes still missing after the maximum wait", "max_wait", p.cfg.MaxWait)
	}
	// Close flushes what is left with one attempt per batch; every
	// outcome it produces is reported before it returns.
	if err := client.Close(); err != nil {
		p.log.Warn("close segment client", "err", err)
	}
	close(outcomes)
	<-written
	// Sent messages without an outcome are pending: they may have landed.
	for i := range sent {
		if !w.resolved[i] {
			w.record(outcome{slot: int32(i), err: &segment.DeliveryError{Reason: "no_outcome",
				Err: errors.New("no outcome before the push ended")}})
		}
	}
	w.flush()

	r.res.Failures = w.failures
	if len(w.failures) > 0 {
		p.log.Warn("push messages not delivered", "profile", r.name, "pending", r.res.Accounts.Pending+r.res.Users.Pending,
			"rejected", r.res.Accounts.Rejected+r.res.Users.Rejected, "reasons", reasonSummary(w.failures))
	}
	var errs []error
	if w.err != nil {
		errs = append(errs, w.err)
	}
	if cut != nil {
		errs = append(errs, cut)
	}
	total := r.res.Accounts.Sent + r.res.Users.Sent
	if n := r.res.Accounts.Pending + r.res.Users.Pending; n > 0 {
		errs = append(errs, fmt.Errorf("%d of %d messages pending (%s): %w", n, total, reasonSummary(w.failures), ErrUnavailable))
	} else if n := r.res.Accounts.Rejected + r.res.Users.Rejected; n > 0 {
		errs = append(errs, fmt.Errorf("%d of %d messages refused (%s): %w", n, total, reasonSummary(w.failures), ErrRejected))
	}
	return errors.Join(errs...)
}

// reasonSummary formats failure counts as "http_503 ×3, transport ×1".
func reasonSummary(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// ledgerWriter records outcomes in the ledger in chunks, as they arrive.
type ledgerWriter struct {
	r   *profileRun
	ctx context.Context // not cancelled: outcomes are recorded even when the run is cut short

	resolved []bool
	acks     []store.LedgerEntry
	fails    []store.LedgerFailure
	retire   []store.LedgerKey // gone entities whose final update was acknowledged
	failures map[string]int
	buf      []byte
	err      error
}

// run consumes outcomes until the channel closes, and closes all once it
// has had as many as expect says were sent.
func (w *ledgerWriter) run(outcomes <-chan outcome, expect <-chan int, all chan<- struct{}) {
	want, got := -1, 0
	for {
		select {
		case n := <-expect:
			want, expect = n, nil
		case o, ok := <-outcomes:
			if !ok {
				return
			}
			if w.record(o) {
				got++
			}
		}
		if all != nil && want >= 0 && got >= want {
			close(all)
			all = nil
		}
	}
}

// record notes one outcome, once per message, and reports whether it was
// the message's first.
func (w *ledgerWriter) record(o outcome) bool {
	if w.resolved[o.slot] {
		return false
	}
	w.resolved[o.slot] = true
	r := w.r
	s := r.slots[o.slot]
	counts := &r.res.Accounts
	if s.user {
		counts = &r.res.Users
	}
	now := r.p.now().UTC()
	switch {
	case o.err == nil && s.gone:
		// The final update landed: the entity is done with.
		w.retire = append(w.retire, r.key(s))
		counts.Acknowledged++
	case o.err == nil:
		var e store.LedgerEntry
		e, w.buf = r.entry(s, now, w.buf)
		w.acks = append(w.acks, e)
		counts.Acknowledged++
	default:
		f := store.LedgerFailure{LedgerKey: r.key(s), MessageID: messageID(s.msg), Status: store.FailurePending,
			Reason: "other", Error: truncate(o.err.Error(), maxErrorText), LastFailed: now}
		var de *segment.DeliveryError
		if errors.As(o.err, &de) {
			f.Reason = de.Reason
			if de.Permanent {
				f.Status = store.FailureRejected
			}
		}
		if f.Status == store.FailureRejected {
			counts.Rejected++
		} else {
			counts.Pending++
		}
		counts.Failed++
		w.failures[f.Reason]++
		w.fails = append(w.fails, f)
	}
	if len(w.acks)+len(w.fails)+len(w.retire) >= ledgerChunk {
		w.flush()
	}
	return true
}

// flush writes what was recorded; the first error is kept.
func (w *ledgerWriter) flush() {
	name := w.r.name
	if len(w.acks) > 0 {
		if err := w.r.p.store.LedgerAck(w.ctx, name, w.acks); err != nil && w.err == nil {
			w.err = fmt.Errorf("record acknowledged messages: %w", err)
		}
		w.acks = w.acks[:0]
	}
	if len(w.fails) > 0 {
		if err := w.r.p.store.LedgerFail(w.ctx, name, w.fails); err != nil && w.err == nil {
			w.err = fmt.Errorf("record failed messages: %w", err)
		}
		w.fails = w.fails[:0]
	}
	if len(w.retire) > 0 {
		if err := w.r.p.store.LedgerRetire(w.ctx, name, w.retire); err != nil && w.err == nil {
			w.err = fmt.Errorf("retire acknowledged final updates: %w", err)
		}
		w.retire = w.retire[:0]
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
