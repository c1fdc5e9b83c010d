package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/store"
)

func rebuildCommand() *cli.Command {
	return &cli.Command{
		Name:  "rebuild",
		Usage: "recompute all derived state from the event log",
		Description: "Empties the derived tables (observations, violations, traits, memberships, rollups, samples)\n" +
			"and applies the whole log again against the current plan. Duplicate counts, the run log, score\n" +
			"snapshots and the push ledger stay. A serve running on the same store keeps working: it derives\n" +
			"from the rewound cursor like the rebuild does, and no record is applied twice.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "into", Usage: "write the derived state into this store (SQLite file or postgres:// URL) instead of the log's own"},
			&cli.BoolFlag{Name: "skip-corrupt", Usage: "skip log blocks that do not decode, reporting each with its sequence range"},
			&cli.BoolFlag{Name: "force", Usage: "rebuild even though the log no longer holds everything the derived state was built from"},
			&cli.BoolFlag{Name: "check", Value: true, Usage: "check messages against the plan (--check=false to derive without)"},
			&cli.BoolFlag{Name: "no-progress", Usage: "never show a progress bar"},
		},
		Action: runRebuild,
	}
}

func runRebuild(c *cli.Context) error {
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
	src, err := openStore(c.Context, cfg.DB, storeLimits(cfg))
	if err != nil {
		return err
	}
	defer src.Close()
	stats, err := src.LogStats(c.Context)
	if err != nil {
		return upstream(err)
	}
	into := src
	if dsn := c.String("into"); dsn != "" {
		if into, err = openStore(c.Context, dsn, storeLimits(cfg)); err != nil {
			return err
		}
		defer into.Close()
	} else if stats.Pruned && !c.Bool("force") {
		return usage("rebuild: the log no longer holds all that the derived state was built from " +
			"(it was pruned, or the store is older than its log); a rebuild would keep only the log's window. " +
			"Use --into to rebuild into another store, or --force")
	}
	if err := into.ResetDerived(c.Context); err != nil {
		return upstream(err)
	}

	opts := derive.Options{Logger: logger(c), SkipCorrupt: c.Bool("skip-corrupt"), MaxRecords: 100_000}
	if !c.Bool("no-progress") && isTerminal(c.App.ErrWriter) && stats.Last > 0 {
		bar := progressbar.NewOptions64(stats.Last, progressbar.OptionSetWriter(c.App.ErrWriter),
			progressbar.OptionSetDescription("rebuild"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("records"), progressbar.OptionThrottle(100*time.Millisecond))
		defer bar.Finish()
		opts.Progress = func(cursor int64) { bar.Set64(cursor) }
	}
	d := derive.New(src, into, opts)
	if plan != nil {
		d.SetChecker(trackplan.NewChecker(plan))
		if _, err := d.Recheck(c.Context, planVersion(cfg, plan)); err != nil {
			return upstream(fmt.Errorf("rebuild: %w", err))
		}
	}
	start := time.Now()
	res, err := d.CatchUp(c.Context)
	took := time.Since(start)
	if err != nil {
		var ce *store.CorruptBlockError
		if errors.As(err, &ce) {
			return upstream(fmt.Errorf("rebuild stopped at cursor %d: %w (rerun with --skip-corrupt to skip it)", res.Cursor, err))
		}
		return upstream(fmt.Errorf("rebuild: %w", err))
	}
	for _, ce := range res.Skipped {
		fmt.Fprintf(c.App.Writer, "skipped corrupt log block: records %d-%d (%v)\n", ce.First, ce.Last, ce.Err)
	}
	rate := float64(res.Records) / max(took.Seconds(), 1e-9)
	fmt.Fprintf(c.App.Writer, "rebuilt from %d log records in %s (%.0f records/s); cursor at %d\n",
		res.Records, took.Round(time.Millisecond), rate, res.Cursor)
	if len(res.Skipped) > 0 {
		return &exitError{code: exitFindings, err: fmt.Errorf("%d corrupt log blocks skipped", len(res.Skipped))}
	}
	return nil
}
