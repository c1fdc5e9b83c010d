-- Which process ran a job: with several replicas, exactly one runs each.
ALTER TABLE job_runs ADD COLUMN instance TEXT NOT NULL DEFAULT '';
