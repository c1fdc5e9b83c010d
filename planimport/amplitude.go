package planimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/trackplan/trackplan"
)

// Amplitude columns the import reads; the others are reported when they
// hold a value (the export's statistics — first and last seen, volumes —
// are observations, not plan, and are skipped).
var amplitudeRead = []string{
	"Action", "Object Type", "Object Name", "Object Description", "Event Activity", "Event Source", "Tags",
	"Property Type", "Event Property Name", "Property Name", "Property Description", "Property Value Type",
	"Property Required", "Property Is Array", "Enum Values", "Property Regex",
	"Number Property Value Min", "Number Property Value Max", "Number Is Integer",
}

// amplitudeLost are the columns with plan content the model has no place
// for.
var amplitudeLost = []string{
	"Event Category", "Event Display Name", "Property Group Names", "Const Value",
	"String Property Value Min Length", "String Property Value Max Length",
	"Array Min Items", "Array Max Items", "Array Unique Items",
}

// amplitude reads one of Amplitude Data's CSV files: the events and event
// properties file (a row per event, Object Type "Event", followed by a
// row per property, Property Type "Event Property") or the user
// properties file (a row per user property), which becomes the identify
// entry. Columns are found by their header, in any order.
func (im *importer) amplitude(f File) {
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(f.Data, []byte("\ufeff"))))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		im.bad(f.Name, 1, "", "not a CSV file with a header: %v", err)
		return
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(h)] = i
	}
	_, events := col["Object Type"]
	_, users := col["Property Name"]
	switch {
	case events && !has(col, "Event Property Name"):
		im.bad(f.Name, 1, "", "the header has Object Type but no Event Property Name column")
		return
	case !events && !users:
		im.bad(f.Name, 1, "", "not an Amplitude Data CSV: the header has neither Object Type (events file) nor Property Name (user properties file)")
		return
	}
	var identify *trackplan.Event
	if !events {
		identify = &trackplan.Event{Name: "identify", Type: trackplan.Identify}
	}
	var cur *pending
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			im.bad(f.Name, line, "", "not valid CSV: %v", err)
			return
		}
		get := func(c string) string {
			if i, ok := col[c]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		if get("Action") == "Ignore" || get("Action") == "Remove" {
			im.lose(f.Name, line, "", "a row with Action %s is not imported", get("Action"))
			continue
		}
		for _, c := range amplitudeLost {
			if v := get(c); v != "" && v != "False" && v != "false" {
				im.lose(f.Name, line, "", "column %s (%s) is not in the plan model; left out", c, v)
			}
		}
		if identify != nil {
			if p := im.amplitudeProperty(f.Name, line, get, get("Property Name"), &identify.Properties); p != nil && get("Property Type") != "" && get("Property Type") != "User Property" {
				im.lose(f.Name, line, "", "Property Type %q: imported as a user property", get("Property Type"))
			}
			continue
		}
		switch ot := get("Object Type"); {
		case ot == "Event":
			if cur != nil {
				im.add(cur.e, cur.status, cur.at)
			}
			cur = nil
			name := get("Object Name")
			if name == "" {
				im.bad(f.Name, line, "", "event row without an Object Name")
				continue
			}
			e := &trackplan.Event{Name: name, Type: trackplan.Track, Description: get("Object Description")}
			var status trackplan.Status
			switch get("Event Activity") {
			case "Inactive":
				status = trackplan.StatusDeprecated
			case "", "Active":
			default:
				im.bad(f.Name, line, "", "unknown Event Activity %q (want Active or Inactive)", get("Event Activity"))
			}
			e.Platforms = splitList(get("Event Source"))
			e.Tags = splitList(get("Tags"))
			cur = &pending{e: e, status: status, at: Note{File: f.Name, Line: line}}
		case ot == "Property Group":
			im.lose(f.Name, line, "", "property group %q is not in the plan model; left out (its properties are imported where events list them)", get("Object Name"))
			cur = nil
		case ot != "":
			im.bad(f.Name, line, "", "unknown Object Type %q (want Event or Property Group)", ot)
		default:
			switch pt := get("Property Type"); pt {
			case "Event Property", "":
				if cur == nil {
					im.bad(f.Name, line, "", "property row %q before any event row", get("Event Property Name"))
					continue
				}
				im.amplitudeProperty(f.Name, line, get, get("Event Property Name"), &cur.e.Properties)
			case "Event Property Group":
				im.lose(f.Name, line, "", "property group %q on an event is not in the plan model; left out", get("Property Group Names"))
			default:
				im.bad(f.Name, line, "", "unknown Property Type %q (want Event Property or Event Property Group)", pt)
			}
		}
	}
	if cur != nil {
		im.add(cur.e, cur.status, cur.at)
	}
	if identify != nil {
		im.add(identify, "", Note{File: f.Name, Line: 1})
	}
}

type pending struct {
	e      *trackplan.Event
	status trackplan.Status
	at     Note
}

func has(m map[string]int, k string) bool { _, ok := m[k]; return ok }

func splitList(s string) []string {
	var out []string
	for v := range strings.SplitSeq(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func amplitudeTrue(s string) bool { return strings.EqualFold(s, "true") }

// amplitudeProperty reads one property row into out and returns it.
func (im *importer) amplitudeProperty(file string, line int, get func(string) string, name string, out *[]*trackplan.Property) *trackplan.Property {
	if name == "" {
		im.bad(file, line, "", "property row without a name")
		return nil
	}
	for _, p := range *out {
		if p.Name == name {
			im.bad(file, line, "", "duplicate property %q", name)
			return nil
		}
	}
	p := &trackplan.Property{Name: name, Description: get("Property Description"), Required: amplitudeTrue(get("Property Required"))}
	*out = append(*out, p)
	value := &trackplan.Property{Name: name + "[]"} // the array's items, or p itself
	if !amplitudeTrue(get("Property Is Array")) {
		value = p
	} else {
		p.Type = trackplan.PropArray
	}
	vt := get("Property Value Type")
	switch vt {
	case "string":
		value.Type = trackplan.PropString
	case "number":
		value.Type = trackplan.PropNumber
		if amplitudeTrue(get("Number Is Integer")) {
			value.Type = trackplan.PropInteger
		}
	case "boolean":
		value.Type = trackplan.PropBoolean
	case "any", "":
		value.Type = trackplan.PropAny
	case "enum":
		value.Type = trackplan.PropString
		switch get("Number Is Integer") { // a numeric enum, as trackplan exports one
		case "True", "true":
			value.Type = trackplan.PropInteger
		case "False", "false":
			value.Type = trackplan.PropNumber
		}
	case "const":
		value.Type = trackplan.PropAny
		im.lose(file, line, "", "property %q: value type const is not in the plan model; imported as any", name)
	default:
		im.bad(file, line, "", "property %q: unknown Property Value Type %q (want string, number, boolean, any, enum or const)", name, vt)
		return nil
	}
	if enum := get("Enum Values"); enum != "" {
		switch value.Type {
		case trackplan.PropString, trackplan.PropNumber, trackplan.PropInteger, trackplan.PropAny:
			value.Enum = splitList(enum)
		default:
			im.lose(file, line, "", "property %q: Enum Values on a %s property are not in the plan model; left out", name, value.Type)
		}
	}
	if re := get("Property Regex"); re != "" {
		value.Pattern = re
	}
	for _, b := range []struct {
		col string
		dst **float64
	}{{"Number Property Value Min", &value.Min}, {"Number Property Value Max", &value.Max}} {
		s := get(b.col)
		if s == "" {
			continue
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			im.bad(file, line, "", "property %q: %s %q is not a number", name, b.col, s)
			continue
		}
		if !value.Type.Numeric() {
			im.lose(file, line, "", "property %q: %s on a %s property is not in the plan model; left out", name, b.col, value.Type)
			continue
		}
		*b.dst = &f
	}
	if value != p && value.Type != trackplan.PropAny || value != p && (len(value.Enum) > 0 || value.Pattern != "") {
		*out = append(*out, value)
	}
	return p
}
