/*
 * C_SignetSetRetries on a card: the YubiKey's SET PIN RETRIES (INS FA,
 * P1 the PIN's tries, P2 the PUK's, 1 to 255 each). The card takes it only
 * with its PIN verified and its management key authenticated, both in the
 * same PC/SC transaction as the command, and then sets the PIN and the PUK
 * back to their factory values (123456 and 12345678) with full counters.
 *
 * So the user must be logged in (the login holds the PIN's verification:
 * the PIN is never sent again), the management key is authenticated as for
 * any write (card_admin.c), and afterwards signet knows the card as it is
 * now: the new limits, the factory PIN to be changed, the counters in
 * state_dir started again (pin_policy_token_reset, as after the card's
 * reset), and no login, since the PIN it was made with is gone.
 *
 * Cards without the command (bare SP 800-73-4 cards) answer
 * CKR_FUNCTION_NOT_SUPPORTED before anything is sent.
 */
#include "pkcs11/card.h"

#include "pkcs11/log.h"

#define TRIES_MAX 255

struct retries_args {
	struct token *t;
	uint8_t pin_tries, puk_tries;
	bool done;               /* the card took the command */
};

static CK_RV no_command(const struct token *t)
{
	log_msg(LL_WARNING, "the card in %s has no command to set its retry counters", t->reader);
	return CKR_FUNCTION_NOT_SUPPORTED;
}

static CK_RV command_failed(struct token *t, int rc)
{
	CK_RV rv;

	if (card_left_or_reset(t, rc, &rv))
		return rv;
	switch (rc) {
	case PIV_E_SECURITY:
		/* The management key was just taken: what the card misses is the verified PIN. */
		log_msg(LL_INFO, "the card in %s no longer holds the login: its retry counters were not set",
			t->reader);
		card_login_lost(t);
		return CKR_USER_NOT_LOGGED_IN;
	case PIV_E_NOT_SUPPORTED:
		return no_command(t);
	case PIV_E_BAD_DATA:
		log_msg(LL_WARNING, "the card in %s refused those retry counters: nothing changed", t->reader);
		return CKR_ARGUMENTS_BAD;
	default:
		log_msg(LL_WARNING, "the card in %s failed to set its retry counters: %s", t->reader, piv_rc_name(rc));
		return card_rv(rc);
	}
}

/* What the card holds now: full counters at the new limits, factory PIN and PUK. */
static void note_factory_values(struct token *t, const struct retries_args *a)
{
	card_pin_note(&t->pin, PIN_USER, a->pin_tries, a->pin_tries, 1);
	card_pin_note(&t->pin, PIN_SO, a->puk_tries, a->puk_tries, 1);
}

/* The policy's pin_send: the command inside the management key's transaction. */
static CK_RV send_set_retries(void *ctx)
{
	struct retries_args *a = ctx;
	struct token *t = a->t;
	CK_RV rv = card_admin_begin(t);
	int rc;

	if (rv != CKR_OK)
		return rv;
	rc = piv_set_pin_retries(&t->piv, a->pin_tries, a->puk_tries);
	if (rc == PIV_OK) {
		a->done = true;
		note_factory_values(t, a);
		/* The PIN verified for the login was replaced: the card must not go on holding it. */
		if (piv_logout(&t->piv, PIV_REF_PIN) != PIV_OK)
			log_msg(LL_DEBUG, "the card in %s did not log out after setting its retries", t->reader);
	}
	card_admin_end(t);
	return rc == PIV_OK ? CKR_OK : command_failed(t, rc);
}

static CK_RV set_retries(struct token *t, struct retries_args *a)
{
	CK_RV rv = card_ready(t);

	if (rv != CKR_OK)
		return rv;
	if (!card_has_yubikey_commands(t))
		return no_command(t);
	if (t->login != CKU_USER)
		return CKR_USER_NOT_LOGGED_IN;
	/* A card change noticed on the way reaches the policy after it has finished (card_leave). */
	t->pin.sending = true;
	rv = pin_policy_token_reset(t->pin.policy, send_set_retries, a);
	t->pin.sending = false;
	/* Whatever signet failed to record afterwards, the card has replaced the PIN of the login. */
	if (a->done) {
		card_login_lost(t);
	}
	if (rv != CKR_OK)
		return rv;
	log_msg(LL_INFO, "the card in %s now allows %u PIN tries and %u PUK tries; its PIN and PUK are the factory "
		"ones (the PIN must be changed) and the login is gone", t->reader, a->pin_tries, a->puk_tries);
	return CKR_OK;
}

CK_RV card_set_retries(struct token *t, void *ss, CK_ULONG user_tries, CK_ULONG so_tries)
{
	struct retries_args a = { t, (uint8_t)user_tries, (uint8_t)so_tries, false };
	CK_RV rv;

	/* The core refused 0 and read-only sessions (vendor.c); a PIV counter holds at most 255. */
	if (user_tries > TRIES_MAX || so_tries > TRIES_MAX)
		return CKR_ARGUMENTS_BAD;
	rv = card_enter(t, ss);
	if (rv != CKR_OK)
		return rv;
	return card_leave(t, set_retries(t, &a));
}
