/* Unit tests for apdu/apdu: validation, exact encodings of cases 1-4 in
 * short and extended form, chaining, GET RESPONSE, 6Cxx, capacity limits,
 * counting and redacted logging. */
#include "tests/apdu_script.h"
#include "tests/check_util.h"

static const uint8_t PIN[] = { 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0xFF, 0xFF };

/* ---- validation ---- */

struct check_case {
	const char *name;
	struct apdu a;
	int rc;
};

static const uint8_t D3[3] = { 1, 2, 3 };
static const uint8_t BIG[70000];

static const struct check_case check_cases[] = {
	{ "case 1", { .ins = 0xFB, .kase = APDU_CASE_1 }, APDU_OK },
	{ "case 1 with Le", { .ins = 0xFB, .kase = APDU_CASE_1, .le = 1 }, APDU_E_INVALID },
	{ "case 1 with data", { .ins = 0xFB, .kase = APDU_CASE_1, .data = D3, .lc = 3 }, APDU_E_INVALID },
	{ "case 1 extended", { .ins = 0xFB, .kase = APDU_CASE_1, .extended = true }, APDU_E_INVALID },
	{ "case 2 Le 256", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, APDU_OK },
	{ "case 2 Le 0", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 0 }, APDU_E_INVALID },
	{ "case 2 Le 257 short", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 257 }, APDU_E_INVALID },
	{ "case 2 Le 65536 ext", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 65536, .extended = true }, APDU_OK },
	{ "case 2 Le 65537 ext", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 65537, .extended = true }, APDU_E_INVALID },
	{ "case 2 with data", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 1, .data = D3, .lc = 3 }, APDU_E_INVALID },
	{ "case 3", { .ins = 0x20, .kase = APDU_CASE_3, .data = D3, .lc = 3 }, APDU_OK },
	{ "case 3 Lc 0", { .ins = 0x20, .kase = APDU_CASE_3, .data = D3, .lc = 0 }, APDU_E_INVALID },
	{ "case 3 no data", { .ins = 0x20, .kase = APDU_CASE_3, .lc = 3 }, APDU_E_INVALID },
	{ "case 3 with Le", { .ins = 0x20, .kase = APDU_CASE_3, .data = D3, .lc = 3, .le = 1 }, APDU_E_INVALID },
	{ "case 3 short chained", { .ins = 0xDB, .kase = APDU_CASE_3, .data = BIG, .lc = 65535 }, APDU_OK },
	{ "case 3 Lc 65536", { .ins = 0xDB, .kase = APDU_CASE_3, .data = BIG, .lc = 65536 }, APDU_E_INVALID },
	{ "case 3 ext Lc 65536", { .ins = 0xDB, .kase = APDU_CASE_3, .data = BIG, .lc = 65536, .extended = true }, APDU_E_INVALID },
	{ "chained with CLA 10", { .cla = 0x10, .ins = 0xDB, .kase = APDU_CASE_3, .data = BIG, .lc = 300 }, APDU_E_INVALID },
	{ "CLA 10 unchained", { .cla = 0x10, .ins = 0xDB, .kase = APDU_CASE_3, .data = BIG, .lc = 255 }, APDU_OK },
	{ "case 4", { .ins = 0x87, .kase = APDU_CASE_4, .data = D3, .lc = 3, .le = 256 }, APDU_OK },
	{ "case 4 Le 0", { .ins = 0x87, .kase = APDU_CASE_4, .data = D3, .lc = 3 }, APDU_E_INVALID },
	{ "case 4 no data", { .ins = 0x87, .kase = APDU_CASE_4, .lc = 0, .le = 5 }, APDU_E_INVALID },
	{ "case 0", { .ins = 0x87, .kase = 0 }, APDU_E_INVALID },
	{ "case 5", { .ins = 0x87, .kase = 5 }, APDU_E_INVALID },
	{ "CLA FF", { .cla = 0xFF, .ins = 0xFB, .kase = APDU_CASE_1 }, APDU_E_INVALID },
	{ "INS 6X", { .ins = 0x61, .kase = APDU_CASE_1 }, APDU_E_INVALID },
	{ "INS 9X", { .ins = 0x90, .kase = APDU_CASE_1 }, APDU_E_INVALID },
};

START_TEST(test_check_table)
{
	const struct check_case *c = &check_cases[_i];

	ck_assert_msg(apdu_check(&c->a) == c->rc, "%s: got %d want %d", c->name, apdu_check(&c->a), c->rc);
}
END_TEST

START_TEST(test_check_null)
{
	ck_assert_int_eq(apdu_check(NULL), APDU_E_INVALID);
}
END_TEST

/* ---- encoding ---- */

struct encode_case {
	const char *name;
	struct apdu a;
	const char *hex; /* NULL: encode must refuse */
};

static const uint8_t AID[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };

static const struct encode_case encode_cases[] = {
	{ "case 1", { .ins = 0xFB, .kase = APDU_CASE_1 }, "00 FB 00 00" },
	{ "case 2 Le 256", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, "00 FD 00 00 00" },
	{ "case 2 Le 3", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 3 }, "00 FD 00 00 03" },
	{ "case 2 Le 255", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 255 }, "00 FD 00 00 FF" },
	{ "case 3", { .ins = 0xA4, .p1 = 4, .kase = APDU_CASE_3, .data = AID, .lc = 5 }, "00 A4 04 00 05 A0 00 00 03 08" },
	{ "case 4", { .ins = 0xA4, .p1 = 4, .kase = APDU_CASE_4, .data = AID, .lc = 5, .le = 256 }, "00 A4 04 00 05 A0 00 00 03 08 00" },
	{ "case 4 Le 10", { .cla = 0x80, .ins = 0xCA, .p1 = 0x9F, .p2 = 0x7F, .kase = APDU_CASE_4, .data = D3, .lc = 3, .le = 0x10 }, "80 CA 9F 7F 03 01 02 03 10" },
	{ "case 2 ext Le 65536", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 65536, .extended = true }, "00 FD 00 00 00 00 00" },
	{ "case 2 ext Le 256", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256, .extended = true }, "00 FD 00 00 00 01 00" },
	{ "case 3 ext", { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3, .data = D3, .lc = 3, .extended = true }, "00 DB 3F FF 00 00 03 01 02 03" },
	{ "case 4 ext Le 65536", { .ins = 0x87, .p1 = 7, .p2 = 0x9A, .kase = APDU_CASE_4, .data = D3, .lc = 3, .le = 65536, .extended = true }, "00 87 07 9A 00 00 03 01 02 03 00 00" },
	{ "case 4 ext Le 1234", { .ins = 0x87, .p1 = 7, .p2 = 0x9A, .kase = APDU_CASE_4, .data = D3, .lc = 3, .le = 0x1234, .extended = true }, "00 87 07 9A 00 00 03 01 02 03 12 34" },
	{ "short Lc 256 not encodable", { .ins = 0xDB, .kase = APDU_CASE_3, .data = BIG, .lc = 256 }, NULL },
	{ "invalid", { .ins = 0xDB, .kase = APDU_CASE_3, .lc = 0 }, NULL },
};

START_TEST(test_encode_table)
{
	const struct encode_case *c = &encode_cases[_i];
	struct buf got, want;
	int rc;

	buf_init(&got);
	buf_init(&want);
	rc = apdu_encode(&c->a, &got);
	if (c->hex == NULL) {
		ck_assert_msg(rc == APDU_E_INVALID, "%s: rc %d", c->name, rc);
		ck_assert_uint_eq(got.len, 0);
	} else {
		hex_put(&want, c->hex);
		ck_assert_msg(rc == APDU_OK, "%s: rc %d", c->name, rc);
		ck_assert_msg(got.len == want.len && memcmp(got.d, want.d, want.len) == 0,
			      "%s: wrong bytes", c->name);
	}
	buf_free(&got);
	buf_free(&want);
}
END_TEST

START_TEST(test_encode_ext_lc_300)
{
	uint8_t data[300];
	struct apdu a = { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3,
			  .data = data, .lc = sizeof(data), .extended = true };
	struct buf got;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	buf_init(&got);
	ck_assert_int_eq(apdu_encode(&a, &got), APDU_OK);
	ck_assert_uint_eq(got.len, 7 + 300);
	ck_assert_mem_eq(got.d, "\x00\xDB\x3F\xFF\x00\x01\x2C", 7);
	ck_assert_mem_eq(got.d + 7, data, 300);
	buf_free(&got);
}
END_TEST

/* ---- exchanges over the scripted transport ---- */

struct step_hex {
	const char *cmd, *resp;
	int rc;
};

struct xfer_case {
	const char *name;
	struct apdu a;
	size_t cap;
	struct step_hex steps[6];
	int rc;
	uint16_t sw;
	const char *out;
};

static const struct xfer_case xfer_cases[] = {
	{ "case 1", { .ins = 0xFB, .kase = APDU_CASE_1 }, 16,
	  { { "00 FB 00 00", "90 00", APDU_OK } }, APDU_OK, 0x9000, "" },
	{ "case 2 short", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "05 04 03 90 00", APDU_OK } }, APDU_OK, 0x9000, "05 04 03" },
	{ "case 3 short, 63C2", { .ins = 0x20, .p2 = 0x80, .kase = APDU_CASE_3, .data = PIN, .lc = 8 }, 16,
	  { { "00 20 00 80 08 31 32 33 34 35 36 FF FF", "63 C2", APDU_OK } }, APDU_OK, 0x63C2, "" },
	{ "case 4 short with 61xx", { .ins = 0xA4, .p1 = 4, .kase = APDU_CASE_4, .data = AID, .lc = 5, .le = 256 }, 64,
	  { { "00 A4 04 00 05 A0 00 00 03 08 00", "61 05", APDU_OK },
	    { "00 C0 00 00 05", "61 03 4F 01 00 90 00", APDU_OK } }, APDU_OK, 0x9000, "61 03 4F 01 00" },
	{ "case 2 ext", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 65536, .extended = true }, 16,
	  { { "00 FD 00 00 00 00 00", "05 04 03 90 00", APDU_OK } }, APDU_OK, 0x9000, "05 04 03" },
	{ "case 3 ext", { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3, .data = D3, .lc = 3, .extended = true }, 0,
	  { { "00 DB 3F FF 00 00 03 01 02 03", "90 00", APDU_OK } }, APDU_OK, 0x9000, "" },
	{ "case 4 ext", { .ins = 0x87, .p1 = 7, .p2 = 0x9A, .kase = APDU_CASE_4, .data = D3, .lc = 3, .le = 65536, .extended = true }, 16,
	  { { "00 87 07 9A 00 00 03 01 02 03 00 00", "7C 02 82 00 90 00", APDU_OK } }, APDU_OK, 0x9000, "7C 02 82 00" },
	{ "several 61xx rounds", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "AA BB 61 02", APDU_OK },
	    { "00 C0 00 00 02", "CC DD 61 00", APDU_OK },
	    { "00 C0 00 00 00", "EE 90 00", APDU_OK } }, APDU_OK, 0x9000, "AA BB CC DD EE" },
	{ "6Cxx retried once", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "6C 03", APDU_OK },
	    { "00 FD 00 00 03", "05 04 03 90 00", APDU_OK } }, APDU_OK, 0x9000, "05 04 03" },
	{ "6Cxx twice", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "6C 03", APDU_OK },
	    { "00 FD 00 00 03", "6C 02", APDU_OK } }, APDU_OK, 0x6C02, "" },
	{ "6C00 means 256", { .ins = 0xCA, .kase = APDU_CASE_4, .data = D3, .lc = 3, .le = 5 }, 16,
	  { { "00 CA 00 00 03 01 02 03 05", "6C 00", APDU_OK },
	    { "00 CA 00 00 03 01 02 03 00", "90 00", APDU_OK } }, APDU_OK, 0x9000, "" },
	{ "6Cxx on case 3 not retried", { .ins = 0x20, .kase = APDU_CASE_3, .data = D3, .lc = 3 }, 16,
	  { { "00 20 00 00 03 01 02 03", "6C 05", APDU_OK } }, APDU_OK, 0x6C05, "" },
	{ "6Cxx during GET RESPONSE", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "61 10", APDU_OK },
	    { "00 C0 00 00 10", "6C 02", APDU_OK },
	    { "00 C0 00 00 02", "AB CD 90 00", APDU_OK } }, APDU_OK, 0x9000, "AB CD" },
	{ "error SW", { .ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_4, .data = D3, .lc = 3, .le = 256 }, 16,
	  { { "00 CB 3F FF 03 01 02 03 00", "6A 82", APDU_OK } }, APDU_OK, 0x6A82, "" },
	{ "exactly the capacity", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 5,
	  { { "00 FD 00 00 00", "01 02 03 61 02", APDU_OK },
	    { "00 C0 00 00 02", "04 05 90 00", APDU_OK } }, APDU_OK, 0x9000, "01 02 03 04 05" },
	{ "over the capacity", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 4,
	  { { "00 FD 00 00 00", "01 02 03 61 02", APDU_OK },
	    { "00 C0 00 00 02", "04 05 90 00", APDU_OK } }, APDU_E_OVERFLOW, 0, "" },
	{ "data with no capacity", { .ins = 0xFB, .kase = APDU_CASE_1 }, 0,
	  { { "00 FB 00 00", "01 90 00", APDU_OK } }, APDU_E_OVERFLOW, 0, "" },
	{ "empty GET RESPONSE loop", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "61 05", APDU_OK },
	    { "00 C0 00 00 05", "61 05", APDU_OK } }, APDU_E_RESPONSE, 0, "" },
	{ "one-byte response", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "90", APDU_OK } }, APDU_E_RESPONSE, 0, "" },
	{ "empty response", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "", APDU_OK } }, APDU_E_RESPONSE, 0, "" },
	{ "card reset", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "", APDU_E_CARD_RESET } }, APDU_E_CARD_RESET, 0, "" },
	{ "removed during GET RESPONSE", { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 }, 16,
	  { { "00 FD 00 00 00", "01 61 01", APDU_OK },
	    { "00 C0 00 00 01", "", APDU_E_CARD_REMOVED } }, APDU_E_CARD_REMOVED, 0, "" },
};

START_TEST(test_transmit_table)
{
	const struct xfer_case *c = &xfer_cases[_i];
	struct script s;
	struct apdu_chan ch;
	struct buf want;
	uint8_t out[64];
	size_t out_len = 999, i;
	uint16_t sw = 1;
	int rc;

	script_init(&s);
	for (i = 0; i < 6 && c->steps[i].cmd != NULL; i++)
		script_add(&s, c->steps[i].cmd, c->steps[i].resp, c->steps[i].rc);
	apdu_chan_init(&ch, &script_transport, &s);
	rc = apdu_transmit(&ch, &c->a, c->cap ? out : NULL, c->cap, &out_len, &sw);
	ck_assert_msg(rc == c->rc, "%s: rc %d want %d", c->name, rc, c->rc);
	ck_assert_msg(sw == c->sw, "%s: sw %04X want %04X", c->name, sw, c->sw);
	buf_init(&want);
	hex_put(&want, c->out);
	ck_assert_msg(out_len == want.len, "%s: %zu bytes out, want %zu", c->name, out_len, want.len);
	if (want.len > 0)
		ck_assert_mem_eq(out, want.d, want.len);
	script_assert_done(&s);
	ck_assert_uint_eq(apdu_count(&ch), s.n);
	/* The whole exchange is one transaction. */
	ck_assert_int_eq(s.begins, 1);
	ck_assert_int_eq(s.ends, 1);
	buf_free(&want);
	script_free(&s);
}
END_TEST

START_TEST(test_transmit_invalid_sends_nothing)
{
	struct script s;
	struct apdu_chan ch;
	struct apdu a = { .ins = 0xFD, .kase = APDU_CASE_2, .le = 0 };
	uint8_t out[4];
	size_t out_len;
	uint16_t sw;

	script_init(&s);
	apdu_chan_init(&ch, &script_transport, &s);
	ck_assert_int_eq(apdu_transmit(&ch, &a, out, sizeof(out), &out_len, &sw), APDU_E_INVALID);
	a.le = 4;
	ck_assert_int_eq(apdu_transmit(&ch, &a, NULL, 4, &out_len, &sw), APDU_E_INVALID);
	ck_assert_uint_eq(apdu_count(&ch), 0);
	ck_assert_int_eq(s.begins, 0);
}
END_TEST

/* ---- command chaining ---- */

static void fill(uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 13 + 1);
}

/* Sends a over a new channel on s, which must take it (APDU_OK); returns the status word. */
static uint16_t send_scripted(struct script *s, struct apdu_chan *ch, const struct apdu *a, uint8_t *out, size_t cap,
			      size_t *out_len)
{
	uint16_t sw = 0;

	apdu_chan_init(ch, &script_transport, s);
	ck_assert_int_eq(apdu_transmit(ch, a, out, cap, out_len, &sw), APDU_OK);
	return sw;
}

/* Adds an expected fragment: 4-byte header hex, Lc, data, optional Le hex. */
static void expect_fragment(struct script *s, const char *hdr, const uint8_t *data, size_t n,
			    const char *le, const char *resp)
{
	struct script_step *st = script_add(s, hdr, resp, APDU_OK);

	buf_put_u8(&st->cmd, (uint8_t)n);
	buf_put(&st->cmd, data, n);
	hex_put(&st->cmd, le);
}

START_TEST(test_chaining_case3)
{
	uint8_t data[600];
	struct apdu a = { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3, .data = data, .lc = 600 };
	struct script s;
	struct apdu_chan ch;
	size_t out_len;

	fill(data, sizeof(data));
	script_init(&s);
	expect_fragment(&s, "10 DB 3F FF", data, 255, "", "90 00");
	expect_fragment(&s, "10 DB 3F FF", data + 255, 255, "", "90 00");
	expect_fragment(&s, "00 DB 3F FF", data + 510, 90, "", "90 00");
	ck_assert_uint_eq(send_scripted(&s, &ch, &a, NULL, 0, &out_len), 0x9000);
	ck_assert_uint_eq(out_len, 0);
	ck_assert_uint_eq(apdu_count(&ch), 3);
	ck_assert_int_eq(s.begins, 1);
	script_assert_done(&s);
	script_free(&s);
}
END_TEST

START_TEST(test_chaining_exact_multiple)
{
	uint8_t data[510];
	struct apdu a = { .cla = 0x00, .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3, .data = data, .lc = 510 };
	struct script s;
	struct apdu_chan ch;
	size_t out_len;

	fill(data, sizeof(data));
	script_init(&s);
	expect_fragment(&s, "10 DB 3F FF", data, 255, "", "90 00");
	expect_fragment(&s, "00 DB 3F FF", data + 255, 255, "", "6A 84");
	ck_assert_uint_eq(send_scripted(&s, &ch, &a, NULL, 0, &out_len), 0x6A84);
	script_assert_done(&s);
	script_free(&s);
}
END_TEST

START_TEST(test_no_chaining_at_255)
{
	uint8_t data[255];
	struct apdu a = { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3, .data = data, .lc = 255 };
	struct script s;
	struct apdu_chan ch;
	size_t out_len;

	fill(data, sizeof(data));
	script_init(&s);
	expect_fragment(&s, "00 DB 3F FF", data, 255, "", "90 00");
	ck_assert_uint_eq(send_scripted(&s, &ch, &a, NULL, 0, &out_len), 0x9000);
	script_assert_done(&s);
	script_free(&s);
}
END_TEST

/* RSA-2048 signing without extended length: chained command, 61xx answer. */
START_TEST(test_chaining_case4_with_get_response)
{
	uint8_t data[300], sig[266];
	uint8_t out[300];
	struct apdu a = { .ins = 0x87, .p1 = 0x07, .p2 = 0x9A, .kase = APDU_CASE_4,
			  .data = data, .lc = 300, .le = 256 };
	struct script s;
	struct apdu_chan ch;
	struct script_step *st;
	size_t out_len;

	fill(data, sizeof(data));
	fill(sig, sizeof(sig));
	script_init(&s);
	expect_fragment(&s, "10 87 07 9A", data, 255, "", "90 00");
	expect_fragment(&s, "00 87 07 9A", data + 255, 45, "00", "");
	st = &s.steps[s.n - 1];
	resp_append(st, sig, 256, "61 0A");
	st = script_add(&s, "00 C0 00 00 0A", "", APDU_OK);
	resp_append(st, sig + 256, 10, "90 00");
	ck_assert_uint_eq(send_scripted(&s, &ch, &a, out, sizeof(out), &out_len), 0x9000);
	ck_assert_uint_eq(out_len, 266);
	ck_assert_mem_eq(out, sig, 266);
	ck_assert_uint_eq(apdu_count(&ch), 3);
	ck_assert_int_eq(s.begins, 1);
	script_assert_done(&s);
	script_free(&s);
}
END_TEST

START_TEST(test_chaining_refused_fragment)
{
	uint8_t data[300];
	struct apdu a = { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3, .data = data, .lc = 300 };
	struct script s;
	struct apdu_chan ch;
	size_t out_len;

	fill(data, sizeof(data));
	script_init(&s);
	expect_fragment(&s, "10 DB 3F FF", data, 255, "", "69 82");
	ck_assert_uint_eq(send_scripted(&s, &ch, &a, NULL, 0, &out_len), 0x6982);
	ck_assert_uint_eq(apdu_count(&ch), 1);
	script_assert_done(&s);
	script_free(&s);
}
END_TEST

START_TEST(test_extended_is_not_chained)
{
	uint8_t data[300];
	struct apdu a = { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3, .data = data,
			  .lc = 300, .extended = true };
	struct script s;
	struct script_step *st;
	struct apdu_chan ch;
	size_t out_len;

	fill(data, sizeof(data));
	script_init(&s);
	st = script_add(&s, "00 DB 3F FF 00 01 2C", "90 00", APDU_OK);
	buf_put(&st->cmd, data, sizeof(data));
	ck_assert_uint_eq(send_scripted(&s, &ch, &a, NULL, 0, &out_len), 0x9000);
	ck_assert_uint_eq(apdu_count(&ch), 1);
	script_assert_done(&s);
	script_free(&s);
}
END_TEST

/* A response larger than 256 bytes in one piece (extended Le). */
START_TEST(test_extended_large_response)
{
	static uint8_t big[4000], out[4000];
	struct apdu a = { .ins = 0xCB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_4, .data = D3, .lc = 3,
			  .le = 65536, .extended = true };
	struct script s;
	struct script_step *st;
	struct apdu_chan ch;
	size_t out_len;

	fill(big, sizeof(big));
	script_init(&s);
	st = script_add(&s, "00 CB 3F FF 00 00 03 01 02 03 00 00", "", APDU_OK);
	resp_append(st, big, sizeof(big), "90 00");
	send_scripted(&s, &ch, &a, out, sizeof(out), &out_len);
	ck_assert_uint_eq(out_len, sizeof(big));
	ck_assert_mem_eq(out, big, sizeof(big));
	script_assert_done(&s);
	script_free(&s);
}
END_TEST

/* ---- counting and logging ---- */

struct log_capture {
	char lines[16][1024];
	int n;
};

static void capture_line(void *ctx, const char *line)
{
	struct log_capture *lc = ctx;

	ck_assert_int_lt(lc->n, 16);
	snprintf(lc->lines[lc->n++], sizeof(lc->lines[0]), "%s", line);
}

START_TEST(test_log_sensitive_masks_data)
{
	struct apdu a = { .ins = 0x20, .p2 = 0x80, .kase = APDU_CASE_3, .data = PIN, .lc = 8,
			  .flags = APDU_F_SENSITIVE };
	struct log_capture cap = { .n = 0 };
	struct script s;
	struct apdu_chan ch;
	size_t out_len;
	uint16_t sw;
	int i;

	script_init(&s);
	script_expect(&s, "00 20 00 80 08 31 32 33 34 35 36 FF FF", "63 C2");
	apdu_chan_init(&ch, &script_transport, &s);
	apdu_set_logger(&ch, capture_line, &cap);
	ck_assert_int_eq(apdu_transmit(&ch, &a, NULL, 0, &out_len, &sw), APDU_OK);
	ck_assert_int_eq(cap.n, 2);
	ck_assert_str_eq(cap.lines[0], "apdu > 00 20 00 80 08 [8 data bytes hidden]");
	ck_assert_str_eq(cap.lines[1], "apdu < 63 C2");
	for (i = 0; i < cap.n; i++)
		ck_assert_ptr_null(strstr(cap.lines[i], "31 32"));
	script_free(&s);
}
END_TEST

START_TEST(test_log_sensitive_extended_and_response)
{
	static const uint8_t key[] = { 0xA1, 0xA2, 0xA3 };
	struct apdu a = { .ins = 0x87, .p1 = 0x03, .p2 = 0x9B, .kase = APDU_CASE_4, .data = key, .lc = 3,
			  .le = 256, .extended = true, .flags = APDU_F_SENSITIVE };
	struct log_capture cap = { .n = 0 };
	struct script s;
	struct apdu_chan ch;
	uint8_t out[16];
	size_t out_len;
	uint16_t sw;

	script_init(&s);
	script_expect(&s, "00 87 03 9B 00 00 03 A1 A2 A3 01 00", "B1 B2 61 01");
	script_expect(&s, "00 C0 00 00 01", "B3 90 00");
	apdu_chan_init(&ch, &script_transport, &s);
	apdu_set_logger(&ch, capture_line, &cap);
	ck_assert_int_eq(apdu_transmit(&ch, &a, out, sizeof(out), &out_len, &sw), APDU_OK);
	ck_assert_int_eq(cap.n, 4);
	ck_assert_str_eq(cap.lines[0], "apdu > 00 87 03 9B 00 00 03 [3 data bytes hidden]");
	ck_assert_str_eq(cap.lines[1], "apdu < [2 data bytes hidden] 61 01");
	ck_assert_str_eq(cap.lines[2], "apdu > 00 C0 00 00 01");
	ck_assert_str_eq(cap.lines[3], "apdu < [1 data bytes hidden] 90 00");
	script_free(&s);
}
END_TEST

START_TEST(test_log_plain_and_long)
{
	uint8_t data[300];
	struct apdu a = { .ins = 0xDB, .p1 = 0x3F, .p2 = 0xFF, .kase = APDU_CASE_3, .data = data, .lc = 300,
			  .extended = true };
	struct apdu b = { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 };
	struct log_capture cap = { .n = 0 };
	struct script_step *st;
	struct script s;
	struct apdu_chan ch;
	uint8_t out[8];
	size_t out_len;
	uint16_t sw;

	memset(data, 0x42, sizeof(data));
	script_init(&s);
	st = script_add(&s, "00 DB 3F FF 00 01 2C", "90 00", APDU_OK);
	buf_put(&st->cmd, data, sizeof(data));
	script_expect(&s, "00 FD 00 00 00", "05 04 03 90 00");
	apdu_chan_init(&ch, &script_transport, &s);
	apdu_set_logger(&ch, capture_line, &cap);
	ck_assert_int_eq(apdu_transmit(&ch, &a, NULL, 0, &out_len, &sw), APDU_OK);
	ck_assert_int_eq(apdu_transmit(&ch, &b, out, sizeof(out), &out_len, &sw), APDU_OK);
	ck_assert_int_eq(cap.n, 4);
	ck_assert_ptr_nonnull(strstr(cap.lines[0], "apdu > 00 DB 3F FF 00 01 2C 42 42"));
	ck_assert_ptr_nonnull(strstr(cap.lines[0], " ...(307 bytes)"));
	ck_assert_str_eq(cap.lines[1], "apdu < 90 00");
	ck_assert_str_eq(cap.lines[2], "apdu > 00 FD 00 00 00");
	ck_assert_str_eq(cap.lines[3], "apdu < 05 04 03 90 00");
	/* Silent again once the logger is removed. */
	apdu_set_logger(&ch, NULL, NULL);
	script_expect(&s, "00 FD 00 00 00", "90 00");
	ck_assert_int_eq(apdu_transmit(&ch, &b, out, sizeof(out), &out_len, &sw), APDU_OK);
	ck_assert_int_eq(cap.n, 4);
	script_free(&s);
}
END_TEST

START_TEST(test_count_and_reset)
{
	struct apdu a = { .ins = 0xFD, .kase = APDU_CASE_2, .le = 256 };
	struct script s;
	struct apdu_chan ch;
	uint8_t out[8];
	size_t out_len;
	uint16_t sw;

	script_init(&s);
	script_expect(&s, "00 FD 00 00 00", "61 01");
	script_expect(&s, "00 C0 00 00 01", "05 90 00");
	script_expect(&s, "00 FD 00 00 00", "05 04 03 90 00");
	apdu_chan_init(&ch, &script_transport, &s);
	ck_assert_uint_eq(apdu_count(&ch), 0);
	ck_assert_int_eq(apdu_transmit(&ch, &a, out, sizeof(out), &out_len, &sw), APDU_OK);
	ck_assert_uint_eq(apdu_count(&ch), 2);
	apdu_count_reset(&ch);
	ck_assert_uint_eq(apdu_count(&ch), 0);
	ck_assert_int_eq(apdu_transmit(&ch, &a, out, sizeof(out), &out_len, &sw), APDU_OK);
	ck_assert_uint_eq(apdu_count(&ch), 1);
	script_assert_done(&s);
	script_free(&s);
}
END_TEST

START_TEST(test_rc_names)
{
	ck_assert_str_eq(apdu_rc_name(APDU_OK), "ok");
	ck_assert_str_eq(apdu_rc_name(APDU_E_CARD_RESET), "card was reset");
	ck_assert_str_eq(apdu_rc_name(-999), "unknown error");
}
END_TEST

/* The card session comes from the transport; without one it never changes. */
START_TEST(test_session)
{
	struct apdu_chan ch;
	struct script s;

	script_init(&s);
	apdu_chan_init(&ch, &script_transport, &s);
	s.session = 7;
	ck_assert_uint_eq(apdu_session(&ch), 0);
	apdu_chan_init(&ch, &script_session_transport, &s);
	ck_assert_uint_eq(apdu_session(&ch), 7);
	s.session = 8;
	ck_assert_uint_eq(apdu_session(&ch), 8);
	script_free(&s);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *apdu_suite(void)
{
	Suite *s = suite_create("apdu");
	TCase *tc = tcase_create("apdu_check");

	tcase_add_loop_test(tc, test_check_table, 0, N(check_cases));
	tcase_add_test(tc, test_check_null);
	suite_add_tcase(s, tc);
	tc = tcase_create("apdu_encode");
	tcase_add_loop_test(tc, test_encode_table, 0, N(encode_cases));
	tcase_add_test(tc, test_encode_ext_lc_300);
	suite_add_tcase(s, tc);
	tc = tcase_create("apdu_transmit");
	tcase_add_loop_test(tc, test_transmit_table, 0, N(xfer_cases));
	tcase_add_test(tc, test_transmit_invalid_sends_nothing);
	tcase_add_test(tc, test_extended_large_response);
	suite_add_tcase(s, tc);
	tc = tcase_create("chaining");
	tcase_add_test(tc, test_chaining_case3);
	tcase_add_test(tc, test_chaining_exact_multiple);
	tcase_add_test(tc, test_no_chaining_at_255);
	tcase_add_test(tc, test_chaining_case4_with_get_response);
	tcase_add_test(tc, test_chaining_refused_fragment);
	tcase_add_test(tc, test_extended_is_not_chained);
	suite_add_tcase(s, tc);
	tc = tcase_create("observe");
	tcase_add_test(tc, test_log_sensitive_masks_data);
	tcase_add_test(tc, test_log_sensitive_extended_and_response);
	tcase_add_test(tc, test_log_plain_and_long);
	tcase_add_test(tc, test_count_and_reset);
	tcase_add_test(tc, test_rc_names);
	tcase_add_test(tc, test_session);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(apdu_suite());
}
