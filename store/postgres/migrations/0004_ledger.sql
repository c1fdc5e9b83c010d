-- The push ledger: per profile and entity, the traits of the last message
-- the endpoint acknowledged, and, kept apart, the entities whose latest
-- push failed (retried on every push until accepted).
CREATE TABLE push_ledger (
	profile    text COLLATE "C" NOT NULL,
	kind       text COLLATE "C" NOT NULL,
	entity_id  text COLLATE "C" NOT NULL,
	digest     text NOT NULL,
	message_id text NOT NULL,
	traits     jsonb NOT NULL,
	acked_at   timestamptz NOT NULL,
	PRIMARY KEY (profile, kind, entity_id)
) WITH (fillfactor = 90);

CREATE TABLE push_failures (
	profile      text COLLATE "C" NOT NULL,
	kind         text COLLATE "C" NOT NULL,
	entity_id    text COLLATE "C" NOT NULL,
	message_id   text NOT NULL,
	status       text NOT NULL,
	reason       text NOT NULL,
	error        text NOT NULL,
	attempts     integer NOT NULL,
	first_failed timestamptz NOT NULL,
	last_failed  timestamptz NOT NULL,
	PRIMARY KEY (profile, kind, entity_id)
);
