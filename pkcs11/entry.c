/* What every entry point shares: call tracing and the checks they start with. */
#include "pkcs11/entry.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pkcs11/log.h"

void entry_trace_call(const char *fn, const char *fmt, ...)
{
	char args[512];
	va_list ap;

	if (!log_enabled(LL_DEBUG))
		return;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	log_msg(LL_DEBUG, "%s(%s)", fn, args);
}

CK_RV entry_trace_ret(const char *fn, CK_RV rv)
{
	if (log_enabled(LL_DEBUG))
		log_msg(LL_DEBUG, "%s = %s", fn, log_rv_name(rv));
	return rv;
}

CK_RV entry_trace_ret_len(const char *fn, CK_RV rv, const char *name, const CK_ULONG *len)
{
	if (log_enabled(LL_DEBUG) && len != NULL && (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL))
		log_msg(LL_DEBUG, "%s: %s=%lu", fn, name, (unsigned long)*len);
	return entry_trace_ret(fn, rv);
}

CK_RV entry_check_ready(void)
{
	return core_ready() ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}

CK_RV entry_enter_session(CK_SESSION_HANDLE h, struct session **s)
{
	return session_acquire(h, s);
}

CK_RV entry_enter_slot(CK_SLOT_ID id, struct slot **out)
{
	CK_RV rv = core_enter();

	if (rv != CKR_OK)
		return rv;
	rv = core_lock();
	if (rv == CKR_OK) {
		*out = slot_find_locked(id);
		core_unlock();
		if (*out == NULL)
			rv = CKR_SLOT_ID_INVALID;
	}
	if (rv != CKR_OK)
		core_leave();
	return rv;
}

CK_RV entry_enter_token_slot(CK_SLOT_ID slotID, const void *needed, struct slot **out)
{
	CK_RV rv = entry_enter_slot(slotID, out);

	if (rv != CKR_OK)
		return rv;
	if (needed == NULL)
		rv = CKR_ARGUMENTS_BAD;
	else if (!slot_token_there(*out))
		rv = CKR_TOKEN_NOT_PRESENT;
	if (rv != CKR_OK)
		core_leave();
	return rv;
}

void entry_pad_field(CK_UTF8CHAR *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n > size)
		n = size;
	memset(dst, ' ', size);
	memcpy(dst, src, n);
}
