-- Forwarding: per source, the log sequence number up to which every
-- message was forwarded or held back, and the messages held back (blocked
-- by an enforcement policy or refused by the destination).
CREATE TABLE forward_cursors (
	source        text PRIMARY KEY,
	seq           bigint NOT NULL,
	forwarded     bigint NOT NULL DEFAULT 0,
	updated_at    timestamptz NOT NULL,
	last_error    text NOT NULL DEFAULT '',
	last_error_at timestamptz
);
CREATE TABLE forward_held (
	source     text NOT NULL,
	seq        bigint NOT NULL,
	reason     text NOT NULL,
	message_id text NOT NULL,
	arrived    timestamptz NOT NULL,
	detail     text NOT NULL DEFAULT '',
	PRIMARY KEY (source, seq)
);
