/*
 * The PKCS#11 module as the tool sees it: loaded with dlopen, its slots and
 * tokens, sessions and object attributes. Functions named *_rv return the
 * module's CK_RV; the others return tool exit codes.
 */
#ifndef SIGNET_TOOLS_MODULE_H
#define SIGNET_TOOLS_MODULE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "crypto/x509.h"
#include "pkcs11/cryptoki.h"
#include "pkcs11/signet_vendor.h"

struct module {
	void *dl;
	CK_FUNCTION_LIST *f;
	SIGNET_FUNCTION_LIST *vendor; /* signet's vendor interface; NULL from another module */
	bool initialized;
	char path[PATH_MAX];
};

/* A slot and, when present, its token, with the padded text fields trimmed. */
struct token {
	CK_SLOT_ID slot;
	CK_SLOT_INFO slot_info;
	bool present;
	CK_TOKEN_INFO info; /* valid when present */
	bool have_tries;    /* tries (exact counts) came from the vendor interface */
	SIGNET_PIN_TRIES tries;
	char label[33];
	char serial[17];
	char model[17];
	char manufacturer[33];
	char slot_description[65];
};

/*
 * Loads the module: path, else $SIGNET_MODULE, else signet-pkcs11.so next
 * to the tool (the build tree), else the installed module. Initialises it.
 */
int module_open(const char *path, struct module **out);

/* Finalises and unloads; NULL is fine. */
void module_close(struct module *m);

/* Every slot with its token, in the module's order. *out is malloc'd. */
int tokens_list(struct module *m, struct token **out, size_t *n);

/* Reads the token's info again (the PIN flags change with every try). */
CK_RV token_refresh_rv(struct module *m, struct token *t);

bool token_initialized(const struct token *t);

/* The token's device resets on C_InitToken once both PINs are blocked (vendor interface). */
bool token_can_reset(const struct token *t);

/* The module can set the token's PIN and PUK retry counters (vendor interface). */
bool token_can_set_retries(const struct token *t);

/* A card in a reader (a hardware slot), rather than a software token. */
bool token_is_card(const struct token *t);

/* "card" or "software". */
const char *token_kind(const struct token *t);

CK_RV session_open_rv(struct module *m, const struct token *t, bool rw, CK_SESSION_HANDLE *s);
void session_close(struct module *m, CK_SESSION_HANDLE s);

/*
 * One attribute into a malloc'd buffer. A missing or unreadable attribute
 * is not an error: out->data stays NULL and out->len 0.
 */
CK_RV attr_read_rv(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
		   struct cr_bytes *out);

/* A CK_ULONG attribute (class, key type, bits); false when unavailable. */
bool attr_ulong(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type, CK_ULONG *v);

/* A CK_BBOOL attribute; false when unavailable. */
bool attr_bool(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type);

/* Every object matching the template; *out is malloc'd (NULL when none). */
CK_RV find_all_rv(struct module *m, CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG count,
		  CK_OBJECT_HANDLE **out, size_t *n);

/* Frees a cr_bytes buffer and zeroes it. */
void bytes_free(struct cr_bytes *b);

/* Copies a blank-padded PKCS#11 text field into a C string without the padding. */
void field_text(char *out, size_t out_size, const void *field, size_t field_size);

#endif
