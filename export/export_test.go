package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/export"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/templates"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

// plans are the plans every export is checked on: the B2B SaaS template,
// and a small plan with nested paths, nullable and numeric constraints and
// a property planned differently in two events.
func plans(t *testing.T) map[string]*trackplan.Plan {
	t.Helper()
	b2b, err := templates.Plan("b2b-saas")
	if err != nil {
		t.Fatal(err)
	}
	nested, err := planfile.Load(filepath.Join("testdata", "nested.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*trackplan.Plan{"b2b-saas": b2b, "nested": nested}
}

func TestGolden(t *testing.T) {
	writers := []struct {
		ext   string
		write func(io.Writer, *trackplan.Plan) error
	}{
		{"schema.json", export.WriteJSONSchema},
		{"segment.json", export.WriteSegmentRules},
		{"rudderstack.yaml", func(w io.Writer, p *trackplan.Plan) error { return export.WriteRudderStack(w, p, "") }},
		{"amplitude.csv", export.WriteAmplitudeCSV},
		{"amplitude-users.csv", export.WriteAmplitudeUserPropertiesCSV},
	}
	for name, p := range plans(t) {
		for _, w := range writers {
			t.Run(name+"."+w.ext, func(t *testing.T) {
				var buf bytes.Buffer
				if err := w.write(&buf, p); err != nil {
					t.Fatal(err)
				}
				golden(t, name+"."+w.ext, buf.Bytes())
			})
		}
	}
}

func TestJSONSchemaWrapper(t *testing.T) {
	schemas := export.JSONSchema(plans(t)["b2b-saas"])
	byName := map[string]export.EventSchema{}
	for _, s := range schemas {
		byName[s.Name] = s
		if s.Schema.Schema != export.SchemaDraft {
			t.Errorf("%s: $schema %q", s.Name, s.Schema.Schema)
		}
	}
	re := byName["Report Exported"].Schema
	inner := re.Properties["properties"]
	if inner == nil || re.Properties["traits"] != nil {
		t.Fatalf("track schema wraps %v, want properties", re.Properties)
	}
	if diff := cmp.Diff([]string{"properties"}, re.Required); diff != "" {
		t.Errorf("outer required (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"report_id", "format"}, inner.Required); diff != "" {
		t.Errorf("inner required (-want +got):\n%s", diff)
	}
	if f := inner.Properties["format"]; f == nil || len(f.Enum) != 3 {
		t.Errorf("format schema %+v", f)
	}
	id := byName["identify"].Schema
	if id.Properties["traits"] == nil {
		t.Errorf("identify schema wraps %v, want traits", id.Properties)
	}
	if ca := id.Properties["traits"].Properties["created_at"]; ca == nil || ca.Format != "date-time" {
		t.Errorf("created_at schema %+v, want a date-time string", ca)
	}
}

func TestSegmentRuleTypes(t *testing.T) {
	var types []string
	keys := map[string]string{}
	for _, r := range export.SegmentRules(plans(t)["b2b-saas"]) {
		if len(types) == 0 || types[len(types)-1] != r.Type {
			types = append(types, r.Type)
		}
		keys[r.Type] = r.Key
	}
	if diff := cmp.Diff([]string{"IDENTIFY", "GROUP", "PAGE", "TRACK"}, types); diff != "" {
		t.Errorf("rule types in order (-want +got):\n%s", diff)
	}
	if keys["IDENTIFY"] != "" || keys["GROUP"] != "" || keys["PAGE"] != "Page Viewed" {
		t.Errorf("rule keys %v", keys)
	}
}

// TestRudderStackReferences reads the export back and checks every
// reference resolves to a definition.
func TestRudderStackReferences(t *testing.T) {
	for name, p := range plans(t) {
		var buf bytes.Buffer
		if err := export.WriteRudderStack(&buf, p, "web"); err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(&buf)
		var docs []map[string]any
		for {
			var d map[string]any
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, d)
		}
		if len(docs) != 3 {
			t.Fatalf("%s: %d documents, want 3", name, len(docs))
		}
		defined := map[string]bool{}
		for _, d := range docs {
			if d["version"] != export.RudderStackVersion {
				t.Errorf("%s: version %v", name, d["version"])
			}
			spec := d["spec"].(map[string]any)
			for _, kind := range []string{"properties", "events"} {
				list, _ := spec[kind].([]any)
				for _, item := range list {
					id := item.(map[string]any)["id"].(string)
					ref := "#property:" + id
					if kind == "events" {
						ref = "#event:" + id
					}
					if defined[ref] {
						t.Errorf("%s: %s defined twice", name, ref)
					}
					defined[ref] = true
				}
			}
		}
		var check func(props []any)
		check = func(props []any) {
			for _, pr := range props {
				m := pr.(map[string]any)
				if ref := m["property"].(string); !defined[ref] {
					t.Errorf("%s: undefined %s", name, ref)
				}
				nested, _ := m["properties"].([]any)
				check(nested)
			}
		}
		rules := docs[2]["spec"].(map[string]any)["rules"].([]any)
		if len(rules) != len(p.Events) {
			t.Errorf("%s: %d rules, want %d", name, len(rules), len(p.Events))
		}
		for _, r := range rules {
			m := r.(map[string]any)
			if ref := m["event"].(string); !defined[ref] {
				t.Errorf("%s: undefined %s", name, ref)
			}
			props, _ := m["properties"].([]any)
			check(props)
		}
	}
}

func TestAmplitudeCSV(t *testing.T) {
	p := plans(t)["b2b-saas"]
	var buf bytes.Buffer
	if err := export.WriteAmplitudeCSV(&buf, p); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(export.AmplitudeEventColumns, rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	events, props := 0, 0
	for _, e := range p.Events {
		if e.CallType() != trackplan.Identify && e.CallType() != trackplan.Group {
			events++
			props += len(e.Properties)
		}
	}
	if got := len(rows) - 1; got != events+props {
		t.Errorf("%d rows, want %d events and %d properties", got, events, props)
	}
	for _, r := range rows[1:] {
		if len(r) != len(export.AmplitudeEventColumns) {
			t.Fatalf("row has %d columns", len(r))
		}
	}
}

func TestEmptyPlan(t *testing.T) {
	for _, p := range []*trackplan.Plan{nil, {}} {
		var buf bytes.Buffer
		if err := export.WriteJSONSchema(&buf, p); err != nil || strings.TrimSpace(buf.String()) != "[]" {
			t.Errorf("JSONSchema(%v) = %q, %v", p, buf.String(), err)
		}
		if err := export.WriteRudderStack(io.Discard, p, ""); err != nil {
			t.Error(err)
		}
		if err := export.WriteAmplitudeCSV(io.Discard, p); err != nil {
			t.Error(err)
		}
		if err := export.WriteAmplitudeUserPropertiesCSV(io.Discard, p); err != nil {
			t.Error(err)
		}
	}
	var s export.Types = []string{"string", "null"}
	if b, _ := json.Marshal(s); string(b) != `["string","null"]` {
		t.Errorf("Types = %s", b)
	}
}
