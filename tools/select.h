/*
 * Choosing the token (label, serial, slot or RFC 7512 URI) and the objects
 * on it (ID, label or the URI's object part). Selectors that match nothing
 * give EXIT_NOT_FOUND, ones that match several EXIT_AMBIGUOUS, each with a
 * message that lists what there is to choose from.
 */
#ifndef SIGNET_TOOLS_SELECT_H
#define SIGNET_TOOLS_SELECT_H

#include "tools/module.h"
#include "tools/tool.h"

/*
 * Fills t->sel from the options; label_names_object false when --label is
 * the name of something new (a token to initialise, a key to generate).
 */
int selector_init(struct tool *t, bool label_names_object);

void selector_clear(struct selector *sel);

/* Parses hex ("01", "a1b2") into at most cap bytes. */
int parse_hex_id(const char *hex, uint8_t *out, size_t cap, size_t *len);

/*
 * A card's key slots by their PIV names: 9A, 9C, 9D, 9E and the retired
 * 82..95 have the CKA_IDs 01, 02, 03, 04 and 05..24 (the retired ones
 * written as OpenSC writes them, the decimal number n + 4 of "retired key
 * n" in hex digits), as signet's card token gives them. On a card, --id
 * takes either: the two sets do not overlap.
 */
bool piv_slot_to_id(uint8_t slot, uint8_t *id);
bool piv_id_to_slot(uint8_t id, uint8_t *slot);
/* The ID of the index-th key slot in the card's order (9A, 9C, 9D, 9E, 82..95); false past the last. */
bool piv_id_at(unsigned index, uint8_t *id);

/*
 * The one token the options select. On a card, an --id that names a PIV
 * key slot (9a, 82, ...) becomes that slot's CKA_ID in t->sel. Without a selector: the only
 * initialised token. need_initialized refuses an uninitialised one.
 */
int select_token(struct tool *t, bool need_initialized, struct token *out);

/* The selected initialised token and a session on it (read-write when rw). */
int select_token_session(struct tool *t, bool rw, struct token *tok, CK_SESSION_HANDLE *s);

/* Whether the options name an object (ID, label, or URI object attributes). */
bool selector_names_object(const struct selector *sel);

/*
 * Objects of class cls that match the selector (all objects of that class
 * when it names none). *out is malloc'd.
 */
CK_RV select_objects_rv(struct module *m, CK_SESSION_HANDLE s, const struct selector *sel, CK_OBJECT_CLASS cls,
			CK_OBJECT_HANDLE **out, size_t *n);

/* Exactly one object of class cls; what ("key", "certificate") words the messages. */
int select_one(struct tool *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const char *what, CK_OBJECT_HANDLE *out);

/* The CKA_ID of an object as hex ("01"), "" when it has none. */
void object_id_hex(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, char *out, size_t size);

/* The CKA_LABEL of an object as a string, "" when it has none. */
void object_label(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, char *out, size_t size);

/* bytes as lower-case hex into out (size at least 2 * len + 1, else truncated). */
void hex_text(const uint8_t *bytes, size_t len, char *out, size_t size);

#endif
