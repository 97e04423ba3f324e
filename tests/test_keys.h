/*
 * Keys for the crypto suites, made with OpenSSL once in main() before the
 * suite runs, so that every forked test process inherits the same keys.
 */
#ifndef SIGNET_TEST_KEYS_H
#define SIGNET_TEST_KEYS_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tests/check_util.h"

/* A key to make: kind is "RSA-<bits>", "ED25519", "X25519" or an EC curve name such as "P-256". */
struct tk_key {
	EVP_PKEY **key;
	const char *kind;
};

static inline EVP_PKEY *tk_keygen(const char *kind)
{
	if (strncmp(kind, "RSA-", 4) == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)strtoul(kind + 4, NULL, 10));
	if (strcmp(kind, "ED25519") == 0 || strcmp(kind, "X25519") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, kind);
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
}

/* A key's DER SubjectPublicKeyInfo (OPENSSL_free the data). */
struct tk_der {
	unsigned char *data;
	size_t len;
};

static inline struct tk_der tk_spki_of(EVP_PKEY *key)
{
	struct tk_der d = { NULL, 0 };
	int n = i2d_PUBKEY(key, &d.data);

	ck_assert_int_gt(n, 0);
	d.len = (size_t)n;
	return d;
}

/* OpenSSL's own signature of msg: PKCS#1 v1.5 or (pss) PSS with a 32-byte salt for RSA keys. */
static inline size_t tk_openssl_sign(EVP_PKEY *key, const EVP_MD *md, int pss, const uint8_t *msg, size_t msg_len,
				     uint8_t *sig, size_t cap)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t len = cap;

	ck_assert_int_eq(EVP_DigestSignInit(mctx, &pctx, md, NULL, key), 1);
	if (pss) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
	}
	ck_assert_int_eq(EVP_DigestSign(mctx, sig, &len, msg, msg_len), 1);
	EVP_MD_CTX_free(mctx);
	return len;
}

/*
 * Makes the n keys of the table, runs the suite make_suite() builds
 * (tu_run_suite) and frees the keys. Returns main()'s exit status, a
 * failure without running anything when a key cannot be made.
 */
static inline int tk_run_suite_with_keys(Suite *(*make_suite)(void), const struct tk_key *keys, size_t n)
{
	int status = EXIT_FAILURE;
	size_t made;

	for (made = 0; made < n; made++) {
		*keys[made].key = tk_keygen(keys[made].kind);
		if (*keys[made].key == NULL) {
			fprintf(stderr, "%s key generation failed\n", keys[made].kind);
			goto out;
		}
	}
	status = tu_run_suite(make_suite());
out:
	for (size_t i = 0; i < made; i++)
		EVP_PKEY_free(*keys[i].key);
	return status;
}

#endif
