package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
)

const testKey = "test-write-key"

// testServer runs the collector in-process on a free port over a fresh
// SQLite store.
type testServer struct {
	*server
	st  store.Store
	url string
}

func startTestServer(t *testing.T, secret string) *testServer {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "collector.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(serverConfig{
		Listen:        "127.0.0.1:0",
		Sources:       []segment.Source{{Name: "web", WriteKey: testKey}},
		WebhookSecret: secret,
		WebhookSource: "webhook",
		Store:         st,
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{server: srv, st: st, url: "http://" + srv.Addr}
	t.Cleanup(func() {
		if err := srv.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		st.Close()
	})
	return ts
}

type response struct {
	status int
	body   string
}

func (ts *testServer) post(t *testing.T, path string, body []byte, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if _, ok := header["Authorization"]; !ok {
		req.SetBasicAuth(testKey, "")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b)}
}

// observed reads what the store observed, once the aggregator has derived
// everything acknowledged so far.
func (ts *testServer) observed(t *testing.T) *store.Observed {
	t.Helper()
	if err := ts.CatchUp(context.Background()); err != nil {
		t.Fatal(err)
	}
	o, err := ts.st.Observed(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// msg builds a valid track message with a unique id.
func msg(id string, extra string) string {
	return fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u-%s","event":"Signed In","timestamp":"2026-11-01T10:00:00Z"%s}`, id, id, extra)
}

func batch(items ...string) []byte {
	return []byte(`{"batch":[` + strings.Join(items, ",") + `]}`)
}

func rejectionsByReason(o *store.Observed) map[string]int64 {
	out := map[string]int64{}
	for _, r := range o.Rejections {
		out[r.Reason] += r.Count
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
