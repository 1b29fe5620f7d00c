/* ds_secrets.c: sealing, masking and mask resolution of datasource secrets (see ds_secrets.h).
 *
 * Which strings are secrets comes from the field table of ds_validate.c (FS_SECRET) for declared keys
 * and from ds_secret_name() for any other key at any depth (unknown keys are kept and echoed, so an
 * undeclared "token" or "private_key" must not be echoed in clear either). One walker, visit(), serves
 * every operation; it carries the node of the stored content at the same place, so "******" is
 * resolved from exactly the same key (or array index) of the stored row. */
#include "ds_secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

#define SEALED_PREFIX "v1:"

/* fn(value item, stored item at the same place or NULL, path, declared, arg); declared = a field of the
 * table (the worker opens those; undeclared secrets are never used by a check). */
typedef int (*secret_fn)(cJSON *v, const cJSON *stored, const char *path, int declared, void *arg);

static const cJSON *child(const cJSON *stored, const char *key)
{
    return cJSON_IsObject(stored) ? cJSON_GetObjectItemCaseSensitive(stored, key) : NULL;
}

static int walk_any(cJSON *node, const cJSON *stored, const char *path, secret_fn fn, void *arg);

/* Walks the members of an object; parent says which field table applies (NULL = content, DS_AUTH_KEY,
 * or "" = none: only the name rule). */
static int walk_object(cJSON *obj, const cJSON *stored, const char *table, const char *path, secret_fn fn, void *arg)
{
    char sub[96];
    for (cJSON *c = obj->child; c; c = c->next) {
        if (!c->string) continue;
        snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", c->string);
        unsigned flags = table && *table == '\0' ? 0 : ds_field_flags(table, c->string);
        const cJSON *st = child(stored, c->string);
        int rc = 0;
        if (cJSON_IsString(c) && ((flags & FS_SECRET) || (!(flags & FS_DECLARED) && ds_secret_name(c->string)))) {
            rc = fn(c, cJSON_IsString(st) ? st : NULL, sub, (flags & FS_SECRET) != 0, arg);
        } else if (!table && !strcmp(c->string, DS_AUTH_KEY) && cJSON_IsObject(c)) {
            rc = walk_object(c, st, DS_AUTH_KEY, sub, fn, arg);
        } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
            rc = walk_any(c, st, sub, fn, arg);
        }
        if (rc) return rc;
    }
    return 0;
}

/* Objects and arrays below the declared level: only the name rule applies. */
static int walk_any(cJSON *node, const cJSON *stored, const char *path, secret_fn fn, void *arg)
{
    if (cJSON_IsObject(node)) return walk_object(node, stored, "", path, fn, arg);
    if (!cJSON_IsArray(node)) return 0;
    char sub[96];
    int i = 0;
    for (cJSON *c = node->child; c; c = c->next, i++) {
        snprintf(sub, sizeof sub, "%s[%d]", path, i);
        const cJSON *st = cJSON_IsArray(stored) ? cJSON_GetArrayItem(stored, i) : NULL;
        int rc = walk_any(c, st, sub, fn, arg);
        if (rc) return rc;
    }
    return 0;
}

static int visit(cJSON *content, const cJSON *stored, secret_fn fn, void *arg)
{
    if (!cJSON_IsObject(content)) return 0;
    return walk_object(content, stored, NULL, "", fn, arg);
}

/* Swaps the string of v for a copy of s (keeps the item in place). 0 or ROMA_ENOMEM. The old string is
 * zeroed first: it may be a plaintext secret. */
static int set_string(cJSON *v, const char *s)
{
    char *copy = strdup(s);
    if (!copy) return ROMA_ENOMEM;
    if (v->valuestring) {
        memset(v->valuestring, 0, strlen(v->valuestring));
        free(v->valuestring);
    }
    v->valuestring = copy;
    return 0;
}

static int is_sealed(const char *s) { return strncmp(s, SEALED_PREFIX, strlen(SEALED_PREFIX)) == 0; }

static int mask_one(cJSON *v, const cJSON *stored, const char *path, int declared, void *arg)
{
    (void)stored, (void)path, (void)declared, (void)arg;
    return set_string(v, DS_MASK);
}

int ds_secrets_mask(cJSON *content) { return visit(content, NULL, mask_one, NULL); }

typedef struct seal_arg {
    ds_verr *e;
    int kept; /* secrets resolved from the stored row */
} seal_arg;

/* Seals s into v. 0, ROMA_EIO (no key) or ROMA_ENOMEM. */
static int seal_into(cJSON *v, const char *s)
{
    char *sealed = crypto_seal(s);
    if (!sealed) return ROMA_EIO;
    int rc = set_string(v, sealed);
    free(sealed);
    return rc;
}

static int seal_one(cJSON *v, const cJSON *stored, const char *path, int declared, void *arg)
{
    (void)declared;
    seal_arg *sa = arg;
    if (!strcmp(v->valuestring, DS_MASK)) {
        if (!stored) {
            snprintf(sa->e->field, sizeof sa->e->field, "content.%s", path);
            snprintf(sa->e->reason, sizeof sa->e->reason, "is \"%s\" but no value is stored to keep", DS_MASK);
            return ROMA_EINVAL;
        }
        sa->kept++;
        /* a row written before this key counted as a secret may hold it in clear: seal it now */
        return is_sealed(stored->valuestring) ? set_string(v, stored->valuestring) : seal_into(v, stored->valuestring);
    }
    return seal_into(v, v->valuestring);
}

int ds_secrets_seal(cJSON *content, const cJSON *stored, ds_verr *e, int *kept)
{
    seal_arg sa = {e, 0};
    int rc = visit(content, stored, seal_one, &sa);
    if (kept) *kept = sa.kept;
    return rc;
}

static int add_path(cJSON *v, const cJSON *stored, const char *path, int declared, void *arg)
{
    (void)stored;
    /* only declared secrets are opened by the worker (its paths are "key" or "api_auth_detail.key") */
    if (!declared || !is_sealed(v->valuestring)) return 0;
    cJSON *s = cJSON_CreateString(path);
    if (!s || !cJSON_AddItemToArray((cJSON *)arg, s)) {
        cJSON_Delete(s);
        return ROMA_ENOMEM;
    }
    return 0;
}

cJSON *ds_secrets_sealed_paths(const cJSON *content)
{
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return NULL;
    /* visit() takes a mutable tree but add_path only reads it */
    if (visit((cJSON *)content, NULL, add_path, arr) != 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

static int check_sealed(cJSON *v, const cJSON *stored, const char *path, int declared, void *arg)
{
    (void)stored, (void)path, (void)declared, (void)arg;
    return is_sealed(v->valuestring) ? 0 : ROMA_EINVAL;
}

int ds_secrets_all_sealed(const cJSON *content) { return visit((cJSON *)content, NULL, check_sealed, NULL) == 0; }
