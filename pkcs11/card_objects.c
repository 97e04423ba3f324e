/*
 * The card's objects, made from bytes the card holds: for each key slot
 * with a key, a public key and a private key, and the slot's certificate.
 * keys[] is the inventory (what the card or the cache said); objs[] are
 * the attribute lists built from it with the attribute engine.
 *
 * APDUs for a listing of a card the cache does not know: GET METADATA of
 * 9A, 9C, 9D and 9E (which says whether a key is there, its public key and
 * its PIN policy), the certificate of each slot with a key, and the key
 * history object (which says how many retired slots hold certificates).
 * A card without GET METADATA has every certificate of 9A..9E read
 * instead, and a key is assumed behind each certificate. A certificate
 * in a slot without a key is not read: nothing could use it here.
 */
#include "pkcs11/card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/ecdsa.h"
#include "crypto/wipe.h"
#include "pkcs11/log.h"


/* token_ref of a card object: the PIV slot and which of its objects. */
enum obj_kind { KIND_CERT = 1, KIND_PUBLIC = 2, KIND_PRIVATE = 3 };
/* gen: the slot's key or certificate generation (14 bits: refs stay below the attestation and session ranges). */
#define CARD_REF(slot, kind, gen) (((token_ref)(gen) & 0x3FFF) << 12 | (token_ref)(slot) << 4 | (kind))

static uint8_t slot_at(int i)
{
	static const uint8_t first[] = { PIV_SLOT_AUTH, PIV_SLOT_SIGN, PIV_SLOT_KEYMGMT, PIV_SLOT_CARDAUTH };

	return i < 4 ? first[i] : (uint8_t)(0x82 + i - 4);
}

uint8_t card_key_slot_at(int index)
{
	return slot_at(index);
}

int card_key_index(uint8_t slot)
{
	for (int i = 0; i < CARD_KEY_SLOTS; i++)
		if (slot_at(i) == slot)
			return i;
	return -1;
}

struct card_key *card_key_of_slot(struct token *t, uint8_t slot)
{
	int i = card_key_index(slot);

	return i < 0 ? NULL : &t->keys[i];
}

void card_slot_rewritten(struct token *t, uint8_t slot, bool key, bool cert)
{
	int i = card_key_index(slot);

	if (i < 0)
		return;
	if (key)
		t->key_gen[i]++;
	if (cert)
		t->cert_gen[i]++;
}

uint8_t card_slot_id(uint8_t slot)
{
	unsigned n;

	switch (slot) {
	case PIV_SLOT_AUTH: return 0x01;
	case PIV_SLOT_SIGN: return 0x02;
	case PIV_SLOT_KEYMGMT: return 0x03;
	case PIV_SLOT_CARDAUTH: return 0x04;
	default:
		/* OpenSC writes retired key n as the hex digits of n + 4 ("05".."24"). */
		n = (unsigned)(slot - 0x82) + 5;
		return (uint8_t)((n / 10) << 4 | (n % 10));
	}
}

static void slot_label(uint8_t slot, char *out, size_t size)
{
	switch (slot) {
	case PIV_SLOT_AUTH: snprintf(out, size, "PIV Authentication"); break;
	case PIV_SLOT_SIGN: snprintf(out, size, "Digital Signature"); break;
	case PIV_SLOT_KEYMGMT: snprintf(out, size, "Key Management"); break;
	case PIV_SLOT_CARDAUTH: snprintf(out, size, "Card Authentication"); break;
	default: snprintf(out, size, "Retired Key Management %d", slot - 0x82 + 1); break;
	}
}

void card_bytes_free(struct cr_bytes *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

CK_RV card_bytes_set(struct cr_bytes *b, const uint8_t *p, size_t n)
{
	card_bytes_free(b);
	if (n == 0)
		return CKR_OK;
	b->data = malloc(n);
	if (b->data == NULL)
		return CKR_HOST_MEMORY;
	memcpy(b->data, p, n);
	b->len = n;
	return CKR_OK;
}

void card_key_clear(struct card_key *k)
{
	uint8_t slot = k->slot;

	card_bytes_free(&k->cert);
	card_bytes_free(&k->spki);
	card_bytes_free(&k->attest);
	*k = (struct card_key){ .slot = slot, .pin_policy = -1, .touch_policy = -1, .origin = -1 };
}

void card_free_objects(struct token *t)
{
	for (size_t i = 0; i < t->nobjs; i++)
		attrs_free(&t->objs[i].attrs);
	free(t->objs);
	t->objs = NULL;
	t->nobjs = t->capobjs = 0;
	for (int i = 0; i < CARD_KEY_SLOTS; i++) {
		t->keys[i].slot = slot_at(i);
		card_key_clear(&t->keys[i]);
	}
	card_bytes_free(&t->attest_ca);
	t->attest_ca_read = false;
	t->inventory = t->from_cache = t->built = false;
}

/* ---- reading the card ---- */

int card_read_cert(struct token *t, struct card_key *k)
{
	const uint8_t *der;
	size_t len = 0, der_len;
	struct cr_cert c;
	bool compressed;
	uint8_t *buf;
	int rc;

	if (k->cert_read)
		return PIV_OK;
	buf = malloc(PIV_OBJECT_MAX);
	if (buf == NULL)
		return PIV_E_NOMEM;
	rc = piv_get_data(&t->piv, piv_cert_object(k->slot), buf, PIV_OBJECT_MAX, &len);
	if (rc == PIV_E_NOT_FOUND) {
		rc = PIV_OK;
		len = 0;
	}
	if (rc != PIV_OK)
		goto out;
	k->cert_read = true;
	card_bytes_free(&k->cert);
	if (len == 0)
		goto out;
	if (piv_parse_cert_object(buf, len, &der, &der_len, &compressed) != PIV_OK) {
		log_msg(LL_WARNING, "certificate object of slot %02X on the card in %s is malformed: not shown",
			k->slot, t->reader);
		goto out;
	}
	if (compressed) {
		log_msg(LL_WARNING, "certificate of slot %02X on the card in %s is compressed: not shown", k->slot,
			t->reader);
		goto out;
	}
	if (cr_cert_parse(der, der_len, &c) != 0) {
		log_msg(LL_WARNING, "certificate of slot %02X on the card in %s cannot be parsed: not shown",
			k->slot, t->reader);
		goto out;
	}
	cr_cert_clear(&c);
	if (card_bytes_set(&k->cert, der, der_len) != CKR_OK)
		rc = PIV_E_NOMEM;
out:
	free(buf);
	return rc;
}

/* The curve of a PIV elliptic-curve algorithm; CR_CURVE_NONE for RSA and anything unknown. */
static enum cr_curve curve_of_alg(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_ECCP256: return CR_CURVE_P256;
	case PIV_ALG_ECCP384: return CR_CURVE_P384;
	case PIV_ALG_ED25519: return CR_CURVE_ED25519;
	case PIV_ALG_X25519: return CR_CURVE_X25519;
	default: return CR_CURVE_NONE;
	}
}

/* A public key as GET METADATA or GENERATE give it, as SubjectPublicKeyInfo. */
static int spki_from_card(uint8_t alg, const uint8_t *p, size_t n, struct cr_bytes *out)
{
	struct piv_pubkey pk;
	enum cr_curve curve = curve_of_alg(alg);
	uint8_t *der = NULL;
	size_t len = 0;
	int rc = piv_parse_pubkey(alg, p, n, &pk);

	if (rc != PIV_OK)
		return rc;
	if (pk.modulus != NULL)
		rc = cr_spki_from_rsa(pk.modulus, pk.modulus_len, pk.exponent, pk.exponent_len, &der, &len);
	else if (curve != CR_CURVE_NONE)
		rc = cr_spki_from_ec(curve, pk.point, pk.point_len, &der, &len);
	else
		return PIV_E_NOT_SUPPORTED;
	if (rc != 0)
		return PIV_E_MALFORMED;
	card_bytes_free(out);
	out->data = der;
	out->len = len;
	return PIV_OK;
}

/* What GET METADATA says of a key slot; t->metadata drops to 0 on a card that does not answer it. */
static int read_key_metadata(struct token *t, struct card_key *k, struct piv_metadata *md, struct cr_bytes *spki)
{
	uint8_t buf[CARD_METADATA_MAX];
	int rc;

	/* What a card that says nothing leaves: no key, no policy, no origin. */
	*md = (struct piv_metadata){ .alg = -1, .pin_policy = -1, .touch_policy = -1, .origin = -1 };
	rc = piv_get_metadata(&t->piv, k->slot, buf, sizeof(buf), md);
	if (rc == PIV_E_NOT_FOUND) {
		md->alg = -1;
		return PIV_OK;
	}
	if (rc == PIV_E_NOT_SUPPORTED || rc == PIV_E_BAD_DATA) {
		t->metadata = 0;
		md->alg = -1;
		return PIV_OK;
	}
	if (rc != PIV_OK)
		return rc;
	t->metadata = 1;
	rc = spki_from_card((uint8_t)md->alg, md->pubkey, md->pubkey_len, spki);
	if (rc != PIV_OK) {
		log_msg(LL_WARNING, "key in slot %02X on the card in %s: %s; not shown", k->slot, t->reader,
			rc == PIV_E_NOT_SUPPORTED ? "algorithm not supported" : "public key unreadable");
		md->alg = -1;
	}
	return PIV_OK;
}

static int key_from_metadata(struct token *t, struct card_key *k)
{
	struct cr_bytes spki = { NULL, 0 };
	struct piv_metadata md;
	int rc = read_key_metadata(t, k, &md, &spki);

	if (rc != PIV_OK || md.alg < 0)
		return rc;
	k->has_key = true;
	k->described = true;
	k->alg = (uint8_t)md.alg;
	k->pin_policy = md.pin_policy;
	k->touch_policy = md.touch_policy;
	k->origin = md.origin;
	card_bytes_free(&k->spki);
	k->spki = spki;
	return PIV_OK;
}

/* Without GET METADATA the certificate is all the card says of a key. */
static void key_from_cert(struct card_key *k)
{
	struct cr_cert c;

	if (k->cert.len == 0 || cr_cert_parse(k->cert.data, k->cert.len, &c) != 0)
		return;
	if (c.key.type == CR_KEY_RSA)
		k->alg = c.key.bits == 1024 ? PIV_ALG_RSA1024 : c.key.bits == 2048 ? PIV_ALG_RSA2048
			 : c.key.bits == 3072 ? PIV_ALG_RSA3072 : c.key.bits == 4096 ? PIV_ALG_RSA4096 : 0;
	else if (c.key.type == CR_KEY_EC)
		k->alg = c.key.curve == CR_CURVE_P256 ? PIV_ALG_ECCP256 : c.key.curve == CR_CURVE_P384 ? PIV_ALG_ECCP384
											 : 0;
	else if (c.key.type == CR_KEY_ED25519)
		k->alg = PIV_ALG_ED25519;
	else if (c.key.type == CR_KEY_X25519)
		k->alg = PIV_ALG_X25519;
	if (k->alg != 0 && card_bytes_set(&k->spki, c.key.spki.data, c.key.spki.len) == CKR_OK)
		k->has_key = true;
	cr_cert_clear(&c);
}

/*
 * The slots a CA's enrolment fills (PIV authentication, digital signature)
 * and the retired slots the key history counts as holding certificates:
 * there the certificate is read first and names the key, whose metadata
 * waits until something needs it (card_describe_key), so a listing costs
 * one APDU per such slot. Elsewhere GET METADATA first says whether there
 * is a key at all, which for an empty slot is the only read.
 */
static bool certificate_first(uint8_t slot)
{
	return slot == PIV_SLOT_AUTH || slot == PIV_SLOT_SIGN || (slot >= 0x82 && slot <= 0x95);
}

static int read_slot(struct token *t, struct card_key *k)
{
	int rc = PIV_OK;

	if (t->metadata == 1 && certificate_first(k->slot)) {
		rc = card_read_cert(t, k);
		if (rc == PIV_OK && !k->has_key)
			key_from_cert(k);
		if (rc == PIV_OK && !k->has_key)
			rc = key_from_metadata(t, k); /* no usable certificate: a key made but not yet certified? */
		return rc;
	}
	if (t->metadata != 0 && !k->has_key)
		rc = key_from_metadata(t, k);
	if (rc == PIV_OK && (t->metadata == 0 || k->has_key))
		rc = card_read_cert(t, k);
	if (rc == PIV_OK && t->metadata == 0 && !k->has_key) {
		key_from_cert(k);
		k->described = true; /* the certificate is all such a card says */
	}
	return rc;
}

int card_key_history(struct token *t, int *on_card, int *off_card)
{
	/* C1, C2, an F3 URL of up to 118 bytes, FE: well inside this. */
	uint8_t buf[256];
	size_t len = 0;
	int rc = piv_get_data(&t->piv, PIV_OBJ_KEY_HISTORY, buf, sizeof(buf), &len);

	*on_card = *off_card = 0;
	if (rc == PIV_E_NOT_FOUND)
		return PIV_OK;
	if (rc == PIV_OK && piv_parse_key_history(buf, len, on_card, off_card) != PIV_OK) {
		*on_card = *off_card = 0;
		return PIV_E_MALFORMED;
	}
	return rc;
}

/* Retired slots are read only as far as the key history object says they are used. */
static int read_retired(struct token *t)
{
	int on_card, off_card;
	int rc = card_key_history(t, &on_card, &off_card);

	if (rc == PIV_E_MALFORMED) {
		log_msg(LL_WARNING, "key history object on the card in %s is malformed: retired keys not shown",
			t->reader);
		return PIV_OK;
	}
	for (int i = 0; i < on_card && rc == PIV_OK; i++)
		rc = read_slot(t, &t->keys[4 + i]);
	return rc;
}

static int read_inventory(struct token *t)
{
	int rc = PIV_OK;

	for (int i = 0; i < 4 && rc == PIV_OK; i++)
		rc = read_slot(t, &t->keys[i]);
	if (rc == PIV_OK)
		rc = read_retired(t);
	return rc;
}

CK_RV card_load_objects(struct token *t)
{
	CK_RV rv = card_ready(t);
	int rc = PIV_E_CARD_RESET;

	if (rv != CKR_OK)
		return rv;
	for (int attempt = 0; !t->inventory && attempt < 2 && rc == PIV_E_CARD_RESET; attempt++) {
		card_drop_context_auth(t); /* any command between a PIN-always VERIFY and its use spoils it */
		rc = read_inventory(t);
		if (rc == PIV_E_CARD_RESET && (rv = card_after_reset(t, false)) != CKR_OK)
			return rv;
		if (rc == PIV_OK) {
			t->inventory = true;
			t->from_cache = false;
			card_cache_store(t);
		}
	}
	if (!t->inventory) {
		log_msg(LL_WARNING, "cannot list the keys of the card in %s: %s", t->reader, piv_rc_name(rc));
		if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER)
			card_watch_locked(t);
		return card_rv(rc);
	}
	return t->built ? CKR_OK : card_build_objects(t);
}

/* ---- confirming a key from the cache ---- */

static bool same_bytes(const struct cr_bytes *a, const struct cr_bytes *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Whether the card holds what k says: one APDU (the key's metadata, or its certificate). */
static int key_unchanged(struct token *t, struct card_key *k, bool *same)
{
	struct card_key now = { .slot = k->slot };
	struct cr_bytes spki = { NULL, 0 };
	struct piv_metadata md;
	int rc;

	if (t->metadata == 1) {
		rc = read_key_metadata(t, k, &md, &spki);
		*same = rc == PIV_OK && md.alg == k->alg && md.pin_policy == k->pin_policy &&
			card_same_public_key(&spki, &k->spki);
		card_bytes_free(&spki);
		return rc;
	}
	rc = card_read_cert(t, &now);
	*same = rc == PIV_OK && same_bytes(&now.cert, &k->cert);
	card_key_clear(&now);
	return rc;
}

static bool same_pubkey_values(const struct cr_pubkey *a, const struct cr_pubkey *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == CR_KEY_RSA)
		return same_bytes(&a->modulus, &b->modulus) && same_bytes(&a->exponent, &b->exponent);
	return a->curve == b->curve && same_bytes(&a->ec_point, &b->ec_point);
}

bool card_same_public_key(const struct cr_bytes *a, const struct cr_bytes *b)
{
	struct cr_pubkey ka, kb;
	bool same;

	if (same_bytes(a, b))
		return true;
	/* A certificate may encode the key otherwise than the card (RSA parameters left out): compare the values. */
	if (cr_spki_parse(a->data, a->len, &ka) != 0)
		return false;
	if (cr_spki_parse(b->data, b->len, &kb) != 0) {
		cr_pubkey_clear(&ka);
		return false;
	}
	same = same_pubkey_values(&ka, &kb);
	cr_pubkey_clear(&ka);
	cr_pubkey_clear(&kb);
	return same;
}

static bool undescribed(const struct token *t, const struct card_key *k)
{
	return t->metadata == 1 && k->has_key && !k->described;
}

/* The metadata of k's slot, read again after another program reset the card. */
static int read_description(struct token *t, struct card_key *k, struct piv_metadata *md, struct cr_bytes *spki,
			    CK_RV *rv)
{
	int rc = PIV_E_CARD_RESET;

	*rv = CKR_OK;
	for (int attempt = 0; attempt < 2 && rc == PIV_E_CARD_RESET && *rv == CKR_OK; attempt++) {
		card_drop_context_auth(t); /* any command between a PIN-always VERIFY and its use spoils it */
		rc = read_key_metadata(t, k, md, spki);
		if (rc == PIV_E_CARD_RESET)
			*rv = card_after_reset(t, false);
	}
	if (*rv == CKR_OK && rc != PIV_OK) {
		*rv = card_rv(rc);
		if (*rv == CKR_DEVICE_REMOVED)
			card_watch_locked(t);
	}
	return rc;
}

/* Another program changed the card since the cache was written: whatever it lists may be old. */
static CK_RV cache_was_stale(struct token *t, const struct card_key *k)
{
	log_msg(LL_WARNING, "the key in slot %02X of the card in %s is not the one listed: listing the card again",
		k->slot, t->reader);
	card_token_replaced(t);
	return CKR_KEY_HANDLE_INVALID;
}

/* The slot holds another key than its certificate names, or none: its objects are made again from the card's word. */
/* The slot holds another key than its certificate names, or none: k takes the card's word, under new handles. */
static void key_not_the_listed_one(struct token *t, struct card_key *k, const struct piv_metadata *md,
				   struct cr_bytes *spki)
{
	log_msg(LL_WARNING, "slot %02X of the card in %s holds %s: its objects are made again from the card's metadata",
		k->slot, t->reader, md->alg < 0 ? "no key for its certificate" : "another key than its certificate names");
	k->has_key = md->alg >= 0;
	k->alg = md->alg >= 0 ? (uint8_t)md->alg : 0;
	card_bytes_free(&k->spki);
	k->spki = *spki;
	*spki = (struct cr_bytes){ NULL, 0 };
	card_bytes_free(&k->attest); /* it attested the key the certificate named, if any */
	k->attest_read = false;
	card_slot_rewritten(t, k->slot, true, false);
}

/*
 * One GET METADATA for k, into k; *changed when k is to be shown otherwise.
 * CKR_KEY_HANDLE_INVALID when the slot turned out to hold another key, or a
 * listing from the cache turned out stale (then the card is a new token).
 */
static CK_RV describe_one(struct token *t, struct card_key *k, bool *changed)
{
	struct cr_bytes spki = { NULL, 0 };
	struct piv_metadata md;
	CK_RV rv;

	if (!undescribed(t, k))
		return CKR_OK;
	rv = card_ready(t);
	if (rv == CKR_OK)
		read_description(t, k, &md, &spki, &rv);
	if (rv != CKR_OK)
		goto out;
	k->described = true;
	if (t->metadata != 1) /* the card does not answer GET METADATA after all: the certificate says it all */
		goto out;
	if (md.alg < 0 || md.alg != k->alg || !card_same_public_key(&spki, &k->spki)) {
		if (t->from_cache) {
			k->described = false;
			rv = cache_was_stale(t, k);
			goto out;
		}
		key_not_the_listed_one(t, k, &md, &spki);
		rv = CKR_KEY_HANDLE_INVALID;
	} else {
		k->confirmed = true; /* the card was just asked: as good as card_confirm_key's read */
	}
	k->pin_policy = md.pin_policy;
	k->touch_policy = md.touch_policy;
	k->origin = md.origin;
	*changed = true;
out:
	card_bytes_free(&spki);
	return rv;
}

/* keys[] changed: the objects are made again and the cache follows. */
static CK_RV rebuilt(struct token *t, CK_RV rv)
{
	CK_RV built = card_build_objects(t);

	card_cache_store(t);
	return built != CKR_OK ? built : rv;
}

CK_RV card_describe_key(struct token *t, struct card_key *k)
{
	bool changed = false;
	CK_RV rv = describe_one(t, k, &changed);

	return changed ? rebuilt(t, rv) : rv;
}

CK_RV card_describe_keys(struct token *t)
{
	bool changed = false;
	CK_RV rv = CKR_OK;

	for (int i = 0; i < CARD_KEY_SLOTS && (rv == CKR_OK || rv == CKR_KEY_HANDLE_INVALID); i++)
		rv = describe_one(t, &t->keys[i], &changed);
	/* A slot found changed is not an error here; a listing found stale is: the card is a new token. */
	if (rv == CKR_KEY_HANDLE_INVALID)
		rv = t->inventory ? CKR_OK : CKR_DEVICE_REMOVED;
	return changed && t->inventory ? rebuilt(t, rv) : rv;
}

bool card_needs_description(const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++)
		switch (tmpl[i].type) {
		case CKA_LOCAL:
		case CKA_ALWAYS_SENSITIVE:
		case CKA_NEVER_EXTRACTABLE:
		case CKA_ALWAYS_AUTHENTICATE:
			return true;
		default:
			break;
		}
	return false;
}

CK_RV card_confirm_key(struct token *t, struct card_key *k)
{
	bool same = false;
	CK_RV rv;
	int rc;

	if (undescribed(t, k))
		return card_describe_key(t, k); /* the one read describes and confirms */
	if (!t->from_cache || k->confirmed)
		return CKR_OK;
	card_drop_context_auth(t);
	rc = key_unchanged(t, k, &same);
	if (rc == PIV_E_CARD_RESET)
		return card_after_reset(t, true);
	if (rc != PIV_OK) {
		rv = card_rv(rc);
		if (rv == CKR_DEVICE_REMOVED)
			card_watch_locked(t);
		return rv;
	}
	if (!same)
		return cache_was_stale(t, k);
	k->confirmed = true;
	return CKR_OK;
}

/* ---- objects ---- */

struct builder {
	struct attr_list l;
	CK_RV rv;
};

static void put(struct builder *b, CK_ATTRIBUTE_TYPE type, const void *v, size_t n)
{
	if (b->rv == CKR_OK)
		b->rv = attrs_set(&b->l, type, v, (CK_ULONG)n);
}

static void put_bool(struct builder *b, CK_ATTRIBUTE_TYPE type, bool v)
{
	if (b->rv == CKR_OK)
		b->rv = attrs_set_bool(&b->l, type, v);
}

static void put_ulong(struct builder *b, CK_ATTRIBUTE_TYPE type, CK_ULONG v)
{
	if (b->rv == CKR_OK)
		b->rv = attrs_set_ulong(&b->l, type, v);
}

static void put_date(struct builder *b, CK_ATTRIBUTE_TYPE type, const char *yyyymmdd)
{
	CK_DATE d;

	if (strlen(yyyymmdd) != 8) {
		put(b, type, NULL, 0);
		return;
	}
	memcpy(d.year, yyyymmdd, 4);
	memcpy(d.month, yyyymmdd + 4, 2);
	memcpy(d.day, yyyymmdd + 6, 2);
	put(b, type, &d, sizeof(d));
}

CK_RV card_obj_add(struct token *t, token_ref ref, uint8_t slot, unsigned long owner, struct attr_list *l)
{
	struct card_obj *grown;
	bool priv = false;

	if (t->nobjs == t->capobjs) {
		size_t cap = t->capobjs ? 2 * t->capobjs : 16;

		grown = realloc(t->objs, cap * sizeof(*grown));
		if (grown == NULL) {
			attrs_free(l);
			return CKR_HOST_MEMORY;
		}
		t->objs = grown;
		t->capobjs = cap;
	}
	attrs_get_bool(l, CKA_PRIVATE, &priv);
	t->objs[t->nobjs++] = (struct card_obj){ ref, *l, priv, owner, slot };
	return CKR_OK;
}

static CK_RV add_object(struct token *t, token_ref ref, uint8_t slot, struct builder *b)
{
	if (b->rv != CKR_OK) {
		attrs_free(&b->l);
		return b->rv;
	}
	return card_obj_add(t, ref, slot, 0, &b->l);
}

/* What every card object carries. */
bool card_deletes_keys(const struct token *t)
{
	return card_has_yubikey_commands(t) && card_version_at_least(t, 5, 7);
}

/*
 * What C_DestroyObject can do with a card object (card_keys.c): empty a
 * certificate on any PIV card, delete a key where the card can; never a
 * public key alone, which goes with its private key.
 */
static bool destroyable(const struct token *t, CK_OBJECT_CLASS cls)
{
	return cls == CKO_CERTIFICATE || (cls == CKO_PRIVATE_KEY && card_deletes_keys(t));
}

static void common_as(struct builder *b, CK_OBJECT_CLASS cls, bool priv, bool can_destroy, const char *label,
		      uint8_t id)
{
	attrs_init(&b->l);
	b->rv = CKR_OK;
	put_ulong(b, CKA_CLASS, cls);
	put_bool(b, CKA_TOKEN, true);
	put_bool(b, CKA_PRIVATE, priv);
	put_bool(b, CKA_MODIFIABLE, false);
	put_bool(b, CKA_COPYABLE, false);
	put_bool(b, CKA_DESTROYABLE, can_destroy);
	put(b, CKA_LABEL, label, strlen(label));
	put(b, CKA_ID, &id, 1);
}

static void common(struct builder *b, const struct token *t, CK_OBJECT_CLASS cls, bool priv, uint8_t slot)
{
	char label[48];

	slot_label(slot, label, sizeof(label));
	common_as(b, cls, priv, destroyable(t, cls), label, card_slot_id(slot));
}

CK_RV card_add_cert_object(struct token *t, const struct card_cert_object *co)
{
	struct builder b;
	struct cr_cert c;
	CK_RV rv;

	if (cr_cert_parse(co->der->data, co->der->len, &c) != 0)
		return CKR_OK; /* checked when read: only a cache file could hold such a thing */
	common_as(&b, CKO_CERTIFICATE, false, co->destroyable, co->label, co->id);
	put_ulong(&b, CKA_CERTIFICATE_TYPE, CKC_X_509);
	put_ulong(&b, CKA_CERTIFICATE_CATEGORY, co->category);
	put_bool(&b, CKA_TRUSTED, false);
	put(&b, CKA_VALUE, co->der->data, co->der->len);
	put(&b, CKA_SUBJECT, c.subject.data, c.subject.len);
	put(&b, CKA_ISSUER, c.issuer.data, c.issuer.len);
	put(&b, CKA_SERIAL_NUMBER, c.serial.data, c.serial.len);
	put_date(&b, CKA_START_DATE, c.not_before);
	put_date(&b, CKA_END_DATE, c.not_after);
	put(&b, CKA_PUBLIC_KEY_INFO, c.key.spki.data, c.key.spki.len);
	rv = add_object(t, co->ref, co->slot, &b);
	cr_cert_clear(&c);
	return rv;
}

static CK_RV add_certificate(struct token *t, const struct card_key *k)
{
	char label[48];
	struct card_cert_object co = { CARD_REF(k->slot, KIND_CERT, t->cert_gen[card_key_index(k->slot)]), k->slot,
				       card_slot_id(k->slot), label, 1 /* token user */,
				       destroyable(t, CKO_CERTIFICATE), &k->cert };

	slot_label(k->slot, label, sizeof(label));
	return card_add_cert_object(t, &co);
}

/*
 * What the slot is for: signing (9A, 9C, 9E) or key management (9D,
 * retired); 9A does both. A key-management key also signs while it has no
 * certificate, since the request for one (PKCS#10) is signed with it, and
 * where its certificate's keyUsage says it signs. An Ed25519 key can only
 * sign and an X25519 key can only agree keys: each does its one thing in
 * whatever slot it is, or it would be of no use at all (the card itself
 * does not tie algorithms to slots).
 */
struct usage {
	bool sign, decrypt, derive;
};

static bool certificate_lets_sign(const struct cr_cert *c)
{
	return c == NULL ||
	       (c->has_key_usage && (c->key_usage & (CR_KU_DIGITAL_SIGNATURE | CR_KU_NON_REPUDIATION)) != 0);
}

static struct usage slot_usage(uint8_t slot, CK_KEY_TYPE type, const struct cr_cert *c)
{
	bool keymgmt = slot == PIV_SLOT_KEYMGMT || (slot >= 0x82 && slot <= 0x95);
	bool both = slot == PIV_SLOT_AUTH;

	if (type == CKK_EC_EDWARDS)
		return (struct usage){ .sign = true };
	if (type == CKK_EC_MONTGOMERY)
		return (struct usage){ .derive = true };
	return (struct usage){
		.sign = !keymgmt || certificate_lets_sign(c),
		.decrypt = type == CKK_RSA && (keymgmt || both),
		.derive = type == CKK_EC && (keymgmt || both),
	};
}

/* Adds what list (of n, room for 32) lacks of more; a key that signs and decrypts names raw RSA once. */
static size_t append_mechanisms(CK_MECHANISM_TYPE *list, size_t n, const CK_MECHANISM_TYPE *more, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		size_t j = 0;

		while (j < n && list[j] != more[i])
			j++;
		if (j == n && n < 32)
			list[n++] = more[i];
	}
	return n;
}

static void put_allowed(struct builder *b, CK_KEY_TYPE type, struct usage u)
{
	static const CK_MECHANISM_TYPE rsa_sign[] = {
		CKM_RSA_X_509, CKM_RSA_PKCS, CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS,
		CKM_SHA384_RSA_PKCS, CKM_SHA512_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_SHA1_RSA_PKCS_PSS,
		CKM_SHA224_RSA_PKCS_PSS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA512_RSA_PKCS_PSS,
	};
	static const CK_MECHANISM_TYPE rsa_decrypt[] = { CKM_RSA_X_509, CKM_RSA_PKCS, CKM_RSA_PKCS_OAEP };
	static const CK_MECHANISM_TYPE ec_sign[] = {
		CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512,
	};
	static const CK_MECHANISM_TYPE ecdh[] = { CKM_ECDH1_DERIVE };
	static const CK_MECHANISM_TYPE eddsa[] = { CKM_EDDSA };
	CK_MECHANISM_TYPE list[32];
	size_t n = 0;

	if (type == CKK_RSA && u.sign)
		n = append_mechanisms(list, n, rsa_sign, sizeof(rsa_sign) / sizeof(rsa_sign[0]));
	if (type == CKK_RSA && u.decrypt)
		n = append_mechanisms(list, n, rsa_decrypt, sizeof(rsa_decrypt) / sizeof(rsa_decrypt[0]));
	if (type == CKK_EC && u.sign)
		n = append_mechanisms(list, n, ec_sign, sizeof(ec_sign) / sizeof(ec_sign[0]));
	if ((type == CKK_EC || type == CKK_EC_MONTGOMERY) && u.derive)
		n = append_mechanisms(list, n, ecdh, 1);
	if (type == CKK_EC_EDWARDS && u.sign)
		n = append_mechanisms(list, n, eddsa, 1);
	put(b, CKA_ALLOWED_MECHANISMS, list, n * sizeof(list[0]));
}

static void put_key_values(struct builder *b, const struct cr_pubkey *pk, bool with_point)
{
	if (pk->type == CR_KEY_RSA) {
		put(b, CKA_MODULUS, pk->modulus.data, pk->modulus.len);
		put(b, CKA_PUBLIC_EXPONENT, pk->exponent.data, pk->exponent.len);
		put_ulong(b, CKA_MODULUS_BITS, (CK_ULONG)pk->bits);
	} else {
		put(b, CKA_EC_PARAMS, pk->ec_params.data, pk->ec_params.len);
		if (with_point)
			put(b, CKA_EC_POINT, pk->ec_point.data, pk->ec_point.len);
	}
	put(b, CKA_PUBLIC_KEY_INFO, pk->spki.data, pk->spki.len);
}

/* CKA_ALWAYS_AUTHENTICATE from the key's real PIN policy where the card said it, else as PIV defaults it. */
static bool always_authenticate(const struct card_key *k)
{
	if (k->pin_policy > 0)
		return k->pin_policy == PIV_PIN_POLICY_ALWAYS;
	return k->slot == PIV_SLOT_SIGN;
}

/*
 * The PKCS#11 key type of a public key the card can hold. Ed25519 and
 * X25519 keys carry CKA_EC_PARAMS as the curve's OID (1.3.101.112,
 * 1.3.101.110) rather than the name PKCS#11 3.0 also allows: it is what a
 * certificate's key says, what SoftHSM writes, and what OpenSC's
 * pkcs11-tool, libp11 and pkcs11-provider look for.
 */
static bool key_type_of(const struct cr_pubkey *pk, CK_KEY_TYPE *type)
{
	switch (pk->type) {
	case CR_KEY_RSA: *type = CKK_RSA; return true;
	case CR_KEY_EC: *type = CKK_EC; return true;
	case CR_KEY_ED25519: *type = CKK_EC_EDWARDS; return true;
	case CR_KEY_X25519: *type = CKK_EC_MONTGOMERY; return true;
	default: return false;
	}
}

static CK_RV add_key_pair(struct token *t, const struct card_key *k, const struct cr_pubkey *pk, CK_KEY_TYPE type,
			  const struct cr_cert *c)
{
	static const struct cr_bytes no_subject = { NULL, 0 };
	const struct cr_bytes *subject = c != NULL ? &c->subject : &no_subject;
	struct usage u = slot_usage(k->slot, type, c);
	bool generated = k->origin == 1;
	struct builder b;
	CK_RV rv;

	common(&b, t, CKO_PUBLIC_KEY, false, k->slot);
	put_ulong(&b, CKA_KEY_TYPE, type);
	put_bool(&b, CKA_LOCAL, generated);
	put_bool(&b, CKA_VERIFY, u.sign);
	put_bool(&b, CKA_VERIFY_RECOVER, false);
	put_bool(&b, CKA_ENCRYPT, u.decrypt);
	put_bool(&b, CKA_WRAP, false);
	put_bool(&b, CKA_DERIVE, false);
	put_bool(&b, CKA_TRUSTED, false);
	put(&b, CKA_SUBJECT, subject->data, subject->len);
	put_key_values(&b, pk, true);
	rv = add_object(t, CARD_REF(k->slot, KIND_PUBLIC, t->key_gen[card_key_index(k->slot)]), k->slot, &b);
	if (rv != CKR_OK)
		return rv;

	common(&b, t, CKO_PRIVATE_KEY, true, k->slot);
	put_ulong(&b, CKA_KEY_TYPE, type);
	put_bool(&b, CKA_SENSITIVE, true);
	/* A key imported was outside the card before: only one made on it was always sensitive. */
	put_bool(&b, CKA_ALWAYS_SENSITIVE, generated);
	put_bool(&b, CKA_EXTRACTABLE, false);
	put_bool(&b, CKA_NEVER_EXTRACTABLE, generated);
	put_bool(&b, CKA_LOCAL, generated);
	put_bool(&b, CKA_ALWAYS_AUTHENTICATE, always_authenticate(k));
	put_bool(&b, CKA_SIGN, u.sign);
	put_bool(&b, CKA_SIGN_RECOVER, false);
	put_bool(&b, CKA_DECRYPT, u.decrypt);
	put_bool(&b, CKA_UNWRAP, u.decrypt);
	put_bool(&b, CKA_DERIVE, u.derive);
	put_bool(&b, CKA_WRAP_WITH_TRUSTED, false);
	put(&b, CKA_SUBJECT, subject->data, subject->len);
	put_key_values(&b, pk, false);
	put_allowed(&b, type, u);
	return add_object(t, CARD_REF(k->slot, KIND_PRIVATE, t->key_gen[card_key_index(k->slot)]), k->slot, &b);
}

static CK_RV add_slot_objects(struct token *t, const struct card_key *k)
{
	struct cr_pubkey pk;
	CK_KEY_TYPE type;
	struct cr_cert c;
	bool have_cert = k->cert.len > 0 && cr_cert_parse(k->cert.data, k->cert.len, &c) == 0;
	CK_RV rv = have_cert ? add_certificate(t, k) : CKR_OK;

	if (rv == CKR_OK && k->has_key && k->spki.len > 0) {
		if (cr_spki_parse(k->spki.data, k->spki.len, &pk) != 0 || !key_type_of(&pk, &type)) {
			log_msg(LL_WARNING, "key in slot %02X of the card in %s is not supported: not shown", k->slot,
				t->reader);
		} else {
			rv = add_key_pair(t, k, &pk, type, have_cert ? &c : NULL);
		}
		cr_pubkey_clear(&pk);
	}
	if (have_cert)
		cr_cert_clear(&c);
	return rv;
}

void card_drop_card_objects(struct token *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nobjs; i++)
		if (t->objs[i].owner != 0)
			t->objs[n++] = t->objs[i];
		else
			attrs_free(&t->objs[i].attrs);
	t->nobjs = n;
}

CK_RV card_build_objects(struct token *t)
{
	struct card_obj *kept;
	size_t nkept;
	CK_RV rv = CKR_OK;

	card_drop_card_objects(t);
	kept = t->objs;
	nkept = t->nobjs;
	t->objs = NULL;
	t->nobjs = t->capobjs = 0;
	t->built = false;
	for (int i = 0; i < CARD_KEY_SLOTS && rv == CKR_OK; i++)
		rv = add_slot_objects(t, &t->keys[i]);
	if (rv == CKR_OK)
		rv = card_attest_add_objects(t); /* found only by searches that ask for them */
	for (size_t i = 0; i < nkept; i++) {
		if (rv == CKR_OK)
			rv = card_obj_add(t, kept[i].ref, kept[i].slot, kept[i].owner, &kept[i].attrs);
		else
			attrs_free(&kept[i].attrs);
	}
	free(kept);
	t->built = rv == CKR_OK;
	return rv;
}

struct card_obj *card_obj_find(struct token *t, token_ref ref)
{
	for (size_t i = 0; i < t->nobjs; i++)
		if (t->objs[i].ref == ref)
			return &t->objs[i];
	return NULL;
}

bool card_obj_visible(const struct token *t, const struct card_obj *o, unsigned long session)
{
	(void)session; /* session objects are the application's: every session sees them */
	return !o->priv || t->login == CKU_USER;
}
