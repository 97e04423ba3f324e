/*
 * Elliptic-curve helpers: curve identification from CKA_EC_PARAMS, ECDSA
 * signature formats (X.509 and TLS use DER, PKCS#11 and PIV use r||s), and
 * the hash truncation ECDSA applies before the raw operation.
 */
#ifndef SIGNET_CRYPTO_ECDSA_H
#define SIGNET_CRYPTO_ECDSA_H

#include <stddef.h>
#include <stdint.h>

enum cr_curve {
	CR_CURVE_NONE = 0, /* unknown or not given */
	CR_CURVE_P256,     /* secp256r1 / prime256v1 */
	CR_CURVE_P384,     /* secp384r1 */
	CR_CURVE_P521,     /* secp521r1 */
	CR_CURVE_ED25519,  /* EdDSA; no ECDSA on it */
	CR_CURVE_X25519,   /* key agreement only */
};

/* The largest field size in bytes (P-521), and the largest r||s and DER signatures. */
#define CR_EC_MAX_FIELD_SIZE 66
#define CR_ECDSA_MAX_RAW_SIZE (2 * CR_EC_MAX_FIELD_SIZE)
#define CR_ECDSA_MAX_DER_SIZE (3 + 2 * (2 + 1 + CR_EC_MAX_FIELD_SIZE))

/*
 * Identifies a curve from CKA_EC_PARAMS DER: a named-curve OBJECT
 * IDENTIFIER, or for Ed25519 and X25519 also the PrintableString
 * "edwards25519" / "curve25519" that PKCS#11 3.0 allows. CR_E_DATA for
 * malformed DER or trailing bytes,
 * CR_E_UNSUPPORTED for any other curve or explicit parameters.
 */
int cr_curve_from_params(const uint8_t *der, size_t len, enum cr_curve *curve);

/* The DER OID of a curve, as CKA_EC_PARAMS; *der points at static storage. */
int cr_curve_params(enum cr_curve c, const uint8_t **der, size_t *len);

/* Field element size in bytes (the size of r, s and each coordinate); 0 if unknown. */
size_t cr_curve_field_size(enum cr_curve c);

/* Bit length of the group order; 0 if unknown. */
size_t cr_curve_order_bits(enum cr_curve c);

/* A display name such as "P-256"; never NULL. */
const char *cr_curve_name(enum cr_curve c);

/*
 * DER SEQUENCE { INTEGER r, INTEGER s } to r||s with each half left-padded
 * to field_size bytes. CR_E_DATA for malformed or non-minimal DER, trailing
 * bytes, negative or zero integers and integers longer than field_size.
 * *raw_len: capacity in, 2 * field_size out (CR_E_BUFFER if short).
 */
int cr_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t field_size, uint8_t *raw, size_t *raw_len);

/*
 * r||s (two equal halves) to DER. CR_E_DATA when r or s is zero.
 * *der_len: capacity in, length out (CR_E_BUFFER with the length if short).
 */
int cr_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t *der, size_t *der_len);

/*
 * SEC 1 4.1.3 step 5: the integer made of the leftmost order-bits bits of
 * the hash. A hash no longer than the order comes back unchanged; a longer
 * one as ceil(order_bits / 8) bytes. *out_len: capacity in, length out.
 * CR_E_ARGS for Ed25519, which hashes the message itself, and X25519.
 */
int cr_ecdsa_truncate_hash(enum cr_curve c, const uint8_t *hash, size_t hash_len, uint8_t *out, size_t *out_len);

/*
 * The truncated hash left-padded to exactly the field size: the input a
 * PIV card's GENERAL AUTHENTICATE wants for P-256 and P-384, where field
 * and order sizes are equal. block holds cr_curve_field_size(c) bytes.
 * Not for P-521, where a token reading a 66-byte block would truncate it
 * again (CR_E_UNSUPPORTED): give such tokens the hash itself.
 */
int cr_ecdsa_hash_block(enum cr_curve c, const uint8_t *hash, size_t hash_len, uint8_t *block);

#endif
