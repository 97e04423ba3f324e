/* The transport layer of the card: APDU cases (short and extended), command
 * chaining (CLA 10), response chunking with 61 xx / GET RESPONSE, and the
 * fault modes used by robustness tests. */
#include <stdlib.h>
#include <string.h>

#include "apdu/piv.h"
#include "crypto/wipe.h"
#include "tests/cardsim/cardsim.h"

#define INS_GET_RESPONSE 0xC0
#define SHORT_CHUNK 256

static void drop_chain(struct cs_card *c)
{
	if (c->chain != NULL)
		cr_free_secret(c->chain, CS_MAX_CHAIN);
	c->chain = NULL;
	c->chain_len = 0;
	c->chaining = false;
}

static void drop_pending(struct cs_card *c)
{
	if (c->pending != NULL)
		cr_free_secret(c->pending, c->pending_len);
	c->pending = NULL;
	c->pending_len = 0;
	c->pending_off = 0;
}

void cs_card_forget_security(struct cs_card *c)
{
	c->pin_verified = false;
	c->pin_fresh = false;
	c->mgmt_authed = false;
	c->chal = CHAL_NONE;
	cr_wipe(c->chal_value, sizeof(c->chal_value));
}

void cs_card_power_event(struct cs_card *c)
{
	drop_chain(c);
	drop_pending(c);
	cs_card_forget_security(c);
	c->piv_selected = c->preselected;
}

/* Splits a raw APDU into header, data and Le. Returns 0 or a status word. */
static uint16_t parse_apdu(const uint8_t *a, size_t n, struct cs_cmd *cmd)
{
	size_t lc;

	memset(cmd, 0, sizeof(*cmd));
	if (n < 4)
		return SW_WRONG_LENGTH;
	cmd->cla = a[0];
	cmd->ins = a[1];
	cmd->p1 = a[2];
	cmd->p2 = a[3];
	if (n == 4)
		return 0;
	if (n == 5) {
		cmd->ne = a[4] ? a[4] : 256;
		return 0;
	}
	if (a[4] != 0) {
		lc = a[4];
		if (n != 5 + lc && n != 6 + lc)
			return SW_WRONG_LENGTH;
		cmd->data = a + 5;
		cmd->lc = lc;
		if (n == 6 + lc)
			cmd->ne = a[5 + lc] ? a[5 + lc] : 256;
		return 0;
	}
	/* a[4] == 00 and more bytes follow: extended length. */
	cmd->extended = true;
	if (n < 7)
		return SW_WRONG_LENGTH;
	lc = ((size_t)a[5] << 8) | a[6];
	if (n == 7) {
		cmd->ne = lc ? lc : 65536;
		return 0;
	}
	if (lc == 0 || (n != 7 + lc && n != 9 + lc))
		return SW_WRONG_LENGTH;
	cmd->data = a + 7;
	cmd->lc = lc;
	if (n == 9 + lc) {
		size_t le = ((size_t)a[7 + lc] << 8) | a[8 + lc];
		cmd->ne = le ? le : 65536;
	}
	return 0;
}

bool cs_apdu_is_sensitive(const uint8_t *apdu, size_t n)
{
	if (n < 4)
		return false;
	switch (apdu[1]) {
	case 0x20: /* VERIFY */
	case 0x24: /* CHANGE REFERENCE DATA */
	case 0x2C: /* RESET RETRY COUNTER */
	case 0xFE: /* IMPORT KEY */
	case 0xFF: /* SET MGMT KEY */
		return true;
	case 0x87: /* GENERAL AUTHENTICATE with the management key */
		return apdu[3] == PIV_SLOT_MGMT;
	default:
		return false;
	}
}

static void put_sw(struct buf *out, uint16_t sw)
{
	buf_put_u8(out, (uint8_t)(sw >> 8));
	buf_put_u8(out, (uint8_t)sw);
}

/* Sends the next piece of the pending response, at most max bytes. */
static void send_pending(struct cs_card *c, size_t max, uint16_t final_sw, struct buf *out)
{
	size_t left = c->pending_len - c->pending_off;
	size_t n = left < max ? left : max;

	buf_put(out, c->pending + c->pending_off, n);
	c->pending_off += n;
	left -= n;
	if (left == 0) {
		drop_pending(c);
		put_sw(out, final_sw);
		return;
	}
	put_sw(out, (uint16_t)(0x6100 | (left > 0xFF ? 0 : left)));
}

/* Returns the response data, chunked when the host cannot take it at once. */
static void respond(struct cs_card *c, const struct cs_cmd *cmd, const struct buf *rdata,
		    uint16_t sw, struct buf *out)
{
	size_t max = SHORT_CHUNK;

	if (cmd->extended)
		max = cmd->ne && cmd->ne < CS_MAX_FRAME_DATA ? cmd->ne : CS_MAX_FRAME_DATA;
	if (rdata->len <= max) {
		buf_put(out, rdata->d, rdata->len);
		put_sw(out, sw);
		return;
	}
	c->pending = malloc(rdata->len);
	if (c->pending == NULL) {
		put_sw(out, SW_NO_MEMORY);
		return;
	}
	memcpy(c->pending, rdata->d, rdata->len);
	c->pending_len = rdata->len;
	c->pending_off = 0;
	send_pending(c, max, sw, out);
}

/* Accumulates a chained fragment; returns 0 or a status word. */
static uint16_t chain_append(struct cs_card *c, const struct cs_cmd *cmd)
{
	if (c->chaining && (c->chain_ins != cmd->ins || c->chain_p1 != cmd->p1 || c->chain_p2 != cmd->p2))
		drop_chain(c);
	if (c->chain == NULL) {
		c->chain = malloc(CS_MAX_CHAIN);
		if (c->chain == NULL)
			return SW_NO_MEMORY;
		c->chain_len = 0;
	}
	if (cmd->lc > CS_MAX_CHAIN - c->chain_len) {
		drop_chain(c);
		return SW_WRONG_LENGTH;
	}
	if (cmd->lc > 0)
		memcpy(c->chain + c->chain_len, cmd->data, cmd->lc);
	c->chain_len += cmd->lc;
	c->chaining = true;
	c->chain_ins = cmd->ins;
	c->chain_p1 = cmd->p1;
	c->chain_p2 = cmd->p2;
	return 0;
}

static void apply_fault(const struct cs_card *c, uint8_t ins, struct buf *out)
{
	size_t dlen;

	if (c->fault == FAULT_NONE || (c->fault_ins >= 0 && c->fault_ins != ins) || !buf_ok(out) || out->len < 2)
		return;
	dlen = out->len - 2;
	switch (c->fault) {
	case FAULT_TRUNCATE:
		if (dlen > 1) {
			memmove(out->d + dlen / 2, out->d + dlen, 2);
			out->len = dlen / 2 + 2;
		}
		break;
	case FAULT_BAD_LENGTH:
		/* Tag byte then a length: make the length claim 0x7F or 0x82 FF FF. */
		if (dlen >= 2) {
			if (out->d[1] < 0x80)
				out->d[1] = 0x7F;
			else
				memset(out->d + 2, 0xFF, dlen >= 4 ? 2 : dlen - 2);
		}
		break;
	case FAULT_GARBAGE_SW:
		out->d[out->len - 2] = 0xA5;
		out->d[out->len - 1] = 0x5A;
		break;
	case FAULT_SHORT:
		out->d[0] = out->d[out->len - 2];
		out->len = 1;
		break;
	case FAULT_NO_DATA:
		memmove(out->d, out->d + dlen, 2);
		out->len = 2;
		break;
	case FAULT_NONE:
	case FAULT_DROP: /* handled by the connection loop */
		break;
	}
}

static void process_command(struct cs_card *c, struct cs_cmd *cmd, struct buf *out)
{
	uint8_t *full = NULL;
	struct buf rdata;
	uint16_t sw;

	buf_init(&rdata);

	if ((cmd->cla & ~0x10) != 0) {
		put_sw(out, SW_CLA_NOT_SUPPORTED);
		goto out;
	}
	if (cmd->cla & 0x10) {
		sw = chain_append(c, cmd);
		put_sw(out, sw ? sw : SW_OK);
		goto out;
	}
	if (c->chaining && c->chain_ins == cmd->ins && c->chain_p1 == cmd->p1 && c->chain_p2 == cmd->p2) {
		sw = chain_append(c, cmd);
		if (sw != 0) {
			put_sw(out, sw);
			goto out;
		}
		full = c->chain;
		c->chain = NULL;
		cmd->data = full;
		cmd->lc = c->chain_len;
		drop_chain(c);
	} else {
		drop_chain(c);
	}
	c->pin_fresh_cmd = c->pin_fresh;
	c->pin_fresh = false;
	sw = cs_piv_dispatch(c, cmd, &rdata);
	if (!buf_ok(&rdata) || rdata.len > CS_MAX_RESPONSE)
		sw = SW_NO_MEMORY;
	if (sw != SW_OK)
		buf_reset(&rdata);
	respond(c, cmd, &rdata, sw, out);
out:
	buf_free(&rdata);
	if (full != NULL)
		cr_free_secret(full, CS_MAX_CHAIN);
}

void cs_card_process(struct cs_card *c, const uint8_t *apdu, size_t n, struct buf *out)
{
	struct cs_cmd cmd;
	uint16_t sw;

	sw = parse_apdu(apdu, n, &cmd);
	if (sw == 0 && cmd.extended && c->no_extended)
		sw = SW_WRONG_LENGTH;
	if (sw != 0) {
		drop_chain(c);
		put_sw(out, sw);
		goto out;
	}
	if (cmd.ins == INS_GET_RESPONSE && cmd.cla == 0) {
		if (c->pending == NULL)
			put_sw(out, SW_CONDITIONS);
		else
			send_pending(c, cmd.extended && cmd.ne < CS_MAX_FRAME_DATA ? cmd.ne : SHORT_CHUNK, SW_OK, out);
		goto out;
	}
	drop_pending(c);
	process_command(c, &cmd, out);
out:
	apply_fault(c, n >= 2 ? apdu[1] : 0, out);
}
