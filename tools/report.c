/* Messages to the user and the one translation from CK_RV to exit codes. */
#include <stdarg.h>
#include <stdio.h>

#include "tools/tool.h"

int fail(int code, const char *fmt, ...)
{
	va_list ap;

	fputs("signet-tool: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *ckr_name(CK_RV rv)
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
#define N(x) { x, #x }
		N(CKR_OK), N(CKR_HOST_MEMORY), N(CKR_SLOT_ID_INVALID), N(CKR_GENERAL_ERROR), N(CKR_FUNCTION_FAILED),
		N(CKR_ARGUMENTS_BAD), N(CKR_ATTRIBUTE_READ_ONLY), N(CKR_ATTRIBUTE_SENSITIVE),
		N(CKR_ATTRIBUTE_TYPE_INVALID), N(CKR_ATTRIBUTE_VALUE_INVALID), N(CKR_ACTION_PROHIBITED),
		N(CKR_DATA_INVALID), N(CKR_DATA_LEN_RANGE), N(CKR_DEVICE_ERROR), N(CKR_DEVICE_MEMORY),
		N(CKR_DEVICE_REMOVED), N(CKR_FUNCTION_CANCELED), N(CKR_FUNCTION_NOT_SUPPORTED),
		N(CKR_KEY_HANDLE_INVALID), N(CKR_KEY_SIZE_RANGE), N(CKR_KEY_TYPE_INCONSISTENT),
		N(CKR_KEY_FUNCTION_NOT_PERMITTED), N(CKR_MECHANISM_INVALID), N(CKR_MECHANISM_PARAM_INVALID),
		N(CKR_OBJECT_HANDLE_INVALID), N(CKR_OPERATION_ACTIVE), N(CKR_OPERATION_NOT_INITIALIZED),
		N(CKR_PIN_INCORRECT), N(CKR_PIN_INVALID), N(CKR_PIN_LEN_RANGE), N(CKR_PIN_EXPIRED),
		N(CKR_PIN_LOCKED), N(CKR_SESSION_CLOSED), N(CKR_SESSION_COUNT), N(CKR_SESSION_HANDLE_INVALID),
		N(CKR_SESSION_READ_ONLY), N(CKR_SESSION_EXISTS), N(CKR_SESSION_READ_ONLY_EXISTS),
		N(CKR_SESSION_READ_WRITE_SO_EXISTS), N(CKR_SIGNATURE_INVALID), N(CKR_SIGNATURE_LEN_RANGE),
		N(CKR_TEMPLATE_INCOMPLETE), N(CKR_TEMPLATE_INCONSISTENT), N(CKR_TOKEN_NOT_PRESENT),
		N(CKR_TOKEN_NOT_RECOGNIZED), N(CKR_TOKEN_WRITE_PROTECTED), N(CKR_USER_ALREADY_LOGGED_IN),
		N(CKR_USER_NOT_LOGGED_IN), N(CKR_USER_PIN_NOT_INITIALIZED), N(CKR_USER_TYPE_INVALID),
		N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN), N(CKR_USER_TOO_MANY_TYPES), N(CKR_RANDOM_NO_RNG),
		N(CKR_BUFFER_TOO_SMALL), N(CKR_CRYPTOKI_NOT_INITIALIZED), N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
#undef N
	};
	static char other[32];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(other, sizeof(other), "CKR_0x%lx", (unsigned long)rv);
	return other;
}

int fail_rv(CK_RV rv, const char *doing)
{
	switch (rv) {
	case CKR_PIN_INCORRECT:
		return fail(EXIT_WRONG_PIN, "%s: wrong PIN", doing);
	case CKR_PIN_LOCKED:
		return fail(EXIT_PIN_LOCKED, "%s: the PIN is locked; unblock it with `signet-tool unblock`", doing);
	case CKR_PIN_EXPIRED:
		return fail(EXIT_PIN_EXPIRED, "%s: the PIN must be changed first: run `signet-tool change-pin`", doing);
	case CKR_PIN_LEN_RANGE:
	case CKR_PIN_INVALID:
		return fail(EXIT_USAGE, "%s: the token does not accept that new PIN (%s): check its length and "
				       "choose one that differs from the old",
			    doing, ckr_name(rv));
	case CKR_USER_PIN_NOT_INITIALIZED:
		return fail(EXIT_ERROR, "%s: the token has no user PIN yet: set one with `signet-tool unblock`", doing);
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
	case CKR_SLOT_ID_INVALID:
	case CKR_TOKEN_NOT_RECOGNIZED:
		return fail(EXIT_NO_TOKEN, "%s: the token is gone (%s): insert it and try again", doing, ckr_name(rv));
	case CKR_MECHANISM_INVALID:
	case CKR_FUNCTION_NOT_SUPPORTED:
	case CKR_ACTION_PROHIBITED:
	case CKR_KEY_SIZE_RANGE:
		return fail(EXIT_UNSUPPORTED, "%s: the token cannot do this (%s)", doing, ckr_name(rv));
	case CKR_KEY_FUNCTION_NOT_PERMITTED:
		return fail(EXIT_UNSUPPORTED, "%s: this key is not for that; its certificate or its slot says what it is "
					      "for (%s)", doing, ckr_name(rv));
	case CKR_TOKEN_WRITE_PROTECTED:
		return fail(EXIT_UNSUPPORTED, "%s: the token is write-protected", doing);
	default:
		return fail(EXIT_ERROR, "%s failed: %s", doing, ckr_name(rv));
	}
}
