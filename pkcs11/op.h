/*
 * The operation engine: a session's cryptographic operations (encrypt,
 * decrypt, digest, sign, verify and the recover forms, one of each kind at
 * a time), each carried out with the strategy pkcs11/mech.c chose for its
 * mechanism and key at C_*Init: by the token (native), by the host around
 * the token's raw private-key operation (composed), or by the host alone.
 *
 * The PKCS#11 rules kept here, the same for every token and strategy:
 *  - a second C_*Init of a kind already active is CKR_OPERATION_ACTIVE;
 *  - a length query (NULL output) or CKR_BUFFER_TOO_SMALL keeps an
 *    operation; any other outcome of a finishing step ends it, as does an
 *    error of an update;
 *  - an operation that went single-part (C_Sign, ... even as a length
 *    query) cannot go on multi-part, and one that went multi-part cannot
 *    finish single-part: CKR_OPERATION_ACTIVE, and nothing changes.
 * The entry points check their arguments first, and end an active
 * operation on an argument error with op_abandon().
 *
 * Locking: a session's operations are touched only by the calls made on
 * that session, which PKCS#11 leaves to the application to make one at a
 * time (v2.40 5.6.6: concurrent calls on one session are undefined). So
 * the engine takes no lock of its own: a C_Sign costs the module lock only
 * for looking the session up and releasing it.
 */
#ifndef SIGNET_OP_H
#define SIGNET_OP_H

#include "pkcs11/cryptoki.h"
#include "pkcs11/token.h"

struct session;

enum op_step {
	OP_ONESHOT,  /* C_Sign, C_Encrypt, C_Digest, C_Verify, the recover forms */
	OP_UPDATE,   /* C_SignUpdate, ... */
	OP_FINAL,    /* C_SignFinal, ... */
};

/*
 * Starts an operation; key is ignored for digests. The mechanism pointer
 * is not NULL; its parameter is checked here, after the operation state.
 */
CK_RV op_init(struct session *s, enum token_op op, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key);

/*
 * One step of the active operation of kind op, with the length rules of
 * token.h: out NULL asks for the length. For verification, out/out_len
 * carry the signature to check. The arguments are the caller's, checked.
 */
CK_RV op_step(struct session *s, enum token_op op, enum op_step step, const CK_BYTE *in, CK_ULONG in_len,
	      CK_BYTE *out, CK_ULONG *out_len);

/* C_DigestKey: a multi-part step of the active digest. */
CK_RV op_digest_key(struct session *s, CK_OBJECT_HANDLE key);

/* Ends the active operation of kind op, if there is one, after an argument error. */
void op_abandon(struct session *s, enum token_op op);

#endif
