/*
 * PINs and passwords: read from the terminal without echo, from a file,
 * from an environment variable, from the URI's pin-source, or (only when
 * asked explicitly, and documented as unsafe) from the command line. A
 * secret is never printed and is wiped as soon as it has been used.
 * Also the tool's other questions on the terminal.
 */
#ifndef SIGNET_TOOLS_SECRET_H
#define SIGNET_TOOLS_SECRET_H

#include <stddef.h>

#include "tools/tool.h"

#define SECRET_MAX 256

struct secret {
	char v[SECRET_MAX + 1]; /* NUL-terminated */
	size_t len;
};

/*
 * Gets the secret of role; what names it in prompts and messages ("new
 * user PIN of 'alice'"). On a terminal, confirm asks twice and insists on
 * the same answer. EXIT_USAGE when no source is given and there is no terminal, or
 * when the source cannot be read.
 */
int secret_get(struct tool *t, enum secret_role role, const char *what, bool confirm, struct secret *s);

/* Whether a secret for role was given on the command line (any source). */
bool secret_given(const struct tool *t, enum secret_role role);

void secret_wipe(struct secret *s);

/* Overwrites a --pin style argument in argv so that ps no longer shows it. */
void secret_hide_arg(char *arg);

/* Prints prompt on the terminal and reads one line (echoed); EXIT_REFUSED at end of input. */
int ask_line(const char *prompt, char *out, size_t size);

/* "[y/N]" on the terminal: true only for y or yes. */
bool ask_yes(const char *question);

#endif
