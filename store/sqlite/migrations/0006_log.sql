-- The derive cursor: the last log sequence number applied to the derived
-- tables, moved in the same transaction as the rows it derives. The log
-- itself lives in its own file (see logmigrations). legacy is 1 when the
-- store had derived state before it had a log: the log does not hold all
-- that state was built from.
-- epoch counts erasures and resets: an apply of records read before one
-- is refused.
CREATE TABLE derive_state (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	cursor INTEGER NOT NULL,
	epoch  INTEGER NOT NULL,
	legacy INTEGER NOT NULL
);
INSERT INTO derive_state (id, cursor, epoch, legacy)
	SELECT 1, 0, 0, EXISTS (SELECT 1 FROM source_counts WHERE messages > 0 OR rejected > 0);
