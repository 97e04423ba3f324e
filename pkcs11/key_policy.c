#include "pkcs11/key_policy.h"

#include <stdlib.h>
#include <string.h>

#include "pkcs11/log.h"

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* 1: attribute present and true, 0: present and false, -1: absent; CKR_ATTRIBUTE_VALUE_INVALID if malformed. */
static CK_RV find_bool(const CK_ATTRIBUTE *t, CK_ULONG n, CK_ATTRIBUTE_TYPE type, int *value)
{
	*value = -1;
	for (CK_ULONG i = 0; i < n; i++) {
		if (t[i].type != type)
			continue;
		if (t[i].pValue == NULL || t[i].ulValueLen != sizeof(CK_BBOOL))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		*value = *(const CK_BBOOL *)t[i].pValue ? 1 : 0;
	}
	return CKR_OK;
}

static CK_RV find_class(const CK_ATTRIBUTE *t, CK_ULONG n, CK_OBJECT_CLASS *cls)
{
	for (CK_ULONG i = 0; i < n; i++) {
		if (t[i].type != CKA_CLASS)
			continue;
		if (t[i].pValue == NULL || t[i].ulValueLen != sizeof(CK_OBJECT_CLASS))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		memcpy(cls, t[i].pValue, sizeof(*cls));
	}
	return CKR_OK;
}

CK_RV keys_check_no_weakening(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_RV refusal)
{
	int sensitive, extractable;
	CK_RV rv = find_bool(tmpl, count, CKA_SENSITIVE, &sensitive);

	if (rv == CKR_OK)
		rv = find_bool(tmpl, count, CKA_EXTRACTABLE, &extractable);
	if (rv != CKR_OK)
		return rv;
	if (sensitive == 0 || extractable == 1) {
		log_msg(LL_WARNING, "refused: keys stay sensitive and unextractable");
		return refusal;
	}
	return CKR_OK;
}

CK_RV keys_harden(struct key_template *out, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
		  CK_OBJECT_CLASS default_class)
{
	CK_OBJECT_CLASS cls = default_class;
	int sensitive, extractable;
	CK_ULONG n = count;
	CK_RV rv;

	out->attrs = (CK_ATTRIBUTE *)tmpl;
	out->count = count;
	out->owned = NULL;
	rv = find_class(tmpl, count, &cls);
	if (rv != CKR_OK)
		return rv;
	if (cls != CKO_PRIVATE_KEY && cls != CKO_SECRET_KEY)
		return CKR_OK;
	rv = keys_check_no_weakening(tmpl, count, CKR_TEMPLATE_INCONSISTENT);
	if (rv != CKR_OK)
		return rv;
	find_bool(tmpl, count, CKA_SENSITIVE, &sensitive);
	find_bool(tmpl, count, CKA_EXTRACTABLE, &extractable);
	if (sensitive == 1 && extractable == 0)
		return CKR_OK;
	out->owned = malloc((count + 2) * sizeof(*out->owned));
	if (out->owned == NULL)
		return CKR_HOST_MEMORY;
	if (count > 0)
		memcpy(out->owned, tmpl, count * sizeof(*tmpl));
	if (sensitive == -1)
		out->owned[n++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, (void *)&yes, sizeof(yes) };
	if (extractable == -1)
		out->owned[n++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, (void *)&no, sizeof(no) };
	out->attrs = out->owned;
	out->count = n;
	return CKR_OK;
}

void keys_template_free(struct key_template *t)
{
	free(t->owned);
	t->owned = NULL;
}
