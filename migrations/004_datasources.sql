-- 004_datasources.sql: FDI datasources (spec §3) and the outcome of their last connectivity test.
--
-- Design decisions (services/api/datasources.c has the API side):
-- * A datasource belongs to one instance and one integration app of that instance. app_id references
--   apps(id) without ON DELETE: deleting an app that still owns datasources fails with 23503, which the
--   apps module answers "application still used by other resources" (ROMA.00014004).
-- * content is the DatasourceInfo content object as sent (unknown keys included, spec §8 #10), with
--   every secret (password, ssl_password, sk, key_store_password, key_store_key_password,
--   trust_store_password, api_auth_detail.password/app_secret/secret/client_secret) replaced by its
--   sealed form "v1:<base64 AES-256-GCM>". The CHECK below refuses a row holding one in clear.
-- * Times are epoch milliseconds (bigint), the unit of the API (create_time/update_time).
-- * Names are not unique (the spec states no such rule).
-- * last_test_*: written after every completed test-connect (success or failure), shown by GET.
CREATE FUNCTION datasource_secrets_sealed(c jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1
        FROM (SELECT c -> k AS v
              FROM unnest(ARRAY['password', 'ssl_password', 'sk', 'key_store_password',
                                'key_store_key_password', 'trust_store_password']) AS k
              UNION ALL
              SELECT c -> 'api_auth_detail' -> k
              FROM unnest(ARRAY['password', 'app_secret', 'secret', 'client_secret']) AS k
              WHERE jsonb_typeof(c -> 'api_auth_detail') = 'object') AS s
        WHERE jsonb_typeof(s.v) = 'string' AND left(s.v #>> '{}', 3) <> 'v1:')
$$;

CREATE TABLE datasources (
    id                    text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{32}$'),
    project_id            text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    instance_id           text NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    app_id                text NOT NULL REFERENCES apps(id),
    name                  text NOT NULL,
    type                  text NOT NULL,
    description           text,
    custom_plugin_id      text,
    content               jsonb NOT NULL CHECK (jsonb_typeof(content) = 'object' AND datasource_secrets_sealed(content)),
    created_by            text NOT NULL,
    updated_by            text NOT NULL,
    create_time           bigint NOT NULL,
    update_time           bigint NOT NULL,
    last_test_result      boolean,
    last_test_time        bigint,
    last_test_latency_ms  integer,
    last_test_detail      text
);
-- list: one instance, newest (or oldest) first
CREATE INDEX datasources_instance_created_idx ON datasources (instance_id, create_time, id);
-- the app FK (apps delete checks it) and the app_id list filter
CREATE INDEX datasources_app_idx ON datasources (app_id);
