package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/simulate"
)

func simulateCommand() *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "send synthetic B2B SaaS traffic (derived from the plan) to a Segment-compatible endpoint",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "endpoint", Value: "http://127.0.0.1:8088", Usage: "Segment-compatible API base URL", EnvVars: []string{"TRACKPLAN_ENDPOINT"}},
			&cli.StringFlag{Name: "write-key", Required: true, Usage: "write key to send with", EnvVars: []string{"TRACKPLAN_WRITE_KEY"}},
			&cli.IntFlag{Name: "accounts", Value: simulate.DefaultAccounts, Usage: "accounts to simulate"},
			&cli.IntFlag{Name: "users-per-account", Value: simulate.DefaultUsersPerAccount, Usage: "users per account"},
			&cli.IntFlag{Name: "days", Value: simulate.DefaultDays, Usage: "days of history (timestamps are backdated)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "random seed; the same seed sends the same messages"},
			&cli.Float64Flag{Name: "rate", Usage: "messages per second (0 = as fast as the endpoint takes them)"},
			&cli.BoolFlag{Name: "drift", Usage: "inject drift: an unplanned event, a wrong type, a missing required property, a planned event never sent"},
			&cli.IntFlag{Name: "batch-size", Value: segment.DefaultBatchSize, Usage: "messages per batch request"},
		},
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			plan, err := loadPlan(c, cfg)
			if err != nil {
				return err
			}
			res, err := runSimulation(c.Context, simulation{
				Plan:     plan,
				Endpoint: c.String("endpoint"),
				WriteKey: c.String("write-key"),
				Options: simulate.Options{Accounts: c.Int("accounts"), UsersPerAccount: c.Int("users-per-account"),
					Days: c.Int("days"), Seed: c.Int64("seed"), Drift: c.Bool("drift"), Now: time.Now().UTC()},
				Rate:      c.Float64("rate"),
				BatchSize: c.Int("batch-size"),
				Client:    clientLogger(c),
			})
			if err != nil {
				return err
			}
			res.print(c.App.Writer)
			if res.Stats.Failed > 0 || res.Stats.Rejected > 0 {
				return upstream(fmt.Errorf("%d messages were not accepted by %s", res.Stats.Failed+res.Stats.Rejected, c.String("endpoint")))
			}
			return nil
		},
	}
}

// simulation is one run of simulated traffic.
type simulation struct {
	Plan      *trackplan.Plan
	Endpoint  string
	WriteKey  string
	Options   simulate.Options
	Rate      float64
	BatchSize int
	Client    clientLog
}

type simulationResult struct {
	Summary simulate.Summary
	Drift   simulate.DriftInjected
	Stats   segment.ClientStats
	Took    time.Duration
}

// runSimulation generates the traffic and sends it through analytics-go,
// returning once every message was acknowledged or failed.
func runSimulation(ctx context.Context, s simulation) (*simulationResult, error) {
	g, err := simulate.New(s.Plan, s.Options)
	if err != nil {
		return nil, usage("simulate: %v", err)
	}
	client, err := segment.NewClient(segment.ClientConfig{
		Endpoint:  s.Endpoint,
		WriteKey:  s.WriteKey,
		BatchSize: s.BatchSize,
		Interval:  200 * time.Millisecond,
		Rate:      s.Rate,
		Logger:    s.Client.logger,
	})
	if err != nil {
		return nil, usage("simulate: %v", err)
	}
	start := time.Now()
	sendErr := g.Generate(func(m *trackplan.Message) error { return client.Send(ctx, m) })
	// analytics-go drops a batch that fails after Close, so wait until every
	// message is settled (acknowledged, or failed after its retries) first;
	// Close then flushes the rest and waits for it.
	waitSettled(ctx, client)
	closeErr := client.Close()
	res := &simulationResult{Summary: g.Count(), Drift: g.Drift(), Stats: client.Stats(), Took: time.Since(start)}
	if sendErr != nil {
		return res, upstream(fmt.Errorf("simulate: %w", sendErr))
	}
	if closeErr != nil {
		return res, upstream(fmt.Errorf("simulate: flush: %w", closeErr))
	}
	return res, nil
}

func (r *simulationResult) print(w io.Writer) {
	s := r.Stats
	fmt.Fprintf(w, "sent %d messages (%d accounts, %d users) in %s: %d acknowledged, %d failed\n",
		s.Enqueued, r.Summary.Accounts, r.Summary.Users, r.Took.Round(time.Millisecond), s.Succeeded, s.Failed)
	for reason, n := range s.FailedByReason {
		fmt.Fprintf(w, "  failed: %s × %d\n", reason, n)
	}
	if d := r.Drift; !d.Empty() {
		fmt.Fprintln(w, "injected drift:")
		for _, e := range d.UnplannedEvents {
			fmt.Fprintf(w, "  unplanned event %q\n", e)
		}
		for _, p := range d.TypeMismatches {
			fmt.Fprintf(w, "  %s.%s sent as %s (planned %s)\n", p.Event, p.Path, p.Sent, p.Expected)
		}
		for _, p := range d.RequiredMissing {
			fmt.Fprintf(w, "  %s.%s (required) left out\n", p.Event, p.Path)
		}
		for _, e := range d.NeverSent {
			fmt.Fprintf(w, "  planned event %q never sent\n", e)
		}
	}
}

// waitSettled waits until the client has no message in flight or queued
// past its flush interval, or ctx ends.
func waitSettled(ctx context.Context, client *segment.Client) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for client.Stats().Pending() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
