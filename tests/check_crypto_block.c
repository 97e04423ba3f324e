/* Single-block ciphers, random bytes and secret comparison: known answers and every refusal. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "crypto/block.h"
#include "crypto/cr.h"
#include "crypto/random.h"
#include "crypto/wipe.h"
#include "tests/check_util.h"

/*
 * AES: NIST SP 800-38A appendix F.1 (ECB), first block of each key size.
 * 3DES: NIST SP 800-67 Rev. 1 appendix B, first block; and the PIV default
 * management key (01..08 three times), as `openssl enc -des-ede3-ecb -nopad` gives it.
 */
static const struct kat {
	enum cr_block_alg alg;
	const char *key, *plain, *cipher;
} kats[] = {
	{ CR_BLOCK_AES128, "2b7e151628aed2a6abf7158809cf4f3c",
	  "6bc1bee22e409f96e93d7e117393172a", "3ad77bb40d7a3660a89ecaf32466ef97" },
	{ CR_BLOCK_AES192, "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
	  "6bc1bee22e409f96e93d7e117393172a", "bd334f1d6e45f25ff712a214571fa5cc" },
	{ CR_BLOCK_AES256, "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
	  "6bc1bee22e409f96e93d7e117393172a", "f3eed1bdb5d2a03c064b5a7e3db181f8" },
	{ CR_BLOCK_3DES, "0123456789abcdef23456789abcdef01456789abcdef0123",
	  "5468652071756663", "a826fd8ce53b855f" },
	{ CR_BLOCK_3DES, "010203040506070801020304050607080102030405060708",
	  "0001020304050607", "90152a4c1cf42780" },
};

START_TEST(test_sizes)
{
	ck_assert_uint_eq(cr_block_size(CR_BLOCK_3DES), 8);
	ck_assert_uint_eq(cr_block_size(CR_BLOCK_AES128), 16);
	ck_assert_uint_eq(cr_block_size(CR_BLOCK_AES192), 16);
	ck_assert_uint_eq(cr_block_size(CR_BLOCK_AES256), 16);
	ck_assert_uint_eq(cr_block_key_size(CR_BLOCK_3DES), 24);
	ck_assert_uint_eq(cr_block_key_size(CR_BLOCK_AES128), 16);
	ck_assert_uint_eq(cr_block_key_size(CR_BLOCK_AES192), 24);
	ck_assert_uint_eq(cr_block_key_size(CR_BLOCK_AES256), 32);
	ck_assert_uint_eq(cr_block_size((enum cr_block_alg)4), 0);
	ck_assert_uint_eq(cr_block_key_size((enum cr_block_alg)-1), 0);
}
END_TEST

START_TEST(test_known_answers)
{
	const struct kat *k = &kats[_i];
	uint8_t key[32], plain[16], cipher[16], got[16];
	size_t key_len = tu_unhex(k->key, key, sizeof(key));
	size_t block = tu_unhex(k->plain, plain, sizeof(plain));

	ck_assert_uint_eq(tu_unhex(k->cipher, cipher, sizeof(cipher)), block);
	ck_assert_uint_eq(block, cr_block_size(k->alg));

	memset(got, 0xAA, sizeof(got));
	ck_assert_int_eq(cr_block_crypt(k->alg, key, key_len, true, plain, got), CR_OK);
	ck_assert_mem_eq(got, cipher, block);
	/* Only one block is written. */
	if (block < sizeof(got))
		ck_assert_uint_eq(got[block], 0xAA);

	ck_assert_int_eq(cr_block_crypt(k->alg, key, key_len, false, cipher, got), CR_OK);
	ck_assert_mem_eq(got, plain, block);

	/* In place, both ways. */
	memcpy(got, plain, block);
	ck_assert_int_eq(cr_block_crypt(k->alg, key, key_len, true, got, got), CR_OK);
	ck_assert_mem_eq(got, cipher, block);
	ck_assert_int_eq(cr_block_crypt(k->alg, key, key_len, false, got, got), CR_OK);
	ck_assert_mem_eq(got, plain, block);
}
END_TEST

START_TEST(test_refusals)
{
	uint8_t key[32] = { 1 }, in[16] = { 2 }, out[16];

	/* A key whose length is another algorithm's. */
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_3DES, key, 16, true, in, out), CR_E_ARGS);
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_3DES, key, 32, true, in, out), CR_E_ARGS);
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_AES128, key, 24, true, in, out), CR_E_ARGS);
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_AES192, key, 16, true, in, out), CR_E_ARGS);
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_AES256, key, 24, false, in, out), CR_E_ARGS);
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_AES128, key, 0, true, in, out), CR_E_ARGS);
	/* Not an algorithm. */
	ck_assert_int_eq(cr_block_crypt((enum cr_block_alg)4, key, 16, true, in, out), CR_E_ARGS);
	ck_assert_int_eq(cr_block_crypt((enum cr_block_alg)-1, key, 16, true, in, out), CR_E_ARGS);
	/* NULL pointers. */
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_AES128, NULL, 16, true, in, out), CR_E_ARGS);
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_AES128, key, 16, true, NULL, out), CR_E_ARGS);
	ck_assert_int_eq(cr_block_crypt(CR_BLOCK_AES128, key, 16, true, in, NULL), CR_E_ARGS);
}
END_TEST

START_TEST(test_random)
{
	uint8_t a[32], b[32], zero[32] = { 0 };

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(cr_random(a, sizeof(a)), CR_OK);
	ck_assert_int_eq(cr_random(b, sizeof(b)), CR_OK);
	/* 2^-256 chances of a false failure for each. */
	ck_assert_mem_ne(a, zero, sizeof(a));
	ck_assert_mem_ne(a, b, sizeof(a));
	ck_assert_int_eq(cr_random(NULL, 0), CR_OK);
	ck_assert_int_eq(cr_random(NULL, 1), CR_E_ARGS);
}
END_TEST

START_TEST(test_secret_equal)
{
	const uint8_t a[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t b[8];

	memcpy(b, a, sizeof(b));
	ck_assert(cr_secret_equal(a, b, sizeof(a)));
	b[0] ^= 1;
	ck_assert(!cr_secret_equal(a, b, sizeof(a)));
	b[0] ^= 1;
	b[7] ^= 0x80;
	ck_assert(!cr_secret_equal(a, b, sizeof(a)));
	/* Only len bytes count. */
	ck_assert(cr_secret_equal(a, b, 7));
	ck_assert(cr_secret_equal(a, b, 0));
}
END_TEST

static Suite *block_suite(void)
{
	Suite *s = suite_create("crypto_block");
	TCase *tc = tcase_create("block");

	tcase_add_test(tc, test_sizes);
	tcase_add_loop_test(tc, test_known_answers, 0, (int)(sizeof(kats) / sizeof(kats[0])));
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_secret_equal);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(block_suite());
}
