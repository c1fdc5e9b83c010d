-- The event log's own file: every accepted message and rejection, in blocks
-- of zstd-compressed records, and the dedupe keys that decide what is
-- appended. A record's sequence number is its block's first_seq plus its
-- position in the block. Kept apart from the derived tables so an append
-- never waits for the aggregator's transaction (SQLite has one writer per
-- file).
CREATE TABLE log_blocks (
	first_seq INTEGER PRIMARY KEY,
	last_seq  INTEGER NOT NULL,
	day       TEXT NOT NULL,    -- arrival day (UTC), the unit of retention
	at        INTEGER NOT NULL, -- arrival, µs since the epoch
	count     INTEGER NOT NULL, -- live records (erased ones excluded)
	-- keys before data: opening the store reads the keys of the dedupe
	-- window without reading through the records' overflow pages.
	keys      BLOB NOT NULL,    -- the dedupe keys of its messages, 16 bytes each
	data      BLOB NOT NULL
);
CREATE INDEX log_blocks_day ON log_blocks (day);

-- head: the last sequence number assigned; pruned: 1 once retention dropped
-- blocks from the front of the log.
CREATE TABLE log_head (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	head   INTEGER NOT NULL,
	pruned INTEGER NOT NULL
);
INSERT INTO log_head (id, head, pruned) VALUES (1, 0, 0);

-- Dedupe keys a store kept before it had a log (moved here when it is
-- upgraded), pruned after the dedupe window; the keys of logged messages
-- are in log_blocks.keys.
CREATE TABLE dedupe (
	source      TEXT NOT NULL,
	message_id  TEXT NOT NULL,
	received_at INTEGER NOT NULL,
	PRIMARY KEY (source, message_id)
) WITHOUT ROWID;
CREATE INDEX dedupe_received ON dedupe (received_at);

-- Messages dropped as duplicates, per source: a collector counter.
CREATE TABLE duplicates (
	source TEXT PRIMARY KEY,
	count  INTEGER NOT NULL
) WITHOUT ROWID;
