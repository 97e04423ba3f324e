/*
 * The PIN policy of DESIGN.md, in one place for every kind of token: a
 * token implementation calls it around each PIN operation (check, then the
 * token's own call, then settle) and for its token flags, and keeps only
 * the pass-through to its device.
 *
 * Where a PIN's retry counter lives decides who counts:
 *  - signet's own counters (pin_store, per token serial in state_dir), for a
 *    token that never locks a PIN itself (the SoftHSM fallback);
 *  - the token's own counter, read without spending a try (a PIV card: an
 *    empty VERIFY gives the tries left; the card locks itself).
 * The effective limit is the stricter of the two: when the token allows
 * more tries than [policy], the store counts and locks in front of it;
 * when it allows as many or fewer, its own counter rules. The SO PIN is
 * counted in the store too whenever there is one: its lock is for ever and
 * shows in every process without asking the token. The flags reported are
 * those of the counter with fewer tries left.
 *
 * Whatever counts, the policy never sends a PIN to a token with no tries
 * left, never sends an empty PIN, and never sends the PIN refused last for
 * a (token, user type) again in a row from this process: a host looping on
 * a cached wrong PIN gets CKR_PIN_INCORRECT without a try being spent.
 *
 * Thread-safe; PIN operations on one token are judged one at a time.
 */
#ifndef SIGNET_PIN_POLICY_H
#define SIGNET_PIN_POLICY_H

#include <stdbool.h>

#include "pkcs11/config.h"
#include "pkcs11/cryptoki.h"
#include "pkcs11/pin_store.h"

/* A PIN counter as the token itself reports it. */
struct pin_counter {
	unsigned left;   /* tries left */
	unsigned max;    /* the most it allows; 0: the token keeps no counter for this PIN */
	bool is_default; /* the user PIN is still the token's factory default (user PIN only) */
};

/*
 * What the policy asks of a token; ctx is handed back on every call. The
 * policy may hold its own locks while it calls these and a pin_send, so
 * none of them may call back into the policy.
 */
struct pin_token {
	const char *kind; /* "softhsm", "card": with the serial, names the token in this process */
	void *ctx;
	/*
	 * The token's serial number (CK_TOKEN_INFO.serialNumber), which names
	 * its counters in state_dir. CKR_USER_PIN_NOT_INITIALIZED: the token is
	 * not initialised and has no PIN yet, so nothing is counted.
	 */
	CK_RV (*serial)(void *ctx, CK_UTF8CHAR serial[16]);
	/*
	 * The token's own counter for who, read without spending a try. NULL:
	 * the token keeps none (the store counts alone).
	 */
	CK_RV (*counter)(void *ctx, enum pin_who who, struct pin_counter *out);
};

/*
 * The token's own call that the policy wraps: it sends the PIN(s) the
 * caller gave and returns the token's answer. CKR_PIN_INCORRECT means the
 * PIN was judged wrong; CKR_OK (or CKR_USER_ALREADY_LOGGED_IN for a login)
 * that it was right; anything else that it was not judged.
 */
typedef CK_RV (*pin_send)(void *ctx);

struct pin_policy;

/* conf ([policy] and state_dir) must outlive the policy; name is for log lines ("SoftHSM slot 2"). */
CK_RV pin_policy_new(const struct config *conf, const char *name, const struct pin_token *tok,
		     struct pin_policy **out);
void pin_policy_free(struct pin_policy *p);

/*
 * C_Login: who is CKU_USER, CKU_SO or CKU_CONTEXT_SPECIFIC (the user PIN).
 * A user login with a PIN that must be changed succeeds, and private-key
 * use answers CKR_PIN_EXPIRED (pin_policy_key_use) until C_SetPIN.
 */
CK_RV pin_policy_login(struct pin_policy *p, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len,
		       pin_send send, void *ctx);
void pin_policy_logout(struct pin_policy *p);

/*
 * C_SetPIN of who's PIN: the old PIN is judged as a login would judge it,
 * the new one must fit [policy]'s lengths, and while the user PIN must be
 * changed a "change" to the same PIN is CKR_PIN_INVALID.
 */
CK_RV pin_policy_set_pin(struct pin_policy *p, enum pin_who who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			 const CK_UTF8CHAR *new_pin, CK_ULONG new_len, pin_send send, void *ctx);

/* C_InitPIN by the SO: the user counter starts again and the new PIN must be changed. */
CK_RV pin_policy_init_pin(struct pin_policy *p, CK_ULONG new_len, pin_send send, void *ctx);

/*
 * C_InitToken: on an initialised token the SO PIN is judged (and a locked
 * SO PIN refuses it); on a new one it is a new PIN. Afterwards the
 * counters start again and the user PIN must be changed.
 */
CK_RV pin_policy_init_token(struct pin_policy *p, const CK_UTF8CHAR *so_pin, CK_ULONG len, pin_send send,
			    void *ctx);

/*
 * A token that resets itself without the SO PIN (a YubiKey, once its PIN
 * and PUK are both blocked), or sets both PINs back to its factory ones
 * (a YubiKey's SET PIN RETRIES): send performs it; once it has, the
 * counters start again as after C_InitToken, the SO PIN's lock included,
 * and the user PIN must be changed.
 */
CK_RV pin_policy_token_reset(struct pin_policy *p, pin_send send, void *ctx);

/* Before private-key use (sign, decrypt, unwrap, derive): CKR_PIN_EXPIRED while the login's PIN must be changed. */
CK_RV pin_policy_key_use(struct pin_policy *p);

/* The PIN flags and length limits of an initialised token, in place of what the token said. */
CK_RV pin_policy_token_info(struct pin_policy *p, CK_TOKEN_INFO *info);

/*
 * The tries left of who's PIN and its limit as the policy judges them (the
 * counter that rules, read without spending a try); -1 where unknown: an
 * uninitialised token, or a token with its own counter that has not said
 * what it holds (0 tries left is reported when signet knows it is locked).
 */
CK_RV pin_policy_tries(struct pin_policy *p, enum pin_who who, long *left, long *max);

/*
 * A different token is now behind this policy: its counters, its login and
 * the PIN refused last are forgotten. Waits for a PIN operation in progress,
 * so never from inside a pin_send: a driver that learns of the change there
 * fails the call and reports the change after it.
 */
void pin_policy_token_changed(struct pin_policy *p);

/* The token flags the policy owns. */
#define PIN_POLICY_FLAGS                                                                                          \
	(CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED |     \
	 CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED | CKF_SO_PIN_TO_BE_CHANGED)

#endif
