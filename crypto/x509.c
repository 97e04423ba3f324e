#include "crypto/x509.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/cr.h"
#include "crypto/cr_ctx.h"
#include "crypto/der.h"

#define KEY_25519_SIZE 32 /* an Ed25519 or X25519 public key */

static int set_bytes(struct cr_bytes *b, const uint8_t *data, size_t len)
{
	b->data = NULL;
	b->len = 0;
	if (len == 0)
		return CR_OK;
	b->data = malloc(len);
	if (b->data == NULL)
		return CR_E_MEMORY;
	memcpy(b->data, data, len);
	b->len = len;
	return CR_OK;
}

static void free_bytes(struct cr_bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

/* Stores a DER OCTET STRING wrapping value, as CKA_EC_POINT wants. */
static int set_octet_string(struct cr_bytes *b, const uint8_t *value, size_t len)
{
	size_t header = cr_der_header_size(len);

	b->data = malloc(header + len);
	if (b->data == NULL)
		return CR_E_MEMORY;
	cr_der_put_header(b->data, CR_DER_OCTET_STRING, len);
	memcpy(b->data + header, value, len);
	b->len = header + len;
	return CR_OK;
}

static int set_bignum(struct cr_bytes *b, const BIGNUM *bn)
{
	int len = BN_num_bytes(bn);

	b->data = NULL;
	b->len = 0;
	if (len <= 0)
		return CR_E_DATA;
	b->data = malloc((size_t)len);
	if (b->data == NULL)
		return CR_E_MEMORY;
	b->len = (size_t)BN_bn2bin(bn, b->data);
	return CR_OK;
}

/* Copies a DER encoding made by OpenSSL into a malloc'd buffer. */
static int set_i2d_pubkey(struct cr_bytes *b, const X509_PUBKEY *xpk)
{
	int len = i2d_X509_PUBKEY(xpk, NULL);
	unsigned char *p;

	if (len <= 0)
		return CR_E_INTERNAL;
	b->data = malloc((size_t)len);
	if (b->data == NULL)
		return CR_E_MEMORY;
	p = b->data;
	b->len = (size_t)i2d_X509_PUBKEY(xpk, &p);
	return CR_OK;
}

static int fill_rsa(EVP_PKEY *pkey, struct cr_pubkey *out)
{
	BIGNUM *n = NULL, *e = NULL;
	int rc = CR_E_DATA;

	if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e))
		goto out;
	rc = set_bignum(&out->modulus, n);
	if (rc == CR_OK)
		rc = set_bignum(&out->exponent, e);
	out->type = CR_KEY_RSA;
out:
	BN_free(n);
	BN_free(e);
	return rc;
}

/* A named-curve EC key: the OID as parameters and the point in uncompressed form. */
static int fill_ec(const X509_ALGOR *alg, const uint8_t *pk, size_t pk_len, struct cr_pubkey *out)
{
	const ASN1_OBJECT *curve_obj;
	const void *pval;
	int ptype, der_len;
	unsigned char *der = NULL, *p;
	EC_GROUP *group = NULL;
	EC_POINT *point = NULL;
	uint8_t buf[1 + 2 * CR_EC_MAX_FIELD_SIZE];
	size_t buf_len;
	int rc = CR_E_UNSUPPORTED;

	X509_ALGOR_get0(NULL, &ptype, &pval, alg);
	if (ptype != V_ASN1_OBJECT)
		goto out; /* explicit or implicit curve parameters */
	curve_obj = pval;
	der_len = i2d_ASN1_OBJECT(curve_obj, NULL);
	if (der_len <= 0)
		goto out;
	der = malloc((size_t)der_len);
	rc = CR_E_MEMORY;
	if (der == NULL)
		goto out;
	p = der;
	i2d_ASN1_OBJECT(curve_obj, &p);
	if (cr_curve_from_params(der, (size_t)der_len, &out->curve) != CR_OK)
		out->curve = CR_CURVE_NONE;
	out->ec_params.data = der;
	out->ec_params.len = (size_t)der_len;
	der = NULL;

	rc = CR_E_UNSUPPORTED;
	group = EC_GROUP_new_by_curve_name_ex(cr_libctx(), NULL, OBJ_obj2nid(curve_obj));
	if (group == NULL)
		goto out;
	rc = CR_E_DATA;
	point = EC_POINT_new(group);
	if (point == NULL || !EC_POINT_oct2point(group, point, pk, pk_len, NULL))
		goto out;
	buf_len = EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, buf, sizeof(buf), NULL);
	if (buf_len == 0)
		goto out;
	rc = set_octet_string(&out->ec_point, buf, buf_len);
	out->type = CR_KEY_EC;
out:
	free(der);
	EC_POINT_free(point);
	EC_GROUP_free(group);
	return rc;
}

/* An Ed25519 or X25519 key: the curve's OID as parameters, the 32 bytes as the point. */
static int fill_25519(enum cr_key_type type, enum cr_curve curve, const uint8_t *pk, size_t pk_len,
		      struct cr_pubkey *out)
{
	const uint8_t *oid;
	size_t oid_len;
	int rc;

	if (pk_len != KEY_25519_SIZE)
		return CR_E_DATA;
	out->type = type;
	out->curve = curve;
	rc = cr_curve_params(curve, &oid, &oid_len);
	if (rc == CR_OK)
		rc = set_bytes(&out->ec_params, oid, oid_len);
	if (rc == CR_OK)
		rc = set_octet_string(&out->ec_point, pk, pk_len);
	return rc;
}

/*
 * A public key is a whole number of bytes, whatever its type. A BIT STRING
 * that declares unused bits has OpenSSL clear them and hand back another
 * key than the one encoded (an Ed25519 key is any 32 bytes, so nothing else
 * would notice). The count is read from the DER the key re-encodes to,
 * which keeps it, so certificates and bare keys are judged alike.
 */
static int check_whole_bytes(const struct cr_bytes *spki)
{
	struct cr_der outer = { spki->data, spki->len }, inner;
	const uint8_t *val, *key;
	size_t val_len, key_len;

	if (cr_der_expect(&outer, CR_DER_SEQUENCE, &val, &val_len) != CR_OK)
		return CR_E_DATA;
	inner = (struct cr_der){ val, val_len };
	if (cr_der_expect(&inner, CR_DER_SEQUENCE, &val, &val_len) != CR_OK ||
	    cr_der_expect(&inner, CR_DER_BIT_STRING, &key, &key_len) != CR_OK)
		return CR_E_DATA;
	return key_len >= 1 && key[0] == 0 ? CR_OK : CR_E_DATA;
}

static int fill_pubkey(X509_PUBKEY *xpk, struct cr_pubkey *out)
{
	ASN1_OBJECT *alg_obj;
	const unsigned char *pk;
	int pk_len, nid, rc;
	X509_ALGOR *alg;
	EVP_PKEY *pkey;

	rc = set_i2d_pubkey(&out->spki, xpk);
	if (rc == CR_OK)
		rc = check_whole_bytes(&out->spki);
	if (rc != CR_OK)
		return rc;
	if (!X509_PUBKEY_get0_param(&alg_obj, &pk, &pk_len, &alg, xpk) || pk_len < 0)
		return CR_E_DATA;
	nid = OBJ_obj2nid(alg_obj);
	if (nid != NID_rsaEncryption && nid != NID_rsassaPss && nid != NID_X9_62_id_ecPublicKey &&
	    nid != NID_ED25519 && nid != NID_X25519)
		return CR_E_UNSUPPORTED;
	/* Decoding the key checks it: RSA numbers well formed, EC points on the curve. */
	pkey = cr_pkey_from_spki(out->spki.data, out->spki.len);
	if (pkey == NULL)
		return CR_E_DATA;
	out->bits = (size_t)EVP_PKEY_get_bits(pkey);
	if (nid == NID_X9_62_id_ecPublicKey)
		rc = fill_ec(alg, pk, (size_t)pk_len, out);
	else if (nid == NID_ED25519)
		rc = fill_25519(CR_KEY_ED25519, CR_CURVE_ED25519, pk, (size_t)pk_len, out);
	else if (nid == NID_X25519)
		rc = fill_25519(CR_KEY_X25519, CR_CURVE_X25519, pk, (size_t)pk_len, out);
	else
		rc = fill_rsa(pkey, out);
	EVP_PKEY_free(pkey);
	return rc;
}

/*
 * OpenSSL's decoder tolerates some BER (long-form lengths that could be
 * short, for one). Insisting that the input is one element whose length
 * is minimal and covers all of it rejects those at the outer level and
 * trailing bytes after it.
 */
static int check_single_der_element(const uint8_t *der, size_t len)
{
	struct cr_der r = { der, len };
	const uint8_t *val;
	size_t val_len;
	uint8_t tag;

	if (cr_der_read(&r, &tag, &val, &val_len) != CR_OK || tag != CR_DER_SEQUENCE || r.left != 0)
		return CR_E_DATA;
	return CR_OK;
}

/*
 * Decodes der, which must be one DER element, with decode(), which creates
 * the object in our library context and stores it through obj; decoding has
 * to consume every byte.
 */
static int decode_whole(const uint8_t *der, size_t len, int (*decode)(const unsigned char **p, long len, void *obj),
			void *obj)
{
	const unsigned char *p = der;
	int rc;

	if (check_single_der_element(der, len) != CR_OK)
		return CR_E_DATA;
	rc = decode(&p, (long)len, obj);
	if (rc == CR_OK && (size_t)(p - der) != len)
		rc = CR_E_DATA;
	return rc;
}

static int decode_x509_pubkey(const unsigned char **p, long len, void *obj)
{
	X509_PUBKEY **xpk = obj;

	*xpk = X509_PUBKEY_new_ex(cr_libctx(), NULL);
	if (*xpk == NULL)
		return CR_E_MEMORY;
	/* On failure d2i frees the object it was given. */
	if (d2i_X509_PUBKEY(xpk, p, len) == NULL) {
		*xpk = NULL;
		return CR_E_DATA;
	}
	return CR_OK;
}

static int decode_x509(const unsigned char **p, long len, void *obj)
{
	X509 **x = obj;

	*x = X509_new_ex(cr_libctx(), NULL);
	if (*x == NULL)
		return CR_E_MEMORY;
	/* On failure d2i frees the object it was given. */
	if (d2i_X509(x, p, len) == NULL) {
		*x = NULL;
		return CR_E_DATA;
	}
	return CR_OK;
}

void cr_pubkey_clear(struct cr_pubkey *k)
{
	if (k == NULL)
		return;
	free_bytes(&k->modulus);
	free_bytes(&k->exponent);
	free_bytes(&k->ec_params);
	free_bytes(&k->ec_point);
	free_bytes(&k->spki);
	memset(k, 0, sizeof(*k));
}

int cr_spki_parse(const uint8_t *der, size_t len, struct cr_pubkey *out)
{
	X509_PUBKEY *xpk = NULL;
	int rc;

	if (der == NULL || out == NULL || len > LONG_MAX)
		return CR_E_ARGS;
	memset(out, 0, sizeof(*out));
	rc = decode_whole(der, len, decode_x509_pubkey, &xpk);
	if (rc == CR_OK)
		rc = fill_pubkey(xpk, out);
	X509_PUBKEY_free(xpk);
	if (rc != CR_OK)
		cr_pubkey_clear(out);
	return rc == CR_OK ? rc : cr_fail(rc);
}

static int set_name(struct cr_bytes *b, const X509_NAME *name)
{
	const unsigned char *der;
	size_t len;

	if (name == NULL || !X509_NAME_get0_der(name, &der, &len))
		return CR_E_DATA;
	return set_bytes(b, der, len);
}

static int set_serial(struct cr_bytes *b, const ASN1_INTEGER *serial)
{
	int len = i2d_ASN1_INTEGER(serial, NULL);
	unsigned char *p;

	if (len <= 0)
		return CR_E_DATA;
	b->data = malloc((size_t)len);
	if (b->data == NULL)
		return CR_E_MEMORY;
	p = b->data;
	b->len = (size_t)i2d_ASN1_INTEGER(serial, &p);
	return CR_OK;
}

/* The first commonName, in UTF-8; a name with an embedded NUL is left out. */
static int set_common_name(char **cn, const X509_NAME *name)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	int len;

	*cn = NULL;
	if (idx < 0)
		return CR_OK;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
	if (len < 0)
		return CR_E_DATA;
	if (memchr(utf8, 0, (size_t)len) == NULL) {
		*cn = malloc((size_t)len + 1);
		if (*cn == NULL) {
			OPENSSL_free(utf8);
			return CR_E_MEMORY;
		}
		memcpy(*cn, utf8, (size_t)len);
		(*cn)[len] = '\0';
	}
	OPENSSL_free(utf8);
	return CR_OK;
}

static void put_digits(char *out, int value, int count)
{
	for (int i = count - 1; i >= 0; i--) {
		out[i] = (char)('0' + value % 10);
		value /= 10;
	}
}

/* YYYYMMDD, the CK_DATE layout, from an ASN.1 UTCTime or GeneralizedTime. */
static int set_date(char out[9], const ASN1_TIME *t)
{
	struct tm tm;
	int year;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return CR_E_DATA;
	year = tm.tm_year + 1900;
	if (year < 0 || year > 9999)
		return CR_E_DATA;
	put_digits(out, year, 4);
	put_digits(out + 4, tm.tm_mon + 1, 2);
	put_digits(out + 6, tm.tm_mday, 2);
	out[8] = '\0';
	return CR_OK;
}

static const struct {
	uint32_t openssl;
	uint32_t ours;
} ku_map[] = {
	{ KU_DIGITAL_SIGNATURE, CR_KU_DIGITAL_SIGNATURE }, { KU_NON_REPUDIATION, CR_KU_NON_REPUDIATION },
	{ KU_KEY_ENCIPHERMENT, CR_KU_KEY_ENCIPHERMENT },   { KU_DATA_ENCIPHERMENT, CR_KU_DATA_ENCIPHERMENT },
	{ KU_KEY_AGREEMENT, CR_KU_KEY_AGREEMENT },         { KU_KEY_CERT_SIGN, CR_KU_KEY_CERT_SIGN },
	{ KU_CRL_SIGN, CR_KU_CRL_SIGN },                   { KU_ENCIPHER_ONLY, CR_KU_ENCIPHER_ONLY },
	{ KU_DECIPHER_ONLY, CR_KU_DECIPHER_ONLY },
};

static void set_key_usage(struct cr_cert *c, X509 *x)
{
	uint32_t ku = X509_get_key_usage(x);

	c->has_key_usage = ku != UINT32_MAX;
	c->key_usage = 0;
	if (!c->has_key_usage)
		return;
	for (size_t i = 0; i < sizeof(ku_map) / sizeof(ku_map[0]); i++)
		if (ku & ku_map[i].openssl)
			c->key_usage |= ku_map[i].ours;
}

/* Re-encodes the certificate: any difference means the input was not DER. */
static int check_reencodes(X509 *x, const uint8_t *der, size_t len)
{
	unsigned char *again = NULL;
	int again_len = i2d_X509(x, &again);
	int rc = CR_E_DATA;

	if (again_len > 0 && (size_t)again_len == len && memcmp(again, der, len) == 0)
		rc = CR_OK;
	OPENSSL_free(again);
	return rc;
}

static int fill_cert(X509 *x, struct cr_cert *out)
{
	int rc;

	/* Computing the extension cache also validates the extensions. */
	if (X509_get_extension_flags(x) & EXFLAG_INVALID)
		return CR_E_DATA;
	rc = set_name(&out->subject, X509_get_subject_name(x));
	if (rc == CR_OK)
		rc = set_name(&out->issuer, X509_get_issuer_name(x));
	if (rc == CR_OK)
		rc = set_serial(&out->serial, X509_get0_serialNumber(x));
	if (rc == CR_OK)
		rc = set_common_name(&out->cn, X509_get_subject_name(x));
	if (rc == CR_OK)
		rc = set_date(out->not_before, X509_get0_notBefore(x));
	if (rc == CR_OK)
		rc = set_date(out->not_after, X509_get0_notAfter(x));
	if (rc == CR_OK)
		rc = fill_pubkey(X509_get_X509_PUBKEY(x), &out->key);
	if (rc == CR_OK)
		set_key_usage(out, x);
	return rc;
}

void cr_cert_clear(struct cr_cert *c)
{
	if (c == NULL)
		return;
	free_bytes(&c->subject);
	free_bytes(&c->issuer);
	free_bytes(&c->serial);
	free(c->cn);
	cr_pubkey_clear(&c->key);
	memset(c, 0, sizeof(*c));
}

int cr_cert_parse(const uint8_t *der, size_t len, struct cr_cert *out)
{
	X509 *x = NULL;
	int rc;

	if (der == NULL || out == NULL || len > LONG_MAX)
		return CR_E_ARGS;
	memset(out, 0, sizeof(*out));
	rc = decode_whole(der, len, decode_x509, &x);
	if (rc == CR_OK && check_reencodes(x, der, len) != CR_OK)
		rc = CR_E_DATA;
	if (rc == CR_OK)
		rc = fill_cert(x, out);
	X509_free(x);
	if (rc != CR_OK)
		cr_cert_clear(out);
	return rc == CR_OK ? rc : cr_fail(rc);
}

/* Hands an EVP_PKEY's SubjectPublicKeyInfo to the caller in a malloc'd buffer. */
static int export_spki(EVP_PKEY *pkey, uint8_t **der, size_t *der_len)
{
	unsigned char *enc = NULL;
	int len = i2d_PUBKEY(pkey, &enc);
	int rc = CR_E_INTERNAL;

	if (len <= 0)
		goto out;
	rc = CR_E_MEMORY;
	*der = malloc((size_t)len);
	if (*der == NULL)
		goto out;
	memcpy(*der, enc, (size_t)len);
	*der_len = (size_t)len;
	rc = CR_OK;
out:
	OPENSSL_free(enc);
	return rc;
}

/*
 * Key types by their OIDs in dotted form, names only a provider's key
 * management knows. OpenSSL 3.0 maps a short name such as "RSA" or "EC" to
 * its legacy NID first, and a host that made an ENGINE the default for it
 * (openssl -engine pkcs11) then gets the engine's method instead of our
 * library context's key management, which cannot import key data.
 */
#define KEYTYPE_RSA "1.2.840.113549.1.1.1"
#define KEYTYPE_EC "1.2.840.10045.2.1"
#define KEYTYPE_ED25519 "1.3.101.112"
#define KEYTYPE_X25519 "1.3.101.110"

static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM *params)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(cr_libctx(), type, NULL);
	EVP_PKEY *pkey = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

int cr_spki_from_rsa(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, uint8_t **der,
		     size_t *der_len)
{
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pkey = NULL;
	int rc = CR_E_ARGS;

	if (n == NULL || e == NULL || der == NULL || der_len == NULL || n_len > INT_MAX || e_len > INT_MAX)
		return CR_E_ARGS;
	*der = NULL;
	*der_len = 0;
	rc = CR_E_MEMORY;
	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	bld = OSSL_PARAM_BLD_new();
	if (bn_n == NULL || bn_e == NULL || bld == NULL)
		goto out;
	rc = CR_E_DATA;
	if (BN_is_zero(bn_n) || BN_is_zero(bn_e))
		goto out;
	rc = CR_E_INTERNAL;
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto out;
	params = OSSL_PARAM_BLD_to_param(bld);
	if (params == NULL)
		goto out;
	rc = CR_E_DATA;
	pkey = pkey_from_params(KEYTYPE_RSA, params);
	if (pkey == NULL)
		goto out;
	rc = export_spki(pkey, der, der_len);
out:
	EVP_PKEY_free(pkey);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return rc == CR_OK ? rc : cr_fail(rc);
}

/* Accepts a raw point of the expected size, or a DER OCTET STRING holding one. */
static int unwrap_point(const uint8_t *point, size_t point_len, size_t raw_len, const uint8_t **raw)
{
	struct cr_der r = { point, point_len };
	const uint8_t *val;
	size_t val_len;

	if (point_len == raw_len) {
		*raw = point;
		return CR_OK;
	}
	if (cr_der_expect(&r, CR_DER_OCTET_STRING, &val, &val_len) != CR_OK || r.left != 0 || val_len != raw_len)
		return CR_E_DATA;
	*raw = val;
	return CR_OK;
}

static const char *group_name(enum cr_curve curve)
{
	switch (curve) {
	case CR_CURVE_P256: return "P-256";
	case CR_CURVE_P384: return "P-384";
	case CR_CURVE_P521: return "P-521";
	default: return NULL;
	}
}

int cr_spki_from_ec(enum cr_curve curve, const uint8_t *point, size_t point_len, uint8_t **der,
		    size_t *der_len)
{
	size_t field = cr_curve_field_size(curve);
	const char *raw_type = curve == CR_CURVE_ED25519   ? KEYTYPE_ED25519
			       : curve == CR_CURVE_X25519 ? KEYTYPE_X25519
							  : NULL;
	size_t raw_len = raw_type != NULL ? KEY_25519_SIZE : 2 * field + 1;
	uint8_t raw_copy[1 + 2 * CR_EC_MAX_FIELD_SIZE];
	const uint8_t *raw;
	EVP_PKEY *pkey = NULL;
	int rc;

	if (field == 0 || point == NULL || der == NULL || der_len == NULL)
		return CR_E_ARGS;
	*der = NULL;
	*der_len = 0;
	rc = unwrap_point(point, point_len, raw_len, &raw);
	if (rc != CR_OK)
		return rc;
	memcpy(raw_copy, raw, raw_len);
	rc = CR_E_DATA;
	if (raw_type != NULL) {
		OSSL_PARAM params[] = {
			OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, raw_copy, raw_len),
			OSSL_PARAM_END,
		};
		pkey = pkey_from_params(raw_type, params);
	} else {
		OSSL_PARAM params[] = {
			OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group_name(curve), 0),
			OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, raw_copy, raw_len),
			OSSL_PARAM_END,
		};
		/* Only the uncompressed form has the expected size; fromdata checks the curve. */
		if (raw_copy[0] == 0x04)
			pkey = pkey_from_params(KEYTYPE_EC, params);
	}
	if (pkey != NULL)
		rc = export_spki(pkey, der, der_len);
	EVP_PKEY_free(pkey);
	return rc == CR_OK ? rc : cr_fail(rc);
}
