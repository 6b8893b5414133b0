/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Ed25519 keys for signed ledgers: key files (mode 0600), public key files, key ids, signatures over hashes. */
#ifndef JOULE_LEDGER_KEYS_H
#define JOULE_LEDGER_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_PUBKEY_HEX 64	/* hex Ed25519 public key */
#define LEDGER_SIG_HEX 128	/* hex Ed25519 signature */
#define LEDGER_KEY_ID_HEX 16	/* first 8 bytes of SHA-256(pubkey), hex */

struct ledger_key {
	unsigned char pk[32], sk[64];
	char key_id[LEDGER_KEY_ID_HEX + 1];
};

/*
 * Write a new Ed25519 key (hex seed) to path, mode 0600, and its public key
 * (hex) to path.pub, mode 0644, refusing to overwrite either. 0 or -errno
 * (logged; neither file is left behind).
 */
int ledger_keygen(const char *path, char pubkey_hex[LEDGER_PUBKEY_HEX + 1]);

/* Read a public key file (64 hex digits, as keygen writes path.pub). 0 or -errno (logged). */
int ledger_pubkey_read(const char *path, unsigned char pk[32]);

/* Load a key file written by ledger_keygen(); refuses one that group or others can read. 0 or -errno (logged). */
int ledger_key_load(const char *path, struct ledger_key *k);

/* Forget the secret half. */
void ledger_key_wipe(struct ledger_key *k);

/* key_id of a public key: the first 16 hex digits of its SHA-256. */
void ledger_key_id(const unsigned char pk[32], char id[LEDGER_KEY_ID_HEX + 1]);

/* Hex signature of msg (the ledger signs the 64 ASCII hex digits of a hash). */
void ledger_key_sign_hex(const struct ledger_key *k, const void *msg, size_t len,
			 char sig[LEDGER_SIG_HEX + 1]);

/* Does sig_hex verify over msg under pk? false also for a malformed signature. */
bool ledger_sig_verify_hex(const unsigned char pk[32], const char *sig_hex, const void *msg, size_t len);

/* 64 lowercase hex digits to a public key. 0 or -EINVAL. */
int ledger_pubkey_from_hex(const char *hex, unsigned char pk[32]);

#endif /* JOULE_LEDGER_KEYS_H */
