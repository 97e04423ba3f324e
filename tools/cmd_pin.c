/* change-pin, change-admin-pin, unblock, init and set-retries: the PINs and the token's life. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/commands.h"
#include "crypto/cr.h"
#include "crypto/random.h"
#include "tools/confirm.h"
#include "tools/job.h"
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

/* ---- a card's reset ---- */

/* Every certificate and key of the card, by slot: what the reset erases. Public objects: no PIN needed. */
static int list_card_contents(struct tool *t, const struct token *tok)
{
	CK_OBJECT_CLASS classes[] = { CKO_CERTIFICATE, CKO_PUBLIC_KEY };
	CK_OBJECT_HANDLE *list = NULL;
	CK_SESSION_HANDLE s;
	size_t n = 0, total = 0;
	CK_RV rv = session_open_rv(t->mod, tok, false, &s);

	if (rv != CKR_OK)
		return fail_rv(rv, "reading the card");
	note("Resetting '%s' erases every key and certificate on it:", tok->label);
	for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]) && rv == CKR_OK; c++) {
		CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &classes[c], sizeof(classes[c]) } };

		rv = find_all_rv(t->mod, s, tmpl, 1, &list, &n);
		for (size_t i = 0; rv == CKR_OK && i < n; i++)
			describe_object(t->mod, s, list[i]);
		total += n;
		free(list);
		list = NULL;
	}
	session_close(t->mod, s);
	if (rv != CKR_OK)
		return fail_rv(rv, "reading the card");
	if (total == 0)
		note("  (no key or certificate shows on it)");
	note("and sets its PIN and management key back to the card's defaults and its PUK to the one you\n"
	     "choose. To be allowed to reset, signet-tool first blocks the PIN and the PUK on purpose, with\n"
	     "wrong values.");
	return EXIT_OK;
}

/* A deliberately wrong PIN or PUK of 8 digits, never the one sent just before. */
static int wrong_value(char out[9], const char *previous)
{
	uint8_t r[8];

	do {
		if (cr_random(r, sizeof(r)) != CR_OK)
			return fail(EXIT_ERROR, "no random numbers for the wrong values");
		for (size_t i = 0; i < sizeof(r); i++)
			out[i] = (char)('0' + r[i] % 10);
		out[8] = '\0';
	} while (strcmp(out, previous) == 0);
	return EXIT_OK;
}

/* Spends every try of who's PIN with wrong values, until the token says it is locked. */
static int block_on_purpose(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, CK_USER_TYPE who)
{
	CK_FLAGS locked = who == CKU_SO ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
	char value[9] = "", previous[9] = "";
	CK_RV rv = CKR_OK;
	int code = EXIT_OK;

	for (int i = 0; i < 32 && code == EXIT_OK && !(tok->info.flags & locked); i++) {
		code = wrong_value(value, previous);
		if (code != EXIT_OK)
			break;
		rv = t->mod->f->C_Login(s, who, (CK_UTF8CHAR_PTR)value, 8);
		if (rv == CKR_OK) /* a wrong value that happened to be right: it proves nothing */
			t->mod->f->C_Logout(s);
		else if (rv != CKR_PIN_INCORRECT && rv != CKR_PIN_LOCKED)
			code = fail_rv(rv, who == CKU_SO ? "blocking the PUK" : "blocking the PIN");
		memcpy(previous, value, sizeof(value));
		if (token_refresh_rv(t->mod, tok) != CKR_OK)
			code = fail(EXIT_ERROR, "the card did not answer while its %s was being blocked",
				    who == CKU_SO ? "PUK" : "PIN");
	}
	if (code == EXIT_OK && !(tok->info.flags & locked))
		code = fail(EXIT_ERROR, "the %s of '%s' does not block: the card was not reset",
			    who == CKU_SO ? "PUK" : "PIN", tok->label);
	if (code == EXIT_OK)
		note("  the %s is blocked", who == CKU_SO ? "PUK" : "PIN");
	return code;
}

/* Blocks the PIN and the PUK (the card resets only then) and resets the card with puk as its new PUK. */
static int block_and_reset(struct tool *t, struct token *tok, const struct secret *puk)
{
	CK_UTF8CHAR label[32];
	CK_SESSION_HANDLE s;
	CK_RV rv = session_open_rv(t->mod, tok, true, &s); /* read-write: the SO logs in only there */
	int code;

	if (rv != CKR_OK)
		return fail_rv(rv, "opening a session");
	code = block_on_purpose(t, tok, s, CKU_USER);
	if (code == EXIT_OK)
		code = block_on_purpose(t, tok, s, CKU_SO);
	session_close(t->mod, s);
	if (code != EXIT_OK)
		return code;
	memset(label, ' ', sizeof(label));
	memcpy(label, tok->label, strlen(tok->label));
	rv = t->mod->f->C_InitToken(tok->slot, (CK_UTF8CHAR_PTR)puk->v, puk->len, label);
	if (rv != CKR_OK)
		return fail(rv == CKR_FUNCTION_NOT_SUPPORTED ? EXIT_UNSUPPORTED : EXIT_ERROR,
			    "the PIN and PUK of '%s' are blocked, but the reset failed (%s): try `signet-tool init` on it "
			    "again",
			    tok->label, ckr_name(rv));
	return EXIT_OK;
}

static int reset_card(struct tool *t, struct token *tok)
{
	struct secret puk;
	char what[128];
	int code;

	/* Before anything is blocked: only a card signet can reset goes any further. */
	if (!token_can_reset(tok))
		return fail(EXIT_UNSUPPORTED, "'%s' cannot be reset through signet (this card or this version of signet "
					      "has no reset): nothing was changed, its PIN and PUK are as they were",
			    tok->label);
	if (t->o.label != NULL)
		return fail(EXIT_USAGE, "a card's label comes from the card: no --label for init on a card");
	code = list_card_contents(t, tok);
	if (code == EXIT_OK)
		code = confirm_destruction(t, tok, "resetting the card");
	if (code != EXIT_OK)
		return code;
	/* Asked before anything is blocked, so that a missing answer changes nothing. */
	memset(&puk, 0, sizeof(puk));
	snprintf(what, sizeof(what), "new PUK (administrator PIN) for '%s', 6 to 8 characters", tok->label);
	code = secret_get(t, SECRET_NEW_ADMIN_PIN, what, true, &puk);
	if (code == EXIT_OK && (puk.len < 6 || puk.len > 8))
		code = fail(EXIT_USAGE, "a PIV card's PUK has 6 to 8 characters: nothing was changed");
	if (code == EXIT_OK)
		code = block_and_reset(t, tok, &puk);
	secret_wipe(&puk);
	if (code != EXIT_OK)
		return code;
	printf("The card in slot %lu is reset: its keys and certificates are gone, its PUK is the one you chose,\n"
	       "and its PIN and management key are the card's defaults. Change the PIN (signet-tool change-pin)\n"
	       "before you use it.\n",
	       (unsigned long)tok->slot);
	return EXIT_OK;
}

int cmd_init(struct tool *t)
{
	const char *label = t->o.label;
	struct token tok;
	int code = init_target(t, &tok);

	if (code == EXIT_OK && token_is_card(&tok))
		return reset_card(t, &tok);
	if (code != EXIT_OK)
		return code;
	if (label == NULL || *label == '\0' || strlen(label) > 32)
		return fail(EXIT_USAGE, "init needs --label LABEL, at most 32 bytes: the name the token will show");
	code = check_label_free(t, &tok, label);
	if (code == EXIT_OK)
		code = init_software(t, &tok, label);
	return code;
}

/* ---- set-retries ---- */

/* What the card's SET PIN RETRIES leaves: PIV's factory values, the same on every YubiKey. */
#define FACTORY_PIN "123456"
#define FACTORY_PUK "12345678"

static int parse_tries(const char *text, CK_ULONG *out)
{
	char *end;
	unsigned long v = strtoul(text, &end, 10);

	if (*text == '\0' || *end != '\0' || v < 1 || v > 255)
		return fail(EXIT_USAGE, "set-retries PIN_TRIES PUK_TRIES: numbers from 1 to 255, such as 3 5");
	*out = v;
	return EXIT_OK;
}

static int set_retries_refused(CK_RV rv)
{
	if (rv == CKR_FUNCTION_FAILED)
		return fail(EXIT_ERROR, "the card refused to set its retry counters: nothing was changed. Its management "
					"key is probably not the one signet uses ([card] management_key in signet.conf); "
					"the module's log says more");
	return fail_rv(rv, "setting the retry counters");
}

static void retries_next_steps(const struct token *tok, CK_ULONG pin_tries, CK_ULONG puk_tries)
{
	printf("'%s' now allows %lu PIN tries and %lu PUK tries.\n"
	       "Its PIN is the factory " FACTORY_PIN " and its PUK (administrator PIN) the factory " FACTORY_PUK
	       " now: change both before you use it.\n"
	       "  signet-tool change-pin --token '%s'          (current PIN: " FACTORY_PIN ")\n"
	       "  signet-tool change-admin-pin --token '%s'    (current administrator PIN: " FACTORY_PUK ")\n",
	       tok->label, (unsigned long)pin_tries, (unsigned long)puk_tries, tok->label, tok->label);
}

int cmd_set_retries(struct tool *t)
{
	CK_ULONG pin_tries = 0, puk_tries = 0;
	struct key_job job = { 0 };
	struct token tok;
	CK_RV rv;
	int code = select_token(t, true, &tok);

	if (code != EXIT_OK)
		return code;
	if (!token_is_card(&tok))
		return fail(EXIT_UNSUPPORTED, "'%s' is a software token: its PIN limits come from [policy] in "
					      "signet.conf (user_pin_retries, so_pin_retries)",
			    tok.label);
	if (!token_can_set_retries(&tok))
		return fail(EXIT_UNSUPPORTED, "'%s' has no command to set its retry counters (a YubiKey has one): "
					      "nothing was changed",
			    tok.label);
	if (t->o.nargs != 2)
		return fail(EXIT_USAGE, "usage: signet-tool set-retries PIN_TRIES PUK_TRIES (such as 3 5)");
	code = parse_tries(t->o.args[0], &pin_tries);
	if (code == EXIT_OK)
		code = parse_tries(t->o.args[1], &puk_tries);
	if (code != EXIT_OK)
		return code;
	note("Setting the retry counters of '%s' to %lu PIN tries and %lu PUK tries also sets, on the card itself,\n"
	     "its PIN back to the factory " FACTORY_PIN " and its PUK (administrator PIN) to the factory " FACTORY_PUK
	     ".\nIts keys and certificates stay. Change both PINs right afterwards.",
	     tok.label, (unsigned long)pin_tries, (unsigned long)puk_tries);
	code = confirm_destruction(t, &tok, "setting the retry counters");
	if (code == EXIT_OK)
		code = job_open(t, &tok, &job);
	if (code == EXIT_OK) {
		rv = t->mod->vendor->C_SignetSetRetries(job.session, pin_tries, puk_tries);
		code = rv == CKR_OK ? EXIT_OK : set_retries_refused(rv);
	}
	/* The card forgot the login with the PIN it replaced: nothing to log out of. */
	job.logged_in = job.logged_in && code != EXIT_OK;
	job_close(t, &job);
	if (code == EXIT_OK)
		retries_next_steps(&tok, pin_tries, puk_tries);
	return code;
}
