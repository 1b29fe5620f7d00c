-- 001_platform.sql: tenancy and credentials: projects, ROMA instances, local users, IAM-style tokens,
-- AK/SK pairs. Tokens are stored as the SHA-256 of the token; secret keys are sealed (AES-256-GCM).
CREATE TABLE projects (
    id          text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    name        text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instances (
    id          text PRIMARY KEY,
    project_id  text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX instances_project_idx ON instances (project_id);

CREATE TABLE users (
    id             text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    project_id     text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name           text NOT NULL,
    password_hash  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

CREATE TABLE tokens (
    token_hash  text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id  text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tokens_expires_idx ON tokens (expires_at);

CREATE TABLE access_keys (
    ak          text PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    project_id  text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    sk_sealed   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
