package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
)

// openStore opens the store named by dsn: a postgres:// URL or a SQLite
// file path.
func openStore(ctx context.Context, dsn string, l store.Limits) (store.Store, error) {
	if isPostgres(dsn) {
		db, err := postgres.Open(ctx, dsn, l)
		if err != nil {
			return nil, upstream(fmt.Errorf("open store %s: %w", redactDSN(dsn), err))
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, dsn, l)
	if err != nil {
		return nil, upstream(fmt.Errorf("open store: %w", err))
	}
	return db, nil
}

// storeLimits are the store's limits under the configuration: the dedupe
// window is the configured one (a store that keeps its dedupe keys in
// memory reloads that much of the log when it opens).
func storeLimits(cfg Config) store.Limits {
	l := store.DefaultLimits()
	l.DedupeWindow = time.Duration(cfg.Retention.Dedupe)
	return l
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "create or upgrade the store's schema",
		Action: func(c *cli.Context) error {
			cfg, st, err := configuredStore(c)
			if err != nil {
				return err
			}
			defer st.Close()
			logger(c).Info("store migrated", "db", redactDSN(cfg.DB))
			return nil
		},
	}
}

// redactDSN hides the password of a database URL (in its user info or a
// password parameter) before it is logged or printed.
func redactDSN(dsn string) string {
	if !isPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparseable URL hidden)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// configuredStore loads the configuration and opens its store; the caller
// closes the store.
func configuredStore(c *cli.Context) (Config, store.Store, error) {
	cfg, err := loadConfig(c)
	if err != nil {
		return cfg, nil, err
	}
	st, err := openStore(c.Context, cfg.DB, storeLimits(cfg))
	return cfg, st, err
}
