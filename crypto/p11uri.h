/*
 * RFC 7512 PKCS#11 URIs ("pkcs11:token=Alice;id=%01;type=private?pin-source=file:/p"):
 * parsing, matching against the blank-padded fields of CK_TOKEN_INFO and
 * friends, and percent-encoding values for URIs we print. Pure text work,
 * no I/O and no OpenSSL, so that the module and the tools can both use it.
 * Functions return enum cr_rc codes.
 */
#ifndef SIGNET_CRYPTO_P11URI_H
#define SIGNET_CRYPTO_P11URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum p11uri_type {
	P11URI_TYPE_ANY = 0, /* no "type" attribute */
	P11URI_TYPE_PUBLIC,
	P11URI_TYPE_PRIVATE,
	P11URI_TYPE_CERT,
	P11URI_TYPE_SECRET_KEY,
	P11URI_TYPE_DATA,
};

/*
 * Every text attribute is a NUL-terminated UTF-8 string after
 * percent-decoding, or NULL when the URI does not name it. An attribute
 * present with an empty value ("object=") is an empty string, which only
 * matches an empty (all-blank) field.
 */
struct p11uri {
	/* the token */
	char *token;        /* CK_TOKEN_INFO label */
	char *manufacturer; /* CK_TOKEN_INFO manufacturerID */
	char *model;
	char *serial;
	/* the slot */
	char *slot_manufacturer;
	char *slot_description;
	bool has_slot_id;
	unsigned long slot_id;
	/* the library */
	char *library_manufacturer;
	char *library_description;
	bool has_library_version;
	unsigned library_major, library_minor;
	/* the object */
	char *object;       /* CKA_LABEL */
	bool has_id;
	uint8_t *id;        /* CKA_ID, binary; NULL when id_len is 0 */
	size_t id_len;
	enum p11uri_type type;
	/* query attributes */
	char *pin_source;   /* where the PIN is: a file name or a file: URI */
	char *pin_value;    /* the PIN itself (a secret: wiped by p11uri_clear) */
	char *module_name;
	char *module_path;
};

/*
 * Parses text as a PKCS#11 URI into *out (which is cleared first). The
 * scheme is matched without regard to case; attribute names are exact.
 * Vendor attributes ("x-...") are accepted and ignored.
 * CR_E_DATA: not "pkcs11:", a character the grammar does not allow there,
 * a bad percent escape, a NUL inside a text value, an empty or repeated
 * attribute, a bad number, both pin-source and pin-value.
 * CR_E_UNSUPPORTED: an attribute RFC 7512 does not define, or a type
 * other than public, private, cert, secret-key and data.
 * CR_E_MEMORY; CR_E_ARGS for NULL arguments. On error *out stays cleared.
 */
int p11uri_parse(const char *text, struct p11uri *out);

/* Frees (and wipes the PIN of) what p11uri_parse() allocated; safe twice. */
void p11uri_clear(struct p11uri *u);

/* Whether text starts with the "pkcs11:" scheme, in any case. */
bool p11uri_is_uri(const char *text);

/*
 * Whether a URI value matches a fixed-size PKCS#11 text field, which is
 * padded with blanks (CK_TOKEN_INFO label, serialNumber, ...): equal after
 * the field's trailing blanks are dropped. want NULL (attribute absent)
 * matches everything.
 */
bool p11uri_field_matches(const char *want, const void *field, size_t size);

/* Whether any token, slot or library attribute is present. */
bool p11uri_names_token(const struct p11uri *u);

/* Whether object, id or type is present. */
bool p11uri_names_object(const struct p11uri *u);

/*
 * Writes data percent-encoded for a path attribute value: unreserved
 * characters stay, every other byte becomes %XX. Writes at most cap bytes
 * including the NUL; returns the length the whole encoding needs (without
 * the NUL), as snprintf does, so a short buffer can be detected.
 */
size_t p11uri_encode(const void *data, size_t len, char *out, size_t cap);

#endif
