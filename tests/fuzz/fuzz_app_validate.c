/* fuzz_app_validate.c: libFuzzer target for the integration-app request validators (services/api/
 * app_validate.c), which see every attacker-supplied app body. The first input byte picks the parser:
 *   0 CreateAppReq   1 UpdateAppReq   2 secret-reset body   3 members body
 *   4 list query: the rest split on '\n' into offset, limit, favorite, owner, auth_role, name, key, user_name
 * Besides crashes/UB/leaks it checks invariants: an accepted body's fields obey their single-field rules,
 * accepted roles are normalised (read present, admin alone never survives), member ids are unique, an
 * accepted filter is in range, and a rejected input always carries a message. */
// FUZZ_EXTRA: services/api/app_validate.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app_validate.h"

static void must(int cond)
{
    if (!cond) abort();
}

static void check_roles(unsigned m)
{
    must((m & APP_ROLE_READ) != 0);
    must((m & ~APP_ROLE_ALL) == 0);
    must(m != APP_ROLE_ADMIN);
    must(app_roles_normalize(m) == m);
    char csv[64];
    app_roles_to_csv(m, csv, sizeof csv);
    must(app_roles_from_csv(csv) == m);
}

static void fuzz_create(const char *b, size_t n)
{
    app_create_req r;
    app_verr e;
    if (app_parse_create(b, n, &r, &e) != 0) {
        must(e.msg[0] != '\0');
        must(r.doc == NULL);
        return;
    }
    app_verr e2;
    must(r.name && app_check_name(r.name, "name", &e2) == 0);
    must(!r.remark || app_check_remark(r.remark, "remark", &e2) == 0);
    must(!r.key || app_check_key(r.key, "key", &e2) == 0);
    must(!r.secret || app_check_secret(r.secret, "secret", &e2) == 0);
    must(r.favorite == 0 || r.favorite == 1);
    app_create_req_free(&r);
}

static void fuzz_update(const char *b, size_t n)
{
    app_update_req u;
    app_verr e;
    if (app_parse_update(b, n, &u, &e) != 0) {
        must(e.msg[0] != '\0');
        return;
    }
    app_verr e2;
    must(!u.name || app_check_name(u.name, "name", &e2) == 0);
    must(!u.remark || app_check_remark(u.remark, "remark", &e2) == 0);
    must(u.favorite >= -1 && u.favorite <= 1);
    app_update_req_free(&u);
}

static void fuzz_secret(const char *b, size_t n)
{
    cJSON *doc = NULL;
    const char *s = NULL;
    app_verr e;
    if (app_parse_secret(b, n, &doc, &s, &e) != 0) {
        must(e.msg[0] != '\0');
        must(doc == NULL && s == NULL);
        return;
    }
    app_verr e2;
    must(!s || (strlen(s) >= APP_SECRET_MIN && strlen(s) <= APP_SECRET_MAX && app_check_secret(s, "secret", &e2) == 0));
    cJSON_Delete(doc);
}

static void fuzz_members(const char *b, size_t n)
{
    app_members_req m;
    app_verr e;
    if (app_parse_members(b, n, &m, &e) != 0) {
        must(e.msg[0] != '\0');
        must(m.doc == NULL && m.users == NULL);
        return;
    }
    must(m.n >= 0 && m.n <= APP_MEMBERS_MAX);
    for (int i = 0; i < m.n; i++) {
        must(m.users[i].user_id && m.users[i].user_id[0]);
        check_roles(m.users[i].roles);
        for (int k = 0; k < i; k++) must(strcmp(m.users[k].user_id, m.users[i].user_id) != 0);
    }
    app_members_req_free(&m);
}

static void fuzz_list(const char *b, size_t n)
{
    /* b is a private NUL-terminated copy: split it in place */
    char *v[8] = {0};
    char *p = (char *)b;
    for (int i = 0; i < 8 && p; i++) {
        v[i] = p;
        char *nl = memchr(p, '\n', n - (size_t)(p - b));
        if (nl) *nl = '\0';
        p = nl ? nl + 1 : NULL;
    }
    app_list_filter f;
    app_verr e;
    if (app_parse_list_filter(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], &f, &e) != 0) {
        must(e.msg[0] != '\0');
        return;
    }
    must(f.offset >= 0 && f.limit >= 1 && f.limit <= APP_LIST_LIMIT_MAX);
    must(f.favorite >= -1 && f.favorite <= 1 && f.owner >= -1 && f.owner <= 1);
    must(f.auth_role == 0 || (f.auth_role & (f.auth_role - 1)) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t n = size - 1;
    /* A private copy of exactly n bytes for the body parsers (they must never read past len: ASan catches
     * it); the list parser gets a NUL-terminated one since it works on C strings. */
    int list = data[0] % 5 == 4;
    size_t cap = n + (size_t)list;
    char *b = malloc(cap ? cap : 1);
    if (!b) return 0;
    memcpy(b, data + 1, n);
    if (list) b[n] = '\0';
    switch (data[0] % 5) {
    case 0: fuzz_create(b, n); break;
    case 1: fuzz_update(b, n); break;
    case 2: fuzz_secret(b, n); break;
    case 3: fuzz_members(b, n); break;
    default: fuzz_list(b, n); break;
    }
    free(b);
    return 0;
}
