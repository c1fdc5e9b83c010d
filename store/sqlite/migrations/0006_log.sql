-- The event log: every accepted message and rejection, in blocks of
-- zstd-compressed records. A record's sequence number is its block's
-- first_seq plus its position in the block.
CREATE TABLE log_blocks (
	first_seq INTEGER PRIMARY KEY,
	last_seq  INTEGER NOT NULL,
	day       TEXT NOT NULL,    -- arrival day (UTC), the unit of retention
	at        INTEGER NOT NULL, -- arrival, µs since the epoch
	count     INTEGER NOT NULL, -- live records (erased ones excluded)
	data      BLOB NOT NULL
);
CREATE INDEX log_blocks_day ON log_blocks (day);

-- head: the last sequence number assigned; cursor: the last one applied to
-- the derived tables (moved in the same transaction as the rows it derives);
-- pruned: 1 once the derived tables hold what the log no longer does (a
-- store that had data before the log existed, or a pruned log).
CREATE TABLE log_state (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	head   INTEGER NOT NULL,
	cursor INTEGER NOT NULL,
	pruned INTEGER NOT NULL
);
INSERT INTO log_state (id, head, cursor, pruned)
	SELECT 1, 0, 0, EXISTS (SELECT 1 FROM source_counts WHERE messages > 0 OR rejected > 0);
