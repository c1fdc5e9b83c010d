package templates_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/templates"
)

func TestNames(t *testing.T) {
	names := templates.Names()
	if !slices.Contains(names, templates.Default) {
		t.Fatalf("Names() = %v, want it to hold %q", names, templates.Default)
	}
	if !slices.IsSorted(names) {
		t.Errorf("Names() = %v, not sorted", names)
	}
}

func TestUnknownTemplate(t *testing.T) {
	if _, err := templates.Plan("crm"); !errors.Is(err, trackplan.ErrNotFound) {
		t.Errorf("Plan(crm) = %v, want ErrNotFound", err)
	}
	if _, err := templates.Raw("../go.mod"); !errors.Is(err, trackplan.ErrNotFound) {
		t.Errorf("Raw(../go.mod) = %v, want ErrNotFound", err)
	}
}

// TestTemplatesAreValidAndCanonical checks every template passes Validate
// and Lint (no errors or warnings), and is stored exactly as planfile
// writes it, so that plan init copies it byte for byte.
func TestTemplatesAreValidAndCanonical(t *testing.T) {
	for _, name := range templates.Names() {
		t.Run(name, func(t *testing.T) {
			p, err := templates.Plan(name)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, f := range trackplan.Lint(p) {
				if f.Severity != trackplan.SeverityInfo {
					t.Errorf("lint: %s %s %q %q: expected %q, observed %q", f.Severity, f.Code, f.Event, f.Path, f.Expected, f.Observed)
				}
			}
			raw, err := templates.Raw(name)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := planfile.Write(&buf, p, planfile.YAML); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(raw), buf.String()); diff != "" {
				t.Errorf("template is not in canonical form (-stored +written):\n%s", diff)
			}
		})
	}
}

func TestB2BSaaS(t *testing.T) {
	p, err := templates.Plan("b2b-saas")
	if err != nil {
		t.Fatal(err)
	}
	traits := func(t trackplan.CallType) []string {
		var names []string
		for _, pr := range p.Lookup(t, "").Properties {
			names = append(names, pr.Name)
		}
		return names
	}
	if diff := cmp.Diff([]string{"email", "name", "first_name", "last_name", "created_at", "role", "plan", "title"}, traits(trackplan.Identify)); diff != "" {
		t.Errorf("identify traits (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"name", "created_at", "plan", "status", "mrr", "employees", "industry", "website"}, traits(trackplan.Group)); diff != "" {
		t.Errorf("group traits (-want +got):\n%s", diff)
	}

	var tracked, scored int
	for _, e := range p.Events {
		if e.Status != trackplan.StatusLive || e.Owner == "" || e.Description == "" {
			t.Errorf("%s: status %q, owner %q, description %q; want live, an owner, a description", e.Name, e.Status, e.Owner, e.Description)
		}
		for _, pr := range e.Properties {
			if pr.Description == "" {
				t.Errorf("%s.%s has no description", e.Name, pr.Name)
			}
		}
		if e.CallType() == trackplan.Track {
			tracked++
		}
		if e.Scored() {
			scored++
		}
	}
	if tracked < 15 || tracked > 25 {
		t.Errorf("%d track events, want 15 to 25", tracked)
	}
	if scored < 10 {
		t.Errorf("%d scored events, want at least 10", scored)
	}

	for _, name := range []string{
		"Signed Up", "Signed In", "Signed Out", "Account Created", "Account Deleted", "Invite Sent",
		"Account Added User", "Account Removed User", "Trial Started", "Trial Ended",
		"Subscription Started", "Subscription Upgraded", "Subscription Downgraded", "Subscription Cancelled",
		"Feature Used", "Report Created", "Report Exported", "Integration Connected", "Dashboard Viewed",
	} {
		if p.Lookup(trackplan.Track, name) == nil {
			t.Errorf("no %q event", name)
		}
	}
	if p.Lookup(trackplan.Page, trackplan.PageViewed) == nil {
		t.Error("no Page Viewed entry for page calls")
	}

	// Weights: sign-in low, core value actions high, lifecycle and billing
	// not scored.
	weight := func(name string) int { return p.Lookup(trackplan.Track, name).Weight }
	for _, name := range []string{"Signed Up", "Signed Out", "Account Created", "Trial Started", "Subscription Started", "Subscription Cancelled"} {
		if w := weight(name); w != 0 {
			t.Errorf("%s weight %d, want 0", name, w)
		}
	}
	if weight("Signed In") > 2 {
		t.Errorf("Signed In weight %d, want low", weight("Signed In"))
	}
	for _, name := range []string{"Report Created", "Integration Connected", "Dashboard Created"} {
		if w := weight(name); w < 6 {
			t.Errorf("%s weight %d, want high", name, w)
		}
	}
}

func TestPlanReturnsFreshCopies(t *testing.T) {
	a, err := templates.Plan(templates.Default)
	if err != nil {
		t.Fatal(err)
	}
	a.Events[0].Name = "changed"
	b, err := templates.Plan(templates.Default)
	if err != nil {
		t.Fatal(err)
	}
	if b.Events[0].Name == "changed" {
		t.Error("a change to one plan shows in the next")
	}
}
