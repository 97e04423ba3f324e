/*
 * The room's private OpenSSL state. Only files in crypto/ include this
 * header: it is the one place OpenSSL types appear in an interface.
 */
#ifndef SIGNET_CRYPTO_CR_CTX_H
#define SIGNET_CRYPTO_CR_CTX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/types.h>

#include "crypto/digest.h"

/*
 * Our own library context with only the default provider, created once.
 * Using a private context keeps us independent of the host's OpenSSL
 * configuration and avoids recursion when the host's OpenSSL loads a
 * PKCS#11 provider that in turn loads this module. NULL if creation failed.
 */
OSSL_LIB_CTX *cr_libctx(void);

/* The fetched digest for h, cached for the life of the process; NULL if unknown. */
const EVP_MD *cr_md(enum cr_hash h);

/*
 * A DER SubjectPublicKeyInfo as a key of our library context, or NULL.
 * d2i_PUBKEY_ex() and X509_PUBKEY_get0() will not do: OpenSSL 3.0 decodes
 * through the legacy key methods first whenever an ENGINE is the default
 * for the key type (openssl -engine pkcs11 makes libp11's the default for
 * RSA and EC), and every operation on such a key then runs through that
 * engine. The decoder knows only providers.
 */
EVP_PKEY *cr_pkey_from_spki(const uint8_t *der, size_t len);

/* Empties OpenSSL's per-thread error queue and returns rc, for error exits. */
int cr_fail(int rc);

#endif
