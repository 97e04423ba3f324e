#include "pkcs11/mech_param.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "pkcs11/log.h"

/* PKCS#11 3.0 values that p11-kit 0.24's header lacks. */
#define SIGNET_CKM_SHA3_256 0x2b0UL
#define SIGNET_CKM_SHA3_224 0x2b5UL
#define SIGNET_CKM_SHA3_384 0x2c0UL
#define SIGNET_CKM_SHA3_512 0x2d0UL
#define SIGNET_CKG_MGF1_SHA3_512 0x9UL   /* the last MGF defined: CKG_MGF1_SHA1 is 1 */
#define SIGNET_CKD_BLAKE2B_512_KDF 0x1aUL /* the last KDF defined: CKD_NULL is 1 */

/* The largest RSA modulus a supported token takes (16384 bits): no salt is longer. */
#define MAX_RSA_BYTES 2048

/* What 3.0 allows for a GCM IV: 1 to 2^32 - 1 bytes. */
#define MAX_GCM_IV 0xffffffffUL

/* RFC 8032: an Ed25519ctx / Ed448 context holds at most 255 bytes. */
#define MAX_EDDSA_CONTEXT 255

typedef CK_RV check_fn(const CK_MECHANISM *m, CK_ULONG arg, const char **why);

static CK_RV invalid(const char **why, const char *what)
{
	*why = what;
	return CKR_MECHANISM_PARAM_INVALID;
}

static CK_RV null_with_length(const char **why, const char *what)
{
	*why = what;
	return CKR_ARGUMENTS_BAD;
}

/* A pointer/length pair a token can read: storage behind the pointer, or nothing to read. */
static bool has_storage(const void *p, CK_ULONG len)
{
	return p != NULL || len == 0;
}

/* A parameter of exactly `size` bytes: a struct, a CBC IV, a handle. */
static CK_RV check_size(const CK_MECHANISM *m, CK_ULONG size, const char **why)
{
	if (m->pParameter == NULL)
		return invalid(why, "the mechanism needs a parameter");
	if (m->ulParameterLen != size)
		return invalid(why, "ulParameterLen is not the size of the parameter");
	return CKR_OK;
}

/* check_size(), then a copy into out: copying rather than casting spares the checks a misaligned pointer. */
static CK_RV copy_struct(const CK_MECHANISM *m, void *out, size_t size, const char **why)
{
	CK_RV rv = check_size(m, size, why);

	if (rv == CKR_OK)
		memcpy(out, m->pParameter, size);
	return rv;
}

static bool known_hash(CK_MECHANISM_TYPE h)
{
	static const CK_MECHANISM_TYPE hashes[] = {
		CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512,
		SIGNET_CKM_SHA3_224, SIGNET_CKM_SHA3_256, SIGNET_CKM_SHA3_384, SIGNET_CKM_SHA3_512,
	};

	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (hashes[i] == h)
			return true;
	return false;
}

static bool known_mgf(CK_RSA_PKCS_MGF_TYPE mgf)
{
	return mgf >= CKG_MGF1_SHA1 && mgf <= SIGNET_CKG_MGF1_SHA3_512;
}

/* ---- the shapes of parameters ---- */

static CK_RV check_none(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	(void)unused;
	if (m->pParameter != NULL || m->ulParameterLen != 0)
		return invalid(why, "the mechanism takes no parameter");
	return CKR_OK;
}

/* None, or an IV of exactly `size` bytes: the AES key wraps. */
static CK_RV check_optional_iv(const CK_MECHANISM *m, CK_ULONG size, const char **why)
{
	/* No pointer means no length either: the generic check saw to that. */
	return m->pParameter == NULL ? CKR_OK : check_size(m, size, why);
}

/* CKM_DH_PKCS_DERIVE: the other party's public value, as bytes. */
static CK_RV check_public_value(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	(void)unused;
	if (m->ulParameterLen == 0)
		return invalid(why, "the mechanism needs the other party's public value");
	return CKR_OK;
}

static CK_RV check_gcm(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	CK_GCM_PARAMS p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);

	(void)unused;
	if (rv != CKR_OK)
		return rv;
	if (!has_storage(p.pIv, p.ulIvLen))
		return null_with_length(why, "pIv is NULL with a length");
	if (!has_storage(p.pAAD, p.ulAADLen))
		return null_with_length(why, "pAAD is NULL with a length");
	if (p.ulIvLen == 0 || p.ulIvLen > MAX_GCM_IV)
		return invalid(why, "ulIvLen is not 1 to 2^32 - 1");
	if (p.ulIvBits > 8 * p.ulIvLen)
		return invalid(why, "ulIvBits is longer than the IV");
	if (p.ulTagBits > 128 || p.ulTagBits % 8 != 0)
		return invalid(why, "ulTagBits is not 0 to 128 in steps of 8");
	return CKR_OK;
}

static CK_RV check_ccm(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	struct mech_ccm_params p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);
	CK_ULONG length_bytes;

	(void)unused;
	if (rv != CKR_OK)
		return rv;
	if (!has_storage(p.pNonce, p.ulNonceLen))
		return null_with_length(why, "pNonce is NULL with a length");
	if (!has_storage(p.pAAD, p.ulAADLen))
		return null_with_length(why, "pAAD is NULL with a length");
	if (p.ulNonceLen < 7 || p.ulNonceLen > 13)
		return invalid(why, "ulNonceLen is not 7 to 13");
	if (p.ulMACLen < 4 || p.ulMACLen > 16 || p.ulMACLen % 2 != 0)
		return invalid(why, "ulMACLen is not 4 to 16 and even");
	/* The nonce leaves 15 - ulNonceLen bytes to encode the data's length in. */
	length_bytes = 15 - p.ulNonceLen;
	if (length_bytes < sizeof(p.ulDataLen) && (p.ulDataLen >> (8 * length_bytes)) != 0)
		return invalid(why, "ulDataLen does not fit beside a nonce that long");
	return CKR_OK;
}

static CK_RV check_ctr(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	CK_AES_CTR_PARAMS p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);

	(void)unused;
	if (rv != CKR_OK)
		return rv;
	if (p.ulCounterBits == 0 || p.ulCounterBits > 128)
		return invalid(why, "ulCounterBits is not 1 to 128");
	return CKR_OK;
}

/* PSS, where `hash` (when not 0) is the hash a CKM_SHAx_RSA_PKCS_PSS mechanism names. */
static CK_RV check_pss(const CK_MECHANISM *m, CK_ULONG hash, const char **why)
{
	CK_RSA_PKCS_PSS_PARAMS p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);

	if (rv != CKR_OK)
		return rv;
	if (!known_hash(p.hashAlg))
		return invalid(why, "hashAlg is not a known hash");
	if (hash != 0 && p.hashAlg != hash)
		return invalid(why, "hashAlg is not the mechanism's hash");
	if (!known_mgf(p.mgf))
		return invalid(why, "mgf is not a known MGF");
	if (p.sLen > MAX_RSA_BYTES)
		return invalid(why, "sLen is longer than any RSA key");
	return CKR_OK;
}

static CK_RV check_oaep(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	CK_RSA_PKCS_OAEP_PARAMS p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);

	(void)unused;
	if (rv != CKR_OK)
		return rv;
	if (!has_storage(p.pSourceData, p.ulSourceDataLen))
		return null_with_length(why, "pSourceData is NULL with a length");
	if (!known_hash(p.hashAlg))
		return invalid(why, "hashAlg is not a known hash");
	if (!known_mgf(p.mgf))
		return invalid(why, "mgf is not a known MGF");
	if (p.source != 0 && p.source != CKZ_DATA_SPECIFIED)
		return invalid(why, "source is not CKZ_DATA_SPECIFIED");
	return CKR_OK;
}

static CK_RV check_ecdh1(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	CK_ECDH1_DERIVE_PARAMS p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);

	(void)unused;
	if (rv != CKR_OK)
		return rv;
	if (!has_storage(p.pSharedData, p.ulSharedDataLen))
		return null_with_length(why, "pSharedData is NULL with a length");
	if (!has_storage(p.pPublicData, p.ulPublicDataLen))
		return null_with_length(why, "pPublicData is NULL with a length");
	if (p.kdf < CKD_NULL || p.kdf > SIGNET_CKD_BLAKE2B_512_KDF)
		return invalid(why, "kdf is not a known KDF");
	if (p.kdf == CKD_NULL && p.ulSharedDataLen != 0)
		return invalid(why, "shared data without a KDF");
	if (p.ulPublicDataLen == 0)
		return invalid(why, "no public data");
	return CKR_OK;
}

/* Data a key is derived from; `block` > 0: whole cipher blocks, as the ECB and CBC derivations need. */
static CK_RV check_derivation_data(const void *data, CK_ULONG len, CK_ULONG block, const char **why)
{
	if (!has_storage(data, len))
		return null_with_length(why, "pData is NULL with a length");
	if (block > 0 && (len == 0 || len % block != 0))
		return invalid(why, "the data is not a whole number of cipher blocks");
	return CKR_OK;
}

/* CK_KEY_DERIVATION_STRING_DATA: the concatenations, the XOR and the ECB derivations. */
static CK_RV check_string_data(const CK_MECHANISM *m, CK_ULONG block, const char **why)
{
	CK_KEY_DERIVATION_STRING_DATA p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);

	return rv == CKR_OK ? check_derivation_data(p.pData, p.ulLen, block, why) : rv;
}

static CK_RV check_des_cbc_data(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	CK_DES_CBC_ENCRYPT_DATA_PARAMS p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);

	(void)unused;
	return rv == CKR_OK ? check_derivation_data(p.pData, p.length, sizeof(p.iv), why) : rv;
}

static CK_RV check_aes_cbc_data(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	CK_AES_CBC_ENCRYPT_DATA_PARAMS p;
	CK_RV rv = copy_struct(m, &p, sizeof(p), why);

	(void)unused;
	return rv == CKR_OK ? check_derivation_data(p.pData, p.length, sizeof(p.iv), why) : rv;
}

/* CKM_EDDSA: no parameter (plain Ed25519), or CK_EDDSA_PARAMS. */
static CK_RV check_eddsa(const CK_MECHANISM *m, CK_ULONG unused, const char **why)
{
	CK_EDDSA_PARAMS p;
	CK_RV rv;

	(void)unused;
	if (m->pParameter == NULL)
		return CKR_OK;
	rv = copy_struct(m, &p, sizeof(p), why);
	if (rv != CKR_OK)
		return rv;
	if (!has_storage(p.pContextData, p.ulContextDataLen))
		return null_with_length(why, "pContextData is NULL with a length");
	if (p.ulContextDataLen > MAX_EDDSA_CONTEXT)
		return invalid(why, "the context is longer than 255 bytes");
	return CKR_OK;
}

/* ---- which mechanism has which shape ---- */

static const struct rule {
	CK_MECHANISM_TYPE type;
	check_fn *check;
	CK_ULONG arg;
} rules[] = {
	/* signatures over a key alone, most used first: they are the hot path */
	{ CKM_ECDSA, check_none, 0 },
	{ CKM_ECDSA_SHA256, check_none, 0 },
	{ CKM_RSA_PKCS, check_none, 0 },
	{ CKM_SHA256_RSA_PKCS, check_none, 0 },
	{ CKM_RSA_PKCS_PSS, check_pss, 0 },
	{ CKM_SHA256_RSA_PKCS_PSS, check_pss, CKM_SHA256 },
	{ CKM_SHA256, check_none, 0 },
	{ CKM_ECDSA_SHA1, check_none, 0 },
	{ CKM_ECDSA_SHA224, check_none, 0 },
	{ CKM_ECDSA_SHA384, check_none, 0 },
	{ CKM_ECDSA_SHA512, check_none, 0 },
	{ CKM_EDDSA, check_eddsa, 0 },
	{ CKM_RSA_X_509, check_none, 0 },
	{ CKM_MD5_RSA_PKCS, check_none, 0 },
	{ CKM_SHA1_RSA_PKCS, check_none, 0 },
	{ CKM_SHA224_RSA_PKCS, check_none, 0 },
	{ CKM_SHA384_RSA_PKCS, check_none, 0 },
	{ CKM_SHA512_RSA_PKCS, check_none, 0 },
	{ CKM_SHA1_RSA_PKCS_PSS, check_pss, CKM_SHA_1 },
	{ CKM_SHA224_RSA_PKCS_PSS, check_pss, CKM_SHA224 },
	{ CKM_SHA384_RSA_PKCS_PSS, check_pss, CKM_SHA384 },
	{ CKM_SHA512_RSA_PKCS_PSS, check_pss, CKM_SHA512 },
	{ CKM_RSA_PKCS_OAEP, check_oaep, 0 },
	{ CKM_DSA, check_none, 0 },
	{ CKM_DSA_SHA1, check_none, 0 },
	{ CKM_DSA_SHA224, check_none, 0 },
	{ CKM_DSA_SHA256, check_none, 0 },
	{ CKM_DSA_SHA384, check_none, 0 },
	{ CKM_DSA_SHA512, check_none, 0 },
	/* digests and MACs */
	{ CKM_MD5, check_none, 0 },
	{ CKM_SHA_1, check_none, 0 },
	{ CKM_SHA224, check_none, 0 },
	{ CKM_SHA384, check_none, 0 },
	{ CKM_SHA512, check_none, 0 },
	{ CKM_MD5_HMAC, check_none, 0 },
	{ CKM_SHA_1_HMAC, check_none, 0 },
	{ CKM_SHA224_HMAC, check_none, 0 },
	{ CKM_SHA256_HMAC, check_none, 0 },
	{ CKM_SHA384_HMAC, check_none, 0 },
	{ CKM_SHA512_HMAC, check_none, 0 },
	{ CKM_AES_CMAC, check_none, 0 },
	{ CKM_DES3_CMAC, check_none, 0 },
	/* ciphers */
	{ CKM_AES_ECB, check_none, 0 },
	{ CKM_AES_CBC, check_size, 16 },
	{ CKM_AES_CBC_PAD, check_size, 16 },
	{ CKM_AES_CTR, check_ctr, 0 },
	{ CKM_AES_GCM, check_gcm, 0 },
	{ CKM_AES_CCM, check_ccm, 0 },
	{ CKM_DES_ECB, check_none, 0 },
	{ CKM_DES_CBC, check_size, 8 },
	{ CKM_DES_CBC_PAD, check_size, 8 },
	{ CKM_DES3_ECB, check_none, 0 },
	{ CKM_DES3_CBC, check_size, 8 },
	{ CKM_DES3_CBC_PAD, check_size, 8 },
	{ CKM_AES_KEY_WRAP, check_optional_iv, 8 },
	{ CKM_AES_KEY_WRAP_PAD, check_optional_iv, 4 },
	/* key and domain parameter generation */
	{ CKM_GENERIC_SECRET_KEY_GEN, check_none, 0 },
	{ CKM_AES_KEY_GEN, check_none, 0 },
	{ CKM_DES_KEY_GEN, check_none, 0 },
	{ CKM_DES2_KEY_GEN, check_none, 0 },
	{ CKM_DES3_KEY_GEN, check_none, 0 },
	{ CKM_RSA_PKCS_KEY_PAIR_GEN, check_none, 0 },
	{ CKM_EC_KEY_PAIR_GEN, check_none, 0 },
	{ CKM_EC_EDWARDS_KEY_PAIR_GEN, check_none, 0 },
	{ CKM_EC_MONTGOMERY_KEY_PAIR_GEN, check_none, 0 },
	{ CKM_DSA_KEY_PAIR_GEN, check_none, 0 },
	{ CKM_DSA_PARAMETER_GEN, check_none, 0 },
	{ CKM_DH_PKCS_KEY_PAIR_GEN, check_none, 0 },
	{ CKM_DH_PKCS_PARAMETER_GEN, check_none, 0 },
	/* key derivation */
	{ CKM_ECDH1_DERIVE, check_ecdh1, 0 },
	{ CKM_ECDH1_COFACTOR_DERIVE, check_ecdh1, 0 },
	{ CKM_DH_PKCS_DERIVE, check_public_value, 0 },
	{ CKM_DES_ECB_ENCRYPT_DATA, check_string_data, 8 },
	{ CKM_DES3_ECB_ENCRYPT_DATA, check_string_data, 8 },
	{ CKM_AES_ECB_ENCRYPT_DATA, check_string_data, 16 },
	{ CKM_DES_CBC_ENCRYPT_DATA, check_des_cbc_data, 0 },
	{ CKM_DES3_CBC_ENCRYPT_DATA, check_des_cbc_data, 0 },
	{ CKM_AES_CBC_ENCRYPT_DATA, check_aes_cbc_data, 0 },
	{ CKM_CONCATENATE_BASE_AND_DATA, check_string_data, 0 },
	{ CKM_CONCATENATE_DATA_AND_BASE, check_string_data, 0 },
	{ CKM_XOR_BASE_AND_DATA, check_string_data, 0 },
	{ CKM_CONCATENATE_BASE_AND_KEY, check_size, sizeof(CK_OBJECT_HANDLE) },
	{ CKM_EXTRACT_KEY_FROM_KEY, check_size, sizeof(CK_ULONG) }, /* CK_EXTRACT_PARAMS: a bit index */
	{ CKM_MD2_KEY_DERIVATION, check_none, 0 },
	{ CKM_MD5_KEY_DERIVATION, check_none, 0 },
	{ CKM_SHA1_KEY_DERIVATION, check_none, 0 },
	{ CKM_SHA224_KEY_DERIVATION, check_none, 0 },
	{ CKM_SHA256_KEY_DERIVATION, check_none, 0 },
	{ CKM_SHA384_KEY_DERIVATION, check_none, 0 },
	{ CKM_SHA512_KEY_DERIVATION, check_none, 0 },
};

static const struct rule *rule_for(CK_MECHANISM_TYPE type)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].type == type)
			return &rules[i];
	return NULL;
}

CK_RV mech_param_check(const CK_MECHANISM *m)
{
	const struct rule *r;
	const char *why = NULL;
	CK_RV rv = CKR_OK;

	if (m->pParameter == NULL && m->ulParameterLen > 0)
		rv = null_with_length(&why, "pParameter is NULL with a length");
	else if ((r = rule_for(m->mechanism)) != NULL)
		rv = r->check(m, r->arg, &why);
	if (rv != CKR_OK)
		log_msg(LL_DEBUG, "%s: parameter refused: %s", log_mech_name(m->mechanism), why);
	return rv;
}
