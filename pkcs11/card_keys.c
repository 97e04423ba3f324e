/*
 * Keys and certificates put on the card, or taken off it: C_GenerateKeyPair
 * (GENERATE ASYMMETRIC KEY PAIR), C_CreateObject for a certificate (PUT DATA
 * into its slot) or a private key (YubiKey IMPORT KEY), C_DestroyObject
 * (an empty certificate object; YubiKey 5.7 DELETE KEY). Each write runs in
 * one PC/SC transaction with the management-key authentication that allows
 * it (card_admin.c), in a read-write session of a logged-in user.
 *
 * Slots: CKA_ID names the slot as the listing does (01 9A, 02 9C, 03 9D,
 * 04 9E, retired keys as card_slot_id() maps them); without CKA_ID a new key
 * goes to the first empty slot of 9A, 9C, 9D, 9E, then 82..95, and a
 * certificate to the slot whose key it certifies.
 *
 * Nothing is lost by accident: a key is never generated or imported over
 * one the slot holds (the card keeps no copy of the old one) unless the
 * template says CKA_SIGNET_REPLACE = TRUE. A new key empties its slot's
 * certificate object, which belonged to the key it replaced. After a write
 * the slot is read from the card again, as a listing reads it, and the
 * objects and the cache follow.
 */
#include "pkcs11/card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/tlv.h"
#include "crypto/ecdsa.h"
#include "crypto/wipe.h"
#include "pkcs11/key_policy.h"
#include "pkcs11/log.h"

#define GENERATE_MAX 1536
#define RETIRED_SLOTS 20

/* What the caller asked of a new key. */
struct key_request {
	uint8_t alg;
	int id;                  /* CKA_ID, -1 when not given */
	uint8_t pin_policy;      /* PIV values, 0: the slot's default */
	uint8_t touch_policy;
	bool replace;
};

/* ---- reading templates ---- */

/* CKA_ID: one byte, or absent (-1). */
static CK_RV read_id(const struct attr_list *l, int *id)
{
	const CK_ATTRIBUTE *a = attrs_find(l, CKA_ID);

	*id = -1;
	if (a == NULL)
		return CKR_OK;
	if (a->ulValueLen != 1) {
		log_msg(LL_WARNING, "a CKA_ID of %lu bytes names no key slot of a card", (unsigned long)a->ulValueLen);
		return CKR_TEMPLATE_INCONSISTENT;
	}
	*id = ((const CK_BYTE *)a->pValue)[0];
	return CKR_OK;
}

static CK_RV read_policy(const struct attr_list *l, CK_ATTRIBUTE_TYPE type, uint8_t *out)
{
	CK_ULONG v;

	if (attrs_find(l, type) == NULL)
		return CKR_OK;
	if (!attrs_get_ulong(l, type, &v) || v > 3)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	*out = (uint8_t)v;
	return CKR_OK;
}

/* CKA_ID, the vendor attributes, and CKA_TOKEN, which must not ask for a session object. */
static CK_RV read_request(const struct attr_list *l, struct key_request *r)
{
	bool on_token = true, replace = false;
	int id;
	CK_RV rv = read_id(l, &id);

	if (rv == CKR_OK && id >= 0) {
		if (r->id >= 0 && r->id != id)
			rv = CKR_TEMPLATE_INCONSISTENT;
		r->id = id;
	}
	if (rv == CKR_OK)
		rv = read_policy(l, CKA_SIGNET_PIN_POLICY, &r->pin_policy);
	if (rv == CKR_OK)
		rv = read_policy(l, CKA_SIGNET_TOUCH_POLICY, &r->touch_policy);
	if (rv == CKR_OK && attrs_find(l, CKA_SIGNET_REPLACE) != NULL) {
		if (!attrs_get_bool(l, CKA_SIGNET_REPLACE, &replace))
			rv = CKR_ATTRIBUTE_VALUE_INVALID;
		r->replace = r->replace || replace;
	}
	if (rv == CKR_OK && attrs_get_bool(l, CKA_TOKEN, &on_token) && !on_token) {
		log_msg(LL_WARNING, "a card holds token objects only: CKA_TOKEN FALSE refused");
		rv = CKR_TEMPLATE_INCONSISTENT;
	}
	return rv;
}

static uint8_t rsa_alg(size_t bits)
{
	switch (bits) {
	case 1024: return PIV_ALG_RSA1024;
	case 2048: return PIV_ALG_RSA2048;
	case 3072: return PIV_ALG_RSA3072;
	case 4096: return PIV_ALG_RSA4096;
	default: return 0;
	}
}

/* PIV keys have the public exponent 65537. */
static CK_RV check_exponent(const struct attr_list *l)
{
	static const CK_BYTE f4[] = { 0x01, 0x00, 0x01 };
	const CK_ATTRIBUTE *a = attrs_find(l, CKA_PUBLIC_EXPONENT);
	const CK_BYTE *e;
	CK_ULONG n;

	if (a == NULL)
		return CKR_OK;
	e = a->pValue;
	n = a->ulValueLen;
	while (n > 0 && e[0] == 0) {
		e++;
		n--;
	}
	if (n == sizeof(f4) && memcmp(e, f4, n) == 0)
		return CKR_OK;
	log_msg(LL_WARNING, "a card key has the public exponent 65537: another one refused");
	return CKR_TEMPLATE_INCONSISTENT;
}

/* The curve CKA_EC_PARAMS names (its OID or PKCS#11 3.0's printable name), as a PIV algorithm (0: none a card has). */
static uint8_t curve_alg(const CK_ATTRIBUTE *a)
{
	enum cr_curve curve = CR_CURVE_NONE;

	if (cr_curve_from_params(a->pValue, a->ulValueLen, &curve) != 0)
		return 0;
	switch (curve) {
	case CR_CURVE_P256: return PIV_ALG_ECCP256;
	case CR_CURVE_P384: return PIV_ALG_ECCP384;
	case CR_CURVE_ED25519: return PIV_ALG_ED25519;
	case CR_CURVE_X25519: return PIV_ALG_X25519;
	default: return 0;
	}
}

/* The algorithm a key-pair mechanism and its public template ask for. */
static CK_RV generated_alg(const CK_MECHANISM *mech, const struct attr_list *pub, uint8_t *alg)
{
	const CK_ATTRIBUTE *params = attrs_find(pub, CKA_EC_PARAMS);
	CK_ULONG bits = 0;
	CK_RV rv;

	if (mech->pParameter != NULL || mech->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	switch (mech->mechanism) {
	case CKM_RSA_PKCS_KEY_PAIR_GEN:
		if (!attrs_get_ulong(pub, CKA_MODULUS_BITS, &bits))
			return CKR_TEMPLATE_INCOMPLETE;
		rv = check_exponent(pub);
		*alg = rsa_alg(bits);
		return rv != CKR_OK ? rv : *alg != 0 ? CKR_OK : CKR_KEY_SIZE_RANGE;
	case CKM_EC_KEY_PAIR_GEN:
		if (params == NULL)
			return CKR_TEMPLATE_INCOMPLETE;
		*alg = curve_alg(params);
		return *alg == PIV_ALG_ECCP256 || *alg == PIV_ALG_ECCP384 ? CKR_OK : CKR_CURVE_NOT_SUPPORTED;
	case CKM_EC_EDWARDS_KEY_PAIR_GEN:
		*alg = PIV_ALG_ED25519;
		return params == NULL || curve_alg(params) == PIV_ALG_ED25519 ? CKR_OK : CKR_CURVE_NOT_SUPPORTED;
	case CKM_EC_MONTGOMERY_KEY_PAIR_GEN:
		*alg = PIV_ALG_X25519;
		return params == NULL || curve_alg(params) == PIV_ALG_X25519 ? CKR_OK : CKR_CURVE_NOT_SUPPORTED;
	default:
		return CKR_MECHANISM_INVALID;
	}
}

/* ---- slots ---- */

static struct card_key *slot_of_id(struct token *t, int id)
{
	for (int i = 0; i < CARD_KEY_SLOTS; i++)
		if (card_slot_id(card_key_slot_at(i)) == id)
			return &t->keys[i];
	return NULL;
}

/* The slot CKA_ID names, else the first without a key. */
static CK_RV choose_slot(struct token *t, int id, struct card_key **out)
{
	*out = NULL;
	if (id >= 0) {
		*out = slot_of_id(t, id);
		if (*out == NULL) {
			log_msg(LL_WARNING, "CKA_ID %02X names no key slot of the card in %s", id, t->reader);
			return CKR_TEMPLATE_INCONSISTENT;
		}
		return CKR_OK;
	}
	for (int i = 0; i < CARD_KEY_SLOTS && *out == NULL; i++)
		if (!t->keys[i].has_key)
			*out = &t->keys[i];
	if (*out != NULL)
		return CKR_OK;
	log_msg(LL_WARNING, "every key slot of the card in %s holds a key: name one with CKA_ID", t->reader);
	return CKR_DEVICE_MEMORY;
}

/* The subject's common name of the slot's certificate, for log lines. */
static void cert_name(const struct card_key *k, char *out, size_t size)
{
	struct cr_cert c;

	if (k->cert.len == 0 || cr_cert_parse(k->cert.data, k->cert.len, &c) != 0) {
		snprintf(out, size, "no certificate");
		return;
	}
	snprintf(out, size, "CN=%s", c.cn != NULL ? c.cn : "(none)");
	cr_cert_clear(&c);
}

static CK_RV refuse_replacing(struct token *t, const struct card_key *k)
{
	char name[96];

	cert_name(k, name, sizeof(name));
	log_msg(LL_WARNING, "slot %02X of the card in %s holds a key (%s): not replaced, which would destroy it; "
		"CKA_SIGNET_REPLACE = TRUE asks for it", k->slot, t->reader, name);
	return CKR_ACTION_PROHIBITED;
}

/* Asks the card whether a slot the listing shows empty holds a key now (GET METADATA; other cards cannot tell). */
static int taken_on_card(struct token *t, const struct card_key *k, bool *taken)
{
	uint8_t buf[CARD_METADATA_MAX];
	struct piv_metadata md;
	int rc;

	*taken = false;
	if (t->metadata != 1)
		return PIV_OK;
	rc = piv_get_metadata(&t->piv, k->slot, buf, sizeof(buf), &md);
	if (rc == PIV_E_NOT_FOUND)
		return PIV_OK;
	*taken = rc == PIV_OK;
	return rc;
}

/* ---- writing ---- */

/* A retired slot is listed only as far as the key history object counts it (card_objects.c). */
static int count_retired(struct token *t, uint8_t slot)
{
	int index = card_key_index(slot) - 4, on_card, off_card, rc;
	uint8_t on, off;
	struct buf b;

	if (index < 0)
		return PIV_OK;
	rc = card_key_history(t, &on_card, &off_card);
	if (rc != PIV_OK && rc != PIV_E_MALFORMED) /* a malformed one is written anew */
		return rc;
	if (on_card > index)
		return PIV_OK;
	on_card = index + 1;
	if (on_card + off_card > RETIRED_SLOTS)
		off_card = RETIRED_SLOTS - on_card;
	on = (uint8_t)on_card;
	off = (uint8_t)off_card;
	buf_init(&b);
	tlv_put(&b, 0xC1, &on, 1);
	tlv_put(&b, 0xC2, &off, 1);
	tlv_put(&b, 0xFE, NULL, 0);
	rc = buf_ok(&b) ? piv_put_data(&t->piv, PIV_OBJ_KEY_HISTORY, b.d, b.len) : PIV_E_NOMEM;
	buf_free(&b);
	return rc;
}

/* A new key in a slot: the certificate object there belonged to the old one. */
static int after_new_key(struct token *t, const struct card_key *k)
{
	int rc = piv_put_data(&t->piv, piv_cert_object(k->slot), NULL, 0);

	return rc == PIV_OK ? count_retired(t, k->slot) : rc;
}

/* The card's answer to a write, as a PKCS#11 result. */
static CK_RV write_failed(struct token *t, const struct card_key *k, const char *what, int rc)
{
	CK_RV rv;

	if (card_left_or_reset(t, rc, &rv))
		return rv;
	switch (rc) {
	case PIV_E_NO_SPACE:
		log_msg(LL_WARNING, "the card in %s has no room to %s slot %02X", t->reader, what, k->slot);
		return CKR_DEVICE_MEMORY;
	case PIV_E_BAD_DATA:
	case PIV_E_NOT_SUPPORTED:
	case PIV_E_INVALID:
		log_msg(LL_WARNING, "the card in %s cannot %s slot %02X: %s", t->reader, what, k->slot,
			piv_rc_name(rc));
		return CKR_FUNCTION_FAILED;
	default:
		log_msg(LL_WARNING, "the card in %s failed to %s slot %02X: %s", t->reader, what, k->slot,
			piv_rc_name(rc));
		return rc == PIV_E_SECURITY ? CKR_FUNCTION_FAILED : card_rv(rc);
	}
}

/*
 * After a write: the slot is read from the card as a listing reads it, the
 * objects are built again (session objects kept) and the cache rewritten.
 * A listing that came from the cache is read anew whole, so that no key
 * goes unconfirmed.
 */
static CK_RV relist(struct token *t, struct card_key *k)
{
	card_drop_card_objects(t); /* the session objects stay: card_build_objects keeps them */
	if (t->from_cache) {
		for (int i = 0; i < CARD_KEY_SLOTS; i++)
			card_key_clear(&t->keys[i]);
	} else {
		card_key_clear(k);
	}
	t->inventory = t->built = false;
	return card_load_objects(t);
}

/* The card object of a slot with that class, 0 when there is none. */
static token_ref object_of(const struct token *t, uint8_t slot, CK_OBJECT_CLASS cls)
{
	CK_ULONG c;

	for (size_t i = 0; i < t->nobjs; i++)
		if (t->objs[i].owner == 0 && t->objs[i].slot == slot && attrs_get_ulong(&t->objs[i].attrs, CKA_CLASS, &c) &&
		    c == cls)
			return t->objs[i].ref;
	return 0;
}

/* What every write needs: a read-write session, the user logged in, and the listing. */
static CK_RV ready_to_write(struct token *t, const void *ss)
{
	CK_RV rv;

	if (!card_session_rw(ss))
		return CKR_SESSION_READ_ONLY;
	if (t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	rv = card_ready(t);
	if (rv == CKR_OK)
		rv = card_load_objects(t);
	/* Whether a slot is free, and which key a certificate is for, is the card's word, not a certificate's. */
	return rv == CKR_OK ? card_describe_keys(t) : rv;
}

typedef int key_writer(struct token *t, struct card_key *k, const struct key_request *r, void *ctx);

/*
 * A new key into the slot the request names: refused over a key unless the
 * request says replace, written inside the management-key transaction, the
 * slot listed again. *k is the slot written.
 */
static CK_RV put_key(struct token *t, struct key_request *r, const char *what, key_writer *write, void *ctx,
		     struct card_key **out)
{
	struct card_key *k = NULL;
	bool taken = false;
	CK_RV rv = choose_slot(t, r->id, &k);
	int rc;

	if (rv == CKR_OK && k->has_key && !r->replace)
		rv = refuse_replacing(t, k);
	if (rv == CKR_OK)
		rv = card_admin_begin(t);
	if (rv != CKR_OK)
		return rv;
	rc = r->replace ? PIV_OK : taken_on_card(t, k, &taken);
	if (rc == PIV_OK && taken) {
		log_msg(LL_WARNING, "slot %02X of the card in %s holds a key another program put there: not replaced, "
			"which would destroy it; CKA_SIGNET_REPLACE = TRUE asks for it", k->slot, t->reader);
		rv = CKR_ACTION_PROHIBITED;
	}
	if (rc == PIV_OK && rv == CKR_OK)
		rc = write(t, k, r, ctx);
	if (rc == PIV_OK && rv == CKR_OK)
		rc = after_new_key(t, k);
	card_admin_end(t);
	if (rc != PIV_OK)
		return write_failed(t, k, what, rc);
	if (rv != CKR_OK)
		return rv;
	log_msg(LL_INFO, "the card in %s has a new key in slot %02X", t->reader, k->slot);
	card_slot_rewritten(t, k->slot, true, true); /* the certificate object was emptied with it */
	*out = k;
	return relist(t, k);
}

/* ---- C_GenerateKeyPair ---- */

static int generate(struct token *t, struct card_key *k, const struct key_request *r, void *ctx)
{
	uint8_t buf[GENERATE_MAX];
	struct piv_pubkey pk;

	(void)ctx;
	return piv_generate(&t->piv, k->slot, r->alg, r->pin_policy, r->touch_policy, buf, sizeof(buf), &pk);
}

static CK_RV generate_request(const CK_MECHANISM *mech, const CK_ATTRIBUTE *pub_tmpl, CK_ULONG pub_count,
			      const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count, struct key_request *r)
{
	struct attr_list pub, priv;
	CK_RV rv = attrs_from_template(&pub, pub_tmpl, pub_count);

	if (rv != CKR_OK)
		return rv;
	rv = attrs_from_template(&priv, priv_tmpl, priv_count);
	if (rv == CKR_OK)
		rv = generated_alg(mech, &pub, &r->alg);
	if (rv == CKR_OK)
		rv = read_request(&pub, r);
	if (rv == CKR_OK)
		rv = read_request(&priv, r);
	if (rv == CKR_OK)
		rv = keys_check_no_weakening(priv_tmpl, priv_count, CKR_TEMPLATE_INCONSISTENT);
	attrs_free(&pub);
	attrs_free(&priv);
	return rv;
}

CK_RV card_generate_key_pair(struct token *t, void *ss, const CK_MECHANISM *mech, const CK_ATTRIBUTE *pub_tmpl,
			     CK_ULONG pub_count, const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count, token_ref *pub,
			     token_ref *priv)
{
	struct key_request r = { .id = -1 };
	struct card_key *k = NULL;
	CK_RV rv = generate_request(mech, pub_tmpl, pub_count, priv_tmpl, priv_count, &r);

	if (rv != CKR_OK)
		return rv;
	rv = card_enter(t, ss);
	if (rv != CKR_OK)
		return rv;
	rv = ready_to_write(t, ss);
	if (rv == CKR_OK)
		rv = put_key(t, &r, "generate a key in", generate, NULL, &k);
	if (rv == CKR_OK) {
		*pub = object_of(t, k->slot, CKO_PUBLIC_KEY);
		*priv = object_of(t, k->slot, CKO_PRIVATE_KEY);
		if (*pub == 0 || *priv == 0) {
			log_msg(LL_WARNING, "the key generated in slot %02X of the card in %s is of a kind signet "
				"cannot show yet", k->slot, t->reader);
			rv = CKR_FUNCTION_FAILED;
		}
	}
	return card_leave(t, rv);
}

/* ---- C_CreateObject: a private key ---- */

struct key_parts {
	struct piv_bytes part[5];
	size_t n;
};

static CK_RV take_part(const struct attr_list *l, CK_ATTRIBUTE_TYPE type, struct key_parts *p)
{
	const CK_ATTRIBUTE *a = attrs_find(l, type);

	if (a == NULL || a->ulValueLen == 0)
		return CKR_TEMPLATE_INCOMPLETE;
	p->part[p->n++] = (struct piv_bytes){ a->pValue, a->ulValueLen };
	return CKR_OK;
}

/* The key's size from CKA_MODULUS, leading zeros aside. */
static size_t modulus_bits(const struct attr_list *l)
{
	const CK_ATTRIBUTE *a = attrs_find(l, CKA_MODULUS);
	const CK_BYTE *m = a != NULL ? a->pValue : NULL;
	size_t n = a != NULL ? a->ulValueLen : 0;

	while (n > 0 && m[0] == 0) {
		m++;
		n--;
	}
	return n * 8;
}

/* PIV imports RSA keys as their CRT parts, the others as their private value. */
static CK_RV import_parts(const struct attr_list *l, uint8_t *alg, struct key_parts *p)
{
	static const CK_ATTRIBUTE_TYPE crt[] = { CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
						 CKA_COEFFICIENT };
	const CK_ATTRIBUTE *params = attrs_find(l, CKA_EC_PARAMS);
	CK_ULONG type;
	CK_RV rv = CKR_OK;

	p->n = 0;
	if (!attrs_get_ulong(l, CKA_KEY_TYPE, &type))
		return CKR_TEMPLATE_INCOMPLETE;
	switch (type) {
	case CKK_RSA:
		*alg = rsa_alg(modulus_bits(l));
		for (size_t i = 0; rv == CKR_OK && i < sizeof(crt) / sizeof(crt[0]); i++)
			rv = take_part(l, crt[i], p);
		if (rv == CKR_TEMPLATE_INCOMPLETE)
			log_msg(LL_WARNING, "a card imports an RSA key from its primes and CRT values: the template "
				"lacks some");
		if (rv == CKR_OK)
			rv = check_exponent(l);
		return rv != CKR_OK ? rv : *alg != 0 ? CKR_OK : CKR_KEY_SIZE_RANGE;
	case CKK_EC:
		if (params == NULL)
			return CKR_TEMPLATE_INCOMPLETE;
		*alg = curve_alg(params);
		if (*alg != PIV_ALG_ECCP256 && *alg != PIV_ALG_ECCP384)
			return CKR_CURVE_NOT_SUPPORTED;
		return take_part(l, CKA_VALUE, p);
	case CKK_EC_EDWARDS:
	case CKK_EC_MONTGOMERY:
		*alg = type == CKK_EC_EDWARDS ? PIV_ALG_ED25519 : PIV_ALG_X25519;
		if (params != NULL && curve_alg(params) != *alg)
			return CKR_CURVE_NOT_SUPPORTED;
		return take_part(l, CKA_VALUE, p);
	default:
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
}

static int import(struct token *t, struct card_key *k, const struct key_request *r, void *ctx)
{
	const struct key_parts *p = ctx;

	return piv_import_key(&t->piv, k->slot, r->alg, p->part, p->n, r->pin_policy, r->touch_policy);
}

static CK_RV create_private_key(struct token *t, const struct attr_list *l, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
				token_ref *obj)
{
	struct key_request r = { .id = -1 };
	struct key_parts parts;
	struct card_key *k = NULL;
	CK_RV rv = import_parts(l, &r.alg, &parts);

	if (rv == CKR_OK)
		rv = read_request(l, &r);
	if (rv == CKR_OK)
		rv = keys_check_no_weakening(tmpl, count, CKR_TEMPLATE_INCONSISTENT);
	if (rv == CKR_OK)
		rv = put_key(t, &r, "import a key into", import, &parts, &k);
	if (rv == CKR_OK && (*obj = object_of(t, k->slot, CKO_PRIVATE_KEY)) == 0) {
		log_msg(LL_WARNING, "the key imported into slot %02X of the card in %s does not show: the card "
			"cannot describe it without a certificate", k->slot, t->reader);
		rv = CKR_FUNCTION_FAILED;
	}
	return rv;
}

/* ---- C_CreateObject: a certificate ---- */

/* The slot CKA_ID names, else the one whose key the certificate certifies. */
static CK_RV certificate_slot(struct token *t, const struct attr_list *l, const struct cr_cert *c,
			      struct card_key **out)
{
	int id;
	CK_RV rv = read_id(l, &id);

	if (rv == CKR_OK && id >= 0)
		rv = choose_slot(t, id, out);
	if (rv == CKR_OK && id >= 0 && !(*out)->has_key) {
		log_msg(LL_WARNING, "slot %02X of the card in %s holds no key: a certificate there would certify "
			"nothing; not written", (*out)->slot, t->reader);
		rv = CKR_TEMPLATE_INCONSISTENT;
	}
	if (rv != CKR_OK || id >= 0)
		return rv;
	for (int i = 0; i < CARD_KEY_SLOTS; i++) {
		if (t->keys[i].has_key && card_same_public_key(&t->keys[i].spki, &c->key.spki)) {
			*out = &t->keys[i];
			return CKR_OK;
		}
	}
	log_msg(LL_WARNING, "no key on the card in %s matches the certificate (CN=%s): not written; CKA_ID names "
		"a slot for it", t->reader, c->cn != NULL ? c->cn : "(none)");
	return CKR_TEMPLATE_INCONSISTENT;
}

/* The certificate object's content: 70 <certificate> 71 00 (not compressed) FE (no LRC). */
static int put_certificate(struct token *t, const struct card_key *k, const CK_ATTRIBUTE *value)
{
	static const uint8_t info[] = { 0x00 };
	struct buf b;
	int rc;

	buf_init(&b);
	tlv_put(&b, 0x70, value->pValue, value->ulValueLen);
	tlv_put(&b, 0x71, info, sizeof(info));
	tlv_put(&b, 0xFE, NULL, 0);
	rc = buf_ok(&b) ? piv_put_data(&t->piv, piv_cert_object(k->slot), b.d, b.len) : PIV_E_NOMEM;
	buf_free(&b);
	return rc == PIV_OK ? count_retired(t, k->slot) : rc;
}

static CK_RV create_certificate(struct token *t, const struct attr_list *l, token_ref *obj)
{
	const CK_ATTRIBUTE *value = attrs_find(l, CKA_VALUE);
	struct key_request r = { .id = -1 };
	struct card_key *k = NULL;
	struct cr_cert c;
	CK_ULONG type = CKC_X_509;
	CK_RV rv;
	int rc;

	if (attrs_find(l, CKA_CERTIFICATE_TYPE) != NULL && (!attrs_get_ulong(l, CKA_CERTIFICATE_TYPE, &type) ||
							    type != CKC_X_509))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (value == NULL || value->ulValueLen == 0)
		return CKR_TEMPLATE_INCOMPLETE;
	if (cr_cert_parse(value->pValue, value->ulValueLen, &c) != 0) {
		log_msg(LL_WARNING, "a certificate for the card in %s cannot be parsed: not written", t->reader);
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	rv = read_request(l, &r);
	if (rv == CKR_OK)
		rv = certificate_slot(t, l, &c, &k);
	cr_cert_clear(&c);
	if (rv == CKR_OK)
		rv = card_admin_begin(t);
	if (rv != CKR_OK)
		return rv;
	rc = put_certificate(t, k, value);
	card_admin_end(t);
	if (rc != PIV_OK)
		return write_failed(t, k, "write the certificate of", rc);
	card_slot_rewritten(t, k->slot, false, true);
	rv = relist(t, k);
	if (rv == CKR_OK && (*obj = object_of(t, k->slot, CKO_CERTIFICATE)) == 0) {
		log_msg(LL_WARNING, "the certificate written to slot %02X of the card in %s does not show: the slot "
			"holds no key", k->slot, t->reader);
		rv = CKR_FUNCTION_FAILED;
	}
	return rv;
}

/* ---- C_CreateObject: a public key ---- */

/* Whether the object holds the template's value of type (both present and equal). */
static bool same_value(const struct attr_list *tmpl, const struct attr_list *obj, CK_ATTRIBUTE_TYPE type)
{
	const CK_ATTRIBUTE *a = attrs_find(tmpl, type), *b = attrs_find(obj, type);

	return a != NULL && b != NULL && a->ulValueLen == b->ulValueLen && a->ulValueLen > 0 &&
	       memcmp(a->pValue, b->pValue, a->ulValueLen) == 0;
}

static bool same_public_key(const struct attr_list *tmpl, const struct attr_list *obj)
{
	return (same_value(tmpl, obj, CKA_MODULUS) && same_value(tmpl, obj, CKA_PUBLIC_EXPONENT)) ||
	       (same_value(tmpl, obj, CKA_EC_PARAMS) && same_value(tmpl, obj, CKA_EC_POINT));
}

/*
 * A card keeps no public key of its own: each is derived from the private
 * key in its slot. Writing the public key of a key the card holds (as
 * pkcs11-tool and key-import tools do after the private key) names that
 * object; any other is refused.
 */
static CK_RV create_public_key(struct token *t, const struct attr_list *l, token_ref *obj)
{
	int id;
	CK_ULONG cls;
	CK_RV rv = read_id(l, &id);

	if (rv != CKR_OK)
		return rv;
	for (size_t i = 0; i < t->nobjs; i++) {
		const struct card_obj *o = &t->objs[i];

		if (o->owner != 0 || !attrs_get_ulong(&o->attrs, CKA_CLASS, &cls) || cls != CKO_PUBLIC_KEY ||
		    (id >= 0 && card_slot_id(o->slot) != id) || !same_public_key(l, &o->attrs))
			continue;
		*obj = o->ref;
		log_msg(LL_INFO, "the public key written is that of the key in slot %02X of the card in %s: its "
			"object stands for it", o->slot, t->reader);
		return CKR_OK;
	}
	log_msg(LL_WARNING, "no key on the card in %s has the public key written%s: a card holds a public key only "
		"with its private key", t->reader, id >= 0 ? " under that CKA_ID" : "");
	return CKR_TEMPLATE_INCONSISTENT;
}

CK_RV card_create_object(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref *obj)
{
	struct attr_list l;
	CK_ULONG cls;
	CK_RV rv = attrs_from_template(&l, tmpl, count);

	if (rv != CKR_OK)
		return rv;
	if (!attrs_get_ulong(&l, CKA_CLASS, &cls))
		rv = CKR_TEMPLATE_INCOMPLETE;
	else if (cls != CKO_CERTIFICATE && cls != CKO_PRIVATE_KEY && cls != CKO_PUBLIC_KEY)
		rv = CKR_ATTRIBUTE_VALUE_INVALID; /* a card holds key pairs and their certificates */
	if (rv == CKR_OK)
		rv = card_enter(t, ss);
	if (rv != CKR_OK) {
		attrs_free(&l);
		return rv;
	}
	rv = ready_to_write(t, ss);
	if (rv == CKR_OK)
		rv = cls == CKO_CERTIFICATE ? create_certificate(t, &l, obj)
		     : cls == CKO_PUBLIC_KEY ? create_public_key(t, &l, obj)
					     : create_private_key(t, &l, tmpl, count, obj);
	attrs_free(&l);
	return card_leave(t, rv);
}

/* ---- C_DestroyObject ---- */

static CK_RV destroy_card_object(struct token *t, const struct card_obj *o)
{
	struct card_key *k = card_key_of_slot(t, o->slot);
	CK_ULONG cls = 0;
	CK_RV rv;
	int rc;

	attrs_get_ulong(&o->attrs, CKA_CLASS, &cls);
	if (k == NULL)
		return CKR_OBJECT_HANDLE_INVALID;
	if (cls == CKO_PUBLIC_KEY) {
		log_msg(LL_WARNING, "the public key of slot %02X of the card in %s goes with its private key: "
			"not destroyed alone", k->slot, t->reader);
		return CKR_ACTION_PROHIBITED;
	}
	if (cls == CKO_PRIVATE_KEY && !card_deletes_keys(t)) {
		log_msg(LL_WARNING, "the card in %s cannot delete the key in slot %02X (a YubiKey 5.7 can); "
			"a new key replaces it (CKA_SIGNET_REPLACE)", t->reader, k->slot);
		return CKR_ACTION_PROHIBITED;
	}
	rv = card_admin_begin(t);
	if (rv != CKR_OK)
		return rv;
	rc = cls == CKO_PRIVATE_KEY ? piv_delete_key(&t->piv, k->slot) : piv_put_data(&t->piv, piv_cert_object(k->slot),
										     NULL, 0);
	card_admin_end(t);
	if (rc != PIV_OK)
		return write_failed(t, k, cls == CKO_PRIVATE_KEY ? "delete the key in" : "empty the certificate of", rc);
	log_msg(LL_INFO, "the card in %s: %s of slot %02X deleted", t->reader,
		cls == CKO_PRIVATE_KEY ? "the key" : "the certificate", k->slot);
	card_slot_rewritten(t, k->slot, cls == CKO_PRIVATE_KEY, cls == CKO_CERTIFICATE);
	return relist(t, k);
}

CK_RV card_destroy_object(struct token *t, void *ss, token_ref obj)
{
	struct card_obj *o;
	CK_RV rv = card_enter(t, ss);

	if (rv != CKR_OK)
		return rv;
	o = card_obj_find(t, obj);
	if (o == NULL || !card_obj_visible(t, o, card_session_id(ss)))
		rv = CKR_OBJECT_HANDLE_INVALID;
	else if (o->owner != 0) {
		attrs_free(&o->attrs);
		*o = t->objs[--t->nobjs];
	} else if (!card_session_rw(ss))
		rv = CKR_SESSION_READ_ONLY;
	else if (t->login != CKU_USER)
		rv = CKR_USER_NOT_LOGGED_IN;
	else if ((rv = card_ready(t)) == CKR_OK)
		rv = destroy_card_object(t, o);
	return card_leave(t, rv);
}
