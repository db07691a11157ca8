-- The source schema: the test evidence covsync reads. {{.schema}} is the quoted source schema name
-- (database.source_schema, default covsync_source).
--
-- The reader (reader.go, trends.go) reads projects, releases, runs, run_tickets, story_coverage, and for the
-- flaky list test_results and test_tickets; a deployment with its own data provides those seven relations as
-- views of the same shape (README "Mapping your own schema") and sets database.migrate_source: false. test_results and test_tickets are the raw evidence that
-- `covsync ingest ctrf` keeps beside the aggregate it reads from.

-- A project as the config's projects[].id names it.
CREATE TABLE {{.schema}}.projects (
    id         text        PRIMARY KEY CHECK (id <> ''),
    name       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A release: a Jira fix version (by id when known, else looked up by name) and/or an ADO iteration or
-- release name.
CREATE TABLE {{.schema}}.releases (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id      text   NOT NULL REFERENCES {{.schema}}.projects (id) ON DELETE CASCADE,
    name            text   NOT NULL CHECK (name <> ''),
    jira_version_id text,
    ado_name        text,  -- ADO iteration path or release name, when it differs from name
    UNIQUE (project_id, name)
);

-- One run per ingested CTRF report. The two unique constraints make re-ingest idempotent: the same reportId,
-- or byte-identical content, is stored once per project.
CREATE TABLE {{.schema}}.runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id     text        NOT NULL REFERENCES {{.schema}}.projects (id) ON DELETE CASCADE,
    report_id      text,                               -- CTRF reportId; NULL when the report has none
    content_sha256 bytea       NOT NULL CHECK (length(content_sha256) = 32),
    name           text        NOT NULL,               -- "build 482", see ingest.go runName
    build          text        NOT NULL DEFAULT '',
    branch         text        NOT NULL DEFAULT '',
    commit         text        NOT NULL DEFAULT '',
    url            text        NOT NULL DEFAULT '',
    environment    text        NOT NULL DEFAULT '',
    release_id     bigint      REFERENCES {{.schema}}.releases (id) ON DELETE SET NULL,
    tool           text        NOT NULL DEFAULT '',
    started_at     timestamptz NOT NULL,
    stopped_at     timestamptz,
    -- The CTRF summary, as the report states it.
    tests          integer     NOT NULL CHECK (tests >= 0),
    passed         integer     NOT NULL CHECK (passed >= 0),
    failed         integer     NOT NULL CHECK (failed >= 0),
    skipped        integer     NOT NULL CHECK (skipped >= 0),
    pending        integer     NOT NULL CHECK (pending >= 0),
    other          integer     NOT NULL CHECK (other >= 0),
    ingested_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT runs_report_id_key UNIQUE (project_id, report_id),
    CONSTRAINT runs_content_key UNIQUE (project_id, content_sha256)
);
-- Run count, latest run, newest data.
CREATE INDEX runs_project_started ON {{.schema}}.runs (project_id, started_at DESC, id DESC);
-- A release's runs, newest first.
CREATE INDEX runs_release_started ON {{.schema}}.runs (release_id, started_at DESC, id DESC)
    WHERE release_id IS NOT NULL;

-- One row per test of a run; ordinal is the test's index in the report's tests array (tests[ordinal]).
CREATE TABLE {{.schema}}.test_results (
    run_id      bigint           NOT NULL REFERENCES {{.schema}}.runs (id) ON DELETE CASCADE,
    ordinal     integer          NOT NULL,
    name        text             NOT NULL,
    suite       text             NOT NULL DEFAULT '',  -- a suite array is joined with " > "
    status      text             NOT NULL CHECK (status IN ('passed', 'failed', 'skipped', 'pending', 'other')),
    duration_ms double precision NOT NULL CHECK (duration_ms >= 0),
    started_at  timestamptz,                            -- per-test start, normalised to an instant
    file        text             NOT NULL DEFAULT '',
    message     text             NOT NULL DEFAULT '',   -- ANSI escapes stripped
    flaky       boolean          NOT NULL DEFAULT false,
    retries     integer          NOT NULL DEFAULT 0 CHECK (retries >= 0),
    tags        text[]           NOT NULL DEFAULT '{}',
    PRIMARY KEY (run_id, ordinal)
);

-- Test → ticket links, from CTRF tags and ticket keys in test names; ticket as written (SHOP-12, AB#123).
CREATE TABLE {{.schema}}.test_tickets (
    run_id  bigint  NOT NULL,
    ordinal integer NOT NULL,
    ticket  text    NOT NULL,
    PRIMARY KEY (run_id, ordinal, ticket),
    FOREIGN KEY (run_id, ordinal) REFERENCES {{.schema}}.test_results (run_id, ordinal) ON DELETE CASCADE
);

-- The per run × ticket aggregate of test_tickets ⋈ test_results, written in the same ingest transaction.
-- It is what the reader reads: a story's newest linked run is one index probe here instead of a scan over
-- every result. project_id and started_at are the run's, copied so that probe needs no join.
-- skipped counts skipped + pending + other (neither passed nor failed).
CREATE TABLE {{.schema}}.run_tickets (
    run_id     bigint      NOT NULL REFERENCES {{.schema}}.runs (id) ON DELETE CASCADE,
    ticket     text        NOT NULL,
    project_id text        NOT NULL,
    started_at timestamptz NOT NULL,
    passed     integer     NOT NULL CHECK (passed >= 0),
    failed     integer     NOT NULL CHECK (failed >= 0),
    skipped    integer     NOT NULL CHECK (skipped >= 0),
    PRIMARY KEY (run_id, ticket)
);
CREATE INDEX run_tickets_newest ON {{.schema}}.run_tickets (project_id, ticket, started_at DESC, run_id DESC)
    INCLUDE (passed, failed, skipped);

-- Story coverage measurements; the newest per ticket counts. Re-ingesting a file replaces the figures of the
-- same (ticket, measured_at), so it is idempotent.
CREATE TABLE {{.schema}}.story_coverage (
    project_id      text        NOT NULL REFERENCES {{.schema}}.projects (id) ON DELETE CASCADE,
    ticket          text        NOT NULL CHECK (ticket <> ''),
    covered_methods integer     NOT NULL CHECK (covered_methods >= 0),
    total_methods   integer     NOT NULL CHECK (total_methods >= 0),
    measured_at     timestamptz NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (covered_methods <= total_methods)
);
CREATE UNIQUE INDEX story_coverage_newest ON {{.schema}}.story_coverage (project_id, ticket, measured_at DESC);

---- create above / drop below ----
DROP TABLE {{.schema}}.story_coverage;
DROP TABLE {{.schema}}.run_tickets;
DROP TABLE {{.schema}}.test_tickets;
DROP TABLE {{.schema}}.test_results;
DROP TABLE {{.schema}}.runs;
DROP TABLE {{.schema}}.releases;
DROP TABLE {{.schema}}.projects;
