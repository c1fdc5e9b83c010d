package notion

import (
	"context"
	"fmt"
	"strings"

	"github.com/jomei/notionapi"
)

// newRef prefixes the reference of a row created in the same run, until it
// has an id.
const newRef = "new:"

// op is one row write planned by Push or WriteObserved.
type op struct {
	t      *table
	action Action
	name   string
	pageID string         // the row, for updates and archives
	ref    string         // for creates: how relations of later ops name the row
	cells  map[field]cell // the values, for creates and updates
	fields []field        // the fields to write, in column order
	events []string       // for Properties rows: the events, for the change list
}

func (o *op) change() Change {
	ch := Change{Database: o.t.label, Action: o.action, Row: o.name, PageID: o.pageID, Events: o.events}
	for _, f := range o.fields {
		ch.Columns = append(ch.Columns, o.t.colName(f))
	}
	return ch
}

// props encodes the fields of o as a request's "properties" object.
func (o *op) props(r resolver) (map[string]any, error) {
	props := make(map[string]any, len(o.fields))
	for _, f := range o.fields {
		cl := o.t.cols[f]
		if cl == nil {
			return nil, fmt.Errorf("no usable column for %s", f)
		}
		v, err := cl.encode(o.cells[f], r)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", cl.actual, err)
		}
		props[cl.actual] = v
	}
	return props, nil
}

// diff returns the fields whose wanted value differs from the row's.
func diff(t *table, want, have map[field]cell, fields []field) []field {
	var out []field
	for _, f := range fields {
		cl := t.cols[f]
		if cl == nil {
			continue
		}
		if _, ok := want[f]; !ok {
			continue
		}
		if !want[f].equal(have[f], cl.kind) {
			out = append(out, f)
		}
	}
	return out
}

// filled returns the fields of want that hold a value (what a create needs
// to send), the title always.
func filled(t *table, want map[field]cell, fields []field) []field {
	var out []field
	for _, f := range fields {
		cl := t.cols[f]
		v, ok := want[f]
		if cl == nil || !ok {
			continue
		}
		if f == fName || !v.equal(cell{}, cl.kind) {
			out = append(out, f)
		}
	}
	return out
}

// execute checks that every op can be encoded, then (unless dryRun) makes
// the writes in order. It returns the changes made; on error, those made
// before it, so the caller can report them. known holds the ids of the rows
// read (normalised), to tell a row this run created from an older one.
func (c *Client) execute(ctx context.Context, ops []*op, dryRun bool, dir *userDirectory, known map[string]bool) (Changes, error) {
	users := func(owner string) ([]notionapi.User, error) { return dir.people(ctx, owner) }
	check := resolver{users: users, page: func(ref string) (string, error) {
		if strings.HasPrefix(ref, newRef) {
			return "00000000-0000-0000-0000-000000000000", nil
		}
		return ref, nil
	}}
	for _, o := range ops {
		if o.action == Archived {
			continue
		}
		if _, err := o.props(check); err != nil {
			return nil, c.red.err(fmt.Errorf("notion %s row %q: %w", o.t.label, o.name, err))
		}
	}
	if dryRun {
		out := make(Changes, len(ops))
		for i, o := range ops {
			out[i] = o.change()
		}
		return out, nil
	}
	created := map[string]string{}
	real := resolver{users: users, page: func(ref string) (string, error) {
		if !strings.HasPrefix(ref, newRef) {
			return ref, nil
		}
		id, ok := created[ref]
		if !ok {
			return "", fmt.Errorf("row %q was not created", strings.TrimPrefix(ref, newRef))
		}
		return id, nil
	}}
	var done Changes
	for _, o := range ops {
		var err error
		switch o.action {
		case Archived:
			err = c.api.archivePage(ctx, o.pageID)
		case Created:
			var props map[string]any
			if props, err = o.props(real); err == nil {
				var id string
				if id, err = c.create(ctx, o.t, o.name, props, known); err == nil {
					created[o.ref] = id
					o.pageID = id
				}
			}
		case Updated:
			var props map[string]any
			if props, err = o.props(real); err == nil {
				err = c.api.updatePage(ctx, o.pageID, props)
			}
		}
		if err != nil {
			verb := strings.TrimSuffix(string(o.action), "d")
			return done, c.red.err(fmt.Errorf("%s notion %s row %q: %w", verb, o.t.label, o.name, err))
		}
		done = append(done, o.change())
	}
	return done, nil
}

// knownIDs returns the normalised ids of the rows of s.
func knownIDs(s *snapshot) map[string]bool {
	known := map[string]bool{}
	for _, r := range s.eventRows {
		known[normID(r.id)] = true
	}
	for _, r := range s.propRows {
		known[normID(r.id)] = true
	}
	return known
}
