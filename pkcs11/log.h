/*
 * The module's only log sink. Lines go to stderr or a file, one write() per
 * line so that concurrent threads and processes do not interleave. Callers
 * never pass secrets: PIN buffers are logged by length only.
 */
#ifndef SIGNET_LOG_H
#define SIGNET_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "pkcs11/cryptoki.h"

enum log_level {
	LL_ERROR = 0,
	LL_WARNING,
	LL_INFO,
	LL_DEBUG,
	LL_APDU, /* debug plus every APDU, with secret data masked */
};

/* Parses "error" ... "apdu" (or 0..4); false for anything else. */
bool log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Sets the level and the destination ("stderr" or a path opened for append). */
CK_RV log_configure(enum log_level level, const char *dest);
void log_close(void);
enum log_level log_get_level(void);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Symbolic names for PKCS#11 constants, "0x..." for unknown values. */
const char *log_rv_name(CK_RV rv);
const char *log_mech_name(CK_MECHANISM_TYPE m);
const char *log_attr_name(CK_ATTRIBUTE_TYPE a);
const char *log_user_name(CK_USER_TYPE u);

#endif
