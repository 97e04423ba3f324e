/*
 * signet's vendor interface: what PKCS#11 has no call for. An application
 * gets it from the module with
 *
 *   CK_INTERFACE_PTR iface;
 *   CK_VERSION v = { SIGNET_VENDOR_VERSION_MAJOR, SIGNET_VENDOR_VERSION_MINOR };
 *   C_GetInterface((CK_UTF8CHAR_PTR)SIGNET_VENDOR_INTERFACE, &v, &iface, 0);
 *   SIGNET_FUNCTION_LIST *sf = iface->pFunctionList;
 *
 * (C_GetInterfaceList lists it too, after the standard "PKCS 11" ones).
 * Its functions share the module's state with the standard ones: call
 * C_Initialize first, through either. Include a PKCS#11 header (for the
 * CK_* types) before this one.
 */
#ifndef SIGNET_VENDOR_H
#define SIGNET_VENDOR_H

#define SIGNET_VENDOR_INTERFACE "Vendor signet"
#define SIGNET_VENDOR_VERSION_MAJOR 1
#define SIGNET_VENDOR_VERSION_MINOR 0

/*
 * The PIN tries of a token as signet knows them. PKCS#11's flags only say
 * "a wrong PIN since the last good one", "final try" and "locked"; these
 * are the counts behind them: for a card, its own counters as last read
 * (C_GetTokenInfo reads them), or signet's stricter count when the card
 * allows more tries than the policy; for the software fallback, signet's
 * counters and the [policy] limits. -1 where signet does not know (an
 * uninitialised token; a card that has not said how many PUK tries it
 * holds). userLeft / soLeft are 0 exactly when that PIN is locked.
 */
typedef struct SIGNET_PIN_TRIES {
	CK_LONG userLeft;
	CK_LONG userMax;
	CK_LONG soLeft;
	CK_LONG soMax;
	CK_FLAGS flags;
} SIGNET_PIN_TRIES;

/*
 * C_InitToken on this token is a reset of the device (a YubiKey's), which
 * erases every key and certificate and is allowed only once the user PIN
 * and the SO PIN (a card's PUK) are both blocked. The module never blocks
 * them itself: the application does, with wrong PINs through C_Login,
 * after its user confirmed. Without this flag on a card, C_InitToken
 * cannot reset it: do not block anything.
 */
#define SIGNET_TOKEN_CAN_RESET 0x1UL
/* C_SignetSetRetries works on this token. */
#define SIGNET_TOKEN_CAN_SET_RETRIES 0x2UL

typedef struct SIGNET_FUNCTION_LIST {
	CK_VERSION version; /* 1.0 */
	/*
	 * The tries of the token in slotID, without spending one.
	 * CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_PRESENT, CKR_ARGUMENTS_BAD for a
	 * NULL pTries, CKR_CRYPTOKI_NOT_INITIALIZED, as C_GetTokenInfo.
	 */
	CK_RV (*C_SignetGetPinTries)(CK_SLOT_ID slotID, SIGNET_PIN_TRIES *pTries);
	/*
	 * Sets how many tries the user PIN and the SO PIN allow on the token
	 * (a card's PIN and PUK retry counters), in a read-write session with
	 * the login the token needs. CKR_FUNCTION_NOT_SUPPORTED on a token
	 * without SIGNET_TOKEN_CAN_SET_RETRIES.
	 */
	CK_RV (*C_SignetSetRetries)(CK_SESSION_HANDLE hSession, CK_ULONG ulUserPinTries, CK_ULONG ulSoPinTries);
} SIGNET_FUNCTION_LIST;

#endif
