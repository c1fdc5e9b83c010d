-- The run log of scheduled and one-shot jobs.
CREATE TABLE job_runs (
	id       INTEGER PRIMARY KEY,
	job      TEXT NOT NULL,
	started  INTEGER NOT NULL,
	finished INTEGER NOT NULL,
	outcome  TEXT NOT NULL,
	counts   TEXT NOT NULL DEFAULT '{}',
	error    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX job_runs_job ON job_runs (job, id);
