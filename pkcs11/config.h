/*
 * signet.conf: the [module], [card], [softhsm] and [policy] sections of
 * DESIGN.md. SIGNET_CONF names the file, else $(sysconfdir)/signet/signet.conf;
 * a missing file means defaults. Any error names file, line and key.
 */
#ifndef SIGNET_CONFIG_H
#define SIGNET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/log.h"

#define CONFIG_PATH_MAX 4096

struct config {
	/* [module] */
	enum log_level log_level;
	char log_file[CONFIG_PATH_MAX];
	char cache_dir[CONFIG_PATH_MAX];      /* empty: no certificate cache */
	/* [card] */
	bool card_enable;
	char card_readers[256];               /* glob on reader names */
	char management_key[129];             /* hex; empty: PIN-protected store, then default */
	/* [softhsm] */
	bool softhsm_enable;
	char softhsm_library[CONFIG_PATH_MAX];
	char softhsm_config[CONFIG_PATH_MAX];
	char state_dir[CONFIG_PATH_MAX];
	/* [policy] */
	unsigned user_pin_retries;
	unsigned so_pin_retries;
	bool require_pin_change;
	unsigned min_pin_length;
	unsigned max_pin_length;
	/* where the values came from, for log lines */
	char source[CONFIG_PATH_MAX];
};

void config_defaults(struct config *c);

/* The file SIGNET_CONF names, or the system default. */
const char *config_default_path(void);

/*
 * Loads path over the defaults. A missing file is not an error. On error,
 * logs "FILE:LINE: KEY: reason" and returns CKR_GENERAL_ERROR. No value is
 * ever logged: KEY is "-" for a line without "=" or a name that does not
 * look like one (it may be a management key typed on the wrong line).
 */
CK_RV config_load(struct config *c, const char *path);

/* s without the blanks (and line end) around it, in place. */
char *config_trim(char *s);

/* Wipes the management key held in the configuration. */
void config_wipe(struct config *c);

#endif
