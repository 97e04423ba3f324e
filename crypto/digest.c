#include "crypto/digest.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/cr.h"
#include "crypto/cr_ctx.h"

struct cr_digest {
	EVP_MD_CTX *ctx;
	enum cr_hash hash;
	bool finished;
};

static const size_t hash_sizes[CR_HASH_COUNT] = {
	[CR_HASH_SHA1] = 20,     [CR_HASH_SHA224] = 28,   [CR_HASH_SHA256] = 32,
	[CR_HASH_SHA384] = 48,   [CR_HASH_SHA512] = 64,   [CR_HASH_SHA3_224] = 28,
	[CR_HASH_SHA3_256] = 32, [CR_HASH_SHA3_384] = 48, [CR_HASH_SHA3_512] = 64,
};

/*
 * DigestInfo prefixes from RFC 8017 section 9.2 note 1 (SHA-1, SHA-2) and the
 * NIST OIDs 2.16.840.1.101.3.4.2.7-10 (SHA-3), all with NULL parameters.
 */
#define SHA2_PREFIX(total, last, hlen) \
	{ 0x30, total, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, \
	  0x65, 0x03, 0x04, 0x02, last, 0x05, 0x00, 0x04, hlen }

static const uint8_t prefix_sha1[] = { 0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e,
				       0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14 };
static const uint8_t prefix_nist[][19] = {
	[CR_HASH_SHA224] = SHA2_PREFIX(0x2d, 0x04, 0x1c),
	[CR_HASH_SHA256] = SHA2_PREFIX(0x31, 0x01, 0x20),
	[CR_HASH_SHA384] = SHA2_PREFIX(0x41, 0x02, 0x30),
	[CR_HASH_SHA512] = SHA2_PREFIX(0x51, 0x03, 0x40),
	[CR_HASH_SHA3_224] = SHA2_PREFIX(0x2d, 0x07, 0x1c),
	[CR_HASH_SHA3_256] = SHA2_PREFIX(0x31, 0x08, 0x20),
	[CR_HASH_SHA3_384] = SHA2_PREFIX(0x41, 0x09, 0x30),
	[CR_HASH_SHA3_512] = SHA2_PREFIX(0x51, 0x0a, 0x40),
};

size_t cr_hash_size(enum cr_hash h)
{
	if ((unsigned)h >= CR_HASH_COUNT)
		return 0;
	return hash_sizes[h];
}

int cr_digest_new(enum cr_hash h, struct cr_digest **out)
{
	const EVP_MD *md = cr_md(h);
	struct cr_digest *d = NULL;
	int rc = CR_E_INTERNAL;

	if (out == NULL || (unsigned)h >= CR_HASH_COUNT)
		return CR_E_ARGS;
	*out = NULL;
	if (md == NULL)
		goto out;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		rc = CR_E_MEMORY;
		goto out;
	}
	d->hash = h;
	d->ctx = EVP_MD_CTX_new();
	if (d->ctx == NULL || !EVP_DigestInit_ex2(d->ctx, md, NULL))
		goto out;
	*out = d;
	d = NULL;
	rc = CR_OK;
out:
	cr_digest_free(d);
	return rc == CR_OK ? rc : cr_fail(rc);
}

int cr_digest_update(struct cr_digest *d, const uint8_t *data, size_t len)
{
	if (d == NULL || d->finished || (data == NULL && len > 0))
		return CR_E_ARGS;
	if (len == 0)
		return CR_OK;
	if (!EVP_DigestUpdate(d->ctx, data, len))
		return cr_fail(CR_E_INTERNAL);
	return CR_OK;
}

int cr_digest_final(struct cr_digest *d, uint8_t *out, size_t *out_len)
{
	size_t need;
	unsigned int got = 0;

	if (d == NULL || d->finished || out_len == NULL)
		return CR_E_ARGS;
	need = hash_sizes[d->hash];
	if (out == NULL || *out_len < need) {
		*out_len = need;
		return CR_E_BUFFER;
	}
	d->finished = true;
	if (!EVP_DigestFinal_ex(d->ctx, out, &got) || got != need)
		return cr_fail(CR_E_INTERNAL);
	*out_len = need;
	return CR_OK;
}

enum cr_hash cr_digest_hash(const struct cr_digest *d)
{
	return d->hash;
}

void cr_digest_free(struct cr_digest *d)
{
	if (d == NULL)
		return;
	EVP_MD_CTX_free(d->ctx);
	free(d);
}

int cr_hash_once(enum cr_hash h, const uint8_t *data, size_t len, uint8_t *out, size_t *out_len)
{
	const EVP_MD *md;
	size_t need = cr_hash_size(h);
	unsigned int got = 0;

	if (need == 0 || out_len == NULL || (data == NULL && len > 0))
		return CR_E_ARGS;
	if (out == NULL || *out_len < need) {
		*out_len = need;
		return CR_E_BUFFER;
	}
	md = cr_md(h);
	if (md == NULL)
		return cr_fail(CR_E_INTERNAL);
	/* EVP_Digest wants a non-NULL pointer even for empty input. */
	if (!EVP_Digest(data != NULL ? data : (const uint8_t *)"", len, out, &got, md, NULL) ||
	    got != need)
		return cr_fail(CR_E_INTERNAL);
	*out_len = need;
	return CR_OK;
}

int cr_digestinfo_prefix(enum cr_hash h, const uint8_t **prefix, size_t *prefix_len)
{
	if ((unsigned)h >= CR_HASH_COUNT || prefix == NULL || prefix_len == NULL)
		return CR_E_ARGS;
	if (h == CR_HASH_SHA1) {
		*prefix = prefix_sha1;
		*prefix_len = sizeof(prefix_sha1);
	} else {
		*prefix = prefix_nist[h];
		*prefix_len = sizeof(prefix_nist[h]);
	}
	return CR_OK;
}
