/*
 * The core's API for token drivers: with token.h, the only core header a
 * driver includes. A driver adds a slot per device it finds and tells the
 * core what happens to the device; the core keeps sessions, login state and
 * object handles consistent with it.
 *
 * Slot IDs: each driver kind has its own range, so card slots come before
 * the fallback's in every slot list, even for a reader plugged in after
 * C_Initialize, and an ID stays with its device for the life of the process.
 */
#ifndef SIGNET_SLOT_H
#define SIGNET_SLOT_H

#include <stdbool.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/token.h"

enum slot_range {
	SLOT_RANGE_CARD,     /* IDs 0 .. SLOT_RANGE_SIZE - 1, one per reader */
	SLOT_RANGE_SOFTHSM,  /* IDs from SLOT_RANGE_SIZE on */
};
#define SLOT_RANGE_SIZE 64

/* Adds a slot whose token is present; CKR_HOST_MEMORY when its range is full. */
CK_RV slot_add(struct token *tok, const struct token_ops *ops, enum slot_range range, CK_SLOT_ID *id);

enum slot_presence {
	SLOT_TOKEN_PRESENT,  /* a token is in the slot */
	SLOT_EMPTY,          /* the reader is there, no token */
	SLOT_GONE,           /* the reader went away: the ID stays reserved, the slot is not listed */
};

/*
 * The device's token came or went. Leaving SLOT_TOKEN_PRESENT ends the
 * slot's sessions (their handles are invalid afterwards), its login and its
 * object handles; a token put back is a new token, as for slot_token_changed.
 */
void slot_set_present(CK_SLOT_ID id, enum slot_presence presence);

/*
 * A different token is now in the slot (another card in the reader, or the
 * same card's keys replaced): its sessions are closed without a word to the
 * device, the login is dropped, every object handle of the old token is
 * forgotten for good (a new token epoch) and the cached mechanism list too.
 */
void slot_token_changed(CK_SLOT_ID id);

/*
 * The device forgot the login (a card reset by another program): sessions
 * stay open and go back to the public state. The driver itself answers the
 * next private-key operation with CKR_USER_NOT_LOGGED_IN. Safe to call from
 * inside a token call.
 */
void slot_login_lost(CK_SLOT_ID id);

/* The host is running its exit handlers: drivers must not call into libraries being torn down. */
bool slot_host_exiting(void);
void slot_note_host_exiting(void);

#endif
