/*
 * RSA padding, proved against OpenSSL: blocks we pad and then put through
 * the raw private-key operation must verify as ordinary signatures, and
 * blocks OpenSSL encrypts must decode back to the plaintext.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/rsa_pad.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

static EVP_PKEY *key2048;
static EVP_PKEY *key1025; /* mod_bits - 1 is a multiple of 8: PSS block starts with 00 */

static const char *const md_names[CR_HASH_COUNT] = {
	"SHA1", "SHA224", "SHA256", "SHA384", "SHA512",
	"SHA3-224", "SHA3-256", "SHA3-384", "SHA3-512",
};

static const EVP_MD *md_of(enum cr_hash h)
{
	return EVP_get_digestbyname(md_names[h]);
}

static size_t key_bytes(EVP_PKEY *key)
{
	return (size_t)EVP_PKEY_get_size(key);
}

/* The raw private-key operation, as a token doing CKM_RSA_X_509 would. */
static void raw_private(EVP_PKEY *key, const uint8_t *in, uint8_t *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	size_t k = key_bytes(key), out_len = k;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_decrypt_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_decrypt(ctx, out, &out_len, in, k), 1);
	ck_assert_uint_eq(out_len, k);
	EVP_PKEY_CTX_free(ctx);
}

/* The raw public-key operation, to look at a signature's encoded block. */
static void raw_public(EVP_PKEY *key, const uint8_t *in, uint8_t *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	size_t k = key_bytes(key), out_len = k;

	ck_assert_int_eq(EVP_PKEY_verify_recover_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_verify_recover(ctx, out, &out_len, in, k), 1);
	ck_assert_uint_eq(out_len, k);
	EVP_PKEY_CTX_free(ctx);
}

static const uint8_t message[] = "The quick brown fox jumps over the lazy dog";

/* (a) PKCS#1 v1.5: pad on the host, raw-sign, OpenSSL verifies RSA-<hash>. */
START_TEST(test_pkcs1_sign_block_verifies)
{
	enum cr_hash h = (enum cr_hash)_i;
	uint8_t hash[CR_HASH_MAX_SIZE], block[256], sig[256];
	size_t hash_len = sizeof(hash), k = key_bytes(key2048);
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();

	ck_assert_int_eq(cr_hash_once(h, message, sizeof(message), hash, &hash_len), CR_OK);
	ck_assert_int_eq(cr_rsa_pkcs1_sign_block(h, hash, hash_len, block, k), CR_OK);
	raw_private(key2048, block, sig);
	ck_assert_int_eq(EVP_DigestVerifyInit(mctx, NULL, md_of(h), NULL, key2048), 1);
	ck_assert_int_eq(EVP_DigestVerify(mctx, sig, k, message, sizeof(message)), 1);
	/* A different message must not verify with the same signature. */
	ck_assert_int_eq(EVP_DigestVerifyInit(mctx, NULL, md_of(h), NULL, key2048), 1);
	ck_assert_int_eq(EVP_DigestVerify(mctx, sig, k, message, sizeof(message) - 1), 0);
	EVP_MD_CTX_free(mctx);
}
END_TEST

/* Type-1 padding of arbitrary data equals OpenSSL's deterministic PKCS#1 signature. */
START_TEST(test_type1_equals_openssl)
{
	uint8_t block[256], ours[256], theirs[256];
	size_t k = key_bytes(key2048), theirs_len = sizeof(theirs);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key2048, NULL);

	ck_assert_int_eq(cr_rsa_pad_pkcs1_type1(message, 20, block, k), CR_OK);
	raw_private(key2048, block, ours);
	ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_sign(ctx, theirs, &theirs_len, message, 20), 1);
	ck_assert_uint_eq(theirs_len, k);
	ck_assert_mem_eq(ours, theirs, k);
	EVP_PKEY_CTX_free(ctx);
}
END_TEST

START_TEST(test_type1_exact_bytes)
{
	const uint8_t want[16] = { 0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				   0xff, 0xff, 0x00, 'a',  'b',  'c',  'd',  'e' };
	uint8_t block[16], info[CR_DIGESTINFO_MAX_SIZE], hash[32];
	size_t info_len = 10;

	ck_assert_int_eq(cr_rsa_pad_pkcs1_type1((const uint8_t *)"abcde", 5, block, 16), CR_OK);
	ck_assert_mem_eq(block, want, 16);
	/* Only 7 bytes of FF would remain: refused. */
	ck_assert_int_eq(cr_rsa_pad_pkcs1_type1((const uint8_t *)"abcdef", 6, block, 16), CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_pad_pkcs1_type1(NULL, 0, block, 11), CR_OK);
	ck_assert_int_eq(block[10], 0x00);
	ck_assert_int_eq(block[9], 0xff);
	ck_assert_int_eq(cr_rsa_pad_pkcs1_type1(NULL, 0, block, 10), CR_E_ARGS);

	memset(hash, 0x11, sizeof(hash));
	ck_assert_int_eq(cr_rsa_digestinfo(CR_HASH_SHA256, hash, 32, info, &info_len), CR_E_BUFFER);
	ck_assert_uint_eq(info_len, 51);
	ck_assert_int_eq(cr_rsa_digestinfo(CR_HASH_SHA256, hash, 32, info, &info_len), CR_OK);
	ck_assert_uint_eq(info_len, 51);
	ck_assert_int_eq(info[0], 0x30);
	ck_assert_int_eq(info[1], 0x31);
	ck_assert_mem_eq(info + 19, hash, 32);
	ck_assert_int_eq(cr_rsa_digestinfo(CR_HASH_SHA256, hash, 31, info, &info_len), CR_E_ARGS);
}
END_TEST

static void pss_sign_and_verify(EVP_PKEY *key, enum cr_hash h, enum cr_hash mgf1, size_t salt_len)
{
	uint8_t mhash[CR_HASH_MAX_SIZE], block[256], sig[256], recovered[256];
	size_t mhash_len = sizeof(mhash), k = key_bytes(key), bits = (size_t)EVP_PKEY_get_bits(key);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

	ck_assert_int_eq(cr_hash_once(h, message, sizeof(message), mhash, &mhash_len), CR_OK);
	ck_assert_int_eq(cr_rsa_pss_encode(h, mgf1, salt_len, bits, mhash, mhash_len, block, k), CR_OK);
	if ((bits - 1) % 8 == 0)
		ck_assert_int_eq(block[0], 0x00);
	ck_assert_int_eq(block[k - 1], 0xbc);
	raw_private(key, block, sig);

	ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, md_of(h)), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md_of(mgf1)), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, (int)salt_len), 1);
	ck_assert_int_eq(EVP_PKEY_verify(ctx, sig, k, mhash, mhash_len), 1);
	mhash[0] ^= 1;
	ck_assert_int_ne(EVP_PKEY_verify(ctx, sig, k, mhash, mhash_len), 1);
	mhash[0] ^= 1;

	/* Our own verifier agrees, on the block recovered from the signature. */
	raw_public(key, sig, recovered);
	ck_assert_mem_eq(recovered, block, k);
	ck_assert_int_eq(cr_rsa_pss_verify(h, mgf1, salt_len, bits, mhash, mhash_len, recovered, k), CR_OK);
	mhash[3] ^= 0x80;
	ck_assert_int_eq(cr_rsa_pss_verify(h, mgf1, salt_len, bits, mhash, mhash_len, recovered, k), CR_E_DATA);
	EVP_PKEY_CTX_free(ctx);
}

/* (b) PSS: our encoding + raw RSA verifies with OpenSSL's PSS verify. */
START_TEST(test_pss_sha256_salt32)
{
	pss_sign_and_verify(key2048, CR_HASH_SHA256, CR_HASH_SHA256, 32);
}
END_TEST

START_TEST(test_pss_odd_modulus)
{
	pss_sign_and_verify(key1025, CR_HASH_SHA256, CR_HASH_SHA256, 32);
	pss_sign_and_verify(key1025, CR_HASH_SHA1, CR_HASH_SHA1, 0);
}
END_TEST

START_TEST(test_pss_mixed_hashes)
{
	pss_sign_and_verify(key2048, CR_HASH_SHA384, CR_HASH_SHA1, 20);
	pss_sign_and_verify(key2048, CR_HASH_SHA512, CR_HASH_SHA256, 64);
	pss_sign_and_verify(key2048, CR_HASH_SHA3_256, CR_HASH_SHA3_256, 32);
}
END_TEST

/* OpenSSL's own PSS signature passes our verifier; salts make each encoding new. */
START_TEST(test_pss_verify_openssl_signature)
{
	uint8_t mhash[32], sig[256], block[256], block2[256];
	size_t mhash_len = sizeof(mhash), sig_len = sizeof(sig), k = key_bytes(key2048);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key2048, NULL);

	ck_assert_int_eq(cr_hash_once(CR_HASH_SHA256, message, sizeof(message), mhash, &mhash_len), CR_OK);
	ck_assert_int_eq(EVP_PKEY_sign_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
	ck_assert_int_eq(EVP_PKEY_sign(ctx, sig, &sig_len, mhash, mhash_len), 1);
	raw_public(key2048, sig, block);
	ck_assert_int_eq(cr_rsa_pss_verify(CR_HASH_SHA256, CR_HASH_SHA256, 32, 2048, mhash, 32, block, k), CR_OK);
	ck_assert_int_eq(cr_rsa_pss_verify(CR_HASH_SHA256, CR_HASH_SHA256, 31, 2048, mhash, 32, block, k),
			 CR_E_DATA);
	ck_assert_int_eq(cr_rsa_pss_verify(CR_HASH_SHA256, CR_HASH_SHA1, 32, 2048, mhash, 32, block, k), CR_E_DATA);

	ck_assert_int_eq(cr_rsa_pss_encode(CR_HASH_SHA256, CR_HASH_SHA256, 32, 2048, mhash, 32, block, k), CR_OK);
	ck_assert_int_eq(cr_rsa_pss_encode(CR_HASH_SHA256, CR_HASH_SHA256, 32, 2048, mhash, 32, block2, k), CR_OK);
	ck_assert_int_ne(memcmp(block, block2, k), 0);
	EVP_PKEY_CTX_free(ctx);
}
END_TEST

START_TEST(test_pss_bad_args)
{
	uint8_t mhash[64] = { 0 }, block[256];

	/* 1024-bit key: emLen 128 holds hLen 64 + salt 62 + 2, not a 63-byte salt. */
	ck_assert_int_eq(cr_rsa_pss_encode(CR_HASH_SHA512, CR_HASH_SHA512, 62, 1024, mhash, 64, block, 128), CR_OK);
	ck_assert_int_eq(cr_rsa_pss_encode(CR_HASH_SHA512, CR_HASH_SHA512, 63, 1024, mhash, 64, block, 128),
			 CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_pss_encode(CR_HASH_SHA256, CR_HASH_SHA256, 32, 2048, mhash, 31, block, 256),
			 CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_pss_encode(CR_HASH_SHA256, CR_HASH_SHA256, 32, 2048, mhash, 32, block, 255),
			 CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_pss_encode(CR_HASH_COUNT, CR_HASH_SHA256, 32, 2048, mhash, 32, block, 256),
			 CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_pss_encode(CR_HASH_SHA256, CR_HASH_COUNT, 32, 2048, mhash, 32, block, 256),
			 CR_E_ARGS);
}
END_TEST

static size_t public_encrypt(EVP_PKEY *key, int padding, enum cr_hash h, enum cr_hash mgf1, const char *label,
			     const uint8_t *msg, size_t msg_len, uint8_t *ct)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	size_t ct_len = key_bytes(key);

	ck_assert_int_eq(EVP_PKEY_encrypt_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, padding), 1);
	if (padding == RSA_PKCS1_OAEP_PADDING) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md_of(h)), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md_of(mgf1)), 1);
		if (label != NULL) {
			/* OpenSSL takes ownership of the label buffer. */
			char *copy = OPENSSL_strdup(label);
			ck_assert_int_eq(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, (int)strlen(label)), 1);
		}
	}
	ck_assert_int_eq(EVP_PKEY_encrypt(ctx, ct, &ct_len, msg, msg_len), 1);
	EVP_PKEY_CTX_free(ctx);
	return ct_len;
}

/* (c) type 2: blocks OpenSSL encrypts decode to the plaintext. */
START_TEST(test_type2_decodes_openssl)
{
	uint8_t ct[256], block[256], out[256];
	size_t k = key_bytes(key2048), out_len = sizeof(out);

	public_encrypt(key2048, RSA_PKCS1_PADDING, 0, 0, NULL, message, 16, ct);
	raw_private(key2048, ct, block);
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, k, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, 16);
	ck_assert_mem_eq(out, message, 16);

	/* Too small a buffer: the exact length comes back. */
	out_len = 15;
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, k, out, &out_len), CR_E_BUFFER);
	ck_assert_uint_eq(out_len, 16);
	out_len = 0;
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, k, NULL, &out_len), CR_E_BUFFER);
	ck_assert_uint_eq(out_len, 16);

	/* A tampered ciphertext decrypts to garbage that must be rejected. */
	ct[100] ^= 0x40;
	raw_private(key2048, ct, block);
	out_len = sizeof(out);
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, k, out, &out_len), CR_E_DATA);
}
END_TEST

/* Hand-made type-2 blocks: each rule of RFC 8017 7.2.2 step 3. */
START_TEST(test_type2_rules)
{
	uint8_t block[32], out[32];
	size_t out_len;

	memset(block, 0x5a, sizeof(block));
	block[0] = 0x00;
	block[1] = 0x02;
	block[10] = 0x00; /* exactly 8 padding bytes */
	out_len = sizeof(out);
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, 32, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, 21);
	ck_assert_int_eq(out[0], 0x5a);

	block[9] = 0x00; /* separator after only 7 padding bytes */
	out_len = sizeof(out);
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, 32, out, &out_len), CR_E_DATA);
	block[9] = 0x5a;

	block[1] = 0x01;
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, 32, out, &out_len), CR_E_DATA);
	block[1] = 0x02;
	block[0] = 0x01;
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, 32, out, &out_len), CR_E_DATA);
	block[0] = 0x00;

	block[10] = 0x5a; /* no separator at all */
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, 32, out, &out_len), CR_E_DATA);
	block[31] = 0x00; /* separator last: empty message */
	out_len = sizeof(out);
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, 32, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, 0);
	block[20] = 0x00; /* the first separator wins */
	out_len = sizeof(out);
	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, 32, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, 11);
	ck_assert_int_eq(out[10], 0x00);

	ck_assert_int_eq(cr_rsa_unpad_pkcs1_type2(block, 10, out, &out_len), CR_E_ARGS);
}
END_TEST

static void oaep_round_trip(enum cr_hash h, enum cr_hash mgf1, const char *label, size_t msg_len)
{
	uint8_t ct[256], block[256], out[256];
	size_t k = key_bytes(key2048), out_len = sizeof(out), label_len = label ? strlen(label) : 0;
	const uint8_t *lbl = (const uint8_t *)label;

	public_encrypt(key2048, RSA_PKCS1_OAEP_PADDING, h, mgf1, label, message, msg_len, ct);
	raw_private(key2048, ct, block);
	ck_assert_int_eq(cr_rsa_oaep_decode(h, mgf1, lbl, label_len, block, k, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, msg_len);
	ck_assert_mem_eq(out, message, msg_len);

	out_len = msg_len > 0 ? msg_len - 1 : 0;
	if (msg_len > 0) {
		ck_assert_int_eq(cr_rsa_oaep_decode(h, mgf1, lbl, label_len, block, k, out, &out_len), CR_E_BUFFER);
		ck_assert_uint_eq(out_len, msg_len);
	}
	/* Wrong label, wrong hash, wrong MGF1 hash. */
	out_len = sizeof(out);
	ck_assert_int_eq(cr_rsa_oaep_decode(h, mgf1, (const uint8_t *)"x", 1, block, k, out, &out_len), CR_E_DATA);
	ck_assert_int_eq(cr_rsa_oaep_decode(h == CR_HASH_SHA1 ? CR_HASH_SHA256 : CR_HASH_SHA1, mgf1, lbl, label_len,
					    block, k, out, &out_len),
			 CR_E_DATA);
	ck_assert_int_eq(cr_rsa_oaep_decode(h, mgf1 == CR_HASH_SHA1 ? CR_HASH_SHA256 : CR_HASH_SHA1, lbl, label_len,
					    block, k, out, &out_len),
			 CR_E_DATA);
	/* One flipped bit anywhere: leading byte, seed, label hash, message. */
	for (size_t pos = 0; pos < k; pos += 37) {
		block[pos] ^= 0x01;
		ck_assert_int_eq(cr_rsa_oaep_decode(h, mgf1, lbl, label_len, block, k, out, &out_len), CR_E_DATA);
		block[pos] ^= 0x01;
	}
}

/* (c) OAEP: blocks OpenSSL encrypts decode to the plaintext; tampering is rejected. */
START_TEST(test_oaep_sha1_default)
{
	oaep_round_trip(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 40);
}
END_TEST

START_TEST(test_oaep_sha256_label)
{
	oaep_round_trip(CR_HASH_SHA256, CR_HASH_SHA256, "signet label", 44);
	oaep_round_trip(CR_HASH_SHA256, CR_HASH_SHA256, NULL, 0);
}
END_TEST

START_TEST(test_oaep_mixed_hashes)
{
	oaep_round_trip(CR_HASH_SHA384, CR_HASH_SHA1, NULL, 10);
	oaep_round_trip(CR_HASH_SHA512, CR_HASH_SHA256, "l", 1);
}
END_TEST

/* Keys too small for the hash, a label length without a label, an all-zero block. */
START_TEST(test_oaep_args)
{
	uint8_t block[256] = { 0 }, out[256];
	size_t out_len = sizeof(out);

	/* 2 * 64 + 2 = 130 bytes is the least SHA-512 allows. */
	ck_assert_int_eq(cr_rsa_oaep_decode(CR_HASH_SHA512, CR_HASH_SHA1, NULL, 0, block, 129, out, &out_len),
			 CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_oaep_decode(CR_HASH_SHA512, CR_HASH_SHA1, NULL, 0, block, 130, out, &out_len),
			 CR_E_DATA);
	ck_assert_int_eq(cr_rsa_oaep_decode(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 3, block, 128, out, &out_len),
			 CR_E_ARGS);
}
END_TEST

/* MGF1 written out in the test (RFC 8017 B.2.1), to hand-build OAEP blocks. */
static void test_mgf1_xor(const EVP_MD *md, const uint8_t *seed, size_t seed_len, uint8_t *buf, size_t len)
{
	uint8_t t[EVP_MAX_MD_SIZE];
	size_t hlen = (size_t)EVP_MD_get_size(md);

	for (uint32_t c = 0; (size_t)c * hlen < len; c++) {
		uint8_t cb[4] = { (uint8_t)(c >> 24), (uint8_t)(c >> 16), (uint8_t)(c >> 8), (uint8_t)c };
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		ck_assert_int_eq(EVP_DigestInit_ex(ctx, md, NULL), 1);
		ck_assert_int_eq(EVP_DigestUpdate(ctx, seed, seed_len), 1);
		ck_assert_int_eq(EVP_DigestUpdate(ctx, cb, 4), 1);
		ck_assert_int_eq(EVP_DigestFinal_ex(ctx, t, NULL), 1);
		EVP_MD_CTX_free(ctx);
		for (size_t i = 0; i < hlen && c * hlen + i < len; i++)
			buf[c * hlen + i] ^= t[i];
	}
}

/* SHA-1 OAEP block of k = 128 bytes with DB = lHash || db_tail, seed 0x33.. */
static void build_oaep_block(const uint8_t *db_tail, size_t tail_len, uint8_t *block)
{
	const size_t k = 128, hlen = 20, db_len = k - hlen - 1;
	uint8_t *seed = block + 1, *db = block + 1 + hlen;

	ck_assert_uint_eq(tail_len, db_len - hlen);
	block[0] = 0;
	memset(seed, 0x33, hlen);
	ck_assert_int_eq(EVP_Digest("", 0, db, NULL, EVP_sha1(), NULL), 1);
	memcpy(db + hlen, db_tail, tail_len);
	test_mgf1_xor(EVP_sha1(), seed, hlen, db, db_len);
	test_mgf1_xor(EVP_sha1(), db, db_len, seed, hlen);
}

/* The structure after lHash: zeros, then 0x01, then the message. */
START_TEST(test_oaep_structure)
{
	uint8_t tail[87], block[128], out[128];
	size_t out_len = sizeof(out);

	memset(tail, 0, sizeof(tail));
	tail[80] = 0x01;
	memcpy(tail + 81, "abcdef", 6);
	build_oaep_block(tail, sizeof(tail), block);
	ck_assert_int_eq(cr_rsa_oaep_decode(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 0, block, 128, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, 6);
	ck_assert_mem_eq(out, "abcdef", 6);

	tail[40] = 0x02; /* a non-zero byte before the separator */
	build_oaep_block(tail, sizeof(tail), block);
	ck_assert_int_eq(cr_rsa_oaep_decode(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 0, block, 128, out, &out_len),
			 CR_E_DATA);
	tail[40] = 0x01; /* an earlier separator: the rest is message */
	build_oaep_block(tail, sizeof(tail), block);
	out_len = sizeof(out);
	ck_assert_int_eq(cr_rsa_oaep_decode(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 0, block, 128, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, 46);
	ck_assert_int_eq(out[39], 0x01);

	memset(tail, 0, sizeof(tail)); /* no separator */
	build_oaep_block(tail, sizeof(tail), block);
	ck_assert_int_eq(cr_rsa_oaep_decode(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 0, block, 128, out, &out_len),
			 CR_E_DATA);
	tail[86] = 0x01; /* separator last: empty message */
	build_oaep_block(tail, sizeof(tail), block);
	out_len = sizeof(out);
	ck_assert_int_eq(cr_rsa_oaep_decode(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 0, block, 128, out, &out_len), CR_OK);
	ck_assert_uint_eq(out_len, 0);
}
END_TEST

/* OpenSSL's decryption of ct with the given padding (and OAEP hashes and label). */
static size_t private_decrypt(int padding, enum cr_hash h, enum cr_hash mgf1, const char *label, const uint8_t *ct,
			      uint8_t *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key2048, NULL);
	size_t out_len = key_bytes(key2048);

	ck_assert_int_eq(EVP_PKEY_decrypt_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, padding), 1);
	if (padding == RSA_PKCS1_OAEP_PADDING) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md_of(h)), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md_of(mgf1)), 1);
		if (label != NULL)
			ck_assert_int_eq(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_strdup(label), (int)strlen(label)),
					 1);
	}
	ck_assert_int_eq(EVP_PKEY_decrypt(ctx, out, &out_len, ct, key_bytes(key2048)), 1);
	EVP_PKEY_CTX_free(ctx);
	return out_len;
}

/* The message, then more bytes after it: plaintexts as long as a key takes. */
static void long_message(uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++)
		out[i] = i < sizeof(message) ? message[i] : (uint8_t)(i * 13 + 7);
}

/* Type 2 encoding: OpenSSL decrypts it; the padding is random and never holds a zero. */
START_TEST(test_type2_encodes_for_openssl)
{
	uint8_t block[256], again[256], ct[256], out[256], data[256];
	size_t k = key_bytes(key2048);

	long_message(data, sizeof(data));

	ck_assert_int_eq(cr_rsa_pad_pkcs1_type2(data, 40, block, k), CR_OK);
	ck_assert_int_eq(block[0], 0x00);
	ck_assert_int_eq(block[1], 0x02);
	for (size_t i = 2; i < k - 41; i++)
		ck_assert_int_ne(block[i], 0x00);
	ck_assert_int_eq(block[k - 41], 0x00);
	raw_public(key2048, block, ct); /* the public-key operation a host encrypting for a token does */
	ck_assert_uint_eq(private_decrypt(RSA_PKCS1_PADDING, 0, 0, NULL, ct, out), 40);
	ck_assert_mem_eq(out, data, 40);
	ck_assert_int_eq(cr_rsa_pad_pkcs1_type2(data, 40, again, k), CR_OK);
	ck_assert_int_ne(memcmp(block, again, k), 0);

	ck_assert_int_eq(cr_rsa_pad_pkcs1_type2(data, k - 11, block, k), CR_OK);
	ck_assert_int_eq(cr_rsa_pad_pkcs1_type2(data, k - 10, block, k), CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_pad_pkcs1_type2(NULL, 1, block, k), CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_pad_pkcs1_type2(data, 0, block, 10), CR_E_ARGS);
}
END_TEST

static void oaep_encode_for_openssl(enum cr_hash h, enum cr_hash mgf1, const char *label, size_t msg_len)
{
	uint8_t block[256], ct[256], out[256], data[256];
	size_t k = key_bytes(key2048), label_len = label ? strlen(label) : 0;

	long_message(data, sizeof(data));

	ck_assert_int_eq(cr_rsa_oaep_encode(h, mgf1, (const uint8_t *)label, label_len, data, msg_len, block, k),
			 CR_OK);
	ck_assert_int_eq(block[0], 0x00);
	raw_public(key2048, block, ct);
	ck_assert_uint_eq(private_decrypt(RSA_PKCS1_OAEP_PADDING, h, mgf1, label, ct, out), msg_len);
	ck_assert_mem_eq(out, data, msg_len);
}

/* OAEP encoding: OpenSSL decrypts it, with every hash pairing and label tried. */
START_TEST(test_oaep_encodes_for_openssl)
{
	size_t k = key_bytes(key2048);
	uint8_t block[256], data[256];

	long_message(data, sizeof(data));

	oaep_encode_for_openssl(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 40);
	oaep_encode_for_openssl(CR_HASH_SHA256, CR_HASH_SHA256, "signet label", 44);
	oaep_encode_for_openssl(CR_HASH_SHA512, CR_HASH_SHA1, NULL, 1);
	oaep_encode_for_openssl(CR_HASH_SHA256, CR_HASH_SHA384, "l", k - 2 * 32 - 2);
	ck_assert_int_eq(cr_rsa_oaep_encode(CR_HASH_SHA256, CR_HASH_SHA256, NULL, 0, data, k - 2 * 32 - 1, block, k),
			 CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_oaep_encode(CR_HASH_SHA1, CR_HASH_SHA1, NULL, 3, data, 4, block, k), CR_E_ARGS);
	ck_assert_int_eq(cr_rsa_oaep_encode(CR_HASH_COUNT, CR_HASH_SHA1, NULL, 0, data, 4, block, k), CR_E_ARGS);
}
END_TEST

static Suite *rsa_suite(void)
{
	Suite *s = suite_create("crypto_rsa_pad");
	TCase *sign = tcase_create("sign");
	TCase *decrypt = tcase_create("decrypt");

	tcase_add_loop_test(sign, test_pkcs1_sign_block_verifies, 0, CR_HASH_COUNT);
	tcase_add_test(sign, test_type1_equals_openssl);
	tcase_add_test(sign, test_type1_exact_bytes);
	tcase_add_test(sign, test_pss_sha256_salt32);
	tcase_add_test(sign, test_pss_odd_modulus);
	tcase_add_test(sign, test_pss_mixed_hashes);
	tcase_add_test(sign, test_pss_verify_openssl_signature);
	tcase_add_test(sign, test_pss_bad_args);
	suite_add_tcase(s, sign);

	tcase_add_test(decrypt, test_type2_decodes_openssl);
	tcase_add_test(decrypt, test_type2_rules);
	tcase_add_test(decrypt, test_oaep_sha1_default);
	tcase_add_test(decrypt, test_oaep_sha256_label);
	tcase_add_test(decrypt, test_oaep_mixed_hashes);
	tcase_add_test(decrypt, test_oaep_args);
	tcase_add_test(decrypt, test_oaep_structure);
	tcase_add_test(decrypt, test_type2_encodes_for_openssl);
	tcase_add_test(decrypt, test_oaep_encodes_for_openssl);
	suite_add_tcase(s, decrypt);
	return s;
}

int main(void)
{
	static const struct tk_key keys_to_make[] = {
		{ &key2048, "RSA-2048" },
		{ &key1025, "RSA-1025" },
	};

	return tk_run_suite_with_keys(rsa_suite, keys_to_make, sizeof(keys_to_make) / sizeof(keys_to_make[0]));
}
