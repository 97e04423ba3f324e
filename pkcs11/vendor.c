/*
 * The vendor interface: the exact PIN tries behind PKCS#11's flags, and the
 * retry limits of a card. Each function is a thin entry point over an
 * optional token op (token.h); a token without it answers as PKCS#11 does
 * for a function it lacks.
 */
#include "pkcs11/vendor.h"

#include "pkcs11/entry.h"

static CK_FLAGS abilities(const struct slot *s, const struct token_pin_tries *tries)
{
	CK_FLAGS flags = 0;

	if (tries->can_reset && s->ops->init_token != NULL)
		flags |= SIGNET_TOKEN_CAN_RESET;
	if (tries->can_set_retries && s->ops->set_retries != NULL)
		flags |= SIGNET_TOKEN_CAN_SET_RETRIES;
	return flags;
}

static CK_RV get_pin_tries(CK_SLOT_ID slotID, SIGNET_PIN_TRIES *pTries)
{
	struct token_pin_tries tries = { -1, -1, -1, -1, false, false };
	struct slot *s;
	CK_RV rv = entry_enter_token_slot(slotID, pTries, &s);

	if (rv != CKR_OK)
		return rv;
	rv = s->ops->pin_tries != NULL ? s->ops->pin_tries(s->tok, &tries) : CKR_FUNCTION_NOT_SUPPORTED;
	if (rv == CKR_OK)
		*pTries = (SIGNET_PIN_TRIES){ tries.user_left, tries.user_max, tries.so_left, tries.so_max,
					      abilities(s, &tries) };
	core_leave();
	return rv;
}

static CK_RV C_SignetGetPinTries(CK_SLOT_ID slotID, SIGNET_PIN_TRIES *pTries)
{
	entry_trace_call(__func__, "slotID=%lu pTries=%p", (unsigned long)slotID, (void *)pTries);
	return entry_trace_ret(__func__, get_pin_tries(slotID, pTries));
}

static CK_RV set_retries(CK_SESSION_HANDLE hSession, CK_ULONG user_tries, CK_ULONG so_tries)
{
	struct session *s;
	CK_RV rv = entry_enter_session(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if (user_tries == 0 || so_tries == 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (!(s->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	else if (s->slot->ops->set_retries == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->slot->ops->set_retries(s->slot->tok, s->ss, user_tries, so_tries);
	session_release(s);
	return rv;
}

static CK_RV C_SignetSetRetries(CK_SESSION_HANDLE hSession, CK_ULONG ulUserPinTries, CK_ULONG ulSoPinTries)
{
	entry_trace_call(__func__, "hSession=0x%lx user=%lu so=%lu", (unsigned long)hSession,
			 (unsigned long)ulUserPinTries, (unsigned long)ulSoPinTries);
	return entry_trace_ret(__func__, set_retries(hSession, ulUserPinTries, ulSoPinTries));
}

SIGNET_FUNCTION_LIST vendor_functions = {
	{ SIGNET_VENDOR_VERSION_MAJOR, SIGNET_VENDOR_VERSION_MINOR },
	C_SignetGetPinTries,
	C_SignetSetRetries,
};
