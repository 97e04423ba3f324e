#include "pkcs11/pin_policy.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "crypto/wipe.h"
#include "pkcs11/lock.h"
#include "pkcs11/log.h"

/* ---- the PIN refused last, per (token, user type), for the life of the process ---- */

#define HASH_LEN 32 /* SHA-256 */
#define SALT_LEN 32
#define REFUSED_MAX 32 /* (token, user type) pairs remembered; the oldest makes room */

/* A token as this process knows it: its kind and serial number. */
struct token_id {
	char kind[16];
	CK_UTF8CHAR serial[16];
};

struct refused_pin {
	bool used;
	struct token_id id;
	enum pin_who who;
	uint8_t hash[HASH_LEN];    /* SHA-256 of salt || PIN */
	unsigned failures;         /* the counter's failures just after the refusal */
	unsigned long stamp;       /* for making room: the smallest is the oldest */
};

/*
 * Kept outside any one C_Initialize: a host that finalizes and initializes
 * again between two tries of the same cached PIN is still one process. The
 * salt is drawn once per process (a forked child draws its own and forgets
 * the parent's entries), so the hashes mean nothing outside it.
 */
static struct {
	pthread_mutex_t lock;
	bool salted;
	uint8_t salt[SALT_LEN];
	struct refused_pin pins[REFUSED_MAX];
	unsigned long clock;
} refused = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void refused_wipe_all(void)
{
	cr_wipe(refused.salt, sizeof(refused.salt));
	cr_wipe(refused.pins, sizeof(refused.pins));
	refused.salted = false;
}

/* A parent's thread may have held the lock at fork; the child has no such thread and a salt of its own. */
static void refused_after_fork(void)
{
	pthread_mutex_init(&refused.lock, NULL);
	refused_wipe_all();
}

static void register_fork_handler(void)
{
	pthread_atfork(NULL, NULL, refused_after_fork);
}

__attribute__((destructor)) static void refused_wipe_at_unload(void)
{
	pthread_mutex_lock(&refused.lock);
	refused_wipe_all();
	pthread_mutex_unlock(&refused.lock);
}

static struct refused_pin *refused_find_locked(const struct token_id *id, enum pin_who who)
{
	for (size_t i = 0; i < REFUSED_MAX; i++)
		if (refused.pins[i].used && refused.pins[i].who == who &&
		    memcmp(&refused.pins[i].id, id, sizeof(*id)) == 0)
			return &refused.pins[i];
	return NULL;
}

static CK_RV salt_copy(uint8_t out[SALT_LEN])
{
	CK_RV rv = CKR_OK;

	pthread_mutex_lock(&refused.lock);
	if (!refused.salted && cr_random(refused.salt, sizeof(refused.salt)) == CR_OK)
		refused.salted = true;
	if (refused.salted)
		memcpy(out, refused.salt, SALT_LEN);
	else
		rv = CKR_GENERAL_ERROR;
	pthread_mutex_unlock(&refused.lock);
	return rv;
}

static CK_RV pin_hash(const CK_UTF8CHAR *pin, CK_ULONG len, uint8_t out[HASH_LEN])
{
	uint8_t salt[SALT_LEN];
	struct cr_digest *d = NULL;
	size_t n = HASH_LEN;
	CK_RV rv = salt_copy(salt);

	if (rv == CKR_OK &&
	    (cr_digest_new(CR_HASH_SHA256, &d) != CR_OK || cr_digest_update(d, salt, sizeof(salt)) != CR_OK ||
	     cr_digest_update(d, pin, len) != CR_OK || cr_digest_final(d, out, &n) != CR_OK))
		rv = CKR_GENERAL_ERROR;
	if (rv != CKR_OK)
		log_msg(LL_ERROR, "cannot hash a PIN to compare it with the one refused last");
	cr_digest_free(d);
	cr_wipe(salt, sizeof(salt));
	return rv;
}

static void refused_forget_locked(struct refused_pin *r)
{
	cr_wipe(r, sizeof(*r));
}

/*
 * Whether hash is the PIN of who refused last on this token. A counter
 * that now shows fewer failures than just after that refusal was reset
 * since (a right PIN, a change or an unblock, in some process): the PIN
 * may be right now, so it is forgotten.
 */
static bool refused_again(const struct token_id *id, enum pin_who who, const uint8_t hash[HASH_LEN],
			  unsigned failures_now)
{
	struct refused_pin *r;
	bool same = false;

	pthread_mutex_lock(&refused.lock);
	r = refused_find_locked(id, who);
	if (r != NULL && failures_now < r->failures)
		refused_forget_locked(r);
	else if (r != NULL)
		same = cr_secret_equal(r->hash, hash, HASH_LEN);
	pthread_mutex_unlock(&refused.lock);
	return same;
}

static void refused_remember(const struct token_id *id, enum pin_who who, const uint8_t hash[HASH_LEN],
			     unsigned failures)
{
	struct refused_pin *r;

	pthread_mutex_lock(&refused.lock);
	r = refused_find_locked(id, who);
	for (size_t i = 0; r == NULL && i < REFUSED_MAX; i++)
		if (!refused.pins[i].used)
			r = &refused.pins[i];
	for (size_t i = 0; r == NULL && i < REFUSED_MAX; i++)
		if (i == 0 || refused.pins[i].stamp < r->stamp)
			r = &refused.pins[i];
	*r = (struct refused_pin){ .used = true, .id = *id, .who = who, .failures = failures,
				   .stamp = ++refused.clock };
	memcpy(r->hash, hash, HASH_LEN);
	pthread_mutex_unlock(&refused.lock);
}

static void refused_forget(const struct token_id *id, enum pin_who who)
{
	struct refused_pin *r;

	pthread_mutex_lock(&refused.lock);
	r = refused_find_locked(id, who);
	if (r != NULL)
		refused_forget_locked(r);
	pthread_mutex_unlock(&refused.lock);
}

/* ---- the policy of one token ---- */

struct pin_policy {
	const struct config *conf;
	char name[64];
	struct pin_token tok;
	void *judging;            /* one PIN operation at a time, from check to settle */
	void *lock;               /* guards the fields below */
	struct pin_store *store;  /* open once the token has a serial number */
	bool have_id;
	struct token_id id;
	bool expired;             /* the user logged in with a PIN that must be changed */
};

/* What the counters say, read without spending a try. */
struct reading {
	bool have_store;
	struct pin_state st;
	bool have_counter[2];
	struct pin_counter counter[2];
	bool have_id;
	struct token_id id;
};

/* One PIN's counter as the policy judges it. */
struct pin_view {
	unsigned failures;
	unsigned limit;
	bool locked;
};

enum counting {
	COUNT_NONE,   /* an uninitialised token without a counter: it has no PIN to guard */
	COUNT_STORE,  /* signet's store counts */
	COUNT_DEVICE, /* the token's own counter, as strict as the policy or stricter, rules */
	COUNT_BOTH,   /* the token allows more tries, or it is the SO PIN: the store counts too */
};

static const char *who_name(enum pin_who who)
{
	return who == PIN_SO ? "SO" : "user";
}

static unsigned policy_limit(const struct pin_policy *p, enum pin_who who)
{
	return who == PIN_SO ? p->conf->so_pin_retries : p->conf->user_pin_retries;
}

static struct pin_limits policy_limits(const struct pin_policy *p)
{
	return (struct pin_limits){ p->conf->user_pin_retries, p->conf->so_pin_retries };
}

CK_RV pin_policy_new(const struct config *conf, const char *name, const struct pin_token *tok,
		     struct pin_policy **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct pin_policy *p;
	CK_RV rv;

	if (conf == NULL || name == NULL || tok == NULL || tok->kind == NULL || tok->serial == NULL || out == NULL)
		return CKR_ARGUMENTS_BAD;
	pthread_once(&once, register_fork_handler);
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return CKR_HOST_MEMORY;
	p->conf = conf;
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->tok = *tok;
	rv = lock_new(&p->judging);
	if (rv == CKR_OK)
		rv = lock_new(&p->lock);
	if (rv != CKR_OK) {
		pin_policy_free(p);
		return rv;
	}
	*out = p;
	return CKR_OK;
}

void pin_policy_free(struct pin_policy *p)
{
	if (p == NULL)
		return;
	pin_store_close(p->store);
	lock_free(p->lock);
	lock_free(p->judging);
	free(p);
}

/* Opens the counters once the token has a serial number; caller holds p->lock. */
static CK_RV open_store_locked(struct pin_policy *p)
{
	CK_UTF8CHAR serial[16];
	CK_RV rv;

	if (p->store != NULL)
		return CKR_OK;
	rv = p->tok.serial(p->tok.ctx, serial);
	if (rv == CKR_USER_PIN_NOT_INITIALIZED)
		return CKR_OK;
	if (rv == CKR_OK)
		rv = pin_store_open(p->conf->state_dir, serial, &p->store); /* it logs its failures */
	if (rv != CKR_OK)
		return rv;
	memset(&p->id, 0, sizeof(p->id));
	snprintf(p->id.kind, sizeof(p->id.kind), "%s", p->tok.kind);
	memcpy(p->id.serial, serial, sizeof(serial));
	p->have_id = true;
	return CKR_OK;
}

/* Forgets the token behind the policy; caller holds p->lock. */
static void forget_token_locked(struct pin_policy *p)
{
	if (p->have_id) {
		refused_forget(&p->id, PIN_USER);
		refused_forget(&p->id, PIN_SO);
	}
	pin_store_close(p->store);
	p->store = NULL;
	p->have_id = false;
	p->expired = false;
}

static CK_RV read_store(struct pin_policy *p, struct reading *r)
{
	CK_RV rv = lock_take(p->lock);

	if (rv != CKR_OK)
		return rv;
	rv = open_store_locked(p);
	if (rv == CKR_OK && p->store != NULL) {
		rv = pin_store_read(p->store, &r->st);
		r->have_store = rv == CKR_OK;
	}
	r->have_id = p->have_id;
	r->id = p->id;
	lock_give(p->lock);
	return rv;
}

static CK_RV read_counter(struct pin_policy *p, enum pin_who who, struct reading *r)
{
	CK_RV rv;

	if (p->tok.counter == NULL)
		return CKR_OK;
	rv = p->tok.counter(p->tok.ctx, who, &r->counter[who]);
	if (rv != CKR_OK) {
		log_msg(LL_WARNING, "cannot read the %s PIN counter of %s: %s", who_name(who), p->name, log_rv_name(rv));
		return rv;
	}
	r->have_counter[who] = true;
	return CKR_OK;
}

/* The store, and the token's own counter of who (of both when both is set). */
static CK_RV read_counters(struct pin_policy *p, enum pin_who who, bool both, struct reading *r)
{
	CK_RV rv;

	memset(r, 0, sizeof(*r));
	rv = read_store(p, r);
	if (rv == CKR_OK)
		rv = read_counter(p, who, r);
	if (rv == CKR_OK && both)
		rv = read_counter(p, who == PIN_SO ? PIN_USER : PIN_SO, r);
	return rv;
}

static unsigned tries_left(const struct pin_view *v)
{
	return v->locked || v->failures >= v->limit ? 0 : v->limit - v->failures;
}

/* The view with fewer tries left; of two with as many, the one that saw more failures. */
static const struct pin_view *stricter(const struct pin_view *a, const struct pin_view *b)
{
	unsigned left_a = tries_left(a), left_b = tries_left(b);

	if (left_a != left_b)
		return left_a < left_b ? a : b;
	return a->failures >= b->failures ? a : b;
}

/*
 * The rule of DESIGN.md: the effective limit is the stricter of the
 * token's own counter and [policy]. A lock the store once recorded stays,
 * whichever counter rules now.
 */
static enum counting view_of(const struct pin_policy *p, const struct reading *r, enum pin_who who,
			     struct pin_view *v)
{
	const struct pin_counter *c = &r->counter[who];
	struct pin_view store = { 0, policy_limit(p, who), false }, device;

	if (r->have_store) {
		store.failures = who == PIN_SO ? r->st.so_failures : r->st.user_failures;
		store.locked = who == PIN_SO ? r->st.so_locked : r->st.user_locked;
	}
	*v = store;
	if (!r->have_counter[who] || c->max == 0)
		return r->have_store ? COUNT_STORE : COUNT_NONE;
	device = (struct pin_view){ c->left < c->max ? c->max - c->left : 0, c->max, c->left == 0 };
	/*
	 * The SO PIN is counted in the store whatever the token allows: its
	 * lock is for ever, and a token that reads its SO counter only at some
	 * cost (a card's PUK) must show that lock in every process for free.
	 */
	if (r->have_store && (c->max > store.limit || who == PIN_SO)) {
		*v = *stricter(&store, &device);
		return COUNT_BOTH;
	}
	*v = device;
	v->locked = v->locked || store.locked;
	return COUNT_DEVICE;
}

static bool must_change(const struct pin_policy *p, const struct reading *r)
{
	if (!p->conf->require_pin_change)
		return false;
	return (r->have_store && r->st.user_to_be_changed) ||
	       (r->have_counter[PIN_USER] && r->counter[PIN_USER].is_default);
}

/* The flags of the effective counters, worked out by pin_store's one rule for (failures, limit, locked). */
static CK_FLAGS flags_of(const struct pin_policy *p, const struct reading *r)
{
	struct pin_view user, so;
	struct pin_state effective;
	struct pin_limits lim;

	view_of(p, r, PIN_USER, &user);
	view_of(p, r, PIN_SO, &so);
	effective = (struct pin_state){
		.user_failures = user.failures,
		.so_failures = so.failures,
		.user_to_be_changed = must_change(p, r),
		.so_locked = so.locked,
		.user_locked = user.locked,
	};
	lim = (struct pin_limits){ user.limit, so.limit };
	return pin_state_token_flags(&effective, &lim);
}

static CK_RV refuse_empty(const struct pin_policy *p, CK_ULONG len, const char *what)
{
	if (len > 0)
		return CKR_OK;
	log_msg(LL_INFO, "empty %s for %s refused: not sent", what, p->name);
	return CKR_PIN_LEN_RANGE;
}

static CK_RV check_new_length(const struct pin_policy *p, CK_ULONG len)
{
	if (len >= p->conf->min_pin_length && len <= p->conf->max_pin_length)
		return CKR_OK;
	log_msg(LL_WARNING, "new PIN length %lu outside the policy's %u..%u", (unsigned long)len,
		p->conf->min_pin_length, p->conf->max_pin_length);
	return CKR_PIN_LEN_RANGE;
}

static CK_RV refuse_locked(const struct pin_policy *p, enum pin_who who)
{
	log_msg(LL_WARNING, "%s PIN of %s is locked: not sent", who_name(who), p->name);
	return CKR_PIN_LOCKED;
}

/* Reads the counters of who; CKR_PIN_LOCKED (with its log line) when they leave no try. */
static CK_RV read_unlocked(struct pin_policy *p, enum pin_who who, struct reading *r)
{
	struct pin_view v;
	CK_RV rv = read_counters(p, who, false, r);

	if (rv != CKR_OK)
		return rv;
	if (view_of(p, r, who, &v) != COUNT_NONE && tries_left(&v) == 0)
		return refuse_locked(p, who);
	return CKR_OK;
}

static enum pin_try try_result(CK_RV rv)
{
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return PIN_TRY_OK;
	return rv == CKR_PIN_INCORRECT ? PIN_TRY_WRONG : PIN_TRY_UNUSED;
}

static CK_RV store_reserve(struct pin_policy *p, enum pin_who who)
{
	struct pin_limits lim = policy_limits(p);
	CK_RV rv = lock_take(p->lock);

	if (rv != CKR_OK)
		return rv;
	rv = p->store != NULL ? pin_store_reserve(p->store, who, &lim) : CKR_GENERAL_ERROR;
	lock_give(p->lock);
	return rv;
}

static CK_RV store_settle(struct pin_policy *p, enum pin_who who, enum pin_try result)
{
	CK_RV rv = lock_take(p->lock);

	if (rv != CKR_OK)
		return rv;
	rv = p->store != NULL ? pin_store_settle(p->store, who, result) : CKR_GENERAL_ERROR;
	lock_give(p->lock);
	return rv;
}

/* A wrong PIN was judged: remember it, and say how many tries are gone. */
static void note_wrong(struct pin_policy *p, enum pin_who who, const struct reading *before, const uint8_t *hash)
{
	struct reading r;
	struct pin_view v;

	if (read_counters(p, who, false, &r) == CKR_OK) {
		view_of(p, &r, who, &v);
	} else {
		view_of(p, before, who, &v);
		v.failures++;
	}
	if (before->have_id)
		refused_remember(&before->id, who, hash, v.failures);
	log_msg(LL_WARNING, "wrong %s PIN for %s (%u of %u tries used)", who_name(who), p->name, v.failures,
		v.limit);
}

/*
 * Judges one PIN of who on the token: refused without sending when no try
 * is left or when it is the PIN refused last; otherwise a try is reserved
 * in the store when the store counts, the token judges the PIN (send), and
 * the try is settled: only CKR_PIN_INCORRECT keeps it spent. Caller holds
 * p->judging.
 */
static CK_RV judge(struct pin_policy *p, enum pin_who who, const CK_UTF8CHAR *pin, CK_ULONG len, pin_send send,
		   void *ctx)
{
	uint8_t hash[HASH_LEN] = { 0 };
	struct reading r;
	struct pin_view v;
	enum counting counting;
	enum pin_try result;
	bool reserved = false;
	CK_RV rv, settled;

	rv = read_unlocked(p, who, &r);
	if (rv != CKR_OK)
		return rv;
	counting = view_of(p, &r, who, &v);
	if (r.have_id) {
		rv = pin_hash(pin, len, hash);
		if (rv != CKR_OK)
			goto out;
		if (refused_again(&r.id, who, hash, v.failures)) {
			log_msg(LL_WARNING, "%s PIN for %s is the one refused last: not sent, no try spent",
				who_name(who), p->name);
			rv = CKR_PIN_INCORRECT;
			goto out;
		}
	}
	if (counting == COUNT_STORE || counting == COUNT_BOTH) {
		rv = store_reserve(p, who);
		if (rv == CKR_PIN_LOCKED)
			refuse_locked(p, who);
		if (rv != CKR_OK)
			goto out;
		reserved = true;
	}
	rv = send(ctx);
	result = try_result(rv);
	if (reserved) {
		settled = store_settle(p, who, result);
		if (settled != CKR_OK && rv == CKR_OK)
			rv = settled;
	}
	if (result == PIN_TRY_WRONG)
		note_wrong(p, who, &r, hash);
	else if (result == PIN_TRY_OK && r.have_id)
		refused_forget(&r.id, who);
out:
	cr_wipe(hash, sizeof(hash));
	return rv;
}

static enum pin_who pin_of(CK_USER_TYPE who)
{
	return who == CKU_SO ? PIN_SO : PIN_USER;
}

/* After a user login: private-key use waits for C_SetPIN while the PIN must be changed. */
static CK_RV note_user_login(struct pin_policy *p)
{
	struct reading r;
	bool expired;
	CK_RV rv = read_counters(p, PIN_USER, false, &r);

	if (rv != CKR_OK)
		return rv;
	expired = must_change(p, &r);
	rv = lock_take(p->lock);
	if (rv != CKR_OK)
		return rv;
	p->expired = expired;
	lock_give(p->lock);
	if (expired)
		log_msg(LL_WARNING, "user PIN of %s must be changed before use", p->name);
	return CKR_OK;
}

CK_RV pin_policy_login(struct pin_policy *p, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len,
		       pin_send send, void *ctx)
{
	CK_RV rv = refuse_empty(p, len, who == CKU_SO ? "SO PIN" : "PIN");

	if (rv != CKR_OK)
		return rv;
	rv = lock_take(p->judging);
	if (rv != CKR_OK)
		return rv;
	rv = judge(p, pin_of(who), pin, len, send, ctx);
	if (rv == CKR_OK && who == CKU_USER)
		rv = note_user_login(p);
	lock_give(p->judging);
	return rv;
}

void pin_policy_logout(struct pin_policy *p)
{
	if (lock_take(p->lock) != CKR_OK)
		return;
	p->expired = false;
	lock_give(p->lock);
}

/* While the PIN must be changed, a "change" to the same PIN would satisfy the rule without changing anything. */
static CK_RV check_changes_something(struct pin_policy *p, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
				     const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	struct reading r;
	CK_RV rv = read_unlocked(p, PIN_USER, &r);

	if (rv != CKR_OK)
		return rv;
	if (must_change(p, &r) && old_len == new_len && cr_secret_equal(old_pin, new_pin, old_len)) {
		log_msg(LL_WARNING, "the user PIN of %s must be changed to a different one", p->name);
		return CKR_PIN_INVALID;
	}
	return CKR_OK;
}

static CK_RV record_user_pin_changed(struct pin_policy *p)
{
	CK_RV rv = lock_take(p->lock);

	if (rv != CKR_OK)
		return rv;
	if (p->store != NULL)
		rv = pin_store_user_pin_changed(p->store);
	p->expired = false;
	lock_give(p->lock);
	return rv;
}

CK_RV pin_policy_set_pin(struct pin_policy *p, enum pin_who who, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			 const CK_UTF8CHAR *new_pin, CK_ULONG new_len, pin_send send, void *ctx)
{
	CK_RV rv = refuse_empty(p, old_len, "old PIN");

	if (rv == CKR_OK)
		rv = check_new_length(p, new_len);
	if (rv != CKR_OK)
		return rv;
	rv = lock_take(p->judging);
	if (rv != CKR_OK)
		return rv;
	if (who == PIN_USER)
		rv = check_changes_something(p, old_pin, old_len, new_pin, new_len);
	if (rv == CKR_OK)
		rv = judge(p, who, old_pin, old_len, send, ctx);
	if (rv == CKR_OK && who == PIN_USER)
		rv = record_user_pin_changed(p);
	lock_give(p->judging);
	return rv;
}

/* The SO PIN is needed for what follows: refused once it is locked, whatever login came before. */
static CK_RV check_so_alive(struct pin_policy *p)
{
	struct reading r;

	return read_unlocked(p, PIN_SO, &r);
}

static CK_RV record_user_pin_set_by_so(struct pin_policy *p)
{
	CK_RV rv = lock_take(p->lock);

	if (rv != CKR_OK)
		return rv;
	if (p->store != NULL)
		rv = pin_store_user_pin_set_by_so(p->store);
	if (p->have_id)
		refused_forget(&p->id, PIN_USER);
	lock_give(p->lock);
	return rv;
}

CK_RV pin_policy_init_pin(struct pin_policy *p, CK_ULONG new_len, pin_send send, void *ctx)
{
	CK_RV rv = check_new_length(p, new_len); /* at least 1: an empty PIN is never sent */

	if (rv != CKR_OK)
		return rv;
	rv = lock_take(p->judging);
	if (rv != CKR_OK)
		return rv;
	rv = check_so_alive(p);
	if (rv == CKR_OK)
		rv = send(ctx);
	if (rv == CKR_OK)
		rv = record_user_pin_set_by_so(p);
	lock_give(p->judging);
	return rv;
}

static CK_RV token_is_initialised(struct pin_policy *p, bool *initialised)
{
	CK_RV rv = lock_take(p->lock);

	if (rv != CKR_OK)
		return rv;
	rv = open_store_locked(p);
	*initialised = p->store != NULL;
	lock_give(p->lock);
	return rv;
}

/* The token was (re)initialised: what was known of it goes, and its counters start again. */
static CK_RV record_token_initialised(struct pin_policy *p)
{
	CK_RV rv = lock_take(p->lock);

	if (rv != CKR_OK)
		return rv;
	forget_token_locked(p);
	rv = open_store_locked(p);
	if (rv == CKR_OK && p->store == NULL)
		rv = CKR_GENERAL_ERROR; /* the token says it is still not initialised */
	if (rv == CKR_OK) {
		refused_forget(&p->id, PIN_USER);
		refused_forget(&p->id, PIN_SO);
		rv = pin_store_token_reset(p->store);
	}
	lock_give(p->lock);
	return rv;
}

CK_RV pin_policy_init_token(struct pin_policy *p, const CK_UTF8CHAR *so_pin, CK_ULONG len, pin_send send,
			    void *ctx)
{
	bool initialised = false;
	CK_RV rv = refuse_empty(p, len, "SO PIN");

	if (rv != CKR_OK)
		return rv;
	rv = lock_take(p->judging);
	if (rv != CKR_OK)
		return rv;
	rv = token_is_initialised(p, &initialised);
	if (rv == CKR_OK && !initialised) {
		rv = check_new_length(p, len);
		if (rv == CKR_OK)
			rv = send(ctx);
	} else if (rv == CKR_OK) {
		/* Re-initialising proves the SO PIN: it counts like a login, and a dead SO PIN stays dead. */
		rv = judge(p, PIN_SO, so_pin, len, send, ctx);
	}
	if (rv == CKR_OK)
		rv = record_token_initialised(p);
	lock_give(p->judging);
	return rv;
}

CK_RV pin_policy_token_reset(struct pin_policy *p, pin_send send, void *ctx)
{
	CK_RV rv = lock_take(p->judging);

	if (rv != CKR_OK)
		return rv;
	rv = send(ctx);
	if (rv == CKR_OK && (rv = lock_take(p->lock)) == CKR_OK) {
		forget_token_locked(p);
		rv = open_store_locked(p);
		if (rv == CKR_OK && p->store != NULL)
			rv = pin_store_token_reset(p->store);
		lock_give(p->lock);
	}
	lock_give(p->judging);
	return rv;
}

CK_RV pin_policy_key_use(struct pin_policy *p)
{
	struct reading r;
	bool expired;
	CK_RV rv = lock_take(p->lock);

	if (rv != CKR_OK)
		return rv;
	expired = p->expired;
	lock_give(p->lock);
	if (!expired)
		return CKR_OK;
	/* The user may have changed the PIN in another process since this login: the counters know. */
	if (read_counters(p, PIN_USER, false, &r) != CKR_OK || must_change(p, &r))
		return CKR_PIN_EXPIRED;
	if (lock_take(p->lock) == CKR_OK) {
		p->expired = false;
		lock_give(p->lock);
	}
	return CKR_OK;
}

CK_RV pin_policy_token_info(struct pin_policy *p, CK_TOKEN_INFO *info)
{
	struct reading r;
	CK_RV rv;

	info->ulMinPinLen = p->conf->min_pin_length;
	info->ulMaxPinLen = p->conf->max_pin_length;
	rv = read_counters(p, PIN_USER, true, &r);
	if (rv != CKR_OK)
		return rv;
	info->flags = (info->flags & ~(CK_FLAGS)PIN_POLICY_FLAGS) | flags_of(p, &r);
	return CKR_OK;
}

void pin_policy_token_changed(struct pin_policy *p)
{
	if (lock_take(p->judging) != CKR_OK)
		return;
	if (lock_take(p->lock) == CKR_OK) {
		forget_token_locked(p);
		lock_give(p->lock);
	}
	lock_give(p->judging);
}

CK_RV pin_policy_tries(struct pin_policy *p, enum pin_who who, long *left, long *max)
{
	struct reading r;
	struct pin_view v;
	enum counting counting;
	CK_RV rv = read_counters(p, who, false, &r);

	*left = -1;
	*max = -1;
	if (rv != CKR_OK)
		return rv;
	counting = view_of(p, &r, who, &v);
	/* A token that keeps its own counter but has not said what it holds: only a lock is sure. */
	if (counting == COUNT_NONE || (p->tok.counter != NULL && (!r.have_counter[who] || r.counter[who].max == 0))) {
		if (counting != COUNT_NONE && tries_left(&v) == 0)
			*left = 0;
		return CKR_OK;
	}
	*left = (long)tries_left(&v);
	*max = (long)v.limit;
	return CKR_OK;
}
