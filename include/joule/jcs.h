/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* RFC 8785 (JCS) canonical JSON: ECMAScript number text, minimal string escapes, keys sorted by UTF-16 units. */
#ifndef JOULE_JCS_H
#define JOULE_JCS_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* Largest integer every JSON reader agrees on (I-JSON, RFC 7493): 2^53. */
#define JCS_MAX_SAFE_INT 9007199254740992ULL

/* Room for the longest ECMAScript number text ("-1.2345678901234567e-308") plus NUL. */
#define JCS_NUMBER_MAX 32

/*
 * ECMAScript Number.prototype.toString of v (shortest round-trip digits,
 * exponent form outside [1e-7, 1e21), -0 as "0"). Returns the length, or
 * -EDOM for NaN and infinities, which JSON cannot carry.
 */
int jcs_format_double(double v, char buf[JCS_NUMBER_MAX]);

/*
 * Canonical bytes of a cJSON tree, NUL-terminated, malloc'd into *out
 * (length in *outlen). Errors: -EDOM (NaN/Inf), -EILSEQ (a string or key that
 * is not valid UTF-8), -EEXIST (duplicate key in an object), -EINVAL (raw or
 * invalid cJSON item), -ENOMEM; *out is NULL on error.
 */
int jcs_serialize(const cJSON *item, char **out, size_t *outlen);

/*
 * A copy of s with every byte that is not part of valid UTF-8 replaced by
 * U+FFFD, so text from the kernel (comm) or argv can always be serialized;
 * NULL if s is already valid (or on ENOMEM, with errno set).
 */
char *jcs_utf8_repair(const char *s);

/* Compare two UTF-8 keys by their UTF-16 code units (RFC 8785 §3.2.3); invalid UTF-8 sorts bytewise. */
int jcs_key_cmp(const char *a, const char *b);

#endif /* JOULE_JCS_H */
