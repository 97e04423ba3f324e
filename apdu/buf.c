#include "apdu/buf.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/wipe.h"

void buf_init(struct buf *b)
{
	b->d = NULL;
	b->len = 0;
	b->cap = 0;
	b->failed = false;
}

void buf_free(struct buf *b)
{
	cr_free_secret(b->d, b->cap);
	buf_init(b);
}

void buf_reset(struct buf *b)
{
	cr_wipe(b->d, b->cap);
	b->len = 0;
	b->failed = false;
}

bool buf_ok(const struct buf *b)
{
	return !b->failed;
}

void buf_fail(struct buf *b)
{
	b->failed = true;
}

static size_t grown_capacity(size_t cap, size_t need)
{
	size_t c = cap < 64 ? 64 : cap;

	while (c < need)
		c = c > BUF_MAX_SIZE / 2 ? BUF_MAX_SIZE : c * 2;
	return c;
}

/* realloc() would leave a copy of possibly secret bytes in freed memory, so
 * growth copies into a new block and wipes the old one. */
bool buf_reserve(struct buf *b, size_t n)
{
	size_t need, cap;
	uint8_t *d;

	if (b->failed)
		return false;
	if (n > BUF_MAX_SIZE - b->len) {
		b->failed = true;
		return false;
	}
	need = b->len + n;
	if (need <= b->cap)
		return true;
	cap = grown_capacity(b->cap, need);
	d = malloc(cap);
	if (d == NULL) {
		b->failed = true;
		return false;
	}
	if (b->len > 0)
		memcpy(d, b->d, b->len);
	cr_free_secret(b->d, b->cap);
	b->d = d;
	b->cap = cap;
	return true;
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || !buf_reserve(b, n))
		return;
	memcpy(b->d + b->len, p, n);
	b->len += n;
}

void buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void buf_put_u16be(struct buf *b, uint16_t v)
{
	uint8_t be[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	buf_put(b, be, sizeof(be));
}
