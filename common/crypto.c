/* crypto.c: OpenROMA's cryptographic primitives on top of OpenSSL libcrypto (see crypto.h).
 * Holds the one piece of process-global crypto state: the 256-bit data-encryption key used to seal
 * secrets at rest (AES-256-GCM). It is set once by crypto_init() at process start, before any thread
 * that seals or opens is started, and is read-only afterwards. */
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "log.h"

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define SEAL_PREFIX "v1:"

/* PBKDF2 work factor: the caller passes it (ROMA_PASSWORD_ITERATIONS, default
 * CRYPTO_PBKDF2_ITER_DEFAULT = OWASP's 600,000 for PBKDF2-HMAC-SHA256). Each hash carries its own count,
 * so older hashes (20,000 before issue 8) keep verifying and are re-hashed on the next good login. */
#define PBKDF2_SALT_LEN 16
#define PBKDF2_HASH_LEN 32
/* Upper bound accepted when verifying, so a corrupted/hostile stored hash cannot pin a CPU. */
#define PBKDF2_ITER_MAX 5000000L

static unsigned char g_key[KEY_LEN];
static int g_key_set;

/* ---- small helpers ------------------------------------------------------------------------------ */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes exactly 2*n hex chars (either case) from s. 0 or -1. */
static int hex_decode_n(const char *s, size_t slen, unsigned char *out, size_t n) {
    if (slen != 2 * n) return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

static void hex_encode(const unsigned char *in, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Parses the key text of a key file or ROMA_SECRET_KEY: 64 hex chars, trailing whitespace allowed. */
static int parse_key_text(const char *text, size_t len, unsigned char key[KEY_LEN]) {
    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' ' ||
                       text[len - 1] == '\t'))
        len--;
    return hex_decode_n(text, len, key, KEY_LEN);
}

/* Reads up to cap-1 bytes of fd into buf (NUL-terminated). Returns the length or -1. */
static ssize_t read_small(int fd, char *buf, size_t cap) {
    size_t got = 0;
    while (got < cap - 1) {
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    return (ssize_t)got;
}

static int write_all(int fd, const char *buf, size_t len) {
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Creates key_file holding a fresh random key. Returns 0, 1 when another process created the file
 * first (caller then reads it), or a negative code.
 * Why the temp file + link(): the key must appear complete or not at all. A process that opened the
 * final path with O_CREAT|O_EXCL and then wrote would let a concurrently starting process read an
 * empty or half-written key and seal secrets with garbage. link() fails with EEXIST atomically, so two
 * racing creators agree on one key. */
static int create_key_file(const char *key_file, char *err, size_t errlen) {
    unsigned char key[KEY_LEN];
    char text[2 * KEY_LEN + 2];
    char tmp[PATH_MAX];
    int rc = ROMA_EIO;

    unsigned char nonce[8];
    char nonce_hex[17];
    if (RAND_bytes(key, KEY_LEN) != 1 || RAND_bytes(nonce, sizeof nonce) != 1) {
        snprintf(err, errlen, "RAND_bytes failed while creating %s", key_file);
        OPENSSL_cleanse(key, sizeof key);
        return ROMA_EIO;
    }
    /* A random temp name: a pid could collide across containers sharing the directory. */
    hex_encode(nonce, sizeof nonce, nonce_hex);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%s", key_file, nonce_hex) >= (int)sizeof tmp) {
        snprintf(err, errlen, "key file path too long: %s", key_file);
        OPENSSL_cleanse(key, sizeof key);
        return ROMA_EINVAL;
    }
    hex_encode(key, KEY_LEN, text);
    text[2 * KEY_LEN] = '\n';
    text[2 * KEY_LEN + 1] = '\0';

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create key file %s: %s", tmp, strerror(errno));
        goto out;
    }
    /* The umask can only remove bits, but make the mode exact regardless. */
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, 2 * KEY_LEN + 1) != 0 || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write key file %s: %s", tmp, strerror(errno));
        close(fd);
        (void)unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) {
        snprintf(err, errlen, "cannot write key file %s: %s", tmp, strerror(errno));
        (void)unlink(tmp);
        goto out;
    }
    if (link(tmp, key_file) != 0) {
        int e = errno;
        (void)unlink(tmp);
        if (e == EEXIST) {
            rc = 1;
            goto out;
        }
        snprintf(err, errlen, "cannot create key file %s: %s", key_file, strerror(e));
        goto out;
    }
    (void)unlink(tmp);
    memcpy(g_key, key, KEY_LEN);
    g_key_set = 1;
    log_info(NULL, "crypto.key_created", "created data-encryption key file %s (mode 0600)", key_file);
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(text, sizeof text);
    return rc;
}

static int load_key_file(const char *key_file, int create_if_missing, char *err, size_t errlen) {
    char text[256];
    unsigned char key[KEY_LEN];
    int fd = open(key_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create_if_missing) {
        int rc = create_key_file(key_file, err, errlen);
        if (rc <= 0) return rc;
        fd = open(key_file, O_RDONLY | O_CLOEXEC); /* lost the race: read the winner's key */
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot open key file %s: %s", key_file, strerror(errno));
        return errno == ENOENT ? ROMA_EINVAL : ROMA_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat key file %s: %s", key_file, strerror(errno));
        close(fd);
        return ROMA_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "key file %s is not a regular file", key_file);
        close(fd);
        return ROMA_EINVAL;
    }
    /* Warn only: refusing would break deployments that mount the key read-only for a group
     * (container secrets), and the operator gets a clear message to fix it. */
    if (st.st_mode & 077)
        log_warn(NULL, "crypto.key_mode", "key file %s has mode %04o; it should be 0600 (chmod 600 %s)",
                 key_file, (unsigned)(st.st_mode & 07777), key_file);
    ssize_t n = read_small(fd, text, sizeof text);
    int saved = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read key file %s: %s", key_file, strerror(saved));
        OPENSSL_cleanse(text, sizeof text);
        return ROMA_EIO;
    }
    int bad = parse_key_text(text, (size_t)n, key) != 0;
    OPENSSL_cleanse(text, sizeof text);
    if (bad) {
        snprintf(err, errlen, "key file %s must hold exactly 64 hex characters", key_file);
        OPENSSL_cleanse(key, sizeof key);
        return ROMA_EINVAL;
    }
    memcpy(g_key, key, KEY_LEN);
    g_key_set = 1;
    OPENSSL_cleanse(key, sizeof key);
    return 0;
}

int crypto_init(const char *key_hex, const char *key_file, int create_if_missing, char *err, size_t errlen) {
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (key_hex != NULL && key_hex[0] != '\0') {
        unsigned char key[KEY_LEN];
        if (parse_key_text(key_hex, strlen(key_hex), key) != 0) {
            snprintf(err, errlen, "ROMA_SECRET_KEY must be exactly 64 hex characters");
            return ROMA_EINVAL;
        }
        memcpy(g_key, key, KEY_LEN);
        g_key_set = 1;
        OPENSSL_cleanse(key, sizeof key);
        return 0;
    }
    if (key_file == NULL || key_file[0] == '\0') {
        snprintf(err, errlen, "no secret key: set ROMA_SECRET_KEY or ROMA_SECRET_KEY_FILE");
        return ROMA_EINVAL;
    }
    return load_key_file(key_file, create_if_missing, err, errlen);
}

/* ---- sealing ------------------------------------------------------------------------------------ */

char *crypto_seal(const char *plaintext) {
    if (plaintext == NULL || !g_key_set) return NULL;
    size_t ptlen = strlen(plaintext);
    if (ptlen > (size_t)INT_MAX - NONCE_LEN - TAG_LEN) return NULL;
    size_t rawlen = NONCE_LEN + ptlen + TAG_LEN;
    unsigned char *raw = malloc(rawlen);
    if (raw == NULL) return NULL;
    char *b64 = NULL, *out = NULL;
    int len = 0, fin = 0;
    size_t blen;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) goto done;
    /* A random 96-bit nonce per message: safe for far more than the 2^32 messages per key GCM allows. */
    if (RAND_bytes(raw, NONCE_LEN) != 1) goto done;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, g_key, raw) != 1) goto done;
    if (EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &len, (const unsigned char *)plaintext, (int)ptlen) != 1)
        goto done;
    if (EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + len, &fin) != 1) goto done;
    if ((size_t)len + (size_t)fin != ptlen) goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + ptlen) != 1) goto done;
    b64 = crypto_b64_encode(raw, rawlen);
    if (b64 == NULL) goto done;
    blen = strlen(b64);
    out = malloc(sizeof SEAL_PREFIX - 1 + blen + 1);
    if (out == NULL) goto done;
    memcpy(out, SEAL_PREFIX, sizeof SEAL_PREFIX - 1);
    memcpy(out + sizeof SEAL_PREFIX - 1, b64, blen + 1);
done:
    EVP_CIPHER_CTX_free(ctx);
    free(b64);
    OPENSSL_cleanse(raw, rawlen);
    free(raw);
    return out;
}

char *crypto_open(const char *sealed) {
    if (sealed == NULL || !g_key_set || strncmp(sealed, SEAL_PREFIX, sizeof SEAL_PREFIX - 1) != 0)
        return NULL;
    size_t rawlen = 0;
    unsigned char *raw = crypto_b64_decode(sealed + sizeof SEAL_PREFIX - 1, &rawlen);
    if (raw == NULL) return NULL;
    char *pt = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    int ok = 0, len = 0, fin = 0;
    size_t ctlen = 0;
    if (rawlen < NONCE_LEN + TAG_LEN || rawlen > (size_t)INT_MAX) goto done;
    ctlen = rawlen - NONCE_LEN - TAG_LEN;
    pt = malloc(ctlen + 1);
    if (pt == NULL) goto done;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) goto done;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, g_key, raw) != 1) goto done;
    if (EVP_DecryptUpdate(ctx, (unsigned char *)pt, &len, raw + NONCE_LEN, (int)ctlen) != 1) goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + ctlen) != 1) goto done;
    /* Final checks the tag: any flipped bit in nonce, ciphertext or tag, or a wrong key, fails here. */
    if (EVP_DecryptFinal_ex(ctx, (unsigned char *)pt + len, &fin) != 1) goto done;
    if ((size_t)len + (size_t)fin != ctlen) goto done;
    pt[ctlen] = '\0';
    /* crypto_seal only ever seals NUL-terminated text; an embedded NUL would silently truncate. */
    if (memchr(pt, '\0', ctlen) != NULL) goto done;
    ok = 1;
done:
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(raw, rawlen);
    free(raw);
    if (!ok && pt != NULL) {
        OPENSSL_cleanse(pt, ctlen + 1);
        free(pt);
        pt = NULL;
    }
    return pt;
}

void crypto_free_secret(char *s) {
    if (s == NULL) return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* ---- digests ------------------------------------------------------------------------------------ */

void crypto_sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char md[32];
    unsigned int mdlen = 0;
    static const unsigned char empty = 0;
    if (EVP_Digest(data != NULL ? data : &empty, data != NULL ? len : 0, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32) {
        out[0] = '\0'; /* never a digest a peer could match */
        return;
    }
    hex_encode(md, 32, out);
}

static int hmac_raw(const void *key, size_t keylen, const void *msg, size_t msglen, unsigned char out[32]) {
    static const unsigned char empty = 0;
    unsigned int outlen = 0;
    /* OpenSSL treats a NULL key specially (re-use of a previous key); pass a real pointer instead. */
    if (key == NULL || keylen == 0) {
        key = &empty;
        keylen = 0;
    }
    if (msg == NULL) {
        msg = &empty;
        msglen = 0;
    }
    if (keylen > INT_MAX) return -1;
    if (HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, out, &outlen) == NULL || outlen != 32) return -1;
    return 0;
}

void crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen, unsigned char out[32]) {
    if (hmac_raw(key, keylen, msg, msglen, out) != 0) {
        /* The API has no error path; never leave a predictable (e.g. all-zero) MAC an attacker could
         * match. Random bytes match nothing; if even that fails there is no safe way on. */
        if (RAND_bytes(out, 32) != 1) abort();
    }
}

void crypto_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen, char out[65]) {
    unsigned char mac[32];
    if (hmac_raw(key, keylen, msg, msglen, mac) != 0) {
        out[0] = '\0'; /* matches no 64-hex signature */
        return;
    }
    hex_encode(mac, 32, out);
    OPENSSL_cleanse(mac, sizeof mac);
}

int crypto_streq_ct(const char *a, const char *b) {
    if (a == NULL || b == NULL) return 0;
    size_t la = strlen(a), lb = strlen(b);
    /* Only the length leaks; every value compared here (signatures, digests) has a public length. */
    if (la != lb) return 0;
    return CRYPTO_memcmp(a, b, la) == 0;
}

/* ---- passwords ---------------------------------------------------------------------------------- */

char *crypto_password_hash(const char *password, long iterations) {
    if (password == NULL || iterations < CRYPTO_PBKDF2_ITER_MIN || iterations > PBKDF2_ITER_MAX) return NULL;
    unsigned char salt[PBKDF2_SALT_LEN], dk[PBKDF2_HASH_LEN];
    char salt_hex[2 * PBKDF2_SALT_LEN + 1], dk_hex[2 * PBKDF2_HASH_LEN + 1];
    char *out = NULL;
    size_t pwlen = strlen(password);
    if (pwlen > INT_MAX) return NULL;
    if (RAND_bytes(salt, sizeof salt) != 1) return NULL;
    if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, sizeof salt, (int)iterations, EVP_sha256(), sizeof dk, dk) != 1)
        goto done;
    hex_encode(salt, sizeof salt, salt_hex);
    hex_encode(dk, sizeof dk, dk_hex);
    size_t cap = 7 + 12 + 1 + sizeof salt_hex + 1 + sizeof dk_hex;
    out = malloc(cap);
    if (out == NULL) goto done;
    snprintf(out, cap, "pbkdf2$%ld$%s$%s", iterations, salt_hex, dk_hex);
done:
    OPENSSL_cleanse(dk, sizeof dk);
    OPENSSL_cleanse(dk_hex, sizeof dk_hex);
    return out;
}

long crypto_password_iterations(const char *stored) {
    if (stored == NULL || strncmp(stored, "pbkdf2$", 7) != 0) return 0;
    const char *p = stored + 7, *q = p;
    /* iterations: plain decimal, no sign, bounded */
    long iter = 0;
    while (*q >= '0' && *q <= '9') {
        iter = iter * 10 + (*q - '0');
        if (iter > PBKDF2_ITER_MAX) return 0;
        q++;
    }
    return q == p || *q != '$' || iter < 1 ? 0 : iter;
}

int crypto_password_verify(const char *password, const char *stored) {
    long iter = crypto_password_iterations(stored);
    if (password == NULL || iter == 0) return 0;
    const char *salt_hex = strchr(stored + 7, '$') + 1; /* crypto_password_iterations checked the '$' */
    const char *d = strchr(salt_hex, '$');
    if (d == NULL) return 0;
    size_t salt_hex_len = (size_t)(d - salt_hex);
    const char *dk_hex = d + 1;
    size_t dk_hex_len = strlen(dk_hex);
    unsigned char salt[64], want[PBKDF2_HASH_LEN], got[PBKDF2_HASH_LEN];
    if (salt_hex_len == 0 || salt_hex_len % 2 != 0 || salt_hex_len / 2 > sizeof salt) return 0;
    if (hex_decode_n(salt_hex, salt_hex_len, salt, salt_hex_len / 2) != 0) return 0;
    if (hex_decode_n(dk_hex, dk_hex_len, want, sizeof want) != 0) return 0;
    size_t pwlen = strlen(password);
    int ok = 0;
    if (pwlen <= INT_MAX &&
        PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)(salt_hex_len / 2), (int)iter, EVP_sha256(), sizeof got,
                          got) == 1)
        ok = CRYPTO_memcmp(got, want, sizeof got) == 0;
    OPENSSL_cleanse(got, sizeof got);
    OPENSSL_cleanse(want, sizeof want);
    return ok;
}

void crypto_password_work(long iterations) {
    if (iterations < 1) return;
    if (iterations > PBKDF2_ITER_MAX) iterations = PBKDF2_ITER_MAX;
    /* the same primitive, salt and output sizes as a real verify, so it costs the same per iteration */
    static const unsigned char salt[PBKDF2_SALT_LEN] = {0};
    unsigned char dk[PBKDF2_HASH_LEN];
    (void)PKCS5_PBKDF2_HMAC("openroma-dummy-password", 23, salt, sizeof salt, (int)iterations, EVP_sha256(),
                            sizeof dk, dk);
    OPENSSL_cleanse(dk, sizeof dk);
}

/* ---- tokens ------------------------------------------------------------------------------------- */

int crypto_random_token(char *out, size_t outlen, size_t n) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (out == NULL || n >= outlen) return ROMA_EINVAL;
    unsigned char buf[64];
    size_t filled = 0;
    while (filled < n) {
        if (RAND_bytes(buf, sizeof buf) != 1) {
            OPENSSL_cleanse(buf, sizeof buf);
            out[0] = '\0';
            return ROMA_EIO;
        }
        /* Rejection sampling: 248 = 4*62, so accepted bytes map uniformly onto the 62 symbols. */
        for (size_t i = 0; i < sizeof buf && filled < n; i++)
            if (buf[i] < 248) out[filled++] = alphabet[buf[i] % 62];
    }
    out[n] = '\0';
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

/* ---- base64 ------------------------------------------------------------------------------------- */

char *crypto_b64_encode(const void *data, size_t len) {
    if (data == NULL && len != 0) return NULL;
    if (len > (size_t)INT_MAX / 4 * 3 - 3) return NULL;
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(cap);
    if (out == NULL) return NULL;
    if (len == 0) {
        out[0] = '\0';
        return out;
    }
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len); /* writes the NUL too */
    if (n < 0 || (size_t)n != cap - 1) {
        free(out);
        return NULL;
    }
    return out;
}

static int b64_char(int c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

unsigned char *crypto_b64_decode(const char *text, size_t *outlen) {
    if (text == NULL || outlen == NULL) return NULL;
    size_t len = strlen(text);
    /* EVP_DecodeBlock silently skips surrounding whitespace, accepts '=' anywhere and returns a length
     * that counts padding as zero bytes. Validate strictly first so only canonical padded text passes. */
    if (len % 4 != 0 || len > (size_t)INT_MAX) return NULL;
    size_t pad = 0;
    if (len >= 1 && text[len - 1] == '=') pad++;
    if (len >= 2 && text[len - 2] == '=') pad++;
    for (size_t i = 0; i < len - pad; i++)
        if (!b64_char((unsigned char)text[i])) return NULL;
    unsigned char *out = malloc(len / 4 * 3 + 1);
    if (out == NULL) return NULL;
    if (len == 0) {
        *outlen = 0;
        return out;
    }
    int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
    if (n < 0 || (size_t)n != len / 4 * 3) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)n - pad;
    return out;
}
