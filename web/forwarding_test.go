package web

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/store"
)

// forwardData is the fixture with forwarding sources.
type forwardData struct {
	*fakeData
	states []store.ForwardState
	head   int64
}

func (f *forwardData) ForwardStates(context.Context) ([]store.ForwardState, error) {
	return f.states, nil
}
func (f *forwardData) LogHead(context.Context) (int64, error) { return f.head, nil }

var _ ForwardingSource = (*forwardData)(nil)

var forwardCardRe = regexp.MustCompile(`(?s)<section class="card" aria-labelledby="forwarding-heading">.*?</section>`)

// TestOverviewForwarding: the overview shows each forwarding source's
// forwarded count, backlog, held messages by reason and last error (an
// error text from a destination is escaped), and no card when nothing
// forwards.
func TestOverviewForwarding(t *testing.T) {
	f := &forwardData{fakeData: fixture(), head: 12_500, states: []store.ForwardState{
		{Source: "app", Cursor: 12_500, Forwarded: 9_000, Held: map[string]int64{}},
		{Source: "web", Cursor: 10_000, Forwarded: 1_234_567, Held: map[string]int64{store.HeldUnplanned: 3, store.HeldRefused: 1},
			LastError: "destination answered 503 " + evilScript, ErrorAt: fixedNow.Add(-time.Hour)},
	}}
	h, err := New(Options{Data: f, Volumes: f.fakeData, Traits: f.fakeData, Activity: f.fakeData, Plans: f.fakeData,
		Rechecking: f.fakeData.Rechecking, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	res, body := get(t, h, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	card := forwardCardRe.FindString(body)
	if card == "" {
		t.Fatalf("no forwarding card:\n%s", body)
	}
	for _, want := range []string{
		"<code>app</code>", "<td class=\"num\">9,000</td>", "<td>none</td>",
		"<code>web</code>", "<td class=\"num\">1,234,567</td>", "<td class=\"num\">2,500</td>",
		"3 blocked unplanned, 1 refused", "destination answered 503 &lt;script&gt;", "trackplan forward --replay",
	} {
		if !strings.Contains(card, want) {
			t.Errorf("the card lacks %q:\n%s", want, card)
		}
	}
	if strings.Contains(card, "<script>") {
		t.Error("an error text reached the page as markup")
	}
	f.states = nil
	if _, body := get(t, h, "/"); forwardCardRe.MatchString(body) {
		t.Error("a forwarding card without a forwarding source")
	}
}
