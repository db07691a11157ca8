-- Runs once, as the superuser, when the compose PostgreSQL initialises its data directory: the owner role
-- that migrates and the daemon role that serves (deploy/sql/grants.sql). Change the passwords.
CREATE ROLE covsync_owner LOGIN PASSWORD 'owner-change-me';
GRANT CREATE ON DATABASE covsync TO covsync_owner;
CREATE ROLE covsync_daemon LOGIN PASSWORD 'daemon-change-me';
-- Adds reports to the source schema (INSERT only; deploy/sql/grants.sql): the daemon takes reports from CI
-- over its endpoint (POST /v1/projects/{id}/runs).
CREATE ROLE covsync_ingest NOLOGIN;
GRANT covsync_ingest TO covsync_daemon;
