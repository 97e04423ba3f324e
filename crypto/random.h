/* Random bytes from our own library context's generator. */
#ifndef SIGNET_CRYPTO_RANDOM_H
#define SIGNET_CRYPTO_RANDOM_H

#include <stddef.h>
#include <stdint.h>

/* Fills n bytes of out; CR_E_ARGS for a NULL out with n > 0, CR_E_INTERNAL when the generator fails. */
int cr_random(uint8_t *out, size_t n);

#endif
