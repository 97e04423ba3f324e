/* change-pin, change-admin-pin, unblock, init and set-retries: the PINs and the token's life. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/commands.h"
#include "tools/confirm.h"
#include "tools/login.h"
#include "tools/module.h"
#include "tools/secret.h"
#include "tools/select.h"

/* Both secrets of a PIN change, read before any try is spent. */
struct pin_pair {
	struct secret old_pin, new_pin;
};

static int read_pair(struct tool *t, const struct token *tok, enum secret_role old_role, enum secret_role new_role,
		     const char *old_name, const char *new_name, struct pin_pair *p)
{
	char what[128];
	int code;

	memset(p, 0, sizeof(*p));
	snprintf(what, sizeof(what), "%s of '%s'", old_name, tok->label);
	code = secret_get(t, old_role, what, false, &p->old_pin);
	if (code != EXIT_OK)
		return code;
	snprintf(what, sizeof(what), "%s of '%s'", new_name, tok->label);
	code = secret_get(t, new_role, what, true, &p->new_pin);
	if (code != EXIT_OK)
		secret_wipe(&p->old_pin);
	return code;
}

static void wipe_pair(struct pin_pair *p)
{
	secret_wipe(&p->old_pin);
	secret_wipe(&p->new_pin);
}

static void user_pin_must_change_hint(struct tool *t, struct token *tok)
{
	if (token_refresh_rv(t->mod, tok) == CKR_OK && (tok->info.flags & CKF_USER_PIN_TO_BE_CHANGED))
		printf("Its owner must change it before the keys can be used: signet-tool change-pin --token '%s'\n",
		       tok->label);
}

/* Logs the SO in with the PIN already read; a refusal is reported in words. */
static int so_login(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct secret *admin)
{
	CK_RV rv = t->mod->f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)admin->v, admin->len);

	return rv == CKR_OK ? EXIT_OK : pin_refused(t, tok, CKU_SO, rv, "logging in as administrator");
}

static CK_RV set_pin(struct tool *t, CK_SESSION_HANDLE s, const struct pin_pair *p)
{
	return t->mod->f->C_SetPIN(s, (CK_UTF8CHAR_PTR)p->old_pin.v, p->old_pin.len, (CK_UTF8CHAR_PTR)p->new_pin.v,
				   p->new_pin.len);
}

static int change_user_pin(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct pin_pair *p)
{
	/* Without a login, C_SetPIN changes the user PIN, checking the old one (one try). */
	CK_RV rv = set_pin(t, s, p);

	if (rv != CKR_OK)
		return pin_refused(t, tok, CKU_USER, rv, "changing the user PIN");
	printf("The user PIN of '%s' is changed.\n", tok->label);
	return EXIT_OK;
}

static int change_admin_pin(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct pin_pair *p)
{
	int code = so_login(t, tok, s, &p->old_pin);
	CK_RV rv;

	if (code != EXIT_OK)
		return code;
	rv = set_pin(t, s, p);
	t->mod->f->C_Logout(s);
	if (rv != CKR_OK)
		return pin_refused(t, tok, CKU_SO, rv, "changing the administrator PIN");
	printf("The administrator PIN of '%s' is changed.\n", tok->label);
	return EXIT_OK;
}

static int unblock_user_pin(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct pin_pair *p)
{
	int code = so_login(t, tok, s, &p->old_pin);
	CK_RV rv;

	if (code != EXIT_OK)
		return code;
	rv = t->mod->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)p->new_pin.v, p->new_pin.len);
	t->mod->f->C_Logout(s);
	if (rv != CKR_OK)
		return fail_rv(rv, "setting the user PIN");
	printf("The user PIN of '%s' is set again; its tries are back.\n", tok->label);
	user_pin_must_change_hint(t, tok);
	return EXIT_OK;
}

/* A command that takes a PIN and a new one: whose try it spends, what it asks for, what it does. */
struct pin_command {
	CK_USER_TYPE spends;
	enum secret_role old_role, new_role;
	const char *old_name, *new_name;
	int (*act)(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct pin_pair *p);
};

static int run_pin_command(struct tool *t, const struct pin_command *pc)
{
	struct token tok;
	struct pin_pair p;
	CK_SESSION_HANDLE s;
	int code = select_token_session(t, true, &tok, &s);

	if (code != EXIT_OK)
		return code;
	code = pin_guard(t, &tok, pc->spends);
	if (code == EXIT_OK)
		code = read_pair(t, &tok, pc->old_role, pc->new_role, pc->old_name, pc->new_name, &p);
	if (code == EXIT_OK) {
		code = pc->act(t, &tok, s, &p);
		wipe_pair(&p);
	}
	session_close(t->mod, s);
	return code;
}

int cmd_change_pin(struct tool *t)
{
	static const struct pin_command pc = { CKU_USER, SECRET_USER_PIN, SECRET_NEW_PIN, "current user PIN",
					       "new user PIN", change_user_pin };

	return run_pin_command(t, &pc);
}

int cmd_change_admin_pin(struct tool *t)
{
	static const struct pin_command pc = { CKU_SO, SECRET_ADMIN_PIN, SECRET_NEW_ADMIN_PIN,
					       "current administrator PIN", "new administrator PIN", change_admin_pin };

	return run_pin_command(t, &pc);
}

int cmd_unblock(struct tool *t)
{
	static const struct pin_command pc = { CKU_SO, SECRET_ADMIN_PIN, SECRET_NEW_PIN, "administrator PIN",
					       "new user PIN", unblock_user_pin };

	return run_pin_command(t, &pc);
}

/* ---- init ---- */

static bool names_a_token(const struct tool *t)
{
	return t->sel.has_slot || t->sel.token_text != NULL || t->sel.has_uri;
}

/* The explicitly selected slot, else the first empty software token slot. */
static int init_target(struct tool *t, struct token *out)
{
	struct token *list;
	size_t n;
	int code;

	if (names_a_token(t))
		return select_token(t, false, out);
	code = tokens_list(t->mod, &list, &n);
	if (code != EXIT_OK)
		return code;
	code = EXIT_NO_TOKEN;
	for (size_t i = 0; i < n && code != EXIT_OK; i++) {
		if (list[i].present && !token_initialized(&list[i]) && !token_is_card(&list[i])) {
			*out = list[i];
			code = EXIT_OK;
		}
	}
	free(list);
	if (code != EXIT_OK)
		return fail(code, "no empty software token slot: choose a token to initialise again with --token");
	return code;
}

static int check_label_free(struct tool *t, const struct token *target, const char *label)
{
	struct token *list;
	size_t n;
	int code = tokens_list(t->mod, &list, &n);

	for (size_t i = 0; i < n && code == EXIT_OK; i++)
		if (token_initialized(&list[i]) && list[i].slot != target->slot && strcmp(list[i].label, label) == 0)
			code = fail(EXIT_USAGE, "a token labelled '%s' exists already (slot %lu): choose another label",
				    label, (unsigned long)list[i].slot);
	free(list);
	return code;
}

/* Lists what initialising an existing token destroys and has it confirmed. */
static int confirm_reinit(struct tool *t, const struct token *tok)
{
	CK_OBJECT_HANDLE *list = NULL;
	CK_SESSION_HANDLE s;
	size_t n = 0;
	CK_RV rv = session_open_rv(t->mod, tok, false, &s);

	if (rv == CKR_OK) {
		rv = find_all_rv(t->mod, s, NULL, 0, &list, &n);
		note("Initialising '%s' again deletes everything on it:", tok->label);
		for (size_t i = 0; rv == CKR_OK && i < n; i++)
			describe_object(t->mod, s, list[i]);
		note("  and every private key and secret object (they are not shown without the PIN)");
		free(list);
		session_close(t->mod, s);
	}
	if (rv != CKR_OK)
		return fail_rv(rv, "reading the token");
	return confirm_destruction(t, tok, "initialising the token");
}

/* After C_InitToken the slot list changes: find the new token by its label. */
static int find_initialised(struct tool *t, const char *label, struct token *out)
{
	struct token *list;
	size_t n;
	int code = tokens_list(t->mod, &list, &n);

	if (code != EXIT_OK)
		return code;
	code = EXIT_ERROR;
	for (size_t i = 0; i < n && code != EXIT_OK; i++) {
		if (token_initialized(&list[i]) && strcmp(list[i].label, label) == 0) {
			*out = list[i];
			code = EXIT_OK;
		}
	}
	free(list);
	if (code != EXIT_OK)
		return fail(code, "the token '%s' does not show after initialisation", label);
	return code;
}

static int set_initial_user_pin(struct tool *t, struct token *tok, const struct secret *admin,
				const struct secret *user)
{
	CK_SESSION_HANDLE s;
	CK_RV rv = session_open_rv(t->mod, tok, true, &s);
	int code;

	if (rv != CKR_OK)
		return fail_rv(rv, "opening a session");
	code = so_login(t, tok, s, admin);
	if (code == EXIT_OK) {
		rv = t->mod->f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user->v, user->len);
		t->mod->f->C_Logout(s);
		if (rv != CKR_OK)
			code = fail_rv(rv, "setting the user PIN");
	}
	session_close(t->mod, s);
	return code;
}

static int init_software(struct tool *t, struct token *tok, const char *label)
{
	bool again = token_initialized(tok);
	CK_UTF8CHAR padded[32];
	struct pin_pair p;
	char what[128];
	CK_RV rv;
	int code = again ? confirm_reinit(t, tok) : EXIT_OK;

	if (code == EXIT_OK && again)
		code = pin_guard(t, tok, CKU_SO);
	if (code != EXIT_OK)
		return code;
	memset(&p, 0, sizeof(p));
	snprintf(what, sizeof(what), again ? "administrator PIN of '%s'" : "new administrator PIN for '%s'", label);
	code = secret_get(t, SECRET_ADMIN_PIN, what, !again, &p.old_pin);
	if (code == EXIT_OK) {
		snprintf(what, sizeof(what), "initial user PIN for '%s'", label);
		code = secret_get(t, SECRET_NEW_PIN, what, true, &p.new_pin);
	}
	if (code != EXIT_OK)
		goto out;
	memset(padded, ' ', sizeof(padded));
	memcpy(padded, label, strlen(label));
	rv = t->mod->f->C_InitToken(tok->slot, (CK_UTF8CHAR_PTR)p.old_pin.v, p.old_pin.len, padded);
	if (rv != CKR_OK) {
		code = again ? pin_refused(t, tok, CKU_SO, rv, "initialising the token")
			     : fail_rv(rv, "initialising the token");
		goto out;
	}
	code = find_initialised(t, label, tok);
	if (code == EXIT_OK)
		code = set_initial_user_pin(t, tok, &p.old_pin, &p.new_pin);
	if (code == EXIT_OK) {
		printf("Token '%s' is initialised (slot %lu, serial %s).\n", tok->label, (unsigned long)tok->slot,
		       tok->serial);
		user_pin_must_change_hint(t, tok);
	}
out:
	wipe_pair(&p);
	return code;
}

int cmd_init(struct tool *t)
{
	const char *label = t->o.label;
	struct token tok;
	int code;

	if (label == NULL || *label == '\0' || strlen(label) > 32)
		return fail(EXIT_USAGE, "init needs --label LABEL, at most 32 bytes: the name the token will show");
	code = init_target(t, &tok);
	if (code == EXIT_OK && token_is_card(&tok))
		code = fail(EXIT_UNSUPPORTED, "resetting a card (which blocks its PIN and PUK first) is not available "
					      "in this version of signet-tool");
	if (code == EXIT_OK)
		code = check_label_free(t, &tok, label);
	if (code == EXIT_OK)
		code = init_software(t, &tok, label);
	return code;
}

int cmd_set_retries(struct tool *t)
{
	struct token tok;
	int code = select_token(t, true, &tok);

	if (code != EXIT_OK)
		return code;
	if (!token_is_card(&tok))
		return fail(EXIT_UNSUPPORTED, "'%s' is a software token: its PIN limits come from [policy] in "
					      "signet.conf (user_pin_retries, so_pin_retries)",
			    tok.label);
	return fail(EXIT_UNSUPPORTED, "setting a card's retry counters is not available in this version of "
				      "signet-tool");
}
