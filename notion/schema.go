package notion

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jomei/notionapi"

	"github.com/trackplan/trackplan"
)

// Notion's limits on written values.
const (
	maxTextChunk   = 2000 // UTF-16 code units per rich text item
	maxTextItems   = 100  // rich text items per value
	maxRelationIDs = 100  // related pages per written relation value
	maxDriftChars  = 2000 // the Drift column, kept to one rich text item
)

// kind is how trackplan reads and writes a column.
type kind uint8

const (
	kindTitle    kind = iota + 1
	kindText          // rich_text
	kindSelect        // select (status also read and written)
	kindMulti         // multi_select
	kindNumber        // number
	kindCheckbox      // checkbox
	kindDate          // date, written as a date without time
	kindDateTime      // date, written as a date and time
	kindPeople        // people read as emails, else names; rich_text, email or select also work
	kindRelation      // relation
)

func (k kind) String() string {
	switch k {
	case kindTitle:
		return "title"
	case kindText:
		return "text"
	case kindSelect:
		return "select"
	case kindMulti:
		return "multi-select"
	case kindNumber:
		return "number"
	case kindCheckbox:
		return "checkbox"
	case kindDate, kindDateTime:
		return "date"
	case kindPeople:
		return "person"
	case kindRelation:
		return "relation"
	}
	return "unknown"
}

// compatible reports whether a column of Notion type typ can hold k.
func (k kind) compatible(typ string) bool {
	switch k {
	case kindTitle:
		return typ == "title"
	case kindText:
		return typ == "rich_text"
	case kindSelect:
		return typ == "select" || typ == "status"
	case kindMulti:
		return typ == "multi_select"
	case kindNumber:
		return typ == "number"
	case kindCheckbox:
		return typ == "checkbox"
	case kindDate, kindDateTime:
		return typ == "date"
	case kindPeople:
		return typ == "people" || typ == "rich_text" || typ == "email" || typ == "select"
	case kindRelation:
		return typ == "relation"
	}
	return false
}

// field names a value of a row independently of its column's name.
type field string

// Fields of both databases.
const (
	fName        field = "name"
	fType        field = "type"
	fDescription field = "description"
	fLastSeen    field = "last_seen"

	fWhy       field = "why"
	fStatus    field = "status"
	fOwner     field = "owner"
	fTags      field = "tags"
	fPlatforms field = "platforms"
	fWeight    field = "weight"
	fFirstSeen field = "first_seen"
	fVolume    field = "volume_7d"
	fObserved  field = "observed"
	fDrift     field = "drift"
	fSynced    field = "synced"

	fEvents        field = "events"
	fRequired      field = "required"
	fNullable      field = "nullable"
	fAllowed       field = "allowed_values"
	fPattern       field = "pattern"
	fMin           field = "min"
	fMax           field = "max"
	fPII           field = "pii"
	fObservedTypes field = "observed_types"
	fPresence      field = "presence_pct"
)

// option is a select option created by Init.
type option struct {
	name  string
	color notionapi.Color
}

// colSpec describes one column trackplan knows.
type colSpec struct {
	field   field
	name    string
	kind    kind
	owned   bool // written by the write-back, never by Push
	options []option
}

// Observed values of the Events database's Observed column.
const (
	ObservedLive           ObservedStatus = "Live"
	ObservedNotSeen        ObservedStatus = "Not seen"
	ObservedUnplanned      ObservedStatus = "Unplanned"
	ObservedViolations     ObservedStatus = "Violations"
	ObservedDeprecatedSeen ObservedStatus = "Deprecated but seen"
)

// ObservedStatus is a value of the Observed column.
type ObservedStatus string

func eventSpecs(n EventColumns) []colSpec {
	return []colSpec{
		{field: fName, name: n.Name, kind: kindTitle},
		{field: fType, name: n.Type, kind: kindSelect, options: []option{
			{string(trackplan.Track), notionapi.ColorBlue}, {string(trackplan.Identify), notionapi.ColorPurple},
			{string(trackplan.Group), notionapi.ColorOrange}, {string(trackplan.Page), notionapi.ColorGreen},
			{string(trackplan.Screen), notionapi.ColorYellow},
		}},
		{field: fDescription, name: n.Description, kind: kindText},
		{field: fWhy, name: n.Why, kind: kindText},
		{field: fStatus, name: n.Status, kind: kindSelect, options: []option{
			{string(trackplan.StatusProposed), notionapi.ColorGray}, {string(trackplan.StatusPlanned), notionapi.ColorBlue},
			{string(trackplan.StatusImplemented), notionapi.ColorYellow}, {string(trackplan.StatusLive), notionapi.ColorGreen},
			{string(trackplan.StatusDeprecated), notionapi.ColorRed},
		}},
		{field: fOwner, name: n.Owner, kind: kindPeople},
		{field: fTags, name: n.Tags, kind: kindMulti},
		{field: fPlatforms, name: n.Platforms, kind: kindMulti},
		{field: fWeight, name: n.Weight, kind: kindNumber},
		{field: fFirstSeen, name: n.FirstSeen, kind: kindDate, owned: true},
		{field: fLastSeen, name: n.LastSeen, kind: kindDate, owned: true},
		{field: fVolume, name: n.Volume7d, kind: kindNumber, owned: true},
		{field: fObserved, name: n.Observed, kind: kindSelect, owned: true, options: []option{
			{string(ObservedLive), notionapi.ColorGreen}, {string(ObservedNotSeen), notionapi.ColorGray},
			{string(ObservedUnplanned), notionapi.ColorOrange}, {string(ObservedViolations), notionapi.ColorRed},
			{string(ObservedDeprecatedSeen), notionapi.ColorPurple},
		}},
		{field: fDrift, name: n.Drift, kind: kindText, owned: true},
		{field: fSynced, name: n.Synced, kind: kindDateTime, owned: true},
	}
}

func propertySpecs(n PropertyColumns) []colSpec {
	types := []option{}
	for _, t := range []trackplan.PropertyType{trackplan.PropString, trackplan.PropNumber, trackplan.PropInteger,
		trackplan.PropBoolean, trackplan.PropObject, trackplan.PropArray, trackplan.PropDatetime, trackplan.PropAny} {
		types = append(types, option{name: string(t)})
	}
	return []colSpec{
		{field: fName, name: n.Name, kind: kindTitle},
		{field: fEvents, name: n.Events, kind: kindRelation},
		{field: fType, name: n.Type, kind: kindSelect, options: types},
		{field: fRequired, name: n.Required, kind: kindCheckbox},
		{field: fNullable, name: n.Nullable, kind: kindCheckbox},
		{field: fAllowed, name: n.AllowedValues, kind: kindText},
		{field: fPattern, name: n.Pattern, kind: kindText},
		{field: fMin, name: n.Min, kind: kindNumber},
		{field: fMax, name: n.Max, kind: kindNumber},
		{field: fPII, name: n.PII, kind: kindCheckbox},
		{field: fDescription, name: n.Description, kind: kindText},
		{field: fObservedTypes, name: n.ObservedTypes, kind: kindMulti, owned: true},
		{field: fPresence, name: n.PresencePct, kind: kindNumber, owned: true},
		{field: fLastSeen, name: n.LastSeen, kind: kindDate, owned: true},
	}
}

// col is a colSpec bound to a column of a database.
type col struct {
	colSpec
	actual string // the column's name in Notion
	id     string // the column's property id
	typ    string // the column's Notion type
}

// table is a database (data source on 2025-09-03) with trackplan's columns
// bound to its columns.
type table struct {
	label   string // "events" or "properties"
	id      string // what rows are queried and created in: the data source, or the database on 2022-06-28
	dbID    string // the database
	specs   []colSpec
	cols    map[field]*col
	missing map[field]string // why a known column is unusable
	db      *database
}

// bind matches specs to the columns of db. The title column is found by its
// type; the others by name.
func bind(label string, db *database, specs []colSpec) *table {
	t := &table{label: label, id: db.ID, dbID: db.dbID, specs: specs, cols: map[field]*col{}, missing: map[field]string{}, db: db}
	for _, s := range specs {
		cc, ok := db.Properties[s.name]
		if s.kind == kindTitle && (!ok || cc.Type != "title") {
			ok = false
			for _, c := range db.Properties {
				if c.Type == "title" {
					cc, ok = c, true
					break
				}
			}
		}
		switch {
		case !ok:
			t.missing[s.field] = fmt.Sprintf("no column %q (%s)", s.name, s.kind)
		case !s.kind.compatible(cc.Type):
			t.missing[s.field] = fmt.Sprintf("column %q is a %s column, want %s", s.name, cc.Type, s.kind)
		default:
			t.cols[s.field] = &col{colSpec: s, actual: cc.Name, id: cc.ID, typ: cc.Type}
		}
	}
	return t
}

// require returns a *SchemaError when a column trackplan must write is
// missing or unusable.
func (t *table) require(owned bool) error {
	var v trackplan.ValidationError
	for _, s := range t.specs {
		if s.owned != owned {
			continue
		}
		if why, bad := t.missing[s.field]; bad {
			v.Add(s.name, why)
		}
	}
	if v.Err() == nil {
		return nil
	}
	return &SchemaError{Database: t.label, ID: t.id, Problems: &v}
}

// cell is one value of a row, normalised for comparison. Which part is used
// depends on the column's kind.
type cell struct {
	s    string
	list []string
	num  *float64
	b    bool
}

func textCell(s string) cell    { return cell{s: cleanText(s)} }
func listCell(l []string) cell  { return cell{list: l} }
func boolCell(b bool) cell      { return cell{b: b} }
func numCell(f *float64) cell   { return cell{num: f} }
func floatCell(f float64) cell  { return cell{num: &f} }
func dateCell(t time.Time) cell { return cell{s: dateOnly(t)} }

// cleanText makes s valid UTF-8, as Notion will store it.
func cleanText(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func dateOnly(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// equal compares two cells of a column of kind k.
func (c cell) equal(o cell, k kind) bool {
	switch k {
	case kindMulti:
		return slices.Equal(c.list, o.list)
	case kindRelation:
		return sameIDs(c.list, o.list)
	case kindNumber:
		if c.num == nil || o.num == nil {
			return c.num == nil && o.num == nil
		}
		return math.Abs(*c.num-*o.num) < 1e-9
	case kindCheckbox:
		return c.b == o.b
	case kindPeople:
		return strings.EqualFold(c.s, o.s)
	}
	return c.s == o.s
}

func sameIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	na := make([]string, len(a))
	nb := make([]string, len(b))
	for i := range a {
		na[i], nb[i] = normID(a[i]), normID(b[i])
	}
	slices.Sort(na)
	slices.Sort(nb)
	return slices.Equal(na, nb)
}

// decode reads the value of c from a page's raw property value. more reports
// a relation truncated by Notion (has_more).
func (c *col) decode(raw json.RawMessage) (v cell, more bool, err error) {
	var pv propertyValue
	if err := json.Unmarshal(raw, &pv); err != nil {
		return cell{}, false, fmt.Errorf("cannot decode the %s value: %w", c.typ, err)
	}
	switch c.kind {
	case kindTitle:
		return cell{s: plainText(pv.Title)}, false, nil
	case kindText:
		return cell{s: plainText(pv.RichText)}, false, nil
	case kindSelect:
		if pv.Select != nil {
			return cell{s: pv.Select.Name}, false, nil
		}
		if pv.Status != nil {
			return cell{s: pv.Status.Name}, false, nil
		}
		return cell{}, false, nil
	case kindMulti:
		var l []string
		for _, o := range pv.MultiSelect {
			l = append(l, o.Name)
		}
		return cell{list: l}, false, nil
	case kindNumber:
		return cell{num: pv.Number}, false, nil
	case kindCheckbox:
		return cell{b: pv.Checkbox}, false, nil
	case kindDate, kindDateTime:
		if pv.Date == nil {
			return cell{}, false, nil
		}
		return cell{s: pv.Date.Start}, false, nil
	case kindPeople:
		switch c.typ {
		case "people":
			var names []string
			for _, u := range pv.People {
				switch {
				case u.Person != nil && u.Person.Email != "":
					names = append(names, u.Person.Email)
				case u.Name != "":
					names = append(names, u.Name)
				}
			}
			return cell{s: strings.Join(names, ", ")}, false, nil
		case "email":
			if pv.Email != nil {
				return cell{s: *pv.Email}, false, nil
			}
			return cell{}, false, nil
		case "select":
			if pv.Select != nil {
				return cell{s: pv.Select.Name}, false, nil
			}
			return cell{}, false, nil
		}
		return cell{s: plainText(pv.RichText)}, false, nil
	case kindRelation:
		var ids []string
		for _, r := range pv.Relation {
			ids = append(ids, r.ID)
		}
		return cell{list: ids}, pv.HasMore, nil
	}
	return cell{}, false, fmt.Errorf("unsupported column kind %s", c.kind)
}

// resolver turns values into what a write needs: user ids for owners, page
// ids for relations to rows created in the same run.
type resolver struct {
	users func(owner string) ([]notionapi.User, error)
	page  func(ref string) (string, error)
}

// encode returns the request value that sets column c to v. Values
// notionapi cannot express (a cleared select or number, a date without
// time) are built here; the others use notionapi's property types.
func (c *col) encode(v cell, r resolver) (any, error) {
	switch c.kind {
	case kindTitle:
		rts, err := textItems(v.s)
		if err != nil {
			return nil, err
		}
		return notionapi.TitleProperty{Title: rts}, nil
	case kindText:
		rts, err := textItems(v.s)
		if err != nil {
			return nil, err
		}
		return notionapi.RichTextProperty{RichText: rts}, nil
	case kindSelect:
		return c.encodeSelect(v.s)
	case kindMulti:
		opts := make([]notionapi.Option, 0, len(v.list))
		if len(v.list) > 100 {
			return nil, fmt.Errorf("%d values, Notion takes at most 100", len(v.list))
		}
		for _, n := range v.list {
			if err := optionName(n); err != nil {
				return nil, err
			}
			opts = append(opts, notionapi.Option{Name: n})
		}
		return notionapi.MultiSelectProperty{MultiSelect: opts}, nil
	case kindNumber:
		// notionapi's NumberProperty has a float64 and cannot send null.
		return map[string]any{"number": v.num}, nil
	case kindCheckbox:
		return notionapi.CheckboxProperty{Checkbox: v.b}, nil
	case kindDate, kindDateTime:
		// notionapi's Date always sends a date-time and cannot send null.
		if v.s == "" {
			return map[string]any{"date": nil}, nil
		}
		return map[string]any{"date": map[string]any{"start": v.s}}, nil
	case kindPeople:
		switch c.typ {
		case "people":
			if strings.TrimSpace(v.s) == "" {
				return notionapi.PeopleProperty{People: []notionapi.User{}}, nil
			}
			users, err := r.users(v.s)
			if err != nil {
				return nil, err
			}
			return notionapi.PeopleProperty{People: users}, nil
		case "email":
			if v.s == "" {
				return map[string]any{"email": nil}, nil
			}
			return map[string]any{"email": v.s}, nil
		case "select":
			return c.encodeSelect(v.s)
		}
		rts, err := textItems(v.s)
		if err != nil {
			return nil, err
		}
		return notionapi.RichTextProperty{RichText: rts}, nil
	case kindRelation:
		if len(v.list) > maxRelationIDs {
			return nil, fmt.Errorf("%d related rows, Notion takes at most %d in one write", len(v.list), maxRelationIDs)
		}
		rel := make([]notionapi.Relation, 0, len(v.list))
		for _, ref := range v.list {
			id, err := r.page(ref)
			if err != nil {
				return nil, err
			}
			rel = append(rel, notionapi.Relation{ID: notionapi.PageID(id)})
		}
		return notionapi.RelationProperty{Relation: rel}, nil
	}
	return nil, fmt.Errorf("unsupported column kind %s", c.kind)
}

// encodeSelect sets a select or status column; "" clears it, which
// notionapi's SelectProperty (a value Option) cannot do.
func (c *col) encodeSelect(name string) (any, error) {
	key := "select"
	if c.typ == "status" {
		key = "status"
	}
	if name == "" {
		return map[string]any{key: nil}, nil
	}
	if err := optionName(name); err != nil {
		return nil, err
	}
	return map[string]any{key: map[string]string{"name": name}}, nil
}

func optionName(n string) error {
	switch {
	case strings.TrimSpace(n) == "":
		return fmt.Errorf("empty option name")
	case strings.Contains(n, ","):
		return fmt.Errorf("option %q: Notion option names cannot contain commas", n)
	case utf16Len(n) > 100:
		return fmt.Errorf("option %q: longer than 100 characters", n)
	}
	return nil
}

// textItems splits s into rich text items of at most 2,000 UTF-16 code
// units each, on rune boundaries.
func textItems(s string) ([]notionapi.RichText, error) {
	total := utf16Len(s)
	out := []notionapi.RichText{}
	for s != "" {
		n, i := 0, 0
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			u := utf16.RuneLen(r)
			if u < 0 {
				u = 1
			}
			if n+u > maxTextChunk {
				break
			}
			n += u
			i += size
		}
		out = append(out, notionapi.RichText{Type: "text", Text: &notionapi.Text{Content: s[:i]}})
		s = s[i:]
	}
	if len(out) > maxTextItems {
		return nil, fmt.Errorf("text of %d characters is longer than Notion takes (%d)", total, maxTextItems*maxTextChunk)
	}
	return out, nil
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if u := utf16.RuneLen(r); u > 0 {
			n += u
		} else {
			n++
		}
	}
	return n
}

// truncateText cuts s to at most n UTF-16 code units, ending with "…" when
// cut: at the last line break in the second half if there is one, else at a
// word boundary near the end, else on a rune boundary.
func truncateText(s string, n int) string {
	s = cleanText(s)
	if utf16Len(s) <= n {
		return s
	}
	budget := n - 1 // room for "…"
	cut, used := 0, 0
	for i, r := range s {
		u := utf16.RuneLen(r)
		if u < 0 {
			u = 1
		}
		if used+u > budget {
			break
		}
		used += u
		cut = i + utf8.RuneLen(r)
	}
	head := s[:cut]
	if i := strings.LastIndexByte(head, '\n'); i >= len(head)/2 {
		head = head[:i]
	} else if i := strings.LastIndexAny(head, " \t"); i >= len(head)*9/10 {
		head = head[:i]
	}
	return strings.TrimRight(head, " \t\n") + "…"
}
