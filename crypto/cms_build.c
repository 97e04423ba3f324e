#include "crypto/cms_build.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cr.h"
#include "crypto/der.h"
#include "crypto/digest.h"
#include "crypto/ecdsa.h"
#include "crypto/verify.h"
#include "crypto/x509.h"

#define CR_DER_SET 0x31
#define CR_DER_UTC_TIME 0x17
#define CR_DER_GENERALIZED_TIME 0x18
#define CR_DER_CONTEXT_0 0xa0

/* PKCS#7 / PKCS#9 object identifiers, DER-encoded with tag and length. */
static const uint8_t oid_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01 };
static const uint8_t oid_signed_data[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02 };
static const uint8_t oid_content_type[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03 };
static const uint8_t oid_message_digest[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04 };
static const uint8_t oid_signing_time[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x05 };
static const uint8_t version_1[] = { 0x02, 0x01, 0x01 };
/* id-sha512 with its parameters absent, as RFC 8419 wants beside Ed25519. */
static const uint8_t algid_sha512_no_params[] = { 0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48,
						  0x01, 0x65, 0x03, 0x04, 0x02, 0x03 };

struct part {
	const uint8_t *p;
	size_t len;
};

#define PART(x) { (x), sizeof(x) }
#define BYTES(b) { (b).data, (b).len }

/* One DER element: tag, length, then the parts one after the other. */
static int wrap(uint8_t tag, const struct part *parts, size_t n, struct cr_bytes *out)
{
	size_t body = 0, pos;

	for (size_t i = 0; i < n; i++)
		body += parts[i].len;
	out->len = cr_der_header_size(body) + body;
	out->data = malloc(out->len);
	if (out->data == NULL)
		return CR_E_MEMORY;
	pos = cr_der_put_header(out->data, tag, body);
	for (size_t i = 0; i < n; i++) {
		if (parts[i].len > 0)
			memcpy(out->data + pos, parts[i].p, parts[i].len);
		pos += parts[i].len;
	}
	return CR_OK;
}

static void free_all(struct cr_bytes *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(b[i].data);
		b[i].data = NULL;
	}
}

/* The AlgorithmIdentifier of a hash, the first element inside its DigestInfo prefix. */
static int digest_alg_id(enum cr_hash h, struct part *out)
{
	const uint8_t *prefix, *val;
	size_t prefix_len, len;
	uint8_t tag;
	struct cr_der r;

	if (cr_digestinfo_prefix(h, &prefix, &prefix_len) != CR_OK || prefix_len < 2)
		return CR_E_ARGS;
	/* The prefix opens a SEQUENCE whose two-byte header it carries; the AlgorithmIdentifier follows. */
	r = (struct cr_der){ prefix + 2, prefix_len - 2 };
	if (cr_der_read(&r, &tag, &val, &len) != CR_OK || tag != CR_DER_SEQUENCE)
		return CR_E_INTERNAL;
	out->p = prefix + 2;
	out->len = (size_t)(val + len - out->p);
	return CR_OK;
}

/* UTCTime for 1950 to 2049 as RFC 5652 11.3 requires, GeneralizedTime otherwise. */
static int time_value(time_t t, uint8_t *out, size_t *len)
{
	struct tm tm;
	char text[20];
	bool utc;
	int n;

	if (gmtime_r(&t, &tm) == NULL)
		return CR_E_ARGS;
	utc = tm.tm_year >= 50 && tm.tm_year < 150;
	n = snprintf(text, sizeof(text), "%0*d%02d%02d%02d%02d%02dZ", utc ? 2 : 4,
		     utc ? tm.tm_year % 100 : tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		     tm.tm_sec);
	if (n <= 0 || (size_t)n >= sizeof(text) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0)
		return CR_E_ARGS;
	*len = cr_der_put_header(out, utc ? CR_DER_UTC_TIME : CR_DER_GENERALIZED_TIME, (size_t)n);
	memcpy(out + *len, text, (size_t)n);
	*len += (size_t)n;
	return CR_OK;
}

/* Attribute ::= SEQUENCE { type OID, values SET { value } } */
static int attribute(const uint8_t *oid, size_t oid_len, const uint8_t *value, size_t value_len,
		     struct cr_bytes *out)
{
	struct part v = { value, value_len };
	struct cr_bytes set;
	int rc = wrap(CR_DER_SET, &v, 1, &set);

	if (rc == CR_OK) {
		struct part parts[] = { { oid, oid_len }, BYTES(set) };

		rc = wrap(CR_DER_SEQUENCE, parts, 2, out);
	}
	free(set.data);
	return rc;
}

/* X.690 11.6: a SET OF is ordered by its elements' encodings, shorter ones padded with zeros. */
static int der_order(const void *a, const void *b)
{
	const struct cr_bytes *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->data, y->data, n);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* The signed attributes, as the SET the signature covers (the SignerInfo tags it [0] instead). */
static int signed_attributes(const struct cr_cms_request *req, struct cr_bytes *out)
{
	uint8_t ts[24], hash[2 + CR_HASH_MAX_SIZE];
	size_t ts_len = 0, hash_len;
	struct cr_bytes attrs[3] = { { 0 } };
	struct part parts[3];
	int rc = time_value(req->signing_time, ts, &ts_len);

	hash_len = cr_der_put_header(hash, CR_DER_OCTET_STRING, req->content_hash_len);
	memcpy(hash + hash_len, req->content_hash, req->content_hash_len);
	hash_len += req->content_hash_len;
	if (rc == CR_OK)
		rc = attribute(oid_content_type, sizeof(oid_content_type), oid_data, sizeof(oid_data), &attrs[0]);
	if (rc == CR_OK)
		rc = attribute(oid_signing_time, sizeof(oid_signing_time), ts, ts_len, &attrs[1]);
	if (rc == CR_OK)
		rc = attribute(oid_message_digest, sizeof(oid_message_digest), hash, hash_len, &attrs[2]);
	if (rc == CR_OK) {
		qsort(attrs, 3, sizeof(attrs[0]), der_order);
		for (size_t i = 0; i < 3; i++)
			parts[i] = (struct part)BYTES(attrs[i]);
		rc = wrap(CR_DER_SET, parts, 3, out);
	}
	free_all(attrs, 3);
	return rc;
}

static bool alg_fits_key(enum cr_sig_alg alg, enum cr_key_type type)
{
	if (alg == CR_SIG_RSA_PKCS1_SHA256 || alg == CR_SIG_RSA_PSS_SHA256)
		return type == CR_KEY_RSA;
	if (alg == CR_SIG_ED25519)
		return type == CR_KEY_ED25519;
	return type == CR_KEY_EC;
}

/* The digestAlgorithm of the SignerInfo and of the SignedData's digest set. */
static int signer_digest_alg(enum cr_sig_alg alg, struct part *out)
{
	if (alg == CR_SIG_ED25519) {
		*out = (struct part)PART(algid_sha512_no_params);
		return CR_OK;
	}
	return digest_alg_id(cr_sig_alg_hash(alg), out);
}

static enum cr_sig_scheme scheme_of(enum cr_sig_alg alg)
{
	if (alg == CR_SIG_RSA_PKCS1_SHA256)
		return CR_SCHEME_RSA_PKCS1;
	return alg == CR_SIG_RSA_PSS_SHA256 ? CR_SCHEME_RSA_PSS : CR_SCHEME_ECDSA;
}

/* Signs the attributes and checks the answer with the certificate's key. */
static int sign_attributes(const struct cr_cms_request *req, const struct cr_cert *cert,
			   const struct cr_bytes *attrs, uint8_t *sig, size_t *sig_len)
{
	enum cr_hash h = cr_sig_alg_hash(req->alg);
	uint8_t hash[CR_HASH_MAX_SIZE];
	size_t hash_len = sizeof(hash), field = cert->key.type == CR_KEY_EC ? (cert->key.bits + 7) / 8 : 0;
	int rc = cr_sig_value(req->sign, req->sign_ctx, req->alg, field, attrs->data, attrs->len, sig, sig_len);

	/* PureEdDSA signs the attributes themselves, not their hash (RFC 8419). */
	if (rc == CR_OK && req->alg == CR_SIG_ED25519)
		return cr_verify_ed25519(cert->key.spki.data, cert->key.spki.len, attrs->data, attrs->len, sig,
					 *sig_len) == CR_OK ? CR_OK : CR_E_SIGN;
	if (rc == CR_OK)
		rc = cr_hash_once(h, attrs->data, attrs->len, hash, &hash_len);
	if (rc == CR_OK && cr_verify_hash(cert->key.spki.data, cert->key.spki.len, scheme_of(req->alg), h, hash,
					  hash_len, sig, *sig_len) != CR_OK)
		rc = CR_E_SIGN;
	return rc;
}

/* The signed attributes' SET content, to carry under the SignerInfo's implicit [0] tag. */
static int retag_context_0(const struct cr_bytes *set, struct cr_bytes *out)
{
	struct cr_der r = { set->data, set->len };
	struct part body;
	uint8_t tag;

	if (cr_der_read(&r, &tag, &body.p, &body.len) != CR_OK)
		return CR_E_INTERNAL;
	return wrap(CR_DER_CONTEXT_0, &body, 1, out);
}

/* SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature } */
static int signer_info(const struct cr_cms_request *req, const struct cr_cert *cert, const struct part *digest_alg,
		       struct cr_bytes *out)
{
	uint8_t sig[CR_SIG_MAX_SIZE];
	size_t sig_len = sizeof(sig), sig_alg_len;
	const uint8_t *sig_alg;
	struct cr_bytes attrs = { 0 }, sid = { 0 }, tagged = { 0 }, sig_value = { 0 };
	struct part sid_parts[] = { BYTES(cert->issuer), BYTES(cert->serial) };
	int rc = cr_sig_alg_id(req->alg, &sig_alg, &sig_alg_len);

	if (rc == CR_OK)
		rc = signed_attributes(req, &attrs);
	if (rc == CR_OK)
		rc = sign_attributes(req, cert, &attrs, sig, &sig_len);
	if (rc == CR_OK)
		rc = wrap(CR_DER_OCTET_STRING, &(struct part){ sig, sig_len }, 1, &sig_value);
	if (rc == CR_OK)
		rc = wrap(CR_DER_SEQUENCE, sid_parts, 2, &sid);
	if (rc == CR_OK)
		rc = retag_context_0(&attrs, &tagged);
	if (rc == CR_OK) {
		struct part parts[] = { PART(version_1),	 BYTES(sid),	   *digest_alg,
					BYTES(tagged), { sig_alg, sig_alg_len }, BYTES(sig_value) };

		rc = wrap(CR_DER_SEQUENCE, parts, 6, out);
	}
	free(attrs.data);
	free(sid.data);
	free(tagged.data);
	free(sig_value.data);
	return rc;
}

static int check_request(const struct cr_cms_request *req, uint8_t **der, size_t *der_len)
{
	const uint8_t *algid;
	size_t algid_len;

	if (req == NULL || der == NULL || der_len == NULL || req->cert == NULL || req->content_hash == NULL ||
	    req->sign == NULL)
		return CR_E_ARGS;
	*der = NULL;
	*der_len = 0;
	if (cr_sig_alg_id(req->alg, &algid, &algid_len) != CR_OK ||
	    req->content_hash_len != cr_hash_size(cr_sig_alg_hash(req->alg)))
		return CR_E_ARGS;
	return CR_OK;
}

int cr_cms_build_detached(const struct cr_cms_request *req, uint8_t **der, size_t *der_len)
{
	struct cr_cert cert;
	struct cr_bytes b[6] = { { 0 } }; /* digest set, encap, certificates, signer info, signer set, signed data */
	struct cr_bytes *digests = &b[0], *encap = &b[1], *certs = &b[2], *si = &b[3], *sis = &b[4], *sd = &b[5];
	struct cr_bytes ci = { 0 }, tagged_sd = { 0 };
	struct part digest_alg;
	int rc = check_request(req, der, der_len);

	if (rc != CR_OK)
		return rc;
	rc = cr_cert_parse(req->cert, req->cert_len, &cert);
	if (rc != CR_OK)
		return rc == CR_E_UNSUPPORTED ? CR_E_ARGS : CR_E_DATA;
	rc = alg_fits_key(req->alg, cert.key.type) ? signer_digest_alg(req->alg, &digest_alg) : CR_E_ARGS;
	if (rc == CR_OK)
		rc = wrap(CR_DER_SET, &digest_alg, 1, digests);
	if (rc == CR_OK)
		rc = wrap(CR_DER_SEQUENCE, &(struct part)PART(oid_data), 1, encap); /* detached: no eContent */
	if (rc == CR_OK)
		rc = wrap(CR_DER_CONTEXT_0, &(struct part){ req->cert, req->cert_len }, 1, certs);
	if (rc == CR_OK)
		rc = signer_info(req, &cert, &digest_alg, si);
	if (rc == CR_OK)
		rc = wrap(CR_DER_SET, &(struct part)BYTES(*si), 1, sis);
	if (rc == CR_OK) {
		struct part parts[] = { PART(version_1), BYTES(*digests), BYTES(*encap), BYTES(*certs), BYTES(*sis) };

		rc = wrap(CR_DER_SEQUENCE, parts, 5, sd);
	}
	if (rc == CR_OK)
		rc = wrap(CR_DER_CONTEXT_0, &(struct part)BYTES(*sd), 1, &tagged_sd);
	if (rc == CR_OK) {
		struct part parts[] = { PART(oid_signed_data), BYTES(tagged_sd) };

		rc = wrap(CR_DER_SEQUENCE, parts, 2, &ci);
	}
	free_all(b, 6);
	free(tagged_sd.data);
	cr_cert_clear(&cert);
	if (rc != CR_OK)
		return rc;
	*der = ci.data;
	*der_len = ci.len;
	return CR_OK;
}

/* ---- checking an Ed25519 SignedData ---- */

#define CR_DER_CONTEXT_1 0xa1

/* Moves r into the value of the next element, which must carry tag. */
static int der_enter(struct cr_der *r, uint8_t tag)
{
	const uint8_t *val;
	size_t len;
	int rc = cr_der_expect(r, tag, &val, &len);

	if (rc == CR_OK)
		*r = (struct cr_der){ val, len };
	return rc;
}

static int der_skip(struct cr_der *r, uint8_t tag)
{
	const uint8_t *val;
	size_t len;

	return cr_der_expect(r, tag, &val, &len);
}

/* The element at r as a part (tag and length included), r moving past it. */
static int der_element(struct cr_der *r, struct part *out)
{
	const uint8_t *start = r->p, *val;
	size_t len;
	uint8_t tag;
	int rc = cr_der_read(r, &tag, &val, &len);

	if (rc == CR_OK)
		*out = (struct part){ start, (size_t)(val + len - start) };
	return rc;
}

static bool part_is(const struct part *p, const uint8_t *want, size_t len)
{
	return p->len == len && memcmp(p->p, want, len) == 0;
}

/* What an Ed25519 SignerInfo check needs, pointing into the DER. */
struct ed_signer {
	struct part cert;   /* the first certificate carried, if any */
	struct part attrs;  /* the [0] signed attributes' value */
	struct part digest; /* the messageDigest value */
	struct part sig;
};

static int find_message_digest(struct ed_signer *e)
{
	struct cr_der r = { e->attrs.p, e->attrs.len };
	int rc = CR_E_DATA;

	while (r.left > 0) {
		struct part element, oid;
		struct cr_der attr;
		const uint8_t *val;
		size_t len;

		if (der_element(&r, &element) != CR_OK)
			return CR_E_DATA;
		attr = (struct cr_der){ element.p, element.len };
		if (der_enter(&attr, CR_DER_SEQUENCE) != CR_OK || der_element(&attr, &oid) != CR_OK)
			return CR_E_DATA;
		if (!part_is(&oid, oid_message_digest, sizeof(oid_message_digest)))
			continue;
		if (der_enter(&attr, CR_DER_SET) != CR_OK ||
		    cr_der_expect(&attr, CR_DER_OCTET_STRING, &val, &len) != CR_OK)
			return CR_E_DATA;
		e->digest = (struct part){ val, len };
		rc = CR_OK;
	}
	return rc;
}

/* SignerInfo ::= SEQUENCE { version, sid, digestAlgorithm, [0] signedAttrs, signatureAlgorithm, signature } */
static int read_signer_info(struct cr_der *r, struct ed_signer *e)
{
	struct part sid, digest_alg, sig_alg;
	const uint8_t *val, *ed25519;
	size_t len, ed25519_len;

	if (der_enter(r, CR_DER_SEQUENCE) != CR_OK || der_skip(r, CR_DER_INTEGER) != CR_OK ||
	    der_element(r, &sid) != CR_OK || der_element(r, &digest_alg) != CR_OK ||
	    cr_der_expect(r, CR_DER_CONTEXT_0, &val, &len) != CR_OK)
		return CR_E_DATA;
	e->attrs = (struct part){ val, len };
	if (der_element(r, &sig_alg) != CR_OK || cr_der_expect(r, CR_DER_OCTET_STRING, &val, &len) != CR_OK)
		return CR_E_DATA;
	e->sig = (struct part){ val, len };
	if (cr_sig_alg_id(CR_SIG_ED25519, &ed25519, &ed25519_len) != CR_OK || !part_is(&sig_alg, ed25519, ed25519_len))
		return CR_E_UNSUPPORTED;
	return find_message_digest(e);
}

/* ContentInfo { signedData, [0] SignedData { version, digests, encap, [0] certs?, [1] crls?, signerInfos } } */
static int read_signed_data(const uint8_t *cms, size_t len, struct ed_signer *e)
{
	struct cr_der r = { cms, len }, certs;
	struct part oid;
	const uint8_t *val;
	size_t n;
	uint8_t tag;

	memset(e, 0, sizeof(*e));
	if (der_enter(&r, CR_DER_SEQUENCE) != CR_OK || der_element(&r, &oid) != CR_OK ||
	    !part_is(&oid, oid_signed_data, sizeof(oid_signed_data)) || der_enter(&r, CR_DER_CONTEXT_0) != CR_OK ||
	    der_enter(&r, CR_DER_SEQUENCE) != CR_OK || der_skip(&r, CR_DER_INTEGER) != CR_OK ||
	    der_skip(&r, CR_DER_SET) != CR_OK || der_skip(&r, CR_DER_SEQUENCE) != CR_OK)
		return CR_E_DATA;
	if (r.left > 0 && r.p[0] == CR_DER_CONTEXT_0) {
		if (cr_der_read(&r, &tag, &val, &n) != CR_OK)
			return CR_E_DATA;
		certs = (struct cr_der){ val, n };
		if (n > 0 && der_element(&certs, &e->cert) != CR_OK)
			return CR_E_DATA;
	}
	if (r.left > 0 && r.p[0] == CR_DER_CONTEXT_1 && cr_der_read(&r, &tag, &val, &n) != CR_OK)
		return CR_E_DATA;
	if (der_enter(&r, CR_DER_SET) != CR_OK)
		return CR_E_DATA;
	return read_signer_info(&r, e);
}

int cr_cms_verify_ed25519(const uint8_t *cms, size_t cms_len, const uint8_t *content_hash, size_t hash_len,
			  const uint8_t *cert, size_t cert_len, struct cr_bytes *signer)
{
	struct cr_bytes attrs = { 0 };
	struct cr_cert parsed = { 0 };
	struct ed_signer e;
	int rc;

	if (cms == NULL || content_hash == NULL || signer == NULL)
		return CR_E_ARGS;
	*signer = (struct cr_bytes){ 0 };
	rc = read_signed_data(cms, cms_len, &e);
	if (rc != CR_OK)
		return rc;
	if (cert == NULL) {
		cert = e.cert.p;
		cert_len = e.cert.len;
	}
	if (cert == NULL || cr_cert_parse(cert, cert_len, &parsed) != CR_OK)
		return CR_E_DATA;
	rc = parsed.key.type == CR_KEY_ED25519 ? CR_OK : CR_E_SIGNATURE;
	/* The signature covers the attributes as a SET, not under the [0] tag they travel with. */
	if (rc == CR_OK)
		rc = wrap(CR_DER_SET, &e.attrs, 1, &attrs);
	if (rc == CR_OK)
		rc = cr_verify_ed25519(parsed.key.spki.data, parsed.key.spki.len, attrs.data, attrs.len, e.sig.p,
				       e.sig.len);
	if (rc == CR_OK && (e.digest.len != hash_len || memcmp(e.digest.p, content_hash, hash_len) != 0))
		rc = CR_E_SIGNATURE;
	if (rc == CR_E_SIGNATURE_LEN)
		rc = CR_E_SIGNATURE;
	if (rc == CR_OK) {
		signer->data = malloc(cert_len);
		if (signer->data == NULL)
			rc = CR_E_MEMORY;
		else
			memcpy(signer->data, cert, cert_len);
		signer->len = rc == CR_OK ? cert_len : 0;
	}
	free(attrs.data);
	cr_cert_clear(&parsed);
	return rc;
}
