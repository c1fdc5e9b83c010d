package export_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/export"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/templates"
)

// TestJSONSchemaDraft07 checks the JSON Schema export with a draft-07
// validator (santhosh-tekuri/jsonschema): every event schema of every
// template compiles as draft-07 (which validates it against the draft-07
// meta-schema) with format assertions on, the Segment export's rule
// schemas too, and simulate's traffic for the template — clean by the
// plan — passes its event's schema: the export says what the plan says.
func TestJSONSchemaDraft07(t *testing.T) {
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, name := range templates.Names() {
		t.Run(name, func(t *testing.T) {
			p, err := templates.Plan(name)
			if err != nil {
				t.Fatal(err)
			}
			compiled := map[string]*jsonschema.Schema{}
			for i, es := range export.JSONSchema(p) {
				compiled[string(es.Type)+"/"+es.Name] = compileDraft07(t, fmt.Sprintf("%s-%d.json", name, i), es.Schema)
			}
			for i, r := range export.SegmentRules(p) {
				compileDraft07(t, fmt.Sprintf("%s-rule-%d.json", name, i), r.JSONSchema)
			}
			g, err := simulate.New(p, simulate.Options{Accounts: 4, UsersPerAccount: 3, Days: 3, Seed: 3, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			failures := map[string]int{}
			if err := g.Generate(func(m *trackplan.Message) error {
				key := string(m.Type) + "/" + m.EventName()
				if m.Type == trackplan.Identify || m.Type == trackplan.Group {
					e := p.Lookup(m.Type, "")
					if e == nil {
						return nil // not planned: the plan checks nothing
					}
					key = string(m.Type) + "/" + e.Name
				}
				sch := compiled[key]
				if sch == nil {
					failures["no schema for "+key]++
					return nil
				}
				wrapper := "properties"
				if m.Type == trackplan.Identify || m.Type == trackplan.Group {
					wrapper = "traits"
				}
				doc, err := json.Marshal(map[string]any{wrapper: m.Payload()})
				if err != nil {
					return err
				}
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
				if err != nil {
					return err
				}
				if err := sch.Validate(inst); err != nil {
					failures[key+": "+strings.ReplaceAll(err.Error(), "\n", " ")]++
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for f, n := range failures {
				t.Errorf("%d × %s", n, f)
			}
		})
	}
}

func compileDraft07(t *testing.T, name string, s *export.Schema) *jsonschema.Schema {
	t.Helper()
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft7)
	c.AssertFormat()
	url := "https://trackplan.invalid/" + name
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		t.Fatalf("%s is not a valid draft-07 schema: %v\n%s", name, err, data)
	}
	return sch
}

// TestJSONSchemaDraft07Rejects: the validator does reject a message that
// breaks the exported schema.
func TestJSONSchemaDraft07Rejects(t *testing.T) {
	p, err := templates.Plan(templates.Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, es := range export.JSONSchema(p) {
		if es.Name != "Report Exported" {
			continue
		}
		sch := compileDraft07(t, "report-exported.json", es.Schema)
		inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"properties": {"report_id": "r1", "format": "docx"}}`))
		if err := sch.Validate(inst); err == nil {
			t.Error("an enum violation passed the schema")
		}
		return
	}
	t.Fatal("no Report Exported schema")
}
