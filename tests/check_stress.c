/*
 * Threads on the fallback token at once: sessions opened, signed with and
 * closed concurrently, a session closed while another thread signs with
 * it, and a thread reading slot and token information all along. Meant to
 * run under `make check SAN=address,undefined` as much as without.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
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
	CK_SESSION_HANDLE h;

	dir = tu_tempdir();
	h = sf_user_session(dir, "", "stress", SO_PIN, USER_PIN, &f, &slot);
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

int main(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("threads");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, threads_open_sign_and_close_sessions);
	tcase_add_test(tc, threads_log_in_and_out_by_closing_sessions);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
