#include "pkcs11/pin_store.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkcs11/log.h"

#define STATE_MAGIC "signet-pin-state 1"

struct pin_store {
	char state_path[4096];
	char lock_path[4096];
	unsigned so_limit;         /* the SO limit of the last reservation, to mark "for ever" */
};

void pin_store_file_stem(const CK_UTF8CHAR serial[16], char out[17])
{
	size_t n = 16;

	while (n > 0 && (serial[n - 1] == ' ' || serial[n - 1] == '\0'))
		n--;
	for (size_t i = 0; i < n; i++)
		out[i] = (isalnum(serial[i]) || serial[i] == '-' || serial[i] == '_') ? (char)serial[i] : '_';
	out[n] = '\0';
	if (n == 0)
		snprintf(out, 17, "no-serial");
}

CK_RV pin_store_open(const char *state_dir, const CK_UTF8CHAR serial[16], struct pin_store **out)
{
	struct pin_store *s;
	char stem[17];
	int n1, n2;

	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
		log_msg(LOG_ERROR, "cannot create %s: %s", state_dir, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return CKR_HOST_MEMORY;
	pin_store_file_stem(serial, stem);
	n1 = snprintf(s->state_path, sizeof(s->state_path), "%s/%s.pins", state_dir, stem);
	n2 = snprintf(s->lock_path, sizeof(s->lock_path), "%s/%s.lock", state_dir, stem);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(s->state_path) || (size_t)n2 >= sizeof(s->lock_path)) {
		free(s);
		return CKR_GENERAL_ERROR;
	}
	*out = s;
	return CKR_OK;
}

void pin_store_close(struct pin_store *s)
{
	free(s);
}

/* ---- the file ---- */

static bool parse_line(const char *line, struct pin_state *st, unsigned *seen)
{
	char key[32];
	unsigned value;

	if (sscanf(line, "%31[a-z_]=%u", key, &value) != 2 || value > 255)
		return false;
	if (strcmp(key, "user_failures") == 0)
		st->user_failures = value;
	else if (strcmp(key, "so_failures") == 0)
		st->so_failures = value;
	else if (strcmp(key, "user_to_be_changed") == 0 && value <= 1)
		st->user_to_be_changed = value;
	else if (strcmp(key, "so_locked") == 0 && value <= 1)
		st->so_locked = value;
	else
		return false;
	(*seen)++;
	return true;
}

/* A missing file is a token never tried; a damaged one is an error, never "unlocked". */
static CK_RV load_state(const struct pin_store *s, struct pin_state *st)
{
	char line[128];
	unsigned seen = 0;
	bool ok;
	FILE *f;

	memset(st, 0, sizeof(*st));
	f = fopen(s->state_path, "re");
	if (f == NULL) {
		if (errno == ENOENT)
			return CKR_OK;
		log_msg(LOG_ERROR, "cannot read %s: %s", s->state_path, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	ok = fgets(line, sizeof(line), f) != NULL && strncmp(line, STATE_MAGIC "\n", sizeof(STATE_MAGIC)) == 0;
	while (ok && fgets(line, sizeof(line), f) != NULL)
		ok = parse_line(line, st, &seen);
	fclose(f);
	if (!ok || seen != 4) {
		log_msg(LOG_ERROR, "%s is damaged: refusing to guess the PIN state", s->state_path);
		return CKR_GENERAL_ERROR;
	}
	return CKR_OK;
}

static CK_RV save_state(const struct pin_store *s, const struct pin_state *st)
{
	char tmp[4200], text[256];
	int fd, n;

	n = snprintf(text, sizeof(text), STATE_MAGIC "\nuser_failures=%u\nso_failures=%u\n"
					 "user_to_be_changed=%u\nso_locked=%u\n",
		     st->user_failures, st->so_failures, (unsigned)st->user_to_be_changed,
		     (unsigned)st->so_locked);
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", s->state_path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (write(fd, text, (size_t)n) != n || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		goto fail;
	}
	close(fd);
	if (rename(tmp, s->state_path) != 0) {
		unlink(tmp);
		goto fail;
	}
	return CKR_OK;
fail:
	log_msg(LOG_ERROR, "cannot write %s: %s", s->state_path, strerror(errno));
	return CKR_GENERAL_ERROR;
}

/* Runs fn on the state under the exclusive lock, saving it when fn says so. */
typedef CK_RV (*state_fn)(struct pin_store *s, struct pin_state *st, const void *arg, bool *changed);

static CK_RV with_state(struct pin_store *s, state_fn fn, const void *arg, struct pin_state *out)
{
	struct pin_state st;
	bool changed = false;
	CK_RV rv;
	int fd;

	fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_msg(LOG_ERROR, "cannot open %s: %s", s->lock_path, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			log_msg(LOG_ERROR, "cannot lock %s: %s", s->lock_path, strerror(errno));
			close(fd);
			return CKR_GENERAL_ERROR;
		}
	}
	/* LOCKED: the token's PIN state, across processes */
	rv = load_state(s, &st);
	if (rv == CKR_OK && fn != NULL)
		rv = fn(s, &st, arg, &changed);
	if (rv == CKR_OK && changed)
		rv = save_state(s, &st);
	if (out != NULL)
		*out = st;
	close(fd); /* releases the lock */
	return rv;
}

CK_RV pin_store_read(struct pin_store *s, struct pin_state *st)
{
	return with_state(s, NULL, NULL, st);
}

/* ---- tries ---- */

struct reserve_arg { enum pin_who who; const struct pin_limits *lim; };

static CK_RV reserve(struct pin_store *s, struct pin_state *st, const void *arg, bool *changed)
{
	const struct reserve_arg *a = arg;

	if (a->who == PIN_SO) {
		s->so_limit = a->lim->so_retries;
		if (st->so_locked || st->so_failures >= a->lim->so_retries) {
			*changed = !st->so_locked;
			st->so_locked = true;
			return CKR_PIN_LOCKED;
		}
		st->so_failures++;
	} else {
		if (st->user_failures >= a->lim->user_retries)
			return CKR_PIN_LOCKED;
		st->user_failures++;
	}
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_reserve(struct pin_store *s, enum pin_who who, const struct pin_limits *lim)
{
	struct reserve_arg a = { who, lim };

	return with_state(s, reserve, &a, NULL);
}

struct settle_arg { enum pin_who who; enum pin_try result; };

static CK_RV settle(struct pin_store *s, struct pin_state *st, const void *arg, bool *changed)
{
	const struct settle_arg *a = arg;
	unsigned *count = a->who == PIN_SO ? &st->so_failures : &st->user_failures;

	switch (a->result) {
	case PIN_TRY_OK:
		*changed = *count != 0;
		*count = 0;
		break;
	case PIN_TRY_WRONG:
		if (a->who == PIN_SO && s->so_limit > 0 && st->so_failures >= s->so_limit && !st->so_locked) {
			st->so_locked = true; /* the fifth wrong SO PIN: nothing ever undoes this */
			*changed = true;
		}
		break;
	case PIN_TRY_UNUSED:
		if (*count > 0) {
			(*count)--;
			*changed = true;
		}
		break;
	}
	return CKR_OK;
}

CK_RV pin_store_settle(struct pin_store *s, enum pin_who who, enum pin_try result)
{
	struct settle_arg a = { who, result };

	return with_state(s, settle, &a, NULL);
}

/* ---- events ---- */

enum event { EV_INITIALISED, EV_SET_BY_SO, EV_CHANGED_BY_USER };

static CK_RV apply_event(struct pin_store *s, struct pin_state *st, const void *arg, bool *changed)
{
	enum event ev = *(const enum event *)arg;

	(void)s;
	switch (ev) {
	case EV_INITIALISED:
		st->so_failures = 0;
		/* fall through */
	case EV_SET_BY_SO:
		st->user_failures = 0;
		st->user_to_be_changed = true;
		break;
	case EV_CHANGED_BY_USER:
		st->user_to_be_changed = false;
		break;
	}
	*changed = true;
	return CKR_OK;
}

CK_RV pin_store_token_initialised(struct pin_store *s)
{
	enum event ev = EV_INITIALISED;

	return with_state(s, apply_event, &ev, NULL);
}

CK_RV pin_store_user_pin_set_by_so(struct pin_store *s)
{
	enum event ev = EV_SET_BY_SO;

	return with_state(s, apply_event, &ev, NULL);
}

CK_RV pin_store_user_pin_changed(struct pin_store *s)
{
	enum event ev = EV_CHANGED_BY_USER;

	return with_state(s, apply_event, &ev, NULL);
}

/* COUNT_LOW after a failure while more than one try is left, FINAL_TRY with one left, LOCKED with none. */
static CK_FLAGS counter_flags(unsigned failures, unsigned limit, bool locked, CK_FLAGS low, CK_FLAGS final,
			      CK_FLAGS lock)
{
	if (locked || failures >= limit)
		return lock;
	if (failures + 1 == limit)
		return final;
	if (failures > 0)
		return low;
	return 0;
}

CK_FLAGS pin_state_token_flags(const struct pin_state *st, const struct pin_limits *lim)
{
	CK_FLAGS flags = 0;

	flags |= counter_flags(st->user_failures, lim->user_retries, false, CKF_USER_PIN_COUNT_LOW,
			       CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
	flags |= counter_flags(st->so_failures, lim->so_retries, st->so_locked, CKF_SO_PIN_COUNT_LOW,
			       CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
	if (st->user_to_be_changed)
		flags |= CKF_USER_PIN_TO_BE_CHANGED;
	return flags;
}
