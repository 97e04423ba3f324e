/* Subcommands still to come in this series; each says so. */
#include "tools/commands.h"

static int pending(const char *name)
{
	return fail(EXIT_UNSUPPORTED, "%s is not available in this build yet", name);
}

int cmd_csr(struct tool *t) { (void)t; return pending("csr"); }
int cmd_import_cert(struct tool *t) { (void)t; return pending("import-cert"); }
int cmd_import_p12(struct tool *t) { (void)t; return pending("import-p12"); }
int cmd_export_cert(struct tool *t) { (void)t; return pending("export-cert"); }
int cmd_sign(struct tool *t) { (void)t; return pending("sign"); }
int cmd_verify(struct tool *t) { (void)t; return pending("verify"); }
