// Package planfile reads and writes tracking plans as code: a YAML or JSON
// document with a version and a list of events,
//
//	version: 1
//	events:
//	  - name: Report Exported
//	    type: track
//	    properties:
//	      - {name: format, type: string, required: true, enum: [csv, pdf]}
//
// Reading is strict: unknown and duplicate keys, values of the wrong kind and
// plans that fail trackplan's validation are errors naming the field and
// the line. Writing is deterministic and lossless: reading what Write wrote
// gives back the same plan.
package planfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/trackplan/trackplan"
)

// Format is the encoding of a plan file.
type Format string

// Plan file formats. YAML is the default; JSON has the same shape.
const (
	YAML Format = "yaml"
	JSON Format = "json"
)

// MaxFileSize bounds the size of a plan file Load reads.
const MaxFileSize = 16 << 20

// ParseFormat returns the format named s: "yaml", "yml" or "json", in any
// case.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "yaml", "yml":
		return YAML, nil
	case "json":
		return JSON, nil
	}
	return "", fmt.Errorf("unknown plan format %q (want yaml or json)", s)
}

// FormatOf returns the format of a plan file by its extension: .yaml, .yml
// or .json.
func FormatOf(path string) (Format, error) {
	ext := filepath.Ext(path)
	if ext == "" {
		return "", fmt.Errorf("plan file %s has no extension (want .yaml, .yml or .json)", path)
	}
	f, err := ParseFormat(ext[1:])
	if err != nil {
		return "", fmt.Errorf("plan file %s: unknown extension %s (want .yaml, .yml or .json)", path, ext)
	}
	return f, nil
}

// Load reads and validates the plan file at path, in the format its
// extension names.
func Load(path string) (*trackplan.Plan, error) {
	format, err := FormatOf(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open plan: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read plan %s: larger than %d bytes: %w", path, MaxFileSize, trackplan.ErrTooLarge)
	}
	p, err := Parse(data, format)
	if err != nil {
		return nil, fmt.Errorf("parse plan %s: %w", path, err)
	}
	return p, nil
}

// Parse decodes and validates a plan. An empty format picks JSON when the
// data starts with "{" and YAML otherwise. Problems with the content are
// returned as a *trackplan.ValidationError whose messages carry line
// numbers; malformed YAML or JSON as a plain error.
func Parse(data []byte, format Format) (*trackplan.Plan, error) {
	root, err := parseTree(data, format)
	if err != nil {
		return nil, err
	}
	d := decoder{lines: map[string]int{}}
	p := d.plan(root)
	if err := d.errs.Err(); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		var verr *trackplan.ValidationError
		if errors.As(err, &verr) {
			return nil, d.withLines(verr)
		}
		return nil, err
	}
	return p, nil
}

// Write encodes p in format (YAML when empty), ending with a newline. It
// writes what is in p without validating it; Version 0 is written as the
// current version.
func Write(w io.Writer, p *trackplan.Plan, format Format) error {
	var (
		data []byte
		err  error
	)
	n := encodePlan(p)
	switch format {
	case YAML, "":
		data, err = emitYAML(n)
	case JSON:
		data, err = emitJSON(n)
	default:
		return fmt.Errorf("unknown plan format %q (want yaml or json)", format)
	}
	if err != nil {
		return fmt.Errorf("encode plan: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// WriteFile writes p to path in the format its extension names, replacing
// the file only once the new content is complete.
func WriteFile(path string, p *trackplan.Plan) error {
	format, err := FormatOf(path)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := Write(&buf, p, format); err != nil {
		return err
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	return nil
}

// parseTree parses data into its node tree; an empty format picks JSON
// when the data starts with "{" and YAML otherwise.
func parseTree(data []byte, format Format) (*node, error) {
	if format == "" {
		format = YAML
		if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
			format = JSON
		}
	}
	switch format {
	case YAML:
		return parseYAML(data)
	case JSON:
		return parseJSON(data)
	}
	return nil, fmt.Errorf("unknown plan format %q (want yaml or json)", format)
}
