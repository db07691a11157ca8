-- Least privilege for the covsync daemon (DESIGN.md §4).
--
-- Three roles:
--   covsync_owner   owns covsync's schemas; runs `covsync migrate` (and `covsync ingest`, which writes the
--                   source schema). Needs CREATE on the database.
--   covsync_daemon  runs `covsync serve` / `covsync resync`: reads the source schema, reads and writes its own
--                   (ledger, cycle history, River's job tables). It creates nothing and owns nothing.
-- Create them first, as an administrator (passwords are yours to choose):
--   CREATE ROLE covsync_owner LOGIN PASSWORD '…';
--   GRANT CREATE ON DATABASE covsync TO covsync_owner;
--   CREATE ROLE covsync_daemon LOGIN PASSWORD '…';
-- then run `covsync migrate` as covsync_owner, then this file as covsync_owner:
--   psql "postgres://covsync_owner@host/covsync" -f deploy/sql/grants.sql
-- Running it again is harmless. A deployment whose source schema is not covsync_source (views of the same
-- shape, README "Your own schema") replaces that name below.
--
-- Not granted, on purpose: CREATE anywhere (the daemon never migrates: keep database.auto_migrate off for
-- it), ownership (so River's periodic REINDEX is off in the daemon; covsync migrate's role owns the indexes),
-- and any write to the source schema.

-- The source data: read only.
GRANT USAGE ON SCHEMA covsync_source TO covsync_daemon;
GRANT SELECT ON ALL TABLES IN SCHEMA covsync_source TO covsync_daemon;
-- Tables and views a later migration adds are readable too.
ALTER DEFAULT PRIVILEGES IN SCHEMA covsync_source GRANT SELECT ON TABLES TO covsync_daemon;

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
