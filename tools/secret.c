#include "tools/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "crypto/wipe.h"

/* The option that gives each role, for messages. */
static const char *const role_option[SECRET_ROLES] = {
	[SECRET_USER_PIN] = "--pin",
	[SECRET_NEW_PIN] = "--new-pin",
	[SECRET_ADMIN_PIN] = "--admin-pin",
	[SECRET_NEW_ADMIN_PIN] = "--new-admin-pin",
	[SECRET_P12_PASSWORD] = "--password",
};

void secret_wipe(struct secret *s)
{
	cr_wipe(s, sizeof(*s));
}

void secret_hide_arg(char *arg)
{
	cr_wipe(arg, strlen(arg));
}

/*
 * One line from fd into s, without the line end. Reads byte by byte so
 * that nothing after the line is consumed. EXIT_USAGE for an over-long
 * line; EXIT_REFUSED at end of input before any byte.
 */
static int read_secret_line(int fd, struct secret *s)
{
	bool any = false, too_long = false;
	char c;
	ssize_t n;

	s->len = 0;
	for (;;) {
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;
		any = true;
		if (s->len < SECRET_MAX)
			s->v[s->len++] = c;
		else
			too_long = true;
	}
	c = 0;
	if (s->len > 0 && s->v[s->len - 1] == '\r')
		s->len--;
	s->v[s->len] = '\0';
	if (too_long) {
		secret_wipe(s);
		return EXIT_USAGE;
	}
	return any || n > 0 ? EXIT_OK : EXIT_REFUSED;
}

/* ---- the terminal ---- */

static struct termios saved_termios;

/* A signal while echo is off: give the terminal back its echo, then die of the signal as usual. */
static void restore_echo_and_die(int sig)
{
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int read_without_echo(const char *prompt, struct secret *s)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = restore_echo_and_die }, old[4];
	struct termios quiet;
	int code;

	if (tcgetattr(STDIN_FILENO, &saved_termios) != 0)
		return fail(EXIT_USAGE, "cannot switch off the terminal's echo");
	quiet = saved_termios;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	for (size_t i = 0; i < 4; i++)
		sigaction(sigs[i], &sa, &old[i]);
	/* Echo goes off before the prompt shows, and whatever was typed ahead is dropped unseen. */
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	fputs(prompt, stderr);
	fflush(stderr);
	code = read_secret_line(STDIN_FILENO, s);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
	for (size_t i = 0; i < 4; i++)
		sigaction(sigs[i], &old[i], NULL);
	fputc('\n', stderr);
	return code;
}

int ask_line(const char *prompt, char *out, size_t size)
{
	struct secret line;
	int code;

	fputs(prompt, stderr);
	fflush(stderr);
	code = read_secret_line(STDIN_FILENO, &line);
	if (code == EXIT_OK)
		snprintf(out, size, "%s", line.v);
	secret_wipe(&line);
	return code;
}

bool ask_yes(const char *question)
{
	char answer[16];
	char prompt[512];

	snprintf(prompt, sizeof(prompt), "%s [y/N] ", question);
	if (ask_line(prompt, answer, sizeof(answer)) != EXIT_OK)
		return false;
	return strcmp(answer, "y") == 0 || strcmp(answer, "Y") == 0 || strcmp(answer, "yes") == 0;
}

/* ---- the sources ---- */

static int from_file(const char *path, struct secret *s, const char *option)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int code;

	if (fd < 0)
		return fail(EXIT_USAGE, "cannot read %s (%s): %s", option, path, strerror(errno));
	code = read_secret_line(fd, s);
	close(fd);
	if (code == EXIT_USAGE)
		return fail(EXIT_USAGE, "%s: the first line of %s is too long", option, path);
	return EXIT_OK;
}

static int from_env(const char *name, struct secret *s, const char *option)
{
	const char *v = getenv(name);
	size_t len = v != NULL ? strlen(v) : 0;

	if (v == NULL)
		return fail(EXIT_USAGE, "%s-env: the variable %s is not set", option, name);
	if (len > SECRET_MAX)
		return fail(EXIT_USAGE, "%s-env: the value of %s is too long", option, name);
	memcpy(s->v, v, len + 1);
	s->len = len;
	return EXIT_OK;
}

/* RFC 7512 pin-source: a file, as "file:/path", "file:///path" or a plain path. */
static int from_pin_source(const char *source, struct secret *s)
{
	const char *path = source;

	if (strncmp(path, "file://", 7) == 0)
		path += 7;
	else if (strncmp(path, "file:", 5) == 0)
		path += 5;
	if (path[0] == '|')
		return fail(EXIT_UNSUPPORTED, "pin-source: running a program for the PIN is not supported; "
					      "name a file");
	return from_file(path, s, "the URI's pin-source");
}

bool secret_given(const struct tool *t, enum secret_role role)
{
	const struct secret_opts *so = &t->o.secrets[role];

	return so->value != NULL || so->file != NULL || so->env != NULL ||
	       (role == SECRET_USER_PIN && t->sel.has_uri && t->sel.uri.pin_source != NULL);
}

static int from_options(const struct tool *t, enum secret_role role, struct secret *s)
{
	const struct secret_opts *so = &t->o.secrets[role];
	const char *opt = role_option[role];
	int given = (so->value != NULL) + (so->file != NULL) + (so->env != NULL);

	if (given > 1)
		return fail(EXIT_USAGE, "give %s, %s-file or %s-env, not several", opt, opt, opt);
	if (so->value != NULL) {
		s->len = strlen(so->value);
		if (s->len > SECRET_MAX)
			return fail(EXIT_USAGE, "%s: too long", opt);
		memcpy(s->v, so->value, s->len + 1);
		return EXIT_OK;
	}
	if (so->file != NULL)
		return from_file(so->file, s, opt);
	if (so->env != NULL)
		return from_env(so->env, s, opt);
	return from_pin_source(t->sel.uri.pin_source, s);
}

static int from_terminal(const char *what, bool confirm, struct secret *s)
{
	struct secret again;
	char prompt[256];
	int code;

	snprintf(prompt, sizeof(prompt), "Enter the %s: ", what);
	code = read_without_echo(prompt, s);
	if (code != EXIT_OK || !confirm)
		return code == EXIT_REFUSED ? fail(EXIT_REFUSED, "no %s given", what) : code;
	code = read_without_echo("Repeat it: ", &again);
	if (code == EXIT_OK && (again.len != s->len || memcmp(again.v, s->v, s->len) != 0))
		code = fail(EXIT_USAGE, "the two entries differ: nothing was changed");
	secret_wipe(&again);
	return code;
}

int secret_get(struct tool *t, enum secret_role role, const char *what, bool confirm, struct secret *s)
{
	int code;

	memset(s, 0, sizeof(*s));
	if (secret_given(t, role))
		code = from_options(t, role, s);
	else if (t->interactive)
		code = from_terminal(what, confirm, s);
	else
		code = fail(EXIT_USAGE, "the %s is needed: give %s-file FILE or %s-env VAR, or run on a terminal",
			    what, role_option[role], role_option[role]);
	if (code == EXIT_OK && s->len == 0)
		code = fail(EXIT_USAGE, "the %s is empty", what);
	if (code != EXIT_OK)
		secret_wipe(s);
	return code;
}
