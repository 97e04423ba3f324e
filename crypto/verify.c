#include "crypto/verify.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/cr.h"
#include "crypto/cr_ctx.h"
#include "crypto/ecdsa.h"
#include "crypto/rsa_pad.h"
#include "crypto/x509.h"

#define ED25519_SIG_SIZE 64

/* Parses the SPKI strictly, checks its type, and decodes it for OpenSSL. */
static int load_public(const uint8_t *spki, size_t spki_len, enum cr_key_type want, size_t *bits,
		       EVP_PKEY **out)
{
	struct cr_pubkey pub;
	int rc = cr_spki_parse(spki, spki_len, &pub);

	*out = NULL;
	if (rc != CR_OK)
		return rc;
	*bits = pub.bits;
	rc = CR_E_ARGS;
	if (pub.type == want) {
		*out = cr_pkey_from_spki(spki, spki_len);
		rc = *out != NULL ? CR_OK : CR_E_DATA;
	}
	cr_pubkey_clear(&pub);
	return rc;
}

/* m = s^e mod n over exactly k bytes; fails when s >= n. */
static int rsa_recover(EVP_PKEY *pkey, const uint8_t *in, size_t k, uint8_t *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(cr_libctx(), pkey, NULL);
	size_t out_len = k;
	int ok = ctx != NULL && EVP_PKEY_verify_recover_init(ctx) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) == 1 &&
		 EVP_PKEY_verify_recover(ctx, out, &out_len, in, k) == 1 && out_len == k;

	EVP_PKEY_CTX_free(ctx);
	return ok ? CR_OK : CR_E_DATA;
}

int cr_rsa_public_raw(const uint8_t *spki, size_t spki_len, const uint8_t *in, size_t in_len, uint8_t *out,
		      size_t *out_len)
{
	uint8_t block[CR_RSA_MAX_BYTES];
	EVP_PKEY *pkey = NULL;
	size_t bits, k;
	int rc;

	if (spki == NULL || in == NULL || out_len == NULL)
		return CR_E_ARGS;
	rc = load_public(spki, spki_len, CR_KEY_RSA, &bits, &pkey);
	if (rc != CR_OK)
		goto out;
	k = (bits + 7) / 8;
	rc = CR_E_UNSUPPORTED;
	if (k > sizeof(block))
		goto out;
	rc = CR_E_BUFFER;
	if (out == NULL || *out_len < k) {
		*out_len = k;
		goto out;
	}
	rc = CR_E_DATA;
	if (in_len > k)
		goto out;
	/* A shorter input is the same number with leading zeros. */
	memset(block, 0, k - in_len);
	memcpy(block + k - in_len, in, in_len);
	rc = rsa_recover(pkey, block, k, out);
	if (rc == CR_OK)
		*out_len = k;
out:
	EVP_PKEY_free(pkey);
	return rc == CR_OK || rc == CR_E_BUFFER ? rc : cr_fail(rc);
}

/* Recovers the encoded block of an RSA signature: the part both RSA verifiers share. */
static int rsa_signature_block(const uint8_t *spki, size_t spki_len, const uint8_t *sig, size_t sig_len,
			       uint8_t *block, size_t *k, size_t *bits)
{
	EVP_PKEY *pkey = NULL;
	int rc;

	if (spki == NULL || sig == NULL)
		return CR_E_ARGS;
	rc = load_public(spki, spki_len, CR_KEY_RSA, bits, &pkey);
	if (rc != CR_OK)
		goto out;
	*k = (*bits + 7) / 8;
	rc = CR_E_UNSUPPORTED;
	if (*k > CR_RSA_MAX_BYTES)
		goto out;
	rc = CR_E_SIGNATURE_LEN;
	if (sig_len != *k)
		goto out;
	rc = rsa_recover(pkey, sig, *k, block) == CR_OK ? CR_OK : CR_E_SIGNATURE;
out:
	EVP_PKEY_free(pkey);
	return rc;
}

int cr_verify_rsa_pkcs1(const uint8_t *spki, size_t spki_len, const uint8_t *data, size_t data_len,
			const uint8_t *sig, size_t sig_len)
{
	uint8_t block[CR_RSA_MAX_BYTES], want[CR_RSA_MAX_BYTES];
	size_t k = 0, bits;
	int rc;

	if (data == NULL && data_len > 0)
		return CR_E_ARGS;
	rc = rsa_signature_block(spki, spki_len, sig, sig_len, block, &k, &bits);
	if (rc != CR_OK)
		return cr_fail(rc);
	/* Data too long for the key cannot have been signed with it. */
	if (cr_rsa_pad_pkcs1_type1(data, data_len, want, k) != CR_OK)
		return cr_fail(CR_E_DATA);
	return memcmp(block, want, k) == 0 ? CR_OK : cr_fail(CR_E_SIGNATURE);
}

int cr_verify_rsa_pss(const uint8_t *spki, size_t spki_len, enum cr_hash h, enum cr_hash mgf1_hash,
		      size_t salt_len, const uint8_t *mhash, size_t mhash_len, const uint8_t *sig, size_t sig_len)
{
	uint8_t block[CR_RSA_MAX_BYTES];
	size_t k = 0, bits;
	int rc = rsa_signature_block(spki, spki_len, sig, sig_len, block, &k, &bits);

	if (rc != CR_OK)
		return cr_fail(rc);
	rc = cr_rsa_pss_verify(h, mgf1_hash, salt_len, bits, mhash, mhash_len, block, k);
	if (rc == CR_OK)
		return rc;
	return cr_fail(rc == CR_E_DATA ? CR_E_SIGNATURE : rc);
}

int cr_verify_ecdsa(const uint8_t *spki, size_t spki_len, const uint8_t *hash, size_t hash_len,
		    const uint8_t *sig, size_t sig_len)
{
	uint8_t der[CR_ECDSA_MAX_DER_SIZE];
	size_t der_len = sizeof(der), bits;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int rc;

	if (spki == NULL || hash == NULL || hash_len == 0 || sig == NULL)
		return CR_E_ARGS;
	rc = load_public(spki, spki_len, CR_KEY_EC, &bits, &pkey);
	if (rc != CR_OK)
		goto out;
	rc = CR_E_SIGNATURE_LEN;
	if (sig_len != 2 * ((bits + 7) / 8) || sig_len > CR_ECDSA_MAX_RAW_SIZE)
		goto out;
	/* r or s of zero is simply a wrong signature. */
	rc = CR_E_SIGNATURE;
	if (cr_ecdsa_raw_to_der(sig, sig_len, der, &der_len) != CR_OK)
		goto out;
	ctx = EVP_PKEY_CTX_new_from_pkey(cr_libctx(), pkey, NULL);
	rc = CR_E_INTERNAL;
	if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	rc = EVP_PKEY_verify(ctx, der, der_len, hash, hash_len) == 1 ? CR_OK : CR_E_SIGNATURE;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return rc == CR_OK ? rc : cr_fail(rc);
}

int cr_verify_ed25519(const uint8_t *spki, size_t spki_len, const uint8_t *msg, size_t msg_len,
		      const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *mctx = NULL;
	size_t bits;
	int rc;

	if (spki == NULL || sig == NULL || (msg == NULL && msg_len > 0))
		return CR_E_ARGS;
	rc = load_public(spki, spki_len, CR_KEY_ED25519, &bits, &pkey);
	if (rc != CR_OK)
		goto out;
	rc = CR_E_SIGNATURE_LEN;
	if (sig_len != ED25519_SIG_SIZE)
		goto out;
	rc = CR_E_INTERNAL;
	mctx = EVP_MD_CTX_new();
	if (mctx == NULL || EVP_DigestVerifyInit_ex(mctx, NULL, NULL, cr_libctx(), NULL, pkey, NULL) != 1)
		goto out;
	rc = EVP_DigestVerify(mctx, sig, sig_len, msg != NULL ? msg : (const uint8_t *)"", msg_len) == 1
		     ? CR_OK
		     : CR_E_SIGNATURE;
out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pkey);
	return rc == CR_OK ? rc : cr_fail(rc);
}

int cr_verify_hash(const uint8_t *spki, size_t spki_len, enum cr_sig_scheme scheme, enum cr_hash h,
		   const uint8_t *hash, size_t hash_len, const uint8_t *sig, size_t sig_len)
{
	uint8_t di[CR_DIGESTINFO_MAX_SIZE], raw[CR_ECDSA_MAX_RAW_SIZE];
	size_t di_len = sizeof(di), raw_len = sizeof(raw), field;
	struct cr_pubkey pub;
	int rc;

	if (hash_len != cr_hash_size(h))
		return CR_E_ARGS;
	switch (scheme) {
	case CR_SCHEME_RSA_PKCS1:
		rc = cr_rsa_digestinfo(h, hash, hash_len, di, &di_len);
		return rc != CR_OK ? rc : cr_verify_rsa_pkcs1(spki, spki_len, di, di_len, sig, sig_len);
	case CR_SCHEME_RSA_PSS:
		return cr_verify_rsa_pss(spki, spki_len, h, h, hash_len, hash, hash_len, sig, sig_len);
	case CR_SCHEME_ECDSA:
		rc = cr_spki_parse(spki, spki_len, &pub);
		if (rc != CR_OK)
			return rc;
		field = (pub.bits + 7) / 8;
		rc = pub.type == CR_KEY_EC ? CR_OK : CR_E_ARGS;
		cr_pubkey_clear(&pub);
		if (rc != CR_OK)
			return rc;
		/* A signature that is not even DER is one that does not verify. */
		if (cr_ecdsa_der_to_raw(sig, sig_len, field, raw, &raw_len) != CR_OK)
			return CR_E_SIGNATURE;
		return cr_verify_ecdsa(spki, spki_len, hash, hash_len, raw, raw_len);
	}
	return CR_E_ARGS;
}
