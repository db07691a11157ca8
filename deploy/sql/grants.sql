-- Least privilege for covsync (docs/architecture.md): an owner, an ingest role for CI, and the daemon.
--
-- Three roles:
--   covsync_owner   owns covsync's schemas; runs `covsync migrate`. Needs CREATE on the database. Nothing
--                   that runs every day (CI, the daemon) should hold it: it can drop the schemas.
--   covsync_ingest  runs `covsync ingest` (what CI gets): inserts runs, results and coverage into the source
--                   schema, and reads only what de-duplication and the run_tickets aggregate need. It cannot
--                   update or delete a run, touch covsync's own schema, or create anything.
--   covsync_daemon  runs `covsync serve` / `covsync resync`: reads the source schema (of test_results only the
--                   columns the flaky-test list reads: never messages or files), reads and writes its own
--                   (ledger, cycle history, River's job tables). It creates nothing and owns nothing.
-- Create them first, as an administrator (passwords are yours to choose):
--   CREATE ROLE covsync_owner LOGIN PASSWORD '…';
--   GRANT CREATE ON DATABASE covsync TO covsync_owner;
--   CREATE ROLE covsync_daemon LOGIN PASSWORD '…';
--   CREATE ROLE covsync_ingest LOGIN PASSWORD '…';
-- then run `covsync migrate` as covsync_owner, then this file as covsync_owner:
--   psql "postgres://covsync_owner@host/covsync" -f deploy/sql/grants.sql
-- Running it again is harmless. A deployment whose source schema is not covsync_source (views of the same
-- shape, README "Your own schema") replaces that name below.
--
-- Not granted, on purpose: CREATE anywhere (the daemon never migrates: keep database.auto_migrate off for
-- it), ownership (so River's periodic REINDEX is off in the daemon; covsync migrate's role owns the indexes),
-- and any write to the source schema.

-- The source data: read only, and only what the reader reads (connectors/postgres/reader.go, trends.go). A
-- table a later migration adds is granted here by name, not by default privileges.
GRANT USAGE ON SCHEMA covsync_source TO covsync_daemon;
ALTER DEFAULT PRIVILEGES IN SCHEMA covsync_source REVOKE SELECT ON TABLES FROM covsync_daemon; -- older grants.sql
REVOKE SELECT ON ALL TABLES IN SCHEMA covsync_source FROM covsync_daemon;                       -- older grants.sql
GRANT SELECT ON covsync_source.projects, covsync_source.releases, covsync_source.runs, covsync_source.run_tickets,
    covsync_source.story_coverage, covsync_source.test_tickets TO covsync_daemon;
GRANT SELECT (run_id, ordinal, name, suite, status, flaky, retries) ON covsync_source.test_results TO covsync_daemon;

-- Ingest: INSERT, and SELECT where a statement reads back (RETURNING id, the release and duplicate-run
-- look-ups, the run_tickets aggregate built from the rows just copied); UPDATE only for a coverage file that
-- restates a measurement (ON CONFLICT DO UPDATE). No DELETE, no TRUNCATE, nothing in covsync's own schema.
GRANT USAGE ON SCHEMA covsync_source TO covsync_ingest;
GRANT INSERT ON covsync_source.projects, covsync_source.releases, covsync_source.runs, covsync_source.test_results,
    covsync_source.test_tickets, covsync_source.run_tickets, covsync_source.story_coverage TO covsync_ingest;
GRANT SELECT ON covsync_source.projects, covsync_source.releases, covsync_source.runs, covsync_source.test_results,
    covsync_source.test_tickets, covsync_source.story_coverage TO covsync_ingest;
GRANT UPDATE (covered_methods, total_methods, ingested_at) ON covsync_source.story_coverage TO covsync_ingest;

-- covsync's own schema: the ledger, the cycle history, River's tables (river_job, river_leader,
-- river_queue, river_client, river_migration …). Rows only; no DDL.
GRANT USAGE ON SCHEMA covsync TO covsync_daemon;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA covsync TO covsync_daemon;
-- USAGE is nextval; UPDATE would add setval, which rewinds job and cycle ids.
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA covsync TO covsync_daemon;
REVOKE UPDATE ON ALL SEQUENCES IN SCHEMA covsync FROM covsync_daemon;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA covsync TO covsync_daemon;
ALTER DEFAULT PRIVILEGES IN SCHEMA covsync GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO covsync_daemon;
ALTER DEFAULT PRIVILEGES IN SCHEMA covsync REVOKE UPDATE ON SEQUENCES FROM covsync_daemon;
ALTER DEFAULT PRIVILEGES IN SCHEMA covsync GRANT USAGE, SELECT ON SEQUENCES TO covsync_daemon;
ALTER DEFAULT PRIVILEGES IN SCHEMA covsync GRANT EXECUTE ON FUNCTIONS TO covsync_daemon;

-- The migration bookkeeping (tern's schema_version, River's river_migration) is read only: /readyz reads it to
-- tell whether the migrations are current, and a daemon that could write it could make that answer a lie.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON covsync.schema_version, covsync.river_migration FROM covsync_daemon;
