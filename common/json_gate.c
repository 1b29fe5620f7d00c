/* json_gate.c: the single-pass JSON validator in front of cJSON (see json_gate.h). */
#include "json_gate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int g_max_depth = JSON_GATE_DEFAULT_DEPTH;
static size_t g_max_bytes = JSON_GATE_DEFAULT_BYTES;

void json_gate_set_limits(int max_depth, size_t max_bytes)
{
    if (max_depth < 1) max_depth = 1;
    if (max_depth > JSON_GATE_MAX_DEPTH) max_depth = JSON_GATE_MAX_DEPTH;
    g_max_depth = max_depth;
    if (max_bytes) g_max_bytes = max_bytes;
}

int json_gate_max_depth(void) { return g_max_depth; }

static size_t utf8_seq(const unsigned char *s, size_t n) { return util_utf8_seq(s, n); }

int json_gate_text_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] == 0) return 0;
        size_t k = utf8_seq(p + i, len - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

/* ---- duplicate-key detection ------------------------------------------------------------------------
 * Every decoded key goes into one arena with the id of the object holding it; an open-addressing table
 * of (object id, key) finds repeats in O(1). Entries of closed objects are never removed: ids are unique
 * per call, and the table is bounded by the number of keys in the text (<= len / 3). */
typedef struct key_ent {
    uint32_t obj;
    uint32_t hash;
    size_t off, len; /* into the arena */
} key_ent;

typedef struct gate {
    const unsigned char *s;
    size_t n, i;
    char *arena;
    size_t arena_len, arena_cap;
    key_ent *ents;
    size_t nents, ents_cap;
    int32_t *table; /* index into ents, -1 empty */
    size_t table_cap; /* power of two */
    json_gate_err *err;
} gate;

static int fail(gate *g, json_gate_code code, size_t at, const char *what)
{
    if (g->err) {
        g->err->code = code;
        g->err->offset = at;
        snprintf(g->err->msg, sizeof g->err->msg, "%s at byte %zu.", what, at);
    }
    switch (code) {
    case JSON_GATE_TOO_BIG: return ROMA_ETOOBIG;
    case JSON_GATE_NOMEM: return ROMA_ENOMEM;
    default: return ROMA_EINVAL;
    }
}

static uint32_t fnv1a(uint32_t obj, const char *k, size_t n)
{
    uint32_t h = 2166136261u ^ obj;
    h *= 16777619u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 16777619u;
    }
    return h;
}

static int arena_put(gate *g, const void *b, size_t n)
{
    if (g->arena_len + n > g->arena_cap) {
        size_t cap = g->arena_cap ? g->arena_cap * 2 : 1024;
        while (cap < g->arena_len + n) cap *= 2;
        char *a = realloc(g->arena, cap);
        if (!a) return ROMA_ENOMEM;
        g->arena = a;
        g->arena_cap = cap;
    }
    memcpy(g->arena + g->arena_len, b, n);
    g->arena_len += n;
    return 0;
}

static int table_grow(gate *g)
{
    size_t cap = g->table_cap ? g->table_cap * 2 : 64;
    int32_t *t = malloc(cap * sizeof *t);
    if (!t) return ROMA_ENOMEM;
    for (size_t i = 0; i < cap; i++) t[i] = -1;
    for (size_t e = 0; e < g->nents; e++) {
        size_t h = g->ents[e].hash & (cap - 1);
        while (t[h] >= 0) h = (h + 1) & (cap - 1);
        t[h] = (int32_t)e;
    }
    free(g->table);
    g->table = t;
    g->table_cap = cap;
    return 0;
}

/* Records the key decoded into arena[off..arena_len) for object obj. 1 = duplicate, 0 = new, <0 = error. */
static int key_add(gate *g, uint32_t obj, size_t off)
{
    size_t klen = g->arena_len - off;
    if (g->nents > INT32_MAX - 1) return ROMA_ENOMEM;
    if ((g->nents + 1) * 2 > g->table_cap && table_grow(g) != 0) return ROMA_ENOMEM;
    uint32_t h = fnv1a(obj, g->arena + off, klen);
    size_t slot = h & (g->table_cap - 1);
    for (; g->table[slot] >= 0; slot = (slot + 1) & (g->table_cap - 1)) {
        const key_ent *e = &g->ents[g->table[slot]];
        if (e->obj == obj && e->hash == h && e->len == klen && !memcmp(g->arena + e->off, g->arena + off, klen))
            return 1;
    }
    if (g->nents == g->ents_cap) {
        size_t cap = g->ents_cap ? g->ents_cap * 2 : 32;
        key_ent *n = realloc(g->ents, cap * sizeof *n);
        if (!n) return ROMA_ENOMEM;
        g->ents = n;
        g->ents_cap = cap;
    }
    g->ents[g->nents] = (key_ent){obj, h, off, klen};
    g->table[slot] = (int32_t)g->nents++;
    return 0;
}

/* ---- the scanner ---------------------------------------------------------------------------------- */

static void skip_ws(gate *g)
{
    while (g->i < g->n && (g->s[g->i] == ' ' || g->s[g->i] == '\t' || g->s[g->i] == '\n' || g->s[g->i] == '\r'))
        g->i++;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Scans a string starting at its opening quote. With decode, its unescaped UTF-8 goes to the arena
 * (keys only: values are not copied). */
static int scan_string(gate *g, int decode)
{
    size_t start = g->i++;
    for (;;) {
        if (g->i >= g->n) return fail(g, JSON_GATE_SYNTAX, start, "The JSON text has an unterminated string");
        unsigned c = g->s[g->i];
        if (c == '"') {
            g->i++;
            return 0;
        }
        if (c == 0) return fail(g, JSON_GATE_NUL, g->i, "The JSON text contains a NUL character");
        if (c < 0x20) return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has a control character in a string");
        if (c == '\\') {
            if (g->i + 1 >= g->n) return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has a bad escape");
            unsigned e = g->s[g->i + 1];
            char out[4];
            size_t outn = 1;
            switch (e) {
            case '"': out[0] = '"'; break;
            case '\\': out[0] = '\\'; break;
            case '/': out[0] = '/'; break;
            case 'b': out[0] = '\b'; break;
            case 'f': out[0] = '\f'; break;
            case 'n': out[0] = '\n'; break;
            case 'r': out[0] = '\r'; break;
            case 't': out[0] = '\t'; break;
            case 'u': {
                unsigned cp;
                size_t at = g->i;
                if (g->i + 6 > g->n || hex4(g->s + g->i + 2, &cp) != 0)
                    return fail(g, JSON_GATE_SYNTAX, at, "The JSON text has a bad \\u escape");
                g->i += 4; /* now at the last hex digit - 1; the common +2 below finishes */
                if (cp == 0) return fail(g, JSON_GATE_NUL, at, "The JSON text contains a NUL character");
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return fail(g, JSON_GATE_UTF8, at, "The JSON text has a lone surrogate escape");
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    size_t j = g->i + 2;
                    if (j + 6 > g->n || g->s[j] != '\\' || g->s[j + 1] != 'u' || hex4(g->s + j + 2, &lo) != 0 ||
                        lo < 0xdc00 || lo > 0xdfff)
                        return fail(g, JSON_GATE_UTF8, at, "The JSON text has a lone surrogate escape");
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    g->i += 6;
                }
                if (cp < 0x80) {
                    out[0] = (char)cp;
                } else if (cp < 0x800) {
                    out[0] = (char)(0xc0 | cp >> 6);
                    out[1] = (char)(0x80 | (cp & 0x3f));
                    outn = 2;
                } else if (cp < 0x10000) {
                    out[0] = (char)(0xe0 | cp >> 12);
                    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    out[2] = (char)(0x80 | (cp & 0x3f));
                    outn = 3;
                } else {
                    out[0] = (char)(0xf0 | cp >> 18);
                    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
                    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
                    out[3] = (char)(0x80 | (cp & 0x3f));
                    outn = 4;
                }
                break;
            }
            default: return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has a bad escape");
            }
            g->i += 2;
            if (decode && arena_put(g, out, outn) != 0) return fail(g, JSON_GATE_NOMEM, g->i, "Out of memory");
            continue;
        }
        size_t k = utf8_seq(g->s + g->i, g->n - g->i);
        if (!k) return fail(g, JSON_GATE_UTF8, g->i, "The JSON text is not valid UTF-8");
        if (decode && arena_put(g, g->s + g->i, k) != 0) return fail(g, JSON_GATE_NOMEM, g->i, "Out of memory");
        g->i += k;
    }
}

static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }

/* RFC 8259 number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(gate *g)
{
    size_t start = g->i;
    const unsigned char *s = g->s;
    if (g->i < g->n && s[g->i] == '-') g->i++;
    if (g->i >= g->n || !is_digit(s[g->i])) return fail(g, JSON_GATE_SYNTAX, start, "The JSON text has a bad number");
    if (s[g->i] == '0') g->i++;
    else
        while (g->i < g->n && is_digit(s[g->i])) g->i++;
    if (g->i < g->n && s[g->i] == '.') {
        g->i++;
        if (g->i >= g->n || !is_digit(s[g->i])) return fail(g, JSON_GATE_SYNTAX, start, "The JSON text has a bad number");
        while (g->i < g->n && is_digit(s[g->i])) g->i++;
    }
    if (g->i < g->n && (s[g->i] == 'e' || s[g->i] == 'E')) {
        g->i++;
        if (g->i < g->n && (s[g->i] == '+' || s[g->i] == '-')) g->i++;
        if (g->i >= g->n || !is_digit(s[g->i])) return fail(g, JSON_GATE_SYNTAX, start, "The JSON text has a bad number");
        while (g->i < g->n && is_digit(s[g->i])) g->i++;
    }
    /* cJSON copies a number into a 64-byte buffer and stops there: a longer one would not parse as sent */
    if (g->i - start > 63) return fail(g, JSON_GATE_SYNTAX, start, "The JSON text has a number over 63 characters");
    return 0;
}

static int scan_word(gate *g, const char *w)
{
    size_t l = strlen(w);
    if (g->n - g->i < l || memcmp(g->s + g->i, w, l) != 0)
        return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has an unexpected character");
    g->i += l;
    return 0;
}

/* Fills err->path with the member names (and array indexes) leading to the key decoded at arena[off..]. */
static void dup_path(gate *g, const char *stack, const size_t *koff, const size_t *klen, const uint32_t *idx,
                     int depth, size_t off)
{
    if (!g->err) return;
    char *p = g->err->path;
    size_t cap = sizeof g->err->path, n = 0;
    for (int d = 0; d < depth && n + 1 < cap; d++) {
        int w;
        if (d == depth - 1) {
            w = snprintf(p + n, cap - n, "%s%.*s", n ? "." : "", (int)(g->arena_len - off), g->arena + off);
        } else if (stack[d] == '{') {
            w = snprintf(p + n, cap - n, "%s%.*s", n ? "." : "", (int)klen[d], g->arena + koff[d]);
        } else {
            w = snprintf(p + n, cap - n, "[%u]", (unsigned)idx[d]);
        }
        if (w < 0) break;
        n += (size_t)w < cap - n ? (size_t)w : cap - n - 1;
    }
}

/* The whole text, iteratively: stack[d] is '{' or '[' of each open container, ids[d] its id, and for the
 * error path of a duplicate key koff/klen[d] the current member name of an object, idx[d] the current
 * element of an array. */
static int scan(gate *g, int max_depth)
{
    char stack[JSON_GATE_MAX_DEPTH + 1];
    uint32_t ids[JSON_GATE_MAX_DEPTH + 1], idx[JSON_GATE_MAX_DEPTH + 1];
    size_t koff[JSON_GATE_MAX_DEPTH + 1], klen[JSON_GATE_MAX_DEPTH + 1];
    int depth = 0;
    uint32_t next_id = 0;
    int rc;
    skip_ws(g);
    for (;;) {
        /* expecting a value */
        if (g->i >= g->n) return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text ends early");
        unsigned c = g->s[g->i];
        if (c == '{' || c == '[') {
            if (depth >= max_depth) return fail(g, JSON_GATE_TOO_DEEP, g->i, "The JSON text is nested too deeply");
            stack[depth] = (char)c;
            ids[depth] = next_id++;
            idx[depth] = 0;
            koff[depth] = klen[depth] = 0;
            depth++;
            g->i++;
            skip_ws(g);
            if (g->i < g->n && g->s[g->i] == (c == '{' ? '}' : ']')) {
                g->i++;
                depth--;
                goto after_value;
            }
            if (c == '{') goto expect_key;
            continue;
        }
        if (c == '"') rc = scan_string(g, 0);
        else if (c == '-' || is_digit(c)) rc = scan_number(g);
        else if (c == 't') rc = scan_word(g, "true");
        else if (c == 'f') rc = scan_word(g, "false");
        else if (c == 'n') rc = scan_word(g, "null");
        else if (c == 0) rc = fail(g, JSON_GATE_NUL, g->i, "The JSON text contains a NUL character");
        else rc = fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has an unexpected character");
        if (rc) return rc;
    after_value:
        skip_ws(g);
        if (depth == 0) {
            if (g->i != g->n) {
                if (g->s[g->i] == 0) return fail(g, JSON_GATE_NUL, g->i, "The JSON text contains a NUL character");
                return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has data after the value");
            }
            return 0;
        }
        if (g->i >= g->n) return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text ends early");
        c = g->s[g->i];
        if (c == (stack[depth - 1] == '{' ? '}' : ']')) {
            g->i++;
            depth--;
            goto after_value;
        }
        if (c != ',') return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has an unexpected character");
        g->i++;
        skip_ws(g);
        if (stack[depth - 1] == '[') {
            idx[depth - 1]++;
            continue;
        }
    expect_key:
        if (g->i >= g->n || g->s[g->i] != '"')
            return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has an object member without a string key");
        {
            size_t key_at = g->i, off = g->arena_len;
            if ((rc = scan_string(g, 1)) != 0) return rc;
            int dup = key_add(g, ids[depth - 1], off);
            if (dup < 0) return fail(g, JSON_GATE_NOMEM, key_at, "Out of memory");
            if (dup) {
                dup_path(g, stack, koff, klen, idx, depth, off);
                return fail(g, JSON_GATE_DUP_KEY, key_at, "The JSON text has a duplicate object key");
            }
            koff[depth - 1] = off;
            klen[depth - 1] = g->arena_len - off;
        }
        skip_ws(g);
        if (g->i >= g->n || g->s[g->i] != ':')
            return fail(g, JSON_GATE_SYNTAX, g->i, "The JSON text has an object member without ':'");
        g->i++;
        skip_ws(g);
    }
}

int json_gate_check(const char *buf, size_t len, int max_depth, size_t max_bytes, json_gate_err *err)
{
    gate g;
    memset(&g, 0, sizeof g);
    g.s = (const unsigned char *)buf;
    g.n = len;
    g.err = err;
    if (err) memset(err, 0, sizeof *err);
    if (max_depth <= 0) max_depth = g_max_depth;
    if (max_depth > JSON_GATE_MAX_DEPTH) max_depth = JSON_GATE_MAX_DEPTH;
    if (!max_bytes) max_bytes = g_max_bytes;
    if (!buf) return fail(&g, JSON_GATE_SYNTAX, 0, "The JSON text is empty");
    if (len > max_bytes) return fail(&g, JSON_GATE_TOO_BIG, max_bytes, "The JSON text exceeds the size limit");
    int rc = scan(&g, max_depth);
    free(g.arena);
    free(g.ents);
    free(g.table);
    return rc;
}

cJSON *json_gate_parse(const char *buf, size_t len, json_gate_err *err)
{
    json_gate_err local;
    if (!err) err = &local;
    if (json_gate_check(buf, len, 0, 0, err) != 0) return NULL;
    /* exact length, no NUL required: the gate has already proven there is nothing after the value */
    cJSON *j = cJSON_ParseWithLength(buf, len);
    if (!j) {
        /* the gate accepts a subset of what cJSON parses, so this is an allocation failure */
        err->code = JSON_GATE_NOMEM;
        snprintf(err->msg, sizeof err->msg, "Out of memory while parsing JSON.");
    }
    return j;
}

cJSON *json_gate_parse_str(const char *text, json_gate_err *err)
{
    return json_gate_parse(text, text ? strlen(text) : 0, err);
}
