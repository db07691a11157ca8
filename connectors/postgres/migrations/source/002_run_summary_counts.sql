-- A run's counts are those of the tests stored (a report's summary may count a test that passed on retry as
-- failed, and the run, its stories and every target must agree); the summary's own figures are kept here,
-- {"tests":N,"passed":N,"failed":N,"skipped":N,"pending":N,"other":N}, for reports whose summary disagrees.
-- NULL for runs ingested before, whose counts are the summary's.
ALTER TABLE {{.schema}}.runs ADD COLUMN summary_counts jsonb;
COMMENT ON COLUMN {{.schema}}.runs.tests IS 'counts of the tests stored; the report''s summary is in summary_counts';

---- create above / drop below ----
ALTER TABLE {{.schema}}.runs DROP COLUMN summary_counts;
