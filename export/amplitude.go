package export

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/trackplan/trackplan"
)

// AmplitudeEventColumns is the header of Amplitude Data's events and event
// properties CSV import.
var AmplitudeEventColumns = []string{
	"Action", "Object Type", "Object Name", "Object Description",
	"Event Category", "Event Display Name", "Event Activity", "Event Source", "Tags",
	"Property Type", "Property Group Names", "Event Property Name", "Property Description",
	"Property Value Type", "Property Required", "Property Is Array", "Enum Values", "Const Value",
	"Property Regex", "String Property Value Min Length", "String Property Value Max Length",
	"Number Property Value Min", "Number Property Value Max", "Number Is Integer",
	"Array Min Items", "Array Max Items", "Array Unique Items",
}

// AmplitudeUserColumns is the header of Amplitude Data's user properties CSV
// import.
var AmplitudeUserColumns = []string{
	"Action", "Property Type", "Property Name", "Property Description",
	"Property Value Type", "Property Is Array", "Enum Values", "Const Value",
	"Property Regex", "String Property Value Min Length", "String Property Value Max Length",
	"Number Property Value Min", "Number Property Value Max", "Number Is Integer",
	"Array Min Items", "Array Max Items", "Array Unique Items",
}

// WriteAmplitudeCSV writes the track, page and screen events of p as
// Amplitude Data's events and event properties CSV: a row per event (Object
// Type "Event"; deprecated events Inactive; platforms as Event Source; tags
// comma-separated), each followed by a row per property ("Event Property").
// Nested paths keep their dot-and-[] names; an array's items ("tags[]")
// are described on the array's row, as its value type. Value types map to
// Amplitude's: integer is number with Number Is Integer, datetime is
// string, object and any are any, array is Property Is Array, and a
// property with allowed values is enum.
func WriteAmplitudeCSV(w io.Writer, p *trackplan.Plan) error {
	var rows [][]string
	col := columnIndex(AmplitudeEventColumns)
	for _, e := range events(p) {
		switch e.CallType() {
		case trackplan.Identify, trackplan.Group:
			continue
		}
		row := make([]string, len(AmplitudeEventColumns))
		row[col["Object Type"]] = "Event"
		row[col["Object Name"]] = e.Name
		row[col["Object Description"]] = e.Description
		row[col["Event Activity"]] = "Active"
		if e.Status == trackplan.StatusDeprecated {
			row[col["Event Activity"]] = "Inactive"
		}
		row[col["Event Source"]] = strings.Join(e.Platforms, ",")
		row[col["Tags"]] = strings.Join(e.Tags, ",")
		rows = append(rows, row)
		for _, pr := range e.Properties {
			if pr == nil || strings.HasSuffix(pr.Name, "[]") {
				continue // array items are described on their array's row
			}
			row := make([]string, len(AmplitudeEventColumns))
			row[col["Property Type"]] = "Event Property"
			row[col["Event Property Name"]] = pr.Name
			row[col["Property Required"]] = amplitudeBool(pr.Required)
			fillAmplitudeProperty(row, col, pr, e.Property(pr.Name+"[]"))
			rows = append(rows, row)
		}
	}
	return writeCSV(w, AmplitudeEventColumns, rows)
}

// WriteAmplitudeUserPropertiesCSV writes the identify traits of p as
// Amplitude Data's user properties CSV, mapping types as WriteAmplitudeCSV
// does. Group traits have no counterpart in that file and are left out.
func WriteAmplitudeUserPropertiesCSV(w io.Writer, p *trackplan.Plan) error {
	var rows [][]string
	col := columnIndex(AmplitudeUserColumns)
	if p != nil {
		if e := p.Lookup(trackplan.Identify, ""); e != nil {
			for _, pr := range e.Properties {
				if pr == nil || strings.HasSuffix(pr.Name, "[]") {
					continue
				}
				row := make([]string, len(AmplitudeUserColumns))
				row[col["Property Type"]] = "User Property"
				row[col["Property Name"]] = pr.Name
				fillAmplitudeProperty(row, col, pr, e.Property(pr.Name+"[]"))
				rows = append(rows, row)
			}
		}
	}
	return writeCSV(w, AmplitudeUserColumns, rows)
}

func columnIndex(cols []string) map[string]int {
	m := make(map[string]int, len(cols))
	for i, c := range cols {
		m[c] = i
	}
	return m
}

// fillAmplitudeProperty sets the columns both files share. elem is the
// declaration of an array's items, if any: an array takes its value type
// and constraints from its items.
func fillAmplitudeProperty(row []string, col map[string]int, pr, elem *trackplan.Property) {
	row[col["Property Description"]] = pr.Description
	isArray := pr.EffectiveType() == trackplan.PropArray
	row[col["Property Is Array"]] = amplitudeBool(isArray)
	if isArray && elem != nil {
		pr = elem
	}
	t := pr.EffectiveType()
	valueType := "any"
	switch t {
	case trackplan.PropString, trackplan.PropDatetime:
		valueType = "string"
	case trackplan.PropNumber, trackplan.PropInteger:
		valueType = "number"
	case trackplan.PropBoolean:
		valueType = "boolean"
	}
	if len(pr.Enum) > 0 {
		valueType = "enum"
		row[col["Enum Values"]] = strings.Join(pr.Enum, ",")
	}
	row[col["Property Value Type"]] = valueType
	row[col["Property Regex"]] = pr.Pattern
	if pr.Min != nil {
		row[col["Number Property Value Min"]] = formatNumber(*pr.Min)
	}
	if pr.Max != nil {
		row[col["Number Property Value Max"]] = formatNumber(*pr.Max)
	}
	if t.Numeric() {
		row[col["Number Is Integer"]] = amplitudeBool(t == trackplan.PropInteger)
	}
}

func amplitudeBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func writeCSV(w io.Writer, header []string, rows [][]string) error {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	if err := cw.Write(header); err != nil {
		return fmt.Errorf("encode csv: %w", err)
	}
	if err := cw.WriteAll(rows); err != nil {
		return fmt.Errorf("encode csv: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}
