#include "crypto/x509_build.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto/cr.h"
#include "crypto/cr_ctx.h"
#include "crypto/der.h"
#include "crypto/ecdsa.h"
#include "crypto/random.h"
#include "crypto/x509.h"

/* AlgorithmIdentifier DER per algorithm (RFC 4055, RFC 5758). */
static const uint8_t algid_rsa_sha256[] = { 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
					    0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00 };
/* RSASSA-PSS { hash sha256, MGF1 sha256, salt 32 }, with NULL hash parameters as in RFC 4055. */
static const uint8_t algid_rsa_pss_sha256[] = {
	0x30, 0x41, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x34, 0xa0, 0x0f,
	0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa1, 0x1c,
	0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09,
	0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0x20,
};
static const uint8_t algid_ecdsa_sha256[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
					      0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const uint8_t algid_ecdsa_sha384[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
					      0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
/* id-Ed25519 with its parameters absent, as RFC 8410 requires. */
static const uint8_t algid_ed25519[] = { 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70 };
#define ED25519_SIG_SIZE 64

struct sig_alg_info {
	const uint8_t *algid;
	size_t algid_len;
	enum cr_key_type key_type;
};

static const struct sig_alg_info *sig_alg_info(enum cr_sig_alg alg)
{
	static const struct sig_alg_info infos[] = {
		[CR_SIG_RSA_PKCS1_SHA256] = { algid_rsa_sha256, sizeof(algid_rsa_sha256), CR_KEY_RSA },
		[CR_SIG_RSA_PSS_SHA256] = { algid_rsa_pss_sha256, sizeof(algid_rsa_pss_sha256), CR_KEY_RSA },
		[CR_SIG_ECDSA_SHA256] = { algid_ecdsa_sha256, sizeof(algid_ecdsa_sha256), CR_KEY_EC },
		[CR_SIG_ECDSA_SHA384] = { algid_ecdsa_sha384, sizeof(algid_ecdsa_sha384), CR_KEY_EC },
		[CR_SIG_ED25519] = { algid_ed25519, sizeof(algid_ed25519), CR_KEY_ED25519 },
	};

	if ((unsigned)alg >= sizeof(infos) / sizeof(infos[0]))
		return NULL;
	return &infos[alg];
}

/* The longest validity we accept, in days (about 270 years). */
#define MAX_DAYS 100000
#define MAX_SERIAL_LEN 20
#define RANDOM_SERIAL_LEN 16

/* Everything a build needs, gathered and checked once. */
struct build {
	const struct cr_x509_request *req;
	const struct sig_alg_info *alg;
	struct cr_pubkey pub;
	EVP_PKEY *pkey;
	X509_NAME *subject;
};

/* Adds one "key=value" pair; value is modified in place (escapes removed). */
static int add_name_entry(X509_NAME *name, char *pair)
{
	char *eq = strchr(pair, '=');
	int nid;

	if (eq == NULL || eq == pair || eq[1] == '\0')
		return CR_E_ARGS;
	*eq = '\0';
	nid = OBJ_txt2nid(pair);
	if (nid == NID_undef)
		return CR_E_ARGS;
	if (!X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1, 0))
		return CR_E_ARGS;
	return CR_OK;
}

/*
 * "/CN=Alice/O=Example" to an X509_NAME, in the order written. A backslash
 * takes the next character literally, so "/O=A\/B" is the organisation "A/B".
 */
static int parse_subject(const char *text, X509_NAME **out)
{
	size_t len = text != NULL ? strlen(text) : 0;
	char *pair = NULL;
	size_t used = 0;
	X509_NAME *name = NULL;
	int rc = CR_E_ARGS;

	*out = NULL;
	if (len < 2 || text[0] != '/')
		goto out;
	rc = CR_E_MEMORY;
	pair = malloc(len);
	name = X509_NAME_new();
	if (pair == NULL || name == NULL)
		goto out;
	rc = CR_OK;
	for (size_t i = 1; i <= len && rc == CR_OK; i++) {
		if (i == len || text[i] == '/') {
			pair[used] = '\0';
			rc = add_name_entry(name, pair);
			used = 0;
		} else if (text[i] == '\\' && i + 1 < len) {
			pair[used++] = text[++i];
		} else {
			pair[used++] = text[i];
		}
	}
	if (rc != CR_OK)
		goto out;
	*out = name;
	name = NULL;
out:
	free(pair);
	X509_NAME_free(name);
	return rc;
}

static int load_key(struct build *b)
{
	int rc = cr_spki_parse(b->req->spki, b->req->spki_len, &b->pub);

	if (rc != CR_OK)
		return rc;
	if (b->pub.type != b->alg->key_type)
		return CR_E_ARGS;
	/* r||s must fit our buffers; only curves of at most 528 bits do. */
	if (b->pub.type == CR_KEY_EC && (b->pub.bits + 7) / 8 > CR_EC_MAX_FIELD_SIZE)
		return CR_E_UNSUPPORTED;
	b->pkey = cr_pkey_from_spki(b->req->spki, b->req->spki_len);
	return b->pkey != NULL ? CR_OK : CR_E_DATA;
}

static int start_build(struct build *b, const struct cr_x509_request *req, uint8_t **der, size_t *der_len)
{
	memset(b, 0, sizeof(*b));
	b->req = req;
	if (req == NULL || der == NULL || der_len == NULL || req->spki == NULL || req->sign == NULL ||
	    req->spki_len > LONG_MAX)
		return CR_E_ARGS;
	*der = NULL;
	*der_len = 0;
	b->alg = sig_alg_info(req->alg);
	if (b->alg == NULL)
		return CR_E_ARGS;
	if (cr_libctx() == NULL)
		return CR_E_INTERNAL;
	if (parse_subject(req->subject, &b->subject) != CR_OK)
		return CR_E_ARGS;
	return load_key(b);
}

static void end_build(struct build *b)
{
	cr_pubkey_clear(&b->pub);
	EVP_PKEY_free(b->pkey);
	X509_NAME_free(b->subject);
}

int cr_sig_alg_id(enum cr_sig_alg alg, const uint8_t **der, size_t *len)
{
	const struct sig_alg_info *info = sig_alg_info(alg);

	if (info == NULL || der == NULL || len == NULL)
		return CR_E_ARGS;
	*der = info->algid;
	*len = info->algid_len;
	return CR_OK;
}

enum cr_hash cr_sig_alg_hash(enum cr_sig_alg alg)
{
	if (alg == CR_SIG_ED25519)
		return CR_HASH_SHA512;
	return alg == CR_SIG_ECDSA_SHA384 ? CR_HASH_SHA384 : CR_HASH_SHA256;
}

int cr_sig_value(cr_sign_fn sign, void *ctx, enum cr_sig_alg alg, size_t field_size, const uint8_t *tbs,
		 size_t tbs_len, uint8_t *sig, size_t *sig_len)
{
	const struct sig_alg_info *info = sig_alg_info(alg);
	uint8_t raw[CR_ECDSA_MAX_RAW_SIZE];
	size_t raw_len = sizeof(raw), cap = *sig_len;

	if (info == NULL || (info->key_type == CR_KEY_EC && (field_size == 0 || field_size > CR_EC_MAX_FIELD_SIZE)))
		return CR_E_ARGS;
	if (sign(ctx, alg, tbs, tbs_len, sig, sig_len) != 0 || *sig_len == 0 || *sig_len > cap)
		return CR_E_SIGN;
	if (info->key_type == CR_KEY_ED25519)
		return *sig_len == ED25519_SIG_SIZE ? CR_OK : CR_E_SIGN;
	if (info->key_type != CR_KEY_EC)
		return CR_OK;
	if (*sig_len == 2 * field_size) {
		memcpy(raw, sig, *sig_len);
	} else if (cr_ecdsa_der_to_raw(sig, *sig_len, field_size, raw, &raw_len) != CR_OK) {
		return CR_E_SIGN;
	}
	*sig_len = cap;
	return cr_ecdsa_raw_to_der(raw, 2 * field_size, sig, sig_len) == CR_OK ? CR_OK : CR_E_SIGN;
}

static int sign_tbs(const struct build *b, const uint8_t *tbs, size_t tbs_len, uint8_t *sig, size_t *sig_len)
{
	size_t field = b->alg->key_type == CR_KEY_EC ? (b->pub.bits + 7) / 8 : 0;

	return cr_sig_value(b->req->sign, b->req->sign_ctx, b->req->alg, field, tbs, tbs_len, sig, sig_len);
}

/* SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING { 0 unused bits, signature } } */
static int assemble(const struct build *b, const uint8_t *tbs, size_t tbs_len, const uint8_t *sig,
		    size_t sig_len, uint8_t **der, size_t *der_len)
{
	size_t bits_len = 1 + sig_len;
	size_t body = tbs_len + b->alg->algid_len + cr_der_header_size(bits_len) + bits_len;
	size_t total = cr_der_header_size(body) + body, pos;
	uint8_t *out = malloc(total);

	if (out == NULL)
		return CR_E_MEMORY;
	pos = cr_der_put_header(out, CR_DER_SEQUENCE, body);
	memcpy(out + pos, tbs, tbs_len);
	pos += tbs_len;
	memcpy(out + pos, b->alg->algid, b->alg->algid_len);
	pos += b->alg->algid_len;
	pos += cr_der_put_header(out + pos, CR_DER_BIT_STRING, bits_len);
	out[pos++] = 0x00;
	memcpy(out + pos, sig, sig_len);
	*der = out;
	*der_len = total;
	return CR_OK;
}

static int sign_and_assemble(const struct build *b, const uint8_t *tbs, size_t tbs_len, uint8_t **der,
			     size_t *der_len)
{
	uint8_t sig[CR_SIG_MAX_SIZE];
	size_t sig_len = sizeof(sig);
	int rc = sign_tbs(b, tbs, tbs_len, sig, &sig_len);

	if (rc == CR_OK)
		rc = assemble(b, tbs, tbs_len, sig, sig_len, der, der_len);
	return rc;
}

static X509_EXTENSION *key_usage_extension(uint32_t bits)
{
	ASN1_BIT_STRING *bs = ASN1_BIT_STRING_new();
	X509_EXTENSION *ext = NULL;
	int ok = bs != NULL;

	for (int i = 0; i <= 8 && ok; i++)
		if (bits & (1u << i))
			ok = ASN1_BIT_STRING_set_bit(bs, i, 1);
	if (ok)
		ext = X509V3_EXT_i2d(NID_key_usage, 1, bs);
	ASN1_BIT_STRING_free(bs);
	return ext;
}

static int add_conf_extension(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int ok = ext != NULL && X509_add_ext(x, ext, -1);

	X509_EXTENSION_free(ext);
	return ok ? CR_OK : CR_E_INTERNAL;
}

static int add_cert_extensions(X509 *x, uint32_t key_usage)
{
	X509V3_CTX v3;
	int rc;

	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	rc = add_conf_extension(x, &v3, NID_basic_constraints, "critical,CA:FALSE");
	if (rc == CR_OK)
		rc = add_conf_extension(x, &v3, NID_subject_key_identifier, "hash");
	if (rc == CR_OK && key_usage != 0) {
		X509_EXTENSION *ext = key_usage_extension(key_usage);

		if (ext == NULL || !X509_add_ext(x, ext, -1))
			rc = CR_E_INTERNAL;
		X509_EXTENSION_free(ext);
	}
	return rc;
}

static int set_serial(X509 *x, const uint8_t *serial, size_t serial_len)
{
	uint8_t random[RANDOM_SERIAL_LEN];
	BIGNUM *bn;
	int rc = CR_E_INTERNAL;

	if (serial == NULL) {
		if (cr_random(random, sizeof(random)) != CR_OK)
			return CR_E_INTERNAL;
		/* Positive and full length: top bit clear, next bit set. */
		random[0] = (uint8_t)((random[0] & 0x7f) | 0x40);
		serial = random;
		serial_len = sizeof(random);
	}
	bn = BN_bin2bn(serial, (int)serial_len, NULL);
	if (bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL)
		rc = CR_OK;
	BN_free(bn);
	return rc;
}

static int check_serial(const uint8_t *serial, size_t len)
{
	size_t nonzero = 0;

	if (serial == NULL)
		return CR_OK;
	if (len == 0 || len > MAX_SERIAL_LEN)
		return CR_E_ARGS;
	for (size_t i = 0; i < len; i++)
		nonzero |= serial[i];
	return nonzero ? CR_OK : CR_E_ARGS;
}

/*
 * OpenSSL 3.0 offers no setter for the signature algorithm inside the TBS
 * (X509_sign writes it itself). The field belongs to x, which we own, so
 * writing through the const accessor is safe.
 */
static int set_tbs_signature_algorithm(X509 *x, const struct sig_alg_info *alg)
{
	const unsigned char *p = alg->algid;
	X509_ALGOR *parsed = d2i_X509_ALGOR(NULL, &p, (long)alg->algid_len);
	X509_ALGOR *tbs_alg = (X509_ALGOR *)X509_get0_tbs_sigalg(x);
	int ok = parsed != NULL && X509_ALGOR_copy(tbs_alg, parsed);

	X509_ALGOR_free(parsed);
	return ok ? CR_OK : CR_E_INTERNAL;
}

static int fill_cert_tbs(const struct build *b, X509 *x)
{
	const struct cr_x509_request *req = b->req;

	if (!X509_set_version(x, X509_VERSION_3) || set_serial(x, req->serial, req->serial_len) != CR_OK ||
	    !X509_set_subject_name(x, b->subject) || !X509_set_issuer_name(x, b->subject) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)req->days, 0, NULL) == NULL ||
	    !X509_set_pubkey(x, b->pkey))
		return CR_E_INTERNAL;
	if (add_cert_extensions(x, req->key_usage) != CR_OK)
		return CR_E_INTERNAL;
	return set_tbs_signature_algorithm(x, b->alg);
}

/* Parses what we built and checks its signature with the public key. */
static int verify_cert(const struct build *b, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = X509_new_ex(cr_libctx(), NULL);
	int rc = CR_E_SIGN;

	if (x == NULL)
		return CR_E_MEMORY;
	/* On failure d2i frees the object it was given. */
	if (d2i_X509(&x, &p, (long)len) == NULL)
		return CR_E_INTERNAL;
	if ((size_t)(p - der) == len && X509_verify(x, b->pkey) == 1)
		rc = CR_OK;
	X509_free(x);
	return rc;
}

static int verify_csr(const struct build *b, const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509_REQ *req = X509_REQ_new_ex(cr_libctx(), NULL);
	int rc = CR_E_SIGN;

	if (req == NULL)
		return CR_E_MEMORY;
	if (d2i_X509_REQ(&req, &p, (long)len) == NULL)
		return CR_E_INTERNAL;
	if ((size_t)(p - der) == len && X509_REQ_verify(req, b->pkey) == 1)
		rc = CR_OK;
	X509_REQ_free(req);
	return rc;
}

/* Signs the TBS, assembles, then checks; the result reaches the caller only if it verifies. */
static int finish(const struct build *b, const uint8_t *tbs, size_t tbs_len, bool is_cert, uint8_t **der,
		  size_t *der_len)
{
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rc = sign_and_assemble(b, tbs, tbs_len, &out, &out_len);

	if (rc == CR_OK)
		rc = is_cert ? verify_cert(b, out, out_len) : verify_csr(b, out, out_len);
	if (rc != CR_OK) {
		free(out);
		return rc;
	}
	*der = out;
	*der_len = out_len;
	return CR_OK;
}

int cr_x509_build_self_signed(const struct cr_x509_request *req, uint8_t **der, size_t *der_len)
{
	struct build b;
	X509 *x = NULL;
	unsigned char *tbs = NULL;
	int tbs_len, rc = start_build(&b, req, der, der_len);

	if (rc != CR_OK)
		goto out;
	rc = CR_E_ARGS;
	if (req->days == 0 || req->days > MAX_DAYS || check_serial(req->serial, req->serial_len) != CR_OK)
		goto out;
	rc = CR_E_MEMORY;
	x = X509_new_ex(cr_libctx(), NULL);
	if (x == NULL)
		goto out;
	rc = fill_cert_tbs(&b, x);
	if (rc != CR_OK)
		goto out;
	rc = CR_E_INTERNAL;
	tbs_len = i2d_re_X509_tbs(x, &tbs);
	if (tbs_len <= 0)
		goto out;
	rc = finish(&b, tbs, (size_t)tbs_len, true, der, der_len);
out:
	OPENSSL_free(tbs);
	X509_free(x);
	end_build(&b);
	return rc == CR_OK ? rc : cr_fail(rc);
}

static int add_csr_key_usage(X509_REQ *req, uint32_t key_usage)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext;
	int rc = CR_E_INTERNAL;

	if (key_usage == 0)
		return CR_OK;
	ext = key_usage_extension(key_usage);
	exts = sk_X509_EXTENSION_new_null();
	if (ext == NULL || exts == NULL || !sk_X509_EXTENSION_push(exts, ext)) {
		X509_EXTENSION_free(ext);
		goto out;
	}
	if (X509_REQ_add_extensions(req, exts))
		rc = CR_OK;
out:
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	return rc;
}

int cr_x509_build_csr(const struct cr_x509_request *req, uint8_t **der, size_t *der_len)
{
	struct build b;
	X509_REQ *csr = NULL;
	unsigned char *tbs = NULL;
	int tbs_len, rc = start_build(&b, req, der, der_len);

	if (rc != CR_OK)
		goto out;
	rc = CR_E_MEMORY;
	csr = X509_REQ_new_ex(cr_libctx(), NULL);
	if (csr == NULL)
		goto out;
	rc = CR_E_INTERNAL;
	if (!X509_REQ_set_version(csr, X509_REQ_VERSION_1) || !X509_REQ_set_subject_name(csr, b.subject) ||
	    !X509_REQ_set_pubkey(csr, b.pkey) || add_csr_key_usage(csr, req->key_usage) != CR_OK)
		goto out;
	tbs_len = i2d_re_X509_REQ_tbs(csr, &tbs);
	if (tbs_len <= 0)
		goto out;
	rc = finish(&b, tbs, (size_t)tbs_len, false, der, der_len);
out:
	OPENSSL_free(tbs);
	X509_REQ_free(csr);
	end_build(&b);
	return rc == CR_OK ? rc : cr_fail(rc);
}
