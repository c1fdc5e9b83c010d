package forward

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/trackplan/trackplan/store"
)

// Status is one source's forwarding as `trackplan forward status` shows
// it.
type Status struct {
	store.ForwardState
	// Behind counts the log records after the cursor (every source's: the
	// log is one sequence); LagSeconds is the age of the oldest of them,
	// 0 when the source is caught up.
	Behind     int64   `json:"behind_records"`
	LagSeconds float64 `json:"lag_seconds"`
}

// Statuses reads every forwarding source's state and lag.
func Statuses(ctx context.Context, st Store, now time.Time) ([]Status, error) {
	head, err := st.LogHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the log head: %w", err)
	}
	states, err := st.ForwardStates(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(states))
	for i, s := range states {
		lag, err := lagAfter(ctx, st, s.Cursor, head, now)
		if err != nil {
			return nil, err
		}
		out[i] = Status{ForwardState: s, Behind: max(head-s.Cursor, 0), LagSeconds: lag.Seconds()}
	}
	return out, nil
}

// errStop ends a log read early.
var errStop = errors.New("stop")

// lagAfter is the age of the first log block past cursor: how long its
// oldest unforwarded record has waited.
func lagAfter(ctx context.Context, st Store, cursor, head int64, now time.Time) (time.Duration, error) {
	if cursor >= head {
		return 0, nil
	}
	var at time.Time
	err := st.ReadLog(ctx, cursor, 1, func(b store.LogBlock) error {
		at = b.At
		return errStop
	})
	if err != nil && !errors.Is(err, errStop) {
		return 0, fmt.Errorf("read the log after %d: %w", cursor, err)
	}
	if at.IsZero() || now.Before(at) {
		return 0, nil
	}
	return now.Sub(at), nil
}

// Lag is one source's lag for the metrics.
type Lag struct {
	Source  string
	Records int64
	Seconds float64
}

// Lags reads the lag of the forwarder's sources (see Statuses).
func (f *Forwarder) Lags(ctx context.Context) ([]Lag, error) {
	ss, err := Statuses(ctx, f.st, f.opts.Now())
	if err != nil {
		return nil, err
	}
	out := make([]Lag, 0, len(ss))
	for _, s := range ss {
		out = append(out, Lag{Source: s.Source, Records: s.Behind, Seconds: s.LagSeconds})
	}
	return out, nil
}
