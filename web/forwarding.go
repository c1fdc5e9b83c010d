package web

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/trackplan/trackplan/store"
)

// ForwardingSource reports the forwarding of messages to Segment. It is
// optional: when Options.Data implements it and a source forwards, the
// overview shows each source's backlog, held messages and last error.
type ForwardingSource interface {
	ForwardStates(ctx context.Context) ([]store.ForwardState, error)
	LogHead(ctx context.Context) (int64, error)
}

// forwarding is the overview's forwarding card.
type forwarding struct {
	Rows []forwardRow
	Held bool // some source holds messages back
}

// forwardRow is one forwarding source on the overview.
type forwardRow struct {
	Source    string
	Forwarded string
	Behind    string // log records after its cursor
	Held      []heldCount
	HeldTotal int64
	LastError string
	ErrorAt   timeView
}

// heldCount is how many messages are held for one reason.
type heldCount struct {
	Reason, Count string
}

// forwardRows reads the forwarding state, nil when nothing forwards.
func (h *Handler) forwardRows(ctx context.Context) (*forwarding, error) {
	src, ok := h.data.(ForwardingSource)
	if !ok {
		return nil, nil
	}
	states, err := src.ForwardStates(ctx)
	if err != nil || len(states) == 0 {
		return nil, err
	}
	head, err := src.LogHead(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the log head: %w", err)
	}
	f := &forwarding{}
	for _, s := range states {
		row := forwardRow{Source: s.Source, Forwarded: formatInt(s.Forwarded), Behind: formatInt(max(head-s.Cursor, 0))}
		for _, reason := range slices.Sorted(maps.Keys(s.Held)) {
			row.Held = append(row.Held, heldCount{Reason: strings.ReplaceAll(reason, "_", " "), Count: formatInt(s.Held[reason])})
			row.HeldTotal += s.Held[reason]
		}
		if s.LastError != "" {
			row.LastError, row.ErrorAt = s.LastError, timeOf(s.ErrorAt, h.now())
		}
		f.Rows = append(f.Rows, row)
		f.Held = f.Held || row.HeldTotal > 0
	}
	return f, nil
}
