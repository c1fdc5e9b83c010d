package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/plandiff"
	"github.com/trackplan/trackplan/store"
)

// planDiffFormats are the --format values of `plan diff`.
var planDiffFormats = []string{"text", "markdown", "json"}

// The --fail-on values of `plan diff`.
const (
	failOnBreaking  = "breaking"
	failOnNewErrors = "new-errors"
	failOnNever     = "never"
)

func planDiffCommand() *cli.Command {
	return &cli.Command{
		Name:      "diff",
		Usage:     "compare two plans and class each change as breaking or not (with --against-traffic: what the change fixes and introduces in real traffic)",
		ArgsUsage: "OLD NEW | --previous",
		Description: "OLD and NEW are plan files (.yaml, .yml or .json) or notion:<events-database-id>;\n" +
			"--previous compares instead the plan the store (--db) follows with the version it followed before.\n" +
			"A change is breaking when a message valid under OLD can get an error or a warning under NEW.\n" +
			"--against-traffic also judges the traffic of a window (the store's, or --events FILE) by OLD and\n" +
			"by NEW, and lists the errors and warnings the change fixes (OLD's report has them, NEW's not)\n" +
			"and introduces (NEW's has them, OLD's not). The store is only read: it adopts neither plan.",
		Flags: []cli.Flag{
			formatFlag(planDiffFormats...),
			&cli.StringFlag{Name: "fail-on", Value: failOnNever, Usage: "breaking, new-errors or never: exit 1 when a change is breaking, or when it introduces an error finding in the traffic (new-errors needs --against-traffic)"},
			&cli.BoolFlag{Name: "previous", Usage: "compare the plan the store follows with the version it followed before (no OLD NEW)"},
			&cli.BoolFlag{Name: "against-traffic", Usage: "judge the traffic by OLD and by NEW and list the findings the change fixes and introduces"},
			&cli.StringFlag{Name: "since", Value: "7d", Usage: "with --against-traffic: the window of traffic that counts (e.g. 24h, 7d)"},
			&cli.TimestampFlag{Name: "at", Layout: time.RFC3339, Usage: "with --against-traffic: judge as of this instant (RFC 3339), for reproducible runs"},
			&cli.StringFlag{Name: "events", Usage: "with --against-traffic: judge an NDJSON file of Segment messages (- for standard input) instead of the store; the window is the file's time span unless --since or --at is given"},
			&cli.BoolFlag{Name: "expect-all", Usage: "with --events: the file is all the traffic, so planned events it lacks are PLANNED_NOT_SEEN"},
		},
		Action: runPlanDiff,
	}
}

func runPlanDiff(c *cli.Context) error {
	opts, err := planDiffOptions(c)
	if err != nil {
		return err
	}
	for _, a := range c.Args().Slice() {
		if strings.HasPrefix(a, "-") && a != "-" {
			return usage("plan diff: %s comes after the plans; flags go first: plan diff [--format F] [--fail-on F] OLD NEW", a)
		}
	}
	switch {
	case opts.previous && c.NArg() != 0:
		return usage("plan diff --previous compares the store's plans: give no OLD NEW, not %d arguments", c.NArg())
	case !opts.previous && c.NArg() != 2:
		return usage("plan diff needs two plans, OLD and NEW (files or notion:<events-database-id>), or --previous, not %d arguments", c.NArg())
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	var (
		st               store.Store
		oldPlan, newPlan judgedPlan
	)
	if opts.previous || (opts.traffic && c.String("events") == "") {
		if st, err = openStore(c.Context, cfg.DB, storeLimits(cfg)); err != nil {
			return err
		}
		defer st.Close()
	}
	if opts.previous {
		if oldPlan, newPlan, err = previousPlans(c, st); err != nil {
			return err
		}
	} else {
		for i, which := range []string{"old", "new"} {
			p, err := loadPlanSpec(c, cfg, which, c.Args().Get(i))
			if err != nil {
				return err
			}
			jp := judgedPlan{which: which, plan: p, id: store.PlanID(p)}
			if i == 0 {
				oldPlan = jp
			} else {
				newPlan = jp
			}
		}
	}
	d := plandiff.Diff(oldPlan.plan, newPlan.plan)
	var traffic *trafficDiff
	if opts.traffic {
		if traffic, err = judgeTraffic(c, cfg, st, oldPlan, newPlan); err != nil {
			return err
		}
	}
	if err := writePlanDiff(c, opts.format, d, traffic, previousJSON(opts, oldPlan, newPlan)); err != nil {
		return err
	}
	switch {
	case opts.failOn == failOnBreaking && d.HasBreaking():
		return &exitError{code: exitFindings}
	case opts.failOn == failOnNewErrors && traffic.introducedErrors() > 0:
		return &exitError{code: exitFindings}
	}
	return nil
}

// planDiffOpts are the checked flags of `plan diff`.
type planDiffOpts struct {
	format   string
	failOn   string // failOnBreaking, failOnNewErrors or failOnNever
	previous bool
	traffic  bool
}

// planDiffOptions reads and checks the flags of `plan diff`.
func planDiffOptions(c *cli.Context) (planDiffOpts, error) {
	var o planDiffOpts
	var err error
	if o.format, err = checkFormat(c, planDiffFormats...); err != nil {
		return o, err
	}
	o.previous, o.traffic = c.Bool("previous"), c.Bool("against-traffic")
	switch o.failOn = c.String("fail-on"); o.failOn {
	case failOnBreaking, failOnNever:
	case failOnNewErrors:
		if !o.traffic {
			return o, usage("--fail-on new-errors needs --against-traffic: the errors are found in the traffic")
		}
	default:
		return o, usage("--fail-on must be breaking, new-errors or never, not %q", o.failOn)
	}
	if !o.traffic {
		// Given on the command line (not inherited from a TRACKPLAN_*
		// variable drift shares), a traffic flag means --against-traffic
		// was forgotten.
		for _, name := range []string{"since", "at", "events", "expect-all"} {
			if c.IsSet(name) && os.Getenv("TRACKPLAN_"+strings.ToUpper(strings.ReplaceAll(name, "-", "_"))) == "" {
				return o, usage("--%s needs --against-traffic", name)
			}
		}
		return o, nil
	}
	if d, err := parseDuration(c.String("since")); err != nil || d <= 0 {
		return o, usage("--since: want a positive duration such as 24h or 7d")
	}
	if c.Bool("expect-all") && c.String("events") == "" {
		return o, usage("--expect-all needs --events FILE: the store's traffic is all there is")
	}
	return o, nil
}

// judgedPlan is one side of a diff: the plan, its ID and which side it is
// ("old" or "new"); version is set when it comes from the store.
type judgedPlan struct {
	which   string
	plan    *trackplan.Plan
	id      string
	version *store.PlanVersion
}

// previousPlans returns the plan the store follows (NEW) and the one it
// followed before (OLD): the newest other version it recorded, so a store
// that went back to an older version compares it with the one it left.
func previousPlans(c *cli.Context, st store.Store) (oldPlan, newPlan judgedPlan, err error) {
	cur, err := st.VerdictPlan(c.Context)
	if err != nil {
		return oldPlan, newPlan, upstream(fmt.Errorf("read the plan the store follows: %w", err))
	}
	if cur.ID == "" || cur.Plan == nil {
		return oldPlan, newPlan, usage("plan diff --previous: the store follows no plan yet; give OLD NEW instead")
	}
	// Two versions hold at least one other than the current one.
	vs, err := st.PlanVersions(c.Context, 2)
	if err != nil {
		return oldPlan, newPlan, upstream(fmt.Errorf("read the store's plan versions: %w", err))
	}
	for i := range vs {
		if v := vs[i]; v.ID != cur.ID && v.Plan != nil {
			fmt.Fprintf(c.App.ErrWriter, "plan diff --previous: OLD is plan %s (%s, first followed %s), NEW plan %s (%s, the one the store follows)\n",
				v.ID, v.Origin, v.FirstSeen.UTC().Format(time.RFC3339), cur.ID, cur.Origin)
			return judgedPlan{which: "old", plan: v.Plan, id: v.ID, version: &v},
				judgedPlan{which: "new", plan: cur.Plan, id: cur.ID, version: &cur}, nil
		}
	}
	return oldPlan, newPlan, usage("plan diff --previous: the store has followed only one plan version (%s, %s); there is no previous one to compare it with",
		cur.ID, cur.Origin)
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
