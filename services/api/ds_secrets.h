/* ds_secrets.h: the secrets inside a datasource's content: which fields they are, sealing them for
 * storage (crypto_seal, AES-256-GCM), masking them in responses, and resolving the "******" mask a
 * client sends back on update or test-connect to the stored value.
 *
 * Secret fields: the FS_SECRET fields of the declarative table (ds_validate.h lists them, taken from
 * every type's content in sdk-catalog/fdi.md), plus any undeclared key, at any depth, whose name
 * ds_secret_name() calls secret-like (sasl_password, token, private_key, api_key, ...). Only string
 * values are secrets; null / absent fields are left alone.
 *
 * Invariant kept by the API: a stored content holds every secret sealed ("v1:..."), never in clear;
 * migrations/004_datasources.sql re-checks it with a CHECK constraint (its function is extended to the
 * declared list by 008_datasource_secrets.sql; the name rule is enforced by the API only). */
#ifndef ROMA_API_DS_SECRETS_H
#define ROMA_API_DS_SECRETS_H

#include <cJSON.h>

#include "ds_validate.h"
#include "errors.h"

#define DS_MASK "******"

/* Replaces every secret string of content by "******" (responses). 0 or ROMA_ENOMEM. */
int ds_secrets_mask(cJSON *content) ROMA_MUST_USE;

/* Prepares content for storage or for the worker: a "******" value is replaced by the sealed value at
 * the same place of stored (NULL on create; a stored value still in clear is sealed); any other secret
 * string is sealed. *kept (may be NULL) counts the values taken from stored. On a mask without a
 * stored value: ROMA_EINVAL with e naming the field. ROMA_EIO when sealing failed (no key). */
int ds_secrets_seal(cJSON *content, const cJSON *stored, ds_verr *e, int *kept) ROMA_MUST_USE;

/* JSON array of the paths ("password", "api_auth_detail.password") of declared secrets holding a sealed
 * string in content, for the worker to open. NULL on allocation failure. */
cJSON *ds_secrets_sealed_paths(const cJSON *content) ROMA_MUST_USE;

/* 1 when every secret string of content is a sealed value (the storage invariant). */
int ds_secrets_all_sealed(const cJSON *content);

#endif
