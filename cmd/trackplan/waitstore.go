package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/trackplan/trackplan/store"
)

// waitForStore keeps serve up while its PostgreSQL database cannot be
// reached: it listens on the configured address, answers /healthz (the
// process is alive) and, to everything else, 503 with Retry-After — /readyz
// included, so a load balancer sends nothing here yet and clients keep
// their messages — and retries opening the store with a growing pause
// (1 s up to 30 s). It returns the store once it opens, or nil when ctx
// ends first.
func waitForStore(ctx context.Context, listen string, open func(context.Context) (store.Store, error), first error, log *slog.Logger) (store.Store, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, usage("listen on %s: %v", listen, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok (waiting for the database)\n"))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"success":false,"error":"starting: the database cannot be reached yet; retry later"}` + "\n"))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) // the real server listens next on the same address
	}()

	log.Error("the database cannot be reached: serving not-ready until it can", "listen", listen, "err", first)
	pause := time.Second
	for {
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, nil
		case <-t.C:
		}
		st, err := open(ctx)
		if err == nil {
			log.Info("the database is reachable: starting")
			return st, nil
		}
		var ee *exitError
		if errors.As(err, &ee) && ee.code == exitUsage {
			return nil, err
		}
		log.Warn("the database still cannot be reached", "err", err, "retry_in", pause)
		pause = min(2*pause, 30*time.Second)
	}
}
