/*
 * Mechanisms signet composes on the host for tokens that lack them: the
 * hash-and-sign variants (CKM_ECDSA_SHA256, CKM_SHA256_RSA_PKCS, ...) are
 * hashed and encoded here (crypto/) and the token is asked only for the
 * raw operation (CKM_ECDSA over the hash, CKM_RSA_PKCS over the DigestInfo).
 * A token that offers a mechanism itself keeps doing it.
 */
#ifndef SIGNET_MECH_H
#define SIGNET_MECH_H

#include <stdbool.h>

#include "pkcs11/module.h"

struct host_op;

/* C_GetMechanismList / C_GetMechanismInfo: the token's own plus the composed ones. */
CK_RV mech_list(struct slot *slot, CK_MECHANISM_TYPE *list, CK_ULONG *count);
CK_RV mech_info(struct slot *slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);

/* Whether signet composes this mechanism for this operation on this slot's token. */
bool mech_composed(struct slot *slot, enum token_op op, const CK_MECHANISM *mech);

/*
 * A composed sign, verify or decrypt operation, with the same length rules
 * as the token's. For sign and verify the token's raw operation starts in
 * host_op_init and ends in the final step; a caller that ends the composed
 * operation otherwise ends the token's with op_abort.
 */
CK_RV host_op_init(struct session *s, enum token_op op, const CK_MECHANISM *mech, token_ref key,
		   struct host_op **out);
CK_RV host_op_oneshot(struct session *s, struct host_op *h, const CK_BYTE *in, CK_ULONG in_len,
		      CK_BYTE *out, CK_ULONG *out_len);
CK_RV host_op_update(struct session *s, struct host_op *h, const CK_BYTE *in, CK_ULONG in_len);
CK_RV host_op_final(struct session *s, struct host_op *h, CK_BYTE *out, CK_ULONG *out_len);
void host_op_free(struct host_op *h);

/* Forgets a slot's cached mechanism list (a different card was inserted). */
void mech_forget(struct slot *slot);

#endif
