/*
 * Mechanism parameters: the checker, mechanism by mechanism with good and
 * bad parameters, and then through the module on a real SoftHSMv2: a bad
 * parameter is refused before the token sees it, from every entry point
 * that takes a mechanism, and a parameter SoftHSM would dereference no
 * longer ends the host.
 */
#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pkcs11/cryptoki.h"
#include "pkcs11/log.h"
#include "pkcs11/mech_param.h"
#include "tests/check_util.h"
#include "tests/softhsm_fixture.h"

CK_RV C_GetInterface(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS);

#define SO_PIN "87654321"
#define USER_PIN "123456"

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static char conf[4096];
static CK_SLOT_ID slot;

/* ---- the checker ---- */

#define OK CKR_OK
#define BAD_ARGS CKR_ARGUMENTS_BAD
#define BAD_PARAM CKR_MECHANISM_PARAM_INVALID
#define VENDOR_MECH (CKM_VENDOR_DEFINED | 0x5151UL)
#define SHA3_256 0x2b0UL
#define MGF1_SHA3_256 0x7UL

/* A parameter struct of `type` with the given fields, and its size (or `len`). */
#define P(type, ...) &(type){ __VA_ARGS__ }, sizeof(type)
#define P_LEN(type, len, ...) &(type){ __VA_ARGS__ }, (len)

static CK_BYTE buf[64];

static const struct {
	const char *what;
	CK_MECHANISM m;
	CK_RV expect;
} cases[] = {
	/* any mechanism: the pointer/length pair of CK_MECHANISM itself */
	{ "unknown mechanism with a parameter", { VENDOR_MECH, buf, 3 }, OK },
	{ "unknown mechanism without one", { VENDOR_MECH, NULL, 0 }, OK },
	{ "unknown mechanism, NULL with a length", { VENDOR_MECH, NULL, 3 }, BAD_ARGS },
	{ "HMAC_GENERAL is judged by the token", { CKM_SHA256_HMAC_GENERAL, buf, 1 }, OK },

	/* mechanisms that take no parameter */
	{ "SHA256", { CKM_SHA256, NULL, 0 }, OK },
	{ "SHA256 with a parameter", { CKM_SHA256, buf, 4 }, BAD_PARAM },
	{ "SHA256 with a pointer and no length", { CKM_SHA256, buf, 0 }, BAD_PARAM },
	{ "SHA256, NULL with a length", { CKM_SHA256, NULL, 4 }, BAD_ARGS },
	{ "ECDSA with a parameter", { CKM_ECDSA, buf, 1 }, BAD_PARAM },
	{ "ECDSA_SHA256 with a parameter", { CKM_ECDSA_SHA256, buf, 1 }, BAD_PARAM },
	{ "RSA_PKCS with a parameter", { CKM_RSA_PKCS, buf, 8 }, BAD_PARAM },
	{ "SHA256_RSA_PKCS", { CKM_SHA256_RSA_PKCS, NULL, 0 }, OK },
	{ "AES_ECB with an IV", { CKM_AES_ECB, buf, 16 }, BAD_PARAM },
	{ "SHA256_HMAC with a parameter", { CKM_SHA256_HMAC, buf, 4 }, BAD_PARAM },
	{ "AES_KEY_GEN with a parameter", { CKM_AES_KEY_GEN, buf, 4 }, BAD_PARAM },
	{ "EC_KEY_PAIR_GEN with a parameter", { CKM_EC_KEY_PAIR_GEN, buf, 4 }, BAD_PARAM },
	{ "RSA_PKCS_KEY_PAIR_GEN", { CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0 }, OK },
	{ "SHA256_KEY_DERIVATION with a parameter", { CKM_SHA256_KEY_DERIVATION, buf, 4 }, BAD_PARAM },

	/* CBC IVs: exactly one block */
	{ "AES_CBC", { CKM_AES_CBC, buf, 16 }, OK },
	{ "AES_CBC_PAD", { CKM_AES_CBC_PAD, buf, 16 }, OK },
	{ "AES_CBC, 8-byte IV", { CKM_AES_CBC, buf, 8 }, BAD_PARAM },
	{ "AES_CBC_PAD, 15-byte IV", { CKM_AES_CBC_PAD, buf, 15 }, BAD_PARAM },
	{ "AES_CBC, no IV", { CKM_AES_CBC, NULL, 0 }, BAD_PARAM },
	{ "AES_CBC, IV pointer without length", { CKM_AES_CBC, buf, 0 }, BAD_PARAM },
	{ "AES_CBC, NULL IV with a length", { CKM_AES_CBC, NULL, 16 }, BAD_ARGS },
	{ "DES3_CBC", { CKM_DES3_CBC, buf, 8 }, OK },
	{ "DES3_CBC_PAD, 16-byte IV", { CKM_DES3_CBC_PAD, buf, 16 }, BAD_PARAM },
	{ "DES_CBC_PAD", { CKM_DES_CBC_PAD, buf, 8 }, OK },
	{ "DES_CBC, 7-byte IV", { CKM_DES_CBC, buf, 7 }, BAD_PARAM },

	/* CTR */
	{ "CTR, 128 counter bits", { CKM_AES_CTR, P(CK_AES_CTR_PARAMS, 128, { 0 }) }, OK },
	{ "CTR, 1 counter bit", { CKM_AES_CTR, P(CK_AES_CTR_PARAMS, 1, { 0 }) }, OK },
	{ "CTR, 0 counter bits", { CKM_AES_CTR, P(CK_AES_CTR_PARAMS, 0, { 0 }) }, BAD_PARAM },
	{ "CTR, 129 counter bits", { CKM_AES_CTR, P(CK_AES_CTR_PARAMS, 129, { 0 }) }, BAD_PARAM },
	{ "CTR, struct too short", { CKM_AES_CTR, P_LEN(CK_AES_CTR_PARAMS, 16, 32, { 0 }) }, BAD_PARAM },
	{ "CTR, no parameter", { CKM_AES_CTR, NULL, 0 }, BAD_PARAM },

	/* GCM */
	{ "GCM", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 12, 96, buf, 20, 128) }, OK },
	{ "GCM, no AAD, no ulIvBits, 96-bit tag", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 12, 0, NULL, 0, 96) }, OK },
	{ "GCM, 0-bit tag", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 16, 128, NULL, 0, 0) }, OK },
	{ "GCM, pAAD NULL with ulAADLen 20", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 12, 96, NULL, 20, 128) }, BAD_ARGS },
	{ "GCM, pIv NULL with ulIvLen 12", { CKM_AES_GCM, P(CK_GCM_PARAMS, NULL, 12, 96, buf, 20, 128) }, BAD_ARGS },
	{ "GCM, empty IV", { CKM_AES_GCM, P(CK_GCM_PARAMS, NULL, 0, 0, NULL, 0, 128) }, BAD_PARAM },
	{ "GCM, IV over 2^32 - 1 bytes", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 0x100000000UL, 0, NULL, 0, 128) },
	  BAD_PARAM },
	{ "GCM, ulIvBits longer than the IV", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 12, 97, NULL, 0, 128) }, BAD_PARAM },
	{ "GCM, 129-bit tag", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 12, 96, NULL, 0, 129) }, BAD_PARAM },
	{ "GCM, 136-bit tag", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 12, 96, NULL, 0, 136) }, BAD_PARAM },
	{ "GCM, 100-bit tag", { CKM_AES_GCM, P(CK_GCM_PARAMS, buf, 12, 96, NULL, 0, 100) }, BAD_PARAM },
	{ "GCM, struct one byte short",
	  { CKM_AES_GCM, P_LEN(CK_GCM_PARAMS, sizeof(CK_GCM_PARAMS) - 1, buf, 12, 96, NULL, 0, 128) }, BAD_PARAM },
	{ "GCM, 2.40 struct without ulIvBits",
	  { CKM_AES_GCM, P_LEN(CK_GCM_PARAMS, sizeof(CK_GCM_PARAMS) - sizeof(CK_ULONG), buf, 12, 96, NULL, 0, 128) },
	  BAD_PARAM },
	{ "GCM, no parameter", { CKM_AES_GCM, NULL, 0 }, BAD_PARAM },
	{ "GCM, NULL parameter with a length", { CKM_AES_GCM, NULL, sizeof(CK_GCM_PARAMS) }, BAD_ARGS },

	/* CCM */
	{ "CCM", { CKM_AES_CCM, P(struct mech_ccm_params, 100, buf, 12, buf, 8, 16) }, OK },
	{ "CCM, no AAD, 7-byte nonce, 4-byte MAC", { CKM_AES_CCM, P(struct mech_ccm_params, ~0UL, buf, 7, NULL, 0, 4) },
	  OK },
	{ "CCM, pNonce NULL with a length", { CKM_AES_CCM, P(struct mech_ccm_params, 100, NULL, 12, buf, 8, 16) },
	  BAD_ARGS },
	{ "CCM, pAAD NULL with a length", { CKM_AES_CCM, P(struct mech_ccm_params, 100, buf, 12, NULL, 8, 16) },
	  BAD_ARGS },
	{ "CCM, 6-byte nonce", { CKM_AES_CCM, P(struct mech_ccm_params, 100, buf, 6, NULL, 0, 16) }, BAD_PARAM },
	{ "CCM, 14-byte nonce", { CKM_AES_CCM, P(struct mech_ccm_params, 100, buf, 14, NULL, 0, 16) }, BAD_PARAM },
	{ "CCM, 3-byte MAC", { CKM_AES_CCM, P(struct mech_ccm_params, 100, buf, 12, NULL, 0, 3) }, BAD_PARAM },
	{ "CCM, odd MAC", { CKM_AES_CCM, P(struct mech_ccm_params, 100, buf, 12, NULL, 0, 5) }, BAD_PARAM },
	{ "CCM, 18-byte MAC", { CKM_AES_CCM, P(struct mech_ccm_params, 100, buf, 12, NULL, 0, 18) }, BAD_PARAM },
	{ "CCM, longest data a 13-byte nonce allows",
	  { CKM_AES_CCM, P(struct mech_ccm_params, 65535, buf, 13, NULL, 0, 16) }, OK },
	{ "CCM, data too long for a 13-byte nonce",
	  { CKM_AES_CCM, P(struct mech_ccm_params, 65536, buf, 13, NULL, 0, 16) }, BAD_PARAM },
	{ "CCM, wrong size", { CKM_AES_CCM, P_LEN(struct mech_ccm_params, 8, 100, buf, 12, NULL, 0, 16) }, BAD_PARAM },

	/* PSS */
	{ "PSS", { CKM_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA256, CKG_MGF1_SHA256, 32) }, OK },
	{ "PSS, SHA3", { CKM_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, SHA3_256, MGF1_SHA3_256, 32) }, OK },
	{ "PSS, MGF over another hash", { CKM_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA256, CKG_MGF1_SHA1, 0) },
	  OK },
	{ "SHA256_RSA_PKCS_PSS", { CKM_SHA256_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA256, CKG_MGF1_SHA256, 32) },
	  OK },
	{ "SHA384_RSA_PKCS_PSS naming SHA256",
	  { CKM_SHA384_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA256, CKG_MGF1_SHA256, 32) }, BAD_PARAM },
	{ "SHA1_RSA_PKCS_PSS", { CKM_SHA1_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA_1, CKG_MGF1_SHA1, 20) }, OK },
	{ "PSS, MD5", { CKM_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_MD5, CKG_MGF1_SHA256, 32) }, BAD_PARAM },
	{ "PSS, MGF 0", { CKM_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA256, 0, 32) }, BAD_PARAM },
	{ "PSS, MGF 10", { CKM_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA256, 10, 32) }, BAD_PARAM },
	{ "PSS, sLen longer than any key",
	  { CKM_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA256, CKG_MGF1_SHA256, 2049) }, BAD_PARAM },
	{ "PSS, sLen -1", { CKM_RSA_PKCS_PSS, P(CK_RSA_PKCS_PSS_PARAMS, CKM_SHA256, CKG_MGF1_SHA256, ~0UL) }, BAD_PARAM },
	{ "PSS, no parameter", { CKM_RSA_PKCS_PSS, NULL, 0 }, BAD_PARAM },
	{ "SHA256_RSA_PKCS_PSS, no parameter", { CKM_SHA256_RSA_PKCS_PSS, NULL, 0 }, BAD_PARAM },
	{ "PSS, wrong size",
	  { CKM_RSA_PKCS_PSS, P_LEN(CK_RSA_PKCS_PSS_PARAMS, 2 * sizeof(CK_ULONG), CKM_SHA256, CKG_MGF1_SHA256, 32) },
	  BAD_PARAM },

	/* OAEP */
	{ "OAEP", { CKM_RSA_PKCS_OAEP, P(CK_RSA_PKCS_OAEP_PARAMS, CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0) },
	  OK },
	{ "OAEP, source 0 and a label",
	  { CKM_RSA_PKCS_OAEP, P(CK_RSA_PKCS_OAEP_PARAMS, CKM_SHA256, CKG_MGF1_SHA256, 0, buf, 5) }, OK },
	{ "OAEP, label NULL with a length",
	  { CKM_RSA_PKCS_OAEP, P(CK_RSA_PKCS_OAEP_PARAMS, CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 5) },
	  BAD_ARGS },
	{ "OAEP, source 2", { CKM_RSA_PKCS_OAEP, P(CK_RSA_PKCS_OAEP_PARAMS, CKM_SHA256, CKG_MGF1_SHA256, 2, NULL, 0) },
	  BAD_PARAM },
	{ "OAEP, unknown hash",
	  { CKM_RSA_PKCS_OAEP, P(CK_RSA_PKCS_OAEP_PARAMS, CKM_AES_ECB, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0) },
	  BAD_PARAM },
	{ "OAEP, unknown MGF",
	  { CKM_RSA_PKCS_OAEP, P(CK_RSA_PKCS_OAEP_PARAMS, CKM_SHA256, 0x80000001UL, CKZ_DATA_SPECIFIED, NULL, 0) },
	  BAD_PARAM },
	{ "OAEP, wrong size",
	  { CKM_RSA_PKCS_OAEP,
	    P_LEN(CK_RSA_PKCS_OAEP_PARAMS, sizeof(CK_RSA_PKCS_PSS_PARAMS), CKM_SHA256, CKG_MGF1_SHA256, 0, NULL, 0) },
	  BAD_PARAM },
	{ "OAEP, no parameter", { CKM_RSA_PKCS_OAEP, NULL, 0 }, BAD_PARAM },

	/* ECDH */
	{ "ECDH1", { CKM_ECDH1_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, CKD_NULL, 0, NULL, 65, buf) }, OK },
	{ "ECDH1, SHA256 KDF with shared data",
	  { CKM_ECDH1_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, CKD_SHA256_KDF, 5, buf, 65, buf) }, OK },
	{ "ECDH1 cofactor", { CKM_ECDH1_COFACTOR_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, CKD_NULL, 0, NULL, 65, buf) }, OK },
	{ "ECDH1, pPublicData NULL with a length",
	  { CKM_ECDH1_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, CKD_NULL, 0, NULL, 65, NULL) }, BAD_ARGS },
	{ "ECDH1, pSharedData NULL with a length",
	  { CKM_ECDH1_COFACTOR_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, CKD_SHA256_KDF, 5, NULL, 65, buf) }, BAD_ARGS },
	{ "ECDH1, KDF 0", { CKM_ECDH1_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, 0, 0, NULL, 65, buf) }, BAD_PARAM },
	{ "ECDH1, KDF past the last", { CKM_ECDH1_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, 0x1b, 0, NULL, 65, buf) },
	  BAD_PARAM },
	{ "ECDH1, shared data without a KDF", { CKM_ECDH1_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, CKD_NULL, 5, buf, 65, buf) },
	  BAD_PARAM },
	{ "ECDH1, no public data", { CKM_ECDH1_DERIVE, P(CK_ECDH1_DERIVE_PARAMS, CKD_NULL, 0, NULL, 0, NULL) },
	  BAD_PARAM },
	{ "ECDH1, struct one byte short",
	  { CKM_ECDH1_DERIVE,
	    P_LEN(CK_ECDH1_DERIVE_PARAMS, sizeof(CK_ECDH1_DERIVE_PARAMS) - 1, CKD_NULL, 0, NULL, 65, buf) },
	  BAD_PARAM },
	{ "DH_PKCS_DERIVE", { CKM_DH_PKCS_DERIVE, buf, 64 }, OK },
	{ "DH_PKCS_DERIVE, no public value", { CKM_DH_PKCS_DERIVE, NULL, 0 }, BAD_PARAM },
	{ "DH_PKCS_DERIVE, NULL with a length", { CKM_DH_PKCS_DERIVE, NULL, 64 }, BAD_ARGS },

	/* key derivation from data */
	{ "AES_ECB_ENCRYPT_DATA", { CKM_AES_ECB_ENCRYPT_DATA, P(CK_KEY_DERIVATION_STRING_DATA, buf, 32) }, OK },
	{ "AES_ECB_ENCRYPT_DATA, part of a block",
	  { CKM_AES_ECB_ENCRYPT_DATA, P(CK_KEY_DERIVATION_STRING_DATA, buf, 15) }, BAD_PARAM },
	{ "AES_ECB_ENCRYPT_DATA, no data", { CKM_AES_ECB_ENCRYPT_DATA, P(CK_KEY_DERIVATION_STRING_DATA, buf, 0) },
	  BAD_PARAM },
	{ "AES_ECB_ENCRYPT_DATA, pData NULL with a length",
	  { CKM_AES_ECB_ENCRYPT_DATA, P(CK_KEY_DERIVATION_STRING_DATA, NULL, 16) }, BAD_ARGS },
	{ "DES3_ECB_ENCRYPT_DATA", { CKM_DES3_ECB_ENCRYPT_DATA, P(CK_KEY_DERIVATION_STRING_DATA, buf, 24) }, OK },
	{ "DES_ECB_ENCRYPT_DATA, part of a block",
	  { CKM_DES_ECB_ENCRYPT_DATA, P(CK_KEY_DERIVATION_STRING_DATA, buf, 12) }, BAD_PARAM },
	{ "AES_CBC_ENCRYPT_DATA", { CKM_AES_CBC_ENCRYPT_DATA, P(CK_AES_CBC_ENCRYPT_DATA_PARAMS, { 0 }, buf, 32) }, OK },
	{ "AES_CBC_ENCRYPT_DATA, pData NULL with a length",
	  { CKM_AES_CBC_ENCRYPT_DATA, P(CK_AES_CBC_ENCRYPT_DATA_PARAMS, { 0 }, NULL, 16) }, BAD_ARGS },
	{ "AES_CBC_ENCRYPT_DATA, part of a block",
	  { CKM_AES_CBC_ENCRYPT_DATA, P(CK_AES_CBC_ENCRYPT_DATA_PARAMS, { 0 }, buf, 10) }, BAD_PARAM },
	{ "AES_CBC_ENCRYPT_DATA, the DES struct",
	  { CKM_AES_CBC_ENCRYPT_DATA, P(CK_DES_CBC_ENCRYPT_DATA_PARAMS, { 0 }, buf, 16) }, BAD_PARAM },
	{ "DES3_CBC_ENCRYPT_DATA", { CKM_DES3_CBC_ENCRYPT_DATA, P(CK_DES_CBC_ENCRYPT_DATA_PARAMS, { 0 }, buf, 16) },
	  OK },
	{ "DES_CBC_ENCRYPT_DATA, part of a block",
	  { CKM_DES_CBC_ENCRYPT_DATA, P(CK_DES_CBC_ENCRYPT_DATA_PARAMS, { 0 }, buf, 4) }, BAD_PARAM },
	{ "CONCATENATE_BASE_AND_DATA", { CKM_CONCATENATE_BASE_AND_DATA, P(CK_KEY_DERIVATION_STRING_DATA, buf, 5) }, OK },
	{ "CONCATENATE_DATA_AND_BASE, no data",
	  { CKM_CONCATENATE_DATA_AND_BASE, P(CK_KEY_DERIVATION_STRING_DATA, NULL, 0) }, OK },
	{ "XOR_BASE_AND_DATA, pData NULL with a length",
	  { CKM_XOR_BASE_AND_DATA, P(CK_KEY_DERIVATION_STRING_DATA, NULL, 5) }, BAD_ARGS },
	{ "CONCATENATE_BASE_AND_DATA, no parameter", { CKM_CONCATENATE_BASE_AND_DATA, NULL, 0 }, BAD_PARAM },
	{ "CONCATENATE_BASE_AND_KEY", { CKM_CONCATENATE_BASE_AND_KEY, P(CK_OBJECT_HANDLE, 7) }, OK },
	{ "CONCATENATE_BASE_AND_KEY, 4 bytes", { CKM_CONCATENATE_BASE_AND_KEY, buf, 4 }, BAD_PARAM },
	{ "EXTRACT_KEY_FROM_KEY", { CKM_EXTRACT_KEY_FROM_KEY, P(CK_ULONG, 3) }, OK },
	{ "EXTRACT_KEY_FROM_KEY, no parameter", { CKM_EXTRACT_KEY_FROM_KEY, NULL, 0 }, BAD_PARAM },

	/* AES key wrap: an optional IV */
	{ "AES_KEY_WRAP", { CKM_AES_KEY_WRAP, NULL, 0 }, OK },
	{ "AES_KEY_WRAP, 8-byte IV", { CKM_AES_KEY_WRAP, buf, 8 }, OK },
	{ "AES_KEY_WRAP, 16-byte IV", { CKM_AES_KEY_WRAP, buf, 16 }, BAD_PARAM },
	{ "AES_KEY_WRAP, NULL IV with a length", { CKM_AES_KEY_WRAP, NULL, 8 }, BAD_ARGS },
	{ "AES_KEY_WRAP_PAD", { CKM_AES_KEY_WRAP_PAD, NULL, 0 }, OK },
	{ "AES_KEY_WRAP_PAD, 4-byte IV", { CKM_AES_KEY_WRAP_PAD, buf, 4 }, OK },
	{ "AES_KEY_WRAP_PAD, 8-byte IV", { CKM_AES_KEY_WRAP_PAD, buf, 8 }, BAD_PARAM },

	/* EdDSA: an optional context */
	{ "EDDSA", { CKM_EDDSA, NULL, 0 }, OK },
	{ "EDDSA, empty context", { CKM_EDDSA, P(CK_EDDSA_PARAMS, CK_FALSE, 0, NULL) }, OK },
	{ "EDDSA, prehashed with a context", { CKM_EDDSA, P(CK_EDDSA_PARAMS, CK_TRUE, 5, buf) }, OK },
	{ "EDDSA, context NULL with a length", { CKM_EDDSA, P(CK_EDDSA_PARAMS, CK_FALSE, 5, NULL) },
	  BAD_ARGS },
	{ "EDDSA, 256-byte context", { CKM_EDDSA, P(CK_EDDSA_PARAMS, CK_FALSE, 256, buf) }, BAD_PARAM },
	{ "EDDSA, wrong size", { CKM_EDDSA, buf, 4 }, BAD_PARAM },
};

START_TEST(each_mechanism_good_and_bad_parameters)
{
	CK_RV rv = mech_param_check(&cases[_i].m);

	ck_assert_msg(rv == cases[_i].expect, "%s: 0x%lx, expected 0x%lx", cases[_i].what, (unsigned long)rv,
		      (unsigned long)cases[_i].expect);
}
END_TEST

/* A refusal says which mechanism and what is wrong, at debug level, and nothing of the parameter's contents. */
START_TEST(refusal_is_logged_at_debug_level)
{
	char *d = tu_tempdir(), errpath[4200];
	CK_BYTE label[8] = "LBLsecr";
	CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256, 7, label, sizeof(label) };
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) };
	char *err;
	int saved;

	snprintf(errpath, sizeof(errpath), "%s/stderr", d);
	log_configure(LL_WARNING, "stderr");
	saved = tu_capture_stderr(errpath);
	ck_assert_int_eq(mech_param_check(&m), CKR_MECHANISM_PARAM_INVALID);
	log_configure(LL_DEBUG, "stderr");
	ck_assert_int_eq(mech_param_check(&m), CKR_MECHANISM_PARAM_INVALID);
	tu_restore_stderr(saved);
	err = tu_read_file(errpath);
	ck_assert_msg(strstr(err, "CKM_RSA_PKCS_OAEP: parameter refused: source is not CKZ_DATA_SPECIFIED\n") != NULL,
		      "log: %s", err);
	ck_assert_ptr_eq(strchr(err, '\n'), err + strlen(err) - 1); /* one line: the warning level logged none */
	ck_assert_ptr_null(strstr(err, "LBL"));
	free(err);
	free(d);
}
END_TEST

/* ---- through the module ---- */

/* A token with a user PIN that needs no change, and the module left initialised on it. */
static void module_setup(void)
{
	CK_SESSION_HANDLE h;

	dir = tu_tempdir();
	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	sf_write_softhsm_conf(dir);
	sf_write_signet_conf(conf, dir, NULL, "[policy]\nrequire_pin_change = no\n");
	f = sf_initialize(conf);
	slot = sf_initialised_slot(f);
	h = sf_init_token(f, slot, "mechparam", SO_PIN, USER_PIN);
	ck_assert_int_eq(f->C_CloseSession(h), CKR_OK);
}

static void module_teardown(void)
{
	f->C_Finalize(NULL);
	free(dir);
}

static CK_SESSION_HANDLE user_session(void)
{
	CK_SESSION_HANDLE h;

	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h), CKR_OK);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), CKR_OK);
	return h;
}

/* A session AES-256 key for every symmetric use; CKR_OK or the token's error. */
static CK_RV gen_aes_key(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *key)
{
	CK_BBOOL yes = CK_TRUE;
	CK_ULONG len = 32;
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_ATTRIBUTE t[] = { { CKA_VALUE_LEN, &len, sizeof(len) }, { CKA_ENCRYPT, &yes, 1 },
			     { CKA_DECRYPT, &yes, 1 },			 { CKA_WRAP, &yes, 1 },
			     { CKA_UNWRAP, &yes, 1 } };

	return f->C_GenerateKey(h, &mech, t, sizeof(t) / sizeof(t[0]), key);
}

static void gen_ec_pair(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_BBOOL yes = CK_TRUE;
	CK_MECHANISM mech = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) }, { CKA_VERIFY, &yes, 1 } };
	CK_ATTRIBUTE st[] = { { CKA_SIGN, &yes, 1 }, { CKA_DERIVE, &yes, 1 } };

	ck_assert_int_eq(f->C_GenerateKeyPair(h, &mech, pt, 2, st, 2, pub, priv), CKR_OK);
}

/* ---- GCM parameters SoftHSM dereferences: the host lives ---- */

static CK_BYTE iv[12], aad[20];

static const struct {
	const char *what;
	bool decrypt;
	CK_GCM_PARAMS gcm;
	CK_RV expect;
} gcm_cases[] = {
	{ "pAAD NULL, ulAADLen 20", false, { iv, 12, 96, NULL, 20, 128 }, CKR_ARGUMENTS_BAD },
	{ "pIv NULL, ulIvLen 12", false, { NULL, 12, 96, aad, 20, 128 }, CKR_ARGUMENTS_BAD },
	{ "decrypt, pAAD NULL, ulAADLen 20", true, { iv, 12, 96, NULL, 20, 128 }, CKR_ARGUMENTS_BAD },
	{ "decrypt, pIv NULL, ulIvLen 12", true, { NULL, 12, 96, aad, 20, 128 }, CKR_ARGUMENTS_BAD },
};

/* Exit codes of gcm_child. */
enum { CHILD_OK, CHILD_SETUP_FAILED, CHILD_WRONG_ANSWER, CHILD_MODULE_BROKEN };

/*
 * In a fresh process: the module from scratch, an AES key, the bad
 * parameter, then a good one to show the module still works.
 */
static int gcm_child(int i)
{
	CK_GCM_PARAMS good = { iv, sizeof(iv), 96, aad, sizeof(aad), 128 }, bad = gcm_cases[i].gcm;
	CK_MECHANISM m = { CKM_AES_GCM, &bad, sizeof(bad) };
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;
	CK_RV rv;

	if (f->C_Initialize(NULL) != CKR_OK || f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK ||
	    f->C_Login(h, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)) != CKR_OK ||
	    gen_aes_key(h, &key) != CKR_OK)
		return CHILD_SETUP_FAILED;
	rv = gcm_cases[i].decrypt ? f->C_DecryptInit(h, &m, key) : f->C_EncryptInit(h, &m, key);
	if (rv != gcm_cases[i].expect) {
		fprintf(stderr, "%s: got 0x%lx\n", gcm_cases[i].what, (unsigned long)rv);
		return CHILD_WRONG_ANSWER;
	}
	m.pParameter = &good;
	rv = gcm_cases[i].decrypt ? f->C_DecryptInit(h, &m, key) : f->C_EncryptInit(h, &m, key);
	if (rv != CKR_OK)
		return CHILD_MODULE_BROKEN;
	return f->C_Finalize(NULL) == CKR_OK ? CHILD_OK : CHILD_MODULE_BROKEN;
}

/*
 * Runs gcm_child(i) in a child process with a deadline: a crash or a hang
 * fails the test here instead of taking the suite with it.
 */
static int run_child(int i, int seconds)
{
	int status = 0;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(gcm_child(i));
	for (int waited_ms = 0;; waited_ms += 50) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		ck_assert_int_ge(r, 0);
		if (r == pid)
			break;
		if (waited_ms >= seconds * 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("%s: the child hung", gcm_cases[i].what);
		}
		usleep(50 * 1000);
	}
	ck_assert_msg(!WIFSIGNALED(status), "%s: the host died of signal %d", gcm_cases[i].what, WTERMSIG(status));
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(gcm_pointer_without_storage_leaves_the_host_alive)
{
	/* The child starts the module itself: the parent holds nothing of it at the fork. */
	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_int_eq(run_child(_i, 20), CHILD_OK);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
}
END_TEST

/* ---- every entry point that takes a mechanism checks its parameter ---- */

START_TEST(every_mechanism_entry_point_checks_the_parameter)
{
	CK_SESSION_HANDLE h = user_session(), s[13];
	CK_OBJECT_HANDLE aes, pub, priv, out = 0, out2 = 0;
	CK_BYTE junk[16] = { 0 }, wrapped[64];
	CK_ULONG wrapped_len = sizeof(wrapped);
	CK_GCM_PARAMS gcm = { NULL, 12, 96, NULL, 0, 128 };
	/* a parameter given to mechanisms that take none */
	CK_MECHANISM ecb = { CKM_AES_ECB, junk, 16 }, sha = { CKM_SHA256, junk, 4 }, ecdsa = { CKM_ECDSA, junk, 4 },
		     aes_gen = { CKM_AES_KEY_GEN, junk, 4 }, ec_gen = { CKM_EC_KEY_PAIR_GEN, junk, 4 };
	/* a wrapping IV of an impossible size, a parameter for a derivation that takes none, a NULL IV with a length */
	CK_MECHANISM wrap = { CKM_AES_KEY_WRAP, junk, 3 }, derive = { CKM_SHA256_KEY_DERIVATION, junk, 4 },
		     message = { CKM_AES_GCM, &gcm, sizeof(gcm) };
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
	CK_ATTRIBUTE pt[] = { { CKA_EC_PARAMS, (void *)p256, sizeof(p256) } };
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes_type = CKK_AES;
	CK_ATTRIBUTE st[] = { { CKA_CLASS, &secret, sizeof(secret) }, { CKA_KEY_TYPE, &aes_type, sizeof(aes_type) } };
	CK_ULONG len = 32;
	CK_ATTRIBUTE gt[] = { { CKA_VALUE_LEN, &len, sizeof(len) } };
	CK_VERSION v30 = { 3, 0 };
	CK_INTERFACE *iface;
	CK_FUNCTION_LIST_3_0 *f3;
	struct {
		const char *call;
		CK_RV rv;
	} got[13];
	char wrong[1024] = "";
	size_t n = 0;

	ck_assert_int_eq(gen_aes_key(h, &aes), CKR_OK);
	gen_ec_pair(h, &pub, &priv);
	ck_assert_int_eq(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0), CKR_OK);
	f3 = iface->pFunctionList;
	/* one session per call: an operation one call started must not make the next one busy */
	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s[i]), CKR_OK);

#define CALL(expr) (got[n].call = #expr, got[n].rv = (expr), n++)
	CALL(f->C_EncryptInit(s[n], &ecb, aes));
	CALL(f->C_DecryptInit(s[n], &ecb, aes));
	CALL(f->C_DigestInit(s[n], &sha));
	CALL(f->C_SignInit(s[n], &ecdsa, priv));
	CALL(f->C_SignRecoverInit(s[n], &ecdsa, priv));
	CALL(f->C_VerifyInit(s[n], &ecdsa, pub));
	CALL(f->C_VerifyRecoverInit(s[n], &ecdsa, pub));
	CALL(f->C_GenerateKey(s[n], &aes_gen, gt, 1, &out));
	CALL(f->C_GenerateKeyPair(s[n], &ec_gen, pt, 1, NULL, 0, &out, &out2));
	CALL(f->C_WrapKey(s[n], &wrap, aes, aes, wrapped, &wrapped_len));
	CALL(f->C_UnwrapKey(s[n], &wrap, aes, junk, 16, st, 2, &out));
	CALL(f->C_DeriveKey(s[n], &derive, aes, st, 2, &out));
	CALL(f3->C_MessageEncryptInit(s[n], &message, aes));
#undef CALL
	for (size_t i = 0; i < n; i++) {
		/* the NULL IV with a length is the one CKR_ARGUMENTS_BAD; the rest are bad parameters */
		CK_RV expect = i == n - 1 ? CKR_ARGUMENTS_BAD : CKR_MECHANISM_PARAM_INVALID;

		if (got[i].rv != expect)
			snprintf(wrong + strlen(wrong), sizeof(wrong) - strlen(wrong), "\n  %s = 0x%lx", got[i].call,
				 (unsigned long)got[i].rv);
	}
	ck_assert_msg(wrong[0] == '\0', "not refused as bad parameters:%s", wrong);
	ck_assert_int_eq(f->C_CloseAllSessions(slot), CKR_OK);
}
END_TEST

/*
 * Every mechanism the slot lists (SoftHSM's own and those signet composes)
 * has a rule: an unknown mechanism would let a 1-byte parameter through,
 * which none of them takes but the DH public value.
 */
START_TEST(every_listed_mechanism_has_a_rule)
{
	CK_MECHANISM_TYPE list[256];
	CK_ULONG n = sizeof(list) / sizeof(list[0]);
	CK_BYTE junk[1] = { 0 };
	char unknown[2048] = "";

	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert_uint_ge(n, 60);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_MECHANISM m = { list[i], junk, sizeof(junk) };
		CK_RV expect = list[i] == CKM_DH_PKCS_DERIVE ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;

		if (mech_param_check(&m) != expect)
			snprintf(unknown + strlen(unknown), sizeof(unknown) - strlen(unknown), " 0x%lx",
				 (unsigned long)list[i]);
	}
	ck_assert_msg(unknown[0] == '\0', "mechanisms without a rule:%s", unknown);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mech_param");
	TCase *checker = tcase_create("checker");
	TCase *module = tcase_create("module");

	tcase_add_loop_test(checker, each_mechanism_good_and_bad_parameters, 0, sizeof(cases) / sizeof(cases[0]));
	tcase_add_test(checker, refusal_is_logged_at_debug_level);
	suite_add_tcase(s, checker);

	tcase_set_timeout(module, 60);
	tcase_add_checked_fixture(module, module_setup, module_teardown);
	tcase_add_loop_test(module, gcm_pointer_without_storage_leaves_the_host_alive, 0,
			    sizeof(gcm_cases) / sizeof(gcm_cases[0]));
	tcase_add_test(module, every_mechanism_entry_point_checks_the_parameter);
	tcase_add_test(module, every_listed_mechanism_has_a_rule);
	suite_add_tcase(s, module);
	return tu_run_suite(s);
}
