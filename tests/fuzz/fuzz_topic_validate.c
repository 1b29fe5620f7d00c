/* fuzz_topic_validate.c: libFuzzer target for the MQS validators (services/api/topic_validate.c) and the
 * multipart field lookup (services/api/multipart.c), which see attacker bytes on the control plane and,
 * before any app is trusted with a topic, on the data plane. The first input byte picks the parser:
 *   0 TopicCreate   1 topic update   2 batch delete   3 ?name= list   4 ACL update   5 ACL batch-add
 *   6 import file   7 ResetMessages body   8 produce   9 ack   10 consume handler
 *   11 multipart: the rest is "<Content-Type>\n<body>", looking up upload_file_name
 * Besides crashes/UB/leaks it checks invariants: accepted values obey their single-field rules (names,
 * ranges, enums), a produce never exceeds 10 messages or 2 MB, a decoded handler re-encodes to a handler
 * that decodes to the same fields, a multipart field lies inside the body, and a rejection carries a
 * message. */
// FUZZ_EXTRA: services/api/topic_validate.c services/api/multipart.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"
#include "topic_validate.h"

static void must(int cond)
{
    if (!cond) abort();
}

static long num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    must(cJSON_IsNumber(v));
    return (long)v->valuedouble;
}

static void check_topic(const cJSON *t, int with_app_id)
{
    must(tv_topic_name_ok(cJSON_GetStringValue(cJSON_GetObjectItem(t, "name"))));
    must(tv_policy_ok(cJSON_GetStringValue(cJSON_GetObjectItem(t, "access_policy"))));
    long p = num(t, "partition"), r = num(t, "replication"), ret = num(t, "retention_time");
    must(p >= 1 && p <= TV_PARTITION_MAX && r >= 1 && r <= TV_REPLICATION_MAX && ret >= 1 && ret <= TV_RETENTION_MAX);
    if (with_app_id) must(cJSON_GetStringValue(cJSON_GetObjectItem(t, "app_id")) != NULL);
}

static void check_array(const cJSON *a, int min, int max)
{
    must(cJSON_IsArray(a));
    int n = cJSON_GetArraySize(a);
    must(n >= min && n <= max);
}

typedef int (*parse_fn)(const char *, size_t, cJSON **, tv_err *);

static cJSON *run(parse_fn fn, const char *s, size_t n)
{
    cJSON *out = NULL;
    tv_err e;
    memset(&e, 0, sizeof e);
    int rc = fn(s, n, &out, &e);
    if (rc != 0) {
        must(out == NULL && e.msg[0] != '\0');
        return NULL;
    }
    must(out != NULL);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int which = data[0] % 12;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char *z = malloc(n + 1); /* NUL-terminated copy for the string-taking functions */
    if (!z) return 0;
    memcpy(z, s, n);
    z[n] = '\0';
    cJSON *o = NULL, *it;
    switch (which) {
    case 0:
        if ((o = run(tv_topic_create, s, n))) check_topic(o, 1);
        break;
    case 1:
        if ((o = run(tv_topic_update, s, n))) {
            check_array(o, 1, TV_BATCH_MAX);
            cJSON_ArrayForEach(it, o) must(cJSON_GetStringValue(cJSON_GetObjectItem(it, "name")) != NULL);
        }
        break;
    case 2:
        if ((o = run(tv_batch_delete, s, n))) check_array(o, 1, TV_BATCH_MAX);
        break;
    case 3: {
        tv_err e;
        if (tv_name_list(z, &o, &e) == 0) {
            check_array(o, 1, TV_BATCH_MAX);
            cJSON_ArrayForEach(it, o) must(it->valuestring[0] != '\0' && !strchr(it->valuestring, ','));
        }
        break;
    }
    case 4:
        if ((o = run(tv_acl_update, s, n))) {
            check_array(o, 1, TV_BATCH_MAX);
            cJSON_ArrayForEach(it, o)
            {
                const cJSON *p;
                cJSON_ArrayForEach(p, cJSON_GetObjectItem(it, "policies"))
                    must(tv_policy_ok(cJSON_GetStringValue(cJSON_GetObjectItem(p, "access_policy"))));
            }
        }
        break;
    case 5:
        if ((o = run(tv_acl_batch_add, s, n))) check_array(o, 1, TV_POLICIES_MAX);
        break;
    case 6:
        if ((o = run(tv_import_doc, s, n))) {
            cJSON_ArrayForEach(it, o)
            {
                check_topic(it, 0);
                must(cJSON_GetStringValue(cJSON_GetObjectItem(it, "app_name")) != NULL);
            }
        }
        break;
    case 7:
        if ((o = run(tv_resend, s, n))) must(num(o, "partition") >= 0 && num(o, "partition") < TV_PARTITION_MAX);
        break;
    case 8: {
        size_t bytes = 0;
        tv_err e;
        if (tv_produce(s, n, &o, &bytes, &e) == 0) {
            check_array(o, 1, TV_PRODUCE_MAX);
            must(bytes <= TV_PRODUCE_BYTES);
            cJSON_ArrayForEach(it, o)
            {
                const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(it, "content"));
                must(c != NULL);
                cJSON *back = cJSON_Parse(c); /* stored content is JSON text */
                must(back != NULL);
                cJSON_Delete(back);
            }
        }
        break;
    }
    case 9: {
        tv_ack_item items[TV_ACK_MAX];
        int cnt = -1;
        tv_err e;
        if (tv_ack(s, n, items, &cnt, &e) == 0) must(cnt >= 1 && cnt <= TV_ACK_MAX);
        break;
    }
    case 10: {
        tv_ack_item a, b;
        char h[TV_HANDLER_MAX + 1];
        if (tv_handler_decode(z, &a) == 0) {
            must(a.valid && a.partition >= 0 && a.partition < TV_PARTITION_MAX && a.gen >= 1 && a.topic_id >= 1);
            must(tv_handler_encode(a.partition, a.offset, a.gen, a.topic_id, h, sizeof h) == 0);
            must(tv_handler_decode(h, &b) == 0 && b.partition == a.partition && b.offset == a.offset &&
                 b.gen == a.gen && b.topic_id == a.topic_id);
        }
        break;
    }
    case 11: {
        char *nl = memchr(z, '\n', n);
        if (nl) {
            *nl = '\0';
            const char *body = nl + 1;
            size_t blen = n - (size_t)(body - z);
            const char *d = NULL;
            size_t dl = 0;
            if (multipart_field(z, body, blen, "upload_file_name", &d, &dl) == 0)
                must(d >= body && d + dl <= body + blen);
        }
        break;
    }
    }
    cJSON_Delete(o);
    free(z);
    return 0;
}
