/*
 * The module's global state: configuration, the slot table, the session
 * table and the object-handle map, all guarded by one module lock.
 *
 * Lock rule: take the module lock only around table look-ups and updates,
 * copy what is needed, and release it before calling into a token, which
 * may block on a card or on SoftHSM.
 */
#ifndef SIGNET_MODULE_H
#define SIGNET_MODULE_H

#include <stdbool.h>

#include "pkcs11/config.h"
#include "pkcs11/cryptoki.h"
#include "pkcs11/slot.h"
#include "pkcs11/token.h"

struct host_op;

#define NO_LOGIN ((CK_USER_TYPE)-1)

struct slot {
	CK_SLOT_ID id;
	struct token *tok;
	const struct token_ops *ops;
	bool removed;            /* its reader went away: keep the id, show no token */
	/* guarded by the module lock */
	bool present;            /* a token is in the slot (slot_set_present) */
	CK_ULONG epoch;          /* which token: a new one in the slot gets the next epoch */
	/*
	 * Held from deciding a login state change to recording it, across the
	 * token's login or logout (order: login_lock, then the module lock).
	 */
	void *login_lock;
	/* guarded by the module lock */
	CK_USER_TYPE login;      /* NO_LOGIN, CKU_USER or CKU_SO */
	bool event;              /* a token came or went, or the reader arrived: for C_WaitForSlotEvent */
	CK_ULONG sessions;
	CK_ULONG rw_sessions;
	/* the token's own mechanisms, loaded on first use (pkcs11/mech.c) */
	bool native_loaded;
	CK_MECHANISM_TYPE *native;
	CK_ULONG nnative;
};

struct find_state {
	CK_OBJECT_HANDLE *handles;
	CK_ULONG count, pos;
};

struct session {
	CK_SESSION_HANDLE handle;
	struct slot *slot;
	CK_FLAGS flags;
	void *ss;                    /* the token's per-session state */
	/* guarded by the module lock */
	unsigned refs;
	bool closing;
	bool token_gone;             /* closed because its token left the slot */
	bool finding;
	struct find_state find;
	bool op_active[TOKEN_OP_COUNT];
	struct host_op *host[TOKEN_OP_COUNT];   /* composed operations (pkcs11/mech.c) */
	CK_OBJECT_HANDLE *own_objects;          /* session objects it made: they die with it */
	CK_ULONG n_own_objects;
};

/* C_Initialize / C_Finalize. */
CK_RV module_initialize(const CK_C_INITIALIZE_ARGS *args);
CK_RV module_finalize(void);
/* Initialised in this process (a forked child is not until it calls C_Initialize). */
bool module_ready(void);
const struct config *module_config(void);

/* The host is running its exit handlers: tokens must not call into libraries being torn down. */
bool module_exiting(void);
void module_set_exiting(void);

CK_RV module_lock(void);
void module_unlock(void);

/* Slots: drivers add them from start()/refresh() through pkcs11/slot.h. */
/* Caller holds the module lock. */
struct slot *slot_find_locked(CK_SLOT_ID id);
CK_ULONG slot_count_locked(void);
struct slot *slot_at_locked(CK_ULONG index);
/* Whether a token is in the slot, as the driver last said (no device I/O). */
bool slot_token_there(struct slot *s);
/* Asks the drivers to look for new or vanished devices. */
void slots_refresh(void);
/* The first slot with an event since the last call, which clears it; false when none has one. */
bool slot_take_event(CK_SLOT_ID *id);
/*
 * Blocks up to timeout_ms until a driver sees a device come or go: CKR_OK
 * (look again), CKR_NO_EVENT, CKR_CRYPTOKI_NOT_INITIALIZED (C_Finalize), or
 * CKR_FUNCTION_NOT_SUPPORTED when no driver has devices that come and go.
 */
CK_RV drivers_wait(unsigned timeout_ms);

/* Sessions: acquire takes a reference the caller drops with session_release. */
CK_RV session_open(struct slot *slot, CK_FLAGS flags, CK_SESSION_HANDLE *handle);
CK_RV session_acquire(CK_SESSION_HANDLE handle, struct session **out);
void session_release(struct session *s);
CK_RV session_close(CK_SESSION_HANDLE handle);
CK_RV session_close_all(struct slot *slot);
/* The slot's token left: its sessions close without a logout or a word to the device. */
void session_close_all_gone(struct slot *slot);
CK_STATE session_state_locked(const struct session *s);

/* Object handles: stable, never reused, mapped to (slot, token_ref). */
CK_RV object_handle_for(const struct slot *slot, token_ref ref, CK_OBJECT_HANDLE *out);
/* CKR_OBJECT_HANDLE_INVALID unless the handle names an object of this slot. */
CK_RV object_ref_of(const struct slot *slot, CK_OBJECT_HANDLE handle, token_ref *out);
void object_forget(const struct slot *slot, CK_OBJECT_HANDLE handle);
/*
 * The handle for an object the session just made. A session object (CKA_TOKEN
 * false) is remembered, and its handle forgotten when the session closes, so
 * that the map does not grow for ever in a host that makes keys per use.
 */
CK_RV object_handle_for_new(struct session *s, token_ref ref, CK_OBJECT_HANDLE *out);

#endif
