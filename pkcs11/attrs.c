#include "pkcs11/attrs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/wipe.h"

/* ---- the shape of a value ---- */

static bool is_bool_type(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_TOKEN: case CKA_PRIVATE: case CKA_MODIFIABLE: case CKA_COPYABLE:
	case CKA_DESTROYABLE: case CKA_TRUSTED: case CKA_SENSITIVE: case CKA_ENCRYPT:
	case CKA_DECRYPT: case CKA_WRAP: case CKA_UNWRAP: case CKA_SIGN:
	case CKA_SIGN_RECOVER: case CKA_VERIFY: case CKA_VERIFY_RECOVER: case CKA_DERIVE:
	case CKA_EXTRACTABLE: case CKA_LOCAL: case CKA_NEVER_EXTRACTABLE:
	case CKA_ALWAYS_SENSITIVE: case CKA_ALWAYS_AUTHENTICATE: case CKA_WRAP_WITH_TRUSTED:
	case CKA_RESET_ON_INIT: case CKA_HAS_RESET: case CKA_COLOR:
	case CKA_OTP_USER_FRIENDLY_MODE:
		return true;
	default:
		return false;
	}
}

static bool is_ulong_type(CK_ATTRIBUTE_TYPE type)
{
	switch (type) {
	case CKA_CLASS: case CKA_KEY_TYPE: case CKA_CERTIFICATE_TYPE:
	case CKA_CERTIFICATE_CATEGORY: case CKA_JAVA_MIDP_SECURITY_DOMAIN:
	case CKA_NAME_HASH_ALGORITHM: case CKA_MODULUS_BITS: case CKA_PRIME_BITS:
	case CKA_SUB_PRIME_BITS: case CKA_VALUE_BITS: case CKA_VALUE_LEN:
	case CKA_KEY_GEN_MECHANISM: case CKA_MECHANISM_TYPE: case CKA_HW_FEATURE_TYPE:
	case CKA_PIXEL_X: case CKA_PIXEL_Y: case CKA_RESOLUTION: case CKA_CHAR_ROWS:
	case CKA_CHAR_COLUMNS: case CKA_BITS_PER_PIXEL: case CKA_OTP_FORMAT:
	case CKA_OTP_LENGTH: case CKA_OTP_TIME_INTERVAL: case CKA_OTP_CHALLENGE_REQUIREMENT:
	case CKA_OTP_TIME_REQUIREMENT: case CKA_OTP_COUNTER_REQUIREMENT:
	case CKA_OTP_PIN_REQUIREMENT: case CKA_OTP_SERVICE_LOGO_TYPE:
		return true;
	default:
		return false;
	}
}

/* Size of one element of an attribute array; 0 for a type that is not one. */
static CK_ULONG array_element_size(CK_ATTRIBUTE_TYPE type)
{
	if ((type & CKF_ARRAY_ATTRIBUTE) == 0)
		return 0;
	return type == CKA_ALLOWED_MECHANISMS ? sizeof(CK_MECHANISM_TYPE) : sizeof(CK_ATTRIBUTE);
}

/* CKR_ATTRIBUTE_VALUE_INVALID for a value that cannot be one of this type. */
static CK_RV check_value(CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
	CK_ULONG element = array_element_size(type);

	if (len == CK_UNAVAILABLE_INFORMATION || (value == NULL && len > 0))
		return CKR_ATTRIBUTE_VALUE_INVALID;
	if (is_bool_type(type)) {
		if (len != sizeof(CK_BBOOL))
			return CKR_ATTRIBUTE_VALUE_INVALID;
		if (*(const CK_BBOOL *)value != CK_TRUE && *(const CK_BBOOL *)value != CK_FALSE)
			return CKR_ATTRIBUTE_VALUE_INVALID;
	} else if (is_ulong_type(type)) {
		if (len != sizeof(CK_ULONG))
			return CKR_ATTRIBUTE_VALUE_INVALID;
	} else if (type == CKA_START_DATE || type == CKA_END_DATE) {
		if (len != 0 && len != sizeof(CK_DATE))
			return CKR_ATTRIBUTE_VALUE_INVALID;
	} else if (element != 0 && len % element != 0) {
		return CKR_ATTRIBUTE_VALUE_INVALID;
	}
	return CKR_OK;
}

/* ---- the list ---- */

/* A CK_ULONG length is always a valid size_t for malloc and memcpy. */
_Static_assert(sizeof(CK_ULONG) <= sizeof(size_t), "CK_ULONG wider than size_t");

void attrs_init(struct attr_list *l)
{
	l->items = NULL;
	l->count = 0;
	l->cap = 0;
}

void attrs_free(struct attr_list *l)
{
	for (CK_ULONG i = 0; i < l->count; i++)
		cr_free_secret(l->items[i].pValue, l->items[i].ulValueLen);
	free(l->items);
	attrs_init(l);
}

static CK_ATTRIBUTE *find_item(const struct attr_list *l, CK_ATTRIBUTE_TYPE type)
{
	for (CK_ULONG i = 0; i < l->count; i++) {
		if (l->items[i].type == type)
			return &l->items[i];
	}
	return NULL;
}

const CK_ATTRIBUTE *attrs_find(const struct attr_list *l, CK_ATTRIBUTE_TYPE type)
{
	return find_item(l, type);
}

/* A heap copy of a checked value in *copy (NULL for an empty one). */
static CK_RV copy_value(CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len, void **copy)
{
	CK_RV rv = check_value(type, value, len);

	*copy = NULL;
	if (rv != CKR_OK || len == 0)
		return rv;
	*copy = malloc(len);
	if (*copy == NULL)
		return CKR_HOST_MEMORY;
	memcpy(*copy, value, len);
	return CKR_OK;
}

static bool reserve_one(struct attr_list *l)
{
	CK_ULONG cap = l->cap == 0 ? 8 : l->cap * 2;
	CK_ATTRIBUTE *items;

	if (l->count < l->cap)
		return true;
	if (cap < l->cap || cap > SIZE_MAX / sizeof(*items))
		return false;
	items = realloc(l->items, cap * sizeof(*items));
	if (items == NULL)
		return false;
	l->items = items;
	l->cap = cap;
	return true;
}

/* Adds, or replaces when replace is true; the list is unchanged on failure. */
static CK_RV put(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len,
		 bool replace)
{
	CK_ATTRIBUTE *old = find_item(l, type);
	void *copy = NULL;
	CK_RV rv;

	if (old != NULL && !replace)
		return CKR_TEMPLATE_INCONSISTENT;
	rv = copy_value(type, value, len, &copy);
	if (rv != CKR_OK)
		return rv;
	if (old == NULL) {
		if (!reserve_one(l)) {
			cr_free_secret(copy, len);
			return CKR_HOST_MEMORY;
		}
		old = &l->items[l->count++];
	} else {
		cr_free_secret(old->pValue, old->ulValueLen);
	}
	*old = (CK_ATTRIBUTE){ type, copy, len };
	return CKR_OK;
}

CK_RV attrs_add(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
	return put(l, type, value, len, false);
}

CK_RV attrs_set(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
	return put(l, type, value, len, true);
}

CK_RV attrs_set_bool(struct attr_list *l, CK_ATTRIBUTE_TYPE type, bool value)
{
	CK_BBOOL b = value ? CK_TRUE : CK_FALSE;

	return attrs_set(l, type, &b, sizeof(b));
}

CK_RV attrs_set_ulong(struct attr_list *l, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
	return attrs_set(l, type, &value, sizeof(value));
}

bool attrs_get_bool(const struct attr_list *l, CK_ATTRIBUTE_TYPE type, bool *value)
{
	const CK_ATTRIBUTE *a = find_item(l, type);

	if (a == NULL || a->ulValueLen != sizeof(CK_BBOOL))
		return false;
	*value = *(const CK_BBOOL *)a->pValue != CK_FALSE;
	return true;
}

bool attrs_get_ulong(const struct attr_list *l, CK_ATTRIBUTE_TYPE type, CK_ULONG *value)
{
	const CK_ATTRIBUTE *a = find_item(l, type);

	if (a == NULL || a->ulValueLen != sizeof(CK_ULONG))
		return false;
	memcpy(value, a->pValue, sizeof(*value));
	return true;
}

/* ---- Cryptoki semantics ---- */

CK_RV attrs_from_template(struct attr_list *out, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	CK_RV rv = CKR_OK;

	attrs_init(out);
	if (tmpl == NULL && count > 0)
		return CKR_ARGUMENTS_BAD;
	for (CK_ULONG i = 0; i < count && rv == CKR_OK; i++)
		rv = attrs_add(out, tmpl[i].type, tmpl[i].pValue, tmpl[i].ulValueLen);
	if (rv != CKR_OK)
		attrs_free(out);
	return rv;
}

/* Whether type is a secret part of a key of class cls. */
static bool is_secret_part(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
	if (cls == CKO_SECRET_KEY)
		return type == CKA_VALUE;
	if (cls != CKO_PRIVATE_KEY)
		return false;
	switch (type) {
	case CKA_VALUE: case CKA_PRIVATE_EXPONENT: case CKA_PRIME_1: case CKA_PRIME_2:
	case CKA_EXPONENT_1: case CKA_EXPONENT_2: case CKA_COEFFICIENT:
		return true;
	default:
		return false;
	}
}

bool attrs_key_secret(const struct attr_list *obj, CK_ATTRIBUTE_TYPE type, void *ctx)
{
	CK_ULONG cls;
	bool sensitive, extractable;

	(void)ctx;
	if (!attrs_get_ulong(obj, CKA_CLASS, &cls) || !is_secret_part(cls, type))
		return false;
	if (!attrs_get_bool(obj, CKA_SENSITIVE, &sensitive))
		sensitive = true;
	if (!attrs_get_bool(obj, CKA_EXTRACTABLE, &extractable))
		extractable = false;
	return sensitive || !extractable;
}

static bool hidden(const struct attr_list *obj, CK_ATTRIBUTE_TYPE type,
		   attrs_sensitive_fn *sensitive, void *ctx)
{
	return sensitive != NULL && sensitive(obj, type, ctx);
}

bool attrs_match(const struct attr_list *obj, const struct attr_list *tmpl,
		 attrs_sensitive_fn *sensitive, void *ctx)
{
	for (CK_ULONG i = 0; i < tmpl->count; i++) {
		const CK_ATTRIBUTE *want = &tmpl->items[i];
		const CK_ATTRIBUTE *have = find_item(obj, want->type);

		if (have == NULL || have->ulValueLen != want->ulValueLen ||
		    hidden(obj, want->type, sensitive, ctx))
			return false;
		if (want->ulValueLen > 0 && memcmp(have->pValue, want->pValue, want->ulValueLen) != 0)
			return false;
	}
	return true;
}

/* What happened to one attribute of a C_GetAttributeValue template. */
enum get_outcome { GOT_VALUE, GOT_SENSITIVE, GOT_ABSENT, GOT_TOO_SMALL };

static enum get_outcome get_one(const struct attr_list *obj, CK_ATTRIBUTE *t,
				attrs_sensitive_fn *sensitive, void *ctx)
{
	const CK_ATTRIBUTE *a;

	if (hidden(obj, t->type, sensitive, ctx)) {
		t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return GOT_SENSITIVE;
	}
	a = find_item(obj, t->type);
	if (a == NULL) {
		t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return GOT_ABSENT;
	}
	if (t->pValue != NULL) {
		if (t->ulValueLen < a->ulValueLen) {
			t->ulValueLen = CK_UNAVAILABLE_INFORMATION;
			return GOT_TOO_SMALL;
		}
		if (a->ulValueLen > 0)
			memcpy(t->pValue, a->pValue, a->ulValueLen);
	}
	t->ulValueLen = a->ulValueLen;
	return GOT_VALUE;
}

CK_RV attrs_get_value(const struct attr_list *obj, CK_ATTRIBUTE *tmpl, CK_ULONG count,
		      attrs_sensitive_fn *sensitive, void *ctx)
{
	bool seen[GOT_TOO_SMALL + 1] = { false };

	if (obj == NULL || (tmpl == NULL && count > 0))
		return CKR_ARGUMENTS_BAD;
	for (CK_ULONG i = 0; i < count; i++)
		seen[get_one(obj, &tmpl[i], sensitive, ctx)] = true;
	if (seen[GOT_SENSITIVE])
		return CKR_ATTRIBUTE_SENSITIVE;
	if (seen[GOT_ABSENT])
		return CKR_ATTRIBUTE_TYPE_INVALID;
	if (seen[GOT_TOO_SMALL])
		return CKR_BUFFER_TOO_SMALL;
	return CKR_OK;
}
