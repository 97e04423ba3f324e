#include "crypto/wipe.h"

#include <stdlib.h>
#include <openssl/crypto.h>

void cr_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

void cr_free_secret(void *p, size_t len)
{
	if (p == NULL)
		return;
	cr_wipe(p, len);
	free(p);
}

bool cr_secret_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
