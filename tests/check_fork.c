/*
 * The SoftHSM underneath signet and the processes a host forks: SoftHSM
 * takes its internal locks through the mutex functions signet gives it,
 * and a forked child never waits on one that a parent's thread held at the
 * fork (the copy of SoftHSM the child inherits still runs its static
 * destructors when the child exits). And signet's SoftHSM is an instance of
 * its own: a host that uses SoftHSM itself keeps its sessions.
 *
 * The forked children here report through their exit status only (Check's
 * assertions belong to the test's own process), and each runs under a
 * deadline: a child that hangs is killed and fails the test.
 */
#include <check.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/lock.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

#define SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"
#define SO_PIN "87654321"
#define CHILD_SECONDS 10

/* SoftHSM loaded straight, as a host (or a parent process) would; its configuration in a scratch directory. */
static CK_FUNCTION_LIST_PTR load_softhsm(const char *dir)
{
	char conf[4096];
	CK_C_GetFunctionList get;
	CK_FUNCTION_LIST_PTR fl = NULL;
	void *dl;

	sf_write_softhsm_conf(dir);
	snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir);
	setenv("SOFTHSM2_CONF", conf, 1);
	dl = dlopen(SOFTHSM, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(dl != NULL, "%s", dlerror());
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	ck_assert_ptr_nonnull(get);
	ck_assert_int_eq(get(&fl), CKR_OK);
	return fl;
}

/* Initialises the token of SoftHSM's first slot and opens a session on it. */
static CK_SESSION_HANDLE open_on_new_token(CK_FUNCTION_LIST_PTR fl, const char *label)
{
	CK_SLOT_ID list[4];
	CK_ULONG n = 4;
	CK_UTF8CHAR padded[32];
	CK_SESSION_HANDLE h;

	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	ck_assert_int_eq(fl->C_GetSlotList(CK_FALSE, list, &n), CKR_OK);
	ck_assert_uint_ge(n, 1);
	ck_assert_int_eq(fl->C_InitToken(list[0], (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), padded), CKR_OK);
	n = 4;
	ck_assert_int_eq(fl->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_int_eq(fl->C_OpenSession(list[0], CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
	return h;
}

/* ---- SoftHSM's locks in a forked child ---- */

/* signet's mutex functions, wrapped to watch SoftHSM's first mutex, which guards its secure memory. */
static CK_C_INITIALIZE_ARGS given;
static void *first_made;
static atomic_int made, first_taken;
static _Thread_local bool is_holder;
static atomic_bool hold_first, holding, let_go;
static bool in_child;

static CK_RV watch_create(CK_VOID_PTR_PTR m)
{
	CK_RV rv = given.CreateMutex(m);

	if (rv == CKR_OK && atomic_fetch_add(&made, 1) == 0)
		first_made = *m;
	return rv;
}

static CK_RV watch_destroy(CK_VOID_PTR m)
{
	return given.DestroyMutex(m);
}

/* The holder thread keeps the first mutex, once asked to, until let go. */
static CK_RV watch_lock(CK_VOID_PTR m)
{
	CK_RV rv = given.LockMutex(m);

	if (m != first_made)
		return rv;
	atomic_fetch_add(&first_taken, 1);
	if (rv == CKR_OK && is_holder && atomic_exchange(&hold_first, false)) {
		atomic_store(&holding, true);
		while (!atomic_load(&let_go))
			usleep(1000);
	}
	return rv;
}

static CK_RV watch_unlock(CK_VOID_PTR m)
{
	return given.UnlockMutex(m);
}

static CK_FUNCTION_LIST_PTR fl;
static CK_SESSION_HANDLE session;

/* A digest makes SoftHSM take its secure-memory mutex. */
static void *holder(void *arg)
{
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	CK_BYTE data[32] = { 1 }, out[32];
	CK_ULONG len = sizeof(out);

	(void)arg;
	is_holder = true;
	atomic_store(&hold_first, true);
	if (fl->C_DigestInit(session, &m) == CKR_OK)
		fl->C_Digest(session, data, sizeof(data), out, &len);
	return NULL;
}

/* Registered before SoftHSM was loaded, so it runs after SoftHSM's static destructors. */
static void report_after_destructors(void)
{
	if (in_child)
		_exit(atomic_load(&first_taken) > 0 ? 0 : 4);
}

/* finalize: the child also calls the inherited SoftHSM's C_Finalize (which signet never does) first. */
static int fork_child(bool finalize)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		in_child = true;
		atomic_store(&first_taken, 0);
		tu_child_deadline(CHILD_SECONDS + 10);
		if (finalize && (fl->C_Finalize(NULL) != CKR_OK || atomic_load(&first_taken) == 0))
			_exit(3);
		exit(0);
	}
	return tu_wait_child(pid, CHILD_SECONDS);
}

START_TEST(softhsm_locks_held_at_fork_do_not_block_the_child)
{
	CK_C_INITIALIZE_ARGS watched = { watch_create, watch_destroy, watch_lock, watch_unlock, CKF_OS_LOCKING_OK, NULL };
	char *dir = tu_tempdir();
	pthread_t t;
	int status;

	ck_assert_int_eq(atexit(report_after_destructors), 0);
	lock_give_os_mutexes(&given);
	fl = load_softhsm(dir);
	ck_assert_int_eq(fl->C_Initialize(&watched), CKR_OK);
	ck_assert_int_gt(atomic_load(&made), 0); /* SoftHSM makes its mutexes with the functions given */
	session = open_on_new_token(fl, "locks");
	ck_assert_int_gt(atomic_load(&first_taken), 0); /* ... and takes them */
	ck_assert_int_eq(pthread_create(&t, NULL, holder, NULL), 0);
	for (int i = 0; i < 5000 && !atomic_load(&holding); i++)
		usleep(1000);
	ck_assert_msg(atomic_load(&holding), "the digest never took SoftHSM's secure-memory mutex");

	status = fork_child(false);
	ck_assert_msg(status == 0, "a child that only exits: wait status %d (-1: hung at exit)", status);
	status = fork_child(true);
	ck_assert_msg(status == 0, "a child that finalizes the inherited SoftHSM: wait status %d (-1: hung)", status);

	atomic_store(&let_go, true);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(fl->C_Finalize(NULL), CKR_OK);
	free(dir);
}
END_TEST

/* ---- the host's own SoftHSM ---- */

/*
 * A host that loads SoftHSM itself (a p11-kit proxy with SoftHSM's module
 * registered too, say) and then signet: signet's fallback is an instance
 * of its own, with signet's configuration, and never finalizes the host's.
 */
START_TEST(hosts_own_softhsm_is_left_alone)
{
	char *host_dir = tu_tempdir(), *dir = tu_tempdir(), conf[4096];
	CK_FUNCTION_LIST_PTR host, f;
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;
	CK_SLOT_ID slot;

	host = load_softhsm(host_dir);
	ck_assert_int_eq(host->C_Initialize(NULL), CKR_OK);
	h = open_on_new_token(host, "host");

	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	sf_write_softhsm_conf(dir);
	sf_write_signet_conf(conf, dir, SOFTHSM, "");
	f = sf_initialize(conf);
	slot = sf_initialised_slot(f);
	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_OK);
	ck_assert_msg(!(ti.flags & CKF_TOKEN_INITIALIZED), "signet shows the host's token, not its own");
	ck_assert_int_eq(host->C_GetSessionInfo(h, &si), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);

	ck_assert_int_eq(host->C_GetSessionInfo(h, &si), CKR_OK);
	ck_assert_int_eq(host->C_Finalize(NULL), CKR_OK);
	free(host_dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fork");
	TCase *tc = tcase_create("softhsm");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, softhsm_locks_held_at_fork_do_not_block_the_child);
	tcase_add_test(tc, hosts_own_softhsm_is_left_alone);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
