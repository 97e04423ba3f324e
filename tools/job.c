#include "tools/job.h"

#include <stdlib.h>
#include <string.h>

#include "tools/confirm.h"
#include "tools/login.h"
#include "tools/select.h"

int job_open(struct tool *t, struct token *tok, struct key_job *job)
{
	int code;

	memset(job, 0, sizeof(*job));
	code = select_token_session(t, true, tok, &job->session);
	if (code != EXIT_OK)
		return code;
	job->open = true;
	job->card = token_is_card(tok);
	code = login(t, tok, job->session, CKU_USER);
	job->logged_in = code == EXIT_OK;
	return code;
}

void job_close(struct tool *t, struct key_job *job)
{
	if (job->logged_in)
		t->mod->f->C_Logout(job->session);
	if (job->open)
		session_close(t->mod, job->session);
	free(job->old);
	memset(job, 0, sizeof(*job));
}

static bool id_in_use(struct module *m, CK_SESSION_HANDLE s, uint8_t id)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_ID, &id, 1 } };
	CK_OBJECT_HANDLE *list;
	size_t n = 0;

	if (find_all_rv(m, s, tmpl, 1, &list, &n) != CKR_OK)
		return true;
	free(list);
	return n > 0;
}

int job_choose_id(struct tool *t, struct key_job *job, uint8_t *id, size_t cap, size_t *len)
{
	CK_ATTRIBUTE tmpl[1];
	CK_RV rv;

	if (t->sel.has_id) {
		memcpy(id, t->sel.id, t->sel.id_len < cap ? t->sel.id_len : cap);
		*len = t->sel.id_len < cap ? t->sel.id_len : cap;
	} else {
		*len = 0;
		for (unsigned v = 1; v <= 0xff && *len == 0; v++) {
			uint8_t candidate = (uint8_t)v;

			if (job->card && !piv_id_at(v - 1, &candidate))
				break;
			if (!id_in_use(t->mod, job->session, candidate)) {
				id[0] = candidate;
				*len = 1;
			}
		}
		if (*len == 0)
			return fail(EXIT_ERROR, "every %s is taken: choose one with --id", job->card ? "key slot of the card"
												   : "one-byte ID");
	}
	hex_text(id, *len, job->id_hex, sizeof(job->id_hex));
	tmpl[0] = (CK_ATTRIBUTE){ CKA_ID, id, *len };
	rv = find_all_rv(t->mod, job->session, tmpl, 1, &job->old, &job->nold);
	return rv == CKR_OK ? EXIT_OK : fail_rv(rv, "looking at the token's objects");
}

int job_confirm_replace(struct tool *t, const struct token *tok, struct key_job *job, const char *action)
{
	if (job->nold == 0)
		return EXIT_OK;
	if (!t->o.replace) {
		note("The ID %s on '%s' holds:", job->id_hex, tok->label);
		for (size_t i = 0; i < job->nold; i++)
			describe_object(t->mod, job->session, job->old[i]);
		return fail(EXIT_REFUSED, "%s there needs --replace, which deletes these", action);
	}
	note("Replacing what the ID %s holds on '%s' deletes:", job->id_hex, tok->label);
	for (size_t i = 0; i < job->nold; i++)
		describe_object(t->mod, job->session, job->old[i]);
	return confirm_destruction(t, tok, action);
}

int job_remove_old(struct tool *t, struct key_job *job)
{
	for (size_t i = 0; i < job->nold; i++) {
		CK_RV rv = t->mod->f->C_DestroyObject(job->session, job->old[i]);

		if (rv != CKR_OK)
			return fail_rv(rv, "deleting what the ID held before");
	}
	return EXIT_OK;
}
