// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ledger checkpoints: the head (seq, hash, time) as a signed JSON line a user stores away from the ledger. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "joule/jcs.h"
#include "joule/ledger_checkpoint.h"

int ledger_checkpoint_format(const struct ledger_checkpoint *cp, const struct ledger_key *key, char **out)
{
	cJSON *o = cJSON_CreateObject();
	char *body = NULL;
	size_t len;
	int err = -ENOMEM;

	*out = NULL;
	if (!o)
		return -ENOMEM;
	if (!cJSON_AddStringToObject(o, "kind", "checkpoint") || ledger_json_add_u64(o, "seq", cp->seq) ||
	    !cJSON_AddStringToObject(o, "hash", cp->hash) || ledger_json_add_ns(o, "ts", cp->ts_ns) ||
	    ledger_json_add_u64(o, "records", cp->records))
		goto out;
	if (key) {
		char pk[LEDGER_PUBKEY_HEX + 1], sig[LEDGER_SIG_HEX + 1];

		sodium_bin2hex(pk, sizeof(pk), key->pk, sizeof(key->pk));
		if (!cJSON_AddStringToObject(o, "pubkey", pk) || !cJSON_AddStringToObject(o, "key_id", key->key_id))
			goto out;
		err = jcs_serialize(o, &body, &len);
		if (err)
			goto out;
		ledger_key_sign_hex(key, body, len, sig);
		free(body);
		body = NULL;
		err = -ENOMEM;
		if (!cJSON_AddStringToObject(o, "sig", sig))
			goto out;
	}
	err = jcs_serialize(o, &body, &len);
	if (err)
		goto out;
	body[len] = '\n';	/* jcs_serialize leaves room for its NUL */
	*out = realloc(body, len + 2);
	if (!*out) {
		free(body);
		err = -ENOMEM;
		goto out;
	}
	(*out)[len + 1] = '\0';
	err = 0;
out:
	cJSON_Delete(o);
	return err;
}

__attribute__((format(printf, 3, 4)))
static int bad(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

int ledger_checkpoint_parse(const char *text, size_t len, const unsigned char *pin,
			    struct ledger_checkpoint *cp, char *why, size_t whylen)
{
	cJSON *o, *kind, *seq, *hash, *ts, *recs, *pk, *sig;
	char *body = NULL;
	size_t blen;
	int err = 0;

	memset(cp, 0, sizeof(*cp));
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	o = cJSON_ParseWithLength(text, len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return bad(why, whylen, "not a JSON object (a checkpoint is what 'joule ledger head' prints)");
	}
	kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
	seq = cJSON_GetObjectItemCaseSensitive(o, "seq");
	hash = cJSON_GetObjectItemCaseSensitive(o, "hash");
	ts = cJSON_GetObjectItemCaseSensitive(o, "ts");
	recs = cJSON_GetObjectItemCaseSensitive(o, "records");
	pk = cJSON_GetObjectItemCaseSensitive(o, "pubkey");
	if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "checkpoint") != 0)
		err = bad(why, whylen, "\"kind\" is not \"checkpoint\"");
	else if (!ledger_json_is_uint(seq, 0))
		err = bad(why, whylen, "\"seq\" missing or not a non-negative integer");
	else if (!cJSON_IsString(hash) || !ledger_is_hex(hash->valuestring, LEDGER_HASH_HEX))
		err = bad(why, whylen, "\"hash\" missing or not 64 lowercase hex digits");
	else if (!ledger_json_get_ns(ts, &cp->ts_ns))
		err = bad(why, whylen, "\"ts\" missing or not a decimal ns string");
	if (err)
		goto out;
	cp->seq = (uint64_t)seq->valuedouble;
	snprintf(cp->hash, sizeof(cp->hash), "%s", hash->valuestring);
	if (cJSON_IsNumber(recs) && recs->valuedouble >= 0)
		cp->records = (uint64_t)recs->valuedouble;
	if (!pk) {
		if (pin)
			err = bad(why, whylen, "the checkpoint is unsigned, but a key is pinned");
		goto out;
	}
	if (!cJSON_IsString(pk) || ledger_pubkey_from_hex(pk->valuestring, cp->pubkey)) {
		err = bad(why, whylen, "\"pubkey\" is not 64 hex digits");
		goto out;
	}
	if (pin && memcmp(pin, cp->pubkey, 32) != 0) {
		char want[LEDGER_KEY_ID_HEX + 1], got[LEDGER_KEY_ID_HEX + 1];

		ledger_key_id(cp->pubkey, got);
		ledger_key_id(pin, want);
		err = bad(why, whylen, "the checkpoint is signed by key %s, not by the pinned key %s", got, want);
		goto out;
	}
	sig = cJSON_DetachItemFromObjectCaseSensitive(o, "sig");
	err = jcs_serialize(o, &body, &blen);
	if (err)
		err = bad(why, whylen, "the checkpoint has no canonical form: %s", strerror(-err));
	else if (!cJSON_IsString(sig) || !ledger_sig_verify_hex(cp->pubkey, sig->valuestring, body, blen))
		err = bad(why, whylen, "the checkpoint's signature is missing or does not verify");
	else
		cp->is_signed = true;
	cJSON_Delete(sig);
	free(body);
out:
	cJSON_Delete(o);
	return err;
}
