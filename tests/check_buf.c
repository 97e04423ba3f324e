/* Unit tests for apdu/buf: growth, sticky failure, reset and wipe. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/buf.h"
#include "tests/check_util.h"

START_TEST(test_put_exact_bytes)
{
	static const uint8_t want[] = { 0x01, 0x02, 0x03, 0xAB, 0x12, 0x34, 0xFF };
	struct buf b;

	buf_init(&b);
	buf_put(&b, "\x01\x02\x03", 3);
	buf_put_u8(&b, 0xAB);
	buf_put_u16be(&b, 0x1234);
	buf_put_u8(&b, 0xFF);
	ck_assert(buf_ok(&b));
	ck_assert_uint_eq(b.len, sizeof(want));
	ck_assert_mem_eq(b.d, want, sizeof(want));
	buf_free(&b);
	ck_assert_ptr_null(b.d);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_uint_eq(b.cap, 0);
}
END_TEST

START_TEST(test_put_zero_length_is_noop)
{
	struct buf b;

	buf_init(&b);
	buf_put(&b, NULL, 0);
	ck_assert(buf_ok(&b));
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_null(b.d);
	buf_free(&b);
}
END_TEST

START_TEST(test_growth_keeps_contents)
{
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < 5000; i++)
		buf_put_u8(&b, (uint8_t)(i * 7));
	ck_assert(buf_ok(&b));
	ck_assert_uint_eq(b.len, 5000);
	ck_assert_uint_ge(b.cap, 5000);
	for (i = 0; i < 5000; i++)
		ck_assert_uint_eq(b.d[i], (uint8_t)(i * 7));
	buf_free(&b);
}
END_TEST

START_TEST(test_oversize_fails_and_sticks)
{
	struct buf b;

	buf_init(&b);
	buf_put_u8(&b, 0x42);
	ck_assert(!buf_reserve(&b, BUF_MAX_SIZE));
	ck_assert(!buf_ok(&b));
	/* Sticky: later appends change nothing. */
	buf_put_u8(&b, 0x43);
	buf_put_u16be(&b, 0x4445);
	ck_assert(!buf_ok(&b));
	ck_assert_uint_eq(b.len, 1);
	ck_assert_uint_eq(b.d[0], 0x42);
	buf_free(&b);
}
END_TEST

START_TEST(test_size_overflow_fails)
{
	struct buf b;

	buf_init(&b);
	buf_put_u8(&b, 1);
	ck_assert(!buf_reserve(&b, SIZE_MAX));
	ck_assert(!buf_ok(&b));
	buf_free(&b);
}
END_TEST

START_TEST(test_fail_marks_buffer)
{
	struct buf b;

	buf_init(&b);
	buf_fail(&b);
	ck_assert(!buf_ok(&b));
	buf_put_u8(&b, 1);
	ck_assert_uint_eq(b.len, 0);
	buf_free(&b);
	ck_assert(buf_ok(&b));
}
END_TEST

START_TEST(test_reset_wipes_and_keeps_memory)
{
	struct buf b;
	uint8_t *mem;
	size_t cap, i;

	buf_init(&b);
	buf_put(&b, "secret-pin", 10);
	mem = b.d;
	cap = b.cap;
	buf_fail(&b);
	buf_reset(&b);
	ck_assert(buf_ok(&b));
	ck_assert_uint_eq(b.len, 0);
	ck_assert_ptr_eq(b.d, mem);
	ck_assert_uint_eq(b.cap, cap);
	for (i = 0; i < cap; i++)
		ck_assert_uint_eq(b.d[i], 0);
	buf_put_u8(&b, 0x99);
	ck_assert_uint_eq(b.len, 1);
	ck_assert_uint_eq(b.d[0], 0x99);
	buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("put");

	tcase_add_test(tc, test_put_exact_bytes);
	tcase_add_test(tc, test_put_zero_length_is_noop);
	tcase_add_test(tc, test_growth_keeps_contents);
	suite_add_tcase(s, tc);
	tc = tcase_create("failure");
	tcase_add_test(tc, test_oversize_fails_and_sticks);
	tcase_add_test(tc, test_size_overflow_fails);
	tcase_add_test(tc, test_fail_marks_buffer);
	suite_add_tcase(s, tc);
	tc = tcase_create("reset");
	tcase_add_test(tc, test_reset_wipes_and_keeps_memory);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(buf_suite());
}
