/*
 * The function lists and the PKCS#11 3.0 interface discovery: "PKCS 11"
 * in version 3.0 (the default) and 2.40, and signet's vendor interface
 * "Vendor signet" 1.0 (pkcs11/signet_vendor.h), listed after them so that
 * a caller asking for any interface gets the standard one. The
 * message-based functions of 3.0 are present and refuse politely.
 */
#include <string.h>

#include "pkcs11/entry.h"
#include "pkcs11/log.h"
#include "pkcs11/mech_param.h"
#include "pkcs11/vendor.h"

CK_RV signet_get_info_3_0(CK_INFO_PTR pInfo);
CK_RV signet_login_user(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
			CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen);
CK_RV signet_session_cancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags);

/*
 * Every message-based call checks its session (and an init its mechanism,
 * as every other init does), then reports that no mechanism supports it.
 */
static CK_RV message_refused_with(const char *fn, CK_SESSION_HANDLE h, const CK_MECHANISM *m, bool has_mech)
{
	struct session *s;
	CK_RV rv;

	entry_trace_call(fn, "hSession=0x%lx", (unsigned long)h);
	rv = session_peek(h, &s);
	if (rv == CKR_OK) {
		session_unpeek(s);
		if (has_mech && m == NULL)
			rv = CKR_ARGUMENTS_BAD;
		else if (has_mech)
			rv = mech_param_check(m);
		if (rv == CKR_OK)
			rv = CKR_FUNCTION_NOT_SUPPORTED;
	}
	return entry_trace_ret(fn, rv);
}

static CK_RV message_refused(const char *fn, CK_SESSION_HANDLE h)
{
	return message_refused_with(fn, h, NULL, false);
}

static CK_RV message_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	(void)k;
	return message_refused_with("C_Message*Init", h, m, true);
}

static CK_RV message_crypt(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR a, CK_ULONG al,
			   CK_BYTE_PTR in, CK_ULONG il, CK_BYTE_PTR out, CK_ULONG_PTR ol)
{
	(void)p, (void)pl, (void)a, (void)al, (void)in, (void)il, (void)out, (void)ol;
	return message_refused("C_EncryptMessage/C_DecryptMessage", h);
}

static CK_RV message_begin(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR a, CK_ULONG al)
{
	(void)p, (void)pl, (void)a, (void)al;
	return message_refused("C_*MessageBegin", h);
}

static CK_RV message_next(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR in, CK_ULONG il,
			  CK_BYTE_PTR out, CK_ULONG_PTR ol, CK_FLAGS f)
{
	(void)p, (void)pl, (void)in, (void)il, (void)out, (void)ol, (void)f;
	return message_refused("C_*MessageNext", h);
}

static CK_RV message_final(CK_SESSION_HANDLE h)
{
	return message_refused("C_Message*Final", h);
}

static CK_RV sign_message(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d, CK_ULONG dl,
			  CK_BYTE_PTR sig, CK_ULONG_PTR sl)
{
	(void)p, (void)pl, (void)d, (void)dl, (void)sig, (void)sl;
	return message_refused("C_SignMessage", h);
}

static CK_RV sign_message_begin(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl)
{
	(void)p, (void)pl;
	return message_refused("C_SignMessageBegin/C_VerifyMessageBegin", h);
}

static CK_RV sign_message_next(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d, CK_ULONG dl,
			       CK_BYTE_PTR sig, CK_ULONG_PTR sl)
{
	(void)p, (void)pl, (void)d, (void)dl, (void)sig, (void)sl;
	return message_refused("C_SignMessageNext", h);
}

static CK_RV verify_message(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d, CK_ULONG dl,
			    CK_BYTE_PTR sig, CK_ULONG sl)
{
	(void)p, (void)pl, (void)d, (void)dl, (void)sig, (void)sl;
	return message_refused("C_VerifyMessage", h);
}

static CK_RV verify_message_next(CK_SESSION_HANDLE h, CK_VOID_PTR p, CK_ULONG pl, CK_BYTE_PTR d,
				 CK_ULONG dl, CK_BYTE_PTR sig, CK_ULONG sl)
{
	(void)p, (void)pl, (void)d, (void)dl, (void)sig, (void)sl;
	return message_refused("C_VerifyMessageNext", h);
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
		     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);

#define LIST_2_40(info)                                                                          \
	C_Initialize, C_Finalize, info, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,          \
	C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN, C_SetPIN, \
	C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,                      \
	C_GetOperationState, C_SetOperationState, C_Login, C_Logout, C_CreateObject,              \
	C_CopyObject, C_DestroyObject, C_GetObjectSize, C_GetAttributeValue,                      \
	C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,                \
	C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit, C_Decrypt,      \
	C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey,     \
	C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit,          \
	C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,                     \
	C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate,       \
	C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair, C_WrapKey,  \
	C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus,            \
	C_CancelFunction, C_WaitForSlotEvent

CK_FUNCTION_LIST signet_functions_2_40 = {
	{ 2, 40 },
	LIST_2_40(C_GetInfo),
};

static CK_FUNCTION_LIST_3_0 functions_3_0 = {
	{ 3, 0 },
	LIST_2_40(signet_get_info_3_0),
	C_GetInterfaceList, C_GetInterface, signet_login_user, signet_session_cancel,
	message_init, message_crypt, message_begin, message_next, message_final,
	message_init, message_crypt, message_begin, message_next, message_final,
	message_init, sign_message, sign_message_begin, sign_message_next, message_final,
	message_init, verify_message, sign_message_begin, verify_message_next, message_final,
};

static CK_UTF8CHAR interface_name[] = "PKCS 11";
static CK_UTF8CHAR vendor_interface_name[] = SIGNET_VENDOR_INTERFACE;

static CK_INTERFACE interfaces[] = {
	{ interface_name, &functions_3_0, 0 },
	{ interface_name, &signet_functions_2_40, 0 },
	{ vendor_interface_name, &vendor_functions, 0 },
};
#define N_INTERFACES (sizeof(interfaces) / sizeof(interfaces[0]))

static const CK_VERSION *interface_version(const CK_INTERFACE *i)
{
	return (const CK_VERSION *)i->pFunctionList; /* every list starts with its version */
}

EXPORTED CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
	entry_trace_call(__func__, "ppFunctionList=%p", (void *)ppFunctionList);
	if (ppFunctionList == NULL)
		return entry_trace_ret(__func__, CKR_ARGUMENTS_BAD);
	*ppFunctionList = &signet_functions_2_40;
	return entry_trace_ret(__func__, CKR_OK);
}

EXPORTED CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
	CK_RV rv = CKR_OK;

	entry_trace_call(__func__, "pInterfacesList=%p", (void *)pInterfacesList);
	if (pulCount == NULL) {
		rv = CKR_ARGUMENTS_BAD;
	} else if (pInterfacesList == NULL) {
		*pulCount = N_INTERFACES;
	} else if (*pulCount < N_INTERFACES) {
		*pulCount = N_INTERFACES;
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		memcpy(pInterfacesList, interfaces, sizeof(interfaces));
		*pulCount = N_INTERFACES;
	}
	return entry_trace_ret(__func__, rv);
}

static bool interface_matches(const CK_INTERFACE *i, const CK_UTF8CHAR *name, const CK_VERSION *version,
			      CK_FLAGS flags)
{
	const CK_VERSION *v = interface_version(i);

	if (name != NULL && strcmp((const char *)name, (const char *)i->pInterfaceName) != 0)
		return false;
	if (version != NULL && (version->major != v->major || version->minor != v->minor))
		return false;
	return (i->flags & flags) == flags;
}

EXPORTED CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
			      CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
	CK_RV rv = CKR_ARGUMENTS_BAD; /* what the standard answers for "no such interface" */

	entry_trace_call(__func__, "name=%s version=%d.%d flags=0x%lx",
		   pInterfaceName ? (const char *)pInterfaceName : "(default)",
		   pVersion ? pVersion->major : -1, pVersion ? pVersion->minor : -1, (unsigned long)flags);
	if (ppInterface != NULL) {
		for (size_t i = 0; i < N_INTERFACES; i++) {
			if (interface_matches(&interfaces[i], pInterfaceName, pVersion, flags)) {
				*ppInterface = &interfaces[i];
				rv = CKR_OK;
				break;
			}
		}
	}
	return entry_trace_ret(__func__, rv);
}
