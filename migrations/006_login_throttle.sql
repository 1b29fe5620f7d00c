-- 006_login_throttle.sql: failed password logins (POST /v3/auth/tokens), counted per user name and per
-- source address in PostgreSQL so every API replica sees the same counters (services/api/auth.c).
-- kind 'user': key = the user name as sent (unknown names are counted too, so a lockout cannot tell
-- which names exist); kind 'addr': key = the client address. A row counts the failures since
-- window_start; reaching the configured maximum sets locked_until. Stale rows are purged by the API.
CREATE TABLE login_failures (
    kind         text NOT NULL CHECK (kind IN ('user', 'addr')),
    key          text NOT NULL CHECK (length(key) BETWEEN 1 AND 256),
    window_start timestamptz NOT NULL DEFAULT now(),
    failures     integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until timestamptz,
    PRIMARY KEY (kind, key)
);
CREATE INDEX login_failures_window ON login_failures (window_start);
