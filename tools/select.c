#include "tools/select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cr.h"

static int nibble(char c)
{
	const char *digits = "0123456789abcdef", *hit = c != '\0' ? strchr(digits, c | 0x20) : NULL;

	return hit != NULL ? (int)(hit - digits) : -1;
}

int parse_hex_id(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = strlen(hex);

	if (n == 0 || n % 2 != 0 || n / 2 > cap)
		return EXIT_USAGE;
	for (size_t i = 0; i < n; i += 2) {
		int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);

		if (hi < 0 || lo < 0)
			return EXIT_USAGE;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return EXIT_OK;
}

static int uri_error(int rc, const char *text)
{
	if (rc == CR_E_UNSUPPORTED)
		return fail(EXIT_USAGE, "%s: an attribute or type that RFC 7512 does not define", text);
	return fail(EXIT_USAGE, "%s: not a valid PKCS#11 URI (RFC 7512)", text);
}

int selector_init(struct tool *t, bool label_names_object)
{
	struct selector *sel = &t->sel;
	const struct tool_opts *o = &t->o;
	int rc;

	memset(sel, 0, sizeof(*sel));
	sel->has_slot = o->has_slot;
	sel->slot = o->slot;
	if (o->token != NULL && p11uri_is_uri(o->token)) {
		rc = p11uri_parse(o->token, &sel->uri);
		if (rc != CR_OK)
			return uri_error(rc, o->token);
		sel->has_uri = true;
		if (sel->uri.pin_value != NULL) {
			selector_clear(sel);
			return fail(EXIT_USAGE, "the URI carries the PIN (pin-value), which every user of this machine "
						"can read: use pin-source, --pin-file or --pin-env");
		}
	} else {
		sel->token_text = o->token;
	}
	if (o->id_hex != NULL) {
		if (parse_hex_id(o->id_hex, sel->id, sizeof(sel->id), &sel->id_len) != EXIT_OK)
			return fail(EXIT_USAGE, "--id wants the object ID in hex, such as 01 or a1b2");
		sel->has_id = true;
	}
	if (label_names_object)
		sel->label = o->label;
	return EXIT_OK;
}

void selector_clear(struct selector *sel)
{
	p11uri_clear(&sel->uri);
	sel->has_uri = false;
}

static bool uri_matches_token(const struct p11uri *u, const struct token *tok)
{
	if (u->has_slot_id && u->slot_id != tok->slot)
		return false;
	if (!p11uri_field_matches(u->slot_description, tok->slot_info.slotDescription,
				  sizeof(tok->slot_info.slotDescription)) ||
	    !p11uri_field_matches(u->slot_manufacturer, tok->slot_info.manufacturerID,
				  sizeof(tok->slot_info.manufacturerID)))
		return false;
	if (u->token == NULL && u->manufacturer == NULL && u->model == NULL && u->serial == NULL)
		return true;
	return tok->present && p11uri_field_matches(u->token, tok->info.label, sizeof(tok->info.label)) &&
	       p11uri_field_matches(u->manufacturer, tok->info.manufacturerID, sizeof(tok->info.manufacturerID)) &&
	       p11uri_field_matches(u->model, tok->info.model, sizeof(tok->info.model)) &&
	       p11uri_field_matches(u->serial, tok->info.serialNumber, sizeof(tok->info.serialNumber));
}

static bool matches_token(const struct selector *sel, const struct token *tok)
{
	if (sel->has_slot && sel->slot != tok->slot)
		return false;
	if (sel->has_uri && !uri_matches_token(&sel->uri, tok))
		return false;
	if (sel->token_text != NULL &&
	    !(tok->present && (strcmp(sel->token_text, tok->label) == 0 || strcmp(sel->token_text, tok->serial) == 0)))
		return false;
	return true;
}

#define PIV_RETIRED_FIRST 0x82
#define PIV_RETIRED_LAST 0x95

static const uint8_t piv_named_slots[] = { 0x9a, 0x9c, 0x9d, 0x9e };

bool piv_slot_to_id(uint8_t slot, uint8_t *id)
{
	unsigned n;

	for (size_t i = 0; i < sizeof(piv_named_slots); i++) {
		if (piv_named_slots[i] == slot) {
			*id = (uint8_t)(i + 1);
			return true;
		}
	}
	if (slot < PIV_RETIRED_FIRST || slot > PIV_RETIRED_LAST)
		return false;
	n = (unsigned)(slot - PIV_RETIRED_FIRST) + 5;
	*id = (uint8_t)((n / 10) << 4 | (n % 10));
	return true;
}

bool piv_id_to_slot(uint8_t id, uint8_t *slot)
{
	unsigned n = (unsigned)(id >> 4) * 10 + (id & 0x0f);

	if (id >= 1 && id <= sizeof(piv_named_slots)) {
		*slot = piv_named_slots[id - 1];
		return true;
	}
	if ((id & 0x0f) > 9 || n < 5 || n > 5 + PIV_RETIRED_LAST - PIV_RETIRED_FIRST)
		return false;
	*slot = (uint8_t)(PIV_RETIRED_FIRST + n - 5);
	return true;
}

bool piv_id_at(unsigned index, uint8_t *id)
{
	if (index < sizeof(piv_named_slots))
		return piv_slot_to_id(piv_named_slots[index], id);
	index -= sizeof(piv_named_slots);
	return index <= PIV_RETIRED_LAST - PIV_RETIRED_FIRST && piv_slot_to_id((uint8_t)(PIV_RETIRED_FIRST + index), id);
}

/* On a card, an --id that names a PIV key slot means the ID of that slot. */
static void card_slot_selector(struct selector *sel)
{
	uint8_t id;

	if (sel->has_id && sel->id_len == 1 && piv_slot_to_id(sel->id[0], &id))
		sel->id[0] = id;
}

static bool names_token(const struct selector *sel)
{
	return sel->has_slot || sel->token_text != NULL || (sel->has_uri && p11uri_names_token(&sel->uri));
}

static void list_choices(const struct token *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (token_initialized(&list[i]))
			note("  slot %lu: %s (serial %s, %s)", (unsigned long)list[i].slot, list[i].label,
			     list[i].serial, token_kind(&list[i]));
}

int select_token(struct tool *t, bool need_initialized, struct token *out)
{
	struct selector *sel = &t->sel;
	bool explicit = names_token(sel);
	struct token *list;
	size_t n, found = 0, pick = 0;
	int code = tokens_list(t->mod, &list, &n);

	if (code != EXIT_OK)
		return code;
	for (size_t i = 0; i < n; i++) {
		bool usable = explicit ? list[i].present : token_initialized(&list[i]);

		if (usable && matches_token(sel, &list[i])) {
			if (found++ == 0)
				pick = i;
		}
	}
	if (found == 0 && !explicit) {
		code = fail(EXIT_NO_TOKEN, "no token: no card is inserted and no software token is initialised "
					   "(create one with `signet-tool init`)");
	} else if (found == 0) {
		code = fail(EXIT_NOT_FOUND, "no token matches the selection%s", n > 0 ? "; there are:" : "");
		list_choices(list, n);
	} else if (found > 1) {
		code = fail(EXIT_AMBIGUOUS, "%zu tokens match: choose one with --token LABEL, a serial or --slot:",
			    found);
		list_choices(list, n);
	} else if (need_initialized && !token_initialized(&list[pick])) {
		code = fail(EXIT_NOT_FOUND, "the token in slot %lu is not initialised (create one with "
					    "`signet-tool init`)",
			    (unsigned long)list[pick].slot);
	} else {
		*out = list[pick];
		if (token_is_card(out))
			card_slot_selector(sel);
	}
	free(list);
	return code;
}

int select_token_session(struct tool *t, bool rw, struct token *tok, CK_SESSION_HANDLE *s)
{
	int code = select_token(t, true, tok);
	CK_RV rv;

	if (code != EXIT_OK)
		return code;
	rv = session_open_rv(t->mod, tok, rw, s);
	return rv == CKR_OK ? EXIT_OK : fail_rv(rv, "opening a session");
}

bool selector_names_object(const struct selector *sel)
{
	return sel->has_id || sel->label != NULL || (sel->has_uri && p11uri_names_object(&sel->uri));
}

static bool uri_allows_class(const struct p11uri *u, CK_OBJECT_CLASS cls)
{
	switch (u->type) {
	case P11URI_TYPE_ANY:
		return true;
	case P11URI_TYPE_PUBLIC:
		return cls == CKO_PUBLIC_KEY;
	case P11URI_TYPE_PRIVATE:
		return cls == CKO_PRIVATE_KEY;
	case P11URI_TYPE_CERT:
		return cls == CKO_CERTIFICATE;
	case P11URI_TYPE_SECRET_KEY:
		return cls == CKO_SECRET_KEY;
	case P11URI_TYPE_DATA:
		return cls == CKO_DATA;
	}
	return false;
}

CK_RV select_objects_rv(struct module *m, CK_SESSION_HANDLE s, const struct selector *sel, CK_OBJECT_CLASS cls,
			CK_OBJECT_HANDLE **out, size_t *n)
{
	CK_ATTRIBUTE tmpl[5];
	CK_ULONG count = 0;
	const struct p11uri *u = sel->has_uri ? &sel->uri : NULL;

	*out = NULL;
	*n = 0;
	if (u != NULL && !uri_allows_class(u, cls))
		return CKR_OK;
	tmpl[count++] = (CK_ATTRIBUTE){ CKA_CLASS, &cls, sizeof(cls) };
	if (sel->has_id)
		tmpl[count++] = (CK_ATTRIBUTE){ CKA_ID, (void *)sel->id, sel->id_len };
	if (sel->label != NULL)
		tmpl[count++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)sel->label, strlen(sel->label) };
	if (u != NULL && u->has_id)
		tmpl[count++] = (CK_ATTRIBUTE){ CKA_ID, u->id, u->id_len };
	if (u != NULL && u->object != NULL)
		tmpl[count++] = (CK_ATTRIBUTE){ CKA_LABEL, u->object, strlen(u->object) };
	return find_all_rv(m, s, tmpl, count, out, n);
}

void hex_text(const uint8_t *bytes, size_t len, char *out, size_t size)
{
	size_t pos = 0;

	if (size == 0)
		return;
	for (size_t i = 0; i < len && pos + 2 < size; i++)
		pos += (size_t)snprintf(out + pos, size - pos, "%02x", bytes[i]);
	out[pos] = '\0';
}

void object_id_hex(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, char *out, size_t size)
{
	struct cr_bytes id;

	out[0] = '\0';
	if (attr_read_rv(m, s, o, CKA_ID, &id) == CKR_OK)
		hex_text(id.data, id.len, out, size);
	bytes_free(&id);
}

void object_label(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, char *out, size_t size)
{
	struct cr_bytes label;

	out[0] = '\0';
	if (attr_read_rv(m, s, o, CKA_LABEL, &label) == CKR_OK && label.len > 0) {
		size_t len = label.len < size - 1 ? label.len : size - 1;

		memcpy(out, label.data, len);
		out[len] = '\0';
	}
	bytes_free(&label);
}

int select_one(struct tool *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *what, CK_OBJECT_HANDLE *out)
{
	CK_OBJECT_HANDLE *list;
	size_t n;
	CK_RV rv = select_objects_rv(t->mod, s, &t->sel, cls, &list, &n);
	int code = EXIT_OK;

	if (rv != CKR_OK)
		return fail_rv(rv, "finding objects");
	if (n == 0) {
		code = fail(EXIT_NOT_FOUND, "no %s on the token matches%s", what,
			    selector_names_object(&t->sel) ? " the selection" : "");
	} else if (n > 1) {
		code = fail(EXIT_AMBIGUOUS, "%zu %ss match: choose one with --id or --label:", n, what);
		for (size_t i = 0; i < n; i++) {
			char id[129], label[129];

			object_id_hex(t->mod, s, list[i], id, sizeof(id));
			object_label(t->mod, s, list[i], label, sizeof(label));
			note("  id %s, label \"%s\"", id[0] ? id : "(none)", label);
		}
	} else {
		*out = list[0];
	}
	free(list);
	return code;
}
