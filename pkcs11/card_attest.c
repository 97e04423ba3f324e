/*
 * YubiKey attestation as certificate objects: for each key generated on
 * the card, the certificate the card issues for it (ATTEST, INS F9), and
 * the attestation intermediate that signs them (the F9 slot's own
 * certificate, object 5FFF01), so that a CA can check a key was made on
 * the token.
 *
 * An attestation certificate carries the public key of its slot, and its
 * slot's CKA_ID (PKCS#11 ties a certificate to its key by CKA_ID), with
 * CKA_CERTIFICATE_CATEGORY 3 (other entity: it is the card's statement
 * about the key, not the user's certificate) and a label of its own; the
 * intermediate is category 2 (authority) with CKA_ID F9, labelled "PIV
 * Attestation". They are listed only by a search that names their
 * category or one of their labels: a browser or a signing
 * program looking for the user's certificate of key 01 must not be
 * offered the card's statement about it, and a listing costs no APDU for
 * them. The first such search reads them (one ATTEST per generated key,
 * one GET DATA for the intermediate); what was read is kept with the
 * card's other objects and in the card cache.
 */
#include "pkcs11/card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/log.h"

#define CERT_MAX 4096
#define ATTEST_CA_OBJECT 0x5FFF01
#define ATTEST_CA_ID PIV_SLOT_ATTEST
#define CATEGORY_AUTHORITY 2
#define CATEGORY_OTHER_ENTITY 3
/* Above the refs of card_objects.c (generation, slot, kind) and below those of session objects (card_ops.c). */
#define ATTEST_REF(slot) ((token_ref)0x4000000 | (token_ref)(slot) << 4)

#define LABEL_PREFIX "Attestation of "
#define CA_LABEL "PIV Attestation"

/* A CKA_CERTIFICATE_CATEGORY of theirs, or one of their labels, in a find template. */
static bool names_attestation(const CK_ATTRIBUTE *a)
{
	CK_ULONG category;

	if (a->pValue == NULL)
		return false;
	if (a->type == CKA_CERTIFICATE_CATEGORY && a->ulValueLen == sizeof(category)) {
		memcpy(&category, a->pValue, sizeof(category));
		return category == CATEGORY_AUTHORITY || category == CATEGORY_OTHER_ENTITY;
	}
	if (a->type != CKA_LABEL)
		return false;
	return (a->ulValueLen > strlen(LABEL_PREFIX) && memcmp(a->pValue, LABEL_PREFIX, strlen(LABEL_PREFIX)) == 0) ||
	       (a->ulValueLen == strlen(CA_LABEL) && memcmp(a->pValue, CA_LABEL, strlen(CA_LABEL)) == 0);
}

bool card_attest_wanted(const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	for (CK_ULONG i = 0; i < count; i++)
		if (names_attestation(&tmpl[i]))
			return true;
	return false;
}

bool card_attest_is(const struct card_obj *o)
{
	return (o->ref & ~(token_ref)0xFF0) == ATTEST_REF(0);
}

/* ---- reading ---- */

/* The answers of a card that has no attestation for a slot (imported key, older or plain card). */
static bool means_none(int rc)
{
	return rc == PIV_E_NOT_FOUND || rc == PIV_E_NOT_SUPPORTED || rc == PIV_E_BAD_DATA ||
	       rc == PIV_E_CONDITIONS || rc == PIV_E_SECURITY;
}

static bool attestable(const struct token *t, const struct card_key *k)
{
	return k->has_key && (k->origin == 1 || (k->origin < 0 && t->yubikey));
}

static int read_attestation(struct token *t, struct card_key *k)
{
	uint8_t *buf = malloc(CERT_MAX);
	struct cr_cert c;
	size_t len = 0;
	int rc;

	if (buf == NULL)
		return PIV_E_NOMEM;
	rc = piv_attest(&t->piv, k->slot, buf, CERT_MAX, &len);
	if (means_none(rc) || rc == PIV_E_MALFORMED) {
		if (rc == PIV_E_MALFORMED)
			log_msg(LL_WARNING, "attestation of slot %02X from the card in %s is malformed: not shown",
				k->slot, t->reader);
		rc = PIV_OK;
		len = 0;
	}
	if (rc == PIV_OK && len > 0 && cr_cert_parse(buf, len, &c) != 0) {
		log_msg(LL_WARNING, "attestation of slot %02X from the card in %s cannot be parsed: not shown",
			k->slot, t->reader);
		len = 0;
	} else if (rc == PIV_OK && len > 0) {
		cr_cert_clear(&c);
	}
	if (rc == PIV_OK && card_bytes_set(&k->attest, buf, len) != CKR_OK)
		rc = PIV_E_NOMEM;
	if (rc == PIV_OK)
		k->attest_read = true;
	free(buf);
	return rc;
}

/* The intermediate, in its PIV certificate container like any other certificate. */
static int read_attest_ca(struct token *t)
{
	struct card_key ca = { .slot = PIV_SLOT_ATTEST, .pin_policy = -1, .touch_policy = -1, .origin = -1 };
	uint8_t *buf = malloc(PIV_OBJECT_MAX);
	const uint8_t *der;
	size_t len = 0, der_len;
	bool compressed;
	int rc;

	if (buf == NULL)
		return PIV_E_NOMEM;
	rc = piv_get_data(&t->piv, ATTEST_CA_OBJECT, buf, PIV_OBJECT_MAX, &len);
	if (means_none(rc)) {
		rc = PIV_OK;
		len = 0;
	}
	if (rc == PIV_OK && len > 0 &&
	    (piv_parse_cert_object(buf, len, &der, &der_len, &compressed) != PIV_OK || compressed)) {
		log_msg(LL_WARNING, "attestation certificate object of the card in %s is unusable: not shown",
			t->reader);
		len = 0;
	}
	if (rc == PIV_OK && len > 0 && card_bytes_set(&ca.cert, der, der_len) != CKR_OK)
		rc = PIV_E_NOMEM;
	if (rc == PIV_OK) {
		card_bytes_free(&t->attest_ca);
		t->attest_ca = ca.cert;
		t->attest_ca_read = true;
	} else {
		card_bytes_free(&ca.cert);
	}
	free(buf);
	return rc;
}

static int read_all(struct token *t, bool *read_any)
{
	int rc = PIV_OK;

	for (int i = 0; i < CARD_KEY_SLOTS && rc == PIV_OK; i++) {
		struct card_key *k = &t->keys[i];

		if (attestable(t, k) && !k->attest_read) {
			if (!*read_any)
				card_drop_context_auth(t); /* a command between a PIN-always VERIFY and its use spoils it */
			*read_any = true;
			rc = read_attestation(t, k);
		}
	}
	if (rc == PIV_OK && !t->attest_ca_read && t->yubikey) {
		if (!*read_any)
			card_drop_context_auth(t);
		*read_any = true;
		rc = read_attest_ca(t);
	}
	return rc;
}

/* ---- objects ---- */

static CK_RV add_certificate(struct token *t, token_ref ref, uint8_t slot, uint8_t id, const char *label,
			     CK_ULONG category, const struct cr_bytes *der)
{
	struct card_cert_object co = { ref, slot, id, label, category, false, der };

	if (der->len == 0 || card_obj_find(t, ref) != NULL)
		return CKR_OK;
	return card_add_cert_object(t, &co);
}

/* The label of the slot's other objects (the certificate's, else the key's). */
static void slot_label_of(struct token *t, uint8_t slot, char *out, size_t size)
{
	const CK_ATTRIBUTE *a = NULL;

	for (size_t i = 0; i < t->nobjs && a == NULL; i++)
		if (t->objs[i].slot == slot && t->objs[i].owner == 0 && !card_attest_is(&t->objs[i]))
			a = attrs_find(&t->objs[i].attrs, CKA_LABEL);
	if (a != NULL && a->ulValueLen < size) {
		memcpy(out, a->pValue, a->ulValueLen);
		out[a->ulValueLen] = '\0';
	} else {
		snprintf(out, size, "slot %02X", slot);
	}
}

CK_RV card_attest_add_objects(struct token *t)
{
	char label[96], slot_name[48];
	CK_RV rv = add_certificate(t, ATTEST_REF(PIV_SLOT_ATTEST), PIV_SLOT_ATTEST, ATTEST_CA_ID, CA_LABEL,
				   CATEGORY_AUTHORITY, &t->attest_ca);

	for (int i = 0; rv == CKR_OK && i < CARD_KEY_SLOTS; i++) {
		const struct card_key *k = &t->keys[i];

		if (k->attest.len == 0)
			continue;
		slot_label_of(t, k->slot, slot_name, sizeof(slot_name));
		snprintf(label, sizeof(label), LABEL_PREFIX "%s", slot_name);
		rv = add_certificate(t, ATTEST_REF(k->slot), k->slot, card_slot_id(k->slot), label,
				     CATEGORY_OTHER_ENTITY, &k->attest);
	}
	return rv;
}

CK_RV card_attest_load(struct token *t)
{
	bool read_any = false;
	int rc = PIV_E_CARD_RESET;
	CK_RV rv;

	for (int attempt = 0; attempt < 2 && rc == PIV_E_CARD_RESET; attempt++) {
		rc = read_all(t, &read_any);
		if (rc == PIV_E_CARD_RESET && (rv = card_after_reset(t, false)) != CKR_OK)
			return rv;
	}
	if (rc != PIV_OK) {
		log_msg(LL_WARNING, "cannot read the attestations of the card in %s: %s", t->reader, piv_rc_name(rc));
		if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER)
			card_watch_locked(t);
		return card_rv(rc);
	}
	if (read_any)
		card_cache_store(t);
	return card_attest_add_objects(t);
}
