/* Asymmetric keys of the card: GENERATE ASYMMETRIC KEY PAIR, YubiKey IMPORT
 * KEY, and the private-key forms of GENERAL AUTHENTICATE (raw RSA, ECDSA over
 * a given hash, ECDH, Ed25519, X25519), with the PIN policy of each key. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "apdu/piv.h"
#include "crypto/wipe.h"
#include "tests/cardsim/cardsim.h"

bool cs_slot_is_key(uint8_t slot)
{
	return slot == 0x9A || slot == 0x9C || slot == 0x9D || slot == 0x9E || (slot >= 0x82 && slot <= 0x95);
}

uint8_t cs_default_pin_policy(uint8_t slot)
{
	if (slot == 0x9C)
		return PIV_PIN_POLICY_ALWAYS;
	if (slot == 0x9E)
		return PIV_PIN_POLICY_NEVER;
	return PIV_PIN_POLICY_ONCE;
}

static unsigned rsa_bits(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_RSA1024:
		return 1024;
	case PIV_ALG_RSA2048:
		return 2048;
	case PIV_ALG_RSA3072:
		return 3072;
	case PIV_ALG_RSA4096:
		return 4096;
	default:
		return 0;
	}
}

static const char *ec_group(uint8_t alg)
{
	if (alg == PIV_ALG_ECCP256)
		return "P-256";
	if (alg == PIV_ALG_ECCP384)
		return "P-384";
	return NULL;
}

static size_t ec_field_len(uint8_t alg)
{
	return alg == PIV_ALG_ECCP384 ? 48 : 32;
}

EVP_PKEY *cs_key_generate(uint8_t alg)
{
	if (rsa_bits(alg) != 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits(alg));
	if (ec_group(alg) != NULL)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", ec_group(alg));
	if (alg == PIV_ALG_ED25519)
		return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (alg == PIV_ALG_X25519)
		return EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	return NULL;
}

uint8_t cs_key_alg_of(EVP_PKEY *pkey)
{
	char group[32];

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		switch (EVP_PKEY_get_bits(pkey)) {
		case 1024:
			return PIV_ALG_RSA1024;
		case 2048:
			return PIV_ALG_RSA2048;
		case 3072:
			return PIV_ALG_RSA3072;
		case 4096:
			return PIV_ALG_RSA4096;
		default:
			return 0;
		}
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) != 1)
			return 0;
		if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
			return PIV_ALG_ECCP256;
		if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
			return PIV_ALG_ECCP384;
		return 0;
	case EVP_PKEY_ED25519:
		return PIV_ALG_ED25519;
	case EVP_PKEY_X25519:
		return PIV_ALG_X25519;
	default:
		return 0;
	}
}

static int put_bn_param(EVP_PKEY *pkey, const char *name, uint32_t tag, struct buf *o)
{
	BIGNUM *bn = NULL;
	uint8_t buf[512];
	int n, rc = -1;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1)
		goto out;
	n = BN_num_bytes(bn);
	if (n <= 0 || (size_t)n > sizeof(buf) || BN_bn2bin(bn, buf) != n)
		goto out;
	tlv_put(o, tag, buf, (size_t)n);
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

int cs_key_public_tlvs(EVP_PKEY *pkey, struct buf *o)
{
	uint8_t buf[160];
	size_t n = 0;

	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:
		if (put_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, 0x81, o) != 0)
			return -1;
		return put_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, 0x82, o);
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, sizeof(buf), &n) != 1)
			return -1;
		tlv_put(o, 0x86, buf, n);
		return 0;
	case EVP_PKEY_ED25519:
	case EVP_PKEY_X25519:
		n = sizeof(buf);
		if (EVP_PKEY_get_raw_public_key(pkey, buf, &n) != 1)
			return -1;
		tlv_put(o, 0x86, buf, n);
		return 0;
	default:
		return -1;
	}
}

void cs_key_clear(struct cs_key *k)
{
	EVP_PKEY_free(k->pkey);
	memset(k, 0, sizeof(*k));
}

static void key_install(struct cs_key *k, EVP_PKEY *pkey, uint8_t alg, uint8_t slot, uint8_t pin_policy,
			uint8_t touch_policy, uint8_t origin)
{
	cs_key_clear(k);
	k->present = true;
	k->pkey = pkey;
	k->alg = alg;
	k->pin_policy = pin_policy == PIV_PIN_POLICY_DEFAULT ? cs_default_pin_policy(slot) : pin_policy;
	k->touch_policy = touch_policy == PIV_TOUCH_POLICY_DEFAULT ? PIV_TOUCH_POLICY_NEVER : touch_policy;
	k->origin = origin;
}

struct policies {
	uint8_t pin, touch;
};

/* Reads AA (PIN policy) and AB (touch policy) TLVs; other tags are left to the caller. */
static int read_policy(uint32_t tag, const uint8_t *v, size_t len, struct policies *pol)
{
	if (tag != 0xAA && tag != 0xAB)
		return 1;
	if (len != 1)
		return -1;
	if (tag == 0xAA) {
		if (v[0] > PIV_PIN_POLICY_ALWAYS)
			return -1;
		pol->pin = v[0];
	} else {
		if (v[0] > 0x03)
			return -1;
		pol->touch = v[0];
	}
	return 0;
}

static int parse_generate(const struct cs_cmd *cmd, uint8_t *alg, struct policies *pol)
{
	struct tlv_rd outer = { cmd->data, cmd->lc }, inner;
	const uint8_t *v, *iv;
	size_t len, ilen;
	uint32_t tag, itag;
	bool have_alg = false;

	while (outer.left > 0) {
		if (tlv_next(&outer, &tag, &v, &len) != 1)
			return -1;
		if (tag != 0xAC) {
			if (read_policy(tag, v, len, pol) != 0)
				return -1;
			continue;
		}
		inner.p = v;
		inner.left = len;
		while (inner.left > 0) {
			if (tlv_next(&inner, &itag, &iv, &ilen) != 1)
				return -1;
			if (itag == 0x80 && ilen == 1) {
				*alg = iv[0];
				have_alg = true;
			} else if (read_policy(itag, iv, ilen, pol) != 0) {
				return -1;
			}
		}
	}
	return have_alg ? 0 : -1;
}

uint16_t cs_cmd_generate(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	struct policies pol = { 0, 0 };
	uint8_t alg = 0, slot = cmd->p2;
	size_t mark;
	EVP_PKEY *pkey;

	if (cmd->p1 != 0x00 || !cs_slot_is_key(slot))
		return SW_REF_NOT_FOUND;
	if (!c->mgmt_authed)
		return SW_SECURITY;
	if (parse_generate(cmd, &alg, &pol) != 0 || !piv_alg_is_asym(alg))
		return SW_WRONG_DATA;
	pkey = cs_key_generate(alg);
	if (pkey == NULL)
		return SW_UNKNOWN;
	mark = tlv_open(r, 0x7F49);
	if (cs_key_public_tlvs(pkey, r) != 0) {
		EVP_PKEY_free(pkey);
		return SW_UNKNOWN;
	}
	tlv_close(r, mark);
	key_install(&c->keys[slot], pkey, alg, slot, pol.pin, pol.touch, ORIGIN_GENERATED);
	c->dirty = true;
	return SW_OK;
}

/* Elements of an imported key, indexed by their tag (01..08). */
struct import_parts {
	const uint8_t *v[9];
	size_t len[9];
};

/* selection: EVP_PKEY_KEYPAIR for an imported key, EVP_PKEY_PUBLIC_KEY for a peer's. */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, int selection)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1)
		goto out;
	if (EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1)
		pkey = NULL;
out:
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *import_rsa(const struct import_parts *ip, uint8_t alg)
{
	BIGNUM *b[5] = { NULL }, *n = NULL, *e = NULL, *d = NULL, *phi = NULL, *p1 = NULL, *q1 = NULL;
	BN_CTX *bnctx = BN_CTX_new();
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;
	size_t half = rsa_bits(alg) / 16, i;

	if (bnctx == NULL || bld == NULL)
		goto out;
	for (i = 0; i < 5; i++) {
		if (ip->v[i + 1] == NULL || ip->len[i + 1] == 0 || ip->len[i + 1] > half)
			goto out;
		b[i] = BN_bin2bn(ip->v[i + 1], (int)ip->len[i + 1], NULL);
		if (b[i] == NULL)
			goto out;
	}
	n = BN_new(), e = BN_new(), d = BN_secure_new(), phi = BN_new(), p1 = BN_dup(b[0]), q1 = BN_dup(b[1]);
	if (!n || !e || !d || !phi || !p1 || !q1 || !BN_set_word(e, 65537) || !BN_mul(n, b[0], b[1], bnctx))
		goto out;
	if (!BN_sub_word(p1, 1) || !BN_sub_word(q1, 1) || !BN_mul(phi, p1, q1, bnctx))
		goto out;
	if (BN_mod_inverse(d, e, phi, bnctx) == NULL || (unsigned)BN_num_bits(n) != rsa_bits(alg))
		goto out;
	if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, b[0]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, b[1]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, b[2]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, b[3]) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, b[4]))
		goto out;
	pkey = pkey_from_params("RSA", bld, EVP_PKEY_KEYPAIR);
out:
	for (i = 0; i < 5; i++)
		BN_clear_free(b[i]);
	BN_free(n);
	BN_free(e);
	BN_clear_free(d);
	BN_clear_free(phi);
	BN_clear_free(p1);
	BN_clear_free(q1);
	BN_CTX_free(bnctx);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *import_ec(const struct import_parts *ip, uint8_t alg)
{
	EC_GROUP *group = EC_GROUP_new_by_curve_name(alg == PIV_ALG_ECCP384 ? NID_secp384r1 : NID_X9_62_prime256v1);
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *priv = NULL;
	EC_POINT *pt = NULL;
	EVP_PKEY *pkey = NULL;
	uint8_t pub[100];
	size_t publen;

	if (group == NULL || bld == NULL || ip->v[6] == NULL || ip->len[6] != ec_field_len(alg))
		goto out;
	priv = BN_bin2bn(ip->v[6], (int)ip->len[6], NULL);
	pt = EC_POINT_new(group);
	if (priv == NULL || pt == NULL || BN_is_zero(priv) || BN_cmp(priv, EC_GROUP_get0_order(group)) >= 0)
		goto out;
	if (EC_POINT_mul(group, pt, priv, NULL, NULL, NULL) != 1)
		goto out;
	publen = EC_POINT_point2oct(group, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL);
	if (publen == 0)
		goto out;
	if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ec_group(alg), 0) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, publen))
		goto out;
	pkey = pkey_from_params("EC", bld, EVP_PKEY_KEYPAIR);
out:
	BN_clear_free(priv);
	EC_POINT_free(pt);
	EC_GROUP_free(group);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *import_key(const struct import_parts *ip, uint8_t alg)
{
	if (rsa_bits(alg) != 0)
		return import_rsa(ip, alg);
	if (ec_group(alg) != NULL)
		return import_ec(ip, alg);
	if (alg == PIV_ALG_ED25519 && ip->v[7] != NULL && ip->len[7] == 32)
		return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ip->v[7], 32);
	if (alg == PIV_ALG_X25519 && ip->v[8] != NULL && ip->len[8] == 32)
		return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, ip->v[8], 32);
	return NULL;
}

uint16_t cs_cmd_import(struct cs_card *c, const struct cs_cmd *cmd)
{
	struct tlv_rd rd = { cmd->data, cmd->lc };
	struct import_parts ip;
	struct policies pol = { 0, 0 };
	uint8_t alg = cmd->p1, slot = cmd->p2;
	const uint8_t *v;
	EVP_PKEY *pkey;
	uint32_t tag;
	size_t len;

	if (!cs_slot_is_key(slot) && slot != PIV_SLOT_ATTEST)
		return SW_REF_NOT_FOUND;
	if (!piv_alg_is_asym(alg))
		return SW_INCORRECT_P1P2;
	if (!c->mgmt_authed)
		return SW_SECURITY;
	memset(&ip, 0, sizeof(ip));
	while (rd.left > 0) {
		if (tlv_next(&rd, &tag, &v, &len) != 1)
			return SW_WRONG_DATA;
		if (tag >= 0x01 && tag <= 0x08 && ip.v[tag] == NULL) {
			ip.v[tag] = v;
			ip.len[tag] = len;
		} else if (read_policy(tag, v, len, &pol) != 0) {
			return SW_WRONG_DATA;
		}
	}
	pkey = import_key(&ip, alg);
	if (pkey == NULL)
		return SW_WRONG_DATA;
	key_install(&c->keys[slot], pkey, alg, slot, pol.pin, pol.touch, ORIGIN_IMPORTED);
	c->dirty = true;
	return SW_OK;
}

static bool pin_allows(const struct cs_card *c, const struct cs_key *k)
{
	switch (k->pin_policy) {
	case PIV_PIN_POLICY_NEVER:
		return true;
	case PIV_PIN_POLICY_ALWAYS:
		return c->pin_verified && c->pin_fresh_cmd;
	default:
		return c->pin_verified;
	}
}

static uint16_t rsa_private(EVP_PKEY *pkey, const uint8_t *in, size_t inlen, struct buf *r)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	uint8_t res[512];
	size_t n = sizeof(res);
	uint16_t sw = SW_WRONG_DATA;

	if (inlen != (size_t)EVP_PKEY_get_size(pkey))
		goto out;
	if (ctx == NULL || EVP_PKEY_decrypt_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) != 1)
		goto out;
	if (EVP_PKEY_decrypt(ctx, res, &n, in, inlen) != 1)
		goto out;
	cs_dyn_auth_put(r, 0x82, res, n);
	sw = SW_OK;
out:
	cr_wipe(res, sizeof(res));
	EVP_PKEY_CTX_free(ctx);
	return sw;
}

static uint16_t ecdsa_sign(EVP_PKEY *pkey, uint8_t alg, const uint8_t *hash, size_t hlen, struct buf *r)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	uint8_t sig[160];
	size_t n = sizeof(sig);
	uint16_t sw = SW_WRONG_DATA;

	if (hlen == 0 || hlen > ec_field_len(alg))
		goto out;
	if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1 || EVP_PKEY_sign(ctx, sig, &n, hash, hlen) != 1)
		goto out;
	cs_dyn_auth_put(r, 0x82, sig, n);
	sw = SW_OK;
out:
	EVP_PKEY_CTX_free(ctx);
	return sw;
}

static uint16_t eddsa_sign(EVP_PKEY *pkey, const uint8_t *msg, size_t mlen, struct buf *r)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t sig[64];
	size_t n = sizeof(sig);
	uint16_t sw = SW_WRONG_DATA;

	if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) != 1)
		goto out;
	if (EVP_DigestSign(ctx, sig, &n, msg, mlen) != 1)
		goto out;
	cs_dyn_auth_put(r, 0x82, sig, n);
	sw = SW_OK;
out:
	EVP_MD_CTX_free(ctx);
	return sw;
}

static EVP_PKEY *peer_key(uint8_t alg, const uint8_t *v, size_t len)
{
	OSSL_PARAM_BLD *bld;
	EVP_PKEY *pkey = NULL;

	if (alg == PIV_ALG_X25519)
		return len == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, v, len) : NULL;
	if (len != 1 + 2 * ec_field_len(alg) || v[0] != 0x04)
		return NULL;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ec_group(alg), 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, v, len))
		goto out;
	pkey = pkey_from_params("EC", bld, EVP_PKEY_PUBLIC_KEY);
out:
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static uint16_t key_agreement(EVP_PKEY *pkey, uint8_t alg, const uint8_t *v, size_t len, struct buf *r)
{
	EVP_PKEY *peer = peer_key(alg, v, len);
	EVP_PKEY_CTX *ctx = NULL;
	uint8_t secret[64];
	size_t n = sizeof(secret);
	uint16_t sw = SW_WRONG_DATA;

	if (peer == NULL)
		goto out;
	ctx = EVP_PKEY_CTX_new(pkey, NULL);
	if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1)
		goto out;
	if (EVP_PKEY_derive(ctx, secret, &n) != 1)
		goto out;
	cs_dyn_auth_put(r, 0x82, secret, n);
	sw = SW_OK;
out:
	cr_wipe(secret, sizeof(secret));
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return sw;
}

struct op_request {
	const uint8_t *challenge, *exponent;
	size_t challenge_len, exponent_len;
	bool has_challenge, has_exponent, wants_response;
};

static int take_op_item(void *ctx, uint32_t tag, const uint8_t *v, size_t len)
{
	struct op_request *q = ctx;

	if (tag == 0x82 && len == 0) {
		q->wants_response = true;
	} else if (tag == 0x81 && !q->has_challenge) {
		q->challenge = v, q->challenge_len = len, q->has_challenge = true;
	} else if (tag == 0x85 && !q->has_exponent) {
		q->exponent = v, q->exponent_len = len, q->has_exponent = true;
	} else {
		return -1;
	}
	return 0;
}

static int parse_op(const struct cs_cmd *cmd, struct op_request *q)
{
	memset(q, 0, sizeof(*q));
	if (cs_dyn_auth_walk(cmd, take_op_item, q) != 0)
		return -1;
	if (!q->wants_response || q->has_challenge == q->has_exponent)
		return -1;
	return 0;
}

uint16_t cs_key_operation(struct cs_card *c, const struct cs_cmd *cmd, struct buf *r)
{
	struct cs_key *k = &c->keys[cmd->p2];
	struct op_request q;
	uint8_t alg = cmd->p1;

	if (!cs_slot_is_key(cmd->p2))
		return SW_REF_NOT_FOUND;
	if (!k->present)
		return SW_REF_NOT_FOUND;
	if (alg != k->alg)
		return SW_WRONG_DATA;
	if (parse_op(cmd, &q) != 0)
		return SW_WRONG_DATA;
	if (!pin_allows(c, k))
		return SW_SECURITY;
	/* A YubiKey answers 6982 when the touch it waits for does not come. */
	if (c->no_touch && (k->touch_policy == PIV_TOUCH_POLICY_ALWAYS || k->touch_policy == PIV_TOUCH_POLICY_CACHED))
		return SW_SECURITY;
	if (rsa_bits(alg) != 0 && q.has_challenge)
		return rsa_private(k->pkey, q.challenge, q.challenge_len, r);
	if (ec_group(alg) != NULL && q.has_challenge)
		return ecdsa_sign(k->pkey, alg, q.challenge, q.challenge_len, r);
	if (alg == PIV_ALG_ED25519 && q.has_challenge)
		return eddsa_sign(k->pkey, q.challenge, q.challenge_len, r);
	if ((ec_group(alg) != NULL || alg == PIV_ALG_X25519) && q.has_exponent)
		return key_agreement(k->pkey, alg, q.exponent, q.exponent_len, r);
	return SW_WRONG_DATA;
}
