/* Unit tests for apdu/tlv: BER-TLV reader and writer, exact bytes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/tlv.h"
#include "tests/check_util.h"

struct read_case {
	const char *in;
	int rc;
	uint32_t tag;
	size_t val_off, len;
};

static const struct read_case read_cases[] = {
	{ "", 0, 0, 0, 0 },
	{ "01 00", 1, 0x01, 2, 0 },
	{ "5C 03 5F C1 05", 1, 0x5C, 2, 3 },
	{ "5F C1 05 00", 1, 0x5FC105, 4, 0 },
	{ "5F C1 05 02 AA BB", 1, 0x5FC105, 4, 2 },
	{ "7F 49 03 86 01 04", 1, 0x7F49, 3, 3 },
	{ "53 81 01 AA", 1, 0x53, 3, 1 },
	{ "53 82 00 02 AA BB", 1, 0x53, 4, 2 },
	{ "53 83 00 00 01 AA", 1, 0x53, 5, 1 },
	{ "53 00 FF", 1, 0x53, 2, 0 },
	/* truncated tags */
	{ "5F", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "5F C1", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "7F", TLV_E_TRUNCATED, 0, 0, 0 },
	/* tag longer than 3 bytes */
	{ "5F C1 85 01 00", TLV_E_TAG, 0, 0, 0 },
	{ "1F 80 80 80 01 00", TLV_E_TAG, 0, 0, 0 },
	/* missing or truncated length */
	{ "53", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "5F C1 05", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "53 81", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "53 82 01", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "53 83 00 01", TLV_E_TRUNCATED, 0, 0, 0 },
	/* indefinite and over-long length forms */
	{ "53 80 01 00 00", TLV_E_LENGTH, 0, 0, 0 },
	{ "53 84 00 00 00 01 AA", TLV_E_LENGTH, 0, 0, 0 },
	{ "53 FF", TLV_E_LENGTH, 0, 0, 0 },
	/* value past the input */
	{ "53 01", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "53 02 AA", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "53 81 05 01 02", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "53 82 FF FF 00", TLV_E_TRUNCATED, 0, 0, 0 },
	{ "53 83 FF FF FF 00", TLV_E_TRUNCATED, 0, 0, 0 },
};

START_TEST(test_read_table)
{
	const struct read_case *c = &read_cases[_i];
	uint8_t in[64];
	size_t n = tu_unhex(c->in, in, sizeof(in));
	struct tlv_rd r;
	uint32_t tag = 0xDEAD;
	const uint8_t *val = NULL;
	size_t len = 12345;
	int rc;

	tlv_rd_init(&r, in, n);
	rc = tlv_next(&r, &tag, &val, &len);
	ck_assert_msg(rc == c->rc, "case \"%s\": rc %d, want %d", c->in, rc, c->rc);
	if (rc == 1) {
		ck_assert_uint_eq(tag, c->tag);
		ck_assert_ptr_eq(val, in + c->val_off);
		ck_assert_uint_eq(len, c->len);
		ck_assert_ptr_eq(r.p, in + c->val_off + c->len);
		ck_assert_uint_eq(r.left, n - c->val_off - c->len);
	} else {
		/* No progress and no output on end or error. */
		ck_assert_ptr_eq(r.p, in);
		ck_assert_uint_eq(r.left, n);
		ck_assert_uint_eq(tag, 0xDEAD);
		ck_assert_ptr_null(val);
		ck_assert_uint_eq(len, 12345);
	}
}
END_TEST

/* Long forms with real payloads: 81 80, 82 01 00, 82 0B B8, 83 01 00 00. */
static const size_t long_lens[] = { 0x7F, 0x80, 0xFF, 0x100, 3000, 0x10000 };

START_TEST(test_read_long_lengths)
{
	size_t vlen = long_lens[_i], hdr, i;
	uint8_t *in = malloc(vlen + 8);
	struct tlv_rd r;
	uint32_t tag;
	const uint8_t *val;
	size_t len;

	ck_assert_ptr_nonnull(in);
	in[0] = 0x70;
	if (vlen < 0x80) {
		in[1] = (uint8_t)vlen;
		hdr = 2;
	} else if (vlen <= 0xFF) {
		in[1] = 0x81;
		in[2] = (uint8_t)vlen;
		hdr = 3;
	} else if (vlen <= 0xFFFF) {
		in[1] = 0x82;
		in[2] = (uint8_t)(vlen >> 8);
		in[3] = (uint8_t)vlen;
		hdr = 4;
	} else {
		in[1] = 0x83;
		in[2] = (uint8_t)(vlen >> 16);
		in[3] = (uint8_t)(vlen >> 8);
		in[4] = (uint8_t)vlen;
		hdr = 5;
	}
	for (i = 0; i < vlen; i++)
		in[hdr + i] = (uint8_t)i;
	tlv_rd_init(&r, in, hdr + vlen);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), 1);
	ck_assert_uint_eq(tag, 0x70);
	ck_assert_ptr_eq(val, in + hdr);
	ck_assert_uint_eq(len, vlen);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), 0);
	/* One byte short of the value is truncated. */
	tlv_rd_init(&r, in, hdr + vlen - 1);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), TLV_E_TRUNCATED);
	free(in);
}
END_TEST

START_TEST(test_read_sequence_then_error)
{
	uint8_t in[32];
	size_t n = tu_unhex("80 01 11 AA 01 02 5F C1 05 00 53 05 01", in, sizeof(in));
	struct tlv_rd r;
	uint32_t tag;
	const uint8_t *val;
	size_t len;

	tlv_rd_init(&r, in, n);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), 1);
	ck_assert_uint_eq(tag, 0x80);
	ck_assert_uint_eq(len, 1);
	ck_assert_uint_eq(val[0], 0x11);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), 1);
	ck_assert_uint_eq(tag, 0xAA);
	ck_assert_uint_eq(val[0], 0x02);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), 1);
	ck_assert_uint_eq(tag, 0x5FC105);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), TLV_E_TRUNCATED);
	ck_assert_ptr_eq(r.p, in + 10);
	ck_assert_uint_eq(r.left, 3);
	/* The error repeats: the reader did not move. */
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), TLV_E_TRUNCATED);
}
END_TEST

/* An inner length that claims more than its container holds. */
START_TEST(test_read_nested_length_overrun)
{
	uint8_t in[16];
	size_t n = tu_unhex("7C 04 82 05 01 02 03 04 05", in, sizeof(in));
	struct tlv_rd r, inner;
	uint32_t tag;
	const uint8_t *val;
	size_t len;

	tlv_rd_init(&r, in, n);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), 1);
	ck_assert_uint_eq(tag, 0x7C);
	ck_assert_uint_eq(len, 4);
	tlv_rd_init(&inner, val, len);
	ck_assert_int_eq(tlv_next(&inner, &tag, &val, &len), TLV_E_TRUNCATED);
}
END_TEST

START_TEST(test_read_null_input)
{
	struct tlv_rd r;
	uint32_t tag;
	const uint8_t *val;
	size_t len;

	tlv_rd_init(&r, NULL, 5);
	ck_assert_uint_eq(r.left, 0);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), 0);
}
END_TEST

START_TEST(test_find)
{
	uint8_t in[32];
	size_t n = tu_unhex("70 02 30 00 71 01 00 FE 00", in, sizeof(in));
	const uint8_t *val = NULL;
	size_t len = 99;

	ck_assert_int_eq(tlv_find(in, n, 0x71, &val, &len), 1);
	ck_assert_ptr_eq(val, in + 6);
	ck_assert_uint_eq(len, 1);
	ck_assert_int_eq(tlv_find(in, n, 0xFE, &val, &len), 1);
	ck_assert_uint_eq(len, 0);
	/* 30 is inside 70: only the top level is searched. */
	ck_assert_int_eq(tlv_find(in, n, 0x30, &val, &len), 0);
	ck_assert_int_eq(tlv_find(in, 0, 0x70, &val, &len), 0);
	/* Cut in the middle of 71: 70 is still found, 71 is malformed. */
	ck_assert_int_eq(tlv_find(in, 5, 0x70, &val, &len), 1);
	ck_assert_int_eq(tlv_find(in, 5, 0x71, &val, &len), TLV_E_TRUNCATED);
}
END_TEST

START_TEST(test_find_strict)
{
	uint8_t in[32];
	size_t n = tu_unhex("80 01 01 81 01 02 80 01 03", in, sizeof(in));
	const uint8_t *val = NULL;
	size_t len = 0;

	ck_assert_int_eq(tlv_find_strict(in, 6, 0x81, &val, &len), 1);
	ck_assert_uint_eq(val[0], 0x02);
	ck_assert_int_eq(tlv_find_strict(in, n, 0x80, &val, &len), TLV_E_TAG);
	ck_assert_int_eq(tlv_find_strict(in, 6, 0x82, &val, &len), 0);
	/* Trailing garbage after the item is an error in strict mode. */
	ck_assert_int_eq(tlv_find_strict(in, 8, 0x81, &val, &len), TLV_E_TRUNCATED);
}
END_TEST

struct tag_case {
	uint32_t tag;
	const char *out;
};

static const struct tag_case tag_cases[] = {
	{ 0x00, "00" },
	{ 0x53, "53" },
	{ 0x7F49, "7F 49" },
	{ 0x5FC105, "5F C1 05" },
	{ 0x5FFF01, "5F FF 01" },
	{ 0x1000000, NULL },
	{ 0xFFFFFFFF, NULL },
};

START_TEST(test_put_tag_table)
{
	const struct tag_case *c = &tag_cases[_i];
	uint8_t want[8];
	struct buf b;

	buf_init(&b);
	tlv_put_tag(&b, c->tag);
	if (c->out == NULL) {
		ck_assert(!buf_ok(&b));
		ck_assert_uint_eq(b.len, 0);
	} else {
		size_t n = tu_unhex(c->out, want, sizeof(want));

		ck_assert(buf_ok(&b));
		ck_assert_uint_eq(b.len, n);
		ck_assert_mem_eq(b.d, want, n);
	}
	buf_free(&b);
}
END_TEST

struct len_case {
	size_t len;
	const char *out;
};

static const struct len_case len_cases[] = {
	{ 0, "00" },
	{ 1, "01" },
	{ 0x7F, "7F" },
	{ 0x80, "81 80" },
	{ 0xFF, "81 FF" },
	{ 0x100, "82 01 00" },
	{ 0x106, "82 01 06" },
	{ 0xFFFF, "82 FF FF" },
	{ 0x10000, "83 01 00 00" },
	{ 0xFFFFFF, "83 FF FF FF" },
	{ 0x1000000, NULL },
};

START_TEST(test_put_len_table)
{
	const struct len_case *c = &len_cases[_i];
	uint8_t want[8];
	struct buf b;

	buf_init(&b);
	tlv_put_len(&b, c->len);
	if (c->out == NULL) {
		ck_assert(!buf_ok(&b));
		ck_assert_uint_eq(tlv_len_size(c->len), 0);
	} else {
		size_t n = tu_unhex(c->out, want, sizeof(want));

		ck_assert(buf_ok(&b));
		ck_assert_uint_eq(b.len, n);
		ck_assert_uint_eq(tlv_len_size(c->len), n);
		ck_assert_mem_eq(b.d, want, n);
	}
	buf_free(&b);
}
END_TEST

START_TEST(test_put_exact)
{
	uint8_t want[16];
	size_t n = tu_unhex("5C 03 5F C1 05 53 00", want, sizeof(want));
	struct buf b;

	buf_init(&b);
	tlv_put(&b, 0x5C, "\x5F\xC1\x05", 3);
	tlv_put(&b, 0x53, NULL, 0);
	ck_assert(buf_ok(&b));
	ck_assert_uint_eq(b.len, n);
	ck_assert_mem_eq(b.d, want, n);
	buf_free(&b);
}
END_TEST

/* The RSA-2048 GENERAL AUTHENTICATE template: 7C 82 01 06 82 00 81 82 01 00 <256>. */
START_TEST(test_open_close_moves_value)
{
	uint8_t data[256];
	struct buf b;
	size_t mark;

	memset(data, 0xA5, sizeof(data));
	buf_init(&b);
	mark = tlv_open(&b, 0x7C);
	tlv_put(&b, 0x82, NULL, 0);
	tlv_put(&b, 0x81, data, sizeof(data));
	tlv_close(&b, mark);
	ck_assert(buf_ok(&b));
	ck_assert_uint_eq(b.len, 4 + 2 + 4 + 256);
	ck_assert_mem_eq(b.d, "\x7C\x82\x01\x06\x82\x00\x81\x82\x01\x00", 10);
	ck_assert_mem_eq(b.d + 10, data, sizeof(data));
	buf_free(&b);
}
END_TEST

START_TEST(test_open_close_nested_short)
{
	uint8_t want[32];
	size_t n = tu_unhex("AC 09 80 01 11 AA 01 02 AB 01 02", want, sizeof(want));
	struct buf b;
	size_t mark;

	buf_init(&b);
	mark = tlv_open(&b, 0xAC);
	tlv_put(&b, 0x80, "\x11", 1);
	tlv_put(&b, 0xAA, "\x02", 1);
	tlv_put(&b, 0xAB, "\x02", 1);
	tlv_close(&b, mark);
	ck_assert(buf_ok(&b));
	ck_assert_uint_eq(b.len, n);
	ck_assert_mem_eq(b.d, want, n);
	buf_free(&b);
}
END_TEST

START_TEST(test_open_close_empty)
{
	struct buf b;
	size_t mark;

	buf_init(&b);
	buf_put_u8(&b, 0x99);
	mark = tlv_open(&b, 0x7F49);
	tlv_close(&b, mark);
	ck_assert(buf_ok(&b));
	ck_assert_uint_eq(b.len, 4);
	ck_assert_mem_eq(b.d, "\x99\x7F\x49\x00", 4);
	buf_free(&b);
}
END_TEST

START_TEST(test_close_bad_mark_fails)
{
	struct buf b;

	buf_init(&b);
	buf_put_u8(&b, 0x01);
	tlv_close(&b, 5);
	ck_assert(!buf_ok(&b));
	buf_free(&b);
}
END_TEST

/* Nested constructed items of growing sizes read back exactly as written. */
static const size_t round_trip_sizes[] = { 0, 1, 0x7D, 0x7E, 0x7F, 0x80, 0xFC, 0xFD, 0xFF, 0x100, 3000, 70000 };

START_TEST(test_round_trip_nested)
{
	size_t vlen = round_trip_sizes[_i], i, outer_mark, inner_mark;
	uint8_t *data = malloc(vlen + 1);
	struct buf b;
	struct tlv_rd r, in;
	uint32_t tag;
	const uint8_t *val;
	size_t len;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < vlen; i++)
		data[i] = (uint8_t)(i ^ 0x5A);
	buf_init(&b);
	outer_mark = tlv_open(&b, 0x53);
	inner_mark = tlv_open(&b, 0x7F49);
	tlv_put(&b, 0x86, data, vlen);
	tlv_close(&b, inner_mark);
	tlv_put(&b, 0xFE, NULL, 0);
	tlv_close(&b, outer_mark);
	ck_assert(buf_ok(&b));

	tlv_rd_init(&r, b.d, b.len);
	ck_assert_int_eq(tlv_next(&r, &tag, &val, &len), 1);
	ck_assert_uint_eq(tag, 0x53);
	ck_assert_uint_eq(r.left, 0);
	tlv_rd_init(&in, val, len);
	ck_assert_int_eq(tlv_next(&in, &tag, &val, &len), 1);
	ck_assert_uint_eq(tag, 0x7F49);
	ck_assert_int_eq(tlv_find_strict(val, len, 0x86, &val, &len), 1);
	ck_assert_uint_eq(len, vlen);
	if (vlen > 0)
		ck_assert_mem_eq(val, data, vlen);
	ck_assert_int_eq(tlv_next(&in, &tag, &val, &len), 1);
	ck_assert_uint_eq(tag, 0xFE);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(tlv_next(&in, &tag, &val, &len), 0);
	buf_free(&b);
	free(data);
}
END_TEST

START_TEST(test_writer_after_failure_is_noop)
{
	struct buf b;
	size_t mark;

	buf_init(&b);
	tlv_put_tag(&b, 0x12345678);
	ck_assert(!buf_ok(&b));
	mark = tlv_open(&b, 0x7C);
	ck_assert_uint_eq(mark, SIZE_MAX);
	tlv_put(&b, 0x81, "x", 1);
	tlv_close(&b, mark);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
}
END_TEST

/* Whatever the bytes, every item lies inside the input and the reader
 * always moves forward or stops. Under ASan this also proves no read
 * goes past the buffer (each one is allocated to its exact size). */
START_TEST(test_random_inputs_stay_in_bounds)
{
	uint32_t state = 0x12345678;
	int round;

	for (round = 0; round < 20000; round++) {
		size_t n = tu_next_random(&state) % 40, i;
		uint8_t *in = malloc(n ? n : 1);
		struct tlv_rd r;
		uint32_t tag;
		const uint8_t *val;
		size_t len, left;
		int rc;

		ck_assert_ptr_nonnull(in);
		for (i = 0; i < n; i++) {
			uint32_t v = tu_next_random(&state);

			/* Favour the bytes that matter to the parser. */
			in[i] = (v & 3) == 0 ? (uint8_t)(0x80 | ((v >> 8) & 0x87)) : (uint8_t)(v >> 16);
		}
		tlv_rd_init(&r, in, n);
		left = n;
		while ((rc = tlv_next(&r, &tag, &val, &len)) == 1) {
			ck_assert(val >= in && val <= in + n);
			ck_assert_uint_le(len, (size_t)(in + n - val));
			ck_assert_uint_lt(r.left, left);
			ck_assert_ptr_eq(r.p, val + len);
			left = r.left;
		}
		ck_assert(rc == 0 || rc == TLV_E_TRUNCATED || rc == TLV_E_TAG || rc == TLV_E_LENGTH);
		ck_assert(rc != 0 || r.left == 0);
		free(in);
	}
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *tlv_suite(void)
{
	Suite *s = suite_create("tlv");
	TCase *tc = tcase_create("tlv_next");

	tcase_add_loop_test(tc, test_read_table, 0, N(read_cases));
	tcase_add_loop_test(tc, test_read_long_lengths, 0, N(long_lens));
	tcase_add_test(tc, test_read_sequence_then_error);
	tcase_add_test(tc, test_read_nested_length_overrun);
	tcase_add_test(tc, test_read_null_input);
	tcase_add_test(tc, test_random_inputs_stay_in_bounds);
	suite_add_tcase(s, tc);
	tc = tcase_create("tlv_find");
	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_find_strict);
	suite_add_tcase(s, tc);
	tc = tcase_create("tlv_put");
	tcase_add_loop_test(tc, test_put_tag_table, 0, N(tag_cases));
	tcase_add_loop_test(tc, test_put_len_table, 0, N(len_cases));
	tcase_add_test(tc, test_put_exact);
	tcase_add_test(tc, test_writer_after_failure_is_noop);
	suite_add_tcase(s, tc);
	tc = tcase_create("tlv_open_close");
	tcase_add_test(tc, test_open_close_moves_value);
	tcase_add_test(tc, test_open_close_nested_short);
	tcase_add_test(tc, test_open_close_empty);
	tcase_add_test(tc, test_close_bad_mark_fails);
	tcase_add_loop_test(tc, test_round_trip_nested, 0, N(round_trip_sizes));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(tlv_suite());
}
