#include "tools/signing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cr.h"
#include "crypto/ecdsa.h"
#include "tools/files.h"
#include "tools/login.h"
#include "tools/objects.h"
#include "tools/select.h"

struct hash_mechs {
	const char *name;
	const char *text;
	enum cr_hash hash;
	CK_MECHANISM_TYPE digest, mgf, rsa_pkcs, rsa_pss, ecdsa;
};

static const struct hash_mechs hashes[] = {
	{ "sha256", "SHA-256", CR_HASH_SHA256, CKM_SHA256, CKG_MGF1_SHA256, CKM_SHA256_RSA_PKCS,
	  CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256 },
	{ "sha384", "SHA-384", CR_HASH_SHA384, CKM_SHA384, CKG_MGF1_SHA384, CKM_SHA384_RSA_PKCS,
	  CKM_SHA384_RSA_PKCS_PSS, CKM_ECDSA_SHA384 },
	{ "sha512", "SHA-512", CR_HASH_SHA512, CKM_SHA512, CKG_MGF1_SHA512, CKM_SHA512_RSA_PKCS,
	  CKM_SHA512_RSA_PKCS_PSS, CKM_ECDSA_SHA512 },
};

static const struct hash_mechs *find_hash(const char *name)
{
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (strcmp(hashes[i].name, name) == 0)
			return &hashes[i];
	return NULL;
}

const char *hash_option_name(enum cr_hash h)
{
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (hashes[i].hash == h)
			return hashes[i].name;
	return "?";
}

const char *key_sig_name(const struct cr_pubkey *pub)
{
	switch (pub->type) {
	case CR_KEY_RSA:
		return "RSA";
	case CR_KEY_EC:
		return "ECDSA";
	case CR_KEY_ED25519:
		return "Ed25519";
	case CR_KEY_X25519: /* a key agreement key: it cannot sign */
	case CR_KEY_NONE:
		break;
	}
	return "?";
}

static const char *default_hash(const struct cr_pubkey *pub)
{
	if (pub->type == CR_KEY_EC && pub->curve == CR_CURVE_P384)
		return "sha384";
	if (pub->type == CR_KEY_EC && pub->curve == CR_CURVE_P521)
		return "sha512";
	return "sha256";
}

/* The plan for one hash; the key type decides the mechanism. */
static void fill_plan(const struct hash_mechs *hm, enum cr_key_type type, bool pss, size_t ec_field,
		      struct sign_plan *p)
{
	memset(p, 0, sizeof(*p));
	p->hash = hm->hash;
	if (type == CR_KEY_RSA && pss) {
		p->pss = (CK_RSA_PKCS_PSS_PARAMS){ hm->digest, hm->mgf, cr_hash_size(hm->hash) };
		p->mech = (CK_MECHANISM){ hm->rsa_pss, &p->pss, sizeof(p->pss) };
		p->scheme = CR_SCHEME_RSA_PSS;
		snprintf(p->text, sizeof(p->text), "RSA-PSS with %s", hm->text);
	} else if (type == CR_KEY_RSA) {
		p->mech = (CK_MECHANISM){ hm->rsa_pkcs, NULL, 0 };
		p->scheme = CR_SCHEME_RSA_PKCS1;
		snprintf(p->text, sizeof(p->text), "RSA PKCS#1 v1.5 with %s", hm->text);
	} else {
		p->mech = (CK_MECHANISM){ hm->ecdsa, NULL, 0 };
		p->scheme = CR_SCHEME_ECDSA;
		p->ec_field = ec_field;
		snprintf(p->text, sizeof(p->text), "ECDSA with %s", hm->text);
	}
}

int sign_plan_for(const struct cr_pubkey *pub, const char *hash_name, bool pss, struct sign_plan *p)
{
	const struct hash_mechs *hm;

	memset(p, 0, sizeof(*p));
	if (pss && pub->type != CR_KEY_RSA)
		return fail(EXIT_USAGE, "--pss is for RSA keys");
	if (pub->type == CR_KEY_ED25519) {
		if (hash_name != NULL)
			return fail(EXIT_USAGE, "Ed25519 signs the whole file: no --hash");
		p->mech = (CK_MECHANISM){ CKM_EDDSA, NULL, 0 };
		p->eddsa = true;
		snprintf(p->text, sizeof(p->text), "Ed25519");
		return EXIT_OK;
	}
	if (pub->type != CR_KEY_RSA && pub->type != CR_KEY_EC)
		return fail(EXIT_UNSUPPORTED, "this key cannot sign");
	hm = find_hash(hash_name != NULL ? hash_name : default_hash(pub));
	if (hm == NULL)
		return fail(EXIT_USAGE, "--hash: sha256, sha384 or sha512");
	fill_plan(hm, pub->type, pss, (pub->bits + 7) / 8, p);
	return EXIT_OK;
}

int sig_alg_for(const struct cr_pubkey *pub, bool pss, enum cr_sig_alg *alg)
{
	if (pub->type == CR_KEY_RSA) {
		*alg = pss ? CR_SIG_RSA_PSS_SHA256 : CR_SIG_RSA_PKCS1_SHA256;
		return EXIT_OK;
	}
	if (pss)
		return fail(EXIT_USAGE, "--pss is for RSA keys");
	if (pub->type == CR_KEY_ED25519) {
		*alg = CR_SIG_ED25519;
		return EXIT_OK;
	}
	if (pub->type == CR_KEY_EC && pub->curve == CR_CURVE_P256) {
		*alg = CR_SIG_ECDSA_SHA256;
		return EXIT_OK;
	}
	if (pub->type == CR_KEY_EC && pub->curve == CR_CURVE_P384) {
		*alg = CR_SIG_ECDSA_SHA384;
		return EXIT_OK;
	}
	return fail(EXIT_UNSUPPORTED, "requests, certificates and CMS signatures are made with RSA, P-256, P-384 "
				      "and Ed25519 keys only");
}

/* ---- the key ---- */

/* The public half: on the private key object itself, or on the public key with the same ID. */
static CK_RV public_half(struct module *m, CK_SESSION_HANDLE s, struct signing_key *k)
{
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, k->id, k->id_len } };
	CK_OBJECT_HANDLE *list;
	size_t n;
	CK_RV rv = object_pubkey_rv(m, s, k->priv, &k->pub);

	if (rv != CKR_OK || k->pub.type != CR_KEY_NONE)
		return rv;
	rv = find_all_rv(m, s, tmpl, 2, &list, &n);
	if (rv == CKR_OK && n > 0)
		rv = object_pubkey_rv(m, s, list[0], &k->pub);
	free(list);
	return rv;
}

int signing_key_find(struct tool *t, CK_SESSION_HANDLE s, struct signing_key *k)
{
	CK_KEY_TYPE type;
	struct cr_bytes id;
	CK_RV rv;
	int code;

	memset(k, 0, sizeof(*k));
	code = select_one(t, s, CKO_PRIVATE_KEY, "key", &k->priv);
	if (code != EXIT_OK)
		return code;
	if (attr_ulong(t->mod, s, k->priv, CKA_KEY_TYPE, &type) && type == CKK_EC_MONTGOMERY)
		return fail(EXIT_UNSUPPORTED, "the selected key is an X25519 key: it agrees on secrets (ECDH) and cannot "
					      "sign, so no request or signature can be made with it");
	rv = attr_read_rv(t->mod, s, k->priv, CKA_ID, &id);
	if (rv == CKR_OK && id.len > 0 && id.len <= sizeof(k->id)) {
		memcpy(k->id, id.data, id.len);
		k->id_len = id.len;
	}
	bytes_free(&id);
	hex_text(k->id, k->id_len, k->id_hex, sizeof(k->id_hex));
	object_label(t->mod, s, k->priv, k->label, sizeof(k->label));
	if (rv == CKR_OK)
		rv = public_half(t->mod, s, k);
	k->always_auth = attr_bool(t->mod, s, k->priv, CKA_ALWAYS_AUTHENTICATE);
	if (rv != CKR_OK)
		return fail_rv(rv, "reading the key");
	if (k->pub.type == CR_KEY_NONE)
		return fail(EXIT_UNSUPPORTED, "the key id %s has no public key the tool can read", k->id_hex);
	return EXIT_OK;
}

void signing_key_clear(struct signing_key *k)
{
	cr_pubkey_clear(&k->pub);
}

int key_certificate(struct tool *t, CK_SESSION_HANDLE s, const struct signing_key *k, struct cr_bytes *der)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, (void *)k->id, k->id_len } };
	CK_OBJECT_HANDLE *list;
	size_t n;
	CK_RV rv = find_all_rv(t->mod, s, tmpl, 2, &list, &n);

	der->data = NULL;
	der->len = 0;
	if (rv == CKR_OK && n > 0)
		rv = attr_read_rv(t->mod, s, list[0], CKA_VALUE, der);
	free(list);
	if (rv != CKR_OK)
		return fail_rv(rv, "reading the certificate");
	if (der->len == 0)
		return fail(EXIT_NOT_FOUND, "the key id %s has no certificate on the token: import it first "
					    "(signet-tool import-cert)",
			    k->id_hex);
	return EXIT_OK;
}

/* ---- signing on the token ---- */

/* C_SignInit, then the PIN again when the key wants it before each signature; failures are reported. */
static int sign_init(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct signing_key *k,
		     const CK_MECHANISM *mech, CK_RV *rv)
{
	*rv = t->mod->f->C_SignInit(s, (CK_MECHANISM_PTR)mech, k->priv);
	if (*rv != CKR_OK)
		return fail_rv(*rv, "signing");
	return k->always_auth ? login_context(t, tok, s) : EXIT_OK;
}

int token_sign_cb(void *ctx, enum cr_sig_alg alg, const uint8_t *tbs, size_t tbs_len, uint8_t *sig,
		  size_t *sig_len)
{
	struct token_signer *ts = ctx;
	const struct hash_mechs *hm = &hashes[alg == CR_SIG_ECDSA_SHA384 ? 1 : 0];
	bool rsa = alg == CR_SIG_RSA_PKCS1_SHA256 || alg == CR_SIG_RSA_PSS_SHA256;
	struct sign_plan p;
	CK_ULONG len = *sig_len;

	/* PureEdDSA: the whole to-be-signed bytes go to the token, which hashes nothing before. */
	if (alg == CR_SIG_ED25519)
		p.mech = (CK_MECHANISM){ CKM_EDDSA, NULL, 0 };
	else
		fill_plan(hm, rsa ? CR_KEY_RSA : CR_KEY_EC, alg == CR_SIG_RSA_PSS_SHA256, 0, &p);
	ts->code = sign_init(ts->t, ts->tok, ts->s, ts->key, &p.mech, &ts->rv);
	if (ts->code != EXIT_OK)
		return -1;
	ts->rv = ts->t->mod->f->C_Sign(ts->s, (CK_BYTE_PTR)tbs, tbs_len, sig, &len);
	*sig_len = len;
	return ts->rv == CKR_OK ? 0 : -1;
}

/* Feeds the file through C_SignUpdate; EdDSA, which cannot stream, gets it whole. */
static CK_RV sign_stream(struct module *m, CK_SESSION_HANDLE s, const struct sign_plan *p, const char *path,
			 uint8_t *sig, CK_ULONG *len, int *code)
{
	uint8_t chunk[65536];
	struct cr_bytes whole;
	FILE *f;
	size_t n;
	CK_RV rv = CKR_OK;

	if (p->eddsa) {
		*code = file_read(path, &whole);
		if (*code != EXIT_OK)
			return CKR_OK;
		rv = m->f->C_Sign(s, whole.data, whole.len, sig, len);
		free(whole.data);
		return rv;
	}
	f = fopen(path, "rb");
	if (f == NULL) {
		*code = fail(EXIT_USAGE, "cannot read %s: %s", path, strerror(errno));
		return CKR_OK;
	}
	while (rv == CKR_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rv = m->f->C_SignUpdate(s, chunk, n);
	if (rv == CKR_OK && ferror(f))
		*code = fail(EXIT_ERROR, "cannot read %s", path);
	fclose(f);
	if (rv == CKR_OK && *code == EXIT_OK)
		rv = m->f->C_SignFinal(s, sig, len);
	return rv;
}

int token_sign_file(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct signing_key *k,
		    const struct sign_plan *p, const char *path, uint8_t *sig, size_t *sig_len)
{
	uint8_t raw[CR_SIG_MAX_SIZE];
	CK_ULONG len = sizeof(raw);
	CK_RV rv;
	int code = sign_init(t, tok, s, k, &p->mech, &rv);

	if (code != EXIT_OK)
		return code;
	rv = sign_stream(t->mod, s, p, path, raw, &len, &code);
	if (code != EXIT_OK)
		return code;
	if (rv != CKR_OK)
		return fail_rv(rv, "signing");
	if (p->ec_field == 0) {
		if (len > *sig_len)
			return fail(EXIT_ERROR, "the signature is too long");
		memcpy(sig, raw, len);
		*sig_len = len;
		return EXIT_OK;
	}
	if (len != 2 * p->ec_field || cr_ecdsa_raw_to_der(raw, len, sig, sig_len) != CR_OK)
		return fail(EXIT_ERROR, "the token answered something that is not an ECDSA signature");
	return EXIT_OK;
}
