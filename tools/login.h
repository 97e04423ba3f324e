/*
 * Logging in without locking anyone out by accident: a locked PIN is never
 * sent, the try that would lock the token is taken only after the user
 * confirms it (or with --force when there is nobody to ask), and a wrong
 * PIN is reported with the tries left, never retried.
 */
#ifndef SIGNET_TOOLS_LOGIN_H
#define SIGNET_TOOLS_LOGIN_H

#include "tools/module.h"
#include "tools/tool.h"

/*
 * Before anything that spends a try of who's PIN (CKU_USER or CKU_SO):
 * EXIT_PIN_LOCKED when it is locked; at the final try, asks on the
 * terminal, or without one needs --force (EXIT_REFUSED otherwise).
 */
int pin_guard(struct tool *t, struct token *tok, CK_USER_TYPE who);

/* After the token refused a PIN with rv: what that means now, and the exit code. */
int pin_refused(struct tool *t, struct token *tok, CK_USER_TYPE who, CK_RV rv, const char *doing);

/* The guard, the PIN (from wherever the options say) and C_Login; the PIN is wiped. */
int login(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, CK_USER_TYPE who);

/*
 * The PIN again for one operation with a key that wants it each time
 * (CKA_ALWAYS_AUTHENTICATE: a card's 9C signature key), right after its
 * C_SignInit: C_Login(CKU_CONTEXT_SPECIFIC). On a terminal it is asked
 * again; from a file, the environment or --pin it is read again.
 */
int login_context(struct tool *t, struct token *tok, CK_SESSION_HANDLE s);

/* "user PIN" or "administrator PIN". */
const char *pin_name(CK_USER_TYPE who);

#endif
