#include "pkcs11/softhsm.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/wipe.h"
#include "pkcs11/config.h"
#include "pkcs11/files.h"
#include "pkcs11/lock.h"
#include "pkcs11/log.h"
#include "pkcs11/slot.h"
#include "pkcs11/softhsm_files.h"
#include "pkcs11/pin_policy.h"
#include "pkcs11/key_policy.h"

struct token {
	CK_SLOT_ID real;             /* SoftHSM's slot id */
	struct pin_policy *policy;   /* SoftHSM never locks a PIN: the policy's store counts */
};

struct sess {
	CK_SESSION_HANDLE real;
};

static struct {
	void *dl;
	char dl_path[CONFIG_PATH_MAX];
	unsigned dl_generation;    /* lock_fork_generation() when dl was loaded */
	CK_FUNCTION_LIST_PTR f;
	const struct config *conf;
	void *lock;                /* guards tokens / ntokens */
	struct token **tokens;
	size_t ntokens;
	bool running;
} sh;

static const struct token_ops softhsm_ops;

/*
 * SoftHSM copies every input (and every random output) it is given, and
 * ends the whole process when it cannot allocate the copy. Lengths no
 * caller can mean are refused first, with the error an allocation failure
 * would have earned.
 */
#define MAX_DATA_LEN ((CK_ULONG)1 << 30)   /* data, signatures, wrapped keys, random output */
#define MAX_VALUE_LEN ((CK_ULONG)1 << 24)  /* one attribute value, one PIN */

static CK_RV check_template_size(const CK_ATTRIBUTE *t, CK_ULONG n)
{
	for (CK_ULONG i = 0; t != NULL && i < n; i++)
		if (t[i].ulValueLen > MAX_VALUE_LEN)
			return CKR_HOST_MEMORY;
	return CKR_OK;
}

/* ---- configuration of SoftHSM itself ---- */

/* Writes <state_dir>/softhsm2.conf once, pointing at <state_dir>/tokens. */
static CK_RV default_softhsm_conf(const char *state_dir, char *out, size_t size)
{
	char tokens[CONFIG_PATH_MAX];
	FILE *f;
	int fd, err;

	if (snprintf(out, size, "%s/softhsm2.conf", state_dir) >= (int)size ||
	    snprintf(tokens, sizeof(tokens), "%s/tokens", state_dir) >= (int)sizeof(tokens))
		return CKR_GENERAL_ERROR;
	if (access(out, R_OK) == 0)
		return CKR_OK;
	if ((err = files_make_dir(tokens)) != 0) {
		log_msg(LL_ERROR, "cannot create directory %s: %s", tokens, strerror(err));
		return CKR_GENERAL_ERROR;
	}
	fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? CKR_OK : CKR_GENERAL_ERROR;
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return CKR_GENERAL_ERROR;
	}
	fprintf(f, "# SoftHSM configuration for signet's fallback token, written on first use.\n"
		   "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n"
		   "slots.removable = false\n", tokens);
	if (fclose(f) != 0)
		return CKR_GENERAL_ERROR;
	log_msg(LL_INFO, "created %s", out);
	return CKR_OK;
}

/* Calls SoftHSM's C_Initialize with SOFTHSM2_CONF pointing where the configuration says. */
static CK_RV initialize_softhsm(void)
{
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	char conf_path[CONFIG_PATH_MAX] = "";
	bool set_env = false;
	CK_RV rv;

	/*
	 * SoftHSM takes every internal lock through the functions it is given.
	 * Ours never block in a forked child on a lock made before the fork,
	 * and the copy of SoftHSM a child inherits still runs its static
	 * destructors when the child exits, behind locks that a thread of the
	 * parent may have held at the fork.
	 */
	lock_give_os_mutexes(&args);
	if (getenv("SOFTHSM2_CONF") == NULL) {
		if (sh.conf->softhsm_config[0] != '\0') {
			snprintf(conf_path, sizeof(conf_path), "%s", sh.conf->softhsm_config);
		} else {
			rv = default_softhsm_conf(sh.conf->state_dir, conf_path, sizeof(conf_path));
			if (rv != CKR_OK) {
				log_msg(LL_WARNING, "cannot prepare a SoftHSM configuration under %s",
					sh.conf->state_dir);
				return rv;
			}
		}
		set_env = true;
		setenv("SOFTHSM2_CONF", conf_path, 1);
	}
	shf_prepare(set_env ? conf_path : getenv("SOFTHSM2_CONF"), sh.conf->state_dir);
	rv = sh.f->C_Initialize(&args);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		/* Another user in this process initialised our copy while signet was finalised: start it afresh. */
		sh.f->C_Finalize(NULL);
		rv = sh.f->C_Initialize(&args);
	}
	if (set_env)
		unsetenv("SOFTHSM2_CONF");
	if (rv != CKR_OK)
		log_msg(LL_WARNING, "SoftHSM C_Initialize failed: %s (configuration %s)", log_rv_name(rv),
			set_env ? conf_path : "from SOFTHSM2_CONF");
	return rv;
}

/* The host's exit handlers may finalize us after SoftHSM's destructors ran: from then on, leave it alone. */
static void note_process_exit(void)
{
	slot_note_host_exiting();
}

/* Loaded by a parent process: its state, and locks its threads held at the fork, came with the fork. */
static bool library_inherited(void)
{
	return sh.dl != NULL && sh.dl_generation != lock_fork_generation();
}

/* A copy of the file at path in a new memfd, or -1 with errno set. */
static int copy_to_memfd(const char *path)
{
	struct stat st;
	off_t done = 0;
	int in, fd = -1, err;

	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	if (fstat(in, &st) == 0)
		fd = memfd_create("signet-softhsm", MFD_CLOEXEC);
	while (fd >= 0 && done < st.st_size) {
		if (sendfile(fd, in, &done, (size_t)(st.st_size - done)) <= 0) {
			err = errno != 0 ? errno : EIO;
			close(fd);
			fd = -1;
			errno = err;
		}
	}
	err = errno;
	close(in);
	errno = err;
	return fd;
}

/*
 * Opens the library in fd under /proc/self/fd/N, a name nothing loaded has
 * yet: a copy an ancestor process loaded may hold the first one tried.
 */
static void *dlopen_fd(int fd)
{
	char name[64];
	void *dl = NULL, *taken;

	for (int tries = 0; tries < 8 && fd >= 0; tries++) {
		int higher;

		snprintf(name, sizeof(name), "/proc/self/fd/%d", fd);
		taken = dlopen(name, RTLD_NOW | RTLD_NOLOAD);
		if (taken == NULL) {
			dl = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
			break;
		}
		dlclose(taken);
		higher = fcntl(fd, F_DUPFD_CLOEXEC, fd + 1);
		close(fd);
		fd = higher;
	}
	if (fd >= 0)
		close(fd); /* the mapping stays */
	return dl;
}

/*
 * glibc knows a loaded library by its name, then by its file (device and
 * inode): the same bytes under a new name in a new file are a new library
 * with globals of its own (SoftHSM exports only code, nothing that copies
 * would share). A memfd is such a file without a trace on disk and without
 * depending on an executable /tmp. dlmopen() would also give a new instance,
 * but with a second C library and OpenSSL underneath, which AddressSanitizer
 * cannot follow.
 */
static void *load_private_copy(const char *path)
{
	int fd = copy_to_memfd(path);
	const char *why;
	void *dl;

	if (fd < 0) {
		log_msg(LL_WARNING, "cannot copy SoftHSM library %s: %s", path, strerror(errno));
		return NULL;
	}
	dl = dlopen_fd(fd);
	if (dl == NULL) {
		why = dlerror();
		log_msg(LL_WARNING, "cannot load a private copy of SoftHSM library %s: %s", path,
			why != NULL ? why : "no free name");
	}
	return dl;
}

/*
 * signet's SoftHSM is an instance of its own. A copy already in the
 * process, the host's or one a forked child inherited, is never called:
 * even its C_Initialize may tear down state behind locks that a thread of
 * the parent held at the fork, and finalizing the host's would end its
 * sessions. A private copy is loaded instead.
 */
static void *open_own_instance(const char *path)
{
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);

	if (dl != NULL) {
		dlclose(dl); /* only the reference RTLD_NOLOAD took */
		log_msg(LL_INFO, "SoftHSM library %s is in use already: loading a private copy", path);
		return load_private_copy(path);
	}
	/* Never unloaded: its static destructors must run at exit, not under our feet. */
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
	if (dl == NULL)
		log_msg(LL_WARNING, "cannot load SoftHSM library %s: %s", path, dlerror());
	return dl;
}

static CK_RV load_library(void)
{
	static bool exit_hook;
	CK_C_GetFunctionList get_list;
	CK_RV rv;

	if (library_inherited()) {
		/* Abandoned, never finalized: see open_own_instance. */
		sh.dl = NULL;
		sh.f = NULL;
	}
	if (sh.dl == NULL || strcmp(sh.dl_path, sh.conf->softhsm_library) != 0) {
		sh.dl = open_own_instance(sh.conf->softhsm_library);
		if (sh.dl == NULL)
			return CKR_GENERAL_ERROR;
		snprintf(sh.dl_path, sizeof(sh.dl_path), "%s", sh.conf->softhsm_library);
		sh.dl_generation = lock_fork_generation();
	}
	*(void **)&get_list = dlsym(sh.dl, "C_GetFunctionList");
	if (get_list == NULL || get_list(&sh.f) != CKR_OK || sh.f == NULL) {
		log_msg(LL_WARNING, "%s is not a PKCS#11 module", sh.conf->softhsm_library);
		return CKR_GENERAL_ERROR;
	}
	rv = initialize_softhsm();
	if (rv == CKR_OK && !exit_hook) {
		/* Registered after SoftHSM's own exit-time destructors, so it runs before them. */
		exit_hook = atexit(note_process_exit) == 0;
	}
	return rv;
}

/* ---- the PIN policy in front of SoftHSM ---- */

/* Names the token's counters once SoftHSM has initialised it. */
static CK_RV policy_serial(void *ctx, CK_UTF8CHAR serial[16])
{
	struct token *t = ctx;
	CK_TOKEN_INFO info;
	CK_RV rv = sh.f->C_GetTokenInfo(t->real, &info);

	if (rv != CKR_OK)
		return rv;
	if (!(info.flags & CKF_TOKEN_INITIALIZED))
		return CKR_USER_PIN_NOT_INITIALIZED;
	memcpy(serial, info.serialNumber, sizeof(info.serialNumber));
	return CKR_OK;
}

/* SoftHSM keeps no counter of its own (.counter NULL): signet's store counts every try. */
static CK_RV new_policy(struct token *t)
{
	struct pin_token tok = { .kind = "softhsm", .ctx = t, .serial = policy_serial };
	char name[64];

	snprintf(name, sizeof(name), "SoftHSM slot %lu", (unsigned long)t->real);
	return pin_policy_new(sh.conf, name, &tok, &t->policy);
}

/* ---- tokens and slots ---- */

static void free_token(struct token *t)
{
	if (t == NULL)
		return;
	pin_policy_free(t->policy);
	free(t);
}

static struct token *find_token_locked(CK_SLOT_ID real)
{
	for (size_t i = 0; i < sh.ntokens; i++)
		if (sh.tokens[i]->real == real)
			return sh.tokens[i];
	return NULL;
}

static CK_RV add_token(CK_SLOT_ID real)
{
	struct token *t = calloc(1, sizeof(*t)), **grown;
	CK_RV rv;

	if (t == NULL)
		return CKR_HOST_MEMORY;
	t->real = real;
	rv = new_policy(t);
	if (rv != CKR_OK)
		goto fail;
	grown = realloc(sh.tokens, (sh.ntokens + 1) * sizeof(*grown));
	if (grown == NULL) {
		rv = CKR_HOST_MEMORY;
		goto fail;
	}
	sh.tokens = grown;
	rv = slot_add(t, &softhsm_ops, SLOT_RANGE_SOFTHSM, NULL);
	if (rv != CKR_OK)
		goto fail;
	sh.tokens[sh.ntokens++] = t;
	log_msg(LL_DEBUG, "SoftHSM slot %lu added", (unsigned long)real);
	return CKR_OK;
fail:
	free_token(t);
	return rv;
}

/* SoftHSM adds a fresh empty slot whenever one gets initialised: pick new ones up. */
static void refresh_slots(void)
{
	CK_SLOT_ID list[64];
	CK_ULONG n = sizeof(list) / sizeof(list[0]);

	if (!sh.running || slot_host_exiting())
		return;
	if (sh.f->C_GetSlotList(CK_FALSE, list, &n) != CKR_OK)
		return;
	if (lock_take(sh.lock) != CKR_OK)
		return;
	for (CK_ULONG i = 0; i < n; i++)
		if (find_token_locked(list[i]) == NULL)
			add_token(list[i]);
	lock_give(sh.lock);
}

/* SoftHSM rewrote token files: signet's copies follow them, one thread at a time. */
static void keep_token_copies(void)
{
	if (lock_take(sh.lock) != CKR_OK)
		return;
	shf_keep();
	lock_give(sh.lock);
}

static CK_RV softhsm_start(const struct config *conf)
{
	CK_RV rv;

	sh.conf = conf;
	if (!conf->softhsm_enable) {
		log_msg(LL_INFO, "fallback token disabled by configuration");
		return CKR_OK;
	}
	rv = lock_new(&sh.lock);
	if (rv != CKR_OK)
		return rv;
	rv = load_library();
	if (rv != CKR_OK) {
		lock_free(sh.lock);
		sh.lock = NULL;
		return rv;
	}
	sh.running = true;
	refresh_slots();
	return CKR_OK;
}

static void softhsm_stop(bool process_exiting)
{
	if (!sh.running)
		return;
	sh.running = false;
	/* Slots and sessions are gone already; SoftHSM itself only if it is still alive and ours. */
	if (!process_exiting && !slot_host_exiting() && !library_inherited())
		sh.f->C_Finalize(NULL);
	for (size_t i = 0; i < sh.ntokens; i++)
		free_token(sh.tokens[i]);
	free(sh.tokens);
	sh.tokens = NULL;
	sh.ntokens = 0;
	lock_free(sh.lock);
	sh.lock = NULL;
}

const struct token_driver softhsm_driver = {
	.name = "SoftHSM",
	.start = softhsm_start,
	.refresh = refresh_slots,
	.stop = softhsm_stop,
};

/* ---- description ---- */

/*
 * Once the host is in its exit handlers SoftHSM may be torn down: calls a
 * library makes on its way out (a last look at the token, freeing its
 * objects) get "device removed" instead of a crash.
 */
static CK_RV gone_check(void)
{
	return slot_host_exiting() ? CKR_DEVICE_REMOVED : CKR_OK;
}

static CK_RV sh_slot_info(struct token *t, CK_SLOT_INFO *info)
{
	CK_RV rv = gone_check();

	if (rv == CKR_OK)
		rv = sh.f->C_GetSlotInfo(t->real, info);

	if (rv == CKR_OK)
		info->flags &= ~(CK_FLAGS)CKF_REMOVABLE_DEVICE;
	return rv;
}

static CK_RV sh_token_info(struct token *t, CK_TOKEN_INFO *info)
{
	CK_RV rv = gone_check();

	if (rv == CKR_OK)
		rv = sh.f->C_GetTokenInfo(t->real, info);
	if (rv != CKR_OK || !(info->flags & CKF_TOKEN_INITIALIZED))
		return rv;
	return pin_policy_token_info(t->policy, info); /* the store logs its failures */
}

static CK_RV sh_mechanism_list(struct token *t, CK_MECHANISM_TYPE *list, CK_ULONG *count)
{
	return sh.f->C_GetMechanismList(t->real, list, count);
}

static CK_RV sh_mechanism_info(struct token *t, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
	return sh.f->C_GetMechanismInfo(t->real, type, info);
}

/* ---- administration ---- */

struct init_token_args {
	CK_SLOT_ID real;
	const CK_UTF8CHAR *pin;
	CK_ULONG len;
	const CK_UTF8CHAR *label;
};

static CK_RV send_init_token(void *ctx)
{
	struct init_token_args *a = ctx;

	return sh.f->C_InitToken(a->real, (CK_UTF8CHAR_PTR)a->pin, a->len, (CK_UTF8CHAR_PTR)a->label);
}

static CK_RV sh_init_token(struct token *t, const CK_UTF8CHAR *pin, CK_ULONG len, const CK_UTF8CHAR *label)
{
	struct init_token_args a = { t->real, pin, len, label };
	CK_RV rv;

	if (len > MAX_VALUE_LEN)
		return CKR_HOST_MEMORY;
	rv = pin_policy_init_token(t->policy, pin, len, send_init_token, &a);
	keep_token_copies();
	if (rv == CKR_OK)
		refresh_slots();
	return rv;
}

/* ---- sessions and login ---- */

static CK_RV sh_session_open(struct token *t, CK_FLAGS flags, void **state)
{
	struct sess *s = calloc(1, sizeof(*s));
	CK_RV rv;

	if (s == NULL)
		return CKR_HOST_MEMORY;
	rv = sh.f->C_OpenSession(t->real, flags, NULL, NULL, &s->real);
	if (rv != CKR_OK) {
		free(s);
		return rv;
	}
	*state = s;
	return CKR_OK;
}

static void sh_session_close(struct token *t, void *state, bool quietly)
{
	struct sess *s = state;

	(void)t;
	if (!quietly)
		sh.f->C_CloseSession(s->real);
	free(s);
}

struct login_args {
	CK_SESSION_HANDLE real;
	CK_USER_TYPE who;
	const CK_UTF8CHAR *pin;
	CK_ULONG len;
};

static CK_RV send_login(void *ctx)
{
	struct login_args *a = ctx;
	CK_RV rv;

	rv = sh.f->C_Login(a->real, a->who, (CK_UTF8CHAR_PTR)a->pin, a->len);
	/*
	 * The core asks only when it holds no login, so a login SoftHSM still
	 * has is stale; it must not stand in for judging this PIN.
	 */
	if (rv == CKR_USER_ALREADY_LOGGED_IN && a->who != CKU_CONTEXT_SPECIFIC) {
		sh.f->C_Logout(a->real);
		rv = sh.f->C_Login(a->real, a->who, (CK_UTF8CHAR_PTR)a->pin, a->len);
	}
	return rv;
}

static CK_RV sh_login(struct token *t, void *ss, CK_USER_TYPE who, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct login_args a = { ((struct sess *)ss)->real, who, pin, len };
	CK_RV rv;

	if (len > MAX_VALUE_LEN)
		return CKR_HOST_MEMORY;
	rv = pin_policy_login(t->policy, who, pin, len, send_login, &a);
	keep_token_copies(); /* SoftHSM rewrote the token file, whatever the answer */
	/*
	 * A login that fails here (SoftHSM accepted the PIN but the policy
	 * could not record it, say) must not leave SoftHSM logged in: the core
	 * holds no login, and SoftHSM would answer the next PIN, right or
	 * wrong, with "already logged in".
	 */
	if (rv != CKR_OK && who != CKU_CONTEXT_SPECIFIC)
		sh.f->C_Logout(a.real);
	return rv;
}

static CK_RV sh_logout(struct token *t, void *ss)
{
	pin_policy_logout(t->policy);
	/* From the host's exit handlers SoftHSM may be torn down already; the process takes the login with it. */
	if (slot_host_exiting())
		return CKR_OK;
	return sh.f->C_Logout(((struct sess *)ss)->real);
}

struct init_pin_args {
	CK_SESSION_HANDLE real;
	const CK_UTF8CHAR *pin;
	CK_ULONG len;
};

static CK_RV send_init_pin(void *ctx)
{
	struct init_pin_args *a = ctx;

	return sh.f->C_InitPIN(a->real, (CK_UTF8CHAR_PTR)a->pin, a->len);
}

static CK_RV sh_init_pin(struct token *t, void *ss, const CK_UTF8CHAR *pin, CK_ULONG len)
{
	struct init_pin_args a = { ((struct sess *)ss)->real, pin, len };

	CK_RV rv = pin_policy_init_pin(t->policy, len, send_init_pin, &a);

	keep_token_copies();
	return rv;
}

struct set_pin_args {
	CK_SESSION_HANDLE real;
	const CK_UTF8CHAR *old_pin, *new_pin;
	CK_ULONG old_len, new_len;
};

static CK_RV send_set_pin(void *ctx)
{
	struct set_pin_args *a = ctx;

	return sh.f->C_SetPIN(a->real, (CK_UTF8CHAR_PTR)a->old_pin, a->old_len, (CK_UTF8CHAR_PTR)a->new_pin,
			      a->new_len);
}

static CK_RV sh_set_pin(struct token *t, void *ss, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
			const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
	struct set_pin_args a = { ((struct sess *)ss)->real, old_pin, new_pin, old_len, new_len };
	CK_SESSION_INFO info;
	CK_RV rv;

	if (old_len > MAX_VALUE_LEN || new_len > MAX_VALUE_LEN)
		return CKR_HOST_MEMORY;
	rv = sh.f->C_GetSessionInfo(a.real, &info);
	if (rv != CKR_OK)
		return rv;
	/* C_SetPIN changes the SO PIN in an SO session, otherwise the user PIN. */
	rv = pin_policy_set_pin(t->policy, info.state == CKS_RW_SO_FUNCTIONS ? PIN_SO : PIN_USER, old_pin, old_len,
				new_pin, new_len, send_set_pin, &a);
	keep_token_copies();
	return rv;
}

/* ---- objects ---- */

#define SS(ss) (((struct sess *)(ss))->real)

static CK_RV sh_find(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref **refs,
		     CK_ULONG *found)
{
	CK_OBJECT_HANDLE batch[64];
	token_ref *list = NULL, *grown;
	CK_ULONG n = 0, got;
	CK_RV rv;

	(void)t;
	rv = check_template_size(tmpl, count);
	if (rv == CKR_OK)
		rv = sh.f->C_FindObjectsInit(SS(ss), (CK_ATTRIBUTE_PTR)tmpl, count);
	if (rv != CKR_OK)
		return rv;
	do {
		rv = sh.f->C_FindObjects(SS(ss), batch, sizeof(batch) / sizeof(batch[0]), &got);
		if (rv != CKR_OK || got == 0)
			break;
		grown = realloc(list, (n + got) * sizeof(*list));
		if (grown == NULL) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		list = grown;
		for (CK_ULONG i = 0; i < got; i++)
			list[n++] = batch[i];
	} while (got == sizeof(batch) / sizeof(batch[0]));
	sh.f->C_FindObjectsFinal(SS(ss));
	if (rv != CKR_OK) {
		free(list);
		return rv;
	}
	*refs = list;
	*found = n;
	return CKR_OK;
}

static CK_RV sh_get_attributes(struct token *t, void *ss, token_ref obj, CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
	(void)t;
	return sh.f->C_GetAttributeValue(SS(ss), obj, tmpl, count);
}

/* Attributes that may only ever move one way; setting one to the value it has changes nothing. */
static bool is_latching(const CK_ATTRIBUTE *a)
{
	static const struct { CK_ATTRIBUTE_TYPE type; CK_BBOOL towards; } latching[] = {
		{ CKA_SENSITIVE, CK_TRUE },
		{ CKA_EXTRACTABLE, CK_FALSE },
		{ CKA_WRAP_WITH_TRUSTED, CK_TRUE },
	};

	for (size_t i = 0; i < sizeof(latching) / sizeof(latching[0]); i++)
		if (a->type == latching[i].type)
			return a->ulValueLen == sizeof(CK_BBOOL) &&
			       *(const CK_BBOOL *)a->pValue == latching[i].towards;
	return false;
}

static bool already_has(CK_SESSION_HANDLE real, token_ref obj, const CK_ATTRIBUTE *a)
{
	CK_BBOOL value;
	CK_ATTRIBUTE now = { a->type, &value, sizeof(value) };

	return sh.f->C_GetAttributeValue(real, obj, &now, 1) == CKR_OK && now.ulValueLen == sizeof(value) &&
	       value == *(const CK_BBOOL *)a->pValue;
}

/*
 * SoftHSM refuses to set a latching attribute even to the value it already
 * has; PKCS#11 only forbids moving it back. Such entries are left out of
 * what SoftHSM sees. *kept is a copy of what remains, for the caller to free.
 */
static CK_RV drop_unchanged_latches(CK_SESSION_HANDLE real, token_ref obj, const CK_ATTRIBUTE *tmpl,
				    CK_ULONG count, CK_ATTRIBUTE **kept, CK_ULONG *nkept)
{
	*nkept = 0;
	*kept = malloc((count + 1) * sizeof(**kept));
	if (*kept == NULL)
		return CKR_HOST_MEMORY;
	for (CK_ULONG i = 0; i < count; i++)
		if (!is_latching(&tmpl[i]) || !already_has(real, obj, &tmpl[i]))
			(*kept)[(*nkept)++] = tmpl[i];
	return CKR_OK;
}

static CK_RV sh_set_attributes(struct token *t, void *ss, token_ref obj, const CK_ATTRIBUTE *tmpl,
			       CK_ULONG count)
{
	CK_ATTRIBUTE *kept = NULL;
	CK_ULONG nkept = 0;
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE class_attr = { CKA_CLASS, &cls, sizeof(cls) };
	CK_RV rv = keys_check_no_weakening(tmpl, count, CKR_ATTRIBUTE_READ_ONLY);

	(void)t;
	if (rv == CKR_OK)
		rv = check_template_size(tmpl, count);
	if (rv == CKR_OK)
		rv = drop_unchanged_latches(SS(ss), obj, tmpl, count, &kept, &nkept);
	if (rv != CKR_OK)
		goto out;
	if (nkept == 0) /* nothing to change: the object must still exist */
		rv = sh.f->C_GetAttributeValue(SS(ss), obj, &class_attr, 1);
	else
		rv = sh.f->C_SetAttributeValue(SS(ss), obj, kept, nkept);
out:
	free(kept);
	return rv;
}

static CK_RV sh_object_size(struct token *t, void *ss, token_ref obj, CK_ULONG *size)
{
	(void)t;
	return sh.f->C_GetObjectSize(SS(ss), obj, size);
}

static CK_RV sh_create_object(struct token *t, void *ss, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
			      token_ref *obj)
{
	struct key_template kt;
	CK_RV rv = check_template_size(tmpl, count);

	(void)t;
	if (rv == CKR_OK)
		rv = keys_harden(&kt, tmpl, count, (CK_OBJECT_CLASS)-1);
	if (rv != CKR_OK)
		return rv;
	rv = sh.f->C_CreateObject(SS(ss), kt.attrs, kt.count, obj);
	keys_template_free(&kt);
	return rv;
}

/* A data object's attributes, as far as SoftHSM stores them. */
static const CK_ATTRIBUTE_TYPE data_attributes[] = {
	CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE, CKA_LABEL, CKA_COPYABLE, CKA_DESTROYABLE,
	CKA_APPLICATION, CKA_OBJECT_ID, CKA_VALUE,
};
#define N_DATA_ATTRIBUTES (sizeof(data_attributes) / sizeof(data_attributes[0]))

static bool is_data_object(CK_SESSION_HANDLE real, token_ref obj)
{
	CK_OBJECT_CLASS cls;
	CK_ATTRIBUTE a = { CKA_CLASS, &cls, sizeof(cls) };

	return sh.f->C_GetAttributeValue(real, obj, &a, 1) == CKR_OK && cls == CKO_DATA;
}

static bool same_value(const CK_ATTRIBUTE *a, const CK_ATTRIBUTE *b)
{
	return a->ulValueLen == b->ulValueLen && (a->ulValueLen == 0 || memcmp(a->pValue, b->pValue, a->ulValueLen) == 0);
}

/* A copy may set TOKEN, PRIVATE, MODIFIABLE...; the rest only where the original may be modified; never the class. */
static bool may_change(const CK_ATTRIBUTE *attrs, CK_ULONG n, const CK_ATTRIBUTE *now, const CK_ATTRIBUTE *to)
{
	if (same_value(now, to))
		return true;
	if (to->type == CKA_CLASS)
		return false;
	if (to->type == CKA_TOKEN || to->type == CKA_PRIVATE || to->type == CKA_MODIFIABLE ||
	    to->type == CKA_COPYABLE || to->type == CKA_DESTROYABLE)
		return true;
	for (CK_ULONG i = 0; i < n; i++)
		if (attrs[i].type == CKA_MODIFIABLE && attrs[i].ulValueLen == sizeof(CK_BBOOL))
			return *(const CK_BBOOL *)attrs[i].pValue == CK_TRUE;
	return true;
}

/* The object's data attributes (values malloc'd) with the caller's changes in place of the originals. */
static CK_RV merged_data_template(CK_SESSION_HANDLE real, token_ref obj, const CK_ATTRIBUTE *changes,
				  CK_ULONG nchanges, CK_ATTRIBUTE *out, CK_ULONG *nout)
{
	CK_RV rv = CKR_OK;

	*nout = 0;
	for (size_t i = 0; i < N_DATA_ATTRIBUTES && rv == CKR_OK; i++) {
		CK_ATTRIBUTE a = { data_attributes[i], NULL, 0 };

		if (sh.f->C_GetAttributeValue(real, obj, &a, 1) != CKR_OK)
			continue; /* not stored for this object */
		a.pValue = malloc(a.ulValueLen + 1);
		if (a.pValue == NULL) {
			rv = CKR_HOST_MEMORY;
			break;
		}
		out[(*nout)++] = a;
		rv = sh.f->C_GetAttributeValue(real, obj, &out[*nout - 1], 1);
	}
	for (CK_ULONG c = 0; c < nchanges && rv == CKR_OK; c++) {
		CK_ULONG i = 0;

		while (i < *nout && out[i].type != changes[c].type)
			i++;
		if (i == *nout)
			return CKR_ATTRIBUTE_TYPE_INVALID; /* not an attribute of a data object */
		if (!may_change(out, *nout, &out[i], &changes[c]))
			return CKR_ATTRIBUTE_READ_ONLY;
		free(out[i].pValue);
		out[i].pValue = malloc(changes[c].ulValueLen + 1);
		if (out[i].pValue == NULL)
			return CKR_HOST_MEMORY;
		if (changes[c].ulValueLen > 0)
			memcpy(out[i].pValue, changes[c].pValue, changes[c].ulValueLen);
		out[i].ulValueLen = changes[c].ulValueLen;
	}
	return rv;
}

/*
 * PKCS#11 lets a copy change any attribute the class allows to change, a
 * data object's CKA_VALUE among them; SoftHSM refuses all but a few. For a
 * data object, which holds nothing secret, the copy is made as a new object
 * from the original's attributes with the caller's changes.
 */
static CK_RV copy_data_object(CK_SESSION_HANDLE real, token_ref obj, const CK_ATTRIBUTE *tmpl, CK_ULONG count,
			      token_ref *copy)
{
	CK_ATTRIBUTE merged[N_DATA_ATTRIBUTES];
	CK_BBOOL copyable = CK_TRUE;
	CK_ATTRIBUTE may_copy = { CKA_COPYABLE, &copyable, sizeof(copyable) };
	CK_ULONG n = 0;
	CK_RV rv = CKR_ACTION_PROHIBITED;

	if (sh.f->C_GetAttributeValue(real, obj, &may_copy, 1) == CKR_OK && copyable != CK_TRUE)
		return rv;
	rv = merged_data_template(real, obj, tmpl, count, merged, &n);
	if (rv == CKR_OK)
		rv = sh.f->C_CreateObject(real, merged, n, copy);
	for (CK_ULONG i = 0; i < n; i++)
		free(merged[i].pValue);
	return rv;
}

static CK_RV sh_copy_object(struct token *t, void *ss, token_ref obj, const CK_ATTRIBUTE *tmpl,
			    CK_ULONG count, token_ref *copy)
{
	CK_RV rv = keys_check_no_weakening(tmpl, count, CKR_TEMPLATE_INCONSISTENT);

	(void)t;
	if (rv == CKR_OK)
		rv = check_template_size(tmpl, count);
	if (rv != CKR_OK)
		return rv;
	rv = sh.f->C_CopyObject(SS(ss), obj, (CK_ATTRIBUTE_PTR)tmpl, count, copy);
	if (rv == CKR_ATTRIBUTE_READ_ONLY && is_data_object(SS(ss), obj))
		rv = copy_data_object(SS(ss), obj, tmpl, count, copy);
	return rv;
}

static CK_RV sh_destroy_object(struct token *t, void *ss, token_ref obj)
{
	CK_RV rv = gone_check();

	(void)t;
	return rv == CKR_OK ? sh.f->C_DestroyObject(SS(ss), obj) : rv;
}

/* ---- keys ---- */

/* Private-key use (sign, decrypt, unwrap, derive) waits while the user's PIN must be changed. */
static CK_RV expired_check(struct token *t)
{
	return pin_policy_key_use(t->policy);
}

static CK_RV sh_generate_key(struct token *t, void *ss, const CK_MECHANISM *mech, const CK_ATTRIBUTE *tmpl,
			     CK_ULONG count, token_ref *key)
{
	struct key_template kt;
	CK_RV rv = check_template_size(tmpl, count);

	(void)t;
	if (rv == CKR_OK)
		rv = keys_harden(&kt, tmpl, count, CKO_SECRET_KEY);
	if (rv != CKR_OK)
		return rv;
	rv = sh.f->C_GenerateKey(SS(ss), (CK_MECHANISM_PTR)mech, kt.attrs, kt.count, key);
	keys_template_free(&kt);
	return rv;
}

static CK_RV sh_generate_key_pair(struct token *t, void *ss, const CK_MECHANISM *mech,
				  const CK_ATTRIBUTE *pub_tmpl, CK_ULONG pub_count,
				  const CK_ATTRIBUTE *priv_tmpl, CK_ULONG priv_count, token_ref *pub,
				  token_ref *priv)
{
	struct key_template kt;
	CK_RV rv = check_template_size(pub_tmpl, pub_count);

	(void)t;
	if (rv == CKR_OK)
		rv = check_template_size(priv_tmpl, priv_count);
	if (rv == CKR_OK)
		rv = keys_harden(&kt, priv_tmpl, priv_count, CKO_PRIVATE_KEY);
	if (rv != CKR_OK)
		return rv;
	rv = sh.f->C_GenerateKeyPair(SS(ss), (CK_MECHANISM_PTR)mech, (CK_ATTRIBUTE_PTR)pub_tmpl, pub_count,
				     kt.attrs, kt.count, pub, priv);
	keys_template_free(&kt);
	return rv;
}

static CK_RV sh_wrap_key(struct token *t, void *ss, const CK_MECHANISM *mech, token_ref wrapping,
			 token_ref key, CK_BYTE *out, CK_ULONG *out_len)
{
	(void)t;
	return sh.f->C_WrapKey(SS(ss), (CK_MECHANISM_PTR)mech, wrapping, key, out, out_len);
}

static CK_RV sh_unwrap_key(struct token *t, void *ss, const CK_MECHANISM *mech, token_ref unwrapping,
			   const CK_BYTE *wrapped, CK_ULONG wrapped_len, const CK_ATTRIBUTE *tmpl,
			   CK_ULONG count, token_ref *key)
{
	struct key_template kt;
	CK_RV rv = expired_check(t);

	if (rv == CKR_OK && wrapped_len > MAX_DATA_LEN)
		rv = CKR_HOST_MEMORY;
	if (rv == CKR_OK)
		rv = check_template_size(tmpl, count);
	if (rv == CKR_OK)
		rv = keys_harden(&kt, tmpl, count, CKO_SECRET_KEY);
	if (rv != CKR_OK)
		return rv;
	rv = sh.f->C_UnwrapKey(SS(ss), (CK_MECHANISM_PTR)mech, unwrapping, (CK_BYTE_PTR)wrapped, wrapped_len,
			       kt.attrs, kt.count, key);
	keys_template_free(&kt);
	return rv;
}

/*
 * A derived key (an ECDH shared secret, say) is the caller's to choose: it
 * is the result of an operation, not a key the token was trusted with, and
 * clients such as pkcs11-tool --derive ask for it extractable. The base key
 * itself stays inside whatever the template says.
 */
static CK_RV sh_derive_key(struct token *t, void *ss, const CK_MECHANISM *mech, token_ref base,
			   const CK_ATTRIBUTE *tmpl, CK_ULONG count, token_ref *key)
{
	CK_RV rv = expired_check(t);

	if (rv == CKR_OK)
		rv = check_template_size(tmpl, count);
	if (rv != CKR_OK)
		return rv;
	return sh.f->C_DeriveKey(SS(ss), (CK_MECHANISM_PTR)mech, base, (CK_ATTRIBUTE_PTR)tmpl, count, key);
}

/* ---- operations ---- */

static CK_RV sh_op_init(struct token *t, void *ss, enum token_op op, const CK_MECHANISM *mech, token_ref key)
{
	CK_MECHANISM_PTR m = (CK_MECHANISM_PTR)mech;
	CK_RV rv;

	if (op == TOKEN_OP_SIGN || op == TOKEN_OP_SIGN_RECOVER || op == TOKEN_OP_DECRYPT) {
		rv = expired_check(t);
		if (rv != CKR_OK)
			return rv;
	}
	switch (op) {
	case TOKEN_OP_ENCRYPT: return sh.f->C_EncryptInit(SS(ss), m, key);
	case TOKEN_OP_DECRYPT: return sh.f->C_DecryptInit(SS(ss), m, key);
	case TOKEN_OP_DIGEST: return sh.f->C_DigestInit(SS(ss), m);
	case TOKEN_OP_SIGN: return sh.f->C_SignInit(SS(ss), m, key);
	case TOKEN_OP_VERIFY: return sh.f->C_VerifyInit(SS(ss), m, key);
	case TOKEN_OP_SIGN_RECOVER: return sh.f->C_SignRecoverInit(SS(ss), m, key);
	case TOKEN_OP_VERIFY_RECOVER: return sh.f->C_VerifyRecoverInit(SS(ss), m, key);
	default: return CKR_FUNCTION_NOT_SUPPORTED;
	}
}

static CK_RV sh_op_oneshot(struct token *t, void *ss, enum token_op op, const CK_BYTE *in, CK_ULONG in_len,
			   CK_BYTE *out, CK_ULONG *out_len)
{
	CK_BYTE_PTR i = (CK_BYTE_PTR)in;

	(void)t;
	if (in_len > MAX_DATA_LEN || (op == TOKEN_OP_VERIFY && *out_len > MAX_DATA_LEN))
		return CKR_HOST_MEMORY;
	switch (op) {
	case TOKEN_OP_ENCRYPT: return sh.f->C_Encrypt(SS(ss), i, in_len, out, out_len);
	case TOKEN_OP_DECRYPT: return sh.f->C_Decrypt(SS(ss), i, in_len, out, out_len);
	case TOKEN_OP_DIGEST: return sh.f->C_Digest(SS(ss), i, in_len, out, out_len);
	case TOKEN_OP_SIGN: return sh.f->C_Sign(SS(ss), i, in_len, out, out_len);
	case TOKEN_OP_VERIFY: return sh.f->C_Verify(SS(ss), i, in_len, out, *out_len);
	case TOKEN_OP_SIGN_RECOVER: return sh.f->C_SignRecover(SS(ss), i, in_len, out, out_len);
	case TOKEN_OP_VERIFY_RECOVER: return sh.f->C_VerifyRecover(SS(ss), i, in_len, out, out_len);
	default: return CKR_FUNCTION_NOT_SUPPORTED;
	}
}

static CK_RV sh_op_update(struct token *t, void *ss, enum token_op op, const CK_BYTE *in, CK_ULONG in_len,
			  CK_BYTE *out, CK_ULONG *out_len)
{
	CK_BYTE_PTR i = (CK_BYTE_PTR)in;

	(void)t;
	if (in_len > MAX_DATA_LEN)
		return CKR_HOST_MEMORY;
	switch (op) {
	case TOKEN_OP_ENCRYPT: return sh.f->C_EncryptUpdate(SS(ss), i, in_len, out, out_len);
	case TOKEN_OP_DECRYPT: return sh.f->C_DecryptUpdate(SS(ss), i, in_len, out, out_len);
	case TOKEN_OP_DIGEST: return sh.f->C_DigestUpdate(SS(ss), i, in_len);
	case TOKEN_OP_SIGN: return sh.f->C_SignUpdate(SS(ss), i, in_len);
	case TOKEN_OP_VERIFY: return sh.f->C_VerifyUpdate(SS(ss), i, in_len);
	default: return CKR_FUNCTION_NOT_SUPPORTED;
	}
}

static CK_RV sh_op_final(struct token *t, void *ss, enum token_op op, CK_BYTE *out, CK_ULONG *out_len)
{
	(void)t;
	if (op == TOKEN_OP_VERIFY && *out_len > MAX_DATA_LEN)
		return CKR_HOST_MEMORY;
	switch (op) {
	case TOKEN_OP_ENCRYPT: return sh.f->C_EncryptFinal(SS(ss), out, out_len);
	case TOKEN_OP_DECRYPT: return sh.f->C_DecryptFinal(SS(ss), out, out_len);
	case TOKEN_OP_DIGEST: return sh.f->C_DigestFinal(SS(ss), out, out_len);
	case TOKEN_OP_SIGN: return sh.f->C_SignFinal(SS(ss), out, out_len);
	case TOKEN_OP_VERIFY: return sh.f->C_VerifyFinal(SS(ss), out, *out_len);
	default: return CKR_FUNCTION_NOT_SUPPORTED;
	}
}

/*
 * SoftHSM 2.6 cannot cancel an operation and keeps it after argument
 * errors, so a step that ends it is made instead: an empty update ends a
 * single-part signature or digest (a multi-part one continues, and its final
 * step ends it); for the others a single-part call over no data ends it,
 * with or without a result. Whatever comes out is wiped.
 */
static void sh_op_abort(struct token *t, void *ss, enum token_op op)
{
	CK_BYTE scratch[8192], none[1] = { 0 };
	CK_ULONG len = sizeof(scratch);

	if (slot_host_exiting())
		return;
	switch (op) {
	case TOKEN_OP_SIGN:
		if (sh.f->C_SignUpdate(SS(ss), none, 0) == CKR_OK)
			sh.f->C_SignFinal(SS(ss), scratch, &len);
		break;
	case TOKEN_OP_VERIFY:
		if (sh.f->C_VerifyUpdate(SS(ss), none, 0) == CKR_OK)
			sh.f->C_VerifyFinal(SS(ss), none, 0);
		break;
	case TOKEN_OP_DIGEST:
		if (sh.f->C_DigestUpdate(SS(ss), none, 0) == CKR_OK)
			sh.f->C_DigestFinal(SS(ss), scratch, &len);
		break;
	default:
		sh_op_oneshot(t, ss, op, none, 0, scratch, &len);
		break;
	}
	cr_wipe(scratch, sizeof(scratch));
}

static CK_RV sh_digest_key(struct token *t, void *ss, token_ref key)
{
	(void)t;
	return sh.f->C_DigestKey(SS(ss), key);
}

static CK_RV sh_seed_random(struct token *t, void *ss, const CK_BYTE *seed, CK_ULONG len)
{
	(void)t;
	if (len > MAX_DATA_LEN)
		return CKR_HOST_MEMORY;
	return sh.f->C_SeedRandom(SS(ss), (CK_BYTE_PTR)seed, len);
}

/* The store counts for SoftHSM: its counters and [policy]'s limits. C_InitToken only initialises. */
static CK_RV sh_pin_tries(struct token *t, struct token_pin_tries *out)
{
	CK_RV rv = gone_check();

	*out = (struct token_pin_tries){ -1, -1, -1, -1, false, false };
	if (rv == CKR_OK)
		rv = pin_policy_tries(t->policy, PIN_USER, &out->user_left, &out->user_max);
	if (rv == CKR_OK)
		rv = pin_policy_tries(t->policy, PIN_SO, &out->so_left, &out->so_max);
	return rv;
}

static CK_RV sh_generate_random(struct token *t, void *ss, CK_BYTE *out, CK_ULONG len)
{
	(void)t;
	if (len > MAX_DATA_LEN)
		return CKR_HOST_MEMORY;
	return sh.f->C_GenerateRandom(SS(ss), out, len);
}

static const struct token_ops softhsm_ops = {
	.kind = "softhsm",
	.slot_info = sh_slot_info,
	.token_info = sh_token_info,
	.mechanism_list = sh_mechanism_list,
	.mechanism_info = sh_mechanism_info,
	.init_token = sh_init_token,
	.pin_tries = sh_pin_tries,
	.session_open = sh_session_open,
	.session_close = sh_session_close,
	.login = sh_login,
	.logout = sh_logout,
	.init_pin = sh_init_pin,
	.set_pin = sh_set_pin,
	.find = sh_find,
	.get_attributes = sh_get_attributes,
	.set_attributes = sh_set_attributes,
	.object_size = sh_object_size,
	.create_object = sh_create_object,
	.copy_object = sh_copy_object,
	.destroy_object = sh_destroy_object,
	.generate_key = sh_generate_key,
	.generate_key_pair = sh_generate_key_pair,
	.wrap_key = sh_wrap_key,
	.unwrap_key = sh_unwrap_key,
	.derive_key = sh_derive_key,
	.op_init = sh_op_init,
	.op_oneshot = sh_op_oneshot,
	.op_update = sh_op_update,
	.op_final = sh_op_final,
	.digest_key = sh_digest_key,
	.op_abort = sh_op_abort,
	.seed_random = sh_seed_random,
	.generate_random = sh_generate_random,
};
