/*
 * Sessions: handles never reused, reference counted so that a close while
 * another thread works on the session is safe, and a call lock per
 * session so that threads sharing one take turns.
 */
#ifndef SIGNET_SESSION_H
#define SIGNET_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/slots.h"

struct op_state;

struct find_state {
	CK_OBJECT_HANDLE *handles;
	CK_ULONG count, pos;
};

struct session {
	CK_SESSION_HANDLE handle;
	struct slot *slot;
	CK_FLAGS flags;
	void *ss;                    /* the token's per-session state */
	/*
	 * Held by a call on this session from before it reads or changes the
	 * token's session state or its operations until it is done with them:
	 * threads sharing a session take turns. Table readers do without it.
	 */
	void *call_lock;
	atomic_bool closing;         /* written under the module lock */
	/*
	 * Its cryptographic operations, touched only by the calls made on the
	 * session (pkcs11/op.c), and how to free them when the session goes.
	 */
	struct op_state *op_state;
	void (*op_state_free)(struct op_state *st);
	/* guarded by the module lock */
	unsigned refs;
	bool token_gone;             /* closed because its token left the slot */
	bool finding;
	struct find_state find;
	CK_OBJECT_HANDLE *own_objects;          /* session objects it made: they die with it */
	CK_ULONG n_own_objects;
};

/*
 * A call on a session: session_acquire enters the module, takes a reference
 * and then the session's call lock (waiting for another thread's call on
 * it); session_release gives all three back. A session closed meanwhile by
 * another thread stays allocated until its last reference is dropped.
 */
CK_RV session_open(struct slot *slot, CK_FLAGS flags, CK_SESSION_HANDLE *handle);
CK_RV session_acquire(CK_SESSION_HANDLE handle, struct session **out);
void session_release(struct session *s);
/* For calls that read only the module's tables: no waiting behind a token call. */
CK_RV session_peek(CK_SESSION_HANDLE handle, struct session **out);
void session_unpeek(struct session *s);
CK_RV session_close(CK_SESSION_HANDLE handle);
CK_RV session_close_all(struct slot *slot);
/* The slot's token left: its sessions close without a logout or a word to the device. */
void session_close_all_gone(struct slot *slot);
CK_STATE session_state_locked(const struct session *s);

/* C_Initialize / C_Finalize; quietly: without a word to any token (exit handlers, a forked child). */
void sessions_init(void);
void sessions_free(bool quietly);

#endif
