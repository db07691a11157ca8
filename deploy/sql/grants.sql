-- Least privilege for covsync (docs/architecture.md): an owner, an ingest role for CI, and the daemon.
--
-- Roles:
--   covsync_owner   owns covsync's schemas; runs `covsync migrate` and `covsync keys` (only the owner creates
--                   and revokes ingest API keys). Needs CREATE on the database.
--   covsync_daemon  runs `covsync serve` / `covsync resync`: reads the source schema, reads and writes its own
--                   (ledger, cycle history, River's job tables). It creates nothing and owns nothing.
--   covsync_ingest  (NOLOGIN, a group role) adds reports to the source schema: INSERT, and UPDATE of the
--                   figures of a coverage measurement re-sent with other figures; never DELETE, TRUNCATE or
--                   any other UPDATE, so whoever holds it can add history but not rewrite or erase it.
--                   covsync_daemon needs membership only to take reports over HTTPS
--                   (POST /v1/projects/{id}/runs); without it the endpoint answers 503 and the daemon stays
--                   read-only on the source. Give it to the LOGIN role CI uses for `covsync ingest` too
--                   (GRANT covsync_ingest TO your_ci_role), rather than the owner's credentials.
-- Create them first, as an administrator (passwords are yours to choose):
--   CREATE ROLE covsync_owner LOGIN PASSWORD '…';
--   GRANT CREATE ON DATABASE covsync TO covsync_owner;
--   CREATE ROLE covsync_daemon LOGIN PASSWORD '…';
--   CREATE ROLE covsync_ingest NOLOGIN;
--   GRANT covsync_ingest TO covsync_daemon;   -- only if the daemon takes reports over HTTPS
-- then run `covsync migrate` as covsync_owner, then this file as covsync_owner:
--   psql "postgres://covsync_owner@host/covsync" -f deploy/sql/grants.sql
-- Running it again is harmless. A deployment whose source schema is not covsync_source (views of the same
-- shape, README "Your own schema") replaces that name below.
--
-- Not granted, on purpose: CREATE anywhere (the daemon never migrates: keep database.auto_migrate off for
-- it), ownership (so River's periodic REINDEX is off in the daemon; covsync migrate's role owns the indexes),
-- any write to the source schema beyond covsync_ingest's, and any write to the API keys beyond the time a key
-- was last used (a daemon cannot mint a key or lift a revocation).

-- The source data: read only, and only what the reader reads (connectors/postgres/reader.go, trends.go): of
-- test_results the columns of the flaky-test list, never messages or files. A table a later migration adds
-- is granted here by name, not by default privileges. (A daemon made a member of covsync_ingest, for
-- reports over HTTPS, reads what that role reads.)
GRANT USAGE ON SCHEMA covsync_source TO covsync_daemon;
ALTER DEFAULT PRIVILEGES IN SCHEMA covsync_source REVOKE SELECT ON TABLES FROM covsync_daemon; -- older grants.sql
REVOKE SELECT ON ALL TABLES IN SCHEMA covsync_source FROM covsync_daemon;                       -- older grants.sql
GRANT SELECT ON covsync_source.projects, covsync_source.releases, covsync_source.runs, covsync_source.run_tickets,
    covsync_source.story_coverage, covsync_source.test_tickets TO covsync_daemon;
GRANT SELECT (run_id, ordinal, name, suite, status, flaky, retries) ON covsync_source.test_results TO covsync_daemon;
-- The source schema's migration bookkeeping: /readyz and the start-up check read it to tell whether the
-- migrations are current (database.migrate_source).
GRANT SELECT ON covsync_source.schema_version TO covsync_daemon;

-- Reports, from CI (covsync ingest) and over HTTPS (the daemon): add rows, never remove or rewrite them.
GRANT USAGE ON SCHEMA covsync_source TO covsync_ingest;
GRANT SELECT, INSERT ON covsync_source.projects, covsync_source.releases, covsync_source.runs,
    covsync_source.test_results, covsync_source.test_tickets, covsync_source.run_tickets,
    covsync_source.story_coverage TO covsync_ingest;
GRANT UPDATE (covered_methods, total_methods, ingested_at) ON covsync_source.story_coverage TO covsync_ingest;
-- Ingest streams a report's tests in before it writes the run's row, so it takes the run's id first
-- (nextval): USAGE, not UPDATE, which would add setval.
GRANT USAGE ON SEQUENCE covsync_source.runs_id_seq TO covsync_ingest;

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

-- API keys: the daemon reads them on every ingest request and records when each was last used; creating
-- and revoking them is `covsync keys`, run as the owner.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON covsync.api_keys FROM covsync_daemon;
GRANT UPDATE (last_used_at) ON covsync.api_keys TO covsync_daemon;
