package notiontest

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
)

// botUser is the integration, as creator and editor of everything.
const botUser = "00000000-0000-4000-8000-0000000000b0"

// container is a database: since API version 2025-09-03 a container of
// one or more data sources. Before, a database and its only data source
// were one object, with the database's id.
type container struct {
	id      string
	title   string
	parent  string
	created time.Time
	edited  time.Time
	sources []*database
}

// database is a data source: a schema and its rows. Requests of version
// 2022-06-28 reach it through its container's id, and only while the
// container has no other source.
type database struct {
	id      string
	title   string // the data source's name
	ctr     *container
	created time.Time
	edited  time.Time
	cols    []*column
}

type option struct{ id, name, color string }

type column struct {
	id, name, typ string
	options       []*option // select, multi_select, status
	format        string    // number
	relDB         string    // relation: the related data source
	dual          bool      // relation: two-way
	synced        *column   // relation: the other side of a two-way relation
	syncedSide    bool      // relation: values derive from the other side
	config        json.RawMessage
	empty         json.RawMessage
}

type page struct {
	id       string
	db       *database
	archived bool
	created  time.Time
	edited   time.Time
	values   map[*column]any
}

type dateValue struct{ start string }

func (db *database) col(key string) *column {
	for _, c := range db.cols {
		if c.name == key || c.id == key || decodeURIComponent(c.id) == key {
			return c
		}
	}
	return nil
}

func (c *column) option(name, id string) *option {
	for _, o := range c.options {
		if (name != "" && o.name == name) || (id != "" && o.id == id) {
			return o
		}
	}
	return nil
}

// timestamp renders a time the way Notion does for created and edited times:
// UTC, rounded down to the minute.
func timestamp(t time.Time) string {
	return t.UTC().Truncate(time.Minute).Format("2006-01-02T15:04:05.000Z")
}

func (s *Server) newColumnID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789;:|[]=<>?@^{}"
	s.nextID++
	n := s.nextID
	var b []byte
	for range 4 {
		b = append(b, alphabet[n%len(alphabet)])
		n /= len(alphabet)
	}
	return encodeURIComponent(string(b))
}

// encodeURIComponent escapes like JavaScript's function of that name, which
// is how Notion's property ids arrive.
func encodeURIComponent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_.!~*'()", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func decodeURIComponent(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+3], "%02X", &v); err == nil {
				b.WriteByte(v)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func richTexts(contents []string) []any {
	out := []any{}
	for _, c := range contents {
		out = append(out, richText(c))
	}
	return out
}

func richText(c string) map[string]any {
	return map[string]any{
		"type": "text",
		"text": map[string]any{"content": c, "link": nil},
		"annotations": map[string]any{"bold": false, "italic": false, "strikethrough": false,
			"underline": false, "code": false, "color": "default"},
		"plain_text": c,
		"href":       nil,
	}
}

func userRef() map[string]any { return map[string]any{"object": "user", "id": botUser} }

func (s *Server) renderProps(db *database) map[string]any {
	props := map[string]any{}
	for _, c := range db.cols {
		props[c.name] = s.renderColumn(c)
	}
	return props
}

// renderDatabase renders a database with its schema, as version
// 2022-06-28 does (the container's id, its only data source's columns).
func (s *Server) renderDatabase(db *database) map[string]any {
	c := db.ctr
	return map[string]any{
		"object": "database", "id": c.id, "cover": nil, "icon": nil,
		"created_time": timestamp(c.created), "created_by": userRef(),
		"last_edited_by": userRef(), "last_edited_time": timestamp(maxTime(c.edited, db.edited)),
		"title": richTexts([]string{c.title}), "description": []any{}, "is_inline": false,
		"properties": s.renderProps(db), "parent": map[string]any{"type": "page_id", "page_id": c.parent},
		"url": "https://www.notion.so/" + norm(c.id), "public_url": nil,
		"archived": false, "in_trash": false,
	}
}

// renderContainer renders a database as version 2025-09-03 does: its data
// sources, no schema (Notion's database object reference).
func (s *Server) renderContainer(c *container) map[string]any {
	srcs := []any{}
	for _, d := range c.sources {
		srcs = append(srcs, map[string]any{"id": d.id, "name": d.title})
	}
	return map[string]any{
		"object": "database", "id": c.id, "cover": nil, "icon": nil,
		"created_time": timestamp(c.created), "last_edited_time": timestamp(c.edited),
		"title": richTexts([]string{c.title}), "description": []any{}, "is_inline": false,
		"is_locked": false, "data_sources": srcs,
		"parent": map[string]any{"type": "page_id", "page_id": c.parent},
		"url":    "https://www.notion.so/" + norm(c.id), "public_url": nil,
		"archived": false, "in_trash": false,
	}
}

// renderSource renders a data source (version 2025-09-03; Notion's data
// source object reference).
func (s *Server) renderSource(db *database) map[string]any {
	return map[string]any{
		"object": "data_source", "id": db.id, "cover": nil, "icon": nil,
		"created_time": timestamp(db.created), "created_by": userRef(),
		"last_edited_by": userRef(), "last_edited_time": timestamp(db.edited),
		"title": richTexts([]string{db.title}), "description": []any{}, "is_inline": false,
		"properties":      s.renderProps(db),
		"parent":          map[string]any{"type": "database_id", "database_id": db.ctr.id},
		"database_parent": map[string]any{"type": "page_id", "page_id": db.ctr.parent},
		"url":             "https://www.notion.so/" + norm(db.ctr.id), "public_url": nil,
		"archived": false, "in_trash": false,
	}
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (s *Server) renderColumn(c *column) map[string]any {
	m := map[string]any{"id": c.id, "name": c.name, "type": c.typ}
	switch c.typ {
	case "select", "multi_select", "status":
		opts := []any{}
		for _, o := range c.options {
			opts = append(opts, map[string]any{"id": o.id, "name": o.name, "color": o.color})
		}
		cfg := map[string]any{"options": opts}
		if c.typ == "status" {
			cfg["groups"] = []any{}
		}
		m[c.typ] = cfg
	case "number":
		m[c.typ] = map[string]any{"format": c.format}
	case "relation":
		rel := map[string]any{"database_id": c.relDB}
		if t := s.dbs[norm(c.relDB)]; t != nil {
			rel["database_id"] = t.ctr.id
			if s.sourcesAPI() {
				rel["data_source_id"] = t.id
			}
		}
		if c.dual && c.synced != nil {
			rel["type"] = "dual_property"
			rel["dual_property"] = map[string]any{"synced_property_name": c.synced.name, "synced_property_id": c.synced.id}
		} else {
			rel["type"] = "single_property"
			rel["single_property"] = map[string]any{}
		}
		m[c.typ] = rel
	default:
		if c.config != nil {
			m[c.typ] = c.config
		} else {
			m[c.typ] = map[string]any{}
		}
	}
	return m
}

func (s *Server) renderPage(p *page) map[string]any {
	props := map[string]any{}
	for _, c := range p.db.cols {
		props[c.name] = s.renderValue(p, c)
	}
	return map[string]any{
		"object": "page", "id": p.id,
		"created_time": timestamp(p.created), "last_edited_time": timestamp(p.edited),
		"created_by": userRef(), "last_edited_by": userRef(),
		"cover": nil, "icon": nil,
		"parent":   s.pageParent(p),
		"archived": p.archived, "in_trash": p.archived,
		"properties": props,
		"url":        "https://www.notion.so/" + norm(p.id), "public_url": nil,
	}
}

// relIDs returns the pages a relation value of p points to.
func (s *Server) relIDs(p *page, c *column) []string {
	if !c.syncedSide {
		ids, _ := p.values[c].([]string)
		return ids
	}
	var out []string
	for _, q := range s.order {
		if q.archived || norm(q.db.id) != norm(c.relDB) {
			continue
		}
		if ids, _ := q.values[c.synced].([]string); slices.Contains(ids, p.id) {
			out = append(out, q.id)
		}
	}
	return out
}

func (s *Server) renderValue(p *page, c *column) map[string]any {
	m := map[string]any{"id": c.id, "type": c.typ}
	v := p.values[c]
	switch c.typ {
	case "title", "rich_text":
		cs, _ := v.([]string)
		m[c.typ] = richTexts(cs)
	case "select", "status":
		m[c.typ] = nil
		if name, _ := v.(string); name != "" {
			if o := c.option(name, ""); o != nil {
				m[c.typ] = map[string]any{"id": o.id, "name": o.name, "color": o.color}
			}
		}
	case "multi_select":
		out := []any{}
		names, _ := v.([]string)
		for _, n := range names {
			if o := c.option(n, ""); o != nil {
				out = append(out, map[string]any{"id": o.id, "name": o.name, "color": o.color})
			}
		}
		m[c.typ] = out
	case "number":
		f, _ := v.(*float64)
		if f == nil {
			m[c.typ] = nil
		} else {
			m[c.typ] = *f
		}
	case "checkbox":
		b, _ := v.(bool)
		m[c.typ] = b
	case "date":
		d, _ := v.(*dateValue)
		if d == nil {
			m[c.typ] = nil
		} else {
			m[c.typ] = map[string]any{"start": d.start, "end": nil, "time_zone": nil}
		}
	case "people":
		out := []any{}
		ids, _ := v.([]string)
		for _, id := range ids {
			if u, ok := s.user(id); ok {
				out = append(out, renderUser(u))
			}
		}
		m[c.typ] = out
	case "relation":
		ids := s.relIDs(p, c)
		out := []any{}
		for i, id := range ids {
			if i == s.limit {
				break
			}
			out = append(out, map[string]any{"id": id})
		}
		m[c.typ] = out
		m["has_more"] = len(ids) > s.limit
	case "email", "url", "phone_number":
		str, _ := v.(*string)
		if str == nil {
			m[c.typ] = nil
		} else {
			m[c.typ] = *str
		}
	default:
		switch raw := v.(type) {
		case json.RawMessage:
			m[c.typ] = raw
		default:
			if c.empty != nil {
				m[c.typ] = c.empty
			} else {
				m[c.typ] = nil
			}
		}
	}
	return m
}

func (s *Server) user(id string) (User, bool) {
	for _, u := range s.users {
		if norm(u.ID) == norm(id) {
			return u, true
		}
	}
	return User{}, false
}

// pageParent renders a page's parent: its data source (and database) on
// 2025-09-03, its database before.
func (s *Server) pageParent(p *page) map[string]any {
	if s.sourcesAPI() {
		return map[string]any{"type": "data_source_id", "data_source_id": p.db.id, "database_id": p.db.ctr.id}
	}
	return map[string]any{"type": "database_id", "database_id": p.db.ctr.id}
}

// severalSources is Notion's answer to a request of a version before
// 2025-09-03 on a database with several data sources.
func severalSources() *apiError {
	return invalid("Databases with multiple data sources are not supported in this API version.")
}

func notFoundDB(id string) *apiError {
	return errorf(http.StatusNotFound, "object_not_found",
		"Could not find database with ID: %s. Make sure the relevant pages and databases are shared with your integration.", dashed(id))
}

// lookupDB returns the data source a database id names the way versions
// before 2025-09-03 see it: the database's only data source.
func (s *Server) lookupDB(id string) (*database, *apiError) {
	c, aerr := s.lookupContainer(id)
	if aerr != nil {
		return nil, aerr
	}
	if len(c.sources) > 1 {
		return nil, severalSources()
	}
	return c.sources[0], nil
}

func (s *Server) lookupContainer(id string) (*container, *apiError) {
	c := s.ctrs[norm(id)]
	if c == nil || s.unshared[norm(id)] {
		return nil, notFoundDB(id)
	}
	return c, nil
}

// lookupSource returns a data source by its id (2025-09-03).
func (s *Server) lookupSource(id string) (*database, *apiError) {
	db := s.dbs[norm(id)]
	if db == nil || s.unshared[norm(db.ctr.id)] {
		return nil, errorf(http.StatusNotFound, "object_not_found",
			"Could not find data_source with ID: %s. Make sure the relevant pages and databases are shared with your integration.", dashed(id))
	}
	return db, nil
}

// anySource returns the data source id names, or the first of the
// database id names, for the test helpers.
func (s *Server) anySource(id string) (*database, *apiError) {
	if db := s.dbs[norm(id)]; db != nil {
		return db, nil
	}
	c := s.ctrs[norm(id)]
	if c == nil {
		return nil, notFoundDB(id)
	}
	return c.sources[0], nil
}

func (s *Server) lookupPage(id string) (*page, *apiError) {
	p := s.pages[norm(id)]
	if p == nil || s.unshared[norm(p.db.ctr.id)] {
		return nil, errorf(http.StatusNotFound, "object_not_found",
			"Could not find page with ID: %s. Make sure the relevant pages and databases are shared with your integration.", dashed(id))
	}
	return p, nil
}

// parseColumn reads a property schema object of a create or update request.
func (s *Server) parseColumn(db *database, name string, raw any) (*column, *apiError) {
	cfg, ok := raw.(map[string]any)
	if !ok {
		return nil, invalid("body failed validation: body.properties.%s should be an object.", name)
	}
	typ, _ := cfg["type"].(string)
	if typ == "" {
		for k := range cfg {
			if k != "id" && k != "name" && k != "type" && k != "description" {
				typ = k
			}
		}
	}
	c := &column{name: name, typ: typ}
	if typ == "title" {
		c.id = "title"
	} else {
		c.id = s.newColumnID()
	}
	inner, _ := cfg[typ].(map[string]any)
	switch typ {
	case "title", "rich_text", "date", "people", "checkbox", "url", "email", "phone_number", "files",
		"created_time", "created_by", "last_edited_time", "last_edited_by":
	case "number":
		c.format, _ = inner["format"].(string)
		if c.format == "" {
			c.format = "number"
		}
	case "select", "multi_select":
		opts, _ := inner["options"].([]any)
		for _, o := range opts {
			om, _ := o.(map[string]any)
			n, _ := om["name"].(string)
			if aerr := checkOption(name, n); aerr != nil {
				return nil, aerr
			}
			color, _ := om["color"].(string)
			if color == "" {
				color = "default"
			}
			c.options = append(c.options, &option{id: s.newColumnID(), name: n, color: color})
		}
	case "status":
		return nil, invalid("Cannot create a status property through the API.")
	case "relation":
		target, aerr := s.relationTarget(db, inner)
		if aerr != nil {
			return nil, aerr
		}
		c.relDB = dashed(target)
		rt, _ := inner["type"].(string)
		c.dual = rt != "single_property" && norm(target) != norm(db.id)
	case "formula", "rollup":
		b, _ := json.Marshal(inner)
		c.config = b
	default:
		return nil, invalid("body failed validation: body.properties.%s.type should be a supported property type, instead was `%q`.", name, typ)
	}
	return c, nil
}

// relationTarget returns the data source a relation config points at: by
// data_source_id (2025-09-03), else by database_id, which must then have a
// single data source. db is the data source being configured (which may
// not be registered yet: a relation to itself).
func (s *Server) relationTarget(db *database, inner map[string]any) (string, *apiError) {
	if ds, _ := inner["data_source_id"].(string); ds != "" {
		if !s.sourcesAPI() {
			return "", invalid("body failed validation: body.properties.relation.database_id should be defined, instead was `undefined`.")
		}
		if norm(ds) == norm(db.id) {
			return db.id, nil
		}
		t, aerr := s.lookupSource(ds)
		if aerr != nil {
			return "", aerr
		}
		return t.id, nil
	}
	target, _ := inner["database_id"].(string)
	if db.ctr != nil && norm(target) == norm(db.ctr.id) && s.ctrs[norm(target)] == nil {
		return db.id, nil
	}
	t, aerr := s.lookupDB(target)
	if aerr != nil {
		return "", aerr
	}
	return t.id, nil
}

// addSyncedSide creates the other side of a two-way relation.
func (s *Server) addSyncedSide(db *database, c *column) {
	if !c.dual {
		return
	}
	tdb := s.dbs[norm(c.relDB)]
	name := fmt.Sprintf("Related to %s (%s)", db.title, c.name)
	for tdb.col(name) != nil {
		name += " 1"
	}
	sc := &column{id: s.newColumnID(), name: name, typ: "relation", relDB: db.id, dual: true, synced: c, syncedSide: true}
	c.synced = sc
	tdb.cols = append(tdb.cols, sc)
}

func checkOption(col, n string) *apiError {
	switch {
	case strings.TrimSpace(n) == "":
		return invalid("body failed validation: option name of %s should be defined and non-empty.", col)
	case strings.Contains(n, ","):
		return invalid("Invalid select option, commas not allowed: %s", n)
	case utf16Len(n) > 100:
		return invalid("body failed validation: option name of %s should be ≤ 100 characters.", col)
	}
	return nil
}

func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// parseValue reads a property value of a page create or update request. It
// returns the value to store and the select options to add.
func (s *Server) parseValue(c *column, raw any) (any, []string, *apiError) {
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, nil, invalid("body failed validation: body.properties.%s should be an object.", c.name)
	}
	v, ok := m[c.typ]
	if !ok {
		return nil, nil, invalid("%s is expected to be %s.", c.name, c.typ)
	}
	switch c.typ {
	case "title", "rich_text":
		arr, ok := v.([]any)
		if !ok {
			return nil, nil, invalid("body failed validation: body.properties.%s.%s should be an array.", c.name, c.typ)
		}
		if len(arr) > 100 {
			return nil, nil, invalid("body failed validation: body.properties.%s.%s.length should be ≤ `100`, instead was `%d`.", c.name, c.typ, len(arr))
		}
		var out []string
		for i, it := range arr {
			im, _ := it.(map[string]any)
			tm, _ := im["text"].(map[string]any)
			content, ok := tm["content"].(string)
			if !ok {
				return nil, nil, invalid("body failed validation: body.properties.%s.%s[%d].text should be defined.", c.name, c.typ, i)
			}
			if n := utf16Len(content); n > 2000 {
				return nil, nil, invalid("body failed validation: body.properties.%s.%s[%d].text.content.length should be ≤ `2000`, instead was `%d`.", c.name, c.typ, i, n)
			}
			out = append(out, content)
		}
		return out, nil, nil
	case "select", "status":
		if v == nil {
			if c.typ == "status" {
				return nil, nil, invalid("Status cannot be empty.")
			}
			return "", nil, nil
		}
		om, ok := v.(map[string]any)
		if !ok {
			return nil, nil, invalid("body failed validation: body.properties.%s.%s should be an object or `null`.", c.name, c.typ)
		}
		name, _ := om["name"].(string)
		id, _ := om["id"].(string)
		if o := c.option(name, id); o != nil {
			return o.name, nil, nil
		}
		if c.typ == "status" || name == "" {
			if aerr := checkOption(c.name, name); aerr != nil {
				return nil, nil, aerr
			}
			return nil, nil, invalid("Invalid status option: %s", name)
		}
		if aerr := checkOption(c.name, name); aerr != nil {
			return nil, nil, aerr
		}
		return name, []string{name}, nil
	case "multi_select":
		arr, ok := v.([]any)
		if !ok {
			return nil, nil, invalid("body failed validation: body.properties.%s.multi_select should be an array.", c.name)
		}
		if len(arr) > 100 {
			return nil, nil, invalid("body failed validation: body.properties.%s.multi_select.length should be ≤ `100`.", c.name)
		}
		var out, added []string
		for _, it := range arr {
			om, _ := it.(map[string]any)
			name, _ := om["name"].(string)
			id, _ := om["id"].(string)
			if o := c.option(name, id); o != nil {
				out = append(out, o.name)
				continue
			}
			if aerr := checkOption(c.name, name); aerr != nil {
				return nil, nil, aerr
			}
			out = append(out, name)
			added = append(added, name)
		}
		return out, added, nil
	case "number":
		if v == nil {
			return (*float64)(nil), nil, nil
		}
		f, ok := v.(float64)
		if !ok || math.IsNaN(f) {
			return nil, nil, invalid("body failed validation: body.properties.%s.number should be a number or `null`.", c.name)
		}
		return &f, nil, nil
	case "checkbox":
		b, ok := v.(bool)
		if !ok {
			return nil, nil, invalid("body failed validation: body.properties.%s.checkbox should be a boolean.", c.name)
		}
		return b, nil, nil
	case "date":
		if v == nil {
			return (*dateValue)(nil), nil, nil
		}
		dm, _ := v.(map[string]any)
		start, _ := dm["start"].(string)
		norm, err := normDate(start)
		if err != nil {
			return nil, nil, invalid("body failed validation: body.properties.%s.date.start should be a valid ISO 8601 date string, instead was `%q`.", c.name, start)
		}
		return &dateValue{start: norm}, nil, nil
	case "people":
		arr, ok := v.([]any)
		if !ok {
			return nil, nil, invalid("body failed validation: body.properties.%s.people should be an array.", c.name)
		}
		var ids []string
		for _, it := range arr {
			um, _ := it.(map[string]any)
			id, _ := um["id"].(string)
			u, ok := s.user(id)
			if !ok {
				return nil, nil, invalid("Could not find user with ID: %s", id)
			}
			ids = append(ids, u.ID)
		}
		return ids, nil, nil
	case "relation":
		if c.syncedSide {
			return nil, nil, invalid("notiontest: write the relation %s from the other database", c.name)
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, nil, invalid("body failed validation: body.properties.%s.relation should be an array.", c.name)
		}
		if len(arr) > 100 {
			return nil, nil, invalid("body failed validation: body.properties.%s.relation.length should be ≤ `100`, instead was `%d`.", c.name, len(arr))
		}
		ids := []string{}
		for _, it := range arr {
			rm, _ := it.(map[string]any)
			id, _ := rm["id"].(string)
			p := s.pages[norm(id)]
			if p == nil || norm(p.db.id) != norm(c.relDB) {
				return nil, nil, invalid("Could not find page with ID: %s in the related database.", id)
			}
			if !s.sourcesAPI() && len(p.db.ctr.sources) > 1 {
				return nil, nil, severalSources()
			}
			if !slices.Contains(ids, p.id) {
				ids = append(ids, p.id)
			}
		}
		return ids, nil, nil
	case "email", "url", "phone_number":
		if v == nil {
			return (*string)(nil), nil, nil
		}
		str, ok := v.(string)
		if !ok {
			return nil, nil, invalid("body failed validation: body.properties.%s.%s should be a string or `null`.", c.name, c.typ)
		}
		return &str, nil, nil
	}
	return nil, nil, invalid("%s is a %s property, which cannot be written.", c.name, c.typ)
}

// normDate checks a date or date-time and renders it as Notion does.
func normDate(s string) (string, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format(time.DateOnly), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", err
	}
	return t.Format("2006-01-02T15:04:05.000-07:00"), nil
}

// setValues validates every value, then applies them all.
func (s *Server) setValues(p *page, props map[string]any) *apiError {
	type staged struct {
		c     *column
		v     any
		added []string
	}
	var all []staged
	for key, raw := range props {
		c := p.db.col(key)
		if c == nil {
			return invalid("%s is not a property that exists.", key)
		}
		v, added, aerr := s.parseValue(c, raw)
		if aerr != nil {
			return aerr
		}
		all = append(all, staged{c, v, added})
	}
	for _, st := range all {
		for _, n := range st.added {
			if st.c.option(n, "") == nil {
				st.c.options = append(st.c.options, &option{id: s.newColumnID(), name: n, color: "default"})
			}
		}
		p.values[st.c] = st.v
	}
	return nil
}
