-- Runs once, as the superuser, when the compose PostgreSQL initialises its data directory: the owner role
-- that migrates and the daemon role that serves (deploy/sql/grants.sql). Change the passwords.
CREATE ROLE covsync_owner LOGIN PASSWORD 'owner-change-me';
GRANT CREATE ON DATABASE covsync TO covsync_owner;
CREATE ROLE covsync_daemon LOGIN PASSWORD 'daemon-change-me';
