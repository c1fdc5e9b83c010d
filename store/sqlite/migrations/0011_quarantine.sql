-- The log records the derived state could not take: the aggregator moved
-- the cursor past each in the transaction that recorded it. Emptied by a
-- reset, so a rebuild applies them again.
CREATE TABLE quarantine (
	seq    INTEGER PRIMARY KEY,
	reason TEXT NOT NULL,
	at     INTEGER NOT NULL -- µs since the epoch
);
