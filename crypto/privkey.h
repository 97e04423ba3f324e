/*
 * Private keys read from a file's contents, for importing into a token
 * (PIV IMPORT ASYMMETRIC KEY wants RSA's CRT parts or the EC scalar). Every
 * secret field is wiped when the struct is cleared.
 */
#ifndef SIGNET_CRYPTO_PRIVKEY_H
#define SIGNET_CRYPTO_PRIVKEY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/x509.h"

struct cr_privkey {
	enum cr_key_type type;
	size_t bits;
	enum cr_curve curve;  /* EC and Ed25519 */
	/* RSA, big-endian without leading zeros: */
	struct cr_bytes d;    /* private exponent */
	struct cr_bytes p;    /* prime 1 */
	struct cr_bytes q;    /* prime 2 */
	struct cr_bytes dp;   /* d mod (p - 1) */
	struct cr_bytes dq;   /* d mod (q - 1) */
	struct cr_bytes qinv; /* q^-1 mod p */
	/* EC: the scalar left-padded to the field size; Ed25519: the 32-byte private key. */
	struct cr_bytes value;
	struct cr_pubkey pub; /* the public half, as cr_spki_parse() gives it */
};

/*
 * Parses an unencrypted private key: PKCS#8 or the traditional RSA / EC
 * structures, in DER or PEM. CR_E_DATA for anything else (encrypted keys
 * included) or trailing bytes, CR_E_UNSUPPORTED for other key types or
 * RSA with more than two primes. On error *out is left cleared.
 */
int cr_privkey_parse(const uint8_t *data, size_t len, struct cr_privkey *out);

/* Wipes and frees every field; safe twice. */
void cr_privkey_clear(struct cr_privkey *k);

#endif
