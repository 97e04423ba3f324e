/*
 * Encrypt, decrypt, digest, sign, verify and their recover forms, with the
 * operation bookkeeping PKCS#11 prescribes: one active operation of each
 * kind per session; a length query (NULL output) or CKR_BUFFER_TOO_SMALL
 * keeps it; any other outcome of a final step ends it.
 */
#include "pkcs11/entry.h"
#include "pkcs11/log.h"
#include "pkcs11/mech.h"
#include "pkcs11/mech_param.h"


static CK_RV set_active(struct session *s, enum token_op op, bool active)
{
	CK_RV rv = module_lock();

	if (rv == CKR_OK) {
		s->op_active[op] = active;
		module_unlock();
	}
	return rv;
}

static CK_RV is_active(struct session *s, enum token_op op, bool *active)
{
	CK_RV rv = module_lock();

	if (rv == CKR_OK) {
		*active = s->op_active[op];
		module_unlock();
	}
	return rv;
}

/* Starts a composed operation and records it with the session. */
static CK_RV start_host_op(struct session *s, enum token_op op, const CK_MECHANISM *mech, token_ref key)
{
	struct host_op *h = NULL;
	CK_RV rv = host_op_init(s, op, mech, key, &h);

	if (rv != CKR_OK)
		return rv;
	rv = module_lock();
	if (rv != CKR_OK) {
		host_op_free(h);
		return rv;
	}
	s->host[op] = h;
	s->op_active[op] = true;
	module_unlock();
	return CKR_OK;
}

/* The token may still hold an operation the core ends with an error: end it there too. */
static void abort_token_op(struct session *s, enum token_op op)
{
	if (s->slot->ops->op_abort != NULL)
		s->slot->ops->op_abort(s->slot->tok, s->ss, op);
}

/* Ends an operation, freeing its composed state if it had one. */
static void finish_op(struct session *s, enum token_op op)
{
	struct host_op *h = NULL;

	if (module_lock() != CKR_OK)
		return;
	s->op_active[op] = false;
	h = s->host[op];
	s->host[op] = NULL;
	module_unlock();
	host_op_free(h);
}

static CK_RV op_init(CK_SESSION_HANDLE h, enum token_op op, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct session *s;
	token_ref ref = 0;
	bool active = false;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if (mech == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = mech_param_check(mech);
	if (rv != CKR_OK)
		goto out;
	rv = is_active(s, op, &active);
	if (rv != CKR_OK)
		goto out;
	if (active) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	if (op != TOKEN_OP_DIGEST) {
		rv = object_ref_of(s->slot, key, &ref);
		if (rv == CKR_OBJECT_HANDLE_INVALID)
			rv = CKR_KEY_HANDLE_INVALID;
		if (rv != CKR_OK)
			goto out;
	}
	if (s->slot->ops->op_init == NULL) {
		rv = CKR_MECHANISM_INVALID;
		goto out;
	}
	if (mech_composed(s->slot, op, mech)) {
		rv = start_host_op(s, op, mech, ref);
	} else {
		rv = s->slot->ops->op_init(s->slot->tok, s->ss, op, mech, ref);
		if (rv == CKR_OK)
			rv = set_active(s, op, true);
	}
	/* The token's "no such object" is a bad key here, for its own mechanisms and composed ones alike. */
	if (rv == CKR_OBJECT_HANDLE_INVALID && op != TOKEN_OP_DIGEST)
		rv = CKR_KEY_HANDLE_INVALID;
out:
	session_release(s);
	return rv;
}

/* Whether a finishing step left the operation going: only a length query or a short buffer do. */
static bool keeps_operation(enum token_op op, CK_RV rv, const CK_BYTE *out)
{
	if (op == TOKEN_OP_VERIFY)
		return false;
	return rv == CKR_BUFFER_TOO_SMALL || (rv == CKR_OK && out == NULL);
}

enum step { STEP_ONESHOT, STEP_UPDATE, STEP_FINAL };

static const CK_BYTE no_data[1];

/* Whether the step returns data (and so needs a length pointer). */
static bool has_output(enum token_op op, enum step step)
{
	return step != STEP_UPDATE || op == TOKEN_OP_ENCRYPT || op == TOKEN_OP_DECRYPT;
}

static CK_RV host_step(struct session *s, struct host_op *h, enum step step, const CK_BYTE *in,
		       CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	switch (step) {
	case STEP_ONESHOT:
		return host_op_oneshot(s, h, in, in_len, out, out_len);
	case STEP_UPDATE:
		return host_op_update(s, h, in, in_len);
	case STEP_FINAL:
		return host_op_final(s, h, out, out_len);
	}
	return CKR_GENERAL_ERROR;
}

static CK_RV op_step(CK_SESSION_HANDLE h, enum token_op op, enum step step, const CK_BYTE *in,
		     CK_ULONG in_len, CK_BYTE *out, CK_ULONG *out_len)
{
	const struct token_ops *ops;
	struct session *s;
	bool active = false;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	rv = is_active(s, op, &active);
	if (rv != CKR_OK)
		goto out;
	if (!active) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
		goto out;
	}
	if ((in == NULL && in_len > 0) || (out_len == NULL && has_output(op, step))) {
		rv = CKR_ARGUMENTS_BAD;
		goto end_op; /* PKCS#11: an argument error also ends the operation */
	}
	if (in == NULL)
		in = no_data; /* empty input is valid data, which SoftHSM refuses as a NULL pointer */
	ops = s->slot->ops;
	if (s->host[op] != NULL) {
		rv = host_step(s, s->host[op], step, in, in_len, out, out_len);
		if (step == STEP_UPDATE && rv == CKR_OK)
			goto out;
		if (step != STEP_UPDATE && keeps_operation(op, rv, out))
			goto out;
		goto end_op;
	}
	switch (step) {
	case STEP_ONESHOT:
		rv = ops->op_oneshot ? ops->op_oneshot(s->slot->tok, s->ss, op, in, in_len, out, out_len)
				     : CKR_FUNCTION_NOT_SUPPORTED;
		break;
	case STEP_UPDATE:
		rv = ops->op_update ? ops->op_update(s->slot->tok, s->ss, op, in, in_len, out, out_len)
				    : CKR_FUNCTION_NOT_SUPPORTED;
		if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
			goto out;
		goto end_op;
	case STEP_FINAL:
		rv = ops->op_final ? ops->op_final(s->slot->tok, s->ss, op, out, out_len)
				   : CKR_FUNCTION_NOT_SUPPORTED;
		break;
	}
	if (keeps_operation(op, rv, out))
		goto out;
end_op:
	if (rv != CKR_OK)
		abort_token_op(s, op);
	finish_op(s, op);
out:
	session_release(s);
	return rv;
}

static void trace_init(const char *fn, CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	if (!log_enabled(LOG_DEBUG))
		return; /* the hot path: no name look-ups for a line nobody reads */
	trace_call(fn, "hSession=0x%lx mechanism=%s paramLen=%lu hKey=0x%lx", (unsigned long)h,
		   m ? mech_name(m->mechanism) : "NULL", m ? (unsigned long)m->ulParameterLen : 0UL,
		   (unsigned long)key);
}

/* A data step: the output buffer's size only when there is a buffer; the length it got after the call. */
static void trace_data(const char *fn, CK_SESSION_HANDLE h, CK_ULONG in_len, const CK_BYTE *out,
		       const CK_ULONG *out_len)
{
	if (out != NULL && out_len != NULL)
		trace_call(fn, "hSession=0x%lx inLen=%lu outLen=%lu", (unsigned long)h, (unsigned long)in_len,
			   (unsigned long)*out_len);
	else
		trace_call(fn, "hSession=0x%lx inLen=%lu", (unsigned long)h, (unsigned long)in_len);
}

static CK_RV trace_out(const char *fn, CK_RV rv, const CK_ULONG *out_len)
{
	return trace_ret_len(fn, rv, "outLen", out_len);
}


/* Each C_ function below is a trampoline into op_init / op_step. */

CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return trace_ret(__func__, op_init(h, TOKEN_OP_ENCRYPT, m, k));
}

CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_ENCRYPT, STEP_ONESHOT, in, in_len, out, out_len), out_len);
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
		      CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_ENCRYPT, STEP_UPDATE, in, in_len, out, out_len), out_len);
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, 0, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_ENCRYPT, STEP_FINAL, NULL, 0, out, out_len), out_len);
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return trace_ret(__func__, op_init(h, TOKEN_OP_DECRYPT, m, k));
}

CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_DECRYPT, STEP_ONESHOT, in, in_len, out, out_len), out_len);
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
		      CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_DECRYPT, STEP_UPDATE, in, in_len, out, out_len), out_len);
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, 0, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_DECRYPT, STEP_FINAL, NULL, 0, out, out_len), out_len);
}

CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
	trace_init(__func__, h, m, 0);
	return trace_ret(__func__, op_init(h, TOKEN_OP_DIGEST, m, 0));
}

CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_DIGEST, STEP_ONESHOT, in, in_len, out, out_len), out_len);
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	trace_data(__func__, h, in_len, NULL, NULL);
	return trace_ret(__func__, op_step(h, TOKEN_OP_DIGEST, STEP_UPDATE, in, in_len, NULL, NULL));
}

static CK_RV digest_key(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	struct session *s;
	token_ref ref;
	bool active = false;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	rv = is_active(s, TOKEN_OP_DIGEST, &active);
	if (rv == CKR_OK && !active)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	if (rv == CKR_OK) {
		rv = object_ref_of(s->slot, key, &ref);
		if (rv == CKR_OBJECT_HANDLE_INVALID)
			rv = CKR_KEY_HANDLE_INVALID;
	}
	if (rv == CKR_OK)
		rv = s->slot->ops->digest_key ? s->slot->ops->digest_key(s->slot->tok, s->ss, ref)
					      : CKR_KEY_INDIGESTIBLE;
	if (rv != CKR_OK && rv != CKR_OPERATION_NOT_INITIALIZED) {
		abort_token_op(s, TOKEN_OP_DIGEST);
		set_active(s, TOKEN_OP_DIGEST, false);
	}
	session_release(s);
	return rv;
}

CK_RV C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k)
{
	trace_call(__func__, "hSession=0x%lx hKey=0x%lx", (unsigned long)h, (unsigned long)k);
	return trace_ret(__func__, digest_key(h, k));
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, 0, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_DIGEST, STEP_FINAL, NULL, 0, out, out_len), out_len);
}

CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return trace_ret(__func__, op_init(h, TOKEN_OP_SIGN, m, k));
}

CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_SIGN, STEP_ONESHOT, in, in_len, out, out_len), out_len);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	trace_data(__func__, h, in_len, NULL, NULL);
	return trace_ret(__func__, op_step(h, TOKEN_OP_SIGN, STEP_UPDATE, in, in_len, NULL, NULL));
}

CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, 0, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_SIGN, STEP_FINAL, NULL, 0, out, out_len), out_len);
}

CK_RV C_SignRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return trace_ret(__func__, op_init(h, TOKEN_OP_SIGN_RECOVER, m, k));
}

CK_RV C_SignRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_SIGN_RECOVER, STEP_ONESHOT, in, in_len, out, out_len),
			 out_len);
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return trace_ret(__func__, op_init(h, TOKEN_OP_VERIFY, m, k));
}

CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	CK_ULONG len = sig_len;

	trace_call(__func__, "hSession=0x%lx inLen=%lu sigLen=%lu", (unsigned long)h, (unsigned long)in_len,
		   (unsigned long)sig_len);
	return trace_ret(__func__, op_step(h, TOKEN_OP_VERIFY, STEP_ONESHOT, in, in_len, sig, sig ? &len : NULL));
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	trace_data(__func__, h, in_len, NULL, NULL);
	return trace_ret(__func__, op_step(h, TOKEN_OP_VERIFY, STEP_UPDATE, in, in_len, NULL, NULL));
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	CK_ULONG len = sig_len;

	trace_call(__func__, "hSession=0x%lx sigLen=%lu", (unsigned long)h, (unsigned long)sig_len);
	return trace_ret(__func__, op_step(h, TOKEN_OP_VERIFY, STEP_FINAL, NULL, 0, sig, sig ? &len : NULL));
}

CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return trace_ret(__func__, op_init(h, TOKEN_OP_VERIFY_RECOVER, m, k));
}

CK_RV C_VerifyRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len, CK_BYTE_PTR out,
		      CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, sig_len, out, out_len);
	return trace_out(__func__, op_step(h, TOKEN_OP_VERIFY_RECOVER, STEP_ONESHOT, sig, sig_len, out, out_len),
			 out_len);
}

/* The dual-function updates: no token offers them, so they are refused after the usual checks. */
static CK_RV dual_update(CK_SESSION_HANDLE h, const CK_BYTE *in, CK_ULONG in_len, const CK_ULONG *out_len)
{
	struct session *s;
	CK_RV rv = session_peek(h, &s);

	if (rv != CKR_OK)
		return rv;
	session_unpeek(s);
	if ((in == NULL && in_len > 0) || out_len == NULL)
		return CKR_ARGUMENTS_BAD;
	return CKR_FUNCTION_NOT_SUPPORTED;
}

CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
			    CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_ret(__func__, dual_update(h, in, in_len, out_len));
}

CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
			    CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_ret(__func__, dual_update(h, in, in_len, out_len));
}

CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
			  CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_ret(__func__, dual_update(h, in, in_len, out_len));
}

CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
			    CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_ret(__func__, dual_update(h, in, in_len, out_len));
}

static CK_RV random_op(CK_SESSION_HANDLE h, CK_BYTE_PTR buf, CK_ULONG len, bool seed)
{
	struct session *s;
	const struct token_ops *ops;
	CK_RV rv = enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	ops = s->slot->ops;
	if (buf == NULL && len > 0)
		rv = CKR_ARGUMENTS_BAD;
	else if (seed)
		rv = ops->seed_random ? ops->seed_random(s->slot->tok, s->ss, buf, len)
				      : CKR_RANDOM_SEED_NOT_SUPPORTED;
	else
		rv = ops->generate_random ? ops->generate_random(s->slot->tok, s->ss, buf, len)
					  : CKR_RANDOM_NO_RNG;
	session_release(s);
	return rv;
}

CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
	trace_call(__func__, "hSession=0x%lx len=%lu", (unsigned long)h, (unsigned long)ulSeedLen);
	return trace_ret(__func__, random_op(h, pSeed, ulSeedLen, true));
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen)
{
	trace_call(__func__, "hSession=0x%lx len=%lu", (unsigned long)h, (unsigned long)ulRandomLen);
	return trace_ret(__func__, random_op(h, pRandomData, ulRandomLen, false));
}

/* Legacy parallel-function calls: always CKR_FUNCTION_NOT_PARALLEL for a valid session. */
static CK_RV legacy_parallel(CK_SESSION_HANDLE h)
{
	struct session *s;
	CK_RV rv = session_peek(h, &s);

	if (rv != CKR_OK)
		return rv;
	session_unpeek(s);
	return CKR_FUNCTION_NOT_PARALLEL;
}

CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE h)
{
	trace_call(__func__, "hSession=0x%lx", (unsigned long)h);
	return trace_ret(__func__, legacy_parallel(h));
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE h)
{
	trace_call(__func__, "hSession=0x%lx", (unsigned long)h);
	return trace_ret(__func__, legacy_parallel(h));
}
