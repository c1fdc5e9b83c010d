// Package planimport reads tracking plans written by other tools into
// trackplan's plan model: Segment Protocols tracking plans (the Public API's
// rules, Typewriter's plan.json), RudderStack's rudder-cli data catalog
// YAML, Amplitude Data's CSV export and JSON Schema (draft-07 and
// 2020-12), one schema per event.
//
// Nothing is dropped silently. What a file holds that the plan model
// cannot express is returned as a Note naming the file and the line (or
// JSON path) it came from; what the plan model wants and the file lacks
// takes the defaults in Options. A file that cannot be read as its format
// (not parseable, an unknown type, a duplicate event) gives an *Error
// listing every problem, one per line, each with its file and line.
package planimport

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
)

// Format names a source format.
type Format string

// Source formats.
const (
	Segment     Format = "segment"
	RudderStack Format = "rudderstack"
	Amplitude   Format = "amplitude"
	JSONSchema  Format = "jsonschema"
)

// Formats lists the source formats, in the order help texts name them.
var Formats = []Format{Segment, RudderStack, Amplitude, JSONSchema}

// ParseFormat returns the format named s.
func ParseFormat(s string) (Format, error) {
	if f := Format(strings.ToLower(s)); slices.Contains(Formats, f) {
		return f, nil
	}
	return "", fmt.Errorf("unknown import format %q (want segment, rudderstack, amplitude or jsonschema)", s)
}

// DefaultStatus is the status imported events get when the source has
// none: planned, so that drift does not report them PLANNED_NOT_SEEN
// before the team has said they are live.
const DefaultStatus = trackplan.StatusPlanned

// Options are the defaults for what the plan model has and the sources
// lack.
type Options struct {
	// Status is given to every event whose source says nothing of its
	// status (DefaultStatus when empty). Sources that mark deprecated or
	// inactive events keep that.
	Status trackplan.Status
	// Owner is given to every event (sources have none); empty leaves the
	// owner unset, which plan lint reports as an info.
	Owner string
}

// File is one input file.
type File struct {
	Name string
	Data []byte
}

// Note is one thing read from a file: a part the plan model cannot
// express (in Result.Lost) or a problem with the input (in Error).
type Note struct {
	File string
	Line int    // 1-based; 0 when unknown
	Path string // the JSON path or spec field, when there is one
	Msg  string
}

// String renders the note as one line: file:line: path: message.
func (n Note) String() string {
	var b strings.Builder
	b.WriteString(n.File)
	if n.Line > 0 {
		fmt.Fprintf(&b, ":%d", n.Line)
	}
	b.WriteString(": ")
	if n.Path != "" {
		b.WriteString(n.Path + ": ")
	}
	b.WriteString(n.Msg)
	return b.String()
}

// Error is an input that could not be imported: every problem found, in
// file order.
type Error struct {
	Problems []Note
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Result is an imported plan with what it could not keep.
type Result struct {
	Plan *trackplan.Plan
	// Lost lists, one note per item, what the input holds that the plan
	// does not.
	Lost []Note
	// Defaults says which defaults were applied, one sentence each.
	Defaults []string
}

// Import reads files in format into one plan. Events from several files
// are merged in file order; the same event in two files is a problem. The
// plan is validated: what fails validation is reported as a problem of the
// input.
func Import(format Format, files []File, opts Options) (*Result, error) {
	if opts.Status == "" {
		opts.Status = DefaultStatus
	}
	if !opts.Status.Valid() {
		return nil, fmt.Errorf("unknown status %q (want proposed, planned, implemented, live or deprecated)", opts.Status)
	}
	im := &importer{opts: opts, seen: map[eventKey]Note{}}
	switch format {
	case Segment:
		for _, f := range files {
			im.segment(f)
		}
	case RudderStack:
		im.rudderstack(files)
	case Amplitude:
		for _, f := range files {
			im.amplitude(f)
		}
	case JSONSchema:
		for _, f := range files {
			im.jsonSchemaFile(f)
		}
	default:
		return nil, fmt.Errorf("unknown import format %q", format)
	}
	if len(im.problems) > 0 {
		return nil, &Error{Problems: im.problems}
	}
	p := &trackplan.Plan{Version: trackplan.PlanVersion, Events: im.events}
	for _, e := range p.Events {
		for _, pr := range e.Properties {
			if pr.Type == trackplan.PropAny {
				pr.Type = "" // the plan's own way of saying any
			}
		}
	}
	if err := p.Validate(); err != nil {
		// A constraint the source allows and the plan model does not (an
		// invalid regular expression, say): name the event's origin.
		return nil, &Error{Problems: []Note{{File: files[0].Name, Msg: "the imported plan is not valid: " + strings.ReplaceAll(err.Error(), "\n", "; ")}}}
	}
	res := &Result{Plan: p, Lost: im.lost}
	defaulted := 0
	for _, e := range p.Events {
		if im.defaulted[e] {
			defaulted++
		}
	}
	if defaulted > 0 {
		noun := "events whose source has"
		if defaulted == 1 {
			noun = "event whose source has"
		}
		res.Defaults = append(res.Defaults, fmt.Sprintf("status %s for the %d %s no status (--status)", opts.Status, defaulted, noun))
	}
	if opts.Owner != "" {
		res.Defaults = append(res.Defaults, fmt.Sprintf("owner %s for every event (--owner)", opts.Owner))
	} else if len(p.Events) > 0 {
		res.Defaults = append(res.Defaults, "no owner: the sources have none (--owner sets one)")
	}
	return res, nil
}

type eventKey struct {
	t    trackplan.CallType
	name string
}

// importer collects events, losses and problems across files.
type importer struct {
	opts      Options
	events    []*trackplan.Event
	seen      map[eventKey]Note
	defaulted map[*trackplan.Event]bool
	lost      []Note
	problems  []Note
}

func (im *importer) lose(file string, line int, path, format string, args ...any) {
	im.lost = append(im.lost, Note{File: file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (im *importer) bad(file string, line int, path, format string, args ...any) {
	im.problems = append(im.problems, Note{File: file, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// add appends e unless an event of its call type and name (one identify,
// one group) was imported already, which is a problem. status is the
// source's, or "" for the default.
func (im *importer) add(e *trackplan.Event, status trackplan.Status, at Note) {
	k := eventKey{e.CallType(), e.Name}
	if k.t == trackplan.Identify || k.t == trackplan.Group {
		k.name = ""
	}
	if first, dup := im.seen[k]; dup {
		where := first.File
		if first.Line > 0 {
			where = fmt.Sprintf("%s:%d", first.File, first.Line)
		}
		im.bad(at.File, at.Line, at.Path, "duplicate %s event %q (also at %s)", k.t, e.Name, where)
		return
	}
	im.seen[k] = at
	if status == "" {
		status = im.opts.Status
		if im.defaulted == nil {
			im.defaulted = map[*trackplan.Event]bool{}
		}
		im.defaulted[e] = true
	}
	e.Status = status
	e.Owner = im.opts.Owner
	im.events = append(im.events, e)
}
