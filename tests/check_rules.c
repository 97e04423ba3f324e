/*
 * The Cryptoki rules SoftHSM breaks and signet enforces in front of it, on
 * a real SoftHSMv2 fallback token: the fallback must answer as PKCS#11 says,
 * not as SoftHSM happens to.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/cryptoki.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

#define SO_PIN "87654321"
#define ADMIN_PIN "1111"
#define USER_PIN "123456"

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE h;

static CK_BBOOL yes = CK_TRUE;
static CK_BBOOL no = CK_FALSE;

/* A token whose PIN policy is `policy`, with a user session logged in once the PIN was changed. */
static void start(const char *policy)
{
	dir = tu_tempdir();
	h = sf_user_session(dir, policy, "rules", SO_PIN, USER_PIN, &f, &slot);
}

static void setup(void)
{
	start("");
}

static void teardown(void)
{
	f->C_Finalize(NULL);
	free(dir);
}

static CK_OBJECT_HANDLE aes_key(CK_ATTRIBUTE_TYPE use)
{
	return sf_secret_key(f, h, CKM_AES_KEY_GEN, &use, 1);
}

static CK_OBJECT_HANDLE rsa_public_wrapping_key(void)
{
	CK_MECHANISM gen = { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 };
	CK_ULONG bits = 2048;
	CK_ATTRIBUTE pub[] = {
		{ CKA_MODULUS_BITS, &bits, sizeof(bits) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_WRAP, &yes, sizeof(yes) },
	};
	CK_ATTRIBUTE priv[] = {
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_UNWRAP, &yes, sizeof(yes) },
	};
	CK_OBJECT_HANDLE pubk, privk;

	ck_assert_int_eq(f->C_GenerateKeyPair(h, &gen, pub, 3, priv, 2, &pubk, &privk), CKR_OK);
	return pubk;
}

/* Whatever the wrapping mechanism, a key that may not leave is CKR_KEY_UNEXTRACTABLE. */
START_TEST(wrapping_an_unextractable_key_says_so)
{
	CK_OBJECT_HANDLE wrapping = aes_key(CKA_WRAP), rsa = rsa_public_wrapping_key();
	CK_OBJECT_HANDLE key = aes_key(CKA_ENCRYPT);
	CK_BYTE iv[16] = { 0 }, out[512];
	CK_MECHANISM mechs[] = {
		{ CKM_AES_KEY_WRAP, NULL, 0 },
		{ CKM_AES_KEY_WRAP_PAD, NULL, 0 },
		{ CKM_AES_CBC, iv, sizeof(iv) },
		{ CKM_AES_ECB, NULL, 0 },
	};
	CK_MECHANISM rsa_mechs[] = {
		{ CKM_RSA_PKCS, NULL, 0 },
		{ CKM_RSA_X_509, NULL, 0 },
	};
	CK_ULONG len;

	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		len = sizeof(out);
		ck_assert_msg(f->C_WrapKey(h, &mechs[i], wrapping, key, out, &len) == CKR_KEY_UNEXTRACTABLE,
			      "mechanism 0x%lx", (unsigned long)mechs[i].mechanism);
		len = 0;
		ck_assert_msg(f->C_WrapKey(h, &mechs[i], wrapping, key, NULL, &len) == CKR_KEY_UNEXTRACTABLE,
			      "length query, mechanism 0x%lx", (unsigned long)mechs[i].mechanism);
	}
	for (size_t i = 0; i < sizeof(rsa_mechs) / sizeof(rsa_mechs[0]); i++) {
		len = sizeof(out);
		ck_assert_msg(f->C_WrapKey(h, &rsa_mechs[i], rsa, key, out, &len) == CKR_KEY_UNEXTRACTABLE,
			      "mechanism 0x%lx", (unsigned long)rsa_mechs[i].mechanism);
	}
}
END_TEST

static CK_OBJECT_HANDLE data_object(const char *value)
{
	CK_OBJECT_CLASS cls = CKO_DATA;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_TOKEN, &no, sizeof(no) },
		{ CKA_VALUE, (void *)value, strlen(value) },
	};
	CK_OBJECT_HANDLE o;

	ck_assert_int_eq(f->C_CreateObject(h, t, 3, &o), CKR_OK);
	return o;
}

/* A data object's value may be changed (CKA_MODIFIABLE defaults to true), so a copy may change it too. */
START_TEST(copy_may_change_what_the_class_allows)
{
	CK_OBJECT_HANDLE o = data_object("first"), copy;
	CK_ATTRIBUTE change = { CKA_VALUE, "second", 6 };
	char got[16] = "";
	CK_ATTRIBUTE read = { CKA_VALUE, got, sizeof(got) };

	ck_assert_int_eq(f->C_CopyObject(h, o, &change, 1, &copy), CKR_OK);
	ck_assert_int_eq(f->C_GetAttributeValue(h, copy, &read, 1), CKR_OK);
	ck_assert_uint_eq(read.ulValueLen, 6);
	ck_assert_mem_eq(got, "second", 6);
	read.ulValueLen = sizeof(got);
	ck_assert_int_eq(f->C_GetAttributeValue(h, o, &read, 1), CKR_OK);
	ck_assert_uint_eq(read.ulValueLen, 5);
	ck_assert_mem_eq(got, "first", 5);
}
END_TEST

/* What the class does not let change stays refused, and an unmodifiable object's value stays too. */
START_TEST(copy_refuses_what_the_class_does_not_allow)
{
	CK_OBJECT_HANDLE o = data_object("first"), locked, copy;
	CK_OBJECT_CLASS other = CKO_SECRET_KEY;
	CK_ATTRIBUTE change_class = { CKA_CLASS, &other, sizeof(other) };
	CK_ATTRIBUTE lock = { CKA_MODIFIABLE, &no, sizeof(no) };
	CK_ATTRIBUTE change = { CKA_VALUE, "second", 6 };
	CK_ATTRIBUTE unknown = { CKA_MODULUS, "x", 1 };

	ck_assert_int_eq(f->C_CopyObject(h, o, &change_class, 1, &copy), CKR_ATTRIBUTE_READ_ONLY);
	ck_assert_int_eq(f->C_CopyObject(h, o, &unknown, 1, &copy), CKR_ATTRIBUTE_TYPE_INVALID);
	ck_assert_int_eq(f->C_CopyObject(h, o, &lock, 1, &locked), CKR_OK);
	ck_assert_int_eq(f->C_CopyObject(h, locked, &change, 1, &copy), CKR_ATTRIBUTE_READ_ONLY);
}
END_TEST

/* Setting a one-way attribute to the value it already has changes nothing and is no error. */
START_TEST(latching_attribute_to_its_own_value_is_ok)
{
	CK_OBJECT_HANDLE key = aes_key(CKA_ENCRYPT);
	CK_ATTRIBUTE sensitive = { CKA_SENSITIVE, &yes, sizeof(yes) };
	CK_ATTRIBUTE unextractable = { CKA_EXTRACTABLE, &no, sizeof(no) };
	CK_ATTRIBUTE weaken = { CKA_SENSITIVE, &no, sizeof(no) };
	CK_BBOOL got = CK_FALSE;
	CK_ATTRIBUTE read = { CKA_SENSITIVE, &got, sizeof(got) };

	ck_assert_int_eq(f->C_SetAttributeValue(h, key, &sensitive, 1), CKR_OK);
	ck_assert_int_eq(f->C_SetAttributeValue(h, key, &unextractable, 1), CKR_OK);
	ck_assert_int_eq(f->C_SetAttributeValue(h, key, &weaken, 1), CKR_ATTRIBUTE_READ_ONLY);
	ck_assert_int_eq(f->C_GetAttributeValue(h, key, &read, 1), CKR_OK);
	ck_assert_int_eq(got, CK_TRUE);
}
END_TEST

/* Without a must-change policy, setting the same PIN again is the user's choice. */
START_TEST(same_pin_again_is_allowed_without_must_change)
{
	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)USER_PIN, 6, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, 6), CKR_OK);
}
END_TEST

/* While the PIN must be changed, "changing" it to itself is refused. */
START_TEST(same_pin_is_refused_while_it_must_change)
{
	CK_SESSION_HANDLE so;

	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &so), CKR_OK);
	ck_assert_int_eq(f->C_Login(so, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, 8), CKR_OK);
	ck_assert_int_eq(f->C_InitPIN(so, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4), CKR_OK);
	ck_assert_int_eq(f->C_Logout(so), CKR_OK);
	ck_assert_int_eq(f->C_SetPIN(h, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4, (CK_UTF8CHAR_PTR)ADMIN_PIN, 4),
			 CKR_PIN_INVALID);
}
END_TEST

/* C_GetOperationState cannot save the operation, and leaves it running. */
START_TEST(operation_state_leaves_the_operation_running)
{
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
	CK_BYTE state[256], digest[32];
	CK_ULONG len = sizeof(state), dlen = sizeof(digest);
	CK_RV rv;

	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, (CK_BYTE_PTR)"abc", 3), CKR_OK);
	rv = f->C_GetOperationState(h, state, &len);
	ck_assert_msg(rv == CKR_STATE_UNSAVEABLE || rv == CKR_FUNCTION_NOT_SUPPORTED, "rv 0x%lx", (unsigned long)rv);
	len = 0;
	rv = f->C_GetOperationState(h, NULL, &len);
	ck_assert_msg(rv == CKR_STATE_UNSAVEABLE || rv == CKR_FUNCTION_NOT_SUPPORTED, "rv 0x%lx", (unsigned long)rv);
	ck_assert_int_eq(f->C_DigestFinal(h, digest, &dlen), CKR_OK);
	ck_assert_uint_eq(dlen, 32);
	/* SHA-256("abc") starts ba7816bf */
	ck_assert_int_eq(digest[0], 0xba);
	ck_assert_int_eq(digest[1], 0x78);
}
END_TEST

/* The flags of every listed mechanism match what it can do. */
START_TEST(mechanism_flags_are_only_what_the_mechanism_does)
{
	CK_MECHANISM_TYPE list[256];
	CK_ULONG n = 256;
	CK_MECHANISM_INFO info;
	const CK_FLAGS ops = CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN | CKF_SIGN_RECOVER | CKF_VERIFY |
			     CKF_VERIFY_RECOVER | CKF_GENERATE | CKF_GENERATE_KEY_PAIR | CKF_WRAP | CKF_UNWRAP |
			     CKF_DERIVE;
	struct { CK_MECHANISM_TYPE m; CK_FLAGS allowed; } expect[] = {
		{ CKM_ECDSA_SHA256, CKF_SIGN | CKF_VERIFY },
		{ CKM_ECDSA_SHA1, CKF_SIGN | CKF_VERIFY },
		{ CKM_SHA256_RSA_PKCS, CKF_SIGN | CKF_VERIFY },
		{ CKM_ECDSA, CKF_SIGN | CKF_VERIFY },
		{ CKM_SHA256, CKF_DIGEST },
		{ CKM_ECDH1_DERIVE, CKF_DERIVE },
		{ CKM_AES_KEY_GEN, CKF_GENERATE },
		{ CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR },
	};

	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		ck_assert_int_eq(f->C_GetMechanismInfo(slot, expect[i].m, &info), CKR_OK);
		ck_assert_msg((info.flags & ops) != 0 && (info.flags & ops & ~expect[i].allowed) == 0,
			      "mechanism 0x%lx has flags 0x%lx", (unsigned long)expect[i].m,
			      (unsigned long)info.flags);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rules");
	TCase *tc = tcase_create("fallback");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, wrapping_an_unextractable_key_says_so);
	tcase_add_test(tc, copy_may_change_what_the_class_allows);
	tcase_add_test(tc, copy_refuses_what_the_class_does_not_allow);
	tcase_add_test(tc, latching_attribute_to_its_own_value_is_ok);
	tcase_add_test(tc, same_pin_again_is_allowed_without_must_change);
	tcase_add_test(tc, same_pin_is_refused_while_it_must_change);
	tcase_add_test(tc, operation_state_leaves_the_operation_running);
	tcase_add_test(tc, mechanism_flags_are_only_what_the_mechanism_does);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
