#include "tools/confirm.h"

#include <stdio.h>
#include <string.h>

#include "tools/objects.h"
#include "tools/secret.h"
#include "tools/select.h"

static const char *class_name(CK_ULONG cls)
{
	switch (cls) {
	case CKO_CERTIFICATE:
		return "certificate";
	case CKO_PUBLIC_KEY:
		return "public key";
	case CKO_PRIVATE_KEY:
		return "private key";
	case CKO_SECRET_KEY:
		return "secret key";
	case CKO_DATA:
		return "data object";
	default:
		return "object";
	}
}

static void cert_subject(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, char *out, size_t size)
{
	struct cr_bytes value;
	struct cert_info ci;

	snprintf(out, size, "unreadable certificate");
	if (attr_read_rv(m, s, o, CKA_VALUE, &value) == CKR_OK && cert_info_read(value.data, value.len, &ci) == EXIT_OK) {
		snprintf(out, size, "%s", ci.subject);
		cert_info_clear(&ci);
	}
	bytes_free(&value);
}

void describe_object(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
	CK_ULONG cls = (CK_ULONG)-1;
	char id[129], label[129], what[300];
	struct key_desc key;

	attr_ulong(m, s, o, CKA_CLASS, &cls);
	object_id_hex(m, s, o, id, sizeof(id));
	object_label(m, s, o, label, sizeof(label));
	if (cls == CKO_CERTIFICATE) {
		cert_subject(m, s, o, what, sizeof(what));
	} else {
		key_desc_object(m, s, o, &key);
		snprintf(what, sizeof(what), "%s", key.text);
	}
	note("  %s id %s \"%s\" (%s)", class_name(cls), id[0] ? id : "(none)", label, what);
}

int confirm_destruction(struct tool *t, const struct token *tok, const char *action)
{
	char prompt[200], typed[64];

	if (t->o.yes)
		return EXIT_OK;
	if (!t->interactive)
		return fail(EXIT_REFUSED, "%s destroys what is listed above: add --yes to go ahead without a terminal",
			    action);
	snprintf(prompt, sizeof(prompt), "This cannot be undone. Type the token's label (%s) to go ahead: ",
		 tok->label);
	if (ask_line(prompt, typed, sizeof(typed)) != EXIT_OK || strcmp(typed, tok->label) != 0)
		return fail(EXIT_REFUSED, "the label does not match: nothing was changed");
	return EXIT_OK;
}
