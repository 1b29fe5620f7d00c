/* crypto.h: every cryptographic primitive OpenROMA uses, wrapped around OpenSSL libcrypto.
 * - secrets at rest: AES-256-GCM with a 256-bit key from ROMA_SECRET_KEY (64 hex) or the key file
 *   named by ROMA_SECRET_KEY_FILE; sealed text is "v1:" + base64(nonce12 || ciphertext || tag16).
 * - digests: SHA-256, HMAC-SHA256 (hex output)
 * - password hashing: PBKDF2-HMAC-SHA256, stored "pbkdf2$<iter>$<salt hex>$<hash hex>"
 * - tokens: random opaque strings; only their SHA-256 is stored. */
#ifndef ROMA_CRYPTO_H
#define ROMA_CRYPTO_H

#include <stddef.h>
#include "errors.h"

/* Loads the data-encryption key. key_hex (64 hex) wins when non-empty; otherwise key_file is read
 * (64 hex chars, optional trailing newline). When create_if_missing and the file does not exist, a new
 * random key is written with mode 0600. Returns 0 or ROMA_EINVAL/ROMA_EIO with a message in err. */
int crypto_init(const char *key_hex, const char *key_file, int create_if_missing, char *err, size_t errlen) ROMA_MUST_USE;

/* Seals plaintext (NUL-terminated). Returns a heap string the caller frees, or NULL. */
char *crypto_seal(const char *plaintext) ROMA_MUST_USE;
/* Opens a sealed string. Returns a heap string the caller frees (wipe it with crypto_free_secret), or NULL
 * when tampered, wrong key or malformed. */
char *crypto_open(const char *sealed) ROMA_MUST_USE;
/* Zeroes then frees a heap secret. NULL is fine. */
void crypto_free_secret(char *s);

void crypto_sha256_hex(const void *data, size_t len, char out[65]);
void crypto_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen, unsigned char out[32]);
void crypto_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen, char out[65]);
/* Constant-time comparison of two NUL-terminated strings. */
int crypto_streq_ct(const char *a, const char *b);

/* Password hashing: PBKDF2-HMAC-SHA256 with a 16-byte random salt. The default work factor is OWASP's
 * Password Storage Cheat Sheet value for PBKDF2-HMAC-SHA256 (600,000 iterations); processes take it from
 * ROMA_PASSWORD_ITERATIONS (tests lower it for speed). */
#define CRYPTO_PBKDF2_ITER_DEFAULT 600000L
#define CRYPTO_PBKDF2_ITER_MIN 1000L
/* A heap string "pbkdf2$<iterations>$<salt hex>$<hash hex>" (caller frees), or NULL (also when iterations
 * is outside CRYPTO_PBKDF2_ITER_MIN..5,000,000). */
char *crypto_password_hash(const char *password, long iterations) ROMA_MUST_USE;
/* 1 when password matches the stored hash (any iteration count up to 5,000,000). */
int crypto_password_verify(const char *password, const char *stored);
/* The iteration count a stored hash carries, or 0 when it is malformed. */
long crypto_password_iterations(const char *stored);
/* Spends what verifying a hash of `iterations` costs, on nothing: logins of unknown users (and top-ups
 * of cheaper old hashes) take as long as a wrong password of a real one. */
void crypto_password_work(long iterations);

/* Random printable token of n chars from [A-Za-z0-9] (n < outlen). 0 or ROMA_EIO. */
int crypto_random_token(char *out, size_t outlen, size_t n) ROMA_MUST_USE;

/* Base64 (standard alphabet, padded). Heap results; NULL on error. decode sets *outlen. */
char *crypto_b64_encode(const void *data, size_t len) ROMA_MUST_USE;
unsigned char *crypto_b64_decode(const char *text, size_t *outlen) ROMA_MUST_USE;

#endif
