#include "pkcs11/files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int files_make_dir(const char *path)
{
	char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return ENAMETOOLONG;
	for (char *p = buf + 1; *p != '\0'; p++) {
		if (*p != '/' || p[-1] == '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return errno;
	return 0;
}

bool files_read_private(const char *path, size_t max, uint8_t **data, size_t *len)
{
	struct stat st;
	ssize_t n = 0;
	size_t got = 0;
	/* O_NONBLOCK: a FIFO put in the file's place must not hold the caller up before fstat says what it is. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

	*data = NULL;
	*len = 0;
	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0 ||
	    st.st_size <= 0 || (uint64_t)st.st_size > max) {
		close(fd);
		errno = EPERM; /* present, but not one of ours to trust */
		return false;
	}
	*data = malloc((size_t)st.st_size);
	while (*data != NULL && got < (size_t)st.st_size) {
		n = read(fd, *data + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (*data == NULL || got != (size_t)st.st_size) {
		free(*data);
		*data = NULL;
		return false;
	}
	*len = got;
	return true;
}

bool files_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 0) {
		ssize_t put = write(fd, p, len);

		if (put < 0 && errno == EINTR)
			continue;
		if (put < 0)
			return false;
		if (put == 0) {
			errno = ENOSPC;
			return false;
		}
		p += put;
		len -= (size_t)put;
	}
	return true;
}

bool files_replace(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	bool ok;
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return false;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return false;
	/* fsync first: after a crash the new name must not point at a file the disk never got. */
	ok = files_write_all(fd, data, len) && fsync(fd) == 0;
	err = errno;
	if (close(fd) != 0 && ok) {
		ok = false;
		err = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = false;
		err = errno;
	}
	if (!ok) {
		unlink(tmp);
		errno = err;
	}
	return ok;
}
