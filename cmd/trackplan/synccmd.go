package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

func syncCommand() *cli.Command {
	return &cli.Command{
		Name:  "sync",
		Usage: "write what was observed back into the Notion plan (only changed rows are written)",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Usage: "print what would change and write nothing"},
			&cli.BoolFlag{Name: "add-unplanned", Value: true, Usage: "add rows (Status proposed) for unplanned events", EnvVars: []string{"TRACKPLAN_NOTION_ADD_UNPLANNED"}},
		},
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			id := notionEventsDB(cfg)
			if id == "" {
				return usage("sync writes to Notion: give --plan notion:<events-database-id>")
			}
			job, client, st, err := newWriteBack(c, cfg, id)
			if err != nil {
				return err
			}
			defer st.Close()
			job.DryRun = c.Bool("dry-run")
			if c.IsSet("add-unplanned") {
				job.AddUnplanned = c.Bool("add-unplanned")
			}
			changes, err := job.Run(c.Context)
			reportNotionRequests(c, client)
			printChanges(c.App.Writer, changes, job.DryRun)
			if err != nil {
				return notionError(err)
			}
			return nil
		},
	}
}

// newWriteBack wires the Notion write-back job over the store it opens,
// and returns its Notion client (for request counts); the caller closes
// the store.
func newWriteBack(c *cli.Context, cfg Config, eventsDB string) (*tpsync.WriteBack, *notion.Client, store.Store, error) {
	plan, err := loadNotionPlan(c, cfg, eventsDB)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := openStore(c.Context, cfg.DB, storeLimits(cfg))
	if err != nil {
		return nil, nil, nil, err
	}
	if err := catchUp(c, cfg, st, plan); err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	wb, client, err := newWriteBackOn(c, cfg, eventsDB, st, func() *trackplan.Plan { return plan })
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return wb, client, st, nil
}

// newWriteBackOn wires the Notion write-back over an open store; plan gives
// the plan in force at each run.
func newWriteBackOn(c *cli.Context, cfg Config, eventsDB string, st store.Store, plan func() *trackplan.Plan) (*tpsync.WriteBack, *notion.Client, error) {
	client, err := newNotionClient(c, cfg, eventsDB)
	if err != nil {
		return nil, nil, err
	}
	addUnplanned := true
	if cfg.Notion.AddUnplanned != nil {
		addUnplanned = *cfg.Notion.AddUnplanned
	}
	return &tpsync.WriteBack{
		Notion:       client,
		Store:        st,
		Plan:         plan,
		Options:      driftOptions(cfg, time.Duration(cfg.Drift.Window)),
		AddUnplanned: addUnplanned,
		Logger:       logger(c),
	}, client, nil
}

func driftOptions(cfg Config, window time.Duration) tpsync.DriftOptions {
	return tpsync.DriftOptions{Window: window, AccountNameTrait: cfg.Scoring.AccountNameTrait}
}
