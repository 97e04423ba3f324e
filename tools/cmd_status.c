/* status: every slot and token, their certificates and keys, and the PIN state in words. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/commands.h"
#include "tools/json.h"
#include "tools/objects.h"
#include "tools/pin_state.h"
#include "tools/select.h"

/* What status shows of one certificate or key pair. */
struct shown_object {
	uint8_t id[64];
	size_t id_len;
	char id_hex[129];
	char piv_slot[3];   /* a card's key slot ("9a", "82"), "" elsewhere */
	char label[129];
	struct key_desc key;
	bool is_cert;
	bool paired; /* a certificate with a key of the same ID, or a key with a certificate */
	struct cert_info cert;
};

struct shown_token {
	struct token tok;
	struct pin_words user, admin;
	struct shown_object *objects;
	size_t nobjects;
};

static void read_id(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, bool card, struct shown_object *so)
{
	struct cr_bytes id;
	uint8_t slot;

	if (attr_read_rv(m, s, o, CKA_ID, &id) == CKR_OK && id.len > 0 && id.len <= sizeof(so->id)) {
		memcpy(so->id, id.data, id.len);
		so->id_len = id.len;
	}
	bytes_free(&id);
	hex_text(so->id, so->id_len, so->id_hex, sizeof(so->id_hex));
	if (card && so->id_len == 1 && piv_id_to_slot(so->id[0], &slot))
		hex_text(&slot, 1, so->piv_slot, sizeof(so->piv_slot));
	object_label(m, s, o, so->label, sizeof(so->label));
}

static bool same_id(const struct shown_object *a, const struct shown_object *b)
{
	return a->id_len == b->id_len && memcmp(a->id, b->id, a->id_len) == 0;
}

static int add_object(struct shown_token *st, struct shown_object **slot)
{
	struct shown_object *grown = realloc(st->objects, (st->nobjects + 1) * sizeof(*grown));

	if (grown == NULL)
		return fail(EXIT_ERROR, "out of memory");
	st->objects = grown;
	*slot = &grown[st->nobjects++];
	memset(*slot, 0, sizeof(**slot));
	return EXIT_OK;
}

static int read_class(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, struct shown_token *st)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE *list;
	size_t n;
	CK_RV rv = find_all_rv(m, s, tmpl, 1, &list, &n);
	int code = EXIT_OK;

	if (rv != CKR_OK)
		return fail_rv(rv, "listing the objects");
	for (size_t i = 0; i < n && code == EXIT_OK; i++) {
		struct shown_object *so = NULL;
		struct cr_bytes value;

		code = add_object(st, &so);
		if (code != EXIT_OK)
			break;
		read_id(m, s, list[i], token_is_card(&st->tok), so);
		so->is_cert = cls == CKO_CERTIFICATE;
		if (!so->is_cert) {
			key_desc_object(m, s, list[i], &so->key);
			continue;
		}
		rv = attr_read_rv(m, s, list[i], CKA_VALUE, &value);
		if (rv == CKR_OK && cert_info_read(value.data, value.len, &so->cert) == EXIT_OK)
			so->key = so->cert.key;
		else
			snprintf(so->cert.subject, sizeof(so->cert.subject), "(unreadable certificate)");
		bytes_free(&value);
	}
	free(list);
	return code;
}

/* By ID, a certificate before the key of the same ID. */
static int object_order(const void *a, const void *b)
{
	const struct shown_object *x = a, *y = b;
	size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
	int c = memcmp(x->id, y->id, n);

	if (c != 0)
		return c;
	if (x->id_len != y->id_len)
		return x->id_len < y->id_len ? -1 : 1;
	return (int)y->is_cert - (int)x->is_cert;
}

static void pair_objects(struct shown_token *st)
{
	if (st->nobjects > 1)
		qsort(st->objects, st->nobjects, sizeof(st->objects[0]), object_order);
	for (size_t i = 0; i < st->nobjects; i++)
		for (size_t j = 0; j < st->nobjects; j++)
			if (st->objects[i].is_cert != st->objects[j].is_cert && st->objects[i].id_len > 0 &&
			    same_id(&st->objects[i], &st->objects[j]))
				st->objects[i].paired = true;
}

/* Certificates and public keys are public objects: no login, no PIN. */
static int read_objects(struct tool *t, struct shown_token *st)
{
	CK_SESSION_HANDLE s;
	CK_RV rv = session_open_rv(t->mod, &st->tok, false, &s);
	int code;

	if (rv != CKR_OK)
		return fail_rv(rv, "opening a session");
	code = read_class(t->mod, s, CKO_CERTIFICATE, st);
	if (code == EXIT_OK)
		code = read_class(t->mod, s, CKO_PUBLIC_KEY, st);
	session_close(t->mod, s);
	pair_objects(st);
	return code;
}

static void free_shown(struct shown_token *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < list[i].nobjects; j++)
			cert_info_clear(&list[i].objects[j].cert);
		free(list[i].objects);
	}
	free(list);
}

/* ---- text ---- */

/* "01", or "01 (slot 9A)" for a card's key slot. */
static void id_words(const struct shown_object *so, char *out, size_t size)
{
	char slot[3];

	if (so->piv_slot[0] == '\0') {
		snprintf(out, size, "%s", so->id_hex[0] ? so->id_hex : "(none)");
		return;
	}
	snprintf(slot, sizeof(slot), "%c%c", toupper((unsigned char)so->piv_slot[0]),
		 toupper((unsigned char)so->piv_slot[1]));
	snprintf(out, size, "%s (slot %s)", so->id_hex, slot);
}

static void print_object(const struct shown_object *so)
{
	char id[160];

	id_words(so, id, sizeof(id));
	if (so->is_cert) {
		printf("    certificate id %s \"%s\": %s\n", id, so->label, so->cert.subject);
		printf("      issuer:   %s\n", so->cert.issuer);
		if (so->cert.days_left >= 0)
			printf("      valid:    %s to %s (%ld days left)\n", so->cert.not_before, so->cert.not_after,
			       so->cert.days_left);
		else
			printf("      valid:    %s to %s (EXPIRED)\n", so->cert.not_before, so->cert.not_after);
		printf("      key:      %s, %s\n", so->key.text,
		       so->paired ? "key pair on the token" : "no key of this ID on the token");
		return;
	}
	if (!so->paired)
		printf("    key id %s \"%s\": %s, no certificate yet\n", id, so->label, so->key.text);
}

static void print_token(const struct shown_token *st)
{
	const struct token *tok = &st->tok;

	printf("Slot %lu: %s\n", (unsigned long)tok->slot, tok->slot_description);
	if (!tok->present) {
		printf("  no token\n");
		return;
	}
	if (!token_initialized(tok)) {
		printf("  empty %s token slot (`signet-tool init` creates a token here)\n", token_kind(tok));
		return;
	}
	printf("  token:      %s (%s token)\n", tok->label, token_kind(tok));
	printf("  serial:     %s\n", tok->serial);
	printf("  model:      %s, %s\n", tok->model, tok->manufacturer);
	printf("  user PIN:   %s\n", st->user.text);
	printf("  admin PIN:  %s\n", st->admin.text);
	if (st->nobjects == 0)
		printf("  no keys or certificates\n");
	for (size_t i = 0; i < st->nobjects; i++)
		print_object(&st->objects[i]);
}

/* ---- JSON ---- */

static void json_pin(struct json *j, const char *key, const struct pin_words *w)
{
	json_object(j, key);
	json_string(j, "state", w->state);
	if (w->left >= 0)
		json_int(j, "tries_left", w->left);
	else
		json_null(j, "tries_left");
	if (w->max >= 0)
		json_int(j, "tries_max", w->max);
	else
		json_null(j, "tries_max");
	json_bool(j, "tries_exact", w->exact);
	json_bool(j, "must_change", w->must_change);
	json_string(j, "text", w->text);
	json_object_end(j);
}

static void json_key(struct json *j, const struct key_desc *k)
{
	json_string(j, "key_type", k->type);
	json_int(j, "key_bits", k->bits);
	json_string(j, "curve", k->curve);
}

static void json_objects(struct json *j, const struct shown_token *st, bool certs)
{
	char uri[512];

	json_array(j, certs ? "certificates" : "keys");
	for (size_t i = 0; i < st->nobjects; i++) {
		const struct shown_object *so = &st->objects[i];

		if (so->is_cert != certs)
			continue;
		json_object(j, NULL);
		json_string(j, "id", so->id_hex);
		json_string(j, "piv_slot", so->piv_slot[0] ? so->piv_slot : NULL);
		json_string(j, "label", so->label);
		json_key(j, &so->key);
		if (certs) {
			json_string(j, "subject", so->cert.subject);
			json_string(j, "issuer", so->cert.issuer);
			json_string(j, "not_before", so->cert.not_before);
			json_string(j, "not_after", so->cert.not_after);
			json_int(j, "days_left", so->cert.days_left);
			json_bool(j, "has_key", so->paired);
		} else {
			json_bool(j, "has_certificate", so->paired);
		}
		object_uri(&st->tok, so->id, so->id_len, certs ? "cert" : "private", uri, sizeof(uri));
		json_string(j, "uri", uri);
		json_object_end(j);
	}
	json_array_end(j);
}

static void json_token(struct json *j, const struct shown_token *st)
{
	const struct token *tok = &st->tok;

	json_object(j, NULL);
	json_int(j, "slot", (long long)tok->slot);
	json_string(j, "slot_description", tok->slot_description);
	json_bool(j, "token_present", tok->present);
	json_bool(j, "initialized", token_initialized(tok));
	json_string(j, "kind", token_kind(tok));
	if (token_initialized(tok)) {
		json_string(j, "label", tok->label);
		json_string(j, "serial", tok->serial);
		json_string(j, "model", tok->model);
		json_string(j, "manufacturer", tok->manufacturer);
		json_pin(j, "user_pin", &st->user);
		json_pin(j, "admin_pin", &st->admin);
		json_objects(j, st, true);
		json_objects(j, st, false);
	}
	json_object_end(j);
}

static void print_json(const struct tool *t, const struct shown_token *list, size_t n)
{
	struct json j;

	json_start(&j, stdout);
	json_object(&j, NULL);
	json_int(&j, "format", 1);
	json_string(&j, "module", t->mod->path);
	json_array(&j, "slots");
	for (size_t i = 0; i < n; i++)
		json_token(&j, &list[i]);
	json_array_end(&j);
	json_object_end(&j);
	json_finish(&j);
}

/* The tokens status shows: the selected one, or every slot when nothing is selected. */
static int gather(struct tool *t, struct token **toks, size_t *n)
{
	if (t->sel.has_slot || t->sel.token_text != NULL || t->sel.has_uri) {
		*toks = malloc(sizeof(**toks));
		*n = 1;
		if (*toks == NULL)
			return fail(EXIT_ERROR, "out of memory");
		return select_token(t, false, *toks);
	}
	return tokens_list(t->mod, toks, n);
}

int cmd_status(struct tool *t)
{
	struct pin_policy policy;
	struct token *toks = NULL;
	struct shown_token *shown = NULL;
	size_t n = 0;
	int code = gather(t, &toks, &n);

	if (code != EXIT_OK)
		goto out;
	pin_policy_load(&policy);
	shown = calloc(n > 0 ? n : 1, sizeof(*shown));
	if (shown == NULL) {
		code = fail(EXIT_ERROR, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && code == EXIT_OK; i++) {
		shown[i].tok = toks[i];
		if (!token_initialized(&toks[i]))
			continue;
		pin_words_user(&toks[i], &policy, &shown[i].user);
		pin_words_admin(&toks[i], &policy, &shown[i].admin);
		code = read_objects(t, &shown[i]);
	}
	if (code != EXIT_OK)
		goto out;
	if (t->o.json) {
		print_json(t, shown, n);
	} else {
		if (n == 0)
			printf("No slots: no card reader and no software token (`signet-tool init` creates one).\n");
		for (size_t i = 0; i < n; i++)
			print_token(&shown[i]);
	}
out:
	if (shown != NULL)
		free_shown(shown, n);
	free(toks);
	return code;
}
