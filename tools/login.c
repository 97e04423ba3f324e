#include "tools/login.h"

#include <stdio.h>

#include "tools/pin_state.h"
#include "tools/secret.h"

const char *pin_name(CK_USER_TYPE who)
{
	return who == CKU_SO ? "administrator PIN" : "user PIN";
}

static void words_for(const struct token *tok, CK_USER_TYPE who, struct pin_words *w)
{
	struct pin_policy policy;

	pin_policy_load(&policy);
	if (who == CKU_SO)
		pin_words_admin(tok, &policy, w);
	else
		pin_words_user(tok, &policy, w);
}

static int locked(const struct token *tok, CK_USER_TYPE who)
{
	if (who == CKU_SO)
		return fail(EXIT_PIN_LOCKED, "the administrator PIN of '%s' is locked for good: the token can no "
					     "longer be unblocked or initialised again",
			    tok->label);
	return fail(EXIT_PIN_LOCKED, "the user PIN of '%s' is locked: unblock it with `signet-tool unblock` "
				     "(it needs the administrator PIN)",
		    tok->label);
}

static int confirm_final_try(struct tool *t, const struct token *tok, CK_USER_TYPE who)
{
	char warning[256];

	snprintf(warning, sizeof(warning), "only 1 try is left for the %s of '%s': a wrong PIN now locks %s",
		 pin_name(who), tok->label, who == CKU_SO ? "it for good" : "the token");
	if (t->o.force) {
		note("warning: %s; going ahead (--force)", warning);
		return EXIT_OK;
	}
	if (!t->interactive)
		return fail(EXIT_REFUSED, "%s. Not trying without a terminal to ask on: add --force to try anyway",
			    warning);
	note("Warning: %s.", warning);
	if (ask_yes("Enter the PIN anyway?"))
		return EXIT_OK;
	return fail(EXIT_REFUSED, "stopped: no PIN was sent to the token");
}

int pin_guard(struct tool *t, struct token *tok, CK_USER_TYPE who)
{
	CK_FLAGS lock_flag = who == CKU_SO ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
	CK_FLAGS final_flag = who == CKU_SO ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY;
	CK_RV rv = token_refresh_rv(t->mod, tok);

	if (rv != CKR_OK)
		return fail_rv(rv, "reading the token");
	if (tok->info.flags & lock_flag)
		return locked(tok, who);
	if (tok->info.flags & final_flag)
		return confirm_final_try(t, tok, who);
	return EXIT_OK;
}

int pin_refused(struct tool *t, struct token *tok, CK_USER_TYPE who, CK_RV rv, const char *doing)
{
	struct pin_words w;

	if (rv == CKR_PIN_LOCKED)
		return locked(tok, who);
	if (rv != CKR_PIN_INCORRECT)
		return fail_rv(rv, doing);
	if (token_refresh_rv(t->mod, tok) != CKR_OK)
		return fail(EXIT_WRONG_PIN, "wrong %s for '%s'", pin_name(who), tok->label);
	words_for(tok, who, &w);
	return fail(EXIT_WRONG_PIN, "wrong %s for '%s': %s", pin_name(who), tok->label, w.text);
}

/* who logs in (CKU_CONTEXT_SPECIFIC spends a user PIN try); what words the prompt. */
static int login_as(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, CK_USER_TYPE who, const char *what)
{
	CK_USER_TYPE counter = who == CKU_SO ? CKU_SO : CKU_USER;
	struct secret pin;
	CK_RV rv;
	int code = pin_guard(t, tok, counter);

	if (code != EXIT_OK)
		return code;
	code = secret_get(t, who == CKU_SO ? SECRET_ADMIN_PIN : SECRET_USER_PIN, what, false, &pin);
	if (code != EXIT_OK)
		return code;
	rv = t->mod->f->C_Login(s, who, (CK_UTF8CHAR_PTR)pin.v, pin.len);
	secret_wipe(&pin);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return EXIT_OK;
	return pin_refused(t, tok, counter, rv, "logging in");
}

int login(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, CK_USER_TYPE who)
{
	char what[96];

	snprintf(what, sizeof(what), "%s of '%s'", pin_name(who), tok->label);
	return login_as(t, tok, s, who, what);
}

int login_context(struct tool *t, struct token *tok, CK_SESSION_HANDLE s)
{
	char what[128];

	snprintf(what, sizeof(what), "user PIN of '%s' again, for this signature", tok->label);
	return login_as(t, tok, s, CKU_CONTEXT_SPECIFIC, what);
}
