/*
 * Certificate and SubjectPublicKeyInfo fields, compared with OpenSSL's view
 * of certificates and keys made here; malformed encodings rejected.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/cr.h"
#include "crypto/der.h"
#include "crypto/ecdsa.h"
#include "crypto/x509.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

static EVP_PKEY *rsa_key, *p256_key, *p384_key, *ed_key, *x25519_key, *k1_key;

/* Serial 0x9a3c5e7f01020304: the high bit forces a leading zero byte in DER. */
static const uint8_t serial_bytes[] = { 0x9a, 0x3c, 0x5e, 0x7f, 0x01, 0x02, 0x03, 0x04 };
static const uint8_t serial_der[] = { 0x02, 0x09, 0x00, 0x9a, 0x3c, 0x5e, 0x7f, 0x01, 0x02, 0x03, 0x04 };
static const char cn_utf8[] = "Alice \xc3\x9cnicode";

/* A certificate for key, signed by signer, with an optional keyUsage value. */
static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer, const char *key_usage)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = BN_bin2bn(serial_bytes, sizeof(serial_bytes), NULL);

	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn_utf8, -1,
						    -1, 0), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Example", -1,
						    -1, 0), 1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	X509_NAME_free(name);
	name = X509_NAME_new();
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"Test CA", -1,
						    -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	X509_NAME_free(name);
	/* UTCTime before 2050, GeneralizedTime after. */
	ck_assert_int_eq(ASN1_TIME_set_string(X509_getm_notBefore(x), "240102030405Z"), 1);
	ck_assert_int_eq(ASN1_TIME_set_string(X509_getm_notAfter(x), "20510630235959Z"), 1);
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	if (key_usage != NULL) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, key_usage);
		ck_assert_ptr_nonnull(ext);
		ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	ck_assert_int_gt(X509_sign(x, signer, signer == ed_key ? NULL : EVP_sha256()), 0);
	return x;
}

static uint8_t *to_der(X509 *x, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);

	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	return der;
}

static void assert_bytes(const struct cr_bytes *b, const uint8_t *want, size_t want_len)
{
	ck_assert_uint_eq(b->len, want_len);
	ck_assert_mem_eq(b->data, want, want_len);
}

static void assert_name(const struct cr_bytes *b, const X509_NAME *name)
{
	unsigned char *der = NULL;
	int n = i2d_X509_NAME(name, &der);

	assert_bytes(b, der, (size_t)n);
	OPENSSL_free(der);
}

static void assert_spki(const struct cr_pubkey *k, EVP_PKEY *key)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	assert_bytes(&k->spki, der, (size_t)n);
	OPENSSL_free(der);
}

static void assert_rsa_fields(const struct cr_pubkey *k, EVP_PKEY *key)
{
	BIGNUM *n = NULL;
	uint8_t want[512];
	int len;

	ck_assert_int_eq(k->type, CR_KEY_RSA);
	ck_assert_uint_eq(k->bits, 2048);
	ck_assert_int_eq(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	len = BN_bn2bin(n, want);
	ck_assert_int_eq(len, 256);
	assert_bytes(&k->modulus, want, 256);
	assert_bytes(&k->exponent, (const uint8_t *)"\x01\x00\x01", 3);
	ck_assert_uint_eq(k->ec_params.len, 0);
	ck_assert_uint_eq(k->ec_point.len, 0);
	BN_free(n);
	assert_spki(k, key);
}

/* EC fields: OID and DER OCTET STRING around OpenSSL's uncompressed point. */
static void assert_ec_fields(const struct cr_pubkey *k, EVP_PKEY *key, enum cr_curve curve, size_t bits)
{
	uint8_t point[200], want[202];
	size_t point_len = 0;
	const uint8_t *oid;
	size_t oid_len;

	ck_assert_int_eq(k->type, CR_KEY_EC);
	ck_assert_int_eq(k->curve, curve);
	ck_assert_uint_eq(k->bits, bits);
	ck_assert_int_eq(cr_curve_params(curve, &oid, &oid_len), CR_OK);
	assert_bytes(&k->ec_params, oid, oid_len);
	ck_assert_int_eq(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
							 &point_len), 1);
	ck_assert_uint_eq(point_len, 2 * cr_curve_field_size(curve) + 1);
	ck_assert_int_eq(point[0], 0x04);
	want[0] = 0x04;
	want[1] = (uint8_t)point_len;
	memcpy(want + 2, point, point_len);
	assert_bytes(&k->ec_point, want, point_len + 2);
	ck_assert_uint_eq(k->modulus.len, 0);
}

/* (e) RSA certificate: every field as OpenSSL sees it. */
START_TEST(test_cert_rsa_fields)
{
	X509 *x = make_cert(rsa_key, rsa_key, "critical,digitalSignature,nonRepudiation,keyEncipherment");
	size_t len;
	uint8_t *der = to_der(x, &len);
	struct cr_cert c;

	ck_assert_int_eq(cr_cert_parse(der, len, &c), CR_OK);
	assert_name(&c.subject, X509_get_subject_name(x));
	assert_name(&c.issuer, X509_get_issuer_name(x));
	ck_assert_uint_ne(c.subject.len, c.issuer.len);
	assert_bytes(&c.serial, serial_der, sizeof(serial_der));
	ck_assert_str_eq(c.cn, cn_utf8);
	ck_assert_str_eq(c.not_before, "20240102");
	ck_assert_str_eq(c.not_after, "20510630");
	ck_assert(c.has_key_usage);
	ck_assert_uint_eq(c.key_usage, CR_KU_DIGITAL_SIGNATURE | CR_KU_NON_REPUDIATION | CR_KU_KEY_ENCIPHERMENT);
	assert_rsa_fields(&c.key, rsa_key);
	cr_cert_clear(&c);
	cr_cert_clear(&c);
	ck_assert_ptr_null(c.cn);
	OPENSSL_free(der);
	X509_free(x);
}
END_TEST

/* (e) P-256 certificate signed by another key. */
START_TEST(test_cert_p256_fields)
{
	X509 *x = make_cert(p256_key, rsa_key, "digitalSignature,keyAgreement,decipherOnly");
	size_t len;
	uint8_t *der = to_der(x, &len);
	struct cr_cert c;

	ck_assert_int_eq(cr_cert_parse(der, len, &c), CR_OK);
	assert_name(&c.subject, X509_get_subject_name(x));
	assert_bytes(&c.serial, serial_der, sizeof(serial_der));
	ck_assert_str_eq(c.cn, cn_utf8);
	ck_assert(c.has_key_usage);
	ck_assert_uint_eq(c.key_usage, CR_KU_DIGITAL_SIGNATURE | CR_KU_KEY_AGREEMENT | CR_KU_DECIPHER_ONLY);
	assert_ec_fields(&c.key, p256_key, CR_CURVE_P256, 256);
	assert_spki(&c.key, p256_key);
	cr_cert_clear(&c);
	OPENSSL_free(der);
	X509_free(x);
}
END_TEST

START_TEST(test_cert_without_key_usage_or_cn)
{
	X509 *x = make_cert(p384_key, p384_key, NULL);
	X509_NAME *name = X509_NAME_new();
	size_t len;
	uint8_t *der;
	struct cr_cert c;

	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"NoCN", -1, -1,
						    0), 1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	X509_NAME_free(name);
	ck_assert_int_gt(X509_sign(x, p384_key, EVP_sha384()), 0);
	der = to_der(x, &len);
	ck_assert_int_eq(cr_cert_parse(der, len, &c), CR_OK);
	ck_assert(!c.has_key_usage);
	ck_assert_uint_eq(c.key_usage, 0);
	ck_assert_ptr_null(c.cn);
	assert_ec_fields(&c.key, p384_key, CR_CURVE_P384, 384);
	cr_cert_clear(&c);
	OPENSSL_free(der);
	X509_free(x);
}
END_TEST

START_TEST(test_cert_ed25519_and_unsupported)
{
	X509 *x = make_cert(ed_key, ed_key, "digitalSignature");
	uint8_t raw[32], want_point[34];
	size_t len, raw_len = sizeof(raw);
	uint8_t *der = to_der(x, &len);
	struct cr_cert c;

	ck_assert_int_eq(cr_cert_parse(der, len, &c), CR_OK);
	ck_assert_int_eq(c.key.type, CR_KEY_ED25519);
	ck_assert_int_eq(c.key.curve, CR_CURVE_ED25519);
	assert_bytes(&c.key.ec_params, (const uint8_t *)"\x06\x03\x2b\x65\x70", 5);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(ed_key, raw, &raw_len), 1);
	want_point[0] = 0x04;
	want_point[1] = 0x20;
	memcpy(want_point + 2, raw, 32);
	assert_bytes(&c.key.ec_point, want_point, 34);
	cr_cert_clear(&c);
	OPENSSL_free(der);
	X509_free(x);

	/* An X25519 key (a card's key-agreement key): the 3.0 attributes, the curve's OID as parameters. */
	x = make_cert(x25519_key, rsa_key, "keyAgreement");
	der = to_der(x, &len);
	ck_assert_int_eq(cr_cert_parse(der, len, &c), CR_OK);
	ck_assert_int_eq(c.key.type, CR_KEY_X25519);
	ck_assert_int_eq(c.key.curve, CR_CURVE_X25519);
	assert_bytes(&c.key.ec_params, (const uint8_t *)"\x06\x03\x2b\x65\x6e", 5);
	raw_len = sizeof(raw);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(x25519_key, raw, &raw_len), 1);
	memcpy(want_point + 2, raw, 32);
	assert_bytes(&c.key.ec_point, want_point, 34);
	cr_cert_clear(&c);
	OPENSSL_free(der);
	X509_free(x);

	/* Another named curve: EC, with the OID but no curve of ours. */
	x = make_cert(k1_key, rsa_key, NULL);
	der = to_der(x, &len);
	ck_assert_int_eq(cr_cert_parse(der, len, &c), CR_OK);
	ck_assert_int_eq(c.key.type, CR_KEY_EC);
	ck_assert_int_eq(c.key.curve, CR_CURVE_NONE);
	assert_bytes(&c.key.ec_params, (const uint8_t *)"\x06\x05\x2b\x81\x04\x00\x0a", 7);
	ck_assert_uint_eq(c.key.ec_point.len, 67);
	cr_cert_clear(&c);
	OPENSSL_free(der);
	X509_free(x);
}
END_TEST

static uint8_t *spki_of(EVP_PKEY *key, size_t *len)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(key, &der);

	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	return der;
}

/* SubjectPublicKeyInfo in both directions, byte for byte equal to OpenSSL's. */
START_TEST(test_spki_rsa_both_ways)
{
	size_t len, built_len;
	uint8_t *der = spki_of(rsa_key, &len), *built = NULL, padded_n[257];
	struct cr_pubkey k;

	ck_assert_int_eq(cr_spki_parse(der, len, &k), CR_OK);
	assert_rsa_fields(&k, rsa_key);
	ck_assert_int_eq(cr_spki_from_rsa(k.modulus.data, k.modulus.len, k.exponent.data, k.exponent.len, &built,
					  &built_len), CR_OK);
	assert_bytes(&(struct cr_bytes){ built, built_len }, der, len);
	free(built);
	/* Leading zeros in the input change nothing. */
	padded_n[0] = 0;
	memcpy(padded_n + 1, k.modulus.data, 256);
	ck_assert_int_eq(cr_spki_from_rsa(padded_n, 257, (const uint8_t *)"\x00\x01\x00\x01", 4, &built,
					  &built_len), CR_OK);
	assert_bytes(&(struct cr_bytes){ built, built_len }, der, len);
	free(built);
	ck_assert_int_eq(cr_spki_from_rsa(padded_n, 1, (const uint8_t *)"\x03", 1, &built, &built_len), CR_E_DATA);
	ck_assert_ptr_null(built);
	cr_pubkey_clear(&k);
	OPENSSL_free(der);
}
END_TEST

START_TEST(test_spki_ec_both_ways)
{
	size_t len, built_len;
	uint8_t *der = spki_of(p256_key, &len), *built = NULL, *compressed = NULL;
	struct cr_pubkey k, kc;
	EVP_PKEY *dup = EVP_PKEY_dup(p256_key);
	int clen;

	ck_assert_int_eq(cr_spki_parse(der, len, &k), CR_OK);
	assert_ec_fields(&k, p256_key, CR_CURVE_P256, 256);
	assert_bytes(&k.spki, der, len);
	/* From CKA_EC_POINT as stored (DER-wrapped) and from the raw point. */
	ck_assert_int_eq(cr_spki_from_ec(CR_CURVE_P256, k.ec_point.data, k.ec_point.len, &built, &built_len), CR_OK);
	assert_bytes(&(struct cr_bytes){ built, built_len }, der, len);
	free(built);
	ck_assert_int_eq(cr_spki_from_ec(CR_CURVE_P256, k.ec_point.data + 2, 65, &built, &built_len), CR_OK);
	assert_bytes(&(struct cr_bytes){ built, built_len }, der, len);
	free(built);

	/* A compressed point in the SPKI comes out uncompressed. */
	ck_assert_int_eq(EVP_PKEY_set_utf8_string_param(dup, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
							"compressed"), 1);
	clen = i2d_PUBKEY(dup, &compressed);
	ck_assert_int_eq(clen, (int)len - 32);
	ck_assert_int_eq(cr_spki_parse(compressed, (size_t)clen, &kc), CR_OK);
	assert_bytes(&kc.ec_point, k.ec_point.data, k.ec_point.len);
	cr_pubkey_clear(&kc);

	/* Off the curve, wrong size, wrong curve, compressed input. */
	k.ec_point.data[k.ec_point.len - 1] ^= 0x01;
	ck_assert_int_eq(cr_spki_from_ec(CR_CURVE_P256, k.ec_point.data, k.ec_point.len, &built, &built_len),
			 CR_E_DATA);
	ck_assert_int_eq(cr_spki_from_ec(CR_CURVE_P256, k.ec_point.data, k.ec_point.len - 1, &built, &built_len),
			 CR_E_DATA);
	ck_assert_int_eq(cr_spki_from_ec(CR_CURVE_P384, k.ec_point.data, k.ec_point.len, &built, &built_len),
			 CR_E_DATA);
	ck_assert_int_eq(cr_spki_from_ec(CR_CURVE_NONE, k.ec_point.data, k.ec_point.len, &built, &built_len),
			 CR_E_ARGS);
	ck_assert_ptr_null(built);
	cr_pubkey_clear(&k);
	OPENSSL_free(compressed);
	OPENSSL_free(der);
	EVP_PKEY_free(dup);
}
END_TEST

/* Ed25519 (_i 0) and X25519 (_i 1): the 32 raw bytes, or the CKA_EC_POINT holding them, give the same key. */
START_TEST(test_spki_25519_both_ways)
{
	EVP_PKEY *key = _i == 0 ? ed_key : x25519_key;
	enum cr_curve curve = _i == 0 ? CR_CURVE_ED25519 : CR_CURVE_X25519;
	size_t len, built_len, raw_len = 32;
	uint8_t *der = spki_of(key, &len), *built = NULL, raw[32];
	struct cr_pubkey k;

	ck_assert_int_eq(cr_spki_parse(der, len, &k), CR_OK);
	ck_assert_int_eq(k.type, _i == 0 ? CR_KEY_ED25519 : CR_KEY_X25519);
	ck_assert_int_eq(k.curve, curve);
	ck_assert_int_eq(EVP_PKEY_get_raw_public_key(key, raw, &raw_len), 1);
	ck_assert_int_eq(cr_spki_from_ec(curve, raw, 32, &built, &built_len), CR_OK);
	assert_bytes(&(struct cr_bytes){ built, built_len }, der, len);
	free(built);
	ck_assert_int_eq(cr_spki_from_ec(curve, k.ec_point.data, k.ec_point.len, &built, &built_len),
			 CR_OK);
	assert_bytes(&(struct cr_bytes){ built, built_len }, der, len);
	free(built);
	cr_pubkey_clear(&k);
	OPENSSL_free(der);
}
END_TEST

/* (g) Every truncation, trailing bytes, BER lengths and corrupted inner lengths fail. */
static void assert_cert_rejected(const uint8_t *der, size_t len, const char *what)
{
	struct cr_cert c;
	int rc = cr_cert_parse(der, len, &c);

	ck_assert_msg(rc == CR_E_DATA, "%s: rc %d", what, rc);
	ck_assert_msg(ERR_peek_error() == 0, "%s: OpenSSL errors left queued", what);
	ck_assert_ptr_null(c.subject.data);
	ck_assert_ptr_null(c.key.spki.data);
}

START_TEST(test_cert_malformed)
{
	X509 *x = make_cert(p256_key, p256_key, "digitalSignature");
	size_t len;
	uint8_t *der = to_der(x, &len), *buf = malloc(len + 8);
	size_t body = len - 4, last;

	ck_assert_int_eq(der[0], 0x30);
	ck_assert_int_eq(der[1], 0x82); /* a P-256 certificate is 256..65535 bytes */
	for (size_t cut = 0; cut < len; cut++)
		assert_cert_rejected(der, cut, "truncated");

	memcpy(buf, der, len);
	buf[len] = 0x00;
	assert_cert_rejected(buf, len + 1, "one trailing byte");
	memcpy(buf + len, der, 8);
	assert_cert_rejected(buf, len + 8, "trailing garbage");

	/* Outer length in a longer form than needed: 30 83 00 hi lo. */
	buf[0] = 0x30;
	buf[1] = 0x83;
	buf[2] = 0x00;
	memcpy(buf + 3, der + 2, len - 2);
	assert_cert_rejected(buf, len + 1, "non-minimal outer length");

	/* Outer length larger than the input. */
	memcpy(buf, der, len);
	buf[2] = (uint8_t)((body + 1) >> 8);
	buf[3] = (uint8_t)(body + 1);
	assert_cert_rejected(buf, len, "outer length too long");

	/* The TBS length one too long and one too short. */
	memcpy(buf, der, len);
	ck_assert_int_eq(buf[4], 0x30);
	ck_assert(buf[5] == 0x81 || buf[5] == 0x82);
	last = 5 + (size_t)(buf[5] & 0x7f); /* the low byte of the TBS length */
	ck_assert(buf[last] >= 1 && buf[last] <= 0xfe);
	buf[last]++;
	assert_cert_rejected(buf, len, "inner length too long");
	buf[last] -= 2;
	assert_cert_rejected(buf, len, "inner length too short");

	/* Not a certificate at all. */
	assert_cert_rejected((const uint8_t *)"\x30\x03\x02\x01\x01", 5, "an INTEGER in a SEQUENCE");
	assert_cert_rejected((const uint8_t *)"\x04\x00", 2, "an empty OCTET STRING");
	free(buf);
	OPENSSL_free(der);
	X509_free(x);
}
END_TEST

START_TEST(test_spki_malformed)
{
	size_t len;
	uint8_t *der = spki_of(rsa_key, &len), *buf = malloc(len + 1);
	struct cr_pubkey k;

	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(cr_spki_parse(der, cut, &k), CR_E_DATA);
	memcpy(buf, der, len);
	buf[len] = 0x00;
	ck_assert_int_eq(cr_spki_parse(buf, len + 1, &k), CR_E_DATA);
	ck_assert_ptr_null(k.spki.data);
	/* The BIT STRING holding the key cut short by one byte, lengths adjusted. */
	ck_assert_int_eq(cr_spki_parse((const uint8_t *)"\x30\x0d\x30\x05\x06\x03\x2b\x65\x70\x03\x04\x00\x01\x02\x03",
				       15, &k), CR_E_DATA);
	ck_assert_int_eq(k.type, CR_KEY_NONE);
	free(buf);
	OPENSSL_free(der);
}
END_TEST

/* Where the unused-bits byte of the key's BIT STRING sits in a SubjectPublicKeyInfo. */
static size_t unused_bits_at(const uint8_t *spki, size_t len)
{
	struct cr_der outer = { spki, len }, inner;
	const uint8_t *val, *key;
	size_t val_len, key_len;

	ck_assert_int_eq(cr_der_expect(&outer, CR_DER_SEQUENCE, &val, &val_len), CR_OK);
	inner = (struct cr_der){ val, val_len };
	ck_assert_int_eq(cr_der_expect(&inner, CR_DER_SEQUENCE, &val, &val_len), CR_OK); /* the algorithm */
	ck_assert_int_eq(cr_der_expect(&inner, CR_DER_BIT_STRING, &key, &key_len), CR_OK);
	ck_assert_uint_ge(key_len, 1);
	ck_assert_int_eq(key[0], 0); /* as made: whole bytes */
	return (size_t)(key - spki);
}

/*
 * A public key's BIT STRING with unused bits: OpenSSL would quietly clear
 * them and hand back another key. Every key type is refused as malformed.
 */
START_TEST(test_spki_unused_bits_refused)
{
	EVP_PKEY *keys[] = { ed_key, x25519_key, rsa_key, p256_key };
	static const uint8_t unused[] = { 1, 7 };
	EVP_PKEY *key = keys[_i];
	size_t len, at;
	uint8_t *der = spki_of(key, &len);
	struct cr_pubkey k;

	at = unused_bits_at(der, len);
	ck_assert_int_eq(cr_spki_parse(der, len, &k), CR_OK);
	cr_pubkey_clear(&k);
	for (size_t u = 0; u < sizeof(unused); u++) {
		int rc;

		der[at] = unused[u];
		rc = cr_spki_parse(der, len, &k);
		ck_assert_msg(rc == CR_E_DATA, "key %d, %u unused bits: rc %d", _i, unused[u], rc);
		ck_assert_ptr_null(k.spki.data);
		ck_assert_int_eq(k.type, CR_KEY_NONE);
	}
	OPENSSL_free(der);
}
END_TEST

/* The same inside a certificate (whose signature no longer matches, which parsing does not look at). */
START_TEST(test_cert_unused_bits_refused)
{
	X509 *x = make_cert(ed_key, ed_key, "digitalSignature");
	size_t len, spki_len;
	uint8_t *der = to_der(x, &len), *spki = spki_of(ed_key, &spki_len), *in_cert;
	struct cr_cert c;

	in_cert = memmem(der, len, spki, spki_len);
	ck_assert_ptr_nonnull(in_cert);
	in_cert[unused_bits_at(spki, spki_len)] = 1;
	ck_assert_int_eq(cr_cert_parse(der, len, &c), CR_E_DATA);
	ck_assert_ptr_null(c.key.spki.data);
	OPENSSL_free(spki);
	OPENSSL_free(der);
	X509_free(x);
}
END_TEST

static Suite *x509_suite(void)
{
	Suite *s = suite_create("crypto_x509");
	TCase *cert = tcase_create("certificate");
	TCase *spki = tcase_create("spki");

	tcase_add_test(cert, test_cert_rsa_fields);
	tcase_add_test(cert, test_cert_p256_fields);
	tcase_add_test(cert, test_cert_without_key_usage_or_cn);
	tcase_add_test(cert, test_cert_ed25519_and_unsupported);
	tcase_add_test(cert, test_cert_malformed);
	suite_add_tcase(s, cert);
	tcase_add_test(spki, test_spki_rsa_both_ways);
	tcase_add_test(spki, test_spki_ec_both_ways);
	tcase_add_loop_test(spki, test_spki_25519_both_ways, 0, 2);
	tcase_add_test(spki, test_spki_malformed);
	tcase_add_loop_test(spki, test_spki_unused_bits_refused, 0, 4);
	tcase_add_test(spki, test_cert_unused_bits_refused);
	suite_add_tcase(s, spki);
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

	return tk_run_suite_with_keys(x509_suite, keys_to_make, sizeof(keys_to_make) / sizeof(keys_to_make[0]));
}
