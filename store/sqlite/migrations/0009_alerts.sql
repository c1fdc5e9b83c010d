-- Every alert the alerting decided (sent, failed, held for the digest), and
-- its named state (fingerprints seen, the last digest).
CREATE TABLE alerts (
	id       INTEGER PRIMARY KEY,
	at       INTEGER NOT NULL,
	rule     TEXT NOT NULL,
	key      TEXT NOT NULL,
	severity TEXT NOT NULL,
	title    TEXT NOT NULL,
	text     TEXT NOT NULL DEFAULT '',
	link     TEXT NOT NULL DEFAULT '',
	status   TEXT NOT NULL,
	channels TEXT NOT NULL DEFAULT '[]',
	error    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alerts_at ON alerts (at, id);
CREATE INDEX alerts_rule_key ON alerts (rule, key, at);
CREATE TABLE alert_state (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
