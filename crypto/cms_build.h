/*
 * CMS (RFC 5652) detached signatures for a key that lives on a token: the
 * SignedData with the signer's certificate and the usual signed attributes
 * (content type, signing time, message digest) is built here; the
 * signature over the signed attributes comes from the caller's callback,
 * as for certificates and requests (crypto/x509_build.h).
 */
#ifndef SIGNET_CRYPTO_CMS_BUILD_H
#define SIGNET_CRYPTO_CMS_BUILD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "crypto/x509.h"
#include "crypto/x509_build.h"

struct cr_cms_request {
	const uint8_t *cert;         /* the signer's DER certificate */
	size_t cert_len;
	enum cr_sig_alg alg;         /* must suit the certificate's key */
	const uint8_t *content_hash; /* the content hashed with cr_sig_alg_hash(alg) */
	size_t content_hash_len;
	time_t signing_time;
	cr_sign_fn sign;
	void *sign_ctx;
};

/*
 * Builds a DER ContentInfo holding a detached SignedData. The signature is
 * checked with the certificate's key before the result is returned, so a
 * callback that signed with another key or mechanism gives CR_E_SIGN.
 * *der is malloc'd. CR_E_ARGS for a hash of the wrong size or an algorithm
 * the key cannot use; CR_E_DATA for a certificate that does not parse.
 */
int cr_cms_build_detached(const struct cr_cms_request *req, uint8_t **der, size_t *der_len);

/*
 * Checks a detached SignedData signed with Ed25519 (RFC 8419), which
 * OpenSSL 3.0's CMS_verify cannot check: its one SignerInfo signs its
 * signed attributes with id-Ed25519, their messageDigest is content_hash
 * (SHA-512 of the content) and the signature verifies with cert (DER),
 * else with the first certificate the SignedData carries. *signer gets a
 * malloc'd copy of the certificate used. CR_OK, CR_E_SIGNATURE for a
 * signature or digest that does not match, CR_E_UNSUPPORTED for another
 * algorithm, CR_E_DATA for something that is not such a SignedData.
 */
int cr_cms_verify_ed25519(const uint8_t *cms, size_t cms_len, const uint8_t *content_hash, size_t hash_len,
			  const uint8_t *cert, size_t cert_len, struct cr_bytes *signer);

#endif
