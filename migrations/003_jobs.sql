-- 003_jobs.sql: the asset job ledger (export / import / delete jobs) and the archives export jobs produce.
-- PostgreSQL is the source of truth for jobs: a row exists (committed) before its command is published on
-- the bus, and every state change of a running job is fenced by its attempt number (see
-- services/asset_worker/job.c). The API's sweeper (services/api/sweeper.c) re-publishes jobs whose
-- command was lost or whose worker died, using the partial index below.
--
-- status: PENDING (internal: waiting for a worker; the API shows it as RUNNING) | RUNNING | SUCCEEDED |
-- FAILED. type: exportAsset | importAsset (SDK/SPEC enum) | deleteAsset (spec gap: no value is documented
-- for delete jobs; SDK clients accept unknown enum values).
CREATE TABLE asset_jobs (
    id                text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    project_id        text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    instance_id       text NOT NULL,
    type              text NOT NULL CHECK (type IN ('exportAsset', 'importAsset', 'deleteAsset')),
    status            text NOT NULL DEFAULT 'PENDING'
                      CHECK (status IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    request           jsonb NOT NULL,            -- normalised request: {"apps":[ids],"tasks":[ids],...}
    request_hash      text NOT NULL,             -- sha256 of type + normalised request (idempotency check)
    idempotency_key   text,                      -- Idempotency-Key header, unique per project
    attempt           integer NOT NULL DEFAULT 0,   -- fencing token: +1 on every claim, never decreases
    max_attempts      integer NOT NULL DEFAULT 5,   -- claims allowed (+1 for each graceful release)
    dispatches        integer NOT NULL DEFAULT 0,   -- commands re-published by the sweeper (backoff input)
    lease_owner       text,                      -- "<host>:<pid>:<thread>" of the claiming worker
    lease_expires_at  timestamptz,
    heartbeat_at      timestamptz,
    next_dispatch_at  timestamptz NOT NULL DEFAULT now(),  -- sweeper: re-publish no sooner than this
    progress          real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),  -- only grows
    reasons           jsonb NOT NULL DEFAULT '[]',  -- [{resource_type,resource_name,error_code,error_msg}]
    archive_id        text,
    upload            bytea,                     -- import jobs: the uploaded package (cleared when done)
    rid               text NOT NULL DEFAULT '',  -- request id of the submitting request (log correlation)
    created_by        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    begin_time        timestamptz,               -- first claim
    end_time          timestamptz
);
CREATE UNIQUE INDEX asset_jobs_idem_idx ON asset_jobs (project_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- the sweeper's scan: only live jobs are indexed, so the index stays as small as the backlog
CREATE INDEX asset_jobs_sweep_idx ON asset_jobs (next_dispatch_at) WHERE status IN ('PENDING', 'RUNNING');

-- An export's zip, stored in 256 KiB chunks so that neither the worker writing it nor the API serving it
-- ever holds the whole file in memory. Kept until expires_at (downloadable more than once: a broken
-- download can be retried); the sweeper deletes expired archives.
CREATE TABLE asset_archives (
    id           text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    job_id       text NOT NULL UNIQUE REFERENCES asset_jobs(id) ON DELETE CASCADE,
    project_id   text NOT NULL,
    instance_id  text NOT NULL,
    size         bigint NOT NULL,
    sha256       text NOT NULL,
    chunks       integer NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX asset_archives_expires_idx ON asset_archives (expires_at);

CREATE TABLE asset_archive_chunks (
    -- checked at commit: the worker streams the chunks first and writes the archive row (size, sha256) last
    archive_id  text NOT NULL REFERENCES asset_archives(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq         integer NOT NULL,
    data        bytea NOT NULL,
    PRIMARY KEY (archive_id, seq)
);
