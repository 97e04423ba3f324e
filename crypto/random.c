#include "crypto/random.h"

#include <openssl/rand.h>

#include "crypto/cr.h"
#include "crypto/cr_ctx.h"

int cr_random(uint8_t *out, size_t n)
{
	OSSL_LIB_CTX *libctx;

	if (n == 0)
		return CR_OK;
	if (out == NULL)
		return CR_E_ARGS;
	libctx = cr_libctx();
	if (libctx == NULL || RAND_bytes_ex(libctx, out, n, 0) != 1)
		return cr_fail(CR_E_INTERNAL);
	return CR_OK;
}
