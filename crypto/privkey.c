#include "crypto/privkey.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "crypto/cr_ctx.h"
#include "crypto/wipe.h"

#define ED25519_KEY_SIZE 32

static void clear_secret(struct cr_bytes *b)
{
	cr_free_secret(b->data, b->len);
	b->data = NULL;
	b->len = 0;
}

void cr_privkey_clear(struct cr_privkey *k)
{
	if (k == NULL)
		return;
	clear_secret(&k->d);
	clear_secret(&k->p);
	clear_secret(&k->q);
	clear_secret(&k->dp);
	clear_secret(&k->dq);
	clear_secret(&k->qinv);
	clear_secret(&k->value);
	cr_pubkey_clear(&k->pub);
	memset(k, 0, sizeof(*k));
}

/* A secret number, big-endian; width 0 means no leading zeros, else left-padded to width. */
static int take_secret_bn(EVP_PKEY *pkey, const char *name, size_t width, struct cr_bytes *out)
{
	BIGNUM *bn = NULL;
	size_t len;
	int rc = CR_E_DATA;

	if (!EVP_PKEY_get_bn_param(pkey, name, &bn))
		goto out;
	len = (size_t)BN_num_bytes(bn);
	if (len == 0 || (width > 0 && len > width))
		goto out;
	if (width > 0)
		len = width;
	rc = CR_E_MEMORY;
	out->data = malloc(len);
	if (out->data == NULL)
		goto out;
	out->len = len;
	rc = BN_bn2binpad(bn, out->data, (int)len) == (int)len ? CR_OK : CR_E_INTERNAL;
out:
	BN_clear_free(bn);
	return rc;
}

static int fill_rsa(EVP_PKEY *pkey, struct cr_privkey *k)
{
	BIGNUM *third = NULL;
	int rc, multi_prime;

	/* PIV and PKCS#11 carry exactly two primes; the probe's miss is no error. */
	ERR_set_mark();
	multi_prime = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR3, &third);
	ERR_pop_to_mark();
	BN_clear_free(third);
	if (multi_prime)
		return CR_E_UNSUPPORTED;
	rc = take_secret_bn(pkey, OSSL_PKEY_PARAM_RSA_D, 0, &k->d);
	if (rc == CR_OK)
		rc = take_secret_bn(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, 0, &k->p);
	if (rc == CR_OK)
		rc = take_secret_bn(pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, 0, &k->q);
	if (rc == CR_OK)
		rc = take_secret_bn(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0, &k->dp);
	if (rc == CR_OK)
		rc = take_secret_bn(pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0, &k->dq);
	if (rc == CR_OK)
		rc = take_secret_bn(pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0, &k->qinv);
	return rc;
}

static int fill_ed25519(EVP_PKEY *pkey, struct cr_privkey *k)
{
	size_t len = ED25519_KEY_SIZE;

	k->value.data = malloc(ED25519_KEY_SIZE);
	if (k->value.data == NULL)
		return CR_E_MEMORY;
	k->value.len = ED25519_KEY_SIZE;
	if (!EVP_PKEY_get_raw_private_key(pkey, k->value.data, &len) || len != ED25519_KEY_SIZE)
		return CR_E_DATA;
	return CR_OK;
}

/* The public half goes through the same parser as any SubjectPublicKeyInfo. */
static int fill_public(EVP_PKEY *pkey, struct cr_privkey *k)
{
	unsigned char *spki = NULL;
	int len = i2d_PUBKEY(pkey, &spki);
	int rc;

	if (len <= 0)
		return CR_E_INTERNAL;
	rc = cr_spki_parse(spki, (size_t)len, &k->pub);
	OPENSSL_free(spki);
	return rc;
}

static int fill_privkey(EVP_PKEY *pkey, struct cr_privkey *k)
{
	int rc = fill_public(pkey, k);

	if (rc != CR_OK)
		return rc;
	k->type = k->pub.type;
	k->bits = k->pub.bits;
	k->curve = k->pub.curve;
	switch (k->type) {
	case CR_KEY_RSA:
		return fill_rsa(pkey, k);
	case CR_KEY_EC:
		if (k->curve == CR_CURVE_NONE)
			return CR_E_UNSUPPORTED;
		return take_secret_bn(pkey, OSSL_PKEY_PARAM_PRIV_KEY, cr_curve_field_size(k->curve), &k->value);
	case CR_KEY_ED25519:
		return fill_ed25519(pkey, k);
	default:
		return CR_E_UNSUPPORTED;
	}
}

/* A PEM file may end in white space after its last line. */
static bool only_space(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return false;
	return true;
}

/*
 * Without a callback of its own, OpenSSL may prompt on the terminal for an
 * encrypted key's passphrase; inside a host program that must never happen.
 */
static int refuse_passphrase(char *buf, size_t size, size_t *len, const OSSL_PARAM params[], void *arg)
{
	(void)buf;
	(void)size;
	(void)params;
	(void)arg;
	*len = 0;
	return 0;
}

int cr_privkey_parse(const uint8_t *data, size_t len, struct cr_privkey *out)
{
	OSSL_DECODER_CTX *dctx = NULL;
	EVP_PKEY *pkey = NULL;
	const unsigned char *p = data;
	size_t left = len;
	int rc = CR_E_INTERNAL;

	if (data == NULL || out == NULL || len == 0)
		return CR_E_ARGS;
	memset(out, 0, sizeof(*out));
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, NULL, OSSL_KEYMGMT_SELECT_KEYPAIR, cr_libctx(),
					     NULL);
	if (dctx == NULL || !OSSL_DECODER_CTX_set_passphrase_cb(dctx, refuse_passphrase, NULL))
		goto out;
	rc = CR_E_DATA;
	if (!OSSL_DECODER_from_data(dctx, &p, &left) || pkey == NULL || !only_space(p, left))
		goto out;
	rc = CR_E_UNSUPPORTED;
	if (!EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "EC") && !EVP_PKEY_is_a(pkey, "ED25519"))
		goto out;
	rc = fill_privkey(pkey, out);
out:
	OSSL_DECODER_CTX_free(dctx);
	EVP_PKEY_free(pkey);
	if (rc != CR_OK)
		cr_privkey_clear(out);
	return rc == CR_OK ? rc : cr_fail(rc);
}
