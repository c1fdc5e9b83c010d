package export_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
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
		{"segment.json", func(w io.Writer, p *trackplan.Plan) error { return export.WriteSegmentRules(w, p, "Web App") }},
		{"rudderstack.yaml", writeRudderStack},
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

// writeRudderStack writes the files of the RudderStack export one after
// the other, each under a comment naming it, for the golden files.
func writeRudderStack(w io.Writer, p *trackplan.Plan) error {
	files, notes, err := export.RudderStack(p, "web/app plan.yaml")
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintf(w, "# note: %s\n", n)
	}
	for _, f := range files {
		fmt.Fprintf(w, "# %s\n%s", f.Name, f.Data)
	}
	return nil
}

// rudderDisplayName is rudder-cli's pattern for a tracking plan's display
// name (cli/internal/providers/datacatalog/rules/constants.go in
// rudderlabs/rudder-iac).
var rudderDisplayName = regexp.MustCompile(`^[A-Z_a-z][ \w,.-]{1,63}[\w,.-]$`)

// TestRudderStackProject reads the export back and checks what rudder-cli
// checks: one spec per file, every reference resolving to a definition,
// catalog properties unique by name, type and item type, a valid display
// name, identity_section traits on identify and group rules, unplanned
// properties allowed, and deprecated events without a rule.
func TestRudderStackProject(t *testing.T) {
	for name, p := range plans(t) {
		files, _, err := export.RudderStack(p, "plans/"+name+".yaml")
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 3 {
			t.Fatalf("%s: %d files, want 3", name, len(files))
		}
		docs := map[string]map[string]any{}
		for _, f := range files {
			dec := yaml.NewDecoder(bytes.NewReader(f.Data))
			var d map[string]any
			if err := dec.Decode(&d); err != nil {
				t.Fatal(err)
			}
			if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
				t.Errorf("%s: %s holds more than one document", name, f.Name)
			}
			if d["version"] != export.RudderStackVersion {
				t.Errorf("%s: version %v", name, d["version"])
			}
			docs[d["kind"].(string)] = d["spec"].(map[string]any)
		}
		defined := map[string]bool{}
		unique := map[string]string{}
		for _, kind := range []string{"properties", "events"} {
			list, _ := docs[kind][kind].([]any)
			for _, item := range list {
				m := item.(map[string]any)
				id := m["id"].(string)
				ref := "#property:" + id
				if kind == "events" {
					ref = "#event:" + id
				} else {
					key := fmt.Sprint(m["name"], "|", m["type"], m["types"], "|", m["item_type"])
					if other, dup := unique[key]; dup {
						t.Errorf("%s: properties %s and %s have the same name, type and item type", name, other, id)
					}
					unique[key] = id
				}
				if defined[ref] {
					t.Errorf("%s: %s defined twice", name, ref)
				}
				defined[ref] = true
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
		tp := docs["tracking-plan"]
		if dn := tp["display_name"].(string); !rudderDisplayName.MatchString(dn) {
			t.Errorf("%s: display name %q does not fit rudder-cli's pattern", name, dn)
		}
		rules := tp["rules"].([]any)
		want := 0
		for _, e := range p.Events {
			if e.Status != trackplan.StatusDeprecated {
				want++
			}
		}
		if len(rules) != want {
			t.Errorf("%s: %d rules, want %d", name, len(rules), want)
		}
		for _, r := range rules {
			m := r.(map[string]any)
			ref := m["event"].(string)
			if !defined[ref] {
				t.Errorf("%s: undefined %s", name, ref)
			}
			if m["additional_properties"] != true {
				t.Errorf("%s: %s forbids unplanned properties", name, ref)
			}
			section, _ := m["identity_section"].(string)
			if isIdentity := ref == "#event:identify" || ref == "#event:group"; isIdentity != (section == "traits") {
				t.Errorf("%s: %s has identity_section %q", name, ref, section)
			}
			props, _ := m["properties"].([]any)
			check(props)
		}
	}
}

func TestRudderStackDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "Tracking Plan",
		"plans/web.yaml":        "plans web.yaml",
		"1f2e3d4c5b6a":          "Plan 1f2e3d4c5b6a",
		"a":                     "a__",
		"Growth – Web & iOS":    "Growth Web iOS",
		strings.Repeat("x", 80): strings.Repeat("x", 65),
	} {
		got := export.RudderStackDisplayName(in)
		if got != want || !rudderDisplayName.MatchString(got) {
			t.Errorf("RudderStackDisplayName(%q) = %q, want %q matching rudder-cli's pattern", in, got, want)
		}
	}
}

// TestRudderStackSharedName checks that a name planned with different
// constraints becomes one catalog property with what they share, and a
// note.
func TestRudderStackSharedName(t *testing.T) {
	p := &trackplan.Plan{Events: []*trackplan.Event{
		{Name: "identify", Type: trackplan.Identify, Properties: []*trackplan.Property{{Name: "email", Type: trackplan.PropString, Pattern: "@"}}},
		{Name: "Invite Sent", Properties: []*trackplan.Property{{Name: "email", Type: trackplan.PropString}}},
	}}
	files, notes, err := export.RudderStack(p, "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "pattern") {
		t.Errorf("notes = %q, want one about the pattern", notes)
	}
	if props := string(files[0].Data); strings.Count(props, "name: email") != 1 || strings.Contains(props, "pattern") {
		t.Errorf("properties:\n%s\nwant one email without a pattern", props)
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
		if _, _, err := export.RudderStack(p, ""); err != nil {
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
