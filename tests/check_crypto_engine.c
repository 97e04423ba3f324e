/*
 * The crypto room inside a host that made an ENGINE OpenSSL's default, as
 * `openssl -engine pkcs11` does with libp11's engine for RSA and EC: keys
 * built from their parts, parsed and used to verify must come from our
 * library context's providers, not from the engine.
 */
/* The test plays the host, which uses the ENGINE API OpenSSL 3.0 deprecates. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/ecdsa.h"
#include "crypto/verify.h"
#include "crypto/x509.h"
#include "crypto/x509_build.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

/*
 * libp11's engine keeps the RSA, EC and key methods it makes for the life of the
 * process; full stacks (libcrypto has no frame pointers) let the
 * suppression name just that.
 */
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__asan_default_options(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:RSA_meth_dup\nleak:EC_KEY_METHOD_new\nleak:EVP_PKEY_meth_new\n";
}

const char *__asan_default_options(void)
{
	return "fast_unwind_on_malloc=0";
}

static EVP_PKEY *rsa_key, *p256_key, *ed_key;

static const uint8_t msg[] = "signed through an engine's process";


static void check_same(const uint8_t *got, size_t got_len, struct tk_der want)
{
	ck_assert_uint_eq(got_len, want.len);
	ck_assert_mem_eq(got, want.data, want.len);
}

/* What the suite claims to test: libp11's engine is the default for RSA and EC keys. */
START_TEST(test_engine_is_default)
{
	ENGINE *rsa = ENGINE_get_default_RSA(), *ec = ENGINE_get_pkey_meth_engine(EVP_PKEY_EC);

	ck_assert_ptr_nonnull(rsa);
	ck_assert_ptr_nonnull(ec);
	ck_assert_str_eq(ENGINE_get_id(rsa), "pkcs11");
	ck_assert_str_eq(ENGINE_get_id(ec), "pkcs11");
	ENGINE_finish(rsa);
	ENGINE_finish(ec);
}
END_TEST

START_TEST(test_spki_from_rsa)
{
	struct tk_der want = tk_spki_of(rsa_key);
	BIGNUM *n = NULL, *e = NULL;
	uint8_t nb[512], eb[8], *der = NULL;
	size_t der_len = 0;
	int n_len, e_len;

	ck_assert(EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_N, &n));
	ck_assert(EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_E, &e));
	n_len = BN_bn2bin(n, nb);
	e_len = BN_bn2bin(e, eb);
	ck_assert_int_eq(cr_spki_from_rsa(nb, (size_t)n_len, eb, (size_t)e_len, &der, &der_len), CR_OK);
	check_same(der, der_len, want);
	free(der);
	BN_free(n);
	BN_free(e);
	OPENSSL_free(want.data);
}
END_TEST

START_TEST(test_spki_from_ec)
{
	struct tk_der want = tk_spki_of(p256_key), want_ed = tk_spki_of(ed_key);
	uint8_t point[65], raw[32], *der = NULL;
	size_t point_len = 0, raw_len = sizeof(raw), der_len = 0;

	ck_assert(EVP_PKEY_get_octet_string_param(p256_key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
						  &point_len));
	ck_assert_int_eq(cr_spki_from_ec(CR_CURVE_P256, point, point_len, &der, &der_len), CR_OK);
	check_same(der, der_len, want);
	free(der);
	ck_assert(EVP_PKEY_get_raw_public_key(ed_key, raw, &raw_len));
	ck_assert_int_eq(cr_spki_from_ec(CR_CURVE_ED25519, raw, raw_len, &der, &der_len), CR_OK);
	check_same(der, der_len, want_ed);
	free(der);
	OPENSSL_free(want.data);
	OPENSSL_free(want_ed.data);
}
END_TEST

static size_t openssl_sign(EVP_PKEY *key, int pss, uint8_t *sig, size_t cap)
{
	return tk_openssl_sign(key, EVP_sha256(), pss, msg, sizeof(msg), sig, cap);
}

/* Verifies sig, then the same with one bit changed, which must be refused. */
static void check_verifies(struct tk_der key, enum cr_sig_scheme scheme, uint8_t *sig, size_t sig_len)
{
	uint8_t hash[32];
	size_t hash_len = sizeof(hash);

	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, msg, sizeof(msg), hash, &hash_len), CR_OK);
	ck_assert_int_eq(cr_verify_hash(key.data, key.len, scheme, CR_HASH_SHA256, hash, hash_len, sig, sig_len),
			 CR_OK);
	sig[sig_len / 2] ^= 0x01;
	ck_assert_int_eq(cr_verify_hash(key.data, key.len, scheme, CR_HASH_SHA256, hash, hash_len, sig, sig_len),
			 CR_E_SIGNATURE);
}

START_TEST(test_parse_and_verify)
{
	struct tk_der r = tk_spki_of(rsa_key), e = tk_spki_of(p256_key), d = tk_spki_of(ed_key);
	uint8_t sig[256];
	struct cr_pubkey pub;

	ck_assert_int_eq(cr_spki_parse(r.data, r.len, &pub), CR_OK);
	ck_assert_int_eq(pub.type, CR_KEY_RSA);
	ck_assert_uint_eq(pub.bits, 2048);
	cr_pubkey_clear(&pub);
	ck_assert_int_eq(cr_spki_parse(e.data, e.len, &pub), CR_OK);
	ck_assert_int_eq(pub.curve, CR_CURVE_P256);
	cr_pubkey_clear(&pub);
	check_verifies(r, CR_SCHEME_RSA_PKCS1, sig, openssl_sign(rsa_key, 0, sig, sizeof(sig)));
	check_verifies(r, CR_SCHEME_RSA_PSS, sig, openssl_sign(rsa_key, 1, sig, sizeof(sig)));
	check_verifies(e, CR_SCHEME_ECDSA, sig, openssl_sign(p256_key, 0, sig, sizeof(sig)));
	{
		EVP_MD_CTX *mctx = EVP_MD_CTX_new();
		size_t len = 64;

		ck_assert_int_eq(EVP_DigestSignInit(mctx, NULL, NULL, NULL, ed_key), 1);
		ck_assert_int_eq(EVP_DigestSign(mctx, sig, &len, msg, sizeof(msg)), 1);
		EVP_MD_CTX_free(mctx);
		ck_assert_int_eq(cr_verify_ed25519(d.data, d.len, msg, sizeof(msg), sig, len), CR_OK);
	}
	OPENSSL_free(r.data);
	OPENSSL_free(e.data);
	OPENSSL_free(d.data);
}
END_TEST

/* The token's part of a CSR: OpenSSL signs with the P-256 key, r||s as PKCS#11 gives it. */
static int sign_p256(void *ctx, enum cr_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
		     size_t *sig_len)
{
	uint8_t der[CR_ECDSA_MAX_DER_SIZE];
	size_t der_len = sizeof(der);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok;

	(void)ctx;
	ok = alg == CR_SIG_ECDSA_SHA256 && EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL, p256_key) == 1 &&
	     EVP_DigestSign(mctx, der, &der_len, tbs, tbs_len) == 1;
	EVP_MD_CTX_free(mctx);
	return ok ? cr_ecdsa_der_to_raw(der, der_len, 32, sig, sig_len) : -1;
}

START_TEST(test_csr)
{
	struct tk_der e = tk_spki_of(p256_key);
	struct cr_x509_request req = {
		.spki = e.data, .spki_len = e.len, .subject = "/CN=engine", .alg = CR_SIG_ECDSA_SHA256,
		.sign = sign_p256,
	};
	const unsigned char *p;
	uint8_t *der = NULL;
	size_t der_len = 0;
	X509_REQ *csr;

	ck_assert_int_eq(cr_x509_build_csr(&req, &der, &der_len), CR_OK);
	p = der;
	csr = d2i_X509_REQ(NULL, &p, (long)der_len);
	ck_assert_ptr_nonnull(csr);
	ck_assert_int_eq(X509_REQ_verify(csr, p256_key), 1);
	X509_REQ_free(csr);
	free(der);
	OPENSSL_free(e.data);
}
END_TEST

static Suite *engine_suite(void)
{
	Suite *s = suite_create("crypto_engine");
	TCase *tc = tcase_create("engine");

	tcase_add_test(tc, test_engine_is_default);
	tcase_add_test(tc, test_spki_from_rsa);
	tcase_add_test(tc, test_spki_from_ec);
	tcase_add_test(tc, test_parse_and_verify);
	tcase_add_test(tc, test_csr);
	suite_add_tcase(s, tc);
	return s;
}

/* The keys are made first, as the host's own keys would be, then the engine becomes the default. */
static Suite *engine_suite_with_default_engine(void)
{
	ENGINE *e = ENGINE_by_id("pkcs11");

	if (e == NULL || !ENGINE_init(e) || !ENGINE_set_default(e, ENGINE_METHOD_ALL)) {
		fprintf(stderr, "libp11's engine (libengine-pkcs11-openssl) cannot be made the default\n");
		exit(EXIT_FAILURE);
	}
	ENGINE_finish(e);
	ENGINE_free(e);
	return engine_suite();
}

int main(void)
{
	static const struct tk_key keys_to_make[] = {
		{ &rsa_key, "RSA-2048" },
		{ &p256_key, "P-256" },
		{ &ed_key, "ED25519" },
	};

	return tk_run_suite_with_keys(engine_suite_with_default_engine, keys_to_make,
				      sizeof(keys_to_make) / sizeof(keys_to_make[0]));
}
