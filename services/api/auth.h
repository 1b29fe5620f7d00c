/* auth.h: authenticates a request by X-Auth-Token (hashed token in PostgreSQL) or by an
 * SDK-HMAC-SHA256 AK/SK signature (shared/spec/auth-signing.md). */
#ifndef ROMA_API_AUTH_H
#define ROMA_API_AUTH_H

#include "http.h"

int auth_init(void) ROMA_MUST_USE;
void auth_shutdown(void);
/* On success fills r->project_id, r->user_id, r->user_name and returns 0; otherwise replies 401
 * (or 503 when the database is down) and returns a negative code. */
int auth_request_or_reply(req *r) ROMA_MUST_USE;
/* {instance_id} of the path exists under r->project_id; otherwise replies the documented not-found. */
int auth_instance_or_reply(req *r, const char *instance_id) ROMA_MUST_USE;

#endif
