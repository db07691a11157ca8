-- covsync's own state. {{.schema}} is the quoted schema name ("covsync").

-- One row per (target, item): what covsync last pushed there and how the last attempt went. An item is
-- "pushed" only when the target acknowledged it: hash and pushed_at are set only then.
CREATE TABLE {{.schema}}.ledger (
    target          text        NOT NULL,           -- engine.Target.Name(), e.g. jira:acme/SHOP
    item_key        text        NOT NULL,           -- push.Item.Key, e.g. SHOP-7
    hash            bytea,                          -- sha256 of the payload last acknowledged; NULL: never pushed
    summary         text        NOT NULL DEFAULT '',
    pushed_at       timestamptz,                    -- when hash was acknowledged
    attempts        integer     NOT NULL DEFAULT 0, -- consecutive failed attempts since the last success
    last_attempt_at timestamptz,
    last_error      text,                           -- NULL after a success
    note            text,                           -- the target's remark on the last outcome (pruned, skipped)
    PRIMARY KEY (target, item_key)
);

-- One row per cycle of one target.
CREATE TABLE {{.schema}}.cycles (
    id          bigserial   PRIMARY KEY,
    target      text        NOT NULL,
    kind        text        NOT NULL,
    project     text        NOT NULL,
    trigger     text        NOT NULL DEFAULT 'schedule', -- schedule | resync | api
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    planned     integer     NOT NULL DEFAULT 0,
    pushed      integer     NOT NULL DEFAULT 0,
    unchanged   integer     NOT NULL DEFAULT 0,
    failed      integer     NOT NULL DEFAULT 0,
    skipped     integer     NOT NULL DEFAULT 0,
    pruned      integer     NOT NULL DEFAULT 0,
    error       text                                -- a cycle-level failure (plan failed, target fatal)
);
CREATE INDEX cycles_target_started ON {{.schema}}.cycles (target, started_at DESC);

---- create above / drop below ----
DROP TABLE {{.schema}}.cycles;
DROP TABLE {{.schema}}.ledger;
