// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Verifying a ledger: canonical form, hashes, links, sequence and signatures, line by line or over a series of files. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include "joule/jcs.h"
#include "joule/ledger_keys.h"
#include "joule/ledger_verify.h"
#include "joule/util.h"

const char *ledger_error_name(enum ledger_error e)
{
	switch (e) {
	case LEDGER_OK: return "ok";
	case LEDGER_E_IO: return "read error";
	case LEDGER_E_EMPTY: return "empty ledger";
	case LEDGER_E_TOO_LONG: return "line too long";
	case LEDGER_E_TORN: return "incomplete line";
	case LEDGER_E_JSON: return "bad JSON";
	case LEDGER_E_DUPKEY: return "duplicate key";
	case LEDGER_E_NOT_CANONICAL: return "not canonical";
	case LEDGER_E_SCHEMA: return "bad record";
	case LEDGER_E_HASH: return "hash mismatch";
	case LEDGER_E_LINK: return "broken link";
	case LEDGER_E_GENESIS: return "missing genesis";
	case LEDGER_E_SEQ: return "sequence gap";
	case LEDGER_E_SIGNATURE: return "bad signature";
	case LEDGER_E_HEAD: return "missing records";
	case LEDGER_E_GZIP: return "bad gzip";
	}
	return "unknown";
}

void ledger_verifier_init(struct ledger_verifier *v)
{
	memset(v, 0, sizeof(*v));
	v->at_file_start = true;
}

void ledger_verifier_begin_file(struct ledger_verifier *v)
{
	v->line = 0;
	v->at_file_start = true;
	v->seg_records = 0;
}

__attribute__((format(printf, 3, 4)))
static int vfail(struct ledger_verifier *v, enum ledger_error e, const char *fmt, ...)
{
	va_list ap;

	v->err = e;
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return -EBADMSG;
}

/*
 * A genesis says whether its segment is signed, and by which key. The key
 * in the file proves nothing by itself (whoever rewrites the file writes
 * their own): only a pinned key, given by the reader, does.
 */
static int check_genesis_key(struct ledger_verifier *v, const cJSON *obj, uint64_t seq)
{
	const cJSON *pk = cJSON_GetObjectItemCaseSensitive(obj, "pubkey");
	char want[LEDGER_KEY_ID_HEX + 1], got[LEDGER_KEY_ID_HEX + 1];

	v->signed_chain = false;
	v->segments++;
	if (!pk) {
		v->unsigned_segments++;
		if (v->pinned || v->require_signed)
			return vfail(v, LEDGER_E_SIGNATURE, "unsigned segment (its genesis has no pubkey), "
				     "but signatures are required");
		if (v->ever_signed && !v->first_unsigned_after_signed_seq)
			v->first_unsigned_after_signed_seq = seq;
		return 0;
	}
	if (!cJSON_IsString(pk) || ledger_pubkey_from_hex(pk->valuestring, v->pubkey))
		return vfail(v, LEDGER_E_SCHEMA, "\"pubkey\" is not 64 hex digits");
	if (v->pinned && memcmp(v->pubkey, v->pinned_pk, sizeof(v->pubkey)) != 0) {
		ledger_key_id(v->pubkey, got);
		ledger_key_id(v->pinned_pk, want);
		return vfail(v, LEDGER_E_SIGNATURE, "segment signed by key %s, not by the pinned key %s", got, want);
	}
	v->signed_chain = true;
	v->signed_segments++;
	if (!v->ever_signed)
		memcpy(v->first_pk, v->pubkey, sizeof(v->first_pk));
	else if (memcmp(v->first_pk, v->pubkey, sizeof(v->first_pk)) != 0)
		v->key_changed = true;
	v->ever_signed = true;
	return 0;
}

/* Checks that need the parsed record; obj is modified (hash and sig detached). */
static int verify_record(struct ledger_verifier *v, cJSON *obj, const char *line, size_t len)
{
	char *canon = NULL;
	size_t clen;
	char hash[LEDGER_HASH_HEX + 1];
	cJSON *kind, *seq_it, *prev, *hash_it, *sig_it, *ts0, *ts1;
	uint64_t seq, t0, t1;
	bool genesis;
	int err;

	if (!cJSON_IsObject(obj))
		return vfail(v, LEDGER_E_JSON, "not a JSON object");
	err = jcs_serialize(obj, &canon, &clen);
	if (err == -EEXIST)
		return vfail(v, LEDGER_E_DUPKEY, "an object repeats a member name");
	if (err)
		return vfail(v, LEDGER_E_NOT_CANONICAL, "cannot be canonicalized: %s", strerror(-err));
	if (clen != len || memcmp(canon, line, len) != 0) {
		size_t i = 0;

		while (i < clen && i < len && canon[i] == line[i])
			i++;
		free(canon);
		return vfail(v, LEDGER_E_NOT_CANONICAL, "differs from RFC 8785 form at column %zu", i + 1);
	}
	free(canon);

	kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
	seq_it = cJSON_GetObjectItemCaseSensitive(obj, "seq");
	prev = cJSON_GetObjectItemCaseSensitive(obj, "prev_hash");
	hash_it = cJSON_GetObjectItemCaseSensitive(obj, "hash");
	ts0 = cJSON_GetObjectItemCaseSensitive(obj, "ts_start");
	ts1 = cJSON_GetObjectItemCaseSensitive(obj, "ts_end");
	if (!cJSON_IsString(kind) || strlen(kind->valuestring) >= sizeof(v->last_kind))
		return vfail(v, LEDGER_E_SCHEMA, "\"kind\" missing or not a short string");
	if (!ledger_json_is_uint(seq_it, 0))
		return vfail(v, LEDGER_E_SCHEMA, "\"seq\" missing or not a non-negative integer");
	seq = (uint64_t)seq_it->valuedouble;
	if (!cJSON_IsString(prev) || !ledger_is_hex(prev->valuestring, LEDGER_HASH_HEX))
		return vfail(v, LEDGER_E_SCHEMA, "\"prev_hash\" missing or not 64 lowercase hex digits");
	if (!cJSON_IsString(hash_it) || !ledger_is_hex(hash_it->valuestring, LEDGER_HASH_HEX))
		return vfail(v, LEDGER_E_SCHEMA, "\"hash\" missing or not 64 lowercase hex digits");
	if (!ledger_json_get_ns(ts0, &t0) || !ledger_json_get_ns(ts1, &t1))
		return vfail(v, LEDGER_E_SCHEMA, "\"ts_start\"/\"ts_end\" missing or not decimal ns strings");

	/* hash covers everything but itself and the signature over it. */
	hash_it = cJSON_DetachItemFromObjectCaseSensitive(obj, "hash");
	sig_it = cJSON_DetachItemFromObjectCaseSensitive(obj, "sig");
	err = jcs_serialize(obj, &canon, &clen);
	if (err) {
		cJSON_Delete(hash_it);
		cJSON_Delete(sig_it);
		return vfail(v, LEDGER_E_NOT_CANONICAL, "cannot be canonicalized without hash");
	}
	ledger_sha256_hex(canon, clen, hash);
	free(canon);
	err = strcmp(hash, hash_it->valuestring) == 0 ? 0 : -1;
	if (err) {
		cJSON_Delete(hash_it);
		cJSON_Delete(sig_it);
		return vfail(v, LEDGER_E_HASH, "hash does not match the record (computed %.16s...)", hash);
	}

	genesis = strcmp(kind->valuestring, "genesis") == 0;
	if (v->at_file_start && !genesis)
		err = vfail(v, LEDGER_E_GENESIS, "segment starts with a \"%s\" record, not genesis",
			    kind->valuestring);
	else if (!v->at_file_start && genesis)
		err = vfail(v, LEDGER_E_GENESIS, "genesis in the middle of a segment");
	else if (v->have_prev && seq != v->next_seq)
		err = vfail(v, LEDGER_E_SEQ, "seq %" PRIu64 ", expected %" PRIu64, seq, v->next_seq);
	else if (v->have_prev && strcmp(prev->valuestring, v->prev_hash) != 0)
		err = vfail(v, LEDGER_E_LINK, "prev_hash is not the hash of the previous record");
	else if (!v->have_prev && strcmp(prev->valuestring, ledger_zero_hash) == 0 && seq != 0)
		err = vfail(v, LEDGER_E_SEQ, "a new chain must start at seq 0, not %" PRIu64, seq);
	if (err) {
		cJSON_Delete(hash_it);
		cJSON_Delete(sig_it);
		return err;
	}

	if (strcmp(kind->valuestring, "gap") == 0) {
		cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, "lost_records");
		cJSON *why = cJSON_GetObjectItemCaseSensitive(obj, "reason");

		if (!ledger_json_is_uint(n, 1) || !cJSON_IsString(why))
			err = vfail(v, LEDGER_E_SCHEMA, "gap record without a positive \"lost_records\" and a \"reason\"");
		else {
			if (v->gaps++ == 0) {
				v->first_gap_seq = seq;
				snprintf(v->first_gap_reason, sizeof(v->first_gap_reason), "%s", why->valuestring);
			}
			v->lost_records += (uint64_t)n->valuedouble;
		}
	}
	if (!err && genesis)
		err = check_genesis_key(v, obj, seq);
	if (!err && strcmp(kind->valuestring, "start") == 0) {
		const cJSON *ls = cJSON_GetObjectItemCaseSensitive(obj, "last_seq");
		uint64_t last_end;

		if (!cJSON_IsNumber(ls) || ls->valuedouble < 0 || ls->valuedouble >= (double)seq ||
		    !ledger_json_get_ns(cJSON_GetObjectItemCaseSensitive(obj, "last_ts_end"), &last_end))
			err = vfail(v, LEDGER_E_SCHEMA, "start record without a \"last_seq\" below its seq "
				    "and a \"last_ts_end\"");
		else {
			v->starts++;
			/* What the killed or stopped writer never recorded: from its last record to this start. */
			if (t0 > last_end)
				v->unrecorded_ns += t0 - last_end;
		}
	}
	if (!err && v->signed_chain) {
		if (!cJSON_IsString(sig_it) || !ledger_is_hex(sig_it->valuestring, LEDGER_SIG_HEX))
			err = vfail(v, LEDGER_E_SIGNATURE, "signed chain, but \"sig\" is missing or malformed");
		else if (!ledger_sig_verify_hex(v->pubkey, sig_it->valuestring, hash, LEDGER_HASH_HEX))
			err = vfail(v, LEDGER_E_SIGNATURE, "Ed25519 signature does not verify");
	} else if (!err && sig_it) {
		err = vfail(v, LEDGER_E_SCHEMA, "\"sig\" in a chain whose genesis has no pubkey");
	}
	cJSON_Delete(hash_it);
	cJSON_Delete(sig_it);
	if (err)
		return err;

	memcpy(v->prev_hash, hash, sizeof(v->prev_hash));
	v->have_prev = true;
	v->next_seq = seq + 1;
	if (v->records == 0 || t0 < v->first_ts_ns)
		v->first_ts_ns = t0;
	if (t1 > v->last_ts_ns)
		v->last_ts_ns = t1;
	if (genesis)
		v->seg_start_ts_ns = t0;
	v->records++;
	v->seg_records++;
	v->at_file_start = false;
	snprintf(v->last_kind, sizeof(v->last_kind), "%s", kind->valuestring);
	v->prev_ts_end_ns = t1;
	if (v->expect_head && strcmp(v->expect_head, hash) == 0 && (!v->expect_seq_set || v->expect_seq == seq))
		v->head_seen = true;
	return 0;
}

int ledger_verifier_line(struct ledger_verifier *v, const char *line, size_t len)
{
	const char *end = NULL;
	cJSON *obj;
	int err;

	v->err = LEDGER_OK;
	v->why[0] = '\0';
	if (len > LEDGER_LINE_MAX)
		return vfail(v, LEDGER_E_TOO_LONG, "line is %zu bytes; the limit is %d", len, LEDGER_LINE_MAX);
	if (len == 0)
		return vfail(v, LEDGER_E_JSON, "empty line");
	obj = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (!obj || end != line + len) {
		cJSON_Delete(obj);
		return vfail(v, LEDGER_E_JSON, "not one JSON value (column %zu)",
			     (size_t)((obj && end ? end : cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : line) - line) + 1);
	}
	err = verify_record(v, obj, line, len);
	cJSON_Delete(obj);
	return err;
}

int ledger_verifier_buf(struct ledger_verifier *v, const char *buf, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;

		v->line++;
		if (!nl) {
			if (n > LEDGER_LINE_MAX)
				return vfail(v, LEDGER_E_TOO_LONG, "line is %zu bytes; the limit is %d",
					     n, LEDGER_LINE_MAX);
			return vfail(v, LEDGER_E_TORN, "last line has no newline (cut short)");
		}
		if (ledger_verifier_line(v, buf + pos, n))
			return -EBADMSG;
		pos += n + 1;
	}
	if (v->line == 0) {
		v->line = 1;
		return vfail(v, LEDGER_E_EMPTY, "no records (a ledger starts with genesis)");
	}
	return 0;
}

static int verify_line_cb(void *arg, const char *line, size_t len, enum ledger_line_state state)
{
	struct ledger_verifier *v = arg;

	v->line++;
	if (state == LEDGER_LINE_TOO_LONG)
		return vfail(v, LEDGER_E_TOO_LONG, "line is over %d bytes", LEDGER_LINE_MAX);
	if (state == LEDGER_LINE_TORN)
		return vfail(v, LEDGER_E_TORN, "last line has no newline (cut short)");
	return ledger_verifier_line(v, line, len);
}

int ledger_verifier_file(struct ledger_verifier *v, const char *path)
{
	char why[sizeof(v->why)];
	int rc;

	ledger_verifier_begin_file(v);
	rc = ledger_read_lines(path, verify_line_cb, v, why, sizeof(why));
	if (rc == -EBADMSG)
		return rc;
	if (rc < 0) {
		v->line++;
		return vfail(v, rc == -EILSEQ ? LEDGER_E_GZIP : LEDGER_E_IO, "%s", why);
	}
	if (v->line == 0) {
		v->line = 1;
		return vfail(v, LEDGER_E_EMPTY, "no records (a ledger starts with genesis)");
	}
	return 0;
}

int ledger_verify_series(const char *const *paths, int n, const struct ledger_verify_opts *o,
			 struct ledger_verify_result *res)
{
	struct ledger_verifier v;
	int err = 0;

	memset(res, 0, sizeof(*res));
	ledger_verifier_init(&v);
	if (o) {
		v.expect_head = o->expect_head;
		v.expect_seq_set = o->expect_seq_set;
		v.expect_seq = o->expect_seq;
		v.require_signed = o->require_signatures || o->pinned;
		v.pinned = o->pinned;
		memcpy(v.pinned_pk, o->pubkey, sizeof(v.pinned_pk));
	}
	if (n <= 0) {
		v.line = 1;
		err = vfail(&v, LEDGER_E_EMPTY, "no ledger files");
	}
	for (int i = 0; i < n && !err; i++) {
		err = ledger_verifier_file(&v, paths[i]);
		if (err)
			snprintf(res->file, sizeof(res->file), "%s", paths[i]);
	}
	if (!err && v.expect_head && !v.head_seen) {
		v.line++;
		if (v.expect_seq_set)
			err = vfail(&v, LEDGER_E_HEAD, "the checkpoint's record (seq %" PRIu64 ", hash %.16s...) "
				    "is not in the ledger, which ends at seq %" PRIu64, v.expect_seq, v.expect_head,
				    v.next_seq ? v.next_seq - 1 : 0);
		else
			err = vfail(&v, LEDGER_E_HEAD,
				    "ledger ends at seq %" PRIu64 " without the expected head %.16s...: records are missing",
				    v.next_seq ? v.next_seq - 1 : 0, v.expect_head);
		snprintf(res->file, sizeof(res->file), "%s", n > 0 ? paths[n - 1] : "");
	}
	res->records = v.records;
	res->first_ts_ns = v.first_ts_ns;
	res->last_ts_ns = v.last_ts_ns;
	res->signed_chain = v.segments > 0 && v.unsigned_segments == 0;
	res->segments = v.segments;
	res->signed_segments = v.signed_segments;
	res->unsigned_segments = v.unsigned_segments;
	res->first_unsigned_after_signed_seq = v.first_unsigned_after_signed_seq;
	res->key_changed = v.key_changed;
	if (v.ever_signed)
		sodium_bin2hex(res->pubkey, sizeof(res->pubkey), v.first_pk, sizeof(v.first_pk));
	res->starts = v.starts;
	res->unrecorded_ns = v.unrecorded_ns;
	res->head_seq = v.next_seq ? v.next_seq - 1 : 0;
	res->gaps = v.gaps;
	res->lost_records = v.lost_records;
	res->first_gap_seq = v.first_gap_seq;
	memcpy(res->first_gap_reason, v.first_gap_reason, sizeof(res->first_gap_reason));
	if (v.have_prev)
		memcpy(res->head_hash, v.prev_hash, sizeof(res->head_hash));
	if (err) {
		res->err = v.err;
		res->line = v.line;
		snprintf(res->why, sizeof(res->why), "%s", v.why);
		return -EBADMSG;
	}
	res->ok = true;
	return 0;
}

int ledger_verify_files(const char *const *paths, int n, const char *expect_head,
			struct ledger_verify_result *res)
{
	struct ledger_verify_opts o = { .expect_head = expect_head };

	return ledger_verify_series(paths, n, &o, res);
}
