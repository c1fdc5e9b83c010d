package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/schedule"
	"github.com/trackplan/trackplan/store"
)

// jobAlerts evaluates the tracking rules and the lag, and sends the digest.
const jobAlerts = "alerts"

// AlertsConfig is the config's alerts section: channels, the digest and
// each rule's thresholds. Every rule is on by default.
type AlertsConfig struct {
	// Schedule is when the tracking rules and the lag are evaluated (and
	// the digest sent when due); "" turns that off.
	Schedule string `yaml:"schedule"`
	Slack    struct {
		WebhookURL Secret `yaml:"webhook_url"`
	} `yaml:"slack"`
	Webhook struct {
		URL    Secret `yaml:"url"`
		Secret Secret `yaml:"secret"`
	} `yaml:"webhook"`
	Digest struct {
		Time string `yaml:"time"` // HH:MM; "" turns the digest off
		Zone string `yaml:"zone"` // an IANA zone
	} `yaml:"digest"`
	NewFinding struct {
		AlertRule `yaml:",inline"`
		Severity  string `yaml:"severity"`
	} `yaml:"new_finding"`
	VolumeDrop struct {
		AlertRule   `yaml:",inline"`
		Percent     float64  `yaml:"percent"`
		Window      Duration `yaml:"window"`
		MinBaseline int64    `yaml:"min_baseline"`
	} `yaml:"volume_drop"`
	ViolationSpike struct {
		AlertRule `yaml:",inline"`
		Factor    float64 `yaml:"factor"`
		MinCount  int64   `yaml:"min_count"`
	} `yaml:"violation_spike"`
	ScoreDrop struct {
		AlertRule `yaml:",inline"`
		Points    float64 `yaml:"points"`
	} `yaml:"score_drop"`
	TopBand       AlertRule `yaml:"top_band"`
	NoActiveUsers AlertRule `yaml:"no_active_users"`
	JobFailures   struct {
		AlertRule   `yaml:",inline"`
		Consecutive int `yaml:"consecutive"`
	} `yaml:"job_failures"`
	PushFailures AlertRule `yaml:"push_failures"`
	Lag          struct {
		AlertRule `yaml:",inline"`
		Max       Duration `yaml:"max"`
	} `yaml:"lag"`
}

// AlertRule is what every alert rule has.
type AlertRule struct {
	Enabled  bool     `yaml:"enabled"`
	Cooldown Duration `yaml:"cooldown"`
}

// defaultAlertsConfig mirrors alerts.DefaultConfig in the config's types.
func defaultAlertsConfig() AlertsConfig {
	d := alerts.DefaultConfig()
	rule := func(r alerts.RuleConfig) AlertRule {
		return AlertRule{Enabled: r.Enabled, Cooldown: Duration(r.Cooldown)}
	}
	var c AlertsConfig
	c.Schedule = "*/5 * * * *"
	c.Digest.Time, c.Digest.Zone = d.DigestTime, "UTC"
	c.NewFinding.AlertRule, c.NewFinding.Severity = rule(d.NewFinding.RuleConfig), string(d.NewFinding.Severity)
	c.VolumeDrop.AlertRule, c.VolumeDrop.Percent = rule(d.VolumeDrop.RuleConfig), d.VolumeDrop.Percent
	c.VolumeDrop.Window, c.VolumeDrop.MinBaseline = Duration(d.VolumeDrop.Window), d.VolumeDrop.MinBaseline
	c.ViolationSpike.AlertRule = rule(d.ViolationSpike.RuleConfig)
	c.ViolationSpike.Factor, c.ViolationSpike.MinCount = d.ViolationSpike.Factor, d.ViolationSpike.MinCount
	c.ScoreDrop.AlertRule, c.ScoreDrop.Points = rule(d.ScoreDrop.RuleConfig), d.ScoreDrop.Points
	c.TopBand, c.NoActiveUsers, c.PushFailures = rule(d.TopBand), rule(d.NoActiveUsers), rule(d.PushFailures)
	c.JobFailures.AlertRule, c.JobFailures.Consecutive = rule(d.JobFailures.RuleConfig), d.JobFailures.Consecutive
	c.Lag.AlertRule, c.Lag.Max = rule(d.Lag.RuleConfig), Duration(d.Lag.Max)
	return c
}

// validate adds the alerts section's problems (and dashboard.base_url's).
func (c *Config) validateAlerts(v *trackplan.ValidationError) {
	a := &c.Alerts
	if u := c.Dashboard.BaseURL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			v.Add("dashboard.base_url", "must be an absolute http(s) URL (the dashboard's public address)")
		}
	}
	if a.Schedule != "" {
		if err := schedule.ValidSpec(a.Schedule); err != nil {
			v.Add("alerts.schedule", err.Error())
		}
	}
	for field, s := range map[string]Secret{"alerts.slack.webhook_url": a.Slack.WebhookURL, "alerts.webhook.url": a.Webhook.URL} {
		if s == "" {
			continue
		}
		// Never the value in the message: it is a secret.
		if p, err := url.Parse(string(s)); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			v.Add(field, "must be an http(s) URL")
		}
	}
	if a.Webhook.URL != "" && a.Webhook.Secret == "" {
		v.Add("alerts.webhook.secret", "must be set with alerts.webhook.url: receivers check the signature with it")
	}
	if a.Digest.Time != "" {
		if _, _, err := alerts.ParseDigestTime(a.Digest.Time); err != nil {
			v.Add("alerts.digest.time", err.Error())
		}
	}
	if _, err := time.LoadLocation(cmp.Or(a.Digest.Zone, "UTC")); err != nil {
		v.Add("alerts.digest.zone", fmt.Sprintf("unknown time zone %q", a.Digest.Zone))
	}
	switch trackplan.Severity(a.NewFinding.Severity) {
	case trackplan.SeverityError, trackplan.SeverityWarning:
	default:
		v.Add("alerts.new_finding.severity", fmt.Sprintf("must be error or warning, not %q", a.NewFinding.Severity))
	}
	if a.VolumeDrop.Percent <= 0 || a.VolumeDrop.Percent > 100 {
		v.Add("alerts.volume_drop.percent", "must be in (0, 100]")
	}
	if w := time.Duration(a.VolumeDrop.Window); w < time.Hour || w > 7*24*time.Hour || w%time.Hour != 0 {
		v.Add("alerts.volume_drop.window", "must be whole hours, from 1h to 7d")
	}
	if a.VolumeDrop.MinBaseline < 1 {
		v.Add("alerts.volume_drop.min_baseline", "must be at least 1 message")
	}
	if a.ViolationSpike.Factor <= 1 {
		v.Add("alerts.violation_spike.factor", "must be above 1")
	}
	if a.ViolationSpike.MinCount < 1 {
		v.Add("alerts.violation_spike.min_count", "must be at least 1")
	}
	if a.ScoreDrop.Points <= 0 || a.ScoreDrop.Points > 100 {
		v.Add("alerts.score_drop.points", "must be in (0, 100]")
	}
	if a.JobFailures.Consecutive < 1 {
		v.Add("alerts.job_failures.consecutive", "must be at least 1")
	}
	if a.Lag.Max <= 0 {
		v.Add("alerts.lag.max", "must be positive")
	}
	for name, r := range map[string]AlertRule{"new_finding": a.NewFinding.AlertRule, "volume_drop": a.VolumeDrop.AlertRule,
		"violation_spike": a.ViolationSpike.AlertRule, "score_drop": a.ScoreDrop.AlertRule, "top_band": a.TopBand,
		"no_active_users": a.NoActiveUsers, "job_failures": a.JobFailures.AlertRule, "push_failures": a.PushFailures,
		"lag": a.Lag.AlertRule} {
		if r.Cooldown < 0 {
			v.Add("alerts."+name+".cooldown", "must not be negative")
		}
	}
}

// alertsConfig turns the config into the alerts package's plain values.
func alertsConfig(cfg Config) alerts.Config {
	a := cfg.Alerts
	rule := func(r AlertRule) alerts.RuleConfig {
		return alerts.RuleConfig{Enabled: r.Enabled, Cooldown: time.Duration(r.Cooldown)}
	}
	out := alerts.DefaultConfig()
	out.BaseURL = cfg.Dashboard.BaseURL
	out.SlackURL, out.WebhookURL, out.WebhookSecret = string(a.Slack.WebhookURL), string(a.Webhook.URL), string(a.Webhook.Secret)
	out.DigestTime = a.Digest.Time
	if loc, err := time.LoadLocation(cmp.Or(a.Digest.Zone, "UTC")); err == nil {
		out.DigestZone = loc
	}
	out.Window = time.Duration(cfg.Drift.Window)
	out.NewFinding.RuleConfig, out.NewFinding.Severity = rule(a.NewFinding.AlertRule), trackplan.Severity(a.NewFinding.Severity)
	out.VolumeDrop.RuleConfig, out.VolumeDrop.Percent = rule(a.VolumeDrop.AlertRule), a.VolumeDrop.Percent
	out.VolumeDrop.Window, out.VolumeDrop.MinBaseline = time.Duration(a.VolumeDrop.Window), a.VolumeDrop.MinBaseline
	out.ViolationSpike.RuleConfig = rule(a.ViolationSpike.AlertRule)
	out.ViolationSpike.Factor, out.ViolationSpike.MinCount = a.ViolationSpike.Factor, a.ViolationSpike.MinCount
	out.ScoreDrop.RuleConfig, out.ScoreDrop.Points = rule(a.ScoreDrop.AlertRule), a.ScoreDrop.Points
	out.TopBand, out.NoActiveUsers, out.PushFailures = rule(a.TopBand), rule(a.NoActiveUsers), rule(a.PushFailures)
	out.JobFailures.RuleConfig, out.JobFailures.Consecutive = rule(a.JobFailures.AlertRule), a.JobFailures.Consecutive
	out.Lag.RuleConfig, out.Lag.Max = rule(a.Lag.AlertRule), time.Duration(a.Lag.Max)
	return out
}

// newNotifier builds the notifier of a command or of the daemon.
func newNotifier(cfg Config, st store.Store, plan func() *trackplan.Plan, lag func(context.Context) (time.Duration, error), log *slog.Logger, attempts int) (*alerts.Notifier, error) {
	push := pushConfig(cfg, nil)
	return alerts.New(alerts.Options{Config: alertsConfig(cfg), Store: st, Plan: plan, Lag: lag, Push: &push, Logger: log, Attempts: attempts})
}

// watch wraps a daemon job so the alerts fed by it are evaluated after
// each run: the operations rules after every job, the engagement rules
// after a successful score run. An alerting problem is logged; it never
// changes the job's outcome.
func (d *daemon) watch(job string, run schedule.Func) schedule.Func {
	return func(ctx context.Context) (map[string]int64, error) {
		counts, err := run(ctx)
		if d.alerts == nil {
			return counts, err
		}
		if _, aerr := d.alerts.AfterJob(ctx, job, counts, err); aerr != nil {
			d.log.Error("alerts after a job", "job", job, "err", aerr)
		}
		if job == jobScore && err == nil {
			profiles, perr := scoringProfiles(d.currentPlan(), d.cfg)
			if perr == nil {
				names := make([]string, len(profiles))
				for i, p := range profiles {
					names[i] = p.Name
				}
				if _, aerr := d.alerts.Engagement(ctx, names); aerr != nil {
					d.log.Error("engagement alerts", "err", aerr)
				}
			}
		}
		return counts, err
	}
}

// evaluateAlerts is the alerts job: the tracking rules, the lag, the
// digest.
func (d *daemon) evaluateAlerts(ctx context.Context) (map[string]int64, error) {
	r, err := d.alerts.Tracking(ctx)
	return r.Counts(), err
}

// setUpAlerts builds the daemon's notifier; the lag is the aggregator's.
func (d *daemon) setUpAlerts() error {
	var lag func(context.Context) (time.Duration, error)
	if d.deriver != nil {
		lag = func(ctx context.Context) (time.Duration, error) {
			l, err := d.deriver.Lag(ctx, d.now())
			return l.Age, err
		}
	}
	n, err := newNotifier(d.cfg, d.st, d.currentPlan, lag, d.log, 0)
	if err != nil {
		return err
	}
	d.alerts = n
	if len(n.Channels()) == 0 {
		d.log.Info("alerts: no channel configured (alerts.slack.webhook_url, alerts.webhook.url); alerts are only recorded")
	}
	return nil
}

func alertsCommand() *cli.Command {
	return &cli.Command{
		Name:  "alerts",
		Usage: "the record of alerts sent, and a test message per channel",
		Subcommands: []*cli.Command{{
			Name:  "list",
			Usage: "list the alerts decided, newest first (sent, failed, held for the digest)",
			Flags: []cli.Flag{
				formatFlag("text", "json"),
				&cli.StringFlag{Name: "rule", Usage: "only this rule"},
				&cli.StringFlag{Name: "status", Usage: "only this status (sent, failed, held, no_channel)"},
				&cli.IntFlag{Name: "limit", Value: 50, Usage: "how many alerts, newest first (0 for all)"},
			},
			Action: func(c *cli.Context) error {
				if c.Args().Len() > 0 {
					return usage("unexpected argument %q: `trackplan alerts list` takes no arguments", c.Args().First())
				}
				format, err := checkFormat(c, "text", "json")
				if err != nil {
					return err
				}
				_, st, err := configuredStore(c)
				if err != nil {
					return err
				}
				defer st.Close()
				recs, err := st.AlertRecords(c.Context, store.AlertQuery{Rule: c.String("rule"), Status: c.String("status"), Limit: c.Int("limit")})
				if err != nil {
					return upstream(err)
				}
				if format == "json" {
					if recs == nil {
						return writeJSON(c.App.Writer, []any{})
					}
					return writeJSON(c.App.Writer, recs)
				}
				tw := tabwriter.NewWriter(c.App.Writer, 2, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tAT\tRULE\tSEVERITY\tSTATUS\tTITLE\tLINK")
				for _, r := range recs {
					status := r.Status
					if r.Error != "" {
						status += " (" + oneLine(r.Error, 60) + ")"
					}
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.At.Format(time.DateTime), r.Rule, r.Severity,
						status, oneLine(r.Title, 90), r.Link)
				}
				return tw.Flush()
			},
		}, {
			Name:      "test",
			Usage:     "send a test message to a channel (slack or webhook)",
			ArgsUsage: "CHANNEL",
			Action: func(c *cli.Context) error {
				if c.Args().Len() != 1 {
					return usage("`trackplan alerts test` takes one channel: slack or webhook")
				}
				ch := strings.ToLower(c.Args().First())
				if ch != alerts.ChannelSlack && ch != alerts.ChannelWebhook {
					return usage("unknown channel %q: slack or webhook", c.Args().First())
				}
				cfg, st, err := configuredStore(c)
				if err != nil {
					return err
				}
				defer st.Close()
				n, err := newNotifier(cfg, st, nil, nil, logger(c), 1)
				if err != nil {
					return usage("alerts: %v", err)
				}
				if !slices.Contains(n.Channels(), ch) {
					return usage("no %s channel configured (%s)", ch, map[string]string{
						alerts.ChannelSlack: "alerts.slack.webhook_url", alerts.ChannelWebhook: "alerts.webhook.url"}[ch])
				}
				if err := n.Test(c.Context, ch); err != nil {
					return upstream(fmt.Errorf("test alert: %w", err))
				}
				fmt.Fprintf(c.App.Writer, "test alert sent to %s\n", ch)
				return nil
			},
		}},
	}
}

// AlertRecords lets the dashboard's overview list the latest alerts.
func (d *dashboardData) AlertRecords(ctx context.Context, q store.AlertQuery) ([]store.AlertRecord, error) {
	return d.st.AlertRecords(ctx, q)
}
