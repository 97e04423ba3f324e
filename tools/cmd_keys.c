/* keygen and delete: key pairs and what goes with them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cr.h"
#include "crypto/ecdsa.h"
#include "tools/commands.h"
#include "tools/confirm.h"
#include "tools/job.h"
#include "tools/login.h"
#include "tools/objects.h"
#include "tools/select.h"
#include "tools/spinner.h"

/* RFC 8410 id-X25519: CKA_EC_PARAMS of a Montgomery key (crypto/ has no X25519 curve entry). */
static const uint8_t oid_x25519[] = { 0x06, 0x03, 0x2b, 0x65, 0x6e };

struct key_type {
	const char *name;
	const char *text;
	CK_MECHANISM_TYPE mech;
	CK_KEY_TYPE key_type;
	CK_ULONG bits;          /* RSA */
	enum cr_curve curve;    /* EC and Ed25519 */
	bool sign, decrypt, derive;
};

static const struct key_type key_types[] = {
	{ "rsa2048", "RSA 2048", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 2048, CR_CURVE_NONE, true, true, false },
	{ "rsa3072", "RSA 3072", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 3072, CR_CURVE_NONE, true, true, false },
	{ "rsa4096", "RSA 4096", CKM_RSA_PKCS_KEY_PAIR_GEN, CKK_RSA, 4096, CR_CURVE_NONE, true, true, false },
	{ "p256", "EC P-256", CKM_EC_KEY_PAIR_GEN, CKK_EC, 0, CR_CURVE_P256, true, false, true },
	{ "p384", "EC P-384", CKM_EC_KEY_PAIR_GEN, CKK_EC, 0, CR_CURVE_P384, true, false, true },
	{ "ed25519", "Ed25519", CKM_EC_EDWARDS_KEY_PAIR_GEN, CKK_EC_EDWARDS, 0, CR_CURVE_ED25519, true, false, false },
	{ "x25519", "X25519", CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKK_EC_MONTGOMERY, 0, CR_CURVE_NONE, false, false, true },
};

static const struct key_type *find_key_type(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(key_types) / sizeof(key_types[0]); i++)
		if (strcmp(key_types[i].name, name) == 0)
			return &key_types[i];
	return NULL;
}

static int ec_params(const struct key_type *kt, const uint8_t **der, size_t *len)
{
	if (kt->key_type == CKK_EC_MONTGOMERY) {
		*der = oid_x25519;
		*len = sizeof(oid_x25519);
		return EXIT_OK;
	}
	return cr_curve_params(kt->curve, der, len) == CR_OK ? EXIT_OK : EXIT_ERROR;
}

struct keygen {
	const struct key_type *kt;
	uint8_t id[64];
	size_t id_len;
	const char *label;
};

static CK_RV generate(struct tool *t, CK_SESSION_HANDLE s, const struct keygen *g, CK_OBJECT_HANDLE *pub,
		      CK_OBJECT_HANDLE *priv)
{
	static CK_BYTE exponent[] = { 0x01, 0x00, 0x01 };
	CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY, priv_class = CKO_PRIVATE_KEY;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_KEY_TYPE type = g->kt->key_type;
	CK_ULONG bits = g->kt->bits;
	CK_MECHANISM mech = { g->kt->mech, NULL, 0 };
	CK_ATTRIBUTE pt[12], kt[14];
	CK_ULONG np = 0, nk = 0;
	const uint8_t *params = NULL;
	size_t params_len = 0;
	struct spinner *spin;
	CK_RV rv;

	pt[np++] = (CK_ATTRIBUTE){ CKA_CLASS, &pub_class, sizeof(pub_class) };
	pt[np++] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &type, sizeof(type) };
	pt[np++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	pt[np++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &no, sizeof(no) };
	pt[np++] = (CK_ATTRIBUTE){ CKA_ID, (void *)g->id, g->id_len };
	pt[np++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)g->label, strlen(g->label) };
	kt[nk++] = (CK_ATTRIBUTE){ CKA_CLASS, &priv_class, sizeof(priv_class) };
	kt[nk++] = (CK_ATTRIBUTE){ CKA_KEY_TYPE, &type, sizeof(type) };
	kt[nk++] = (CK_ATTRIBUTE){ CKA_TOKEN, &yes, sizeof(yes) };
	kt[nk++] = (CK_ATTRIBUTE){ CKA_PRIVATE, &yes, sizeof(yes) };
	kt[nk++] = (CK_ATTRIBUTE){ CKA_SENSITIVE, &yes, sizeof(yes) };
	kt[nk++] = (CK_ATTRIBUTE){ CKA_EXTRACTABLE, &no, sizeof(no) };
	kt[nk++] = (CK_ATTRIBUTE){ CKA_ID, (void *)g->id, g->id_len };
	kt[nk++] = (CK_ATTRIBUTE){ CKA_LABEL, (void *)g->label, strlen(g->label) };
	if (g->kt->sign) {
		pt[np++] = (CK_ATTRIBUTE){ CKA_VERIFY, &yes, sizeof(yes) };
		kt[nk++] = (CK_ATTRIBUTE){ CKA_SIGN, &yes, sizeof(yes) };
	}
	if (g->kt->decrypt) {
		pt[np++] = (CK_ATTRIBUTE){ CKA_ENCRYPT, &yes, sizeof(yes) };
		kt[nk++] = (CK_ATTRIBUTE){ CKA_DECRYPT, &yes, sizeof(yes) };
	}
	if (g->kt->derive)
		kt[nk++] = (CK_ATTRIBUTE){ CKA_DERIVE, &yes, sizeof(yes) };
	if (type == CKK_RSA) {
		pt[np++] = (CK_ATTRIBUTE){ CKA_MODULUS_BITS, &bits, sizeof(bits) };
		pt[np++] = (CK_ATTRIBUTE){ CKA_PUBLIC_EXPONENT, exponent, sizeof(exponent) };
	} else if (ec_params(g->kt, &params, &params_len) == EXIT_OK) {
		pt[np++] = (CK_ATTRIBUTE){ CKA_EC_PARAMS, (void *)params, params_len };
	}
	spin = spinner_start("generating the key on the token...");
	rv = t->mod->f->C_GenerateKeyPair(s, &mech, pt, np, kt, nk, pub, priv);
	spinner_stop(spin);
	return rv;
}

static int check_mechanism(struct tool *t, const struct token *tok, const struct key_type *kt)
{
	CK_MECHANISM_INFO info;
	CK_RV rv = t->mod->f->C_GetMechanismInfo(tok->slot, kt->mech, &info);

	if (rv == CKR_MECHANISM_INVALID || (rv == CKR_OK && !(info.flags & CKF_GENERATE_KEY_PAIR)))
		return fail(EXIT_UNSUPPORTED, "'%s' cannot generate %s keys", tok->label, kt->text);
	if (rv != CKR_OK)
		return fail_rv(rv, "asking the token what it can do");
	if (kt->bits > 0 && (kt->bits < info.ulMinKeySize || kt->bits > info.ulMaxKeySize))
		return fail(EXIT_UNSUPPORTED, "'%s' cannot generate %s keys (RSA %lu to %lu bits)", tok->label,
			    kt->text, (unsigned long)info.ulMinKeySize, (unsigned long)info.ulMaxKeySize);
	return EXIT_OK;
}

int cmd_keygen(struct tool *t)
{
	const struct key_type *kt = find_key_type(t->o.type);
	struct keygen g = { .kt = kt, .label = t->o.label };
	struct key_job job;
	struct token tok;
	CK_OBJECT_HANDLE pub, priv;
	char uri[512];
	CK_RV rv;
	int code;

	if (kt == NULL)
		return fail(EXIT_USAGE, "keygen needs --type: rsa2048, rsa3072, rsa4096, p256, p384, ed25519 or x25519");
	code = job_open(t, &tok, &job);
	if (code != EXIT_OK)
		return code;
	code = check_mechanism(t, &tok, kt);
	if (code == EXIT_OK)
		code = job_choose_id(t, &job, g.id, sizeof(g.id), &g.id_len);
	if (code == EXIT_OK)
		code = job_confirm_replace(t, &tok, &job, "generating a new key");
	if (code != EXIT_OK)
		goto out;
	if (g.label == NULL)
		g.label = kt->name;
	rv = generate(t, job.session, &g, &pub, &priv);
	if (rv != CKR_OK) {
		code = fail_rv(rv, "generating the key");
		goto out;
	}
	code = job_remove_old(t, &job);
	hex_text(g.id, g.id_len, uri, sizeof(uri));
	printf("New %s key pair on '%s': id %s, label \"%s\".\n", kt->text, tok.label, uri, g.label);
	object_uri(&tok, g.id, g.id_len, "private", uri, sizeof(uri));
	printf("Its URI: %s\n", uri);
	if (!kt->sign)
		printf("An %s key agrees on secrets (ECDH) and cannot sign: no certificate request (csr) can be made "
		       "for it; its certificate comes from a CA that certifies it another way.\n", kt->text);
out:
	job_close(t, &job);
	return code;
}

/* ---- delete ---- */

static CK_RV collect(struct tool *t, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, CK_OBJECT_HANDLE **all, size_t *n)
{
	CK_OBJECT_HANDLE *found, *grown;
	size_t count;
	CK_RV rv = select_objects_rv(t->mod, s, &t->sel, cls, &found, &count);

	if (rv != CKR_OK || count == 0)
		return rv;
	grown = realloc(*all, (*n + count) * sizeof(*grown));
	if (grown == NULL) {
		free(found);
		return CKR_HOST_MEMORY;
	}
	memcpy(grown + *n, found, count * sizeof(*found));
	*all = grown;
	*n += count;
	free(found);
	return CKR_OK;
}

static int delete_what(const char *type, bool *certs, bool *keys)
{
	*certs = type == NULL || strcmp(type, "all") == 0 || strcmp(type, "cert") == 0;
	*keys = type == NULL || strcmp(type, "all") == 0 || strcmp(type, "key") == 0;
	return *certs || *keys ? EXIT_OK : fail(EXIT_USAGE, "--type for delete: cert, key or all");
}

int cmd_delete(struct tool *t)
{
	CK_OBJECT_HANDLE *list = NULL;
	size_t n = 0, first_public;
	bool certs, keys;
	struct key_job job;
	struct token tok;
	CK_RV rv = CKR_OK;
	int code = delete_what(t->o.type, &certs, &keys);

	if (code != EXIT_OK)
		return code;
	if (!selector_names_object(&t->sel))
		return fail(EXIT_USAGE, "delete needs --id, --label or a URI naming the object");
	code = job_open(t, &tok, &job);
	if (code != EXIT_OK)
		return code;
	if (certs)
		rv = collect(t, job.session, CKO_CERTIFICATE, &list, &n);
	if (rv == CKR_OK && keys)
		rv = collect(t, job.session, CKO_PRIVATE_KEY, &list, &n);
	first_public = n;
	if (rv == CKR_OK && keys)
		rv = collect(t, job.session, CKO_PUBLIC_KEY, &list, &n);
	if (rv != CKR_OK) {
		code = fail_rv(rv, "finding the objects");
		goto out;
	}
	if (n == 0) {
		code = fail(EXIT_NOT_FOUND, "nothing on '%s' matches the selection", tok.label);
		goto out;
	}
	note("Deleting from '%s':", tok.label);
	for (size_t i = 0; i < n; i++)
		describe_object(t->mod, job.session, list[i]);
	code = confirm_destruction(t, &tok, "deleting");
	for (size_t i = 0; code == EXIT_OK && i < n; i++) {
		rv = t->mod->f->C_DestroyObject(job.session, list[i]);
		/* On a card a public key exists only with its private key, and went with it. */
		if (rv == CKR_OBJECT_HANDLE_INVALID && i >= first_public && token_is_card(&tok))
			rv = CKR_OK;
		if (rv != CKR_OK)
			code = fail_rv(rv, "deleting");
	}
	if (code == EXIT_OK)
		printf("Deleted %zu object%s from '%s'.\n", n, n == 1 ? "" : "s", tok.label);
out:
	free(list);
	job_close(t, &job);
	return code;
}
