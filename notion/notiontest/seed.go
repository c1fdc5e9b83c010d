package notiontest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// CreatePage adds a row to a database as POST /v1/pages would, props in
// the API's request shape (e.g. {"Name": {"title": [{"text": {"content":
// "Signed Up"}}]}}), standing in for someone editing Notion. It returns the
// new page's id. Requests are neither counted nor faulted.
func (s *Server) CreatePage(dbID string, props map[string]any) (string, error) {
	body, err := roundTrip(map[string]any{"parent": map[string]any{"database_id": dbID}, "properties": props})
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, aerr := s.createPage(nil, body)
	if aerr != nil {
		return "", aerr
	}
	return out.(map[string]any)["id"].(string), nil
}

// UpdatePage sets properties of a page as PATCH /v1/pages/{id} would.
func (s *Server) UpdatePage(pageID string, props map[string]any) error {
	body, err := roundTrip(map[string]any{"properties": props})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, aerr := s.lookupPage(pageID)
	if aerr != nil {
		return aerr
	}
	if p.archived {
		return errors.New("page is archived")
	}
	if aerr := s.setValues(p, body["properties"].(map[string]any)); aerr != nil {
		return aerr
	}
	return nil
}

// Archive moves a page to the trash.
func (s *Server) Archive(pageID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, aerr := s.lookupPage(pageID)
	if aerr != nil {
		return aerr
	}
	p.archived = true
	return nil
}

// AddColumn adds a column of any type to a database, including types no
// client knows: config is rendered as the column's type-specific schema
// object, empty as the value of a page that has none.
func (s *Server) AddColumn(dbID, name, typ string, config, empty json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, aerr := s.lookupDB(dbID)
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

// Rows returns the live rows of a database, sorted.
func (s *Server) Rows(dbID string) ([]Row, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, aerr := s.lookupDB(dbID)
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

// PageID returns the id of the first live row of a database whose title is
// name.
func (s *Server) PageID(dbID, name string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	db, aerr := s.lookupDB(dbID)
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
