/*
 * signet-tool: the token manager. It is an ordinary PKCS#11 application:
 * it loads signet's module with dlopen and sees exactly what every other
 * program sees. This header holds what every part of the tool shares: the
 * exit codes, the parsed options and the messages.
 */
#ifndef SIGNET_TOOLS_TOOL_H
#define SIGNET_TOOLS_TOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/p11uri.h"
#include "pkcs11/cryptoki.h"

/* Exit codes, documented in signet-tool.1; scripts rely on them, so never renumber. */
enum tool_exit {
	EXIT_OK = 0,
	EXIT_ERROR = 1,        /* anything not listed below */
	EXIT_USAGE = 2,        /* bad command line, or a PIN that cannot be read */
	EXIT_WRONG_PIN = 3,    /* the token refused the PIN (a try was spent) */
	EXIT_PIN_LOCKED = 4,   /* the PIN is locked: nothing was sent */
	EXIT_PIN_EXPIRED = 5,  /* the PIN must be changed before keys can be used */
	EXIT_NO_TOKEN = 6,     /* no token at all */
	EXIT_NOT_FOUND = 7,    /* nothing matches the token, key or certificate selector */
	EXIT_AMBIGUOUS = 8,    /* more than one token or object matches: say which */
	EXIT_UNSUPPORTED = 9,  /* the token or the tool cannot do this */
	EXIT_REFUSED = 10,     /* the user said no, or a guard needs --yes / --force */
	EXIT_BAD_SIGNATURE = 11, /* verify: the signature does not match */
};

/* Where one secret (a PIN, a password) may come from on the command line. */
struct secret_opts {
	const char *value; /* --pin and friends: visible to other users, documented as unsafe */
	const char *file;
	const char *env;
};

enum secret_role {
	SECRET_USER_PIN,
	SECRET_NEW_PIN,
	SECRET_ADMIN_PIN,
	SECRET_NEW_ADMIN_PIN,
	SECRET_P12_PASSWORD,
	SECRET_ROLES
};

struct tool_opts {
	const char *module;
	const char *token;     /* label, serial or pkcs11: URI */
	bool has_slot;
	CK_SLOT_ID slot;
	const char *id_hex;    /* --id */
	const char *label;     /* --label */
	const char *type;      /* --type */
	const char *subject;   /* --subject */
	const char *out;       /* --out */
	const char *signature; /* --signature */
	const char *cert_file; /* --cert */
	const char *ca_file;   /* --ca */
	const char *hash;      /* --hash */
	bool json, yes, force, replace, cms, pss, der;
	struct secret_opts secrets[SECRET_ROLES];
	char **args;           /* positional arguments after the command */
	int nargs;
};

/* Which token and which object the options name (see select.h). */
struct selector {
	bool has_uri;
	struct p11uri uri;      /* --token given as a pkcs11: URI */
	const char *token_text; /* --token given as a label or serial */
	bool has_slot;
	CK_SLOT_ID slot;
	bool has_id;
	uint8_t id[64];
	size_t id_len;
	const char *label;      /* --label, when it names an object */
};

struct module;

/* One run of the tool: its options, what they select and the loaded module. */
struct tool {
	struct tool_opts o;
	struct selector sel;
	struct module *mod;
	bool interactive; /* stdin is a terminal: the tool may ask */
};

/* "signet-tool: ..." on stderr; returns code so that callers can "return fail(...)". */
int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line on stderr for the person at the terminal (progress, warnings, hints). */
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The exit code and a message for a PKCS#11 error, for what the tool was
 * doing ("signing", "reading the token"): the message says what to do next.
 */
int fail_rv(CK_RV rv, const char *doing);

/* The CKR_ name of a return value, "CKR_0x..." for unknown ones. */
const char *ckr_name(CK_RV rv);

#endif
