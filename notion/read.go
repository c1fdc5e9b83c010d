package notion

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// ReadResult is a plan read from Notion and the problems met on the way.
type ReadResult struct {
	// Plan has the events ordered by name and each event's properties
	// ordered by name: Notion keeps no row order.
	Plan *trackplan.Plan
	// Problems lists what could not be used. A row without a name, or an
	// event row with an unknown Type, is left out; any other unusable value
	// reads as empty.
	Problems []RowError
	// EditedAt is the latest edit of any row read: when the plan last
	// changed in Notion.
	EditedAt time.Time
	// Location says which databases and data sources were read.
	Location Location
}

// Err returns the problems as a *trackplan.ValidationError, or nil when
// there are none, for callers that want a clean plan or nothing.
func (r *ReadResult) Err() error {
	if len(r.Problems) == 0 {
		return nil
	}
	v := &trackplan.ValidationError{}
	for _, p := range r.Problems {
		v.Add(p.where(), p.Message)
	}
	return v
}

// where names the row and column of a problem.
func (e RowError) where() string {
	s := e.Error()
	return strings.TrimSuffix(s, ": "+e.Message)
}

// ReadPlan reads the tracking plan: every live row of the Events database,
// and every live row of the Properties database, each linked to its events.
// It makes two database retrieves (on 2025-09-03 also two data source
// retrieves), one query per 100 rows, and one page
// property item request per 100 related events of each Properties row
// linked to more than 25 events (Notion's truncation).
func (c *Client) ReadPlan(ctx context.Context) (*ReadResult, error) {
	s, err := c.read(ctx, true)
	if err != nil {
		return nil, c.red.err(fmt.Errorf("read notion plan: %w", err))
	}
	plan, probs := buildPlan(s)
	for _, p := range s.problems {
		c.log.Debug("notion plan problem", "problem", p.Error())
	}
	res := &ReadResult{Plan: plan, Problems: append(s.problems, probs...), Location: s.loc}
	for _, r := range append(slices.Clip(s.eventRows), s.propRows...) {
		if r.edited.After(res.EditedAt) {
			res.EditedAt = r.edited.UTC()
		}
	}
	return res, nil
}

// buildPlan turns the rows of a snapshot into a plan.
func buildPlan(s *snapshot) (*trackplan.Plan, []RowError) {
	var probs []RowError
	plan := &trackplan.Plan{Version: 1}
	byID := map[string]*trackplan.Event{}
	names := map[string]bool{}
	for _, r := range s.eventRows {
		e, ps := eventFromRow(s.events, r)
		probs = append(probs, ps...)
		if e == nil {
			continue
		}
		if names[e.Name] {
			probs = append(probs, RowError{Database: "events", Row: r.name, PageID: r.id,
				Message: "another row has the same name; this one is skipped"})
			continue
		}
		names[e.Name] = true
		byID[normID(r.id)] = e
		plan.Events = append(plan.Events, e)
	}
	for _, r := range s.propRows {
		p, ps := propertyFromRow(s.props, r)
		probs = append(probs, ps...)
		if p == nil {
			continue
		}
		links := r.cells[fEvents].list
		if len(links) == 0 {
			probs = append(probs, RowError{Database: "properties", Row: r.name, PageID: r.id,
				Column: s.props.colName(fEvents), Message: "not linked to any event; ignored"})
			continue
		}
		for _, id := range links {
			e := byID[normID(id)]
			if e == nil {
				continue // an archived, skipped or foreign row
			}
			if e.Property(p.Name) != nil {
				probs = append(probs, RowError{Database: "properties", Row: r.name, PageID: r.id,
					Message: fmt.Sprintf("event %q already has a property %q from another row; this row is ignored for it", e.Name, p.Name)})
				continue
			}
			e.Properties = append(e.Properties, cloneProperty(p))
		}
	}
	slices.SortStableFunc(plan.Events, func(a, b *trackplan.Event) int { return strings.Compare(a.Name, b.Name) })
	for _, e := range plan.Events {
		slices.SortStableFunc(e.Properties, func(a, b *trackplan.Property) int { return strings.Compare(a.Name, b.Name) })
	}
	return plan, probs
}

func (t *table) colName(f field) string {
	if c := t.cols[f]; c != nil {
		return c.actual
	}
	for _, s := range t.specs {
		if s.field == f {
			return s.name
		}
	}
	return string(f)
}

// eventFromRow reads an Events row. It returns nil for a row that cannot
// be an event (no name, unknown type).
func eventFromRow(t *table, r *row) (*trackplan.Event, []RowError) {
	var probs []RowError
	bad := func(f field, format string, args ...any) {
		probs = append(probs, RowError{Database: t.label, Row: r.name, PageID: r.id, Column: t.colName(f), Message: fmt.Sprintf(format, args...)})
	}
	if r.name == "" {
		return nil, []RowError{{Database: t.label, PageID: r.id, Message: "row has no name; skipped"}}
	}
	e := &trackplan.Event{Name: r.name}
	typ := trackplan.CallType(strings.ToLower(strings.TrimSpace(r.cells[fType].s)))
	switch typ {
	case "", trackplan.Track, trackplan.Identify, trackplan.Group, trackplan.Page, trackplan.Screen:
		e.Type = typ
	default:
		bad(fType, "unknown type %q (want track, identify, group, page or screen); row skipped", r.cells[fType].s)
		return nil, probs
	}
	st := trackplan.Status(strings.ToLower(strings.TrimSpace(r.cells[fStatus].s)))
	switch st {
	case "", trackplan.StatusProposed, trackplan.StatusPlanned, trackplan.StatusImplemented, trackplan.StatusLive, trackplan.StatusDeprecated:
		e.Status = st
	default:
		bad(fStatus, "unknown status %q (want proposed, planned, implemented, live or deprecated); read as empty", r.cells[fStatus].s)
	}
	if w := r.cells[fWeight].num; w != nil {
		if *w != math.Trunc(*w) || *w < 0 || *w > 10 {
			bad(fWeight, "weight %v is not a whole number from 0 to 10; read as 0", *w)
		} else {
			e.Weight = int(*w)
		}
	}
	e.Description = r.cells[fDescription].s
	e.Why = r.cells[fWhy].s
	e.Owner = strings.TrimSpace(r.cells[fOwner].s)
	e.Tags = nonEmpty(r.cells[fTags].list)
	e.Platforms = nonEmpty(r.cells[fPlatforms].list)
	return e, probs
}

// propertyFromRow reads a Properties row (its links aside). It returns nil
// for a row without a name.
func propertyFromRow(t *table, r *row) (*trackplan.Property, []RowError) {
	var probs []RowError
	if r.name == "" {
		return nil, []RowError{{Database: t.label, PageID: r.id, Message: "row has no name; skipped"}}
	}
	p := &trackplan.Property{Name: r.name}
	typ := trackplan.PropertyType(strings.ToLower(strings.TrimSpace(r.cells[fType].s)))
	switch typ {
	case "", trackplan.PropString, trackplan.PropNumber, trackplan.PropInteger, trackplan.PropBoolean,
		trackplan.PropObject, trackplan.PropArray, trackplan.PropDatetime, trackplan.PropAny:
		p.Type = typ
	default:
		probs = append(probs, RowError{Database: t.label, Row: r.name, PageID: r.id, Column: t.colName(fType),
			Message: fmt.Sprintf("unknown type %q (want string, number, integer, boolean, object, array, datetime or any); read as empty", r.cells[fType].s)})
	}
	p.Required = r.cells[fRequired].b
	p.Nullable = r.cells[fNullable].b
	p.PII = r.cells[fPII].b
	p.Enum = parseAllowed(r.cells[fAllowed].s)
	p.Pattern = r.cells[fPattern].s
	p.Min = copyFloat(r.cells[fMin].num)
	p.Max = copyFloat(r.cells[fMax].num)
	p.Description = r.cells[fDescription].s
	return p, probs
}

// parseAllowed splits an Allowed values cell: one value per line when it
// has line breaks, else comma-separated.
func parseAllowed(s string) []string {
	sep := ","
	if strings.Contains(s, "\n") {
		sep = "\n"
	}
	var out []string
	for _, v := range strings.Split(s, sep) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// formatAllowed writes allowed values one per line. A single value with a
// comma gets a trailing line break so it does not read back as several.
func formatAllowed(enum []string) string {
	s := strings.Join(enum, "\n")
	if len(enum) == 1 && strings.Contains(s, ",") {
		s += "\n"
	}
	return s
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func copyFloat(f *float64) *float64 {
	if f == nil {
		return nil
	}
	v := *f
	return &v
}

func cloneProperty(p *trackplan.Property) *trackplan.Property {
	q := *p
	q.Enum = slices.Clone(p.Enum)
	q.Min, q.Max = copyFloat(p.Min), copyFloat(p.Max)
	return &q
}

// defKey identifies a property definition, name included.
func defKey(p *trackplan.Property) string {
	b, _ := json.Marshal(p)
	return string(b)
}
