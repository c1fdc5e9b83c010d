package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/trackplan/trackplan"
)

// ciFixture has findings of every severity, planned and unplanned, with
// and without an event, and with text that needs escaping.
func ciFixture() *Report {
	f := func(code trackplan.Code, sev trackplan.Severity, source, event, path, exp, obs string, n int64, rate float64) trackplan.Finding {
		return trackplan.Finding{Code: code, Severity: sev, Source: source, Event: event, Path: path, Expected: exp, Observed: obs,
			Count: n, Rate: rate, LastSeen: t0.Add(-time1h), Fingerprint: trackplan.Fingerprint(string(code), "", event, path)}
	}
	r := &Report{Plan: "0123456789abcdef", From: t0.Add(-7 * 24 * time1h), To: t0,
		Summary: Summary{EventsPlanned: 3, EventsSeen: 3},
		Findings: []trackplan.Finding{
			f(trackplan.EnumViolation, trackplan.SeverityError, "", "Report Exported", "format", "csv, pdf", "xlsx", 12, 0.25),
			f(trackplan.UnplannedEvent, trackplan.SeverityError, "web", "Report Shared", "", "", "", 3, 0),
			f(trackplan.UnplannedProperty, trackplan.SeverityWarning, "", "Report Exported", "color", "", "string", 1, 1),
			f(trackplan.BestPractice, trackplan.SeverityWarning, "", "", "users.email", "every identified user has an email trait", "2 of 5 without", 2, 0.4),
			f(trackplan.Naming, trackplan.SeverityInfo, "", "signed_up", "", "Object Action in Title Case", "50% lower, case: a,b\nc", 0, 0),
			f(trackplan.BestPractice, trackplan.SeverityInfo, "", "", "", "10–30 scored events", "2", 0, 0),
		}}
	r.Recount()
	return r
}

const time1h = 3600 * 1e9

var ciLines = map[[2]string]int{
	{"Report Exported", ""}: 3, {"Report Exported", "format"}: 9, {"Report Exported", "color"}: 3,
	{"signed_up", ""}: 20,
}

func ciLocator() *Locator {
	return &Locator{File: "plans/tracking plan.yaml", Anchor: 2, Line: func(event, path string) int {
		if n := ciLines[[2]string{event, path}]; n > 0 {
			return n
		}
		return ciLines[[2]string{event, ""}]
	}}
}

var failOns = []FailOn{FailOnError, FailOnWarning, FailOnNever}

// TestCodesCoverFindingCodes: every Code constant of the trackplan package
// has a description, so SARIF rules and the filters know it.
func TestCodesCoverFindingCodes(t *testing.T) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, filepath.Join("..", "finding.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var declared []trackplan.Code
	ast.Inspect(file, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Code" {
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					declared = append(declared, trackplan.Code(strings.Trim(lit.Value, `"`)))
				}
			}
		}
		return true
	})
	if len(declared) < 10 {
		t.Fatalf("found only %d codes in finding.go: %v", len(declared), declared)
	}
	got := Codes()
	for _, c := range declared {
		if !slices.Contains(got, c) || Describe(c) == "" {
			t.Errorf("code %s has no description in report.codes", c)
		}
	}
	if len(got) != len(declared) {
		t.Errorf("Codes() = %v; finding.go declares %v", got, declared)
	}
}

func TestFailOnIncludes(t *testing.T) {
	for _, tt := range []struct {
		on                   FailOn
		error, warning, info bool
	}{
		{FailOnError, true, false, false},
		{"", true, false, false},
		{FailOnWarning, true, true, false},
		{FailOnNever, false, false, false},
	} {
		got := [3]bool{tt.on.Includes(trackplan.SeverityError), tt.on.Includes(trackplan.SeverityWarning), tt.on.Includes(trackplan.SeverityInfo)}
		if got != [3]bool{tt.error, tt.warning, tt.info} {
			t.Errorf("fail-on %q includes error/warning/info = %v", tt.on, got)
		}
	}
}

type xmlSuites struct {
	Suites []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name      string `xml:"name,attr"`
			ClassName string `xml:"classname,attr"`
			Failure   *struct {
				Message string `xml:"message,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// TestJUnitFailOn: a test case fails exactly when it has a finding at or
// above --fail-on; the findings below it are in its output, none lost.
func TestJUnitFailOn(t *testing.T) {
	for _, on := range failOns {
		for _, kind := range []string{"", "lint"} {
			r := ciFixture()
			var buf bytes.Buffer
			if err := WriteJUnit(&buf, r, JUnitOptions{Events: []string{"Report Exported", "Comment Added"}, FailOn: on, Kind: kind}); err != nil {
				t.Fatal(err)
			}
			var got xmlSuites
			if err := xml.Unmarshal(buf.Bytes(), &got); err != nil {
				t.Fatalf("fail-on %s: %v\n%s", on, err, buf.String())
			}
			if len(got.Suites) != 1 {
				t.Fatalf("fail-on %s: %d suites", on, len(got.Suites))
			}
			s := got.Suites[0]
			if want := "trackplan " + cmpOr(kind, "drift"); s.Name != want {
				t.Errorf("suite %q; want %q", s.Name, want)
			}
			wantFailing := map[string]bool{}
			for _, f := range r.Findings {
				if on.Includes(f.Severity) {
					wantFailing[cmpOr(f.Event, "(plan-wide)")] = true
				}
			}
			failures, mentioned := 0, 0
			for _, c := range s.Cases {
				if c.Failure != nil {
					failures++
				}
				if (c.Failure != nil) != wantFailing[c.Name] {
					t.Errorf("fail-on %s: case %q failing = %v; want %v", on, c.Name, c.Failure != nil, wantFailing[c.Name])
				}
				text := c.SystemOut
				if c.Failure != nil {
					text += "\n" + c.Failure.Body
					for _, l := range strings.Split(c.Failure.Body, "\n") {
						if sev := trackplan.Severity(strings.Fields(l)[0]); !on.Includes(sev) {
							t.Errorf("fail-on %s: %q in a failure", on, l)
						}
					}
				}
				for _, f := range r.Findings {
					if cmpOr(f.Event, "(plan-wide)") == c.Name && strings.Contains(text, string(f.Code)) {
						mentioned++
					}
				}
			}
			if failures != s.Failures || failures != len(wantFailing) {
				t.Errorf("fail-on %s: %d failing cases, failures=%d; want %d", on, failures, s.Failures, len(wantFailing))
			}
			if on == FailOnNever && failures != 0 {
				t.Errorf("fail-on never: %d failures", failures)
			}
			if mentioned < len(r.Findings) {
				t.Errorf("fail-on %s: %d of %d findings described", on, mentioned, len(r.Findings))
			}
			if s.Tests != len(s.Cases) || s.Tests != 5 { // Comment Added, Report Exported, Report Shared, signed_up, (plan-wide)
				t.Errorf("fail-on %s: tests=%d, %d cases; want 5", on, s.Tests, len(s.Cases))
			}
		}
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var sarifSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	return c.Compile(filepath.Join("testdata", "sarif-schema-2.1.0.json"))
})

// validateSARIF checks data against the official SARIF 2.1.0 schema
// (testdata/sarif-schema-2.1.0.json, from oasis-tcs/sarif-spec).
func validateSARIF(t *testing.T, data []byte) {
	t.Helper()
	sch, err := sarifSchema()
	if err != nil {
		t.Fatalf("compile the SARIF schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("SARIF output is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF output fails the 2.1.0 schema: %v\n%s", err, data)
	}
}

// TestSARIFSchemaRejects: the validator does reject what breaks the schema.
func TestSARIFSchemaRejects(t *testing.T) {
	sch, err := sarifSchema()
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {}}}]}`,
		`{"version": "2.0.0", "runs": []}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "level": "fatal"}]}]}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "locations": [{"physicalLocation": {"region": {"startLine": 0}}}]}]}]}`,
	} {
		inst, err := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if sch.Validate(inst) == nil {
			t.Errorf("the schema accepted %s", bad)
		}
	}
}

type sarifDoc struct {
	Schema string `json:"$schema"`
	Runs   []struct {
		Tool struct {
			Driver struct {
				Name  string
				Rules []struct {
					ID               string
					ShortDescription struct{ Text string }
				}
			}
		}
		Results []struct {
			RuleID              string
			RuleIndex           int
			Level               string
			Message             struct{ Text string }
			PartialFingerprints map[string]string
			Locations           []struct {
				PhysicalLocation *struct {
					ArtifactLocation struct{ URI string }
					Region           *struct{ StartLine int }
				}
				LogicalLocations []struct {
					Name, FullyQualifiedName, Kind string
				}
			}
		}
	}
}

func TestSARIF(t *testing.T) {
	for _, tt := range []struct {
		name string
		r    *Report
		loc  *Locator
	}{
		{"located", ciFixture(), ciLocator()},
		{"no plan file", ciFixture(), nil},
		{"empty", &Report{}, ciLocator()},
		{"absolute path", ciFixture(), &Locator{File: "/tmp/x y/plan.json", Line: ciLocator().Line}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteSARIF(&buf, tt.r, SARIFOptions{Version: "1.2.3", Locator: tt.loc, Kind: "drift"}); err != nil {
				t.Fatal(err)
			}
			validateSARIF(t, buf.Bytes())
			var doc sarifDoc
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Runs) != 1 || doc.Runs[0].Tool.Driver.Name != "trackplan" {
				t.Fatalf("runs: %+v", doc.Runs)
			}
			run := doc.Runs[0]
			if len(run.Results) != len(tt.r.Findings) {
				t.Fatalf("%d results for %d findings", len(run.Results), len(tt.r.Findings))
			}
			var codes []string
			for _, f := range tt.r.Findings {
				if !slices.Contains(codes, string(f.Code)) {
					codes = append(codes, string(f.Code))
				}
			}
			if len(run.Tool.Driver.Rules) != len(codes) {
				t.Errorf("%d rules for codes %v", len(run.Tool.Driver.Rules), codes)
			}
			for _, rule := range run.Tool.Driver.Rules {
				if rule.ShortDescription.Text == "" || !slices.Contains(codes, rule.ID) {
					t.Errorf("rule %+v", rule)
				}
			}
			for i, res := range run.Results {
				f := tt.r.Findings[i]
				if res.RuleID != string(f.Code) || run.Tool.Driver.Rules[res.RuleIndex].ID != res.RuleID {
					t.Errorf("result %d: rule %s (index %d) for %s", i, res.RuleID, res.RuleIndex, f.Code)
				}
				want := map[trackplan.Severity]string{trackplan.SeverityError: "error", trackplan.SeverityWarning: "warning", trackplan.SeverityInfo: "note"}[f.Severity]
				if res.Level != want {
					t.Errorf("result %d: level %s; want %s", i, res.Level, want)
				}
				if res.PartialFingerprints[FingerprintKey] != f.Fingerprint {
					t.Errorf("result %d: fingerprints %v; want %s", i, res.PartialFingerprints, f.Fingerprint)
				}
				if res.Message.Text != Message(f) {
					t.Errorf("result %d: message %q", i, res.Message.Text)
				}
				if len(res.Locations) != 1 || len(res.Locations[0].LogicalLocations) != 1 {
					t.Fatalf("result %d: locations %+v", i, res.Locations)
				}
				phys := res.Locations[0].PhysicalLocation
				if tt.loc == nil {
					if phys != nil {
						t.Errorf("result %d: a physical location without a plan file", i)
					}
					continue
				}
				if phys == nil || phys.Region == nil {
					t.Fatalf("result %d: no physical location", i)
				}
				wantLine := tt.loc.Line(f.Event, f.Path)
				if wantLine == 0 {
					wantLine = max(tt.loc.Anchor, 1)
				}
				if phys.Region.StartLine != wantLine {
					t.Errorf("result %d (%s %s): line %d; want %d", i, f.Event, f.Path, phys.Region.StartLine, wantLine)
				}
			}
			if tt.name == "located" {
				res := run.Results[0] // ENUM_VIOLATION Report Exported.format
				if u := res.Locations[0].PhysicalLocation.ArtifactLocation.URI; u != "plans/tracking%20plan.yaml" {
					t.Errorf("uri %q", u)
				}
				if l := res.Locations[0].LogicalLocations[0]; l.FullyQualifiedName != "Report Exported.format" || l.Kind != "property" {
					t.Errorf("logical location %+v", l)
				}
			}
			if tt.name == "absolute path" {
				if u := run.Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI; u != "file:///tmp/x%20y/plan.json" {
					t.Errorf("uri %q", u)
				}
			}
		})
	}
}

func TestGitHub(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteGitHub(&buf, ciFixture(), ciLocator()); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"::error file=plans/tracking plan.yaml,line=9,title=ENUM_VIOLATION::Report Exported.format: expected csv, pdf, observed xlsx (12 messages, 25.0%25)",
		"::error file=plans/tracking plan.yaml,line=2,title=UNPLANNED_EVENT::Report Shared: an event arrived that the plan does not have (3 messages; source web)",
		"::warning file=plans/tracking plan.yaml,line=3,title=UNPLANNED_PROPERTY::Report Exported.color: expected —, observed string (1 message)",
		"::warning file=plans/tracking plan.yaml,line=2,title=BEST_PRACTICE::users.email: expected every identified user has an email trait, observed 2 of 5 without",
		"::notice file=plans/tracking plan.yaml,line=20,title=NAMING::signed_up: expected Object Action in Title Case, observed 50%25 lower, case: a,b%0Ac",
		"::notice file=plans/tracking plan.yaml,line=2,title=BEST_PRACTICE::plan: expected 10–30 scored events, observed 2",
	}, "\n") + "\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}

	buf.Reset()
	WriteGitHub(&buf, ciFixture(), nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 || lines[0] != "::error title=ENUM_VIOLATION::Report Exported.format: expected csv, pdf, observed xlsx (12 messages, 25.0%25)" {
		t.Errorf("without a plan file:\n%s", buf.String())
	}

	// Properties escape : and , as well.
	buf.Reset()
	WriteGitHub(&buf, &Report{Findings: []trackplan.Finding{{Code: "X", Severity: trackplan.SeverityError, Event: "E"}}},
		&Locator{File: "a,b:c%d.yaml", Line: func(string, string) int { return 4 }})
	if got, want := buf.String(), "::error file=a%2Cb%3Ac%25d.yaml,line=4,title=X::E: X\n"; got != want {
		t.Errorf("escaping: %q; want %q", got, want)
	}
}

func TestFilter(t *testing.T) {
	if _, err := ParseCodes([]string{"ENUM_VIOLATION,NOPE"}); err == nil || !strings.Contains(err.Error(), "UNPLANNED_EVENT") ||
		!strings.Contains(err.Error(), `"NOPE"`) {
		t.Errorf("unknown code: %v; want an error naming it and listing the valid codes", err)
	}
	if _, err := ParseSeverity("fatal"); err == nil {
		t.Error("severity fatal accepted")
	}
	codes, err := ParseCodes([]string{"enum_violation, UNPLANNED_EVENT", "ENUM_VIOLATION", ""})
	if err != nil || !slices.Equal(codes, []trackplan.Code{trackplan.EnumViolation, trackplan.UnplannedEvent}) {
		t.Errorf("ParseCodes = %v, %v", codes, err)
	}
	tests := []struct {
		name  string
		flt   Filter
		codes []string // kept, in order
		fails map[FailOn]bool
	}{
		{"none", Filter{}, []string{"ENUM_VIOLATION", "UNPLANNED_EVENT", "UNPLANNED_PROPERTY", "BEST_PRACTICE", "NAMING", "BEST_PRACTICE"},
			map[FailOn]bool{FailOnError: true, FailOnWarning: true}},
		{"min warning", Filter{MinSeverity: trackplan.SeverityWarning}, []string{"ENUM_VIOLATION", "UNPLANNED_EVENT", "UNPLANNED_PROPERTY", "BEST_PRACTICE"},
			map[FailOn]bool{FailOnError: true, FailOnWarning: true}},
		{"min error", Filter{MinSeverity: trackplan.SeverityError}, []string{"ENUM_VIOLATION", "UNPLANNED_EVENT"},
			map[FailOn]bool{FailOnError: true, FailOnWarning: true}},
		{"only", Filter{Only: []trackplan.Code{trackplan.BestPractice, trackplan.Naming}}, []string{"BEST_PRACTICE", "NAMING", "BEST_PRACTICE"},
			map[FailOn]bool{FailOnWarning: true}},
		{"ignore errors", Filter{Ignore: []trackplan.Code{trackplan.EnumViolation, trackplan.UnplannedEvent}},
			[]string{"UNPLANNED_PROPERTY", "BEST_PRACTICE", "NAMING", "BEST_PRACTICE"}, map[FailOn]bool{FailOnWarning: true}},
		{"ignore wins", Filter{Only: []trackplan.Code{trackplan.Naming}, Ignore: []trackplan.Code{trackplan.Naming}}, nil, map[FailOn]bool{}},
		{"only and min", Filter{MinSeverity: trackplan.SeverityWarning, Only: []trackplan.Code{trackplan.BestPractice}}, []string{"BEST_PRACTICE"},
			map[FailOn]bool{FailOnWarning: true}},
	}
	for _, tt := range tests {
		r := ciFixture()
		total := len(r.Findings)
		tt.flt.Apply(r)
		var got []string
		for _, f := range r.Findings {
			got = append(got, string(f.Code))
		}
		if !slices.Equal(got, tt.codes) {
			t.Errorf("%s: kept %v; want %v", tt.name, got, tt.codes)
		}
		if r.Summary.Filtered != total-len(got) || r.Summary.Errors+r.Summary.Warnings+r.Summary.Infos != len(got) {
			t.Errorf("%s: summary %+v", tt.name, r.Summary)
		}
		for _, on := range failOns {
			if r.Fails(on) != tt.fails[on] {
				t.Errorf("%s: fails on %s = %v", tt.name, on, r.Fails(on))
			}
		}
		var text bytes.Buffer
		WriteText(&text, r, TextOptions{})
		if filtered := strings.Contains(text.String(), "left out by filters"); filtered != (r.Summary.Filtered > 0) {
			t.Errorf("%s: text says filtered = %v:\n%s", tt.name, filtered, text.String())
		}
	}
}

func TestMessage(t *testing.T) {
	for _, tt := range []struct {
		f    trackplan.Finding
		want string
	}{
		{trackplan.Finding{Code: trackplan.EnumViolation, Event: "Report Exported", Path: "format", Expected: "csv", Observed: "xls", Count: 12, Rate: 1},
			"Report Exported.format: expected csv, observed xls (12 messages)"},
		{trackplan.Finding{Code: trackplan.PlannedNotSeen, Event: "Signed In", Expected: "traffic for a live event", Observed: "none in the window"},
			"Signed In: expected traffic for a live event, observed none in the window"},
		{trackplan.Finding{Code: trackplan.DeprecatedStillSeen, Event: "Old", Count: 1, Source: "ios"},
			"Old: a deprecated event still arrives (1 message; source ios)"},
		{trackplan.Finding{Code: "NEW_CODE"}, "plan: NEW_CODE"},
	} {
		if got := Message(tt.f); got != tt.want {
			t.Errorf("Message(%+v) = %q; want %q", tt.f, got, tt.want)
		}
	}
}
