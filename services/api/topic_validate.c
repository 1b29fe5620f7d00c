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

/* Field getters. `at` is the JSON path of the object holding the field ("" at the top, "topics[2]" in an
 * item): the error names "<at>.<key>" (or "<key>"), built only when the check fails. */
typedef struct fpath {
    char s[96];
} fpath;

static const char *path_of(fpath *p, const char *at, const char *k)
{
    snprintf(p->s, sizeof p->s, "%s%s%s", at, *at ? "." : "", k);
    return p->s;
}

/* Integer field: absent -> def (def < lo means required); present must be an integral number in range. */
static int get_int(const cJSON *o, const char *at, const char *k, long lo, long hi, long def, long *out, tv_err *err)
{
    fpath p;
    const cJSON *v = field(o, k);
    if (absent(v)) {
        if (def < lo) return fail(err, path_of(&p, at, k), "The parameter %s is required.", p.s);
        *out = def;
        return 0;
    }
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1e300;
    if (!cJSON_IsNumber(v) || d != d || d < (double)lo || d > (double)hi || d != (double)(long)d)
        return fail(err, path_of(&p, at, k), "The parameter %s must be an integer from %ld to %ld.", p.s, lo, hi);
    *out = (long)d;
    return 0;
}

/* Boolean field: absent -> def (-1 = keep unset). */
static int get_bool(const cJSON *o, const char *at, const char *k, int def, int *out, tv_err *err)
{
    fpath p;
    const cJSON *v = field(o, k);
    if (absent(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v)) return fail(err, path_of(&p, at, k), "The parameter %s must be true or false.", p.s);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

/* String field of at most max code points, valid UTF-8 without control characters; absent -> NULL
 * (an error when required, and so is "" then). */
static int get_text(const cJSON *o, const char *at, const char *k, int required, long max, const char **out,
                    tv_err *err)
{
    fpath p;
    const cJSON *v = field(o, k);
    *out = NULL;
    if (absent(v)) return required ? fail(err, path_of(&p, at, k), "The parameter %s is required.", p.s) : 0;
    if (!cJSON_IsString(v)) return fail(err, path_of(&p, at, k), "The parameter %s must be a string.", p.s);
    long n = util_utf8_len(v->valuestring);
    if (n < 0) return fail(err, path_of(&p, at, k), "The parameter %s is not valid UTF-8.", p.s);
    if (n > max) return fail(err, path_of(&p, at, k), "The parameter %s must be at most %ld characters.", p.s, max);
    for (const unsigned char *c = (const unsigned char *)v->valuestring; *c; c++)
        if (*c < 0x20 || *c == 0x7f)
            return fail(err, path_of(&p, at, k), "The parameter %s must not contain control characters.", p.s);
    if (required && n == 0) return fail(err, path_of(&p, at, k), "The parameter %s must not be empty.", p.s);
    *out = v->valuestring;
    return 0;
}

/* access_policy: required, all | pub | sub. */
static int get_policy(const cJSON *o, const char *at, const char **out, tv_err *err)
{
    fpath p;
    int rc = get_text(o, at, "access_policy", 1, 3, out, err);
    if (!rc && !tv_policy_ok(*out))
        rc = fail(err, path_of(&p, at, "access_policy"), "The parameter %s must be all, pub or sub.", p.s);
    return rc;
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

/* A new object appended to arr, or NULL (out of memory). */
static cJSON *new_item(cJSON *arr)
{
    cJSON *o = cJSON_CreateObject();
    if (o && !cJSON_AddItemToArray(arr, o)) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

static int oom(tv_err *err)
{
    (void)fail(err, "", "Out of memory.");
    return ROMA_ENOMEM;
}

/* Validates one array item (at its path, e.g. "topics[2]") and appends its normalised form to out.
 * 0, ROMA_EINVAL (err filled) or ROMA_ENOMEM. */
typedef int (*item_fn)(const cJSON *item, const char *at, cJSON *out, void *ctx, tv_err *err);

/* Maps o[k], an array of min..max items, through fn into a new array *out. */
static int map_items(const cJSON *o, const char *at, const char *k, int min, int max, item_fn fn, void *ctx,
                     cJSON **out, tv_err *err)
{
    fpath p;
    *out = NULL;
    const cJSON *v = field(o, k);
    int n = cJSON_GetArraySize(v);
    if (absent(v)) return fail(err, path_of(&p, at, k), "The parameter %s is required.", p.s);
    if (!cJSON_IsArray(v) || n < min || n > max)
        return fail(err, path_of(&p, at, k), "The parameter %s must be an array of %d to %d items.", p.s, min, max);
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return oom(err);
    int i = 0, rc = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        char ip[128];
        snprintf(ip, sizeof ip, "%s%s%s[%d]", at, *at ? "." : "", k, i++);
        if ((rc = fn(it, ip, arr, ctx, err)) != 0) break;
    }
    if (rc) {
        cJSON_Delete(arr);
        return rc == ROMA_ENOMEM ? oom(err) : ROMA_EINVAL;
    }
    *out = arr;
    return 0;
}

/* Parses a body and maps its top-level array k. */
static int parse_items(const char *body, size_t len, const char *k, int min, int max, item_fn fn, void *ctx,
                       cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    int rc = map_items(doc, "", k, min, max, fn, ctx, out, err);
    cJSON_Delete(doc);
    return rc;
}

static int need_object(const cJSON *it, const char *at, tv_err *err)
{
    return cJSON_IsObject(it) ? 0 : fail(err, at, "The parameter %s must be an object.", at);
}

/* ---- TopicCreate ---- */

/* Validates a TopicCreate object into a normalised one (defaults filled). */
static int topic_spec(const cJSON *doc, const char *at, cJSON **out, tv_err *err)
{
    fpath p;
    const char *name, *app_id, *policy, *tag, *desc, *sens;
    long part, repl, ret;
    int flush, sync;
    *out = NULL;
    int rc = get_text(doc, at, "name", 1, TV_NAME_MAX, &name, err);
    if (!rc && !tv_topic_name_ok(name))
        rc = fail(err, path_of(&p, at, "name"),
                  "The parameter %s must be 3 to 200 characters, start with a letter and contain only letters, "
                  "digits, hyphens and underscores.", p.s);
    if (!rc) rc = get_text(doc, at, "app_id", 1, TV_APP_ID_MAX, &app_id, err);
    if (!rc) rc = get_int(doc, at, "partition", 1, TV_PARTITION_MAX, TV_PARTITION_DEFAULT, &part, err);
    if (!rc) rc = get_int(doc, at, "replication", 1, TV_REPLICATION_MAX, TV_REPLICATION_DEFAULT, &repl, err);
    if (!rc) rc = get_policy(doc, at, &policy, err);
    if (!rc) rc = get_bool(doc, at, "sync_message_flush", 0, &flush, err);
    if (!rc) rc = get_bool(doc, at, "sync_replication", 0, &sync, err);
    if (!rc) rc = get_int(doc, at, "retention_time", 1, TV_RETENTION_MAX, TV_RETENTION_DEFAULT, &ret, err);
    if (!rc) rc = get_text(doc, at, "tag", 0, TV_TEXT_MAX, &tag, err);
    if (!rc) rc = get_text(doc, at, "description", 0, TV_DESCRIPTION_MAX, &desc, err);
    if (!rc) rc = get_text(doc, at, "sensitive_word", 0, TV_TEXT_MAX, &sens, err);
    if (rc) return rc;
    cJSON *o = cJSON_CreateObject();
    if (!o || put_str(o, "name", name) || put_str(o, "app_id", app_id) || put_num(o, "partition", part) ||
        put_num(o, "replication", repl) || put_str(o, "access_policy", policy) ||
        put_bool(o, "sync_message_flush", flush) || put_bool(o, "sync_replication", sync) ||
        put_num(o, "retention_time", ret) || put_str(o, "tag", tag ? tag : "") ||
        put_str(o, "description", desc ? desc : "") || put_str(o, "sensitive_word", sens ? sens : "")) {
        cJSON_Delete(o);
        return oom(err);
    }
    *out = o;
    return 0;
}

int tv_topic_create(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    int rc = topic_spec(doc, "", out, err);
    cJSON_Delete(doc);
    return rc;
}

/* ---- topic update ---- */

static int update_item(const cJSON *t, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    (void)ctx;
    const char *name, *desc, *sens;
    long ret = -1;
    int flush, sync;
    int rc = need_object(t, at, err);
    if (!rc) rc = get_text(t, at, "name", 1, TV_NAME_MAX, &name, err);
    if (!rc && !absent(field(t, "retention_time"))) rc = get_int(t, at, "retention_time", 1, TV_RETENTION_MAX, 0, &ret, err);
    if (!rc) rc = get_bool(t, at, "sync_message_flush", -1, &flush, err);
    if (!rc) rc = get_bool(t, at, "sync_replication", -1, &sync, err);
    if (!rc) rc = get_text(t, at, "description", 0, TV_DESCRIPTION_MAX, &desc, err);
    if (!rc) rc = get_text(t, at, "sensitive_word", 0, TV_TEXT_MAX, &sens, err);
    if (rc) return rc;
    cJSON *o = new_item(out);
    if (!o || put_str(o, "name", name) || (ret > 0 && put_num(o, "retention_time", ret)) ||
        put_bool(o, "sync_message_flush", flush) || put_bool(o, "sync_replication", sync) ||
        put_str(o, "description", desc) || put_str(o, "sensitive_word", sens))
        return ROMA_ENOMEM;
    return 0;
}

int tv_topic_update(const char *body, size_t len, cJSON **out, tv_err *err)
{
    return parse_items(body, len, "topics", 1, TV_BATCH_MAX, update_item, NULL, out, err);
}

/* ---- names lists ---- */

static int name_item(const cJSON *t, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    (void)ctx;
    if (!cJSON_IsString(t) || !*t->valuestring || strlen(t->valuestring) > 4 * TV_NAME_MAX)
        return fail(err, at, "The parameter %s must be a topic name.", at);
    cJSON *s = cJSON_CreateString(t->valuestring);
    if (!s || !cJSON_AddItemToArray(out, s)) {
        cJSON_Delete(s);
        return ROMA_ENOMEM;
    }
    return 0;
}

int tv_batch_delete(const char *body, size_t len, cJSON **out, tv_err *err)
{
    return parse_items(body, len, "topics", 1, TV_BATCH_MAX, name_item, NULL, out, err);
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

static int acl_policy_item(const cJSON *pol, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    (void)ctx;
    const char *app, *ap, *tag;
    int owner;
    int rc = need_object(pol, at, err);
    if (!rc) rc = get_text(pol, at, "app_id", 1, TV_APP_ID_MAX, &app, err);
    if (!rc) rc = get_policy(pol, at, &ap, err);
    if (!rc) rc = get_bool(pol, at, "owner", 0, &owner, err);
    if (!rc) rc = get_text(pol, at, "tag", 0, TV_TEXT_MAX, &tag, err);
    if (rc) return rc;
    cJSON *o = new_item(out);
    if (!o || put_str(o, "app_id", app) || put_str(o, "access_policy", ap) || put_bool(o, "owner", owner) ||
        put_str(o, "tag", tag))
        return ROMA_ENOMEM;
    return 0;
}

static int acl_topic_item(const cJSON *t, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    (void)ctx;
    const char *name, *desc, *sens;
    cJSON *pols = NULL;
    int rc = need_object(t, at, err);
    if (!rc) rc = get_text(t, at, "name", 1, TV_NAME_MAX, &name, err);
    if (!rc) rc = get_text(t, at, "description", 0, TV_DESCRIPTION_MAX, &desc, err);
    if (!rc) rc = get_text(t, at, "sensitive_word", 0, TV_TEXT_MAX, &sens, err);
    if (!rc) rc = map_items(t, at, "policies", 0, TV_POLICIES_MAX, acl_policy_item, NULL, &pols, err);
    if (rc) return rc;
    cJSON *o = new_item(out);
    if (!o || !cJSON_AddItemToObject(o, "policies", pols)) {
        cJSON_Delete(pols);
        return ROMA_ENOMEM;
    }
    if (put_str(o, "name", name) || put_str(o, "description", desc) || put_str(o, "sensitive_word", sens))
        return ROMA_ENOMEM;
    return 0;
}

int tv_acl_update(const char *body, size_t len, cJSON **out, tv_err *err)
{
    return parse_items(body, len, "topics", 1, TV_BATCH_MAX, acl_topic_item, NULL, out, err);
}

/* Batch-add tags follow the documented rule: [A-Za-z0-9_-], at most 48. */
static int batch_add_item(const cJSON *pol, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    (void)ctx;
    fpath p;
    const char *key, *name, *ap, *tag;
    int rc = need_object(pol, at, err);
    if (!rc) rc = get_text(pol, at, "user_name", 1, 200, &key, err);
    if (!rc) rc = get_text(pol, at, "app_name", 0, 256, &name, err);
    if (!rc) rc = get_policy(pol, at, &ap, err);
    if (!rc) rc = get_text(pol, at, "tag", 0, TV_POLICY_TAG_MAX, &tag, err);
    if (!rc && tag && *tag && !word_ok(tag, 1, TV_POLICY_TAG_MAX))
        rc = fail(err, path_of(&p, at, "tag"), "The parameter %s may contain only letters, digits, hyphens and underscores.",
                  p.s);
    if (rc) return rc;
    cJSON *o = new_item(out);
    if (!o || put_str(o, "user_name", key) || put_str(o, "app_name", name) || put_str(o, "access_policy", ap) ||
        put_str(o, "tag", tag))
        return ROMA_ENOMEM;
    return 0;
}

int tv_acl_batch_add(const char *body, size_t len, cJSON **out, tv_err *err)
{
    return parse_items(body, len, "policies", 1, TV_POLICIES_MAX, batch_add_item, NULL, out, err);
}

/* ---- import file ---- */

static int import_policy_item(const cJSON *pol, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    (void)ctx;
    const char *pn, *ap, *tag;
    int rc = need_object(pol, at, err);
    if (!rc) rc = get_text(pol, at, "app_name", 1, 256, &pn, err);
    if (!rc) rc = get_policy(pol, at, &ap, err);
    if (!rc) rc = get_text(pol, at, "tag", 0, TV_TEXT_MAX, &tag, err);
    if (rc) return rc;
    cJSON *o = new_item(out);
    if (!o || put_str(o, "app_name", pn) || put_str(o, "access_policy", ap) || put_str(o, "tag", tag))
        return ROMA_ENOMEM;
    return 0;
}

/* An export item is a TopicCreate with app_name instead of app_id, plus policies by app name. */
static int import_topic_item(const cJSON *t, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    (void)ctx;
    const char *app_name;
    cJSON *norm = NULL, *pols = NULL;
    int rc = need_object(t, at, err);
    if (!rc) rc = get_text(t, at, "app_name", 1, 256, &app_name, err);
    cJSON *tc = rc ? NULL : cJSON_Duplicate(t, 1);
    if (!rc && !tc) rc = ROMA_ENOMEM;
    if (!rc) {
        cJSON_DeleteItemFromObjectCaseSensitive(tc, "app_id"); /* a placeholder: apps are matched by name */
        rc = cJSON_AddStringToObject(tc, "app_id", "-") ? topic_spec(tc, at, &norm, err) : ROMA_ENOMEM;
    }
    cJSON_Delete(tc);
    if (!rc && absent(field(t, "policies"))) {
        pols = cJSON_CreateArray();
        if (!pols) rc = ROMA_ENOMEM;
    } else if (!rc) {
        rc = map_items(t, at, "policies", 0, TV_POLICIES_MAX, import_policy_item, NULL, &pols, err);
    }
    if (!rc) {
        cJSON_DeleteItemFromObjectCaseSensitive(norm, "app_id");
        if (put_str(norm, "app_name", app_name) || !cJSON_AddItemToObject(norm, "policies", pols)) {
            cJSON_Delete(pols);
            rc = ROMA_ENOMEM;
        }
    } else {
        cJSON_Delete(pols);
    }
    if (!rc && !cJSON_AddItemToArray(out, norm)) rc = ROMA_ENOMEM;
    if (rc) cJSON_Delete(norm);
    return rc;
}

int tv_import_doc(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    long ver;
    int rc = get_int(doc, "", "format_version", 1, 1, -1, &ver, err);
    if (!rc) rc = map_items(doc, "", "topics", 0, 10000, import_topic_item, NULL, out, err);
    cJSON_Delete(doc);
    return rc;
}

/* ---- ResetMessages ---- */

int tv_resend(const char *body, size_t len, cJSON **out, tv_err *err)
{
    cJSON *doc;
    *out = NULL;
    if (parse_body(body, len, &doc, err)) return ROMA_EINVAL;
    const char *topic, *ck;
    long part, off;
    int rc = get_text(doc, "", "topic", 1, TV_NAME_MAX, &topic, err);
    if (!rc) rc = get_int(doc, "", "partition", 0, TV_PARTITION_MAX - 1, -1, &part, err);
    if (!rc) rc = get_int(doc, "", "message_offset", 0, 9000000000000000L, -1, &off, err);
    if (!rc) rc = get_text(doc, "", "consumer_key", 0, 200, &ck, err);
    cJSON *o = rc ? NULL : cJSON_CreateObject();
    if (!rc && (!o || put_str(o, "topic", topic) || put_num(o, "partition", part) ||
                put_num(o, "message_offset", (double)off) || put_str(o, "consumer_key", ck)))
        rc = oom(err);
    cJSON_Delete(doc);
    if (rc) {
        cJSON_Delete(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* ---- data plane: produce ---- */

static int produce_item(const cJSON *m, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    size_t *bytes = ctx;
    fpath p;
    const char *id;
    int rc = need_object(m, at, err);
    if (!rc && absent(field(m, "content")))
        rc = fail(err, path_of(&p, at, "content"), "The parameter %s is required.", p.s);
    if (!rc) rc = get_text(m, at, "id", 1, TV_MSG_ID_MAX, &id, err);
    if (rc) return rc;
    char *text = cJSON_PrintUnformatted(field(m, "content"));
    if (!text) return ROMA_ENOMEM;
    *bytes += strlen(text);
    cJSON *o = new_item(out);
    rc = !o || put_str(o, "content", text) || put_str(o, "id", id) ? ROMA_ENOMEM : 0;
    cJSON_free(text);
    if (!rc && *bytes > TV_PRODUCE_BYTES)
        rc = fail(err, "messages", "The messages of one request must not exceed %d bytes in total.", TV_PRODUCE_BYTES);
    return rc;
}

int tv_produce(const char *body, size_t len, cJSON **out, size_t *bytes, tv_err *err)
{
    *bytes = 0;
    return parse_items(body, len, "messages", 1, TV_PRODUCE_MAX, produce_item, bytes, out, err);
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

typedef struct ack_ctx {
    tv_ack_item *items;
    int n;
} ack_ctx;

static int ack_item(const cJSON *m, const char *at, cJSON *out, void *ctx, tv_err *err)
{
    (void)out;
    ack_ctx *a = ctx;
    fpath p;
    const char *h, *st;
    int rc = need_object(m, at, err);
    if (!rc) rc = get_text(m, at, "handler", 1, 4096, &h, err);
    if (!rc) rc = get_text(m, at, "status", 1, 7, &st, err);
    if (!rc && strcmp(st, "success") != 0 && strcmp(st, "fail") != 0)
        rc = fail(err, path_of(&p, at, "status"), "The parameter %s must be success or fail.", p.s);
    if (rc) return rc;
    tv_ack_item *it = &a->items[a->n++];
    /* an undecodable handler is not a 400: it is an acknowledgement that fails (ROMA: "handler invalid") */
    if (tv_handler_decode(h, it) != 0) it->valid = 0;
    it->ok = !strcmp(st, "success");
    return 0;
}

int tv_ack(const char *body, size_t len, tv_ack_item items[TV_ACK_MAX], int *n, tv_err *err)
{
    ack_ctx a = {.items = items, .n = 0};
    cJSON *unused;
    *n = 0;
    int rc = parse_items(body, len, "messages", 1, TV_ACK_MAX, ack_item, &a, &unused, err);
    cJSON_Delete(unused);
    if (rc) return rc;
    *n = a.n;
    return 0;
}
