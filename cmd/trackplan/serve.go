package main

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/derive"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/metrics"
	"github.com/trackplan/trackplan/notion"
	"github.com/trackplan/trackplan/schedule"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	tpsync "github.com/trackplan/trackplan/sync"
	"github.com/trackplan/trackplan/web"
)

func serveCommand() *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run the collector (Segment HTTP API and webhooks)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8088", Usage: "address to listen on", EnvVars: []string{"TRACKPLAN_LISTEN"}},
			&cli.StringSliceFlag{Name: "write-key", Usage: "accepted write key, as KEY or NAME=KEY (repeatable); NAME names the source", EnvVars: []string{"TRACKPLAN_WRITE_KEY"}},
			&cli.StringFlag{Name: "webhook-secret", Usage: "shared secret of the Segment Webhooks destination (X-Signature)", EnvVars: []string{"TRACKPLAN_WEBHOOK_SECRET"}},
			&cli.StringFlag{Name: "webhook-source", Value: "webhook", Usage: "source name of webhook messages", EnvVars: []string{"TRACKPLAN_WEBHOOK_SOURCE"}},
			&cli.BoolFlag{Name: "check", Value: true, Usage: "check every logged message against the plan (--check=false to only collect)", EnvVars: []string{"TRACKPLAN_CHECK"}},
			&cli.StringFlag{Name: "once", Usage: "run one job (plan-refresh, notion-sync, score, push, prune) and exit"},
			&cli.StringFlag{Name: "tls-cert", Usage: "serve HTTPS with this PEM certificate (chain) file; with --tls-key (config tls.cert)"},
			&cli.StringFlag{Name: "tls-key", Usage: "the PEM private key of --tls-cert (config tls.key)"},
			&cli.DurationFlag{Name: "shutdown-grace", Value: 30 * time.Second, Usage: "how long shutdown waits for in-flight requests", EnvVars: []string{"TRACKPLAN_SHUTDOWN_GRACE"}},
		},
		Action: runServe,
	}
}

func runServe(c *cli.Context) error {
	cfg, err := loadConfig(c)
	if err != nil {
		return err
	}
	if _, err := serverTLS(cfg.TLS); err != nil {
		return err // before opening anything: the files are read again when listening
	}
	log := logger(c)
	open := func(ctx context.Context) (store.Store, error) { return openStore(ctx, cfg.DB, storeLimits(cfg)) }
	st, err := open(c.Context)
	var ee *exitError
	if err != nil && isPostgres(cfg.DB) && errors.As(err, &ee) && ee.code == exitUpstream && c.String("once") == "" {
		// A database that is away when serve starts (restarting, failing
		// over) is waited for, not a reason to exit.
		st, err = waitForStore(c.Context, cfg.Listen, open, err, log)
		if err == nil && st == nil {
			return nil // stopped while waiting
		}
	}
	if err != nil {
		return err
	}
	defer st.Close()

	d := &daemon{cfg: cfg, st: st, log: log, now: time.Now, check: c.Bool("check"),
		readPlan: func(ctx context.Context) (*trackplan.Plan, error) { return loadPlan(withContext(c, ctx), cfg) }}
	d.metrics = metrics.New(storeSize(cfg.DB))
	c.App.Metadata[notionRequestsKey] = d.metrics
	if id := notionEventsDB(cfg); id != "" && strings.HasPrefix(cfg.Plan, "notion:") {
		d.notionSyncRun = func(ctx context.Context) (notion.Changes, error) {
			wb, client, err := newWriteBackOn(c, cfg, id, st, d.currentPlan)
			if err != nil {
				return nil, err
			}
			defer reportNotionRequests(c, client)
			return wb.Run(ctx)
		}
	}
	if c.Bool("check") {
		p, err := d.readPlan(c.Context)
		switch {
		case err == nil:
			d.plan.Store(p)
		case strings.HasPrefix(cfg.Plan, "notion:"):
			// Collecting must not depend on Notion: start unchecked, and
			// plan-refresh keeps trying.
			log.Error("plan not loaded; collecting without checks until plan-refresh succeeds", "err", err)
		default:
			return err
		}
	}
	if pushWriteKey(cfg) != "" {
		// The profiles are named by the config alone, so the push does not
		// depend on the plan having loaded.
		names := []string{trackplan.DefaultProfileName}
		for _, p := range cfg.Scoring.Profiles {
			if p.Name != trackplan.DefaultProfileName {
				names = append(names, p.Name)
			}
		}
		p, err := tpsync.NewPush(st, pushClient(c, cfg), pushConfig(cfg, names), d.now, log)
		if err != nil {
			return usage("push: %v", err)
		}
		d.push = func(ctx context.Context) (map[string]int64, error) {
			r, err := p.Run(ctx)
			t := r.Total()
			d.metrics.Pushed("acknowledged", int64(t.Acknowledged))
			d.metrics.Pushed("failed", int64(t.Failed))
			d.metrics.Pushed("unchanged", int64(t.Unchanged))
			return r.Counts(), err
		}
	} else {
		log.Info("score push off: no Segment write key (SEGMENT_WRITE_KEY or push.write_key)")
	}
	dashData := newDashboardData(cfg, st, d.currentPlan)
	d.metrics.DriftFindings(dashData.DriftCounts)
	dash, err := newDashboardOn(cfg.Listen, cfg, dashData, log, withRechecking(func() *derive.RecheckProgress {
		if d.deriver == nil { // set below, before the server starts
			return nil
		}
		return d.deriver.Rechecking()
	}))
	if err != nil {
		return err
	}
	var check *trackplan.Plan
	if c.Bool("check") {
		check = d.plan.Load()
	}
	d.deriver = newDeriver(c, st, check, d.metrics)
	if check != nil {
		// Records are checked against the plan the store follows; when
		// this one differs, the store's verdicts are re-checked against
		// it in the background (on PostgreSQL by the leader).
		d.deriver.Want(planVersion(cfg, check))
	} else if c.Bool("check") {
		follows, err := d.deriver.Plan(c.Context)
		if err != nil {
			return upstream(err)
		}
		if follows.ID == "" {
			// Records wait in the log until a plan loads: derived
			// unchecked, their verdicts would be missing for good.
			d.deriver.Hold(true)
		}
	}
	d.metrics.DeriveLag(func() (float64, float64) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		lag, err := d.deriver.Lag(ctx, time.Now())
		if err != nil {
			return -1, -1
		}
		return float64(lag.Records), lag.Age.Seconds()
	})
	fwd, err := d.forwarder(c)
	if err != nil {
		return err
	}
	proxies, err := trustedProxies(cfg)
	if err != nil {
		return err
	}
	var leader func() bool
	pg, onPostgres := st.(*postgres.DB)
	if onPostgres {
		// The lock is held until the scheduler has stopped, so no other
		// replica starts a job this one is still finishing. The leader
		// alone derives from the log.
		lctx, stopLeading := context.WithCancel(context.WithoutCancel(c.Context))
		l := pg.Leader(postgres.DefaultLeaderKey, log)
		leading := make(chan struct{})
		go func() {
			defer close(leading)
			l.Run(lctx, func(ctx context.Context) {
				// The leader alone forwards too: one cursor per source.
				stop := runForwarder(ctx, fwd)
				d.deriver.Run(ctx)
				stop()
			})
		}()
		// The deriver and the lock are done with the store before it closes.
		defer func() { stopLeading(); <-leading }()
		leader = l.IsLeader
	}
	sched, err := schedule.New(d.jobs(), schedule.Options{Logger: log, RunLog: st, Leader: leader,
		Observe: d.metrics.JobRun})
	if err != nil {
		return usage("schedule: %v", err)
	}
	if job := c.String("once"); job != "" {
		return runOnce(c.Context, sched, job)
	}

	notionHook, stopRefresher := notionWebhookFor(c.Context, cfg, log, sched)
	defer stopRefresher()
	sources := make([]segment.Source, len(cfg.Sources))
	for i, s := range cfg.Sources {
		sources[i] = segment.Source{Name: s.Name, WriteKey: string(s.WriteKey)}
	}
	srv, err := startServer(serverConfig{
		Listen:          cfg.Listen,
		TLS:             cfg.TLS,
		Sources:         sources,
		WebhookSecret:   string(cfg.Webhook.Secret),
		WebhookSource:   cfg.Webhook.Source,
		RateLimits:      rateLimits(cfg.Collector),
		LogQuota:        cfg.Retention.LogQuotaMB << 20,
		AllowedOrigins:  cfg.CORS.AllowedOrigins,
		TrustedProxies:  proxies,
		Store:           st,
		Deriver:         d.deriver,
		DeriveElsewhere: onPostgres,
		Metrics:         d.metrics,
		// Ready means "can append": the log is reachable. It does not
		// depend on the plan (checks happen when deriving) nor on how far
		// derivation is behind, so a load balancer never drops a healthy
		// collector because the aggregator lags.
		Ready: func(ctx context.Context) error {
			_, err := st.LogHead(ctx)
			return err
		},
		OnAppend:      fwd.Notify,
		Dashboard:     dash,
		Private:       privateEndpoints(cfg),
		NotionWebhook: notionHook,
		Logger:        log,
	})
	if err != nil {
		return err
	}
	if !onPostgres {
		defer runForwarder(context.WithoutCancel(c.Context), fwd)()
	}
	sched.Start()
	<-c.Context.Done()
	log.Info("shutting down")
	grace := c.Duration("shutdown-grace")
	err = srv.Shutdown(grace)
	sched.Stop(grace)
	return err
}

// privateEndpoints guards the operator's endpoints (/metrics, the details
// of /readyz) with the dashboard's credentials when any are set; without
// credentials they stay open, as a Prometheus scrape expects.
func privateEndpoints(cfg Config) func(http.Handler) http.Handler {
	d := cfg.Dashboard
	if d.Token == "" && d.User == "" {
		return nil
	}
	auth, err := web.RequireAuth(cfg.Listen, string(d.Token), d.User, string(d.Password))
	if err != nil {
		return nil // the dashboard refuses the same settings first
	}
	return auth
}

// serverTLS loads the certificate and key of tls.cert and tls.key; nil
// when neither is set. The errors name the keys and the files, never the
// files' contents.
func serverTLS(c TLSConfig) (*tls.Config, error) {
	if c.Cert == "" && c.Key == "" {
		return nil, nil
	}
	if c.Cert == "" || c.Key == "" {
		return nil, usage("tls: --tls-cert and --tls-key (tls.cert and tls.key) go together")
	}
	for _, f := range []struct{ key, path string }{{"tls.cert", c.Cert}, {"tls.key", c.Key}} {
		if _, err := os.ReadFile(f.path); err != nil {
			return nil, usage("%s: %v", f.key, err)
		}
	}
	pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
	if err != nil {
		return nil, usage("tls.cert and tls.key (%s, %s): %v", c.Cert, c.Key, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}, nil
}

// rateLimits turns the configured rates into the collector's, where 0 in
// the config turns a limit off.
func rateLimits(c CollectorConfig) segment.RateLimits {
	off := func(r float64) float64 {
		if r == 0 {
			return -1
		}
		return r
	}
	return segment.RateLimits{PerKey: off(c.RatePerKey), PerClient: off(c.RatePerClient)}
}

// Source is a named source and its write key, as configured.
type Source struct {
	Name     string `yaml:"name"`
	WriteKey Secret `yaml:"write_key"`
	// Forward, when set, forwards the source's messages (forward.go).
	Forward *ForwardConfig `yaml:"forward,omitempty"`
}

// parseWriteKeys turns KEY or NAME=KEY values into sources; a bare KEY gets
// the source name "default" (or default-2, … when there are several).
func parseWriteKeys(values []string) ([]Source, error) {
	var out []Source
	seen := map[string]bool{}
	for i, v := range values {
		name, key, ok := strings.Cut(v, "=")
		if !ok {
			name, key = "default", v
			if i > 0 {
				name = fmt.Sprintf("default-%d", i+1)
			}
		}
		if key == "" || name == "" {
			return nil, usage("--write-key %d: want KEY or NAME=KEY", i+1)
		}
		if seen[key] {
			return nil, usage("--write-key %d: the same key is given twice", i+1)
		}
		seen[key] = true
		out = append(out, Source{Name: name, WriteKey: Secret(key)})
	}
	return out, nil
}

type serverConfig struct {
	Listen string
	// TLS, when set, serves HTTPS (TLS 1.2 or later) with its files.
	TLS           TLSConfig
	Sources       []segment.Source
	WebhookSecret string
	WebhookSource string
	// RateLimits bound requests per write key and client; the zero value
	// means segment.DefaultRateLimits.
	RateLimits segment.RateLimits
	// LogQuota, when positive, is the event log's size on disk past
	// which the collector answers 503; QuotaEvery is how often the
	// log is measured (default 15s).
	LogQuota   int64
	QuotaEvery time.Duration
	// AllowedOrigins limit the browser origins of the tracking API (see
	// segment.Collector.AllowedOrigins).
	AllowedOrigins []string
	// TrustedProxies name the client in X-Forwarded-For (see
	// segment.Collector.TrustedProxies).
	TrustedProxies []netip.Prefix
	Store          store.Store
	// Deriver applies the log to the derived state; nil means one over
	// Store checking against Plan (nil: unchecked).
	Deriver *derive.Deriver
	Plan    *trackplan.Plan
	// DeriveElsewhere leaves running the deriver to the caller (a
	// PostgreSQL replica runs it only while it leads); the server still
	// notifies it of appends and catches up once at shutdown.
	DeriveElsewhere bool
	// Metrics, when set, are updated and served at /metrics.
	Metrics *metrics.Metrics
	// Ready, when set, answers /readyz: nil means ready.
	Ready func(ctx context.Context) error
	// OnAppend, when set, is called after each append (the forwarder
	// wakes up).
	OnAppend func()
	// Dashboard, when set, serves every GET the collector does not.
	Dashboard http.Handler
	// Private, when set, guards /metrics and the details of /readyz (the
	// dashboard's credentials); /readyz's status code stays public.
	Private func(http.Handler) http.Handler
	// NotionWebhook, when set, receives Notion's webhooks at
	// /webhook/notion.
	NotionWebhook http.Handler
	Logger        *slog.Logger
}

// server is a running collector.
type server struct {
	Addr       string // the address it listens on, with the real port
	http       *http.Server
	pipeline   *ingest.Pipeline
	deriver    *derive.Deriver
	stopDerive func()
	stopQuota  func()
	done       chan error
	log        *slog.Logger
	latency    latencies
}

// startServer listens and serves in the background until Shutdown.
func startServer(cfg serverConfig) (*server, error) {
	if len(cfg.Sources) == 0 {
		return nil, usage("serve needs at least one --write-key (KEY or NAME=KEY)")
	}
	tlsConf, err := serverTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, usage("listen on %s: %v", cfg.Listen, err)
	}
	dv := cfg.Deriver
	if dv == nil {
		dv = derive.New(cfg.Store, cfg.Store, derive.Options{Logger: cfg.Logger})
		if cfg.Plan != nil {
			dv.SetChecker(trackplan.NewChecker(cfg.Plan))
		}
	}
	opts := ingest.Options{Logger: cfg.Logger}
	opts.OnCommit = func(r store.IngestResult, took time.Duration, err error) {
		if cfg.Metrics != nil {
			cfg.Metrics.Commit(r.Duplicates, took)
		}
		if err == nil {
			dv.Notify()
			if cfg.OnAppend != nil {
				cfg.OnAppend()
			}
		}
	}
	p := ingest.Open(cfg.Store, opts)
	var ingester segment.Ingester = p
	var stopQuota context.CancelFunc = func() {}
	if cfg.LogQuota > 0 {
		q := &logQuota{next: p, quota: cfg.LogQuota, log: cfg.Logger}
		if cfg.Metrics != nil {
			cfg.Metrics.LogQuota(q.state)
		}
		every := cmp.Or(cfg.QuotaEvery, 15*time.Second)
		var qctx context.Context
		qctx, stopQuota = context.WithCancel(context.Background())
		q.measure(qctx, cfg.Store)
		go q.watch(qctx, cfg.Store, every)
		ingester = q
	}
	s := &server{
		Addr:      ln.Addr().String(),
		pipeline:  p,
		deriver:   dv,
		stopQuota: stopQuota,
		done:      make(chan error, 1),
		log:       cfg.Logger,
	}
	if !cfg.DeriveElsewhere {
		s.stopDerive = runDeriver(context.Background(), dv)
	}
	col := &segment.Collector{
		Sources:        cfg.Sources,
		WebhookSecret:  cfg.WebhookSecret,
		WebhookSource:  cfg.WebhookSource,
		Ingester:       ingester,
		Logger:         cfg.Logger,
		RateLimits:     cfg.RateLimits,
		AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: cfg.TrustedProxies,
		Observe: func(o segment.Outcome) {
			s.latency.observe(o.Took)
			if cfg.Metrics != nil {
				cfg.Metrics.Request(o.Source, o.Status, o.Accepted, o.Rejected, o.Took)
			}
		},
	}
	mux := http.NewServeMux()
	col.Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	private := cfg.Private
	if private == nil {
		private = func(h http.Handler) http.Handler { return h }
	}
	ready := func(details bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if cfg.Ready != nil {
				ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
				defer cancel()
				if err := cfg.Ready(ctx); err != nil {
					msg := "not ready"
					if details {
						msg += ": " + err.Error() // may name the database's host and user
					}
					http.Error(w, msg, http.StatusServiceUnavailable)
					return
				}
			}
			w.Write([]byte("ready\n"))
		}
	}
	// Load balancers probe /readyz without credentials: its status code
	// is public, why it is not ready is not.
	mux.Handle("GET /readyz", ready(false))
	mux.Handle("GET /readyz/details", private(ready(true)))
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics", private(cfg.Metrics.Handler()))
	}
	if cfg.NotionWebhook != nil {
		mux.Handle("POST /webhook/notion", cfg.NotionWebhook)
	}
	if cfg.Dashboard != nil {
		mux.Handle("GET /", cfg.Dashboard)
		// The dashboard's forms: signing in and out.
		mux.Handle("POST /login", cfg.Dashboard)
		mux.Handle("POST /logout", cfg.Dashboard)
	}
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConf,
	}
	go func() {
		var err error
		if tlsConf != nil {
			err = s.http.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			err = s.http.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	cfg.Logger.Info("collector listening", "addr", s.Addr, "sources", len(cfg.Sources), "tls", tlsConf != nil)
	return s, nil
}

// Shutdown stops accepting connections, waits up to grace for in-flight
// requests (each answers only after its commit), then commits whatever is
// still queued and stops the pipeline.
func (s *server) Shutdown(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// A client still sending (a slow or stalled one) was never
		// acknowledged: closing its connection loses nothing it was told
		// was kept, and it retries. Not a failed shutdown.
		s.log.Warn("closed connections still open after the shutdown grace; their requests were not acknowledged", "grace", grace)
		err = s.http.Close()
	}
	if serveErr := <-s.done; serveErr != nil {
		err = errors.Join(err, serveErr)
	}
	s.pipeline.Close()
	if s.stopQuota != nil {
		s.stopQuota()
	}
	if s.stopDerive != nil {
		s.stopDerive()
	}
	// What was acknowledged is derived before the process goes, so a
	// command run after serve stopped has nothing to catch up. It gets a
	// grace period of its own: the requests may have used the first.
	dctx, dcancel := context.WithTimeout(context.Background(), grace)
	defer dcancel()
	if _, derr := s.deriver.CatchUp(dctx); derr != nil {
		err = errors.Join(err, fmt.Errorf("derive at shutdown: %w", derr))
	}
	if err != nil {
		return fmt.Errorf("shut down collector: %w", err)
	}
	t := s.pipeline.Totals()
	s.log.Info("collector stopped", "requests", s.latency.count(), "stored", t.Stored, "duplicates", t.Duplicates,
		"rejected", t.Rejected, "latency_p50", s.latency.quantile(0.5), "latency_p99", s.latency.quantile(0.99))
	return nil
}

// CatchUp applies everything the log holds to the derived state, for a
// caller that reads derived state right after sending.
func (s *server) CatchUp(ctx context.Context) error {
	if _, err := s.deriver.CatchUp(ctx); err != nil {
		return upstream(fmt.Errorf("derive from the event log: %w", err))
	}
	return nil
}

// withContext returns a shallow copy of c that carries ctx, for work a job
// does under its own context.
func withContext(c *cli.Context, ctx context.Context) *cli.Context {
	cc := *c
	cc.Context = ctx
	return &cc
}
