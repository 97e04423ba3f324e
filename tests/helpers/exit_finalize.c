/*
 * Plays a host program that shuts PKCS#11 down from its exit handlers, as
 * poppler (pdfsig) does through NSS: the handler is registered before the
 * module is loaded, so it runs after the libraries' own exit-time
 * destructors (SoftHSM's among them). Usage: exit_finalize MODULE [LABEL].
 * Opens a session on every initialised token, logs in when a PIN is given
 * in SIGNET_TEST_PIN, and returns from main; the handler then calls
 * C_CloseAllSessions and C_Finalize. Exit status 0 means no crash.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/cryptoki.h"

static CK_FUNCTION_LIST_PTR f;
static CK_SLOT_ID slots[16];
static CK_ULONG nslots;

static void shut_down_late(void)
{
	for (CK_ULONG i = 0; i < nslots; i++)
		f->C_CloseAllSessions(slots[i]);
	f->C_Finalize(NULL);
	fprintf(stderr, "exit handler: finalized\n");
}

int main(int argc, char **argv)
{
	const char *pin = getenv("SIGNET_TEST_PIN");
	CK_C_GetFunctionList get;
	CK_SESSION_HANDLE h;
	CK_TOKEN_INFO ti;
	void *dl;
	int opened = 0;

	if (argc < 2)
		return 2;
	if (atexit(shut_down_late) != 0)
		return 2;
	dl = dlopen(argv[1], RTLD_NOW);
	if (dl == NULL) {
		fprintf(stderr, "%s\n", dlerror());
		return 2;
	}
	*(void **)&get = dlsym(dl, "C_GetFunctionList");
	if (get == NULL || get(&f) != CKR_OK || f->C_Initialize(NULL) != CKR_OK)
		return 3;
	nslots = sizeof(slots) / sizeof(slots[0]);
	if (f->C_GetSlotList(CK_TRUE, slots, &nslots) != CKR_OK)
		return 4;
	for (CK_ULONG i = 0; i < nslots; i++) {
		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK || !(ti.flags & CKF_TOKEN_INITIALIZED))
			continue;
		if (f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK)
			return 5;
		if (pin != NULL && f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)) != CKR_OK)
			return 6;
		opened++;
	}
	fprintf(stderr, "sessions open: %d\n", opened);
	return opened > 0 ? 0 : 7;
}
