/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The ledger's chain: canonical bytes of a record, its SHA-256 link to the one before, its Ed25519 signature. */
#ifndef JOULE_LEDGER_CHAIN_H
#define JOULE_LEDGER_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "joule/ledger_keys.h"

#define LEDGER_HASH_HEX 64	/* hex SHA-256 */

/* prev_hash of the first record of a new chain. */
extern const char ledger_zero_hash[LEDGER_HASH_HEX + 1];

/* Where the chain stands: the next record's seq and prev_hash, and the key that signs it. */
struct ledger_chain {
	uint64_t seq_next;
	char prev_hash[LEDGER_HASH_HEX + 1];
	bool signing;
	struct ledger_key key;
};

/* A new chain: seq 0, prev_hash zero, unsigned (set signing/key after). */
void ledger_chain_init(struct ledger_chain *c);

/*
 * Seal obj as the chain's next record: drop any seq/prev_hash/hash/sig it
 * carries, make every string valid UTF-8 and every number finite, add
 * seq, prev_hash, hash (and sig), and serialize it. *line is malloc'ed
 * and ends in '\n' (*len counts it); hash is the record's hash. The chain
 * does not move: call ledger_chain_advance() once the line is stored.
 * 0, -ENOMEM or -EEXIST (obj repeats a key).
 */
int ledger_chain_seal(const struct ledger_chain *c, cJSON *obj, char **line, size_t *len,
		      char hash[LEDGER_HASH_HEX + 1]);

/* The sealed record is on disk: the next one links to hash. */
void ledger_chain_advance(struct ledger_chain *c, const char hash[LEDGER_HASH_HEX + 1]);

/* Lowercase hex SHA-256 of buf. */
void ledger_sha256_hex(const void *buf, size_t len, char out[LEDGER_HASH_HEX + 1]);

/* s is exactly n lowercase hex digits. */
bool ledger_is_hex(const char *s, size_t n);

/*
 * Add an unsigned integer: a JSON number when <= 2^53 (exact in every
 * reader), else a decimal string, so no digit is ever lost. 0 or -ENOMEM.
 */
int ledger_json_add_u64(cJSON *obj, const char *key, uint64_t v);

/* ns timestamps exceed 2^53, so they travel as decimal strings. 0 or -ENOMEM. */
int ledger_json_add_ns(cJSON *obj, const char *key, uint64_t ns);
/* A decimal ns string back to its value. */
bool ledger_json_get_ns(const cJSON *it, uint64_t *out);
/* A JSON number that is an integer >= min and below 2^53 (where doubles stop being exact): seq, counts. */
bool ledger_json_is_uint(const cJSON *it, uint64_t min);

#endif /* JOULE_LEDGER_CHAIN_H */
