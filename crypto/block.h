/*
 * Single-block ciphers: one 3DES or AES block in ECB, no padding. This is
 * the whole use PIV makes of a symmetric cipher (management-key
 * challenge-response), on the host and in the card simulator alike.
 */
#ifndef SIGNET_CRYPTO_BLOCK_H
#define SIGNET_CRYPTO_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cr_block_alg {
	CR_BLOCK_3DES,   /* three-key TDEA (DES-EDE3), 8-byte blocks */
	CR_BLOCK_AES128,
	CR_BLOCK_AES192,
	CR_BLOCK_AES256,
};

/* The largest block of any cr_block_alg, for stack buffers. */
#define CR_BLOCK_MAX_SIZE 16

/* Block size in bytes (8 or 16); 0 for a value that is not a cr_block_alg. */
size_t cr_block_size(enum cr_block_alg alg);

/* Key size in bytes (24, 16, 24, 32); 0 for a value that is not a cr_block_alg. */
size_t cr_block_key_size(enum cr_block_alg alg);

/*
 * Encrypts (encrypt true) or decrypts one block of cr_block_size(alg) bytes
 * from in to out; in and out may be the same buffer. key_len must be
 * cr_block_key_size(alg). CR_E_ARGS for a NULL pointer, an unknown alg or
 * a key of the wrong length; CR_E_INTERNAL when OpenSSL fails (out is then
 * zeroed). The key schedule is wiped before returning.
 */
int cr_block_crypt(enum cr_block_alg alg, const uint8_t *key, size_t key_len, bool encrypt,
		   const uint8_t *in, uint8_t *out);

#endif
