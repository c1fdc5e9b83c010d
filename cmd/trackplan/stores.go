package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/trackplan/trackplan/store"
	"github.com/trackplan/trackplan/store/postgres"
	"github.com/trackplan/trackplan/store/sqlite"
)

// openStore opens the store named by dsn: a postgres:// URL or a SQLite
// file path. Whether a SQLite store that does not exist yet may be created
// is the running command's to say (see storeCreators); for every other
// command a missing store is a usage error, so a mistyped --db or a
// read-only command run in the wrong directory fails instead of reporting
// on an empty store it just made.
func openStore(ctx context.Context, dsn string, l store.Limits) (store.Store, error) {
	create := false
	if may, ok := ctx.Value(storeCreateKey{}).(func(dsn string) bool); ok {
		create = may(dsn)
	}
	return openStoreAs(ctx, dsn, l, create)
}

// openStoreAs opens the store named by dsn, creating a SQLite store that
// does not exist only if create is set. A PostgreSQL database is never
// created: it exists or the connection fails.
func openStoreAs(ctx context.Context, dsn string, l store.Limits, create bool) (store.Store, error) {
	if err := checkDSN(dsn); err != nil {
		return nil, err
	}
	if isPostgres(dsn) {
		db, err := postgres.Open(ctx, dsn, l)
		if errors.Is(err, postgres.ErrBadDSN) || errors.Is(err, postgres.ErrNeedsMigration) {
			return nil, usage("db: %v", err)
		}
		if err != nil {
			return nil, upstream(fmt.Errorf("open store %s: %w", redactDSN(dsn), err))
		}
		return db, nil
	}
	if !create && !sqliteStoreExists(dsn) {
		return nil, usage("no store at %s: run `trackplan serve` or `trackplan import` first, or pass --db", dsn)
	}
	if !create && !writable(dsn) {
		// A reading command on a store it may not write: read it as it
		// is (nothing is derived or migrated).
		db, err := sqlite.OpenReadOnly(ctx, dsn, l)
		if errors.Is(err, sqlite.ErrNeedsMigration) {
			return nil, usage("%v", err)
		}
		if err != nil {
			return nil, upstream(fmt.Errorf("open store read-only: %w", err))
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, dsn, l)
	if err != nil {
		return nil, upstream(fmt.Errorf("open store: %w", err))
	}
	return db, nil
}

// writable reports whether this process may write the SQLite store at
// path: its files and the directory SQLite keeps its journals in.
func writable(path string) bool {
	for _, p := range []string{path, sqlite.LogPath(path)} {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return false
		}
		f.Close()
	}
	return dirWritable(filepath.Dir(path))
}

// sqliteStoreExists says whether there is a SQLite store at path: its
// derived state or its event log (rebuild recreates the one from the
// other; a store from before the log has no log file yet).
func sqliteStoreExists(path string) bool {
	for _, p := range []string{path, sqlite.LogPath(path)} {
		if _, err := os.Stat(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			return true // there, or there but unreadable: let Open say why
		}
	}
	return false
}

type storeCreateKey struct{}

// storeCreators are the commands that may create a SQLite store that does
// not exist yet, by command path, and which: the daemon and import create
// the store they fill, migrate creates the schema, rebuild --into the
// store it rebuilds into (never the one it reads). demo makes its own
// temporary store. Every other command reads a store that must exist.
var storeCreators = map[string]func(c *cli.Context, dsn string) bool{
	"serve":   anyStore,
	"import":  anyStore,
	"migrate": anyStore,
	"demo":    anyStore,
	"rebuild": func(c *cli.Context, dsn string) bool { return c.String("into") != "" && dsn == c.String("into") },
}

func anyStore(*cli.Context, string) bool { return true }

// allowStoreCreation lets the storeCreators of the command tree create
// their store: before each one runs, its context carries what openStore may
// create.
func allowStoreCreation(cmds []*cli.Command, prefix string) {
	for _, cmd := range cmds {
		path := strings.TrimSpace(prefix + " " + cmd.Name)
		if may, ok := storeCreators[path]; ok {
			before := cmd.Before
			cmd.Before = func(c *cli.Context) error {
				c.Context = context.WithValue(c.Context, storeCreateKey{}, func(dsn string) bool { return may(c, dsn) })
				if before != nil {
					return before(c)
				}
				return nil
			}
		}
		allowStoreCreation(cmd.Subcommands, path)
	}
}

// storeLimits are the store's limits under the configuration: the dedupe
// window is the configured one (a store that keeps its dedupe keys in
// memory reloads that much of the log when it opens).
func storeLimits(cfg Config) store.Limits {
	l := store.DefaultLimits()
	l.DedupeWindow = time.Duration(cfg.Retention.Dedupe)
	return l
}

// isPostgres reports whether dsn names a PostgreSQL database: a
// postgres:// or postgresql:// URL, or a libpq keyword/value string
// ("host=db dbname=trackplan user=…"). Anything else is a SQLite path.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") || isKeywordDSN(dsn)
}

// libpqKeywords are the keywords that make a string a libpq connection
// string rather than a file name.
var libpqKeywords = regexp.MustCompile(`(?:^|\s)(?:host|hostaddr|port|dbname|user|password|sslmode|connect_timeout|service)\s*=`)

func isKeywordDSN(dsn string) bool {
	return strings.Contains(dsn, "=") && libpqKeywords.MatchString(dsn)
}

// urlScheme matches a URL's scheme, to tell a URL of another database from
// a file path.
var urlScheme = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*://`)

// checkDSN refuses, as a usage error, a database name trackplan cannot
// open: a URL of another database (mysql://, …) or a PostgreSQL URL that
// does not parse. The message never repeats the string, which may hold a
// password.
func checkDSN(dsn string) error {
	switch {
	case strings.TrimSpace(dsn) == "":
		return usage("db: empty; give a SQLite file path or a postgres:// URL")
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			return usage("db: the PostgreSQL URL does not parse (check its escaping: a password with @, / or %% must be percent-encoded)")
		}
	case urlScheme.MatchString(dsn):
		scheme, _, _ := strings.Cut(dsn, "://")
		return usage("db: %s:// is not a store trackplan supports; give a SQLite file path or a postgres:// URL", scheme)
	}
	return nil
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
	if isKeywordDSN(dsn) {
		return keywordPassword.ReplaceAllString(dsn, "${1}xxx")
	}
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

// keywordPassword matches the value of a keyword/value string's password,
// quoted or not.
var keywordPassword = regexp.MustCompile(`(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

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
