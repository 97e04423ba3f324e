/* Objects, searches and keys: handles are translated to the token's references here. */
#include <stdlib.h>
#include <string.h>

#include "pkcs11/entry.h"
#include "pkcs11/log.h"
#include "pkcs11/mech_param.h"

static bool template_ok(const CK_ATTRIBUTE *t, CK_ULONG n)
{
	return t != NULL || n == 0;
}

/* A template the token reads values from: a NULL value with a length would make it read address 0. */
static CK_RV input_values_ok(const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; t != NULL && i < n; i++)
		if (t[i].pValue == NULL && t[i].ulValueLen > 0)
			return CKR_ATTRIBUTE_VALUE_INVALID;
	return CKR_OK;
}

/* Resolves a handle of the session's slot; bad handles get the caller's error code. */
static CK_RV resolve(const struct session *s, CK_OBJECT_HANDLE h, CK_RV invalid, token_ref *ref)
{
	CK_RV rv = object_ref_of(s->slot, h, ref);

	return rv == CKR_OBJECT_HANDLE_INVALID ? invalid : rv;
}

/* What an object call hands to the checks every such call starts with. */
struct call_args {
	bool pointers_ok;              /* the pointers the call cannot do without are there */
	const CK_ATTRIBUTE *tmpl[2];   /* templates the token reads values from */
	CK_ULONG count[2];
	const CK_MECHANISM *mech;      /* its parameter is checked when set */
};

/*
 * The checks every object call starts with, in one order: the session, the
 * pointers, the templates' values, the mechanism's parameter. On CKR_OK the
 * caller holds the session and releases it.
 */
static CK_RV begin_call(CK_SESSION_HANDLE h, const struct call_args *a, struct session **s)
{
	CK_RV rv = entry_enter_session(h, s);

	if (rv != CKR_OK)
		return rv;
	if (!a->pointers_ok || !template_ok(a->tmpl[0], a->count[0]) || !template_ok(a->tmpl[1], a->count[1]))
		rv = CKR_ARGUMENTS_BAD;
	for (int i = 0; i < 2 && rv == CKR_OK; i++)
		rv = input_values_ok(a->tmpl[i], a->count[i]);
	if (rv == CKR_OK && a->mech != NULL)
		rv = mech_param_check(a->mech);
	if (rv != CKR_OK)
		session_release(*s);
	return rv;
}

/* CKR_OK when the token offers the operation, otherwise the answer PKCS#11 gives for its absence. */
static CK_RV offered(bool present, CK_RV absent)
{
	return present ? CKR_OK : absent;
}

static CK_RV create_object(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
			   CK_OBJECT_HANDLE_PTR phObject)
{
	struct call_args a = { phObject != NULL, { pTemplate }, { ulCount }, NULL };
	struct session *s;
	token_ref ref = 0;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = offered(s->slot->ops->create_object != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv != CKR_OK)
		goto out;
	rv = s->slot->ops->create_object(s->slot->tok, s->ss, pTemplate, ulCount, &ref);
	if (rv == CKR_OK)
		rv = object_handle_for_new(s, ref, phObject);
out:
	session_release(s);
	return rv;
}

CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
		     CK_OBJECT_HANDLE_PTR phObject)
{
	entry_trace_call(__func__, "hSession=0x%lx ulCount=%lu", (unsigned long)hSession, (unsigned long)ulCount);
	return entry_trace_ret(__func__, create_object(hSession, pTemplate, ulCount, phObject));
}

static CK_RV copy_object(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
			 CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
	struct call_args a = { phNewObject != NULL, { pTemplate }, { ulCount }, NULL };
	struct session *s;
	token_ref ref, copy = 0;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = resolve(s, hObject, CKR_OBJECT_HANDLE_INVALID, &ref);
	if (rv == CKR_OK)
		rv = offered(s->slot->ops->copy_object != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv != CKR_OK)
		goto out;
	rv = s->slot->ops->copy_object(s->slot->tok, s->ss, ref, pTemplate, ulCount, &copy);
	if (rv == CKR_OK)
		rv = object_handle_for_new(s, copy, phNewObject);
out:
	session_release(s);
	return rv;
}

CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
		   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject)
{
	entry_trace_call(__func__, "hSession=0x%lx hObject=0x%lx ulCount=%lu", (unsigned long)hSession,
		   (unsigned long)hObject, (unsigned long)ulCount);
	return entry_trace_ret(__func__, copy_object(hSession, hObject, pTemplate, ulCount, phNewObject));
}

static CK_RV destroy_object(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	struct call_args a = { true, { NULL }, { 0 }, NULL };
	struct session *s;
	token_ref ref;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = resolve(s, hObject, CKR_OBJECT_HANDLE_INVALID, &ref);
	if (rv == CKR_OK)
		rv = offered(s->slot->ops->destroy_object != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv != CKR_OK)
		goto out;
	rv = s->slot->ops->destroy_object(s->slot->tok, s->ss, ref);
	if (rv == CKR_OK)
		object_forget(s->slot, hObject);
out:
	session_release(s);
	return rv;
}

CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
	entry_trace_call(__func__, "hSession=0x%lx hObject=0x%lx", (unsigned long)hSession, (unsigned long)hObject);
	return entry_trace_ret(__func__, destroy_object(hSession, hObject));
}

static CK_RV get_object_size(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
	struct call_args a = { pulSize != NULL, { NULL }, { 0 }, NULL };
	struct session *s;
	token_ref ref;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = resolve(s, hObject, CKR_OBJECT_HANDLE_INVALID, &ref);
	if (rv == CKR_OK)
		rv = offered(s->slot->ops->object_size != NULL, CKR_INFORMATION_SENSITIVE);
	if (rv == CKR_OK)
		rv = s->slot->ops->object_size(s->slot->tok, s->ss, ref, pulSize);
	session_release(s);
	return rv;
}

CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize)
{
	entry_trace_call(__func__, "hSession=0x%lx hObject=0x%lx", (unsigned long)hSession, (unsigned long)hObject);
	return entry_trace_ret(__func__, get_object_size(hSession, hObject, pulSize));
}

static void trace_template(const char *fn, const CK_ATTRIBUTE *t, CK_ULONG n)
{
	if (!log_enabled(LL_DEBUG) || t == NULL)
		return;
	for (CK_ULONG i = 0; i < n; i++)
		log_msg(LL_DEBUG, "%s:   [%lu] %s len=%ld", fn, (unsigned long)i, log_attr_name(t[i].type),
			(long)t[i].ulValueLen);
}

/*
 * C_GetAttributeValue's template after the call. Going in, a length is the
 * caller's garbage where pValue is NULL; only the answers that set every
 * ulValueLen (to a length or CK_UNAVAILABLE_INFORMATION) have lengths to show.
 */
static void trace_answer(const char *fn, const CK_ATTRIBUTE *t, CK_ULONG n, CK_RV rv)
{
	if (rv == CKR_OK || rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID ||
	    rv == CKR_BUFFER_TOO_SMALL) {
		trace_template(fn, t, n);
		return;
	}
	if (!log_enabled(LL_DEBUG) || t == NULL)
		return;
	for (CK_ULONG i = 0; i < n; i++)
		log_msg(LL_DEBUG, "%s:   [%lu] %s", fn, (unsigned long)i, log_attr_name(t[i].type));
}

static CK_RV get_attribute_value(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
				 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	/* The template is written to, not read: its values may be NULL with any length. */
	struct call_args a = { template_ok(pTemplate, ulCount), { NULL }, { 0 }, NULL };
	struct session *s;
	token_ref ref;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = resolve(s, hObject, CKR_OBJECT_HANDLE_INVALID, &ref);
	if (rv == CKR_OK)
		rv = offered(s->slot->ops->get_attributes != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv == CKR_OK)
		rv = s->slot->ops->get_attributes(s->slot->tok, s->ss, ref, pTemplate, ulCount);
	session_release(s);
	return rv;
}

CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
			  CK_ULONG ulCount)
{
	CK_RV rv;

	entry_trace_call(__func__, "hSession=0x%lx hObject=0x%lx ulCount=%lu", (unsigned long)hSession,
		   (unsigned long)hObject, (unsigned long)ulCount);
	rv = get_attribute_value(hSession, hObject, pTemplate, ulCount);
	trace_answer(__func__, pTemplate, ulCount, rv);
	return entry_trace_ret(__func__, rv);
}

static CK_RV set_attribute_value(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
				 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	struct call_args a = { true, { pTemplate }, { ulCount }, NULL };
	struct session *s;
	token_ref ref;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = resolve(s, hObject, CKR_OBJECT_HANDLE_INVALID, &ref);
	if (rv == CKR_OK)
		rv = offered(s->slot->ops->set_attributes != NULL, CKR_ACTION_PROHIBITED);
	if (rv == CKR_OK)
		rv = s->slot->ops->set_attributes(s->slot->tok, s->ss, ref, pTemplate, ulCount);
	session_release(s);
	return rv;
}

CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
			  CK_ULONG ulCount)
{
	entry_trace_call(__func__, "hSession=0x%lx hObject=0x%lx ulCount=%lu", (unsigned long)hSession,
		   (unsigned long)hObject, (unsigned long)ulCount);
	trace_template(__func__, pTemplate, ulCount);
	return entry_trace_ret(__func__, set_attribute_value(hSession, hObject, pTemplate, ulCount));
}

/* Maps the token's references to handles; on failure nothing is kept. */
static CK_RV handles_for(const struct session *s, const token_ref *refs, CK_ULONG n, CK_OBJECT_HANDLE **out)
{
	CK_OBJECT_HANDLE *h = malloc((n + 1) * sizeof(*h));
	CK_RV rv = CKR_OK;

	if (h == NULL)
		return CKR_HOST_MEMORY;
	for (CK_ULONG i = 0; i < n && rv == CKR_OK; i++)
		rv = object_handle_for(s->slot, refs[i], &h[i]);
	if (rv != CKR_OK) {
		free(h);
		return rv;
	}
	*out = h;
	return CKR_OK;
}

static CK_RV find_objects_init(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	struct session *s;
	token_ref *refs = NULL;
	CK_OBJECT_HANDLE *handles = NULL;
	CK_ULONG found = 0;
	bool busy;
	struct call_args a = { true, { pTemplate }, { ulCount }, NULL };
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = core_lock();
	if (rv != CKR_OK)
		goto out;
	busy = s->finding;
	s->finding = true; /* claimed now, so a concurrent init on this session fails */
	core_unlock();
	if (busy) {
		rv = CKR_OPERATION_ACTIVE;
		goto out;
	}
	rv = s->slot->ops->find != NULL
		     ? s->slot->ops->find(s->slot->tok, s->ss, pTemplate, ulCount, &refs, &found)
		     : CKR_OK;
	if (rv == CKR_OK)
		rv = handles_for(s, refs, found, &handles);
	if (core_lock() == CKR_OK) {
		s->finding = rv == CKR_OK;
		s->find.handles = handles;
		s->find.count = rv == CKR_OK ? found : 0;
		s->find.pos = 0;
		core_unlock();
	}
out:
	free(refs);
	session_release(s);
	return rv;
}

CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
	entry_trace_call(__func__, "hSession=0x%lx ulCount=%lu", (unsigned long)hSession, (unsigned long)ulCount);
	trace_template(__func__, pTemplate, ulCount);
	return entry_trace_ret(__func__, find_objects_init(hSession, pTemplate, ulCount));
}

/* Reads the search's results from the module's tables: no token call, no call lock. */
static CK_RV find_objects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount,
			  CK_ULONG_PTR pulObjectCount)
{
	struct session *s;
	CK_RV rv = session_peek(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	if (phObject == NULL || pulObjectCount == NULL) {
		rv = CKR_ARGUMENTS_BAD;
		goto out;
	}
	rv = core_lock();
	if (rv != CKR_OK)
		goto out;
	if (!s->finding) {
		rv = CKR_OPERATION_NOT_INITIALIZED;
	} else {
		CK_ULONG n = 0;

		while (n < ulMaxObjectCount && s->find.pos < s->find.count)
			phObject[n++] = s->find.handles[s->find.pos++];
		*pulObjectCount = n;
	}
	core_unlock();
out:
	session_unpeek(s);
	return rv;
}

CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount,
		    CK_ULONG_PTR pulObjectCount)
{
	CK_RV rv;

	entry_trace_call(__func__, "hSession=0x%lx max=%lu", (unsigned long)hSession, (unsigned long)ulMaxObjectCount);
	rv = find_objects(hSession, phObject, ulMaxObjectCount, pulObjectCount);
	return entry_trace_ret_len(__func__, rv, "count", pulObjectCount);
}

static CK_RV find_objects_final(CK_SESSION_HANDLE hSession)
{
	struct session *s;
	CK_OBJECT_HANDLE *handles = NULL;
	CK_RV rv = entry_enter_session(hSession, &s);

	if (rv != CKR_OK)
		return rv;
	rv = core_lock();
	if (rv == CKR_OK) {
		if (!s->finding) {
			rv = CKR_OPERATION_NOT_INITIALIZED;
		} else {
			handles = s->find.handles;
			s->find.handles = NULL;
			s->find.count = s->find.pos = 0;
			s->finding = false;
		}
		core_unlock();
	}
	free(handles);
	session_release(s);
	return rv;
}

CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
	entry_trace_call(__func__, "hSession=0x%lx", (unsigned long)hSession);
	return entry_trace_ret(__func__, find_objects_final(hSession));
}

static CK_RV generate_key(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pTemplate,
			  CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey)
{
	struct call_args a = { pMechanism != NULL && phKey != NULL, { pTemplate }, { ulCount }, pMechanism };
	struct session *s;
	token_ref key = 0;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = offered(s->slot->ops->generate_key != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv != CKR_OK)
		goto out;
	rv = s->slot->ops->generate_key(s->slot->tok, s->ss, pMechanism, pTemplate, ulCount, &key);
	if (rv == CKR_OK)
		rv = object_handle_for_new(s, key, phKey);
out:
	session_release(s);
	return rv;
}

CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_ATTRIBUTE_PTR pTemplate,
		    CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey)
{
	entry_trace_call(__func__, "hSession=0x%lx mechanism=%s ulCount=%lu", (unsigned long)hSession,
		   pMechanism ? log_mech_name(pMechanism->mechanism) : "NULL", (unsigned long)ulCount);
	trace_template(__func__, pTemplate, ulCount);
	return entry_trace_ret(__func__, generate_key(hSession, pMechanism, pTemplate, ulCount, phKey));
}

static CK_RV generate_key_pair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			       CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
			       CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
			       CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
	struct call_args a = { pMechanism != NULL && phPublicKey != NULL && phPrivateKey != NULL,
			       { pPublicKeyTemplate, pPrivateKeyTemplate },
			       { ulPublicKeyAttributeCount, ulPrivateKeyAttributeCount }, pMechanism };
	struct session *s;
	token_ref pub = 0, priv = 0;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = offered(s->slot->ops->generate_key_pair != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv != CKR_OK)
		goto out;
	rv = s->slot->ops->generate_key_pair(s->slot->tok, s->ss, pMechanism, pPublicKeyTemplate,
					     ulPublicKeyAttributeCount, pPrivateKeyTemplate,
					     ulPrivateKeyAttributeCount, &pub, &priv);
	if (rv == CKR_OK)
		rv = object_handle_for_new(s, pub, phPublicKey);
	if (rv == CKR_OK)
		rv = object_handle_for_new(s, priv, phPrivateKey);
out:
	session_release(s);
	return rv;
}

CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
			CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
			CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey)
{
	entry_trace_call(__func__, "hSession=0x%lx mechanism=%s pub=%lu priv=%lu", (unsigned long)hSession,
		   pMechanism ? log_mech_name(pMechanism->mechanism) : "NULL",
		   (unsigned long)ulPublicKeyAttributeCount, (unsigned long)ulPrivateKeyAttributeCount);
	trace_template(__func__, pPublicKeyTemplate, ulPublicKeyAttributeCount);
	trace_template(__func__, pPrivateKeyTemplate, ulPrivateKeyAttributeCount);
	return entry_trace_ret(__func__, generate_key_pair(hSession, pMechanism, pPublicKeyTemplate,
						     ulPublicKeyAttributeCount, pPrivateKeyTemplate,
						     ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey));
}

/*
 * A key that may not leave the token cannot be wrapped, whatever the
 * mechanism: answered here so that every token says it the same way
 * (SoftHSM judges the mechanism first and answers CKR_MECHANISM_INVALID).
 */
static CK_RV check_extractable(struct session *s, token_ref key)
{
	CK_BBOOL extractable = CK_FALSE;
	CK_ATTRIBUTE a = { CKA_EXTRACTABLE, &extractable, sizeof(extractable) };
	CK_RV rv;

	if (s->slot->ops->get_attributes == NULL)
		return CKR_OK; /* the token decides */
	rv = s->slot->ops->get_attributes(s->slot->tok, s->ss, key, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID)
		return CKR_KEY_NOT_WRAPPABLE; /* not a key: nothing to wrap */
	if (rv == CKR_OBJECT_HANDLE_INVALID)
		return CKR_KEY_HANDLE_INVALID;
	if (rv != CKR_OK)
		return rv;
	return extractable == CK_TRUE ? CKR_OK : CKR_KEY_UNEXTRACTABLE;
}

static CK_RV wrap_key(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hWrappingKey,
		      CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
	struct call_args a = { pMechanism != NULL && pulWrappedKeyLen != NULL, { NULL }, { 0 }, pMechanism };
	struct session *s;
	token_ref wrapping, key;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = resolve(s, hWrappingKey, CKR_WRAPPING_KEY_HANDLE_INVALID, &wrapping);
	if (rv == CKR_OK)
		rv = resolve(s, hKey, CKR_KEY_HANDLE_INVALID, &key);
	if (rv == CKR_OK)
		rv = check_extractable(s, key);
	if (rv == CKR_OK)
		rv = offered(s->slot->ops->wrap_key != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv == CKR_OK)
		rv = s->slot->ops->wrap_key(s->slot->tok, s->ss, pMechanism, wrapping, key, pWrappedKey,
					    pulWrappedKeyLen);
	session_release(s);
	return rv;
}

CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hWrappingKey,
		CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
	entry_trace_call(__func__, "hSession=0x%lx mechanism=%s wrapping=0x%lx key=0x%lx", (unsigned long)hSession,
		   pMechanism ? log_mech_name(pMechanism->mechanism) : "NULL", (unsigned long)hWrappingKey,
		   (unsigned long)hKey);
	return entry_trace_ret_len(__func__,
			     wrap_key(hSession, pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen),
			     "wrappedLen", pulWrappedKeyLen);
}

static CK_RV unwrap_key(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
			CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen,
			CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
	struct call_args a = { pMechanism != NULL && (pWrappedKey != NULL || ulWrappedKeyLen == 0) && phKey != NULL,
			       { pTemplate }, { ulAttributeCount }, pMechanism };
	struct session *s;
	token_ref unwrapping, key = 0;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = resolve(s, hUnwrappingKey, CKR_UNWRAPPING_KEY_HANDLE_INVALID, &unwrapping);
	if (rv == CKR_OK)
		rv = offered(s->slot->ops->unwrap_key != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv != CKR_OK)
		goto out;
	rv = s->slot->ops->unwrap_key(s->slot->tok, s->ss, pMechanism, unwrapping, pWrappedKey, ulWrappedKeyLen,
				      pTemplate, ulAttributeCount, &key);
	if (rv == CKR_OK)
		rv = object_handle_for_new(s, key, phKey);
out:
	session_release(s);
	return rv;
}

CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hUnwrappingKey,
		  CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
		  CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
	entry_trace_call(__func__, "hSession=0x%lx mechanism=%s unwrapping=0x%lx len=%lu", (unsigned long)hSession,
		   pMechanism ? log_mech_name(pMechanism->mechanism) : "NULL", (unsigned long)hUnwrappingKey,
		   (unsigned long)ulWrappedKeyLen);
	trace_template(__func__, pTemplate, ulAttributeCount);
	return entry_trace_ret(__func__, unwrap_key(hSession, pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen,
					      pTemplate, ulAttributeCount, phKey));
}

/*
 * CKM_CONCATENATE_BASE_AND_KEY names its second key by the caller's
 * handle; the token knows that key by its own ref. The parameter's size
 * was checked with the mechanism (mech_param.c).
 */
_Static_assert(sizeof(token_ref) == sizeof(CK_OBJECT_HANDLE), "a ref stands in a handle's place");

static CK_RV mechanism_for_token(const struct session *s, const CK_MECHANISM *in, CK_MECHANISM *out,
				 token_ref *other)
{
	CK_OBJECT_HANDLE h;
	CK_RV rv;

	*out = *in;
	if (in->mechanism != CKM_CONCATENATE_BASE_AND_KEY)
		return CKR_OK;
	memcpy(&h, in->pParameter, sizeof(h));
	rv = resolve(s, h, CKR_KEY_HANDLE_INVALID, other);
	if (rv != CKR_OK)
		return rv;
	out->pParameter = other;
	out->ulParameterLen = sizeof(*other);
	return CKR_OK;
}

static CK_RV derive_key(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey,
			CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
	struct call_args a = { pMechanism != NULL && phKey != NULL, { pTemplate }, { ulAttributeCount }, pMechanism };
	struct session *s;
	CK_MECHANISM mech;
	token_ref base, other, key = 0;
	CK_RV rv = begin_call(hSession, &a, &s);

	if (rv != CKR_OK)
		return rv;
	rv = resolve(s, hBaseKey, CKR_KEY_HANDLE_INVALID, &base);
	if (rv == CKR_OK)
		rv = offered(s->slot->ops->derive_key != NULL, CKR_FUNCTION_NOT_SUPPORTED);
	if (rv == CKR_OK)
		rv = mechanism_for_token(s, pMechanism, &mech, &other);
	if (rv != CKR_OK)
		goto out;
	rv = s->slot->ops->derive_key(s->slot->tok, s->ss, &mech, base, pTemplate, ulAttributeCount, &key);
	if (rv == CKR_OK)
		rv = object_handle_for_new(s, key, phKey);
out:
	session_release(s);
	return rv;
}

CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hBaseKey,
		  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
	entry_trace_call(__func__, "hSession=0x%lx mechanism=%s base=0x%lx", (unsigned long)hSession,
		   pMechanism ? log_mech_name(pMechanism->mechanism) : "NULL", (unsigned long)hBaseKey);
	trace_template(__func__, pTemplate, ulAttributeCount);
	return entry_trace_ret(__func__, derive_key(hSession, pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey));
}
