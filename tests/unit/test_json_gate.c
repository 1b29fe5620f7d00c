/* test_json_gate.c: unit tests of common/json_gate.c, the validator every JSON text passes before cJSON:
 * size and depth limits, RFC 8259 syntax, UTF-8 (overlongs, surrogates, > U+10FFFF), NUL (raw and
 * \u0000), duplicate keys (also through escapes), and json_gate_text_ok for paths and queries.
 * Prints one line per check and "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_gate.h"

static int passed, failed;

static void check(const char *name, int ok)
{
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    if (ok) passed++;
    else failed++;
}

/* Gate code of a text of explicit length (so tests can embed NUL bytes). */
static json_gate_code code_n(const char *s, size_t n, int depth)
{
    json_gate_err e;
    int rc = json_gate_check(s, n, depth, 0, &e);
    if ((rc == 0) != (e.code == JSON_GATE_OK)) return (json_gate_code)-1; /* rc and code disagree */
    return e.code;
}
static json_gate_code code(const char *s) { return code_n(s, strlen(s), 0); }

static char *nested(int levels, char open, char close)
{
    char *s = malloc((size_t)levels * 2 + 1);
    memset(s, open, (size_t)levels);
    memset(s + levels, close, (size_t)levels);
    s[levels * 2] = 0;
    return s;
}

static void test_valid(void)
{
    const char *ok[] = {
        "{}", "[]", "0", "-0", "1.5e-3", "-12E+4", "\"x\"", "true", "false", "null", " \t\r\n{ } \n",
        "{\"a\":1,\"b\":[1,2,{\"a\":2}],\"c\":{\"a\":3}}", "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
        "\"\\u00e9\\u4e2d\\ud83d\\ude00\"", "\"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"",
        "{\"a\":{\"x\":1},\"b\":{\"x\":1}}", /* the same key in two objects is fine */
        "{\"A\":1,\"a\":2}",                  /* keys are case-sensitive */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "accepts %.100s", ok[i]);
        check(name, code(ok[i]) == JSON_GATE_OK);
    }
}

static void test_syntax(void)
{
    const char *bad[] = {
        "", "   ", "{", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "[1 2]", "01", "1.", ".5", "+1", "1e",
        "-", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12g4\"", "{} {}", "[1]x", "\"a\tb\"", "'a'", "[,1]",
        "{\"a\":}", "NaN", "Infinity", "\xef\xbb\xbf{}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[160];
        snprintf(name, sizeof name, "refuses syntax #%zu", i);
        json_gate_code c = code(bad[i]);
        check(name, c == JSON_GATE_SYNTAX || c == JSON_GATE_UTF8);
    }
    check("NULL buffer refused", json_gate_check(NULL, 0, 0, 0, NULL) == ROMA_EINVAL);
}

static void test_depth(void)
{
    char *s64 = nested(64, '[', ']'), *s65 = nested(65, '[', ']');
    check("64 nested arrays pass the default depth", code(s64) == JSON_GATE_OK);
    check("65 nested arrays are too deep", code(s65) == JSON_GATE_TOO_DEEP);
    check("explicit depth 65 accepts 65", code_n(s65, strlen(s65), 65) == JSON_GATE_OK);
    free(s64);
    free(s65);
    /* the repro: {"auth": 1000 x [ ... ] } */
    char *deep = malloc(2100);
    strcpy(deep, "{\"auth\":");
    for (int i = 0; i < 1000; i++) strcat(deep, "[");
    for (int i = 0; i < 1000; i++) strcat(deep, "]");
    strcat(deep, "}");
    json_gate_err e;
    check("1000-deep auth body refused", json_gate_check(deep, strlen(deep), 0, 0, &e) == ROMA_EINVAL &&
                                             e.code == JSON_GATE_TOO_DEEP && e.offset == 8 + 63);
    check("the message names the byte", strstr(e.msg, "byte 71") != NULL);
    free(deep);
    /* an unterminated deep text must stop at the depth, not at the end */
    char open[5000];
    memset(open, '{', sizeof open - 1);
    open[sizeof open - 1] = 0;
    check("5000 open braces: too deep (or bad key), never a crash", code(open) != JSON_GATE_OK);
    char arr[5000];
    memset(arr, '[', sizeof arr - 1);
    arr[sizeof arr - 1] = 0;
    check("5000 open brackets: too deep", code(arr) == JSON_GATE_TOO_DEEP);
    json_gate_set_limits(3, 0);
    check("process-wide depth 3: [[[]]] ok", code("[[[]]]") == JSON_GATE_OK);
    check("process-wide depth 3: [[[[]]]] refused", code("[[[[]]]]") == JSON_GATE_TOO_DEEP);
    check("depth 0 clamps to 1", (json_gate_set_limits(0, 0), json_gate_max_depth() == 1));
    json_gate_set_limits(5000, 0);
    check("depth clamps to the cJSON limit", json_gate_max_depth() == JSON_GATE_MAX_DEPTH);
    json_gate_set_limits(JSON_GATE_DEFAULT_DEPTH, 0);
}

static void test_size(void)
{
    json_gate_err e;
    check("size limit", json_gate_check("[1,2,3]", 7, 0, 6, &e) == ROMA_ETOOBIG && e.code == JSON_GATE_TOO_BIG);
    check("at the size limit", json_gate_check("[1,2,3]", 7, 0, 7, &e) == 0);
}

static void test_utf8(void)
{
    const char *bad[] = {
        "\"\xff\"",             /* never valid */
        "\"\xc0\xaf\"",         /* overlong '/' */
        "\"\xc1\xbf\"",         /* overlong */
        "\"\xe0\x80\xaf\"",     /* overlong 3-byte */
        "\"\xf0\x80\x80\xaf\"", /* overlong 4-byte */
        "\"\xed\xa0\x80\"",     /* UTF-16 surrogate D800 encoded */
        "\"\xed\xbf\xbf\"",     /* DFFF */
        "\"\xf4\x90\x80\x80\"", /* U+110000 */
        "\"\xf5\x80\x80\x80\"",
        "\"\xc3\"",             /* truncated */
        "\"\xe4\xb8\"",
        "\"\x80\"",             /* lone continuation */
        "\"\\ud800\"",          /* lone high surrogate escape */
        "\"\\udc00\"",          /* lone low surrogate escape */
        "\"\\ud800\\u0041\"",   /* high surrogate + non-low */
        "{\"\xff\":1}",         /* in a key */
        "[1]\xff",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "refuses bad UTF-8 #%zu", i);
        json_gate_code c = code(bad[i]);
        check(name, c == JSON_GATE_UTF8 || (i == sizeof bad / sizeof bad[0] - 1 && c == JSON_GATE_SYNTAX));
    }
}

static void test_nul(void)
{
    check("\\u0000 in a value", code("{\"datasource_name\":\"x\\u0000y\"}") == JSON_GATE_NUL);
    check("\\u0000 in a key", code("{\"a\\u0000\":1}") == JSON_GATE_NUL);
    check("host with \\u0000", code("{\"host\":\"127.0.0.1\\u0000.evil\"}") == JSON_GATE_NUL);
    const char raw[] = "{\"a\":\"x\0y\"}";
    check("raw NUL in a string", code_n(raw, sizeof raw - 1, 0) == JSON_GATE_NUL);
    const char trail[] = "{}\0";
    check("raw NUL after the value", code_n(trail, sizeof trail - 1, 0) == JSON_GATE_NUL);
    check("\\u0001 is fine", code("\"\\u0001\"") == JSON_GATE_OK);
}

static void test_dup(void)
{
    check("duplicate key", code("{\"a\":1,\"a\":2}") == JSON_GATE_DUP_KEY);
    check("duplicate through an escape", code("{\"a\":1,\"\\u0061\":2}") == JSON_GATE_DUP_KEY);
    check("duplicate through \\/", code("{\"/\":1,\"\\/\":2}") == JSON_GATE_DUP_KEY);
    check("duplicate in a nested object", code("[{\"k\":{\"x\":1,\"y\":2,\"x\":3}}]") == JSON_GATE_DUP_KEY);
    check("duplicate after a nested object closes",
          code("{\"a\":{\"b\":1},\"c\":2,\"a\":3}") == JSON_GATE_DUP_KEY);
    check("non-ASCII duplicate", code("{\"\xe4\xb8\xad\":1,\"\\u4e2d\":2}") == JSON_GATE_DUP_KEY);
    check("surrogate-pair duplicate", code("{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}") == JSON_GATE_DUP_KEY);
    /* many distinct keys (the table grows) and one repeat at the end */
    size_t cap = 20000 * 12 + 16;
    char *big = malloc(cap);
    size_t n = 0;
    big[n++] = '{';
    for (int i = 0; i < 20000; i++) n += (size_t)snprintf(big + n, cap - n, "%s\"k%d\":1", i ? "," : "", i);
    big[n] = '}';
    big[n + 1] = 0;
    check("20000 distinct keys pass", code(big) == JSON_GATE_OK);
    n += (size_t)snprintf(big + n, cap - n, ",\"k12345\":2}");
    check("one repeat among 20000 keys is found", code(big) == JSON_GATE_DUP_KEY);
    free(big);
    json_gate_err e;
    check("dup path top", json_gate_check("{\"a\":1,\"a\":2}", 13, 0, 0, &e) != 0 && !strcmp(e.path, "a"));
    const char *nest = "{\"x\":1,\"content\":{\"p\":1,\"password\":1,\"password\":2}}";
    check("dup path nested", json_gate_check(nest, strlen(nest), 0, 0, &e) != 0 && !strcmp(e.path, "content.password"));
    const char *arr = "{\"items\":[{},{\"k\":1},{\"k\":1,\"k\":2}]}";
    check("dup path through an array", json_gate_check(arr, strlen(arr), 0, 0, &e) != 0 && !strcmp(e.path, "items[2].k"));
    check("offset points at the repeated key", json_gate_check("{\"a\":1,\"a\":2}", 13, 0, 0, &e) != 0 && e.offset == 7);
}

static void test_parse_and_text(void)
{
    json_gate_err e;
    cJSON *j = json_gate_parse_str("{\"a\":[1,\"\\u00e9\"]}", &e);
    check("json_gate_parse parses", j && cJSON_IsArray(cJSON_GetObjectItem(j, "a")));
    cJSON_Delete(j);
    j = json_gate_parse_str("{\"a\":1,\"a\":2}", &e);
    check("json_gate_parse refuses a duplicate", !j && e.code == JSON_GATE_DUP_KEY);
    j = json_gate_parse("[1] trailing", 3, &e);
    check("json_gate_parse honours the length", j && cJSON_GetArraySize(j) == 1);
    cJSON_Delete(j);
    check("json_gate_parse_str(NULL)", !json_gate_parse_str(NULL, &e));
    check("text ok: ASCII", json_gate_text_ok("/v2/abc?x=1", 11));
    check("text ok: CJK", json_gate_text_ok("\xe4\xb8\xad", 3));
    check("text refused: \\xff", !json_gate_text_ok("\xff", 1));
    check("text refused: NUL", !json_gate_text_ok("a\0b", 3));
    check("text refused: surrogate", !json_gate_text_ok("\xed\xa0\x80", 3));
    check("text refused: overlong NUL", !json_gate_text_ok("\xc0\x80", 2));
    check("text ok: empty", json_gate_text_ok("", 0));
}

int main(void)
{
    test_valid();
    test_syntax();
    test_depth();
    test_size();
    test_utf8();
    test_nul();
    test_dup();
    test_parse_and_text();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
