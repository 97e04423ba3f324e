#include "crypto/ecdsa.h"

#include <string.h>

#include "crypto/cr.h"
#include "crypto/der.h"

struct curve_info {
	enum cr_curve curve;
	const char *name;
	const uint8_t *oid_der;
	size_t oid_der_len;
	size_t field_size;
	size_t order_bits;
};

static const uint8_t oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const uint8_t oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const uint8_t oid_p521[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const uint8_t oid_ed25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
static const uint8_t name_ed25519[] = { 0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9' };
static const uint8_t oid_x25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x6e };
static const uint8_t name_x25519[] = { 0x13, 0x0a, 'c', 'u', 'r', 'v', 'e', '2', '5', '5', '1', '9' };

static const struct curve_info curves[] = {
	{ CR_CURVE_P256, "P-256", oid_p256, sizeof(oid_p256), 32, 256 },
	{ CR_CURVE_P384, "P-384", oid_p384, sizeof(oid_p384), 48, 384 },
	{ CR_CURVE_P521, "P-521", oid_p521, sizeof(oid_p521), 66, 521 },
	{ CR_CURVE_ED25519, "Ed25519", oid_ed25519, sizeof(oid_ed25519), 32, 253 },
	{ CR_CURVE_X25519, "X25519", oid_x25519, sizeof(oid_x25519), 32, 253 },
};

static const struct curve_info *find_curve(enum cr_curve c)
{
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].curve == c)
			return &curves[i];
	return NULL;
}

int cr_curve_from_params(const uint8_t *der, size_t len, enum cr_curve *curve)
{
	struct cr_der r = { der, len };
	const uint8_t *val;
	size_t val_len;
	uint8_t tag;

	if (der == NULL || curve == NULL)
		return CR_E_ARGS;
	*curve = CR_CURVE_NONE;
	if (cr_der_read(&r, &tag, &val, &val_len) != CR_OK || r.left != 0)
		return CR_E_DATA;
	if (len == sizeof(name_ed25519) && memcmp(der, name_ed25519, len) == 0) {
		*curve = CR_CURVE_ED25519;
		return CR_OK;
	}
	if (len == sizeof(name_x25519) && memcmp(der, name_x25519, len) == 0) {
		*curve = CR_CURVE_X25519;
		return CR_OK;
	}
	if (tag != CR_DER_OID)
		return CR_E_UNSUPPORTED;
	for (size_t i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
		if (curves[i].oid_der_len == len && memcmp(curves[i].oid_der, der, len) == 0) {
			*curve = curves[i].curve;
			return CR_OK;
		}
	}
	return CR_E_UNSUPPORTED;
}

int cr_curve_params(enum cr_curve c, const uint8_t **der, size_t *len)
{
	const struct curve_info *info = find_curve(c);

	if (info == NULL || der == NULL || len == NULL)
		return CR_E_ARGS;
	*der = info->oid_der;
	*len = info->oid_der_len;
	return CR_OK;
}

size_t cr_curve_field_size(enum cr_curve c)
{
	const struct curve_info *info = find_curve(c);

	return info != NULL ? info->field_size : 0;
}

size_t cr_curve_order_bits(enum cr_curve c)
{
	const struct curve_info *info = find_curve(c);

	return info != NULL ? info->order_bits : 0;
}

const char *cr_curve_name(enum cr_curve c)
{
	const struct curve_info *info = find_curve(c);

	return info != NULL ? info->name : "unknown";
}

/*
 * Reads a positive DER INTEGER into field_size bytes, left-padded. Strict:
 * minimal encoding, no sign bit, not zero, not longer than the field.
 */
static int read_positive_integer(struct cr_der *r, size_t field_size, uint8_t *out)
{
	const uint8_t *val;
	size_t len;

	if (cr_der_expect(r, CR_DER_INTEGER, &val, &len) != CR_OK || len == 0)
		return CR_E_DATA;
	if (val[0] & 0x80)
		return CR_E_DATA;
	if (val[0] == 0x00) {
		if (len == 1 || !(val[1] & 0x80))
			return CR_E_DATA; /* zero, or a leading zero DER forbids */
		val++;
		len--;
	}
	if (len > field_size)
		return CR_E_DATA;
	memset(out, 0, field_size - len);
	memcpy(out + field_size - len, val, len);
	return CR_OK;
}

int cr_ecdsa_der_to_raw(const uint8_t *der, size_t der_len, size_t field_size, uint8_t *raw, size_t *raw_len)
{
	struct cr_der outer = { der, der_len }, inner;
	const uint8_t *val;
	size_t len;

	if (der == NULL || raw_len == NULL || field_size == 0 || field_size > CR_EC_MAX_FIELD_SIZE)
		return CR_E_ARGS;
	if (raw == NULL || *raw_len < 2 * field_size) {
		*raw_len = 2 * field_size;
		return CR_E_BUFFER;
	}
	if (cr_der_expect(&outer, CR_DER_SEQUENCE, &val, &len) != CR_OK || outer.left != 0)
		return CR_E_DATA;
	inner.p = val;
	inner.left = len;
	if (read_positive_integer(&inner, field_size, raw) != CR_OK ||
	    read_positive_integer(&inner, field_size, raw + field_size) != CR_OK || inner.left != 0)
		return CR_E_DATA;
	*raw_len = 2 * field_size;
	return CR_OK;
}

/* Where the significant bytes of a big-endian number start; len if it is zero. */
static size_t skip_leading_zeros(const uint8_t *num, size_t len)
{
	size_t i = 0;

	while (i < len && num[i] == 0)
		i++;
	return i;
}

/* Content length of a DER INTEGER holding the len-byte positive number num. */
static size_t integer_content_len(const uint8_t *num, size_t len)
{
	return len + ((num[0] & 0x80) ? 1 : 0);
}

static size_t put_integer(uint8_t *out, const uint8_t *num, size_t len)
{
	size_t content = integer_content_len(num, len);
	size_t pos = cr_der_put_header(out, CR_DER_INTEGER, content);

	if (content > len)
		out[pos++] = 0x00;
	memcpy(out + pos, num, len);
	return pos + len;
}

int cr_ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t *der, size_t *der_len)
{
	const uint8_t *r, *s;
	size_t half, r_len, s_len, r_int, s_int, body, total, pos;

	if (raw == NULL || der_len == NULL || raw_len == 0 || raw_len % 2 != 0 || raw_len > CR_ECDSA_MAX_RAW_SIZE)
		return CR_E_ARGS;
	half = raw_len / 2;
	r = raw + skip_leading_zeros(raw, half);
	s = raw + half + skip_leading_zeros(raw + half, half);
	r_len = (size_t)(raw + half - r);
	s_len = (size_t)(raw + raw_len - s);
	if (r_len == 0 || s_len == 0)
		return CR_E_DATA;
	r_int = integer_content_len(r, r_len);
	s_int = integer_content_len(s, s_len);
	body = cr_der_header_size(r_int) + r_int + cr_der_header_size(s_int) + s_int;
	total = cr_der_header_size(body) + body;
	if (der == NULL || *der_len < total) {
		*der_len = total;
		return CR_E_BUFFER;
	}
	pos = cr_der_put_header(der, CR_DER_SEQUENCE, body);
	pos += put_integer(der + pos, r, r_len);
	put_integer(der + pos, s, s_len);
	*der_len = total;
	return CR_OK;
}

int cr_ecdsa_truncate_hash(enum cr_curve c, const uint8_t *hash, size_t hash_len, uint8_t *out, size_t *out_len)
{
	size_t bits = cr_curve_order_bits(c), keep, shift;

	if (bits == 0 || c == CR_CURVE_ED25519 || c == CR_CURVE_X25519 || hash == NULL || hash_len == 0 || out_len == NULL)
		return CR_E_ARGS;
	if (hash_len * 8 <= bits) {
		keep = hash_len;
		shift = 0;
	} else {
		keep = (bits + 7) / 8;
		shift = keep * 8 - bits;
	}
	if (out == NULL || *out_len < keep) {
		*out_len = keep;
		return CR_E_BUFFER;
	}
	/* Shift right so the result is the integer of the leftmost bits. */
	for (size_t i = keep; i-- > 0;) {
		unsigned v = (unsigned)hash[i] >> shift;

		if (shift > 0 && i > 0)
			v |= (unsigned)hash[i - 1] << (8 - shift);
		out[i] = (uint8_t)v;
	}
	*out_len = keep;
	return CR_OK;
}

int cr_ecdsa_hash_block(enum cr_curve c, const uint8_t *hash, size_t hash_len, uint8_t *block)
{
	uint8_t e[CR_EC_MAX_FIELD_SIZE];
	size_t field = cr_curve_field_size(c), e_len = sizeof(e);
	int rc;

	if (c == CR_CURVE_P521)
		return CR_E_UNSUPPORTED;
	if (block == NULL)
		return CR_E_ARGS;
	rc = cr_ecdsa_truncate_hash(c, hash, hash_len, e, &e_len);
	if (rc != CR_OK)
		return rc;
	memset(block, 0, field - e_len);
	memcpy(block + field - e_len, e, e_len);
	return CR_OK;
}
