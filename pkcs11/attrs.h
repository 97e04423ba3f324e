/*
 * The attribute engine. A token that builds its objects itself (the PIV
 * card, the mock token of the tests) describes each object as a list of
 * attributes, and these functions answer the Cryptoki calls over it with
 * the rules of PKCS#11 2.40: template copies with bounds checks, template
 * match for C_FindObjects, and C_GetAttributeValue attribute by attribute.
 *
 * Values are opaque bytes. The engine knows the shape of three kinds of
 * attribute and checks it wherever a value enters a list: CK_BBOOL ones
 * (length 1, CK_TRUE or CK_FALSE), CK_ULONG ones (length sizeof(CK_ULONG)),
 * CK_DATE ones (empty or sizeof(CK_DATE)). Attribute arrays
 * (CKF_ARRAY_ATTRIBUTE: CKA_ALLOWED_MECHANISMS, CKA_WRAP_TEMPLATE,
 * CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE) are plain bytes too, whose
 * length must be a whole number of elements (CK_MECHANISM_TYPE, resp.
 * CK_ATTRIBUTE). A *_TEMPLATE value is copied as it is: the pValue pointers
 * inside it still point into the caller's memory, and the engine never
 * follows them; a token that keeps such a template copies it deeply itself.
 *
 * Not thread-safe: the caller holds the lock that guards the object.
 */
#ifndef SIGNET_ATTRS_H
#define SIGNET_ATTRS_H

#include <stdbool.h>

#include "pkcs11/cryptoki.h"

/* Owned copies of attributes, at most one of each type, in the order added. */
struct attr_list {
	CK_ATTRIBUTE *items; /* each pValue a heap copy, NULL when ulValueLen is 0 */
	CK_ULONG count;
	CK_ULONG cap;
};

#define ATTR_LIST_INIT { NULL, 0, 0 }

void attrs_init(struct attr_list *l);
/* Wipes every value, frees, and leaves l empty and usable again. */
void attrs_free(struct attr_list *l);

/*
 * Adds a copy of len bytes at value (NULL when len is 0).
 * CKR_TEMPLATE_INCONSISTENT when the list has the type already,
 * CKR_ATTRIBUTE_VALUE_INVALID when the value has the wrong shape (see
 * above; also NULL with len > 0), CKR_HOST_MEMORY.
 */
CK_RV attrs_add(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
/* As attrs_add, but replaces (and wipes) a value the type already has. */
CK_RV attrs_set(struct attr_list *l, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV attrs_set_bool(struct attr_list *l, CK_ATTRIBUTE_TYPE type, bool value);
CK_RV attrs_set_ulong(struct attr_list *l, CK_ATTRIBUTE_TYPE type, CK_ULONG value);

/* The attribute of that type, or NULL. The pointer lives until the list changes. */
const CK_ATTRIBUTE *attrs_find(const struct attr_list *l, CK_ATTRIBUTE_TYPE type);
/* False when the type is absent or its value has not the size of a CK_BBOOL / CK_ULONG. */
bool attrs_get_bool(const struct attr_list *l, CK_ATTRIBUTE_TYPE type, bool *value);
bool attrs_get_ulong(const struct attr_list *l, CK_ATTRIBUTE_TYPE type, CK_ULONG *value);

/*
 * Copies a caller's template (C_CreateObject, C_FindObjectsInit, ...) into
 * out, which this initialises; on failure out is empty. CKR_ARGUMENTS_BAD
 * for a NULL template with count > 0; CKR_ATTRIBUTE_VALUE_INVALID for an
 * attribute whose pValue is NULL with a nonzero length (the fault is in
 * one attribute, so the code names the attribute, as a wrong length does),
 * or whose value has the wrong shape (2.40 section 4.1.1: an invalid value
 * for a valid attribute); CKR_TEMPLATE_INCONSISTENT when a type appears
 * twice (the standard lets a token refuse that, naming a
 * "CKR_TEMPLATE_INVALID" that no header defines); CKR_HOST_MEMORY.
 */
CK_RV attrs_from_template(struct attr_list *out, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

/*
 * Whether an attribute of obj must not be revealed (case 1 of
 * C_GetAttributeValue). Asked for every attribute of a template, also for
 * types obj does not hold: a card key has no CKA_PRIVATE_EXPONENT to
 * store, yet asking for it is CKR_ATTRIBUTE_SENSITIVE, not
 * CKR_ATTRIBUTE_TYPE_INVALID. NULL stands for "nothing is sensitive".
 */
typedef bool attrs_sensitive_fn(const struct attr_list *obj, CK_ATTRIBUTE_TYPE type, void *ctx);

/*
 * The usual predicate: the secret parts of private keys (CKA_VALUE,
 * CKA_PRIVATE_EXPONENT, CKA_PRIME_1/2, CKA_EXPONENT_1/2, CKA_COEFFICIENT)
 * and of secret keys (CKA_VALUE) are hidden unless the key says both
 * CKA_SENSITIVE FALSE and CKA_EXTRACTABLE TRUE; a key that leaves either
 * out keeps its secrets. Nothing of other classes is hidden. ctx is unused.
 */
bool attrs_key_secret(const struct attr_list *obj, CK_ATTRIBUTE_TYPE type, void *ctx);

/*
 * C_FindObjects: true when every attribute of tmpl (a copy made by
 * attrs_from_template at C_FindObjectsInit) is in obj with the same length
 * and bytes; an empty template matches every object. An attribute that
 * sensitive hides never matches, so a search cannot be used to guess a
 * secret value.
 */
bool attrs_match(const struct attr_list *obj, const struct attr_list *tmpl,
		 attrs_sensitive_fn *sensitive, void *ctx);

/*
 * C_GetAttributeValue over obj, as PKCS#11 2.40 section 5.7 says, for every
 * attribute of tmpl whatever happens to the others:
 *   hidden by sensitive        ulValueLen = CK_UNAVAILABLE_INFORMATION
 *   not in obj                 ulValueLen = CK_UNAVAILABLE_INFORMATION
 *   pValue NULL                ulValueLen = the value's length
 *   ulValueLen >= the length   value copied, ulValueLen = the length
 *   otherwise                  ulValueLen = CK_UNAVAILABLE_INFORMATION,
 *                              pValue untouched
 * Returns CKR_OK when all were answered. When some were not, the standard
 * lets us return any of the codes that apply; this returns, in this order
 * of precedence, CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID,
 * CKR_BUFFER_TOO_SMALL: the first two are properties of the object that no
 * retry can change, so they are reported before the one a caller can fix
 * (every attribute carries its own -1 either way). CKR_ARGUMENTS_BAD for a
 * NULL obj, or a NULL tmpl with count > 0.
 */
CK_RV attrs_get_value(const struct attr_list *obj, CK_ATTRIBUTE *tmpl, CK_ULONG count,
		      attrs_sensitive_fn *sensitive, void *ctx);

#endif
