-- Score snapshots: one row per profile and run, the whole run gzipped, and
-- each account's scores per run for history charts.
CREATE TABLE score_runs (
	id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	profile      text COLLATE "C" NOT NULL,
	at           timestamptz NOT NULL,
	window_days  integer NOT NULL,
	p90          double precision NOT NULL,
	active_users bigint NOT NULL,
	users        bigint NOT NULL,
	accounts     bigint NOT NULL,
	body         bytea NOT NULL
);
CREATE INDEX score_runs_profile ON score_runs (profile, at);

CREATE TABLE account_score_history (
	run_id        bigint NOT NULL REFERENCES score_runs (id) ON DELETE CASCADE,
	group_id      text COLLATE "C" NOT NULL,
	average_score double precision NOT NULL,
	total_score   double precision NOT NULL,
	active_users  bigint NOT NULL,
	PRIMARY KEY (group_id, run_id)
);
CREATE INDEX account_score_history_run ON account_score_history (run_id);
