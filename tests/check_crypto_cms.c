/*
 * CMS detached signatures built around a signing callback (the token),
 * checked by OpenSSL's CMS_verify as any receiver would check them.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/cms_build.h"
#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/ecdsa.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

static EVP_PKEY *rsa_key, *p256_key, *p384_key, *ed_key, *other_key;

static const uint8_t content[] = "a document to sign\n";

struct signer {
	EVP_PKEY *key;
	bool fail;
	int calls;
};

/* The digest a signature with alg hashes with; NULL for Ed25519, which signs the message itself. */
static const EVP_MD *alg_md(enum cr_sig_alg alg)
{
	if (alg == CR_SIG_ED25519)
		return NULL;
	return alg == CR_SIG_ECDSA_SHA384 ? EVP_sha384() : EVP_sha256();
}

/* Signs like a PKCS#11 token: RSA and Ed25519 as they are, ECDSA as r||s. */
static int test_sign(void *ctx, enum cr_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
		     size_t *sig_len)
{
	struct signer *s = ctx;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	uint8_t der[CR_ECDSA_MAX_DER_SIZE];
	size_t der_len = sizeof(der);
	bool ec = alg == CR_SIG_ECDSA_SHA256 || alg == CR_SIG_ECDSA_SHA384;

	s->calls++;
	if (s->fail) {
		EVP_MD_CTX_free(mctx);
		return -1;
	}
	ck_assert_int_eq(EVP_DigestSignInit(mctx, &pctx, alg_md(alg), NULL, s->key), 1);
	if (alg == CR_SIG_RSA_PSS_SHA256) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
	}
	if (!ec) {
		ck_assert_int_eq(EVP_DigestSign(mctx, sig, sig_len, tbs, tbs_len), 1);
	} else {
		ck_assert_int_eq(EVP_DigestSign(mctx, der, &der_len, tbs, tbs_len), 1);
		ck_assert_int_eq(cr_ecdsa_der_to_raw(der, der_len, (size_t)(EVP_PKEY_get_bits(s->key) + 7) / 8, sig,
						     sig_len),
				 CR_OK);
	}
	EVP_MD_CTX_free(mctx);
	return 0;
}

/* A self-signed certificate for key, as DER. */
static uint8_t *make_cert(EVP_PKEY *key, size_t *len)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL;
	int n;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 4242), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"Signer", -1,
						    -1, 0),
			 1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	ck_assert_int_gt(X509_sign(x, key, EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256()), 0);
	n = i2d_X509(x, &der);
	ck_assert_int_gt(n, 0);
	*len = (size_t)n;
	X509_NAME_free(name);
	X509_free(x);
	return der;
}

struct built {
	uint8_t *cert;
	size_t cert_len;
	uint8_t hash[CR_HASH_MAX_SIZE];
	uint8_t *der;
	size_t der_len;
};

static struct cr_cms_request make_request(EVP_PKEY *key, enum cr_sig_alg alg, struct signer *s, struct built *b,
					  time_t when)
{
	size_t hash_len = sizeof(b->hash);
	struct cr_cms_request req;

	memset(b, 0, sizeof(*b));
	memset(s, 0, sizeof(*s));
	s->key = key;
	b->cert = make_cert(key, &b->cert_len);
	ck_assert_int_eq(cr_hash_once(cr_sig_alg_hash(alg), content, sizeof(content) - 1, b->hash, &hash_len), CR_OK);
	req = (struct cr_cms_request){
		.cert = b->cert,
		.cert_len = b->cert_len,
		.alg = alg,
		.content_hash = b->hash,
		.content_hash_len = hash_len,
		.signing_time = when,
		.sign = test_sign,
		.sign_ctx = s,
	};
	return req;
}

static void free_built(struct built *b)
{
	OPENSSL_free(b->cert);
	free(b->der);
}

static CMS_ContentInfo *parse_cms(const struct built *b)
{
	const unsigned char *p = b->der;
	CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)b->der_len);

	ck_assert_ptr_nonnull(cms);
	ck_assert_uint_eq((size_t)(p - b->der), b->der_len);
	return cms;
}

/* OpenSSL's verdict on the signature over data (the certificate inside is the signer's). */
static int openssl_verifies(const struct built *b, const uint8_t *data, size_t len)
{
	CMS_ContentInfo *cms = parse_cms(b);
	BIO *in = BIO_new_mem_buf(data, (int)len);
	int ok = CMS_verify(cms, NULL, NULL, in, NULL, CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY);

	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return ok;
}

/*
 * The verdict on an Ed25519 SignedData: OpenSSL 3.0's CMS_verify cannot
 * check one, so OpenSSL parses it (it must) and crypto/'s checker judges.
 */
static int ed25519_verifies(const struct built *b, const uint8_t *data, size_t len)
{
	uint8_t hash[CR_HASH_MAX_SIZE];
	size_t hash_len = sizeof(hash);
	struct cr_bytes signer;
	int rc;

	CMS_ContentInfo_free(parse_cms(b));
	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA512, data, len, hash, &hash_len), CR_OK);
	rc = cr_cms_verify_ed25519(b->der, b->der_len, hash, hash_len, NULL, 0, &signer);
	ck_assert(rc == CR_OK || rc == CR_E_SIGNATURE);
	if (rc == CR_OK) {
		ck_assert_uint_eq(signer.len, b->cert_len);
		ck_assert_mem_eq(signer.data, b->cert, b->cert_len);
	}
	free(signer.data);
	return rc == CR_OK;
}

static void check_alg(EVP_PKEY *key, enum cr_sig_alg alg)
{
	struct signer s;
	struct built b;
	struct cr_cms_request req = make_request(key, alg, &s, &b, time(NULL));
	int (*verifies)(const struct built *, const uint8_t *, size_t) =
		alg == CR_SIG_ED25519 ? ed25519_verifies : openssl_verifies;

	ck_assert_int_eq(cr_cms_build_detached(&req, &b.der, &b.der_len), CR_OK);
	ck_assert_int_eq(s.calls, 1);
	ck_assert_int_eq(verifies(&b, content, sizeof(content) - 1), 1);
	ck_assert_int_eq(verifies(&b, content, sizeof(content) - 2), 0);
	free_built(&b);
}

START_TEST(test_rsa_pkcs1)
{
	check_alg(rsa_key, CR_SIG_RSA_PKCS1_SHA256);
}
END_TEST

START_TEST(test_rsa_pss)
{
	check_alg(rsa_key, CR_SIG_RSA_PSS_SHA256);
}
END_TEST

START_TEST(test_ecdsa)
{
	check_alg(p256_key, CR_SIG_ECDSA_SHA256);
	check_alg(p384_key, CR_SIG_ECDSA_SHA384);
}
END_TEST

/* RFC 8419: PureEdDSA over the signed attributes, SHA-512 as the message digest. */
START_TEST(test_ed25519)
{
	struct signer s;
	struct built b;
	struct cr_cms_request req = make_request(ed_key, CR_SIG_ED25519, &s, &b, time(NULL));
	struct cr_bytes signer;

	ck_assert_uint_eq(req.content_hash_len, 64);
	check_alg(ed_key, CR_SIG_ED25519);
	/* the checker takes no other algorithm, and no signer but the one whose key signed */
	free_built(&b);
	req = make_request(p256_key, CR_SIG_ECDSA_SHA256, &s, &b, time(NULL));
	ck_assert_int_eq(cr_cms_build_detached(&req, &b.der, &b.der_len), CR_OK);
	ck_assert_int_eq(cr_cms_verify_ed25519(b.der, b.der_len, b.hash, 32, NULL, 0, &signer), CR_E_UNSUPPORTED);
	free_built(&b);
	req = make_request(ed_key, CR_SIG_ED25519, &s, &b, time(NULL));
	ck_assert_int_eq(cr_cms_build_detached(&req, &b.der, &b.der_len), CR_OK);
	ck_assert_int_eq(cr_cms_verify_ed25519(b.der, b.der_len - 1, b.hash, 64, NULL, 0, &signer), CR_E_DATA);
	OPENSSL_free(b.cert);
	b.cert = make_cert(p256_key, &b.cert_len);
	ck_assert_int_eq(cr_cms_verify_ed25519(b.der, b.der_len, b.hash, 64, b.cert, b.cert_len, &signer),
			 CR_E_SIGNATURE);
	/* an Ed25519 signature for an EC certificate, or the other way round, is refused before signing */
	free_built(&b);
	req = make_request(p256_key, CR_SIG_ED25519, &s, &b, time(NULL));
	ck_assert_int_eq(cr_cms_build_detached(&req, &b.der, &b.der_len), CR_E_ARGS);
	ck_assert_int_eq(s.calls, 0);
	free_built(&b);
}
END_TEST

/* What the SignedData carries: detached content, the certificate, the signer named by issuer and serial. */
START_TEST(test_structure)
{
	struct signer s;
	struct built b;
	struct cr_cms_request req = make_request(p256_key, CR_SIG_ECDSA_SHA256, &s, &b, time(NULL));
	CMS_ContentInfo *cms;
	STACK_OF(X509) *certs;
	STACK_OF(CMS_SignerInfo) *sis;
	const unsigned char *p;
	X509 *cert;

	ck_assert_int_eq(cr_cms_build_detached(&req, &b.der, &b.der_len), CR_OK);
	cms = parse_cms(&b);
	ck_assert_int_eq(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
	ck_assert_int_eq(CMS_is_detached(cms), 1);
	ck_assert_int_eq(OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_pkcs7_data);
	certs = CMS_get1_certs(cms);
	ck_assert_int_eq(sk_X509_num(certs), 1);
	p = b.cert;
	cert = d2i_X509(NULL, &p, (long)b.cert_len);
	ck_assert_int_eq(X509_cmp(sk_X509_value(certs, 0), cert), 0);
	sis = CMS_get0_SignerInfos(cms);
	ck_assert_int_eq(sk_CMS_SignerInfo_num(sis), 1);
	ck_assert_int_eq(CMS_SignerInfo_cert_cmp(sk_CMS_SignerInfo_value(sis, 0), cert), 0);
	ck_assert_int_eq(CMS_signed_get_attr_count(sk_CMS_SignerInfo_value(sis, 0)), 3);
	X509_free(cert);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	free_built(&b);
}
END_TEST

static void check_signing_time(time_t when, int want_type, const char *want_text)
{
	struct signer s;
	struct built b;
	struct cr_cms_request req = make_request(p256_key, CR_SIG_ECDSA_SHA256, &s, &b, when);
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	ASN1_OBJECT *obj = OBJ_nid2obj(NID_pkcs9_signingTime);
	ASN1_TYPE *t;

	ck_assert_int_eq(cr_cms_build_detached(&req, &b.der, &b.der_len), CR_OK);
	cms = parse_cms(&b);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	t = X509_ATTRIBUTE_get0_type(CMS_signed_get_attr(si, CMS_signed_get_attr_by_OBJ(si, obj, -1)), 0);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ASN1_TYPE_get(t), want_type);
	ck_assert_mem_eq(ASN1_STRING_get0_data(t->value.asn1_string), want_text, strlen(want_text));
	ck_assert_int_eq(openssl_verifies(&b, content, sizeof(content) - 1), 1);
	CMS_ContentInfo_free(cms);
	free_built(&b);
}

START_TEST(test_signing_time)
{
	/* RFC 5652: UTCTime up to 2049, GeneralizedTime from 2050 */
	check_signing_time(2524607999, V_ASN1_UTCTIME, "491231235959Z");
	check_signing_time(2524608000, V_ASN1_GENERALIZEDTIME, "20500101000000Z");
}
END_TEST

START_TEST(test_signer_failures)
{
	struct signer s;
	struct built b;
	struct cr_cms_request req = make_request(rsa_key, CR_SIG_RSA_PKCS1_SHA256, &s, &b, time(NULL));

	s.fail = true;
	ck_assert_int_eq(cr_cms_build_detached(&req, &b.der, &b.der_len), CR_E_SIGN);
	ck_assert_ptr_null(b.der);
	/* a token that signs with another key is caught before anything is returned */
	s.fail = false;
	s.key = other_key;
	ck_assert_int_eq(cr_cms_build_detached(&req, &b.der, &b.der_len), CR_E_SIGN);
	ck_assert_ptr_null(b.der);
	free_built(&b);
}
END_TEST

START_TEST(test_bad_requests)
{
	struct signer s;
	struct built b;
	struct cr_cms_request req = make_request(rsa_key, CR_SIG_RSA_PKCS1_SHA256, &s, &b, time(NULL));
	struct cr_cms_request bad;

	bad = req;
	bad.content_hash_len = 31;
	ck_assert_int_eq(cr_cms_build_detached(&bad, &b.der, &b.der_len), CR_E_ARGS);
	bad = req;
	bad.alg = CR_SIG_ECDSA_SHA256; /* an RSA certificate */
	ck_assert_int_eq(cr_cms_build_detached(&bad, &b.der, &b.der_len), CR_E_ARGS);
	bad = req;
	bad.cert_len--;
	ck_assert_int_eq(cr_cms_build_detached(&bad, &b.der, &b.der_len), CR_E_DATA);
	bad = req;
	bad.sign = NULL;
	ck_assert_int_eq(cr_cms_build_detached(&bad, &b.der, &b.der_len), CR_E_ARGS);
	ck_assert_int_eq(cr_cms_build_detached(NULL, &b.der, &b.der_len), CR_E_ARGS);
	ck_assert_int_eq(s.calls, 0);
	free_built(&b);
}
END_TEST

static Suite *cms_suite(void)
{
	Suite *s = suite_create("crypto_cms");
	TCase *tc = tcase_create("build");

	tcase_add_test(tc, test_rsa_pkcs1);
	tcase_add_test(tc, test_rsa_pss);
	tcase_add_test(tc, test_ecdsa);
	tcase_add_test(tc, test_ed25519);
	tcase_add_test(tc, test_structure);
	tcase_add_test(tc, test_signing_time);
	tcase_add_test(tc, test_signer_failures);
	tcase_add_test(tc, test_bad_requests);
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
		{ &other_key, "RSA-2048" },
	};

	return tk_run_suite_with_keys(cms_suite, keys_to_make, sizeof(keys_to_make) / sizeof(keys_to_make[0]));
}
