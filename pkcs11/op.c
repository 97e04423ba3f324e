#include "pkcs11/op.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cr.h"
#include "crypto/digest.h"
#include "crypto/ecdsa.h"
#include "crypto/rsa_pad.h"
#include "crypto/verify.h"
#include "crypto/wipe.h"
#include "crypto/x509.h"
#include "pkcs11/log.h"
#include "pkcs11/mech.h"
#include "pkcs11/mech_param.h"
#include "pkcs11/core.h"
#include "pkcs11/handle.h"
#include "pkcs11/session.h"
#include "pkcs11/slots.h"

#define MAX_MODULUS 512     /* RSA-4096: the largest key the host encodes for */
#define MAX_LABEL 1024      /* an OAEP label */
#define MAX_EXPONENT 16
#define MAX_EC_PARAMS 64    /* a named curve's OID; explicit parameters run longer */
#define MAX_EC_POINT (3 + 1 + 2 * CR_EC_MAX_FIELD_SIZE)

/* Whether an operation has gone single-part or multi-part yet. */
enum op_mode { MODE_OPEN, MODE_SINGLE, MODE_MULTI };

/* A composed or host-only operation: what the host keeps between the calls. */
struct op_run {
	const struct mech_recipe *r;
	enum mech_strategy strategy;
	enum token_op op;
	token_ref key;
	CK_MECHANISM_TYPE base;     /* composed: the token's raw mechanism, started at init */
	/* the key */
	size_t k;                   /* RSA: the modulus in bytes; EC: the size of r||s */
	size_t mod_bits;            /* RSA */
	uint8_t *spki;              /* host-only: the public key, as SubjectPublicKeyInfo */
	size_t spki_len;
	/* PSS and OAEP parameters */
	enum cr_hash param_hash, mgf_hash;
	size_t salt_len;
	CK_BYTE label[MAX_LABEL];
	size_t label_len;
	/*
	 * The message, taken once by the first step that computes: the hash,
	 * or the whole input of a mechanism that does not hash. A length query
	 * leaves it to the next call, which PKCS#11 has pass the same data.
	 */
	struct cr_digest *digest;
	bool input_done;
	CK_BYTE value[MAX_MODULUS];
	size_t value_len;
	/* EdDSA: the whole message, of any length, which it hashes itself */
	CK_BYTE *message;
	size_t message_len;
	/* a decrypted plaintext, kept until the caller has room for it */
	bool have_result;
	CK_BYTE result[MAX_MODULUS];
	size_t result_len;
};

struct op_kind {
	bool active;
	enum mech_strategy strategy;
	enum op_mode mode;
	struct op_run *run;         /* composed and host-only operations */
};

struct op_state {
	struct op_kind kind[TOKEN_OP_COUNT];
};

static const CK_BYTE no_data[1];

/* ---- the token ---- */

static CK_RV token_init(struct session *s, enum token_op op, const CK_MECHANISM *mech, token_ref key)
{
	if (s->slot->ops->op_init == NULL)
		return CKR_MECHANISM_INVALID;
	return s->slot->ops->op_init(s->slot->tok, s->ss, op, mech, key);
}

static CK_RV token_oneshot(struct session *s, enum token_op op, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
			   CK_ULONG *out_len)
{
	if (s->slot->ops->op_oneshot == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return s->slot->ops->op_oneshot(s->slot->tok, s->ss, op, in, in_len, out, out_len);
}

/* The token may still hold an operation the engine ends with an error: end it there too. */
static void token_abort(struct session *s, enum token_op op)
{
	if (s->slot->ops->op_abort != NULL)
		s->slot->ops->op_abort(s->slot->tok, s->ss, op);
}

static CK_RV token_attributes(struct session *s, token_ref key, CK_ATTRIBUTE *a, CK_ULONG n)
{
	if (s->slot->ops->get_attributes == NULL)
		return CKR_FUNCTION_NOT_SUPPORTED;
	return s->slot->ops->get_attributes(s->slot->tok, s->ss, key, a, n);
}

/* ---- the session's operations ---- */

static void run_free(struct op_run *run)
{
	if (run == NULL)
		return;
	cr_digest_free(run->digest);
	free(run->spki);
	if (run->message != NULL)
		cr_wipe(run->message, run->message_len);
	free(run->message);
	cr_wipe(run, sizeof(*run)); /* plaintexts and hashes of what was signed */
	free(run);
}

static void free_state(struct op_state *st)
{
	if (st == NULL)
		return;
	for (int i = 0; i < TOKEN_OP_COUNT; i++)
		run_free(st->kind[i].run);
	free(st);
}

/* The session's operations, made on its first C_*Init. */
static CK_RV state_of(struct session *s, struct op_state **out)
{
	if (s->op_state == NULL) {
		s->op_state = calloc(1, sizeof(*s->op_state));
		if (s->op_state == NULL)
			return CKR_HOST_MEMORY;
		s->op_state_free = free_state;
	}
	*out = s->op_state;
	return CKR_OK;
}

static struct op_kind *active_kind(struct session *s, enum token_op op)
{
	struct op_state *st = s->op_state;

	return st != NULL && st->kind[op].active ? &st->kind[op] : NULL;
}

/* Ends an operation. One that failed may still be held by the token, unless the host alone did it. */
static void end_operation(struct session *s, enum token_op op, struct op_kind *k, bool failed)
{
	if (failed && k->strategy != MECH_HOST)
		token_abort(s, op);
	run_free(k->run);
	*k = (struct op_kind){ false, MECH_NATIVE, MODE_OPEN, NULL };
}

/* ---- parameters and keys ---- */

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

/* The PSS or OAEP parameters the host encodes with; any other composed mechanism takes none. */
static CK_RV take_parameters(struct op_run *run, const CK_MECHANISM *mech)
{
	const CK_RSA_PKCS_PSS_PARAMS *pss = mech->pParameter;
	const CK_RSA_PKCS_OAEP_PARAMS *oaep = mech->pParameter;

	switch (run->r->family) {
	case MECH_PSS:
		if (pss == NULL || mech->ulParameterLen != sizeof(*pss) || !hash_of_mech(pss->hashAlg, &run->param_hash) ||
		    !hash_of_mgf(pss->mgf, &run->mgf_hash) || (run->r->hashes && run->param_hash != run->r->hash))
			return CKR_MECHANISM_PARAM_INVALID;
		run->salt_len = pss->sLen;
		return CKR_OK;
	case MECH_OAEP:
		if (oaep == NULL || mech->ulParameterLen != sizeof(*oaep) ||
		    !hash_of_mech(oaep->hashAlg, &run->param_hash) || !hash_of_mgf(oaep->mgf, &run->mgf_hash) ||
		    (oaep->source != 0 && oaep->source != CKZ_DATA_SPECIFIED) ||
		    (oaep->pSourceData == NULL && oaep->ulSourceDataLen > 0) ||
		    oaep->ulSourceDataLen > sizeof(run->label))
			return CKR_MECHANISM_PARAM_INVALID;
		if (oaep->ulSourceDataLen > 0)
			memcpy(run->label, oaep->pSourceData, oaep->ulSourceDataLen);
		run->label_len = oaep->ulSourceDataLen;
		return CKR_OK;
	default:
		return mech->pParameter == NULL && mech->ulParameterLen == 0 ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
	}
}

/* The modulus's size in bytes and bits, from its big-endian value (leading zeros allowed). */
static CK_RV take_modulus(struct op_run *run, const CK_BYTE *n, CK_ULONG len)
{
	size_t bits;

	while (len > 0 && n[0] == 0) {
		n++;
		len--;
	}
	if (len == 0)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (len > MAX_MODULUS)
		return CKR_KEY_SIZE_RANGE;
	bits = 8 * (len - 1);
	for (CK_BYTE top = n[0]; top != 0; top >>= 1)
		bits++;
	run->k = len;
	run->mod_bits = bits;
	return CKR_OK;
}

/* A named curve's signature size (r||s, or R||S for EdDSA) from CKA_EC_PARAMS: a curve of the mechanism. */
static CK_RV take_curve(struct op_run *run, const CK_BYTE *params, CK_ULONG len, enum cr_curve *curve)
{
	bool edwards = run->r->family == MECH_EDDSA;

	if (cr_curve_from_params(params, len, curve) != CR_OK || (*curve == CR_CURVE_ED25519) != edwards ||
	    *curve == CR_CURVE_X25519)
		return CKR_CURVE_NOT_SUPPORTED;
	run->k = 2 * cr_curve_field_size(*curve);
	return CKR_OK;
}

/* The key's size, read through the token: it proves the key is of the mechanism's kind. */
static CK_RV read_key_size(struct session *s, struct op_run *run)
{
	CK_BYTE buf[MAX_MODULUS + 1]; /* a modulus may come with a leading zero */
	bool ec = run->r->family == MECH_ECDSA;
	CK_ATTRIBUTE a = { ec ? CKA_EC_PARAMS : CKA_MODULUS, buf, ec ? MAX_EC_PARAMS : sizeof(buf) };
	enum cr_curve curve;
	CK_RV rv = token_attributes(s, run->key, &a, 1);

	if (rv == CKR_BUFFER_TOO_SMALL)
		return ec ? CKR_CURVE_NOT_SUPPORTED : CKR_KEY_SIZE_RANGE;
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (rv != CKR_OK)
		return rv;
	return ec ? take_curve(run, buf, a.ulValueLen, &curve) : take_modulus(run, buf, a.ulValueLen);
}

/* A public key the token gave that no public key can be: its answer was wrong. */
static CK_RV malformed_key(const struct op_run *run, int rc)
{
	if (rc == CR_E_MEMORY)
		return CKR_HOST_MEMORY;
	log_msg(LL_WARNING, "the token's public key for %s is malformed (%s)", log_mech_name(run->r->type),
		cr_rc_name(rc));
	return CKR_DEVICE_ERROR;
}

static CK_RV read_rsa_public_key(struct session *s, struct op_run *run)
{
	CK_BYTE n[MAX_MODULUS + 1], e[MAX_EXPONENT];
	CK_ATTRIBUTE a[] = { { CKA_MODULUS, n, sizeof(n) }, { CKA_PUBLIC_EXPONENT, e, sizeof(e) } };
	CK_RV rv = token_attributes(s, run->key, a, 2);
	int rc;

	if (rv == CKR_BUFFER_TOO_SMALL)
		return CKR_KEY_SIZE_RANGE;
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (rv == CKR_OK)
		rv = take_modulus(run, n, a[0].ulValueLen);
	if (rv != CKR_OK)
		return rv;
	rc = cr_spki_from_rsa(n, a[0].ulValueLen, e, a[1].ulValueLen, &run->spki, &run->spki_len);
	return rc == CR_OK ? CKR_OK : malformed_key(run, rc);
}

static CK_RV read_ec_public_key(struct session *s, struct op_run *run)
{
	CK_BYTE params[MAX_EC_PARAMS], point[MAX_EC_POINT];
	CK_ATTRIBUTE a[] = { { CKA_EC_PARAMS, params, sizeof(params) }, { CKA_EC_POINT, point, sizeof(point) } };
	enum cr_curve curve;
	CK_RV rv = token_attributes(s, run->key, a, 2);
	int rc;

	if (rv == CKR_BUFFER_TOO_SMALL)
		return CKR_CURVE_NOT_SUPPORTED;
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return CKR_KEY_TYPE_INCONSISTENT;
	if (rv == CKR_OK)
		rv = take_curve(run, params, a[0].ulValueLen, &curve);
	if (rv != CKR_OK)
		return rv;
	rc = cr_spki_from_ec(curve, point, a[1].ulValueLen, &run->spki, &run->spki_len);
	return rc == CR_OK ? CKR_OK : malformed_key(run, rc);
}

/* The public key a host-only operation uses: a key of the mechanism's kind that may do this. */
static CK_RV read_public_key(struct session *s, struct op_run *run)
{
	CK_KEY_TYPE type = 0;
	CK_BBOOL allowed = CK_FALSE;
	bool edwards = run->r->family == MECH_EDDSA, ec = run->r->family == MECH_ECDSA || edwards;
	CK_ATTRIBUTE a[] = {
		{ CKA_KEY_TYPE, &type, sizeof(type) },
		{ run->op == TOKEN_OP_VERIFY ? CKA_VERIFY : CKA_ENCRYPT, &allowed, sizeof(allowed) },
	};
	CK_RV rv = token_attributes(s, run->key, a, 2);

	/* No key type: not a key at all; no CKA_VERIFY or CKA_ENCRYPT: a key that cannot (a private key). */
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return a[0].ulValueLen == CK_UNAVAILABLE_INFORMATION ? CKR_KEY_HANDLE_INVALID
								      : CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (rv != CKR_OK)
		return rv;
	if (allowed == CK_FALSE)
		return CKR_KEY_FUNCTION_NOT_PERMITTED;
	if (type != (edwards ? CKK_EC_EDWARDS : ec ? CKK_EC : CKK_RSA))
		return CKR_KEY_TYPE_INCONSISTENT;
	return ec ? read_ec_public_key(s, run) : read_rsa_public_key(s, run);
}

/* Whether the key is large enough for the encoding the parameters ask for. */
static CK_RV check_key_fits(const struct op_run *run)
{
	const uint8_t *prefix;
	size_t hlen, prefix_len;

	switch (run->r->family) {
	case MECH_PSS:
		/* RFC 8017 9.1.1 step 3: emLen = ceil((modBits - 1) / 8) >= hLen + sLen + 2. */
		hlen = cr_hash_size(run->param_hash);
		if ((run->mod_bits + 6) / 8 < hlen + 2 || run->salt_len > (run->mod_bits + 6) / 8 - hlen - 2)
			return CKR_MECHANISM_PARAM_INVALID;
		return CKR_OK;
	case MECH_OAEP:
		return run->k >= 2 * cr_hash_size(run->param_hash) + 2 ? CKR_OK : CKR_KEY_SIZE_RANGE;
	case MECH_PKCS1:
		if (!run->r->hashes)
			return CKR_OK;
		if (cr_digestinfo_prefix(run->r->hash, &prefix, &prefix_len) != CR_OK)
			return CKR_GENERAL_ERROR;
		return run->k >= prefix_len + cr_hash_size(run->r->hash) + 11 ? CKR_OK : CKR_KEY_SIZE_RANGE;
	default:
		return CKR_OK;
	}
}

static CK_RV start_digest(struct op_run *run)
{
	int rc = cr_digest_new(run->r->hash, &run->digest);

	return rc == CR_OK ? CKR_OK : rc == CR_E_MEMORY ? CKR_HOST_MEMORY : CKR_GENERAL_ERROR;
}

/* ---- starting an operation ---- */

static CK_RV start_composed(struct session *s, struct op_run *run, const CK_MECHANISM *mech)
{
	CK_MECHANISM base = { run->base, NULL, 0 };
	CK_RV rv;

	/* The token's own PSS takes the caller's parameters; the host only hashes. */
	if (run->base == CKM_RSA_PKCS_PSS)
		base = (CK_MECHANISM){ run->base, mech->pParameter, mech->ulParameterLen };
	/*
	 * The token's raw operation starts now, so that C_*Init answers as the
	 * token's own mechanism would (key type and use, login, an expired
	 * PIN) and a C_Login(CKU_CONTEXT_SPECIFIC) finds it; the last step
	 * carries it out, and an operation that ends otherwise aborts it.
	 */
	rv = token_init(s, run->op, &base, run->key);
	if (rv != CKR_OK)
		return rv;
	rv = read_key_size(s, run);
	if (rv == CKR_OK)
		rv = check_key_fits(run);
	if (rv == CKR_OK && run->r->hashes)
		rv = start_digest(run);
	if (rv != CKR_OK)
		token_abort(s, run->op);
	return rv;
}

static CK_RV start_host(struct session *s, struct op_run *run)
{
	CK_RV rv;

	if (run->op == TOKEN_OP_DIGEST)
		return start_digest(run);
	rv = read_public_key(s, run);
	if (rv == CKR_OK)
		rv = check_key_fits(run);
	if (rv == CKR_OK && run->r->hashes)
		rv = start_digest(run);
	return rv;
}

static void trace_strategy(CK_MECHANISM_TYPE type, const struct mech_plan *plan)
{
	if (!log_enabled(LL_DEBUG))
		return;
	if (plan->strategy == MECH_COMPOSED)
		log_msg(LL_DEBUG, "%s: hashed and padded here, %s on the token", log_mech_name(type), log_mech_name(plan->base));
	else
		log_msg(LL_DEBUG, "%s: %s", log_mech_name(type), plan->strategy == MECH_HOST ? "on the host" : "the token's own");
}

static CK_RV start(struct session *s, enum token_op op, const CK_MECHANISM *mech, const struct mech_plan *plan,
		   token_ref key, struct op_run **out)
{
	struct op_run *run;
	CK_RV rv;

	trace_strategy(mech->mechanism, plan);
	if (plan->strategy == MECH_NATIVE)
		return token_init(s, op, mech, key);
	run = calloc(1, sizeof(*run));
	if (run == NULL)
		return CKR_HOST_MEMORY;
	*run = (struct op_run){ .r = plan->recipe, .strategy = plan->strategy, .op = op, .key = key, .base = plan->base };
	rv = take_parameters(run, mech);
	if (rv == CKR_OK)
		rv = plan->strategy == MECH_COMPOSED ? start_composed(s, run, mech) : start_host(s, run);
	if (rv != CKR_OK) {
		run_free(run);
		return rv;
	}
	*out = run;
	return CKR_OK;
}

CK_RV op_init(struct session *s, enum token_op op, const CK_MECHANISM *mech, CK_OBJECT_HANDLE key)
{
	CK_RV param_rv = mech_param_check(mech), rv;
	struct op_state *st;
	struct mech_plan plan;
	struct op_run *run = NULL;
	token_ref ref = 0;

	/* A NULL pointer inside the parameter is an argument error: it comes before the operation state. */
	if (param_rv == CKR_ARGUMENTS_BAD)
		return param_rv;
	rv = state_of(s, &st);
	if (rv != CKR_OK)
		return rv;
	if (st->kind[op].active)
		return CKR_OPERATION_ACTIVE;
	if (param_rv != CKR_OK)
		return param_rv;
	if (op != TOKEN_OP_DIGEST) {
		rv = object_ref_of(s->slot, key, &ref);
		if (rv != CKR_OK)
			return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
	}
	rv = mech_plan(s->slot, op, mech->mechanism, &plan);
	if (rv == CKR_OK)
		rv = start(s, op, mech, &plan, ref, &run);
	/* The token's "no such object" is a bad key here, whatever the strategy. */
	if (rv == CKR_OBJECT_HANDLE_INVALID && op != TOKEN_OP_DIGEST)
		rv = CKR_KEY_HANDLE_INVALID;
	if (rv == CKR_OK)
		st->kind[op] = (struct op_kind){ true, plan.strategy, MODE_OPEN, run };
	return rv;
}

/* ---- the steps of composed and host-only operations ---- */

/* Takes the message, once: the rest of the hash, or the whole input. */
static CK_RV take_input(struct op_run *run, const CK_BYTE *in, CK_ULONG in_len)
{
	size_t len = sizeof(run->value);

	if (run->input_done)
		return CKR_OK;
	if (run->digest != NULL) {
		if (cr_digest_update(run->digest, in, in_len) != CR_OK ||
		    cr_digest_final(run->digest, run->value, &len) != CR_OK)
			return CKR_GENERAL_ERROR;
		run->value_len = len;
	} else if (run->r->family == MECH_EDDSA) {
		run->message = malloc(in_len > 0 ? in_len : 1);
		if (run->message == NULL)
			return CKR_HOST_MEMORY;
		memcpy(run->message, in, in_len);
		run->message_len = in_len;
	} else {
		if (in_len > sizeof(run->value))
			return CKR_DATA_LEN_RANGE;
		memcpy(run->value, in, in_len);
		run->value_len = in_len;
	}
	run->input_done = true;
	return CKR_OK;
}

/*
 * The length rules for a result whose size is known before it is computed:
 * true when the caller has room for it; otherwise *rv is the answer (the
 * length, or CKR_BUFFER_TOO_SMALL) and nothing was computed.
 */
static bool has_room(const CK_BYTE *out, CK_ULONG *out_len, size_t size, CK_RV *rv)
{
	if (out != NULL && *out_len >= size)
		return true;
	*rv = out == NULL ? CKR_OK : CKR_BUFFER_TOO_SMALL;
	*out_len = size;
	return false;
}

/* Hands over a result computed earlier, with the same length rules. */
static CK_RV deliver(const CK_BYTE *data, size_t len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	if (!has_room(out, out_len, len, &rv))
		return rv;
	memcpy(out, data, len);
	*out_len = len;
	return CKR_OK;
}

/* What a PKCS#1 v1.5 signature covers: the DigestInfo of the hash computed here, or the caller's data. */
static CK_RV pkcs1_payload(const struct op_run *run, CK_BYTE info[CR_DIGESTINFO_MAX_SIZE], const CK_BYTE **data,
			   size_t *len)
{
	*data = run->value;
	*len = run->value_len;
	if (!run->r->hashes)
		return CKR_OK;
	*data = info;
	*len = CR_DIGESTINFO_MAX_SIZE;
	return cr_rsa_digestinfo(run->r->hash, run->value, run->value_len, info, len) == CR_OK ? CKR_OK
											     : CKR_GENERAL_ERROR;
}

/* What the token's raw mechanism signs (or verifies): the hash, a DigestInfo, or a whole padded block. */
static CK_RV encode_for_token(const struct op_run *run, CK_BYTE *block, size_t *len)
{
	CK_BYTE info[CR_DIGESTINFO_MAX_SIZE];
	const CK_BYTE *data = run->value;
	size_t data_len = run->value_len;
	CK_RV rv;

	switch (run->r->family) {
	case MECH_ECDSA:
		break; /* the hash itself: the token cuts it to the curve's size as ECDSA does */
	case MECH_PKCS1:
		rv = pkcs1_payload(run, info, &data, &data_len);
		if (rv != CKR_OK)
			return rv;
		if (run->base != CKM_RSA_X_509)
			break; /* the token pads */
		*len = run->k;
		return cr_rsa_pad_pkcs1_type1(data, data_len, block, run->k) == CR_OK ? CKR_OK : CKR_DATA_LEN_RANGE;
	case MECH_PSS:
		if (data_len != cr_hash_size(run->param_hash))
			return CKR_DATA_LEN_RANGE;
		if (run->base != CKM_RSA_X_509)
			break;
		*len = run->k;
		return cr_rsa_pss_encode(run->param_hash, run->mgf_hash, run->salt_len, run->mod_bits, data, data_len,
					 block, run->k) == CR_OK
			       ? CKR_OK
			       : CKR_GENERAL_ERROR;
	default:
		return CKR_GENERAL_ERROR;
	}
	memcpy(block, data, data_len);
	*len = data_len;
	return CKR_OK;
}

static CK_RV sign_step(struct session *s, struct op_run *run, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
		       CK_ULONG *out_len)
{
	CK_BYTE block[MAX_MODULUS];
	size_t len = sizeof(block);
	CK_RV rv;

	/* A length query or a short buffer never reaches the token: the key says how long the signature is. */
	if (!has_room(out, out_len, run->k, &rv))
		return rv;
	rv = take_input(run, in, in_len);
	if (rv == CKR_OK)
		rv = encode_for_token(run, block, &len);
	if (rv == CKR_OK)
		rv = token_oneshot(s, TOKEN_OP_SIGN, block, len, out, out_len);
	return rv;
}

static CK_RV verdict(int rc)
{
	switch (rc) {
	case CR_OK: return CKR_OK;
	case CR_E_SIGNATURE: return CKR_SIGNATURE_INVALID;
	case CR_E_SIGNATURE_LEN: return CKR_SIGNATURE_LEN_RANGE;
	case CR_E_DATA: return CKR_DATA_LEN_RANGE; /* more data than the key can have signed */
	case CR_E_MEMORY: return CKR_HOST_MEMORY;
	default: return CKR_GENERAL_ERROR;
	}
}

/* CKM_RSA_X_509: the signature's public-key image is the data, left-padded with zeros. */
static CK_RV verify_raw_rsa(const struct op_run *run, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_BYTE want[MAX_MODULUS] = { 0 }, got[MAX_MODULUS];
	size_t got_len = sizeof(got);
	int rc;

	if (sig_len != run->k)
		return CKR_SIGNATURE_LEN_RANGE;
	if (run->value_len > run->k)
		return CKR_DATA_LEN_RANGE;
	memcpy(want + run->k - run->value_len, run->value, run->value_len);
	rc = cr_rsa_public_raw(run->spki, run->spki_len, sig, sig_len, got, &got_len);
	if (rc == CR_E_DATA)
		return CKR_SIGNATURE_INVALID; /* not below the modulus */
	if (rc != CR_OK)
		return verdict(rc);
	return got_len == run->k && memcmp(got, want, run->k) == 0 ? CKR_OK : CKR_SIGNATURE_INVALID;
}

static CK_RV verify_on_host(const struct op_run *run, const CK_BYTE *sig, CK_ULONG sig_len)
{
	CK_BYTE info[CR_DIGESTINFO_MAX_SIZE];
	const CK_BYTE *data = run->value;
	size_t data_len = run->value_len;
	CK_RV rv;

	switch (run->r->family) {
	case MECH_ECDSA:
		if (data_len == 0)
			return CKR_DATA_LEN_RANGE;
		return verdict(cr_verify_ecdsa(run->spki, run->spki_len, data, data_len, sig, sig_len));
	case MECH_PKCS1:
		rv = pkcs1_payload(run, info, &data, &data_len);
		if (rv != CKR_OK)
			return rv;
		return verdict(cr_verify_rsa_pkcs1(run->spki, run->spki_len, data, data_len, sig, sig_len));
	case MECH_PSS:
		if (data_len != cr_hash_size(run->param_hash))
			return CKR_DATA_LEN_RANGE;
		return verdict(cr_verify_rsa_pss(run->spki, run->spki_len, run->param_hash, run->mgf_hash,
						 run->salt_len, data, data_len, sig, sig_len));
	case MECH_X509:
		return verify_raw_rsa(run, sig, sig_len);
	case MECH_EDDSA:
		return verdict(cr_verify_ed25519(run->spki, run->spki_len, run->message, run->message_len, sig, sig_len));
	default:
		return CKR_GENERAL_ERROR;
	}
}

/* For verification, sig and *sig_len are the signature to check (token.h's convention). */
static CK_RV verify_step(struct session *s, struct op_run *run, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *sig,
			 CK_ULONG *sig_len)
{
	CK_BYTE block[MAX_MODULUS];
	size_t len = sizeof(block);
	CK_RV rv = take_input(run, in, in_len);

	if (rv != CKR_OK)
		return rv;
	if (run->strategy == MECH_HOST)
		return verify_on_host(run, sig, *sig_len);
	rv = encode_for_token(run, block, &len);
	return rv == CKR_OK ? token_oneshot(s, TOKEN_OP_VERIFY, block, len, sig, sig_len) : rv;
}

/* The k-byte block whose public-key image is the ciphertext. */
static CK_RV encode_for_encryption(const struct op_run *run, CK_BYTE *block)
{
	int rc;

	switch (run->r->family) {
	case MECH_X509:
		if (run->value_len > run->k)
			return CKR_DATA_LEN_RANGE;
		memset(block, 0, run->k - run->value_len);
		memcpy(block + run->k - run->value_len, run->value, run->value_len);
		return CKR_OK;
	case MECH_PKCS1:
		rc = cr_rsa_pad_pkcs1_type2(run->value, run->value_len, block, run->k);
		break;
	case MECH_OAEP:
		rc = cr_rsa_oaep_encode(run->param_hash, run->mgf_hash, run->label, run->label_len, run->value,
					run->value_len, block, run->k);
		break;
	default:
		return CKR_GENERAL_ERROR;
	}
	return rc == CR_OK ? CKR_OK : rc == CR_E_ARGS ? CKR_DATA_LEN_RANGE : CKR_GENERAL_ERROR;
}

static CK_RV encrypt_step(struct op_run *run, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_BYTE block[MAX_MODULUS];
	size_t len;
	CK_RV rv;
	int rc;

	if (!has_room(out, out_len, run->k, &rv))
		return rv;
	len = *out_len;
	rv = take_input(run, in, in_len);
	if (rv == CKR_OK)
		rv = encode_for_encryption(run, block);
	if (rv == CKR_OK) {
		rc = cr_rsa_public_raw(run->spki, run->spki_len, block, run->k, out, &len);
		/* Raw RSA of a value not below the modulus. */
		rv = rc == CR_OK ? CKR_OK : rc == CR_E_DATA ? CKR_DATA_INVALID : verdict(rc);
		if (rv == CKR_OK)
			*out_len = len;
	}
	cr_wipe(block, sizeof(block));
	return rv;
}

/* Raw RSA decryption on the token, then the padding checked here. */
static CK_RV unpad_on_host(struct op_run *run, CK_BYTE *block, CK_ULONG block_len)
{
	size_t len = sizeof(run->result);
	int rc;

	/* A token may leave out the leading zeros of the k-byte block. */
	if (block_len > run->k)
		return CKR_DEVICE_ERROR;
	memmove(block + run->k - block_len, block, block_len);
	memset(block, 0, run->k - block_len);
	if (run->r->family == MECH_OAEP)
		rc = cr_rsa_oaep_decode(run->param_hash, run->mgf_hash, run->label, run->label_len, block, run->k,
					run->result, &len);
	else
		rc = cr_rsa_unpad_pkcs1_type2(block, run->k, run->result, &len);
	if (rc != CR_OK)
		return rc == CR_E_DATA ? CKR_ENCRYPTED_DATA_INVALID : CKR_GENERAL_ERROR;
	run->result_len = len;
	run->have_result = true;
	return CKR_OK;
}

static CK_RV decrypt_step(struct session *s, struct op_run *run, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out,
			  CK_ULONG *out_len)
{
	CK_BYTE block[MAX_MODULUS];
	CK_ULONG block_len = sizeof(block);
	CK_RV rv;

	if (!run->have_result) {
		if (out == NULL) {
			*out_len = run->k; /* an upper bound, as the standard allows */
			return CKR_OK;
		}
		if (in_len != run->k)
			return CKR_ENCRYPTED_DATA_LEN_RANGE;
		rv = token_oneshot(s, TOKEN_OP_DECRYPT, in, in_len, block, &block_len);
		if (rv == CKR_OK)
			rv = unpad_on_host(run, block, block_len);
		cr_wipe(block, sizeof(block));
		if (rv != CKR_OK)
			return rv;
	}
	return deliver(run->result, run->result_len, out, out_len);
}

static CK_RV digest_step(struct op_run *run, const CK_BYTE *in, CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	CK_RV rv;

	if (!has_room(out, out_len, cr_hash_size(run->r->hash), &rv))
		return rv;
	rv = take_input(run, in, in_len);
	return rv == CKR_OK ? deliver(run->value, run->value_len, out, out_len) : rv;
}

static CK_RV run_step(struct session *s, struct op_run *run, enum op_step step, const CK_BYTE *in,
		      CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	/* Only a mechanism that hashes its message takes it in parts; the others are single-part. */
	if (step != OP_ONESHOT && !run->r->hashes)
		return CKR_FUNCTION_NOT_SUPPORTED;
	if (step == OP_UPDATE) {
		if (run->input_done)
			return CKR_OPERATION_ACTIVE; /* the final step has the message already */
		return cr_digest_update(run->digest, in, in_len) == CR_OK ? CKR_OK : CKR_GENERAL_ERROR;
	}
	if (step == OP_FINAL)
		in_len = 0; /* no more of the message */
	switch (run->op) {
	case TOKEN_OP_SIGN:
		return sign_step(s, run, in, in_len, out, out_len);
	case TOKEN_OP_VERIFY:
		return verify_step(s, run, in, in_len, out, out_len);
	case TOKEN_OP_ENCRYPT:
		return encrypt_step(run, in, in_len, out, out_len);
	case TOKEN_OP_DECRYPT:
		return decrypt_step(s, run, in, in_len, out, out_len);
	case TOKEN_OP_DIGEST:
		return digest_step(run, in, in_len, out, out_len);
	default:
		return CKR_GENERAL_ERROR;
	}
}

static CK_RV native_step(struct session *s, enum token_op op, enum op_step step, const CK_BYTE *in,
			 CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	const struct token_ops *ops = s->slot->ops;

	switch (step) {
	case OP_ONESHOT:
		return token_oneshot(s, op, in, in_len, out, out_len);
	case OP_UPDATE:
		return ops->op_update != NULL ? ops->op_update(s->slot->tok, s->ss, op, in, in_len, out, out_len)
					      : CKR_FUNCTION_NOT_SUPPORTED;
	case OP_FINAL:
		return ops->op_final != NULL ? ops->op_final(s->slot->tok, s->ss, op, out, out_len)
					     : CKR_FUNCTION_NOT_SUPPORTED;
	}
	return CKR_GENERAL_ERROR;
}

/* ---- the steps every strategy shares ---- */

/* Whether a step left the operation going: an update that worked, a length query, a short buffer. */
static bool keeps_going(enum token_op op, enum op_step step, CK_RV rv, const CK_BYTE *out)
{
	if (step == OP_UPDATE)
		return rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL;
	if (op == TOKEN_OP_VERIFY)
		return false;
	return rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && out == NULL);
}

CK_RV op_step(struct session *s, enum token_op op, enum op_step step, const CK_BYTE *in, CK_ULONG in_len,
	      CK_BYTE *out, CK_ULONG *out_len)
{
	struct op_kind *k = active_kind(s, op);
	enum op_mode mode = step == OP_ONESHOT ? MODE_SINGLE : MODE_MULTI;
	CK_RV rv;

	if (k == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	/* The step the operation has gone past stays refused, and leaves it as it was. */
	if (k->mode != MODE_OPEN && k->mode != mode)
		return CKR_OPERATION_ACTIVE;
	k->mode = mode;
	if (in == NULL)
		in = no_data; /* empty input is valid data, which SoftHSM refuses as a NULL pointer */
	if (k->strategy == MECH_NATIVE)
		rv = native_step(s, op, step, in, in_len, out, out_len);
	else
		rv = run_step(s, k->run, step, in, in_len, out, out_len);
	if (!keeps_going(op, step, rv, out))
		end_operation(s, op, k, rv != CKR_OK);
	return rv;
}

CK_RV op_digest_key(struct session *s, CK_OBJECT_HANDLE key)
{
	struct op_kind *k = active_kind(s, TOKEN_OP_DIGEST);
	const struct token_ops *ops = s->slot->ops;
	token_ref ref;
	CK_RV rv;

	if (k == NULL)
		return CKR_OPERATION_NOT_INITIALIZED;
	if (k->mode == MODE_SINGLE)
		return CKR_OPERATION_ACTIVE;
	k->mode = MODE_MULTI;
	rv = object_ref_of(s->slot, key, &ref);
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		rv = CKR_KEY_HANDLE_INVALID;
	if (rv == CKR_OK && k->strategy != MECH_NATIVE)
		rv = CKR_KEY_INDIGESTIBLE; /* the host never holds a key's value */
	else if (rv == CKR_OK)
		rv = ops->digest_key != NULL ? ops->digest_key(s->slot->tok, s->ss, ref) : CKR_KEY_INDIGESTIBLE;
	if (rv != CKR_OK)
		end_operation(s, TOKEN_OP_DIGEST, k, true);
	return rv;
}

void op_abandon(struct session *s, enum token_op op)
{
	struct op_kind *k = active_kind(s, op);

	if (k != NULL)
		end_operation(s, op, k, true);
}
