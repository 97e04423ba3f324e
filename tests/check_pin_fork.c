/*
 * fork() while another thread is inside C_Login on the fallback token, as
 * forking servers, worker pools and Python's multiprocessing do: a child
 * never holds or waits on the PIN counter lock a parent thread held (it
 * takes that lock through the counter store, as its own C_Login would),
 * and nobody else waits on a child that never calls the module.
 *
 * Every child runs under a deadline (alarm() in the child, a bounded wait
 * in the parent that kills it on expiry): a hang is a failure, never a
 * hung suite.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/pin_store.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

#define SO_PIN "87654321"
#define USER_PIN "123456"
#define FORKS 30
#define SLEEPERS 10
#define CHILD_SECONDS 5 /* a child still running after this has hung */

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static char conf[4096], state_dir[4200];
static CK_SLOT_ID slot;
static CK_UTF8CHAR serial[16];

static void setup(void)
{
	CK_SESSION_HANDLE h;
	CK_TOKEN_INFO ti;

	dir = tu_tempdir();
	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	sf_write_softhsm_conf(dir);
	sf_write_signet_conf(conf, dir, NULL, "[policy]\nrequire_pin_change = no\n");
	f = sf_initialize(conf);
	slot = sf_initialised_slot(f);
	h = sf_init_token(f, slot, "fork", SO_PIN, USER_PIN);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	slot = sf_initialised_slot(f);
	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_OK);
	memcpy(serial, ti.serialNumber, sizeof(serial));
}

static void teardown(void)
{
	f->C_Finalize(NULL);
	free(dir);
}

/* ---- a thread that logs in and out until told to stop ---- */

struct login_loop {
	CK_SESSION_HANDLE session;
	atomic_bool stop;
	atomic_ulong cycles;
	CK_RV failure; /* the first answer that was not CKR_OK */
};

static void *login_loop(void *arg)
{
	struct login_loop *l = arg;
	CK_RV rv;

	while (!atomic_load(&l->stop)) {
		rv = f->C_Login(l->session, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
		if (rv == CKR_OK)
			rv = f->C_Logout(l->session);
		if (rv != CKR_OK) {
			l->failure = rv;
			break;
		}
		atomic_fetch_add(&l->cycles, 1);
	}
	return NULL;
}

static void start_loop(struct login_loop *l, pthread_t *t)
{
	CK_RV rv = f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &l->session);

	ck_assert_int_eq(rv, CKR_OK);
	atomic_store(&l->stop, false);
	atomic_store(&l->cycles, 0);
	l->failure = CKR_OK;
	ck_assert_int_eq(pthread_create(t, NULL, login_loop, l), 0);
	/* Forks should land inside logins: wait until the loop is under way. */
	while (atomic_load(&l->cycles) < 2 && l->failure == CKR_OK)
		usleep(1000);
}

static void stop_loop(struct login_loop *l, pthread_t t)
{
	atomic_store(&l->stop, true);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(l->failure == CKR_OK, "the login loop got 0x%lx", (unsigned long)l->failure);
}

/* ---- children under a deadline ---- */



/* Waits for pid up to seconds; on expiry kills it and returns -1. Otherwise its wait status. */
static int wait_deadline(pid_t pid, unsigned seconds)
{
	int status;

	for (unsigned waited = 0; waited < seconds * 100; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		ck_assert_int_ne(r, -1);
		if (r == pid)
			return status;
		usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return -1;
}

/*
 * What a forked child does: the counter store of the token the parent's
 * thread is logging in to, as the child's own C_Login would use it. Exit 0
 * on success.
 */
static int child_uses_the_store(void)
{
	struct pin_store *s = NULL;
	struct pin_limits lim = { 3, 5 };
	struct pin_state st;
	int code = 0;

	tu_child_deadline(CHILD_SECONDS);
	if (pin_store_open(state_dir, serial, &s) != CKR_OK)
		return 10;
	if (pin_store_reserve(s, PIN_USER, &lim) != CKR_OK || pin_store_settle(s, PIN_USER, PIN_TRY_OK) != CKR_OK)
		code = 11;
	else if (pin_store_read(s, &st) != CKR_OK || st.user_locked)
		code = 12;
	pin_store_close(s);
	return code;
}

START_TEST(child_forked_during_login_uses_the_store)
{
	struct login_loop loop;
	uint32_t rnd = 0x1badcafe;
	pthread_t t;
	int status;

	start_loop(&loop, &t);
	for (int i = 0; i < FORKS; i++) {
		pid_t pid;

		usleep(tu_next_random(&rnd) % 15 * 1000);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0)
			_exit(child_uses_the_store());
		status = wait_deadline(pid, CHILD_SECONDS + 2);
		if (status == -1 || (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)) {
			atomic_store(&loop.stop, true);
			pthread_join(t, NULL);
			ck_abort_msg("forked child %d of %d hung on the PIN counter lock", i + 1, FORKS);
		}
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "forked child %d failed (status %#x)",
			      i + 1, status);
	}
	stop_loop(&loop, t);
}
END_TEST

START_TEST(sleeping_child_holds_up_nobody)
{
	struct login_loop loop;
	uint32_t rnd = 0x5eed1e55;
	pid_t sleepers[SLEEPERS];
	unsigned long before;
	bool progressed = false;
	pthread_t t;

	start_loop(&loop, &t);
	for (int i = 0; i < SLEEPERS; i++) {
		usleep(tu_next_random(&rnd) % 15 * 1000);
		sleepers[i] = fork();
		ck_assert_int_ge(sleepers[i], 0);
		if (sleepers[i] == 0) {
			/* A worker that never calls the module; alarm() ends it should the parent not. */
			tu_child_deadline(CHILD_SECONDS * 3);
			for (;;)
				pause();
		}
	}
	/* While all of them live, the parent's logins go on. */
	before = atomic_load(&loop.cycles);
	for (int waited = 0; waited < 500 && !progressed; waited++) {
		progressed = atomic_load(&loop.cycles) >= before + 3;
		usleep(10 * 1000);
	}
	for (int i = 0; i < SLEEPERS; i++) {
		kill(sleepers[i], SIGKILL);
		ck_assert_int_eq(waitpid(sleepers[i], NULL, 0), sleepers[i]);
	}
	stop_loop(&loop, t);
	ck_assert_msg(progressed, "C_Login blocked while sleeping children lived (%lu cycles)",
		      atomic_load(&loop.cycles) - before);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pin_fork");
	TCase *tc = tcase_create("fork");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, child_forked_during_login_uses_the_store);
	tcase_add_test(tc, sleeping_child_holds_up_nobody);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
