/*
 * Shared by the C_* entry points: call tracing and the checks every entry
 * point starts with. Tracing logs handles, lengths and flags, never the
 * contents of PINs or data.
 */
#ifndef SIGNET_ENTRY_H
#define SIGNET_ENTRY_H

#include "pkcs11/cryptoki.h"
#include "pkcs11/core.h"
#include "pkcs11/handle.h"
#include "pkcs11/session.h"
#include "pkcs11/slots.h"

#define EXPORTED __attribute__((visibility("default")))

void entry_trace_call(const char *fn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
CK_RV entry_trace_ret(const char *fn, CK_RV rv);

/*
 * entry_trace_ret() after a call with an IN/OUT count or length, logging
 * "fn: name=value" first when the call set it (CKR_OK, CKR_BUFFER_TOO_SMALL).
 * Before the call such a value is the caller's garbage on a length query
 * (a NULL buffer): trace it as an argument only when the buffer is there.
 */
CK_RV entry_trace_ret_len(const char *fn, CK_RV rv, const char *name, const CK_ULONG *len);

/* CKR_CRYPTOKI_NOT_INITIALIZED unless C_Initialize ran in this process: for calls that use no state. */
CK_RV entry_check_ready(void);

/*
 * A call on a session: the module entered, a reference and the session's
 * call lock, all released with session_release(). Calls that only read the
 * module's tables use session_peek() instead.
 */
CK_RV entry_enter_session(CK_SESSION_HANDLE h, struct session **s);

/*
 * A call on a slot: the module entered and the slot looked up; on success
 * the caller leaves with core_leave(). Slot structures stay valid until
 * C_Finalize, which waits. entry_enter_token_slot also wants the token
 * there and the one pointer the call cannot do without (CKR_ARGUMENTS_BAD
 * when NULL), checked first.
 */
CK_RV entry_enter_slot(CK_SLOT_ID id, struct slot **out);
CK_RV entry_enter_token_slot(CK_SLOT_ID id, const void *needed, struct slot **out);

/* Copies a string into a blank-padded, unterminated PKCS#11 field. */
void entry_pad_field(CK_UTF8CHAR *dst, size_t size, const char *src);

/* The 2.40 function list, which C_GetFunctionList returns. */
extern CK_FUNCTION_LIST signet_functions_2_40;

#endif
