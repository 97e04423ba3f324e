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
