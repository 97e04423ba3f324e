/*
 * What a token offers, and what signet adds to it on the host, per
 * mechanism and operation. The token's own mechanisms (its list and flags,
 * read once per token) always come first; where a token lacks one, signet
 * may provide it with one of two strategies:
 *  - host-encode + token-raw (MECH_COMPOSED): the host hashes and pads
 *    (crypto/) and the token does only the raw private-key operation,
 *    CKM_ECDSA, CKM_RSA_X_509 or CKM_RSA_PKCS: how a PIV card signs with
 *    CKM_SHA256_RSA_PKCS or CKM_RSA_PKCS_PSS, how SoftHSM 2.6 gets
 *    CKM_ECDSA_SHA256;
 *  - host-only (MECH_HOST): digests, and the public-key operations (verify,
 *    encrypt), computed on the host with the key's public attributes read
 *    through the token: a PIV card cannot verify, not even its own Ed25519
 *    signatures.
 * The operation engine (pkcs11/op.c) asks mech_plan() at every C_*Init;
 * C_GetMechanismList and C_GetMechanismInfo show the same choices.
 */
#ifndef SIGNET_MECH_H
#define SIGNET_MECH_H

#include <stdbool.h>

#include "crypto/digest.h"
#include "pkcs11/cryptoki.h"
#include "pkcs11/token.h"

struct slot;

enum mech_strategy {
	MECH_NATIVE,    /* the token does it all */
	MECH_COMPOSED,  /* the host encodes, the token does the raw operation */
	MECH_HOST,      /* the host does it all, with public values read from the token */
};

enum mech_family {
	MECH_DIGEST,    /* a hash */
	MECH_ECDSA,     /* ECDSA over a hash */
	MECH_PKCS1,     /* RSA PKCS#1 v1.5: signatures over a DigestInfo, type-2 encryption */
	MECH_PSS,       /* RSASSA-PSS */
	MECH_X509,      /* raw RSA */
	MECH_OAEP,      /* RSAES-OAEP */
	MECH_EDDSA,     /* pure EdDSA over the whole message (Ed25519) */
};

/* How the host carries out a mechanism it composes. */
struct mech_recipe {
	CK_MECHANISM_TYPE type;
	enum mech_family family;
	bool hashes;        /* the host hashes the message with `hash`; otherwise the input is used as it is */
	enum cr_hash hash;
};

struct mech_plan {
	enum mech_strategy strategy;
	const struct mech_recipe *recipe;  /* NULL for MECH_NATIVE */
	CK_MECHANISM_TYPE base;            /* MECH_COMPOSED: the token's raw mechanism */
};

/* The strategy for this operation with this mechanism on the slot's current token. */
CK_RV mech_plan(struct slot *slot, enum token_op op, CK_MECHANISM_TYPE type, struct mech_plan *plan);

/*
 * C_GetMechanismList / C_GetMechanismInfo: the token's own mechanisms, then
 * the ones signet composes, each with the flags of what it really does with
 * this token (CKF_HW and the EC flags of the raw mechanism it rests on).
 */
CK_RV mech_list(struct slot *slot, CK_MECHANISM_TYPE *list, CK_ULONG *count);
CK_RV mech_info(struct slot *slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);

#endif
