#include "crypto/rsa_pad.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/cr.h"
#include "crypto/cr_ctx.h"
#include "crypto/random.h"
#include "crypto/wipe.h"

#define SIZE_BITS (sizeof(size_t) * CHAR_BIT)

/*
 * Constant-time helpers. A mask is all ones for true and zero for false.
 * Every value compared is at most CR_RSA_MAX_BYTES, far below the top bit,
 * which ct_lt relies on.
 */
static size_t ct_is_zero(size_t x)
{
	return 0 - ((~x & (x - 1)) >> (SIZE_BITS - 1));
}

static size_t ct_eq(size_t a, size_t b)
{
	return ct_is_zero(a ^ b);
}

static size_t ct_lt(size_t a, size_t b)
{
	return 0 - ((a - b) >> (SIZE_BITS - 1));
}

static size_t ct_select(size_t mask, size_t yes, size_t no)
{
	return (mask & yes) | (~mask & no);
}

static size_t ct_mem_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	size_t diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= (size_t)(a[i] ^ b[i]);
	return ct_is_zero(diff);
}

static int hash_parts(enum cr_hash h, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
		      const uint8_t *c, size_t c_len, uint8_t *out)
{
	const EVP_MD *md = cr_md(h);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = CR_E_INTERNAL;

	if (md == NULL || ctx == NULL || !EVP_DigestInit_ex2(ctx, md, NULL))
		goto out;
	if ((a_len > 0 && !EVP_DigestUpdate(ctx, a, a_len)) || (b_len > 0 && !EVP_DigestUpdate(ctx, b, b_len)) ||
	    (c_len > 0 && !EVP_DigestUpdate(ctx, c, c_len)))
		goto out;
	if (!EVP_DigestFinal_ex(ctx, out, NULL))
		goto out;
	rc = CR_OK;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* XORs MGF1(seed) (RFC 8017 B.2.1) into buf, which is len bytes long. */
static int mgf1_xor(enum cr_hash h, const uint8_t *seed, size_t seed_len, uint8_t *buf, size_t len)
{
	uint8_t block[CR_HASH_MAX_SIZE];
	size_t hlen = cr_hash_size(h), done = 0;
	uint32_t counter = 0;
	int rc = CR_OK;

	while (done < len && rc == CR_OK) {
		uint8_t c[4] = { (uint8_t)(counter >> 24), (uint8_t)(counter >> 16), (uint8_t)(counter >> 8),
				 (uint8_t)counter };
		size_t n = len - done < hlen ? len - done : hlen;

		rc = hash_parts(h, seed, seed_len, c, sizeof(c), NULL, 0, block);
		for (size_t i = 0; i < n && rc == CR_OK; i++)
			buf[done + i] ^= block[i];
		done += n;
		counter++;
	}
	/* The mask of a decrypted block reveals the plaintext. */
	cr_wipe(block, sizeof(block));
	return rc;
}

int cr_rsa_digestinfo(enum cr_hash h, const uint8_t *hash, size_t hash_len, uint8_t *out, size_t *out_len)
{
	const uint8_t *prefix;
	size_t prefix_len;

	if (cr_digestinfo_prefix(h, &prefix, &prefix_len) != CR_OK || hash == NULL || out_len == NULL ||
	    hash_len != cr_hash_size(h))
		return CR_E_ARGS;
	if (out == NULL || *out_len < prefix_len + hash_len) {
		*out_len = prefix_len + hash_len;
		return CR_E_BUFFER;
	}
	memcpy(out, prefix, prefix_len);
	memcpy(out + prefix_len, hash, hash_len);
	*out_len = prefix_len + hash_len;
	return CR_OK;
}

int cr_rsa_pad_pkcs1_type1(const uint8_t *data, size_t len, uint8_t *block, size_t k)
{
	if (block == NULL || (data == NULL && len > 0) || k > CR_RSA_MAX_BYTES || k < 11 || len > k - 11)
		return CR_E_ARGS;
	block[0] = 0x00;
	block[1] = 0x01;
	memset(block + 2, 0xff, k - len - 3);
	block[k - len - 1] = 0x00;
	if (len > 0)
		memcpy(block + k - len, data, len);
	return CR_OK;
}

int cr_rsa_pkcs1_sign_block(enum cr_hash h, const uint8_t *hash, size_t hash_len, uint8_t *block, size_t k)
{
	uint8_t info[CR_DIGESTINFO_MAX_SIZE];
	size_t info_len = sizeof(info);
	int rc = cr_rsa_digestinfo(h, hash, hash_len, info, &info_len);

	if (rc != CR_OK)
		return rc;
	return cr_rsa_pad_pkcs1_type1(info, info_len, block, k);
}

/* Where the parts of a PSS encoded message lie in a k-byte block. */
struct pss_layout {
	size_t hlen;   /* hash and H length */
	size_t em_len; /* EM, which ends the block */
	size_t em_off; /* leading zero bytes before EM */
	size_t db_len; /* DB, which starts EM */
};

/* Checks the arguments shared by PSS encoding and verification and sizes
 * the message (RFC 8017 9.1.1 steps 1-3). */
static int pss_layout(enum cr_hash h, enum cr_hash mgf1_hash, size_t salt_len, size_t mod_bits,
		      const uint8_t *mhash, size_t mhash_len, const uint8_t *block, size_t k,
		      struct pss_layout *l)
{
	size_t hlen = cr_hash_size(h), em_len;

	if (mhash == NULL || block == NULL)
		return CR_E_ARGS;
	if (hlen == 0 || cr_hash_size(mgf1_hash) == 0 || mhash_len != hlen || mod_bits < 2 ||
	    k != (mod_bits + 7) / 8 || k > CR_RSA_MAX_BYTES)
		return CR_E_ARGS;
	em_len = (mod_bits - 1 + 7) / 8;
	if (em_len < hlen + 2 || salt_len > em_len - hlen - 2)
		return CR_E_ARGS;
	*l = (struct pss_layout){
		.hlen = hlen, .em_len = em_len, .em_off = k - em_len, .db_len = em_len - hlen - 1,
	};
	return CR_OK;
}

/* The mask for the unused top bits of the encoded message's first byte. */
static uint8_t pss_top_mask(size_t mod_bits, size_t em_len)
{
	size_t unused = 8 * em_len - (mod_bits - 1);

	return (uint8_t)(0xff >> unused);
}

static const uint8_t pss_zeros[8];

int cr_rsa_pss_encode(enum cr_hash h, enum cr_hash mgf1_hash, size_t salt_len, size_t mod_bits,
		      const uint8_t *mhash, size_t mhash_len, uint8_t *block, size_t k)
{
	uint8_t *salt, *em, *mprime_hash;
	struct pss_layout l;
	int rc;

	rc = pss_layout(h, mgf1_hash, salt_len, mod_bits, mhash, mhash_len, block, k, &l);
	if (rc != CR_OK)
		return rc;
	em = block + l.em_off;
	memset(block, 0, k);
	/* DB = PS || 0x01 || salt, built in place; the salt goes straight into it. */
	salt = em + l.db_len - salt_len;
	em[l.db_len - salt_len - 1] = 0x01;
	if (cr_random(salt, salt_len) != CR_OK)
		return CR_E_INTERNAL;
	mprime_hash = em + l.db_len;
	rc = hash_parts(h, pss_zeros, sizeof(pss_zeros), mhash, mhash_len, salt, salt_len, mprime_hash);
	if (rc == CR_OK)
		rc = mgf1_xor(mgf1_hash, mprime_hash, l.hlen, em, l.db_len);
	if (rc != CR_OK)
		return cr_fail(rc);
	em[0] &= pss_top_mask(mod_bits, l.em_len);
	em[l.em_len - 1] = 0xbc;
	return CR_OK;
}

int cr_rsa_pss_verify(enum cr_hash h, enum cr_hash mgf1_hash, size_t salt_len, size_t mod_bits,
		      const uint8_t *mhash, size_t mhash_len, const uint8_t *block, size_t k)
{
	uint8_t check[CR_HASH_MAX_SIZE];
	const uint8_t *em, *hash;
	struct pss_layout l;
	uint8_t *db = NULL;
	size_t ps_len;
	int rc;

	rc = pss_layout(h, mgf1_hash, salt_len, mod_bits, mhash, mhash_len, block, k, &l);
	if (rc != CR_OK)
		return rc;
	em = block + l.em_off;
	hash = em + l.db_len;
	rc = CR_E_DATA;
	if ((l.em_off > 0 && block[0] != 0) || em[l.em_len - 1] != 0xbc ||
	    (em[0] & ~pss_top_mask(mod_bits, l.em_len)))
		goto out;
	db = malloc(l.db_len);
	if (db == NULL) {
		rc = CR_E_MEMORY;
		goto out;
	}
	memcpy(db, em, l.db_len);
	rc = mgf1_xor(mgf1_hash, hash, l.hlen, db, l.db_len);
	if (rc != CR_OK)
		goto out;
	db[0] &= pss_top_mask(mod_bits, l.em_len);
	rc = CR_E_DATA;
	ps_len = l.db_len - salt_len - 1;
	for (size_t i = 0; i < ps_len; i++)
		if (db[i] != 0)
			goto out;
	if (db[ps_len] != 0x01)
		goto out;
	rc = hash_parts(h, pss_zeros, sizeof(pss_zeros), mhash, mhash_len, db + ps_len + 1, salt_len, check);
	if (rc != CR_OK)
		goto out;
	rc = memcmp(check, hash, l.hlen) == 0 ? CR_OK : CR_E_DATA;
out:
	free(db);
	return rc == CR_OK ? rc : cr_fail(rc);
}

int cr_rsa_pad_pkcs1_type2(const uint8_t *data, size_t len, uint8_t *block, size_t k)
{
	size_t ps_len;

	if (block == NULL || (data == NULL && len > 0) || k > CR_RSA_MAX_BYTES || k < 11 || len > k - 11)
		return CR_E_ARGS;
	ps_len = k - len - 3;
	block[0] = 0x00;
	block[1] = 0x02;
	if (cr_random(block + 2, ps_len) != CR_OK)
		return cr_fail(CR_E_INTERNAL);
	/* A zero would end the padding early: draw again until none is left. */
	for (size_t i = 2; i < 2 + ps_len; i++)
		while (block[i] == 0)
			if (cr_random(block + i, 1) != CR_OK)
				return cr_fail(CR_E_INTERNAL);
	block[k - len - 1] = 0x00;
	if (len > 0)
		memcpy(block + k - len, data, len);
	return CR_OK;
}

int cr_rsa_oaep_encode(enum cr_hash h, enum cr_hash mgf1_hash, const uint8_t *label, size_t label_len,
		       const uint8_t *data, size_t len, uint8_t *block, size_t k)
{
	size_t hlen = cr_hash_size(h), db_len;
	uint8_t *seed, *db;
	int rc;

	if (hlen == 0 || cr_hash_size(mgf1_hash) == 0 || block == NULL || (label == NULL && label_len > 0) ||
	    (data == NULL && len > 0) || k > CR_RSA_MAX_BYTES || k < 2 * hlen + 2 || len > k - 2 * hlen - 2)
		return CR_E_ARGS;
	/* RFC 8017 7.1.1 step 2: 00 || maskedSeed || maskedDB, DB = lHash || PS || 01 || M. */
	seed = block + 1;
	db = block + 1 + hlen;
	db_len = k - hlen - 1;
	memset(block, 0, k);
	rc = hash_parts(h, label, label_len, NULL, 0, NULL, 0, db);
	if (rc != CR_OK)
		goto out;
	db[db_len - len - 1] = 0x01;
	if (len > 0)
		memcpy(db + db_len - len, data, len);
	rc = cr_random(seed, hlen) == CR_OK ? CR_OK : CR_E_INTERNAL;
	if (rc == CR_OK)
		rc = mgf1_xor(mgf1_hash, seed, hlen, db, db_len);
	if (rc == CR_OK)
		rc = mgf1_xor(mgf1_hash, db, db_len, seed, hlen);
out:
	if (rc != CR_OK)
		cr_wipe(block, k);
	return rc == CR_OK ? rc : cr_fail(rc);
}

/* Copies the message found by a constant-time check, once its validity is public. */
static int deliver(size_t good, const uint8_t *msg, size_t msg_len, uint8_t *out, size_t *out_len)
{
	if (!good)
		return CR_E_DATA;
	if (out == NULL || *out_len < msg_len) {
		*out_len = msg_len;
		return CR_E_BUFFER;
	}
	if (msg_len > 0)
		memcpy(out, msg, msg_len);
	*out_len = msg_len;
	return CR_OK;
}

int cr_rsa_unpad_pkcs1_type2(const uint8_t *block, size_t k, uint8_t *out, size_t *out_len)
{
	size_t good, found = 0, zero_index = 0;

	if (block == NULL || out_len == NULL || k < 11 || k > CR_RSA_MAX_BYTES)
		return CR_E_ARGS;
	good = ct_is_zero(block[0]) & ct_eq(block[1], 0x02);
	/* Find the first zero after the padding string without branching on data. */
	for (size_t i = 2; i < k; i++) {
		size_t is_zero = ct_is_zero(block[i]);

		zero_index = ct_select(~found & is_zero, i, zero_index);
		found |= is_zero;
	}
	/* At least 8 padding bytes: the separator sits at index 10 or later. */
	good &= found & ~ct_lt(zero_index, 10);
	return deliver(good, block + zero_index + 1, k - zero_index - 1, out, out_len);
}

int cr_rsa_oaep_decode(enum cr_hash h, enum cr_hash mgf1_hash, const uint8_t *label, size_t label_len,
		       const uint8_t *block, size_t k, uint8_t *out, size_t *out_len)
{
	size_t hlen = cr_hash_size(h), db_len, good, found = 0, bad = 0, one_index = 0;
	uint8_t lhash[CR_HASH_MAX_SIZE], seed[CR_HASH_MAX_SIZE];
	uint8_t *db = NULL;
	int rc;

	if (hlen == 0 || cr_hash_size(mgf1_hash) == 0 || block == NULL || out_len == NULL ||
	    (label == NULL && label_len > 0) || k > CR_RSA_MAX_BYTES || k < 2 * hlen + 2)
		return CR_E_ARGS;
	db_len = k - hlen - 1;
	db = malloc(db_len);
	if (db == NULL)
		return CR_E_MEMORY;
	/* RFC 8017 7.1.2 step 3: unmask the seed, then the data block. */
	memcpy(seed, block + 1, hlen);
	memcpy(db, block + 1 + hlen, db_len);
	rc = hash_parts(h, label, label_len, NULL, 0, NULL, 0, lhash);
	if (rc == CR_OK)
		rc = mgf1_xor(mgf1_hash, db, db_len, seed, hlen);
	if (rc == CR_OK)
		rc = mgf1_xor(mgf1_hash, seed, hlen, db, db_len);
	if (rc != CR_OK)
		goto out;
	good = ct_is_zero(block[0]) & ct_mem_eq(db, lhash, hlen);
	/* DB = lHash || zeros || 0x01 || M: only zeros may precede the first 0x01. */
	for (size_t i = hlen; i < db_len; i++) {
		size_t is_one = ct_eq(db[i], 0x01), is_zero = ct_is_zero(db[i]);

		one_index = ct_select(~found & is_one, i, one_index);
		bad |= ~found & ~is_zero & ~is_one;
		found |= is_one;
	}
	good &= found & ~bad;
	rc = deliver(good, db + one_index + 1, db_len - one_index - 1, out, out_len);
out:
	cr_wipe(seed, sizeof(seed));
	cr_free_secret(db, db_len);
	return rc == CR_OK ? rc : cr_fail(rc);
}
