package derive_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

// FuzzAggregate feeds request bodies through the collector's decoder, the
// event log of a real SQLite store and the aggregator checking against the
// b2b-saas plan: a body is refused as a whole, or each of its items is a
// message or a rejection with a reason; the store takes them (or refuses
// data it cannot hold, store.ErrUnstorable); derivation never fails; and the
// observed totals count exactly what was appended, while the drift source
// and the verdicts stay readable.
func FuzzAggregate(f *testing.F) {
	f.Add([]byte(`{"batch":[{"type":"track","userId":"u","event":"Signed In","messageId":"m1","properties":{"method":"sso"}}]}`))
	f.Add([]byte(`{"batch":[{"type":"identify","userId":"u","traits":{"email":"a@example.com","name":"A"}},{"type":"group","userId":"u","groupId":"g","traits":{"name":"Acme"}},{"type":"alias","userId":"u","previousId":"anon"}]}`))
	f.Add([]byte(`{"batch":[{"type":"page","anonymousId":"a","properties":{"name":"Pricing"}},{"type":"screen","userId":"u","name":"Home"}]}`))
	f.Add([]byte(`{"batch":[{"type":"track","userId":"u","event":"Report Exported","properties":{"format":1,"a.b":1,"a":{"b":[1,{"c":null}]}},"timestamp":"9999-12-31T23:59:59-23:59"}]}`))
	f.Add([]byte(`{"batch":[{"type":"track","userId":"u","event":"X\u001b[2K\r0 errors","messageId":"\u0000"},{"type":"track","userId":"u","event":"X\u001b[2K\r0 errors","messageId":"\u0000"},1,null,{"WriteKey":"k","type":"purchase"}]}`))
	f.Add([]byte(`{"sentAt":"2026-01-01T00:00:05Z","batch":[{"type":"track","userId":"u","event":"Signed In","originalTimestamp":"0000-01-01T00:00:00Z"},{"type":"track","anonymousId":"a","event":"=HYPERLINK(\"x\")","context":{"groupId":"g"}}]}`))
	for _, body := range corpusSeeds(f) {
		f.Add(body)
	}

	ctx := context.Background()
	plan, err := templates.Plan("b2b-saas")
	if err != nil {
		f.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "fuzz.db"), store.DefaultLimits())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	dv := derive.New(st, st, derive.Options{})
	dv.SetChecker(trackplan.NewChecker(plan))
	l := segment.DefaultLimits()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := segment.ParseBatch(body, l)
		if err != nil {
			var re *segment.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("a body is refused with %T (%v), not a request error", err, err)
			}
			return
		}
		msgs, rejs := req.Messages("web", now, l)
		if len(msgs)+len(rejs) != len(req.Items) {
			t.Fatalf("%d items became %d messages and %d rejections", len(req.Items), len(msgs), len(rejs))
		}
		for _, r := range rejs {
			if r.Reason == "" {
				t.Fatal("a rejection without a reason")
			}
		}
		before, err := st.Observed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		res, err := st.Append(ctx, &store.LogBatch{Messages: msgs, Rejections: rejs, At: now})
		if errors.Is(err, store.ErrUnstorable) {
			return // a documented refusal: the collector rejects these as store_rejected
		}
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		if res.Stored+res.Duplicates != len(msgs) {
			t.Fatalf("append of %d messages: %d stored, %d duplicates", len(msgs), res.Stored, res.Duplicates)
		}
		if _, err := dv.CatchUp(ctx); err != nil {
			t.Fatalf("derive: %v", err)
		}
		after, err := st.Observed(ctx)
		if err != nil {
			t.Fatalf("observed: %v", err)
		}
		if got := after.Totals.Messages - before.Totals.Messages; got != int64(res.Stored) {
			t.Errorf("observed counts %d more messages; %d were appended", got, res.Stored)
		}
		if got := after.Totals.Rejected - before.Totals.Rejected; got != int64(len(rejs)) {
			t.Errorf("observed counts %d more rejections; %d were appended", got, len(rejs))
		}
		if got := after.Totals.Duplicates - before.Totals.Duplicates; got != int64(res.Duplicates) {
			t.Errorf("observed counts %d more duplicates; append found %d", got, res.Duplicates)
		}
		from, to := now.AddDate(0, 0, -1), now.AddDate(0, 0, 2)
		if _, err := st.EventVolumes(ctx, from, to); err != nil {
			t.Fatalf("event volumes: %v", err)
		}
		if _, err := st.Hygiene(ctx, "name"); err != nil {
			t.Fatalf("hygiene: %v", err)
		}
		if _, err := st.Verdicts(ctx, from, to); err != nil {
			t.Fatalf("verdicts: %v", err)
		}
	})
}

// corpusSeeds returns the bodies of the hostile-input corpus's /v1/batch
// cases written out in full (no macros), when the corpus is there.
func corpusSeeds(f *testing.F) [][]byte {
	files, _ := filepath.Glob(filepath.Join("..", "cmd", "trackplan", "testdata", "hostile", "*.case"))
	var out [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		head, body, _ := bytes.Cut(b, []byte("\n\n"))
		if !bytes.Contains(head, []byte("\nPOST /v1/batch")) || bytes.Contains(head, []byte("Content-Encoding")) || bytes.Contains(body, []byte("{{")) {
			continue
		}
		out = append(out, bytes.TrimSuffix(body, []byte("\n")))
	}
	return out
}
