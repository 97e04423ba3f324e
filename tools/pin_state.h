/*
 * A token's PIN state in words ("2 of 3 tries left", "locked: ...").
 *
 * PKCS#11 has no retry counter, only flags: COUNT_LOW (a wrong PIN since
 * the last good one), FINAL_TRY (one try left) and LOCKED. signet's module
 * gives the exact counts through its vendor interface
 * (pkcs11/signet_vendor.h), for cards and software tokens alike; they are
 * used whenever the token's info carries them. With another module the
 * count comes from those flags and the retry limit: for signet's software tokens that
 * limit is the module's [policy] (user_pin_retries, so_pin_retries), read
 * from the configuration file the module reads. No flag means every try
 * is left; FINAL_TRY one; LOCKED none; COUNT_LOW alone "limit - 1" when the
 * limit is 3 (the default policy, so the count is exact), otherwise only
 * "at most limit - 1". Where the limit is unknown (cards, until they report
 * it) the words say what the flags say and no number.
 */
#ifndef SIGNET_TOOLS_PIN_STATE_H
#define SIGNET_TOOLS_PIN_STATE_H

#include <stdbool.h>

#include "tools/module.h"

struct pin_policy {
	unsigned user_retries;
	unsigned so_retries;
};

/*
 * The retry limits from $SIGNET_CONF, else the installed signet.conf;
 * the module's defaults (3 and 5) when the file or a key is missing.
 */
void pin_policy_load(struct pin_policy *p);

struct pin_words {
	const char *state; /* "ok", "count-low", "final-try", "locked", "not-set" */
	int left;          /* tries left, -1 when unknown */
	int max;           /* the limit, -1 when unknown */
	bool exact;        /* left is the count, not an upper bound */
	bool must_change;
	char text[200];
};

/* The user PIN of an initialised token. */
void pin_words_user(const struct token *tok, const struct pin_policy *p, struct pin_words *w);

/* The administrator (SO) PIN of an initialised token. */
void pin_words_admin(const struct token *tok, const struct pin_policy *p, struct pin_words *w);

#endif
