-- 002_apps.sql: integration applications (spec §2) and their members.
--
-- Design decisions (see services/api/app_store.h for the full contract):
-- * An app lives in one instance; name and key are unique within the instance (case-sensitive).
-- * The secret is stored only sealed (AES-256-GCM, crypto_seal): secret_sealed never holds plaintext.
-- * Membership is one app_members row per (app, user). The creator gets a row holding all five roles and
--   keeps it for the life of the app (PUT .../users never removes or changes it). A caller sees exactly
--   the apps where they have a row, so visibility, the caller's roles and list filters are one JOIN.
-- * favorite is PER USER (ROMA shows "favourite" per console user): it lives on app_members, not apps.
-- * roles is a text[] of the enum words in the fixed order read, access, delete, modify, admin, already
--   normalised by the API (spec §2.4): it always contains read.
CREATE TABLE apps (
    id                     text PRIMARY KEY DEFAULT gen_random_uuid()::text,
    project_id             text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    instance_id            text NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    name                   text NOT NULL,
    remark                 text NOT NULL DEFAULT '',
    key                    text NOT NULL,
    secret_sealed          text NOT NULL CHECK (secret_sealed LIKE 'v1:%'),
    created_by             text NOT NULL,
    created_user_name      text NOT NULL,
    last_updated_user_id   text NOT NULL,
    last_updated_user_name text NOT NULL,
    create_time            timestamptz NOT NULL DEFAULT now(),
    update_time            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT apps_instance_name_uniq UNIQUE (instance_id, name),
    CONSTRAINT apps_instance_key_uniq UNIQUE (instance_id, key)
);

CREATE TABLE app_members (
    app_id    text NOT NULL REFERENCES apps(id) ON DELETE CASCADE,
    user_id   text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    roles     text[] NOT NULL CHECK ('read' = ANY (roles)
                                     AND roles <@ ARRAY['read', 'access', 'delete', 'modify', 'admin']),
    favorite  boolean NOT NULL DEFAULT false,
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, user_id)
);
-- "apps visible to user U in instance I" starts from the member rows of U
CREATE INDEX app_members_user_idx ON app_members (user_id, app_id);

-- Asset export contract: one JSON document per app with everything needed to re-create it elsewhere,
-- including the SEALED secret (only a deployment holding the same ROMA_SECRET_KEY can open it) and the
-- member list. Readable by any process (the asset worker does not link the API's C code):
--   SELECT doc FROM app_export_docs WHERE instance_id = $1 AND id = $2
CREATE VIEW app_export_docs AS
SELECT a.id, a.instance_id, a.project_id,
       jsonb_build_object(
           'id', a.id, 'name', a.name, 'remark', a.remark, 'key', a.key,
           'secret_sealed', a.secret_sealed,
           'created_user', jsonb_build_object('user_id', a.created_by, 'user_name', a.created_user_name),
           'create_time', to_char(a.create_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'members', COALESCE((SELECT jsonb_agg(jsonb_build_object('user_id', m.user_id, 'roles', to_jsonb(m.roles))
                                                 ORDER BY m.added_at, m.user_id)
                                FROM app_members m WHERE m.app_id = a.id AND m.user_id <> a.created_by),
                               '[]'::jsonb)) AS doc
FROM apps a;

-- Asset import contract: re-creates an app from an app_export_docs document in (p_project, p_instance),
-- owned by the importing user. Keeps the document's id when it is free, otherwise a new id is drawn.
-- Members are restored only when the user exists in p_project. Raises unique_violation (23505,
-- constraint apps_instance_name_uniq / apps_instance_key_uniq) on a name or key clash: the caller
-- decides whether to skip or overwrite. Returns the new app id.
CREATE FUNCTION app_import_doc(doc jsonb, p_project text, p_instance text, p_user text, p_user_name text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    new_id text;
BEGIN
    INSERT INTO apps (id, project_id, instance_id, name, remark, key, secret_sealed, created_by,
                      created_user_name, last_updated_user_id, last_updated_user_name)
    VALUES (CASE WHEN EXISTS (SELECT 1 FROM apps WHERE id = doc->>'id') OR doc->>'id' IS NULL
                 THEN gen_random_uuid()::text ELSE doc->>'id' END,
            p_project, p_instance, doc->>'name', COALESCE(doc->>'remark', ''), doc->>'key',
            doc->>'secret_sealed', p_user, p_user_name, p_user, p_user_name)
    RETURNING id INTO new_id;
    INSERT INTO app_members (app_id, user_id, roles)
    VALUES (new_id, p_user, ARRAY['read', 'access', 'delete', 'modify', 'admin']);
    INSERT INTO app_members (app_id, user_id, roles)
    SELECT new_id, u.id, ARRAY(SELECT jsonb_array_elements_text(mem->'roles'))
    FROM jsonb_array_elements(COALESCE(doc->'members', '[]'::jsonb)) AS mem
    JOIN users u ON u.id = mem->>'user_id' AND u.project_id = p_project
    WHERE u.id <> p_user
    ON CONFLICT DO NOTHING;
    RETURN new_id;
END $$;
