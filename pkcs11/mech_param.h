/*
 * Mechanism parameters are checked here, before any token sees them. A
 * token reads whatever a parameter points to: a NULL pointer with a length,
 * or a struct shorter than the one it expects, ends the host (SoftHSM 2.6
 * does exactly that with a CK_GCM_PARAMS whose pAAD is NULL).
 *
 * The answers, the same for every mechanism and token:
 *  - CKR_ARGUMENTS_BAD for a NULL pointer with a non-zero length, whether
 *    it is pParameter itself or a pointer/length pair inside the parameter
 *    (the rule every buffer argument of the module follows);
 *  - CKR_MECHANISM_PARAM_INVALID for anything else: a missing parameter, a
 *    parameter of the wrong size, a parameter given to a mechanism that
 *    takes none, or a value no token could use (a GCM tag of 129 bits, a
 *    CBC IV that is not one block, an unknown hash or MGF, ...).
 * Mechanisms unknown here pass with the NULL-pointer check alone: the token
 * judges them.
 */
#ifndef SIGNET_MECH_PARAM_H
#define SIGNET_MECH_PARAM_H

#include "pkcs11/cryptoki.h"

/* PKCS#11 3.0 parameter layouts that p11-kit 0.24's header lacks. */
struct mech_ccm_params {   /* CK_CCM_PARAMS, for CKM_AES_CCM */
	CK_ULONG ulDataLen;
	CK_BYTE_PTR pNonce;
	CK_ULONG ulNonceLen;
	CK_BYTE_PTR pAAD;
	CK_ULONG ulAADLen;
	CK_ULONG ulMACLen;
};

/*
 * CKR_OK, or the error above for m (which must not be NULL). A refusal is
 * logged at debug level with the mechanism and what is wrong, never with
 * the parameter's contents.
 */
CK_RV mech_param_check(const CK_MECHANISM *m);

#endif
