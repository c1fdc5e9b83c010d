-- Forwarding: per source, the log sequence number up to which every
-- message was forwarded or held back, and the messages held back (blocked
-- by an enforcement policy or refused by the destination).
CREATE TABLE forward_cursors (
	source        TEXT PRIMARY KEY,
	seq           INTEGER NOT NULL,
	forwarded     INTEGER NOT NULL DEFAULT 0,
	updated_at    INTEGER NOT NULL, -- µs since the epoch
	last_error    TEXT NOT NULL DEFAULT '',
	last_error_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE forward_held (
	source     TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	reason     TEXT NOT NULL,
	message_id TEXT NOT NULL,
	arrived    INTEGER NOT NULL, -- µs since the epoch
	detail     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (source, seq)
);
