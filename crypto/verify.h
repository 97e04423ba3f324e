/*
 * Public-key operations on the host, for tokens that cannot verify (a PIV
 * card only has the private-key operation) and for checking results. Every
 * key comes as DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO, or built with
 * cr_spki_from_rsa() / cr_spki_from_ec()). Verifiers return CR_OK,
 * CR_E_SIGNATURE for a signature that does not verify, CR_E_SIGNATURE_LEN
 * for one of the wrong size, CR_E_ARGS when the key type does not fit.
 */
#ifndef SIGNET_CRYPTO_VERIFY_H
#define SIGNET_CRYPTO_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/digest.h"

/*
 * The raw RSA public-key operation (CKM_RSA_X_509): in is at most k bytes
 * and numerically below the modulus (CR_E_DATA otherwise); out gets k
 * bytes (*out_len: capacity in, k out; CR_E_BUFFER with k if short).
 */
int cr_rsa_public_raw(const uint8_t *spki, size_t spki_len, const uint8_t *in, size_t in_len, uint8_t *out,
		      size_t *out_len);

/*
 * PKCS#1 v1.5 verification of data that was type-1 padded: a DigestInfo
 * (see cr_rsa_digestinfo()) for hash-and-sign mechanisms, or the raw
 * CKM_RSA_PKCS input.
 */
int cr_verify_rsa_pkcs1(const uint8_t *spki, size_t spki_len, const uint8_t *data, size_t data_len,
			const uint8_t *sig, size_t sig_len);

/* RSASSA-PSS verification of a message hash (see cr_rsa_pss_verify()). */
int cr_verify_rsa_pss(const uint8_t *spki, size_t spki_len, enum cr_hash h, enum cr_hash mgf1_hash,
		      size_t salt_len, const uint8_t *mhash, size_t mhash_len, const uint8_t *sig, size_t sig_len);

/* ECDSA verification of a hash (truncated as ECDSA does) with r||s as PKCS#11 carries it. */
int cr_verify_ecdsa(const uint8_t *spki, size_t spki_len, const uint8_t *hash, size_t hash_len,
		    const uint8_t *sig, size_t sig_len);

/* Ed25519 (pure EdDSA) verification of a whole message with a 64-byte signature. */
int cr_verify_ed25519(const uint8_t *spki, size_t spki_len, const uint8_t *msg, size_t msg_len,
		      const uint8_t *sig, size_t sig_len);

/* How a signature is made, for cr_verify_hash(). */
enum cr_sig_scheme {
	CR_SCHEME_RSA_PKCS1, /* RSASSA-PKCS1-v1_5 */
	CR_SCHEME_RSA_PSS,   /* RSASSA-PSS, MGF1 with the same hash, salt as long as the hash */
	CR_SCHEME_ECDSA,     /* ECDSA, the signature in DER */
};

/*
 * Verifies a signature in the form files, X.509 and CMS carry it (what
 * openssl dgst writes and checks) over the hash of a message made with h.
 * A malformed ECDSA signature gives CR_E_SIGNATURE like a wrong one.
 */
int cr_verify_hash(const uint8_t *spki, size_t spki_len, enum cr_sig_scheme scheme, enum cr_hash h,
		   const uint8_t *hash, size_t hash_len, const uint8_t *sig, size_t sig_len);

#endif
