/*
 * The slot table, as the core sees it (drivers see pkcs11/slot.h only):
 * one struct slot per device a driver added, in ID order, alive until
 * C_Finalize. The module lock guards the fields so marked.
 */
#ifndef SIGNET_SLOTS_H
#define SIGNET_SLOTS_H

#include <stdbool.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/slot.h"
#include "pkcs11/token.h"

struct mech_cache;

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
	/* the token's own mechanisms, read on first use (pkcs11/mech.c); one allocation, freed with free() */
	struct mech_cache *mechs;
};

/* Caller holds the module lock. */
struct slot *slot_find_locked(CK_SLOT_ID id);
CK_ULONG slot_count_locked(void);
struct slot *slot_at_locked(CK_ULONG index);
/* Whether a token is in the slot, as the driver last said (no device I/O). */
bool slot_token_there(struct slot *s);
/* The first slot with an event since the last call, which clears it; false when none has one. */
bool slot_take_event(CK_SLOT_ID *id);
/* From the end of C_Initialize to C_Finalize, what drivers report is an event. */
void slots_report_events(bool on);
/* C_Finalize: frees every slot (tokens are their drivers' to free). */
void slots_free(void);

#endif
