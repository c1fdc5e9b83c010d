-- Messages whose timestamp was before 2000 or more than a day after their
-- receipt are kept with the receive time as their event time; they are
-- counted per source.
ALTER TABLE source_counts ADD COLUMN clamped bigint NOT NULL DEFAULT 0;
