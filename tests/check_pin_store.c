/*
 * The PIN-policy store: every row of DESIGN.md's PIN policy table at the
 * store level, the exact token flags after each try, persistence, the file
 * format (and the old one), corrupt and unreadable files and their log
 * line, locks that no later limit undoes, tries of dead processes given
 * back, the state directory, serial sanitising, and many processes (and
 * threads) racing for the same tries.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "pkcs11/log.h"
#include "pkcs11/pin_store.h"
#include "tests/check_util.h"

#define SERIAL "0123456789abcdef"
#define SERIAL_FILE "0123456789abcdef.pins"

static const struct pin_limits limits = { 3, 5 };

static char top[256];       /* the test's temporary directory */
static char state_dir[300]; /* top/state/signet: does not exist before the test */
static char log_path[300];  /* top/log: what the store logged */

/* ---- fixture and small helpers ---- */

static int remove_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(top, sizeof(top), "%s/signet-pin-store-XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(top));
	snprintf(state_dir, sizeof(state_dir), "%s/state/signet", top);
	snprintf(log_path, sizeof(log_path), "%s/log", top);
	ck_assert_int_eq(log_configure(LL_WARNING, log_path), CKR_OK);
}

static void teardown(void)
{
	log_close();
	nftw(top, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const CK_UTF8CHAR *ser(const char *s)
{
	return (const CK_UTF8CHAR *)s;
}

static struct pin_store *open_serial(const char *serial16)
{
	struct pin_store *s = NULL;

	ck_assert_int_eq(pin_store_open(state_dir, ser(serial16), &s), CKR_OK);
	ck_assert_ptr_nonnull(s);
	return s;
}

static struct pin_store *open_default(void)
{
	return open_serial(SERIAL);
}

static struct pin_state state_of(struct pin_store *s)
{
	struct pin_state st;

	ck_assert_int_eq(pin_store_read(s, &st), CKR_OK);
	return st;
}

static CK_FLAGS flags_of(struct pin_store *s, const struct pin_limits *lim)
{
	struct pin_state st = state_of(s);

	return pin_state_token_flags(&st, lim);
}

/* One wrong PIN as the caller would handle it: reserve, the token says no, settle. */
static void wrong_pin(struct pin_store *s, enum pin_who who, const struct pin_limits *lim)
{
	ck_assert_int_eq(pin_store_reserve(s, who, lim), CKR_OK);
	ck_assert_int_eq(pin_store_settle(s, who, PIN_TRY_WRONG), CKR_OK);
}

static void right_pin(struct pin_store *s, enum pin_who who, const struct pin_limits *lim)
{
	ck_assert_int_eq(pin_store_reserve(s, who, lim), CKR_OK);
	ck_assert_int_eq(pin_store_settle(s, who, PIN_TRY_OK), CKR_OK);
}

static void path_in_state(char *out, size_t size, const char *name)
{
	ck_assert_int_lt(snprintf(out, size, "%s/%s", state_dir, name), (int)size);
}

static void write_state_file(const char *name, const char *text, size_t len)
{
	char path[512];
	FILE *f;

	path_in_state(path, sizeof(path), name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The file's bytes, NUL-terminated; *len without the NUL. */
static char *read_state_file(const char *name, size_t *len)
{
	char path[512];
	char *buf = calloc(1, 4096);
	FILE *f;

	ck_assert_ptr_nonnull(buf);
	path_in_state(path, sizeof(path), name);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	*len = fread(buf, 1, 4095, f);
	fclose(f);
	return buf;
}

static unsigned mode_of(const char *path)
{
	struct stat sb;

	ck_assert_int_eq(lstat(path, &sb), 0);
	return (unsigned)(sb.st_mode & 07777);
}

/* ---- this process as the store records it, and the log ---- */

/* A /proc file (whose size stat() does not tell), NUL-terminated, on the heap. */
static char *read_proc(const char *path)
{
	char *buf = calloc(1, 4096);
	FILE *f = fopen(path, "r");

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(f);
	fread(buf, 1, 4095, f);
	fclose(f);
	return buf;
}

/* Field 22 of /proc/<pid>/stat: the start time, counted after the command name's last ')'. */
static unsigned long long start_time_of(pid_t pid)
{
	char path[64], *text, *p;
	unsigned long long start = 0;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	text = read_proc(path);
	p = strrchr(text, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
				&start),
			 1);
	free(text);
	return start;
}

#define BOOT_ID_LEN 36

static void boot_id(char out[BOOT_ID_LEN + 1])
{
	char *text = read_proc("/proc/sys/kernel/random/boot_id");

	ck_assert_uint_eq(strlen(text), BOOT_ID_LEN + 1);
	memcpy(out, text, BOOT_ID_LEN);
	out[BOOT_ID_LEN] = '\0';
	free(text);
}

static unsigned long long pid_namespace(void)
{
	struct stat sb;

	ck_assert_int_eq(stat("/proc/self/ns/pid", &sb), 0);
	return (unsigned long long)sb.st_ino;
}

/* "<pid> <start> <boot id> <pid namespace>" of process pid as a pending line names it. */
static void identity_of(pid_t pid, char *out, size_t size)
{
	char boot[BOOT_ID_LEN + 1];

	boot_id(boot);
	snprintf(out, size, "%ld %llu %s %llu", (long)pid, start_time_of(pid), boot, pid_namespace());
}

static void self_identity(char *out, size_t size)
{
	identity_of(getpid(), out, size);
}

static unsigned count_lines(const char *text)
{
	unsigned n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

/* Asserts that the store logged exactly lines lines, each naming the state file and holding reason. */
static void assert_logged(unsigned lines, const char *reason)
{
	char *log = tu_read_file(log_path), *line, *save = NULL;
	char file[512];

	path_in_state(file, sizeof(file), SERIAL_FILE);
	ck_assert_msg(count_lines(log) == lines, "expected %u lines, logged: %s", lines, log);
	for (line = strtok_r(log, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		ck_assert_msg(strstr(line, file) != NULL, "line without the file: %s", line);
		ck_assert_msg(strstr(line, reason) != NULL, "line without \"%s\": %s", reason, line);
	}
	free(log);
}

static void clear_log(void)
{
	ck_assert_int_eq(truncate(log_path, 0), 0);
}

/* ---- the user PIN ---- */

START_TEST(test_user_flags_after_each_failure)
{
	struct pin_store *s = open_default();

	ck_assert_uint_eq(flags_of(s, &limits), 0);
	wrong_pin(s, PIN_USER, &limits);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_COUNT_LOW);
	wrong_pin(s, PIN_USER, &limits);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	wrong_pin(s, PIN_USER, &limits);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_uint_eq(state_of(s).user_failures, 3);
	/* Locked: every later try is refused and nothing changes. */
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_PIN_LOCKED);
	ck_assert_uint_eq(state_of(s).user_failures, 3);
	/* The SO PIN is a separate counter. */
	ck_assert_uint_eq(state_of(s).so_failures, 0);
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &limits), CKR_OK);
	pin_store_close(s);
}
END_TEST

START_TEST(test_user_success_resets_counter)
{
	struct pin_store *s = open_default();

	wrong_pin(s, PIN_USER, &limits);
	wrong_pin(s, PIN_USER, &limits);
	right_pin(s, PIN_USER, &limits);
	ck_assert_uint_eq(state_of(s).user_failures, 0);
	ck_assert_uint_eq(flags_of(s, &limits), 0);
	/* A fresh run of three is needed again to lock. */
	wrong_pin(s, PIN_USER, &limits);
	wrong_pin(s, PIN_USER, &limits);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	pin_store_close(s);
}
END_TEST

START_TEST(test_user_lock_survives_reopen)
{
	struct pin_store *s = open_default();

	for (int i = 0; i < 3; i++)
		wrong_pin(s, PIN_USER, &limits);
	pin_store_close(s);
	s = open_default();
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_PIN_LOCKED);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	pin_store_close(s);
}
END_TEST

START_TEST(test_init_pin_unblocks_user)
{
	struct pin_store *s = open_default();

	for (int i = 0; i < 3; i++)
		wrong_pin(s, PIN_USER, &limits);
	right_pin(s, PIN_SO, &limits);
	ck_assert_int_eq(pin_store_user_pin_set_by_so(s), CKR_OK);
	ck_assert_uint_eq(state_of(s).user_failures, 0);
	ck_assert(state_of(s).user_to_be_changed);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_TO_BE_CHANGED);
	right_pin(s, PIN_USER, &limits);
	/* Logging in works but does not satisfy "must change". */
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(pin_store_user_pin_changed(s), CKR_OK);
	ck_assert_uint_eq(flags_of(s, &limits), 0);
	pin_store_close(s);
}
END_TEST

/* ---- the SO PIN ---- */

START_TEST(test_so_flags_after_each_failure)
{
	static const CK_FLAGS expected[] = { CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_COUNT_LOW,
					     CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY,
					     CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED };
	struct pin_store *s = open_default();

	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		ck_assert(!state_of(s).so_locked);
		wrong_pin(s, PIN_SO, &limits);
		ck_assert_uint_eq(flags_of(s, &limits), expected[i]);
	}
	ck_assert(state_of(s).so_locked);
	ck_assert_uint_eq(state_of(s).so_failures, 5);
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &limits), CKR_PIN_LOCKED);
	ck_assert_uint_eq(state_of(s).so_failures, 5);
	pin_store_close(s);
}
END_TEST

START_TEST(test_so_success_resets_counter)
{
	struct pin_store *s = open_default();

	for (int i = 0; i < 4; i++)
		wrong_pin(s, PIN_SO, &limits);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY);
	right_pin(s, PIN_SO, &limits);
	ck_assert_uint_eq(state_of(s).so_failures, 0);
	ck_assert(!state_of(s).so_locked);
	ck_assert_uint_eq(flags_of(s, &limits), 0);
	pin_store_close(s);
}
END_TEST

START_TEST(test_so_lock_is_for_ever)
{
	static const struct pin_limits generous = { 10, 10 };
	struct pin_store *s = open_default();
	struct pin_state st;

	for (int i = 0; i < 5; i++)
		wrong_pin(s, PIN_SO, &limits);
	pin_store_close(s);
	/* Reopened, and even with a configuration that now allows more tries. */
	s = open_default();
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &generous), CKR_PIN_LOCKED);
	ck_assert_uint_eq(flags_of(s, &generous), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED);
	/* Nothing that needs the SO PIN can reset anything. */
	ck_assert_int_eq(pin_store_token_initialised(s), CKR_PIN_LOCKED);
	ck_assert_int_eq(pin_store_user_pin_set_by_so(s), CKR_PIN_LOCKED);
	st = state_of(s);
	ck_assert(st.so_locked);
	ck_assert_uint_eq(st.so_failures, 5);
	ck_assert(!st.user_to_be_changed);
	/* The user PIN keeps working. */
	right_pin(s, PIN_USER, &limits);
	pin_store_close(s);
}
END_TEST

/* ---- events, reservations, flags ---- */

START_TEST(test_token_initialised)
{
	struct pin_store *s = open_default();
	struct pin_state st;

	for (int i = 0; i < 3; i++)
		wrong_pin(s, PIN_USER, &limits);
	for (int i = 0; i < 4; i++)
		wrong_pin(s, PIN_SO, &limits);
	ck_assert_int_eq(pin_store_token_initialised(s), CKR_OK);
	st = state_of(s);
	ck_assert_uint_eq(st.user_failures, 0);
	ck_assert_uint_eq(st.so_failures, 0);
	ck_assert(st.user_to_be_changed);
	ck_assert(!st.so_locked);
	ck_assert_uint_eq(pin_state_token_flags(&st, &limits), CKF_USER_PIN_TO_BE_CHANGED);
	/* Only the user's own change clears it; changing it twice is harmless. */
	right_pin(s, PIN_SO, &limits);
	ck_assert(state_of(s).user_to_be_changed);
	ck_assert_int_eq(pin_store_user_pin_changed(s), CKR_OK);
	ck_assert_int_eq(pin_store_user_pin_changed(s), CKR_OK);
	ck_assert(!state_of(s).user_to_be_changed);
	pin_store_close(s);
}
END_TEST

START_TEST(test_reservation_is_written_before_settling)
{
	struct pin_store *s = open_default();
	struct pin_store *other = open_default();

	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_OK);
	/* Another holder (another process) already sees the try as spent. */
	ck_assert_uint_eq(state_of(other).user_failures, 1);
	ck_assert_uint_eq(flags_of(other, &limits), CKF_USER_PIN_COUNT_LOW);
	ck_assert_int_eq(pin_store_reserve(other, PIN_USER, &limits), CKR_OK);
	ck_assert_int_eq(pin_store_reserve(other, PIN_USER, &limits), CKR_OK);
	/* Three tries in flight: a fourth is refused before any answer came. */
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_PIN_LOCKED);
	/* The first one was right after all; the two others are still in flight and still count. */
	ck_assert_int_eq(pin_store_settle(s, PIN_USER, PIN_TRY_OK), CKR_OK);
	ck_assert_uint_eq(state_of(other).user_failures, 2);
	ck_assert_int_eq(pin_store_settle(other, PIN_USER, PIN_TRY_WRONG), CKR_OK);
	ck_assert_int_eq(pin_store_settle(other, PIN_USER, PIN_TRY_WRONG), CKR_OK);
	ck_assert_uint_eq(flags_of(other, &limits), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	pin_store_close(other);
	pin_store_close(s);
}
END_TEST

START_TEST(test_unused_try_is_given_back)
{
	struct pin_store *s = open_default();

	wrong_pin(s, PIN_USER, &limits);
	wrong_pin(s, PIN_USER, &limits);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_OK);
	ck_assert_int_eq(pin_store_settle(s, PIN_USER, PIN_TRY_UNUSED), CKR_OK);
	ck_assert_uint_eq(state_of(s).user_failures, 2);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	/* The final SO try given back does not lock the SO PIN. */
	for (int i = 0; i < 4; i++)
		wrong_pin(s, PIN_SO, &limits);
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &limits), CKR_OK);
	ck_assert_int_eq(pin_store_settle(s, PIN_SO, PIN_TRY_UNUSED), CKR_OK);
	ck_assert(!state_of(s).so_locked);
	ck_assert_uint_eq(state_of(s).so_failures, 4);
	/* Nothing to give back after a reset: the counter stays at 0. */
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_OK);
	ck_assert_int_eq(pin_store_user_pin_set_by_so(s), CKR_OK);
	ck_assert_int_eq(pin_store_settle(s, PIN_USER, PIN_TRY_UNUSED), CKR_OK);
	ck_assert_uint_eq(state_of(s).user_failures, 0);
	pin_store_close(s);
}
END_TEST

START_TEST(test_flags_at_the_edges)
{
	static const struct {
		unsigned user_failures, so_failures, user_limit, so_limit;
		bool so_locked, to_be_changed;
		CK_FLAGS flags;
	} rows[] = {
		{ 0, 0, 3, 5, false, false, 0 },
		{ 0, 0, 1, 1, false, false, CKF_USER_PIN_FINAL_TRY | CKF_SO_PIN_FINAL_TRY },
		{ 0, 0, 0, 0, false, false, CKF_USER_PIN_LOCKED | CKF_SO_PIN_LOCKED },
		{ 7, 9, 3, 5, false, false,
		  CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED | CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED },
		{ 1, 0, 10, 5, false, false, CKF_USER_PIN_COUNT_LOW },
		{ 8, 0, 10, 5, false, false, CKF_USER_PIN_COUNT_LOW },
		{ 9, 0, 10, 5, false, false, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY },
		{ 0, 0, 3, 5, true, false, CKF_SO_PIN_LOCKED },
		{ 2, 0, 3, 5, true, true,
		  CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_TO_BE_CHANGED | CKF_SO_PIN_LOCKED },
		{ 3, 4, 3, 5, false, true,
		  CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED | CKF_SO_PIN_COUNT_LOW |
			  CKF_SO_PIN_FINAL_TRY },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pin_state st = { .user_failures = rows[i].user_failures,
					.so_failures = rows[i].so_failures,
					.user_to_be_changed = rows[i].to_be_changed,
					.so_locked = rows[i].so_locked };
		struct pin_limits lim = { rows[i].user_limit, rows[i].so_limit };

		ck_assert_msg(pin_state_token_flags(&st, &lim) == rows[i].flags, "row %zu: flags %#lx", i,
			      (unsigned long)pin_state_token_flags(&st, &lim));
	}
}
END_TEST

START_TEST(test_user_lock_flag_outlasts_the_limit)
{
	static const struct pin_limits generous = { 10, 10 };
	struct pin_state st = { .user_failures = 3, .user_locked = true };

	ck_assert_uint_eq(pin_state_token_flags(&st, &generous), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	st.user_failures = 0;
	ck_assert_uint_eq(pin_state_token_flags(&st, &generous), CKF_USER_PIN_LOCKED);
}
END_TEST

START_TEST(test_zero_limit_refuses_everything)
{
	static const struct pin_limits none = { 0, 0 };
	struct pin_store *s = open_default();

	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &none), CKR_PIN_LOCKED);
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &none), CKR_PIN_LOCKED);
	ck_assert_uint_eq(state_of(s).user_failures, 0);
	pin_store_close(s);
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct pin_store *s = NULL;
	struct pin_state st;

	ck_assert_int_eq(pin_store_open(state_dir, ser("                "), &s), CKR_ARGUMENTS_BAD);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(pin_store_open("", ser(SERIAL), &s), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_open(NULL, ser(SERIAL), &s), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_open(state_dir, NULL, &s), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_open(state_dir, ser(SERIAL), NULL), CKR_ARGUMENTS_BAD);
	ck_assert_ptr_null(s);
	s = open_default();
	ck_assert_int_eq(pin_store_read(s, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_read(NULL, &st), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_reserve(NULL, PIN_USER, &limits), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_reserve(s, (enum pin_who)7, &limits), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_settle(s, PIN_USER, (enum pin_try)7), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(pin_store_token_initialised(NULL), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(state_of(s).user_failures, 0);
	pin_store_close(s);
	pin_store_close(NULL);
}
END_TEST

/* ---- the file ---- */

START_TEST(test_file_format)
{
	struct pin_store *s = open_default();
	size_t len;
	char *text;

	char expected[1024], me[256];

	wrong_pin(s, PIN_USER, &limits);
	wrong_pin(s, PIN_SO, &limits);
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &limits), CKR_OK);
	text = read_state_file(SERIAL_FILE, &len);
	self_identity(me, sizeof(me));
	snprintf(expected, sizeof(expected),
		 "version=2\nserial=0123456789abcdef\nuser_failures=1\nso_failures=1\nuser_limit=3\nso_limit=5\n"
		 "user_to_be_changed=0\nuser_locked=0\nso_locked=0\npending=so %s\n", me);
	ck_assert_str_eq(text, expected);
	ck_assert_uint_eq(len, strlen(text));
	free(text);
	ck_assert_uint_eq(state_of(s).so_failures, 2);
	pin_store_close(s);
}
END_TEST

#define VALID_TAIL "user_to_be_changed=0\nso_locked=0\n"
#define VALID_HEAD "version=1\nserial=0123456789abcdef\n"
#define V2_HEAD "version=2\nserial=0123456789abcdef\nuser_failures=0\nso_failures=0\nuser_limit=3\nso_limit=5\n"
#define V2_FLAGS "user_to_be_changed=0\nuser_locked=0\nso_locked=0\n"
#define BOOT "01234567-89ab-cdef-0123-456789abcdef"

static const struct {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen(text) */
} corrupt[] = {
	{ "empty", "", 0 },
	{ "garbage", "hello\n", 0 },
	{ "no version", "serial=0123456789abcdef\nuser_failures=0\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "future version", "version=3\nserial=0123456789abcdef\nuser_failures=0\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "other serial", "version=1\nserial=0123456789abcdee\nuser_failures=0\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "truncated", VALID_HEAD "user_failures=0\nso_failures=0\n", 0 },
	{ "no final newline", VALID_HEAD "user_failures=0\nso_failures=0\nso_limit=5\nuser_to_be_changed=0\nso_locked=0", 0 },
	{ "trailing line", VALID_HEAD "user_failures=0\nso_failures=0\nso_limit=5\n" VALID_TAIL "x=1\n", 0 },
	{ "letters", VALID_HEAD "user_failures=abc\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "negative", VALID_HEAD "user_failures=-1\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "empty value", VALID_HEAD "user_failures=\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "too many digits", VALID_HEAD "user_failures=000000\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "too large", VALID_HEAD "user_failures=70000\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "flag of 2", VALID_HEAD "user_failures=0\nso_failures=0\nso_limit=5\nuser_to_be_changed=0\nso_locked=2\n", 0 },
	{ "order", VALID_HEAD "so_failures=0\nuser_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "blank", VALID_HEAD "user_failures= 0\nso_failures=0\nso_limit=5\n" VALID_TAIL, 0 },
	{ "CRLF", "version=1\r\nserial=0123456789abcdef\r\nuser_failures=0\r\nso_failures=0\r\nso_limit=5\r\n"
		  "user_to_be_changed=0\r\nso_locked=0\r\n", 0 },
	{ "NUL", VALID_HEAD "user_failures=0\0\nso_failures=0\nso_limit=5\n" VALID_TAIL,
	  sizeof(VALID_HEAD "user_failures=0\0\nso_failures=0\nso_limit=5\n" VALID_TAIL) - 1 },
	{ "version 1 body as 2", "version=2\nserial=0123456789abcdef\nuser_failures=0\nso_failures=0\nso_limit=5\n"
				 VALID_TAIL, 0 },
	{ "2: no user_locked", V2_HEAD "user_to_be_changed=0\nso_locked=0\n", 0 },
	{ "2: user_locked of 2", V2_HEAD "user_to_be_changed=0\nuser_locked=2\nso_locked=0\n", 0 },
	{ "2: pending for nobody", V2_HEAD V2_FLAGS "pending=admin 42 7 " BOOT " 4026531836\n", 0 },
	{ "2: pending pid 0", V2_HEAD V2_FLAGS "pending=user 0 7 " BOOT " 4026531836\n", 0 },
	{ "2: pending pid too large", V2_HEAD V2_FLAGS "pending=user 4194305 7 " BOOT " 4026531836\n", 0 },
	{ "2: pending start too large", V2_HEAD V2_FLAGS "pending=user 42 18446744073709551616 " BOOT " 4026531836\n", 0 },
	{ "2: pending boot id in capitals", V2_HEAD V2_FLAGS "pending=user 42 7 01234567-89AB-cdef-0123-456789abcdef 1\n", 0 },
	{ "2: pending boot id short", V2_HEAD V2_FLAGS "pending=user 42 7 01234567-89ab-cdef-0123-456789abcde 1\n", 0 },
	{ "2: pending without namespace", V2_HEAD V2_FLAGS "pending=so 42 7 " BOOT "\n", 0 },
	{ "2: pending with a trailing blank", V2_HEAD V2_FLAGS "pending=so 42 7 " BOOT " 1 \n", 0 },
	{ "2: pending negative", V2_HEAD V2_FLAGS "pending=so -42 7 " BOOT " 1\n", 0 },
	{ "2: line after pending", V2_HEAD V2_FLAGS "pending=so 42 7 " BOOT " 1\nso_locked=1\n", 0 },
};

START_TEST(test_corrupt_file_is_an_error)
{
	size_t len = corrupt[_i].len != 0 ? corrupt[_i].len : strlen(corrupt[_i].text);
	struct pin_store *s = open_default();
	struct pin_state st;
	size_t after_len;
	char *after;

	write_state_file(SERIAL_FILE, corrupt[_i].text, len);
	ck_assert_msg(pin_store_read(s, &st) == CKR_GENERAL_ERROR, "%s", corrupt[_i].name);
	ck_assert_msg(pin_store_reserve(s, PIN_USER, &limits) == CKR_GENERAL_ERROR, "%s", corrupt[_i].name);
	ck_assert_msg(pin_store_reserve(s, PIN_SO, &limits) == CKR_GENERAL_ERROR, "%s", corrupt[_i].name);
	ck_assert_msg(pin_store_settle(s, PIN_USER, PIN_TRY_OK) == CKR_GENERAL_ERROR, "%s", corrupt[_i].name);
	ck_assert_msg(pin_store_token_initialised(s) == CKR_GENERAL_ERROR, "%s", corrupt[_i].name);
	ck_assert_msg(pin_store_user_pin_set_by_so(s) == CKR_GENERAL_ERROR, "%s", corrupt[_i].name);
	ck_assert_msg(pin_store_user_pin_changed(s) == CKR_GENERAL_ERROR, "%s", corrupt[_i].name);
	/* One line for each call, naming the file. */
	assert_logged(7, ": corrupt");
	/* Left exactly as found, for someone to look at. */
	after = read_state_file(SERIAL_FILE, &after_len);
	ck_assert_uint_eq(after_len, len);
	ck_assert_mem_eq(after, corrupt[_i].text, len);
	free(after);
	pin_store_close(s);
}
END_TEST

START_TEST(test_oversized_file_is_an_error)
{
	static const char head[] = VALID_HEAD "user_failures=0\nso_failures=0\nso_limit=5\n" VALID_TAIL;
	char big[2048];
	struct pin_store *s = open_default();
	struct pin_state st;

	memset(big, '\n', sizeof(big));
	memcpy(big, head, sizeof(head) - 1);
	write_state_file(SERIAL_FILE, big, sizeof(big));
	ck_assert_int_eq(pin_store_read(s, &st), CKR_GENERAL_ERROR);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_GENERAL_ERROR);
	pin_store_close(s);
}
END_TEST

START_TEST(test_damaged_lock_does_not_unlock)
{
	struct pin_store *s = open_default();
	struct pin_state st;
	size_t len;
	char *text;

	for (int i = 0; i < 3; i++)
		wrong_pin(s, PIN_USER, &limits);
	/* A crash or a careless edit cut the file short after the counters. */
	text = read_state_file(SERIAL_FILE, &len);
	write_state_file(SERIAL_FILE, text, len - strlen("so_locked=0\n"));
	free(text);
	ck_assert_int_eq(pin_store_read(s, &st), CKR_GENERAL_ERROR);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_GENERAL_ERROR);
	/* Emptied: still no try. */
	write_state_file(SERIAL_FILE, "", 0);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_GENERAL_ERROR);
	pin_store_close(s);
}
END_TEST

START_TEST(test_unreadable_file_is_an_error)
{
	char path[512], target[512];
	struct pin_store *s = open_default();
	struct pin_state st;

	/* A directory in its place. */
	path_in_state(path, sizeof(path), SERIAL_FILE);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(pin_store_read(s, &st), CKR_GENERAL_ERROR);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_GENERAL_ERROR);
	assert_logged(2, ": not a regular file");
	ck_assert_int_eq(rmdir(path), 0);
	/* A FIFO: refused at once, not waited on. */
	clear_log();
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(pin_store_read(s, &st), CKR_GENERAL_ERROR);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_GENERAL_ERROR);
	assert_logged(2, ": not a regular file");
	ck_assert_int_eq(unlink(path), 0);
	/* A symbolic link, even to a valid file: state files are never followed. */
	wrong_pin(s, PIN_USER, &limits);
	path_in_state(target, sizeof(target), "elsewhere");
	ck_assert_int_eq(rename(path, target), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	clear_log();
	ck_assert_int_eq(pin_store_read(s, &st), CKR_GENERAL_ERROR);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_GENERAL_ERROR);
	assert_logged(2, ": cannot open: a symbolic link");
	pin_store_close(s);
}
END_TEST

START_TEST(test_unwritable_file_is_an_error)
{
	char tmp[512];
	struct pin_store *s = open_default();
	size_t len;
	char *before, *after;

	wrong_pin(s, PIN_USER, &limits);
	before = read_state_file(SERIAL_FILE, &len);
	/* A directory where the new state is written first. */
	path_in_state(tmp, sizeof(tmp), "0123456789abcdef.tmp");
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	clear_log();
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_GENERAL_ERROR);
	assert_logged(1, ": cannot write 0123456789abcdef.tmp: Is a directory");
	after = read_state_file(SERIAL_FILE, &len);
	ck_assert_str_eq(after, before);
	ck_assert_uint_eq(state_of(s).user_failures, 1);
	free(before);
	free(after);
	pin_store_close(s);
}
END_TEST

/* ---- locks that no later limit undoes ---- */

START_TEST(test_user_lock_outlasts_a_raised_limit)
{
	static const struct pin_limits generous = { 10, 10 };
	struct pin_store *s = open_default();

	for (int i = 0; i < 3; i++)
		wrong_pin(s, PIN_USER, &limits);
	ck_assert(state_of(s).user_locked);
	/* A configuration that now allows ten tries finds it locked all the same. */
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &generous), CKR_PIN_LOCKED);
	ck_assert_uint_eq(flags_of(s, &generous), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_uint_eq(state_of(s).user_failures, 3);
	/* Only the SO unlocks it. */
	right_pin(s, PIN_SO, &limits);
	ck_assert_int_eq(pin_store_user_pin_set_by_so(s), CKR_OK);
	ck_assert(!state_of(s).user_locked);
	right_pin(s, PIN_USER, &generous);
	pin_store_close(s);
}
END_TEST

START_TEST(test_token_initialised_unlocks_the_user_pin)
{
	static const struct pin_limits generous = { 10, 10 };
	struct pin_store *s = open_default();

	for (int i = 0; i < 3; i++)
		wrong_pin(s, PIN_USER, &limits);
	ck_assert_int_eq(pin_store_token_initialised(s), CKR_OK);
	ck_assert(!state_of(s).user_locked);
	ck_assert_uint_eq(flags_of(s, &generous), CKF_USER_PIN_TO_BE_CHANGED);
	right_pin(s, PIN_USER, &limits);
	pin_store_close(s);
}
END_TEST

/* Judged tries that reach a lowered limit lock the PIN: raising the limit again does not undo it. */
START_TEST(test_lowered_limit_reached_is_a_lock)
{
	static const struct pin_limits strict = { 2, 2 };
	struct pin_store *s = open_default();

	for (int i = 0; i < 2; i++) {
		wrong_pin(s, PIN_USER, &limits);
		wrong_pin(s, PIN_SO, &limits);
	}
	ck_assert(!state_of(s).user_locked && !state_of(s).so_locked);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &strict), CKR_PIN_LOCKED);
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &strict), CKR_PIN_LOCKED);
	ck_assert(state_of(s).user_locked && state_of(s).so_locked);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_PIN_LOCKED);
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &limits), CKR_PIN_LOCKED);
	pin_store_close(s);
}
END_TEST

START_TEST(test_version_1_file_is_read)
{
	static const char v1[] = VALID_HEAD "user_failures=2\nso_failures=3\nso_limit=5\nuser_to_be_changed=1\nso_locked=0\n";
	struct pin_store *s;
	struct pin_state st;
	size_t len;
	char *text;

	s = open_default();
	write_state_file(SERIAL_FILE, v1, sizeof(v1) - 1);
	st = state_of(s);
	ck_assert_uint_eq(st.user_failures, 2);
	ck_assert_uint_eq(st.so_failures, 3);
	ck_assert(st.user_to_be_changed && !st.user_locked && !st.so_locked);
	/* The next change writes version 2 with the same counts. */
	wrong_pin(s, PIN_SO, &limits);
	text = read_state_file(SERIAL_FILE, &len);
	ck_assert_str_eq(text, "version=2\nserial=0123456789abcdef\nuser_failures=2\nso_failures=4\nuser_limit=0\n"
			       "so_limit=5\nuser_to_be_changed=1\nuser_locked=0\nso_locked=0\n");
	free(text);
	pin_store_close(s);
}
END_TEST

/*
 * An older signet judged the fifth wrong SO PIN and died before writing the
 * lock: the limit reached is the lock, whatever the flag and any later
 * configuration say.
 */
START_TEST(test_version_1_so_limit_reached_is_locked)
{
	static const char v1[] = VALID_HEAD "user_failures=0\nso_failures=5\nso_limit=5\n" VALID_TAIL;
	static const struct pin_limits generous = { 10, 10 };
	struct pin_store *s = open_default();

	write_state_file(SERIAL_FILE, v1, sizeof(v1) - 1);
	ck_assert(state_of(s).so_locked);
	ck_assert_uint_eq(flags_of(s, &generous), CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED);
	ck_assert_int_eq(pin_store_reserve(s, PIN_SO, &generous), CKR_PIN_LOCKED);
	ck_assert_int_eq(pin_store_token_initialised(s), CKR_PIN_LOCKED);
	ck_assert_int_eq(pin_store_user_pin_set_by_so(s), CKR_PIN_LOCKED);
	pin_store_close(s);
}
END_TEST

START_TEST(test_version_1_user_limit_reached_is_locked)
{
	static const char v1[] = VALID_HEAD "user_failures=3\nso_failures=0\nso_limit=5\n" VALID_TAIL;
	static const struct pin_limits generous = { 10, 10 };
	struct pin_store *s = open_default();

	write_state_file(SERIAL_FILE, v1, sizeof(v1) - 1);
	/* Version 1 kept no user limit: the first reservation under the limit in force records the lock. */
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_PIN_LOCKED);
	ck_assert(state_of(s).user_locked);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &generous), CKR_PIN_LOCKED);
	pin_store_close(s);
}
END_TEST

/* ---- tries of processes that died before settling ---- */

/*
 * A child reserves one try of who and exits without settling it, as a
 * killed login would. Returns its pid once it has exited: reaped, or a
 * zombie still.
 */
static pid_t reserve_and_die(enum pin_who who, const struct pin_limits *lim, bool reap)
{
	siginfo_t info;
	int ready[2], status;
	char c = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pin_store *own = NULL;

		c = pin_store_open(state_dir, ser(SERIAL), &own) == CKR_OK && pin_store_reserve(own, who, lim) == CKR_OK
			    ? 'r'
			    : 'x';
		_exit(write(ready[1], &c, 1) == 1 ? 0 : 1);
	}
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(c, 'r');
	close(ready[0]);
	if (reap) {
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	} else {
		ck_assert_int_eq(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
	}
	return pid;
}

static bool file_names_pending(pid_t pid)
{
	char needle[64];
	size_t len;
	char *text = read_state_file(SERIAL_FILE, &len);
	bool found;

	snprintf(needle, sizeof(needle), " %ld ", (long)pid);
	found = strstr(text, needle) != NULL && strstr(text, "pending=") != NULL;
	free(text);
	return found;
}

START_TEST(test_dead_reservation_is_given_back)
{
	struct pin_store *s = open_default();
	pid_t dead;

	wrong_pin(s, PIN_USER, &limits);
	dead = reserve_and_die(PIN_USER, &limits, true);
	/* Still in the file, but nobody counts it. */
	ck_assert(file_names_pending(dead));
	ck_assert_uint_eq(state_of(s).user_failures, 1);
	ck_assert_uint_eq(flags_of(s, &limits), CKF_USER_PIN_COUNT_LOW);
	/* The next change removes it for good; both remaining tries are there to be had. */
	wrong_pin(s, PIN_USER, &limits);
	ck_assert(!file_names_pending(dead));
	wrong_pin(s, PIN_USER, &limits);
	ck_assert(state_of(s).user_locked);
	ck_assert_uint_eq(state_of(s).user_failures, 3);
	pin_store_close(s);
}
END_TEST

START_TEST(test_dead_final_so_try_does_not_lock)
{
	struct pin_store *s = open_default();

	for (int i = 0; i < 4; i++)
		wrong_pin(s, PIN_SO, &limits);
	reserve_and_die(PIN_SO, &limits, true);
	ck_assert(!state_of(s).so_locked);
	ck_assert_uint_eq(state_of(s).so_failures, 4);
	right_pin(s, PIN_SO, &limits);
	ck_assert_uint_eq(state_of(s).so_failures, 0);
	pin_store_close(s);
}
END_TEST

START_TEST(test_zombie_reservation_is_given_back)
{
	struct pin_store *s = open_default();
	pid_t zombie = reserve_and_die(PIN_USER, &limits, false);
	int status;

	ck_assert_uint_eq(state_of(s).user_failures, 0);
	for (int i = 0; i < 3; i++)
		wrong_pin(s, PIN_USER, &limits);
	ck_assert_uint_eq(state_of(s).user_failures, 3);
	ck_assert_int_eq(waitpid(zombie, &status, 0), zombie);
	pin_store_close(s);
}
END_TEST

START_TEST(test_live_reservation_counts_until_its_process_dies)
{
	struct pin_store *s = open_default();
	int ready[2], hold[2], status;
	char c = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(hold), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(hold[1]);
		c = pin_store_reserve(s, PIN_USER, &limits) == CKR_OK ? 'r' : 'x';
		if (write(ready[1], &c, 1) != 1 || read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0); /* the parent closed or died: never settled */
	}
	close(hold[0]);
	close(ready[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(c, 'r');
	/* While it lives its try counts: two more and the limit is taken up. */
	ck_assert_uint_eq(state_of(s).user_failures, 1);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_OK);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_OK);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_PIN_LOCKED);
	ck_assert(!state_of(s).user_locked);
	/* Killed mid-login: its try comes back. */
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_uint_eq(state_of(s).user_failures, 2);
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &limits), CKR_OK);
	close(hold[1]);
	close(ready[0]);
	pin_store_close(s);
}
END_TEST

/*
 * A reused pid (same number, another start time), another boot and a pid
 * that no longer exists are gone; a holder in another pid namespace cannot
 * be judged from here and keeps its try.
 */
START_TEST(test_holders_told_apart)
{
	char boot[BOOT_ID_LEN + 1], other_boot[BOOT_ID_LEN + 1], text[2048];
	unsigned long long start = start_time_of(getpid()), ns = pid_namespace();
	long me = (long)getpid();
	struct pin_store *s = open_default();
	size_t len;
	char *after;
	int n;

	boot_id(boot);
	memcpy(other_boot, boot, sizeof(boot));
	other_boot[0] = other_boot[0] == '0' ? '1' : '0';
	n = snprintf(text, sizeof(text),
		     V2_HEAD V2_FLAGS "pending=user %ld %llu %s %llu\n" /* pid reused */
		     "pending=user %ld %llu %s %llu\n"                 /* another boot */
		     "pending=user 4194304 %llu %s %llu\n"             /* no such process */
		     "pending=user %ld %llu %s %llu\n"                 /* another pid namespace */
		     "pending=so %ld %llu %s %llu\n",                  /* this process */
		     me, start + 1, boot, ns, me, start, other_boot, ns, start, boot, ns, me, start, boot, ns + 1, me,
		     start, boot, ns);
	ck_assert_int_lt(n, (int)sizeof(text));
	write_state_file(SERIAL_FILE, text, (size_t)n);
	ck_assert_uint_eq(state_of(s).user_failures, 1);
	ck_assert_uint_eq(state_of(s).so_failures, 1);
	/* The next change writes only the two that may still be in flight. */
	ck_assert_int_eq(pin_store_user_pin_changed(s), CKR_OK);
	after = read_state_file(SERIAL_FILE, &len);
	n = snprintf(text, sizeof(text),
		     V2_HEAD V2_FLAGS "pending=user %ld %llu %s %llu\npending=so %ld %llu %s %llu\n", me, start, boot,
		     ns + 1, me, start, boot, ns);
	ck_assert_str_eq(after, text);
	free(after);
	/* This process settles its own. */
	ck_assert_int_eq(pin_store_settle(s, PIN_SO, PIN_TRY_UNUSED), CKR_OK);
	ck_assert_uint_eq(state_of(s).so_failures, 0);
	ck_assert_uint_eq(state_of(s).user_failures, 1);
	pin_store_close(s);
}
END_TEST

START_TEST(test_pending_list_is_bounded)
{
	static const struct pin_limits wide = { 40, 40 };
	char text[8192], me[256];
	struct pin_store *s = open_default();
	struct pin_state st;
	size_t n;

	for (int i = 0; i < PIN_STORE_PENDING_MAX; i++)
		ck_assert_int_eq(pin_store_reserve(s, i % 2 ? PIN_SO : PIN_USER, &wide), CKR_OK);
	clear_log();
	ck_assert_int_eq(pin_store_reserve(s, PIN_USER, &wide), CKR_FUNCTION_FAILED);
	assert_logged(1, "tries in flight");
	ck_assert_uint_eq(state_of(s).user_failures, PIN_STORE_PENDING_MAX / 2);
	/* A file with more than that is not ours. */
	self_identity(me, sizeof(me));
	n = (size_t)snprintf(text, sizeof(text), "%s", V2_HEAD V2_FLAGS);
	for (int i = 0; i <= PIN_STORE_PENDING_MAX; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "pending=user %s\n", me);
	ck_assert_uint_lt(n, sizeof(text));
	write_state_file(SERIAL_FILE, text, n);
	ck_assert_int_eq(pin_store_read(s, &st), CKR_GENERAL_ERROR);
	pin_store_close(s);
}
END_TEST

/* ---- the directory and the names in it ---- */

START_TEST(test_directory_is_created_private)
{
	char parent[512], path[512], tmp[512];
	struct pin_store *s;

	ck_assert_int_eq(access(state_dir, F_OK), -1);
	s = open_default();
	ck_assert_uint_eq(mode_of(state_dir), 0700);
	snprintf(parent, sizeof(parent), "%s/state", top);
	ck_assert_uint_eq(mode_of(parent), 0700);
	/* Nothing is written until something changes. */
	path_in_state(path, sizeof(path), SERIAL_FILE);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_uint_eq(state_of(s).user_failures, 0);
	wrong_pin(s, PIN_USER, &limits);
	ck_assert_uint_eq(mode_of(path), 0600);
	path_in_state(path, sizeof(path), "0123456789abcdef.lock");
	ck_assert_uint_eq(mode_of(path), 0600);
	path_in_state(tmp, sizeof(tmp), "0123456789abcdef.tmp");
	ck_assert_int_eq(access(tmp, F_OK), -1);
	pin_store_close(s);
}
END_TEST

START_TEST(test_existing_directory_is_kept)
{
	char parent[512];
	struct pin_store *s;

	snprintf(parent, sizeof(parent), "%s/state", top);
	ck_assert_int_eq(mkdir(parent, 0755), 0);
	ck_assert_int_eq(mkdir(state_dir, 0750), 0);
	ck_assert_int_eq(chmod(state_dir, 0750), 0);
	s = open_default();
	ck_assert_uint_eq(mode_of(state_dir), 0750);
	wrong_pin(s, PIN_USER, &limits);
	pin_store_close(s);
	/* A trailing slash names the same directory. */
	strcat(state_dir, "/");
	s = open_default();
	ck_assert_uint_eq(state_of(s).user_failures, 1);
	pin_store_close(s);
}
END_TEST

START_TEST(test_directory_that_cannot_be_made)
{
	char file[512];
	struct pin_store *s = NULL;
	FILE *f;

	/* A plain file where a parent directory should be. */
	snprintf(file, sizeof(file), "%s/state", top);
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(pin_store_open(state_dir, ser(SERIAL), &s), CKR_GENERAL_ERROR);
	ck_assert_ptr_null(s);
}
END_TEST

static const struct {
	const char serial[17];
	const char *stem;
} stems[] = {
	{ "0123456789ABCDEF", "0123456789ABCDEF" },
	{ "abc             ", "abc" },
	{ "  a b           ", "_20_20a_20b" },
	{ "../etc/passwd   ", "_2E_2E_2Fetc_2Fpasswd" },
	{ "a_b             ", "a_5Fb" },
	{ "a/b             ", "a_2Fb" },
	{ "a_2Fb           ", "a_5F2Fb" },
	{ "x-y.z           ", "x-y_2Ez" },
	{ "\xc3\xa9\x01\x7f\x80\xff          ", "_C3_A9_01_7F_80_FF" },
	{ "////////////////", "_2F_2F_2F_2F_2F_2F_2F_2F_2F_2F_2F_2F_2F_2F_2F_2F" },
	{ "                ", "" },
};

START_TEST(test_serial_stems)
{
	char out[PIN_STORE_STEM_SIZE];

	ck_assert_uint_eq(pin_store_file_stem(ser(stems[_i].serial), out), strlen(stems[_i].stem));
	ck_assert_str_eq(out, stems[_i].stem);
}
END_TEST

START_TEST(test_serial_with_nul_bytes)
{
	static const CK_UTF8CHAR serial[16] = { 'a', 0, 'b', ' ', ' ', ' ', ' ', ' ',
						' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ' };
	char out[PIN_STORE_STEM_SIZE];

	ck_assert_uint_eq(pin_store_file_stem(serial, out), 5);
	ck_assert_str_eq(out, "a_00b");
}
END_TEST

static unsigned count_entries(const char *dir, const char *expect_a, const char *expect_b)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		ck_assert_msg(strcmp(e->d_name, expect_a) == 0 || strcmp(e->d_name, expect_b) == 0,
			      "unexpected entry %s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(test_hostile_serial_stays_in_directory)
{
	char parent[512];
	struct pin_store *s = open_serial("../escape/x     ");

	wrong_pin(s, PIN_USER, &limits);
	ck_assert_uint_eq(count_entries(state_dir, "_2E_2E_2Fescape_2Fx.pins", "_2E_2E_2Fescape_2Fx.lock"), 2);
	snprintf(parent, sizeof(parent), "%s/state", top);
	ck_assert_uint_eq(count_entries(parent, "signet", "signet"), 1);
	pin_store_close(s);
}
END_TEST

START_TEST(test_similar_serials_do_not_share_counters)
{
	struct pin_store *a = open_serial("a_b             ");
	struct pin_store *b = open_serial("a/b             ");
	struct pin_store *c = open_serial("a_b            x");

	for (int i = 0; i < 3; i++)
		wrong_pin(a, PIN_USER, &limits);
	ck_assert_int_eq(pin_store_reserve(a, PIN_USER, &limits), CKR_PIN_LOCKED);
	ck_assert_uint_eq(state_of(b).user_failures, 0);
	ck_assert_uint_eq(state_of(c).user_failures, 0);
	pin_store_close(a);
	pin_store_close(b);
	pin_store_close(c);
}
END_TEST

/* ---- races ---- */

#define RACERS 8
#define ROUNDS 6

/* Reserves until refused, settling each try as wrong; returns the tries obtained or -1. */
static int spend_all(struct pin_store *s, enum pin_who who)
{
	int got = 0;
	CK_RV rv;

	for (;;) {
		rv = pin_store_reserve(s, who, &limits);
		if (rv == CKR_PIN_LOCKED)
			return got;
		if (rv != CKR_OK || pin_store_settle(s, who, PIN_TRY_WRONG) != CKR_OK)
			return -1;
		got++;
	}
}

static void race_child(struct pin_store *shared, const char *serial, enum pin_who who, int start_fd,
		       int result_fd)
{
	struct pin_store *own = NULL;
	char go;
	int got = -1;

	/* Half the racers share the parent's store object, half open their own. */
	if (shared == NULL && pin_store_open(state_dir, ser(serial), &own) != CKR_OK)
		goto out;
	if (read(start_fd, &go, 1) != 0)
		goto out; /* the parent closes the pipe to start everyone at once */
	got = spend_all(shared != NULL ? shared : own, who);
out:
	if (write(result_fd, &got, sizeof(got)) != (ssize_t)sizeof(got))
		_exit(2);
	pin_store_close(own);
	_exit(0);
}

static void race_processes(enum pin_who who, unsigned limit, int round)
{
	char serial[17];
	int start[2], results[2], got, total = 0, status;
	pid_t pids[RACERS];
	struct pin_store *s;
	struct pin_state st;

	/* A fresh token per round: "race-u-07       ". */
	memcpy(serial, "race-u-00       ", sizeof(serial));
	serial[5] = who == PIN_SO ? 's' : 'u';
	serial[7] = (char)('0' + round / 10 % 10);
	serial[8] = (char)('0' + round % 10);
	s = open_serial(serial);
	ck_assert_int_eq(pipe(start), 0);
	ck_assert_int_eq(pipe(results), 0);
	for (int i = 0; i < RACERS; i++) {
		pids[i] = fork();
		ck_assert_int_ne(pids[i], -1);
		if (pids[i] == 0) {
			close(start[1]);
			close(results[0]);
			race_child(i % 2 == 0 ? s : NULL, serial, who, start[0], results[1]);
		}
	}
	close(start[0]);
	close(results[1]);
	close(start[1]);
	for (int i = 0; i < RACERS; i++) {
		ck_assert_int_eq(read(results[0], &got, sizeof(got)), (ssize_t)sizeof(got));
		ck_assert_int_ge(got, 0);
		total += got;
	}
	close(results[0]);
	for (int i = 0; i < RACERS; i++) {
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_int_eq(total, (int)limit);
	st = state_of(s);
	ck_assert_uint_eq(who == PIN_SO ? st.so_failures : st.user_failures, limit);
	ck_assert(st.so_locked == (who == PIN_SO));
	pin_store_close(s);
}

START_TEST(test_processes_race_for_user_tries)
{
	for (int round = 0; round < ROUNDS; round++)
		race_processes(PIN_USER, limits.user_retries, round);
}
END_TEST

START_TEST(test_processes_race_for_so_tries)
{
	for (int round = 0; round < ROUNDS; round++)
		race_processes(PIN_SO, limits.so_retries, round);
}
END_TEST

struct racer {
	struct pin_store *store;
	enum pin_who who;
	pthread_barrier_t *barrier;
	int got;
};

static void *race_thread(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->barrier);
	r->got = spend_all(r->store, r->who);
	return NULL;
}

START_TEST(test_threads_race_on_one_store)
{
	static const enum pin_who whos[] = { PIN_USER, PIN_SO };
	pthread_barrier_t barrier;
	pthread_t threads[RACERS];
	struct racer racers[RACERS];
	struct pin_store *s = open_default();
	int total, expected;

	ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, RACERS), 0);
	for (size_t w = 0; w < 2; w++) {
		total = 0;
		for (int i = 0; i < RACERS; i++) {
			racers[i] = (struct racer){ s, whos[w], &barrier, -1 };
			ck_assert_int_eq(pthread_create(&threads[i], NULL, race_thread, &racers[i]), 0);
		}
		for (int i = 0; i < RACERS; i++) {
			ck_assert_int_eq(pthread_join(threads[i], NULL), 0);
			ck_assert_int_ge(racers[i].got, 0);
			total += racers[i].got;
		}
		expected = whos[w] == PIN_SO ? (int)limits.so_retries : (int)limits.user_retries;
		ck_assert_int_eq(total, expected);
	}
	pthread_barrier_destroy(&barrier);
	pin_store_close(s);
}
END_TEST

static Suite *pin_store_suite(void)
{
	Suite *s = suite_create("pin_store");
	TCase *tc;

	tc = tcase_create("user");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_user_flags_after_each_failure);
	tcase_add_test(tc, test_user_success_resets_counter);
	tcase_add_test(tc, test_user_lock_survives_reopen);
	tcase_add_test(tc, test_init_pin_unblocks_user);
	suite_add_tcase(s, tc);

	tc = tcase_create("so");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_so_flags_after_each_failure);
	tcase_add_test(tc, test_so_success_resets_counter);
	tcase_add_test(tc, test_so_lock_is_for_ever);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_token_initialised);
	tcase_add_test(tc, test_reservation_is_written_before_settling);
	tcase_add_test(tc, test_unused_try_is_given_back);
	tcase_add_test(tc, test_flags_at_the_edges);
	tcase_add_test(tc, test_user_lock_flag_outlasts_the_limit);
	tcase_add_test(tc, test_zero_limit_refuses_everything);
	tcase_add_test(tc, test_bad_arguments);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file_format);
	tcase_add_loop_test(tc, test_corrupt_file_is_an_error, 0, (int)(sizeof(corrupt) / sizeof(corrupt[0])));
	tcase_add_test(tc, test_oversized_file_is_an_error);
	tcase_add_test(tc, test_damaged_lock_does_not_unlock);
	tcase_add_test(tc, test_unreadable_file_is_an_error);
	tcase_add_test(tc, test_unwritable_file_is_an_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("locks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_user_lock_outlasts_a_raised_limit);
	tcase_add_test(tc, test_token_initialised_unlocks_the_user_pin);
	tcase_add_test(tc, test_lowered_limit_reached_is_a_lock);
	tcase_add_test(tc, test_version_1_file_is_read);
	tcase_add_test(tc, test_version_1_so_limit_reached_is_locked);
	tcase_add_test(tc, test_version_1_user_limit_reached_is_locked);
	suite_add_tcase(s, tc);

	tc = tcase_create("pending");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_dead_reservation_is_given_back);
	tcase_add_test(tc, test_dead_final_so_try_does_not_lock);
	tcase_add_test(tc, test_zombie_reservation_is_given_back);
	tcase_add_test(tc, test_live_reservation_counts_until_its_process_dies);
	tcase_add_test(tc, test_holders_told_apart);
	tcase_add_test(tc, test_pending_list_is_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_directory_is_created_private);
	tcase_add_test(tc, test_existing_directory_is_kept);
	tcase_add_test(tc, test_directory_that_cannot_be_made);
	tcase_add_loop_test(tc, test_serial_stems, 0, (int)(sizeof(stems) / sizeof(stems[0])));
	tcase_add_test(tc, test_serial_with_nul_bytes);
	tcase_add_test(tc, test_hostile_serial_stays_in_directory);
	tcase_add_test(tc, test_similar_serials_do_not_share_counters);
	suite_add_tcase(s, tc);

	tc = tcase_create("race");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_processes_race_for_user_tries);
	tcase_add_test(tc, test_processes_race_for_so_tries);
	tcase_add_test(tc, test_threads_race_on_one_store);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run_suite(pin_store_suite());
}
