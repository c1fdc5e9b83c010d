package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/segment"
	tpsync "github.com/trackplan/trackplan/sync"
)

func pushCommand() *cli.Command {
	return &cli.Command{
		Name:  "push",
		Usage: "push engagement scores to Segment as group/identify traits (only what changed)",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "profile", Usage: "profile to push (repeatable; default: the default profile)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the calls that would be sent and send nothing"},
			&cli.BoolFlag{Name: "full", Usage: "resend everything, changed or not"},
			&cli.StringFlag{Name: "endpoint", Usage: "Segment-compatible API base URL (default: the config's push.endpoint)", EnvVars: []string{"TRACKPLAN_PUSH_ENDPOINT"}},
			formatFlag("text", "json"),
		},
		Action: func(c *cli.Context) error {
			format, err := checkFormat(c, "text", "json")
			if err != nil {
				return err
			}
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			if c.IsSet("endpoint") {
				cfg.Push.Endpoint = c.String("endpoint")
			}
			st, err := openStore(c.Context, cfg.DB, storeLimits(cfg))
			if err != nil {
				return err
			}
			defer st.Close()
			if err := catchUp(c, cfg, st, nil); err != nil {
				return err
			}
			pcfg := pushConfig(cfg, c.StringSlice("profile"))
			pcfg.DryRun, pcfg.Full = c.Bool("dry-run"), c.Bool("full")
			p, err := tpsync.NewPush(st, pushClient(c, cfg), pcfg, time.Now, logger(c))
			if err != nil {
				return usage("push: %v", err)
			}
			res, err := p.Run(c.Context)
			if format == "json" {
				if werr := writeJSON(c.App.Writer, res); werr != nil {
					return werr
				}
			} else {
				writePushText(c.App.Writer, res, 0)
			}
			switch {
			case errors.Is(err, trackplan.ErrNotFound):
				return usage("push: %v (run `trackplan score --save` or the daemon's score job first)", err)
			case errors.Is(err, tpsync.ErrUpstream):
				return upstream(fmt.Errorf("push: %w; the ledger keeps them pending for the next run", err))
			case err != nil:
				return upstream(fmt.Errorf("push: %w", err))
			}
			return nil
		},
	}
}

// pushConfig builds the push settings from the config.
func pushConfig(cfg Config, profiles []string) tpsync.PushConfig {
	p := tpsync.DefaultPushConfig()
	if len(profiles) > 0 {
		p.Profiles = profiles
	}
	p.Prefix = cmp.Or(cfg.Push.Prefix, p.Prefix)
	if cfg.Push.Identify != nil {
		p.Identify = *cfg.Push.Identify
	}
	if cfg.Push.GroupUser == "anonymous" {
		p.GroupAnonymousID = cfg.Push.AnonymousID
	}
	p.Threshold = float64(cfg.Push.Threshold)
	p.OnRemoved = cfg.Push.OnRemoved
	return p
}

// pushClient configures the analytics-go client of the push; the write key
// comes from SEGMENT_WRITE_KEY, TRACKPLAN_SEGMENT_WRITE_KEY or the config.
func pushClient(c *cli.Context, cfg Config) segment.ClientConfig {
	return segment.ClientConfig{
		Endpoint:  cfg.Push.Endpoint,
		WriteKey:  pushWriteKey(cfg),
		BatchSize: cfg.Push.BatchSize,
		Interval:  time.Duration(cfg.Push.Interval),
		Logger:    logger(c).With("component", "push"),
	}
}

// writePushText prints a push's counts and, for a dry run, its calls (at
// most maxCalls when positive).
func writePushText(w io.Writer, r tpsync.PushResult, maxCalls int) {
	verb := "sent"
	if r.DryRun {
		verb = "would send"
	}
	for _, kind := range []struct {
		name string
		c    tpsync.PushCounts
	}{{"accounts", r.Accounts}, {"users", r.Users}} {
		c := kind.c
		fmt.Fprintf(w, "%-8s %s %d: %d added, %d changed, %d retried, %d removed · %d unchanged, %d held, %d retired · %d acknowledged, %d failed\n",
			kind.name, verb, c.Sent, c.Added, c.Changed, c.Retried, c.Removed, c.Unchanged, c.Held, c.Retired, c.Acknowledged, c.Failed)
	}
	if len(r.Calls) == 0 {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL\tENTITY\tUSER\tCHANGE\tTRAITS")
	for i, call := range r.Calls {
		if maxCalls > 0 && i == maxCalls {
			fmt.Fprintf(tw, "… %d more calls (trackplan push --dry-run lists them all)\n", len(r.Calls)-maxCalls)
			break
		}
		entity := call.GroupID
		if call.Type == trackplan.Identify {
			entity = call.UserID
		}
		keys := make([]string, 0, len(call.Traits))
		for k := range call.Traits {
			keys = append(keys, k)
		}
		// The score and the tier first: they are what a reader looks for.
		first := func(k string) bool { return strings.HasSuffix(k, "score") || strings.HasSuffix(k, "tier") }
		sort.Slice(keys, func(i, j int) bool {
			if first(keys[i]) != first(keys[j]) {
				return first(keys[i])
			}
			return keys[i] < keys[j]
		})
		parts := make([]string, len(keys))
		for i, k := range keys {
			v := call.Traits[k]
			if v == nil {
				v = "null"
			}
			parts[i] = fmt.Sprintf("%s=%v", k, v)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", call.Type, entity, cmp.Or(call.UserID, call.AnonymousID), call.Change,
			oneLine(strings.Join(parts, " "), 110))
	}
	tw.Flush()
}

func pushWriteKey(cfg Config) string {
	return cmp.Or(os.Getenv("TRACKPLAN_SEGMENT_WRITE_KEY"), os.Getenv("SEGMENT_WRITE_KEY"), string(cfg.Push.WriteKey))
}
