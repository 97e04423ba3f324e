/*
 * Object handles: stable, never reused, mapped to (slot, token epoch,
 * token_ref), so that a handle of a token that left a slot never names an
 * object of the token there now.
 */
#ifndef SIGNET_HANDLE_H
#define SIGNET_HANDLE_H

#include "pkcs11/cryptoki.h"
#include "pkcs11/token.h"

struct slot;
struct session;

CK_RV object_handle_for(const struct slot *slot, token_ref ref, CK_OBJECT_HANDLE *out);
/* CKR_OBJECT_HANDLE_INVALID unless the handle names an object of this slot's current token. */
CK_RV object_ref_of(const struct slot *slot, CK_OBJECT_HANDLE handle, token_ref *out);
void object_forget(const struct slot *slot, CK_OBJECT_HANDLE handle);
/*
 * The handle for an object the session just made. A session object (CKA_TOKEN
 * false) is remembered, and its handle forgotten when the session closes, so
 * that the map does not grow for ever in a host that makes keys per use.
 */
CK_RV object_handle_for_new(struct session *s, token_ref ref, CK_OBJECT_HANDLE *out);
/* Forgets every handle of the slot's current token. Caller holds the module lock. */
void objects_forget_slot_locked(const struct slot *slot);

/* C_Initialize / C_Finalize. */
void objects_init(void);
void objects_free(void);

#endif
