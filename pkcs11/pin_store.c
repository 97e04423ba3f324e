#include "pkcs11/pin_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * The state file, written by this file only, so it is parsed strictly: these
 * lines in this order, each "key=value\n", nothing else.
 *
 *   version=1
 *   serial=<stem>
 *   user_failures=<n>
 *   so_failures=<n>
 *   so_limit=<n>            SO limit in force at the last SO reservation
 *   user_to_be_changed=<0|1>
 *   so_locked=<0|1>
 */
#define STATE_VERSION 1
#define STATE_FILE_MAX 512   /* a valid file is far smaller; more is corruption */
#define COUNT_MAX 65535u     /* larger counts are corruption, not history */
#define NAME_SIZE (PIN_STORE_STEM_SIZE + 8)

struct pin_store {
	int dir_fd;                      /* the state directory, opened once */
	char stem[PIN_STORE_STEM_SIZE];
	char data_name[NAME_SIZE];       /* <stem>.pins */
	char lock_name[NAME_SIZE];       /* <stem>.lock, never replaced, never removed */
	char temp_name[NAME_SIZE];       /* <stem>.tmp, only written under the lock */
};

/* Everything the file holds: the public state plus what settling needs. */
struct record {
	struct pin_state st;
	unsigned so_limit;
};

/* ---- file names ---- */

static bool stem_keeps(CK_UTF8CHAR c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

size_t pin_store_file_stem(const CK_UTF8CHAR serial[16], char out[PIN_STORE_STEM_SIZE])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = 16, n = 0;

	while (len > 0 && serial[len - 1] == ' ')
		len--;
	for (size_t i = 0; i < len; i++) {
		if (stem_keeps(serial[i])) {
			out[n++] = (char)serial[i];
			continue;
		}
		out[n++] = '_';
		out[n++] = hex[serial[i] >> 4];
		out[n++] = hex[serial[i] & 0x0f];
	}
	out[n] = '\0';
	return n;
}

/* ---- the directory ---- */

/* mkdir -p with 0700 for every directory created; existing ones are left as they are. */
static CK_RV make_directories(const char *path)
{
	size_t len = strlen(path);
	char *buf = malloc(len + 1);
	CK_RV rv = CKR_OK;

	if (buf == NULL)
		return CKR_HOST_MEMORY;
	memcpy(buf, path, len + 1);
	for (size_t i = 1; i <= len && rv == CKR_OK; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		if (buf[i - 1] == '/')
			continue; /* "//" or a trailing '/' */
		buf[i] = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			rv = CKR_GENERAL_ERROR;
		buf[i] = path[i];
	}
	free(buf);
	return rv;
}

static CK_RV open_directory(const char *path, int *fd_out)
{
	CK_RV rv = make_directories(path);
	int fd;

	if (rv != CKR_OK)
		return rv;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return CKR_GENERAL_ERROR;
	*fd_out = fd;
	return CKR_OK;
}

CK_RV pin_store_open(const char *state_dir, const CK_UTF8CHAR serial[16], struct pin_store **out)
{
	struct pin_store *s = NULL;
	CK_RV rv = CKR_ARGUMENTS_BAD;

	if (state_dir == NULL || state_dir[0] == '\0' || serial == NULL || out == NULL)
		goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	s->dir_fd = -1;
	if (pin_store_file_stem(serial, s->stem) == 0)
		goto out;
	snprintf(s->data_name, sizeof(s->data_name), "%s.pins", s->stem);
	snprintf(s->lock_name, sizeof(s->lock_name), "%s.lock", s->stem);
	snprintf(s->temp_name, sizeof(s->temp_name), "%s.tmp", s->stem);
	rv = open_directory(state_dir, &s->dir_fd);
	if (rv != CKR_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	pin_store_close(s);
	return rv;
}

void pin_store_close(struct pin_store *s)
{
	if (s == NULL)
		return;
	if (s->dir_fd >= 0)
		close(s->dir_fd);
	free(s);
}

/* ---- parsing ---- */

struct reader {
	const char *p;
	size_t left;
};

/* Takes "key=" then the value up to '\n'; the value must be 1..5 digits. */
static bool read_digits(struct reader *r, const char *key, unsigned long *value)
{
	size_t klen = strlen(key), i;
	unsigned long v = 0;

	if (r->left < klen + 2 || memcmp(r->p, key, klen) != 0 || r->p[klen] != '=')
		return false;
	for (i = klen + 1; i < r->left && r->p[i] >= '0' && r->p[i] <= '9'; i++) {
		if (i - klen > 5)
			return false;
		v = v * 10 + (unsigned long)(r->p[i] - '0');
	}
	if (i == klen + 1 || i >= r->left || r->p[i] != '\n')
		return false;
	r->p += i + 1;
	r->left -= i + 1;
	*value = v;
	return true;
}

static bool read_count(struct reader *r, const char *key, unsigned *value)
{
	unsigned long v;

	if (!read_digits(r, key, &v) || v > COUNT_MAX)
		return false;
	*value = (unsigned)v;
	return true;
}

static bool read_flag(struct reader *r, const char *key, bool *value)
{
	unsigned long v;

	if (!read_digits(r, key, &v) || v > 1)
		return false;
	*value = v == 1;
	return true;
}

static bool read_serial(struct reader *r, const char *stem)
{
	size_t slen = strlen(stem);

	if (r->left < 8 + slen || memcmp(r->p, "serial=", 7) != 0 || memcmp(r->p + 7, stem, slen) != 0 ||
	    r->p[7 + slen] != '\n')
		return false;
	r->p += 8 + slen;
	r->left -= 8 + slen;
	return true;
}

static CK_RV parse_record(const char *text, size_t len, const char *stem, struct record *rec)
{
	struct reader r = { text, len };
	unsigned long version;
	bool ok;

	ok = read_digits(&r, "version", &version) && version == STATE_VERSION && read_serial(&r, stem) &&
	     read_count(&r, "user_failures", &rec->st.user_failures) &&
	     read_count(&r, "so_failures", &rec->st.so_failures) && read_count(&r, "so_limit", &rec->so_limit) &&
	     read_flag(&r, "user_to_be_changed", &rec->st.user_to_be_changed) &&
	     read_flag(&r, "so_locked", &rec->st.so_locked) && r.left == 0;
	return ok ? CKR_OK : CKR_GENERAL_ERROR;
}

/* ---- reading and writing the file ---- */

static CK_RV read_whole(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	ssize_t got;

	for (;;) {
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return CKR_GENERAL_ERROR;
		if (got == 0)
			break;
		n += (size_t)got;
		if (n == cap)
			return CKR_GENERAL_ERROR; /* too big to be ours */
	}
	*len = n;
	return CKR_OK;
}

/* A missing file is a fresh token; anything else that is not a valid file is an error. */
static CK_RV load_record(struct pin_store *s, struct record *rec)
{
	char text[STATE_FILE_MAX];
	struct stat sb;
	size_t len = 0;
	CK_RV rv = CKR_GENERAL_ERROR;
	int fd;

	memset(rec, 0, sizeof(*rec));
	/* O_NONBLOCK: a FIFO planted under the name must not hang the caller. */
	fd = openat(s->dir_fd, s->data_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT ? CKR_OK : CKR_GENERAL_ERROR;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		goto out;
	rv = read_whole(fd, text, sizeof(text), &len);
	if (rv == CKR_OK)
		rv = parse_record(text, len, s->stem, rec);
out:
	close(fd);
	return rv;
}

static int format_record(const struct record *rec, const char *stem, char *buf, size_t cap)
{
	return snprintf(buf, cap,
			"version=%d\nserial=%s\nuser_failures=%u\nso_failures=%u\nso_limit=%u\n"
			"user_to_be_changed=%d\nso_locked=%d\n",
			STATE_VERSION, stem, rec->st.user_failures, rec->st.so_failures, rec->so_limit,
			rec->st.user_to_be_changed ? 1 : 0, rec->st.so_locked ? 1 : 0);
}

static CK_RV write_all(int fd, const char *buf, size_t len)
{
	ssize_t put;

	while (len > 0) {
		put = write(fd, buf, len);
		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return CKR_GENERAL_ERROR;
		buf += put;
		len -= (size_t)put;
	}
	return CKR_OK;
}

/* Temporary file, fsync, rename over the old one, fsync the directory: all or nothing. */
static CK_RV store_record(struct pin_store *s, const struct record *rec)
{
	char text[STATE_FILE_MAX];
	int len = format_record(rec, s->stem, text, sizeof(text));
	CK_RV rv;
	int fd;

	if (len < 0 || (size_t)len >= sizeof(text))
		return CKR_GENERAL_ERROR;
	fd = openat(s->dir_fd, s->temp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return CKR_GENERAL_ERROR;
	rv = write_all(fd, text, (size_t)len);
	if (rv == CKR_OK && fsync(fd) != 0)
		rv = CKR_GENERAL_ERROR;
	if (close(fd) != 0 && rv == CKR_OK)
		rv = CKR_GENERAL_ERROR;
	if (rv == CKR_OK && renameat(s->dir_fd, s->temp_name, s->dir_fd, s->data_name) != 0)
		rv = CKR_GENERAL_ERROR;
	if (rv == CKR_OK && fsync(s->dir_fd) != 0)
		rv = CKR_GENERAL_ERROR;
	if (rv != CKR_OK)
		unlinkat(s->dir_fd, s->temp_name, 0);
	return rv;
}

/* ---- the lock ---- */

/*
 * Each holder opens the lock file afresh: flock() locks belong to the open
 * file description, so two threads of one process exclude each other too.
 */
static CK_RV lock_acquire(struct pin_store *s, int *fd_out)
{
	int fd = openat(s->dir_fd, s->lock_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r;

	if (fd < 0)
		return CKR_GENERAL_ERROR;
	do
		r = flock(fd, LOCK_EX);
	while (r != 0 && errno == EINTR);
	if (r != 0) {
		close(fd);
		return CKR_GENERAL_ERROR;
	}
	*fd_out = fd;
	return CKR_OK;
}

static void lock_release(int fd)
{
	/* Closing the only descriptor of the open file description drops the lock. */
	close(fd);
}

/*
 * Read-modify-write under the lock. change() returns CKR_OK to have the
 * record written when it set *changed; any other code is returned as is,
 * with nothing written.
 */
typedef CK_RV (*record_change)(struct record *rec, const void *arg, bool *changed);

static CK_RV update_record(struct pin_store *s, record_change change, const void *arg)
{
	struct record rec;
	bool changed = false;
	CK_RV rv;
	int lock_fd;

	if (s == NULL)
		return CKR_ARGUMENTS_BAD;
	rv = lock_acquire(s, &lock_fd);
	if (rv != CKR_OK)
		return rv;
	/* LOCKED: state file of this serial */
	rv = load_record(s, &rec);
	if (rv == CKR_OK)
		rv = change(&rec, arg, &changed);
	if (rv == CKR_OK && changed)
		rv = store_record(s, &rec);
	lock_release(lock_fd);
	return rv;
}

/* ---- the policy ---- */

CK_RV pin_store_read(struct pin_store *s, struct pin_state *st)
{
	struct record rec;
	CK_RV rv;

	if (s == NULL || st == NULL)
		return CKR_ARGUMENTS_BAD;
	/* No lock: rename() shows a reader either the old file or the new one. */
	rv = load_record(s, &rec);
	if (rv == CKR_OK)
		*st = rec.st;
	return rv;
}

struct reserve_arg {
	enum pin_who who;
	const struct pin_limits *lim;
};

static CK_RV change_reserve(struct record *rec, const void *arg, bool *changed)
{
	const struct reserve_arg *a = arg;
	unsigned limit = a->who == PIN_SO ? a->lim->so_retries : a->lim->user_retries;
	unsigned *failures = a->who == PIN_SO ? &rec->st.so_failures : &rec->st.user_failures;

	if (a->who == PIN_SO && rec->st.so_locked)
		return CKR_PIN_LOCKED;
	if (*failures >= limit || *failures >= COUNT_MAX)
		return CKR_PIN_LOCKED;
	(*failures)++;
	if (a->who == PIN_SO)
		rec->so_limit = limit;
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_reserve(struct pin_store *s, enum pin_who who, const struct pin_limits *lim)
{
	struct reserve_arg a = { who, lim };

	if (lim == NULL || (who != PIN_USER && who != PIN_SO))
		return CKR_ARGUMENTS_BAD;
	return update_record(s, change_reserve, &a);
}

struct settle_arg {
	enum pin_who who;
	enum pin_try result;
};

static CK_RV change_settle(struct record *rec, const void *arg, bool *changed)
{
	const struct settle_arg *a = arg;
	unsigned *failures = a->who == PIN_SO ? &rec->st.so_failures : &rec->st.user_failures;

	switch (a->result) {
	case PIN_TRY_OK:
		*changed = *failures != 0;
		*failures = 0;
		break;
	case PIN_TRY_WRONG:
		/*
		 * Counted against the limit of the reservation, so that a later
		 * configuration with more tries cannot revive a dead SO PIN.
		 */
		if (a->who == PIN_SO && !rec->st.so_locked && rec->st.so_failures > 0 &&
		    rec->st.so_failures >= rec->so_limit) {
			rec->st.so_locked = true;
			*changed = true;
		}
		break;
	case PIN_TRY_UNUSED:
		/* 0 when a success or a reset came in between: nothing left to give back. */
		if (*failures > 0) {
			(*failures)--;
			*changed = true;
		}
		break;
	}
	return CKR_OK;
}

CK_RV pin_store_settle(struct pin_store *s, enum pin_who who, enum pin_try result)
{
	struct settle_arg a = { who, result };

	if ((who != PIN_USER && who != PIN_SO) ||
	    (result != PIN_TRY_OK && result != PIN_TRY_WRONG && result != PIN_TRY_UNUSED))
		return CKR_ARGUMENTS_BAD;
	return update_record(s, change_settle, &a);
}

static CK_RV change_token_initialised(struct record *rec, const void *arg, bool *changed)
{
	(void)arg;
	if (rec->st.so_locked)
		return CKR_PIN_LOCKED;
	rec->st.user_failures = 0;
	rec->st.so_failures = 0;
	rec->st.user_to_be_changed = true;
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_token_initialised(struct pin_store *s)
{
	return update_record(s, change_token_initialised, NULL);
}

static CK_RV change_user_pin_set_by_so(struct record *rec, const void *arg, bool *changed)
{
	(void)arg;
	if (rec->st.so_locked)
		return CKR_PIN_LOCKED;
	rec->st.user_failures = 0;
	rec->st.user_to_be_changed = true;
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_user_pin_set_by_so(struct pin_store *s)
{
	return update_record(s, change_user_pin_set_by_so, NULL);
}

static CK_RV change_user_pin_changed(struct record *rec, const void *arg, bool *changed)
{
	(void)arg;
	*changed = rec->st.user_to_be_changed;
	rec->st.user_to_be_changed = false;
	return CKR_OK;
}

CK_RV pin_store_user_pin_changed(struct pin_store *s)
{
	return update_record(s, change_user_pin_changed, NULL);
}

/*
 * PKCS#11: COUNT_LOW means a wrong PIN was entered at least once since the
 * last success, so it stays set beside FINAL_TRY (one try left) and LOCKED.
 */
static CK_FLAGS counter_flags(unsigned failures, unsigned limit, bool locked, CK_FLAGS count_low,
			      CK_FLAGS final_try, CK_FLAGS pin_locked)
{
	CK_FLAGS flags = failures > 0 ? count_low : 0;

	if (locked || failures >= limit)
		return flags | pin_locked;
	if (limit - failures == 1)
		return flags | final_try;
	return flags;
}

CK_FLAGS pin_state_token_flags(const struct pin_state *st, const struct pin_limits *lim)
{
	CK_FLAGS flags;

	flags = counter_flags(st->user_failures, lim->user_retries, false, CKF_USER_PIN_COUNT_LOW,
			      CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
	flags |= counter_flags(st->so_failures, lim->so_retries, st->so_locked, CKF_SO_PIN_COUNT_LOW,
			       CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
	if (st->user_to_be_changed)
		flags |= CKF_USER_PIN_TO_BE_CHANGED;
	return flags;
}
