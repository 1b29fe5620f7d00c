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

/* Datasource name rule alone (1-255 code points, valid UTF-8, none of & < > " ' ( )): 1 ok. */
int ds_name_valid(const char *name);

#endif
