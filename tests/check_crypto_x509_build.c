/*
 * Certificates and requests built around a signing callback, verified by
 * OpenSSL. The callback plays the token, including the way a PIV card
 * signs: host-side hashing and padding, then the raw private-key operation.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/ecdsa.h"
#include "crypto/rsa_pad.h"
#include "crypto/x509.h"
#include "crypto/x509_build.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

static EVP_PKEY *rsa_key, *p256_key, *p384_key, *ed_key, *other_rsa_key;

enum signer_mode {
	SIGN_OPENSSL,      /* OpenSSL signs the TBS; ECDSA answers r||s like PKCS#11 */
	SIGN_OPENSSL_DER,  /* ECDSA answers in DER */
	SIGN_HOST_PADDING, /* our hashing and padding, then the raw private-key operation */
	SIGN_FAIL,         /* the token refuses */
	SIGN_OTHER_DATA,   /* signs something other than the TBS */
	SIGN_WRONG_KEY,    /* signs with another key */
};

struct signer {
	EVP_PKEY *key;
	enum signer_mode mode;
	int calls;
	enum cr_sig_alg seen_alg;
};

static const EVP_MD *alg_md(enum cr_sig_alg alg)
{
	if (alg == CR_SIG_ED25519)
		return NULL; /* PureEdDSA signs the message itself */
	return alg == CR_SIG_ECDSA_SHA384 ? EVP_sha384() : EVP_sha256();
}

static void openssl_sign(EVP_PKEY *key, enum cr_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
			 size_t *sig_len)
{
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;

	ck_assert_int_eq(EVP_DigestSignInit(mctx, &pctx, alg_md(alg), NULL, key), 1);
	if (alg == CR_SIG_RSA_PSS_SHA256) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
	}
	ck_assert_int_eq(EVP_DigestSign(mctx, sig, sig_len, tbs, tbs_len), 1);
	EVP_MD_CTX_free(mctx);
}

static void raw_rsa_private(EVP_PKEY *key, const uint8_t *block, uint8_t *sig, size_t *sig_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	size_t k = (size_t)EVP_PKEY_get_size(key);

	ck_assert_int_eq(EVP_PKEY_decrypt_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_decrypt(ctx, sig, sig_len, block, k), 1);
	EVP_PKEY_CTX_free(ctx);
}

/* The composition the PKCS#11 layer does for a card: hash, pad, raw operation. */
static void host_padding_sign(EVP_PKEY *key, enum cr_sig_alg alg, const uint8_t *tbs, size_t tbs_len,
			      uint8_t *sig, size_t *sig_len)
{
	uint8_t hash[CR_HASH_MAX_SIZE], block[512], der[CR_ECDSA_MAX_DER_SIZE];
	enum cr_hash h = alg == CR_SIG_ECDSA_SHA384 ? CR_HASH_SHA384 : CR_HASH_SHA256;
	size_t hash_len = sizeof(hash), k = (size_t)EVP_PKEY_get_size(key), der_len = sizeof(der);
	EVP_PKEY_CTX *ctx;

	ck_assert_int_eq(cr_hash_once(h, tbs, tbs_len, hash, &hash_len), CR_OK);
	if (alg == CR_SIG_RSA_PKCS1_SHA256) {
		ck_assert_int_eq(cr_rsa_pkcs1_sign_block(h, hash, hash_len, block, k), CR_OK);
		raw_rsa_private(key, block, sig, sig_len);
		return;
	}
	if (alg == CR_SIG_RSA_PSS_SHA256) {
		ck_assert_int_eq(cr_rsa_pss_encode(h, h, 32, (size_t)EVP_PKEY_get_bits(key), hash, hash_len, block, k),
				 CR_OK);
		raw_rsa_private(key, block, sig, sig_len);
		return;
	}
	/* ECDSA over the hash, answered as r||s. */
	ctx = EVP_PKEY_CTX_new(key, NULL);
	ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_sign(ctx, der, &der_len, hash, hash_len), 1);
	EVP_PKEY_CTX_free(ctx);
	ck_assert_int_eq(cr_ecdsa_der_to_raw(der, der_len, (size_t)(EVP_PKEY_get_bits(key) + 7) / 8, sig, sig_len),
			 CR_OK);
}

static int test_sign(void *ctx, enum cr_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
		     size_t *sig_len)
{
	struct signer *s = ctx;
	uint8_t der[CR_SIG_MAX_SIZE];
	size_t der_len = sizeof(der), field;

	s->calls++;
	s->seen_alg = alg;
	ck_assert_uint_eq(*sig_len, CR_SIG_MAX_SIZE);
	switch (s->mode) {
	case SIGN_FAIL:
		return -1;
	case SIGN_HOST_PADDING:
		host_padding_sign(s->key, alg, tbs, tbs_len, sig, sig_len);
		return 0;
	case SIGN_OTHER_DATA:
		openssl_sign(s->key, alg, tbs, tbs_len - 1, sig, sig_len);
		return 0;
	case SIGN_WRONG_KEY:
		openssl_sign(other_rsa_key, alg, tbs, tbs_len, sig, sig_len);
		return 0;
	case SIGN_OPENSSL_DER:
		openssl_sign(s->key, alg, tbs, tbs_len, sig, sig_len);
		return 0;
	case SIGN_OPENSSL:
		break;
	}
	if (alg != CR_SIG_ECDSA_SHA256 && alg != CR_SIG_ECDSA_SHA384) {
		openssl_sign(s->key, alg, tbs, tbs_len, sig, sig_len);
		return 0;
	}
	openssl_sign(s->key, alg, tbs, tbs_len, der, &der_len);
	field = (size_t)(EVP_PKEY_get_bits(s->key) + 7) / 8;
	ck_assert_int_eq(cr_ecdsa_der_to_raw(der, der_len, field, sig, sig_len), CR_OK);
	return 0;
}

struct built {
	uint8_t *spki;
	size_t spki_len;
	uint8_t *der;
	size_t der_len;
};

static struct cr_x509_request make_request(EVP_PKEY *key, enum cr_sig_alg alg, struct signer *s,
					   struct built *b)
{
	unsigned char *spki = NULL;
	int n = i2d_PUBKEY(key, &spki);
	struct cr_x509_request req = {
		.spki = spki,
		.spki_len = (size_t)n,
		.subject = "/CN=Alice/O=Example",
		.alg = alg,
		.sign = test_sign,
		.sign_ctx = s,
		.days = 30,
		.serial = (const uint8_t *)"\x01\x02",
		.serial_len = 2,
		.key_usage = CR_KU_DIGITAL_SIGNATURE | CR_KU_NON_REPUDIATION,
	};

	ck_assert_int_gt(n, 0);
	memset(b, 0, sizeof(*b));
	b->spki = spki;
	b->spki_len = (size_t)n;
	memset(s, 0, sizeof(*s));
	s->key = key;
	return req;
}

static void free_built(struct built *b)
{
	OPENSSL_free(b->spki);
	free(b->der);
}

static X509 *parse_x509(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	ck_assert_ptr_nonnull(x);
	ck_assert_uint_eq((size_t)(p - der), len);
	return x;
}

static void assert_name_text(const X509_NAME *name, const char *want)
{
	char buf[256];

	ck_assert_ptr_nonnull(X509_NAME_oneline(name, buf, sizeof(buf)));
	ck_assert_str_eq(buf, want);
}

static const int sig_nids[] = {
	[CR_SIG_RSA_PKCS1_SHA256] = NID_sha256WithRSAEncryption,
	[CR_SIG_RSA_PSS_SHA256] = NID_rsassaPss,
	[CR_SIG_ECDSA_SHA256] = NID_ecdsa_with_SHA256,
	[CR_SIG_ECDSA_SHA384] = NID_ecdsa_with_SHA384,
	[CR_SIG_ED25519] = NID_ED25519,
};

/* (f) Self-signed certificate: OpenSSL verifies it and sees what we asked for. */
static void check_self_signed(EVP_PKEY *key, enum cr_sig_alg alg, enum signer_mode mode)
{
	struct signer s;
	struct built b;
	struct cr_x509_request req = make_request(key, alg, &s, &b);
	struct cr_cert parsed;
	X509 *x;
	int days = -1, secs = -1;

	s.mode = mode;
	ck_assert_int_eq(cr_x509_build_self_signed(&req, &b.der, &b.der_len), CR_OK);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(s.seen_alg, alg);
	x = parse_x509(b.der, b.der_len);
	ck_assert_int_eq(X509_verify(x, key), 1);
	ck_assert_int_eq(X509_verify(x, other_rsa_key), alg == CR_SIG_RSA_PKCS1_SHA256 || alg == CR_SIG_RSA_PSS_SHA256
								? 0 : -1);
	ck_assert_int_eq(X509_get_signature_nid(x), sig_nids[alg]);
	ck_assert_int_eq(X509_get_version(x), X509_VERSION_3);
	assert_name_text(X509_get_subject_name(x), "/CN=Alice/O=Example");
	assert_name_text(X509_get_issuer_name(x), "/CN=Alice/O=Example");
	ck_assert_int_eq(ASN1_INTEGER_get(X509_get0_serialNumber(x)), 0x0102);
	ck_assert_int_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
	ck_assert_int_eq(days, 30);
	ck_assert_int_eq(secs, 0);
	ck_assert_int_eq(X509_cmp_time(X509_get0_notBefore(x), NULL), -1);
	ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
	ck_assert_int_eq(X509_check_ca(x), 0);
	ck_assert(X509_get_extension_flags(x) & EXFLAG_SS);

	/* Our own parser reads back the same key. */
	ck_assert_int_eq(cr_cert_parse(b.der, b.der_len, &parsed), CR_OK);
	ck_assert_uint_eq(parsed.key.spki.len, b.spki_len);
	ck_assert_mem_eq(parsed.key.spki.data, b.spki, b.spki_len);
	ck_assert_str_eq(parsed.cn, "Alice");
	cr_cert_clear(&parsed);
	X509_free(x);
	free_built(&b);
}

START_TEST(test_cert_rsa_pkcs1)
{
	check_self_signed(rsa_key, CR_SIG_RSA_PKCS1_SHA256, SIGN_OPENSSL);
	check_self_signed(rsa_key, CR_SIG_RSA_PKCS1_SHA256, SIGN_HOST_PADDING);
}
END_TEST

START_TEST(test_cert_rsa_pss)
{
	check_self_signed(rsa_key, CR_SIG_RSA_PSS_SHA256, SIGN_OPENSSL);
	check_self_signed(rsa_key, CR_SIG_RSA_PSS_SHA256, SIGN_HOST_PADDING);
}
END_TEST

START_TEST(test_cert_ecdsa)
{
	check_self_signed(p256_key, CR_SIG_ECDSA_SHA256, SIGN_OPENSSL);
	check_self_signed(p256_key, CR_SIG_ECDSA_SHA256, SIGN_OPENSSL_DER);
	check_self_signed(p256_key, CR_SIG_ECDSA_SHA256, SIGN_HOST_PADDING);
	check_self_signed(p384_key, CR_SIG_ECDSA_SHA384, SIGN_OPENSSL);
	check_self_signed(p384_key, CR_SIG_ECDSA_SHA384, SIGN_HOST_PADDING);
	check_self_signed(p256_key, CR_SIG_ECDSA_SHA384, SIGN_OPENSSL);
}
END_TEST

/* PureEdDSA (RFC 8410): the callback gets the whole TBS and answers the 64-byte signature. */
START_TEST(test_cert_ed25519)
{
	struct signer s;
	struct built b;
	struct cr_x509_request req;

	check_self_signed(ed_key, CR_SIG_ED25519, SIGN_OPENSSL);
	req = make_request(ed_key, CR_SIG_ED25519, &s, &b);
	s.mode = SIGN_OTHER_DATA;
	ck_assert_int_eq(cr_x509_build_self_signed(&req, &b.der, &b.der_len), CR_E_SIGN);
	ck_assert_ptr_null(b.der);
	free_built(&b);
	/* an Ed25519 key cannot sign with ECDSA, nor an EC key with Ed25519 */
	req = make_request(ed_key, CR_SIG_ECDSA_SHA256, &s, &b);
	ck_assert_int_eq(cr_x509_build_csr(&req, &b.der, &b.der_len), CR_E_ARGS);
	free_built(&b);
	req = make_request(p256_key, CR_SIG_ED25519, &s, &b);
	ck_assert_int_eq(cr_x509_build_csr(&req, &b.der, &b.der_len), CR_E_ARGS);
	ck_assert_int_eq(s.calls, 0);
	free_built(&b);
}
END_TEST

/* Our RSASSA-PSS AlgorithmIdentifier is the one OpenSSL writes for the same parameters. */
START_TEST(test_pss_algid_matches_openssl)
{
	struct signer s;
	struct built b;
	struct cr_x509_request req = make_request(rsa_key, CR_SIG_RSA_PSS_SHA256, &s, &b);
	X509 *ours, *theirs = X509_new();
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const X509_ALGOR *ours_alg, *theirs_alg;
	unsigned char *a = NULL, *t = NULL;
	int a_len, t_len;

	ck_assert_int_eq(cr_x509_build_self_signed(&req, &b.der, &b.der_len), CR_OK);
	ours = parse_x509(b.der, b.der_len);
	ck_assert_int_eq(X509_set_pubkey(theirs, rsa_key), 1);
	ck_assert_int_eq(EVP_DigestSignInit(mctx, &pctx, EVP_sha256(), NULL, rsa_key), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()), 1);
	ck_assert_int_gt(X509_sign_ctx(theirs, mctx), 0);
	X509_get0_signature(NULL, &ours_alg, ours);
	X509_get0_signature(NULL, &theirs_alg, theirs);
	a_len = i2d_X509_ALGOR(ours_alg, &a);
	t_len = i2d_X509_ALGOR(theirs_alg, &t);
	ck_assert_int_eq(a_len, 67);
	ck_assert_int_eq(a_len, t_len);
	ck_assert_mem_eq(a, t, (size_t)t_len);
	OPENSSL_free(t);
	/* The copy inside the TBS is the same. */
	t = NULL;
	t_len = i2d_X509_ALGOR(X509_get0_tbs_sigalg(ours), &t);
	ck_assert_int_eq(t_len, a_len);
	ck_assert_mem_eq(a, t, (size_t)t_len);
	OPENSSL_free(a);
	OPENSSL_free(t);
	EVP_MD_CTX_free(mctx);
	X509_free(ours);
	X509_free(theirs);
	free_built(&b);
}
END_TEST

START_TEST(test_random_serials)
{
	struct signer s;
	struct built b1, b2;
	struct cr_x509_request req = make_request(p256_key, CR_SIG_ECDSA_SHA256, &s, &b1);
	X509 *x1, *x2;
	const ASN1_INTEGER *s1, *s2;

	req.serial = NULL;
	req.serial_len = 0;
	req.key_usage = 0;
	ck_assert_int_eq(cr_x509_build_self_signed(&req, &b1.der, &b1.der_len), CR_OK);
	memset(&b2, 0, sizeof(b2));
	ck_assert_int_eq(cr_x509_build_self_signed(&req, &b2.der, &b2.der_len), CR_OK);
	x1 = parse_x509(b1.der, b1.der_len);
	x2 = parse_x509(b2.der, b2.der_len);
	s1 = X509_get0_serialNumber(x1);
	s2 = X509_get0_serialNumber(x2);
	ck_assert_int_eq(ASN1_STRING_length(s1), 16);
	ck_assert_int_eq(ASN1_STRING_type(s1), V_ASN1_INTEGER); /* positive */
	ck_assert_int_ne(ASN1_INTEGER_cmp(s1, s2), 0);
	ck_assert_uint_eq(X509_get_key_usage(x1), UINT32_MAX); /* no keyUsage asked, none written */
	ck_assert_int_eq(X509_verify(x1, p256_key), 1);
	X509_free(x1);
	X509_free(x2);
	free(b2.der);
	free_built(&b1);
}
END_TEST

/* (f) PKCS#10 requests verify with OpenSSL and carry the subject, key and key usage. */
static void check_csr(EVP_PKEY *key, enum cr_sig_alg alg, enum signer_mode mode)
{
	struct signer s;
	struct built b;
	struct cr_x509_request req = make_request(key, alg, &s, &b);
	const unsigned char *p;
	X509_REQ *csr;
	STACK_OF(X509_EXTENSION) *exts;
	ASN1_BIT_STRING *ku;
	EVP_PKEY *pub;
	const X509_NAME *name;
	unsigned char *cn = NULL;

	s.mode = mode;
	req.subject = "/CN=Zo\xc3\xab \\/ Co/O=Example\\, Inc./C=DE";
	ck_assert_int_eq(cr_x509_build_csr(&req, &b.der, &b.der_len), CR_OK);
	ck_assert_int_eq(s.calls, 1);
	p = b.der;
	csr = d2i_X509_REQ(NULL, &p, (long)b.der_len);
	ck_assert_ptr_nonnull(csr);
	ck_assert_uint_eq((size_t)(p - b.der), b.der_len);
	ck_assert_int_eq(X509_REQ_verify(csr, key), 1);
	ck_assert_int_eq(X509_REQ_get_signature_nid(csr), sig_nids[alg]);
	pub = X509_REQ_get0_pubkey(csr);
	ck_assert_int_eq(EVP_PKEY_eq(pub, key), 1);
	assert_name_text(X509_REQ_get_subject_name(csr), "/CN=Zo\\xC3\\xAB \\/ Co/O=Example, Inc./C=DE");
	name = X509_REQ_get_subject_name(csr);
	ck_assert_int_eq(X509_NAME_entry_count(name), 3);
	ck_assert_int_eq(ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, 0))), 9);
	ck_assert_str_eq((const char *)cn, "Zo\xc3\xab / Co");
	OPENSSL_free(cn);
	exts = X509_REQ_get_extensions(csr);
	ck_assert_int_eq(sk_X509_EXTENSION_num(exts), 1);
	ck_assert_int_eq(OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, 0))), NID_key_usage);
	ck_assert_int_eq(X509_EXTENSION_get_critical(sk_X509_EXTENSION_value(exts, 0)), 1);
	ku = X509V3_EXT_d2i(sk_X509_EXTENSION_value(exts, 0));
	ck_assert_int_eq(ASN1_BIT_STRING_get_bit(ku, 0), 1);
	ck_assert_int_eq(ASN1_BIT_STRING_get_bit(ku, 1), 1);
	ck_assert_int_eq(ASN1_BIT_STRING_get_bit(ku, 2), 0);
	ASN1_BIT_STRING_free(ku);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(csr);
	free_built(&b);
}

START_TEST(test_csr_all_algorithms)
{
	check_csr(rsa_key, CR_SIG_RSA_PKCS1_SHA256, SIGN_HOST_PADDING);
	check_csr(rsa_key, CR_SIG_RSA_PSS_SHA256, SIGN_OPENSSL);
	check_csr(p256_key, CR_SIG_ECDSA_SHA256, SIGN_OPENSSL);
	check_csr(p384_key, CR_SIG_ECDSA_SHA384, SIGN_HOST_PADDING);
	check_csr(ed_key, CR_SIG_ED25519, SIGN_OPENSSL);
}
END_TEST

/* A callback that fails or signs the wrong thing never yields a certificate. */
START_TEST(test_bad_signatures_rejected)
{
	const enum signer_mode modes[] = { SIGN_FAIL, SIGN_OTHER_DATA, SIGN_WRONG_KEY };

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct signer s;
		struct built b;
		struct cr_x509_request req = make_request(rsa_key, CR_SIG_RSA_PKCS1_SHA256, &s, &b);

		s.mode = modes[i];
		ck_assert_int_eq(cr_x509_build_self_signed(&req, &b.der, &b.der_len), CR_E_SIGN);
		ck_assert_ptr_null(b.der);
		ck_assert_uint_eq(b.der_len, 0);
		ck_assert_int_eq(cr_x509_build_csr(&req, &b.der, &b.der_len), CR_E_SIGN);
		ck_assert_ptr_null(b.der);
		free_built(&b);
	}
}
END_TEST

START_TEST(test_bad_requests)
{
	const char *bad_subjects[] = { "CN=Alice", "/", "/CN", "/CN=", "/=x", "/NOSUCH=1", "/CN=A//O=B", "" };
	struct signer s;
	struct built b;
	struct cr_x509_request req = make_request(rsa_key, CR_SIG_RSA_PKCS1_SHA256, &s, &b);
	struct cr_x509_request r;
	uint8_t long_serial[21], zero_serial[3] = { 0 };

	for (size_t i = 0; i < sizeof(bad_subjects) / sizeof(bad_subjects[0]); i++) {
		r = req;
		r.subject = bad_subjects[i];
		ck_assert_msg(cr_x509_build_self_signed(&r, &b.der, &b.der_len) == CR_E_ARGS, "%s", bad_subjects[i]);
		ck_assert_msg(cr_x509_build_csr(&r, &b.der, &b.der_len) == CR_E_ARGS, "%s", bad_subjects[i]);
	}
	r = req;
	r.subject = NULL;
	ck_assert_int_eq(cr_x509_build_self_signed(&r, &b.der, &b.der_len), CR_E_ARGS);
	r = req;
	r.alg = CR_SIG_ECDSA_SHA256; /* an RSA key */
	ck_assert_int_eq(cr_x509_build_self_signed(&r, &b.der, &b.der_len), CR_E_ARGS);
	r.alg = (enum cr_sig_alg)99;
	ck_assert_int_eq(cr_x509_build_self_signed(&r, &b.der, &b.der_len), CR_E_ARGS);
	r = req;
	r.days = 0;
	ck_assert_int_eq(cr_x509_build_self_signed(&r, &b.der, &b.der_len), CR_E_ARGS);
	r = req;
	memset(long_serial, 1, sizeof(long_serial));
	r.serial = long_serial;
	r.serial_len = sizeof(long_serial);
	ck_assert_int_eq(cr_x509_build_self_signed(&r, &b.der, &b.der_len), CR_E_ARGS);
	r.serial_len = 20;
	ck_assert_int_eq(cr_x509_build_self_signed(&r, &b.der, &b.der_len), CR_OK);
	free(b.der);
	b.der = NULL;
	r.serial = zero_serial;
	r.serial_len = sizeof(zero_serial);
	ck_assert_int_eq(cr_x509_build_self_signed(&r, &b.der, &b.der_len), CR_E_ARGS);
	r = req;
	r.sign = NULL;
	ck_assert_int_eq(cr_x509_build_csr(&r, &b.der, &b.der_len), CR_E_ARGS);
	r = req;
	r.spki_len--;
	ck_assert_int_eq(cr_x509_build_csr(&r, &b.der, &b.der_len), CR_E_DATA);
	ck_assert_int_eq(s.calls, 1); /* only the 20-byte serial reached the signer */
	ck_assert_ptr_null(b.der);
	free_built(&b);
}
END_TEST

static Suite *build_suite(void)
{
	Suite *s = suite_create("crypto_x509_build");
	TCase *cert = tcase_create("certificate");
	TCase *csr = tcase_create("csr");

	tcase_add_test(cert, test_cert_rsa_pkcs1);
	tcase_add_test(cert, test_cert_rsa_pss);
	tcase_add_test(cert, test_cert_ecdsa);
	tcase_add_test(cert, test_cert_ed25519);
	tcase_add_test(cert, test_pss_algid_matches_openssl);
	tcase_add_test(cert, test_random_serials);
	tcase_add_test(cert, test_bad_signatures_rejected);
	tcase_add_test(cert, test_bad_requests);
	suite_add_tcase(s, cert);
	tcase_add_test(csr, test_csr_all_algorithms);
	suite_add_tcase(s, csr);
	return s;
}

int main(void)
{
	static const struct tk_key keys_to_make[] = {
		{ &rsa_key, "RSA-2048" },
		{ &other_rsa_key, "RSA-2048" },
		{ &p256_key, "P-256" },
		{ &p384_key, "P-384" },
		{ &ed_key, "ED25519" },
	};

	return tk_run_suite_with_keys(build_suite, keys_to_make, sizeof(keys_to_make) / sizeof(keys_to_make[0]));
}
