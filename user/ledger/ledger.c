// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The ledger: per-period records from samples, a SHA-256 chain of canonical JSON lines, a writer thread, recovery, rotation, verify. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <sodium.h>
#include <zlib.h>
#include "joule/jcs.h"
#include "joule/ledger.h"
#include "joule/log.h"
#include "joule/sample.h"
#include "joule/util.h"

#ifndef JOULE_VERSION
#define JOULE_VERSION "0.1.0"
#endif

#define DEFAULT_PERIOD_NS (60 * NSEC_PER_SEC)
#define DEFAULT_SYNC_NS NSEC_PER_SEC
#define DEFAULT_QUEUE_LIMIT 4096
#define ACC_BUCKETS 1024	/* per-process accumulators: chained hash, power of two */
#define WRITE_RETRY_NS (5 * NSEC_PER_SEC)	/* the writer's one retry window before records are lost */
#define WRITE_RETRY_SLEEP_US (100 * 1000)

static const char zero_hash[LEDGER_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* ---- small helpers --------------------------------------------------- */

static void sha256_hex(const void *buf, size_t len, char out[LEDGER_HASH_HEX + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, buf, len);
	sodium_bin2hex(out, LEDGER_HASH_HEX + 1, h, sizeof(h));
}

static bool is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* ns timestamps exceed 2^53, so they travel as decimal strings. */
static int add_ns_string(cJSON *obj, const char *key, uint64_t ns)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, ns);
	return cJSON_AddStringToObject(obj, key, buf) ? 0 : -ENOMEM;
}

static bool parse_ns_string(const cJSON *it, uint64_t *out)
{
	return cJSON_IsString(it) && parse_u64(it->valuestring, out) == 0;
}

int ledger_sync_parse(const char *s, enum ledger_sync *out)
{
	static const char *const names[] = { "interval", "always", "never" };

	for (unsigned i = 0; i < ARRAY_SIZE(names); i++) {
		if (s && strcmp(s, names[i]) == 0) {
			*out = (enum ledger_sync)i;
			return 0;
		}
	}
	return -EINVAL;
}

int ledger_json_add_u64(cJSON *obj, const char *key, uint64_t v)
{
	if (v <= JCS_MAX_SAFE_INT)
		return cJSON_AddNumberToObject(obj, key, (double)v) ? 0 : -ENOMEM;
	return add_ns_string(obj, key, v);
}

static int fsync_dir_of(const char *path)
{
	char *copy = strdup(path);
	int fd, err = 0;

	if (!copy)
		return -ENOMEM;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	free(copy);
	return err;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

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
	}
	return "unknown";
}

/* ---- verification ------------------------------------------------------ */

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
	if (!cJSON_IsNumber(seq_it) || seq_it->valuedouble < 0 ||
	    seq_it->valuedouble >= (double)JCS_MAX_SAFE_INT ||
	    seq_it->valuedouble != (double)(uint64_t)seq_it->valuedouble)
		return vfail(v, LEDGER_E_SCHEMA, "\"seq\" missing or not a non-negative integer");
	seq = (uint64_t)seq_it->valuedouble;
	if (!cJSON_IsString(prev) || !is_hex(prev->valuestring, LEDGER_HASH_HEX))
		return vfail(v, LEDGER_E_SCHEMA, "\"prev_hash\" missing or not 64 lowercase hex digits");
	if (!cJSON_IsString(hash_it) || !is_hex(hash_it->valuestring, LEDGER_HASH_HEX))
		return vfail(v, LEDGER_E_SCHEMA, "\"hash\" missing or not 64 lowercase hex digits");
	if (!parse_ns_string(ts0, &t0) || !parse_ns_string(ts1, &t1))
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
	sha256_hex(canon, clen, hash);
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
	else if (!v->have_prev && strcmp(prev->valuestring, zero_hash) == 0 && seq != 0)
		err = vfail(v, LEDGER_E_SEQ, "a new chain must start at seq 0, not %" PRIu64, seq);
	if (err) {
		cJSON_Delete(hash_it);
		cJSON_Delete(sig_it);
		return err;
	}

	if (strcmp(kind->valuestring, "gap") == 0) {
		cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, "lost_records");
		cJSON *why = cJSON_GetObjectItemCaseSensitive(obj, "reason");

		if (!cJSON_IsNumber(n) || n->valuedouble < 1 || n->valuedouble >= (double)JCS_MAX_SAFE_INT ||
		    n->valuedouble != (double)(uint64_t)n->valuedouble || !cJSON_IsString(why))
			err = vfail(v, LEDGER_E_SCHEMA, "gap record without a positive \"lost_records\" and a \"reason\"");
		else {
			if (v->gaps++ == 0) {
				v->first_gap_seq = seq;
				snprintf(v->first_gap_reason, sizeof(v->first_gap_reason), "%s", why->valuestring);
			}
			v->lost_records += (uint64_t)n->valuedouble;
		}
	}
	if (!err && genesis) {
		cJSON *pk = cJSON_GetObjectItemCaseSensitive(obj, "pubkey");

		v->signed_chain = false;
		if (pk) {
			if (!cJSON_IsString(pk) || !is_hex(pk->valuestring, 64) ||
			    sodium_hex2bin(v->pubkey, sizeof(v->pubkey), pk->valuestring, 64,
					   NULL, NULL, NULL) != 0)
				err = vfail(v, LEDGER_E_SCHEMA, "\"pubkey\" is not 64 hex digits");
			else
				v->signed_chain = true;
		}
	}
	if (!err && v->signed_chain) {
		unsigned char sig[crypto_sign_BYTES];

		if (!cJSON_IsString(sig_it) || !is_hex(sig_it->valuestring, 2 * crypto_sign_BYTES) ||
		    sodium_hex2bin(sig, sizeof(sig), sig_it->valuestring, 2 * crypto_sign_BYTES,
				   NULL, NULL, NULL) != 0)
			err = vfail(v, LEDGER_E_SIGNATURE, "signed chain, but \"sig\" is missing or malformed");
		else if (crypto_sign_verify_detached(sig, (const unsigned char *)hash, LEDGER_HASH_HEX,
						     v->pubkey) != 0)
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
	if (v->expect_head && strcmp(v->expect_head, hash) == 0)
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

/* ---- reading files (plain or gzip, transparently) ---------------------- */

enum { RL_LINE, RL_TORN, RL_TOO_LONG };
typedef int (*line_fn)(void *arg, const char *line, size_t len, int state);

/* Call fn for every line; returns 0, fn's non-zero value, or -errno on I/O (with *gzmsg). */
static int read_lines(const char *path, line_fn fn, void *arg, const char **gzmsg)
{
	char *chunk = NULL, *line = NULL;
	size_t len = 0, cap = 0;
	bool skipping = false;	/* inside a line over the limit that fn chose to skip */
	gzFile gz;
	int rc = 0;

	*gzmsg = NULL;
	gz = gzopen(path, "rb");
	if (!gz)
		return errno ? -errno : -ENOMEM;
	gzbuffer(gz, 128 * 1024);
	chunk = malloc(64 * 1024);
	if (!chunk) {
		gzclose(gz);
		return -ENOMEM;
	}
	for (;;) {
		int n = gzread(gz, chunk, 64 * 1024), zerr;

		if (n < 0) {
			*gzmsg = gzerror(gz, &zerr);
			rc = -EIO;
			break;
		}
		if (n == 0) {
			if (len > 0 && !skipping)
				rc = fn(arg, line, len, RL_TORN);
			break;
		}
		for (int i = 0; i < n && !rc;) {
			char *nl = memchr(chunk + i, '\n', (size_t)(n - i));
			size_t take = nl ? (size_t)(nl - (chunk + i)) : (size_t)(n - i);

			if (skipping) {
				skipping = !nl;
				i += (int)take + (nl ? 1 : 0);
				continue;
			}
			if (len + take > LEDGER_LINE_MAX) {
				/* fn returns non-zero to stop, 0 to go on with the next line. */
				rc = fn(arg, line, len + take, RL_TOO_LONG);
				if (rc)
					break;
				len = 0;
				skipping = !nl;
				i += (int)take + (nl ? 1 : 0);
				continue;
			}
			if (len + take > cap) {
				size_t ncap = cap ? cap : 4096;
				char *np;

				while (ncap < len + take)
					ncap *= 2;
				np = realloc(line, ncap);
				if (!np) {
					rc = -ENOMEM;
					break;
				}
				line = np;
				cap = ncap;
			}
			memcpy(line + len, chunk + i, take);
			len += take;
			i += (int)take;
			if (nl) {
				rc = fn(arg, line ? line : "", len, RL_LINE);
				len = 0;
				i++;
			}
		}
		if (rc)
			break;
	}
	if (rc == -EIO && !*gzmsg) {
		int zerr;

		*gzmsg = gzerror(gz, &zerr);
	}
	gzclose(gz);
	free(chunk);
	free(line);
	return rc;
}

static int verify_line_cb(void *arg, const char *line, size_t len, int state)
{
	struct ledger_verifier *v = arg;

	v->line++;
	if (state == RL_TOO_LONG)
		return vfail(v, LEDGER_E_TOO_LONG, "line is over %d bytes", LEDGER_LINE_MAX);
	if (state == RL_TORN)
		return vfail(v, LEDGER_E_TORN, "last line has no newline (cut short)");
	return ledger_verifier_line(v, line, len);
}

/* Verify one file into v; 0 or -EBADMSG (v->err set). */
static int verify_file(struct ledger_verifier *v, const char *path)
{
	const char *gzmsg;
	int rc;

	ledger_verifier_begin_file(v);
	rc = read_lines(path, verify_line_cb, v, &gzmsg);
	if (rc == -EBADMSG)
		return rc;
	if (rc < 0) {
		v->line++;
		return vfail(v, LEDGER_E_IO, "%s", gzmsg ? gzmsg : strerror(-rc));
	}
	if (v->line == 0) {
		v->line = 1;
		return vfail(v, LEDGER_E_EMPTY, "no records (a ledger starts with genesis)");
	}
	return 0;
}

int ledger_verify_files(const char *const *paths, int n, const char *expect_head,
			struct ledger_verify_result *res)
{
	struct ledger_verifier v;
	int err = 0;

	memset(res, 0, sizeof(*res));
	ledger_verifier_init(&v);
	v.expect_head = expect_head;
	for (int i = 0; i < n && !err; i++) {
		err = verify_file(&v, paths[i]);
		if (err)
			snprintf(res->file, sizeof(res->file), "%s", paths[i]);
	}
	if (!err && expect_head && !v.head_seen) {
		v.line++;
		err = vfail(&v, LEDGER_E_HEAD,
			    "ledger ends at seq %" PRIu64 " without the expected head %.16s...: records are missing",
			    v.next_seq ? v.next_seq - 1 : 0, expect_head);
		snprintf(res->file, sizeof(res->file), "%s", n > 0 ? paths[n - 1] : "");
	}
	res->records = v.records;
	res->first_ts_ns = v.first_ts_ns;
	res->last_ts_ns = v.last_ts_ns;
	res->signed_chain = v.signed_chain;
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

struct foreach_ctx {
	int (*cb)(const cJSON *rec, uint64_t line, void *arg);
	void *arg;
	const char *path;
	uint64_t line, skipped;
};

static int foreach_line_cb(void *arg, const char *line, size_t len, int state)
{
	struct foreach_ctx *c = arg;
	cJSON *obj;
	int rc;

	c->line++;
	if (state == RL_TORN)
		return 0;	/* a record being written right now, or a crash: verify is the place to complain */
	if (state == RL_TOO_LONG) {
		log_err("%s:%" PRIu64 ": line is over %d bytes: skipped", c->path, c->line, LEDGER_LINE_MAX);
		c->skipped++;
		return 0;
	}
	obj = cJSON_ParseWithLength(line, len);
	if (!obj) {
		log_err("%s:%" PRIu64 ": not JSON: skipped", c->path, c->line);
		c->skipped++;
		return 0;
	}
	rc = c->cb(obj, c->line, c->arg);
	cJSON_Delete(obj);
	return rc;
}

int ledger_foreach_line(const char *path, int (*cb)(const cJSON *rec, uint64_t line, void *arg), void *arg)
{
	struct foreach_ctx c = { .cb = cb, .arg = arg, .path = path };
	const char *gzmsg;
	int rc = read_lines(path, foreach_line_cb, &c, &gzmsg);

	if (rc < 0)
		log_err("failed to read %s: %s", path, gzmsg ? gzmsg : strerror(-rc));
	if (rc == 0 && c.skipped)
		rc = -EBADMSG;
	return rc;
}

struct foreach_plain {
	int (*cb)(const cJSON *rec, void *arg);
	void *arg;
};

static int foreach_plain_cb(const cJSON *rec, uint64_t line, void *arg)
{
	struct foreach_plain *p = arg;

	(void)line;
	return p->cb(rec, p->arg);
}

int ledger_foreach(const char *path, int (*cb)(const cJSON *rec, void *arg), void *arg)
{
	struct foreach_plain p = { cb, arg };

	return ledger_foreach_line(path, foreach_plain_cb, &p);
}

/* ---- keys -------------------------------------------------------------- */

int ledger_keygen(const char *path, char pubkey_hex[65])
{
	unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char hex[2 * crypto_sign_SEEDBYTES + 2];
	int fd, err = 0;

	if (sodium_init() < 0)
		return -EIO;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		log_err("failed to create key file %s: %s", path, strerror(-err));
		return err;
	}
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
	strcat(hex, "\n");
	if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd) < 0) {
		err = errno ? -errno : -EIO;
		log_err("failed to write key file %s: %s", path, strerror(-err));
	}
	close(fd);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(hex, sizeof(hex));
	if (err)
		unlink(path);
	else if (pubkey_hex)
		sodium_bin2hex(pubkey_hex, 65, pk, sizeof(pk));
	return err;
}

static int load_key(const char *path, unsigned char pk[32], unsigned char sk[64])
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	char buf[160];
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		err = -errno;
		log_err("failed to open ledger key %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) < 0) {
		err = -errno;
	} else if ((st.st_mode & 077) != 0) {
		/* A key others can read signs nothing: refuse rather than warn. */
		log_err("ledger key %s has mode %04o: it must be readable by its owner only (chmod 600 %s)",
			path, (unsigned)(st.st_mode & 07777), path);
		err = -EPERM;
	}
	if (!err) {
		n = read(fd, buf, sizeof(buf) - 1);
		if (n < 64 || sodium_hex2bin(seed, sizeof(seed), buf, 64, NULL, NULL, NULL) != 0) {
			log_err("ledger key %s is not 64 hex digits (make one with 'joule ledger keygen FILE')", path);
			err = -EINVAL;
		}
	}
	close(fd);
	if (!err)
		crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(buf, sizeof(buf));
	return err;
}

/* ---- the writer -------------------------------------------------------- */

/* What a record needs from the carbon side, copied: the sampler's pointers may not outlive the tick. */
struct ctx_snap {
	enum energy_kind source;
	double g_per_kwh, intensity_rel_sd, energy_rel_sd, pue;
	char kind[16], zone[16], src[128];
	int year;
};

struct proc_acc {
	struct proc_acc *next;
	uint32_t pid, ppid;
	uint64_t start_ns;
	char comm[JOULE_COMM_LEN + 1];
	bool marked, exited;
	int exit_code;
	uint64_t cpu_ns, cpu_uj, mem_uj, carbon_ug, embodied_ug;
	uint64_t ts_start_ns, ts_end_ns;
	uint64_t host_uj_start, host_uj_end;	/* cumulative host energy: the ratio's denominator */
	uint32_t intervals;
	bool coalesced;
	struct ctx_snap ctx;
};

struct host_acc {
	uint64_t ts_start_ns, ts_end_ns;
	uint32_t intervals;
	uint64_t cpu_uj, mem_uj, carbon_ug;
	uint64_t domain_uj[ENERGY_NDOMAINS];
	uint32_t domains;
	struct sample_totals idle, overflow;
	uint64_t processes;
	bool coalesced;
	struct ctx_snap ctx;
};

enum item_type { IT_PROC, IT_HOST, IT_JSON };

struct item {
	struct item *next;
	enum item_type type;
	union {
		struct proc_acc p;
		struct host_acc h;
		cJSON *json;
	} u;
};

struct ledger {
	struct ledger_opts o;
	char *path;

	/* feeder side (the caller's thread) */
	struct proc_acc *acc[ACC_BUCKETS];
	size_t nacc, nexited;
	struct host_acc host;
	bool period_open;
	uint64_t period_start_mono_ns;	/* CLOCK_MONOTONIC: a wall-clock step must not end a period */
	uint64_t host_cum_uj;
	bool deferred;

	/* queue, shared */
	pthread_mutex_t mu;
	pthread_cond_t cv_item, cv_done;
	struct item *head, *tail;
	uint64_t flush_req, flush_done;
	bool stop;
	struct ledger_stats st;
	pthread_t thread;
	bool thread_started;

	/* writer side (the writer thread after open) */
	int fd;
	uint64_t seq_next;
	char prev_hash[LEDGER_HASH_HEX + 1];
	uint64_t seg_bytes, seg_records, seg_start_ns;
	bool dirty;
	uint64_t last_sync_mono_ns, written_seq;
	int next_index;	/* rotated segments: path.N, N from here on */
	bool signing;
	unsigned char pk[32], sk[64];
	char key_id[17];
	bool io_error;
	/*
	 * Rotation state, so a failure anywhere in it is retried before the
	 * next write instead of leaving fd at -1: seg_closed (a rotate record
	 * ended the file, it still has to be renamed), then fd < 0 (the new
	 * segment must be created), then need_genesis.
	 */
	bool seg_closed, need_genesis;
	char pending_prev[PATH_MAX + 40];	/* the renamed segment the next genesis links to, or "" */
	/* Losses: one retry deadline for the writer, then fail fast until a gap record is written. */
	uint64_t retry_deadline_ns;	/* CLOCK_MONOTONIC; 0: no failure pending */
	uint64_t lost, lost_t0_ns, lost_t1_ns;
	char lost_reason[64];
};

static void snap_ctx(struct ctx_snap *c, const struct sample *s)
{
	c->source = s->source;
	c->g_per_kwh = s->intensity.g_per_kwh;
	c->intensity_rel_sd = s->intensity.rel_sd;
	c->energy_rel_sd = s->energy_rel_sd;
	c->pue = s->pue;
	c->year = s->intensity.year;
	snprintf(c->kind, sizeof(c->kind), "%s", s->intensity.kind ? s->intensity.kind : "");
	snprintf(c->zone, sizeof(c->zone), "%s", s->intensity.zone ? s->intensity.zone : "");
	snprintf(c->src, sizeof(c->src), "%s", s->intensity.source ? s->intensity.source : "");
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

/*
 * One record onto disk: seq, prev_hash, hash (and sig), one write(), one
 * attempt; write_record() decides about retries. *io tells a failed
 * write() (worth retrying) from a record that cannot be built. Writer only.
 */
static int emit(struct ledger *l, cJSON *obj, bool *io)
{
	char hash[LEDGER_HASH_HEX + 1];
	char *body = NULL, *line = NULL;
	size_t blen, llen;
	ssize_t n;
	int err;

	*io = false;
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "seq");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "prev_hash");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "hash");
	cJSON_DeleteItemFromObjectCaseSensitive(obj, "sig");
	sanitize_tree(obj->child);
	if (ledger_json_add_u64(obj, "seq", l->seq_next) ||
	    !cJSON_AddStringToObject(obj, "prev_hash", l->prev_hash))
		return -ENOMEM;
	err = jcs_serialize(obj, &body, &blen);
	if (err) {
		/* Only ENOMEM or a caller's duplicate key get here: sanitize_tree fixed the rest. */
		log_err("ledger: cannot canonicalize a %s record: %s",
			cJSON_GetStringValue(cJSON_GetObjectItem(obj, "kind")) ?: "?", strerror(-err));
		return err;
	}
	sha256_hex(body, blen, hash);
	free(body);
	if (!cJSON_AddStringToObject(obj, "hash", hash))
		return -ENOMEM;
	if (l->signing) {
		unsigned char sig[crypto_sign_BYTES];
		char sighex[2 * crypto_sign_BYTES + 1];

		crypto_sign_detached(sig, NULL, (const unsigned char *)hash, LEDGER_HASH_HEX, l->sk);
		sodium_bin2hex(sighex, sizeof(sighex), sig, sizeof(sig));
		if (!cJSON_AddStringToObject(obj, "sig", sighex))
			return -ENOMEM;
	}
	err = jcs_serialize(obj, &line, &llen);
	if (err)
		return err;
	line[llen++] = '\n';	/* jcs_serialize leaves room for its NUL */

	err = l->fd < 0 ? -EBADF : 0;
	for (size_t off = 0; !err && off < llen; off += (size_t)n) {
		n = write(l->fd, line + off, llen - off);
		if (n < 0 && errno == EINTR)
			n = 0;
		else if (n <= 0)
			err = n < 0 ? -errno : -EIO;	/* after a short write: the real reason (ENOSPC) */
	}
	if (err) {
		/* A short write leaves a torn line: cut it so the retry starts clean. */
		if (l->fd >= 0 && ftruncate(l->fd, (off_t)l->seg_bytes) < 0)
			log_err("ledger: failed to cut a short write in %s: %s", l->path, strerror(errno));
		pthread_mutex_lock(&l->mu);
		l->st.write_errors++;
		pthread_mutex_unlock(&l->mu);
		free(line);
		*io = true;
		return err;
	}
	free(line);
	memcpy(l->prev_hash, hash, sizeof(hash));
	l->written_seq = l->seq_next++;
	l->seg_bytes += llen;
	l->seg_records++;
	l->dirty = true;
	pthread_mutex_lock(&l->mu);
	l->st.records++;
	l->st.bytes += llen;
	l->st.last_seq = l->written_seq;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

static void do_sync(struct ledger *l)
{
	int rc;

	if (l->fd < 0) {
		/* Mid-rotation with no file: nothing to sync until a segment exists; don't spin. */
		l->last_sync_mono_ns = now_mono_ns();
		return;
	}
	rc = fdatasync(l->fd);

	l->last_sync_mono_ns = now_mono_ns();
	pthread_mutex_lock(&l->mu);
	if (rc < 0) {
		l->st.sync_errors++;
		l->io_error = true;
	} else {
		l->st.syncs++;
		l->st.synced_seq = l->written_seq;
	}
	pthread_mutex_unlock(&l->mu);
	if (rc < 0) {
		log_err("ledger: fdatasync %s failed: %s", l->path, strerror(errno));
		return;
	}
	l->dirty = false;
	if (l->o.on_sync)
		l->o.on_sync(l->o.on_sync_arg, l->written_seq);
}

static void read_id(const char *path, char *buf, size_t len)
{
	if (read_text_file(path, buf, len) < 0)
		buf[0] = '\0';
}

static int write_genesis(struct ledger *l, const char *prev_segment, const char *broken,
			 const char *broken_why)
{
	char machine[64], boot[64], host[256] = "";
	uint64_t now = now_real_ns();
	cJSON *g = cJSON_CreateObject();
	bool io;
	int err;

	if (!g)
		return -ENOMEM;
	read_id("/etc/machine-id", machine, sizeof(machine));
	read_id("/proc/sys/kernel/random/boot_id", boot, sizeof(boot));
	gethostname(host, sizeof(host) - 1);
	cJSON_AddStringToObject(g, "kind", "genesis");
	cJSON_AddNumberToObject(g, "format", LEDGER_FORMAT);
	cJSON_AddStringToObject(g, "joule_version", JOULE_VERSION);
	cJSON_AddStringToObject(g, "host_id", machine);
	cJSON_AddStringToObject(g, "boot_id", boot);
	cJSON_AddStringToObject(g, "hostname", host);
	ledger_json_add_u64(g, "period_ns", l->o.period_ns);
	add_ns_string(g, "ts_start", now);
	add_ns_string(g, "ts_end", now);
	if (prev_segment)
		cJSON_AddStringToObject(g, "prev_segment", prev_segment);
	if (broken) {
		cJSON_AddStringToObject(g, "broken_segment", broken);
		cJSON_AddStringToObject(g, "broken_reason", broken_why);
	}
	if (l->signing) {
		char pkhex[65];

		sodium_bin2hex(pkhex, sizeof(pkhex), l->pk, sizeof(l->pk));
		cJSON_AddStringToObject(g, "pubkey", pkhex);
		cJSON_AddStringToObject(g, "key_id", l->key_id);
	}
	l->seg_bytes = 0;
	l->seg_records = 0;
	l->seg_start_ns = now;
	err = emit(l, g, &io);
	cJSON_Delete(g);
	return err;
}

static int create_segment(struct ledger *l)
{
	int err;

	l->fd = open(l->path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0) {
		err = -errno;
		/* Retried before every write while it fails: say it once, write_record() tells the rest. */
		if (!l->retry_deadline_ns && !l->lost)
			log_err("failed to create ledger %s: %s", l->path, strerror(-err));
		return err;
	}
	/* The new name must survive a crash too, not just the bytes. */
	err = fsync_dir_of(l->path);
	if (err)
		log_warn("ledger: fsync of the directory of %s failed: %s", l->path, strerror(-err));
	return 0;
}

/* Highest N among path.N and path.N.gz, so rotated names never collide. */
static int max_segment_index(const char *path)
{
	char *copy = strdup(path);
	const char *base = base_name(path);
	size_t blen = strlen(base);
	struct dirent *de;
	DIR *d;
	int max = 0;

	if (!copy)
		return 0;
	d = opendir(dirname(copy));
	while (d && (de = readdir(d))) {
		char *end;
		long n;

		if (strncmp(de->d_name, base, blen) != 0 || de->d_name[blen] != '.')
			continue;
		n = strtol(de->d_name + blen + 1, &end, 10);
		if (end != de->d_name + blen + 1 && (!*end || strcmp(end, ".gz") == 0) && n > max &&
		    n < INT_MAX)
			max = (int)n;
	}
	if (d)
		closedir(d);
	free(copy);
	return max;
}

static int gzip_file(const char *src, const char *dst)
{
	char tmp[PATH_MAX + 64], buf[65536];
	int in, err = 0;
	gzFile gz;
	ssize_t n;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", dst) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	gz = gzopen(tmp, "wb6");
	if (!gz) {
		close(in);
		return -EIO;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		if (gzwrite(gz, buf, (unsigned)n) != n) {
			err = -EIO;
			break;
		}
	}
	if (n < 0)
		err = -errno;
	close(in);
	if (gzclose(gz) != Z_OK && !err)
		err = -EIO;
	if (!err) {
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fsync(fd) < 0)
			err = -errno;
		if (fd >= 0)
			close(fd);
	}
	if (!err && rename(tmp, dst) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/*
 * Bring the rotation as far as it will go: rename the closed segment to
 * path.N (path.N.gz when compressing), create the new one, write its
 * genesis linked to the renamed one. Each step is remembered, so after a
 * failure (ENOSPC, no inodes) the next write resumes where it stopped.
 */
static int restart_segment(struct ledger *l)
{
	char seg[PATH_MAX + 32], gz[PATH_MAX + 40];
	const char *name = seg;
	int err, idx;

	if (l->seg_closed) {
		if (l->next_index <= 0)
			l->next_index = max_segment_index(l->path) + 1;
		idx = l->next_index;
		snprintf(seg, sizeof(seg), "%s.%d", l->path, idx);
		if (rename(l->path, seg) < 0) {
			err = -errno;
			log_err("ledger: failed to rename %s to %s: %s", l->path, seg, strerror(-err));
			return err;
		}
		l->next_index = idx + 1;
		l->seg_closed = false;
		fsync_dir_of(l->path);
		if (l->o.compress) {
			snprintf(gz, sizeof(gz), "%s.gz", seg);
			err = gzip_file(seg, gz);
			if (err) {
				log_err("ledger: failed to compress %s: %s (kept uncompressed)", seg, strerror(-err));
			} else {
				unlink(seg);
				fsync_dir_of(l->path);
				name = gz;
			}
		}
		log_info("ledger: rotated segment to %s", name);
		snprintf(l->pending_prev, sizeof(l->pending_prev), "%s", base_name(name));
	}
	if (l->fd < 0) {
		err = create_segment(l);
		if (err)
			return err;
		l->need_genesis = true;
		if (l->pending_prev[0]) {
			pthread_mutex_lock(&l->mu);
			l->st.rotations++;
			pthread_mutex_unlock(&l->mu);
		}
	}
	if (l->need_genesis) {
		err = write_genesis(l, l->pending_prev[0] ? l->pending_prev : NULL, NULL, NULL);
		if (err)
			return err;
		l->need_genesis = false;
		l->pending_prev[0] = '\0';
	}
	return 0;
}

/* Close the active segment (ended by a rotate record, or complete at recovery) and start the next. */
static int move_aside_and_restart(struct ledger *l)
{
	if (l->fd >= 0) {
		if (l->dirty)
			do_sync(l);
		close(l->fd);
		l->fd = -1;
	}
	l->seg_closed = true;
	return restart_segment(l);
}

static int rotate(struct ledger *l, const char *reason)
{
	cJSON *r = cJSON_CreateObject();
	uint64_t now = now_real_ns();
	bool io;
	int err;

	if (!r)
		return -ENOMEM;
	cJSON_AddStringToObject(r, "kind", "rotate");
	cJSON_AddStringToObject(r, "reason", reason);
	ledger_json_add_u64(r, "segment_records", l->seg_records + 1);
	ledger_json_add_u64(r, "segment_bytes", l->seg_bytes);
	add_ns_string(r, "ts_start", l->seg_start_ns);
	add_ns_string(r, "ts_end", now);
	err = emit(l, r, &io);
	cJSON_Delete(r);
	if (err)
		return err;
	err = move_aside_and_restart(l);
	do_sync(l);
	return err;
}

static void maybe_rotate(struct ledger *l)
{
	const char *reason = NULL;

	if (l->fd < 0 || l->seg_closed || l->need_genesis)
		return;	/* a rotation is under way already */
	if (l->o.rotate_bytes && l->seg_bytes >= l->o.rotate_bytes)
		reason = "size";
	else if (l->o.rotate_age_ns && now_real_ns() - l->seg_start_ns >= l->o.rotate_age_ns)
		reason = "age";
	if (reason && rotate(l, reason))
		log_err("ledger: rotation of %s failed; writing on", l->path);
}

static void ctx_to_json(cJSON *o, const struct ctx_snap *c, bool full)
{
	cJSON_AddStringToObject(o, "source", energy_kind_name(c->source));
	cJSON_AddNumberToObject(o, "pue", c->pue);
	if (!full) {
		cJSON_AddNumberToObject(o, "intensity_g_per_kwh", c->g_per_kwh);
		return;
	}
	cJSON *in = cJSON_AddObjectToObject(o, "intensity");

	if (!in)
		return;
	cJSON_AddNumberToObject(in, "g_per_kwh", c->g_per_kwh);
	cJSON_AddNumberToObject(in, "rel_sd", c->intensity_rel_sd);
	cJSON_AddStringToObject(in, "kind", c->kind);
	cJSON_AddStringToObject(in, "zone", c->zone);
	cJSON_AddNumberToObject(in, "year", c->year);
	cJSON_AddStringToObject(in, "source", c->src);
	cJSON_AddNumberToObject(o, "energy_rel_sd", c->energy_rel_sd);
}

static cJSON *proc_to_json(const struct proc_acc *p)
{
	cJSON *o = cJSON_CreateObject();
	uint64_t energy = p->cpu_uj + p->mem_uj, host = p->host_uj_end - p->host_uj_start;
	char buf[24];

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "kind", "process");
	add_ns_string(o, "ts_start", p->ts_start_ns);
	add_ns_string(o, "ts_end", p->ts_end_ns);
	ledger_json_add_u64(o, "pid", p->pid);
	ledger_json_add_u64(o, "ppid", p->ppid);
	snprintf(buf, sizeof(buf), "%" PRIu64, p->start_ns);
	cJSON_AddStringToObject(o, "start_ns", buf);
	cJSON_AddStringToObject(o, "comm", p->comm);
	cJSON_AddBoolToObject(o, "marked", p->marked);
	cJSON_AddBoolToObject(o, "exited", p->exited);
	if (p->exited)
		cJSON_AddNumberToObject(o, "exit_code", p->exit_code);
	ledger_json_add_u64(o, "cpu_ns", p->cpu_ns);
	ledger_json_add_u64(o, "energy_uj", energy);
	ledger_json_add_u64(o, "cpu_energy_uj", p->cpu_uj);
	ledger_json_add_u64(o, "memory_energy_uj", p->mem_uj);
	ledger_json_add_u64(o, "carbon_ug", p->carbon_ug);
	ledger_json_add_u64(o, "embodied_ug", p->embodied_ug);
	cJSON_AddNumberToObject(o, "allocation_ratio", host ? (double)energy / (double)host : 0.0);
	ledger_json_add_u64(o, "intervals", p->intervals);
	if (p->coalesced)
		cJSON_AddBoolToObject(o, "coalesced", true);
	ctx_to_json(o, &p->ctx, false);
	return o;
}

static void bucket_to_json(cJSON *o, const char *name, const struct sample_totals *b)
{
	cJSON *x = cJSON_AddObjectToObject(o, name);

	if (!x)
		return;
	ledger_json_add_u64(x, "cpu_ns", b->cpu_ns);
	ledger_json_add_u64(x, "energy_uj", b->cpu_uj + b->mem_uj);
	ledger_json_add_u64(x, "carbon_ug", b->carbon_ug);
}

static cJSON *host_to_json(const struct host_acc *h)
{
	cJSON *o = cJSON_CreateObject(), *d;

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "kind", "host");
	add_ns_string(o, "ts_start", h->ts_start_ns);
	add_ns_string(o, "ts_end", h->ts_end_ns);
	ledger_json_add_u64(o, "energy_uj", h->cpu_uj + h->mem_uj);
	ledger_json_add_u64(o, "cpu_energy_uj", h->cpu_uj);
	ledger_json_add_u64(o, "memory_energy_uj", h->mem_uj);
	ledger_json_add_u64(o, "carbon_ug", h->carbon_ug);
	d = cJSON_AddObjectToObject(o, "domains");
	for (int i = 0; d && i < ENERGY_NDOMAINS; i++)
		if (h->domains & (1u << i))
			ledger_json_add_u64(d, energy_domain_name((enum energy_domain)i), h->domain_uj[i]);
	bucket_to_json(o, "idle", &h->idle);
	bucket_to_json(o, "overflow", &h->overflow);
	ledger_json_add_u64(o, "processes", h->processes);
	ledger_json_add_u64(o, "intervals", h->intervals);
	if (h->coalesced)
		cJSON_AddBoolToObject(o, "coalesced", true);
	ctx_to_json(o, &h->ctx, true);
	return o;
}

static bool stopping(struct ledger *l)
{
	bool stop;

	pthread_mutex_lock(&l->mu);
	stop = l->stop;
	pthread_mutex_unlock(&l->mu);
	return stop;
}

/* Tell the chain what was lost: a `gap` record before the first record written after a loss. */
static int emit_gap(struct ledger *l)
{
	cJSON *g = cJSON_CreateObject();
	bool io;
	int err;

	if (!g)
		return -ENOMEM;
	cJSON_AddStringToObject(g, "kind", "gap");
	ledger_json_add_u64(g, "lost_records", l->lost);
	cJSON_AddStringToObject(g, "reason", l->lost_reason);
	add_ns_string(g, "ts_start", l->lost_t0_ns);
	add_ns_string(g, "ts_end", l->lost_t1_ns);
	err = emit(l, g, &io);
	cJSON_Delete(g);
	if (err)
		return err;
	log_err("ledger: writing to %s resumed: %" PRIu64 " records were lost (%s); gap record at seq %" PRIu64,
		l->path, l->lost, l->lost_reason, l->written_seq);
	l->lost = 0;
	return 0;
}

/* obj may be NULL (the record could not even be built); io: a failed write, not a bad record. */
static void lose_record(struct ledger *l, const cJSON *obj, int err, bool io)
{
	uint64_t now = now_real_ns();

	if (l->lost == 0) {
		l->lost_t0_ns = now;
		snprintf(l->lost_reason, sizeof(l->lost_reason), "%s%s",
			 io ? "" : "record could not be built: ", strerror(-err));
		log_err("ledger: cannot write to %s (%s): record (%s) LOST; further records fail fast "
			"until a write succeeds", l->path, l->lost_reason,
			cJSON_GetStringValue(cJSON_GetObjectItem(obj, "kind")) ?: "?");
	} else {
		log_debug("ledger: record (%s) LOST (%s)",
			  cJSON_GetStringValue(cJSON_GetObjectItem(obj, "kind")) ?: "?", strerror(-err));
	}
	l->lost++;
	l->lost_t1_ns = now;
	pthread_mutex_lock(&l->mu);
	l->st.records_lost++;
	l->io_error = true;
	pthread_mutex_unlock(&l->mu);
}

/*
 * Write one record, finishing a rotation and writing a pending gap record
 * first. On failure, retry until the writer's one deadline (set by the
 * first failure, cleared by a success); once it has passed, records were
 * lost or a stop was requested, each record gets a single attempt.
 */
static int write_record(struct ledger *l, cJSON *obj)
{
	for (;;) {
		bool io = true;
		int err;

		err = restart_segment(l);
		if (!err && l->lost)
			err = emit_gap(l);
		if (!err)
			err = emit(l, obj, &io);
		if (!err) {
			l->retry_deadline_ns = 0;
			return 0;
		}
		if (!io || l->lost || stopping(l) ||
		    (l->retry_deadline_ns && now_mono_ns() >= l->retry_deadline_ns)) {
			lose_record(l, obj, err, io);
			return err;
		}
		if (!l->retry_deadline_ns) {
			l->retry_deadline_ns = now_mono_ns() + WRITE_RETRY_NS;
			log_err("ledger: write to %s failed (seq %" PRIu64 "): %s; retrying for %d s", l->path,
				l->seq_next, strerror(-err), (int)(WRITE_RETRY_NS / NSEC_PER_SEC));
		}
		usleep(WRITE_RETRY_SLEEP_US);
	}
}

static void write_item(struct ledger *l, struct item *it)
{
	cJSON *o;

	switch (it->type) {
	case IT_PROC: o = proc_to_json(&it->u.p); break;
	case IT_HOST: o = host_to_json(&it->u.h); break;
	default: o = it->u.json; it->u.json = NULL; break;
	}
	if (!o) {
		lose_record(l, NULL, -ENOMEM, false);
		return;
	}
	if (write_record(l, o) == 0)
		maybe_rotate(l);
	cJSON_Delete(o);
}

static void *writer_main(void *arg)
{
	struct ledger *l = arg;
	uint64_t interval = l->o.sync_interval_ns;

	pthread_mutex_lock(&l->mu);
	for (;;) {
		struct item *batch;
		uint64_t ticket;
		bool stop, need;

		while (!l->head && !l->stop && l->flush_req == l->flush_done) {
			if (l->dirty && l->o.sync == LEDGER_SYNC_INTERVAL) {
				uint64_t due = l->last_sync_mono_ns + interval;
				struct timespec ts = { (time_t)(due / NSEC_PER_SEC), (long)(due % NSEC_PER_SEC) };

				if (pthread_cond_timedwait(&l->cv_item, &l->mu, &ts) == ETIMEDOUT)
					break;
			} else {
				pthread_cond_wait(&l->cv_item, &l->mu);
			}
		}
		batch = l->head;
		l->head = l->tail = NULL;
		ticket = l->flush_req;
		stop = l->stop;
		pthread_mutex_unlock(&l->mu);

		while (batch) {
			struct item *next = batch->next;

			write_item(l, batch);
			pthread_mutex_lock(&l->mu);
			l->st.queue_depth--;
			pthread_mutex_unlock(&l->mu);
			if (batch->type == IT_JSON)
				cJSON_Delete(batch->u.json);
			free(batch);
			batch = next;
		}
		need = l->dirty &&
		       (l->o.sync == LEDGER_SYNC_ALWAYS || stop || ticket != l->flush_done ||
			(l->o.sync == LEDGER_SYNC_INTERVAL &&
			 now_mono_ns() - l->last_sync_mono_ns >= interval));
		if (need)
			do_sync(l);

		pthread_mutex_lock(&l->mu);
		l->flush_done = ticket;
		pthread_cond_broadcast(&l->cv_done);
		if (stop && !l->head)
			break;
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

/* ---- open and recovery ------------------------------------------------- */

/* Cut a torn last line (no newline: a crash mid-write). Returns bytes cut or -errno. */
static int64_t cut_torn_tail(int fd, const char *path)
{
	struct stat st;
	char buf[4096];
	off_t end, pos;

	if (fstat(fd, &st) < 0)
		return -errno;
	end = st.st_size;
	if (end == 0)
		return 0;
	if (pread(fd, buf, 1, end - 1) != 1)
		return -EIO;
	if (buf[0] == '\n')
		return 0;
	for (pos = end; pos > 0;) {
		off_t from = pos > (off_t)sizeof(buf) ? pos - (off_t)sizeof(buf) : 0;
		ssize_t n = pread(fd, buf, (size_t)(pos - from), from);
		char *nl;

		if (n != pos - from)
			return -EIO;
		nl = memrchr(buf, '\n', (size_t)n);
		if (nl) {
			pos = from + (nl - buf) + 1;
			break;
		}
		pos = from;
	}
	if (ftruncate(fd, pos) < 0 || fdatasync(fd) < 0)
		return -errno;
	log_warn("ledger: %s ended in a torn line (crash mid-write): cut %lld bytes, chain resumes",
		 path, (long long)(end - pos));
	return end - pos;
}

/* Continue a chain from the newest rotated segment when the active file is missing (crash mid-rotation). */
static bool adopt_previous_segment(struct ledger *l, char *name, size_t len)
{
	int idx = max_segment_index(l->path);
	struct ledger_verifier v;
	char seg[PATH_MAX + 40];

	if (idx <= 0)
		return false;
	snprintf(seg, sizeof(seg), "%s.%d.gz", l->path, idx);
	if (access(seg, F_OK) < 0)
		snprintf(seg, sizeof(seg), "%s.%d", l->path, idx);
	ledger_verifier_init(&v);
	if (verify_file(&v, seg)) {
		log_warn("ledger: last segment %s does not verify (%s:%" PRIu64 ": %s): new chain", seg,
			 seg, v.line, v.why);
		return false;
	}
	memcpy(l->prev_hash, v.prev_hash, sizeof(l->prev_hash));
	l->seq_next = v.next_seq;
	l->next_index = idx + 1;
	return snprintf(name, len, "%s", base_name(seg)) < (int)len;
}

static int recover(struct ledger *l)
{
	struct ledger_verifier v;
	char broken[PATH_MAX + 40], why[320];
	int64_t cut;
	int err;

	memcpy(l->prev_hash, zero_hash, sizeof(l->prev_hash));
	l->seq_next = 0;
	/* Read-write: the torn tail is read back and cut; appends still go through O_APPEND. */
	l->fd = open(l->path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (l->fd < 0 && errno == ENOENT) {
		char prev[PATH_MAX];
		bool linked = adopt_previous_segment(l, prev, sizeof(prev));

		err = create_segment(l);
		return err ? err : write_genesis(l, linked ? prev : NULL, NULL, NULL);
	}
	if (l->fd < 0) {
		err = -errno;
		log_err("failed to open ledger %s: %s", l->path, strerror(-err));
		return err;
	}
	cut = cut_torn_tail(l->fd, l->path);
	if (cut < 0) {
		log_err("ledger: failed to repair %s: %s", l->path, strerror((int)-cut));
		return (int)cut;
	}
	l->st.torn_bytes_cut = (uint64_t)cut;

	ledger_verifier_init(&v);
	err = verify_file(&v, l->path);
	if (err && v.err == LEDGER_E_EMPTY) {
		/* Created (perhaps by a rotation), crashed before genesis reached the disk: start it now, linked. */
		char prev[PATH_MAX];
		bool linked = adopt_previous_segment(l, prev, sizeof(prev));

		return write_genesis(l, linked ? prev : NULL, NULL, NULL);
	}
	if (err) {
		/* Never append to a ledger that does not verify: set it aside, start afresh. */
		snprintf(why, sizeof(why), "line %" PRIu64 ": %s: %s", v.line, ledger_error_name(v.err), v.why);
		snprintf(broken, sizeof(broken), "%s.broken-%" PRIu64, l->path, (uint64_t)(now_real_ns() / NSEC_PER_SEC));
		close(l->fd);
		l->fd = -1;
		if (rename(l->path, broken) < 0) {
			err = -errno;
			log_err("ledger: %s fails verification (%s) and cannot be moved aside: %s", l->path,
				why, strerror(-err));
			return err;
		}
		log_err("ledger: %s fails verification (%s): moved to %s, new chain started", l->path, why,
			broken);
		l->st.started_new_chain = true;
		err = create_segment(l);
		return err ? err : write_genesis(l, NULL, base_name(broken), why);
	}
	memcpy(l->prev_hash, v.prev_hash, sizeof(l->prev_hash));
	l->seq_next = v.next_seq;
	l->seg_records = v.seg_records;
	l->seg_start_ns = v.seg_start_ts_ns;
	{
		struct stat st;

		l->seg_bytes = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	}
	log_info("ledger: %s verified (%" PRIu64 " records), appending from seq %" PRIu64, l->path,
		 v.records, l->seq_next);
	/* A rotate record is a closed segment (crash before the rename); so is a change of key. */
	if (strcmp(v.last_kind, "rotate") == 0)
		return move_aside_and_restart(l);
	if (v.signed_chain != l->signing || (l->signing && memcmp(v.pubkey, l->pk, 32) != 0)) {
		/* No rotate record: it could not be signed by the old key. The new genesis still links. */
		log_info("ledger: signing key changed: %s closed, new segment", l->path);
		return move_aside_and_restart(l);
	}
	return 0;
}

int ledger_open(struct ledger **out, const struct ledger_opts *o)
{
	struct ledger *l;
	pthread_condattr_t ca;
	int err;

	*out = NULL;
	if (!o || !o->path || !*o->path)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->o = *o;
	l->fd = -1;
	l->path = strdup(o->path);
	if (!l->o.period_ns)
		l->o.period_ns = DEFAULT_PERIOD_NS;
	if (!l->o.sync_interval_ns)
		l->o.sync_interval_ns = DEFAULT_SYNC_NS;
	if (!l->o.queue_limit)
		l->o.queue_limit = DEFAULT_QUEUE_LIMIT;
	l->o.path = l->path;
	l->o.key_path = NULL;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv_item, &ca);
	pthread_cond_init(&l->cv_done, &ca);
	pthread_condattr_destroy(&ca);
	l->last_sync_mono_ns = now_mono_ns();
	if (!l->path) {
		err = -ENOMEM;
		goto fail;
	}
	if (o->key_path) {
		unsigned char h[32];

		err = load_key(o->key_path, l->pk, l->sk);
		if (err)
			goto fail;
		l->signing = true;
		crypto_hash_sha256(h, l->pk, sizeof(l->pk));
		sodium_bin2hex(l->key_id, sizeof(l->key_id), h, 8);
	}
	err = recover(l);
	if (err)
		goto fail;
	if (l->dirty)
		do_sync(l);
	err = -pthread_create(&l->thread, NULL, writer_main, l);
	if (err) {
		log_err("ledger: failed to start the writer thread: %s", strerror(-err));
		goto fail;
	}
	l->thread_started = true;
	*out = l;
	return 0;
fail:
	if (l->fd >= 0)
		close(l->fd);
	sodium_memzero(l->sk, sizeof(l->sk));
	free(l->path);
	free(l);
	return err;
}

/* ---- the feeder (the sampler's thread) --------------------------------- */

static unsigned acc_slot(uint32_t pid, uint64_t start_ns)
{
	uint64_t h = (pid * 0x9E3779B97F4A7C15ULL) ^ (start_ns * 0xC2B2AE3D27D4EB4FULL);

	return (unsigned)(h >> 40) & (ACC_BUCKETS - 1);
}

static struct proc_acc *acc_get(struct ledger *l, const struct sample_task *t, uint64_t ts_start_ns)
{
	unsigned slot = acc_slot(t->pid, t->start_ns);
	struct proc_acc *p;

	for (p = l->acc[slot]; p; p = p->next)
		if (p->pid == t->pid && p->start_ns == t->start_ns)
			return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pid = t->pid;
	p->start_ns = t->start_ns;
	p->ts_start_ns = ts_start_ns;
	p->host_uj_start = l->host_cum_uj;
	p->next = l->acc[slot];
	l->acc[slot] = p;
	l->nacc++;
	return p;
}

static void push_items(struct ledger *l, struct item *first, struct item *last, uint64_t n)
{
	if (!first)
		return;
	pthread_mutex_lock(&l->mu);
	if (l->tail)
		l->tail->next = first;
	else
		l->head = first;
	l->tail = last;
	l->st.queue_depth += n;
	if (l->st.queue_depth > l->st.queue_max_depth)
		l->st.queue_max_depth = l->st.queue_depth;
	pthread_cond_signal(&l->cv_item);
	pthread_mutex_unlock(&l->mu);
}

/* A list of items being built, queued in one go. */
struct item_list {
	struct item *first, *last;
	uint64_t n;
};

static void item_list_append(struct item_list *li, struct item *it)
{
	if (li->last)
		li->last->next = it;
	else
		li->first = it;
	li->last = it;
	li->n++;
}

/*
 * Turn accumulators into queued records: all of them (period end) or only
 * the exited ones. Items are built in one list and queued in one go; on
 * ENOMEM what was built is still queued and the rest stays accumulated for
 * the next attempt, so nothing is lost.
 */
static int emit_accumulated(struct ledger *l, bool all, uint64_t ts_end_ns)
{
	struct item_list li = { 0 };
	int err = 0;

	for (unsigned b = 0; b < ACC_BUCKETS && !err; b++) {
		struct proc_acc **pp = &l->acc[b];

		while (*pp) {
			struct proc_acc *p = *pp;
			struct item *it;

			if (!all && !p->exited) {
				pp = &p->next;
				continue;
			}
			it = calloc(1, sizeof(*it));
			if (!it) {
				err = -ENOMEM;
				break;
			}
			*pp = p->next;
			l->nacc--;
			if (p->exited)
				l->nexited--;
			it->type = IT_PROC;
			it->u.p = *p;
			it->u.p.next = NULL;
			free(p);
			item_list_append(&li, it);
		}
	}
	/* the host record closes the period only once every process record of it is out */
	if (!err && all && l->period_open) {
		struct item *it = calloc(1, sizeof(*it));

		if (it) {
			l->host.ts_end_ns = ts_end_ns > l->host.ts_end_ns ? ts_end_ns : l->host.ts_end_ns;
			l->host.processes = li.n;
			it->type = IT_HOST;
			it->u.h = l->host;
			item_list_append(&li, it);
			memset(&l->host, 0, sizeof(l->host));
			l->period_open = false;
		} else {
			err = -ENOMEM;
		}
	}
	if (li.n)
		push_items(l, li.first, li.last, li.n);
	return err;
}

static bool queue_has_room(struct ledger *l)
{
	bool room;

	pthread_mutex_lock(&l->mu);
	room = l->st.queue_depth < l->o.queue_limit;
	pthread_mutex_unlock(&l->mu);
	return room;
}

int ledger_feed_sample(struct ledger *l, const struct sample *s)
{
	uint64_t host_uj = s->host_cpu_uj + s->host_mem_uj;
	bool due;

	if (!l || !s)
		return -EINVAL;
	if (!l->period_open) {
		l->period_open = true;
		l->period_start_mono_ns = s->mono_start_ns;
		l->host.ts_start_ns = s->real_start_ns;
	}
	for (size_t i = 0; i < s->ntasks; i++) {
		const struct sample_task *t = &s->tasks[i];
		struct proc_acc *p = acc_get(l, t, s->real_start_ns);

		if (!p)
			return -ENOMEM;
		p->ppid = t->ppid;
		memcpy(p->comm, t->comm, JOULE_COMM_LEN);
		p->comm[JOULE_COMM_LEN] = '\0';
		p->marked = p->marked || t->marked;
		if (t->exited && !p->exited) {
			p->exited = true;
			p->exit_code = t->exit_code;
			l->nexited++;
		}
		p->cpu_ns += t->tot.cpu_ns;
		p->cpu_uj += t->tot.cpu_uj;
		p->mem_uj += t->tot.mem_uj;
		p->carbon_ug += t->tot.carbon_ug;
		p->embodied_ug += t->tot.embodied_ug;
		p->ts_end_ns = s->real_end_ns;
		p->host_uj_end = l->host_cum_uj + host_uj;
		p->intervals++;
		snap_ctx(&p->ctx, s);
	}
	l->host_cum_uj += host_uj;
	l->host.ts_end_ns = s->real_end_ns;
	l->host.intervals++;
	l->host.cpu_uj += s->host_cpu_uj;
	l->host.mem_uj += s->host_mem_uj;
	l->host.carbon_ug += s->host_carbon_ug;
	l->host.domains |= s->domains;
	for (int d = 0; d < ENERGY_NDOMAINS; d++)
		l->host.domain_uj[d] += s->host_domain_uj[d];
	sample_totals_add(&l->host.idle, &s->idle);
	sample_totals_add(&l->host.overflow, &s->overflow);
	snap_ctx(&l->host.ctx, s);

	due = s->mono_end_ns - l->period_start_mono_ns >= l->o.period_ns;
	if (!due && l->nexited == 0)
		return 0;
	if (!queue_has_room(l)) {
		/* Hold the records back: the accumulators keep counting, nothing is lost. */
		pthread_mutex_lock(&l->mu);
		l->st.queue_full++;
		if (l->st.queue_full == 1 || l->st.queue_full % 1000 == 0)
			log_warn("ledger: writer queue full (%" PRIu64 " records waiting; disk slow?): "
				 "records deferred and coalesced (%" PRIu64 " times so far)",
				 l->st.queue_depth, l->st.queue_full);
		pthread_mutex_unlock(&l->mu);
		if (due && !l->deferred) {
			l->deferred = true;
			l->host.coalesced = true;
			for (unsigned b = 0; b < ACC_BUCKETS; b++)
				for (struct proc_acc *p = l->acc[b]; p; p = p->next)
					p->coalesced = true;
		}
		return 0;
	}
	if (l->deferred) {
		pthread_mutex_lock(&l->mu);
		l->st.coalesced += l->nacc + 1;
		pthread_mutex_unlock(&l->mu);
		l->deferred = false;
	}
	if (due) {
		int err = emit_accumulated(l, true, s->real_end_ns);

		/* The next period starts where this one ended, even if records are still pending. */
		l->period_start_mono_ns = s->mono_end_ns;
		return err;
	}
	return emit_accumulated(l, false, s->real_end_ns);
}

int ledger_append_record(struct ledger *l, cJSON *obj)
{
	struct item *it;
	uint64_t now = now_real_ns();

	if (!l || !cJSON_IsObject(obj) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(obj, "kind")) ||
	    cJSON_GetObjectItemCaseSensitive(obj, "seq") || cJSON_GetObjectItemCaseSensitive(obj, "prev_hash") ||
	    cJSON_GetObjectItemCaseSensitive(obj, "hash") || cJSON_GetObjectItemCaseSensitive(obj, "sig")) {
		cJSON_Delete(obj);
		return -EINVAL;
	}
	if (!cJSON_GetObjectItemCaseSensitive(obj, "ts_start"))
		add_ns_string(obj, "ts_start", now);
	if (!cJSON_GetObjectItemCaseSensitive(obj, "ts_end"))
		add_ns_string(obj, "ts_end", now);
	it = calloc(1, sizeof(*it));
	if (!it) {
		cJSON_Delete(obj);
		return -ENOMEM;
	}
	it->type = IT_JSON;
	it->u.json = obj;
	push_items(l, it, it, 1);
	return 0;
}

int ledger_flush(struct ledger *l)
{
	uint64_t ticket;
	bool bad;

	pthread_mutex_lock(&l->mu);
	ticket = ++l->flush_req;
	pthread_cond_signal(&l->cv_item);
	while (l->flush_done < ticket)
		pthread_cond_wait(&l->cv_done, &l->mu);
	bad = l->io_error;
	pthread_mutex_unlock(&l->mu);
	return bad ? -EIO : 0;
}

void ledger_get_stats(struct ledger *l, struct ledger_stats *out)
{
	pthread_mutex_lock(&l->mu);
	*out = l->st;
	pthread_mutex_unlock(&l->mu);
}

int ledger_close(struct ledger *l)
{
	int err = 0;

	if (!l)
		return 0;
	/* Whatever is accumulated is a record too: a partial period. */
	if (l->period_open || l->nacc)
		err = emit_accumulated(l, true, l->host.ts_end_ns);
	pthread_mutex_lock(&l->mu);
	l->stop = true;
	pthread_cond_signal(&l->cv_item);
	pthread_mutex_unlock(&l->mu);
	if (l->thread_started)
		pthread_join(l->thread, NULL);
	if (l->fd >= 0) {
		if (fdatasync(l->fd) < 0 && !err)
			err = -errno;
		close(l->fd);
	}
	if (l->io_error && !err)
		err = -EIO;
	for (unsigned b = 0; b < ACC_BUCKETS; b++) {
		while (l->acc[b]) {
			struct proc_acc *p = l->acc[b];

			l->acc[b] = p->next;
			free(p);
		}
	}
	while (l->head) {
		struct item *it = l->head;

		l->head = it->next;
		if (it->type == IT_JSON)
			cJSON_Delete(it->u.json);
		free(it);
	}
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv_item);
	pthread_cond_destroy(&l->cv_done);
	sodium_memzero(l->sk, sizeof(l->sk));
	free(l->path);
	free(l);
	return err;
}
