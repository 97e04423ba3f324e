/*
 * The card behind a token: the connection, who the card is, its PIN
 * counters, and what happens when another program resets it. Every result
 * of a card command becomes a CK_RV in card_rv(), and nowhere else.
 *
 * APDUs spent here, the budget of DESIGN.md: identifying a card costs
 * SELECT (sent by the PIV layer with the first command of a card session),
 * its serial number and its PIN counter; a card the cache does not know
 * also gives its firmware version. The token label is made of the model
 * and the serial number only, so that it needs no certificate and stays
 * the same when the certificates change (renewal, reset). Reading the PIN counter again costs one APDU, at most once
 * a second (card_refresh_status): signet's own PIN operations update the
 * counter from the card's answers, so only another program's tries can be
 * missing from the flags, for at most that second.
 */
#include "pkcs11/card.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/tlv.h"
#include "crypto/wipe.h"
#include "pkcs11/log.h"

#define STATUS_INTERVAL_NS 1000000000L
/*
 * GET METADATA of the PIN or PUK answers about 10 bytes: a buffer this size
 * keeps the command short, so a card that refuses extended length does not
 * see (and refuse) one in the first look at it.
 */
#define PIN_METADATA_MAX 64

CK_RV card_rv(int rc)
{
	switch (rc) {
	case PIV_OK: return CKR_OK;
	case PIV_E_PIN_INCORRECT: return CKR_PIN_INCORRECT;
	case PIV_E_PIN_BLOCKED: return CKR_PIN_LOCKED;
	case PIV_E_SECURITY: return CKR_USER_NOT_LOGGED_IN;
	case PIV_E_CARD_REMOVED:
	case PIV_E_NO_READER: return CKR_DEVICE_REMOVED;
	case PIV_E_NO_APPLICATION: return CKR_TOKEN_NOT_RECOGNIZED;
	case PIV_E_NOT_SUPPORTED: return CKR_FUNCTION_NOT_SUPPORTED;
	case PIV_E_CONDITIONS: return CKR_FUNCTION_REJECTED;
	case PIV_E_NO_SPACE: return CKR_DEVICE_MEMORY;
	case PIV_E_NOMEM: return CKR_HOST_MEMORY;
	case PIV_E_INVALID:
	case PIV_E_CRYPTO: return CKR_GENERAL_ERROR;
	default:
		/* a reset not handled, no service, a malformed or unexpected answer */
		return CKR_DEVICE_ERROR;
	}
}

bool card_left_or_reset(struct token *t, int rc, CK_RV *rv)
{
	if (rc == PIV_E_CARD_RESET) {
		*rv = card_after_reset(t, true);
		return true;
	}
	if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER) {
		card_watch_locked(t);
		*rv = CKR_DEVICE_REMOVED;
		return true;
	}
	return false;
}

bool card_has_yubikey_commands(const struct token *t)
{
	/* The YubiKey extensions come together: a card that names its serial also resets and sets its retries. */
	return t->yubikey;
}

bool card_version_at_least(const struct token *t, uint8_t major, uint8_t minor)
{
	return t->have_version && (t->version[0] > major || (t->version[0] == major && t->version[1] >= minor));
}

bool card_is_yubikey_atr(const struct token *t)
{
	static const char mark[] = "YubiKey";

	for (size_t i = 0; i + sizeof(mark) - 1 <= t->atr_len; i++)
		if (memcmp(t->atr + i, mark, sizeof(mark) - 1) == 0)
			return true;
	return false;
}

static void log_apdu(void *ctx, const char *line)
{
	const struct token *t = ctx;

	log_msg(LL_APDU, "%s: %s", t->reader, line);
}

CK_RV card_connect(struct token *t)
{
	int rc;

	if (t->pc != NULL)
		return CKR_OK;
	rc = pcsc_connect(t->reader, &t->pc);
	if (rc != APDU_OK) {
		log_msg(LL_INFO, "cannot connect to the card in %s: %s", t->reader, apdu_rc_name(rc));
		return rc == APDU_E_NOMEM ? CKR_HOST_MEMORY : CKR_DEVICE_REMOVED;
	}
	apdu_chan_init(&t->chan, &pcsc_transport, t->pc);
	if (log_enabled(LL_APDU))
		apdu_set_logger(&t->chan, log_apdu, t);
	piv_init(&t->piv, &t->chan);
	t->atr_len = 0;
	rc = pcsc_card_atr(t->pc, t->atr, sizeof(t->atr), &t->atr_len);
	if (rc != APDU_OK && rc != APDU_E_CARD_RESET)
		t->atr_len = 0;
	piv_set_extended(&t->piv, piv_atr_extended(t->atr, t->atr_len));
	return CKR_OK;
}

void card_wipe_puk(struct token *t)
{
	cr_wipe(t->puk, sizeof(t->puk));
	t->puk_len = 0;
}

void card_drop_context_auth(struct token *t)
{
	if (t->ctx_session == 0)
		return;
	t->ctx_session = 0;
	if (t->pc != NULL)
		piv_end(&t->piv);
}

void card_forget_login(struct token *t)
{
	card_drop_context_auth(t);
	t->login = NO_CARD_LOGIN;
	card_wipe_puk(t);
	pin_policy_logout(t->pin.policy);
	for (int i = 0; i < CARD_KEY_SLOTS; i++)
		t->keys[i].confirmed = false;
}

void card_token_replaced(struct token *t)
{
	card_forget_login(t);
	card_cache_drop(t);
	card_free_objects(t);
	t->generation++;
	t->pending |= CARD_EVENT_CHANGED;
}

void card_login_lost(struct token *t)
{
	card_forget_login(t);
	t->pending |= CARD_EVENT_LOGIN_LOST;
}

void card_forget(struct token *t, bool quietly)
{
	card_forget_login(t);
	if (t->pc != NULL && !quietly)
		pcsc_disconnect(t->pc, false);
	t->pc = NULL;
	t->identified = false;
	t->not_piv = false;
	t->yubikey = false;
	t->serial = 0;
	t->serial_text[0] = '\0';
	t->have_version = false;
	t->metadata = -1;
	t->status_read = (struct timespec){ 0, 0 };
	card_free_objects(t);
	card_pin_forget(&t->pin);
}

/* ---- identity ---- */

/* A card without GET SERIAL is named by its CHUID: the GUID, else the FASC-N, in hex. */
static int chuid_serial(struct token *t)
{
	uint8_t chuid[512];
	const uint8_t *v;
	size_t len = 0, vlen;
	int rc = piv_get_data(&t->piv, PIV_OBJ_CHUID, chuid, sizeof(chuid), &len);

	if (rc != PIV_OK)
		return rc;
	if (tlv_find(chuid, len, 0x34, &v, &vlen) != 1 || vlen < 8) {
		if (tlv_find(chuid, len, 0x30, &v, &vlen) != 1 || vlen < 8)
			return PIV_E_MALFORMED;
		v += vlen - 8;
	}
	for (size_t i = 0; i < 8; i++)
		snprintf(t->serial_text + 2 * i, 3, "%02X", v[i]);
	return PIV_OK;
}

static int read_serial(struct token *t)
{
	uint32_t serial;
	int rc = piv_get_serial(&t->piv, &serial);

	if (rc == PIV_OK) {
		t->yubikey = true;
		t->serial = serial;
		snprintf(t->serial_text, sizeof(t->serial_text), "%lu", (unsigned long)serial);
		return PIV_OK;
	}
	if (rc != PIV_E_NOT_SUPPORTED && rc != PIV_E_BAD_DATA && rc != PIV_E_CARD && rc != PIV_E_NOT_FOUND)
		return rc;
	t->yubikey = false;
	return chuid_serial(t);
}

/* The PIN counter, with the "still the default" flag where GET METADATA answers. */
static int read_pin_status(struct token *t)
{
	uint8_t buf[PIN_METADATA_MAX];
	struct piv_metadata md;
	bool verified;
	int rc, tries;

	if (t->metadata != 0) {
		rc = piv_get_metadata(&t->piv, PIV_REF_PIN, buf, sizeof(buf), &md);
		if (rc == PIV_OK && md.retries_left >= 0) {
			t->metadata = 1;
			card_pin_note(&t->pin, PIN_USER, md.retries_left, md.retries_total, md.is_default);
			return PIV_OK;
		}
		if (rc != PIV_OK && rc != PIV_E_NOT_SUPPORTED && rc != PIV_E_BAD_DATA && rc != PIV_E_NOT_FOUND &&
		    rc != PIV_E_MALFORMED)
			return rc;
		t->metadata = 0;
	}
	rc = piv_pin_status(&t->piv, PIV_REF_PIN, &verified, &tries);
	if (rc != PIV_OK)
		return rc;
	if (!verified)
		card_pin_note(&t->pin, PIN_USER, tries, -1, -1);
	else if (t->pin.counter[PIN_USER].max > 0)
		card_pin_note(&t->pin, PIN_USER, t->pin.counter[PIN_USER].max, -1, -1);
	/* Someone logged the card out under us (VERIFY FF by another program). */
	if (!verified && t->login == CKU_USER) {
		card_login_lost(t);
	}
	return PIV_OK;
}

static void note_status_time(struct token *t)
{
	clock_gettime(CLOCK_MONOTONIC, &t->status_read);
}

static bool status_is_fresh(const struct token *t)
{
	struct timespec now;
	long long ns;

	if (t->status_read.tv_sec == 0 && t->status_read.tv_nsec == 0)
		return false;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(now.tv_sec - t->status_read.tv_sec) * 1000000000LL + (now.tv_nsec - t->status_read.tv_nsec);
	return ns >= 0 && ns < STATUS_INTERVAL_NS;
}

/*
 * The firmware version (GET VERSION). A card that did not answer GET SERIAL
 * has none of the YubiKey extensions: it shows 0.0 without being asked.
 */
static int read_version(struct token *t)
{
	int rc = t->yubikey ? piv_get_version(&t->piv, t->version) : PIV_E_NOT_SUPPORTED;

	if (rc == PIV_E_NOT_SUPPORTED || rc == PIV_E_BAD_DATA || rc == PIV_E_CARD || rc == PIV_E_NOT_FOUND ||
	    rc == PIV_E_MALFORMED) {
		memset(t->version, 0, sizeof(t->version));
		rc = PIV_OK;
	}
	t->have_version = rc == PIV_OK;
	return rc;
}

/* One attempt; a card session lost on the way (PIV_E_CARD_RESET) makes the caller start over. */
static int identify_once(struct token *t)
{
	int rc = read_serial(t);
	bool cached;

	if (rc != PIV_OK)
		return rc;
	cached = card_cache_load(t);
	if (!cached || !t->have_version) {
		rc = read_version(t);
		if (rc != PIV_OK)
			return rc;
		if (cached) /* a cache of an older release: it keeps the version from now on */
			card_cache_store(t);
	}
	/* GET METADATA came with YubiKey 5.3: older ones and other cards are not asked for it. */
	if (t->metadata < 0 && (!t->yubikey || !card_version_at_least(t, 5, 3)))
		t->metadata = 0;
	rc = read_pin_status(t);
	if (rc == PIV_OK)
		note_status_time(t);
	return rc;
}

static CK_RV identify(struct token *t)
{
	int rc = PIV_E_CARD_RESET;

	for (int attempt = 0; attempt < 3 && rc == PIV_E_CARD_RESET; attempt++)
		rc = identify_once(t);
	if (rc == PIV_E_NO_APPLICATION) {
		t->not_piv = true;
		log_msg(LL_WARNING, "the card in %s has no PIV application", t->reader);
		return CKR_TOKEN_NOT_RECOGNIZED;
	}
	if (rc != PIV_OK) {
		log_msg(LL_WARNING, "cannot identify the card in %s: %s", t->reader, piv_rc_name(rc));
		if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER)
			card_watch_locked(t);
		return card_rv(rc);
	}
	t->identified = true;
	log_msg(LL_INFO, "card %s in %s%s", t->serial_text[0] ? t->serial_text : "(no serial)", t->reader,
		t->from_cache ? " (objects from the cache)" : "");
	return CKR_OK;
}

CK_RV card_ready(struct token *t)
{
	CK_RV rv;

	if (t->gone || !t->present)
		return CKR_DEVICE_REMOVED;
	if (t->not_piv)
		return CKR_TOKEN_NOT_RECOGNIZED;
	rv = card_connect(t);
	if (rv == CKR_OK && !t->identified)
		rv = identify(t);
	return rv;
}

/* ---- resets and status ---- */

CK_RV card_after_reset(struct token *t, bool needs_login)
{
	char before[sizeof(t->serial_text)];
	unsigned long generation = t->generation;
	int rc = PIV_E_CARD_RESET;

	/* Pulled and put back shows in the reader's event counter: that is a new token. */
	card_watch_locked(t);
	if (t->generation != generation || !t->present)
		return CKR_DEVICE_REMOVED;
	if (t->login != NO_CARD_LOGIN) {
		log_msg(LL_INFO, "the card in %s was reset by another program: logged out", t->reader);
		card_login_lost(t);
	}
	memcpy(before, t->serial_text, sizeof(before));
	for (int attempt = 0; attempt < 2 && rc == PIV_E_CARD_RESET; attempt++)
		rc = read_serial(t);
	if (rc != PIV_OK) {
		if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER)
			card_watch_locked(t);
		return card_rv(rc);
	}
	if (strcmp(before, t->serial_text) != 0) {
		log_msg(LL_WARNING, "a different card is in %s", t->reader);
		card_forget(t, false);
		t->generation++;
		t->pending |= CARD_EVENT_CHANGED;
		return CKR_DEVICE_REMOVED;
	}
	return needs_login ? CKR_USER_NOT_LOGGED_IN : CKR_OK;
}

CK_RV card_refresh_status(struct token *t, bool force)
{
	int rc = PIV_E_CARD_RESET;
	CK_RV rv;

	/* A PIN-always key is between its VERIFY and its operation: any other command would spoil it. */
	if (t->ctx_session != 0 || (!force && status_is_fresh(t)))
		return CKR_OK;
	for (int attempt = 0; attempt < 2 && rc == PIV_E_CARD_RESET; attempt++) {
		rc = read_pin_status(t);
		if (rc == PIV_E_CARD_RESET && (rv = card_after_reset(t, false)) != CKR_OK)
			return rv;
	}
	if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER)
		card_watch_locked(t);
	if (rc == PIV_OK)
		note_status_time(t);
	return card_rv(rc);
}

CK_RV card_read_puk_status(struct token *t)
{
	uint8_t buf[PIN_METADATA_MAX];
	struct piv_metadata md;
	int rc;

	if (t->metadata == 0)
		return CKR_OK; /* the card cannot tell without spending a try */
	rc = piv_get_metadata(&t->piv, PIV_REF_PUK, buf, sizeof(buf), &md);
	if (rc == PIV_E_CARD_RESET) {
		CK_RV rv = card_after_reset(t, false);

		if (rv != CKR_OK)
			return rv;
		rc = piv_get_metadata(&t->piv, PIV_REF_PUK, buf, sizeof(buf), &md);
	}
	if (rc == PIV_OK && md.retries_left >= 0) {
		card_pin_note(&t->pin, PIN_SO, md.retries_left, md.retries_total, -1);
		return CKR_OK;
	}
	if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER) {
		card_watch_locked(t);
		return CKR_DEVICE_REMOVED;
	}
	return CKR_OK; /* unknown: the card keeps its own count */
}
