/* Nothing is destroyed by accident: say exactly what goes, then have the token's label typed back. */
#ifndef SIGNET_TOOLS_CONFIRM_H
#define SIGNET_TOOLS_CONFIRM_H

#include "tools/module.h"
#include "tools/tool.h"

/* One line on stderr naming an object: "  private key id 01 "rsa" (RSA 2048)". */
void describe_object(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o);

/*
 * After the caller listed what will be deleted: with --yes goes ahead;
 * on a terminal asks for the token's label to be typed back; otherwise
 * EXIT_REFUSED. action words the question ("deleting", "initialising").
 */
int confirm_destruction(struct tool *t, const struct token *tok, const char *action);

#endif
