-- Observed events and what was seen of them.
CREATE TABLE events (
	id         INTEGER PRIMARY KEY,
	source     TEXT NOT NULL,
	type       TEXT NOT NULL,
	name       TEXT NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	UNIQUE (source, type, name)
);

CREATE TABLE event_daily (
	event_id INTEGER NOT NULL REFERENCES events (id),
	day      TEXT NOT NULL,
	count    INTEGER NOT NULL,
	PRIMARY KEY (event_id, day)
) WITHOUT ROWID;

CREATE TABLE properties (
	event_id   INTEGER NOT NULL REFERENCES events (id),
	path       TEXT NOT NULL,
	present    INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	examples   TEXT NOT NULL DEFAULT '[]',
	PRIMARY KEY (event_id, path)
) WITHOUT ROWID;

CREATE TABLE property_types (
	event_id INTEGER NOT NULL,
	path     TEXT NOT NULL,
	type     TEXT NOT NULL,
	count    INTEGER NOT NULL,
	PRIMARY KEY (event_id, path, type)
) WITHOUT ROWID;

CREATE TABLE violations (
	source     TEXT NOT NULL,
	type       TEXT NOT NULL,
	event      TEXT NOT NULL,
	code       TEXT NOT NULL,
	path       TEXT NOT NULL,
	expected   TEXT NOT NULL,
	observed   TEXT NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	sample     BLOB,
	PRIMARY KEY (source, type, event, code, path, expected, observed)
) WITHOUT ROWID;

CREATE TABLE rejections (
	source     TEXT NOT NULL,
	reason     TEXT NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	sample     TEXT NOT NULL,
	PRIMARY KEY (source, reason)
) WITHOUT ROWID;

CREATE TABLE source_counts (
	source     TEXT PRIMARY KEY,
	messages   INTEGER NOT NULL DEFAULT 0,
	rejected   INTEGER NOT NULL DEFAULT 0,
	duplicates INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Dedupe keys: one per stored message, pruned after the dedupe window.
CREATE TABLE dedupe (
	source      TEXT NOT NULL,
	message_id  TEXT NOT NULL,
	received_at INTEGER NOT NULL,
	PRIMARY KEY (source, message_id)
) WITHOUT ROWID;
CREATE INDEX dedupe_received ON dedupe (received_at);

-- Users, accounts, their traits and memberships.
CREATE TABLE users (
	user_id    TEXT PRIMARY KEY,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE user_traits (
	user_id TEXT NOT NULL,
	name    TEXT NOT NULL,
	value   TEXT NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (user_id, name)
) WITHOUT ROWID;

CREATE TABLE accounts (
	group_id   TEXT PRIMARY KEY,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE account_traits (
	group_id TEXT NOT NULL,
	name     TEXT NOT NULL,
	value    TEXT NOT NULL,
	at       INTEGER NOT NULL,
	PRIMARY KEY (group_id, name)
) WITHOUT ROWID;

CREATE TABLE memberships (
	user_id    TEXT NOT NULL,
	group_id   TEXT NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (user_id, group_id)
) WITHOUT ROWID;

CREATE TABLE aliases (
	alias   TEXT PRIMARY KEY,
	user_id TEXT NOT NULL
) WITHOUT ROWID;

-- Activity rollups for scoring.
CREATE TABLE activity_daily (
	day     TEXT NOT NULL,
	user_id TEXT NOT NULL,
	event   TEXT NOT NULL,
	count   INTEGER NOT NULL,
	PRIMARY KEY (day, user_id, event)
) WITHOUT ROWID;

CREATE TABLE activity_total (
	user_id    TEXT NOT NULL,
	event      TEXT NOT NULL,
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (user_id, event)
) WITHOUT ROWID;

-- The most recent raw messages per event.
CREATE TABLE reservoir (
	id       INTEGER PRIMARY KEY,
	event_id INTEGER NOT NULL,
	body     BLOB NOT NULL
);
CREATE INDEX reservoir_event ON reservoir (event_id, id);
