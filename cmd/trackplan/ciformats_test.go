package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/report"
)

// The CI forms of `drift` and `plan lint` — JUnit, SARIF, GitHub workflow
// commands — against --fail-on and the filters. These tests run the CLI,
// whose flags are package state: none of them is parallel.

// ciDriftFiles writes the one-event export plan and traffic that drifts
// at every severity: an enum violation and an unplanned event (errors), an
// unplanned property and identity hygiene (warnings), the unplanned
// event's name (info).
func ciDriftFiles(t *testing.T) (plan, events string) {
	t.Helper()
	plan = filepath.Join(t.TempDir(), "plan.yaml")
	writeExportPlan(t, plan, []string{"csv", "pdf"}, "")
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	events = writeMessages(t, []map[string]any{
		exportMsg("1", "Report Exported", map[string]any{"format": "docx"}, at),
		exportMsg("2", "Report Exported", map[string]any{"format": "pdf", "color": "red"}, at.Add(time.Hour)),
		exportMsg("3", "report_shared", map[string]any{}, at.Add(90*time.Minute)),
	})
	return plan, events
}

// ciLintPlan writes a plan with lint findings: mixed property types and
// too few scored events (warnings), missing documentation and naming
// (infos, or warnings by the lint rules of the day).
func ciLintPlan(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lint plan.yaml")
	body := `version: 1
events:
  - name: Report Exported
    type: track
    status: live
    owner: data@acme.io
    description: A report was exported.
    properties:
      - name: format
        type: string
      - name: row_count
        type: integer
  - name: Report Created
    type: track
    properties:
      - name: row_count
        type: string
      - name: rowCount
        type: string
  - name: report viewed
    type: track
    owner: x
    description: y
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ciFindings runs args with --format json --fail-on never and returns the
// findings, the truth the other forms are checked against.
func ciFindings(t *testing.T, args ...string) []trackplan.Finding {
	t.Helper()
	code, out, stderr := trackplanRun(t, append(slices.Clone(args), "--format", "json", "--fail-on", "never")...)
	if code != 0 {
		t.Fatalf("%v --format json --fail-on never: exit %d\n%s", args, code, stderr)
	}
	var r struct {
		Findings []trackplan.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return r.Findings
}

// lineOf returns the 1-based line of the first line of file containing s.
func lineOf(t *testing.T, file, s string) int {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line with %q", file, s)
	return 0
}

// planLines gives the line a finding should point at in plan: its
// property's, else its event's, else the events list's (0: not checked).
type planLines func(f trackplan.Finding) int

func exportPlanLines(t *testing.T, plan string) planLines {
	event, format, list := lineOf(t, plan, "- name: Report Exported"), lineOf(t, plan, "- name: format"), lineOf(t, plan, "events:")
	return func(f trackplan.Finding) int {
		switch {
		case f.Event == "Report Exported" && f.Path == "format":
			return format
		case f.Event == "Report Exported":
			return event
		}
		return list
	}
}

func lintPlanLines(t *testing.T, plan string) planLines {
	lines := map[[2]string]int{
		{"Report Created", ""}:          lineOf(t, plan, "- name: Report Created"),
		{"Report Created", "row_count"}: lineOf(t, plan, "- name: Report Created") + 3,
		{"Report Created", "rowCount"}:  lineOf(t, plan, "- name: rowCount"),
		{"report viewed", ""}:           lineOf(t, plan, "- name: report viewed"),
		{"Report Exported", ""}:         lineOf(t, plan, "- name: Report Exported"),
	}
	list := lineOf(t, plan, "events:")
	return func(f trackplan.Finding) int {
		if n, ok := lines[[2]string{f.Event, f.Path}]; ok {
			return n
		}
		if f.Event == "" {
			return list
		}
		return 0
	}
}

var ciFailOns = []report.FailOn{report.FailOnError, report.FailOnWarning, report.FailOnNever}

// checkCIFormats runs base in every format under every --fail-on and
// checks each output, and the exit code, against the JSON findings.
func checkCIFormats(t *testing.T, kind string, base []string, want []trackplan.Finding, lines planLines) {
	t.Helper()
	for _, failOn := range ciFailOns {
		wantExit := 0
		if slices.ContainsFunc(want, func(f trackplan.Finding) bool { return failOn.Includes(f.Severity) }) {
			wantExit = exitFindings
		}
		for _, format := range []string{"text", "markdown", "json", "junit", "sarif", "github"} {
			t.Run(fmt.Sprintf("%s/%s", format, failOn), func(t *testing.T) {
				code, out, stderr := trackplanRun(t, append(slices.Clone(base), "--format", format, "--fail-on", string(failOn))...)
				if code != wantExit {
					t.Fatalf("exit %d; want %d\n%s", code, wantExit, stderr)
				}
				switch format {
				case "json":
					var r report.Report
					if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Findings) != len(want) {
						t.Errorf("json: %d findings (%v); want %d", len(r.Findings), err, len(want))
					}
				case "junit":
					checkJUnit(t, kind, out, want, failOn)
				case "sarif":
					checkSARIF(t, out, want, lines)
				case "github":
					checkGitHub(t, out, want, lines)
				}
			})
		}
	}
}

type junitDoc struct {
	Suites []struct {
		Name     string `xml:"name,attr"`
		Tests    int    `xml:"tests,attr"`
		Failures int    `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Body    string `xml:",chardata"`
			} `xml:"failure"`
			SystemOut string `xml:"system-out"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// checkJUnit: a test case fails exactly when its event has a finding at or
// above failOn, its failure holds only those, and every finding is
// described in its test case.
func checkJUnit(t *testing.T, kind, out string, want []trackplan.Finding, failOn report.FailOn) {
	t.Helper()
	var doc junitDoc
	if err := xml.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("junit: %v\n%s", err, out)
	}
	if len(doc.Suites) != 1 || doc.Suites[0].Name != "trackplan "+kind {
		t.Fatalf("junit suites: %+v", doc.Suites)
	}
	s := doc.Suites[0]
	caseOf := func(f trackplan.Finding) string { return cmp.Or(f.Event, "(plan-wide)") }
	failing := map[string]int{}
	for _, f := range want {
		if failOn.Includes(f.Severity) {
			failing[caseOf(f)]++
		}
	}
	failures := 0
	for _, c := range s.Cases {
		if c.Failure == nil {
			if failing[c.Name] > 0 {
				t.Errorf("junit --fail-on %s: %q passes with %d findings at or above it", failOn, c.Name, failing[c.Name])
			}
			continue
		}
		failures++
		lines := strings.Split(strings.TrimSpace(c.Failure.Body), "\n")
		if len(lines) != failing[c.Name] {
			t.Errorf("junit --fail-on %s: %q fails with %d findings; want %d:\n%s", failOn, c.Name, len(lines), failing[c.Name], c.Failure.Body)
		}
		for _, l := range lines {
			if sev := trackplan.Severity(strings.Fields(l)[0]); !failOn.Includes(sev) {
				t.Errorf("junit --fail-on %s: %q fails on %q", failOn, c.Name, l)
			}
		}
	}
	if failures != len(failing) || s.Failures != failures {
		t.Errorf("junit --fail-on %s: %d failing cases, failures=%d; want %d", failOn, failures, s.Failures, len(failing))
	}
	for _, f := range want {
		found := false
		for _, c := range s.Cases {
			text := c.SystemOut
			if c.Failure != nil {
				text += c.Failure.Body
			}
			if c.Name == caseOf(f) && strings.Contains(text, fmt.Sprintf("%s %s", f.Severity, f.Code)) {
				found = true
			}
		}
		if !found {
			t.Errorf("junit --fail-on %s: %s %s %s %s described nowhere", failOn, f.Severity, f.Code, f.Event, f.Path)
		}
	}
}

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "..", "report", "testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatalf("compile the SARIF 2.1.0 schema: %v", err)
	}
	return sch
}

// checkSARIF validates the output against the SARIF 2.1.0 schema and
// checks each result against its finding.
func checkSARIF(t *testing.T, out string, want []trackplan.Finding, lines planLines) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("sarif: not JSON: %v", err)
	}
	if err := sarifSchema(t).Validate(inst); err != nil {
		t.Fatalf("sarif fails the 2.1.0 schema: %v", err)
	}
	var doc struct {
		Version string
		Runs    []struct {
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
				Level               string
				Message             struct{ Text string }
				PartialFingerprints map[string]string
				Locations           []struct {
					PhysicalLocation *struct {
						ArtifactLocation struct{ URI string }
						Region           struct{ StartLine int }
					}
					LogicalLocations []struct{ FullyQualifiedName string }
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != "2.1.0" || len(doc.Runs) != 1 || doc.Runs[0].Tool.Driver.Name != "trackplan" {
		t.Fatalf("sarif: version %q, %d runs", doc.Version, len(doc.Runs))
	}
	run := doc.Runs[0]
	var rules []string
	for _, r := range run.Tool.Driver.Rules {
		if r.ShortDescription.Text == "" {
			t.Errorf("sarif: rule %s has no description", r.ID)
		}
		rules = append(rules, r.ID)
	}
	if len(run.Results) != len(want) {
		t.Fatalf("sarif: %d results for %d findings", len(run.Results), len(want))
	}
	levels := map[trackplan.Severity]string{trackplan.SeverityError: "error", trackplan.SeverityWarning: "warning", trackplan.SeverityInfo: "note"}
	for i, res := range run.Results {
		f := want[i]
		if res.RuleID != string(f.Code) || !slices.Contains(rules, res.RuleID) {
			t.Errorf("sarif result %d: rule %q for %s (rules %v)", i, res.RuleID, f.Code, rules)
		}
		if res.Level != levels[f.Severity] {
			t.Errorf("sarif result %d (%s): level %s for a %s", i, f.Code, res.Level, f.Severity)
		}
		if res.PartialFingerprints[report.FingerprintKey] != f.Fingerprint {
			t.Errorf("sarif result %d: fingerprints %v; want %s", i, res.PartialFingerprints, f.Fingerprint)
		}
		if res.Message.Text == "" {
			t.Errorf("sarif result %d: no message", i)
		}
		if len(res.Locations) != 1 || res.Locations[0].PhysicalLocation == nil || len(res.Locations[0].LogicalLocations) != 1 {
			t.Fatalf("sarif result %d: locations %+v", i, res.Locations)
		}
		phys := res.Locations[0].PhysicalLocation
		if !strings.HasPrefix(phys.ArtifactLocation.URI, "file:///") || !strings.HasSuffix(phys.ArtifactLocation.URI, "plan.yaml") {
			t.Errorf("sarif result %d: uri %q", i, phys.ArtifactLocation.URI)
		}
		if line := lines(f); line > 0 && phys.Region.StartLine != line {
			t.Errorf("sarif result %d (%s %s.%s): line %d; want %d", i, f.Code, f.Event, f.Path, phys.Region.StartLine, line)
		}
	}
}

// checkGitHub: one workflow command per finding, of its severity, naming
// the plan file and the line of its event or property.
func checkGitHub(t *testing.T, out string, want []trackplan.Finding, lines planLines) {
	t.Helper()
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if out == "" {
		got = nil
	}
	if len(got) != len(want) {
		t.Fatalf("github: %d lines for %d findings:\n%s", len(got), len(want), out)
	}
	cmds := map[trackplan.Severity]string{trackplan.SeverityError: "::error ", trackplan.SeverityWarning: "::warning ", trackplan.SeverityInfo: "::notice "}
	for i, l := range got {
		f := want[i]
		props, msg, ok := strings.Cut(strings.TrimPrefix(l, cmds[f.Severity]), "::")
		if !strings.HasPrefix(l, cmds[f.Severity]) || !ok {
			t.Errorf("github line %d: %q; want a %s command", i, l, cmds[f.Severity])
			continue
		}
		if !strings.Contains(props, "plan.yaml,line=") || !strings.HasSuffix(props, ",title="+string(f.Code)) {
			t.Errorf("github line %d: properties %q", i, props)
		}
		if line := lines(f); line > 0 && !strings.Contains(props, fmt.Sprintf(",line=%d,", line)) {
			t.Errorf("github line %d (%s %s.%s): %q; want line %d", i, f.Code, f.Event, f.Path, props, line)
		}
		if msg != strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(report.Message(f)) {
			t.Errorf("github line %d: message %q; want %q", i, msg, report.Message(f))
		}
	}
}

func severities(fs []trackplan.Finding) map[trackplan.Severity]int {
	n := map[trackplan.Severity]int{}
	for _, f := range fs {
		n[f.Severity]++
	}
	return n
}

// TestDriftCIFormatsFailOn: each format × --fail-on of `drift`. JUnit
// fails only at or above --fail-on (--fail-on never: no failure, exit 0).
func TestDriftCIFormatsFailOn(t *testing.T) {
	plan, events := ciDriftFiles(t)
	base := []string{"--plan", plan, "drift", "--events", events}
	want := ciFindings(t, base...)
	if n := severities(want); n[trackplan.SeverityError] == 0 || n[trackplan.SeverityWarning] == 0 {
		t.Fatalf("the fixture drifts at severities %v; want errors and warnings", n)
	}
	checkCIFormats(t, "drift", base, want, exportPlanLines(t, plan))
}

// TestLintCIFormatsFailOn: each format × --fail-on of `plan lint`.
func TestLintCIFormatsFailOn(t *testing.T) {
	plan := ciLintPlan(t)
	base := []string{"--plan", plan, "plan", "lint"}
	want := ciFindings(t, base...)
	if n := severities(want); n[trackplan.SeverityWarning] == 0 || n[trackplan.SeverityInfo] == 0 {
		t.Fatalf("the lint fixture has severities %v; want warnings and infos", n)
	}
	checkCIFormats(t, "lint", base, want, lintPlanLines(t, plan))
}

// TestDriftSARIFWithoutPlanFile: the built-in template is no file, so
// results carry logical locations only, and the log is still valid.
func TestDriftSARIFWithoutPlanFile(t *testing.T) {
	_, events := ciDriftFiles(t)
	code, out, stderr := trackplanRun(t, "--plan", "", "drift", "--events", events, "--format", "sarif", "--fail-on", "never")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if err := sarifSchema(t).Validate(inst); err != nil {
		t.Fatalf("sarif fails the schema: %v", err)
	}
	if strings.Contains(out, "physicalLocation") || !strings.Contains(out, "logicalLocations") {
		t.Errorf("without a plan file: want logical locations only")
	}
}

func codesOf(fs []trackplan.Finding) []string {
	var out []string
	for _, f := range fs {
		if !slices.Contains(out, string(f.Code)) {
			out = append(out, string(f.Code))
		}
	}
	slices.Sort(out)
	return out
}

// TestDriftFilters: --min-severity, --only and --ignore narrow what is
// rendered and what decides the exit code.
func TestDriftFilters(t *testing.T) {
	plan, events := ciDriftFiles(t)
	base := []string{"--plan", plan, "drift", "--events", events}
	all := ciFindings(t, base...)
	with := func(args ...string) []string { return append(slices.Clone(base), args...) }

	if got := ciFindings(t, with("--min-severity", "error")...); len(got) == 0 || severities(got)[trackplan.SeverityWarning]+severities(got)[trackplan.SeverityInfo] > 0 {
		t.Errorf("--min-severity error kept %v", severities(got))
	}
	if got := ciFindings(t, with("--min-severity", "warning")...); severities(got)[trackplan.SeverityInfo] > 0 ||
		len(got) != severities(all)[trackplan.SeverityError]+severities(all)[trackplan.SeverityWarning] {
		t.Errorf("--min-severity warning kept %v of %v", severities(got), severities(all))
	}
	for _, args := range [][]string{
		{"--only", "ENUM_VIOLATION,UNPLANNED_PROPERTY"},
		{"--only", "ENUM_VIOLATION", "--only", "unplanned_property"},
	} {
		if got := codesOf(ciFindings(t, with(args...)...)); !slices.Equal(got, []string{"ENUM_VIOLATION", "UNPLANNED_PROPERTY"}) {
			t.Errorf("%v kept %v", args, got)
		}
	}
	got := codesOf(ciFindings(t, with("--ignore", "BEST_PRACTICE", "--ignore", "NAMING,UNPLANNED_EVENT")...))
	if slices.ContainsFunc(got, func(c string) bool { return c == "BEST_PRACTICE" || c == "NAMING" || c == "UNPLANNED_EVENT" }) ||
		!slices.Contains(got, "ENUM_VIOLATION") {
		t.Errorf("--ignore kept %v", got)
	}

	// Filters decide the exit code: without its errors the run passes,
	// and the text says what it left out.
	noErrors := with("--ignore", "ENUM_VIOLATION,UNPLANNED_EVENT")
	code, out, stderr := trackplanRun(t, noErrors...)
	if code != 0 || !strings.Contains(out, "left out by filters") {
		t.Errorf("--ignore of every error: exit %d (%s)\n%s", code, stderr, out)
	}
	if code, _, _ := trackplanRun(t, append(noErrors, "--fail-on", "warning")...); code != exitFindings {
		t.Errorf("--ignore of every error, --fail-on warning: exit %d; the warnings remain", code)
	}
	code, out, _ = trackplanRun(t, append(noErrors, "--format", "junit")...)
	if code != 0 || strings.Contains(out, "<failure") || strings.Contains(out, "ENUM_VIOLATION") {
		t.Errorf("junit with the errors ignored: exit %d\n%s", code, out)
	}
	if code, _, _ := trackplanRun(t, with("--only", "NAMING", "--fail-on", "warning")...); code != 0 {
		t.Errorf("--only NAMING (infos), --fail-on warning: exit %d", code)
	}

	// Unknown values are usage errors naming the valid ones.
	for _, bad := range [][]string{{"--only", "ENUM_VIOLATION,NOPE"}, {"--ignore", "nope"}, {"--min-severity", "fatal"}} {
		code, _, stderr := trackplanRun(t, with(bad...)...)
		if code != exitUsage {
			t.Errorf("%v: exit %d; want %d", bad, code, exitUsage)
		}
		if bad[0] != "--min-severity" && (!strings.Contains(stderr, "ENUM_VIOLATION") || !strings.Contains(stderr, "PLANNED_NOT_SEEN")) {
			t.Errorf("%v: the error lists no valid codes:\n%s", bad, stderr)
		}
	}
}

// TestLintFilters: the same filters on `plan lint`.
func TestLintFilters(t *testing.T) {
	plan := ciLintPlan(t)
	base := []string{"--plan", plan, "plan", "lint"}
	with := func(args ...string) []string { return append(slices.Clone(base), args...) }
	if got := codesOf(ciFindings(t, with("--only", "naming")...)); !slices.Equal(got, []string{"NAMING"}) {
		t.Errorf("--only naming kept %v", got)
	}
	if got := ciFindings(t, with("--min-severity", "warning")...); len(got) == 0 || severities(got)[trackplan.SeverityInfo] > 0 {
		t.Errorf("--min-severity warning kept %v", severities(got))
	}
	if code, _, stderr := trackplanRun(t, with("--fail-on", "warning")...); code != exitFindings {
		t.Errorf("--fail-on warning: exit %d (%s)", code, stderr)
	}
	code, out, _ := trackplanRun(t, with("--fail-on", "warning", "--ignore", "BEST_PRACTICE,NAMING", "--format", "github")...)
	if code != 0 || out != "" {
		t.Errorf("every finding ignored: exit %d, output %q", code, out)
	}
	var buf bytes.Buffer
	code, _, stderr := trackplanRun(t, with("--only", "BOGUS")...)
	buf.WriteString(stderr)
	if code != exitUsage || !strings.Contains(buf.String(), "BOGUS") || !strings.Contains(buf.String(), "BEST_PRACTICE") {
		t.Errorf("--only BOGUS: exit %d\n%s", code, stderr)
	}
}
