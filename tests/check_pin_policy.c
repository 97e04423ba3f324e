/*
 * The PIN policy (pkcs11/pin_policy.c) on fake tokens, for both places a
 * counter can live: a token with no counter of its own (signet's store
 * counts, as for SoftHSM) and a "card" that counts and locks itself, with
 * a maximum of 3/5 (as strict as [policy]), 10/10 (more generous: the
 * store counts in front of it) or 2 (stricter: it rules). Every row of
 * DESIGN.md's table for each, the stricter-of rule both ways, the same
 * wrong PIN never sent twice in a row, empty PINs, lengths, must-change,
 * and the flags at every step. Last, the same-wrong-PIN rule through the
 * real fallback token, counted at SoftHSM's C_Login.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11/config.h"
#include "pkcs11/pin_policy.h"
#include "pkcs11/pin_store.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

#define SO_PIN "87654321"
#define USER_PIN "123456"
#define SERIAL "FAKE-0001       "

/* The flags of one PIN, to compare a step's outcome as a whole. */
#define USER_FLAGS (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED)
#define SO_FLAGS (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED)

/* ---- a fake token: PINs, and optionally its own retry counters, in memory ---- */

struct fake {
	CK_UTF8CHAR serial[16];
	bool initialised;
	bool counts;             /* keeps (and enforces) its own counters, as a PIV card does */
	unsigned max[2], left[2];
	bool is_default;         /* says the user PIN is its factory default */
	bool stale;              /* reports reported_left, as a driver answering from its cache */
	unsigned reported_left[2];
	char pin[2][16];
	unsigned calls;          /* every call the policy let through to the device */
	unsigned judged;         /* PINs the device judged */
	CK_RV fail_next;         /* the next call answers this without judging anything */
};

enum source {
	SRC_STORE,   /* no counter of its own: the store counts */
	SRC_CARD_3,  /* its own counters, 3 user / 5 SO tries: as strict as the policy */
	SRC_CARD_10, /* 10 / 10: the store counts and locks in front of it */
	SRC_COUNT
};

static struct fake card;
static struct config conf;
static struct pin_policy *pol;
static char *dir;

static void fake_init(struct fake *f, enum source src, const char *serial)
{
	memset(f, 0, sizeof(*f));
	memcpy(f->serial, serial, sizeof(f->serial));
	f->initialised = true;
	f->counts = src != SRC_STORE;
	f->max[PIN_USER] = src == SRC_CARD_10 ? 10 : 3;
	f->max[PIN_SO] = src == SRC_CARD_10 ? 10 : 5;
	f->left[PIN_USER] = f->max[PIN_USER];
	f->left[PIN_SO] = f->max[PIN_SO];
	snprintf(f->pin[PIN_USER], sizeof(f->pin[PIN_USER]), "%s", USER_PIN);
	snprintf(f->pin[PIN_SO], sizeof(f->pin[PIN_SO]), "%s", SO_PIN);
}

static CK_RV fake_serial(void *ctx, CK_UTF8CHAR serial[16])
{
	struct fake *f = ctx;

	if (!f->initialised)
		return CKR_USER_PIN_NOT_INITIALIZED;
	memcpy(serial, f->serial, 16);
	return CKR_OK;
}

static CK_RV fake_counter(void *ctx, enum pin_who who, struct pin_counter *out)
{
	struct fake *f = ctx;

	*out = (struct pin_counter){ f->stale ? f->reported_left[who] : f->left[who], f->max[who],
				     who == PIN_USER && f->is_default };
	return CKR_OK;
}

/* VERIFY, as a card answers it: blocked, right (counter back to the maximum) or wrong (one try less). */
static CK_RV fake_verify(struct fake *f, enum pin_who who, const char *pin)
{
	if (f->counts && f->left[who] == 0)
		return CKR_PIN_LOCKED;
	f->judged++;
	if (strcmp(pin, f->pin[who]) == 0) {
		f->left[who] = f->max[who];
		return CKR_OK;
	}
	if (f->counts)
		f->left[who]--;
	return CKR_PIN_INCORRECT;
}

enum call_kind { CALL_LOGIN, CALL_SET_PIN, CALL_INIT_PIN, CALL_INIT_TOKEN };

struct call {
	struct fake *f;
	enum call_kind kind;
	enum pin_who who;
	const char *pin, *new_pin;
};

static CK_RV fake_send(void *ctx)
{
	struct call *c = ctx;
	struct fake *f = c->f;
	CK_RV rv = CKR_OK;

	f->calls++;
	if (f->fail_next != CKR_OK) {
		rv = f->fail_next;
		f->fail_next = CKR_OK;
		return rv;
	}
	switch (c->kind) {
	case CALL_LOGIN:
		if (!f->initialised)
			return CKR_USER_PIN_NOT_INITIALIZED;
		return fake_verify(f, c->who, c->pin);
	case CALL_SET_PIN:
		rv = fake_verify(f, c->who, c->pin);
		if (rv == CKR_OK) {
			snprintf(f->pin[c->who], sizeof(f->pin[c->who]), "%s", c->new_pin);
			f->is_default = f->is_default && c->who != PIN_USER;
		}
		return rv;
	case CALL_INIT_PIN: /* RESET RETRY COUNTER: the SO's login proved the PUK */
		snprintf(f->pin[PIN_USER], sizeof(f->pin[PIN_USER]), "%s", c->new_pin);
		f->left[PIN_USER] = f->max[PIN_USER];
		return CKR_OK;
	case CALL_INIT_TOKEN:
		if (f->initialised)
			rv = fake_verify(f, PIN_SO, c->pin);
		if (rv != CKR_OK)
			return rv;
		snprintf(f->pin[PIN_SO], sizeof(f->pin[PIN_SO]), "%s", c->pin);
		f->pin[PIN_USER][0] = '\0';
		f->left[PIN_USER] = f->max[PIN_USER];
		f->left[PIN_SO] = f->max[PIN_SO];
		f->initialised = true;
		return CKR_OK;
	}
	return CKR_GENERAL_ERROR;
}

static struct pin_policy *policy_for(struct fake *f)
{
	struct pin_token tok = { .kind = "fake", .ctx = f, .serial = fake_serial,
				 .counter = f->counts ? fake_counter : NULL };
	struct pin_policy *p = NULL;

	ck_assert_int_eq(pin_policy_new(&conf, "fake token", &tok, &p), CKR_OK);
	return p;
}

/* The policy in front of a fresh fake token of kind src; extra is applied to the configuration first. */
static void start_with(enum source src, void (*extra)(struct config *c))
{
	fake_init(&card, src, SERIAL);
	if (extra != NULL)
		extra(&conf);
	pol = policy_for(&card);
}

static void start(int src)
{
	start_with((enum source)src, NULL);
}

static void setup(void)
{
	dir = tu_tempdir();
	config_defaults(&conf);
	snprintf(conf.state_dir, sizeof(conf.state_dir), "%s/state", dir);
	conf.log_level = LL_ERROR;
	log_configure(LL_ERROR, "stderr");
}

static void teardown(void)
{
	pin_policy_free(pol);
	pol = NULL;
	free(dir);
}

/* ---- the calls a token makes, on the global card ---- */

static CK_RV login_on(struct pin_policy *p, struct fake *f, CK_USER_TYPE who, const char *pin)
{
	struct call c = { f, CALL_LOGIN, who == CKU_SO ? PIN_SO : PIN_USER, pin, NULL };

	return pin_policy_login(p, who, (const CK_UTF8CHAR *)pin, strlen(pin), fake_send, &c);
}

static CK_RV login(CK_USER_TYPE who, const char *pin)
{
	return login_on(pol, &card, who, pin);
}

static CK_RV set_pin(enum pin_who who, const char *old_pin, const char *new_pin)
{
	struct call c = { &card, CALL_SET_PIN, who, old_pin, new_pin };

	return pin_policy_set_pin(pol, who, (const CK_UTF8CHAR *)old_pin, strlen(old_pin),
				  (const CK_UTF8CHAR *)new_pin, strlen(new_pin), fake_send, &c);
}

static CK_RV init_pin(const char *new_pin)
{
	struct call c = { &card, CALL_INIT_PIN, PIN_SO, NULL, new_pin };

	return pin_policy_init_pin(pol, strlen(new_pin), fake_send, &c);
}

static CK_RV init_token(const char *so_pin)
{
	struct call c = { &card, CALL_INIT_TOKEN, PIN_SO, so_pin, NULL };

	return pin_policy_init_token(pol, (const CK_UTF8CHAR *)so_pin, strlen(so_pin), fake_send, &c);
}

static CK_FLAGS flags_of(struct pin_policy *p)
{
	CK_TOKEN_INFO ti;

	memset(&ti, 0, sizeof(ti));
	ti.flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_SO_PIN_TO_BE_CHANGED;
	ck_assert_int_eq(pin_policy_token_info(p, &ti), CKR_OK);
	/* what the token said besides the PIN flags stays */
	ck_assert_uint_eq(ti.flags & (CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED),
			  CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED);
	return ti.flags & PIN_POLICY_FLAGS;
}

static CK_FLAGS user_flags(void)
{
	return flags_of(pol) & USER_FLAGS;
}

static CK_FLAGS so_flags(void)
{
	return flags_of(pol) & SO_FLAGS;
}

/* Distinct wrong PINs: a repeated one would not be sent. */
static const char *wrong_user(unsigned i)
{
	static const char *const pins[] = { "000000", "000001", "000002", "000003", "000004", "000005" };

	ck_assert_uint_lt(i, sizeof(pins) / sizeof(pins[0]));
	return pins[i];
}

static const char *wrong_so(unsigned i)
{
	static const char *const pins[] = { "00000000", "00000001", "00000002", "00000003", "00000004", "00000005" };

	ck_assert_uint_lt(i, sizeof(pins) / sizeof(pins[0]));
	return pins[i];
}

static struct pin_state store_state(const char *serial)
{
	struct pin_store *s;
	struct pin_state st;

	ck_assert_int_eq(pin_store_open(conf.state_dir, (const CK_UTF8CHAR *)serial, &s), CKR_OK);
	ck_assert_int_eq(pin_store_read(s, &st), CKR_OK);
	pin_store_close(s);
	return st;
}

/* A user PIN try another process made in the store and settled with result. */
static void store_try_elsewhere(enum pin_try result)
{
	struct pin_limits lim = { 3, 5 };
	struct pin_store *s;

	ck_assert_int_eq(pin_store_open(conf.state_dir, (const CK_UTF8CHAR *)SERIAL, &s), CKR_OK);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &lim), CKR_OK);
	ck_assert_int_eq(pin_store_settle(s, PIN_USER, result), CKR_OK);
	pin_store_close(s);
}

/* ---- DESIGN.md's table, row by row, for each source ---- */

/* Wrong user PINs: COUNT_LOW after the first, FINAL_TRY with one left, LOCKED after the third; then nothing is sent. */
START_TEST(wrong_user_pins_lock_after_three)
{
	start(_i);
	ck_assert_uint_eq(user_flags(), 0);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW);
	ck_assert_int_eq(login(CKU_USER, wrong_user(1)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(login(CKU_USER, wrong_user(2)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_uint_eq(card.judged, 3);
	/* locked: even the right PIN is refused without a word to the device */
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_USER, wrong_user(3)), CKR_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_CONTEXT_SPECIFIC, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(set_pin(PIN_USER, USER_PIN, "4321"), CKR_PIN_LOCKED);
	ck_assert_uint_eq(card.calls, 3);
	ck_assert_uint_eq(so_flags(), 0);
	/* a card that allows more tries still has them: signet locked in front of it */
	if (_i == SRC_CARD_10)
		ck_assert_uint_eq(card.left[PIN_USER], 7);
}
END_TEST

/* The right PIN resets the counter and clears the flags. */
START_TEST(right_pin_resets_the_counter)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, wrong_user(1)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	ck_assert_uint_eq(user_flags(), 0);
	pin_policy_logout(pol);
	ck_assert_int_eq(login(CKU_USER, wrong_user(2)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW);
	ck_assert_int_eq(login(CKU_USER, wrong_user(3)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	ck_assert_uint_eq(card.judged, 6);
}
END_TEST

/* SO login + C_InitPIN: the user PIN is set, its counter reset, and it must be changed before use. */
START_TEST(so_init_pin_unblocks_and_must_be_changed)
{
	start(_i);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(login(CKU_USER, wrong_user(i)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_uint_eq(so_flags(), 0);
	/* the user logs in with it, but its keys wait for a new PIN */
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_PIN_EXPIRED);
	ck_assert_int_eq(set_pin(PIN_USER, "4321", "5678"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_OK);
	ck_assert_uint_eq(user_flags(), 0);
	pin_policy_logout(pol);
	ck_assert_int_eq(login(CKU_USER, "5678"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_OK);
}
END_TEST

/* The 5th wrong SO PIN locks it for good: login, C_InitToken and C_InitPIN answer CKR_PIN_LOCKED, unsent. */
START_TEST(wrong_so_pins_lock_for_ever)
{
	static const CK_FLAGS steps[] = {
		CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_COUNT_LOW,
		CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED,
	};

	start(_i);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK); /* an SO session from before the lock */
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_int_eq(login(CKU_SO, wrong_so(i)), CKR_PIN_INCORRECT);
		ck_assert_msg(so_flags() == steps[i], "after %u wrong SO PINs: %#lx", i + 1, (unsigned long)so_flags());
	}
	ck_assert_uint_eq(card.calls, 6);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(init_token(SO_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(init_pin("4321"), CKR_PIN_LOCKED);
	ck_assert_int_eq(set_pin(PIN_SO, SO_PIN, "11223344"), CKR_PIN_LOCKED);
	ck_assert_uint_eq(card.calls, 6);
	/* for ever: a new policy (the next C_Initialize, another process) sees the same */
	pin_policy_free(pol);
	pol = policy_for(&card);
	ck_assert_uint_eq(so_flags(), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(init_token(SO_PIN), CKR_PIN_LOCKED);
	ck_assert_uint_eq(card.calls, 6);
	/* the user PIN lives on */
	ck_assert_uint_eq(user_flags(), 0);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
}
END_TEST

/* C_InitToken proves the SO PIN like a login, then the counters start again and the user PIN must be changed. */
START_TEST(init_token_resets_the_counters)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, wrong_user(1)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(init_token(wrong_so(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(flags_of(pol), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_SO_PIN_COUNT_LOW);
	ck_assert_int_eq(init_token(SO_PIN), CKR_OK);
	ck_assert_uint_eq(flags_of(pol), CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin(USER_PIN), CKR_OK);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_PIN_EXPIRED);
}
END_TEST

START_TEST(must_change_only_when_required)
{
	struct pin_state st;

	start(_i);
	conf.require_pin_change = false;
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	/* the store knows the PIN is the administrator's; the policy does not ask for a change */
	st = store_state(SERIAL);
	ck_assert(st.user_to_be_changed);
	ck_assert_uint_eq(user_flags(), 0);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_OK);
	/* and a "change" to the same PIN is no offence */
	ck_assert_int_eq(set_pin(PIN_USER, "4321", "4321"), CKR_OK);
	ck_assert_uint_eq(card.judged, 3);
}
END_TEST

/* While the PIN must be changed, C_SetPIN to the same PIN is CKR_PIN_INVALID, unsent; afterwards it is allowed. */
START_TEST(same_pin_refused_only_while_it_must_change)
{
	start(_i);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	pin_policy_logout(pol);
	ck_assert_int_eq(set_pin(PIN_USER, "4321", "4321"), CKR_PIN_INVALID);
	ck_assert_uint_eq(card.calls, 2);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(set_pin(PIN_USER, "4321", "5678"), CKR_OK);
	ck_assert_uint_eq(user_flags(), 0);
	ck_assert_int_eq(set_pin(PIN_USER, "5678", "5678"), CKR_OK);
	ck_assert_uint_eq(card.calls, 4);
	/* the SO may keep its PIN whenever */
	ck_assert_int_eq(set_pin(PIN_SO, SO_PIN, SO_PIN), CKR_OK);
}
END_TEST

/* The token says its user PIN is still the factory default: must be changed, as one set by the SO. */
START_TEST(default_pin_on_the_token_must_be_changed)
{
	start(SRC_CARD_3);
	card.is_default = true;
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_PIN_EXPIRED);
	ck_assert_int_eq(set_pin(PIN_USER, USER_PIN, USER_PIN), CKR_PIN_INVALID);
	ck_assert_int_eq(set_pin(PIN_USER, USER_PIN, "4321"), CKR_OK);
	ck_assert(!card.is_default);
	ck_assert_uint_eq(user_flags(), 0);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_OK);
}
END_TEST

/* A PIN changed in another process ends CKR_PIN_EXPIRED for a login made before. */
START_TEST(pin_changed_elsewhere_ends_expiry)
{
	struct pin_store *s;

	start(_i);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	pin_policy_logout(pol);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_PIN_EXPIRED);
	ck_assert_int_eq(pin_store_open(conf.state_dir, (const CK_UTF8CHAR *)SERIAL, &s), CKR_OK);
	ck_assert_int_eq(pin_store_user_pin_changed(s), CKR_OK);
	pin_store_close(s);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_OK);
}
END_TEST

START_TEST(logout_ends_expiry)
{
	start(_i);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	pin_policy_logout(pol);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_PIN_EXPIRED);
	pin_policy_logout(pol);
	ck_assert_int_eq(pin_policy_key_use(pol), CKR_OK);
}
END_TEST

/* ---- empty PINs and lengths ---- */

START_TEST(empty_pin_is_never_sent)
{
	struct call c = { &card, CALL_LOGIN, PIN_USER, "", NULL };

	start(_i);
	ck_assert_int_eq(pin_policy_login(pol, CKU_USER, NULL, 0, fake_send, &c), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(login(CKU_USER, ""), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(login(CKU_SO, ""), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(login(CKU_CONTEXT_SPECIFIC, ""), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(set_pin(PIN_USER, "", "4321"), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(set_pin(PIN_USER, USER_PIN, ""), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(init_token(""), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(init_pin(""), CKR_PIN_LEN_RANGE);
	ck_assert_uint_eq(card.calls, 0);
	ck_assert_uint_eq(flags_of(pol), 0);
	if (card.counts)
		ck_assert_uint_eq(card.left[PIN_USER], card.max[PIN_USER]);
}
END_TEST

START_TEST(new_pins_fit_the_policy_lengths)
{
	CK_TOKEN_INFO ti;

	start(_i);
	ck_assert_int_eq(set_pin(PIN_USER, USER_PIN, "123"), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(set_pin(PIN_USER, USER_PIN, "123456789"), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(init_pin("123"), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(init_pin("123456789"), CKR_PIN_LEN_RANGE);
	ck_assert_uint_eq(card.calls, 0);
	ck_assert_int_eq(set_pin(PIN_USER, USER_PIN, "1234"), CKR_OK);
	ck_assert_int_eq(set_pin(PIN_USER, "1234", "12345678"), CKR_OK);
	memset(&ti, 0, sizeof(ti));
	ck_assert_int_eq(pin_policy_token_info(pol, &ti), CKR_OK);
	ck_assert_uint_eq(ti.ulMinPinLen, 4);
	ck_assert_uint_eq(ti.ulMaxPinLen, 8);
}
END_TEST

/* An uninitialised token has no PIN to guard: its answer passes; its first SO PIN is a new PIN. */
START_TEST(uninitialised_token)
{
	start(SRC_STORE);
	card.initialised = false;
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_USER_PIN_NOT_INITIALIZED);
	ck_assert_int_eq(init_token("123"), CKR_PIN_LEN_RANGE);
	ck_assert_uint_eq(card.calls, 1);
	ck_assert_int_eq(init_token(SO_PIN), CKR_OK);
	ck_assert_uint_eq(card.judged, 0);
	ck_assert_uint_eq(flags_of(pol), CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(login(CKU_SO, wrong_so(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(so_flags(), CKF_SO_PIN_COUNT_LOW);
}
END_TEST

/* Errors that judged nothing spend nothing. */
START_TEST(unjudged_failures_spend_no_try)
{
	start(_i);
	card.fail_next = CKR_DEVICE_ERROR;
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_DEVICE_ERROR);
	ck_assert_uint_eq(user_flags(), 0);
	/* nor is such a PIN remembered as wrong */
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.judged, 1);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW);
}
END_TEST

/* ---- the stricter of the token's counter and the policy ---- */

/* A card that allows 10 tries is locked by signet after 3, and keeps 7 of its own. */
START_TEST(generous_card_is_locked_in_front)
{
	struct pin_state st;

	start(SRC_CARD_10);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(login(CKU_USER, wrong_user(i)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	st = store_state(SERIAL);
	ck_assert_uint_eq(st.user_failures, 3);
	ck_assert(st.user_locked);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_uint_eq(card.left[PIN_USER], 7);
	ck_assert_uint_eq(card.calls, 3);
}
END_TEST

/* Tries the card lost elsewhere (another program) make its counter the stricter: its flags show, and at 0 nothing is sent. */
START_TEST(generous_card_spent_elsewhere_rules)
{
	start(SRC_CARD_10);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW); /* store 1 of 3, card 1 of 10 */
	card.left[PIN_USER] = 1;
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	card.left[PIN_USER] = 0;
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_uint_eq(card.calls, 1);
	/* no try was taken from the store for it */
	ck_assert_uint_eq(store_state(SERIAL).user_failures, 1);
}
END_TEST

/* A card stricter than the policy (2 tries) rules with its own counter; the store counts nothing. */
START_TEST(strict_card_rules)
{
	struct pin_state st;

	start(SRC_CARD_3);
	card.max[PIN_USER] = card.left[PIN_USER] = 2;
	ck_assert_uint_eq(user_flags(), 0);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(login(CKU_USER, wrong_user(1)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_uint_eq(card.calls, 2);
	st = store_state(SERIAL);
	ck_assert_uint_eq(st.user_failures, 0);
	ck_assert(!st.user_locked);
	/* the SO's reset unblocks the card and must-change is kept by signet */
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_TO_BE_CHANGED);
}
END_TEST

/* A lock signet set in front of a generous card stays when the card is later made stricter than the policy. */
START_TEST(store_lock_outlasts_a_stricter_card)
{
	start(SRC_CARD_10);
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(login(CKU_USER, wrong_user(i)), CKR_PIN_INCORRECT);
	card.max[PIN_USER] = card.left[PIN_USER] = 3; /* reconfigured by another program, counter full */
	ck_assert(user_flags() & CKF_USER_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_uint_eq(card.calls, 3);
	/* the SO unblocks it as ever */
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_TO_BE_CHANGED);
}
END_TEST

/* A card as strict as the policy: its counter is the one reported; the store does not count. */
START_TEST(card_as_strict_as_policy_counts_itself)
{
	start(SRC_CARD_3);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(store_state(SERIAL).user_failures, 0);
	ck_assert_uint_eq(card.left[PIN_USER], 2);
	card.left[PIN_USER] = 3; /* someone verified the right PIN elsewhere */
	ck_assert_uint_eq(user_flags(), 0);
}
END_TEST

/* ---- the same wrong PIN is never sent twice in a row ---- */

START_TEST(same_wrong_pin_is_not_sent_again)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 1);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
		ck_assert_int_eq(login(CKU_CONTEXT_SPECIFIC, wrong_user(0)), CKR_PIN_INCORRECT);
		ck_assert_int_eq(set_pin(PIN_USER, wrong_user(0), "4321"), CKR_PIN_INCORRECT);
	}
	/* the device heard nothing, and no try was spent */
	ck_assert_uint_eq(card.calls, 1);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW);
	if (card.counts)
		ck_assert_uint_eq(card.left[PIN_USER], card.max[PIN_USER] - 1);
	/* another wrong PIN is sent, and then the first one is no longer the last */
	ck_assert_int_eq(login(CKU_USER, wrong_user(1)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 3);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
}
END_TEST

/* The same for the SO PIN, through C_Login and C_InitToken; user and SO are remembered apart. */
START_TEST(same_wrong_so_pin_is_not_sent_again)
{
	start(_i);
	ck_assert_int_eq(login(CKU_SO, wrong_so(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_SO, wrong_so(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(init_token(wrong_so(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(set_pin(PIN_SO, wrong_so(0), "11223344"), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 1);
	ck_assert_uint_eq(so_flags(), CKF_SO_PIN_COUNT_LOW);
	/* the same string as a user PIN is another question */
	ck_assert_int_eq(login(CKU_USER, wrong_so(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 2);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW);
}
END_TEST

/* A success forgets the PIN refused last: it is sent again (and spends a try). */
START_TEST(success_forgets_the_refused_pin)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	pin_policy_logout(pol);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 3);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW);
}
END_TEST

/* From now on the card reports its counters as they are now, whatever happens. */
static void freeze_counters(void)
{
	card.stale = true;
	card.reported_left[PIN_USER] = card.left[PIN_USER];
	card.reported_left[PIN_SO] = card.left[PIN_SO];
}

/*
 * A driver may answer the counter from its cache (a card's APDU budget):
 * the refused PIN is forgotten on a success even when the counter read
 * does not show the reset.
 */
START_TEST(success_forgets_even_with_a_stale_counter)
{
	start(SRC_CARD_3);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	freeze_counters();
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	pin_policy_logout(pol);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 3);
}
END_TEST

START_TEST(unblock_forgets_even_with_a_stale_counter)
{
	start(SRC_CARD_3);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_PIN_INCORRECT);
	freeze_counters();
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	pin_policy_logout(pol);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
}
END_TEST

/* A PIN refused before the user changed to it is right now: the change forgets it. */
START_TEST(pin_change_forgets_the_refused_pin)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(set_pin(PIN_USER, USER_PIN, "4321"), CKR_OK);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
	ck_assert_uint_eq(card.judged, 3);
}
END_TEST

/* The same after the SO unblocks the user PIN with it. */
START_TEST(unblock_forgets_the_refused_pin)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(init_pin("4321"), CKR_OK);
	pin_policy_logout(pol);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
}
END_TEST

START_TEST(token_change_forgets_the_refused_pin)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	pin_policy_token_changed(pol);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 2);
}
END_TEST

/* A counter reset elsewhere (a right PIN in another process) means the refused PIN may be right now. */
START_TEST(counter_reset_elsewhere_forgets_the_refused_pin)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	if (_i == SRC_CARD_3)
		card.left[PIN_USER] = card.max[PIN_USER];
	else
		store_try_elsewhere(PIN_TRY_OK);
	ck_assert_uint_eq(user_flags(), 0);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 2);
}
END_TEST

/* More failures elsewhere (a second process looping on the same PIN) do not make it worth sending again. */
START_TEST(failures_elsewhere_keep_the_refused_pin)
{
	start(SRC_STORE);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	store_try_elsewhere(PIN_TRY_WRONG);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 1);
	ck_assert_uint_eq(user_flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
}
END_TEST

/* One process: a policy made again (C_Finalize, C_Initialize) still knows the refused PIN. */
START_TEST(refused_pin_outlives_the_policy_object)
{
	start(_i);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	pin_policy_free(pol);
	pol = policy_for(&card);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 1);
}
END_TEST

/* Another token is another question, even with the same PIN. */
START_TEST(tokens_are_remembered_apart)
{
	struct fake other;
	struct pin_policy *p2;

	start(_i);
	fake_init(&other, (enum source)_i, "FAKE-0002       ");
	p2 = policy_for(&other);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login_on(p2, &other, CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(other.calls, 1);
	ck_assert_int_eq(login_on(p2, &other, CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(other.calls, 1);
	ck_assert_uint_eq(card.calls, 1);
	pin_policy_free(p2);
}
END_TEST

/* A forked child is another process: its own salt, nothing remembered from the parent. */
START_TEST(forked_child_remembers_nothing)
{
	int status;
	pid_t pid;

	start(_i);
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pin_policy *child;

		tu_child_deadline(20);
		child = policy_for(&card);
		if (login_on(child, &card, CKU_USER, wrong_user(0)) != CKR_PIN_INCORRECT)
			_exit(1);
		_exit(card.calls == 2 ? 0 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* the parent still refuses it */
	ck_assert_int_eq(login(CKU_USER, wrong_user(0)), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(card.calls, 1);
}
END_TEST

/* Each refusal says why in one line, which never holds the PIN. */
START_TEST(refusals_are_logged_without_the_pin)
{
	char path[4200];
	char *text;
	int saved;

	start(SRC_STORE);
	snprintf(path, sizeof(path), "%s/log", dir);
	log_configure(LL_WARNING, "stderr");
	saved = tu_capture_stderr(path);
	ck_assert_int_eq(login(CKU_USER, "975310"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, "975310"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, "975311"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, "975312"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	tu_restore_stderr(saved);
	text = tu_read_file(path);
	ck_assert_ptr_nonnull(strstr(text, "wrong user PIN for fake token (1 of 3 tries used)"));
	ck_assert_ptr_nonnull(strstr(text, "user PIN for fake token is the one refused last: not sent, no try spent"));
	ck_assert_ptr_nonnull(strstr(text, "wrong user PIN for fake token (3 of 3 tries used)"));
	ck_assert_ptr_nonnull(strstr(text, "user PIN of fake token is locked: not sent"));
	ck_assert_ptr_null(strstr(text, "97531"));
	ck_assert_ptr_null(strstr(text, USER_PIN));
	free(text);
}
END_TEST

/* ---- through the fallback token: SoftHSM never hears the repeated PIN ---- */

START_TEST(fallback_does_not_resend_a_refused_pin)
{
	char conf_path[4200], login_log[4200], lib[4096];
	const char *build = getenv("SIGNET_BUILD");
	CK_FUNCTION_LIST_PTR fl;
	CK_SESSION_HANDLE h;
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot;

	snprintf(conf_path, sizeof(conf_path), "%s/signet.conf", dir);
	snprintf(login_log, sizeof(login_log), "%s/logins", dir);
	snprintf(lib, sizeof(lib), "%s/tests/libsofthsm_login_counter.so", build && *build ? build : "build");
	sf_write_softhsm_conf(dir);
	sf_write_signet_conf(conf_path, dir, lib, "[policy]\nrequire_pin_change = no\n");
	setenv("SIGNET_TEST_LOGIN_LOG", login_log, 1);
	fl = sf_initialize(conf_path);
	slot = sf_initialised_slot(fl);
	h = sf_init_token(fl, slot, "fallback", SO_PIN, USER_PIN);
	unlink(login_log);
	ck_assert_int_eq(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "000000", 6), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(sf_login_calls(login_log), 1);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "000000", 6), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(sf_login_calls(login_log), 1);
	ck_assert_int_eq(fl->C_GetTokenInfo(slot, &ti), CKR_OK);
	ck_assert_uint_eq(ti.flags & USER_FLAGS, CKF_USER_PIN_COUNT_LOW);
	/* a right PIN gets through and forgets it */
	ck_assert_int_eq(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert_int_eq(fl->C_Logout(h), CKR_OK);
	ck_assert_int_eq(fl->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "000000", 6), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(sf_login_calls(login_log), 3);
	ck_assert_int_eq(fl->C_Finalize(NULL), CKR_OK);
}
END_TEST

static Suite *pin_policy_suite(void)
{
	Suite *s = suite_create("pin_policy");
	TCase *tc;

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, wrong_user_pins_lock_after_three, 0, SRC_COUNT);
	tcase_add_loop_test(tc, right_pin_resets_the_counter, 0, SRC_COUNT);
	tcase_add_loop_test(tc, so_init_pin_unblocks_and_must_be_changed, 0, SRC_COUNT);
	tcase_add_loop_test(tc, wrong_so_pins_lock_for_ever, 0, SRC_COUNT);
	tcase_add_loop_test(tc, init_token_resets_the_counters, 0, SRC_COUNT);
	tcase_add_loop_test(tc, must_change_only_when_required, 0, SRC_COUNT);
	tcase_add_loop_test(tc, same_pin_refused_only_while_it_must_change, 0, SRC_COUNT);
	tcase_add_test(tc, default_pin_on_the_token_must_be_changed);
	tcase_add_loop_test(tc, pin_changed_elsewhere_ends_expiry, 0, SRC_COUNT);
	tcase_add_loop_test(tc, logout_ends_expiry, 0, SRC_COUNT);
	suite_add_tcase(s, tc);

	tc = tcase_create("lengths");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, empty_pin_is_never_sent, 0, SRC_COUNT);
	tcase_add_loop_test(tc, new_pins_fit_the_policy_lengths, 0, SRC_COUNT);
	tcase_add_test(tc, uninitialised_token);
	tcase_add_loop_test(tc, unjudged_failures_spend_no_try, 0, SRC_COUNT);
	suite_add_tcase(s, tc);

	tc = tcase_create("stricter");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, generous_card_is_locked_in_front);
	tcase_add_test(tc, generous_card_spent_elsewhere_rules);
	tcase_add_test(tc, strict_card_rules);
	tcase_add_test(tc, card_as_strict_as_policy_counts_itself);
	tcase_add_test(tc, store_lock_outlasts_a_stricter_card);
	suite_add_tcase(s, tc);

	tc = tcase_create("repeat");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, same_wrong_pin_is_not_sent_again, 0, SRC_COUNT);
	tcase_add_loop_test(tc, same_wrong_so_pin_is_not_sent_again, 0, SRC_COUNT);
	tcase_add_loop_test(tc, success_forgets_the_refused_pin, 0, SRC_COUNT);
	tcase_add_test(tc, success_forgets_even_with_a_stale_counter);
	tcase_add_test(tc, unblock_forgets_even_with_a_stale_counter);
	tcase_add_loop_test(tc, pin_change_forgets_the_refused_pin, 0, SRC_COUNT);
	tcase_add_loop_test(tc, unblock_forgets_the_refused_pin, 0, SRC_COUNT);
	tcase_add_loop_test(tc, token_change_forgets_the_refused_pin, 0, SRC_COUNT);
	tcase_add_loop_test(tc, counter_reset_elsewhere_forgets_the_refused_pin, 0, SRC_COUNT);
	tcase_add_test(tc, failures_elsewhere_keep_the_refused_pin);
	tcase_add_loop_test(tc, refused_pin_outlives_the_policy_object, 0, SRC_COUNT);
	tcase_add_loop_test(tc, tokens_are_remembered_apart, 0, SRC_COUNT);
	tcase_add_loop_test(tc, forked_child_remembers_nothing, 0, SRC_COUNT);
	tcase_add_test(tc, refusals_are_logged_without_the_pin);
	suite_add_tcase(s, tc);

	tc = tcase_create("fallback");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fallback_does_not_resend_a_refused_pin);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(pin_policy_suite());
}
