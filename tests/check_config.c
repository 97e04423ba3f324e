/* The configuration file: defaults, every key, comments, and every kind of error. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/config.h"
#include "tests/check_util.h"

static char *dir;
static char path[4096], errpath[4096];

static void setup(void)
{
	dir = tu_tempdir();
	snprintf(path, sizeof(path), "%s/signet.conf", dir);
	snprintf(errpath, sizeof(errpath), "%s/stderr", dir);
	log_configure(LL_WARNING, "stderr");
}

static void teardown(void)
{
	free(dir);
}

/* Loads the file with stderr captured; returns the result and the captured text. */
static CK_RV load(struct config *c, char **err)
{
	int saved = tu_capture_stderr(errpath);
	CK_RV rv;

	config_defaults(c);
	rv = config_load(c, path);
	tu_restore_stderr(saved);
	*err = tu_read_file(errpath);
	return rv;
}

START_TEST(defaults_match_design)
{
	struct config c;

	setenv("HOME", "/home/bob", 1);
	config_defaults(&c);
	ck_assert_str_eq(c.state_dir, "/home/bob/.local/share/signet");
	ck_assert_str_eq(c.cache_dir, "/home/bob/.cache/signet");
	ck_assert_int_eq(c.log_level, LL_WARNING);
	ck_assert_str_eq(c.log_file, "stderr");
	ck_assert_int_eq(c.card_enable, 1);
	ck_assert_str_eq(c.card_readers, "*");
	ck_assert_str_eq(c.management_key, "");
	ck_assert_int_eq(c.softhsm_enable, 1);
	ck_assert_str_eq(c.softhsm_library, "/usr/lib/softhsm/libsofthsm2.so");
	ck_assert_uint_eq(c.user_pin_retries, 3);
	ck_assert_uint_eq(c.so_pin_retries, 5);
	ck_assert_int_eq(c.require_pin_change, 1);
	ck_assert_uint_eq(c.min_pin_length, 4);
	ck_assert_uint_eq(c.max_pin_length, 8);
}
END_TEST

START_TEST(missing_file_means_defaults)
{
	struct config c;
	char *err;

	ck_assert_int_eq(load(&c, &err), CKR_OK);
	ck_assert_uint_eq(c.user_pin_retries, 3);
	free(err);
}
END_TEST

START_TEST(every_key_is_read)
{
	struct config c;
	char *err;

	setenv("HOME", "/home/alice", 1);
	tu_write_file(path,
		      "# full file\n"
		      "[module]\n"
		      "log_level = debug   # comment after a value\n"
		      "log_file = /tmp/x.log\n"
		      "cache_dir = ~/cache\n"
		      "\n"
		      "[card]\n"
		      "enable = no\n"
		      "readers = Yubico*\n"
		      "management_key = 010203040506070801020304050607080102030405060708\n"
		      "[softhsm]\n"
		      "  enable=off\n"
		      "library = /opt/lib/softhsm.so\n"
		      "config = /etc/softhsm2-alt.conf\n"
		      "state_dir = ~/state\n"
		      "[policy]\n"
		      "user_pin_retries = 5\n"
		      "so_pin_retries = 10\n"
		      "require_pin_change = false\n"
		      "min_pin_length = 6\n"
		      "max_pin_length = 12\n");
	ck_assert_int_eq(load(&c, &err), CKR_OK);
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(c.log_level, LL_DEBUG);
	ck_assert_str_eq(c.log_file, "/tmp/x.log");
	ck_assert_str_eq(c.cache_dir, "/home/alice/cache");
	ck_assert_int_eq(c.card_enable, 0);
	ck_assert_str_eq(c.card_readers, "Yubico*");
	ck_assert_str_eq(c.management_key, "010203040506070801020304050607080102030405060708");
	ck_assert_int_eq(c.softhsm_enable, 0);
	ck_assert_str_eq(c.softhsm_library, "/opt/lib/softhsm.so");
	ck_assert_str_eq(c.softhsm_config, "/etc/softhsm2-alt.conf");
	ck_assert_str_eq(c.state_dir, "/home/alice/state");
	ck_assert_uint_eq(c.user_pin_retries, 5);
	ck_assert_uint_eq(c.so_pin_retries, 10);
	ck_assert_int_eq(c.require_pin_change, 0);
	ck_assert_uint_eq(c.min_pin_length, 6);
	ck_assert_uint_eq(c.max_pin_length, 12);
	ck_assert_str_eq(c.source, path);
	free(err);
}
END_TEST

/* Each bad file, and the "LINE: KEY: reason" its log line must carry. */
static const struct {
	const char *text;
	const char *expect;
} bad[] = {
	{ "[module]\nlog_level = loud\n", ":2: log_level: expected error, warning, info, debug or apdu" },
	{ "[module]\n\n# c\nbogus = 1\n", ":4: bogus: unknown key" },
	{ "[nonsense]\n", ":1: nonsense: unknown section" },
	{ "[module\n", ":1: -: malformed section header" },
	{ "log_level = debug\n", ":1: log_level: key outside any section" },
	{ "[policy]\nuser_pin_retries = 0\n", ":2: user_pin_retries: number out of range" },
	{ "[policy]\nuser_pin_retries = three\n", ":2: user_pin_retries: number out of range" },
	{ "[policy]\nso_pin_retries = 99\n", ":2: so_pin_retries: number out of range" },
	{ "[policy]\nrequire_pin_change = maybe\n", ":2: require_pin_change: expected yes or no" },
	{ "[card]\nmanagement_key = 0102zz\n", ":2: management_key: expected an even number of hex digits" },
	{ "[card]\nmanagement_key = 0102\n", ":2: management_key: expected 16, 24 or 32 bytes in hex" },
	{ "[card]\njust some words\n", ":2: -: expected key = value" },
	{ "[policy]\nmin_pin_length = 9\nmax_pin_length = 8\n", ":0: min_pin_length: larger than max_pin_length" },
	{ "[module]\nlog_level = debug extra\n", ":2: log_level: expected error, warning, info, debug or apdu" },
};

START_TEST(bad_file_is_refused_with_file_line_key)
{
	struct config c;
	char expect[8192];
	char *err;

	tu_write_file(path, "%s", bad[_i].text);
	ck_assert_int_eq(load(&c, &err), CKR_GENERAL_ERROR);
	snprintf(expect, sizeof(expect), "%s%s", path, bad[_i].expect);
	ck_assert_msg(strstr(err, expect) != NULL, "log \"%s\" lacks \"%s\"", err, expect);
	/* exactly one line */
	ck_assert_ptr_eq(strchr(err, '\n'), err + strlen(err) - 1);
	free(err);
}
END_TEST

START_TEST(management_key_value_is_never_logged)
{
	struct config c;
	char *err;

	tu_write_file(path, "[card]\nmanagement_key = 0a0b0c0d0e0f1011121314151617181920\n");
	ck_assert_int_eq(load(&c, &err), CKR_GENERAL_ERROR);
	ck_assert_ptr_null(strstr(err, "0a0b0c0d"));
	ck_assert_ptr_nonnull(strstr(err, "management_key"));
	free(err);
	config_wipe(&c);
	ck_assert_str_eq(c.management_key, "");
}
END_TEST

START_TEST(signet_conf_names_the_file)
{
	setenv("SIGNET_CONF", "/some/where.conf", 1);
	ck_assert_str_eq(config_default_path(), "/some/where.conf");
	unsetenv("SIGNET_CONF");
	ck_assert_str_eq(config_default_path(), SIGNET_SYSCONFDIR "/signet/signet.conf");
}
END_TEST

/*
 * Malformed lines that hold a management key: the log line names file,
 * line and (where the line has one that can be shown) the key, and never
 * carries the value. Each text is [card], then line 2.
 */
#define SECRET_HEX "0102030405060708A1A2A3A4A5A6A7A8B1B2B3B4B5B6B7B8"
static const struct {
	const char *line2;
	const char *expect;
} secret_lines[] = {
	{ SECRET_HEX "\n", ":2: -: expected key = value" },
	{ "managment_key " SECRET_HEX "\n", ":2: -: expected key = value" },
	{ "management_key: " SECRET_HEX "\n", ":2: -: expected key = value" },
	{ "managment_key = " SECRET_HEX "\n", ":2: managment_key: unknown key" },
	{ SECRET_HEX " = yes\n", ":2: -: unknown key" },
	{ "management key " SECRET_HEX " = yes\n", ":2: -: unknown key" },
	{ "management_key = " SECRET_HEX "ZZ\n", ":2: management_key: expected an even number of hex digits" },
	{ "management_key = " SECRET_HEX "0A\n", ":2: management_key: expected 16, 24 or 32 bytes in hex" },
	{ "[" SECRET_HEX "]\n", ":2: -: unknown section" },
};

START_TEST(secret_line_logs_file_line_and_key_only)
{
	struct config c;
	char expect[8192];
	char *err;

	tu_write_file(path, "[card]\n%s", secret_lines[_i].line2);
	ck_assert_int_eq(load(&c, &err), CKR_GENERAL_ERROR);
	snprintf(expect, sizeof(expect), "%s%s\n", path, secret_lines[_i].expect);
	ck_assert_msg(strstr(err, expect) != NULL, "log \"%s\" lacks \"%s\"", err, expect);
	ck_assert_msg(strstr(err, "A1A2A3") == NULL && strstr(err, "0102030405") == NULL, "log: %s", err);
	free(err);
	config_wipe(&c);
}
END_TEST

/* A line too long to read after a good one: the log shows neither line's text. */
START_TEST(overlong_line_is_not_echoed)
{
	struct config c;
	char long_line[9000];
	char expect[4200];
	char *err;

	memset(long_line, '0', sizeof(long_line));
	long_line[sizeof(long_line) - 1] = '\0';
	memcpy(long_line, "management_key = " SECRET_HEX, strlen("management_key = " SECRET_HEX));
	tu_write_file(path, "[card]\nreaders = *\n%s\n", long_line);
	ck_assert_int_eq(load(&c, &err), CKR_GENERAL_ERROR);
	snprintf(expect, sizeof(expect), "%s:3: -: line too long\n", path);
	ck_assert_msg(strstr(err, expect) != NULL, "log \"%s\" lacks \"%s\"", err, expect);
	ck_assert_msg(strstr(err, "A1A2A3") == NULL, "log: %s", err);
	free(err);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults_match_design);
	tcase_add_test(tc, missing_file_means_defaults);
	tcase_add_test(tc, every_key_is_read);
	tcase_add_loop_test(tc, bad_file_is_refused_with_file_line_key, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, management_key_value_is_never_logged);
	tcase_add_test(tc, signet_conf_names_the_file);
	tcase_add_loop_test(tc, secret_line_logs_file_line_and_key_only, 0,
			    sizeof(secret_lines) / sizeof(secret_lines[0]));
	tcase_add_test(tc, overlong_line_is_not_echoed);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
