package notiontest

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func plainOf(v any) string {
	arr, _ := v.([]any)
	var b strings.Builder
	for _, it := range arr {
		m, _ := it.(map[string]any)
		if t, ok := m["text"].(map[string]any); ok {
			c, _ := t["content"].(string)
			b.WriteString(c)
		} else if p, ok := m["plain_text"].(string); ok {
			b.WriteString(p)
		}
	}
	return b.String()
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (s *Server) createDatabase(_ *http.Request, body map[string]any) (any, *apiError) {
	parent, _ := body["parent"].(map[string]any)
	pid, _ := parent["page_id"].(string)
	if pid == "" {
		return nil, invalid("body failed validation: body.parent.page_id should be defined, instead was `undefined`.")
	}
	if norm(pid) != norm(RootPage) {
		return nil, errorf(http.StatusNotFound, "object_not_found",
			"Could not find page with ID: %s. Make sure the relevant pages and databases are shared with your integration.", dashed(pid))
	}
	props, _ := body["properties"].(map[string]any)
	if s.sourcesAPI() {
		if _, ok := body["properties"]; ok {
			return nil, invalid("body failed validation: body.properties should be not present, instead was `%v`. Since API version 2025-09-03 the schema goes under initial_data_source.properties.", "…")
		}
		ids, _ := body["initial_data_source"].(map[string]any)
		props, _ = ids["properties"].(map[string]any)
	}
	now := s.now()
	title := plainOf(body["title"])
	ctr := &container{id: s.newID(0xdb), title: title, parent: dashed(pid), created: now, edited: now}
	db, aerr := s.newSource(ctr, title, props)
	if aerr != nil {
		return nil, aerr
	}
	s.register(ctr, db)
	if s.sourcesAPI() {
		return s.renderContainer(ctr), nil
	}
	return s.renderDatabase(db), nil
}

// newSource builds a data source of ctr from a schema; register adds it.
func (s *Server) newSource(ctr *container, title string, props map[string]any) (*database, *apiError) {
	// A database created through 2022-06-28 has a data source all the
	// same, with an id of its own.
	db := &database{id: s.newID(0xd5), title: title, ctr: ctr, created: ctr.created, edited: ctr.edited}
	titles := 0
	for _, name := range sortedKeys(props) {
		c, aerr := s.parseColumn(db, name, props[name])
		if aerr != nil {
			return nil, aerr
		}
		if c.typ == "title" {
			titles++
		}
		db.cols = append(db.cols, c)
	}
	if titles != 1 {
		return nil, invalid("Databases need exactly one title property, got %d.", titles)
	}
	return db, nil
}

func (s *Server) register(ctr *container, db *database) {
	ctr.sources = append(ctr.sources, db)
	s.ctrs[norm(ctr.id)] = ctr
	s.dbs[norm(db.id)] = db
	for _, c := range db.cols {
		if c.typ == "relation" {
			s.addSyncedSide(db, c)
		}
	}
}

func (s *Server) getDatabase(r *http.Request, _ map[string]any) (any, *apiError) {
	if s.sourcesAPI() {
		c, aerr := s.lookupContainer(r.PathValue("id"))
		if aerr != nil {
			return nil, aerr
		}
		return s.renderContainer(c), nil
	}
	db, aerr := s.lookupDB(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	return s.renderDatabase(db), nil
}

// invalidURL is the answer to an endpoint the request's version does not
// have.
func invalidURL() *apiError {
	return errorf(http.StatusBadRequest, "invalid_request_url", "Invalid request URL.")
}

func (s *Server) getDataSource(r *http.Request, _ map[string]any) (any, *apiError) {
	if !s.sourcesAPI() {
		return nil, invalidURL()
	}
	db, aerr := s.lookupSource(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	return s.renderSource(db), nil
}

func (s *Server) updateDataSource(r *http.Request, body map[string]any) (any, *apiError) {
	if !s.sourcesAPI() {
		return nil, invalidURL()
	}
	db, aerr := s.lookupSource(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	if t, ok := body["title"]; ok {
		db.title = plainOf(t)
	}
	if aerr := s.updateColumns(db, body); aerr != nil {
		return nil, aerr
	}
	return s.renderSource(db), nil
}

func (s *Server) queryDataSource(r *http.Request, body map[string]any) (any, *apiError) {
	if !s.sourcesAPI() {
		return nil, invalidURL()
	}
	db, aerr := s.lookupSource(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	return s.query(db, body, "page_or_data_source")
}

// updateDatabase renames, removes and adds columns and sets the title
// (2022-06-28); on 2025-09-03 only the title, the columns being the data
// sources'.
func (s *Server) updateDatabase(r *http.Request, body map[string]any) (any, *apiError) {
	if s.sourcesAPI() {
		c, aerr := s.lookupContainer(r.PathValue("id"))
		if aerr != nil {
			return nil, aerr
		}
		if _, ok := body["properties"]; ok {
			return nil, invalid("body failed validation: body.properties should be not present. Since API version 2025-09-03 columns are updated on the data source.")
		}
		if t, ok := body["title"]; ok {
			c.title = plainOf(t)
		}
		c.edited = s.now()
		return s.renderContainer(c), nil
	}
	db, aerr := s.lookupDB(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	if t, ok := body["title"]; ok {
		db.ctr.title = plainOf(t)
	}
	if aerr := s.updateColumns(db, body); aerr != nil {
		return nil, aerr
	}
	return s.renderDatabase(db), nil
}

// updateColumns renames, removes and adds the columns of a data source.
func (s *Server) updateColumns(db *database, body map[string]any) *apiError {
	props, _ := body["properties"].(map[string]any)
	for _, key := range sortedKeys(props) {
		raw := props[key]
		c := db.col(key)
		switch {
		case raw == nil && c == nil:
			return invalid("%s is not a property that exists.", key)
		case raw == nil:
			if c.typ == "title" {
				return invalid("Cannot delete the title property.")
			}
			db.cols = slices.DeleteFunc(db.cols, func(x *column) bool { return x == c })
			for _, p := range s.pages {
				delete(p.values, c)
			}
		case c == nil:
			nc, aerr := s.parseColumn(db, key, raw)
			if aerr != nil {
				return aerr
			}
			if nc.typ == "title" {
				return invalid("Databases have exactly one title property.")
			}
			db.cols = append(db.cols, nc)
			s.addSyncedSide(db, nc)
		default:
			m, _ := raw.(map[string]any)
			if n, ok := m["name"].(string); ok && n != c.name {
				if db.col(n) != nil {
					return invalid("A property named %s already exists.", n)
				}
				c.name = n
			}
		}
	}
	db.edited = s.now()
	return nil
}

func (s *Server) queryDatabase(r *http.Request, body map[string]any) (any, *apiError) {
	if s.sourcesAPI() {
		// Since 2025-09-03 rows are queried through a data source.
		return nil, invalidURL()
	}
	db, aerr := s.lookupDB(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	return s.query(db, body, "page_or_database")
}

// query answers a query of the rows of db.
func (s *Server) query(db *database, body map[string]any, typ string) (any, *apiError) {
	size := 100
	if v, ok := body["page_size"]; ok {
		f, ok := v.(float64)
		if !ok || f < 1 || f > 100 || f != float64(int(f)) {
			return nil, invalid("body failed validation: body.page_size should be ≤ `100`, instead was `%v`.", v)
		}
		size = int(f)
	}
	if v, ok := body["sorts"]; ok && v != nil {
		return nil, invalid("notiontest: sorts are not supported")
	}
	match, aerr := parseFilter(db, body["filter"])
	if aerr != nil {
		return nil, aerr
	}
	var rows []*page
	for _, p := range s.order {
		if p.db == db && !p.archived && match(p) {
			rows = append(rows, p)
		}
	}
	start := 0
	if c, ok := body["start_cursor"].(string); ok && c != "" {
		start = slices.IndexFunc(rows, func(p *page) bool { return p.id == c })
		if start < 0 {
			return nil, invalid("start_cursor provided is invalid: %s", c)
		}
	}
	end := min(start+size, len(rows))
	results := []any{}
	for _, p := range rows[start:end] {
		results = append(results, s.renderPage(p))
	}
	out := map[string]any{"object": "list", "results": results, "next_cursor": nil, "has_more": false,
		"type": typ, typ: map[string]any{},
		"request_id": "00000000-0000-4000-8000-000000000000"}
	if end < len(rows) {
		out["next_cursor"] = rows[end].id
		out["has_more"] = true
	}
	return out, nil
}

// parseFilter supports what a client needs to find a row by name: a title
// or rich_text equals condition on one property.
func parseFilter(db *database, f any) (func(*page) bool, *apiError) {
	if f == nil {
		return func(*page) bool { return true }, nil
	}
	m, _ := f.(map[string]any)
	key, _ := m["property"].(string)
	c := db.col(key)
	if c == nil {
		return nil, invalid("Could not find property with name or id: %s", key)
	}
	for _, typ := range []string{"title", "rich_text"} {
		cond, ok := m[typ].(map[string]any)
		if !ok {
			continue
		}
		want, ok := cond["equals"].(string)
		if !ok || (c.typ != "title" && c.typ != "rich_text") {
			break
		}
		return func(p *page) bool {
			cs, _ := p.values[c].([]string)
			return strings.Join(cs, "") == want
		}, nil
	}
	return nil, invalid("notiontest: unsupported filter")
}

func (s *Server) createPage(_ *http.Request, body map[string]any) (any, *apiError) {
	parent, _ := body["parent"].(map[string]any)
	dbID, _ := parent["database_id"].(string)
	dsID, _ := parent["data_source_id"].(string)
	var db *database
	var aerr *apiError
	switch {
	case dsID != "" && s.sourcesAPI():
		db, aerr = s.lookupSource(dsID)
	case dbID != "":
		db, aerr = s.lookupDB(dbID)
	default:
		return nil, invalid("body failed validation: body.parent.database_id should be defined, instead was `undefined`.")
	}
	if aerr != nil {
		return nil, aerr
	}
	now := s.now()
	p := &page{id: s.newID(0x9a), db: db, created: now, edited: now, values: map[*column]any{}}
	props, _ := body["properties"].(map[string]any)
	if aerr := s.setValues(p, props); aerr != nil {
		return nil, aerr
	}
	s.pages[norm(p.id)] = p
	s.order = append(s.order, p)
	s.emit("page.created", p, nil)
	return s.renderPage(p), nil
}

func (s *Server) getPage(r *http.Request, _ map[string]any) (any, *apiError) {
	p, aerr := s.lookupPage(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	return s.renderPage(p), nil
}

func (s *Server) updatePage(r *http.Request, body map[string]any) (any, *apiError) {
	p, aerr := s.lookupPage(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	archived := p.archived
	for _, k := range []string{"archived", "in_trash"} {
		if v, ok := body[k]; ok {
			b, ok := v.(bool)
			if !ok {
				return nil, invalid("body failed validation: body.%s should be a boolean.", k)
			}
			archived = b
		}
	}
	props, _ := body["properties"].(map[string]any)
	if len(props) > 0 {
		if archived {
			return nil, invalid("Can't edit block that is archived. You must unarchive the block before editing.")
		}
		if aerr := s.setValues(p, props); aerr != nil {
			return nil, aerr
		}
	}
	was := p.archived
	p.archived = archived
	p.edited = s.now()
	switch {
	case archived && !was:
		s.emit("page.deleted", p, nil)
	case !archived && was:
		s.emit("page.undeleted", p, nil)
	case len(props) > 0:
		s.emit("page.properties_updated", p, propIDs(p.db, props))
	}
	return s.renderPage(p), nil
}

// getPropertyItem serves GET /v1/pages/{id}/properties/{prop}: a paginated
// list for title, rich_text, people and relation values, one property item
// object for the others.
func (s *Server) getPropertyItem(r *http.Request, _ map[string]any) (any, *apiError) {
	p, aerr := s.lookupPage(r.PathValue("id"))
	if aerr != nil {
		return nil, aerr
	}
	c := p.db.col(r.PathValue("prop"))
	if c == nil {
		return nil, errorf(http.StatusNotFound, "object_not_found", "Could not find property with ID: %s.", r.PathValue("prop"))
	}
	var items []any
	switch c.typ {
	case "relation":
		for _, id := range s.relIDs(p, c) {
			items = append(items, map[string]any{"object": "property_item", "id": c.id, "type": "relation", "relation": map[string]any{"id": id}})
		}
	case "title", "rich_text":
		cs, _ := p.values[c].([]string)
		for _, t := range cs {
			items = append(items, map[string]any{"object": "property_item", "id": c.id, "type": c.typ, c.typ: richText(t)})
		}
	case "people":
		ids, _ := p.values[c].([]string)
		for _, id := range ids {
			if u, ok := s.user(id); ok {
				items = append(items, map[string]any{"object": "property_item", "id": c.id, "type": "people", "people": renderUser(u)})
			}
		}
	default:
		v := s.renderValue(p, c)
		v["object"] = "property_item"
		return v, nil
	}
	q := r.URL.Query()
	start, size, aerr := pagination(r, len(items))
	if aerr != nil {
		return nil, aerr
	}
	if q.Get("page_size") == "" {
		size = 25
	}
	end := min(start+size, len(items))
	out := map[string]any{"object": "list", "results": append([]any{}, items[start:end]...),
		"next_cursor": nil, "has_more": false, "type": "property_item",
		"property_item": map[string]any{"id": c.id, "next_url": nil, "type": c.typ, c.typ: map[string]any{}},
		"request_id":    "00000000-0000-4000-8000-000000000000"}
	if end < len(items) {
		cursor := "cursor-" + strconv.Itoa(end)
		out["next_cursor"] = cursor
		out["has_more"] = true
		out["property_item"].(map[string]any)["next_url"] = s.URL + "/v1/pages/" + p.id + "/properties/" +
			url.PathEscape(decodeURIComponent(c.id)) + "?start_cursor=" + cursor
	}
	return out, nil
}
