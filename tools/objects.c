#include "tools/objects.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "crypto/ecdsa.h"
#include "crypto/p11uri.h"
#include "tools/tool.h"

/* Fills d and words it: "RSA 2048", "EC P-256", "Ed25519". */
static void set_desc(struct key_desc *d, const char *type, unsigned bits, const char *curve)
{
	memset(d, 0, sizeof(*d));
	d->type = type;
	d->bits = bits;
	d->curve = curve;
	if (strcmp(type, "rsa") == 0)
		snprintf(d->text, sizeof(d->text), "RSA %u", bits);
	else if (strcmp(type, "ec") == 0)
		snprintf(d->text, sizeof(d->text), "EC %s", curve);
	else if (strcmp(type, "ed25519") == 0)
		snprintf(d->text, sizeof(d->text), "Ed25519");
	else if (strcmp(type, "x25519") == 0)
		snprintf(d->text, sizeof(d->text), "X25519");
	else
		snprintf(d->text, sizeof(d->text), "unknown key type");
}

void key_desc_pubkey(const struct cr_pubkey *k, struct key_desc *d)
{
	switch (k->type) {
	case CR_KEY_RSA:
		set_desc(d, "rsa", (unsigned)k->bits, NULL);
		return;
	case CR_KEY_EC:
		set_desc(d, "ec", (unsigned)k->bits, cr_curve_name(k->curve));
		return;
	case CR_KEY_ED25519:
		set_desc(d, "ed25519", 256, NULL);
		return;
	case CR_KEY_X25519:
		set_desc(d, "x25519", 256, NULL);
		return;
	case CR_KEY_NONE:
		break;
	}
	set_desc(d, "unknown", 0, NULL);
}

static enum cr_curve object_curve(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	struct cr_bytes params;
	enum cr_curve curve = CR_CURVE_NONE;

	if (attr_read_rv(m, s, o, CKA_EC_PARAMS, &params) == CKR_OK && params.len > 0 &&
	    cr_curve_from_params(params.data, params.len, &curve) != CR_OK)
		curve = CR_CURVE_NONE;
	bytes_free(&params);
	return curve;
}

static unsigned object_modulus_bits(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	struct cr_bytes modulus;
	CK_ULONG bits = 0;

	if (!attr_ulong(m, s, o, CKA_MODULUS_BITS, &bits) && attr_read_rv(m, s, o, CKA_MODULUS, &modulus) == CKR_OK) {
		bits = modulus.len * 8;
		bytes_free(&modulus);
	}
	return (unsigned)bits;
}

void key_desc_object(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, struct key_desc *d)
{
	CK_ULONG type = CK_UNAVAILABLE_INFORMATION;
	enum cr_curve curve;

	if (!attr_ulong(m, s, o, CKA_KEY_TYPE, &type))
		type = CK_UNAVAILABLE_INFORMATION;
	switch (type) {
	case CKK_RSA:
		set_desc(d, "rsa", object_modulus_bits(m, s, o), NULL);
		return;
	case CKK_EC:
		curve = object_curve(m, s, o);
		set_desc(d, "ec", (unsigned)cr_curve_order_bits(curve), cr_curve_name(curve));
		return;
	case CKK_EC_EDWARDS:
		set_desc(d, "ed25519", 256, NULL);
		return;
	case CKK_EC_MONTGOMERY:
		set_desc(d, "x25519", 256, NULL);
		return;
	default:
		set_desc(d, "unknown", 0, NULL);
	}
}

static void name_text(const X509_NAME *name, char *out, size_t size)
{
	BIO *bio = BIO_new(BIO_s_mem());
	int n = 0;

	out[0] = '\0';
	if (bio == NULL)
		return;
	/* RFC 2253 escaping, UTF-8 left readable, in the certificate's order: "CN=Alice, O=Example". */
	if (X509_NAME_print_ex(bio, name, 0,
			       (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN |
				       XN_FLAG_DUMP_UNKNOWN_FIELDS) >= 0)
		n = BIO_read(bio, out, (int)size - 1);
	out[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
}

static void date_text(const ASN1_TIME *t, char *out, size_t size)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(out, size, "%Y-%m-%d", &tm) == 0)
		snprintf(out, size, "?");
}

int cert_info_read(const uint8_t *der, size_t len, struct cert_info *ci)
{
	const unsigned char *p = der;
	X509 *x;
	int days = 0, secs = 0;

	memset(ci, 0, sizeof(*ci));
	if (cr_cert_parse(der, len, &ci->cert) != CR_OK)
		return EXIT_ERROR;
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL) {
		cr_cert_clear(&ci->cert);
		return EXIT_ERROR;
	}
	name_text(X509_get_subject_name(x), ci->subject, sizeof(ci->subject));
	name_text(X509_get_issuer_name(x), ci->issuer, sizeof(ci->issuer));
	date_text(X509_get0_notBefore(x), ci->not_before, sizeof(ci->not_before));
	date_text(X509_get0_notAfter(x), ci->not_after, sizeof(ci->not_after));
	if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1)
		ci->days_left = days - (secs < 0 ? 1 : 0);
	key_desc_pubkey(&ci->cert.key, &ci->key);
	X509_free(x);
	return EXIT_OK;
}

void cert_info_clear(struct cert_info *ci)
{
	cr_cert_clear(&ci->cert);
}

static CK_RV spki_from_parts(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, uint8_t **spki,
			     size_t *spki_len)
{
	struct cr_bytes a = { 0 }, b = { 0 };
	enum cr_curve curve;
	CK_ULONG type;
	CK_RV rv = CKR_OK;
	int rc = CR_E_UNSUPPORTED;

	if (!attr_ulong(m, s, o, CKA_KEY_TYPE, &type))
		return CKR_OK;
	if (type == CKK_RSA) {
		rv = attr_read_rv(m, s, o, CKA_MODULUS, &a);
		if (rv == CKR_OK)
			rv = attr_read_rv(m, s, o, CKA_PUBLIC_EXPONENT, &b);
		if (rv == CKR_OK && a.len > 0 && b.len > 0)
			rc = cr_spki_from_rsa(a.data, a.len, b.data, b.len, spki, spki_len);
	} else if (type == CKK_EC || type == CKK_EC_EDWARDS) {
		rv = attr_read_rv(m, s, o, CKA_EC_PARAMS, &a);
		if (rv == CKR_OK)
			rv = attr_read_rv(m, s, o, CKA_EC_POINT, &b);
		if (rv == CKR_OK && a.len > 0 && b.len > 0 && cr_curve_from_params(a.data, a.len, &curve) == CR_OK)
			rc = cr_spki_from_ec(curve, b.data, b.len, spki, spki_len);
	}
	bytes_free(&a);
	bytes_free(&b);
	if (rv == CKR_OK && rc != CR_OK)
		*spki = NULL;
	return rv;
}

CK_RV object_pubkey_rv(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, struct cr_pubkey *k)
{
	struct cr_bytes info;
	uint8_t *spki = NULL;
	size_t spki_len = 0;
	CK_RV rv = attr_read_rv(m, s, o, CKA_PUBLIC_KEY_INFO, &info);

	memset(k, 0, sizeof(*k));
	if (rv != CKR_OK)
		return rv;
	if (info.len > 0 && cr_spki_parse(info.data, info.len, k) == CR_OK) {
		bytes_free(&info);
		return CKR_OK;
	}
	bytes_free(&info);
	rv = spki_from_parts(m, s, o, &spki, &spki_len);
	if (rv == CKR_OK && spki != NULL && cr_spki_parse(spki, spki_len, k) != CR_OK)
		memset(k, 0, sizeof(*k));
	free(spki);
	return rv;
}

static bool bytes_equal(const struct cr_bytes *a, const struct cr_bytes *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

bool pubkeys_equal(const struct cr_pubkey *a, const struct cr_pubkey *b)
{
	if (a->type == CR_KEY_NONE || a->type != b->type)
		return false;
	if (a->type == CR_KEY_RSA)
		return bytes_equal(&a->modulus, &b->modulus) && bytes_equal(&a->exponent, &b->exponent);
	return a->curve == b->curve && bytes_equal(&a->ec_point, &b->ec_point);
}

void object_uri(const struct token *tok, const uint8_t *id, size_t id_len, const char *type, char *out,
		size_t size)
{
	char label[3 * 32 + 1], serial[3 * 16 + 1], idtext[3 * 64 + 1];

	p11uri_encode(tok->label, strlen(tok->label), label, sizeof(label));
	p11uri_encode(tok->serial, strlen(tok->serial), serial, sizeof(serial));
	p11uri_encode(id, id_len < 64 ? id_len : 64, idtext, sizeof(idtext));
	snprintf(out, size, "pkcs11:token=%s;serial=%s;id=%s;type=%s", label, serial, idtext, type);
}
