/* topic_validate.c: MQS field rules (see topic_validate.h). Pure: no database, no civetweb. */
#include "topic_validate.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "util.h"

/* ---- errors ---- */

static int fail(tv_err *err, const char *field, const char *fmt, ...) ROMA_PRINTF(3, 4);
static int fail(tv_err *err, const char *field, const char *fmt, ...)
{
    if (err) {
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return ROMA_EINVAL;
}

/* ---- names ---- */

static int is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static int is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* 1 when s is [A-Za-z0-9_-]{min,max}. */
static int word_ok(const char *s, size_t min, size_t max)
{
    if (!s) return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= max) return 0;
        if (!is_alnum(s[n]) && s[n] != '_' && s[n] != '-') return 0;
    }
    return n >= min;
}

int tv_topic_name_ok(const char *s) { return s && is_alpha(s[0]) && word_ok(s, TV_NAME_MIN, TV_NAME_MAX); }
int tv_group_name_ok(const char *s) { return word_ok(s, 1, TV_GROUP_MAX); }
int tv_policy_ok(const char *s) { return s && (!strcmp(s, "all") || !strcmp(s, "pub") || !strcmp(s, "sub")); }

int tv_parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s) return ROMA_EINVAL;
    const char *p = s;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (!*p || strlen(p) > 18) return ROMA_EINVAL;
    long v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9') return ROMA_EINVAL;
        v = v * 10 + (*p - '0');
    }
    if (neg) v = -v;
    if (v < lo || v > hi) return ROMA_EINVAL;
    *out = v;
    return 0;
}

/* ---- JSON body parsing ---- */

/* 1 when a JSON text holds a NUL: raw, or a \u0000 escape inside a string. cJSON keeps strings as C
 * strings, so either would silently cut a value short; such bodies are refused. Walks the text as JSON
 * does: outside strings nothing can be escaped, inside a string a backslash escapes the next char. */
static int json_has_nul(const char *s, size_t len)
{
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\0') return 1;
        if (!in_str) {
            in_str = c == '"';
        } else if (c == '"') {
            in_str = 0;
        } else if (c == '\\' && i + 1 < len) {
            if (s[i + 1] == 'u' && i + 5 < len && s[i + 2] == '0' && s[i + 3] == '0' && s[i + 4] == '0' &&
                s[i + 5] == '0')
                return 1;
            i++;
        }
    }
    return 0;
}

/* Parses an entire body as one JSON object. The caller owns *doc. */
static int parse_body(const char *body, size_t len, cJSON **doc, tv_err *err)
{
    *doc = NULL;
    size_t i = 0;
    while (i < len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    if (!body || i == len) return fail(err, "", "The request body is empty.");
    if (json_has_nul(body, len)) return fail(err, "", "The request body must not contain NUL characters.");
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!j) return fail(err, "", "The request body is not valid JSON.");
    while (end && end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')) end++;
    if (end != body + len) {
        cJSON_Delete(j);
        return fail(err, "", "The request body has data after the JSON value.");
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return fail(err, "", "The request body must be a JSON object.");
    }
    *doc = j;
    return 0;
}

static const cJSON *field(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }
static int absent(const cJSON *v) { return !v || cJSON_IsNull(v); }

/* Integer field: absent -> def (def < lo means required); present must be an integral number in range. */
static int get_int(const cJSON *o, const char *k, const char *path, long lo, long hi, long def, long *out, tv_err *err)
{
    const cJSON *v = field(o, k);
    if (absent(v)) {
        if (def < lo) return fail(err, path, "The parameter %s is required.", path);
        *out = def;
        return 0;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1e300;
    if (!cJSON_IsNumber(v) || d != d || d < (double)lo || d > (double)hi || d != (double)(long)d)
        return fail(err, path, "The parameter %s must be an integer from %ld to %ld.", path, lo, hi);
    *out = (long)d;
    return 0;
}

/* Boolean field: absent -> -1 (or def when def >= 0). */
static int get_bool(const cJSON *o, const char *k, const char *path, int def, int *out, tv_err *err)
{
    const cJSON *v = field(o, k);
    if (absent(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v)) return fail(err, path, "The parameter %s must be true or false.", path);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

/* String field of at most max code points, valid UTF-8 without control characters; absent -> NULL
 * (an error when required). */
static int get_text(const cJSON *o, const char *k, const char *path, int required, long max, const char **out,
                    tv_err *err)
{
    const cJSON *v = field(o, k);
    *out = NULL;
    if (absent(v)) {
        if (required) return fail(err, path, "The parameter %s is required.", path);
        return 0;
    }
    if (!cJSON_IsString(v)) return fail(err, path, "The parameter %s must be a string.", path);
    long n = util_utf8_len(v->valuestring);
    if (n < 0) return fail(err, path, "The parameter %s is not valid UTF-8.", path);
    if (n > max) return fail(err, path, "The parameter %s must be at most %ld characters.", path, max);
    for (const unsigned char *p = (const unsigned char *)v->valuestring; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return fail(err, path, "The parameter %s must not contain control characters.", path);
    if (required && n == 0) return fail(err, path, "The parameter %s must not be empty.", path);
    *out = v->valuestring;
    return 0;
}

/* Adds a copy of s (when non-NULL) to o. 0 or ROMA_ENOMEM. */
static int put_str(cJSON *o, const char *k, const char *s)
{
    if (!s) return 0;
    return cJSON_AddStringToObject(o, k, s) ? 0 : ROMA_ENOMEM;
}

static int put_num(cJSON *o, const char *k, double v) { return cJSON_AddNumberToObject(o, k, v) ? 0 : ROMA_ENOMEM; }

static int put_bool(cJSON *o, const char *k, int v)
{
    if (v < 0) return 0;
    return cJSON_AddBoolToObject(o, k, v) ? 0 : ROMA_ENOMEM;
}

/* An array field of min..max items; NULL (and an error) otherwise. */
static const cJSON *get_array(const cJSON *o, const char *k, const char *path, int min, int max, tv_err *err)
{
    const cJSON *v = field(o, k);
    if (absent(v)) {
        fail(err, path, "The parameter %s is required.", path);
        return NULL;
    }
    int n = cJSON_GetArraySize(v);
    if (!cJSON_IsArray(v) || n < min || n > max) {
        fail(err, path, "The parameter %s must be an array of %d to %d items.", path, min, max);
        return NULL;
    }
    return v;
}

/* Wraps a builder: any ROMA_ENOMEM while filling a result is reported as such (not as a 400). */
static int oom(tv_err *err)
{
    (void)fail(err, "", "Out of memory.");
    return ROMA_ENOMEM;
}

/* ---- TopicCreate ---- */

int tv_topic_create(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const char *name, *app_id, *policy, *tag, *desc, *sens;
    long part, repl, ret;
    int flush, sync;
    int rc = get_text(doc, "name", "name", 1, TV_NAME_MAX, &name, err);
    if (!rc && !tv_topic_name_ok(name))
        rc = fail(err, "name",
                  "The parameter name must be 3 to 200 characters, start with a letter and contain only letters, "
                  "digits, hyphens and underscores.");
    if (!rc) rc = get_text(doc, "app_id", "app_id", 1, TV_APP_ID_MAX, &app_id, err);
    if (!rc) rc = get_int(doc, "partition", "partition", 1, TV_PARTITION_MAX, TV_PARTITION_DEFAULT, &part, err);
    if (!rc) rc = get_int(doc, "replication", "replication", 1, TV_REPLICATION_MAX, TV_REPLICATION_DEFAULT, &repl, err);
    if (!rc) rc = get_text(doc, "access_policy", "access_policy", 1, 3, &policy, err);
    if (!rc && !tv_policy_ok(policy)) rc = fail(err, "access_policy", "The parameter access_policy must be all, pub or sub.");
    if (!rc) rc = get_bool(doc, "sync_message_flush", "sync_message_flush", 0, &flush, err);
    if (!rc) rc = get_bool(doc, "sync_replication", "sync_replication", 0, &sync, err);
    if (!rc) rc = get_int(doc, "retention_time", "retention_time", 1, TV_RETENTION_MAX, TV_RETENTION_DEFAULT, &ret, err);
    if (!rc) rc = get_text(doc, "tag", "tag", 0, TV_TEXT_MAX, &tag, err);
    if (!rc) rc = get_text(doc, "description", "description", 0, TV_DESCRIPTION_MAX, &desc, err);
    if (!rc) rc = get_text(doc, "sensitive_word", "sensitive_word", 0, TV_TEXT_MAX, &sens, err);
    if (rc) {
        cJSON_Delete(doc);
        return rc;
    }
    cJSON *o = cJSON_CreateObject();
    if (!o || put_str(o, "name", name) || put_str(o, "app_id", app_id) || put_num(o, "partition", part) ||
        put_num(o, "replication", repl) || put_str(o, "access_policy", policy) ||
        put_bool(o, "sync_message_flush", flush) || put_bool(o, "sync_replication", sync) ||
        put_num(o, "retention_time", ret) || put_str(o, "tag", tag ? tag : "") ||
        put_str(o, "description", desc ? desc : "") || put_str(o, "sensitive_word", sens ? sens : "")) {
        cJSON_Delete(o);
        cJSON_Delete(doc);
        return oom(err);
    }
    cJSON_Delete(doc);
    *out = o;
    return 0;
}

/* ---- topic update ---- */

int tv_topic_update(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const cJSON *topics = get_array(doc, "topics", "topics", 1, TV_BATCH_MAX, err);
    cJSON *arr = topics ? cJSON_CreateArray() : NULL;
    int rc = topics ? (arr ? 0 : ROMA_ENOMEM) : ROMA_EINVAL;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
        if (rc) break;
        char p[64];
        const char *name, *desc, *sens;
        long ret = -1;
        int flush, sync;
        if (!cJSON_IsObject(t)) {
            snprintf(p, sizeof p, "topics[%d]", i);
            rc = fail(err, p, "The parameter %s must be an object.", p);
            break;
        }
        snprintf(p, sizeof p, "topics[%d].name", i);
        rc = get_text(t, "name", p, 1, TV_NAME_MAX, &name, err);
        snprintf(p, sizeof p, "topics[%d].retention_time", i);
        if (!rc && !absent(field(t, "retention_time")))
            rc = get_int(t, "retention_time", p, 1, TV_RETENTION_MAX, 0, &ret, err);
        snprintf(p, sizeof p, "topics[%d].sync_message_flush", i);
        if (!rc) rc = get_bool(t, "sync_message_flush", p, -1, &flush, err);
        snprintf(p, sizeof p, "topics[%d].sync_replication", i);
        if (!rc) rc = get_bool(t, "sync_replication", p, -1, &sync, err);
        snprintf(p, sizeof p, "topics[%d].description", i);
        if (!rc) rc = get_text(t, "description", p, 0, TV_DESCRIPTION_MAX, &desc, err);
        snprintf(p, sizeof p, "topics[%d].sensitive_word", i);
        if (!rc) rc = get_text(t, "sensitive_word", p, 0, TV_TEXT_MAX, &sens, err);
        if (rc) break;
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            rc = ROMA_ENOMEM;
            break;
        }
        if (put_str(o, "name", name) || (ret > 0 && put_num(o, "retention_time", ret)) ||
            put_bool(o, "sync_message_flush", flush) || put_bool(o, "sync_replication", sync) ||
            put_str(o, "description", desc) || put_str(o, "sensitive_word", sens))
            rc = ROMA_ENOMEM;
        i++;
    }
    cJSON_Delete(doc);
    if (rc) {
        cJSON_Delete(arr);
        return rc == ROMA_ENOMEM ? oom(err) : ROMA_EINVAL;
    }
    *out = arr;
    return 0;
}

/* ---- names lists ---- */

int tv_batch_delete(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const cJSON *topics = get_array(doc, "topics", "topics", 1, TV_BATCH_MAX, err);
    cJSON *arr = topics ? cJSON_CreateArray() : NULL;
    int rc = topics ? (arr ? 0 : ROMA_ENOMEM) : ROMA_EINVAL;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
        if (rc) break;
        if (!cJSON_IsString(t) || !*t->valuestring || strlen(t->valuestring) > 4 * TV_NAME_MAX) {
            char p[32];
            snprintf(p, sizeof p, "topics[%d]", i);
            rc = fail(err, p, "The parameter %s must be a topic name.", p);
            break;
        }
        cJSON *s = cJSON_CreateString(t->valuestring);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            rc = ROMA_ENOMEM;
        }
        i++;
    }
    cJSON_Delete(doc);
    if (rc) {
        cJSON_Delete(arr);
        return rc == ROMA_ENOMEM ? oom(err) : ROMA_EINVAL;
    }
    *out = arr;
    return 0;
}

int tv_name_list(const char *csv, cJSON **out, tv_err *err)
{
    *out = NULL;
    if (!csv || !*csv) return fail(err, "name", "The parameter name is required.");
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return oom(err);
    const char *p = csv;
    int n = 0;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t l = comma ? (size_t)(comma - p) : strlen(p);
        if (l == 0 || l > 4 * TV_NAME_MAX || ++n > TV_BATCH_MAX) {
            cJSON_Delete(arr);
            return fail(err, "name", "The parameter name must be 1 to %d comma-separated topic names.", TV_BATCH_MAX);
        }
        char buf[4 * TV_NAME_MAX + 1];
        memcpy(buf, p, l);
        buf[l] = '\0';
        cJSON *s = cJSON_CreateString(buf);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            cJSON_Delete(arr);
            return oom(err);
        }
        if (!comma) break;
        p = comma + 1;
    }
    *out = arr;
    return 0;
}

/* ---- access policies ---- */

int tv_acl_update(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const cJSON *topics = get_array(doc, "topics", "topics", 1, TV_BATCH_MAX, err);
    cJSON *arr = topics ? cJSON_CreateArray() : NULL;
    int rc = topics ? (arr ? 0 : ROMA_ENOMEM) : ROMA_EINVAL;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
        if (rc) break;
        char p[80];
        const char *name, *desc, *sens;
        snprintf(p, sizeof p, "topics[%d].name", i);
        rc = cJSON_IsObject(t) ? get_text(t, "name", p, 1, TV_NAME_MAX, &name, err)
                               : fail(err, p, "The parameter topics[%d] must be an object.", i);
        snprintf(p, sizeof p, "topics[%d].description", i);
        if (!rc) rc = get_text(t, "description", p, 0, TV_DESCRIPTION_MAX, &desc, err);
        snprintf(p, sizeof p, "topics[%d].sensitive_word", i);
        if (!rc) rc = get_text(t, "sensitive_word", p, 0, TV_TEXT_MAX, &sens, err);
        snprintf(p, sizeof p, "topics[%d].policies", i);
        const cJSON *pols = rc ? NULL : get_array(t, "policies", p, 0, TV_POLICIES_MAX, err);
        if (!rc && !pols) rc = ROMA_EINVAL;
        if (rc) break;
        cJSON *o = cJSON_CreateObject();
        cJSON *pa = o ? cJSON_AddArrayToObject(o, "policies") : NULL;
        if (!pa || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            rc = ROMA_ENOMEM;
            break;
        }
        if (put_str(o, "name", name) || put_str(o, "description", desc) || put_str(o, "sensitive_word", sens)) {
            rc = ROMA_ENOMEM;
            break;
        }
        int j = 0;
        const cJSON *pol;
        cJSON_ArrayForEach(pol, pols)
        {
            const char *app, *ap, *tag;
            int owner;
            snprintf(p, sizeof p, "topics[%d].policies[%d].app_id", i, j);
            rc = cJSON_IsObject(pol) ? get_text(pol, "app_id", p, 1, TV_APP_ID_MAX, &app, err)
                                     : fail(err, p, "The parameter topics[%d].policies[%d] must be an object.", i, j);
            snprintf(p, sizeof p, "topics[%d].policies[%d].access_policy", i, j);
            if (!rc) rc = get_text(pol, "access_policy", p, 1, 3, &ap, err);
            if (!rc && !tv_policy_ok(ap)) rc = fail(err, p, "The parameter %s must be all, pub or sub.", p);
            snprintf(p, sizeof p, "topics[%d].policies[%d].owner", i, j);
            if (!rc) rc = get_bool(pol, "owner", p, 0, &owner, err);
            snprintf(p, sizeof p, "topics[%d].policies[%d].tag", i, j);
            if (!rc) rc = get_text(pol, "tag", p, 0, TV_TEXT_MAX, &tag, err);
            if (rc) break;
            cJSON *po = cJSON_CreateObject();
            if (!po || !cJSON_AddItemToArray(pa, po)) {
                cJSON_Delete(po);
                rc = ROMA_ENOMEM;
                break;
            }
            if (put_str(po, "app_id", app) || put_str(po, "access_policy", ap) || put_bool(po, "owner", owner) ||
                put_str(po, "tag", tag)) {
                rc = ROMA_ENOMEM;
                break;
            }
            j++;
        }
        i++;
    }
    cJSON_Delete(doc);
    if (rc) {
        cJSON_Delete(arr);
        return rc == ROMA_ENOMEM ? oom(err) : ROMA_EINVAL;
    }
    *out = arr;
    return 0;
}

/* Batch-add tags follow the documented rule: [A-Za-z0-9_-], at most 48. */
int tv_acl_batch_add(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const cJSON *pols = get_array(doc, "policies", "policies", 1, TV_POLICIES_MAX, err);
    cJSON *arr = pols ? cJSON_CreateArray() : NULL;
    int rc = pols ? (arr ? 0 : ROMA_ENOMEM) : ROMA_EINVAL;
    int i = 0;
    const cJSON *pol;
    cJSON_ArrayForEach(pol, pols)
    {
        if (rc) break;
        char p[64];
        const char *key, *name, *ap, *tag;
        snprintf(p, sizeof p, "policies[%d].user_name", i);
        rc = cJSON_IsObject(pol) ? get_text(pol, "user_name", p, 1, 200, &key, err)
                                 : fail(err, p, "The parameter policies[%d] must be an object.", i);
        snprintf(p, sizeof p, "policies[%d].app_name", i);
        if (!rc) rc = get_text(pol, "app_name", p, 0, 256, &name, err);
        snprintf(p, sizeof p, "policies[%d].access_policy", i);
        if (!rc) rc = get_text(pol, "access_policy", p, 1, 3, &ap, err);
        if (!rc && !tv_policy_ok(ap)) rc = fail(err, p, "The parameter %s must be all, pub or sub.", p);
        snprintf(p, sizeof p, "policies[%d].tag", i);
        if (!rc) rc = get_text(pol, "tag", p, 0, TV_POLICY_TAG_MAX, &tag, err);
        if (!rc && tag && *tag && !word_ok(tag, 1, TV_POLICY_TAG_MAX))
            rc = fail(err, p, "The parameter %s may contain only letters, digits, hyphens and underscores.", p);
        if (rc) break;
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            rc = ROMA_ENOMEM;
            break;
        }
        if (put_str(o, "user_name", key) || put_str(o, "app_name", name) || put_str(o, "access_policy", ap) ||
            put_str(o, "tag", tag))
            rc = ROMA_ENOMEM;
        i++;
    }
    cJSON_Delete(doc);
    if (rc) {
        cJSON_Delete(arr);
        return rc == ROMA_ENOMEM ? oom(err) : ROMA_EINVAL;
    }
    *out = arr;
    return 0;
}

/* ---- import file ---- */

int tv_import_doc(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    long ver;
    int rc = get_int(doc, "format_version", "format_version", 1, 1, -1, &ver, err);
    const cJSON *topics = rc ? NULL : get_array(doc, "topics", "topics", 0, 10000, err);
    if (!rc && !topics) rc = ROMA_EINVAL;
    cJSON *arr = rc ? NULL : cJSON_CreateArray();
    if (!rc && !arr) rc = ROMA_ENOMEM;
    int i = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, topics)
    {
        if (rc) break;
        char p[80];
        snprintf(p, sizeof p, "topics[%d]", i);
        if (!cJSON_IsObject(t)) {
            rc = fail(err, p, "The parameter %s must be an object.", p);
            break;
        }
        /* the item is a TopicCreate with app_name instead of app_id, plus policies by app name */
        cJSON *tc = cJSON_Duplicate(t, 1);
        cJSON *norm = NULL;
        const char *app_name;
        snprintf(p, sizeof p, "topics[%d].app_name", i);
        rc = tc ? get_text(tc, "app_name", p, 1, 256, &app_name, err) : ROMA_ENOMEM;
        if (!rc) {
            cJSON_DeleteItemFromObjectCaseSensitive(tc, "app_id");
            if (!cJSON_AddStringToObject(tc, "app_id", "-")) rc = ROMA_ENOMEM;
        }
        char *text = rc ? NULL : cJSON_PrintUnformatted(tc);
        if (!rc && !text) rc = ROMA_ENOMEM;
        if (!rc && tv_topic_create(text, strlen(text), &norm, err) != 0) {
            char inner[sizeof err->msg];
            snprintf(inner, sizeof inner, "%s", err ? err->msg : "");
            rc = fail(err, p, "topics[%d]: %s", i, inner);
        }
        cJSON_free(text);
        if (!rc) {
            cJSON_DeleteItemFromObjectCaseSensitive(norm, "app_id");
            if (put_str(norm, "app_name", app_name)) rc = ROMA_ENOMEM;
        }
        cJSON_Delete(tc);
        const cJSON *pols = rc ? NULL : field(t, "policies");
        cJSON *pa = rc ? NULL : cJSON_AddArrayToObject(norm, "policies");
        if (!rc && !pa) rc = ROMA_ENOMEM;
        if (!rc && !absent(pols) && !cJSON_IsArray(pols))
            rc = fail(err, p, "The parameter topics[%d].policies must be an array.", i);
        int j = 0;
        const cJSON *pol;
        const cJSON *walk = rc ? NULL : pols;
        cJSON_ArrayForEach(pol, walk)
        {
            const char *pn, *ap, *tag;
            snprintf(p, sizeof p, "topics[%d].policies[%d].app_name", i, j);
            rc = cJSON_IsObject(pol) ? get_text(pol, "app_name", p, 1, 256, &pn, err)
                                     : fail(err, p, "The parameter topics[%d].policies[%d] must be an object.", i, j);
            snprintf(p, sizeof p, "topics[%d].policies[%d].access_policy", i, j);
            if (!rc) rc = get_text(pol, "access_policy", p, 1, 3, &ap, err);
            if (!rc && !tv_policy_ok(ap)) rc = fail(err, p, "The parameter %s must be all, pub or sub.", p);
            snprintf(p, sizeof p, "topics[%d].policies[%d].tag", i, j);
            if (!rc) rc = get_text(pol, "tag", p, 0, TV_TEXT_MAX, &tag, err);
            if (rc) break;
            cJSON *po = cJSON_CreateObject();
            if (!po || !cJSON_AddItemToArray(pa, po)) {
                cJSON_Delete(po);
                rc = ROMA_ENOMEM;
                break;
            }
            if (put_str(po, "app_name", pn) || put_str(po, "access_policy", ap) || put_str(po, "tag", tag))
                rc = ROMA_ENOMEM;
            j++;
        }
        if (!rc && !cJSON_AddItemToArray(arr, norm)) rc = ROMA_ENOMEM;
        if (rc) cJSON_Delete(norm);
        i++;
    }
    cJSON_Delete(doc);
    if (rc) {
        cJSON_Delete(arr);
        return rc == ROMA_ENOMEM ? oom(err) : ROMA_EINVAL;
    }
    *out = arr;
    return 0;
}

/* ---- ResetMessages ---- */

int tv_resend(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const char *topic, *ck;
    long part, off;
    int rc = get_text(doc, "topic", "topic", 1, TV_NAME_MAX, &topic, err);
    if (!rc) rc = get_int(doc, "partition", "partition", 0, TV_PARTITION_MAX - 1, -1, &part, err);
    if (!rc) rc = get_int(doc, "message_offset", "message_offset", 0, 9000000000000000L, -1, &off, err);
    if (!rc) rc = get_text(doc, "consumer_key", "consumer_key", 0, 200, &ck, err);
    cJSON *o = rc ? NULL : cJSON_CreateObject();
    if (!rc && (!o || put_str(o, "topic", topic) || put_num(o, "partition", part) ||
                put_num(o, "message_offset", (double)off) || put_str(o, "consumer_key", ck)))
        rc = ROMA_ENOMEM;
    cJSON_Delete(doc);
    if (rc) {
        cJSON_Delete(o);
        return rc == ROMA_ENOMEM ? oom(err) : ROMA_EINVAL;
    }
    *out = o;
    return 0;
}

/* ---- data plane: produce ---- */

int tv_produce(const char *body, size_t len, cJSON **out, size_t *bytes, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    *bytes = 0;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const cJSON *msgs = get_array(doc, "messages", "messages", 1, TV_PRODUCE_MAX, err);
    cJSON *arr = msgs ? cJSON_CreateArray() : NULL;
    int rc = msgs ? (arr ? 0 : ROMA_ENOMEM) : ROMA_EINVAL;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        if (rc) break;
        char p[48];
        const char *id;
        snprintf(p, sizeof p, "messages[%d].content", i);
        const cJSON *content = cJSON_IsObject(m) ? field(m, "content") : NULL;
        if (!cJSON_IsObject(m)) {
            rc = fail(err, p, "The parameter messages[%d] must be an object.", i);
            break;
        }
        if (absent(content)) {
            rc = fail(err, p, "The parameter %s is required.", p);
            break;
        }
        snprintf(p, sizeof p, "messages[%d].id", i);
        rc = get_text(m, "id", p, 1, TV_MSG_ID_MAX, &id, err);
        if (rc) break;
        char *text = cJSON_PrintUnformatted(content);
        if (!text) {
            rc = ROMA_ENOMEM;
            break;
        }
        *bytes += strlen(text);
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_free(text);
            rc = ROMA_ENOMEM;
            break;
        }
        if (put_str(o, "content", text) || put_str(o, "id", id)) rc = ROMA_ENOMEM;
        cJSON_free(text);
        if (!rc && *bytes > TV_PRODUCE_BYTES)
            rc = fail(err, "messages", "The messages of one request must not exceed %d bytes in total.", TV_PRODUCE_BYTES);
        i++;
    }
    cJSON_Delete(doc);
    if (rc) {
        cJSON_Delete(arr);
        return rc == ROMA_ENOMEM ? oom(err) : ROMA_EINVAL;
    }
    *out = arr;
    return 0;
}

/* ---- data plane: handlers and ack ---- */

int tv_handler_encode(int partition, int64_t offset, int gen, int64_t topic_id, char *out, size_t outlen)
{
    char plain[96];
    int n = snprintf(plain, sizeof plain, "%d#%" PRId64 "#%d#%" PRId64, partition, offset, gen, topic_id);
    if (n < 0 || (size_t)n >= sizeof plain) return ROMA_EINVAL;
    char *b = crypto_b64_encode(plain, (size_t)n);
    if (!b) return ROMA_ENOMEM;
    size_t bl = strlen(b);
    if (bl >= outlen) {
        free(b);
        return ROMA_EINVAL;
    }
    memcpy(out, b, bl + 1);
    free(b);
    return 0;
}

/* Parses one '#'-terminated (or final) decimal field. */
static int take_num(const char **p, int last, int64_t lo, int64_t hi, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9') {
        if (++digits > 18) return ROMA_EINVAL;
        v = v * 10 + (*s - '0');
        s++;
    }
    if (!digits || v < lo || v > hi) return ROMA_EINVAL;
    if (last ? *s != '\0' : *s != '#') return ROMA_EINVAL;
    *p = last ? s : s + 1;
    *out = v;
    return 0;
}

int tv_handler_decode(const char *h, tv_ack_item *out)
{
    memset(out, 0, sizeof *out);
    if (!h || !*h || strlen(h) > TV_HANDLER_MAX) return ROMA_EINVAL;
    for (const char *c = h; *c; c++)
        if (!is_alnum(*c) && *c != '+' && *c != '/' && *c != '=') return ROMA_EINVAL;
    size_t n = 0;
    unsigned char *raw = crypto_b64_decode(h, &n);
    if (!raw) return ROMA_EINVAL;
    char plain[TV_HANDLER_MAX + 1];
    if (n == 0 || n >= sizeof plain || memchr(raw, '\0', n)) {
        free(raw);
        return ROMA_EINVAL;
    }
    memcpy(plain, raw, n);
    plain[n] = '\0';
    free(raw);
    const char *p = plain;
    int64_t part, off, gen, tid;
    if (take_num(&p, 0, 0, TV_PARTITION_MAX - 1, &part) || take_num(&p, 0, 0, INT64_C(999999999999999999), &off) ||
        take_num(&p, 0, 1, INT32_MAX, &gen) || take_num(&p, 1, 1, INT64_C(999999999999999999), &tid))
        return ROMA_EINVAL;
    out->valid = 1;
    out->partition = (int)part;
    out->offset = off;
    out->gen = (int)gen;
    out->topic_id = tid;
    return 0;
}

int tv_ack(const char *body, size_t len, tv_ack_item items[TV_ACK_MAX], int *n, tv_err *err)
{
    cJSON *doc;
    *n = 0;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const cJSON *msgs = get_array(doc, "messages", "messages", 1, TV_ACK_MAX, err);
    int rc = msgs ? 0 : ROMA_EINVAL;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        char p[48];
        const char *h, *st;
        snprintf(p, sizeof p, "messages[%d].handler", i);
        rc = cJSON_IsObject(m) ? get_text(m, "handler", p, 1, 4096, &h, err)
                               : fail(err, p, "The parameter messages[%d] must be an object.", i);
        snprintf(p, sizeof p, "messages[%d].status", i);
        if (!rc) rc = get_text(m, "status", p, 1, 7, &st, err);
        if (!rc && strcmp(st, "success") != 0 && strcmp(st, "fail") != 0)
            rc = fail(err, p, "The parameter %s must be success or fail.", p);
        if (rc) break;
        /* an undecodable handler is not a 400: it is an acknowledgement that fails (ROMA: "handler invalid") */
        if (tv_handler_decode(h, &items[i]) != 0) items[i].valid = 0;
        items[i].ok = !strcmp(st, "success");
        i++;
    }
    cJSON_Delete(doc);
    if (rc) return ROMA_EINVAL;
    *n = i;
    return 0;
}
