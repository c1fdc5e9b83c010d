package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trackplan/trackplan/store"
)

// The re-check banner, the example messages of findings and the plan
// edits marked in the volume charts.

func TestRecheckBanner(t *testing.T) {
	f := fixture()
	h := newTestHandler(t, f)
	pages := []string{"/", "/?profile=trial", "/accounts", "/accounts/acme", "/events", "/accounts/nope", "/accounts?band=nope"}
	for _, target := range pages {
		if _, body := get(t, h, target); strings.Contains(body, "Re-checking") || strings.Contains(body, `class="recheck"`) {
			t.Errorf("GET %s: a re-check banner while none runs", target)
		}
	}

	f.recheck.Store(&Recheck{Plan: store.PlanVersion{ID: "9a0b7c6d5e4f3a21", Origin: "notion:db-1",
		FirstSeen: time.Date(2026, 3, 15, 12, 5, 0, 0, time.UTC)}, Fraction: 0.4})
	const want = `Re-checking the traffic against the plan of 12:05 (notion:db-1) — 40%`
	for _, target := range pages {
		res, body := get(t, h, target)
		if !strings.Contains(body, want) {
			t.Errorf("GET %s (status %d): no banner %q", target, res.StatusCode, want)
		}
		if n := strings.Count(body, `role="status"`); n != 1 {
			t.Errorf("GET %s: %d status regions, want 1", target, n)
		}
		for _, p := range checkInert(body) {
			t.Errorf("GET %s: %s", target, p)
		}
	}

	// A plan first seen another day shows the day; the share is rounded
	// down, so 100% only shows once done.
	f.recheck.Store(&Recheck{Plan: store.PlanVersion{ID: "x", Origin: "file:plan.yaml",
		FirstSeen: time.Date(2026, 3, 14, 23, 59, 0, 0, time.UTC)}, Fraction: 0.999})
	if _, body := get(t, h, "/events"); !strings.Contains(body, `against the plan of Mar 14 23:59 (file:plan.yaml) — 99%`) {
		t.Errorf("banner of a plan of yesterday at 99.9%%: %s", bannerOf(body))
	}

	f.recheck.Store(nil)
	if _, body := get(t, h, "/"); strings.Contains(body, "Re-checking") {
		t.Error("the banner stays after the re-check ended")
	}

	// Without the option there is no banner, and nothing fails.
	plain, err := New(Options{Data: f, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	if res, body := get(t, plain, "/"); res.StatusCode != http.StatusOK || strings.Contains(body, "Re-checking") {
		t.Errorf("without Rechecking: status %d, banner %q", res.StatusCode, bannerOf(body))
	}
}

func bannerOf(body string) string {
	i := strings.Index(body, `<div class="recheck"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</div></div>")
	return body[i : i+j]
}

func TestFindingSamples(t *testing.T) {
	f := fixture()
	h := newTestHandler(t, f)
	_, body := get(t, h, "/events")

	// Two findings have examples: the details row follows the finding's.
	if n := strings.Count(body, `<tr class="samples">`); n != 2 {
		t.Errorf("%d example rows, want 2", n)
	}
	for _, want := range []string{
		`<summary>2 example messages<span class="sr-only"> of TYPE_MISMATCH at feature</span></summary>`,
		`<summary>1 example message<span class="sr-only"> of REQUIRED_MISSING at method</span></summary>`,
		// Pretty-printed, escaped, in the order given.
		"<pre class=\"sample\"><code>{\n  &#34;type&#34;: &#34;track&#34;,\n  &#34;event&#34;: &#34;Feature Used&#34;,\n  &#34;userId&#34;: &#34;u-alice&#34;,\n  &#34;properties&#34;: {\n    &#34;feature&#34;: 42\n  },",
		`&#34;email&#34;: &#34;(pii)&#34;`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/events does not show %q", want)
		}
	}
	if strings.Index(body, "u-alice") > strings.Index(body, "u-bob") {
		t.Error("the examples are not in the order given (latest first)")
	}
	// The overview lists findings without examples.
	if _, overview := get(t, h, "/"); strings.Contains(overview, "<details>") {
		t.Error("the overview shows example messages")
	}

	// First seen: in the window, and all-time when earlier.
	if !strings.Contains(body, `<span class="sub">first seen <time datetime="2025-12-30T12:00:00Z" title="2025-12-30 12:00 UTC">2025-12-30</time></span>`) {
		t.Error("TYPE_MISMATCH: no all-time first sighting")
	}
	if n := strings.Count(body, `<span class="sub">first seen`); n != 1 {
		t.Errorf("%d all-time first sightings, want 1 (only when earlier than the window's)", n)
	}
}

func TestPrettySample(t *testing.T) {
	if got, want := prettySample(json.RawMessage(`{"a":[1,2],"b":"<x>"}`)), "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"<x>\"\n}"; got != want {
		t.Errorf("prettySample = %q, want %q", got, want)
	}
	if got := prettySample(json.RawMessage(`not json {`)); got != `not json {` {
		t.Errorf("prettySample of a non-JSON message = %q, want it as it is", got)
	}
	long := json.RawMessage(`{"s":"` + strings.Repeat("é", 5000) + `"}`)
	got := prettySample(long)
	if !strings.HasSuffix(got, "… (cut at 4 KB)") || len(got) > maxSampleBytes+32 || !utf8.ValidString(got) {
		t.Errorf("a long message: %d bytes, valid UTF-8 %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-20:])
	}
}

var markRe = regexp.MustCompile(`<line class="spark-mark" x1="([0-9.]+)" x2="[0-9.]+" y1="0" y2="28"><title>([^<]*)</title></line>`)

func TestPlanEditMarks(t *testing.T) {
	f := fixture()
	h := newTestHandler(t, f)
	_, body := get(t, h, "/events")

	// The versions of Mar 5 (two) and of today are in the 30 days shown;
	// the first one (45 days ago) is not.
	sparks := strings.Count(body, `<svg class="spark"`)
	if sparks == 0 {
		t.Fatal("no volume sparkline")
	}
	marks := markRe.FindAllStringSubmatch(body, -1)
	if len(marks) != 2*sparks {
		t.Fatalf("%d marks in %d sparklines, want 2 each", len(marks), sparks)
	}
	want := [][2]string{
		{"77.7", "plan edited: 0c4d2e6f8a1b3c5d (file:plan.yaml); plan edited: 9a0b7c6d5e4f3a21 (notion:db-1)"},
		{"117", "plan edited: 5e1f0c2a9b7d4e31 (notion:db-1)"},
	}
	for i, m := range marks {
		if w := want[i%2]; m[1] != w[0] || m[2] != w[1] {
			t.Errorf("mark %d: x=%s %q, want x=%s %q", i, m[1], m[2], w[0], w[1])
		}
	}
	if strings.Contains(body, "7f3e2d1c0b9a8877") {
		t.Error("a plan version older than the charts is marked")
	}
	if n := strings.Count(body, `; plan edited on Mar 5, Mar 15"`); n != sparks {
		t.Errorf("%d of %d sparkline labels name the plan edits", n, sparks)
	}
	if !strings.Contains(body, `<p class="lead plan-edits">Plan edits in the last 30 days`) {
		t.Error("no list of the plan edits")
	}

	// No version in range, or no PlanSource: no mark, no list.
	f.versions = f.versions[3:]
	_, body = get(t, h, "/events")
	if strings.Contains(body, "spark-mark") || strings.Contains(body, "plan-edits") {
		t.Error("marks without a plan version in range")
	}
	f.versions = fixture().versions
	plain, err := New(Options{Data: f, Volumes: f, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, plain, "/events"); strings.Contains(body, "spark-mark") || !strings.Contains(body, `class="spark"`) {
		t.Error("without Plans: marks, or no sparklines")
	}
}

// failingPlans fails PlanVersions.
type failingPlans struct{}

func (failingPlans) PlanVersions(context.Context, int) ([]store.PlanVersion, error) {
	return nil, errors.New("plan versions unavailable")
}

func TestPlanEditsError(t *testing.T) {
	f := fixture()
	h, err := New(Options{Data: f, Volumes: f, Plans: failingPlans{}, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	if res, _ := get(t, h, "/events"); res.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", res.StatusCode)
	}
	if res, _ := get(t, h, "/"); res.StatusCode != http.StatusOK {
		t.Errorf("overview: status %d, want 200 (it reads no plan versions)", res.StatusCode)
	}
}
