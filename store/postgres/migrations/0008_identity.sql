-- Identity: every (id, userId) link with the event time of the first
-- message that made it (a message carrying both ids, or an alias call's
-- previousId), resolved when read, so a late link re-attributes what came
-- before. Replaces aliases, which kept only the latest link of an id.
CREATE TABLE identity_links (
	id      text COLLATE "C" NOT NULL,
	user_id text COLLATE "C" NOT NULL,
	at      timestamptz NOT NULL,
	PRIMARY KEY (id, user_id)
);
CREATE INDEX identity_links_user ON identity_links (user_id);
INSERT INTO identity_links (id, user_id, at)
	SELECT alias, user_id, 'epoch'::timestamptz FROM aliases WHERE alias <> user_id;
DROP TABLE aliases;

-- Ids seen only as an anonymousId: their activity, traits and memberships
-- are kept under that id until a link credits them to a user.
CREATE TABLE anonymous_ids (
	anonymous_id text COLLATE "C" PRIMARY KEY,
	count        bigint NOT NULL,
	first_seen   timestamptz NOT NULL,
	last_seen    timestamptz NOT NULL
) WITH (fillfactor = 80);
