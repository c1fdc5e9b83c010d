-- trackplan's PostgreSQL schema. Text keys use the "C" collation so that
-- ordering is byte order whatever the database's default collation (the same
-- order as the SQLite store and Go's string comparison), and index lookups
-- skip locale-aware comparison. Times are timestamptz (microseconds, as the
-- SQLite store keeps them); activity days are dates (UTC). Tables whose rows
-- are counters updated by every batch leave free space in their pages
-- (fillfactor) so that updates stay on the page and skip index maintenance.

-- Observed events and what was seen of them.
CREATE TABLE events (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source     text COLLATE "C" NOT NULL,
	type       text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	-- Messages ever added to the event's reservoir: the next one's sequence.
	reservoir_seq bigint NOT NULL DEFAULT 0,
	UNIQUE (source, type, name)
) WITH (fillfactor = 80);

CREATE TABLE event_daily (
	event_id bigint NOT NULL REFERENCES events (id),
	day      date NOT NULL,
	count    bigint NOT NULL,
	PRIMARY KEY (event_id, day)
) WITH (fillfactor = 80);

CREATE TABLE properties (
	event_id   bigint NOT NULL REFERENCES events (id),
	path       text COLLATE "C" NOT NULL,
	present    bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	-- The n smallest distinct example values, sorted in byte order.
	examples   text[] COLLATE "C" NOT NULL DEFAULT '{}',
	PRIMARY KEY (event_id, path)
) WITH (fillfactor = 80);

CREATE TABLE property_types (
	event_id bigint NOT NULL,
	path     text COLLATE "C" NOT NULL,
	type     text COLLATE "C" NOT NULL,
	count    bigint NOT NULL,
	PRIMARY KEY (event_id, path, type)
) WITH (fillfactor = 80);

CREATE TABLE violations (
	source     text COLLATE "C" NOT NULL,
	type       text COLLATE "C" NOT NULL,
	event      text COLLATE "C" NOT NULL,
	code       text COLLATE "C" NOT NULL,
	path       text COLLATE "C" NOT NULL,
	expected   text COLLATE "C" NOT NULL,
	observed   text COLLATE "C" NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	-- The raw message as received: bytes, not jsonb, so it is returned as sent.
	sample     bytea,
	PRIMARY KEY (source, type, event, code, path, expected, observed)
) WITH (fillfactor = 80);
CREATE INDEX violations_last_seen ON violations (last_seen);

CREATE TABLE rejections (
	source     text COLLATE "C" NOT NULL,
	reason     text COLLATE "C" NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	sample     text NOT NULL,
	PRIMARY KEY (source, reason)
) WITH (fillfactor = 80);

CREATE TABLE source_counts (
	source     text COLLATE "C" PRIMARY KEY,
	messages   bigint NOT NULL DEFAULT 0,
	rejected   bigint NOT NULL DEFAULT 0,
	duplicates bigint NOT NULL DEFAULT 0
) WITH (fillfactor = 80);

-- Dedupe keys: one per stored message, pruned after the dedupe window. The
-- primary key is what makes deduplication exact across replicas.
CREATE TABLE dedupe (
	source      text COLLATE "C" NOT NULL,
	message_id  text COLLATE "C" NOT NULL,
	received_at timestamptz NOT NULL,
	PRIMARY KEY (source, message_id)
);
CREATE INDEX dedupe_received ON dedupe (received_at);

-- Users, accounts, their traits and memberships. Trait values are JSON;
-- a cleared trait is the JSON null.
CREATE TABLE users (
	user_id    text COLLATE "C" PRIMARY KEY,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL
) WITH (fillfactor = 80);

CREATE TABLE user_traits (
	user_id text COLLATE "C" NOT NULL,
	name    text COLLATE "C" NOT NULL,
	value   jsonb NOT NULL,
	at      timestamptz NOT NULL,
	PRIMARY KEY (user_id, name)
) WITH (fillfactor = 80);

CREATE TABLE accounts (
	group_id   text COLLATE "C" PRIMARY KEY,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL
) WITH (fillfactor = 80);

CREATE TABLE account_traits (
	group_id text COLLATE "C" NOT NULL,
	name     text COLLATE "C" NOT NULL,
	value    jsonb NOT NULL,
	at       timestamptz NOT NULL,
	PRIMARY KEY (group_id, name)
) WITH (fillfactor = 80);

CREATE TABLE memberships (
	user_id    text COLLATE "C" NOT NULL,
	group_id   text COLLATE "C" NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	PRIMARY KEY (user_id, group_id)
) WITH (fillfactor = 80);
CREATE INDEX memberships_group ON memberships (group_id);

CREATE TABLE aliases (
	alias   text COLLATE "C" PRIMARY KEY,
	user_id text COLLATE "C" NOT NULL
);

-- Activity rollups for scoring.
CREATE TABLE activity_daily (
	day     date NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	event   text COLLATE "C" NOT NULL,
	count   bigint NOT NULL,
	PRIMARY KEY (day, user_id, event)
) WITH (fillfactor = 80);

CREATE TABLE activity_total (
	user_id    text COLLATE "C" NOT NULL,
	event      text COLLATE "C" NOT NULL,
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	PRIMARY KEY (user_id, event)
) WITH (fillfactor = 80);

-- The most recent raw messages per event (bytes as received), numbered by
-- the event's reservoir_seq; rows more than the reservoir size behind the
-- newest are deleted as new ones arrive.
CREATE TABLE reservoir (
	event_id bigint NOT NULL,
	seq      bigint NOT NULL,
	body     bytea NOT NULL,
	PRIMARY KEY (event_id, seq)
);
