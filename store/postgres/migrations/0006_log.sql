-- The event log: every accepted message and rejection, in blocks of
-- zstd-compressed records. A record's sequence number is its block's
-- first_seq plus its position in the block. The data is already compressed:
-- it is stored out of line without TOAST compression.
--
-- The table is partitioned by arrival day (UTC), the unit of retention: one
-- partition per day, log_blocks_YYYYMMDD, created by the first append of the
-- day and dropped whole by PruneLog. The primary key, which must hold the
-- partition key, gives each partition an index on first_seq for ReadLog.
CREATE TABLE log_blocks (
	first_seq bigint NOT NULL,
	last_seq  bigint NOT NULL,
	day       date NOT NULL,        -- arrival day (UTC), the partition key
	at        timestamptz NOT NULL, -- arrival
	count     integer NOT NULL,     -- live records (erased ones excluded)
	data      bytea NOT NULL,
	PRIMARY KEY (first_seq, day)
) PARTITION BY RANGE (day);
-- Partitions inherit the column's storage.
ALTER TABLE log_blocks ALTER COLUMN data SET STORAGE EXTERNAL;

-- head: the last sequence number assigned, taken by each append with an
-- UPDATE at the end of its transaction, so that sequence numbers follow
-- commit order; pruned: true once the derived tables hold what the log no
-- longer does (a store that had data before the log existed, or a pruned
-- log).
CREATE TABLE log_state (
	id     boolean PRIMARY KEY DEFAULT true CHECK (id),
	head   bigint NOT NULL,
	pruned boolean NOT NULL
);
INSERT INTO log_state (head, pruned)
	SELECT 0, EXISTS (SELECT 1 FROM source_counts WHERE messages > 0 OR rejected > 0);

-- cursor: the last sequence number applied to the derived tables, moved in
-- the same transaction as the rows it derives. A row of its own: an apply
-- holds its lock for the whole transaction, which must not hold up appends.
-- epoch counts erasures and resets: an apply of records read before one is
-- refused.
CREATE TABLE derive_state (
	id     boolean PRIMARY KEY DEFAULT true CHECK (id),
	cursor bigint NOT NULL,
	epoch  bigint NOT NULL DEFAULT 0
);
INSERT INTO derive_state (cursor) VALUES (0);
