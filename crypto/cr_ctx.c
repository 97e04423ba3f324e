#include "crypto/cr_ctx.h"

#include <pthread.h>
#include <stddef.h>

#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "crypto/cr.h"

/* OpenSSL 3 names, indexed by enum cr_hash. */
static const char *const md_names[CR_HASH_COUNT] = {
	[CR_HASH_SHA1] = "SHA1",
	[CR_HASH_SHA224] = "SHA2-224",
	[CR_HASH_SHA256] = "SHA2-256",
	[CR_HASH_SHA384] = "SHA2-384",
	[CR_HASH_SHA512] = "SHA2-512",
	[CR_HASH_SHA3_224] = "SHA3-224",
	[CR_HASH_SHA3_256] = "SHA3-256",
	[CR_HASH_SHA3_384] = "SHA3-384",
	[CR_HASH_SHA3_512] = "SHA3-512",
};

/*
 * Written once under pthread_once and read-only afterwards, so readers need
 * no lock. Never freed: the module is loaded with -z nodelete, and hosts
 * call C_Finalize from exit handlers after OpenSSL's own cleanup may have
 * run, so tearing these down would only add ways to crash.
 */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static OSSL_LIB_CTX *libctx;
static EVP_MD *mds[CR_HASH_COUNT];

static void init_state(void)
{
	OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new();

	if (ctx == NULL)
		goto out;
	if (OSSL_PROVIDER_load(ctx, "default") == NULL) {
		OSSL_LIB_CTX_free(ctx);
		ctx = NULL;
		goto out;
	}
	/* Fetching is slow (a locked provider lookup); hot paths reuse these. */
	for (size_t i = 0; i < CR_HASH_COUNT; i++)
		mds[i] = EVP_MD_fetch(ctx, md_names[i], NULL);
	libctx = ctx;
out:
	ERR_clear_error();
}

OSSL_LIB_CTX *cr_libctx(void)
{
	if (pthread_once(&init_once, init_state) != 0)
		return NULL;
	return libctx;
}

const EVP_MD *cr_md(enum cr_hash h)
{
	if ((unsigned)h >= CR_HASH_COUNT || cr_libctx() == NULL)
		return NULL;
	return mds[h];
}

EVP_PKEY *cr_pkey_from_spki(const uint8_t *der, size_t len)
{
	OSSL_LIB_CTX *ctx = cr_libctx();
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pkey = NULL;
	const unsigned char *p = der;
	size_t left = len;

	if (ctx == NULL || der == NULL)
		return NULL;
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", "SubjectPublicKeyInfo", NULL, EVP_PKEY_PUBLIC_KEY,
					     ctx, NULL);
	if (dctx == NULL || !OSSL_DECODER_from_data(dctx, &p, &left) || left != 0) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	return pkey;
}

int cr_fail(int rc)
{
	ERR_clear_error();
	return rc;
}

const char *cr_rc_name(int rc)
{
	switch (rc) {
	case CR_OK: return "ok";
	case CR_E_ARGS: return "bad arguments";
	case CR_E_BUFFER: return "buffer too small";
	case CR_E_DATA: return "malformed data";
	case CR_E_INTERNAL: return "internal error";
	case CR_E_MEMORY: return "out of memory";
	case CR_E_UNSUPPORTED: return "unsupported algorithm";
	case CR_E_SIGN: return "signing callback failed";
	case CR_E_SIGNATURE: return "signature invalid";
	case CR_E_SIGNATURE_LEN: return "signature length wrong";
	default: return "unknown error";
	}
}
