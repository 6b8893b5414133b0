// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ledger's chain: seal a record (seq, prev_hash, SHA-256 of its canonical bytes, Ed25519 signature) as one line. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "joule/jcs.h"
#include "joule/ledger_chain.h"
#include "joule/log.h"
#include "joule/util.h"

const char ledger_zero_hash[LEDGER_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

void ledger_sha256_hex(const void *buf, size_t len, char out[LEDGER_HASH_HEX + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, buf, len);
	sodium_bin2hex(out, LEDGER_HASH_HEX + 1, h, sizeof(h));
}

bool ledger_is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int ledger_json_add_ns(cJSON *obj, const char *key, uint64_t ns)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, ns);
	return cJSON_AddStringToObject(obj, key, buf) ? 0 : -ENOMEM;
}

bool ledger_json_is_uint(const cJSON *it, uint64_t min)
{
	return cJSON_IsNumber(it) && it->valuedouble >= (double)min && it->valuedouble < (double)JCS_MAX_SAFE_INT &&
	       it->valuedouble == (double)(uint64_t)it->valuedouble;
}

bool ledger_json_get_ns(const cJSON *it, uint64_t *out)
{
	return cJSON_IsString(it) && parse_u64(it->valuestring, out) == 0;
}

void ledger_chain_init(struct ledger_chain *c)
{
	memset(c, 0, sizeof(*c));
	memcpy(c->prev_hash, ledger_zero_hash, sizeof(c->prev_hash));
}

void ledger_chain_advance(struct ledger_chain *c, const char hash[LEDGER_HASH_HEX + 1])
{
	memcpy(c->prev_hash, hash, sizeof(c->prev_hash));
	c->seq_next++;
}

/* Strings from the kernel or argv may be any bytes: make every string valid UTF-8, every number finite. */
static void sanitize_tree(cJSON *it)
{
	for (; it; it = it->next) {
		char *fixed;

		if (it->string && (fixed = jcs_utf8_repair(it->string))) {
			if (!(it->type & cJSON_StringIsConst))
				cJSON_free(it->string);
			it->string = fixed;
			it->type &= ~cJSON_StringIsConst;
		}
		if (cJSON_IsString(it) && (fixed = jcs_utf8_repair(it->valuestring)))
			cJSON_SetValuestring(it, fixed), free(fixed);
		if (cJSON_IsNumber(it) && !isfinite(it->valuedouble))
			it->type = cJSON_NULL;
		if (it->child)
			sanitize_tree(it->child);
	}
}

int ledger_json_add_u64(cJSON *obj, const char *key, uint64_t v)
{
	if (v <= JCS_MAX_SAFE_INT)
		return cJSON_AddNumberToObject(obj, key, (double)v) ? 0 : -ENOMEM;
	return ledger_json_add_ns(obj, key, v);
}

int ledger_chain_seal(const struct ledger_chain *c, cJSON *obj, char **line, size_t *len,
		      char hash[LEDGER_HASH_HEX + 1])
{
	char *body = NULL;
	size_t blen;
	int err;

	*line = NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "seq");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "prev_hash");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "hash");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "sig");
	sanitize_tree(obj->child);
	if (ledger_json_add_u64(obj, "seq", c->seq_next) || !cJSON_AddStringToObject(obj, "prev_hash", c->prev_hash))
		return -ENOMEM;
	err = jcs_serialize(obj, &body, &blen);
	if (err) {
		/* Only ENOMEM or a caller's duplicate key get here: sanitize_tree fixed the rest. */
		log_err("ledger: cannot canonicalize a %s record: %s",
			cJSON_GetStringValue(cJSON_GetObjectItem(obj, "kind")) ?: "?", strerror(-err));
		return err;
	}
	ledger_sha256_hex(body, blen, hash);
	free(body);
	if (!cJSON_AddStringToObject(obj, "hash", hash))
		return -ENOMEM;
	if (c->signing) {
		char sighex[LEDGER_SIG_HEX + 1];

		ledger_key_sign_hex(&c->key, hash, LEDGER_HASH_HEX, sighex);
		if (!cJSON_AddStringToObject(obj, "sig", sighex))
			return -ENOMEM;
	}
	err = jcs_serialize(obj, line, len);
	if (err)
		return err;
	(*line)[(*len)++] = '\n';	/* jcs_serialize leaves room for its NUL */
	return 0;
}
