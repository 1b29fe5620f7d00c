/* auth.h: authenticates a request by X-Auth-Token (hashed token in PostgreSQL) or by an
 * SDK-HMAC-SHA256 AK/SK signature (shared/spec/auth-signing.md). */
#ifndef ROMA_API_AUTH_H
#define ROMA_API_AUTH_H

#include "http.h"
#include "sign.h"

/* Settings of password logins (ROMA_PASSWORD_ITERATIONS, ROMA_LOGIN_*): load before auth_init. */
int auth_config_load(char *err, size_t errlen) ROMA_MUST_USE;
void auth_config_print(void);
int auth_init(void) ROMA_MUST_USE;
void auth_shutdown(void);
/* On success fills r->project_id, r->user_id, r->user_name and returns 0; otherwise replies 401
 * (or 503 when the database is down) and returns a negative code. */
int auth_request_or_reply(req *r) ROMA_MUST_USE;
/* SDK-HMAC-SHA256 verification in two steps, shared by the AK/SK and the MQS app-key authentication;
 * neither replies (each caller answers with its own error body), both set *why to the reason text.
 * Step 1, before any credential lookup: parses the Authorization header into *a and checks that
 * X-Sdk-Date is well-formed and within ROMA_SIGN_MAX_SKEW_S of the clock, and that SignedHeaders and
 * UNSIGNED-PAYLOAD obey sign_check_policy (host and x-sdk-date signed; unhashed bodies only on upload
 * routes with a non-JSON Content-Type). 0 or ROMA_EDENIED. */
int auth_parse_signature(req *r, const char *authorization, sign_auth *a, const char **why) ROMA_MUST_USE;
/* Step 2, per candidate secret key sk: recomputes the request's signature and compares it in constant
 * time. 0; ROMA_EDENIED when it does not match; ROMA_EINVAL when a header named in SignedHeaders is
 * missing (no other key can match either). */
int auth_check_signature(req *r, const sign_auth *a, const char *sk, const char **why) ROMA_MUST_USE;
/* POST /v3/auth/tokens' check of a user name and password (project_id / project_name: the scope, NULL
 * or "" when absent). 0 with the user's id, project id and project name filled; otherwise the IAM-shaped
 * reply is sent (401 wrong password or locked account, 429 throttled address, 503) and a negative code
 * returned. Constant work whether the user exists or not; failures are counted in PostgreSQL. */
int auth_password_login(req *r, const char *name, const char *password, const char *project_id,
                        const char *project_name, char user_id[33], char out_project_id[33],
                        char out_project_name[256]) ROMA_MUST_USE;
/* {instance_id} of the path exists under r->project_id; otherwise replies the documented not-found. */
int auth_instance_or_reply(req *r, const char *instance_id) ROMA_MUST_USE;

#endif
