/* test_crypto.c: unit tests of common/crypto.c: key loading and key-file creation (mode 0600), AES-256-GCM
 * seal/open with tamper and wrong-key detection, digests and HMAC known answers (FIPS 180-2, RFC 4231),
 * PBKDF2 password hashing, random tokens, base64 (RFC 4648 vectors and strict decoding).
 * Prints one line per check and "N passed, N failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"

static int passed, failed;

static void check(const char *name, int ok) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", name);
    if (ok) passed++;
    else failed++;
}

#define KEY_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define KEY_B "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"

static char tmpdir[] = "/tmp/roma-test-crypto-XXXXXX";

static int write_file(const char *path, const char *text, mode_t mode) {
    FILE *f = fopen(path, "w");
    if (f == NULL) return -1;
    fputs(text, f);
    fclose(f);
    return chmod(path, mode);
}

static void test_init(void) {
    char err[256], path[512];
    check("seal before crypto_init -> NULL", crypto_seal("x") == NULL);
    check("init rejects short hex key", crypto_init("abcd", NULL, 0, err, sizeof err) == ROMA_EINVAL && err[0]);
    check("init rejects non-hex key",
          crypto_init("zz0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", NULL, 0, err, sizeof err) ==
              ROMA_EINVAL);
    check("init without key or file -> EINVAL", crypto_init("", "", 0, err, sizeof err) == ROMA_EINVAL);

    snprintf(path, sizeof path, "%s/missing.key", tmpdir);
    check("missing key file without create -> error", crypto_init(NULL, path, 0, err, sizeof err) < 0 && err[0]);

    snprintf(path, sizeof path, "%s/nodir/secret.key", tmpdir);
    check("create in a missing directory -> error", crypto_init(NULL, path, 1, err, sizeof err) < 0 && err[0]);

    snprintf(path, sizeof path, "%s/secret.key", tmpdir);
    check("create key file", crypto_init(NULL, path, 1, err, sizeof err) == 0);
    struct stat st;
    check("key file is a regular file with mode 0600",
          stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0600);
    char text[128] = {0};
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    int hex_ok = n == 65 && text[64] == '\n';
    for (int i = 0; i < 64 && hex_ok; i++) hex_ok = strchr("0123456789abcdef", text[i]) != NULL;
    check("key file holds 64 lower-case hex chars and a newline", hex_ok);
    char *sealed = crypto_seal("persisted secret");
    check("create_if_missing on an existing file keeps its key", crypto_init(NULL, path, 1, err, sizeof err) == 0);
    char *opened = crypto_open(sealed);
    check("value sealed before re-reading the key file still opens", opened && !strcmp(opened, "persisted secret"));
    crypto_free_secret(opened);
    free(sealed);
    check("no temp files left next to the key file", access(path, F_OK) == 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp >/dev/null", tmpdir);
    check("directory holds no *.tmp.* leftovers", system(cmd) != 0);

    snprintf(path, sizeof path, "%s/crlf.key", tmpdir);
    check("key file with CRLF accepted",
          write_file(path, KEY_A "\r\n", 0600) == 0 && crypto_init(NULL, path, 0, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/open.key", tmpdir);
    check("group/world-readable key file accepted (warning only)",
          write_file(path, KEY_A, 0644) == 0 && crypto_init(NULL, path, 0, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/short.key", tmpdir);
    check("key file with 63 hex chars rejected",
          write_file(path, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n", 0600) == 0 &&
              crypto_init(NULL, path, 0, err, sizeof err) == ROMA_EINVAL);
    snprintf(path, sizeof path, "%s/long.key", tmpdir);
    check("key file with trailing garbage rejected",
          write_file(path, KEY_A "\nextra\n", 0600) == 0 && crypto_init(NULL, path, 0, err, sizeof err) == ROMA_EINVAL);
    check("directory as key file rejected", crypto_init(NULL, tmpdir, 0, err, sizeof err) == ROMA_EINVAL);
    check("ROMA_SECRET_KEY wins over the key file", crypto_init(KEY_B, path, 0, err, sizeof err) == 0);
}

static void test_seal(void) {
    char err[256];
    if (crypto_init(KEY_A, NULL, 0, err, sizeof err) != 0) check("init key A", 0);
    const char *samples[] = {"", "x", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", "中文 secret \xF0\x9F\x94\x91"};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char label[96];
        char *s = crypto_seal(samples[i]);
        char *o = crypto_open(s);
        snprintf(label, sizeof label, "seal/open round trip #%zu (len %zu)", i, strlen(samples[i]));
        check(label, s && !strncmp(s, "v1:", 3) && o && !strcmp(o, samples[i]));
        free(s);
        crypto_free_secret(o);
    }
    char *big = malloc(100001);
    memset(big, 'q', 100000);
    big[100000] = '\0';
    char *s = crypto_seal(big), *o = crypto_open(s);
    check("seal/open round trip 100000 bytes", o && !strcmp(o, big));
    free(s);
    crypto_free_secret(o);
    free(big);

    char *s1 = crypto_seal("same"), *s2 = crypto_seal("same");
    check("two seals of the same text differ (random nonce)", s1 && s2 && strcmp(s1, s2) != 0);
    size_t rawlen = 0;
    unsigned char *raw = crypto_b64_decode(s1 + 3, &rawlen);
    check("sealed layout: nonce12 || ciphertext || tag16", raw && rawlen == 12 + 4 + 16);
    /* flip one bit in every byte position in turn: nonce, ciphertext and tag are all authenticated */
    int all_rejected = raw != NULL;
    for (size_t i = 0; raw && i < rawlen; i++) {
        raw[i] ^= 0x01;
        char *b = crypto_b64_encode(raw, rawlen);
        size_t bl = strlen(b);
        char *t = malloc(bl + 4);
        memcpy(t, "v1:", 3);
        memcpy(t + 3, b, bl + 1);
        char *r = crypto_open(t);
        if (r != NULL) all_rejected = 0;
        crypto_free_secret(r);
        free(t);
        free(b);
        raw[i] ^= 0x01;
    }
    check("tamper: a flipped bit anywhere -> NULL", all_rejected);
    free(raw);
    char *t = strdup(s1);
    t[5] = t[5] == 'A' ? 'B' : 'A';
    char *r = crypto_open(t);
    check("tamper: changed base64 char -> NULL", r == NULL);
    crypto_free_secret(r);
    t[strlen(t) - 4] = '\0';
    r = crypto_open(t);
    check("truncated sealed text -> NULL", r == NULL);
    crypto_free_secret(r);
    free(t);
    r = crypto_open(s1 + 3);
    check("missing v1: prefix -> NULL", r == NULL);
    crypto_free_secret(r);
    r = crypto_open("v1:AAAA");
    check("too short -> NULL", r == NULL);
    crypto_free_secret(r);
    r = crypto_open("v1:not base64!");
    check("not base64 -> NULL", r == NULL);
    crypto_free_secret(r);
    r = crypto_open(NULL);
    check("NULL -> NULL", r == NULL);

    if (crypto_init(KEY_B, NULL, 0, err, sizeof err) != 0) check("init key B", 0);
    r = crypto_open(s1);
    check("wrong key -> NULL", r == NULL);
    crypto_free_secret(r);
    if (crypto_init(KEY_A, NULL, 0, err, sizeof err) != 0) check("init key A again", 0);
    r = crypto_open(s1);
    check("right key again -> opens", r && !strcmp(r, "same"));
    crypto_free_secret(r);
    free(s1);
    free(s2);
    crypto_free_secret(NULL);
    check("crypto_free_secret(NULL) is a no-op", 1);
}

static void test_digests(void) {
    char hex[65];
    crypto_sha256_hex("abc", 3, hex);
    check("sha256(\"abc\") FIPS 180-2", !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    crypto_sha256_hex("", 0, hex);
    check("sha256(\"\")", !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    crypto_sha256_hex(NULL, 0, hex);
    check("sha256(NULL, 0) == sha256(\"\")",
          !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    const char *msg = "what do ya want for nothing?";
    crypto_hmac_sha256_hex("Jefe", 4, msg, strlen(msg), hex);
    check("HMAC-SHA256 RFC 4231 test case 2 (hex)",
          !strcmp(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
    unsigned char mac[32];
    crypto_hmac_sha256("Jefe", 4, msg, strlen(msg), mac);
    check("HMAC-SHA256 RFC 4231 test case 2 (raw)", mac[0] == 0x5b && mac[1] == 0xdc && mac[31] == 0x43);
    unsigned char key1[20];
    memset(key1, 0x0b, sizeof key1);
    crypto_hmac_sha256_hex(key1, sizeof key1, "Hi There", 8, hex);
    check("HMAC-SHA256 RFC 4231 test case 1",
          !strcmp(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
    crypto_hmac_sha256_hex("", 0, "", 0, hex);
    check("HMAC-SHA256 empty key and message",
          !strcmp(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"));

    check("streq_ct equal", crypto_streq_ct("abc", "abc"));
    check("streq_ct differs", !crypto_streq_ct("abc", "abd"));
    check("streq_ct prefix differs", !crypto_streq_ct("abc", "abcd") && !crypto_streq_ct("", "a"));
    check("streq_ct empty equal", crypto_streq_ct("", ""));
    check("streq_ct NULL", !crypto_streq_ct(NULL, "a") && !crypto_streq_ct("a", NULL) && !crypto_streq_ct(NULL, NULL));
}

static void test_passwords(void) {
    /* the default work factor is OWASP's for PBKDF2-HMAC-SHA256, and the hash carries it */
    check("default work factor is OWASP's 600,000", CRYPTO_PBKDF2_ITER_DEFAULT == 600000L);
    char *d = crypto_password_hash("S3cret-pass!", CRYPTO_PBKDF2_ITER_DEFAULT);
    check("password hash format pbkdf2$600000$<32 hex>$<64 hex>",
          d && !strncmp(d, "pbkdf2$600000$", 14) && strlen(d) == 14 + 32 + 1 + 64 && d[14 + 32] == '$');
    check("iterations read back", crypto_password_iterations(d) == 600000L);
    check("600,000-iteration hash verifies", crypto_password_verify("S3cret-pass!", d) == 1);
    free(d);
    /* a hash of the old 20,000-iteration format keeps verifying (re-hashed by the API on login) */
    char *old = crypto_password_hash("S3cret-pass!", 20000);
    check("legacy 20000-iteration hash verifies", old && !strncmp(old, "pbkdf2$20000$", 13) &&
                                                   crypto_password_verify("S3cret-pass!", old) == 1 &&
                                                   crypto_password_iterations(old) == 20000);
    free(old);
    check("work factor bounds", crypto_password_hash("x", CRYPTO_PBKDF2_ITER_MIN - 1) == NULL &&
                                    crypto_password_hash("x", 5000001L) == NULL);
    check("iterations of malformed hashes are 0",
          crypto_password_iterations(NULL) == 0 && crypto_password_iterations("pbkdf2$x$") == 0 &&
              crypto_password_iterations("pbkdf2$12") == 0 && crypto_password_iterations("bcrypt$1$a$b") == 0);
    crypto_password_work(1000); /* no crash, nothing to check but its cost (tests/test_auth_hardening.py) */
    crypto_password_work(0);

    char *h = crypto_password_hash("S3cret-pass!", 1000);
    check("password hash format pbkdf2$1000$<32 hex>$<64 hex>",
          h && !strncmp(h, "pbkdf2$1000$", 12) && strlen(h) == 12 + 32 + 1 + 64 && h[12 + 32] == '$');
    check("password verify: right password", crypto_password_verify("S3cret-pass!", h) == 1);
    check("password verify: wrong password", crypto_password_verify("S3cret-pass?", h) == 0);
    check("password verify: empty password", crypto_password_verify("", h) == 0);
    char *h2 = crypto_password_hash("S3cret-pass!", 1000);
    check("password hash is salted (two hashes differ)", h2 && strcmp(h, h2) != 0);
    if (h) {
        char *t = strdup(h);
        t[strlen(t) - 1] = t[strlen(t) - 1] == '0' ? '1' : '0';
        check("password verify: tampered hash", crypto_password_verify("S3cret-pass!", t) == 0);
        free(t);
    }
    char *e = crypto_password_hash("", 1000);
    check("empty password hashes and verifies", e && crypto_password_verify("", e) == 1 &&
                                                    crypto_password_verify("x", e) == 0);
    /* known answer: PBKDF2-HMAC-SHA256("password", "salt", 1, 32) from RFC 7914 / common test vectors */
    check("password verify: known PBKDF2 answer (1 iteration)",
          crypto_password_verify("password", "pbkdf2$1$73616c74$"
                                             "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b") == 1);
    const char *bad[] = {
        "", "pbkdf2", "pbkdf2$$73616c74$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        "pbkdf2$0$73616c74$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        "pbkdf2$-1$73616c74$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        "pbkdf2$99999999999$73616c74$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        "pbkdf2$1$$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        "pbkdf2$1$7361$6c74$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        "pbkdf2$1$73616c7$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
        "pbkdf2$1$73616c74$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17",
        "pbkdf2$1$73616c74$",
        "bcrypt$1$73616c74$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char label[64];
        snprintf(label, sizeof label, "password verify rejects malformed stored hash #%zu", i);
        check(label, crypto_password_verify("password", bad[i]) == 0);
    }
    check("password verify NULLs", crypto_password_verify(NULL, h) == 0 && crypto_password_verify("x", NULL) == 0);
    free(h);
    free(h2);
    free(e);
}

static void test_tokens(void) {
    char a[70], b[70];
    int rc = crypto_random_token(a, sizeof a, 64);
    int ok = rc == 0 && strlen(a) == 64;
    for (size_t i = 0; ok && i < 64; i++)
        ok = (a[i] >= 'A' && a[i] <= 'Z') || (a[i] >= 'a' && a[i] <= 'z') || (a[i] >= '0' && a[i] <= '9');
    check("random token: 64 chars of [A-Za-z0-9]", ok);
    check("random token: two tokens differ", crypto_random_token(b, sizeof b, 64) == 0 && strcmp(a, b) != 0);
    check("random token: n == outlen rejected", crypto_random_token(a, 64, 64) == ROMA_EINVAL);
    check("random token: n = 0 gives \"\"", crypto_random_token(a, sizeof a, 0) == 0 && a[0] == '\0');
}

static void test_b64(void) {
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char label[64];
        char *e = crypto_b64_encode(plain[i], strlen(plain[i]));
        size_t n = 99;
        unsigned char *d = crypto_b64_decode(enc[i], &n);
        snprintf(label, sizeof label, "base64 RFC 4648 \"%s\" <-> \"%s\"", plain[i], enc[i]);
        check(label, e && !strcmp(e, enc[i]) && d && n == strlen(plain[i]) && !memcmp(d, plain[i], n));
        free(e);
        free(d);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    int ok = 1;
    for (size_t len = 0; len <= 256; len++) {
        char *e = crypto_b64_encode(all + (256 - len), len);
        size_t n = 0;
        unsigned char *d = e ? crypto_b64_decode(e, &n) : NULL;
        if (!d || n != len || memcmp(d, all + (256 - len), len) != 0) ok = 0;
        free(e);
        free(d);
    }
    check("base64 round trip of binary data, lengths 0..256", ok);
    const char *bad[] = {"Zg=", "Zg", "Z===", "====", "Zm9v\n", " Zm9v", "Zm=v", "Zm9v*A==", "Zm9vYg=a", "Zg==Zg==",
                         "-_8=", "Zm9\0v"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char label[64];
        size_t n = 0;
        unsigned char *d = crypto_b64_decode(bad[i], &n);
        snprintf(label, sizeof label, "base64 decode rejects #%zu", i);
        check(label, d == NULL);
        free(d);
    }
    size_t n;
    check("base64 decode NULL", crypto_b64_decode(NULL, &n) == NULL);
}

int main(void) {
    log_init("test", "error"); /* the mode warning is expected; keep the output to one line per check */
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_init();
    test_seal();
    test_digests();
    test_passwords();
    test_tokens();
    test_b64();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
