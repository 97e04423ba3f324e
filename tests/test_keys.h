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
