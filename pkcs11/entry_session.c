/* Sessions, login and PINs. */
#include <string.h>

#include "pkcs11/entry.h"
#include "pkcs11/lock.h"
#include "pkcs11/log.h"

static CK_RV open_session(CK_SLOT_ID slotID, CK_FLAGS flags, CK_SESSION_HANDLE_PTR phSession)
{
	struct slot *s;
	CK_RV rv = core_enter();

	if (rv != CKR_OK)
		return rv;
	if (phSession == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = core_lock();
	if (rv != CKR_OK)
		goto out;
	s = slot_find_locked(slotID);
	if (s == NULL)
		rv = CKR_SLOT_ID_INVALID;
	else if (s->removed || !s->present)
		rv = CKR_TOKEN_NOT_PRESENT;
	else if (!(flags & CKF_SERIAL_SESSION))
		rv = CKR_SESSION_PARALLEL_NOT_SUPPORTED;
	else if (s->login == CKU_SO && !(flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
	core_unlock();
	if (rv == CKR_OK)
		rv = session_open(s, flags, phSession);
out:
	core_leave();
	return rv;
}

CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,
		    CK_SESSION_HANDLE_PTR phSession)
{
	CK_RV rv;

	(void)pApplication;
	(void)Notify; /* no callbacks: the module never calls back into the application */
	entry_trace_call(__func__, "slotID=%lu flags=0x%lx", (unsigned long)slotID, (unsigned long)flags);
	rv = open_session(slotID, flags, phSession);
	if (rv == CKR_OK)
		log_msg(LL_DEBUG, "C_OpenSession: session 0x%lx", (unsigned long)*phSession);
	return entry_trace_ret(__func__, rv);
}

CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
	CK_RV rv;

	entry_trace_call(__func__, "hSession=0x%lx", (unsigned long)hSession);
	rv = core_enter();
	if (rv == CKR_OK) {
		/* Calls in flight on the session keep it alive until they leave; this one does not wait for them. */
		rv = session_close(hSession);
		core_leave();
	}
	return entry_trace_ret(__func__, rv);
}

static CK_RV close_all_sessions(CK_SLOT_ID slotID)
{
	struct slot *s;
	CK_RV rv = core_enter();

	if (rv != CKR_OK)
		return rv;
	rv = core_lock();
	if (rv != CKR_OK)
		goto out;
	s = slot_find_locked(slotID);
	core_unlock();
	rv = s != NULL ? session_close_all(s) : CKR_SLOT_ID_INVALID;
out:
	core_leave();
	return rv;
}

CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
	entry_trace_call(__func__, "slotID=%lu", (unsigned long)slotID);
	return entry_trace_ret(__func__, close_all_sessions(slotID));
}

/* Reads the module's tables only: it does not wait behind another thread's token call on the session. */
static CK_RV get_session_info(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	struct session *s;
	CK_RV rv;

	rv = session_peek(hSession, &s);
	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL) {
		session_unpeek(s);
		return CKR_ARGUMENTS_BAD;
	}
	rv = core_lock();
	if (rv == CKR_OK) {
		pInfo->slotID = s->slot->id;
		pInfo->state = session_state_locked(s);
		pInfo->flags = s->flags;
		pInfo->ulDeviceError = 0;
		core_unlock();
	}
	session_unpeek(s);
	return rv;
}

CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
	entry_trace_call(__func__, "hSession=0x%lx", (unsigned long)hSession);
	return entry_trace_ret(__func__, get_session_info(hSession, pInfo));
}

/* Saving operation state would expose intermediate secrets; tokens refuse it. */
static CK_RV operation_state(CK_SESSION_HANDLE hSession, bool pointer_ok)
{
	struct session *s;
	CK_RV rv = session_peek(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	session_unpeek(s);
	return pointer_ok ? CKR_FUNCTION_NOT_SUPPORTED : CKR_ARGUMENTS_BAD;
}

CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
			  CK_ULONG_PTR pulOperationStateLen)
{
	(void)pOperationState;
	entry_trace_call(__func__, "hSession=0x%lx", (unsigned long)hSession);
	return entry_trace_ret(__func__, operation_state(hSession, pulOperationStateLen != NULL));
}

CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
			  CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
			  CK_OBJECT_HANDLE hAuthenticationKey)
{
	(void)ulOperationStateLen;
	(void)hEncryptionKey;
	(void)hAuthenticationKey;
	entry_trace_call(__func__, "hSession=0x%lx", (unsigned long)hSession);
	return entry_trace_ret(__func__, operation_state(hSession, pOperationState != NULL));
}

/* The login-state rules of PKCS#11 that hold whatever the token is. */
static CK_RV check_login_allowed(const struct session *s, CK_USER_TYPE who)
{
	const struct slot *slot = s->slot;

	if (who == CKU_CONTEXT_SPECIFIC)
		return slot->login == NO_LOGIN ? CKR_USER_NOT_LOGGED_IN : CKR_OK;
	if (slot->login == who)
		return CKR_USER_ALREADY_LOGGED_IN;
	if (slot->login != NO_LOGIN)
		return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
	if (who == CKU_SO && slot->rw_sessions < slot->sessions)
		return CKR_SESSION_READ_ONLY_EXISTS;
	return CKR_OK;
}

static CK_RV login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
		   CK_ULONG ulPinLen)
{
	struct session *s;
	struct slot *slot;
	CK_RV rv = entry_enter_session(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	slot = s->slot;
	if (userType != CKU_SO && userType != CKU_USER && userType != CKU_CONTEXT_SPECIFIC) {
		rv = CKR_USER_TYPE_INVALID;
		goto out;
	}
	if (pPin == NULL && ulPinLen > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (slot->ops->login == NULL) {
		rv = CKR_FUNCTION_NOT_SUPPORTED;
		goto out;
	}
	rv = lock_take(slot->login_lock);
	if (rv != CKR_OK)
		goto out;
	/* LOCKED: slot login */
	rv = core_lock();
	if (rv == CKR_OK) {
		rv = check_login_allowed(s, userType);
		core_unlock();
	}
	if (rv == CKR_OK)
		rv = slot->ops->login(slot->tok, s->ss, userType, pPin, ulPinLen);
	if ((rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) && userType != CKU_CONTEXT_SPECIFIC &&
	    core_lock() == CKR_OK) {
		slot->login = userType;
		core_unlock();
	}
	lock_give(slot->login_lock);
out:
	session_release(s);
	return rv;
}

CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	entry_trace_call(__func__, "hSession=0x%lx userType=%s ulPinLen=%lu", (unsigned long)hSession,
		   log_user_name(userType), (unsigned long)ulPinLen);
	return entry_trace_ret(__func__, login(hSession, userType, pPin, ulPinLen));
}

CK_RV signet_login_user(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
			CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen);
CK_RV signet_login_user(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
			CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen)
{
	CK_RV rv;

	entry_trace_call("C_LoginUser", "hSession=0x%lx userType=%s ulPinLen=%lu ulUsernameLen=%lu",
		   (unsigned long)hSession, log_user_name(userType), (unsigned long)ulPinLen,
		   (unsigned long)ulUsernameLen);
	/* Tokens here have no named users: a user name is accepted only when empty. */
	if (pUsername == NULL && ulUsernameLen > 0)
		rv = core_ready() ? CKR_ARGUMENTS_BAD : CKR_CRYPTOKI_NOT_INITIALIZED;
	else if (ulUsernameLen > 0)
		rv = core_ready() ? CKR_USER_TYPE_INVALID : CKR_CRYPTOKI_NOT_INITIALIZED;
	else
		rv = login(hSession, userType, pPin, ulPinLen);
	return entry_trace_ret("C_LoginUser", rv);
}

static CK_RV logout(CK_SESSION_HANDLE hSession)
{
	struct session *s;
	struct slot *slot;
	CK_USER_TYPE who;
	CK_RV rv = entry_enter_session(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	slot = s->slot;
	rv = lock_take(slot->login_lock);
	if (rv != CKR_OK)
		goto out;
	/* LOCKED: slot login */
	rv = core_lock();
	if (rv != CKR_OK)
		goto unlock;
	who = slot->login;
	core_unlock();
	if (who == NO_LOGIN) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto unlock;
	}
	rv = slot->ops->logout != NULL ? slot->ops->logout(slot->tok, s->ss) : CKR_OK;
	/* Whatever the token said, the application is logged out as far as it can tell. */
	if (core_lock() == CKR_OK) {
		slot->login = NO_LOGIN;
		core_unlock();
	}
	if (rv == CKR_USER_NOT_LOGGED_IN)
		rv = CKR_OK;
unlock:
	lock_give(slot->login_lock);
out:
	session_release(s);
	return rv;
}

CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
	entry_trace_call(__func__, "hSession=0x%lx", (unsigned long)hSession);
	return entry_trace_ret(__func__, logout(hSession));
}

static CK_RV init_pin(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	struct session *s;
	CK_STATE state = CKS_RO_PUBLIC_SESSION;
	CK_RV rv = entry_enter_session(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if (pPin == NULL && ulPinLen > 0) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = core_lock();
	if (rv != CKR_OK)
		goto out;
	state = session_state_locked(s);
	core_unlock();
	if (state != CKS_RW_SO_FUNCTIONS) {
		rv = CKR_USER_NOT_LOGGED_IN;
		goto out;
	}
	rv = s->slot->ops->init_pin != NULL ? s->slot->ops->init_pin(s->slot->tok, s->ss, pPin, ulPinLen)
					    : CKR_FUNCTION_NOT_SUPPORTED;
out:
	session_release(s);
	return rv;
}

CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
	entry_trace_call(__func__, "hSession=0x%lx ulPinLen=%lu", (unsigned long)hSession, (unsigned long)ulPinLen);
	return entry_trace_ret(__func__, init_pin(hSession, pPin, ulPinLen));
}

static CK_RV set_pin(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
		     CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	struct session *s;
	CK_RV rv = entry_enter_session(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if ((pOldPin == NULL && ulOldLen > 0) || (pNewPin == NULL && ulNewLen > 0))
		rv = CKR_ARGUMENTS_BAD;
	else if (!(s->flags & CKF_RW_SESSION))
		rv = CKR_SESSION_READ_ONLY;
	else if (s->slot->ops->set_pin == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->slot->ops->set_pin(s->slot->tok, s->ss, pOldPin, ulOldLen, pNewPin, ulNewLen);
	session_release(s);
	return rv;
}

CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
	       CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
	entry_trace_call(__func__, "hSession=0x%lx ulOldLen=%lu ulNewLen=%lu", (unsigned long)hSession,
		   (unsigned long)ulOldLen, (unsigned long)ulNewLen);
	return entry_trace_ret(__func__, set_pin(hSession, pOldPin, ulOldLen, pNewPin, ulNewLen));
}

CK_RV signet_session_cancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags);
CK_RV signet_session_cancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
	struct session *s;
	CK_RV rv;

	entry_trace_call("C_SessionCancel", "hSession=0x%lx flags=0x%lx", (unsigned long)hSession,
		   (unsigned long)flags);
	rv = session_peek(hSession, &s);
	if (rv == CKR_OK) {
		session_unpeek(s);
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	}
	return entry_trace_ret("C_SessionCancel", rv);
}
