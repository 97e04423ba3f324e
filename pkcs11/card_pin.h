/*
 * The PIN rules of DESIGN.md for a PIV card, in one small place, shaped
 * like pkcs11/pin_policy.h so that the card can move onto that policy when
 * it lands: the card driver calls these around each PIN operation (check,
 * the card's own command through a send callback, settle) and for its
 * token flags, and keeps only the APDUs.
 *
 * Who counts: the card's own retry counters, read without spending a try,
 * and, when the card allows more tries than [policy], signet's counter for
 * that card serial in state_dir (pkcs11/pin_store.h), which locks in front
 * of the card. The store also remembers what the card cannot tell: that a
 * PIN set by the SO (C_InitPIN) must be changed.
 *
 * Never sent: a PIN to a counter with no tries left, a PIN of a length PIV
 * cannot carry, and the PIN the card refused last (per PIN kind) again in
 * a row from this process.
 *
 * Not thread-safe: the card's lock guards it.
 */
#ifndef SIGNET_CARD_PIN_H
#define SIGNET_CARD_PIN_H

#include <stdbool.h>
#include <stdint.h>

#include "pkcs11/config.h"
#include "pkcs11/cryptoki.h"
#include "pkcs11/pin_store.h"

/* A counter as the card reports it; -1 where it has not said. */
struct card_pin_counter {
	int left;
	int max;
	bool is_default;  /* still the factory value (YubiKey metadata) */
};

struct card_pin {
	const struct config *conf;
	char name[64];              /* for log lines: "card in <reader>" */
	struct pin_store *store;    /* open once the card's serial is known */
	struct card_pin_counter counter[2]; /* PIN_USER, PIN_SO */
	uint8_t salt[16];
	uint8_t refused[2][32];     /* salted hash of the PIN the card refused last */
	bool has_refused[2];
	bool expired;               /* the logged-in user must change the PIN before using a key */
};

/*
 * The card's command for one PIN operation: the PIN(s) go to the card and
 * its answer comes back as CKR_OK, CKR_PIN_INCORRECT (with *tries left,
 * -1 if the card did not say), CKR_PIN_LOCKED (blocked before this try),
 * or any other code when the PIN was not judged.
 */
typedef CK_RV (*card_pin_send)(void *ctx, int *tries);

void card_pin_init(struct card_pin *p, const struct config *conf, const char *name);
void card_pin_free(struct card_pin *p);

/* The card's identity is known: open its counters in state_dir (serial: printable, at most 10 characters). */
CK_RV card_pin_open_store(struct card_pin *p, const char *serial);
/* A different card (or none): counters, the refused PIN and the store are forgotten. */
void card_pin_forget(struct card_pin *p);

/* What a status read said; -1 for what it did not say. */
void card_pin_note(struct card_pin *p, enum pin_who who, int left, int max, int is_default);
bool card_pin_known(const struct card_pin *p, enum pin_who who);

/* C_Login of who (CKU_CONTEXT_SPECIFIC is PIN_USER). */
CK_RV card_pin_login(struct card_pin *p, enum pin_who who, const CK_UTF8CHAR *pin, CK_ULONG len,
		     card_pin_send send, void *ctx);
/* C_SetPIN of who: the old value is judged as a login would judge it. */
CK_RV card_pin_change(struct card_pin *p, enum pin_who who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
		      const CK_UTF8CHAR *new_pin, CK_ULONG new_len, card_pin_send send, void *ctx);
/* C_InitPIN: the SO sets a new user PIN, which must then be changed. */
CK_RV card_pin_unblock(struct card_pin *p, CK_ULONG new_len, card_pin_send send, void *ctx);
void card_pin_logout(struct card_pin *p);

/* Before private-key use: CKR_PIN_EXPIRED while the logged-in user must change the PIN. */
CK_RV card_pin_key_use(const struct card_pin *p);

/* The PIN flags and length limits for C_GetTokenInfo. */
CK_FLAGS card_pin_flags(const struct card_pin *p);
void card_pin_lengths(const struct card_pin *p, CK_ULONG *min, CK_ULONG *max);

#endif
