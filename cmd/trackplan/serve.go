package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan"
	"github.com/trackplan/trackplan/ingest"
	"github.com/trackplan/trackplan/segment"
	"github.com/trackplan/trackplan/store"
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
			&cli.BoolFlag{Name: "check", Value: true, Usage: "check every message against the plan at ingest (--check=false to only collect)", EnvVars: []string{"TRACKPLAN_CHECK"}},
			&cli.DurationFlag{Name: "shutdown-grace", Value: 30 * time.Second, Usage: "how long shutdown waits for in-flight requests", EnvVars: []string{"TRACKPLAN_SHUTDOWN_GRACE"}},
		},
		Action: func(c *cli.Context) error {
			cfg, err := loadConfig(c)
			if err != nil {
				return err
			}
			var plan *trackplan.Plan
			if c.Bool("check") {
				if plan, err = loadPlan(c, cfg); err != nil {
					return err
				}
			}
			st, err := openStore(c.Context, cfg.DB)
			if err != nil {
				return err
			}
			defer st.Close()
			sources := make([]segment.Source, len(cfg.Sources))
			for i, s := range cfg.Sources {
				sources[i] = segment.Source{Name: s.Name, WriteKey: string(s.WriteKey)}
			}
			srv, err := startServer(serverConfig{
				Listen:        cfg.Listen,
				Sources:       sources,
				WebhookSecret: string(cfg.Webhook.Secret),
				WebhookSource: cfg.Webhook.Source,
				Store:         st,
				Plan:          plan,
				Logger:        logger(c),
			})
			if err != nil {
				return err
			}
			<-c.Context.Done()
			logger(c).Info("shutting down")
			return srv.Shutdown(c.Duration("shutdown-grace"))
		},
	}
}

// Source is a named source and its write key, as configured.
type Source struct {
	Name     string `yaml:"name"`
	WriteKey Secret `yaml:"write_key"`
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
	Listen        string
	Sources       []segment.Source
	WebhookSecret string
	WebhookSource string
	Store         store.Store
	// Plan, when set, checks every message at ingest.
	Plan   *trackplan.Plan
	Logger *slog.Logger
}

// server is a running collector.
type server struct {
	Addr     string // the address it listens on, with the real port
	http     *http.Server
	pipeline *ingest.Pipeline
	done     chan error
	log      *slog.Logger
	latency  latencies
}

// startServer listens and serves in the background until Shutdown.
func startServer(cfg serverConfig) (*server, error) {
	if len(cfg.Sources) == 0 {
		return nil, usage("serve needs at least one --write-key (KEY or NAME=KEY)")
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, usage("listen on %s: %v", cfg.Listen, err)
	}
	p := ingest.Open(cfg.Store, ingest.Options{Logger: cfg.Logger})
	if cfg.Plan != nil {
		p.SetChecker(trackplan.NewChecker(cfg.Plan))
	}
	s := &server{
		Addr:     ln.Addr().String(),
		pipeline: p,
		done:     make(chan error, 1),
		log:      cfg.Logger,
	}
	col := &segment.Collector{
		Sources:       cfg.Sources,
		WebhookSecret: cfg.WebhookSecret,
		WebhookSource: cfg.WebhookSource,
		Ingester:      p,
		Logger:        cfg.Logger,
		Observe:       func(o segment.Outcome) { s.latency.observe(o.Took) },
	}
	mux := http.NewServeMux()
	col.Register(mux)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		err := s.http.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	cfg.Logger.Info("collector listening", "addr", s.Addr, "sources", len(cfg.Sources))
	return s, nil
}

// Shutdown stops accepting connections, waits up to grace for in-flight
// requests (each answers only after its commit), then commits whatever is
// still queued and stops the pipeline.
func (s *server) Shutdown(grace time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if serveErr := <-s.done; serveErr != nil {
		err = errors.Join(err, serveErr)
	}
	s.pipeline.Close()
	if err != nil {
		return fmt.Errorf("shut down collector: %w", err)
	}
	t := s.pipeline.Totals()
	s.log.Info("collector stopped", "requests", s.latency.count(), "stored", t.Stored, "duplicates", t.Duplicates,
		"rejected", t.Rejected, "latency_p50", s.latency.quantile(0.5), "latency_p99", s.latency.quantile(0.99))
	return nil
}
