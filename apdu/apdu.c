#include "apdu/apdu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/wipe.h"

#define INS_GET_RESPONSE 0xC0
#define CLA_CHAINING 0x10
#define SW_OK 0x9000
/* Bytes of an APDU shown in one log line before it is cut short. */
#define LOG_MAX_BYTES 256

void apdu_chan_init(struct apdu_chan *c, const struct apdu_transport *tp, void *tp_ctx)
{
	c->tp = tp;
	c->tp_ctx = tp_ctx;
	c->log = NULL;
	c->log_ctx = NULL;
	c->count = 0;
}

void apdu_set_logger(struct apdu_chan *c, void (*fn)(void *ctx, const char *line), void *ctx)
{
	c->log = fn;
	c->log_ctx = ctx;
}

unsigned long apdu_count(const struct apdu_chan *c)
{
	return c->count;
}

void apdu_count_reset(struct apdu_chan *c)
{
	c->count = 0;
}

const char *apdu_rc_name(int rc)
{
	switch (rc) {
	case APDU_OK: return "ok";
	case APDU_E_INVALID: return "invalid command";
	case APDU_E_TRANSPORT: return "transport failure";
	case APDU_E_RESPONSE: return "malformed response";
	case APDU_E_OVERFLOW: return "response too large";
	case APDU_E_NOMEM: return "out of memory";
	case APDU_E_CARD_RESET: return "card was reset";
	case APDU_E_CARD_REMOVED: return "card removed";
	case APDU_E_NO_SERVICE: return "smart-card service unavailable";
	case APDU_E_NO_READER: return "reader unavailable";
	case APDU_E_TIMEOUT: return "timeout";
	default: return "unknown error";
	}
}

/* ISO 7816-4 reserves CLA FF and the INS values 6X and 9X (they would be
 * mistaken for status bytes under T=0). */
static bool header_valid(const struct apdu *a)
{
	uint8_t hi = a->ins & 0xF0;

	return a->cla != 0xFF && hi != 0x60 && hi != 0x90;
}

static bool le_valid(const struct apdu *a)
{
	size_t max = a->extended ? APDU_EXT_MAX_LE : APDU_SHORT_MAX_LE;

	return a->le >= 1 && a->le <= max;
}

static bool lc_valid(const struct apdu *a)
{
	return a->lc >= 1 && a->lc <= APDU_EXT_MAX_LC && a->data != NULL;
}

static bool needs_chaining(const struct apdu *a)
{
	return !a->extended && a->lc > APDU_SHORT_MAX_LC;
}

int apdu_check(const struct apdu *a)
{
	bool ok;

	if (a == NULL || !header_valid(a))
		return APDU_E_INVALID;
	switch (a->kase) {
	case APDU_CASE_1:
		ok = !a->extended && a->lc == 0 && a->le == 0;
		break;
	case APDU_CASE_2:
		ok = a->lc == 0 && le_valid(a);
		break;
	case APDU_CASE_3:
		ok = lc_valid(a) && a->le == 0;
		break;
	case APDU_CASE_4:
		ok = lc_valid(a) && le_valid(a);
		break;
	default:
		ok = false;
		break;
	}
	/* The chaining bit is ours to set; a caller's would be ambiguous. */
	if (ok && needs_chaining(a) && (a->cla & CLA_CHAINING))
		ok = false;
	return ok ? APDU_OK : APDU_E_INVALID;
}

/* Le 256 is coded 00 in the short form, 65536 is 00 00 in the extended one. */
static void put_le(struct buf *out, const struct apdu *a)
{
	if (a->extended)
		buf_put_u16be(out, (uint16_t)(a->le == APDU_EXT_MAX_LE ? 0 : a->le));
	else
		buf_put_u8(out, (uint8_t)(a->le == APDU_SHORT_MAX_LE ? 0 : a->le));
}

static void put_lc_data(struct buf *out, const struct apdu *a)
{
	if (a->extended)
		buf_put_u16be(out, (uint16_t)a->lc);
	else
		buf_put_u8(out, (uint8_t)a->lc);
	buf_put(out, a->data, a->lc);
}

int apdu_encode(const struct apdu *a, struct buf *out)
{
	int rc = apdu_check(a);

	if (rc != APDU_OK)
		return rc;
	if (needs_chaining(a))
		return APDU_E_INVALID;
	buf_put_u8(out, a->cla);
	buf_put_u8(out, a->ins);
	buf_put_u8(out, a->p1);
	buf_put_u8(out, a->p2);
	/* The extended form starts with one 00 byte, shared by Lc and Le. */
	if (a->extended)
		buf_put_u8(out, 0);
	if (a->kase == APDU_CASE_3 || a->kase == APDU_CASE_4)
		put_lc_data(out, a);
	if (a->kase == APDU_CASE_2 || a->kase == APDU_CASE_4)
		put_le(out, a);
	return buf_ok(out) ? APDU_OK : APDU_E_NOMEM;
}

/* Appends "XX XX ..." for at most LOG_MAX_BYTES bytes. */
static void hex_append(char *line, size_t size, const uint8_t *p, size_t n)
{
	size_t used = strlen(line), i, shown = n > LOG_MAX_BYTES ? LOG_MAX_BYTES : n;

	for (i = 0; i < shown && used + 4 < size; i++)
		used += (size_t)snprintf(line + used, size - used, " %02X", p[i]);
	if (shown < n && used < size)
		snprintf(line + used, size - used, " ...(%zu bytes)", n);
}

static void log_command(struct apdu_chan *c, const struct apdu *a, const uint8_t *cmd, size_t n)
{
	char line[64 + 3 * LOG_MAX_BYTES];
	size_t shown = n;

	if (c->log == NULL)
		return;
	/* Header and Lc only: the data, and the Le after it, stay out of the log. */
	if ((a->flags & APDU_F_SENSITIVE) && a->lc > 0)
		shown = a->extended ? 7 : 5;
	strcpy(line, "apdu >");
	hex_append(line, sizeof(line), cmd, shown);
	if (shown < n) {
		size_t used = strlen(line);

		snprintf(line + used, sizeof(line) - used, " [%zu data bytes hidden]", a->lc);
	}
	c->log(c->log_ctx, line);
}

static void log_response(struct apdu_chan *c, const struct apdu *a, const uint8_t *resp, size_t n)
{
	char line[64 + 3 * LOG_MAX_BYTES];
	size_t data = n - 2, used;

	if (c->log == NULL)
		return;
	strcpy(line, "apdu <");
	if ((a->flags & (APDU_F_SENSITIVE | APDU_F_SECRET_RESPONSE)) && data > 0) {
		used = strlen(line);
		snprintf(line + used, sizeof(line) - used, " [%zu data bytes hidden]", data);
	} else {
		hex_append(line, sizeof(line), resp, data);
	}
	hex_append(line, sizeof(line), resp + data, 2);
	c->log(c->log_ctx, line);
}

/* Buffers of one exchange; both may hold secrets and are wiped. */
struct wire {
	struct buf cmd;
	uint8_t *resp;
	size_t resp_len;
	size_t resp_dirty; /* high-water mark of bytes the transport wrote */
};

static int wire_open(struct wire *w)
{
	buf_init(&w->cmd);
	w->resp_len = 0;
	w->resp_dirty = 0;
	w->resp = malloc(APDU_MAX_RESP);
	return w->resp == NULL ? APDU_E_NOMEM : APDU_OK;
}

static void wire_close(struct wire *w)
{
	buf_free(&w->cmd);
	if (w->resp != NULL)
		cr_wipe(w->resp, w->resp_dirty);
	free(w->resp);
	w->resp = NULL;
}

static uint16_t wire_sw(const struct wire *w)
{
	return (uint16_t)(w->resp[w->resp_len - 2] << 8 | w->resp[w->resp_len - 1]);
}

/* Sends one APDU that fits on the wire and receives its answer into w. */
static int exchange(struct apdu_chan *c, const struct apdu *a, struct wire *w)
{
	size_t rlen = APDU_MAX_RESP;
	int rc;

	buf_reset(&w->cmd);
	rc = apdu_encode(a, &w->cmd);
	if (rc != APDU_OK)
		return rc;
	log_command(c, a, w->cmd.d, w->cmd.len);
	c->count++;
	rc = c->tp->transmit(c->tp_ctx, w->cmd.d, w->cmd.len, w->resp, &rlen);
	buf_reset(&w->cmd);
	if (rc != APDU_OK)
		return rc;
	if (rlen > APDU_MAX_RESP)
		return APDU_E_TRANSPORT;
	if (rlen > w->resp_dirty)
		w->resp_dirty = rlen;
	if (rlen < 2)
		return APDU_E_RESPONSE;
	w->resp_len = rlen;
	log_response(c, a, w->resp, rlen);
	return APDU_OK;
}

/* Sends all but the last fragment of a chained command; each must be
 * acknowledged with 90 00. *last becomes the final fragment. A refused
 * fragment ends the exchange with its answer left in w (*done = true). */
static int send_leading_fragments(struct apdu_chan *c, const struct apdu *a,
				  struct apdu *last, struct wire *w, bool *done)
{
	size_t off = 0;
	int rc;

	*last = *a;
	*done = false;
	while (needs_chaining(last)) {
		struct apdu frag = *a;

		frag.cla = (uint8_t)(a->cla | CLA_CHAINING);
		frag.kase = APDU_CASE_3;
		frag.data = a->data + off;
		frag.lc = APDU_SHORT_MAX_LC;
		frag.le = 0;
		rc = exchange(c, &frag, w);
		if (rc != APDU_OK)
			return rc;
		if (wire_sw(w) != SW_OK) {
			*done = true;
			return APDU_OK;
		}
		off += APDU_SHORT_MAX_LC;
		last->data = a->data + off;
		last->lc = a->lc - off;
	}
	return APDU_OK;
}

static int append_data(const struct wire *w, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = w->resp_len - 2;

	if (n > cap - *out_len)
		return APDU_E_OVERFLOW;
	if (n > 0)
		memcpy(out + *out_len, w->resp, n);
	*out_len += n;
	return APDU_OK;
}

static size_t le_from_sw2(uint8_t sw2)
{
	return sw2 == 0 ? APDU_SHORT_MAX_LE : sw2;
}

/* Follows 61xx with GET RESPONSE and answers one 6Cxx by resending with
 * the Le the card asked for; collects every data part into out. */
static int collect_response(struct apdu_chan *c, struct apdu *last, struct wire *w,
			    uint8_t *out, size_t cap, size_t *out_len)
{
	bool retried = false, fetching = false;
	int rc;

	for (;;) {
		uint16_t sw = wire_sw(w);
		uint8_t sw1 = (uint8_t)(sw >> 8), sw2 = (uint8_t)sw;

		if (sw1 == 0x6C && !retried &&
		    (last->kase == APDU_CASE_2 || last->kase == APDU_CASE_4)) {
			retried = true;
			last->le = le_from_sw2(sw2);
			rc = exchange(c, last, w);
			if (rc != APDU_OK)
				return rc;
			continue;
		}
		rc = append_data(w, out, cap, out_len);
		if (rc != APDU_OK)
			return rc;
		if (sw1 != 0x61)
			return APDU_OK;
		/* A card that asks for GET RESPONSE but then gives nothing would
		 * keep us looping. */
		if (fetching && w->resp_len == 2)
			return APDU_E_RESPONSE;
		fetching = true;
		*last = (struct apdu){
			.cla = 0x00, .ins = INS_GET_RESPONSE, .p1 = 0, .p2 = 0,
			.kase = APDU_CASE_2, .le = le_from_sw2(sw2), .flags = last->flags,
		};
		rc = exchange(c, last, w);
		if (rc != APDU_OK)
			return rc;
	}
}

int apdu_begin(struct apdu_chan *c)
{
	return c->tp->begin != NULL ? c->tp->begin(c->tp_ctx) : APDU_OK;
}

int apdu_end(struct apdu_chan *c)
{
	return c->tp->end != NULL ? c->tp->end(c->tp_ctx) : APDU_OK;
}

unsigned long apdu_session(const struct apdu_chan *c)
{
	return c->tp->session != NULL ? c->tp->session(c->tp_ctx) : 0;
}

static int transmit_locked(struct apdu_chan *c, const struct apdu *a,
			   uint8_t *out, size_t cap, size_t *out_len, uint16_t *sw)
{
	struct apdu last;
	struct wire w;
	bool refused;
	int rc;

	rc = wire_open(&w);
	if (rc != APDU_OK)
		goto out;
	rc = send_leading_fragments(c, a, &last, &w, &refused);
	if (rc != APDU_OK)
		goto out;
	if (!refused) {
		rc = exchange(c, &last, &w);
		if (rc != APDU_OK)
			goto out;
		rc = collect_response(c, &last, &w, out, cap, out_len);
		if (rc != APDU_OK)
			goto out;
	}
	*sw = wire_sw(&w);
out:
	wire_close(&w);
	return rc;
}

int apdu_transmit(struct apdu_chan *c, const struct apdu *a,
		  uint8_t *out, size_t cap, size_t *out_len, uint16_t *sw)
{
	int rc, end_rc;

	*out_len = 0;
	*sw = 0;
	if (out == NULL && cap != 0)
		return APDU_E_INVALID;
	rc = apdu_check(a);
	if (rc != APDU_OK)
		return rc;
	rc = apdu_begin(c);
	if (rc != APDU_OK)
		return rc;
	rc = transmit_locked(c, a, out, cap, out_len, sw);
	end_rc = apdu_end(c);
	if (rc == APDU_OK)
		rc = end_rc;
	if (rc != APDU_OK && out != NULL) {
		cr_wipe(out, *out_len);
		*out_len = 0;
	}
	return rc;
}
