/*
 * The bottom of the core: the module lock that guards the slot, session
 * and handle tables, the gate every call in flight holds, and the
 * process-exiting flag. Everything above (slot.c, session.c, handle.c,
 * op.c, mech.c, the entry points, module.c) builds on this.
 *
 * Lock rule: take the module lock only around table look-ups and updates,
 * copy what is needed, and release it before calling into a token, which
 * may block on a card or on SoftHSM.
 *
 * Lock order, outermost first:
 *   1. the gate, shared by every call in flight (core_enter/core_leave);
 *      C_Finalize and fork take it exclusively;
 *   2. one session's call lock (session_acquire), held across the token call;
 *   3. the slot's login_lock;
 *   4. the drivers' and tokens' own locks;
 *   5. the module lock, which is never held while anything else is taken.
 */
#ifndef SIGNET_CORE_H
#define SIGNET_CORE_H

#include <stdbool.h>

#include "pkcs11/cryptoki.h"

/* Initialised in this process (a forked child is not until it calls C_Initialize). */
bool core_ready(void);

/*
 * A call that uses the module's state enters first (CKR_CRYPTOKI_NOT_INITIALIZED
 * once C_Finalize has begun) and leaves when done with it; C_Finalize frees
 * nothing while a call is inside. Once per call: never nested.
 */
CK_RV core_enter(void);
void core_leave(void);

CK_RV core_lock(void);
void core_unlock(void);

/* The host is running its exit handlers: tokens must not call into libraries being torn down. */
bool core_exiting(void);
void core_set_exiting(void);

/* ---- for module.c, which builds and tears down the state ---- */

/* The module lock, made with the locking C_Initialize chose; whether it exists (a forked child asks). */
CK_RV core_lock_create(void);
void core_lock_destroy(void);
bool core_lock_exists(void);

/* Lets calls in (after C_Initialize built everything) or refuses them from now on. */
void core_set_ready(bool ready);

/* Takes the gate exclusively, waiting at most seconds (< 0: for ever); false when calls stayed in flight. */
bool core_gate_close(int seconds);
void core_gate_open(void);
/* A forked child's gate: no thread of the parent holds it here. */
void core_gate_reset(void);

#endif
