package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/export"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/templates"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "create, read, write, lint, diff and export the tracking plan",
		Subcommands: []*cli.Command{
			{
				Name:  "init",
				Usage: "create a plan from a template, as a file (--out) or as two Notion databases (--notion-parent)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "template", Value: templates.Default, Usage: "template: " + strings.Join(templates.Names(), ", ")},
					&cli.StringFlag{Name: "out", Usage: "write the plan to this file (.yaml, .yml or .json)"},
					&cli.StringFlag{Name: "notion-parent", Usage: "create the Events and Properties databases under this Notion page"},
				},
				Action: planInit,
			},
			{
				Name:  "pull",
				Usage: "read the plan from Notion (--plan notion:<id>) into a file or standard output",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "out", Usage: "file to write (default: standard output)"},
					formatFlag("yaml", "json"),
				},
				Action: planPull,
			},
			{
				Name:      "push",
				Usage:     "write a plan file into the Notion databases: only changed rows are written",
				ArgsUsage: "FILE",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: "dry-run", Usage: "print what would change and write nothing"},
					&cli.BoolFlag{Name: "prune", Usage: "archive rows the file does not have"},
				},
				Action: planPush,
			},
			{
				Name:  "lint",
				Usage: "check the plan's content: naming, duplicates, documentation, scored events",
				Flags: append([]cli.Flag{
					formatFlag(lintFormats...),
					&cli.StringFlag{Name: "fail-on", Value: "error", Usage: "error, warning or never: the least severity that exits 1 (and that JUnit shows as a failure)"},
				}, filterFlags()...),
				Action: planLint,
			},
			{
				Name:  "export",
				Usage: "export the plan for another pipeline",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "format", Value: "jsonschema", Usage: "jsonschema, segment, rudderstack, amplitude-csv or amplitude-user-csv"},
					&cli.StringFlag{Name: "out", Usage: "file to write (default: standard output); for rudderstack, the directory to write its files into"},
					&cli.StringFlag{Name: "name", Usage: "the tracking plan's name in the segment and rudderstack exports (default: the plan file's name, else \"Tracking Plan\")"},
				},
				Action: planExport,
			},
			planImportCommand(),
			planDiffCommand(),
		},
	}
}

// notionEventsDB is the Events database a command works on: --plan
// notion:<id>, else the config's notion.events_database.
func notionEventsDB(cfg Config) string {
	if id, ok := strings.CutPrefix(cfg.Plan, "notion:"); ok {
		return id
	}
	return cfg.Notion.EventsDatabase
}

func planInit(c *cli.Context) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	plan, err := templates.Plan(c.String("template"))
	if err != nil {
		return usage("unknown template %q (have: %s)", c.String("template"), strings.Join(templates.Names(), ", "))
	}
	out, parent := c.String("out"), c.String("notion-parent")
	switch {
	case out == "" && parent == "":
		return usage("plan init needs --out FILE or --notion-parent PAGE_ID")
	case out != "":
		if _, err := os.Stat(out); err == nil {
			return usage("%s exists; not overwriting it", out)
		}
		if err := planfile.WriteFile(out, plan); err != nil {
			return usage("%v", err)
		}
		fmt.Fprintf(c.App.Writer, "wrote the %s plan (%d events) to %s\n", c.String("template"), len(plan.Events), out)
	}
	if parent != "" {
		client, err := newNotionClient(c, cfg, "")
		if err != nil {
			return err
		}
		res, err := client.Init(c.Context, parent, plan, notion.InitOptions{})
		reportNotionRequests(c, client)
		if err != nil {
			return notionError(err)
		}
		fmt.Fprintf(c.App.Writer, "created the Notion plan: %d rows\nEvents database:     %s\nProperties database: %s\n"+
			"use --plan notion:%s (or notion.events_database in the config)\n",
			len(res.Changes), res.EventsDB, res.PropertiesDB, res.EventsDB)
	}
	return nil
}

func planPull(c *cli.Context) error {
	format, err := checkFormat(c, "yaml", "json")
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	id := notionEventsDB(cfg)
	if id == "" {
		return usage("plan pull reads from Notion: give --plan notion:<events-database-id>")
	}
	plan, err := loadNotionPlan(c, cfg, id)
	if err != nil {
		return err
	}
	if out := c.String("out"); out != "" {
		if !c.IsSet("format") {
			return writePlanFile(out, plan)
		}
		f, err := os.Create(out)
		if err != nil {
			return usage("%v", err)
		}
		defer f.Close()
		return planfile.Write(f, plan, planfile.Format(format))
	}
	return planfile.Write(c.App.Writer, plan, planfile.Format(format))
}

func writePlanFile(path string, plan *trackplan.Plan) error {
	if err := planfile.WriteFile(path, plan); err != nil {
		return usage("%v", err)
	}
	return nil
}

func planPush(c *cli.Context) error {
	if c.NArg() != 1 {
		return usage("plan push needs exactly one FILE")
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	plan, err := planfile.Load(c.Args().First())
	if err != nil {
		return usage("%v", err)
	}
	id := notionEventsDB(cfg)
	if id == "" {
		return usage("plan push writes to Notion: give --plan notion:<events-database-id>")
	}
	client, err := newNotionClient(c, cfg, id)
	if err != nil {
		return err
	}
	changes, err := client.Push(c.Context, plan, notion.PushOptions{DryRun: c.Bool("dry-run"), Prune: c.Bool("prune")})
	reportNotionRequests(c, client)
	printChanges(c.App.Writer, changes, c.Bool("dry-run"))
	if err != nil {
		return notionError(err)
	}
	return nil
}

func printChanges(w io.Writer, changes notion.Changes, dryRun bool) {
	verb := "changed"
	if dryRun {
		verb = "would change"
	}
	if len(changes) == 0 {
		fmt.Fprintln(w, "nothing to change: Notion already matches")
		return
	}
	fmt.Fprintf(w, "%s %d rows (%d created, %d updated, %d archived):\n", verb, len(changes),
		changes.Count(notion.Created), changes.Count(notion.Updated), changes.Count(notion.Archived))
	fmt.Fprintln(w, changes.String())
}

// lintFormats are the forms of `plan lint`.
var lintFormats = []string{"text", "json", "markdown", "junit", "sarif", "github"}

func planLint(c *cli.Context) error {
	format, err := checkFormat(c, lintFormats...)
	if err != nil {
		return err
	}
	failOn, err := parseFailOn(c)
	if err != nil {
		return err
	}
	filter, err := parseFilter(c)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	if c.NArg() > 0 { // plan lint FILE: that plan, not the configured one
		cfg.Plan = c.Args().First()
	}
	plan, err := loadPlan(c, cfg)
	if err != nil {
		return err
	}
	if err := plan.Validate(); err != nil {
		return usage("%v", err)
	}
	rep := &report.Report{Findings: trackplan.Lint(plan)}
	rep.Recount()
	for _, e := range plan.Events {
		if e.Status != trackplan.StatusDeprecated {
			rep.Summary.EventsPlanned++
		}
	}
	filter.Apply(rep)
	return writeFindings(c, cfg, plan, rep, findingsOutput{kind: "lint", format: format, failOn: failOn, groupBy: report.BySeverity})
}

func planExport(c *cli.Context) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	plan, err := loadPlan(c, cfg)
	if err != nil {
		return err
	}
	format, out := c.String("format"), c.String("out")
	name := c.String("name")
	if name == "" && cfg.Plan != "" && !strings.HasPrefix(cfg.Plan, "notion:") {
		name = strings.TrimSuffix(filepath.Base(cfg.Plan), filepath.Ext(cfg.Plan))
	}
	if format == "rudderstack" {
		if out == "" {
			return usage("the rudderstack export is a directory of files (one spec each): give --out DIR")
		}
		notes, err := export.WriteRudderStackDir(out, plan, name)
		if err != nil {
			return usage("%v", err)
		}
		for _, n := range notes {
			fmt.Fprintf(c.App.ErrWriter, "note: %s\n", n)
		}
		fmt.Fprintf(c.App.Writer, "wrote %s, %s and %s to %s\n",
			export.RudderStackPropertiesFile, export.RudderStackEventsFile, export.RudderStackTrackingPlanFile, out)
		return nil
	}
	var write func(io.Writer) error
	switch format {
	case "jsonschema":
		write = func(w io.Writer) error { return export.WriteJSONSchema(w, plan) }
	case "segment":
		write = func(w io.Writer) error { return export.WriteSegmentRules(w, plan, cmp.Or(name, "Tracking Plan")) }
	case "amplitude-csv":
		write = func(w io.Writer) error { return export.WriteAmplitudeCSV(w, plan) }
	case "amplitude-user-csv":
		write = func(w io.Writer) error { return export.WriteAmplitudeUserPropertiesCSV(w, plan) }
	default:
		return usage("--format must be jsonschema, segment, rudderstack, amplitude-csv or amplitude-user-csv")
	}
	if out == "" {
		return write(c.App.Writer)
	}
	f, err := os.Create(out)
	if err != nil {
		return usage("%v", err)
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
