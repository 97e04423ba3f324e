/* Private keys in the formats key files use, compared with OpenSSL's view of them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "crypto/privkey.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

static EVP_PKEY *rsa_key, *p256_key, *p384_key, *ed_key, *x25519_key, *k1_key;

enum format { PKCS8_DER, PKCS8_PEM, TRADITIONAL_DER, TRADITIONAL_PEM, FORMAT_COUNT };

/* The key written as a key file would hold it; the caller frees *data. */
static size_t encode(EVP_PKEY *key, enum format f, uint8_t **data)
{
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;
	int ok = 0;

	switch (f) {
	case PKCS8_DER: ok = i2d_PKCS8PrivateKey_bio(bio, key, NULL, NULL, 0, NULL, NULL); break;
	case PKCS8_PEM: ok = PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL); break;
	case TRADITIONAL_DER: ok = i2d_PrivateKey_bio(bio, key); break;
	case TRADITIONAL_PEM: ok = PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL); break;
	case FORMAT_COUNT: break;
	}
	ck_assert_int_eq(ok, 1);
	BIO_get_mem_ptr(bio, &mem);
	*data = malloc(mem->length);
	memcpy(*data, mem->data, mem->length);
	ok = (int)mem->length;
	BIO_free(bio);
	return (size_t)ok;
}

static void assert_bn(const struct cr_bytes *b, EVP_PKEY *key, const char *name, int pad)
{
	BIGNUM *bn = NULL;
	uint8_t want[1024];
	int len;

	ck_assert_int_eq(EVP_PKEY_get_bn_param(key, name, &bn), 1);
	len = pad > 0 ? BN_bn2binpad(bn, want, pad) : BN_bn2bin(bn, want);
	ck_assert_int_gt(len, 0);
	ck_assert_uint_eq(b->len, (size_t)len);
	ck_assert_mem_eq(b->data, want, (size_t)len);
	BN_free(bn);
}

static void assert_public(const struct cr_privkey *k, EVP_PKEY *key)
{
	unsigned char *spki = NULL;
	int len = i2d_PUBKEY(key, &spki);

	ck_assert_uint_eq(k->pub.spki.len, (size_t)len);
	ck_assert_mem_eq(k->pub.spki.data, spki, (size_t)len);
	OPENSSL_free(spki);
}

START_TEST(test_rsa_every_format)
{
	uint8_t *data;
	size_t len = encode(rsa_key, (enum format)_i, &data);
	struct cr_privkey k;

	ck_assert_int_eq(cr_privkey_parse(data, len, &k), CR_OK);
	ck_assert_int_eq(ERR_peek_error(), 0);
	ck_assert_int_eq(k.type, CR_KEY_RSA);
	ck_assert_uint_eq(k.bits, 2048);
	assert_bn(&k.d, rsa_key, OSSL_PKEY_PARAM_RSA_D, 0);
	assert_bn(&k.p, rsa_key, OSSL_PKEY_PARAM_RSA_FACTOR1, 0);
	assert_bn(&k.q, rsa_key, OSSL_PKEY_PARAM_RSA_FACTOR2, 0);
	assert_bn(&k.dp, rsa_key, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0);
	assert_bn(&k.dq, rsa_key, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0);
	assert_bn(&k.qinv, rsa_key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0);
	ck_assert_uint_eq(k.value.len, 0);
	assert_public(&k, rsa_key);
	ck_assert_uint_eq(k.pub.exponent.len, 3);
	cr_privkey_clear(&k);
	cr_privkey_clear(&k);
	ck_assert_ptr_null(k.p.data);
	free(data);
}
END_TEST

START_TEST(test_ec_every_format)
{
	uint8_t *data;
	size_t len = encode(p256_key, (enum format)_i, &data);
	struct cr_privkey k;

	ck_assert_int_eq(cr_privkey_parse(data, len, &k), CR_OK);
	ck_assert_int_eq(k.type, CR_KEY_EC);
	ck_assert_int_eq(k.curve, CR_CURVE_P256);
	assert_bn(&k.value, p256_key, OSSL_PKEY_PARAM_PRIV_KEY, 32);
	ck_assert_uint_eq(k.p.len, 0);
	assert_public(&k, p256_key);
	cr_privkey_clear(&k);
	free(data);

	len = encode(p384_key, (enum format)_i, &data);
	ck_assert_int_eq(cr_privkey_parse(data, len, &k), CR_OK);
	ck_assert_int_eq(k.curve, CR_CURVE_P384);
	assert_bn(&k.value, p384_key, OSSL_PKEY_PARAM_PRIV_KEY, 48);
	cr_privkey_clear(&k);
	free(data);
}
END_TEST

START_TEST(test_ed25519)
{
	uint8_t *data, raw[32];
	size_t raw_len = sizeof(raw), len = encode(ed_key, PKCS8_PEM, &data);
	struct cr_privkey k;

	ck_assert_int_eq(cr_privkey_parse(data, len, &k), CR_OK);
	ck_assert_int_eq(k.type, CR_KEY_ED25519);
	ck_assert_int_eq(EVP_PKEY_get_raw_private_key(ed_key, raw, &raw_len), 1);
	ck_assert_uint_eq(k.value.len, 32);
	ck_assert_mem_eq(k.value.data, raw, 32);
	assert_public(&k, ed_key);
	cr_privkey_clear(&k);
	free(data);
}
END_TEST

static void assert_rejected(const uint8_t *data, size_t len, int want, const char *what)
{
	struct cr_privkey k;
	int rc = cr_privkey_parse(data, len, &k);

	ck_assert_msg(rc == want, "%s: rc %d", what, rc);
	ck_assert_msg(ERR_peek_error() == 0, "%s: OpenSSL errors left queued", what);
	ck_assert_ptr_null(k.d.data);
	ck_assert_ptr_null(k.pub.spki.data);
}

START_TEST(test_rejects)
{
	uint8_t *data, *buf;
	size_t len = encode(p256_key, PKCS8_DER, &data);
	BIO *bio = BIO_new(BIO_s_mem());
	BUF_MEM *mem;

	for (size_t cut = 1; cut < len; cut += 7)
		assert_rejected(data, cut, CR_E_DATA, "truncated");
	buf = malloc(len + 1);
	memcpy(buf, data, len);
	buf[len] = 0x00;
	assert_rejected(buf, len + 1, CR_E_DATA, "trailing byte");
	free(buf);
	free(data);
	assert_rejected((const uint8_t *)"not a key", 9, CR_E_DATA, "text");

	/* Encrypted keys need a passphrase we do not ask for. */
	ck_assert_int_eq(PEM_write_bio_PKCS8PrivateKey(bio, p256_key, EVP_aes_256_cbc(), "secret", 6, NULL, NULL), 1);
	BIO_get_mem_ptr(bio, &mem);
	assert_rejected((const uint8_t *)mem->data, mem->length, CR_E_DATA, "encrypted");
	BIO_free(bio);

	len = encode(x25519_key, PKCS8_DER, &data);
	assert_rejected(data, len, CR_E_UNSUPPORTED, "X25519");
	free(data);
	len = encode(k1_key, PKCS8_DER, &data);
	assert_rejected(data, len, CR_E_UNSUPPORTED, "secp256k1");
	free(data);
	ck_assert_int_eq(cr_privkey_parse(NULL, 1, NULL), CR_E_ARGS);
}
END_TEST

static Suite *privkey_suite(void)
{
	Suite *s = suite_create("crypto_privkey");
	TCase *tc = tcase_create("privkey");

	tcase_add_loop_test(tc, test_rsa_every_format, 0, FORMAT_COUNT);
	tcase_add_loop_test(tc, test_ec_every_format, 0, FORMAT_COUNT);
	tcase_add_test(tc, test_ed25519);
	tcase_add_test(tc, test_rejects);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static const struct tk_key keys_to_make[] = {
		{ &rsa_key, "RSA-2048" },
		{ &p256_key, "P-256" },
		{ &p384_key, "P-384" },
		{ &k1_key, "secp256k1" },
		{ &ed_key, "ED25519" },
		{ &x25519_key, "X25519" },
	};

	return tk_run_suite_with_keys(privkey_suite, keys_to_make, sizeof(keys_to_make) / sizeof(keys_to_make[0]));
}
