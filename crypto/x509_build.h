/*
 * Self-signed X.509 v3 certificates and PKCS#10 requests for a key that
 * lives on a token: everything is built here except the signature, which a
 * caller's callback makes over the to-be-signed bytes.
 */
#ifndef SIGNET_CRYPTO_X509_BUILD_H
#define SIGNET_CRYPTO_X509_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/digest.h"

enum cr_sig_alg {
	CR_SIG_RSA_PKCS1_SHA256, /* sha256WithRSAEncryption: CKM_SHA256_RSA_PKCS */
	CR_SIG_RSA_PSS_SHA256,   /* RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32: CKM_SHA256_RSA_PKCS_PSS */
	CR_SIG_ECDSA_SHA256,     /* ecdsa-with-SHA256: CKM_ECDSA_SHA256 */
	CR_SIG_ECDSA_SHA384,     /* ecdsa-with-SHA384: CKM_ECDSA_SHA384 */
	CR_SIG_ED25519,          /* id-Ed25519, PureEdDSA (RFC 8410): CKM_EDDSA over the whole message */
};

/* Room the callback gets for a signature: an RSA-8192 block. */
#define CR_SIG_MAX_SIZE 1024

/*
 * Signs tbs (the whole message; the callback or its token hashes it, or
 * for Ed25519 signs it as it is) with alg. *sig_len holds the capacity on
 * entry and the signature length on return. RSA: the modulus-size
 * signature. ECDSA: r||s as PKCS#11 returns it (a DER signature is accepted
 * too, when its length differs from r||s). Ed25519: the 64-byte signature.
 * Returns 0 on success; any other value fails the build with CR_E_SIGN.
 */
typedef int (*cr_sign_fn)(void *ctx, enum cr_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
			  size_t *sig_len);

struct cr_x509_request {
	const uint8_t *spki;   /* DER SubjectPublicKeyInfo of the token's key */
	size_t spki_len;
	const char *subject;   /* "/CN=Alice/O=Example"; a backslash escapes the next character */
	enum cr_sig_alg alg;   /* must suit the key: RSA or EC */
	cr_sign_fn sign;
	void *sign_ctx;
	/* Certificates only: */
	unsigned days;         /* validity from now; at least 1 */
	const uint8_t *serial; /* big-endian, at most 20 bytes, not zero; NULL for 16 random bytes */
	size_t serial_len;
	uint32_t key_usage;    /* enum cr_key_usage bits for a critical keyUsage; 0 for none */
};

/*
 * Builds a self-signed certificate (subject = issuer, basicConstraints
 * CA:FALSE, subjectKeyIdentifier, keyUsage when asked). The result is
 * checked with the public key before it is returned, so a callback that
 * signed with the wrong key or mechanism gives CR_E_SIGN. *der is malloc'd.
 * CR_E_ARGS for a bad subject, serial, days or an algorithm the key cannot
 * use; CR_E_DATA for a malformed SPKI; CR_E_UNSUPPORTED for other key types.
 */
int cr_x509_build_self_signed(const struct cr_x509_request *req, uint8_t **der, size_t *der_len);

/*
 * Builds a PKCS#10 certification request (with the keyUsage as a requested
 * extension when key_usage is set; days and serial are ignored). Checked
 * and returned as for cr_x509_build_self_signed().
 */
int cr_x509_build_csr(const struct cr_x509_request *req, uint8_t **der, size_t *der_len);

/* The DER AlgorithmIdentifier of alg, as X.509 and CMS carry it; *der is static. CR_E_ARGS for no such alg. */
int cr_sig_alg_id(enum cr_sig_alg alg, const uint8_t **der, size_t *len);

/*
 * The hash alg signs with; for Ed25519, which hashes nothing itself in
 * this sense, SHA-512: the digest CMS signed attributes carry (RFC 8419).
 */
enum cr_hash cr_sig_alg_hash(enum cr_sig_alg alg);

/*
 * Calls sign over tbs and returns the signature as X.509 and CMS carry it:
 * RSA and Ed25519 as they are, ECDSA as DER (from r||s, or re-encoded from DER to
 * normalise it). field_size is the EC key's field size in bytes (ignored
 * for RSA). *sig_len: capacity in, length out. CR_E_SIGN when the callback
 * fails or answers something that is no signature of that size.
 */
int cr_sig_value(cr_sign_fn sign, void *ctx, enum cr_sig_alg alg, size_t field_size, const uint8_t *tbs,
		 size_t tbs_len, uint8_t *sig, size_t *sig_len);

#endif
