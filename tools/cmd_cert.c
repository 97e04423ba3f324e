/* csr and export-cert: certificates and requests leaving the token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/cr.h"
#include "crypto/x509_build.h"
#include "tools/commands.h"
#include "tools/files.h"
#include "tools/job.h"
#include "tools/json.h"
#include "tools/objects.h"
#include "tools/select.h"
#include "tools/signing.h"

/* PEM (label given) or DER to the --out file or standard output. */
static int write_der_or_pem(const struct tool *t, const char *label, const uint8_t *der, size_t len)
{
	struct cr_bytes pem;
	int code;

	if (t->o.der)
		return file_write(t->o.out, der, len);
	code = pem_wrap(label, der, len, &pem);
	if (code == EXIT_OK)
		code = file_write(t->o.out, pem.data, pem.len);
	free(pem.data);
	return code;
}

static int csr_failed(int rc, const struct token_signer *ts)
{
	if (ts->code != EXIT_OK)
		return ts->code;
	if (rc == CR_E_SIGN && ts->rv != CKR_OK)
		return fail_rv(ts->rv, "signing the request");
	if (rc == CR_E_SIGN)
		return fail(EXIT_ERROR, "the token's signature over the request does not verify");
	if (rc == CR_E_ARGS)
		return fail(EXIT_USAGE, "--subject: write it as /CN=Alice/O=Example (known attribute names, "
					"a backslash before a / inside a value)");
	return fail(EXIT_ERROR, "building the request failed: %s", cr_rc_name(rc));
}

int cmd_csr(struct tool *t)
{
	struct cr_x509_request req = { .subject = t->o.subject };
	struct token_signer ts = { 0 };
	struct signing_key k = { 0 };
	struct key_job job;
	struct token tok;
	uint8_t *der = NULL;
	size_t der_len = 0;
	int rc, code;

	if (t->o.subject == NULL)
		return fail(EXIT_USAGE, "csr needs --subject, such as /CN=Alice/O=Example");
	code = job_open(t, &tok, &job);
	if (code == EXIT_OK)
		code = signing_key_find(t, job.session, &k);
	if (code == EXIT_OK)
		code = sig_alg_for(&k.pub, t->o.pss, &req.alg);
	if (code != EXIT_OK)
		goto out;
	ts = (struct token_signer){ t, &tok, job.session, &k, CKR_OK, EXIT_OK };
	req.spki = k.pub.spki.data;
	req.spki_len = k.pub.spki.len;
	req.sign = token_sign_cb;
	req.sign_ctx = &ts;
	rc = cr_x509_build_csr(&req, &der, &der_len);
	code = rc == CR_OK ? write_der_or_pem(t, "CERTIFICATE REQUEST", der, der_len) : csr_failed(rc, &ts);
	if (code == EXIT_OK && t->o.out != NULL)
		note("Certificate request for key id %s (%s) of '%s' written to %s: send it to your CA.", k.id_hex,
		     k.label, tok.label, t->o.out);
out:
	free(der);
	signing_key_clear(&k);
	job_close(t, &job);
	return code;
}

static void export_json(const struct token *tok, const uint8_t *id, size_t id_len, const struct cert_info *ci,
			const struct cr_bytes *pem)
{
	char id_hex[129], uri[512];
	struct json j;

	hex_text(id, id_len, id_hex, sizeof(id_hex));
	object_uri(tok, id, id_len, "cert", uri, sizeof(uri));
	json_start(&j, stdout);
	json_object(&j, NULL);
	json_string(&j, "token", tok->label);
	json_string(&j, "id", id_hex);
	json_string(&j, "subject", ci->subject);
	json_string(&j, "issuer", ci->issuer);
	json_string(&j, "not_before", ci->not_before);
	json_string(&j, "not_after", ci->not_after);
	json_int(&j, "days_left", ci->days_left);
	json_string(&j, "key_type", ci->key.type);
	json_int(&j, "key_bits", ci->key.bits);
	json_string(&j, "uri", uri);
	json_string(&j, "pem", (const char *)pem->data);
	json_object_end(&j);
	json_finish(&j);
}

/* The certificate as JSON: its description and its PEM. */
static int export_as_json(const struct token *tok, const struct cr_bytes *id, const struct cr_bytes *der)
{
	struct cert_info ci;
	struct cr_bytes pem, text = { 0 };
	int code = cert_info_read(der->data, der->len, &ci);

	if (code != EXIT_OK)
		return fail(EXIT_ERROR, "the certificate on the token cannot be read");
	code = pem_wrap("CERTIFICATE", der->data, der->len, &pem);
	if (code == EXIT_OK) {
		text.data = malloc(pem.len + 1); /* JSON wants a C string */
		if (text.data == NULL)
			code = fail(EXIT_ERROR, "out of memory");
	}
	if (code == EXIT_OK) {
		memcpy(text.data, pem.data, pem.len);
		text.data[pem.len] = '\0';
		export_json(tok, id->data, id->len, &ci, &text);
	}
	free(pem.data);
	free(text.data);
	cert_info_clear(&ci);
	return code;
}

int cmd_export_cert(struct tool *t)
{
	struct cr_bytes der = { 0 }, id = { 0 };
	CK_OBJECT_HANDLE cert;
	CK_SESSION_HANDLE s;
	struct token tok;
	CK_RV rv;
	int code;

	if (t->o.json && (t->o.der || t->o.out != NULL))
		return fail(EXIT_USAGE, "--json writes to standard output, as text: no --der or --out with it");
	code = select_token_session(t, false, &tok, &s);
	if (code != EXIT_OK)
		return code;
	code = select_one(t, s, CKO_CERTIFICATE, "certificate", &cert);
	if (code == EXIT_OK) {
		rv = attr_read_rv(t->mod, s, cert, CKA_VALUE, &der);
		if (rv == CKR_OK)
			rv = attr_read_rv(t->mod, s, cert, CKA_ID, &id);
		if (rv != CKR_OK)
			code = fail_rv(rv, "reading the certificate");
		else if (der.len == 0)
			code = fail(EXIT_ERROR, "the certificate object holds no certificate");
	}
	if (code == EXIT_OK)
		code = t->o.json ? export_as_json(&tok, &id, &der) : write_der_or_pem(t, "CERTIFICATE", der.data, der.len);
	bytes_free(&der);
	bytes_free(&id);
	session_close(t->mod, s);
	return code;
}
