/* p11_card MODULE STEP...: drives a PKCS#11 module through its C_* functions,
 * one step per argument, printing one line per step ("step: CKR_xxx [detail]")
 * so that integration tests compare exact outcomes. A failing step is
 * reported, not fatal. Signatures, decryptions and derived secrets are
 * checked on the host against the public key in the token's certificate of
 * the same CKA_ID, or where there is none, its public key object's
 * CKA_PUBLIC_KEY_INFO.
 *
 * Steps:
 *   init / finalize        C_Initialize(NULL) / C_Finalize
 *   slots / allslots       C_GetSlotList(TRUE / FALSE): the count; selects the first slot
 *   slot:N                 select the Nth slot of the last list
 *   slotinfo               present or absent
 *   token                  label|serial of the selected slot's token
 *   flags                  the PIN flags of the token ("-" for none)
 *   open / open-ro / close C_OpenSession (read-write / read-only), C_CloseSession
 *   sessinfo               the session state
 *   login:user|so|ctx:PIN  C_Login; logout
 *   initpin:PIN            C_InitPIN
 *   setpin:OLD:NEW         C_SetPIN
 *   find:KIND[:ID]         KIND cert, pub, priv, secret or any, or attest / attestca (certificates of
 *                          CKA_CERTIFICATE_CATEGORY 3 / 2); the count; the first becomes "the object"
 *   attr:NAME              an attribute of the object: label, id, always_auth, sign, decrypt,
 *                          derive, private, local, never_extractable, key_type, value_len, value,
 *                          ec_params, ec_point, modulus_bits, verify, allowed (mechanism names)
 *   keep / use             remember the object / make it the object again
 *   getattr                C_GetAttributeValue(CKA_CLASS) on the object: just the result
 *   ctxpin:PIN             the PIN a sign or decrypt of a CKA_ALWAYS_AUTHENTICATE key logs in with
 *   sign:ID:MECH           C_SignInit, the context login if needed, C_Sign, verified
 *   signinit:ID:MECH / signonly  the two halves of sign
 *   signlen:ID:MECH        C_SignInit, then a length query, then C_Sign into a buffer one byte short,
 *                          then C_Sign: the operation survives both
 *   multi:ID:MECH          C_SignInit, three C_SignUpdate, C_SignFinal, verified
 *   verify:ID:MECH         sign, then C_Verify with the public key object of ID: the signature, then
 *                          the signature with one bit changed, which must be refused
 *   xderive:ID:HEX         ECDH1 with the peer's public key HEX as it is given; the secret in hex
 *   decrypt:ID:MECH        the host encrypts with the certificate's key; C_Decrypt must give it back
 *   derive:ID              ECDH1 with a host key; the secret must be the host's
 *   mechs                  the mechanism list, space-separated names of those this driver knows
 *   counter:FILE           the simulator's APDU counter file (default $SIGNET_CARDSIM_STATE.count)
 *   mark / apdus           start counting APDUs / print how many since and start again
 *   event / event-nb       C_WaitForSlotEvent (blocking / CKF_DONT_BLOCK)
 *   bgfinalize:MS          C_Finalize from another thread MS milliseconds from now; join waits for it
 *   poll:MS                what a browser does while idle, for MS milliseconds: C_GetSlotList,
 *                          C_GetSlotInfo, C_GetTokenInfo and C_GetSessionInfo every 10 ms
 *   touch:FILE / wait:FILE / sleep:MS
 *   gen:TYPE[:ID[:OPTS]]   C_GenerateKeyPair on the token: TYPE rsa2048, rsa3072, rsa4096, p256, p384,
 *                          ed25519, x25519; ID in hex or "-" (none); OPTS replace, pin=N, touch=N
 *                          (comma-separated, signet's vendor attributes); prints the new key's CKA_ID,
 *                          and the private key becomes the object
 *   writecert:FILE[:ID]    C_CreateObject of the certificate in FILE (PEM or DER); prints its CKA_ID
 *   importkey:FILE[:ID[:OPTS]]  C_CreateObject of the private key in FILE (PEM or DER); as gen
 *   destroy                C_DestroyObject of the object
 *   pubkey:ID:FILE         the CKA_PUBLIC_KEY_INFO (DER) of the public key with that CKA_ID, into FILE
 *   tries                  C_SignetGetPinTries of the selected slot: "user LEFT/MAX so LEFT/MAX" and the
 *                          abilities (reset, set-retries) or "-"
 *   retries:PIN:PUK        C_SignetSetRetries on the session (signet's vendor interface)
 * Signatures of keys without a certificate are checked against their public-key object.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "crypto/digest.h"
#include "crypto/privkey.h"
#include "crypto/rsa_pad.h"
#include "crypto/verify.h"
#include "crypto/x509.h"
#include "pkcs11/cryptoki.h"
#include "pkcs11/signet_vendor.h"

#define DATA "signet card test data: the quick brown fox"

static struct {
	CK_FUNCTION_LIST_PTR f;
	SIGNET_FUNCTION_LIST *vendor; /* NULL when the module has no "Vendor signet" interface */
	CK_SLOT_ID slots[64];
	CK_ULONG nslots;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE session;
	CK_OBJECT_HANDLE object, kept_object;
	char ctx_pin[16];
	char counter[4096];
	long mark;
} d;

static const char *rv_text(CK_RV rv)
{
	static char other[32];
	static const struct { CK_RV rv; const char *name; } names[] = {
#define N(x) { x, #x }
		N(CKR_OK), N(CKR_HOST_MEMORY), N(CKR_SLOT_ID_INVALID), N(CKR_GENERAL_ERROR), N(CKR_FUNCTION_FAILED),
		N(CKR_ARGUMENTS_BAD), N(CKR_NO_EVENT), N(CKR_ATTRIBUTE_SENSITIVE), N(CKR_ATTRIBUTE_TYPE_INVALID),
		N(CKR_DATA_INVALID), N(CKR_DATA_LEN_RANGE), N(CKR_DEVICE_ERROR), N(CKR_DEVICE_MEMORY),
		N(CKR_DEVICE_REMOVED), N(CKR_ENCRYPTED_DATA_INVALID), N(CKR_ENCRYPTED_DATA_LEN_RANGE),
		N(CKR_FUNCTION_CANCELED), N(CKR_FUNCTION_NOT_SUPPORTED), N(CKR_KEY_HANDLE_INVALID),
		N(CKR_KEY_TYPE_INCONSISTENT), N(CKR_KEY_FUNCTION_NOT_PERMITTED), N(CKR_MECHANISM_INVALID),
		N(CKR_MECHANISM_PARAM_INVALID), N(CKR_OBJECT_HANDLE_INVALID), N(CKR_OPERATION_ACTIVE),
		N(CKR_OPERATION_NOT_INITIALIZED), N(CKR_PIN_INCORRECT), N(CKR_PIN_INVALID), N(CKR_PIN_LEN_RANGE),
		N(CKR_PIN_EXPIRED), N(CKR_PIN_LOCKED), N(CKR_SESSION_CLOSED), N(CKR_SESSION_HANDLE_INVALID),
		N(CKR_SESSION_READ_ONLY), N(CKR_TEMPLATE_INCONSISTENT), N(CKR_TOKEN_NOT_PRESENT),
		N(CKR_TOKEN_NOT_RECOGNIZED), N(CKR_USER_ALREADY_LOGGED_IN), N(CKR_USER_NOT_LOGGED_IN),
		N(CKR_USER_PIN_NOT_INITIALIZED), N(CKR_USER_TYPE_INVALID), N(CKR_USER_ANOTHER_ALREADY_LOGGED_IN),
		N(CKR_BUFFER_TOO_SMALL), N(CKR_CRYPTOKI_NOT_INITIALIZED), N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
		N(CKR_ACTION_PROHIBITED), N(CKR_FUNCTION_REJECTED), N(CKR_ATTRIBUTE_READ_ONLY),
		N(CKR_SESSION_READ_WRITE_SO_EXISTS), N(CKR_USER_TOO_MANY_TYPES), N(CKR_TEMPLATE_INCOMPLETE),
		N(CKR_CURVE_NOT_SUPPORTED), N(CKR_KEY_SIZE_RANGE), N(CKR_ATTRIBUTE_VALUE_INVALID),
#undef N
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(other, sizeof(other), "0x%lx", (unsigned long)rv);
	return other;
}

static void say(const char *step, CK_RV rv, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(const char *step, CK_RV rv, const char *fmt, ...)
{
	va_list ap;

	printf("%s: %s", step, rv_text(rv));
	if (fmt != NULL && rv == CKR_OK) {
		putchar(' ');
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	putchar('\n');
	fflush(stdout);
}

/* ---- mechanisms ---- */

struct mech {
	const char *name;
	CK_MECHANISM_TYPE type;
	enum cr_hash hash;      /* what the host hashes with */
	bool host_hashes;       /* the caller passes a hash (or DigestInfo), not the data */
};

static const struct mech mechs[] = {
	{ "ECDSA", CKM_ECDSA, CR_HASH_SHA256, true },
	{ "ECDSA-SHA1", CKM_ECDSA_SHA1, CR_HASH_SHA1, false },
	{ "ECDSA-SHA224", CKM_ECDSA_SHA224, CR_HASH_SHA224, false },
	{ "ECDSA-SHA256", CKM_ECDSA_SHA256, CR_HASH_SHA256, false },
	{ "ECDSA-SHA384", CKM_ECDSA_SHA384, CR_HASH_SHA384, false },
	{ "ECDSA-SHA512", CKM_ECDSA_SHA512, CR_HASH_SHA512, false },
	{ "RSA-X-509", CKM_RSA_X_509, CR_HASH_SHA256, true },
	{ "RSA-PKCS", CKM_RSA_PKCS, CR_HASH_SHA256, true },
	{ "SHA1-RSA-PKCS", CKM_SHA1_RSA_PKCS, CR_HASH_SHA1, false },
	{ "SHA224-RSA-PKCS", CKM_SHA224_RSA_PKCS, CR_HASH_SHA224, false },
	{ "SHA256-RSA-PKCS", CKM_SHA256_RSA_PKCS, CR_HASH_SHA256, false },
	{ "SHA384-RSA-PKCS", CKM_SHA384_RSA_PKCS, CR_HASH_SHA384, false },
	{ "SHA512-RSA-PKCS", CKM_SHA512_RSA_PKCS, CR_HASH_SHA512, false },
	{ "RSA-PKCS-PSS", CKM_RSA_PKCS_PSS, CR_HASH_SHA256, true },
	{ "SHA1-RSA-PKCS-PSS", CKM_SHA1_RSA_PKCS_PSS, CR_HASH_SHA1, false },
	{ "SHA224-RSA-PKCS-PSS", CKM_SHA224_RSA_PKCS_PSS, CR_HASH_SHA224, false },
	{ "SHA256-RSA-PKCS-PSS", CKM_SHA256_RSA_PKCS_PSS, CR_HASH_SHA256, false },
	{ "SHA384-RSA-PKCS-PSS", CKM_SHA384_RSA_PKCS_PSS, CR_HASH_SHA384, false },
	{ "SHA512-RSA-PKCS-PSS", CKM_SHA512_RSA_PKCS_PSS, CR_HASH_SHA512, false },
	{ "RSA-PKCS-OAEP", CKM_RSA_PKCS_OAEP, CR_HASH_SHA256, false },
	{ "ECDH1-DERIVE", CKM_ECDH1_DERIVE, CR_HASH_SHA256, false },
	{ "EDDSA", CKM_EDDSA, CR_HASH_SHA256, false },
	{ "EDDSA-PH", CKM_EDDSA, CR_HASH_SHA256, false }, /* with CK_EDDSA_PARAMS asking for Ed25519ph */
	{ "EC-EDWARDS-KEY-PAIR-GEN", CKM_EC_EDWARDS_KEY_PAIR_GEN, CR_HASH_SHA256, false },
	{ "EC-MONTGOMERY-KEY-PAIR-GEN", CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CR_HASH_SHA256, false },
};

static const struct mech *mech_named(const char *name)
{
	for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++)
		if (strcmp(mechs[i].name, name) == 0)
			return &mechs[i];
	return NULL;
}

static bool is_pss(CK_MECHANISM_TYPE m)
{
	return m == CKM_RSA_PKCS_PSS || m == CKM_SHA1_RSA_PKCS_PSS || m == CKM_SHA224_RSA_PKCS_PSS ||
	       m == CKM_SHA256_RSA_PKCS_PSS || m == CKM_SHA384_RSA_PKCS_PSS || m == CKM_SHA512_RSA_PKCS_PSS;
}

static CK_MECHANISM_TYPE ck_hash(enum cr_hash h)
{
	switch (h) {
	case CR_HASH_SHA1: return CKM_SHA_1;
	case CR_HASH_SHA224: return CKM_SHA224;
	case CR_HASH_SHA384: return CKM_SHA384;
	case CR_HASH_SHA512: return CKM_SHA512;
	default: return CKM_SHA256;
	}
}

static CK_RSA_PKCS_MGF_TYPE ck_mgf(enum cr_hash h)
{
	switch (h) {
	case CR_HASH_SHA1: return CKG_MGF1_SHA1;
	case CR_HASH_SHA224: return CKG_MGF1_SHA224;
	case CR_HASH_SHA384: return CKG_MGF1_SHA384;
	case CR_HASH_SHA512: return CKG_MGF1_SHA512;
	default: return CKG_MGF1_SHA256;
	}
}

/* ---- objects ---- */

/* category: a CKA_CERTIFICATE_CATEGORY to ask for as well, or 0. */
static CK_RV find_category(CK_OBJECT_CLASS cls, bool any, int id, CK_ULONG category, CK_OBJECT_HANDLE *out,
			   CK_ULONG max, CK_ULONG *n)
{
	CK_BYTE idb = (CK_BYTE)id;
	CK_ATTRIBUTE t[3] = { { CKA_CLASS, &cls, sizeof(cls) }, { CKA_ID, &idb, 1 } };
	CK_ULONG count = 0;
	CK_RV rv;

	if (any) {
		t[0] = t[1];
		count = id >= 0 ? 1 : 0;
	} else {
		count = id >= 0 ? 2 : 1;
	}
	if (category != 0)
		t[count++] = (CK_ATTRIBUTE){ CKA_CERTIFICATE_CATEGORY, &category, sizeof(category) };
	rv = d.f->C_FindObjectsInit(d.session, t, count);
	if (rv != CKR_OK)
		return rv;
	rv = d.f->C_FindObjects(d.session, out, max, n);
	d.f->C_FindObjectsFinal(d.session);
	return rv;
}

static CK_RV find(CK_OBJECT_CLASS cls, bool any, int id, CK_OBJECT_HANDLE *out, CK_ULONG max, CK_ULONG *n)
{
	return find_category(cls, any, id, 0, out, max, n);
}

static CK_RV find_one(CK_OBJECT_CLASS cls, int id, CK_OBJECT_HANDLE *h)
{
	CK_ULONG n = 0;
	CK_RV rv = find(cls, false, id, h, 1, &n);

	return rv == CKR_OK && n == 0 ? CKR_OBJECT_HANDLE_INVALID : rv;
}

/* A heap copy of one attribute of h (NULL and CKR_OK when it has none). */
static CK_RV get_bytes(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, uint8_t **out, size_t *len)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_RV rv = d.f->C_GetAttributeValue(d.session, h, &a, 1);

	*out = NULL;
	*len = 0;
	if (rv != CKR_OK)
		return rv;
	a.pValue = malloc(a.ulValueLen + 1);
	rv = d.f->C_GetAttributeValue(d.session, h, &a, 1);
	if (rv != CKR_OK) {
		free(a.pValue);
		return rv;
	}
	*out = a.pValue;
	*len = a.ulValueLen;
	return CKR_OK;
}

/* The DER SubjectPublicKeyInfo of the certificate with this CKA_ID, else of the public key with it. */
static CK_RV cert_spki(int id, uint8_t **spki, size_t *len)
{
	CK_OBJECT_HANDLE h;
	uint8_t *der = NULL;
	size_t der_len = 0;
	struct cr_cert c;
	CK_RV rv = find_one(CKO_CERTIFICATE, id, &h);

	if (rv == CKR_OBJECT_HANDLE_INVALID && find_one(CKO_PUBLIC_KEY, id, &h) == CKR_OK)
		return get_bytes(h, CKA_PUBLIC_KEY_INFO, spki, len);
	if (rv == CKR_OK)
		rv = get_bytes(h, CKA_VALUE, &der, &der_len);
	if (rv == CKR_OK && cr_cert_parse(der, der_len, &c) != 0)
		rv = CKR_GENERAL_ERROR;
	free(der);
	if (rv != CKR_OK)
		return rv;
	*spki = malloc(c.key.spki.len);
	memcpy(*spki, c.key.spki.data, c.key.spki.len);
	*len = c.key.spki.len;
	cr_cert_clear(&c);
	return CKR_OK;
}

static size_t modulus_bytes(const uint8_t *spki, size_t len)
{
	struct cr_pubkey pk;
	size_t k;

	if (cr_spki_parse(spki, len, &pk) != 0)
		return 0;
	k = pk.type == CR_KEY_RSA ? pk.modulus.len : 0;
	cr_pubkey_clear(&pk);
	return k;
}

/* ---- signing ---- */

struct sign_job {
	const struct mech *m;
	uint8_t in[600];
	size_t in_len;
	CK_RSA_PKCS_PSS_PARAMS pss;
	CK_EDDSA_PARAMS eddsa;
	CK_MECHANISM ck;
	uint8_t *spki;
	size_t spki_len;
	uint8_t hash[64];
	size_t hash_len;
};

static void hash_data(struct sign_job *j)
{
	j->hash_len = sizeof(j->hash);
	cr_hash_once(j->m->hash, (const uint8_t *)DATA, strlen(DATA), j->hash, &j->hash_len);
}

/* What the caller hands to C_Sign for this mechanism. */
static CK_RV prepare_sign(struct sign_job *j, int id, const char *mech)
{
	size_t k;

	j->m = mech_named(mech);
	if (j->m == NULL)
		return CKR_MECHANISM_INVALID;
	if (cert_spki(id, &j->spki, &j->spki_len) != CKR_OK)
		return CKR_GENERAL_ERROR;
	hash_data(j);
	j->ck = (CK_MECHANISM){ j->m->type, NULL, 0 };
	if (is_pss(j->m->type)) {
		j->pss = (CK_RSA_PKCS_PSS_PARAMS){ ck_hash(j->m->hash), ck_mgf(j->m->hash), j->hash_len };
		j->ck.pParameter = &j->pss;
		j->ck.ulParameterLen = sizeof(j->pss);
	}
	if (strcmp(j->m->name, "EDDSA-PH") == 0) {
		j->eddsa = (CK_EDDSA_PARAMS){ CK_TRUE, 0, NULL };
		j->ck.pParameter = &j->eddsa;
		j->ck.ulParameterLen = sizeof(j->eddsa);
	}
	if (!j->m->host_hashes) {
		j->in_len = strlen(DATA);
		memcpy(j->in, DATA, j->in_len);
	} else if (j->m->type == CKM_RSA_X_509) {
		k = modulus_bytes(j->spki, j->spki_len);
		j->in_len = k;
		cr_rsa_pkcs1_sign_block(j->m->hash, j->hash, j->hash_len, j->in, k);
	} else if (j->m->type == CKM_RSA_PKCS) {
		j->in_len = sizeof(j->in);
		cr_rsa_digestinfo(j->m->hash, j->hash, j->hash_len, j->in, &j->in_len);
	} else {
		memcpy(j->in, j->hash, j->hash_len);
		j->in_len = j->hash_len;
	}
	return CKR_OK;
}

static bool verified(const struct sign_job *j, const uint8_t *sig, size_t sig_len)
{
	uint8_t di[CR_DIGESTINFO_MAX_SIZE];
	size_t di_len = sizeof(di);
	CK_MECHANISM_TYPE m = j->m->type;

	if (m == CKM_ECDSA || (m >= CKM_ECDSA_SHA1 && m <= CKM_ECDSA_SHA512))
		return cr_verify_ecdsa(j->spki, j->spki_len, j->hash, j->hash_len, sig, sig_len) == 0;
	if (m == CKM_EDDSA)
		return cr_verify_ed25519(j->spki, j->spki_len, j->in, j->in_len, sig, sig_len) == 0;
	if (is_pss(m))
		return cr_verify_rsa_pss(j->spki, j->spki_len, j->m->hash, j->m->hash, j->hash_len, j->hash,
					 j->hash_len, sig, sig_len) == 0;
	cr_rsa_digestinfo(j->m->hash, j->hash, j->hash_len, di, &di_len);
	return cr_verify_rsa_pkcs1(j->spki, j->spki_len, di, di_len, sig, sig_len) == 0;
}

static CK_RV context_login(CK_OBJECT_HANDLE key)
{
	CK_BBOOL always = CK_FALSE;
	CK_ATTRIBUTE a = { CKA_ALWAYS_AUTHENTICATE, &always, sizeof(always) };

	if (d.ctx_pin[0] == '\0' || d.f->C_GetAttributeValue(d.session, key, &a, 1) != CKR_OK || !always)
		return CKR_OK;
	return d.f->C_Login(d.session, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR)d.ctx_pin, strlen(d.ctx_pin));
}

static struct sign_job job;

static CK_RV sign_init(int id, const char *mech)
{
	CK_OBJECT_HANDLE key;
	CK_RV rv;

	free(job.spki);
	memset(&job, 0, sizeof(job));
	rv = prepare_sign(&job, id, mech);
	if (rv == CKR_OK)
		rv = find_one(CKO_PRIVATE_KEY, id, &key);
	if (rv == CKR_OK)
		rv = d.f->C_SignInit(d.session, &job.ck, key);
	if (rv == CKR_OK)
		rv = context_login(key);
	return rv;
}

static void sign_report(const char *step, CK_RV rv, const uint8_t *sig, CK_ULONG len)
{
	if (rv == CKR_OK && !verified(&job, sig, len))
		printf("%s: CKR_OK NOT VERIFIED\n", step);
	else
		say(step, rv, "verified");
}

static void step_sign_only(const char *step)
{
	uint8_t sig[1024];
	CK_ULONG len = sizeof(sig);
	CK_RV rv = d.f->C_Sign(d.session, job.in, job.in_len, sig, &len);

	sign_report(step, rv, sig, len);
}

static void step_sign(const char *step, int id, const char *mech)
{
	CK_RV rv = sign_init(id, mech);

	if (rv != CKR_OK) {
		say(step, rv, NULL);
		return;
	}
	step_sign_only(step);
}

/* A length query and a short buffer both keep the operation; then the signature. */
static void step_sign_len(const char *step, int id, const char *mech)
{
	uint8_t sig[1024];
	CK_ULONG want = 0, len;
	CK_RV rv = sign_init(id, mech);

	if (rv == CKR_OK)
		rv = d.f->C_Sign(d.session, job.in, job.in_len, NULL, &want);
	len = want - 1;
	if (rv == CKR_OK && d.f->C_Sign(d.session, job.in, job.in_len, sig, &len) != CKR_BUFFER_TOO_SMALL)
		rv = CKR_GENERAL_ERROR;
	len = sizeof(sig);
	if (rv == CKR_OK)
		rv = d.f->C_Sign(d.session, job.in, job.in_len, sig, &len);
	if (rv == CKR_OK && len != want)
		rv = CKR_GENERAL_ERROR;
	sign_report(step, rv, sig, len);
}

static void step_multi(const char *step, int id, const char *mech)
{
	uint8_t sig[1024];
	CK_ULONG len = sizeof(sig);
	size_t third = strlen(DATA) / 3;
	CK_RV rv = sign_init(id, mech);

	for (int i = 0; rv == CKR_OK && i < 3; i++)
		rv = d.f->C_SignUpdate(d.session, job.in + i * third, i < 2 ? third : job.in_len - 2 * third);
	if (rv == CKR_OK)
		rv = d.f->C_SignFinal(d.session, sig, &len);
	sign_report(step, rv, sig, len);
}

/* The host's verification through the module: the signature verifies, a changed one does not. */
static void step_verify(const char *step, int id, const char *mech)
{
	uint8_t sig[1024];
	CK_ULONG len = sizeof(sig);
	CK_OBJECT_HANDLE pub;
	CK_RV rv = sign_init(id, mech), forged = CKR_GENERAL_ERROR;

	if (rv == CKR_OK)
		rv = d.f->C_Sign(d.session, job.in, job.in_len, sig, &len);
	if (rv == CKR_OK)
		rv = find_one(CKO_PUBLIC_KEY, id, &pub);
	if (rv == CKR_OK)
		rv = d.f->C_VerifyInit(d.session, &job.ck, pub);
	if (rv == CKR_OK)
		rv = d.f->C_Verify(d.session, job.in, job.in_len, sig, len);
	if (rv == CKR_OK) {
		sig[len / 2] ^= 0x01;
		forged = d.f->C_VerifyInit(d.session, &job.ck, pub);
		if (forged == CKR_OK)
			forged = d.f->C_Verify(d.session, job.in, job.in_len, sig, len);
	}
	say(step, rv, "%s", forged == CKR_SIGNATURE_INVALID ? "forgery refused" : rv_text(forged));
}

/* ---- decryption and derivation ---- */

static EVP_PKEY *host_key(const uint8_t *spki, size_t len)
{
	const unsigned char *p = spki;

	return d2i_PUBKEY(NULL, &p, (long)len);
}

static bool host_encrypt(const struct mech *m, EVP_PKEY *k, const uint8_t *msg, size_t n, uint8_t *out,
			 size_t *out_len)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	bool ok = c != NULL && EVP_PKEY_encrypt_init(c) == 1;

	if (ok && m->type == CKM_RSA_PKCS_OAEP) {
		ok = EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_OAEP_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_oaep_md(c, EVP_sha256()) == 1 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(c, EVP_sha256()) == 1;
		if (ok) {
			unsigned char *label = OPENSSL_malloc(6);

			memcpy(label, "signet", 6);
			ok = EVP_PKEY_CTX_set0_rsa_oaep_label(c, label, 6) == 1;
		}
	} else if (ok) {
		ok = EVP_PKEY_CTX_set_rsa_padding(c, m->type == CKM_RSA_X_509 ? RSA_NO_PADDING : RSA_PKCS1_PADDING) == 1;
	}
	ok = ok && EVP_PKEY_encrypt(c, out, out_len, msg, n) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

static void step_decrypt(const char *step, int id, const char *mech)
{
	const struct mech *m = mech_named(mech);
	CK_RSA_PKCS_OAEP_PARAMS oaep = { CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, "signet", 6 };
	CK_MECHANISM ck = { m ? m->type : 0, NULL, 0 };
	uint8_t *spki = NULL, msg[512], ct[512], pt[512];
	size_t spki_len = 0, msg_len = 32, ct_len = sizeof(ct), k;
	CK_ULONG pt_len = sizeof(pt);
	CK_OBJECT_HANDLE key;
	EVP_PKEY *pub = NULL;
	CK_RV rv = m == NULL ? CKR_MECHANISM_INVALID : cert_spki(id, &spki, &spki_len);

	if (rv == CKR_OK) {
		k = modulus_bytes(spki, spki_len);
		for (size_t i = 0; i < sizeof(msg); i++)
			msg[i] = (uint8_t)(i * 7 + 3);
		if (m->type == CKM_RSA_X_509) {
			msg[0] = 0; /* below the modulus */
			msg_len = k;
		}
		pub = host_key(spki, spki_len);
		if (pub == NULL || !host_encrypt(m, pub, msg, msg_len, ct, &ct_len))
			rv = CKR_GENERAL_ERROR;
	}
	if (rv == CKR_OK && m->type == CKM_RSA_PKCS_OAEP) {
		ck.pParameter = &oaep;
		ck.ulParameterLen = sizeof(oaep);
	}
	if (rv == CKR_OK)
		rv = find_one(CKO_PRIVATE_KEY, id, &key);
	if (rv == CKR_OK)
		rv = d.f->C_DecryptInit(d.session, &ck, key);
	if (rv == CKR_OK)
		rv = context_login(key);
	if (rv == CKR_OK)
		rv = d.f->C_Decrypt(d.session, ct, ct_len, pt, &pt_len);
	if (rv == CKR_OK && (pt_len != msg_len || memcmp(pt, msg, msg_len) != 0))
		printf("%s: CKR_OK WRONG PLAINTEXT\n", step);
	else
		say(step, rv, "matches");
	EVP_PKEY_free(pub);
	free(spki);
}

/*
 * C_DeriveKey with CKM_ECDH1_DERIVE (no KDF) on the private key of ID and
 * the peer's public data as given: the secret, extractable, becomes the
 * object and its value is copied to secret (*len: capacity in, length out).
 */
static CK_RV derive_secret(int id, const uint8_t *peer, size_t peer_len, uint8_t *secret, CK_ULONG *len)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
	CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) }, { CKA_KEY_TYPE, &kt, sizeof(kt) }, { CKA_TOKEN, &no, 1 },
		{ CKA_SENSITIVE, &no, 1 }, { CKA_EXTRACTABLE, &yes, 1 },
	};
	CK_ECDH1_DERIVE_PARAMS p = { CKD_NULL, 0, NULL, (CK_ULONG)peer_len, (CK_BYTE_PTR)peer };
	CK_MECHANISM ck = { CKM_ECDH1_DERIVE, &p, sizeof(p) };
	CK_ATTRIBUTE value = { CKA_VALUE, secret, *len };
	CK_OBJECT_HANDLE key, derived;
	CK_RV rv = find_one(CKO_PRIVATE_KEY, id, &key);

	if (rv == CKR_OK)
		rv = d.f->C_DeriveKey(d.session, &ck, key, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &derived);
	if (rv == CKR_OK)
		rv = d.f->C_GetAttributeValue(d.session, derived, &value, 1);
	if (rv == CKR_OK) {
		d.object = derived;
		*len = value.ulValueLen;
	}
	return rv;
}

static void step_derive(const char *step, int id)
{
	uint8_t *spki = NULL, *point = NULL, secret[100], mine[100];
	size_t spki_len = 0, point_len = 0, mine_len = sizeof(mine);
	CK_ULONG len = sizeof(secret);
	EVP_PKEY *card = NULL, *host = NULL;
	EVP_PKEY_CTX *c = NULL;
	CK_RV rv = cert_spki(id, &spki, &spki_len);

	if (rv == CKR_OK && ((card = host_key(spki, spki_len)) == NULL ||
			     (host = EVP_PKEY_Q_keygen(NULL, NULL, "EC", EVP_PKEY_get_bits(card) == 384 ? "P-384"
														 : "P-256")) == NULL))
		rv = CKR_GENERAL_ERROR;
	if (rv == CKR_OK) {
		point_len = EVP_PKEY_get1_encoded_public_key(host, &point);
		c = EVP_PKEY_CTX_new(host, NULL);
		if (c == NULL || EVP_PKEY_derive_init(c) != 1 || EVP_PKEY_derive_set_peer(c, card) != 1 ||
		    EVP_PKEY_derive(c, mine, &mine_len) != 1)
			rv = CKR_GENERAL_ERROR;
	}
	if (rv == CKR_OK)
		rv = derive_secret(id, point, point_len, secret, &len);
	if (rv == CKR_OK && (len != mine_len || memcmp(secret, mine, mine_len) != 0))
		printf("%s: CKR_OK WRONG SECRET\n", step);
	else
		say(step, rv, "matches");
	OPENSSL_free(point);
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(card);
	EVP_PKEY_free(host);
	free(spki);
}

/* ECDH1 with the peer key given in hex, passed as it is; prints the secret for the caller to compare. */
static void step_xderive(const char *step, int id, const char *hex)
{
	uint8_t peer[200], secret[100];
	size_t n = 0;
	char text[2 * sizeof(secret) + 1] = "";
	CK_ULONG len = sizeof(secret);
	CK_RV rv;

	while (n < sizeof(peer) && sscanf(hex + 2 * n, "%2hhx", &peer[n]) == 1)
		n++;
	rv = derive_secret(id, peer, n, secret, &len);
	for (CK_ULONG i = 0; rv == CKR_OK && i < len; i++)
		snprintf(text + 2 * i, 3, "%02x", secret[i]);
	say(step, rv, "%s", text);
}

/* ---- description ---- */

static void trim(char *s, size_t n)
{
	s[n] = '\0';
	while (n > 0 && s[n - 1] == ' ')
		s[--n] = '\0';
}

static void step_token(const char *step, bool flags_only)
{
	static const struct { CK_FLAGS f; const char *name; } names[] = {
		{ CKF_USER_PIN_COUNT_LOW, "USER_PIN_COUNT_LOW" }, { CKF_USER_PIN_FINAL_TRY, "USER_PIN_FINAL_TRY" },
		{ CKF_USER_PIN_LOCKED, "USER_PIN_LOCKED" }, { CKF_USER_PIN_TO_BE_CHANGED, "USER_PIN_TO_BE_CHANGED" },
		{ CKF_SO_PIN_COUNT_LOW, "SO_PIN_COUNT_LOW" }, { CKF_SO_PIN_FINAL_TRY, "SO_PIN_FINAL_TRY" },
		{ CKF_SO_PIN_LOCKED, "SO_PIN_LOCKED" }, { CKF_SO_PIN_TO_BE_CHANGED, "SO_PIN_TO_BE_CHANGED" },
	};
	CK_TOKEN_INFO info;
	char label[33], serial[17], flags[256] = "";
	CK_RV rv = d.f->C_GetTokenInfo(d.slot, &info);

	if (rv != CKR_OK) {
		say(step, rv, NULL);
		return;
	}
	memcpy(label, info.label, 32);
	trim(label, 32);
	memcpy(serial, info.serialNumber, 16);
	trim(serial, 16);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (info.flags & names[i].f)
			snprintf(flags + strlen(flags), sizeof(flags) - strlen(flags), "%s%s", flags[0] ? " " : "",
				 names[i].name);
	if (flags_only)
		say(step, rv, "%s", flags[0] ? flags : "-");
	else
		say(step, rv, "%s|%s|%lu-%lu", label, serial, (unsigned long)info.ulMinPinLen,
		    (unsigned long)info.ulMaxPinLen);
}

/* The names this driver knows of the mechanisms in list, space-separated (the first name of each). */
static void mechanism_names(const CK_MECHANISM_TYPE *list, CK_ULONG n, char *text, size_t size)
{
	text[0] = '\0';
	for (CK_ULONG i = 0; i < n; i++)
		for (size_t j = 0; j < sizeof(mechs) / sizeof(mechs[0]); j++)
			if (mechs[j].type == list[i]) {
				snprintf(text + strlen(text), size - strlen(text), "%s%s", text[0] ? " " : "",
					 mechs[j].name);
				break;
			}
}

static void step_attr(const char *step, const char *name)
{
	static const struct { const char *name; CK_ATTRIBUTE_TYPE type; char kind; } attrs[] = {
		{ "label", CKA_LABEL, 's' }, { "id", CKA_ID, 'x' }, { "always_auth", CKA_ALWAYS_AUTHENTICATE, 'b' },
		{ "sign", CKA_SIGN, 'b' }, { "decrypt", CKA_DECRYPT, 'b' }, { "derive", CKA_DERIVE, 'b' },
		{ "private", CKA_PRIVATE, 'b' }, { "local", CKA_LOCAL, 'b' },
		{ "never_extractable", CKA_NEVER_EXTRACTABLE, 'b' }, { "key_type", CKA_KEY_TYPE, 'u' },
		{ "value_len", CKA_VALUE_LEN, 'u' }, { "value", CKA_VALUE, 'x' }, { "sensitive", CKA_SENSITIVE, 'b' },
		{ "ec_params", CKA_EC_PARAMS, 'x' }, { "ec_point", CKA_EC_POINT, 'x' },
		{ "modulus_bits", CKA_MODULUS_BITS, 'u' }, { "verify", CKA_VERIFY, 'b' },
		{ "allowed", CKA_ALLOWED_MECHANISMS, 'm' }, { "always_sensitive", CKA_ALWAYS_SENSITIVE, 'b' },
		{ "destroyable", CKA_DESTROYABLE, 'b' },
	};
	uint8_t buf[4096];
	CK_ATTRIBUTE a = { 0, buf, sizeof(buf) };
	char text[256] = "";
	CK_RV rv;
	size_t i;

	for (i = 0; i < sizeof(attrs) / sizeof(attrs[0]) && strcmp(attrs[i].name, name) != 0; i++)
		;
	if (i == sizeof(attrs) / sizeof(attrs[0])) {
		say(step, CKR_ARGUMENTS_BAD, NULL);
		return;
	}
	a.type = attrs[i].type;
	rv = d.f->C_GetAttributeValue(d.session, d.object, &a, 1);
	if (rv == CKR_OK) {
		if (attrs[i].kind == 's')
			snprintf(text, sizeof(text), "%.*s", (int)a.ulValueLen, (char *)buf);
		else if (attrs[i].kind == 'b')
			snprintf(text, sizeof(text), "%s", buf[0] ? "true" : "false");
		else if (attrs[i].kind == 'u')
			snprintf(text, sizeof(text), "%lu", (unsigned long)*(CK_ULONG *)(void *)buf);
		else if (attrs[i].kind == 'm')
			mechanism_names((const CK_MECHANISM_TYPE *)(void *)buf, a.ulValueLen / sizeof(CK_MECHANISM_TYPE),
					text, sizeof(text));
		else
			for (CK_ULONG j = 0; j < a.ulValueLen && j < 100; j++)
				snprintf(text + 2 * j, 3, "%02x", buf[j]);
	}
	say(step, rv, "%s", text);
}

/* ---- putting keys and certificates on the token ---- */

/* A file's bytes (PEM as it is: the parsers take both). */
static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = malloc(65536);

	*len = 0;
	if (f != NULL && data != NULL)
		*len = fread(data, 1, 65536, f);
	if (f != NULL)
		fclose(f);
	return data;
}

struct tmpl {
	CK_ATTRIBUTE a[24];
	CK_ULONG n;
	CK_BBOOL yes, no;
	CK_ULONG pin, touch;
	CK_BYTE id;
};

static void add(struct tmpl *t, CK_ATTRIBUTE_TYPE type, const void *v, size_t len)
{
	t->a[t->n++] = (CK_ATTRIBUTE){ type, (void *)v, (CK_ULONG)len };
}

/* ID ("-": none) and the vendor attributes of OPTS. */
static void add_request(struct tmpl *t, const char *id, const char *opts)
{
	t->yes = CK_TRUE;
	t->no = CK_FALSE;
	if (id != NULL && strcmp(id, "-") != 0) {
		t->id = (CK_BYTE)strtol(id, NULL, 16);
		add(t, CKA_ID, &t->id, 1);
	}
	if (opts == NULL)
		return;
	if (strstr(opts, "replace") != NULL)
		add(t, CKA_SIGNET_REPLACE, &t->yes, sizeof(t->yes));
	if (strstr(opts, "pin=") != NULL) {
		t->pin = strtoul(strstr(opts, "pin=") + 4, NULL, 10);
		add(t, CKA_SIGNET_PIN_POLICY, &t->pin, sizeof(t->pin));
	}
	if (strstr(opts, "touch=") != NULL) {
		t->touch = strtoul(strstr(opts, "touch=") + 6, NULL, 10);
		add(t, CKA_SIGNET_TOUCH_POLICY, &t->touch, sizeof(t->touch));
	}
}

/* The CKA_ID of the object, as hex. */
static void say_id(const char *step, CK_RV rv, CK_OBJECT_HANDLE h)
{
	CK_BYTE id[64];
	CK_ATTRIBUTE a = { CKA_ID, id, sizeof(id) };
	char text[130] = "";

	if (rv == CKR_OK)
		rv = d.f->C_GetAttributeValue(d.session, h, &a, 1);
	for (CK_ULONG i = 0; rv == CKR_OK && i < a.ulValueLen; i++)
		snprintf(text + 2 * i, 3, "%02x", id[i]);
	if (rv == CKR_OK)
		d.object = h;
	say(step, rv, "%s", text);
}

static void step_gen(const char *step, const char *type, const char *id, const char *opts)
{
	static const CK_BYTE p256[] = { 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 };
	static const CK_BYTE p384[] = { 0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22 };
	static const CK_BYTE ed25519[] = { 0x06, 0x03, 0x2B, 0x65, 0x70 };
	static const CK_BYTE x25519[] = { 0x06, 0x03, 0x2B, 0x65, 0x6E };
	CK_MECHANISM m = { CKM_EC_KEY_PAIR_GEN, NULL, 0 };
	struct tmpl pub = { .n = 0 }, priv = { .n = 0 };
	CK_ULONG bits = strncmp(type, "rsa", 3) == 0 ? strtoul(type + 3, NULL, 10) : 0;
	CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
	CK_RV rv;

	add_request(&priv, id, opts);
	add(&priv, CKA_TOKEN, &priv.yes, sizeof(priv.yes));
	add(&priv, CKA_SENSITIVE, &priv.yes, sizeof(priv.yes));
	add_request(&pub, id, NULL);
	if (bits != 0) {
		m.mechanism = CKM_RSA_PKCS_KEY_PAIR_GEN;
		add(&pub, CKA_MODULUS_BITS, &bits, sizeof(bits));
	} else if (strcmp(type, "p256") == 0) {
		add(&pub, CKA_EC_PARAMS, p256, sizeof(p256));
	} else if (strcmp(type, "p384") == 0) {
		add(&pub, CKA_EC_PARAMS, p384, sizeof(p384));
	} else if (strcmp(type, "ed25519") == 0) {
		m.mechanism = CKM_EC_EDWARDS_KEY_PAIR_GEN;
		add(&pub, CKA_EC_PARAMS, ed25519, sizeof(ed25519));
	} else {
		m.mechanism = CKM_EC_MONTGOMERY_KEY_PAIR_GEN;
		add(&pub, CKA_EC_PARAMS, x25519, sizeof(x25519));
	}
	rv = d.f->C_GenerateKeyPair(d.session, &m, pub.a, pub.n, priv.a, priv.n, &hpub, &hpriv);
	say_id(step, rv, hpriv);
}

static void step_write_cert(const char *step, const char *file, const char *id)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE type = CKC_X_509;
	struct tmpl t = { .n = 0 };
	size_t len = 0;
	uint8_t *data = read_file(file, &len);
	CK_OBJECT_HANDLE h = 0;
	CK_RV rv;
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	X509 *x = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int der_len = x != NULL ? i2d_X509(x, &der) : -1;

	add(&t, CKA_CLASS, &cls, sizeof(cls));
	add(&t, CKA_CERTIFICATE_TYPE, &type, sizeof(type));
	add(&t, CKA_VALUE, der_len > 0 ? der : data, der_len > 0 ? (size_t)der_len : len);
	add_request(&t, id, NULL);
	add(&t, CKA_TOKEN, &t.yes, sizeof(t.yes));
	rv = d.f->C_CreateObject(d.session, t.a, t.n, &h);
	say_id(step, rv, h);
	OPENSSL_free(der);
	X509_free(x);
	BIO_free(bio);
	free(data);
}

static void step_import_key(const char *step, const char *file, const char *id, const char *opts)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_KEY_TYPE type;
	struct tmpl t = { .n = 0 };
	struct cr_privkey k;
	size_t len = 0;
	uint8_t *data = read_file(file, &len);
	CK_OBJECT_HANDLE h = 0;
	CK_RV rv;

	if (cr_privkey_parse(data, len, &k) != 0) {
		free(data);
		say(step, CKR_GENERAL_ERROR, NULL);
		return;
	}
	type = k.type == CR_KEY_RSA ? CKK_RSA : k.type == CR_KEY_EC ? CKK_EC : CKK_EC_EDWARDS;
	add(&t, CKA_CLASS, &cls, sizeof(cls));
	add(&t, CKA_KEY_TYPE, &type, sizeof(type));
	add_request(&t, id, opts);
	add(&t, CKA_TOKEN, &t.yes, sizeof(t.yes));
	add(&t, CKA_SIGN, &t.yes, sizeof(t.yes));
	if (k.type == CR_KEY_RSA) {
		add(&t, CKA_MODULUS, k.pub.modulus.data, k.pub.modulus.len);
		add(&t, CKA_PUBLIC_EXPONENT, k.pub.exponent.data, k.pub.exponent.len);
		add(&t, CKA_PRIVATE_EXPONENT, k.d.data, k.d.len);
		add(&t, CKA_PRIME_1, k.p.data, k.p.len);
		add(&t, CKA_PRIME_2, k.q.data, k.q.len);
		add(&t, CKA_EXPONENT_1, k.dp.data, k.dp.len);
		add(&t, CKA_EXPONENT_2, k.dq.data, k.dq.len);
		add(&t, CKA_COEFFICIENT, k.qinv.data, k.qinv.len);
	} else {
		add(&t, CKA_EC_PARAMS, k.pub.ec_params.data, k.pub.ec_params.len);
		add(&t, CKA_VALUE, k.value.data, k.value.len);
	}
	rv = d.f->C_CreateObject(d.session, t.a, t.n, &h);
	say_id(step, rv, h);
	cr_privkey_clear(&k);
	free(data);
}

static void step_pubkey(const char *step, int id, const char *file)
{
	CK_OBJECT_HANDLE h;
	uint8_t *der = NULL;
	size_t len = 0;
	FILE *f = NULL;
	CK_RV rv = find_one(CKO_PUBLIC_KEY, id, &h);

	if (rv == CKR_OK)
		rv = get_bytes(h, CKA_PUBLIC_KEY_INFO, &der, &len);
	if (rv == CKR_OK && ((f = fopen(file, "wb")) == NULL || fwrite(der, 1, len, f) != len))
		rv = CKR_GENERAL_ERROR;
	if (f != NULL)
		fclose(f);
	free(der);
	say(step, rv, "%zu bytes", len);
}

static void step_mechs(const char *step)
{
	CK_MECHANISM_TYPE list[64];
	CK_ULONG n = 64;
	char text[1024] = "";
	CK_RV rv = d.f->C_GetMechanismList(d.slot, list, &n);

	if (rv == CKR_OK)
		mechanism_names(list, n, text, sizeof(text));
	say(step, rv, "%s", text);
}

/* ---- the rest ---- */

static long apdu_count(void)
{
	FILE *f = fopen(d.counter, "r");
	long n = 0; /* the simulator writes the file with its first APDU */

	if (f != NULL) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1000000;
		fclose(f);
	}
	return n;
}

static void wait_file(const char *path)
{
	for (int i = 0; i < 3000 && access(path, F_OK) != 0; i++)
		usleep(10000);
}

static CK_RV open_session(CK_FLAGS flags)
{
	return d.f->C_OpenSession(d.slot, flags, NULL, NULL, &d.session);
}

static CK_USER_TYPE user_of(const char *who)
{
	return strcmp(who, "so") == 0 ? CKU_SO : strcmp(who, "ctx") == 0 ? CKU_CONTEXT_SPECIFIC : CKU_USER;
}

static void step_slots(const char *step, CK_BBOOL present)
{
	CK_RV rv;

	d.nslots = 64;
	rv = d.f->C_GetSlotList(present, d.slots, &d.nslots);
	if (rv == CKR_OK && d.nslots > 0)
		d.slot = d.slots[0];
	say(step, rv, "%lu", (unsigned long)d.nslots);
}

static void step_event(const char *step, CK_FLAGS flags)
{
	CK_SLOT_ID id = 0;
	CK_RV rv = d.f->C_WaitForSlotEvent(flags, &id, NULL);

	say(step, rv, "slot=%lu", (unsigned long)id);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void step_poll(const char *step, int ms)
{
	long long end = now_ms() + ms;
	CK_SLOT_ID slots[64];
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;
	CK_SLOT_INFO sl;
	CK_RV rv = CKR_OK;
	CK_ULONG n;
	int rounds = 0;

	while (rv == CKR_OK && now_ms() < end) {
		n = 64;
		rv = d.f->C_GetSlotList(CK_TRUE, slots, &n);
		if (rv == CKR_OK)
			rv = d.f->C_GetSlotInfo(d.slot, &sl);
		if (rv == CKR_OK)
			rv = d.f->C_GetTokenInfo(d.slot, &ti);
		if (rv == CKR_OK && d.session != 0)
			rv = d.f->C_GetSessionInfo(d.session, &si);
		rounds++;
		usleep(10000);
	}
	say(step, rv, "%s", rounds > 10 ? "polled" : "too few rounds");
}

static void step_tries(const char *step)
{
	SIGNET_PIN_TRIES t;
	CK_RV rv = d.vendor != NULL ? d.vendor->C_SignetGetPinTries(d.slot, &t) : CKR_FUNCTION_NOT_SUPPORTED;

	if (rv != CKR_OK) {
		say(step, rv, NULL);
		return;
	}
	say(step, rv, "user %ld/%ld so %ld/%ld %s%s%s", (long)t.userLeft, (long)t.userMax, (long)t.soLeft,
	    (long)t.soMax, t.flags & SIGNET_TOKEN_CAN_RESET ? "reset" : "",
	    (t.flags & SIGNET_TOKEN_CAN_RESET) && (t.flags & SIGNET_TOKEN_CAN_SET_RETRIES) ? "," : "",
	    t.flags & SIGNET_TOKEN_CAN_SET_RETRIES ? "set-retries" : t.flags & SIGNET_TOKEN_CAN_RESET ? "" : "-");
}

static void step_retries(const char *step, const char *pin_tries, const char *puk_tries)
{
	CK_RV rv = CKR_FUNCTION_NOT_SUPPORTED;

	if (d.vendor != NULL)
		rv = d.vendor->C_SignetSetRetries(d.session, strtoul(pin_tries, NULL, 10), strtoul(puk_tries, NULL, 10));
	say(step, rv, NULL);
}

/* The vendor interface, where the module offers it. */
static void find_vendor(void *lib)
{
	CK_VERSION v = { SIGNET_VENDOR_VERSION_MAJOR, SIGNET_VENDOR_VERSION_MINOR };
	CK_RV (*get)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, CK_INTERFACE_PTR_PTR, CK_FLAGS);
	CK_INTERFACE_PTR iface = NULL;

	*(void **)&get = dlsym(lib, "C_GetInterface");
	if (get != NULL && get((CK_UTF8CHAR_PTR)SIGNET_VENDOR_INTERFACE, &v, &iface, 0) == CKR_OK && iface != NULL)
		d.vendor = iface->pFunctionList;
}

static pthread_t finalizer;
static bool finalizer_started;

static void *finalize_later(void *arg)
{
	usleep((useconds_t)(intptr_t)arg * 1000);
	d.f->C_Finalize(NULL);
	return NULL;
}

static void run_step(const char *step)
{
	char buf[1024], *a, *b, *c;
	CK_SESSION_INFO si;
	CK_SLOT_INFO sl;
	CK_ULONG n = 0;
	CK_RV rv;

	snprintf(buf, sizeof(buf), "%s", step);
	a = strchr(buf, ':');
	if (a != NULL)
		*a++ = '\0';
	b = a != NULL ? strchr(a, ':') : NULL;
	if (b != NULL)
		*b++ = '\0';
	c = b != NULL ? strchr(b, ':') : NULL;
	if (c != NULL)
		*c++ = '\0';

	if (strcmp(buf, "init") == 0) {
		say(buf, d.f->C_Initialize(NULL), NULL);
	} else if (strcmp(buf, "finalize") == 0) {
		say(buf, d.f->C_Finalize(NULL), NULL);
	} else if (strcmp(buf, "slots") == 0 || strcmp(buf, "allslots") == 0) {
		step_slots(buf, strcmp(buf, "slots") == 0);
	} else if (strcmp(buf, "slot") == 0 && a != NULL) {
		d.slot = d.slots[atoi(a) % 64];
		say(buf, CKR_OK, "%lu", (unsigned long)d.slot);
	} else if (strcmp(buf, "slotinfo") == 0) {
		rv = d.f->C_GetSlotInfo(d.slot, &sl);
		say(buf, rv, "%s", sl.flags & CKF_TOKEN_PRESENT ? "present" : "absent");
	} else if (strcmp(buf, "token") == 0 || strcmp(buf, "flags") == 0) {
		step_token(buf, strcmp(buf, "flags") == 0);
	} else if (strcmp(buf, "open") == 0 || strcmp(buf, "open-ro") == 0) {
		say(buf, open_session(CKF_SERIAL_SESSION | (strcmp(buf, "open") == 0 ? CKF_RW_SESSION : 0)), NULL);
	} else if (strcmp(buf, "close") == 0) {
		say(buf, d.f->C_CloseSession(d.session), NULL);
	} else if (strcmp(buf, "sessinfo") == 0) {
		rv = d.f->C_GetSessionInfo(d.session, &si);
		say(buf, rv, "%s", si.state == CKS_RW_SO_FUNCTIONS ? "so" : si.state == CKS_RW_USER_FUNCTIONS ||
				   si.state == CKS_RO_USER_FUNCTIONS ? "user" : "public");
	} else if (strcmp(buf, "login") == 0 && b != NULL) {
		say(buf, d.f->C_Login(d.session, user_of(a), (CK_UTF8CHAR_PTR)b, strlen(b)), NULL);
	} else if (strcmp(buf, "logout") == 0) {
		say(buf, d.f->C_Logout(d.session), NULL);
	} else if (strcmp(buf, "initpin") == 0 && a != NULL) {
		say(buf, d.f->C_InitPIN(d.session, (CK_UTF8CHAR_PTR)a, strlen(a)), NULL);
	} else if (strcmp(buf, "setpin") == 0 && b != NULL) {
		say(buf, d.f->C_SetPIN(d.session, (CK_UTF8CHAR_PTR)a, strlen(a), (CK_UTF8CHAR_PTR)b, strlen(b)), NULL);
	} else if (strcmp(buf, "find") == 0 && a != NULL) {
		CK_OBJECT_HANDLE found[64];
		CK_ULONG category = strcmp(a, "attest") == 0 ? 3 : strcmp(a, "attestca") == 0 ? 2 : 0;
		CK_OBJECT_CLASS cls = strcmp(a, "cert") == 0 || category != 0 ? CKO_CERTIFICATE
				      : strcmp(a, "pub") == 0 ? CKO_PUBLIC_KEY
				      : strcmp(a, "priv") == 0 ? CKO_PRIVATE_KEY : CKO_SECRET_KEY;

		rv = find_category(cls, strcmp(a, "any") == 0, b != NULL ? (int)strtol(b, NULL, 16) : -1, category,
				   found, 64, &n);
		if (rv == CKR_OK && n > 0)
			d.object = found[0];
		say(buf, rv, "%lu", (unsigned long)n);
	} else if (strcmp(buf, "attr") == 0 && a != NULL) {
		step_attr(buf, a);
	} else if (strcmp(buf, "gen") == 0 && a != NULL) {
		step_gen(buf, a, b, c);
	} else if (strcmp(buf, "writecert") == 0 && a != NULL) {
		step_write_cert(buf, a, b);
	} else if (strcmp(buf, "importkey") == 0 && a != NULL) {
		step_import_key(buf, a, b, c);
	} else if (strcmp(buf, "pubkey") == 0 && b != NULL) {
		step_pubkey(buf, (int)strtol(a, NULL, 16), b);
	} else if (strcmp(buf, "destroy") == 0) {
		say(buf, d.f->C_DestroyObject(d.session, d.object), NULL);
	} else if (strcmp(buf, "keep") == 0) {
		d.kept_object = d.object;
		say(buf, CKR_OK, NULL);
	} else if (strcmp(buf, "use") == 0) {
		d.object = d.kept_object;
		say(buf, CKR_OK, NULL);
	} else if (strcmp(buf, "getattr") == 0) {
		CK_OBJECT_CLASS cls;
		CK_ATTRIBUTE at = { CKA_CLASS, &cls, sizeof(cls) };

		say(buf, d.f->C_GetAttributeValue(d.session, d.object, &at, 1), NULL);
	} else if (strcmp(buf, "ctxpin") == 0 && a != NULL) {
		snprintf(d.ctx_pin, sizeof(d.ctx_pin), "%s", strcmp(a, "-") == 0 ? "" : a);
		say(buf, CKR_OK, NULL);
	} else if (strcmp(buf, "sign") == 0 && b != NULL) {
		step_sign(buf, (int)strtol(a, NULL, 16), b);
	} else if (strcmp(buf, "signinit") == 0 && b != NULL) {
		say(buf, sign_init((int)strtol(a, NULL, 16), b), NULL);
	} else if (strcmp(buf, "signonly") == 0) {
		step_sign_only(buf);
	} else if (strcmp(buf, "signlen") == 0 && b != NULL) {
		step_sign_len(buf, (int)strtol(a, NULL, 16), b);
	} else if (strcmp(buf, "multi") == 0 && b != NULL) {
		step_multi(buf, (int)strtol(a, NULL, 16), b);
	} else if (strcmp(buf, "verify") == 0 && b != NULL) {
		step_verify(buf, (int)strtol(a, NULL, 16), b);
	} else if (strcmp(buf, "xderive") == 0 && b != NULL) {
		step_xderive(buf, (int)strtol(a, NULL, 16), b);
	} else if (strcmp(buf, "decrypt") == 0 && b != NULL) {
		step_decrypt(buf, (int)strtol(a, NULL, 16), b);
	} else if (strcmp(buf, "derive") == 0 && a != NULL) {
		step_derive(buf, (int)strtol(a, NULL, 16));
	} else if (strcmp(buf, "tries") == 0) {
		step_tries(buf);
	} else if (strcmp(buf, "retries") == 0 && b != NULL) {
		step_retries(buf, a, b);
	} else if (strcmp(buf, "mechs") == 0) {
		step_mechs(buf);
	} else if (strcmp(buf, "counter") == 0 && a != NULL) {
		snprintf(d.counter, sizeof(d.counter), "%s", a);
		say(buf, CKR_OK, NULL);
	} else if (strcmp(buf, "mark") == 0) {
		d.mark = apdu_count();
		say(buf, CKR_OK, NULL);
	} else if (strcmp(buf, "apdus") == 0) {
		long now = apdu_count();

		say(buf, CKR_OK, "%ld", now - d.mark);
		d.mark = now;
	} else if (strcmp(buf, "event") == 0 || strcmp(buf, "event-nb") == 0) {
		step_event(buf, strcmp(buf, "event") == 0 ? 0 : CKF_DONT_BLOCK);
	} else if (strcmp(buf, "bgfinalize") == 0 && a != NULL) {
		finalizer_started = pthread_create(&finalizer, NULL, finalize_later, (void *)(intptr_t)atoi(a)) == 0;
		say(buf, finalizer_started ? CKR_OK : CKR_GENERAL_ERROR, NULL);
	} else if (strcmp(buf, "join") == 0) {
		if (finalizer_started)
			pthread_join(finalizer, NULL);
		finalizer_started = false;
		say(buf, CKR_OK, NULL);
	} else if (strcmp(buf, "poll") == 0 && a != NULL) {
		step_poll(buf, atoi(a));
	} else if (strcmp(buf, "touch") == 0 && a != NULL) {
		fclose(fopen(a, "w"));
		say(buf, CKR_OK, NULL);
	} else if (strcmp(buf, "wait") == 0 && a != NULL) {
		wait_file(a);
		say(buf, access(a, F_OK) == 0 ? CKR_OK : CKR_FUNCTION_CANCELED, NULL);
	} else if (strcmp(buf, "sleep") == 0 && a != NULL) {
		usleep((useconds_t)atoi(a) * 1000);
		say(buf, CKR_OK, NULL);
	} else {
		printf("%s: unknown step\n", step);
	}
}

int main(int argc, char **argv)
{
	CK_C_GetFunctionList get;
	const char *state = getenv("SIGNET_CARDSIM_STATE");
	void *lib;

	if (argc < 2) {
		fprintf(stderr, "usage: p11_card MODULE STEP...\n");
		return 2;
	}
	lib = dlopen(argv[1], RTLD_NOW);
	if (lib == NULL) {
		fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
		return 2;
	}
	*(void **)&get = dlsym(lib, "C_GetFunctionList");
	if (get == NULL || get(&d.f) != CKR_OK) {
		fprintf(stderr, "%s has no function list\n", argv[1]);
		return 2;
	}
	find_vendor(lib);
	snprintf(d.counter, sizeof(d.counter), "%s.count", state != NULL ? state : "");
	for (int i = 2; i < argc; i++)
		run_step(argv[i]);
	free(job.spki);
	return 0;
}
