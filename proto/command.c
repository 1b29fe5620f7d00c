/* command.c: encodes and decodes roma_msg as a versioned msgpack map with a native msgpack body
 * (see command.h for the format and limits). */
#include "command.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

/* ------------------------------------------------------------------------------------------------ */
/* Small helpers                                                                                     */

void proto_msg_init(roma_msg *m)
{
    assert(m);
    memset(m, 0, sizeof *m);
    m->version = PROTO_VERSION;
}

void proto_msg_clear(roma_msg *m)
{
    if (!m) return;
    cJSON_Delete(m->body);
    proto_msg_init(m);
}

int proto_header_ok(const char *s, size_t len, size_t cap)
{
    if (len >= cap) return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x21 || c > 0x7e) return 0;
    }
    return 1;
}

/* Copies a NUL-terminated header string into a fixed buffer after validating it. */
static int s_set_header(char *dst, size_t cap, const char *src)
{
    if (!src) src = "";
    size_t n = strlen(src);
    if (!proto_header_ok(src, n, cap)) return ROMA_EINVAL;
    memcpy(dst, src, n + 1);
    return 0;
}

int proto_msg_set(roma_msg *m, const char *kind, const char *type, const char *rid)
{
    assert(m);
    if (!type || !*type) return ROMA_EINVAL;
    if (s_set_header(m->type, sizeof m->type, type) != 0) return ROMA_EINVAL;
    if (s_set_header(m->kind, sizeof m->kind, kind) != 0) return ROMA_EINVAL;
    if (s_set_header(m->rid, sizeof m->rid, rid) != 0) return ROMA_EINVAL;
    return 0;
}

void proto_reply_init(roma_msg *reply, const roma_msg *req)
{
    assert(reply && req);
    proto_msg_init(reply);
    memcpy(reply->type, PROTO_TYPE_REPLY, sizeof PROTO_TYPE_REPLY);
    memcpy(reply->kind, req->kind, sizeof reply->kind);
    memcpy(reply->rid, req->rid, sizeof reply->rid);
    memcpy(reply->cid, req->cid, sizeof reply->cid);
    reply->deadline_ms = req->deadline_ms;
}

int proto_reply_error(roma_msg *reply, int status, const char *message)
{
    assert(reply);
    reply->status = status;
    cJSON_Delete(reply->body);
    reply->body = NULL;
    if (!message) return 0;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddStringToObject(o, "error", message)) {
        cJSON_Delete(o);
        return ROMA_ENOMEM;
    }
    reply->body = o;
    return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* Structural pre-scan                                                                               */

/* Why a hand-written scan before msgpack_unpack_next: msgpack-c allocates `n * sizeof(msgpack_object)`
 * from its zone as soon as it reads an array or map header, before it knows whether n elements follow.
 * Five bytes announcing 2^32 elements would ask for ~100 GB. The scan walks the bytes without
 * allocating and checks every limit, including that each container's announced element count can fit
 * in the bytes that remain (every element takes at least one byte), so the unpacker that runs next
 * allocates at most O(len) memory. It also rejects bin/ext and non-string map keys. */

typedef struct scan_frame {
    uint64_t left; /* items still to read in this container (2 per map entry) */
    int map;
} scan_frame;

static uint64_t s_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

static int s_scan(const unsigned char *p, size_t len)
{
    scan_frame stack[PROTO_MAX_DEPTH];
    int depth = 0;
    size_t off = 0;
    size_t nodes = 0;

    if (len == 0) return ROMA_EINVAL;
    if (len > PROTO_MAX_BYTES) return ROMA_ETOOBIG;
    /* the envelope must be a map */
    if (!((p[0] >= 0x80 && p[0] <= 0x8f) || p[0] == 0xde || p[0] == 0xdf)) return ROMA_EINVAL;

    for (;;) {
        int is_key = depth > 0 && stack[depth - 1].map && stack[depth - 1].left % 2 == 0;
        if (++nodes > PROTO_MAX_NODES) return ROMA_ETOOBIG;
        if (off >= len) return ROMA_EINVAL;
        unsigned char b = p[off++];
        size_t rest = len - off;
        uint64_t strlen_ = 0, count = 0;
        int is_str = 0, is_container = 0, is_map = 0;
        size_t skip = 0;

        if (b <= 0x7f || b >= 0xe0) {
            skip = 0; /* fixint */
        } else if (b <= 0x8f) {
            is_container = is_map = 1;
            count = b & 0x0f;
        } else if (b <= 0x9f) {
            is_container = 1;
            count = b & 0x0f;
        } else if (b <= 0xbf) {
            is_str = 1;
            strlen_ = b & 0x1f;
        } else {
            switch (b) {
            case 0xc0: case 0xc2: case 0xc3: skip = 0; break;            /* nil, false, true */
            case 0xca: skip = 4; break;                                   /* float32 */
            case 0xcb: skip = 8; break;                                   /* float64 */
            case 0xcc: case 0xd0: skip = 1; break;                        /* (u)int8 */
            case 0xcd: case 0xd1: skip = 2; break;                        /* (u)int16 */
            case 0xce: case 0xd2: skip = 4; break;                        /* (u)int32 */
            case 0xcf: case 0xd3: skip = 8; break;                        /* (u)int64 */
            case 0xd9: case 0xda: case 0xdb: {                            /* str8/16/32 */
                int w = b == 0xd9 ? 1 : b == 0xda ? 2 : 4;
                if (rest < (size_t)w) return ROMA_EINVAL;
                strlen_ = s_be(p + off, w);
                off += (size_t)w;
                rest -= (size_t)w;
                is_str = 1;
                break;
            }
            case 0xdc: case 0xdd: case 0xde: case 0xdf: {                 /* array16/32, map16/32 */
                int w = (b == 0xdc || b == 0xde) ? 2 : 4;
                if (rest < (size_t)w) return ROMA_EINVAL;
                count = s_be(p + off, w);
                off += (size_t)w;
                rest -= (size_t)w;
                is_container = 1;
                is_map = b >= 0xde;
                break;
            }
            default:
                return ROMA_EINVAL; /* 0xc1 never used, bin8/16/32, ext*, fixext* */
            }
        }

        if (is_key && !is_str) return ROMA_EINVAL;
        if (is_str) {
            if (strlen_ > (is_key ? PROTO_MAX_KEY_BYTES : PROTO_MAX_STR_BYTES)) return ROMA_ETOOBIG;
            skip = (size_t)strlen_;
        }
        if (skip > rest) return ROMA_EINVAL; /* truncated */
        off += skip;

        if (is_container) {
            uint64_t items = is_map ? count * 2 : count;
            if (depth >= PROTO_MAX_DEPTH) return ROMA_ETOOBIG;
            if (items > len - off) return ROMA_EINVAL; /* cannot fit: truncated or lying header */
            if (items > 0) {
                stack[depth].left = items;
                stack[depth].map = is_map;
                depth++;
                continue;
            }
        }
        /* a complete value: account it to the enclosing containers, closing those it completes */
        for (;;) {
            if (depth == 0) return off == len ? 0 : ROMA_EINVAL; /* trailing bytes */
            if (--stack[depth - 1].left > 0) break;
            depth--;
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Decoding                                                                                          */

static int s_obj_to_json(const msgpack_object *o, cJSON **out);

/* cJSON strings are NUL-terminated, so an embedded NUL would silently truncate: reject it. */
static int s_str_copy(const msgpack_object_str *s, char *small, size_t small_cap, char **heap, const char **res)
{
    if (s->size && memchr(s->ptr, 0, s->size)) return ROMA_EINVAL;
    char *dst = small;
    *heap = NULL;
    if (s->size >= small_cap) {
        dst = *heap = malloc((size_t)s->size + 1);
        if (!dst) return ROMA_ENOMEM;
    }
    if (s->size) memcpy(dst, s->ptr, s->size);
    dst[s->size] = '\0';
    *res = dst;
    return 0;
}

static int s_obj_to_json(const msgpack_object *o, cJSON **out)
{
    cJSON *j = NULL;
    *out = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL: j = cJSON_CreateNull(); break;
    case MSGPACK_OBJECT_BOOLEAN: j = cJSON_CreateBool(o->via.boolean); break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER: j = cJSON_CreateNumber((double)o->via.u64); break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: j = cJSON_CreateNumber((double)o->via.i64); break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64)) return ROMA_EINVAL;
        j = cJSON_CreateNumber(o->via.f64);
        break;
    case MSGPACK_OBJECT_STR: {
        char small[256], *heap;
        const char *s;
        int rc = s_str_copy(&o->via.str, small, sizeof small, &heap, &s);
        if (rc) return rc;
        j = cJSON_CreateString(s);
        free(heap);
        break;
    }
    case MSGPACK_OBJECT_ARRAY: {
        j = cJSON_CreateArray();
        if (!j) return ROMA_ENOMEM;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            cJSON *c;
            int rc = s_obj_to_json(&o->via.array.ptr[i], &c);
            if (rc) {
                cJSON_Delete(j);
                return rc;
            }
            if (!cJSON_AddItemToArray(j, c)) {
                cJSON_Delete(c);
                cJSON_Delete(j);
                return ROMA_ENOMEM;
            }
        }
        break;
    }
    case MSGPACK_OBJECT_MAP: {
        j = cJSON_CreateObject();
        if (!j) return ROMA_ENOMEM;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            char small[256], *heap;
            const char *key;
            cJSON *c;
            int rc = kv->key.type == MSGPACK_OBJECT_STR ? 0 : ROMA_EINVAL;
            if (!rc) rc = s_str_copy(&kv->key.via.str, small, sizeof small, &heap, &key);
            if (rc) {
                cJSON_Delete(j);
                return rc;
            }
            rc = s_obj_to_json(&kv->val, &c);
            if (!rc && !cJSON_AddItemToObject(j, key, c)) {
                cJSON_Delete(c);
                rc = ROMA_ENOMEM;
            }
            free(heap);
            if (rc) {
                cJSON_Delete(j);
                return rc;
            }
        }
        break;
    }
    default:
        return ROMA_EINVAL; /* bin, ext: rejected by the scan already */
    }
    if (!j) return ROMA_ENOMEM;
    *out = j;
    return 0;
}

static int s_get_int(const msgpack_object *o, int64_t min, int64_t max, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > (uint64_t)INT64_MAX || (int64_t)o->via.u64 > max) return ROMA_EINVAL;
        *out = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        if (o->via.i64 < min || o->via.i64 > max) return ROMA_EINVAL;
        *out = o->via.i64;
    } else {
        return ROMA_EINVAL;
    }
    return 0;
}

static int s_get_header(const msgpack_object *o, char *dst, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR) return ROMA_EINVAL;
    if (!proto_header_ok(o->via.str.ptr, o->via.str.size, cap)) return ROMA_EINVAL;
    if (o->via.str.size) memcpy(dst, o->via.str.ptr, o->via.str.size);
    dst[o->via.str.size] = '\0';
    return 0;
}

static int s_key_is(const msgpack_object_str *k, const char *name)
{
    size_t n = strlen(name);
    return k->size == n && memcmp(k->ptr, name, n) == 0;
}

enum { F_VERSION, F_TYPE, F_KIND, F_RID, F_CID, F_DEADLINE, F_STATUS, F_NOREPLY, F_BODY, F_COUNT };
static const char *const s_field_names[F_COUNT] = {"version", "type", "kind", "rid", "cid",
                                                   "deadline_ms", "status", "noreply", "body"};

static int s_envelope(const msgpack_object *root, roma_msg *out)
{
    unsigned seen = 0;
    if (root->type != MSGPACK_OBJECT_MAP) return ROMA_EINVAL;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object_kv *kv = &root->via.map.ptr[i];
        const msgpack_object *v = &kv->val;
        int f, rc = 0;
        int64_t x;
        if (kv->key.type != MSGPACK_OBJECT_STR) return ROMA_EINVAL;
        for (f = 0; f < F_COUNT; f++)
            if (s_key_is(&kv->key.via.str, s_field_names[f])) break;
        if (f == F_COUNT) continue; /* unknown key: ignored */
        if (seen & (1u << f)) return ROMA_EINVAL;
        seen |= 1u << f;
        switch (f) {
        case F_VERSION:
            rc = s_get_int(v, INT64_MIN, INT64_MAX, &x);
            if (!rc && x != PROTO_VERSION) rc = ROMA_EINVAL;
            break;
        case F_TYPE: rc = s_get_header(v, out->type, sizeof out->type); break;
        case F_KIND: rc = s_get_header(v, out->kind, sizeof out->kind); break;
        case F_RID: rc = s_get_header(v, out->rid, sizeof out->rid); break;
        case F_CID: rc = s_get_header(v, out->cid, sizeof out->cid); break;
        case F_DEADLINE:
            rc = s_get_int(v, 0, INT64_MAX, &x);
            if (!rc) out->deadline_ms = x;
            break;
        case F_STATUS:
            rc = s_get_int(v, INT_MIN, INT_MAX, &x);
            if (!rc) out->status = (int)x;
            break;
        case F_NOREPLY:
            if (v->type != MSGPACK_OBJECT_BOOLEAN) rc = ROMA_EINVAL;
            else out->noreply = v->via.boolean ? 1 : 0;
            break;
        case F_BODY: rc = s_obj_to_json(v, &out->body); break;
        }
        if (rc) return rc;
    }
    if (!(seen & (1u << F_VERSION)) || !(seen & (1u << F_TYPE)) || !out->type[0]) return ROMA_EINVAL;
    out->version = PROTO_VERSION;
    return 0;
}

int proto_decode(const void *data, size_t len, roma_msg *out)
{
    assert(out);
    proto_msg_init(out);
    if (!data) return ROMA_EINVAL;
    int rc = s_scan(data, len);
    if (rc) return rc;

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&u, data, len, &off);
    if (ur == MSGPACK_UNPACK_SUCCESS && off == len) {
        rc = s_envelope(&u.data, out);
    } else {
        rc = ur == MSGPACK_UNPACK_NOMEM_ERROR ? ROMA_ENOMEM : ROMA_EINVAL;
    }
    msgpack_unpacked_destroy(&u);
    if (rc) proto_msg_clear(out);
    return rc;
}

/* ------------------------------------------------------------------------------------------------ */
/* Encoding                                                                                          */

/* Every msgpack_pack_* call returns non-zero only when the sbuffer could not grow. */
#define PK(call)                          \
    do {                                  \
        if ((call) != 0) return ROMA_ENOMEM; \
    } while (0)

static int s_pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    PK(msgpack_pack_str(pk, n));
    PK(msgpack_pack_str_body(pk, s, n));
    return 0;
}

/* depth: nesting level this node would have if it is a container (the envelope is level 1). */
static int s_pack_json(msgpack_packer *pk, const cJSON *j, int depth)
{
    if (cJSON_IsNull(j)) {
        PK(msgpack_pack_nil(pk));
    } else if (cJSON_IsTrue(j)) {
        PK(msgpack_pack_true(pk));
    } else if (cJSON_IsFalse(j)) {
        PK(msgpack_pack_false(pk));
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (!isfinite(d)) return ROMA_EINVAL;
        /* integral values that fit int64 travel as msgpack ints (compact, exact); 2^63 itself does not fit */
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            PK(msgpack_pack_int64(pk, (int64_t)d));
        else
            PK(msgpack_pack_double(pk, d));
    } else if (cJSON_IsString(j)) {
        if (!j->valuestring) return ROMA_EINVAL;
        size_t n = strlen(j->valuestring);
        if (n > PROTO_MAX_STR_BYTES) return ROMA_ETOOBIG;
        return s_pack_str(pk, j->valuestring, n);
    } else if (cJSON_IsArray(j) || cJSON_IsObject(j)) {
        int is_obj = cJSON_IsObject(j);
        size_t n = 0;
        if (depth > PROTO_MAX_DEPTH) return ROMA_ETOOBIG;
        for (const cJSON *c = j->child; c; c = c->next) {
            if (++n > PROTO_MAX_NODES) return ROMA_ETOOBIG;
        }
        if (is_obj) PK(msgpack_pack_map(pk, n));
        else PK(msgpack_pack_array(pk, n));
        for (const cJSON *c = j->child; c; c = c->next) {
            if (is_obj) {
                if (!c->string) return ROMA_EINVAL;
                size_t kn = strlen(c->string);
                if (kn > PROTO_MAX_KEY_BYTES) return ROMA_ETOOBIG;
                int rc = s_pack_str(pk, c->string, kn);
                if (rc) return rc;
            }
            int rc = s_pack_json(pk, c, depth + 1);
            if (rc) return rc;
        }
    } else {
        return ROMA_EINVAL; /* cJSON_Raw, cJSON_Invalid */
    }
    return 0;
}

static int s_pack_header(msgpack_packer *pk, const char *name, const char *value)
{
    int rc = s_pack_str(pk, name, strlen(name));
    return rc ? rc : s_pack_str(pk, value, strlen(value));
}

static int s_check_header(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return proto_header_ok(s, n, cap) ? 0 : ROMA_EINVAL;
}

static int s_encode(const roma_msg *m, msgpack_packer *pk)
{
    size_t n = 2;
    if (m->kind[0]) n++;
    if (m->rid[0]) n++;
    if (m->cid[0]) n++;
    if (m->deadline_ms) n++;
    if (m->status) n++;
    if (m->noreply) n++;
    if (m->body) n++;
    PK(msgpack_pack_map(pk, n));
    int rc = s_pack_str(pk, "version", 7);
    if (rc) return rc;
    PK(msgpack_pack_int(pk, PROTO_VERSION));
    if ((rc = s_pack_header(pk, "type", m->type))) return rc;
    if (m->kind[0] && (rc = s_pack_header(pk, "kind", m->kind))) return rc;
    if (m->rid[0] && (rc = s_pack_header(pk, "rid", m->rid))) return rc;
    if (m->cid[0] && (rc = s_pack_header(pk, "cid", m->cid))) return rc;
    if (m->deadline_ms) {
        if ((rc = s_pack_str(pk, "deadline_ms", 11))) return rc;
        PK(msgpack_pack_int64(pk, m->deadline_ms));
    }
    if (m->status) {
        if ((rc = s_pack_str(pk, "status", 6))) return rc;
        PK(msgpack_pack_int(pk, m->status));
    }
    if (m->noreply) {
        if ((rc = s_pack_str(pk, "noreply", 7))) return rc;
        PK(msgpack_pack_true(pk));
    }
    if (m->body) {
        if ((rc = s_pack_str(pk, "body", 4))) return rc;
        if ((rc = s_pack_json(pk, m->body, 2))) return rc;
    }
    return 0;
}

int proto_encode(const roma_msg *m, char **out, size_t *len)
{
    assert(m && out && len);
    *out = NULL;
    *len = 0;
    if (m->version != PROTO_VERSION || !m->type[0] || m->deadline_ms < 0) return ROMA_EINVAL;
    if (s_check_header(m->type, sizeof m->type) || s_check_header(m->kind, sizeof m->kind) ||
        s_check_header(m->rid, sizeof m->rid) || s_check_header(m->cid, sizeof m->cid))
        return ROMA_EINVAL;

    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = s_encode(m, &pk);
    /* Re-scan what we built: the encoder then enforces exactly the limits the decoder applies
     * (total size, node count), so anything proto_encode returns, proto_decode accepts. */
    if (!rc) rc = s_scan((const unsigned char *)sb.data, sb.size);
    if (rc) {
        msgpack_sbuffer_destroy(&sb);
        return rc;
    }
    *len = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    return 0;
}
