#include "tools/pin_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SIGNET_SYSCONFDIR
#define SIGNET_SYSCONFDIR "/etc"
#endif

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* One "key = value" line of [policy]; anything we do not need is left to the module to judge. */
static void policy_line(struct pin_policy *p, char *line)
{
	char *eq = strchr(line, '='), *key, *end;
	unsigned long v;

	if (eq == NULL)
		return;
	*eq = '\0';
	key = trim(line);
	v = strtoul(trim(eq + 1), &end, 10);
	if (*end != '\0' || v < 1 || v > 15)
		return;
	if (strcmp(key, "user_pin_retries") == 0)
		p->user_retries = (unsigned)v;
	else if (strcmp(key, "so_pin_retries") == 0)
		p->so_retries = (unsigned)v;
}

void pin_policy_load(struct pin_policy *p)
{
	const char *path = getenv("SIGNET_CONF");
	char line[512];
	bool in_policy = false;
	FILE *f;

	p->user_retries = 3;
	p->so_retries = 5;
	if (path == NULL || *path == '\0')
		path = SIGNET_SYSCONFDIR "/signet/signet.conf";
	f = fopen(path, "r");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s;

		line[strcspn(line, "#;")] = '\0'; /* comments, as the module reads them */
		s = trim(line);
		if (*s == '[')
			in_policy = strcmp(s, "[policy]") == 0;
		else if (in_policy)
			policy_line(p, s);
	}
	fclose(f);
}

struct pin_flags {
	CK_FLAGS count_low, final_try, locked, to_be_changed;
};

static const struct pin_flags user_flags = { CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED,
					     CKF_USER_PIN_TO_BE_CHANGED };
static const struct pin_flags so_flags = { CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED,
					   CKF_SO_PIN_TO_BE_CHANGED };

/* The counts signet's vendor interface gave for this PIN, when it knows them both. */
static bool exact_counts(const struct token *tok, bool so, int *left, int *max)
{
	CK_LONG l = so ? tok->tries.soLeft : tok->tries.userLeft, m = so ? tok->tries.soMax : tok->tries.userMax;

	if (!tok->have_tries || l < 0 || m <= 0 || l > m)
		return false;
	*left = (int)l;
	*max = (int)m;
	return true;
}

/* The numbers: exact from the module when it says, else from the flags and the limit (0: unknown). */
static void count_tries(const struct token *tok, const struct pin_flags *pf, unsigned limit, struct pin_words *w)
{
	CK_FLAGS flags = tok->info.flags;
	bool exact = exact_counts(tok, pf == &so_flags, &w->left, &w->max);

	if (!exact)
		w->max = limit > 0 ? (int)limit : -1;
	w->exact = true;
	if (flags & pf->locked) {
		w->state = "locked";
		w->left = 0;
	} else if (flags & pf->final_try) {
		w->state = "final-try";
		w->left = 1;
	} else if (flags & pf->count_low) {
		w->state = "count-low";
		if (!exact) {
			w->left = limit > 1 ? (int)limit - 1 : -1;
			w->exact = limit == 3; /* 3 - (at least 1) and more than 1 left: exactly 2 */
		}
	} else {
		w->state = "ok";
		if (!exact)
			w->left = limit > 0 ? (int)limit : -1;
	}
	if (w->left < 0)
		w->exact = false;
	w->must_change = (flags & pf->to_be_changed) != 0;
}

/* "3 of 3 tries left", "at most 4 of 5 tries left", or the flags' meaning when the limit is unknown. */
static void tries_text(const struct pin_words *w, char *out, size_t size)
{
	if (w->left >= 0 && w->exact)
		snprintf(out, size, "%d of %d tries left", w->left, w->max);
	else if (w->left >= 0)
		snprintf(out, size, "at most %d of %d tries left (a wrong PIN was entered)", w->left, w->max);
	else if (strcmp(w->state, "ok") == 0)
		snprintf(out, size, "no wrong PIN since the last good one");
	else
		snprintf(out, size, "a wrong PIN was entered since the last good one; more than 1 try left");
}

static unsigned limit_for(const struct token *tok, unsigned policy_limit)
{
	/* signet applies its policy to software tokens; a card's own counter may be stricter. */
	return token_is_card(tok) ? 0 : policy_limit;
}

static void append_must_change(struct pin_words *w, const char *command)
{
	size_t len = strlen(w->text);

	if (w->must_change && w->left != 0)
		snprintf(w->text + len, sizeof(w->text) - len, "; must be changed (`signet-tool %s`)", command);
}

void pin_words_user(const struct token *tok, const struct pin_policy *p, struct pin_words *w)
{
	memset(w, 0, sizeof(*w));
	count_tries(tok, &user_flags, limit_for(tok, p->user_retries), w);
	if (!(tok->info.flags & CKF_USER_PIN_INITIALIZED)) {
		w->state = "not-set";
		snprintf(w->text, sizeof(w->text), "not set: the administrator sets it with `signet-tool unblock`");
		return;
	}
	if (w->left == 0)
		snprintf(w->text, sizeof(w->text), "locked: unblock with the administrator PIN (`signet-tool unblock`)");
	else if (w->left == 1)
		snprintf(w->text, sizeof(w->text), "1 try left — the next wrong PIN locks the token");
	else
		tries_text(w, w->text, sizeof(w->text));
	append_must_change(w, "change-pin");
}

void pin_words_admin(const struct token *tok, const struct pin_policy *p, struct pin_words *w)
{
	memset(w, 0, sizeof(*w));
	count_tries(tok, &so_flags, limit_for(tok, p->so_retries), w);
	if (w->left == 0)
		snprintf(w->text, sizeof(w->text), "administrator PIN locked for good");
	else if (w->left == 1)
		snprintf(w->text, sizeof(w->text),
			 "1 try left — the next wrong administrator PIN locks it for good");
	else
		tries_text(w, w->text, sizeof(w->text));
	append_must_change(w, "change-admin-pin");
}
