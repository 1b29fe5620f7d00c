/* ds_secrets.c: sealing, masking and mask resolution of datasource secrets (see ds_secrets.h). */
#include "ds_secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

static const char *const top_secrets[] = {"password",           "ssl_password",           "sk",
                                          "key_store_password", "key_store_key_password", "trust_store_password",
                                          NULL};
static const char *const auth_secrets[] = {"password", "app_secret", "secret", "client_secret", NULL};
#define AUTH_KEY "api_auth_detail"

/* Visits every secret string of content: fn(parent object, key, value item, path) until fn fails. */
typedef int (*secret_fn)(cJSON *parent, const char *key, cJSON *v, const char *path, void *arg);

static int visit(cJSON *content, secret_fn fn, void *arg)
{
    char path[64];
    if (!cJSON_IsObject(content)) return 0;
    for (const char *const *k = top_secrets; *k; k++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(content, *k);
        if (!cJSON_IsString(v)) continue;
        int rc = fn(content, *k, v, *k, arg);
        if (rc) return rc;
    }
    cJSON *ad = cJSON_GetObjectItemCaseSensitive(content, AUTH_KEY);
    if (!cJSON_IsObject(ad)) return 0;
    for (const char *const *k = auth_secrets; *k; k++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(ad, *k);
        if (!cJSON_IsString(v)) continue;
        snprintf(path, sizeof path, AUTH_KEY ".%s", *k);
        int rc = fn(ad, *k, v, path, arg);
        if (rc) return rc;
    }
    return 0;
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

static int mask_one(cJSON *parent, const char *key, cJSON *v, const char *path, void *arg)
{
    (void)parent, (void)key, (void)path, (void)arg;
    return set_string(v, DS_MASK);
}

int ds_secrets_mask(cJSON *content) { return visit(content, mask_one, NULL); }

/* The stored (sealed) string at path in stored, or NULL. */
static const char *stored_at(const cJSON *stored, const char *path)
{
    if (!cJSON_IsObject(stored)) return NULL;
    const char *dot = strchr(path, '.');
    const cJSON *obj = stored;
    const char *key = path;
    if (dot) {
        obj = cJSON_GetObjectItemCaseSensitive(stored, AUTH_KEY);
        key = dot + 1;
    }
    const cJSON *v = cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

typedef struct seal_arg {
    const cJSON *stored;
    ds_verr *e;
} seal_arg;

static int seal_one(cJSON *parent, const char *key, cJSON *v, const char *path, void *arg)
{
    (void)parent, (void)key;
    seal_arg *sa = arg;
    if (!strcmp(v->valuestring, DS_MASK)) {
        const char *old = stored_at(sa->stored, path);
        if (!old) {
            snprintf(sa->e->field, sizeof sa->e->field, "content.%s", path);
            snprintf(sa->e->reason, sizeof sa->e->reason, "is \"%s\" but no value is stored to keep", DS_MASK);
            return ROMA_EINVAL;
        }
        return set_string(v, old);
    }
    char *sealed = crypto_seal(v->valuestring);
    if (!sealed) return ROMA_EIO;
    int rc = set_string(v, sealed);
    free(sealed);
    return rc;
}

int ds_secrets_seal(cJSON *content, const cJSON *stored, ds_verr *e)
{
    seal_arg sa = {stored, e};
    return visit(content, seal_one, &sa);
}

static int add_path(cJSON *parent, const char *key, cJSON *v, const char *path, void *arg)
{
    (void)parent, (void)key;
    if (strncmp(v->valuestring, "v1:", 3) != 0) return 0;
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
    if (visit((cJSON *)content, add_path, arr) != 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

static int check_sealed(cJSON *parent, const char *key, cJSON *v, const char *path, void *arg)
{
    (void)parent, (void)key, (void)path, (void)arg;
    return strncmp(v->valuestring, "v1:", 3) == 0 ? 0 : ROMA_EINVAL;
}

int ds_secrets_all_sealed(const cJSON *content) { return visit((cJSON *)content, check_sealed, NULL) == 0; }
