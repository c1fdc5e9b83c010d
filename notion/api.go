package notion

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// pageSize is the largest page Notion serves.
const pageSize = 100

// api sends requests that notionapi cannot make or cannot decode: reads
// (notionapi fails on any property type it does not know), writes that
// clear values or must not send "archived": false, the page property item
// endpoint it lacks, and everything of API version 2025-09-03 (data
// sources), which it does not speak. It goes through the same http.Client,
// so the same Transport.
type api struct {
	hc      *http.Client
	token   string
	version string // the Notion-Version header
}

// sources reports whether the API version has data sources (2025-09-03).
func (a *api) sources() bool { return a.version != Version20220628 }

// do sends method path?query with in as the JSON body and decodes a 200
// answer into out. Anything else becomes an *APIError. path must already be
// escaped.
func (a *api) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode notion request %s %s: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	u := DefaultBaseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("notion %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Notion-Version", a.version)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("notion %s %s: %w", method, path, &sendError{err: unwrapURLError(err)})
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("notion %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return newAPIError(method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("notion %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// sendError is a request that got no answer (timeout, network error): it
// may or may not have been applied.
type sendError struct{ err error }

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// escapeID puts a Notion id into a path segment. Property ids come
// URL-encoded in current API answers and raw in older ones; both end up
// encoded once.
func escapeID(id string) string {
	if raw, err := url.PathUnescape(id); err == nil {
		id = raw
	}
	return url.PathEscape(id)
}

// unwrapURLError drops the *url.Error wrapper (its text repeats the URL).
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// richText is the part of a rich text object trackplan reads.
type richText struct {
	PlainText string `json:"plain_text"`
	Text      *struct {
		Content string `json:"content"`
	} `json:"text"`
}

func plainText(rts []richText) string {
	var b strings.Builder
	for _, rt := range rts {
		if rt.PlainText != "" || rt.Text == nil {
			b.WriteString(rt.PlainText)
		} else {
			b.WriteString(rt.Text.Content)
		}
	}
	return b.String()
}

type selectOption struct {
	Name string `json:"name"`
}

type dateValue struct {
	Start string `json:"start"`
}

type userValue struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Person *struct {
		Email string `json:"email"`
	} `json:"person"`
}

type pageRef struct {
	ID string `json:"id"`
}

// propertyValue is a page property value, decoded only for the columns
// trackplan uses: an unknown type leaves every field empty.
type propertyValue struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	Title       []richText     `json:"title"`
	RichText    []richText     `json:"rich_text"`
	Number      *float64       `json:"number"`
	Select      *selectOption  `json:"select"`
	Status      *selectOption  `json:"status"`
	MultiSelect []selectOption `json:"multi_select"`
	Checkbox    bool           `json:"checkbox"`
	Date        *dateValue     `json:"date"`
	People      []userValue    `json:"people"`
	Relation    []pageRef      `json:"relation"`
	HasMore     bool           `json:"has_more"`
	Email       *string        `json:"email"`
}

// page is a page object with its property values left undecoded, so a value
// of a type nobody here knows cannot fail the decoding of the others.
type page struct {
	ID         string                     `json:"id"`
	Archived   bool                       `json:"archived"`
	InTrash    bool                       `json:"in_trash"`
	Edited     time.Time                  `json:"last_edited_time"`
	Properties map[string]json.RawMessage `json:"properties"`
}

type queryResponse struct {
	Results    []page  `json:"results"`
	HasMore    bool    `json:"has_more"`
	NextCursor *string `json:"next_cursor"`
}

// columnConfig is a database property (column) schema.
type columnConfig struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Type     string `json:"type"`
	Relation *struct {
		DatabaseID   string `json:"database_id"`
		DataSourceID string `json:"data_source_id"` // 2025-09-03
		Type         string `json:"type"`
		DualProperty *struct {
			SyncedPropertyName string `json:"synced_property_name"`
			SyncedPropertyID   string `json:"synced_property_id"`
		} `json:"dual_property"`
	} `json:"relation"`
}

// relatesTo reports whether a relation column points at t: at its data
// source, or at its database (on 2022-06-28 the only id a relation has; on
// 2025-09-03 a relation to another data source of the same database counts
// too, so a plan read from a second source keeps its Properties database).
func (c columnConfig) relatesTo(t *table) bool {
	if c.Type != "relation" || c.Relation == nil {
		return false
	}
	return (c.Relation.DataSourceID != "" && normID(c.Relation.DataSourceID) == normID(t.id)) ||
		(c.Relation.DatabaseID != "" && normID(c.Relation.DatabaseID) == normID(t.dbID))
}

// target returns the id a relation column points at: its data source on
// 2025-09-03, else its database.
func (c columnConfig) target() string {
	if c.Relation == nil {
		return ""
	}
	if c.Relation.DataSourceID != "" {
		return c.Relation.DataSourceID
	}
	return c.Relation.DatabaseID
}

// database is what holds a schema and rows: a database object on
// 2022-06-28, a data source object on 2025-09-03. It is decoded by hand for
// the same reason as page. On 2025-09-03 a database object is decoded into
// it too, for its data sources (it then has no properties).
type database struct {
	Object     string                  `json:"object"`
	ID         string                  `json:"id"`
	Title      []richText              `json:"title"`
	Properties map[string]columnConfig `json:"properties"`
	Parent     struct {
		Type       string `json:"type"`
		DatabaseID string `json:"database_id"`
	} `json:"parent"`
	DataSources []dataSourceRef `json:"data_sources"`

	// dbID is the database: ID on 2022-06-28, the data source's parent on
	// 2025-09-03.
	dbID string
	// sources is the number of data sources of the database (1 on
	// 2022-06-28).
	sources int
}

// dataSourceRef is an entry of a database's data_sources.
type dataSourceRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// name returns the title of the database or data source.
func (db *database) name() string { return plainText(db.Title) }

func (db *database) fillNames() {
	for name, c := range db.Properties {
		if c.Name == "" {
			c.Name = name
			db.Properties[name] = c
		}
	}
}

// getDatabase retrieves a database: with its schema on 2022-06-28, with its
// data sources (and no schema) on 2025-09-03.
func (a *api) getDatabase(ctx context.Context, id string) (*database, error) {
	var db database
	if err := a.do(ctx, http.MethodGet, "/v1/databases/"+escapeID(id), nil, nil, &db); err != nil {
		return nil, err
	}
	db.fillNames()
	db.dbID, db.sources = db.ID, 1
	return &db, nil
}

// getDataSource retrieves a data source and its schema (2025-09-03).
func (a *api) getDataSource(ctx context.Context, id string) (*database, error) {
	var ds database
	if err := a.do(ctx, http.MethodGet, "/v1/data_sources/"+escapeID(id), nil, nil, &ds); err != nil {
		return nil, err
	}
	ds.fillNames()
	ds.dbID = ds.Parent.DatabaseID
	if ds.dbID == "" {
		ds.dbID = ds.ID
	}
	return &ds, nil
}

// collection returns the path of what holds rows with id: a data source on
// 2025-09-03, a database on 2022-06-28.
func (a *api) collection(id string) string {
	if a.sources() {
		return "/v1/data_sources/" + escapeID(id)
	}
	return "/v1/databases/" + escapeID(id)
}

// queryAll reads every page of a database (2022-06-28) or data source
// (2025-09-03) matching filter (nil for all), page by page.
func (a *api) queryAll(ctx context.Context, dbID string, filter any, each func(page) error) error {
	path := a.collection(dbID) + "/query"
	body := map[string]any{"page_size": pageSize}
	if filter != nil {
		body["filter"] = filter
	}
	for {
		var qr queryResponse
		if err := a.do(ctx, http.MethodPost, path, nil, body, &qr); err != nil {
			return err
		}
		for _, p := range qr.Results {
			if err := each(p); err != nil {
				return err
			}
		}
		if !qr.HasMore || qr.NextCursor == nil || *qr.NextCursor == "" {
			return nil
		}
		body["start_cursor"] = *qr.NextCursor
	}
}

// relationItems reads the full list of a relation value through the page
// property item endpoint (GET /v1/pages/{page}/properties/{property}),
// which notionapi does not implement: query results carry at most 25.
func (a *api) relationItems(ctx context.Context, pageID, propID string) ([]string, error) {
	path := "/v1/pages/" + escapeID(pageID) + "/properties/" + escapeID(propID)
	q := url.Values{"page_size": {strconv.Itoa(pageSize)}}
	var ids []string
	for {
		var r struct {
			Object  string `json:"object"`
			Results []struct {
				Type     string   `json:"type"`
				Relation *pageRef `json:"relation"`
			} `json:"results"`
			HasMore    bool    `json:"has_more"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := a.do(ctx, http.MethodGet, path, q, nil, &r); err != nil {
			return nil, err
		}
		if r.Object != "list" {
			return nil, fmt.Errorf("notion GET %s: want a list of relation items, got a %q", path, r.Object)
		}
		for _, it := range r.Results {
			if it.Relation != nil {
				ids = append(ids, it.Relation.ID)
			}
		}
		if !r.HasMore || r.NextCursor == nil || *r.NextCursor == "" {
			return ids, nil
		}
		q.Set("start_cursor", *r.NextCursor)
	}
}

// createPage creates a page in a database (2022-06-28) or a data source
// (2025-09-03) and returns its id.
func (a *api) createPage(ctx context.Context, dbID string, props map[string]any) (string, error) {
	parent := map[string]string{"type": "database_id", "database_id": dbID}
	if a.sources() {
		parent = map[string]string{"type": "data_source_id", "data_source_id": dbID}
	}
	body := map[string]any{"parent": parent, "properties": props}
	var p struct {
		ID string `json:"id"`
	}
	if err := a.do(ctx, http.MethodPost, "/v1/pages", nil, body, &p); err != nil {
		return "", err
	}
	if p.ID == "" {
		return "", fmt.Errorf("notion POST /v1/pages: answer has no page id")
	}
	return p.ID, nil
}

// updatePage sets properties of a page. Unlike notionapi's PageUpdateRequest
// it sends no "archived" key, which would restore a page someone trashed.
func (a *api) updatePage(ctx context.Context, pageID string, props map[string]any) error {
	return a.do(ctx, http.MethodPatch, "/v1/pages/"+escapeID(pageID), nil, map[string]any{"properties": props}, nil)
}

// updateSchema changes columns of a data source (2025-09-03): properties
// maps a column's name to its new config (or nil to remove it).
func (a *api) updateSchema(ctx context.Context, dsID string, props map[string]any) error {
	return a.do(ctx, http.MethodPatch, "/v1/data_sources/"+escapeID(dsID), nil, map[string]any{"properties": props}, nil)
}

// createDatabase creates a database with its first data source
// (2025-09-03) and returns the database object, data_sources filled.
func (a *api) createDatabase(ctx context.Context, parentPage, title string, props map[string]any) (*database, error) {
	body := map[string]any{
		"parent":              map[string]string{"type": "page_id", "page_id": parentPage},
		"title":               []map[string]any{{"type": "text", "text": map[string]string{"content": title}}},
		"initial_data_source": map[string]any{"properties": props},
	}
	var db database
	if err := a.do(ctx, http.MethodPost, "/v1/databases", nil, body, &db); err != nil {
		return nil, err
	}
	if db.ID == "" || len(db.DataSources) == 0 {
		return nil, fmt.Errorf("notion POST /v1/databases: answer has no database id or no data source")
	}
	return &db, nil
}

// archivePage moves a page to the trash.
func (a *api) archivePage(ctx context.Context, pageID string) error {
	return a.do(ctx, http.MethodPatch, "/v1/pages/"+escapeID(pageID), nil, map[string]any{"archived": true}, nil)
}
