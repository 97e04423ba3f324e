#include "pkcs11/card_pin.h"

#include <stdio.h>
#include <string.h>

#include "crypto/digest.h"
#include "crypto/random.h"
#include "crypto/wipe.h"
#include "pkcs11/log.h"

/* PIV carries 6 to 8 characters for the PIN and the PUK (SP 800-73-4 part 2, 2.4.3). */
#define PIV_VALUE_MIN 6
#define PIV_VALUE_MAX 8

static const char *who_name(enum pin_who who)
{
	return who == PIN_SO ? "PUK" : "PIN";
}

void card_pin_init(struct card_pin *p, const struct config *conf, const char *name)
{
	memset(p, 0, sizeof(*p));
	p->conf = conf;
	snprintf(p->name, sizeof(p->name), "%s", name);
	card_pin_forget(p);
}

void card_pin_free(struct card_pin *p)
{
	pin_store_close(p->store);
	cr_wipe(p, sizeof(*p));
}

void card_pin_forget(struct card_pin *p)
{
	pin_store_close(p->store);
	p->store = NULL;
	for (int i = 0; i < 2; i++) {
		p->counter[i] = (struct card_pin_counter){ -1, -1, false };
		p->has_refused[i] = false;
	}
	cr_wipe(p->refused, sizeof(p->refused));
	/* A fresh salt: nothing learnt about one card's PINs carries over to the next. */
	if (cr_random(p->salt, sizeof(p->salt)) != 0)
		memset(p->salt, 0x5A, sizeof(p->salt));
	p->expired = false;
}

CK_RV card_pin_open_store(struct card_pin *p, const char *serial)
{
	CK_UTF8CHAR s[16];
	char name[17];

	if (p->store != NULL)
		return CKR_OK;
	/* "card-" keeps a card's file apart from any SoftHSM serial (16 hex digits). */
	snprintf(name, sizeof(name), "card-%.10s", serial);
	memset(s, ' ', sizeof(s));
	memcpy(s, name, strlen(name));
	return pin_store_open(p->conf->state_dir, s, &p->store); /* it logs its failures */
}

void card_pin_note(struct card_pin *p, enum pin_who who, int left, int max, int is_default)
{
	struct card_pin_counter *c = &p->counter[who];

	if (left >= 0)
		c->left = left;
	if (max >= 0)
		c->max = max;
	/* A card that shows more tries left than we knew it allows has told us its real limit. */
	if (c->left > c->max)
		c->max = c->left;
	if (is_default >= 0)
		c->is_default = is_default != 0;
}

bool card_pin_known(const struct card_pin *p, enum pin_who who)
{
	return p->counter[who].left >= 0;
}

static unsigned policy_limit(const struct card_pin *p, enum pin_who who)
{
	return who == PIN_SO ? p->conf->so_pin_retries : p->conf->user_pin_retries;
}

/*
 * Where signet counts too: the user PIN when the card allows more tries
 * than [policy] (signet locks in front of it), and the PUK always, so that
 * a PUK locked for good shows in every process's flags without a word to
 * the card.
 */
static bool store_counts(const struct card_pin *p, enum pin_who who)
{
	if (p->store == NULL)
		return false;
	return who == PIN_SO || p->counter[who].max > (int)policy_limit(p, who);
}

static CK_RV read_store(const struct card_pin *p, struct pin_state *st)
{
	memset(st, 0, sizeof(*st));
	return p->store != NULL ? pin_store_read(p->store, st) : CKR_OK;
}

static void hash_pin(const struct card_pin *p, const CK_UTF8CHAR *pin, CK_ULONG len, uint8_t out[32])
{
	uint8_t buf[sizeof(p->salt) + PIV_VALUE_MAX];
	size_t n = 32;

	memcpy(buf, p->salt, sizeof(p->salt));
	memcpy(buf + sizeof(p->salt), pin, len);
	if (cr_hash_once(CR_HASH_SHA256, buf, sizeof(p->salt) + len, out, &n) != 0)
		memset(out, 0, 32);
	cr_wipe(buf, sizeof(buf));
}

static bool refused_again(const struct card_pin *p, enum pin_who who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	uint8_t h[32];
	bool same;

	if (!p->has_refused[who])
		return false;
	hash_pin(p, pin, len, h);
	same = cr_secret_equal(h, p->refused[who], sizeof(h));
	cr_wipe(h, sizeof(h));
	return same;
}

static CK_RV check_length(CK_ULONG len, CK_ULONG min, CK_ULONG max, const char *what)
{
	if (len >= min && len <= max)
		return CKR_OK;
	log_msg(LL_WARNING, "%s of length %lu refused: the card takes %lu to %lu characters; not sent", what,
		(unsigned long)len, (unsigned long)min, (unsigned long)max);
	return CKR_PIN_LEN_RANGE;
}

/* The guards every PIN goes through before it may reach the card. */
static CK_RV may_send(struct card_pin *p, enum pin_who who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct pin_state st;
	CK_RV rv = check_length(len, PIV_VALUE_MIN, PIV_VALUE_MAX, who_name(who));

	if (rv != CKR_OK)
		return rv;
	rv = read_store(p, &st);
	if (rv != CKR_OK)
		return rv;
	if (p->counter[who].left == 0 || (who == PIN_SO && st.so_locked) ||
	    (who == PIN_USER && store_counts(p, who) && st.user_locked)) {
		log_msg(LL_WARNING, "%s of the %s is locked: not sent", who_name(who), p->name);
		return CKR_PIN_LOCKED;
	}
	if (refused_again(p, who, pin, len)) {
		log_msg(LL_WARNING, "the %s the %s refused last was given again: not sent", who_name(who), p->name);
		return CKR_PIN_INCORRECT;
	}
	return CKR_OK;
}

/* Records the card's verdict on a PIN that went to it. */
static void settle(struct card_pin *p, enum pin_who who, const CK_UTF8CHAR *pin, CK_ULONG len, bool reserved,
		   CK_RV rv, int tries)
{
	struct card_pin_counter *c = &p->counter[who];

	if (reserved)
		pin_store_settle(p->store, who, rv == CKR_OK ? PIN_TRY_OK
						  : rv == CKR_PIN_INCORRECT ? PIN_TRY_WRONG : PIN_TRY_UNUSED);
	if (rv == CKR_OK) {
		p->has_refused[who] = false;
		if (c->max > 0)
			c->left = c->max;
	} else if (rv == CKR_PIN_INCORRECT) {
		hash_pin(p, pin, len, p->refused[who]);
		p->has_refused[who] = true;
		if (tries >= 0)
			card_pin_note(p, who, tries, -1, -1);
		else if (c->left > 0)
			c->left--;
		log_msg(LL_WARNING, "wrong %s for the %s (%d tries left on the card)", who_name(who), p->name,
			c->left);
	} else if (rv == CKR_PIN_LOCKED) {
		c->left = 0;
		log_msg(LL_WARNING, "%s of the %s is blocked", who_name(who), p->name);
	}
}

/* One PIN operation: the guards, a try reserved in the store when it counts, the card, the verdict. */
static CK_RV judged(struct card_pin *p, enum pin_who who, const CK_UTF8CHAR *pin, CK_ULONG len, card_pin_send send,
		    void *ctx)
{
	struct pin_limits lim = { p->conf->user_pin_retries, p->conf->so_pin_retries };
	bool reserve = store_counts(p, who);
	int tries = -1;
	CK_RV rv = may_send(p, who, pin, len);

	if (rv == CKR_OK && reserve) {
		rv = pin_store_reserve(p->store, who, &lim);
		if (rv == CKR_PIN_LOCKED)
			log_msg(LL_WARNING, "%s of the %s used up the policy's %u tries: not sent", who_name(who),
				p->name, who == PIN_SO ? lim.so_retries : lim.user_retries);
	}
	if (rv != CKR_OK)
		return rv;
	rv = send(ctx, &tries);
	settle(p, who, pin, len, reserve, rv, tries);
	return rv;
}

static void note_user_login(struct card_pin *p)
{
	struct pin_state st;

	p->expired = false;
	if (!p->conf->require_pin_change || read_store(p, &st) != CKR_OK)
		return;
	p->expired = p->counter[PIN_USER].is_default || st.user_to_be_changed;
	if (p->expired)
		log_msg(LL_WARNING, "the PIN of the %s must be changed before its keys can be used", p->name);
}

CK_RV card_pin_login(struct card_pin *p, enum pin_who who, const CK_UTF8CHAR *pin, CK_ULONG len,
		     card_pin_send send, void *ctx)
{
	CK_RV rv = judged(p, who, pin, len, send, ctx);

	if (rv == CKR_OK && who == PIN_USER)
		note_user_login(p);
	return rv;
}

static CK_RV check_new_length(const struct card_pin *p, CK_ULONG len)
{
	CK_ULONG min, max;

	card_pin_lengths(p, &min, &max);
	return check_length(len, min, max, "new PIN");
}

CK_RV card_pin_change(struct card_pin *p, enum pin_who who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
		      const CK_UTF8CHAR *new_pin, CK_ULONG new_len, card_pin_send send, void *ctx)
{
	CK_RV rv = who == PIN_SO ? check_length(new_len, PIV_VALUE_MIN, PIV_VALUE_MAX, "new PUK")
				 : check_new_length(p, new_len);

	if (rv != CKR_OK)
		return rv;
	if (who == PIN_USER && p->expired && old_len == new_len && cr_secret_equal(old_pin, new_pin, new_len)) {
		log_msg(LL_WARNING, "the PIN of the %s must be changed to a new value", p->name);
		return CKR_PIN_INVALID;
	}
	rv = judged(p, who, old_pin, old_len, send, ctx);
	if (rv != CKR_OK || who != PIN_USER)
		return rv;
	p->counter[PIN_USER].is_default = false;
	p->expired = false;
	return p->store != NULL ? pin_store_user_pin_changed(p->store) : CKR_OK;
}

CK_RV card_pin_unblock(struct card_pin *p, CK_ULONG new_len, card_pin_send send, void *ctx)
{
	struct pin_state st;
	int tries = -1;
	CK_RV rv = check_new_length(p, new_len);

	if (rv == CKR_OK)
		rv = read_store(p, &st);
	/* The SO may have logged in before another process locked the PUK for good. */
	if (rv == CKR_OK && (st.so_locked || p->counter[PIN_SO].left == 0))
		rv = CKR_PIN_LOCKED;
	if (rv != CKR_OK)
		return rv;
	rv = send(ctx, &tries);
	if (rv == CKR_PIN_INCORRECT && tries >= 0)
		card_pin_note(p, PIN_SO, tries, -1, -1);
	if (rv != CKR_OK)
		return rv;
	if (p->counter[PIN_USER].max > 0)
		p->counter[PIN_USER].left = p->counter[PIN_USER].max;
	p->has_refused[PIN_USER] = false;
	log_msg(LL_INFO, "the SO set a new PIN on the %s; it must be changed before use", p->name);
	return p->store != NULL ? pin_store_user_pin_set_by_so(p->store) : CKR_OK;
}

void card_pin_logout(struct card_pin *p)
{
	p->expired = false;
}

CK_RV card_pin_key_use(const struct card_pin *p)
{
	return p->expired ? CKR_PIN_EXPIRED : CKR_OK;
}

/* The flags of one counter: COUNT_LOW after a failure since the last success, FINAL_TRY, LOCKED. */
static CK_FLAGS counter_flags(int left, int max, CK_FLAGS low, CK_FLAGS final, CK_FLAGS locked)
{
	CK_FLAGS f = 0;

	if (left < 0)
		return 0;
	if (left == 0)
		return locked | low;
	if (max > 0 && left < max)
		f |= low;
	if (left == 1)
		f |= final;
	return f;
}

static int smaller_known(int a, int b)
{
	if (a < 0)
		return b;
	return b < 0 || a < b ? a : b;
}

/* Tries left, and the most there can be, as the stricter of the card and, where it counts, the store. */
static void effective(const struct card_pin *p, const struct pin_state *st, enum pin_who who, int *left, int *max)
{
	unsigned limit = policy_limit(p, who);
	unsigned failures = who == PIN_SO ? st->so_failures : st->user_failures;
	bool locked = who == PIN_SO ? st->so_locked : st->user_locked;

	*left = p->counter[who].left;
	*max = p->counter[who].max;
	if (!store_counts(p, who))
		return;
	*left = smaller_known(*left, locked || failures >= limit ? 0 : (int)(limit - failures));
	*max = smaller_known(*max, (int)limit);
}

CK_FLAGS card_pin_flags(const struct card_pin *p)
{
	struct pin_state st;
	CK_FLAGS f = 0;
	int left, max;

	if (read_store(p, &st) != CKR_OK)
		memset(&st, 0, sizeof(st));
	effective(p, &st, PIN_USER, &left, &max);
	f |= counter_flags(left, max, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
	effective(p, &st, PIN_SO, &left, &max);
	f |= counter_flags(left, max, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
	if (p->conf->require_pin_change && (p->counter[PIN_USER].is_default || st.user_to_be_changed))
		f |= CKF_USER_PIN_TO_BE_CHANGED;
	return f;
}

void card_pin_lengths(const struct card_pin *p, CK_ULONG *min, CK_ULONG *max)
{
	*min = p->conf->min_pin_length > PIV_VALUE_MIN ? p->conf->min_pin_length : PIV_VALUE_MIN;
	*max = p->conf->max_pin_length < PIV_VALUE_MAX ? p->conf->max_pin_length : PIV_VALUE_MAX;
}
