package notion

import (
	"fmt"
	"strings"
)

// Action is what a change does to a row.
type Action string

// Actions.
const (
	Created  Action = "created"
	Updated  Action = "updated"
	Archived Action = "archived"
)

// Change is one row written (or, in a dry run, to be written).
type Change struct {
	Database string // "events" or "properties"
	Action   Action
	Row      string // the row's name
	PageID   string // empty for a row a dry run would create
	// Columns lists the columns written, by their names in Notion: every
	// non-empty column of a created row, the changed ones of an updated row,
	// none for an archived row.
	Columns []string
	// Events lists, for a Properties row, the events it belongs to.
	Events []string
}

// String renders the change on one line, e.g.
// `updated events row "Report Exported": Weight, Tags`.
func (c Change) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s row %q", c.Action, c.Database, c.Row)
	if len(c.Events) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(c.Events, ", "))
	}
	if len(c.Columns) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(c.Columns, ", "))
	}
	return b.String()
}

// Changes is the list of changes of one run, in the order they were made.
type Changes []Change

// Count returns the number of changes with action a.
func (cs Changes) Count(a Action) int {
	n := 0
	for _, c := range cs {
		if c.Action == a {
			n++
		}
	}
	return n
}

// String renders one change per line.
func (cs Changes) String() string {
	lines := make([]string, len(cs))
	for i, c := range cs {
		lines[i] = c.String()
	}
	return strings.Join(lines, "\n")
}
