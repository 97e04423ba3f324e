/*
 * "Keys never leave the token": private and secret keys made through
 * signet are always CKA_SENSITIVE=TRUE and CKA_EXTRACTABLE=FALSE. These
 * helpers check a caller's template and add what it leaves out.
 */
#ifndef SIGNET_KEY_POLICY_H
#define SIGNET_KEY_POLICY_H

#include "pkcs11/cryptoki.h"

struct key_template {
	CK_ATTRIBUTE *attrs;     /* the caller's attributes, then any added */
	CK_ULONG count;
	CK_ATTRIBUTE *owned;     /* what to free, NULL if attrs is the caller's */
};

/*
 * Prepares a template for an object the token will create. The object's
 * class is CKA_CLASS from the template, else default_class ((CK_OBJECT_CLASS)-1:
 * none). For private and secret keys: CKR_TEMPLATE_INCONSISTENT when the
 * template asks for a sensitive-less or extractable key, otherwise the two
 * attributes are added when missing.
 */
CK_RV keys_harden(struct key_template *out, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
		  CK_OBJECT_CLASS default_class);
void keys_template_free(struct key_template *t);

/* Refuses (with `refusal`) a template that would make a key less protected. */
CK_RV keys_check_no_weakening(const CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_RV refusal);

#endif
