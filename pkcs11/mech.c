#include "pkcs11/mech.h"

#include <stdlib.h>
#include <string.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/ecdsa.h"
#include "crypto/rsa_pad.h"
#include "crypto/wipe.h"
#include "pkcs11/log.h"

struct composed {
	CK_MECHANISM_TYPE type;
	CK_MECHANISM_TYPE base;    /* the raw mechanism the token performs */
	enum cr_hash hash;
	bool digest_info;          /* wrap the hash in a DER DigestInfo (PKCS#1 v1.5) */
};

static const struct composed composed[] = {
	{ CKM_ECDSA_SHA1, CKM_ECDSA, CR_HASH_SHA1, false },
	{ CKM_ECDSA_SHA224, CKM_ECDSA, CR_HASH_SHA224, false },
	{ CKM_ECDSA_SHA256, CKM_ECDSA, CR_HASH_SHA256, false },
	{ CKM_ECDSA_SHA384, CKM_ECDSA, CR_HASH_SHA384, false },
	{ CKM_ECDSA_SHA512, CKM_ECDSA, CR_HASH_SHA512, false },
	{ CKM_SHA1_RSA_PKCS, CKM_RSA_PKCS, CR_HASH_SHA1, true },
	{ CKM_SHA224_RSA_PKCS, CKM_RSA_PKCS, CR_HASH_SHA224, true },
	{ CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS, CR_HASH_SHA256, true },
	{ CKM_SHA384_RSA_PKCS, CKM_RSA_PKCS, CR_HASH_SHA384, true },
	{ CKM_SHA512_RSA_PKCS, CKM_RSA_PKCS, CR_HASH_SHA512, true },
};
#define N_COMPOSED (sizeof(composed) / sizeof(composed[0]))

/* Largest DigestInfo: 19-byte SHA-512 prefix plus 64 bytes. */
#define MAX_ENCODED 128

/* RSAES-OAEP decryption over the token's raw RSA, for labels SoftHSM 2.6 refuses. */
static const struct composed oaep = { CKM_RSA_PKCS_OAEP, CKM_RSA_X_509, CR_HASH_SHA1, false };

#define MAX_MODULUS 512   /* RSA-4096 */
#define MAX_LABEL 1024

struct host_op {
	const struct composed *c;
	/* OAEP only */
	enum cr_hash mgf_hash;
	CK_BYTE label[MAX_LABEL];
	size_t label_len;
	CK_BYTE plain[MAX_MODULUS];
	size_t plain_len;
	bool decrypted;
	enum token_op op;
	token_ref key;
	enum cr_hash hash;
	struct cr_digest *digest;
	CK_ULONG sig_len;          /* what the token's signature will measure */
	CK_BYTE encoded[MAX_ENCODED];
	size_t encoded_len;
	bool finished_digest;
};

/* ---- the token's own list, cached per slot ---- */

static CK_RV load_native(struct slot *slot)
{
	CK_MECHANISM_TYPE *list = NULL;
	CK_ULONG n = 0;
	CK_RV rv;

	if (slot->native_loaded)
		return CKR_OK;
	if (slot->ops->mechanism_list == NULL)
		goto store;
	rv = slot->ops->mechanism_list(slot->tok, NULL, &n);
	if (rv != CKR_OK)
		return rv;
	list = calloc(n + 1, sizeof(*list));
	if (list == NULL)
		return CKR_HOST_MEMORY;
	rv = slot->ops->mechanism_list(slot->tok, list, &n);
	if (rv != CKR_OK) {
		free(list);
		return rv;
	}
store:
	rv = module_lock();
	if (rv != CKR_OK) {
		free(list);
		return rv;
	}
	if (slot->native_loaded) {
		free(list); /* another thread was faster */
	} else {
		slot->native = list;
		slot->nnative = n;
		slot->native_loaded = true;
	}
	module_unlock();
	return CKR_OK;
}

void mech_forget(struct slot *slot)
{
	if (module_lock() != CKR_OK)
		return;
	free(slot->native);
	slot->native = NULL;
	slot->nnative = 0;
	slot->native_loaded = false;
	module_unlock();
}

static bool native_has(const struct slot *slot, CK_MECHANISM_TYPE type)
{
	for (CK_ULONG i = 0; i < slot->nnative; i++)
		if (slot->native[i] == type)
			return true;
	return false;
}

static const struct composed *find_composed(CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < N_COMPOSED; i++)
		if (composed[i].type == type)
			return &composed[i];
	return NULL;
}

/* Composed when the token lacks the mechanism but has its base. */
static const struct composed *composed_for(struct slot *slot, CK_MECHANISM_TYPE type)
{
	const struct composed *c = find_composed(type);

	if (c == NULL || load_native(slot) != CKR_OK)
		return NULL;
	if (native_has(slot, type) || !native_has(slot, c->base))
		return NULL;
	return c;
}

static bool is_oaep(const CK_MECHANISM *m)
{
	return m->mechanism == CKM_RSA_PKCS_OAEP && m->pParameter != NULL &&
	       m->ulParameterLen == sizeof(CK_RSA_PKCS_OAEP_PARAMS);
}

bool mech_composed(struct slot *slot, enum token_op op, const CK_MECHANISM *mech)
{
	if (op == TOKEN_OP_SIGN || op == TOKEN_OP_VERIFY)
		return composed_for(slot, mech->mechanism) != NULL;
	/*
	 * SoftHSM 2.6 refuses OAEP labels and a zero `source`, both of which
	 * clients send; any token with raw RSA can do without its own OAEP, so
	 * OAEP decryption is always decoded here, the same way for every token.
	 */
	if (op == TOKEN_OP_DECRYPT && is_oaep(mech))
		return load_native(slot) == CKR_OK && native_has(slot, CKM_RSA_X_509);
	return false;
}

CK_RV mech_list(struct slot *slot, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	CK_ULONG n;
	CK_RV rv = load_native(slot);

	if (rv != CKR_OK)
		return rv;
	n = slot->nnative;
	for (size_t i = 0; i < N_COMPOSED; i++)
		if (composed_for(slot, composed[i].type) != NULL)
			n++;
	if (list == NULL) {
		*count = n;
		return CKR_OK;
	}
	if (*count < n) {
		*count = n;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(list, slot->native, slot->nnative * sizeof(*list));
	n = slot->nnative;
	for (size_t i = 0; i < N_COMPOSED; i++)
		if (composed_for(slot, composed[i].type) != NULL)
			list[n++] = composed[i].type;
	*count = n;
	return CKR_OK;
}

CK_RV mech_info(struct slot *slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	const struct composed *c = composed_for(slot, type);
	CK_RV rv;

	if (c == NULL)
		return slot->ops->mechanism_info ? slot->ops->mechanism_info(slot->tok, type, info)
						 : CKR_MECHANISM_INVALID;
	rv = slot->ops->mechanism_info(slot->tok, c->base, info);
	if (rv == CKR_OK)
		info->flags &= CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_EC_F_P | CKF_EC_NAMEDCURVE |
			       CKF_EC_UNCOMPRESS;
	return rv;
}

/* ---- composed operations ---- */

/* The signature length follows from the key: 2 x field size for ECDSA, the modulus for RSA. */
static CK_RV signature_length(struct session *s, const struct composed *c, token_ref key, CK_ULONG *len)
{
	CK_BYTE params[64];
	CK_ATTRIBUTE a;
	enum cr_curve curve;
	CK_RV rv;

	if (c->base == CKM_ECDSA) {
		a = (CK_ATTRIBUTE){ CKA_EC_PARAMS, params, sizeof(params) };
		rv = s->slot->ops->get_attributes(s->slot->tok, s->ss, key, &a, 1);
		/* Named curves only: explicit parameters run longer than any OID here. */
		if (rv == CKR_BUFFER_TOO_SMALL)
			return CKR_CURVE_NOT_SUPPORTED;
		if (rv != CKR_OK)
			return rv == CKR_ATTRIBUTE_TYPE_INVALID ? CKR_KEY_TYPE_INCONSISTENT : rv;
		if (cr_curve_from_params(params, a.ulValueLen, &curve) != CR_OK)
			return CKR_CURVE_NOT_SUPPORTED;
		*len = 2 * cr_curve_field_size(curve);
		return CKR_OK;
	}
	a = (CK_ATTRIBUTE){ CKA_MODULUS, NULL, 0 };
	rv = s->slot->ops->get_attributes(s->slot->tok, s->ss, key, &a, 1);
	if (rv != CKR_OK)
		return rv == CKR_ATTRIBUTE_TYPE_INVALID ? CKR_KEY_TYPE_INCONSISTENT : rv;
	*len = a.ulValueLen;
	return CKR_OK;
}

static bool hash_of_mech(CK_MECHANISM_TYPE m, enum cr_hash *h)
{
	static const struct { CK_MECHANISM_TYPE m; enum cr_hash h; } map[] = {
		{ CKM_SHA_1, CR_HASH_SHA1 }, { CKM_SHA224, CR_HASH_SHA224 }, { CKM_SHA256, CR_HASH_SHA256 },
		{ CKM_SHA384, CR_HASH_SHA384 }, { CKM_SHA512, CR_HASH_SHA512 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].m == m) {
			*h = map[i].h;
			return true;
		}
	return false;
}

static bool hash_of_mgf(CK_RSA_PKCS_MGF_TYPE mgf, enum cr_hash *h)
{
	switch (mgf) {
	case CKG_MGF1_SHA1: *h = CR_HASH_SHA1; return true;
	case CKG_MGF1_SHA224: *h = CR_HASH_SHA224; return true;
	case CKG_MGF1_SHA256: *h = CR_HASH_SHA256; return true;
	case CKG_MGF1_SHA384: *h = CR_HASH_SHA384; return true;
	case CKG_MGF1_SHA512: *h = CR_HASH_SHA512; return true;
	default: return false;
	}
}

/*
 * Asks the token whether it would start the raw operation with this key
 * (key type and use, login, an expired PIN) and ends it again, so that
 * C_DecryptInit answers as the token's own mechanism would.
 */
static CK_RV probe_token_op(struct session *s, enum token_op op, CK_MECHANISM_TYPE type, token_ref key)
{
	CK_MECHANISM raw = { type, NULL, 0 };
	CK_RV rv = s->slot->ops->op_init(s->slot->tok, s->ss, op, &raw, key);

	if (rv == CKR_OK && s->slot->ops->op_abort != NULL)
		s->slot->ops->op_abort(s->slot->tok, s->ss, op);
	return rv;
}

static CK_RV oaep_init(struct session *s, const CK_MECHANISM *mech, token_ref key, struct host_op **out)
{
	const CK_RSA_PKCS_OAEP_PARAMS *p = mech->pParameter;
	struct host_op *h;
	CK_RV rv;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return CKR_HOST_MEMORY;
	h->c = &oaep;
	h->op = TOKEN_OP_DECRYPT;
	h->key = key;
	rv = CKR_MECHANISM_PARAM_INVALID;
	if (!hash_of_mech(p->hashAlg, &h->hash) || !hash_of_mgf(p->mgf, &h->mgf_hash) ||
	    (p->source != 0 && p->source != CKZ_DATA_SPECIFIED) ||
	    (p->pSourceData == NULL && p->ulSourceDataLen > 0) || p->ulSourceDataLen > sizeof(h->label))
		goto fail;
	if (p->ulSourceDataLen > 0)
		memcpy(h->label, p->pSourceData, p->ulSourceDataLen);
	h->label_len = p->ulSourceDataLen;
	rv = signature_length(s, &oaep, key, &h->sig_len); /* the modulus size, which proves an RSA key */
	if (rv == CKR_OK && h->sig_len > MAX_MODULUS)
		rv = CKR_KEY_SIZE_RANGE;
	if (rv == CKR_OK)
		rv = probe_token_op(s, TOKEN_OP_DECRYPT, CKM_RSA_X_509, key);
	if (rv != CKR_OK)
		goto fail;
	*out = h;
	return CKR_OK;
fail:
	free(h);
	return rv;
}

/* Raw RSA on the token, OAEP decoding here; the plaintext is kept until the caller has room for it. */
static CK_RV oaep_decrypt(struct session *s, struct host_op *h, const CK_BYTE *in, CK_ULONG in_len,
			  CK_BYTE *out, CK_ULONG *out_len)
{
	CK_MECHANISM raw = { CKM_RSA_X_509, NULL, 0 };
	CK_BYTE block[MAX_MODULUS];
	CK_ULONG block_len = sizeof(block);
	size_t plain_len = sizeof(h->plain);
	CK_RV rv;

	if (out == NULL && !h->decrypted) {
		*out_len = h->sig_len; /* an upper bound, as the standard allows */
		return CKR_OK;
	}
	if (!h->decrypted) {
		if (in_len != h->sig_len)
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		rv = s->slot->ops->op_init(s->slot->tok, s->ss, TOKEN_OP_DECRYPT, &raw, h->key);
		if (rv == CKR_OK)
			rv = s->slot->ops->op_oneshot(s->slot->tok, s->ss, TOKEN_OP_DECRYPT, in, in_len, block,
						      &block_len);
		if (rv == CKR_OK && cr_rsa_oaep_decode(h->hash, h->mgf_hash, h->label, h->label_len, block,
						       block_len, h->plain, &plain_len) != CR_OK)
			rv = CKR_ENCRYPTED_DATA_INVALID;
		cr_wipe(block, sizeof(block));
		if (rv != CKR_OK)
			return rv;
		h->plain_len = plain_len;
		h->decrypted = true;
	}
	if (out == NULL) {
		*out_len = h->plain_len;
		return CKR_OK;
	}
	if (*out_len < h->plain_len) {
		*out_len = h->plain_len;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(out, h->plain, h->plain_len);
	*out_len = h->plain_len;
	return CKR_OK;
}

CK_RV host_op_init(struct session *s, enum token_op op, const CK_MECHANISM *mech, token_ref key,
		   struct host_op **out)
{
	const struct composed *c;

	if (op == TOKEN_OP_DECRYPT && is_oaep(mech))
		return oaep_init(s, mech, key, out);
	c = composed_for(s->slot, mech->mechanism);
	struct host_op *h;
	CK_MECHANISM base;
	CK_RV rv;

	if (c == NULL)
		return CKR_MECHANISM_INVALID;
	if (mech->pParameter != NULL || mech->ulParameterLen != 0)
		return CKR_MECHANISM_PARAM_INVALID;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return CKR_HOST_MEMORY;
	h->c = c;
	h->op = op;
	h->key = key;
	/*
	 * The token's raw operation starts now, so that C_SignInit answers as
	 * the token's own mechanism would (key type and use, login, an expired
	 * PIN) and a C_Login(CKU_CONTEXT_SPECIFIC) finds it; the final step
	 * completes it, and the core aborts it if the operation ends otherwise.
	 */
	base = (CK_MECHANISM){ c->base, NULL, 0 };
	rv = s->slot->ops->op_init(s->slot->tok, s->ss, op, &base, key);
	if (rv != CKR_OK)
		goto fail;
	/* Reading the key's size also proves the handle names a key of the right type. */
	rv = signature_length(s, c, key, &h->sig_len);
	if (rv == CKR_OK && cr_digest_new(c->hash, &h->digest) != CR_OK)
		rv = CKR_HOST_MEMORY;
	if (rv != CKR_OK) {
		if (s->slot->ops->op_abort != NULL)
			s->slot->ops->op_abort(s->slot->tok, s->ss, op);
		goto fail;
	}
	*out = h;
	return CKR_OK;
fail:
	host_op_free(h);
	return rv;
}

void host_op_free(struct host_op *h)
{
	if (h == NULL)
		return;
	cr_digest_free(h->digest);
	cr_wipe(h, sizeof(*h));
	free(h);
}

/* Finishes hashing (once) and encodes the value the token signs. */
static CK_RV finish_digest(struct host_op *h)
{
	CK_BYTE hash[64];
	size_t hash_len = sizeof(hash);
	const uint8_t *prefix = NULL;
	size_t prefix_len = 0;

	if (h->finished_digest)
		return CKR_OK;
	if (cr_digest_final(h->digest, hash, &hash_len) != CR_OK)
		return CKR_GENERAL_ERROR;
	if (h->c->digest_info && cr_digestinfo_prefix(h->c->hash, &prefix, &prefix_len) != CR_OK)
		return CKR_GENERAL_ERROR;
	if (prefix_len + hash_len > sizeof(h->encoded))
		return CKR_GENERAL_ERROR;
	if (prefix_len > 0)
		memcpy(h->encoded, prefix, prefix_len);
	memcpy(h->encoded + prefix_len, hash, hash_len);
	h->encoded_len = prefix_len + hash_len;
	h->finished_digest = true;
	return CKR_OK;
}

/* The token's raw step over the encoded hash; a length query never reaches the token. */
static CK_RV raw_step(struct session *s, struct host_op *h, CK_BYTE *out, CK_ULONG *out_len)
{
	if (h->op == TOKEN_OP_SIGN) {
		if (out == NULL) {
			*out_len = h->sig_len;
			return CKR_OK;
		}
		if (*out_len < h->sig_len) {
			*out_len = h->sig_len;
			return CKR_BUFFER_TOO_SMALL;
		}
	}
	/* The token's operation, started by host_op_init, ends here. */
	return s->slot->ops->op_oneshot(s->slot->tok, s->ss, h->op, h->encoded, h->encoded_len, out, out_len);
}

CK_RV host_op_update(struct session *s, struct host_op *h, const CK_BYTE *in, CK_ULONG in_len)
{
	(void)s;
	if (h->c == &oaep)
		return CKR_FUNCTION_NOT_SUPPORTED; /* RSA decryption is single-part */
	if (h->finished_digest)
		return CKR_OPERATION_ACTIVE; /* a length query already closed the input */
	return cr_digest_update(h->digest, in, in_len) == CR_OK ? CKR_OK : CKR_GENERAL_ERROR;
}

CK_RV host_op_final(struct session *s, struct host_op *h, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	if (h->c == &oaep)
		return CKR_FUNCTION_NOT_SUPPORTED;
	rv = finish_digest(h);

	return rv == CKR_OK ? raw_step(s, h, out, out_len) : rv;
}

CK_RV host_op_oneshot(struct session *s, struct host_op *h, const CK_BYTE *in, CK_ULONG in_len,
		      CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv = CKR_OK;

	if (h->c == &oaep)
		return oaep_decrypt(s, h, in, in_len, out, out_len);
	if (!h->finished_digest)
		rv = host_op_update(s, h, in, in_len);
	if (rv == CKR_OK)
		rv = host_op_final(s, h, out, out_len);
	return rv;
}
