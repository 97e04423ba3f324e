/*
 * Persistent PIN retry counters for tokens that do not count themselves
 * (the SoftHSM fallback). One file per token serial in the state directory,
 * replaced atomically and only while holding an exclusive lock on a
 * separate lock file, so that concurrent processes share one count.
 *
 * A try is reserved (counted) before the PIN goes to the token and settled
 * after, so no crash and no race can yield more tries than the limit.
 */
#ifndef SIGNET_PIN_STORE_H
#define SIGNET_PIN_STORE_H

#include <stdbool.h>

#include "pkcs11/cryptoki.h"

enum pin_who { PIN_USER, PIN_SO };

enum pin_try {
	PIN_TRY_OK,      /* the token accepted the PIN: the counter starts again */
	PIN_TRY_WRONG,   /* the token refused it: the try stays spent */
	PIN_TRY_UNUSED,  /* the call failed for another reason: the try is given back */
};

struct pin_limits {
	unsigned user_retries;
	unsigned so_retries;
};

struct pin_state {
	unsigned user_failures;    /* consecutive */
	unsigned so_failures;      /* consecutive */
	bool user_to_be_changed;   /* set by the SO or at initialisation */
	bool so_locked;            /* for ever */
};

struct pin_store;

/* serial: the 16 blank-padded characters of CK_TOKEN_INFO.serialNumber. */
CK_RV pin_store_open(const char *state_dir, const CK_UTF8CHAR serial[16], struct pin_store **out);
void pin_store_close(struct pin_store *s);

CK_RV pin_store_read(struct pin_store *s, struct pin_state *st);
/* CKR_OK: go ahead and send the PIN; CKR_PIN_LOCKED: the limit is reached, send nothing. */
CK_RV pin_store_reserve(struct pin_store *s, enum pin_who who, const struct pin_limits *lim);
CK_RV pin_store_settle(struct pin_store *s, enum pin_who who, enum pin_try result);

/* Events that change the state without a try. */
CK_RV pin_store_token_initialised(struct pin_store *s);   /* counters reset, user PIN must change */
CK_RV pin_store_user_pin_set_by_so(struct pin_store *s);  /* user counter reset, must change */
CK_RV pin_store_user_pin_changed(struct pin_store *s);    /* must-change cleared */

/* The CKF_USER_PIN_* and CKF_SO_PIN_* token flags the state stands for. */
CK_FLAGS pin_state_token_flags(const struct pin_state *st, const struct pin_limits *lim);

/* Turns a serial number into a file-name stem: [A-Za-z0-9_-] kept, the rest '_', blanks trimmed. */
void pin_store_file_stem(const CK_UTF8CHAR serial[16], char out[17]);

#endif
