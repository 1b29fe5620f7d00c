/* app_validate.c: field rules of integration apps: body parsing, validation, role normalisation and
 * random key/secret generation (see app_validate.h). Pure: no database, no civetweb. */
#include "app_validate.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/* ---- errors -------------------------------------------------------------------------------------- */

static int verr(app_verr *err, app_verr_kind kind, const char *field, const char *fmt, ...) ROMA_PRINTF(4, 5);

static int verr(app_verr *err, app_verr_kind kind, const char *field, const char *fmt, ...)
{
    if (err) {
        err->kind = kind;
        snprintf(err->field, sizeof err->field, "%s", field ? field : "");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return ROMA_EINVAL;
}

/* ---- body parsing ---------------------------------------------------------------------------------- */

static int is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int body_is_blank(const char *body, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_json_space(body[i])) return 0;
    return 1;
}

/* cJSON stores strings as C strings: a raw NUL byte or a \u0000 escape would silently cut a value short
 * (a name "ab\u0000cd" would be stored as "ab"). Such bodies are refused instead. An escaped backslash
 * ("\\u0000" is the six characters \u0000, legal) is skipped as a pair so it is not mistaken for one. */
static int body_has_nul(const char *body, size_t len)
{
    if (memchr(body, '\0', len)) return 1;
    for (size_t i = 0; i + 1 < len; i++) {
        if (body[i] != '\\') continue;
        if (body[i + 1] == 'u' && i + 5 < len && !memcmp(body + i + 2, "0000", 4)) return 1;
        i++; /* skip the escaped character */
    }
    return 0;
}

/* Parses body as one JSON object. required: an empty (or blank) body is APP_VERR_NOBODY; otherwise it
 * yields *doc = NULL and 0. The caller owns *doc. */
static int parse_object(const char *body, size_t len, int required, cJSON **doc, app_verr *err)
{
    *doc = NULL;
    if (!body || len == 0 || body_is_blank(body, len)) {
        if (required) return verr(err, APP_VERR_NOBODY, "", "The request body is missing.");
        return 0;
    }
    if (body_has_nul(body, len))
        return verr(err, APP_VERR_PARAM, "", "The request body must not contain NUL characters.");
    const char *end = NULL;
    /* require_null_terminated=0 and our own trailing check: cJSON's flag rejects exact-length buffers */
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    if (!j) return verr(err, APP_VERR_PARAM, "", "The request body is not valid JSON.");
    while (end && end < body + len && is_json_space(*end)) end++;
    if (end != body + len) {
        cJSON_Delete(j);
        return verr(err, APP_VERR_PARAM, "", "The request body has data after the JSON value.");
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return verr(err, APP_VERR_PARAM, "", "The request body must be a JSON object.");
    }
    *doc = j;
    return 0;
}

int app_parse_json_object(const char *body, size_t len, cJSON **doc, app_verr *err)
{
    return parse_object(body, len, 1, doc, err);
}

/* Optional string member: absent or null -> *out NULL; a non-string is an error naming the field. */
static int opt_string(const cJSON *obj, const char *field, const char **out, app_verr *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    *out = NULL;
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it must be a string.", field);
    *out = v->valuestring;
    return 0;
}

/* Optional boolean member: absent or null -> *out unchanged. */
static int opt_bool(const cJSON *obj, const char *field, int *out, app_verr *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!v || cJSON_IsNull(v)) return 0;
    if (!cJSON_IsBool(v))
        return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it must be a boolean.", field);
    *out = cJSON_IsTrue(v) ? 1 : 0;
    return 0;
}

/* ---- character classes ------------------------------------------------------------------------------- */

/* Decodes one code point of already-validated UTF-8 and advances *p. */
static unsigned next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned c = s[0];
    int extra = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : 3;
    unsigned cp = extra == 0 ? c : extra == 1 ? (c & 0x1f) : extra == 2 ? (c & 0x0f) : (c & 0x07);
    for (int i = 1; i <= extra; i++) cp = (cp << 6) | (s[i] & 0x3f);
    *p = s + 1 + extra;
    return cp;
}

/* "中文" of the manual: the CJK Unified Ideographs blocks (base, extensions A-F and G) and the
 * compatibility ideographs. Punctuation is not included. */
static int is_cjk(unsigned cp)
{
    return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0xf900 && cp <= 0xfaff) ||
           (cp >= 0x20000 && cp <= 0x2ebef) || (cp >= 0x2f800 && cp <= 0x2fa1f) || (cp >= 0x30000 && cp <= 0x3134f);
}

static int is_alnum_ascii(unsigned cp)
{
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
}

/* Checks the length in code points and that every code point satisfies allowed(); first, when given,
 * must hold for the first one. */
static int check_text(const char *s, const char *field, long min, long max, int (*allowed)(unsigned),
                      int (*first)(unsigned), const char *rule, app_verr *err)
{
    long n = util_utf8_len(s);
    if (n < 0) return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it is not valid UTF-8.", field);
    if (n < min || n > max)
        return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: the length must be %ld to %ld characters.",
                    field, min, max);
    const unsigned char *p = (const unsigned char *)s;
    for (long i = 0; *p; i++) {
        unsigned cp = next_cp(&p);
        if (i == 0 && first && !first(cp))
            return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it must start with %s.", field,
                        "a letter, a Chinese character or a digit");
        if (allowed && !allowed(cp))
            return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: only %s are allowed.", field, rule);
    }
    return 0;
}

static int name_char(unsigned cp)
{
    return is_alnum_ascii(cp) || is_cjk(cp) || cp == '-' || cp == '_' || cp == '.' || cp == ' ' || cp == '(' ||
           cp == ')' || cp == 0xff08 || cp == 0xff09; /* full-width parentheses */
}

static int key_char(unsigned cp) { return is_alnum_ascii(cp) || is_cjk(cp) || cp == '-' || cp == '_' || cp == '@' || cp == '.'; }

static int key_first(unsigned cp) { return is_alnum_ascii(cp) || is_cjk(cp); }

static const char SECRET_SPECIALS[] = "!@#$%+=.-/";

static int secret_char(unsigned cp) { return is_alnum_ascii(cp) || (cp && cp < 0x80 && strchr(SECRET_SPECIALS, (int)cp)); }

int app_check_name(const char *s, const char *field, app_verr *err)
{
    return check_text(s, field, 1, APP_NAME_MAX, name_char, NULL,
                      "Chinese characters, letters, digits, hyphens, underscores, periods, spaces and parentheses",
                      err);
}

int app_check_remark(const char *s, const char *field, app_verr *err)
{
    return check_text(s, field, 0, APP_REMARK_MAX, NULL, NULL, "", err);
}

int app_check_key(const char *s, const char *field, app_verr *err)
{
    return check_text(s, field, APP_KEY_MIN, APP_KEY_MAX, key_char, key_first,
                      "Chinese characters, letters, digits, hyphens, underscores, at signs and periods", err);
}

int app_check_secret(const char *s, const char *field, app_verr *err)
{
    return check_text(s, field, APP_SECRET_MIN, APP_SECRET_MAX, secret_char, NULL,
                      "letters, digits and the characters ! @ # $ % + = . - /", err);
}

/* ---- bodies ------------------------------------------------------------------------------------------ */

int app_check_create_object(const cJSON *o, app_create_req *out, app_verr *err)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(o)) return verr(err, APP_VERR_PARAM, "", "The application must be a JSON object.");
    if (opt_string(o, "name", &out->name, err) || opt_string(o, "remark", &out->remark, err) ||
        opt_string(o, "key", &out->key, err) || opt_string(o, "secret", &out->secret, err) ||
        opt_bool(o, "favorite", &out->favorite, err))
        goto fail;
    if (!out->name) {
        verr(err, APP_VERR_PARAM, "name", "Invalid parameter name: it is required.");
        goto fail;
    }
    if (app_check_name(out->name, "name", err) || (out->remark && app_check_remark(out->remark, "remark", err)) ||
        (out->key && app_check_key(out->key, "key", err)) ||
        (out->secret && app_check_secret(out->secret, "secret", err)))
        goto fail;
    return 0;
fail:
    memset(out, 0, sizeof *out);
    return ROMA_EINVAL;
}

int app_parse_create(const char *body, size_t len, app_create_req *out, app_verr *err)
{
    memset(out, 0, sizeof *out);
    cJSON *doc;
    if (parse_object(body, len, 1, &doc, err) != 0) return ROMA_EINVAL;
    if (app_check_create_object(doc, out, err) != 0) {
        cJSON_Delete(doc);
        return ROMA_EINVAL;
    }
    out->doc = doc;
    return 0;
}

void app_create_req_free(app_create_req *r)
{
    if (!r) return;
    cJSON_Delete(r->doc);
    memset(r, 0, sizeof *r);
}

int app_parse_update(const char *body, size_t len, app_update_req *out, app_verr *err)
{
    memset(out, 0, sizeof *out);
    out->favorite = -1;
    if (parse_object(body, len, 1, &out->doc, err) != 0) return ROMA_EINVAL;
    const cJSON *o = out->doc;
    if (opt_string(o, "name", &out->name, err) || opt_string(o, "remark", &out->remark, err) ||
        opt_bool(o, "favorite", &out->favorite, err))
        goto fail;
    if ((out->name && app_check_name(out->name, "name", err)) ||
        (out->remark && app_check_remark(out->remark, "remark", err)))
        goto fail;
    return 0;
fail:
    app_update_req_free(out);
    out->favorite = -1;
    return ROMA_EINVAL;
}

void app_update_req_free(app_update_req *r)
{
    if (!r) return;
    cJSON_Delete(r->doc);
    r->doc = NULL;
    r->name = r->remark = NULL;
}

int app_parse_secret(const char *body, size_t len, cJSON **doc, const char **secret, app_verr *err)
{
    *secret = NULL;
    if (parse_object(body, len, 0, doc, err) != 0) return ROMA_EINVAL;
    if (!*doc) return 0;
    if (opt_string(*doc, "secret", secret, err) || (*secret && app_check_secret(*secret, "secret", err))) {
        cJSON_Delete(*doc);
        *doc = NULL;
        *secret = NULL;
        return ROMA_EINVAL;
    }
    return 0;
}

int app_parse_members(const char *body, size_t len, app_members_req *out, app_verr *err)
{
    memset(out, 0, sizeof *out);
    cJSON *doc;
    if (parse_object(body, len, 1, &doc, err) != 0) return ROMA_EINVAL;
    const cJSON *users = cJSON_GetObjectItemCaseSensitive(doc, "users");
    if (!users || cJSON_IsNull(users)) {
        cJSON_Delete(doc);
        return verr(err, APP_VERR_PARAM, "users",
                    "Invalid parameter users: it is required (an empty list removes all members).");
    }
    if (app_check_members_array(users, "users", "id", out, err) != 0) {
        cJSON_Delete(doc);
        return ROMA_EINVAL;
    }
    out->doc = doc;
    return 0;
}

int app_check_members_array(const cJSON *users, const char *field_name, const char *id_key, app_members_req *out,
                            app_verr *err)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsArray(users)) {
        verr(err, APP_VERR_PARAM, field_name, "Invalid parameter %s: it must be an array.", field_name);
        goto fail;
    }
    int n = cJSON_GetArraySize(users);
    if (n > APP_MEMBERS_MAX) {
        verr(err, APP_VERR_PARAM, field_name, "Invalid parameter %s: at most %d entries are allowed.", field_name,
             APP_MEMBERS_MAX);
        goto fail;
    }
    if (n > 0) {
        out->users = calloc((size_t)n, sizeof *out->users);
        if (!out->users) {
            verr(err, APP_VERR_PARAM, field_name, "The request is too large to process.");
            goto fail;
        }
    }
    char field[48];
    int i = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, users) {
        snprintf(field, sizeof field, "%.24s[%d]", field_name, i);
        if (!cJSON_IsObject(u)) {
            verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it must be an object.", field);
            goto fail;
        }
        snprintf(field, sizeof field, "%.24s[%d].%.8s", field_name, i, id_key);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(u, id_key);
        if (!cJSON_IsString(id) || !id->valuestring) {
            verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: a user id string is required.", field);
            goto fail;
        }
        long idlen = util_utf8_len(id->valuestring);
        if (idlen < 1 || idlen > APP_USER_ID_MAX) {
            verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: the length must be 1 to %d characters.", field,
                 APP_USER_ID_MAX);
            goto fail;
        }
        for (int k = 0; k < i; k++) {
            if (!strcmp(out->users[k].user_id, id->valuestring)) {
                verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: the user is listed twice.", field);
                goto fail;
            }
        }
        snprintf(field, sizeof field, "%.24s[%d].roles", field_name, i);
        unsigned mask = 0;
        if (app_roles_parse(cJSON_GetObjectItemCaseSensitive(u, "roles"), field, &mask, err) != 0) goto fail;
        out->users[i].user_id = id->valuestring;
        out->users[i].roles = mask;
        out->n = ++i;
    }
    return 0;
fail:
    app_members_req_free(out);
    return ROMA_EINVAL;
}

void app_members_req_free(app_members_req *r)
{
    if (!r) return;
    cJSON_Delete(r->doc);
    free(r->users);
    memset(r, 0, sizeof *r);
}

/* ---- list query ---------------------------------------------------------------------------------------- */

static int parse_query_bool(const char *v, const char *field, int *out, app_verr *err)
{
    if (!v || !*v) return 0;
    if (!strcasecmp(v, "true")) *out = 1;
    else if (!strcasecmp(v, "false")) *out = 0;
    else return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it must be true or false.", field);
    return 0;
}

static int parse_query_long(const char *v, const char *field, long min, long max, long *out, app_verr *err)
{
    if (!v || !*v) return 0;
    long n;
    if (util_parse_long(v, &n) != 0 || n < min || n > max)
        return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it must be an integer from %ld to %ld.", field,
                    min, max);
    *out = n;
    return 0;
}

/* A free-text filter: valid UTF-8 (PostgreSQL refuses anything else) of at most max code points. */
static int parse_query_text(const char *v, const char *field, long max, const char **out, app_verr *err)
{
    *out = NULL;
    if (!v || !*v) return 0;
    long n = util_utf8_len(v);
    if (n < 0 || n > max)
        return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it must be valid text of at most %ld characters.",
                    field, max);
    *out = v;
    return 0;
}

int app_parse_list_filter(const char *offset, const char *limit, const char *favorite, const char *owner,
                          const char *auth_role, const char *name, const char *key, const char *user_name,
                          app_list_filter *f, app_verr *err)
{
    memset(f, 0, sizeof *f);
    f->limit = APP_LIST_LIMIT_DEFAULT;
    f->favorite = f->owner = -1;
    /* offsets travel as int32 in the SDKs */
    if (parse_query_long(offset, "offset", 0, 2147483647L, &f->offset, err) ||
        parse_query_long(limit, "limit", 1, APP_LIST_LIMIT_MAX, &f->limit, err) ||
        parse_query_bool(favorite, "favorite", &f->favorite, err) || parse_query_bool(owner, "owner", &f->owner, err) ||
        parse_query_text(name, "name", APP_NAME_MAX, &f->name, err) ||
        parse_query_text(key, "key", APP_KEY_MAX, &f->key, err) ||
        parse_query_text(user_name, "user_name", APP_USER_NAME_MAX, &f->user_name, err))
        return ROMA_EINVAL;
    if (auth_role && *auth_role) {
        f->auth_role = app_role_bit(auth_role);
        if (!f->auth_role)
            return verr(err, APP_VERR_PARAM, "auth_role",
                        "Invalid parameter auth_role: it must be one of read, access, delete, modify, admin.");
    }
    return 0;
}

/* ---- roles ------------------------------------------------------------------------------------------- */

static const char *const ROLE_WORDS[APP_ROLE_COUNT] = {"read", "access", "delete", "modify", "admin"};

unsigned app_role_bit(const char *word)
{
    for (int i = 0; i < APP_ROLE_COUNT; i++)
        if (!strcmp(word, ROLE_WORDS[i])) return 1u << i;
    return 0;
}

unsigned app_roles_normalize(unsigned mask)
{
    mask &= APP_ROLE_ALL;
    if (mask == APP_ROLE_ADMIN) return APP_ROLE_ALL;
    return mask | APP_ROLE_READ;
}

/* Adds the words of one element ("read" or "read, access") to *mask. 0, or ROMA_EINVAL on an unknown or
 * empty word. */
static int add_role_words(const char *s, unsigned *mask)
{
    char word[16];
    const char *p = s;
    for (;;) {
        while (*p == ' ') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *t = e;
        while (t > p && t[-1] == ' ') t--;
        size_t n = (size_t)(t - p);
        if (n == 0 || n >= sizeof word) return ROMA_EINVAL;
        memcpy(word, p, n);
        word[n] = '\0';
        unsigned bit = app_role_bit(word);
        if (!bit) return ROMA_EINVAL;
        *mask |= bit;
        if (!*e) return 0;
        p = e + 1;
    }
}

int app_roles_parse(const cJSON *arr, const char *field, unsigned *mask, app_verr *err)
{
    *mask = 0;
    if (arr && !cJSON_IsNull(arr)) {
        if (!cJSON_IsArray(arr))
            return verr(err, APP_VERR_PARAM, field, "Invalid parameter %s: it must be an array of role names.", field);
        const cJSON *e;
        cJSON_ArrayForEach(e, arr) {
            if (!cJSON_IsString(e) || !e->valuestring || add_role_words(e->valuestring, mask) != 0)
                return verr(err, APP_VERR_PARAM, field,
                            "Invalid parameter %s: roles must be read, access, delete, modify or admin.", field);
        }
    }
    *mask = app_roles_normalize(*mask);
    return 0;
}

unsigned app_roles_from_csv(const char *csv)
{
    unsigned mask = 0;
    char word[16];
    const char *p = csv ? csv : "";
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n < sizeof word) {
            memcpy(word, p, n);
            word[n] = '\0';
            mask |= app_role_bit(word);
        }
        if (!e) break;
        p = e + 1;
    }
    return mask;
}

void app_roles_to_csv(unsigned mask, char *buf, size_t buflen)
{
    size_t off = 0;
    if (buflen) buf[0] = '\0';
    for (int i = 0; i < APP_ROLE_COUNT; i++) {
        if (!(mask & (1u << i))) continue;
        int w = snprintf(buf + off, buflen > off ? buflen - off : 0, "%s%s", off ? "," : "", ROLE_WORDS[i]);
        if (w < 0 || (size_t)w >= buflen - off) return;
        off += (size_t)w;
    }
}

int app_roles_to_json(unsigned mask, cJSON *arr)
{
    for (int i = 0; i < APP_ROLE_COUNT; i++) {
        if (!(mask & (1u << i))) continue;
        cJSON *s = cJSON_CreateString(ROLE_WORDS[i]);
        if (!s || !cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            return ROMA_ENOMEM;
        }
    }
    return 0;
}

/* ---- generation -------------------------------------------------------------------------------------- */

/* n characters drawn uniformly from alphabet (at most 128 symbols) by rejection sampling. */
static int random_from(const char *alphabet, char *buf, size_t n)
{
    size_t k = strlen(alphabet);
    unsigned limit = 256u - 256u % (unsigned)k; /* bytes >= limit would bias the low symbols */
    unsigned char rnd[64];
    size_t filled = 0;
    while (filled < n) {
        if (util_random_bytes(rnd, sizeof rnd) != 0) return ROMA_EIO;
        for (size_t i = 0; i < sizeof rnd && filled < n; i++)
            if (rnd[i] < limit) buf[filled++] = alphabet[rnd[i] % k];
    }
    buf[n] = '\0';
    memset(rnd, 0, sizeof rnd);
    return 0;
}

#define ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

int app_random_key(char *buf, size_t buflen)
{
    if (buflen < APP_RANDOM_KEY_LEN + 1) return ROMA_EINVAL;
    return random_from(ALNUM, buf, APP_RANDOM_KEY_LEN);
}

int app_random_secret(char *buf, size_t buflen)
{
    if (buflen < APP_RANDOM_SECRET_LEN + 1) return ROMA_EINVAL;
    /* Draw until all four classes appear; with 32 characters over 72 symbols a retry is rare (< 1 in 60). */
    for (;;) {
        if (random_from(ALNUM "!@#$%+=.-/", buf, APP_RANDOM_SECRET_LEN) != 0) return ROMA_EIO;
        int up = 0, lo = 0, dg = 0, sp = 0;
        for (const char *p = buf; *p; p++) {
            if (*p >= 'A' && *p <= 'Z') up = 1;
            else if (*p >= 'a' && *p <= 'z') lo = 1;
            else if (*p >= '0' && *p <= '9') dg = 1;
            else sp = 1;
        }
        if (up && lo && dg && sp) return 0;
    }
}
