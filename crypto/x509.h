/*
 * X.509 certificates and public keys turned into what PKCS#11 objects
 * carry, and SubjectPublicKeyInfo built from PKCS#11 public-key attributes.
 * Every buffer handed out is malloc'd and owned by the caller (freed by the
 * *_clear functions for structs, by free() for plain buffers).
 */
#ifndef SIGNET_CRYPTO_X509_H
#define SIGNET_CRYPTO_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/ecdsa.h"

/* A heap buffer; data is NULL when len is 0. */
struct cr_bytes {
	uint8_t *data;
	size_t len;
};

enum cr_key_type {
	CR_KEY_NONE = 0,
	CR_KEY_RSA,     /* rsaEncryption, also an RSASSA-PSS key */
	CR_KEY_EC,      /* id-ecPublicKey on a named curve */
	CR_KEY_ED25519,
	CR_KEY_X25519,  /* key agreement only */
};

/* keyUsage bits, numbered as in RFC 5280 4.2.1.3. */
enum cr_key_usage {
	CR_KU_DIGITAL_SIGNATURE = 1u << 0,
	CR_KU_NON_REPUDIATION = 1u << 1, /* contentCommitment */
	CR_KU_KEY_ENCIPHERMENT = 1u << 2,
	CR_KU_DATA_ENCIPHERMENT = 1u << 3,
	CR_KU_KEY_AGREEMENT = 1u << 4,
	CR_KU_KEY_CERT_SIGN = 1u << 5,
	CR_KU_CRL_SIGN = 1u << 6,
	CR_KU_ENCIPHER_ONLY = 1u << 7,
	CR_KU_DECIPHER_ONLY = 1u << 8,
};

struct cr_pubkey {
	enum cr_key_type type;
	size_t bits;               /* modulus bits, or the curve's order bits */
	struct cr_bytes modulus;   /* RSA CKA_MODULUS: big-endian, no leading zeros */
	struct cr_bytes exponent;  /* RSA CKA_PUBLIC_EXPONENT: same form */
	enum cr_curve curve;       /* EC, Ed25519 and X25519; CR_CURVE_NONE for other named curves */
	struct cr_bytes ec_params; /* CKA_EC_PARAMS: the curve's DER OID */
	struct cr_bytes ec_point;  /* CKA_EC_POINT: DER OCTET STRING of the uncompressed point
				      (the 32-byte key for Ed25519 and X25519) */
	struct cr_bytes spki;      /* the DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO) */
};

struct cr_cert {
	struct cr_bytes subject; /* DER Name, as CKA_SUBJECT */
	struct cr_bytes issuer;  /* DER Name, as CKA_ISSUER */
	struct cr_bytes serial;  /* DER INTEGER, tag and length included, as CKA_SERIAL_NUMBER */
	char *cn;                /* first subject commonName in UTF-8; NULL if none (or one with a NUL) */
	char not_before[9];      /* YYYYMMDD, for CKA_START_DATE */
	char not_after[9];       /* YYYYMMDD, for CKA_END_DATE */
	struct cr_pubkey key;
	bool has_key_usage;      /* false: no keyUsage extension, every use allowed */
	uint32_t key_usage;      /* enum cr_key_usage bits when has_key_usage */
};

/*
 * Parses a DER certificate. CR_E_DATA for anything that is not exactly one
 * well-formed DER certificate (truncation, trailing bytes, BER lengths,
 * invalid extensions, a public key BIT STRING with unused bits, whatever
 * the key type), CR_E_UNSUPPORTED for a key type other than RSA,
 * named-curve EC, Ed25519 or X25519. On error *out is left cleared.
 */
int cr_cert_parse(const uint8_t *der, size_t len, struct cr_cert *out);

/* Frees what cr_cert_parse() allocated and zeroes the struct; safe twice. */
void cr_cert_clear(struct cr_cert *c);

/* Parses a DER SubjectPublicKeyInfo; errors as for cr_cert_parse(). */
int cr_spki_parse(const uint8_t *der, size_t len, struct cr_pubkey *out);

/* Frees what cr_spki_parse() allocated and zeroes the struct; safe twice. */
void cr_pubkey_clear(struct cr_pubkey *k);

/*
 * Builds SubjectPublicKeyInfo DER for an RSA key from big-endian n and e
 * (leading zeros allowed). *der is malloc'd. CR_E_DATA for a zero n or e.
 */
int cr_spki_from_rsa(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len, uint8_t **der,
		     size_t *der_len);

/*
 * Builds SubjectPublicKeyInfo DER for an EC, Ed25519 or X25519 key. point
 * is either raw (04||X||Y, or the 32-byte key of the 25519 curves) or a
 * CKA_EC_POINT DER OCTET STRING holding it. CR_E_DATA for a point not on
 * the curve.
 */
int cr_spki_from_ec(enum cr_curve curve, const uint8_t *point, size_t point_len, uint8_t **der,
		    size_t *der_len);

#endif
