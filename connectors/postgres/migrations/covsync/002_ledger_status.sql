-- Indexes for `covsync status` and the daemon's "items failing now" gauge, which read the ledger and the
-- cycle history on every call (and every /metrics scrape): both look only at a small subset of the rows.

-- Items failing now: a few rows among every item of every target.
CREATE INDEX ledger_failing ON {{.schema}}.ledger (target, item_key) WHERE last_error IS NOT NULL;

-- The last successful cycle per target.
CREATE INDEX cycles_target_ok ON {{.schema}}.cycles (target, finished_at DESC)
    WHERE error IS NULL AND finished_at IS NOT NULL;

---- create above / drop below ----
DROP INDEX {{.schema}}.cycles_target_ok;
DROP INDEX {{.schema}}.ledger_failing;
