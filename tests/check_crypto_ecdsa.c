/* Curves, ECDSA signature formats and hash truncation, checked against OpenSSL. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/ecdsa.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

static EVP_PKEY *keys[3]; /* P-256, P-384, P-521 */
static const enum cr_curve key_curves[3] = { CR_CURVE_P256, CR_CURVE_P384, CR_CURVE_P521 };

START_TEST(test_curve_from_params)
{
	static const uint8_t p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	static const uint8_t p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
	static const uint8_t p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
	static const uint8_t ed_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
	static const uint8_t ed_name[] = "\x13\x0c" "edwards25519";
	static const uint8_t x_oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x6e };
	static const uint8_t x_name[] = "\x13\x0a" "curve25519";
	static const uint8_t k1[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a }; /* secp256k1 */
	static const uint8_t trailing[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x00 };
	static const uint8_t explicit_params[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	enum cr_curve c = CR_CURVE_P256;
	const uint8_t *der;
	size_t len;

	ck_assert_int_eq(cr_curve_from_params(p256, sizeof(p256), &c), CR_OK);
	ck_assert_int_eq(c, CR_CURVE_P256);
	ck_assert_int_eq(cr_curve_from_params(p384, sizeof(p384), &c), CR_OK);
	ck_assert_int_eq(c, CR_CURVE_P384);
	ck_assert_int_eq(cr_curve_from_params(p521, sizeof(p521), &c), CR_OK);
	ck_assert_int_eq(c, CR_CURVE_P521);
	ck_assert_int_eq(cr_curve_from_params(ed_oid, sizeof(ed_oid), &c), CR_OK);
	ck_assert_int_eq(c, CR_CURVE_ED25519);
	ck_assert_int_eq(cr_curve_from_params(ed_name, sizeof(ed_name) - 1, &c), CR_OK);
	ck_assert_int_eq(c, CR_CURVE_ED25519);
	ck_assert_int_eq(cr_curve_from_params(x_oid, sizeof(x_oid), &c), CR_OK);
	ck_assert_int_eq(c, CR_CURVE_X25519);
	ck_assert_int_eq(cr_curve_from_params(x_name, sizeof(x_name) - 1, &c), CR_OK);
	ck_assert_int_eq(c, CR_CURVE_X25519);

	ck_assert_int_eq(cr_curve_from_params(k1, sizeof(k1), &c), CR_E_UNSUPPORTED);
	ck_assert_int_eq(c, CR_CURVE_NONE);
	ck_assert_int_eq(cr_curve_from_params(explicit_params, sizeof(explicit_params), &c), CR_E_UNSUPPORTED);
	ck_assert_int_eq(cr_curve_from_params(trailing, sizeof(trailing), &c), CR_E_DATA);
	ck_assert_int_eq(cr_curve_from_params(p256, sizeof(p256) - 1, &c), CR_E_DATA);
	ck_assert_int_eq(cr_curve_from_params(p256, 1, &c), CR_E_DATA);
	ck_assert_int_eq(cr_curve_from_params(p256, 0, &c), CR_E_DATA);

	ck_assert_int_eq(cr_curve_params(CR_CURVE_P384, &der, &len), CR_OK);
	ck_assert_uint_eq(len, sizeof(p384));
	ck_assert_mem_eq(der, p384, len);
	ck_assert_int_eq(cr_curve_params(CR_CURVE_NONE, &der, &len), CR_E_ARGS);

	ck_assert_uint_eq(cr_curve_field_size(CR_CURVE_P256), 32);
	ck_assert_uint_eq(cr_curve_field_size(CR_CURVE_P384), 48);
	ck_assert_uint_eq(cr_curve_field_size(CR_CURVE_P521), 66);
	ck_assert_uint_eq(cr_curve_field_size(CR_CURVE_ED25519), 32);
	ck_assert_uint_eq(cr_curve_field_size(CR_CURVE_NONE), 0);
	ck_assert_uint_eq(cr_curve_order_bits(CR_CURVE_P521), 521);
	ck_assert_str_eq(cr_curve_name(CR_CURVE_P384), "P-384");
}
END_TEST

/* The OIDs agree with OpenSSL's own encoding of each named curve. */
START_TEST(test_curve_params_match_openssl)
{
	const int nids[3] = { NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1 };
	uint8_t *der = NULL;
	const uint8_t *ours;
	size_t ours_len;
	int len = i2d_ASN1_OBJECT(OBJ_nid2obj(nids[_i]), &der);

	ck_assert_int_eq(cr_curve_params(key_curves[_i], &ours, &ours_len), CR_OK);
	ck_assert_int_eq(len, (int)ours_len);
	ck_assert_mem_eq(der, ours, ours_len);
	OPENSSL_free(der);
}
END_TEST

static size_t sign_der(EVP_PKEY *key, const uint8_t *msg, size_t msg_len, uint8_t *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t sig_len = CR_ECDSA_MAX_DER_SIZE;

	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, sig, &sig_len, msg, msg_len), 1);
	EVP_MD_CTX_free(ctx);
	return sig_len;
}

static int verify_der(EVP_PKEY *key, const uint8_t *msg, size_t msg_len, const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
	ok = EVP_DigestVerify(ctx, sig, sig_len, msg, msg_len);
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* r||s computed by OpenSSL's own ECDSA_SIG, independent of our parser. */
static void openssl_der_to_raw(const uint8_t *der, size_t der_len, size_t field, uint8_t *raw)
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r, *s;

	ck_assert_ptr_nonnull(sig);
	ECDSA_SIG_get0(sig, &r, &s);
	ck_assert_int_eq(BN_bn2binpad(r, raw, (int)field), (int)field);
	ck_assert_int_eq(BN_bn2binpad(s, raw + field, (int)field), (int)field);
	ECDSA_SIG_free(sig);
}

/* (d) DER <-> raw round trips, and OpenSSL verifies what we convert from raw. */
START_TEST(test_der_raw_round_trip)
{
	EVP_PKEY *key = keys[_i];
	size_t field = cr_curve_field_size(key_curves[_i]);

	/* Many signatures, so r and s with a high bit set and shorter ones both occur. */
	for (int n = 0; n < 40; n++) {
		uint8_t msg[4] = { (uint8_t)n, 1, 2, 3 };
		uint8_t der[CR_ECDSA_MAX_DER_SIZE], raw[CR_ECDSA_MAX_RAW_SIZE], want_raw[CR_ECDSA_MAX_RAW_SIZE];
		uint8_t back[CR_ECDSA_MAX_DER_SIZE];
		size_t der_len = sign_der(key, msg, sizeof(msg), der), raw_len = sizeof(raw), back_len = sizeof(back);

		ck_assert_int_eq(cr_ecdsa_der_to_raw(der, der_len, field, raw, &raw_len), CR_OK);
		ck_assert_uint_eq(raw_len, 2 * field);
		openssl_der_to_raw(der, der_len, field, want_raw);
		ck_assert_mem_eq(raw, want_raw, 2 * field);

		ck_assert_int_eq(cr_ecdsa_raw_to_der(want_raw, 2 * field, back, &back_len), CR_OK);
		ck_assert_uint_eq(back_len, der_len);
		ck_assert_mem_eq(back, der, der_len);
		ck_assert_int_eq(verify_der(key, msg, sizeof(msg), back, back_len), 1);
		msg[0] ^= 0xff;
		ck_assert_int_eq(verify_der(key, msg, sizeof(msg), back, back_len), 0);
	}
}
END_TEST

START_TEST(test_raw_to_der_exact)
{
	uint8_t raw[64] = { 0 }, der[CR_ECDSA_MAX_DER_SIZE], want[40];
	size_t len = 10;

	raw[31] = 0x01;
	raw[32] = 0x80;
	memset(want, 0, sizeof(want));
	memcpy(want, "\x30\x26\x02\x01\x01\x02\x21\x00\x80", 9);
	ck_assert_int_eq(cr_ecdsa_raw_to_der(raw, 64, der, &len), CR_E_BUFFER);
	ck_assert_uint_eq(len, 40);
	ck_assert_int_eq(cr_ecdsa_raw_to_der(raw, 64, NULL, &len), CR_E_BUFFER);
	ck_assert_uint_eq(len, 40);
	len = sizeof(der);
	ck_assert_int_eq(cr_ecdsa_raw_to_der(raw, 64, der, &len), CR_OK);
	ck_assert_uint_eq(len, 40);
	ck_assert_mem_eq(der, want, 40);

	/* The long length form appears for P-521 sized values. */
	{
		uint8_t big[132];
		memset(big, 0xff, sizeof(big));
		len = sizeof(der);
		ck_assert_int_eq(cr_ecdsa_raw_to_der(big, 132, der, &len), CR_OK);
		ck_assert_uint_eq(len, 141);
		ck_assert_mem_eq(der, "\x30\x81\x8a\x02\x43\x00\xff", 7);
		len = sizeof(big);
		ck_assert_int_eq(cr_ecdsa_der_to_raw(der, 141, 66, big, &len), CR_OK);
		ck_assert_uint_eq(len, 132);
		ck_assert_int_eq(big[0], 0xff);
		ck_assert_int_eq(big[131], 0xff);
	}

	memset(raw, 0, 32); /* r = 0 is never a signature */
	len = sizeof(der);
	ck_assert_int_eq(cr_ecdsa_raw_to_der(raw, 64, der, &len), CR_E_DATA);
	ck_assert_int_eq(cr_ecdsa_raw_to_der(raw, 63, der, &len), CR_E_ARGS);
	ck_assert_int_eq(cr_ecdsa_raw_to_der(raw, 0, der, &len), CR_E_ARGS);
}
END_TEST

struct bad_der {
	const char *what;
	const char *der;
	size_t len;
};

#define BAD(what, lit) { what, lit, sizeof(lit) - 1 }

/* (g) Malformed DER signatures, each with field size 32. */
static const struct bad_der bad_sigs[] = {
	BAD("empty", ""),
	BAD("truncated header", "\x30"),
	BAD("truncated body", "\x30\x06\x02\x01\x01\x02\x01"),
	BAD("trailing bytes", "\x30\x06\x02\x01\x01\x02\x01\x01\x00"),
	BAD("extra element", "\x30\x09\x02\x01\x01\x02\x01\x01\x02\x01\x01"),
	BAD("missing s", "\x30\x03\x02\x01\x01"),
	BAD("length beyond input", "\x30\x07\x02\x01\x01\x02\x01\x01"),
	BAD("over-long length", "\x30\x84\xff\xff\xff\xff\x02\x01\x01"),
	BAD("non-minimal long length", "\x30\x81\x06\x02\x01\x01\x02\x01\x01"),
	BAD("length with leading zero", "\x30\x82\x00\x06\x02\x01\x01\x02\x01\x01"),
	BAD("indefinite length", "\x30\x80\x02\x01\x01\x02\x01\x01\x00\x00"),
	BAD("five length bytes", "\x30\x85\x00\x00\x00\x00\x06"),
	BAD("wrong outer tag", "\x31\x06\x02\x01\x01\x02\x01\x01"),
	BAD("wrong inner tag", "\x30\x06\x04\x01\x01\x02\x01\x01"),
	BAD("negative r", "\x30\x06\x02\x01\x81\x02\x01\x01"),
	BAD("zero s", "\x30\x06\x02\x01\x01\x02\x01\x00"),
	BAD("empty integer", "\x30\x05\x02\x00\x02\x01\x01"),
	BAD("non-minimal integer", "\x30\x07\x02\x02\x00\x01\x02\x01\x01"),
	BAD("integer inner length past sequence", "\x30\x06\x02\x05\x01\x02\x01\x01"),
	BAD("r of 33 bytes",
	    "\x30\x26\x02\x21\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x01\x01"),
	BAD("multi-byte tag", "\x1f\x01\x01"),
};

START_TEST(test_der_to_raw_rejects)
{
	const struct bad_der *b = &bad_sigs[_i];
	uint8_t raw[64];
	size_t len = sizeof(raw);

	ck_assert_msg(cr_ecdsa_der_to_raw((const uint8_t *)b->der, b->len, 32, raw, &len) == CR_E_DATA,
		      "accepted: %s", b->what);
}
END_TEST

START_TEST(test_der_to_raw_accepts_edges)
{
	/* r = 0x80 needs its sign byte; a 33-byte r whose first byte is that sign byte fits. */
	static const uint8_t ok[] = "\x30\x07\x02\x02\x00\x80\x02\x01\x7f";
	uint8_t raw[64], want[64] = { 0 };
	size_t len = 63;

	ck_assert_int_eq(cr_ecdsa_der_to_raw(ok, sizeof(ok) - 1, 32, raw, &len), CR_E_BUFFER);
	ck_assert_uint_eq(len, 64);
	len = sizeof(raw);
	ck_assert_int_eq(cr_ecdsa_der_to_raw(ok, sizeof(ok) - 1, 32, raw, &len), CR_OK);
	want[31] = 0x80;
	want[63] = 0x7f;
	ck_assert_mem_eq(raw, want, 64);
	ck_assert_int_eq(cr_ecdsa_der_to_raw(ok, sizeof(ok) - 1, 0, raw, &len), CR_E_ARGS);
}
END_TEST

/* Truncation: what OpenSSL's ECDSA does to a long hash, shown by verification. */
START_TEST(test_truncate_matches_openssl)
{
	uint8_t hash[64], e[66], sig[CR_ECDSA_MAX_DER_SIZE], block[32];
	size_t e_len = sizeof(e), sig_len = sizeof(sig), hlen = sizeof(hash);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(keys[0], NULL);

	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA512, (const uint8_t *)"m", 1, hash, &hlen), CR_OK);
	ck_assert_int_eq(cr_ecdsa_truncate_hash(CR_CURVE_P256, hash, 64, e, &e_len), CR_OK);
	ck_assert_uint_eq(e_len, 32);
	ck_assert_mem_eq(e, hash, 32);
	/* OpenSSL signs the full 64-byte hash (truncating inside); the 32 bytes verify. */
	ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, &sig_len, hash, 64), 1);
	ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_verify(ctx, sig, sig_len, e, e_len), 1);

	ck_assert_int_eq(cr_ecdsa_hash_block(CR_CURVE_P256, hash, 64, block), CR_OK);
	ck_assert_mem_eq(block, hash, 32);
	EVP_PKEY_CTX_free(ctx);
}
END_TEST

START_TEST(test_truncate_rules)
{
	uint8_t hash[70], e[70], block[48], want[66];
	size_t len = sizeof(e);
	BIGNUM *bn;

	for (size_t i = 0; i < sizeof(hash); i++)
		hash[i] = (uint8_t)(0xa5 ^ (i * 13));
	/* Short enough: unchanged. */
	ck_assert_int_eq(cr_ecdsa_truncate_hash(CR_CURVE_P384, hash, 32, e, &len), CR_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_mem_eq(e, hash, 32);
	len = sizeof(e);
	ck_assert_int_eq(cr_ecdsa_truncate_hash(CR_CURVE_P521, hash, 64, e, &len), CR_OK);
	ck_assert_uint_eq(len, 64);
	ck_assert_mem_eq(e, hash, 64);

	/* 560 bits into P-521: the leftmost 521 bits, i.e. the number shifted right by 39. */
	bn = BN_bin2bn(hash, 70, NULL);
	ck_assert_int_eq(BN_rshift(bn, bn, 39), 1);
	ck_assert_int_eq(BN_bn2binpad(bn, want, 66), 66);
	BN_free(bn);
	len = 65;
	ck_assert_int_eq(cr_ecdsa_truncate_hash(CR_CURVE_P521, hash, 70, e, &len), CR_E_BUFFER);
	ck_assert_uint_eq(len, 66);
	ck_assert_int_eq(cr_ecdsa_truncate_hash(CR_CURVE_P521, hash, 70, e, &len), CR_OK);
	ck_assert_uint_eq(len, 66);
	ck_assert_mem_eq(e, want, 66);

	/* A short hash for a PIV P-384 key: left-padded to 48 bytes. */
	ck_assert_int_eq(cr_ecdsa_hash_block(CR_CURVE_P384, hash, 32, block), CR_OK);
	memset(want, 0, 16);
	memcpy(want + 16, hash, 32);
	ck_assert_mem_eq(block, want, 48);

	ck_assert_int_eq(cr_ecdsa_hash_block(CR_CURVE_P521, hash, 32, block), CR_E_UNSUPPORTED);
	ck_assert_int_eq(cr_ecdsa_truncate_hash(CR_CURVE_ED25519, hash, 32, e, &len), CR_E_ARGS);
	ck_assert_int_eq(cr_ecdsa_truncate_hash(CR_CURVE_NONE, hash, 32, e, &len), CR_E_ARGS);
	ck_assert_int_eq(cr_ecdsa_truncate_hash(CR_CURVE_P256, hash, 0, e, &len), CR_E_ARGS);
}
END_TEST

static Suite *ecdsa_suite(void)
{
	Suite *s = suite_create("crypto_ecdsa");
	TCase *curve = tcase_create("curve");
	TCase *sig = tcase_create("signature");

	tcase_add_test(curve, test_curve_from_params);
	tcase_add_loop_test(curve, test_curve_params_match_openssl, 0, 3);
	suite_add_tcase(s, curve);

	tcase_add_loop_test(sig, test_der_raw_round_trip, 0, 3);
	tcase_add_test(sig, test_raw_to_der_exact);
	tcase_add_loop_test(sig, test_der_to_raw_rejects, 0, (int)(sizeof(bad_sigs) / sizeof(bad_sigs[0])));
	tcase_add_test(sig, test_der_to_raw_accepts_edges);
	tcase_add_test(sig, test_truncate_matches_openssl);
	tcase_add_test(sig, test_truncate_rules);
	suite_add_tcase(s, sig);
	return s;
}

int main(void)
{
	static const struct tk_key keys_to_make[] = {
		{ &keys[0], "P-256" },
		{ &keys[1], "P-384" },
		{ &keys[2], "P-521" },
	};

	return tk_run_suite_with_keys(ecdsa_suite, keys_to_make, sizeof(keys_to_make) / sizeof(keys_to_make[0]));
}
