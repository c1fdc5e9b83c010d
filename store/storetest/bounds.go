package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trackplan/trackplan/store"
)

// testClampedTimestamps: messages whose timestamp the collector replaced
// are counted, through the log, and again after a rebuild.
func testClampedTimestamps(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	a := track("c1", "u1", "", "Signed In", t0, nil)
	a.Message.TimestampClamped = true
	ingest(t, s, a, track("c2", "u1", "", "Signed In", t0, nil))
	if got := observed(t, s).Totals.ClampedTimestamps; got != 1 {
		t.Errorf("clamped timestamps = %d, want 1", got)
	}
	if err := s.ResetDerived(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := Derive(t.Context(), s, nil); err != nil {
		t.Fatal(err)
	}
	if got := observed(t, s).Totals.ClampedTimestamps; got != 1 {
		t.Errorf("clamped timestamps after a rebuild = %d, want 1", got)
	}
}

// testLogDiskBytes: the log's size on disk is measured without reading it,
// and grows with what is appended.
func testLogDiskBytes(t *testing.T, open Opener) {
	s := open(t, store.DefaultLimits())
	ctx := t.Context()
	before, err := s.LogDiskBytes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []store.Checked
	for i := range 2000 {
		msgs = append(msgs, track(fmt.Sprintf("big-%d", i), "u1", "", "Signed In", t0,
			map[string]any{"note": strings.Repeat(fmt.Sprint(i), 200)}))
	}
	ingest(t, s, msgs...)
	after, err := s.LogDiskBytes(ctx)
	if err != nil || after <= before {
		t.Errorf("log size %d before, %d after 2,000 appended messages (%v); want it to grow", before, after, err)
	}
}
