/* Unit tests for apdu/piv: the exact APDUs each PIV command sends, the
 * parsing of canned card answers (good and malformed), status-word mapping,
 * and that secrets never reach the APDU log. */
#include "tests/apdu_script.h"

#include "apdu/piv.h"
#include "tests/check_util.h"

static struct script s;
static struct apdu_chan ch;
static struct piv_card card;

struct log_capture {
	char text[8192];
	int lines;
};
static struct log_capture logged;

static void capture_line(void *ctx, const char *line)
{
	struct log_capture *lc = ctx;
	size_t used = strlen(lc->text);

	snprintf(lc->text + used, sizeof(lc->text) - used, "%s\n", line);
	lc->lines++;
}

static int fixed_random(void *ctx, uint8_t *out, size_t n)
{
	static const uint8_t h[16] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
				       0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x00 };

	(void)ctx;
	ck_assert_uint_le(n, sizeof(h));
	memcpy(out, h, n);
	return PIV_OK;
}

#define SELECT_PIV "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00"

/* Each test starts with PIV selected, as after the first command of a card
 * session, so that it sees only the APDUs of what it calls. */
static void setup(void)
{
	script_init(&s);
	apdu_chan_init(&ch, &script_transport, &s);
	piv_init(&card, &ch);
	card.random = fixed_random;
	script_expect(&s, SELECT_PIV, "90 00");
	ck_assert_int_eq(piv_select(&card, NULL, 0, NULL), PIV_OK);
	apdu_count_reset(&ch);
	s.begins = s.ends = 0;
	memset(&logged, 0, sizeof(logged));
	apdu_set_logger(&ch, capture_line, &logged);
}

static void teardown(void)
{
	script_assert_done(&s);
	script_free(&s);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

/* Expected command: header hex, then raw bytes, then trailing hex. */
static struct script_step *expect_raw(const char *head, const uint8_t *data, size_t n,
				      const char *tail, const char *resp)
{
	struct script_step *st = script_add(&s, head, resp, APDU_OK);

	buf_put(&st->cmd, data, n);
	hex_put(&st->cmd, tail);
	return st;
}

#define PIN6 ((const uint8_t *)"123456")
#define PUK8 ((const uint8_t *)"12345678")

/* ---- status words ---- */

struct sw_case {
	uint16_t sw;
	int rc, tries;
};

static const struct sw_case sw_cases[] = {
	{ 0x9000, PIV_OK, -1 },
	{ 0x63C3, PIV_E_PIN_INCORRECT, 3 },
	{ 0x63C1, PIV_E_PIN_INCORRECT, 1 },
	{ 0x63CF, PIV_E_PIN_INCORRECT, 15 },
	{ 0x63C0, PIV_E_PIN_BLOCKED, 0 },
	{ 0x6300, PIV_E_PIN_INCORRECT, -1 },
	{ 0x6983, PIV_E_PIN_BLOCKED, 0 },
	{ 0x6982, PIV_E_SECURITY, -1 },
	{ 0x6A82, PIV_E_NOT_FOUND, -1 },
	{ 0x6A88, PIV_E_NOT_FOUND, -1 },
	{ 0x6D00, PIV_E_NOT_SUPPORTED, -1 },
	{ 0x6E00, PIV_E_NOT_SUPPORTED, -1 },
	{ 0x6A81, PIV_E_NOT_SUPPORTED, -1 },
	{ 0x6700, PIV_E_BAD_DATA, -1 },
	{ 0x6A80, PIV_E_BAD_DATA, -1 },
	{ 0x6984, PIV_E_BAD_DATA, -1 },
	{ 0x6B00, PIV_E_BAD_DATA, -1 },
	{ 0x6985, PIV_E_CONDITIONS, -1 },
	{ 0x6A84, PIV_E_NO_SPACE, -1 },
	{ 0x6F00, PIV_E_CARD, -1 },
	{ 0x6100, PIV_E_CARD, -1 },
};

START_TEST(test_sw_table)
{
	const struct sw_case *c = &sw_cases[_i];
	int tries = 99;

	ck_assert_int_eq(piv_sw_to_rc(c->sw, &tries), c->rc);
	ck_assert_int_eq(tries, c->tries);
	ck_assert_int_eq(piv_sw_to_rc(c->sw, NULL), c->rc);
}
END_TEST

START_TEST(test_apdu_rc_mapping)
{
	ck_assert_int_eq(piv_from_apdu_rc(APDU_OK), PIV_OK);
	ck_assert_int_eq(piv_from_apdu_rc(APDU_E_CARD_RESET), PIV_E_CARD_RESET);
	ck_assert_int_eq(piv_from_apdu_rc(APDU_E_CARD_REMOVED), PIV_E_CARD_REMOVED);
	ck_assert_int_eq(piv_from_apdu_rc(APDU_E_NO_SERVICE), PIV_E_NO_SERVICE);
	ck_assert_int_eq(piv_from_apdu_rc(APDU_E_OVERFLOW), PIV_E_BUFFER_TOO_SMALL);
	ck_assert_int_eq(piv_from_apdu_rc(APDU_E_RESPONSE), PIV_E_MALFORMED);
	ck_assert_int_eq(piv_from_apdu_rc(APDU_E_TRANSPORT), PIV_E_TRANSPORT);
	ck_assert_str_eq(piv_rc_name(PIV_E_PIN_BLOCKED), "PIN blocked");
	ck_assert_str_eq(piv_rc_name(12345), "unknown error");
}
END_TEST

/* ---- ATR ---- */

struct atr_case {
	const char *atr;
	bool extended;
};

static const struct atr_case atr_cases[] = {
	{ "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40", true },
	{ "3B 8D 80 01 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 F9", true },
	{ "3B F8 13 00 00 81 31 FE 15 59 75 62 69 6B 65 79 34 D4", false },
	{ "3B 8D 80 01 80 73 C0 21 80 57 59 75 62 69 4B 65 79 F9", false },
	{ "3B 83 80 01 80 73 C0", false }, /* capabilities cut short */
	{ "3B 82 80 01 80 7F", false },    /* compact TLV running past the ATR */
	{ "3B FD 13 00 00 81 31 FE", false },
	{ "3B", false },
	{ "", false },
};

START_TEST(test_atr_table)
{
	const struct atr_case *c = &atr_cases[_i];
	struct buf b;

	buf_init(&b);
	hex_put(&b, c->atr);
	ck_assert_msg(piv_atr_extended(b.d, b.len) == c->extended, "ATR %s", c->atr);
	buf_free(&b);
}
END_TEST

/* Every prefix of a valid ATR parses without reading past it. */
START_TEST(test_atr_prefixes)
{
	struct buf b;
	size_t n;

	buf_init(&b);
	hex_put(&b, atr_cases[0].atr);
	for (n = 0; n < b.len; n++) {
		uint8_t *copy = malloc(n + 1);

		memcpy(copy, b.d, n);
		ck_assert(!piv_atr_extended(copy, n) || n >= 13);
		free(copy);
	}
	buf_free(&b);
}
END_TEST

/* ---- SELECT ---- */

START_TEST(test_select_yubikey_answer)
{
	uint8_t apt[64];
	size_t len = 0;

	script_expect(&s, "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00",
		      "61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00");
	ck_assert_int_eq(piv_select(&card, apt, sizeof(apt), &len), PIV_OK);
	ck_assert_uint_eq(len, 17);
	ck_assert_mem_eq(apt, "\x4F\x06\x00\x00\x10\x00\x01\x00\x79\x07", 10);
}
END_TEST

START_TEST(test_select_bare_ok)
{
	size_t len = 9;

	script_expect(&s, "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00", "90 00");
	ck_assert_int_eq(piv_select(&card, NULL, 0, &len), PIV_OK);
	ck_assert_uint_eq(len, 0);
}
END_TEST

struct bad_case {
	const char *resp;
	int rc;
};

static const struct bad_case select_bad[] = {
	{ "61 20 4F 06 00 00 10 00 01 00 90 00", PIV_E_MALFORMED }, /* length past the data */
	{ "62 00 90 00", PIV_E_MALFORMED },                         /* wrong tag */
	{ "61 00 61 00 90 00", PIV_E_MALFORMED },                   /* trailing item */
	{ "61 84 00 00 00 01 00 90 00", PIV_E_MALFORMED },          /* length of length 4 */
	{ "61 90 00", PIV_E_MALFORMED },                            /* truncated length */
	{ "6A 82", PIV_E_NOT_FOUND },
	{ "6D 00", PIV_E_NOT_SUPPORTED },
	{ "90", PIV_E_MALFORMED },                                  /* no status word */
};

START_TEST(test_select_bad_answers)
{
	uint8_t apt[64];
	size_t len = 5;

	script_expect(&s, "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00", select_bad[_i].resp);
	ck_assert_int_eq(piv_select(&card, apt, sizeof(apt), &len), select_bad[_i].rc);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_select_apt_too_small)
{
	uint8_t apt[4];
	size_t len = 0;

	script_expect(&s, "00 A4 04 00 0B A0 00 00 03 08 00 00 10 00 01 00 00",
		      "61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00");
	ck_assert_int_eq(piv_select(&card, apt, sizeof(apt), &len), PIV_E_BUFFER_TOO_SMALL);
}
END_TEST

/* ---- GET DATA / PUT DATA ---- */

START_TEST(test_get_data_cert)
{
	uint8_t out[64];
	size_t len = 0;

	script_expect(&s, "00 CB 3F FF 05 5C 03 5F C1 05 00", "53 09 70 02 30 00 71 01 00 FE 00 90 00");
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CERT_9A, out, sizeof(out), &len), PIV_OK);
	ck_assert_uint_eq(len, 9);
	ck_assert_mem_eq(out, "\x70\x02\x30\x00\x71\x01\x00\xFE\x00", 9);
}
END_TEST

START_TEST(test_get_data_discovery_and_bitgt)
{
	uint8_t out[64];
	size_t len = 0;

	script_expect(&s, "00 CB 3F FF 03 5C 01 7E 00", "7E 05 5F 2F 02 40 00 90 00");
	script_expect(&s, "00 CB 3F FF 04 5C 02 7F 61 00", "7F 61 03 02 01 00 90 00");
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_DISCOVERY, out, sizeof(out), &len), PIV_OK);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(out, "\x5F\x2F\x02\x40\x00", 5);
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_BITGT, out, sizeof(out), &len), PIV_OK);
	ck_assert_uint_eq(len, 3);
}
END_TEST

static const struct bad_case get_data_bad[] = {
	{ "53 05 70 02 90 00", PIV_E_MALFORMED },       /* over-long length */
	{ "54 02 70 00 90 00", PIV_E_MALFORMED },       /* wrong wrapper tag */
	{ "53 81 90 00", PIV_E_MALFORMED },             /* truncated length */
	{ "53 84 00 00 00 02 70 00 90 00", PIV_E_MALFORMED },
	{ "53 80 70 00 00 00 90 00", PIV_E_MALFORMED }, /* indefinite length */
	{ "53 02 70 00 FF 90 00", PIV_E_MALFORMED },    /* trailing byte */
	{ "90 00", PIV_E_MALFORMED },                   /* nothing at all */
	{ "6A 82", PIV_E_NOT_FOUND },
	{ "69 82", PIV_E_SECURITY },
};

START_TEST(test_get_data_bad_answers)
{
	uint8_t out[64];
	size_t len = 7;

	script_expect(&s, "00 CB 3F FF 05 5C 03 5F C1 0A 00", get_data_bad[_i].resp);
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CERT_9C, out, sizeof(out), &len), get_data_bad[_i].rc);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_get_data_too_small)
{
	uint8_t out[3];
	size_t len = 0;

	script_expect(&s, "00 CB 3F FF 05 5C 03 5F C1 05 00", "53 04 70 02 30 00 90 00");
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CERT_9A, out, sizeof(out), &len), PIV_E_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(test_get_data_invalid_tag)
{
	uint8_t out[8];
	size_t len = 1;

	ck_assert_int_eq(piv_get_data(&card, 0x1000000, out, sizeof(out), &len), PIV_E_INVALID);
	ck_assert_int_eq(piv_get_data(&card, 0, out, sizeof(out), &len), PIV_E_INVALID);
	ck_assert_uint_eq(apdu_count(&ch), 0);
}
END_TEST

/* A data object (53 82 01 2C) holding 300 bytes made from seed. */
static void object_of_300(uint8_t obj[304], uint8_t seed)
{
	obj[0] = 0x53;
	obj[1] = 0x82;
	obj[2] = 0x01;
	obj[3] = 0x2C;
	fill(obj + 4, 300, seed);
}

/* A 300-byte object arrives in two parts (61xx). */
START_TEST(test_get_data_long_short_apdus)
{
	static uint8_t obj[304], out[400];
	struct script_step *st;
	size_t len = 0;

	object_of_300(obj, 3);
	st = script_add(&s, "00 CB 3F FF 05 5C 03 5F C1 05 00", "", APDU_OK);
	resp_append(st, obj, 256, "61 30");
	st = script_add(&s, "00 C0 00 00 30", "", APDU_OK);
	resp_append(st, obj + 256, 48, "90 00");
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CERT_9A, out, sizeof(out), &len), PIV_OK);
	ck_assert_uint_eq(len, 300);
	ck_assert_mem_eq(out, obj + 4, 300);
}
END_TEST

START_TEST(test_get_data_extended)
{
	static uint8_t obj[304], out[400];
	struct script_step *st;
	size_t len = 0;

	object_of_300(obj, 5);
	piv_set_extended(&card, true);
	st = script_add(&s, "00 CB 3F FF 00 00 05 5C 03 5F C1 05 00 00", "", APDU_OK);
	resp_append(st, obj, sizeof(obj), "90 00");
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CERT_9A, out, sizeof(out), &len), PIV_OK);
	ck_assert_uint_eq(len, 300);
	ck_assert_mem_eq(out, obj + 4, 300);
	ck_assert_uint_eq(apdu_count(&ch), 1);
	/* Small answers stay short even with extended on. */
	script_expect(&s, "00 FD 00 00 00", "05 07 01 90 00");
	{
		uint8_t v[3];

		ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
	}
}
END_TEST

/* A card that refuses extended APDUs (6700) is asked again in short form. */
START_TEST(test_extended_refused_falls_back)
{
	uint8_t out[400];
	size_t len = 0;

	piv_set_extended(&card, true);
	script_expect(&s, "00 CB 3F FF 00 00 05 5C 03 5F C1 05 00 00", "67 00");
	script_expect(&s, "00 CB 3F FF 05 5C 03 5F C1 05 00", "53 02 70 00 90 00");
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CERT_9A, out, sizeof(out), &len), PIV_OK);
	ck_assert_uint_eq(len, 2);
	ck_assert(!card.extended);
	ck_assert_uint_eq(apdu_count(&ch), 2);
}
END_TEST

START_TEST(test_put_data_small_and_delete)
{
	script_expect(&s, "00 DB 3F FF 0B 5C 03 5F C1 05 53 04 70 02 30 00", "90 00");
	script_expect(&s, "00 DB 3F FF 07 5C 03 5F C1 05 53 00", "90 00");
	script_expect(&s, "00 DB 3F FF 07 5C 03 5F C1 0B 53 00", "69 82");
	ck_assert_int_eq(piv_put_data(&card, PIV_OBJ_CERT_9A, (const uint8_t *)"\x70\x02\x30\x00", 4), PIV_OK);
	ck_assert_int_eq(piv_put_data(&card, PIV_OBJ_CERT_9A, NULL, 0), PIV_OK);
	ck_assert_int_eq(piv_put_data(&card, PIV_OBJ_CERT_9D, NULL, 0), PIV_E_SECURITY);
}
END_TEST

START_TEST(test_put_data_chained)
{
	static uint8_t content[300], whole[309];

	fill(content, sizeof(content), 9);
	memcpy(whole, "\x5C\x03\x5F\xC1\x05\x53\x82\x01\x2C", 9);
	memcpy(whole + 9, content, sizeof(content));
	expect_raw("10 DB 3F FF FF", whole, 255, "", "90 00");
	expect_raw("00 DB 3F FF 36", whole + 255, 54, "", "90 00");
	ck_assert_int_eq(piv_put_data(&card, PIV_OBJ_CERT_9A, content, sizeof(content)), PIV_OK);
}
END_TEST

START_TEST(test_put_data_extended)
{
	static uint8_t content[300], whole[309];

	fill(content, sizeof(content), 9);
	memcpy(whole, "\x5C\x03\x5F\xC1\x05\x53\x82\x01\x2C", 9);
	memcpy(whole + 9, content, sizeof(content));
	piv_set_extended(&card, true);
	expect_raw("00 DB 3F FF 00 01 35", whole, sizeof(whole), "", "90 00");
	ck_assert_int_eq(piv_put_data(&card, PIV_OBJ_CERT_9A, content, sizeof(content)), PIV_OK);
}
END_TEST

/* ---- VERIFY and friends ---- */

START_TEST(test_verify_ok)
{
	int tries = 7;

	script_expect(&s, "00 20 00 80 08 31 32 33 34 35 36 FF FF", "90 00");
	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, PIN6, 6, &tries), PIV_OK);
	ck_assert_int_eq(tries, -1);
}
END_TEST

START_TEST(test_verify_wrong_and_blocked)
{
	int tries = 7;

	script_expect(&s, "00 20 00 80 08 39 39 39 39 39 39 FF FF", "63 C2");
	script_expect(&s, "00 20 00 80 08 39 39 39 39 39 39 FF FF", "63 C0");
	script_expect(&s, "00 20 00 80 08 39 39 39 39 39 39 FF FF", "69 83");
	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, (const uint8_t *)"999999", 6, &tries), PIV_E_PIN_INCORRECT);
	ck_assert_int_eq(tries, 2);
	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, (const uint8_t *)"999999", 6, &tries), PIV_E_PIN_BLOCKED);
	ck_assert_int_eq(tries, 0);
	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, (const uint8_t *)"999999", 6, &tries), PIV_E_PIN_BLOCKED);
	ck_assert_int_eq(tries, 0);
}
END_TEST

START_TEST(test_verify_puk_eight_digits)
{
	script_expect(&s, "00 20 00 81 08 31 32 33 34 35 36 37 38", "90 00");
	ck_assert_int_eq(piv_verify(&card, PIV_REF_PUK, PUK8, 8, NULL), PIV_OK);
}
END_TEST

START_TEST(test_verify_rejects_bad_input)
{
	int tries = 5;

	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, (const uint8_t *)"123456789", 9, &tries), PIV_E_INVALID);
	ck_assert_int_eq(tries, -1);
	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, PIN6, 0, &tries), PIV_E_INVALID);
	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, NULL, 6, &tries), PIV_E_INVALID);
	ck_assert_int_eq(piv_verify(&card, 0x9A, PIN6, 6, &tries), PIV_E_INVALID);
	ck_assert_uint_eq(apdu_count(&ch), 0);
}
END_TEST

struct status_case {
	const char *resp;
	int rc;
	bool verified;
	int tries;
};

static const struct status_case status_cases[] = {
	{ "90 00", PIV_OK, true, -1 },
	{ "63 C3", PIV_OK, false, 3 },
	{ "63 C0", PIV_OK, false, 0 },
	{ "69 83", PIV_OK, false, 0 },
	{ "6A 88", PIV_E_NOT_FOUND, false, -1 },
	{ "6D 00", PIV_E_CARD_RESET, false, -1 }, /* another application got selected */
};

/* The empty VERIFY reads the counter without spending a try. */
START_TEST(test_pin_status_table)
{
	const struct status_case *c = &status_cases[_i];
	bool verified = !c->verified;
	int tries = 42;

	script_expect(&s, "00 20 00 80", c->resp);
	ck_assert_int_eq(piv_pin_status(&card, PIV_REF_PIN, &verified, &tries), c->rc);
	ck_assert(verified == c->verified);
	ck_assert_int_eq(tries, c->tries);
}
END_TEST

START_TEST(test_change_reference)
{
	int tries = 0;

	script_expect(&s, "00 24 00 80 10 31 32 33 34 35 36 FF FF 36 35 34 33 32 31 30 FF", "90 00");
	script_expect(&s, "00 24 00 81 10 31 32 33 34 35 36 37 38 38 37 36 35 34 33 32 31", "63 C1");
	ck_assert_int_eq(piv_change_reference(&card, PIV_REF_PIN, PIN6, 6, (const uint8_t *)"6543210", 7, &tries), PIV_OK);
	ck_assert_int_eq(piv_change_reference(&card, PIV_REF_PUK, PUK8, 8, (const uint8_t *)"87654321", 8, &tries),
			 PIV_E_PIN_INCORRECT);
	ck_assert_int_eq(tries, 1);
	ck_assert_int_eq(piv_change_reference(&card, PIV_REF_PIN, PIN6, 6, PIN6, 9, &tries), PIV_E_INVALID);
	ck_assert_int_eq(piv_change_reference(&card, 0x9B, PIN6, 6, PIN6, 6, &tries), PIV_E_INVALID);
}
END_TEST

START_TEST(test_reset_retry)
{
	int tries = 0;

	script_expect(&s, "00 2C 00 80 10 31 32 33 34 35 36 37 38 36 35 34 33 32 31 FF FF", "90 00");
	script_expect(&s, "00 2C 00 80 10 31 32 33 34 35 36 37 38 36 35 34 33 32 31 FF FF", "69 83");
	ck_assert_int_eq(piv_reset_retry(&card, PUK8, 8, (const uint8_t *)"654321", 6, &tries), PIV_OK);
	ck_assert_int_eq(piv_reset_retry(&card, PUK8, 8, (const uint8_t *)"654321", 6, &tries), PIV_E_PIN_BLOCKED);
	ck_assert_int_eq(tries, 0);
}
END_TEST

/* VERIFY, CHANGE REFERENCE, RESET RETRY, IMPORT, SET MGMT KEY and the
 * management-key GENERAL AUTHENTICATE never show their data in the log. */
START_TEST(test_secrets_not_logged)
{
	static const uint8_t key24[24] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
					   0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
					   0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08 };
	static const uint8_t scalar[32] = { 0x5E, 0x5E, 0x5E, 0x5E, 0x5E, 0x5E, 0x5E, 0x5E };
	struct piv_bytes part = { scalar, sizeof(scalar) };
	struct script_step *st;

	script_expect(&s, "00 20 00 80 08 31 32 33 34 35 36 FF FF", "90 00");
	script_expect(&s, "00 24 00 80 10 31 32 33 34 35 36 FF FF 36 35 34 33 32 31 FF FF", "90 00");
	script_expect(&s, "00 2C 00 80 10 31 32 33 34 35 36 37 38 36 35 34 33 32 31 FF FF", "90 00");
	st = script_add(&s, "00 FE 11 9A 22 06 20", "90 00", APDU_OK);
	buf_put(&st->cmd, scalar, sizeof(scalar));
	st = script_add(&s, "00 FF FF FF 1B 03 9B 18", "90 00", APDU_OK);
	buf_put(&st->cmd, key24, sizeof(key24));
	script_expect(&s, "00 87 03 9B 04 7C 02 81 00 00", "7C 0A 81 08 A1 A2 A3 A4 A5 A6 A7 A8 90 00");
	script_expect(&s, "00 87 03 9B 0C 7C 0A 82 08 19 9F A3 74 70 5A 69 EB", "90 00");

	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, PIN6, 6, NULL), PIV_OK);
	ck_assert_int_eq(piv_change_reference(&card, PIV_REF_PIN, PIN6, 6, (const uint8_t *)"654321", 6, NULL), PIV_OK);
	ck_assert_int_eq(piv_reset_retry(&card, PUK8, 8, (const uint8_t *)"654321", 6, NULL), PIV_OK);
	ck_assert_int_eq(piv_import_key(&card, 0x9A, PIV_ALG_ECCP256, &part, 1, 0, 0), PIV_OK);
	ck_assert_int_eq(piv_set_mgmt_key(&card, PIV_ALG_3DES, key24, sizeof(key24), false), PIV_OK);
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_3DES, key24, sizeof(key24), false), PIV_OK);

	ck_assert_ptr_null(strstr(logged.text, "31 32 33"));
	ck_assert_ptr_null(strstr(logged.text, "36 35 34"));
	ck_assert_ptr_null(strstr(logged.text, "5E 5E"));
	ck_assert_ptr_null(strstr(logged.text, "01 02 03 04 05 06 07 08"));
	ck_assert_ptr_null(strstr(logged.text, "A1 A2 A3"));
	ck_assert_ptr_null(strstr(logged.text, "19 9F A3"));
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu > 00 20 00 80 08 [8 data bytes hidden]\n"));
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu > 00 24 00 80 10 [16 data bytes hidden]\n"));
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu > 00 2C 00 80 10 [16 data bytes hidden]\n"));
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu > 00 FE 11 9A 22 [34 data bytes hidden]\n"));
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu > 00 FF FF FF 1B [27 data bytes hidden]\n"));
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu < [12 data bytes hidden] 90 00\n"));
	ck_assert_int_eq(logged.lines, 14);
}
END_TEST

/* ---- GENERAL AUTHENTICATE ---- */

/* The card is asked to sign hash (filled from seed 1) with the P-256 key of 9A and answers an 8-byte signature. */
static void expect_p256_sign_9a(uint8_t hash[32])
{
	fill(hash, 32, 1);
	expect_raw("00 87 11 9A 26 7C 24 82 00 81 20", hash, 32, "00", "7C 0A 82 08 30 06 02 01 01 02 01 01 90 00");
}

START_TEST(test_sign_p256)
{
	uint8_t hash[32], out[80];
	size_t len = 0;

	expect_p256_sign_9a(hash);
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ECCP256, PIV_SLOT_AUTH, hash, sizeof(hash), out, sizeof(out), &len),
			 PIV_OK);
	ck_assert_uint_eq(len, 8);
	ck_assert_mem_eq(out, "\x30\x06\x02\x01\x01\x02\x01\x01", 8);
	/* Data to be signed is not secret: it is logged. */
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu > 00 87 11 9A 26 7C 24 82 00 81 20 01 08"));
}
END_TEST

/* With extended length on, a P-256 signature still fits a short APDU. */
START_TEST(test_sign_p256_stays_short)
{
	uint8_t hash[48], out[120];
	size_t len = 0;

	fill(hash, sizeof(hash), 2);
	piv_set_extended(&card, true);
	expect_raw("00 87 14 9E 36 7C 34 82 00 81 30", hash, sizeof(hash), "00",
		   "7C 0A 82 08 30 06 02 01 01 02 01 01 90 00");
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ECCP384, PIV_SLOT_CARDAUTH, hash, sizeof(hash), out, sizeof(out), &len),
			 PIV_OK);
	ck_assert_uint_eq(len, 8);
}
END_TEST

static const struct bad_case sign_bad[] = {
	{ "7C 0A 82 09 30 06 02 01 01 02 01 01 90 00", PIV_E_MALFORMED }, /* inner length past outer */
	{ "7C 0A 82 08 30 06 02 01 01 02 01 90 00", PIV_E_MALFORMED },    /* outer length past data */
	{ "7C 03 81 01 00 90 00", PIV_E_MALFORMED },                      /* no 82 */
	{ "7D 02 82 00 90 00", PIV_E_MALFORMED },                         /* wrong outer tag */
	{ "7C 02 82 00 90 00", PIV_E_MALFORMED },                         /* empty result */
	{ "7C 06 82 01 01 82 01 02 90 00", PIV_E_MALFORMED },             /* 82 twice */
	{ "7C 83 FF FF FF 90 00", PIV_E_MALFORMED },                      /* huge length */
	{ "7C 85 00 00 00 00 01 90 00", PIV_E_MALFORMED },                /* length of length 5 */
	{ "90 00", PIV_E_MALFORMED },
	{ "69 82", PIV_E_SECURITY },
	{ "6A 80", PIV_E_BAD_DATA },
};

START_TEST(test_sign_bad_answers)
{
	uint8_t hash[32], out[80];
	size_t len = 3;

	fill(hash, sizeof(hash), 1);
	expect_raw("00 87 11 9C 26 7C 24 82 00 81 20", hash, sizeof(hash), "00", sign_bad[_i].resp);
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ECCP256, PIV_SLOT_SIGN, hash, sizeof(hash), out, sizeof(out), &len),
			 sign_bad[_i].rc);
	ck_assert_uint_eq(len, 0);
}
END_TEST

START_TEST(test_sign_output_too_small)
{
	uint8_t hash[32], out[4];
	size_t len = 0;

	expect_p256_sign_9a(hash);
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ECCP256, PIV_SLOT_AUTH, hash, sizeof(hash), out, sizeof(out), &len),
			 PIV_E_BUFFER_TOO_SMALL);
}
END_TEST

START_TEST(test_sign_rejects_bad_input)
{
	uint8_t in[PIV_SIGN_INPUT_MAX + 1], out[8];
	size_t len;

	memset(in, 0x33, sizeof(in));
	ck_assert_int_eq(piv_sign(&card, 0x99, PIV_SLOT_AUTH, in, 32, out, sizeof(out), &len), PIV_E_INVALID);
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ECCP256, 0x9B, in, 32, out, sizeof(out), &len), PIV_E_INVALID);
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ECCP256, PIV_SLOT_AUTH, in, 0, out, sizeof(out), &len), PIV_E_INVALID);
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_RSA4096, PIV_SLOT_AUTH, in, 513, out, sizeof(out), &len),
			 PIV_E_INVALID);
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ED25519, PIV_SLOT_SIGN, in, PIV_SIGN_INPUT_MAX + 1, out, sizeof(out),
				  &len),
			 PIV_E_INVALID);
	ck_assert_uint_eq(apdu_count(&ch), 0);
}
END_TEST

/*
 * An RSA-2048 signature request for slot 9A: the block to sign, the
 * signature the card makes, the GENERAL AUTHENTICATE data that asks for it
 * and the card's answer holding it.
 */
static void rsa2048_sign_exchange(uint8_t block[256], uint8_t sig[256], uint8_t cmd[266], uint8_t answer[264])
{
	fill(block, 256, 0x20);
	fill(sig, 256, 0x40);
	memcpy(cmd, "\x7C\x82\x01\x06\x82\x00\x81\x82\x01\x00", 10);
	memcpy(cmd + 10, block, 256);
	memcpy(answer, "\x7C\x82\x01\x04\x82\x82\x01\x00", 8);
	memcpy(answer + 8, sig, 256);
}

/* RSA-2048 with short APDUs: chained command, answer in two parts. */

START_TEST(test_sign_rsa2048_short)
{
	static uint8_t block[256], sig[256], cmd[266], answer[264], out[300];
	struct script_step *st;
	size_t len = 0;

	rsa2048_sign_exchange(block, sig, cmd, answer);
	expect_raw("10 87 07 9A FF", cmd, 255, "", "90 00");
	st = expect_raw("00 87 07 9A 0B", cmd + 255, 11, "00", "");
	resp_append(st, answer, 256, "61 08");
	st = script_add(&s, "00 C0 00 00 08", "", APDU_OK);
	resp_append(st, answer + 256, 8, "90 00");
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_RSA2048, PIV_SLOT_AUTH, block, sizeof(block), out, sizeof(out), &len),
			 PIV_OK);
	ck_assert_uint_eq(len, 256);
	ck_assert_mem_eq(out, sig, 256);
}
END_TEST

START_TEST(test_decrypt_rsa1024_hides_result)
{
	static uint8_t block[128], plain[128], answer[134], out[200];
	struct script_step *st;
	size_t len = 0;

	fill(block, sizeof(block), 0x21);
	fill(plain, sizeof(plain), 0x5B);
	memcpy(answer, "\x7C\x81\x83\x82\x81\x80", 6);
	memcpy(answer + 6, plain, sizeof(plain));
	st = expect_raw("00 87 06 9D 88 7C 81 85 82 00 81 81 80", block, sizeof(block), "00", "");
	resp_append(st, answer, sizeof(answer), "90 00");
	ck_assert_int_eq(piv_decrypt(&card, PIV_ALG_RSA1024, PIV_SLOT_KEYMGMT, block, sizeof(block), out, sizeof(out),
				     &len), PIV_OK);
	ck_assert_uint_eq(len, 128);
	ck_assert_mem_eq(out, plain, 128);
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu < [134 data bytes hidden] 90 00\n"));
	ck_assert_int_eq(piv_decrypt(&card, PIV_ALG_ECCP256, PIV_SLOT_KEYMGMT, block, 32, out, sizeof(out), &len),
			 PIV_E_INVALID);
}
END_TEST

/* The same with extended length: one APDU. */
START_TEST(test_sign_rsa2048_extended)
{
	static uint8_t block[256], sig[256], cmd[266], answer[264], out[300];
	struct script_step *st;
	size_t len = 0;

	rsa2048_sign_exchange(block, sig, cmd, answer);
	piv_set_extended(&card, true);
	st = expect_raw("00 87 07 9A 00 01 0A", cmd, sizeof(cmd), "00 00", "");
	resp_append(st, answer, sizeof(answer), "90 00");
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_RSA2048, PIV_SLOT_AUTH, block, sizeof(block), out, sizeof(out), &len),
			 PIV_OK);
	ck_assert_uint_eq(len, 256);
	ck_assert_mem_eq(out, sig, 256);
	ck_assert_uint_eq(apdu_count(&ch), 1);
}
END_TEST

START_TEST(test_ecdh_p256)
{
	uint8_t point[65], secret[32], out[64];
	struct script_step *st;
	size_t len = 0;

	point[0] = 0x04;
	fill(point + 1, 64, 0x10);
	fill(secret, sizeof(secret), 0x77);
	st = expect_raw("00 87 11 9D 47 7C 45 82 00 85 41", point, sizeof(point), "00", "7C 22 82 20");
	resp_append(st, secret, sizeof(secret), "90 00");
	ck_assert_int_eq(piv_ecdh(&card, PIV_ALG_ECCP256, PIV_SLOT_KEYMGMT, point, sizeof(point), out, sizeof(out), &len),
			 PIV_OK);
	ck_assert_uint_eq(len, 32);
	ck_assert_mem_eq(out, secret, 32);
	/* The peer point is public and logged; the shared secret is not. */
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu > 00 87 11 9D 47 7C 45 82 00 85 41 04 10 17"));
	ck_assert_ptr_nonnull(strstr(logged.text, "apdu < [36 data bytes hidden] 90 00\n"));
	ck_assert_ptr_null(strstr(logged.text, "77 7E 85"));
	ck_assert_int_eq(piv_ecdh(&card, PIV_ALG_RSA2048, PIV_SLOT_KEYMGMT, point, sizeof(point), out, sizeof(out), &len),
			 PIV_E_INVALID);
}
END_TEST

/* ---- management key ---- */

static const uint8_t KEY_3DES[24] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t KEY_AES128[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t KEY_AES256[32] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
					16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };

/* Expected ciphertexts are known answers computed with the openssl tool. */
START_TEST(test_mgmt_one_way_3des)
{
	script_expect(&s, "00 87 03 9B 04 7C 02 81 00 00", "7C 0A 81 08 A1 A2 A3 A4 A5 A6 A7 A8 90 00");
	script_expect(&s, "00 87 03 9B 0C 7C 0A 82 08 19 9F A3 74 70 5A 69 EB", "90 00");
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_3DES, KEY_3DES, sizeof(KEY_3DES), false), PIV_OK);
	/* Both steps in one transaction (plus one per transmit, nested). */
	ck_assert_int_eq(s.begins, 3);
	ck_assert_int_eq(s.depth, 0);
}
END_TEST

START_TEST(test_mgmt_one_way_wrong_key)
{
	script_expect(&s, "00 87 03 9B 04 7C 02 81 00 00", "7C 0A 81 08 A1 A2 A3 A4 A5 A6 A7 A8 90 00");
	script_expect(&s, "00 87 03 9B 0C 7C 0A 82 08 19 9F A3 74 70 5A 69 EB", "69 82");
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_3DES, KEY_3DES, sizeof(KEY_3DES), false), PIV_E_SECURITY);
	ck_assert_int_eq(s.depth, 0);
}
END_TEST

START_TEST(test_mgmt_one_way_aes128)
{
	script_expect(&s, "00 87 08 9B 04 7C 02 81 00 00",
		      "7C 12 81 10 C0 C1 C2 C3 C4 C5 C6 C7 C8 C9 CA CB CC CD CE CF 90 00");
	script_expect(&s, "00 87 08 9B 14 7C 12 82 10 AD 39 30 03 D3 E6 BC 52 68 F0 D8 33 E0 05 0B 78", "90 00");
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_AES128, KEY_AES128, sizeof(KEY_AES128), false), PIV_OK);
}
END_TEST

START_TEST(test_mgmt_mutual_3des)
{
	script_expect(&s, "00 87 03 9B 04 7C 02 80 00 00", "7C 0A 80 08 B1 B2 B3 B4 B5 B6 B7 B8 90 00");
	script_expect(&s, "00 87 03 9B 18 7C 16 80 08 BA D3 B9 64 BA 47 B3 A1 81 08 11 22 33 44 55 66 77 88 82 00 00",
		      "7C 0A 82 08 6C 5E 94 DC AD D3 9F 1D 90 00");
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_3DES, KEY_3DES, sizeof(KEY_3DES), true), PIV_OK);
}
END_TEST

START_TEST(test_mgmt_mutual_card_fails)
{
	script_expect(&s, "00 87 03 9B 04 7C 02 80 00 00", "7C 0A 80 08 B1 B2 B3 B4 B5 B6 B7 B8 90 00");
	script_expect(&s, "00 87 03 9B 18 7C 16 80 08 BA D3 B9 64 BA 47 B3 A1 81 08 11 22 33 44 55 66 77 88 82 00 00",
		      "7C 0A 82 08 6C 5E 94 DC AD D3 9F 1E 90 00");
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_3DES, KEY_3DES, sizeof(KEY_3DES), true), PIV_E_AUTH_FAILED);
}
END_TEST

START_TEST(test_mgmt_mutual_aes256)
{
	script_expect(&s, "00 87 0C 9B 04 7C 02 80 00 00",
		      "7C 12 80 10 D0 D1 D2 D3 D4 D5 D6 D7 D8 D9 DA DB DC DD DE DF 90 00");
	script_expect(&s, "00 87 0C 9B 28 7C 26 80 10 80 8F C1 AB F0 2E 29 04 F4 81 C5 E8 44 B0 0E 85 "
		      "81 10 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF 00 82 00 00",
		      "7C 12 82 10 CE 40 54 D3 06 D6 55 F4 BB F9 0B 81 4E 70 4D 52 90 00");
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_AES256, KEY_AES256, sizeof(KEY_AES256), true), PIV_OK);
}
END_TEST

static const struct bad_case mgmt_bad[] = {
	{ "7C 06 81 04 01 02 03 04 90 00", PIV_E_MALFORMED },          /* challenge of the wrong size */
	{ "7C 0A 80 08 A1 A2 A3 A4 A5 A6 A7 A8 90 00", PIV_E_MALFORMED }, /* witness instead of challenge */
	{ "7C 0A 81 09 A1 A2 A3 A4 A5 A6 A7 A8 90 00", PIV_E_MALFORMED }, /* inner length overrun */
	{ "7C 0B 81 08 A1 A2 A3 A4 A5 A6 A7 A8 90 00", PIV_E_MALFORMED }, /* outer length overrun */
	{ "90 00", PIV_E_MALFORMED },
	{ "6A 80", PIV_E_BAD_DATA },
};

/* A bad first answer stops the exchange: no second APDU. */
START_TEST(test_mgmt_bad_challenge)
{
	script_expect(&s, "00 87 03 9B 04 7C 02 81 00 00", mgmt_bad[_i].resp);
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_3DES, KEY_3DES, sizeof(KEY_3DES), false), mgmt_bad[_i].rc);
	ck_assert_int_eq(s.depth, 0);
}
END_TEST

START_TEST(test_mgmt_rejects_bad_key)
{
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_3DES, KEY_3DES, 16, false), PIV_E_INVALID);
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_AES128, KEY_3DES, 24, false), PIV_E_INVALID);
	ck_assert_int_eq(piv_mgmt_auth(&card, 0x42, KEY_3DES, 24, false), PIV_E_INVALID);
	ck_assert_int_eq(piv_mgmt_auth(&card, PIV_ALG_3DES, NULL, 24, false), PIV_E_INVALID);
	ck_assert_uint_eq(apdu_count(&ch), 0);
}
END_TEST

/* ---- GENERATE ---- */

START_TEST(test_generate_p256)
{
	uint8_t point[65], resp[128];
	struct piv_pubkey pk;
	struct script_step *st;

	point[0] = 0x04;
	fill(point + 1, 64, 0x31);
	st = script_add(&s, "00 47 00 9A 05 AC 03 80 01 11 00", "7F 49 43 86 41", APDU_OK);
	resp_append(st, point, sizeof(point), "90 00");
	ck_assert_int_eq(piv_generate(&card, PIV_SLOT_AUTH, PIV_ALG_ECCP256, 0, 0, resp, sizeof(resp), &pk), PIV_OK);
	ck_assert_uint_eq(pk.point_len, 65);
	ck_assert_mem_eq(pk.point, point, 65);
	ck_assert_ptr_null(pk.modulus);
}
END_TEST

START_TEST(test_generate_policies_and_ed25519)
{
	uint8_t pub[32], resp[128];
	struct piv_pubkey pk;
	struct script_step *st;

	fill(pub, sizeof(pub), 0x51);
	script_expect(&s, "00 47 00 9C 0B AC 09 80 01 11 AA 01 02 AB 01 02 00", "69 82");
	st = script_add(&s, "00 47 00 9D 08 AC 06 80 01 E0 AA 01 03 00", "7F 49 22 86 20", APDU_OK);
	resp_append(st, pub, sizeof(pub), "90 00");
	ck_assert_int_eq(piv_generate(&card, PIV_SLOT_SIGN, PIV_ALG_ECCP256, PIV_PIN_POLICY_ONCE,
				      PIV_TOUCH_POLICY_ALWAYS, resp, sizeof(resp), &pk), PIV_E_SECURITY);
	ck_assert_int_eq(piv_generate(&card, PIV_SLOT_KEYMGMT, PIV_ALG_ED25519, PIV_PIN_POLICY_ALWAYS, 0,
				      resp, sizeof(resp), &pk), PIV_OK);
	ck_assert_uint_eq(pk.point_len, 32);
	ck_assert_mem_eq(pk.point, pub, 32);
}
END_TEST

START_TEST(test_generate_rsa2048)
{
	static uint8_t answer[270], mod[256], resp[600];
	struct piv_pubkey pk;
	struct script_step *st;

	fill(mod, sizeof(mod), 0x81);
	memcpy(answer, "\x7F\x49\x82\x01\x09\x81\x82\x01\x00", 9);
	memcpy(answer + 9, mod, sizeof(mod));
	memcpy(answer + 265, "\x82\x03\x01\x00\x01", 5);
	st = script_add(&s, "00 47 00 9A 05 AC 03 80 01 07 00", "", APDU_OK);
	resp_append(st, answer, 256, "61 0E");
	st = script_add(&s, "00 C0 00 00 0E", "", APDU_OK);
	resp_append(st, answer + 256, 14, "90 00");
	ck_assert_int_eq(piv_generate(&card, PIV_SLOT_AUTH, PIV_ALG_RSA2048, 0, 0, resp, sizeof(resp), &pk), PIV_OK);
	ck_assert_uint_eq(pk.modulus_len, 256);
	ck_assert_mem_eq(pk.modulus, mod, 256);
	ck_assert_uint_eq(pk.exponent_len, 3);
	ck_assert_mem_eq(pk.exponent, "\x01\x00\x01", 3);
}
END_TEST

struct pubkey_case {
	uint8_t alg;
	const char *content;
	int rc;
};

static const struct pubkey_case pubkey_cases[] = {
	{ PIV_ALG_ED25519, "86 20 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F", PIV_OK },
	{ PIV_ALG_ED25519, "86 1F 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E", PIV_E_MALFORMED },
	{ PIV_ALG_ECCP256, "86 03 04 01 02", PIV_E_MALFORMED },        /* point too short */
	{ PIV_ALG_ECCP256, "86 41 04 01", PIV_E_MALFORMED },           /* length past the data */
	{ PIV_ALG_ECCP256, "", PIV_E_MALFORMED },                      /* no point */
	{ PIV_ALG_ECCP256, "81 01 01 82 01 03", PIV_E_MALFORMED },     /* RSA parts for EC */
	{ PIV_ALG_RSA2048, "82 03 01 00 01", PIV_E_MALFORMED },        /* no modulus */
	{ PIV_ALG_RSA2048, "81 02 C0 01 82 03 01 00 01", PIV_E_MALFORMED }, /* modulus of the wrong size */
	{ PIV_ALG_RSA2048, "81 82 01", PIV_E_MALFORMED },              /* truncated length */
	{ PIV_ALG_RSA2048, "81 80 82 00", PIV_E_MALFORMED },           /* indefinite length */
	{ PIV_ALG_ED25519, "86 20 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F 86 00", PIV_E_MALFORMED },
	{ 0x99, "86 00", PIV_E_INVALID },
};

START_TEST(test_parse_pubkey_table)
{
	const struct pubkey_case *c = &pubkey_cases[_i];
	struct piv_pubkey pk;
	struct buf b;

	buf_init(&b);
	hex_put(&b, c->content);
	ck_assert_int_eq(piv_parse_pubkey(c->alg, b.d, b.len, &pk), c->rc);
	buf_free(&b);
}
END_TEST

static const struct bad_case generate_bad[] = {
	{ "7F 49 43 86 41 04 90 00", PIV_E_MALFORMED },   /* outer length past data */
	{ "7F 48 02 86 00 90 00", PIV_E_MALFORMED },      /* wrong outer tag */
	{ "7F 49 03 86 01 04 90 00", PIV_E_MALFORMED },   /* point too short */
	{ "7F 49 90 00", PIV_E_MALFORMED },               /* truncated */
	{ "7F", PIV_E_MALFORMED },                        /* no status word */
	{ "6A 80", PIV_E_BAD_DATA },
};

START_TEST(test_generate_bad_answers)
{
	uint8_t resp[128];
	struct piv_pubkey pk;

	script_expect(&s, "00 47 00 9A 05 AC 03 80 01 11 00", generate_bad[_i].resp);
	ck_assert_int_eq(piv_generate(&card, PIV_SLOT_AUTH, PIV_ALG_ECCP256, 0, 0, resp, sizeof(resp), &pk),
			 generate_bad[_i].rc);
}
END_TEST

/* ---- YubiKey extensions ---- */

START_TEST(test_logout)
{
	script_expect(&s, "00 20 FF 80", "90 00");
	script_expect(&s, "00 20 FF 80", "6A 86");
	ck_assert_int_eq(piv_logout(&card, PIV_REF_PIN), PIV_OK);
	ck_assert_int_eq(piv_logout(&card, PIV_REF_PIN), PIV_E_BAD_DATA);
	ck_assert_int_eq(piv_logout(&card, 0x9A), PIV_E_INVALID);
}
END_TEST

START_TEST(test_cert_object_tags)
{
	ck_assert_uint_eq(piv_cert_object(0x9A), 0x5FC105);
	ck_assert_uint_eq(piv_cert_object(0x9C), 0x5FC10A);
	ck_assert_uint_eq(piv_cert_object(0x9D), 0x5FC10B);
	ck_assert_uint_eq(piv_cert_object(0x9E), 0x5FC101);
	ck_assert_uint_eq(piv_cert_object(0x82), 0x5FC10D);
	ck_assert_uint_eq(piv_cert_object(0x95), 0x5FC120);
	ck_assert_uint_eq(piv_cert_object(0x9B), 0);
	ck_assert_uint_eq(piv_cert_object(0x96), 0);
	ck_assert_uint_eq(piv_cert_object(0xF9), 0);
}
END_TEST

static const struct {
	const char *hex;
	int rc;
	size_t cert_len;
	bool compressed;
} cert_cases[] = {
	{ "70 03 30 01 00 71 01 00 FE 00", PIV_OK, 3, false },
	{ "70 03 30 01 00", PIV_OK, 3, false },                 /* no CertInfo: plain */
	{ "70 03 30 01 00 71 01 01 FE 00", PIV_OK, 3, true },    /* gzip */
	{ "71 01 00 70 02 30 00", PIV_OK, 2, false },            /* any order */
	{ "71 01 00 FE 00", PIV_E_MALFORMED, 0, false },         /* no certificate */
	{ "70 00 71 01 00", PIV_E_MALFORMED, 0, false },         /* an empty one */
	{ "70 03 30 01", PIV_E_MALFORMED, 0, false },            /* truncated */
	{ "70 01 30 70 01 30", PIV_E_MALFORMED, 0, false },      /* two */
	{ "70 01 30 71 02 00 00", PIV_E_MALFORMED, 1, false },   /* CertInfo too long */
	{ "", PIV_E_MALFORMED, 0, false },
};

START_TEST(test_parse_cert_object_table)
{
	uint8_t buf[64];
	size_t n = tu_unhex(cert_cases[_i].hex, buf, sizeof(buf)), len = 99;
	const uint8_t *cert = NULL;
	bool compressed = true;

	ck_assert_int_eq(piv_parse_cert_object(buf, n, &cert, &len, &compressed), cert_cases[_i].rc);
	if (cert_cases[_i].rc == PIV_OK) {
		ck_assert_uint_eq(len, cert_cases[_i].cert_len);
		ck_assert_ptr_nonnull(cert);
		ck_assert_int_eq(cert[0], 0x30);
		ck_assert(compressed == cert_cases[_i].compressed);
	}
}
END_TEST

static const struct {
	const char *hex;
	int rc, on, off;
} history_cases[] = {
	{ "C1 01 02 C2 01 03 FE 00", PIV_OK, 2, 3 },
	{ "C2 01 01", PIV_OK, 0, 1 },
	{ "FE 00", PIV_OK, 0, 0 },
	{ "C1 01 14 C2 01 00", PIV_OK, 20, 0 },
	{ "C1 01 14 C2 01 01", PIV_E_MALFORMED, 0, 0 },   /* more than twenty retired keys */
	{ "C1 02 00 01", PIV_E_MALFORMED, 0, 0 },
	{ "C1 01", PIV_E_MALFORMED, 0, 0 },
	{ "C1 01 01 C1 01 01", PIV_E_MALFORMED, 0, 0 },
};

START_TEST(test_parse_key_history_table)
{
	uint8_t buf[64];
	size_t n = tu_unhex(history_cases[_i].hex, buf, sizeof(buf));
	int on = -1, off = -1;

	ck_assert_int_eq(piv_parse_key_history(buf, n, &on, &off), history_cases[_i].rc);
	if (history_cases[_i].rc == PIV_OK) {
		ck_assert_int_eq(on, history_cases[_i].on);
		ck_assert_int_eq(off, history_cases[_i].off);
	}
}
END_TEST

START_TEST(test_version_and_serial)
{
	uint8_t v[3];
	uint32_t serial = 0;

	script_expect(&s, "00 FD 00 00 00", "05 04 03 90 00");
	script_expect(&s, "00 F8 00 00 00", "01 02 03 04 90 00");
	script_expect(&s, "00 FD 00 00 00", "05 04 90 00");
	script_expect(&s, "00 F8 00 00 00", "01 02 03 04 05 90 00");
	script_expect(&s, "00 FD 00 00 00", "6D 00");
	ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
	ck_assert_mem_eq(v, "\x05\x04\x03", 3);
	ck_assert_int_eq(piv_get_serial(&card, &serial), PIV_OK);
	ck_assert_uint_eq(serial, 0x01020304);
	ck_assert_int_eq(piv_get_version(&card, v), PIV_E_MALFORMED);
	ck_assert_int_eq(piv_get_serial(&card, &serial), PIV_E_MALFORMED);
	ck_assert_int_eq(piv_get_version(&card, v), PIV_E_NOT_SUPPORTED);
}
END_TEST

START_TEST(test_metadata_pin_and_mgmt)
{
	uint8_t buf[256];
	struct piv_metadata md;

	script_expect(&s, "00 F7 00 80 00", "01 01 FF 05 01 01 06 02 05 05 90 00");
	script_expect(&s, "00 F7 00 9B 00", "01 01 03 02 02 00 01 05 01 00 90 00");
	ck_assert_int_eq(piv_get_metadata(&card, PIV_REF_PIN, buf, sizeof(buf), &md), PIV_OK);
	ck_assert_int_eq(md.alg, 0xFF);
	ck_assert_int_eq(md.is_default, 1);
	ck_assert_int_eq(md.retries_total, 5);
	ck_assert_int_eq(md.retries_left, 5);
	ck_assert_int_eq(md.pin_policy, -1);
	ck_assert_ptr_null(md.pubkey);
	ck_assert_int_eq(piv_get_metadata(&card, PIV_SLOT_MGMT, buf, sizeof(buf), &md), PIV_OK);
	ck_assert_int_eq(md.alg, PIV_ALG_3DES);
	ck_assert_int_eq(md.pin_policy, 0);
	ck_assert_int_eq(md.touch_policy, 1);
	ck_assert_int_eq(md.is_default, 0);
	ck_assert_int_eq(md.retries_total, -1);
}
END_TEST

START_TEST(test_metadata_key_slot)
{
	uint8_t point[65], buf[256];
	struct piv_metadata md;
	struct piv_pubkey pk;
	struct script_step *st;

	point[0] = 0x04;
	fill(point + 1, 64, 0x61);
	st = script_add(&s, "00 F7 00 9A 00", "01 01 11 02 02 02 01 03 01 01 04 43 86 41", APDU_OK);
	resp_append(st, point, sizeof(point), "90 00");
	ck_assert_int_eq(piv_get_metadata(&card, PIV_SLOT_AUTH, buf, sizeof(buf), &md), PIV_OK);
	ck_assert_int_eq(md.alg, PIV_ALG_ECCP256);
	ck_assert_int_eq(md.pin_policy, 2);
	ck_assert_int_eq(md.touch_policy, 1);
	ck_assert_int_eq(md.origin, 1);
	ck_assert_uint_eq(md.pubkey_len, 67);
	ck_assert_int_eq(piv_parse_pubkey((uint8_t)md.alg, md.pubkey, md.pubkey_len, &pk), PIV_OK);
	ck_assert_mem_eq(pk.point, point, 65);
}
END_TEST

struct md_case {
	const char *content;
	int rc;
};

static const struct md_case md_cases[] = {
	{ "01 01 11", PIV_OK },
	{ "01 01 11 0F 01 AA", PIV_OK },         /* unknown tags are skipped */
	{ "01 02 11 11", PIV_E_MALFORMED },   /* algorithm of two bytes */
	{ "01 01", PIV_E_MALFORMED },         /* truncated */
	{ "01 01 11 01 01 11", PIV_E_MALFORMED }, /* algorithm twice */
	{ "05 01 00", PIV_E_MALFORMED },      /* no algorithm */
	{ "01 01 11 06 01 05", PIV_E_MALFORMED }, /* retries of one byte */
	{ "01 01 11 02 03 01 01 01", PIV_E_MALFORMED },
	{ "01 01 11 04 05 86 03", PIV_E_MALFORMED }, /* length past the data */
	{ "", PIV_E_MALFORMED },
};

START_TEST(test_parse_metadata_table)
{
	struct piv_metadata md;
	struct buf b;

	buf_init(&b);
	hex_put(&b, md_cases[_i].content);
	ck_assert_msg(piv_parse_metadata(b.d, b.len, &md) == md_cases[_i].rc, "metadata %s", md_cases[_i].content);
	buf_free(&b);
}
END_TEST

START_TEST(test_set_pin_retries_and_reset)
{
	script_expect(&s, "00 FA 05 03", "90 00");
	script_expect(&s, "00 FB 00 00", "69 85");
	script_expect(&s, "00 FB 00 00", "90 00");
	ck_assert_int_eq(piv_set_pin_retries(&card, 5, 3), PIV_OK);
	ck_assert_int_eq(piv_set_pin_retries(&card, 0, 3), PIV_E_INVALID);
	ck_assert_int_eq(piv_reset(&card), PIV_E_CONDITIONS);
	ck_assert_int_eq(piv_reset(&card), PIV_OK);
}
END_TEST

START_TEST(test_import_p256_padded_with_policies)
{
	uint8_t scalar[31];
	struct piv_bytes part = { scalar, sizeof(scalar) };
	struct script_step *st;

	fill(scalar, sizeof(scalar), 0x90);
	st = script_add(&s, "00 FE 11 9E 28 06 20 00", "90 00", APDU_OK);
	buf_put(&st->cmd, scalar, sizeof(scalar));
	hex_put(&st->cmd, "AA 01 01 AB 01 01");
	ck_assert_int_eq(piv_import_key(&card, PIV_SLOT_CARDAUTH, PIV_ALG_ECCP256, &part, 1,
					PIV_PIN_POLICY_NEVER, PIV_TOUCH_POLICY_NEVER), PIV_OK);
}
END_TEST

START_TEST(test_import_rsa2048_chained)
{
	static uint8_t parts_data[5][128], whole[655];
	struct piv_bytes parts[5];
	size_t i, off = 0;

	for (i = 0; i < 5; i++) {
		fill(parts_data[i], 128, (uint8_t)(0x11 * (i + 1)));
		parts_data[i][0] |= 0x80;
		parts[i].d = parts_data[i];
		parts[i].len = 128;
		whole[off++] = (uint8_t)(i + 1);
		whole[off++] = 0x81;
		whole[off++] = 0x80;
		memcpy(whole + off, parts_data[i], 128);
		off += 128;
	}
	ck_assert_uint_eq(off, sizeof(whole));
	expect_raw("10 FE 07 9A FF", whole, 255, "", "90 00");
	expect_raw("10 FE 07 9A FF", whole + 255, 255, "", "90 00");
	expect_raw("00 FE 07 9A 91", whole + 510, 145, "", "90 00");
	ck_assert_int_eq(piv_import_key(&card, PIV_SLOT_AUTH, PIV_ALG_RSA2048, parts, 5, 0, 0), PIV_OK);
}
END_TEST

START_TEST(test_import_rejects_bad_input)
{
	uint8_t big[33] = { 0x01 };
	struct piv_bytes part = { big, sizeof(big) };

	ck_assert_int_eq(piv_import_key(&card, PIV_SLOT_AUTH, PIV_ALG_ECCP256, &part, 1, 0, 0), PIV_E_INVALID);
	ck_assert_int_eq(piv_import_key(&card, PIV_SLOT_AUTH, PIV_ALG_RSA2048, &part, 1, 0, 0), PIV_E_INVALID);
	ck_assert_int_eq(piv_import_key(&card, PIV_SLOT_MGMT, PIV_ALG_ECCP256, &part, 1, 0, 0), PIV_E_INVALID);
	ck_assert_int_eq(piv_import_key(&card, PIV_SLOT_AUTH, PIV_ALG_ECCP256, &part, 1, 9, 0), PIV_E_INVALID);
	ck_assert_uint_eq(apdu_count(&ch), 0);
}
END_TEST

/* A part with a leading zero byte is accepted when its value fits. */
START_TEST(test_import_strips_leading_zero)
{
	uint8_t scalar[33];
	struct piv_bytes part = { scalar, sizeof(scalar) };
	struct script_step *st;

	scalar[0] = 0;
	fill(scalar + 1, 32, 0xA0);
	st = script_add(&s, "00 FE E0 9C 22 07 20", "90 00", APDU_OK);
	buf_put(&st->cmd, scalar + 1, 32);
	ck_assert_int_eq(piv_import_key(&card, PIV_SLOT_SIGN, PIV_ALG_ED25519, &part, 1, 0, 0), PIV_OK);
}
END_TEST

START_TEST(test_set_mgmt_key)
{
	struct script_step *st;

	st = script_add(&s, "00 FF FF FF 1B 03 9B 18", "90 00", APDU_OK);
	buf_put(&st->cmd, KEY_3DES, sizeof(KEY_3DES));
	st = script_add(&s, "00 FF FF FE 13 08 9B 10", "69 82", APDU_OK);
	buf_put(&st->cmd, KEY_AES128, sizeof(KEY_AES128));
	ck_assert_int_eq(piv_set_mgmt_key(&card, PIV_ALG_3DES, KEY_3DES, sizeof(KEY_3DES), false), PIV_OK);
	ck_assert_int_eq(piv_set_mgmt_key(&card, PIV_ALG_AES128, KEY_AES128, sizeof(KEY_AES128), true), PIV_E_SECURITY);
	ck_assert_int_eq(piv_set_mgmt_key(&card, PIV_ALG_AES128, KEY_3DES, sizeof(KEY_3DES), false), PIV_E_INVALID);
}
END_TEST

START_TEST(test_attest)
{
	uint8_t out[64];
	size_t len = 0;

	script_expect(&s, "00 F9 9A 00 00", "30 03 02 01 01 90 00");
	script_expect(&s, "00 F9 9C 00 00", "31 00 90 00");
	script_expect(&s, "00 F9 9D 00 00", "30 05 02 01 90 00");
	ck_assert_int_eq(piv_attest(&card, PIV_SLOT_AUTH, out, sizeof(out), &len), PIV_OK);
	ck_assert_uint_eq(len, 5);
	ck_assert_int_eq(piv_attest(&card, PIV_SLOT_SIGN, out, sizeof(out), &len), PIV_E_MALFORMED);
	ck_assert_uint_eq(len, 0);
	ck_assert_int_eq(piv_attest(&card, PIV_SLOT_KEYMGMT, out, sizeof(out), &len), PIV_E_MALFORMED);
}
END_TEST

/* Transport failures surface as PIV codes. */
START_TEST(test_transport_errors)
{
	int tries;

	script_add(&s, "00 20 00 80 08 31 32 33 34 35 36 FF FF", "", APDU_E_CARD_RESET);
	/* The reset took the selection with it. */
	script_expect(&s, SELECT_PIV, "90 00");
	script_add(&s, "00 FD 00 00 00", "", APDU_E_CARD_REMOVED);
	ck_assert_int_eq(piv_verify(&card, PIV_REF_PIN, PIN6, 6, &tries), PIV_E_CARD_RESET);
	{
		uint8_t v[3];

		ck_assert_int_eq(piv_get_version(&card, v), PIV_E_CARD_REMOVED);
	}
}
END_TEST

/* Random card answers (shaped like TLVs often enough to go deep) give an
 * orderly result and never a crash or an out-of-bounds read. */
START_TEST(test_random_answers)
{
	uint32_t state = 0xC0FFEE;
	uint8_t hash[32], out[256], resp[512];
	int round;

	fill(hash, sizeof(hash), 1);
	for (round = 0; round < 600; round++) {
		static const uint8_t lead[][2] = { { 0x7C, 0x00 }, { 0x7F, 0x49 }, { 0x53, 0x00 }, { 0x01, 0x01 } };
		struct script_step *st;
		struct piv_pubkey pk;
		struct piv_metadata md;
		size_t n = tu_next_random(&state) % 60, i, len = 0;
		int kind = round % 4, rc;

		script_free(&s);
		script_init(&s);
		st = script_add(&s, "", "", APDU_OK);
		buf_reset(&st->cmd);
		buf_put(&st->resp, lead[kind], lead[kind][1] == 0 ? 1 : 2);
		for (i = 0; i < n; i++) {
			uint32_t v = tu_next_random(&state);

			buf_put_u8(&st->resp, (v & 7) == 0 ? (uint8_t)(0x80 | (v >> 8 & 3)) : (uint8_t)(v >> 16));
		}
		hex_put(&st->resp, "90 00");
		/* Whatever was sent: only the answer matters here. */
		switch (kind) {
		case 0:
			expect_command_any(&s);
			rc = piv_sign(&card, PIV_ALG_ECCP256, PIV_SLOT_AUTH, hash, sizeof(hash), out, sizeof(out), &len);
			break;
		case 1:
			expect_command_any(&s);
			rc = piv_generate(&card, PIV_SLOT_AUTH, PIV_ALG_ECCP256, 0, 0, resp, sizeof(resp), &pk);
			break;
		case 2:
			expect_command_any(&s);
			rc = piv_get_data(&card, PIV_OBJ_CHUID, out, sizeof(out), &len);
			break;
		default:
			expect_command_any(&s);
			rc = piv_get_metadata(&card, PIV_SLOT_AUTH, resp, sizeof(resp), &md);
			break;
		}
		ck_assert_msg(rc == PIV_OK || rc == PIV_E_MALFORMED, "round %d: rc %d", round, rc);
		ck_assert_uint_le(len, sizeof(out));
	}
}
END_TEST

/* ---- selection: once per card session ---- */

#define GET_VERSION "00 FD 00 00 00"
#define VERSION_OK "05 07 02 90 00"
#define PIN_STATUS "00 20 00 80"

/* A new connection on the same script: nothing selected yet. */
static void new_connection(const struct apdu_transport *tp)
{
	apdu_chan_init(&ch, tp, &s);
	piv_init(&card, &ch);
	s.begins = s.ends = 0;
}

/* The first command selects PIV in its own transaction; the ones after it
 * do not select again. */
START_TEST(test_first_command_selects_once)
{
	uint8_t v[3];
	uint32_t serial = 0;
	bool verified;
	int tries;

	new_connection(&script_transport);
	script_expect(&s, SELECT_PIV, "61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00");
	script_expect(&s, GET_VERSION, VERSION_OK);
	script_expect(&s, "00 F8 00 00 00", "00 BC 61 4E 90 00");
	script_expect(&s, PIN_STATUS, "63 C3");
	ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
	/* One bracket around both, and one inside it for each exchange. */
	ck_assert_int_eq(s.begins, 3);
	ck_assert_int_eq(s.depth, 0);
	ck_assert_int_eq(piv_get_serial(&card, &serial), PIV_OK);
	ck_assert_uint_eq(serial, 12345678);
	ck_assert_int_eq(piv_pin_status(&card, PIV_REF_PIN, &verified, &tries), PIV_OK);
	ck_assert_int_eq(tries, 3);
	ck_assert_int_eq(s.begins, 5);
}
END_TEST

/* After the transport reported a reset, the next command selects first. */
START_TEST(test_reset_selects_again)
{
	bool verified;
	int tries;

	script_add(&s, PIN_STATUS, "", APDU_E_CARD_RESET);
	script_expect(&s, SELECT_PIV, "90 00");
	script_expect(&s, PIN_STATUS, "63 C3");
	script_expect(&s, PIN_STATUS, "63 C3");
	ck_assert_int_eq(piv_pin_status(&card, PIV_REF_PIN, &verified, &tries), PIV_E_CARD_RESET);
	ck_assert_int_eq(piv_pin_status(&card, PIV_REF_PIN, &verified, &tries), PIV_OK);
	ck_assert(!verified);
	ck_assert_int_eq(piv_pin_status(&card, PIV_REF_PIN, &verified, &tries), PIV_OK);
}
END_TEST

/* So does a reset that shows only as a new card session, and one found by
 * the transaction that would have held the SELECT. */
START_TEST(test_new_session_selects_again)
{
	uint8_t v[3];

	new_connection(&script_session_transport);
	script_expect(&s, SELECT_PIV, "90 00");
	script_expect(&s, GET_VERSION, VERSION_OK);
	script_expect(&s, GET_VERSION, VERSION_OK);
	script_expect(&s, SELECT_PIV, "90 00");
	script_expect(&s, GET_VERSION, VERSION_OK);
	ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
	ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
	s.session++;
	ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
	ck_assert_uint_eq(apdu_count(&ch), 5);
}
END_TEST

/* A reset seen by the SELECT itself: the command is not sent, and the next
 * one selects again. */
START_TEST(test_reset_during_select)
{
	uint8_t v[3];

	new_connection(&script_transport);
	script_add(&s, SELECT_PIV, "", APDU_E_CARD_RESET);
	script_expect(&s, SELECT_PIV, "90 00");
	script_expect(&s, GET_VERSION, VERSION_OK);
	ck_assert_int_eq(piv_get_version(&card, v), PIV_E_CARD_RESET);
	ck_assert_int_eq(s.depth, 0);
	ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
}
END_TEST

/* 6D00 to a standard PIV command means another program selected another
 * application: the state on the card is gone (reported as a reset) and the
 * next command selects again. A YubiKey extension answering 6D00 is just
 * missing from the firmware. */
START_TEST(test_other_application_selected)
{
	uint8_t buf[64];
	struct piv_metadata md;
	size_t len = 0;
	uint8_t v[3];

	script_expect(&s, "00 F7 00 9A 00", "6D 00");
	script_expect(&s, GET_VERSION, VERSION_OK);
	script_expect(&s, "00 CB 3F FF 05 5C 03 5F C1 02 00", "6D 00");
	script_expect(&s, SELECT_PIV, "90 00");
	script_expect(&s, "00 CB 3F FF 05 5C 03 5F C1 02 00", "53 00 90 00");
	ck_assert_int_eq(piv_get_metadata(&card, PIV_SLOT_AUTH, buf, sizeof(buf), &md), PIV_E_NOT_SUPPORTED);
	ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CHUID, buf, sizeof(buf), &len), PIV_E_CARD_RESET);
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CHUID, buf, sizeof(buf), &len), PIV_OK);
	ck_assert_uint_eq(len, 0);
}
END_TEST

/* Right after a SELECT the card has PIV selected: 6D00 there is its answer
 * to the command, not a lost selection, so no SELECT loop follows. */
START_TEST(test_not_supported_right_after_select)
{
	uint8_t buf[64];
	size_t len = 0;

	new_connection(&script_transport);
	script_expect(&s, SELECT_PIV, "90 00");
	script_expect(&s, "00 CB 3F FF 05 5C 03 5F C1 02 00", "6D 00");
	ck_assert_int_eq(piv_get_data(&card, PIV_OBJ_CHUID, buf, sizeof(buf), &len), PIV_E_NOT_SUPPORTED);
}
END_TEST

/* A card without PIV: the command is never sent. */
START_TEST(test_select_refused)
{
	uint8_t sig[80], hash[32];
	size_t len = 0;

	fill(hash, sizeof(hash), 3);
	new_connection(&script_transport);
	script_expect(&s, SELECT_PIV, "6A 82");
	script_expect(&s, SELECT_PIV, "6D 00");
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ECCP256, PIV_SLOT_AUTH, hash, sizeof(hash), sig, sizeof(sig), &len),
			 PIV_E_NO_APPLICATION);
	ck_assert_int_eq(piv_sign(&card, PIV_ALG_ECCP256, PIV_SLOT_AUTH, hash, sizeof(hash), sig, sizeof(sig), &len),
			 PIV_E_NO_APPLICATION);
	ck_assert_int_eq(s.depth, 0);
	ck_assert_str_eq(piv_rc_name(PIV_E_NO_APPLICATION), "no PIV application on the card");
}
END_TEST

/* piv_select() always sends SELECT: it is how the template is read. */
START_TEST(test_explicit_select_always_sent)
{
	script_expect(&s, SELECT_PIV, "90 00");
	script_expect(&s, SELECT_PIV, "6A 82");
	script_expect(&s, SELECT_PIV, "90 00");
	script_expect(&s, GET_VERSION, VERSION_OK);
	ck_assert_int_eq(piv_select(&card, NULL, 0, NULL), PIV_OK);
	ck_assert_int_eq(piv_select(&card, NULL, 0, NULL), PIV_E_NOT_FOUND);
	/* The failed SELECT left nothing selected. */
	{
		uint8_t v[3];

		ck_assert_int_eq(piv_get_version(&card, v), PIV_OK);
	}
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static TCase *fixture_case(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	return tc;
}

static Suite *piv_suite(void)
{
	Suite *su = suite_create("piv");
	TCase *tc = fixture_case("status");

	tcase_add_loop_test(tc, test_sw_table, 0, N(sw_cases));
	tcase_add_test(tc, test_apdu_rc_mapping);
	tcase_add_loop_test(tc, test_atr_table, 0, N(atr_cases));
	tcase_add_test(tc, test_atr_prefixes);
	tcase_add_test(tc, test_transport_errors);
	tcase_add_test(tc, test_random_answers);
	suite_add_tcase(su, tc);

	tc = fixture_case("select_data");
	tcase_add_test(tc, test_select_yubikey_answer);
	tcase_add_test(tc, test_select_bare_ok);
	tcase_add_loop_test(tc, test_select_bad_answers, 0, N(select_bad));
	tcase_add_test(tc, test_select_apt_too_small);
	tcase_add_test(tc, test_get_data_cert);
	tcase_add_test(tc, test_get_data_discovery_and_bitgt);
	tcase_add_loop_test(tc, test_get_data_bad_answers, 0, N(get_data_bad));
	tcase_add_test(tc, test_get_data_too_small);
	tcase_add_test(tc, test_get_data_invalid_tag);
	tcase_add_test(tc, test_get_data_long_short_apdus);
	tcase_add_test(tc, test_get_data_extended);
	tcase_add_test(tc, test_extended_refused_falls_back);
	tcase_add_test(tc, test_put_data_small_and_delete);
	tcase_add_test(tc, test_put_data_chained);
	tcase_add_test(tc, test_put_data_extended);
	suite_add_tcase(su, tc);

	tc = fixture_case("pin");
	tcase_add_test(tc, test_verify_ok);
	tcase_add_test(tc, test_verify_wrong_and_blocked);
	tcase_add_test(tc, test_verify_puk_eight_digits);
	tcase_add_test(tc, test_verify_rejects_bad_input);
	tcase_add_loop_test(tc, test_pin_status_table, 0, N(status_cases));
	tcase_add_test(tc, test_change_reference);
	tcase_add_test(tc, test_reset_retry);
	tcase_add_test(tc, test_secrets_not_logged);
	suite_add_tcase(su, tc);

	tc = fixture_case("general_authenticate");
	tcase_add_test(tc, test_sign_p256);
	tcase_add_test(tc, test_sign_p256_stays_short);
	tcase_add_loop_test(tc, test_sign_bad_answers, 0, N(sign_bad));
	tcase_add_test(tc, test_sign_output_too_small);
	tcase_add_test(tc, test_sign_rejects_bad_input);
	tcase_add_test(tc, test_sign_rsa2048_short);
	tcase_add_test(tc, test_sign_rsa2048_extended);
	tcase_add_test(tc, test_ecdh_p256);
	tcase_add_test(tc, test_decrypt_rsa1024_hides_result);
	tcase_add_test(tc, test_mgmt_one_way_3des);
	tcase_add_test(tc, test_mgmt_one_way_wrong_key);
	tcase_add_test(tc, test_mgmt_one_way_aes128);
	tcase_add_test(tc, test_mgmt_mutual_3des);
	tcase_add_test(tc, test_mgmt_mutual_card_fails);
	tcase_add_test(tc, test_mgmt_mutual_aes256);
	tcase_add_loop_test(tc, test_mgmt_bad_challenge, 0, N(mgmt_bad));
	tcase_add_test(tc, test_mgmt_rejects_bad_key);
	suite_add_tcase(su, tc);

	tc = fixture_case("keys");
	tcase_add_test(tc, test_generate_p256);
	tcase_add_test(tc, test_generate_policies_and_ed25519);
	tcase_add_test(tc, test_generate_rsa2048);
	tcase_add_loop_test(tc, test_parse_pubkey_table, 0, N(pubkey_cases));
	tcase_add_loop_test(tc, test_generate_bad_answers, 0, N(generate_bad));
	suite_add_tcase(su, tc);

	tc = fixture_case("yubikey");
	tcase_add_test(tc, test_version_and_serial);
	tcase_add_test(tc, test_logout);
	tcase_add_test(tc, test_cert_object_tags);
	tcase_add_loop_test(tc, test_parse_cert_object_table, 0, N(cert_cases));
	tcase_add_loop_test(tc, test_parse_key_history_table, 0, N(history_cases));
	tcase_add_test(tc, test_metadata_pin_and_mgmt);
	tcase_add_test(tc, test_metadata_key_slot);
	tcase_add_loop_test(tc, test_parse_metadata_table, 0, N(md_cases));
	tcase_add_test(tc, test_set_pin_retries_and_reset);
	tcase_add_test(tc, test_import_p256_padded_with_policies);
	tcase_add_test(tc, test_import_rsa2048_chained);
	tcase_add_test(tc, test_import_rejects_bad_input);
	tcase_add_test(tc, test_import_strips_leading_zero);
	tcase_add_test(tc, test_set_mgmt_key);
	tcase_add_test(tc, test_attest);
	suite_add_tcase(su, tc);

	tc = fixture_case("selection");
	tcase_add_test(tc, test_first_command_selects_once);
	tcase_add_test(tc, test_reset_selects_again);
	tcase_add_test(tc, test_new_session_selects_again);
	tcase_add_test(tc, test_reset_during_select);
	tcase_add_test(tc, test_other_application_selected);
	tcase_add_test(tc, test_not_supported_right_after_select);
	tcase_add_test(tc, test_select_refused);
	tcase_add_test(tc, test_explicit_select_always_sent);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	return tu_run_suite(piv_suite());
}
