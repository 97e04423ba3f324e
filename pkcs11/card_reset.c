/*
 * C_InitToken on a card: the YubiKey RESET (INS FB), which erases every
 * key and certificate and gives the card back its default PIN, PUK and
 * management key. The card performs it only once both its PIN and its PUK
 * are blocked. signet does not block them on its own (that is signet-tool's
 * procedure, with the user's confirmation), so here it reads the counters
 * without spending a try and refuses while either has tries left, with one
 * exception: a card that allows more tries than [policy], whose PIN and PUK
 * signet's policy already holds locked. Such a token is as blocked as it
 * can be for every program that uses signet, so the card is made to agree
 * (wrong values nobody chose, until its counters say blocked) and takes the
 * reset; nothing is opened by that, since the reset erases every key.
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

#include "crypto/random.h"
#include "crypto/wipe.h"
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

/* Whether signet's policy holds who's PIN locked, whatever the card itself still allows. */
static bool policy_locked(struct token *t, enum pin_who who)
{
	long left = -1, max = -1;

	return pin_policy_tries(t->pin.policy, who, &left, &max) == CKR_OK && left == 0;
}

/* Eight random digits: a value nobody chose, so no PIN anyone typed is ever sent again. */
static bool random_digits(uint8_t out[8])
{
	if (cr_random(out, 8) != 0)
		return false;
	for (int i = 0; i < 8; i++)
		out[i] = (uint8_t)('0' + out[i] % 10);
	return true;
}

/* Wrong values to the PIN (VERIFY) or the PUK (CHANGE REFERENCE DATA) until the card says blocked. */
static CK_RV block_on_card(struct token *t, uint8_t ref)
{
	uint8_t a[8], b[8];
	int tries = -1, rc = PIV_E_PIN_INCORRECT;

	/* A retry counter holds at most 255 tries. */
	for (int sent = 0; sent < 256 && (rc == PIV_E_PIN_INCORRECT || rc == PIV_OK); sent++) {
		if (!random_digits(a) || !random_digits(b)) {
			rc = PIV_E_NOMEM;
			break;
		}
		rc = ref == PIV_REF_PIN ? piv_verify(&t->piv, ref, a, sizeof(a), &tries)
					: piv_change_reference(&t->piv, ref, a, sizeof(a), b, sizeof(b), &tries);
		if (rc == PIV_E_PIN_INCORRECT && tries == 0)
			rc = PIV_E_PIN_BLOCKED;
	}
	cr_wipe(a, sizeof(a));
	cr_wipe(b, sizeof(b));
	if (rc == PIV_E_PIN_BLOCKED)
		return CKR_OK;
	log_msg(LL_WARNING, "the card in %s did not block its %s for the reset: %s", t->reader,
		ref == PIV_REF_PIN ? "PIN" : "PUK", piv_rc_name(rc));
	return rc == PIV_E_PIN_INCORRECT || rc == PIV_OK ? CKR_FUNCTION_FAILED : card_rv(rc);
}

/* signet's policy locked both, the card allows more: the card is made to agree (see the top of the file). */
static CK_RV block_what_the_policy_locked(struct token *t)
{
	const struct card_pin_counter *pin = &t->pin.counter[PIN_USER], *puk = &t->pin.counter[PIN_SO];
	CK_RV rv = CKR_OK;

	if ((pin->left == 0 && puk->left <= 0) || !policy_locked(t, PIN_USER) || !policy_locked(t, PIN_SO))
		return CKR_OK;
	log_msg(LL_WARNING, "the card in %s allows more tries than signet's policy, which holds its PIN and PUK "
		"locked: blocking them on the card for the reset", t->reader);
	if (pin->left != 0)
		rv = block_on_card(t, PIV_REF_PIN);
	if (rv == CKR_OK && puk->left != 0)
		rv = block_on_card(t, PIV_REF_PUK);
	if (rv == CKR_OK)
		rv = card_refresh_status(t, true);
	return rv == CKR_OK ? card_read_puk_status(t) : rv;
}

/* Whether the card's counters allow the reset, read without spending a try. */
static CK_RV check_both_blocked(struct token *t)
{
	const struct card_pin_counter *pin = &t->pin.counter[PIN_USER], *puk = &t->pin.counter[PIN_SO];
	CK_RV rv = card_refresh_status(t, true);

	if (rv == CKR_OK)
		rv = card_read_puk_status(t);
	if (rv == CKR_OK)
		rv = block_what_the_policy_locked(t);
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
 * reset_card holds it back, card_init_token delivers it afterwards.
 */
static CK_RV send_reset(void *ctx)
{
	struct token *t = ctx;
	int rc = piv_reset(&t->piv);

	if (rc == PIV_E_CARD_RESET) {
		CK_RV rv = card_after_reset(t, false);

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
	/* A card change noticed on the way reaches the policy after it has finished (card_init_token). */
	t->pin.sending = true;
	if (rv == CKR_OK)
		rv = pin_policy_token_reset(t->pin.policy, send_reset, t);
	t->pin.sending = false;
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
