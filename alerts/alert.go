package alerts

import (
	"fmt"
	"time"

	"github.com/trackplan/trackplan"
)

// Rule names, as recorded and configured.
const (
	RuleNewFinding     = "new_finding"
	RuleVolumeDrop     = "volume_drop"
	RuleViolationSpike = "violation_spike"
	RuleScoreDrop      = "score_drop"
	RuleTopBand        = "top_band"
	RuleNoActiveUsers  = "no_active_users"
	RuleJobFailures    = "job_failures"
	RulePushFailures   = "push_failures"
	RuleLag            = "lag"
	// RuleDigest and RuleTest name the digest and `alerts test` messages
	// in the record.
	RuleDigest = "digest"
	RuleTest   = "test"
)

// RuleNames lists the rules in the order they are evaluated.
var RuleNames = []string{RuleNewFinding, RuleVolumeDrop, RuleViolationSpike, RuleScoreDrop, RuleTopBand,
	RuleNoActiveUsers, RuleJobFailures, RulePushFailures, RuleLag}

// Severities of an alert.
const (
	Critical = "critical"
	Warning  = "warning"
	Info     = "info"
)

// Alert is something worth telling: what a rule found.
type Alert struct {
	Rule     string
	Key      string // what it is about: the dedupe key
	Severity string
	// Title is one line, Text the details; both plain text (escaped by
	// each channel as it needs).
	Title string
	Text  string
	// Fields are labelled values shown beside the text.
	Fields []Field
	// Path is the dashboard page, relative to the base URL ("" for none).
	Path string
	// Hold keeps it out of the pages: it goes to the next digest.
	Hold bool
}

// Field is a labelled value of an alert.
type Field struct {
	Label, Value string
}

// RuleConfig is what every rule has.
type RuleConfig struct {
	Enabled  bool
	Cooldown time.Duration
}

// Config is the alerting's configuration, in plain values.
type Config struct {
	// BaseURL is the dashboard's public URL; links are left out without it.
	BaseURL string
	// SlackURL is the Slack incoming webhook; "" turns Slack off.
	SlackURL string
	// WebhookURL is the generic webhook; WebhookSecret signs its bodies.
	WebhookURL    string
	WebhookSecret string
	// DigestTime is the digest's time of day ("09:00"), in DigestZone;
	// "" turns the digest off.
	DigestTime string
	DigestZone *time.Location
	// Window is how far back findings count (the drift window).
	Window time.Duration

	NewFinding struct {
		RuleConfig
		// Severity is the lowest finding severity that pages; new findings
		// below it go to the digest.
		Severity trackplan.Severity
	}
	VolumeDrop struct {
		RuleConfig
		Percent     float64       // the drop that fires, in percent
		Window      time.Duration // the hours compared, a whole number of hours
		MinBaseline int64         // messages the same hours a week earlier must have held
	}
	ViolationSpike struct {
		RuleConfig
		Factor   float64 // the last hour against the mean hour of the day before
		MinCount int64   // violations in the last hour, at least
	}
	ScoreDrop struct {
		RuleConfig
		Points float64 // a fall of this many points, or a band
	}
	TopBand       RuleConfig
	NoActiveUsers RuleConfig
	JobFailures   struct {
		RuleConfig
		Consecutive int
	}
	PushFailures RuleConfig
	Lag          struct {
		RuleConfig
		Max time.Duration
	}
}

// DefaultConfig returns the defaults: every rule on, with the thresholds
// the README justifies.
func DefaultConfig() Config {
	var c Config
	c.DigestTime, c.DigestZone = "09:00", time.UTC
	c.Window = 7 * 24 * time.Hour
	c.NewFinding.RuleConfig = RuleConfig{true, 24 * time.Hour}
	c.NewFinding.Severity = trackplan.SeverityError
	c.VolumeDrop.RuleConfig = RuleConfig{true, 24 * time.Hour}
	c.VolumeDrop.Percent, c.VolumeDrop.Window, c.VolumeDrop.MinBaseline = 50, 3*time.Hour, 30
	c.ViolationSpike.RuleConfig = RuleConfig{true, 6 * time.Hour}
	c.ViolationSpike.Factor, c.ViolationSpike.MinCount = 5, 50
	c.ScoreDrop.RuleConfig = RuleConfig{true, 7 * 24 * time.Hour}
	c.ScoreDrop.Points = trackplan.TrendThreshold
	c.TopBand = RuleConfig{true, 7 * 24 * time.Hour}
	c.NoActiveUsers = RuleConfig{true, 7 * 24 * time.Hour}
	c.JobFailures.RuleConfig = RuleConfig{true, 6 * time.Hour}
	c.JobFailures.Consecutive = 3
	c.PushFailures = RuleConfig{true, 6 * time.Hour}
	c.Lag.RuleConfig = RuleConfig{true, time.Hour}
	c.Lag.Max = 15 * time.Minute
	return c
}

// rule returns the common settings of a rule by name.
func (c *Config) rule(name string) RuleConfig {
	switch name {
	case RuleNewFinding:
		return c.NewFinding.RuleConfig
	case RuleVolumeDrop:
		return c.VolumeDrop.RuleConfig
	case RuleViolationSpike:
		return c.ViolationSpike.RuleConfig
	case RuleScoreDrop:
		return c.ScoreDrop.RuleConfig
	case RuleTopBand:
		return c.TopBand
	case RuleNoActiveUsers:
		return c.NoActiveUsers
	case RuleJobFailures:
		return c.JobFailures.RuleConfig
	case RulePushFailures:
		return c.PushFailures
	case RuleLag:
		return c.Lag.RuleConfig
	}
	return RuleConfig{Enabled: true}
}

// ParseDigestTime reads a digest time of day, "HH:MM" on a 24-hour clock.
func ParseDigestTime(s string) (hour, minute int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil || len(s) != 5 {
		return 0, 0, fmt.Errorf("bad time of day %q (want HH:MM, 24-hour)", s)
	}
	return t.Hour(), t.Minute(), nil
}
