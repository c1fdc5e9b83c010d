package report

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/trackplan/trackplan"
)

// Baseline is a file of accepted drift: findings that should not fail CI
// until their entry expires.
type Baseline struct {
	Entries []BaselineEntry `yaml:"accepted"`
}

// BaselineEntry accepts one finding by fingerprint.
type BaselineEntry struct {
	Fingerprint string    `yaml:"fingerprint"`
	Code        string    `yaml:"code,omitempty"`
	Event       string    `yaml:"event,omitempty"`
	Path        string    `yaml:"path,omitempty"`
	Reason      string    `yaml:"reason"`
	Expires     time.Time `yaml:"expires"`
}

// LoadBaseline reads and validates a baseline file.
func LoadBaseline(path string) (*Baseline, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	var b Baseline
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	var v trackplan.ValidationError
	seen := map[string]bool{}
	for i, e := range b.Entries {
		f := fmt.Sprintf("accepted[%d]", i)
		switch {
		case e.Fingerprint == "":
			v.Add(f+".fingerprint", "must not be empty")
		case seen[e.Fingerprint]:
			v.Add(f+".fingerprint", "listed twice")
		}
		seen[e.Fingerprint] = true
		if e.Reason == "" {
			v.Add(f+".reason", "say why this drift is accepted")
		}
		if e.Expires.IsZero() {
			v.Add(f+".expires", "must be set (accepted drift expires)")
		}
	}
	if err := v.Err(); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	return &b, nil
}

// Apply removes the findings the baseline accepts as of at; an expired
// entry no longer suppresses its finding.
func (b *Baseline) Apply(r *Report, at time.Time) {
	active := map[string]bool{}
	for _, e := range b.Entries {
		if at.Before(e.Expires) {
			active[e.Fingerprint] = true
		}
	}
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		// Baselines written before fingerprints left the source out
		// still match.
		if active[f.Fingerprint] || f.Source != "" && active[trackplan.Fingerprint(string(f.Code), f.Source, f.Event, f.Path)] {
			r.Summary.Suppressed++
			continue
		}
		kept = append(kept, f)
	}
	r.Findings = kept
	r.Recount()
}

// NewBaseline accepts every error and warning of r until expires.
func NewBaseline(r *Report, reason string, expires time.Time) *Baseline {
	b := &Baseline{}
	seen := map[string]bool{}
	for _, f := range r.Findings {
		if f.Severity == trackplan.SeverityInfo || seen[f.Fingerprint] {
			continue // one entry covers the finding in every source
		}
		seen[f.Fingerprint] = true
		b.Entries = append(b.Entries, BaselineEntry{Fingerprint: f.Fingerprint, Code: string(f.Code), Event: f.Event,
			Path: f.Path, Reason: reason, Expires: expires.UTC()})
	}
	slices.SortFunc(b.Entries, func(x, y BaselineEntry) int { return bytes.Compare([]byte(x.Fingerprint), []byte(y.Fingerprint)) })
	return b
}

// Write saves the baseline as YAML.
func (b *Baseline) Write(path string) error {
	var buf bytes.Buffer
	buf.WriteString("# Accepted drift: each entry stops `trackplan drift` from failing on its finding until it expires.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(b); err != nil {
		return fmt.Errorf("encode baseline: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	return nil
}
