/* test_proto.c: unit tests of proto/command.c: round trips of every header field and body type, and
 * rejection (never a crash) of truncated, trailing, wrong-typed, oversized and too-deep input. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "command.h"

static int s_pass, s_fail;

#define CHECK(cond, name)                                                    \
    do {                                                                     \
        if (cond) {                                                          \
            s_pass++;                                                        \
            printf("ok   %s\n", name);                                       \
        } else {                                                             \
            s_fail++;                                                        \
            printf("FAIL %s (%s:%d: %s)\n", name, __FILE__, __LINE__, #cond); \
        }                                                                    \
    } while (0)

/* ------------------------------------------------------------------------------------------------ */
/* helpers                                                                                           */

static int roundtrip(const roma_msg *in, roma_msg *out)
{
    char *buf;
    size_t len;
    int rc = proto_encode(in, &buf, &len);
    if (rc) return rc;
    rc = proto_decode(buf, len, out);
    free(buf);
    return rc;
}

/* Structural equality (children in order, keys compared pairwise): cJSON_Compare looks members up
 * by key, so it calls objects with a duplicated key different, and it calls NULL and NULL different. */
static int same_body(const cJSON *a, const cJSON *b)
{
    if (!a || !b) return !a && !b;
    if ((a->type & 0xff) != (b->type & 0xff)) return 0;
    if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if ((cJSON_IsObject(a) && strcmp(x->string, y->string)) || !same_body(x, y)) return 0;
        return !x && !y;
    }
    return 1;
}

static int decode_sbuf(const msgpack_sbuffer *sb)
{
    roma_msg m;
    int rc = proto_decode(sb->data, sb->size, &m);
    proto_msg_clear(&m);
    return rc;
}

static void pk_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Starts a raw envelope: map of n entries beginning with version 1 and type "t" (2 entries used). */
static void pk_envelope(msgpack_packer *pk, size_t n)
{
    msgpack_pack_map(pk, n);
    pk_str(pk, "version");
    msgpack_pack_int(pk, 1);
    pk_str(pk, "type");
    pk_str(pk, "t");
}

static cJSON *nested_arrays(int levels)
{
    cJSON *root = cJSON_CreateArray(), *cur = root;
    for (int i = 1; i < levels; i++) {
        cJSON *c = cJSON_CreateArray();
        cJSON_AddItemToArray(cur, c);
        cur = c;
    }
    return root;
}

/* ------------------------------------------------------------------------------------------------ */
/* round trips                                                                                       */

static void test_header_roundtrip(void)
{
    roma_msg a, b;
    proto_msg_init(&a);
    CHECK(proto_msg_set(&a, "datasource", "ds.test", "0123456789abcdef0123456789abcdef") == 0, "msg_set ok");
    strcpy(a.cid, "ffffffffffffffffffffffffffffffff");
    a.deadline_ms = INT64_MAX;
    a.status = ROMA_ETIMEDOUT;
    a.noreply = 1;
    int rc = roundtrip(&a, &b);
    CHECK(rc == 0, "header roundtrip decodes");
    CHECK(b.version == PROTO_VERSION, "version kept");
    CHECK(!strcmp(b.type, "ds.test") && !strcmp(b.kind, "datasource"), "type and kind kept");
    CHECK(!strcmp(b.rid, a.rid) && !strcmp(b.cid, a.cid), "rid and cid kept");
    CHECK(b.deadline_ms == INT64_MAX, "deadline INT64_MAX kept");
    CHECK(b.status == ROMA_ETIMEDOUT && b.noreply == 1, "status and noreply kept");
    CHECK(b.body == NULL, "absent body decodes as NULL");
    proto_msg_clear(&b);

    a.status = INT_MIN;
    a.deadline_ms = 0;
    a.noreply = 0;
    rc = roundtrip(&a, &b);
    CHECK(rc == 0 && b.status == INT_MIN && b.deadline_ms == 0 && b.noreply == 0, "status INT_MIN, zero fields");
    proto_msg_clear(&b);

    proto_msg_init(&a);
    strcpy(a.type, "x");
    rc = roundtrip(&a, &b);
    CHECK(rc == 0 && !b.kind[0] && !b.rid[0] && !b.cid[0], "minimal message (type only)");
    proto_msg_clear(&b);

    /* maximum header lengths */
    proto_msg_init(&a);
    memset(a.type, 'T', sizeof a.type - 1);
    memset(a.kind, 'K', sizeof a.kind - 1);
    memset(a.rid, 'R', sizeof a.rid - 1);
    memset(a.cid, 'C', sizeof a.cid - 1);
    rc = roundtrip(&a, &b);
    CHECK(rc == 0 && strlen(b.type) == 47 && strlen(b.kind) == 23 && strlen(b.rid) == 64 && strlen(b.cid) == 32,
          "maximum header lengths");
    proto_msg_clear(&b);
}

static void test_body_roundtrip(void)
{
    const char *json =
        "{\"s\":\"h\\u00e9llo \\u4e16\\u754c\",\"empty\":\"\",\"i\":42,\"neg\":-7,\"big\":9007199254740992,"
        "\"min\":-9223372036854775808,\"d\":-0.5,\"e\":1e300,\"tiny\":5e-324,\"t\":true,\"f\":false,\"n\":null,"
        "\"a\":[1,\"two\",[3,[4,{}]],[]],\"o\":{\"nested\":{\"k\":\"v\"}},\"\":\"empty key\"}";
    roma_msg a, b;
    proto_msg_init(&a);
    CHECK(proto_msg_set(&a, "asset", "job.run", NULL) == 0, "msg_set with NULL rid");
    a.body = cJSON_Parse(json);
    CHECK(a.body != NULL, "test JSON parses");
    int rc = roundtrip(&a, &b);
    CHECK(rc == 0, "object body roundtrip decodes");
    CHECK(cJSON_Compare(a.body, b.body, 1), "object body equal after roundtrip");
    cJSON *big = cJSON_GetObjectItem(b.body, "big");
    CHECK(big && big->valuedouble == 9007199254740992.0, "2^53 exact");
    cJSON *e = cJSON_GetObjectItem(b.body, "e");
    CHECK(e && e->valuedouble == 1e300, "1e300 exact");
    cJSON *s = cJSON_GetObjectItem(b.body, "s");
    CHECK(s && !strcmp(s->valuestring, "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c"), "UTF-8 string bytes kept");
    proto_msg_clear(&a);
    proto_msg_clear(&b);

    proto_msg_init(&a);
    strcpy(a.type, "dup");
    a.body = cJSON_Parse("{\"k\":1,\"k\":[2],\"j\":3}");
    rc = roundtrip(&a, &b);
    CHECK(rc == 0 && same_body(a.body, b.body), "duplicate keys and member order preserved");
    proto_msg_clear(&a);
    proto_msg_clear(&b);

    const char *scalars[] = {"null", "true", "false", "0", "-1", "3.25", "\"str\"", "[]", "{}", "[null,[true]]"};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        char name[64];
        proto_msg_init(&a);
        strcpy(a.type, "reply");
        a.body = cJSON_Parse(scalars[i]);
        rc = roundtrip(&a, &b);
        snprintf(name, sizeof name, "top-level body %s roundtrip", scalars[i]);
        CHECK(rc == 0 && cJSON_Compare(a.body, b.body, 1), name);
        proto_msg_clear(&a);
        proto_msg_clear(&b);
    }

    /* depth: envelope (1) + 31 nested arrays = 32 levels is the maximum */
    proto_msg_init(&a);
    strcpy(a.type, "deep");
    a.body = nested_arrays(PROTO_MAX_DEPTH - 1);
    rc = roundtrip(&a, &b);
    CHECK(rc == 0 && cJSON_Compare(a.body, b.body, 1), "body nested 31 deep (32 with envelope) accepted");
    proto_msg_clear(&a);
    proto_msg_clear(&b);

    /* a large string at the limit */
    proto_msg_init(&a);
    strcpy(a.type, "big");
    char *blob = malloc(PROTO_MAX_STR_BYTES + 2);
    memset(blob, 'x', PROTO_MAX_STR_BYTES);
    blob[PROTO_MAX_STR_BYTES] = '\0';
    a.body = cJSON_CreateString(blob);
    rc = roundtrip(&a, &b);
    CHECK(rc == 0 && b.body && strlen(b.body->valuestring) == PROTO_MAX_STR_BYTES, "8 MiB string accepted");
    proto_msg_clear(&b);
    blob[PROTO_MAX_STR_BYTES] = 'x';
    blob[PROTO_MAX_STR_BYTES + 1] = '\0';
    cJSON_Delete(a.body);
    a.body = cJSON_CreateString(blob);
    char *buf;
    size_t len;
    CHECK(proto_encode(&a, &buf, &len) == ROMA_ETOOBIG && buf == NULL, "encode: 8 MiB + 1 string ETOOBIG");
    proto_msg_clear(&a);
    free(blob);
}

static void test_reply_helpers(void)
{
    roma_msg req, rep, back;
    proto_msg_init(&req);
    CHECK(proto_msg_set(&req, "topic", "topic.create", "rid-1") == 0, "request header");
    strcpy(req.cid, "abc");
    req.deadline_ms = 1234;
    proto_reply_init(&rep, &req);
    CHECK(!strcmp(rep.type, PROTO_TYPE_REPLY) && !strcmp(rep.kind, "topic") && !strcmp(rep.rid, "rid-1") &&
              !strcmp(rep.cid, "abc") && rep.deadline_ms == 1234 && rep.status == 0 && !rep.body,
          "reply_init copies routing fields");
    CHECK(proto_reply_error(&rep, ROMA_EUNAVAIL, "worker lost") == 0, "reply_error ok");
    CHECK(roundtrip(&rep, &back) == 0 && back.status == ROMA_EUNAVAIL &&
              !strcmp(cJSON_GetObjectItem(back.body, "error")->valuestring, "worker lost"),
          "error reply roundtrip");
    proto_msg_clear(&rep);
    proto_msg_clear(&back);
    proto_msg_clear(&back); /* twice is safe */
    CHECK(proto_msg_set(&req, "bad kind", "t", NULL) == ROMA_EINVAL, "msg_set rejects space in kind");
    CHECK(proto_msg_set(&req, "k", "", NULL) == ROMA_EINVAL, "msg_set rejects empty type");
    CHECK(proto_msg_set(&req, "k", "t", "0123456789012345678901234567890123456789012345678901234567890123X") ==
              ROMA_EINVAL,
          "msg_set rejects 65-byte rid");
}

/* ------------------------------------------------------------------------------------------------ */
/* encoder refusals                                                                                  */

static void test_encode_rejects(void)
{
    roma_msg a;
    char *buf = (char *)1;
    size_t len;
    proto_msg_init(&a);
    CHECK(proto_encode(&a, &buf, &len) == ROMA_EINVAL && buf == NULL, "encode: empty type EINVAL");
    strcpy(a.type, "t");
    a.version = 2;
    CHECK(proto_encode(&a, &buf, &len) == ROMA_EINVAL, "encode: version 2 EINVAL");
    a.version = PROTO_VERSION;
    strcpy(a.rid, "has space");
    CHECK(proto_encode(&a, &buf, &len) == ROMA_EINVAL, "encode: space in rid EINVAL");
    a.rid[0] = '\0';
    memset(a.cid, 'c', sizeof a.cid); /* not NUL-terminated */
    CHECK(proto_encode(&a, &buf, &len) == ROMA_EINVAL, "encode: unterminated cid EINVAL");
    a.cid[0] = '\0';
    a.deadline_ms = -1;
    CHECK(proto_encode(&a, &buf, &len) == ROMA_EINVAL, "encode: negative deadline EINVAL");
    a.deadline_ms = 0;

    a.body = cJSON_CreateNumber(NAN);
    CHECK(proto_encode(&a, &buf, &len) == ROMA_EINVAL, "encode: NaN EINVAL");
    cJSON_Delete(a.body);
    a.body = cJSON_CreateArray();
    cJSON_AddItemToArray(a.body, cJSON_CreateNumber(INFINITY));
    CHECK(proto_encode(&a, &buf, &len) == ROMA_EINVAL, "encode: Inf in array EINVAL");
    cJSON_Delete(a.body);
    a.body = cJSON_CreateRaw("{\"x\":1}");
    CHECK(proto_encode(&a, &buf, &len) == ROMA_EINVAL, "encode: cJSON_Raw EINVAL");
    cJSON_Delete(a.body);
    a.body = nested_arrays(PROTO_MAX_DEPTH);
    CHECK(proto_encode(&a, &buf, &len) == ROMA_ETOOBIG, "encode: body nested 32 deep ETOOBIG");
    cJSON_Delete(a.body);
    char key[PROTO_MAX_KEY_BYTES + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    a.body = cJSON_CreateObject();
    cJSON_AddNullToObject(a.body, key);
    CHECK(proto_encode(&a, &buf, &len) == ROMA_ETOOBIG, "encode: 4097-byte key ETOOBIG");
    cJSON_Delete(a.body);
    a.body = cJSON_CreateArray();
    for (unsigned i = 0; i < PROTO_MAX_NODES; i++) cJSON_AddItemToArray(a.body, cJSON_CreateNull());
    CHECK(proto_encode(&a, &buf, &len) == ROMA_ETOOBIG, "encode: more than PROTO_MAX_NODES values ETOOBIG");
    proto_msg_clear(&a);
}

/* ------------------------------------------------------------------------------------------------ */
/* decoder refusals                                                                                  */

static void test_truncation_and_garbage(void)
{
    roma_msg a, b;
    char *buf;
    size_t len;
    proto_msg_init(&a);
    CHECK(proto_msg_set(&a, "asset", "job.run", "r") == 0, "setup");
    strcpy(a.cid, "c");
    a.deadline_ms = 1700000000000;
    a.body = cJSON_Parse("{\"job_id\":\"x\",\"n\":[1,2.5,{\"k\":null}],\"s\":\"0123456789\"}");
    CHECK(proto_encode(&a, &buf, &len) == 0, "encode reference message");
    int all_rejected = 1;
    for (size_t n = 0; n < len; n++) {
        int rc = proto_decode(buf, n, &b);
        if (rc == 0 || b.body) all_rejected = 0;
        proto_msg_clear(&b);
    }
    CHECK(all_rejected, "every strict prefix rejected, body left NULL");
    char *longer = malloc(len + 1);
    memcpy(longer, buf, len);
    longer[len] = (char)0xc0;
    CHECK(proto_decode(longer, len + 1, &b) == ROMA_EINVAL, "trailing byte rejected");
    memcpy(longer, buf, len);
    memcpy(longer + 1, buf, len - 1);
    CHECK(proto_decode(longer, len, &b) != 0, "shifted bytes rejected");
    free(longer);
    CHECK(proto_decode(NULL, 0, &b) == ROMA_EINVAL, "NULL input rejected");
    CHECK(proto_decode("", 0, &b) == ROMA_EINVAL, "empty input rejected");
    CHECK(proto_decode("\xc1", 1, &b) == ROMA_EINVAL, "0xc1 rejected");
    CHECK(proto_decode("{\"version\":1}", 13, &b) == ROMA_EINVAL, "JSON text rejected");

    /* random garbage never crashes and never half-fills */
    unsigned seed = 12345;
    int ok = 1;
    for (int i = 0; i < 20000; i++) {
        unsigned char g[64];
        size_t n = (size_t)(i % 64) + 1;
        for (size_t j = 0; j < n; j++) g[j] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
        if (proto_decode(g, n, &b) != 0 && b.body) ok = 0;
        proto_msg_clear(&b);
    }
    CHECK(ok, "20000 random inputs handled");
    /* random mutations of a valid message */
    ok = 1;
    int accepted = 0;
    for (int i = 0; i < 20000; i++) {
        char *m = malloc(len);
        memcpy(m, buf, len);
        seed = seed * 1103515245u + 12345u;
        m[(seed >> 8) % len] = (char)(seed >> 20);
        int rc = proto_decode(m, len, &b);
        if (rc == 0) {
            accepted++;
            char *re;
            size_t relen;
            roma_msg c;
            if (proto_encode(&b, &re, &relen) != 0) {
                ok = 0;
            } else {
                if (proto_decode(re, relen, &c) != 0 || !same_body(b.body, c.body)) ok = 0;
                free(re);
                proto_msg_clear(&c);
            }
        }
        proto_msg_clear(&b);
        free(m);
    }
    CHECK(ok, "20000 single-byte mutations: accepted ones re-encode identically");
    printf("     (%d of 20000 mutations were still valid messages)\n", accepted);
    free(buf);
    proto_msg_clear(&a);
}

static void test_wrong_types(void)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
#define FRESH() (msgpack_sbuffer_destroy(&sb), msgpack_sbuffer_init(&sb), msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write))
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    pk_envelope(&pk, 2);
    CHECK(decode_sbuf(&sb) == 0, "raw minimal envelope accepted");

    FRESH();
    msgpack_pack_array(&pk, 1);
    msgpack_pack_int(&pk, 1);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "top-level array rejected");

    FRESH();
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "type");
    pk_str(&pk, "t");
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "missing version rejected");

    FRESH();
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, "version");
    msgpack_pack_int(&pk, 1);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "missing type rejected");

    FRESH();
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "version");
    msgpack_pack_int(&pk, 2);
    pk_str(&pk, "type");
    pk_str(&pk, "t");
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "version 2 rejected");

    FRESH();
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "version");
    pk_str(&pk, "1");
    pk_str(&pk, "type");
    pk_str(&pk, "t");
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "version as string rejected");

    FRESH();
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "version");
    msgpack_pack_double(&pk, 1.0);
    pk_str(&pk, "type");
    pk_str(&pk, "t");
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "version as float rejected");

    FRESH();
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "version");
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "type");
    msgpack_pack_int(&pk, 5);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "type as int rejected");

    FRESH();
    msgpack_pack_map(&pk, 2);
    pk_str(&pk, "version");
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "type");
    pk_str(&pk, "");
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "empty type rejected");

    struct {
        const char *key;
        int kind; /* 0 int, 1 str, 2 bool, 3 nil, 4 uint64 max, 5 big negative */
        const char *str;
        long long i;
        const char *name;
    } cases[] = {
        {"noreply", 0, NULL, 1, "noreply as int rejected"},
        {"noreply", 3, NULL, 0, "noreply as nil rejected"},
        {"deadline_ms", 1, "5", 0, "deadline as string rejected"},
        {"deadline_ms", 0, NULL, -5, "negative deadline rejected"},
        {"deadline_ms", 4, NULL, 0, "deadline 2^64-1 rejected"},
        {"status", 0, NULL, (long long)INT_MAX + 1, "status above INT_MAX rejected"},
        {"status", 5, NULL, 0, "status below INT_MIN rejected"},
        {"status", 2, NULL, 1, "status as bool rejected"},
        {"kind", 0, NULL, 3, "kind as int rejected"},
        {"kind", 1, "123456789012345678901234", 0, "24-byte kind rejected"},
        {"rid", 1, "a\nb", 0, "control char in rid rejected"},
        {"cid", 1, "caf\xc3\xa9", 0, "non-ASCII cid rejected"},
        {"type", 1, "dup", 0, "duplicate type key rejected"},
        {"version", 0, NULL, 1, "duplicate version key rejected"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FRESH();
        pk_envelope(&pk, 3);
        pk_str(&pk, cases[i].key);
        switch (cases[i].kind) {
        case 0: msgpack_pack_int64(&pk, cases[i].i); break;
        case 1: pk_str(&pk, cases[i].str); break;
        case 2: msgpack_pack_true(&pk); break;
        case 3: msgpack_pack_nil(&pk); break;
        case 4: msgpack_pack_uint64(&pk, UINT64_MAX); break;
        case 5: msgpack_pack_int64(&pk, (long long)INT_MIN - 1); break;
        }
        CHECK(decode_sbuf(&sb) == ROMA_EINVAL, cases[i].name);
    }

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "future_field");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    pk_str(&pk, "x");
    CHECK(decode_sbuf(&sb) == 0, "unknown key ignored");

    FRESH();
    pk_envelope(&pk, 3);
    msgpack_pack_int(&pk, 7); /* non-string key */
    msgpack_pack_int(&pk, 7);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "integer map key rejected");

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_map(&pk, 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_int(&pk, 1);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "nil key in body map rejected");

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "bin body rejected");

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_ext(&pk, 2, 1);
    msgpack_pack_ext_body(&pk, "ab", 2);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "ext body rejected");

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_str(&pk, 3);
    msgpack_pack_str_body(&pk, "a\0b", 3);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "NUL inside body string rejected");

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_double(&pk, NAN);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "NaN body rejected");

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_float(&pk, -INFINITY);
    CHECK(decode_sbuf(&sb) == ROMA_EINVAL, "-Inf float32 body rejected");

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_float(&pk, 1.5f);
    roma_msg m;
    CHECK(proto_decode(sb.data, sb.size, &m) == 0 && m.body && m.body->valuedouble == 1.5, "float32 body accepted");
    proto_msg_clear(&m);

    FRESH();
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_uint64(&pk, UINT64_MAX);
    CHECK(proto_decode(sb.data, sb.size, &m) == 0 && m.body && m.body->valuedouble > 1.8e19,
          "uint64 max body becomes a double");
    proto_msg_clear(&m);
    msgpack_sbuffer_destroy(&sb);
#undef FRESH
}

static void test_limits(void)
{
    roma_msg m;
    /* container headers announcing far more elements than bytes: rejected before msgpack allocates */
    static const unsigned char huge_array[] = {0x83, 0xa7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01, 0xa4, 't', 'y', 'p',
                                               'e', 0xa1, 't', 0xa4, 'b', 'o', 'd', 'y', 0xdd, 0xff, 0xff, 0xff, 0xff};
    CHECK(proto_decode(huge_array, sizeof huge_array, &m) == ROMA_EINVAL, "array32 of 2^32-1 elements rejected");
    unsigned char huge_map[sizeof huge_array];
    memcpy(huge_map, huge_array, sizeof huge_array);
    huge_map[22] = 0xdf;
    CHECK(proto_decode(huge_map, sizeof huge_map, &m) == ROMA_EINVAL, "map32 of 2^32-1 entries rejected");
    static const unsigned char top_map[] = {0xdf, 0x7f, 0xff, 0xff, 0xff};
    CHECK(proto_decode(top_map, sizeof top_map, &m) == ROMA_EINVAL, "envelope map32 lying about size rejected");
    unsigned char huge_str[sizeof huge_array];
    memcpy(huge_str, huge_array, sizeof huge_array);
    huge_str[22] = 0xdb;
    CHECK(proto_decode(huge_str, sizeof huge_str, &m) == ROMA_ETOOBIG, "str32 of 4 GiB rejected");
    huge_str[23] = 0x00;
    huge_str[24] = 0x00;
    huge_str[25] = 0x10;
    huge_str[26] = 0x00;
    CHECK(proto_decode(huge_str, sizeof huge_str, &m) == ROMA_EINVAL, "str32 longer than the input rejected");

    /* total size */
    size_t big = PROTO_MAX_BYTES + 1;
    unsigned char *p = calloc(1, big);
    p[0] = 0x80;
    CHECK(proto_decode(p, big, &m) == ROMA_ETOOBIG, "16 MiB + 1 input rejected");

    /* too many values: an array of PROTO_MAX_NODES nils */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_array(&pk, PROTO_MAX_NODES);
    for (unsigned i = 0; i < PROTO_MAX_NODES; i++) msgpack_pack_nil(&pk);
    CHECK(decode_sbuf(&sb) == ROMA_ETOOBIG, "more than PROTO_MAX_NODES values rejected");
    msgpack_sbuffer_destroy(&sb);

    /* depth: 32 levels accepted (envelope + 31 arrays), 33 and far deeper rejected */
    const int depths[] = {PROTO_MAX_DEPTH - 1, PROTO_MAX_DEPTH, PROTO_MAX_DEPTH + 40};
    const int expect[] = {0, ROMA_ETOOBIG, ROMA_ETOOBIG};
    const char *names[] = {"raw body arrays 31 deep accepted", "raw body arrays 32 deep (33 levels) rejected",
                           "raw body arrays 72 deep rejected"};
    for (int d = 0; d < 3; d++) {
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pk_envelope(&pk, 3);
        pk_str(&pk, "body");
        for (int i = 0; i < depths[d]; i++) msgpack_pack_array(&pk, i + 1 < depths[d] ? 1 : 0);
        CHECK(decode_sbuf(&sb) == expect[d], names[d]);
        msgpack_sbuffer_destroy(&sb);
    }
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    for (int i = 0; i < PROTO_MAX_DEPTH; i++) {
        int last = i + 1 == PROTO_MAX_DEPTH;
        msgpack_pack_map(&pk, last ? 0 : 1);
        if (!last) pk_str(&pk, "k");
    }
    CHECK(decode_sbuf(&sb) == ROMA_ETOOBIG, "raw body maps 32 deep (33 levels) rejected");
    msgpack_sbuffer_destroy(&sb);

    /* key length */
    char key[PROTO_MAX_KEY_BYTES + 2];
    memset(key, 'k', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_map(&pk, 1);
    pk_str(&pk, key);
    msgpack_pack_nil(&pk);
    CHECK(decode_sbuf(&sb) == ROMA_ETOOBIG, "4097-byte body key rejected");
    msgpack_sbuffer_destroy(&sb);

    /* body string just over 8 MiB inside a valid-size message */
    free(p);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pk_envelope(&pk, 3);
    pk_str(&pk, "body");
    msgpack_pack_str(&pk, PROTO_MAX_STR_BYTES + 1);
    p = calloc(1, PROTO_MAX_STR_BYTES + 1);
    memset(p, 'a', PROTO_MAX_STR_BYTES + 1);
    msgpack_pack_str_body(&pk, p, PROTO_MAX_STR_BYTES + 1);
    CHECK(decode_sbuf(&sb) == ROMA_ETOOBIG, "8 MiB + 1 body string rejected");
    msgpack_sbuffer_destroy(&sb);
    free(p);
}

int main(void)
{
    test_header_roundtrip();
    test_body_roundtrip();
    test_reply_helpers();
    test_encode_rejects();
    test_truncation_and_garbage();
    test_wrong_types();
    test_limits();
    printf("%d passed, %d failed\n", s_pass, s_fail);
    return s_fail ? 1 : 0;
}
