package notiontest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jomei/notionapi"

	"github.com/trackplan/trackplan/notion/notiontest"
)

// rewrite sends requests to the fake, recording every answer's body.
type rewrite struct {
	base   *url.URL
	bodies map[string][]byte // last answer by "METHOD path"
}

func (r *rewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		req.Body = b
	}
	req.URL.Scheme, req.URL.Host, req.Host = r.base.Scheme, r.base.Host, r.base.Host
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if r.bodies != nil {
		r.bodies[req.Method+" "+req.URL.Path] = b
	}
	return resp, nil
}

func sdk(t *testing.T, srv *notiontest.Server, opts ...notionapi.ClientOption) (*notionapi.Client, *rewrite) {
	t.Helper()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rt := &rewrite{base: u, bodies: map[string][]byte{}}
	opts = append([]notionapi.ClientOption{notionapi.WithHTTPClient(&http.Client{Transport: rt})}, opts...)
	return notionapi.NewClient(notiontest.DefaultToken, opts...), rt
}

func fixture(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "notionapi", name))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// missing returns the key paths of want that got lacks or holds with
// another JSON kind. Property maps are matched by property type, arrays by
// their first element; null on either side matches anything.
func missing(want, got any, path string) []string {
	if want == nil || got == nil {
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{path + ": want an object"}
		}
		var out []string
		if strings.HasSuffix(path, ".properties") {
			for name, wp := range w {
				typ, _ := wp.(map[string]any)["type"].(string)
				var match any
				for _, gp := range g {
					if gt, _ := gp.(map[string]any)["type"].(string); gt == typ {
						match = gp
						break
					}
				}
				if match == nil {
					continue // the fake's database has no column of that type
				}
				out = append(out, missing(wp, match, path+"["+name+"]")...)
			}
			return out
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, missing(wv, gv, path+"."+k)...)
		}
		sort.Strings(out)
		return out
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{path + ": want an array"}
		}
		if len(w) == 0 || len(g) == 0 {
			return nil
		}
		return missing(w[0], g[0], path+"[0]")
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			return []string{fmt.Sprintf("%s: want a %T, got a %T", path, want, got)}
		}
		return nil
	}
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, b)
	}
	return v
}

// TestShapesMatchNotionapiFixtures drives the fake with notionapi itself:
// every answer must decode with notionapi's types and carry every key of
// notionapi's fixture for that endpoint.
func TestShapesMatchNotionapiFixtures(t *testing.T) {
	ctx := context.Background()
	srv := notiontest.New(t, notiontest.Options{Users: []notiontest.User{
		{ID: "5d4e1a52-0000-4000-8000-000000000001", Name: "John Doe", Email: "some@email.com"},
	}})
	client, rt := sdk(t, srv)
	check := func(fix, key string) {
		t.Helper()
		if m := missing(fixture(t, fix), decode(t, rt.bodies[key]), "$"); len(m) > 0 {
			t.Errorf("%s answer lacks keys of %s: %v", key, fix, m)
		}
	}

	db, err := client.Database.Create(ctx, &notionapi.DatabaseCreateRequest{
		Parent: notionapi.Parent{Type: "page_id", PageID: notiontest.RootPage},
		Title:  []notionapi.RichText{{Text: &notionapi.Text{Content: "Test Database"}}},
		Properties: notionapi.PropertyConfigs{
			"Name":                notionapi.TitlePropertyConfig{Type: "title"},
			"Tags":                notionapi.MultiSelectPropertyConfig{Type: "multi_select", MultiSelect: notionapi.Select{Options: []notionapi.Option{{Name: "tag", Color: "blue"}}}},
			"Some another column": notionapi.PeoplePropertyConfig{Type: "people"},
			"SomeColumn":          notionapi.RichTextPropertyConfig{Type: "rich_text"},
			"Weight":              notionapi.NumberPropertyConfig{Type: "number", Number: notionapi.NumberFormat{Format: "number"}},
			"Kind":                notionapi.SelectPropertyConfig{Type: "select"},
			"Done":                notionapi.CheckboxPropertyConfig{Type: "checkbox"},
			"When":                notionapi.DatePropertyConfig{Type: "date"},
		},
	})
	if err != nil {
		t.Fatalf("create database: %v", err)
	}
	check("database_create.json", "POST /v1/databases")
	if got, want := db.Title[0].PlainText, "Test Database"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	// A two-way relation, to the database itself's sibling.
	db2, err := client.Database.Create(ctx, &notionapi.DatabaseCreateRequest{
		Parent: notionapi.Parent{Type: "page_id", PageID: notiontest.RootPage},
		Title:  []notionapi.RichText{{Text: &notionapi.Text{Content: "Linked"}}},
		Properties: notionapi.PropertyConfigs{
			"Name":  notionapi.TitlePropertyConfig{Type: "title"},
			"Links": notionapi.RelationPropertyConfig{Type: "relation", Relation: notionapi.RelationConfig{DatabaseID: notionapi.DatabaseID(db.ID), Type: "dual_property", DualProperty: &notionapi.DualProperty{}}},
		},
	})
	if err != nil {
		t.Fatalf("create related database: %v", err)
	}

	got, err := client.Database.Get(ctx, notionapi.DatabaseID(db.ID))
	if err != nil {
		t.Fatalf("get database: %v", err)
	}
	check("database_get.json", "GET /v1/databases/"+string(db.ID))
	var synced bool
	for name, p := range got.Properties {
		if p.GetType() == "relation" && strings.HasPrefix(name, "Related to Linked") {
			synced = true
		}
	}
	if !synced {
		t.Errorf("the two-way relation has no synced column in the related database: %v", got.Properties)
	}

	pg, err := client.Page.Create(ctx, &notionapi.PageCreateRequest{
		Parent: notionapi.Parent{DatabaseID: notionapi.DatabaseID(db.ID)},
		Properties: notionapi.Properties{
			"Name":       notionapi.TitleProperty{Title: []notionapi.RichText{{Text: &notionapi.Text{Content: "Yurts in Big Sur, California"}}}},
			"SomeColumn": notionapi.RichTextProperty{RichText: []notionapi.RichText{{Text: &notionapi.Text{Content: "some text"}}}},
			"Tags":       notionapi.MultiSelectProperty{MultiSelect: []notionapi.Option{{Name: "tag"}}},
			"Weight":     notionapi.NumberProperty{Number: 4},
			"Kind":       notionapi.SelectProperty{Select: notionapi.Option{Name: "a"}},
		},
	})
	if err != nil {
		t.Fatalf("create page: %v", err)
	}
	check("page_create.json", "POST /v1/pages")
	if n := pg.Properties["Weight"].(*notionapi.NumberProperty).Number; n != 4 {
		t.Errorf("weight = %v, want 4", n)
	}

	_, err = client.Page.Update(ctx, notionapi.PageID(pg.ID), &notionapi.PageUpdateRequest{Properties: notionapi.Properties{
		"Some another column": notionapi.PeopleProperty{People: []notionapi.User{{Object: "user", ID: "5d4e1a52-0000-4000-8000-000000000001"}}},
	}})
	if err != nil {
		t.Fatalf("update page: %v", err)
	}
	check("page_update.json", "PATCH /v1/pages/"+string(pg.ID))

	full, err := client.Page.Get(ctx, notionapi.PageID(pg.ID))
	if err != nil {
		t.Fatalf("get page: %v", err)
	}
	check("page_get.json", "GET /v1/pages/"+string(pg.ID))
	if ppl := full.Properties["Some another column"].(*notionapi.PeopleProperty).People; len(ppl) != 1 || ppl[0].Person.Email != "some@email.com" {
		t.Errorf("people = %+v", ppl)
	}

	if _, err := client.Database.Query(ctx, notionapi.DatabaseID(db.ID), &notionapi.DatabaseQueryRequest{}); err != nil {
		t.Fatalf("query: %v", err)
	}
	check("database_query.json", "POST /v1/databases/"+string(db.ID)+"/query")

	if _, err := client.User.List(ctx, nil); err != nil {
		t.Fatalf("list users: %v", err)
	}
	check("user_list.json", "GET /v1/users")

	_, err = client.Page.Create(ctx, &notionapi.PageCreateRequest{
		Parent:     notionapi.Parent{DatabaseID: notionapi.DatabaseID(db.ID)},
		Properties: notionapi.Properties{"Nope": notionapi.CheckboxProperty{Checkbox: true}},
	})
	var nerr *notionapi.Error
	if !errors.As(err, &nerr) || nerr.Status != 400 || nerr.Code != "validation_error" {
		t.Fatalf("write to an unknown column: err = %v, want a notionapi 400 validation_error", err)
	}
	check("validation_error.json", "POST /v1/pages")
	_ = db2
}

func TestQueryPaginates(t *testing.T) {
	ctx := context.Background()
	srv := notiontest.New(t, notiontest.Options{})
	client, _ := sdk(t, srv)
	db := mustDatabase(t, client, "Rows", nil)
	for i := range 250 {
		if _, err := srv.CreatePage(string(db.ID), map[string]any{"Name": title(fmt.Sprintf("row %03d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	var pages int
	req := &notionapi.DatabaseQueryRequest{PageSize: 100}
	for {
		resp, err := client.Database.Query(ctx, notionapi.DatabaseID(db.ID), req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, p := range resp.Results {
			names = append(names, p.Properties["Name"].(*notionapi.TitleProperty).Title[0].PlainText)
		}
		if !resp.HasMore {
			break
		}
		req.StartCursor = resp.NextCursor
	}
	if pages != 3 || len(names) != 250 || !slices.IsSorted(names) {
		t.Errorf("got %d pages, %d rows (sorted: %v), want 3 pages, 250 rows in order", pages, len(names), slices.IsSorted(names))
	}
	if _, err := client.Database.Query(ctx, notionapi.DatabaseID(db.ID), &notionapi.DatabaseQueryRequest{PageSize: 101}); err == nil {
		t.Error("page_size 101 accepted, want a validation error")
	}
}

func title(s string) map[string]any {
	return map[string]any{"title": []any{map[string]any{"text": map[string]any{"content": s}}}}
}

func mustDatabase(t *testing.T, client *notionapi.Client, name string, extra notionapi.PropertyConfigs) *notionapi.Database {
	t.Helper()
	props := notionapi.PropertyConfigs{"Name": notionapi.TitlePropertyConfig{Type: "title"}}
	for k, v := range extra {
		props[k] = v
	}
	db, err := client.Database.Create(context.Background(), &notionapi.DatabaseCreateRequest{
		Parent:     notionapi.Parent{Type: "page_id", PageID: notiontest.RootPage},
		Title:      []notionapi.RichText{{Text: &notionapi.Text{Content: name}}},
		Properties: props,
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestRelationTruncation checks the 25-item cut in page objects and the
// paginated page property item endpoint, in Notion's shapes.
func TestRelationTruncation(t *testing.T) {
	ctx := context.Background()
	srv := notiontest.New(t, notiontest.Options{})
	client, rt := sdk(t, srv)
	events := mustDatabase(t, client, "Events", nil)
	props := mustDatabase(t, client, "Properties", notionapi.PropertyConfigs{
		"Events": notionapi.RelationPropertyConfig{Type: "relation", Relation: notionapi.RelationConfig{DatabaseID: notionapi.DatabaseID(events.ID), Type: "dual_property", DualProperty: &notionapi.DualProperty{}}},
	})
	var rel []any
	var want []string
	for i := range 30 {
		id, err := srv.CreatePage(string(events.ID), map[string]any{"Name": title(fmt.Sprintf("e%02d", i))})
		if err != nil {
			t.Fatal(err)
		}
		rel = append(rel, map[string]any{"id": id})
		want = append(want, id)
	}
	pid, err := srv.CreatePage(string(props.ID), map[string]any{"Name": title("plan"), "Events": map[string]any{"relation": rel}})
	if err != nil {
		t.Fatal(err)
	}

	p, err := client.Page.Get(ctx, notionapi.PageID(pid))
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.Properties["Events"].(*notionapi.RelationProperty).Relation); got != 25 {
		t.Errorf("relation in the page object has %d items, want 25", got)
	}
	raw := decode(t, rt.bodies["GET /v1/pages/"+pid]).(map[string]any)
	ev := raw["properties"].(map[string]any)["Events"].(map[string]any)
	if ev["has_more"] != true {
		t.Errorf("relation has_more = %v, want true", ev["has_more"])
	}

	// The property item endpoint, paginated by 10.
	propID := ev["id"].(string)
	var got []string
	cursor := ""
	calls := 0
	for {
		q := url.Values{"page_size": {"10"}}
		if cursor != "" {
			q.Set("start_cursor", cursor)
		}
		req, _ := http.NewRequest("GET", srv.URL+"/v1/pages/"+pid+"/properties/"+url.PathEscape(mustUnescape(t, propID))+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+notiontest.DefaultToken)
		req.Header.Set("Notion-Version", "2022-06-28")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("property item: %d %s", resp.StatusCode, b)
		}
		calls++
		var page struct {
			Object  string `json:"object"`
			Results []struct {
				Object   string `json:"object"`
				Type     string `json:"type"`
				Relation struct {
					ID string `json:"id"`
				} `json:"relation"`
			} `json:"results"`
			HasMore      bool    `json:"has_more"`
			NextCursor   *string `json:"next_cursor"`
			Type         string  `json:"type"`
			PropertyItem struct {
				Type    string  `json:"type"`
				NextURL *string `json:"next_url"`
			} `json:"property_item"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		if page.Object != "list" || page.Type != "property_item" || page.PropertyItem.Type != "relation" {
			t.Fatalf("property item answer shape: %s", b)
		}
		for _, r := range page.Results {
			if r.Object != "property_item" || r.Type != "relation" {
				t.Fatalf("item shape: %s", b)
			}
			got = append(got, r.Relation.ID)
		}
		if !page.HasMore {
			break
		}
		if page.PropertyItem.NextURL == nil {
			t.Error("has_more without next_url")
		}
		cursor = *page.NextCursor
	}
	if calls != 3 {
		t.Errorf("%d calls, want 3", calls)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("relation items (-want +got):\n%s", diff)
	}
}

func mustUnescape(t *testing.T, s string) string {
	t.Helper()
	u, err := url.PathUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestNotionapiPitfalls pins the notionapi v1.13.3 behaviours the notion
// package routes around, against the fake.
func TestNotionapiPitfalls(t *testing.T) {
	ctx := context.Background()

	t.Run("unknown property type fails the whole decode", func(t *testing.T) {
		srv := notiontest.New(t, notiontest.Options{})
		client, _ := sdk(t, srv)
		db := mustDatabase(t, client, "Events", nil)
		if _, err := srv.CreatePage(string(db.ID), map[string]any{"Name": title("Signed Up")}); err != nil {
			t.Fatal(err)
		}
		if err := srv.AddColumn(string(db.ID), "Place", "place", json.RawMessage(`{}`), json.RawMessage(`null`)); err != nil {
			t.Fatal(err)
		}
		if _, err := client.Database.Get(ctx, notionapi.DatabaseID(db.ID)); err == nil || !strings.Contains(err.Error(), "unsupported property type") {
			t.Errorf("Database.Get: err = %v, want unsupported property type", err)
		}
		if _, err := client.Database.Query(ctx, notionapi.DatabaseID(db.ID), &notionapi.DatabaseQueryRequest{}); err == nil || !strings.Contains(err.Error(), "unsupported property type") {
			t.Errorf("Database.Query: err = %v, want unsupported property type", err)
		}
	})

	t.Run("429 retry resends an empty body", func(t *testing.T) {
		srv := notiontest.New(t, notiontest.Options{})
		// A plain transport, which does not rewind bodies.
		u, _ := url.Parse(srv.URL)
		client := notionapi.NewClient(notiontest.DefaultToken, notionapi.WithRetry(3),
			notionapi.WithHTTPClient(&http.Client{Transport: &plain{base: u}}))
		db := mustDatabase(t, client, "Events", nil)
		srv.SetFault(func(n int, r *http.Request) notiontest.Fault {
			if n == 2 { // the first query
				return notiontest.Fault{Status: 429, RetryAfter: "0"}
			}
			return notiontest.Fault{}
		})
		_, err := client.Database.Query(ctx, notionapi.DatabaseID(db.ID), &notionapi.DatabaseQueryRequest{PageSize: 10})
		if err == nil || !strings.Contains(err.Error(), "ContentLength") {
			t.Errorf("Query after a 429: err = %v, want the ContentLength/body length error", err)
		}
	})

	t.Run("update always sends archived false", func(t *testing.T) {
		req := notionapi.PageUpdateRequest{Properties: notionapi.Properties{}}
		b, _ := json.Marshal(req)
		if !strings.Contains(string(b), `"archived":false`) {
			t.Errorf("PageUpdateRequest = %s, want archived false", b)
		}
	})

	t.Run("select and number cannot be cleared", func(t *testing.T) {
		b, _ := json.Marshal(notionapi.Properties{"S": notionapi.SelectProperty{}, "N": notionapi.NumberProperty{}})
		if strings.Contains(string(b), `"select":null`) || strings.Contains(string(b), `"number":null`) {
			t.Errorf("notionapi now clears values: %s", b)
		}
		srv := notiontest.New(t, notiontest.Options{})
		client, _ := sdk(t, srv)
		db := mustDatabase(t, client, "Events", notionapi.PropertyConfigs{"Kind": notionapi.SelectPropertyConfig{Type: "select"}})
		_, err := client.Page.Create(ctx, &notionapi.PageCreateRequest{
			Parent:     notionapi.Parent{DatabaseID: notionapi.DatabaseID(db.ID)},
			Properties: notionapi.Properties{"Kind": notionapi.SelectProperty{}},
		})
		if err == nil {
			t.Error("an empty SelectProperty was accepted, want the fake to reject the empty option name like Notion")
		}
	})
}

// plain rewrites the URL and nothing else.
type plain struct{ base *url.URL }

func (p *plain) RoundTrip(req *http.Request) (*http.Response, error) {
	r := *req
	u := *req.URL
	u.Scheme, u.Host = p.base.Scheme, p.base.Host
	r.URL = &u
	r.Host = p.base.Host
	return http.DefaultTransport.RoundTrip(&r)
}

func TestFaultsAndAuth(t *testing.T) {
	srv := notiontest.New(t, notiontest.Options{
		Fault: notiontest.Chain(notiontest.EveryNth(3, notiontest.Fault{Status: 429, RetryAfter: "1"}), notiontest.EveryNth(4, notiontest.Fault{Status: 503})),
	})
	get := func(token string) *http.Response {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/users", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Notion-Version", "2022-06-28")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	var got []string
	for range 6 {
		r := get(notiontest.DefaultToken)
		got = append(got, fmt.Sprintf("%d %s", r.StatusCode, r.Header.Get("Retry-After")))
	}
	want := []string{"200 ", "200 ", "429 1", "503 ", "200 ", "429 1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
	srv.SetFault(nil)
	if r := get("wrong"); r.StatusCode != 401 {
		t.Errorf("wrong token: %d, want 401", r.StatusCode)
	}
	if got := srv.Counts()["GET /v1/users"]; got != 7 {
		t.Errorf("count = %d, want 7", got)
	}
}
