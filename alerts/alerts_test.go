package alerts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/alerts"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/simulate"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/sqlite"
	"github.com/trackplan/trackplan/templates"
)

const (
	slackPath     = "/services/T000/B000/XXXXsecretpathXXXX"
	webhookSecret = "whsec-very-secret-value"
)

// sink is a fake Slack incoming webhook or a webhook receiver: it checks
// what Slack would check, records every body and answers from a script.
type sink struct {
	t      *testing.T
	mu     sync.Mutex
	bodies [][]byte
	// answers are (status, Retry-After) pairs used in turn, then 200.
	answers [][2]string
	slack   bool
	now     func() time.Time
	srv     *httptest.Server
}

func newSink(t *testing.T, slack bool) *sink {
	s := &sink{t: t, slack: slack, now: time.Now}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) url() string {
	if s.slack {
		return s.srv.URL + slackPath
	}
	return s.srv.URL + "/hooks/trackplan"
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.answers) > 0 {
		a := s.answers[0]
		s.answers = s.answers[1:]
		if a[1] != "" {
			w.Header().Set("Retry-After", a[1])
		}
		w.WriteHeader(map[string]int{"429": 429, "500": 500, "400": 400}[a[0]])
		io.WriteString(w, `{"ok":false,"error":"ratelimited"}`)
		return
	}
	if s.slack {
		if err := checkSlack(body); err != nil {
			s.t.Errorf("invalid Slack message: %v\n%s", err, body)
			w.WriteHeader(400)
			io.WriteString(w, "invalid_blocks")
			return
		}
	} else if err := alerts.Verify([]byte(webhookSecret), r.Header.Get(alerts.TimestampHeader),
		r.Header.Get(alerts.SignatureHeader), body, s.now()); err != nil {
		s.t.Errorf("webhook signature: %v", err)
		w.WriteHeader(401)
		return
	}
	s.bodies = append(s.bodies, body)
	io.WriteString(w, "ok")
}

func (s *sink) got() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

// checkSlack validates a message against Slack's documented Block Kit
// limits and checks that no mention or link can come from a value.
func checkSlack(body []byte) error {
	var m struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type, Text string
			} `json:"text"`
			Fields []struct {
				Type, Text string
			} `json:"fields"`
			Elements []map[string]any `json:"elements"`
		} `json:"blocks"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return err
	}
	if m.Text == "" || len(m.Blocks) == 0 || len(m.Blocks) > alerts.SlackMaxBlocks {
		return errf("text %q, %d blocks", m.Text, len(m.Blocks))
	}
	n := utf8.RuneCountInString
	for _, b := range m.Blocks {
		switch b.Type {
		case "header":
			if b.Text == nil || b.Text.Type != "plain_text" || n(b.Text.Text) > alerts.SlackMaxHeaderText || b.Text.Text == "" {
				return errf("bad header %+v", b.Text)
			}
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				return errf("empty section")
			}
			if b.Text != nil && (n(b.Text.Text) > alerts.SlackMaxSectionText || b.Text.Text == "") {
				return errf("section text of %d characters", n(b.Text.Text))
			}
			if len(b.Fields) > alerts.SlackMaxFields {
				return errf("%d fields", len(b.Fields))
			}
			for _, f := range b.Fields {
				if n(f.Text) > alerts.SlackMaxFieldText || f.Text == "" {
					return errf("field of %d characters", n(f.Text))
				}
			}
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > alerts.SlackMaxContextItems {
				return errf("%d context elements", len(b.Elements))
			}
		case "actions":
			for _, e := range b.Elements {
				if u, _ := e["url"].(string); len(u) > alerts.SlackMaxURL || !strings.HasPrefix(u, "https://") {
					return errf("button url %q", u)
				}
			}
		default:
			return errf("unknown block type %q", b.Type)
		}
	}
	if strings.Contains(string(body), "<!") || strings.Contains(string(body), "\\u003c!") {
		return errf("a mention in the message")
	}
	return nil
}

type testError string

func (e testError) Error() string { return string(e) }

func errf(format string, args ...any) error {
	b, _ := json.Marshal(args)
	return testError(format + " " + string(b))
}

// env is a store fed by the simulator, a fake Slack, a webhook sink and a
// notifier on a fake clock.
type env struct {
	t       *testing.T
	ctx     context.Context
	st      *sqlite.DB
	dv      *derive.Deriver
	plan    *trackplan.Plan
	now     time.Time
	slack   *sink
	webhook *sink
	n       *alerts.Notifier
	sleeps  []time.Duration
	logs    *bytes.Buffer
	cfg     alerts.Config
}

var tNow = time.Date(2026, 11, 20, 15, 20, 0, 0, time.UTC)

func newEnv(t *testing.T, edit func(*alerts.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "alerts.db"), store.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	plan, err := templates.Plan("b2b-saas")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, st: st, plan: plan, now: tNow, logs: &bytes.Buffer{}}
	e.dv = derive.New(st, st, derive.Options{})
	e.setPlan(plan)
	e.slack, e.webhook = newSink(t, true), newSink(t, false)
	e.webhook.now = func() time.Time { return e.now }
	e.cfg = alerts.DefaultConfig()
	e.cfg.BaseURL = "https://trackplan.example.com"
	e.cfg.SlackURL, e.cfg.WebhookURL, e.cfg.WebhookSecret = e.slack.url(), e.webhook.url(), webhookSecret
	if edit != nil {
		edit(&e.cfg)
	}
	e.n, err = alerts.New(alerts.Options{Config: e.cfg, Store: st, Plan: func() *trackplan.Plan { return e.plan },
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:    func() time.Time { return e.now },
		Sleep:  func(_ context.Context, d time.Duration) error { e.sleeps = append(e.sleeps, d); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.checkNoSecrets() })
	return e
}

func (e *env) setPlan(p *trackplan.Plan) {
	e.t.Helper()
	e.plan = p
	e.dv.SetChecker(trackplan.NewChecker(p))
	if _, err := e.dv.Recheck(e.ctx, store.NewPlanVersion(p, "test", time.Time{}, e.now)); err != nil {
		e.t.Fatal(err)
	}
	e.dv.Hold(false)
}

// traffic simulates 15 days of traffic up to tNow and returns it.
func traffic(t *testing.T, p *trackplan.Plan, accounts int) []*trackplan.Message {
	g, err := simulate.New(p, simulate.Options{Accounts: accounts, UsersPerAccount: 4, Days: 15, Seed: 11, Now: tNow})
	if err != nil {
		t.Fatal(err)
	}
	var out []*trackplan.Message
	g.Generate(func(m *trackplan.Message) error {
		m.Source = "web"
		if m.ReceivedAt.IsZero() {
			m.ReceivedAt = m.Timestamp
		}
		out = append(out, m)
		return nil
	})
	return out
}

// ingest appends the messages and derives them.
func (e *env) ingest(msgs []*trackplan.Message) {
	e.t.Helper()
	for len(msgs) > 0 {
		k := min(len(msgs), 2000)
		if _, err := e.st.Append(e.ctx, &store.LogBatch{Messages: msgs[:k], At: e.now}); err != nil {
			e.t.Fatal(err)
		}
		msgs = msgs[k:]
	}
	if _, err := e.dv.CatchUp(e.ctx); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) tracking() alerts.Result {
	e.t.Helper()
	r, err := e.n.Tracking(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) records(q store.AlertQuery) []store.AlertRecord {
	e.t.Helper()
	rs, err := e.st.AlertRecords(e.ctx, q)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

// checkNoSecrets: no log line and no record holds a channel's secret.
func (e *env) checkNoSecrets() {
	var all strings.Builder
	all.WriteString(e.logs.String())
	for _, r := range e.records(store.AlertQuery{}) {
		b, _ := json.Marshal(r)
		all.Write(b)
	}
	for _, secret := range []string{slackPath, "XXXXsecretpathXXXX", webhookSecret, "/hooks/trackplan"} {
		if strings.Contains(all.String(), secret) {
			e.t.Errorf("a secret (%q) is in the logs or the alert record", secret)
		}
	}
}

func rules(rs []store.AlertRecord, status string) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		if status == "" || r.Status == status {
			out[r.Rule]++
		}
	}
	return out
}
