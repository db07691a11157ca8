-- API keys of the ingest endpoint: each is scoped to one project. Only the key's
-- SHA-256 and its display prefix (its first 12 characters) are stored; the key itself is shown once by
-- `covsync keys create` and kept nowhere.
CREATE TABLE {{.schema}}.api_keys (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prefix       text        NOT NULL UNIQUE CHECK (prefix ~ '^csk_[a-z2-7]{8}$'),
    hash         bytea       NOT NULL CHECK (octet_length(hash) = 32),
    project_id   text        NOT NULL,
    name         text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);

CREATE INDEX api_keys_project ON {{.schema}}.api_keys (project_id, created_at);

---- create above / drop below ----
DROP TABLE {{.schema}}.api_keys;
