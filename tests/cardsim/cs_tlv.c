/* Output buffer and BER-TLV reader of the card side. */
#include <string.h>

#include "tests/cardsim/cardsim.h"

void out_init(struct cs_out *o, uint8_t *mem, size_t cap)
{
	o->d = mem;
	o->len = 0;
	o->cap = cap;
	o->failed = false;
}

void out_bytes(struct cs_out *o, const void *p, size_t n)
{
	if (o->failed)
		return;
	if (n > o->cap - o->len) {
		o->failed = true;
		return;
	}
	if (n > 0)
		memcpy(o->d + o->len, p, n);
	o->len += n;
}

void out_byte(struct cs_out *o, uint8_t b)
{
	out_bytes(o, &b, 1);
}

void out_tag_len(struct cs_out *o, uint32_t tag, size_t len)
{
	if (tag > 0xFFFF)
		out_byte(o, (uint8_t)(tag >> 16));
	if (tag > 0xFF)
		out_byte(o, (uint8_t)(tag >> 8));
	out_byte(o, (uint8_t)tag);
	if (len < 0x80) {
		out_byte(o, (uint8_t)len);
	} else if (len <= 0xFF) {
		out_byte(o, 0x81);
		out_byte(o, (uint8_t)len);
	} else if (len <= 0xFFFF) {
		out_byte(o, 0x82);
		out_byte(o, (uint8_t)(len >> 8));
		out_byte(o, (uint8_t)len);
	} else {
		o->failed = true;
	}
}

void out_tlv(struct cs_out *o, uint32_t tag, const void *val, size_t len)
{
	out_tag_len(o, tag, len);
	out_bytes(o, val, len);
}

/* Reads a tag of up to 3 bytes (first byte 1F-style continuation). */
static int read_tag(const uint8_t *p, size_t left, uint32_t *tag, size_t *used)
{
	size_t i = 0;
	uint32_t t;

	if (left < 1)
		return -1;
	t = p[i++];
	if ((t & 0x1F) == 0x1F) {
		do {
			if (i >= left || i >= 3)
				return -1;
			t = (t << 8) | p[i];
		} while (p[i++] & 0x80);
	}
	*tag = t;
	*used = i;
	return 0;
}

static int read_len(const uint8_t *p, size_t left, size_t *len, size_t *used)
{
	size_t n, i;

	if (left < 1)
		return -1;
	if (p[0] < 0x80) {
		*len = p[0];
		*used = 1;
		return 0;
	}
	n = p[0] & 0x7F;
	if (n == 0 || n > 3 || n >= left)
		return -1;
	*len = 0;
	for (i = 1; i <= n; i++)
		*len = (*len << 8) | p[i];
	*used = n + 1;
	return 0;
}

int cs_tlv_next(struct cs_tlv_rd *r, uint32_t *tag, const uint8_t **val, size_t *len)
{
	size_t tu, lu, l;
	uint32_t t;

	if (read_tag(r->p, r->left, &t, &tu) != 0)
		return -1;
	if (read_len(r->p + tu, r->left - tu, &l, &lu) != 0)
		return -1;
	if (l > r->left - tu - lu)
		return -1;
	*tag = t;
	*val = r->p + tu + lu;
	*len = l;
	r->p += tu + lu + l;
	r->left -= tu + lu + l;
	return 0;
}

int cs_tlv_find(const uint8_t *p, size_t n, uint32_t want, const uint8_t **val, size_t *len)
{
	struct cs_tlv_rd r = { p, n };
	uint32_t tag;

	while (r.left > 0) {
		if (cs_tlv_next(&r, &tag, val, len) != 0)
			return -1;
		if (tag == want)
			return 0;
	}
	return 1;
}
