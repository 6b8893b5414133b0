// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Ed25519 keys for signed ledgers: generate, load (0600 only), key ids, sign and verify hashes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "joule/ledger_chain.h"
#include "joule/ledger_keys.h"
#include "joule/log.h"
#include "joule/util.h"

/* Create path (O_EXCL) holding text; 0 or -errno (logged). */
static int write_new_file(const char *path, const char *what, mode_t mode, const char *text)
{
	size_t len = strlen(text);
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		err = -errno;
		log_err("failed to create %s %s: %s", what, path, strerror(-err));
		return err;
	}
	if (fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0) {
		err = errno ? -errno : -EIO;
		log_err("failed to write %s %s: %s", what, path, strerror(-err));
	}
	close(fd);
	if (err)
		unlink(path);
	return err;
}

int ledger_keygen(const char *path, char pubkey_hex[LEDGER_PUBKEY_HEX + 1])
{
	unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES];
	unsigned char sk[crypto_sign_SECRETKEYBYTES];
	char hex[2 * crypto_sign_SEEDBYTES + 2], pkhex[LEDGER_PUBKEY_HEX + 2], *pub = NULL;
	int err;

	if (sodium_init() < 0)
		return -EIO;
	if (asprintf(&pub, "%s.pub", path) < 0)
		return -ENOMEM;
	randombytes_buf(seed, sizeof(seed));
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
	strcat(hex, "\n");
	sodium_bin2hex(pkhex, sizeof(pkhex), pk, sizeof(pk));
	strcat(pkhex, "\n");
	/* The public half first: if it cannot be written, no secret key is left lying around. */
	err = write_new_file(pub, "public key file", 0644, pkhex);
	if (!err) {
		err = write_new_file(path, "key file", 0600, hex);
		if (err)
			unlink(pub);
	}
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(sk, sizeof(sk));
	sodium_memzero(hex, sizeof(hex));
	if (!err && pubkey_hex)
		memcpy(pubkey_hex, pkhex, LEDGER_PUBKEY_HEX), pubkey_hex[LEDGER_PUBKEY_HEX] = '\0';
	free(pub);
	return err;
}

int ledger_pubkey_read(const char *path, unsigned char pk[32])
{
	char buf[LEDGER_PUBKEY_HEX + 8];
	int n = read_text_file(path, buf, sizeof(buf));

	if (n < 0) {
		log_err("failed to read public key %s: %s", path, strerror(-n));
		return n;
	}
	if (ledger_pubkey_from_hex(buf, pk)) {
		log_err("public key %s is not 64 lowercase hex digits (keygen writes it as KEYFILE.pub)", path);
		return -EINVAL;
	}
	return 0;
}

int ledger_key_load(const char *path, struct ledger_key *k)
{
	unsigned char seed[crypto_sign_SEEDBYTES];
	char buf[160];
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	if (sodium_init() < 0)
		return -EIO;
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
	if (!err) {
		crypto_sign_seed_keypair(k->pk, k->sk, seed);
		ledger_key_id(k->pk, k->key_id);
	}
	sodium_memzero(seed, sizeof(seed));
	sodium_memzero(buf, sizeof(buf));
	return err;
}

void ledger_key_wipe(struct ledger_key *k)
{
	sodium_memzero(k->sk, sizeof(k->sk));
}

void ledger_key_id(const unsigned char pk[32], char id[LEDGER_KEY_ID_HEX + 1])
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, pk, 32);
	sodium_bin2hex(id, LEDGER_KEY_ID_HEX + 1, h, LEDGER_KEY_ID_HEX / 2);
}

void ledger_key_sign_hex(const struct ledger_key *k, const void *msg, size_t len,
			 char sig[LEDGER_SIG_HEX + 1])
{
	unsigned char s[crypto_sign_BYTES];

	crypto_sign_detached(s, NULL, msg, len, k->sk);
	sodium_bin2hex(sig, LEDGER_SIG_HEX + 1, s, sizeof(s));
}

bool ledger_sig_verify_hex(const unsigned char pk[32], const char *sig_hex, const void *msg, size_t len)
{
	unsigned char s[crypto_sign_BYTES];

	if (!sig_hex || !ledger_is_hex(sig_hex, LEDGER_SIG_HEX) ||
	    sodium_hex2bin(s, sizeof(s), sig_hex, LEDGER_SIG_HEX, NULL, NULL, NULL) != 0)
		return false;
	return crypto_sign_verify_detached(s, msg, len, pk) == 0;
}

int ledger_pubkey_from_hex(const char *hex, unsigned char pk[32])
{
	if (!hex || !ledger_is_hex(hex, LEDGER_PUBKEY_HEX) ||
	    sodium_hex2bin(pk, 32, hex, LEDGER_PUBKEY_HEX, NULL, NULL, NULL) != 0)
		return -EINVAL;
	return 0;
}
