/* PIV commands of the card: SELECT, GET/PUT DATA, VERIFY, CHANGE REFERENCE
 * DATA, RESET RETRY COUNTER and the YubiKey administration instructions.
 * Key operations live in cs_keys.c, management-key ones in cs_mgmt.c. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apdu/piv.h"
#include "crypto/wipe.h"
#include "tests/cardsim/cardsim.h"

static const uint8_t piv_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00 };
static const uint8_t default_pin[] = { '1', '2', '3', '4', '5', '6', 0xFF, 0xFF };
static const uint8_t default_puk[] = { '1', '2', '3', '4', '5', '6', '7', '8' };
static const uint8_t default_mgmt[] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8 };

#define DEFAULT_PIN_TRIES 3
#define DEFAULT_PUK_TRIES 5

static void set_default_pins(struct cs_card *c)
{
	memcpy(c->pin, default_pin, 8);
	memcpy(c->puk, default_puk, 8);
	c->pin_left = c->pin_total;
	c->puk_left = c->puk_total;
	c->pin_default = true;
	c->puk_default = true;
}

static void set_default_mgmt(struct cs_card *c)
{
	c->mgmt_alg = PIV_ALG_3DES;
	cr_wipe(c->mgmt_key, sizeof(c->mgmt_key));
	memcpy(c->mgmt_key, default_mgmt, sizeof(default_mgmt));
	c->mgmt_len = sizeof(default_mgmt);
	c->mgmt_touch = PIV_TOUCH_POLICY_NEVER;
	c->mgmt_default = true;
}

void cs_card_defaults(struct cs_card *c)
{
	c->pin_total = DEFAULT_PIN_TRIES;
	c->puk_total = DEFAULT_PUK_TRIES;
	set_default_pins(c);
	set_default_mgmt(c);
}

static void object_clear(struct cs_object *o)
{
	free(o->data);
	memset(o, 0, sizeof(*o));
}

void cs_card_free(struct cs_card *c)
{
	size_t i;

	for (i = 0; i < 256; i++)
		cs_key_clear(&c->keys[i]);
	for (i = 0; i < CS_MAX_OBJECTS; i++)
		object_clear(&c->objs[i]);
	/* Drops (and wipes) a pending chain or response, which may hold secrets. */
	cs_card_power_event(c);
	cr_wipe(c->pin, sizeof(c->pin));
	cr_wipe(c->puk, sizeof(c->puk));
	cr_wipe(c->mgmt_key, sizeof(c->mgmt_key));
}

struct cs_object *cs_object_find(struct cs_card *c, uint32_t tag)
{
	size_t i;

	for (i = 0; i < CS_MAX_OBJECTS; i++)
		if (c->objs[i].data != NULL && c->objs[i].tag == tag)
			return &c->objs[i];
	return NULL;
}

static size_t storage_used(const struct cs_card *c)
{
	size_t i, sum = 0;

	for (i = 0; i < CS_MAX_OBJECTS; i++)
		sum += c->objs[i].len;
	return sum;
}

/* Stores (or with len 0 deletes) an object. Returns 0, or a status word. */
int cs_object_set(struct cs_card *c, uint32_t tag, const uint8_t *data, size_t len)
{
	struct cs_object *o = cs_object_find(c, tag);
	size_t i, used = storage_used(c) - (o ? o->len : 0);
	uint8_t *copy;

	if (len == 0) {
		if (o != NULL)
			object_clear(o);
		return 0;
	}
	if (len > CS_MAX_STORAGE - used)
		return SW_NO_MEMORY;
	for (i = 0; o == NULL && i < CS_MAX_OBJECTS; i++)
		if (c->objs[i].data == NULL)
			o = &c->objs[i];
	if (o == NULL)
		return SW_NO_MEMORY;
	copy = malloc(len);
	if (copy == NULL)
		return SW_NO_MEMORY;
	memcpy(copy, data, len);
	free(o->data);
	o->tag = tag;
	o->data = copy;
	o->len = len;
	return 0;
}

static bool object_tag_valid(uint32_t tag)
{
	if (tag >= 0x5FC101 && tag <= 0x5FC123)
		return true;
	if (tag >= 0x5FFF00 && tag <= 0x5FFF15)
		return true;
	return tag == PIV_OBJ_BITGT;
}

static bool object_needs_pin(uint32_t tag)
{
	switch (tag) {
	case 0x5FC103: /* fingerprints */
	case 0x5FC108: /* facial image */
	case 0x5FC109: /* printed information */
	case 0x5FC121: /* iris */
	case 0x5FC123: /* pairing code reference data */
		return true;
	default:
		return false;
	}
}

static uint16_t tries_sw(uint8_t left)
{
	return (uint16_t)(0x63C0 | (left > 15 ? 15 : left));
}

/* A PIN or PUK value: 6 to 8 bytes other than FF, then FF padding. */
static bool pin_format_ok(const uint8_t *v)
{
	size_t n = 0, i;

	while (n < 8 && v[n] != 0xFF)
		n++;
	for (i = n; i < 8; i++)
		if (v[i] != 0xFF)
			return false;
	return n >= 6;
}

static bool is_piv_aid(const struct cs_cmd *cmd)
{
	/* A right-truncated AID of at least the RID selects PIV. */
	return cmd->lc >= 5 && cmd->lc <= sizeof(piv_aid) && memcmp(cmd->data, piv_aid, cmd->lc) == 0;
}

/* A YubiKey deselects PIV when another AID is selected, even one it does
 * not have, and selecting PIV again drops the PIN and management-key status
 * (OpenSC PR 624, issue 1460). SP 800-73-4 keeps both; so do the switches. */
static uint16_t cmd_select(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	size_t apt, authority;

	if (cmd->p1 != 0x04)
		return SW_INCORRECT_P1P2;
	if (!is_piv_aid(cmd)) {
		if (!c->preselected) {
			c->piv_selected = false;
			cs_card_forget_security(c);
		}
		return SW_NOT_FOUND;
	}
	if (!c->piv_selected || !c->keep_status_on_reselect)
		cs_card_forget_security(c);
	c->piv_selected = true;
	apt = tlv_open(r, 0x61);
	tlv_put(r, 0x4F, piv_aid + 5, 6);
	authority = tlv_open(r, 0x79);
	tlv_put(r, 0x4F, piv_aid, 5);
	tlv_close(r, authority);
	tlv_close(r, apt);
	return SW_OK;
}

/* Reads the tag named by "5C len tag" in a GET/PUT DATA command. */
static int read_tag_list(struct tlv_rd *rd, uint32_t *tag)
{
	const uint8_t *v;
	size_t len, i;
	uint32_t t;

	if (tlv_next(rd, &t, &v, &len) != 1 || t != 0x5C || len < 1 || len > 3)
		return -1;
	*tag = 0;
	for (i = 0; i < len; i++)
		*tag = (*tag << 8) | v[i];
	return 0;
}

static void put_discovery(struct buf *r)
{
	static const uint8_t usage[] = { 0x40, 0x00 };

	size_t mark = tlv_open(r, PIV_OBJ_DISCOVERY);

	tlv_put(r, 0x4F, piv_aid, sizeof(piv_aid));
	tlv_put(r, 0x5F2F, usage, sizeof(usage));
	tlv_close(r, mark);
}

static uint16_t cmd_get_data(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	struct tlv_rd rd = { cmd->data, cmd->lc };
	struct cs_object *o;
	uint32_t tag;

	if (cmd->p1 != 0x3F || cmd->p2 != 0xFF)
		return SW_INCORRECT_P1P2;
	if (read_tag_list(&rd, &tag) != 0 || rd.left != 0)
		return SW_WRONG_DATA;
	if (tag == PIV_OBJ_DISCOVERY) {
		put_discovery(r);
		return SW_OK;
	}
	if (!object_tag_valid(tag))
		return SW_NOT_FOUND;
	if (object_needs_pin(tag) && !c->pin_verified)
		return SW_SECURITY;
	o = cs_object_find(c, tag);
	if (o == NULL)
		return SW_NOT_FOUND;
	buf_put(r, o->data, o->len);
	return SW_OK;
}

static uint16_t cmd_put_data(struct cs_card *c, const struct cs_cmd *cmd)
{
	struct tlv_rd rd = { cmd->data, cmd->lc };
	const uint8_t *start, *v;
	uint32_t tag, t;
	size_t len;
	int sw;

	if (cmd->p1 != 0x3F || cmd->p2 != 0xFF)
		return SW_INCORRECT_P1P2;
	if (!c->mgmt_authed)
		return SW_SECURITY;
	if (read_tag_list(&rd, &tag) != 0)
		return SW_WRONG_DATA;
	start = rd.p;
	if (tlv_next(&rd, &t, &v, &len) != 1 || rd.left != 0)
		return SW_WRONG_DATA;
	if (!object_tag_valid(tag))
		return SW_WRONG_DATA;
	if ((size_t)(rd.p - start) > CS_MAX_OBJECT + 9)
		return SW_NO_MEMORY;
	sw = cs_object_set(c, tag, start, len == 0 ? 0 : (size_t)(rd.p - start));
	if (sw != 0)
		return (uint16_t)sw;
	c->dirty = true;
	return SW_OK;
}

/* Checks a presented value against a reference with a retry counter. */
static uint16_t check_reference(struct cs_card *c, const uint8_t *ref, uint8_t *left, uint8_t total,
				const uint8_t *given)
{
	if (*left == 0)
		return SW_BLOCKED;
	if (CRYPTO_memcmp(ref, given, 8) != 0) {
		(*left)--;
		c->dirty = true;
		return tries_sw(*left);
	}
	if (*left != total)
		c->dirty = true;
	*left = total;
	return SW_OK;
}

static uint16_t cmd_verify(struct cs_card *c, const struct cs_cmd *cmd)
{
	uint16_t sw;

	if (cmd->p2 == PIV_REF_PUK)
		return SW_REF_NOT_FOUND;
	if (cmd->p2 != PIV_REF_PIN || (cmd->p1 != 0x00 && cmd->p1 != 0xFF))
		return SW_INCORRECT_P1P2;
	if (cmd->p1 == 0xFF) {
		if (cmd->lc != 0)
			return SW_WRONG_DATA;
		c->pin_verified = false;
		return SW_OK;
	}
	if (cmd->lc == 0) {
		if (c->pin_left == 0)
			return SW_BLOCKED;
		return c->pin_verified ? SW_OK : tries_sw(c->pin_left);
	}
	if (cmd->lc != 8)
		return SW_WRONG_DATA;
	sw = check_reference(c, c->pin, &c->pin_left, c->pin_total, cmd->data);
	c->pin_verified = sw == SW_OK;
	c->pin_fresh = sw == SW_OK;
	return sw;
}

static uint16_t cmd_change_reference(struct cs_card *c, const struct cs_cmd *cmd)
{
	bool is_puk = cmd->p2 == PIV_REF_PUK;
	uint8_t *ref = is_puk ? c->puk : c->pin;
	uint8_t *left = is_puk ? &c->puk_left : &c->pin_left;
	uint8_t total = is_puk ? c->puk_total : c->pin_total;
	uint16_t sw;

	if (cmd->p1 != 0x00 || (cmd->p2 != PIV_REF_PIN && cmd->p2 != PIV_REF_PUK))
		return SW_REF_NOT_FOUND;
	if (cmd->lc != 16)
		return SW_WRONG_DATA;
	sw = check_reference(c, ref, left, total, cmd->data);
	if (sw != SW_OK) {
		if (!is_puk)
			c->pin_verified = false;
		return sw;
	}
	if (!pin_format_ok(cmd->data + 8))
		return SW_WRONG_DATA;
	memcpy(ref, cmd->data + 8, 8);
	if (is_puk)
		c->puk_default = CRYPTO_memcmp(ref, default_puk, 8) == 0;
	else
		c->pin_default = CRYPTO_memcmp(ref, default_pin, 8) == 0;
	c->dirty = true;
	return SW_OK;
}

static uint16_t cmd_reset_retry(struct cs_card *c, const struct cs_cmd *cmd)
{
	uint16_t sw;

	if (cmd->p1 != 0x00 || cmd->p2 != PIV_REF_PIN)
		return SW_REF_NOT_FOUND;
	if (cmd->lc != 16)
		return SW_WRONG_DATA;
	sw = check_reference(c, c->puk, &c->puk_left, c->puk_total, cmd->data);
	if (sw != SW_OK)
		return sw;
	if (!pin_format_ok(cmd->data + 8))
		return SW_WRONG_DATA;
	memcpy(c->pin, cmd->data + 8, 8);
	c->pin_left = c->pin_total;
	c->pin_default = CRYPTO_memcmp(c->pin, default_pin, 8) == 0;
	c->dirty = true;
	return SW_OK;
}

static uint16_t cmd_set_pin_retries(struct cs_card *c, const struct cs_cmd *cmd)
{
	if (!c->mgmt_authed || !c->pin_verified)
		return SW_SECURITY;
	if (cmd->p1 == 0 || cmd->p2 == 0)
		return SW_INCORRECT_P1P2;
	c->pin_total = cmd->p1;
	c->puk_total = cmd->p2;
	set_default_pins(c);
	c->dirty = true;
	return SW_OK;
}

/* YubiKey RESET: allowed only once both PIN and PUK are blocked. */
static uint16_t cmd_reset(struct cs_card *c)
{
	size_t i;

	if (c->pin_left != 0 || c->puk_left != 0)
		return SW_CONDITIONS;
	for (i = 0; i < 256; i++)
		if (i != PIV_SLOT_ATTEST)
			cs_key_clear(&c->keys[i]);
	for (i = 0; i < CS_MAX_OBJECTS; i++)
		if (c->objs[i].tag != 0x5FFF01)
			object_clear(&c->objs[i]);
	c->pin_total = DEFAULT_PIN_TRIES;
	c->puk_total = DEFAULT_PUK_TRIES;
	set_default_pins(c);
	set_default_mgmt(c);
	/* PIV stays selected: a client goes on after the reset. */
	cs_card_forget_security(c);
	c->dirty = true;
	return SW_OK;
}

static void put_retries(struct buf *r, uint8_t total, uint8_t left)
{
	uint8_t v[2] = { total, left };

	tlv_put(r, 0x06, v, 2);
}

static uint16_t cmd_get_metadata(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	uint8_t slot = cmd->p2, b;
	struct cs_key *k = &c->keys[slot];
	uint8_t pol[2];
	size_t mark;

	if (cmd->p1 != 0)
		return SW_INCORRECT_P1P2;
	if (slot == PIV_REF_PIN || slot == PIV_REF_PUK) {
		b = 0xFF;
		tlv_put(r, 0x01, &b, 1);
		b = slot == PIV_REF_PIN ? c->pin_default : c->puk_default;
		tlv_put(r, 0x05, &b, 1);
		if (slot == PIV_REF_PIN)
			put_retries(r, c->pin_total, c->pin_left);
		else
			put_retries(r, c->puk_total, c->puk_left);
		return SW_OK;
	}
	if (slot == PIV_SLOT_MGMT) {
		tlv_put(r, 0x01, &c->mgmt_alg, 1);
		pol[0] = 0;
		pol[1] = c->mgmt_touch;
		tlv_put(r, 0x02, pol, 2);
		b = c->mgmt_default;
		tlv_put(r, 0x05, &b, 1);
		return SW_OK;
	}
	if (!cs_slot_is_key(slot) && slot != PIV_SLOT_ATTEST)
		return SW_REF_NOT_FOUND;
	if (!k->present)
		return SW_REF_NOT_FOUND;
	tlv_put(r, 0x01, &k->alg, 1);
	pol[0] = k->pin_policy;
	pol[1] = k->touch_policy;
	tlv_put(r, 0x02, pol, 2);
	tlv_put(r, 0x03, &k->origin, 1);
	mark = tlv_open(r, 0x04);
	if (cs_key_public_tlvs(k->pkey, r) != 0)
		return SW_UNKNOWN;
	tlv_close(r, mark);
	return SW_OK;
}

static uint16_t cmd_version_serial(const struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	if (cmd->ins == PIV_INS_GET_VERSION) {
		buf_put_u8(r, CS_VERSION_MAJOR);
		buf_put_u8(r, CS_VERSION_MINOR);
		buf_put_u8(r, CS_VERSION_PATCH);
		return SW_OK;
	}
	buf_put_u8(r, (uint8_t)(c->serial >> 24));
	buf_put_u8(r, (uint8_t)(c->serial >> 16));
	buf_put_u8(r, (uint8_t)(c->serial >> 8));
	buf_put_u8(r, (uint8_t)c->serial);
	return SW_OK;
}

/* YubiKey 5.7 MOVE KEY: P1 destination (FF deletes), P2 source slot. */
static uint16_t cmd_move_key(struct cs_card *c, const struct cs_cmd *cmd)
{
	uint8_t to = cmd->p1, from = cmd->p2;

	if (!cs_slot_is_key(from) || (to != 0xFF && (!cs_slot_is_key(to) || to == from)))
		return SW_INCORRECT_P1P2;
	if (!c->mgmt_authed)
		return SW_SECURITY;
	if (!c->keys[from].present)
		return SW_REF_NOT_FOUND;
	if (to != 0xFF) {
		cs_key_clear(&c->keys[to]);
		c->keys[to] = c->keys[from];
		memset(&c->keys[from], 0, sizeof(c->keys[from]));
	} else {
		cs_key_clear(&c->keys[from]);
	}
	c->dirty = true;
	return SW_OK;
}

/* The template must be the whole command data, and every item in it is
 * well formed; what each item means is the caller's to judge. */
int cs_dyn_auth_walk(const struct cs_cmd *cmd, int (*take)(void *ctx, uint32_t tag, const uint8_t *v, size_t len),
		     void *ctx)
{
	struct tlv_rd rd = { cmd->data, cmd->lc };
	const uint8_t *v;
	uint32_t tag;
	size_t len;

	if (tlv_next(&rd, &tag, &v, &len) != 1 || tag != 0x7C || rd.left != 0)
		return -1;
	rd.p = v;
	rd.left = len;
	while (rd.left > 0) {
		if (tlv_next(&rd, &tag, &v, &len) != 1)
			return -1;
		if (take(ctx, tag, v, len) != 0)
			return -1;
	}
	return 0;
}

/* Answers with one item wrapped in 7C. */
void cs_dyn_auth_put(struct buf *r, uint8_t tag, const uint8_t *v, size_t len)
{
	size_t mark = tlv_open(r, 0x7C);

	tlv_put(r, tag, v, len);
	tlv_close(r, mark);
}

static uint16_t cmd_general_authenticate(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	if (cmd->p2 == PIV_SLOT_MGMT)
		return cs_mgmt_authenticate(c, cmd, r);
	return cs_key_operation(c, cmd, r);
}

/* MOVE KEY, GET METADATA, GET SERIAL, ATTEST, SET PIN RETRIES, RESET, GET VERSION, IMPORT KEY, SET MGMT KEY. */
static bool is_yubikey_instruction(uint8_t ins)
{
	return ins >= PIV_INS_MOVE_KEY;
}

uint16_t cs_piv_dispatch(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	if (cmd->ins == PIV_INS_SELECT)
		return cmd_select(c, cmd, r);
	/* What a YubiKey answers while no application or another one is selected. */
	if (!c->piv_selected)
		return SW_INS_NOT_SUPPORTED;
	if (c->plain_piv && is_yubikey_instruction(cmd->ins))
		return SW_INS_NOT_SUPPORTED;
	switch (cmd->ins) {
	case PIV_INS_GET_DATA:
		return cmd_get_data(c, cmd, r);
	case PIV_INS_PUT_DATA:
		return cmd_put_data(c, cmd);
	case PIV_INS_VERIFY:
		return cmd_verify(c, cmd);
	case PIV_INS_CHANGE_REFERENCE:
		return cmd_change_reference(c, cmd);
	case PIV_INS_RESET_RETRY:
		return cmd_reset_retry(c, cmd);
	case PIV_INS_GENERAL_AUTHENTICATE:
		return cmd_general_authenticate(c, cmd, r);
	case PIV_INS_GENERATE:
		return cs_cmd_generate(c, cmd, r);
	case PIV_INS_GET_VERSION:
	case PIV_INS_GET_SERIAL:
		return cmd_version_serial(c, cmd, r);
	case PIV_INS_GET_METADATA:
		return cmd_get_metadata(c, cmd, r);
	case PIV_INS_SET_PIN_RETRIES:
		return cmd_set_pin_retries(c, cmd);
	case PIV_INS_RESET:
		return cmd_reset(c);
	case PIV_INS_IMPORT_KEY:
		return cs_cmd_import(c, cmd);
	case PIV_INS_SET_MGMT_KEY:
		return cs_cmd_set_mgmt_key(c, cmd);
	case PIV_INS_ATTEST:
		return cs_cmd_attest(c, cmd, r);
	case PIV_INS_MOVE_KEY:
		return cmd_move_key(c, cmd);
	default:
		return SW_INS_NOT_SUPPORTED;
	}
}
