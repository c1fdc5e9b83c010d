-- Verdicts follow the plan: violations are counted per hour of event time,
-- so a report counts within its window, and they are replaced as a whole,
-- re-checked from the log, when the plan changes. The rows counted at
-- arrival under an older plan go; the first plan adopted re-checks the log.
DROP TABLE violations;
CREATE TABLE violations (
	hour       INTEGER NOT NULL,
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
	PRIMARY KEY (hour, source, type, event, code, path, expected, observed)
) WITHOUT ROWID;

-- Each event's messages per hour of event time: the rates' denominators.
CREATE TABLE event_hourly (
	hour       INTEGER NOT NULL,
	event_id   INTEGER NOT NULL REFERENCES events (id),
	count      INTEGER NOT NULL,
	first_seen INTEGER NOT NULL,
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (hour, event_id)
) WITHOUT ROWID;

-- Every plan version the verdicts followed; derive_state.plan is the one
-- they follow now ('' before the first).
CREATE TABLE plan_versions (
	id           TEXT PRIMARY KEY,
	check_digest TEXT NOT NULL,
	first_seen   INTEGER NOT NULL,
	origin       TEXT NOT NULL,
	edited_at    INTEGER NOT NULL,
	body         TEXT NOT NULL
);
ALTER TABLE derive_state ADD COLUMN plan TEXT NOT NULL DEFAULT '';
