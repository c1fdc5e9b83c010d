package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/trackplan/trackplan/schedule"
)

// Notion's integration webhooks, received by `serve` at /webhook/notion
// when the plan is in Notion:
//
//   - Creating the subscription in the integration's settings makes Notion
//     POST {"verification_token": "secret_…"} here, unsigned. The token is
//     appended to notion.webhook_token_file (mode 0600; it is never logged,
//     only its fingerprint): the operator pastes it into Notion's Verify
//     dialog and sets notion.webhook_token to it. Nothing else happens: an
//     unsigned request never sets the key events are checked with.
//   - Every event afterwards carries X-Notion-Signature: sha256=<hex
//     HMAC-SHA256 of the raw body, keyed by the verification token>. A
//     missing or wrong signature is refused (401), and so is any event
//     while notion.webhook_token is not set. An event whose timestamp is
//     further than notion.webhook_replay_window from now is refused (400);
//     an event id seen within the window is acknowledged and ignored.
//   - An event about a page, data source or database of the plan asks for
//     a plan refresh: edits arriving together (a planning meeting, a push)
//     are coalesced into one run of the plan-refresh job, which re-checks
//     the store when the plan changed. Other events are acknowledged and
//     ignored. Polling stays: Notion does not guarantee delivery, and the
//     scheduled plan-refresh repairs whatever a lost event missed.

// maxNotionWebhookBody bounds a webhook request body (events are small).
const maxNotionWebhookBody = 1 << 20

// notionEvent is the part of a webhook event trackplan reads.
type notionEvent struct {
	VerificationToken string    `json:"verification_token"`
	ID                string    `json:"id"`
	Timestamp         time.Time `json:"timestamp"`
	Type              string    `json:"type"`
	Entity            struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"entity"`
	Data struct {
		Parent struct {
			ID           string `json:"id"`
			Type         string `json:"type"`
			DataSourceID string `json:"data_source_id"`
		} `json:"parent"`
	} `json:"data"`
}

// notionWebhook handles POST /webhook/notion.
type notionWebhook struct {
	token string // the verification token; empty: events are refused
	// tokenFile receives the verification tokens of new subscriptions;
	// empty: they are not kept.
	tokenFile string
	window    time.Duration
	now       func() time.Time
	log       *slog.Logger
	// planIDs returns the normalised ids of the plan's databases and data
	// sources; nil when not known yet (every event then counts).
	planIDs func() map[string]bool
	// refresh asks for a plan refresh; it must not block.
	refresh func()

	mu   sync.Mutex
	seen map[string]time.Time // event ids, when received
}

func newNotionWebhook(cfg Config, log *slog.Logger, planIDs func() map[string]bool, refresh func()) *notionWebhook {
	return &notionWebhook{
		token:     string(cfg.Notion.WebhookToken),
		tokenFile: notionTokenFile(cfg),
		window:    time.Duration(cfg.Notion.WebhookReplayWindow),
		now:       time.Now,
		log:       log.With("component", "notion-webhook"),
		planIDs:   planIDs,
		refresh:   refresh,
		seen:      map[string]time.Time{},
	}
}

func (h *notionWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotionWebhookBody))
	if err != nil {
		webhookAnswer(w, http.StatusBadRequest, "body not read")
		return
	}
	var ev notionEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		webhookAnswer(w, http.StatusBadRequest, "body is not a JSON object")
		return
	}
	if ev.VerificationToken != "" && ev.Type == "" {
		h.verification(w, ev.VerificationToken)
		return
	}
	if h.token == "" {
		h.log.Warn("notion webhook event refused: notion.webhook_token is not set")
		webhookAnswer(w, http.StatusUnauthorized, "notion.webhook_token is not set")
		return
	}
	if !validNotionSignature(h.token, body, r.Header.Get("X-Notion-Signature")) {
		h.log.Warn("notion webhook event refused: bad signature", "remote", r.RemoteAddr)
		webhookAnswer(w, http.StatusUnauthorized, "bad signature")
		return
	}
	now := h.now()
	if ev.ID == "" || ev.Timestamp.IsZero() {
		webhookAnswer(w, http.StatusBadRequest, "event without id or timestamp")
		return
	}
	if age := now.Sub(ev.Timestamp); age > h.window || -age > h.window {
		h.log.Warn("notion webhook event refused: outside the replay window", "event", ev.ID, "type", ev.Type,
			"timestamp", ev.Timestamp, "window", h.window)
		webhookAnswer(w, http.StatusBadRequest, "event outside the replay window")
		return
	}
	if h.replayed(ev.ID, now) {
		h.log.Debug("notion webhook event already received", "event", ev.ID)
		webhookAnswer(w, http.StatusOK, "already received")
		return
	}
	if !h.aboutPlan(ev) {
		h.log.Debug("notion webhook event not about the plan", "event", ev.ID, "type", ev.Type, "entity", ev.Entity.ID)
		webhookAnswer(w, http.StatusOK, "ignored")
		return
	}
	h.log.Info("notion plan edited; refreshing the plan", "event", ev.ID, "type", ev.Type, "entity", ev.Entity.ID)
	h.refresh()
	webhookAnswer(w, http.StatusOK, "plan refresh requested")
}

// verification answers the subscription's verification request.
func (h *notionWebhook) verification(w http.ResponseWriter, token string) {
	if len(token) > 256 || strings.ContainsAny(token, " \t\r\n\"\\") {
		webhookAnswer(w, http.StatusBadRequest, "not a verification token")
		return
	}
	sum := sha256.Sum256([]byte(token))
	fingerprint := hex.EncodeToString(sum[:4])
	switch {
	case h.token != "" && hmac.Equal([]byte(token), []byte(h.token)):
		h.log.Info("notion webhook verification request: the token is the one configured", "fingerprint", fingerprint)
	case h.tokenFile == "":
		h.log.Warn("notion webhook verification token received and not kept: set notion.webhook_token_file, restart, and resend the token from the subscription in Notion",
			"fingerprint", fingerprint)
	default:
		if err := appendToken(h.tokenFile, token, h.now()); err != nil {
			h.log.Error("notion webhook verification token not written", "file", h.tokenFile, "err", err)
			webhookAnswer(w, http.StatusInternalServerError, "verification token not kept")
			return
		}
		h.log.Warn("notion webhook verification token received: paste it from the file into the subscription's Verify dialog in Notion, then set notion.webhook_token (TRACKPLAN_NOTION_WEBHOOK_TOKEN) to it and restart",
			"file", h.tokenFile, "fingerprint", fingerprint)
	}
	webhookAnswer(w, http.StatusOK, "verification token received")
}

// appendToken appends "<time> <token>" to path, readable by its owner only.
func appendToken(path, token string, at time.Time) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(at.UTC().Format(time.RFC3339) + " " + token + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// notionTokenFile is where verification tokens go: the config's file, else
// beside a SQLite store; "" on PostgreSQL without one.
func notionTokenFile(cfg Config) string {
	if cfg.Notion.WebhookTokenFile != "" || isPostgres(cfg.DB) {
		return cfg.Notion.WebhookTokenFile
	}
	return cfg.DB + ".notion-webhook-token"
}

// replayed reports whether event id was received within the window, and
// remembers it.
func (h *notionWebhook) replayed(id string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, at := range h.seen {
		if now.Sub(at) > h.window {
			delete(h.seen, k)
		}
	}
	if _, ok := h.seen[id]; ok {
		return true
	}
	h.seen[id] = now
	return false
}

// aboutPlan reports whether ev concerns a row, a data source or a
// database of the plan.
func (h *notionWebhook) aboutPlan(ev notionEvent) bool {
	kind, _, _ := strings.Cut(ev.Type, ".")
	switch kind {
	case "page", "data_source", "database":
	default:
		return false
	}
	ids := h.planIDs()
	if ids == nil {
		return true
	}
	for _, id := range []string{ev.Data.Parent.ID, ev.Data.Parent.DataSourceID, ev.Entity.ID} {
		if id != "" && ids[normNotionID(id)] {
			return true
		}
	}
	return false
}

// validNotionSignature checks X-Notion-Signature against body.
func validNotionSignature(token string, body []byte, header string) bool {
	hexSig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(token))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func webhookAnswer(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"ok": status == http.StatusOK, "message": msg})
}

// planRefresher turns webhook events into runs of the plan-refresh job:
// events arriving within delay of each other make one run, and an event
// that arrives while a run is going makes another after it (that run may
// have read the plan before the edit).
type planRefresher struct {
	run   func(ctx context.Context) error
	delay time.Duration
	kick  chan struct{}
	log   *slog.Logger
}

func newPlanRefresher(run func(ctx context.Context) error, delay time.Duration, log *slog.Logger) *planRefresher {
	return &planRefresher{run: run, delay: delay, kick: make(chan struct{}, 1), log: log}
}

// Request asks for a refresh; it never blocks.
func (p *planRefresher) Request() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// Run serves requests until ctx is done.
func (p *planRefresher) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		}
		if sleepCtx(ctx, p.delay) != nil {
			return
		}
		// Requests made during the delay are served by this run.
		select {
		case <-p.kick:
		default:
		}
		err := p.run(ctx)
		if errors.Is(err, schedule.ErrAlreadyRunning) {
			// A scheduled run is going and may have read the plan before
			// the edit: run again after it.
			p.log.Debug("plan refresh already running; another follows")
			p.Request()
		}
	}
}

// start runs p until ctx ends or the returned stop is called; stop waits
// for it.
func (p *planRefresher) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// notionWebhookRefreshDelay is how long the daemon gathers webhook events
// before it refreshes the plan.
var notionWebhookRefreshDelay = time.Second

// notionWebhookFor returns the handler of /webhook/notion when the plan is
// in Notion (nil otherwise), its events triggering sched's plan-refresh
// job, and the function that stops the refresher (ctx ending stops it too,
// so a shutdown does not wait for a refresh it asked for).
func notionWebhookFor(ctx context.Context, cfg Config, log *slog.Logger, sched *schedule.Scheduler) (http.Handler, func()) {
	if !strings.HasPrefix(cfg.Plan, "notion:") {
		return nil, func() {}
	}
	ref := newPlanRefresher(func(ctx context.Context) error { return sched.RunOnce(ctx, jobPlanRefresh) },
		notionWebhookRefreshDelay, log)
	if cfg.Notion.WebhookToken == "" {
		log.Info("notion webhooks: /webhook/notion answers the verification request; set notion.webhook_token to accept events")
	}
	return newNotionWebhook(cfg, log, notionPlanIDs, ref.Request), ref.start(ctx)
}
