/* multipart.h: finds one field of a multipart/form-data body (RFC 7578) already read into memory.
 * Pure (no civetweb): fuzzable and unit-testable. Used by the MQS topic import (field upload_file_name). */
#ifndef ROMA_API_MULTIPART_H
#define ROMA_API_MULTIPART_H

#include <stddef.h>

#include "errors.h"

/* content_type: the request's Content-Type header (must be multipart/form-data with a boundary).
 * On success *data / *len point INTO body (not copied) at the content of the first part whose
 * Content-Disposition names `field`. Returns 0, ROMA_EINVAL (not multipart, no boundary, malformed
 * framing), or ROMA_ENOTFOUND (well-formed, but no such field). */
int multipart_field(const char *content_type, const char *body, size_t body_len, const char *field,
                    const char **data, size_t *len) ROMA_MUST_USE;

#endif
