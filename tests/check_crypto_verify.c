/* Host-side public-key operations, checked on signatures OpenSSL makes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/ecdsa.h"
#include "crypto/rsa_pad.h"
#include "crypto/verify.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

static EVP_PKEY *rsa_key, *p256_key, *p384_key, *ed_key;

static const uint8_t msg[] = "signed by the token";

/* OpenSSL's signature of msg. */
static size_t openssl_sign(EVP_PKEY *key, const EVP_MD *md, int pss, uint8_t *sig, size_t cap)
{
	return tk_openssl_sign(key, md, pss, msg, sizeof(msg), sig, cap);
}

START_TEST(test_rsa_public_raw)
{
	struct tk_der s = tk_spki_of(rsa_key);
	uint8_t sig[256], out[256], hash[32], want[256], all_ff[256];
	size_t hash_len = sizeof(hash), out_len = sizeof(out);
	BIGNUM *n = NULL, *e = NULL, *two = BN_new(), *r = BN_new();
	BN_CTX *bn_ctx = BN_CTX_new();

	openssl_sign(rsa_key, EVP_sha256(), 0, sig, sizeof(sig));
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, msg, sizeof(msg), hash, &hash_len), CR_OK);
	ck_assert_int_eq(cr_rsa_pkcs1_sign_block(CR_HASH_SHA256, hash, 32, want, 256), CR_OK);
	ck_assert_int_eq(cr_rsa_public_raw(s.data, s.len, sig, 256, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, 256);
	ck_assert_mem_eq(out, want, 256);

	/* A one-byte input is the number 2: the result is 2^e mod n. */
	ck_assert_int_eq(EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	ck_assert_int_eq(EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_E, &e), 1);
	ck_assert_int_eq(BN_set_word(two, 2), 1);
	ck_assert_int_eq(BN_mod_exp(r, two, e, n, bn_ctx), 1);
	ck_assert_int_eq(BN_bn2binpad(r, want, 256), 256);
	ck_assert_int_eq(cr_rsa_public_raw(s.data, s.len, (const uint8_t *)"\x02", 1, out, &out_len), CR_OK);
	ck_assert_mem_eq(out, want, 256);

	memset(all_ff, 0xff, sizeof(all_ff)); /* above the modulus */
	ck_assert_int_eq(cr_rsa_public_raw(s.data, s.len, all_ff, 256, out, &out_len), CR_E_DATA);
	ck_assert_int_eq(cr_rsa_public_raw(s.data, s.len, sig, 257, out, &out_len), CR_E_DATA);
	out_len = 255;
	ck_assert_int_eq(cr_rsa_public_raw(s.data, s.len, sig, 256, out, &out_len), CR_E_BUFFER);
	ck_assert_uint_eq(out_len, 256);
	BN_free(n);
	BN_free(e);
	BN_free(two);
	BN_free(r);
	BN_CTX_free(bn_ctx);
	OPENSSL_free(s.data);
}
END_TEST

START_TEST(test_verify_rsa_pkcs1)
{
	struct tk_der s = tk_spki_of(rsa_key), ec = tk_spki_of(p256_key);
	uint8_t sig[256], hash[32], info[CR_DIGESTINFO_MAX_SIZE];
	size_t hash_len = sizeof(hash), info_len = sizeof(info);

	openssl_sign(rsa_key, EVP_sha256(), 0, sig, sizeof(sig));
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, msg, sizeof(msg), hash, &hash_len), CR_OK);
	ck_assert_int_eq(cr_rsa_digestinfo(CR_HASH_SHA256, hash, hash_len, info, &info_len), CR_OK);
	ck_assert_int_eq(cr_verify_rsa_pkcs1(s.data, s.len, info, info_len, sig, 256), CR_OK);
	info[info_len - 1] ^= 1;
	ck_assert_int_eq(cr_verify_rsa_pkcs1(s.data, s.len, info, info_len, sig, 256), CR_E_SIGNATURE);
	info[info_len - 1] ^= 1;
	sig[10] ^= 1;
	ck_assert_int_eq(cr_verify_rsa_pkcs1(s.data, s.len, info, info_len, sig, 256), CR_E_SIGNATURE);
	ck_assert_int_eq(cr_verify_rsa_pkcs1(s.data, s.len, info, info_len, sig, 255), CR_E_SIGNATURE_LEN);
	ck_assert_int_eq(cr_verify_rsa_pkcs1(ec.data, ec.len, info, info_len, sig, 256), CR_E_ARGS);
	ck_assert_int_eq(cr_verify_rsa_pkcs1(s.data, s.len - 1, info, info_len, sig, 256), CR_E_DATA);
	OPENSSL_free(s.data);
	OPENSSL_free(ec.data);
}
END_TEST

START_TEST(test_verify_rsa_pss)
{
	struct tk_der s = tk_spki_of(rsa_key);
	uint8_t sig[256], hash[32];
	size_t hash_len = sizeof(hash);

	openssl_sign(rsa_key, EVP_sha256(), 1, sig, sizeof(sig));
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, msg, sizeof(msg), hash, &hash_len), CR_OK);
	ck_assert_int_eq(cr_verify_rsa_pss(s.data, s.len, CR_HASH_SHA256, CR_HASH_SHA256, 32, hash, 32, sig, 256),
			 CR_OK);
	ck_assert_int_eq(cr_verify_rsa_pss(s.data, s.len, CR_HASH_SHA256, CR_HASH_SHA256, 20, hash, 32, sig, 256),
			 CR_E_SIGNATURE);
	hash[0] ^= 1;
	ck_assert_int_eq(cr_verify_rsa_pss(s.data, s.len, CR_HASH_SHA256, CR_HASH_SHA256, 32, hash, 32, sig, 256),
			 CR_E_SIGNATURE);
	ck_assert_int_eq(cr_verify_rsa_pss(s.data, s.len, CR_HASH_SHA256, CR_HASH_SHA256, 32, hash, 31, sig, 256),
			 CR_E_ARGS);
	OPENSSL_free(s.data);
}
END_TEST

static void check_ecdsa(EVP_PKEY *key, size_t field, const EVP_MD *md, enum cr_hash h)
{
	struct tk_der s = tk_spki_of(key), rsa = tk_spki_of(rsa_key);
	uint8_t der[CR_ECDSA_MAX_DER_SIZE], raw[CR_ECDSA_MAX_RAW_SIZE], hash[CR_HASH_MAX_SIZE];
	size_t der_len = openssl_sign(key, md, 0, der, sizeof(der)), raw_len = sizeof(raw), hash_len = sizeof(hash);

	ck_assert_int_eq(cr_ecdsa_der_to_raw(der, der_len, field, raw, &raw_len), CR_OK);
	ck_assert_int_eq(cr_hash_once(h, msg, sizeof(msg), hash, &hash_len), CR_OK);
	ck_assert_int_eq(cr_verify_ecdsa(s.data, s.len, hash, hash_len, raw, raw_len), CR_OK);
	raw[raw_len - 1] ^= 1;
	ck_assert_int_eq(cr_verify_ecdsa(s.data, s.len, hash, hash_len, raw, raw_len), CR_E_SIGNATURE);
	raw[raw_len - 1] ^= 1;
	hash[0] ^= 1;
	ck_assert_int_eq(cr_verify_ecdsa(s.data, s.len, hash, hash_len, raw, raw_len), CR_E_SIGNATURE);
	ck_assert_int_eq(cr_verify_ecdsa(s.data, s.len, hash, hash_len, raw, raw_len - 1), CR_E_SIGNATURE_LEN);
	memset(raw, 0, raw_len);
	ck_assert_int_eq(cr_verify_ecdsa(s.data, s.len, hash, hash_len, raw, raw_len), CR_E_SIGNATURE);
	ck_assert_int_eq(cr_verify_ecdsa(rsa.data, rsa.len, hash, hash_len, raw, raw_len), CR_E_ARGS);
	OPENSSL_free(s.data);
	OPENSSL_free(rsa.data);
}

START_TEST(test_verify_ecdsa)
{
	check_ecdsa(p256_key, 32, EVP_sha256(), CR_HASH_SHA256);
	check_ecdsa(p384_key, 48, EVP_sha384(), CR_HASH_SHA384);
	/* A hash longer than the order is truncated, as in signing. */
	check_ecdsa(p256_key, 32, EVP_sha512(), CR_HASH_SHA512);
}
END_TEST

START_TEST(test_verify_ed25519)
{
	struct tk_der s = tk_spki_of(ed_key);
	uint8_t sig[64];

	ck_assert_uint_eq(openssl_sign(ed_key, NULL, 0, sig, sizeof(sig)), 64);
	ck_assert_int_eq(cr_verify_ed25519(s.data, s.len, msg, sizeof(msg), sig, 64), CR_OK);
	ck_assert_int_eq(cr_verify_ed25519(s.data, s.len, msg, sizeof(msg) - 1, sig, 64), CR_E_SIGNATURE);
	sig[5] ^= 0x10;
	ck_assert_int_eq(cr_verify_ed25519(s.data, s.len, msg, sizeof(msg), sig, 64), CR_E_SIGNATURE);
	ck_assert_int_eq(cr_verify_ed25519(s.data, s.len, msg, sizeof(msg), sig, 63), CR_E_SIGNATURE_LEN);
	OPENSSL_free(s.data);
}
END_TEST

/* cr_verify_hash: signatures as files and CMS carry them, one scheme each, over a host hash. */
START_TEST(test_verify_hash)
{
	struct tk_der r = tk_spki_of(rsa_key), e = tk_spki_of(p384_key);
	uint8_t pkcs1[256], pss[256], ecdsa[CR_ECDSA_MAX_DER_SIZE], h256[32], h384[48];
	size_t l256 = sizeof(h256), l384 = sizeof(h384), ecdsa_len;

	openssl_sign(rsa_key, EVP_sha256(), 0, pkcs1, sizeof(pkcs1));
	openssl_sign(rsa_key, EVP_sha256(), 1, pss, sizeof(pss));
	ecdsa_len = openssl_sign(p384_key, EVP_sha384(), 0, ecdsa, sizeof(ecdsa));
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, msg, sizeof(msg), h256, &l256), CR_OK);
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA384, msg, sizeof(msg), h384, &l384), CR_OK);

	ck_assert_int_eq(cr_verify_hash(r.data, r.len, CR_SCHEME_RSA_PKCS1, CR_HASH_SHA256, h256, 32, pkcs1, 256), CR_OK);
	ck_assert_int_eq(cr_verify_hash(r.data, r.len, CR_SCHEME_RSA_PSS, CR_HASH_SHA256, h256, 32, pss, 256), CR_OK);
	ck_assert_int_eq(cr_verify_hash(e.data, e.len, CR_SCHEME_ECDSA, CR_HASH_SHA384, h384, 48, ecdsa, ecdsa_len),
			 CR_OK);
	/* the other scheme, another hash, a changed signature: no */
	ck_assert_int_eq(cr_verify_hash(r.data, r.len, CR_SCHEME_RSA_PSS, CR_HASH_SHA256, h256, 32, pkcs1, 256),
			 CR_E_SIGNATURE);
	ck_assert_int_eq(cr_verify_hash(r.data, r.len, CR_SCHEME_RSA_PKCS1, CR_HASH_SHA256, h256, 32, pss, 256),
			 CR_E_SIGNATURE);
	h256[3] ^= 1;
	ck_assert_int_eq(cr_verify_hash(r.data, r.len, CR_SCHEME_RSA_PKCS1, CR_HASH_SHA256, h256, 32, pkcs1, 256),
			 CR_E_SIGNATURE);
	ecdsa[ecdsa_len - 1] ^= 1;
	ck_assert_int_eq(cr_verify_hash(e.data, e.len, CR_SCHEME_ECDSA, CR_HASH_SHA384, h384, 48, ecdsa, ecdsa_len),
			 CR_E_SIGNATURE);
	/* not DER at all is not a signature either */
	ck_assert_int_eq(cr_verify_hash(e.data, e.len, CR_SCHEME_ECDSA, CR_HASH_SHA384, h384, 48, ecdsa, 5),
			 CR_E_SIGNATURE);
	/* a hash of the wrong size, a key of the wrong type */
	ck_assert_int_eq(cr_verify_hash(r.data, r.len, CR_SCHEME_RSA_PKCS1, CR_HASH_SHA384, h256, 32, pkcs1, 256),
			 CR_E_ARGS);
	ck_assert_int_eq(cr_verify_hash(r.data, r.len, CR_SCHEME_ECDSA, CR_HASH_SHA384, h384, 48, ecdsa, ecdsa_len),
			 CR_E_ARGS);
	OPENSSL_free(r.data);
	OPENSSL_free(e.data);
}
END_TEST

static Suite *verify_suite(void)
{
	Suite *s = suite_create("crypto_verify");
	TCase *tc = tcase_create("verify");

	tcase_add_test(tc, test_rsa_public_raw);
	tcase_add_test(tc, test_verify_rsa_pkcs1);
	tcase_add_test(tc, test_verify_rsa_pss);
	tcase_add_test(tc, test_verify_ecdsa);
	tcase_add_test(tc, test_verify_ed25519);
	tcase_add_test(tc, test_verify_hash);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static const struct tk_key keys_to_make[] = {
		{ &rsa_key, "RSA-2048" },
		{ &p256_key, "P-256" },
		{ &p384_key, "P-384" },
		{ &ed_key, "ED25519" },
	};

	return tk_run_suite_with_keys(verify_suite, keys_to_make, sizeof(keys_to_make) / sizeof(keys_to_make[0]));
}
