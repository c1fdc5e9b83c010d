package storetest

import (
	"context"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/store"
)

// Ingest appends msgs and rejs to s's log, accepted at at (zero: each
// message's ReceivedAt), then applies everything the log holds beyond the
// cursor, each message with the violations given for it here: the append
// and derive halves of the store in one call, for tests of derived state
// that choose the violations themselves.
func Ingest(ctx context.Context, s store.Store, at time.Time, msgs []store.Checked, rejs []trackplan.Rejection) (store.IngestResult, error) {
	lb := &store.LogBatch{Rejections: rejs, At: at}
	type key struct{ source, id string }
	violations := map[key][]trackplan.Violation{}
	for _, c := range msgs {
		lb.Messages = append(lb.Messages, c.Message)
		k := key{c.Message.Source, store.MessageKey(c.Message)}
		if _, ok := violations[k]; !ok {
			violations[k] = c.Violations
		}
	}
	r, err := s.Append(ctx, lb)
	if err != nil {
		return r, err
	}
	return r, Derive(ctx, s, func(m *trackplan.Message) []trackplan.Violation {
		return violations[key{m.Source, store.MessageKey(m)}]
	})
}

// Derive applies everything s's log holds beyond its cursor, in one run,
// checking each message with check (nil: no violations).
func Derive(ctx context.Context, s store.Store, check func(*trackplan.Message) []trackplan.Violation) error {
	d := derive.New(s, s, derive.Options{MaxRecords: 1 << 30})
	if check != nil {
		d.SetChecker(derive.CheckFunc(check))
	}
	_, err := d.CatchUp(ctx)
	return err
}
