/* Secrets in memory (PINs, PUKs, management keys, plaintext, key material): wiping and comparing them. */
#ifndef SIGNET_CRYPTO_WIPE_H
#define SIGNET_CRYPTO_WIPE_H

#include <stdbool.h>
#include <stddef.h>

/* Overwrites len bytes at p with zeros in a way the compiler cannot drop. */
void cr_wipe(void *p, size_t len);

/* Wipes then frees a heap buffer of len bytes; NULL is fine. */
void cr_free_secret(void *p, size_t len);

/* Whether len bytes at a and b are equal, in a time that does not depend on where they differ. */
bool cr_secret_equal(const void *a, const void *b, size_t len);

#endif
