/*
 * A PKCS#11 library for tests that is SoftHSM itself with one addition:
 * every C_Login that reaches it is recorded, with SoftHSM's answer, as a
 * line "PID USER-TYPE RV" in the file named by SIGNET_TEST_LOGIN_LOG (one
 * O_APPEND write per call, so concurrent processes are counted exactly).
 * Tests point [softhsm] library at it to prove how many PIN tries got
 * through signet's policy. With SIGNET_TEST_LOGIN_HANG set, a login hangs
 * once SoftHSM has judged the PIN and its line is written, as a host hung
 * inside another library would, for the test to kill it there.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pkcs11/cryptoki.h"

#define REAL_SOFTHSM "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST real_copy;
static CK_FUNCTION_LIST counting;
static CK_FUNCTION_LIST_PTR real;

static void record_login(CK_USER_TYPE who, CK_RV rv)
{
	const char *path = getenv("SIGNET_TEST_LOGIN_LOG");
	char line[64];
	int fd, n;

	if (path == NULL)
		return;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%ld %lu 0x%lx\n", (long)getpid(), (unsigned long)who, (unsigned long)rv);
	if (write(fd, line, (size_t)n) != n)
		perror("login log");
	close(fd);
}

static CK_RV counting_login(CK_SESSION_HANDLE h, CK_USER_TYPE who, CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
	CK_RV rv = real->C_Login(h, who, pin, len);

	record_login(who, rv);
	if (getenv("SIGNET_TEST_LOGIN_HANG") != NULL)
		for (;;)
			pause();
	return rv;
}

__attribute__((visibility("default"))) CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	CK_C_GetFunctionList get;
	void *dl;

	if (out == NULL)
		return CKR_ARGUMENTS_BAD;
	if (real == NULL) {
		dl = dlopen(REAL_SOFTHSM, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
		if (dl == NULL)
			return CKR_GENERAL_ERROR;
		*(void **)&get = dlsym(dl, "C_GetFunctionList");
		if (get == NULL || get(&real) != CKR_OK)
			return CKR_GENERAL_ERROR;
		real_copy = *real;
		counting = real_copy;
		counting.C_Login = counting_login;
	}
	*out = &counting;
	return CKR_OK;
}
