/* Wiping secrets: PINs, PUKs, management keys, plaintext, key material. */
#ifndef SIGNET_CRYPTO_WIPE_H
#define SIGNET_CRYPTO_WIPE_H

#include <stddef.h>

/* Overwrites len bytes at p with zeros in a way the compiler cannot drop. */
void cr_wipe(void *p, size_t len);

/* Wipes then frees a heap buffer of len bytes; NULL is fine. */
void cr_free_secret(void *p, size_t len);

#endif
