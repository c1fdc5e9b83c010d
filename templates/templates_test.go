package templates_test

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/simulate"
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

// TestTemplatesSimulateClean generates traffic from every template with
// simulate and checks it against the template: no violation.
func TestTemplatesSimulateClean(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, name := range templates.Names() {
		t.Run(name, func(t *testing.T) {
			p, err := templates.Plan(name)
			if err != nil {
				t.Fatal(err)
			}
			g, err := simulate.New(p, simulate.Options{Accounts: 6, UsersPerAccount: 3, Days: 7, Seed: 7, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			checker := trackplan.NewChecker(p)
			counts := map[string]int{}
			seen := map[string]bool{}
			n := 0
			if err := g.Generate(func(m *trackplan.Message) error {
				n++
				seen[m.EventName()] = true
				for _, v := range checker.Check(m) {
					counts[fmt.Sprintf("%s %s %s (expected %s, observed %s)", v.Code, m.EventName(), v.Path, v.Expected, v.Observed)]++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Fatal("no traffic")
			}
			for k, c := range counts {
				t.Errorf("%d × %s", c, k)
			}
			for _, e := range p.Events {
				if e.CallType() == trackplan.Track && !seen[e.Name] {
					t.Errorf("%s never sent", e.Name)
				}
			}
		})
	}
}

// TestSegmentSpecTemplates pins the events of the templates taken from
// Segment's semantic specs (names and a few property types), so an edit
// that drifts from the spec shows.
func TestSegmentSpecTemplates(t *testing.T) {
	for name, want := range map[string][]string{
		"ecommerce": {"Products Searched", "Product List Viewed", "Product List Filtered", "Promotion Viewed", "Promotion Clicked",
			"Product Clicked", "Product Viewed", "Product Added", "Product Removed", "Cart Viewed", "Checkout Started",
			"Checkout Step Viewed", "Checkout Step Completed", "Payment Info Entered", "Order Completed", "Order Updated",
			"Order Refunded", "Order Cancelled", "Coupon Entered", "Coupon Applied", "Coupon Denied", "Coupon Removed",
			"Product Added to Wishlist", "Product Removed from Wishlist", "Wishlist Product Added to Cart", "Product Shared",
			"Cart Shared", "Product Reviewed"},
		"segment-b2b-saas": {"Account Created", "Account Deleted", "Signed Up", "Signed In", "Signed Out", "Invite Sent",
			"Account Added User", "Account Removed User", "Trial Started", "Trial Ended"},
		"mobile": {"Application Installed", "Application Opened", "Application Backgrounded", "Application Updated",
			"Application Uninstalled", "Application Crashed", "Install Attributed", "Push Notification Received",
			"Push Notification Tapped", "Push Notification Bounced", "Deep Link Opened", "Deep Link Clicked"},
		"video": {"Video Playback Started", "Video Playback Paused", "Video Playback Interrupted", "Video Playback Buffer Started",
			"Video Playback Buffer Completed", "Video Playback Seek Started", "Video Playback Seek Completed",
			"Video Playback Resumed", "Video Playback Completed", "Video Playback Exited", "Video Content Started",
			"Video Content Playing", "Video Content Completed", "Video Ad Started", "Video Ad Playing", "Video Ad Completed"},
	} {
		p, err := templates.Plan(name)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range p.Events {
			if e.CallType() == trackplan.Track {
				got = append(got, e.Name)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s track events (-spec +template):\n%s", name, diff)
		}
	}
	types := map[[3]string]trackplan.PropertyType{
		{"ecommerce", "Order Completed", "products[].price"}:    trackplan.PropNumber,
		{"ecommerce", "Checkout Step Viewed", "step"}:           trackplan.PropNumber,
		{"segment-b2b-saas", "Trial Started", "trial_end_date"}: trackplan.PropDatetime,
		{"mobile", "Application Opened", "from_background"}:     trackplan.PropBoolean,
		{"mobile", "Install Attributed", "campaign.ad_group"}:   trackplan.PropString,
		{"video", "Video Playback Paused", "sound"}:             trackplan.PropInteger,
		{"video", "Video Content Started", "full_episode"}:      trackplan.PropBoolean,
	}
	for k, want := range types {
		p, _ := templates.Plan(k[0])
		e := p.Lookup(trackplan.Track, k[1])
		if e == nil || e.Property(k[2]) == nil || e.Property(k[2]).Type != want {
			t.Errorf("%s: %s.%s is not %s", k[0], k[1], k[2], want)
		}
	}
}
