-- The run log of scheduled and one-shot jobs.
CREATE TABLE job_runs (
	id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job      text COLLATE "C" NOT NULL,
	started  timestamptz NOT NULL,
	finished timestamptz NOT NULL,
	outcome  text NOT NULL,
	counts   jsonb NOT NULL DEFAULT '{}',
	error    text NOT NULL DEFAULT ''
);
CREATE INDEX job_runs_job ON job_runs (job, id);
