/* fuzz_proto.c: libFuzzer target for proto_decode. Arbitrary bytes must never crash the decoder;
 * whatever it accepts must re-encode, decode again, and come back equal (header and body). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

/* Structural equality: same types, same numbers, same strings, same children in the same order with
 * the same keys. (cJSON_Compare looks object members up by key, so it calls two identical objects
 * with a duplicated key different; the codec keeps duplicates and order exactly, as cJSON does.) */
static int s_json_equal(const cJSON *a, const cJSON *b)
{
    if (!a || !b) return !a && !b;
    if ((a->type & 0xff) != (b->type & 0xff)) return 0;
    if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next) {
            if (cJSON_IsObject(a) && strcmp(x->string, y->string)) return 0;
            if (!s_json_equal(x, y)) return 0;
        }
        return !x && !y;
    }
    return 1; /* null, true, false: the type says it all */
}

static int s_same(const roma_msg *a, const roma_msg *b)
{
    if (a->version != b->version || strcmp(a->type, b->type) || strcmp(a->kind, b->kind) ||
        strcmp(a->rid, b->rid) || strcmp(a->cid, b->cid) || a->deadline_ms != b->deadline_ms ||
        a->status != b->status || a->noreply != b->noreply)
        return 0;
    return s_json_equal(a->body, b->body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    roma_msg m, again;
    if (proto_decode(data, size, &m) != 0) {
        if (m.body) abort(); /* a failed decode must leave nothing behind */
        return 0;
    }
    char *buf;
    size_t len;
    if (proto_encode(&m, &buf, &len) != 0) abort(); /* anything decodable must encode */
    if (proto_decode(buf, len, &again) != 0) abort();
    if (!s_same(&m, &again)) abort();
    free(buf);
    proto_msg_clear(&m);
    proto_msg_clear(&again);
    return 0;
}
