/* The log: where lines go while C_Initialize and C_Finalize reconfigure it under other threads. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkcs11/log.h"
#include "tests/check_util.h"

#define CYCLES 30000
#define VICTIMS 8

static atomic_bool stop;
static char victim_path[VICTIMS][4096];

static void *keep_logging(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop))
		log_msg(LL_WARNING, "a line from another thread");
	return NULL;
}

/* A host thread opening its own files: any descriptor number the log gives back is reused here. */
static void *keep_opening(void *arg)
{
	int fds[VICTIMS];

	(void)arg;
	while (!atomic_load(&stop)) {
		for (int i = 0; i < VICTIMS; i++)
			fds[i] = open(victim_path[i], O_WRONLY | O_APPEND | O_CLOEXEC);
		for (int i = 0; i < VICTIMS; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	return NULL;
}

static off_t size_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

START_TEST(closing_the_log_never_writes_into_the_hosts_files)
{
	char *dir = tu_tempdir(), logpath[4096];
	pthread_t logger, opener;
	int saved, i;

	snprintf(logpath, sizeof(logpath), "%s/signet.log", dir);
	for (i = 0; i < VICTIMS; i++) {
		int fd;

		snprintf(victim_path[i], sizeof(victim_path[i]), "%s/host-%d", dir, i);
		fd = open(victim_path[i], O_WRONLY | O_CREAT, 0600);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	/* Lines that go to stderr between a close and the next configure are not the point here. */
	saved = tu_capture_stderr("/dev/null");
	ck_assert_int_eq(log_configure(LL_WARNING, logpath), CKR_OK);
	atomic_store(&stop, false);
	ck_assert_int_eq(pthread_create(&logger, NULL, keep_logging, NULL), 0);
	ck_assert_int_eq(pthread_create(&opener, NULL, keep_opening, NULL), 0);
	for (i = 0; i < CYCLES; i++) {
		log_close();
		ck_assert_int_eq(log_configure(LL_WARNING, logpath), CKR_OK);
	}
	atomic_store(&stop, true);
	pthread_join(logger, NULL);
	pthread_join(opener, NULL);
	log_close();
	tu_restore_stderr(saved);
	for (i = 0; i < VICTIMS; i++)
		ck_assert_msg(size_of(victim_path[i]) == 0, "log lines were written into %s", victim_path[i]);
	ck_assert_int_gt(size_of(logpath), 0);
	free(dir);
}
END_TEST

START_TEST(reconfigured_log_keeps_writing_to_the_new_file)
{
	char *dir = tu_tempdir(), a[4096], b[4096];
	char *text;

	snprintf(a, sizeof(a), "%s/a.log", dir);
	snprintf(b, sizeof(b), "%s/b.log", dir);
	ck_assert_int_eq(log_configure(LL_INFO, a), CKR_OK);
	log_msg(LL_INFO, "first");
	log_close();
	ck_assert_int_eq(log_configure(LL_INFO, b), CKR_OK);
	log_msg(LL_INFO, "second");
	log_close();
	text = tu_read_file(a);
	ck_assert_ptr_nonnull(strstr(text, "first"));
	ck_assert_ptr_null(strstr(text, "second"));
	free(text);
	text = tu_read_file(b);
	ck_assert_ptr_nonnull(strstr(text, "second"));
	ck_assert_ptr_null(strstr(text, "first"));
	free(text);
	ck_assert_int_eq(log_get_level(), LL_WARNING);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("reconfigure");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, closing_the_log_never_writes_into_the_hosts_files);
	tcase_add_test(tc, reconfigured_log_keeps_writing_to_the_new_file);
	suite_add_tcase(s, tc);
	return tu_run_suite(s);
}
