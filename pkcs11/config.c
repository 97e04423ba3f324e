#include "pkcs11/config.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/wipe.h"

#ifndef SIGNET_SYSCONFDIR
#define SIGNET_SYSCONFDIR "/etc"
#endif

enum value_kind { V_STRING, V_PATH, V_BOOL, V_UINT, V_LEVEL, V_HEX };

struct key_spec {
	const char *section;
	const char *key;
	enum value_kind kind;
	size_t offset;
	size_t size;        /* strings: buffer size */
	unsigned min, max;  /* unsigned values */
};

#define STR(sec, k, field, kind) { sec, #k, kind, offsetof(struct config, field), sizeof(((struct config *)0)->field), 0, 0 }
#define NUM(sec, k, field, lo, hi) { sec, #k, V_UINT, offsetof(struct config, field), 0, lo, hi }
#define FLAG(sec, k, field) { sec, #k, V_BOOL, offsetof(struct config, field), 0, 0, 0 }
static const struct key_spec keys[] = {
	{ "module", "log_level", V_LEVEL, offsetof(struct config, log_level), 0, 0, 0 },
	STR("module", log_file, log_file, V_PATH),
	STR("module", cache_dir, cache_dir, V_PATH),
	FLAG("card", enable, card_enable),
	STR("card", readers, card_readers, V_STRING),
	STR("card", management_key, management_key, V_HEX),
	FLAG("softhsm", enable, softhsm_enable),
	STR("softhsm", library, softhsm_library, V_PATH),
	STR("softhsm", config, softhsm_config, V_PATH),
	STR("softhsm", state_dir, state_dir, V_PATH),
	NUM("policy", user_pin_retries, user_pin_retries, 1, 15),
	NUM("policy", so_pin_retries, so_pin_retries, 1, 15),
	FLAG("policy", require_pin_change, require_pin_change),
	NUM("policy", min_pin_length, min_pin_length, 1, 64),
	NUM("policy", max_pin_length, max_pin_length, 1, 64),
};
#undef STR
#undef NUM
#undef FLAG

static const struct {
	const char *name;
} sections[] = { { "module" }, { "card" }, { "softhsm" }, { "policy" } };

static bool expand_path(const char *v, char *dst, size_t size);

static void copy_string(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = LL_WARNING;
	copy_string(c->log_file, sizeof(c->log_file), "stderr");
	expand_path("~/.cache/signet", c->cache_dir, sizeof(c->cache_dir));
	c->card_enable = true;
	copy_string(c->card_readers, sizeof(c->card_readers), "*");
	c->softhsm_enable = true;
	copy_string(c->softhsm_library, sizeof(c->softhsm_library),
		    "/usr/lib/softhsm/libsofthsm2.so");
	expand_path("~/.local/share/signet", c->state_dir, sizeof(c->state_dir));
	c->user_pin_retries = 3;
	c->so_pin_retries = 5;
	c->require_pin_change = true;
	c->min_pin_length = 4;
	c->max_pin_length = 8;
	copy_string(c->source, sizeof(c->source), "(defaults)");
}

const char *config_default_path(void)
{
	const char *env = secure_getenv("SIGNET_CONF");

	if (env != NULL && env[0] != '\0')
		return env;
	return SIGNET_SYSCONFDIR "/signet/signet.conf";
}

void config_wipe(struct config *c)
{
	cr_wipe(c->management_key, sizeof(c->management_key));
}

char *config_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* A '#' or ';' starts a comment anywhere on a line; values never contain them. */
static void strip_comment(char *s)
{
	char *hash = strpbrk(s, "#;");

	if (hash != NULL)
		*hash = '\0';
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (unsigned i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool parse_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long n;

	if (!isdigit((unsigned char)v[0]))
		return false;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return false;
	*out = (unsigned)n;
	return true;
}

static bool is_hex_string(const char *v)
{
	size_t n = strlen(v);

	if (n % 2 != 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)v[i]))
			return false;
	return true;
}

/* The caller's home: $HOME, else the password database; NULL if neither knows. */
static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home != NULL && home[0] == '/')
		return home;
	pw = getpwuid(getuid());
	return pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
}

/* "~/" at the start of a path means the caller's home directory. */
static bool expand_path(const char *v, char *dst, size_t size)
{
	const char *home = home_dir();
	int n;

	if (v[0] == '~' && (v[1] == '/' || v[1] == '\0') && home != NULL && home[0] != '\0')
		n = snprintf(dst, size, "%s%s", home, v + 1);
	else
		n = snprintf(dst, size, "%s", v);
	return n >= 0 && (size_t)n < size;
}

static const char *set_value(struct config *c, const struct key_spec *k, const char *v)
{
	char *field = (char *)c + k->offset;
	int n;

	switch (k->kind) {
	case V_BOOL:
		return parse_bool(v, (bool *)field) ? NULL : "expected yes or no";
	case V_UINT:
		return parse_uint(v, k->min, k->max, (unsigned *)field) ? NULL : "number out of range";
	case V_LEVEL:
		return log_level_parse(v, (enum log_level *)field)
			       ? NULL : "expected error, warning, info, debug or apdu";
	case V_PATH:
		return expand_path(v, field, k->size) ? NULL : "path too long";
	case V_HEX:
		if (!is_hex_string(v))
			return "expected an even number of hex digits";
		if (v[0] != '\0' && strlen(v) != 32 && strlen(v) != 48 && strlen(v) != 64)
			return "expected 16, 24 or 32 bytes in hex";
		/* fall through */
	case V_STRING:
		n = snprintf(field, k->size, "%s", v);
		return (n >= 0 && (size_t)n < k->size) ? NULL : "value too long";
	}
	return "unknown kind";
}

/*
 * What of a malformed line the log may show: a key or section name only
 * when it looks like one (lower-case letters, digits and '_', not all hex
 * digits, at most 32 characters), else "-". A value typed where a name
 * belongs, or a misspelled line around a management key, stays out.
 */
#define SHOWN_NAME_MAX 32

static const char *shown_name(const char *name)
{
	size_t n = strlen(name);
	bool beyond_hex = false;

	if (n == 0 || n > SHOWN_NAME_MAX || !islower((unsigned char)name[0]))
		return "-";
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!islower(ch) && !isdigit(ch) && ch != '_')
			return "-";
		if (!isxdigit(ch))
			beyond_hex = true;
	}
	return beyond_hex ? name : "-";
}

static const struct key_spec *find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
			return &keys[i];
	return NULL;
}

static bool known_section(const char *s)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(sections[i].name, s) == 0)
			return true;
	return false;
}

/* Returns NULL or the reason; *what names the key or section the reason is about. */
static const char *parse_line(struct config *c, char *line, char *section, size_t section_size,
			      const char **what)
{
	char *s, *eq, *key, *value;
	const struct key_spec *k;

	strip_comment(line);
	s = config_trim(line);
	*what = "-";
	if (*s == '\0')
		return NULL;
	if (*s == '[') {
		char *close = strchr(s, ']');

		if (close == NULL || config_trim(close + 1)[0] != '\0')
			return "malformed section header";
		*close = '\0';
		s = config_trim(s + 1);
		*what = shown_name(s);
		if (!known_section(s))
			return "unknown section";
		snprintf(section, section_size, "%s", s);
		return NULL;
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return "expected key = value"; /* no text of such a line is logged: it may be all value */
	*eq = '\0';
	key = config_trim(s);
	value = config_trim(eq + 1);
	*what = shown_name(key);
	if (section[0] == '\0')
		return "key outside any section";
	k = find_key(section, key);
	if (k == NULL)
		return "unknown key";
	return set_value(c, k, value);
}

static const char *check_consistency(const struct config *c, const char **what)
{
	if (c->min_pin_length > c->max_pin_length) {
		*what = "min_pin_length";
		return "larger than max_pin_length";
	}
	return NULL;
}

CK_RV config_load(struct config *c, const char *path)
{
	FILE *f;
	char line[8192];
	char section[32] = "";
	unsigned lineno = 0;
	const char *reason = NULL, *what = "-";
	CK_RV rv = CKR_OK;

	f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT) {
			log_msg(LL_DEBUG, "%s: not found, using defaults", path);
			return CKR_OK;
		}
		log_msg(LL_ERROR, "%s: cannot read: %s", path, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	copy_string(c->source, sizeof(c->source), path);
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			what = "-"; /* not the previous line's key, whose text this line overwrote */
			reason = "line too long";
			break;
		}
		reason = parse_line(c, line, section, sizeof(section), &what);
		if (reason != NULL)
			break;
	}
	if (reason == NULL && ferror(f))
		reason = "read error";
	if (reason == NULL) {
		reason = check_consistency(c, &what);
		lineno = 0;
	}
	if (reason != NULL) {
		log_msg(LL_ERROR, "%s:%u: %s: %s", path, lineno, what, reason);
		rv = CKR_GENERAL_ERROR;
	}
	cr_wipe(line, sizeof(line));
	fclose(f);
	return rv;
}
