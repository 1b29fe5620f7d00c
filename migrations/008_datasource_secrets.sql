-- 008_datasource_secrets.sql: the storage CHECK of datasource secrets covers every declared secret field
-- (services/api/ds_validate.c, FS_SECRET; derived from sdk-catalog/fdi.md): 004's list plus
-- snmp_community, key_store, config_file_content and api_auth_detail.authorization.
--
-- Replacing the function used by the CHECK does not re-validate existing rows: a row written before
-- this migration may hold one of the new keys in clear until it is next written, when the API seals it
-- (an update that sends "******" back seals the stored clear value). The API also seals undeclared keys
-- with secret-like names (ds_secret_name); that rule lives in the API only.
CREATE OR REPLACE FUNCTION datasource_secrets_sealed(c jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT NOT EXISTS (
        SELECT 1
        FROM (SELECT c -> k AS v
              FROM unnest(ARRAY['password', 'ssl_password', 'sk', 'key_store_password',
                                'key_store_key_password', 'trust_store_password', 'snmp_community',
                                'key_store', 'config_file_content']) AS k
              UNION ALL
              SELECT c -> 'api_auth_detail' -> k
              FROM unnest(ARRAY['password', 'app_secret', 'secret', 'client_secret', 'authorization']) AS k
              WHERE jsonb_typeof(c -> 'api_auth_detail') = 'object') AS s
        WHERE jsonb_typeof(s.v) = 'string' AND left(s.v #>> '{}', 3) <> 'v1:')
$$;
