#include "pkcs11/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/*
 * Written by C_Initialize/C_Finalize while other threads may still log
 * (calls refused during C_Finalize, a host thread racing it). A log file's
 * descriptor number is therefore never given back: once signet has one, a
 * new file or /dev/null is put in its place with dup3(), so a line written
 * with a stale number lands in signet's own log or nowhere, never in a file
 * the host (or SoftHSM) opened meanwhile under a reused number.
 */
static _Atomic enum log_level current_level = LL_WARNING;
static atomic_int log_fd = STDERR_FILENO;
static int own_fd = -1; /* the number kept for log files; touched only under C_Initialize/C_Finalize */

static const char *const level_names[] = { "error", "warning", "info", "debug", "apdu" };

bool log_level_parse(const char *s, enum log_level *out)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0 ||
		    (s[0] == (char)('0' + i) && s[1] == '\0')) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level < sizeof(level_names) / sizeof(level_names[0]))
		return level_names[level];
	return "?";
}

/* Puts fd in the place of signet's own log descriptor (taking fd), or makes fd that descriptor. */
static int adopt_fd(int fd)
{
	if (own_fd < 0) {
		own_fd = fd;
		return own_fd;
	}
	if (dup3(fd, own_fd, O_CLOEXEC) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return own_fd;
}

CK_RV log_configure(enum log_level level, const char *dest)
{
	int fd;

	if (dest == NULL || dest[0] == '\0' || strcmp(dest, "stderr") == 0) {
		log_close();
		atomic_store(&current_level, level);
		return CKR_OK;
	}
	fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		fd = adopt_fd(fd);
	if (fd < 0) {
		atomic_store(&current_level, level);
		log_msg(LL_ERROR, "cannot open log file %s: %s", dest, strerror(errno));
		return CKR_GENERAL_ERROR;
	}
	atomic_store(&log_fd, fd);
	atomic_store(&current_level, level);
	return CKR_OK;
}

void log_close(void)
{
	int null_fd;

	atomic_store(&log_fd, STDERR_FILENO);
	atomic_store(&current_level, LL_WARNING);
	if (own_fd < 0)
		return;
	/* Lines already on their way to the old file go nowhere. */
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd >= 0)
		adopt_fd(null_fd);
}

enum log_level log_get_level(void)
{
	return atomic_load(&current_level);
}

bool log_enabled(enum log_level level)
{
	return level <= atomic_load(&current_level);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	int n, m;

	if (!log_enabled(level))
		return;
	n = snprintf(line, sizeof(line), "signet[%ld]: %s: ", (long)getpid(),
		     log_level_name(level));
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n >= sizeof(line) - 1) {
		n = (int)sizeof(line) - 2; /* truncated: keep the newline */
		memcpy(line + n - 3, "...", 3);
	}
	line[n++] = '\n';
	/* Best effort: a failing log write must not disturb the caller. */
	if (write(atomic_load(&log_fd), line, (size_t)n) < 0)
		return;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

struct name { CK_ULONG value; const char *name; };

#define N(x) { x, #x }
static const struct name rv_names[] = {
	N(CKR_OK), N(CKR_CANCEL), N(CKR_HOST_MEMORY), N(CKR_SLOT_ID_INVALID),
	N(CKR_GENERAL_ERROR), N(CKR_FUNCTION_FAILED), N(CKR_ARGUMENTS_BAD), N(CKR_NO_EVENT),
	N(CKR_NEED_TO_CREATE_THREADS), N(CKR_CANT_LOCK), N(CKR_ATTRIBUTE_READ_ONLY),
	N(CKR_ATTRIBUTE_SENSITIVE), N(CKR_ATTRIBUTE_TYPE_INVALID), N(CKR_ATTRIBUTE_VALUE_INVALID),
	N(CKR_ACTION_PROHIBITED), N(CKR_DATA_INVALID), N(CKR_DATA_LEN_RANGE),
	N(CKR_DEVICE_ERROR), N(CKR_DEVICE_MEMORY), N(CKR_DEVICE_REMOVED),
	N(CKR_ENCRYPTED_DATA_INVALID), N(CKR_ENCRYPTED_DATA_LEN_RANGE), N(CKR_FUNCTION_CANCELED),
	N(CKR_FUNCTION_NOT_PARALLEL), N(CKR_FUNCTION_NOT_SUPPORTED), N(CKR_KEY_HANDLE_INVALID),
	N(CKR_KEY_SIZE_RANGE), N(CKR_KEY_TYPE_INCONSISTENT), N(CKR_KEY_NOT_NEEDED),
	N(CKR_KEY_CHANGED), N(CKR_KEY_NEEDED), N(CKR_KEY_INDIGESTIBLE),
	N(CKR_KEY_FUNCTION_NOT_PERMITTED), N(CKR_KEY_NOT_WRAPPABLE), N(CKR_KEY_UNEXTRACTABLE),
	N(CKR_MECHANISM_INVALID), N(CKR_MECHANISM_PARAM_INVALID), N(CKR_OBJECT_HANDLE_INVALID),
	N(CKR_OPERATION_ACTIVE), N(CKR_OPERATION_NOT_INITIALIZED), N(CKR_PIN_INCORRECT),
	N(CKR_PIN_INVALID), N(CKR_PIN_LEN_RANGE), N(CKR_PIN_EXPIRED), N(CKR_PIN_LOCKED),
	N(CKR_SESSION_CLOSED), N(CKR_SESSION_COUNT), N(CKR_SESSION_HANDLE_INVALID),
	N(CKR_SESSION_PARALLEL_NOT_SUPPORTED), N(CKR_SESSION_READ_ONLY), N(CKR_SESSION_EXISTS),
	N(CKR_SESSION_READ_ONLY_EXISTS), N(CKR_SESSION_READ_WRITE_SO_EXISTS),
	N(CKR_SIGNATURE_INVALID), N(CKR_SIGNATURE_LEN_RANGE), N(CKR_TEMPLATE_INCOMPLETE),
	N(CKR_TEMPLATE_INCONSISTENT), N(CKR_TOKEN_NOT_PRESENT), N(CKR_TOKEN_NOT_RECOGNIZED),
	N(CKR_TOKEN_WRITE_PROTECTED), N(CKR_UNWRAPPING_KEY_HANDLE_INVALID),
	N(CKR_UNWRAPPING_KEY_SIZE_RANGE), N(CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT),
	N(CKR_USER_ALREADY_LOGGED_IN), N(CKR_USER_NOT_LOGGED_IN), N(CKR_USER_PIN_NOT_INITIALIZED),
	N(CKR_USER_TYPE_INVALID), N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
	N(CKR_USER_TOO_MANY_TYPES), N(CKR_WRAPPED_KEY_INVALID), N(CKR_WRAPPED_KEY_LEN_RANGE),
	N(CKR_WRAPPING_KEY_HANDLE_INVALID), N(CKR_WRAPPING_KEY_SIZE_RANGE),
	N(CKR_WRAPPING_KEY_TYPE_INCONSISTENT), N(CKR_RANDOM_SEED_NOT_SUPPORTED),
	N(CKR_RANDOM_NO_RNG), N(CKR_DOMAIN_PARAMS_INVALID), N(CKR_CURVE_NOT_SUPPORTED),
	N(CKR_BUFFER_TOO_SMALL), N(CKR_SAVED_STATE_INVALID), N(CKR_INFORMATION_SENSITIVE),
	N(CKR_STATE_UNSAVEABLE), N(CKR_CRYPTOKI_NOT_INITIALIZED),
	N(CKR_CRYPTOKI_ALREADY_INITIALIZED), N(CKR_MUTEX_BAD), N(CKR_MUTEX_NOT_LOCKED),
	N(CKR_FUNCTION_REJECTED),
};

static const struct name mech_names[] = {
	N(CKM_RSA_PKCS_KEY_PAIR_GEN), N(CKM_RSA_PKCS), N(CKM_RSA_X_509), N(CKM_RSA_PKCS_OAEP),
	N(CKM_RSA_PKCS_PSS), N(CKM_SHA1_RSA_PKCS), N(CKM_SHA224_RSA_PKCS), N(CKM_SHA256_RSA_PKCS),
	N(CKM_SHA384_RSA_PKCS), N(CKM_SHA512_RSA_PKCS), N(CKM_SHA1_RSA_PKCS_PSS),
	N(CKM_SHA224_RSA_PKCS_PSS), N(CKM_SHA256_RSA_PKCS_PSS), N(CKM_SHA384_RSA_PKCS_PSS),
	N(CKM_SHA512_RSA_PKCS_PSS), N(CKM_EC_KEY_PAIR_GEN), N(CKM_ECDSA), N(CKM_ECDSA_SHA1),
	N(CKM_ECDSA_SHA224), N(CKM_ECDSA_SHA256), N(CKM_ECDSA_SHA384), N(CKM_ECDSA_SHA512),
	N(CKM_ECDH1_DERIVE), N(CKM_EC_EDWARDS_KEY_PAIR_GEN), N(CKM_EDDSA), N(CKM_SHA_1),
	N(CKM_SHA224), N(CKM_SHA256), N(CKM_SHA384), N(CKM_SHA512), N(CKM_MD5),
	N(CKM_AES_KEY_GEN), N(CKM_AES_ECB), N(CKM_AES_CBC), N(CKM_AES_CBC_PAD), N(CKM_AES_GCM),
	N(CKM_AES_KEY_WRAP), N(CKM_AES_KEY_WRAP_PAD), N(CKM_GENERIC_SECRET_KEY_GEN),
	N(CKM_SHA256_HMAC), N(CKM_DES3_KEY_GEN), N(CKM_DES3_ECB), N(CKM_DES3_CBC),
};

static const struct name attr_names[] = {
	N(CKA_CLASS), N(CKA_TOKEN), N(CKA_PRIVATE), N(CKA_LABEL), N(CKA_APPLICATION),
	N(CKA_VALUE), N(CKA_OBJECT_ID), N(CKA_CERTIFICATE_TYPE), N(CKA_ISSUER),
	N(CKA_SERIAL_NUMBER), N(CKA_TRUSTED), N(CKA_CERTIFICATE_CATEGORY), N(CKA_KEY_TYPE),
	N(CKA_SUBJECT), N(CKA_ID), N(CKA_SENSITIVE), N(CKA_ENCRYPT), N(CKA_DECRYPT),
	N(CKA_WRAP), N(CKA_UNWRAP), N(CKA_SIGN), N(CKA_SIGN_RECOVER), N(CKA_VERIFY),
	N(CKA_VERIFY_RECOVER), N(CKA_DERIVE), N(CKA_START_DATE), N(CKA_END_DATE),
	N(CKA_MODULUS), N(CKA_MODULUS_BITS), N(CKA_PUBLIC_EXPONENT), N(CKA_PRIVATE_EXPONENT),
	N(CKA_VALUE_LEN), N(CKA_EXTRACTABLE), N(CKA_LOCAL), N(CKA_NEVER_EXTRACTABLE),
	N(CKA_ALWAYS_SENSITIVE), N(CKA_KEY_GEN_MECHANISM), N(CKA_MODIFIABLE), N(CKA_EC_PARAMS),
	N(CKA_EC_POINT), N(CKA_ALWAYS_AUTHENTICATE), N(CKA_WRAP_WITH_TRUSTED),
	N(CKA_ALLOWED_MECHANISMS),
};

static const struct name user_names[] = {
	N(CKU_SO), N(CKU_USER), N(CKU_CONTEXT_SPECIFIC),
};
#undef N

static const char *lookup(const struct name *t, size_t n, CK_ULONG v, char *scratch, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].value == v)
			return t[i].name;
	snprintf(scratch, len, "0x%lx", (unsigned long)v);
	return scratch;
}

/* Unknown values are formatted into a thread-local buffer: one per call site is enough for logs. */
static _Thread_local char unknown[4][24];

const char *log_rv_name(CK_RV rv)
{
	return lookup(rv_names, sizeof(rv_names) / sizeof(rv_names[0]), rv, unknown[0], sizeof(unknown[0]));
}

const char *log_mech_name(CK_MECHANISM_TYPE m)
{
	return lookup(mech_names, sizeof(mech_names) / sizeof(mech_names[0]), m, unknown[1], sizeof(unknown[1]));
}

const char *log_attr_name(CK_ATTRIBUTE_TYPE a)
{
	return lookup(attr_names, sizeof(attr_names) / sizeof(attr_names[0]), a, unknown[2], sizeof(unknown[2]));
}

const char *log_user_name(CK_USER_TYPE u)
{
	return lookup(user_names, sizeof(user_names) / sizeof(user_names[0]), u, unknown[3], sizeof(unknown[3]));
}
