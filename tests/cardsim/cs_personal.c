/* A new card's contents: the attestation key and certificate every YubiKey
 * carries, the "default" personalisation used by tests/with-card, and the
 * YubiKey ATTEST command. */
#include <string.h>

#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "apdu/piv.h"
#include "crypto/wipe.h"
#include "tests/cardsim/cardsim.h"

#define TAG_ATTEST_CERT 0x5FFF01

/* The FASC-N yubico-piv-tool writes into every CHUID. */
static const uint8_t fascn[25] = { 0xD4, 0xE7, 0x39, 0xDA, 0x73, 0x9C, 0xED, 0x39, 0xCE, 0x73, 0x9D, 0x83, 0x68,
				   0x58, 0x21, 0x08, 0x42, 0x10, 0x84, 0x21, 0xC8, 0x42, 0x10, 0xC3, 0xEB };

static int set_name(X509_NAME *name, const char *cn)
{
	return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) == 1 ? 0
														 : -1;
}

static int random_serial(X509 *x)
{
	uint8_t b[16];
	BIGNUM *bn;
	int rc = -1;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[0] &= 0x7F;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		rc = 0;
	BN_free(bn);
	return rc;
}

/* An unsigned certificate for subject_key named cn, issued by issuer (NULL: itself). */
static X509 *make_cert(EVP_PKEY *subject_key, const char *cn, const X509_NAME *issuer)
{
	X509 *x = X509_new();

	if (x == NULL || X509_set_version(x, 2) != 1 || random_serial(x) != 0)
		goto fail;
	if (set_name(X509_get_subject_name(x), cn) != 0)
		goto fail;
	if (X509_set_issuer_name(x, issuer != NULL ? issuer : X509_get_subject_name(x)) != 1)
		goto fail;
	if (X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 24 * 3600) == NULL)
		goto fail;
	if (X509_set_pubkey(x, subject_key) != 1)
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

static int sign_cert(X509 *x, EVP_PKEY *signer)
{
	const EVP_MD *md = EVP_PKEY_get_base_id(signer) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();

	return X509_sign(x, signer, md) > 0 ? 0 : -1;
}

/* Stores a built object, then frees the builder. Returns 0 or -1. */
static int store_built(struct cs_card *c, uint32_t tag, struct buf *o)
{
	int rc = buf_ok(o) && cs_object_set(c, tag, o->d, o->len) == 0 ? 0 : -1;

	buf_free(o);
	return rc;
}

/* Stores a certificate in its PIV container: 53 { 70 cert, 71 00, FE 00 }. */
static int store_cert(struct cs_card *c, uint32_t tag, X509 *x)
{
	unsigned char *der = NULL;
	struct buf o;
	size_t mark;
	uint8_t info = 0;
	int n, rc = -1;

	n = i2d_X509(x, &der);
	if (n <= 0)
		goto out;
	buf_init(&o);
	mark = tlv_open(&o, 0x53);
	tlv_put(&o, 0x70, der, (size_t)n);
	tlv_put(&o, 0x71, &info, 1);
	tlv_put(&o, 0xFE, NULL, 0);
	tlv_close(&o, mark);
	rc = store_built(c, tag, &o);
out:
	OPENSSL_free(der);
	return rc;
}

/* The attestation certificate issues the per-slot ones, so it is a CA. */
static int mark_as_ca(X509 *x)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
	int rc = ext != NULL && X509_add_ext(x, ext, -1) == 1 ? 0 : -1;

	X509_EXTENSION_free(ext);
	return rc;
}

static int personalize_slot(struct cs_card *c, uint8_t slot, uint8_t alg, uint32_t cert_tag, const char *cn)
{
	struct cs_key *k = &c->keys[slot];
	EVP_PKEY *pkey = cs_key_generate(alg);
	X509 *x = NULL;
	int rc = -1;

	if (pkey == NULL)
		goto out;
	cs_key_clear(k);
	*k = (struct cs_key){ true, alg, cs_default_pin_policy(slot), PIV_TOUCH_POLICY_NEVER, ORIGIN_GENERATED, pkey };
	x = make_cert(pkey, cn, NULL);
	if (x == NULL || (slot == PIV_SLOT_ATTEST && mark_as_ca(x) != 0))
		goto out;
	if (sign_cert(x, pkey) != 0 || store_cert(c, cert_tag, x) != 0)
		goto out;
	rc = 0;
out:
	X509_free(x);
	return rc;
}

static int store_chuid(struct cs_card *c)
{
	uint8_t guid[16];
	struct buf o;
	size_t mark;

	if (RAND_bytes(guid, sizeof(guid)) != 1)
		return -1;
	buf_init(&o);
	mark = tlv_open(&o, 0x53);
	tlv_put(&o, 0x30, fascn, sizeof(fascn));
	tlv_put(&o, 0x34, guid, sizeof(guid));
	tlv_put(&o, 0x35, "20300101", 8);
	tlv_put(&o, 0x3E, NULL, 0);
	tlv_put(&o, 0xFE, NULL, 0);
	tlv_close(&o, mark);
	return store_built(c, PIV_OBJ_CHUID, &o);
}

static int store_ccc(struct cs_card *c)
{
	static const uint8_t tail[] = { 0xF1, 0x01, 0x21, 0xF2, 0x01, 0x21, 0xF3, 0x00, 0xF4, 0x01, 0x00, 0xF5,
					0x01, 0x10, 0xF6, 0x00, 0xF7, 0x00, 0xFA, 0x00, 0xFB, 0x00, 0xFC, 0x00,
					0xFD, 0x00, 0xFE, 0x00 };
	uint8_t id[21] = { 0xA0, 0x00, 0x00, 0x01, 0x16, 0xFF, 0x02 };
	struct buf o;
	size_t mark;

	if (RAND_bytes(id + 7, 14) != 1)
		return -1;
	buf_init(&o);
	mark = tlv_open(&o, 0x53);
	tlv_put(&o, 0xF0, id, sizeof(id));
	buf_put(&o, tail, sizeof(tail));
	tlv_close(&o, mark);
	return store_built(c, PIV_OBJ_CCC, &o);
}

int cs_make_attestation_key(struct cs_card *c)
{
	return personalize_slot(c, PIV_SLOT_ATTEST, PIV_ALG_ECCP256, TAG_ATTEST_CERT, "Yubico PIV Attestation");
}

int cs_personalize_default(struct cs_card *c)
{
	if (personalize_slot(c, 0x9A, PIV_ALG_ECCP256, 0x5FC105, "signet cardsim PIV Authentication") != 0)
		return -1;
	if (personalize_slot(c, 0x9C, PIV_ALG_RSA2048, 0x5FC10A, "signet cardsim Digital Signature") != 0)
		return -1;
	if (store_chuid(c) != 0 || store_ccc(c) != 0)
		return -1;
	return 0;
}

/* Adds a non-critical private extension whose value is raw bytes. */
static int add_raw_ext(X509 *x, const char *oid, const uint8_t *v, int len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int rc = -1;

	if (obj == NULL || os == NULL || ASN1_OCTET_STRING_set(os, v, len) != 1)
		goto out;
	ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
	if (ext == NULL || X509_add_ext(x, ext, -1) != 1)
		goto out;
	rc = 0;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(obj);
	return rc;
}

static int add_attest_extensions(X509 *x, const struct cs_card *c, const struct cs_key *k)
{
	const uint8_t version[3] = { CS_VERSION_MAJOR, CS_VERSION_MINOR, CS_VERSION_PATCH };
	const uint8_t policy[2] = { k->pin_policy, k->touch_policy };
	const uint8_t serial[6] = { 0x02, 0x04, (uint8_t)(c->serial >> 24), (uint8_t)(c->serial >> 16),
				    (uint8_t)(c->serial >> 8), (uint8_t)c->serial };

	if (add_raw_ext(x, "1.3.6.1.4.1.41482.3.3", version, 3) != 0)
		return -1;
	if (add_raw_ext(x, "1.3.6.1.4.1.41482.3.7", serial, 6) != 0)
		return -1;
	return add_raw_ext(x, "1.3.6.1.4.1.41482.3.8", policy, 2);
}

/* Extracts the DER certificate from the stored F9 certificate container. */
static X509 *attestation_cert(struct cs_card *c)
{
	struct cs_object *o = cs_object_find(c, TAG_ATTEST_CERT);
	const uint8_t *v, *cert;
	size_t len, clen;
	uint32_t tag;
	struct tlv_rd rd;

	if (o == NULL)
		return NULL;
	rd = (struct tlv_rd){ o->data, o->len };
	if (tlv_next(&rd, &tag, &v, &len) != 1 || tag != 0x53)
		return NULL;
	if (tlv_find(v, len, 0x70, &cert, &clen) != 1)
		return NULL;
	return d2i_X509(NULL, &cert, (long)clen);
}

uint16_t cs_cmd_attest(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	struct cs_key *k = &c->keys[cmd->p1];
	struct cs_key *ak = &c->keys[PIV_SLOT_ATTEST];
	X509 *issuer = NULL, *x = NULL;
	unsigned char *der = NULL;
	char cn[64];
	uint16_t sw = SW_UNKNOWN;
	int n = 0;

	if (!cs_slot_is_key(cmd->p1) || !k->present)
		return SW_REF_NOT_FOUND;
	if (k->origin != ORIGIN_GENERATED)
		return SW_WRONG_DATA;
	if (!ak->present || (issuer = attestation_cert(c)) == NULL)
		return SW_REF_NOT_FOUND;
	snprintf(cn, sizeof(cn), "YubiKey PIV Attestation %02x", cmd->p1);
	x = make_cert(k->pkey, cn, X509_get_subject_name(issuer));
	if (x == NULL || add_attest_extensions(x, c, k) != 0 || sign_cert(x, ak->pkey) != 0)
		goto out;
	n = i2d_X509(x, &der);
	if (n <= 0)
		goto out;
	buf_put(r, der, (size_t)n);
	sw = SW_OK;
out:
	OPENSSL_free(der);
	X509_free(x);
	X509_free(issuer);
	return sw;
}
