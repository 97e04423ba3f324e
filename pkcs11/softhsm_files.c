#include "pkcs11/softhsm_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11/config.h"
#include "pkcs11/cryptoki.h"
#include "pkcs11/files.h"
#include "pkcs11/log.h"

/* A token.object is a few hundred bytes; anything far larger is not one SoftHSM wrote. */
#define TOKEN_FILE_MAX (64 * 1024)
/* How long to wait for a SoftHSM of another process to finish writing a token. */
#define LOCK_WAIT_MS 3000

/* SoftHSM's own attributes of a token (CKA_VENDOR_DEFINED + two letters). */
#define OS_TOKEN_LABEL (CKA_VENDOR_DEFINED + 0x5349)
#define OS_TOKEN_SERIAL (CKA_VENDOR_DEFINED + 0x534A)
#define OS_TOKEN_FLAGS (CKA_VENDOR_DEFINED + 0x534B)
#define OS_SO_PIN (CKA_VENDOR_DEFINED + 0x534C)
#define OS_USER_PIN (CKA_VENDOR_DEFINED + 0x534D)

static struct {
	bool on;
	bool keep_failed;        /* said once: a copy could not be written */
	char tokens[PATH_MAX];
	char copies[PATH_MAX];
} shf;

enum shape {
	WHOLE,   /* every attribute complete, the token's own all there */
	CUT,     /* ends inside an attribute, or lacks one a token always has */
	UNKNOWN, /* something this reader does not know: left alone */
};

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * The file as SoftHSM writes it: an 8-byte header, then attributes, each
 * its type (8 bytes), its kind (8: 1 boolean, 2 number, 3 byte string) and
 * its value (1 byte, 8 bytes, or an 8-byte length and the bytes), all
 * big-endian.
 */
static enum shape shape_of(const uint8_t *p, size_t n)
{
	bool label = false, serial = false, so_pin = false, user_pin = false, have_flags = false;
	uint64_t flags = 0;
	size_t at = 8;

	if (n < 8)
		return CUT;
	while (at < n) {
		uint64_t type, kind, len;

		if (n - at < 16)
			return CUT;
		type = be64(p + at);
		kind = be64(p + at + 8);
		at += 16;
		if (kind == 1) {
			len = 1;
		} else if (kind == 2) {
			len = 8;
		} else if (kind == 3) {
			if (n - at < 8)
				return CUT;
			len = be64(p + at);
			at += 8;
		} else {
			return UNKNOWN;
		}
		if (n - at < len)
			return CUT;
		label |= type == OS_TOKEN_LABEL;
		serial |= type == OS_TOKEN_SERIAL;
		so_pin |= type == OS_SO_PIN;
		user_pin |= type == OS_USER_PIN;
		if (type == OS_TOKEN_FLAGS && kind == 2) {
			have_flags = true;
			flags = be64(p + at);
		}
		at += (size_t)len;
	}
	if (!label || !serial || !have_flags || !so_pin)
		return CUT;
	/* Flags come before the PIN records: a file cut after them may lack the user's. */
	return (flags & CKF_USER_PIN_INITIALIZED) && !user_pin ? CUT : WHOLE;
}

/*
 * The token file's shape. An empty one is cut (SoftHSM had just emptied it);
 * one that is missing, or not a private file of this user, is left alone.
 */
static enum shape read_token_file(const char *path, uint8_t **data, size_t *len)
{
	struct stat st;

	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0)
		return CUT;
	if (files_read_private(path, TOKEN_FILE_MAX, data, len))
		return shape_of(*data, *len);
	return UNKNOWN;
}

/* ---- the configuration SoftHSM reads ---- */

/* directories.tokendir, and whether the store is the file one (the default). */
static bool read_softhsm_conf(const char *path, char *tokens, size_t size, bool *file_store)
{
	char line[PATH_MAX + 64];
	FILE *f = fopen(path, "re");
	bool found = false;

	*file_store = true;
	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *eq = strchr(line, '='), *key, *value;

		if (line[0] == '#' || eq == NULL)
			continue;
		*eq = '\0';
		key = config_trim(line);
		value = config_trim(eq + 1);
		if (strcmp(key, "directories.tokendir") == 0)
			found = snprintf(tokens, size, "%s", value) < (int)size;
		else if (strcmp(key, "objectstore.backend") == 0)
			*file_store = strcmp(value, "file") == 0;
	}
	fclose(f);
	return found;
}

/* ---- copies ---- */

static bool path_in(char *out, size_t size, const char *dir, const char *name, const char *suffix)
{
	return snprintf(out, size, "%s/%s%s", dir, name, suffix) < (int)size;
}

/* Paths of a token's file and of signet's copy of it. */
static bool token_paths(const char *token, char path[PATH_MAX], char copy[PATH_MAX])
{
	return path_in(path, PATH_MAX, shf.tokens, token, "/token.object") &&
	       path_in(copy, PATH_MAX, shf.copies, token, ".object");
}

/* Keeps now, a token's whole file, as its copy when it differs from the one kept. */
static void keep_bytes(const char *path, const char *copy, const uint8_t *now, size_t now_len)
{
	uint8_t *kept = NULL;
	size_t kept_len = 0;

	if ((!files_read_private(copy, TOKEN_FILE_MAX, &kept, &kept_len) || kept_len != now_len ||
	     memcmp(kept, now, now_len) != 0) &&
	    !files_replace(copy, now, now_len) && !shf.keep_failed) {
		shf.keep_failed = true; /* once: every login would say it again */
		log_msg(LL_WARNING, "cannot keep a copy of SoftHSM token file %s in %s: %s", path, copy, strerror(errno));
	}
	free(kept);
}

static void keep_one(const char *token)
{
	char path[PATH_MAX], copy[PATH_MAX];
	uint8_t *now = NULL;
	size_t now_len = 0;

	if (token_paths(token, path, copy) && read_token_file(path, &now, &now_len) == WHOLE)
		keep_bytes(path, copy, now, now_len);
	free(now);
}

/* SoftHSM's lock on the token (token.lock), as another process's SoftHSM sees it: -1 if not had in time. */
static int lock_token(const char *token)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	char path[PATH_MAX];
	int fd;

	if (!path_in(path, sizeof(path), shf.tokens, token, "/token.lock"))
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	for (int waited = 0; fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) != 0; waited += 10) {
		if ((errno != EAGAIN && errno != EACCES) || waited >= LOCK_WAIT_MS) {
			close(fd);
			return -1;
		}
		nanosleep(&pause, NULL);
	}
	return fd;
}

/* Puts the kept copy back in place of a token file that looked cut short. */
static void mend(const char *token, const char *path, const char *copy)
{
	uint8_t *now = NULL, *kept = NULL;
	size_t now_len = 0, kept_len = 0;
	/* Cut short, or being written by another process right now: only its lock tells. */
	int lock = lock_token(token);

	if (lock < 0) {
		log_msg(LL_WARNING, "SoftHSM token file %s looks cut short, but its lock was not had: left as it is",
			path);
		return;
	}
	if (read_token_file(path, &now, &now_len) != CUT)
		goto out;
	if (!files_read_private(copy, TOKEN_FILE_MAX, &kept, &kept_len) || shape_of(kept, kept_len) != WHOLE)
		log_msg(LL_ERROR, "SoftHSM token file %s was cut short (a process killed while SoftHSM wrote it) and "
			"signet has no copy of it: the token cannot be opened", path);
	else if (!files_replace(path, kept, kept_len))
		log_msg(LL_ERROR, "SoftHSM token file %s was cut short and cannot be put back from %s: %s", path, copy,
			strerror(errno));
	else
		log_msg(LL_WARNING, "SoftHSM token file %s was cut short (a process killed while SoftHSM wrote it): "
			"put back from the copy kept in %s", path, copy);
out:
	close(lock); /* nothing of SoftHSM runs in this process yet, so no lock of its own goes with it */
	free(now);
	free(kept);
}

/* At load, one read of each token file: a file cut short is mended, a whole one kept. */
static void prepare_one(const char *token)
{
	char path[PATH_MAX], copy[PATH_MAX];
	uint8_t *now = NULL;
	size_t now_len = 0;
	enum shape shape;

	if (!token_paths(token, path, copy))
		return;
	shape = read_token_file(path, &now, &now_len);
	if (shape == CUT)
		mend(token, path, copy);
	else if (shape == WHOLE)
		keep_bytes(path, copy, now, now_len);
	free(now);
}

/* Calls fn for each token directory. */
static void each_token(void (*fn)(const char *token))
{
	DIR *d = opendir(shf.tokens);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && (e->d_type == DT_DIR || e->d_type == DT_UNKNOWN))
			fn(e->d_name);
	closedir(d);
}

/* FNV-1a of a path: a short name for it. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

/* A copy whose token is gone (deleted with softhsm2-util, say) goes too: it holds that token's PIN records. */
static void drop_orphan_copies(void)
{
	char token[PATH_MAX], copy[PATH_MAX];
	DIR *d = opendir(shf.copies);
	struct dirent *e;
	struct stat st;
	size_t n;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		n = strlen(e->d_name);
		if (e->d_name[0] == '.' || n <= 7 || strcmp(e->d_name + n - 7, ".object") != 0 ||
		    snprintf(token, sizeof(token), "%s/%.*s", shf.tokens, (int)(n - 7), e->d_name) >= (int)sizeof(token) ||
		    !path_in(copy, sizeof(copy), shf.copies, e->d_name, ""))
			continue;
		if (lstat(token, &st) != 0 && errno == ENOENT && unlink(copy) == 0)
			log_msg(LL_INFO, "SoftHSM token %s is gone: its copy %s is removed", token, copy);
	}
	closedir(d);
}

void shf_prepare(const char *softhsm_conf, const char *state_dir)
{
	bool file_store;
	int err = ENAMETOOLONG;

	shf.on = false;
	if (softhsm_conf == NULL || !read_softhsm_conf(softhsm_conf, shf.tokens, sizeof(shf.tokens), &file_store)) {
		log_msg(LL_INFO, "SoftHSM configuration %s names no token directory: its token files are not guarded",
			softhsm_conf != NULL ? softhsm_conf : "(none)");
		return;
	}
	if (!file_store)
		return; /* the database store writes in transactions of its own */
	/* One directory of copies per token directory: another configuration's tokens are not this one's orphans. */
	if (snprintf(shf.copies, sizeof(shf.copies), "%s/softhsm-copies/%016llx", state_dir,
		     (unsigned long long)name_hash(shf.tokens)) >= (int)sizeof(shf.copies) ||
	    (err = files_make_dir(shf.copies)) != 0) {
		log_msg(LL_WARNING, "cannot make %s (%s): SoftHSM's token files are not guarded", shf.copies,
			strerror(err));
		return;
	}
	shf.on = true;
	each_token(prepare_one);
	drop_orphan_copies();
}

void shf_keep(void)
{
	if (shf.on)
		each_token(keep_one);
}
