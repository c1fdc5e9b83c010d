package planfile_test

import (
	"path/filepath"
	"testing"

	"github.com/trackplan/trackplan/planfile"
)

const linesYAML = `version: 1
events:
  - name: Report Exported
    type: track
    properties:
      - name: format
        type: string
      - {name: row_count, type: integer}
  - name: User Traits
    type: identify
    properties:
      - name: email
        type: string
  - type: group
    name: group
`

const linesJSON = `{
  "version": 1,
  "events": [
    {
      "name": "Report Exported",
      "type": "track",
      "properties": [
        {
          "name": "format",
          "type": "string"
        },
        {"name": "row_count", "type": "integer"}
      ]
    },
    {
      "name": "User Traits",
      "type": "identify",
      "properties": [
        {
          "type": "string",
          "name": "email"
        }
      ]
    },
    {"type": "group", "name": "group"}
  ]
}
`

func TestLines(t *testing.T) {
	tests := []struct {
		format      planfile.Format
		data        string
		event, path string
		want        int
	}{
		{planfile.YAML, linesYAML, "Report Exported", "", 3},
		{planfile.YAML, linesYAML, "Report Exported", "format", 6},
		{planfile.YAML, linesYAML, "Report Exported", "row_count", 8},
		{planfile.YAML, linesYAML, "Report Exported", "color", 3}, // unplanned property: the event
		{planfile.YAML, linesYAML, "identify", "", 9},             // observed under the call type
		{planfile.YAML, linesYAML, "identify", "email", 12},
		{planfile.YAML, linesYAML, "User Traits", "email", 12},
		{planfile.YAML, linesYAML, "group", "", 15},
		{planfile.YAML, linesYAML, "Report Shared", "", 0},
		{planfile.YAML, linesYAML, "", "users.email", 0},
		{planfile.JSON, linesJSON, "Report Exported", "", 5},
		{planfile.JSON, linesJSON, "Report Exported", "format", 9},
		{planfile.JSON, linesJSON, "Report Exported", "row_count", 12},
		{planfile.JSON, linesJSON, "identify", "", 16},
		{planfile.JSON, linesJSON, "identify", "email", 21},
		{planfile.JSON, linesJSON, "group", "", 25},
		{"", linesJSON, "Report Exported", "format", 9},
		{"", linesYAML, "Report Exported", "format", 6},
	}
	for _, tt := range tests {
		l, err := planfile.ParseLines([]byte(tt.data), tt.format)
		if err != nil {
			t.Fatalf("%s: %v", tt.format, err)
		}
		if got := l.Line(tt.event, tt.path); got != tt.want {
			t.Errorf("%q: Line(%q, %q) = %d; want %d", tt.format, tt.event, tt.path, got, tt.want)
		}
	}
}

func TestLoadLines(t *testing.T) {
	l, err := planfile.LoadLines(filepath.Join("testdata", "valid", "product-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if l.Event("Report Exported") == 0 || l.Property("Report Exported", "format") <= l.Event("Report Exported") {
		t.Errorf("product example: event line %d, format line %d", l.Event("Report Exported"), l.Property("Report Exported", "format"))
	}
	for _, tt := range []struct {
		format planfile.Format
		data   string
		want   int
	}{{planfile.YAML, linesYAML, 2}, {planfile.JSON, linesJSON, 3}, {planfile.YAML, "version: 1\n", 1}} {
		l, err := planfile.ParseLines([]byte(tt.data), tt.format)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Events(); got != tt.want {
			t.Errorf("%s: Events() = %d; want %d", tt.format, got, tt.want)
		}
	}
	var nilLines *planfile.Lines
	if nilLines.Line("Report Exported", "format") != 0 {
		t.Error("nil Lines found a line")
	}
	if _, err := planfile.ParseLines([]byte("events: [\n"), planfile.YAML); err == nil {
		t.Error("malformed YAML accepted")
	}
	if _, err := planfile.LoadLines("plan.txt"); err == nil {
		t.Error("unknown extension accepted")
	}
}
