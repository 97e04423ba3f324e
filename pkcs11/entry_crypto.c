/*
 * Encrypt, decrypt, digest, sign, verify and their recover forms: the C_*
 * functions check their arguments, then hand the call to the operation
 * engine (pkcs11/op.h), which keeps the operation rules. Arguments come
 * first: a NULL pointer is CKR_ARGUMENTS_BAD whether or not an operation is
 * active, and ends an active one, as PKCS#11 says an error of a step does.
 */
#include "pkcs11/entry.h"
#include "pkcs11/log.h"
#include "pkcs11/op.h"

static CK_RV init(CK_SESSION_HANDLE h, enum token_op op, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
	struct session *s;
	CK_RV rv = entry_enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	/* An operation already going is left alone: an argument error belongs to this call. */
	rv = mech != NULL ? op_init(s, op, mech, key) : CKR_ARGUMENTS_BAD;
	session_release(s);
	return rv;
}

/* Whether the step returns data (and so needs a length pointer). */
static bool has_output(enum token_op op, enum op_step step)
{
	return step != OP_UPDATE || op == TOKEN_OP_ENCRYPT || op == TOKEN_OP_DECRYPT;
}

static CK_RV step(CK_SESSION_HANDLE h, enum token_op op, enum op_step which, const CK_BYTE *in, CK_ULONG in_len,
		  CK_BYTE *out, CK_ULONG *out_len)
{
	struct session *s;
	CK_RV rv = entry_enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	if ((in == NULL && in_len > 0) || (out_len == NULL && has_output(op, which))) {
		op_abandon(s, op);
		rv = CKR_ARGUMENTS_BAD;
	} else {
		rv = op_step(s, op, which, in, in_len, out, out_len);
	}
	session_release(s);
	return rv;
}

static void trace_init(const char *fn, CK_SESSION_HANDLE h, const CK_MECHANISM *m, CK_OBJECT_HANDLE key)
{
	if (!log_enabled(LL_DEBUG))
		return; /* the hot path: no name look-ups for a line nobody reads */
	entry_trace_call(fn, "hSession=0x%lx mechanism=%s paramLen=%lu hKey=0x%lx", (unsigned long)h,
		   m ? log_mech_name(m->mechanism) : "NULL", m ? (unsigned long)m->ulParameterLen : 0UL,
		   (unsigned long)key);
}

/* A data step: the output buffer's size only when there is a buffer; the length it got after the call. */
static void trace_data(const char *fn, CK_SESSION_HANDLE h, CK_ULONG in_len, const CK_BYTE *out,
		       const CK_ULONG *out_len)
{
	if (out != NULL && out_len != NULL)
		entry_trace_call(fn, "hSession=0x%lx inLen=%lu outLen=%lu", (unsigned long)h, (unsigned long)in_len,
			   (unsigned long)*out_len);
	else
		entry_trace_call(fn, "hSession=0x%lx inLen=%lu", (unsigned long)h, (unsigned long)in_len);
}

static CK_RV trace_out(const char *fn, CK_RV rv, const CK_ULONG *out_len)
{
	return entry_trace_ret_len(fn, rv, "outLen", out_len);
}


/* Each C_ function below is a trampoline into init() or step(). */

CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return entry_trace_ret(__func__, init(h, TOKEN_OP_ENCRYPT, m, k));
}

CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_ENCRYPT, OP_ONESHOT, in, in_len, out, out_len), out_len);
}

CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
		      CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_ENCRYPT, OP_UPDATE, in, in_len, out, out_len), out_len);
}

CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, 0, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_ENCRYPT, OP_FINAL, NULL, 0, out, out_len), out_len);
}

CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return entry_trace_ret(__func__, init(h, TOKEN_OP_DECRYPT, m, k));
}

CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_DECRYPT, OP_ONESHOT, in, in_len, out, out_len), out_len);
}

CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
		      CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_DECRYPT, OP_UPDATE, in, in_len, out, out_len), out_len);
}

CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, 0, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_DECRYPT, OP_FINAL, NULL, 0, out, out_len), out_len);
}

CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m)
{
	trace_init(__func__, h, m, 0);
	return entry_trace_ret(__func__, init(h, TOKEN_OP_DIGEST, m, 0));
}

CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_DIGEST, OP_ONESHOT, in, in_len, out, out_len), out_len);
}

CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	trace_data(__func__, h, in_len, NULL, NULL);
	return entry_trace_ret(__func__, step(h, TOKEN_OP_DIGEST, OP_UPDATE, in, in_len, NULL, NULL));
}

static CK_RV digest_key(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key)
{
	struct session *s;
	CK_RV rv = entry_enter_session(h, &s);

	if (rv != CKR_OK)
		return rv;
	rv = op_digest_key(s, key);
	session_release(s);
	return rv;
}

CK_RV C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE k)
{
	entry_trace_call(__func__, "hSession=0x%lx hKey=0x%lx", (unsigned long)h, (unsigned long)k);
	return entry_trace_ret(__func__, digest_key(h, k));
}

CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, 0, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_DIGEST, OP_FINAL, NULL, 0, out, out_len), out_len);
}

CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return entry_trace_ret(__func__, init(h, TOKEN_OP_SIGN, m, k));
}

CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_SIGN, OP_ONESHOT, in, in_len, out, out_len), out_len);
}

CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	trace_data(__func__, h, in_len, NULL, NULL);
	return entry_trace_ret(__func__, step(h, TOKEN_OP_SIGN, OP_UPDATE, in, in_len, NULL, NULL));
}

CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, 0, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_SIGN, OP_FINAL, NULL, 0, out, out_len), out_len);
}

CK_RV C_SignRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return entry_trace_ret(__func__, init(h, TOKEN_OP_SIGN_RECOVER, m, k));
}

CK_RV C_SignRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_SIGN_RECOVER, OP_ONESHOT, in, in_len, out, out_len),
			 out_len);
}

CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return entry_trace_ret(__func__, init(h, TOKEN_OP_VERIFY, m, k));
}

CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	CK_ULONG len = sig_len;

	entry_trace_call(__func__, "hSession=0x%lx inLen=%lu sigLen=%lu", (unsigned long)h, (unsigned long)in_len,
		   (unsigned long)sig_len);
	return entry_trace_ret(__func__, step(h, TOKEN_OP_VERIFY, OP_ONESHOT, in, in_len, sig, sig ? &len : NULL));
}

CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len)
{
	trace_data(__func__, h, in_len, NULL, NULL);
	return entry_trace_ret(__func__, step(h, TOKEN_OP_VERIFY, OP_UPDATE, in, in_len, NULL, NULL));
}

CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
	CK_ULONG len = sig_len;

	entry_trace_call(__func__, "hSession=0x%lx sigLen=%lu", (unsigned long)h, (unsigned long)sig_len);
	return entry_trace_ret(__func__, step(h, TOKEN_OP_VERIFY, OP_FINAL, NULL, 0, sig, sig ? &len : NULL));
}

CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	trace_init(__func__, h, m, k);
	return entry_trace_ret(__func__, init(h, TOKEN_OP_VERIFY_RECOVER, m, k));
}

CK_RV C_VerifyRecover(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len, CK_BYTE_PTR out,
		      CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, sig_len, out, out_len);
	return trace_out(__func__, step(h, TOKEN_OP_VERIFY_RECOVER, OP_ONESHOT, sig, sig_len, out, out_len),
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
	return entry_trace_ret(__func__, dual_update(h, in, in_len, out_len));
}

CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
			    CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return entry_trace_ret(__func__, dual_update(h, in, in_len, out_len));
}

CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
			  CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return entry_trace_ret(__func__, dual_update(h, in, in_len, out_len));
}

CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
			    CK_ULONG_PTR out_len)
{
	trace_data(__func__, h, in_len, out, out_len);
	return entry_trace_ret(__func__, dual_update(h, in, in_len, out_len));
}

static CK_RV random_op(CK_SESSION_HANDLE h, CK_BYTE_PTR buf, CK_ULONG len, bool seed)
{
	struct session *s;
	const struct token_ops *ops;
	CK_RV rv = entry_enter_session(h, &s);

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
	entry_trace_call(__func__, "hSession=0x%lx len=%lu", (unsigned long)h, (unsigned long)ulSeedLen);
	return entry_trace_ret(__func__, random_op(h, pSeed, ulSeedLen, true));
}

CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen)
{
	entry_trace_call(__func__, "hSession=0x%lx len=%lu", (unsigned long)h, (unsigned long)ulRandomLen);
	return entry_trace_ret(__func__, random_op(h, pRandomData, ulRandomLen, false));
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
	entry_trace_call(__func__, "hSession=0x%lx", (unsigned long)h);
	return entry_trace_ret(__func__, legacy_parallel(h));
}

CK_RV C_CancelFunction(CK_SESSION_HANDLE h)
{
	entry_trace_call(__func__, "hSession=0x%lx", (unsigned long)h);
	return entry_trace_ret(__func__, legacy_parallel(h));
}
