package alerts

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/store"
	tpsync "github.com/trackplan/trackplan/sync"
)

// Store is what the alerting reads and keeps.
type Store interface {
	store.Alerts
	VerdictPlan(ctx context.Context) (store.PlanVersion, error)
	Verdicts(ctx context.Context, from, to time.Time) (*store.Tally, error)
	LatestScores(ctx context.Context, profile string, before time.Time) (*trackplan.ScoreRun, error)
	Runs(ctx context.Context, job string, limit int) ([]trackplan.JobRun, error)
}

// Options configure a Notifier.
type Options struct {
	Config Config
	Store  Store
	// Plan returns the plan in force (nil: no plan yet).
	Plan func() *trackplan.Plan
	// Lag, optional, reports how long the oldest record not yet derived
	// has waited (0 when caught up).
	Lag func(ctx context.Context) (time.Duration, error)
	// Push is the score push's configuration: the traits it writes come
	// back on group and identify calls and are never findings. nil means
	// sync.DefaultPushConfig().
	Push *tpsync.PushConfig
	// Client sends the requests; nil means a client with a 10 s timeout.
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock; Sleep waits between retries (a test's fake clock
	// records the waits instead). nil means the real ones.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Attempts bounds the tries of one delivery (default 5); `alerts
	// test` makes one, to report a failure at once.
	Attempts int
}

// Notifier evaluates the rules and delivers what fires. Its methods are
// called by the daemon's jobs one at a time per job; concurrent calls of
// different methods are safe.
type Notifier struct {
	cfg    Config
	st     Store
	plan   func() *trackplan.Plan
	lag    func(ctx context.Context) (time.Duration, error)
	push   *tpsync.PushConfig
	client *http.Client
	log    *slog.Logger
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	tries  int
}

// New returns a Notifier.
func New(o Options) (*Notifier, error) {
	if o.Store == nil {
		return nil, errors.New("alerts: Options.Store is required")
	}
	if o.Config.DigestZone == nil {
		o.Config.DigestZone = time.UTC
	}
	if o.Config.DigestTime != "" {
		if _, _, err := ParseDigestTime(o.Config.DigestTime); err != nil {
			return nil, fmt.Errorf("alerts: digest time: %w", err)
		}
	}
	n := &Notifier{cfg: o.Config, st: o.Store, plan: o.Plan, lag: o.Lag, push: o.Push, client: o.Client, log: o.Logger, now: o.Now, sleep: o.Sleep, tries: cmp.Or(o.Attempts, maxAttempts)}
	if n.plan == nil {
		n.plan = func() *trackplan.Plan { return nil }
	}
	if n.client == nil {
		n.client = &http.Client{Timeout: 10 * time.Second}
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	if n.now == nil {
		n.now = time.Now
	}
	if n.sleep == nil {
		n.sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	return n, nil
}

// Channels names the configured channels.
func (n *Notifier) Channels() []string {
	var out []string
	if n.cfg.SlackURL != "" {
		out = append(out, ChannelSlack)
	}
	if n.cfg.WebhookURL != "" {
		out = append(out, ChannelWebhook)
	}
	return out
}

// Result counts what an evaluation did.
type Result struct {
	Sent       int // paged (delivered, or recorded with no channel)
	Failed     int // paged but a channel did not take it
	Held       int // recorded for the digest
	Suppressed int // repeats inside a cooldown already recorded
}

// Counts returns r for the run log.
func (r Result) Counts() map[string]int64 {
	return map[string]int64{"alerts_sent": int64(r.Sent), "alerts_failed": int64(r.Failed),
		"alerts_held": int64(r.Held), "alerts_suppressed": int64(r.Suppressed)}
}

func (r *Result) add(o Result) {
	r.Sent += o.Sent
	r.Failed += o.Failed
	r.Held += o.Held
	r.Suppressed += o.Suppressed
}

// link makes a dashboard path absolute on the base URL; "" without one.
func (n *Notifier) link(path string) string {
	if path == "" || n.cfg.BaseURL == "" {
		return ""
	}
	return strings.TrimRight(n.cfg.BaseURL, "/") + path
}

// process dedupes the alerts by key (the first of a key wins, so callers
// list the most important rule first), applies each rule's cooldown, and
// pages or holds each one, recording it.
func (n *Notifier) process(ctx context.Context, list []Alert) (Result, error) {
	var res Result
	seen := map[string]bool{}
	var errs []error
	for _, a := range list {
		if !n.cfg.rule(a.Rule).Enabled || seen[a.Key] {
			continue
		}
		seen[a.Key] = true
		now := n.now().UTC()
		if !a.Hold {
			recent, err := n.st.AlertRecords(ctx, store.AlertQuery{Rule: a.Rule, Key: a.Key,
				Since: now.Add(-n.cfg.rule(a.Rule).Cooldown)})
			if err != nil {
				return res, err
			}
			if i := slices.IndexFunc(recent, func(r store.AlertRecord) bool { return r.Status != store.AlertHeld }); i >= 0 {
				if i > 0 { // already held once since it paged
					res.Suppressed++
					continue
				}
				a.Hold = true
			}
		}
		rec := store.AlertRecord{At: now, Rule: a.Rule, Key: a.Key, Severity: a.Severity, Title: a.Title,
			Text: alertText(a), Link: n.link(a.Path), Channels: []string{}}
		if a.Hold {
			rec.Status = store.AlertHeld
			res.Held++
		} else {
			rec.Channels = n.Channels()
			if err := n.deliver(ctx, slackAlert(a, rec.Link), webhookBody("alert", now, []Alert{a}, n.link)); err != nil {
				rec.Status, rec.Error = store.AlertFailed, err.Error()
				res.Failed++
				n.log.Error("alert not delivered", "rule", a.Rule, "err", err)
			} else {
				rec.Status = store.AlertSent
				if len(rec.Channels) == 0 {
					rec.Status = store.AlertNoChannel
				}
				res.Sent++
				n.log.Info("alert", "rule", a.Rule, "severity", a.Severity, "status", rec.Status)
			}
		}
		if err := n.st.RecordAlert(context.WithoutCancel(ctx), &rec); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// alertText is an alert's text with its fields, for the record.
func alertText(a Alert) string {
	var b strings.Builder
	b.WriteString(a.Text)
	for _, f := range a.Fields {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(f.Label + ": " + f.Value)
	}
	return b.String()
}

// deliver sends one message to every channel; it fails when any failed.
func (n *Notifier) deliver(ctx context.Context, slack slackMessage, webhook []byte) error {
	var errs []error
	if n.cfg.SlackURL != "" {
		body, err := json.Marshal(slack)
		if err == nil {
			err = n.post(ctx, ChannelSlack, n.cfg.SlackURL, body, nil)
		}
		errs = append(errs, err)
	}
	if n.cfg.WebhookURL != "" {
		errs = append(errs, n.post(ctx, ChannelWebhook, n.cfg.WebhookURL, webhook, func() http.Header {
			ts := n.now().Unix()
			h := http.Header{}
			h.Set(TimestampHeader, strconv.FormatInt(ts, 10))
			if n.cfg.WebhookSecret != "" {
				h.Set(SignatureHeader, Sign([]byte(n.cfg.WebhookSecret), ts, webhook))
			}
			return h
		}))
	}
	return errors.Join(errs...)
}

// webhookAlert is one alert in the generic webhook's JSON.
type webhookAlert struct {
	Rule     string  `json:"rule"`
	Key      string  `json:"key"`
	Severity string  `json:"severity"`
	Title    string  `json:"title"`
	Text     string  `json:"text,omitempty"`
	Fields   []Field `json:"fields,omitempty"`
	Link     string  `json:"link,omitempty"`
	Count    int     `json:"count,omitempty"`
}

// WebhookPayload is the generic webhook's body: {"type": "alert" |
// "digest" | "test", "at": RFC 3339, "alerts": [...]}.
type WebhookPayload struct {
	Type   string         `json:"type"`
	At     time.Time      `json:"at"`
	Alerts []webhookAlert `json:"alerts"`
}

func webhookBody(typ string, at time.Time, list []Alert, link func(string) string) []byte {
	p := WebhookPayload{Type: typ, At: at.UTC(), Alerts: []webhookAlert{}}
	for _, a := range list {
		p.Alerts = append(p.Alerts, webhookAlert{Rule: a.Rule, Key: a.Key, Severity: a.Severity, Title: a.Title,
			Text: a.Text, Fields: a.Fields, Link: link(a.Path)})
	}
	b, _ := json.Marshal(p)
	return b
}

// Test sends a test message to one channel ("slack" or "webhook") and
// records it.
func (n *Notifier) Test(ctx context.Context, channel string) error {
	now := n.now().UTC()
	a := Alert{Rule: RuleTest, Key: channel, Severity: Info, Title: "trackplan test alert",
		Text: "If you can read this, trackplan's alerts reach this channel."}
	rec := store.AlertRecord{At: now, Rule: RuleTest, Key: channel, Severity: Info, Title: a.Title, Text: a.Text,
		Link: n.link("/"), Channels: []string{channel}, Status: store.AlertSent}
	var err error
	switch channel {
	case ChannelSlack:
		if n.cfg.SlackURL == "" {
			return errors.New("no Slack webhook configured (alerts.slack.webhook_url)")
		}
		body, _ := json.Marshal(slackAlert(a, rec.Link))
		err = n.post(ctx, ChannelSlack, n.cfg.SlackURL, body, nil)
	case ChannelWebhook:
		if n.cfg.WebhookURL == "" {
			return errors.New("no webhook configured (alerts.webhook.url)")
		}
		sub := *n
		sub.cfg.SlackURL = ""
		err = sub.deliver(ctx, slackMessage{}, webhookBody("test", now, []Alert{a}, n.link))
	default:
		return fmt.Errorf("unknown channel %q (want %s or %s)", channel, ChannelSlack, ChannelWebhook)
	}
	if err != nil {
		rec.Status, rec.Error = store.AlertFailed, err.Error()
	}
	if rerr := n.st.RecordAlert(context.WithoutCancel(ctx), &rec); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// state reads a named state value into v; a missing one leaves v as is.
func (n *Notifier) state(ctx context.Context, name string, v any) (bool, error) {
	raw, err := n.st.AlertState(ctx, name)
	if errors.Is(err, trackplan.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("decode alert state %q: %w", name, err)
	}
	return true, nil
}

func (n *Notifier) setState(ctx context.Context, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode alert state %q: %w", name, err)
	}
	return n.st.SetAlertState(ctx, name, b)
}

// digestState is when the last digest went out.
type digestState struct {
	At time.Time `json:"at"`
}

// Digest sends the daily digest when its time has come since the last
// one: every alert held or failed since then, grouped by rule, each with
// how often it came. Nothing to tell sends nothing.
func (n *Notifier) Digest(ctx context.Context) (Result, error) {
	if n.cfg.DigestTime == "" {
		return Result{}, nil
	}
	now := n.now()
	h, m, _ := ParseDigestTime(n.cfg.DigestTime)
	local := now.In(n.cfg.DigestZone)
	due := time.Date(local.Year(), local.Month(), local.Day(), h, m, 0, 0, n.cfg.DigestZone)
	if due.After(now) {
		due = due.AddDate(0, 0, -1)
	}
	var st digestState
	found, err := n.state(ctx, "digest", &st)
	if err != nil {
		return Result{}, err
	}
	if !found {
		// The first digest is the next one due: start counting now.
		return Result{}, n.setState(ctx, "digest", digestState{At: now.UTC()})
	}
	if !st.At.Before(due) {
		return Result{}, nil
	}
	since := due.AddDate(0, 0, -1)
	if st.At.After(since) {
		since = st.At
	}
	var recs []store.AlertRecord
	for _, status := range []string{store.AlertHeld, store.AlertFailed} {
		rs, err := n.st.AlertRecords(ctx, store.AlertQuery{Since: since, Status: status})
		if err != nil {
			return Result{}, err
		}
		recs = append(recs, rs...)
	}
	var res Result
	if groups := groupDigest(recs); len(groups) > 0 {
		title := fmt.Sprintf("trackplan digest: %d alerts that did not page since %s", len(recs),
			since.In(n.cfg.DigestZone).Format("Mon 2 Jan 15:04 MST"))
		rec := store.AlertRecord{At: now.UTC(), Rule: RuleDigest, Key: due.UTC().Format(time.RFC3339), Severity: Info,
			Title: title, Text: digestText(groups), Link: n.link("/"), Channels: n.Channels(), Status: store.AlertSent}
		if len(rec.Channels) == 0 {
			rec.Status = store.AlertNoChannel
		}
		if err := n.deliver(ctx, slackDigest(title, groups), digestWebhook(now, groups)); err != nil {
			rec.Status, rec.Error = store.AlertFailed, err.Error()
			res.Failed++
		} else {
			res.Sent++
		}
		if err := n.st.RecordAlert(context.WithoutCancel(ctx), &rec); err != nil {
			return res, err
		}
		if rec.Status == store.AlertFailed {
			return res, nil // tried again at the next evaluation
		}
	}
	return res, n.setState(ctx, "digest", digestState{At: now.UTC()})
}

// groupDigest groups records by rule (in RuleNames order), and by key
// within a rule, counting repeats; the latest title of a key is shown.
func groupDigest(recs []store.AlertRecord) []DigestGroup {
	type k struct{ rule, key string }
	idx := map[k]*DigestItem{}
	byRule := map[string][]*DigestItem{}
	slices.SortFunc(recs, func(a, b store.AlertRecord) int { return cmp.Or(b.At.Compare(a.At), cmp.Compare(b.ID, a.ID)) })
	for _, r := range recs {
		if it := idx[k{r.Rule, r.Key}]; it != nil {
			it.Count++
			continue
		}
		it := &DigestItem{Title: r.Title, Link: r.Link, Count: 1}
		idx[k{r.Rule, r.Key}] = it
		byRule[r.Rule] = append(byRule[r.Rule], it)
	}
	var out []DigestGroup
	order := append(slices.Clone(RuleNames), RuleTest, RuleDigest)
	for rule := range byRule {
		if !slices.Contains(order, rule) {
			order = append(order, rule)
		}
	}
	for _, rule := range order {
		if items := byRule[rule]; len(items) > 0 {
			g := DigestGroup{Rule: rule}
			for _, it := range items {
				g.Items = append(g.Items, *it)
			}
			out = append(out, g)
		}
	}
	return out
}

func digestText(groups []DigestGroup) string {
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "%s:\n", g.Rule)
		for _, it := range g.Items {
			fmt.Fprintf(&b, "  %s", it.Title)
			if it.Count > 1 {
				fmt.Fprintf(&b, " (×%d)", it.Count)
			}
			b.WriteString("\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func digestWebhook(at time.Time, groups []DigestGroup) []byte {
	p := WebhookPayload{Type: "digest", At: at.UTC(), Alerts: []webhookAlert{}}
	for _, g := range groups {
		for _, it := range g.Items {
			p.Alerts = append(p.Alerts, webhookAlert{Rule: g.Rule, Title: it.Title, Link: it.Link, Count: it.Count})
		}
	}
	b, _ := json.Marshal(p)
	return b
}
