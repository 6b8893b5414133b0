/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Ledger checkpoints: a signed statement "this ledger held record seq N with hash H at time T", kept apart from the ledger. */
#ifndef JOULE_LEDGER_CHECKPOINT_H
#define JOULE_LEDGER_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "joule/ledger_chain.h"
#include "joule/ledger_keys.h"

struct ledger_checkpoint {
	uint64_t seq;
	char hash[LEDGER_HASH_HEX + 1];
	uint64_t ts_ns;		/* when the checkpoint was taken (the signer's clock) */
	uint64_t records;	/* records verified in the series when it was taken */
	bool is_signed;
	unsigned char pubkey[32];
};

/*
 * The checkpoint as one canonical JSON line (with '\n'; malloc'ed):
 * kind, seq, hash, ts, records, and with key pubkey, key_id and sig (hex
 * Ed25519 over the canonical bytes of the object without sig). 0 or -ENOMEM.
 */
int ledger_checkpoint_format(const struct ledger_checkpoint *cp, const struct ledger_key *key, char **out);

/*
 * Parse and check a checkpoint (the text of the file). A signed one must
 * verify under its own pubkey, and with pin under pin (an unsigned one then
 * fails). 0, or -EBADMSG with why set.
 */
int ledger_checkpoint_parse(const char *text, size_t len, const unsigned char *pin,
			    struct ledger_checkpoint *cp, char *why, size_t whylen);

#endif /* JOULE_LEDGER_CHECKPOINT_H */
