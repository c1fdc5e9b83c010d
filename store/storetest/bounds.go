package storetest

import (
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
}
