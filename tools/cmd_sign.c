/* sign and verify: the end-to-end test CAs ask users to run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/pem.h> /* before cms.h, which declares its PEM functions with pem.h's macros */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "crypto/cms_build.h"
#include "crypto/cr.h"
#include "crypto/verify.h"
#include "tools/commands.h"
#include "tools/files.h"
#include "tools/job.h"
#include "tools/json.h"
#include "tools/objects.h"
#include "tools/select.h"
#include "tools/signing.h"

static int sign_cms(struct tool *t, struct token *tok, CK_SESSION_HANDLE s, const struct signing_key *k,
		    const char *path, struct cr_bytes *out)
{
	struct cr_cms_request req = { .signing_time = time(NULL), .sign = token_sign_cb };
	struct token_signer ts = { t, tok, s, k, CKR_OK, EXIT_OK };
	uint8_t hash[CR_HASH_MAX_SIZE];
	size_t hash_len = sizeof(hash);
	struct cr_bytes cert;
	int rc, code = sig_alg_for(&k->pub, t->o.pss, &req.alg);

	if (code == EXIT_OK && t->o.hash != NULL && strcmp(t->o.hash, hash_option_name(cr_sig_alg_hash(req.alg))) != 0)
		code = fail(EXIT_UNSUPPORTED, "CMS signatures use SHA-256 (SHA-384 for P-384 keys, SHA-512 for Ed25519)");
	if (code == EXIT_OK)
		code = key_certificate(t, s, k, &cert);
	if (code != EXIT_OK)
		return code;
	code = hash_file(path, cr_sig_alg_hash(req.alg), hash, &hash_len);
	if (code == EXIT_OK) {
		req.cert = cert.data;
		req.cert_len = cert.len;
		req.content_hash = hash;
		req.content_hash_len = hash_len;
		req.sign_ctx = &ts;
		rc = cr_cms_build_detached(&req, &out->data, &out->len);
		if (rc == CR_E_SIGN && ts.code != EXIT_OK)
			code = ts.code;
		else if (rc == CR_E_SIGN && ts.rv != CKR_OK)
			code = fail_rv(ts.rv, "signing");
		else if (rc == CR_E_SIGN)
			code = fail(EXIT_ERROR, "the token's signature does not match the certificate of key id %s",
				    k->id_hex);
		else if (rc != CR_OK)
			code = fail(EXIT_ERROR, "building the CMS signature failed: %s", cr_rc_name(rc));
	}
	free(cert.data);
	return code;
}

int cmd_sign(struct tool *t)
{
	const char *path = t->o.args[0];
	struct signing_key k = { 0 };
	struct cr_bytes cms = { 0 };
	struct sign_plan plan;
	struct key_job job;
	struct token tok;
	uint8_t sig[CR_SIG_MAX_SIZE];
	size_t sig_len = sizeof(sig);
	char *out = NULL;
	int code = job_open(t, &tok, &job);

	if (code == EXIT_OK)
		code = signing_key_find(t, job.session, &k);
	if (code != EXIT_OK)
		goto done;
	out = t->o.out != NULL ? strdup(t->o.out) : path_with_suffix(path, t->o.cms ? ".p7s" : ".sig");
	if (out == NULL) {
		code = fail(EXIT_ERROR, "out of memory");
		goto done;
	}
	if (t->o.cms) {
		code = sign_cms(t, &tok, job.session, &k, path, &cms);
		if (code == EXIT_OK)
			code = file_write(out, cms.data, cms.len);
		if (code == EXIT_OK)
			note("Signed %s with key id %s of '%s' (%s): CMS signature in %s", path, k.id_hex, tok.label,
			     key_sig_name(&k.pub), out);
		goto done;
	}
	code = sign_plan_for(&k.pub, t->o.hash, t->o.pss, &plan);
	if (code == EXIT_OK)
		code = token_sign_file(t, &tok, job.session, &k, &plan, path, sig, &sig_len);
	if (code == EXIT_OK)
		code = file_write(out, sig, sig_len);
	if (code == EXIT_OK)
		note("Signed %s with key id %s of '%s' (%s): signature in %s", path, k.id_hex, tok.label, plan.text, out);
done:
	free(out);
	free(cms.data);
	signing_key_clear(&k);
	job_close(t, &job);
	return code;
}

/* ---- verify ---- */

struct verdict {
	bool valid;
	bool chain_checked;
	const char *kind; /* "raw" or "cms" */
	char signer[256]; /* the certificate's subject, when there is one */
	char algorithm[48];
	char why[128];    /* what was wrong, when not valid */
};

/* The key to check with: --cert, else the selected (or only) certificate of the token, else its public key. */
struct checker {
	struct cr_bytes cert;   /* DER, when the key comes with a certificate */
	struct cr_pubkey pub;
	char subject[256];
};

static void checker_clear(struct checker *c)
{
	free(c->cert.data);
	cr_pubkey_clear(&c->pub);
}

static int checker_from_cert(struct checker *c)
{
	struct cert_info ci;

	if (cert_info_read(c->cert.data, c->cert.len, &ci) != EXIT_OK)
		return fail(EXIT_UNSUPPORTED, "a certificate signet cannot use");
	snprintf(c->subject, sizeof(c->subject), "%s", ci.subject);
	c->pub = ci.cert.key;
	memset(&ci.cert.key, 0, sizeof(ci.cert.key)); /* moved to c */
	cert_info_clear(&ci);
	return EXIT_OK;
}

static int checker_from_token(struct tool *t, struct checker *c)
{
	CK_OBJECT_HANDLE *certs = NULL, *keys = NULL, pick;
	size_t ncerts = 0, nkeys = 0;
	CK_SESSION_HANDLE s;
	struct token tok;
	CK_RV rv;
	int code = select_token_session(t, false, &tok, &s);

	if (code != EXIT_OK)
		return code;
	rv = select_objects_rv(t->mod, s, &t->sel, CKO_CERTIFICATE, &certs, &ncerts);
	if (rv == CKR_OK && ncerts == 0)
		rv = select_objects_rv(t->mod, s, &t->sel, CKO_PUBLIC_KEY, &keys, &nkeys);
	if (rv != CKR_OK) {
		code = fail_rv(rv, "reading the token");
	} else if (ncerts + nkeys == 0) {
		code = fail(EXIT_NOT_FOUND, "no certificate or public key on '%s' matches: give --cert", tok.label);
	} else if (ncerts + nkeys > 1) {
		code = select_one(t, s, ncerts > 0 ? CKO_CERTIFICATE : CKO_PUBLIC_KEY, "certificate", &pick);
	} else if (ncerts == 1) {
		rv = attr_read_rv(t->mod, s, certs[0], CKA_VALUE, &c->cert);
		code = rv != CKR_OK ? fail_rv(rv, "reading the certificate") : checker_from_cert(c);
	} else {
		rv = object_pubkey_rv(t->mod, s, keys[0], &c->pub);
		code = rv != CKR_OK ? fail_rv(rv, "reading the public key") : EXIT_OK;
	}
	free(certs);
	free(keys);
	session_close(t->mod, s);
	return code;
}

static int checker_load(struct tool *t, struct checker *c)
{
	int code;

	memset(c, 0, sizeof(*c));
	if (t->o.cert_file == NULL)
		return checker_from_token(t, c);
	code = cert_from_file(t->o.cert_file, &c->cert);
	return code == EXIT_OK ? checker_from_cert(c) : code;
}

static int verify_raw(struct tool *t, const char *path, struct verdict *v)
{
	uint8_t hash[CR_HASH_MAX_SIZE];
	size_t hash_len = sizeof(hash);
	struct cr_bytes sig = { 0 }, msg = { 0 };
	struct sign_plan plan;
	struct checker c;
	char *sig_path = t->o.signature != NULL ? strdup(t->o.signature) : path_with_suffix(path, ".sig");
	int rc = CR_E_ARGS, code = sig_path != NULL ? checker_load(t, &c) : fail(EXIT_ERROR, "out of memory");

	if (code == EXIT_OK)
		code = sign_plan_for(&c.pub, t->o.hash, t->o.pss, &plan);
	if (code == EXIT_OK)
		code = file_read(sig_path, &sig);
	if (code == EXIT_OK && plan.eddsa) {
		code = file_read(path, &msg);
		if (code == EXIT_OK)
			rc = cr_verify_ed25519(c.pub.spki.data, c.pub.spki.len, msg.data, msg.len, sig.data, sig.len);
	} else if (code == EXIT_OK) {
		code = hash_file(path, plan.hash, hash, &hash_len);
		if (code == EXIT_OK)
			rc = cr_verify_hash(c.pub.spki.data, c.pub.spki.len, plan.scheme, plan.hash, hash, hash_len,
					    sig.data, sig.len);
	}
	if (code == EXIT_OK) {
		v->kind = "raw";
		v->valid = rc == CR_OK;
		snprintf(v->why, sizeof(v->why), "%s", rc == CR_E_SIGNATURE_LEN ? "a signature of the wrong size for the key"
										 : "the signature does not match");
		snprintf(v->signer, sizeof(v->signer), "%s", c.subject);
		snprintf(v->algorithm, sizeof(v->algorithm), "%s", plan.text);
		if (rc != CR_OK && rc != CR_E_SIGNATURE && rc != CR_E_SIGNATURE_LEN)
			code = fail(EXIT_ERROR, "cannot check the signature: %s", cr_rc_name(rc));
	}
	if (sig_path != NULL)
		checker_clear(&c);
	free(sig_path);
	free(sig.data);
	free(msg.data);
	return code;
}

/* CMS in DER (as sign writes it) or PEM. */
static CMS_ContentInfo *read_cms(const char *path)
{
	struct cr_bytes data;
	CMS_ContentInfo *cms = NULL;
	const unsigned char *p;
	BIO *bio;

	if (file_read(path, &data) != EXIT_OK)
		return NULL;
	p = data.data;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)data.len);
	if (cms == NULL && (bio = BIO_new_mem_buf(data.data, (int)data.len)) != NULL) {
		cms = PEM_read_bio_CMS(bio, NULL, NULL, NULL);
		BIO_free(bio);
	}
	free(data.data);
	if (cms == NULL)
		fail(EXIT_USAGE, "%s is not a CMS (PKCS#7) signature", path);
	return cms;
}

static X509_STORE *ca_store(const char *ca_file)
{
	X509_STORE *store = X509_STORE_new();

	if (store != NULL && X509_STORE_load_file(store, ca_file) == 1)
		return store;
	X509_STORE_free(store);
	fail(EXIT_USAGE, "cannot read CA certificates from %s", ca_file);
	return NULL;
}

/* The signer's subject, from the certificate the signature carries. */
static void cms_signer(CMS_ContentInfo *cms, char *out, size_t size)
{
	STACK_OF(X509) *signers = CMS_get0_signers(cms);
	struct cr_bytes der = { 0 };
	struct cert_info ci;
	unsigned char *enc = NULL;
	int n = sk_X509_num(signers) > 0 ? i2d_X509(sk_X509_value(signers, 0), &enc) : 0;

	out[0] = '\0';
	der.data = enc;
	der.len = n > 0 ? (size_t)n : 0;
	if (n > 0 && cert_info_read(der.data, der.len, &ci) == EXIT_OK) {
		snprintf(out, size, "%s", ci.subject);
		cert_info_clear(&ci);
	}
	OPENSSL_free(enc);
	sk_X509_free(signers);
}

/* When a certificate is named (--cert, or one of the token's), the signer must be that certificate. */
static int cms_expected_signer(struct tool *t, STACK_OF(X509) **certs)
{
	struct checker c;
	const unsigned char *p;
	X509 *x;
	int code;

	*certs = NULL;
	if (t->o.cert_file == NULL && !selector_names_object(&t->sel))
		return EXIT_OK;
	code = checker_load(t, &c);
	if (code == EXIT_OK && c.cert.len == 0)
		code = fail(EXIT_NOT_FOUND, "the selected key has no certificate to check a CMS signature with");
	if (code == EXIT_OK) {
		p = c.cert.data;
		x = d2i_X509(NULL, &p, (long)c.cert.len);
		*certs = sk_X509_new_null();
		if (x == NULL || *certs == NULL || !sk_X509_push(*certs, x)) {
			X509_free(x);
			code = fail(EXIT_ERROR, "out of memory");
		}
	}
	checker_clear(&c);
	return code;
}

/* Whether the (first) signer signed with Ed25519, which OpenSSL 3.0's CMS_verify cannot check. */
static bool cms_signed_with_ed25519(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	X509_ALGOR *sig_alg = NULL;

	if (sk_CMS_SignerInfo_num(sis) != 1)
		return false;
	CMS_SignerInfo_get0_algs(sk_CMS_SignerInfo_value(sis, 0), NULL, NULL, NULL, &sig_alg);
	return sig_alg != NULL && OBJ_obj2nid(sig_alg->algorithm) == NID_ED25519;
}

/* The signer's certificate chains to the CAs of store. */
static bool chains_to(X509_STORE *store, const struct cr_bytes *cert)
{
	const unsigned char *p = cert->data;
	X509 *x = d2i_X509(NULL, &p, (long)cert->len);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	bool ok = x != NULL && ctx != NULL && X509_STORE_CTX_init(ctx, store, x, NULL) == 1 &&
		  X509_verify_cert(ctx) == 1;

	X509_STORE_CTX_free(ctx);
	X509_free(x);
	return ok;
}

/* Ed25519 (RFC 8419): crypto/ checks the signature and the digest, OpenSSL the chain. */
static int verify_cms_ed25519(CMS_ContentInfo *cms, STACK_OF(X509) *certs, X509_STORE *store, const char *path,
			      struct verdict *v)
{
	uint8_t hash[CR_HASH_MAX_SIZE];
	size_t hash_len = sizeof(hash);
	unsigned char *der = NULL, *expected = NULL;
	int der_len = i2d_CMS_ContentInfo(cms, &der);
	int expected_len = certs != NULL ? i2d_X509(sk_X509_value(certs, 0), &expected) : 0;
	struct cr_bytes signer = { 0 };
	struct cert_info ci;
	int rc = CR_E_DATA, code = hash_file(path, CR_HASH_SHA512, hash, &hash_len);

	if (code == EXIT_OK && der_len > 0 && expected_len >= 0)
		rc = cr_cms_verify_ed25519(der, (size_t)der_len, hash, hash_len, expected, (size_t)expected_len, &signer);
	if (code == EXIT_OK) {
		v->valid = rc == CR_OK && (store == NULL || chains_to(store, &signer));
		snprintf(v->why, sizeof(v->why), "%s",
			 rc == CR_OK ? "the signer's certificate does not chain to the CA" : cr_rc_name(rc));
		if (v->valid && cert_info_read(signer.data, signer.len, &ci) == EXIT_OK) {
			snprintf(v->signer, sizeof(v->signer), "%s", ci.subject);
			cert_info_clear(&ci);
		}
		snprintf(v->algorithm, sizeof(v->algorithm), "CMS, Ed25519");
	}
	OPENSSL_free(der);
	OPENSSL_free(expected);
	free(signer.data);
	return code;
}

static int verify_cms(struct tool *t, const char *path, struct verdict *v)
{
	char *sig_path = t->o.signature != NULL ? strdup(t->o.signature) : path_with_suffix(path, ".p7s");
	CMS_ContentInfo *cms = sig_path != NULL ? read_cms(sig_path) : NULL;
	STACK_OF(X509) *certs = NULL;
	X509_STORE *store = NULL;
	unsigned flags = CMS_BINARY;
	BIO *content = NULL;
	int code = cms != NULL ? cms_expected_signer(t, &certs) : EXIT_USAGE;

	if (code == EXIT_OK && t->o.ca_file != NULL && (store = ca_store(t->o.ca_file)) == NULL)
		code = EXIT_USAGE;
	if (code == EXIT_OK && cms_signed_with_ed25519(cms)) {
		v->kind = "cms";
		v->chain_checked = store != NULL;
		code = verify_cms_ed25519(cms, certs, store, path, v);
		goto out;
	}
	if (code == EXIT_OK && (content = BIO_new_file(path, "rb")) == NULL)
		code = fail(EXIT_USAGE, "cannot read %s", path);
	if (code == EXIT_OK) {
		if (store == NULL)
			flags |= CMS_NO_SIGNER_CERT_VERIFY;
		if (certs != NULL)
			flags |= CMS_NOINTERN; /* only the named certificate may have signed */
		v->kind = "cms";
		v->chain_checked = store != NULL;
		v->valid = CMS_verify(cms, certs, store, content, NULL, flags) == 1;
		if (v->valid)
			cms_signer(cms, v->signer, sizeof(v->signer));
		else
			snprintf(v->why, sizeof(v->why), "%s", ERR_reason_error_string(ERR_peek_last_error()));
		snprintf(v->algorithm, sizeof(v->algorithm), "CMS");
	}
out:
	BIO_free(content);
	X509_STORE_free(store);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	free(sig_path);
	return code;
}

static void verdict_json(const struct verdict *v)
{
	struct json j;

	json_start(&j, stdout);
	json_object(&j, NULL);
	json_bool(&j, "valid", v->valid);
	json_string(&j, "kind", v->kind);
	json_string(&j, "algorithm", v->algorithm);
	json_string(&j, "signer", v->signer[0] ? v->signer : NULL);
	json_bool(&j, "chain_checked", v->chain_checked);
	json_string(&j, "problem", v->valid ? NULL : v->why);
	json_object_end(&j);
	json_finish(&j);
}

int cmd_verify(struct tool *t)
{
	const char *path = t->o.args[0];
	struct verdict v = { 0 };
	int code = t->o.cms ? verify_cms(t, path, &v) : verify_raw(t, path, &v);

	if (code != EXIT_OK)
		return code;
	if (t->o.json)
		verdict_json(&v);
	if (!v.valid)
		return fail(EXIT_BAD_SIGNATURE, "BAD signature on %s: %s", path, v.why[0] ? v.why : "no reason given");
	if (!t->o.json)
		printf("Good signature on %s%s%s (%s)%s\n", path, v.signer[0] ? " by " : "", v.signer, v.algorithm,
		       t->o.cms && !v.chain_checked ? "; the signer's certificate was not checked against a CA (--ca)"
						   : "");
	return EXIT_OK;
}
