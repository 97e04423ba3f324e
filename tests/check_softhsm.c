/*
 * The fallback token through signet, on a real SoftHSMv2: the PIN policy
 * table of DESIGN.md row by row, the permanent SO lock, keys that stay in,
 * composed mechanisms, and the Cryptoki rules that need a real slot.
 * SoftHSM is reached through a copy of itself that counts C_Login calls
 * (tests/shims), so the tests can tell exactly which tries got through.
 */
#include <check.h>
#include <glob.h>
#include <pthread.h>
#include <stdatomic.h>
#include <openssl/evp.h>
#include <openssl/ecdsa.h>
#include <openssl/x509.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/pin_store.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

#define SO_PIN "87654321"
#define ADMIN_PIN "1111"
#define USER_PIN "123456"

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static char conf[4096], login_log[4096];
static CK_SLOT_ID slot;

static const char *build_dir(void)
{
	const char *b = getenv("SIGNET_BUILD");

	return b && *b ? b : "build";
}

static void write_configs(const char *policy)
{
	char lib[4096];

	snprintf(lib, sizeof(lib), "%s/tests/libsofthsm_login_counter.so", build_dir());
	sf_write_signet_conf(conf, dir, lib, policy);
}

/* PIN tries SoftHSM judged, from the login counter's log. */
static CK_ULONG login_calls(void)
{
	return sf_login_calls(login_log);
}

static CK_SESSION_HANDLE open_rw(void)
{
	CK_SESSION_HANDLE h;
	CK_RV rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h);

	ck_assert_int_eq(rv, CKR_OK);
	return h;
}

static CK_RV login(CK_USER_TYPE who, const char *pin)
{
	CK_SESSION_HANDLE h = open_rw();
	CK_RV rv = f->C_Login(h, who, (CK_UTF8CHAR_PTR)pin, strlen(pin));

	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	return rv;
}

/* The i-th of distinct wrong PINs: the same wrong PIN twice in a row never reaches SoftHSM. */
static const char *wrong_pin(unsigned i)
{
	static const char *const pins[] = { "000000", "000001", "000002", "000003", "000004" };

	ck_assert_uint_lt(i, sizeof(pins) / sizeof(pins[0]));
	return pins[i];
}

static const char *wrong_so_pin(unsigned i)
{
	static const char *const pins[] = { "00000000", "00000001", "00000002", "00000003", "00000004" };

	ck_assert_uint_lt(i, sizeof(pins) / sizeof(pins[0]));
	return pins[i];
}

static CK_FLAGS token_flags(void)
{
	CK_TOKEN_INFO ti;

	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_OK);
	return ti.flags;
}

/* A token initialised through signet, its user PIN set by the SO (so it must be changed). */
static void init_token_with(const char *policy)
{
	CK_SESSION_HANDLE h;

	dir = tu_tempdir();
	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	snprintf(login_log, sizeof(login_log), "%s/logins", dir);
	sf_write_softhsm_conf(dir);
	write_configs(policy);
	setenv("SIGNET_TEST_LOGIN_LOG", login_log, 1);
	f = sf_initialize(conf);
	slot = sf_initialised_slot(f);
	h = sf_init_token(f, slot, "policy", SO_PIN, ADMIN_PIN);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	unlink(login_log);
}

static void setup(void)
{
	init_token_with("");
}

/* The user changes the administrator's PIN to their own. */
static void change_to_user_pin(void)
{
	CK_SESSION_HANDLE h = open_rw();

	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}

static void teardown(void)
{
	f->C_Finalize(NULL);
	free(dir);
}

static CK_OBJECT_HANDLE gen_ec_key(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub_out)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_BBOOL yes = CK_TRUE;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) }, { CKA_VERIFY, &yes, 1 },
			       { CKA_TOKEN, &yes, 1 } };
	CK_ATTRIBUTE priv[] = { { CKA_SIGN, &yes, 1 }, { CKA_TOKEN, &yes, 1 }, { CKA_PRIVATE, &yes, 1 } };
	CK_OBJECT_HANDLE pk, sk;

	ck_assert_int_eq(f->C_GenerateKeyPair(h, &mech, pub, 3, priv, 3, &pk, &sk), CKR_OK);
	if (pub_out)
		*pub_out = pk;
	return sk;
}

/* ---- PIN policy, row by row ---- */

START_TEST(initial_pin_must_be_changed)
{
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 }, ecdsa_sha256 = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_BYTE hash[32] = { 1 }, sig[128];
	CK_ULONG sig_len = sizeof(sig);

	ck_assert(token_flags() & CKF_USER_PIN_TO_BE_CHANGED);
	h = open_rw();
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4), CKR_OK);
	key = gen_ec_key(h, NULL);
	ck_assert_int_eq(f->C_SignInit(h, &ecdsa, key), CKR_PIN_EXPIRED);
	ck_assert_int_eq(f->C_SignInit(h, &ecdsa_sha256, key), CKR_PIN_EXPIRED);
	/* the user changes it: flag gone, key usable */
	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert(!(token_flags() & CKF_USER_PIN_TO_BE_CHANGED));
	ck_assert_int_eq(f->C_SignInit(h, &ecdsa, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), sig, &sig_len), CKR_OK);
	ck_assert_uint_eq(sig_len, 64);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/* The PIN changed in another process ends CKR_PIN_EXPIRED for a login made with the old one. */
START_TEST(pin_changed_elsewhere_unexpires_the_login)
{
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_BYTE hash[32] = { 1 }, sig[64];
	CK_ULONG len = sizeof(sig);
	CK_SESSION_HANDLE h = open_rw();
	CK_OBJECT_HANDLE key;
	int status;
	pid_t pid;

	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4), CKR_OK);
	key = gen_ec_key(h, NULL);
	ck_assert_int_eq(f->C_SignInit(h, &ecdsa, key), CKR_PIN_EXPIRED);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		CK_SESSION_HANDLE c;

		if (f->C_Initialize(NULL) != CKR_OK)
			_exit(10);
		slot = sf_initialised_slot(f);
		if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &c) != CKR_OK)
			_exit(11);
		_exit(f->C_SetPIN(c, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4, (CK_UTF8CHAR_PTR)USER_PIN, 6) == CKR_OK ? 0 : 12);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(f->C_SignInit(h, &ecdsa, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), sig, &len), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

START_TEST(pin_change_must_change_something)
{
	CK_SESSION_HANDLE h = open_rw();

	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4), CKR_PIN_INVALID);
	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4, (CK_UTF8CHAR_PTR)"123456789", 9),
			 CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4, (CK_UTF8CHAR_PTR)"12", 2), CKR_PIN_LEN_RANGE);
	ck_assert(token_flags() & CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

START_TEST(wrong_user_pins_count_down_and_lock)
{
	change_to_user_pin();
	unlink(login_log);
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), 0);
	ck_assert_int_eq(login(CKU_USER, wrong_pin(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED),
			 CKF_USER_PIN_COUNT_LOW);
	ck_assert_int_eq(login(CKU_USER, wrong_pin(1)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED),
			 CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(login(CKU_USER, wrong_pin(2)), CKR_PIN_INCORRECT);
	ck_assert(token_flags() & CKF_USER_PIN_LOCKED);
	ck_assert_uint_eq(login_calls(), 3);
	/* locked: even the right PIN is refused, and SoftHSM hears nothing */
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_USER, "000000"), CKR_PIN_LOCKED);
	ck_assert_uint_eq(login_calls(), 3);
}
END_TEST

START_TEST(right_pin_resets_the_counter)
{
	change_to_user_pin();
	ck_assert_int_eq(login(CKU_USER, wrong_pin(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, wrong_pin(1)), CKR_PIN_INCORRECT);
	ck_assert(token_flags() & CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), 0);
	/* three fresh tries again */
	ck_assert_int_eq(login(CKU_USER, wrong_pin(0)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, wrong_pin(1)), CKR_PIN_INCORRECT);
	ck_assert(!(token_flags() & CKF_USER_PIN_LOCKED));
}
END_TEST

START_TEST(so_unblocks_with_init_pin)
{
	CK_SESSION_HANDLE h;

	change_to_user_pin();
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(login(CKU_USER, wrong_pin(i)), CKR_PIN_INCORRECT);
	ck_assert(token_flags() & CKF_USER_PIN_LOCKED);
	h = open_rw();
	ck_assert_int_eq(f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), CKR_OK);
	ck_assert_int_eq(f->C_InitPIN(h, (CK_UTF8CHAR_PTR)"4321", 4), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED), CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
}
END_TEST

START_TEST(so_pin_locks_for_ever)
{
	CK_UTF8CHAR label[32];
	int status;
	pid_t pid;

	memset(label, ' ', sizeof(label));
	ck_assert_int_eq(login(CKU_SO, wrong_so_pin(0)), CKR_PIN_INCORRECT);
	ck_assert(token_flags() & CKF_SO_PIN_COUNT_LOW);
	for (unsigned i = 1; i < 4; i++)
		ck_assert_int_eq(login(CKU_SO, wrong_so_pin(i)), CKR_PIN_INCORRECT);
	ck_assert(token_flags() & CKF_SO_PIN_FINAL_TRY);
	ck_assert_int_eq(login(CKU_SO, wrong_so_pin(4)), CKR_PIN_INCORRECT);
	ck_assert(token_flags() & CKF_SO_PIN_LOCKED);
	ck_assert_uint_eq(login_calls(), 5);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(f->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, 8, label), CKR_PIN_LOCKED);
	/* survives C_Finalize */
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	slot = sf_initialised_slot(f);
	ck_assert(token_flags() & CKF_SO_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_PIN_LOCKED);
	ck_assert_int_eq(f->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, 8, label), CKR_PIN_LOCKED);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	/* and a new process */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int code = 0;

		if (f->C_Initialize(NULL) != CKR_OK)
			_exit(10);
		slot = sf_initialised_slot(f);
		if (!(token_flags() & CKF_SO_PIN_LOCKED))
			code = 1;
		else if (login(CKU_SO, SO_PIN) != CKR_PIN_LOCKED)
			code = 2;
		else if (f->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, 8, label) != CKR_PIN_LOCKED)
			code = 3;
		f->C_Finalize(NULL);
		_exit(code);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_uint_eq(login_calls(), 5);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
}
END_TEST

/* An SO logged in before another process killed the SO PIN can no longer set the user PIN. */
START_TEST(init_pin_refused_once_so_pin_is_dead)
{
	CK_SESSION_HANDLE h = open_rw();
	int status;
	pid_t pid;

	ck_assert_int_eq(f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), CKR_OK);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (f->C_Initialize(NULL) != CKR_OK)
			_exit(10);
		slot = sf_initialised_slot(f);
		for (unsigned i = 0; i < 5; i++)
			if (login(CKU_SO, wrong_so_pin(i)) != CKR_PIN_INCORRECT)
				_exit(1);
		_exit(token_flags() & CKF_SO_PIN_LOCKED ? 0 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(f->C_InitPIN(h, (CK_UTF8CHAR_PTR)"5555", 4), CKR_PIN_LOCKED);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	/* the user PIN is the one it was */
	ck_assert_int_eq(login(CKU_USER, "5555"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(login(CKU_USER, ADMIN_PIN), CKR_OK);
}
END_TEST

/* The counter file of the token (there is one initialised token). */
static void counter_file(char *out, size_t size)
{
	char pattern[4200];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/state/*.pins", dir);
	ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
	ck_assert_uint_eq(g.gl_pathc, 1);
	snprintf(out, size, "%s", g.gl_pathv[0]);
	globfree(&g);
}

/*
 * A login SoftHSM accepted but whose outcome could not be recorded fails;
 * it must not leave SoftHSM logged in, where a later wrong PIN would be
 * answered "already logged in" and taken for a right one.
 */
START_TEST(failed_login_leaves_softhsm_logged_out)
{
	char pins[4096];
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO si;

	change_to_user_pin();
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	counter_file(pins, sizeof(pins));
	h = open_rw();
	/* the login counter writes its line into the counter file: settling the try then fails */
	setenv("SIGNET_TEST_LOGIN_LOG", pins, 1);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_GENERAL_ERROR);
	setenv("SIGNET_TEST_LOGIN_LOG", login_log, 1);
	ck_assert_int_eq(unlink(pins), 0); /* a missing file reads as fresh counters */
	ck_assert_int_eq(f->C_GetSessionInfo(h, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_PUBLIC_SESSION);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)"000000", 6), CKR_PIN_INCORRECT);
	ck_assert_int_eq(f->C_GetSessionInfo(h, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_PUBLIC_SESSION);
	ck_assert(token_flags() & CKF_USER_PIN_COUNT_LOW);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

START_TEST(wrong_so_pin_at_init_token_counts)
{
	CK_UTF8CHAR label[32];

	memset(label, ' ', sizeof(label));
	ck_assert_int_eq(f->C_InitToken(slot, (CK_UTF8CHAR_PTR)"00000000", 8, label), CKR_PIN_INCORRECT);
	ck_assert(token_flags() & CKF_SO_PIN_COUNT_LOW);
	ck_assert_int_eq(f->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, 8, label), CKR_OK);
	ck_assert_int_eq(token_flags() & (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY), 0);
}
END_TEST

/*
 * Eight processes hammer wrong PINs at once: exactly three reach SoftHSM.
 * They all start SoftHSM first and only then begin, together: SoftHSM
 * rewrites its token file on every wrong PIN, and a SoftHSM starting at
 * that moment can miss the token, which is SoftHSM's affair, not the policy's.
 */
START_TEST(concurrent_processes_get_exactly_three_tries)
{
	int ready[2], go[2];
	pid_t pids[8];
	char byte = 0;
	int status;

	change_to_user_pin();
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	unlink(login_log);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	for (int i = 0; i < 8; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			CK_RV rv = CKR_OK;

			if (f->C_Initialize(NULL) != CKR_OK)
				_exit(10);
			slot = sf_initialised_slot(f);
			if (write(ready[1], &byte, 1) != 1 || read(go[0], &byte, 1) != 1)
				_exit(13);
			for (int k = 0; k < 50; k++) {
				char wrong[8];

				/* A different wrong PIN each time: the same one is never sent twice in a row. */
				snprintf(wrong, sizeof(wrong), "0%d%04d", i, k);
				rv = login(CKU_USER, wrong);
				if (rv == CKR_PIN_LOCKED)
					break;
				if (rv != CKR_PIN_INCORRECT && rv != CKR_GENERAL_ERROR) {
					fprintf(stderr, "child: C_Login gave 0x%lx\n", (unsigned long)rv);
					_exit(11);
				}
			}
			f->C_Finalize(NULL);
			_exit(rv == CKR_PIN_LOCKED ? 0 : 12);
		}
	}
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(read(ready[0], &byte, 1), 1);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(write(go[1], &byte, 1), 1);
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
	ck_assert_uint_eq(login_calls(), 3);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	slot = sf_initialised_slot(f);
	ck_assert(token_flags() & CKF_USER_PIN_LOCKED);
}
END_TEST

/* ---- keys stay in ---- */

static void keys_setup(void)
{
	init_token_with("");
	change_to_user_pin();
}

static CK_SESSION_HANDLE user_session(void)
{
	CK_SESSION_HANDLE h = open_rw();

	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	return h;
}

static CK_BBOOL bool_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL v = 2;
	CK_ATTRIBUTE a = { type, &v, sizeof(v) };

	ck_assert_int_eq(f->C_GetAttributeValue(h, o, &a, 1), CKR_OK);
	return v;
}

START_TEST(generated_keys_are_sensitive_and_unextractable)
{
	CK_SESSION_HANDLE h = user_session();
	CK_OBJECT_HANDLE sk = gen_ec_key(h, NULL);
	CK_BYTE value[256];
	CK_ATTRIBUTE a = { CKA_VALUE, value, sizeof(value) };
	CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
	CK_ATTRIBUTE weaken_s = { CKA_SENSITIVE, &no, 1 }, weaken_e = { CKA_EXTRACTABLE, &yes, 1 };

	ck_assert_int_eq(bool_attr(h, sk, CKA_SENSITIVE), CK_TRUE);
	ck_assert_int_eq(bool_attr(h, sk, CKA_EXTRACTABLE), CK_FALSE);
	ck_assert_int_eq(f->C_GetAttributeValue(h, sk, &a, 1), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_int_eq(f->C_SetAttributeValue(h, sk, &weaken_s, 1), CKR_ATTRIBUTE_READ_ONLY);
	ck_assert_int_eq(f->C_SetAttributeValue(h, sk, &weaken_e, 1), CKR_ATTRIBUTE_READ_ONLY);
	ck_assert_int_eq(bool_attr(h, sk, CKA_SENSITIVE), CK_TRUE);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

START_TEST(templates_asking_for_weak_keys_are_refused)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_SESSION_HANDLE h = user_session();
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM ec = { CKM_EC_KEY_PAIR_GEN, NULL, 0 }, aes = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 32;
	CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) } };
	CK_ATTRIBUTE extractable[] = { { CKA_EXTRACTABLE, &yes, 1 } };
	CK_ATTRIBUTE insensitive[] = { { CKA_SENSITIVE, &no, 1 } };
	CK_ATTRIBUTE aes_weak[] = { { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_EXTRACTABLE, &yes, 1 } };
	CK_ATTRIBUTE aes_ok[] = { { CKA_VALUE_LEN, &len, sizeof(len) } };
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes_type = CKK_AES;
	CK_BYTE raw[32] = { 7 };
	CK_ATTRIBUTE import[] = { { CKA_CLASS, &secret, sizeof(secret) }, { CKA_KEY_TYPE, &aes_type, sizeof(aes_type) },
				  { CKA_VALUE, raw, sizeof(raw) }, { CKA_SENSITIVE, &no, 1 } };
	CK_ATTRIBUTE import_ok[] = { { CKA_CLASS, &secret, sizeof(secret) }, { CKA_KEY_TYPE, &aes_type, sizeof(aes_type) },
				     { CKA_VALUE, raw, sizeof(raw) } };
	CK_OBJECT_HANDLE pk, sk, k;

	ck_assert_int_eq(f->C_GenerateKeyPair(h, &ec, pub, 1, extractable, 1, &pk, &sk), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_int_eq(f->C_GenerateKeyPair(h, &ec, pub, 1, insensitive, 1, &pk, &sk), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_int_eq(f->C_GenerateKey(h, &aes, aes_weak, 2, &k), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_int_eq(f->C_GenerateKey(h, &aes, aes_ok, 1, &k), CKR_OK);
	ck_assert_int_eq(bool_attr(h, k, CKA_SENSITIVE), CK_TRUE);
	ck_assert_int_eq(bool_attr(h, k, CKA_EXTRACTABLE), CK_FALSE);
	ck_assert_int_eq(f->C_CreateObject(h, import, 4, &k), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_int_eq(f->C_CreateObject(h, import_ok, 3, &k), CKR_OK);
	ck_assert_int_eq(bool_attr(h, k, CKA_SENSITIVE), CK_TRUE);
	ck_assert_int_eq(bool_attr(h, k, CKA_EXTRACTABLE), CK_FALSE);
	ck_assert_int_eq(f->C_CopyObject(h, k, extractable, 1, &pk), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

START_TEST(session_objects_die_with_their_session_token_objects_stay)
{
	CK_SESSION_HANDLE a = user_session(), b;
	CK_MECHANISM aes = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ULONG len = 16;
	CK_BBOOL yes = CK_TRUE;
	CK_ATTRIBUTE session_key[] = { { CKA_VALUE_LEN, &len, sizeof(len) } };
	CK_ATTRIBUTE token_key[] = { { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_TOKEN, &yes, 1 } };
	CK_OBJECT_HANDLE ks, kt;

	ck_assert_int_eq(f->C_GenerateKey(a, &aes, session_key, 1, &ks), CKR_OK);
	ck_assert_int_eq(f->C_GenerateKey(a, &aes, token_key, 2, &kt), CKR_OK);
	ck_assert_uint_ne(ks, kt);
	b = open_rw(); /* keeps the login after a closes */
	ck_assert_int_eq(bool_attr(b, ks, CKA_SENSITIVE), CK_TRUE);
	ck_assert_int_eq(f->C_CloseSession(a), CKR_OK);
	ck_assert_int_eq(bool_attr(b, kt, CKA_TOKEN), CK_TRUE);
	{
		CK_BBOOL v;
		CK_ATTRIBUTE attr = { CKA_TOKEN, &v, sizeof(v) };

		ck_assert_int_eq(f->C_GetAttributeValue(b, ks, &attr, 1), CKR_OBJECT_HANDLE_INVALID);
	}
	ck_assert_int_eq(f->C_CloseSession(b), CKR_OK);
}
END_TEST

/* ---- composed mechanisms ---- */

static bool in_list(const CK_MECHANISM_TYPE *l, CK_ULONG n, CK_MECHANISM_TYPE m)
{
	for (CK_ULONG i = 0; i < n; i++)
		if (l[i] == m)
			return true;
	return false;
}

START_TEST(ecdsa_sha256_is_listed_and_verifies_with_openssl)
{
	CK_SESSION_HANDLE h = user_session();
	CK_OBJECT_HANDLE pub, sk = gen_ec_key(h, &pub);
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_MECHANISM_TYPE list[256];
	CK_ULONG n = 0, sig_len;
	CK_MECHANISM_INFO info;
	CK_BYTE point[128], sig[128], data[] = "a document to sign";
	CK_ATTRIBUTE a = { CKA_EC_POINT, point, sizeof(point) };
	const unsigned char *p;
	unsigned char *der = NULL;
	ASN1_OCTET_STRING *os;
	ECDSA_SIG *esig;
	BIGNUM *r, *s;
	int der_len;

	ck_assert_int_eq(f->C_GetMechanismList(slot, NULL, &n), CKR_OK);
	ck_assert_uint_le(n, 256);
	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert(in_list(list, n, CKM_ECDSA_SHA256));
	ck_assert(in_list(list, n, CKM_ECDSA));
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_ECDSA_SHA256, &info), CKR_OK);
	ck_assert(info.flags & CKF_SIGN);
	ck_assert(info.flags & CKF_VERIFY);

	/* two-call C_Sign: the length query must not end the operation */
	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data) - 1, NULL, &sig_len), CKR_OK);
	ck_assert_uint_eq(sig_len, 64);
	sig_len = 10;
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data) - 1, sig, &sig_len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(sig_len, 64);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data) - 1, sig, &sig_len), CKR_OK);
	ck_assert_uint_eq(sig_len, 64);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data) - 1, sig, &sig_len), CKR_OPERATION_NOT_INITIALIZED);

	/* signet's own verify and OpenSSL's agree */
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, sizeof(data) - 1, sig, 64), CKR_OK);
	ck_assert_int_eq(f->C_GetAttributeValue(h, pub, &a, 1), CKR_OK);
	p = point;
	os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)a.ulValueLen);
	ck_assert_ptr_nonnull(os);
	{
		/* SubjectPublicKeyInfo of a P-256 key: fixed header, then the 65-byte point */
		static const unsigned char spki_head[] = {
			0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
			0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
		};
		unsigned char spki[sizeof(spki_head) + 65];
		EVP_PKEY *pkey;
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		ck_assert_int_eq(os->length, 65);
		memcpy(spki, spki_head, sizeof(spki_head));
		memcpy(spki + sizeof(spki_head), os->data, 65);
		p = spki;
		pkey = d2i_PUBKEY(NULL, &p, sizeof(spki));
		ck_assert_ptr_nonnull(pkey);
		esig = ECDSA_SIG_new();
		r = BN_bin2bn(sig, 32, NULL);
		s = BN_bin2bn(sig + 32, 32, NULL);
		ECDSA_SIG_set0(esig, r, s);
		der_len = i2d_ECDSA_SIG(esig, &der);
		ck_assert_int_gt(der_len, 0);
		ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
		ck_assert_int_eq(EVP_DigestVerify(ctx, der, (size_t)der_len, data, sizeof(data) - 1), 1);
		/* and a changed document fails */
		ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
		ck_assert_int_ne(EVP_DigestVerify(ctx, der, (size_t)der_len, data, sizeof(data) - 2), 1);
		EVP_MD_CTX_free(ctx);
		EVP_PKEY_free(pkey);
		ECDSA_SIG_free(esig);
		OPENSSL_free(der);
	}
	ASN1_OCTET_STRING_free(os);
	/* multi-part gives a signature that verifies too */
	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, data, 5), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, data + 5, sizeof(data) - 6), CKR_OK);
	sig_len = sizeof(sig);
	ck_assert_int_eq(f->C_SignFinal(h, sig, &sig_len), CKR_OK);
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, sizeof(data) - 1, sig, 64), CKR_OK);
	sig[3] ^= 1;
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, sizeof(data) - 1, sig, 64), CKR_SIGNATURE_INVALID);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

START_TEST(abandoned_composed_operation_leaves_nothing_behind)
{
	CK_SESSION_HANDLE h = user_session();
	CK_OBJECT_HANDLE sk = gen_ec_key(h, NULL);
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 }, raw = { CKM_ECDSA, NULL, 0 };
	CK_BYTE data[32] = { 0 }, sig[64];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_OK);
	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data), sig, NULL), CKR_ARGUMENTS_BAD);
	/* the argument error ended it; the token is free for the next one */
	ck_assert_int_eq(f->C_SignInit(h, &raw, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data), sig, &len), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/* C_SignInit/C_VerifyInit of a composed mechanism answer as the token's own mechanism would. */
START_TEST(composed_init_checks_the_key_like_the_token)
{
	CK_SESSION_HANDLE h = user_session();
	CK_OBJECT_HANDLE pub, sk = gen_ec_key(h, &pub);
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 }, raw = { CKM_ECDSA, NULL, 0 };
	CK_BYTE data[] = "data", sig[64];
	CK_ULONG len = sizeof(sig);

	/* a public key cannot sign, a private key cannot verify */
	ck_assert_int_eq(f->C_SignInit(h, &raw, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
	ck_assert_int_eq(f->C_SignInit(h, &m, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
	ck_assert_int_eq(f->C_VerifyInit(h, &m, sk), CKR_KEY_FUNCTION_NOT_PERMITTED);
	ck_assert_int_eq(f->C_Sign(h, data, 4, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* nothing was left behind */
	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, data, 4, sig, &len), CKR_OK);
	/* after logout the private key is no key at all */
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	ck_assert_int_eq(f->C_SignInit(h, &raw, sk), CKR_KEY_HANDLE_INVALID);
	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_KEY_HANDLE_INVALID);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/* pkcs11-tool's flow for a key that wants its PIN per use: C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Sign. */
START_TEST(context_specific_login_with_composed_mechanism)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_SESSION_HANDLE h = user_session();
	CK_BBOOL yes = CK_TRUE;
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 }, m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_ATTRIBUTE pub[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) }, { CKA_VERIFY, &yes, 1 } };
	CK_ATTRIBUTE priv[] = { { CKA_SIGN, &yes, 1 }, { CKA_ALWAYS_AUTHENTICATE, &yes, 1 } };
	CK_OBJECT_HANDLE pk, sk;
	CK_BYTE data[] = "data", sig[64];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(f->C_GenerateKeyPair(h, &gen, pub, 2, priv, 2, &pk, &sk), CKR_OK);
	ck_assert_int_eq(bool_attr(h, sk, CKA_ALWAYS_AUTHENTICATE), CK_TRUE);
	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_OK);
	ck_assert_int_eq(f->C_Login(h, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, data, 4, sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pk), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, 4, sig, len), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/* Attribute values SoftHSM would read from address 0 (it crashes on some) are refused first. */
START_TEST(template_values_without_storage_are_refused)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_SESSION_HANDLE h = user_session();
	CK_MECHANISM aes = { CKM_AES_KEY_GEN, NULL, 0 }, ec = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_MECHANISM rsa = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE no_len[] = { { CKA_VALUE_LEN, NULL, sizeof(CK_ULONG) } };
	CK_ATTRIBUTE no_params[] = { { CKA_EC_PARAMS, NULL, sizeof(p256) } };
	CK_ATTRIBUTE no_bits[] = { { CKA_MODULUS_BITS, NULL, sizeof(CK_ULONG) } };
	CK_ATTRIBUTE ec_pub[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) } };
	CK_ATTRIBUTE no_label[] = { { CKA_LABEL, NULL, 5 } };
	CK_ATTRIBUTE empty_label[] = { { CKA_LABEL, NULL, 0 } };
	CK_OBJECT_HANDLE k, pk, sk;

	ck_assert_int_eq(f->C_GenerateKey(h, &aes, no_len, 1, &k), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_int_eq(f->C_GenerateKeyPair(h, &ec, no_params, 1, NULL, 0, &pk, &sk), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_int_eq(f->C_GenerateKeyPair(h, &rsa, no_bits, 1, NULL, 0, &pk, &sk), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_int_eq(f->C_GenerateKeyPair(h, &ec, ec_pub, 1, no_label, 1, &pk, &sk), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_int_eq(f->C_FindObjectsInit(h, no_label, 1), CKR_ATTRIBUTE_VALUE_INVALID);
	sk = gen_ec_key(h, &pk);
	ck_assert_int_eq(f->C_SetAttributeValue(h, pk, no_label, 1), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_int_eq(f->C_CopyObject(h, pk, no_label, 1, &k), CKR_ATTRIBUTE_VALUE_INVALID);
	/* an empty value is a value */
	ck_assert_int_eq(f->C_SetAttributeValue(h, pk, empty_label, 1), CKR_OK);
	ck_assert_int_eq(f->C_FindObjectsInit(h, empty_label, 1), CKR_OK);
	ck_assert_int_eq(f->C_FindObjectsFinal(h), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/* An operation the core ends on an argument error is ended in SoftHSM too. */
START_TEST(argument_errors_end_native_operations)
{
	CK_SESSION_HANDLE h = user_session();
	CK_OBJECT_HANDLE pub, sk = gen_ec_key(h, &pub);
	CK_MECHANISM raw = { CKM_ECDSA, NULL, 0 }, sha = { CKM_SHA256, NULL, 0 };
	CK_BYTE data[32] = { 5 }, sig[64], digest[32];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(f->C_SignInit(h, &raw, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data), sig, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data), sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_SignInit(h, &raw, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, NULL, sizeof(data), sig, &len), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_SignInit(h, &raw, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data), sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);

	ck_assert_int_eq(f->C_VerifyInit(h, &raw, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, sizeof(data), NULL, 64), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_VerifyInit(h, &raw, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, sizeof(data), sig, 64), CKR_OK);

	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, data, sizeof(data)), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, NULL, 4), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_Digest(h, data, sizeof(data), digest, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	len = sizeof(digest);
	ck_assert_int_eq(f->C_Digest(h, data, sizeof(data), digest, &len), CKR_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/* Empty data may come as a NULL pointer with length 0: it is hashed (and signed) like any data. */
START_TEST(empty_data_as_null_pointer)
{
	static const CK_BYTE sha256_of_nothing[32] = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
		0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};
	CK_SESSION_HANDLE h = user_session();
	CK_OBJECT_HANDLE pub, sk = gen_ec_key(h, &pub);
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 }, m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_BYTE digest[32], sig[64];
	CK_ULONG len = sizeof(digest);

	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_Digest(h, NULL, 0, digest, &len), CKR_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_mem_eq(digest, sha256_of_nothing, 32);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, NULL, 0), CKR_OK);
	len = sizeof(digest);
	ck_assert_int_eq(f->C_DigestFinal(h, digest, &len), CKR_OK);
	ck_assert_mem_eq(digest, sha256_of_nothing, 32);
	len = sizeof(sig);
	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, NULL, 0, sig, &len), CKR_OK);
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, NULL, 0, sig, len), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/*
 * Lengths no buffer can have: SoftHSM would try to copy them and end the
 * whole process when the allocation fails. The host gets an error instead.
 * (Hashing is done on the host, reading the caller's buffer in place:
 * nothing is copied, so there is nothing to refuse.)
 */
START_TEST(impossible_lengths_do_not_end_the_process)
{
	const CK_ULONG huge = (CK_ULONG)1 << 40;
	CK_SESSION_HANDLE h = user_session();
	CK_OBJECT_HANDLE pub, sk = gen_ec_key(h, &pub);
	CK_MECHANISM raw = { CKM_ECDSA, NULL, 0 };
	CK_BYTE buf[16] = { 0 }, sig[64];
	CK_ULONG len = sizeof(sig);
	CK_ATTRIBUTE label[] = { { CKA_LABEL, buf, huge } };

	ck_assert_int_eq(f->C_GenerateRandom(h, buf, huge), CKR_HOST_MEMORY);
	ck_assert_int_eq(f->C_SeedRandom(h, buf, huge), CKR_HOST_MEMORY);
	ck_assert_int_eq(f->C_SetAttributeValue(h, pub, label, 1), CKR_HOST_MEMORY);
	ck_assert_int_eq(f->C_FindObjectsInit(h, label, 1), CKR_HOST_MEMORY);
	ck_assert_int_eq(f->C_SignInit(h, &raw, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, buf, huge, sig, &len), CKR_HOST_MEMORY);
	ck_assert_int_eq(f->C_VerifyInit(h, &raw, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, buf, sizeof(buf), sig, huge), CKR_HOST_MEMORY);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, buf, huge), CKR_HOST_MEMORY);
	/* no try was spent on it */
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY), 0);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/* ---- Cryptoki rules that need a real slot ---- */

START_TEST(session_rules)
{
	CK_SESSION_HANDLE ro, rw, h;
	CK_SESSION_INFO si;
	CK_SLOT_ID list[1];
	CK_ULONG n = 0;
	CK_OBJECT_HANDLE objs[4];
	CK_ATTRIBUTE none[1];
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };

	change_to_user_pin();
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	ck_assert_uint_ge(n, 1);
	n = 0;
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, list, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_ge(n, 1);
	ck_assert_int_eq(f->C_OpenSession(slot, 0, NULL, NULL, &h), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_OK);
	rw = open_rw();
	ck_assert_uint_ge(ro, 0x10);
	ck_assert_uint_ne(ro, rw);
	ck_assert_int_eq(f->C_GetSessionInfo(ro, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_GetSessionInfo(ro, &si), CKR_OK);
	ck_assert_uint_eq(si.slotID, slot);
	ck_assert_uint_eq(si.state, CKS_RO_PUBLIC_SESSION);
	ck_assert_int_eq(f->C_GetSessionInfo(rw, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_PUBLIC_SESSION);
	/* SO cannot log in while a read-only session exists */
	ck_assert_int_eq(f->C_Login(rw, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), CKR_SESSION_READ_ONLY_EXISTS);
	ck_assert_int_eq(f->C_Login(rw, 77, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_USER_TYPE_INVALID);
	ck_assert_int_eq(f->C_Login(rw, CKU_USER, NULL, 6), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Logout(rw), CKR_USER_NOT_LOGGED_IN);
	ck_assert_int_eq(f->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert_int_eq(f->C_Login(ro, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_USER_ALREADY_LOGGED_IN);
	ck_assert_int_eq(f->C_GetSessionInfo(ro, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RO_USER_FUNCTIONS);
	ck_assert_int_eq(f->C_SetPIN(ro, (CK_UTF8CHAR_PTR)USER_PIN, 6, (CK_UTF8CHAR_PTR)"654321", 6),
			 CKR_SESSION_READ_ONLY);
	/* finds */
	ck_assert_int_eq(f->C_FindObjects(rw, objs, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_FindObjectsInit(rw, NULL, 1), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_FindObjectsInit(rw, none, 0), CKR_OK);
	ck_assert_int_eq(f->C_FindObjectsInit(rw, none, 0), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_FindObjects(rw, NULL, 4, &n), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_FindObjects(rw, objs, 4, &n), CKR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(f->C_FindObjectsFinal(rw), CKR_OK);
	ck_assert_int_eq(f->C_FindObjectsFinal(rw), CKR_OPERATION_NOT_INITIALIZED);
	/* object handles */
	ck_assert_int_eq(f->C_SignInit(rw, &ecdsa, 0x4242), CKR_KEY_HANDLE_INVALID);
	ck_assert_int_eq(f->C_SignInit(rw, NULL, 0x4242), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DestroyObject(rw, 0x4242), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(f->C_Sign(rw, (CK_BYTE_PTR) "x", 1, NULL, &n), CKR_OPERATION_NOT_INITIALIZED);
	/* closing */
	ck_assert_int_eq(f->C_CloseSession(ro), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(ro), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f->C_CloseAllSessions(slot), CKR_OK);
	ck_assert_int_eq(f->C_GetSessionInfo(rw, &si), CKR_SESSION_HANDLE_INVALID);
	/* the last session closed logged the application out */
	rw = open_rw();
	ck_assert_int_eq(f->C_GetSessionInfo(rw, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_PUBLIC_SESSION);
	ck_assert_int_eq(f->C_Login(rw, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), CKR_OK);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro), CKR_SESSION_READ_WRITE_SO_EXISTS);
	ck_assert_int_eq(f->C_GetSessionInfo(rw, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_SO_FUNCTIONS);
	ck_assert_int_eq(f->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, 8, (CK_UTF8CHAR_PTR) "x"), CKR_SESSION_EXISTS);
	ck_assert_int_eq(f->C_CloseSession(rw), CKR_OK);
}
END_TEST

START_TEST(buffer_rules_for_lists_and_signatures)
{
	CK_SESSION_HANDLE h = user_session();
	CK_OBJECT_HANDLE sk = gen_ec_key(h, NULL);
	CK_MECHANISM raw = { CKM_ECDSA, NULL, 0 };
	CK_MECHANISM_TYPE one[1];
	CK_ULONG n = 1, len;
	CK_BYTE hash[32] = { 3 }, sig[64];
	CK_MECHANISM_INFO mi;

	ck_assert_int_eq(f->C_GetMechanismList(slot, one, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_gt(n, 1);
	ck_assert_int_eq(f->C_GetMechanismList(slot, one, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_ECDSA, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, 0x7fffff00, &mi), CKR_MECHANISM_INVALID);
	ck_assert_int_eq(f->C_SignInit(h, &raw, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);
	len = 8;
	ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), sig, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, 64);
	ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), sig, &len), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}
END_TEST

/*
 * Application mutexes that can hold one thread just after it released a
 * lock, to open the window between a module step and the next one.
 */
static pthread_t paused_thread;
static atomic_bool pause_armed, paused;

static CK_RV app_create(CK_VOID_PTR_PTR m)
{
	pthread_mutex_t *p = malloc(sizeof(*p));

	ck_assert_ptr_nonnull(p);
	pthread_mutex_init(p, NULL);
	*m = p;
	return CKR_OK;
}

static CK_RV app_destroy(CK_VOID_PTR m)
{
	pthread_mutex_destroy(m);
	free(m);
	return CKR_OK;
}

static CK_RV app_lock(CK_VOID_PTR m)
{
	return pthread_mutex_lock(m) == 0 ? CKR_OK : CKR_MUTEX_BAD;
}

static CK_RV app_unlock(CK_VOID_PTR m)
{
	CK_RV rv = pthread_mutex_unlock(m) == 0 ? CKR_OK : CKR_MUTEX_NOT_LOCKED;

	if (atomic_load(&pause_armed) && pthread_equal(pthread_self(), paused_thread)) {
		atomic_store(&pause_armed, false);
		atomic_store(&paused, true);
		usleep(300 * 1000);
		atomic_store(&paused, false);
	}
	return rv;
}

static void *close_last_session(void *arg)
{
	CK_SESSION_HANDLE h = *(CK_SESSION_HANDLE *)arg;

	paused_thread = pthread_self();
	atomic_store(&pause_armed, true);
	/* its first unlock is the one after the module decided to log the token out */
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	return NULL;
}

/*
 * A thread closes the last session (which logs the application out) while
 * another opens a session and logs in: once both are done, the second
 * thread's session is logged in for real and can sign.
 */
START_TEST(login_racing_the_last_close_stays_logged_in)
{
	CK_C_INITIALIZE_ARGS args = { app_create, app_destroy, app_lock, app_unlock, 0, NULL };
	CK_SESSION_HANDLE first, second;
	CK_OBJECT_HANDLE sk;
	CK_MECHANISM raw = { CKM_ECDSA, NULL, 0 };
	CK_BYTE hash[32] = { 1 }, sig[64];
	CK_ULONG len = sizeof(sig);
	CK_SESSION_INFO si;
	CK_RV rv;
	pthread_t t;

	change_to_user_pin();
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_Initialize(&args), CKR_OK);
	slot = sf_initialised_slot(f);
	first = user_session();
	sk = gen_ec_key(first, NULL);
	ck_assert_int_eq(pthread_create(&t, NULL, close_last_session, &first), 0);
	while (!atomic_load(&paused))
		usleep(1000);
	second = open_rw();
	rv = f->C_Login(second, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6);
	ck_assert(rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(f->C_GetSessionInfo(second, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_USER_FUNCTIONS);
	ck_assert_int_eq(f->C_SignInit(second, &raw, sk), CKR_OK);
	ck_assert_int_eq(f->C_Sign(second, hash, sizeof(hash), sig, &len), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(second), CKR_OK);
}
END_TEST

/* Handles kept across C_Finalize/C_Initialize name nothing afterwards. */
START_TEST(handles_are_not_reused_after_finalize)
{
	CK_SESSION_HANDLE old_session, h;
	CK_OBJECT_HANDLE old_pub, data;
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_TOKEN, &no, 1 }, { CKA_PRIVATE, &no, 1 } };
	CK_BYTE buf[64];
	CK_ATTRIBUTE a = { CKA_CLASS, buf, sizeof(buf) };
	CK_SESSION_INFO si;

	change_to_user_pin();
	old_session = user_session();
	gen_ec_key(old_session, &old_pub);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	slot = sf_initialised_slot(f);
	/* as many new sessions as it takes to reach the old number */
	for (int i = 0; i < 64; i++) {
		h = open_rw();
		ck_assert_uint_ne(h, old_session);
		ck_assert_int_eq(f->C_GetSessionInfo(old_session, &si), CKR_SESSION_HANDLE_INVALID);
		if (h > old_session)
			break;
	}
	ck_assert_int_eq(f->C_CreateObject(h, tmpl, 3, &data), CKR_OK);
	ck_assert_uint_ne(data, old_pub);
	ck_assert_int_eq(f->C_GetAttributeValue(h, old_pub, &a, 1), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(f->C_CloseAllSessions(slot), CKR_OK);
}
END_TEST

START_TEST(pins_never_reach_the_log)
{
	char logpath[4096], policy[4200];
	char *log;

	f->C_Finalize(NULL);
	snprintf(logpath, sizeof(logpath), "%s/signet.log", dir);
	snprintf(policy, sizeof(policy), "[module]\nlog_level = apdu\nlog_file = %s\n", logpath);
	write_configs(policy);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	slot = sf_initialised_slot(f);
	ck_assert_int_eq(login(CKU_USER, "97531864"), CKR_PIN_INCORRECT);
	change_to_user_pin();
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	log = tu_read_file(logpath);
	ck_assert_ptr_nonnull(strstr(log, "C_Login(")); /* it did trace the calls */
	ck_assert_ptr_null(strstr(log, "97531864"));
	ck_assert_ptr_null(strstr(log, USER_PIN));
	ck_assert_ptr_null(strstr(log, SO_PIN));
	ck_assert_ptr_null(strstr(log, ADMIN_PIN));
	free(log);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
}
END_TEST

START_TEST(missing_softhsm_library_is_not_fatal)
{
	char errpath[4096], text[8400];
	char *err;
	CK_ULONG n = 9;
	int saved;

	f->C_Finalize(NULL);
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	snprintf(text, sizeof(text), "[card]\nenable = no\n[softhsm]\nlibrary = %s/no-such-lib.so\n", dir);
	tu_write_file(conf, "%s", text);
	saved = tu_capture_stderr(errpath);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	tu_restore_stderr(saved);
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 0);
	err = tu_read_file(errpath);
	ck_assert_msg(strstr(err, "cannot load SoftHSM library") != NULL, "log: %s", err);
	ck_assert_ptr_nonnull(strstr(err, "no-such-lib.so"));
	free(err);
}
END_TEST

START_TEST(forked_child_starts_afresh_with_softhsm)
{
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO si;
	int status;
	pid_t pid;

	change_to_user_pin();
	h = open_rw();
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		CK_SESSION_HANDLE c;

		if (f->C_GetSessionInfo(h, &si) != CKR_CRYPTOKI_NOT_INITIALIZED)
			_exit(1);
		if (f->C_Initialize(NULL) != CKR_OK)
			_exit(2);
		slot = sf_initialised_slot(f);
		if (f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &c) != CKR_OK)
			_exit(3);
		if (f->C_GetSessionInfo(c, &si) != CKR_OK || si.state != CKS_RO_PUBLIC_SESSION)
			_exit(4); /* the parent's login does not carry over */
		if (f->C_Login(c, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6) != CKR_OK)
			_exit(5);
		_exit(f->C_Finalize(NULL) == CKR_OK ? 0 : 6);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	ck_assert_int_eq(f->C_GetSessionInfo(h, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_USER_FUNCTIONS);
}
END_TEST

/*
 * A host whose exit handler (registered before the module loaded SoftHSM)
 * closes sessions and finalises, as NSS does from poppler's exit: by then
 * SoftHSM's static destructors have run. Runs in a fresh process (this
 * program again), so that the order of exit-time work is the real one.
 */
#define EXIT_CHILD_ENV "SIGNET_TEST_EXIT_HANDLER_CHILD"
#define EXIT_HANDLER_OK 42

static CK_SESSION_HANDLE exit_session, exit_session2;
static CK_OBJECT_HANDLE exit_object;

static void host_exit_handler(void)
{
	CK_TOKEN_INFO ti;
	CK_SLOT_INFO si;
	CK_ULONG n = 0;
	/* what a library frees on its way out: its session objects, a last look at the token */
	CK_RV destroyed = f->C_DestroyObject(exit_session, exit_object);
	CK_RV token = f->C_GetTokenInfo(slot, &ti);
	CK_RV slot_info = f->C_GetSlotInfo(slot, &si);
	CK_RV list = f->C_GetSlotList(CK_TRUE, NULL, &n);
	CK_RV logged_out = f->C_Logout(exit_session);
	CK_RV closed_one = f->C_CloseSession(exit_session2);
	CK_RV closed = f->C_CloseAllSessions(slot);
	CK_RV finalized = f->C_Finalize(NULL);

	if (logged_out != CKR_OK || closed_one != CKR_OK)
		_exit(44);
	if (destroyed != CKR_DEVICE_REMOVED || token != CKR_DEVICE_REMOVED || slot_info != CKR_DEVICE_REMOVED ||
	    list != CKR_OK || n != 0)
		_exit(45);
	_exit(closed == CKR_OK && finalized == CKR_OK ? EXIT_HANDLER_OK : 43);
}

static int exit_handler_child(void)
{
	CK_SLOT_ID list[8];
	CK_ULONG n = 8;
	CK_TOKEN_INFO ti;

	if (atexit(host_exit_handler) != 0 || C_GetFunctionList(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK)
		return 10;
	if (f->C_GetSlotList(CK_TRUE, list, &n) != CKR_OK)
		return 11;
	for (CK_ULONG i = 0; i < n; i++)
		if (f->C_GetTokenInfo(list[i], &ti) == CKR_OK && (ti.flags & CKF_TOKEN_INITIALIZED))
			slot = list[i];
	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &exit_session) != CKR_OK ||
	    f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &exit_session2) != CKR_OK)
		return 11;
	if (f->C_Login(exit_session, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6) != CKR_OK)
		return 12;
	{
		CK_OBJECT_CLASS cls = CKO_DATA;
		CK_BBOOL no = CK_FALSE;
		CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_TOKEN, &no, 1 } };

		if (f->C_CreateObject(exit_session, t, 2, &exit_object) != CKR_OK)
			return 13;
	}
	return 0; /* exit: our hook, SoftHSM's destructors, then the host's handler */
}

START_TEST(exit_handler_after_softhsm_destructors)
{
	char *argv[] = { "check_softhsm", NULL };
	int status;
	pid_t pid;

	change_to_user_pin();
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv(EXIT_CHILD_ENV, "1", 1);
		execv("/proc/self/exe", argv);
		_exit(99);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	ck_assert_int_eq(WEXITSTATUS(status), EXIT_HANDLER_OK);
}
END_TEST

/* ---- the counter store behind C_Login: empty PINs, locks, killed logins, unusable files ---- */

START_TEST(empty_pin_spends_no_try)
{
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE h;

	change_to_user_pin();
	unlink(login_log);
	memset(label, ' ', sizeof(label));
	h = open_rw();
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR) "", 0), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, NULL, 0), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_Login(h, CKU_SO, NULL, 0), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR) "", 0, (CK_UTF8CHAR_PTR) "5678", 4), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_SetPIN(h, NULL, 0, (CK_UTF8CHAR_PTR) "5678", 4), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)USER_PIN, 6, NULL, 0), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	ck_assert_int_eq(f->C_InitToken(slot, NULL, 0, label), CKR_PIN_LEN_RANGE);
	/* No counter moved, and SoftHSM heard nothing. */
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_SO_PIN_COUNT_LOW), 0);
	ck_assert_uint_eq(login_calls(), 0);
	h = open_rw();
	ck_assert_int_eq(f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), CKR_OK);
	ck_assert_int_eq(f->C_InitPIN(h, NULL, 0), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	/* The user PIN is still the user's. */
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_SO_PIN_COUNT_LOW), 0);
}
END_TEST

/* The module again, on the same token, under another [policy]. */
static void reinitialize_with(const char *policy)
{
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	write_configs(policy);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	slot = sf_initialised_slot(f);
}

START_TEST(locked_user_pin_outlasts_a_raised_limit)
{
	CK_SESSION_HANDLE h;

	change_to_user_pin();
	for (unsigned i = 0; i < 3; i++)
		ck_assert_int_eq(login(CKU_USER, wrong_pin(i)), CKR_PIN_INCORRECT);
	reinitialize_with("[policy]\nuser_pin_retries = 5\n");
	ck_assert(token_flags() & CKF_USER_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_uint_eq(login_calls(), 3);
	/* The SO unlocks it. */
	h = open_rw();
	ck_assert_int_eq(f->C_Login(h, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), CKR_OK);
	ck_assert_int_eq(f->C_InitPIN(h, (CK_UTF8CHAR_PTR) "4321", 4), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	ck_assert_int_eq(login(CKU_USER, "4321"), CKR_OK);
}
END_TEST

/* The file's stem: its name without ".pins". */
static void counter_stem(char *out, size_t size)
{
	char pins[4096];
	const char *base;

	counter_file(pins, sizeof(pins));
	base = strrchr(pins, '/') + 1;
	ck_assert_int_lt(snprintf(out, size, "%.*s", (int)(strlen(base) - strlen(".pins")), base), (int)size);
}

/*
 * An older signet judged the fifth wrong SO PIN and died before it wrote
 * the lock: a configuration that allows more tries must not revive it.
 */
START_TEST(so_limit_reached_under_an_older_version_stays_locked)
{
	char pins[4096], stem[256];

	counter_file(pins, sizeof(pins));
	counter_stem(stem, sizeof(stem));
	tu_write_file(pins, "version=1\nserial=%s\nuser_failures=0\nso_failures=5\nso_limit=5\n"
			    "user_to_be_changed=1\nso_locked=0\n", stem);
	reinitialize_with("[policy]\nso_pin_retries = 10\n");
	ck_assert(token_flags() & CKF_SO_PIN_LOCKED);
	ck_assert_int_eq(login(CKU_SO, SO_PIN), CKR_PIN_LOCKED);
	ck_assert_uint_eq(login_calls(), 0);
}
END_TEST



/*
 * A child that initialises the module, opens a session, says so on
 * ready_fd and logs in with pin over and over (logging out after each
 * success) until it is killed. Never returns.
 */
static void login_until_killed(int ready_fd, const char *pin)
{
	CK_SESSION_HANDLE h;
	char c = 'r';

	tu_child_deadline(20);
	if (f->C_Initialize(NULL) != CKR_OK)
		_exit(10);
	slot = sf_initialised_slot(f);
	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h) != CKR_OK)
		_exit(11);
	if (write(ready_fd, &c, 1) != 1)
		_exit(12);
	for (;;) {
		CK_RV rv = f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));

		if (rv == CKR_OK)
			rv = f->C_Logout(h);
		if (rv != CKR_OK && rv != CKR_PIN_INCORRECT)
			_exit(13);
	}
}

#define KILLED_LOGINS 30

/* The token file SoftHSM keeps for the one token of the test. */
static void token_file_path(char *out, size_t size)
{
	char pattern[4200];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/tokens/*/token.object", dir);
	ck_assert_int_eq(glob(pattern, 0, NULL, &g), 0);
	ck_assert_uint_eq(g.gl_pathc, 1);
	snprintf(out, size, "%s", g.gl_pathv[0]);
	globfree(&g);
}

/* What a process killed while SoftHSM rewrote the token file leaves: its first keep bytes. */
static void cut_token_file(long keep)
{
	char path[4200];

	token_file_path(path, sizeof(path));
	ck_assert_int_eq(truncate(path, keep), 0);
}

static long token_file_size(void)
{
	char path[4200];
	struct stat st;

	token_file_path(path, sizeof(path));
	ck_assert_int_eq(stat(path, &st), 0);
	return (long)st.st_size;
}

/*
 * Hosts killed in the middle of a login with the right PIN (hung in
 * another library and killed by their user): whatever the moment of the
 * kill, nothing is spent.
 */
START_TEST(killed_right_pin_logins_cost_nothing)
{
	uint32_t rnd = 0x2545f491;
	int in_flight = 0, status;
	char pins[4096];

	change_to_user_pin();
	counter_file(pins, sizeof(pins));
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	for (int i = 0; i < KILLED_LOGINS; i++) {
		int ready[2];
		char c = 0, *text;
		pid_t pid;

		ck_assert_int_eq(pipe(ready), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(ready[0]);
			login_until_killed(ready[1], USER_PIN);
		}
		close(ready[1]);
		if (read(ready[0], &c, 1) != 1) {
			ck_assert_int_eq(waitpid(pid, &status, 0), pid);
			ck_abort_msg("child %d did not start: status %#x", i, status);
		}
		close(ready[0]);
		usleep((5 + tu_next_random(&rnd) % 40) * 1000);
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child ended with %#x", status);
		text = tu_read_file(pins);
		in_flight += strstr(text, "pending=") != NULL;
		free(text);
		/* a kill that cut the token file short is mended by the next process's C_Initialize */
	}
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	slot = sf_initialised_slot(f);
	ck_assert_int_eq(token_flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), 0);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_OK);
	/* The kills did land inside logins, between reserving a try and settling it. */
	ck_assert_int_gt(in_flight, 0);
}
END_TEST

/* Tries judged or reserved on this token, as the store counts them now. */
static struct pin_state store_state(const CK_UTF8CHAR serial[16])
{
	char state_dir[4200];
	struct pin_store *s = NULL;
	struct pin_state st;

	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	ck_assert_int_eq(pin_store_open(state_dir, serial, &s), CKR_OK);
	ck_assert_int_eq(pin_store_read(s, &st), CKR_OK);
	pin_store_close(s);
	return st;
}

/* Waits (up to 10 s) until SoftHSM has judged calls PINs in all. */
static void wait_for_login_calls(CK_ULONG calls)
{
	for (int waited = 0; login_calls() < calls; waited++) {
		ck_assert_msg(waited < 1000, "SoftHSM judged %lu PINs, not %lu", login_calls(), calls);
		usleep(10 * 1000);
	}
}

/* A child that logs in once with a wrong PIN; hangs after SoftHSM judged it when hang is set. */
static pid_t wrong_login_in_child(bool hang)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		tu_child_deadline(20);
		if (hang)
			setenv("SIGNET_TEST_LOGIN_HANG", "1", 1);
		if (f->C_Initialize(NULL) != CKR_OK)
			_exit(10);
		slot = sf_initialised_slot(f);
		_exit(login(CKU_USER, "000000") == CKR_PIN_INCORRECT ? 0 : 11);
	}
	return pid;
}

/*
 * Wrong PINs, alternately killed after SoftHSM judged them (before the
 * answer reached the caller) and answered: the killed ones are given back,
 * the answered ones count, and the third answered one locks the PIN.
 */
START_TEST(killed_wrong_pin_logins_are_given_back)
{
	CK_UTF8CHAR serial[16];
	CK_TOKEN_INFO ti;
	struct pin_state st;
	int status;
	pid_t pid;

	change_to_user_pin();
	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_OK);
	memcpy(serial, ti.serialNumber, sizeof(serial));
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	unlink(login_log);
	for (unsigned settled = 0; settled < 3; settled++) {
		pid = wrong_login_in_child(true);
		wait_for_login_calls(2 * settled + 1);
		ck_assert_int_eq(kill(pid, SIGKILL), 0);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		st = store_state(serial);
		ck_assert_uint_eq(st.user_failures, settled);
		ck_assert(!st.user_locked);
		pid = wrong_login_in_child(false);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child ended with %#x", status);
		st = store_state(serial);
		ck_assert_uint_eq(st.user_failures, settled + 1);
		ck_assert(st.user_locked == (settled + 1 == 3));
	}
	/* Locked after exactly three answered: nothing more reaches SoftHSM, killed or not. */
	ck_assert_uint_eq(login_calls(), 6);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	slot = sf_initialised_slot(f);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	ck_assert_uint_eq(login_calls(), 6);
}
END_TEST

/* C_Login with stderr captured: asserts the answer and that one line naming the counter file holds reason. */
static void assert_login_logs(const char *reason)
{
	char errpath[4200], pins[4096];
	char *err;
	int saved;

	counter_file(pins, sizeof(pins));
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	saved = tu_capture_stderr(errpath);
	ck_assert_int_eq(login(CKU_USER, USER_PIN), CKR_GENERAL_ERROR);
	tu_restore_stderr(saved);
	err = tu_read_file(errpath);
	ck_assert_msg(strchr(err, '\n') != NULL && strchr(err, '\n')[1] == '\0', "not one line: %s", err);
	ck_assert_msg(strstr(err, pins) != NULL, "the line does not name %s: %s", pins, err);
	ck_assert_msg(strstr(err, reason) != NULL, "the line does not say \"%s\": %s", reason, err);
	free(err);
	ck_assert_uint_eq(login_calls(), 0);
}

START_TEST(corrupt_counter_file_is_logged)
{
	char pins[4096];

	change_to_user_pin();
	counter_file(pins, sizeof(pins));
	tu_write_file(pins, "version=2\nserial=x\n");
	assert_login_logs(": corrupt");
}
END_TEST

START_TEST(directory_in_place_of_the_counter_file_is_logged)
{
	char pins[4096];

	change_to_user_pin();
	counter_file(pins, sizeof(pins));
	ck_assert_int_eq(unlink(pins), 0);
	ck_assert_int_eq(mkdir(pins, 0700), 0);
	assert_login_logs(": not a regular file");
}
END_TEST

/*
 * Makes path read-only for this process: a read-only bind mount in a
 * private mount namespace for root (whom permissions do not stop), the
 * permissions for anyone else.
 */
static void make_read_only(const char *path)
{
	if (geteuid() != 0) {
		ck_assert_int_eq(chmod(path, 0500), 0);
		return;
	}
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_int_eq(mount(path, path, NULL, MS_BIND, NULL), 0);
	ck_assert_int_eq(mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
}

START_TEST(read_only_state_directory_is_logged)
{
	char state[4200];

	change_to_user_pin();
	snprintf(state, sizeof(state), "%s/state", dir);
	make_read_only(state);
	reinitialize_with(""); /* the counters' directory as it is now, not as it was opened */
	assert_login_logs(geteuid() == 0 ? "Read-only file system" : "Permission denied");
}
END_TEST

/* C_Initialize with stderr captured into dir/stderr; returns what was logged. */
static char *initialize_logged(void)
{
	char errpath[4200];
	int saved;

	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	saved = tu_capture_stderr(errpath);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	tu_restore_stderr(saved);
	return tu_read_file(errpath);
}

/*
 * A process killed while SoftHSM rewrote the token file (cut to nothing,
 * or to a part of it): the next C_Initialize puts back the copy signet
 * kept, with a log line, and the token opens with the PIN as it was last
 * changed, its key still there and signing.
 */
START_TEST(token_file_cut_short_is_put_back)
{
	static const long cuts[] = { 0, 8, 100, -1 };
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE private_key = { CKA_CLASS, &cls, sizeof(cls) };
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 };
	CK_BYTE hash[32] = { 7 }, sig[128];
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	CK_ULONG sig_len, n;
	long whole;
	char *log;

	change_to_user_pin();
	h = open_rw();
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), CKR_OK);
	gen_ec_key(h, NULL);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	write_configs("log_level = warning\n");
	whole = token_file_size();
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		cut_token_file(cuts[i] >= 0 ? cuts[i] : whole - 1);
		log = initialize_logged();
		ck_assert_msg(strstr(log, "was cut short") != NULL && strstr(log, "put back") != NULL, "log: %s", log);
		free(log);
		ck_assert_int_eq(token_file_size(), whole);
		slot = sf_initialised_slot(f);
		h = open_rw();
		ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)ADMIN_PIN, strlen(ADMIN_PIN)),
				 CKR_PIN_INCORRECT);
		ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), CKR_OK);
		ck_assert_int_eq(f->C_FindObjectsInit(h, &private_key, 1), CKR_OK);
		ck_assert_int_eq(f->C_FindObjects(h, &key, 1, &n), CKR_OK);
		ck_assert_int_eq(f->C_FindObjectsFinal(h), CKR_OK);
		ck_assert_uint_eq(n, 1);
		sig_len = sizeof(sig);
		ck_assert_int_eq(f->C_SignInit(h, &ecdsa, key), CKR_OK);
		ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), sig, &sig_len), CKR_OK);
		ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	}
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
}
END_TEST

/* Without a copy (signet's state directory lost too), the cut file is named in an error line, not guessed at. */
START_TEST(token_file_cut_short_without_copy_is_reported)
{
	char copies[4200], cmd[4300];
	char *log;

	change_to_user_pin();
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	write_configs("log_level = warning\n");
	snprintf(copies, sizeof(copies), "%s/state/softhsm-copies", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", copies);
	ck_assert_int_eq(system(cmd), 0);
	cut_token_file(0);
	log = initialize_logged();
	ck_assert_msg(strstr(log, "signet has no copy of it") != NULL, "log: %s", log);
	free(log);
	ck_assert_int_eq(token_file_size(), 0);
}
END_TEST

/* How many copies of token files signet keeps. */
static size_t token_copies(void)
{
	char pattern[4200];
	glob_t g;
	size_t n;

	snprintf(pattern, sizeof(pattern), "%s/state/softhsm-copies/*/*.object", dir);
	if (glob(pattern, 0, NULL, &g) != 0)
		return 0;
	n = g.gl_pathc;
	globfree(&g);
	return n;
}

/* A token deleted from SoftHSM's directory takes signet's copy of its file (and PIN records) with it. */
START_TEST(copy_of_a_deleted_token_is_removed)
{
	char path[4200], cmd[4300];

	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_uint_eq(token_copies(), 1);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	token_file_path(path, sizeof(path));
	*strrchr(path, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_uint_eq(token_copies(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("softhsm");
	TCase *policy = tcase_create("policy");

	if (getenv(EXIT_CHILD_ENV) != NULL)
		return exit_handler_child();
	tcase_set_timeout(policy, 120);
	tcase_add_checked_fixture(policy, setup, teardown);
	tcase_add_test(policy, initial_pin_must_be_changed);
	tcase_add_test(policy, pin_change_must_change_something);
	tcase_add_test(policy, pin_changed_elsewhere_unexpires_the_login);
	tcase_add_test(policy, wrong_user_pins_count_down_and_lock);
	tcase_add_test(policy, right_pin_resets_the_counter);
	tcase_add_test(policy, so_unblocks_with_init_pin);
	tcase_add_test(policy, so_pin_locks_for_ever);
	tcase_add_test(policy, wrong_so_pin_at_init_token_counts);
	tcase_add_test(policy, init_pin_refused_once_so_pin_is_dead);
	tcase_add_test(policy, failed_login_leaves_softhsm_logged_out);
	tcase_add_test(policy, concurrent_processes_get_exactly_three_tries);
	suite_add_tcase(s, policy);

	TCase *keys = tcase_create("keys");
	tcase_set_timeout(keys, 120);
	tcase_add_checked_fixture(keys, keys_setup, teardown);
	tcase_add_test(keys, generated_keys_are_sensitive_and_unextractable);
	tcase_add_test(keys, templates_asking_for_weak_keys_are_refused);
	tcase_add_test(keys, session_objects_die_with_their_session_token_objects_stay);
	tcase_add_test(keys, ecdsa_sha256_is_listed_and_verifies_with_openssl);
	tcase_add_test(keys, abandoned_composed_operation_leaves_nothing_behind);
	tcase_add_test(keys, argument_errors_end_native_operations);
	tcase_add_test(keys, composed_init_checks_the_key_like_the_token);
	tcase_add_test(keys, context_specific_login_with_composed_mechanism);
	tcase_add_test(keys, template_values_without_storage_are_refused);
	tcase_add_test(keys, empty_data_as_null_pointer);
	tcase_add_test(keys, impossible_lengths_do_not_end_the_process);
	tcase_add_test(keys, buffer_rules_for_lists_and_signatures);
	suite_add_tcase(s, keys);

	TCase *core = tcase_create("core");
	tcase_set_timeout(core, 120);
	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, session_rules);
	tcase_add_test(core, handles_are_not_reused_after_finalize);
	tcase_add_test(core, login_racing_the_last_close_stays_logged_in);
	tcase_add_test(core, pins_never_reach_the_log);
	tcase_add_test(core, missing_softhsm_library_is_not_fatal);
	tcase_add_test(core, forked_child_starts_afresh_with_softhsm);
	tcase_add_test(core, exit_handler_after_softhsm_destructors);
	suite_add_tcase(s, core);

	TCase *store = tcase_create("store");
	tcase_set_timeout(store, 120);
	tcase_add_checked_fixture(store, setup, teardown);
	tcase_add_test(store, empty_pin_spends_no_try);
	tcase_add_test(store, locked_user_pin_outlasts_a_raised_limit);
	tcase_add_test(store, so_limit_reached_under_an_older_version_stays_locked);
	tcase_add_test(store, killed_right_pin_logins_cost_nothing);
	tcase_add_test(store, killed_wrong_pin_logins_are_given_back);
	tcase_add_test(store, corrupt_counter_file_is_logged);
	tcase_add_test(store, directory_in_place_of_the_counter_file_is_logged);
	tcase_add_test(store, read_only_state_directory_is_logged);
	tcase_add_test(store, token_file_cut_short_is_put_back);
	tcase_add_test(store, token_file_cut_short_without_copy_is_reported);
	tcase_add_test(store, copy_of_a_deleted_token_is_removed);
	suite_add_tcase(s, store);
	return tu_run_suite(s);
}
