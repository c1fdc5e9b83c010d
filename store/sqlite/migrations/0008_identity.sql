-- Identity: every (id, userId) link with the event time of the first
-- message that made it (a message carrying both ids, or an alias call's
-- previousId), resolved when read, so a late link re-attributes what came
-- before. Replaces aliases, which kept only the latest link of an id.
CREATE TABLE identity_links (
	id      TEXT NOT NULL,
	user_id TEXT NOT NULL,
	at      INTEGER NOT NULL,
	PRIMARY KEY (id, user_id)
) WITHOUT ROWID;
CREATE INDEX identity_links_user ON identity_links (user_id);
INSERT INTO identity_links (id, user_id, at) SELECT alias, user_id, 0 FROM aliases WHERE alias <> user_id;
DROP TABLE aliases;

-- Ids seen only as an anonymousId: their activity, traits and memberships
-- are kept under that id until a link credits them to a user.
CREATE TABLE anonymous_ids (
	anonymous_id TEXT PRIMARY KEY,
	count        INTEGER NOT NULL,
	first_seen   INTEGER NOT NULL,
	last_seen    INTEGER NOT NULL
) WITHOUT ROWID;
