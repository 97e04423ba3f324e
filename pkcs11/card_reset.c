/*
 * C_InitToken on a card: the YubiKey RESET (INS FB), which erases every
 * key and certificate and gives the card back its default PIN, PUK and
 * management key. The card performs it only once both its PIN and its PUK
 * are blocked; signet never blocks them itself (that is signet-tool's
 * procedure, with the user's confirmation), so here it reads the counters
 * without spending a try and refuses while either has tries left.
 *
 * The SO PIN argument: PKCS#11 checks it against the SO PIN when a token
 * is re-initialised, and makes it the SO PIN of a token initialised for the
 * first time. The SO PIN of a card is its PUK, which must be blocked for
 * the reset, so it cannot be checked: the card's own rule (both blocked)
 * is the authorisation. After the reset the card is a new token, and the
 * SO PIN given becomes its PUK (nothing more is sent when it is the
 * factory PUK). A value PIV cannot carry is refused before anything is
 * sent. The label argument is ignored: a PIV card has nowhere to keep a
 * label, its token label is made from its model and serial number.
 *
 * Cards without the command (bare SP 800-73-4 cards) answer
 * CKR_FUNCTION_NOT_SUPPORTED.
 */
#include "pkcs11/card.h"

#include <string.h>

#include "pkcs11/log.h"

static const CK_UTF8CHAR factory_puk[] = "12345678";
#define FACTORY_PUK_LEN (sizeof(factory_puk) - 1)

static void log_needs_blocked(const struct token *t, const char *which)
{
	log_msg(LL_WARNING,
		"C_InitToken on the card in %s refused: the card resets only once both its PIN and its PUK are "
		"blocked (%s); signet never blocks them itself, signet-tool offers the procedure",
		t->reader, which);
}

/* Whether the card's counters allow the reset, read without spending a try. */
static CK_RV check_both_blocked(struct token *t)
{
	const struct card_pin_counter *pin = &t->pin.counter[PIN_USER], *puk = &t->pin.counter[PIN_SO];
	CK_RV rv = card_refresh_status(t, true);

	if (rv == CKR_OK)
		rv = card_read_puk_status(t);
	if (rv != CKR_OK)
		return rv;
	if (pin->left != 0) {
		log_needs_blocked(t, pin->left > 0 ? "the PIN has tries left" : "the PIN counter cannot be read");
		return CKR_FUNCTION_FAILED;
	}
	if (puk->left > 0) {
		log_needs_blocked(t, "the PUK has tries left");
		return CKR_FUNCTION_FAILED;
	}
	/* A PUK counter the card cannot tell for free is left to the card: RESET spends no try. */
	return CKR_OK;
}

/*
 * The policy's pin_send: the RESET itself. While the policy judges, a card
 * change noticed on the way must not reach it (it holds its own lock):
 * card_leave delivers it afterwards.
 */
static CK_RV send_reset(void *ctx)
{
	struct token *t = ctx;
	int rc = piv_reset(&t->piv);

	if (rc == PIV_E_CARD_RESET) {
		CK_RV rv;

		t->pin.sending = true;
		rv = card_after_reset(t, false);
		t->pin.sending = false;
		if (rv != CKR_OK)
			return rv;
		rc = piv_reset(&t->piv);
	}
	if (rc == PIV_E_CONDITIONS) {
		log_needs_blocked(t, "the card says they are not");
		return CKR_FUNCTION_FAILED;
	}
	if (rc == PIV_E_NOT_SUPPORTED)
		log_msg(LL_WARNING, "the card in %s has no reset command: C_InitToken is not supported", t->reader);
	else if (rc != PIV_OK)
		log_msg(LL_WARNING, "the card in %s failed to reset: %s", t->reader, piv_rc_name(rc));
	if (rc == PIV_E_CARD_REMOVED || rc == PIV_E_NO_READER)
		card_watch_locked(t);
	return card_rv(rc);
}

/* The SO PIN given becomes the new token's PUK; the card's factory PUK is the old one now. */
static CK_RV set_puk(struct token *t, const CK_UTF8CHAR *so_pin, CK_ULONG len)
{
	int tries = -1;
	int rc;

	if (len == FACTORY_PUK_LEN && memcmp(so_pin, factory_puk, len) == 0)
		return CKR_OK;
	rc = piv_change_reference(&t->piv, PIV_REF_PUK, factory_puk, FACTORY_PUK_LEN, so_pin, len, &tries);
	if (rc == PIV_OK)
		return CKR_OK;
	log_msg(LL_WARNING, "the card in %s was reset, but its PUK was not set to the SO PIN given (%s): it is the "
		"factory PUK", t->reader, piv_rc_name(rc));
	return rc == PIV_E_BAD_DATA || rc == PIV_E_CONDITIONS ? CKR_PIN_INVALID : card_rv(rc);
}

/* What signet knew of the card goes: it is a new token, with its factory PIN to be changed. */
static void forget_old_token(struct token *t)
{
	card_token_replaced(t);
	card_pin_forget(&t->pin);
	t->status_read = (struct timespec){ 0, 0 };
}

static CK_RV reset_card(struct token *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_len)
{
	CK_RV rv = card_pin_check_length(so_len, "SO PIN (the new PUK)");

	if (rv != CKR_OK)
		return rv;
	if (!card_has_yubikey_commands(t)) {
		log_msg(LL_WARNING, "the card in %s has no reset command: C_InitToken is not supported", t->reader);
		return CKR_FUNCTION_NOT_SUPPORTED;
	}
	card_drop_context_auth(t);
	rv = check_both_blocked(t);
	if (rv == CKR_OK)
		rv = pin_policy_token_reset(t->pin.policy, send_reset, t);
	if (rv == CKR_OK) {
		log_msg(LL_WARNING, "the card in %s was reset: keys and certificates erased, PIN and management key "
			"are the factory ones", t->reader);
		rv = set_puk(t, so_pin, so_len);
		forget_old_token(t);
	}
	return rv;
}

CK_RV card_init_token(struct token *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_len, const CK_UTF8CHAR *label)
{
	CK_RV rv = card_lock(t);

	(void)label;
	if (rv != CKR_OK)
		return rv;
	card_watch_locked(t);
	rv = t->present && !t->gone ? card_ready(t) : CKR_TOKEN_NOT_PRESENT;
	if (rv == CKR_OK)
		rv = reset_card(t, so_pin, so_len);
	card_pin_deliver(&t->pin);
	card_unlock(t);
	return rv;
}
