-- Ingest streams a report's tests into test_results as it reads them, before the run's row can be written
-- (the summary and environment may follow the tests, and whether the report is stored already is known only
-- from its whole content). The link from a result to its run is therefore checked at commit in the ingest's
-- transaction (SET CONSTRAINTS ALL DEFERRED); everywhere else it stays checked at once. The name is the one
-- PostgreSQL gave the constraint of 001's "run_id ... REFERENCES runs (id)".
ALTER TABLE {{.schema}}.test_results ALTER CONSTRAINT test_results_run_id_fkey DEFERRABLE INITIALLY IMMEDIATE;

---- create above / drop below ----
ALTER TABLE {{.schema}}.test_results ALTER CONSTRAINT test_results_run_id_fkey NOT DEFERRABLE;
