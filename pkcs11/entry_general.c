/* C_Initialize, C_Finalize, C_GetInfo, slots, tokens and mechanisms. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/entry.h"
#include "pkcs11/log.h"
#include "pkcs11/mech.h"

#define LIBRARY_VERSION_MAJOR 0
#define LIBRARY_VERSION_MINOR 1

void trace_call(const char *fn, const char *fmt, ...)
{
	char args[512];
	va_list ap;

	if (!log_enabled(LOG_DEBUG))
		return;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	log_msg(LOG_DEBUG, "%s(%s)", fn, args);
}

CK_RV trace_ret(const char *fn, CK_RV rv)
{
	if (log_enabled(LOG_DEBUG))
		log_msg(LOG_DEBUG, "%s = %s", fn, rv_name(rv));
	return rv;
}

CK_RV trace_ret_len(const char *fn, CK_RV rv, const char *name, const CK_ULONG *len)
{
	if (log_enabled(LOG_DEBUG) && len != NULL && (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL))
		log_msg(LOG_DEBUG, "%s: %s=%lu", fn, name, (unsigned long)*len);
	return trace_ret(fn, rv);
}

CK_RV check_ready(void)
{
	return module_ready() ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}

CK_RV enter_session(CK_SESSION_HANDLE h, struct session **s)
{
	CK_RV rv = check_ready();

	if (rv != CKR_OK)
		return rv;
	return session_acquire(h, s);
}

void pad_field(CK_UTF8CHAR *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n > size)
		n = size;
	memset(dst, ' ', size);
	memcpy(dst, src, n);
}

CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
	const CK_C_INITIALIZE_ARGS *a = pInitArgs;
	CK_RV rv = module_initialize(a);

	/* Traced afterwards: until the configuration is read, the log's level and place are unknown. */
	trace_call(__func__, "pInitArgs=%p flags=0x%lx", pInitArgs, a ? (unsigned long)a->flags : 0UL);
	return trace_ret(__func__, rv);
}

CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
	CK_RV rv;

	trace_call(__func__, "pReserved=%p", pReserved);
	if (pReserved != NULL)
		return trace_ret(__func__, CKR_ARGUMENTS_BAD);
	rv = trace_ret(__func__, module_finalize());
	if (rv == CKR_OK)
		log_close(); /* after the last line of this module's life */
	return rv;
}

static CK_RV fill_info(CK_INFO_PTR pInfo, CK_BYTE major, CK_BYTE minor)
{
	CK_RV rv = check_ready();

	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	memset(pInfo, 0, sizeof(*pInfo));
	pInfo->cryptokiVersion.major = major;
	pInfo->cryptokiVersion.minor = minor;
	pad_field(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "signet");
	pInfo->flags = 0;
	pad_field(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
		  "signet PKCS#11 module");
	pInfo->libraryVersion.major = LIBRARY_VERSION_MAJOR;
	pInfo->libraryVersion.minor = LIBRARY_VERSION_MINOR;
	return CKR_OK;
}

CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
	trace_call(__func__, "pInfo=%p", (void *)pInfo);
	return trace_ret(__func__, fill_info(pInfo, 2, 40));
}

/* The 3.0 function list reports the version it implements. */
CK_RV signet_get_info_3_0(CK_INFO_PTR pInfo);
CK_RV signet_get_info_3_0(CK_INFO_PTR pInfo)
{
	trace_call("C_GetInfo", "pInfo=%p version=3.0", (void *)pInfo);
	return trace_ret("C_GetInfo", fill_info(pInfo, 3, 0));
}

EXPORTED CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	trace_call(__func__, "ppFunctionList=%p", (void *)ppFunctionList);
	if (ppFunctionList == NULL)
		return trace_ret(__func__, CKR_ARGUMENTS_BAD);
	*ppFunctionList = &signet_functions_2_40;
	return trace_ret(__func__, CKR_OK);
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
	CK_RV rv = module_lock();

	if (rv != CKR_OK)
		return rv;
	total = slot_count_locked();
	list = malloc((total + 1) * sizeof(*list));
	if (list == NULL) {
		module_unlock();
		return CKR_HOST_MEMORY;
	}
	for (CK_ULONG i = 0; i < total; i++) {
		struct slot *s = slot_at_locked(i);

		if (!s->removed)
			list[k++] = s;
	}
	module_unlock();
	*out = list;
	*n = k;
	return CKR_OK;
}

static CK_RV get_slot_list(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	struct slot **list = NULL;
	CK_ULONG n = 0, k = 0;
	CK_RV rv = check_ready();

	if (rv != CKR_OK)
		return rv;
	if (pulCount == NULL)
		return CKR_ARGUMENTS_BAD;
	/* Card readers come and go: look when the application asks, no watcher thread. */
	slots_refresh();
	rv = snapshot_slots(&list, &n);
	if (rv != CKR_OK)
		return rv;
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
	return rv;
}

CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount)
{
	if (pSlotList != NULL && pulCount != NULL)
		trace_call(__func__, "tokenPresent=%u pSlotList=%p count=%lu", tokenPresent, (void *)pSlotList,
			   (unsigned long)*pulCount);
	else
		trace_call(__func__, "tokenPresent=%u pSlotList=%p", tokenPresent, (void *)pSlotList);
	return trace_ret_len(__func__, get_slot_list(tokenPresent, pSlotList, pulCount), "count", pulCount);
}

/* Looks a slot up; slot structures stay valid until C_Finalize. */
static CK_RV find_slot(CK_SLOT_ID id, struct slot **out)
{
	CK_RV rv = check_ready();

	if (rv != CKR_OK)
		return rv;
	rv = module_lock();
	if (rv != CKR_OK)
		return rv;
	*out = slot_find_locked(id);
	module_unlock();
	return *out != NULL ? CKR_OK : CKR_SLOT_ID_INVALID;
}

static CK_RV get_slot_info(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	struct slot *s;
	CK_RV rv = find_slot(slotID, &s);

	if (rv != CKR_OK)
		return rv;
	if (pInfo == NULL)
		return CKR_ARGUMENTS_BAD;
	if (s->ops->slot_info == NULL)
		return CKR_FUNCTION_FAILED;
	rv = s->ops->slot_info(s->tok, pInfo);
	if (rv == CKR_OK && !slot_token_there(s))
		pInfo->flags &= ~(CK_FLAGS)CKF_TOKEN_PRESENT;
	return rv;
}

CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
	trace_call(__func__, "slotID=%lu pInfo=%p", (unsigned long)slotID, (void *)pInfo);
	return trace_ret(__func__, get_slot_info(slotID, pInfo));
}

/* A slot with its token there, once the pointer the call cannot do without is checked. */
static CK_RV find_token_slot(CK_SLOT_ID slotID, const void *needed, struct slot **out)
{
	CK_RV rv = find_slot(slotID, out);

	if (rv != CKR_OK)
		return rv;
	if (needed == NULL)
		return CKR_ARGUMENTS_BAD;
	return slot_token_there(*out) ? CKR_OK : CKR_TOKEN_NOT_PRESENT;
}

static CK_RV get_token_info(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	struct slot *s;
	CK_RV rv = find_token_slot(slotID, pInfo, &s);

	if (rv != CKR_OK)
		return rv;
	if (s->ops->token_info == NULL)
		return CKR_FUNCTION_FAILED;
	return s->ops->token_info(s->tok, pInfo);
}

CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
	trace_call(__func__, "slotID=%lu pInfo=%p", (unsigned long)slotID, (void *)pInfo);
	return trace_ret(__func__, get_token_info(slotID, pInfo));
}

/* How long one wait of the drivers lasts before the events are looked at again. */
#define EVENT_WAIT_MS 1000

/*
 * Events are noticed here, when the application asks: no thread watches the
 * devices. A blocking wait sleeps in the drivers; C_Finalize from another
 * thread ends it, and then nothing of the module's state is touched again.
 */
static CK_RV wait_for_slot_event(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	CK_RV rv = check_ready();

	if (rv != CKR_OK)
		return rv;
	if (pSlot == NULL || pReserved != NULL)
		return CKR_ARGUMENTS_BAD;
	for (;;) {
		slots_refresh();
		if (slot_take_event(pSlot))
			return CKR_OK;
		if (flags & CKF_DONT_BLOCK)
			return CKR_NO_EVENT;
		rv = drivers_wait(EVENT_WAIT_MS);
		if (rv != CKR_OK && rv != CKR_NO_EVENT)
			return rv;
		if (!module_ready())
			return CKR_CRYPTOKI_NOT_INITIALIZED;
	}
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
	trace_call(__func__, "flags=0x%lx", (unsigned long)flags);
	return trace_ret(__func__, wait_for_slot_event(flags, pSlot, pReserved));
}

static CK_RV get_mechanism_list(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pList, CK_ULONG_PTR pulCount)
{
	struct slot *s;
	CK_RV rv = find_token_slot(slotID, pulCount, &s);

	if (rv != CKR_OK)
		return rv;
	return mech_list(s, pList, pulCount);
}

CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount)
{
	if (pMechanismList != NULL && pulCount != NULL)
		trace_call(__func__, "slotID=%lu pMechanismList=%p count=%lu", (unsigned long)slotID,
			   (void *)pMechanismList, (unsigned long)*pulCount);
	else
		trace_call(__func__, "slotID=%lu pMechanismList=%p", (unsigned long)slotID, (void *)pMechanismList);
	return trace_ret_len(__func__, get_mechanism_list(slotID, pMechanismList, pulCount), "count", pulCount);
}

static CK_RV get_mechanism_info(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	struct slot *s;
	CK_RV rv = find_token_slot(slotID, pInfo, &s);

	if (rv != CKR_OK)
		return rv;
	return mech_info(s, type, pInfo);
}

CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo)
{
	trace_call(__func__, "slotID=%lu type=%s", (unsigned long)slotID, mech_name(type));
	return trace_ret(__func__, get_mechanism_info(slotID, type, pInfo));
}

static CK_RV init_token(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
	struct slot *s;
	CK_ULONG open;
	CK_RV rv = find_slot(slotID, &s);

	if (rv != CKR_OK)
		return rv;
	if (pLabel == NULL || (pPin == NULL && ulPinLen > 0))
		return CKR_ARGUMENTS_BAD;
	if (!slot_token_there(s))
		return CKR_TOKEN_NOT_PRESENT;
	rv = module_lock();
	if (rv != CKR_OK)
		return rv;
	open = s->sessions;
	module_unlock();
	if (open > 0)
		return CKR_SESSION_EXISTS;
	if (s->ops->init_token == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return s->ops->init_token(s->tok, pPin, ulPinLen, pLabel);
}

CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel)
{
	trace_call(__func__, "slotID=%lu ulPinLen=%lu", (unsigned long)slotID, (unsigned long)ulPinLen);
	return trace_ret(__func__, init_token(slotID, pPin, ulPinLen, pLabel));
}
