package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/segment"
)

func importCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "load newline-delimited Segment messages (optionally gzipped) into the store",
		ArgsUsage: "FILE…",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "source", Value: "import", Usage: "source name the messages are stored under"},
			&cli.BoolFlag{Name: "no-progress", Usage: "never show a progress bar"},
			&cli.BoolFlag{Name: "check", Value: true, Usage: "check every message against the plan (--check=false to only load)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return usage("import needs at least one FILE")
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			var plan *trackplan.Plan
			if c.Bool("check") {
				if plan, err = loadPlan(c, cfg); err != nil {
					return err
				}
			}
			st, err := openStore(c.Context, cfg.DB, storeLimits(cfg))
			if err != nil {
				return err
			}
			defer st.Close()
			p := ingest.Open(st, ingest.Options{Logger: logger(c)})
			var lines, rejected int
			start := time.Now()
			for _, path := range c.Args().Slice() {
				n, rej, err := importFile(c, p, path)
				lines += n
				rejected += rej
				if err != nil {
					p.Close()
					return err
				}
			}
			p.Close()
			// The derived state includes what was imported before import
			// returns: no daemon needs to be running.
			if _, err := newDeriver(c, st, plan, nil).CatchUp(c.Context); err != nil {
				return upstream(fmt.Errorf("derive from the event log: %w", err))
			}
			t := p.Totals()
			fmt.Fprintf(c.App.Writer, "imported %d lines in %s: %d messages stored, %d duplicates, %d rejected\n",
				lines, time.Since(start).Round(time.Millisecond), t.Stored, t.Duplicates, rejected)
			if rejected > 0 {
				fmt.Fprintln(c.App.Writer, "see `trackplan observed` for the rejection reasons and samples")
			}
			return nil
		},
	}
}

func importFile(c *cli.Context, p *ingest.Pipeline, path string) (lines, rejected int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, usage("import: %v", err)
	}
	defer f.Close()
	var r io.Reader = f
	if fi, err := f.Stat(); err == nil && !c.Bool("no-progress") && isTerminal(c.App.ErrWriter) {
		bar := progressbar.DefaultBytes(fi.Size(), path)
		defer bar.Finish()
		r = io.TeeReader(f, bar)
	}
	reader := &segment.NDJSON{Source: c.String("source")}
	async := ingest.NewAsync(p, 4)
	lines, err = reader.Read(r, func(msgs []*trackplan.Message, rejs []trackplan.Rejection) error {
		rejected += len(rejs)
		return async.Submit(c.Context, msgs, rejs)
	})
	if werr := async.Wait(); werr != nil {
		return lines, rejected, upstream(fmt.Errorf("import %s: store messages: %w", path, werr))
	}
	if err != nil {
		return lines, rejected, fmt.Errorf("import %s: %w", path, err)
	}
	return lines, rejected, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
