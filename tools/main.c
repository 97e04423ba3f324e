/* signet-tool: the command line, the subcommand table and --help. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto/wipe.h"
#include "tools/commands.h"
#include "tools/module.h"
#include "tools/secret.h"
#include "tools/select.h"

enum opt_id {
	O_MODULE, O_TOKEN, O_SLOT, O_ID, O_LABEL, O_TYPE, O_SUBJECT, O_OUT, O_SIGNATURE, O_CERT, O_CA, O_HASH,
	O_JSON, O_YES, O_FORCE, O_REPLACE, O_CMS, O_PSS, O_DER,
	O_PIN, O_PIN_FILE, O_PIN_ENV, O_NEW_PIN, O_NEW_PIN_FILE, O_NEW_PIN_ENV,
	O_ADMIN_PIN, O_ADMIN_PIN_FILE, O_ADMIN_PIN_ENV, O_NEW_ADMIN_PIN, O_NEW_ADMIN_PIN_FILE, O_NEW_ADMIN_PIN_ENV,
	O_PASSWORD, O_PASSWORD_FILE, O_PASSWORD_ENV,
	O_HELP, O_VERSION, O_COUNT
};

#define BIT(o) (1ULL << (o))
#define SECRET_BITS(first) (BIT(first) | BIT((first) + 1) | BIT((first) + 2))
#define SEL (BIT(O_TOKEN) | BIT(O_SLOT))
#define OBJ (BIT(O_ID) | BIT(O_LABEL))
#define USER_PIN (SECRET_BITS(O_PIN) | BIT(O_FORCE))
#define NEW_PIN SECRET_BITS(O_NEW_PIN)
#define ADMIN_PIN (SECRET_BITS(O_ADMIN_PIN) | BIT(O_FORCE))
#define NEW_ADMIN_PIN SECRET_BITS(O_NEW_ADMIN_PIN)
#define PASSWORD SECRET_BITS(O_PASSWORD)

struct opt_doc {
	const char *name;
	int short_name;
	const char *arg; /* NULL: a flag */
	const char *text;
};

static const struct opt_doc opt_docs[O_COUNT] = {
	[O_MODULE] = { "module", 'm', "PATH", "the PKCS#11 module (default: $SIGNET_MODULE, else signet's)" },
	[O_TOKEN] = { "token", 't', "TOKEN", "the token: its label, its serial or a pkcs11: URI" },
	[O_SLOT] = { "slot", 0, "N", "the token in slot N" },
	[O_ID] = { "id", 0, "HEX", "the key or certificate ID, in hex (01, a1b2)" },
	[O_LABEL] = { "label", 0, "TEXT", "the object's label (init: the new token's label)" },
	[O_TYPE] = { "type", 0, "TYPE", "key type, or what to delete" },
	[O_SUBJECT] = { "subject", 0, "DN", "the subject, as /CN=Alice/O=Example" },
	[O_OUT] = { "out", 'o', "FILE", "write the result to FILE (default: standard output)" },
	[O_SIGNATURE] = { "signature", 0, "FILE", "the signature to check (default: FILE.sig, or FILE.p7s with --cms)" },
	[O_CERT] = { "cert", 0, "FILE", "check with this certificate instead of the token's" },
	[O_CA] = { "ca", 0, "FILE", "CA certificates (PEM) the signer's certificate must chain to" },
	[O_HASH] = { "hash", 0, "NAME", "sha256, sha384 or sha512 (default: suits the key)" },
	[O_JSON] = { "json", 0, NULL, "machine-readable output (see JSON OUTPUT in signet-tool(1))" },
	[O_YES] = { "yes", 'y', NULL, "do not ask before deleting: the answer is yes" },
	[O_FORCE] = { "force", 0, NULL, "try a PIN even when it is the last try before the lock" },
	[O_REPLACE] = { "replace", 0, NULL, "allowed to replace what holds the ID already" },
	[O_CMS] = { "cms", 0, NULL, "a CMS (PKCS#7) detached signature with the certificate, not a raw one" },
	[O_PSS] = { "pss", 0, NULL, "RSA-PSS instead of PKCS#1 v1.5 for RSA keys" },
	[O_DER] = { "der", 0, NULL, "write DER instead of PEM" },
	[O_PIN] = { "pin", 0, "PIN", "the user PIN (UNSAFE: other users can see it; prefer the next two)" },
	[O_PIN_FILE] = { "pin-file", 0, "FILE", "read the user PIN from the first line of FILE" },
	[O_PIN_ENV] = { "pin-env", 0, "VAR", "take the user PIN from the environment variable VAR" },
	[O_NEW_PIN] = { "new-pin", 0, "PIN", "the new user PIN (UNSAFE, as --pin)" },
	[O_NEW_PIN_FILE] = { "new-pin-file", 0, "FILE", "read the new user PIN from FILE" },
	[O_NEW_PIN_ENV] = { "new-pin-env", 0, "VAR", "take the new user PIN from VAR" },
	[O_ADMIN_PIN] = { "admin-pin", 0, "PIN", "the administrator (SO) PIN (UNSAFE, as --pin)" },
	[O_ADMIN_PIN_FILE] = { "admin-pin-file", 0, "FILE", "read the administrator PIN from FILE" },
	[O_ADMIN_PIN_ENV] = { "admin-pin-env", 0, "VAR", "take the administrator PIN from VAR" },
	[O_NEW_ADMIN_PIN] = { "new-admin-pin", 0, "PIN", "the new administrator PIN (UNSAFE, as --pin)" },
	[O_NEW_ADMIN_PIN_FILE] = { "new-admin-pin-file", 0, "FILE", "read the new administrator PIN from FILE" },
	[O_NEW_ADMIN_PIN_ENV] = { "new-admin-pin-env", 0, "VAR", "take the new administrator PIN from VAR" },
	[O_PASSWORD] = { "password", 0, "TEXT", "the .p12 file's password (UNSAFE, as --pin)" },
	[O_PASSWORD_FILE] = { "password-file", 0, "FILE", "read the .p12 password from FILE" },
	[O_PASSWORD_ENV] = { "password-env", 0, "VAR", "take the .p12 password from VAR" },
	[O_HELP] = { "help", 'h', NULL, "this help" },
	[O_VERSION] = { "version", 0, NULL, "the tool's version" },
};

struct command {
	const char *name;
	int (*run)(struct tool *t);
	unsigned long long opts;
	int min_args, max_args;
	bool label_names_object; /* false: --label names something new */
	const char *usage;       /* after "signet-tool NAME " */
	const char *summary;
	const char *help;
};

static const struct command commands[] = {
	{ "status", cmd_status, SEL | BIT(O_JSON), 0, 0, false, "[--token TOKEN] [--json]",
	  "show tokens, their keys and certificates, and the PIN tries left",
	  "Shows every slot and token (or only the one selected): label, kind, serial, model,\n"
	  "certificates (subject, issuer, validity, key) and keys, and the state of the user\n"
	  "and administrator PINs in words. Needs no PIN. status is the default command.\n" },
	{ "change-pin", cmd_change_pin, SEL | USER_PIN | NEW_PIN, 0, 0, false, "[--token TOKEN]",
	  "change the user PIN",
	  "Changes the user PIN: asks for the current one and twice for the new one. Do this\n"
	  "first with a new token, whose initial PIN must be changed before its keys work.\n" },
	{ "change-admin-pin", cmd_change_admin_pin, SEL | ADMIN_PIN | NEW_ADMIN_PIN, 0, 0, false, "[--token TOKEN]",
	  "change the administrator (SO) PIN",
	  "Changes the administrator (SO) PIN. It locks for good after 5 wrong tries.\n" },
	{ "unblock", cmd_unblock, SEL | ADMIN_PIN | NEW_PIN, 0, 0, false, "[--token TOKEN]",
	  "set a new user PIN with the administrator PIN",
	  "Sets a new user PIN with the administrator PIN, when the user PIN is locked or\n"
	  "forgotten. The new PIN must then be changed by its owner (change-pin).\n" },
	{ "init", cmd_init, SEL | BIT(O_LABEL) | BIT(O_YES) | ADMIN_PIN | NEW_PIN | NEW_ADMIN_PIN, 0, 0, false,
	  "--label LABEL [--token TOKEN | --slot N]  |  --token CARD",
	  "initialise a software token, or reset a card (deletes everything on it)",
	  "Initialises a software token: in the first empty slot, or the token selected,\n"
	  "which loses every key and certificate (asks for its label to be typed back\n"
	  "unless --yes). Sets the administrator PIN (for a token initialised before: asks\n"
	  "for the current one) and an initial user PIN, which must be changed before use.\n"
	  "On a card (select it with --token) this is the card's reset: it lists every key\n"
	  "and certificate the reset erases, asks for the label to be typed back unless\n"
	  "--yes, asks for the card's new PUK (--new-admin-pin-file), blocks the PIN and\n"
	  "the PUK on purpose with wrong values (the card allows a reset only then) and\n"
	  "resets the card: the new PUK, the default PIN (to be changed) and management\n"
	  "key. A card signet cannot reset is refused before anything is blocked.\n" },
	{ "set-retries", cmd_set_retries, SEL | USER_PIN | BIT(O_YES), 0, 2, false,
	  "PIN_TRIES PUK_TRIES [--token TOKEN]",
	  "set how many tries the PINs allow (cards)",
	  "Sets how many tries the PIN and the PUK of a card allow, 1 to 255 each (a\n"
	  "YubiKey). The card then has its factory PIN 123456 and PUK 12345678 again:\n"
	  "the tool asks for the card's label first (or --yes), logs in with the user\n"
	  "PIN, and afterwards says how to change both. Software tokens take their\n"
	  "limits from [policy] in signet.conf instead. A card without the command is\n"
	  "refused with exit status 9 before anything is asked or sent.\n" },
	{ "keygen", cmd_keygen, SEL | BIT(O_TYPE) | OBJ | BIT(O_REPLACE) | BIT(O_YES) | USER_PIN, 0, 0, false,
	  "--type TYPE [--id HEX] [--label TEXT] [--replace]",
	  "generate a key pair on the token",
	  "Generates a key pair on the token. TYPE: rsa2048, rsa3072, rsa4096, p256, p384,\n"
	  "ed25519 or x25519. Without --id the first free ID is used. An ID that holds a\n"
	  "key already needs --replace, and the old key and its certificate are deleted\n"
	  "(after the token's label is typed back, or with --yes).\n" },
	{ "csr", cmd_csr, SEL | OBJ | BIT(O_SUBJECT) | BIT(O_OUT) | BIT(O_DER) | BIT(O_PSS) | USER_PIN, 0, 0, true,
	  "--subject DN [--id HEX | --label TEXT] [--out FILE]",
	  "make a certificate request (PKCS#10) signed with a token key",
	  "Makes a PKCS#10 certificate request for a key on the token, signed on the token,\n"
	  "for the CA. RSA keys sign with SHA-256 (PKCS#1 v1.5, or PSS with --pss), P-256\n"
	  "with ECDSA SHA-256, P-384 with ECDSA SHA-384. PEM unless --der.\n" },
	{ "import-cert", cmd_import_cert, SEL | OBJ | BIT(O_REPLACE) | USER_PIN, 1, 1, false,
	  "FILE [--label TEXT] [--id HEX] [--replace]",
	  "store a certificate (PEM or DER) with its key",
	  "Stores the certificate in FILE (PEM or DER) on the token with the ID of the key\n"
	  "whose public key it carries. With --id and no matching key it is stored under\n"
	  "that ID (a CA certificate, say). A different certificate under the same ID is\n"
	  "replaced only with --replace.\n" },
	{ "import-p12", cmd_import_p12, SEL | OBJ | BIT(O_REPLACE) | BIT(O_YES) | USER_PIN | PASSWORD, 1, 1, false,
	  "FILE [--id HEX] [--label TEXT] [--replace]",
	  "import a key, its certificate and chain from a .p12 file",
	  "Imports the private key, its certificate and the chain's certificates from a\n"
	  "PKCS#12 file (asks for the file's password). The key is stored sensitive and\n"
	  "never extractable. An ID that holds a key already needs --replace.\n" },
	{ "export-cert", cmd_export_cert, SEL | OBJ | BIT(O_OUT) | BIT(O_DER) | BIT(O_JSON), 0, 0, true,
	  "[--id HEX | --label TEXT] [--out FILE] [--der | --json]",
	  "write a certificate from the token to a file",
	  "Writes a certificate of the token in PEM (or DER with --der), or its description\n"
	  "and PEM as JSON. Needs no PIN.\n" },
	{ "delete", cmd_delete, SEL | OBJ | BIT(O_TYPE) | BIT(O_YES) | USER_PIN, 0, 0, true,
	  "(--id HEX | --label TEXT) [--type cert|key|all]",
	  "delete a certificate or a key pair",
	  "Deletes the objects with the ID or label: the certificate, the key pair or both\n"
	  "(--type, default all). Says what will be deleted and asks for the token's label\n"
	  "to be typed back, unless --yes.\n" },
	{ "sign", cmd_sign, SEL | OBJ | BIT(O_OUT) | BIT(O_CMS) | BIT(O_PSS) | BIT(O_HASH) | USER_PIN, 1, 1, true, "FILE [--id HEX | --label TEXT] [--cms] [--out SIG]",
	  "sign a file with a token key",
	  "Signs FILE with a key of the token. A raw signature by default, as openssl dgst\n"
	  "makes and checks (RSA PKCS#1 v1.5 or PSS, ECDSA in DER, Ed25519), in FILE.sig;\n"
	  "with --cms a detached CMS (PKCS#7) signature that carries the certificate, in\n"
	  "FILE.p7s (DER), as openssl cms -verify checks it.\n" },
	{ "verify", cmd_verify,
	  SEL | OBJ | BIT(O_SIGNATURE) | BIT(O_CERT) | BIT(O_CA) | BIT(O_CMS) | BIT(O_PSS) | BIT(O_HASH) | BIT(O_JSON),
	  1, 1, true, "FILE [--signature SIG] [--cms] [--cert CERT | --id HEX] [--ca CAFILE]",
	  "check a signature made by sign",
	  "Checks a signature of FILE: a raw one against the token's certificate (or\n"
	  "--cert), a CMS one (--cms) against the certificate it carries, which must be the\n"
	  "selected one when a certificate is selected, and chain to --ca when given.\n"
	  "Exit status 11 when the signature does not match.\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_option(const struct opt_doc *d)
{
	char short_part[8] = "    ", left[64];

	if (d->short_name)
		snprintf(short_part, sizeof(short_part), "-%c, ", d->short_name);
	snprintf(left, sizeof(left), "%s--%s%s%s", short_part, d->name, d->arg ? " " : "", d->arg ? d->arg : "");
	printf("  %-30s %s\n", left, d->text);
}

static void usage_general(FILE *f)
{
	fprintf(f, "usage: signet-tool [COMMAND] [OPTIONS]\n\n"
		   "The token manager of signet: PINs, keys, certificates and signatures on\n"
		   "the tokens signet's PKCS#11 module shows. Commands:\n\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-17s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nsignet-tool COMMAND --help shows a command's options; signet-tool(1) has it all.\n"
		   "Options for every command:\n");
}

static void help_command(const struct command *c)
{
	unsigned long long opts = c->opts | BIT(O_MODULE) | BIT(O_HELP);

	printf("usage: signet-tool %s %s\n\n%s\nOptions:\n", c->name, c->usage, c->help);
	for (int i = 0; i < O_COUNT; i++)
		if (opts & BIT(i))
			print_option(&opt_docs[i]);
}

static void help_general(void)
{
	usage_general(stdout);
	print_option(&opt_docs[O_MODULE]);
	print_option(&opt_docs[O_HELP]);
	print_option(&opt_docs[O_VERSION]);
	printf("\nExit status: 0 done, 1 error, 2 usage, 3 wrong PIN, 4 PIN locked, 5 PIN must be\n"
	       "changed, 6 no token, 7 not found, 8 ambiguous, 9 unsupported, 10 refused,\n"
	       "11 bad signature.\n");
}

/* A secret given on the command line is copied and hidden from ps at once. */
static int take_secret_arg(const char **slot, char *arg)
{
	char *copy = strdup(arg);

	if (copy == NULL)
		return fail(EXIT_ERROR, "out of memory");
	secret_hide_arg(arg);
	*slot = copy;
	return EXIT_OK;
}

static void free_secret_args(struct tool_opts *o)
{
	for (int i = 0; i < SECRET_ROLES; i++) {
		char *v = (char *)o->secrets[i].value;

		if (v != NULL)
			cr_free_secret(v, strlen(v));
		o->secrets[i].value = NULL;
	}
}

static int set_secret_option(struct tool_opts *o, int id, char *arg)
{
	static const struct {
		int first;
		enum secret_role role;
	} groups[] = {
		{ O_PIN, SECRET_USER_PIN },
		{ O_NEW_PIN, SECRET_NEW_PIN },
		{ O_ADMIN_PIN, SECRET_ADMIN_PIN },
		{ O_NEW_ADMIN_PIN, SECRET_NEW_ADMIN_PIN },
		{ O_PASSWORD, SECRET_P12_PASSWORD },
	};

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		struct secret_opts *so = &o->secrets[groups[i].role];

		if (id == groups[i].first)
			return so->value != NULL ? fail(EXIT_USAGE, "--%s given twice", opt_docs[id].name)
						 : take_secret_arg(&so->value, arg);
		if (id == groups[i].first + 1)
			so->file = arg;
		if (id == groups[i].first + 2)
			so->env = arg;
	}
	return EXIT_OK;
}

static int set_option(struct tool_opts *o, int id, char *arg)
{
	char *end;

	switch (id) {
	case O_MODULE: o->module = arg; break;
	case O_TOKEN: o->token = arg; break;
	case O_SLOT:
		o->slot = strtoul(arg, &end, 0);
		if (*arg == '\0' || *end != '\0')
			return fail(EXIT_USAGE, "--slot wants a slot number");
		o->has_slot = true;
		break;
	case O_ID: o->id_hex = arg; break;
	case O_LABEL: o->label = arg; break;
	case O_TYPE: o->type = arg; break;
	case O_SUBJECT: o->subject = arg; break;
	case O_OUT: o->out = arg; break;
	case O_SIGNATURE: o->signature = arg; break;
	case O_CERT: o->cert_file = arg; break;
	case O_CA: o->ca_file = arg; break;
	case O_HASH: o->hash = arg; break;
	case O_JSON: o->json = true; break;
	case O_YES: o->yes = true; break;
	case O_FORCE: o->force = true; break;
	case O_REPLACE: o->replace = true; break;
	case O_CMS: o->cms = true; break;
	case O_PSS: o->pss = true; break;
	case O_DER: o->der = true; break;
	default: return set_secret_option(o, id, arg);
	}
	return EXIT_OK;
}

/* Parses every option (they may come before or after the command) into o; *given gets their bits. */
static int parse_options(int argc, char **argv, struct tool_opts *o, unsigned long long *given)
{
	struct option longopts[O_COUNT + 1];
	char shortopts[32] = "";
	size_t sp = 0;
	int c, code;

	for (int i = 0; i < O_COUNT; i++) {
		longopts[i] = (struct option){ opt_docs[i].name, opt_docs[i].arg ? required_argument : no_argument, NULL,
					       256 + i };
		if (opt_docs[i].short_name) {
			shortopts[sp++] = (char)opt_docs[i].short_name;
			if (opt_docs[i].arg)
				shortopts[sp++] = ':';
		}
	}
	longopts[O_COUNT] = (struct option){ 0 };
	shortopts[sp] = '\0';
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int id = -1;

		if (c >= 256) {
			id = c - 256;
		} else {
			for (int i = 0; i < O_COUNT; i++)
				if (opt_docs[i].short_name == c)
					id = i;
		}
		if (id < 0)
			return fail(EXIT_USAGE, "unknown option or missing value: %s (see signet-tool --help)",
				    argv[optind - 1]);
		*given |= BIT(id);
		code = set_option(o, id, optarg);
		if (code != EXIT_OK)
			return code;
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	return EXIT_OK;
}

static int check_options(const struct command *c, unsigned long long given, int nargs)
{
	unsigned long long stray = given & ~(c->opts | BIT(O_MODULE) | BIT(O_HELP));

	for (int i = 0; i < O_COUNT; i++)
		if (stray & BIT(i))
			return fail(EXIT_USAGE, "--%s does not apply to %s (see signet-tool %s --help)", opt_docs[i].name,
				    c->name, c->name);
	if (nargs < c->min_args || nargs > c->max_args)
		return fail(EXIT_USAGE, "usage: signet-tool %s %s", c->name, c->usage);
	return EXIT_OK;
}

static int run(struct tool *t, const struct command *c)
{
	int code = selector_init(t, c->label_names_object);

	if (code == EXIT_OK)
		code = module_open(t->o.module, &t->mod);
	if (code == EXIT_OK)
		code = c->run(t);
	module_close(t->mod);
	t->mod = NULL;
	selector_clear(&t->sel);
	return code;
}

int main(int argc, char **argv)
{
	struct tool t;
	unsigned long long given = 0;
	const struct command *c;
	const char *name;
	int code;

	memset(&t, 0, sizeof(t));
	signal(SIGPIPE, SIG_IGN);
	code = parse_options(argc, argv, &t.o, &given);
	if (code != EXIT_OK)
		goto out;
	if (given & BIT(O_VERSION)) {
		printf("signet-tool 0.1\n");
		goto out;
	}
	name = t.o.nargs > 0 ? t.o.args[0] : "status";
	if (strcmp(name, "help") == 0) {
		c = t.o.nargs > 1 ? find_command(t.o.args[1]) : NULL;
		if (c != NULL)
			help_command(c);
		else
			help_general();
		code = t.o.nargs > 1 && c == NULL ? fail(EXIT_USAGE, "no command %s", t.o.args[1]) : EXIT_OK;
		goto out;
	}
	c = find_command(name);
	if (c == NULL) {
		code = fail(EXIT_USAGE, "no command %s (signet-tool --help lists them)", name);
		goto out;
	}
	if (given & BIT(O_HELP)) {
		if (t.o.nargs > 0)
			help_command(c);
		else
			help_general();
		goto out;
	}
	if (t.o.nargs > 0) {
		t.o.args++;
		t.o.nargs--;
	}
	code = check_options(c, given, t.o.nargs);
	if (code != EXIT_OK)
		goto out;
	t.interactive = isatty(STDIN_FILENO) == 1;
	code = run(&t, c);
out:
	free_secret_args(&t.o);
	if (fflush(stdout) != 0 && code == EXIT_OK)
		code = fail(EXIT_ERROR, "cannot write the output");
	return code;
}
