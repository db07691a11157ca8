-- The ledger is keyed by destination (the site's canonical URL and the project there), not by the target's
-- configured name: a name pointed at another site must not find the old site's hashes and call everything
-- "unchanged". The ledger's rows keep the name (status, metrics and cycles show it); this table says which
-- destination the rows under a name belong to. When a name moves to another destination, its rows are set
-- aside under a parking name ("parked <destination> <name>") and the new destination's own rows, if the
-- name pointed there before, come back (sync/ledger/destination.go).
--
-- Existing rows: a name without an entry here adopts, on its first cycle after this migration, the
-- destination its configuration gives then (the config in force at the upgrade is taken to be the one the
-- rows were written under; docs/reliability.md, "Security").
CREATE TABLE {{.schema}}.destinations (
    target      text        PRIMARY KEY,   -- engine.Target.Name(), e.g. jira:acme/SHOP
    destination text        NOT NULL,      -- e.g. jira:https://acme.atlassian.net:443/SHOP
    bound_at    timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----
DROP TABLE {{.schema}}.destinations;
