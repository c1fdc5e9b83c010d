-- Verdicts follow the plan: violations are counted per hour of event time,
-- so a report counts within its window, and they are replaced as a whole,
-- re-checked from the log, when the plan changes. The rows counted at
-- arrival under an older plan go; the first plan adopted re-checks the log.
-- hour is the Unix time (seconds) of the start of the UTC hour (store.Hour);
-- it leads the keys so that a window, and a prune, is a range of them.
DROP TABLE violations;
CREATE TABLE violations (
	hour       bigint NOT NULL,
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
	PRIMARY KEY (hour, source, type, event, code, path, expected, observed)
) WITH (fillfactor = 80);

-- Each event's messages per hour of event time: the rates' denominators.
CREATE TABLE event_hourly (
	hour       bigint NOT NULL,
	event_id   bigint NOT NULL REFERENCES events (id),
	count      bigint NOT NULL,
	first_seen timestamptz NOT NULL,
	last_seen  timestamptz NOT NULL,
	PRIMARY KEY (hour, event_id)
) WITH (fillfactor = 80);

-- Every plan version the verdicts followed; derive_state.plan is the one
-- they follow now ('' before the first). body is the plan's JSON, as text
-- so that it reads back byte for byte; edited_at is NULL when unknown.
CREATE TABLE plan_versions (
	id           text COLLATE "C" PRIMARY KEY,
	check_digest text NOT NULL,
	first_seen   timestamptz NOT NULL,
	origin       text NOT NULL,
	edited_at    timestamptz,
	body         text NOT NULL
);
ALTER TABLE derive_state ADD COLUMN plan text NOT NULL DEFAULT '';
