/*
 * The core (slots, sessions, login state, object handles, the operations
 * it composes over a token's raw ones, the PIN policy a card token puts in
 * front of its own counters) through the Cryptoki surface, on the
 * in-memory mock token of tests/mock_token.h: no SoftHSM, no card. Every
 * test runs in its own process (Check's fork mode) with the module
 * initialised on a configuration that switches both real token kinds off
 * and keeps the PIN policy's counters in the test's scratch directory, and
 * one mock token ("alice") in a slot. The keys are made once in main().
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "pkcs11/cryptoki.h"
#include "tests/check_util.h"
#include "tests/mock_token.h"
#include "tests/test_keys.h"

static EVP_PKEY *rsa_key, *ec_key, *ec_key2;

static CK_FUNCTION_LIST_PTR f;
static char *dir;
static struct token *tok, *tok2;
static CK_SLOT_ID slot, slot2;

#define USER_PINS (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED)
#define SO_PINS (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED | CKF_SO_PIN_TO_BE_CHANGED)
#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)
#define PIN(s) (CK_UTF8CHAR_PTR)(s), (CK_ULONG)strlen(s)

static const struct mock_desc *alice(void)
{
	static struct mock_desc d;

	d = (struct mock_desc){ .label = "alice", .serial = "A0001", .rsa = rsa_key, .ec = ec_key };
	return &d;
}

static const struct mock_desc *bob(void)
{
	static struct mock_desc d;

	d = (struct mock_desc){ .label = "bob", .serial = "B0002", .rsa = rsa_key, .ec = ec_key2 };
	return &d;
}

static struct token *token_in_new_slot(const struct mock_desc *d, CK_SLOT_ID *id)
{
	struct token *t = mock_token_new(d);

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(mock_token_add_slot(t, id), CKR_OK);
	return t;
}

static void start_module(CK_C_INITIALIZE_ARGS *args)
{
	char conf[4096];

	dir = tu_tempdir();
	snprintf(conf, sizeof(conf), "%s/signet.conf", dir);
	/* state_dir: where the PIN policy keeps its counters for the mock tokens. */
	tu_write_file(conf, "[card]\nenable = no\n[softhsm]\nenable = no\nstate_dir = %s\n[module]\nlog_level = error\n",
		      dir);
	setenv("SIGNET_CONF", conf, 1);
	unsetenv("SIGNET_DEBUG");
	ck_assert_int_eq(C_GetFunctionList(&f), CKR_OK);
	ck_assert_int_eq(f->C_Initialize(args), CKR_OK);
	tok = token_in_new_slot(alice(), &slot);
}

static void setup(void)
{
	start_module(NULL);
}

static void teardown(void)
{
	f->C_Finalize(NULL); /* the test may have finalised already */
	mock_token_free(tok);
	mock_token_free(tok2);
	tok = tok2 = NULL;
	free(dir);
}

/* ---- small steps every test takes ---- */

static CK_SESSION_HANDLE open_session(CK_SLOT_ID id, bool rw)
{
	CK_SESSION_HANDLE h = CK_INVALID_HANDLE;

	ck_assert_int_eq(f->C_OpenSession(id, CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0), NULL, NULL, &h),
			 CKR_OK);
	return h;
}

static CK_STATE session_state(CK_SESSION_HANDLE h)
{
	CK_SESSION_INFO si;

	ck_assert_int_eq(f->C_GetSessionInfo(h, &si), CKR_OK);
	return si.state;
}

static CK_FLAGS token_flags(CK_SLOT_ID id)
{
	CK_TOKEN_INFO ti;

	ck_assert_int_eq(f->C_GetTokenInfo(id, &ti), CKR_OK);
	return ti.flags;
}

static void login_user(CK_SESSION_HANDLE h)
{
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN(MOCK_USER_PIN)), CKR_OK);
}

/* A blank-padded PKCS#11 field holds exactly s. */
static bool padded_is(const CK_UTF8CHAR *field, size_t size, const char *s)
{
	size_t n = strlen(s);

	if (n > size || memcmp(field, s, n) != 0)
		return false;
	for (size_t i = n; i < size; i++)
		if (field[i] != ' ')
			return false;
	return true;
}

static CK_ULONG find(CK_SESSION_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE *out, CK_ULONG max)
{
	CK_ULONG n = 0;

	ck_assert_int_eq(f->C_FindObjectsInit(h, tmpl, count), CKR_OK);
	ck_assert_int_eq(f->C_FindObjects(h, out, max, &n), CKR_OK);
	ck_assert_int_eq(f->C_FindObjectsFinal(h), CKR_OK);
	return n;
}

/* The one object of class cls with CKA_ID id. */
static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, CK_BYTE id)
{
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, &id, 1 } };
	CK_OBJECT_HANDLE found[4];

	ck_assert_uint_eq(find(h, tmpl, 2, found, 4), 1);
	return found[0];
}

static CK_OBJECT_HANDLE find_label(CK_SESSION_HANDLE h, const char *label, CK_ULONG *n)
{
	CK_ATTRIBUTE tmpl = { CKA_LABEL, (void *)label, strlen(label) };
	CK_OBJECT_HANDLE found[4] = { CK_INVALID_HANDLE };

	*n = find(h, &tmpl, 1, found, 4);
	return found[0];
}

/* CKA_LABEL as a string, or "" when the call fails with rv (asserted). */
static void read_label(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_RV rv, char *out, size_t size)
{
	CK_ATTRIBUTE a = { CKA_LABEL, out, size - 1 };

	ck_assert_int_eq(f->C_GetAttributeValue(h, obj, &a, 1), rv);
	out[rv == CKR_OK ? a.ulValueLen : 0] = '\0';
}

static size_t digest(const EVP_MD *md, const void *msg, size_t len, CK_BYTE *out)
{
	unsigned int n = 0;

	ck_assert_int_eq(EVP_Digest(msg, len, out, &n, md, NULL), 1);
	return n;
}

/* OpenSSL's verdict on sig over msg: hashed with md, or msg itself a hash (or an encoded block) when md is NULL. */
static bool openssl_verifies(EVP_PKEY *k, const EVP_MD *md, int padding, const CK_BYTE *msg, size_t len,
			     const CK_BYTE *sig, size_t sig_len)
{
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	int ok;

	ck_assert_ptr_nonnull(mctx);
	if (md != NULL) {
		ok = EVP_DigestVerifyInit(mctx, &pctx, md, NULL, k) == 1 &&
		     (padding == 0 || EVP_PKEY_CTX_set_rsa_padding(pctx, padding) == 1) &&
		     EVP_DigestVerify(mctx, sig, sig_len, msg, len) == 1;
	} else {
		pctx = EVP_PKEY_CTX_new(k, NULL);
		ok = pctx != NULL && EVP_PKEY_verify_init(pctx) == 1 &&
		     (padding == 0 || EVP_PKEY_CTX_set_rsa_padding(pctx, padding) == 1) &&
		     EVP_PKEY_verify(pctx, sig, sig_len, msg, len) == 1;
		EVP_PKEY_CTX_free(pctx);
	}
	EVP_MD_CTX_free(mctx);
	return ok;
}

/* PKCS#11's r||s to DER, then OpenSSL's verdict. */
static bool ecdsa_verifies(EVP_PKEY *k, const EVP_MD *md, const CK_BYTE *msg, size_t len, const CK_BYTE *sig,
			   CK_ULONG sig_len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)sig_len / 2, NULL);
	BIGNUM *sv = BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL);
	unsigned char *der = NULL;
	int der_len;
	bool ok;

	ck_assert(s != NULL && r != NULL && sv != NULL);
	ck_assert_int_eq(ECDSA_SIG_set0(s, r, sv), 1);
	der_len = i2d_ECDSA_SIG(s, &der);
	ck_assert_int_gt(der_len, 0);
	ok = openssl_verifies(k, md, 0, msg, len, der, (size_t)der_len);
	OPENSSL_free(der);
	ECDSA_SIG_free(s);
	return ok;
}

/* One RSA public-key operation with OpenSSL (encrypt with the given padding). */
static size_t rsa_public(int padding, const EVP_MD *oaep_md, const char *label, const CK_BYTE *in, size_t in_len,
			 CK_BYTE *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
	size_t len = 512;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_encrypt_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, padding), 1);
	if (oaep_md != NULL) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, oaep_md), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, oaep_md), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_strdup(label), (int)strlen(label)), 1);
	}
	ck_assert_int_eq(EVP_PKEY_encrypt(ctx, out, &len, in, in_len), 1);
	EVP_PKEY_CTX_free(ctx);
	return len;
}

static CK_BYTE message[] = "a document to sign, in more than one block of any hash function: "
			   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/* ---- slots and tokens ---- */

START_TEST(slot_list_and_info)
{
	CK_SLOT_ID list[4];
	CK_SLOT_INFO si;
	CK_ULONG n = 0;

	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 1);
	n = 0;
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(n, 1);
	n = 4;
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(list[0], slot);
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, NULL), CKR_ARGUMENTS_BAD);

	ck_assert_int_eq(f->C_GetSlotInfo(slot, &si), CKR_OK);
	ck_assert_uint_eq(si.flags, CKF_TOKEN_PRESENT | CKF_REMOVABLE_DEVICE | CKF_HW_SLOT);
	ck_assert(padded_is(si.slotDescription, sizeof(si.slotDescription), "signet mock reader"));
	ck_assert_int_eq(f->C_GetSlotInfo(slot + 1, &si), CKR_SLOT_ID_INVALID);
	ck_assert_int_eq(f->C_GetSlotInfo(slot, NULL), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(two_tokens_two_slots)
{
	CK_SLOT_ID list[4];
	CK_TOKEN_INFO ti;
	CK_ULONG n = 4;

	tok2 = token_in_new_slot(bob(), &slot2);
	ck_assert_uint_ne(slot2, slot);
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(list[0], slot);
	ck_assert_uint_eq(list[1], slot2);
	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_OK);
	ck_assert(padded_is(ti.serialNumber, sizeof(ti.serialNumber), "A0001"));
	ck_assert_int_eq(f->C_GetTokenInfo(slot2, &ti), CKR_OK);
	ck_assert(padded_is(ti.serialNumber, sizeof(ti.serialNumber), "B0002"));
	ck_assert(padded_is(ti.label, sizeof(ti.label), "bob"));
}
END_TEST

START_TEST(token_info_is_the_tokens)
{
	CK_TOKEN_INFO ti;

	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_OK);
	ck_assert(padded_is(ti.label, sizeof(ti.label), "alice"));
	ck_assert(padded_is(ti.serialNumber, sizeof(ti.serialNumber), "A0001"));
	ck_assert_uint_eq(ti.flags, CKF_TOKEN_INITIALIZED | CKF_USER_PIN_INITIALIZED | CKF_LOGIN_REQUIRED);
	ck_assert_uint_eq(ti.ulMinPinLen, MOCK_MIN_PIN);
	ck_assert_uint_eq(ti.ulMaxPinLen, MOCK_MAX_PIN);
	ck_assert_uint_eq(mock_calls(tok, MOCK_TOKEN_INFO), 1);

	ck_assert_int_eq(f->C_GetTokenInfo(slot, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_GetTokenInfo(slot + 1, &ti), CKR_SLOT_ID_INVALID);
	mock_fail_next(tok, MOCK_TOKEN_INFO, CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_OK);
}
END_TEST

START_TEST(token_taken_out_and_put_back)
{
	CK_SESSION_HANDLE h = open_session(slot, false), h2;
	CK_SLOT_ID list[4];
	CK_SLOT_INFO si;
	CK_TOKEN_INFO ti;
	CK_ULONG n = 4;

	mock_set_present(tok, false);
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_uint_eq(n, 0);
	n = 4;
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, list, &n), CKR_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(f->C_GetSlotInfo(slot, &si), CKR_OK);
	ck_assert_uint_eq(si.flags, CKF_REMOVABLE_DEVICE | CKF_HW_SLOT);
	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_TOKEN_NOT_PRESENT);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h2), CKR_TOKEN_NOT_PRESENT);
	/* The session the application still holds ended with the token. */
	ck_assert_int_eq(f->C_FindObjectsInit(h, NULL, 0), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN(MOCK_USER_PIN)), CKR_SESSION_HANDLE_INVALID);

	mock_set_present(tok, true);
	n = 4;
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_uint_eq(n, 1);
	h2 = open_session(slot, false);
	login_user(h2);
	ck_assert_int_eq(session_state(h2), CKS_RO_USER_FUNCTIONS);
}
END_TEST

static bool has_mechanism(const CK_MECHANISM_TYPE *list, CK_ULONG n, CK_MECHANISM_TYPE m)
{
	CK_ULONG seen = 0;

	for (CK_ULONG i = 0; i < n; i++)
		seen += list[i] == m;
	ck_assert_uint_le(seen, 1);
	return seen == 1;
}

START_TEST(raw_mechanisms_and_composed_ones)
{
	static const CK_MECHANISM_TYPE expected[] = {
		CKM_RSA_X_509, CKM_ECDSA, CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384,
		CKM_ECDSA_SHA512,
	};
	CK_MECHANISM_TYPE list[64];
	CK_MECHANISM_INFO mi;
	CK_ULONG n = 0, all;

	ck_assert_int_eq(f->C_GetMechanismList(slot, NULL, &n), CKR_OK);
	all = n;
	n = 1;
	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(n, all);
	n = 64;
	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert_uint_eq(n, all);
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		ck_assert_msg(has_mechanism(list, n, expected[i]), "mechanism 0x%lx missing", expected[i]);

	/*
	 * A composed mechanism signs as its raw base does and verifies on the
	 * host, and does nothing else; the host's public-key operations add to
	 * the token's raw mechanisms too.
	 */
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_ECDSA_SHA256, &mi), CKR_OK);
	ck_assert_uint_eq(mi.flags, CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS);
	ck_assert_uint_eq(mi.ulMinKeySize, 256);
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_ECDSA, &mi), CKR_OK);
	ck_assert_uint_eq(mi.flags, CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS);
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_RSA_X_509, &mi), CKR_OK);
	ck_assert_uint_eq(mi.flags, CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_DECRYPT | CKF_ENCRYPT);
	ck_assert_uint_eq(mi.ulMaxKeySize, 2048);
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_DSA, &mi), CKR_MECHANISM_INVALID);
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_ECDSA, NULL), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(offered_mechanisms_change_what_is_composed)
{
	CK_MECHANISM_TYPE list[64];
	CK_ULONG n = 64;

	ck_assert_int_eq(mock_offer(tok, CKM_RSA_PKCS), CKR_OK);
	ck_assert_int_eq(mock_offer(tok, CKM_ECDSA_SHA256), CKR_OK);
	ck_assert_int_eq(mock_offer(tok, CKM_AES_CBC), CKR_MECHANISM_INVALID);
	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert(has_mechanism(list, n, CKM_RSA_PKCS));
	ck_assert(has_mechanism(list, n, CKM_SHA256_RSA_PKCS));
	ck_assert(has_mechanism(list, n, CKM_SHA1_RSA_PKCS));
	/* Offered by the token itself: listed once, not composed a second time. */
	ck_assert(has_mechanism(list, n, CKM_ECDSA_SHA256));
	ck_assert(has_mechanism(list, n, CKM_ECDSA_SHA384));
}
END_TEST

START_TEST(mechanism_list_is_read_once)
{
	CK_MECHANISM_TYPE list[64];
	CK_ULONG n = 64;

	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert_uint_eq(mock_calls(tok, MOCK_MECHANISM_LIST), 2); /* its length, then the list */
	n = 64;
	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert_uint_eq(mock_calls(tok, MOCK_MECHANISM_LIST), 2);
}
END_TEST

START_TEST(functions_the_token_lacks)
{
	CK_MECHANISM gen = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	CK_OBJECT_HANDLE data, copy, pub, priv;
	CK_SESSION_HANDLE h;
	CK_BBOOL no = CK_FALSE;
	CK_ATTRIBUTE a = { CKA_MODIFIABLE, &no, 1 };
	CK_UTF8CHAR label[32];
	CK_BYTE buf[8];
	CK_ULONG n, size;

	memset(label, ' ', sizeof(label));
	ck_assert_int_eq(f->C_InitToken(slot, PIN(MOCK_SO_PIN), label), CKR_FUNCTION_NOT_SUPPORTED);
	h = open_session(slot, true);
	data = find_label(h, "alice data", &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(f->C_SetAttributeValue(h, data, &a, 1), CKR_ACTION_PROHIBITED);
	ck_assert_int_eq(f->C_GetObjectSize(h, data, &size), CKR_INFORMATION_SENSITIVE);
	ck_assert_int_eq(f->C_CopyObject(h, data, NULL, 0, &copy), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(f->C_GenerateKeyPair(h, &gen, NULL, 0, NULL, 0, &pub, &priv), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(f->C_GenerateRandom(h, buf, sizeof(buf)), CKR_RANDOM_NO_RNG);
	ck_assert_int_eq(f->C_SeedRandom(h, buf, sizeof(buf)), CKR_RANDOM_SEED_NOT_SUPPORTED);
}
END_TEST

/* ---- sessions ---- */

START_TEST(sessions_open_and_close)
{
	CK_SESSION_HANDLE ro = open_session(slot, false), rw = open_session(slot, true);
	CK_SESSION_INFO si;

	ck_assert_uint_ne(ro, rw);
	ck_assert_int_eq(f->C_GetSessionInfo(ro, &si), CKR_OK);
	ck_assert_uint_eq(si.slotID, slot);
	ck_assert_uint_eq(si.state, CKS_RO_PUBLIC_SESSION);
	ck_assert_uint_eq(si.flags, CKF_SERIAL_SESSION);
	ck_assert_uint_eq(si.ulDeviceError, 0);
	ck_assert_int_eq(f->C_GetSessionInfo(rw, &si), CKR_OK);
	ck_assert_uint_eq(si.state, CKS_RW_PUBLIC_SESSION);
	ck_assert_uint_eq(si.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);
	ck_assert_int_eq(f->C_GetSessionInfo(rw, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(mock_open_sessions(tok), 2);

	ck_assert_int_eq(f->C_CloseSession(ro), CKR_OK);
	ck_assert_uint_eq(mock_open_sessions(tok), 1);
	ck_assert_int_eq(f->C_CloseSession(ro), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f->C_GetSessionInfo(ro, &si), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f->C_GetSessionInfo(rw, &si), CKR_OK);
}
END_TEST

START_TEST(open_session_arguments)
{
	CK_SESSION_HANDLE h;

	ck_assert_int_eq(f->C_OpenSession(slot, 0, NULL, NULL, &h), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_OpenSession(slot + 7, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SLOT_ID_INVALID);
	ck_assert_uint_eq(mock_calls(tok, MOCK_SESSION_OPEN), 0);

	mock_fail_next(tok, MOCK_SESSION_OPEN, CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_DEVICE_ERROR);
	ck_assert_uint_eq(mock_open_sessions(tok), 0);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_OK);
	ck_assert_uint_eq(mock_open_sessions(tok), 1);
}
END_TEST

START_TEST(close_all_sessions_of_one_slot)
{
	CK_SESSION_HANDLE a[3], b;
	CK_SESSION_INFO si;

	tok2 = token_in_new_slot(bob(), &slot2);
	for (int i = 0; i < 3; i++)
		a[i] = open_session(slot, i == 1);
	b = open_session(slot2, false);
	ck_assert_int_eq(f->C_CloseAllSessions(slot), CKR_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(f->C_GetSessionInfo(a[i], &si), CKR_SESSION_HANDLE_INVALID);
	ck_assert_int_eq(f->C_GetSessionInfo(b, &si), CKR_OK);
	ck_assert_uint_eq(mock_open_sessions(tok), 0);
	ck_assert_uint_eq(mock_calls(tok, MOCK_SESSION_CLOSE), 3);
	ck_assert_uint_eq(mock_open_sessions(tok2), 1);
	ck_assert_int_eq(f->C_CloseAllSessions(99), CKR_SLOT_ID_INVALID);
}
END_TEST

START_TEST(so_session_rules)
{
	CK_SESSION_HANDLE ro = open_session(slot, false), rw = open_session(slot, true), h;

	ck_assert_int_eq(f->C_Login(rw, CKU_SO, PIN(MOCK_SO_PIN)), CKR_SESSION_READ_ONLY_EXISTS);
	ck_assert_uint_eq(mock_calls(tok, MOCK_LOGIN), 0);
	ck_assert_int_eq(f->C_CloseSession(ro), CKR_OK);
	ck_assert_int_eq(f->C_Login(rw, CKU_SO, PIN(MOCK_SO_PIN)), CKR_OK);
	ck_assert_uint_eq(session_state(rw), CKS_RW_SO_FUNCTIONS);
	ck_assert_uint_eq(mock_login_state(tok), CKU_SO);

	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SESSION_READ_WRITE_SO_EXISTS);
	h = open_session(slot, true);
	ck_assert_uint_eq(session_state(h), CKS_RW_SO_FUNCTIONS);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN(MOCK_USER_PIN)), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	ck_assert_uint_eq(mock_calls(tok, MOCK_LOGIN), 1);
}
END_TEST

START_TEST(session_handles_are_not_reused)
{
	CK_SESSION_HANDLE a = open_session(slot, false), b;
	CK_SESSION_INFO si;

	ck_assert_int_eq(f->C_CloseSession(a), CKR_OK);
	b = open_session(slot, false);
	ck_assert_uint_ne(a, b);
	ck_assert_int_eq(f->C_GetSessionInfo(a, &si), CKR_SESSION_HANDLE_INVALID);
}
END_TEST

START_TEST(finalize_with_sessions_open)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_SESSION_HANDLE h[3];
	CK_OBJECT_HANDLE key;
	CK_SESSION_INFO si;
	CK_ULONG n = 4;

	for (int i = 0; i < 3; i++)
		h[i] = open_session(slot, i == 0);
	login_user(h[0]);
	key = find_one(h[0], CKO_PRIVATE_KEY, MOCK_EC_ID);
	ck_assert_int_eq(f->C_SignInit(h[1], &m, key), CKR_OK);

	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	ck_assert_uint_eq(mock_calls(tok, MOCK_SESSION_CLOSE), 3);
	ck_assert_uint_eq(mock_open_sessions(tok), 0);
	ck_assert_int_eq(f->C_GetSessionInfo(h[1], &si), CKR_CRYPTOKI_NOT_INITIALIZED);

	/* Initialised again, the core has only the slots its drivers add: none here. */
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	ck_assert_int_eq(f->C_GetSlotList(CK_FALSE, NULL, &n), CKR_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(f->C_GetSessionInfo(h[1], &si), CKR_SESSION_HANDLE_INVALID);
}
END_TEST

/* ---- login ---- */

START_TEST(login_changes_every_session_state)
{
	CK_SESSION_HANDLE ro = open_session(slot, false), rw = open_session(slot, true);

	login_user(ro);
	ck_assert_uint_eq(session_state(ro), CKS_RO_USER_FUNCTIONS);
	ck_assert_uint_eq(session_state(rw), CKS_RW_USER_FUNCTIONS);
	ck_assert_uint_eq(mock_login_state(tok), CKU_USER);
	ck_assert_int_eq(f->C_Login(rw, CKU_USER, PIN(MOCK_USER_PIN)), CKR_USER_ALREADY_LOGGED_IN);
	ck_assert_int_eq(f->C_Login(rw, CKU_SO, PIN(MOCK_SO_PIN)), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	ck_assert_uint_eq(mock_calls(tok, MOCK_LOGIN), 1);

	ck_assert_int_eq(f->C_Logout(rw), CKR_OK);
	ck_assert_uint_eq(session_state(ro), CKS_RO_PUBLIC_SESSION);
	ck_assert_uint_eq(session_state(rw), CKS_RW_PUBLIC_SESSION);
	ck_assert_uint_eq(mock_login_state(tok), MOCK_PUBLIC);
	ck_assert_int_eq(f->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);
	ck_assert_uint_eq(mock_calls(tok, MOCK_LOGOUT), 1);
}
END_TEST

/*
 * The i-th of a run of different wrong PINs, refused by the token: the
 * policy never sends the PIN refused last again, so a test that means to
 * spend tries must vary them.
 */
static void wrong_login(CK_SESSION_HANDLE h, CK_USER_TYPE who, unsigned i)
{
	char pin[16];

	snprintf(pin, sizeof(pin), "%08u", 10000000u + i);
	ck_assert_int_eq(f->C_Login(h, who, PIN(pin)), CKR_PIN_INCORRECT);
}

START_TEST(wrong_user_pins_count_down_and_lock)
{
	CK_SESSION_HANDLE h = open_session(slot, false);

	wrong_login(h, CKU_USER, 1);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW);
	wrong_login(h, CKU_USER, 2);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	wrong_login(h, CKU_USER, 3);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN(MOCK_USER_PIN)), CKR_PIN_LOCKED);
	ck_assert_uint_eq(mock_user_tries_left(tok), 0);
	ck_assert_uint_eq(session_state(h), CKS_RO_PUBLIC_SESSION);
	ck_assert_uint_eq(token_flags(slot) & SO_PINS, 0);
}
END_TEST

START_TEST(right_pin_resets_the_count)
{
	CK_SESSION_HANDLE h = open_session(slot, false);

	wrong_login(h, CKU_USER, 1);
	ck_assert_uint_eq(mock_user_tries_left(tok), MOCK_USER_TRIES - 1);
	login_user(h);
	ck_assert_uint_eq(mock_user_tries_left(tok), MOCK_USER_TRIES);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, 0);
}
END_TEST

/* Spends the policy's three user PIN tries. */
static void lock_user_pin(CK_SESSION_HANDLE h)
{
	for (unsigned i = 1; i <= 3; i++)
		wrong_login(h, CKU_USER, i);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
}

START_TEST(so_unblocks_the_user_pin)
{
	CK_SESSION_HANDLE h = open_session(slot, true);

	lock_user_pin(h);
	ck_assert_int_eq(f->C_InitPIN(h, PIN("4321")), CKR_USER_NOT_LOGGED_IN);
	ck_assert_uint_eq(mock_calls(tok, MOCK_INIT_PIN), 0);
	ck_assert_int_eq(f->C_Login(h, CKU_SO, PIN(MOCK_SO_PIN)), CKR_OK);
	ck_assert_int_eq(f->C_InitPIN(h, PIN("12")), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_InitPIN(h, PIN("4321")), CKR_OK);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);

	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN("4321")), CKR_OK);
	ck_assert_int_eq(f->C_InitPIN(h, PIN("5678")), CKR_USER_NOT_LOGGED_IN);
	ck_assert_int_eq(f->C_SetPIN(h, PIN("4321"), PIN("87654321")), CKR_OK);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, 0);
}
END_TEST

START_TEST(so_pin_locks_for_ever)
{
	CK_SESSION_HANDLE h = open_session(slot, true);

	for (unsigned i = 1; i <= MOCK_SO_TRIES; i++) {
		CK_FLAGS want = CKF_SO_PIN_COUNT_LOW;

		wrong_login(h, CKU_SO, i);
		if (i == MOCK_SO_TRIES - 1)
			want |= CKF_SO_PIN_FINAL_TRY;
		if (i == MOCK_SO_TRIES)
			want |= CKF_SO_PIN_LOCKED;
		ck_assert_uint_eq(token_flags(slot) & SO_PINS, want);
	}
	ck_assert_int_eq(f->C_Login(h, CKU_SO, PIN(MOCK_SO_PIN)), CKR_PIN_LOCKED);
	ck_assert_uint_eq(mock_so_tries_left(tok), 0);
	ck_assert_uint_eq(session_state(h), CKS_RW_PUBLIC_SESSION);
	/* The user PIN is another counter. */
	login_user(h);
}
END_TEST

START_TEST(set_pin_changes_the_pin_of_who_is_logged_in)
{
	CK_SESSION_HANDLE ro = open_session(slot, false), rw;

	ck_assert_int_eq(f->C_SetPIN(ro, PIN(MOCK_USER_PIN), PIN("654321")), CKR_SESSION_READ_ONLY);
	ck_assert_uint_eq(mock_calls(tok, MOCK_SET_PIN), 0);
	ck_assert_int_eq(f->C_SetPIN(ro, NULL, 4, PIN("654321")), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_CloseSession(ro), CKR_OK);
	rw = open_session(slot, true);

	ck_assert_int_eq(f->C_SetPIN(rw, PIN("999999"), PIN("654321")), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(mock_user_tries_left(tok), MOCK_USER_TRIES - 1);
	ck_assert_int_eq(f->C_SetPIN(rw, PIN(MOCK_USER_PIN), PIN("123")), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(f->C_SetPIN(rw, PIN(MOCK_USER_PIN), PIN("654321")), CKR_OK);
	ck_assert_uint_eq(mock_user_tries_left(tok), MOCK_USER_TRIES);
	ck_assert_int_eq(f->C_Login(rw, CKU_USER, PIN(MOCK_USER_PIN)), CKR_PIN_INCORRECT);
	ck_assert_int_eq(f->C_Login(rw, CKU_USER, PIN("654321")), CKR_OK);
	ck_assert_int_eq(f->C_Logout(rw), CKR_OK);

	ck_assert_int_eq(f->C_Login(rw, CKU_SO, PIN(MOCK_SO_PIN)), CKR_OK);
	ck_assert_int_eq(f->C_SetPIN(rw, PIN(MOCK_SO_PIN), PIN("87654321")), CKR_OK);
	ck_assert_int_eq(f->C_Logout(rw), CKR_OK);
	ck_assert_int_eq(f->C_Login(rw, CKU_SO, PIN("87654321")), CKR_OK);
}
END_TEST

START_TEST(closing_the_last_session_logs_out)
{
	CK_SESSION_HANDLE a = open_session(slot, false), b = open_session(slot, false), c;

	login_user(a);
	ck_assert_int_eq(f->C_CloseSession(a), CKR_OK);
	ck_assert_uint_eq(mock_login_state(tok), CKU_USER);
	ck_assert_uint_eq(session_state(b), CKS_RO_USER_FUNCTIONS);
	ck_assert_int_eq(f->C_CloseSession(b), CKR_OK);
	ck_assert_uint_eq(mock_calls(tok, MOCK_LOGOUT), 1);
	ck_assert_uint_eq(mock_login_state(tok), MOCK_PUBLIC);
	c = open_session(slot, false);
	ck_assert_uint_eq(session_state(c), CKS_RO_PUBLIC_SESSION);
}
END_TEST

START_TEST(login_arguments_never_reach_the_token)
{
	CK_SESSION_HANDLE h = open_session(slot, false);

	ck_assert_int_eq(f->C_Login(h, 7, PIN(MOCK_USER_PIN)), CKR_USER_TYPE_INVALID);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, NULL, 6), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Login(h, CKU_CONTEXT_SPECIFIC, PIN(MOCK_USER_PIN)), CKR_USER_NOT_LOGGED_IN);
	ck_assert_int_eq(f->C_Login(h + 100, CKU_USER, PIN(MOCK_USER_PIN)), CKR_SESSION_HANDLE_INVALID);
	ck_assert_uint_eq(mock_calls(tok, MOCK_LOGIN), 0);
}
END_TEST

START_TEST(token_errors_leave_the_session_public)
{
	CK_SESSION_HANDLE h = open_session(slot, false);

	mock_fail_next(tok, MOCK_LOGIN, CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN(MOCK_USER_PIN)), CKR_DEVICE_ERROR);
	ck_assert_uint_eq(session_state(h), CKS_RO_PUBLIC_SESSION);
	ck_assert_uint_eq(mock_user_tries_left(tok), MOCK_USER_TRIES);
	login_user(h);
	/* Whatever the token answers, the application is logged out as far as it can tell. */
	mock_fail_next(tok, MOCK_LOGOUT, CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_Logout(h), CKR_DEVICE_ERROR);
	ck_assert_uint_eq(session_state(h), CKS_RO_PUBLIC_SESSION);
}
END_TEST

START_TEST(device_that_forgot_the_login_refuses_private_key_use)
{
	CK_MECHANISM composed = { CKM_ECDSA_SHA256, NULL, 0 }, raw = { CKM_ECDSA, NULL, 0 };
	CK_SESSION_HANDLE h = open_session(slot, false);
	CK_OBJECT_HANDLE key;
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig);

	login_user(h);
	key = find_one(h, CKO_PRIVATE_KEY, MOCK_EC_ID);
	ck_assert_int_eq(f->C_SignInit(h, &composed, key), CKR_OK);
	mock_forget_login(tok);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), sig, &len), CKR_USER_NOT_LOGGED_IN);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), 1);
	ck_assert_int_eq(f->C_SignInit(h, &composed, key), CKR_USER_NOT_LOGGED_IN);
	ck_assert_int_eq(f->C_SignInit(h, &raw, key), CKR_USER_NOT_LOGGED_IN);
}
END_TEST

/* ---- objects ---- */

static CK_ULONG count_class(CK_SESSION_HANDLE h, const CK_OBJECT_HANDLE *objs, CK_ULONG n, CK_OBJECT_CLASS cls)
{
	CK_ULONG found = 0;

	for (CK_ULONG i = 0; i < n; i++) {
		CK_OBJECT_CLASS c = (CK_OBJECT_CLASS)-1;
		CK_ATTRIBUTE a = { CKA_CLASS, &c, sizeof(c) };

		ck_assert_int_eq(f->C_GetAttributeValue(h, objs[i], &a, 1), CKR_OK);
		found += c == cls;
	}
	return found;
}

START_TEST(private_objects_only_after_login)
{
	CK_SESSION_HANDLE h = open_session(slot, false);
	CK_OBJECT_HANDLE objs[16];
	CK_ULONG n;

	n = find(h, NULL, 0, objs, 16);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(count_class(h, objs, n, CKO_PUBLIC_KEY), 2);
	ck_assert_uint_eq(count_class(h, objs, n, CKO_CERTIFICATE), 2);
	ck_assert_uint_eq(count_class(h, objs, n, CKO_DATA), 1);
	login_user(h);
	n = find(h, NULL, 0, objs, 16);
	ck_assert_uint_eq(n, 7);
	ck_assert_uint_eq(count_class(h, objs, n, CKO_PRIVATE_KEY), 2);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	ck_assert_uint_eq(find(h, NULL, 0, objs, 16), 5);
}
END_TEST

START_TEST(find_by_template)
{
	CK_SESSION_HANDLE h = open_session(slot, false);
	CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY, priv = CKO_PRIVATE_KEY;
	CK_KEY_TYPE ec = CKK_EC;
	CK_BYTE guess[256] = { 0 };
	CK_ATTRIBUTE ec_pub[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &ec, sizeof(ec) } };
	CK_ATTRIBUTE app = { CKA_APPLICATION, MOCK_DATA_APPLICATION, strlen(MOCK_DATA_APPLICATION) };
	CK_ATTRIBUTE secret[] = { { CKA_CLASS, &priv, sizeof(priv) }, { CKA_PRIVATE_EXPONENT, guess, sizeof(guess) } };
	CK_ATTRIBUTE twice[] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_CLASS, &cls, sizeof(cls) } };
	CK_OBJECT_HANDLE objs[8];
	char label[64];
	CK_ULONG n;

	read_label(h, find_one(h, CKO_CERTIFICATE, MOCK_RSA_ID), CKR_OK, label, sizeof(label));
	ck_assert_str_eq(label, "alice RSA");
	ck_assert_uint_eq(find(h, ec_pub, 2, objs, 8), 1);
	read_label(h, objs[0], CKR_OK, label, sizeof(label));
	ck_assert_str_eq(label, "alice EC");
	ck_assert_uint_eq(find(h, &app, 1, objs, 8), 1);
	find_label(h, "nobody", &n);
	ck_assert_uint_eq(n, 0);
	login_user(h);
	/* A search cannot be used to guess a secret. */
	ck_assert_uint_eq(find(h, secret, 2, objs, 8), 0);
	ck_assert_int_eq(f->C_FindObjectsInit(h, twice, 2), CKR_TEMPLATE_INCONSISTENT);
	ck_assert_int_eq(f->C_FindObjectsInit(h, NULL, 1), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(find_operation_states)
{
	static const CK_ULONG chunks[] = { 2, 2, 1, 0 }; /* five public objects, two at a time */
	CK_SESSION_HANDLE h = open_session(slot, false);
	CK_OBJECT_HANDLE objs[8];
	CK_ULONG n = 9;

	ck_assert_int_eq(f->C_FindObjects(h, objs, 8, &n), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_FindObjectsInit(h, NULL, 0), CKR_OK);
	ck_assert_int_eq(f->C_FindObjectsInit(h, NULL, 0), CKR_OPERATION_ACTIVE);
	ck_assert_uint_eq(mock_calls(tok, MOCK_FIND), 1);
	ck_assert_int_eq(f->C_FindObjects(h, NULL, 2, &n), CKR_ARGUMENTS_BAD);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		ck_assert_int_eq(f->C_FindObjects(h, objs, 2, &n), CKR_OK);
		ck_assert_uint_eq(n, chunks[i]);
	}
	ck_assert_int_eq(f->C_FindObjectsFinal(h), CKR_OK);
	ck_assert_int_eq(f->C_FindObjectsFinal(h), CKR_OPERATION_NOT_INITIALIZED);

	mock_fail_next(tok, MOCK_FIND, CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_FindObjectsInit(h, NULL, 0), CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_FindObjects(h, objs, 8, &n), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_uint_eq(find(h, NULL, 0, objs, 8), 5);
}
END_TEST

START_TEST(handles_are_stable_across_finds_and_sessions)
{
	CK_SESSION_HANDLE h1 = open_session(slot, false), h2 = open_session(slot, true);
	CK_OBJECT_HANDLE a[8], b[8], c[8];
	CK_ULONG n = find(h1, NULL, 0, a, 8);

	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(find(h1, NULL, 0, b, 8), n);
	ck_assert_uint_eq(find(h2, NULL, 0, c, 8), n);
	for (CK_ULONG i = 0; i < n; i++) {
		ck_assert_uint_ne(a[i], CK_INVALID_HANDLE);
		ck_assert_uint_eq(a[i], b[i]);
		ck_assert_uint_eq(a[i], c[i]);
		for (CK_ULONG j = 0; j < i; j++)
			ck_assert_uint_ne(a[i], a[j]);
	}
	ck_assert_uint_eq(find_one(h2, CKO_CERTIFICATE, MOCK_EC_ID), find_one(h1, CKO_CERTIFICATE, MOCK_EC_ID));
}
END_TEST

START_TEST(attribute_values_and_lengths)
{
	CK_SESSION_HANDLE h = open_session(slot, false);
	CK_OBJECT_HANDLE cert = find_one(h, CKO_CERTIFICATE, MOCK_RSA_ID);
	CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY, MOCK_RSA_ID);
	CK_ATTRIBUTE t[3] = { { CKA_VALUE, NULL, 0 }, { CKA_LABEL, NULL, 0 }, { CKA_CLASS, NULL, 0 } };
	CK_OBJECT_CLASS cls = 0;
	CK_BYTE der[2048], modulus[512], n_bytes[512];
	char label[16], small[4] = "xxxx";
	const unsigned char *p = der;
	BIGNUM *n = NULL;
	X509 *x;

	ck_assert_int_eq(f->C_GetAttributeValue(h, cert, t, 3), CKR_OK);
	ck_assert_uint_gt(t[0].ulValueLen, 0);
	ck_assert_uint_le(t[0].ulValueLen, sizeof(der));
	ck_assert_uint_eq(t[1].ulValueLen, strlen("alice RSA"));
	ck_assert_uint_eq(t[2].ulValueLen, sizeof(CK_OBJECT_CLASS));
	t[0].pValue = der;
	t[1].pValue = label;
	t[2].pValue = &cls;
	ck_assert_int_eq(f->C_GetAttributeValue(h, cert, t, 3), CKR_OK);
	ck_assert_uint_eq(cls, CKO_CERTIFICATE);
	ck_assert_int_eq(memcmp(label, "alice RSA", t[1].ulValueLen), 0);
	x = d2i_X509(NULL, &p, (long)t[0].ulValueLen);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(EVP_PKEY_eq(X509_get0_pubkey(x), rsa_key), 1);
	X509_free(x);

	/* Too short: that attribute says so and keeps the caller's bytes. */
	t[1] = (CK_ATTRIBUTE){ CKA_LABEL, small, sizeof(small) };
	ck_assert_int_eq(f->C_GetAttributeValue(h, cert, &t[1], 1), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert_int_eq(memcmp(small, "xxxx", 4), 0);

	t[0] = (CK_ATTRIBUTE){ CKA_MODULUS, modulus, sizeof(modulus) };
	ck_assert_int_eq(f->C_GetAttributeValue(h, pub, t, 1), CKR_OK);
	ck_assert_int_eq(EVP_PKEY_get_bn_param(rsa_key, OSSL_PKEY_PARAM_RSA_N, &n), 1);
	ck_assert_uint_eq(t[0].ulValueLen, (CK_ULONG)BN_num_bytes(n));
	BN_bn2bin(n, n_bytes);
	ck_assert_int_eq(memcmp(modulus, n_bytes, t[0].ulValueLen), 0);
	BN_free(n);
}
END_TEST

START_TEST(attribute_sensitive_and_missing)
{
	CK_SESSION_HANDLE h = open_session(slot, false);
	CK_OBJECT_HANDLE key;
	CK_BYTE buf[512];
	CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE;
	char label[16];
	CK_ATTRIBUTE t[3] = { { CKA_MODULUS, NULL, 0 }, { CKA_PRIVATE_EXPONENT, buf, sizeof(buf) },
			      { CKA_PRIME_1, NULL, 0 } };
	CK_ATTRIBUTE u[2] = { { CKA_LABEL, label, sizeof(label) }, { CKA_EC_PARAMS, buf, sizeof(buf) } };
	CK_ATTRIBUTE flags[2] = { { CKA_SENSITIVE, &sensitive, 1 }, { CKA_EXTRACTABLE, &extractable, 1 } };

	login_user(h);
	key = find_one(h, CKO_PRIVATE_KEY, MOCK_RSA_ID);
	ck_assert_int_eq(f->C_GetAttributeValue(h, key, t, 3), CKR_ATTRIBUTE_SENSITIVE);
	ck_assert_uint_eq(t[0].ulValueLen, 256);
	ck_assert_uint_eq(t[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert_uint_eq(t[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert_int_eq(f->C_GetAttributeValue(h, key, u, 2), CKR_ATTRIBUTE_TYPE_INVALID);
	ck_assert_uint_eq(u[0].ulValueLen, strlen("alice RSA"));
	ck_assert_int_eq(memcmp(label, "alice RSA", u[0].ulValueLen), 0);
	ck_assert_uint_eq(u[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
	ck_assert_int_eq(f->C_GetAttributeValue(h, key, flags, 2), CKR_OK);
	ck_assert_uint_eq(sensitive, CK_TRUE);
	ck_assert_uint_eq(extractable, CK_FALSE);
	ck_assert_int_eq(f->C_GetAttributeValue(h, key, NULL, 1), CKR_ARGUMENTS_BAD);
}
END_TEST

START_TEST(invalid_object_handles)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_SESSION_HANDLE h = open_session(slot, true), h2;
	CK_OBJECT_HANDLE other, key;
	char label[64];
	CK_ULONG n;

	tok2 = token_in_new_slot(bob(), &slot2);
	h2 = open_session(slot2, false);
	other = find_label(h2, "bob data", &n);
	ck_assert_uint_eq(n, 1);
	read_label(h2, other, CKR_OK, label, sizeof(label));
	/* Handles of another slot's objects are as unknown as made-up ones: the token is never asked. */
	read_label(h, other, CKR_OBJECT_HANDLE_INVALID, label, sizeof(label));
	read_label(h, CK_INVALID_HANDLE, CKR_OBJECT_HANDLE_INVALID, label, sizeof(label));
	read_label(h, 0xdeadbeef, CKR_OBJECT_HANDLE_INVALID, label, sizeof(label));
	ck_assert_uint_eq(mock_calls(tok, MOCK_GET_ATTRIBUTES), 0);
	ck_assert_int_eq(f->C_DestroyObject(h, other), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(f->C_DestroyObject(h, 0xdeadbeef), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_uint_eq(mock_calls(tok, MOCK_DESTROY_OBJECT), 0);
	ck_assert_int_eq(f->C_SignInit(h, &m, 0xdeadbeef), CKR_KEY_HANDLE_INVALID);

	login_user(h);
	key = find_one(h, CKO_PRIVATE_KEY, MOCK_EC_ID);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	read_label(h, key, CKR_OBJECT_HANDLE_INVALID, label, sizeof(label));
}
END_TEST

/* CKM_CONCATENATE_BASE_AND_KEY's parameter is a handle: the token must get its own name for that object. */
START_TEST(derive_translates_the_handle_in_the_parameter)
{
	CK_SESSION_HANDLE rw = open_session(slot, true);
	CK_OBJECT_CLASS data = CKO_DATA;
	CK_ATTRIBUTE first[] = { { CKA_CLASS, &data, sizeof(data) }, { CKA_VALUE, "abc", 3 } };
	CK_ATTRIBUTE second[] = { { CKA_CLASS, &data, sizeof(data) }, { CKA_VALUE, "defg", 4 } };
	CK_ATTRIBUTE made[] = { { CKA_CLASS, &data, sizeof(data) } };
	CK_BYTE value[16];
	CK_ATTRIBUTE read = { CKA_VALUE, value, sizeof(value) };
	CK_OBJECT_HANDLE base, other, joined, gone;
	CK_MECHANISM concat = { CKM_CONCATENATE_BASE_AND_KEY, &other, sizeof(other) };

	ck_assert_int_eq(f->C_CreateObject(rw, first, 2, &base), CKR_OK);
	ck_assert_int_eq(f->C_CreateObject(rw, second, 2, &other), CKR_OK);
	ck_assert_int_eq(f->C_DeriveKey(rw, &concat, base, made, 1, &joined), CKR_OK);
	ck_assert_int_eq(f->C_GetAttributeValue(rw, joined, &read, 1), CKR_OK);
	ck_assert_uint_eq(read.ulValueLen, 7);
	ck_assert_int_eq(memcmp(value, "abcdefg", 7), 0);
	/* A handle that names nothing is refused by the core, before the token hears of it. */
	ck_assert_int_eq(f->C_CreateObject(rw, second, 2, &gone), CKR_OK);
	ck_assert_int_eq(f->C_DestroyObject(rw, gone), CKR_OK);
	other = gone;
	ck_assert_int_eq(f->C_DeriveKey(rw, &concat, base, made, 1, &joined), CKR_KEY_HANDLE_INVALID);
	ck_assert_uint_eq(mock_calls(tok, MOCK_DERIVE_KEY), 1);
}
END_TEST

START_TEST(data_objects_create_and_destroy)
{
	CK_SESSION_HANDLE ro = open_session(slot, false), rw = open_session(slot, true);
	CK_OBJECT_CLASS data = CKO_DATA, cert = CKO_CERTIFICATE;
	CK_BBOOL yes = CK_TRUE, priv = CK_FALSE, modifiable = CK_FALSE;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &data, sizeof(data) }, { CKA_TOKEN, &yes, 1 },
				{ CKA_LABEL, "note", 4 }, { CKA_VALUE, "abc", 3 } };
	CK_ATTRIBUTE no_class = { CKA_LABEL, "note", 4 };
	CK_ATTRIBUTE not_data[] = { { CKA_CLASS, &cert, sizeof(cert) }, { CKA_LABEL, "note", 4 } };
	CK_ATTRIBUTE private_data[] = { { CKA_CLASS, &data, sizeof(data) }, { CKA_PRIVATE, &yes, 1 } };
	CK_BYTE value[8];
	CK_ATTRIBUTE read[] = { { CKA_VALUE, value, sizeof(value) }, { CKA_PRIVATE, &priv, 1 },
				{ CKA_MODIFIABLE, &modifiable, 1 } };
	CK_OBJECT_HANDLE obj;
	CK_ULONG n;

	ck_assert_int_eq(f->C_CreateObject(ro, tmpl, 4, &obj), CKR_SESSION_READ_ONLY);
	ck_assert_int_eq(f->C_CreateObject(rw, &no_class, 1, &obj), CKR_TEMPLATE_INCOMPLETE);
	ck_assert_int_eq(f->C_CreateObject(rw, not_data, 2, &obj), CKR_ATTRIBUTE_VALUE_INVALID);
	ck_assert_int_eq(f->C_CreateObject(rw, private_data, 2, &obj), CKR_USER_NOT_LOGGED_IN);
	ck_assert_int_eq(f->C_CreateObject(rw, NULL, 1, &obj), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_CreateObject(rw, tmpl, 4, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(mock_calls(tok, MOCK_CREATE_OBJECT), 4);

	ck_assert_int_eq(f->C_CreateObject(rw, tmpl, 4, &obj), CKR_OK);
	ck_assert_int_eq(f->C_GetAttributeValue(ro, obj, read, 3), CKR_OK);
	ck_assert_uint_eq(read[0].ulValueLen, 3);
	ck_assert_int_eq(memcmp(value, "abc", 3), 0);
	ck_assert_uint_eq(priv, CK_FALSE);
	ck_assert_uint_eq(modifiable, CK_TRUE);
	ck_assert_uint_eq(find_label(ro, "note", &n), obj);
	ck_assert_uint_eq(n, 1);

	ck_assert_int_eq(f->C_DestroyObject(ro, obj), CKR_SESSION_READ_ONLY);
	ck_assert_int_eq(f->C_DestroyObject(rw, obj), CKR_OK);
	ck_assert_int_eq(f->C_GetAttributeValue(ro, obj, read, 1), CKR_OBJECT_HANDLE_INVALID);
	ck_assert_int_eq(f->C_DestroyObject(rw, obj), CKR_OBJECT_HANDLE_INVALID);
	find_label(ro, "note", &n);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(session_objects_die_with_their_session)
{
	CK_SESSION_HANDLE a = open_session(slot, false), b = open_session(slot, false);
	CK_OBJECT_CLASS data = CKO_DATA;
	CK_ATTRIBUTE tmpl[] = { { CKA_CLASS, &data, sizeof(data) }, { CKA_LABEL, "scratch", 7 } };
	CK_OBJECT_HANDLE obj;
	char label[16];
	CK_ULONG n;

	/* A session object needs no read-write session. */
	ck_assert_int_eq(f->C_CreateObject(a, tmpl, 2, &obj), CKR_OK);
	read_label(b, obj, CKR_OK, label, sizeof(label));
	ck_assert_str_eq(label, "scratch");
	ck_assert_uint_eq(find_label(b, "scratch", &n), obj);
	ck_assert_int_eq(f->C_CloseSession(a), CKR_OK);
	read_label(b, obj, CKR_OBJECT_HANDLE_INVALID, label, sizeof(label));
	find_label(b, "scratch", &n);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(card_objects_cannot_be_destroyed)
{
	CK_SESSION_HANDLE h = open_session(slot, true);
	CK_OBJECT_HANDLE cert = find_one(h, CKO_CERTIFICATE, MOCK_RSA_ID);

	ck_assert_int_eq(f->C_DestroyObject(h, cert), CKR_ACTION_PROHIBITED);
	ck_assert_uint_eq(find_one(h, CKO_CERTIFICATE, MOCK_RSA_ID), cert);
}
END_TEST

/* ---- sign and decrypt ---- */

/* The hash-and-sign mechanisms the core composes, with their hash. */
static const struct {
	CK_MECHANISM_TYPE ecdsa, rsa;
	const EVP_MD *(*md)(void);
} hashes[] = {
	{ CKM_ECDSA_SHA1, CKM_SHA1_RSA_PKCS, EVP_sha1 },
	{ CKM_ECDSA_SHA224, CKM_SHA224_RSA_PKCS, EVP_sha224 },
	{ CKM_ECDSA_SHA256, CKM_SHA256_RSA_PKCS, EVP_sha256 },
	{ CKM_ECDSA_SHA384, CKM_SHA384_RSA_PKCS, EVP_sha384 },
	{ CKM_ECDSA_SHA512, CKM_SHA512_RSA_PKCS, EVP_sha512 },
};
#define N_HASHES ((int)(sizeof(hashes) / sizeof(hashes[0])))

/* A logged-in session and the private key with CKA_ID id. */
static CK_SESSION_HANDLE user_session(CK_BYTE id, CK_OBJECT_HANDLE *key)
{
	CK_SESSION_HANDLE h = open_session(slot, false);

	login_user(h);
	*key = find_one(h, CKO_PRIVATE_KEY, id);
	return h;
}

START_TEST(composed_ecdsa_over_raw_ecdsa)
{
	CK_MECHANISM m = { hashes[_i].ecdsa, NULL, 0 };
	CK_BYTE sig[128], hash[64], seen[64];
	CK_ULONG len = 0, seen_len = sizeof(seen);
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key);
	size_t hash_len = digest(hashes[_i].md(), message, sizeof(message), hash);

	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_uint_eq(mock_last_mechanism(tok), CKM_ECDSA);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ONESHOT), 0); /* the length comes from the key */
	len = sizeof(sig);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);
	ck_assert(ecdsa_verifies(ec_key, hashes[_i].md(), message, sizeof(message), sig, len));
	/*
	 * The host hashed; the token signed the hash, whole or cut to the
	 * curve's 32 bytes as ECDSA itself would (SEC 1 4.1.3): both are right.
	 */
	mock_last_input(tok, seen, &seen_len);
	ck_assert(seen_len == hash_len || (hash_len > 32 && seen_len == 32));
	ck_assert_int_eq(memcmp(seen, hash, seen_len), 0);
}
END_TEST

START_TEST(composed_rsa_pkcs_over_token_rsa_pkcs)
{
	CK_MECHANISM m = { hashes[_i].rsa, NULL, 0 };
	CK_BYTE sig[512], hash[64], seen[128];
	CK_ULONG len = sizeof(sig), seen_len = sizeof(seen);
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h;
	size_t hash_len = digest(hashes[_i].md(), message, sizeof(message), hash);

	ck_assert_int_eq(mock_offer(tok, CKM_RSA_PKCS), CKR_OK);
	h = user_session(MOCK_RSA_ID, &key);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_uint_eq(mock_last_mechanism(tok), CKM_RSA_PKCS);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 256);
	ck_assert(openssl_verifies(rsa_key, hashes[_i].md(), RSA_PKCS1_PADDING, message, sizeof(message), sig, len));
	/* The token got a DigestInfo: a DER SEQUENCE that ends in the hash. */
	mock_last_input(tok, seen, &seen_len);
	ck_assert_uint_gt(seen_len, hash_len);
	ck_assert_uint_eq(seen[0], 0x30);
	ck_assert_uint_eq(seen[1], seen_len - 2);
	ck_assert_int_eq(memcmp(seen + seen_len - hash_len, hash, hash_len), 0);
}
END_TEST

START_TEST(composed_multi_part_sign)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_BYTE sig[64];
	CK_ULONG len = 0, half = sizeof(message) / 2;
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key);

	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, message, half), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, message + half, sizeof(message) - half), CKR_OK);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_UPDATE), 0);
	ck_assert_int_eq(f->C_SignFinal(h, NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);
	ck_assert_int_eq(f->C_SignFinal(h, sig, &len), CKR_OK);
	ck_assert(ecdsa_verifies(ec_key, EVP_sha256(), message, sizeof(message), sig, len));
	ck_assert_int_eq(f->C_SignFinal(h, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

START_TEST(raw_ecdsa_sign)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_BYTE sig[64], hash[32];
	CK_ULONG len = sizeof(sig);
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key);

	digest(EVP_sha256(), message, sizeof(message), hash);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);
	ck_assert(ecdsa_verifies(ec_key, NULL, hash, sizeof(hash), sig, len));
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ONESHOT), 1);
}
END_TEST

START_TEST(raw_rsa_sign)
{
	CK_MECHANISM m = { CKM_RSA_X_509, NULL, 0 };
	CK_BYTE block[256], sig[256], back[512];
	CK_ULONG len = sizeof(sig);
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_RSA_ID, &key);

	for (size_t i = 0; i < sizeof(block); i++)
		block[i] = (CK_BYTE)(i * 7 + 1);
	block[0] = 0x00; /* below the modulus */
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, block, sizeof(block), sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 256);
	/* The public key undoes the raw private-key operation. */
	ck_assert_uint_eq(rsa_public(RSA_NO_PADDING, NULL, NULL, sig, len, back), sizeof(block));
	ck_assert_int_eq(memcmp(back, block, sizeof(block)), 0);
}
END_TEST

START_TEST(native_ecdsa_sha256_is_left_to_the_token)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_MECHANISM_TYPE list[64];
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig), n = 64, half = sizeof(message) / 2;
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h;

	ck_assert_int_eq(mock_offer(tok, CKM_ECDSA_SHA256), CKR_OK);
	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert(has_mechanism(list, n, CKM_ECDSA_SHA256));
	h = user_session(MOCK_EC_ID, &key);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_uint_eq(mock_last_mechanism(tok), CKM_ECDSA_SHA256);
	ck_assert_int_eq(f->C_SignUpdate(h, message, half), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, message + half, sizeof(message) - half), CKR_OK);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_UPDATE), 2);
	ck_assert_int_eq(f->C_SignFinal(h, sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 64);
	ck_assert(ecdsa_verifies(ec_key, EVP_sha256(), message, sizeof(message), sig, len));
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_FINAL), 1);
}
END_TEST

/* One signature of each kind: composed over raw, raw, and native (the token offers the mechanism). */
static const struct {
	CK_MECHANISM_TYPE mech;
	CK_MECHANISM_TYPE offer;   /* 0: none */
	CK_BYTE key_id;
	CK_ULONG sig_len;
} kinds[] = {
	{ CKM_ECDSA_SHA256, 0, MOCK_EC_ID, 64 },
	{ CKM_SHA256_RSA_PKCS, CKM_RSA_PKCS, MOCK_RSA_ID, 256 },
	{ CKM_ECDSA, 0, MOCK_EC_ID, 64 },
	{ CKM_RSA_X_509, 0, MOCK_RSA_ID, 256 },
	{ CKM_ECDSA_SHA256, CKM_ECDSA_SHA256, MOCK_EC_ID, 64 },
};
#define N_KINDS ((int)(sizeof(kinds) / sizeof(kinds[0])))

static CK_RV sign_init(CK_SESSION_HANDLE h, int i, CK_OBJECT_HANDLE key)
{
	CK_MECHANISM m = { kinds[i].mech, NULL, 0 };

	return f->C_SignInit(h, &m, key);
}

/* A session with a signature of kinds[i] started; the input is 32 bytes, fit for every kind. */
static CK_SESSION_HANDLE start_signature(int i, CK_OBJECT_HANDLE *key)
{
	CK_SESSION_HANDLE h;

	if (kinds[i].offer != 0)
		ck_assert_int_eq(mock_offer(tok, kinds[i].offer), CKR_OK);
	h = user_session(kinds[i].key_id, key);
	ck_assert_int_eq(sign_init(h, i, *key), CKR_OK);
	return h;
}

START_TEST(length_query_and_short_buffer_keep_the_operation)
{
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = start_signature(_i, &key);
	CK_BYTE sig[256];
	CK_ULONG len = 0;

	ck_assert_int_eq(f->C_Sign(h, message, 32, NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, kinds[_i].sig_len);
	len = 10;
	ck_assert_int_eq(f->C_Sign(h, message, 32, sig, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, kinds[_i].sig_len);
	len = sizeof(sig);
	ck_assert_int_eq(f->C_Sign(h, message, 32, sig, &len), CKR_OK);
	ck_assert_uint_eq(len, kinds[_i].sig_len);
	ck_assert_int_eq(f->C_Sign(h, message, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), 0);
}
END_TEST

START_TEST(token_error_ends_the_operation)
{
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = start_signature(_i, &key);
	CK_BYTE sig[256];
	CK_ULONG len = sizeof(sig);

	mock_fail_next(tok, MOCK_OP_ONESHOT, CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_Sign(h, message, 32, sig, &len), CKR_DEVICE_ERROR);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), 1);
	ck_assert_int_eq(f->C_Sign(h, message, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* Nothing is left behind, in the core or on the token. */
	ck_assert_int_eq(sign_init(h, _i, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, message, 32, sig, &len), CKR_OK);
	ck_assert_uint_eq(len, kinds[_i].sig_len);
}
END_TEST

START_TEST(argument_error_ends_the_operation)
{
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = start_signature(_i, &key);
	CK_BYTE sig[256];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(f->C_Sign(h, NULL, 32, sig, &len), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Sign(h, message, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), 1);
	ck_assert_int_eq(sign_init(h, _i, key), CKR_OK);
}
END_TEST

START_TEST(token_error_in_a_multi_part_signature)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h;
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig);

	ck_assert_int_eq(mock_offer(tok, CKM_ECDSA_SHA256), CKR_OK);
	h = user_session(MOCK_EC_ID, &key);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, message, 10), CKR_OK);
	mock_fail_next(tok, MOCK_OP_UPDATE, CKR_DEVICE_ERROR);
	ck_assert_int_eq(f->C_SignUpdate(h, message, 10), CKR_DEVICE_ERROR);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), 1);
	ck_assert_int_eq(f->C_SignFinal(h, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
}
END_TEST

START_TEST(sign_init_refusals)
{
	CK_BYTE param = 0;
	CK_MECHANISM composed = { CKM_ECDSA_SHA256, NULL, 0 }, raw = { CKM_ECDSA, NULL, 0 };
	CK_MECHANISM dsa = { CKM_DSA, NULL, 0 }, rsa = { CKM_RSA_X_509, NULL, 0 };
	CK_MECHANISM with_param = { CKM_ECDSA_SHA256, &param, 1 };
	CK_OBJECT_HANDLE key, pub;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key), other;
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig);

	pub = find_one(h, CKO_PUBLIC_KEY, MOCK_EC_ID);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	ck_assert_int_eq(f->C_SignInit(h, &composed, key), CKR_USER_NOT_LOGGED_IN);
	ck_assert_int_eq(f->C_SignInit(h, &raw, key), CKR_USER_NOT_LOGGED_IN);
	login_user(h);
	ck_assert_int_eq(f->C_SignInit(h, NULL, key), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_SignInit(h, &dsa, key), CKR_MECHANISM_INVALID);
	ck_assert_int_eq(f->C_SignInit(h, &rsa, key), CKR_KEY_TYPE_INCONSISTENT);
	ck_assert_int_eq(f->C_SignInit(h, &with_param, key), CKR_MECHANISM_PARAM_INVALID);
	ck_assert_int_eq(f->C_SignInit(h, &composed, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);
	ck_assert_int_eq(f->C_SignInit(h, &raw, pub), CKR_KEY_FUNCTION_NOT_PERMITTED);

	/* None of them left an operation behind, in the core or on the token. */
	ck_assert_int_eq(f->C_SignInit(h, &composed, key), CKR_OK);
	ck_assert_int_eq(f->C_SignInit(h, &composed, key), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), sig, &len), CKR_OK);
	other = open_session(slot, false);
	ck_assert_int_eq(f->C_Sign(other, message, sizeof(message), sig, &len), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

START_TEST(oaep_decrypt_over_raw_rsa)
{
	CK_RSA_PKCS_OAEP_PARAMS p = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, "label", 5 };
	CK_MECHANISM m = { CKM_RSA_PKCS_OAEP, &p, sizeof(p) };
	CK_BYTE ct[256], pt[256];
	CK_ULONG len = 0;
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_RSA_ID, &key);

	ck_assert_uint_eq(rsa_public(RSA_PKCS1_OAEP_PADDING, EVP_sha256(), "label", message, 40, ct), sizeof(ct));
	ck_assert_int_eq(f->C_DecryptInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Decrypt(h, ct, sizeof(ct), NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 256);
	ck_assert_int_eq(f->C_Decrypt(h, ct, sizeof(ct), pt, &len), CKR_OK);
	ck_assert_uint_eq(len, 40);
	ck_assert_int_eq(memcmp(pt, message, 40), 0);
	ck_assert_uint_eq(mock_last_mechanism(tok), CKM_RSA_X_509);
}
END_TEST

START_TEST(raw_rsa_decrypt)
{
	CK_MECHANISM m = { CKM_RSA_X_509, NULL, 0 };
	CK_BYTE block[256] = { 0 }, ct[256], pt[256];
	CK_ULONG len = sizeof(pt);
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_RSA_ID, &key);

	memcpy(block + sizeof(block) - 40, message, 40);
	ck_assert_uint_eq(rsa_public(RSA_NO_PADDING, NULL, NULL, block, sizeof(block), ct), sizeof(ct));
	ck_assert_int_eq(f->C_DecryptInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Decrypt(h, ct, 100, pt, &len), CKR_ENCRYPTED_DATA_LEN_RANGE);
	ck_assert_int_eq(f->C_DecryptInit(h, &m, key), CKR_OK);
	len = sizeof(pt);
	ck_assert_int_eq(f->C_Decrypt(h, ct, sizeof(ct), pt, &len), CKR_OK);
	ck_assert_uint_eq(len, 256);
	ck_assert_int_eq(memcmp(pt, block, sizeof(block)), 0);
}
END_TEST

/*
 * ---- the driver API ----
 *
 * What the core does when a driver tells it of its device's changes
 * (pkcs11/slot.h: slot_token_changed, slot_login_lost, slot_set_present),
 * as the mock does through tell_core() in tests/mock_token.c.
 */
START_TEST(swap_invalidates_every_old_handle)
{
	CK_MECHANISM raw = { CKM_ECDSA, NULL, 0 };
	CK_SESSION_HANDLE h = open_session(slot, false), h2;
	CK_OBJECT_HANDLE old[8], now[8];
	CK_MECHANISM_TYPE list[64];
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;
	CK_ULONG n_old, n_now, n = 64;
	unsigned lists;
	char label[64];

	login_user(h);
	n_old = find(h, NULL, 0, old, 8);
	ck_assert_uint_eq(n_old, 7);
	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	lists = mock_calls(tok, MOCK_MECHANISM_LIST);

	ck_assert_int_eq(mock_swap(tok, bob()), CKR_OK);
	ck_assert_int_eq(f->C_GetSessionInfo(h, &si), CKR_SESSION_HANDLE_INVALID);
	ck_assert_uint_eq(mock_open_sessions(tok), 0);
	ck_assert_int_eq(f->C_GetTokenInfo(slot, &ti), CKR_OK);
	ck_assert(padded_is(ti.serialNumber, sizeof(ti.serialNumber), "B0002"));
	h2 = open_session(slot, false);
	ck_assert_uint_eq(session_state(h2), CKS_RO_PUBLIC_SESSION);
	for (CK_ULONG i = 0; i < n_old; i++)
		read_label(h2, old[i], CKR_OBJECT_HANDLE_INVALID, label, sizeof(label));
	login_user(h2);
	/* Logged in, the new token's objects sit at the old refs: still no old handle names one. */
	for (CK_ULONG i = 0; i < n_old; i++) {
		read_label(h2, old[i], CKR_OBJECT_HANDLE_INVALID, label, sizeof(label));
		ck_assert_int_eq(f->C_SignInit(h2, &raw, old[i]), CKR_KEY_HANDLE_INVALID);
	}
	n_now = find(h2, NULL, 0, now, 8);
	ck_assert_uint_eq(n_now, 7);
	for (CK_ULONG i = 0; i < n_now; i++) {
		read_label(h2, now[i], CKR_OK, label, sizeof(label));
		ck_assert_msg(strncmp(label, "bob ", 4) == 0, "object of the old token: %s", label);
		for (CK_ULONG j = 0; j < n_old; j++)
			ck_assert_uint_ne(now[i], old[j]);
	}
	/* The new token's mechanisms are asked for again. */
	n = 64;
	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert_uint_gt(mock_calls(tok, MOCK_MECHANISM_LIST), lists);
}
END_TEST

START_TEST(lost_login_goes_back_to_public)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_SESSION_HANDLE ro = open_session(slot, false), rw = open_session(slot, true);
	CK_OBJECT_HANDLE key;
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig);

	login_user(ro);
	key = find_one(ro, CKO_PRIVATE_KEY, MOCK_EC_ID);
	mock_forget_login(tok);
	ck_assert_uint_eq(session_state(ro), CKS_RO_PUBLIC_SESSION);
	ck_assert_uint_eq(session_state(rw), CKS_RW_PUBLIC_SESSION);
	ck_assert_int_eq(f->C_SignInit(ro, &m, key), CKR_USER_NOT_LOGGED_IN);
	/* Not "already logged in": the PIN goes to the device again, once, when the application sends it. */
	login_user(rw);
	ck_assert_uint_eq(mock_calls(tok, MOCK_LOGIN), 2);
	ck_assert_int_eq(f->C_SignInit(ro, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(ro, message, sizeof(message), sig, &len), CKR_OK);
}
END_TEST

START_TEST(token_taken_out_closes_its_sessions)
{
	CK_SESSION_HANDLE h = open_session(slot, false), h2;
	CK_SESSION_INFO si;

	login_user(h);
	mock_set_present(tok, false);
	ck_assert_int_eq(f->C_GetSessionInfo(h, &si), CKR_SESSION_HANDLE_INVALID);
	ck_assert_uint_eq(mock_open_sessions(tok), 0);
	ck_assert_int_eq(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &h2), CKR_TOKEN_NOT_PRESENT);
	mock_set_present(tok, true);
	h2 = open_session(slot, false);
	ck_assert_uint_eq(session_state(h2), CKS_RO_PUBLIC_SESSION);
}
END_TEST

/* ---- strategies: what the host composes over a token that only does raw private-key operations ---- */

/* For a token with raw RSA and ECDSA alone, every composed mechanism shows just what it really does. */
START_TEST(composed_mechanisms_show_what_they_do)
{
	static const struct {
		CK_MECHANISM_TYPE m;
		CK_FLAGS flags;
	} expect[] = {
		{ CKM_RSA_PKCS, CKF_HW | CKF_SIGN | CKF_VERIFY | CKF_DECRYPT | CKF_ENCRYPT },
		{ CKM_SHA256_RSA_PKCS, CKF_HW | CKF_SIGN | CKF_VERIFY },
		{ CKM_SHA1_RSA_PKCS, CKF_HW | CKF_SIGN | CKF_VERIFY },
		{ CKM_RSA_PKCS_PSS, CKF_HW | CKF_SIGN | CKF_VERIFY },
		{ CKM_SHA512_RSA_PKCS_PSS, CKF_HW | CKF_SIGN | CKF_VERIFY },
		{ CKM_RSA_PKCS_OAEP, CKF_HW | CKF_DECRYPT | CKF_ENCRYPT },
		{ CKM_ECDSA_SHA384, CKF_HW | CKF_SIGN | CKF_VERIFY | EC_FLAGS },
		{ CKM_SHA256, CKF_DIGEST },
		{ CKM_SHA_1, CKF_DIGEST },
	};
	CK_MECHANISM_TYPE list[64];
	CK_MECHANISM_INFO mi;
	CK_ULONG n = 64;

	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		ck_assert_msg(has_mechanism(list, n, expect[i].m), "mechanism 0x%lx missing", expect[i].m);
		ck_assert_int_eq(f->C_GetMechanismInfo(slot, expect[i].m, &mi), CKR_OK);
		ck_assert_msg(mi.flags == expect[i].flags, "mechanism 0x%lx: flags 0x%lx", expect[i].m, mi.flags);
		ck_assert_uint_eq(mi.ulMaxKeySize, expect[i].m == CKM_SHA256 || expect[i].m == CKM_SHA_1 ? 0
					     : expect[i].flags & CKF_EC_F_P ? 256 : 2048);
	}
	/* Nothing the host cannot do is claimed. */
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_MD5, &mi), CKR_MECHANISM_INVALID);
	ck_assert_int_eq(f->C_GetMechanismInfo(slot, CKM_ECDH1_DERIVE, &mi), CKR_MECHANISM_INVALID);
}
END_TEST

/* Counts the module's lock operations through application-supplied mutexes. */
static unsigned lock_calls;
/*
 * Mutexes made while C_Initialize runs are the module's own (its lock, the
 * slots' login locks); those made later guard one session's calls and are
 * not the module lock, so they are not counted.
 */
static bool initializing;

static CK_RV count_create(CK_VOID_PTR_PTR m)
{
	*m = malloc(1);
	if (*m == NULL)
		return CKR_HOST_MEMORY;
	*(bool *)*m = initializing;
	return CKR_OK;
}

static CK_RV count_destroy(CK_VOID_PTR m)
{
	free(m);
	return CKR_OK;
}

/* The tests are single-threaded: counting is all the mutex has to do. */
static CK_RV count_lock(CK_VOID_PTR m)
{
	if (*(bool *)m)
		lock_calls++;
	return CKR_OK;
}

static CK_RV count_unlock(CK_VOID_PTR m)
{
	(void)m;
	return CKR_OK;
}

static void counting_setup(void)
{
	CK_C_INITIALIZE_ARGS args = { count_create, count_destroy, count_lock, count_unlock, 0, NULL };

	initializing = true;
	start_module(&args);
	initializing = false;
}

/* What a card does with CKM_RSA_X_509 alone: every RSA signature is hashed and padded on the host. */
static const struct {
	CK_MECHANISM_TYPE mech;
	bool pss;
	bool hashed;   /* the mechanism hashes the message; otherwise the input is the encoded hash */
} rsa_kinds[] = {
	{ CKM_RSA_PKCS, false, false },
	{ CKM_SHA256_RSA_PKCS, false, true },
	{ CKM_RSA_PKCS_PSS, true, false },
	{ CKM_SHA256_RSA_PKCS_PSS, true, true },
};

START_TEST(rsa_signatures_composed_over_raw_rsa)
{
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 32 };
	CK_MECHANISM m = { rsa_kinds[_i].mech, rsa_kinds[_i].pss ? &pss : NULL, rsa_kinds[_i].pss ? sizeof(pss) : 0 };
	CK_MECHANISM_TYPE list[64];
	CK_BYTE hash[32], sig[256], in[64];
	CK_ULONG len = sizeof(sig), n = 64, in_len;
	const unsigned char *prefix = (const unsigned char *)"\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20";
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h;
	EVP_PKEY_CTX *ctx;

	ck_assert_int_eq(f->C_GetMechanismList(slot, list, &n), CKR_OK);
	ck_assert(has_mechanism(list, n, rsa_kinds[_i].mech));
	h = user_session(MOCK_RSA_ID, &key);
	digest(EVP_sha256(), message, sizeof(message), hash);
	if (rsa_kinds[_i].hashed) {
		memcpy(in, message, sizeof(in));
		in_len = sizeof(in);
	} else if (rsa_kinds[_i].pss) {
		memcpy(in, hash, sizeof(hash));
		in_len = sizeof(hash);
	} else {
		memcpy(in, prefix, 19);
		memcpy(in + 19, hash, sizeof(hash));
		in_len = 19 + sizeof(hash);
	}
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_uint_eq(mock_last_mechanism(tok), CKM_RSA_X_509);
	ck_assert_int_eq(f->C_Sign(h, in, in_len, sig, &len), CKR_OK);
	ck_assert_uint_eq(len, 256);
	/* The token got a whole block of the modulus's size. */
	n = sizeof(list);
	mock_last_input(tok, (CK_BYTE *)list, &n);
	ck_assert_uint_eq(n, 256);
	if (rsa_kinds[_i].hashed) {
		ck_assert(openssl_verifies(rsa_key, EVP_sha256(), rsa_kinds[_i].pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING,
					   message, sizeof(in), sig, len));
		return;
	}
	ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
	ck_assert_int_eq(EVP_PKEY_verify_init(ctx), 1);
	if (rsa_kinds[_i].pss) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32), 1);
	} else {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	}
	ck_assert_int_eq(EVP_PKEY_verify(ctx, sig, len, in, in_len), 1);
	EVP_PKEY_CTX_free(ctx);
}
END_TEST

START_TEST(verify_and_digest_on_the_host)
{
	CK_MECHANISM verify = { CKM_ECDSA_SHA256, NULL, 0 }, sha256 = { CKM_SHA256, NULL, 0 };
	CK_SESSION_HANDLE h = open_session(slot, false);
	CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY, MOCK_EC_ID);
	CK_BYTE hash[32], want[32], sig[64];
	CK_ULONG len = sizeof(hash), sig_len = sizeof(sig);
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE signer = user_session(MOCK_EC_ID, &key);
	CK_MECHANISM sign = { CKM_ECDSA_SHA256, NULL, 0 };
	unsigned inits;

	ck_assert_int_eq(f->C_SignInit(signer, &sign, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(signer, message, sizeof(message), sig, &sig_len), CKR_OK);
	inits = mock_calls(tok, MOCK_OP_INIT);

	ck_assert_int_eq(f->C_DigestInit(h, &sha256), CKR_OK);
	ck_assert_int_eq(f->C_Digest(h, message, sizeof(message), hash, &len), CKR_OK);
	digest(EVP_sha256(), message, sizeof(message), want);
	ck_assert_uint_eq(len, 32);
	ck_assert_int_eq(memcmp(hash, want, 32), 0);
	ck_assert_int_eq(f->C_VerifyInit(h, &verify, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, message, sizeof(message), sig, sig_len), CKR_OK);
	sig[5] ^= 1;
	ck_assert_int_eq(f->C_VerifyInit(h, &verify, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, message, sizeof(message), sig, sig_len), CKR_SIGNATURE_INVALID);
	/* A card is never asked to do what the host can do with a public key. */
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_INIT), inits);
}
END_TEST

START_TEST(sign_takes_the_module_lock_at_most_twice)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key);
	CK_BYTE sig[64];
	CK_ULONG len = sizeof(sig);
	unsigned before;

	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	before = lock_calls;
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), sig, &len), CKR_OK);
	ck_assert_uint_le(lock_calls - before, 2);
}
END_TEST

/* ---- host-only operations ---- */

/* One signature of each kind the mock's keys can make, composed or raw, for the host to verify. */
static const struct {
	CK_MECHANISM_TYPE mech;
	bool pss;
	bool ec;
	bool hashes;       /* the mechanism hashes a message, so it also takes it in parts */
	CK_ULONG in_len;   /* what the mechanism takes: a message, a hash, a DigestInfo or a block */
} verifiable[] = {
	{ CKM_ECDSA, false, true, false, 32 },
	{ CKM_ECDSA_SHA384, false, true, true, 100 },
	{ CKM_RSA_PKCS, false, false, false, 51 },
	{ CKM_SHA256_RSA_PKCS, false, false, true, 100 },
	{ CKM_RSA_PKCS_PSS, true, false, false, 32 },
	{ CKM_SHA256_RSA_PKCS_PSS, true, false, true, 100 },
	{ CKM_RSA_X_509, false, false, false, 200 },
};
#define N_VERIFIABLE ((int)(sizeof(verifiable) / sizeof(verifiable[0])))

START_TEST(host_verifies_what_the_token_signed)
{
	CK_RSA_PKCS_PSS_PARAMS pss = { CKM_SHA256, CKG_MGF1_SHA256, 20 };
	CK_MECHANISM m = { verifiable[_i].mech, verifiable[_i].pss ? &pss : NULL, verifiable[_i].pss ? sizeof(pss) : 0 };
	CK_BYTE id = verifiable[_i].ec ? MOCK_EC_ID : MOCK_RSA_ID, sig[256];
	CK_ULONG len = sizeof(sig), in_len = verifiable[_i].in_len, half = in_len / 2;
	CK_OBJECT_HANDLE key, pub;
	CK_SESSION_HANDLE h = user_session(id, &key);
	CK_BYTE data[256] = { 0 };
	unsigned inits;

	/* Up to a whole RSA block, below the modulus. */
	memcpy(data + 1, message, sizeof(message));
	pub = find_one(h, CKO_PUBLIC_KEY, id);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, data, in_len, sig, &len), CKR_OK);
	inits = mock_calls(tok, MOCK_OP_INIT);

	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, in_len, sig, len), CKR_OK);
	if (verifiable[_i].hashes) {
		ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
		ck_assert_int_eq(f->C_VerifyUpdate(h, data, half), CKR_OK);
		ck_assert_int_eq(f->C_VerifyUpdate(h, data + half, in_len - half), CKR_OK);
		ck_assert_int_eq(f->C_VerifyFinal(h, sig, len), CKR_OK);
	}
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, in_len, sig, len - 1), CKR_SIGNATURE_LEN_RANGE);
	sig[len / 2] ^= 0x10;
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, in_len, sig, len), CKR_SIGNATURE_INVALID);
	sig[len / 2] ^= 0x10;
	data[0] ^= 1;
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, data, in_len, sig, len), CKR_SIGNATURE_INVALID);
	data[0] ^= 1;
	/* The token was never asked. */
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_INIT), inits);
}
END_TEST

START_TEST(host_verification_needs_a_public_key_that_may_verify)
{
	CK_MECHANISM ec = { CKM_ECDSA_SHA256, NULL, 0 }, rsa = { CKM_SHA256_RSA_PKCS, NULL, 0 };
	CK_MECHANISM recover = { CKM_RSA_X_509, NULL, 0 };
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key);
	CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY, MOCK_EC_ID);
	CK_OBJECT_HANDLE cert = find_one(h, CKO_CERTIFICATE, MOCK_EC_ID);
	CK_OBJECT_HANDLE rsa_pub = find_one(h, CKO_PUBLIC_KEY, MOCK_RSA_ID);
	CK_BYTE sig[64] = { 1 };

	ck_assert_int_eq(f->C_VerifyInit(h, &ec, key), CKR_KEY_FUNCTION_NOT_PERMITTED);
	ck_assert_int_eq(f->C_VerifyInit(h, &rsa, pub), CKR_KEY_TYPE_INCONSISTENT);
	ck_assert_int_eq(f->C_VerifyInit(h, &ec, rsa_pub), CKR_KEY_TYPE_INCONSISTENT);
	ck_assert_int_eq(f->C_VerifyInit(h, &ec, cert), CKR_KEY_HANDLE_INVALID);
	ck_assert_int_eq(f->C_VerifyInit(h, &ec, 0x4242), CKR_KEY_HANDLE_INVALID);
	/* Verification with recovery is the token's, which cannot. */
	ck_assert_int_eq(f->C_VerifyRecoverInit(h, &recover, rsa_pub), CKR_MECHANISM_INVALID);
	/* None of them left an operation behind. */
	ck_assert_int_eq(f->C_Verify(h, message, 10, sig, sizeof(sig)), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_VerifyInit(h, &ec, pub), CKR_OK);
}
END_TEST

/* OpenSSL's decryption of what the host encrypted for the token's key. */
static size_t openssl_decrypts(int padding, const char *label, const CK_BYTE *ct, CK_BYTE *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(rsa_key, NULL);
	size_t len = 256;

	ck_assert_int_eq(EVP_PKEY_decrypt_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, padding), 1);
	if (padding == RSA_PKCS1_OAEP_PADDING) {
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha1()), 1);
		ck_assert_int_eq(EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_strdup(label), (int)strlen(label)), 1);
	}
	ck_assert_int_eq(EVP_PKEY_decrypt(ctx, out, &len, ct, 256), 1);
	EVP_PKEY_CTX_free(ctx);
	return len;
}

/* The host encrypts with the public key; OpenSSL and the token (composed over raw RSA) decrypt. */
START_TEST(host_encrypts_token_decrypts)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, "label", 5 };
	const struct {
		CK_MECHANISM m;
		int padding;
		CK_ULONG len, too_long;
	} ways[] = {
		{ { CKM_RSA_PKCS, NULL, 0 }, RSA_PKCS1_PADDING, 40, 246 },
		{ { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) }, RSA_PKCS1_OAEP_PADDING, 40, 191 },
		{ { CKM_RSA_X_509, NULL, 0 }, RSA_NO_PADDING, 256, 257 },
	};
	CK_BYTE ct[256], pt[256], block[256], big[300];
	CK_ULONG len;
	CK_OBJECT_HANDLE key, pub;
	CK_SESSION_HANDLE h = user_session(MOCK_RSA_ID, &key);
	const CK_BYTE *in;
	CK_MECHANISM m;

	pub = find_one(h, CKO_PUBLIC_KEY, MOCK_RSA_ID);
	memset(big, 0x5a, sizeof(big));
	memset(block, 0, sizeof(block));
	memcpy(block + 1, message, sizeof(block) - 1 < sizeof(message) ? sizeof(block) - 1 : sizeof(message));
	for (size_t i = 0; i < sizeof(ways) / sizeof(ways[0]); i++) {
		m = ways[i].m;

		in = m.mechanism == CKM_RSA_X_509 ? block : message;
		ck_assert_int_eq(f->C_EncryptInit(h, &m, pub), CKR_OK);
		len = 0;
		ck_assert_int_eq(f->C_Encrypt(h, (CK_BYTE_PTR)in, ways[i].len, NULL, &len), CKR_OK);
		ck_assert_uint_eq(len, 256);
		len = 255;
		ck_assert_int_eq(f->C_Encrypt(h, (CK_BYTE_PTR)in, ways[i].len, ct, &len), CKR_BUFFER_TOO_SMALL);
		len = sizeof(ct);
		ck_assert_int_eq(f->C_Encrypt(h, (CK_BYTE_PTR)in, ways[i].len, ct, &len), CKR_OK);
		ck_assert_uint_eq(len, 256);
		ck_assert_uint_eq(openssl_decrypts(ways[i].padding, "label", ct, pt), ways[i].len);
		ck_assert_int_eq(memcmp(pt, in, ways[i].len), 0);

		ck_assert_int_eq(f->C_DecryptInit(h, &m, key), CKR_OK);
		len = sizeof(pt);
		ck_assert_int_eq(f->C_Decrypt(h, ct, 256, pt, &len), CKR_OK);
		ck_assert_uint_eq(len, ways[i].len);
		ck_assert_int_eq(memcmp(pt, in, len), 0);
		ck_assert_uint_eq(mock_last_mechanism(tok), CKM_RSA_X_509);

		ck_assert_int_eq(f->C_EncryptInit(h, &m, pub), CKR_OK);
		len = sizeof(ct);
		ck_assert_int_eq(f->C_Encrypt(h, big, ways[i].too_long, ct, &len), CKR_DATA_LEN_RANGE);
	}
	/* A private key does not encrypt; a ciphertext of another length is not the key's. */
	m = ways[0].m;
	ck_assert_int_eq(f->C_EncryptInit(h, &m, key), CKR_KEY_FUNCTION_NOT_PERMITTED);
	ck_assert_int_eq(f->C_DecryptInit(h, &m, key), CKR_OK);
	len = sizeof(pt);
	ck_assert_int_eq(f->C_Decrypt(h, ct, 255, pt, &len), CKR_ENCRYPTED_DATA_LEN_RANGE);
}
END_TEST

START_TEST(tampered_ciphertext_is_refused)
{
	CK_MECHANISM m = { CKM_RSA_PKCS, NULL, 0 };
	CK_BYTE ct[256], pt[256];
	CK_ULONG len = sizeof(pt);
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_RSA_ID, &key);

	ck_assert_uint_eq(rsa_public(RSA_PKCS1_PADDING, NULL, NULL, message, 30, ct), sizeof(ct));
	ck_assert_int_eq(f->C_DecryptInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Decrypt(h, ct, sizeof(ct), NULL, &len), CKR_OK);
	ck_assert_uint_eq(len, 256);
	len = 10;
	ck_assert_int_eq(f->C_Decrypt(h, ct, sizeof(ct), pt, &len), CKR_BUFFER_TOO_SMALL);
	ck_assert_uint_eq(len, 30);
	ck_assert_int_eq(f->C_Decrypt(h, ct, sizeof(ct), pt, &len), CKR_OK);
	ck_assert_int_eq(memcmp(pt, message, 30), 0);
	ct[17] ^= 0x20;
	ck_assert_int_eq(f->C_DecryptInit(h, &m, key), CKR_OK);
	len = sizeof(pt);
	ck_assert_int_eq(f->C_Decrypt(h, ct, sizeof(ct), pt, &len), CKR_ENCRYPTED_DATA_INVALID);
	ck_assert_int_eq(f->C_Decrypt(h, ct, sizeof(ct), pt, &len), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

/* Bad PSS parameters are the mechanism's fault, whether the host signs or verifies. */
START_TEST(pss_parameters_are_checked)
{
	CK_RSA_PKCS_PSS_PARAMS too_salty = { CKM_SHA256, CKG_MGF1_SHA256, 256 - 32 - 1 };
	CK_RSA_PKCS_PSS_PARAMS sha3 = { 0x2b0 /* CKM_SHA3_256 */, CKG_MGF1_SHA256, 32 };
	CK_RSA_PKCS_PSS_PARAMS other_hash = { CKM_SHA_1, CKG_MGF1_SHA1, 20 };
	CK_RSA_PKCS_PSS_PARAMS good = { CKM_SHA256, CKG_MGF1_SHA1, 256 - 32 - 2 };
	CK_MECHANISM bad[] = {
		{ CKM_RSA_PKCS_PSS, &too_salty, sizeof(too_salty) },
		{ CKM_RSA_PKCS_PSS, &sha3, sizeof(sha3) },
		{ CKM_SHA256_RSA_PKCS_PSS, &other_hash, sizeof(other_hash) },
		{ CKM_RSA_PKCS_PSS, NULL, 0 },
		{ CKM_RSA_PKCS_PSS, &good, sizeof(good) - 1 },
	};
	CK_MECHANISM m = { CKM_RSA_PKCS_PSS, &good, sizeof(good) };
	CK_BYTE hash[32], sig[256];
	CK_ULONG len = sizeof(sig);
	CK_OBJECT_HANDLE key, pub;
	CK_SESSION_HANDLE h = user_session(MOCK_RSA_ID, &key);

	pub = find_one(h, CKO_PUBLIC_KEY, MOCK_RSA_ID);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(f->C_SignInit(h, &bad[i], key), CKR_MECHANISM_PARAM_INVALID);
		ck_assert_int_eq(f->C_VerifyInit(h, &bad[i], pub), CKR_MECHANISM_PARAM_INVALID);
	}
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), mock_calls(tok, MOCK_OP_INIT));
	/* The largest salt the key allows works, and the input must be the hash the parameters name. */
	digest(EVP_sha256(), message, sizeof(message), hash);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, hash, 20, sig, &len), CKR_DATA_LEN_RANGE);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, hash, sizeof(hash), sig, &len), CKR_OK);
	ck_assert_int_eq(f->C_VerifyInit(h, &m, pub), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, hash, sizeof(hash), sig, len), CKR_OK);
}
END_TEST

START_TEST(digests_on_the_host)
{
	static const struct {
		CK_MECHANISM_TYPE m;
		const EVP_MD *(*md)(void);
	} digests[] = {
		{ CKM_SHA_1, EVP_sha1 }, { CKM_SHA224, EVP_sha224 }, { CKM_SHA256, EVP_sha256 },
		{ CKM_SHA384, EVP_sha384 }, { CKM_SHA512, EVP_sha512 },
	};
	CK_SESSION_HANDLE h = open_session(slot, false);
	CK_OBJECT_HANDLE data;
	CK_BYTE out[64], want[64];
	CK_ULONG len, n, half = sizeof(message) / 2;

	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
		CK_MECHANISM m = { digests[i].m, NULL, 0 };
		size_t size = digest(digests[i].md(), message, sizeof(message), want);

		ck_assert_int_eq(f->C_DigestInit(h, &m), CKR_OK);
		ck_assert_int_eq(f->C_DigestUpdate(h, message, half), CKR_OK);
		ck_assert_int_eq(f->C_DigestUpdate(h, message + half, sizeof(message) - half), CKR_OK);
		len = 0;
		ck_assert_int_eq(f->C_DigestFinal(h, NULL, &len), CKR_OK);
		ck_assert_uint_eq(len, size);
		len = size - 1;
		ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_BUFFER_TOO_SMALL);
		len = sizeof(out);
		ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OK);
		ck_assert_uint_eq(len, size);
		ck_assert_int_eq(memcmp(out, want, size), 0);
	}
	/* The host never holds a key's value. */
	data = find_label(h, "alice data", &n);
	{
		CK_MECHANISM m = { CKM_SHA256, NULL, 0 };

		ck_assert_int_eq(f->C_DigestInit(h, &m), CKR_OK);
		ck_assert_int_eq(f->C_DigestKey(h, data), CKR_KEY_INDIGESTIBLE);
		ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	}
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_INIT), 0);
}
END_TEST

/* ---- the operation rules, on composed and host-only operations ---- */

/* A composed signature: single-part and multi-part do not mix, and a refused step changes nothing. */
START_TEST(composed_signature_keeps_its_mode)
{
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 };
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key);
	CK_BYTE sig[64];
	CK_ULONG len = 0;

	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), NULL, &len), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, message, 10), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_SignFinal(h, sig, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), sig, &len), CKR_OK);
	ck_assert(ecdsa_verifies(ec_key, EVP_sha256(), message, sizeof(message), sig, len));

	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, message, 10), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), sig, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_SignUpdate(h, message + 10, sizeof(message) - 10), CKR_OK);
	ck_assert_int_eq(f->C_SignFinal(h, sig, &len), CKR_OK);
	ck_assert(ecdsa_verifies(ec_key, EVP_sha256(), message, sizeof(message), sig, len));
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), 0);
}
END_TEST

START_TEST(host_operations_keep_their_mode)
{
	CK_MECHANISM sha = { CKM_SHA256, NULL, 0 }, ec = { CKM_ECDSA_SHA256, NULL, 0 }, rsa = { CKM_RSA_PKCS, NULL, 0 };
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key);
	CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY, MOCK_EC_ID), rsa_pub = find_one(h, CKO_PUBLIC_KEY, MOCK_RSA_ID);
	CK_BYTE out[256], want[32], sig[64];
	CK_ULONG len = 0, sig_len = sizeof(sig);

	ck_assert_int_eq(f->C_SignInit(h, &ec, key), CKR_OK);
	ck_assert_int_eq(f->C_Sign(h, message, sizeof(message), sig, &sig_len), CKR_OK);

	digest(EVP_sha256(), message, sizeof(message), want);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_Digest(h, message, sizeof(message), NULL, &len), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, message, 10), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_Digest(h, message, sizeof(message), out, &len), CKR_OK);
	ck_assert_int_eq(memcmp(out, want, 32), 0);

	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestUpdate(h, message, 10), CKR_OK);
	ck_assert_int_eq(f->C_Digest(h, message, sizeof(message), out, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_DigestUpdate(h, message + 10, sizeof(message) - 10), CKR_OK);
	ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OK);
	ck_assert_int_eq(memcmp(out, want, 32), 0);

	ck_assert_int_eq(f->C_VerifyInit(h, &ec, pub), CKR_OK);
	ck_assert_int_eq(f->C_VerifyInit(h, &ec, pub), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_VerifyUpdate(h, message, sizeof(message)), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, message, sizeof(message), sig, sig_len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_VerifyFinal(h, sig, sig_len), CKR_OK);

	ck_assert_int_eq(f->C_EncryptInit(h, &rsa, rsa_pub), CKR_OK);
	len = 0;
	ck_assert_int_eq(f->C_Encrypt(h, message, 20, NULL, &len), CKR_OK);
	len = sizeof(out);
	ck_assert_int_eq(f->C_EncryptUpdate(h, message, 20, out, &len), CKR_OPERATION_ACTIVE);
	ck_assert_int_eq(f->C_Encrypt(h, message, 20, out, &len), CKR_OK);
	ck_assert_uint_eq(len, 256);
	/* RSA encryption is single-part: an update ends it. */
	ck_assert_int_eq(f->C_EncryptInit(h, &rsa, rsa_pub), CKR_OK);
	ck_assert_int_eq(f->C_EncryptUpdate(h, message, 20, out, &len), CKR_FUNCTION_NOT_SUPPORTED);
	ck_assert_int_eq(f->C_Encrypt(h, message, 20, out, &len), CKR_OPERATION_NOT_INITIALIZED);
}
END_TEST

START_TEST(null_arguments_come_before_the_operation_state)
{
	CK_MECHANISM ec = { CKM_ECDSA_SHA256, NULL, 0 }, sha = { CKM_SHA256, NULL, 0 };
	CK_OBJECT_HANDLE key;
	CK_SESSION_HANDLE h = user_session(MOCK_EC_ID, &key);
	CK_OBJECT_HANDLE pub = find_one(h, CKO_PUBLIC_KEY, MOCK_EC_ID);
	CK_BYTE out[64];
	CK_ULONG len = sizeof(out);

	ck_assert_int_eq(f->C_Verify(h, message, 10, NULL, 64), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_Digest(h, NULL, 10, out, &len), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_SignFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
	/* A host-only operation ends on it, without a word to the token. */
	ck_assert_int_eq(f->C_VerifyInit(h, &ec, pub), CKR_OK);
	ck_assert_int_eq(f->C_VerifyUpdate(h, message, 10), CKR_OK);
	ck_assert_int_eq(f->C_Verify(h, message, 10, NULL, 64), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_VerifyFinal(h, out, 64), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestFinal(h, out, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), 0);
	/* A composed one ends on the token too. */
	ck_assert_int_eq(f->C_SignInit(h, &ec, key), CKR_OK);
	ck_assert_int_eq(f->C_SignUpdate(h, NULL, 5), CKR_ARGUMENTS_BAD);
	ck_assert_uint_eq(mock_calls(tok, MOCK_OP_ABORT), 1);
	ck_assert_int_eq(f->C_SignFinal(h, out, &len), CKR_OPERATION_NOT_INITIALIZED);
	/* An argument error of C_*Init belongs to that call: the operation going on is left alone. */
	ck_assert_int_eq(f->C_DigestInit(h, &sha), CKR_OK);
	ck_assert_int_eq(f->C_DigestInit(h, NULL), CKR_ARGUMENTS_BAD);
	ck_assert_int_eq(f->C_DigestFinal(h, out, &len), CKR_OK);
}
END_TEST

/* ---- the PIN policy in front of the card's own counters ---- */

/* The one token in the slot is now a card described by d (the old one is taken out first). */
static void replace_token(const struct mock_desc *d)
{
	CK_SLOT_ID list[4];
	CK_ULONG n = 4;

	ck_assert_int_eq(f->C_Finalize(NULL), CKR_OK);
	mock_token_free(tok);
	ck_assert_int_eq(f->C_Initialize(NULL), CKR_OK);
	tok = token_in_new_slot(d, &slot);
	ck_assert_int_eq(f->C_GetSlotList(CK_TRUE, list, &n), CKR_OK);
	ck_assert_uint_eq(n, 1);
}

/* The card of base with its own retry limits (0: a PIV card's defaults) and factory PIN state. */
static const struct mock_desc *card_with(const struct mock_desc *base, unsigned user_tries, unsigned so_tries,
					 bool factory_pin)
{
	static struct mock_desc d;

	d = *base;
	d.user_tries = user_tries;
	d.so_tries = so_tries;
	d.factory_pin = factory_pin;
	return &d;
}

START_TEST(expired_pin_refuses_private_key_use)
{
	CK_MECHANISM composed = { CKM_ECDSA_SHA256, NULL, 0 }, raw = { CKM_ECDSA, NULL, 0 };
	CK_SESSION_HANDLE h = open_session(slot, true);
	CK_OBJECT_HANDLE key;

	ck_assert_int_eq(f->C_Login(h, CKU_SO, PIN(MOCK_SO_PIN)), CKR_OK);
	ck_assert_int_eq(f->C_InitPIN(h, PIN("4321")), CKR_OK);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN("4321")), CKR_OK);
	key = find_one(h, CKO_PRIVATE_KEY, MOCK_EC_ID);
	ck_assert_int_eq(f->C_SignInit(h, &composed, key), CKR_PIN_EXPIRED);
	ck_assert_int_eq(f->C_SignInit(h, &raw, key), CKR_PIN_EXPIRED);
	ck_assert_int_eq(f->C_SetPIN(h, PIN("4321"), PIN("24681357")), CKR_OK);
	ck_assert_int_eq(f->C_SignInit(h, &composed, key), CKR_OK);
}
END_TEST

START_TEST(locked_pin_is_never_sent)
{
	CK_SESSION_HANDLE h = open_session(slot, false);

	lock_user_pin(h);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_USER), MOCK_USER_TRIES);
	ck_assert_uint_eq(mock_user_tries_left(tok), 0);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN(MOCK_USER_PIN)), CKR_PIN_LOCKED);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN("24681357")), CKR_PIN_LOCKED);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_USER), MOCK_USER_TRIES);
}
END_TEST

START_TEST(same_wrong_pin_is_not_sent_twice)
{
	CK_SESSION_HANDLE h = open_session(slot, false);

	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN("000000")), CKR_PIN_INCORRECT);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN("000000")), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(mock_user_tries_left(tok), MOCK_USER_TRIES - 1);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_USER), 1);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW);
	login_user(h);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_USER), 2);
}
END_TEST

/* A card that allows 10 tries: signet locks it after the policy's 3, and the card has spent only those. */
START_TEST(generous_card_is_locked_by_signet_after_three)
{
	static const CK_FLAGS after[] = {
		CKF_USER_PIN_COUNT_LOW,
		CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY,
		CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED,
	};
	CK_SESSION_HANDLE h;

	replace_token(card_with(alice(), 10, 0, false));
	h = open_session(slot, false);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, 0);
	for (unsigned i = 1; i <= 3; i++) {
		wrong_login(h, CKU_USER, i);
		ck_assert_uint_eq(token_flags(slot) & USER_PINS, after[i - 1]);
		ck_assert_uint_eq(mock_user_tries_left(tok), 10 - i);
	}
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN(MOCK_USER_PIN)), CKR_PIN_LOCKED);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_USER), 3);
	ck_assert_uint_eq(mock_user_tries_left(tok), 7);
	ck_assert_uint_eq(session_state(h), CKS_RO_PUBLIC_SESSION);
}
END_TEST

/* A card that allows 2 tries keeps its own counter: the final try comes after one failure. */
START_TEST(strict_card_keeps_its_own_counter)
{
	CK_SESSION_HANDLE h;

	replace_token(card_with(alice(), 2, 0, false));
	h = open_session(slot, false);
	wrong_login(h, CKU_USER, 1);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_uint_eq(mock_user_tries_left(tok), 1);
	wrong_login(h, CKU_USER, 2);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_uint_eq(mock_user_tries_left(tok), 0);
	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN(MOCK_USER_PIN)), CKR_PIN_LOCKED);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_USER), 2);
}
END_TEST

/*
 * A PUK the card would try 10 times is locked by signet after 5, for good:
 * a fresh start on the same card, its own counter full again, still finds
 * it locked, and nothing is sent.
 */
START_TEST(puk_is_locked_for_good_after_five)
{
	CK_SESSION_HANDLE h;

	replace_token(card_with(alice(), 0, 10, false));
	h = open_session(slot, true);
	for (unsigned i = 1; i <= 5; i++) {
		CK_FLAGS want = CKF_SO_PIN_COUNT_LOW | (i == 4 ? CKF_SO_PIN_FINAL_TRY : 0) |
				(i == 5 ? CKF_SO_PIN_LOCKED : 0);

		wrong_login(h, CKU_SO, i);
		ck_assert_uint_eq(token_flags(slot) & SO_PINS, want);
		ck_assert_uint_eq(mock_so_tries_left(tok), 10 - i);
	}
	ck_assert_int_eq(f->C_Login(h, CKU_SO, PIN(MOCK_SO_PIN)), CKR_PIN_LOCKED);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_SO), 5);

	replace_token(card_with(alice(), 0, 10, false));
	h = open_session(slot, true);
	ck_assert_uint_eq(mock_so_tries_left(tok), 10);
	ck_assert_uint_eq(token_flags(slot) & SO_PINS, CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED);
	ck_assert_int_eq(f->C_Login(h, CKU_SO, PIN(MOCK_SO_PIN)), CKR_PIN_LOCKED);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_SO), 0);
	/* The user PIN is another counter. */
	login_user(h);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, 0);
}
END_TEST

/* The PUK locked while the SO is logged in (wrong old PUKs to C_SetPIN): C_InitPIN no longer reaches the card. */
START_TEST(locked_puk_refuses_init_pin)
{
	CK_SESSION_HANDLE h;

	replace_token(card_with(alice(), 0, 10, false));
	h = open_session(slot, true);
	ck_assert_int_eq(f->C_Login(h, CKU_SO, PIN(MOCK_SO_PIN)), CKR_OK);
	for (unsigned i = 1; i <= 5; i++) {
		char old_pin[16];

		snprintf(old_pin, sizeof(old_pin), "%08u", 20000000u + i);
		ck_assert_int_eq(f->C_SetPIN(h, PIN(old_pin), PIN("87654321")), CKR_PIN_INCORRECT);
	}
	ck_assert_uint_eq(token_flags(slot) & SO_PINS, CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_LOCKED);
	ck_assert_uint_eq(mock_so_tries_left(tok), 5);
	ck_assert_int_eq(f->C_SetPIN(h, PIN(MOCK_SO_PIN), PIN("87654321")), CKR_PIN_LOCKED);
	ck_assert_int_eq(f->C_InitPIN(h, PIN("4321")), CKR_PIN_LOCKED);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_SO), 6);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, 0);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);
	/* The card's user PIN is the one it had. */
	login_user(h);
}
END_TEST

/* C_InitPIN by the SO on a card that allows 10 tries: both counters start again, and the new PIN must be changed. */
START_TEST(init_pin_resets_the_counters_and_must_be_changed)
{
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key;

	replace_token(card_with(alice(), 10, 0, false));
	h = open_session(slot, true);
	lock_user_pin(h);
	ck_assert_uint_eq(mock_user_tries_left(tok), 7);
	ck_assert_int_eq(f->C_Login(h, CKU_SO, PIN(MOCK_SO_PIN)), CKR_OK);
	ck_assert_int_eq(f->C_InitPIN(h, PIN("4321")), CKR_OK);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_uint_eq(mock_user_tries_left(tok), 10);
	ck_assert_int_eq(f->C_Logout(h), CKR_OK);

	ck_assert_int_eq(f->C_Login(h, CKU_USER, PIN("4321")), CKR_OK);
	key = find_one(h, CKO_PRIVATE_KEY, MOCK_EC_ID);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_PIN_EXPIRED);
	ck_assert_int_eq(f->C_SetPIN(h, PIN("4321"), PIN("4321")), CKR_PIN_INVALID);
	ck_assert_int_eq(f->C_SetPIN(h, PIN("4321"), PIN("24681357")), CKR_OK);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, 0);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
}
END_TEST

/* A card whose PIN is still the factory default: login works, the keys wait for a new PIN. */
START_TEST(factory_pin_must_be_changed)
{
	CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0 };
	CK_MECHANISM m = { CKM_ECDSA_SHA256, NULL, 0 }, oaep_mech = { CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep) };
	CK_SESSION_HANDLE h;
	CK_OBJECT_HANDLE key, rsa;

	replace_token(card_with(alice(), 0, 0, true));
	h = open_session(slot, true);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_TO_BE_CHANGED);
	login_user(h);
	key = find_one(h, CKO_PRIVATE_KEY, MOCK_EC_ID);
	rsa = find_one(h, CKO_PRIVATE_KEY, MOCK_RSA_ID);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_PIN_EXPIRED);
	ck_assert_int_eq(f->C_DecryptInit(h, &oaep_mech, rsa), CKR_PIN_EXPIRED);
	ck_assert_int_eq(f->C_SetPIN(h, PIN(MOCK_USER_PIN), PIN(MOCK_USER_PIN)), CKR_PIN_INVALID);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_USER), 1);
	ck_assert_int_eq(f->C_SetPIN(h, PIN(MOCK_USER_PIN), PIN("24681357")), CKR_OK);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, 0);
	ck_assert_int_eq(f->C_SignInit(h, &m, key), CKR_OK);
	ck_assert_int_eq(f->C_DecryptInit(h, &oaep_mech, rsa), CKR_OK);
}
END_TEST

/*
 * Another card in the slot brings its own counters: on generous cards
 * signet's counter of the old card does not follow into the new one, and
 * the PIN the old card refused is judged by the new one.
 */
START_TEST(new_card_brings_its_own_counters)
{
	CK_SESSION_HANDLE h;

	replace_token(card_with(alice(), 10, 0, false));
	h = open_session(slot, false);
	wrong_login(h, CKU_USER, 1);
	wrong_login(h, CKU_USER, 2);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(mock_swap(tok, card_with(bob(), 10, 0, false)), CKR_OK);
	h = open_session(slot, false);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, 0);
	wrong_login(h, CKU_USER, 2);
	ck_assert_uint_eq(mock_pins_judged(tok, CKU_USER), 3);
	ck_assert_uint_eq(mock_user_tries_left(tok), 9);
	ck_assert_uint_eq(token_flags(slot) & USER_PINS, CKF_USER_PIN_COUNT_LOW);
}
END_TEST

static void add_pin_policy_tests(Suite *s)
{
	TCase *pin = tcase_create("pin_policy");

	tcase_add_checked_fixture(pin, setup, teardown);
	tcase_add_test(pin, expired_pin_refuses_private_key_use);
	tcase_add_test(pin, locked_pin_is_never_sent);
	tcase_add_test(pin, same_wrong_pin_is_not_sent_twice);
	tcase_add_test(pin, generous_card_is_locked_by_signet_after_three);
	tcase_add_test(pin, strict_card_keeps_its_own_counter);
	tcase_add_test(pin, puk_is_locked_for_good_after_five);
	tcase_add_test(pin, locked_puk_refuses_init_pin);
	tcase_add_test(pin, init_pin_resets_the_counters_and_must_be_changed);
	tcase_add_test(pin, factory_pin_must_be_changed);
	tcase_add_test(pin, new_card_brings_its_own_counters);
	suite_add_tcase(s, pin);
}

static Suite *core_suite(void)
{
	Suite *s = suite_create("core");
	TCase *slots = tcase_create("slots");
	TCase *sessions = tcase_create("sessions");
	TCase *login = tcase_create("login");
	TCase *objects = tcase_create("objects");
	TCase *ops = tcase_create("operations");
	TCase *strategies = tcase_create("strategies");
	TCase *rules = tcase_create("operation_rules");
	TCase *locks = tcase_create("locking");

	tcase_add_checked_fixture(slots, setup, teardown);
	tcase_add_test(slots, slot_list_and_info);
	tcase_add_test(slots, two_tokens_two_slots);
	tcase_add_test(slots, token_info_is_the_tokens);
	tcase_add_test(slots, token_taken_out_and_put_back);
	tcase_add_test(slots, swap_invalidates_every_old_handle);
	tcase_add_test(slots, lost_login_goes_back_to_public);
	tcase_add_test(slots, token_taken_out_closes_its_sessions);
	tcase_add_test(slots, raw_mechanisms_and_composed_ones);
	tcase_add_test(slots, offered_mechanisms_change_what_is_composed);
	tcase_add_test(slots, mechanism_list_is_read_once);
	tcase_add_test(slots, functions_the_token_lacks);
	suite_add_tcase(s, slots);

	tcase_add_checked_fixture(sessions, setup, teardown);
	tcase_add_test(sessions, sessions_open_and_close);
	tcase_add_test(sessions, open_session_arguments);
	tcase_add_test(sessions, close_all_sessions_of_one_slot);
	tcase_add_test(sessions, so_session_rules);
	tcase_add_test(sessions, session_handles_are_not_reused);
	tcase_add_test(sessions, finalize_with_sessions_open);
	suite_add_tcase(s, sessions);

	tcase_add_checked_fixture(login, setup, teardown);
	tcase_add_test(login, login_changes_every_session_state);
	tcase_add_test(login, wrong_user_pins_count_down_and_lock);
	tcase_add_test(login, right_pin_resets_the_count);
	tcase_add_test(login, so_unblocks_the_user_pin);
	tcase_add_test(login, so_pin_locks_for_ever);
	tcase_add_test(login, set_pin_changes_the_pin_of_who_is_logged_in);
	tcase_add_test(login, closing_the_last_session_logs_out);
	tcase_add_test(login, login_arguments_never_reach_the_token);
	tcase_add_test(login, token_errors_leave_the_session_public);
	tcase_add_test(login, device_that_forgot_the_login_refuses_private_key_use);
	suite_add_tcase(s, login);

	tcase_add_checked_fixture(objects, setup, teardown);
	tcase_add_test(objects, private_objects_only_after_login);
	tcase_add_test(objects, find_by_template);
	tcase_add_test(objects, find_operation_states);
	tcase_add_test(objects, handles_are_stable_across_finds_and_sessions);
	tcase_add_test(objects, attribute_values_and_lengths);
	tcase_add_test(objects, attribute_sensitive_and_missing);
	tcase_add_test(objects, invalid_object_handles);
	tcase_add_test(objects, data_objects_create_and_destroy);
	tcase_add_test(objects, derive_translates_the_handle_in_the_parameter);
	tcase_add_test(objects, session_objects_die_with_their_session);
	tcase_add_test(objects, card_objects_cannot_be_destroyed);
	suite_add_tcase(s, objects);

	tcase_add_checked_fixture(ops, setup, teardown);
	tcase_add_loop_test(ops, composed_ecdsa_over_raw_ecdsa, 0, N_HASHES);
	tcase_add_loop_test(ops, composed_rsa_pkcs_over_token_rsa_pkcs, 0, N_HASHES);
	tcase_add_test(ops, composed_multi_part_sign);
	tcase_add_test(ops, raw_ecdsa_sign);
	tcase_add_test(ops, raw_rsa_sign);
	tcase_add_test(ops, native_ecdsa_sha256_is_left_to_the_token);
	tcase_add_loop_test(ops, length_query_and_short_buffer_keep_the_operation, 0, N_KINDS);
	tcase_add_loop_test(ops, token_error_ends_the_operation, 0, N_KINDS);
	tcase_add_loop_test(ops, argument_error_ends_the_operation, 0, N_KINDS);
	tcase_add_test(ops, token_error_in_a_multi_part_signature);
	tcase_add_test(ops, sign_init_refusals);
	tcase_add_test(ops, oaep_decrypt_over_raw_rsa);
	tcase_add_test(ops, raw_rsa_decrypt);
	suite_add_tcase(s, ops);
	tcase_add_checked_fixture(strategies, setup, teardown);
	tcase_add_test(strategies, composed_mechanisms_show_what_they_do);
	tcase_add_loop_test(strategies, rsa_signatures_composed_over_raw_rsa, 0,
			    (int)(sizeof(rsa_kinds) / sizeof(rsa_kinds[0])));
	tcase_add_test(strategies, verify_and_digest_on_the_host);
	tcase_add_loop_test(strategies, host_verifies_what_the_token_signed, 0, N_VERIFIABLE);
	tcase_add_test(strategies, host_verification_needs_a_public_key_that_may_verify);
	tcase_add_test(strategies, host_encrypts_token_decrypts);
	tcase_add_test(strategies, tampered_ciphertext_is_refused);
	tcase_add_test(strategies, pss_parameters_are_checked);
	tcase_add_test(strategies, digests_on_the_host);
	suite_add_tcase(s, strategies);

	tcase_add_checked_fixture(rules, setup, teardown);
	tcase_add_test(rules, composed_signature_keeps_its_mode);
	tcase_add_test(rules, host_operations_keep_their_mode);
	tcase_add_test(rules, null_arguments_come_before_the_operation_state);
	suite_add_tcase(s, rules);

	tcase_add_checked_fixture(locks, counting_setup, teardown);
	tcase_add_test(locks, sign_takes_the_module_lock_at_most_twice);
	suite_add_tcase(s, locks);
	add_pin_policy_tests(s);
	return s;
}

int main(void)
{
	static const struct tk_key keys[] = {
		{ &rsa_key, "RSA-2048" },
		{ &ec_key, "P-256" },
		{ &ec_key2, "P-256" },
	};

	return tk_run_suite_with_keys(core_suite, keys, sizeof(keys) / sizeof(keys[0]));
}
