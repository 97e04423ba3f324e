#include "crypto/block.h"

#include <string.h>

#include <openssl/evp.h>

#include "crypto/cr.h"
#include "crypto/cr_ctx.h"
#include "crypto/wipe.h"

struct block_cipher {
	const char *name; /* OpenSSL 3 fetch name */
	size_t block, key;
};

static const struct block_cipher ciphers[] = {
	[CR_BLOCK_3DES] = { "DES-EDE3-ECB", 8, 24 },
	[CR_BLOCK_AES128] = { "AES-128-ECB", 16, 16 },
	[CR_BLOCK_AES192] = { "AES-192-ECB", 16, 24 },
	[CR_BLOCK_AES256] = { "AES-256-ECB", 16, 32 },
};

static const struct block_cipher *cipher_of(enum cr_block_alg alg)
{
	if ((unsigned)alg >= sizeof(ciphers) / sizeof(ciphers[0]))
		return NULL;
	return &ciphers[alg];
}

size_t cr_block_size(enum cr_block_alg alg)
{
	const struct block_cipher *c = cipher_of(alg);

	return c != NULL ? c->block : 0;
}

size_t cr_block_key_size(enum cr_block_alg alg)
{
	const struct block_cipher *c = cipher_of(alg);

	return c != NULL ? c->key : 0;
}

/*
 * Fetched per call from our own library context: management-key
 * authentication happens once per key operation that needs it, so caching
 * would save nothing that matters. Freeing the cipher context makes the
 * provider clear its key schedule.
 */
int cr_block_crypt(enum cr_block_alg alg, const uint8_t *key, size_t key_len, bool encrypt,
		   const uint8_t *in, uint8_t *out)
{
	const struct block_cipher *c = cipher_of(alg);
	OSSL_LIB_CTX *libctx = cr_libctx();
	EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, rc = CR_E_INTERNAL;

	if (c == NULL || key == NULL || key_len != c->key || in == NULL || out == NULL)
		return CR_E_ARGS;
	if (libctx == NULL)
		goto out;
	cipher = EVP_CIPHER_fetch(libctx, c->name, NULL);
	ctx = EVP_CIPHER_CTX_new();
	if (cipher == NULL || ctx == NULL)
		goto out;
	if (EVP_CipherInit_ex2(ctx, cipher, key, NULL, encrypt ? 1 : 0, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_CipherUpdate(ctx, out, &n, in, (int)c->block) != 1 || n != (int)c->block)
		goto out;
	rc = CR_OK;
out:
	EVP_CIPHER_CTX_free(ctx);
	EVP_CIPHER_free(cipher);
	if (rc != CR_OK) {
		cr_wipe(out, c->block);
		return cr_fail(rc);
	}
	return rc;
}
