package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/codegen"
)

func codegenCommand() *cli.Command {
	return &cli.Command{
		Name:  "codegen",
		Usage: "generate typed tracking code from the plan (TypeScript over analytics-node/analytics.js, Go over analytics-go)",
		Description: "Writes one file into --out: tracking.ts or tracking.go. With --check nothing is written: " +
			"the command exits 1 with a diff when the files there are stale against the plan (for CI).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "lang", Usage: "typescript or go", Required: true},
			&cli.StringFlag{Name: "out", Usage: "the directory to write into", Required: true},
			&cli.StringFlag{Name: "package", Usage: "the Go package's name", Value: codegen.DefaultGoPackage},
			&cli.BoolFlag{Name: "check", Usage: "write nothing; exit 1 with a diff when the files in --out are stale"},
			&cli.BoolFlag{Name: "include-proposed", Usage: "generate the events whose status is proposed too"},
			&cli.BoolFlag{Name: "runtime-validation", Usage: "report values the types cannot express (patterns, ranges) to an onViolation handler"},
		},
		Action: codegenAction,
	}
}

func codegenAction(c *cli.Context) error {
	lang, err := codegen.ParseLang(c.String("lang"))
	if err != nil {
		return usage("--lang: %v", err)
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	plan, err := loadPlan(c, cfg)
	if err != nil {
		return err
	}
	files, err := codegen.Generate(plan, codegen.Options{
		Lang:              lang,
		Package:           c.String("package"),
		IncludeProposed:   c.Bool("include-proposed"),
		RuntimeValidation: c.Bool("runtime-validation"),
		Source:            codegenSource(cfg, plan),
	})
	if err != nil {
		return usage("%v", err)
	}
	out := c.String("out")
	if c.Bool("check") {
		stale, err := codegen.Check(out, files)
		if err != nil {
			return usage("%v", err)
		}
		if len(stale) == 0 {
			fmt.Fprintf(c.App.Writer, "%s is up to date with the plan\n", out)
			return nil
		}
		for _, s := range stale {
			if s.Missing {
				fmt.Fprintf(c.App.Writer, "%s: missing\n", s.Name)
				continue
			}
			fmt.Fprint(c.App.Writer, s.Diff)
		}
		return &exitError{code: exitFindings, err: fmt.Errorf("the generated code in %s is stale: run trackplan codegen --lang %s --out %s", out, lang, out)}
	}
	if err := codegen.Write(out, files); err != nil {
		return usage("%v", err)
	}
	for _, f := range files {
		fmt.Fprintf(c.App.Writer, "wrote %s to %s\n", f.Name, out)
	}
	return nil
}

// codegenSource names the generator and the plan for the generated
// header: the plan file as given, the Notion database with its last edit,
// or the built-in template.
func codegenSource(cfg Config, plan *trackplan.Plan) codegen.Source {
	src := codegen.Source{Version: version}
	switch p := cfg.Plan; {
	case p == "":
		src.Plan = "the built-in " + defaultTemplate + " template"
	case strings.HasPrefix(p, "notion:"):
		src.Plan = "Notion database " + strings.TrimPrefix(p, "notion:")
		var edited time.Time
		lastNotionPlan.Lock()
		if lastNotionPlan.plan == plan {
			edited = lastNotionPlan.edited
		}
		lastNotionPlan.Unlock()
		src.Edited = edited
	default:
		src.Plan = "the file " + p
	}
	return src
}
