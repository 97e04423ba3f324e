/*
 * The attribute engine: owned lists, the shape checks on every value that
 * enters one, template copies, C_FindObjects matching and
 * C_GetAttributeValue (PKCS#11 2.40 section 5.7) with its exact lengths
 * and return codes, and the usual sensitivity predicate.
 */
#include <check.h>
#include <string.h>

#include "pkcs11/attrs.h"
#include "tests/check_util.h"

#define UNAVAILABLE CK_UNAVAILABLE_INFORMATION

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static const CK_OBJECT_CLASS cls_priv = CKO_PRIVATE_KEY, cls_cert = CKO_CERTIFICATE;

static struct attr_list obj = ATTR_LIST_INIT;

static void teardown(void)
{
	attrs_free(&obj);
}

/* A card-like private key: no secret parts stored, public parts readable. */
static void make_private_key(void)
{
	static const uint8_t modulus[] = { 0xC0, 0xFF, 0xEE, 0x01, 0x02, 0x03 };

	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_KEY_TYPE, CKK_RSA), CKR_OK);
	ck_assert_uint_eq(attrs_set(&obj, CKA_LABEL, "auth", 4), CKR_OK);
	ck_assert_uint_eq(attrs_set(&obj, CKA_ID, "\x01", 1), CKR_OK);
	ck_assert_uint_eq(attrs_set(&obj, CKA_MODULUS, modulus, sizeof(modulus)), CKR_OK);
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_SIGN, true), CKR_OK);
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_SENSITIVE, true), CKR_OK);
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_EXTRACTABLE, false), CKR_OK);
	ck_assert_uint_eq(attrs_set(&obj, CKA_SUBJECT, NULL, 0), CKR_OK);
}

/* ---- the list ---- */

START_TEST(test_list_add_find_copy)
{
	char label[] = "signing key";
	const CK_ATTRIBUTE *a;

	ck_assert_ptr_null(attrs_find(&obj, CKA_LABEL));
	ck_assert_uint_eq(attrs_add(&obj, CKA_LABEL, label, 11), CKR_OK);
	a = attrs_find(&obj, CKA_LABEL);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->type, CKA_LABEL);
	ck_assert_uint_eq(a->ulValueLen, 11);
	/* An owned copy: changing the source does not change the list. */
	ck_assert_ptr_ne(a->pValue, label);
	label[0] = 'X';
	ck_assert_mem_eq(a->pValue, "signing key", 11);
	ck_assert_uint_eq(obj.count, 1);
}
END_TEST

START_TEST(test_list_add_duplicate)
{
	const CK_ATTRIBUTE *a;

	ck_assert_uint_eq(attrs_add(&obj, CKA_ID, "\x01", 1), CKR_OK);
	ck_assert_uint_eq(attrs_add(&obj, CKA_ID, "\x02\x03", 2), CKR_TEMPLATE_INCONSISTENT);
	a = attrs_find(&obj, CKA_ID);
	ck_assert_uint_eq(obj.count, 1);
	ck_assert_uint_eq(a->ulValueLen, 1);
	ck_assert_mem_eq(a->pValue, "\x01", 1);
}
END_TEST

START_TEST(test_list_set_replaces)
{
	const CK_ATTRIBUTE *a;

	ck_assert_uint_eq(attrs_set(&obj, CKA_ID, "\x01", 1), CKR_OK);
	ck_assert_uint_eq(attrs_set(&obj, CKA_LABEL, "x", 1), CKR_OK);
	ck_assert_uint_eq(attrs_set(&obj, CKA_ID, "\x02\x03\x04", 3), CKR_OK);
	ck_assert_uint_eq(obj.count, 2);
	a = attrs_find(&obj, CKA_ID);
	ck_assert_uint_eq(a->ulValueLen, 3);
	ck_assert_mem_eq(a->pValue, "\x02\x03\x04", 3);
	/* Down to empty. */
	ck_assert_uint_eq(attrs_set(&obj, CKA_ID, NULL, 0), CKR_OK);
	a = attrs_find(&obj, CKA_ID);
	ck_assert_uint_eq(a->ulValueLen, 0);
	ck_assert_ptr_null(a->pValue);
	/* A refused replacement keeps the old value. */
	ck_assert_uint_eq(attrs_set(&obj, CKA_LABEL, NULL, 2), CKR_ATTRIBUTE_VALUE_INVALID);
	a = attrs_find(&obj, CKA_LABEL);
	ck_assert_uint_eq(a->ulValueLen, 1);
	ck_assert_mem_eq(a->pValue, "x", 1);
}
END_TEST

START_TEST(test_list_bool_ulong_helpers)
{
	const CK_ATTRIBUTE *a;
	bool b = false;
	CK_ULONG u = 0;

	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_TOKEN, true), CKR_OK);
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_PRIVATE, false), CKR_OK);
	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_MODULUS_BITS, 2048), CKR_OK);
	a = attrs_find(&obj, CKA_TOKEN);
	ck_assert_uint_eq(a->ulValueLen, sizeof(CK_BBOOL));
	ck_assert_uint_eq(*(CK_BBOOL *)a->pValue, CK_TRUE);
	ck_assert(attrs_get_bool(&obj, CKA_TOKEN, &b));
	ck_assert(b);
	ck_assert(attrs_get_bool(&obj, CKA_PRIVATE, &b));
	ck_assert(!b);
	a = attrs_find(&obj, CKA_MODULUS_BITS);
	ck_assert_uint_eq(a->ulValueLen, sizeof(CK_ULONG));
	ck_assert(attrs_get_ulong(&obj, CKA_MODULUS_BITS, &u));
	ck_assert_uint_eq(u, 2048);
	/* Absent, or not of the right size. */
	u = 7;
	ck_assert(!attrs_get_bool(&obj, CKA_SIGN, &b));
	ck_assert(!attrs_get_ulong(&obj, CKA_CLASS, &u));
	ck_assert_uint_eq(attrs_set(&obj, CKA_LABEL, "abc", 3), CKR_OK);
	ck_assert(!attrs_get_ulong(&obj, CKA_LABEL, &u));
	ck_assert(!attrs_get_bool(&obj, CKA_LABEL, &b));
	ck_assert_uint_eq(u, 7);
	/* set_* replace too. */
	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_MODULUS_BITS, 3072), CKR_OK);
	ck_assert(attrs_get_ulong(&obj, CKA_MODULUS_BITS, &u));
	ck_assert_uint_eq(u, 3072);
	ck_assert_uint_eq(obj.count, 4);
}
END_TEST

START_TEST(test_list_grows_and_frees)
{
	CK_ULONG u;

	for (CK_ULONG t = 0; t < 100; t++)
		ck_assert_uint_eq(attrs_add(&obj, CKA_VENDOR_DEFINED + t, &t, sizeof(t)), CKR_OK);
	ck_assert_uint_eq(obj.count, 100);
	for (CK_ULONG t = 0; t < 100; t++) {
		const CK_ATTRIBUTE *a = attrs_find(&obj, CKA_VENDOR_DEFINED + t);

		ck_assert_ptr_nonnull(a);
		memcpy(&u, a->pValue, sizeof(u));
		ck_assert_uint_eq(u, t);
	}
	attrs_free(&obj);
	ck_assert_uint_eq(obj.count, 0);
	ck_assert_ptr_null(obj.items);
	ck_assert_ptr_null(attrs_find(&obj, CKA_VENDOR_DEFINED));
	/* Usable again after free. */
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_TOKEN, true), CKR_OK);
	ck_assert_uint_eq(obj.count, 1);
}
END_TEST

/* ---- shapes: every value that enters a list ---- */

static const struct shape_case {
	const char *what;
	CK_ATTRIBUTE_TYPE type;
	CK_ULONG len;
	CK_BBOOL first; /* the first byte of the value */
	bool null_value;
	CK_RV rv;
} shapes[] = {
	{ "bool, 1 byte, TRUE", CKA_SIGN, 1, CK_TRUE, false, CKR_OK },
	{ "bool, 1 byte, FALSE", CKA_SIGN, 1, CK_FALSE, false, CKR_OK },
	{ "bool, 1 byte, 2", CKA_SIGN, 1, 2, false, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "bool, 0 bytes", CKA_TOKEN, 0, 0, true, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "bool, 2 bytes", CKA_SENSITIVE, 2, CK_TRUE, false, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "bool, sizeof(CK_ULONG)", CKA_EXTRACTABLE, sizeof(CK_ULONG), 1, false, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "ulong, exact", CKA_CLASS, sizeof(CK_ULONG), 0, false, CKR_OK },
	{ "ulong, 4 bytes", CKA_CLASS, 4, 0, false, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "ulong, 0 bytes", CKA_KEY_TYPE, 0, 0, true, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "ulong, 1 byte", CKA_VALUE_LEN, 1, 0, false, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "date, empty", CKA_START_DATE, 0, 0, true, CKR_OK },
	{ "date, 8 bytes", CKA_END_DATE, sizeof(CK_DATE), '2', false, CKR_OK },
	{ "date, 6 bytes", CKA_END_DATE, 6, '2', false, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "mechanisms, two", CKA_ALLOWED_MECHANISMS, 2 * sizeof(CK_MECHANISM_TYPE), 0, false, CKR_OK },
	{ "mechanisms, none", CKA_ALLOWED_MECHANISMS, 0, 0, true, CKR_OK },
	{ "mechanisms, 1.5", CKA_ALLOWED_MECHANISMS, 3 * sizeof(CK_MECHANISM_TYPE) / 2, 0, false,
	  CKR_ATTRIBUTE_VALUE_INVALID },
	{ "wrap template, one", CKA_WRAP_TEMPLATE, sizeof(CK_ATTRIBUTE), 0, false, CKR_OK },
	{ "unwrap template, one and a byte", CKA_UNWRAP_TEMPLATE, sizeof(CK_ATTRIBUTE) + 1, 0, false,
	  CKR_ATTRIBUTE_VALUE_INVALID },
	{ "derive template, a mechanism's size", CKA_DERIVE_TEMPLATE, sizeof(CK_MECHANISM_TYPE), 0, false,
	  CKR_ATTRIBUTE_VALUE_INVALID },
	{ "bytes, any length", CKA_LABEL, 7, 'a', false, CKR_OK },
	{ "bytes, empty with NULL", CKA_ID, 0, 0, true, CKR_OK },
	{ "bytes, NULL with a length", CKA_ID, 3, 0, true, CKR_ATTRIBUTE_VALUE_INVALID },
	{ "bytes, length -1", CKA_VALUE, CK_UNAVAILABLE_INFORMATION, 0, false, CKR_ATTRIBUTE_VALUE_INVALID },
};

START_TEST(test_shapes_on_add)
{
	const struct shape_case *c = &shapes[_i];
	uint8_t value[sizeof(CK_ATTRIBUTE) + 8] = { 0 };
	const CK_ATTRIBUTE *a;

	value[0] = c->first;
	ck_assert_msg(attrs_add(&obj, c->type, c->null_value ? NULL : value, c->len) == c->rv,
		      "%s: rv", c->what);
	a = attrs_find(&obj, c->type);
	if (c->rv == CKR_OK) {
		ck_assert_ptr_nonnull(a);
		ck_assert_uint_eq(a->ulValueLen, c->len);
		if (c->len > 0)
			ck_assert_mem_eq(a->pValue, value, c->len);
	} else {
		ck_assert_msg(a == NULL && obj.count == 0, "%s: refused value entered the list", c->what);
	}
}
END_TEST

START_TEST(test_shapes_on_template)
{
	const struct shape_case *c = &shapes[_i];
	uint8_t value[sizeof(CK_ATTRIBUTE) + 8] = { 0 };
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_APPLICATION, "app", 3 },
		{ c->type, c->null_value ? NULL : value, c->len },
	};

	value[0] = c->first;
	ck_assert_msg(attrs_from_template(&obj, tmpl, 2) == c->rv, "%s: rv", c->what);
	ck_assert_uint_eq(obj.count, c->rv == CKR_OK ? 2 : 0);
	if (c->rv != CKR_OK)
		ck_assert_ptr_null(obj.items);
}
END_TEST

/* ---- template copies ---- */

START_TEST(test_template_copy)
{
	CK_ULONG key_type = CKK_EC, u = 0;
	uint8_t id[2] = { 0x01, 0x02 };
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, (void *)&cls_priv, sizeof(cls_priv) },
		{ CKA_KEY_TYPE, &key_type, sizeof(key_type) },
		{ CKA_ID, id, sizeof(id) },
		{ CKA_TOKEN, (void *)&yes, sizeof(yes) },
		{ CKA_LABEL, NULL, 0 },
	};
	const CK_ATTRIBUTE *a;
	bool b = false;

	ck_assert_uint_eq(attrs_from_template(&obj, tmpl, 5), CKR_OK);
	ck_assert_uint_eq(obj.count, 5);
	/* The caller's memory may change after the call; the copy does not. */
	key_type = CKK_RSA;
	id[0] = 0xFF;
	ck_assert(attrs_get_ulong(&obj, CKA_KEY_TYPE, &u));
	ck_assert_uint_eq(u, CKK_EC);
	a = attrs_find(&obj, CKA_ID);
	ck_assert_ptr_ne(a->pValue, id);
	ck_assert_mem_eq(a->pValue, "\x01\x02", 2);
	ck_assert(attrs_get_bool(&obj, CKA_TOKEN, &b));
	ck_assert(b);
	a = attrs_find(&obj, CKA_LABEL);
	ck_assert_uint_eq(a->ulValueLen, 0);
	ck_assert_ptr_null(a->pValue);
	/* Kept in the caller's order. */
	ck_assert_uint_eq(obj.items[0].type, CKA_CLASS);
	ck_assert_uint_eq(obj.items[4].type, CKA_LABEL);
}
END_TEST

START_TEST(test_template_empty_and_null)
{
	CK_ATTRIBUTE one = { CKA_TOKEN, (void *)&yes, 1 };

	ck_assert_uint_eq(attrs_from_template(&obj, NULL, 0), CKR_OK);
	ck_assert_uint_eq(obj.count, 0);
	ck_assert_uint_eq(attrs_from_template(&obj, &one, 0), CKR_OK);
	ck_assert_uint_eq(obj.count, 0);
	ck_assert_uint_eq(attrs_from_template(&obj, NULL, 2), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(obj.count, 0);
	ck_assert_ptr_null(obj.items);
}
END_TEST

START_TEST(test_template_duplicate)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_LABEL, "a", 1 },
		{ CKA_SIGN, (void *)&yes, 1 },
		{ CKA_ID, "\x01", 1 },
		{ CKA_SIGN, (void *)&yes, 1 }, /* even with the same value */
	};

	ck_assert_uint_eq(attrs_from_template(&obj, tmpl, 4), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_uint_eq(obj.count, 0);
	ck_assert_ptr_null(obj.items);
	/* Without the repeat it is fine. */
	ck_assert_uint_eq(attrs_from_template(&obj, tmpl, 3), CKR_OK);
	ck_assert_uint_eq(obj.count, 3);
}
END_TEST

/* ---- C_FindObjects ---- */

static void copy_template(struct attr_list *out, const CK_ATTRIBUTE *tmpl, CK_ULONG n)
{
	ck_assert_uint_eq(attrs_from_template(out, tmpl, n), CKR_OK);
}

START_TEST(test_match)
{
	CK_ULONG rsa = CKK_RSA, ec = CKK_EC;
	CK_ATTRIBUTE all_of_it[] = {
		{ CKA_CLASS, (void *)&cls_priv, sizeof(cls_priv) },
		{ CKA_KEY_TYPE, &rsa, sizeof(rsa) },
		{ CKA_ID, "\x01", 1 },
		{ CKA_SIGN, (void *)&yes, 1 },
		{ CKA_SUBJECT, NULL, 0 },
	};
	struct { const char *what; CK_ATTRIBUTE a; bool match; } one[] = {
		{ "same label", { CKA_LABEL, "auth", 4 }, true },
		{ "other label, same length", { CKA_LABEL, "autH", 4 }, false },
		{ "label prefix", { CKA_LABEL, "aut", 3 }, false },
		{ "label longer", { CKA_LABEL, "auth!", 5 }, false },
		{ "empty label", { CKA_LABEL, NULL, 0 }, false },
		{ "empty subject", { CKA_SUBJECT, NULL, 0 }, true },
		{ "other key type", { CKA_KEY_TYPE, &ec, sizeof(ec) }, false },
		{ "other class", { CKA_CLASS, (void *)&cls_cert, sizeof(cls_cert) }, false },
		{ "sign false", { CKA_SIGN, (void *)&no, 1 }, false },
		{ "absent attribute", { CKA_DECRYPT, (void *)&yes, 1 }, false },
	};
	struct attr_list tmpl = ATTR_LIST_INIT;

	make_private_key();
	/* An empty template matches every object, an empty one too. */
	ck_assert(attrs_match(&obj, &tmpl, attrs_key_secret, NULL));
	{
		struct attr_list nothing = ATTR_LIST_INIT;

		ck_assert(attrs_match(&nothing, &tmpl, NULL, NULL));
	}
	copy_template(&tmpl, all_of_it, 5);
	ck_assert(attrs_match(&obj, &tmpl, attrs_key_secret, NULL));
	attrs_free(&tmpl);
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		CK_ATTRIBUTE two[] = { all_of_it[2], one[i].a };

		copy_template(&tmpl, two, 2);
		ck_assert_msg(attrs_match(&obj, &tmpl, attrs_key_secret, NULL) == one[i].match,
			      "%s", one[i].what);
		attrs_free(&tmpl);
	}
}
END_TEST

START_TEST(test_match_never_reveals_a_secret)
{
	static const uint8_t secret[] = { 0x5E, 0xC2, 0xE7 };
	CK_ATTRIBUTE guess[] = { { CKA_VALUE, (void *)secret, sizeof(secret) } };
	struct attr_list tmpl = ATTR_LIST_INIT;

	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
	ck_assert_uint_eq(attrs_set(&obj, CKA_VALUE, secret, sizeof(secret)), CKR_OK);
	copy_template(&tmpl, guess, 1);
	/* The right guess does not match while the value is hidden ... */
	ck_assert(!attrs_match(&obj, &tmpl, attrs_key_secret, NULL));
	/* ... and does when nothing is sensitive, so the refusal is the predicate's doing. */
	ck_assert(attrs_match(&obj, &tmpl, NULL, NULL));
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_SENSITIVE, false), CKR_OK);
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_EXTRACTABLE, true), CKR_OK);
	ck_assert(attrs_match(&obj, &tmpl, attrs_key_secret, NULL));
	attrs_free(&tmpl);
}
END_TEST

/* ---- C_GetAttributeValue ---- */

START_TEST(test_get_size_query)
{
	CK_ATTRIBUTE t[] = {
		{ CKA_LABEL, NULL, 999 },
		{ CKA_CLASS, NULL, 0 },
		{ CKA_SIGN, NULL, 0 },
		{ CKA_SUBJECT, NULL, 5 },
		{ CKA_MODULUS, NULL, 0 },
	};

	make_private_key();
	ck_assert_uint_eq(attrs_get_value(&obj, t, 5, attrs_key_secret, NULL), CKR_OK);
	ck_assert_uint_eq(t[0].ulValueLen, 4);
	ck_assert_uint_eq(t[1].ulValueLen, sizeof(CK_ULONG));
	ck_assert_uint_eq(t[2].ulValueLen, 1);
	ck_assert_uint_eq(t[3].ulValueLen, 0);
	ck_assert_uint_eq(t[4].ulValueLen, 6);
	for (int i = 0; i < 5; i++)
		ck_assert_ptr_null(t[i].pValue);
}
END_TEST

START_TEST(test_get_values)
{
	uint8_t label[16], modulus[6], subject[4] = { 0xAA, 0xAA, 0xAA, 0xAA };
	CK_OBJECT_CLASS cls = 0;
	CK_BBOOL sign = 0;
	CK_ATTRIBUTE t[] = {
		{ CKA_LABEL, label, sizeof(label) },    /* larger than needed */
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_SIGN, &sign, sizeof(sign) },
		{ CKA_MODULUS, modulus, sizeof(modulus) }, /* exact */
		{ CKA_SUBJECT, subject, sizeof(subject) }, /* an empty value */
	};

	memset(label, 0xAA, sizeof(label));
	make_private_key();
	ck_assert_uint_eq(attrs_get_value(&obj, t, 5, attrs_key_secret, NULL), CKR_OK);
	ck_assert_uint_eq(t[0].ulValueLen, 4);
	ck_assert_mem_eq(label, "auth", 4);
	ck_assert_uint_eq(label[4], 0xAA); /* nothing written past the value */
	ck_assert_uint_eq(t[1].ulValueLen, sizeof(CK_ULONG));
	ck_assert_uint_eq(cls, CKO_PRIVATE_KEY);
	ck_assert_uint_eq(t[2].ulValueLen, 1);
	ck_assert_uint_eq(sign, CK_TRUE);
	ck_assert_uint_eq(t[3].ulValueLen, 6);
	ck_assert_mem_eq(modulus, "\xC0\xFF\xEE\x01\x02\x03", 6);
	ck_assert_uint_eq(t[4].ulValueLen, 0);
	ck_assert_uint_eq(subject[0], 0xAA);
	/* Nothing asked, nothing wrong. */
	ck_assert_uint_eq(attrs_get_value(&obj, t, 0, attrs_key_secret, NULL), CKR_OK);
	ck_assert_uint_eq(attrs_get_value(&obj, NULL, 0, attrs_key_secret, NULL), CKR_OK);
}
END_TEST

START_TEST(test_get_buffer_too_small)
{
	uint8_t label[3] = { 0xAA, 0xAA, 0xAA }, id[1] = { 0 };
	CK_ATTRIBUTE t[] = {
		{ CKA_LABEL, label, sizeof(label) }, /* needs 4 */
		{ CKA_ID, id, sizeof(id) },          /* after it, still answered */
		{ CKA_MODULUS, NULL, 0 },            /* a size query in the same call */
		{ CKA_CLASS, label, 0 },             /* zero room for 8 bytes */
	};

	make_private_key();
	ck_assert_uint_eq(attrs_get_value(&obj, t, 4, attrs_key_secret, NULL), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
	ck_assert_mem_eq(label, "\xAA\xAA\xAA", 3); /* untouched */
	ck_assert_uint_eq(t[1].ulValueLen, 1);
	ck_assert_uint_eq(id[0], 0x01);
	ck_assert_uint_eq(t[2].ulValueLen, 6);
	ck_assert_uint_eq(t[3].ulValueLen, UNAVAILABLE);
}
END_TEST

START_TEST(test_get_absent)
{
	uint8_t id[4];
	CK_ATTRIBUTE t[] = {
		{ CKA_VALUE_LEN, NULL, 0 },
		{ CKA_ID, id, sizeof(id) },
		{ CKA_START_DATE, id, sizeof(id) },
	};

	make_private_key();
	ck_assert_uint_eq(attrs_get_value(&obj, t, 3, attrs_key_secret, NULL), CKR_ATTRIBUTE_TYPE_INVALID);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[1].ulValueLen, 1);
	ck_assert_uint_eq(id[0], 0x01);
	ck_assert_uint_eq(t[2].ulValueLen, UNAVAILABLE);
}
END_TEST

START_TEST(test_get_sensitive)
{
	uint8_t buf[64];
	CK_ATTRIBUTE t[] = {
		{ CKA_PRIVATE_EXPONENT, NULL, 0 }, /* not stored, still sensitive */
		{ CKA_PRIME_1, buf, sizeof(buf) },
		{ CKA_LABEL, NULL, 0 },
	};

	make_private_key();
	ck_assert_uint_eq(attrs_get_value(&obj, t, 3, attrs_key_secret, NULL), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[1].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[2].ulValueLen, 4);
	/* Without the predicate the same attributes are merely absent. */
	t[0].ulValueLen = 0;
	t[1].ulValueLen = sizeof(buf);
	ck_assert_uint_eq(attrs_get_value(&obj, t, 3, NULL, NULL), CKR_ATTRIBUTE_TYPE_INVALID);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[1].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[2].ulValueLen, 4);
}
END_TEST

START_TEST(test_get_sensitive_stored_value_stays)
{
	static const uint8_t secret[] = { 1, 2, 3, 4 };
	uint8_t buf[8] = { 0 };
	CK_ATTRIBUTE t[] = { { CKA_VALUE, buf, sizeof(buf) } };

	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
	ck_assert_uint_eq(attrs_set(&obj, CKA_VALUE, secret, sizeof(secret)), CKR_OK);
	ck_assert_uint_eq(attrs_get_value(&obj, t, 1, attrs_key_secret, NULL), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
	ck_assert_mem_eq(buf, "\0\0\0\0\0\0\0\0", 8);
	/* A size query learns nothing either. */
	t[0].pValue = NULL;
	ck_assert_uint_eq(attrs_get_value(&obj, t, 1, attrs_key_secret, NULL), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
}
END_TEST

/* Which code wins when several apply: sensitive, then type invalid, then buffer too small. */
START_TEST(test_get_precedence)
{
	uint8_t small[1];
	CK_ATTRIBUTE all[] = {
		{ CKA_LABEL, small, sizeof(small) }, /* too small */
		{ CKA_VALUE_LEN, NULL, 0 },          /* absent */
		{ CKA_COEFFICIENT, NULL, 0 },        /* sensitive */
		{ CKA_ID, NULL, 0 },                 /* fine */
	};
	CK_ATTRIBUTE t[4];

	make_private_key();
	memcpy(t, all, sizeof(all));
	ck_assert_uint_eq(attrs_get_value(&obj, t, 4, attrs_key_secret, NULL), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[1].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[2].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[3].ulValueLen, 1);

	memcpy(t, all, sizeof(all));
	ck_assert_uint_eq(attrs_get_value(&obj, t, 2, attrs_key_secret, NULL), CKR_ATTRIBUTE_TYPE_INVALID);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
	ck_assert_uint_eq(t[1].ulValueLen, UNAVAILABLE);

	/* The order in the template does not matter. */
	memcpy(t, all, sizeof(all));
	t[0] = all[2];
	t[2] = all[0];
	ck_assert_uint_eq(attrs_get_value(&obj, t, 3, attrs_key_secret, NULL), CKR_ATTRIBUTE_SENSITIVE);
	memcpy(t, all, sizeof(all));
	t[0] = all[1];
	t[1] = all[0];
	ck_assert_uint_eq(attrs_get_value(&obj, t, 2, attrs_key_secret, NULL), CKR_ATTRIBUTE_TYPE_INVALID);
}
END_TEST

START_TEST(test_get_array_attribute)
{
	CK_MECHANISM_TYPE mechs[2] = { CKM_ECDSA, CKM_ECDSA_SHA256 }, got[3] = { 0, 0, 0 };
	CK_ATTRIBUTE t[] = { { CKA_ALLOWED_MECHANISMS, NULL, 0 } };

	ck_assert_uint_eq(attrs_set(&obj, CKA_ALLOWED_MECHANISMS, mechs, sizeof(mechs)), CKR_OK);
	ck_assert_uint_eq(attrs_get_value(&obj, t, 1, attrs_key_secret, NULL), CKR_OK);
	ck_assert_uint_eq(t[0].ulValueLen, 2 * sizeof(CK_MECHANISM_TYPE));
	/* A caller's buffer need not be a whole number of elements: only its size counts. */
	t[0].pValue = got;
	t[0].ulValueLen = sizeof(got) - 1;
	ck_assert_uint_eq(attrs_get_value(&obj, t, 1, attrs_key_secret, NULL), CKR_OK);
	ck_assert_uint_eq(t[0].ulValueLen, 2 * sizeof(CK_MECHANISM_TYPE));
	ck_assert_uint_eq(got[0], CKM_ECDSA);
	ck_assert_uint_eq(got[1], CKM_ECDSA_SHA256);
	ck_assert_uint_eq(got[2], 0);
	t[0].ulValueLen = sizeof(CK_MECHANISM_TYPE);
	ck_assert_uint_eq(attrs_get_value(&obj, t, 1, attrs_key_secret, NULL), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(t[0].ulValueLen, UNAVAILABLE);
}
END_TEST

START_TEST(test_get_arguments)
{
	CK_ATTRIBUTE t[] = { { CKA_LABEL, NULL, 0 } };

	ck_assert_uint_eq(attrs_get_value(NULL, t, 1, attrs_key_secret, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(t[0].ulValueLen, 0);
	ck_assert_uint_eq(attrs_get_value(&obj, NULL, 1, attrs_key_secret, NULL), CKR_ARGUMENTS_BAD);
}
END_TEST

/* ---- the usual sensitivity predicate ---- */

static const CK_ATTRIBUTE_TYPE private_secrets[] = {
	CKA_VALUE, CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
	CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT,
};
static const CK_ATTRIBUTE_TYPE public_parts[] = {
	CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS, CKA_LABEL, CKA_ID, CKA_CLASS,
	CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_PRIME, CKA_SUBPRIME, CKA_BASE,
};

static void expect_hidden(bool hidden_secrets)
{
	for (size_t i = 0; i < sizeof(private_secrets) / sizeof(private_secrets[0]); i++)
		ck_assert_msg(attrs_key_secret(&obj, private_secrets[i], NULL) == hidden_secrets,
			      "attribute 0x%lx", private_secrets[i]);
	for (size_t i = 0; i < sizeof(public_parts) / sizeof(public_parts[0]); i++)
		ck_assert_msg(!attrs_key_secret(&obj, public_parts[i], NULL),
			      "attribute 0x%lx", public_parts[i]);
}

/* (sensitive, extractable) with -1 for "not stored": only FALSE/TRUE reveals. */
static const struct { int sensitive, extractable; bool hidden; } flag_cases[] = {
	{ -1, -1, true }, { 1, -1, true }, { 0, -1, true }, { -1, 1, true }, { -1, 0, true },
	{ 1, 1, true }, { 1, 0, true }, { 0, 0, true }, { 0, 1, false },
};

START_TEST(test_key_secret_private_key)
{
	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
	if (flag_cases[_i].sensitive >= 0)
		ck_assert_uint_eq(attrs_set_bool(&obj, CKA_SENSITIVE, flag_cases[_i].sensitive), CKR_OK);
	if (flag_cases[_i].extractable >= 0)
		ck_assert_uint_eq(attrs_set_bool(&obj, CKA_EXTRACTABLE, flag_cases[_i].extractable), CKR_OK);
	expect_hidden(flag_cases[_i].hidden);
}
END_TEST

START_TEST(test_key_secret_other_classes)
{
	/* A secret key hides its CKA_VALUE only. */
	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
	ck_assert(attrs_key_secret(&obj, CKA_VALUE, NULL));
	ck_assert(!attrs_key_secret(&obj, CKA_PRIVATE_EXPONENT, NULL));
	ck_assert(!attrs_key_secret(&obj, CKA_LABEL, NULL));
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_SENSITIVE, false), CKR_OK);
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_EXTRACTABLE, true), CKR_OK);
	ck_assert(!attrs_key_secret(&obj, CKA_VALUE, NULL));
	/* Certificates, public keys and data objects hide nothing, whatever their flags. */
	ck_assert_uint_eq(attrs_set_bool(&obj, CKA_SENSITIVE, true), CKR_OK);
	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_CLASS, CKO_CERTIFICATE), CKR_OK);
	ck_assert(!attrs_key_secret(&obj, CKA_VALUE, NULL));
	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_CLASS, CKO_PUBLIC_KEY), CKR_OK);
	ck_assert(!attrs_key_secret(&obj, CKA_VALUE, NULL));
	ck_assert_uint_eq(attrs_set_ulong(&obj, CKA_CLASS, CKO_DATA), CKR_OK);
	ck_assert(!attrs_key_secret(&obj, CKA_VALUE, NULL));
	/* No class at all: nothing to protect. */
	attrs_free(&obj);
	ck_assert(!attrs_key_secret(&obj, CKA_VALUE, NULL));
}
END_TEST

static Suite *attrs_suite(void)
{
	Suite *s = suite_create("attrs");
	TCase *list = tcase_create("list"), *tmpl = tcase_create("template");
	TCase *find = tcase_create("find"), *get = tcase_create("get_value");
	TCase *secret = tcase_create("key_secret");
	int nshapes = (int)(sizeof(shapes) / sizeof(shapes[0]));

	tcase_add_checked_fixture(list, NULL, teardown);
	tcase_add_test(list, test_list_add_find_copy);
	tcase_add_test(list, test_list_add_duplicate);
	tcase_add_test(list, test_list_set_replaces);
	tcase_add_test(list, test_list_bool_ulong_helpers);
	tcase_add_test(list, test_list_grows_and_frees);
	tcase_add_loop_test(list, test_shapes_on_add, 0, nshapes);
	suite_add_tcase(s, list);

	tcase_add_checked_fixture(tmpl, NULL, teardown);
	tcase_add_loop_test(tmpl, test_shapes_on_template, 0, nshapes);
	tcase_add_test(tmpl, test_template_copy);
	tcase_add_test(tmpl, test_template_empty_and_null);
	tcase_add_test(tmpl, test_template_duplicate);
	suite_add_tcase(s, tmpl);

	tcase_add_checked_fixture(find, NULL, teardown);
	tcase_add_test(find, test_match);
	tcase_add_test(find, test_match_never_reveals_a_secret);
	suite_add_tcase(s, find);

	tcase_add_checked_fixture(get, NULL, teardown);
	tcase_add_test(get, test_get_size_query);
	tcase_add_test(get, test_get_values);
	tcase_add_test(get, test_get_buffer_too_small);
	tcase_add_test(get, test_get_absent);
	tcase_add_test(get, test_get_sensitive);
	tcase_add_test(get, test_get_sensitive_stored_value_stays);
	tcase_add_test(get, test_get_precedence);
	tcase_add_test(get, test_get_array_attribute);
	tcase_add_test(get, test_get_arguments);
	suite_add_tcase(s, get);

	tcase_add_checked_fixture(secret, NULL, teardown);
	tcase_add_loop_test(secret, test_key_secret_private_key, 0,
			    (int)(sizeof(flag_cases) / sizeof(flag_cases[0])));
	tcase_add_test(secret, test_key_secret_other_classes);
	suite_add_tcase(s, secret);
	return s;
}

int main(void)
{
	return tu_run_suite(attrs_suite());
}
