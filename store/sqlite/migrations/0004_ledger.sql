-- The push ledger: per profile and entity, the traits of the last message
-- the endpoint acknowledged, and, kept apart, the entities whose latest
-- push failed (retried on every push until accepted).
CREATE TABLE push_ledger (
	profile    TEXT NOT NULL,
	kind       TEXT NOT NULL,
	entity_id  TEXT NOT NULL,
	digest     TEXT NOT NULL,
	message_id TEXT NOT NULL,
	traits     TEXT NOT NULL,
	acked_at   INTEGER NOT NULL,
	PRIMARY KEY (profile, kind, entity_id)
) WITHOUT ROWID;

CREATE TABLE push_failures (
	profile      TEXT NOT NULL,
	kind         TEXT NOT NULL,
	entity_id    TEXT NOT NULL,
	message_id   TEXT NOT NULL,
	status       TEXT NOT NULL,
	reason       TEXT NOT NULL,
	error        TEXT NOT NULL,
	attempts     INTEGER NOT NULL,
	first_failed INTEGER NOT NULL,
	last_failed  INTEGER NOT NULL,
	PRIMARY KEY (profile, kind, entity_id)
) WITHOUT ROWID;
