package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	tpsync "github.com/trackplan/trackplan/sync"
)

func driftCommand() *cli.Command {
	return &cli.Command{
		Name:  "drift",
		Usage: "report drift between the plan and what arrives (exit 1 on findings at or above --fail-on)",
		Flags: []cli.Flag{
			formatFlag("text", "markdown", "json", "junit"),
			&cli.StringFlag{Name: "fail-on", Value: "error", Usage: "error, warning or never: the least severity that exits 1"},
			&cli.StringFlag{Name: "group-by", Value: "severity", Usage: "severity, owner or event (text and markdown)"},
			&cli.StringFlag{Name: "since", Value: "7d", Usage: "the window of traffic that counts (e.g. 24h, 7d)"},
			&cli.TimestampFlag{Name: "at", Layout: time.RFC3339, Usage: "evaluate as of this instant (RFC 3339), for reproducible runs"},
			&cli.StringFlag{Name: "baseline", Usage: "YAML file of accepted drift (fingerprint, reason, expires)"},
			&cli.BoolFlag{Name: "write-baseline", Usage: "write the current errors and warnings to --baseline, accepted for 90 days"},
			&cli.StringFlag{Name: "events", Usage: "check an NDJSON file of Segment messages (- for standard input) instead of the store (no daemon needed)"},
		},
		Action: runDrift,
	}
}

func runDrift(c *cli.Context) error {
	format, err := checkFormat(c, "text", "markdown", "json", "junit")
	if err != nil {
		return err
	}
	failOn := report.FailOn(c.String("fail-on"))
	if failOn != report.FailOnError && failOn != report.FailOnWarning && failOn != report.FailOnNever {
		return usage("--fail-on must be error, warning or never, not %q", failOn)
	}
	groupBy := report.GroupBy(c.String("group-by"))
	if groupBy != report.BySeverity && groupBy != report.ByOwner && groupBy != report.ByEvent {
		return usage("--group-by must be severity, owner or event, not %q", groupBy)
	}
	window, err := parseDuration(c.String("since"))
	if err != nil || window <= 0 {
		return usage("--since: want a positive duration such as 24h or 7d")
	}
	if c.Bool("write-baseline") && c.String("baseline") == "" {
		return usage("--write-baseline needs --baseline FILE")
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	plan, err := loadPlan(c, cfg)
	if err != nil {
		return err
	}
	at := time.Now().UTC()
	if ts := c.Timestamp("at"); ts != nil {
		at = ts.UTC()
	}
	opts := driftOptions(cfg, window)

	var st store.Store
	if file := c.String("events"); file != "" {
		st, err = storeFromEvents(c, plan, file)
	} else if st, err = openStore(c.Context, cfg.DB, storeLimits(cfg)); err == nil {
		if err = catchUp(c, cfg, st, plan); err != nil {
			st.Close()
		}
	}
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := tpsync.Drift(c.Context, st, plan, at, opts)
	if err != nil {
		return upstream(err)
	}

	if path := c.String("baseline"); path != "" {
		if c.Bool("write-baseline") {
			b := report.NewBaseline(rep, "accepted when the baseline was written", at.AddDate(0, 0, 90))
			if err := b.Write(path); err != nil {
				return usage("%v", err)
			}
			fmt.Fprintf(c.App.ErrWriter, "wrote %d accepted findings to %s\n", len(b.Entries), path)
		}
		b, err := report.LoadBaseline(path)
		if err != nil {
			return usage("%v", err)
		}
		b.Apply(rep, at)
	}

	w := c.App.Writer
	switch format {
	case "json":
		err = report.WriteJSON(w, rep)
	case "markdown":
		err = report.WriteMarkdown(w, rep, groupBy)
	case "junit":
		names := make([]string, 0, len(plan.Events))
		for _, e := range plan.Events {
			names = append(names, e.Name)
		}
		err = report.WriteJUnit(w, rep, names)
	default:
		err = report.WriteText(w, rep, report.TextOptions{GroupBy: groupBy, Color: isTerminal(w)})
	}
	if err != nil {
		return err
	}
	if rep.Fails(failOn) {
		return &exitError{code: exitFindings}
	}
	return nil
}

// storeFromEvents checks an NDJSON file with no daemon: the messages go
// through the same check and aggregation as the collector's, into a
// temporary store that is removed afterwards, so `drift --events` and
// `drift` on a store agree.
func storeFromEvents(c *cli.Context, plan *trackplan.Plan, file string) (store.Store, error) {
	var f io.Reader = c.App.Reader
	if file != "-" {
		fh, err := os.Open(file)
		if err != nil {
			return nil, usage("--events: %v", err)
		}
		defer fh.Close()
		f = fh
	}
	dir, err := os.MkdirTemp("", "trackplan-drift-")
	if err != nil {
		return nil, upstream(err)
	}
	db, err := sqlite.Open(c.Context, filepath.Join(dir, "events.db"), store.DefaultLimits())
	if err != nil {
		os.RemoveAll(dir)
		return nil, upstream(err)
	}
	p := ingest.Open(db, ingest.Options{Logger: logger(c)})
	reader := &segment.NDJSON{Source: "events"}
	async := ingest.NewAsync(p, 4)
	_, readErr := reader.Read(f, func(msgs []*trackplan.Message, rejs []trackplan.Rejection) error {
		return async.Submit(c.Context, msgs, rejs)
	})
	storeErr := async.Wait()
	p.Close()
	if readErr != nil || storeErr != nil {
		db.Close()
		os.RemoveAll(dir)
		if storeErr != nil {
			return nil, upstream(fmt.Errorf("--events %s: store: %w", file, storeErr))
		}
		return nil, usage("--events %s: %v", file, readErr)
	}
	if _, err := newDeriver(c, db, plan, nil).CatchUp(c.Context); err != nil {
		db.Close()
		os.RemoveAll(dir)
		return nil, upstream(fmt.Errorf("--events %s: derive: %w", file, err))
	}
	return &tempStore{Store: db, dir: dir}, nil
}

// tempStore removes its directory on Close.
type tempStore struct {
	store.Store
	dir string
}

func (t *tempStore) Close() error {
	err := t.Store.Close()
	os.RemoveAll(t.dir)
	return err
}
