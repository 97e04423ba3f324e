#include "crypto/p11uri.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/cr.h"
#include "crypto/wipe.h"

#define SCHEME "pkcs11:"
#define SCHEME_LEN (sizeof(SCHEME) - 1)

/* RFC 7512 section 2.3: the characters a value may hold without escaping. */
static bool is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == '_' || c == '~';
}

static bool is_value_char(unsigned char c, bool query)
{
	if (is_unreserved(c) || (c != '\0' && strchr(":[]@!$'()*+,=", c) != NULL))
		return true;
	/* "&" separates query attributes, ";" path ones; "/", "?" and "|" are query-only. */
	return query ? (c == '/' || c == '?' || c == '|') : c == '&';
}

static bool is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decodes len bytes of s into a fresh buffer with a NUL after the
 * value (so text values are C strings once checked for inner NULs).
 */
static int decode_value(const char *s, size_t len, bool query, uint8_t **out, size_t *out_len)
{
	uint8_t *buf = malloc(len + 1);
	size_t n = 0;

	if (buf == NULL)
		return CR_E_MEMORY;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_value((unsigned char)s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value((unsigned char)s[i + 2]) : -1;

			if (hi < 0 || lo < 0)
				goto bad;
			buf[n++] = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (is_value_char(c, query)) {
			buf[n++] = c;
		} else {
			goto bad;
		}
	}
	buf[n] = '\0';
	*out = buf;
	*out_len = n;
	return CR_OK;
bad:
	cr_free_secret(buf, len + 1);
	return CR_E_DATA;
}

/* ---- attribute table ---- */

enum attr_kind {
	ATTR_TEXT,
	ATTR_ID,
	ATTR_TYPE,
	ATTR_SLOT_ID,
	ATTR_LIBRARY_VERSION,
};

struct attr_def {
	const char *name;
	bool query;
	enum attr_kind kind;
	size_t offset; /* of the char * in struct p11uri, for ATTR_TEXT */
};

#define TEXT(n, q, field) { n, q, ATTR_TEXT, offsetof(struct p11uri, field) }

static const struct attr_def attrs[] = {
	TEXT("token", false, token),
	TEXT("manufacturer", false, manufacturer),
	TEXT("serial", false, serial),
	TEXT("model", false, model),
	TEXT("library-manufacturer", false, library_manufacturer),
	TEXT("library-description", false, library_description),
	{ "library-version", false, ATTR_LIBRARY_VERSION, 0 },
	TEXT("object", false, object),
	{ "type", false, ATTR_TYPE, 0 },
	{ "id", false, ATTR_ID, 0 },
	TEXT("slot-manufacturer", false, slot_manufacturer),
	TEXT("slot-description", false, slot_description),
	{ "slot-id", false, ATTR_SLOT_ID, 0 },
	TEXT("pin-source", true, pin_source),
	TEXT("pin-value", true, pin_value),
	TEXT("module-name", true, module_name),
	TEXT("module-path", true, module_path),
};

#define NATTRS (sizeof(attrs) / sizeof(attrs[0]))

static const struct attr_def *find_attr(const char *name, size_t len, bool query)
{
	for (size_t i = 0; i < NATTRS; i++)
		if (attrs[i].query == query && strlen(attrs[i].name) == len && memcmp(attrs[i].name, name, len) == 0)
			return &attrs[i];
	return NULL;
}

/* 1*DIGIT into *v, refusing values above max. */
static int parse_decimal(const char **p, const char *end, unsigned long max, unsigned long *v)
{
	const char *s = *p;
	unsigned long n = 0;

	if (s == end || *s < '0' || *s > '9')
		return CR_E_DATA;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (n > (max - d) / 10)
			return CR_E_DATA;
		n = n * 10 + d;
	}
	*p = s;
	*v = n;
	return CR_OK;
}

static int set_slot_id(struct p11uri *u, const char *v, size_t len)
{
	const char *p = v;
	int rc = parse_decimal(&p, v + len, ULONG_MAX, &u->slot_id);

	if (rc != CR_OK || p != v + len)
		return CR_E_DATA;
	u->has_slot_id = true;
	return CR_OK;
}

/* "library-version" = 1*DIGIT [ "." 1*DIGIT ]: a CK_VERSION, so each part fits a byte. */
static int set_library_version(struct p11uri *u, const char *v, size_t len)
{
	const char *p = v, *end = v + len;
	unsigned long major, minor = 0;

	if (parse_decimal(&p, end, 255, &major) != CR_OK)
		return CR_E_DATA;
	if (p < end && (*p++ != '.' || parse_decimal(&p, end, 255, &minor) != CR_OK))
		return CR_E_DATA;
	if (p != end)
		return CR_E_DATA;
	u->library_major = (unsigned)major;
	u->library_minor = (unsigned)minor;
	u->has_library_version = true;
	return CR_OK;
}

static int set_type(struct p11uri *u, const char *v)
{
	static const struct {
		const char *name;
		enum p11uri_type type;
	} types[] = {
		{ "public", P11URI_TYPE_PUBLIC },       { "private", P11URI_TYPE_PRIVATE },
		{ "cert", P11URI_TYPE_CERT },           { "secret-key", P11URI_TYPE_SECRET_KEY },
		{ "data", P11URI_TYPE_DATA },
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(v, types[i].name) == 0) {
			u->type = types[i].type;
			return CR_OK;
		}
	}
	return CR_E_UNSUPPORTED;
}

/* Stores one decoded value; takes ownership of buf in every case. */
static int store_value(struct p11uri *u, const struct attr_def *def, uint8_t *buf, size_t len)
{
	int rc = CR_OK;

	switch (def->kind) {
	case ATTR_ID:
		u->has_id = true;
		u->id_len = len;
		if (len > 0) {
			u->id = buf;
			return CR_OK;
		}
		break;
	case ATTR_TEXT:
		if (memchr(buf, '\0', len) != NULL) {
			rc = CR_E_DATA;
			break;
		}
		*(char **)((char *)u + def->offset) = (char *)buf;
		return CR_OK;
	case ATTR_TYPE:
		rc = memchr(buf, '\0', len) != NULL ? CR_E_DATA : set_type(u, (char *)buf);
		break;
	case ATTR_SLOT_ID:
		rc = set_slot_id(u, (char *)buf, len);
		break;
	case ATTR_LIBRARY_VERSION:
		rc = set_library_version(u, (char *)buf, len);
		break;
	}
	cr_free_secret(buf, len + 1);
	return rc;
}

/* One "name=value" of the path (query false) or the query. seen marks attributes already given. */
static int parse_attr(struct p11uri *u, const char *s, size_t len, bool query, uint32_t *seen)
{
	const char *eq = memchr(s, '=', len);
	const struct attr_def *def;
	size_t name_len;
	uint8_t *buf;
	size_t buf_len;
	int rc;

	if (eq == NULL || eq == s)
		return CR_E_DATA;
	name_len = (size_t)(eq - s);
	for (size_t i = 0; i < name_len; i++)
		if (!is_name_char((unsigned char)s[i]))
			return CR_E_DATA;
	rc = decode_value(eq + 1, len - name_len - 1, query, &buf, &buf_len);
	if (rc != CR_OK)
		return rc;
	def = find_attr(s, name_len, query);
	if (def == NULL) {
		cr_free_secret(buf, buf_len + 1);
		/* RFC 7512 reserves "x-" names for vendors: someone else's meaning, ignored here. */
		return name_len > 2 && s[0] == 'x' && s[1] == '-' ? CR_OK : CR_E_UNSUPPORTED;
	}
	if (*seen & (1u << (def - attrs))) {
		cr_free_secret(buf, buf_len + 1);
		return CR_E_DATA;
	}
	*seen |= 1u << (def - attrs);
	return store_value(u, def, buf, buf_len);
}

/* Attributes separated by sep over [s, end); an empty list is fine, an empty attribute is not. */
static int parse_list(struct p11uri *u, const char *s, const char *end, char sep, bool query, uint32_t *seen)
{
	if (s == end)
		return CR_OK;
	for (;;) {
		const char *next = memchr(s, sep, (size_t)(end - s));
		const char *stop = next != NULL ? next : end;
		int rc = parse_attr(u, s, (size_t)(stop - s), query, seen);

		if (rc != CR_OK)
			return rc;
		if (next == NULL)
			return CR_OK;
		s = next + 1;
	}
}

bool p11uri_is_uri(const char *text)
{
	return text != NULL && strncasecmp(text, SCHEME, SCHEME_LEN) == 0;
}

int p11uri_parse(const char *text, struct p11uri *out)
{
	const char *path, *query, *end;
	uint32_t seen = 0;
	int rc;

	if (out == NULL)
		return CR_E_ARGS;
	memset(out, 0, sizeof(*out));
	if (text == NULL)
		return CR_E_ARGS;
	if (!p11uri_is_uri(text))
		return CR_E_DATA;
	path = text + SCHEME_LEN;
	end = path + strlen(path);
	query = strchr(path, '?');
	rc = parse_list(out, path, query != NULL ? query : end, ';', false, &seen);
	if (rc == CR_OK && query != NULL)
		rc = query + 1 == end ? CR_E_DATA : parse_list(out, query + 1, end, '&', true, &seen);
	if (rc == CR_OK && out->pin_source != NULL && out->pin_value != NULL)
		rc = CR_E_DATA; /* two answers to "where is the PIN" */
	if (rc != CR_OK)
		p11uri_clear(out);
	return rc;
}

void p11uri_clear(struct p11uri *u)
{
	if (u == NULL)
		return;
	for (size_t i = 0; i < NATTRS; i++) {
		if (attrs[i].kind == ATTR_TEXT) {
			char **field = (char **)((char *)u + attrs[i].offset);

			cr_free_secret(*field, *field != NULL ? strlen(*field) : 0);
		}
	}
	free(u->id);
	memset(u, 0, sizeof(*u));
}

bool p11uri_field_matches(const char *want, const void *field, size_t size)
{
	const char *f = field;
	size_t len = size, want_len;

	if (want == NULL)
		return true;
	while (len > 0 && f[len - 1] == ' ')
		len--;
	want_len = strlen(want);
	return want_len == len && memcmp(want, f, len) == 0;
}

bool p11uri_names_token(const struct p11uri *u)
{
	return u->token != NULL || u->manufacturer != NULL || u->model != NULL || u->serial != NULL ||
	       u->slot_manufacturer != NULL || u->slot_description != NULL || u->has_slot_id ||
	       u->library_manufacturer != NULL || u->library_description != NULL || u->has_library_version;
}

bool p11uri_names_object(const struct p11uri *u)
{
	return u->object != NULL || u->has_id || u->type != P11URI_TYPE_ANY;
}

size_t p11uri_encode(const void *data, size_t len, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *d = data;
	size_t need = 0, written = 0;
	bool full = out == NULL;

	for (size_t i = 0; i < len; i++) {
		size_t w = is_unreserved(d[i]) ? 1 : 3;

		/* Stop at the first value that does not fit: half an escape would be wrong. */
		if (!full && written + w < cap) {
			if (w == 1) {
				out[written] = (char)d[i];
			} else {
				out[written] = '%';
				out[written + 1] = hex[d[i] >> 4];
				out[written + 2] = hex[d[i] & 15];
			}
			written += w;
		} else {
			full = true;
		}
		need += w;
	}
	if (out != NULL && cap > 0)
		out[written] = '\0';
	return need;
}
