#include "apdu/piv.h"

#include <stdlib.h>
#include <string.h>

#include "apdu/buf.h"
#include "apdu/tlv.h"
#include "crypto/random.h"
#include "crypto/wipe.h"

#define TAG_DYN_AUTH 0x7C
#define TAG_WITNESS 0x80
#define TAG_CHALLENGE 0x81
#define TAG_RESPONSE 0x82
#define TAG_EXPONENTIATION 0x85
#define TAG_TAG_LIST 0x5C
#define TAG_OBJECT 0x53
#define TAG_APT 0x61
#define TAG_PUBKEY 0x7F49
#define TAG_GEN_TEMPLATE 0xAC

#define SW_OK 0x9000
#define SW_WRONG_LENGTH 0x6700
#define SW_INS_NOT_SUPPORTED 0x6D00
/* GENERAL AUTHENTICATE answers: an RSA-4096 block plus TLV headers. */
#define GA_RESP_MAX 1024

static const uint8_t PIV_AID[] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00 };

static int default_random(void *ctx, uint8_t *out, size_t n)
{
	(void)ctx;
	return cr_random(out, n) == 0 ? PIV_OK : PIV_E_CRYPTO;
}

void piv_init(struct piv_card *c, struct apdu_chan *chan)
{
	c->chan = chan;
	c->extended = false;
	c->last_sw = 0;
	c->selected = false;
	c->session = 0;
	c->random = default_random;
	c->random_ctx = NULL;
}

void piv_set_extended(struct piv_card *c, bool on)
{
	c->extended = on;
}

/* ISO 7816-3 interface bytes, then ISO 7816-4 compact-TLV historical bytes
 * (category 80): the third byte of the card capabilities (tag 7) has bit
 * 0x40 for "extended Lc and Le fields". */
bool piv_atr_extended(const uint8_t *atr, size_t len)
{
	size_t i = 2, k, end;
	uint8_t y;

	if (len < 2)
		return false;
	y = atr[1] >> 4;
	k = atr[1] & 0x0F;
	for (;;) {
		i += (size_t)((y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1));
		if (!(y & 8))
			break;
		if (i >= len)
			return false;
		y = atr[i++] >> 4;
	}
	if (k < 2 || i >= len || k > len - i || atr[i] != 0x80)
		return false;
	end = i + k;
	for (i++; i < end;) {
		uint8_t tag = atr[i] >> 4, l = atr[i] & 0x0F;

		i++;
		if (l > end - i)
			return false;
		if (tag == 7 && l >= 3)
			return (atr[i + 2] & 0x40) != 0;
		i += l;
	}
	return false;
}

int piv_sw_to_rc(uint16_t sw, int *tries)
{
	int dummy;

	if (tries == NULL)
		tries = &dummy;
	*tries = -1;
	if ((sw & 0xFFF0) == 0x63C0) {
		*tries = sw & 0x0F;
		return *tries == 0 ? PIV_E_PIN_BLOCKED : PIV_E_PIN_INCORRECT;
	}
	switch (sw) {
	case SW_OK:
		return PIV_OK;
	case 0x6300:
		return PIV_E_PIN_INCORRECT;
	case 0x6983:
		*tries = 0;
		return PIV_E_PIN_BLOCKED;
	case 0x6982:
		return PIV_E_SECURITY;
	case 0x6A82:
	case 0x6A88:
		return PIV_E_NOT_FOUND;
	case 0x6D00:
	case 0x6E00:
	case 0x6A81:
		return PIV_E_NOT_SUPPORTED;
	case 0x6700:
	case 0x6A80:
	case 0x6A86:
	case 0x6984:
	case 0x6B00:
		return PIV_E_BAD_DATA;
	case 0x6985:
		return PIV_E_CONDITIONS;
	case 0x6A84:
		return PIV_E_NO_SPACE;
	default:
		return PIV_E_CARD;
	}
}

int piv_from_apdu_rc(int apdu_rc)
{
	switch (apdu_rc) {
	case APDU_OK: return PIV_OK;
	case APDU_E_INVALID: return PIV_E_INVALID;
	case APDU_E_RESPONSE: return PIV_E_MALFORMED;
	case APDU_E_OVERFLOW: return PIV_E_BUFFER_TOO_SMALL;
	case APDU_E_NOMEM: return PIV_E_NOMEM;
	case APDU_E_CARD_RESET: return PIV_E_CARD_RESET;
	case APDU_E_CARD_REMOVED: return PIV_E_CARD_REMOVED;
	case APDU_E_NO_SERVICE: return PIV_E_NO_SERVICE;
	case APDU_E_NO_READER: return PIV_E_NO_READER;
	case APDU_E_TIMEOUT: return PIV_E_TIMEOUT;
	default: return PIV_E_TRANSPORT;
	}
}

const char *piv_rc_name(int rc)
{
	switch (rc) {
	case PIV_OK: return "ok";
	case PIV_E_TRANSPORT: return "transport failure";
	case PIV_E_CARD_RESET: return "card was reset";
	case PIV_E_CARD_REMOVED: return "card removed";
	case PIV_E_NO_SERVICE: return "smart-card service unavailable";
	case PIV_E_NO_READER: return "reader unavailable";
	case PIV_E_PIN_INCORRECT: return "wrong PIN";
	case PIV_E_PIN_BLOCKED: return "PIN blocked";
	case PIV_E_SECURITY: return "security status not satisfied";
	case PIV_E_NOT_FOUND: return "not found";
	case PIV_E_NOT_SUPPORTED: return "not supported";
	case PIV_E_BAD_DATA: return "card rejected the data";
	case PIV_E_CONDITIONS: return "conditions of use not satisfied";
	case PIV_E_NO_SPACE: return "card memory full";
	case PIV_E_CARD: return "card error";
	case PIV_E_MALFORMED: return "malformed card response";
	case PIV_E_AUTH_FAILED: return "card failed to authenticate";
	case PIV_E_INVALID: return "invalid argument";
	case PIV_E_NOMEM: return "out of memory";
	case PIV_E_BUFFER_TOO_SMALL: return "buffer too small";
	case PIV_E_TIMEOUT: return "timeout";
	case PIV_E_CRYPTO: return "host crypto failure";
	case PIV_E_NO_APPLICATION: return "no PIV application on the card";
	default: return "unknown error";
	}
}

/* Maps a framing result; a card that lost its state has nothing selected
 * any more. */
static int note_reset(struct piv_card *c, int apdu_rc)
{
	if (apdu_rc == APDU_E_CARD_RESET)
		c->selected = false;
	return piv_from_apdu_rc(apdu_rc);
}

int piv_begin(struct piv_card *c)
{
	return note_reset(c, apdu_begin(c->chan));
}

int piv_end(struct piv_card *c)
{
	return note_reset(c, apdu_end(c->chan));
}

/* ---- one command ---- */

struct cmd {
	uint8_t ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	bool want_data;
	size_t expect; /* largest answer expected; 0: as much as the buffer holds */
	unsigned flags;
};

static void cmd_to_apdu(const struct cmd *k, bool extended, struct apdu *a)
{
	*a = (struct apdu){
		.cla = 0x00, .ins = k->ins, .p1 = k->p1, .p2 = k->p2,
		.data = k->data, .lc = k->lc, .flags = k->flags, .extended = extended,
	};
	if (k->lc > 0)
		a->kase = k->want_data ? APDU_CASE_4 : APDU_CASE_3;
	else
		a->kase = k->want_data ? APDU_CASE_2 : APDU_CASE_1;
	if (k->want_data)
		a->le = extended ? APDU_EXT_MAX_LE : APDU_SHORT_MAX_LE;
	/* Case 1 has no extended form. */
	if (a->kase == APDU_CASE_1)
		a->extended = false;
}

/* Extended length only where it saves round trips: long data, or an answer
 * that may exceed 256 bytes. A card that refuses it (6700) is then spoken
 * to in short APDUs only. */
static int exchange(struct piv_card *c, const struct cmd *k, uint8_t *out, size_t cap,
		    size_t *out_len, uint16_t *sw)
{
	size_t expect = k->expect != 0 ? k->expect : cap, ignored;
	bool ext = c->extended && (k->lc > APDU_SHORT_MAX_LC || (k->want_data && expect > APDU_SHORT_MAX_LE));
	struct apdu a;
	int rc;

	if (out_len == NULL)
		out_len = &ignored;
	cmd_to_apdu(k, ext, &a);
	rc = apdu_transmit(c->chan, &a, out, cap, out_len, sw);
	if (rc == APDU_OK && ext && *sw == SW_WRONG_LENGTH) {
		c->extended = false;
		cmd_to_apdu(k, false, &a);
		rc = apdu_transmit(c->chan, &a, out, cap, out_len, sw);
	}
	if (rc != APDU_OK)
		return note_reset(c, rc);
	c->last_sw = *sw;
	return PIV_OK;
}

/* SELECT; whether PIV is selected afterwards follows the status word. */
static int send_select(struct piv_card *c, uint8_t *resp, size_t cap, size_t *len, uint16_t *sw)
{
	struct cmd k = { .ins = PIV_INS_SELECT, .p1 = 0x04, .p2 = 0x00,
			 .data = PIV_AID, .lc = sizeof(PIV_AID), .want_data = true };
	int rc = exchange(c, &k, resp, cap, len, sw);

	c->selected = rc == PIV_OK && *sw == SW_OK;
	c->session = apdu_session(c->chan);
	return rc;
}

static bool piv_is_selected(const struct piv_card *c)
{
	return c->selected && c->session == apdu_session(c->chan);
}

/* Instructions every PIV card has. Answered 6D00, they mean that another
 * program selected another application; the YubiKey extensions may just be
 * missing from older firmware. */
static bool is_core_instruction(uint8_t ins)
{
	switch (ins) {
	case PIV_INS_VERIFY:
	case PIV_INS_CHANGE_REFERENCE:
	case PIV_INS_RESET_RETRY:
	case PIV_INS_GENERATE:
	case PIV_INS_GENERAL_AUTHENTICATE:
	case PIV_INS_GET_DATA:
	case PIV_INS_PUT_DATA:
		return true;
	default:
		return false;
	}
}

/* The first command of a card session: SELECT and the command in one
 * transaction, so that no other program comes in between. */
static int select_then_exchange(struct piv_card *c, const struct cmd *k, uint8_t *out, size_t cap,
				size_t *out_len, uint16_t *sw)
{
	uint8_t apt[APDU_SHORT_MAX_LE];
	size_t apt_len = 0;
	int rc, end_rc;

	rc = piv_begin(c);
	if (rc != PIV_OK)
		return rc;
	rc = send_select(c, apt, sizeof(apt), &apt_len, sw);
	if (rc == PIV_OK && *sw != SW_OK)
		rc = PIV_E_NO_APPLICATION;
	if (rc == PIV_OK)
		rc = exchange(c, k, out, cap, out_len, sw);
	end_rc = piv_end(c);
	return rc != PIV_OK ? rc : end_rc;
}

/* One command in the current card session, selecting PIV only when the
 * session has not got it selected (see piv.h). */
static int xfer(struct piv_card *c, const struct cmd *k, uint8_t *out, size_t cap,
		size_t *out_len, uint16_t *sw)
{
	int rc;

	if (!piv_is_selected(c))
		return select_then_exchange(c, k, out, cap, out_len, sw);
	rc = exchange(c, k, out, cap, out_len, sw);
	if (rc == PIV_OK && *sw == SW_INS_NOT_SUPPORTED && is_core_instruction(k->ins)) {
		c->selected = false;
		return PIV_E_CARD_RESET;
	}
	return rc;
}

/* Sends k and maps the status word. */
static int run(struct piv_card *c, const struct cmd *k, uint8_t *out, size_t cap,
	       size_t *out_len, int *tries)
{
	uint16_t sw;
	int rc = xfer(c, k, out, cap, out_len, &sw);

	if (rc != PIV_OK)
		return rc;
	return piv_sw_to_rc(sw, tries);
}

/* Sends the command with the data built in b; the build is checked here,
 * once, before anything goes to the card. */
static int run_built(struct piv_card *c, struct cmd *k, const struct buf *b, uint8_t *out, size_t cap,
		     size_t *out_len)
{
	if (!buf_ok(b))
		return PIV_E_NOMEM;
	k->data = b->d;
	k->lc = b->len;
	return run(c, k, out, cap, out_len, NULL);
}

/* The input must be exactly one item with the given tag. */
static int unwrap(const uint8_t *p, size_t n, uint32_t tag, const uint8_t **val, size_t *len)
{
	struct tlv_rd r;
	uint32_t t;

	tlv_rd_init(&r, p, n);
	if (tlv_next(&r, &t, val, len) != 1 || t != tag || r.left != 0)
		return PIV_E_MALFORMED;
	return PIV_OK;
}

static int copy_out(const uint8_t *src, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	if (n > cap)
		return PIV_E_BUFFER_TOO_SMALL;
	if (n > 0)
		memmove(out, src, n);
	*len = n;
	return PIV_OK;
}

/* ---- SELECT, GET DATA, PUT DATA ---- */

int piv_select(struct piv_card *c, uint8_t *apt, size_t cap, size_t *apt_len)
{
	uint8_t resp[APDU_SHORT_MAX_LE];
	const uint8_t *val;
	size_t len = 0, vlen;
	uint16_t sw = 0;
	int rc;

	if (apt_len != NULL)
		*apt_len = 0;
	rc = send_select(c, resp, sizeof(resp), &len, &sw);
	if (rc == PIV_OK)
		rc = piv_sw_to_rc(sw, NULL);
	if (rc != PIV_OK)
		return rc;
	/* Some cards answer a bare 90 00. */
	if (len == 0)
		return PIV_OK;
	rc = unwrap(resp, len, TAG_APT, &val, &vlen);
	if (rc != PIV_OK || apt == NULL)
		return rc;
	return copy_out(val, vlen, apt, cap, apt_len);
}

static uint32_t object_wrapper(uint32_t tag)
{
	return tag == PIV_OBJ_DISCOVERY || tag == PIV_OBJ_BITGT ? tag : TAG_OBJECT;
}

static void put_tag_list(struct buf *b, uint32_t tag)
{
	size_t mark = tlv_open(b, TAG_TAG_LIST);

	tlv_put_tag(b, tag);
	tlv_close(b, mark);
}

static bool object_tag_valid(uint32_t tag)
{
	return tag != 0 && tag <= 0xFFFFFF;
}

int piv_get_data(struct piv_card *c, uint32_t tag, uint8_t *out, size_t cap, size_t *len)
{
	size_t raw_cap = (cap < PIV_OBJECT_MAX ? cap : PIV_OBJECT_MAX) + 8, raw_len = 0, vlen;
	struct cmd k = { .ins = PIV_INS_GET_DATA, .p1 = 0x3F, .p2 = 0xFF, .want_data = true,
			 /* the YubiKey's PIN-protected store holds the management key */
			 .flags = tag == PIV_OBJ_PRINTED ? APDU_F_SECRET_RESPONSE : 0 };
	const uint8_t *val;
	uint8_t *raw = NULL;
	struct buf b;
	int rc;

	*len = 0;
	buf_init(&b);
	if (!object_tag_valid(tag) || (out == NULL && cap > 0)) {
		rc = PIV_E_INVALID;
		goto out;
	}
	put_tag_list(&b, tag);
	raw = malloc(raw_cap);
	if (raw == NULL) {
		rc = PIV_E_NOMEM;
		goto out;
	}
	rc = run_built(c, &k, &b, raw, raw_cap, &raw_len);
	if (rc != PIV_OK)
		goto out;
	rc = unwrap(raw, raw_len, object_wrapper(tag), &val, &vlen);
	if (rc != PIV_OK)
		goto out;
	rc = copy_out(val, vlen, out, cap, len);
out:
	/* Objects such as printed information are PIN-protected. */
	cr_free_secret(raw, raw_cap);
	buf_free(&b);
	return rc;
}

int piv_put_data(struct piv_card *c, uint32_t tag, const uint8_t *content, size_t len)
{
	struct cmd k = { .ins = PIV_INS_PUT_DATA, .p1 = 0x3F, .p2 = 0xFF };
	struct buf b;
	int rc;

	buf_init(&b);
	if (!object_tag_valid(tag) || (content == NULL && len > 0) || len > PIV_OBJECT_MAX) {
		rc = PIV_E_INVALID;
		goto out;
	}
	put_tag_list(&b, tag);
	tlv_put(&b, object_wrapper(tag), content, len);
	rc = run_built(c, &k, &b, NULL, 0, NULL);
out:
	buf_free(&b);
	return rc;
}

/* ---- PIN and PUK ---- */

static bool pin_ref_valid(uint8_t ref)
{
	return ref == PIV_REF_PIN || ref == PIV_REF_PUK;
}

/* PIV reference data is 8 bytes, padded with FF. */
static int pad_pin(uint8_t out[PIV_PIN_MAX], const uint8_t *pin, size_t len)
{
	if (pin == NULL || len == 0 || len > PIV_PIN_MAX)
		return PIV_E_INVALID;
	memset(out, 0xFF, PIV_PIN_MAX);
	memcpy(out, pin, len);
	return PIV_OK;
}

static void set_tries(int *tries, int v)
{
	if (tries != NULL)
		*tries = v;
}

int piv_verify(struct piv_card *c, uint8_t ref, const uint8_t *pin, size_t pin_len, int *tries)
{
	uint8_t padded[PIV_PIN_MAX];
	struct cmd k = { .ins = PIV_INS_VERIFY, .p1 = 0x00, .p2 = ref, .data = padded,
			 .lc = sizeof(padded), .flags = APDU_F_SENSITIVE };
	int rc;

	set_tries(tries, -1);
	rc = pin_ref_valid(ref) ? pad_pin(padded, pin, pin_len) : PIV_E_INVALID;
	if (rc == PIV_OK)
		rc = run(c, &k, NULL, 0, NULL, tries);
	cr_wipe(padded, sizeof(padded));
	return rc;
}

int piv_pin_status(struct piv_card *c, uint8_t ref, bool *verified, int *tries)
{
	struct cmd k = { .ins = PIV_INS_VERIFY, .p1 = 0x00, .p2 = ref };
	uint16_t sw;
	int rc;

	*verified = false;
	*tries = -1;
	if (!pin_ref_valid(ref))
		return PIV_E_INVALID;
	rc = xfer(c, &k, NULL, 0, NULL, &sw);
	if (rc != PIV_OK)
		return rc;
	rc = piv_sw_to_rc(sw, tries);
	if (rc == PIV_OK)
		*verified = true;
	/* Not verified is the expected answer here, not a failure. */
	if (rc == PIV_E_PIN_INCORRECT || rc == PIV_E_PIN_BLOCKED)
		rc = PIV_OK;
	return rc;
}

int piv_logout(struct piv_card *c, uint8_t ref)
{
	struct cmd k = { .ins = PIV_INS_VERIFY, .p1 = 0xFF, .p2 = ref };

	if (!pin_ref_valid(ref))
		return PIV_E_INVALID;
	return run(c, &k, NULL, 0, NULL, NULL);
}

/* Two padded values back to back, as CHANGE REFERENCE and RESET RETRY take them. */
static int two_pins(struct piv_card *c, uint8_t ins, uint8_t ref, const uint8_t *a, size_t a_len,
		    const uint8_t *b, size_t b_len, int *tries)
{
	uint8_t data[2 * PIV_PIN_MAX];
	struct cmd k = { .ins = ins, .p1 = 0x00, .p2 = ref, .data = data, .lc = sizeof(data),
			 .flags = APDU_F_SENSITIVE };
	int rc;

	set_tries(tries, -1);
	rc = pad_pin(data, a, a_len);
	if (rc == PIV_OK)
		rc = pad_pin(data + PIV_PIN_MAX, b, b_len);
	if (rc == PIV_OK)
		rc = run(c, &k, NULL, 0, NULL, tries);
	cr_wipe(data, sizeof(data));
	return rc;
}

int piv_change_reference(struct piv_card *c, uint8_t ref, const uint8_t *old_pin, size_t old_len,
			 const uint8_t *new_pin, size_t new_len, int *tries)
{
	if (!pin_ref_valid(ref)) {
		set_tries(tries, -1);
		return PIV_E_INVALID;
	}
	return two_pins(c, PIV_INS_CHANGE_REFERENCE, ref, old_pin, old_len, new_pin, new_len, tries);
}

int piv_reset_retry(struct piv_card *c, const uint8_t *puk, size_t puk_len,
		    const uint8_t *new_pin, size_t new_len, int *tries)
{
	return two_pins(c, PIV_INS_RESET_RETRY, PIV_REF_PIN, puk, puk_len, new_pin, new_len, tries);
}

/* ---- GENERAL AUTHENTICATE ---- */

static size_t rsa_bytes(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_RSA1024: return 128;
	case PIV_ALG_RSA2048: return 256;
	case PIV_ALG_RSA3072: return 384;
	case PIV_ALG_RSA4096: return 512;
	default: return 0;
	}
}

static size_t point_bytes(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_ECCP256: return 65;
	case PIV_ALG_ECCP384: return 97;
	case PIV_ALG_ED25519:
	case PIV_ALG_X25519: return 32;
	default: return 0;
	}
}

bool piv_alg_is_asym(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_RSA1024:
	case PIV_ALG_RSA2048:
	case PIV_ALG_RSA3072:
	case PIV_ALG_RSA4096:
	case PIV_ALG_ECCP256:
	case PIV_ALG_ECCP384:
	case PIV_ALG_ED25519:
	case PIV_ALG_X25519:
		return true;
	default:
		return false;
	}
}

static bool key_slot_valid(uint8_t slot)
{
	return slot == PIV_SLOT_AUTH || slot == PIV_SLOT_SIGN || slot == PIV_SLOT_KEYMGMT ||
	       slot == PIV_SLOT_CARDAUTH || (slot >= 0x82 && slot <= 0x95) || slot == PIV_SLOT_ATTEST;
}

/* Sends 7C { 82 00, <in_tag> in } and returns the content of 7C / 82. */
static int private_op(struct piv_card *c, uint8_t alg, uint8_t slot, uint32_t in_tag,
		      const uint8_t *in, size_t in_len, unsigned flags,
		      uint8_t *out, size_t cap, size_t *out_len)
{
	/* An RSA block or an EC result, with the 7C / 82 headers around it. */
	size_t expect = rsa_bytes(alg) != 0 ? rsa_bytes(alg) + 16 : 2 * 48 + 16;
	struct cmd k = { .ins = PIV_INS_GENERAL_AUTHENTICATE, .p1 = alg, .p2 = slot, .want_data = true,
			 .expect = expect, .flags = flags };
	uint8_t resp[GA_RESP_MAX];
	const uint8_t *outer, *val;
	size_t resp_len = 0, outer_len, vlen, mark;
	struct buf b;
	int rc;

	*out_len = 0;
	buf_init(&b);
	/* An RSA operation takes one modulus-sized block; anything else at most what the card takes. */
	if (!piv_alg_is_asym(alg) || !key_slot_valid(slot) || in == NULL || in_len == 0 ||
	    in_len > (rsa_bytes(alg) != 0 ? rsa_bytes(alg) : PIV_SIGN_INPUT_MAX)) {
		rc = PIV_E_INVALID;
		goto out;
	}
	mark = tlv_open(&b, TAG_DYN_AUTH);
	tlv_put(&b, TAG_RESPONSE, NULL, 0);
	tlv_put(&b, in_tag, in, in_len);
	tlv_close(&b, mark);
	rc = run_built(c, &k, &b, resp, sizeof(resp), &resp_len);
	if (rc != PIV_OK)
		goto out;
	rc = unwrap(resp, resp_len, TAG_DYN_AUTH, &outer, &outer_len);
	if (rc != PIV_OK)
		goto out;
	rc = tlv_find_strict(outer, outer_len, TAG_RESPONSE, &val, &vlen) == 1 ? PIV_OK : PIV_E_MALFORMED;
	if (rc == PIV_OK && vlen == 0)
		rc = PIV_E_MALFORMED;
	if (rc != PIV_OK)
		goto out;
	rc = copy_out(val, vlen, out, cap, out_len);
out:
	/* Decryption results and shared secrets pass through here. */
	cr_wipe(resp, sizeof(resp));
	buf_free(&b);
	return rc;
}

int piv_sign(struct piv_card *c, uint8_t alg, uint8_t slot, const uint8_t *in, size_t in_len,
	     uint8_t *out, size_t cap, size_t *out_len)
{
	return private_op(c, alg, slot, TAG_CHALLENGE, in, in_len, 0, out, cap, out_len);
}

int piv_decrypt(struct piv_card *c, uint8_t alg, uint8_t slot, const uint8_t *in, size_t in_len,
		uint8_t *out, size_t cap, size_t *out_len)
{
	if (rsa_bytes(alg) == 0) {
		*out_len = 0;
		return PIV_E_INVALID;
	}
	return private_op(c, alg, slot, TAG_CHALLENGE, in, in_len, APDU_F_SECRET_RESPONSE, out, cap, out_len);
}

int piv_ecdh(struct piv_card *c, uint8_t alg, uint8_t slot, const uint8_t *peer, size_t peer_len,
	     uint8_t *out, size_t cap, size_t *out_len)
{
	if (alg != PIV_ALG_ECCP256 && alg != PIV_ALG_ECCP384 && alg != PIV_ALG_X25519) {
		*out_len = 0;
		return PIV_E_INVALID;
	}
	return private_op(c, alg, slot, TAG_EXPONENTIATION, peer, peer_len, APDU_F_SECRET_RESPONSE,
			  out, cap, out_len);
}

/* ---- management key ---- */

bool piv_mgmt_cipher(uint8_t alg, enum cr_block_alg *out)
{
	switch (alg) {
	case PIV_ALG_3DES:
		*out = CR_BLOCK_3DES;
		return true;
	case PIV_ALG_AES128:
		*out = CR_BLOCK_AES128;
		return true;
	case PIV_ALG_AES192:
		*out = CR_BLOCK_AES192;
		return true;
	case PIV_ALG_AES256:
		*out = CR_BLOCK_AES256;
		return true;
	default:
		return false;
	}
}

/* The cipher for a management key; false when alg is not a management-key
 * algorithm or the key length does not fit it. */
static bool mgmt_key_cipher(uint8_t alg, size_t key_len, enum cr_block_alg *out)
{
	return piv_mgmt_cipher(alg, out) && key_len == cr_block_key_size(*out);
}

static int mgmt_block(enum cr_block_alg cipher, const uint8_t *key, bool encrypt,
		      const uint8_t *in, uint8_t *out)
{
	return cr_block_crypt(cipher, key, cr_block_key_size(cipher), encrypt, in, out) == 0
		? PIV_OK : PIV_E_CRYPTO;
}

/* One GENERAL AUTHENTICATE step with the management key: sends body as the
 * content of 7C, returns the value of reply_tag inside the answer's 7C. */
static int mgmt_step(struct piv_card *c, uint8_t alg, const struct buf *body, bool want_reply,
		     uint32_t reply_tag, uint8_t *val_out, size_t block)
{
	struct cmd k = { .ins = PIV_INS_GENERAL_AUTHENTICATE, .p1 = alg, .p2 = PIV_SLOT_MGMT,
			 .want_data = want_reply, .flags = APDU_F_SENSITIVE };
	uint8_t resp[64];
	const uint8_t *outer, *val;
	size_t resp_len = 0, outer_len, vlen;
	struct buf b;
	int rc;

	buf_init(&b);
	tlv_put(&b, TAG_DYN_AUTH, body->d, body->len);
	if (!buf_ok(body)) {
		rc = PIV_E_NOMEM;
		goto out;
	}
	rc = run_built(c, &k, &b, want_reply ? resp : NULL, want_reply ? sizeof(resp) : 0, &resp_len);
	if (rc != PIV_OK || !want_reply)
		goto out;
	rc = unwrap(resp, resp_len, TAG_DYN_AUTH, &outer, &outer_len);
	if (rc != PIV_OK)
		goto out;
	if (tlv_find_strict(outer, outer_len, reply_tag, &val, &vlen) != 1 || vlen != block) {
		rc = PIV_E_MALFORMED;
		goto out;
	}
	memcpy(val_out, val, block);
out:
	cr_wipe(resp, sizeof(resp));
	buf_free(&b);
	return rc;
}

/* Host proves the key: card challenge C, host answers E_K(C). */
static int mgmt_one_way(struct piv_card *c, uint8_t alg, enum cr_block_alg cipher,
			const uint8_t *key)
{
	size_t block = cr_block_size(cipher);
	uint8_t challenge[CR_BLOCK_MAX_SIZE], answer[CR_BLOCK_MAX_SIZE];
	struct buf body;
	int rc;

	buf_init(&body);
	tlv_put(&body, TAG_CHALLENGE, NULL, 0);
	rc = mgmt_step(c, alg, &body, true, TAG_CHALLENGE, challenge, block);
	if (rc == PIV_OK)
		rc = mgmt_block(cipher, key, true, challenge, answer);
	if (rc == PIV_OK) {
		buf_reset(&body);
		tlv_put(&body, TAG_RESPONSE, answer, block);
		rc = mgmt_step(c, alg, &body, false, 0, NULL, block);
	}
	cr_wipe(challenge, sizeof(challenge));
	cr_wipe(answer, sizeof(answer));
	buf_free(&body);
	return rc;
}

/* Both sides prove the key: the host decrypts the card's witness, and the
 * card encrypts the host's challenge, which the host checks. */
static int mgmt_mutual(struct piv_card *c, uint8_t alg, enum cr_block_alg cipher,
		       const uint8_t *key)
{
	size_t block = cr_block_size(cipher);
	uint8_t witness[CR_BLOCK_MAX_SIZE], plain[CR_BLOCK_MAX_SIZE], challenge[CR_BLOCK_MAX_SIZE];
	uint8_t expected[CR_BLOCK_MAX_SIZE], reply[CR_BLOCK_MAX_SIZE];
	struct buf body;
	int rc;

	buf_init(&body);
	tlv_put(&body, TAG_WITNESS, NULL, 0);
	rc = mgmt_step(c, alg, &body, true, TAG_WITNESS, witness, block);
	if (rc == PIV_OK)
		rc = mgmt_block(cipher, key, false, witness, plain);
	if (rc == PIV_OK)
		rc = c->random(c->random_ctx, challenge, block);
	if (rc == PIV_OK)
		rc = mgmt_block(cipher, key, true, challenge, expected);
	if (rc == PIV_OK) {
		buf_reset(&body);
		tlv_put(&body, TAG_WITNESS, plain, block);
		tlv_put(&body, TAG_CHALLENGE, challenge, block);
		tlv_put(&body, TAG_RESPONSE, NULL, 0);
		rc = mgmt_step(c, alg, &body, true, TAG_RESPONSE, reply, block);
	}
	if (rc == PIV_OK && !cr_secret_equal(reply, expected, block))
		rc = PIV_E_AUTH_FAILED;
	cr_wipe(witness, sizeof(witness));
	cr_wipe(plain, sizeof(plain));
	cr_wipe(challenge, sizeof(challenge));
	cr_wipe(expected, sizeof(expected));
	cr_wipe(reply, sizeof(reply));
	buf_free(&body);
	return rc;
}

int piv_mgmt_auth(struct piv_card *c, uint8_t alg, const uint8_t *key, size_t key_len, bool mutual)
{
	enum cr_block_alg cipher;
	int rc, end_rc;

	if (!mgmt_key_cipher(alg, key_len, &cipher) || key == NULL)
		return PIV_E_INVALID;
	/* The card forgets its challenge if anyone else talks to it in between. */
	rc = piv_begin(c);
	if (rc != PIV_OK)
		return rc;
	rc = mutual ? mgmt_mutual(c, alg, cipher, key) : mgmt_one_way(c, alg, cipher, key);
	end_rc = piv_end(c);
	return rc != PIV_OK ? rc : end_rc;
}

/* ---- keys ---- */

/* Records one value, refusing a repeated tag. */
static int take_once(const uint8_t **dst, size_t *dst_len, const uint8_t *val, size_t len)
{
	if (*dst != NULL)
		return PIV_E_MALFORMED;
	*dst = val;
	*dst_len = len;
	return PIV_OK;
}

int piv_parse_pubkey(uint8_t alg, const uint8_t *p, size_t n, struct piv_pubkey *pk)
{
	size_t mod = rsa_bytes(alg), pt = point_bytes(alg), len;
	struct tlv_rd r;
	const uint8_t *val;
	uint32_t tag;
	int rc = PIV_OK, more = 0;

	memset(pk, 0, sizeof(*pk));
	if (mod == 0 && pt == 0)
		return PIV_E_INVALID;
	tlv_rd_init(&r, p, n);
	while (rc == PIV_OK && (more = tlv_next(&r, &tag, &val, &len)) == 1) {
		if (tag == 0x81 && mod != 0)
			rc = take_once(&pk->modulus, &pk->modulus_len, val, len);
		else if (tag == 0x82 && mod != 0)
			rc = take_once(&pk->exponent, &pk->exponent_len, val, len);
		else if (tag == 0x86 && pt != 0)
			rc = take_once(&pk->point, &pk->point_len, val, len);
	}
	if (rc != PIV_OK || more < 0)
		return PIV_E_MALFORMED;
	if (mod != 0)
		return pk->modulus_len == mod && pk->exponent_len >= 1 && pk->exponent_len <= 8
		       ? PIV_OK : PIV_E_MALFORMED;
	if (pk->point_len != pt || (pt != 32 && pk->point[0] != 0x04))
		return PIV_E_MALFORMED;
	return PIV_OK;
}

static void put_policies(struct buf *b, uint8_t pin_policy, uint8_t touch_policy)
{
	if (pin_policy != PIV_PIN_POLICY_DEFAULT)
		tlv_put(b, 0xAA, &pin_policy, 1);
	if (touch_policy != PIV_TOUCH_POLICY_DEFAULT)
		tlv_put(b, 0xAB, &touch_policy, 1);
}

static bool policies_valid(uint8_t pin_policy, uint8_t touch_policy)
{
	return pin_policy <= PIV_PIN_POLICY_ALWAYS && touch_policy <= PIV_TOUCH_POLICY_CACHED;
}

int piv_generate(struct piv_card *c, uint8_t slot, uint8_t alg, uint8_t pin_policy,
		 uint8_t touch_policy, uint8_t *resp, size_t cap, struct piv_pubkey *pk)
{
	struct cmd k = { .ins = PIV_INS_GENERATE, .p1 = 0x00, .p2 = slot, .want_data = true };
	const uint8_t *val;
	size_t resp_len = 0, vlen, mark;
	struct buf b;
	int rc;

	memset(pk, 0, sizeof(*pk));
	buf_init(&b);
	if (!piv_alg_is_asym(alg) || !key_slot_valid(slot) || slot == PIV_SLOT_ATTEST ||
	    !policies_valid(pin_policy, touch_policy) || resp == NULL) {
		rc = PIV_E_INVALID;
		goto out;
	}
	mark = tlv_open(&b, TAG_GEN_TEMPLATE);
	tlv_put(&b, 0x80, &alg, 1);
	put_policies(&b, pin_policy, touch_policy);
	tlv_close(&b, mark);
	rc = run_built(c, &k, &b, resp, cap, &resp_len);
	if (rc != PIV_OK)
		goto out;
	rc = unwrap(resp, resp_len, TAG_PUBKEY, &val, &vlen);
	if (rc == PIV_OK)
		rc = piv_parse_pubkey(alg, val, vlen, pk);
out:
	buf_free(&b);
	return rc;
}

/* ---- certificates and key history ---- */

uint32_t piv_cert_object(uint8_t slot)
{
	switch (slot) {
	case PIV_SLOT_AUTH: return PIV_OBJ_CERT_9A;
	case PIV_SLOT_SIGN: return PIV_OBJ_CERT_9C;
	case PIV_SLOT_KEYMGMT: return PIV_OBJ_CERT_9D;
	case PIV_SLOT_CARDAUTH: return PIV_OBJ_CERT_9E;
	default:
		return slot >= 0x82 && slot <= 0x95 ? 0x5FC10Du + (uint32_t)(slot - 0x82) : 0;
	}
}

int piv_parse_cert_object(const uint8_t *p, size_t n, const uint8_t **cert, size_t *cert_len, bool *compressed)
{
	const uint8_t *info;
	size_t info_len;
	int rc;

	*cert = NULL;
	*cert_len = 0;
	*compressed = false;
	rc = tlv_find_strict(p, n, 0x70, cert, cert_len);
	if (rc != 1 || *cert_len == 0) {
		*cert = NULL;
		*cert_len = 0;
		return PIV_E_MALFORMED;
	}
	rc = tlv_find_strict(p, n, 0x71, &info, &info_len);
	if (rc < 0 || (rc == 1 && info_len > 1))
		return PIV_E_MALFORMED;
	/* SP 800-73-4: CertInfo 01 is a gzip'd certificate; an absent or 00 one is plain. */
	*compressed = rc == 1 && info_len == 1 && (info[0] & 0x01) != 0;
	return PIV_OK;
}

int piv_parse_key_history(const uint8_t *p, size_t n, int *on_card, int *off_card)
{
	const uint8_t *val;
	size_t len;
	int rc;

	*on_card = 0;
	*off_card = 0;
	rc = tlv_find_strict(p, n, 0xC1, &val, &len);
	if (rc < 0 || (rc == 1 && len != 1))
		return PIV_E_MALFORMED;
	if (rc == 1)
		*on_card = val[0];
	rc = tlv_find_strict(p, n, 0xC2, &val, &len);
	if (rc < 0 || (rc == 1 && len != 1))
		return PIV_E_MALFORMED;
	if (rc == 1)
		*off_card = val[0];
	/* Twenty retired slots in all. */
	return *on_card + *off_card <= 20 ? PIV_OK : PIV_E_MALFORMED;
}

/* ---- YubiKey extensions ---- */

/* A command without data whose answer must be exactly n bytes. */
static int fixed_answer(struct piv_card *c, uint8_t ins, uint8_t p1, uint8_t p2, uint8_t *out, size_t n)
{
	struct cmd k = { .ins = ins, .p1 = p1, .p2 = p2, .want_data = true };
	uint8_t resp[16];
	size_t len = 0;
	int rc = run(c, &k, resp, sizeof(resp), &len, NULL);

	if (rc == PIV_OK && len != n)
		rc = PIV_E_MALFORMED;
	if (rc == PIV_OK)
		memcpy(out, resp, n);
	return rc;
}

int piv_get_version(struct piv_card *c, uint8_t version[3])
{
	return fixed_answer(c, PIV_INS_GET_VERSION, 0, 0, version, 3);
}

int piv_get_serial(struct piv_card *c, uint32_t *serial)
{
	uint8_t be[4];
	int rc = fixed_answer(c, PIV_INS_GET_SERIAL, 0, 0, be, sizeof(be));

	if (rc == PIV_OK)
		*serial = (uint32_t)be[0] << 24 | (uint32_t)be[1] << 16 | (uint32_t)be[2] << 8 | be[3];
	return rc;
}

static int one_byte(const uint8_t *val, size_t len, int *dst)
{
	if (len != 1 || *dst != -1)
		return PIV_E_MALFORMED;
	*dst = val[0];
	return PIV_OK;
}

static int two_bytes(const uint8_t *val, size_t len, int *a, int *b)
{
	if (len != 2 || *a != -1)
		return PIV_E_MALFORMED;
	*a = val[0];
	*b = val[1];
	return PIV_OK;
}

int piv_parse_metadata(const uint8_t *p, size_t n, struct piv_metadata *md)
{
	struct tlv_rd r;
	const uint8_t *val;
	uint32_t tag;
	size_t len;
	int rc = PIV_OK, more = 0;

	*md = (struct piv_metadata){ .alg = -1, .pin_policy = -1, .touch_policy = -1, .origin = -1,
				     .is_default = -1, .retries_total = -1, .retries_left = -1 };
	tlv_rd_init(&r, p, n);
	while (rc == PIV_OK && (more = tlv_next(&r, &tag, &val, &len)) == 1) {
		switch (tag) {
		case 0x01: rc = one_byte(val, len, &md->alg); break;
		case 0x02: rc = two_bytes(val, len, &md->pin_policy, &md->touch_policy); break;
		case 0x03: rc = one_byte(val, len, &md->origin); break;
		case 0x04: rc = take_once(&md->pubkey, &md->pubkey_len, val, len); break;
		case 0x05: rc = one_byte(val, len, &md->is_default); break;
		case 0x06: rc = two_bytes(val, len, &md->retries_total, &md->retries_left); break;
		default: break; /* newer firmware adds tags */
		}
	}
	if (rc != PIV_OK || more < 0 || md->alg == -1)
		return PIV_E_MALFORMED;
	return PIV_OK;
}

int piv_get_metadata(struct piv_card *c, uint8_t slot, uint8_t *buf, size_t cap, struct piv_metadata *md)
{
	struct cmd k = { .ins = PIV_INS_GET_METADATA, .p1 = 0x00, .p2 = slot, .want_data = true };
	size_t len = 0;
	int rc;

	if (buf == NULL)
		return PIV_E_INVALID;
	rc = run(c, &k, buf, cap, &len, NULL);
	if (rc != PIV_OK)
		return rc;
	return piv_parse_metadata(buf, len, md);
}

int piv_set_pin_retries(struct piv_card *c, uint8_t pin_tries, uint8_t puk_tries)
{
	struct cmd k = { .ins = PIV_INS_SET_PIN_RETRIES, .p1 = pin_tries, .p2 = puk_tries };

	if (pin_tries == 0 || puk_tries == 0)
		return PIV_E_INVALID;
	return run(c, &k, NULL, 0, NULL, NULL);
}

/* Element tags and sizes of IMPORT KEY for each algorithm. */
static int import_layout(uint8_t alg, size_t nparts, uint8_t *first_tag, size_t *elem)
{
	size_t mod = rsa_bytes(alg);

	if (mod != 0) {
		*first_tag = 0x01;
		*elem = mod / 2;
		return nparts == 5 ? PIV_OK : PIV_E_INVALID;
	}
	switch (alg) {
	case PIV_ALG_ECCP256: *first_tag = 0x06; *elem = 32; break;
	case PIV_ALG_ECCP384: *first_tag = 0x06; *elem = 48; break;
	case PIV_ALG_ED25519: *first_tag = 0x07; *elem = 32; break;
	case PIV_ALG_X25519: *first_tag = 0x08; *elem = 32; break;
	default: return PIV_E_INVALID;
	}
	return nparts == 1 ? PIV_OK : PIV_E_INVALID;
}

/* Leading zeros dropped, then left-padded to exactly elem bytes. */
static int put_padded_part(struct buf *b, uint8_t tag, const struct piv_bytes *part, size_t elem)
{
	const uint8_t *d = part->d;
	size_t len = part->len, i;

	if (d == NULL && len > 0)
		return PIV_E_INVALID;
	while (len > 0 && d[0] == 0) {
		d++;
		len--;
	}
	if (len > elem)
		return PIV_E_INVALID;
	tlv_put_tag(b, tag);
	tlv_put_len(b, elem);
	for (i = len; i < elem; i++)
		buf_put_u8(b, 0);
	buf_put(b, d, len);
	return PIV_OK;
}

int piv_import_key(struct piv_card *c, uint8_t slot, uint8_t alg, const struct piv_bytes *parts,
		   size_t nparts, uint8_t pin_policy, uint8_t touch_policy)
{
	struct cmd k = { .ins = PIV_INS_IMPORT_KEY, .p1 = alg, .p2 = slot, .flags = APDU_F_SENSITIVE };
	uint8_t first_tag = 0;
	size_t elem = 0, i;
	struct buf b;
	int rc;

	buf_init(&b);
	rc = import_layout(alg, nparts, &first_tag, &elem);
	if (rc == PIV_OK && (parts == NULL || !key_slot_valid(slot) || slot == PIV_SLOT_ATTEST ||
			     !policies_valid(pin_policy, touch_policy)))
		rc = PIV_E_INVALID;
	for (i = 0; rc == PIV_OK && i < nparts; i++)
		rc = put_padded_part(&b, (uint8_t)(first_tag + i), &parts[i], elem);
	if (rc != PIV_OK)
		goto out;
	put_policies(&b, pin_policy, touch_policy);
	rc = run_built(c, &k, &b, NULL, 0, NULL);
out:
	buf_free(&b);
	return rc;
}

int piv_reset(struct piv_card *c)
{
	struct cmd k = { .ins = PIV_INS_RESET, .p1 = 0x00, .p2 = 0x00 };

	return run(c, &k, NULL, 0, NULL, NULL);
}

int piv_delete_key(struct piv_card *c, uint8_t slot)
{
	struct cmd k = { .ins = PIV_INS_MOVE_KEY, .p1 = 0xFF, .p2 = slot };

	if (!key_slot_valid(slot) || slot == PIV_SLOT_ATTEST)
		return PIV_E_INVALID;
	return run(c, &k, NULL, 0, NULL, NULL);
}

int piv_set_mgmt_key(struct piv_card *c, uint8_t alg, const uint8_t *key, size_t key_len, bool touch)
{
	struct cmd k = { .ins = PIV_INS_SET_MGMT_KEY, .p1 = 0xFF, .p2 = touch ? 0xFE : 0xFF,
			 .flags = APDU_F_SENSITIVE };
	enum cr_block_alg cipher;
	struct buf b;
	int rc;

	if (!mgmt_key_cipher(alg, key_len, &cipher) || key == NULL)
		return PIV_E_INVALID;
	buf_init(&b);
	buf_put_u8(&b, alg);
	tlv_put(&b, PIV_SLOT_MGMT, key, key_len);
	rc = run_built(c, &k, &b, NULL, 0, NULL);
	buf_free(&b);
	return rc;
}

int piv_attest(struct piv_card *c, uint8_t slot, uint8_t *out, size_t cap, size_t *len)
{
	struct cmd k = { .ins = PIV_INS_ATTEST, .p1 = slot, .p2 = 0x00, .want_data = true };
	const uint8_t *val;
	size_t vlen;
	int rc;

	*len = 0;
	if (!key_slot_valid(slot) || slot == PIV_SLOT_ATTEST || out == NULL)
		return PIV_E_INVALID;
	rc = run(c, &k, out, cap, len, NULL);
	/* A certificate is one DER SEQUENCE and nothing else. */
	if (rc == PIV_OK && unwrap(out, *len, 0x30, &val, &vlen) != PIV_OK) {
		*len = 0;
		rc = PIV_E_MALFORMED;
	}
	return rc;
}
