#include "pkcs11/pin_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkcs11/files.h"
#include "pkcs11/log.h"

/*
 * The state file, written by this file only, so it is parsed strictly: these
 * lines in this order, each "key=value\n", nothing else.
 *
 *   version=2
 *   serial=<stem>
 *   user_failures=<n>       settled (judged) consecutive wrong user PINs
 *   so_failures=<n>         the same for the SO PIN
 *   user_limit=<n>          user limit in force at the last user reservation
 *   so_limit=<n>            SO limit in force at the last SO reservation
 *   user_to_be_changed=<0|1>
 *   user_locked=<0|1>
 *   so_locked=<0|1>
 *   pending=<user|so> <pid> <start> <boot id> <pid namespace>
 *                           zero to PIN_STORE_PENDING_MAX lines: tries reserved
 *                           and not yet settled, with the reserving process
 *
 * A process is its pid, its start time (field 22 of /proc/<pid>/stat) and
 * the boot it runs in, so that neither a reused pid nor a reboot passes for
 * the reserver; the pid namespace says which /proc can tell. Version 1
 * (no limits for the user, no user lock, no pending lines; failures counted
 * reservations too) is still read.
 */
#define STATE_VERSION 2
#define STATE_FILE_MAX 4096  /* a valid file is far smaller; more is corruption */
#define COUNT_MAX 65535u     /* larger counts are corruption, not history */
#define NAME_SIZE (PIN_STORE_STEM_SIZE + 8)
#define BOOT_ID_LEN 36       /* 8-4-4-4-12 lower-case hex */
#define PID_MAX 4194304u     /* the kernel's PID_MAX_LIMIT */

struct pin_store {
	int dir_fd;                      /* the state directory, opened once */
	char *dir_path;                  /* its name, for log lines */
	char stem[PIN_STORE_STEM_SIZE];
	char data_name[NAME_SIZE];       /* <stem>.pins */
	char lock_name[NAME_SIZE];       /* <stem>.lock, never replaced, never removed */
	char temp_name[NAME_SIZE];       /* <stem>.tmp, only written under the lock */
};

/* Who holds a reservation: see the file format above. */
struct holder {
	unsigned long pid;
	unsigned long long start;
	char boot[BOOT_ID_LEN + 1];
	unsigned long long pid_ns;       /* 0: this process could not see itself in /proc */
};

struct pending {
	enum pin_who who;
	struct holder by;
};

/* Everything the file holds, indexed by enum pin_who. */
struct record {
	unsigned failures[2];            /* settled */
	unsigned limit[2];               /* in force at the last reservation; 0: none known */
	bool locked[2];
	bool user_to_be_changed;
	size_t npending;
	struct pending pending[PIN_STORE_PENDING_MAX];
};

static const char *const who_names[2] = { "user", "so" };

/* One log line naming the state file and what went wrong with it. */
static void store_error(const struct pin_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void store_error(const struct pin_store *s, const char *fmt, ...)
{
	char detail[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	log_msg(LL_ERROR, "PIN counter file %s/%s: %s", s->dir_path, s->data_name, detail);
}

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
	int err = files_make_dir(path);

	if (err == 0)
		return CKR_OK;
	log_msg(LL_ERROR, "PIN counter directory %s cannot be created: %s", path, strerror(err));
	return CKR_GENERAL_ERROR;
}

static CK_RV open_directory(const char *path, int *fd_out)
{
	CK_RV rv = make_directories(path);
	int fd;

	if (rv != CKR_OK)
		return rv;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		log_msg(LL_ERROR, "PIN counter directory %s: %s", path, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	*fd_out = fd;
	return CKR_OK;
}

/* The directory's name as log lines show it: without trailing slashes. */
static char *display_path(const char *path)
{
	size_t len = strlen(path);
	char *copy;

	while (len > 1 && path[len - 1] == '/')
		len--;
	copy = malloc(len + 1);
	if (copy != NULL) {
		memcpy(copy, path, len);
		copy[len] = '\0';
	}
	return copy;
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
	s->dir_path = display_path(state_dir);
	if (s->dir_path == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
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
	free(s->dir_path);
	free(s);
}

/* ---- parsing ---- */

struct reader {
	const char *p;
	size_t left;
};

static bool take_text(struct reader *r, const char *text)
{
	size_t len = strlen(text);

	if (r->left < len || memcmp(r->p, text, len) != 0)
		return false;
	r->p += len;
	r->left -= len;
	return true;
}

/* 1 to max_digits decimal digits worth at most max. */
static bool take_number(struct reader *r, size_t max_digits, unsigned long long max, unsigned long long *value)
{
	unsigned long long v = 0;
	size_t i;

	for (i = 0; i < r->left && r->p[i] >= '0' && r->p[i] <= '9'; i++) {
		unsigned digit = (unsigned)(r->p[i] - '0');

		if (i == max_digits || digit > max || v > (max - digit) / 10)
			return false;
		v = v * 10 + digit;
	}
	if (i == 0)
		return false;
	r->p += i;
	r->left -= i;
	*value = v;
	return true;
}

/* "key=<number>\n" */
static bool take_field(struct reader *r, const char *key, size_t max_digits, unsigned long long max,
		       unsigned long long *value)
{
	return take_text(r, key) && take_text(r, "=") && take_number(r, max_digits, max, value) &&
	       take_text(r, "\n");
}

static bool take_count(struct reader *r, const char *key, unsigned *value)
{
	unsigned long long v;

	if (!take_field(r, key, 5, COUNT_MAX, &v))
		return false;
	*value = (unsigned)v;
	return true;
}

static bool take_flag(struct reader *r, const char *key, bool *value)
{
	unsigned long long v;

	if (!take_field(r, key, 1, 1, &v))
		return false;
	*value = v == 1;
	return true;
}

static bool take_serial(struct reader *r, const char *stem)
{
	return take_text(r, "serial=") && take_text(r, stem) && take_text(r, "\n");
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* A boot id as the kernel writes it: 8-4-4-4-12 lower-case hex digits. */
static bool valid_boot_id(const char *p)
{
	for (size_t i = 0; i < BOOT_ID_LEN; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? p[i] != '-' : !is_lower_hex(p[i]))
			return false;
	}
	return true;
}

static bool take_boot_id(struct reader *r, char out[BOOT_ID_LEN + 1])
{
	if (r->left < BOOT_ID_LEN || !valid_boot_id(r->p))
		return false;
	memcpy(out, r->p, BOOT_ID_LEN);
	out[BOOT_ID_LEN] = '\0';
	r->p += BOOT_ID_LEN;
	r->left -= BOOT_ID_LEN;
	return true;
}

static bool take_who(struct reader *r, enum pin_who *who)
{
	if (take_text(r, "user")) {
		*who = PIN_USER;
		return true;
	}
	if (take_text(r, "so")) {
		*who = PIN_SO;
		return true;
	}
	return false;
}

/* "pending=<user|so> <pid> <start> <boot id> <pid namespace>\n" */
static bool take_pending(struct reader *r, struct pending *p)
{
	unsigned long long pid;

	if (!take_text(r, "pending=") || !take_who(r, &p->who) || !take_text(r, " ") ||
	    !take_number(r, 7, PID_MAX, &pid) || pid == 0 || !take_text(r, " ") ||
	    !take_number(r, 20, ~0ULL, &p->by.start) || !take_text(r, " ") || !take_boot_id(r, p->by.boot) ||
	    !take_text(r, " ") || !take_number(r, 20, ~0ULL, &p->by.pid_ns) || !take_text(r, "\n"))
		return false;
	p->by.pid = (unsigned long)pid;
	return true;
}

/*
 * Version 1 counted reservations as failures and had no user limit or user
 * lock. Its SO PIN that reached the limit in force is locked, whatever the
 * flag says: a process could die between judging the last try and writing
 * the flag.
 */
static bool take_version_1(struct reader *r, struct record *rec)
{
	if (!take_count(r, "user_failures", &rec->failures[PIN_USER]) ||
	    !take_count(r, "so_failures", &rec->failures[PIN_SO]) || !take_count(r, "so_limit", &rec->limit[PIN_SO]) ||
	    !take_flag(r, "user_to_be_changed", &rec->user_to_be_changed) ||
	    !take_flag(r, "so_locked", &rec->locked[PIN_SO]) || r->left != 0)
		return false;
	if (rec->limit[PIN_SO] > 0 && rec->failures[PIN_SO] >= rec->limit[PIN_SO])
		rec->locked[PIN_SO] = true;
	return true;
}

static bool take_version_2(struct reader *r, struct record *rec)
{
	if (!take_count(r, "user_failures", &rec->failures[PIN_USER]) ||
	    !take_count(r, "so_failures", &rec->failures[PIN_SO]) ||
	    !take_count(r, "user_limit", &rec->limit[PIN_USER]) || !take_count(r, "so_limit", &rec->limit[PIN_SO]) ||
	    !take_flag(r, "user_to_be_changed", &rec->user_to_be_changed) ||
	    !take_flag(r, "user_locked", &rec->locked[PIN_USER]) || !take_flag(r, "so_locked", &rec->locked[PIN_SO]))
		return false;
	while (r->left > 0) {
		if (rec->npending == PIN_STORE_PENDING_MAX || !take_pending(r, &rec->pending[rec->npending]))
			return false;
		rec->npending++;
	}
	return true;
}

static bool parse_record(const char *text, size_t len, const char *stem, struct record *rec)
{
	struct reader r = { text, len };
	unsigned long long version;

	memset(rec, 0, sizeof(*rec));
	if (!take_field(&r, "version", 5, 99999, &version) || !take_serial(&r, stem))
		return false;
	if (version == 1)
		return take_version_1(&r, rec);
	return version == STATE_VERSION && take_version_2(&r, rec);
}

/* ---- reading and writing the file ---- */

/* Reads all of fd into buf; false with errno set on a read error, with errno 0 when it does not fit. */
static bool read_whole(int fd, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	ssize_t got;

	for (;;) {
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return false;
		if (got == 0)
			break;
		n += (size_t)got;
		if (n == cap) {
			errno = 0; /* too big to be ours */
			return false;
		}
	}
	*len = n;
	return true;
}

/* A missing file is a fresh token; anything else that is not a valid file is an error. */
static CK_RV load_record(const struct pin_store *s, struct record *rec)
{
	char text[STATE_FILE_MAX];
	struct stat sb;
	size_t len = 0;
	CK_RV rv = CKR_GENERAL_ERROR;
	int fd;

	memset(rec, 0, sizeof(*rec));
	/* O_NONBLOCK: a FIFO planted under the name must not hang the caller. */
	fd = openat(s->dir_fd, s->data_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return CKR_OK;
	if (fd < 0) {
		store_error(s, "cannot open: %s", errno == ELOOP ? "a symbolic link" : strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	if (fstat(fd, &sb) != 0) {
		store_error(s, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		store_error(s, "not a regular file");
		goto out;
	}
	if (!read_whole(fd, text, sizeof(text), &len)) {
		store_error(s, "%s", errno != 0 ? strerror(errno) : "corrupt (too large)");
		goto out;
	}
	if (!parse_record(text, len, s->stem, rec)) {
		store_error(s, "corrupt");
		goto out;
	}
	rv = CKR_OK;
out:
	close(fd);
	return rv;
}

/* The file's text into buf; the length, or -1 when it does not fit. */
static int format_record(const struct record *rec, const char *stem, char *buf, size_t cap)
{
	size_t len;
	int n;

	n = snprintf(buf, cap,
		     "version=%d\nserial=%s\nuser_failures=%u\nso_failures=%u\nuser_limit=%u\nso_limit=%u\n"
		     "user_to_be_changed=%d\nuser_locked=%d\nso_locked=%d\n",
		     STATE_VERSION, stem, rec->failures[PIN_USER], rec->failures[PIN_SO], rec->limit[PIN_USER],
		     rec->limit[PIN_SO], rec->user_to_be_changed ? 1 : 0, rec->locked[PIN_USER] ? 1 : 0,
		     rec->locked[PIN_SO] ? 1 : 0);
	for (size_t i = 0; i < rec->npending && n >= 0 && (size_t)n < cap; i++) {
		const struct pending *p = &rec->pending[i];

		len = (size_t)n;
		n = snprintf(buf + len, cap - len, "pending=%s %lu %llu %s %llu\n", who_names[p->who], p->by.pid,
			     p->by.start, p->by.boot, p->by.pid_ns);
		if (n >= 0)
			n += (int)len;
	}
	return n >= 0 && (size_t)n < cap ? n : -1;
}

/* Writes and syncs the temporary file; false with errno set. */
static bool write_temp(const struct pin_store *s, const char *text, size_t len)
{
	int fd = openat(s->dir_fd, s->temp_name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	bool ok;
	int err;

	if (fd < 0)
		return false;
	ok = files_write_all(fd, text, len) && fsync(fd) == 0;
	err = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		err = errno;
	}
	errno = err;
	return ok;
}

/* Temporary file, fsync, rename over the old one, fsync the directory: all or nothing. */
static CK_RV store_record(const struct pin_store *s, const struct record *rec)
{
	char text[STATE_FILE_MAX];
	int len = format_record(rec, s->stem, text, sizeof(text));

	if (len < 0) {
		store_error(s, "the state does not fit in %d bytes", STATE_FILE_MAX);
		return CKR_GENERAL_ERROR;
	}
	if (!write_temp(s, text, (size_t)len)) {
		store_error(s, "cannot write %s: %s", s->temp_name, strerror(errno));
		goto fail;
	}
	if (renameat(s->dir_fd, s->temp_name, s->dir_fd, s->data_name) != 0) {
		store_error(s, "cannot replace it with %s: %s", s->temp_name, strerror(errno));
		goto fail;
	}
	if (fsync(s->dir_fd) != 0) {
		store_error(s, "cannot sync its directory: %s", strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	return CKR_OK;
fail:
	unlinkat(s->dir_fd, s->temp_name, 0);
	return CKR_GENERAL_ERROR;
}

/* ---- the lock ---- */

/*
 * POSIX record locks (fcntl F_SETLKW) on the lock file exclude other
 * processes. They belong to the process, not to an open file description,
 * so a forked child never inherits one (flock() and OFD locks would be
 * inherited: a child could then hold the lock for as long as it lives, and
 * wait on it for ever itself), and they go away with the process.
 *
 * Two rules come with them. They do not exclude threads of one process, and
 * closing ANY descriptor of the file drops the process's lock: so every
 * open, lock and close of a lock file in this process happens under one
 * process-wide mutex. And a fork must never copy that mutex while a thread
 * holds it, since the child has no such thread to release it: fork
 * handlers take it before fork() and release it on both sides afterwards,
 * so a fork waits for the read-modify-write in progress (milliseconds),
 * never for a login.
 */
static pthread_mutex_t process_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_handlers_once = PTHREAD_ONCE_INIT;
static bool fork_handlers_registered;

static void hold_across_fork(void)
{
	pthread_mutex_lock(&process_lock);
}

static void release_after_fork(void)
{
	pthread_mutex_unlock(&process_lock);
}

static void register_fork_handlers(void)
{
	fork_handlers_registered = pthread_atfork(hold_across_fork, release_after_fork, release_after_fork) == 0;
}

bool pin_store_register_fork_handlers(void)
{
	pthread_once(&fork_handlers_once, register_fork_handlers);
	return fork_handlers_registered;
}

/* Takes the process-wide mutex, then the file lock; on success both are held until lock_release(). */
static CK_RV lock_acquire(const struct pin_store *s, int *fd_out)
{
	struct flock whole = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
	int fd, r, err;

	if (!pin_store_register_fork_handlers()) {
		store_error(s, "cannot lock %s: no fork handlers", s->lock_name);
		return CKR_HOST_MEMORY;
	}
	err = pthread_mutex_lock(&process_lock);
	if (err != 0) {
		store_error(s, "cannot lock %s: %s", s->lock_name, strerror(err));
		return CKR_CANT_LOCK;
	}
	fd = openat(s->dir_fd, s->lock_name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	do
		r = fcntl(fd, F_SETLKW, &whole);
	while (r != 0 && errno == EINTR);
	if (r != 0) {
		err = errno;
		close(fd);
		goto fail;
	}
	*fd_out = fd;
	return CKR_OK;
fail:
	pthread_mutex_unlock(&process_lock);
	store_error(s, "cannot lock %s: %s", s->lock_name, strerror(err));
	return CKR_GENERAL_ERROR;
}

static void lock_release(int fd)
{
	close(fd); /* drops this process's record lock */
	pthread_mutex_unlock(&process_lock);
}

/* ---- the processes that hold reservations ---- */

/* The first cap - 1 bytes of a small file, NUL-terminated; false with errno set. */
static bool read_small_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got = 0;
	size_t len = 0;
	int err;

	if (fd < 0)
		return false;
	while (len < cap - 1) {
		got = read(fd, buf + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	err = errno;
	close(fd);
	buf[len] = '\0';
	errno = err;
	return got >= 0;
}

/*
 * From a /proc/<pid>/stat line: the pid (field 1), the state (field 3) and
 * the start time (field 22). Field 2 is the command name in parentheses,
 * which may hold anything, so fields are counted from its last ')'.
 */
static bool parse_proc_stat(const char *text, unsigned long *pid, char *state, unsigned long long *start)
{
	const char *p = strrchr(text, ')');
	char *end;

	*pid = strtoul(text, &end, 10);
	if (p == NULL || end == text || *end != ' ')
		return false;
	p++;
	for (int field = 3; field <= 22; field++) {
		if (*p != ' ')
			return false;
		p++;
		if (field == 3)
			*state = *p;
		if (field == 22) {
			errno = 0;
			*start = strtoull(p, &end, 10);
			return end != p && errno == 0 && (*end == ' ' || *end == '\n' || *end == '\0');
		}
		p += strcspn(p, " ");
	}
	return false;
}

/* This process as a reservation records it. */
static CK_RV identify_self(const struct pin_store *s, struct holder *me)
{
	static const char stat_path[] = "/proc/self/stat", boot_path[] = "/proc/sys/kernel/random/boot_id";
	char text[1024], state;
	unsigned long seen_pid;
	struct stat sb;

	memset(me, 0, sizeof(*me));
	me->pid = (unsigned long)getpid();
	if (!read_small_file(stat_path, text, sizeof(text))) {
		store_error(s, "cannot identify this process: %s: %s", stat_path, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	if (!parse_proc_stat(text, &seen_pid, &state, &me->start)) {
		store_error(s, "cannot identify this process: %s: unexpected contents", stat_path);
		return CKR_GENERAL_ERROR;
	}
	if (!read_small_file(boot_path, text, sizeof(text))) {
		store_error(s, "cannot identify this process: %s: %s", boot_path, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	if (strlen(text) != BOOT_ID_LEN + 1 || !valid_boot_id(text) || text[BOOT_ID_LEN] != '\n') {
		store_error(s, "cannot identify this process: %s: unexpected contents", boot_path);
		return CKR_GENERAL_ERROR;
	}
	memcpy(me->boot, text, BOOT_ID_LEN);
	/*
	 * A /proc of another pid namespace (an outer one) shows this process
	 * under another number: then nobody here can judge its reservations,
	 * nor can it judge anyone's. pid_ns 0 says so.
	 */
	if (seen_pid == me->pid && stat("/proc/self/ns/pid", &sb) == 0)
		me->pid_ns = (unsigned long long)sb.st_ino;
	return CKR_OK;
}

static bool same_process(const struct holder *a, const struct holder *b)
{
	return a->pid == b->pid && a->start == b->start && strcmp(a->boot, b->boot) == 0;
}

/*
 * Whether the holder of a reservation is certainly gone: it ran in another
 * boot, or /proc (of the same pid namespace) shows no such process, or
 * another one under its pid, or a zombie. When in doubt it lives, and its
 * try stays counted.
 */
static bool holder_is_gone(const struct holder *h, const struct holder *me)
{
	char path[64], text[1024], state;
	unsigned long pid;
	unsigned long long start;

	if (strcmp(h->boot, me->boot) != 0)
		return true;
	if (me->pid_ns == 0 || h->pid_ns != me->pid_ns)
		return false;
	if (same_process(h, me))
		return false;
	snprintf(path, sizeof(path), "/proc/%lu/stat", h->pid);
	if (!read_small_file(path, text, sizeof(text)))
		return errno == ENOENT || errno == ESRCH;
	if (!parse_proc_stat(text, &pid, &state, &start) || pid != h->pid)
		return false;
	return start != h->start || state == 'Z' || state == 'X';
}

static void remove_pending(struct record *rec, size_t i)
{
	rec->npending--;
	memmove(&rec->pending[i], &rec->pending[i + 1], (rec->npending - i) * sizeof(rec->pending[0]));
}

/* Gives back the tries of processes that are gone; true when there were any. */
static bool give_back_dead(struct record *rec, const struct holder *me)
{
	bool any = false;

	for (size_t i = rec->npending; i-- > 0;) {
		if (holder_is_gone(&rec->pending[i].by, me)) {
			remove_pending(rec, i);
			any = true;
		}
	}
	return any;
}

/* Removes one reservation of who held by this process; false when it has none. */
static bool remove_own(struct record *rec, enum pin_who who, const struct holder *me)
{
	for (size_t i = 0; i < rec->npending; i++) {
		if (rec->pending[i].who == who && same_process(&rec->pending[i].by, me)) {
			remove_pending(rec, i);
			return true;
		}
	}
	return false;
}

static unsigned in_flight(const struct record *rec, enum pin_who who)
{
	unsigned n = 0;

	for (size_t i = 0; i < rec->npending; i++)
		n += rec->pending[i].who == who;
	return n;
}

/* ---- read-modify-write ---- */

/*
 * The change made under the lock, after the tries of dead processes were
 * given back. It sets *changed to have the record written, also when it
 * refuses (a lock noticed on the way); its code is returned unless writing
 * fails.
 */
typedef CK_RV (*record_change)(struct record *rec, const struct holder *me, const void *arg, bool *changed);

static CK_RV update_record(struct pin_store *s, record_change change, const void *arg)
{
	struct record rec;
	struct holder me;
	bool changed;
	CK_RV rv, stored;
	int lock_fd;

	if (s == NULL)
		return CKR_ARGUMENTS_BAD;
	rv = lock_acquire(s, &lock_fd);
	if (rv != CKR_OK)
		return rv;
	/* LOCKED: state file of this serial */
	rv = load_record(s, &rec);
	if (rv == CKR_OK)
		rv = identify_self(s, &me);
	if (rv == CKR_OK) {
		changed = give_back_dead(&rec, &me);
		rv = change(&rec, &me, arg, &changed);
		stored = changed ? store_record(s, &rec) : CKR_OK;
		if (stored != CKR_OK)
			rv = stored;
	}
	lock_release(lock_fd);
	return rv;
}

/* ---- the policy ---- */

CK_RV pin_store_read(struct pin_store *s, struct pin_state *st)
{
	struct record rec;
	struct holder me;
	CK_RV rv;

	if (s == NULL || st == NULL)
		return CKR_ARGUMENTS_BAD;
	/* No lock: rename() shows a reader either the old file or the new one. */
	rv = load_record(s, &rec);
	if (rv == CKR_OK && rec.npending > 0) {
		rv = identify_self(s, &me);
		if (rv == CKR_OK)
			give_back_dead(&rec, &me); /* in this copy only: the next change writes it */
	}
	if (rv != CKR_OK)
		return rv;
	st->user_failures = rec.failures[PIN_USER] + in_flight(&rec, PIN_USER);
	st->so_failures = rec.failures[PIN_SO] + in_flight(&rec, PIN_SO);
	st->user_to_be_changed = rec.user_to_be_changed;
	st->user_locked = rec.locked[PIN_USER];
	st->so_locked = rec.locked[PIN_SO];
	return CKR_OK;
}

struct reserve_arg {
	enum pin_who who;
	unsigned limit;
};

static CK_RV change_reserve(struct record *rec, const struct holder *me, const void *arg, bool *changed)
{
	const struct reserve_arg *a = arg;
	unsigned judged = rec->failures[a->who], total = judged + in_flight(rec, a->who);

	if (rec->locked[a->who])
		return CKR_PIN_LOCKED;
	/* Judged tries that reach the limit in force (a lower one, or an old file's): that is a lock. */
	if (judged > 0 && judged >= a->limit) {
		rec->locked[a->who] = true;
		*changed = true;
		return CKR_PIN_LOCKED;
	}
	/* The rest of the limit is taken up by tries in flight. */
	if (total >= a->limit || total >= COUNT_MAX)
		return CKR_PIN_LOCKED;
	if (rec->npending == PIN_STORE_PENDING_MAX)
		return CKR_FUNCTION_FAILED;
	rec->pending[rec->npending++] = (struct pending){ a->who, *me };
	rec->limit[a->who] = a->limit;
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_reserve(struct pin_store *s, enum pin_who who, const struct pin_limits *lim)
{
	struct reserve_arg a;
	CK_RV rv;

	if (lim == NULL || (who != PIN_USER && who != PIN_SO))
		return CKR_ARGUMENTS_BAD;
	a.who = who;
	a.limit = who == PIN_SO ? lim->so_retries : lim->user_retries;
	rv = update_record(s, change_reserve, &a);
	if (rv == CKR_FUNCTION_FAILED)
		store_error(s, "%d tries in flight already", PIN_STORE_PENDING_MAX);
	return rv;
}

struct settle_arg {
	enum pin_who who;
	enum pin_try result;
};

static CK_RV change_settle(struct record *rec, const struct holder *me, const void *arg, bool *changed)
{
	const struct settle_arg *a = arg;
	unsigned *failures = &rec->failures[a->who];

	*changed = remove_own(rec, a->who, me) || *changed;
	switch (a->result) {
	case PIN_TRY_OK:
		*changed = *changed || *failures != 0;
		*failures = 0;
		break;
	case PIN_TRY_WRONG:
		/*
		 * Judged: it counts, even should its reservation be gone. Reaching
		 * the limit in force at reservation is the lock, so that no later
		 * configuration with more tries can revive the PIN.
		 */
		if (*failures < COUNT_MAX)
			(*failures)++;
		if (rec->limit[a->who] > 0 && *failures >= rec->limit[a->who])
			rec->locked[a->who] = true;
		*changed = true;
		break;
	case PIN_TRY_UNUSED:
		break; /* removing the reservation gave it back */
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

static CK_RV change_token_initialised(struct record *rec, const struct holder *me, const void *arg, bool *changed)
{
	(void)me;
	(void)arg;
	if (rec->locked[PIN_SO])
		return CKR_PIN_LOCKED;
	rec->failures[PIN_USER] = 0;
	rec->failures[PIN_SO] = 0;
	rec->locked[PIN_USER] = false;
	rec->user_to_be_changed = true;
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_token_initialised(struct pin_store *s)
{
	return update_record(s, change_token_initialised, NULL);
}

static CK_RV change_token_reset(struct record *rec, const struct holder *me, const void *arg, bool *changed)
{
	(void)me;
	(void)arg;
	rec->failures[PIN_USER] = 0;
	rec->failures[PIN_SO] = 0;
	rec->locked[PIN_USER] = false;
	rec->locked[PIN_SO] = false;
	rec->user_to_be_changed = true;
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_token_reset(struct pin_store *s)
{
	return update_record(s, change_token_reset, NULL);
}

static CK_RV change_user_pin_set_by_so(struct record *rec, const struct holder *me, const void *arg,
				       bool *changed)
{
	(void)me;
	(void)arg;
	if (rec->locked[PIN_SO])
		return CKR_PIN_LOCKED;
	rec->failures[PIN_USER] = 0;
	rec->locked[PIN_USER] = false;
	rec->user_to_be_changed = true;
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_user_pin_set_by_so(struct pin_store *s)
{
	return update_record(s, change_user_pin_set_by_so, NULL);
}

static CK_RV change_user_pin_changed(struct record *rec, const struct holder *me, const void *arg, bool *changed)
{
	(void)me;
	(void)arg;
	*changed = *changed || rec->user_to_be_changed;
	rec->user_to_be_changed = false;
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

	flags = counter_flags(st->user_failures, lim->user_retries, st->user_locked, CKF_USER_PIN_COUNT_LOW,
			      CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
	flags |= counter_flags(st->so_failures, lim->so_retries, st->so_locked, CKF_SO_PIN_COUNT_LOW,
			       CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
	if (st->user_to_be_changed)
		flags |= CKF_USER_PIN_TO_BE_CHANGED;
	return flags;
}
