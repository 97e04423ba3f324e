/* Management key (slot 9B): one-way and mutual challenge-response
 * authentication with 3DES or AES, and the YubiKey SET MGMT KEY command. */
#include <string.h>

#include "apdu/piv.h"
#include "crypto/block.h"
#include "crypto/random.h"
#include "crypto/wipe.h"
#include "tests/cardsim/cardsim.h"

static const uint8_t default_mgmt[] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8 };

size_t cs_mgmt_key_len(uint8_t alg)
{
	enum cr_block_alg cipher;

	return piv_mgmt_cipher(alg, &cipher) ? cr_block_key_size(cipher) : 0;
}

static size_t block_len(uint8_t alg)
{
	enum cr_block_alg cipher;

	return piv_mgmt_cipher(alg, &cipher) ? cr_block_size(cipher) : 0;
}

/* One ECB block with the card's management key; enc 1 encrypts, 0 decrypts. */
static int mgmt_block(const struct cs_card *c, const uint8_t *in, uint8_t *out, int enc)
{
	enum cr_block_alg cipher;

	if (!piv_mgmt_cipher(c->mgmt_alg, &cipher))
		return -1;
	return cr_block_crypt(cipher, c->mgmt_key, c->mgmt_len, enc != 0, in, out) == 0 ? 0 : -1;
}

struct auth_parts {
	const uint8_t *witness, *challenge, *response;
	size_t witness_len, challenge_len, response_len;
	bool has_witness, has_challenge, has_response;
};

static int take_auth_item(void *ctx, uint32_t tag, const uint8_t *v, size_t len)
{
	struct auth_parts *p = ctx;

	if (tag == 0x80 && !p->has_witness) {
		p->witness = v, p->witness_len = len, p->has_witness = true;
	} else if (tag == 0x81 && !p->has_challenge) {
		p->challenge = v, p->challenge_len = len, p->has_challenge = true;
	} else if (tag == 0x82 && !p->has_response) {
		p->response = v, p->response_len = len, p->has_response = true;
	} else {
		return -1;
	}
	return 0;
}

static int parse_template(const struct cs_cmd *cmd, struct auth_parts *p)
{
	memset(p, 0, sizeof(*p));
	return cs_dyn_auth_walk(cmd, take_auth_item, p);
}

static uint16_t start_challenge(struct cs_card *c, enum cs_chal kind, struct buf *r)
{
	size_t bl = block_len(c->mgmt_alg);
	uint8_t witness[16];
	uint16_t sw = SW_UNKNOWN;

	if (cr_random(c->chal_value, bl) != 0)
		goto out;
	c->chal = kind;
	if (kind == CHAL_ONE_WAY) {
		cs_dyn_auth_put(r, 0x81, c->chal_value, bl);
	} else {
		if (mgmt_block(c, c->chal_value, witness, 1) != 0)
			goto out;
		cs_dyn_auth_put(r, 0x80, witness, bl);
	}
	sw = SW_OK;
out:
	cr_wipe(witness, sizeof(witness));
	return sw;
}

static uint16_t finish_one_way(struct cs_card *c, const struct auth_parts *p)
{
	size_t bl = block_len(c->mgmt_alg);
	uint8_t expect[16];
	uint16_t sw = SW_SECURITY;

	if (p->response_len != bl || mgmt_block(c, c->chal_value, expect, 1) != 0)
		goto out;
	if (!cr_secret_equal(expect, p->response, bl))
		goto out;
	c->mgmt_authed = true;
	sw = SW_OK;
out:
	cr_wipe(expect, sizeof(expect));
	return sw;
}

static uint16_t finish_mutual(struct cs_card *c, const struct auth_parts *p, struct buf *r)
{
	size_t bl = block_len(c->mgmt_alg);
	uint8_t answer[16];
	uint16_t sw = SW_SECURITY;

	if (p->witness_len != bl || p->challenge_len != bl)
		goto out;
	if (!cr_secret_equal(c->chal_value, p->witness, bl))
		goto out;
	if (mgmt_block(c, p->challenge, answer, 1) != 0)
		goto out;
	cs_dyn_auth_put(r, 0x82, answer, bl);
	c->mgmt_authed = true;
	sw = SW_OK;
out:
	cr_wipe(answer, sizeof(answer));
	return sw;
}

uint16_t cs_mgmt_authenticate(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	enum cs_chal pending = c->chal;
	struct auth_parts p;
	uint16_t sw;

	c->chal = CHAL_NONE;
	if (cmd->p1 != c->mgmt_alg && !(cmd->p1 == 0 && c->mgmt_alg == PIV_ALG_3DES))
		return SW_WRONG_DATA;
	if (parse_template(cmd, &p) != 0)
		return SW_WRONG_DATA;
	if (c->no_touch && c->mgmt_touch != PIV_TOUCH_POLICY_NEVER)
		return SW_SECURITY;
	if (p.has_witness && p.witness_len == 0 && !p.has_challenge)
		return start_challenge(c, CHAL_MUTUAL, r);
	if (p.has_challenge && p.challenge_len == 0 && !p.has_witness && !p.has_response)
		return start_challenge(c, CHAL_ONE_WAY, r);
	c->mgmt_authed = false;
	if (p.has_response && p.response_len > 0 && !p.has_witness && !p.has_challenge)
		sw = pending == CHAL_ONE_WAY ? finish_one_way(c, &p) : SW_SECURITY;
	else if (p.has_witness && p.has_challenge && (!p.has_response || p.response_len == 0))
		sw = pending == CHAL_MUTUAL ? finish_mutual(c, &p, r) : SW_SECURITY;
	else
		sw = SW_WRONG_DATA;
	cr_wipe(c->chal_value, sizeof(c->chal_value));
	return sw;
}

uint16_t cs_cmd_set_mgmt_key(struct cs_card *c, const struct cs_cmd *cmd)
{
	size_t klen;

	if (cmd->p1 != 0xFF || (cmd->p2 != 0xFF && cmd->p2 != 0xFE))
		return SW_INCORRECT_P1P2;
	if (!c->mgmt_authed)
		return SW_SECURITY;
	if (cmd->lc < 3 || cmd->data[1] != PIV_SLOT_MGMT)
		return SW_WRONG_DATA;
	klen = cs_mgmt_key_len(cmd->data[0]);
	if (klen == 0 || cmd->data[2] != klen || cmd->lc != 3 + klen)
		return SW_WRONG_DATA;
	cr_wipe(c->mgmt_key, sizeof(c->mgmt_key));
	c->mgmt_alg = cmd->data[0];
	memcpy(c->mgmt_key, cmd->data + 3, klen);
	c->mgmt_len = klen;
	c->mgmt_touch = cmd->p2 == 0xFE ? PIV_TOUCH_POLICY_ALWAYS : PIV_TOUCH_POLICY_NEVER;
	/* A YubiKey 5.7 ships the same default value as an AES-192 key. */
	c->mgmt_default = (c->mgmt_alg == PIV_ALG_3DES || c->mgmt_alg == PIV_ALG_AES192) &&
			  cr_secret_equal(c->mgmt_key, default_mgmt, klen);
	c->dirty = true;
	return SW_OK;
}
