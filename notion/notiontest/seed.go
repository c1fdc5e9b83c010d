package notiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// asPerson runs f under the lock as a person editing Notion would: with
// the current API version, its edits sent as webhook events by a person.
func (s *Server) asPerson(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ver, s.person = Version20250903, true
	defer func() { s.person = false }()
	f()
}

// CreatePage adds a row to a database (given by its id, for its first data
// source, or by a data source's id) as POST /v1/pages would, props in the
// API's request shape (e.g. {"Name": {"title": [{"text": {"content":
// "Signed Up"}}]}}), standing in for someone editing Notion. It returns the
// new page's id. Requests are neither counted nor faulted.
func (s *Server) CreatePage(dbID string, props map[string]any) (string, error) {
	var id string
	var err error
	s.asPerson(func() {
		db, aerr := s.anySource(dbID)
		if aerr != nil {
			err = aerr
			return
		}
		body, rerr := roundTrip(map[string]any{"parent": map[string]any{"data_source_id": db.id}, "properties": props})
		if rerr != nil {
			err = rerr
			return
		}
		out, aerr := s.createPage(nil, body)
		if aerr != nil {
			err = aerr
			return
		}
		id = out.(map[string]any)["id"].(string)
	})
	return id, err
}

// UpdatePage sets properties of a page as PATCH /v1/pages/{id} would.
func (s *Server) UpdatePage(pageID string, props map[string]any) error {
	body, err := roundTrip(map[string]any{"properties": props})
	if err != nil {
		return err
	}
	s.asPerson(func() {
		p, aerr := s.lookupPage(pageID)
		if aerr != nil {
			err = aerr
			return
		}
		if p.archived {
			err = errors.New("page is archived")
			return
		}
		if aerr := s.setValues(p, body["properties"].(map[string]any)); aerr != nil {
			err = aerr
			return
		}
		p.edited = s.now()
		s.emit(EventPagePropertiesUpdated, p, propIDs(p.db, body["properties"].(map[string]any)))
	})
	return err
}

// Archive moves a page to the trash.
func (s *Server) Archive(pageID string) error {
	var err error
	s.asPerson(func() {
		p, aerr := s.lookupPage(pageID)
		if aerr != nil {
			err = aerr
			return
		}
		p.archived = true
		s.emit(EventPageDeleted, p, nil)
	})
	return err
}

// AddDataSource adds a data source named name to a database (given by its
// id or one of its data sources'), as a person does in Notion: its columns
// are a copy of the first data source's (relations one-way), it has no
// rows. It returns the new data source's id. From then on, requests of
// version 2022-06-28 on the database fail.
func (s *Server) AddDataSource(dbID, name string) (string, error) {
	var id string
	var err error
	s.asPerson(func() {
		first, aerr := s.anySource(dbID)
		if aerr != nil {
			err = aerr
			return
		}
		ctr := first.ctr
		first = ctr.sources[0]
		now := s.now()
		db := &database{id: s.newID(0xd5), title: name, ctr: ctr, created: now, edited: now}
		for _, c := range first.cols {
			nc := &column{id: c.id, name: c.name, typ: c.typ, format: c.format, relDB: c.relDB, config: c.config, empty: c.empty}
			if nc.typ != "title" {
				nc.id = s.newColumnID()
			}
			for _, o := range c.options {
				nc.options = append(nc.options, &option{id: o.id, name: o.name, color: o.color})
			}
			db.cols = append(db.cols, nc)
		}
		ctr.sources = append(ctr.sources, db)
		s.dbs[norm(db.id)] = db
		ctr.edited = now
		id = db.id
	})
	return id, err
}

// DataSources returns the ids of a database's data sources, in order.
func (s *Server) DataSources(dbID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, aerr := s.anySource(dbID)
	if aerr != nil {
		return nil, aerr
	}
	var out []string
	for _, d := range db.ctr.sources {
		out = append(out, d.id)
	}
	return out, nil
}

// AddColumn adds a column of any type to a database, including types no
// client knows: config is rendered as the column's type-specific schema
// object, empty as the value of a page that has none.
func (s *Server) AddColumn(dbID, name, typ string, config, empty json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, aerr := s.anySource(dbID)
	if aerr != nil {
		return aerr
	}
	if db.col(name) != nil {
		return fmt.Errorf("column %q exists", name)
	}
	if config == nil {
		config = json.RawMessage(`{}`)
	}
	db.cols = append(db.cols, &column{id: s.newColumnID(), name: name, typ: typ, config: config, empty: empty})
	return nil
}

// SetRawValue sets the value of a column added with AddColumn, as the JSON
// found under the type's key.
func (s *Server) SetRawValue(pageID, column string, value json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, aerr := s.lookupPage(pageID)
	if aerr != nil {
		return aerr
	}
	c := p.db.col(column)
	if c == nil || c.config == nil {
		return fmt.Errorf("no column %q added with AddColumn", column)
	}
	p.values[c] = value
	return nil
}

// Row is a row of a database rendered without ids, for comparing states:
// each column's value as text, relations as the sorted names of the related
// rows.
type Row struct {
	Name   string
	Values map[string]string
}

// Rows returns the live rows of a database (its first data source) or of
// a data source, sorted.
func (s *Server) Rows(dbID string) ([]Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, aerr := s.anySource(dbID)
	if aerr != nil {
		return nil, aerr
	}
	var out []Row
	for _, p := range s.order {
		if p.db != db || p.archived {
			continue
		}
		r := Row{Values: map[string]string{}}
		for _, c := range db.cols {
			v := s.text(p, c)
			if c.typ == "title" {
				r.Name = v
			}
			r.Values[c.name] = v
		}
		out = append(out, r)
	}
	key := func(r Row) string {
		ks := make([]string, 0, len(r.Values))
		for k, v := range r.Values {
			ks = append(ks, k+"="+v)
		}
		slices.Sort(ks)
		return r.Name + "\x00" + strings.Join(ks, "\x00")
	}
	slices.SortFunc(out, func(a, b Row) int { return strings.Compare(key(a), key(b)) })
	return out, nil
}

func (s *Server) text(p *page, c *column) string {
	v := p.values[c]
	switch c.typ {
	case "title", "rich_text":
		cs, _ := v.([]string)
		return strings.Join(cs, "")
	case "select", "status":
		n, _ := v.(string)
		return n
	case "multi_select":
		l, _ := v.([]string)
		return strings.Join(l, ", ")
	case "number":
		if f, _ := v.(*float64); f != nil {
			return strconv.FormatFloat(*f, 'f', -1, 64)
		}
	case "checkbox":
		b, _ := v.(bool)
		return strconv.FormatBool(b)
	case "date":
		if d, _ := v.(*dateValue); d != nil {
			return d.start
		}
	case "people":
		var out []string
		ids, _ := v.([]string)
		for _, id := range ids {
			if u, ok := s.user(id); ok {
				out = append(out, u.Email)
			}
		}
		return strings.Join(out, ", ")
	case "relation":
		var names []string
		for _, id := range s.relIDs(p, c) {
			if q := s.pages[norm(id)]; q != nil && !q.archived {
				for _, qc := range q.db.cols {
					if qc.typ == "title" {
						names = append(names, s.text(q, qc))
					}
				}
			}
		}
		slices.Sort(names)
		return strings.Join(names, "; ")
	case "email", "url", "phone_number":
		if str, _ := v.(*string); str != nil {
			return *str
		}
	default:
		if raw, ok := v.(json.RawMessage); ok {
			return string(raw)
		}
	}
	return ""
}

// roundTrip gives a request body the shape decoded JSON has.
func roundTrip(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	err = json.Unmarshal(b, &out)
	return out, err
}

// PageID returns the id of the first live row of a database (its first
// data source) or a data source whose title is name.
func (s *Server) PageID(dbID, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, aerr := s.anySource(dbID)
	if aerr != nil {
		return "", aerr
	}
	for _, p := range s.order {
		if p.db != db || p.archived {
			continue
		}
		for _, c := range db.cols {
			if c.typ == "title" && s.text(p, c) == name {
				return p.id, nil
			}
		}
	}
	return "", fmt.Errorf("no row %q", name)
}
