/* Unit tests for the card token's parts that need no card: the PIN rules
 * on a card (pin_policy.c through card_pin.c, against a card played by the
 * test), the objects built from
 * an inventory (card_objects.c) and the on-disk cache (card_cache.c). The
 * card itself, through pcscd and the simulator, is the integration tests'. */
#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pkcs11/card.h"
#include "tests/check_util.h"
#include "tests/test_keys.h"

#define PIN_FLAGS_USER (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED)

static EVP_PKEY *rsa_key, *ec_key;
static struct config conf;
static char *dir;

static void setup(void)
{
	char path[4096];

	dir = tu_tempdir();
	config_defaults(&conf);
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(conf.state_dir, sizeof(conf.state_dir), "%s", path);
	snprintf(path, sizeof(path), "%s/cache", dir);
	snprintf(conf.cache_dir, sizeof(conf.cache_dir), "%s", path);
	conf.log_level = LL_ERROR;
	log_configure(LL_ERROR, "stderr");
}

static void teardown(void)
{
	free(dir);
}

/* ---- the PIN rules, against a card the test plays ---- */

struct fake_card {
	const char *pin;
	int left, max;
	int sent;
};

static struct fake_card card;

/* The card's answer, and what the driver's send does with it: the counter cache follows the card. */
static CK_RV fake_verify(const char *pin, int *tries)
{
	card.sent++;
	if (card.left == 0)
		return CKR_PIN_LOCKED;
	if (strcmp(pin, card.pin) == 0) {
		card.left = card.max;
		return CKR_OK;
	}
	*tries = --card.left;
	return CKR_PIN_INCORRECT;
}

struct attempt {
	struct token *t;
	enum pin_who who;
	const char *pin;
};

static CK_RV send_attempt(void *ctx)
{
	struct attempt *a = ctx;
	int tries = -1;
	CK_RV rv = fake_verify(a->pin, &tries);

	card_pin_settle(&a->t->pin, a->who, rv, tries);
	return rv;
}

static CK_RV try_pin(struct token *t, enum pin_who who, const char *pin)
{
	struct attempt a = { t, who, pin };
	CK_RV rv = card_pin_check_length(strlen(pin), "PIN");

	if (rv != CKR_OK)
		return rv;
	return pin_policy_login(t->pin.policy, who == PIN_SO ? CKU_SO : CKU_USER, (const CK_UTF8CHAR *)pin,
				strlen(pin), send_attempt, &a);
}

static CK_RV change_pin(struct token *t, const char *old_pin, const char *new_pin)
{
	struct attempt a = { t, PIN_USER, old_pin };

	return pin_policy_set_pin(t->pin.policy, PIN_USER, (const CK_UTF8CHAR *)old_pin, strlen(old_pin),
				  (const CK_UTF8CHAR *)new_pin, strlen(new_pin), send_attempt, &a);
}

static CK_FLAGS pin_flags(struct token *t)
{
	CK_TOKEN_INFO info;

	memset(&info, 0, sizeof(info));
	ck_assert_int_eq(card_pin_token_info(&t->pin, &conf, &info), CKR_OK);
	return info.flags;
}

/* A card token with serial 4711 whose user PIN counter reads (left, max). */
static struct token *open_card(int left, int max)
{
	static char reader[] = "test reader";
	struct token *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	t->conf = &conf;
	t->reader = reader;
	snprintf(t->serial_text, sizeof(t->serial_text), "4711");
	ck_assert_int_eq(card_pin_init(t), CKR_OK);
	card_pin_note(&t->pin, PIN_USER, left, max, 0);
	return t;
}

static struct token *new_card(int left, int max)
{
	card = (struct fake_card){ "123456", left, max, 0 };
	return open_card(left, max);
}

static void close_card(struct token *t)
{
	card_pin_free(&t->pin);
	free(t);
}

START_TEST(test_three_wrong_pins_lock)
{
	struct token *t = new_card(3, 3);

	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, 0);
	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, CKF_USER_PIN_COUNT_LOW);
	ck_assert_int_eq(try_pin(t, PIN_USER, "222222"), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(try_pin(t, PIN_USER, "333333"), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	/* Nothing more reaches the card, not even the right PIN. */
	ck_assert_int_eq(try_pin(t, PIN_USER, "123456"), CKR_PIN_LOCKED);
	ck_assert_int_eq(card.sent, 3);
	close_card(t);
}
END_TEST

START_TEST(test_right_pin_clears_flags)
{
	struct token *t = new_card(3, 3);

	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(try_pin(t, PIN_USER, "123456"), CKR_OK);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, 0);
	/* The PIN refused before may go to the card again after a success. */
	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(card.sent, 3);
	close_card(t);
}
END_TEST

START_TEST(test_same_wrong_pin_not_sent_twice)
{
	struct token *t = new_card(3, 3);

	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(card.sent, 1);
	ck_assert_int_eq(card.left, 2);
	/* Another wrong PIN is the user's new attempt: it goes. */
	ck_assert_int_eq(try_pin(t, PIN_USER, "222222"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(card.sent, 2);
	close_card(t);
}
END_TEST

START_TEST(test_pin_length_never_sent)
{
	struct token *t = new_card(3, 3);
	CK_ULONG min, max;

	ck_assert_int_eq(try_pin(t, PIN_USER, ""), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(try_pin(t, PIN_USER, "12345"), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(try_pin(t, PIN_USER, "123456789"), CKR_PIN_LEN_RANGE);
	ck_assert_int_eq(card.sent, 0);
	/* [policy] allows 4..8; the card carries 6..8, and says so. */
	card_pin_lengths(&conf, &min, &max);
	ck_assert_uint_eq(min, 6);
	ck_assert_uint_eq(max, 8);
	close_card(t);
}
END_TEST

START_TEST(test_card_with_more_tries_locked_by_policy)
{
	struct token *t = new_card(5, 5), *again;

	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(try_pin(t, PIN_USER, "222222"), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(try_pin(t, PIN_USER, "333333"), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	ck_assert_int_eq(try_pin(t, PIN_USER, "123456"), CKR_PIN_LOCKED);
	ck_assert_int_eq(card.sent, 3);
	ck_assert_int_eq(card.left, 2);
	close_card(t);
	/* Another process finds the same lock in state_dir. */
	again = open_card(2, 5);
	ck_assert_uint_eq(pin_flags(again) & CKF_USER_PIN_LOCKED, CKF_USER_PIN_LOCKED);
	ck_assert_int_eq(try_pin(again, PIN_USER, "123456"), CKR_PIN_LOCKED);
	ck_assert_int_eq(card.sent, 3);
	close_card(again);
}
END_TEST

START_TEST(test_card_with_fewer_tries_keeps_its_own)
{
	struct token *t = new_card(2, 2);

	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
	ck_assert_int_eq(try_pin(t, PIN_USER, "222222"), CKR_PIN_INCORRECT);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED);
	close_card(t);
}
END_TEST

START_TEST(test_default_pin_must_change)
{
	struct token *t = new_card(3, 3);

	card_pin_note(&t->pin, PIN_USER, -1, -1, 1);
	ck_assert_uint_eq(pin_flags(t) & CKF_USER_PIN_TO_BE_CHANGED, CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(try_pin(t, PIN_USER, "123456"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(t->pin.policy), CKR_PIN_EXPIRED);
	ck_assert_int_eq(change_pin(t, "123456", "123456"), CKR_PIN_INVALID);
	/* What the driver notes after a good CHANGE REFERENCE DATA. */
	card_pin_note(&t->pin, PIN_USER, -1, -1, 0);
	ck_assert_int_eq(change_pin(t, "123456", "654321"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(t->pin.policy), CKR_OK);
	ck_assert_uint_eq(pin_flags(t) & CKF_USER_PIN_TO_BE_CHANGED, 0);
	close_card(t);

	/* Without the policy switch the flag is not shown and keys work. */
	conf.require_pin_change = false;
	t = new_card(3, 3);
	card_pin_note(&t->pin, PIN_USER, -1, -1, 1);
	ck_assert_uint_eq(pin_flags(t) & CKF_USER_PIN_TO_BE_CHANGED, 0);
	ck_assert_int_eq(try_pin(t, PIN_USER, "123456"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(t->pin.policy), CKR_OK);
	close_card(t);
}
END_TEST

static CK_RV unblocked(void *ctx)
{
	struct token *t = ctx;

	card.left = card.max;
	card_pin_settle(&t->pin, PIN_USER, CKR_OK, -1);
	return CKR_OK;
}

START_TEST(test_unblock_sets_must_change)
{
	struct token *t = new_card(3, 3);

	for (int i = 0; i < 3; i++) {
		char pin[8];

		snprintf(pin, sizeof(pin), "11111%d", i);
		ck_assert_int_eq(try_pin(t, PIN_USER, pin), CKR_PIN_INCORRECT);
	}
	ck_assert_int_eq(pin_policy_init_pin(t->pin.policy, 6, unblocked, t), CKR_OK);
	ck_assert_uint_eq(pin_flags(t) & PIN_FLAGS_USER, CKF_USER_PIN_TO_BE_CHANGED);
	ck_assert_int_eq(try_pin(t, PIN_USER, "123456"), CKR_OK);
	ck_assert_int_eq(pin_policy_key_use(t->pin.policy), CKR_PIN_EXPIRED);
	close_card(t);
}
END_TEST

START_TEST(test_five_wrong_puks_lock_so)
{
	struct token *t = new_card(3, 3);

	card = (struct fake_card){ "12345678", 5, 5, 0 };
	card_pin_note(&t->pin, PIN_SO, 5, 5, -1);
	for (int i = 0; i < 5; i++) {
		char puk[9];

		snprintf(puk, sizeof(puk), "8765432%d", i);
		ck_assert_int_eq(try_pin(t, PIN_SO, puk), CKR_PIN_INCORRECT);
	}
	ck_assert_uint_eq(pin_flags(t) & CKF_SO_PIN_LOCKED, CKF_SO_PIN_LOCKED);
	ck_assert_int_eq(try_pin(t, PIN_SO, "12345678"), CKR_PIN_LOCKED);
	ck_assert_int_eq(card.sent, 5);
	close_card(t);
	/* For good, and another process knows it before asking the card anything. */
	t = open_card(3, 3);
	ck_assert(card_pin_so_locked(&t->pin));
	ck_assert_uint_eq(pin_flags(t) & CKF_SO_PIN_LOCKED, CKF_SO_PIN_LOCKED);
	ck_assert_int_eq(try_pin(t, PIN_SO, "12345678"), CKR_PIN_LOCKED);
	ck_assert_int_eq(card.sent, 5);
	close_card(t);
}
END_TEST

/* A different card seen while a PIN command is on its way reaches the policy only once it has judged. */
START_TEST(test_card_change_during_pin_command_waits)
{
	struct token *t = new_card(3, 3);

	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	t->pin.sending = true;
	card_pin_forget(&t->pin);
	ck_assert(t->pin.changed);
	ck_assert(!card_pin_known(&t->pin, PIN_USER));
	t->pin.sending = false;
	card_pin_deliver(&t->pin);
	ck_assert(!t->pin.changed);
	/* The new card's PIN refused by the old one is not held against it. */
	card_pin_note(&t->pin, PIN_USER, 3, 3, 0);
	card.left = 3;
	ck_assert_int_eq(try_pin(t, PIN_USER, "111111"), CKR_PIN_INCORRECT);
	ck_assert_int_eq(card.sent, 2);
	close_card(t);
}
END_TEST

/* ---- objects ---- */

static struct cr_bytes der_of_key(EVP_PKEY *k)
{
	struct cr_bytes b = { NULL, 0 };
	int n = i2d_PUBKEY(k, &b.data);

	ck_assert_int_gt(n, 0);
	b.len = (size_t)n;
	return b;
}

static struct cr_bytes der_of_cert(EVP_PKEY *k, const char *cn)
{
	struct cr_bytes b = { NULL, 0 };
	X509 *x = X509_new();
	X509_NAME *name = X509_get_subject_name(x);
	int n;

	ck_assert_ptr_nonnull(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509_set_pubkey(x, k);
	ck_assert_int_gt(X509_sign(x, k, EVP_sha256()), 0);
	n = i2d_X509(x, &b.data);
	ck_assert_int_gt(n, 0);
	b.len = (size_t)n;
	X509_free(x);
	return b;
}

static struct token *new_token(const char *serial)
{
	struct token *t = calloc(1, sizeof(*t));

	ck_assert_ptr_nonnull(t);
	t->conf = &conf;
	t->reader = strdup("test reader");
	t->login = NO_CARD_LOGIN;
	snprintf(t->serial_text, sizeof(t->serial_text), "%s", serial);
	ck_assert_int_eq(card_pin_init(t), CKR_OK);
	card_free_objects(t);
	return t;
}

static void free_token(struct token *t)
{
	card_free_objects(t);
	card_pin_free(&t->pin);
	free(t->reader);
	free(t);
}

static void put_key(struct token *t, uint8_t slot, EVP_PKEY *k, uint8_t alg, int pin_policy, int origin, bool cert)
{
	struct card_key *key = card_key_of_slot(t, slot);

	ck_assert_ptr_nonnull(key);
	key->has_key = true;
	key->alg = alg;
	key->pin_policy = pin_policy;
	key->touch_policy = PIV_TOUCH_POLICY_NEVER;
	key->origin = origin;
	key->cert_read = true;
	key->spki = der_of_key(k);
	if (cert)
		key->cert = der_of_cert(k, "unit test holder");
}

static struct card_obj *obj(struct token *t, CK_OBJECT_CLASS cls, uint8_t id)
{
	for (size_t i = 0; i < t->nobjs; i++) {
		CK_ULONG c = 0;
		const CK_ATTRIBUTE *a = attrs_find(&t->objs[i].attrs, CKA_ID);

		if (attrs_get_ulong(&t->objs[i].attrs, CKA_CLASS, &c) && c == cls && a != NULL && a->ulValueLen == 1 &&
		    *(CK_BYTE *)a->pValue == id)
			return &t->objs[i];
	}
	return NULL;
}

static bool flag(struct card_obj *o, CK_ATTRIBUTE_TYPE type)
{
	bool v = false;

	ck_assert_ptr_nonnull(o);
	ck_assert(attrs_get_bool(&o->attrs, type, &v));
	return v;
}

START_TEST(test_slot_ids)
{
	static const uint8_t slots[] = { 0x9A, 0x9C, 0x9D, 0x9E, 0x82, 0x86, 0x87, 0x90, 0x91, 0x95 };
	static const uint8_t ids[] = { 0x01, 0x02, 0x03, 0x04, 0x05, 0x09, 0x10, 0x19, 0x20, 0x24 };

	for (size_t i = 0; i < sizeof(slots); i++)
		ck_assert_uint_eq(card_slot_id(slots[i]), ids[i]);
	ck_assert_int_eq(card_key_index(0x9B), -1);
	ck_assert_int_eq(card_key_slot_at(card_key_index(0x95)), 0x95);
}
END_TEST

START_TEST(test_objects_of_inventory)
{
	struct token *t = new_token("1");
	CK_ULONG type = 0;

	put_key(t, 0x9A, ec_key, PIV_ALG_ECCP256, PIV_PIN_POLICY_ONCE, 1, true);
	put_key(t, 0x9C, rsa_key, PIV_ALG_RSA2048, -1, 2, true);
	put_key(t, 0x9D, rsa_key, PIV_ALG_RSA2048, PIV_PIN_POLICY_ONCE, 2, false);
	put_key(t, 0x82, ec_key, PIV_ALG_ECCP256, PIV_PIN_POLICY_ALWAYS, 1, false);
	ck_assert_int_eq(card_build_objects(t), CKR_OK);
	/* 9A, 9C: certificate, public and private key; 9D, 82: the keys only. */
	ck_assert_uint_eq(t->nobjs, 3 + 3 + 2 + 2);

	ck_assert(!flag(obj(t, CKO_CERTIFICATE, 1), CKA_PRIVATE));
	ck_assert(!flag(obj(t, CKO_PUBLIC_KEY, 1), CKA_PRIVATE));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 1), CKA_PRIVATE));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 1), CKA_SENSITIVE));
	ck_assert(!flag(obj(t, CKO_PRIVATE_KEY, 1), CKA_EXTRACTABLE));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 1), CKA_NEVER_EXTRACTABLE)); /* generated on the card */
	ck_assert(!flag(obj(t, CKO_PRIVATE_KEY, 2), CKA_NEVER_EXTRACTABLE)); /* imported */
	ck_assert(attrs_get_ulong(&obj(t, CKO_PRIVATE_KEY, 1)->attrs, CKA_KEY_TYPE, &type));
	ck_assert_uint_eq(type, CKK_EC);
	ck_assert_ptr_nonnull(attrs_find(&obj(t, CKO_PRIVATE_KEY, 1)->attrs, CKA_EC_PARAMS));
	ck_assert_ptr_nonnull(attrs_find(&obj(t, CKO_PRIVATE_KEY, 2)->attrs, CKA_MODULUS));

	/* CKA_ALWAYS_AUTHENTICATE from the real policy; 9C without one as PIV defaults it. */
	ck_assert(!flag(obj(t, CKO_PRIVATE_KEY, 1), CKA_ALWAYS_AUTHENTICATE));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 2), CKA_ALWAYS_AUTHENTICATE));
	ck_assert(!flag(obj(t, CKO_PRIVATE_KEY, 3), CKA_ALWAYS_AUTHENTICATE));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 5), CKA_ALWAYS_AUTHENTICATE));

	/* What each slot is for. */
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 1), CKA_SIGN));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 1), CKA_DERIVE));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 2), CKA_SIGN));
	ck_assert(!flag(obj(t, CKO_PRIVATE_KEY, 2), CKA_DECRYPT));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 3), CKA_DECRYPT));
	ck_assert(flag(obj(t, CKO_PUBLIC_KEY, 3), CKA_ENCRYPT));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 5), CKA_DERIVE));
	/* Key-management keys without a certificate also sign: the request for one is signed with them. */
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 3), CKA_SIGN));
	ck_assert(flag(obj(t, CKO_PRIVATE_KEY, 5), CKA_SIGN));
	ck_assert(!flag(obj(t, CKO_PRIVATE_KEY, 2), CKA_DERIVE));
	free_token(t);
}
END_TEST

START_TEST(test_malformed_certificate_left_out)
{
	struct token *t = new_token("1");
	struct card_key *k;

	put_key(t, 0x9A, ec_key, PIV_ALG_ECCP256, PIV_PIN_POLICY_ONCE, 1, true);
	k = card_key_of_slot(t, 0x9A);
	k->cert.len /= 2; /* a truncated certificate from a damaged object */
	ck_assert_int_eq(card_build_objects(t), CKR_OK);
	ck_assert_ptr_null(obj(t, CKO_CERTIFICATE, 1));
	ck_assert_ptr_nonnull(obj(t, CKO_PRIVATE_KEY, 1));
	free_token(t);
}
END_TEST

/* ---- the cache ---- */

static char *cache_file(const char *serial)
{
	char *p = malloc(4200);

	snprintf(p, 4200, "%s/card-%s.cache", conf.cache_dir, serial);
	return p;
}

START_TEST(test_cache_round_trip)
{
	struct token *t = new_token("123456"), *u = new_token("123456");
	struct card_key *a, *b;
	char *path = cache_file("123456"), *text;
	struct stat st;

	memcpy(t->version, (const uint8_t[]){ 5, 7, 2 }, 3);
	t->have_version = true;
	t->metadata = 1;
	put_key(t, 0x9A, ec_key, PIV_ALG_ECCP256, PIV_PIN_POLICY_ONCE, 1, true);
	put_key(t, 0x9C, rsa_key, PIV_ALG_RSA2048, PIV_PIN_POLICY_ALWAYS, 2, true);
	card_key_of_slot(t, 0x9C)->described = true;
	card_key_of_slot(t, 0x9A)->pin_policy = -1; /* listed from its certificate only */
	memcpy(t->puk, "87654321", 8);
	t->puk_len = 8;
	card_cache_store(t);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	text = tu_read_file(path);
	ck_assert_ptr_null(memmem(text, (size_t)st.st_size, "87654321", 8));
	free(text);

	ck_assert(card_cache_load(u));
	ck_assert(u->from_cache && u->inventory);
	ck_assert(u->have_version);
	ck_assert_mem_eq(u->version, ((const uint8_t[]){ 5, 7, 2 }), 3);
	ck_assert_int_eq(u->metadata, 1);
	a = card_key_of_slot(t, 0x9C);
	b = card_key_of_slot(u, 0x9C);
	ck_assert(b->has_key);
	ck_assert_int_eq(b->alg, PIV_ALG_RSA2048);
	ck_assert_int_eq(b->pin_policy, PIV_PIN_POLICY_ALWAYS);
	ck_assert_int_eq(b->origin, 2);
	ck_assert_uint_eq(b->cert.len, a->cert.len);
	ck_assert_mem_eq(b->cert.data, a->cert.data, a->cert.len);
	ck_assert_mem_eq(b->spki.data, a->spki.data, a->spki.len);
	ck_assert(b->described);
	/* a key known from its certificate only is asked about on the card after the cache too */
	ck_assert(card_key_of_slot(u, 0x9A)->has_key);
	ck_assert(!card_key_of_slot(u, 0x9A)->described);
	ck_assert_int_eq(card_key_of_slot(u, 0x9A)->pin_policy, -1);
	ck_assert(!card_key_of_slot(u, 0x9D)->has_key);
	free(path);
	free_token(t);
	free_token(u);
}
END_TEST

/* Damage done to a good file, each of which must make it unusable. */
enum damage { FLIP, TRUNCATE, FOREIGN, GROUP_WRITABLE, EMPTY };

START_TEST(test_cache_damage)
{
	struct token *t = new_token("777"), *u = new_token("777");
	char *path = cache_file("777"), *other = cache_file("888");
	struct stat st;
	uint8_t byte;
	int fd;

	put_key(t, 0x9A, ec_key, PIV_ALG_ECCP256, PIV_PIN_POLICY_ONCE, 1, true);
	card_cache_store(t);
	ck_assert_int_eq(stat(path, &st), 0);
	switch ((enum damage)_i) {
	case FLIP: /* one bit, so that the byte changes whatever it was */
		fd = open(path, O_RDWR);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pread(fd, &byte, 1, st.st_size / 2), 1);
		byte ^= 0x01;
		ck_assert_int_eq(pwrite(fd, &byte, 1, st.st_size / 2), 1);
		close(fd);
		break;
	case TRUNCATE:
		ck_assert_int_eq(truncate(path, st.st_size - 5), 0);
		break;
	case FOREIGN:
		/* Another card's file under this card's name. */
		snprintf(t->serial_text, sizeof(t->serial_text), "888");
		card_cache_store(t);
		ck_assert_int_eq(rename(other, path), 0);
		break;
	case GROUP_WRITABLE:
		ck_assert_int_eq(chmod(path, 0620), 0);
		break;
	case EMPTY:
		ck_assert_int_eq(truncate(path, 0), 0);
		break;
	}
	ck_assert(!card_cache_load(u));
	ck_assert(!u->inventory && !u->from_cache);
	ck_assert(!card_key_of_slot(u, 0x9A)->has_key);
	free(path);
	free(other);
	free_token(t);
	free_token(u);
}
END_TEST

START_TEST(test_cache_drop)
{
	struct token *t = new_token("55");
	char *path = cache_file("55");

	card_cache_store(t);
	ck_assert_int_eq(access(path, F_OK), 0);
	card_cache_drop(t);
	ck_assert_int_ne(access(path, F_OK), 0);
	free(path);
	free_token(t);
}
END_TEST

START_TEST(test_cache_disabled)
{
	struct token *t = new_token("66");
	char *path = cache_file("66");

	conf.cache_dir[0] = '\0';
	card_cache_store(t);
	ck_assert(!card_cache_load(t));
	snprintf(conf.cache_dir, sizeof(conf.cache_dir), "%s/cache", dir);
	ck_assert_int_ne(access(path, F_OK), 0);
	free(path);
	free_token(t);
}
END_TEST

static Suite *card_suite(void)
{
	Suite *s = suite_create("card");
	TCase *tc = tcase_create("pin");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_three_wrong_pins_lock);
	tcase_add_test(tc, test_right_pin_clears_flags);
	tcase_add_test(tc, test_same_wrong_pin_not_sent_twice);
	tcase_add_test(tc, test_pin_length_never_sent);
	tcase_add_test(tc, test_card_with_more_tries_locked_by_policy);
	tcase_add_test(tc, test_card_with_fewer_tries_keeps_its_own);
	tcase_add_test(tc, test_default_pin_must_change);
	tcase_add_test(tc, test_unblock_sets_must_change);
	tcase_add_test(tc, test_five_wrong_puks_lock_so);
	tcase_add_test(tc, test_card_change_during_pin_command_waits);
	suite_add_tcase(s, tc);

	tc = tcase_create("objects");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_slot_ids);
	tcase_add_test(tc, test_objects_of_inventory);
	tcase_add_test(tc, test_malformed_certificate_left_out);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cache_round_trip);
	tcase_add_loop_test(tc, test_cache_damage, FLIP, EMPTY + 1);
	tcase_add_test(tc, test_cache_drop);
	tcase_add_test(tc, test_cache_disabled);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	static const struct tk_key keys[] = { { &rsa_key, "RSA-2048" }, { &ec_key, "P-256" } };

	return tk_run_suite_with_keys(card_suite, keys, sizeof(keys) / sizeof(keys[0]));
}
