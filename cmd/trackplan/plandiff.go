package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/plandiff"
)

// planDiffFormats are the --format values of `plan diff`.
var planDiffFormats = []string{"text", "markdown", "json"}

func planDiffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two plans and class each change as breaking or not",
		ArgsUsage: "OLD NEW",
		Description: "OLD and NEW are plan files (.yaml, .yml or .json) or notion:<events-database-id>.\n" +
			"A change is breaking when a message valid under OLD can get an error or a warning under NEW.",
		Flags: []cli.Flag{
			formatFlag(planDiffFormats...),
			&cli.StringFlag{Name: "fail-on", Value: "never", Usage: "breaking or never: exit 1 when a change is breaking"},
		},
		Action: runPlanDiff,
	}
}

func runPlanDiff(c *cli.Context) error {
	if _, _, err := planDiffOptions(c); err != nil {
		return err
	}
	for _, a := range c.Args().Slice() {
		if strings.HasPrefix(a, "-") && a != "-" {
			return usage("plan diff: %s comes after the plans; flags go first: plan diff [--format F] [--fail-on F] OLD NEW", a)
		}
	}
	if c.NArg() != 2 {
		return usage("plan diff needs two plans, OLD and NEW (files or notion:<events-database-id>), not %d arguments", c.NArg())
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	oldPlan, err := loadPlanSpec(c, cfg, "old", c.Args().Get(0))
	if err != nil {
		return err
	}
	newPlan, err := loadPlanSpec(c, cfg, "new", c.Args().Get(1))
	if err != nil {
		return err
	}
	return diffPlans(c, oldPlan, newPlan)
}

// planDiffOptions reads and checks --format and --fail-on; breaking reports
// whether a breaking change exits 1.
func planDiffOptions(c *cli.Context) (format string, breaking bool, err error) {
	if format, err = checkFormat(c, planDiffFormats...); err != nil {
		return "", false, err
	}
	switch failOn := c.String("fail-on"); failOn {
	case "breaking":
		return format, true, nil
	case "never":
		return format, false, nil
	default:
		return "", false, usage("--fail-on must be breaking or never, not %q", failOn)
	}
}

// loadPlanSpec loads the plan spec names, a file or notion:<id>, as --plan
// would; which ("old" or "new") prefixes its errors.
func loadPlanSpec(c *cli.Context, cfg Config, which, spec string) (*trackplan.Plan, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, usage("%s plan: empty argument; want a plan file or notion:<events-database-id>", which)
	}
	if id, ok := strings.CutPrefix(spec, "notion:"); ok && id != notionEventsDB(cfg) {
		// The configured Properties database belongs to the configured
		// Events database; this one's is found through its relation.
		cfg.Notion.PropertiesDatabase = ""
	}
	cfg.Plan = spec
	p, err := loadPlan(c, cfg)
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) && ee.err != nil {
			return nil, &exitError{code: ee.code, err: fmt.Errorf("%s plan: %w", which, ee.err)}
		}
		return nil, fmt.Errorf("%s plan: %w", which, err)
	}
	return p, nil
}

// diffPlans writes the diff of two plans in --format and, with --fail-on
// breaking, exits 1 when a change is breaking.
func diffPlans(c *cli.Context, oldPlan, newPlan *trackplan.Plan) error {
	format, failOnBreaking, err := planDiffOptions(c)
	if err != nil {
		return err
	}
	d := plandiff.Diff(oldPlan, newPlan)
	w := c.App.Writer
	switch format {
	case "json":
		err = plandiff.WriteJSON(w, d)
	case "markdown":
		err = plandiff.WriteMarkdown(w, d)
	default:
		err = plandiff.WriteText(w, d)
	}
	if err != nil {
		return err
	}
	if failOnBreaking && d.HasBreaking() {
		return &exitError{code: exitFindings}
	}
	return nil
}
