package notion

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
)

// EventObservation is what was observed of one event, for its Events row.
type EventObservation struct {
	// Name is the event's name. It finds the row; an identify or group
	// observation without a row of that name falls back on the row of that
	// type.
	Name string
	Type trackplan.CallType
	// FirstSeen and LastSeen are written as UTC dates; zero clears them.
	FirstSeen time.Time
	LastSeen  time.Time
	Volume7d  int64
	Observed  ObservedStatus
	// Drift is a short text; it is cut to 2,000 characters.
	Drift string
}

// PropertyObservation is what was observed of one property of one event.
// A Properties row may serve several events: its values aggregate the
// observations of the events it is linked to.
type PropertyObservation struct {
	Event string // event name
	Path  string // property path, the row's name
	// Types are the JSON types seen ("string", "number", "null", …).
	Types []string
	// Present counts the event's messages that had the property, Total the
	// event's messages. Presence % is 100·ΣPresent/ΣTotal over the row's
	// events, one decimal; empty when ΣTotal is 0.
	Present int64
	Total   int64
	// LastSeen is written as a UTC date; zero clears it.
	LastSeen time.Time
}

// WriteOptions configures WriteObserved.
type WriteOptions struct {
	// DryRun computes the changes without writing anything.
	DryRun bool
	// AddUnplanned adds a row (Status proposed) for an observation with
	// Observed Unplanned and no row. A row is never added twice: rows are
	// matched by name, and a create that failed without a clear answer is
	// looked up before it is retried.
	AddUnplanned bool
}

// ownedEventFields are the Events columns compared by the write-back. Synced
// is not among them: it is written, set to the time of the run, only with a
// row whose other values changed, so it tells when trackplan last changed
// the row, and an unchanged row costs no request.
func ownedEventFields() []field {
	return []field{fFirstSeen, fLastSeen, fVolume, fObserved, fDrift}
}

func ownedPropFields() []field {
	return []field{fObservedTypes, fPresence, fLastSeen}
}

// WriteObserved writes observations into the columns trackplan owns (Events:
// First seen, Last seen, Volume 7d, Observed, Drift, Synced; Properties:
// Observed types, Presence %, Last seen) and never into the team's. It reads
// both databases, then writes only the rows whose owned values differ from
// what it read; rows with no observation are left alone. Synced is not
// compared: it is set to the time of the run on the rows written, so it
// tells when trackplan last changed a row. A second run with the same
// observations makes no write.
//
// On a write failure it returns the changes made so far with the error;
// every decision is made from what is read, so running it again converges.
func (c *Client) WriteObserved(ctx context.Context, rows []EventObservation, props []PropertyObservation, opts WriteOptions) (Changes, error) {
	s, err := c.read(ctx, len(props) > 0)
	if err != nil {
		return nil, c.red.err(fmt.Errorf("write observed values to notion: %w", err))
	}
	var errs []error
	if len(rows) > 0 {
		errs = append(errs, s.events.require(true))
		if opts.AddUnplanned {
			errs = append(errs, s.events.requireFields(fType, fStatus))
		}
	}
	if len(props) > 0 {
		errs = append(errs, s.props.require(true))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("write observed values to notion: %w", err)
	}
	now := c.cfg.Now()
	ops := c.planEvents(s, rows, opts, now)
	ops = append(ops, planProperties(s, props)...)
	changes, err := c.execute(ctx, ops, opts.DryRun, &userDirectory{c: c}, knownIDs(s))
	if err != nil {
		return changes, fmt.Errorf("write observed values to notion: %w", err)
	}
	return changes, nil
}

// requireFields returns a *SchemaError when one of fields has no usable
// column.
func (t *table) requireFields(fields ...field) error {
	var v trackplan.ValidationError
	for _, f := range fields {
		if why, bad := t.missing[f]; bad {
			v.Add(t.colName(f), why)
		}
	}
	if v.Err() == nil {
		return nil
	}
	return &SchemaError{Database: t.label, ID: t.id, Problems: &v}
}

func observedCells(o EventObservation) map[field]cell {
	return map[field]cell{
		fFirstSeen: dateCell(o.FirstSeen),
		fLastSeen:  dateCell(o.LastSeen),
		fVolume:    floatCell(float64(o.Volume7d)),
		fObserved:  textCell(string(o.Observed)),
		fDrift:     textCell(truncateText(o.Drift, maxDriftChars)),
	}
}

func (c *Client) planEvents(s *snapshot, obs []EventObservation, opts WriteOptions, now time.Time) []*op {
	byName := map[string]*row{}
	byType := map[trackplan.CallType]*row{}
	for _, r := range s.eventRows {
		if r.name == "" {
			continue
		}
		if byName[r.name] == nil {
			byName[r.name] = r
		}
		t := trackplan.CallType(strings.ToLower(strings.TrimSpace(r.cells[fType].s)))
		if (t == trackplan.Identify || t == trackplan.Group) && byType[t] == nil {
			byType[t] = r
		}
	}
	synced := cell{s: now.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	var ops []*op
	done := map[string]bool{}
	for _, o := range obs {
		o.Name = strings.TrimSpace(o.Name)
		if o.Name == "" || done[o.Name] {
			continue
		}
		done[o.Name] = true
		want := observedCells(o)
		r := byName[o.Name]
		if r == nil && (o.Type == trackplan.Identify || o.Type == trackplan.Group) {
			r = byType[o.Type]
		}
		if r == nil {
			if o.Observed != ObservedUnplanned || !opts.AddUnplanned {
				continue
			}
			typ := o.Type
			switch typ {
			case trackplan.Track, trackplan.Page, trackplan.Screen, trackplan.Identify, trackplan.Group:
			default:
				typ = trackplan.Track
			}
			want[fName] = textCell(o.Name)
			want[fType] = textCell(string(typ))
			want[fStatus] = textCell(string(trackplan.StatusProposed))
			want[fSynced] = synced
			fields := filled(s.events, want, append([]field{fName, fType, fStatus}, ownedEventFields()...))
			fields = append(fields, fSynced)
			ops = append(ops, &op{t: s.events, action: Created, name: o.Name, ref: newRef + o.Name, cells: want, fields: fields})
			byName[o.Name] = &row{name: o.Name}
			continue
		}
		changed := diff(s.events, want, r.cells, ownedEventFields())
		if len(changed) == 0 {
			continue
		}
		want[fSynced] = synced
		ops = append(ops, &op{t: s.events, action: Updated, name: r.name, pageID: r.id, cells: want, fields: append(changed, fSynced)})
	}
	return ops
}

// propAgg aggregates the observations of a Properties row's events.
type propAgg struct {
	types          map[string]bool
	present, total int64
	last           time.Time
}

func planProperties(s *snapshot, obs []PropertyObservation) []*op {
	if len(obs) == 0 || s.props == nil {
		return nil
	}
	type key struct{ event, path string }
	byKey := map[key][]PropertyObservation{}
	for _, o := range obs {
		k := key{o.Event, o.Path}
		byKey[k] = append(byKey[k], o)
	}
	nameOf := map[string]string{}
	for _, r := range s.eventRows {
		nameOf[normID(r.id)] = r.name
	}
	var ops []*op
	for _, r := range s.propRows {
		if r.name == "" {
			continue
		}
		var agg *propAgg
		var events []string
		for _, id := range r.cells[fEvents].list {
			ev := nameOf[normID(id)]
			os := byKey[key{ev, r.name}]
			if ev == "" || len(os) == 0 {
				continue
			}
			events = append(events, ev)
			if agg == nil {
				agg = &propAgg{types: map[string]bool{}}
			}
			for _, o := range os {
				for _, t := range o.Types {
					if t = strings.TrimSpace(t); t != "" {
						agg.types[t] = true
					}
				}
				agg.present += o.Present
				agg.total += o.Total
				if o.LastSeen.After(agg.last) {
					agg.last = o.LastSeen
				}
			}
		}
		if agg == nil {
			continue
		}
		types := make([]string, 0, len(agg.types))
		for t := range agg.types {
			types = append(types, t)
		}
		slices.Sort(types)
		want := map[field]cell{
			fObservedTypes: listCell(nonEmpty(types)),
			fPresence:      numCell(nil),
			fLastSeen:      dateCell(agg.last),
		}
		if agg.total > 0 {
			want[fPresence] = floatCell(math.Round(1000*float64(agg.present)/float64(agg.total)) / 10)
		}
		if changed := diff(s.props, want, r.cells, ownedPropFields()); len(changed) > 0 {
			ops = append(ops, &op{t: s.props, action: Updated, name: r.name, pageID: r.id, cells: want, fields: changed, events: events})
		}
	}
	return ops
}
