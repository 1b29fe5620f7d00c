/* ds_secrets.h: the secrets inside a datasource's content: which fields they are, sealing them for
 * storage (crypto_seal, AES-256-GCM), masking them in responses, and resolving the "******" mask a
 * client sends back on update or test-connect to the stored value.
 *
 * Secret fields (spec §3.3): content.password, ssl_password, sk, key_store_password,
 * key_store_key_password, trust_store_password, and content.api_auth_detail.password, app_secret,
 * secret, client_secret. Only string values are secrets; null / absent fields are left alone.
 *
 * Invariant kept by the API: a stored content holds every secret sealed ("v1:..."), never in clear;
 * migrations/004_datasources.sql re-checks it with a CHECK constraint. */
#ifndef ROMA_API_DS_SECRETS_H
#define ROMA_API_DS_SECRETS_H

#include <cJSON.h>

#include "ds_validate.h"
#include "errors.h"

#define DS_MASK "******"

/* Replaces every secret string of content by "******" (responses). 0 or ROMA_ENOMEM. */
int ds_secrets_mask(cJSON *content) ROMA_MUST_USE;

/* Prepares content for storage or for the worker: a "******" value is replaced by the sealed value at
 * the same place of stored (NULL on create); any other secret string is sealed. On a mask without a
 * stored value: ROMA_EINVAL with e naming the field. ROMA_EIO when sealing failed (no key). */
int ds_secrets_seal(cJSON *content, const cJSON *stored, ds_verr *e) ROMA_MUST_USE;

/* JSON array of the paths ("password", "api_auth_detail.password") holding a sealed string in content,
 * for the worker to open. NULL on allocation failure. */
cJSON *ds_secrets_sealed_paths(const cJSON *content) ROMA_MUST_USE;

/* 1 when every secret string of content is a sealed value (the storage invariant). */
int ds_secrets_all_sealed(const cJSON *content);

#endif
