package sync

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	gosync "sync"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
	"github.com/trackplan/trackplan/store"
)

// goneEntity is an entity the ledger knows (acknowledged, failed or both)
// that the profile's snapshot no longer lists.
type goneEntity struct {
	key    store.LedgerKey
	digest digest // of the acknowledged traits, when acked
	acked  bool
	failed bool
}

// tracksGone reports whether the push handles the ledger's entities of
// kind k that left the snapshot: with OnRemoved zero, accounts always,
// users when identify calls are on.
func (r *profileRun) tracksGone(k store.EntityKind) bool {
	if r.p.cfg.OnRemoved == OnRemovedIgnore {
		return false
	}
	switch k {
	case store.EntityAccount:
		return true
	case store.EntityUser:
		return r.p.cfg.Identify
	}
	return false
}

// noteGone records what the ledger knows of an entity the snapshot does
// not list: its acknowledged digest ("" and failed for a failure row).
func (r *profileRun) noteGone(k store.LedgerKey, acked string, failed bool) {
	if !r.tracksGone(k.Kind) {
		return
	}
	if r.goneAt == nil {
		r.goneAt = map[store.LedgerKey]int{}
	}
	i, ok := r.goneAt[k]
	if !ok {
		i = len(r.gone)
		r.goneAt[k] = i
		r.gone = append(r.gone, goneEntity{key: k})
	}
	g := &r.gone[i]
	if failed {
		g.failed = true
		return
	}
	g.acked = true
	// A digest that does not parse stays zero: the final update is sent.
	g.digest, _ = parseDigest(acked)
}

// inactiveValues are the traits of an entity without any activity: what
// the push sends for a score-0 inactive entity of a snapshot (score,
// counts and percentages 0, tier inactive, trend 0, last_active and
// activation null).
func inactiveValues(user bool) values {
	if user {
		return userValues(&trackplan.UserScore{Band: trackplan.BandInactive})
	}
	return accountValues(&trackplan.AccountScore{Band: trackplan.BandInactive})
}

// diffGone decides, for every entity that left the snapshot, between a
// final update and a silent retirement: a merged user id is retired, and
// so is an entity whose acknowledged traits already are the final ones
// (unless Full or a failure is pending); any other gets its final update.
func (r *profileRun) diffGone(ctx context.Context) error {
	r.goneAt = nil
	if len(r.gone) == 0 {
		return nil
	}
	if len(r.snap.Users) == 0 && len(r.snap.Accounts) == 0 {
		// A snapshot with no one in it is far likelier a mistake (an
		// emptied store, a filter that matches nothing) than everyone
		// leaving at once: zeroing every entity downstream would be hard
		// to undo.
		r.p.log.Warn("the snapshot is empty: no final updates for the entities that left it",
			"profile", r.name, "left", len(r.gone))
		r.gone = nil
		return nil
	}
	slices.SortFunc(r.gone, func(a, b goneEntity) int {
		return cmp.Or(cmp.Compare(a.key.Kind, b.key.Kind), cmp.Compare(a.key.ID, b.key.ID))
	})
	var graph *identity.Graph
	if slices.ContainsFunc(r.gone, func(g goneEntity) bool { return g.key.Kind == store.EntityUser }) {
		var err error
		if graph, err = r.ids.load(ctx, r.p.store); err != nil {
			return err
		}
	}
	cfg := &r.p.cfg
	accounts, users := inactiveValues(false), inactiveValues(true)
	var buf []byte
	kept := r.gone[:0]
	for _, g := range r.gone {
		user := g.key.Kind == store.EntityUser
		lay, v, counts := &r.accounts, &accounts, &r.res.Accounts
		if user {
			lay, v, counts = &r.users, &users, &r.res.Users
		}
		if user && graph.Merged(g.key.ID) {
			// Known by another id now: a call would write the old id's
			// traits over the person's.
			r.retire = append(r.retire, g.key)
			counts.Retired++
			continue
		}
		buf = lay.encode(buf[:0], v)
		d := traitDigest(buf)
		if g.acked && !g.failed && d == g.digest && !cfg.Full {
			r.retire = append(r.retire, g.key)
			counts.Retired++
			continue
		}
		prev := ""
		if g.acked {
			prev = g.digest.String()
		}
		r.slots = append(r.slots, slot{user: user, gone: true, idx: int32(len(kept)), change: changeRemoved,
			msg: messageDigest(r.name, string(g.key.Kind), g.key.ID, cfg.ModelVersion, prev, buf)})
		kept = append(kept, g)
		counts.Removed++
	}
	r.gone = slices.Clip(kept)
	return nil
}

// goneMessage builds the final update of a gone entity. A group call's
// userId follows the usual rule, without the account's last active user
// (the snapshot does not list the account): push.group_user's anonymousId,
// else the account's first user in the snapshot, else
// DefaultGroupAnonymousID.
func (r *profileRun) goneMessage(s slot) *trackplan.Message {
	g := &r.gone[s.idx]
	m := &trackplan.Message{MessageID: messageID(s.msg), Timestamp: r.at}
	v := inactiveValues(s.user)
	if s.user {
		m.Type, m.UserID, m.Traits = trackplan.Identify, g.key.ID, r.users.traits(&v)
		return m
	}
	m.Type, m.GroupID, m.Traits = trackplan.Group, g.key.ID, r.accounts.traits(&v)
	r.groupCaller(m, "")
	return m
}

// idGraph loads the identity graph once per run, when a profile first
// needs it, and shares it between the run's profiles.
type idGraph struct {
	once  gosync.Once
	graph *identity.Graph
	err   error
}

func (c *idGraph) load(ctx context.Context, src identity.LinkSource) (*identity.Graph, error) {
	c.once.Do(func() {
		c.graph, c.err = identity.Load(ctx, src)
		if c.err != nil {
			c.err = fmt.Errorf("read identity links to tell merged users apart: %w", c.err)
		}
	})
	return c.graph, c.err
}
