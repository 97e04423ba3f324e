/*
 * The debug trace (SIGNET_DEBUG=debug) on a real SoftHSMv2 token: it shows
 * only values that were set. An IN/OUT count or length is the caller's
 * garbage on a length query (NULL buffer), so it appears before the call
 * only with a buffer, and after the call once the module has set it.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/cryptoki.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

#define SO_PIN "87654321"
#define USER_PIN "123456"

/* What an uninitialised CK_ULONG on a caller's stack looked like in the report. */
#define GARBAGE 139979637215033UL

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static char conf[4096], logpath[4096];
static CK_SLOT_ID slot;

/* A token with its user PIN set, then the module again with every call traced to logpath. */
static void setup(void)
{
	char extra[4400];
	CK_SESSION_HANDLE h;

	dir = tu_tempdir();
	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	snprintf(logpath, sizeof(logpath), "%s/signet.log", dir);
	snprintf(extra, sizeof(extra), "log_file = %s\n[policy]\nrequire_pin_change = no\n", logpath);
	sf_write_softhsm_conf(dir);
	sf_write_signet_conf(conf, dir, NULL, extra);
	f = sf_initialize(conf);
	slot = sf_initialised_slot(f);
	h = sf_init_token(f, slot, "trace", SO_PIN, USER_PIN);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	setenv("SIGNET_DEBUG", "debug", 1);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
}

static void teardown(void)
{
	f->C_Finalize(NULL);
	unsetenv("SIGNET_DEBUG");
	free(dir);
}

static char *finalize_and_read_log(void)
{
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	return tu_read_file(logpath);
}

/* The value the caller left in a count is nowhere in the log; n distinct values were used. */
static void assert_no_garbage(const char *log, unsigned n)
{
	char text[32];

	for (unsigned i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "%lu", GARBAGE + i);
		ck_assert_msg(strstr(log, text) == NULL, "garbage %u (%s) traced:\n%s", i, text, log);
	}
}

START_TEST(length_queries_trace_no_garbage)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_BBOOL yes = CK_TRUE;
	CK_ULONG aes_len = 32;
	CK_MECHANISM ec_gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 }, aes_gen = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_MECHANISM ecdsa = { CKM_ECDSA, NULL, 0 }, ecb = { CKM_AES_ECB, NULL, 0 }, sha = { CKM_SHA256, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) }, { CKA_VERIFY, &yes, 1 } };
	CK_ATTRIBUTE st[] = { { CKA_SIGN, &yes, 1 } };
	CK_ATTRIBUTE at[] = { { CKA_VALUE_LEN, &aes_len, sizeof(aes_len) }, { CKA_ENCRYPT, &yes, 1 } };
	CK_ATTRIBUTE point = { CKA_EC_POINT, NULL, 0 };
	CK_BYTE data[32] = { 0 }, out[64];
	CK_OBJECT_HANDLE pub, priv, aes, found[4];
	CK_SESSION_HANDLE h;
	CK_ULONG n;
	unsigned g = 0;
	char *log;

	n = GARBAGE + g++;
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, NULL, &n), CKR_OK);
	ck_assert_uint_ge(n, 1);
	n = GARBAGE + g++;
	ck_assert_int_eq(f->C_GetMechanismList(slot, NULL, &n), CKR_OK);
	n = GARBAGE + g++;
	ck_assert_int_eq(f->C_GetMechanismList(0x4242, NULL, &n), CKR_SLOT_ID_INVALID);

	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h), CKR_OK);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), CKR_OK);
	ck_assert_int_eq(f->C_GenerateKeyPair(h, &ec_gen, pt, 2, st, 1, &pub, &priv), CKR_OK);
	ck_assert_int_eq(f->C_GenerateKey(h, &aes_gen, at, 2, &aes), CKR_OK);

	/* an attribute length query, on a key and on a handle that names none */
	point.ulValueLen = GARBAGE + g++;
	ck_assert_int_eq(f->C_GetAttributeValue(h, pub, &point, 1), CKR_OK);
	point.ulValueLen = GARBAGE + g++;
	ck_assert_int_eq(f->C_GetAttributeValue(h, 0x7fff0000, &point, 1), CKR_OBJECT_HANDLE_INVALID);

	/* output length queries of the one-shot and final steps */
	ck_assert_int_eq(f->C_SignInit(h, &ecdsa, priv), CKR_OK);
	n = GARBAGE + g++;
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data), NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 64);
	ck_assert_int_eq(f->C_Sign(h, data, sizeof(data), out, &n), CKR_OK); /* a query keeps the operation */
	ck_assert_int_eq(f->C_EncryptInit(h, &ecb, aes), CKR_OK);
	n = GARBAGE + g++;
	ck_assert_int_eq(f->C_Encrypt(h, data, sizeof(data), NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 32);
	ck_assert_int_eq(f->C_Encrypt(h, data, sizeof(data), out, &n), CKR_OK);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, data, sizeof(data)), CKR_OK);
	n = GARBAGE + g++;
	ck_assert_int_eq(f->C_DigestFinal(h, NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 32);

	/* an output count that the call fails before setting */
	n = GARBAGE + g++;
	ck_assert_int_eq(f->C_FindObjects(h, found, 4, &n), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);

	log = finalize_and_read_log();
	assert_no_garbage(log, g);
	/* what was set is there: the counts after the calls */
	ck_assert_msg(strstr(log, "C_Sign: outLen=64\n") != NULL, "log:\n%s", log);
	ck_assert_msg(strstr(log, "C_DigestFinal: outLen=32\n") != NULL, "log:\n%s", log);
	ck_assert_msg(strstr(log, "C_Encrypt: outLen=32\n") != NULL, "log:\n%s", log);
	ck_assert_msg(strstr(log, "C_GetSlotList: count=") != NULL, "log:\n%s", log);
	free(log);
}
END_TEST

/* With a buffer the caller's count is an input, and is traced as such. */
START_TEST(buffer_sizes_are_traced)
{
	CK_SLOT_ID list[16];
	CK_ULONG n = 16;
	char *log;

	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	log = finalize_and_read_log();
	ck_assert_msg(strstr(log, "count=16)") != NULL, "log:\n%s", log);
	free(log);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("trace");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, length_queries_trace_no_garbage);
	tcase_add_test(tc, buffer_sizes_are_traced);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
