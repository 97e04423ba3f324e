/*
 * What is card-specific in the PIN rules; the rules themselves are
 * pkcs11/pin_policy.h, one struct pin_policy per card token. The card
 * gives the policy its serial number and its own PIN and PUK counters as
 * card_io.c last read them (a cached reading: asking the policy never
 * costs an APDU), and keeps that cache true with what each PIN command's
 * answer says. PIV carries PINs and PUKs of 6 to 8 characters: other
 * lengths are refused here, before the policy or the card sees them.
 *
 * Not thread-safe: the token's lock guards it (the policy has its own).
 */
#ifndef SIGNET_CARD_PIN_H
#define SIGNET_CARD_PIN_H

#include <stdbool.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/pin_policy.h"
#include "pkcs11/pin_store.h"

struct token;

/* A counter as the card reports it; -1 where it has not said. */
struct card_pin_counter {
	int left;
	int max;
	bool is_default;  /* still the factory value (YubiKey metadata) */
};

struct card_pin {
	struct pin_policy *policy;
	struct card_pin_counter counter[2]; /* PIN_USER, PIN_SO */
	bool sending;             /* a PIN command is on its way: the policy is judging */
	bool changed;             /* a different card was seen meanwhile: tell the policy afterwards */
};

/* The policy of the token in t's reader, named for log lines after it. */
CK_RV card_pin_init(struct token *t);
void card_pin_free(struct card_pin *p);

/* A different card (or none): the cached counters go and the policy forgets the card, after any PIN command. */
void card_pin_forget(struct card_pin *p);
/* Tells the policy of a card change seen during a PIN command; call once the policy has returned. */
void card_pin_deliver(struct card_pin *p);

/* What a status read said; -1 for what it did not say. */
void card_pin_note(struct card_pin *p, enum pin_who who, int left, int max, int is_default);
bool card_pin_known(const struct card_pin *p, enum pin_who who);
/*
 * The card's answer to a PIN command on who's counter: CKR_OK (the counter
 * is full again), CKR_PIN_INCORRECT (with tries left, -1 if the card did not
 * say) or CKR_PIN_LOCKED (blocked before this try).
 */
void card_pin_settle(struct card_pin *p, enum pin_who who, CK_RV rv, int tries);

/* A PIN or PUK of a length PIV cannot carry is refused, never sent (what: "PIN", "new PUK", ...). */
CK_RV card_pin_check_length(CK_ULONG len, const char *what);
/* The lengths a new user PIN may have: [policy]'s within PIV's. */
void card_pin_lengths(const struct config *conf, CK_ULONG *min, CK_ULONG *max);

/* The PIN flags and length limits for C_GetTokenInfo. */
CK_RV card_pin_token_info(struct card_pin *p, const struct config *conf, CK_TOKEN_INFO *info);
/* Whether the SO's PUK is locked as far as signet knows (no APDU). */
bool card_pin_so_locked(struct card_pin *p);

#endif
