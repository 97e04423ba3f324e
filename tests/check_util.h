/* Small helpers shared by the Check suites: scratch directories, files, captured stderr, random bytes, the runner. */
#ifndef SIGNET_CHECK_UTIL_H
#define SIGNET_CHECK_UTIL_H

#include <check.h>
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR, removed by the test's process exit is not needed: tmp is scratch. */
static inline char *tu_tempdir(void)
{
	const char *base = getenv("TMPDIR");
	char *path = malloc(4096);

	ck_assert_ptr_nonnull(path);
	snprintf(path, 4096, "%s/signet-test-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(path));
	return path;
}

static inline void tu_write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	ck_assert_ptr_nonnull(f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert_int_eq(fclose(f), 0);
}

/* Reads a whole file into a NUL-terminated heap buffer. */
static inline char *tu_read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

/* Sends stderr to a file until tu_restore_stderr(); returns the saved descriptor. */
static inline int tu_capture_stderr(const char *path)
{
	int saved = dup(STDERR_FILENO);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
	return saved;
}

static inline void tu_restore_stderr(int saved)
{
	dup2(saved, STDERR_FILENO);
	close(saved);
}

/* Parses hex such as "53 81 05" or "5381" (spaces optional) into out; returns the byte count. */
static inline size_t tu_unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s != '\0') {
		unsigned v;

		if (*s == ' ') {
			s++;
			continue;
		}
		/* Two digits each, so that an odd string cannot step over its end. */
		ck_assert_msg(isxdigit((unsigned char)s[0]) && isxdigit((unsigned char)s[1]) &&
			      sscanf(s, "%2x", &v) == 1, "bad hex in test: %s", s);
		ck_assert_uint_lt(n, cap);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

/*
 * Waits for a forked child for at most seconds; a child still running then
 * is killed. Returns its wait status, -1 when it had to be killed.
 */
static inline int tu_wait_child(pid_t pid, int seconds)
{
	struct timespec tick = { 0, 5 * 1000 * 1000 };
	int status;

	for (long i = 0; i < seconds * 200L; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r < 0)
			return -2;
		nanosleep(&tick, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

/*
 * A forked child's own deadline: it dies of SIGALRM after seconds. The
 * default action first, since Check's handler would end the whole process
 * group, the test runner included.
 */
static inline void tu_child_deadline(unsigned seconds)
{
	signal(SIGALRM, SIG_DFL);
	alarm(seconds);
}

/* Deterministic pseudo-random numbers (xorshift32), so failures reproduce; state must not start at 0. */
static inline uint32_t tu_next_random(uint32_t *state)
{
	uint32_t x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

/*
 * Runs every test of s with Check's normal report, its "NN%: Checks: ..."
 * summary included, and frees it. Returns main()'s exit status.
 */
static inline int tu_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
