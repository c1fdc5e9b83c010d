-- Every alert the alerting decided (sent, failed, held for the digest), and
-- its named state (fingerprints seen, the last digest).
CREATE TABLE alerts (
	id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at       timestamptz NOT NULL,
	rule     text COLLATE "C" NOT NULL,
	key      text COLLATE "C" NOT NULL,
	severity text NOT NULL,
	title    text NOT NULL,
	text     text NOT NULL DEFAULT '',
	link     text NOT NULL DEFAULT '',
	status   text NOT NULL,
	channels jsonb NOT NULL DEFAULT '[]',
	error    text NOT NULL DEFAULT ''
);
CREATE INDEX alerts_at ON alerts (at, id);
CREATE INDEX alerts_rule_key ON alerts (rule, key, at);
CREATE TABLE alert_state (
	name  text COLLATE "C" PRIMARY KEY,
	value jsonb NOT NULL
);
