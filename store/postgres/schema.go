package postgres

import (
	"context"
	"fmt"
	"net/url"
	"regexp"

	"github.com/jackc/pgx/v5"
)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// CreateSchema creates a schema in the database of dsn and returns a DSN
// whose search_path is that schema: a store of its own inside a shared
// database (isolated test runs, several deployments on one server).
func CreateSchema(ctx context.Context, dsn, schema string) (string, error) {
	if !schemaName.MatchString(schema) {
		return "", fmt.Errorf("create schema: %q is not a plain lowercase identifier", schema)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("create schema: parse dsn: %w", err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
		return "", fmt.Errorf("create schema %s: %w", schema, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// DropSchema drops a schema made by CreateSchema, with everything in it.
func DropSchema(ctx context.Context, dsn, schema string) error {
	if !schemaName.MatchString(schema) {
		return fmt.Errorf("drop schema: %q is not a plain lowercase identifier", schema)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}

// GrantReader creates (if needed) a login role that may only read the
// store in schema: reports and dashboards through it never write, as on a
// hot standby. Tables made later (the log's daily partitions) are readable
// too.
func GrantReader(ctx context.Context, dsn, schema, role string) error {
	if !schemaName.MatchString(schema) || !schemaName.MatchString(role) {
		return fmt.Errorf("grant reader: %q and %q must be plain lowercase identifiers", schema, role)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("grant reader %s: %w", role, err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`DO $$ BEGIN CREATE ROLE ` + role + ` LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT ON ALL TABLES IN SCHEMA " + schema + " TO " + role,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA " + schema + " GRANT SELECT ON TABLES TO " + role,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("grant reader %s: %w", role, err)
		}
	}
	return nil
}

// DropRole drops a role made by GrantReader, with its privileges.
func DropRole(ctx context.Context, dsn, role string) error {
	if !schemaName.MatchString(role) {
		return fmt.Errorf("drop role: %q is not a plain lowercase identifier", role)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("drop role %s: %w", role, err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE IF EXISTS " + role} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("drop role %s: %w", role, err)
		}
	}
	return nil
}
