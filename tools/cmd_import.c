/* import-cert and import-p12: certificates and keys coming onto the token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "crypto/ecdsa.h"
#include "crypto/privkey.h"
#include "tools/commands.h"
#include "tools/confirm.h"
#include "tools/files.h"
#include "tools/job.h"
#include "tools/objects.h"
#include "tools/secret.h"
#include "tools/select.h"

/* PKCS#11 CKA_CERTIFICATE_CATEGORY values. */
#define CATEGORY_TOKEN_USER 1
#define CATEGORY_AUTHORITY 2

struct found_key {
	bool found;
	uint8_t id[64];
	size_t id_len;
	char label[129];
};

/* Looks through the keys of one class for the public key the certificate carries. */
static CK_RV match_class(struct module *m, CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const struct cr_pubkey *want,
			 struct found_key *fk)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE *list;
	size_t n;
	CK_RV rv = find_all_rv(m, s, tmpl, 1, &list, &n);

	for (size_t i = 0; rv == CKR_OK && i < n && !fk->found; i++) {
		struct cr_pubkey have;
		struct cr_bytes id;

		rv = object_pubkey_rv(m, s, list[i], &have);
		if (rv == CKR_OK && pubkeys_equal(&have, want) && attr_read_rv(m, s, list[i], CKA_ID, &id) == CKR_OK) {
			fk->found = id.len <= sizeof(fk->id);
			fk->id_len = fk->found ? id.len : 0;
			if (id.len > 0 && fk->found)
				memcpy(fk->id, id.data, id.len);
			object_label(m, s, list[i], fk->label, sizeof(fk->label));
			bytes_free(&id);
		}
		cr_pubkey_clear(&have);
	}
	free(list);
	return rv;
}

static CK_RV find_key_of(struct module *m, CK_SESSION_HANDLE s, const struct cr_pubkey *want, struct found_key *fk)
{
	CK_RV rv;

	memset(fk, 0, sizeof(*fk));
	rv = match_class(m, s, CKO_PRIVATE_KEY, want, fk);
	if (rv == CKR_OK && !fk->found)
		rv = match_class(m, s, CKO_PUBLIC_KEY, want, fk);
	return rv;
}

struct new_cert {
	const struct cr_bytes *der;
	const struct cert_info *ci;
	const uint8_t *id;
	size_t id_len;
	const char *label;
	CK_ULONG category;
};

static CK_RV store_cert(struct module *m, CK_SESSION_HANDLE s, const struct new_cert *nc)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE type = CKC_X_509;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_ULONG category = nc->category;
	const struct cr_cert *c = &nc->ci->cert;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &type, sizeof(type) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &no, sizeof(no) },
		{ CKA_LABEL, (void *)nc->label, strlen(nc->label) },
		{ CKA_SUBJECT, c->subject.data, c->subject.len },
		{ CKA_ISSUER, c->issuer.data, c->issuer.len },
		{ CKA_SERIAL_NUMBER, c->serial.data, c->serial.len },
		{ CKA_VALUE, nc->der->data, nc->der->len },
		{ CKA_CERTIFICATE_CATEGORY, &category, sizeof(category) },
		{ CKA_ID, (void *)nc->id, nc->id_len },
	};
	CK_OBJECT_HANDLE h;

	return m->f->C_CreateObject(s, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &h);
}

/* Certificates under the ID: an identical one means there is nothing to do. */
struct held_certs {
	CK_OBJECT_HANDLE *list;
	size_t n;
	bool same;
};

static CK_RV certs_with_id(struct module *m, CK_SESSION_HANDLE s, const uint8_t *id, size_t id_len,
			   const struct cr_bytes *der, struct held_certs *held)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, (void *)id, id_len } };
	CK_RV rv = find_all_rv(m, s, tmpl, 2, &held->list, &held->n);

	held->same = false;
	for (size_t i = 0; rv == CKR_OK && i < held->n; i++) {
		struct cr_bytes value;

		rv = attr_read_rv(m, s, held->list[i], CKA_VALUE, &value);
		held->same |= rv == CKR_OK && value.len == der->len && memcmp(value.data, der->data, der->len) == 0;
		bytes_free(&value);
	}
	return rv;
}

/* The label a new object gets: --label, else what the source suggests, else the subject's CN. */
static const char *pick_label(const struct tool *t, const char *suggested, const struct cert_info *ci)
{
	if (t->o.label != NULL)
		return t->o.label;
	if (suggested != NULL && *suggested != '\0')
		return suggested;
	return ci->cert.cn != NULL ? ci->cert.cn : "certificate";
}

/* The ID for the certificate: its key's, or --id when no key matches. */
static int cert_id(struct tool *t, const struct found_key *fk, uint8_t *id, size_t *id_len)
{
	char key_hex[129];

	if (fk->found && t->sel.has_id && (fk->id_len != t->sel.id_len || memcmp(fk->id, t->sel.id, fk->id_len) != 0)) {
		hex_text(fk->id, fk->id_len, key_hex, sizeof(key_hex));
		return fail(EXIT_USAGE, "the certificate's key has the ID %s on the token, not %s", key_hex, t->o.id_hex);
	}
	if (fk->found) {
		memcpy(id, fk->id, fk->id_len);
		*id_len = fk->id_len;
		return EXIT_OK;
	}
	if (t->sel.has_id) {
		memcpy(id, t->sel.id, t->sel.id_len);
		*id_len = t->sel.id_len;
		return EXIT_OK;
	}
	return fail(EXIT_NOT_FOUND, "no key on the token matches this certificate's public key: generate the key and "
				    "its request on the token first, or give --id to store the certificate alone");
}

static int check_replace(struct tool *t, CK_SESSION_HANDLE s, const struct held_certs *held)
{
	if (held->n == 0 || t->o.replace)
		return EXIT_OK;
	note("The ID holds another certificate:");
	for (size_t i = 0; i < held->n; i++)
		describe_object(t->mod, s, held->list[i]);
	return fail(EXIT_REFUSED, "replacing it needs --replace");
}

static int remove_objects(struct tool *t, CK_SESSION_HANDLE s, const CK_OBJECT_HANDLE *list, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		CK_RV rv = t->mod->f->C_DestroyObject(s, list[i]);

		if (rv != CKR_OK)
			return fail_rv(rv, "removing the certificate it replaces");
	}
	return EXIT_OK;
}

int cmd_import_cert(struct tool *t)
{
	struct cr_bytes der = { 0 };
	struct held_certs held = { 0 };
	struct found_key fk;
	struct cert_info ci;
	struct key_job job = { 0 };
	struct token tok;
	uint8_t id[64];
	size_t id_len = 0;
	char id_hex[129];
	CK_RV rv;
	int code = cert_from_file(t->o.args[0], &der);

	if (code != EXIT_OK)
		return code;
	if (cert_info_read(der.data, der.len, &ci) != EXIT_OK) {
		free(der.data);
		return fail(EXIT_UNSUPPORTED, "%s: a certificate signet cannot use (its key is not RSA, EC or Ed25519)",
			    t->o.args[0]);
	}
	code = job_open(t, &tok, &job);
	if (code != EXIT_OK)
		goto out;
	rv = find_key_of(t->mod, job.session, &ci.cert.key, &fk);
	code = rv == CKR_OK ? cert_id(t, &fk, id, &id_len) : fail_rv(rv, "reading the keys");
	if (code == EXIT_OK) {
		rv = certs_with_id(t->mod, job.session, id, id_len, &der, &held);
		code = rv == CKR_OK ? EXIT_OK : fail_rv(rv, "reading the certificates");
	}
	hex_text(id, id_len, id_hex, sizeof(id_hex));
	if (code == EXIT_OK && held.same) {
		printf("'%s' holds this certificate already (id %s).\n", tok.label, id_hex);
		goto out;
	}
	if (code == EXIT_OK)
		code = check_replace(t, job.session, &held);
	if (code == EXIT_OK) {
		struct new_cert nc = { &der, &ci, id, id_len, pick_label(t, fk.label, &ci),
				       fk.found ? CATEGORY_TOKEN_USER : 0 };

		rv = store_cert(t->mod, job.session, &nc);
		code = rv == CKR_OK ? remove_objects(t, job.session, held.list, held.n)
				    : fail_rv(rv, "storing the certificate");
	}
	if (code == EXIT_OK)
		printf("Stored the certificate %s on '%s' with id %s%s.\n", ci.subject, tok.label, id_hex,
		       fk.found ? ", next to its key" : " (no key of its own on the token)");
out:
	free(held.list);
	cert_info_clear(&ci);
	free(der.data);
	job_close(t, &job);
	return code;
}

/* ---- import-p12 ---- */

struct p12_contents {
	EVP_PKEY *pkey;
	X509 *cert;
	STACK_OF(X509) *chain;
	struct cr_privkey key;
	struct cr_bytes cert_der;
	struct cert_info ci;
	char friendly[129];
};

static void p12_clear(struct p12_contents *p)
{
	EVP_PKEY_free(p->pkey);
	X509_free(p->cert);
	sk_X509_pop_free(p->chain, X509_free);
	cr_privkey_clear(&p->key);
	free(p->cert_der.data);
	cert_info_clear(&p->ci);
	memset(p, 0, sizeof(*p));
}

/* PKCS12_parse, once more with the legacy provider for files made with RC2 or 3DES. */
static bool p12_parse(PKCS12 *p12, const struct secret *password, struct p12_contents *p)
{
	OSSL_PROVIDER *legacy, *deflt;
	bool ok;

	if (PKCS12_parse(p12, password->v, &p->pkey, &p->cert, &p->chain) == 1)
		return true;
	legacy = OSSL_PROVIDER_load(NULL, "legacy");
	deflt = OSSL_PROVIDER_load(NULL, "default"); /* loading one provider explicitly drops the implicit default */
	ERR_clear_error();
	ok = legacy != NULL && deflt != NULL && PKCS12_parse(p12, password->v, &p->pkey, &p->cert, &p->chain) == 1;
	if (legacy != NULL)
		OSSL_PROVIDER_unload(legacy);
	if (deflt != NULL)
		OSSL_PROVIDER_unload(deflt);
	return ok;
}

/* The key as cr_privkey_parse() reads it (DER, wiped after). */
static int p12_key(struct p12_contents *p, const char *path)
{
	unsigned char *der = NULL;
	int n = i2d_PrivateKey(p->pkey, &der);
	int rc = n > 0 ? cr_privkey_parse(der, (size_t)n, &p->key) : CR_E_DATA;

	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)n);
	if (rc == CR_E_UNSUPPORTED)
		return fail(EXIT_UNSUPPORTED, "%s: the key is neither RSA, EC nor Ed25519", path);
	return rc == CR_OK ? EXIT_OK : fail(EXIT_ERROR, "%s: the key cannot be read", path);
}

static int p12_read(struct tool *t, const char *path, struct p12_contents *p)
{
	struct cr_bytes data;
	struct secret password;
	unsigned char *der = NULL;
	const unsigned char *q;
	PKCS12 *p12;
	char what[300];
	int n, code = file_read(path, &data);

	memset(p, 0, sizeof(*p));
	if (code != EXIT_OK)
		return code;
	q = data.data;
	p12 = d2i_PKCS12(NULL, &q, (long)data.len);
	free(data.data);
	if (p12 == NULL)
		return fail(EXIT_USAGE, "%s is not a PKCS#12 (.p12, .pfx) file", path);
	snprintf(what, sizeof(what), "password of %s", path);
	code = secret_get(t, SECRET_P12_PASSWORD, what, false, &password);
	if (code == EXIT_OK && !p12_parse(p12, &password, p))
		code = fail(EXIT_USAGE, "%s: wrong password, or a damaged file", path);
	secret_wipe(&password);
	PKCS12_free(p12);
	if (code == EXIT_OK && (p->pkey == NULL || p->cert == NULL))
		code = fail(EXIT_USAGE, "%s does not hold both a private key and its certificate", path);
	if (code == EXIT_OK)
		code = p12_key(p, path);
	if (code == EXIT_OK) {
		n = i2d_X509(p->cert, &der);
		code = n > 0 && cert_info_read(der, (size_t)n, &p->ci) == EXIT_OK
			       ? EXIT_OK
			       : fail(EXIT_UNSUPPORTED, "%s: a certificate signet cannot use", path);
		if (n > 0 && (p->cert_der.data = malloc((size_t)n)) != NULL) {
			memcpy(p->cert_der.data, der, (size_t)n);
			p->cert_der.len = (size_t)n;
		}
		OPENSSL_free(der);
	}
	if (code == EXIT_OK && !pubkeys_equal(&p->key.pub, &p->ci.cert.key))
		code = fail(EXIT_USAGE, "%s: the certificate is not the key's", path);
	if (code == EXIT_OK && X509_alias_get0(p->cert, NULL) != NULL)
		snprintf(p->friendly, sizeof(p->friendly), "%s", (const char *)X509_alias_get0(p->cert, NULL));
	if (code != EXIT_OK)
		p12_clear(p);
	return code;
}

/* The key type's attributes of both objects: the private parts, and the public ones on both. */
struct key_templates {
	CK_ATTRIBUTE priv[24], pub[16];
	CK_ULONG npriv, npub;
	CK_OBJECT_CLASS priv_class, pub_class;
	CK_KEY_TYPE type;
	CK_BBOOL yes, no;
};

#define ADD(list, n, t, p, l) ((list)[(n)++] = (CK_ATTRIBUTE){ (t), (void *)(p), (l) })
#define ADD_BYTES(list, n, t, b) ADD(list, n, t, (b).data, (b).len)

static int key_specific(const struct cr_privkey *k, struct key_templates *kt)
{
	const uint8_t *params;
	size_t params_len;

	switch (k->type) {
	case CR_KEY_RSA:
		kt->type = CKK_RSA;
		ADD_BYTES(kt->priv, kt->npriv, CKA_MODULUS, k->pub.modulus);
		ADD_BYTES(kt->priv, kt->npriv, CKA_PUBLIC_EXPONENT, k->pub.exponent);
		ADD_BYTES(kt->priv, kt->npriv, CKA_PRIVATE_EXPONENT, k->d);
		ADD_BYTES(kt->priv, kt->npriv, CKA_PRIME_1, k->p);
		ADD_BYTES(kt->priv, kt->npriv, CKA_PRIME_2, k->q);
		ADD_BYTES(kt->priv, kt->npriv, CKA_EXPONENT_1, k->dp);
		ADD_BYTES(kt->priv, kt->npriv, CKA_EXPONENT_2, k->dq);
		ADD_BYTES(kt->priv, kt->npriv, CKA_COEFFICIENT, k->qinv);
		ADD(kt->priv, kt->npriv, CKA_DECRYPT, &kt->yes, sizeof(kt->yes));
		ADD_BYTES(kt->pub, kt->npub, CKA_MODULUS, k->pub.modulus);
		ADD_BYTES(kt->pub, kt->npub, CKA_PUBLIC_EXPONENT, k->pub.exponent);
		ADD(kt->pub, kt->npub, CKA_ENCRYPT, &kt->yes, sizeof(kt->yes));
		return EXIT_OK;
	case CR_KEY_EC:
	case CR_KEY_ED25519:
		kt->type = k->type == CR_KEY_EC ? CKK_EC : CKK_EC_EDWARDS;
		if (cr_curve_params(k->curve, &params, &params_len) != CR_OK)
			return fail(EXIT_UNSUPPORTED, "keys on this curve cannot be imported");
		ADD(kt->priv, kt->npriv, CKA_EC_PARAMS, params, params_len);
		ADD_BYTES(kt->priv, kt->npriv, CKA_VALUE, k->value);
		if (k->type == CR_KEY_EC)
			ADD(kt->priv, kt->npriv, CKA_DERIVE, &kt->yes, sizeof(kt->yes));
		ADD(kt->pub, kt->npub, CKA_EC_PARAMS, params, params_len);
		ADD_BYTES(kt->pub, kt->npub, CKA_EC_POINT, k->pub.ec_point);
		return EXIT_OK;
	case CR_KEY_X25519: /* a key file never gives one (cr_privkey reads signing keys) */
	case CR_KEY_NONE:
		break;
	}
	return fail(EXIT_UNSUPPORTED, "this key type cannot be imported");
}

static int build_key_templates(const struct cr_privkey *k, const uint8_t *id, size_t id_len, const char *label,
			       struct key_templates *kt)
{
	memset(kt, 0, sizeof(*kt));
	kt->priv_class = CKO_PRIVATE_KEY;
	kt->pub_class = CKO_PUBLIC_KEY;
	kt->yes = CK_TRUE;
	kt->no = CK_FALSE;
	if (key_specific(k, kt) != EXIT_OK)
		return EXIT_UNSUPPORTED;
	ADD(kt->priv, kt->npriv, CKA_CLASS, &kt->priv_class, sizeof(kt->priv_class));
	ADD(kt->priv, kt->npriv, CKA_KEY_TYPE, &kt->type, sizeof(kt->type));
	ADD(kt->priv, kt->npriv, CKA_TOKEN, &kt->yes, sizeof(kt->yes));
	ADD(kt->priv, kt->npriv, CKA_PRIVATE, &kt->yes, sizeof(kt->yes));
	ADD(kt->priv, kt->npriv, CKA_SENSITIVE, &kt->yes, sizeof(kt->yes));
	ADD(kt->priv, kt->npriv, CKA_EXTRACTABLE, &kt->no, sizeof(kt->no));
	ADD(kt->priv, kt->npriv, CKA_SIGN, &kt->yes, sizeof(kt->yes));
	ADD(kt->priv, kt->npriv, CKA_ID, id, id_len);
	ADD(kt->priv, kt->npriv, CKA_LABEL, label, strlen(label));
	ADD(kt->pub, kt->npub, CKA_CLASS, &kt->pub_class, sizeof(kt->pub_class));
	ADD(kt->pub, kt->npub, CKA_KEY_TYPE, &kt->type, sizeof(kt->type));
	ADD(kt->pub, kt->npub, CKA_TOKEN, &kt->yes, sizeof(kt->yes));
	ADD(kt->pub, kt->npub, CKA_PRIVATE, &kt->no, sizeof(kt->no));
	ADD(kt->pub, kt->npub, CKA_VERIFY, &kt->yes, sizeof(kt->yes));
	ADD(kt->pub, kt->npub, CKA_ID, id, id_len);
	ADD(kt->pub, kt->npub, CKA_LABEL, label, strlen(label));
	return EXIT_OK;
}

static int store_key(struct tool *t, CK_SESSION_HANDLE s, const struct p12_contents *p, const uint8_t *id,
		     size_t id_len, const char *label)
{
	struct key_templates kt;
	CK_OBJECT_HANDLE priv, pub;
	CK_RV rv;
	int code = build_key_templates(&p->key, id, id_len, label, &kt);

	if (code != EXIT_OK)
		return code;
	rv = t->mod->f->C_CreateObject(s, kt.priv, kt.npriv, &priv);
	if (rv == CKR_OK) {
		rv = t->mod->f->C_CreateObject(s, kt.pub, kt.npub, &pub);
		if (rv != CKR_OK)
			t->mod->f->C_DestroyObject(s, priv);
	}
	return rv == CKR_OK ? EXIT_OK : fail_rv(rv, "storing the key");
}

/* The chain's certificates, without an ID (no key of theirs is on the token); ones already there are kept. */
static int store_chain(struct tool *t, CK_SESSION_HANDLE s, STACK_OF(X509) *chain, int *stored)
{
	*stored = 0;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		unsigned char *enc = NULL;
		int n = i2d_X509(sk_X509_value(chain, i), &enc);
		struct cr_bytes der = { enc, n > 0 ? (size_t)n : 0 };
		CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
		CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_VALUE, der.data, der.len } };
		CK_OBJECT_HANDLE *same = NULL;
		struct cert_info ci;
		size_t nsame = 0;
		CK_RV rv = CKR_OK;

		if (n > 0 && cert_info_read(der.data, der.len, &ci) == EXIT_OK) {
			rv = find_all_rv(t->mod, s, tmpl, 2, &same, &nsame);
			if (rv == CKR_OK && nsame == 0) {
				struct new_cert nc = { &der, &ci, NULL, 0, ci.cert.cn != NULL ? ci.cert.cn : "CA",
						       CATEGORY_AUTHORITY };

				rv = store_cert(t->mod, s, &nc);
				*stored += rv == CKR_OK;
			}
			cert_info_clear(&ci);
		}
		free(same);
		OPENSSL_free(enc);
		if (rv != CKR_OK)
			return fail_rv(rv, "storing a CA certificate");
	}
	return EXIT_OK;
}

int cmd_import_p12(struct tool *t)
{
	const char *path = t->o.args[0];
	struct p12_contents p;
	struct key_job job = { 0 };
	struct token tok;
	uint8_t id[64];
	size_t id_len;
	const char *label;
	int chain = 0, code = p12_read(t, path, &p);

	if (code != EXIT_OK)
		return code;
	code = job_open(t, &tok, &job);
	if (code == EXIT_OK)
		code = job_choose_id(t, &job, id, sizeof(id), &id_len);
	if (code == EXIT_OK)
		code = job_confirm_replace(t, &tok, &job, "importing the key");
	if (code != EXIT_OK)
		goto out;
	label = pick_label(t, p.friendly, &p.ci);
	code = store_key(t, job.session, &p, id, id_len, label);
	if (code == EXIT_OK) {
		/* What the ID held goes before the new certificate comes, so that only the new one has the ID. */
		code = job_remove_old(t, &job);
	}
	if (code == EXIT_OK) {
		struct new_cert nc = { &p.cert_der, &p.ci, id, id_len, label, CATEGORY_TOKEN_USER };
		CK_RV rv = store_cert(t->mod, job.session, &nc);

		code = rv == CKR_OK ? store_chain(t, job.session, p.chain, &chain) : fail_rv(rv, "storing the certificate");
	}
	if (code == EXIT_OK) {
		char id_hex[129];

		hex_text(id, id_len, id_hex, sizeof(id_hex));
		printf("Imported into '%s' with id %s, label \"%s\": the %s key and its certificate %s", tok.label, id_hex,
		       label, p.ci.key.text, p.ci.subject);
		printf(chain > 0 ? ", and %d CA certificate%s.\n" : ".\n", chain, chain == 1 ? "" : "s");
	}
out:
	p12_clear(&p);
	job_close(t, &job);
	return code;
}
