/*
 * The PKCS#11 types: p11-kit's 2.40 header plus the few 3.0 declarations it
 * lacks (interfaces, the 3.0 function list, C_LoginUser, C_SessionCancel,
 * the message-based functions, the Edwards and Montgomery curves).
 */
#ifndef SIGNET_CRYPTOKI_H
#define SIGNET_CRYPTOKI_H

#include <p11-kit/pkcs11.h>

#ifndef CKF_INTERFACE_FORK_SAFE
#define CKF_INTERFACE_FORK_SAFE 0x00000001UL

typedef struct CK_INTERFACE {
	CK_UTF8CHAR *pInterfaceName;
	void *pFunctionList;
	CK_FLAGS flags;
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR *CK_INTERFACE_PTR_PTR;
#endif

/*
 * The Edwards and Montgomery curves of PKCS#11 3.0 (Ed25519 signatures,
 * X25519 key agreement). p11-kit 0.24 knows the Edwards key type and
 * mechanisms but not the Montgomery ones, nor the EdDSA parameter; each
 * value is defined here only when the system header lacks it.
 */
#ifndef CKK_EC_EDWARDS
#define CKK_EC_EDWARDS 0x40UL
#endif
#ifndef CKK_EC_MONTGOMERY
#define CKK_EC_MONTGOMERY 0x41UL
#endif
#ifndef CKM_EC_EDWARDS_KEY_PAIR_GEN
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL
#endif
#ifndef CKM_EC_MONTGOMERY_KEY_PAIR_GEN
#define CKM_EC_MONTGOMERY_KEY_PAIR_GEN 0x1056UL
#endif
#ifndef CKM_EDDSA
#define CKM_EDDSA 0x1057UL
#endif
/* 3.0's names for the CKA_EC_PARAMS forms a token takes: an OID (2.40's "named curve") or a curve name. */
#ifndef CKF_EC_OID
#define CKF_EC_OID 0x00800000UL
#endif
#ifndef CKF_EC_CURVENAME
#define CKF_EC_CURVENAME 0x04000000UL
#endif

/*
 * CKM_EDDSA's optional parameter: phFlag selects the pre-hashed variant
 * (Ed25519ph), a context makes it Ed25519ctx; neither is plain Ed25519.
 * A header that speaks 3.0 has it already.
 */
#if !defined(CRYPTOKI_VERSION_MAJOR) || CRYPTOKI_VERSION_MAJOR < 3
typedef struct CK_EDDSA_PARAMS {
	CK_BBOOL phFlag;
	CK_ULONG ulContextDataLen;
	CK_BYTE_PTR pContextData;
} CK_EDDSA_PARAMS;
typedef CK_EDDSA_PARAMS *CK_EDDSA_PARAMS_PTR;
#endif

typedef CK_RV (*CK_C_GetInterfaceList)(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
typedef CK_RV (*CK_C_GetInterface)(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
				   CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);
typedef CK_RV (*CK_C_LoginUser)(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
				CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
				CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen);
typedef CK_RV (*CK_C_SessionCancel)(CK_SESSION_HANDLE hSession, CK_FLAGS flags);
typedef CK_RV (*CK_C_MessageInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
				  CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_MessageCrypt)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				   CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
				   CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pIn, CK_ULONG ulInLen,
				   CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen);
typedef CK_RV (*CK_C_MessageBegin)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				   CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
				   CK_ULONG ulAssociatedDataLen);
typedef CK_RV (*CK_C_MessageNext)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				  CK_ULONG ulParameterLen, CK_BYTE_PTR pIn, CK_ULONG ulInLen,
				  CK_BYTE_PTR pOut, CK_ULONG_PTR pulOutLen, CK_FLAGS flags);
typedef CK_RV (*CK_C_MessageFinal)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_SignMessage)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				  CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
				  CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
typedef CK_RV (*CK_C_SignMessageBegin)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				       CK_ULONG ulParameterLen);
typedef CK_RV (*CK_C_SignMessageNext)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				      CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
				      CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
				      CK_ULONG_PTR pulSignatureLen);
typedef CK_RV (*CK_C_VerifyMessage)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
				    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
				    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen);
typedef CK_RV (*CK_C_VerifyMessageNext)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
					CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
					CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
					CK_ULONG ulSignatureLen);

/* The 2.40 list followed by the 3.0 additions, in the order the standard gives. */
typedef struct CK_FUNCTION_LIST_3_0 {
	CK_VERSION version;
	CK_C_Initialize C_Initialize;
	CK_C_Finalize C_Finalize;
	CK_C_GetInfo C_GetInfo;
	CK_C_GetFunctionList C_GetFunctionList;
	CK_C_GetSlotList C_GetSlotList;
	CK_C_GetSlotInfo C_GetSlotInfo;
	CK_C_GetTokenInfo C_GetTokenInfo;
	CK_C_GetMechanismList C_GetMechanismList;
	CK_C_GetMechanismInfo C_GetMechanismInfo;
	CK_C_InitToken C_InitToken;
	CK_C_InitPIN C_InitPIN;
	CK_C_SetPIN C_SetPIN;
	CK_C_OpenSession C_OpenSession;
	CK_C_CloseSession C_CloseSession;
	CK_C_CloseAllSessions C_CloseAllSessions;
	CK_C_GetSessionInfo C_GetSessionInfo;
	CK_C_GetOperationState C_GetOperationState;
	CK_C_SetOperationState C_SetOperationState;
	CK_C_Login C_Login;
	CK_C_Logout C_Logout;
	CK_C_CreateObject C_CreateObject;
	CK_C_CopyObject C_CopyObject;
	CK_C_DestroyObject C_DestroyObject;
	CK_C_GetObjectSize C_GetObjectSize;
	CK_C_GetAttributeValue C_GetAttributeValue;
	CK_C_SetAttributeValue C_SetAttributeValue;
	CK_C_FindObjectsInit C_FindObjectsInit;
	CK_C_FindObjects C_FindObjects;
	CK_C_FindObjectsFinal C_FindObjectsFinal;
	CK_C_EncryptInit C_EncryptInit;
	CK_C_Encrypt C_Encrypt;
	CK_C_EncryptUpdate C_EncryptUpdate;
	CK_C_EncryptFinal C_EncryptFinal;
	CK_C_DecryptInit C_DecryptInit;
	CK_C_Decrypt C_Decrypt;
	CK_C_DecryptUpdate C_DecryptUpdate;
	CK_C_DecryptFinal C_DecryptFinal;
	CK_C_DigestInit C_DigestInit;
	CK_C_Digest C_Digest;
	CK_C_DigestUpdate C_DigestUpdate;
	CK_C_DigestKey C_DigestKey;
	CK_C_DigestFinal C_DigestFinal;
	CK_C_SignInit C_SignInit;
	CK_C_Sign C_Sign;
	CK_C_SignUpdate C_SignUpdate;
	CK_C_SignFinal C_SignFinal;
	CK_C_SignRecoverInit C_SignRecoverInit;
	CK_C_SignRecover C_SignRecover;
	CK_C_VerifyInit C_VerifyInit;
	CK_C_Verify C_Verify;
	CK_C_VerifyUpdate C_VerifyUpdate;
	CK_C_VerifyFinal C_VerifyFinal;
	CK_C_VerifyRecoverInit C_VerifyRecoverInit;
	CK_C_VerifyRecover C_VerifyRecover;
	CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
	CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
	CK_C_SignEncryptUpdate C_SignEncryptUpdate;
	CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
	CK_C_GenerateKey C_GenerateKey;
	CK_C_GenerateKeyPair C_GenerateKeyPair;
	CK_C_WrapKey C_WrapKey;
	CK_C_UnwrapKey C_UnwrapKey;
	CK_C_DeriveKey C_DeriveKey;
	CK_C_SeedRandom C_SeedRandom;
	CK_C_GenerateRandom C_GenerateRandom;
	CK_C_GetFunctionStatus C_GetFunctionStatus;
	CK_C_CancelFunction C_CancelFunction;
	CK_C_WaitForSlotEvent C_WaitForSlotEvent;
	CK_C_GetInterfaceList C_GetInterfaceList;
	CK_C_GetInterface C_GetInterface;
	CK_C_LoginUser C_LoginUser;
	CK_C_SessionCancel C_SessionCancel;
	CK_C_MessageInit C_MessageEncryptInit;
	CK_C_MessageCrypt C_EncryptMessage;
	CK_C_MessageBegin C_EncryptMessageBegin;
	CK_C_MessageNext C_EncryptMessageNext;
	CK_C_MessageFinal C_MessageEncryptFinal;
	CK_C_MessageInit C_MessageDecryptInit;
	CK_C_MessageCrypt C_DecryptMessage;
	CK_C_MessageBegin C_DecryptMessageBegin;
	CK_C_MessageNext C_DecryptMessageNext;
	CK_C_MessageFinal C_MessageDecryptFinal;
	CK_C_MessageInit C_MessageSignInit;
	CK_C_SignMessage C_SignMessage;
	CK_C_SignMessageBegin C_SignMessageBegin;
	CK_C_SignMessageNext C_SignMessageNext;
	CK_C_MessageFinal C_MessageSignFinal;
	CK_C_MessageInit C_MessageVerifyInit;
	CK_C_VerifyMessage C_VerifyMessage;
	CK_C_SignMessageBegin C_VerifyMessageBegin;
	CK_C_VerifyMessageNext C_VerifyMessageNext;
	CK_C_MessageFinal C_MessageVerifyFinal;
} CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;

/*
 * signet's vendor attributes (README, "Putting a key and certificate on a
 * card"), read from the templates of C_GenerateKeyPair and C_CreateObject
 * for a card key: the PIV PIN and touch policies of the new key (CK_ULONG,
 * the PIV values: PIN 1 never, 2 once, 3 always; touch 1 never, 2 always,
 * 3 cached), and CK_BBOOL permission to replace a key the slot holds.
 */
#define CKA_SIGNET_PIN_POLICY (CKA_VENDOR_DEFINED | 0x00534701UL)
#define CKA_SIGNET_TOUCH_POLICY (CKA_VENDOR_DEFINED | 0x00534702UL)
#define CKA_SIGNET_REPLACE (CKA_VENDOR_DEFINED | 0x00534703UL)

#endif
