package report

import (
	"cmp"
	"encoding/json"
	"io"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
)

// SARIF 2.1.0: https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/sarif-v2.1.0-errata01-os-complete.html

// SARIFSchema is the URI of the SARIF 2.1.0 JSON schema (OASIS, errata 01)
// the SARIF form names in its $schema.
const SARIFSchema = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// FingerprintKey is the partialFingerprints key SARIF results carry the
// finding's fingerprint under (the one baselines key on).
const FingerprintKey = "trackplanFingerprint/v1"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool      `json:"tool"`
	Results    []sarifResult  `json:"results"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name    string      `json:"name"`
	Version string      `json:"version,omitempty"`
	Rules   []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	ShortDescription sarifText `json:"shortDescription"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Properties          map[string]any    `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifLogical struct {
	Name               string `json:"name"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

// SARIFOptions tune the SARIF form.
type SARIFOptions struct {
	// Version is trackplan's version, for tool.driver.version.
	Version string
	// Locator places findings in the plan file; nil when the plan is not a
	// file (the built-in template, Notion).
	Locator *Locator
	// Kind names the check ("drift" or "lint"), kept in the run's
	// properties.
	Kind string
}

// WriteSARIF writes the report as one SARIF 2.1.0 run of the tool
// "trackplan": a rule per finding code present, and a result per finding
// with its level (error, warning, note), message, fingerprint and location.
//
// With a Locator, every result points into the plan file: at the line of
// its event or property when the file plans it, else at the file's anchor
// (the events list), GitHub code scanning rejecting results without a
// physical location. Results also carry their event and property as a
// logical location; without a Locator that is their only location.
func WriteSARIF(w io.Writer, r *Report, o SARIFOptions) error {
	driver := sarifDriver{Name: "trackplan", Version: o.Version, Rules: []sarifRule{}}
	ruleIndex := map[trackplan.Code]int{}
	for _, c := range Codes() {
		if slices.ContainsFunc(r.Findings, func(f trackplan.Finding) bool { return f.Code == c }) {
			ruleIndex[c] = len(driver.Rules)
			driver.Rules = append(driver.Rules, sarifRule{ID: string(c), Name: ruleName(c), ShortDescription: sarifText{Describe(c)}})
		}
	}
	for _, f := range r.Findings { // a code this package does not know yet
		if _, ok := ruleIndex[f.Code]; !ok {
			ruleIndex[f.Code] = len(driver.Rules)
			driver.Rules = append(driver.Rules, sarifRule{ID: string(f.Code), Name: ruleName(f.Code), ShortDescription: sarifText{string(f.Code)}})
		}
	}
	run := sarifRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}, Properties: runProperties(r, o.Kind)}
	for _, f := range r.Findings {
		res := sarifResult{RuleID: string(f.Code), RuleIndex: ruleIndex[f.Code], Level: sarifLevel(f.Severity),
			Message: sarifText{Message(f)}, Properties: findingProperties(f)}
		if f.Fingerprint != "" {
			res.PartialFingerprints = map[string]string{FingerprintKey: f.Fingerprint}
		}
		var loc sarifLocation
		if file, line, _ := o.Locator.place(f); file != "" {
			loc.PhysicalLocation = &sarifPhysical{ArtifactLocation: sarifArtifact{URI: fileURI(file)}, Region: &sarifRegion{StartLine: line}}
		}
		loc.LogicalLocations = logicalLocations(f)
		res.Locations = []sarifLocation{loc}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}

func sarifLevel(s trackplan.Severity) string {
	switch s {
	case trackplan.SeverityError:
		return "error"
	case trackplan.SeverityWarning:
		return "warning"
	}
	return "note"
}

// ruleName is a code in PascalCase: ENUM_VIOLATION → EnumViolation.
func ruleName(c trackplan.Code) string {
	var b strings.Builder
	for word := range strings.SplitSeq(strings.ToLower(string(c)), "_") {
		if word != "" {
			b.WriteString(strings.ToUpper(word[:1]) + word[1:])
		}
	}
	return b.String()
}

// fileURI turns a slash-separated path into a URI reference: relative
// paths stay relative (to the repository root, for code scanning),
// absolute ones become file URIs.
func fileURI(path string) string {
	esc := func(p string) string {
		segs := strings.Split(p, "/")
		for i, seg := range segs {
			segs[i] = escapeSegment(seg)
		}
		return strings.Join(segs, "/")
	}
	if strings.HasPrefix(path, "/") {
		return "file://" + esc(path)
	}
	if len(path) > 2 && path[1] == ':' && path[2] == '/' { // C:/…
		return "file:///" + esc(path)
	}
	return esc(strings.TrimPrefix(path, "./"))
}

// escapeSegment percent-encodes what may not stand in a URI path segment.
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// logicalLocations names the event and property a finding is about.
func logicalLocations(f trackplan.Finding) []sarifLogical {
	switch {
	case f.Event != "" && f.Path != "":
		return []sarifLogical{{Name: f.Path, FullyQualifiedName: f.Event + "." + f.Path, Kind: "property"}}
	case f.Event != "":
		return []sarifLogical{{Name: f.Event, FullyQualifiedName: f.Event, Kind: "object"}}
	case f.Path != "":
		return []sarifLogical{{Name: f.Path, FullyQualifiedName: f.Path, Kind: "property"}}
	}
	return []sarifLogical{{Name: "plan", FullyQualifiedName: "plan", Kind: "module"}}
}

func findingProperties(f trackplan.Finding) map[string]any {
	p := map[string]any{"severity": string(f.Severity)}
	set := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	set("event", f.Event)
	set("path", f.Path)
	set("source", f.Source)
	set("expected", f.Expected)
	set("observed", f.Observed)
	set("owner", f.Owner)
	if f.Count > 0 {
		p["count"] = f.Count
	}
	if f.Rate > 0 {
		p["rate"] = f.Rate
	}
	if !f.LastSeen.IsZero() {
		p["last_seen"] = f.LastSeen
	}
	return p
}

func runProperties(r *Report, kind string) map[string]any {
	p := map[string]any{"kind": cmp.Or(kind, "drift"), "summary": r.Summary}
	if r.Plan != "" {
		p["plan"] = r.Plan
	}
	if !r.From.IsZero() && !r.To.IsZero() {
		p["from"], p["to"] = r.From, r.To
	}
	return p
}
