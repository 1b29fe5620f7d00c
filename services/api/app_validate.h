/* app_validate.h: the field rules of integration apps (spec §2.2, §2.4, §2.5, §2.6) as pure functions:
 * parsing and validating the request bodies CreateAppReq, UpdateAppReq, the secret-reset body and the
 * members body, the list query parameters, role normalisation, and generating random keys and secrets
 * that satisfy the same rules. No database, no civetweb: the unit tests and the libFuzzer target link
 * this file alone (with cJSON and common/).
 *
 * Every parse function takes the raw body bytes, returns 0 or ROMA_EINVAL, and on failure fills an
 * app_verr naming the offending field so the handler can answer the documented 400. */
#ifndef ROMA_API_APP_VALIDATE_H
#define ROMA_API_APP_VALIDATE_H

#include <cJSON.h>
#include <stddef.h>

#include "errors.h"

/* ---- limits (code points unless stated) ---- */
#define APP_NAME_MAX 256
#define APP_REMARK_MAX 255
#define APP_KEY_MIN 3
#define APP_KEY_MAX 200
#define APP_SECRET_MIN 8
#define APP_SECRET_MAX 128
#define APP_ID_MAX 64          /* app_id (SPEC path parameter 0-64) */
#define APP_USER_ID_MAX 64
#define APP_USER_NAME_MAX 64
#define APP_MEMBERS_MAX 1000   /* users[] entries in one AddUserToApp body */
#define APP_LIST_LIMIT_DEFAULT 10
#define APP_LIST_LIMIT_MAX 1000
#define APP_RANDOM_KEY_LEN 32
#define APP_RANDOM_SECRET_LEN 32
/* the longest name/key in bytes: 4 UTF-8 bytes per code point + NUL */
#define APP_NAME_BYTES (APP_NAME_MAX * 4 + 1)

/* ---- roles (spec §2.4): bits, emitted in this fixed order ---- */
#define APP_ROLE_READ 0x01u
#define APP_ROLE_ACCESS 0x02u
#define APP_ROLE_DELETE 0x04u
#define APP_ROLE_MODIFY 0x08u
#define APP_ROLE_ADMIN 0x10u
#define APP_ROLE_ALL 0x1fu
#define APP_ROLE_COUNT 5

/* ---- the role each operation on an app needs. apps.c and the asset jobs (services/asset_worker/, which
 * links this file and app_store.c) both take it from here, so no path can decide differently. ---- */
#define APP_NEED_SHOW APP_ROLE_READ     /* show, members; export of the app's document */
#define APP_NEED_UPDATE APP_ROLE_ADMIN  /* update name/remark; a Merge import onto the app */
#define APP_NEED_DELETE APP_ROLE_ADMIN  /* delete; an asset delete job */
#define APP_NEED_SECRET APP_ROLE_ADMIN  /* show/reset the secret; an export carrying the secret */
#define APP_NEED_MEMBERS APP_ROLE_ADMIN /* set members, candidates */

/* ---- errors ---- */
typedef enum {
    APP_VERR_PARAM = 0, /* a field is missing, of the wrong type or breaks its rule: 400 ROMA.13000 */
    APP_VERR_NOBODY,    /* the body is empty where one is required: 400 ROMA.13001 */
} app_verr_kind;

typedef struct app_verr {
    app_verr_kind kind;
    char field[48];  /* "name", "users[3].roles", "" for the body as a whole */
    char msg[200];   /* human text naming the field and the rule; never echoes a secret */
} app_verr;

/* ---- request bodies; string members point into doc (owned), NULL when absent or null ---- */
typedef struct app_create_req {
    cJSON *doc;
    const char *name;
    const char *remark;
    const char *key;    /* NULL: generate one */
    const char *secret; /* NULL: generate one (absent or null, spec §2.2) */
    int favorite;       /* 0 or 1, default 0 */
} app_create_req;

typedef struct app_update_req {
    cJSON *doc;
    const char *name;   /* NULL: unchanged */
    const char *remark; /* NULL: unchanged */
    int favorite;       /* -1 unchanged, else 0/1 */
} app_update_req;

typedef struct app_member_spec {
    const char *user_id; /* points into the owning app_members_req's doc */
    unsigned roles;      /* normalised mask, always contains APP_ROLE_READ */
} app_member_spec;

typedef struct app_members_req {
    cJSON *doc;
    app_member_spec *users; /* heap array of n entries (NULL when n == 0) */
    int n;
} app_members_req;

typedef struct app_list_filter {
    long offset;           /* >= 0, default 0 */
    long limit;            /* 1..APP_LIST_LIMIT_MAX, default APP_LIST_LIMIT_DEFAULT */
    int favorite;          /* -1 any, 0, 1 */
    int owner;             /* -1 any, 0, 1 */
    unsigned auth_role;    /* 0 any, else one role bit */
    const char *name;      /* fuzzy, NULL = any; borrowed from the caller */
    const char *key;       /* fuzzy, NULL = any; borrowed */
    const char *user_name; /* exact, NULL = any; borrowed */
} app_list_filter;

/* Any app JSON text (a request body, a document of an import package) as one object, with the rules
 * every app body gets: not empty, no NUL (raw or \u0000: a C string would silently cut the value
 * short), valid JSON with nothing after it, an object. *doc is the caller's. */
int app_parse_json_object(const char *body, size_t len, cJSON **doc, app_verr *err) ROMA_MUST_USE;

/* CreateAppReq: name required; remark/key/secret/favorite optional; unknown fields ignored. */
int app_parse_create(const char *body, size_t len, app_create_req *out, app_verr *err) ROMA_MUST_USE;
void app_create_req_free(app_create_req *r);

/* The CreateAppReq rules applied to an already parsed object (an imported app document): fills out with
 * pointers into o (borrowed; out->doc stays NULL, app_create_req_free() is not needed). */
int app_check_create_object(const cJSON *o, app_create_req *out, app_verr *err) ROMA_MUST_USE;

/* UpdateAppReq: name/remark/favorite, all optional; an empty object changes nothing. */
int app_parse_update(const char *body, size_t len, app_update_req *out, app_verr *err) ROMA_MUST_USE;
void app_update_req_free(app_update_req *r);

/* ResetRomaAppSecret body {secret?}: the body itself is optional. *secret is NULL when a random secret is
 * wanted (empty body, {} or "secret": null); *doc owns the parsed text (cJSON_Delete it, NULL is fine). */
int app_parse_secret(const char *body, size_t len, cJSON **doc, const char **secret, app_verr *err) ROMA_MUST_USE;

/* AddUserToApp body {users:[{id, roles[]}]}: users required (an empty list clears the members), ids unique,
 * roles normalised. */
int app_parse_members(const char *body, size_t len, app_members_req *out, app_verr *err) ROMA_MUST_USE;
void app_members_req_free(app_members_req *r);
/* The members rules applied to a parsed array (field_name names it in errors; id_key is the member's id
 * member: "id" in AddUserToApp, "user_id" in exported app documents). out->users point into users
 * (borrowed; out->doc stays NULL); release with app_members_req_free(). */
int app_check_members_array(const cJSON *users, const char *field_name, const char *id_key, app_members_req *out,
                            app_verr *err) ROMA_MUST_USE;

/* ListRomaApp query values as decoded strings (NULL = absent) into f. String filters are borrowed. */
int app_parse_list_filter(const char *offset, const char *limit, const char *favorite, const char *owner,
                          const char *auth_role, const char *name, const char *key, const char *user_name,
                          app_list_filter *f, app_verr *err) ROMA_MUST_USE;

/* ---- single-field rules (0 or ROMA_EINVAL with err filled for field) ---- */
int app_check_name(const char *s, const char *field, app_verr *err) ROMA_MUST_USE;
int app_check_remark(const char *s, const char *field, app_verr *err) ROMA_MUST_USE;
int app_check_key(const char *s, const char *field, app_verr *err) ROMA_MUST_USE;
int app_check_secret(const char *s, const char *field, app_verr *err) ROMA_MUST_USE;

/* ---- roles ---- */
/* One role word ("read" ...) to its bit, 0 when unknown. */
unsigned app_role_bit(const char *word);
/* Spec §2.4: admin alone -> all five; anything lacking read gets read. */
unsigned app_roles_normalize(unsigned mask);
/* A JSON array of role words to a normalised mask. NULL/absent means "no roles given" -> read. Each element
 * may also be the comma-joined form the manual's examples show ("read, access"). */
int app_roles_parse(const cJSON *arr, const char *field, unsigned *mask, app_verr *err) ROMA_MUST_USE;
/* Comma-separated words ("read,access", the SQL array_to_string form) to a mask; unknown words ignored. */
unsigned app_roles_from_csv(const char *csv);
/* Mask to "read,access,..." in the fixed order (buf >= 40 bytes). */
void app_roles_to_csv(unsigned mask, char *buf, size_t buflen);
/* Appends the role words of mask, in the fixed order, to a JSON array; 0 or ROMA_ENOMEM. */
int app_roles_to_json(unsigned mask, cJSON *arr) ROMA_MUST_USE;

/* ---- generation ---- */
/* A random key of APP_RANDOM_KEY_LEN letters and digits (buf >= APP_RANDOM_KEY_LEN+1). 0 or ROMA_EIO. */
int app_random_key(char *buf, size_t buflen) ROMA_MUST_USE;
/* A random secret of APP_RANDOM_SECRET_LEN characters from the secret charset holding at least one upper,
 * lower, digit and special character (buf >= APP_RANDOM_SECRET_LEN+1). 0 or ROMA_EIO. */
int app_random_secret(char *buf, size_t buflen) ROMA_MUST_USE;

#endif
