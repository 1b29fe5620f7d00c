/* ds_validate.h: the field rules of FDI datasources (spec §3.2-§3.5, §8 #9/#10) as pure functions on
 * cJSON: no database, no civetweb, no crypto, so the libFuzzer target links this file alone.
 *
 * What is enforced (text rules + enums; the SPEC "min 4" lengths are not, per §8 #9):
 *   datasource_name  required, 1-255 code points of valid UTF-8 without & < > " ' ( )
 *   datasource_type  required, one of the 35 enum values
 *   app_id           required string, 1-255 (its existence is the handler's business)
 *   content          required object; per-type required fields, enums, types and lengths below
 *   description      optional string (null = absent), at most 1024 code points
 *   custom_plugin_id optional string <= 64; required for CUSTOMIZED
 * A member name repeated anywhere in the document is refused (cJSON would read the first, jsonb keeps
 * the last). Content: every known key has a type (string / bool / int / object / array) and limit; unknown keys
 * are kept untouched (§8 #10). Known keys are normalised in place to the types the SDK models declare,
 * so Go/Python SDK clients can decode the echo: port / redis_database / oracle_port numbers become
 * strings; mysql_timeout / snmp_version digit strings become numbers; "true"/"false" strings of boolean
 * fields become booleans. A null known key counts as absent. */
#ifndef ROMA_API_DS_VALIDATE_H
#define ROMA_API_DS_VALIDATE_H

#include <cJSON.h>

#include "errors.h"

#define DS_NAME_MAX 255
#define DS_DESCRIPTION_MAX 1024
#define DS_APP_ID_MAX 255
#define DS_PLUGIN_ID_MAX 64
#define DS_SECRET_MAX 1024     /* password-like fields */
#define DS_TYPES_COUNT 35

typedef struct ds_verr {
    char field[96];   /* "datasource_name", "content.port", "content.api_auth_detail.password", ... */
    char reason[200]; /* what the rule is; never echoes the value */
} ds_verr;

/* 1 when t is one of the 35 datasource_type values. */
int ds_type_valid(const char *t);
/* The i-th datasource_type value (0..DS_TYPES_COUNT-1), for tests. */
const char *ds_type_at(int i);

/* Validates a whole DatasourceInfo object (after any merge with the stored row) and normalises its
 * content in place. 0, or ROMA_EINVAL with e filled. */
int ds_validate_info(cJSON *info, ds_verr *e) ROMA_MUST_USE;

/* Refuses a member name repeated in any object of doc (e names it). 0 or ROMA_EINVAL. */
int ds_check_duplicates(const cJSON *doc, ds_verr *e) ROMA_MUST_USE;

/* Validates only a content object for type (used by ds_validate_info; exposed for tests). */
int ds_validate_content(const char *type, cJSON *content, ds_verr *e) ROMA_MUST_USE;

/* ---- field roles (the declarative table of ds_validate.c) ----
 * FS_SECRET: the value is a secret: sealed at rest, "******" in responses, "******" sent back keeps the
 *            stored value (ds_secrets.c). Every password/secret/key/token-like field of every type's
 *            content in sdk-catalog/fdi.md: password, sk, ssl_password, trust_store_password,
 *            key_store_password, key_store_key_password, snmp_community (a password by the SDK's own
 *            words), key_store (a private key store), config_file_content (the MRS/FI user
 *            authentication file: a keytab), and api_auth_detail.password / app_secret / secret /
 *            client_secret / authorization.
 * FS_TARGET: the value says where (or as whom) a check connects: host, port, address, url, broker,
 *            database_name, mode, user_name, ... A stored secret may be sent to a changed target only by
 *            a caller with the modify role (ds_connect.c). */
#define FS_SECRET 0x1u
#define FS_TARGET 0x2u
#define FS_DECLARED 0x4u /* returned by ds_field_flags for every declared key */
#define DS_AUTH_KEY "api_auth_detail" /* the one nested object with its own field table */

/* Calls fn(parent, key, arg) for every declared field whose flags include any of flags; parent is NULL
 * for a key of content, DS_AUTH_KEY for a key of content.api_auth_detail. Stops at (and returns) the
 * first non-zero result of fn; 0 when all were visited. */
typedef int (*ds_field_fn)(const char *parent, const char *key, void *arg);
int ds_fields_each(unsigned flags, ds_field_fn fn, void *arg);

/* Flags of a declared field (parent as above) with FS_DECLARED, 0 when key is not declared there. */
unsigned ds_field_flags(const char *parent, const char *key);

/* 1 when an undeclared key's name says it holds a secret (contains password, passwd, secret, token,
 * private_key/privatekey, api_key/apikey, passphrase, credential or authorization, any case). Such
 * keys anywhere in content (unknown keys are kept, e.g. inside connector_params) are sealed and masked
 * like declared secrets. */
int ds_secret_name(const char *key);

/* 1 when two validated (normalised) contents name the same target: same type and equal FS_TARGET
 * fields (absent and null count as equal to each other). */
int ds_same_target(const char *type_a, const cJSON *content_a, const char *type_b, const cJSON *content_b);

/* Datasource name rule alone (1-255 code points, valid UTF-8, none of & < > " ' ( )): 1 ok. */
int ds_name_valid(const char *name);

#endif
