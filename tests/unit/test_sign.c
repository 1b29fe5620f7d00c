/* test_sign.c: unit tests of common/sign.c: the three SDK test vectors of shared/spec/auth-signing.md,
 * the extra cases listed there (expected values computed with the SDK's own algorithm: unquote(path)
 * split on '/', quote(s, safe='~'), (name, value) sort), X-Sdk-Date parsing and malformed Authorization
 * headers. Prints one line per check and "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "sign.h"

static int passed, failed;

static void check(const char *name, int ok) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    if (ok) passed++;
    else failed++;
}

#define SK "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
#define DATE "20240102T030405Z"
#define PID "0123456789abcdef0123456789abcdef"
#define IID "11111111-2222-3333-4444-555555555555"
#define UA "huaweicloud-usdk-python/3.0; roma-sdk-conformance"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define V2_BODY "{\"name\": \"app_demo\", \"remark\": \"created by capture\"}"
#define V2_SHA "41318136813579000d1159820fa52f41593cd13303c6505ce94956faea594b4e"
#define SH5 "content-type;host;user-agent;x-project-id;x-sdk-date"
#define HDR_BLOCK(ct)                                                                                           \
    "content-type:" ct "\nhost:127.0.0.1:18080\nuser-agent:" UA "\nx-project-id:" PID "\nx-sdk-date:" DATE "\n"

static const sign_header base_headers[] = {
    {"Content-Type", "application/json"}, {"Host", "127.0.0.1:18080"}, {"User-Agent", UA},
    {"X-Project-Id", PID},                 {"X-Sdk-Date", DATE},
};
#define NBASE (sizeof base_headers / sizeof base_headers[0])

/* Builds the canonical request and checks text, its sha256 and the final signature. */
static void check_vector(const char *name, const char *method, const char *path, const char *query,
                         const sign_header *h, size_t nh, const char *signed_headers, const char *payload,
                         const char *want_cr, const char *want_hash, const char *want_sig) {
    char label[160], hash[65], sig[65];
    char *cr = sign_canonical_request(method, path, query, h, nh, signed_headers, payload);
    snprintf(label, sizeof label, "%s canonical request", name);
    check(label, cr != NULL && strcmp(cr, want_cr) == 0);
    if (cr != NULL && strcmp(cr, want_cr) != 0) printf("     got:  [%s]\n     want: [%s]\n", cr, want_cr);
    crypto_sha256_hex(cr ? cr : "", cr ? strlen(cr) : 0, hash);
    snprintf(label, sizeof label, "%s sha256(canonical request)", name);
    check(label, strcmp(hash, want_hash) == 0);
    sign_compute(cr ? cr : "", DATE, SK, sig);
    snprintf(label, sizeof label, "%s signature", name);
    check(label, strcmp(sig, want_sig) == 0);
    free(cr);
}

static void test_spec_vectors(void) {
    check_vector("V1", "GET", "/v2/" PID "/instances/" IID "/apps", "favorite=true&limit=10&name=app%20demo&offset=0",
                 base_headers, NBASE, SH5, EMPTY_SHA,
                 "GET\n/v2/" PID "/instances/" IID "/apps/\nfavorite=true&limit=10&name=app%20demo&offset=0\n"
                 HDR_BLOCK("application/json") "\n" SH5 "\n" EMPTY_SHA,
                 "172f99d67ae52edffc6b4200ac7b9e317f9907541abffa005be390823482ec00",
                 "ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252");

    char body_sha[65];
    crypto_sha256_hex(V2_BODY, strlen(V2_BODY), body_sha);
    check("V2 body sha256 (52 bytes)", strlen(V2_BODY) == 52 && strcmp(body_sha, V2_SHA) == 0);
    sign_header h2[NBASE];
    memcpy(h2, base_headers, sizeof h2);
    h2[0].value = "application/json;charset=utf-8";
    check_vector("V2", "POST", "/v2/" PID "/instances/" IID "/apps", "", h2, NBASE, SH5, body_sha,
                 "POST\n/v2/" PID "/instances/" IID "/apps/\n\n" HDR_BLOCK("application/json;charset=utf-8") "\n" SH5
                 "\n" V2_SHA,
                 "d4a2f874433c51f1491ed33a8dfb1d13611616225a7a73a8fb6e995b7c45d0eb",
                 "962fbd7a80408a489dd5e6faa1644e7d8b2d237448864dd49383edacbe7fe1a7");

    check_vector("V3", "DELETE", "/v2/" PID "/instances/" IID "/apps/aaaaaaaa-0000-0000-0000-000000000001", NULL,
                 base_headers, NBASE, SH5, EMPTY_SHA,
                 "DELETE\n/v2/" PID "/instances/" IID "/apps/aaaaaaaa-0000-0000-0000-000000000001/\n\n"
                 HDR_BLOCK("application/json") "\n" SH5 "\n" EMPTY_SHA,
                 "90112cce9dc81378a2812176d2ce257ab102039fc074f870d89f16173daf84ba",
                 "647ff9e744e898e644e52b9b4ec46f5ba707c376f7e6b87ec0481af36a4a9d3f");
}

/* Full server-side flow on V1: parse Authorization, rebuild, compare in constant time. */
static void test_verify_flow(void) {
    const char *authz = "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=" SH5
                        ", Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252";
    sign_auth a;
    int rc = sign_parse_authorization(authz, &a);
    check("V1 Authorization parses", rc == 0);
    check("V1 Access", strcmp(a.access, "QTWAOYTTINDUT2QVKYUC") == 0);
    check("V1 SignedHeaders", strcmp(a.signed_headers, SH5) == 0);
    /* the received request carries more headers than were signed, in another case and order */
    const sign_header recv[] = {
        {"accept", "*/*"},          {"x-sdk-date", DATE},       {"USER-AGENT", UA},       {"content-length", "0"},
        {"x-project-id", PID},      {"host", "127.0.0.1:18080"}, {"content-type", "  application/json \t"},
    };
    char *cr = sign_canonical_request("GET", "/v2/" PID "/instances/" IID "/apps",
                                      "offset=0&name=app%20demo&limit=10&favorite=true", recv,
                                      sizeof recv / sizeof recv[0], a.signed_headers, EMPTY_SHA);
    char sig[65];
    sign_compute(cr ? cr : "", DATE, SK, sig);
    check("V1 verifies (case-insensitive lookup, trimmed value, unsorted query)", crypto_streq_ct(sig, a.signature));
    sign_compute(cr ? cr : "", "20240102T030406Z", SK, sig);
    check("V1 other date -> different signature", !crypto_streq_ct(sig, a.signature));
    sign_compute(cr ? cr : "", DATE, "wrong-sk", sig);
    check("V1 wrong SK -> different signature", !crypto_streq_ct(sig, a.signature));
    free(cr);
}

static void test_extra_cases(void) {
    /* query values with '/', '+', '=', non-ASCII; '+' is a literal plus, not a space */
    check_vector("E1 query / + = UTF-8", "GET", "/v2/" PID "/instances/" IID "/apps",
                 "name=a%2Fb%2Bc%3Dd&q=x+y&remark=%E4%B8%AD%E6%96%87&path=/a/b&eq=k=v", base_headers, NBASE, SH5,
                 EMPTY_SHA,
                 "GET\n/v2/" PID "/instances/" IID "/apps/\n"
                 "eq=k%3Dv&name=a%2Fb%2Bc%3Dd&path=%2Fa%2Fb&q=x%2By&remark=%E4%B8%AD%E6%96%87\n"
                 HDR_BLOCK("application/json") "\n" SH5 "\n" EMPTY_SHA,
                 "0f4016a3e1975132e009391e18eece96d71d4ec7e148a1b6ada9825c90884ebd",
                 "69e58558a63414191054f74d54dee468a13172040083386b7e3d6cc20d861a52");
    /* repeated names sorted by value; byte order of decoded names (so "~x" < "%C3%A9"), empty values,
     * a name without '=', empty pieces */
    check_vector("E2 repeated names", "GET", "/v2/" PID "/x",
                 "tag=b&tag=a&Tag=c&tag=&flag&a%20b=1&a-b=2&~x=1&%C3%A9=2&&", base_headers, NBASE, SH5, EMPTY_SHA,
                 "GET\n/v2/" PID "/x/\nTag=c&a%20b=1&a-b=2&flag=&tag=&tag=a&tag=b&~x=1&%C3%A9=2\n"
                 HDR_BLOCK("application/json") "\n" SH5 "\n" EMPTY_SHA,
                 "b2b3c6d89af9c1cb15a9b34866185c20fdc82c1f224408b3cdcad2b2ade785cf",
                 "fcb9fc84be5e6fefe04b2256610b6fee9d5b9112c1d4215798c2640a2f992aa6");
    /* a header named with '_' is sent but never signed */
    sign_header h3[NBASE + 1];
    memcpy(h3, base_headers, sizeof base_headers);
    h3[NBASE] = (sign_header){"X_Custom_Header", "zzz"};
    check_vector("E3 '_' header not signed", "GET", "/v2/" PID "/x", "", h3, NBASE + 1, SH5, EMPTY_SHA,
                 "GET\n/v2/" PID "/x/\n\n" HDR_BLOCK("application/json") "\n" SH5 "\n" EMPTY_SHA,
                 "2ddbc80d991c6bb641ba475c0fa903a0317b4c67cb6197b551b94cf1b4aab1e6",
                 "f988f84002e7cd6e70e52d2fe93b03f21029151638d1d3dfb97bceaac638df0a");
    char *cr = sign_canonical_request("GET", "/x", "", h3, NBASE + 1, "host;x_custom_header", EMPTY_SHA);
    check("E3 SignedHeaders naming a '_' header rejected", cr == NULL);
    free(cr);
    sign_auth a;
    check("E3 Authorization with a '_' signed header rejected",
          sign_parse_authorization("SDK-HMAC-SHA256 Access=AK, SignedHeaders=host;x_custom_header, Signature="
                                   EMPTY_SHA, &a) == ROMA_EINVAL);
    /* non-JSON body: X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD is signed and is the payload hash */
    const sign_header h4[] = {
        {"Content-Type", "application/octet-stream"}, {"Host", "127.0.0.1:18080"}, {"User-Agent", UA},
        {"X-Project-Id", PID}, {"X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD"}, {"X-Sdk-Date", DATE},
    };
    const char *sh4 = "content-type;host;user-agent;x-project-id;x-sdk-content-sha256;x-sdk-date";
    check_vector("E4 UNSIGNED-PAYLOAD", "PUT", "/v2/" PID "/instances/" IID "/assets/import", "", h4, 6, sh4,
                 "UNSIGNED-PAYLOAD",
                 "PUT\n/v2/" PID "/instances/" IID "/assets/import/\n\ncontent-type:application/octet-stream\n"
                 "host:127.0.0.1:18080\nuser-agent:" UA "\nx-project-id:" PID "\n"
                 "x-sdk-content-sha256:UNSIGNED-PAYLOAD\nx-sdk-date:" DATE "\n\n"
                 "content-type;host;user-agent;x-project-id;x-sdk-content-sha256;x-sdk-date\nUNSIGNED-PAYLOAD",
                 "a53227e9893fde5f43f947a255ff02e9f4c3a9ff1d173e5a2da210e9cb86a2b8",
                 "799def1ba5eaea28c7f2433d865041f94021f08e23ccdf096527d421f251317d");
    /* temporary credentials: X-Security-Token is signed */
    sign_header h5[NBASE + 1];
    memcpy(h5, base_headers, sizeof base_headers);
    h5[NBASE] = (sign_header){"X-Security-Token", "gQpjbi1ub3J0aC00tokenvalue=="};
    check_vector("E5 X-Security-Token", "POST", "/v2/" PID "/instances/" IID "/apps", "", h5, NBASE + 1,
                 SH5 ";x-security-token", V2_SHA,
                 "POST\n/v2/" PID "/instances/" IID "/apps/\n\n" HDR_BLOCK("application/json")
                 "x-security-token:gQpjbi1ub3J0aC00tokenvalue==\n\n" SH5 ";x-security-token\n" V2_SHA,
                 "8653ad5f64c9dfe230fa81b921d89ccf01edb3876c8e0e6662b61bc088a5ada0",
                 "f309186fe3efaac9ecf7cb7fc4b718b7247e016d668a12b6e15619c3117e5d24");
    /* path: space, escaped '/', UTF-8, unreserved punctuation, existing trailing '/' */
    check_vector("E6 path encoding", "GET", "/v2/" PID "/objects/a%20b/c%2Fd/%E4%B8%AD~x.y_z-w/", "", base_headers,
                 NBASE, SH5, EMPTY_SHA,
                 "GET\n/v2/" PID "/objects/a%20b/c/d/%E4%B8%AD~x.y_z-w/\n\n" HDR_BLOCK("application/json") "\n" SH5
                 "\n" EMPTY_SHA,
                 "43221dbe4cd3c6c17afb486661e5e6fdf4fab8b078051816e807591c3dd29077",
                 "85c699d156c004c9e4c97e401da2059bfa89426239f91afbc8da0c41f2a5aa1b");
}

static void test_canonical_errors(void) {
    const sign_header dup[] = {{"Host", "a"}, {"host", "b"}};
    const sign_header one[] = {{"Host", "a"}};
    char *cr;
#define EXPECT_NULL(label, call)                                                                               \
    do {                                                                                                       \
        cr = (call);                                                                                           \
        check(label, cr == NULL);                                                                              \
        free(cr);                                                                                              \
    } while (0)
    EXPECT_NULL("signed header missing from request -> NULL",
                sign_canonical_request("GET", "/", "", one, 1, "host;x-sdk-date", EMPTY_SHA));
    EXPECT_NULL("signed header sent twice -> NULL", sign_canonical_request("GET", "/", "", dup, 2, "host", EMPTY_SHA));
    EXPECT_NULL("bad escape in path -> NULL", sign_canonical_request("GET", "/a%zz", "", one, 1, "host", EMPTY_SHA));
    EXPECT_NULL("truncated escape in path -> NULL", sign_canonical_request("GET", "/a%4", "", one, 1, "host", EMPTY_SHA));
    EXPECT_NULL("bad escape in query -> NULL", sign_canonical_request("GET", "/", "a=%G1", one, 1, "host", EMPTY_SHA));
    EXPECT_NULL("truncated escape in query -> NULL", sign_canonical_request("GET", "/", "a=%", one, 1, "host", EMPTY_SHA));
    EXPECT_NULL("bad payload hash -> NULL", sign_canonical_request("GET", "/", "", one, 1, "host", "abc"));
    EXPECT_NULL("upper-case payload hash -> NULL",
                sign_canonical_request("GET", "/", "", one, 1, "host",
                                       "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
    EXPECT_NULL("empty SignedHeaders -> NULL", sign_canonical_request("GET", "/", "", one, 1, "", EMPTY_SHA));
    EXPECT_NULL("empty name in SignedHeaders -> NULL", sign_canonical_request("GET", "/", "", one, 1, "host;", EMPTY_SHA));
    EXPECT_NULL("bad method -> NULL", sign_canonical_request("G ET", "/", "", one, 1, "host", EMPTY_SHA));
    EXPECT_NULL("NULL path -> NULL", sign_canonical_request("GET", NULL, "", one, 1, "host", EMPTY_SHA));
#undef EXPECT_NULL
    cr = sign_canonical_request("get", "", NULL, one, 1, "host", EMPTY_SHA);
    check("lower-case method upper-cased, empty path is '/'",
          cr != NULL && strcmp(cr, "GET\n/\n\nhost:a\n\nhost\n" EMPTY_SHA) == 0);
    free(cr);
    cr = sign_canonical_request("GET", "/%00x", "k%00=v", one, 1, "host", EMPTY_SHA);
    check("decoded NUL bytes re-encoded, not truncated",
          cr != NULL && strcmp(cr, "GET\n/%00x/\nk%00=v\nhost:a\n\nhost\n" EMPTY_SHA) == 0);
    free(cr);
    /* The path must be the raw one from the wire: "%2541" is a literal "%41" segment, which the SDK
     * signs as "%2541". (civetweb decodes even local_uri_raw unless decode_url=no.) */
    cr = sign_canonical_request("GET", "/v2/x/%2541", "", one, 1, "host", EMPTY_SHA);
    check("raw path: %25 stays an escaped '%'", cr != NULL && strcmp(cr, "GET\n/v2/x/%2541/\n\nhost:a\n\nhost\n" EMPTY_SHA) == 0);
    free(cr);
    const sign_header emptyv[] = {{"Host", "   "}};
    cr = sign_canonical_request("GET", "//a//", "", emptyv, 1, "host", EMPTY_SHA);
    check("empty segments kept, all-blank value trimmed to empty",
          cr != NULL && strcmp(cr, "GET\n//a//\n\nhost:\n\nhost\n" EMPTY_SHA) == 0);
    free(cr);
}

static void test_dates(void) {
    long long ms = -1;
    check("date 20240102T030405Z", sign_parse_sdk_date("20240102T030405Z", &ms) == 0 && ms == 1704164645000LL);
    check("date epoch 19700101T000000Z", sign_parse_sdk_date("19700101T000000Z", &ms) == 0 && ms == 0);
    check("date leap day 20240229T235959Z", sign_parse_sdk_date("20240229T235959Z", &ms) == 0 && ms == 1709251199000LL);
    check("date 20000301T000000Z", sign_parse_sdk_date("20000301T000000Z", &ms) == 0 && ms == 951868800000LL);
    check("date 99991231T235959Z", sign_parse_sdk_date("99991231T235959Z", &ms) == 0 && ms == 253402300799000LL);
    const char *bad[] = {
        "20230229T000000Z", "19000229T000000Z", "20241301T000000Z", "20240001T000000Z", "20240100T000000Z",
        "20240431T000000Z", "20240102T240000Z", "20240102T036000Z", "20240102T030460Z", "20240102T030405",
        "20240102t030405Z", "20240102T030405z", "20240102 030405Z", "2024-01-02T03:04:05Z", "20240102T030405ZZ",
        "2024010T030405Z",  "+0240102T030405Z", "20240102T03040-Z", "19691231T235959Z", "",
        "Tue, 02 Jan 2024 03:04:05 GMT",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char label[96];
        snprintf(label, sizeof label, "date rejects \"%s\"", bad[i]);
        check(label, sign_parse_sdk_date(bad[i], &ms) == ROMA_EINVAL);
    }
    check("date rejects NULL", sign_parse_sdk_date(NULL, &ms) == ROMA_EINVAL);
}

static void test_authorization(void) {
    sign_auth a;
    const char *sig = "ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252";
    check("auth: no spaces after commas accepted",
          sign_parse_authorization("SDK-HMAC-SHA256 Access=AK1,SignedHeaders=host,Signature=ab75890ab9898deb1b71426d"
                                   "d051440194d1af7f10ac864428eae091b1ce6252", &a) == 0 &&
              strcmp(a.access, "AK1") == 0 && strcmp(a.signed_headers, "host") == 0 && strcmp(a.signature, sig) == 0);
    check("auth: upper-case hex signature normalised",
          sign_parse_authorization("SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=AB75890AB9898DEB1B71426D"
                                   "D051440194D1AF7F10AC864428EAE091B1CE6252", &a) == 0 && strcmp(a.signature, sig) == 0);
    check("auth: parameters in another order accepted",
          sign_parse_authorization("SDK-HMAC-SHA256 Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1"
                                   "ce6252, Access=AK1, SignedHeaders=host;x-sdk-date", &a) == 0);
    char longak[300];
    memset(longak, 0, sizeof longak);
    strcpy(longak, "SDK-HMAC-SHA256 Access=");
    memset(longak + strlen(longak), 'A', 128);
    strcat(longak, ", SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252");
    const char *bad[] = {
        "",
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 ",
        "sdk-hmac-sha256 Access=AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA1 Access=AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256Access=AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host",
        "SDK-HMAC-SHA256 SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce625",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce62522",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=zb75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, Access=AK2, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252, Extra=1",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252,",
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;;x-sdk-date, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=Host;X-Sdk-Date, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host:x, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=A K1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK\"1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access AK1, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1; SignedHeaders=host; Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 access=AK1, signedheaders=host, signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        "SDK-HMAC-SHA256 Access=AK1,, SignedHeaders=host, Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252",
        longak,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char label[200];
        snprintf(label, sizeof label, "auth rejects #%zu \"%.60s%s\"", i, bad[i], strlen(bad[i]) > 60 ? "..." : "");
        int rc = sign_parse_authorization(bad[i], &a);
        check(label, rc == ROMA_EINVAL && a.access[0] == '\0' && a.signature[0] == '\0');
    }
    check("auth rejects NULL", sign_parse_authorization(NULL, &a) == ROMA_EINVAL);
    /* a SignedHeaders value that fills the field exactly is rejected, not truncated */
    static char big[1200];
    strcpy(big, "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=");
    size_t at = strlen(big);
    while (at < 42 + 1024) big[at++] = 'h';
    big[at] = '\0';
    strcat(big, ", Signature=ab75890ab9898deb1b71426dd051440194d1af7f10ac864428eae091b1ce6252");
    check("auth rejects a 1024-byte SignedHeaders", sign_parse_authorization(big, &a) == ROMA_EINVAL);
}

/* issue 8 #13: what a signature must bind (sign_check_policy) */
static void test_policy(void) {
    const char *why = NULL;
    check("policy: the SDK's five headers, hashed JSON body",
          sign_check_policy(SH5, 0, "application/json;charset=utf-8", 0, &why) == 0);
    check("policy: x-sdk-date alone refused (host unbound)",
          sign_check_policy("x-sdk-date", 0, "application/json", 0, &why) == ROMA_EDENIED && strstr(why, "host"));
    check("policy: host alone refused (date unbound)", sign_check_policy("host", 0, NULL, 0, &why) == ROMA_EDENIED);
    check("policy: names match whole, case-insensitively",
          sign_check_policy("Host;X-Sdk-Date", 0, NULL, 0, &why) == 0 &&
          sign_check_policy("hostx;x-sdk-date", 0, NULL, 0, &why) == ROMA_EDENIED &&
          sign_check_policy("host;x-sdk-dat", 0, NULL, 0, &why) == ROMA_EDENIED);
    const char *up = "content-type;host;x-project-id;x-sdk-content-sha256;x-sdk-date";
    check("policy: UNSIGNED-PAYLOAD for a multipart upload (the SDKs' shape)",
          sign_check_policy(up, 1, "multipart/form-data; boundary=abc", 1, &why) == 0);
    check("policy: UNSIGNED-PAYLOAD with a JSON body refused",
          sign_check_policy(up, 1, "application/json;charset=UTF-8", 1, &why) == ROMA_EDENIED &&
          sign_check_policy(up, 1, "Application/JSON", 1, &why) == ROMA_EDENIED);
    check("policy: UNSIGNED-PAYLOAD on a JSON route refused whatever the Content-Type",
          sign_check_policy(up, 1, "text/plain", 0, &why) == ROMA_EDENIED);
    check("policy: UNSIGNED-PAYLOAD without a Content-Type refused",
          sign_check_policy(up, 1, NULL, 1, &why) == ROMA_EDENIED && sign_check_policy(up, 1, "", 1, &why) == ROMA_EDENIED);
    check("policy: UNSIGNED-PAYLOAD needs content-type and x-sdk-content-sha256 signed",
          sign_check_policy("host;x-sdk-date", 1, "multipart/form-data", 1, &why) == ROMA_EDENIED &&
          sign_check_policy("content-type;host;x-sdk-date", 1, "multipart/form-data", 1, &why) == ROMA_EDENIED);
    check("headers_include: NULLs", !sign_headers_include(NULL, "host") && !sign_headers_include("host", NULL));
}

int main(void) {
    test_policy();
    test_spec_vectors();
    test_verify_flow();
    test_extra_cases();
    test_canonical_errors();
    test_dates();
    test_authorization();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
