/*
 * The PIN policy's memory for tokens that never lock a PIN themselves (the
 * SoftHSM fallback): consecutive failure counters, "user PIN must be
 * changed", "user PIN locked" and "SO PIN locked for ever", one small file
 * per token serial number in the state directory.
 *
 * Every change happens under an exclusive lock on a separate lock file and
 * replaces the state file atomically (temporary file, fsync, rename), so any
 * number of threads and processes share one count. A try is reserved
 * (counted and written, with the reserving process's identity) before the
 * PIN goes to the token and settled after, so neither a race nor a crash can
 * yield more judged tries than the limit.
 *
 * A try is judged only when its answer reached the caller, that is when it
 * was settled. A settled wrong try that reaches the limit locks that PIN:
 * for good (SO), or until the SO sets a new user PIN or re-initialises the
 * token (user); no later configuration with more tries undoes it. A
 * reservation whose process died before settling it is given back at the
 * next access: nobody learned anything from it. No number of processes or
 * kills yields more settled wrong tries than the policy allows.
 *
 * Failures are logged here, one line naming the state file and the reason;
 * callers add no line of their own. Any code other than CKR_OK from
 * pin_store_reserve() means "send nothing to the token".
 * A store object holds no mutable state: threads may share it without a
 * lock, and a forked child may keep using it.
 */
#ifndef SIGNET_PIN_STORE_H
#define SIGNET_PIN_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "pkcs11/cryptoki.h"

enum pin_who { PIN_USER, PIN_SO };

/* What became of a reserved try once the token answered. */
enum pin_try {
	PIN_TRY_OK,     /* the PIN was accepted: that counter starts again at 0 */
	PIN_TRY_WRONG,  /* the PIN was refused (CKR_PIN_INCORRECT): the try stays spent */
	PIN_TRY_UNUSED, /* the call failed before judging the PIN: the try is given back */
};

/* From the [policy] section of the configuration. */
struct pin_limits {
	unsigned user_retries;
	unsigned so_retries;
};

struct pin_state {
	unsigned user_failures;  /* consecutive, including tries of live processes not yet settled */
	unsigned so_failures;    /* the same for the SO PIN */
	bool user_to_be_changed; /* set by C_InitToken and C_InitPIN, cleared by C_SetPIN */
	bool so_locked;          /* the SO PIN reached its limit: nothing ever clears this */
	bool user_locked;        /* the user PIN reached its limit: cleared by C_InitPIN and C_InitToken */
};

struct pin_store;

/*
 * Registers the fork handlers that keep the store's process-wide lock out
 * of a forked child (done by the first lock anyway). Fork handlers that
 * wait for calls which may take that lock must be registered after this:
 * prepare handlers run last-registered first, so the calls drain before
 * the lock is taken for the fork. False when they could not be registered.
 */
bool pin_store_register_fork_handlers(void);

/*
 * Opens the counters of the token whose CK_TOKEN_INFO.serialNumber is
 * serial (16 blank-padded characters, any bytes). Creates state_dir (0700,
 * parents too) when missing. The state file itself appears on the first
 * change; until then the token reads as fresh. An all-blank serial gets
 * CKR_ARGUMENTS_BAD: it names no token (open the store after C_InitToken).
 */
CK_RV pin_store_open(const char *state_dir, const CK_UTF8CHAR serial[16], struct pin_store **out);
void pin_store_close(struct pin_store *s);

/*
 * A missing file reads as fresh; a corrupt or unreadable one is
 * CKR_GENERAL_ERROR. Tries reserved by processes that are gone are not
 * counted (they are removed from the file by the next change).
 */
CK_RV pin_store_read(struct pin_store *s, struct pin_state *st);

/*
 * Reserves one try: CKR_OK means the try was counted and written, with this
 * process as its holder: go ahead and send the PIN. CKR_PIN_LOCKED means
 * the PIN is locked or the limit is taken up by tries still in flight, and
 * nothing may be sent; CKR_FUNCTION_FAILED that more tries are in flight
 * than the file keeps (PIN_STORE_PENDING_MAX, beyond any configurable limit).
 */
#define PIN_STORE_PENDING_MAX 32
CK_RV pin_store_reserve(struct pin_store *s, enum pin_who who, const struct pin_limits *lim);

/*
 * Settles a try this process reserved with pin_store_reserve(). PIN_TRY_OK
 * resets that counter to the tries still in flight (and clears nothing
 * else: must-change stays until C_SetPIN, a lock stays). PIN_TRY_WRONG
 * counts the try as judged; reaching the limit in force at reservation
 * locks the PIN. PIN_TRY_UNUSED gives the try back.
 */
CK_RV pin_store_settle(struct pin_store *s, enum pin_who who, enum pin_try result);

/*
 * Events that change the state without spending a try. The first two
 * return CKR_PIN_LOCKED and change nothing once the SO PIN is locked for
 * ever, since both need the SO PIN. Tries in flight stay counted until
 * they are settled.
 */
CK_RV pin_store_token_initialised(struct pin_store *s);  /* C_InitToken: counters 0, unlocked, user must change */
CK_RV pin_store_user_pin_set_by_so(struct pin_store *s); /* C_InitPIN: user counter 0, unlocked, must change */
CK_RV pin_store_user_pin_changed(struct pin_store *s);   /* user's C_SetPIN: must-change cleared */
/*
 * The token reset itself to its factory PINs without the SO PIN (a
 * YubiKey resets only once PIN and PUK are both blocked): counters 0,
 * both unlocked, the SO's lock for ever included, user must change.
 */
CK_RV pin_store_token_reset(struct pin_store *s);

/*
 * The CKF_USER_PIN_{COUNT_LOW,FINAL_TRY,LOCKED,TO_BE_CHANGED} and
 * CKF_SO_PIN_{COUNT_LOW,FINAL_TRY,LOCKED} token flags the state stands for.
 * COUNT_LOW: at least one failure since the last success (as PKCS#11 has
 * it, so also beside the other two); FINAL_TRY: one try left; LOCKED: none
 * left, or locked by an earlier limit. TO_BE_CHANGED is reported whenever stored;
 * the caller masks it when the policy does not require a change.
 */
CK_FLAGS pin_state_token_flags(const struct pin_state *st, const struct pin_limits *lim);

/*
 * The file-name stem for a serial number: trailing blanks dropped, ASCII
 * letters, digits and '-' kept, every other byte written "_XX" (upper-case
 * hex), so distinct serials never share a file and no name can leave the
 * directory. Returns the stem's length, 0 for an all-blank serial.
 */
#define PIN_STORE_STEM_SIZE (16 * 3 + 1)
size_t pin_store_file_stem(const CK_UTF8CHAR serial[16], char out[PIN_STORE_STEM_SIZE]);

#endif
