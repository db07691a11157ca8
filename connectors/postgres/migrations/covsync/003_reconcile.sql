-- Reconcile cycles: a cycle that read back what the target holds and pushed what
-- drifted. `covsync status` shows each target's last one and its drift.
ALTER TABLE {{.schema}}.cycles
    ADD COLUMN reconcile boolean NOT NULL DEFAULT false,
    ADD COLUMN drifted   integer NOT NULL DEFAULT 0;

-- The last reconcile per target.
CREATE INDEX cycles_target_reconcile ON {{.schema}}.cycles (target, started_at DESC)
    WHERE reconcile AND finished_at IS NOT NULL;

---- create above / drop below ----
DROP INDEX {{.schema}}.cycles_target_reconcile;
ALTER TABLE {{.schema}}.cycles DROP COLUMN drifted, DROP COLUMN reconcile;
