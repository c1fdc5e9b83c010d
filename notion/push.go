package notion

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
)

// PushOptions configures Push.
type PushOptions struct {
	// Prune archives the rows the plan does not have: events rows not named
	// by the plan, Properties rows not matching any planned property. Rows
	// without a name are never touched.
	Prune bool
	// DryRun computes the changes without writing anything.
	DryRun bool
}

// eventTeamFields are the Events columns the team owns and Push writes.
func eventTeamFields() []field {
	return []field{fName, fType, fDescription, fWhy, fStatus, fOwner, fTags, fPlatforms, fWeight}
}

// propTeamFields are the Properties columns the team owns and Push writes.
func propTeamFields() []field {
	return []field{fName, fEvents, fType, fRequired, fNullable, fAllowed, fPattern, fMin, fMax, fPII, fDescription}
}

// Push makes the Notion databases say what plan says, in the team-owned
// columns only: it reads both databases, then creates the missing rows and
// updates the rows whose values differ, writing only the changed columns.
// A row is an event's by name. Properties rows are shared: one row per
// property name and definition, linked to every event that has that
// property with that definition (at most 100 per row, Notion's limit on a
// written relation). Without Prune, rows the plan does not have are left
// alone, except that links from them to the plan's events are removed (the
// plan says what its events have).
//
// Every value is checked before the first write. On a write failure Push
// returns the changes made so far with the error; running it again
// converges.
func (c *Client) Push(ctx context.Context, plan *trackplan.Plan, opts PushOptions) (Changes, error) {
	if err := checkPlan(plan); err != nil {
		return nil, fmt.Errorf("push plan to notion: %w", err)
	}
	s, err := c.read(ctx, true)
	if err != nil {
		return nil, c.red.err(fmt.Errorf("push plan to notion: %w", err))
	}
	if err := errors.Join(s.events.require(false), s.props.require(false)); err != nil {
		return nil, fmt.Errorf("push plan to notion: %w", err)
	}
	dir := &userDirectory{c: c}
	ops := c.planPush(ctx, s, plan, opts, dir)
	changes, err := c.execute(ctx, ops, opts.DryRun, dir, knownIDs(s))
	if err != nil {
		return changes, fmt.Errorf("push plan to notion: %w", err)
	}
	return changes, nil
}

// checkPlan rejects what Push cannot map to rows: unnamed or duplicate
// events, unnamed or duplicate properties of an event, names with spaces
// around them (rows are matched by trimmed name).
func checkPlan(plan *trackplan.Plan) error {
	if plan == nil {
		return errors.New("no plan")
	}
	v := &trackplan.ValidationError{}
	names := map[string]bool{}
	for i, e := range plan.Events {
		if e == nil {
			continue
		}
		switch {
		case e.Name == "":
			v.Add(fmt.Sprintf("events[%d].name", i), "is required")
		case strings.TrimSpace(e.Name) != e.Name:
			v.Add(fmt.Sprintf("events[%d].name", i), fmt.Sprintf("%q has leading or trailing spaces", e.Name))
		case names[e.Name]:
			v.Add(fmt.Sprintf("events[%d].name", i), fmt.Sprintf("%q is used by another event", e.Name))
		}
		names[e.Name] = true
		props := map[string]bool{}
		for j, p := range e.Properties {
			if p == nil {
				continue
			}
			switch {
			case p.Name == "":
				v.Add(fmt.Sprintf("events[%d].properties[%d].name", i, j), "is required")
			case strings.TrimSpace(p.Name) != p.Name:
				v.Add(fmt.Sprintf("events[%d].properties[%d].name", i, j), fmt.Sprintf("%q has leading or trailing spaces", p.Name))
			case props[p.Name]:
				v.Add(fmt.Sprintf("events[%d].properties[%d].name", i, j), fmt.Sprintf("%q is used by another property of %q", p.Name, e.Name))
			}
			props[p.Name] = true
		}
	}
	return v.Err()
}

func eventCells(e *trackplan.Event) map[field]cell {
	return map[field]cell{
		fName:        textCell(e.Name),
		fType:        textCell(string(e.Type)),
		fDescription: textCell(e.Description),
		fWhy:         textCell(e.Why),
		fStatus:      textCell(string(e.Status)),
		fOwner:       textCell(normOwner(e.Owner)),
		fTags:        listCell(nonEmpty(e.Tags)),
		fPlatforms:   listCell(nonEmpty(e.Platforms)),
		fWeight:      floatCell(float64(e.Weight)),
	}
}

func propCells(p *trackplan.Property) map[field]cell {
	return map[field]cell{
		fName:        textCell(p.Name),
		fType:        textCell(string(p.Type)),
		fRequired:    boolCell(p.Required),
		fNullable:    boolCell(p.Nullable),
		fAllowed:     textCell(formatAllowed(p.Enum)),
		fPattern:     textCell(p.Pattern),
		fMin:         numCell(copyFloat(p.Min)),
		fMax:         numCell(copyFloat(p.Max)),
		fPII:         boolCell(p.PII),
		fDescription: textCell(p.Description),
	}
}

// wantRow is a Properties row the plan needs.
type wantRow struct {
	prop   *trackplan.Property
	key    string
	events []string // event names
	refs   []string // their row ids, or new-row references
}

// planPush computes the writes that make the databases match plan.
func (c *Client) planPush(ctx context.Context, s *snapshot, plan *trackplan.Plan, opts PushOptions, dir *userDirectory) []*op {
	var ops, pruneOps []*op

	// Events rows, by name; a second row of the same name is not the event's.
	byName := map[string]*row{}
	for _, r := range s.eventRows {
		if r.name != "" && byName[r.name] == nil {
			byName[r.name] = r
		}
	}
	nameOf := map[string]string{} // normalised row id → name
	for _, r := range s.eventRows {
		nameOf[normID(r.id)] = r.name
	}
	refs := map[string]string{}  // event name → row id or new-row reference
	planIDs := map[string]bool{} // normalised ids of the plan's events rows
	matched := map[*row]bool{}
	for _, e := range plan.Events {
		if e == nil {
			continue
		}
		want := eventCells(e)
		r := byName[e.Name]
		if r == nil {
			o := &op{t: s.events, action: Created, name: e.Name, ref: newRef + e.Name, cells: want}
			o.fields = filled(s.events, want, eventTeamFields())
			c.resolveOwner(ctx, dir, o, nil)
			ops = append(ops, o)
			refs[e.Name] = o.ref
			continue
		}
		matched[r] = true
		refs[e.Name] = r.id
		planIDs[normID(r.id)] = true
		have := r.cells
		if have[fWeight].num == nil { // an empty Weight reads as 0
			have = withCell(have, fWeight, floatCell(0))
		}
		if changed := diff(s.events, want, have, eventTeamFields()); len(changed) > 0 {
			o := &op{t: s.events, action: Updated, name: e.Name, pageID: r.id, cells: want, fields: changed}
			c.resolveOwner(ctx, dir, o, have)
			if len(o.fields) > 0 {
				ops = append(ops, o)
			}
		}
	}
	if opts.Prune {
		for _, r := range s.eventRows {
			if r.name != "" && !matched[r] {
				pruneOps = append(pruneOps, &op{t: s.events, action: Archived, name: r.name, pageID: r.id})
			}
		}
	}

	// Properties rows wanted: one per name and definition, at most 100 events each.
	var wants []*wantRow
	byKey := map[string]*wantRow{}
	for _, e := range plan.Events {
		if e == nil {
			continue
		}
		for _, p := range e.Properties {
			if p == nil {
				continue
			}
			k := defKey(p)
			w := byKey[k]
			if w == nil || len(w.events) == maxRelationIDs {
				w = &wantRow{prop: p, key: k}
				byKey[k] = w
				wants = append(wants, w)
			}
			w.events = append(w.events, e.Name)
			w.refs = append(w.refs, refs[e.Name])
		}
	}

	// Existing rows by name, with their definitions.
	rowsByName := map[string][]*row{}
	keyOf := map[*row]string{}
	for _, r := range s.propRows {
		if r.name == "" {
			continue
		}
		rowsByName[r.name] = append(rowsByName[r.name], r)
		p, _ := propertyFromRow(s.props, r)
		keyOf[r] = defKey(p)
	}
	pair := map[*wantRow]*row{}
	used := map[*row]bool{}
	for pass := 0; pass < 2; pass++ {
		for _, w := range wants {
			if pair[w] != nil {
				continue
			}
			var best *row
			bestOverlap := -1
			for _, r := range rowsByName[w.prop.Name] {
				if used[r] || (pass == 0 && keyOf[r] != w.key) {
					continue
				}
				if ov := overlap(w.refs, r.cells[fEvents].list); ov > bestOverlap {
					best, bestOverlap = r, ov
				}
			}
			if best != nil {
				pair[w], used[best] = best, true
			}
		}
	}

	for _, w := range wants {
		want := propCells(w.prop)
		r := pair[w]
		if r == nil {
			want[fEvents] = listCell(w.refs)
			ops = append(ops, &op{t: s.props, action: Created, name: w.prop.Name, ref: newRef + "properties/" + w.prop.Name, cells: want,
				fields: filled(s.props, want, propTeamFields()), events: w.events})
			continue
		}
		rel := slices.Clone(w.refs)
		if !opts.Prune {
			for _, id := range r.cells[fEvents].list {
				if !planIDs[normID(id)] {
					rel = append(rel, id) // a link to a row the plan does not name stays
				}
			}
		}
		want[fEvents] = listCell(rel)
		if changed := propDiff(s.props, want, r.cells); len(changed) > 0 {
			ops = append(ops, &op{t: s.props, action: Updated, name: w.prop.Name, pageID: r.id, cells: want,
				fields: changed, events: w.events})
		}
	}
	for _, r := range s.propRows {
		if r.name == "" || used[r] {
			continue
		}
		var linked []string
		var keep []string
		for _, id := range r.cells[fEvents].list {
			if n := nameOf[normID(id)]; n != "" {
				linked = append(linked, n)
			}
			if !planIDs[normID(id)] {
				keep = append(keep, id)
			}
		}
		switch {
		case opts.Prune:
			pruneOps = append(pruneOps, &op{t: s.props, action: Archived, name: r.name, pageID: r.id, events: linked})
		case len(keep) != len(r.cells[fEvents].list):
			ops = append(ops, &op{t: s.props, action: Updated, name: r.name, pageID: r.id,
				cells: map[field]cell{fEvents: listCell(keep)}, fields: []field{fEvents}, events: linked})
		}
	}
	// Archive properties before events: a property row never points at a
	// trashed event for longer than needed.
	slices.SortStableFunc(pruneOps, func(a, b *op) int {
		if a.t == b.t {
			return 0
		}
		if a.t == s.props {
			return -1
		}
		return 1
	})
	return append(ops, pruneOps...)
}

// propDiff is diff over the team's Properties columns, the Allowed values
// compared as the values they hold, not as text: the team may write them
// "csv, pdf, xlsx" where Push writes one per line, and a cell that reads
// back as the plan's values is no change.
func propDiff(t *table, want, have map[field]cell) []field {
	return slices.DeleteFunc(diff(t, want, have, propTeamFields()), func(f field) bool {
		return f == fAllowed && slices.Equal(parseAllowed(want[f].s), parseAllowed(have[f].s))
	})
}

// resolveOwner checks the Owner field of o when it is a people column: an
// owner that is not a Notion user is dropped with a warning (not a
// failure), and an owner given by name that names the people already there
// is no change.
func (c *Client) resolveOwner(ctx context.Context, dir *userDirectory, o *op, have map[field]cell) {
	cl := o.t.cols[fOwner]
	if cl == nil || cl.typ != "people" || !slices.Contains(o.fields, fOwner) || o.cells[fOwner].s == "" {
		return
	}
	drop := func() { o.fields = slices.DeleteFunc(o.fields, func(f field) bool { return f == fOwner }) }
	users, err := dir.resolve(ctx, o.cells[fOwner].s)
	if err != nil {
		c.log.Warn("notion owner not written", "row", o.name, "owner", o.cells[fOwner].s, "err", c.red.err(err))
		drop()
		return
	}
	if have == nil {
		return
	}
	var labels []string
	for _, u := range users {
		labels = append(labels, u.label)
	}
	if textCell(strings.Join(labels, ", ")).equal(have[fOwner], kindPeople) {
		drop()
	}
}

func withCell(m map[field]cell, f field, v cell) map[field]cell {
	out := make(map[field]cell, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	out[f] = v
	return out
}

// overlap counts the ids of b that are in a.
func overlap(a, b []string) int {
	set := map[string]bool{}
	for _, id := range a {
		set[normID(id)] = true
	}
	n := 0
	for _, id := range b {
		if set[normID(id)] {
			n++
		}
	}
	return n
}
