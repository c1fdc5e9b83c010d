package notiontest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trackplan/trackplan/notion/notiontest"
)

// call sends one request of API version ver to the fake and decodes the
// answer.
func call(t *testing.T, srv *notiontest.Server, ver, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+notiontest.DefaultToken)
	req.Header.Set("Notion-Version", ver)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %s", method, path, b)
	}
	return resp.StatusCode, out
}

func text(s string) []any {
	return []any{map[string]any{"type": "text", "text": map[string]any{"content": s}}}
}

// checkShape fails when the answer lacks a key of the documented example.
func checkShape(t *testing.T, fix string, got any) {
	t.Helper()
	if m := missing(fixture2025(t, fix), got, "$"); len(m) > 0 {
		t.Errorf("answer lacks keys of %s: %v", fix, m)
	}
}

func fixture2025(t *testing.T, name string) any {
	t.Helper()
	return fixture(t, "../notion-2025-09-03/"+name)
}

// TestShapes20250903 drives the fake with version 2025-09-03 requests and
// checks every answer against the documented shapes (testdata/
// notion-2025-09-03, written from Notion's API reference and its official
// SDK's response types), then checks how both versions meet a database with
// two data sources.
func TestShapes20250903(t *testing.T) {
	const v25, v22 = notiontest.Version20250903, notiontest.Version20220628
	srv := notiontest.New(t, notiontest.Options{})

	st, ev := call(t, srv, v25, "POST", "/v1/databases", map[string]any{
		"parent": map[string]any{"type": "page_id", "page_id": notiontest.RootPage},
		"title":  text("Tracking plan: Events"),
		"initial_data_source": map[string]any{"properties": map[string]any{
			"Name":   map[string]any{"title": map[string]any{}},
			"Weight": map[string]any{"number": map[string]any{"format": "number"}},
			"Type":   map[string]any{"select": map[string]any{"options": []any{map[string]any{"name": "track"}}}},
		}},
	})
	if st != 200 {
		t.Fatalf("create database: %d %v", st, ev)
	}
	checkShape(t, "database_get.json", ev)
	if _, has := ev["properties"]; has {
		t.Errorf("a 2025-09-03 database object has no properties: %v", ev)
	}
	evDB := ev["id"].(string)
	evDS := ev["data_sources"].([]any)[0].(map[string]any)["id"].(string)

	st, pr := call(t, srv, v25, "POST", "/v1/databases", map[string]any{
		"parent": map[string]any{"type": "page_id", "page_id": notiontest.RootPage},
		"title":  text("Tracking plan: Properties"),
		"initial_data_source": map[string]any{"properties": map[string]any{
			"Name":   map[string]any{"title": map[string]any{}},
			"Events": map[string]any{"relation": map[string]any{"data_source_id": evDS, "type": "dual_property", "dual_property": map[string]any{}}},
		}},
	})
	if st != 200 {
		t.Fatalf("create related database: %d %v", st, pr)
	}
	st, got := call(t, srv, v25, "GET", "/v1/databases/"+evDB, nil)
	if st != 200 {
		t.Fatalf("get database: %d %v", st, got)
	}
	checkShape(t, "database_get.json", got)
	st, ds := call(t, srv, v25, "GET", "/v1/data_sources/"+evDS, nil)
	if st != 200 {
		t.Fatalf("get data source: %d %v", st, ds)
	}
	checkShape(t, "data_source_get.json", ds)

	st, pg := call(t, srv, v25, "POST", "/v1/pages", map[string]any{
		"parent":     map[string]any{"type": "data_source_id", "data_source_id": evDS},
		"properties": map[string]any{"Name": map[string]any{"title": text("Signed Up")}},
	})
	if st != 200 {
		t.Fatalf("create page: %d %v", st, pg)
	}
	checkShape(t, "page_create.json", pg)
	st, q := call(t, srv, v25, "POST", "/v1/data_sources/"+evDS+"/query", map[string]any{"page_size": 10})
	if st != 200 || len(q["results"].([]any)) != 1 {
		t.Fatalf("query data source: %d %v", st, q)
	}
	checkShape(t, "data_source_query.json", q)

	// Each version's endpoints only.
	if st, e := call(t, srv, v22, "GET", "/v1/data_sources/"+evDS, nil); st != 400 || e["code"] != "invalid_request_url" {
		t.Errorf("data source endpoint on 2022-06-28: %d %v", st, e)
	}
	if st, e := call(t, srv, v25, "POST", "/v1/databases/"+evDB+"/query", map[string]any{}); st != 400 || e["code"] != "invalid_request_url" {
		t.Errorf("database query on 2025-09-03: %d %v", st, e)
	}
	if st, _ := call(t, srv, v22, "POST", "/v1/databases/"+evDB+"/query", map[string]any{}); st != 200 {
		t.Errorf("a single-source database is still queried on 2022-06-28: %d", st)
	}

	// A second data source: 2022-06-28 fails as Notion documents, 2025-09-03 lists both.
	second, err := srv.AddDataSource(evDB, "Deprecated events")
	if err != nil {
		t.Fatal(err)
	}
	want := fixture2025(t, "error_several_sources.json").(map[string]any)
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v1/databases/" + evDB, nil},
		{"POST", "/v1/databases/" + evDB + "/query", map[string]any{}},
		{"PATCH", "/v1/databases/" + evDB, map[string]any{"title": text("x")}},
		{"POST", "/v1/pages", map[string]any{"parent": map[string]any{"database_id": evDB}, "properties": map[string]any{"Name": map[string]any{"title": text("x")}}}},
	} {
		st, e := call(t, srv, v22, r.method, r.path, r.body)
		if st != 400 || e["code"] != want["code"] || e["message"] != want["message"] {
			t.Errorf("2022-06-28 %s %s on two data sources: %d %v; want %v", r.method, r.path, st, e, want)
		}
	}
	// Writing a relation that points at the database fails too.
	propsDB := pr["id"].(string)
	st, e := call(t, srv, v22, "POST", "/v1/pages", map[string]any{"parent": map[string]any{"database_id": propsDB},
		"properties": map[string]any{"Name": map[string]any{"title": text("plan")}, "Events": map[string]any{"relation": []any{map[string]any{"id": pg["id"]}}}}})
	if st != 400 || e["message"] != want["message"] {
		t.Errorf("2022-06-28 relation to a database with two data sources: %d %v", st, e)
	}
	st, got = call(t, srv, v25, "GET", "/v1/databases/"+evDB, nil)
	srcs, _ := got["data_sources"].([]any)
	if st != 200 || len(srcs) != 2 || srcs[1].(map[string]any)["id"] != second || srcs[1].(map[string]any)["name"] != "Deprecated events" {
		t.Errorf("2025-09-03 database with two data sources: %d %v", st, got)
	}
}

// hookSink records what a webhook endpoint receives.
type hookSink struct {
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.bodies = append(h.bodies, b)
	h.sigs = append(h.sigs, r.Header.Get("X-Notion-Signature"))
	h.mu.Unlock()
}

func (h *hookSink) wait(t *testing.T, n int) ([][]byte, []string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		h.mu.Lock()
		if len(h.bodies) >= n {
			b, s := append([][]byte(nil), h.bodies...), append([]string(nil), h.sigs...)
			h.mu.Unlock()
			return b, s
		}
		h.mu.Unlock()
	}
	t.Fatalf("fewer than %d webhook requests arrived", n)
	return nil, nil
}

// TestWebhooks: a subscription starts with the unsigned verification
// request; then every page edit is an event signed with the token, in the
// documented shape; a dropped event never arrives.
func TestWebhooks(t *testing.T) {
	srv := notiontest.New(t, notiontest.Options{})
	sink := &hookSink{}
	hs := httptest.NewServer(sink)
	defer hs.Close()
	st, db := call(t, srv, notiontest.Version20250903, "POST", "/v1/databases", map[string]any{
		"parent": map[string]any{"type": "page_id", "page_id": notiontest.RootPage}, "title": text("Events"),
		"initial_data_source": map[string]any{"properties": map[string]any{"Name": map[string]any{"title": map[string]any{}},
			"Status": map[string]any{"select": map[string]any{}}}},
	})
	if st != 200 {
		t.Fatal(db)
	}
	dbID := db["id"].(string)
	token, status, err := srv.Subscribe(notiontest.WebhookOptions{URL: hs.URL})
	if err != nil || status != 200 || !strings.HasPrefix(token, "secret_") {
		t.Fatalf("subscribe: %q %d %v", token, status, err)
	}
	bodies, sigs := sink.wait(t, 1)
	var verify map[string]string
	if json.Unmarshal(bodies[0], &verify); verify["verification_token"] != token || sigs[0] != "" {
		t.Errorf("verification request %s (signature %q); want the token, unsigned", bodies[0], sigs[0])
	}

	id, err := srv.CreatePage(dbID, map[string]any{"Name": map[string]any{"title": text("Signed Up")}})
	if err != nil {
		t.Fatal(err)
	}
	srv.DropWebhooks(1)
	if err := srv.UpdatePage(id, map[string]any{"Status": map[string]any{"select": map[string]any{"name": "live"}}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.UpdatePage(id, map[string]any{"Status": map[string]any{"select": map[string]any{"name": "planned"}}}); err != nil {
		t.Fatal(err)
	}
	bodies, sigs = sink.wait(t, 3)
	time.Sleep(50 * time.Millisecond)
	if len(sink.bodies) != 3 {
		t.Errorf("%d requests; want the verification, page.created and one page.properties_updated (one lost)", len(sink.bodies))
	}
	for i, b := range bodies[1:] {
		if sigs[i+1] != notiontest.Sign(token, b) {
			t.Errorf("event %d: signature %q does not match the body", i+1, sigs[i+1])
		}
	}
	var ev map[string]any
	if err := json.Unmarshal(bodies[2], &ev); err != nil {
		t.Fatal(err)
	}
	checkShape(t, "webhook_page_properties_updated.json", ev)
	parent := ev["data"].(map[string]any)["parent"].(map[string]any)
	if ev["type"] != notiontest.EventPagePropertiesUpdated || ev["entity"].(map[string]any)["id"] != id || parent["id"] != dbID || parent["data_source_id"] == nil {
		t.Errorf("event %v", ev)
	}
	ds := srv.Deliveries()
	if len(ds) != 4 || !ds[2].Lost || ds[3].Status != 200 {
		t.Errorf("deliveries %+v; want the third lost", ds)
	}
}
