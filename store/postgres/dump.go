package postgres

import (
	"context"
	"fmt"
	"strings"
)

// derivedDumps are queries that list every derived table's rows without
// surrogate ids, in a stable order.
var derivedDumps = map[string]string{
	"events":         `SELECT source, type, name, count, first_seen, last_seen FROM events ORDER BY 1, 2, 3`,
	"event_daily":    `SELECT e.source, e.type, e.name, d.day, d.count FROM event_daily d JOIN events e ON e.id = d.event_id ORDER BY 1, 2, 3, 4`,
	"properties":     `SELECT e.source, e.type, e.name, p.path, p.present, p.first_seen, p.last_seen, p.examples FROM properties p JOIN events e ON e.id = p.event_id ORDER BY 1, 2, 3, 4`,
	"property_types": `SELECT e.source, e.type, e.name, p.path, p.type, p.count FROM property_types p JOIN events e ON e.id = p.event_id ORDER BY 1, 2, 3, 4, 5`,
	"violations":     `SELECT hour, source, type, event, code, path, expected, observed, count, first_seen, last_seen, encode(sample, 'hex') FROM violations ORDER BY 1, 2, 3, 4, 5, 6, 7, 8`,
	"event_hourly":   `SELECT h.hour, e.source, e.type, e.name, h.count, h.first_seen, h.last_seen FROM event_hourly h JOIN events e ON e.id = h.event_id ORDER BY 1, 2, 3, 4`,
	"rejections":     `SELECT source, reason, count, first_seen, last_seen, sample FROM rejections ORDER BY 1, 2`,
	"source_counts":  `SELECT source, messages, rejected, clamped FROM source_counts ORDER BY 1`,
	"users":          `SELECT user_id, count, first_seen, last_seen FROM users ORDER BY 1`,
	"user_traits":    `SELECT user_id, name, value::text, at FROM user_traits ORDER BY 1, 2`,
	"accounts":       `SELECT group_id, count, first_seen, last_seen FROM accounts ORDER BY 1`,
	"account_traits": `SELECT group_id, name, value::text, at FROM account_traits ORDER BY 1, 2`,
	"memberships":    `SELECT user_id, group_id, count, first_seen, last_seen FROM memberships ORDER BY 1, 2`,
	"identity_links": `SELECT id, user_id, at FROM identity_links ORDER BY 1, 2`,
	"anonymous_ids":  `SELECT anonymous_id, count, first_seen, last_seen FROM anonymous_ids ORDER BY 1`,
	"activity_daily": `SELECT day, user_id, event, count FROM activity_daily ORDER BY 1, 2, 3`,
	"activity_total": `SELECT user_id, event, count, first_seen, last_seen FROM activity_total ORDER BY 1, 2`,
	"reservoir":      `SELECT e.source, e.type, e.name, encode(r.body, 'hex') FROM reservoir r JOIN events e ON e.id = r.event_id ORDER BY 1, 2, 3, r.seq`,
}

// DumpDerived lists every derived table's rows as text, table by table,
// without surrogate ids: two stores derived from the same log compare
// equal. It is for tests and diagnostics.
func (db *DB) DumpDerived(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	for table, q := range derivedDumps {
		rows, err := db.pool.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("dump %s: %w", table, err)
		}
		lines := []string{}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("dump %s: %w", table, err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = fmt.Sprint(v)
			}
			lines = append(lines, strings.Join(parts, " | "))
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("dump %s: %w", table, err)
		}
		out[table] = lines
	}
	return out, nil
}
