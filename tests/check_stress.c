/*
 * Threads on the fallback token at once: sessions opened, signed with and
 * closed concurrently, a session closed while another thread signs with
 * it, and a thread reading slot and token information all along; many
 * threads sharing one session; C_Finalize while other threads are inside
 * the module; and forks while other threads hold SoftHSM's locks. Meant to
 * run under `make check SAN=address,undefined` as much as without.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/cryptoki.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

#define SO_PIN "87654321"
#define USER_PIN "123456"
#define WORKERS 3
#define ROUNDS 200

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE anchor;   /* keeps the token logged in for the whole test */
static atomic_bool done;

static void make_key(CK_SESSION_HANDLE h)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_BBOOL yes = CK_TRUE;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) }, { CKA_VERIFY, &yes, 1 },
			       { CKA_TOKEN, &yes, 1 }, { CKA_LABEL, "stress", 6 } };
	CK_ATTRIBUTE priv[] = { { CKA_SIGN, &yes, 1 }, { CKA_TOKEN, &yes, 1 }, { CKA_PRIVATE, &yes, 1 },
				{ CKA_LABEL, "stress", 6 } };
	CK_OBJECT_HANDLE pk, sk;

	ck_assert_int_eq(f->C_GenerateKeyPair(h, &mech, pub, 4, priv, 4, &pk, &sk), CKR_OK);
}

static void setup(void)
{
	char conf[4096];
	CK_SESSION_HANDLE h;

	dir = tu_tempdir();
	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	sf_write_softhsm_conf(dir);
	sf_write_signet_conf(conf, dir, NULL, "");
	unsetenv("SIGNET_DEBUG");
	f = sf_initialize(conf);
	slot = sf_initialised_slot(f);
	h = sf_init_token(f, slot, "stress", SO_PIN, "1111");
	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)"1111", 4, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	make_key(h);
	anchor = h;
	done = false;
}

static void teardown(void)
{
	f->C_Finalize(NULL);
	free(dir);
}

/* The stress key, looked up in this session; 0 when the find fails. */
static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE h)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_LABEL, "stress", 6 } };
	CK_OBJECT_HANDLE k = 0;
	CK_ULONG n = 0;

	if (f->C_FindObjectsInit(h, t, 2) != CKR_OK)
		return 0;
	if (f->C_FindObjects(h, &k, 1, &n) != CKR_OK || n != 1)
		k = 0;
	f->C_FindObjectsFinal(h);
	return k;
}

/* One two-call signature; CKR_OK only when it gave 64 bytes. */
static CK_RV sign_once(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key, CK_MECHANISM_TYPE type)
{
	CK_MECHANISM m = { type, NULL, 0 };
	CK_BYTE data[32] = { 9 }, sig[64];
	CK_ULONG len = 0;
	CK_RV rv = f->C_SignInit(h, &m, key);

	if (rv == CKR_OK)
		rv = f->C_Sign(h, data, sizeof(data), NULL, &len);
	if (rv == CKR_OK)
		rv = f->C_Sign(h, data, sizeof(data), sig, &len);
	if (rv == CKR_OK && len != 64)
		rv = CKR_GENERAL_ERROR;
	return rv;
}

/*
 * Opens a session, logs in, finds the key, signs with it and closes the
 * session; returns how many of these steps went wrong. When the token is
 * already_logged_in all along, the login must say so.
 */
static uintptr_t sign_in_own_session(CK_MECHANISM_TYPE type, bool already_logged_in)
{
	uintptr_t bad = 0;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	CK_RV rv;

	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK)
		return 1;
	rv = f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6);
	if (rv != CKR_USER_ALREADY_LOGGED_IN && (already_logged_in || rv != CKR_OK))
		bad++;
	key = find_key(h);
	if (key == 0 || sign_once(h, key, type) != CKR_OK)
		bad++;
	if (f->C_CloseSession(h) != CKR_OK)
		bad++;
	return bad;
}

/* Opens, logs in (already done token-wide), finds, signs, closes: ROUNDS times. */
static void *worker(void *arg)
{
	CK_MECHANISM_TYPE type = (uintptr_t)arg % 2 ? CKM_ECDSA_SHA256 : CKM_ECDSA;
	uintptr_t failures = 0;

	for (int i = 0; i < ROUNDS; i++)
		failures += sign_in_own_session(type, true);
	return (void *)failures;
}

/* Signs with a session another thread closes underneath: every answer is OK or "no such session". */
struct shared_session {
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	uintptr_t bad;
};

static void *signer(void *arg)
{
	struct shared_session *ss = arg;

	for (;;) {
		CK_RV rv = sign_once(ss->h, ss->key, CKM_ECDSA_SHA256);

		if (rv == CKR_SESSION_HANDLE_INVALID)
			break;
		if (rv != CKR_OK)
			ss->bad++;
	}
	return NULL;
}

static void *closer(void *arg)
{
	uintptr_t bad = 0;

	(void)arg;
	for (int i = 0; i < ROUNDS / 2; i++) {
		struct shared_session ss = { 0, 0, 0 };
		pthread_t t;

		if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ss.h) != CKR_OK) {
			bad++;
			continue;
		}
		ss.key = find_key(ss.h);
		if (ss.key == 0 || pthread_create(&t, NULL, signer, &ss) != 0) {
			bad++;
			f->C_CloseSession(ss.h);
			continue;
		}
		usleep(500 + 50 * (useconds_t)i);
		if (f->C_CloseSession(ss.h) != CKR_OK)
			bad++;
		pthread_join(t, NULL);
		bad += ss.bad;
	}
	return (void *)bad;
}

/* What a wallet or browser polls while the others work. */
static void *watcher(void *arg)
{
	uintptr_t bad = 0;

	(void)arg;
	while (!done) {
		CK_SLOT_ID list[8];
		CK_ULONG n = 8;
		CK_TOKEN_INFO ti;
		CK_SESSION_INFO si;

		if (f->C_GetSlotList(CK_TRUE, list, &n) != CKR_OK || n < 1)
			bad++;
		if (f->C_GetTokenInfo(slot, &ti) != CKR_OK || !(ti.flags & CKF_USER_PIN_INITIALIZED))
			bad++;
		if (f->C_GetSessionInfo(anchor, &si) != CKR_OK || si.state != CKS_RW_USER_FUNCTIONS)
			bad++;
	}
	return (void *)bad;
}

START_TEST(threads_open_sign_and_close_sessions)
{
	pthread_t workers[WORKERS], close_thread, watch_thread;
	void *result;

	ck_assert_int_eq(pthread_create(&watch_thread, NULL, watcher, NULL), 0);
	ck_assert_int_eq(pthread_create(&close_thread, NULL, closer, NULL), 0);
	for (uintptr_t i = 0; i < WORKERS; i++)
		ck_assert_int_eq(pthread_create(&workers[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < WORKERS; i++) {
		ck_assert_int_eq(pthread_join(workers[i], &result), 0);
		ck_assert_uint_eq((uintptr_t)result, 0);
	}
	ck_assert_int_eq(pthread_join(close_thread, &result), 0);
	ck_assert_uint_eq((uintptr_t)result, 0);
	done = true;
	ck_assert_int_eq(pthread_join(watch_thread, &result), 0);
	ck_assert_uint_eq((uintptr_t)result, 0);
	/* all closed but the anchor, which is still logged in */
	{
		CK_SESSION_INFO si;

		ck_assert_int_eq(f->C_GetSessionInfo(anchor, &si), CKR_OK);
		ck_assert_uint_eq(si.state, CKS_RW_USER_FUNCTIONS);
		ck_assert_int_eq(sign_once(anchor, find_key(anchor), CKM_ECDSA_SHA256), CKR_OK);
	}
}
END_TEST

/*
 * No session stays open: each thread logs in on its own session, signs and
 * closes it, so the token is logged out and in again all the time. While a
 * thread holds a logged-in session, its signatures must work.
 */
static void *login_cycler(void *arg)
{
	uintptr_t bad = 0;

	(void)arg;
	for (int i = 0; i < ROUNDS / 4; i++)
		bad += sign_in_own_session(CKM_ECDSA, false);
	return (void *)bad;
}

START_TEST(threads_log_in_and_out_by_closing_sessions)
{
	pthread_t t[2];
	void *result;

	ck_assert_int_eq(f->C_CloseSession(anchor), CKR_OK);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, login_cycler, NULL), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], &result), 0);
		ck_assert_uint_eq((uintptr_t)result, 0);
	}
}
END_TEST

/* ---- many threads on one session ---- */

#define SHARERS 16
#define SHARED_ROUNDS 150

struct shared_use {
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	atomic_uint bad;            /* answers outside the allowed set */
	atomic_ulong first_bad;     /* the first of them, for the failure message */
	atomic_uint signatures;     /* complete signatures of the right length */
};

/* What a call on a session that other threads use at the same time may answer. */
static bool shared_answer_allowed(CK_RV rv)
{
	return rv == CKR_OK || rv == CKR_OPERATION_ACTIVE || rv == CKR_OPERATION_NOT_INITIALIZED;
}

static void note_shared(struct shared_use *u, CK_RV rv)
{
	unsigned long none = CKR_OK;

	if (shared_answer_allowed(rv))
		return;
	atomic_fetch_add(&u->bad, 1);
	atomic_compare_exchange_strong(&u->first_bad, &none, (unsigned long)rv);
}

/* One of three uses of the session, each step's answer checked: sign in one part, in several, or digest. */
static void shared_round(struct shared_use *u, int kind)
{
	CK_MECHANISM sign = { CKM_ECDSA_SHA256, NULL, 0 }, digest = { CKM_SHA256, NULL, 0 };
	CK_BYTE data[48] = { 7 }, out[64];
	CK_ULONG len = sizeof(out);
	CK_RV rv;

	switch (kind) {
	case 0:
		note_shared(u, f->C_SignInit(u->h, &sign, u->key));
		rv = f->C_Sign(u->h, data, sizeof(data), out, &len);
		note_shared(u, rv);
		if (rv == CKR_OK && len == 64)
			atomic_fetch_add(&u->signatures, 1);
		break;
	case 1:
		note_shared(u, f->C_SignInit(u->h, &sign, u->key));
		note_shared(u, f->C_SignUpdate(u->h, data, 16));
		note_shared(u, f->C_SignUpdate(u->h, data + 16, 32));
		rv = f->C_SignFinal(u->h, out, &len);
		note_shared(u, rv);
		if (rv == CKR_OK && len == 64)
			atomic_fetch_add(&u->signatures, 1);
		break;
	default:
		note_shared(u, f->C_DigestInit(u->h, &digest));
		note_shared(u, f->C_DigestUpdate(u->h, data, sizeof(data)));
		note_shared(u, f->C_DigestFinal(u->h, out, &len));
		break;
	}
}

static void *sharer(void *arg)
{
	struct shared_use *u = arg;
	static atomic_int next;
	int me = atomic_fetch_add(&next, 1);

	for (int i = 0; i < SHARED_ROUNDS; i++)
		shared_round(u, (me + i) % 3);
	return NULL;
}

/*
 * Sharing a session between threads is the caller's mistake, but it must
 * not corrupt memory: every call answers as one of the calls would alone.
 */
START_TEST(threads_share_one_session)
{
	struct shared_use u = { .h = anchor };
	pthread_t t[SHARERS];
	CK_SESSION_INFO si;

	u.key = find_key(anchor);
	ck_assert_uint_ne(u.key, 0);
	for (int i = 0; i < SHARERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, sharer, &u), 0);
	for (int i = 0; i < SHARERS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	ck_assert_msg(atomic_load(&u.bad) == 0, "%u answers outside the allowed set, the first 0x%lx",
		      atomic_load(&u.bad), atomic_load(&u.first_bad));
	ck_assert_uint_gt(atomic_load(&u.signatures), 0);
	/* The session is still sound: after ending what a thread left active, it signs. */
	ck_assert_int_eq(f->C_GetSessionInfo(anchor, &si), CKR_OK);
	{
		CK_BYTE out[64];
		CK_ULONG len = sizeof(out);

		f->C_SignFinal(anchor, out, &len);
		len = sizeof(out);
		f->C_DigestFinal(anchor, out, &len);
	}
	ck_assert_int_eq(sign_once(anchor, u.key, CKM_ECDSA_SHA256), CKR_OK);
}
END_TEST

/* ---- C_Finalize while other threads are inside the module ---- */

static atomic_bool finalized;          /* set once C_Finalize has returned */

struct busy_thread {
	bool signs;                      /* signs on its own session, else polls */
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	unsigned bad, after_ok;          /* answers outside the allowed set; calls made after C_Finalize */
	CK_RV first_bad;
};

static void note_busy(struct busy_thread *b, bool after_finalize, CK_RV rv)
{
	bool allowed = rv == CKR_OK || rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_SESSION_HANDLE_INVALID ||
		       rv == CKR_OPERATION_NOT_INITIALIZED;

	/* A call that began after C_Finalize returned must find the module finalised. */
	if (after_finalize)
		allowed = rv == CKR_CRYPTOKI_NOT_INITIALIZED;
	if (after_finalize && allowed)
		b->after_ok++;
	if (!allowed && b->bad++ == 0)
		b->first_bad = rv;
}

static void *busy(void *arg)
{
	struct busy_thread *b = arg;
	CK_BYTE data[32] = { 3 }, sig[64];

	while (b->after_ok < 20) {
		bool after = atomic_load(&finalized);

		if (b->signs) {
			CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
			CK_ULONG len = sizeof(sig);

			note_busy(b, after, f->C_SignInit(b->h, &m, b->key));
			after = atomic_load(&finalized);
			note_busy(b, after, f->C_Sign(b->h, data, sizeof(data), sig, &len));
		} else {
			CK_SLOT_ID list[8];
			CK_ULONG n = 8;
			CK_TOKEN_INFO ti;
			CK_SESSION_INFO si;

			note_busy(b, after, f->C_GetSlotList(CK_TRUE, list, &n));
			after = atomic_load(&finalized);
			note_busy(b, after, f->C_GetTokenInfo(slot, &ti));
			after = atomic_load(&finalized);
			note_busy(b, after, f->C_GetSessionInfo(b->h, &si));
		}
	}
	return NULL;
}

START_TEST(finalize_while_threads_are_inside)
{
	struct busy_thread b[4] = { { .signs = true }, { .signs = true }, { .signs = false }, { .signs = false } };
	pthread_t t[4];
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	CK_SLOT_ID list[8];
	CK_ULONG n = 8;

	atomic_store(&finalized, false);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &b[i].h), CKR_OK);
		b[i].key = find_key(b[i].h);
		ck_assert_uint_ne(b[i].key, 0);
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, busy, &b[i]), 0);
	usleep(100 * 1000);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	atomic_store(&finalized, true);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_msg(b[i].bad == 0, "thread %d: %u wrong answers, the first 0x%lx", i, b[i].bad,
			      (unsigned long)b[i].first_bad);
	}
	/* And the module starts again. */
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	key = find_key(h);
	ck_assert_uint_ne(key, 0);
	ck_assert_int_eq(sign_once(h, key, CKM_ECDSA_SHA256), CKR_OK);
}
END_TEST

/* ---- forks while other threads hold SoftHSM's locks ---- */

#define FORKS 24
#define CHILD_SECONDS 20

/* Signs on its own session, or looks the key up, until done: SoftHSM's locks are taken all the time. */
static void *lock_holder(void *arg)
{
	bool signs = (uintptr_t)arg != 0;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	uintptr_t bad = 0;

	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK)
		return (void *)1;
	key = find_key(h);
	while (!done) {
		if (signs && sign_once(h, key, CKM_ECDSA) != CKR_OK)
			bad++;
		if (!signs && find_key(h) != key)
			bad++;
	}
	f->C_CloseSession(h);
	return (void *)bad;
}

/*
 * In a forked child the parent's other threads are gone, and what only
 * they could reach (OpenSSL's per-thread state, say) is unreachable there
 * by nature: the children are not leak-checked. The parent is.
 */
static bool in_forked_child;

__attribute__((visibility("default"))) int __lsan_is_turned_off(void);
__attribute__((visibility("default"))) int __lsan_is_turned_off(void)
{
	return in_forked_child;
}

/* What a forked worker does with the module; its exit status names the step that failed. */
static int child_uses_token(void)
{
	CK_SLOT_ID list[8];
	CK_ULONG n = 8;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;

	tu_child_deadline(CHILD_SECONDS + 10);
	/* Not initialised here until it says so, and nothing waits for the parent's threads. */
	if (f->C_Finalize(NULL) != CKR_CRYPTOKI_NOT_INITIALIZED)
		return 9;
	if (f->C_Initialize(NULL) != CKR_OK)
		return 10;
	if (f->C_GetSlotList(CK_TRUE, list, &n) != CKR_OK || n < 1)
		return 11;
	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK)
		return 12;
	if (f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6) != CKR_OK)
		return 13;
	key = find_key(h);
	if (key == 0)
		return 14;
	if (sign_once(h, key, CKM_ECDSA_SHA256) != CKR_OK)
		return 15;
	if (f->C_Finalize(NULL) != CKR_OK)
		return 16;
	return 0;
}

/*
 * Worker pools fork while other threads are inside the module. Each child
 * initialises the module, logs in, signs, finalises and exits (static
 * destructors included): none may hang on a lock a parent thread held.
 */
START_TEST(forked_children_use_the_token_while_threads_work)
{
	pthread_t t[2];
	int hung = 0, failed = 0, last_status = 0;
	void *result;

	for (uintptr_t i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, lock_holder, (void *)i), 0);
	usleep(20 * 1000);
	for (int i = 0; i < FORKS; i++) {
		pid_t pid;
		int status;

		fflush(NULL);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			in_forked_child = true;
			exit(child_uses_token());
		}
		status = tu_wait_child(pid, CHILD_SECONDS);
		if (status == -1)
			hung++;
		else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++, last_status = status;
		usleep(1000 * (useconds_t)(i % 7));
	}
	done = true;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(pthread_join(t[i], &result), 0);
		ck_assert_uint_eq((uintptr_t)result, 0);
	}
	ck_assert_msg(hung == 0 && failed == 0, "%d of %d children hung, %d failed (last wait status 0x%x)", hung,
		      FORKS, failed, last_status);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, threads_open_sign_and_close_sessions);
	tcase_add_test(tc, threads_log_in_and_out_by_closing_sessions);
	tcase_add_test(tc, threads_share_one_session);
	tcase_add_test(tc, finalize_while_threads_are_inside);
	tcase_add_test(tc, forked_children_use_the_token_while_threads_work);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
