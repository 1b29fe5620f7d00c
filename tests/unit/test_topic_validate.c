/* test_topic_validate.c: unit tests of the pure MQS pieces: services/api/topic_validate.c (field rules of
 * TopicCreate, update, batch delete, ACL bodies, the import file, produce and ack bodies, the consume
 * handler format) and services/api/multipart.c (form field lookup). Prints one line per check and
 * "N passed, N failed". */
#include "services/api/multipart.c"
#include "services/api/topic_validate.c"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int passed, failed;

static void check(const char *name, int ok)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    if (ok) passed++;
    else failed++;
}

static int num(const cJSON *o, const char *k) { return (int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, k)); }
static const char *str(const cJSON *o, const char *k) { return cJSON_GetStringValue(cJSON_GetObjectItem(o, k)); }

/* Runs a body parser and reports whether it accepted; frees the result. */
typedef int (*parse_fn)(const char *, size_t, cJSON **, tv_err *);
static int accepts(parse_fn fn, const char *body)
{
    cJSON *out = NULL;
    tv_err e;
    int rc = fn(body, strlen(body), &out, &e);
    cJSON_Delete(out);
    return rc == 0;
}

static void test_names(void)
{
    check("topic name 3 chars", tv_topic_name_ok("abc"));
    check("topic name 2 chars rejected", !tv_topic_name_ok("ab"));
    char n200[201], n201[202];
    memset(n200, 'a', 200), n200[200] = 0;
    memset(n201, 'a', 201), n201[201] = 0;
    check("topic name 200 chars", tv_topic_name_ok(n200));
    check("topic name 201 chars rejected", !tv_topic_name_ok(n201));
    check("topic name must start with a letter", !tv_topic_name_ok("1abc") && !tv_topic_name_ok("_abc"));
    check("topic name charset", tv_topic_name_ok("a-B_9") && !tv_topic_name_ok("ab.c") && !tv_topic_name_ok("ab c"));
    check("topic name NULL", !tv_topic_name_ok(NULL));
    char g249[250], g250[251];
    memset(g249, 'g', 249), g249[249] = 0;
    memset(g250, 'g', 250), g250[250] = 0;
    check("group 1 and 249 chars", tv_group_name_ok("g") && tv_group_name_ok(g249));
    check("group empty / 250 / charset rejected", !tv_group_name_ok("") && !tv_group_name_ok(g250) &&
                                                       !tv_group_name_ok("a.b") && !tv_group_name_ok("é"));
    check("policies", tv_policy_ok("all") && tv_policy_ok("pub") && tv_policy_ok("sub") && !tv_policy_ok("ALL") &&
                          !tv_policy_ok(""));
}

static void test_parse_int(void)
{
    long v = 0;
    check("int plain", tv_parse_int("42", 0, 100, &v) == 0 && v == 42);
    check("int negative", tv_parse_int("-1", -5, 5, &v) == 0 && v == -1);
    check("int bounds", tv_parse_int("101", 0, 100, &v) != 0 && tv_parse_int("-1", 0, 100, &v) != 0);
    check("int junk", tv_parse_int("", 0, 9, &v) != 0 && tv_parse_int("1.5", 0, 9, &v) != 0 &&
                          tv_parse_int(" 1", 0, 9, &v) != 0 && tv_parse_int("+1", 0, 9, &v) != 0 &&
                          tv_parse_int("-", 0, 9, &v) != 0 && tv_parse_int("99999999999999999999", 0, 9, &v) != 0);
}

static void test_create(void)
{
    cJSON *o = NULL;
    tv_err e;
    const char *min = "{\"name\":\"orders\",\"app_id\":\"a1\",\"access_policy\":\"all\"}";
    int rc = tv_topic_create(min, strlen(min), &o, &e);
    check("create minimal accepted", rc == 0);
    check("create defaults", o && num(o, "partition") == 3 && num(o, "replication") == 3 &&
                                 num(o, "retention_time") == 72 && !strcmp(str(o, "description"), "") &&
                                 cJSON_IsFalse(cJSON_GetObjectItem(o, "sync_message_flush")));
    cJSON_Delete(o);
    const char *full = "{\"name\":\"o1x\",\"app_id\":\"a\",\"access_policy\":\"sub\",\"partition\":50,"
                       "\"replication\":1,\"retention_time\":720,\"sync_replication\":true,\"tag\":\"a&b\","
                       "\"description\":\"d\",\"sensitive_word\":\"s\",\"unknown\":[1]}";
    rc = tv_topic_create(full, strlen(full), &o, &e);
    check("create full accepted, unknown fields dropped",
          rc == 0 && num(o, "partition") == 50 && num(o, "retention_time") == 720 && !cJSON_GetObjectItem(o, "unknown") &&
              cJSON_IsTrue(cJSON_GetObjectItem(o, "sync_replication")));
    cJSON_Delete(o);
    static const char *bad[] = {
        "{\"app_id\":\"a\",\"access_policy\":\"all\"}",
        "{\"name\":\"orders\",\"access_policy\":\"all\"}",
        "{\"name\":\"orders\",\"app_id\":\"a\"}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\",\"partition\":0}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\",\"partition\":51}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\",\"partition\":1.5}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\",\"partition\":\"3\"}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\",\"replication\":4}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\",\"retention_time\":721}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"any\"}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\",\"sync_replication\":1}",
        "{\"name\":\"or\\u0000ders\",\"app_id\":\"a\",\"access_policy\":\"all\"}",
        "{\"name\":\"orders\",\"app_id\":\"a\\n\",\"access_policy\":\"all\"}",
        "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\"} {}",
        "[1]", "", "   ", "{", "null",
    };
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int acc = accepts(tv_topic_create, bad[i]);
        if (acc) printf("     accepted: %s\n", bad[i]);
        all &= !acc;
    }
    check("create rejects every bad body", all);
    rc = tv_topic_create(bad[3], strlen(bad[3]), &o, &e);
    check("create error names the field", rc != 0 && !strcmp(e.field, "partition") && strstr(e.msg, "1 to 50"));
    /* "\\u0000" (an escaped backslash then u0000) is legal text, not a NUL */
    const char *esc = "{\"name\":\"orders\",\"app_id\":\"a\",\"access_policy\":\"all\",\"description\":\"x\\\\u0000\"}";
    check("escaped backslash before u0000 is not a NUL", accepts(tv_topic_create, esc));
}

static void test_update_and_lists(void)
{
    cJSON *o = NULL;
    tv_err e;
    const char *b = "{\"topics\":[{\"name\":\"t1\",\"retention_time\":5},{\"name\":\"t2\",\"description\":\"x\"}]}";
    int rc = tv_topic_update(b, strlen(b), &o, &e);
    cJSON *t2 = cJSON_GetArrayItem(o, 1);
    check("update keeps only present fields", rc == 0 && cJSON_GetArraySize(o) == 2 &&
                                                  num(cJSON_GetArrayItem(o, 0), "retention_time") == 5 &&
                                                  !cJSON_GetObjectItem(t2, "retention_time") &&
                                                  !strcmp(str(t2, "description"), "x"));
    cJSON_Delete(o);
    check("update rejects", !accepts(tv_topic_update, "{\"topics\":[]}") &&
                                !accepts(tv_topic_update, "{\"topics\":[{\"name\":\"t\",\"retention_time\":0}]}") &&
                                !accepts(tv_topic_update, "{\"topics\":[{}]}") && !accepts(tv_topic_update, "{}") &&
                                !accepts(tv_topic_update, "{\"topics\":[1]}"));
    check("batch delete", accepts(tv_batch_delete, "{\"topics\":[\"a\",\"b\"]}") &&
                              !accepts(tv_batch_delete, "{\"topics\":[]}") &&
                              !accepts(tv_batch_delete, "{\"topics\":[\"\"]}") &&
                              !accepts(tv_batch_delete, "{\"topics\":[null]}"));
    rc = tv_name_list("a,b,c", &o, &e);
    check("name list split", rc == 0 && cJSON_GetArraySize(o) == 3 && !strcmp(cJSON_GetArrayItem(o, 2)->valuestring, "c"));
    cJSON_Delete(o);
    check("name list rejects empty items", tv_name_list("a,,b", &o, &e) != 0 && tv_name_list("", &o, &e) != 0 &&
                                               tv_name_list("a,", &o, &e) != 0 && tv_name_list(NULL, &o, &e) != 0);
}

static void test_acl(void)
{
    cJSON *o = NULL;
    tv_err e;
    const char *b = "{\"topics\":[{\"name\":\"t\",\"policies\":[{\"app_id\":\"a\",\"app_name\":\"n\","
                    "\"access_policy\":\"pub\",\"owner\":true}]}]}";
    int rc = tv_acl_update(b, strlen(b), &o, &e);
    cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(o, 0), "policies"), 0);
    check("acl update normalised", rc == 0 && !strcmp(str(p, "app_id"), "a") && cJSON_IsTrue(cJSON_GetObjectItem(p, "owner")));
    cJSON_Delete(o);
    check("acl update empty policy list allowed (revoke all)",
          accepts(tv_acl_update, "{\"topics\":[{\"name\":\"t\",\"policies\":[]}]}"));
    check("acl update rejects", !accepts(tv_acl_update, "{\"topics\":[{\"name\":\"t\"}]}") &&
                                    !accepts(tv_acl_update, "{\"topics\":[{\"name\":\"t\",\"policies\":[{\"app_id\":\"a\"}]}]}"));
    check("batch add", accepts(tv_acl_batch_add, "{\"policies\":[{\"user_name\":\"k\",\"access_policy\":\"all\",\"tag\":\"a_b-1\"}]}"));
    check("batch add tag rule", !accepts(tv_acl_batch_add, "{\"policies\":[{\"user_name\":\"k\",\"access_policy\":\"all\",\"tag\":\"a b\"}]}") &&
                                    !accepts(tv_acl_batch_add, "{\"policies\":[{\"user_name\":\"k\",\"access_policy\":\"all\",\"tag\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}]}"));
    check("batch add needs user_name", !accepts(tv_acl_batch_add, "{\"policies\":[{\"access_policy\":\"all\"}]}"));
}

static void test_import(void)
{
    cJSON *o = NULL;
    tv_err e;
    const char *doc = "{\"format_version\":1,\"topics\":[{\"name\":\"abc\",\"app_name\":\"app\",\"access_policy\":\"all\","
                      "\"partition\":2,\"policies\":[{\"app_name\":\"b\",\"access_policy\":\"sub\"}]}]}";
    int rc = tv_import_doc(doc, strlen(doc), &o, &e);
    cJSON *t = cJSON_GetArrayItem(o, 0);
    check("import doc normalised", rc == 0 && num(t, "partition") == 2 && num(t, "retention_time") == 72 &&
                                       !strcmp(str(t, "app_name"), "app") && !cJSON_GetObjectItem(t, "app_id") &&
                                       cJSON_GetArraySize(cJSON_GetObjectItem(t, "policies")) == 1);
    cJSON_Delete(o);
    check("import doc rejects", !accepts(tv_import_doc, "{\"topics\":[]}") &&
                                    !accepts(tv_import_doc, "{\"format_version\":2,\"topics\":[]}") &&
                                    !accepts(tv_import_doc, "{\"format_version\":1,\"topics\":[{\"name\":\"abc\",\"access_policy\":\"all\"}]}") &&
                                    !accepts(tv_import_doc, "{\"format_version\":1,\"topics\":[{\"name\":\"a\",\"app_name\":\"x\",\"access_policy\":\"all\"}]}"));
    rc = tv_import_doc("{\"format_version\":1,\"topics\":[{\"name\":\"abc\",\"app_name\":\"x\",\"access_policy\":\"all\",\"partition\":99}]}",
                       strlen("{\"format_version\":1,\"topics\":[{\"name\":\"abc\",\"app_name\":\"x\",\"access_policy\":\"all\",\"partition\":99}]}"),
                       &o, &e);
    check("import error names the item", rc != 0 && strstr(e.msg, "topics[0]") != NULL);
}

static void test_produce(void)
{
    cJSON *o = NULL;
    tv_err e;
    size_t bytes = 0;
    const char *b = "{\"messages\":[{\"content\":\"hi\",\"id\":\"1\"},{\"content\":{\"a\": [1, 2]},\"id\":\"2\"}]}";
    int rc = tv_produce(b, strlen(b), &o, &bytes, &e);
    check("produce content as compact JSON text",
          rc == 0 && !strcmp(str(cJSON_GetArrayItem(o, 0), "content"), "\"hi\"") &&
              !strcmp(str(cJSON_GetArrayItem(o, 1), "content"), "{\"a\":[1,2]}") && bytes == 4 + 11);
    cJSON_Delete(o);
    static const char *bad[] = {
        "{\"messages\":[]}", "{\"messages\":[{\"id\":\"1\"}]}", "{\"messages\":[{\"content\":null,\"id\":\"1\"}]}",
        "{\"messages\":[{\"content\":1}]}", "{\"messages\":[{\"content\":1,\"id\":2}]}", "{\"messages\":[1]}",
        "{\"messages\":[{\"content\":\"a\\u0000\",\"id\":\"1\"}]}", "{}",
    };
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n;
        int acc = tv_produce(bad[i], strlen(bad[i]), &o, &n, &e) == 0;
        if (acc) cJSON_Delete(o), printf("     accepted: %s\n", bad[i]);
        all &= !acc;
    }
    check("produce rejects every bad body", all);
    /* 11 messages; and 2 MB + 1 of content */
    char eleven[512] = "{\"messages\":[";
    for (int i = 0; i < 11; i++) strcat(eleven, i ? ",{\"content\":1,\"id\":\"x\"}" : "{\"content\":1,\"id\":\"x\"}");
    strcat(eleven, "]}");
    check("produce rejects 11 messages", tv_produce(eleven, strlen(eleven), &o, &bytes, &e) != 0);
    size_t big = TV_PRODUCE_BYTES + 64;
    char *huge = malloc(big);
    int w = snprintf(huge, big, "{\"messages\":[{\"id\":\"1\",\"content\":\"");
    memset(huge + w, 'x', TV_PRODUCE_BYTES - 1);
    strcpy(huge + w + TV_PRODUCE_BYTES - 1, "\"}]}");
    check("produce rejects more than 2 MB of content", tv_produce(huge, strlen(huge), &o, &bytes, &e) != 0 &&
                                                           !strcmp(e.field, "messages"));
    /* "x...x" with TV_PRODUCE_BYTES - 2 x's is exactly TV_PRODUCE_BYTES bytes of JSON text */
    strcpy(huge + w + TV_PRODUCE_BYTES - 2, "\"}]}");
    rc = tv_produce(huge, strlen(huge), &o, &bytes, &e);
    check("produce accepts exactly 2 MB of content", rc == 0 && bytes == TV_PRODUCE_BYTES);
    cJSON_Delete(o);
    free(huge);
}

static void test_handlers_and_ack(void)
{
    char h[TV_HANDLER_MAX + 1];
    tv_ack_item it;
    check("handler encode", tv_handler_encode(4, 100, 18, 7, h, sizeof h) == 0);
    check("handler shape is base64 of p#o#g#topic", !strcmp(h, "NCMxMDAjMTgjNw=="));
    check("handler roundtrip", tv_handler_decode(h, &it) == 0 && it.valid && it.partition == 4 && it.offset == 100 &&
                                   it.gen == 18 && it.topic_id == 7);
    static const char *bad[] = {"", "!!", "NCMxMDAjMTgjMA==" /* topic 0 */, "NCMxMDAjMTg=" /* 3 fields */,
                                "NTAjMSMxIzE=" /* partition 50 */, "MSMxIzAjMQ==" /* gen 0 */,
                                "LTEjMSMxIzE=" /* -1 */, "MSMxIzEjMSM=" /* trailing # */};
    int all = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int ok = tv_handler_decode(bad[i], &it) == 0;
        if (ok) printf("     accepted handler: %s\n", bad[i]);
        all &= !ok;
    }
    check("handler decode rejects malformed handlers", all);
    check("handler encode refuses a small buffer", tv_handler_encode(1, 1, 1, 1, h, 4) != 0);
    tv_ack_item items[TV_ACK_MAX];
    int n = 0;
    tv_err e;
    char body[256];
    snprintf(body, sizeof body, "{\"messages\":[{\"handler\":\"%s\",\"status\":\"success\"},{\"handler\":\"junk\",\"status\":\"fail\"}]}", h);
    check("ack parses, junk handler is invalid not an error",
          tv_ack(body, strlen(body), items, &n, &e) == 0 && n == 2 && items[0].valid && items[0].ok && !items[1].valid &&
              !items[1].ok);
    check("ack rejects bad status / missing handler / empty",
          tv_ack("{\"messages\":[{\"handler\":\"x\",\"status\":\"ok\"}]}", 44, items, &n, &e) != 0 &&
              tv_ack("{\"messages\":[{\"status\":\"fail\"}]}", 31, items, &n, &e) != 0 &&
              tv_ack("{\"messages\":[]}", 15, items, &n, &e) != 0);
}

static void test_resend(void)
{
    check("resend accepted", accepts(tv_resend, "{\"topic\":\"t\",\"partition\":0,\"message_offset\":5}"));
    check("resend rejects", !accepts(tv_resend, "{\"topic\":\"t\",\"partition\":50,\"message_offset\":5}") &&
                                !accepts(tv_resend, "{\"topic\":\"t\",\"message_offset\":5}") &&
                                !accepts(tv_resend, "{\"topic\":\"t\",\"partition\":0,\"message_offset\":-1}"));
}

static void test_multipart(void)
{
    const char *ct = "multipart/form-data; boundary=XyZ";
    const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nMerge\r\n"
                       "--XyZ\r\nContent-Disposition: form-data; name=\"upload_file_name\"; filename=\"t.json\"\r\n"
                       "Content-Type: application/json\r\n\r\n{\"a\":1}\r\n--XyZ--\r\n";
    const char *d;
    size_t n;
    check("multipart finds the file field",
          multipart_field(ct, body, strlen(body), "upload_file_name", &d, &n) == 0 && n == 7 && !memcmp(d, "{\"a\":1}", 7));
    check("multipart finds a plain field", multipart_field(ct, body, strlen(body), "mode", &d, &n) == 0 && n == 5);
    check("multipart missing field", multipart_field(ct, body, strlen(body), "prefix", &d, &n) == ROMA_ENOTFOUND);
    check("multipart quoted boundary", multipart_field("multipart/form-data; boundary=\"XyZ\"", body, strlen(body),
                                                       "mode", &d, &n) == 0);
    check("multipart not multipart", multipart_field("application/json", body, strlen(body), "mode", &d, &n) == ROMA_EINVAL &&
                                         multipart_field(NULL, body, strlen(body), "mode", &d, &n) == ROMA_EINVAL);
    check("multipart truncated", multipart_field(ct, body, 60, "upload_file_name", &d, &n) == ROMA_EINVAL);
    check("multipart wrong boundary", multipart_field("multipart/form-data; boundary=abc", body, strlen(body), "mode",
                                                      &d, &n) == ROMA_EINVAL);
    const char *pre = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nAddNew\r\n--XyZ--";
    check("multipart with a preamble", multipart_field(ct, pre, strlen(pre), "mode", &d, &n) == 0 && n == 6);
    check("multipart name must match exactly", multipart_field(ct, body, strlen(body), "mod", &d, &n) == ROMA_ENOTFOUND);
}

int main(void)
{
    test_names();
    test_parse_int();
    test_create();
    test_update_and_lists();
    test_acl();
    test_import();
    test_produce();
    test_handlers_and_ack();
    test_resend();
    test_multipart();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
