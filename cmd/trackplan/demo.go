package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/report"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	tpsync "github.com/trackplan/trackplan/sync"
)

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "the whole loop on embedded defaults: collector on a temporary store, simulated traffic, the results",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "accounts", Value: 60, Usage: "accounts to simulate"},
			&cli.IntFlag{Name: "users-per-account", Value: 6, Usage: "users per account"},
			&cli.IntFlag{Name: "days", Value: 30, Usage: "days of history"},
			&cli.Int64Flag{Name: "seed", Value: 7, Usage: "random seed"},
			&cli.BoolFlag{Name: "keep", Usage: "keep the temporary store and print its path"},
			&cli.BoolFlag{Name: "push-to-self", Usage: "really push the scores, into the demo's own collector"},
			&cli.BoolFlag{Name: "serve", Usage: "keep the collector and dashboard running until interrupted"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:0", Usage: "address of the demo's collector and dashboard", EnvVars: []string{"TRACKPLAN_LISTEN"}},
		},
		Action: runDemo,
	}
}

func runDemo(c *cli.Context) error {
	out := c.App.Writer
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	plan, err := loadPlan(c, cfg)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "trackplan-demo-")
	if err != nil {
		return upstream(fmt.Errorf("demo: %w", err))
	}
	if !c.Bool("keep") {
		defer os.RemoveAll(dir)
	}
	dbPath := filepath.Join(dir, "demo.db")
	st, err := sqlite.Open(c.Context, dbPath, store.DefaultLimits())
	if err != nil {
		return upstream(fmt.Errorf("demo: %w", err))
	}
	defer st.Close()

	key := randomKey()
	log := logger(c)
	dash, err := newDashboard(c.String("listen"), cfg, st, func() *trackplan.Plan { return plan }, log)
	if err != nil {
		return err
	}
	srv, err := startServer(serverConfig{
		Listen:    c.String("listen"),
		Sources:   []segment.Source{{Name: "demo", WriteKey: key}},
		Store:     st,
		Plan:      plan,
		Dashboard: dash,
		Logger:    log,
	})
	if err != nil {
		return err
	}
	defer srv.Shutdown(10 * time.Second)
	fmt.Fprintf(out, "collector and dashboard on http://%s (temporary store %s)\n", srv.Addr, dbPath)

	res, err := runSimulation(c.Context, simulation{
		Plan:     plan,
		Endpoint: "http://" + srv.Addr,
		WriteKey: key,
		Options: simulate.Options{Accounts: c.Int("accounts"), UsersPerAccount: c.Int("users-per-account"),
			Days: c.Int("days"), Seed: c.Int64("seed"), Drift: true, Now: time.Now().UTC()},
		Client: clientLog{logger: log.With("component", "simulate")},
	})
	if err != nil {
		return err
	}
	res.print(out)

	if err := srv.CatchUp(c.Context); err != nil {
		return err
	}
	o, err := st.Observed(c.Context)
	if err != nil {
		return upstream(err)
	}
	fmt.Fprintln(out, "\n== Observed ==")
	if err := writeObservedText(out, o); err != nil {
		return err
	}
	rep, err := tpsync.Drift(c.Context, st, plan, time.Now().UTC(), driftOptions(cfg, time.Duration(cfg.Drift.Window)))
	if err != nil {
		return upstream(err)
	}
	fmt.Fprintln(out, "\n== Drift (trackplan drift) ==")
	if err := report.WriteText(out, rep, report.TextOptions{Color: isTerminal(out), InfoLimit: 3}); err != nil {
		return err
	}

	profiles, err := scoringProfiles(plan, cfg)
	if err != nil {
		return err
	}
	// A snapshot a day for the past two weeks, as the daemon's hourly job
	// would have left: the dashboard's history charts and the trends use them.
	now := time.Now().UTC()
	for d := 14; d >= 1; d-- {
		if _, err := scoreProfile(c.Context, st, cfg, profiles[0], now.AddDate(0, 0, -d), true); err != nil {
			return err
		}
	}
	run, err := scoreProfile(c.Context, st, cfg, profiles[0], now, true)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== Top accounts (Sherlock engagement score) ==")
	if err := newScoreView(run, false, 10).writeText(out); err != nil {
		return err
	}

	pcfg := pushConfig(cfg, nil)
	pcfg.DryRun = !c.Bool("push-to-self")
	client := segment.ClientConfig{Endpoint: "http://" + srv.Addr, WriteKey: key, Logger: log.With("component", "push")}
	p, err := tpsync.NewPush(st, client, pcfg, time.Now, log)
	if err != nil {
		return usage("push: %v", err)
	}
	pushed, err := p.Run(c.Context)
	if err != nil {
		return upstream(fmt.Errorf("push: %w", err))
	}
	if pcfg.DryRun {
		fmt.Fprintln(out, "\n== Score push, dry run (trackplan push --dry-run) ==")
	} else {
		fmt.Fprintln(out, "\n== Score push into the demo's own collector ==")
	}
	writePushText(out, pushed, 8)
	if !pcfg.DryRun {
		if err := srv.CatchUp(c.Context); err != nil {
			return err
		}
		o, err := st.Observed(c.Context)
		if err != nil {
			return upstream(err)
		}
		for _, e := range o.Events {
			if e.Type == trackplan.Group || e.Type == trackplan.Identify {
				fmt.Fprintf(out, "observed back: %d %s calls (source %s), with traits such as %s\n", e.Count, e.Type, e.Source,
					propSummary(e.Properties))
			}
		}
	}

	if c.Bool("serve") {
		fmt.Fprintf(out, "\ndashboard: http://%s/ — press Ctrl-C to stop\n", srv.Addr)
		<-c.Context.Done()
	}
	if c.Bool("keep") {
		fmt.Fprintf(out, "\nstore kept at %s (use --db %s)\n", dbPath, dbPath)
	}
	return nil
}

// clientLog carries the logger handed to the analytics-go wrapper.
type clientLog struct{ logger *slog.Logger }

func clientLogger(c *cli.Context) clientLog {
	return clientLog{logger: logger(c).With("component", "segment-client")}
}

func randomKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}
