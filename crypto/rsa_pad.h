/*
 * RSA block encodings from RFC 8017, for tokens that only do the raw
 * private-key operation: the host pads before signing and unpads after
 * decrypting. k is always the modulus size in bytes and every block is
 * exactly k bytes.
 */
#ifndef SIGNET_CRYPTO_RSA_PAD_H
#define SIGNET_CRYPTO_RSA_PAD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/digest.h"

/* The largest DigestInfo (SHA-512 or SHA3-512), for stack buffers. */
#define CR_DIGESTINFO_MAX_SIZE (19 + CR_HASH_MAX_SIZE)

/* The largest modulus we pad for, in bytes (16384-bit keys). */
#define CR_RSA_MAX_BYTES 2048

/*
 * DigestInfo DER for a hash value: the CKM_RSA_PKCS input when the host
 * hashed. hash_len must be h's size. *out_len holds the capacity of out on
 * entry and the size on return; CR_E_BUFFER reports the size needed.
 */
int cr_rsa_digestinfo(enum cr_hash h, const uint8_t *hash, size_t hash_len, uint8_t *out, size_t *out_len);

/*
 * EMSA-PKCS1-v1_5 (block type 1): 00 01 FF..FF 00 data, with at least 8
 * bytes of FF, so len <= k - 11 (CR_E_ARGS otherwise); data and block must
 * not overlap. data is usually a DigestInfo, but CKM_RSA_PKCS signs
 * arbitrary short data.
 */
int cr_rsa_pad_pkcs1_type1(const uint8_t *data, size_t len, uint8_t *block, size_t k);

/* DigestInfo for (h, hash) padded with cr_rsa_pad_pkcs1_type1(): the CKM_RSA_X_509 input. */
int cr_rsa_pkcs1_sign_block(enum cr_hash h, const uint8_t *hash, size_t hash_len, uint8_t *block, size_t k);

/*
 * EMSA-PSS encoding of a message hash mhash (computed with h) for a modulus
 * of mod_bits bits, masked with MGF1 over mgf1_hash, with a fresh random
 * salt of salt_len bytes. The k-byte block (k = (mod_bits + 7) / 8) starts
 * with a zero byte when mod_bits - 1 is a multiple of 8. CR_E_ARGS when the
 * key is too small for the hash and salt.
 */
int cr_rsa_pss_encode(enum cr_hash h, enum cr_hash mgf1_hash, size_t salt_len, size_t mod_bits,
		      const uint8_t *mhash, size_t mhash_len, uint8_t *block, size_t k);

/*
 * EMSA-PSS verification of a block recovered by the public-key operation:
 * CR_OK when it encodes mhash with these parameters, CR_E_DATA otherwise.
 */
int cr_rsa_pss_verify(enum cr_hash h, enum cr_hash mgf1_hash, size_t salt_len, size_t mod_bits,
		      const uint8_t *mhash, size_t mhash_len, const uint8_t *block, size_t k);

/*
 * RSAES-PKCS1-v1_5 encoding (block type 2) of a message for encryption:
 * 00 02 PS 00 data with at least 8 random non-zero bytes of PS, so
 * len <= k - 11 (CR_E_ARGS otherwise).
 */
int cr_rsa_pad_pkcs1_type2(const uint8_t *data, size_t len, uint8_t *block, size_t k);

/*
 * RSAES-OAEP encoding of a message with hash h, MGF1 over mgf1_hash, an
 * optional label and a fresh random seed: len <= k - 2 * hash size - 2
 * (CR_E_ARGS otherwise).
 */
int cr_rsa_oaep_encode(enum cr_hash h, enum cr_hash mgf1_hash, const uint8_t *label, size_t label_len,
		       const uint8_t *data, size_t len, uint8_t *block, size_t k);

/*
 * RSAES-PKCS1-v1_5 decoding (block type 2) of a decrypted k-byte block.
 * The padding check runs in constant time; its outcome is revealed once,
 * as CR_E_DATA. On success the message goes to out (capacity in *out_len,
 * length out; CR_E_BUFFER with the length if it does not fit). The caller
 * owns and wipes the block; out holds plaintext too.
 */
int cr_rsa_unpad_pkcs1_type2(const uint8_t *block, size_t k, uint8_t *out, size_t *out_len);

/*
 * RSAES-OAEP decoding of a decrypted k-byte block with hash h, MGF1 over
 * mgf1_hash and an optional label (NULL with label_len 0 means empty).
 * Constant-time check and results as for cr_rsa_unpad_pkcs1_type2().
 * CR_E_ARGS when k < 2 * hash size + 2.
 */
int cr_rsa_oaep_decode(enum cr_hash h, enum cr_hash mgf1_hash, const uint8_t *label, size_t label_len,
		       const uint8_t *block, size_t k, uint8_t *out, size_t *out_len);

#endif
