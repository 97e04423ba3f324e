#include "apdu/tlv.h"

#include <string.h>

void tlv_rd_init(struct tlv_rd *r, const uint8_t *p, size_t n)
{
	r->p = p;
	r->left = p == NULL ? 0 : n;
}

/* Reads the tag at p[*off]; multi-byte tags have low bits 1F in the first
 * byte and bit 8 set in every following byte except the last. */
static int read_tag(const uint8_t *p, size_t n, size_t *off, uint32_t *tag)
{
	size_t i = *off;
	uint32_t t;

	if (i >= n)
		return TLV_E_TRUNCATED;
	t = p[i++];
	if ((t & 0x1F) == 0x1F) {
		size_t count = 1;
		uint8_t b;

		do {
			if (count == 3)
				return TLV_E_TAG;
			if (i >= n)
				return TLV_E_TRUNCATED;
			b = p[i++];
			t = (t << 8) | b;
			count++;
		} while (b & 0x80);
	}
	*off = i;
	*tag = t;
	return 0;
}

static int read_len(const uint8_t *p, size_t n, size_t *off, size_t *len)
{
	size_t i = *off, count, v = 0;

	if (i >= n)
		return TLV_E_TRUNCATED;
	if (p[i] < 0x80) {
		*len = p[i];
		*off = i + 1;
		return 0;
	}
	count = p[i++] & 0x7F;
	if (count == 0 || count > 3)
		return TLV_E_LENGTH;
	if (count > n - i)
		return TLV_E_TRUNCATED;
	while (count-- > 0)
		v = (v << 8) | p[i++];
	*off = i;
	*len = v;
	return 0;
}

int tlv_next(struct tlv_rd *r, uint32_t *tag, const uint8_t **val, size_t *len)
{
	size_t off = 0, l;
	uint32_t t;
	int rc;

	if (r->left == 0)
		return 0;
	rc = read_tag(r->p, r->left, &off, &t);
	if (rc < 0)
		return rc;
	rc = read_len(r->p, r->left, &off, &l);
	if (rc < 0)
		return rc;
	if (l > r->left - off)
		return TLV_E_TRUNCATED;
	*tag = t;
	*val = r->p + off;
	*len = l;
	r->p += off + l;
	r->left -= off + l;
	return 1;
}

int tlv_find(const uint8_t *p, size_t n, uint32_t tag, const uint8_t **val, size_t *len)
{
	struct tlv_rd r;
	uint32_t t;
	const uint8_t *v;
	size_t l;
	int rc;

	tlv_rd_init(&r, p, n);
	while ((rc = tlv_next(&r, &t, &v, &l)) == 1) {
		if (t == tag) {
			*val = v;
			*len = l;
			return 1;
		}
	}
	return rc;
}

int tlv_find_strict(const uint8_t *p, size_t n, uint32_t tag, const uint8_t **val, size_t *len)
{
	struct tlv_rd r;
	uint32_t t;
	const uint8_t *v, *found_v = NULL;
	size_t l, found_l = 0;
	int rc, found = 0;

	tlv_rd_init(&r, p, n);
	while ((rc = tlv_next(&r, &t, &v, &l)) == 1) {
		if (t != tag)
			continue;
		if (found)
			return TLV_E_TAG;
		found = 1;
		found_v = v;
		found_l = l;
	}
	if (rc < 0)
		return rc;
	if (found) {
		*val = found_v;
		*len = found_l;
	}
	return found;
}

void tlv_put_tag(struct buf *b, uint32_t tag)
{
	if (tag > 0xFFFFFF) {
		buf_fail(b);
		return;
	}
	if (tag > 0xFFFF)
		buf_put_u8(b, (uint8_t)(tag >> 16));
	if (tag > 0xFF)
		buf_put_u8(b, (uint8_t)(tag >> 8));
	buf_put_u8(b, (uint8_t)tag);
}

size_t tlv_len_size(size_t len)
{
	if (len < 0x80)
		return 1;
	if (len <= 0xFF)
		return 2;
	if (len <= 0xFFFF)
		return 3;
	if (len <= TLV_MAX_LEN)
		return 4;
	return 0;
}

/* Writes the encoding of len into out (at least 4 bytes); returns its size. */
static size_t encode_len(size_t len, uint8_t out[4])
{
	size_t n = tlv_len_size(len), i;

	if (n == 1) {
		out[0] = (uint8_t)len;
		return 1;
	}
	out[0] = (uint8_t)(0x80 | (n - 1));
	for (i = n - 1; i >= 1; i--) {
		out[i] = (uint8_t)len;
		len >>= 8;
	}
	return n;
}

void tlv_put_len(struct buf *b, size_t len)
{
	uint8_t enc[4];

	if (tlv_len_size(len) == 0) {
		buf_fail(b);
		return;
	}
	buf_put(b, enc, encode_len(len, enc));
}

void tlv_put(struct buf *b, uint32_t tag, const void *val, size_t len)
{
	tlv_put_tag(b, tag);
	tlv_put_len(b, len);
	buf_put(b, val, len);
}

/* The mark is the offset of a one-byte length placeholder. */
size_t tlv_open(struct buf *b, uint32_t tag)
{
	tlv_put_tag(b, tag);
	buf_put_u8(b, 0);
	return b->failed ? SIZE_MAX : b->len - 1;
}

void tlv_close(struct buf *b, size_t mark)
{
	uint8_t enc[4];
	size_t vlen, n, extra;

	if (b->failed)
		return;
	if (mark >= b->len) {
		buf_fail(b);
		return;
	}
	vlen = b->len - mark - 1;
	if (tlv_len_size(vlen) == 0) {
		buf_fail(b);
		return;
	}
	n = encode_len(vlen, enc);
	extra = n - 1;
	if (extra > 0) {
		if (!buf_reserve(b, extra))
			return;
		memmove(b->d + mark + n, b->d + mark + 1, vlen);
		b->len += extra;
	}
	memcpy(b->d + mark, enc, n);
}
