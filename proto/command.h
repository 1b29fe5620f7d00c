/* command.h: the message every OpenROMA process exchanges over the broker (a versioned msgpack map).
 *
 * Encoding (PROTO_VERSION 1): one msgpack MAP whose keys are strings:
 *
 *   "version"     int      required, must equal PROTO_VERSION
 *   "type"        str      required, 1..47 bytes: "job.run", "ds.test", "topic.create", "reply", ...
 *   "kind"        str      0..23 bytes: worker kind "asset" | "datasource" | "topic" (routing key)
 *   "rid"         str      0..64 bytes: request id, for logs only
 *   "cid"         str      0..32 bytes: correlation id (request/reply matching)
 *   "deadline_ms" int      epoch milliseconds after which nobody waits for the answer; 0 = none
 *   "status"      int      replies: 0 ok or a negative ROMA_E* code
 *   "noreply"     bool     fire-and-forget command: the worker sends no reply
 *   "body"        any      a JSON value carried as native msgpack (map, array, str, int, float, bool, nil)
 *
 * Only "version" and "type" are always written; the others are written when non-empty / non-zero and
 * read back as empty / zero when absent. Unknown keys are ignored (forward compatibility inside a
 * version); a repeated known key is rejected. Header strings (type, kind, rid, cid) are printable ASCII
 * without spaces (0x21..0x7e) so they can go into logs and frames as they are.
 *
 * Body numbers: cJSON keeps every number as a double. The encoder writes a number as a msgpack int when
 * it is integral and fits int64, otherwise as a float64; the decoder turns any msgpack number back into
 * a cJSON number (so integers beyond +-2^53 lose precision, as they do in JSON). NaN and infinities are
 * rejected both ways (JSON cannot carry them), and so are strings containing NUL bytes, bin and ext.
 * Map member order and duplicate keys are preserved exactly, as cJSON itself keeps them.
 *
 * Limits (the decoder rejects, never crashes on, input that breaks them; the encoder refuses to build
 * such messages so that whatever encodes also decodes):
 *   PROTO_MAX_BYTES     16 MiB   whole encoded message
 *   PROTO_MAX_DEPTH     32       container nesting of the whole message, envelope map included
 *                                (= msgpack-c's own parser stack; a body may nest 31 deep)
 *   PROTO_MAX_STR_BYTES 8 MiB    one string value in the body
 *   PROTO_MAX_KEY_BYTES 4096     one map key in the body
 *   PROTO_MAX_NODES     1 Mi     values in the whole message (bounds the memory a decode can take)
 *
 * Errors: ROMA_EINVAL for malformed input (truncated, trailing bytes, wrong types, missing or unknown
 * version), ROMA_ETOOBIG for a limit, ROMA_ENOMEM for allocation failure. */
#ifndef ROMA_PROTO_COMMAND_H
#define ROMA_PROTO_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include <cJSON.h>

#include "errors.h"

#define PROTO_VERSION 1
#define PROTO_MAX_BYTES (16u * 1024u * 1024u)
#define PROTO_MAX_DEPTH 32
#define PROTO_MAX_STR_BYTES (8u * 1024u * 1024u)
#define PROTO_MAX_KEY_BYTES 4096u
#define PROTO_MAX_NODES (1u << 20)

/* Sizes of the header string buffers, terminating NUL included. */
#define PROTO_TYPE_SIZE 48
#define PROTO_KIND_SIZE 24
#define PROTO_RID_SIZE 65
#define PROTO_CID_SIZE 33

/* Message types used by the transport itself. Service-specific types ("job.run", ...) are free-form. */
#define PROTO_TYPE_REPLY "reply"               /* a worker's answer to a request */
#define PROTO_TYPE_BROKER_ERROR "broker.error" /* the broker answering for a worker: no worker, lost, queue full */
#define PROTO_TYPE_STATS "stats"               /* the broker's STATS answer (body = statistics) */

typedef struct roma_msg {
    int version;                  /* PROTO_VERSION; set by proto_msg_init and by the decoder */
    char type[PROTO_TYPE_SIZE];   /* required */
    char kind[PROTO_KIND_SIZE];   /* routing key, "" in replies built by hand */
    char rid[PROTO_RID_SIZE];     /* request id for logs, may be "" */
    char cid[PROTO_CID_SIZE];     /* correlation id, set by roma_client_call */
    int64_t deadline_ms;          /* epoch ms, 0 = none */
    int status;                   /* replies: 0 or negative ROMA_E* */
    int noreply;                  /* 1 = fire-and-forget */
    cJSON *body;                  /* owned, any JSON value, may be NULL (= absent) */
} roma_msg;

/* Zeroes m and sets version = PROTO_VERSION. Does not free anything (use on fresh storage). */
void proto_msg_init(roma_msg *m);

/* Frees the body and re-initialises m; safe to call twice. */
void proto_msg_clear(roma_msg *m);

/* Fills the routing header of a fresh request: type, kind and rid (rid may be NULL). ROMA_EINVAL when a
 * string is too long or not printable ASCII. The body is left alone. */
int proto_msg_set(roma_msg *m, const char *kind, const char *type, const char *rid) ROMA_MUST_USE;

/* Initialises reply (fresh storage) as the answer to req: type "reply", same kind, rid, cid and
 * deadline, status 0, no body. */
void proto_reply_init(roma_msg *reply, const roma_msg *req);

/* Convenience for error replies: sets status and replaces the body by {"error": message}
 * (message may be NULL: no body). ROMA_ENOMEM when the body could not be built (status is still set). */
int proto_reply_error(roma_msg *reply, int status, const char *message) ROMA_MUST_USE;

/* Encodes m into a new heap buffer (*out, free() it) of *len bytes. On failure *out is NULL.
 * ROMA_EINVAL: bad header string, non-JSON body node (raw, invalid), NaN/Inf, NUL in a string;
 * ROMA_ETOOBIG: a limit above; ROMA_ENOMEM. */
int proto_encode(const roma_msg *m, char **out, size_t *len) ROMA_MUST_USE;

/* Decodes len bytes into *out (fresh storage or a cleared message; it is overwritten). On failure *out
 * is left cleared (no body). The input is not referenced after return. */
int proto_decode(const void *data, size_t len, roma_msg *out) ROMA_MUST_USE;

/* 1 when s is a valid header string for a buffer of size cap (length < cap, bytes 0x21..0x7e; empty
 * allowed). Used by the wire code to validate routing frames. */
int proto_header_ok(const char *s, size_t len, size_t cap);

#endif
