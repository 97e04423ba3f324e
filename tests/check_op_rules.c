/*
 * The operation rules of PKCS#11 that SoftHSM 2.6 does not keep, kept by
 * signet in front of it, on a real SoftHSMv2 fallback token:
 *  - an operation that went single-part (C_Digest, C_Encrypt, C_Sign, even
 *    as a length query) cannot go on multi-part, and one that went
 *    multi-part cannot finish single-part: CKR_OPERATION_ACTIVE, and the
 *    operation stays as it was;
 *  - a second C_*Init of a kind already active is CKR_OPERATION_ACTIVE;
 *  - a NULL argument is CKR_ARGUMENTS_BAD whether or not an operation is
 *    active (and it ends an active one).
 * Each rule is checked on a native mechanism (SoftHSM does it all) and,
 * for signatures, on one signet composes (CKM_ECDSA_SHA256 over CKM_ECDSA).
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pkcs11/cryptoki.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

#define SO_PIN "87654321"
#define USER_PIN "123456"

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static CK_SLOT_ID slot;
static CK_SESSION_HANDLE h;

static CK_BYTE msg[] = "the operation rules, in more than one piece";
static CK_BYTE iv[16] = { 1, 2, 3 };

static void setup(void)
{
	dir = tu_tempdir();
	h = sf_user_session(dir, "", "op rules", SO_PIN, USER_PIN, &f, &slot);
}

static void teardown(void)
{
	f->C_Finalize(NULL);
	free(dir);
}

/* A session key: AES-256 for encryption, or a generic secret for HMAC. */
static CK_OBJECT_HANDLE secret_key(CK_MECHANISM_TYPE gen_type, CK_ATTRIBUTE_TYPE use1, CK_ATTRIBUTE_TYPE use2)
{
	CK_ATTRIBUTE_TYPE uses[] = { use1, use2 };

	return sf_secret_key(f, h, gen_type, uses, 2);
}

static CK_OBJECT_HANDLE ec_key_pair(CK_OBJECT_HANDLE *pub)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) }, { CKA_VERIFY, &yes, 1 },
			      { CKA_TOKEN, &no, 1 } };
	CK_ATTRIBUTE st[] = { { CKA_SIGN, &yes, 1 }, { CKA_TOKEN, &no, 1 } };
	CK_OBJECT_HANDLE priv;

	ck_assert_int_eq(f->C_GenerateKeyPair(h, &gen, pt, 3, st, 2, pub, &priv), CKR_OK);
	return priv;
}

static void sha256(const CK_BYTE *data, size_t len, CK_BYTE out[32])
{
	unsigned int n = 0;

	ck_assert_int_eq(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
	ck_assert_uint_eq(n, 32);
}

START_TEST(single_part_digest_cannot_go_on_multi_part)
{
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	CK_BYTE out[32], want[32];
	CK_ULONG len = 0;

	ck_assert_int_eq(f->C_DigestInit(h, &m), CKR_OK);
	ck_assert_int_eq(f->C_Digest(h, msg, sizeof(msg), NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(f->C_DigestUpdate(h, msg, sizeof(msg)), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OPERATION_ACTIVE);
	/* The refused calls changed nothing: the digest is of the single part. */
	ck_assert_int_eq(f->C_Digest(h, msg, sizeof(msg), out, &len), CKR_OK);
	sha256(msg, sizeof(msg), want);
	ck_assert_mem_eq(out, want, 32);
}
END_TEST

START_TEST(multi_part_digest_cannot_finish_single_part)
{
	CK_MECHANISM m = { CKM_SHA256, NULL, 0 };
	CK_BYTE out[32], want[32];
	CK_ULONG len = 0;

	ck_assert_int_eq(f->C_DigestInit(h, &m), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, msg, 10), CKR_OK);
	ck_assert_int_eq(f->C_DigestFinal(h, NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(f->C_Digest(h, msg, sizeof(msg), out, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OK);
	sha256(msg, 10, want);
	ck_assert_mem_eq(out, want, 32);
}
END_TEST

/* AES-CBC-PAD decryption of ct with key: the plaintext's length. */
static CK_ULONG decrypt(CK_OBJECT_HANDLE key, const CK_BYTE *ct, CK_ULONG ct_len, CK_BYTE *pt, CK_ULONG cap)
{
	CK_MECHANISM m = { CKM_AES_CBC_PAD, iv, sizeof(iv) };
	CK_ULONG len = cap;

	ck_assert_int_eq(f->C_DecryptInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Decrypt(h, (CK_BYTE_PTR)ct, ct_len, pt, &len), CKR_OK);
	return len;
}

START_TEST(single_part_encryption_cannot_go_on_multi_part)
{
	CK_OBJECT_HANDLE key = secret_key(CKM_AES_KEY_GEN, CKA_ENCRYPT, CKA_DECRYPT);
	CK_MECHANISM m = { CKM_AES_CBC_PAD, iv, sizeof(iv) };
	CK_BYTE ct[128], pt[128];
	CK_ULONG len = 0, part = sizeof(ct);

	ck_assert_int_eq(f->C_EncryptInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Encrypt(h, msg, sizeof(msg), NULL, &len), CKR_OK);
	ck_assert_uint_ge(len, sizeof(msg));
	ck_assert_int_eq(f->C_EncryptUpdate(h, msg, sizeof(msg), ct, &part), CKR_OPERATION_ACTIVE);
	part = sizeof(ct);
	ck_assert_int_eq(f->C_EncryptFinal(h, ct, &part), CKR_OPERATION_ACTIVE);
	len = sizeof(ct);
	ck_assert_int_eq(f->C_Encrypt(h, msg, sizeof(msg), ct, &len), CKR_OK);
	ck_assert_uint_eq(decrypt(key, ct, len, pt, sizeof(pt)), sizeof(msg));
	ck_assert_mem_eq(pt, msg, sizeof(msg));
}
END_TEST

START_TEST(multi_part_encryption_cannot_finish_single_part)
{
	CK_OBJECT_HANDLE key = secret_key(CKM_AES_KEY_GEN, CKA_ENCRYPT, CKA_DECRYPT);
	CK_MECHANISM m = { CKM_AES_CBC_PAD, iv, sizeof(iv) };
	CK_BYTE ct[128], pt[128];
	CK_ULONG len = sizeof(ct), total, more;

	ck_assert_int_eq(f->C_EncryptInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_EncryptUpdate(h, msg, 32, ct, &len), CKR_OK);
	total = len;
	more = sizeof(ct) - total;
	ck_assert_int_eq(f->C_Encrypt(h, msg, sizeof(msg), ct + total, &more), CKR_OPERATION_ACTIVE);
	more = sizeof(ct) - total;
	ck_assert_int_eq(f->C_EncryptFinal(h, ct + total, &more), CKR_OK);
	total += more;
	ck_assert_uint_eq(decrypt(key, ct, total, pt, sizeof(pt)), 32);
	ck_assert_mem_eq(pt, msg, 32);
}
END_TEST

/* Signatures by a mechanism SoftHSM does itself (HMAC) and one signet composes (ECDSA over SHA-256). */
static const struct {
	CK_MECHANISM_TYPE mech;
	bool ec;
} signers[] = {
	{ CKM_SHA256_HMAC, false },
	{ CKM_ECDSA_SHA256, true },
};

/* Makes the keys of signers[i] (for HMAC one secret key does both) and starts a signature: the key that verifies it. */
static CK_OBJECT_HANDLE start_signing(int i)
{
	CK_MECHANISM m = { signers[i].mech, NULL, 0 };
	CK_OBJECT_HANDLE sk, vk;

	if (signers[i].ec)
		sk = ec_key_pair(&vk);
	else
		sk = vk = secret_key(CKM_GENERIC_SECRET_KEY_GEN, CKA_SIGN, CKA_VERIFY);
	ck_assert_int_eq(f->C_SignInit(h, &m, sk), CKR_OK);
	return vk;
}

static void verifies(int i, CK_OBJECT_HANDLE key, const CK_BYTE *data, CK_ULONG len, CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_MECHANISM m = { signers[i].mech, NULL, 0 };

	ck_assert_int_eq(f->C_VerifyInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, (CK_BYTE_PTR)data, len, sig, sig_len), CKR_OK);
}

START_TEST(single_part_signature_cannot_go_on_multi_part)
{
	CK_OBJECT_HANDLE vk = start_signing(_i);
	CK_BYTE sig[128];
	CK_ULONG len = 0;

	ck_assert_int_eq(f->C_Sign(h, msg, sizeof(msg), NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 32 * (signers[_i].ec ? 2 : 1));
	ck_assert_int_eq(f->C_SignUpdate(h, msg, sizeof(msg)), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_SignFinal(h, sig, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OK);
	verifies(_i, vk, msg, sizeof(msg), sig, len);
}
END_TEST

START_TEST(multi_part_signature_cannot_finish_single_part)
{
	CK_OBJECT_HANDLE vk = start_signing(_i);
	CK_BYTE sig[128];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(f->C_SignUpdate(h, msg, 10), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_SignUpdate(h, msg + 10, sizeof(msg) - 10), CKR_OK);
	len = sizeof(sig);
	ck_assert_int_eq(f->C_SignFinal(h, sig, &len), CKR_OK);
	verifies(_i, vk, msg, sizeof(msg), sig, len);
}
END_TEST

START_TEST(multi_part_verification_cannot_finish_single_part)
{
	CK_MECHANISM m = { signers[_i].mech, NULL, 0 };
	CK_OBJECT_HANDLE vk = start_signing(_i);
	CK_BYTE sig[128];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(f->C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OK);
	ck_assert_int_eq(f->C_VerifyInit(h, &m, vk), CKR_OK);
	ck_assert_int_eq(f->C_VerifyUpdate(h, msg, sizeof(msg)), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, msg, sizeof(msg), sig, len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_VerifyFinal(h, sig, len), CKR_OK);
}
END_TEST

START_TEST(second_init_of_an_active_kind_is_refused)
{
	CK_BYTE param = 0, out[32], want[32], ct[128];
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 }, sha_param = { CKM_SHA256, &param, 1 };
	CK_MECHANISM ecdsa = { CKM_ECDSA_SHA256, NULL, 0 }, raw = { CKM_ECDSA, NULL, 0 };
	CK_MECHANISM aes = { CKM_AES_CBC_PAD, iv, sizeof(iv) };
	CK_OBJECT_HANDLE pub, sk = ec_key_pair(&pub), aes_key = secret_key(CKM_AES_KEY_GEN, CKA_ENCRYPT, CKA_DECRYPT);
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(out);

	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, msg, 5), CKR_OK);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OPERATION_ACTIVE);
	/* Whatever else is wrong with it: the operation in the way is what the caller must hear about. */
	ck_assert_int_eq(f->C_DigestInit(h, &sha_param), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OK);
	sha256(msg, 5, want);
	ck_assert_mem_eq(out, want, 32);

	ck_assert_int_eq(f->C_SignInit(h, &ecdsa, sk), CKR_OK);
	ck_assert_int_eq(f->C_SignInit(h, &ecdsa, sk), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_SignInit(h, &raw, sk), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_SignInit(h, &ecdsa, 0x4242), CKR_OPERATION_ACTIVE);
	len = sizeof(sig);
	ck_assert_int_eq(f->C_Sign(h, msg, sizeof(msg), sig, &len), CKR_OK);
	ck_assert_int_eq(f->C_VerifyInit(h, &ecdsa, pub), CKR_OK);
	ck_assert_int_eq(f->C_VerifyInit(h, &ecdsa, pub), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_Verify(h, msg, sizeof(msg), sig, len), CKR_OK);

	ck_assert_int_eq(f->C_EncryptInit(h, &aes, aes_key), CKR_OK);
	ck_assert_int_eq(f->C_EncryptInit(h, &aes, aes_key), CKR_OPERATION_ACTIVE);
	len = sizeof(ct);
	ck_assert_int_eq(f->C_Encrypt(h, msg, sizeof(msg), ct, &len), CKR_OK);
}
END_TEST

START_TEST(null_arguments_are_refused_first)
{
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 };
	CK_BYTE out[256];
	CK_ULONG len = sizeof(out);

	/* No operation is active: still the NULL is what is wrong. */
	ck_assert_int_eq(f->C_Sign(h, NULL, 4, out, &len), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Sign(h, msg, 4, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_SignUpdate(h, NULL, 4), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_SignFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Verify(h, msg, 4, NULL, 64), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_VerifyUpdate(h, NULL, 4), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_VerifyFinal(h, NULL, 64), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Digest(h, msg, 4, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DigestUpdate(h, NULL, 4), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DigestFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Encrypt(h, NULL, 4, out, &len), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_EncryptUpdate(h, msg, 4, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_EncryptFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Decrypt(h, NULL, 4, out, &len), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DecryptUpdate(h, msg, 4, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DecryptFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_SignRecover(h, NULL, 4, out, &len), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_VerifyRecover(h, msg, 4, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Sign(h, msg, 4, out, &len), CKR_OPERATION_NOT_INITIALIZED);

	/* Active and gone multi-part: the NULL still comes first, and it ends the operation. */
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, msg, 4), CKR_OK);
	ck_assert_int_eq(f->C_Digest(h, NULL, 4, out, &len), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("op_rules");
	TCase *tc = tcase_create("fallback");
	int n_signers = (int)(sizeof(signers) / sizeof(signers[0]));

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, single_part_digest_cannot_go_on_multi_part);
	tcase_add_test(tc, multi_part_digest_cannot_finish_single_part);
	tcase_add_test(tc, single_part_encryption_cannot_go_on_multi_part);
	tcase_add_test(tc, multi_part_encryption_cannot_finish_single_part);
	tcase_add_loop_test(tc, single_part_signature_cannot_go_on_multi_part, 0, n_signers);
	tcase_add_loop_test(tc, multi_part_signature_cannot_finish_single_part, 0, n_signers);
	tcase_add_loop_test(tc, multi_part_verification_cannot_finish_single_part, 0, n_signers);
	tcase_add_test(tc, second_init_of_an_active_kind_is_refused);
	tcase_add_test(tc, null_arguments_are_refused_first);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
