/* mqs_auth.h: authentication of MQS data-plane requests by an integration app's key and secret (the
 * credentials ROMA gives apps for MQS), in either of two forms:
 *
 *   1. SDK-HMAC-SHA256, exactly as the Huawei Cloud SDK signer (and ROMA's APP authentication) does it,
 *      with the app KEY as the access key and the app SECRET as the secret key:
 *        Authorization: SDK-HMAC-SHA256 Access=<app key>, SignedHeaders=<...>, Signature=<...>
 *        X-Sdk-Date: 20261129T120000Z        (within ROMA_SIGN_MAX_SKEW_S of the server clock)
 *   2. HTTP Basic, for curl:  Authorization: Basic base64(<app key>:<app secret>)
 *
 * App keys are unique within an instance, not across instances: when several apps share a key, the one
 * whose secret verifies wins; an optional X-Instance-Id header narrows the search to one instance. The
 * app's instance is the instance whose topic the request addresses. Credentials are cached for
 * ROMA_MQS_AUTH_CACHE_MS (a secret reset or app deletion applies after at most that long). */
#ifndef ROMA_API_MQS_AUTH_H
#define ROMA_API_MQS_AUTH_H

#include "http.h"

typedef struct mqs_app {
    char id[65];
    char instance_id[65];
} mqs_app;

/* 0 with *app filled, or a negative code after replying 401 (bad or missing credentials) or 503. */
int mqs_auth_app_or_reply(req *r, mqs_app *app) ROMA_MUST_USE;

#endif
