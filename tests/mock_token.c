/*
 * The mock token of tests/mock_token.h: a PIV-like card held in memory.
 * Every token_ops entry takes the token's lock, counts the call and
 * answers an injected failure before anything else; the PKCS#11 rules a
 * token itself applies (length queries, PIN counters, object visibility)
 * are the device's here, the rest is left to the core under test.
 */
#include "tests/mock_token.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "pkcs11/attrs.h"
#include "pkcs11/config.h"
#include "pkcs11/pin_policy.h"
#include "pkcs11/slot.h"

/* The objects every mock token starts with, at the same refs on every token, as a card's key slots. */
enum {
	REF_RSA_KEY = 1,  /* then its public key and certificate */
	REF_EC_KEY = 4,   /* the same for the P-256 key */
	REF_DATA = 7,
	FIRST_CREATED_REF = 0x100,
};

#define MAX_BLOCK 512 /* RSA-4096: more than any value or result here */

struct mock_object {
	token_ref ref;
	struct attr_list attrs;
	EVP_PKEY *key;      /* private keys: what signs and decrypts; NULL otherwise */
	const void *owner;  /* session objects: the session that made them; NULL for token objects */
};

struct mock_op {
	bool active;
	CK_MECHANISM_TYPE mech;
	token_ref key;
	CK_BYTE *data;      /* a hash-and-sign the token does itself: the message so far */
	size_t len;
};

struct mock_session {
	CK_FLAGS flags;
	unsigned epoch;     /* the token it was opened on */
	struct mock_op ops[TOKEN_OP_COUNT];
};

struct token {
	pthread_mutex_t lock;
	CK_SLOT_ID slot;
	bool in_slot;
	/* the device */
	bool present;
	unsigned epoch;     /* another token, or the token taken out: older sessions are gone */
	char label[33];
	char serial[17];
	EVP_PKEY *rsa, *ec;
	struct mock_object *objects;
	size_t nobjects;
	token_ref next_ref;
	CK_UTF8CHAR user_pin[MOCK_MAX_PIN], so_pin[MOCK_MAX_PIN];
	CK_ULONG user_pin_len, so_pin_len;
	CK_ULONG user_tries, so_tries;   /* left */
	CK_ULONG user_limit, so_limit;   /* what a right PIN restores */
	bool factory_pin;                /* the user PIN was never changed */
	CK_USER_TYPE login;
	/* the driver's side */
	struct config conf;              /* [policy] and state_dir, for the policy */
	struct pin_policy *policy;
	bool offer_rsa_pkcs, offer_ecdsa_sha256;
	CK_ULONG open_sessions;
	/* what the test sees and sets */
	CK_ULONG calls[MOCK_FN_COUNT];
	CK_ULONG judged[2];              /* by enum pin_who */
	bool fail[MOCK_FN_COUNT];
	CK_RV fail_rv[MOCK_FN_COUNT];
	CK_MECHANISM_TYPE last_mech;
	CK_BYTE last_input[MAX_BLOCK];
	CK_ULONG last_input_len;
};

/* ---- mechanisms ---- */

struct mock_mech {
	CK_MECHANISM_TYPE type;
	CK_KEY_TYPE key_type;
	CK_FLAGS flags;
	bool hashes;        /* the token hashes the message itself, so multi-part works */
};

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

static const struct mock_mech mechs[] = {
	{ CKM_RSA_X_509, CKK_RSA, CKF_HW | CKF_SIGN | CKF_DECRYPT, false },
	{ CKM_ECDSA, CKK_EC, CKF_HW | CKF_SIGN | EC_FLAGS, false },
	/* only when a test offers them: */
	{ CKM_RSA_PKCS, CKK_RSA, CKF_HW | CKF_SIGN | CKF_DECRYPT, false },
	{ CKM_ECDSA_SHA256, CKK_EC, CKF_HW | CKF_SIGN | EC_FLAGS, true },
};
#define N_MECHS (sizeof(mechs) / sizeof(mechs[0]))

static bool offered(const struct token *t, const struct mock_mech *m)
{
	switch (m->type) {
	case CKM_RSA_PKCS:
		return t->offer_rsa_pkcs;
	case CKM_ECDSA_SHA256:
		return t->offer_ecdsa_sha256;
	default:
		return true;
	}
}

static const struct mock_mech *find_mech(const struct token *t, CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < N_MECHS; i++)
		if (mechs[i].type == type && offered(t, &mechs[i]))
			return &mechs[i];
	return NULL;
}

/* ---- entry and exit of every token_ops function ---- */

/* Takes the lock, counts the call, and answers an injected failure. Returns with the lock held. */
static CK_RV enter(struct token *t, enum mock_fn fn)
{
	pthread_mutex_lock(&t->lock);
	t->calls[fn]++;
	if (!t->fail[fn])
		return CKR_OK;
	t->fail[fn] = false;
	return t->fail_rv[fn];
}

static CK_RV leave(struct token *t, CK_RV rv)
{
	pthread_mutex_unlock(&t->lock);
	return rv;
}

/* A session call: the token must be there, and be the one the session was opened on. */
static CK_RV session_check(const struct token *t, const struct mock_session *s)
{
	return t->present && s->epoch == t->epoch ? CKR_OK : CKR_DEVICE_REMOVED;
}

static void blank_pad(CK_UTF8CHAR *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	memset(dst, ' ', size);
	memcpy(dst, src, n < size ? n : size);
}

/* ---- objects ---- */

static struct mock_object *object_of(struct token *t, token_ref ref)
{
	for (size_t i = 0; i < t->nobjects; i++)
		if (t->objects[i].ref == ref)
			return &t->objects[i];
	return NULL;
}

static bool is_private(const struct mock_object *o)
{
	bool priv = false;

	attrs_get_bool(&o->attrs, CKA_PRIVATE, &priv);
	return priv;
}

/* PKCS#11: private objects exist only for a logged-in user. */
static bool visible(const struct token *t, const struct mock_object *o)
{
	return !is_private(o) || t->login == CKU_USER;
}

static struct mock_object *visible_object(struct token *t, token_ref ref)
{
	struct mock_object *o = object_of(t, ref);

	return o != NULL && visible(t, o) ? o : NULL;
}

/* Takes over attrs (leaving it empty) and a reference to key. */
static CK_RV store_object(struct token *t, token_ref ref, struct attr_list *attrs, EVP_PKEY *key,
			  const void *owner)
{
	struct mock_object *grown = realloc(t->objects, (t->nobjects + 1) * sizeof(*grown));

	if (grown == NULL)
		return CKR_HOST_MEMORY;
	t->objects = grown;
	if (key != NULL)
		EVP_PKEY_up_ref(key);
	t->objects[t->nobjects++] = (struct mock_object){ ref, *attrs, key, owner };
	attrs_init(attrs);
	return CKR_OK;
}

static void drop_object(struct token *t, size_t i)
{
	attrs_free(&t->objects[i].attrs);
	EVP_PKEY_free(t->objects[i].key);
	t->objects[i] = t->objects[--t->nobjects];
}

/* Every object when owner is NULL, else the session objects of owner. */
static void drop_objects(struct token *t, const void *owner)
{
	for (size_t i = t->nobjects; i-- > 0;)
		if (owner == NULL || t->objects[i].owner == owner)
			drop_object(t, i);
}

/* P-256's OID, as CKA_EC_PARAMS. */
static const CK_BYTE p256_params[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };

/* The public half as PKCS#11 has it: CKA_MODULUS and CKA_PUBLIC_EXPONENT, or CKA_EC_PARAMS and CKA_EC_POINT. */
struct public_parts {
	CK_KEY_TYPE type;
	CK_ATTRIBUTE a, b;
	CK_BYTE a_buf[MAX_BLOCK], b_buf[MAX_BLOCK];
};

static CK_RV bignum_attribute(EVP_PKEY *k, const char *param, CK_ATTRIBUTE_TYPE type, CK_BYTE *buf,
			      CK_ATTRIBUTE *out)
{
	BIGNUM *bn = NULL;
	int n;

	if (!EVP_PKEY_get_bn_param(k, param, &bn))
		return CKR_GENERAL_ERROR;
	n = BN_num_bytes(bn) <= MAX_BLOCK ? BN_bn2bin(bn, buf) : -1;
	BN_free(bn);
	if (n <= 0)
		return CKR_GENERAL_ERROR;
	*out = (CK_ATTRIBUTE){ type, buf, (CK_ULONG)n };
	return CKR_OK;
}

static CK_RV public_parts(EVP_PKEY *k, struct public_parts *p)
{
	size_t len = 0;
	CK_RV rv;

	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA) {
		p->type = CKK_RSA;
		rv = bignum_attribute(k, OSSL_PKEY_PARAM_RSA_N, CKA_MODULUS, p->a_buf, &p->a);
		if (rv == CKR_OK)
			rv = bignum_attribute(k, OSSL_PKEY_PARAM_RSA_E, CKA_PUBLIC_EXPONENT, p->b_buf, &p->b);
		return rv;
	}
	p->type = CKK_EC;
	memcpy(p->a_buf, p256_params, sizeof(p256_params));
	p->a = (CK_ATTRIBUTE){ CKA_EC_PARAMS, p->a_buf, sizeof(p256_params) };
	/* CKA_EC_POINT: the uncompressed point in a DER OCTET STRING. */
	if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, p->b_buf + 2, sizeof(p->b_buf) - 2, &len) ||
	    len > 127)
		return CKR_GENERAL_ERROR;
	p->b_buf[0] = 0x04;
	p->b_buf[1] = (CK_BYTE)len;
	p->b = (CK_ATTRIBUTE){ CKA_EC_POINT, p->b_buf, (CK_ULONG)len + 2 };
	return CKR_OK;
}

/* A self-signed certificate in DER, with the DER of its subject and serial number. */
struct cert_parts {
	unsigned char *der, *subject, *serial;
	int der_len, subject_len, serial_len;
};

static void free_certificate(struct cert_parts *c)
{
	OPENSSL_free(c->der);
	OPENSSL_free(c->subject);
	OPENSSL_free(c->serial);
	memset(c, 0, sizeof(*c));
}

static CK_RV make_certificate(EVP_PKEY *k, const char *cn, long serial, struct cert_parts *c)
{
	X509 *x = X509_new();
	X509_NAME *name;
	CK_RV rv = CKR_GENERAL_ERROR;

	memset(c, 0, sizeof(*c));
	if (x == NULL)
		return CKR_HOST_MEMORY;
	name = X509_get_subject_name(x);
	if (X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), serial) &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) && X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365) &&
	    X509_set_pubkey(x, k) &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_issuer_name(x, name) && X509_sign(x, k, EVP_sha256()) > 0) {
		c->der_len = i2d_X509(x, &c->der);
		c->subject_len = i2d_X509_NAME(name, &c->subject);
		c->serial_len = i2d_ASN1_INTEGER(X509_get_serialNumber(x), &c->serial);
		if (c->der_len > 0 && c->subject_len > 0 && c->serial_len > 0)
			rv = CKR_OK;
	}
	X509_free(x);
	if (rv != CKR_OK)
		free_certificate(c);
	return rv;
}

/* A key or certificate of the card: the attributes they all have, then the class's own. */
static CK_RV add_card_object(struct token *t, token_ref ref, CK_OBJECT_CLASS cls, bool priv, const char *label,
			     CK_BYTE id, const CK_ATTRIBUTE *own, CK_ULONG count, EVP_PKEY *key)
{
	struct attr_list l;
	CK_RV rv = attrs_from_template(&l, own, count);

	if (rv == CKR_OK)
		rv = attrs_set_ulong(&l, CKA_CLASS, cls);
	if (rv == CKR_OK)
		rv = attrs_set_bool(&l, CKA_TOKEN, true);
	if (rv == CKR_OK)
		rv = attrs_set_bool(&l, CKA_PRIVATE, priv);
	if (rv == CKR_OK)
		rv = attrs_set_bool(&l, CKA_MODIFIABLE, false);
	if (rv == CKR_OK)
		rv = attrs_set(&l, CKA_LABEL, label, strlen(label));
	if (rv == CKR_OK)
		rv = attrs_set(&l, CKA_ID, &id, 1);
	if (rv == CKR_OK)
		rv = store_object(t, ref, &l, key, NULL);
	attrs_free(&l);
	return rv;
}

static CK_RV add_private_key(struct token *t, token_ref ref, EVP_PKEY *k, const struct public_parts *p,
			     const char *label, CK_BYTE id)
{
	CK_KEY_TYPE type = p->type;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE, decrypt = type == CKK_RSA;
	CK_ATTRIBUTE own[] = {
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_SENSITIVE, &yes, 1 },
		{ CKA_ALWAYS_SENSITIVE, &yes, 1 },
		{ CKA_EXTRACTABLE, &no, 1 },
		{ CKA_NEVER_EXTRACTABLE, &yes, 1 },
		{ CKA_LOCAL, &yes, 1 },
		{ CKA_ALWAYS_AUTHENTICATE, &no, 1 },
		{ CKA_SIGN, &yes, 1 },
		{ CKA_DECRYPT, &decrypt, 1 },
		{ CKA_DERIVE, &no, 1 },
		p->a,
		p->b, /* RSA only: a private EC key has no CKA_EC_POINT */
	};
	CK_ULONG n = sizeof(own) / sizeof(own[0]) - (type == CKK_RSA ? 0 : 1);

	return add_card_object(t, ref, CKO_PRIVATE_KEY, true, label, id, own, n, k);
}

static CK_RV add_public_key(struct token *t, token_ref ref, const struct public_parts *p, const char *label,
			    CK_BYTE id)
{
	CK_KEY_TYPE type = p->type;
	CK_BBOOL yes = CK_TRUE, encrypt = type == CKK_RSA;
	CK_ATTRIBUTE own[] = {
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ CKA_LOCAL, &yes, 1 },
		{ CKA_VERIFY, &yes, 1 },
		{ CKA_ENCRYPT, &encrypt, 1 },
		p->a,
		p->b,
	};

	return add_card_object(t, ref, CKO_PUBLIC_KEY, false, label, id, own, sizeof(own) / sizeof(own[0]), NULL);
}

static CK_RV add_certificate(struct token *t, token_ref ref, const struct cert_parts *c, const char *label,
			     CK_BYTE id)
{
	CK_CERTIFICATE_TYPE type = CKC_X_509;
	CK_ATTRIBUTE own[] = {
		{ CKA_CERTIFICATE_TYPE, &type, sizeof(type) },
		{ CKA_VALUE, c->der, (CK_ULONG)c->der_len },
		{ CKA_SUBJECT, c->subject, (CK_ULONG)c->subject_len },
		{ CKA_ISSUER, c->subject, (CK_ULONG)c->subject_len },
		{ CKA_SERIAL_NUMBER, c->serial, (CK_ULONG)c->serial_len },
	};

	return add_card_object(t, ref, CKO_CERTIFICATE, false, label, id, own, sizeof(own) / sizeof(own[0]), NULL);
}

/* A key's three objects at first, first + 1, first + 2: private key, public key, certificate. */
static CK_RV add_key_objects(struct token *t, EVP_PKEY *k, token_ref first, CK_BYTE id, const char *what)
{
	char label[64];
	struct public_parts p;
	struct cert_parts c;
	CK_RV rv;

	snprintf(label, sizeof(label), "%s %s", t->label, what);
	rv = public_parts(k, &p);
	if (rv == CKR_OK)
		rv = make_certificate(k, label, (long)first, &c);
	if (rv != CKR_OK)
		return rv;
	rv = add_private_key(t, first, k, &p, label, id);
	if (rv == CKR_OK)
		rv = add_public_key(t, first + 1, &p, label, id);
	if (rv == CKR_OK)
		rv = add_certificate(t, first + 2, &c, label, id);
	free_certificate(&c);
	return rv;
}

static CK_RV add_data_object(struct token *t)
{
	char label[64];
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &yes, 1 },
		{ CKA_PRIVATE, &no, 1 },
		{ CKA_MODIFIABLE, &yes, 1 },
		{ CKA_LABEL, label, 0 },
		{ CKA_APPLICATION, MOCK_DATA_APPLICATION, strlen(MOCK_DATA_APPLICATION) },
		{ CKA_VALUE, MOCK_DATA_VALUE, strlen(MOCK_DATA_VALUE) },
	};
	struct attr_list l;
	CK_RV rv;

	snprintf(label, sizeof(label), "%s data", t->label);
	tmpl[4].ulValueLen = strlen(label);
	rv = attrs_from_template(&l, tmpl, sizeof(tmpl) / sizeof(tmpl[0]));
	if (rv == CKR_OK)
		rv = store_object(t, REF_DATA, &l, NULL, NULL);
	attrs_free(&l);
	return rv;
}

static void reset_pins(struct token *t, const struct mock_desc *d)
{
	memcpy(t->user_pin, MOCK_USER_PIN, strlen(MOCK_USER_PIN));
	t->user_pin_len = strlen(MOCK_USER_PIN);
	memcpy(t->so_pin, MOCK_SO_PIN, strlen(MOCK_SO_PIN));
	t->so_pin_len = strlen(MOCK_SO_PIN);
	t->user_limit = t->user_tries = d->user_tries > 0 ? d->user_tries : MOCK_USER_TRIES;
	t->so_limit = t->so_tries = d->so_tries > 0 ? d->so_tries : MOCK_SO_TRIES;
	t->factory_pin = d->factory_pin;
}

/* Puts the token d describes in the device: its name, PINs and objects. Caller holds the lock. */
static CK_RV load_token(struct token *t, const struct mock_desc *d)
{
	CK_RV rv;

	drop_objects(t, NULL);
	EVP_PKEY_free(t->rsa);
	EVP_PKEY_free(t->ec);
	t->rsa = t->ec = NULL;
	if (strlen(d->label) >= sizeof(t->label) || strlen(d->serial) >= sizeof(t->serial) ||
	    !EVP_PKEY_up_ref(d->rsa) || !EVP_PKEY_up_ref(d->ec))
		return CKR_ARGUMENTS_BAD;
	t->rsa = d->rsa;
	t->ec = d->ec;
	strcpy(t->label, d->label);
	strcpy(t->serial, d->serial);
	reset_pins(t, d);
	t->login = MOCK_PUBLIC;
	rv = add_key_objects(t, t->rsa, REF_RSA_KEY, MOCK_RSA_ID, "RSA");
	if (rv == CKR_OK)
		rv = add_key_objects(t, t->ec, REF_EC_KEY, MOCK_EC_ID, "EC");
	if (rv == CKR_OK)
		rv = add_data_object(t);
	return rv;
}

/* ---- cryptography, as the device does it ---- */

static size_t result_size(EVP_PKEY *k)
{
	if (EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA)
		return (size_t)EVP_PKEY_get_size(k);
	return 2 * (((size_t)EVP_PKEY_get_bits(k) + 7) / 8);
}

/* One RSA private-key operation: a PKCS#1 v1.5 signature over in, or a decryption (raw or PKCS#1 v1.5). */
static CK_RV rsa_private(EVP_PKEY *k, bool sign, int padding, const CK_BYTE *in, size_t in_len, CK_BYTE *out,
			 size_t *out_len, CK_RV refused)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	int ok;

	if (ctx == NULL)
		return CKR_HOST_MEMORY;
	if (sign)
		ok = EVP_PKEY_sign_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, padding) > 0 &&
		     EVP_PKEY_sign(ctx, out, out_len, in, in_len) > 0;
	else
		ok = EVP_PKEY_decrypt_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, padding) > 0 &&
		     EVP_PKEY_decrypt(ctx, out, out_len, in, in_len) > 0;
	EVP_PKEY_CTX_free(ctx);
	return ok ? CKR_OK : refused;
}

/* CKM_RSA_X_509: in is a big-endian number below the modulus; the raw operation is the same for signing. */
static CK_RV rsa_raw(EVP_PKEY *k, enum token_op op, const CK_BYTE *in, size_t in_len, CK_BYTE *out,
		     size_t *out_len)
{
	size_t size = result_size(k);
	CK_BYTE block[MAX_BLOCK] = { 0 };
	CK_RV rv;

	if (op == TOKEN_OP_DECRYPT && in_len != size)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	if (in_len > size)
		return CKR_DATA_LEN_RANGE;
	memcpy(block + size - in_len, in, in_len);
	rv = rsa_private(k, false, RSA_NO_PADDING, block, size, out, out_len,
			 op == TOKEN_OP_DECRYPT ? CKR_ENCRYPTED_DATA_INVALID : CKR_DATA_INVALID);
	OPENSSL_cleanse(block, sizeof(block));
	return rv;
}

static CK_RV rsa_pkcs(EVP_PKEY *k, enum token_op op, const CK_BYTE *in, size_t in_len, CK_BYTE *out,
		      size_t *out_len)
{
	size_t size = result_size(k);

	if (op == TOKEN_OP_DECRYPT)
		return in_len != size ? CKR_ENCRYPTED_DATA_LEN_RANGE
				      : rsa_private(k, false, RSA_PKCS1_PADDING, in, in_len, out, out_len,
						    CKR_ENCRYPTED_DATA_INVALID);
	if (in_len + 11 > size)
		return CKR_DATA_LEN_RANGE;
	return rsa_private(k, true, RSA_PKCS1_PADDING, in, in_len, out, out_len, CKR_FUNCTION_FAILED);
}

/* ECDSA over in (a hash), or over the hash of in with md; r||s as PKCS#11 returns it. */
static CK_RV ecdsa(EVP_PKEY *k, const EVP_MD *md, const CK_BYTE *in, size_t in_len, CK_BYTE *out, size_t *out_len)
{
	size_t field = result_size(k) / 2, der_len;
	CK_BYTE der[MAX_BLOCK];
	const unsigned char *p = der;
	const BIGNUM *r, *s;
	ECDSA_SIG *sig;
	int ok;

	if (md == NULL && in_len == 0)
		return CKR_DATA_LEN_RANGE;
	der_len = sizeof(der);
	if (md == NULL) {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);

		ok = ctx != NULL && EVP_PKEY_sign_init(ctx) > 0 && EVP_PKEY_sign(ctx, der, &der_len, in, in_len) > 0;
		EVP_PKEY_CTX_free(ctx);
	} else {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		ok = ctx != NULL && EVP_DigestSignInit(ctx, NULL, md, NULL, k) > 0 &&
		     EVP_DigestSign(ctx, der, &der_len, in, in_len) > 0;
		EVP_MD_CTX_free(ctx);
	}
	if (!ok || (sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL)
		return CKR_FUNCTION_FAILED;
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, out, (int)field) == (int)field && BN_bn2binpad(s, out + field, (int)field) == (int)field;
	ECDSA_SIG_free(sig);
	*out_len = 2 * field;
	return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}

static void record_input(struct token *t, const CK_BYTE *in, CK_ULONG in_len)
{
	t->last_input_len = in_len < sizeof(t->last_input) ? in_len : sizeof(t->last_input);
	if (t->last_input_len > 0)
		memcpy(t->last_input, in, t->last_input_len);
}

static CK_RV compute(struct token *t, enum token_op op, CK_MECHANISM_TYPE mech, EVP_PKEY *k, const CK_BYTE *in,
		     CK_ULONG in_len, CK_BYTE *out, size_t *out_len)
{
	record_input(t, in, in_len);
	switch (mech) {
	case CKM_RSA_X_509:
		return rsa_raw(k, op, in, in_len, out, out_len);
	case CKM_RSA_PKCS:
		return rsa_pkcs(k, op, in, in_len, out, out_len);
	case CKM_ECDSA:
		return ecdsa(k, NULL, in, in_len, out, out_len);
	case CKM_ECDSA_SHA256:
		return ecdsa(k, EVP_sha256(), in, in_len, out, out_len);
	default:
		return CKR_MECHANISM_INVALID;
	}
}

/* ---- operations ---- */

static void end_op(struct mock_op *p)
{
	if (p->data != NULL)
		OPENSSL_cleanse(p->data, p->len);
	free(p->data);
	memset(p, 0, sizeof(*p));
}

/* PKCS#11: only a length query or a short buffer keep an operation going. */
static bool keeps_operation(CK_RV rv, const CK_BYTE *out)
{
	return rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && out == NULL);
}

static CK_FLAGS op_flag(enum token_op op)
{
	return op == TOKEN_OP_SIGN ? CKF_SIGN : op == TOKEN_OP_DECRYPT ? CKF_DECRYPT : 0;
}

/* The checks a card makes on the key when an operation starts, in its order. */
static CK_RV usable_key(struct token *t, token_ref ref, enum token_op op, const struct mock_mech *m)
{
	struct mock_object *o = object_of(t, ref);
	bool allowed = false;
	CK_ULONG type = 0;

	if (o == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	if (is_private(o) && t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if (o->key == NULL || !attrs_get_bool(&o->attrs, op == TOKEN_OP_SIGN ? CKA_SIGN : CKA_DECRYPT, &allowed) ||
	    !allowed)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (!attrs_get_ulong(&o->attrs, CKA_KEY_TYPE, &type) || type != m->key_type)
		return CKR_KEY_TYPE_INCONSISTENT;
	return CKR_OK;
}

/* Private-key use waits while the PIN the user logged in with must be changed. */
static bool uses_private_key(enum token_op op)
{
	return op == TOKEN_OP_SIGN || op == TOKEN_OP_DECRYPT || op == TOKEN_OP_SIGN_RECOVER;
}

static CK_RV mock_op_init(struct token *t, void *ss, enum token_op op, const CK_MECHANISM *mech, token_ref key)
{
	struct mock_session *s = ss;
	const struct mock_mech *m = NULL;
	CK_RV rv = enter(t, MOCK_OP_INIT);

	if (rv == CKR_OK)
		rv = session_check(t, s);
	if (rv == CKR_OK) {
		m = find_mech(t, mech->mechanism);
		if (m == NULL || !(m->flags & op_flag(op)))
			rv = CKR_MECHANISM_INVALID;
	}
	if (rv == CKR_OK && s->ops[op].active)
		rv = CKR_OPERATION_ACTIVE;
	if (rv == CKR_OK && (mech->pParameter != NULL || mech->ulParameterLen != 0))
		rv = CKR_MECHANISM_PARAM_INVALID;
	if (rv == CKR_OK)
		rv = usable_key(t, key, op, m);
	if (rv == CKR_OK && uses_private_key(op))
		rv = pin_policy_key_use(t->policy);
	if (rv == CKR_OK) {
		s->ops[op] = (struct mock_op){ true, m->type, key, NULL, 0 };
		t->last_mech = m->type;
	}
	return leave(t, rv);
}

/* The last step of an operation over in: the length rules, the login, then the device's work. */
static CK_RV finish(struct token *t, struct mock_op *p, enum token_op op, const CK_BYTE *in, CK_ULONG in_len,
		    CK_BYTE *out, CK_ULONG *out_len)
{
	struct mock_object *o = object_of(t, p->key);
	CK_BYTE result[MAX_BLOCK];
	size_t len = sizeof(result);
	CK_RV rv;

	if (o == NULL || o->key == NULL)
		return CKR_KEY_HANDLE_INVALID;
	/* Checked again here: a card that forgot its login says so when it is asked to sign. */
	if (is_private(o) && t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	if (out == NULL) {
		*out_len = (CK_ULONG)result_size(o->key);
		return CKR_OK;
	}
	rv = compute(t, op, p->mech, o->key, in, in_len, result, &len);
	if (rv == CKR_OK && *out_len < len)
		rv = CKR_BUFFER_TOO_SMALL;
	if (rv == CKR_OK)
		memcpy(out, result, len);
	if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
		*out_len = (CK_ULONG)len;
	OPENSSL_cleanse(result, sizeof(result));
	return rv;
}

static CK_RV mock_op_oneshot(struct token *t, void *ss, enum token_op op, const CK_BYTE *in, CK_ULONG in_len,
			     CK_BYTE *out, CK_ULONG *out_len)
{
	struct mock_session *s = ss;
	CK_RV rv = enter(t, MOCK_OP_ONESHOT);

	if (rv == CKR_OK)
		rv = session_check(t, s);
	if (rv == CKR_OK && !s->ops[op].active)
		return leave(t, CKR_OPERATION_NOT_INITIALIZED);
	if (rv == CKR_OK)
		rv = finish(t, &s->ops[op], op, in, in_len, out, out_len);
	if (!keeps_operation(rv, out))
		end_op(&s->ops[op]);
	return leave(t, rv);
}

static CK_RV append(struct mock_op *p, const CK_BYTE *in, CK_ULONG in_len)
{
	CK_BYTE *grown;

	if (in_len == 0)
		return CKR_OK;
	grown = malloc(p->len + in_len);
	if (grown == NULL)
		return CKR_HOST_MEMORY;
	if (p->len > 0)
		memcpy(grown, p->data, p->len);
	memcpy(grown + p->len, in, in_len);
	if (p->data != NULL)
		OPENSSL_cleanse(p->data, p->len);
	free(p->data);
	p->data = grown;
	p->len += in_len;
	return CKR_OK;
}

/* Multi-part works only where the token hashes the message itself; raw mechanisms are single-part. */
static CK_RV multi_part_check(const struct token *t, const struct mock_op *p)
{
	const struct mock_mech *m = find_mech(t, p->mech);

	return m != NULL && m->hashes ? CKR_OK : CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV mock_op_update(struct token *t, void *ss, enum token_op op, const CK_BYTE *in, CK_ULONG in_len,
			    CK_BYTE *out, CK_ULONG *out_len)
{
	struct mock_session *s = ss;
	CK_RV rv = enter(t, MOCK_OP_UPDATE);

	(void)out;
	(void)out_len; /* signatures return nothing before the final step */
	if (rv == CKR_OK)
		rv = session_check(t, s);
	if (rv == CKR_OK && !s->ops[op].active)
		return leave(t, CKR_OPERATION_NOT_INITIALIZED);
	if (rv == CKR_OK)
		rv = multi_part_check(t, &s->ops[op]);
	if (rv == CKR_OK)
		rv = append(&s->ops[op], in, in_len);
	if (rv != CKR_OK)
		end_op(&s->ops[op]);
	return leave(t, rv);
}

static CK_RV mock_op_final(struct token *t, void *ss, enum token_op op, CK_BYTE *out, CK_ULONG *out_len)
{
	static const CK_BYTE nothing[1];
	struct mock_session *s = ss;
	struct mock_op *p = &s->ops[op];
	CK_RV rv = enter(t, MOCK_OP_FINAL);

	if (rv == CKR_OK)
		rv = session_check(t, s);
	if (rv == CKR_OK && !p->active)
		return leave(t, CKR_OPERATION_NOT_INITIALIZED);
	if (rv == CKR_OK)
		rv = multi_part_check(t, p);
	if (rv == CKR_OK)
		rv = finish(t, p, op, p->data != NULL ? p->data : nothing, (CK_ULONG)p->len, out, out_len);
	if (!keeps_operation(rv, out))
		end_op(p);
	return leave(t, rv);
}

/* An abort cannot fail: an injected failure is used up and ignored. */
static void mock_op_abort(struct token *t, void *ss, enum token_op op)
{
	struct mock_session *s = ss;

	(void)enter(t, MOCK_OP_ABORT);
	end_op(&s->ops[op]);
	leave(t, CKR_OK);
}

/* ---- description ---- */

static CK_RV mock_slot_info(struct token *t, CK_SLOT_INFO *info)
{
	CK_RV rv = enter(t, MOCK_SLOT_INFO);

	if (rv == CKR_OK) {
		memset(info, 0, sizeof(*info));
		blank_pad(info->slotDescription, sizeof(info->slotDescription), "signet mock reader");
		blank_pad(info->manufacturerID, sizeof(info->manufacturerID), "signet tests");
		info->flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT | (t->present ? CKF_TOKEN_PRESENT : 0);
		info->hardwareVersion.major = 1;
		info->firmwareVersion.major = 1;
	}
	return leave(t, rv);
}

static CK_RV mock_token_info(struct token *t, CK_TOKEN_INFO *info)
{
	CK_RV rv = enter(t, MOCK_TOKEN_INFO);

	if (rv == CKR_OK && !t->present)
		rv = CKR_TOKEN_NOT_PRESENT;
	if (rv != CKR_OK)
		return leave(t, rv);
	memset(info, 0, sizeof(*info));
	blank_pad(info->label, sizeof(info->label), t->label);
	blank_pad(info->manufacturerID, sizeof(info->manufacturerID), "signet tests");
	blank_pad(info->model, sizeof(info->model), "mock");
	blank_pad(info->serialNumber, sizeof(info->serialNumber), t->serial);
	info->flags = CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED;
	info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
	info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
	info->ulMaxPinLen = MOCK_MAX_PIN;
	info->ulMinPinLen = MOCK_MIN_PIN;
	info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
	info->hardwareVersion.major = 1;
	info->firmwareVersion.major = 1;
	memset(info->utcTime, ' ', sizeof(info->utcTime));
	/* A card has no PIN flags to report: the policy makes them from its counters and the card's. */
	return leave(t, pin_policy_token_info(t->policy, info));
}

static CK_RV mock_mechanism_list(struct token *t, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	CK_ULONG n = 0;
	CK_RV rv = enter(t, MOCK_MECHANISM_LIST);

	if (rv == CKR_OK && !t->present)
		rv = CKR_TOKEN_NOT_PRESENT;
	for (size_t i = 0; rv == CKR_OK && i < N_MECHS; i++) {
		if (!offered(t, &mechs[i]))
			continue;
		if (list != NULL && n < *count)
			list[n] = mechs[i].type;
		n++;
	}
	if (rv == CKR_OK && list != NULL && n > *count)
		rv = CKR_BUFFER_TOO_SMALL;
	if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
		*count = n;
	return leave(t, rv);
}

static CK_RV mock_mechanism_info(struct token *t, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	const struct mock_mech *m = NULL;
	CK_RV rv = enter(t, MOCK_MECHANISM_INFO);

	if (rv == CKR_OK && !t->present)
		rv = CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK && (m = find_mech(t, type)) == NULL)
		rv = CKR_MECHANISM_INVALID;
	if (rv == CKR_OK) {
		info->ulMinKeySize = info->ulMaxKeySize = m->key_type == CKK_RSA ? 2048 : 256;
		info->flags = m->flags;
	}
	return leave(t, rv);
}

/* ---- sessions ---- */

static CK_RV mock_session_open(struct token *t, CK_FLAGS flags, void **state)
{
	struct mock_session *s = NULL;
	CK_RV rv = enter(t, MOCK_SESSION_OPEN);

	if (rv == CKR_OK && !t->present)
		rv = CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK && (s = calloc(1, sizeof(*s))) == NULL)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK) {
		s->flags = flags;
		s->epoch = t->epoch;
		t->open_sessions++;
		*state = s;
	}
	return leave(t, rv);
}

/* Nothing to tell a device held in memory, so quietly changes nothing. */
static void mock_session_close(struct token *t, void *state, bool quietly)
{
	struct mock_session *s = state;

	(void)quietly;
	(void)enter(t, MOCK_SESSION_CLOSE);
	for (int op = 0; op < TOKEN_OP_COUNT; op++)
		end_op(&s->ops[op]);
	drop_objects(t, s);
	t->open_sessions--;
	leave(t, CKR_OK);
	free(s);
}

/*
 * ---- PINs: the policy in front of the device ----
 *
 * Every call into the policy is made with the token's lock held, as a card
 * driver holds its card for a whole PIN operation; so the callbacks below,
 * which the policy makes from inside those calls, use the device without
 * taking the lock again.
 */

static CK_RV policy_serial(void *ctx, CK_UTF8CHAR serial[16])
{
	struct token *t = ctx;

	blank_pad(serial, 16, t->serial);
	return CKR_OK;
}

/* The card's own counter, as an empty VERIFY reads it: no try is spent. */
static CK_RV policy_counter(void *ctx, enum pin_who who, struct pin_counter *out)
{
	struct token *t = ctx;

	if (who == PIN_SO)
		*out = (struct pin_counter){ (unsigned)t->so_tries, (unsigned)t->so_limit, false };
	else
		*out = (struct pin_counter){ (unsigned)t->user_tries, (unsigned)t->user_limit, t->factory_pin };
	return CKR_OK;
}

static CK_RV new_policy(struct token *t)
{
	struct pin_token tok = { .kind = "mock", .ctx = t, .serial = policy_serial, .counter = policy_counter };

	return pin_policy_new(&t->conf, "the mock token", &tok, &t->policy);
}

/* The PIN a PKCS#11 user type names: the PUK for the SO, the PIN for the user, also in a context-specific login. */
static enum pin_who pin_of(CK_USER_TYPE who)
{
	return who == CKU_SO ? PIN_SO : PIN_USER;
}

/* A card's VERIFY: a blocked PIN is never compared, a wrong one costs a try, a right one restores them. */
static CK_RV verify_pin(struct token *t, enum pin_who who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	const CK_UTF8CHAR *want = who == PIN_SO ? t->so_pin : t->user_pin;
	CK_ULONG want_len = who == PIN_SO ? t->so_pin_len : t->user_pin_len;
	CK_ULONG *tries = who == PIN_SO ? &t->so_tries : &t->user_tries;

	t->judged[who]++;
	if (*tries == 0)
		return CKR_PIN_LOCKED;
	if (len != want_len || (len > 0 && memcmp(pin, want, len) != 0)) {
		(*tries)--;
		return CKR_PIN_INCORRECT;
	}
	*tries = who == PIN_SO ? t->so_limit : t->user_limit;
	return CKR_OK;
}

/* A card judges every PIN it is sent, whatever it holds: a login it still has never stands in for one. */
static CK_RV login_allowed(const struct token *t, CK_USER_TYPE who)
{
	if (who == CKU_CONTEXT_SPECIFIC)
		return t->login == CKU_USER ? CKR_OK : CKR_USER_NOT_LOGGED_IN;
	if (who != CKU_USER && who != CKU_SO)
		return CKR_USER_TYPE_INVALID;
	return t->login == MOCK_PUBLIC || t->login == who ? CKR_OK : CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
}

/* What a pin_send hands to the device: who and the PIN(s) the caller gave. */
struct pin_args {
	struct token *t;
	CK_USER_TYPE who;
	const CK_UTF8CHAR *pin, *new_pin;
	CK_ULONG len, new_len;
};

static CK_RV send_login(void *ctx)
{
	struct pin_args *a = ctx;
	CK_RV rv = verify_pin(a->t, pin_of(a->who), a->pin, a->len);

	if (rv == CKR_OK && a->who != CKU_CONTEXT_SPECIFIC)
		a->t->login = a->who;
	return rv;
}

static CK_RV mock_login(struct token *t, void *ss, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct pin_args a = { t, who, pin, NULL, len, 0 };
	CK_RV rv = enter(t, MOCK_LOGIN);

	if (rv == CKR_OK)
		rv = session_check(t, ss);
	if (rv == CKR_OK)
		rv = login_allowed(t, who);
	if (rv == CKR_OK)
		rv = pin_policy_login(t->policy, who, pin, len, send_login, &a);
	return leave(t, rv);
}

static CK_RV mock_logout(struct token *t, void *ss)
{
	CK_RV rv = enter(t, MOCK_LOGOUT);

	if (rv == CKR_OK)
		rv = session_check(t, ss);
	if (rv == CKR_OK && t->login == MOCK_PUBLIC)
		rv = CKR_USER_NOT_LOGGED_IN;
	if (rv == CKR_OK)
		t->login = MOCK_PUBLIC;
	pin_policy_logout(t->policy);
	return leave(t, rv);
}

static CK_RV pin_length_check(CK_ULONG len)
{
	return len < MOCK_MIN_PIN || len > MOCK_MAX_PIN ? CKR_PIN_LEN_RANGE : CKR_OK;
}

/* PIV's RESET RETRY COUNTER: a new user PIN and all its tries back; the policy records that it must be changed. */
static CK_RV send_init_pin(void *ctx)
{
	struct pin_args *a = ctx;
	struct token *t = a->t;
	CK_RV rv = t->so_tries == 0 ? CKR_PIN_LOCKED : pin_length_check(a->new_len);

	if (rv != CKR_OK)
		return rv;
	memcpy(t->user_pin, a->new_pin, a->new_len);
	t->user_pin_len = a->new_len;
	t->user_tries = t->user_limit;
	t->factory_pin = false;
	return CKR_OK;
}

static CK_RV mock_init_pin(struct token *t, void *ss, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct pin_args a = { t, CKU_SO, NULL, pin, 0, len };
	CK_RV rv = enter(t, MOCK_INIT_PIN);

	if (rv == CKR_OK)
		rv = session_check(t, ss);
	if (rv == CKR_OK && t->login != CKU_SO)
		rv = CKR_USER_NOT_LOGGED_IN;
	if (rv == CKR_OK)
		rv = pin_policy_init_pin(t->policy, len, send_init_pin, &a);
	return leave(t, rv);
}

/* PIV's CHANGE REFERENCE DATA: the old PIN is judged as VERIFY judges it. */
static CK_RV send_set_pin(void *ctx)
{
	struct pin_args *a = ctx;
	struct token *t = a->t;
	bool so = a->who == CKU_SO;
	CK_RV rv = pin_length_check(a->new_len);

	if (rv == CKR_OK)
		rv = verify_pin(t, pin_of(a->who), a->pin, a->len);
	if (rv != CKR_OK)
		return rv;
	if (so) {
		memcpy(t->so_pin, a->new_pin, a->new_len);
		t->so_pin_len = a->new_len;
	} else {
		memcpy(t->user_pin, a->new_pin, a->new_len);
		t->user_pin_len = a->new_len;
		t->factory_pin = false;
	}
	return CKR_OK;
}

/* The SO's PIN (the PUK) in an SO session, otherwise the user's. */
static CK_RV mock_set_pin(struct token *t, void *ss, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			  const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	struct pin_args a = { t, CKU_USER, old_pin, new_pin, old_len, new_len };
	CK_RV rv = enter(t, MOCK_SET_PIN);

	if (rv == CKR_OK)
		rv = session_check(t, ss);
	if (rv == CKR_OK) {
		a.who = t->login == CKU_SO ? CKU_SO : CKU_USER;
		rv = pin_policy_set_pin(t->policy, pin_of(a.who), old_pin, old_len, new_pin, new_len, send_set_pin,
					&a);
	}
	return leave(t, rv);
}

/* ---- objects, as the core sees them ---- */

static CK_RV mock_find(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref **refs,
		       CK_ULONG *found)
{
	struct attr_list want = ATTR_LIST_INIT;
	token_ref *list = NULL;
	CK_ULONG n = 0;
	CK_RV rv = enter(t, MOCK_FIND);

	if (rv == CKR_OK)
		rv = session_check(t, ss);
	if (rv == CKR_OK)
		rv = attrs_from_template(&want, tmpl, count);
	if (rv == CKR_OK && (list = malloc((t->nobjects + 1) * sizeof(*list))) == NULL)
		rv = CKR_HOST_MEMORY;
	for (size_t i = 0; rv == CKR_OK && i < t->nobjects; i++) {
		struct mock_object *o = &t->objects[i];

		if (visible(t, o) && attrs_match(&o->attrs, &want, attrs_key_secret, NULL))
			list[n++] = o->ref;
	}
	attrs_free(&want);
	if (rv == CKR_OK) {
		*refs = list;
		*found = n;
	}
	return leave(t, rv);
}

static CK_RV mock_get_attributes(struct token *t, void *ss, token_ref obj, CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	struct mock_object *o = NULL;
	CK_RV rv = enter(t, MOCK_GET_ATTRIBUTES);

	if (rv == CKR_OK)
		rv = session_check(t, ss);
	if (rv == CKR_OK && (o = visible_object(t, obj)) == NULL)
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv == CKR_OK)
		rv = attrs_get_value(&o->attrs, tmpl, count, attrs_key_secret, NULL);
	return leave(t, rv);
}

/* What the token checks before it makes a data object: the class, then where it would live and who sees it. */
static CK_RV data_object_allowed(const struct token *t, const struct mock_session *s, const struct attr_list *l)
{
	CK_ULONG cls;
	bool on_token = false, priv = false;

	if (!attrs_get_ulong(l, CKA_CLASS, &cls))
		return CKR_TEMPLATE_INCOMPLETE;
	if (cls != CKO_DATA)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	attrs_get_bool(l, CKA_TOKEN, &on_token);
	attrs_get_bool(l, CKA_PRIVATE, &priv);
	if (on_token && !(s->flags & CKF_RW_SESSION))
		return CKR_SESSION_READ_ONLY;
	if (priv && t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	return CKR_OK;
}

static CK_RV add_data_defaults(struct attr_list *l)
{
	CK_RV rv = CKR_OK;

	if (attrs_find(l, CKA_TOKEN) == NULL)
		rv = attrs_set_bool(l, CKA_TOKEN, false);
	if (rv == CKR_OK && attrs_find(l, CKA_PRIVATE) == NULL)
		rv = attrs_set_bool(l, CKA_PRIVATE, false);
	if (rv == CKR_OK && attrs_find(l, CKA_MODIFIABLE) == NULL)
		rv = attrs_set_bool(l, CKA_MODIFIABLE, true);
	if (rv == CKR_OK && attrs_find(l, CKA_VALUE) == NULL)
		rv = attrs_add(l, CKA_VALUE, NULL, 0);
	return rv;
}

/* A value made of two values: the base's, then that of the key the parameter names (data objects stand in for keys). */
static CK_RV concatenated_value(struct token *t, token_ref base, const CK_MECHANISM *mech, struct attr_list *l)
{
	const struct mock_object *a = visible_object(t, base), *b;
	const CK_ATTRIBUTE *va, *vb;
	CK_BYTE *joined;
	token_ref other;
	CK_RV rv;

	if (mech->mechanism != CKM_CONCATENATE_BASE_AND_KEY)
		return CKR_MECHANISM_INVALID;
	if (mech->pParameter == NULL || mech->ulParameterLen != sizeof(other))
		return CKR_MECHANISM_PARAM_INVALID;
	memcpy(&other, mech->pParameter, sizeof(other));
	b = visible_object(t, other);
	if (a == NULL || b == NULL)
		return CKR_KEY_HANDLE_INVALID;
	va = attrs_find(&a->attrs, CKA_VALUE);
	vb = attrs_find(&b->attrs, CKA_VALUE);
	if (va == NULL || vb == NULL)
		return CKR_KEY_TYPE_INCONSISTENT;
	joined = malloc(va->ulValueLen + vb->ulValueLen + 1);
	if (joined == NULL)
		return CKR_HOST_MEMORY;
	memcpy(joined, va->pValue, va->ulValueLen);
	memcpy(joined + va->ulValueLen, vb->pValue, vb->ulValueLen);
	rv = attrs_set(l, CKA_VALUE, joined, va->ulValueLen + vb->ulValueLen);
	free(joined);
	return rv;
}

/* A data object from a template: made as it is, or (derive) with the value CKM_CONCATENATE_BASE_AND_KEY gives. */
static CK_RV new_data_object(struct token *t, struct mock_session *s, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
			     const CK_MECHANISM *derive, token_ref base, token_ref *obj)
{
	struct attr_list l = ATTR_LIST_INIT;
	bool on_token = false;
	CK_RV rv = session_check(t, s);

	if (rv == CKR_OK)
		rv = attrs_from_template(&l, tmpl, count);
	if (rv == CKR_OK)
		rv = data_object_allowed(t, s, &l);
	if (rv == CKR_OK && derive != NULL)
		rv = concatenated_value(t, base, derive, &l);
	if (rv == CKR_OK)
		rv = add_data_defaults(&l);
	if (rv == CKR_OK) {
		attrs_get_bool(&l, CKA_TOKEN, &on_token);
		rv = store_object(t, t->next_ref, &l, NULL, on_token ? NULL : s);
	}
	if (rv == CKR_OK)
		*obj = t->next_ref++;
	attrs_free(&l);
	return rv;
}

static CK_RV mock_create_object(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
				token_ref *obj)
{
	CK_RV rv = enter(t, MOCK_CREATE_OBJECT);

	if (rv == CKR_OK)
		rv = new_data_object(t, ss, tmpl, count, NULL, 0, obj);
	return leave(t, rv);
}

/* Data objects only: the keys and certificates are the card's. */
static CK_RV mock_destroy_object(struct token *t, void *ss, token_ref obj)
{
	struct mock_session *s = ss;
	struct mock_object *o = NULL;
	CK_ULONG cls = 0;
	CK_RV rv = enter(t, MOCK_DESTROY_OBJECT);

	if (rv == CKR_OK)
		rv = session_check(t, s);
	if (rv == CKR_OK && (o = visible_object(t, obj)) == NULL)
		rv = CKR_OBJECT_HANDLE_INVALID;
	if (rv == CKR_OK && (!attrs_get_ulong(&o->attrs, CKA_CLASS, &cls) || cls != CKO_DATA))
		rv = CKR_ACTION_PROHIBITED;
	if (rv == CKR_OK && o->owner == NULL && !(s->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	if (rv == CKR_OK)
		drop_object(t, (size_t)(o - t->objects));
	return leave(t, rv);
}

static CK_RV mock_derive_key(struct token *t, void *ss, const CK_MECHANISM *mech, token_ref base,
			     const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref *key)
{
	CK_RV rv = enter(t, MOCK_DERIVE_KEY);

	if (rv == CKR_OK)
		rv = new_data_object(t, ss, tmpl, count, mech, base, key);
	return leave(t, rv);
}

/* The core never frees a token; the test does, with mock_token_free(). */
static void mock_destroy(struct token *t, bool process_exiting)
{
	(void)process_exiting;
	(void)enter(t, MOCK_DESTROY);
	leave(t, CKR_OK);
}

const struct token_ops mock_token_ops = {
	.kind = "mock",
	.slot_info = mock_slot_info,
	.token_info = mock_token_info,
	.mechanism_list = mock_mechanism_list,
	.mechanism_info = mock_mechanism_info,
	.session_open = mock_session_open,
	.session_close = mock_session_close,
	.login = mock_login,
	.logout = mock_logout,
	.init_pin = mock_init_pin,
	.set_pin = mock_set_pin,
	.find = mock_find,
	.get_attributes = mock_get_attributes,
	.create_object = mock_create_object,
	.destroy_object = mock_destroy_object,
	.derive_key = mock_derive_key,
	.op_init = mock_op_init,
	.op_oneshot = mock_op_oneshot,
	.op_update = mock_op_update,
	.op_final = mock_op_final,
	.op_abort = mock_op_abort,
	.destroy = mock_destroy,
};

/* ---- life cycle ---- */

/*
 * The module's configuration, read as C_Initialize read it: the policy
 * takes its [policy] and state_dir from it, as a driver's policies take them
 * from the configuration the driver's start() gets.
 */
static CK_RV load_config(struct config *c)
{
	config_defaults(c);
	return config_load(c, config_default_path());
}

struct token *mock_token_new(const struct mock_desc *d)
{
	struct token *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->present = true;
	t->next_ref = FIRST_CREATED_REF;
	if (load_config(&t->conf) != CKR_OK || new_policy(t) != CKR_OK || load_token(t, d) != CKR_OK) {
		mock_token_free(t);
		return NULL;
	}
	return t;
}

void mock_token_free(struct token *t)
{
	if (t == NULL)
		return;
	pin_policy_free(t->policy);
	drop_objects(t, NULL);
	free(t->objects);
	EVP_PKEY_free(t->rsa);
	EVP_PKEY_free(t->ec);
	pthread_mutex_destroy(&t->lock);
	OPENSSL_cleanse(t, sizeof(*t));
	free(t);
}

CK_RV mock_token_add_slot(struct token *t, CK_SLOT_ID *slot)
{
	CK_SLOT_ID id;
	CK_RV rv = slot_add(t, &mock_token_ops, SLOT_RANGE_CARD, &id);

	if (rv != CKR_OK)
		return rv;
	pthread_mutex_lock(&t->lock);
	t->slot = id;
	t->in_slot = true;
	pthread_mutex_unlock(&t->lock);
	if (slot != NULL)
		*slot = id;
	return CKR_OK;
}

/* ---- knobs ---- */

enum device_event { EVENT_LOGIN_LOST, EVENT_TOKEN_CHANGED, EVENT_PRESENT, EVENT_ABSENT };

/*
 * What a driver tells the core when its device changes under it; called
 * without the token's lock, since the core may call back into the token.
 * The core's driver API (pkcs11/slot.h) does not exist yet: until it does,
 * the core is not told, and learns only from the token's answers.
 */
static void tell_core(struct token *t, enum device_event ev)
{
	CK_SLOT_ID slot;
	bool in_slot;

	pthread_mutex_lock(&t->lock);
	slot = t->slot;
	in_slot = t->in_slot;
	pthread_mutex_unlock(&t->lock);
	if (!in_slot)
		return;
	switch (ev) {
	case EVENT_LOGIN_LOST:
		slot_login_lost(slot);
		break;
	case EVENT_TOKEN_CHANGED:
		slot_token_changed(slot);
		break;
	case EVENT_PRESENT:
		slot_set_present(slot, SLOT_TOKEN_PRESENT);
		break;
	case EVENT_ABSENT:
		slot_set_present(slot, SLOT_EMPTY);
		break;
	}
}

void mock_fail_next(struct token *t, enum mock_fn fn, CK_RV rv)
{
	pthread_mutex_lock(&t->lock);
	t->fail[fn] = true;
	t->fail_rv[fn] = rv;
	pthread_mutex_unlock(&t->lock);
}

/* One of the token's numbers, read under its lock. */
static CK_ULONG read_locked(struct token *t, const CK_ULONG *field)
{
	CK_ULONG n;

	pthread_mutex_lock(&t->lock);
	n = *field;
	pthread_mutex_unlock(&t->lock);
	return n;
}

unsigned mock_calls(struct token *t, enum mock_fn fn)
{
	return (unsigned)read_locked(t, &t->calls[fn]);
}

CK_RV mock_offer(struct token *t, CK_MECHANISM_TYPE mech)
{
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&t->lock);
	if (mech == CKM_RSA_PKCS)
		t->offer_rsa_pkcs = true;
	else if (mech == CKM_ECDSA_SHA256)
		t->offer_ecdsa_sha256 = true;
	else
		rv = CKR_MECHANISM_INVALID;
	pthread_mutex_unlock(&t->lock);
	return rv;
}

void mock_forget_login(struct token *t)
{
	pthread_mutex_lock(&t->lock);
	t->login = MOCK_PUBLIC;
	pin_policy_logout(t->policy);
	pthread_mutex_unlock(&t->lock);
	tell_core(t, EVENT_LOGIN_LOST);
}

CK_RV mock_swap(struct token *t, const struct mock_desc *d)
{
	CK_RV rv;

	pthread_mutex_lock(&t->lock);
	t->epoch++;
	rv = load_token(t, d);
	/* Another card: its own counters, its own refused PIN, no login. */
	pin_policy_token_changed(t->policy);
	pthread_mutex_unlock(&t->lock);
	tell_core(t, EVENT_TOKEN_CHANGED);
	return rv;
}

void mock_set_present(struct token *t, bool present)
{
	bool changed;

	pthread_mutex_lock(&t->lock);
	changed = t->present != present;
	t->present = present;
	if (changed && !present) {
		t->epoch++;
		t->login = MOCK_PUBLIC;
		pin_policy_logout(t->policy);
	}
	pthread_mutex_unlock(&t->lock);
	if (changed)
		tell_core(t, present ? EVENT_PRESENT : EVENT_ABSENT);
}

/* ---- what the device saw ---- */

CK_USER_TYPE mock_login_state(struct token *t)
{
	return read_locked(t, &t->login);
}

unsigned mock_user_tries_left(struct token *t)
{
	return (unsigned)read_locked(t, &t->user_tries);
}

unsigned mock_so_tries_left(struct token *t)
{
	return (unsigned)read_locked(t, &t->so_tries);
}

unsigned mock_pins_judged(struct token *t, CK_USER_TYPE who)
{
	return (unsigned)read_locked(t, &t->judged[pin_of(who)]);
}

unsigned mock_open_sessions(struct token *t)
{
	return (unsigned)read_locked(t, &t->open_sessions);
}

CK_MECHANISM_TYPE mock_last_mechanism(struct token *t)
{
	return read_locked(t, &t->last_mech);
}

void mock_last_input(struct token *t, CK_BYTE *buf, CK_ULONG *len)
{
	pthread_mutex_lock(&t->lock);
	if (*len > t->last_input_len)
		*len = t->last_input_len;
	memcpy(buf, t->last_input, *len);
	pthread_mutex_unlock(&t->lock);
}
