package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/templates"
)

// defaultTemplate is the plan used when neither --plan nor the config names one.
const defaultTemplate = "b2b-saas"

// loadPlan reads the plan named by the configuration: a file, a Notion
// database (notion:<id>), or the built-in template.
func loadPlan(c *cli.Context, cfg Config) (*trackplan.Plan, error) {
	switch src := cfg.Plan; {
	case src == "":
		p, err := templates.Plan(defaultTemplate)
		if err != nil {
			return nil, upstream(err)
		}
		return p, nil
	case strings.HasPrefix(src, "notion:"):
		return loadNotionPlan(c, cfg, strings.TrimPrefix(src, "notion:"))
	default:
		p, err := planfile.Load(src)
		if err != nil {
			return nil, usage("%v", err)
		}
		return p, nil
	}
}
