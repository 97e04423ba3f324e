/*
 * The Cryptoki surface without a token: initialisation in every locking
 * mode, argument checks, interfaces, fork, configuration errors, logging.
 * Each test runs in its own process (Check's fork mode), so each starts
 * uninitialised.
 */
#include <check.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/signet_vendor.h"
#include "tests/check_util.h"

CK_RV C_GetInterface(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS);
CK_RV C_GetInterfaceList(CK_INTERFACE_PTR, CK_ULONG_PTR);

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static char conf[4096];

/* No tokens here: a configuration with both token kinds switched off. */
static void setup(void)
{
	dir = tu_tempdir();
	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	tu_write_file(conf, "[card]\nenable = no\n[softhsm]\nenable = no\n");
	setenv("SIGNET_CONF", conf, 1);
	unsetenv("SIGNET_DEBUG");
	ck_assert_int_eq(C_GetFunctionList(&f), CKR_OK);
}

static void teardown(void)
{
	free(dir);
}

/* ---- application-supplied mutexes, counted ---- */

static int created, destroyed, locked, unlocked;
static bool fail_create;

static CK_RV app_create(CK_VOID_PTR_PTR m)
{
	pthread_mutex_t *p;

	if (fail_create)
		return CKR_HOST_MEMORY;
	p = malloc(sizeof(*p));
	pthread_mutex_init(p, NULL);
	*m = p;
	created++;
	return CKR_OK;
}

static CK_RV app_destroy(CK_VOID_PTR m)
{
	pthread_mutex_destroy(m);
	free(m);
	destroyed++;
	return CKR_OK;
}

static CK_RV app_lock(CK_VOID_PTR m)
{
	locked++;
	return pthread_mutex_lock(m) == 0 ? CKR_OK : CKR_MUTEX_BAD;
}

static CK_RV app_unlock(CK_VOID_PTR m)
{
	unlocked++;
	return pthread_mutex_unlock(m) == 0 ? CKR_OK : CKR_MUTEX_NOT_LOCKED;
}

static CK_C_INITIALIZE_ARGS app_args(CK_FLAGS flags)
{
	CK_C_INITIALIZE_ARGS a = { app_create, app_destroy, app_lock, app_unlock, flags, NULL };

	return a;
}

START_TEST(initialize_with_null)
{
	CK_ULONG n = 99;

	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

START_TEST(initialize_os_locking)
{
	CK_C_INITIALIZE_ARGS a = { NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL };
	CK_ULONG n;

	ck_assert_int_eq(f->C_Initialize(&a), CKR_OK);
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(initialize_app_mutexes_are_used)
{
	CK_C_INITIALIZE_ARGS a = app_args(0);
	CK_ULONG n;
	int before;

	ck_assert_int_eq(f->C_Initialize(&a), CKR_OK);
	ck_assert_int_ge(created, 1);
	before = locked;
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	ck_assert_int_gt(locked, before);
	ck_assert_int_eq(locked, unlocked);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(destroyed, created);
}
END_TEST

START_TEST(initialize_app_mutexes_and_os_locking)
{
	CK_C_INITIALIZE_ARGS a = app_args(CKF_OS_LOCKING_OK);
	CK_ULONG n;

	ck_assert_int_eq(f->C_Initialize(&a), CKR_OK);
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	/* Either kind is allowed in this mode; signet takes the OS's and never calls the application's. */
	ck_assert_int_eq(created, 0);
	ck_assert_int_eq(locked, 0);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(initialize_cant_lock_when_mutex_creation_fails)
{
	CK_C_INITIALIZE_ARGS a = app_args(0);
	CK_ULONG n;

	fail_create = true;
	ck_assert_int_eq(f->C_Initialize(&a), CKR_CANT_LOCK);
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	fail_create = false;
	ck_assert_int_eq(f->C_Initialize(&a), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(initialize_bad_args)
{
	CK_C_INITIALIZE_ARGS a = app_args(0);
	int reserved;

	a.pReserved = &reserved;
	ck_assert_int_eq(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	a = app_args(0);
	a.LockMutex = NULL; /* some callbacks but not all */
	ck_assert_int_eq(f->C_Initialize(&a), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Finalize(&reserved), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(&reserved), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(initialize_again_after_finalize)
{
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
		ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	}
}
END_TEST

/* Every function but the four that work uninitialised answers CKR_CRYPTOKI_NOT_INITIALIZED. */
/* Two threads initialising at once: exactly one succeeds, the other is told it is done already. */
static pthread_barrier_t start_line;

static void *initialize_thread(void *arg)
{
	CK_RV *rv = arg;

	pthread_barrier_wait(&start_line);
	*rv = f->C_Initialize(NULL);
	return NULL;
}

START_TEST(concurrent_initialize_succeeds_once)
{
	for (int round = 0; round < 20; round++) {
		CK_RV rv[2] = { 0xff, 0xff };
		pthread_t t[2];

		ck_assert_int_eq(pthread_barrier_init(&start_line, NULL, 2), 0);
		for (int i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_create(&t[i], NULL, initialize_thread, &rv[i]), 0);
		for (int i = 0; i < 2; i++)
			ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		pthread_barrier_destroy(&start_line);
		ck_assert_msg((rv[0] == CKR_OK && rv[1] == CKR_CRYPTOKI_ALREADY_INITIALIZED) ||
				      (rv[1] == CKR_OK && rv[0] == CKR_CRYPTOKI_ALREADY_INITIALIZED),
			      "round %d: 0x%lx and 0x%lx", round, (unsigned long)rv[0], (unsigned long)rv[1]);
		ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
		ck_assert_int_eq(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	}
}
END_TEST

START_TEST(everything_needs_initialize)
{
	CK_BYTE buf[64];
	CK_ULONG n = sizeof(buf);
	CK_INFO info;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_MECHANISM_INFO mi;
	CK_SESSION_INFO ses;
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE o, o2;
	CK_SLOT_ID slot;
	CK_MECHANISM mech = { CKM_SHA256, NULL, 0 };
	CK_ATTRIBUTE attr = { CKA_LABEL, buf, sizeof(buf) };
	CK_MECHANISM_TYPE mt[4];
	const CK_RV E = CKR_CRYPTOKI_NOT_INITIALIZED;

	ck_assert_int_eq(f->C_GetInfo(&info), E);
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, &slot, &n), E);
	ck_assert_int_eq(f->C_GetSlotInfo(0, &si), E);
	ck_assert_int_eq(f->C_GetTokenInfo(0, &ti), E);
	ck_assert_int_eq(f->C_GetMechanismList(0, mt, &n), E);
	ck_assert_int_eq(f->C_GetMechanismInfo(0, CKM_SHA256, &mi), E);
	ck_assert_int_eq(f->C_InitToken(0, buf, 4, buf), E);
	ck_assert_int_eq(f->C_InitPIN(1, buf, 4), E);
	ck_assert_int_eq(f->C_SetPIN(1, buf, 4, buf, 4), E);
	ck_assert_int_eq(f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &h), E);
	ck_assert_int_eq(f->C_CloseSession(1), E);
	ck_assert_int_eq(f->C_CloseAllSessions(0), E);
	ck_assert_int_eq(f->C_GetSessionInfo(1, &ses), E);
	ck_assert_int_eq(f->C_GetOperationState(1, buf, &n), E);
	ck_assert_int_eq(f->C_SetOperationState(1, buf, n, 0, 0), E);
	ck_assert_int_eq(f->C_Login(1, CKU_USER, buf, 4), E);
	ck_assert_int_eq(f->C_Logout(1), E);
	ck_assert_int_eq(f->C_CreateObject(1, &attr, 1, &o), E);
	ck_assert_int_eq(f->C_CopyObject(1, 1, &attr, 1, &o), E);
	ck_assert_int_eq(f->C_DestroyObject(1, 1), E);
	ck_assert_int_eq(f->C_GetObjectSize(1, 1, &n), E);
	ck_assert_int_eq(f->C_GetAttributeValue(1, 1, &attr, 1), E);
	ck_assert_int_eq(f->C_SetAttributeValue(1, 1, &attr, 1), E);
	ck_assert_int_eq(f->C_FindObjectsInit(1, &attr, 1), E);
	ck_assert_int_eq(f->C_FindObjects(1, &o, 1, &n), E);
	ck_assert_int_eq(f->C_FindObjectsFinal(1), E);
	ck_assert_int_eq(f->C_EncryptInit(1, &mech, 1), E);
	ck_assert_int_eq(f->C_Encrypt(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_EncryptUpdate(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_EncryptFinal(1, buf, &n), E);
	ck_assert_int_eq(f->C_DecryptInit(1, &mech, 1), E);
	ck_assert_int_eq(f->C_Decrypt(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_DecryptUpdate(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_DecryptFinal(1, buf, &n), E);
	ck_assert_int_eq(f->C_DigestInit(1, &mech), E);
	ck_assert_int_eq(f->C_Digest(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_DigestUpdate(1, buf, 4), E);
	ck_assert_int_eq(f->C_DigestKey(1, 1), E);
	ck_assert_int_eq(f->C_DigestFinal(1, buf, &n), E);
	ck_assert_int_eq(f->C_SignInit(1, &mech, 1), E);
	ck_assert_int_eq(f->C_Sign(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_SignUpdate(1, buf, 4), E);
	ck_assert_int_eq(f->C_SignFinal(1, buf, &n), E);
	ck_assert_int_eq(f->C_SignRecoverInit(1, &mech, 1), E);
	ck_assert_int_eq(f->C_SignRecover(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_VerifyInit(1, &mech, 1), E);
	ck_assert_int_eq(f->C_Verify(1, buf, 4, buf, 4), E);
	ck_assert_int_eq(f->C_VerifyUpdate(1, buf, 4), E);
	ck_assert_int_eq(f->C_VerifyFinal(1, buf, 4), E);
	ck_assert_int_eq(f->C_VerifyRecoverInit(1, &mech, 1), E);
	ck_assert_int_eq(f->C_VerifyRecover(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_DigestEncryptUpdate(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_DecryptDigestUpdate(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_SignEncryptUpdate(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_DecryptVerifyUpdate(1, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_GenerateKey(1, &mech, &attr, 1, &o), E);
	ck_assert_int_eq(f->C_GenerateKeyPair(1, &mech, &attr, 1, &attr, 1, &o, &o2), E);
	ck_assert_int_eq(f->C_WrapKey(1, &mech, 1, 2, buf, &n), E);
	ck_assert_int_eq(f->C_UnwrapKey(1, &mech, 1, buf, 4, &attr, 1, &o), E);
	ck_assert_int_eq(f->C_DeriveKey(1, &mech, 1, &attr, 1, &o), E);
	ck_assert_int_eq(f->C_SeedRandom(1, buf, 4), E);
	ck_assert_int_eq(f->C_GenerateRandom(1, buf, 4), E);
	ck_assert_int_eq(f->C_GetFunctionStatus(1), E);
	ck_assert_int_eq(f->C_CancelFunction(1), E);
	ck_assert_int_eq(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), E);
	ck_assert_int_eq(f->C_Finalize(NULL), E);
}
END_TEST

START_TEST(get_info)
{
	CK_INFO info;

	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_GetInfo(NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_GetInfo(&info), CKR_OK);
	ck_assert_int_eq(info.cryptokiVersion.major, 2);
	ck_assert_int_eq(info.cryptokiVersion.minor, 40);
	ck_assert_int_eq(memcmp(info.manufacturerID, "signet                          ", 32), 0);
	ck_assert_int_eq(memcmp((&info)->libraryDescription, "signet PKCS#11 module           ", 32), 0);
	ck_assert_int_eq(info.flags, 0);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(function_list_args)
{
	ck_assert_int_eq(C_GetFunctionList(NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->version.major, 2);
	ck_assert_int_eq(f->version.minor, 40);
	/* no hole in the 2.40 list */
	for (void (**p)(void) = (void (**)(void))&f->C_Initialize; p <= (void (**)(void))&f->C_WaitForSlotEvent; p++)
		ck_assert_ptr_nonnull(*p);
}
END_TEST

START_TEST(interfaces)
{
	CK_INTERFACE list[4], *iface;
	CK_ULONG n = 0;
	CK_VERSION v240 = { 2, 40 }, v30 = { 3, 0 }, v31 = { 3, 1 };
	CK_FUNCTION_LIST_3_0 *f3;
	CK_INFO info;

	ck_assert_int_eq(C_GetInterfaceList(NULL, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetInterfaceList(NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 3);
	n = 2;
	ck_assert_int_eq(C_GetInterfaceList(list, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(n, 3);
	n = 4;
	ck_assert_int_eq(C_GetInterfaceList(list, &n), CKR_OK);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq((char *)list[0].pInterfaceName, "PKCS 11");
	ck_assert_str_eq((char *)list[1].pInterfaceName, "PKCS 11");
	ck_assert_str_eq((char *)list[2].pInterfaceName, SIGNET_VENDOR_INTERFACE);
	ck_assert_int_eq(((CK_VERSION *)list[0].pFunctionList)->major, 3);
	ck_assert_int_eq(((CK_VERSION *)list[1].pFunctionList)->major, 2);
	ck_assert_int_eq(((CK_VERSION *)list[2].pFunctionList)->major, SIGNET_VENDOR_VERSION_MAJOR);

	ck_assert_int_eq(C_GetInterface(NULL, NULL, NULL, 0), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetInterface(NULL, NULL, &iface, 0), CKR_OK);
	ck_assert_int_eq(((CK_VERSION *)iface->pFunctionList)->major, 3);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &iface, 0), CKR_OK);
	ck_assert_ptr_eq(iface->pFunctionList, f);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0), CKR_OK);
	f3 = iface->pFunctionList;
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v31, &iface, 0), CKR_ARGUMENTS_BAD);
	/* not fork-safe in the 3.0 sense: a forked child must call C_Initialize again */
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", NULL, &iface, CKF_INTERFACE_FORK_SAFE),
			 CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "Vendor NSS FIPS Interface", NULL, &iface, 0),
			 CKR_ARGUMENTS_BAD);

	for (void (**p)(void) = (void (**)(void))&f3->C_Initialize; p <= (void (**)(void))&f3->C_MessageVerifyFinal; p++)
		ck_assert_ptr_nonnull(*p);
	ck_assert_int_eq(f3->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f3->C_GetInfo(&info), CKR_OK);
	ck_assert_int_eq(info.cryptokiVersion.major, 3);
	ck_assert_int_eq(info.cryptokiVersion.minor, 0);
	ck_assert_int_eq(f3->C_LoginUser(0x1234, CKU_USER, (CK_UTF8CHAR_PTR) "1234", 4, NULL, 0),
			 CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f3->C_SessionCancel(0x1234, 0), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f3->C_MessageSignInit(0x1234, NULL, 0), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f3->C_Finalize(NULL), CKR_OK);
}
END_TEST

/* The vendor interface: found by name and version, and its calls check what every call checks. */
START_TEST(vendor_interface)
{
	CK_VERSION v10 = { 1, 0 }, v11 = { 1, 1 };
	CK_INTERFACE *iface;
	SIGNET_FUNCTION_LIST *sf;
	SIGNET_PIN_TRIES tries;

	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR)SIGNET_VENDOR_INTERFACE, &v11, &iface, 0), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR)SIGNET_VENDOR_INTERFACE, &v10, &iface, 0), CKR_OK);
	sf = iface->pFunctionList;
	ck_assert_int_eq(sf->version.major, 1);
	ck_assert_int_eq(sf->version.minor, 0);
	ck_assert_int_eq(sf->C_SignetGetPinTries(0, &tries), CKR_CRYPTOKI_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(sf->C_SignetGetPinTries(0, &tries), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(sf->C_SignetSetRetries(0x1234, 3, 5), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(sf->C_SignetSetRetries(0x1234, 3, 5), CKR_CRYPTOKI_NOT_INITIALIZED);
}
END_TEST

START_TEST(slot_arguments)
{
	CK_SLOT_ID list[4];
	CK_ULONG n;
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_MECHANISM_INFO mi;
	CK_SESSION_HANDLE h;
	CK_SLOT_ID slot;

	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, list, NULL), CKR_ARGUMENTS_BAD);
	n = 4;
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(f->C_GetSlotInfo(7, &si), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_GetTokenInfo(7, &ti), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_GetMechanismList(7, NULL, &n), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_GetMechanismInfo(7, CKM_SHA256, &mi), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_OpenSession(7, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_OpenSession(7, CKF_SERIAL_SESSION, NULL, NULL, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_CloseAllSessions(7), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_InitToken(7, (CK_UTF8CHAR_PTR) "1234", 4, (CK_UTF8CHAR_PTR) "x"),
			 CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL), CKR_NO_EVENT);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

/* Every session function rejects a handle that was never issued. */
START_TEST(session_handle_invalid)
{
	CK_BYTE buf[64];
	CK_ULONG n = sizeof(buf);
	CK_SESSION_INFO ses;
	CK_OBJECT_HANDLE o, o2;
	CK_MECHANISM mech = { CKM_SHA256, NULL, 0 };
	CK_ATTRIBUTE attr = { CKA_LABEL, buf, sizeof(buf) };
	const CK_SESSION_HANDLE bad = 0x7777;
	const CK_RV E = CKR_SESSION_HANDLE_INVALID;

	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_CloseSession(bad), E);
	ck_assert_int_eq(f->C_GetSessionInfo(bad, &ses), E);
	ck_assert_int_eq(f->C_GetSessionInfo(bad, NULL), E); /* the handle is checked first, as everywhere */
	ck_assert_int_eq(f->C_GetOperationState(bad, buf, &n), E);
	ck_assert_int_eq(f->C_Login(bad, CKU_USER, buf, 4), E);
	ck_assert_int_eq(f->C_Logout(bad), E);
	ck_assert_int_eq(f->C_InitPIN(bad, buf, 4), E);
	ck_assert_int_eq(f->C_SetPIN(bad, buf, 4, buf, 4), E);
	ck_assert_int_eq(f->C_CreateObject(bad, &attr, 1, &o), E);
	ck_assert_int_eq(f->C_DestroyObject(bad, 1), E);
	ck_assert_int_eq(f->C_GetAttributeValue(bad, 1, &attr, 1), E);
	ck_assert_int_eq(f->C_FindObjectsInit(bad, &attr, 1), E);
	ck_assert_int_eq(f->C_FindObjects(bad, &o, 1, &n), E);
	ck_assert_int_eq(f->C_FindObjectsFinal(bad), E);
	ck_assert_int_eq(f->C_SignInit(bad, &mech, 1), E);
	ck_assert_int_eq(f->C_Sign(bad, buf, 4, buf, &n), E);
	ck_assert_int_eq(f->C_VerifyInit(bad, &mech, 1), E);
	ck_assert_int_eq(f->C_DigestInit(bad, &mech), E);
	ck_assert_int_eq(f->C_EncryptInit(bad, &mech, 1), E);
	ck_assert_int_eq(f->C_DecryptInit(bad, &mech, 1), E);
	ck_assert_int_eq(f->C_GenerateKeyPair(bad, &mech, &attr, 1, &attr, 1, &o, &o2), E);
	ck_assert_int_eq(f->C_GenerateRandom(bad, buf, 4), E);
	ck_assert_int_eq(f->C_GetFunctionStatus(bad), E);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(forked_child_must_initialize)
{
	CK_ULONG n;
	int status;
	pid_t pid;

	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int code = 0;

		if (f->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_CRYPTOKI_NOT_INITIALIZED)
			code = 1;
		else if (f->C_Finalize(NULL) != CKR_CRYPTOKI_NOT_INITIALIZED)
			code = 2;
		else if (f->C_Initialize(NULL) != CKR_OK)
			code = 3;
		else if (f->C_GetSlotList(CK_FALSE, NULL, &n) != CKR_OK)
			code = 4;
		else if (f->C_Finalize(NULL) != CKR_OK)
			code = 5;
		_exit(code);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* the parent is untouched */
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

START_TEST(bad_configuration_fails_initialize)
{
	char errpath[4096];
	char *err;
	int saved;
	CK_ULONG n;

	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	tu_write_file(conf, "[module]\nlog_level = warning\n[policy]\nuser_pin_retries = lots\n");
	saved = tu_capture_stderr(errpath);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_GENERAL_ERROR);
	tu_restore_stderr(saved);
	err = tu_read_file(errpath);
	ck_assert_msg(strstr(err, ":4: user_pin_retries: number out of range") != NULL, "log: %s", err);
	ck_assert_ptr_nonnull(strstr(err, conf));
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
	free(err);
	/* fixed file: works */
	tu_write_file(conf, "[softhsm]\nenable = no\n[card]\nenable = no\n");
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
}
END_TEST

/* A management key on a malformed line stays out of the log. */
START_TEST(malformed_secret_line_is_not_logged)
{
	char errpath[4096];
	char *err;
	int saved;

	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	tu_write_file(conf, "[card]\nmanagement_key 0102030405060708A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8\n");
	saved = tu_capture_stderr(errpath);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_GENERAL_ERROR);
	tu_restore_stderr(saved);
	err = tu_read_file(errpath);
	ck_assert_msg(strstr(err, ":2: -: expected key = value") != NULL, "log: %s", err);
	ck_assert_msg(strstr(err, "A1A2A3") == NULL, "log: %s", err);
	free(err);
}
END_TEST

START_TEST(debug_log_names_calls_and_results)
{
	char logpath[4096];
	char *log;
	CK_SLOT_INFO si;

	snprintf(logpath, sizeof(logpath), "%s/signet.log", dir);
	tu_write_file(conf, "[module]\nlog_file = %s\n[softhsm]\nenable = no\n[card]\nenable = no\n", logpath);
	setenv("SIGNET_DEBUG", "debug", 1);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_GetSlotInfo(42, &si), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	log = tu_read_file(logpath);
	ck_assert_ptr_nonnull(strstr(log, "C_GetSlotInfo(slotID=42 "));
	ck_assert_ptr_nonnull(strstr(log, "C_GetSlotInfo = CKR_SLOT_ID_INVALID"));
	ck_assert_ptr_nonnull(strstr(log, "C_Finalize = CKR_OK"));
	free(log);
}
END_TEST

START_TEST(default_level_logs_no_calls)
{
	char logpath[4096];
	char *log;
	CK_SLOT_INFO si;

	snprintf(logpath, sizeof(logpath), "%s/signet.log", dir);
	tu_write_file(conf, "[module]\nlog_file = %s\n[softhsm]\nenable = no\n[card]\nenable = no\n", logpath);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_GetSlotInfo(42, &si), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	log = tu_read_file(logpath);
	ck_assert_str_eq(log, "");
	free(log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("entry");
	TCase *tc = tcase_create("entry");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, initialize_with_null);
	tcase_add_test(tc, initialize_os_locking);
	tcase_add_test(tc, initialize_app_mutexes_are_used);
	tcase_add_test(tc, initialize_app_mutexes_and_os_locking);
	tcase_add_test(tc, initialize_cant_lock_when_mutex_creation_fails);
	tcase_add_test(tc, initialize_bad_args);
	tcase_add_test(tc, initialize_again_after_finalize);
	tcase_add_test(tc, concurrent_initialize_succeeds_once);
	tcase_add_test(tc, everything_needs_initialize);
	tcase_add_test(tc, get_info);
	tcase_add_test(tc, function_list_args);
	tcase_add_test(tc, interfaces);
	tcase_add_test(tc, vendor_interface);
	tcase_add_test(tc, slot_arguments);
	tcase_add_test(tc, session_handle_invalid);
	tcase_add_test(tc, forked_child_must_initialize);
	tcase_add_test(tc, bad_configuration_fails_initialize);
	tcase_add_test(tc, malformed_secret_line_is_not_logged);
	tcase_add_test(tc, debug_log_names_calls_and_results);
	tcase_add_test(tc, default_level_logs_no_calls);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
