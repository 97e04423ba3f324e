/*
 * The card's management key: what a PIV card asks for before it generates
 * or imports a key, or writes a certificate or any other object. Where it
 * comes from, in this order, and only from the first that has one:
 *
 *   1. [card] management_key of the configuration (hex);
 *   2. the PIN-protected store a YubiKey keeps it in (ADMIN DATA 5FFF00
 *      says it is there, PRINTED 5FC109 holds it and is readable once the
 *      PIN is verified: the user is logged in, so it is);
 *   3. the card's default (01..08 three times).
 *
 * Its algorithm is the card's word where GET METADATA answers for slot 9B
 * (a YubiKey 5.7 ships the default as AES-192), else the key's length says
 * it (16 AES-128, 24 3DES, 32 AES-256). The key is never logged and wiped
 * after use. Authentication is mutual where the card takes it, else one-way,
 * and runs in the same PC/SC transaction as the writes it authorises, so
 * that no other program's command comes in between.
 */
#include "pkcs11/card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/tlv.h"
#include "crypto/wipe.h"
#include "pkcs11/log.h"

#define MGMT_KEY_MAX 32
#define STORE_MAX 256

#define ADMIN_FLAG_PROTECTED_KEY 0x02

enum mgmt_source { FROM_CONFIG, FROM_STORE, FROM_DEFAULT };

struct mgmt_key {
	uint8_t key[MGMT_KEY_MAX];
	size_t len;
	enum mgmt_source source;
};

static const uint8_t default_key[24] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8 };

static const char *source_name(enum mgmt_source s)
{
	switch (s) {
	case FROM_CONFIG: return "[card] management_key";
	case FROM_STORE: return "the card's PIN-protected store";
	default: return "the card's default";
	}
}

/* config.c accepted only 16, 24 or 32 bytes of hex digits. */
static bool configured_key(const struct config *conf, struct mgmt_key *k)
{
	size_t n = strlen(conf->management_key);

	if (n == 0 || n % 2 != 0 || n / 2 > sizeof(k->key))
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		char pair[3] = { conf->management_key[2 * i], conf->management_key[2 * i + 1], '\0' }, *end;
		unsigned long v = strtoul(pair, &end, 16);

		cr_wipe(pair, sizeof(pair));
		if (*end != '\0')
			return false;
		k->key[i] = (uint8_t)v;
	}
	k->len = n / 2;
	k->source = FROM_CONFIG;
	return true;
}

/* 88 { 89 <key> } in the PRINTED object. */
static int stored_key(const uint8_t *p, size_t n, struct mgmt_key *k)
{
	const uint8_t *inner, *key;
	size_t inner_len, key_len;

	if (tlv_find(p, n, 0x88, &inner, &inner_len) != 1 || tlv_find(inner, inner_len, 0x89, &key, &key_len) != 1 ||
	    (key_len != 16 && key_len != 24 && key_len != 32))
		return PIV_E_MALFORMED;
	memcpy(k->key, key, key_len);
	k->len = key_len;
	k->source = FROM_STORE;
	return PIV_OK;
}

/* Whether ADMIN DATA (80 { 81 <flags> }) says the key is in the PIN-protected store. */
static int store_in_use(struct token *t, bool *in_use)
{
	uint8_t buf[STORE_MAX];
	const uint8_t *inner, *flags;
	size_t len = 0, inner_len, flags_len;
	int rc = piv_get_data(&t->piv, PIV_OBJ_YK_ADMIN, buf, sizeof(buf), &len);

	*in_use = false;
	if (rc == PIV_E_NOT_FOUND)
		return PIV_OK;
	if (rc != PIV_OK)
		return rc;
	if (tlv_find(buf, len, 0x80, &inner, &inner_len) == 1 &&
	    tlv_find(inner, inner_len, 0x81, &flags, &flags_len) == 1 && flags_len == 1)
		*in_use = (flags[0] & ADMIN_FLAG_PROTECTED_KEY) != 0;
	return PIV_OK;
}

static int protected_key(struct token *t, struct mgmt_key *k, bool *found)
{
	uint8_t buf[STORE_MAX];
	size_t len = 0;
	int rc = store_in_use(t, found);

	if (rc != PIV_OK || !*found)
		return rc;
	rc = piv_get_data(&t->piv, PIV_OBJ_PRINTED, buf, sizeof(buf), &len);
	if (rc == PIV_OK && stored_key(buf, len, k) != PIV_OK) {
		log_msg(LL_WARNING, "the card in %s says its management key is in its PIN-protected store, "
			"but the store holds none", t->reader);
		rc = PIV_E_MALFORMED;
	}
	cr_wipe(buf, sizeof(buf));
	return rc;
}

/* What GET METADATA says of slot 9B: its algorithm (-1 unknown) and whether it is the default (-1 unknown). */
static int mgmt_metadata(struct token *t, int *alg, int *is_default)
{
	uint8_t buf[CARD_METADATA_MAX];
	struct piv_metadata md;
	int rc;

	*alg = -1;
	*is_default = -1;
	if (t->metadata == 0)
		return PIV_OK;
	rc = piv_get_metadata(&t->piv, PIV_SLOT_MGMT, buf, sizeof(buf), &md);
	if (rc == PIV_E_NOT_SUPPORTED || rc == PIV_E_BAD_DATA || rc == PIV_E_NOT_FOUND)
		return PIV_OK;
	if (rc != PIV_OK)
		return rc;
	*alg = md.alg;
	*is_default = md.is_default;
	return PIV_OK;
}

static uint8_t alg_of_length(size_t len)
{
	return len == 16 ? PIV_ALG_AES128 : len == 32 ? PIV_ALG_AES256 : PIV_ALG_3DES;
}

/* Mutual where the card takes it; a card that does not (6A80, 6A81) is asked one-way. */
static int authenticate(struct token *t, uint8_t alg, const struct mgmt_key *k)
{
	int rc = piv_mgmt_auth(&t->piv, alg, k->key, k->len, true);

	if (rc == PIV_E_BAD_DATA || rc == PIV_E_NOT_SUPPORTED)
		rc = piv_mgmt_auth(&t->piv, alg, k->key, k->len, false);
	return rc;
}

/* A card that went away or was reset, or any other failure to talk to it. */
static CK_RV lost(struct token *t, int rc)
{
	CK_RV rv;

	if (card_left_or_reset(t, rc, &rv))
		return rv;
	log_msg(LL_WARNING, "the card in %s failed before a write: %s", t->reader, piv_rc_name(rc));
	return card_rv(rc);
}

/* The card's verdict on a key, as the caller of a write hears it. */
static CK_RV refused(struct token *t, const struct mgmt_key *k, int rc)
{
	switch (rc) {
	case PIV_E_SECURITY:
	case PIV_E_AUTH_FAILED:
	case PIV_E_BAD_DATA:
	case PIV_E_INVALID:
		log_msg(LL_WARNING, "the card in %s refused the management key from %s%s%s: nothing written",
			t->reader, source_name(k->source), k->source == FROM_CONFIG ? " in " : "",
			k->source == FROM_CONFIG ? t->conf->source : "");
		return CKR_FUNCTION_FAILED;
	default:
		return lost(t, rc);
	}
}

/* The card answered 6982 to reading its PIN-protected store: it no longer holds the user's login. */
static CK_RV store_unreadable(struct token *t, int rc)
{
	if (rc == PIV_E_SECURITY) {
		log_msg(LL_INFO, "the card in %s no longer holds the login: its PIN-protected store is closed",
			t->reader);
		card_login_lost(t);
		return CKR_USER_NOT_LOGGED_IN;
	}
	if (rc == PIV_E_MALFORMED)
		return CKR_FUNCTION_FAILED; /* logged where found */
	return lost(t, rc);
}

static CK_RV find_key(struct token *t, struct mgmt_key *k, uint8_t *alg)
{
	bool stored = false;
	int meta_alg, is_default, rc;

	if (!configured_key(t->conf, k)) {
		rc = protected_key(t, k, &stored);
		if (rc != PIV_OK)
			return store_unreadable(t, rc);
		if (!stored) {
			memcpy(k->key, default_key, sizeof(default_key));
			k->len = sizeof(default_key);
			k->source = FROM_DEFAULT;
		}
	}
	rc = mgmt_metadata(t, &meta_alg, &is_default);
	if (rc != PIV_OK)
		return lost(t, rc);
	if (k->source == FROM_DEFAULT && is_default == 0) {
		log_msg(LL_WARNING, "the card in %s has a management key of its own, and none is configured "
			"([card] management_key) or in its PIN-protected store: nothing written", t->reader);
		return CKR_FUNCTION_FAILED;
	}
	*alg = meta_alg >= 0 ? (uint8_t)meta_alg : alg_of_length(k->len);
	return CKR_OK;
}

CK_RV card_admin_begin(struct token *t)
{
	struct mgmt_key k = { .len = 0 };
	uint8_t alg = 0;
	CK_RV rv;
	int rc;

	if (t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	/* A PIN-always VERIFY waiting for its operation would not survive these commands. */
	card_drop_context_auth(t);
	rc = piv_begin(&t->piv);
	if (rc != PIV_OK)
		return lost(t, rc);
	rv = find_key(t, &k, &alg);
	if (rv == CKR_OK && (rc = authenticate(t, alg, &k)) != PIV_OK)
		rv = refused(t, &k, rc);
	if (rv == CKR_OK)
		log_msg(LL_DEBUG, "the card in %s took the management key from %s", t->reader, source_name(k.source));
	else
		piv_end(&t->piv);
	cr_wipe(&k, sizeof(k));
	return rv;
}

void card_admin_end(struct token *t)
{
	piv_end(&t->piv);
}
