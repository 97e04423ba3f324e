/* RFC 7512 PKCS#11 URIs: parsing, rejection, field matching and encoding. */
#include <check.h>
#include <string.h>

#include "crypto/cr.h"
#include "crypto/p11uri.h"
#include "tests/check_util.h"

START_TEST(test_full_uri)
{
	struct p11uri u;
	static const uint8_t id[] = { 0x01, 0xab, 0x00 };

	ck_assert_int_eq(p11uri_parse("pkcs11:token=Alice%20Smith;manufacturer=signet;serial=1a2b;model=SoftHSM%20v2;"
				      "object=my%2Fkey;type=private;id=%01%AB%00;slot-id=42;"
				      "slot-description=Reader%201;slot-manufacturer=x;library-manufacturer=signet;"
				      "library-description=lib;library-version=1.25"
				      "?pin-source=file:/run/pin|x&module-name=signet-pkcs11&module-path=/usr/lib/m.so",
				      &u),
			 CR_OK);
	ck_assert_str_eq(u.token, "Alice Smith");
	ck_assert_str_eq(u.manufacturer, "signet");
	ck_assert_str_eq(u.serial, "1a2b");
	ck_assert_str_eq(u.model, "SoftHSM v2");
	ck_assert_str_eq(u.object, "my/key");
	ck_assert_int_eq(u.type, P11URI_TYPE_PRIVATE);
	ck_assert(u.has_id);
	ck_assert_uint_eq(u.id_len, sizeof(id));
	ck_assert_mem_eq(u.id, id, sizeof(id));
	ck_assert(u.has_slot_id);
	ck_assert_uint_eq(u.slot_id, 42);
	ck_assert_str_eq(u.slot_description, "Reader 1");
	ck_assert_str_eq(u.slot_manufacturer, "x");
	ck_assert_str_eq(u.library_manufacturer, "signet");
	ck_assert_str_eq(u.library_description, "lib");
	ck_assert(u.has_library_version);
	ck_assert_uint_eq(u.library_major, 1);
	ck_assert_uint_eq(u.library_minor, 25);
	ck_assert_str_eq(u.pin_source, "file:/run/pin|x");
	ck_assert_ptr_null(u.pin_value);
	ck_assert_str_eq(u.module_name, "signet-pkcs11");
	ck_assert_str_eq(u.module_path, "/usr/lib/m.so");
	ck_assert(p11uri_names_token(&u));
	ck_assert(p11uri_names_object(&u));
	p11uri_clear(&u);
	ck_assert_ptr_null(u.token);
	p11uri_clear(&u); /* twice is fine */
}
END_TEST

START_TEST(test_empty_and_minimal)
{
	struct p11uri u;

	ck_assert_int_eq(p11uri_parse("pkcs11:", &u), CR_OK);
	ck_assert(!p11uri_names_token(&u));
	ck_assert(!p11uri_names_object(&u));
	ck_assert_int_eq(u.type, P11URI_TYPE_ANY);
	p11uri_clear(&u);

	/* the scheme in any case; an empty value is an empty string, an empty id has no bytes */
	ck_assert_int_eq(p11uri_parse("PKCS11:object=;id=", &u), CR_OK);
	ck_assert_str_eq(u.object, "");
	ck_assert(u.has_id);
	ck_assert_uint_eq(u.id_len, 0);
	ck_assert_ptr_null(u.id);
	ck_assert(!p11uri_names_token(&u));
	ck_assert(p11uri_names_object(&u));
	p11uri_clear(&u);

	ck_assert_int_eq(p11uri_parse("pkcs11:library-version=3", &u), CR_OK);
	ck_assert_uint_eq(u.library_major, 3);
	ck_assert_uint_eq(u.library_minor, 0);
	p11uri_clear(&u);

	ck_assert_int_eq(p11uri_parse("pkcs11:?pin-value=12%334", &u), CR_OK);
	ck_assert_str_eq(u.pin_value, "1234");
	p11uri_clear(&u);
}
END_TEST

START_TEST(test_every_type)
{
	static const struct {
		const char *text;
		enum p11uri_type type;
	} cases[] = {
		{ "pkcs11:type=public", P11URI_TYPE_PUBLIC },         { "pkcs11:type=private", P11URI_TYPE_PRIVATE },
		{ "pkcs11:type=cert", P11URI_TYPE_CERT },             { "pkcs11:type=secret-key", P11URI_TYPE_SECRET_KEY },
		{ "pkcs11:type=data", P11URI_TYPE_DATA },
	};
	struct p11uri u;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(p11uri_parse(cases[i].text, &u), CR_OK);
		ck_assert_int_eq(u.type, cases[i].type);
		p11uri_clear(&u);
	}
}
END_TEST

START_TEST(test_vendor_attributes_ignored)
{
	struct p11uri u;

	ck_assert_int_eq(p11uri_parse("pkcs11:x-vendor=thing;token=a?x-q=1/2", &u), CR_OK);
	ck_assert_str_eq(u.token, "a");
	p11uri_clear(&u);
}
END_TEST

START_TEST(test_query_characters_only_in_query)
{
	struct p11uri u;

	/* "&" is literal in a path value; "/" "?" "|" are literal in a query value only */
	ck_assert_int_eq(p11uri_parse("pkcs11:token=a&b", &u), CR_OK);
	ck_assert_str_eq(u.token, "a&b");
	p11uri_clear(&u);
	ck_assert_int_eq(p11uri_parse("pkcs11:token=a/b", &u), CR_E_DATA);
	ck_assert_int_eq(p11uri_parse("pkcs11:token=a|b", &u), CR_E_DATA);
	/* the first "?" starts the query, so a later one belongs to a query value */
	ck_assert_int_eq(p11uri_parse("pkcs11:token=a?pin-source=/p?x", &u), CR_OK);
	ck_assert_str_eq(u.token, "a");
	ck_assert_str_eq(u.pin_source, "/p?x");
	p11uri_clear(&u);
	ck_assert_int_eq(p11uri_parse("pkcs11:?pin-source=a;b", &u), CR_E_DATA);
}
END_TEST

START_TEST(test_rejected)
{
	static const struct {
		const char *text;
		int rc;
	} cases[] = {
		{ "", CR_E_DATA },
		{ "pkcs11", CR_E_DATA },
		{ "pkcs12:token=a", CR_E_DATA },
		{ "token=a", CR_E_DATA },
		{ "pkcs11:token", CR_E_DATA },              /* no "=" */
		{ "pkcs11:=a", CR_E_DATA },                 /* no name */
		{ "pkcs11:token=a;", CR_E_DATA },           /* empty attribute */
		{ "pkcs11:token=a;;object=b", CR_E_DATA },
		{ "pkcs11:token=a?", CR_E_DATA },           /* empty query */
		{ "pkcs11:token=a b", CR_E_DATA },          /* space must be escaped */
		{ "pkcs11:token=a\"b", CR_E_DATA },
		{ "pkcs11:tok%65n=a", CR_E_DATA },          /* names are not escaped */
		{ "pkcs11:token=%4", CR_E_DATA },           /* short escape */
		{ "pkcs11:token=%4g", CR_E_DATA },
		{ "pkcs11:token=%", CR_E_DATA },
		{ "pkcs11:token=a%00b", CR_E_DATA },        /* NUL in a text value */
		{ "pkcs11:token=a;token=b", CR_E_DATA },    /* repeated */
		{ "pkcs11:id=%01;id=%02", CR_E_DATA },
		{ "pkcs11:slot-id=", CR_E_DATA },
		{ "pkcs11:slot-id=1a", CR_E_DATA },
		{ "pkcs11:slot-id=-1", CR_E_DATA },
		{ "pkcs11:slot-id=99999999999999999999999", CR_E_DATA },
		{ "pkcs11:library-version=1.", CR_E_DATA },
		{ "pkcs11:library-version=.1", CR_E_DATA },
		{ "pkcs11:library-version=256.0", CR_E_DATA },
		{ "pkcs11:library-version=1.2.3", CR_E_DATA },
		{ "pkcs11:?pin-source=/a&pin-value=1", CR_E_DATA },
		{ "pkcs11:type=key", CR_E_UNSUPPORTED },
		{ "pkcs11:colour=red", CR_E_UNSUPPORTED },  /* not defined by RFC 7512 */
		{ "pkcs11:pin-source=a", CR_E_UNSUPPORTED }, /* a query attribute in the path */
		{ "pkcs11:?token=a", CR_E_UNSUPPORTED },     /* and the other way round */
	};
	struct p11uri u;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_msg(p11uri_parse(cases[i].text, &u) == cases[i].rc, "%s", cases[i].text);
		/* a failed parse leaves nothing behind */
		ck_assert_ptr_null(u.token);
		ck_assert(!u.has_id);
	}
	ck_assert_int_eq(p11uri_parse(NULL, &u), CR_E_ARGS);
	ck_assert_int_eq(p11uri_parse("pkcs11:", NULL), CR_E_ARGS);
}
END_TEST

START_TEST(test_is_uri)
{
	ck_assert(p11uri_is_uri("pkcs11:"));
	ck_assert(p11uri_is_uri("Pkcs11:token=a"));
	ck_assert(!p11uri_is_uri("pkcs11"));
	ck_assert(!p11uri_is_uri("alice"));
	ck_assert(!p11uri_is_uri(NULL));
}
END_TEST

START_TEST(test_field_matches)
{
	char label[32];

	memset(label, ' ', sizeof(label));
	memcpy(label, "Alice", 5);
	ck_assert(p11uri_field_matches("Alice", label, sizeof(label)));
	ck_assert(p11uri_field_matches(NULL, label, sizeof(label)));
	ck_assert(!p11uri_field_matches("Alic", label, sizeof(label)));
	ck_assert(!p11uri_field_matches("Alice ", label, sizeof(label))); /* blanks are padding, never content */
	ck_assert(!p11uri_field_matches("alice", label, sizeof(label)));
	ck_assert(!p11uri_field_matches("", label, sizeof(label)));
	memset(label, ' ', sizeof(label));
	ck_assert(p11uri_field_matches("", label, sizeof(label)));
	/* a field filled to the last byte */
	memset(label, 'x', sizeof(label));
	ck_assert(p11uri_field_matches("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", label, sizeof(label)));
	ck_assert(!p11uri_field_matches("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", label, sizeof(label)));
}
END_TEST

START_TEST(test_encode_round_trip)
{
	static const uint8_t data[] = { 'a', '-', '.', '_', '~', ' ', '/', ';', '%', 0x00, 0xff, 'Z' };
	char out[64], uri[96];
	struct p11uri u;
	size_t n = p11uri_encode(data, sizeof(data), out, sizeof(out));

	ck_assert_str_eq(out, "a-._~%20%2F%3B%25%00%FFZ");
	ck_assert_uint_eq(n, strlen(out));
	snprintf(uri, sizeof(uri), "pkcs11:id=%s", out);
	ck_assert_int_eq(p11uri_parse(uri, &u), CR_OK);
	ck_assert_uint_eq(u.id_len, sizeof(data));
	ck_assert_mem_eq(u.id, data, sizeof(data));
	p11uri_clear(&u);
}
END_TEST

START_TEST(test_encode_short_buffer)
{
	char out[6];

	/* "ab%20c" needs 6 characters and the NUL: only whole characters and escapes are written */
	ck_assert_uint_eq(p11uri_encode("ab c", 4, out, sizeof(out)), 6);
	ck_assert_str_eq(out, "ab%20");
	ck_assert_uint_eq(p11uri_encode("ab c", 4, out, 4), 6);
	ck_assert_str_eq(out, "ab");
	ck_assert_uint_eq(p11uri_encode("ab c", 4, NULL, 0), 6);
	ck_assert_uint_eq(p11uri_encode("", 0, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

static Suite *uri_suite(void)
{
	Suite *s = suite_create("p11uri");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_full_uri);
	tcase_add_test(tc, test_empty_and_minimal);
	tcase_add_test(tc, test_every_type);
	tcase_add_test(tc, test_vendor_attributes_ignored);
	tcase_add_test(tc, test_query_characters_only_in_query);
	tcase_add_test(tc, test_rejected);
	tcase_add_test(tc, test_is_uri);
	suite_add_tcase(s, tc);
	tc = tcase_create("match");
	tcase_add_test(tc, test_field_matches);
	suite_add_tcase(s, tc);
	tc = tcase_create("encode");
	tcase_add_test(tc, test_encode_round_trip);
	tcase_add_test(tc, test_encode_short_buffer);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(uri_suite());
}
