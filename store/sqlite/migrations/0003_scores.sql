-- Score snapshots: one row per profile and run, the whole run gzipped, and
-- each account's scores per run for history charts.
CREATE TABLE score_runs (
	id           INTEGER PRIMARY KEY,
	profile      TEXT NOT NULL,
	at           INTEGER NOT NULL,
	window_days  INTEGER NOT NULL,
	p90          REAL NOT NULL,
	active_users INTEGER NOT NULL,
	users        INTEGER NOT NULL,
	accounts     INTEGER NOT NULL,
	body         BLOB NOT NULL
);
CREATE INDEX score_runs_profile ON score_runs (profile, at);

CREATE TABLE account_score_history (
	run_id        INTEGER NOT NULL REFERENCES score_runs (id) ON DELETE CASCADE,
	group_id      TEXT NOT NULL,
	average_score REAL NOT NULL,
	total_score   REAL NOT NULL,
	active_users  INTEGER NOT NULL,
	PRIMARY KEY (group_id, run_id)
) WITHOUT ROWID;
