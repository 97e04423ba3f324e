#include "crypto/der.h"

#include "crypto/cr.h"

int cr_der_read(struct cr_der *r, uint8_t *tag, const uint8_t **val, size_t *len)
{
	size_t pos = 2, value_len;

	if (r == NULL || r->p == NULL || r->left < 2)
		return CR_E_DATA;
	if ((r->p[0] & 0x1f) == 0x1f)
		return CR_E_DATA;
	value_len = r->p[1];
	if (value_len & 0x80) {
		size_t count = value_len & 0x7f;

		/* 0x80 is BER's indefinite form; more than 4 bytes is never needed here. */
		if (count == 0 || count > 4 || r->left - 2 < count || r->p[2] == 0)
			return CR_E_DATA;
		value_len = 0;
		for (size_t i = 0; i < count; i++)
			value_len = (value_len << 8) | r->p[2 + i];
		/* DER: the long form only for lengths the short form cannot hold. */
		if (value_len < 0x80)
			return CR_E_DATA;
		pos += count;
	}
	if (r->left - pos < value_len)
		return CR_E_DATA;
	*tag = r->p[0];
	*val = r->p + pos;
	*len = value_len;
	r->p += pos + value_len;
	r->left -= pos + value_len;
	return CR_OK;
}

int cr_der_expect(struct cr_der *r, uint8_t tag, const uint8_t **val, size_t *len)
{
	struct cr_der copy = *r;
	uint8_t got;
	int rc = cr_der_read(&copy, &got, val, len);

	if (rc != CR_OK)
		return rc;
	if (got != tag)
		return CR_E_DATA;
	*r = copy;
	return CR_OK;
}

size_t cr_der_header_size(size_t len)
{
	size_t size = 2;

	if (len < 0x80)
		return size;
	for (size_t v = len; v > 0; v >>= 8)
		size++;
	return size;
}

size_t cr_der_put_header(uint8_t *out, uint8_t tag, size_t len)
{
	size_t size = cr_der_header_size(len);

	out[0] = tag;
	if (size == 2) {
		out[1] = (uint8_t)len;
		return size;
	}
	out[1] = (uint8_t)(0x80 | (size - 2));
	for (size_t i = size - 1; i >= 2; i--) {
		out[i] = (uint8_t)len;
		len >>= 8;
	}
	return size;
}
