package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/planfile"
	"github.com/trackplan/trackplan/planimport"
)

func planImportCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "read a tracking plan from Segment, RudderStack, Amplitude or JSON Schema files into a plan file (--out) or a new Notion plan (--to)",
		ArgsUsage: "FILE…",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "the files' format: segment, rudderstack, amplitude or jsonschema"},
			&cli.StringFlag{Name: "out", Usage: "write the plan to this file (.yaml, .yml or .json; default: standard output)"},
			&cli.StringFlag{Name: "to", Usage: "notion:<parent page id>: create the Events and Properties databases under that page and fill them"},
			&cli.StringFlag{Name: "status", Value: string(planimport.DefaultStatus), Usage: "status of events whose source has none: proposed, planned, implemented or live"},
			&cli.StringFlag{Name: "owner", Usage: "owner of every imported event (the sources have none)"},
		},
		Action: planImport,
	}
}

// planImport reads the files, writes the plan and reports on standard
// error, one line each, what the plan could not keep and the defaults it
// took. Bad input is a usage error (exit 2) listing every problem.
func planImport(c *cli.Context) error {
	format, err := planimport.ParseFormat(c.String("from"))
	if err != nil {
		return usage("--from: %v", err)
	}
	if c.NArg() == 0 {
		return usage("plan import needs one or more FILEs")
	}
	out, to := c.String("out"), c.String("to")
	parent, toNotion := strings.CutPrefix(to, "notion:")
	switch {
	case to != "" && (!toNotion || parent == ""):
		return usage("--to must be notion:<parent page id>")
	case out != "" && to != "":
		return usage("give --out or --to, not both")
	case out != "":
		if _, err := os.Stat(out); err == nil {
			return usage("%s exists; not overwriting it", out)
		}
		if _, err := planfile.FormatOf(out); err != nil {
			return usage("%v", err)
		}
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	var files []planimport.File
	var readErrs []string
	for _, name := range c.Args().Slice() {
		if fi, err := os.Stat(name); err == nil && fi.IsDir() {
			entries, err := os.ReadDir(name)
			if err != nil {
				readErrs = append(readErrs, err.Error())
				continue
			}
			for _, e := range entries {
				if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
					files = appendFile(files, &readErrs, name+string(os.PathSeparator)+e.Name())
				}
			}
			continue
		}
		files = appendFile(files, &readErrs, name)
	}
	if len(readErrs) > 0 {
		return usage("%s", strings.Join(readErrs, "\n"))
	}
	res, err := planimport.Import(format, files, planimport.Options{Status: trackplan.Status(c.String("status")), Owner: c.String("owner")})
	var ierr *planimport.Error
	switch {
	case errors.As(err, &ierr):
		return usage("%d problems in the input:\n%v", len(ierr.Problems), ierr)
	case err != nil:
		return usage("%v", err)
	}
	for _, n := range res.Lost {
		fmt.Fprintf(c.App.ErrWriter, "not kept: %s\n", n)
	}
	for _, d := range res.Defaults {
		fmt.Fprintf(c.App.ErrWriter, "default: %s\n", d)
	}
	summary := fmt.Sprintf("imported %d events from %s (%d files); %d things not kept", len(res.Plan.Events), format, len(files), len(res.Lost))
	switch {
	case to != "":
		client, err := newNotionClient(c, cfg, "")
		if err != nil {
			return err
		}
		ini, err := client.Init(c.Context, parent, res.Plan, notion.InitOptions{})
		reportNotionRequests(c, client)
		if err != nil {
			return notionError(err)
		}
		fmt.Fprintf(c.App.Writer, "%s\ncreated the Notion plan: %d rows\nEvents database:     %s\nProperties database: %s\n"+
			"use --plan notion:%s (or notion.events_database in the config)\n",
			summary, len(ini.Changes), ini.EventsDB, ini.PropertiesDB, ini.EventsDB)
	case out != "":
		if err := writePlanFile(out, res.Plan); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "%s; wrote %s\n", summary, out)
	default:
		fmt.Fprintln(c.App.ErrWriter, summary)
		return planfile.Write(c.App.Writer, res.Plan, planfile.YAML)
	}
	return nil
}

func appendFile(files []planimport.File, errs *[]string, name string) []planimport.File {
	fi, err := os.Stat(name)
	if err == nil && fi.Size() > planfile.MaxFileSize {
		*errs = append(*errs, fmt.Sprintf("%s: larger than %d bytes", name, planfile.MaxFileSize))
		return files
	}
	data, err := os.ReadFile(name)
	if err != nil {
		*errs = append(*errs, err.Error())
		return files
	}
	return append(files, planimport.File{Name: name, Data: data})
}
