// Package templates ships trackplan's built-in starter content, embedded in
// the binary: tracking plans under plans/ (b2b-saas is the default plan when
// none is configured). Report and dashboard layouts are to live beside them
// in directories of their own.
package templates

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planfile"
)

// Default names the starter plan used when no plan is configured.
const Default = "b2b-saas"

//go:embed plans/*.yaml
var plans embed.FS

// Names lists the starter plans, sorted.
func Names() []string {
	entries, err := fs.ReadDir(plans, "plans")
	if err != nil {
		return nil // cannot happen: the directory is embedded
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Raw returns the plan file of the named starter plan as shipped (YAML).
func Raw(name string) ([]byte, error) {
	if !slices.Contains(Names(), name) {
		return nil, fmt.Errorf("template %q (have %s): %w", name, strings.Join(Names(), ", "), trackplan.ErrNotFound)
	}
	data, err := plans.ReadFile(path.Join("plans", name+".yaml"))
	if err != nil {
		return nil, fmt.Errorf("read template %s: %w", name, err)
	}
	return data, nil
}

// Plan parses the named starter plan. Each call returns a new plan, which
// the caller may change.
func Plan(name string) (*trackplan.Plan, error) {
	data, err := Raw(name)
	if err != nil {
		return nil, err
	}
	p, err := planfile.Parse(data, planfile.YAML)
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	return p, nil
}
