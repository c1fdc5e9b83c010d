package trackplan_test

import (
	"strings"
	"testing"

	"github.com/trackplan/trackplan"
)

// TestDefaultsNamingIsInfo: NAMING is a documentation rule, documented as
// info: it is never an error or a warning (so --fail-on error or warning
// never fails a build on it), and a case collision stays visible, naming
// the spelling it collides with.
func TestDefaultsNamingIsInfo(t *testing.T) {
	p := &trackplan.Plan{Version: 1, Events: []*trackplan.Event{
		{Name: "Signed Up", Type: trackplan.Track, Description: "d", Owner: "o",
			Properties: []*trackplan.Property{{Name: "plan_name"}, {Name: "planName"}, {Name: "Plan_Name"}}},
		{Name: "signed_up", Type: trackplan.Track, Description: "d", Owner: "o"},
		{Name: "report exported", Type: trackplan.Track, Description: "d", Owner: "o"},
		{Name: "Home", Type: trackplan.Page, Description: "d", Owner: "o"},
	}}
	collisions := map[string]bool{}
	n := 0
	for _, f := range trackplan.Lint(p) {
		if f.Code != trackplan.Naming {
			continue
		}
		n++
		if f.Severity != trackplan.SeverityInfo {
			t.Errorf("NAMING %q %q: severity %s, want info", f.Event, f.Path, f.Severity)
		}
		if strings.Contains(f.Observed, "case collision") {
			collisions[f.Event+"/"+f.Path] = true
			if !strings.Contains(f.Observed, `"Signed Up"`) && !strings.Contains(f.Observed, `"plan_name"`) {
				t.Errorf("collision %q %q does not name the spelling it collides with: %q", f.Event, f.Path, f.Observed)
			}
		}
	}
	// Collisions: signed_up with "Signed Up"; planName and Plan_Name with
	// plan_name. Plus: "report exported" not Title Case, "Home" not Page
	// Viewed.
	for _, k := range []string{"signed_up/", "Signed Up/planName", "Signed Up/Plan_Name"} {
		if !collisions[k] {
			t.Errorf("no case-collision finding for %s (have %v)", k, collisions)
		}
	}
	if n != 5 {
		t.Errorf("%d NAMING findings, want 5", n)
	}
}
