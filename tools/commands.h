/* The subcommands; each returns an exit code (enum tool_exit). */
#ifndef SIGNET_TOOLS_COMMANDS_H
#define SIGNET_TOOLS_COMMANDS_H

#include "tools/tool.h"

int cmd_status(struct tool *t);
int cmd_change_pin(struct tool *t);
int cmd_change_admin_pin(struct tool *t);
int cmd_unblock(struct tool *t);
int cmd_init(struct tool *t);
int cmd_set_retries(struct tool *t);
int cmd_keygen(struct tool *t);
int cmd_delete(struct tool *t);
int cmd_csr(struct tool *t);
int cmd_import_cert(struct tool *t);
int cmd_import_p12(struct tool *t);
int cmd_export_cert(struct tool *t);
int cmd_sign(struct tool *t);
int cmd_verify(struct tool *t);

#endif
