package planfile

import (
	"fmt"
	"os"

	"github.com/trackplan/trackplan"
)

// Lines maps the events and properties of a plan file to the lines they
// are planned on, so that reports can point at them (SARIF, GitHub
// annotations). Line numbers start at 1; 0 means not found.
type Lines struct {
	events map[string]int                // event name → line of its name
	types  map[trackplan.CallType]string // identify, group, alias entries' names by call type
	props  map[lineKey]int               // (event, property) → line of the property's name
	list   int                           // the line of the events key
}

type lineKey struct{ event, path string }

// LoadLines reads the plan file at path, in the format its extension
// names, and returns the lines of its events and properties. The file is
// not validated (Load does that); entries it cannot make sense of are
// skipped.
func LoadLines(path string) (*Lines, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read plan %s: larger than %d bytes: %w", path, MaxFileSize, trackplan.ErrTooLarge)
	}
	l, err := ParseLines(data, format)
	if err != nil {
		return nil, fmt.Errorf("parse plan %s: %w", path, err)
	}
	return l, nil
}

// ParseLines is LoadLines for a plan already read; an empty format is
// guessed as Parse guesses it.
func ParseLines(data []byte, format Format) (*Lines, error) {
	root, err := parseTree(data, format)
	if err != nil {
		return nil, err
	}
	l := &Lines{events: map[string]int{}, types: map[trackplan.CallType]string{}, props: map[lineKey]int{}}
	if k := lookupKey(root, "events"); k != nil {
		l.list = k.line
	}
	events := lookup(root, "events")
	if events == nil || events.kind != sequenceNode {
		return l, nil
	}
	for _, ev := range events.items {
		name := lookup(ev, "name")
		if name == nil || name.kind != scalarNode {
			continue
		}
		if _, dup := l.events[name.value]; !dup {
			l.events[name.value] = name.line
		}
		t := trackplan.Track
		if typ := lookup(ev, "type"); typ != nil && typ.kind == scalarNode && typ.value != "" {
			t = trackplan.CallType(typ.value)
		}
		switch t {
		case trackplan.Identify, trackplan.Group, trackplan.Alias:
			if _, dup := l.types[t]; !dup {
				l.types[t] = name.value
			}
		}
		props := lookup(ev, "properties")
		if props == nil || props.kind != sequenceNode {
			continue
		}
		for _, p := range props.items {
			pn := lookup(p, "name")
			if pn == nil || pn.kind != scalarNode {
				continue
			}
			k := lineKey{name.value, pn.value}
			if _, dup := l.props[k]; !dup {
				l.props[k] = pn.line
			}
		}
	}
	return l, nil
}

// lookup returns the value of key in mapping n, or nil.
func lookup(n *node, key string) *node {
	if n == nil || n.kind != mappingNode {
		return nil
	}
	for i, k := range n.keys {
		if k.kind == scalarNode && k.value == key {
			return n.vals[i]
		}
	}
	return nil
}

// lookupKey returns the key node of key in mapping n, or nil.
func lookupKey(n *node, key string) *node {
	if n == nil || n.kind != mappingNode {
		return nil
	}
	for _, k := range n.keys {
		if k.kind == scalarNode && k.value == key {
			return k
		}
	}
	return nil
}

// Events returns the line of the plan's events key, where findings about
// the plan as a whole (and events it lacks) can point; 1 when it has none.
func (l *Lines) Events() int {
	if l == nil || l.list == 0 {
		return 1
	}
	return l.list
}

// Event returns the line of the planned event observed under name: the
// entry of that name, else for "identify", "group" and "alias" (the names
// those calls are observed under) the entry of that call type. It returns
// 0 when the file plans no such event.
func (l *Lines) Event(name string) int {
	if l == nil || name == "" {
		return 0
	}
	return l.events[l.entry(name)]
}

// entry is the name of the entry planning the event observed under name.
func (l *Lines) entry(name string) string {
	if _, ok := l.events[name]; ok {
		return name
	}
	if e, ok := l.types[trackplan.CallType(name)]; ok {
		return e
	}
	return name
}

// Property returns the line of the property path of the event observed
// under name, or 0 when the file does not plan it.
func (l *Lines) Property(event, path string) int {
	if l == nil || event == "" || path == "" {
		return 0
	}
	return l.props[lineKey{l.entry(event), path}]
}

// Line returns the line a finding about event and property path points
// at: the property's when the file plans it, else the event's, else 0.
func (l *Lines) Line(event, path string) int {
	if line := l.Property(event, path); line > 0 {
		return line
	}
	return l.Event(event)
}
