-- The log records the derived state could not take: the aggregator moved
-- the cursor past each in the transaction that recorded it. Emptied by a
-- reset, so a rebuild applies them again.
CREATE TABLE quarantine (
	seq    bigint PRIMARY KEY,
	reason text NOT NULL,
	at     timestamptz NOT NULL
);
