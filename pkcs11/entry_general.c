/* C_GetInfo, slots, tokens and mechanisms. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/drivers.h"
#include "pkcs11/entry.h"
#include "pkcs11/log.h"
#include "pkcs11/mech.h"

#define LIBRARY_VERSION_MAJOR 0
#define LIBRARY_VERSION_MINOR 1


static CK_RV fill_info(CK_INFO_PTR pInfo, CK_BYTE major, CK_BYTE minor)
{
	CK_RV rv = entry_check_ready();

	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->cryptokiVersion.major = major;
	pInfo->cryptokiVersion.minor = minor;
	entry_pad_field(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "signet");
	pInfo->flags = 0;
	entry_pad_field(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
		  "signet PKCS#11 module");
	pInfo->libraryVersion.major = LIBRARY_VERSION_MAJOR;
	pInfo->libraryVersion.minor = LIBRARY_VERSION_MINOR;
	return CKR_OK;
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	entry_trace_call(__func__, "pInfo=%p", (void *)pInfo);
	return entry_trace_ret(__func__, fill_info(pInfo, 2, 40));
}

/* The 3.0 function list reports the version it implements. */
CK_RV signet_get_info_3_0(CK_INFO_PTR pInfo);
CK_RV signet_get_info_3_0(CK_INFO_PTR pInfo)
{
	entry_trace_call("C_GetInfo", "pInfo=%p version=3.0", (void *)pInfo);
	return entry_trace_ret("C_GetInfo", fill_info(pInfo, 3, 0));
}


static bool token_present(struct slot *s)
{
	CK_SLOT_INFO info;

	if (!slot_token_there(s) || s->ops->slot_info == NULL)
		return false;
	return s->ops->slot_info(s->tok, &info) == CKR_OK && (info.flags & CKF_TOKEN_PRESENT);
}

/* Copies the visible slots under the lock; slot structures live until C_Finalize. */
static CK_RV snapshot_slots(struct slot ***out, CK_ULONG *n)
{
	CK_ULONG total, k = 0;
	struct slot **list;
	CK_RV rv = core_lock();

	if (rv != CKR_OK)
		return rv;
	total = slot_count_locked();
	list = malloc((total + 1) * sizeof(*list));
	if (list == NULL) {
		core_unlock();
		return CKR_HOST_MEMORY;
	}
	for (CK_ULONG i = 0; i < total; i++) {
		struct slot *s = slot_at_locked(i);

		if (!s->removed)
			list[k++] = s;
	}
	core_unlock();
	*out = list;
	*n = k;
	return CKR_OK;
}

static CK_RV get_slot_list(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	struct slot **list = NULL;
	CK_ULONG n = 0, k = 0;
	CK_RV rv = core_enter();

	if (rv != CKR_OK)
		return rv;
	if (pulCount == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	/* Card readers come and go: look when the application asks, no watcher thread. */
	drivers_refresh();
	rv = snapshot_slots(&list, &n);
	if (rv != CKR_OK)
		goto out;
	for (CK_ULONG i = 0; i < n; i++)
		if (!tokenPresent || token_present(list[i]))
			list[k++] = list[i];
	if (pSlotList == NULL) {
		*pulCount = k;
	} else if (*pulCount < k) {
		*pulCount = k;
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		for (CK_ULONG i = 0; i < k; i++)
			pSlotList[i] = list[i]->id;
		*pulCount = k;
	}
	free(list);
out:
	core_leave();
	return rv;
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	if (pSlotList != NULL && pulCount != NULL)
		entry_trace_call(__func__, "tokenPresent=%u pSlotList=%p count=%lu", tokenPresent, (void *)pSlotList,
			   (unsigned long)*pulCount);
	else
		entry_trace_call(__func__, "tokenPresent=%u pSlotList=%p", tokenPresent, (void *)pSlotList);
	return entry_trace_ret_len(__func__, get_slot_list(tokenPresent, pSlotList, pulCount), "count", pulCount);
}

static CK_RV get_slot_info(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	struct slot *s;
	CK_RV rv = entry_enter_slot(slotID, &s);

	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (s->ops->slot_info == NULL)
		rv = CKR_FUNCTION_FAILED;
	else
		rv = s->ops->slot_info(s->tok, pInfo);
	if (rv == CKR_OK && !slot_token_there(s))
		pInfo->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
	core_leave();
	return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	entry_trace_call(__func__, "slotID=%lu pInfo=%p", (unsigned long)slotID, (void *)pInfo);
	return entry_trace_ret(__func__, get_slot_info(slotID, pInfo));
}

static CK_RV get_token_info(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	struct slot *s;
	CK_RV rv = entry_enter_token_slot(slotID, pInfo, &s);

	if (rv != CKR_OK)
		return rv;
	rv = s->ops->token_info != NULL ? s->ops->token_info(s->tok, pInfo) : CKR_FUNCTION_FAILED;
	core_leave();
	return rv;
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	entry_trace_call(__func__, "slotID=%lu pInfo=%p", (unsigned long)slotID, (void *)pInfo);
	return entry_trace_ret(__func__, get_token_info(slotID, pInfo));
}

/* How long one wait of the drivers lasts before the events are looked at again. */
#define EVENT_WAIT_MS 1000

/*
 * Events are noticed here, when the application asks: no thread watches the
 * devices. A blocking wait sleeps in the drivers outside the call gate, so
 * that neither a fork nor C_Finalize waits for it; C_Finalize from another
 * thread ends it (the drivers' stop wakes their waiters), and then nothing
 * of the module's state is touched again.
 */
static CK_RV wait_for_slot_event(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	CK_RV rv = entry_check_ready();

	if (rv != CKR_OK)
		return rv;
	if (pSlot == NULL || pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	for (;;) {
		bool seen;

		rv = core_enter();
		if (rv != CKR_OK)
			return rv;
		drivers_refresh();
		seen = slot_take_event(pSlot);
		core_leave();
		if (seen)
			return CKR_OK;
		if (flags & CKF_DONT_BLOCK)
			return CKR_NO_EVENT;
		rv = drivers_wait(EVENT_WAIT_MS);
		if (rv != CKR_OK && rv != CKR_NO_EVENT)
			return rv;
		if (!core_ready())
			return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	entry_trace_call(__func__, "flags=0x%lx", (unsigned long)flags);
	return entry_trace_ret(__func__, wait_for_slot_event(flags, pSlot, pReserved));
}

static CK_RV get_mechanism_list(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pList, CK_ULONG_PTR pulCount)
{
	struct slot *s;
	CK_RV rv = entry_enter_token_slot(slotID, pulCount, &s);

	if (rv != CKR_OK)
		return rv;
	rv = mech_list(s, pList, pulCount);
	core_leave();
	return rv;
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount)
{
	if (pMechanismList != NULL && pulCount != NULL)
		entry_trace_call(__func__, "slotID=%lu pMechanismList=%p count=%lu", (unsigned long)slotID,
			   (void *)pMechanismList, (unsigned long)*pulCount);
	else
		entry_trace_call(__func__, "slotID=%lu pMechanismList=%p", (unsigned long)slotID, (void *)pMechanismList);
	return entry_trace_ret_len(__func__, get_mechanism_list(slotID, pMechanismList, pulCount), "count", pulCount);
}

static CK_RV get_mechanism_info(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	struct slot *s;
	CK_RV rv = entry_enter_token_slot(slotID, pInfo, &s);

	if (rv != CKR_OK)
		return rv;
	rv = mech_info(s, type, pInfo);
	core_leave();
	return rv;
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	entry_trace_call(__func__, "slotID=%lu type=%s", (unsigned long)slotID, log_mech_name(type));
	return entry_trace_ret(__func__, get_mechanism_info(slotID, type, pInfo));
}

static CK_RV init_token(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
	struct slot *s;
	CK_ULONG open = 0;
	CK_RV rv = entry_enter_slot(slotID, &s);

	if (rv != CKR_OK)
		return rv;
	if (pLabel == NULL || (pPin == NULL && ulPinLen > 0)) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	if (!slot_token_there(s)) {
		rv = CKR_TOKEN_NOT_PRESENT;
		goto out;
	}
	rv = core_lock();
	if (rv != CKR_OK)
		goto out;
	open = s->sessions;
	core_unlock();
	if (open > 0)
		rv = CKR_SESSION_EXISTS;
	else if (s->ops->init_token == NULL)
		rv = CKR_FUNCTION_NOT_SUPPORTED;
	else
		rv = s->ops->init_token(s->tok, pPin, ulPinLen, pLabel);
out:
	core_leave();
	return rv;
}

CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
	entry_trace_call(__func__, "slotID=%lu ulPinLen=%lu", (unsigned long)slotID, (unsigned long)ulPinLen);
	return entry_trace_ret(__func__, init_token(slotID, pPin, ulPinLen, pLabel));
}
