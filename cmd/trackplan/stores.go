package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
)

// openStore opens the store named by dsn: a postgres:// URL or a SQLite
// file path.
func openStore(ctx context.Context, dsn string) (store.Store, error) {
	if isPostgres(dsn) {
		db, err := postgres.Open(ctx, dsn, store.DefaultLimits())
		if err != nil {
			return nil, upstream(fmt.Errorf("open store %s: %w", redactDSN(dsn), err))
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, dsn, store.DefaultLimits())
	if err != nil {
		return nil, upstream(fmt.Errorf("open store: %w", err))
	}
	return db, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

func migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "create or upgrade the store's schema",
		Action: func(c *cli.Context) error {
			st, err := openStore(c.Context, c.String("db"))
			if err != nil {
				return err
			}
			defer st.Close()
			logger(c).Info("store migrated", "db", redactDSN(c.String("db")))
			return nil
		},
	}
}

// redactDSN hides a password in a database URL before it is logged.
func redactDSN(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	creds := dsn[scheme+3 : at]
	if i := strings.IndexByte(creds, ':'); i >= 0 {
		return dsn[:scheme+3] + creds[:i] + ":***" + dsn[at:]
	}
	return dsn
}
