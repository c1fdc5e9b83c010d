package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/identity"
	"github.com/trackplan/trackplan/store"
)

func forgetCommand() *cli.Command {
	return &cli.Command{
		Name:  "forget",
		Usage: "erase a person or an account from the event log and everything derived from it",
		Description: "Erases the messages of the given users (by userId, and the anonymous ids and aliases linked to\n" +
			"them in the log) and accounts (by groupId) from the event log, their rows from the derived state,\n" +
			"the score snapshots and the push ledger, and samples, examples and reservoir messages that hold\n" +
			"their ids, email or other identifying trait values (8 characters or more, or with an @) as a\n" +
			"whole value. The run log records that an erasure happened, with a salted hash of each id, never\n" +
			"the id.",
		Flags: []cli.Flag{
			// Variables of their own: TRACKPLAN_USER, set for `events --user`,
			// must never choose whom an erasure deletes.
			&cli.StringSliceFlag{Name: "user", Usage: "userId to erase (repeatable)", EnvVars: []string{"TRACKPLAN_FORGET_USER"}},
			&cli.StringSliceFlag{Name: "account", Usage: "groupId to erase (repeatable)", EnvVars: []string{"TRACKPLAN_FORGET_ACCOUNT"}},
		},
		Action: runForget,
	}
}

// minNeedle is the shortest trait value treated as identifying (beside
// anything with an @): shorter values ("admin", "en-US", "Acme") are shared
// by many people and identify no one.
const minNeedle = 8

func runForget(c *cli.Context) error {
	users, accounts := c.StringSlice("user"), c.StringSlice("account")
	if len(users) == 0 && len(accounts) == 0 {
		return usage("forget needs --user ID or --account ID")
	}
	if slices.Contains(users, "") || slices.Contains(accounts, "") {
		return usage("forget: an id must not be empty")
	}
	_, st, err := configuredStore(c)
	if err != nil {
		return err
	}
	defer st.Close()
	started := time.Now().UTC()

	// Everything linked to the people, in the derived state (which may
	// reach further back than the log) and in the log: anonymous ids and
	// aliases, and the identifying values of their traits.
	userSet, groupSet := store.Set(users), store.Set(accounts)
	needles := map[string]bool{}
	identifying := func(v any) {
		if s, ok := v.(string); ok && (len(s) >= minNeedle || strings.Contains(s, "@")) {
			needles[s] = true
		}
	}
	// A person is every id that resolves to the same user: forgetting any
	// of their ids forgets them all. An id linked to them but followed to
	// someone else (a shared device) is not theirs; its link to them goes.
	graph, err := identity.Load(c.Context, st)
	if err != nil {
		return upstream(err)
	}
	for _, id := range users {
		root := graph.Resolve(id)
		for _, a := range append(graph.Members(root), root) {
			userSet[a] = true
		}
	}
	theirs := func(id string) bool {
		r := graph.Resolve(id)
		return userSet[r] || r == id
	}
	for _, id := range keys(userSet) {
		if tr, ok := st.(interface {
			UserTraitsOf(ctx context.Context, userID string) (map[string]any, error)
		}); ok {
			traits, err := tr.UserTraitsOf(c.Context, id)
			if err != nil {
				return upstream(err)
			}
			for _, v := range traits {
				identifying(v)
			}
		}
	}
	for _, id := range accounts {
		traits, err := st.AccountTraitsOf(c.Context, id)
		if err != nil {
			return upstream(err)
		}
		for _, raw := range traits {
			var v any
			if json.Unmarshal(raw, &v) == nil {
				identifying(v)
			}
		}
	}
	for id := range userSet {
		needles[id] = true
	}
	for id := range groupSet {
		needles[id] = true
	}
	err = st.ReadLog(c.Context, 0, 1<<62, func(b store.LogBlock) error {
		recs, err := store.DecodeBlock(b)
		if err != nil {
			return err
		}
		for _, r := range recs {
			m := r.Message
			if m == nil {
				continue
			}
			if userSet[m.UserID] {
				for _, id := range []string{m.AnonymousID, m.PreviousID} {
					if id != "" && theirs(id) {
						userSet[id], needles[id] = true, true
					}
				}
			}
			if userSet[m.UserID] && m.Type == trackplan.Identify || groupSet[m.GroupID] && m.Type == trackplan.Group {
				for _, v := range m.Traits {
					identifying(v)
				}
			}
		}
		return nil
	})
	if err != nil {
		return upstream(fmt.Errorf("forget: read the event log: %w", err))
	}
	needleList := keys(needles)

	// A store may look at a block more than once (to find, then to
	// rewrite it): erased records are counted by sequence number.
	erased := map[int64]bool{}
	err = st.RewriteLog(c.Context, func(b store.LogBlock) ([]byte, int, bool, error) {
		return store.EraseRecords(b, func(r *store.Record) bool {
			if r.Mentions(userSet, groupSet, needleList) {
				erased[r.Seq] = true
				return true
			}
			return false
		})
	})
	if err != nil {
		return upstream(fmt.Errorf("forget: erase from the event log: %w", err))
	}
	if err := st.ForgetDerived(c.Context, keys(userSet), keys(groupSet), needleList); err != nil {
		return upstream(err)
	}

	// The run log keeps that an erasure happened: salted hashes only.
	salt := make([]byte, 8)
	rand.Read(salt)
	counts := map[string]int64{"log_records": int64(len(erased)), "users": int64(len(users)), "accounts": int64(len(accounts))}
	for _, id := range append(append([]string(nil), users...), accounts...) {
		h := sha256.Sum256(append(append([]byte(nil), salt...), id...))
		counts["subject:"+hex.EncodeToString(salt)+":"+hex.EncodeToString(h[:12])] = 1
	}
	host, _ := os.Hostname()
	run := &trackplan.JobRun{Job: "forget", Instance: fmt.Sprintf("%s:%d", host, os.Getpid()), Started: started,
		Finished: time.Now().UTC(), Outcome: trackplan.OutcomeOK, Counts: counts}
	if err := st.RecordRun(c.Context, run); err != nil {
		return upstream(err)
	}
	fmt.Fprintf(c.App.Writer, "erased %d users and %d accounts: %d log records, their derived rows, snapshots and ledger entries\n",
		len(users), len(accounts), len(erased))
	return nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
