package planimport_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planimport"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "want", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := gocmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func readFiles(t *testing.T, paths ...string) []planimport.File {
	t.Helper()
	var out []planimport.File
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, planimport.File{Name: filepath.ToSlash(p), Data: data})
	}
	return out
}

// TestFixtures imports files written the way each tool writes them and
// checks the plan and the loss report exactly. Where each shape comes
// from:
//
//   - segment/public-api-rules.json: the Public API's list of a tracking
//     plan's rules ({"data": {"rules": [...], "pagination": {...}}}, rules
//     with key, type, version, jsonSchema, createdAt, updatedAt,
//     deprecatedAt, the properties.properties / properties.traits wrapper
//     and labels), as segmentio/typewriter's src/api/api.ts types it
//     (GetTrackingPlanRulesResponse, RuleMetadata) and its
//     src/__tests__/__data__/plan.json holds it; a COMMON rule and two
//     versions of one event;
//   - segment/typewriter-plan.json: Typewriter's plan.json after it has
//     unwrapped the rules (tab indentation, sorted keys, eventMetadata,
//     "id": "/properties/..." on each property), as its
//     src/api/trackingplans.ts writes it;
//   - rudderstack/: one spec per file, rudder/v1 kinds properties,
//     events, custom-types, categories and tracking-plan with #property:
//     and #event: references, config, item_type, types, identity_section,
//     as rudderlabs/rudder-iac's validation docs
//     (cli/internal/providers/datacatalog/docs/*.docs.yaml) and its
//     localcatalog model_v1.go define them;
//   - amplitude/: Amplitude Data's CSV export (the import columns plus the
//     export's first/last seen columns, in the export's order, a row per
//     event followed by its property rows), from Amplitude's ".CSV file
//     schema reference";
//   - jsonschema/: one draft-07 schema per event, named by its file, with
//     definitions and $ref, and a 2020-12 schema titled with its event,
//     with $defs.
func TestFixtures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format planimport.Format
		files  []string
	}{
		{"segment-public-api", planimport.Segment, []string{"testdata/segment/public-api-rules.json"}},
		{"segment-typewriter", planimport.Segment, []string{"testdata/segment/typewriter-plan.json"}},
		{"rudderstack", planimport.RudderStack, []string{"testdata/rudderstack/categories.yaml", "testdata/rudderstack/custom-types.yaml",
			"testdata/rudderstack/events.yaml", "testdata/rudderstack/properties.yaml", "testdata/rudderstack/tracking-plan.yaml"}},
		{"amplitude", planimport.Amplitude, []string{"testdata/amplitude/events.csv", "testdata/amplitude/users.csv"}},
		{"jsonschema", planimport.JSONSchema, []string{"testdata/jsonschema/Video Playback Started.json", "testdata/jsonschema/search.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := planimport.Import(tc.format, readFiles(t, tc.files...), planimport.Options{Owner: "data@example.com"})
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".yaml", yamlOf(t, res.Plan))
			var report strings.Builder
			for _, n := range res.Lost {
				report.WriteString("not kept: " + n.String() + "\n")
			}
			for _, d := range res.Defaults {
				report.WriteString("default: " + d + "\n")
			}
			golden(t, tc.name+".report", report.String())
		})
	}
}

// TestBadInput checks that broken files, unknown types and duplicate
// events give one line per problem, each with its file and line (or JSON
// path).
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		format planimport.Format
		files  map[string]string
		want   []string
	}{
		{"segment broken JSON", planimport.Segment, map[string]string{"plan.json": "{\n  \"rules\": [\n    {\"key\": \"A\",\n  ]\n}\n"},
			[]string{"plan.json:4: not valid JSON: invalid character ']' looking for beginning of object key string"}},
		{"segment unknown type and duplicate", planimport.Segment, map[string]string{"plan.json": `{"rules": [
  {"key": "A B", "type": "TRACK", "version": 1, "jsonSchema": {"properties": {"properties": {"type": "object", "properties": {"x": {"type": "text"}}}}}},
  {"key": "A B", "type": "TRACK", "version": 1, "jsonSchema": {}},
  {"key": "C", "type": "ALIAS", "version": 1, "jsonSchema": {}}
]}
`},
			[]string{
				`plan.json:3: $.rules[1]: duplicate TRACK rule "A B" version 1 (also at line 2)`,
				`plan.json:4: $.rules[2].type: unknown rule type "ALIAS" (want TRACK, IDENTIFY, GROUP, PAGE, SCREEN or COMMON)`,
				`plan.json:2: $.rules[0].jsonSchema.properties.properties.properties.x.type: unknown type "text" (want string, number, integer, boolean, object, array or null)`,
			}},
		{"jsonschema duplicate across files", planimport.JSONSchema, map[string]string{
			"a.json": `{"title": "Song Played", "type": "object"}`,
			"b.json": "{\n  \"title\": \"Song Played\",\n  \"properties\": {\"n\": {\"type\": \"int\"}}\n}\n"},
			[]string{
				`b.json:3: $.properties.n.type: unknown type "int" (want string, number, integer, boolean, object, array or null)`,
				`b.json:1: $: duplicate track event "Song Played" (also at a.json:1)`,
			}},
		{"rudderstack broken, unknown type, duplicate", planimport.RudderStack, map[string]string{
			"a.yaml": "version: rudder/v1\nkind: properties\nspec:\n  properties:\n    - id: x\n      name: x\n      type: text\n",
			"b.yaml": "version: rudder/v1\nkind: events\nspec:\n  events:\n    - id: e\n      name: E\n      event_type: track\n    - id: f\n      name: E\n      event_type: track\n",
			"c.yaml": "version: rudder/v1\nkind: tracking-plan\nspec:\n  id: p\n  display_name: P\n  rules:\n    - type: event_rule\n      id: e_rule\n      event: \"#event:e\"\n      properties:\n        - property: \"#property:x\"\n    - type: event_rule\n      id: f_rule\n      event: \"#event:f\"\n",
			"d.yaml": "version: rudder/v1\nkind: events\nspec: [\n",
		}, []string{
			`d.yaml:3: not valid YAML: yaml: line 3: did not find expected node content`,
			`a.yaml:7: spec.properties[0].type: unknown type "text" (want string, number, integer, boolean, object, array, null or #custom-type:<id>)`,
			`c.yaml:12: spec.rules[1]: duplicate track event "E" (also at c.yaml:7)`,
		}},
		{"amplitude broken, unknown type, duplicate", planimport.Amplitude, map[string]string{
			"events.csv": "Object Type,Object Name,Property Type,Event Property Name,Property Value Type\nEvent,A,,,\n,,Event Property,x,text\nEvent,A,,,\nEvent,\"B,,,\n",
		}, []string{
			`events.csv:3: property "x": unknown Property Value Type "text" (want string, number, boolean, any, enum or const)`,
			`events.csv:5: not valid CSV: parse error on line 5, column 13: extraneous or missing " in quoted-field`,
		}},
		{"amplitude duplicate event", planimport.Amplitude, map[string]string{
			"events.csv": "Object Type,Object Name,Property Type,Event Property Name,Property Value Type\nEvent,A,,,\nEvent,A,,,\n",
		}, []string{`events.csv:3: duplicate track event "A" (also at events.csv:2)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var files []planimport.File
			for _, name := range sortedKeys(tc.files) {
				files = append(files, planimport.File{Name: name, Data: []byte(tc.files[name])})
			}
			_, err := planimport.Import(tc.format, files, planimport.Options{})
			var ierr *planimport.Error
			if !errors.As(err, &ierr) {
				t.Fatalf("err = %v, want an *Error", err)
			}
			if diff := gocmp.Diff(tc.want, strings.Split(ierr.Error(), "\n")); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	for i := range keys {
		for j := i + 1; j < len(keys); j++ {
			if keys[j] < keys[i] {
				keys[i], keys[j] = keys[j], keys[i]
			}
		}
	}
	return keys
}

func TestOptions(t *testing.T) {
	files := []planimport.File{{Name: "a.json", Data: []byte(`{"title": "Song Played", "type": "object"}`)}}
	res, err := planimport.Import(planimport.JSONSchema, files, planimport.Options{Status: trackplan.StatusLive, Owner: "music@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if e := res.Plan.Events[0]; e.Status != trackplan.StatusLive || e.Owner != "music@example.com" {
		t.Errorf("event %+v, want status live and the owner", e)
	}
	if _, err := planimport.Import(planimport.JSONSchema, files, planimport.Options{Status: "done"}); err == nil {
		t.Error("an unknown status was accepted")
	}
}
