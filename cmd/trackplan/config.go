package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"go.yaml.in/yaml/v3"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/schedule"
	"github.com/trackplan/trackplan/segment"
)

// Config is everything trackplan can be configured with. It is read from
// the YAML file given by --config; the TRACKPLAN_<SECTION>_<KEY> variables
// (envconfig.go, derived from the yaml tags) and flags override it, in that
// order.
type Config struct {
	Listen    string          `yaml:"listen"`
	TLS       TLSConfig       `yaml:"tls"`
	DB        string          `yaml:"db"`
	Plan      string          `yaml:"plan"`
	Sources   []Source        `yaml:"sources"`
	Webhook   WebhookConfig   `yaml:"webhook"`
	Notion    NotionConfig    `yaml:"notion"`
	Drift     DriftConfig     `yaml:"drift"`
	Scoring   ScoringConfig   `yaml:"scoring"`
	Push      PushConfig      `yaml:"push"`
	Schedule  ScheduleConfig  `yaml:"schedule"`
	Retention RetentionConfig `yaml:"retention"`
	Dashboard DashboardConfig `yaml:"dashboard"`
	Collector CollectorConfig `yaml:"collector"`
	CORS      CORSConfig      `yaml:"cors"`
	Alerts    AlertsConfig    `yaml:"alerts"`
	// TrustedProxies are the load balancers and reverse proxies in front
	// of the listener (CIDRs, e.g. 10.0.0.0/8, or addresses) whose
	// X-Forwarded-For and X-Forwarded-Proto are believed: the collector
	// takes the client's address from them (rate limits, and the ip a
	// forwarded message carries), and a sign-in through one that says
	// https gets a Secure cookie. None by default.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// CollectorConfig bounds the collector's request rates; 0 turns a limit
// off.
type CollectorConfig struct {
	RatePerKey    float64 `yaml:"rate_per_key"`    // requests/s per write key
	RatePerClient float64 `yaml:"rate_per_client"` // requests/s per client address
}

// CORSConfig limits the page origins browsers may send events from (the
// tracking API only; the dashboard stays same-origin).
type CORSConfig struct {
	// AllowedOrigins, e.g. https://app.example.com; empty means any:
	// browser write keys are public by design.
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// WebhookConfig configures the Segment Webhooks destination endpoint.
type WebhookConfig struct {
	Secret Secret `yaml:"secret"`
	Source string `yaml:"source"`
}

// NotionConfig configures the Notion plan source and write-back.
type NotionConfig struct {
	Token              Secret            `yaml:"token"`
	BaseURL            string            `yaml:"base_url"`
	EventsDatabase     string            `yaml:"events_database"`
	PropertiesDatabase string            `yaml:"properties_database"`
	Rate               float64           `yaml:"rate"`
	Timeout            Duration          `yaml:"timeout"`
	EventColumns       map[string]string `yaml:"event_columns"`
	PropertyColumns    map[string]string `yaml:"property_columns"`
	AddUnplanned       *bool             `yaml:"add_unplanned"`
	// APIVersion is the Notion-Version spoken: 2025-09-03 (data sources,
	// the default) or 2022-06-28.
	APIVersion string `yaml:"api_version"`
	// EventsSource names (or gives the id of) the data source of the
	// Events database that holds the plan; empty: the first.
	EventsSource string `yaml:"events_source"`
	// WebhookToken is the verification token of the integration's webhook
	// subscription: it signs the events POSTed to /webhook/notion.
	WebhookToken Secret `yaml:"webhook_token"`
	// WebhookReplayWindow is how old a signed event may be (by its
	// timestamp) and how long its id is remembered against replays.
	WebhookReplayWindow Duration `yaml:"webhook_replay_window"`
	// WebhookTokenFile is where serve writes the verification token of a
	// new webhook subscription (mode 0600), for the operator to paste into
	// Notion: secrets are never logged. Empty: beside a SQLite store
	// (<db>.notion-webhook-token).
	WebhookTokenFile string `yaml:"webhook_token_file"`
}

// DriftConfig tunes the drift report.
type DriftConfig struct {
	Window Duration `yaml:"window"`
	// RequiredMissingRate and RequiredMissingMin are no longer used:
	// REQUIRED_MISSING is reported whenever a message lacks a required
	// property. They are still read, with a warning, so older files load.
	RequiredMissingRate float64 `yaml:"required_missing_rate"`
	RequiredMissingMin  int64   `yaml:"required_missing_min"`
}

// ScoringConfig configures engagement scoring.
type ScoringConfig struct {
	AccountNameTrait string              `yaml:"account_name_trait"`
	MembershipTrait  string              `yaml:"membership_trait"`
	Profiles         []trackplan.Profile `yaml:"profiles"`
}

// PushConfig configures the score push to Segment.
type PushConfig struct {
	Endpoint    string   `yaml:"endpoint"`
	WriteKey    Secret   `yaml:"write_key"`
	Identify    *bool    `yaml:"identify"`
	Prefix      string   `yaml:"prefix"`
	Threshold   int      `yaml:"threshold"`
	GroupUser   string   `yaml:"group_user"` // most_recent or anonymous
	AnonymousID string   `yaml:"anonymous_id"`
	BatchSize   int      `yaml:"batch_size"`
	Interval    Duration `yaml:"interval"`
	OnRemoved   string   `yaml:"on_removed"` // zero or ignore
}

// ScheduleConfig holds the daemon's cron expressions; an empty one turns
// the job off.
type ScheduleConfig struct {
	PlanRefresh string `yaml:"plan_refresh"`
	NotionSync  string `yaml:"notion_sync"`
	Score       string `yaml:"score"`
	Prune       string `yaml:"prune"`
}

// RetentionConfig bounds what the store keeps.
type RetentionConfig struct {
	// Events is how long the event log keeps what arrived, counted in whole
	// days of arrival time.
	Events       Duration `yaml:"events"`
	ActivityDays int      `yaml:"activity_days"`
	Dedupe       Duration `yaml:"dedupe"`
	SnapshotDays int      `yaml:"snapshot_days"`
	// LogQuotaMB bounds the event log's size on disk: past it the
	// collector refuses new messages with 503 until a prune frees room.
	// 0 means no quota.
	LogQuotaMB int64 `yaml:"log_quota_mb"`
}

// DashboardConfig protects the dashboard beyond localhost.
type DashboardConfig struct {
	Token    Secret `yaml:"token"`
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	// BaseURL is the dashboard's public address, for the links in alerts.
	BaseURL string `yaml:"base_url"`
}

// TLSConfig serves HTTPS directly: the collector and the dashboard share
// the listener, so both get it. Both files or neither.
type TLSConfig struct {
	Cert string `yaml:"cert"` // PEM certificate chain file
	Key  string `yaml:"key"`  // PEM private key file
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	return Config{
		Listen:  "127.0.0.1:8088",
		DB:      "trackplan.db",
		Webhook: WebhookConfig{Source: "webhook"},
		Collector: CollectorConfig{RatePerKey: segment.DefaultRateLimits().PerKey,
			RatePerClient: segment.DefaultRateLimits().PerClient},
		Notion: NotionConfig{BaseURL: "https://api.notion.com", Rate: 3, Timeout: Duration(30 * time.Second),
			APIVersion: "2025-09-03", WebhookReplayWindow: Duration(10 * time.Minute)},
		Drift:   DriftConfig{Window: Duration(7 * 24 * time.Hour)},
		Scoring: ScoringConfig{AccountNameTrait: trackplan.DefaultAccountNameTrait},
		Push: PushConfig{Endpoint: "https://api.segment.io", Prefix: "engagement_", GroupUser: "most_recent",
			AnonymousID: "trackplan-engagement", BatchSize: 250, Interval: Duration(time.Second), OnRemoved: "zero"},
		Schedule:  ScheduleConfig{PlanRefresh: "*/5 * * * *", NotionSync: "*/15 * * * *", Score: "0 * * * *", Prune: "30 3 * * *"},
		Retention: RetentionConfig{Events: Duration(30 * 24 * time.Hour), ActivityDays: 400, Dedupe: Duration(48 * time.Hour), SnapshotDays: 400, LogQuotaMB: 10240},
		Alerts:    defaultAlertsConfig(),
	}
}

// Validate returns every problem of the configuration, field-qualified.
func (c *Config) Validate() error {
	var v trackplan.ValidationError
	if c.Listen == "" {
		v.Add("listen", "must not be empty")
	} else if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		v.Add("listen", fmt.Sprintf("%q is not a host:port address (e.g. 127.0.0.1:8080 or :8080)", c.Listen))
	}
	if c.DB == "" {
		v.Add("db", "must not be empty")
	}
	names, keys := map[string]bool{}, map[Secret]bool{}
	for i, s := range c.Sources {
		f := fmt.Sprintf("sources[%d]", i)
		switch {
		case s.Name == "":
			v.Add(f+".name", "must not be empty")
		case names[s.Name]:
			v.Add(f+".name", fmt.Sprintf("source %q is defined twice", s.Name))
		}
		switch {
		case s.WriteKey == "":
			v.Add(f+".write_key", "must not be empty (use ${ENV_VAR} to read it from the environment)")
		case keys[s.WriteKey]:
			v.Add(f+".write_key", "the same write key is used by another source")
		}
		names[s.Name], keys[s.WriteKey] = true, true
	}
	if c.Notion.Rate <= 0 || c.Notion.Rate > 100 {
		v.Add("notion.rate", fmt.Sprintf("%g requests/s is outside (0, 100]", c.Notion.Rate))
	}
	if !strings.HasPrefix(c.Notion.BaseURL, "http://") && !strings.HasPrefix(c.Notion.BaseURL, "https://") {
		v.Add("notion.base_url", "must be an http(s) URL")
	}
	if c.Notion.APIVersion != "2025-09-03" && c.Notion.APIVersion != "2022-06-28" {
		v.Add("notion.api_version", fmt.Sprintf("must be 2025-09-03 or 2022-06-28, not %q", c.Notion.APIVersion))
	}
	if c.Notion.WebhookReplayWindow < Duration(time.Minute) || c.Notion.WebhookReplayWindow > Duration(24*time.Hour) {
		v.Add("notion.webhook_replay_window", "must be between 1m and 24h")
	}
	if c.Collector.RatePerKey < 0 || c.Collector.RatePerClient < 0 {
		v.Add("collector", "rates must be 0 (no limit) or positive")
	}
	if c.Drift.Window <= 0 {
		v.Add("drift.window", "must be positive")
	}
	profiles := map[string]bool{}
	for i := range c.Scoring.Profiles {
		p := &c.Scoring.Profiles[i]
		f := fmt.Sprintf("scoring.profiles[%d]", i)
		if profiles[p.Name] {
			v.Add(f+".name", fmt.Sprintf("profile %q is defined twice", p.Name))
		}
		profiles[p.Name] = true
		if err := p.Validate(f); err != nil {
			var pv *trackplan.ValidationError
			if errors.As(err, &pv) {
				v.Problems = append(v.Problems, pv.Problems...)
			} else {
				v.Add(f, err.Error())
			}
		}
	}
	if !strings.HasPrefix(c.Push.Endpoint, "http://") && !strings.HasPrefix(c.Push.Endpoint, "https://") {
		v.Add("push.endpoint", "must be an http(s) URL")
	}
	if c.Push.GroupUser != "most_recent" && c.Push.GroupUser != "anonymous" {
		v.Add("push.group_user", fmt.Sprintf("must be most_recent or anonymous, not %q", c.Push.GroupUser))
	}
	if c.Push.OnRemoved != "zero" && c.Push.OnRemoved != "ignore" {
		v.Add("push.on_removed", fmt.Sprintf("must be zero or ignore, not %q", c.Push.OnRemoved))
	}
	if c.Push.Threshold < 0 || c.Push.Threshold > 100 {
		v.Add("push.threshold", "must be between 0 and 100 points")
	}
	if c.Push.BatchSize < 1 || c.Push.BatchSize > 2500 {
		v.Add("push.batch_size", "must be between 1 and 2500")
	}
	for field, expr := range map[string]string{"schedule.plan_refresh": c.Schedule.PlanRefresh,
		"schedule.notion_sync": c.Schedule.NotionSync, "schedule.score": c.Schedule.Score, "schedule.prune": c.Schedule.Prune} {
		if expr == "" {
			continue
		}
		if err := schedule.ValidSpec(expr); err != nil {
			v.Add(field, err.Error())
		}
	}
	if c.Retention.ActivityDays < 1 {
		v.Add("retention.activity_days", "must be at least 1")
	}
	if c.Retention.Events < Duration(24*time.Hour) {
		v.Add("retention.events", "must be at least 24h (the log is pruned by whole days)")
	}
	if c.Retention.Dedupe < Duration(24*time.Hour) {
		v.Add("retention.dedupe", "must be at least 24h (Segment's dedupe window)")
	}
	if c.Retention.Events < c.Retention.Dedupe {
		v.Add("retention.events", "must be at least retention.dedupe (the log holds the dedupe keys)")
	}
	if (c.Dashboard.User == "") != (c.Dashboard.Password == "") {
		v.Add("dashboard", "user and password go together")
	}
	for i, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			v.Add(fmt.Sprintf("trusted_proxies[%d]", i), err.Error())
		}
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		v.Add("tls", "cert and key go together")
	}
	c.validateAlerts(&v)
	c.validateForward(&v)
	sortProblems(v.Problems)
	return v.Err()
}

// trustedProxies returns the validated trusted_proxies as prefixes.
func trustedProxies(cfg Config) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		prefix, err := parsePrefix(p)
		if err != nil {
			return nil, usage("trusted_proxies: %v", err)
		}
		out = append(out, prefix)
	}
	return out, nil
}

// parsePrefix reads a trusted proxy: a CIDR (10.0.0.0/8) or one address.
func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (10.0.0.0/8) or an IP address", s)
	}
	return netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()), nil
}

// applyTLSFlags sets tls.cert and tls.key from serve's --tls-cert and
// --tls-key (which read no variable of their own: TRACKPLAN_TLS_CERT sets
// the key as any config variable does, and the flag overrides it).
func applyTLSFlags(c *cli.Context, cfg *Config, from map[string]string) {
	if c.Command == nil || c.Command.Name != "serve" {
		return
	}
	for _, f := range []struct {
		flag, key string
		dst       *string
	}{{"tls-cert", "tls.cert", &cfg.TLS.Cert}, {"tls-key", "tls.key", &cfg.TLS.Key}} {
		if c.IsSet(f.flag) {
			*f.dst = c.String(f.flag)
			from[f.key] = "--" + f.flag
		}
	}
}

func sortProblems(p []trackplan.FieldError) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Field < p[j-1].Field; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// loadConfigFile reads a config file over the defaults. ${VAR} references
// in values (not in comments) are replaced by environment variables; unknown
// keys are errors.
func loadConfigFile(path string, getenv func(string) string) (Config, error) {
	cfg := DefaultConfig()
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, usage("read config: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return cfg, usage("config %s: %v", path, err)
	}
	if len(doc.Content) == 0 {
		return cfg, nil // an empty file: the defaults
	}
	var missing []string
	expandNode(&doc, getenv, &missing)
	if len(missing) > 0 {
		return cfg, usage("config %s: environment variable %s is not set", path, strings.Join(missing, ", "))
	}
	expanded, err := yaml.Marshal(&doc)
	if err != nil {
		return cfg, usage("config %s: %v", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, usage("config %s: %v", path, err)
	}
	if cfg.Drift.RequiredMissingRate != 0 || cfg.Drift.RequiredMissingMin != 0 {
		slog.Warn("config: drift.required_missing_rate and drift.required_missing_min are ignored: REQUIRED_MISSING is reported for every message that lacks a required property", "file", path)
	}
	return cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandNode replaces ${VAR} in every scalar value below n and collects the
// names of unset variables.
func expandNode(n *yaml.Node, getenv func(string) string, missing *[]string) {
	if n.Kind == yaml.ScalarNode {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			name := envRef.FindStringSubmatch(m)[1]
			val := getenv(name)
			if val == "" {
				*missing = append(*missing, name)
			}
			return val
		})
		return
	}
	for _, c := range n.Content {
		expandNode(c, getenv, missing)
	}
}

// Secret is a configuration value that is never printed.
type Secret string

// String masks the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "********"
}

// MarshalYAML masks the secret when the config is printed.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// Duration is a time.Duration written like "90s", "15m" or "7d" in YAML.
type Duration time.Duration

// UnmarshalYAML parses Go durations plus a "d" (day) suffix.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back in Go's notation.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// parseDuration accepts Go durations and whole days ("7d").
func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != days {
			return 0, fmt.Errorf("bad duration %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q (use 90s, 15m, 2h or 7d)", s)
	}
	return d, nil
}

// loadConfig builds the effective configuration of a command: the defaults,
// then the --config file, then the TRACKPLAN_<SECTION>_<KEY> variables
// (envconfig.go), then the flags that set a key, then Validate. A flag that
// sets a key reads the key's variable, so either way one name sets it.
func loadConfig(c *cli.Context) (Config, error) {
	cfg := DefaultConfig()
	if path := c.String("config"); path != "" {
		var err error
		if cfg, err = loadConfigFile(path, os.Getenv); err != nil {
			return cfg, err
		}
	}
	log := logger(c)
	flagVars := contextFlagVars(c)
	from, err := applyEnv(&cfg, os.LookupEnv, flagVars, log)
	if err != nil {
		return cfg, err
	}
	if err := applyFlags(c, &cfg, false, from); err != nil {
		return cfg, err
	}
	applyTLSFlags(c, &cfg, from)
	if c.IsSet("write-key") {
		sources, err := parseWriteKeys(c.StringSlice("write-key"))
		if err != nil {
			return cfg, err
		}
		cfg.Sources = sources
	}
	if err := cfg.Validate(); err != nil {
		return cfg, usage("%v", nameOrigins(err, from))
	}
	if err := applyFlags(c, &cfg, true, from); err != nil {
		return cfg, err
	}
	warnUnreadVars(c, flagVars, log)
	return cfg, nil
}

func configCommand() *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "inspect the configuration",
		Subcommands: []*cli.Command{{
			Name:  "check",
			Usage: "validate the config file and print the effective configuration, secrets masked",
			Action: func(c *cli.Context) error {
				cfg, err := loadConfig(c)
				if err != nil {
					return err
				}
				cfg.DB = redactDSN(cfg.DB)
				enc := yaml.NewEncoder(c.App.Writer)
				enc.SetIndent(2)
				defer enc.Close()
				return enc.Encode(cfg)
			},
		}, {
			Name:  "env",
			Usage: "list the environment variables that set config keys (TRACKPLAN_<SECTION>_<KEY>)",
			Action: func(c *cli.Context) error {
				return writeEnvTable(c.App.Writer)
			},
		}},
	}
}
