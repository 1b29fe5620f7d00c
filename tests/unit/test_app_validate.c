/* test_app_validate.c: unit tests of services/api/app_validate.c, the app field rules of spec §2: name/key/
 * secret/remark charsets and length boundaries (CJK, full-width parentheses, first-character rule), body
 * parsing (empty, malformed, trailing data, NUL, wrong types, null = absent), role normalisation (§2.4),
 * members bodies, list query parameters, and that generated keys/secrets satisfy the rules.
 * Prints one line per check and "N passed, N failed"; exits non-zero on any failure.
 * The validator has no dependency but cJSON and common/, so it is compiled into this test directly. */
#include "services/api/app_validate.c"

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

/* s repeated n times into a static buffer */
static const char *rep(const char *s, int n)
{
    static char buf[8][4096];
    static int k;
    char *b = buf[k++ % 8];
    b[0] = '\0';
    for (int i = 0; i < n; i++) strcat(b, s);
    return b;
}

static int create_ok(const char *body)
{
    app_create_req r;
    app_verr e;
    int rc = app_parse_create(body, strlen(body), &r, &e);
    if (rc == 0) app_create_req_free(&r);
    return rc == 0;
}

static app_verr create_err(const char *body)
{
    app_create_req r;
    app_verr e;
    memset(&e, 0, sizeof e);
    if (app_parse_create(body, strlen(body), &r, &e) == 0) {
        app_create_req_free(&r);
        snprintf(e.field, sizeof e.field, "<accepted>");
    }
    return e;
}

static void test_name(void)
{
    app_verr e;
    check("name: one letter", app_check_name("a", "name", &e) == 0);
    check("name: empty rejected", app_check_name("", "name", &e) != 0 && !strcmp(e.field, "name"));
    check("name: 256 chars", app_check_name(rep("a", 256), "name", &e) == 0);
    check("name: 257 chars rejected", app_check_name(rep("a", 257), "name", &e) != 0);
    check("name: 256 CJK chars (768 bytes)", app_check_name(rep("应", 256), "name", &e) == 0);
    check("name: 257 CJK chars rejected", app_check_name(rep("应", 257), "name", &e) != 0);
    check("name: all allowed ASCII", app_check_name("Ab-9_x. (y)", "name", &e) == 0);
    check("name: full-width parentheses", app_check_name("应用（测试）", "name", &e) == 0);
    check("name: CJK extension B", app_check_name("\xf0\xa0\x80\x80", "name", &e) == 0);
    check("name: @ rejected", app_check_name("a@b", "name", &e) != 0);
    check("name: slash rejected", app_check_name("a/b", "name", &e) != 0);
    check("name: CJK punctuation rejected", app_check_name("应用。", "name", &e) != 0);
    check("name: full-width letter rejected", app_check_name("\xef\xbc\xa1", "name", &e) != 0);
    check("name: tab rejected", app_check_name("a\tb", "name", &e) != 0);
    check("name: invalid UTF-8 rejected", app_check_name("a\xff", "name", &e) != 0);
    check("name: overlong UTF-8 rejected", app_check_name("\xc0\xaf", "name", &e) != 0);
    check("name: error message names field", app_check_name("a@b", "name", &e) != 0 && strstr(e.msg, "name"));
}

static void test_key_secret_remark(void)
{
    app_verr e;
    check("key: 3 chars", app_check_key("abc", "key", &e) == 0);
    check("key: 2 chars rejected", app_check_key("ab", "key", &e) != 0);
    check("key: 200 chars", app_check_key(rep("k", 200), "key", &e) == 0);
    check("key: 201 chars rejected", app_check_key(rep("k", 201), "key", &e) != 0);
    check("key: specials inside", app_check_key("a-b_c@d.e", "key", &e) == 0);
    check("key: starts with digit", app_check_key("9ab", "key", &e) == 0);
    check("key: starts with CJK", app_check_key("键ab", "key", &e) == 0);
    check("key: starts with - rejected", app_check_key("-ab", "key", &e) != 0);
    check("key: starts with @ rejected", app_check_key("@ab", "key", &e) != 0);
    check("key: starts with . rejected", app_check_key(".ab", "key", &e) != 0);
    check("key: space rejected", app_check_key("a b", "key", &e) != 0);
    check("key: parenthesis rejected", app_check_key("a(b)", "key", &e) != 0);
    check("secret: 8 chars", app_check_secret("Aa1!Aa1!", "secret", &e) == 0);
    check("secret: 7 chars rejected", app_check_secret("Aa1!Aa1", "secret", &e) != 0);
    check("secret: 128 chars", app_check_secret(rep("a", 128), "secret", &e) == 0);
    check("secret: 129 chars rejected", app_check_secret(rep("a", 129), "secret", &e) != 0);
    check("secret: every special", app_check_secret("!@#$%+=.-/", "secret", &e) == 0);
    check("secret: complexity not enforced", app_check_secret("aaaaaaaa", "secret", &e) == 0);
    check("secret: underscore rejected", app_check_secret("aaaa_aaaa", "secret", &e) != 0);
    check("secret: space rejected", app_check_secret("aaaa aaaa", "secret", &e) != 0);
    check("secret: CJK rejected", app_check_secret("aaaa密aaaa", "secret", &e) != 0);
    check("secret: error does not echo value",
          app_check_secret("TopSecret_value", "secret", &e) != 0 && !strstr(e.msg, "TopSecret"));
    check("remark: empty", app_check_remark("", "remark", &e) == 0);
    check("remark: 255 CJK chars", app_check_remark(rep("备", 255), "remark", &e) == 0);
    check("remark: 256 chars rejected", app_check_remark(rep("r", 256), "remark", &e) != 0);
    check("remark: free text", app_check_remark("any text: <>&\"'\n", "remark", &e) == 0);
    check("remark: invalid UTF-8 rejected", app_check_remark("\xe4\xb8", "remark", &e) != 0);
}

static void test_create_body(void)
{
    app_verr e;
    app_create_req r;
    const char *b = "{\"name\":\"n1\",\"remark\":\"r\",\"key\":\"k12\",\"secret\":\"Secret-123\",\"favorite\":true,\"x\":1}";
    check("create: full body", app_parse_create(b, strlen(b), &r, &e) == 0 && !strcmp(r.name, "n1") &&
                                   !strcmp(r.key, "k12") && !strcmp(r.secret, "Secret-123") && r.favorite == 1);
    app_create_req_free(&r);
    b = "{\"name\":\"n1\",\"secret\":null,\"key\":null,\"remark\":null,\"favorite\":null}";
    check("create: nulls mean absent", app_parse_create(b, strlen(b), &r, &e) == 0 && !r.secret && !r.key &&
                                           !r.remark && r.favorite == 0);
    app_create_req_free(&r);
    check("create: empty body -> NOBODY", app_parse_create("", 0, &r, &e) != 0 && e.kind == APP_VERR_NOBODY);
    check("create: blank body -> NOBODY", app_parse_create(" \n", 2, &r, &e) != 0 && e.kind == APP_VERR_NOBODY);
    check("create: NULL body -> NOBODY", app_parse_create(NULL, 0, &r, &e) != 0 && e.kind == APP_VERR_NOBODY);
    e = create_err("{");
    check("create: malformed JSON -> PARAM", e.kind == APP_VERR_PARAM && e.field[0] == '\0');
    e = create_err("{\"name\":\"a\"} x");
    check("create: trailing garbage rejected", e.kind == APP_VERR_PARAM && strcmp(e.field, "<accepted>"));
    check("create: trailing whitespace ok", create_ok("{\"name\":\"a\"}  \r\n"));
    e = create_err("[1]");
    check("create: array body rejected", strcmp(e.field, "<accepted>") != 0);
    e = create_err("null");
    check("create: null body rejected", strcmp(e.field, "<accepted>") != 0);
    e = create_err("{}");
    check("create: name required", !strcmp(e.field, "name"));
    e = create_err("{\"name\":null}");
    check("create: name null = missing", !strcmp(e.field, "name"));
    e = create_err("{\"name\":5}");
    check("create: name number rejected", !strcmp(e.field, "name"));
    e = create_err("{\"name\":\"a\",\"favorite\":\"true\"}");
    check("create: favorite string rejected", !strcmp(e.field, "favorite"));
    e = create_err("{\"name\":\"a\",\"remark\":[]}");
    check("create: remark array rejected", !strcmp(e.field, "remark"));
    e = create_err("{\"name\":\"a\",\"key\":\"ab\"}");
    check("create: short key rejected", !strcmp(e.field, "key"));
    e = create_err("{\"name\":\"a\",\"secret\":\"short\"}");
    check("create: short secret rejected", !strcmp(e.field, "secret"));
    e = create_err("{\"name\":\"a\\u0000b\"}");
    check("create: \\u0000 rejected", e.kind == APP_VERR_PARAM && strcmp(e.field, "<accepted>"));
    check("create: escaped backslash before u0000 ok", create_ok("{\"name\":\"a\",\"remark\":\"\\\\u0000\"}"));
    char nulbody[] = "{\"name\":\"a\0b\"}";
    check("create: raw NUL byte rejected", app_parse_create(nulbody, sizeof nulbody - 1, &r, &e) != 0);
    check("create: CJK escaped name", create_ok("{\"name\":\"\\u5e94\\u7528\"}"));
    check("create: lone surrogate rejected", !create_ok("{\"name\":\"\\ud800\"}"));
}

static void test_update_secret_body(void)
{
    app_verr e;
    app_update_req u;
    const char *b = "{}";
    check("update: empty object", app_parse_update(b, 2, &u, &e) == 0 && !u.name && !u.remark && u.favorite == -1);
    app_update_req_free(&u);
    b = "{\"favorite\":false}";
    check("update: favorite false", app_parse_update(b, strlen(b), &u, &e) == 0 && u.favorite == 0);
    app_update_req_free(&u);
    b = "{\"name\":\"x y\",\"remark\":\"\"}";
    check("update: name+empty remark", app_parse_update(b, strlen(b), &u, &e) == 0 && !strcmp(u.name, "x y") &&
                                           u.remark && !*u.remark);
    app_update_req_free(&u);
    check("update: empty body -> NOBODY", app_parse_update("", 0, &u, &e) != 0 && e.kind == APP_VERR_NOBODY);
    b = "{\"name\":\"\"}";
    check("update: empty name rejected", app_parse_update(b, strlen(b), &u, &e) != 0 && !strcmp(e.field, "name"));
    b = "{\"favorite\":1}";
    check("update: favorite number rejected", app_parse_update(b, strlen(b), &u, &e) != 0 && !strcmp(e.field, "favorite"));

    cJSON *doc;
    const char *s;
    check("secret: empty body -> random", app_parse_secret("", 0, &doc, &s, &e) == 0 && !s && !doc);
    check("secret: {} -> random", app_parse_secret("{}", 2, &doc, &s, &e) == 0 && !s);
    cJSON_Delete(doc);
    b = "{\"secret\":null}";
    check("secret: null -> random", app_parse_secret(b, strlen(b), &doc, &s, &e) == 0 && !s);
    cJSON_Delete(doc);
    b = "{\"secret\":\"Abcdef1!\"}";
    check("secret: given", app_parse_secret(b, strlen(b), &doc, &s, &e) == 0 && s && !strcmp(s, "Abcdef1!"));
    cJSON_Delete(doc);
    b = "{\"secret\":\"bad secret\"}";
    check("secret: bad charset", app_parse_secret(b, strlen(b), &doc, &s, &e) != 0 && !strcmp(e.field, "secret") && !doc);
    b = "{\"secret\":12345678}";
    check("secret: number rejected", app_parse_secret(b, strlen(b), &doc, &s, &e) != 0 && !strcmp(e.field, "secret"));
    check("secret: malformed JSON", app_parse_secret("{\"secret\"", 9, &doc, &s, &e) != 0);
}

static void test_roles(void)
{
    char csv[64];
    check("roles: admin alone -> all", app_roles_normalize(APP_ROLE_ADMIN) == APP_ROLE_ALL);
    check("roles: none -> read", app_roles_normalize(0) == APP_ROLE_READ);
    check("roles: access -> read+access", app_roles_normalize(APP_ROLE_ACCESS) == (APP_ROLE_READ | APP_ROLE_ACCESS));
    check("roles: admin+access -> read added only",
          app_roles_normalize(APP_ROLE_ADMIN | APP_ROLE_ACCESS) == (APP_ROLE_ADMIN | APP_ROLE_ACCESS | APP_ROLE_READ));
    app_roles_to_csv(APP_ROLE_ALL, csv, sizeof csv);
    check("roles: csv order", !strcmp(csv, "read,access,delete,modify,admin"));
    check("roles: csv round trip", app_roles_from_csv("read,modify") == (APP_ROLE_READ | APP_ROLE_MODIFY));
    check("roles: role_bit unknown", app_role_bit("Read") == 0 && app_role_bit("") == 0);

    app_verr e;
    unsigned m;
    cJSON *a = cJSON_Parse("[\"modify\",\"delete\"]");
    check("roles: parse adds read", app_roles_parse(a, "roles", &m, &e) == 0 &&
                                        m == (APP_ROLE_READ | APP_ROLE_MODIFY | APP_ROLE_DELETE));
    cJSON_Delete(a);
    a = cJSON_Parse("[\"admin\"]");
    check("roles: parse admin alone", app_roles_parse(a, "roles", &m, &e) == 0 && m == APP_ROLE_ALL);
    cJSON_Delete(a);
    a = cJSON_Parse("[\"read, access, delete, modify, admin\"]");
    check("roles: manual's comma-joined form", app_roles_parse(a, "roles", &m, &e) == 0 && m == APP_ROLE_ALL);
    cJSON_Delete(a);
    a = cJSON_Parse("[]");
    check("roles: empty -> read", app_roles_parse(a, "roles", &m, &e) == 0 && m == APP_ROLE_READ);
    cJSON_Delete(a);
    check("roles: absent -> read", app_roles_parse(NULL, "roles", &m, &e) == 0 && m == APP_ROLE_READ);
    a = cJSON_Parse("[\"owner\"]");
    check("roles: unknown rejected", app_roles_parse(a, "roles", &m, &e) != 0 && !strcmp(e.field, "roles"));
    cJSON_Delete(a);
    a = cJSON_Parse("[\"read,,admin\"]");
    check("roles: empty word rejected", app_roles_parse(a, "roles", &m, &e) != 0);
    cJSON_Delete(a);
    a = cJSON_Parse("[1]");
    check("roles: number rejected", app_roles_parse(a, "roles", &m, &e) != 0);
    cJSON_Delete(a);
    a = cJSON_Parse("\"read\"");
    check("roles: string instead of array rejected", app_roles_parse(a, "roles", &m, &e) != 0);
    cJSON_Delete(a);
    cJSON *arr = cJSON_CreateArray();
    check("roles: to_json order", app_roles_to_json(APP_ROLE_ADMIN | APP_ROLE_READ, arr) == 0 &&
                                      cJSON_GetArraySize(arr) == 2 &&
                                      !strcmp(cJSON_GetArrayItem(arr, 0)->valuestring, "read") &&
                                      !strcmp(cJSON_GetArrayItem(arr, 1)->valuestring, "admin"));
    cJSON_Delete(arr);
}

static void test_members_body(void)
{
    app_verr e;
    app_members_req m;
    const char *b = "{\"users\":[{\"id\":\"u1\",\"roles\":[\"admin\"]},{\"id\":\"u2\"}]}";
    check("members: two users", app_parse_members(b, strlen(b), &m, &e) == 0 && m.n == 2 &&
                                    !strcmp(m.users[0].user_id, "u1") && m.users[0].roles == APP_ROLE_ALL &&
                                    m.users[1].roles == APP_ROLE_READ);
    app_members_req_free(&m);
    b = "{\"users\":[]}";
    check("members: empty list", app_parse_members(b, strlen(b), &m, &e) == 0 && m.n == 0);
    app_members_req_free(&m);
    b = "{}";
    check("members: users required", app_parse_members(b, strlen(b), &m, &e) != 0 && !strcmp(e.field, "users"));
    b = "{\"users\":{}}";
    check("members: users object rejected", app_parse_members(b, strlen(b), &m, &e) != 0 && !strcmp(e.field, "users"));
    b = "{\"users\":[\"u1\"]}";
    check("members: string entry rejected", app_parse_members(b, strlen(b), &m, &e) != 0 && !strcmp(e.field, "users[0]"));
    b = "{\"users\":[{\"roles\":[]}]}";
    check("members: id required", app_parse_members(b, strlen(b), &m, &e) != 0 && !strcmp(e.field, "users[0].id"));
    b = "{\"users\":[{\"id\":\"\"}]}";
    check("members: empty id rejected", app_parse_members(b, strlen(b), &m, &e) != 0);
    char big[200];
    snprintf(big, sizeof big, "{\"users\":[{\"id\":\"%s\"}]}", rep("u", 65));
    check("members: 65-char id rejected", app_parse_members(big, strlen(big), &m, &e) != 0);
    b = "{\"users\":[{\"id\":\"u1\"},{\"id\":\"u1\"}]}";
    check("members: duplicate id rejected", app_parse_members(b, strlen(b), &m, &e) != 0 && !strcmp(e.field, "users[1].id"));
    b = "{\"users\":[{\"id\":\"u1\",\"roles\":[\"root\"]}]}";
    check("members: unknown role rejected",
          app_parse_members(b, strlen(b), &m, &e) != 0 && !strcmp(e.field, "users[0].roles"));
    check("members: empty body -> NOBODY", app_parse_members("", 0, &m, &e) != 0 && e.kind == APP_VERR_NOBODY);
}

static void test_list_filter(void)
{
    app_list_filter f;
    app_verr e;
    check("list: defaults", app_parse_list_filter(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &f, &e) == 0 &&
                                f.offset == 0 && f.limit == APP_LIST_LIMIT_DEFAULT && f.favorite == -1 && f.owner == -1 &&
                                !f.auth_role && !f.name);
    check("list: values", app_parse_list_filter("5", "1000", "true", "FALSE", "modify", "n", "k", "u", &f, &e) == 0 &&
                              f.offset == 5 && f.limit == 1000 && f.favorite == 1 && f.owner == 0 &&
                              f.auth_role == APP_ROLE_MODIFY && !strcmp(f.name, "n"));
    check("list: empty values are absent", app_parse_list_filter("", "", "", "", "", "", "", "", &f, &e) == 0 &&
                                               f.limit == APP_LIST_LIMIT_DEFAULT && !f.name);
    check("list: offset -1", app_parse_list_filter("-1", NULL, NULL, NULL, NULL, NULL, NULL, NULL, &f, &e) != 0 &&
                                 !strcmp(e.field, "offset"));
    check("list: offset abc", app_parse_list_filter("abc", NULL, NULL, NULL, NULL, NULL, NULL, NULL, &f, &e) != 0);
    check("list: offset 1.5", app_parse_list_filter("1.5", NULL, NULL, NULL, NULL, NULL, NULL, NULL, &f, &e) != 0);
    check("list: limit 0", app_parse_list_filter(NULL, "0", NULL, NULL, NULL, NULL, NULL, NULL, &f, &e) != 0 &&
                               !strcmp(e.field, "limit"));
    check("list: limit 1001", app_parse_list_filter(NULL, "1001", NULL, NULL, NULL, NULL, NULL, NULL, &f, &e) != 0);
    check("list: limit huge", app_parse_list_filter(NULL, "99999999999999999999", NULL, NULL, NULL, NULL, NULL, NULL, &f,
                                                    &e) != 0);
    check("list: favorite yes", app_parse_list_filter(NULL, NULL, "yes", NULL, NULL, NULL, NULL, NULL, &f, &e) != 0 &&
                                    !strcmp(e.field, "favorite"));
    check("list: auth_role bad", app_parse_list_filter(NULL, NULL, NULL, NULL, "root", NULL, NULL, NULL, &f, &e) != 0 &&
                                     !strcmp(e.field, "auth_role"));
    check("list: name invalid UTF-8", app_parse_list_filter(NULL, NULL, NULL, NULL, NULL, "\xff", NULL, NULL, &f, &e) != 0);
    check("list: name 257 chars", app_parse_list_filter(NULL, NULL, NULL, NULL, NULL, rep("n", 257), NULL, NULL, &f, &e) != 0);
}

static void test_generation(void)
{
    app_verr e;
    char k[APP_RANDOM_KEY_LEN + 1], s[APP_RANDOM_SECRET_LEN + 1], k2[APP_RANDOM_KEY_LEN + 1];
    int ok = 1;
    for (int i = 0; i < 500 && ok; i++) {
        ok = app_random_key(k, sizeof k) == 0 && strlen(k) == APP_RANDOM_KEY_LEN && app_check_key(k, "key", &e) == 0;
        for (const char *p = k; ok && *p; p++) ok = is_alnum_ascii((unsigned char)*p);
    }
    check("random key: 32 letters/digits, valid", ok);
    ok = 1;
    for (int i = 0; i < 500 && ok; i++) {
        ok = app_random_secret(s, sizeof s) == 0 && strlen(s) == APP_RANDOM_SECRET_LEN &&
             app_check_secret(s, "secret", &e) == 0;
        int up = 0, lo = 0, dg = 0, sp = 0;
        for (const char *p = s; *p; p++) {
            up |= *p >= 'A' && *p <= 'Z';
            lo |= *p >= 'a' && *p <= 'z';
            dg |= *p >= '0' && *p <= '9';
            sp |= strchr(SECRET_SPECIALS, *p) != NULL;
        }
        ok = ok && up && lo && dg && sp;
    }
    check("random secret: valid and complex", ok);
    check("random key: two draws differ", app_random_key(k, sizeof k) == 0 && app_random_key(k2, sizeof k2) == 0 &&
                                              strcmp(k, k2) != 0);
    check("random key: small buffer refused", app_random_key(k, 10) != 0);
    check("random secret: small buffer refused", app_random_secret(s, 10) != 0);
}

int main(void)
{
    test_name();
    test_key_secret_remark();
    test_create_body();
    test_update_secret_body();
    test_roles();
    test_members_body();
    test_list_filter();
    test_generation();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
