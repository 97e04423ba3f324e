/* Hashing: known answers, incremental == one-shot, size queries, prefixes. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "tests/check_util.h"

static const char *const ossl_names[CR_HASH_COUNT] = {
	"SHA1", "SHA224", "SHA256", "SHA384", "SHA512",
	"SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512",
};

START_TEST(test_sizes)
{
	const size_t want[CR_HASH_COUNT] = { 20, 28, 32, 48, 64, 28, 32, 48, 64 };

	for (int h = 0; h < CR_HASH_COUNT; h++)
		ck_assert_uint_eq(cr_hash_size((enum cr_hash)h), want[h]);
	ck_assert_uint_eq(cr_hash_size(CR_HASH_COUNT), 0);
	ck_assert_uint_eq(cr_hash_size((enum cr_hash)-1), 0);
}
END_TEST

START_TEST(test_known_answers)
{
	/* FIPS 180-4 / FIPS 202 example "abc". */
	uint8_t want[32], got[CR_HASH_MAX_SIZE];
	size_t len = sizeof(got);

	tu_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, (const uint8_t *)"abc", 3, got, &len), CR_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_mem_eq(got, want, 32);

	len = sizeof(got);
	tu_unhex("3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532", want, 32);
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA3_256, (const uint8_t *)"abc", 3, got, &len), CR_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_mem_eq(got, want, 32);

	/* Empty input with a NULL pointer is the hash of the empty string. */
	len = sizeof(got);
	tu_unhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, 32);
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, NULL, 0, got, &len), CR_OK);
	ck_assert_mem_eq(got, want, 32);
}
END_TEST

/* Every hash, incrementally in uneven pieces, equals OpenSSL's one-shot result. */
START_TEST(test_incremental_matches_openssl)
{
	enum cr_hash h = (enum cr_hash)_i;
	uint8_t data[3000], want[EVP_MAX_MD_SIZE], got[CR_HASH_MAX_SIZE], once[CR_HASH_MAX_SIZE];
	unsigned int want_len = 0;
	size_t got_len = sizeof(got), once_len = sizeof(once), off = 0, step = 1;
	struct cr_digest *d = NULL;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	ck_assert_int_eq(EVP_Digest(data, sizeof(data), want, &want_len,
				    EVP_get_digestbyname(ossl_names[h]), NULL), 1);

	ck_assert_int_eq(cr_digest_new(h, &d), CR_OK);
	ck_assert_int_eq(cr_digest_hash(d), h);
	while (off < sizeof(data)) {
		size_t n = step < sizeof(data) - off ? step : sizeof(data) - off;
		ck_assert_int_eq(cr_digest_update(d, data + off, n), CR_OK);
		off += n;
		step = step * 3 + 1;
	}
	ck_assert_int_eq(cr_digest_update(d, NULL, 0), CR_OK);
	ck_assert_int_eq(cr_digest_final(d, got, &got_len), CR_OK);
	ck_assert_uint_eq(got_len, want_len);
	ck_assert_mem_eq(got, want, want_len);
	cr_digest_free(d);

	ck_assert_int_eq(cr_hash_once(h, data, sizeof(data), once, &once_len), CR_OK);
	ck_assert_uint_eq(once_len, want_len);
	ck_assert_mem_eq(once, want, want_len);
}
END_TEST

START_TEST(test_size_query_keeps_operation)
{
	struct cr_digest *d = NULL;
	uint8_t out[CR_HASH_MAX_SIZE], want[32];
	size_t len = 0;

	tu_unhex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", want, 32);
	ck_assert_int_eq(cr_digest_new(CR_HASH_SHA256, &d), CR_OK);
	ck_assert_int_eq(cr_digest_update(d, (const uint8_t *)"ab", 2), CR_OK);
	ck_assert_int_eq(cr_digest_final(d, NULL, &len), CR_E_BUFFER);
	ck_assert_uint_eq(len, 32);
	len = 31;
	ck_assert_int_eq(cr_digest_final(d, out, &len), CR_E_BUFFER);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(cr_digest_update(d, (const uint8_t *)"c", 1), CR_OK);
	len = sizeof(out);
	ck_assert_int_eq(cr_digest_final(d, out, &len), CR_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_mem_eq(out, want, 32);
	/* Finished: no more input, no second result. */
	ck_assert_int_eq(cr_digest_update(d, (const uint8_t *)"x", 1), CR_E_ARGS);
	len = sizeof(out);
	ck_assert_int_eq(cr_digest_final(d, out, &len), CR_E_ARGS);
	cr_digest_free(d);

	len = 19;
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA1, (const uint8_t *)"a", 1, out, &len), CR_E_BUFFER);
	ck_assert_uint_eq(len, 20);
}
END_TEST

START_TEST(test_bad_args)
{
	struct cr_digest *d = (struct cr_digest *)1;
	uint8_t out[64];
	size_t len = sizeof(out);

	ck_assert_int_eq(cr_digest_new(CR_HASH_COUNT, &d), CR_E_ARGS);
	ck_assert_int_eq(cr_digest_new(CR_HASH_SHA256, NULL), CR_E_ARGS);
	ck_assert_int_eq(cr_digest_update(NULL, out, 1), CR_E_ARGS);
	ck_assert_int_eq(cr_hash_once(CR_HASH_COUNT, out, 1, out, &len), CR_E_ARGS);
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, NULL, 1, out, &len), CR_E_ARGS);
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, out, 1, out, NULL), CR_E_ARGS);
	cr_digest_free(NULL);
}
END_TEST

/* Each prefix followed by a hash is exactly the DigestInfo OpenSSL encodes. */
START_TEST(test_digestinfo_prefix)
{
	enum cr_hash h = (enum cr_hash)_i;
	const uint8_t *prefix = NULL;
	size_t prefix_len = 0, hlen = cr_hash_size(h);
	X509_SIG *sig = X509_SIG_new();
	X509_ALGOR *alg = NULL;
	ASN1_OCTET_STRING *digest = NULL;
	uint8_t value[CR_HASH_MAX_SIZE], *der = NULL;
	int der_len;

	ck_assert_int_eq(cr_digestinfo_prefix(h, &prefix, &prefix_len), CR_OK);
	ck_assert_uint_eq(prefix_len, h == CR_HASH_SHA1 ? 15 : 19);
	memset(value, 0x5a, sizeof(value));
	X509_SIG_getm(sig, &alg, &digest);
	ck_assert_int_eq(X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(EVP_get_digestbyname(ossl_names[h]))),
					 V_ASN1_NULL, NULL), 1);
	ck_assert_int_eq(ASN1_OCTET_STRING_set(digest, value, (int)hlen), 1);
	der_len = i2d_X509_SIG(sig, &der);
	ck_assert_int_eq(der_len, (int)(prefix_len + hlen));
	ck_assert_mem_eq(der, prefix, prefix_len);
	ck_assert_mem_eq(der + prefix_len, value, hlen);
	OPENSSL_free(der);
	X509_SIG_free(sig);
	ck_assert_int_eq(cr_digestinfo_prefix(CR_HASH_COUNT, &prefix, &prefix_len), CR_E_ARGS);
}
END_TEST

/* The first use runs the one-time setup; threads racing to it all get a working digest. */
static void *hash_in_thread(void *arg)
{
	uint8_t out[32];
	size_t len = sizeof(out);
	int *ok = arg;

	*ok = cr_hash_once(CR_HASH_SHA256, (const uint8_t *)"abc", 3, out, &len) == CR_OK && len == 32 &&
	      out[0] == 0xba && out[31] == 0xad;
	return NULL;
}

START_TEST(test_concurrent_first_use)
{
	pthread_t threads[8];
	int ok[8] = { 0 };

	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(pthread_create(&threads[i], NULL, hash_in_thread, &ok[i]), 0);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
		ck_assert_int_eq(ok[i], 1);
	}
}
END_TEST

static Suite *digest_suite(void)
{
	Suite *s = suite_create("crypto_digest");
	TCase *tc = tcase_create("digest");

	tcase_add_test(tc, test_concurrent_first_use);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_known_answers);
	tcase_add_loop_test(tc, test_incremental_matches_openssl, 0, CR_HASH_COUNT);
	tcase_add_test(tc, test_size_query_keeps_operation);
	tcase_add_test(tc, test_bad_args);
	tcase_add_loop_test(tc, test_digestinfo_prefix, 0, CR_HASH_COUNT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(digest_suite());
}
