package ingest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
)

// isolationStores opens a fresh SQLite store, and a PostgreSQL one when
// TRACKPLAN_TEST_POSTGRES is set.
func isolationStores(t *testing.T) map[string]store.Store {
	ctx := context.Background()
	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	out := map[string]store.Store{"sqlite": lite}
	if base := os.Getenv("TRACKPLAN_TEST_POSTGRES"); base != "" {
		schema := fmt.Sprintf("tp_isolation_%d", time.Now().UnixNano())
		dsn, err := postgres.CreateSchema(ctx, base, schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { postgres.DropSchema(ctx, base, schema) })
		pg, err := postgres.Open(ctx, dsn, store.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.Close() })
		out["postgres"] = pg
	}
	return out
}

// poisonID is a messageId PostgreSQL cannot index: 8,000 random letters
// stay past the B-tree's 2,704-byte limit even compressed.
func poisonID() string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	b := make([]byte, 8000)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return "ppp" + string(b)
}

// TestPoisonIsolation: two senders whose batches each carry one message
// the store cannot index (a long random messageId, past PostgreSQL's
// B-tree limit, as if the collector's bounds were bypassed) and eight
// normal senders, concurrently for a bounded time: no normal submission
// fails, every normal message is stored once, and the poison is rejected
// alone (store_rejected) where the store refuses it.
func TestPoisonIsolation(t *testing.T) {
	for name, st := range isolationStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p := ingest.Open(st, ingest.Options{MaxBatch: 500})
			defer p.Close()
			now := time.Now().UTC()
			message := func(id string) *trackplan.Message {
				return &trackplan.Message{Source: "web", Type: trackplan.Track, MessageID: id, UserID: "u", Event: "Signed In",
					Timestamp: now, ReceivedAt: now, Raw: []byte(`{"type":"track"}`)}
			}
			var (
				wg             sync.WaitGroup
				normalFailed   atomic.Int64
				mu             sync.Mutex
				normalIDs      []string
				poisonAnswered atomic.Int64
			)
			deadline := time.Now().Add(time.Second)
			for sender := range 10 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := 0; time.Now().Before(deadline); n++ {
						var msgs []*trackplan.Message
						var ids []string
						for i := range 10 {
							id := fmt.Sprintf("s%d-%d-%d", sender, n, i)
							msgs = append(msgs, message(id))
							ids = append(ids, id)
						}
						poison := sender < 2
						if poison {
							msgs = append(msgs, message(poisonID()))
						}
						err := p.Submit(ctx, msgs, nil)
						if poison {
							poisonAnswered.Add(1)
						}
						if err != nil {
							if !poison {
								normalFailed.Add(1)
							}
							continue
						}
						mu.Lock()
						normalIDs = append(normalIDs, ids...)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if n := normalFailed.Load(); n != 0 {
				t.Errorf("%d normal submissions failed", n)
			}
			stored, err := st.Stored(ctx, "web", normalIDs)
			if err != nil {
				t.Fatal(err)
			}
			if stored != len(normalIDs) || len(normalIDs) == 0 {
				t.Errorf("%d of %d normal messages stored", stored, len(normalIDs))
			}
			// Each normal message once: the log holds exactly what was
			// acknowledged.
			var logged, poisonRejected int
			err = st.ReadLog(ctx, 0, 1<<30, func(b store.LogBlock) error {
				recs, err := store.DecodeBlock(b)
				for _, r := range recs {
					if r.Message != nil && !strings.HasPrefix(r.Message.MessageID, "ppp") {
						logged++
					}
					if r.Rejection != nil && r.Rejection.Reason == ingest.ReasonStoreRejected {
						poisonRejected++
					}
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if logged != len(normalIDs) {
				t.Errorf("the log holds %d normal messages; %d were acknowledged", logged, len(normalIDs))
			}
			// PostgreSQL refuses the poison; SQLite takes it.
			if want := map[string]int{"postgres": int(poisonAnswered.Load()), "sqlite": 0}[name]; poisonRejected != want {
				t.Errorf("%d messages rejected as %s; want %d", poisonRejected, ingest.ReasonStoreRejected, want)
			}
			t.Logf("%d normal messages stored, %d poisoned submissions answered", len(normalIDs), poisonAnswered.Load())
		})
	}
}
