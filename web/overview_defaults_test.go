package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/trackplan/trackplan"
)

// TestDefaultsTopFindingsLeaveOutZeroCounts: the overview's top findings
// are drift in the traffic; findings that count no message (planned events
// not seen, naming, documentation) stay on the events page only, however
// few counted findings there are.
func TestDefaultsTopFindingsLeaveOutZeroCounts(t *testing.T) {
	f := fixture()
	var fs []trackplan.Finding
	planned := []string{"Signed Up", "Report Exported", "Dashboard Viewed", "Feature Used", "Invite Sent",
		"Integration Connected", "Trial Started", "Legacy Export"}
	for i, event := range planned {
		fs = append(fs, trackplan.Finding{Code: trackplan.PlannedNotSeen, Severity: trackplan.SeverityWarning, Event: event,
			Expected:    fmt.Sprintf("zero-count marker %d", i),
			Fingerprint: trackplan.Fingerprint(string(trackplan.PlannedNotSeen), "", event, "")})
	}
	for i, n := range []int64{40, 7, 1} {
		event := fmt.Sprintf("Counted Event %d", i)
		fs = append(fs, trackplan.Finding{Code: trackplan.UnplannedEvent, Severity: trackplan.SeverityError, Event: event,
			Count: n, Fingerprint: trackplan.Fingerprint(string(trackplan.UnplannedEvent), "", event, "")})
	}
	f.findings = fs
	h := newTestHandler(t, f)

	_, body := get(t, h, "/")
	start := strings.Index(body, `id="top-findings"`)
	if start < 0 {
		t.Fatal("no top findings table")
	}
	table := body[start:]
	table = table[:strings.Index(table, "</table>")]
	for _, event := range planned {
		if strings.Contains(table, event) {
			t.Errorf("%s, with count 0, is among the top findings:\n%s", event, table)
		}
	}
	for i := range 3 {
		if !strings.Contains(table, fmt.Sprintf("Counted Event %d", i)) {
			t.Errorf("Counted Event %d is not among the top findings:\n%s", i, table)
		}
	}
	if !strings.Contains(body, "11 findings") {
		t.Error("the findings total no longer counts every finding")
	}

	// They are still on the events page.
	_, events := get(t, h, "/events")
	for i, event := range planned {
		if !strings.Contains(events, fmt.Sprintf("zero-count marker %d", i)) {
			t.Errorf("the finding of %s is missing from the events page", event)
		}
	}
}
